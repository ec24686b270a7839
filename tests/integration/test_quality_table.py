"""The quality table against BigQuery (the emulator via ``local_stack``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from google.cloud import bigquery

from bqsynth.delivery import quality_table
from bqsynth.gcp.clients import bigquery_client
from bqsynth.gcp.schema import columns_from_bigquery
from bqsynth.models import ColumnQuality, TableFidelity, TablePrivacy, TableQuality


@pytest.fixture
def bq(local_stack: object) -> bigquery.Client:
    return bigquery_client()


@pytest.fixture
def dataset(bq: bigquery.Client) -> Iterator[str]:
    """A dataset id that does not exist yet; the code under test creates it."""
    dataset_id = f"{bq.project}.bqsynth_quality_it_{uuid.uuid4().hex[:10]}"
    yield dataset_id
    bq.delete_dataset(dataset_id, delete_contents=True, not_found_ok=True)


def table_quality(table: str, **overrides: object) -> TableQuality:
    values: dict = dict(
        table=table,
        target_table=f"p.d.{table}",
        rows_requested=100,
        rows_generated=100,
        rows_loaded=100,
        rows_in_target=100,
        duplicate_primary_keys=0,
        foreign_key_orphans=2,
        primary_key=["id"],
        foreign_keys_checked=["branch_id -> branch.id", "owner_id -> person.id"],
        not_null_violations=1,
        fidelity=TableFidelity(
            quality_score=0.875,
            column_shapes=0.9,
            column_pair_trends=0.85,
            cardinality=0.7,
            source_rows=100,
            synthetic_rows=100,
            columns=[
                ColumnQuality(column="age", semantic_type="number", shape_metric="KSComplement", shape_score=0.9),
                ColumnQuality(column="email", semantic_type="email", validity_rule="email", validity=1.0),
            ],
        ),
        privacy=TablePrivacy(
            identifying_values_leaked=1,
            identifying_columns_checked=["email", "phone"],
            exact_row_copies=0,
            rare_categories_emitted=3,
            min_category_count=5,
            dcr_median=0.2,
            dcr_p05=0.05,
            dcr_baseline_median=0.19,
        ),
        validity=1.0,
        status="Completed",
        seconds=3.5,
    )
    values.update(overrides)
    return TableQuality(**values)


def test_quality_table_is_created_partitioned_and_clustered(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.bqsynth_quality"
    quality_table.ensure_quality_table(bq, table_id)
    quality_table.ensure_quality_table(bq, table_id)  # a second step changes nothing

    table = bq.get_table(table_id)
    expected = [(f.name, f.field_type, f.mode) for f in quality_table.quality_schema()]
    assert [(c.name, c.type, c.mode) for c in columns_from_bigquery(table.schema)] == expected
    assert {mode for _, _, mode in expected} == {"NULLABLE"}
    assert table.time_partitioning is not None and table.time_partitioning.field == "insert_timestamp"
    assert table.clustering_fields == ["batch_id", "table_name"]


def test_an_older_quality_table_gets_the_missing_columns(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.old_quality"
    bq.create_dataset(dataset)
    bq.create_table(bigquery.Table(table_id, schema=quality_table.quality_schema()[:6]))
    quality_table.ensure_quality_table(bq, table_id)
    assert [f.name for f in bq.get_table(table_id).schema] == [f.name for f in quality_table.quality_schema()]


def test_one_row_per_table_is_written_flat_and_read_back(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.bqsynth_quality"
    quality_table.ensure_quality_table(bq, table_id)
    batch = f"b-{uuid.uuid4().hex[:8]}"
    failed = table_quality("branch", status="Failed", error="load refused", fidelity=None, privacy=None, validity=None)
    quality_table.write_quality_rows(bq, table_id, batch, [table_quality("customer"), failed])
    quality_table.write_quality_rows(bq, table_id, "another-batch", [table_quality("customer")])

    rows = {row["table_name"]: row for row in quality_table.read_quality_rows(bq, table_id, batch)}
    assert sorted(rows) == ["branch", "customer"]
    customer = rows["customer"]
    assert customer["batch_id"] == batch and customer["target_table"] == "p.d.customer"
    assert (customer["foreign_key_orphans"], customer["not_null_violations"], customer["type_violations"]) == (2, 1, 0)
    assert customer["foreign_keys_checked"] == "branch_id -> branch.id;owner_id -> person.id"
    assert (customer["quality_score"], customer["cardinality"], customer["validity"]) == (0.875, 0.7, 1.0)
    assert customer["identifying_columns_checked"] == "email,phone"
    assert (customer["identifying_values_leaked"], customer["rare_categories_emitted"]) == (1, 3)
    assert (customer["dcr_median"], customer["dcr_p05"], customer["dcr_baseline_median"]) == (0.2, 0.05, 0.19)
    details = json.loads(customer["column_details"])
    assert [ColumnQuality.model_validate(d) for d in details] == table_quality("customer").fidelity.columns  # type: ignore[union-attr]
    assert customer["insert_timestamp"] is not None

    branch = rows["branch"]
    assert (branch["status"], branch["error_message"]) == ("Failed", "load refused")
    assert branch["quality_score"] is None and branch["column_details"] is None and branch["dcr_median"] is None


def test_a_retried_write_of_the_same_batch_is_deduplicated(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.bqsynth_quality"
    quality_table.ensure_quality_table(bq, table_id)
    batch = f"b-{uuid.uuid4().hex[:8]}"
    quality_table.write_quality_rows(bq, table_id, batch, [table_quality("customer")])
    quality_table.write_quality_rows(bq, table_id, batch, [table_quality("customer")])  # the step is retried
    count = next(iter(bq.query(f"SELECT COUNT(*) AS n FROM `{table_id}` WHERE batch_id = '{batch}'").result()))["n"]
    assert count == 1
    assert len(quality_table.read_quality_rows(bq, table_id, batch)) == 1


def test_writing_to_a_missing_table_or_a_foreign_schema_fails_clearly(bq: bigquery.Client, dataset: str) -> None:
    with pytest.raises(quality_table.QualityTableError, match="Call ensure_quality_table first"):
        quality_table.write_quality_rows(bq, f"{dataset}.missing", "b", [table_quality("customer")])
    with pytest.raises(quality_table.QualityTableError, match="must be project.dataset.table"):
        quality_table.ensure_quality_table(bq, "no-dots")

    table_id = f"{dataset}.foreign"
    bq.create_dataset(dataset, exists_ok=True)
    bq.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField("batch_id", "INT64")]))
    with pytest.raises(quality_table.QualityTableError, match="rejected quality rows"):
        quality_table.write_quality_rows(bq, table_id, "not-a-number", [table_quality("customer")])
