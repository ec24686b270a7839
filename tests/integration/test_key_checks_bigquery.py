"""Exact key checks and undeclared-key discovery on real tables in the local BigQuery emulator."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
from google.cloud import bigquery
from google.cloud.bigquery import SchemaField

from bqsynth.gcp.clients import bigquery_client
from bqsynth.planning.relationships import discover_relationships
from bqsynth.sources.bigquery_profile import profile_table
from bqsynth.sources.key_checks import (
    BigQueryKeyChecks,
    FanOutQuery,
    InclusionQuery,
    RowsKeyChecks,
    UniquenessQuery,
)


@pytest.fixture
def dataset(local_stack: object) -> Iterator[tuple[bigquery.Client, str]]:
    client = bigquery_client()
    name = f"bqsynth_keys_it_{uuid.uuid4().hex[:12]}"
    client.create_dataset(f"{client.project}.{name}")
    rng = random.Random(4)
    tables = {
        "customer": (
            [SchemaField("c_custkey", "INT64"), SchemaField("c_name", "STRING")],
            [{"c_custkey": i, "c_name": f"Customer#{i:09d}"} for i in range(1, 201)],
        ),
        "orders": (
            [SchemaField("o_orderkey", "INT64"), SchemaField("o_custkey", "INT64"), SchemaField("o_total", "INT64")],
            [
                {"o_orderkey": 10 * i, "o_custkey": rng.randint(1, 200), "o_total": rng.randint(1, 150)}
                for i in range(600)
            ],
        ),
    }
    lines = [
        {"l_orderkey": 10 * i, "l_linenumber": n, "l_quantity": rng.randint(1, 50)}
        for i in range(600)
        for n in range(1, rng.randint(1, 5) + 1)
    ]
    lines.append({"l_orderkey": 99_999, "l_linenumber": 1, "l_quantity": 1})  # one orphan line
    tables["lineitem"] = (
        [SchemaField("l_orderkey", "INT64"), SchemaField("l_linenumber", "INT64"), SchemaField("l_quantity", "INT64")],
        lines,
    )
    for table, (schema, rows) in tables.items():
        table_id = f"{client.project}.{name}.{table}"
        client.create_table(bigquery.Table(table_id, schema=schema))
        client.load_table_from_json(rows, table_id, job_config=bigquery.LoadJobConfig(schema=schema)).result()
    try:
        yield client, name
    finally:
        client.delete_dataset(f"{client.project}.{name}", delete_contents=True, not_found_ok=True)


def test_uniqueness_and_inclusion_are_counted_exactly_and_a_refused_check_costs_only_itself(
    dataset: tuple[bigquery.Client, str],
) -> None:
    client, name = dataset
    ids = {t: f"{client.project}.{name}.{t}" for t in ("customer", "orders", "lineitem")}
    checks = BigQueryKeyChecks(client)
    answers = checks.uniqueness(
        [
            UniquenessQuery(table_id=ids["orders"], columns=["o_orderkey"]),
            UniquenessQuery(table_id=ids["orders"], columns=["o_custkey"]),
            UniquenessQuery(table_id=ids["lineitem"], columns=["l_orderkey", "l_linenumber"]),
            UniquenessQuery(table_id=ids["lineitem"], columns=["no_such_column"]),
        ]
    )
    assert answers[0] is not None and answers[0].is_key and answers[0].rows == 600
    assert answers[1] is not None and not answers[1].is_key and answers[1].duplicated_values > 0
    assert answers[2] is not None and answers[2].is_key
    assert answers[3] is None  # refused by BigQuery: the other checks of the batch still count
    [found, orphaned] = checks.inclusion(
        [
            InclusionQuery(
                child_table_id=ids["orders"],
                child_columns=["o_custkey"],
                parent_table_id=ids["customer"],
                parent_columns=["c_custkey"],
            ),
            InclusionQuery(
                child_table_id=ids["lineitem"],
                child_columns=["l_orderkey"],
                parent_table_id=ids["orders"],
                parent_columns=["o_orderkey"],
            ),
        ]
    )
    assert found is not None and found.found == found.child_distinct > 100
    assert orphaned is not None and orphaned.child_distinct - orphaned.found == 1


def test_children_per_parent_are_counted_by_sql_as_in_the_rows(dataset: tuple[bigquery.Client, str]) -> None:
    client, name = dataset
    ids = {t: f"{client.project}.{name}.{t}" for t in ("orders", "lineitem")}
    queries = [
        FanOutQuery(table_id=ids["orders"], column="o_custkey"),
        FanOutQuery(table_id=ids["lineitem"], column="l_orderkey"),
        FanOutQuery(table_id=ids["lineitem"], column="no_such_column"),
    ]
    answers = BigQueryKeyChecks(client).fan_out(queries)
    rows = {t: [dict(r.items()) for r in client.list_rows(i)] for t, i in ids.items()}
    expected = RowsKeyChecks({ids[t]: r for t, r in rows.items()}).fan_out(queries[:2])
    assert answers[:2] == expected
    assert answers[0] is not None and sum(c * p for c, p in answers[0].histogram) == 600  # every order counted once
    assert answers[2] is None  # refused by BigQuery: the other checks still count


def test_a_line_number_is_checked_by_sql_as_in_the_rows(dataset: tuple[bigquery.Client, str]) -> None:
    """l_linenumber numbers each order's lines 1..n; l_quantity is a number that does not."""
    client, name = dataset
    table_id = f"{client.project}.{name}.lineitem"
    queries = [
        UniquenessQuery(table_id=table_id, columns=["l_orderkey", "l_linenumber"], numbered="l_linenumber"),
        UniquenessQuery(table_id=table_id, columns=["l_orderkey", "l_quantity"], numbered="l_quantity"),
        UniquenessQuery(table_id=table_id, columns=["l_orderkey", "l_linenumber"]),
    ]
    answers = BigQueryKeyChecks(client).uniqueness(queries)
    rows = [dict(r.items()) for r in client.list_rows(table_id)]
    assert answers[0] is not None and answers[0].is_numbered_key and answers[0].misnumbered_groups == 0
    assert answers[1] is not None and not answers[1].is_numbered_key and answers[1].misnumbered_groups
    assert answers[2] is not None and answers[2].is_key and answers[2].misnumbered_groups is None
    expected = RowsKeyChecks({table_id: rows}).uniqueness(queries)
    assert [a.is_numbered_key for a in answers if a] == [e.is_numbered_key for e in expected if e]
    assert answers[0] == expected[0] and answers[2] == expected[2]


def test_keys_and_references_are_discovered_from_undeclared_tables(dataset: tuple[bigquery.Client, str]) -> None:
    client, name = dataset
    profiles = [
        profile_table(client, f"{client.project}.{name}.{t}", sample_rows=40)
        for t in ("customer", "orders", "lineitem")
    ]
    report = discover_relationships(profiles, BigQueryKeyChecks(client))
    assert {k.table: k.columns for k in report.primary_keys} == {
        "customer": ["c_custkey"],
        "orders": ["o_orderkey"],
        "lineitem": ["l_orderkey", "l_linenumber"],
    }
    found = {(r.child_table, r.child_columns[0], r.parent_table, r.parent_columns[0]) for r in report.relationships}
    assert found == {
        ("orders", "o_custkey", "customer", "c_custkey"),
        ("lineitem", "l_orderkey", "orders", "o_orderkey"),
    }
    orphaned = next(r for r in report.relationships if r.child_table == "lineitem")
    # one orphan line: its range passes the parent's, the exact check counts it and keeps the reference
    assert "statistics disagree" in orphaned.evidence and "600/601 distinct child values found" in orphaned.evidence
