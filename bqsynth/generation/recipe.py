"""Compile a ``TablePlan`` into a Snowfakery recipe (one recipe per table).

The recipe is the readable, editable form of the plan: one field per leaf column,
RECORD sub-fields flattened as ``parent__child``, and every generator spelled as a
built-in Snowfakery ``fake:`` or a ``Bqsynth.*`` plugin call. Literals that came from
source data are written as JSON with ``$`` and ``<`` escaped, so that no source value
can ever be read by Snowfakery as a Jinja template.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from bqsynth.generation.snowfakery_plugin import (
    EXCLUSIONS_OPTION,
    NO_EXCLUSIONS,
    ROW_COUNT_OPTION,
    SEED_OPTION,
    START_INDEX_OPTION,
)
from bqsynth.models import (
    ArrayValue,
    BooleanValue,
    BytesValue,
    Categorical,
    ColumnPlan,
    DatasetPlan,
    FakerValue,
    ForeignKeyRef,
    FreeText,
    Generator,
    GeographyValue,
    GroupKey,
    IntervalValue,
    JsonValue,
    LineNumber,
    NullValue,
    NumberFromQuantiles,
    PatternString,
    RangeValue,
    RecordValue,
    SequenceKey,
    ShapedText,
    TablePlan,
    TemporalFromQuantiles,
    Vocabulary,
)

PLUGIN = "bqsynth.generation.snowfakery_plugin.Bqsynth"
FIELD_SEPARATOR = "__"  # RECORD sub-fields: Snowfakery rows are flat


def json_literal(value: Any) -> str:
    """JSON text that Snowfakery will never evaluate as a template (no ``${{`` / ``<<``)."""
    return json.dumps(value, ensure_ascii=True, default=str).replace("$", "\\u0024").replace("<", "\\u003c")


def _key_args(spec: SequenceKey) -> dict[str, Any]:
    return {
        "start": spec.start,
        "step": spec.step,
        "prefix": json_literal(spec.prefix),
        "width": spec.width,
        "as_string": spec.as_string,
        **({"pattern": json_literal(spec.pattern)} if spec.pattern else {}),
        **({"temporal": spec.temporal} if spec.temporal else {}),
    }


def _copula_args(copula: list[float] | None, table: str) -> dict[str, Any]:
    return {"copula": json_literal(copula), "table": json_literal(table)[1:-1]} if copula else {}


def generator_definition(generator: Generator, table: str, column: str) -> Any:
    """The Snowfakery field definition of one generator (RECORD is flattened by the caller)."""
    match generator:
        case SequenceKey():
            return {"Bqsynth.sequence_key": _key_args(generator)}
        case ForeignKeyRef():
            link = generator.link
            return {
                "Bqsynth.foreign_key": {
                    "table": json_literal(table)[1:-1],
                    "column": json_literal(column)[1:-1],
                    "parent_table": json_literal(generator.parent_table)[1:-1],
                    "parent_column": json_literal(generator.parent_column)[1:-1],
                    "parent_rows": generator.parent_rows,
                    "skew": generator.skew,
                    **({"fan_out": json_literal(generator.fan_out)} if generator.fan_out else {}),
                    **_key_args(generator.parent_key),
                    **({"link": json_literal(link.model_dump())} if link else {}),
                    **({"draw": json_literal(generator.draw)[1:-1]} if generator.draw else {}),
                    **({"one_to_one": True} if generator.one_to_one else {}),
                    **({"via": json_literal(generator.via.model_dump(exclude_defaults=True))} if generator.via else {}),
                    **({"stratified_rows": generator.stratified_rows} if generator.stratified_rows else {}),
                    **(
                        {"group_pairing": json_literal(generator.group_pairing.model_dump())}
                        if generator.group_pairing
                        else {}
                    ),
                }
            }
        case LineNumber():
            return {
                "Bqsynth.line_number": {
                    "rows": generator.rows,
                    "parent_rows": generator.parent_rows,
                    "skew": generator.skew,
                    **({"fan_out": json_literal(generator.fan_out)} if generator.fan_out else {}),
                    **({"layout": json_literal(generator.layout.model_dump())} if generator.layout else {}),
                }
            }
        case GroupKey():
            return {
                "Bqsynth.group_key": {"layout": json_literal(generator.layout.model_dump()), **_key_args(generator.key)}
            }
        case FakerValue():
            return {
                "Bqsynth.fake": {
                    "provider": generator.provider,
                    "column": json_literal(column)[1:-1],
                    "unique": generator.unique,
                    **({"locale": generator.locale} if generator.locale else {}),
                }
            }
        case Categorical(other=FakerValue() | ShapedText() | PatternString() as other):
            kept = generator.model_copy(update={"other": None, "other_weight": 0.0})
            rate = generator.other_weight / (sum(generator.weights) + generator.other_weight)
            return {
                "Bqsynth.rare_or": {
                    "rate": round(rate, 6),
                    "value": generator_definition(kept, table, column),
                    "other": generator_definition(other, table, column),
                }
            }
        case Categorical():
            return {
                "Bqsynth.choice": {
                    "values": json_literal(generator.values),
                    "weights": json_literal(generator.weights),
                    **({"unique": True, "column": json_literal(column)[1:-1]} if generator.unique else {}),
                    **_copula_args(generator.copula, table),
                }
            }
        case NumberFromQuantiles():
            return {
                "Bqsynth.number": {
                    "quantiles": json_literal(generator.quantiles),
                    "integer": generator.integer,
                    "decimals": -1 if generator.decimals is None else generator.decimals,
                    **({"unique": True, "column": json_literal(column)[1:-1]} if generator.unique else {}),
                    **({"precision": generator.precision} if generator.precision else {}),
                    **_copula_args(generator.copula, table),
                }
            }
        case TemporalFromQuantiles():
            return {
                "Bqsynth.temporal": {
                    "type": generator.type,
                    "quantiles": json_literal(generator.quantiles),
                    "column": json_literal(column)[1:-1],
                    **({"whole_days": True} if generator.whole_days else {}),
                    **_copula_args(generator.copula, table),
                }
            }
        case BooleanValue():
            return {"Bqsynth.boolean": {"p_true": generator.p_true}}
        case PatternString():
            return {
                "Bqsynth.pattern": {
                    "pattern": json_literal(generator.pattern),
                    "column": json_literal(column)[1:-1],
                    "unique": generator.unique,
                }
            }
        case FreeText():
            return {
                "Bqsynth.text": {
                    "column": json_literal(column)[1:-1],
                    "min_length": generator.min_length,
                    "max_length": generator.max_length,
                    **({"avg_length": round(generator.avg_length, 3)} if generator.avg_length is not None else {}),
                }
            }
        case ShapedText():
            return {
                "Bqsynth.shaped": {
                    "shapes": json_literal(generator.shapes),
                    "weights": json_literal(generator.weights),
                    "column": json_literal(column)[1:-1],
                }
            }
        case Vocabulary():
            return {
                "Bqsynth.vocabulary": {
                    "values": json_literal(generator.values),
                    "weights": json_literal(generator.weights),
                    "column": json_literal(column)[1:-1],
                }
            }
        case ArrayValue():
            return {
                "Bqsynth.array": {
                    "lengths": json_literal(generator.lengths.values),
                    "length_weights": json_literal(generator.lengths.weights),
                    "element": generator_definition(generator.element, table, column),
                }
            }
        case JsonValue() | GeographyValue() | BytesValue() | IntervalValue() | RangeValue():
            return {"Bqsynth.typed": {"spec": json_literal(generator.model_dump())}}
        case NullValue():
            return None
        case RecordValue():
            # Only inside an array (a top-level RECORD is flattened by ``column_fields``).
            return {
                "Bqsynth.record": {
                    sub.name: _with_nulls(
                        generator_definition(sub.generator, table, f"{column}.{sub.name}"),
                        0.0 if sub.mode == "REQUIRED" else sub.null_rate,
                    )
                    for sub in generator.fields
                }
            }
    raise ValueError(f"{table}.{column}: unknown generator {generator!r}")


def _with_nulls(definition: Any, null_rate: float) -> Any:
    if null_rate <= 0 or definition is None:
        return definition
    return {"Bqsynth.null_or": {"rate": round(null_rate, 6), "value": definition}}


def column_fields(column: ColumnPlan, table: str, prefix: str = "") -> dict[str, Any]:
    """Recipe fields for one column: one field, or one per leaf of a RECORD."""
    name = f"{prefix}{column.name}"
    if isinstance(column.generator, RecordValue):
        fields: dict[str, Any] = {}
        for sub in column.generator.fields:
            fields.update(column_fields(sub, table, prefix=f"{name}{FIELD_SEPARATOR}"))
        return fields
    definition = generator_definition(column.generator, table, name.replace(FIELD_SEPARATOR, "."))
    null_rate = 0.0 if column.mode == "REQUIRED" else column.null_rate
    return {name: _with_nulls(definition, null_rate)}


def compile_recipe(table: TablePlan, seed: int) -> str:
    """The Snowfakery recipe for ``table``; options pick the shard (start index, row count)."""
    fields: dict[str, Any] = {}
    for column in table.columns:
        fields.update(column_fields(column, table.name))
    document: list[dict[str, Any]] = [
        {"plugin": PLUGIN},
        {"option": SEED_OPTION, "default": str(seed)},
        {"option": START_INDEX_OPTION, "default": "0"},
        {"option": ROW_COUNT_OPTION, "default": str(table.row_count)},
        {"option": EXCLUSIONS_OPTION, "default": NO_EXCLUSIONS},
        {"object": table.name, "count": "${{ " + ROW_COUNT_OPTION + " | int }}", "fields": fields},
    ]
    header = (
        f"# Snowfakery recipe for {table.name} (source {table.source_table}), compiled by bqsynth.\n"
        f"# Options: {SEED_OPTION}, {START_INDEX_OPTION} (first row index of this shard), "
        f"{ROW_COUNT_OPTION} (rows in this shard),\n# "
        f"{EXCLUSIONS_OPTION} (file of source-value digests never to emit).\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=False, width=1000)


def with_recipes(plan: DatasetPlan) -> DatasetPlan:
    """The plan with every table's recipe compiled from its columns, with the plan's seed."""
    tables = [table.model_copy(update={"recipe": compile_recipe(table, plan.seed)}) for table in plan.tables]
    return plan.model_copy(update={"tables": tables})
