"""Generated rows as Parquet files: what a load job reads fastest, with every type the columnar engine writes.

Why Parquet (issue 14, item 4; ``benchmarks/load_format.py``): the emulator loaded the same
250,000 rows of the 23-column fact table from Parquet in 0.27 to 0.31 s against 4.88 to 10.63 s
from NDJSON (two runs of two loads each on a shared 2-core machine; 13.1 MiB against 103.8 MiB),
and read every column back equal to the NDJSON load, NUMERIC,
DATETIME, TIMESTAMP, TIME, nested RECORDs and REPEATED columns included. BigQuery documents
Parquet loads of these types: DECIMAL -> NUMERIC, DATE, TIMESTAMP with isAdjustedToUTC ->
TIMESTAMP and without -> DATETIME, TIME, groups -> RECORD, and LIST -> REPEATED when the load
sets ``parquet_options.enable_list_inference`` (``bqsynth.delivery.load`` does, for ``.parquet``
files).

A table keeps NDJSON (``parquet_refusal`` says why) when:

* it is a file source: its files in the source's format are written from the NDJSON text, and
  must stay exactly as they are (a DECIMAL(38, 9) would turn "0.0" into "0.000000000");
* it has a column of a type outside ``PARQUET_TYPES``. BIGNUMERIC: the emulator reads a
  DECIMAL(76, 38) through a double and loses digits (measured: 10.101010101010101010 came back
  10.101010101010100224). BYTES: the emulator base64-decodes BYTES whatever the format, so a
  Parquet BYTE_ARRAY fails to load. INTERVAL and RANGE: BigQuery documents no Parquet type for
  them (and the emulator loads neither). JSON and GEOGRAPHY load from Parquet strings, but the
  columnar engine does not write them (Snowfakery does, as NDJSON).

The values are the engine's shaped values (what the NDJSON holds); text that Arrow parses in
bulk (decimals, dates, timestamps) is cast in one pass, and a column it cannot parse that way is
converted value by value, so the file holds exactly the NDJSON's values. Files are written with
fixed options and no timestamps, so the same rows give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bqsynth.gcp.schema import leaf_paths
from bqsynth.models import ColumnSchema, TablePlan

PARQUET_SUFFIX = ".parquet"
NUMERIC_TYPE = pa.decimal128(38, 9)
_SCALARS: dict[str, pa.DataType] = {
    "INT64": pa.int64(),
    "FLOAT64": pa.float64(),
    "BOOL": pa.bool_(),
    "STRING": pa.string(),
    "NUMERIC": NUMERIC_TYPE,
    "DATE": pa.date32(),
    "DATETIME": pa.timestamp("us"),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "TIME": pa.time64("us"),
}
PARQUET_TYPES = frozenset({*_SCALARS, "RECORD"})
_UTC_SUFFIX = r"( UTC|Z|\+00:00|\+00)$"


class Column(Protocol):
    """One schema column of a shard: its leaf values, or (a RECORD) its fields (``columnar._Out``)."""

    @property
    def column(self) -> ColumnSchema: ...
    @property
    def values(self) -> list[Any]: ...
    @property
    def fields(self) -> Sequence[Column]: ...


def parquet_refusal(table: TablePlan) -> str | None:
    """Why ``table``'s rows are written as NDJSON rather than Parquet; None when Parquet holds them exactly."""
    if table.file_format is not None:
        return "a file source: its files in the source's format are written from the NDJSON"
    for path, column, _ in leaf_paths(table.schema_):
        if column.type not in PARQUET_TYPES:
            return f"column {path} is {column.type}, which does not load from Parquet with full fidelity"
    return None


def arrow_type(column: ColumnSchema) -> pa.DataType:
    if column.is_record:
        inner: pa.DataType = pa.struct([arrow_field(f) for f in column.fields])
    else:
        inner = _SCALARS[column.type]
    return pa.list_(inner) if column.is_repeated else inner


def arrow_field(column: ColumnSchema) -> pa.Field:
    # As google-cloud-bigquery's own Parquet (bq_to_arrow_field, which load_table_from_dataframe
    # writes): a REQUIRED column is still nullable in the file (the table checks it, and a NULL
    # fails the load), a REPEATED one is not (a NULL array is written as []).
    return pa.field(column.name, arrow_type(column), nullable=not column.is_repeated)


def arrow_schema(columns: list[ColumnSchema]) -> pa.Schema:
    return pa.schema([arrow_field(c) for c in columns])


Shaper = Callable[[list[Any], ColumnSchema], list[Any]]


def table_from_columns(columns: Sequence[Column], count: int, shape: Shaper) -> pa.Table:
    """The shard's Arrow table from its schema columns' raw values (RECORDs never NULL, as in the
    NDJSON); ``shape`` turns raw values into the NDJSON's (``columnar.shaped``)."""
    arrays = [_column_array(item, count, shape) for item in columns]
    return pa.Table.from_arrays(arrays, schema=arrow_schema([item.column for item in columns]))


def _column_array(item: Column, count: int, shape: Shaper) -> pa.Array:
    if item.fields:
        children = [_column_array(f, count, shape) for f in item.fields]
        return pa.StructArray.from_arrays(children, fields=[arrow_field(f.column) for f in item.fields])
    if item.column.is_record and not item.column.is_repeated:  # a RECORD without fields in the plan
        return value_array([None] * count, item.column)
    return raw_array(item.values, item.column, shape)


def raw_array(values: list[Any], column: ColumnSchema, shape: Shaper) -> pa.Array:
    """``value_array(shape(values, column), column)``, without the per-value shaping where Arrow takes
    the raw values as they are and shaping would not change them: whole numbers for INT64, numbers
    for FLOAT64, booleans for BOOL, text for STRING (no length limit), NUMERIC and temporal types."""
    kind = column.type
    seconds = getattr(values, "seconds", None)
    if seconds is not None:  # columnar.TemporalSeconds: typed in bulk, or spelt out as everywhere else
        if kind == values.temporal_type and not column.is_repeated:  # type: ignore[attr-defined]
            return _temporal_array(seconds, [v is None for v in values], kind)
        values = values.texts()  # type: ignore[attr-defined]
    if not column.is_repeated and not (kind == "STRING" and column.max_length):
        try:
            if kind == "STRING":  # refuses anything but text
                return pa.array(values, pa.string())
            if kind in ("INT64", "FLOAT64", "BOOL"):
                # Inferred, not forced: a forced int64 would truncate a float where int() might differ.
                inferred = pa.array(values)
                if inferred.type == _SCALARS[kind] or inferred.type == pa.null():
                    return inferred.cast(_SCALARS[kind])
                if kind == "FLOAT64" and inferred.type == pa.int64():
                    return inferred.cast(pa.float64())  # safe: refuses an int a double cannot hold
            if kind in _SCALARS:  # NUMERIC and temporal types: shaping keeps (or str()s) their text
                texts = pa.array(values, pa.string())
                try:
                    return _cast_text(texts, kind, _SCALARS[kind])
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    pass
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass
    return value_array(shape(values, column), column)


def _temporal_array(seconds: Any, nulls: list[bool], kind: str) -> pa.Array:
    """Whole seconds since the epoch as ``kind``: the values ``columnar.seconds_to_texts`` spells."""
    import numpy as np

    mask = np.asarray(nulls, dtype=bool)
    if kind == "TIME":
        micros = (seconds % 86400) * 1_000_000
        return pa.array(micros, pa.int64(), mask=mask).cast(pa.time64("us"))
    moments = seconds.astype("datetime64[s]")
    if kind == "DATE":
        return pa.array(moments.astype("datetime64[D]"), pa.date32(), mask=mask)
    naive = pa.array(moments.astype("datetime64[us]"), pa.timestamp("us"), mask=mask)
    return naive if kind == "DATETIME" else naive.cast(_SCALARS["TIMESTAMP"])


def table_from_rows(rows: list[dict[str, Any]], columns: list[ColumnSchema]) -> pa.Table:
    """The Arrow table of shaped rows (dicts as the NDJSON holds them)."""
    arrays = [value_array([row.get(c.name) for row in rows], c) for c in columns]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(columns))


def value_array(values: list[Any], column: ColumnSchema) -> pa.Array:
    """One column's shaped values (NULL as None; a REPEATED value a list, NULL as []) as Arrow."""
    if column.is_repeated:
        element = column.model_copy(update={"mode": "NULLABLE"})
        lists = [[] if v is None else [e for e in v if e is not None] for v in values]
        offsets = [0]
        for v in lists:
            offsets.append(offsets[-1] + len(v))
        flat = value_array([e for v in lists for e in v], element)
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat, type=arrow_type(column))
    if column.is_record:
        children = [value_array([None if v is None else v.get(f.name) for v in values], f) for f in column.fields]
        mask = pa.array([v is None for v in values], pa.bool_())
        return pa.StructArray.from_arrays(children, fields=[arrow_field(f) for f in column.fields], mask=mask)
    target = _SCALARS[column.type]
    if column.type in ("INT64", "FLOAT64", "BOOL", "STRING"):
        return pa.array(values, target)
    texts = pa.array([None if v is None else str(v) for v in values], pa.string())
    try:
        return _cast_text(texts, column.type, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else _python_value(str(v), column.type) for v in values], target)


def _cast_text(texts: pa.Array, kind: str, target: pa.DataType) -> pa.Array:
    if kind == "TIMESTAMP":
        # "2020-06-23 19:40:03 UTC" as the NDJSON spells it: UTC wall time, then marked UTC.
        naive = pc.replace_substring_regex(texts, _UTC_SUFFIX, "").cast(pa.timestamp("us"))
        return naive.cast(target)
    return texts.cast(target)


def _python_value(text: str, kind: str) -> Any:
    if kind == "NUMERIC":
        return Decimal(text)
    if kind == "DATE":
        return dt.date.fromisoformat(text)
    if kind == "TIME":
        return dt.time.fromisoformat(text)
    moment = dt.datetime.fromisoformat(text.removesuffix(" UTC"))
    if kind == "TIMESTAMP":
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return moment


def write_parquet(table: pa.Table, path: Path) -> None:
    """One file, fixed options: the same rows give the same bytes."""
    pq.write_table(table, path, compression="snappy", row_group_size=1 << 20, write_statistics=True)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A Parquet file's rows as Python values (Decimal, date, datetime, time, lists and dicts)."""
    return pq.read_table(path).to_pylist()
