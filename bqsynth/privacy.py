"""Keep source values of identifying columns out of the output, provably.

Faked names and shaped identifiers can coincide with real ones by chance (Faker's
first names are the common first names). Before generating a table we fetch short
digests of the distinct source values of its identifying columns, computed inside
BigQuery, and the generator redraws any value whose digest is among them. Only
digests leave BigQuery, and only for the generating worker.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from google.cloud import bigquery

from bqsynth.models import ColumnPlan, FakerValue, FreeText, PatternString, RecordValue, TablePlan
from bqsynth.sql import quote_column, quote_table

DIGEST_HEX_CHARS = 16
# Above this many distinct values a column is excluded only in part; the generators' shapes
# (index-derived suffixes and digits) still make collisions vanishingly rare there.
MAX_EXCLUDED_VALUES = 1_000_000
_EXCLUDABLE = (FakerValue, PatternString, FreeText)


def value_digest(value: object) -> str:
    """The digest BigQuery computes as ``SUBSTR(TO_HEX(MD5(CAST(v AS STRING))), 1, 16)``."""
    return hashlib.md5(str(value).encode()).hexdigest()[:DIGEST_HEX_CHARS]


def identifying_paths(columns: list[ColumnPlan], prefix: str = "", repeated: bool = False) -> list[tuple[str, bool]]:
    """Leaf paths of identifying, generated columns, with whether they sit in an array."""
    paths: list[tuple[str, bool]] = []
    for column in columns:
        path = f"{prefix}{column.name}"
        in_array = repeated or column.mode == "REPEATED"
        if isinstance(column.generator, RecordValue):
            paths += identifying_paths(column.generator.fields, f"{path}.", in_array)
            continue
        generator = getattr(column.generator, "element", column.generator)
        if column.identifying and isinstance(generator, _EXCLUDABLE):
            paths.append((path, in_array))
    return paths


def exclusion_sql(source_table: str, path: str, in_array: bool, limit: int = MAX_EXCLUDED_VALUES) -> str:
    """Distinct digests of one column's source values (array elements for repeated columns)."""
    if in_array and "." not in path:
        source = f"SELECT v FROM {quote_table(source_table)} AS t, UNNEST(t.{quote_column(path)}) AS v"
    elif in_array:
        # An array of records (or a record holding an array): flatten the first repeated level.
        head, _, rest = path.partition(".")
        source = (
            f"SELECT e.{quote_column(rest)} AS v "
            f"FROM {quote_table(source_table)} AS t, UNNEST(t.{quote_column(head)}) AS e"
        )
    else:
        source = f"SELECT t.{quote_column(path)} AS v FROM {quote_table(source_table)} AS t"
    return (
        f"SELECT DISTINCT SUBSTR(TO_HEX(MD5(CAST(v AS STRING))), 1, {DIGEST_HEX_CHARS}) AS d "
        f"FROM ({source}) WHERE v IS NOT NULL LIMIT {int(limit)}"
    )


def fetch_exclusions(client: bigquery.Client, table: TablePlan) -> dict[str, list[str]]:
    """Digests of the source values the generator must never emit, by leaf path."""
    return {
        path: sorted(row["d"] for row in client.query(exclusion_sql(table.source_table, path, in_array)).result())
        for path, in_array in identifying_paths(table.columns)
    }


def write_exclusions(exclusions: dict[str, list[str]], path: Path) -> None:
    path.write_text(json.dumps(exclusions))
