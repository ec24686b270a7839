"""BigQuery names and ids: valid names made from any text, and the parts of a table id.

Column names come from file headers and table names from file URIs, so both follow
BigQuery's rules here: ASCII letters, digits and underscores, no leading digit, unique
without regard to case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_EXTENSIONS = re.compile(r"\.(csv|tsv|psv|txt|dat|del|dsv|gz|gzip|bz2|zip)$", re.IGNORECASE)
_WILDCARDS = re.compile(r"\*|\?|\[[^\]]*\]")
# What is left of "sales_part*.csv" or "orders-0*.csv" once the wildcard is gone.
_SHARD_SUFFIX = re.compile(r"[_.-]*(part|chunk|shard|file)?[_.-]*\d*$", re.IGNORECASE)


def sanitize_name(text: str) -> str:
    """A BigQuery column name from header text: ASCII letters, digits, underscores; no leading digit."""
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    ascii_text = "".join(c for c in folded if not unicodedata.combining(c))
    name = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_text).strip("_")
    name = re.sub(r"_+", "_", name)
    if name and name[0].isdigit():
        name = f"col_{name}"
    return name[:300]


def unique_names(names: Sequence[str], fallbacks: Sequence[str]) -> list[str]:
    """Names made unique case-insensitively (BigQuery's rule) with ``_2``, ``_3`` suffixes."""
    seen: set[str] = set()
    result: list[str] = []
    for name, fallback in zip(names, fallbacks, strict=True):
        base = name or fallback
        candidate, n = base, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{base}_{n}"
        seen.add(candidate.lower())
        result.append(candidate)
    return result


def table_name_for_uri(uri: str) -> str:
    """A valid BigQuery table name for a file URI: ``gs://b/in/customers_*.csv`` -> ``customers``."""
    path = uri.split("://", 1)[-1].rstrip("/")
    parts = [p for p in path.split("/") if p]
    # The file name, else its folder, else the bucket: whichever still names something.
    for index, part in enumerate(reversed(parts)):
        stem = part
        while _EXTENSIONS.search(stem):
            stem = _EXTENSIONS.sub("", stem)
        if index == 0 and _WILDCARDS.search(stem):
            stem = _SHARD_SUFFIX.sub("", _WILDCARDS.sub("", stem))
        name = sanitize_name(stem).lower()
        if name.startswith("col_") and stem[:1].isdigit():
            name = "t_" + name[len("col_") :]
        if name:
            return name[:1024]
    return "file_table"


def project_of(table_id: str) -> str:
    """The project of ``project.dataset.table``."""
    return table_id.rsplit(".", 2)[0]


# BigQuery: dataset names are letters, digits and underscores, at most 1024 characters.
_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
# BigQuery table names: Unicode letters, marks, numbers, connectors, dashes and spaces, <= 1024 bytes.
_TABLE = re.compile(r"^[\w\- ]+$")
# Project ids: lowercase letters, digits and hyphens, starting with a letter; optionally
# domain-scoped (example.com:project).
_PROJECT = re.compile(r"^([a-z0-9.-]+:)?[a-z][a-z0-9-]*$")
# GCS buckets: lowercase letters, digits, dashes, underscores and dots, starting and ending
# with a letter or digit; 3-63 characters (222 with dots, 63 between dots).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9_.-]*[a-z0-9]$")
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def dataset_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid BigQuery dataset name, or None."""
    if not _DATASET.match(name):
        return f"{name!r} is not a BigQuery dataset name: use letters, digits and underscores only (at most 1024)"
    return None


def table_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid BigQuery table name, or None."""
    if not _TABLE.match(name) or len(name.encode()) > 1024:
        return (
            f"{name!r} is not a BigQuery table name: use letters, digits, underscores, dashes and spaces "
            "(at most 1024 bytes)"
        )
    return None


def project_id_problem(project: str) -> str | None:
    """Why ``project`` is not a Google Cloud project id, or None."""
    if not _PROJECT.match(project) or project.endswith("-"):
        return (
            f"{project!r} is not a project id: lowercase letters, digits and hyphens, starting with a letter "
            "(the project ID, not its display name)"
        )
    return None


def table_id_problem(table_id: str) -> str | None:
    """Why ``table_id`` is not ``project.dataset.table`` with valid parts, or None."""
    parts = table_id.rsplit(".", 2)  # a domain-scoped project (example.com:proj) has dots of its own
    if len(parts) != 3 or not all(parts) or "." in parts[0].split(":")[-1]:
        return f"{table_id!r} must be fully qualified as project.dataset.table"
    project, dataset, table = parts
    return project_id_problem(project) or dataset_name_problem(dataset) or table_name_problem(table)


def bucket_name_problem(bucket: str) -> str | None:
    """Why ``bucket`` is not a valid GCS bucket name, or None (the name only, without gs://)."""
    longest = 222 if "." in bucket else 63
    if bucket.startswith("gs://"):
        return f"{bucket!r}: give the bucket name without gs://"
    if not 3 <= len(bucket) <= longest or not _BUCKET.match(bucket) or any(len(p) > 63 for p in bucket.split(".")):
        return (
            f"{bucket!r} is not a GCS bucket name: 3-63 lowercase letters, digits, dashes, underscores or dots, "
            "starting and ending with a letter or digit"
        )
    if bucket.startswith("goog") or "google" in bucket:
        return f"{bucket!r}: GCS refuses bucket names that start with goog or contain google"
    return None


def batch_id_problem(batch_id: str) -> str | None:
    """Why ``batch_id`` cannot name a batch (it is part of GCS paths and audit rows), or None."""
    if not _BATCH_ID.match(batch_id):
        return (
            f"{batch_id!r} is not a batch id: use letters, digits, dashes and underscores (at most 64, "
            "starting with a letter or digit), e.g. 2026-12-nightly"
        )
    return None
