"""Pure parts of the audit trail, the loader and the integrity SQL; BigQuery is faked where needed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import bigquery

from bqsynth.delivery import audit, load
from bqsynth.evaluation import integrity
from bqsynth.gcp import sql
from bqsynth.gcp.schema import to_bigquery_schema
from bqsynth.models import ColumnSchema

JOB_ID_RULE = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")

COLUMNS = [
    ColumnSchema(name="id", type="INT64", mode="REQUIRED"),
    ColumnSchema(
        name="address",
        type="RECORD",
        fields=[ColumnSchema(name="city", type="STRING", description="City")],
    ),
]


# ---------------------------------------------------------------------------------------------
# Prefixes, object names, job ids
# ---------------------------------------------------------------------------------------------


def test_batch_prefix_is_one_folder_per_batch_and_table() -> None:
    assert load.batch_prefix("20240101T000000-abc123", "orders") == "bqsynth/batches/20240101T000000-abc123/orders/"
    # Any BigQuery table name: a non-ASCII one used to stop the run in generate_table.
    assert load.batch_prefix("b1", "Kunden_Übersicht") == "bqsynth/batches/b1/Kunden_Übersicht/"
    assert load.batch_prefix("b1", "Orders 2024-x") == "bqsynth/batches/b1/Orders 2024-x/"


@pytest.mark.parametrize(("batch", "table"), [("a/b", "t"), ("b", "../t"), ("", "t"), ("b", ".."), ("b c", "t")])
def test_batch_prefix_refuses_names_that_escape_their_folder(batch: str, table: str) -> None:
    with pytest.raises(ValueError):
        load.batch_prefix(batch, table)


def test_object_names_depend_only_on_file_names() -> None:
    prefix = load.batch_prefix("b1", "orders")
    paths = [Path("/tmp/x/part-00000.json"), Path("/other/part-00001.json")]
    assert load.object_names(prefix, paths) == [f"{prefix}part-00000.json", f"{prefix}part-00001.json"]
    assert load.object_names(prefix, paths) == load.object_names(prefix, list(paths))


def test_object_names_refuse_two_files_with_one_name() -> None:
    with pytest.raises(ValueError, match="same object"):
        load.object_names("p/", [Path("/a/part.json"), Path("/b/part.json")])


def test_content_type_by_suffix() -> None:
    assert load.content_type(Path("x.json")) == "application/x-ndjson"
    assert load.content_type(Path("x.CSV")) == "text/plain"
    assert load.content_type(Path("x.parquet")) == "application/octet-stream"


def test_load_job_id_is_deterministic_and_valid() -> None:
    first = load.load_job_id("proj.ds.orders", "20240101T000000-abc123")
    assert first == load.load_job_id("proj.ds.orders", "20240101T000000-abc123")
    assert JOB_ID_RULE.match(first)
    assert "orders" in first


def test_load_job_id_differs_by_table_batch_and_attempt() -> None:
    ids = {
        load.load_job_id("proj.ds.orders", "b1"),
        load.load_job_id("proj.ds.orders", "b2"),
        load.load_job_id("proj.ds2.orders", "b1"),
        load.load_job_id("other-proj.ds.orders", "b1"),
        load.load_job_id("proj.ds.orders", "b1", attempt=1),
    }
    assert len(ids) == 5


def test_load_job_id_stays_distinct_when_sanitising_makes_names_alike() -> None:
    # "b.1" and "b:1" both sanitise to "b_1"; the hash must keep them apart.
    assert load.load_job_id("p.d.t", "b.1") != load.load_job_id("p.d.t", "b:1")


def test_load_job_id_is_valid_for_hostile_and_huge_names() -> None:
    job_id = load.load_job_id("my-proj.data set.tä ble`;--", "x" * 5000 + "/ü", attempt=49)
    assert JOB_ID_RULE.match(job_id)
    assert len(job_id) <= load.JOB_ID_MAX_LENGTH


def test_load_job_id_refuses_negative_attempt() -> None:
    with pytest.raises(ValueError):
        load.load_job_id("p.d.t", "b", attempt=-1)


def test_load_job_config_is_strict_ndjson() -> None:
    schema = [bigquery.SchemaField("id", "INT64")]
    config = load.load_job_config(schema, "WRITE_APPEND")
    assert config.source_format == "NEWLINE_DELIMITED_JSON"
    assert config.write_disposition == "WRITE_APPEND"
    assert config.create_disposition == "CREATE_NEVER"
    assert config.ignore_unknown_values is False
    assert config.max_bad_records == 0
    assert [f.name for f in config.schema] == ["id"]


# ---------------------------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------------------------


def test_files_named_in_errors_finds_locations_and_messages() -> None:
    uris = ["gs://b/p/part-0.json", "gs://b/p/part-1.json", "gs://b/p/part-2.json"]
    errors = [
        {"reason": "invalid", "location": "gs://b/p/part-1.json", "message": "bad value"},
        {"reason": "invalid", "message": "Error while reading data. File: gs://b/p/part-2.json."},
        {"reason": "invalid", "message": "too many errors. File: gs://b/p/*"},
    ]
    assert load.files_named_in_errors(errors, uris) == ["gs://b/p/part-1.json", "gs://b/p/part-2.json"]
    assert load.files_named_in_errors([{"message": "no file here"}], uris) == []


def test_summarise_errors_deduplicates_and_truncates() -> None:
    errors = [{"message": f"m{i % 7}"} for i in range(20)]
    text = load.summarise_errors(errors)
    assert text.startswith("m0; m1; m2; m3; m4")
    assert "(and 2 more)" in text


def test_schema_mismatch_message_lists_differences_and_says_what_to_do() -> None:
    message = load.schema_mismatch_message("p.d.t", ["column amount is STRING in the target table but NUMERIC"])
    assert "p.d.t" in message and "amount" in message
    assert "DROP TABLE `p.d.t`" in message and "another target dataset" in message


# ---------------------------------------------------------------------------------------------
# Integrity SQL
# ---------------------------------------------------------------------------------------------


def test_quote_column_backticks_every_part_and_escapes() -> None:
    assert sql.quote_column("order") == "`order`"
    assert sql.quote_column("address.city") == "`address`.`city`"
    assert sql.quote_column("we`ird") == "`we\\`ird`"
    with pytest.raises(ValueError):
        sql.quote_column("a..b")


def test_quote_table_keeps_domain_scoped_projects_whole() -> None:
    assert sql.quote_table("example.com:proj.ds.t") == "`example.com:proj.ds.t`"
    with pytest.raises(ValueError):
        sql.quote_table("p.d.t` ; DROP TABLE x --")


def test_count_rows_sql() -> None:
    assert integrity.count_rows_sql("p.d.t") == "SELECT COUNT(*) AS n FROM `p.d.t`"


def test_duplicate_keys_sql_groups_non_null_keys_and_counts_null_keys() -> None:
    sql = integrity.duplicate_keys_sql("p.d.t", ["a", "b"])
    assert "GROUP BY `a`, `b` HAVING COUNT(*) > 1" in sql
    assert "(`a` IS NULL OR `b` IS NULL)" in sql
    assert "(`a` IS NOT NULL AND `b` IS NOT NULL)" in sql
    with pytest.raises(ValueError):
        integrity.duplicate_keys_sql("p.d.t", [])


def test_orphans_sql_joins_composite_keys_and_skips_null_references() -> None:
    sql = integrity.orphans_sql("p.d.child", ["ca", "cb"], "p.d.parent", ["pa", "pb"])
    assert "FROM `p.d.child` AS c" in sql
    assert "SELECT DISTINCT `pa` AS k0, `pb` AS k1, TRUE AS matched FROM `p.d.parent`" in sql
    assert "ON c.`ca` = p.k0 AND c.`cb` = p.k1" in sql
    assert "(c.`ca` IS NOT NULL AND c.`cb` IS NOT NULL) AND p.matched IS NULL" in sql


def test_orphans_sql_refuses_mismatched_keys() -> None:
    with pytest.raises(ValueError, match="2 child columns"):
        integrity.orphans_sql("p.d.c", ["a", "b"], "p.d.p", ["a"])


# ---------------------------------------------------------------------------------------------
# Audit records
# ---------------------------------------------------------------------------------------------


def test_audit_schema_has_the_required_columns_and_types() -> None:
    types = {field.name: field.field_type for field in audit.audit_schema()}
    required = {
        "batch_id": "STRING",
        "gcs_bucket_name": "STRING",
        "input_gcs_path": "STRING",
        "header_gcs_path": "STRING",
        "user_requested_table_count": "INT64",
        "table_name": "STRING",
        "column_names": "STRING",
        "column_header_flag": "BOOL",
        "delimiter": "STRING",
        "custom_header": "STRING",
        "schema": "STRING",
        "num_records_generated": "INT64",
        "status": "STRING",
        "error_message": "STRING",
        "insert_timestamp": "TIMESTAMP",
        "stage": "STRING",
        "source_table": "STRING",
        "target_table": "STRING",
        "seconds": "FLOAT64",
    }
    assert {name: types.get(name) for name in required} == required


def test_new_audit_table_is_partitioned_and_clustered() -> None:
    table = audit.new_audit_table(bigquery.TableReference.from_string("p.d.audit"))
    assert table.time_partitioning.field == "insert_timestamp"
    assert table.clustering_fields == ["batch_id", "table_name"]


def _record(**fields: Any) -> audit.AuditRecord:
    base: dict[str, Any] = {
        "batch_id": "b1",
        "stage": "load",
        "status": "Completed",
        "table_name": "orders",
        "insert_timestamp": datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    }
    return audit.AuditRecord(**(base | fields))


def test_audit_record_row_matches_the_audit_columns() -> None:
    row = _record(num_records_generated=10, column_header_flag=True, seconds=1.5).to_row()
    assert set(row) == {name for name, _, _ in audit.AUDIT_COLUMNS}
    assert row["insert_timestamp"] == "2024-01-02T03:04:05.678901Z"
    assert row["num_records_generated"] == 10 and row["column_header_flag"] is True
    json.dumps(row)  # serialisable as the streaming API needs


def test_audit_record_naive_timestamp_is_taken_as_utc() -> None:
    row = _record(insert_timestamp=datetime(2024, 1, 2, 3, 4, 5)).to_row()
    assert row["insert_timestamp"] == "2024-01-02T03:04:05Z"


def test_audit_record_round_trips_through_a_row() -> None:
    record = _record(error_message="boom", status="Failed").with_columns(COLUMNS)
    row = record.to_row() | {"unknown_future_column": 1}
    row["insert_timestamp"] = record.insert_timestamp  # BigQuery hands back a datetime
    assert audit.AuditRecord.from_row(row) == record


def test_with_columns_records_names_and_schema_json() -> None:
    record = _record().with_columns(COLUMNS)
    assert record.column_names == "id,address"
    parsed = [ColumnSchema.model_validate(c) for c in json.loads(record.schema_ or "[]")]
    assert parsed == COLUMNS
    assert record.to_row()["schema"] == record.schema_


def test_audit_record_accepts_schema_by_its_column_name() -> None:
    assert audit.AuditRecord(batch_id="b", stage="run", status="In Progress", schema="[]").schema_ == "[]"


def test_audit_record_rejects_unknown_status_and_stage() -> None:
    with pytest.raises(ValueError):
        _record(status="Done")
    with pytest.raises(ValueError):
        _record(stage="export")


def test_insert_id_is_deterministic_per_record() -> None:
    assert _record().insert_id() == _record().insert_id()
    assert _record().insert_id() != _record(status="Failed").insert_id()


def test_evolve_validates_and_moves_the_timestamp() -> None:
    started = _record(status="In Progress")
    done = started.evolve(status="Completed", num_records_generated=5)
    assert done.status == "Completed" and done.num_records_generated == 5
    assert done.insert_timestamp > started.insert_timestamp
    assert started.evolve(insert_timestamp=started.insert_timestamp).insert_timestamp == started.insert_timestamp
    with pytest.raises(ValueError):
        started.evolve(status="Done")


def test_read_audit_sql_orders_by_time_then_life_cycle() -> None:
    sql = audit.read_audit_sql("p.d.audit")
    assert "FROM `p.d.audit` WHERE batch_id = @batch_id" in sql
    assert sql.index("insert_timestamp") < sql.index("CASE status WHEN 'In Progress' THEN 0")


class _FakeAuditClient:
    project = "p"

    def __init__(self, insert_result: list[dict[str, Any]] | Exception, table_exists: bool = True) -> None:
        self.insert_result = insert_result
        self.table_exists = table_exists
        self.calls: list[tuple[str, list[dict[str, Any]], list[str]]] = []

    def insert_rows_json(self, table: str, rows: list[dict[str, Any]], row_ids: list[str]) -> list[dict[str, Any]]:
        self.calls.append((table, rows, row_ids))
        if isinstance(self.insert_result, Exception):
            raise self.insert_result
        return self.insert_result

    def get_table(self, table: str) -> object:
        if not self.table_exists:
            raise exceptions.NotFound("no table")
        return object()


def test_write_audit_streams_one_row_with_its_insert_id() -> None:
    client = _FakeAuditClient([])
    record = _record()
    audit.write_audit(client, "p.d.audit", record)  # type: ignore[arg-type]
    assert client.calls == [("p.d.audit", [record.to_row()], [record.insert_id()])]


def test_write_audit_raises_when_bigquery_rejects_the_row() -> None:
    rejected = [{"index": 0, "errors": [{"location": "status", "message": "no such field: status."}]}]
    with pytest.raises(audit.AuditError, match="no such field: status"):
        audit.write_audit(_FakeAuditClient(rejected), "p.d.audit", _record())  # type: ignore[arg-type]


def test_write_audit_fails_fast_when_the_table_is_missing() -> None:
    client = _FakeAuditClient(exceptions.NotFound("Table p:d.audit not found"), table_exists=False)
    with pytest.raises(audit.AuditError, match="ensure_audit_table"):
        audit.write_audit(client, "p.d.audit", _record())  # type: ignore[arg-type]
    assert len(client.calls) == 1


# ---------------------------------------------------------------------------------------------
# The load attempt loop, against a fake BigQuery that behaves as the real one does
# ---------------------------------------------------------------------------------------------


class _FakeJob(bigquery.LoadJob):
    def __init__(self, job_id: str, rows: int, error: dict[str, Any] | None, ended: datetime) -> None:
        self._fake = {"job_id": job_id, "rows": rows, "error": error, "ended": ended}

    @property
    def job_id(self) -> str:  # type: ignore[override]
        return self._fake["job_id"]

    @property
    def output_rows(self) -> int:  # type: ignore[override]
        return self._fake["rows"]

    @property
    def error_result(self) -> dict[str, Any] | None:  # type: ignore[override]
        return self._fake["error"]

    @property
    def errors(self) -> list[dict[str, Any]] | None:  # type: ignore[override]
        return [self._fake["error"]] if self._fake["error"] else None

    @property
    def ended(self) -> datetime:  # type: ignore[override]
        return self._fake["ended"]

    def result(self, *args: Any, **kwargs: Any) -> _FakeJob:  # type: ignore[override]
        if self._fake["error"]:
            raise exceptions.BadRequest(self._fake["error"]["message"])
        return self


class _FakeLoadClient:
    """Job ids are unique, failed jobs keep theirs; each new load either adds rows or fails."""

    project = "p"

    def __init__(self, table_created: datetime, fail_with: str | None = None) -> None:
        self.jobs: dict[str, _FakeJob] = {}
        self.fail_with = fail_with
        self.created = table_created
        self.loads: list[str] = []

    def get_dataset(self, reference: object) -> object:
        return object()

    def get_table(self, reference: bigquery.TableReference) -> bigquery.Table:
        table = bigquery.Table(reference, schema=to_bigquery_schema(COLUMNS))
        table._properties["creationTime"] = str(int(self.created.timestamp() * 1000))
        table._properties["location"] = "US"
        return table

    def load_table_from_uri(self, uris: list[str], destination: object, job_id: str, **_: Any) -> _FakeJob:
        if job_id in self.jobs:
            raise exceptions.Conflict(f"Already Exists: Job p:{job_id}")
        error = {"reason": "invalid", "message": self.fail_with} if self.fail_with else None
        self.jobs[job_id] = _FakeJob(job_id, 0 if error else 3, error, datetime.now(UTC))
        self.loads.append(job_id)
        return self.jobs[job_id]

    def get_job(self, job_id: str, location: str | None = None) -> _FakeJob:
        return self.jobs[job_id]


def _load(client: _FakeLoadClient, disposition: load.WriteDisposition = "WRITE_APPEND") -> int:
    return load.load_table(client, "p.d.t", ["gs://b/x/part-0.json"], COLUMNS, "b1", disposition)  # type: ignore[arg-type]


def test_load_twice_runs_one_job() -> None:
    client = _FakeLoadClient(table_created=datetime.now(UTC) - timedelta(hours=1))
    assert _load(client) == 3
    assert _load(client) == 3
    assert client.loads == [load.load_job_id("p.d.t", "b1", 0)]


def test_a_failed_attempt_is_skipped_on_the_rerun() -> None:
    client = _FakeLoadClient(table_created=datetime.now(UTC) - timedelta(hours=1), fail_with="bad value abc")
    with pytest.raises(load.LoadError) as failure:
        _load(client)
    message = str(failure.value)
    assert "p.d.t" in message and "gs://b/x/part-0.json" in message and "bad value abc" in message
    client.fail_with = None
    assert _load(client) == 3
    assert client.loads == [load.load_job_id("p.d.t", "b1", 0), load.load_job_id("p.d.t", "b1", 1)]
    assert _load(client) == 3 and len(client.loads) == 2


def test_a_table_recreated_after_the_load_is_loaded_again() -> None:
    client = _FakeLoadClient(table_created=datetime.now(UTC) - timedelta(hours=1))
    _load(client)
    client.created = datetime.now(UTC) + timedelta(seconds=1)  # dropped and recreated since
    assert _load(client) == 3
    assert len(client.loads) == 2


def test_load_refuses_an_empty_batch_and_unknown_dispositions() -> None:
    client = _FakeLoadClient(table_created=datetime.now(UTC))
    with pytest.raises(load.LoadError, match="no files"):
        load.load_table(client, "p.d.t", [], COLUMNS, "b1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        load.load_table(client, "p.d.t", ["gs://b/x"], COLUMNS, "b1", "WRITE_EMPTY")  # type: ignore[arg-type]


def test_only_transient_load_failures_are_tried_again() -> None:
    conflict = 'Catalog write-write conflict on create with "gcs_emulator"'  # two emulator loads at once
    assert load.transient_failure({"reason": "invalid", "message": conflict})
    assert load.transient_failure({"reason": "backendError", "message": "Backend error. Please retry."})
    assert not load.transient_failure({"reason": "invalid", "message": "Could not parse 'abc' as INT64"})
    assert not load.transient_failure({"reason": "notFound", "message": "Not found: URI gs://b/x.json"})


def test_unfinished_work_is_what_no_later_row_closed_per_stage_table_and_shard() -> None:
    from bqsynth.delivery.audit import AuditRecord, unfinished

    def row(stage: str, status: str, table: str | None = None, shard: int | None = None) -> AuditRecord:
        return AuditRecord(batch_id="b", stage=stage, status=status, table_name=table, shard_index=shard)

    rows = [
        row("run", "In Progress"),
        row("profile", "In Progress", "a"),
        row("profile", "Completed", "a"),
        row("generate", "In Progress", "a", 0),
        row("generate", "In Progress", "a", 1),
        row("generate", "Completed", "a", 0),
        row("profile", "In Progress", "b"),
    ]
    left = unfinished(rows)
    assert [(r.stage, r.table_name, r.shard_index) for r in left] == [("generate", "a", 1), ("profile", "b", None)]


def test_a_batch_of_parquet_files_loads_as_parquet_with_list_inference() -> None:
    assert load.source_format(["gs://b/x/T-00000.json", "gs://b/x/T-00001.json"]) == "NEWLINE_DELIMITED_JSON"
    assert load.source_format(["gs://b/x/T-00000.parquet", "gs://b/x/T-00001.PARQUET"]) == "PARQUET"
    with pytest.raises(load.LoadError, match="mixes Parquet and NDJSON"):
        load.source_format(["gs://b/x/T-00000.parquet", "gs://b/x/T-00001.json"])
    schema = [bigquery.SchemaField("tags", "STRING", "REPEATED")]
    parquet = load.load_job_config(schema, "WRITE_APPEND", "PARQUET").to_api_repr()["load"]
    # Without list inference BigQuery reads a Parquet LIST as a RECORD of list.element.
    assert parquet["sourceFormat"] == "PARQUET" and parquet["parquetOptions"] == {"enableListInference": True}
    ndjson = load.load_job_config(schema, "WRITE_APPEND").to_api_repr()["load"]
    assert ndjson["sourceFormat"] == "NEWLINE_DELIMITED_JSON" and "parquetOptions" not in ndjson
