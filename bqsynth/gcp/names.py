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
    return table_id.split(".")[0]
