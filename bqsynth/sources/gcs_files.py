"""Delimited files in Cloud Storage as sources: find them, download them, profile and read them.

A file source is named by a ``gs://bucket/path`` URI, one file or a wildcard
(``gs://bucket/in/orders_*.csv``) whose files are the parts of one table. The format
itself (encoding, delimiter, quoting, header, custom header and trailer lines, value
spellings) is detected by :mod:`bqsynth.sources.delimited`; this module is the Cloud Storage
edge around it. Writing the synthetic files back in the source's format is delivery's
(:mod:`bqsynth.delivery.source_format_files`).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from google.api_core import exceptions
from google.cloud import storage

from bqsynth.errors import SourceError
from bqsynth.gcp.uris import WILDCARD, gcs_uri, split_uri
from bqsynth.models import FileFormat, TableProfile
from bqsynth.sources.delimited import read_records
from bqsynth.sources.file_profile import build_file_profile

# Sources are parsed in memory; beyond this a BigQuery external table is the better tool.
MAX_SOURCE_BYTES = 2 * 1024**3


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
    total = sum(b.size or 0 for b in blobs)
    if total > MAX_SOURCE_BYTES:
        raise FileSourceError(
            f"file source {uri}: {total / 1024**3:.1f} GiB is more than bqsynth reads from files "
            f"({MAX_SOURCE_BYTES / 1024**3:.0f} GiB); load it into a BigQuery table and name that table instead"
        )
    return sorted(blobs, key=lambda b: b.name)


def download_source(client: storage.Client, uri: str) -> list[tuple[str, bytes]]:
    """(gs:// URI, bytes) of every part of a file source."""
    return [(gcs_uri(b.bucket.name, b.name), b.download_as_bytes()) for b in list_source_files(client, uri)]


def profile_file_source(client: storage.Client, uri: str, *, sample_rows: int = 200) -> TableProfile:
    """Format, schema, statistics and a sample of a file source; raises FileSourceError/FileFormatError."""
    return build_file_profile(uri, download_source(client, uri), sample_rows=sample_rows)


def read_source_records(client: storage.Client, uri: str, fmt: FileFormat) -> list[dict[str, Any]]:
    """Every data row of every part, typed, in the form BigQuery returns rows as JSON."""
    records: list[dict[str, Any]] = []
    for name, data in download_source(client, uri):
        records.extend(read_records(data, fmt, name))
    return records
