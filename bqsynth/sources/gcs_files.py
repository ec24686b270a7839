"""Delimited files in Cloud Storage as sources: find them, read them, write synthetic ones back.

A file source is named by a ``gs://bucket/path`` URI, one file or a wildcard
(``gs://bucket/in/orders_*.csv``) whose files are the parts of one table. The format
itself (encoding, delimiter, quoting, header, custom header and trailer lines, value
spellings) is detected by :mod:`bqsynth.sources.delimited`; this module is the Cloud Storage edge
around it: listing, downloading, naming the output files and uploading them.

The synthetic data of a file source is written twice from the same rows: as NDJSON,
which is what the load step puts into BigQuery (typed, no parsing ambiguity), and in
the source's own format, which is what downstream systems read.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from google.api_core import exceptions
from google.cloud import storage

from bqsynth.config import GCS_SCHEME, split_uri
from bqsynth.errors import DeliveryError, SourceError
from bqsynth.generation.snowfakery_runner import iter_raw_rows
from bqsynth.models import CustomLine, FileFormat, FileOutputFormat, LineField, TablePlan, TableProfile
from bqsynth.sources.delimited import FileFormatError, read_records, render_custom_lines, write_records
from bqsynth.sources.file_profile import build_file_profile

# Sources are parsed in memory; beyond this a BigQuery external table is the better tool.
MAX_SOURCE_BYTES = 2 * 1024**3
_WILDCARD = re.compile(r"[*?\[]")
_PLACEHOLDER = re.compile(r"\{(count|date)(?::([^}]*))?\}")


class FileSourceError(SourceError, ValueError):
    """A file source cannot be found or read; the message names the URI and what to do."""


class FileWriteError(DeliveryError):
    """The synthetic files of a file source could not be written in the source's format."""


def list_source_files(client: storage.Client, uri: str) -> list[storage.Blob]:
    """The objects a source URI names, in name order (the order of the parts of a table)."""
    bucket, pattern = split_uri(uri)
    match = _WILDCARD.search(pattern)
    try:
        if match is None:
            blob = client.bucket(bucket).get_blob(pattern)
            blobs = [blob] if blob is not None else []
        else:
            candidates = client.list_blobs(bucket, prefix=pattern[: match.start()])
            blobs = [b for b in candidates if fnmatch.fnmatchcase(b.name, pattern) and not b.name.endswith("/")]
    except exceptions.NotFound as error:
        raise FileSourceError(f"file source {uri}: bucket {bucket!r} does not exist") from error
    except exceptions.Forbidden as error:
        raise FileSourceError(
            f"file source {uri}: access denied; grant the pipeline's service account "
            f"roles/storage.objectViewer on gs://{bucket}"
        ) from error
    if not blobs:
        raise FileSourceError(f"file source {uri}: no object matches; check the path and the wildcard")
    total = sum(b.size or 0 for b in blobs)
    if total > MAX_SOURCE_BYTES:
        raise FileSourceError(
            f"file source {uri}: {total / 1024**3:.1f} GiB is more than bqsynth reads from files "
            f"({MAX_SOURCE_BYTES / 1024**3:.0f} GiB); load it into a BigQuery table and name that table instead"
        )
    return sorted(blobs, key=lambda b: b.name)


def download_source(client: storage.Client, uri: str) -> list[tuple[str, bytes]]:
    """(gs:// URI, bytes) of every part of a file source."""
    return [(f"{GCS_SCHEME}{b.bucket.name}/{b.name}", b.download_as_bytes()) for b in list_source_files(client, uri)]


def profile_file_source(client: storage.Client, uri: str, *, sample_rows: int = 200) -> TableProfile:
    """Format, schema, statistics and a sample of a file source; raises FileSourceError/FileFormatError."""
    return build_file_profile(uri, download_source(client, uri), sample_rows=sample_rows)


def read_source_records(client: storage.Client, uri: str, fmt: FileFormat) -> list[dict[str, Any]]:
    """Every data row of every part, typed, in the form BigQuery returns rows as JSON."""
    records: list[dict[str, Any]] = []
    for name, data in download_source(client, uri):
        records.extend(read_records(data, fmt, name))
    return records


def output_file_names(source_uri: str, shards: int) -> list[str]:
    """Names of the synthetic files: the source's own name when it is one file written as one.

    With a wildcard source or several shards, the pattern's wildcard is
    replaced by the shard number (``orders_*.csv`` -> ``orders_00000.csv``), so the same
    wildcard reads the synthetic files.
    """
    pattern = PurePosixPath(split_uri(source_uri)[1]).name
    if shards == 1 and not _WILDCARD.search(pattern):
        return [pattern]
    if not _WILDCARD.search(pattern):
        stem, suffix = PurePosixPath(pattern).stem, PurePosixPath(pattern).suffix
        pattern = f"{stem}_*{suffix}"
    head = _WILDCARD.split(pattern, maxsplit=1)[0]
    tail = pattern[len(head) :].lstrip("*?")
    if tail.startswith("["):  # a character class: drop it whole
        tail = tail[tail.find("]") + 1 :]
    return [f"{head}{shard:05d}{tail.replace('*', '').replace('?', '')}" for shard in range(shards)]


def write_source_files(
    table: TablePlan, fmt: FileFormat, ndjson_files: Sequence[Path], output_dir: Path, run_date: dt.date
) -> list[tuple[Path, int]]:
    """Each generated NDJSON shard as a file in the source's format; returns (file, data rows).

    The rows are counted by parsing the written file back with the source's settings, so
    the count is also proof that a downstream reader with those settings gets every row.
    """
    names = output_file_names(table.source_table, len(ndjson_files))
    written: list[tuple[Path, int]] = []
    for ndjson, name in zip(ndjson_files, names, strict=True):
        data = write_records(iter_raw_rows(ndjson), fmt, run_date=run_date)
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


def custom_line_from_template(template: str, run_date: dt.date | None = None) -> CustomLine:
    """A custom line from a user's template: ``{count}``/``{count:07}`` and ``{date:%Y%m%d}``.

    The placeholders become fields that the writer rewrites per file, exactly like the
    record counts and dates recognised in a source's own header and trailer lines.
    """
    text, fields, position = "", [], 0
    sample_day = run_date or dt.date(2000, 1, 1)
    for match in _PLACEHOLDER.finditer(template):
        text += template[position : match.start()]
        kind, spec = match.group(1), match.group(2) or ""
        if kind == "count":
            if spec and not spec.isdigit():
                raise ValueError(f"custom line {template!r}: {{count:{spec}}} must be a width such as {{count:07}}")
            width = int(spec) if spec else 0
            placeholder, field = "0" * max(width, 1), LineField(kind="record_count", start=0, end=0, width=width)
        else:
            pattern = spec or "%Y-%m-%d"
            placeholder, field = sample_day.strftime(pattern), LineField(kind="date", start=0, end=0, format=pattern)
        fields.append(field.model_copy(update={"start": len(text), "end": len(text) + len(placeholder)}))
        text += placeholder
        position = match.end()
    return CustomLine(text=text + template[position:], fields=fields)


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
