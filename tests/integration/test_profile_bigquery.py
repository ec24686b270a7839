"""Profiles real tables in BigQuery (the local emulator via ``local_stack``) and checks every statistic."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from google.cloud import bigquery
from google.cloud.bigquery import SchemaField

from bqsynth.gcp.clients import bigquery_client
from bqsynth.models import ColumnSchema, ForeignKey, TableProfile
from bqsynth.sources import bigquery_profile as profile_module
from bqsynth.sources.bigquery_profile import ProfileError, profile_or_error, profile_table

ROWS = 3000
CUSTOMERS = 50
SAMPLE_ROWS = 50
CATEGORIES = ["gold"] * 60 + ["silver"] * 25 + ["bronze"] * 10 + ["platinum"] * 2 + [None] * 3

FACT_SCHEMA = [
    SchemaField("id", "INT64", "REQUIRED", description="order number"),
    SchemaField("category", "STRING"),
    SchemaField("amount", "NUMERIC"),
    SchemaField("score", "FLOAT64"),
    SchemaField("active", "BOOL"),
    SchemaField("day", "DATE"),
    SchemaField("seen_at", "DATETIME"),
    SchemaField("created", "TIMESTAMP"),
    SchemaField("tags", "STRING", "REPEATED"),
    SchemaField(
        "address",
        "RECORD",
        description="delivery address",
        fields=[SchemaField("city", "STRING", description="town"), SchemaField("zip", "INT64")],
    ),
    SchemaField("customer_id", "INT64"),
]

EXPECTED_COLUMNS = [
    ColumnSchema(name="id", type="INT64", mode="REQUIRED", description="order number"),
    ColumnSchema(name="category", type="STRING"),
    ColumnSchema(name="amount", type="NUMERIC"),
    ColumnSchema(name="score", type="FLOAT64"),
    ColumnSchema(name="active", type="BOOL"),
    ColumnSchema(name="day", type="DATE"),
    ColumnSchema(name="seen_at", type="DATETIME"),
    ColumnSchema(name="created", type="TIMESTAMP"),
    ColumnSchema(name="tags", type="STRING", mode="REPEATED"),
    ColumnSchema(
        name="address",
        type="RECORD",
        description="delivery address",
        fields=[
            ColumnSchema(name="city", type="STRING", description="town"),
            ColumnSchema(name="zip", type="INT64"),
        ],
    ),
    ColumnSchema(name="customer_id", type="INT64"),
]


@dataclass
class Source:
    project: str
    dataset: str
    rows: list[dict[str, Any]]

    def table(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"


def _fact_rows() -> list[dict[str, Any]]:
    rng = random.Random(7)
    start = dt.datetime(2023, 1, 1, 8, 0, 0)
    rows = []
    for i in range(1, ROWS + 1):
        moment = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
        rows.append(
            {
                "id": i,
                "category": rng.choice(CATEGORIES),
                "amount": None if i % 20 == 0 else f"{rng.randrange(100, 100_000) / 100:.2f}",
                # Eighths are exact in binary, so the scale read back is exactly 3.
                "score": None if i % 7 == 0 else rng.randrange(0, 800) / 8,
                "active": None if i % 11 == 0 else rng.random() < 0.8,
                "day": None if i % 13 == 0 else moment.date().isoformat(),
                "seen_at": moment.isoformat(sep=" "),
                "created": None if i % 17 == 0 else f"{moment.isoformat(sep=' ')}+00:00",
                "tags": [rng.choice(["new", "vip", "promo", "gift"]) for _ in range(rng.choice([0, 0, 1, 2, 3]))],
                "address": None
                if i % 10 == 0
                else {
                    "city": None if i % 9 == 0 else rng.choice(["Paris", "Lyon", "Nice"]),
                    "zip": 10_000 + i,
                },
                "customer_id": rng.randrange(1, CUSTOMERS + 1),
            }
        )
    return rows


@pytest.fixture
def client(local_stack: object) -> bigquery.Client:
    return bigquery_client()


@pytest.fixture
def source(client: bigquery.Client) -> Iterator[Source]:
    dataset = f"bqsynth_profile_it_{uuid.uuid4().hex[:12]}"
    client.create_dataset(f"{client.project}.{dataset}")
    src = Source(client.project, dataset, _fact_rows())
    try:
        _create(client, src.table("customers"), [SchemaField("id", "INT64", "REQUIRED")])
        client.load_table_from_json([{"id": i} for i in range(1, CUSTOMERS + 1)], src.table("customers")).result()
        _create(client, src.table("orders"), FACT_SCHEMA)
        client.load_table_from_json(src.rows, src.table("orders")).result()
        for ddl in (
            f"ALTER TABLE `{src.table('customers')}` ADD PRIMARY KEY (id) NOT ENFORCED",
            f"ALTER TABLE `{src.table('orders')}` ADD PRIMARY KEY (id) NOT ENFORCED",
            (
                f"ALTER TABLE `{src.table('orders')}` ADD CONSTRAINT fk_customer FOREIGN KEY (customer_id) "
                f"REFERENCES `{src.table('customers')}` (id) NOT ENFORCED"
            ),
        ):
            client.query(ddl).result()
        yield src
    finally:
        client.delete_dataset(f"{client.project}.{dataset}", delete_contents=True, not_found_ok=True)


def _create(client: bigquery.Client, table_id: str, schema: list[SchemaField]) -> None:
    # Created through the API, not DDL: the emulator attaches a nested column's DDL
    # description to its parent record.
    client.create_table(bigquery.Table(table_id, schema=schema))


def _values(rows: list[dict[str, Any]], path: str) -> list[Any]:
    """A leaf's values across rows (a NULL record makes its fields NULL), arrays flattened."""
    values: list[Any] = []
    for row in rows:
        value: Any = row
        for part in path.split("."):
            value = None if value is None else value[part]
        values.extend(value if isinstance(value, list) else [value])
    return values


def _profile(client: bigquery.Client, src: Source) -> tuple[TableProfile, float]:
    started = time.perf_counter()
    result = profile_table(client, src.table("orders"), sample_rows=SAMPLE_ROWS, top_k=3, quantiles=10)
    return result, time.perf_counter() - started


def test_profile_of_a_table_with_every_type(client: bigquery.Client, source: Source) -> None:
    result, seconds = _profile(client, source)
    print(f"\nprofile_table on {ROWS} rows x {len(FACT_SCHEMA)} columns took {seconds:.2f} s")

    assert result.table_id == source.table("orders") and result.name == "orders"
    assert result.row_count == ROWS
    assert result.columns == EXPECTED_COLUMNS
    assert result.primary_key == ["id"]
    assert result.foreign_keys == [
        ForeignKey(columns=["customer_id"], referenced_table=source.table("customers"), referenced_columns=["id"])
    ]
    # One entry per column path, RECORD columns included.
    assert list(result.stats) == [
        "id", "category", "amount", "score", "active", "day", "seen_at", "created", "tags",
        "address", "address.city", "address.zip", "customer_id",
    ]  # fmt: skip

    for path, stats in result.stats.items():
        values = _values(source.rows, path)
        assert stats.row_count == len(values), path
        assert stats.null_count == sum(v is None for v in values), path
        present = {json.dumps(v) for v in values if v is not None}
        if stats.type != "RECORD":
            assert abs(stats.distinct_count - len(present)) <= max(2, 0.03 * len(present)), path
        for quantiles in [stats.quantiles] if stats.quantiles else []:
            assert quantiles == sorted(quantiles), path  # type: ignore[type-var]
            assert quantiles[0] >= stats.min_value and quantiles[-1] <= stats.max_value, path  # type: ignore[operator]

    stats = result.stats
    categories = Counter(v for v in _values(source.rows, "category") if v is not None)
    assert [(v.value, v.count) for v in stats["category"].top_values] == categories.most_common(3)
    assert stats["category"].min_length == min(map(len, categories))
    assert stats["category"].max_length == max(map(len, categories))
    lengths = [len(v) for v in _values(source.rows, "category") if v is not None]
    assert stats["category"].avg_length == pytest.approx(statistics.mean(lengths))

    amounts = [Decimal(v) for v in _values(source.rows, "amount") if v is not None]
    assert (stats["amount"].min_value, stats["amount"].max_value) == (
        float(min(amounts)),
        float(max(amounts)),
    )
    assert stats["amount"].max_scale == 2
    assert stats["score"].max_scale == 3
    assert len(stats["amount"].quantiles) == 11

    days = [v for v in _values(source.rows, "day") if v is not None]
    assert (stats["day"].min_value, stats["day"].max_value) == (min(days), max(days))
    created = [dt.datetime.fromisoformat(v) for v in _values(source.rows, "created") if v is not None]
    assert stats["created"].min_value == min(created).isoformat()
    seen = [dt.datetime.fromisoformat(v) for v in _values(source.rows, "seen_at")]
    assert stats["seen_at"].max_value == max(seen).isoformat()
    assert {v.value for v in stats["active"].top_values} == {True, False}
    assert stats["active"].top_values[0].value is True

    array_lengths = Counter(len(row["tags"]) for row in source.rows)
    assert [(v.value, v.count) for v in stats["tags"].array_length_counts] == sorted(array_lengths.items())
    assert stats["address"].null_count == ROWS // 10
    for entry in stats.values():
        counts = [v.count for v in entry.top_values]
        assert counts == sorted(counts, reverse=True), entry.path

    assert len(result.sample) == SAMPLE_ROWS
    assert all(list(row) == [c.name for c in EXPECTED_COLUMNS] for row in result.sample)
    assert all(row["address"] is None or set(row["address"]) == {"city", "zip"} for row in result.sample)
    assert all(isinstance(row["tags"], list) for row in result.sample)
    by_id = {row["id"]: row for row in source.rows}
    assert all(row["category"] == by_id[row["id"]]["category"] for row in result.sample)
    # The artifact is JSON and comes back identical.
    assert TableProfile.model_validate_json(result.model_dump_json()) == result


def test_sample_is_deterministic_and_survives_block_sampling(
    client: bigquery.Client, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = profile_table(client, source.table("orders"), sample_rows=SAMPLE_ROWS).sample
    assert profile_table(client, source.table("orders"), sample_rows=SAMPLE_ROWS).sample == first
    # Pretend the table is large: TABLESAMPLE may return too few rows on a small table, and
    # the profiler must then fall back to a full scan.
    monkeypatch.setattr(profile_module, "TABLESAMPLE_MIN_ROWS", 0)
    sampled = profile_table(client, source.table("orders"), sample_rows=SAMPLE_ROWS).sample
    assert len(sampled) == SAMPLE_ROWS


def test_parent_table_profile_and_empty_sample(client: bigquery.Client, source: Source) -> None:
    parent = profile_table(client, source.table("customers"), sample_rows=0)
    assert parent.primary_key == ["id"] and parent.foreign_keys == []
    assert parent.row_count == CUSTOMERS and parent.sample == []
    assert parent.stats["id"].distinct_count == CUSTOMERS


def test_missing_table_raises_a_profile_error_naming_it(client: bigquery.Client, source: Source) -> None:
    missing = source.table("no_such_table")
    with pytest.raises(ProfileError, match=f"Source table {missing} was not found"):
        profile_table(client, missing)
    with pytest.raises(ProfileError, match="was not found"):
        profile_table(client, f"{client.project}.no_such_dataset_{uuid.uuid4().hex[:8]}.orders")
    failed = profile_or_error(client, missing)
    assert failed.error and missing in failed.error and failed.columns == []


def test_a_table_over_the_full_scan_threshold_is_profiled_from_a_tablesample(
    client: bigquery.Client, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator gives no dry-run estimate: the table's size stands in for it, as on BigQuery.

    Block sampling picks whole blocks (2,048 rows in the emulator), so the table has enough of
    them (49) for a 25% sample to be neither empty nor the whole table.
    """
    big = source.table("big_orders")
    client.query(
        f"CREATE TABLE `{big}` AS SELECT n AS id, IF(MOD(n, 4) = 0, 'silver', 'gold') AS category "
        "FROM UNNEST(GENERATE_ARRAY(1, 100000)) AS n"
    ).result()
    table_bytes = int(client.get_table(big).num_bytes or 0)
    assert table_bytes > 0
    monkeypatch.setattr(profile_module, "MIN_SAMPLED_ROWS", 5_000)
    budget = profile_module.ProfileBudget(full_scan_bytes=table_bytes // 4, maximum_bytes_billed=table_bytes * 2)
    sent: list[str] = []
    run_query = client.query
    monkeypatch.setattr(client, "query", lambda sql, *a, **k: sent.append(sql) or run_query(sql, *a, **k))
    sampled = profile_table(client, big, sample_rows=SAMPLE_ROWS, budget=budget)
    assert sampled.stats_sample_percent in (25, 50)  # 25%, or twice that when the blocks gave too few rows
    assert sampled.row_count == 100_000  # exact, from COUNT(*)
    sampling = f"TABLESAMPLE SYSTEM ({sampled.stats_sample_percent} PERCENT)"
    assert any(sampling in sql and "APPROX_TOP_COUNT" in sql.upper() for sql in sent), sent
    assert 5_000 <= sampled.stats["category"].row_count < 100_000  # the statistics are the sample's
    assert sampled.stats["category"].top_values[0].value == "gold"

    refused = profile_module.ProfileBudget(full_scan_bytes=table_bytes * 2, maximum_bytes_billed=table_bytes // 2)
    with pytest.raises(ProfileError, match="maximum_bytes_billed") as error:
        profile_table(client, big, budget=refused)
    assert big in str(error.value)
