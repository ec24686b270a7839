"""Exact key checks on the source tables, computed in BigQuery on all rows.

The planner proposes keys from the profiles' approximate statistics and names; before a
key is used it is checked here exactly:

* uniqueness: how many rows have a NULL in the key, and how many key values occur more
  than once (``GROUP BY`` over every row, not ``APPROX_COUNT_DISTINCT``); for a key with a
  line number, how many groups it fails to number 1..n;
* inclusion: how many distinct values of a child column (or column tuple) exist in a
  parent key, the evidence that one references the other.

Checks are batched (``UNION ALL``) so that a schema of two dozen tables costs a handful of
jobs, and every job carries ``maximum_bytes_billed``: the cost guard. A check BigQuery
refuses (over the guard, a type it cannot compare) comes back as ``None``, and the planner
falls back to the profiles' evidence, saying so.

The SQL builders are pure; :class:`BigQueryKeyChecks` runs them with a client passed in.
:class:`RowsKeyChecks` answers the same questions over rows in memory (file sources, whose
rows the profile reads whole, and tests).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery
from pydantic import Field, model_validator

from bqsynth.errors import error_text
from bqsynth.gcp import sql
from bqsynth.models import StrictModel
from bqsynth.values import value_at

log = logging.getLogger(__name__)

# Every check job may bill at most this much (10 GiB: a few cents); above it the check is
# skipped and the planner says the key was not verified.
DEFAULT_MAX_BYTES_BILLED = 10 * 1024**3
# Checks per job: enough to keep the job count low, few enough for BigQuery's query limits.
CHECKS_PER_QUERY = 25


class UniquenessQuery(StrictModel):
    table_id: str
    columns: list[str] = Field(min_length=1)
    numbered: str | None = Field(
        default=None,
        description="A column of ``columns`` that should number the rows 1..n within each group of the others "
        "(a line number): the answer then counts the groups where it does not",
    )

    @model_validator(mode="after")
    def _numbered_is_a_key_column(self) -> UniquenessQuery:
        if self.numbered is not None and (self.numbered not in self.columns or len(self.columns) < 2):
            raise ValueError(f"numbered column {self.numbered} must be one of several key columns {self.columns}")
        return self


class Uniqueness(StrictModel):
    """How far a column tuple is from being a key: both counts 0 means it is one."""

    rows: int
    null_rows: int = Field(description="Rows with a NULL in any key column")
    duplicated_values: int = Field(description="Key values held by more than one row")
    misnumbered_groups: int | None = Field(
        default=None, description="Groups whose numbered column does not run 1..n; None = not asked"
    )

    @property
    def is_key(self) -> bool:
        return self.rows > 0 and self.null_rows == 0 and self.duplicated_values == 0

    @property
    def is_numbered_key(self) -> bool:
        """A key whose numbered column runs 1, 2, .., n within every group of the other columns."""
        return self.is_key and self.misnumbered_groups == 0


class InclusionQuery(StrictModel):
    child_table_id: str
    child_columns: list[str] = Field(min_length=1)
    parent_table_id: str
    parent_columns: list[str] = Field(min_length=1)


class Inclusion(StrictModel):
    """How many distinct non-NULL child values (tuples) exist among the parent's."""

    child_distinct: int
    found: int

    @property
    def share(self) -> float:
        return self.found / self.child_distinct if self.child_distinct else 0.0


class FanOutQuery(StrictModel):
    """How many rows of ``table_id`` share each value of its reference column ``column``."""

    table_id: str
    column: str


class FanOut(StrictModel):
    """Children per parent, as (children, parents): ``parents`` distinct non-NULL values of the
    reference occur in exactly ``children`` rows each. Parents with no child are not in it."""

    histogram: list[tuple[int, int]]


class KeyChecks(Protocol):
    """Answers exact key questions; ``None`` where a check could not be made."""

    def uniqueness(self, queries: Sequence[UniquenessQuery]) -> list[Uniqueness | None]: ...

    def inclusion(self, queries: Sequence[InclusionQuery]) -> list[Inclusion | None]: ...

    def fan_out(self, queries: Sequence[FanOutQuery]) -> list[FanOut | None]: ...


# ---------------------------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------------------------


def uniqueness_sql(number: int, query: UniquenessQuery) -> str:
    """One row: ``check_id``, ``rows``, ``null_rows``, ``duplicated_values`` and
    ``misnumbered_groups`` (NULL unless ``query.numbered``) of one column tuple."""
    table = sql.quote_table(query.table_id)
    columns = [sql.quote_column(c) for c in query.columns]
    any_null = " OR ".join(f"{c} IS NULL" for c in columns)
    grouped = ", ".join(columns)
    misnumbered = "CAST(NULL AS INT64)"
    if query.numbered is not None:
        # With no repeated tuple, MIN = 1 and MAX = COUNT(*) in a group leave only 1..n.
        line = sql.quote_column(query.numbered)
        group = ", ".join(sql.quote_column(c) for c in query.columns if c != query.numbered)
        misnumbered = (
            f"(SELECT COUNT(*) FROM (SELECT MIN({line}) AS low, MAX({line}) AS high, COUNT(*) AS n FROM {table} "
            f"GROUP BY {group}) WHERE low != 1 OR high != n)"
        )
    return (
        f"SELECT {number} AS check_id, "
        f"(SELECT COUNT(*) FROM {table}) AS `rows`, "
        f"(SELECT COUNT(*) FROM {table} WHERE {any_null}) AS null_rows, "
        f"(SELECT COUNT(*) FROM (SELECT {grouped} FROM {table} GROUP BY {grouped} HAVING COUNT(*) > 1))"
        f" AS duplicated_values, {misnumbered} AS misnumbered_groups"
    )


def inclusion_sql(number: int, query: InclusionQuery) -> str:
    """One row: ``check_id``, ``child_distinct``, ``found`` of one child tuple in one parent key."""
    child = [sql.quote_column(c) for c in query.child_columns]
    parent = [sql.quote_column(c) for c in query.parent_columns]
    if len(child) != len(parent):
        raise ValueError(f"inclusion check {query}: child and parent column counts differ")
    child_select = ", ".join(f"{c} AS k{i}" for i, c in enumerate(child))
    parent_select = ", ".join(f"{c} AS k{i}" for i, c in enumerate(parent))
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in child)
    join = " AND ".join(f"c.k{i} = p.k{i}" for i in range(len(child)))
    return (
        f"SELECT {number} AS check_id, COUNT(*) AS child_distinct, COUNTIF(p.found) AS found FROM "
        f"(SELECT DISTINCT {child_select} FROM {sql.quote_table(query.child_table_id)} WHERE {not_null}) AS c "
        f"LEFT JOIN (SELECT DISTINCT {parent_select}, TRUE AS found FROM {sql.quote_table(query.parent_table_id)})"
        f" AS p ON {join}"
    )


def fan_out_sql(number: int, query: FanOutQuery) -> str:
    """Rows of ``check_id``, ``children``, ``parents``: one per distinct number of children a
    value of the reference has (a few dozen rows even for a large table)."""
    column = sql.quote_column(query.column)
    return (
        f"SELECT {number} AS check_id, children, COUNT(*) AS parents FROM "
        f"(SELECT {column}, COUNT(*) AS children FROM {sql.quote_table(query.table_id)} WHERE {column} IS NOT NULL "
        f"GROUP BY {column}) GROUP BY children"
    )


def batched(statements: Sequence[str], size: int = CHECKS_PER_QUERY) -> list[list[str]]:
    """The statements in groups of at most ``size``, each group one ``UNION ALL`` query."""
    return [list(statements[i : i + size]) for i in range(0, len(statements), size)]


def union_all(statements: Sequence[str]) -> str:
    return "\nUNION ALL\n".join(statements)


# ---------------------------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------------------------


class BigQueryKeyChecks:
    """Runs key checks as query jobs in the client's project, each under the cost guard."""

    def __init__(self, client: bigquery.Client, max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED) -> None:
        self.client = client
        self.max_bytes_billed = max_bytes_billed
        self.jobs = 0

    def uniqueness(self, queries: Sequence[UniquenessQuery]) -> list[Uniqueness | None]:
        rows = self._run([uniqueness_sql(i, q) for i, q in enumerate(queries)])
        found = {
            i: Uniqueness(
                rows=row["rows"],
                null_rows=row["null_rows"],
                duplicated_values=row["duplicated_values"],
                misnumbered_groups=row["misnumbered_groups"] if queries[i].numbered else None,
            )
            for i, row in rows.items()
        }
        return [found.get(i) for i in range(len(queries))]

    def inclusion(self, queries: Sequence[InclusionQuery]) -> list[Inclusion | None]:
        rows = self._run([inclusion_sql(i, q) for i, q in enumerate(queries)])
        found = {i: Inclusion(child_distinct=row["child_distinct"], found=row["found"]) for i, row in rows.items()}
        return [found.get(i) for i in range(len(queries))]

    def fan_out(self, queries: Sequence[FanOutQuery]) -> list[FanOut | None]:
        rows = self._run_rows([fan_out_sql(i, q) for i, q in enumerate(queries)])
        return [
            FanOut(histogram=sorted((row["children"], row["parents"]) for row in rows[i])) if i in rows else None
            for i in range(len(queries))
        ]

    def _run(self, statements: Sequence[str]) -> dict[int, dict[str, int]]:
        """The one row of each check, by check id (see ``_run_rows``)."""
        return {check: rows[0] for check, rows in self._run_rows(statements).items() if rows}

    def _run_rows(self, statements: Sequence[str]) -> dict[int, list[dict[str, int]]]:
        """Rows by check id; a batch BigQuery refuses is retried check by check, so one bad check costs only itself."""
        found: dict[int, list[dict[str, int]]] = {}
        for batch in batched(statements):
            try:
                found.update(self._query(union_all(batch)))
                continue
            except GoogleAPIError as error:
                if len(batch) == 1:
                    log.warning("key check not made (%s): %s", error_text(error), batch[0][:200])
                    continue
            for single in batch:
                try:
                    found.update(self._query(single))
                except GoogleAPIError as error:
                    log.warning("key check not made (%s): %s", error_text(error), single[:200])
        return found

    def _query(self, query: str) -> dict[int, list[dict[str, int]]]:
        self.jobs += 1
        config = bigquery.QueryJobConfig(maximum_bytes_billed=self.max_bytes_billed)
        found: dict[int, list[dict[str, int]]] = {}
        for row in self.client.query(query, job_config=config).result():
            found.setdefault(int(row["check_id"]), []).append(
                {k: int(v or 0) for k, v in row.items() if k != "check_id"}
            )
        return found


class RowsKeyChecks:
    """The same checks over rows held in memory, by table id (file sources; tests)."""

    def __init__(self, rows_by_table: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        self.rows = {table: list(rows) for table, rows in rows_by_table.items()}

    def uniqueness(self, queries: Sequence[UniquenessQuery]) -> list[Uniqueness | None]:
        answers: list[Uniqueness | None] = []
        for query in queries:
            rows = self.rows.get(query.table_id)
            if rows is None:
                answers.append(None)
                continue
            keys = [_key(row, query.columns) for row in rows]
            counts: dict[tuple[str, ...], int] = {}
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
            answers.append(
                Uniqueness(
                    rows=len(rows),
                    null_rows=sum(1 for row in rows if any(value_at(row, c) is None for c in query.columns)),
                    duplicated_values=sum(1 for n in counts.values() if n > 1),
                    misnumbered_groups=_misnumbered_groups(rows, query.columns, query.numbered)
                    if query.numbered
                    else None,
                )
            )
        return answers

    def inclusion(self, queries: Sequence[InclusionQuery]) -> list[Inclusion | None]:
        answers: list[Inclusion | None] = []
        for query in queries:
            child, parent = self.rows.get(query.child_table_id), self.rows.get(query.parent_table_id)
            if child is None or parent is None:
                answers.append(None)
                continue
            values = {
                _key(row, query.child_columns)
                for row in child
                if all(value_at(row, c) is not None for c in query.child_columns)
            }
            keys = {_key(row, query.parent_columns) for row in parent}
            answers.append(Inclusion(child_distinct=len(values), found=len(values & keys)))
        return answers

    def fan_out(self, queries: Sequence[FanOutQuery]) -> list[FanOut | None]:
        answers: list[FanOut | None] = []
        for query in queries:
            rows = self.rows.get(query.table_id)
            if rows is None:
                answers.append(None)
                continue
            children = Counter(_key(row, [query.column]) for row in rows if value_at(row, query.column) is not None)
            answers.append(FanOut(histogram=sorted(Counter(children.values()).items())))
        return answers


def _misnumbered_groups(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], numbered: str) -> int:
    """Groups of the columns other than ``numbered`` whose ``numbered`` values do not run 1..n
    (as ``uniqueness_sql``: MIN = 1 and MAX = the group's row count)."""
    group = [c for c in columns if c != numbered]
    lines: dict[tuple[str, ...], list[int | None]] = {}
    for row in rows:
        lines.setdefault(_key(row, group), []).append(_as_int(value_at(row, numbered)))
    return sum(
        1
        for values in lines.values()
        if sorted(values, key=lambda v: -1 if v is None else v) != list(range(1, len(values) + 1))
    )


def _as_int(value: Any) -> int | None:
    """A line number as read from a table or a file (``3``, ``"3"``); None for anything else."""
    try:
        return int(value) if value is not None and float(value) == int(float(value)) else None
    except (TypeError, ValueError):
        return None


def _key(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[str, ...]:
    # Compared as text, as the parent's and child's values may come typed differently from a file.
    return tuple(repr(value_at(row, c)) if value_at(row, c) is None else str(value_at(row, c)) for c in columns)
