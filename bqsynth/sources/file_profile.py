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

Two readers give the same format, row count and statistics. ``build_file_profile`` takes the
files' bytes in memory (tests, small inputs); its sample is the first ``sample_rows`` rows.
``profile_file_parts``, the one the pipeline uses, streams files of any size
(``bqsynth.sources.file_stream``), with statistics exact while a column has at most
``StreamLimits.exact_values`` distinct values and estimated in bounded memory beyond
(``bqsynth.sources.value_stats``); its sample is a seeded reservoir sample of the rows in file
order, every row when there are no more than ``sample_rows``.

A headerless file's columns arrive from ``sniff_format`` as ``column_1``, ``column_2`` ...;
they are renamed after their meaning (``bqsynth.semantics.classify_column`` on the first
file's rows: ``email``, ``phone``, ``date`` ...), deduplicated with ``_2`` suffixes; a column
of unknown meaning keeps ``column_N``. ``profile_file_parts`` may then hand them, with the first
data lines of the file, to a ``ColumnNamer`` (with llm=gemini, ``bqsynth.llm.headerless`` asks
the model): the names it returns replace them, and its ``ColumnNaming`` record goes into the
profile. Sources never call a model themselves: the namer comes from the step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bqsynth.gcp.names import table_name_for_uri, unique_names
from bqsynth.models import ColumnNaming, ColumnSchema, ColumnStats, FileFormat, TableProfile
from bqsynth.semantics import classify_column, sample_values
from bqsynth.sources.delimited import (
    DEFAULT_MAX_RAGGED_SHARE,
    FileFormatError,
    ValueMisfitError,
    as_text_column,
    detect_encoding,
    read_records,
    sniff_format,
)
from bqsynth.sources.file_stream import (
    FilePart,
    Head,
    PartTally,
    completed_format,
    read_head,
    sniff_head,
    stream_file_batches,
    stream_file_rows,
)
from bqsynth.sources.value_stats import StreamLimits, TableAccumulator, stats_from_counts

# The data lines of a headerless file a namer is given: a prompt shows fewer, masked.
NAMER_LINES = 20

# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def column_stats(path: str, kind: str, values: Sequence[Any], *, top_k: int = 20, quantiles: int = 20) -> ColumnStats:
    """``ColumnStats`` of one column from its values in BigQuery JSON form (None = NULL)."""
    present = Counter(v for v in values if v is not None)
    nulls = len(values) - sum(present.values())
    return stats_from_counts(path, kind, present, nulls, top_k=top_k, quantiles=quantiles)


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


def with_names(fmt: FileFormat, names: Sequence[str]) -> FileFormat:
    """``fmt`` with its columns renamed, in order (one name per column)."""
    return fmt.model_copy(
        update={"columns": [c.model_copy(update={"name": n}) for c, n in zip(fmt.columns, names, strict=True)]}
    )


def named_by_meaning(fmt: FileFormat, rows: Sequence[dict[str, Any]], source: str) -> FileFormat:
    """A headerless file's format with its columns named after the meaning of ``rows`` (read in ``fmt``)."""
    return with_names(fmt, _semantic_names(fmt, rows, source))


@dataclass(frozen=True)
class HeaderlessSample:
    """What a ``ColumnNamer`` may read of a headerless file source."""

    table: str  # the table's name (from its URI)
    file: str  # the first file, whose head was read
    fmt: FileFormat  # as detected, its columns named by meaning
    lines: list[str]  # its first data lines as written (custom header and trailer lines left out)


# Names for a headerless file's columns, one per column of ``sample.fmt``, and the record of who chose them.
ColumnNamer = Callable[[HeaderlessSample], tuple[list[str], ColumnNaming]]


def data_lines(head: Head, fmt: FileFormat, limit: int) -> list[str]:
    """The first ``limit`` data lines of a file's head, decoded, without custom header or trailer lines.

    Split on the line terminator only (``str.splitlines`` would also split on the record and
    unit separators some exports use as delimiters); a quoted field's line break splits its
    record, which the namer's re-parse check sees as a width change.
    """
    encoding = "utf-8" if fmt.encoding == "utf-8-sig" else fmt.encoding
    text = head.data.decode(encoding, errors="replace").removeprefix("\ufeff")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()  # after the final line end
    lines = lines[len(fmt.header_lines) :]
    if head.complete and fmt.trailer_lines:
        lines = lines[: -len(fmt.trailer_lines)]
    return lines[:limit]


def detect_format(data: bytes, source: str, *, max_ragged_share: float = DEFAULT_MAX_RAGGED_SHARE) -> FileFormat:
    """``sniff_format``, with a headerless file's columns named after their meaning."""
    fmt = sniff_format(data, source, max_ragged_share=max_ragged_share)
    return fmt if fmt.has_header else named_by_meaning(fmt, read_records(data, fmt, source), source)


# ---------------------------------------------------------------------------------------------
# Several files, one table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PartEncoding:
    encoding: str | None  # None: unreadable, reported when the file itself is read
    ascii: bool


def _part_encoding(name: str, data: bytes) -> _PartEncoding:
    try:
        encoding, _ = detect_encoding(data, name)
    except FileFormatError:
        return _PartEncoding(None, data.isascii())
    return _PartEncoding(encoding, data.isascii())


def _table_encoding(parts: Sequence[_PartEncoding], fmt: FileFormat) -> FileFormat:
    """Latin-1 for the whole table when one part is Latin-1 and the others are plain ASCII."""
    if fmt.encoding != "utf-8":
        return fmt
    for index, part in enumerate(parts[1:], start=1):
        if part.encoding == "latin-1" and all(p.ascii for i, p in enumerate(parts) if i != index):
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
    fmt = _table_encoding([_part_encoding(n, d) for n, d in files], sniff_format(first_data, first_name))
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


# ---------------------------------------------------------------------------------------------
# Files of any size: streamed
# ---------------------------------------------------------------------------------------------


def profile_file_parts(
    source: str,
    parts: Sequence[FilePart],
    *,
    sample_rows: int = 200,
    top_k: int = 20,
    quantiles: int = 20,
    limits: StreamLimits | None = None,
    namer: ColumnNamer | None = None,
) -> TableProfile:
    """``build_file_profile`` for files of any size, each read once as a stream.

    The format is detected from the head of the first file (``StreamLimits.sniff_bytes``;
    the whole file when it is smaller, and then the format is exactly ``build_file_profile``'s),
    a headerless file's columns are named from the rows of that head, and every part is then
    read in one pass into the statistics of ``bqsynth.sources.value_stats`` (exact while a
    column has at most ``StreamLimits.exact_values`` distinct values) and a reservoir sample of
    ``sample_rows`` rows. Memory depends on the limits, not on the size of the files.

    With a ``namer``, a headerless file's names by meaning are only its proposal: the namer
    returns the names used (a model's, checked, or these) and the record the profile keeps.
    """
    limits = limits or StreamLimits()
    if not parts:
        raise FileFormatError(f"{source} matched no files: check the URI and that the files exist")
    naming: ColumnNaming | None = None
    first = parts[0]
    head = read_head(first, limits.sniff_bytes)
    fmt = sniff_head(head, first.name)
    if fmt.encoding == "utf-8" and head.data.isascii() and len(parts) > 1:
        encodings = [_part_encoding(first.name, head.data)]
        encodings += [_part_encoding(p.name, read_head(p, limits.sniff_bytes).data) for p in parts[1:]]
        fmt = _table_encoding(encodings, fmt)
    if not fmt.has_header:
        # Named once, from the head of the first file; every part is read with these names.
        head_part = FilePart.from_bytes(first.name, head.data)
        head_rows = list(
            stream_file_rows(
                head_part,
                fmt,
                PartTally(),
                trailer_count=len(fmt.trailer_lines) if head.complete else 0,
                tolerated_ragged=fmt.ragged_rows,
                limits=limits,
                max_ragged_share=DEFAULT_MAX_RAGGED_SHARE if head.complete else 1.0,  # the whole file decides
                complete=head.complete,
            )
        )
        fmt = named_by_meaning(fmt, head_rows, first.name)
        del head_rows
        if namer is not None:
            sample = HeaderlessSample(table_name_for_uri(source), first.name, fmt, data_lines(head, fmt, NAMER_LINES))
            names, naming = namer(sample)
            fmt = with_names(fmt, names)
    while True:
        try:
            table, fmt, ragged = _read_parts(parts, fmt, head, source, sample_rows, limits)
            break
        except ValueMisfitError as misfit:
            # The head typed the column; a later value fits no such type (an 'N/A' among numbers
            # past the head). Read as text, the column keeps every value exactly as written: the
            # parts are read again with it, as sniffing the whole file would have typed it.
            fmt = _widened(fmt, misfit)
    return TableProfile(
        table_id=source,
        name=table_name_for_uri(source),
        row_count=table.rows,
        columns=[ColumnSchema(name=c.name, type=c.type) for c in fmt.columns],
        stats=table.stats(top_k=top_k, quantiles=quantiles),
        sample=table.sample(),
        file_format=fmt.model_copy(update={"ragged_rows": ragged}),
        source_files=[p.name for p in parts],
        column_naming=naming,
    )


def _read_parts(
    parts: Sequence[FilePart], fmt: FileFormat, head: Head, source: str, sample_rows: int, limits: StreamLimits
) -> tuple[TableAccumulator, FileFormat, int]:
    """Every part streamed into one accumulator: it, the format completed by the first file's end, and
    the ragged rows."""
    first = parts[0]
    table = TableAccumulator([(c.name, c.type) for c in fmt.columns], sample_rows, limits)
    tally = PartTally()
    table.add_all(
        stream_file_batches(
            first,
            fmt,
            tally,
            trailer_count=len(fmt.trailer_lines) if head.complete else None,
            tolerated_ragged=fmt.ragged_rows if head.complete else 0,
            limits=limits,
        )
    )
    if not head.complete:
        fmt = completed_format(fmt, tally)
    ragged = tally.ragged
    for part in parts[1:]:
        ragged += _add_part(table, part, fmt, first.name, source, limits)
    return table, fmt, ragged


def _widened(fmt: FileFormat, misfit: ValueMisfitError) -> FileFormat:
    """``fmt`` with the misfit's column read as text; the error again when it already is text."""
    columns = [as_text_column(c) if c.name == misfit.misfit_column and c.type != "STRING" else c for c in fmt.columns]
    if columns == fmt.columns:
        raise misfit
    return fmt.model_copy(update={"columns": columns})


def _add_part(
    table: TableAccumulator, part: FilePart, fmt: FileFormat, first_name: str, source: str, limits: StreamLimits
) -> int:
    """Stream one further part of a table into ``table``; its ragged rows."""
    head = read_head(part, limits.sniff_bytes)
    try:
        other: FileFormat | None = sniff_head(head, part.name)
    except FileFormatError as error:
        if "no data rows" not in str(error):
            raise FileFormatError(
                f"{part.name} cannot be read like {first_name} (both are {source}): {error}"
            ) from error
        other = None  # a header-only part of a wildcard table is an empty partition
    if other is not None and not head.complete:
        # Its trailer lines are only known at its end; it is read with the first file's.
        other = other.model_copy(update={"trailer_lines": fmt.trailer_lines})
    differences = _layout_differences(fmt, other) if other is not None else []
    if differences:
        raise FileFormatError(
            f"{part.name} has a different format from {first_name} (both are {source}): "
            f"{'; '.join(differences)}. Export all files of one table the same way"
        )
    tally = PartTally()
    try:
        table.add_all(
            stream_file_batches(
                part,
                fmt,
                tally,
                trailer_count=len(fmt.trailer_lines),
                tolerated_ragged=fmt.ragged_rows,
                limits=limits,
            )
        )
    except ValueMisfitError:
        raise  # the table's column is read as text, from the first part again
    except FileFormatError as error:
        raise FileFormatError(f"{part.name} cannot be read like {first_name} (both are {source}): {error}") from error
    return tally.ragged
