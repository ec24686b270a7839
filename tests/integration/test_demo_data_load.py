"""Loads the demo warehouse into BigQuery (the local emulator via ``local_stack``) and reads it back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.cloud import bigquery

from bqsynth.gcp.clients import bigquery_client
from demo.warehouse import Column, DemoTable, build_demo_tables, load_demo_dataset


@pytest.fixture
def client(local_stack: object) -> bigquery.Client:
    return bigquery_client()


@pytest.fixture
def dataset(client: bigquery.Client) -> Iterator[str]:
    name = f"demo_src_it_{uuid.uuid4().hex[:12]}"
    yield name
    client.delete_dataset(f"{client.project}.{name}", delete_contents=True, not_found_ok=True)


def _as_client_value(column: Column, value: Any) -> Any:
    """The generated JSON value as the BigQuery client hands it back, for an exact comparison."""
    if column.mode == "REPEATED":
        element = Column(column.name, column.type, "NULLABLE", column.fields)
        return [_as_client_value(element, v) for v in value]
    if value is None:
        return None
    if column.type == "STRUCT":
        return {f.name: _as_client_value(f, value[f.name]) for f in column.fields}
    if column.type == "NUMERIC":
        return Decimal(value)  # compares equal whatever scale the server normalises to
    if column.type in ("TIMESTAMP", "DATETIME"):
        return datetime.fromisoformat(value)
    if column.type == "DATE":
        return date.fromisoformat(value)
    return value


def _read_back(client: bigquery.Client, dataset: str, table: DemoTable) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM `{client.project}.{dataset}.{table.name}` ORDER BY {table.primary_key}"
    return [dict(row.items()) for row in client.query(sql).result()]


def _declared_constraints(client: bigquery.Client, dataset: str) -> set[tuple[str, str, str]]:
    prefix = f"`{client.project}.{dataset}`.INFORMATION_SCHEMA"
    sql = f"""
        SELECT tc.table_name, tc.constraint_type, k.column_name
        FROM {prefix}.TABLE_CONSTRAINTS AS tc
        JOIN {prefix}.KEY_COLUMN_USAGE AS k
          ON k.table_name = tc.table_name AND k.constraint_name = tc.constraint_name
    """
    return {(r["table_name"], r["constraint_type"], r["column_name"]) for r in client.query(sql).result()}


def _expected_constraints(tables: list[DemoTable]) -> set[tuple[str, str, str]]:
    expected = {(t.name, "PRIMARY KEY", str(t.primary_key)) for t in tables if t.primary_key_declared}
    expected |= {(t.name, "FOREIGN KEY", fk.column) for t in tables for fk in t.declared_foreign_keys}
    return expected


def test_demo_dataset_loads_with_constraints_and_exact_values(client: bigquery.Client, dataset: str) -> None:
    tables = build_demo_tables(seed=42, scale=1.0)
    counts = load_demo_dataset(client, client.project, dataset, seed=42, scale=1.0)

    assert counts == {t.name: len(t.rows) for t in tables}
    assert _declared_constraints(client, dataset) == _expected_constraints(tables)

    account = client.get_table(f"{client.project}.{dataset}.Dim_Account")
    referenced = {fk.referenced_table.table_id for fk in account.table_constraints.foreign_keys}
    assert referenced == {"Dim_Customer", "Dim_Product"}
    assert account.table_constraints.primary_key.columns == ["account_id"]

    for table in tables:
        loaded = _read_back(client, dataset, table)
        expected = [
            {c.name: _as_client_value(c, row[c.name]) for c in table.columns}
            for row in sorted(table.rows, key=lambda r: r[table.primary_key])
        ]
        assert loaded == expected, table.name


def test_reloading_replaces_rather_than_appends(client: bigquery.Client, dataset: str) -> None:
    tables = build_demo_tables(seed=9, scale=0.2)
    first = load_demo_dataset(client, client.project, dataset, seed=9, scale=0.2)
    second = load_demo_dataset(client, client.project, dataset, seed=9, scale=0.2)

    assert first == second == {t.name: len(t.rows) for t in tables}
    assert _declared_constraints(client, dataset) == _expected_constraints(tables)
