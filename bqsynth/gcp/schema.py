"""BigQuery schemas as ``ColumnSchema`` models, and comparisons between them.

Pure functions only: the profiler reads a schema with them, the loader recreates it and
checks an existing target against it, so both sides must agree on type spellings
(``normalise_type``) and on what "compatible" means.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

from google.cloud import bigquery

from bqsynth.models import ColumnSchema, Mode, normalise_type


def columns_from_bigquery(fields: Sequence[bigquery.SchemaField]) -> list[ColumnSchema]:
    """``ColumnSchema`` models for a table's schema, nested fields included."""
    return [_column_from_field(field) for field in fields]


def _column_from_field(field: bigquery.SchemaField) -> ColumnSchema:
    return ColumnSchema(
        name=field.name,
        type=normalise_type(field.field_type or "STRING"),
        # The API omits the mode for NULLABLE fields.
        mode=cast(Mode, (field.mode or "NULLABLE").upper()),
        description=field.description or None,
        fields=columns_from_bigquery(field.fields),
        # Parameterised types keep their parameters, so the target is created exactly as the source.
        precision=field.precision,
        scale=field.scale,
        max_length=field.max_length,
        range_element_type=field.range_element_type.element_type if field.range_element_type else None,
    )


def to_bigquery_schema(columns: list[ColumnSchema]) -> list[bigquery.SchemaField]:
    """The inverse of ``columns_from_bigquery``: fields to create a table with."""
    return [
        bigquery.SchemaField(
            name=column.name,
            field_type=column.type,
            mode=column.mode,
            description=column.description,
            fields=to_bigquery_schema(column.fields),
            **_type_parameters(column),
        )
        for column in columns
    ]


def _type_parameters(column: ColumnSchema) -> dict[str, Any]:
    # Only the parameters the source declares: the client sends every one it is given.
    parameters = {"precision": column.precision, "scale": column.scale, "max_length": column.max_length}
    found: dict[str, Any] = {name: value for name, value in parameters.items() if value is not None}
    if column.range_element_type:
        found["range_element_type"] = column.range_element_type
    return found


def leaf_paths(columns: list[ColumnSchema]) -> list[tuple[str, ColumnSchema, bool]]:
    """Every non-RECORD column as ``(dotted path, column, inside or itself REPEATED)``."""
    return list(_leaves(columns, prefix="", in_repeated=False))


def _leaves(columns: list[ColumnSchema], prefix: str, in_repeated: bool) -> Iterator[tuple[str, ColumnSchema, bool]]:
    for column in columns:
        path = f"{prefix}{column.name}"
        repeated = in_repeated or column.is_repeated
        if column.is_record:
            yield from _leaves(column.fields, prefix=f"{path}.", in_repeated=repeated)
        else:
            yield path, column, repeated


def schema_differences(expected: list[ColumnSchema], actual: list[ColumnSchema]) -> list[str]:
    """Why rows shaped like ``expected`` cannot be loaded into a table shaped like ``actual``.

    Only incompatibilities are reported, not every difference: a REQUIRED source column
    may go into a NULLABLE target column, and the target may have extra NULLABLE columns,
    because loads accept both. Names compare case-insensitively, as BigQuery does.
    An empty list means the target is usable.
    """
    return _differences(expected, actual, prefix="")


def _differences(expected: list[ColumnSchema], actual: list[ColumnSchema], prefix: str) -> list[str]:
    actual_by_name = {column.name.lower(): column for column in actual}
    expected_names = {column.name.lower() for column in expected}
    problems: list[str] = []
    for want in expected:
        path = f"{prefix}{want.name}"
        have = actual_by_name.get(want.name.lower())
        if have is None:
            problems.append(f"column {path} ({_describe(want)}) is missing from the target table")
            continue
        problems.extend(_column_differences(path, want, have))
    for have in actual:
        if have.name.lower() not in expected_names and have.mode == "REQUIRED":
            problems.append(
                f"the target table has an extra REQUIRED column {prefix}{have.name} that the generated rows do not fill"
            )
    return problems


def _column_differences(path: str, want: ColumnSchema, have: ColumnSchema) -> list[str]:
    want_type, have_type = normalise_type(want.type), normalise_type(have.type)
    if want_type != have_type:
        return [f"column {path} is {have_type} in the target table but {want_type} in the source"]
    problems: list[str] = []
    if _mode_conflict(want.mode, have.mode):
        problems.append(f"column {path} is {have.mode} in the target table but {want.mode} in the source")
    if want_type == "RECORD":
        problems.extend(_differences(want.fields, have.fields, prefix=f"{path}."))
    if want_type == "RANGE" and want.range_element_type != have.range_element_type:
        problems.append(
            f"column {path} is RANGE<{have.range_element_type}> in the target table but "
            f"RANGE<{want.range_element_type}> in the source"
        )
    for parameter in ("precision", "scale", "max_length"):
        limit, wanted = getattr(have, parameter), getattr(want, parameter)
        if limit is not None and (wanted is None or wanted > limit):
            # A narrower target refuses values the source allows; a wider one takes them all.
            problems.append(
                f"column {path} allows {parameter} {limit} in the target table but {wanted or 'the default'} "
                "in the source"
            )
    return problems


def _mode_conflict(want: str, have: str) -> bool:
    # Arrays never fit scalars either way; NULLABLE data may hold NULLs a REQUIRED target rejects.
    if (want == "REPEATED") != (have == "REPEATED"):
        return True
    return want == "NULLABLE" and have == "REQUIRED"


def _describe(column: ColumnSchema) -> str:
    return f"{column.type} {column.mode}"
