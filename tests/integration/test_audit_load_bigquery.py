"""Audit trail, upload, load and integrity checks against BigQuery and GCS (the emulators via ``local_stack``)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery, storage

from bqsynth.delivery import audit, load
from bqsynth.evaluation import integrity
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.gcp.schema import columns_from_bigquery, schema_differences
from bqsynth.models import ColumnSchema


@pytest.fixture
def bq(local_stack: object) -> bigquery.Client:
    return bigquery_client()


@pytest.fixture
def gcs(local_stack: object) -> storage.Client:
    return storage_client()


@pytest.fixture
def dataset(bq: bigquery.Client) -> Iterator[str]:
    """A dataset id that does not exist yet; the code under test creates it."""
    dataset_id = f"{bq.project}.bqsynth_al_it_{uuid.uuid4().hex[:10]}"
    yield dataset_id
    bq.delete_dataset(dataset_id, delete_contents=True, not_found_ok=True)


@pytest.fixture
def bucket(gcs: storage.Client) -> Iterator[str]:
    """A bucket name that does not exist yet; ``upload_files`` creates it."""
    name = f"bqsynth-al-it-{uuid.uuid4().hex[:10]}"
    yield name
    existing = gcs.lookup_bucket(name)
    if existing is not None:
        for blob in gcs.list_blobs(name):
            blob.delete()
        existing.delete()


def _rows(client: bigquery.Client, sql: str) -> list[dict[str, Any]]:
    return [dict(row.items()) for row in client.query(sql).result()]


# ---------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------


def test_audit_table_is_created_when_missing_with_its_schema(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.bqsynth_audit"
    audit.ensure_audit_table(bq, table_id)
    audit.ensure_audit_table(bq, table_id)  # a second call (another step) changes nothing

    table = bq.get_table(table_id)
    expected = [(f.name, f.field_type, f.mode) for f in audit.audit_schema()]
    actual = [(c.name, c.type, c.mode) for c in columns_from_bigquery(table.schema)]
    assert actual == expected
    assert table.time_partitioning is not None and table.time_partitioning.field == "insert_timestamp"


def test_audit_table_missing_columns_are_added(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.old_audit"
    bq.create_dataset(dataset)
    bq.create_table(bigquery.Table(table_id, schema=audit.audit_schema()[:5]))
    audit.ensure_audit_table(bq, table_id)
    assert [f.name for f in bq.get_table(table_id).schema] == [f.name for f in audit.audit_schema()]


def test_audit_rows_from_four_threads_at_once_all_land(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.bqsynth_audit"
    audit.ensure_audit_table(bq, table_id)
    batch = f"b-{uuid.uuid4().hex[:8]}"
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def step(index: int) -> None:
        try:
            client = bigquery_client()  # one client per parallel step, as in the pipeline
            begun = audit.AuditRecord(batch_id=batch, stage="load", status="In Progress", table_name=f"t{index}")
            start.wait()
            audit.write_audit(client, table_id, begun)
            outcome = "Failed" if index == 3 else "Completed"
            error = "boom" if index == 3 else None
            audit.write_audit(client, table_id, begun.evolve(status=outcome, error_message=error))
        except BaseException as error:  # noqa: BLE001 - re-raised below in the main thread
            failures.append(error)

    threads = [threading.Thread(target=step, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    audit.write_audit(bq, table_id, audit.AuditRecord(batch_id="another", stage="run", status="Completed"))

    records = audit.read_audit(bq, table_id, batch)  # read at once: streamed rows are visible
    assert len(records) == 8
    by_table: dict[str, list[str]] = {}
    for record in records:
        by_table.setdefault(record.table_name or "", []).append(record.status)
    assert by_table == {
        "t0": ["In Progress", "Completed"],
        "t1": ["In Progress", "Completed"],
        "t2": ["In Progress", "Completed"],
        "t3": ["In Progress", "Failed"],
    }
    assert [r.error_message for r in records if r.status == "Failed"] == ["boom"]
    assert [r.insert_timestamp for r in records] == sorted(r.insert_timestamp for r in records)


def test_audit_record_round_trips_every_field(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.bqsynth_audit"
    audit.ensure_audit_table(bq, table_id)
    record = audit.AuditRecord(
        batch_id="b-all",
        stage="generate",
        status="Completed",
        table_name="orders",
        source_table="p.src.orders",
        target_table="p.tgt.orders",
        gcs_bucket_name="bkt",
        input_gcs_path="gs://bkt/bqsynth/batches/b-all/orders/",
        header_gcs_path="gs://bkt/header.txt",
        user_requested_table_count=3,
        column_header_flag=False,
        delimiter="|",
        custom_header="# generated",
        num_records_generated=1000,
        seconds=2.25,
        insert_timestamp=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    ).with_columns([ColumnSchema(name="id", type="INT64", mode="REQUIRED")])
    audit.write_audit(bq, table_id, record)
    assert audit.read_audit(bq, table_id, "b-all") == [record]


def test_write_audit_raises_a_clear_error_on_a_foreign_table(bq: bigquery.Client, dataset: str) -> None:
    table_id = f"{dataset}.not_an_audit_table"
    bq.create_dataset(dataset)
    bq.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField("batch_id", "STRING")]))
    record = audit.AuditRecord(batch_id="b", stage="run", status="In Progress")
    with pytest.raises(audit.AuditError, match="rejected the audit row"):
        audit.write_audit(bq, table_id, record)


# ---------------------------------------------------------------------------------------------
# Upload and load
# ---------------------------------------------------------------------------------------------

ALL_TYPES = [
    ColumnSchema(name="id", type="INT64", mode="REQUIRED", description="Row key"),
    ColumnSchema(name="s", type="STRING"),
    ColumnSchema(name="num", type="NUMERIC"),
    ColumnSchema(name="f", type="FLOAT64"),
    ColumnSchema(name="flag", type="BOOL"),
    ColumnSchema(name="d", type="DATE"),
    ColumnSchema(name="dt", type="DATETIME"),
    ColumnSchema(name="ts", type="TIMESTAMP"),
    ColumnSchema(
        name="address",
        type="RECORD",
        fields=[
            ColumnSchema(name="city", type="STRING"),
            ColumnSchema(name="geo", type="RECORD", fields=[ColumnSchema(name="lat", type="FLOAT64")]),
        ],
    ),
    ColumnSchema(name="tags", type="STRING", mode="REPEATED"),
    ColumnSchema(
        name="items",
        type="RECORD",
        mode="REPEATED",
        fields=[ColumnSchema(name="sku", type="STRING"), ColumnSchema(name="qty", type="INT64")],
    ),
]

FULL_ROW = {
    "id": 9223372036854775807,
    "s": 'héllo, "world"\n|tab\t',
    "num": "12345678901234567890.123456789",
    "f": 0.1,
    "flag": True,
    "d": "2024-02-29",
    "dt": "2024-01-01T12:34:56.123456",
    "ts": "2024-06-30T23:59:59.999999+02:00",
    "address": {"city": "Zürich", "geo": {"lat": -47.376887}},
    "tags": ["a", "b", ""],
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": -3}],
}
EMPTY_ROW = {
    "id": -9223372036854775808,
    "s": None,
    "num": "-0.000000001",
    "f": -1e300,
    "flag": False,
    "d": None,
    "dt": None,
    "ts": "1970-01-01T00:00:00Z",
    "address": None,
    "tags": [],
    "items": [],
}
EXPECTED = [
    {
        "id": -9223372036854775808,
        "s": None,
        "num": Decimal("-0.000000001"),
        "f": -1e300,
        "flag": False,
        "d": None,
        "dt": None,
        "ts": datetime(1970, 1, 1, tzinfo=UTC),
        "address": None,
        "tags": [],
        "items": [],
    },
    {
        "id": 9223372036854775807,
        "s": 'héllo, "world"\n|tab\t',
        "num": Decimal("12345678901234567890.123456789"),
        "f": 0.1,
        "flag": True,
        "d": date(2024, 2, 29),
        "dt": datetime(2024, 1, 1, 12, 34, 56, 123456),
        "ts": datetime(2024, 6, 30, 21, 59, 59, 999999, tzinfo=UTC),
        "address": {"city": "Zürich", "geo": {"lat": -47.376887}},
        "tags": ["a", "b", ""],
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": -3}],
    },
]


def _write_ndjson(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def _numbered(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": start + i, "s": f"row {start + i}"} for i in range(count)]


def _upload(gcs: storage.Client, bucket: str, batch: str, table: str, files: list[Path]) -> list[str]:
    return load.upload_files(gcs, bucket, load.batch_prefix(batch, table), files)


def test_upload_and_load_every_type_exactly(
    bq: bigquery.Client, gcs: storage.Client, bucket: str, dataset: str, tmp_path: Path
) -> None:
    files = [
        _write_ndjson(tmp_path / "part-00000.json", [FULL_ROW]),
        _write_ndjson(tmp_path / "part-00001.json", [EMPTY_ROW]),
    ]
    uris = _upload(gcs, bucket, "b1", "all_types", files)
    prefix = load.batch_prefix("b1", "all_types")
    assert uris == [f"gs://{bucket}/{prefix}part-00000.json", f"gs://{bucket}/{prefix}part-00001.json"]
    assert _upload(gcs, bucket, "b1", "all_types", files) == uris  # re-upload: same objects
    assert sorted(blob.name for blob in gcs.list_blobs(bucket, prefix=prefix)) == [
        f"{prefix}part-00000.json",
        f"{prefix}part-00001.json",
    ]

    table_id = f"{dataset}.all_types"
    assert load.load_table(bq, table_id, uris, ALL_TYPES, "b1") == 2

    # local-bigquery 0.3.2 turns REQUIRED into NULLABLE on a WRITE_TRUNCATE load (BigQuery keeps
    # it), so after the load only compatibility is asserted; creation is exact (test below).
    assert schema_differences(ALL_TYPES, columns_from_bigquery(bq.get_table(table_id).schema)) == []
    assert _rows(bq, f"SELECT * FROM `{table_id}` ORDER BY id") == EXPECTED


@pytest.mark.parametrize("disposition", ["WRITE_APPEND", "WRITE_TRUNCATE"])
def test_loading_the_same_batch_twice_adds_no_rows(
    bq: bigquery.Client, gcs: storage.Client, bucket: str, dataset: str, tmp_path: Path, disposition: str
) -> None:
    columns = ALL_TYPES[:2]
    table_id = f"{dataset}.orders"
    first = _upload(gcs, bucket, "b1", "orders", [_write_ndjson(tmp_path / "b1" / "part-0.json", _numbered(5))])

    assert load.load_table(bq, table_id, first, columns, "b1", disposition) == 5  # type: ignore[arg-type]
    assert load.load_table(bq, table_id, first, columns, "b1", disposition) == 5  # type: ignore[arg-type]
    assert integrity.count_rows(bq, table_id) == 5

    second = _upload(gcs, bucket, "b2", "orders", [_write_ndjson(tmp_path / "b2" / "part-0.json", _numbered(3, 5))])
    assert load.load_table(bq, table_id, second, columns, "b2", disposition) == 3  # type: ignore[arg-type]
    assert integrity.count_rows(bq, table_id) == (8 if disposition == "WRITE_APPEND" else 3)


def test_concurrent_loads_of_one_batch_load_it_once(
    bq: bigquery.Client, gcs: storage.Client, bucket: str, dataset: str, tmp_path: Path
) -> None:
    table_id = f"{dataset}.orders"
    uris = _upload(gcs, bucket, "b1", "orders", [_write_ndjson(tmp_path / "part-0.json", _numbered(4))])
    load.ensure_target_table(bq, table_id, ALL_TYPES[:2])
    start = threading.Barrier(4)
    results: list[int] = []

    def run() -> None:
        client = bigquery_client()
        start.wait()
        results.append(load.load_table(client, table_id, uris, ALL_TYPES[:2], "b1", "WRITE_APPEND"))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [4, 4, 4, 4]
    assert integrity.count_rows(bq, table_id) == 4


def test_a_target_dropped_and_recreated_gets_the_batch_again(
    bq: bigquery.Client, gcs: storage.Client, bucket: str, dataset: str, tmp_path: Path
) -> None:
    table_id = f"{dataset}.orders"
    uris = _upload(gcs, bucket, "b1", "orders", [_write_ndjson(tmp_path / "part-0.json", _numbered(2))])
    load.load_table(bq, table_id, uris, ALL_TYPES[:2], "b1")
    bq.delete_table(table_id)
    assert load.load_table(bq, table_id, uris, ALL_TYPES[:2], "b1") == 2
    assert integrity.count_rows(bq, table_id) == 2


def test_an_incompatible_existing_target_is_refused_and_left_untouched(
    bq: bigquery.Client, gcs: storage.Client, bucket: str, dataset: str, tmp_path: Path
) -> None:
    table_id = f"{dataset}.orders"
    bq.create_dataset(dataset)
    bq.create_table(
        bigquery.Table(table_id, schema=[bigquery.SchemaField("id", "INT64"), bigquery.SchemaField("s", "INT64")])
    )
    bq.query(f"INSERT INTO `{table_id}` (id, s) VALUES (1, 42)").result()
    before = bq.get_table(table_id).schema
    uris = _upload(gcs, bucket, "b1", "orders", [_write_ndjson(tmp_path / "part-0.json", _numbered(3))])

    with pytest.raises(load.LoadError) as refused:
        load.ensure_target_table(bq, table_id, ALL_TYPES[:2])
    message = str(refused.value)
    assert "column s" in message and "STRING" in message and table_id in message
    assert "drop" in message and "another target dataset" in message

    with pytest.raises(load.LoadError, match="column s"):
        load.load_table(bq, table_id, uris, ALL_TYPES[:2], "b1", "WRITE_TRUNCATE")
    assert bq.get_table(table_id).schema == before
    assert _rows(bq, f"SELECT * FROM `{table_id}`") == [{"id": 1, "s": 42}]


def test_ensure_target_table_creates_with_description_and_accepts_its_own_table(
    bq: bigquery.Client, dataset: str
) -> None:
    table_id = f"{dataset}.orders"
    load.ensure_target_table(bq, table_id, ALL_TYPES, description="synthetic copy")
    load.ensure_target_table(bq, table_id, ALL_TYPES)  # unchanged table: no error
    table = bq.get_table(table_id)
    assert table.description == "synthetic copy"
    assert columns_from_bigquery(table.schema) == ALL_TYPES


@pytest.mark.parametrize("disposition", ["WRITE_APPEND", "WRITE_TRUNCATE"])
def test_a_bad_value_fails_the_load_naming_table_and_file_and_changes_nothing(
    bq: bigquery.Client, gcs: storage.Client, bucket: str, dataset: str, tmp_path: Path, disposition: str
) -> None:
    table_id = f"{dataset}.orders"
    columns = ALL_TYPES[:2]
    good = _upload(gcs, bucket, "b1", "orders", [_write_ndjson(tmp_path / "b1" / "part-0.json", _numbered(3))])
    load.load_table(bq, table_id, good, columns, "b1")
    files = [
        _write_ndjson(tmp_path / "b2" / "part-0.json", _numbered(2, 10)),
        _write_ndjson(tmp_path / "b2" / "part-1.json", [{"id": 20}, {"id": "abc", "s": "bad"}]),
        _write_ndjson(tmp_path / "b2" / "part-2.json", _numbered(2, 30)),
    ]
    bad = _upload(gcs, bucket, "b2", "orders", files)

    with pytest.raises(load.LoadError) as failed:
        load.load_table(bq, table_id, bad, columns, "b2", disposition)  # type: ignore[arg-type]
    message = str(failed.value)
    assert table_id in message
    assert message.split("File(s): ")[1].split(". Nothing")[0] == bad[1]
    assert "Nothing was written" in message

    assert sorted(r["id"] for r in _rows(bq, f"SELECT id FROM `{table_id}`")) == [0, 1, 2]
    assert [t.table_id for t in bq.list_tables(dataset)] == ["orders"]  # no scratch table left

    fixed = _write_ndjson(tmp_path / "b2" / "part-1.json", [{"id": 20}, {"id": 21, "s": "fixed"}])
    _upload(gcs, bucket, "b2", "orders", [fixed])
    # The failed attempt's job id is spent; the re-run takes the next one and loads.
    assert load.load_table(bq, table_id, bad, columns, "b2", disposition) == 6  # type: ignore[arg-type]


def test_a_missing_file_is_named(
    bq: bigquery.Client, gcs: storage.Client, bucket: str, dataset: str, tmp_path: Path
) -> None:
    uris = _upload(gcs, bucket, "b1", "orders", [_write_ndjson(tmp_path / "part-0.json", _numbered(1))])
    missing = f"gs://{bucket}/{load.batch_prefix('b1', 'orders')}part-9.json"
    with pytest.raises(load.LoadError) as failed:
        load.load_table(bq, f"{dataset}.orders", [*uris, missing], ALL_TYPES[:2], "b1")
    assert missing in str(failed.value)


# ---------------------------------------------------------------------------------------------
# Integrity
# ---------------------------------------------------------------------------------------------


def _table(client: bigquery.Client, table_id: str, schema: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    client.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField(n, t) for n, t in schema]))
    assert client.insert_rows_json(table_id, rows) == []


def test_duplicates_and_orphans_are_counted_exactly(bq: bigquery.Client, dataset: str) -> None:
    bq.create_dataset(dataset)
    parent, child, people = f"{dataset}.parent", f"{dataset}.child", f"{dataset}.people"
    _table(
        bq,
        parent,
        [("a", "INT64"), ("b", "STRING")],
        [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 2, "b": "x"}, {"a": 2, "b": "x"}, {"a": 3, "b": None}],
    )
    _table(
        bq,
        child,
        [("select", "INT64"), ("pb", "STRING")],  # a reserved word as a column name
        [
            {"select": 1, "pb": "x"},  # matches
            {"select": 2, "pb": "x"},  # matches (a duplicated parent counts once)
            {"select": 9, "pb": "x"},  # orphan
            {"select": 1, "pb": "y"},  # orphan: only half of the composite key matches
            {"select": None, "pb": "x"},  # not checked: NULL reference
            {"select": 3, "pb": None},  # not checked, although parent (3, NULL) exists
        ],
    )
    _table(
        bq,
        people,
        [("id", "INT64"), ("manager_id", "INT64")],
        [{"id": 1, "manager_id": None}, {"id": 2, "manager_id": 1}, {"id": 3, "manager_id": 7}],
    )

    assert integrity.count_rows(bq, parent) == 5
    # (2, x) three times: 2 extra rows; (3, NULL) has a NULL key: 1.
    assert integrity.count_duplicate_keys(bq, parent, ["a", "b"]) == 3
    assert integrity.count_duplicate_keys(bq, parent, ["a"]) == 2
    assert integrity.count_duplicate_keys(bq, people, ["id"]) == 0
    assert integrity.count_orphans(bq, child, ["select", "pb"], parent, ["a", "b"]) == 2
    assert integrity.count_orphans(bq, child, ["select"], parent, ["a"]) == 1
    assert integrity.count_orphans(bq, people, ["manager_id"], people, ["id"]) == 1


@pytest.mark.parametrize(
    "partition",
    [
        {"time_partitioning": bigquery.TimePartitioning(type_="MONTH", field="day")},
        {
            "range_partitioning": bigquery.RangePartitioning(
                bigquery.PartitionRange(start=0, end=1000, interval=50), field="id"
            )
        },
    ],
    ids=["month-by-day", "integer-range"],
)
def test_a_target_is_partitioned_and_clustered_like_its_source(
    bq: bigquery.Client, dataset: str, partition: dict[str, Any]
) -> None:
    """Issue 12, item 4: queries written for the source (partition filters, cluster pruning) work on the copy."""
    from bqsynth.sources.bigquery_profile import profile_table

    bq.create_dataset(dataset)
    schema = [
        bigquery.SchemaField("id", "INT64"),
        bigquery.SchemaField("day", "DATE"),
        bigquery.SchemaField("s", "STRING"),
    ]
    source = bigquery.Table(f"{dataset}.source", schema=schema)
    for name, value in partition.items():
        setattr(source, name, value)
    source.clustering_fields = ["s", "id"]
    bq.create_table(source)
    bq.load_table_from_json([{"id": 1, "day": "2024-01-05", "s": "a"}], f"{dataset}.source").result()

    profile = profile_table(bq, f"{dataset}.source", sample_rows=1)
    assert profile.layout is not None and profile.layout.clustering_fields == ["s", "id"]
    load.ensure_target_table(bq, f"{dataset}.target", profile.columns, layout=profile.layout)
    made, original = bq.get_table(f"{dataset}.target"), bq.get_table(f"{dataset}.source")
    assert made.clustering_fields == ["s", "id"]
    assert made.time_partitioning == original.time_partitioning
    assert made.range_partitioning == original.range_partitioning
    assert (made.time_partitioning or made.range_partitioning) is not None
