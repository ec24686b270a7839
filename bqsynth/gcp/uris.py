"""Cloud Storage URIs: ``gs://bucket/object``, the names of file sources and of the files written.

Pure string handling, so that configuration can validate a file source without the clients.
"""

from __future__ import annotations

import re

GCS_SCHEME = "gs://"
# A source's object name may be a pattern (orders_*.csv): the parts of one table.
WILDCARD = re.compile(r"[*?\[]")


def is_file_source(source: str) -> bool:
    """Whether a source names delimited files in Cloud Storage (else it is a BigQuery table)."""
    return source.startswith(GCS_SCHEME)


def split_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/a/b*.csv`` -> ``("bucket", "a/b*.csv")``."""
    bucket, _, name = uri.removeprefix(GCS_SCHEME).partition("/")
    if not is_file_source(uri) or not bucket or not name:
        raise ValueError(f"file source {uri!r} must name a bucket and an object: gs://bucket/path/file.csv")
    return bucket, name


def gcs_uri(bucket: str, name: str) -> str:
    return f"{GCS_SCHEME}{bucket}/{name}"
