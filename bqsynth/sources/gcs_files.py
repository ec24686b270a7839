"""Delimited files in Cloud Storage as sources: find them, profile and read them, streamed.

A file source is named by a ``gs://bucket/path`` URI, one file or a wildcard
(``gs://bucket/in/orders_*.csv``) whose files are the parts of one table. The format
itself (encoding, delimiter, quoting, header, custom header and trailer lines, value
spellings) is detected by :mod:`bqsynth.sources.delimited`; this module is the Cloud Storage
edge around it. Writing the synthetic files back in the source's format is delivery's
(:mod:`bqsynth.delivery.source_format_files`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from google.api_core import exceptions
from google.cloud import storage

from bqsynth.errors import SourceError
from bqsynth.gcp.uris import WILDCARD, gcs_uri, split_uri
from bqsynth.models import FileFormat, TableProfile
from bqsynth.sources.file_profile import ColumnNamer, profile_file_parts
from bqsynth.sources.file_stream import FilePart, PartTally, stream_file_rows
from bqsynth.sources.value_stats import StreamLimits


class FileSourceError(SourceError, ValueError):
    """A file source cannot be found or read; the message names the URI and what to do."""


def list_source_files(client: storage.Client, uri: str) -> list[storage.Blob]:
    """The objects a source URI names, in name order (the order of the parts of a table)."""
    bucket, pattern = split_uri(uri)
    match = WILDCARD.search(pattern)
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
    return sorted(blobs, key=lambda b: b.name)


def source_parts(client: storage.Client, uri: str, limits: StreamLimits | None = None) -> list[FilePart]:
    """Every part of a file source, each opened as a stream fetched ``download_bytes`` at a time."""
    download = (limits or StreamLimits()).download_bytes
    return [
        FilePart(gcs_uri(b.bucket.name, b.name), lambda b=b: b.open("rb", chunk_size=download))
        for b in list_source_files(client, uri)
    ]


def profile_file_source(
    client: storage.Client,
    uri: str,
    *,
    sample_rows: int = 200,
    limits: StreamLimits | None = None,
    namer: ColumnNamer | None = None,
) -> TableProfile:
    """Format, schema, statistics and a sample of a file source of any size, each part read once as a
    stream; raises FileSourceError/FileFormatError. ``namer``: see ``profile_file_parts``."""
    parts = source_parts(client, uri, limits)
    return profile_file_parts(uri, parts, sample_rows=sample_rows, limits=limits, namer=namer)


def iter_source_records(
    client: storage.Client, uri: str, fmt: FileFormat, limits: StreamLimits | None = None
) -> Iterator[dict[str, Any]]:
    """Every data row of every part, typed, in the form BigQuery returns rows as JSON, streamed."""
    limits = limits or StreamLimits()
    for part in source_parts(client, uri, limits):
        yield from stream_file_rows(
            part,
            fmt,
            PartTally(),
            trailer_count=len(fmt.trailer_lines),
            tolerated_ragged=fmt.ragged_rows,
            limits=limits,
        )
