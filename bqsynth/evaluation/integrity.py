"""Integrity checks on a loaded target table, computed by SQL in BigQuery.

The checks run where the data is, so they scale with BigQuery rather than with the
worker. The SQL comes from small pure functions so that it can be unit-tested and
read in one place; every identifier is backtick-quoted because synthetic copies keep
the source's names, which may be reserved words or contain odd characters.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.cloud import bigquery

from bqsynth.gcp.sql import quote_column, quote_table


def _qualified(alias: str, path: str) -> str:
    return f"{alias}.{quote_column(path)}"


def _any_null(columns: Sequence[str], alias: str | None = None) -> str:
    refs = [_qualified(alias, c) if alias else quote_column(c) for c in columns]
    return "(" + " OR ".join(f"{ref} IS NULL" for ref in refs) + ")"


def _all_non_null(columns: Sequence[str], alias: str | None = None) -> str:
    refs = [_qualified(alias, c) if alias else quote_column(c) for c in columns]
    return "(" + " AND ".join(f"{ref} IS NOT NULL" for ref in refs) + ")"


def _require_columns(columns: Sequence[str], what: str) -> None:
    if not columns:
        raise ValueError(f"{what}: at least one column is needed")


def count_rows_sql(table_id: str) -> str:
    return f"SELECT COUNT(*) AS n FROM {quote_table(table_id)}"


def duplicate_keys_sql(table_id: str, key_columns: Sequence[str]) -> str:
    """SQL returning one row ``n``: rows that break uniqueness of ``key_columns``.

    ``n`` = (extra rows sharing a fully non-null key: a key seen 3 times adds 2)
    + (every row with a NULL in any key column). A primary key may not be NULL, so a
    NULL key is a violation in itself; counting every such row (not "all but one", as
    grouping NULLs together would) keeps one stray NULL key from going unnoticed.
    """
    _require_columns(key_columns, "duplicate key check")
    table = quote_table(table_id)
    keys = ", ".join(quote_column(c) for c in key_columns)
    return (
        "SELECT COALESCE(SUM(copies - 1), 0)"
        f" + (SELECT COUNT(*) FROM {table} WHERE {_any_null(key_columns)}) AS n"
        f" FROM (SELECT COUNT(*) AS copies FROM {table} WHERE {_all_non_null(key_columns)}"
        f" GROUP BY {keys} HAVING COUNT(*) > 1)"
    )


def orphans_sql(
    child_table_id: str,
    child_columns: Sequence[str],
    parent_table_id: str,
    parent_columns: Sequence[str],
) -> str:
    """SQL returning one row ``n``: child rows whose foreign key matches no parent row.

    A child row with a NULL in any foreign-key column is not checked (SQL's MATCH
    SIMPLE): an optional reference that is absent is not an orphan. The parent keys are
    de-duplicated before the join so that duplicate parents cannot inflate the count;
    a LEFT JOIN rather than a correlated NOT EXISTS because BigQuery plans it as one
    distributed join. Child and parent may be the same table (self-references).
    """
    _require_columns(child_columns, "orphan check")
    if len(child_columns) != len(parent_columns):
        raise ValueError(
            f"orphan check: {len(child_columns)} child columns {list(child_columns)} but "
            f"{len(parent_columns)} parent columns {list(parent_columns)}"
        )
    parent_keys = ", ".join(f"{quote_column(p)} AS k{i}" for i, p in enumerate(parent_columns))
    join_on = " AND ".join(f"{_qualified('c', col)} = p.k{i}" for i, col in enumerate(child_columns))
    return (
        f"SELECT COUNT(*) AS n FROM {quote_table(child_table_id)} AS c"
        f" LEFT JOIN (SELECT DISTINCT {parent_keys}, TRUE AS matched FROM {quote_table(parent_table_id)}) AS p"
        f" ON {join_on}"
        f" WHERE {_all_non_null(child_columns, 'c')} AND p.matched IS NULL"
    )


def _query_count(client: bigquery.Client, sql: str) -> int:
    rows = list(client.query(sql).result())
    return int(rows[0][0] or 0) if rows else 0


def count_rows(client: bigquery.Client, table_id: str) -> int:
    """Exact row count by SQL; table metadata (``num_rows``) misses streamed rows."""
    return _query_count(client, count_rows_sql(table_id))


def count_duplicate_keys(client: bigquery.Client, table_id: str, key_columns: Sequence[str]) -> int:
    """Rows breaking uniqueness of ``key_columns`` (see ``duplicate_keys_sql`` for NULLs)."""
    return _query_count(client, duplicate_keys_sql(table_id, key_columns))


def count_orphans(
    client: bigquery.Client,
    child_table_id: str,
    child_columns: Sequence[str],
    parent_table_id: str,
    parent_columns: Sequence[str],
) -> int:
    """Child rows with a non-null foreign key that matches no parent row (composite keys too)."""
    return _query_count(client, orphans_sql(child_table_id, child_columns, parent_table_id, parent_columns))


def not_null_violations_sql(table_id: str, required_columns: Sequence[str]) -> str:
    """SQL returning one row ``n``: rows with a NULL in any of the (plan's) REQUIRED columns.

    The target may have been created NULLABLE (an existing table, or the emulator's
    WRITE_TRUNCATE), so the plan's modes are checked, not the target's.
    """
    _require_columns(required_columns, "NOT NULL check")
    return f"SELECT COUNT(*) AS n FROM {quote_table(table_id)} WHERE {_any_null(required_columns)}"


def count_not_null_violations(client: bigquery.Client, table_id: str, required_columns: Sequence[str]) -> int:
    return _query_count(client, not_null_violations_sql(table_id, required_columns)) if required_columns else 0


def filled_counts_sql(table_id: str, columns: Sequence[tuple[str, bool]]) -> str:
    """SQL returning one row: per ``(column, repeated)``, the rows where it holds a value.

    An array holds a value when it is not empty (BigQuery stores a NULL array as empty).
    """
    _require_columns([c for c, _ in columns], "filled-columns check")
    counts = [
        f"COUNTIF(ARRAY_LENGTH({quote_column(c)}) > 0) AS c{i}"
        if repeated
        else f"COUNTIF({quote_column(c)} IS NOT NULL) AS c{i}"
        for i, (c, repeated) in enumerate(columns)
    ]
    return f"SELECT {', '.join(counts)} FROM {quote_table(table_id)}"


def columns_left_empty(client: bigquery.Client, table_id: str, columns: Sequence[tuple[str, bool]]) -> list[str]:
    """The columns (top-level ``(name, repeated)``) with no value in any row of the target."""
    if not columns:
        return []
    row = next(iter(client.query(filled_counts_sql(table_id, columns)).result()))
    return [name for i, (name, _) in enumerate(columns) if not row[f"c{i}"]]
