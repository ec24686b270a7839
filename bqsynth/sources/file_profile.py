"""Profile delimited source files into the same ``TableProfile`` the BigQuery profiler produces.

Pure: the caller reads the bytes (one file, or every file of a wildcard URI) and passes them
in. Statistics are computed in Python with the meaning of ``bqsynth.sources.bigquery_profile`` (see
``value_stats_sql`` there), type by type, so that the planner treats a file table and a
BigQuery table alike:

* every type: ``row_count``, ``null_count``, ``distinct_count`` (exact here, approximate in
  BigQuery);
* STRING, INT64, BOOL, DATE: ``top_values``, the ``top_k`` most frequent non-null values, ties
  broken by the value's natural order (BigQuery breaks them arbitrarily);
* numbers and temporals: ``quantiles``, ``quantiles + 1`` points from minimum to maximum like
  ``APPROX_QUANTILES(x, quantiles)`` (nearest rank, exact here); those and BOOL: min/max.
  NUMERIC values become floats and temporals ISO strings, as ``bigquery_profile.json_safe`` makes them;
* STRING: min/max/avg length in characters;
* NUMERIC and FLOAT64: ``max_scale``, the fewest decimals that keep every value (trailing zeros
  do not count, exactly as ``bigquery_profile.scale_sql``).

The sample is the first ``sample_rows`` rows in file order: deterministic, and the files of a
table are usually not sorted in a way that would bias it much.

A headerless file's columns arrive from ``sniff_format`` as ``column_1``, ``column_2`` ...;
they are renamed after their meaning (``bqsynth.semantics.classify_column`` on the first
file's rows: ``email``, ``phone``, ``date`` ...), deduplicated with ``_2`` suffixes; a column
of unknown meaning keeps ``column_N``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from bqsynth.gcp.names import table_name_for_uri, unique_names
from bqsynth.models import ColumnSchema, ColumnStats, FileFormat, Scalar, TableProfile, ValueCount
from bqsynth.semantics import classify_column, sample_values
from bqsynth.sources.bigquery_profile import (
    DISTINCT_TYPES,
    LENGTH_TYPES,
    MIN_MAX_TYPES,
    QUANTILE_TYPES,
    SCALE_LIMITS,
    TOP_VALUE_TYPES,
)
from bqsynth.sources.delimited import (
    DEFAULT_MAX_RAGGED_SHARE,
    FileFormatError,
    detect_encoding,
    read_records,
    sniff_format,
)

# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def _natural_order_key(kind: str) -> Callable[[Any], Any]:
    """Values of one column in their natural order (temporals by time, not by text)."""
    if kind == "NUMERIC":
        return lambda v: Decimal(v)
    if kind in ("DATETIME", "TIMESTAMP"):
        return lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if kind == "TIME":
        return dt.time.fromisoformat
    return lambda v: v


def _stat_value(value: Any, kind: str) -> Scalar:
    # NUMERIC is a float in stats, as bigquery_profile.json_safe turns BigQuery's Decimal into one.
    return float(Decimal(value)) if kind == "NUMERIC" else value


def _quantile_points(ordered: Sequence[Any], quantiles: int) -> list[Any]:
    """``quantiles + 1`` values from min to max at evenly spaced ranks (nearest rank)."""
    if not ordered:
        return []
    last = len(ordered) - 1
    return [ordered[(2 * i * last + quantiles) // (2 * quantiles)] for i in range(quantiles + 1)]


def _scale(value: Any, kind: str) -> int | None:
    limit = SCALE_LIMITS[kind]
    if kind == "NUMERIC":
        exponent = Decimal(value).normalize().as_tuple().exponent
        return min(max(0, -int(exponent)), limit)
    number = float(value)
    if not math.isfinite(number):
        return None
    if abs(number) >= 1e15:
        return 0
    return next((k for k in range(limit) if number == round(number, k)), limit)


def column_stats(path: str, kind: str, values: Sequence[Any], *, top_k: int = 20, quantiles: int = 20) -> ColumnStats:
    """``ColumnStats`` of one column from its values in BigQuery JSON form (None = NULL)."""
    present = [v for v in values if v is not None]
    key = _natural_order_key(kind)
    stats: dict[str, Any] = {
        "path": path,
        "type": kind,
        "row_count": len(values),
        "null_count": len(values) - len(present),
    }
    if kind in DISTINCT_TYPES:
        stats["distinct_count"] = len({key(v) for v in present})
    if kind in TOP_VALUE_TYPES and present:
        counts = Counter(present)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], key(item[0])))
        stats["top_values"] = [ValueCount(value=v, count=c) for v, c in ranked[:top_k]]
    ordered = sorted(present, key=key) if kind in MIN_MAX_TYPES and present else []
    if kind in QUANTILE_TYPES and ordered:
        stats["quantiles"] = [_stat_value(v, kind) for v in _quantile_points(ordered, quantiles)]
    if ordered:
        stats["min_value"] = _stat_value(ordered[0], kind)
        stats["max_value"] = _stat_value(ordered[-1], kind)
    if kind in LENGTH_TYPES and present:
        lengths = [len(v) for v in present]
        stats["min_length"], stats["max_length"] = min(lengths), max(lengths)
        stats["avg_length"] = sum(lengths) / len(lengths)
    if kind in SCALE_LIMITS and present:
        scales = [s for s in (_scale(v, kind) for v in present) if s is not None]
        stats["max_scale"] = max(scales) if scales else None
    return ColumnStats(**stats)


def profile_from_rows(
    source: str,
    fmt: FileFormat,
    rows: Sequence[dict[str, Any]],
    source_files: list[str],
    *,
    sample_rows: int = 200,
    top_k: int = 20,
    quantiles: int = 20,
) -> TableProfile:
    """A ``TableProfile`` of parsed rows (BigQuery JSON form) in ``fmt``."""
    columns = [ColumnSchema(name=c.name, type=c.type) for c in fmt.columns]
    stats = {
        c.name: column_stats(c.name, c.type, [row.get(c.name) for row in rows], top_k=top_k, quantiles=quantiles)
        for c in fmt.columns
    }
    return TableProfile(
        table_id=source,
        name=table_name_for_uri(source),
        row_count=len(rows),
        columns=columns,
        stats=stats,
        sample=[dict(row) for row in rows[:sample_rows]],
        file_format=fmt,
        source_files=source_files,
    )


# ---------------------------------------------------------------------------------------------
# Headerless files: columns named after their meaning
# ---------------------------------------------------------------------------------------------

_SEMANTIC_NAMES = {
    "person.first_name": "first_name",
    "person.last_name": "last_name",
    "person.full_name": "name",
    "email": "email",
    "phone_number": "phone",
    "address.street": "street",
    "address.city": "city",
    "address.state": "state",
    "address.postal_code": "postal_code",
    "address.country": "country",
    "company.name": "company",
    "url": "url",
    "ip_address": "ip_address",
    "iban": "iban",
    "credit_card_number": "card_number",
    "ssn": "ssn",
    "date_of_birth": "birth_date",
    "boolean": "flag",
    "amount": "amount",
    "latitude": "latitude",
    "longitude": "longitude",
    "percentage": "percentage",
}
_TEMPORAL_NAMES = {"DATE": "date", "DATETIME": "datetime", "TIMESTAMP": "timestamp", "TIME": "time"}


def _semantic_names(fmt: FileFormat, rows: Sequence[dict[str, Any]], source: str) -> list[str]:
    """Names for a headerless file's columns from their meaning (``column_N`` when unknown)."""
    profile = profile_from_rows(source, fmt, rows, [source])
    names = []
    for column, schema in zip(fmt.columns, profile.columns, strict=True):
        guess = classify_column(
            profile, column.name, schema, profile.stats.get(column.name), sample_values(profile, column.name)
        )
        name = _TEMPORAL_NAMES.get(column.type) if guess.semantic_type in ("date", "timestamp", "time") else None
        names.append(name or _SEMANTIC_NAMES.get(guess.semantic_type, ""))
    return unique_names(names, [c.name for c in fmt.columns])


def named_by_meaning(fmt: FileFormat, rows: Sequence[dict[str, Any]], source: str) -> FileFormat:
    """A headerless file's format with its columns named after the meaning of ``rows`` (read in ``fmt``)."""
    names = _semantic_names(fmt, rows, source)
    return fmt.model_copy(
        update={"columns": [c.model_copy(update={"name": n}) for c, n in zip(fmt.columns, names, strict=True)]}
    )


def detect_format(data: bytes, source: str, *, max_ragged_share: float = DEFAULT_MAX_RAGGED_SHARE) -> FileFormat:
    """``sniff_format``, with a headerless file's columns named after their meaning."""
    fmt = sniff_format(data, source, max_ragged_share=max_ragged_share)
    return fmt if fmt.has_header else named_by_meaning(fmt, read_records(data, fmt, source), source)


# ---------------------------------------------------------------------------------------------
# Several files, one table
# ---------------------------------------------------------------------------------------------


def _table_encoding(files: Sequence[tuple[str, bytes]], fmt: FileFormat) -> FileFormat:
    """Latin-1 for the whole table when one part is Latin-1 and the others are plain ASCII."""
    if fmt.encoding != "utf-8":
        return fmt
    for name, data in files[1:]:
        try:
            encoding, _ = detect_encoding(data, name)
        except FileFormatError:
            continue  # reported when the file itself is read
        if encoding == "latin-1" and all(d.isascii() for _, d in files if d is not data):
            return fmt.model_copy(update={"encoding": "latin-1"})
    return fmt


def _layout_differences(first: FileFormat, other: FileFormat) -> list[str]:
    checks = {
        "delimiter": (first.delimiter, other.delimiter),
        "line terminator": (first.line_terminator, other.line_terminator),
        "header row": (first.has_header, other.has_header),
        "column count": (len(first.columns), len(other.columns)),
        "header texts": ([c.header for c in first.columns], [c.header for c in other.columns]),
        "custom header lines": (len(first.header_lines), len(other.header_lines)),
        "custom trailer lines": (len(first.trailer_lines), len(other.trailer_lines)),
        "byte order mark": (first.encoding == "utf-8-sig", other.encoding == "utf-8-sig"),
    }
    return [f"{what} {a!r} vs {b!r}" for what, (a, b) in checks.items() if a != b]


def build_file_profile(
    source: str,
    files: list[tuple[str, bytes]],
    *,
    sample_rows: int = 200,
    top_k: int = 20,
    quantiles: int = 20,
) -> TableProfile:
    """Profile one table stored as one or more delimited files (``files``: name and bytes).

    The first file's format is the table's; every further file must have the same layout
    (delimiter, line ends, header, custom lines) and spell its values the same way, or a
    ``FileFormatError`` names both files.
    """
    if not files:
        raise FileFormatError(f"{source} matched no files: check the URI and that the files exist")
    first_name, first_data = files[0]
    fmt = _table_encoding(files, sniff_format(first_data, first_name))
    rows = read_records(first_data, fmt, first_name)
    if not fmt.has_header:
        # Named once, from the first file; every further file is read with these names.
        provisional = [c.name for c in fmt.columns]
        fmt = named_by_meaning(fmt, rows, first_name)
        renamed = list(zip(provisional, [c.name for c in fmt.columns], strict=True))
        rows = [{new: row[old] for old, new in renamed} for row in rows]
    ragged = fmt.ragged_rows
    for name, data in files[1:]:
        try:
            other = sniff_format(data, name)
        except FileFormatError as error:
            if "no data rows" not in str(error):
                raise FileFormatError(
                    f"{name} cannot be read like {first_name} (both are {source}): {error}"
                ) from error
            other = None  # a header-only part of a wildcard table is an empty partition
        differences = _layout_differences(fmt, other) if other is not None else []
        if differences:
            raise FileFormatError(
                f"{name} has a different format from {first_name} (both are {source}): "
                f"{'; '.join(differences)}. Export all files of one table the same way"
            )
        try:
            rows.extend(read_records(data, fmt, name))
        except FileFormatError as error:
            raise FileFormatError(f"{name} cannot be read like {first_name} (both are {source}): {error}") from error
        ragged += other.ragged_rows if other is not None else 0
    fmt = fmt.model_copy(update={"ragged_rows": ragged})
    return profile_from_rows(
        source,
        fmt,
        rows,
        [name for name, _ in files],
        sample_rows=sample_rows,
        top_k=top_k,
        quantiles=quantiles,
    )
