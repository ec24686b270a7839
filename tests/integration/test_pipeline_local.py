"""The whole pipeline through kfp.local against the BigQuery and GCS emulators.

One demo warehouse is loaded into a fresh source dataset; the pipeline runs on it
several times, and every assertion is checked by SQL on what landed in BigQuery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

from bqsynth.config import RunConfig, load_config
from bqsynth.delivery.audit import read_audit
from bqsynth.evaluation.integrity import count_duplicate_keys, count_orphans, count_rows
from bqsynth.gcp.clients import bigquery_client, default_project
from bqsynth.gcp.schema import columns_from_bigquery
from bqsynth.models import RunSummary, TableQuality
from demo import warehouse
from submit import run_local_pipeline

SCALE = 0.5
COUNTS = {"Dim_Customer": 220, "Fact_Transaction": 1500}
# Fact_Transaction's 1,500 rows are generated as 4 tasks of the generation ParallelFor (400, 400,
# 400, 300); every smaller table is one.
SHARD_ROWS = 400
IDENTIFYING = {
    "Dim_Customer": ["first_name", "last_name", "email", "phone_number", "street_address"],
    "Dim_Employee": ["first_name", "last_name", "email"],
    "Dim_Branch": ["manager_name"],
    "Dim_Card": ["cardholder_name", "masked_pan"],
    "Dim_Account": ["account_number"],
}


@pytest.fixture(scope="module")
def client(local_stack: object) -> bigquery.Client:
    return bigquery_client(default_project())


@pytest.fixture(scope="module")
def source(client: bigquery.Client) -> Iterator[str]:
    dataset = f"it_src_{uuid.uuid4().hex[:8]}"
    warehouse.load_demo_dataset(client, client.project, dataset, seed=42, scale=SCALE)
    yield f"{client.project}.{dataset}"
    client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def make_config(source: str, target_dataset: str, **overrides: object) -> RunConfig:
    tables = [f"{source}.{t.name}" for t in warehouse.build_demo_tables(seed=42, scale=SCALE)]
    base = {
        "source_tables": tables,
        "target_dataset": target_dataset,
        "record_counts": COUNTS,
        "seed": 7,
        "staging_bucket": "it-staging",
        "audit_table": f"{source.split('.')[0]}.{target_dataset}.bqsynth_audit",
        "write_disposition": "WRITE_APPEND",
        "shard_rows": SHARD_ROWS,
    }
    base.update(overrides)
    names = {t.split(".")[-1] for t in base["source_tables"]}  # type: ignore[union-attr]
    counts: dict[str, int] = base["record_counts"]  # type: ignore[assignment]
    base["record_counts"] = {t: n for t, n in counts.items() if t in names}  # counts only for tables of the run
    return load_config(None, base)


def by_table(summary: RunSummary) -> dict[str, TableQuality]:
    return {t.table: t for t in summary.tables}


@pytest.fixture(scope="module")
def first_run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first run's kfp.local pipeline root: one folder per task."""
    return tmp_path_factory.mktemp("kfp")


@pytest.fixture(scope="module")
def first_run(source: str, client: bigquery.Client, first_run_root: Path) -> Iterator[tuple]:
    target = f"it_tgt_{uuid.uuid4().hex[:8]}"
    config = make_config(source, target, batch_id=f"it-{uuid.uuid4().hex[:6]}")
    summary = run_local_pipeline(config, str(first_run_root))
    yield config, summary
    client.delete_dataset(target, delete_contents=True, not_found_ok=True)


def test_every_table_completes_with_the_requested_rows(first_run: tuple) -> None:
    config, summary = first_run
    tables = by_table(summary)
    assert set(tables) == {t.split(".")[-1] for t in config.source_tables}
    for name, quality in tables.items():
        expected = COUNTS.get(name) or round(
            len(next(t.rows for t in warehouse.build_demo_tables(42, SCALE) if t.name == name))
        )
        assert quality.status == "Completed", quality.error
        assert quality.rows_requested == quality.rows_generated == quality.rows_loaded == expected, name
        assert quality.rows_in_target == expected
    assert summary.ok


def test_target_tables_have_the_source_schema(first_run: tuple, client: bigquery.Client) -> None:
    config, _ = first_run
    for source_table in config.source_tables:
        name = source_table.split(".")[-1]
        target = client.get_table(f"{config.target_project}.{config.target_dataset}.{name}")
        assert columns_from_bigquery(target.schema) == columns_from_bigquery(client.get_table(source_table).schema)


def test_keys_hold_on_the_target_by_sql(first_run: tuple, client: bigquery.Client) -> None:
    """Checked against the demo's ground truth, declared and undeclared keys alike."""
    config, _ = first_run
    target = f"{config.target_project}.{config.target_dataset}"
    for spec in warehouse.build_demo_tables(42, SCALE):
        assert count_duplicate_keys(client, f"{target}.{spec.name}", [spec.primary_key]) == 0, spec.name
        for fk in spec.foreign_keys:
            orphans = count_orphans(
                client, f"{target}.{spec.name}", [fk.column], f"{target}.{fk.ref_table}", [fk.ref_column]
            )
            assert orphans == 0, f"{spec.name}.{fk.column}"
            children = count_rows(client, f"{target}.{spec.name}")
            filled = next(
                iter(client.query(f"SELECT COUNTIF({fk.column} IS NOT NULL) n FROM `{target}.{spec.name}`").result())
            )["n"]
            assert filled > 0.8 * children  # references were generated, not nulled away


def test_no_source_value_of_an_identifying_column_is_copied(first_run: tuple, client: bigquery.Client) -> None:
    config, _ = first_run
    source = config.source_tables[0].rsplit(".", 1)[0]
    target = f"{config.target_project}.{config.target_dataset}"
    for table, columns in IDENTIFYING.items():
        for name in columns:
            sql = (
                f"SELECT COUNT(*) n FROM (SELECT DISTINCT {name} v FROM `{source}.{table}`) s "
                f"JOIN (SELECT DISTINCT {name} v FROM `{target}.{table}`) t ON s.v = t.v"
            )
            assert next(iter(client.query(sql).result()))["n"] == 0, f"{table}.{name}"


def test_audit_rows_record_every_state_change(first_run: tuple, client: bigquery.Client) -> None:
    config, summary = first_run
    rows = read_audit(client, config.audit_table, summary.batch_id)
    states = {(r.table_name, r.stage, r.status) for r in rows}
    for table in by_table(summary):
        for stage in ("profile", "generate", "load"):
            assert (table, stage, "In Progress") in states and (table, stage, "Completed") in states, (table, stage)
    assert (None, "run", "Completed") in states
    generated = [r for r in rows if r.stage == "generate" and r.status == "Completed"]
    assert all(r.num_records_generated and r.schema_ and r.column_names and r.gcs_bucket_name for r in generated)
    assert not [r for r in rows if r.status == "Failed"]


def test_a_table_in_four_shard_tasks_is_loaded_exactly_once(
    first_run: tuple, first_run_root: Path, client: bigquery.Client
) -> None:
    """Each shard was its own kfp.local task; the target holds every requested row once, by SQL."""
    config, summary = first_run
    target = f"{config.target_project}.{config.target_dataset}.Fact_Transaction"
    shards = [
        (r.shard_index, r.shard_count, r.num_records_generated)
        for r in read_audit(client, config.audit_table, summary.batch_id)
        if r.table_name == "Fact_Transaction" and r.stage == "generate" and r.status == "Completed"
    ]
    assert sorted(shards) == [(0, 4, 400), (1, 4, 400), (2, 4, 400), (3, 4, 300)]
    # One generate task per shard: 4 for Fact_Transaction, 1 for each other table.
    tasks = list(first_run_root.glob("bqsynth-*/for-loop-*-iteration-*/generate-table"))
    assert len(tasks) == len(config.source_tables) + 3
    sql = f"SELECT COUNT(*) n, COUNT(DISTINCT transaction_id) k FROM `{target}`"
    row = next(iter(client.query(sql).result()))
    assert (row["n"], row["k"]) == (COUNTS["Fact_Transaction"], COUNTS["Fact_Transaction"])
    assert (
        count_orphans(
            client,
            target,
            ["account_id"],
            f"{config.target_project}.{config.target_dataset}.Dim_Account",
            ["account_id"],
        )
        == 0
    )
    assert by_table(summary)["Fact_Transaction"].duplicate_primary_keys == 0


def test_loading_the_same_batch_again_adds_no_rows(first_run: tuple, tmp_path: Path) -> None:
    config, summary = first_run
    again = run_local_pipeline(config, str(tmp_path))
    assert again.batch_id == summary.batch_id
    assert {t: q.rows_in_target for t, q in by_table(again).items()} == {
        t: q.rows_in_target for t, q in by_table(summary).items()
    }


def test_the_same_seed_gives_identical_data(
    first_run: tuple, source: str, client: bigquery.Client, tmp_path: Path
) -> None:
    config, _ = first_run
    other = f"it_same_{uuid.uuid4().hex[:8]}"
    try:
        summary = run_local_pipeline(make_config(source, other), str(tmp_path))
        assert summary.ok

        def content(dataset: str, table: str) -> list[str]:
            sql = f"SELECT TO_JSON_STRING(t) j FROM `{config.target_project}.{dataset}.{table}` t"
            return sorted(row["j"] for row in client.query(sql).result())

        for table in by_table(summary):
            assert content(other, table) == content(config.target_dataset, table), table
    finally:
        client.delete_dataset(other, delete_contents=True, not_found_ok=True)


def test_one_failing_table_is_audited_and_does_not_stop_the_others(
    source: str, client: bigquery.Client, tmp_path: Path
) -> None:
    target = f"it_fail_{uuid.uuid4().hex[:8]}"
    project = client.project
    client.create_dataset(target)
    # A target that exists with another schema must be refused, and left as it was.
    client.create_table(
        bigquery.Table(f"{project}.{target}.Dim_Product", schema=[bigquery.SchemaField("product_id", "INT64")])
    )
    config = make_config(
        source, target, source_tables=[f"{source}.Dim_Branch", f"{source}.Dim_Product", f"{source}.Dim_Nowhere"]
    )
    try:
        summary = run_local_pipeline(config, str(tmp_path))
        tables = by_table(summary)
        assert tables["Dim_Branch"].status == "Completed" and tables["Dim_Branch"].rows_in_target == 20
        assert tables["Dim_Product"].status == "Failed" and "Dim_Product" in (tables["Dim_Product"].error or "")
        assert tables["Dim_Nowhere"].status == "Failed" and "Dim_Nowhere" in (tables["Dim_Nowhere"].error or "")
        assert not summary.ok
        failed = {
            (r.table_name, r.stage)
            for r in read_audit(client, config.audit_table, summary.batch_id)
            if r.status == "Failed" and r.error_message
        }
        assert {("Dim_Product", "load"), ("Dim_Nowhere", "profile"), (None, "run")} <= failed
        untouched = client.get_table(f"{project}.{target}.Dim_Product")
        assert [f.name for f in untouched.schema] == ["product_id"] and count_rows(
            client, untouched.full_table_id.replace(":", ".")
        ) == 0
    finally:
        client.delete_dataset(target, delete_contents=True, not_found_ok=True)
