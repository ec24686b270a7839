"""Keep source values of identifying columns out of the output, provably.

Faked names and shaped identifiers can coincide with real ones by chance (Faker's
first names are the common first names). Before generating a table we fetch short
digests of the distinct source values of its identifying columns, computed inside
BigQuery, and the generator redraws any value whose digest is among them. Only
digests leave BigQuery, and only for the generating workers.

They are read once per table: a table of one shard reads them in its generate task; for a
table of several shards the plan step reads them and writes them once to the batch's folder
(``TableExclusions``), and every shard reads that object, so 40 shards are not 40 reads of
the source.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery, storage

from bqsynth.errors import BqsynthError
from bqsynth.gcp.sql import quote_column, quote_table, string_literal
from bqsynth.models import (
    DAY_TYPES,
    Categorical,
    ColumnPlan,
    FakerValue,
    FreeText,
    PatternString,
    RecordValue,
    ShapedText,
    StrictModel,
    TablePlan,
    TemporalFromQuantiles,
    Vocabulary,
    leaf_plans,
)
from bqsynth.sources.gcs_files import iter_source_records
from bqsynth.values import value_at

log = logging.getLogger(__name__)

DIGEST_HEX_CHARS = 16
# Above this many distinct values a column is excluded only in part; the generators' shapes
# (index-derived suffixes and digits) still make collisions vanishingly rare there.
MAX_EXCLUDED_VALUES = 1_000_000
_EXCLUDABLE = (FakerValue, PatternString, FreeText, ShapedText)


def value_digest(value: object) -> str:
    """The digest BigQuery computes as ``SUBSTR(TO_HEX(MD5(CAST(v AS STRING))), 1, 16)``."""
    return hashlib.md5(str(value).encode()).hexdigest()[:DIGEST_HEX_CHARS]


# An identifying date or time (a birth date in a DATE, DATETIME or TIMESTAMP: models.DAY_TYPES)
# is compared by its day: a synthetic birth "timestamp" on a real person's birthday is that birthday.


def exclusion_key(value: object, temporal_type: str = "") -> str:
    """What is compared with the source: the value, or the day (``YYYY-MM-DD``) of a date or time."""
    text = str(value)
    return text[:10] if temporal_type in DAY_TYPES else text


def vocabulary_without(
    values: Sequence[str], weights: Sequence[float], excluded: Collection[str]
) -> tuple[list[str], list[float]]:
    """A model-made vocabulary without the values whose digest is excluded (a source value the
    plan's check could not see, such as one outside the profile's sample) and without weightless ones."""
    kept = [
        (value, float(weight))
        for value, weight in zip(values, weights, strict=True)
        if weight > 0 and value_digest(value) not in excluded
    ]
    return [v for v, _ in kept], [w for _, w in kept]


def vocabulary_exhausted(column: str) -> str:
    """Why a vocabulary column cannot be generated: every value of it is a source value."""
    return (
        f"{column}: every value of its vocabulary is a value of the source column, so none may be emitted; "
        "plan the table again (llm=gemini proposes a new vocabulary, llm=offline uses invented words) "
        "or edit the column's generator in the plan"
    )


class IdentifyingPath(NamedTuple):
    """A leaf path whose source values must never come out, whether it sits in an array, and
    whether it is compared by its day (an identifying date or time)."""

    path: str
    in_array: bool
    by_day: bool = False


def identifying_paths(columns: list[ColumnPlan], prefix: str = "", repeated: bool = False) -> list[IdentifyingPath]:
    """Leaf paths of identifying, generated columns, and of every model-made vocabulary: its
    values were invented to be new, so one that is a source value is dropped here too."""
    paths: list[IdentifyingPath] = []
    for column in columns:
        path = f"{prefix}{column.name}"
        in_array = repeated or column.mode == "REPEATED"
        if isinstance(column.generator, RecordValue):
            paths += identifying_paths(column.generator.fields, f"{path}.", in_array)
            continue
        generator = getattr(column.generator, "element", column.generator)
        by_day = isinstance(generator, TemporalFromQuantiles) and generator.type in DAY_TYPES
        # A public column's values are kept as observed (a reference vocabulary): nothing to exclude;
        # a model-made vocabulary is always checked (none of its values may be a source value).
        if isinstance(generator, Vocabulary) or (
            column.identifying and not column.public and (isinstance(generator, _EXCLUDABLE) or by_day)
        ):
            paths.append(IdentifyingPath(path, in_array, by_day))
    return paths


def excluded_paths(columns: list[ColumnPlan]) -> list[IdentifyingPath]:
    """Leaf paths whose generators must never emit a source value: the identifying ones, and the
    categories whose suppressed values are replaced by values of their kind (``Categorical.other``:
    a replacement equal to a rare source value would emit it after all)."""
    replaced = [
        IdentifyingPath(path, False)
        for path, column in leaf_plans(columns).items()
        if isinstance(column.generator, Categorical) and column.generator.other is not None and not column.public
    ]
    return identifying_paths(columns) + replaced


def exclusion_sql(
    source_table: str, path: str, in_array: bool, limit: int = MAX_EXCLUDED_VALUES, by_day: bool = False
) -> str:
    """Distinct digests of one column's source values (array elements for repeated columns),
    of their day for a date or time (``by_day``)."""
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
    value = "CAST(DATE(v) AS STRING)" if by_day else "CAST(v AS STRING)"
    return (
        f"SELECT DISTINCT SUBSTR(TO_HEX(MD5({value})), 1, {DIGEST_HEX_CHARS}) AS d "
        f"FROM ({source}) WHERE v IS NOT NULL LIMIT {int(limit)}"
    )


def shared_values_sql(source_table: str, target_table: str, paths: list[IdentifyingPath]) -> str:
    """One row per identifying path: distinct target values that are also source values (by digest).

    The join happens in BigQuery, so no digest leaves it, and one query covers every column.
    """
    parts = [
        f"SELECT {string_literal(path)} AS path, COUNT(*) AS n "
        f"FROM ({exclusion_sql(target_table, path, in_array, by_day=by_day)})"
        f" INNER JOIN ({exclusion_sql(source_table, path, in_array, by_day=by_day)}) USING (d)"
        for path, in_array, by_day in paths
    ]
    return "\nUNION ALL\n".join(parts)


def present_digests_sql(table_id: str, path: str, digests: Collection[str]) -> str:
    """The given digests that are digests of values of a (non-repeated) column, over all its rows."""
    listed = ", ".join(string_literal(d) for d in sorted(digests))
    value = f"t.{quote_column(path)}"
    return (
        f"SELECT DISTINCT d FROM (SELECT SUBSTR(TO_HEX(MD5(CAST({value} AS STRING))), 1, {DIGEST_HEX_CHARS}) AS d "
        f"FROM {quote_table(table_id)} AS t WHERE {value} IS NOT NULL) WHERE d IN ({listed})"
    )


def present_digests(
    client: bigquery.Client, table_id: str, path: str, digests: Collection[str], max_bytes_billed: int
) -> set[str] | None:
    """Which of ``digests`` are values of the column (``present_digests_sql``); None if BigQuery refused
    the query (over the cost guard, say): the caller then knows only what the profile shows."""
    if not digests:
        return set()
    config = bigquery.QueryJobConfig(maximum_bytes_billed=max_bytes_billed)
    try:
        return {
            row["d"] for row in client.query(present_digests_sql(table_id, path, digests), job_config=config).result()
        }
    except GoogleAPIError as error:
        log.warning("%s.%s: the source values could not be checked: %s", table_id, path, error)
        return None


def all_digests_sql(table_id: str, paths: list[IdentifyingPath]) -> str:
    """``(path, d)`` rows: the digests of every identifying path of one table, in one query."""
    return "\nUNION ALL\n".join(
        f"SELECT {string_literal(path)} AS path, d FROM ({exclusion_sql(table_id, path, in_array, by_day=by_day)})"
        for path, in_array, by_day in paths
    )


def count_shared_values(
    client: bigquery.Client, source_table: str, target_table: str, columns: list[ColumnPlan]
) -> int:
    """Distinct values of the target's identifying columns found in the same source column."""
    paths = identifying_paths(columns)
    if not paths:
        return 0
    return sum(int(row["n"]) for row in client.query(shared_values_sql(source_table, target_table, paths)).result())


def fetch_digests(
    client: bigquery.Client, table_id: str, columns: list[ColumnPlan], paths: list[IdentifyingPath] | None = None
) -> dict[str, list[str]]:
    """Digests of the distinct values of the identifying columns of ``table_id`` (or of ``paths``), by leaf path."""
    paths = identifying_paths(columns) if paths is None else paths
    digests: dict[str, list[str]] = {p.path: [] for p in paths}
    if paths:
        for row in client.query(all_digests_sql(table_id, paths)).result():
            digests[row["path"]].append(row["d"])
    return {path: sorted(values) for path, values in digests.items()}


def fetch_exclusions(client: bigquery.Client, table: TablePlan) -> dict[str, list[str]]:
    """Digests of the source values the generator must never emit, by leaf path."""
    return fetch_digests(client, table.source_table, table.columns, excluded_paths(table.columns))


def exclusions_from_records(table: TablePlan, records: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The same digests as :func:`fetch_exclusions`, for a source read as rows (a file source)."""
    paths = excluded_paths(table.columns)
    digests: dict[str, set[str]] = {p.path: set() for p in paths}
    for record in records:
        for path, _, by_day in paths:
            value = value_at(dict(record), path)
            if value is not None:
                found = digests[path]
                found.add(value_digest(exclusion_key(value, "DATE" if by_day else "")))
                if len(found) > 2 * MAX_EXCLUDED_VALUES:
                    # Only the smallest digests are kept in the end: memory stays bounded on a large file.
                    digests[path] = set(sorted(found)[:MAX_EXCLUDED_VALUES])
    return {path: sorted(values)[:MAX_EXCLUDED_VALUES] for path, values in digests.items()}


def source_exclusions(table: TablePlan, bq: bigquery.Client, gcs: storage.Client | None) -> dict[str, list[str]]:
    """Digests of the source values of identifying columns: from BigQuery, or from the source files."""
    if table.file_format is not None:
        if gcs is None:
            raise ValueError(f"{table.source_table} is in Cloud Storage: pass a storage client to read it")
        # Streamed: only the digests are kept, never the rows.
        return exclusions_from_records(table, iter_source_records(gcs, table.source_table, table.file_format))
    return fetch_exclusions(bq, table)


def exclusion_spec(table: TablePlan) -> str:
    """A digest of what a table's exclusions are read from: its source and the paths excluded (with
    how each is read). Shards of the table compare it with the digests' own, so digests read for
    another source or other columns are never used."""
    paths = [list(p) for p in excluded_paths(table.columns)]
    text = json.dumps([table.name, table.source_table, paths], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_by_plan(table: TablePlan, shards: int) -> bool:
    """Whether the plan step reads ``table``'s exclusions for its shards: when it has several shards
    and a path to exclude. A table of one shard reads its own in its task, where file sources (always
    one shard, and a large file takes long to stream) are read in parallel with other tables."""
    return shards > 1 and bool(excluded_paths(table.columns))


class TableExclusions(StrictModel):
    """The digests one table's shards must never emit, read once from its source (by the plan step)
    and shared by every shard; or why they could not be read (``error``), which fails every shard."""

    table: str
    source_table: str
    spec: str  # exclusion_spec of the table they were read for
    digests: dict[str, list[str]] = {}
    error: str | None = None


class ExclusionsUnavailable(BqsynthError):
    """A shard of a table made in several shards found no usable digests of its source values, so it
    cannot prove that none is emitted: it fails rather than generate without them."""


def shared_exclusions(table: TablePlan, found: TableExclusions | None, where: str) -> dict[str, list[str]]:
    """The digests a shard of ``table`` uses from the plan step's object at ``where`` (``found``;
    None: absent), or the error that fails the shard."""
    again = "run the batch again; if it fails again, run the table in one shard (a larger shard_rows)"
    if found is None:
        raise ExclusionsUnavailable(
            f"the digests of the source values it must not emit are missing ({where}); the plan step "
            "writes them for a table of several shards",
            table=table.name,
            hint=again,
        )
    if found.error is not None:
        raise ExclusionsUnavailable(
            f"the plan step could not read the source values it must not emit: {found.error}",
            table=table.name,
            hint=again,
        )
    if (found.table, found.source_table, found.spec) != (table.name, table.source_table, exclusion_spec(table)):
        raise ExclusionsUnavailable(
            f"the digests at {where} were read for {found.table} from {found.source_table} (spec {found.spec}), "
            f"not for this plan's table from {table.source_table} (spec {exclusion_spec(table)})",
            table=table.name,
            hint=again,
        )
    return found.digests


def write_exclusions(exclusions: dict[str, list[str]], path: Path) -> None:
    path.write_text(json.dumps(exclusions))
