"""Stage 1: discover and profile one BigQuery source table.

Everything heavy runs inside BigQuery, so profiling scales with BigQuery, not with the
worker: one statistics query per table (split only for very wide tables), one
INFORMATION_SCHEMA query for declared keys and one bounded sample query.

``TableProfile.stats`` has one entry per column path, in schema order:

* every leaf (``address.city`` for a RECORD sub-field) with null, distinct, top-value,
  quantile, min/max, length and scale statistics as its type allows;
* every RECORD column (``address``) with its row and null counts only, because the
  planner needs to know how often a whole record is NULL.

A REPEATED column's value statistics describe its elements (``row_count`` is then the
number of elements) and ``array_length_counts`` the distribution of array lengths; for a
REPEATED RECORD the lengths sit on the record's own entry, the element statistics on its
leaves.

The SQL is built and parsed by pure functions (``build_stats_query``, ``parse_stats``,
``build_keys_query``, ``keys_from_constraint_rows``, ``build_sample_query``) so that
they are tested without BigQuery; ``profile_table`` only runs them.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import math
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from dateutil.relativedelta import relativedelta
from google.api_core.exceptions import BadRequest, Forbidden, GoogleAPIError, NotFound
from google.cloud import bigquery

from bqsynth.errors import SourceError, error_text
from bqsynth.gcp import sql
from bqsynth.gcp.schema import columns_from_bigquery
from bqsynth.models import ColumnSchema, ColumnStats, ForeignKey, Scalar, TableProfile, ValueCount
from bqsynth.values import interval_text

log = logging.getLogger(__name__)

# Table and UNNEST aliases unlikely to collide with a column name (a column called ``t``
# would otherwise shadow the row in ``TO_JSON_STRING(t)``).
ROW_ALIAS = "bqsynth_t"
UNNEST_ALIAS = "bqsynth_u"

DISTINCT_TYPES = frozenset(
    {"STRING", "INT64", "NUMERIC", "BIGNUMERIC", "FLOAT64", "BOOL", "DATE", "DATETIME", "TIMESTAMP", "TIME"}
)
# Top values only where a categorical reading is plausible; continuous types use quantiles.
TOP_VALUE_TYPES = frozenset({"STRING", "INT64", "BOOL", "DATE"})
QUANTILE_TYPES = frozenset({"INT64", "NUMERIC", "BIGNUMERIC", "FLOAT64", "DATE", "DATETIME", "TIMESTAMP", "TIME"})
MIN_MAX_TYPES = QUANTILE_TYPES | {"BOOL"}
# LENGTH counts characters of a STRING and bytes of a BYTES value.
LENGTH_TYPES = frozenset({"STRING", "BYTES"})
# Highest scale tested per type: NUMERIC and BIGNUMERIC store at most 9 and 38 decimals; a
# FLOAT64 with more than 12 decimals is treated as continuous, not as a fixed-point amount.
SCALE_LIMITS = {"NUMERIC": 9, "BIGNUMERIC": 38, "FLOAT64": 12}

# Array lengths are few in practice; 100 buckets keep the distribution of any sane array.
ARRAY_LENGTH_BUCKETS = 100
# BigQuery limits query text and the number of expressions; a few hundred columns per query is safe.
MAX_COLUMNS_PER_QUERY = 300
# Below this many rows a full scan for the sample is cheap, and TABLESAMPLE (block based)
# may return nothing at all; above it, sample blocks first.
TABLESAMPLE_MIN_ROWS = 1_000_000
TABLESAMPLE_OVERSAMPLING = 50
# A sampled statistics query that read fewer rows than this is read again at twice the percent.
MIN_SAMPLED_ROWS = 10_000

REQUIRED_ROLES = "roles/bigquery.dataViewer on the table (or its dataset) and roles/bigquery.jobUser"


class ProfileError(SourceError):
    """A source table could not be profiled; the message says which table and what to do."""


class DeclaredKeys(NamedTuple):
    primary_key: list[str]
    foreign_keys: list[ForeignKey]


# ---------------------------------------------------------------------------------------------
# Names and values
# ---------------------------------------------------------------------------------------------


def table_name(table_id: str) -> str:
    """The short name of ``project.dataset.table``: ``table``."""
    return table_id.replace(":", ".").rsplit(".", 1)[-1]


def qualified_table_id(table_id: str, default_project: str | None = None) -> str:
    """``project.dataset.table`` for ``dataset.table`` (in ``default_project``) or a full id."""
    try:
        ref = bigquery.TableReference.from_string(table_id, default_project=default_project)
    except ValueError as error:
        raise ProfileError(f"Source table {table_id!r} is not a valid table id: use project.dataset.table") from error
    return f"{ref.project}.{ref.dataset_id}.{ref.table_id}"


def _quote_qualified_table(table_id: str) -> str:
    """A table id, completed with the default project when it has none, quoted for SQL."""
    return sql.quote_table(qualified_table_id(table_id))


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy of a value returned by the BigQuery client.

    Dates and times become ISO strings, Decimals floats, bytes base64, non-finite floats
    None (JSON has no NaN); records and arrays keep their shape as dicts and lists.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return json_safe(float(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, relativedelta):
        return _interval(value)
    # Future types: their text form is still informative.
    return str(value)


def _interval(value: relativedelta) -> str:
    """The client's relativedelta of an INTERVAL as BigQuery's canonical text."""
    seconds = value.hours * 3600 + value.minutes * 60 + value.seconds
    return interval_text(value.years * 12 + value.months, value.days, seconds * 1_000_000 + value.microseconds)


def _stat_scalar(value: Any) -> Scalar:
    safe = json_safe(value)
    return safe if safe is None or isinstance(safe, (str, int, float, bool)) else str(safe)


# ---------------------------------------------------------------------------------------------
# Column statistics: one query per table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsTarget:
    """One column path to profile, and where its values are visible in SQL.

    ``scan`` lists the REPEATED paths that must be unnested to see single values
    (``()`` means the table's own rows). A REPEATED column's whole array is visible one
    level up, in ``array_scan`` as ``array_expr``: that is where its lengths are counted.
    """

    alias: str
    path: str
    column: ColumnSchema
    scan: tuple[str, ...]
    expr: str
    array_scan: tuple[str, ...] | None = None
    array_expr: str | None = None


def stats_targets(columns: Sequence[ColumnSchema]) -> list[StatsTarget]:
    """Every column path in schema order (RECORD columns before their fields)."""
    targets: list[StatsTarget] = []
    _collect_targets(columns, prefix="", parent_expr=ROW_ALIAS, scan=(), out=targets)
    return targets


def _collect_targets(
    columns: Sequence[ColumnSchema],
    prefix: str,
    parent_expr: str,
    scan: tuple[str, ...],
    out: list[StatsTarget],
) -> None:
    for column in columns:
        path = f"{prefix}{column.name}"
        expr = f"{parent_expr}.{sql.quote_identifier(column.name)}"
        alias = f"c{len(out)}"
        if column.is_repeated:
            element_scan = (*scan, path)
            element = f"{UNNEST_ALIAS}{len(element_scan)}"
            target = StatsTarget(alias, path, column, element_scan, element, array_scan=scan, array_expr=expr)
        else:
            target = StatsTarget(alias, path, column, scan, expr)
        out.append(target)
        if column.is_record:
            _collect_targets(column.fields, f"{path}.", target.expr, target.scan, out)


def build_stats_query(
    table_id: str,
    columns: Sequence[ColumnSchema],
    top_k: int = 20,
    quantiles: int = 20,
    paths: Collection[str] | None = None,
    counts_only: bool = False,
    percent: int | None = None,
) -> str:
    """One SQL statement returning one row: ``row_count`` plus a STRUCT per column path.

    Each scan (the table itself, or the table with some arrays unnested) is an aggregate
    subquery returning one row; the subqueries are cross joined, so the table is read once
    per distinct REPEATED path rather than once per column. ``paths`` restricts the query
    to some column paths (aliases stay those of the full schema, so ``parse_stats`` reads
    partial rows unchanged). ``counts_only`` keeps only row and null counts, the fallback for
    a column whose other aggregates BigQuery refuses. ``percent`` reads a TABLESAMPLE of the
    table (a table too large to scan whole); the counts are then the sample's.
    """
    targets = stats_targets(columns)
    by_path = {target.path: target for target in targets}
    scans: dict[tuple[str, ...], list[str]] = {(): ["COUNT(*) AS row_count"]}
    for target in targets:
        if paths is not None and target.path not in paths:
            continue
        scans.setdefault(target.scan, []).append(value_stats_sql(target, top_k, quantiles, counts_only))
        if target.array_scan is not None:
            scans.setdefault(target.array_scan, []).append(array_length_sql(target))
    table = _quote_qualified_table(table_id)
    separator = ",\n    "
    subqueries = [
        f"(\n  SELECT\n    {separator.join(items)}\n  FROM {_scan_from(table, scan, by_path, percent)}\n) AS s{number}"
        for number, (scan, items) in enumerate(scans.items())
    ]
    return "SELECT *\nFROM " + "\nCROSS JOIN ".join(subqueries)


def _scan_from(
    table: str, scan: tuple[str, ...], by_path: Mapping[str, StatsTarget], percent: int | None = None
) -> str:
    sampling = f" TABLESAMPLE SYSTEM ({int(percent)} PERCENT)" if percent else ""
    joins = [f"{table} AS {ROW_ALIAS}{sampling}"]
    for depth, path in enumerate(scan, start=1):
        joins.append(f"CROSS JOIN UNNEST({by_path[path].array_expr}) AS {UNNEST_ALIAS}{depth}")
    return " ".join(joins)


def value_stats_sql(target: StatsTarget, top_k: int, quantiles: int, counts_only: bool = False) -> str:
    """``STRUCT(...) AS cN`` with the aggregates that the column's type supports."""
    expr, kind = target.expr, target.column.type
    items = ["COUNT(*) AS row_count", f"COUNTIF({expr} IS NULL) AS null_count"]
    if counts_only:
        return f"STRUCT({', '.join(items)}) AS {target.alias}"
    if kind in DISTINCT_TYPES:
        items.append(f"APPROX_COUNT_DISTINCT({expr}) AS distinct_count")
    if kind in TOP_VALUE_TYPES:
        # APPROX_TOP_COUNT counts NULL as a value: ask for one more and drop it when parsing.
        items.append(f"APPROX_TOP_COUNT({expr}, {top_k + 1}) AS top_values")
    if kind in QUANTILE_TYPES:
        items.append(f"APPROX_QUANTILES({expr}, {quantiles}) AS quantiles")
    if kind in MIN_MAX_TYPES:
        items.extend([f"MIN({expr}) AS min_value", f"MAX({expr}) AS max_value"])
    if kind in LENGTH_TYPES:
        items.extend(
            [
                f"MIN(LENGTH({expr})) AS min_length",
                f"MAX(LENGTH({expr})) AS max_length",
                f"AVG(LENGTH({expr})) AS avg_length",
            ]
        )
    if kind in SCALE_LIMITS:
        items.append(f"MAX({scale_sql(expr, kind)}) AS max_scale")
    return f"STRUCT({', '.join(items)}) AS {target.alias}"


def scale_sql(expr: str, kind: str) -> str:
    """The number of decimals of one value: the smallest k at which cutting to k decimals keeps it.

    Arithmetic rather than text, because NUMERIC renders with a fixed 9 decimals on some
    engines ('1.250000000') and FLOAT64 may render in exponent form ('1e-07').
    """
    limit = SCALE_LIMITS[kind]
    if kind == "FLOAT64":
        # ROUND, not TRUNC: binary floats sit just below their decimal value (1.005 * 100 is
        # 100.4999...). Doubles of 1e15 and more have no fraction, and scaling them could overflow.
        cut = "ROUND"
        first = f"WHEN {expr} IS NULL OR IS_NAN({expr}) OR IS_INF({expr}) THEN NULL WHEN ABS({expr}) >= 1e15 THEN 0"
    else:
        # Decimal types are exact, and TRUNC (unlike ROUND) cannot overflow at the type's maximum.
        cut = "TRUNC"
        first = f"WHEN {expr} IS NULL THEN NULL"
    steps = " ".join(f"WHEN {expr} = {cut}({expr}, {k}) THEN {k}" for k in range(limit))
    return f"CASE {first} {steps} ELSE {limit} END"


def array_length_sql(target: StatsTarget) -> str:
    # A NULL array (possible inside a NULL record) reads back as an empty one.
    return (
        f"APPROX_TOP_COUNT(IFNULL(ARRAY_LENGTH({target.array_expr}), 0), {ARRAY_LENGTH_BUCKETS})"
        f" AS {target.alias}_lengths"
    )


def parse_stats(row: Mapping[str, Any], columns: Sequence[ColumnSchema], top_k: int = 20) -> dict[str, ColumnStats]:
    """``ColumnStats`` per column path from the row of ``build_stats_query`` (JSON-safe values)."""
    stats: dict[str, ColumnStats] = {}
    for target in stats_targets(columns):
        values = row.get(target.alias)
        if values is None:
            continue
        stats[target.path] = ColumnStats(
            path=target.path,
            type=target.column.type,
            row_count=int(values["row_count"]),
            null_count=int(values["null_count"]),
            distinct_count=int(values.get("distinct_count") or 0),
            top_values=top_values(values.get("top_values"), top_k),
            quantiles=[_stat_scalar(value) for value in values.get("quantiles") or []],
            min_value=_stat_scalar(values.get("min_value")),
            max_value=_stat_scalar(values.get("max_value")),
            min_length=_optional_int(values.get("min_length")),
            max_length=_optional_int(values.get("max_length")),
            avg_length=_optional_float(values.get("avg_length")),
            max_scale=_optional_int(values.get("max_scale")),
            array_length_counts=length_counts(row.get(f"{target.alias}_lengths")),
        )
    return stats


def top_values(raw: Iterable[Mapping[str, Any]] | None, top_k: int) -> list[ValueCount]:
    """Non-NULL values by descending count (NULLs are already in ``null_count``)."""
    counts = [ValueCount(value=_stat_scalar(item["value"]), count=int(item["count"])) for item in raw or []]
    counts = [item for item in counts if item.value is not None]
    return sorted(counts, key=lambda item: -item.count)[:top_k]


def length_counts(raw: Iterable[Mapping[str, Any]] | None) -> list[ValueCount]:
    """Array lengths in increasing order: a distribution, not a ranking."""
    pairs = sorted((int(item["value"]), int(item["count"])) for item in raw or [])
    return [ValueCount(value=length, count=count) for length, count in pairs]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------------------------------------
# Declared keys
# ---------------------------------------------------------------------------------------------


def build_keys_query(table_id: str) -> str:
    """Constraint columns of one table (``@table_name``) with, for foreign keys, the referenced ones.

    A composite foreign key yields one row per (child column, referenced column) pair;
    ``keys_from_constraint_rows`` folds them back.
    """
    project, dataset, _ = qualified_table_id(table_id).split(".")
    schema = f"{project}.{dataset}.INFORMATION_SCHEMA"
    return f"""SELECT
  tc.constraint_name, tc.constraint_type, k.column_name, k.ordinal_position,
  c.table_catalog AS ref_project, c.table_schema AS ref_dataset, c.table_name AS ref_table,
  c.column_name AS ref_column
FROM {sql.quote_identifier(schema + ".TABLE_CONSTRAINTS")} AS tc
JOIN {sql.quote_identifier(schema + ".KEY_COLUMN_USAGE")} AS k
  ON k.constraint_name = tc.constraint_name AND k.table_name = tc.table_name
LEFT JOIN {sql.quote_identifier(schema + ".CONSTRAINT_COLUMN_USAGE")} AS c
  ON c.constraint_name = tc.constraint_name AND tc.constraint_type = 'FOREIGN KEY'
WHERE tc.table_name = @table_name
ORDER BY tc.constraint_name, k.ordinal_position"""


def keys_from_constraint_rows(rows: Iterable[Mapping[str, Any]]) -> DeclaredKeys:
    """Primary key (in key order) and foreign keys from the rows of ``build_keys_query``.

    CONSTRAINT_COLUMN_USAGE does not say which referenced column pairs with which child
    column, so composite foreign keys keep the order the view returned; ``merge_declared_keys``
    corrects it from the table metadata.
    """
    primary: dict[str, int] = {}
    foreign: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["constraint_type"] == "PRIMARY KEY":
            primary.setdefault(row["column_name"], int(row["ordinal_position"]))
        elif row["constraint_type"] == "FOREIGN KEY" and row.get("ref_table"):
            key = foreign.setdefault(
                row["constraint_name"],
                {
                    "table": f"{row['ref_project']}.{row['ref_dataset']}.{row['ref_table']}",
                    "cols": {},
                    "refs": [],
                },
            )
            key["cols"].setdefault(row["column_name"], int(row["ordinal_position"]))
            if row["ref_column"] not in key["refs"]:
                key["refs"].append(row["ref_column"])
    return DeclaredKeys(
        primary_key=sorted(primary, key=primary.__getitem__),
        foreign_keys=[
            ForeignKey(
                columns=sorted(key["cols"], key=key["cols"].__getitem__),
                referenced_table=key["table"],
                referenced_columns=key["refs"],
            )
            for key in foreign.values()
        ],
    )


def keys_from_table_constraints(constraints: bigquery.table.TableConstraints | None) -> DeclaredKeys:
    """Declared keys from ``get_table().table_constraints`` (exact column pairs)."""
    if constraints is None:
        return DeclaredKeys([], [])
    primary = list(constraints.primary_key.columns) if constraints.primary_key else []
    foreign = [
        ForeignKey(
            columns=[pair.referencing_column for pair in key.column_references],
            referenced_table=f"{key.referenced_table.project}.{key.referenced_table.dataset_id}."
            f"{key.referenced_table.table_id}",
            referenced_columns=[pair.referenced_column for pair in key.column_references],
        )
        for key in constraints.foreign_keys or []
    ]
    return DeclaredKeys(primary, foreign)


def merge_declared_keys(from_views: DeclaredKeys | None, from_metadata: DeclaredKeys) -> DeclaredKeys:
    """INFORMATION_SCHEMA's keys, with composite foreign keys paired from the table metadata.

    ``from_views`` is None when the views could not be read (they need
    bigquery.tables.list on the dataset, which a table-level grant lacks): the metadata
    then stands alone.
    """
    if from_views is None:
        return from_metadata
    return DeclaredKeys(
        primary_key=from_views.primary_key or from_metadata.primary_key,
        foreign_keys=[_paired(key, from_metadata.foreign_keys) for key in from_views.foreign_keys],
    )


def _paired(key: ForeignKey, candidates: Sequence[ForeignKey]) -> ForeignKey:
    for candidate in candidates:
        if candidate.referenced_table == key.referenced_table and set(candidate.columns) == set(key.columns):
            return candidate
    return key


# ---------------------------------------------------------------------------------------------
# Sample
# ---------------------------------------------------------------------------------------------


def sample_percent(row_count: int, sample_rows: int) -> int | None:
    """TABLESAMPLE percentage for a large table, or None to read the whole table.

    Whole percents only: the local emulator rejects fractional ones. Block sampling is
    cheap but not deterministic, hence only for tables where a full scan would cost.
    """
    if sample_rows <= 0 or row_count < max(TABLESAMPLE_MIN_ROWS, 100 * sample_rows):
        return None
    percent = math.ceil(100 * sample_rows * TABLESAMPLE_OVERSAMPLING / row_count)
    return percent if percent < 100 else None


def build_sample_query(table_id: str, sample_rows: int, percent: int | None = None) -> str:
    """Up to ``sample_rows`` rows in a deterministic pseudo-random order.

    Ordering by a fingerprint of the whole row gives the same sample on every run without
    needing a key column, and spreads it over the table instead of taking its first block.
    """
    sampling = f" TABLESAMPLE SYSTEM ({percent} PERCENT)" if percent else ""
    return (
        f"SELECT * FROM {_quote_qualified_table(table_id)} AS {ROW_ALIAS}{sampling}\n"
        f"ORDER BY FARM_FINGERPRINT(TO_JSON_STRING({ROW_ALIAS}))\nLIMIT {int(sample_rows)}"
    )


# ---------------------------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------------------------


def not_found_message(table_id: str) -> str:
    return (
        f"Source table {table_id} was not found: check the project, dataset and table name, "
        "and that the runner can read it"
    )


def permission_message(table_id: str, job_project: str, error: GoogleAPIError) -> str:
    return (
        f"The runner may not read source table {table_id}: grant its service account {REQUIRED_ROLES} "
        f"on project {job_project} (BigQuery said: {error_text(error)})"
    )


@contextmanager
def _translated_errors(table_id: str, job_project: str) -> Iterator[None]:
    """Turn client errors into ``ProfileError`` messages that name the table and the remedy."""
    try:
        yield
    except ProfileError:
        raise
    except NotFound as error:
        raise ProfileError(not_found_message(table_id)) from error
    except Forbidden as error:
        raise ProfileError(permission_message(table_id, job_project, error)) from error
    except GoogleAPIError as error:
        raise ProfileError(f"Profiling source table {table_id} failed: {error_text(error)}", table=table_id) from error


class ProfileBudget(NamedTuple):
    """What profiling one table may cost (``RunConfig.maximum_bytes_billed`` and ``profile_full_scan_bytes``)."""

    full_scan_bytes: int = 10 << 30
    maximum_bytes_billed: int = 100 << 30


DEFAULT_BUDGET = ProfileBudget()


def stats_sample_percent(estimated_bytes: int, budget: ProfileBudget) -> int | None:
    """The TABLESAMPLE percent that brings the statistics scan to about ``full_scan_bytes``,
    or None to read every row. Whole percents only (the emulator rejects fractions)."""
    if estimated_bytes <= budget.full_scan_bytes:
        return None
    return max(1, math.ceil(100 * budget.full_scan_bytes / estimated_bytes))


def scanned_bytes(estimated_bytes: int, percent: int | None) -> int:
    """Bytes a scan of ``percent`` of the table reads (block sampling bills the blocks it reads)."""
    return estimated_bytes if percent is None else math.ceil(estimated_bytes * percent / 100)


def over_budget_message(table_id: str, estimated_bytes: int, percent: int | None, budget: ProfileBudget) -> str | None:
    """Why profiling ``table_id`` is refused, or None when its scan fits ``maximum_bytes_billed``."""
    scanned = scanned_bytes(estimated_bytes, percent)
    if scanned <= budget.maximum_bytes_billed:
        return None
    read = f"a {percent}% TABLESAMPLE of it" if percent else "every row"
    return (
        f"Profiling source table {table_id} would scan about {_gib(scanned)} ({read}; the table's statistics "
        f"queries read {_gib(estimated_bytes)}), more than maximum_bytes_billed={budget.maximum_bytes_billed} "
        f"({_gib(budget.maximum_bytes_billed)}). Raise maximum_bytes_billed on purpose, or lower "
        "profile_full_scan_bytes so that the statistics come from a smaller sample"
    )


def _gib(size: int) -> str:
    return f"{size / (1 << 30):,.2f} GiB"


class _Queries:
    """The queries profiling runs on one table: each one billed at most ``maximum_bytes_billed``
    (BigQuery then fails it rather than bill more), the bytes they processed summed."""

    def __init__(self, client: bigquery.Client, maximum_bytes_billed: int) -> None:
        self.client = client
        self.maximum_bytes_billed = maximum_bytes_billed
        self.bytes_processed = 0

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        config = bigquery.QueryJobConfig(query_parameters=list(params), maximum_bytes_billed=self.maximum_bytes_billed)
        job = self.client.query(sql, job_config=config)
        rows = [dict(row.items()) for row in job.result()]
        self.bytes_processed += int(job.total_bytes_processed or 0)
        return rows

    def estimate(self, sql: str) -> int:
        """The bytes ``sql`` would process, from a dry run (free); 0 when BigQuery does not say."""
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        return int(self.client.query(sql, job_config=config).total_bytes_processed or 0)


def profile_table(
    client: bigquery.Client,
    table_id: str,
    *,
    sample_rows: int = 200,
    top_k: int = 20,
    quantiles: int = 20,
    budget: ProfileBudget = DEFAULT_BUDGET,
) -> TableProfile:
    """Schema, declared keys, column statistics and a bounded sample of one BigQuery table.

    The statistics queries are estimated first (a dry run; the table's size where BigQuery
    gives no estimate, as the emulator does): above ``budget.full_scan_bytes`` they read a
    TABLESAMPLE, and past ``budget.maximum_bytes_billed`` the table is refused. Raises
    ``ProfileError`` (naming the table, and the column when one is at fault) when the table
    cannot be read or profiled.
    """
    if sample_rows < 0 or top_k < 1 or quantiles < 1:
        raise ValueError("sample_rows must be >= 0, top_k and quantiles >= 1")
    full_id = qualified_table_id(table_id, client.project)
    started = time.monotonic()
    queries = _Queries(client, budget.maximum_bytes_billed)
    with _translated_errors(full_id, client.project):
        table = client.get_table(full_id)
        columns = columns_from_bigquery(table.schema)
        keys = merge_declared_keys(
            _keys_from_views(queries, full_id), keys_from_table_constraints(table.table_constraints)
        )
        chunks = _stats_chunks(columns)
        estimated = sum(queries.estimate(build_stats_query(full_id, columns, top_k, quantiles, c)) for c in chunks)
        estimated = estimated or int(table.num_bytes or 0)
        # TABLESAMPLE reads tables only: a view or an external table is read whole, within the guard.
        percent = stats_sample_percent(estimated, budget) if table.table_type in (None, "TABLE") else None
        refusal = over_budget_message(full_id, estimated, percent, budget)
        if refusal:
            raise ProfileError(refusal, table=full_id)
        scan = (estimated, budget.maximum_bytes_billed)
        row_count, stats, percent = _column_stats(queries, full_id, columns, top_k, quantiles, percent, scan)
        if percent is not None:
            # The statistics are the sample's; the table's row count is exact (free on BigQuery).
            row_count = int(
                queries.rows(f"SELECT COUNT(*) AS row_count FROM {_quote_qualified_table(full_id)}")[0]["row_count"]
            )
        sample = _read_sample(queries, full_id, row_count, sample_rows, percent)
    log.info(
        "profiled %s: %d rows, %d columns in %.2f s, %d bytes processed%s",
        full_id,
        row_count,
        len(stats),
        time.monotonic() - started,
        queries.bytes_processed,
        f", statistics from a {percent}% TABLESAMPLE" if percent else "",
    )
    return TableProfile(
        table_id=full_id,
        name=table_name(full_id),
        description=table.description or None,
        row_count=row_count,
        columns=columns,
        primary_key=keys.primary_key,
        foreign_keys=keys.foreign_keys,
        stats=stats,
        sample=sample,
        bytes_processed=queries.bytes_processed,
        stats_sample_percent=percent,
    )


def profile_or_error(client: bigquery.Client, table_id: str, **options: Any) -> TableProfile:
    """``profile_table``, or a profile carrying the error so that one bad table skips only itself."""
    try:
        return profile_table(client, table_id, **options)
    except ProfileError as error:
        return TableProfile(table_id=table_id, name=table_name(table_id), error=str(error))


def _keys_from_views(queries: _Queries, table_id: str) -> DeclaredKeys | None:
    params = [bigquery.ScalarQueryParameter("table_name", "STRING", table_name(table_id))]
    try:
        return keys_from_constraint_rows(queries.rows(build_keys_query(table_id), params))
    except GoogleAPIError as error:
        log.warning("INFORMATION_SCHEMA keys of %s unreadable, using table metadata: %s", table_id, error)
        return None


def _stats_chunks(columns: list[ColumnSchema]) -> list[list[str]]:
    """Column paths in groups of at most ``MAX_COLUMNS_PER_QUERY``: one statistics query each."""
    paths = [target.path for target in stats_targets(columns)]
    return [
        paths[start : start + MAX_COLUMNS_PER_QUERY] for start in range(0, max(len(paths), 1), MAX_COLUMNS_PER_QUERY)
    ]


def _column_stats(
    queries: _Queries,
    table_id: str,
    columns: list[ColumnSchema],
    top_k: int,
    quantiles: int,
    percent: int | None = None,
    largest_scan: tuple[int, int] | None = None,
) -> tuple[int, dict[str, ColumnStats], int | None]:
    """Row count and statistics, and the TABLESAMPLE percent they come from.

    A sample of fewer than ``MIN_SAMPLED_ROWS`` rows (a table of few large blocks) is read
    again at twice the percent (all rows past 50%), as long as that scan reads at most
    ``largest_scan`` bytes (``(estimated bytes, maximum_bytes_billed)``); else it stays.
    """
    while True:
        row: dict[str, Any] = {}
        for chunk in _stats_chunks(columns):
            query = build_stats_query(table_id, columns, top_k, quantiles, chunk, percent=percent)
            try:
                row.update(queries.rows(query)[0])
            except BadRequest:
                row.update(_stats_column_by_column(queries, table_id, columns, top_k, quantiles, chunk, percent))
        if percent is None or int(row["row_count"]) >= MIN_SAMPLED_ROWS:
            return int(row["row_count"]), parse_stats(row, columns, top_k), percent
        wider = percent * 2 if percent * 2 < 100 else None
        if largest_scan is not None and scanned_bytes(largest_scan[0], wider) > largest_scan[1]:
            return int(row["row_count"]), parse_stats(row, columns, top_k), percent
        percent = wider


def _stats_column_by_column(
    queries: _Queries,
    table_id: str,
    columns: list[ColumnSchema],
    top_k: int,
    quantiles: int,
    paths: Sequence[str],
    percent: int | None = None,
) -> dict[str, Any]:
    # Only after the combined query failed: find the column at fault, keep what can be had of
    # it (its null count) rather than lose the whole table, and name it when even that fails.
    row: dict[str, Any] = {}
    for path in paths:
        try:
            row.update(queries.rows(build_stats_query(table_id, columns, top_k, quantiles, [path], percent=percent))[0])
            continue
        except BadRequest as error:
            log.warning("column %s of %s: only null counts, BigQuery refused the rest: %s", path, table_id, error)
        try:
            query = build_stats_query(table_id, columns, top_k, quantiles, [path], counts_only=True, percent=percent)
            row.update(queries.rows(query)[0])
        except BadRequest as error:
            raise ProfileError(
                f"Column {path} of source table {table_id} could not be profiled ({error_text(error)}): "
                "exclude the table from the run or report its column type",
                table=table_id,
                column=path,
            ) from error
    return row


def read_sample(client: bigquery.Client, table_id: str, row_count: int, sample_rows: int) -> list[dict[str, Any]]:
    """Up to ``sample_rows`` rows as JSON-safe dicts, the same rows on every call (see build_sample_query)."""
    return _read_sample(_Queries(client, DEFAULT_BUDGET.maximum_bytes_billed), table_id, row_count, sample_rows)


def _read_sample(
    queries: _Queries, table_id: str, row_count: int, sample_rows: int, budget_percent: int | None = None
) -> list[dict[str, Any]]:
    """``read_sample``; ``budget_percent`` (the statistics' TABLESAMPLE) bounds the scan of a
    table too large to read whole: it may then give fewer rows, never a full scan."""
    if sample_rows == 0 or row_count == 0:
        return []
    by_rows = sample_percent(row_count, sample_rows)
    percent = min(p for p in (by_rows, budget_percent, 100) if p is not None)
    percent = None if percent == 100 else percent
    rows = queries.rows(build_sample_query(table_id, sample_rows, percent))
    if percent is not None and len(rows) < sample_rows and budget_percent is None:
        # Block sampling can return too few rows (or none); a full scan always has enough.
        rows = queries.rows(build_sample_query(table_id, sample_rows))
    return [json_safe(row) for row in rows]
