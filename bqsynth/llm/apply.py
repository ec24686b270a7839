"""Turn validated advice into plan changes: semantics, added or rejected relationships, generator choices.

Everything here starts from the offline ``TablePlan`` and changes only the leaves an answer
names, leaving every other ``ColumnPlan`` object exactly as the offline engine made it, so
a plan differs from the offline plan exactly where the advice says. Generators are built
from the *profile* (quantiles, observed frequencies, lengths, null rates): a model chooses
the kind of generator and a few shape parameters, never the numbers or the values.

``generator_for_choice`` returns problems instead of raising: they are fed back to the
model as repair errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bqsynth.llm.answers import GeneratorChoice, RelationshipProposal
from bqsynth.llm.columns import replace_leaf, table_key_column
from bqsynth.llm.prompts import value_key
from bqsynth.models import (
    NUMERIC_TYPES,
    TEMPORAL_TYPES,
    ArrayValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    ColumnStats,
    FakerValue,
    ForeignKeyRef,
    FreeText,
    Generator,
    NullValue,
    NumberFromQuantiles,
    PatternString,
    Relationship,
    SequenceKey,
    TablePlan,
    TableProfile,
    leaf_plans,
)
from bqsynth.planning.planner import (
    SHAPED_TYPES,
    UNIQUE_BY_SUFFIX,
    PlanError,
    PlanOptions,
    boolean_generator,
    estimate_skew,
    fit_pattern,
    number_generator,
    plan_unreferenced_column,
    shaped_text,
    temporal_generator,
    unique_in_source,
    unique_integers,
)
from bqsynth.semantics import IDENTIFYING_TYPES, PROVIDER_ALLOWLIST
from bqsynth.shapes import excluded_bound, pattern_space

# A null-only generator is accepted only where the source is (almost) all nulls.
NULL_ONLY_MIN_RATE = 0.95
# A unique pattern must have room for this many times the planned rows: the source's own
# values are skipped (privacy exclusions) and must not exhaust it.
UNIQUE_PATTERN_HEADROOM = 2
PATTERN_CHARS = frozenset(chr(c) for c in range(32, 127)) - set("$<>{}%\\`")


def _categorical(
    choice: GeneratorChoice, stats: ColumnStats | None, min_count: int, column: ColumnPlan, samples: Sequence[Any]
) -> tuple[Categorical | None, list[str]]:
    """The categories a choice asks for: a public column's observed vocabulary as the plan keeps it (a
    subset when the choice names values); otherwise the values seen at least ``min_count`` times, the
    suppressed share going to values of the column's kind (the plan's replacement, else its shapes)."""
    offline = column.generator.element if isinstance(column.generator, ArrayValue) else column.generator
    planned = offline if isinstance(offline, Categorical) else None
    if column.public and planned is not None:
        if choice.values is None:
            return planned.model_copy(update={"copula": None}), []
        observed = {value_key(v): (v, w) for v, w in zip(planned.values, planned.weights, strict=True)}
        unknown = [v for v in choice.values if v not in observed]
        if unknown or not choice.values:
            return None, [f"{choice.column}: categorical values must be observed values; {unknown[:1]} is not"]
        picked = [observed[v] for v in dict.fromkeys(choice.values)]
        return Categorical(values=[v for v, _ in picked], weights=[w for _, w in picked]), []
    kept = [v for v in (stats.top_values if stats else []) if v.value is not None and v.count >= min_count]
    if not kept:
        return None, [f"{choice.column}: no value is observed at least {min_count} times; categorical needs some"]
    if choice.values is not None:
        by_key = {value_key(v.value): v for v in kept}
        unknown = [v for v in choice.values if v not in by_key]
        if unknown:
            return None, [
                f"{choice.column}: categorical values must be observed values (seen at least {min_count} times); "
                f"{len(unknown)} are not, e.g. {unknown[0][:60]!r}"
            ]
        kept = [by_key[v] for v in dict.fromkeys(choice.values)]
        if not kept:
            return None, [f"{choice.column}: categorical needs at least one value"]
    categorical = Categorical(values=[v.value for v in kept], weights=[float(v.count) for v in kept])
    suppressed = (stats.non_null_count if stats else 0) - sum(categorical.weights)
    if column.type == "STRING" and suppressed > 0 and choice.values is None:
        other = planned.other if planned is not None and planned.other is not None else shaped_text(stats, samples)
        categorical = categorical.model_copy(update={"other": other, "other_weight": float(suppressed)})
    return categorical, []


def _pattern(choice: GeneratorChoice, rows: int) -> tuple[PatternString | None, list[str]]:
    pattern = choice.pattern or ""
    problems = []
    if not pattern or not ({"#", "?"} & set(pattern)):
        problems.append(f"{choice.column}: a pattern needs at least one '#' (digit) or '?' (letter)")
    bad = sorted(set(pattern) - PATTERN_CHARS)
    if bad:
        problems.append(f"{choice.column}: pattern characters {bad} are not allowed (printable ASCII, no $<>{{}}%)")
    needed = UNIQUE_PATTERN_HEADROOM * max(rows, 1)
    if choice.unique and pattern_space(pattern) < needed:
        problems.append(
            f"{choice.column}: a unique pattern needs enough '#' digits and '?' letters for {rows} rows "
            f"(a shape of at least {needed} values; {pattern!r} has {pattern_space(pattern)})"
        )
    if problems:
        return None, problems
    return PatternString(pattern=pattern, unique=choice.unique), []


def _text(choice: GeneratorChoice, stats: ColumnStats | None) -> tuple[FreeText | None, list[str]]:
    low = choice.min_length or (stats.min_length if stats and stats.min_length else 1)
    high = choice.max_length or (stats.max_length if stats and stats.max_length else max(low, 30))
    if low > high:
        return None, [f"{choice.column}: min_length {low} is greater than max_length {high}"]
    average = stats.avg_length if stats and stats.avg_length and low <= stats.avg_length <= high else None
    return FreeText(min_length=low, max_length=high, avg_length=average), []


def generator_for_choice(
    choice: GeneratorChoice,
    column: ColumnPlan,
    stats: ColumnStats | None,
    rows: int,
    identifying: bool,
    min_category_count: int,
    samples: Sequence[Any] = (),
) -> tuple[Generator | None, list[str]]:
    """The generator a choice asks for, built from the profile; or the problems that prevent it.

    For a REPEATED column the choice describes the elements; the array lengths stay the
    offline plan's (profiled) lengths.
    """
    kind, column_type, name = choice.kind, column.type, choice.column
    element: Generator | None = None
    problems: list[str] = []
    string_only = {"faker", "pattern", "text", "shaped"}
    if column_type in ("RECORD", *SHAPED_TYPES):
        # Arrays of records and JSON ... RANGE columns keep the generator learnt from the profile.
        return None, [f"{name}: a {column_type} column keeps its generator from the profile; choose none"]
    if kind in string_only and column_type != "STRING":
        return None, [f"{name}: {kind} makes strings, but the column is {column_type}"]
    if identifying and kind == "categorical":
        return None, [f"{name}: identifying columns must not copy source values; categorical is not allowed"]
    if identifying and column_type == "STRING" and kind not in string_only | {"null"}:
        return None, [f"{name}: an identifying STRING column needs faker, pattern or text"]
    match kind:
        case "faker":
            if choice.provider is None or choice.provider not in PROVIDER_ALLOWLIST:
                return None, [f"{name}: faker needs a provider from the allowlist"]
            if choice.unique and choice.provider not in UNIQUE_BY_SUFFIX:
                return None, [f"{name}: only {sorted(UNIQUE_BY_SUFFIX)} can be made unique"]
            element = FakerValue(provider=choice.provider, unique=choice.unique)
        case "pattern":
            element, problems = _pattern(choice, rows)
            if element is not None and column.mode != "REPEATED":
                # The same fit as the offline plan: widened if the source uses the shape densely.
                excluded = excluded_bound(stats.distinct_count, stats.non_null_count) if stats and identifying else 0
                try:
                    element, _ = fit_pattern(element, rows, excluded, table="", column=name)
                except PlanError as error:
                    return None, [str(error)]
        case "text":
            element, problems = _text(choice, stats)
        case "shaped":
            element = shaped_text(stats, samples)
        case "categorical":
            element, problems = _categorical(choice, stats, min_category_count, column, samples)
        case "number":
            if column_type not in NUMERIC_TYPES or stats is None:
                return None, [f"{name}: number needs a numeric column with statistics, the column is {column_type}"]
            element = number_generator(ColumnSchema(name=column.name, type=column_type), stats)
            offline = column.generator.element if isinstance(column.generator, ArrayValue) else column.generator
            if element is not None and isinstance(offline, NumberFromQuantiles):
                # The declared NUMERIC(P, S) the offline plan read from the schema still holds.
                element = element.model_copy(update={"decimals": offline.decimals, "precision": offline.precision})
            if element is None:
                problems = [f"{name}: the profile has no quantiles or range to draw numbers from"]
            elif element.integer and column.mode != "REPEATED" and unique_in_source(stats):
                element, _ = unique_integers(element, rows)  # the same guarantee as the offline plan
        case "temporal":
            if column_type not in TEMPORAL_TYPES or stats is None:
                return None, [f"{name}: temporal needs a DATE/DATETIME/TIMESTAMP/TIME column, it is {column_type}"]
            element = temporal_generator(ColumnSchema(name=column.name, type=column_type), stats)
            if element is None:
                problems = [f"{name}: the profile has no quantiles or range to draw dates from"]
        case "boolean":
            if column_type != "BOOL":
                return None, [f"{name}: boolean needs a BOOL column, it is {column_type}"]
            element = boolean_generator(stats)
        case "null":
            if column.mode == "REQUIRED":
                return None, [f"{name}: a REQUIRED column cannot be always null"]
            if stats is not None and stats.row_count and stats.null_rate < NULL_ONLY_MIN_RATE:
                return None, [f"{name}: only {stats.null_rate:.0%} of source values are null; null would lose the rest"]
            return NullValue(), []
    if element is None:
        return None, problems or [f"{name}: unsupported kind {kind!r}"]
    if column.mode == "REPEATED":
        lengths = column.generator.lengths if isinstance(column.generator, ArrayValue) else None
        if lengths is None:
            return None, [f"{name}: the offline plan has no array lengths for this REPEATED column"]
        return ArrayValue(element=element, lengths=lengths), []
    return element, []


def apply_semantics(table: TablePlan, meanings: dict[str, str], keys: set[str]) -> TablePlan:
    """Set semantic types of non-key leaves; ``identifying`` can only be raised, never lowered.

    A model that reads untrusted values could be talked into calling a column of names
    "categorical"; lowering privacy on its word would copy those names.
    """
    columns = table.columns
    leaves = leaf_plans(columns)
    for path, semantic in meanings.items():
        column = leaves[path]
        if path in keys or semantic == column.semantic_type:
            continue
        updated = column.model_copy(
            update={"semantic_type": semantic, "identifying": column.identifying or semantic in IDENTIFYING_TYPES}
        )
        columns = replace_leaf(columns, path, updated)
    return table.model_copy(update={"columns": columns})


def apply_generators(table: TablePlan, generators: dict[str, tuple[Generator, str]]) -> TablePlan:
    """Replace leaf generators (path -> (generator, reason)); identical generators leave the leaf untouched."""
    columns = table.columns
    leaves = leaf_plans(columns)
    for path, (generator, reason) in generators.items():
        column = leaves[path]
        # The model never sees the copula (a fitted matrix row); a generator of the same kind
        # keeps the column's row, so its correlation with the other columns survives.
        copula = getattr(column.generator, "copula", None)
        if copula and generator.kind == column.generator.kind and getattr(generator, "copula", 0) is None:
            generator = generator.model_copy(update={"copula": copula})
        if generator == column.generator:
            continue
        columns = replace_leaf(columns, path, column.model_copy(update={"generator": generator, "reason": reason}))
    return table.model_copy(update={"columns": columns})


def parent_key(table: TablePlan) -> tuple[str, SequenceKey] | None:
    path = table_key_column(table)
    if path is None:
        return None
    generator = leaf_plans(table.columns)[path].generator
    assert isinstance(generator, SequenceKey)
    return path, generator


def apply_relationship(
    child: TablePlan,
    child_profile: TableProfile,
    proposal: RelationshipProposal,
    parent: TablePlan,
    parent_profile: TableProfile,
) -> TablePlan:
    """Make the child column a foreign key to the parent's row-index key (validated beforehand)."""
    key = parent_key(parent)
    assert key is not None, f"{parent.name} has no key column"
    column = leaf_plans(child.columns)[proposal.child_column]
    stats = child_profile.stats.get(proposal.child_column)
    skew = estimate_skew(stats.top_values, child_profile.row_count, parent_profile.row_count) if stats else 0.0
    reference = ForeignKeyRef(
        parent_table=parent.name,
        parent_column=key[0],
        parent_rows=parent.row_count,
        parent_key=key[1],
        skew=skew,
    )
    updated = column.model_copy(
        update={
            "semantic_type": "key",
            "generator": reference,
            "identifying": False,
            "reason": f"foreign key to {parent.name}.{key[0]} (added by the model: {proposal.evidence[:200]})",
        }
    )
    return child.model_copy(update={"columns": replace_leaf(child.columns, proposal.child_column, updated)})


def apply_rejection(child: TablePlan, child_profile: TableProfile, column: str, options: PlanOptions) -> TablePlan:
    """The child column of a rejected reference planned again as a plain column, from its statistics.

    The planner's own column planning (``plan_unreferenced_column``) decides it, so the
    column gets exactly the generator the offline plan would give a column nobody referenced.
    A column that is its table's own key (a one-to-one reference) keeps its key.
    """
    planned = leaf_plans(child.columns)[column]
    if not isinstance(planned.generator, ForeignKeyRef):
        return child
    replanned = plan_unreferenced_column(child_profile, column, child.row_count, options)
    replanned = replanned.model_copy(update={"reason": f"{replanned.reason}; its reference was rejected"})
    return child.model_copy(update={"columns": replace_leaf(child.columns, column, replanned)})


def rejected_relationship(rel: Relationship, reason: str, advisor: str) -> Relationship:
    """The relationship as the plan lists it once rejected: the offline evidence, then who rejected it and why."""
    return rel.model_copy(update={"evidence": f"{rel.evidence}; rejected by {advisor}: {reason}".lstrip("; ")})


def as_relationship(proposal: RelationshipProposal) -> Relationship:
    return Relationship(
        child_table=proposal.child_table,
        child_columns=[proposal.child_column],
        parent_table=proposal.parent_table,
        parent_columns=[proposal.parent_column],
        origin="model",
        confidence=round(proposal.confidence, 4),
        evidence=f"model: {proposal.evidence}",
    )
