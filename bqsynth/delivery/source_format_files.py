"""The synthetic rows of a file source, written again as files in the source's own format.

The synthetic data of a file source is written twice from the same rows: as NDJSON, which
is what the load step puts into BigQuery (typed, no parsing ambiguity), and in the source's
own format (delimiter, quoting, header or none, custom header and trailer lines), which is
what downstream systems read. This module writes the second, names its files like the
source's, and applies a user's changes to that format (``FileOutputFormat``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bqsynth.errors import DeliveryError
from bqsynth.gcp.uris import WILDCARD, split_uri
from bqsynth.generation.snowfakery_runner import iter_raw_rows
from bqsynth.models import FileFormat, FileOutputFormat, TablePlan, custom_line_from_template
from bqsynth.sources.delimited import FileFormatError, read_records, render_custom_lines, write_records


class FileWriteError(DeliveryError):
    """The synthetic files of a file source could not be written in the source's format."""


def output_file_names(source_uri: str, shards: int) -> list[str]:
    """Names of the synthetic files: the source's own name when it is one file written as one.

    With a wildcard source or several shards, the pattern's wildcard is
    replaced by the shard number (``orders_*.csv`` -> ``orders_00000.csv``), so the same
    wildcard reads the synthetic files.
    """
    pattern = PurePosixPath(split_uri(source_uri)[1]).name
    if shards == 1 and not WILDCARD.search(pattern):
        return [pattern]
    if not WILDCARD.search(pattern):
        stem, suffix = PurePosixPath(pattern).stem, PurePosixPath(pattern).suffix
        pattern = f"{stem}_*{suffix}"
    head = WILDCARD.split(pattern, maxsplit=1)[0]
    tail = pattern[len(head) :].lstrip("*?")
    if tail.startswith("["):  # a character class: drop it whole
        tail = tail[tail.find("]") + 1 :]
    return [f"{head}{shard:05d}{tail.replace('*', '').replace('?', '')}" for shard in range(shards)]


def write_source_files(
    table: TablePlan,
    fmt: FileFormat,
    ndjson_files: Sequence[Path],
    output_dir: Path,
    run_date: dt.date,
    *,
    seed: int = 0,
) -> list[tuple[Path, int]]:
    """Each generated NDJSON shard as a file in the source's format; returns (file, data rows).

    The rows are counted by parsing the written file back with the source's settings, so
    the count is also proof that a downstream reader with those settings gets every row.
    Where the source chose a spelling value by value (NULL written empty and ``NULL``, a
    TIMESTAMP in several offsets), each synthetic value's is drawn with the source's shares as
    a stable function of ``seed`` (the plan's), the file, the column and the row.
    """
    names = output_file_names(table.source_table, len(ndjson_files))
    written: list[tuple[Path, int]] = []
    for ndjson, name in zip(ndjson_files, names, strict=True):
        data = write_records(iter_raw_rows(ndjson), fmt, run_date=run_date, seed=seed, stream=name)
        path = output_dir / name
        path.write_bytes(data)
        try:
            count = len(read_records(data, fmt, str(path)))
        except FileFormatError as error:
            raise FileWriteError(
                f"table {table.name}: the synthetic file {name} does not parse back: {error}"
            ) from error
        written.append((path, count))
    return written


def custom_header_text(fmt: FileFormat, record_count: int, run_date: dt.date) -> str | None:
    """The custom header and trailer lines as written, for the audit row."""
    header = render_custom_lines(fmt.header_lines, record_count=record_count, run_date=run_date)
    trailer = render_custom_lines(fmt.trailer_lines, record_count=record_count, run_date=run_date)
    if not header and not trailer:
        return None
    return "\n".join(header + (["..."] if trailer else []) + trailer)


def changed_format(source: FileFormat, change: FileOutputFormat) -> FileFormat:
    """The source's format with a user's changes: delimiter, header row, encoding, custom lines, ..."""
    update = change.model_dump(exclude_none=True, exclude={"header_lines", "trailer_lines"})
    if change.header_lines is not None:
        update["header_lines"] = [custom_line_from_template(t) for t in change.header_lines]
    if change.trailer_lines is not None:
        update["trailer_lines"] = [custom_line_from_template(t) for t in change.trailer_lines]
    fmt = source.model_copy(update=update)
    if fmt.has_header:  # a header added to a headerless source names the columns
        fmt = fmt.model_copy(
            update={"columns": [c.model_copy(update={"header": c.header or c.name}) for c in fmt.columns]}
        )
    if fmt.delimiter == fmt.quotechar or (fmt.delimiter == "," and any(c.decimal_comma for c in fmt.columns)):
        raise ValueError(
            f"delimiter {fmt.delimiter!r} cannot be used here: it is the quote character, or the file "
            "writes decimals with a comma; choose another delimiter"
        )
    return fmt
