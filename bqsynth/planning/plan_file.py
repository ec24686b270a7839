"""A run's ``DatasetPlan`` as a YAML file users read, edit and feed back (``plan_uri``).

Every run writes its plan as ``plan.yaml`` next to the recipes. A user may change a
column's generator or its parameters (a distribution, a vocabulary, a null rate), a
table's rules or its ``row_count``, and pass the file back: the run then generates
exactly that plan, with the plan's seed, so it is reproducible from the file.

The YAML is the plan's own fields in the models' order (``model_dump(mode="json")``),
without the compiled recipes (they are derived from the plan and recompiled on reading;
a user's own recipe for a table is the ``recipes`` parameter). Dates stay strings when
read back, since the models hold them as ISO strings.

An edited plan is checked against the run's fresh profiles before anything is generated
(``edited_plan_problems``): tables and columns must be the source's with the source's
types, every generator one of the closed vocabulary and able to make its column's type,
row counts within ``0..max_rows``, references only to tables of the run. Fields that
other tables derive from a table's row count or key (a reference's ``parent_rows`` and
``parent_key``) are refreshed from that table (``with_references_refreshed``), so that
editing a parent's ``row_count`` keeps every reference inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import ValidationError

from bqsynth.errors import BqsynthError
from bqsynth.groups import group_pair_space
from bqsynth.models import (
    GENERATOR_KINDS,
    NUMERIC_TYPES,
    ArrayValue,
    ColumnPlan,
    ColumnSchema,
    DatasetPlan,
    ForeignKeyRef,
    Generator,
    GroupKey,
    GroupLayout,
    GroupPairing,
    LineNumber,
    NumberFromQuantiles,
    RecordValue,
    SequenceKey,
    TablePlan,
    TableProfile,
    TemporalFromQuantiles,
    leaf_plans,
    leaf_schemas,
    normalise_type,
)

PLAN_FILE_NAME = "plan.yaml"
# A plan of hundreds of tables with their vocabularies is a few MB; far more is the wrong file.
MAX_PLAN_BYTES = 50_000_000
MAX_PROBLEMS_SHOWN = 10

# The BigQuery types each generator kind can make (None: any type). Kinds that write text
# may also fill a numeric column that holds codes (a postcode kept as INT64), as the
# planner does; the dry run of an edited table checks the values themselves.
_STRINGY = frozenset({"STRING"}) | NUMERIC_TYPES
KIND_TYPES: dict[str, frozenset[str] | None] = {
    "sequence_key": frozenset({"INT64", "STRING", "NUMERIC", "BIGNUMERIC", "DATE", "DATETIME", "TIMESTAMP"}),
    "foreign_key": frozenset({"INT64", "STRING", "NUMERIC", "BIGNUMERIC", "DATE", "DATETIME", "TIMESTAMP"}),
    "line_number": frozenset({"INT64", "NUMERIC", "BIGNUMERIC"}),
    "group_key": frozenset({"INT64", "STRING", "NUMERIC", "BIGNUMERIC", "DATE", "DATETIME", "TIMESTAMP"}),
    "faker": _STRINGY,
    "categorical": None,
    "number": NUMERIC_TYPES,
    "temporal": frozenset({"DATE", "DATETIME", "TIMESTAMP", "TIME"}),
    "boolean": frozenset({"BOOL"}),
    "pattern": _STRINGY,
    "text": frozenset({"STRING"}),
    "shaped": _STRINGY,
    "vocabulary": frozenset({"STRING"}),
    "record": frozenset({"RECORD"}),
    "array": None,
    "null": None,
    "json": frozenset({"JSON"}),
    "geography": frozenset({"GEOGRAPHY"}),
    "bytes": frozenset({"BYTES"}),
    "interval": frozenset({"INTERVAL"}),
    "range": frozenset({"RANGE"}),
}
assert set(KIND_TYPES) == set(GENERATOR_KINDS), "every generator kind needs its column types"


class PlanFileError(BqsynthError):
    """An edited plan (``plan_uri``) or a supplied recipe (``recipes``) cannot be used as it is.

    A configuration error: the run stops before generating anything (``submit.py`` exits 2).
    """


# ---------------------------------------------------------------------------------------------
# Writing and reading
# ---------------------------------------------------------------------------------------------


def plan_to_yaml(plan: DatasetPlan) -> str:
    """The plan as YAML in the models' field order, without the compiled recipes."""
    document = plan.model_dump(mode="json", by_alias=True, exclude={"tables": {"__all__": {"recipe"}}})
    header = (
        f"# bqsynth plan (seed {plan.seed}, planned by {plan.engine}). Edit a column's generator, its\n"
        "# parameters or null_rate, a table's rules or row_count, then pass this file back as plan_uri\n"
        "# (submit.py --plan FILE). Table and column names, types and schemas must stay the source's;\n"
        "# target tables are the run's (target_project, target_dataset), not the ones written here;\n"
        "# generator kinds are documented in bqsynth/models.py. Recipes are recompiled from this plan.\n"
    )
    return header + yaml.dump(document, Dumper=_PlanDumper, sort_keys=False, allow_unicode=True, width=1_000_000)


class _PlanDumper(yaml.SafeDumper):
    """YAML's safe dumper, with lists of plain values on one line (quantiles, shapes, weights)."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_PlanDumper.add_representer(list, _represent_list)


class _PlanLoader(yaml.SafeLoader):
    """YAML's safe loader, with dates and times left as the strings the plan holds them as."""


_PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def plan_from_yaml(text: str, where: str) -> DatasetPlan:
    """The plan in ``text`` (read from ``where``), or a ``PlanFileError`` naming each table and column at fault."""
    if len(text) > MAX_PLAN_BYTES:
        raise PlanFileError(f"plan file {where} is {len(text):,} characters: is it the plan a run wrote?", file=where)
    try:
        document = yaml.load(text, Loader=_PlanLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise PlanFileError(f"plan file {where} is not valid YAML: {' '.join(str(error).split())}") from error
    if not isinstance(document, dict) or not isinstance(document.get("tables"), list):
        raise PlanFileError(
            f"plan file {where} must be a mapping with 'seed' and 'tables', as a run writes it (plan.yaml)"
        )
    try:
        return DatasetPlan.model_validate(document)
    except ValidationError as error:
        problems = [_validation_problem(document, e) for e in error.errors()]
        raise PlanFileError(f"plan file {where}: {_joined(problems)}") from error


def _validation_problem(document: dict[str, Any], error: Any) -> str:
    """One pydantic error as ``table T, column C: field: message``, names read from the document."""
    location = list(error["loc"])
    named: list[str] = []
    node: Any = document
    path: list[str] = []
    for index, part in enumerate(location):
        child = node[part] if _has(node, part) else None
        if isinstance(part, int) and isinstance(child, dict) and "name" in child:
            owner = location[index - 1] if index else ""
            kind = "table" if owner == "tables" else "column"
            named.append(f"{kind} {child['name']}")
            path = []
        elif not isinstance(part, int):
            path.append(str(part))
        node = child
    message = error["msg"]
    if error["type"] == "union_tag_invalid":
        message = f"generator kind {error['input'].get('kind')!r} is not one of {list(GENERATOR_KINDS)}"
    where = ", ".join(named)
    # Pydantic's location also names the union member (a kind, or a class name): not a field.
    field = ".".join(p for p in path if p and not p[0].isupper() and p not in GENERATOR_KINDS)
    return f"{where}{', ' if where and field else ''}{field}: {message}" if where or field else message


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _joined(problems: list[str]) -> str:
    unique = list(dict.fromkeys(problems))
    shown = "; ".join(unique[:MAX_PROBLEMS_SHOWN])
    more = len(unique) - MAX_PROBLEMS_SHOWN
    return shown + (f"; ... and {more} more" if more > 0 else "")


# ---------------------------------------------------------------------------------------------
# Checking an edited plan against the run
# ---------------------------------------------------------------------------------------------


def edited_plan_problems(plan: DatasetPlan, profiles: list[TableProfile], max_rows: int) -> list[str]:
    """Every reason ``plan`` cannot generate this run's tables, each naming its table and column."""
    problems: list[str] = []
    runnable = {p.name: p for p in profiles if not p.error}
    planned = {t.name: t for t in plan.tables}
    for name in sorted(set(runnable) - set(planned)):
        problems.append(f"table {name}: a source of this run, but not in the plan; plan it (or drop the source)")
    for table in plan.tables:
        profile = runnable.get(table.name)
        if profile is None:
            problems.append(
                f"table {table.name}: in the plan, but not a source of this run (sources: {sorted(runnable)})"
            )
            continue
        problems += planned_table_problems(table, profile, planned, max_rows)
    return problems


def planned_table_problems(
    table: TablePlan, profile: TableProfile, planned: dict[str, TablePlan], max_rows: int
) -> list[str]:
    """One planned table against its source's fresh profile and the plan's other tables."""
    where = f"table {table.name}"
    problems: list[str] = []
    if table.source_table != profile.table_id:
        problems.append(f"{where}: planned from {table.source_table}, but this run copies {profile.table_id}")
    if table.row_count > max_rows:
        problems.append(f"{where}: row_count {table.row_count} exceeds max_rows={max_rows}; raise max_rows on purpose")
    problems += [f"{where}, column {p}" for p in columns_problems(table.columns, profile.columns, planned)]
    if table.schema_ != profile.columns:
        problems.append(
            f"{where}: its schema differs from the source's (columns {_schema_differences(table.schema_, profile)}); "
            "the schema is the source's and cannot be edited: change generators instead"
        )
    return problems


def _schema_differences(schema: list[ColumnSchema], profile: TableProfile) -> list[str]:
    planned, source = leaf_schemas(schema), leaf_schemas(profile.columns)
    return sorted(p for p in set(planned) | set(source) if planned.get(p) != source.get(p))


def columns_problems(
    plans: list[ColumnPlan], schemas: list[ColumnSchema], planned: dict[str, TablePlan], prefix: str = ""
) -> list[str]:
    """Planned columns against the source's, RECORD fields (arrays of records too) walked: ``path: problem``."""
    problems: list[str] = []
    source = {s.name: s for s in schemas}
    names = [c.name for c in plans]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{prefix}{name}: planned more than once; keep one")
    for name in [n for n in names if n not in source]:
        problems.append(f"{prefix}{name}: not a column of the source (its columns: {list(source)})")
    for name in [n for n in source if n not in names]:
        problems.append(f"{prefix}{name}: a column of the source with no plan; add it (generator kind null)")
    for column in plans:
        schema = source.get(column.name)
        if schema is None:
            continue
        path = f"{prefix}{column.name}"
        problems += [f"{path}: {p}" for p in column_problems(column, schema, planned)]
        element = column.generator.element if isinstance(column.generator, ArrayValue) else column.generator
        if isinstance(element, RecordValue):
            problems += columns_problems(element.fields, schema.fields, planned, f"{path}.")
    return problems


def column_problems(column: ColumnPlan, schema: ColumnSchema, planned: dict[str, TablePlan]) -> list[str]:
    """One column's generator against the source column's type and mode and the plan's tables."""
    problems: list[str] = []
    column_type = normalise_type(schema.type)
    if normalise_type(column.type) != column_type or column.mode != schema.mode:
        problems.append(
            f"planned as {column.type} {column.mode}, but the source column is {column_type} {schema.mode}; "
            "keep the source's type and mode"
        )
    generator = column.generator
    if generator.kind == "null":
        return problems
    repeated = schema.mode == "REPEATED"
    if isinstance(generator, ArrayValue) != repeated:
        problems.append(f"a {schema.mode} column needs {'an' if repeated else 'no'} array generator")
    element = generator.element if isinstance(generator, ArrayValue) else generator
    allowed = KIND_TYPES[element.kind]
    if allowed is not None and column_type not in allowed:
        problems.append(f"generator kind {element.kind!r} cannot make {column_type} values, only {sorted(allowed)}")
    if isinstance(element, TemporalFromQuantiles) and element.type != column_type:
        problems.append(f"temporal type {element.type} differs from the column's {column_type}")
    if isinstance(element, NumberFromQuantiles) and len(element.quantiles) < 2:
        problems.append("number needs at least two quantiles (lowest and highest)")
    problems += [p for reference in references(element) for p in reference_problems(reference, planned)]
    return problems


def references(generator: Generator | None) -> Iterator[ForeignKeyRef]:
    """Every reference inside ``generator``: itself, the one it is computed through (``via``)."""
    while isinstance(generator, ForeignKeyRef):
        yield generator
        generator = generator.via  # type: ignore[assignment]


def reference_problems(reference: ForeignKeyRef, planned: dict[str, TablePlan]) -> list[str]:
    parent = planned.get(reference.parent_table)
    if parent is None:
        return [
            f"references table {reference.parent_table}, which is not in the plan (tables: {sorted(planned)}); "
            "reference a table of the run"
        ]
    if reference.parent_column not in leaf_plans(parent.columns):
        return [f"references column {reference.parent_column}, which table {parent.name} does not have"]
    return []


def with_references_refreshed(plan: DatasetPlan) -> DatasetPlan:
    """References that follow their parents' edited row counts and keys.

    A reference draws a parent row below ``parent_rows`` and formats it with ``parent_key``:
    both are copies of the parent table's, taken when the plan was made. After a parent's
    ``row_count`` or key was edited, a stale copy would name rows that do not exist.
    A draw in row order (``stratified_rows``) and a line number are sized by their own table's
    ``row_count`` and the parent's: both are refreshed too.
    """
    # Implicit groups first: a table's layout follows its own row count, and the references and
    # pairings that recompute a group key or a number within a group copy the refreshed layouts.
    grouped = [
        t.model_copy(update={"columns": [_refreshed_layout(c, t.row_count) for c in t.columns]}) for t in plan.tables
    ]
    planned = {t.name: t for t in grouped}
    tables = []
    for table in grouped:
        columns = [_refreshed_column(column, planned, table.name) for column in table.columns]
        tables.append(table.model_copy(update={"columns": _refreshed_line_numbers(columns, table.row_count)}))
    return plan.model_copy(update={"tables": tables})


def _resized(layout: GroupLayout, rows: int) -> GroupLayout:
    # model_copy does not validate: a layout with fewer rows than groups is reported by group_problems.
    return layout.model_copy(update={"rows": rows})


def _refreshed_layout(column: ColumnPlan, rows: int) -> ColumnPlan:
    """A group key or a number within a group laid out over the table's (edited) rows."""
    generator = column.generator
    if isinstance(generator, GroupKey):
        return column.model_copy(
            update={"generator": generator.model_copy(update={"layout": _resized(generator.layout, rows)})}
        )
    if isinstance(generator, LineNumber) and generator.layout is not None:
        update = {"layout": _resized(generator.layout, rows), "rows": rows}
        return column.model_copy(update={"generator": generator.model_copy(update=update)})
    return column


def _group_layout_of(table: TablePlan | None, column: str) -> GroupLayout | None:
    """The layout of ``table``'s group key ``column``, if it is one."""
    target = leaf_plans(table.columns).get(column) if table is not None else None
    return target.generator.layout if target is not None and isinstance(target.generator, GroupKey) else None


def _refreshed_pairing(pairing: GroupPairing, planned: dict[str, TablePlan]) -> GroupPairing:
    child = planned.get(pairing.child_table)
    first = _group_layout_of(planned.get(pairing.first_table), pairing.first.column) or pairing.first
    second = _group_layout_of(planned.get(pairing.second_table), pairing.second.column) or pairing.second
    rows = child.row_count if child is not None else pairing.child_rows
    return pairing.model_copy(update={"child_rows": rows, "first": first, "second": second})


def _refreshed_column(column: ColumnPlan, planned: dict[str, TablePlan], table: str) -> ColumnPlan:
    generator = column.generator
    if isinstance(generator, RecordValue):
        fields = [_refreshed_column(field, planned, table) for field in generator.fields]
        return column.model_copy(update={"generator": generator.model_copy(update={"fields": fields})})
    if isinstance(generator, ForeignKeyRef):
        return column.model_copy(update={"generator": _refreshed_reference(generator, planned, table)})
    return column


def _refreshed_reference(reference: ForeignKeyRef, planned: dict[str, TablePlan], table: str) -> ForeignKeyRef:
    """``reference`` of a column of ``table`` (for a ``via``: of the parent's column it recomputes)."""
    parent = planned.get(reference.parent_table)
    if parent is None:
        return reference
    update: dict[str, Any] = {"parent_rows": parent.row_count}
    if reference.stratified_rows and table in planned:
        update["stratified_rows"] = planned[table].row_count
    key = leaf_plans(parent.columns).get(reference.parent_column)
    if key is not None and isinstance(key.generator, SequenceKey):
        update["parent_key"] = key.generator
    if isinstance(reference.via, ForeignKeyRef):
        update["via"] = _refreshed_reference(reference.via, planned, reference.parent_table)
    elif reference.via is not None and key is not None and isinstance(key.generator, GroupKey | LineNumber):
        update["via"] = key.generator  # a group key or a number within a group, laid out afresh
    if reference.group_pairing is not None:
        update["group_pairing"] = _refreshed_pairing(reference.group_pairing, planned)
    return reference.model_copy(update=update)


def _refreshed_line_numbers(columns: list[ColumnPlan], rows: int) -> list[ColumnPlan]:
    """Line numbers sized for the table's rows and their group's (refreshed) parent rows."""
    by_name = {c.name: c.generator for c in columns}
    refreshed = []
    for column in columns:
        number = column.generator
        if isinstance(number, LineNumber):
            group = by_name.get(number.group[0])
            update: dict[str, Any] = {"rows": rows}
            if isinstance(group, ForeignKeyRef):
                update["parent_rows"] = group.parent_rows
            column = column.model_copy(update={"generator": number.model_copy(update=update)})
        refreshed.append(column)
    return refreshed


def consistency_problems(plan: DatasetPlan) -> list[str]:
    """What a refreshed plan still cannot keep: pairings and permutations sized for other row counts."""
    problems: list[str] = []
    planned = {t.name: t for t in plan.tables}
    for table in plan.tables:
        for path, column in leaf_plans(table.columns).items():
            where = f"table {table.name}, column {path}"
            generator = column.generator
            one_to_one = isinstance(generator, ForeignKeyRef) and generator.one_to_one
            if one_to_one and table.row_count > generator.parent_rows:  # type: ignore[union-attr]
                problems.append(
                    f"{where}: each row takes a different {generator.parent_table} row (one_to_one), so the table "
                    f"can have at most {generator.parent_rows} rows, not {table.row_count}"
                )
            if isinstance(generator, ForeignKeyRef) and generator.link is not None:
                link = generator.link
                link_table = planned.get(link.link_table)
                if link_table is not None and link_table.row_count != link.link_rows:
                    problems.append(
                        f"{where}: its key pairs rows of {len(link.parent_rows)} tables sized for {link.link_rows} "
                        f"rows of "
                        f"{link.link_table}, not {link_table.row_count}; change these row counts with record_counts "
                        "in a new run, not in the plan"
                    )
            if isinstance(generator, ForeignKeyRef):
                problems += [f"{where}: {p}" for p in stratified_problems(generator, table, path, planned)]
            if isinstance(generator, LineNumber):
                problems += [f"{where}: {p}" for p in line_number_problems(generator, table, path)]
            if isinstance(generator, GroupKey):
                problems += [f"{where}: {p}" for p in layout_problems(generator.layout, table)]
            if isinstance(generator, ForeignKeyRef) and generator.group_pairing is not None:
                problems += [f"{where}: {p}" for p in pairing_problems(generator, table, planned)]
            if (
                isinstance(generator, NumberFromQuantiles)
                and generator.unique
                and generator.quantiles
                and generator.quantiles[-1] - generator.quantiles[0] + 1 < table.row_count
            ):
                problems.append(
                    f"{where}: unique numbers between {generator.quantiles[0]:g} and {generator.quantiles[-1]:g} "
                    f"cannot fill {table.row_count} rows; widen the quantiles or set unique: false"
                )
    return problems


def stratified_problems(
    reference: ForeignKeyRef, table: TablePlan, path: str, planned: dict[str, TablePlan]
) -> list[str]:
    """A reference drawn in row order must be a plain draw whose draw-mates are drawn so too, and no
    reference may recompute a line number (only keys and references recompute from a row)."""
    problems: list[str] = []
    if reference.stratified_rows and (
        reference.link is not None or reference.one_to_one or reference.parent_table == table.name
    ):
        problems.append(
            "stratified_rows applies to a drawn parent row only, not to a pairing (link), one_to_one or a "
            "reference to the table itself; set it to 0"
        )
    if reference.draw:
        mates = [
            c.generator
            for c in table.columns
            if isinstance(c.generator, ForeignKeyRef) and c.generator.draw == reference.draw
        ]
        if any(bool(m.stratified_rows) != bool(reference.stratified_rows) for m in mates):  # type: ignore[union-attr]
            problems.append(
                f"the columns of the composite reference ({reference.draw}) must all be drawn in row order "
                "(stratified_rows) or none, else they take different parent rows"
            )
        elif reference.stratified_rows and any(
            (m.skew, m.fan_out) != (reference.skew, reference.fan_out)  # type: ignore[union-attr]
            for m in mates
        ):
            problems.append(
                f"the columns of the composite reference ({reference.draw}), drawn in row order, must share "
                "their skew and fan_out, else they take different parent rows"
            )
    for ref in references(reference):
        parent = planned.get(ref.parent_table)
        target = leaf_plans(parent.columns).get(ref.parent_column) if parent else None
        if target is not None and isinstance(target.generator, LineNumber) and target.generator.layout is None:
            problems.append(
                f"refers to {ref.parent_table}.{ref.parent_column}, a line number, which a reference cannot "
                "recompute; refer to key or reference columns only"
            )
    return problems


def layout_problems(layout: GroupLayout, table: TablePlan) -> list[str]:
    """A group layout must cover the table's rows, one row per group at least."""
    problems = []
    if layout.rows != table.row_count:
        problems.append(f"its layout has rows {layout.rows}, the table's row_count is {table.row_count}")
    if 0 < table.row_count < layout.groups:
        problems.append(
            f"{table.row_count} rows cannot fill the {layout.groups} groups of {layout.column} (one row each at "
            f"least): ask for at least {layout.groups} rows of {table.name}, or set groups lower in every table "
            "that has it"
        )
    return problems


def pairing_problems(reference: ForeignKeyRef, table: TablePlan, planned: dict[str, TablePlan]) -> list[str]:
    """A pairing within groups needs both parents' group keys, one implicit parent, and room for its rows."""
    pairing = reference.group_pairing
    assert pairing is not None
    problems: list[str] = []
    keys = []
    for parent, layout in ((pairing.first_table, pairing.first), (pairing.second_table, pairing.second)):
        target = leaf_plans(planned[parent].columns).get(layout.column) if parent in planned else None
        if target is None or not isinstance(target.generator, GroupKey) or target.generator.layout != layout:
            problems.append(
                f"its pairing names {parent}.{layout.column} as a group key laid out over {layout.groups} groups and "
                f"{layout.rows} rows, which {parent} does not have (keep that column a group_key)"
            )
        else:
            keys.append(target.generator.key)
    if len(keys) == 2 and keys[0] != keys[1]:
        problems.append(
            f"{pairing.first_table}.{pairing.first.column} and {pairing.second_table}.{pairing.second.column} are one "
            "implicit parent's key and must give its groups the same values: their key specs differ"
        )
    if pairing.child_table != table.name or pairing.child_rows != table.row_count:
        problems.append(f"its pairing is sized for {pairing.child_rows} rows of {pairing.child_table}")
    if not problems and table.row_count > group_pair_space(pairing.first, pairing.second):
        space = group_pair_space(pairing.first, pairing.second)
        problems.append(
            f"its rows pair a {pairing.first_table} row and a {pairing.second_table} row of the same "
            f"{pairing.first.column} group, no pair twice: the groups hold {space} pairs, {table.row_count} rows "
            f"asked. Ask for at most {space} rows of {table.name}, or more rows of its parents"
        )
    return problems


def line_number_problems(number: LineNumber, table: TablePlan, path: str) -> list[str]:
    """A line number needs its group: the key's other columns, one reference draw in row order."""
    if "." in path:
        return ["a line number must be a top-level column (its group is the table's key columns)"]
    columns = {c.name: c for c in table.columns}
    key = set(table.primary_key)
    if number.layout is not None:
        group = columns.get(number.layout.column)
        if path not in key or number.group != [number.layout.column] or number.layout.column not in key:
            return [
                f"a line number within the groups of {number.layout.column} needs group [{number.layout.column}] and "
                f"both among the table's primary key columns ({', '.join(table.primary_key)})"
            ]
        if group is None or not isinstance(group.generator, GroupKey) or group.generator.layout != number.layout:
            return [f"its group column {number.layout.column} is not a group_key with the same layout"]
        return []
    if path not in key or not set(number.group) <= key or path in number.group:
        return [
            f"a line number and its group ({', '.join(number.group)}) must be the table's primary key columns "
            f"({', '.join(table.primary_key)})"
        ]
    problems: list[str] = []
    draws: set[str] = set()
    for name in number.group:
        column = columns.get(name)
        fk = column.generator if column is not None else None
        if not isinstance(fk, ForeignKeyRef):
            problems.append(f"its group column {name} is not a reference (foreign_key) of the table")
            continue
        draws.add(fk.draw or name)
        if column is not None and column.null_rate > 0:
            problems.append(f"its group column {name} has null_rate {column.null_rate}; a key column needs 0")
        if not number.draws_like(fk):
            problems.append(
                f"its group column {name} is not drawn as it numbers: the reference's stratified_rows, "
                f"parent_rows, skew and fan_out ({fk.stratified_rows}, {fk.parent_rows}, {fk.skew}, "
                f"{len(fk.fan_out)} knots) must equal the line number's rows, parent_rows, skew and fan_out "
                f"({number.rows}, {number.parent_rows}, {number.skew}, {len(number.fan_out)} knots), rows being "
                f"the table's row_count {table.row_count}"
            )
    if len(draws) > 1:
        problems.append(f"its group ({', '.join(number.group)}) is {len(draws)} reference draws, not one")
    if number.rows != table.row_count:
        problems.append(f"rows {number.rows} differs from the table's row_count {table.row_count}")
    return problems


def record_count_problems(plan: DatasetPlan, record_counts: dict[str, int]) -> list[str]:
    """``record_counts`` may repeat a plan's row counts (the config that wrote it), never contradict them."""
    planned = {t.name: t.row_count for t in plan.tables}
    return [
        f"table {name}: record_counts gives {count} rows, the plan file {planned[name]}; the plan's row_count is "
        "the one used: edit it there, or drop the table from record_counts"
        for name, count in sorted(record_counts.items())
        if name in planned and planned[name] != count
    ]


def edited_engine(engine: str, where: str) -> str:
    """Who planned a run from a plan file: the file, and who first planned it (never nested)."""
    first = re.fullmatch(r"plan file .* \(planned by (.*)\)", engine)
    return f"plan file {where} (planned by {first.group(1) if first else engine})"


def checked_plan(
    plan: DatasetPlan,
    profiles: list[TableProfile],
    max_rows: int,
    where: str,
    record_counts: dict[str, int] | None = None,
) -> DatasetPlan:
    """The edited plan, references refreshed, or a ``PlanFileError`` listing every problem."""
    problems = record_count_problems(plan, record_counts or {}) + edited_plan_problems(plan, profiles, max_rows)
    if not problems:
        plan = with_references_refreshed(plan)
        problems = consistency_problems(plan)
    if problems:
        raise PlanFileError(f"plan file {where} does not fit this run: {_joined(problems)}")
    return plan
