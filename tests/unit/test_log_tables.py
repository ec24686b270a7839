"""The shared mechanics of the append-only log tables, against a fake BigQuery client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import bigquery

from bqsynth.delivery import log_tables
from bqsynth.delivery.log_tables import LogTable


class _LogError(RuntimeError):
    pass


COLUMNS: log_tables.Columns = (
    ("batch_id", "STRING", "Batch"),
    ("table_name", "STRING", "Table"),
    ("count", "INT64", "How many"),
    ("insert_timestamp", "TIMESTAMP", "When"),
)
LOG = LogTable(
    noun="test",
    columns=COLUMNS,
    error=_LogError,
    ensure_advice="Call ensure_test_table first.",
    schema_function="test_schema()",
)


def test_schema_is_all_nullable_in_column_order() -> None:
    schema = log_tables.log_schema(COLUMNS)
    assert [(f.name, f.field_type, f.mode, f.description) for f in schema] == [
        (name, kind, "NULLABLE", description) for name, kind, description in COLUMNS
    ]


def test_iso_utc_converts_to_utc_and_takes_naive_as_utc() -> None:
    assert log_tables.iso_utc(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert log_tables.iso_utc(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"
    plus_two = timezone(timedelta(hours=2))
    assert log_tables.iso_utc(datetime(2024, 1, 2, 5, 4, 5, 1, tzinfo=plus_two)) == "2024-01-02T03:04:05.000001Z"


def test_parse_table_id_uses_the_client_project_and_raises_the_log_error() -> None:
    client = _FakeClient()
    assert log_tables.parse_table_id(client, "d.t", LOG) == bigquery.TableReference.from_string("p.d.t")  # type: ignore[arg-type]
    with pytest.raises(_LogError, match="test table id must be project.dataset.table"):
        log_tables.parse_table_id(client, "no-dots", LOG)  # type: ignore[arg-type]


def test_new_log_table_is_partitioned_by_day_and_clustered_by_batch() -> None:
    table = log_tables.new_log_table(bigquery.TableReference.from_string("p.d.t"), COLUMNS)
    assert table.time_partitioning.type_ == bigquery.TimePartitioningType.DAY
    assert table.time_partitioning.field == "insert_timestamp"
    assert table.clustering_fields == ["batch_id", "table_name"]
    assert [f.name for f in table.schema] == [name for name, _, _ in COLUMNS]


def test_missing_columns_keeps_the_column_order() -> None:
    actual = log_tables.log_schema(COLUMNS)[1:2]
    assert [f.name for f in log_tables.missing_columns(actual, COLUMNS)] == ["batch_id", "count", "insert_timestamp"]


def test_describe_insert_errors_names_rows_by_label_or_field() -> None:
    errors = [
        {"index": 1, "errors": [{"location": "count", "message": "bad int"}]},
        {"index": 7, "errors": [{"reason": "invalid"}]},
    ]
    assert log_tables.describe_insert_errors(errors) == "count: bad int; row: invalid"
    assert log_tables.describe_insert_errors(errors, ["a", "b"]) == "b count: bad int; row: invalid"
    assert log_tables.describe_insert_errors([{"index": 0}]) == '[{"index": 0}]'


class _FakeClient:
    project = "p"

    def __init__(
        self,
        insert_results: list[list[dict[str, Any]] | Exception] | None = None,
        table: bigquery.Table | None = None,
        fail_with: Exception | None = None,
    ) -> None:
        self.insert_results = list(insert_results or [[]])
        self.table = table
        self.fail_with = fail_with
        self.inserts: list[tuple[str, list[dict[str, Any]], list[str]]] = []
        self.created: list[bigquery.Table] = []
        self.updated: list[list[str]] = []

    def get_dataset(self, reference: Any) -> object:
        return object()

    def create_dataset(self, dataset: Any, exists_ok: bool = False) -> Any:
        return dataset

    def get_table(self, reference: Any) -> bigquery.Table:
        if self.fail_with:
            raise self.fail_with
        if self.table is None:
            raise exceptions.NotFound("no table")
        return self.table

    def create_table(self, table: bigquery.Table, exists_ok: bool = False) -> bigquery.Table:
        self.created.append(table)
        self.table = table
        return table

    def update_table(self, table: bigquery.Table, fields: list[str]) -> bigquery.Table:
        self.updated.append(fields)
        return table

    def insert_rows_json(self, table: str, rows: list[dict[str, Any]], row_ids: list[str]) -> list[dict[str, Any]]:
        self.inserts.append((table, rows, row_ids))
        result = self.insert_results.pop(0) if len(self.insert_results) > 1 else self.insert_results[0]
        if isinstance(result, Exception):
            raise result
        return result


def test_ensure_log_table_creates_a_missing_table() -> None:
    client = _FakeClient()
    table = log_tables.ensure_log_table(client, "d.t", LOG)  # type: ignore[arg-type]
    assert client.created == [table] and client.updated == []
    assert table.clustering_fields == ["batch_id", "table_name"]


def test_ensure_log_table_adds_the_columns_an_older_table_lacks() -> None:
    older = bigquery.Table("p.d.t", schema=log_tables.log_schema(COLUMNS)[:2])
    client = _FakeClient(table=older)
    table = log_tables.ensure_log_table(client, "p.d.t", LOG)  # type: ignore[arg-type]
    assert client.created == [] and client.updated == [["schema"]]
    assert [f.name for f in table.schema] == [name for name, _, _ in COLUMNS]


def test_ensure_log_table_wraps_api_errors_with_advice() -> None:
    client = _FakeClient(fail_with=exceptions.Forbidden("denied"))
    with pytest.raises(
        _LogError, match="could not create or update the test table p.d.t: denied.*point the test table"
    ):
        log_tables.ensure_log_table(client, "p.d.t", LOG)  # type: ignore[arg-type]


def test_stream_rows_sends_rows_with_their_ids() -> None:
    client = _FakeClient()
    log_tables.stream_rows(client, "p.d.t", LOG, [{"batch_id": "b"}], ["id1"], what="the row")  # type: ignore[arg-type]
    assert client.inserts == [("p.d.t", [{"batch_id": "b"}], ["id1"])]


def test_stream_rows_raises_the_rejection_with_labels() -> None:
    rejected = [{"index": 0, "errors": [{"location": "count", "message": "bad int"}]}]
    client = _FakeClient([rejected])
    with pytest.raises(
        _LogError, match=r"BigQuery rejected rows of b in p.d.t: orders count: bad int\..*test_schema\(\)"
    ):
        log_tables.stream_rows(client, "p.d.t", LOG, [{}], ["x"], what="rows of b", row_labels=["orders"])  # type: ignore[arg-type]


def test_stream_rows_waits_out_a_404_while_the_table_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_tables, "NOT_FOUND_RETRY_SECONDS", 0.0)
    table = bigquery.Table("p.d.t")
    client = _FakeClient([exceptions.NotFound("fresh table"), []], table=table)
    log_tables.stream_rows(client, "p.d.t", LOG, [{}], ["x"], what="the row")  # type: ignore[arg-type]
    assert len(client.inserts) == 2


def test_stream_rows_fails_at_once_when_the_table_is_missing() -> None:
    client = _FakeClient([exceptions.NotFound("gone")])
    with pytest.raises(_LogError, match="test table p.d.t not found: gone. Call ensure_test_table first."):
        log_tables.stream_rows(client, "p.d.t", LOG, [{}], ["x"], what="the row")  # type: ignore[arg-type]
    assert len(client.inserts) == 1


def test_stream_rows_wraps_other_api_errors() -> None:
    client = _FakeClient([exceptions.ServiceUnavailable("busy")])
    with pytest.raises(_LogError, match="could not write the row to p.d.t: busy"):
        log_tables.stream_rows(client, "p.d.t", LOG, [{}], ["x"], what="the row")  # type: ignore[arg-type]
