"""The audit trail: one BigQuery row per state change of a table (or of the whole run).

The table is a log table (``bqsynth.delivery.log_tables``): rows are streamed, because parallel
pipeline steps write at the same moment and must not contend on the table (the reasons,
and how the emulator behaves, are given there); it is partitioned by day on
``insert_timestamp`` and clustered by batch and table.

The audit row is append-only: a table's history is its sequence of rows
(In Progress, then Completed or Failed), never an update, because streamed rows
cannot be changed by DML for a while on BigQuery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from google.api_core import exceptions
from google.cloud import bigquery
from pydantic import BaseModel, ConfigDict, Field

from bqsynth.delivery.log_tables import (
    LogTable,
    ensure_log_table,
    iso_utc,
    log_schema,
    new_log_table,
    stream_rows,
)
from bqsynth.errors import DeliveryError
from bqsynth.gcp.sql import quote_table
from bqsynth.models import ColumnSchema, Status

Stage = Literal["profile", "plan", "generate", "write_files", "load", "run"]

# (name, type, description); every column is NULLABLE so that adding one later is a
# compatible change and a record may leave what does not apply to its stage empty.
AUDIT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("batch_id", "STRING", "One pipeline run; every row of a run shares it"),
    ("stage", "STRING", "profile | plan | generate | write_files | load | run"),
    ("status", "STRING", "In Progress | Completed | Failed"),
    ("table_name", "STRING", "Short table name within the run; empty for run-level rows"),
    ("source_table", "STRING", "Source table id or gs:// path"),
    ("target_table", "STRING", "Target table id"),
    ("gcs_bucket_name", "STRING", "Bucket the generated files are written to"),
    ("input_gcs_path", "STRING", "gs:// path of the generated files (or of a file source)"),
    ("header_gcs_path", "STRING", "gs:// path of the custom header file, if any"),
    ("user_requested_table_count", "INT64", "Tables the user asked for in this run"),
    ("column_names", "STRING", "Comma-separated top-level column names"),
    ("column_header_flag", "BOOL", "Whether the files carry a header line"),
    ("delimiter", "STRING", "Field delimiter of delimited files"),
    ("custom_header", "STRING", "Custom header lines written before the data"),
    ("schema", "STRING", "JSON list of the table's columns (bqsynth ColumnSchema)"),
    ("num_records_generated", "INT64", "Rows generated (or loaded, for the load stage)"),
    ("error_message", "STRING", "Why the stage failed"),
    ("seconds", "FLOAT64", "Duration of the stage so far"),
    ("bytes_processed", "INT64", "Bytes BigQuery processed for the stage's queries (profiling's statistics)"),
    ("shard_index", "INT64", "Generate rows of a table made in shards: the shard's 0-based index"),
    ("shard_count", "INT64", "Generate rows of a table made in shards: how many shards the table has"),
    ("insert_timestamp", "TIMESTAMP", "When the row was written (UTC); the partitioning column"),
)


class AuditError(DeliveryError):
    """The audit trail could not be created, written or read."""


_AUDIT_LOG = LogTable(
    noun="audit",
    columns=AUDIT_COLUMNS,
    error=AuditError,
    ensure_advice="Call ensure_audit_table first (the pipeline does at its start).",
    schema_function="audit_schema()",
)


def audit_schema() -> list[bigquery.SchemaField]:
    return log_schema(AUDIT_COLUMNS)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def column_names_csv(columns: Sequence[ColumnSchema]) -> str:
    return ",".join(column.name for column in columns)


def schema_json(columns: Sequence[ColumnSchema]) -> str:
    """The column list as compact JSON, the same shape ``ColumnSchema`` reads back."""
    return json.dumps([column.model_dump(mode="json", exclude_defaults=True) for column in columns])


class AuditRecord(BaseModel):
    """One audit row. ``schema`` is a field name BaseModel already uses, hence the alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    batch_id: str
    stage: Stage
    status: Status
    table_name: str | None = None
    source_table: str | None = None
    target_table: str | None = None
    gcs_bucket_name: str | None = None
    input_gcs_path: str | None = None
    header_gcs_path: str | None = None
    user_requested_table_count: int | None = None
    column_names: str | None = None
    column_header_flag: bool | None = None
    delimiter: str | None = None
    custom_header: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    num_records_generated: int | None = None
    error_message: str | None = None
    seconds: float | None = None
    bytes_processed: int | None = None
    shard_index: int | None = None
    shard_count: int | None = None
    insert_timestamp: datetime = Field(default_factory=_utc_now)

    def with_columns(self, columns: Sequence[ColumnSchema]) -> AuditRecord:
        """A copy that also records the column names and the schema JSON."""
        return self.model_copy(update={"column_names": column_names_csv(columns), "schema_": schema_json(columns)})

    def evolve(self, **fields: Any) -> AuditRecord:
        """A validated copy with ``fields`` changed and, unless given, a fresh ``insert_timestamp``.

        Prefer it to ``model_copy(update=...)``, which neither validates nor moves the
        timestamp, so a Completed row would carry the time its In Progress row was made.
        """
        data = self.model_dump(by_alias=False)
        data.update(fields)
        if "insert_timestamp" not in fields:
            data["insert_timestamp"] = _utc_now()
        return AuditRecord.model_validate(data)

    def to_row(self) -> dict[str, Any]:
        """The JSON row for BigQuery: column names as in ``AUDIT_COLUMNS``, UTC ISO timestamp."""
        row = self.model_dump(mode="json", by_alias=True)
        row["insert_timestamp"] = iso_utc(self.insert_timestamp)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditRecord:
        """Read a row back; columns this version does not know are ignored, not fatal."""
        known = {name for name, _, _ in AUDIT_COLUMNS}
        return cls.model_validate({key: value for key, value in row.items() if key in known})

    def insert_id(self) -> str:
        """Deterministic ``insertId``: a retried request for the same record is de-duplicated."""
        return hashlib.sha256(json.dumps(self.to_row(), sort_keys=True).encode()).hexdigest()[:32]


def new_audit_table(reference: bigquery.TableReference) -> bigquery.Table:
    """The audit table to create, partitioned and clustered as every log table is."""
    return new_log_table(reference, AUDIT_COLUMNS)


def ensure_audit_table(client: bigquery.Client, audit_table_id: str, location: str | None = None) -> bigquery.Table:
    """Create the audit dataset and table when missing; add columns an older table lacks.

    Safe to call from parallel steps (see ``ensure_log_table``).
    """
    return ensure_log_table(client, audit_table_id, _AUDIT_LOG, location)


def write_audit(client: bigquery.Client, audit_table_id: str, record: AuditRecord) -> None:
    """Stream one audit row; raise ``AuditError`` when BigQuery rejects it."""
    stream_rows(
        client,
        audit_table_id,
        _AUDIT_LOG,
        [record.to_row()],
        [record.insert_id()],
        what=f"the audit row for batch {record.batch_id}, stage {record.stage}, table {record.table_name or '-'}",
    )


_STATUS_ORDER = ("In Progress", "Completed", "Failed")
_STAGE_ORDER = ("run", "profile", "plan", "generate", "write_files", "load")


def _rank(column: str, values: Sequence[str]) -> str:
    cases = " ".join(f"WHEN '{value}' THEN {rank}" for rank, value in enumerate(values))
    return f"CASE {column} {cases} ELSE {len(values)} END"


def read_audit_sql(audit_table_id: str) -> str:
    """All rows of one batch (``@batch_id``), oldest first.

    Parallel steps can write within the same microsecond, so ties are broken by the
    life cycle (In Progress before its outcome, stages in pipeline order), not alphabetically.
    """
    return (
        f"SELECT * FROM {quote_table(audit_table_id)} WHERE batch_id = @batch_id"
        f" ORDER BY insert_timestamp, {_rank('status', _STATUS_ORDER)}, {_rank('stage', _STAGE_ORDER)},"
        " table_name"
    )


def read_audit(client: bigquery.Client, audit_table_id: str, batch_id: str) -> list[AuditRecord]:
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("batch_id", "STRING", batch_id)])
    try:
        rows = client.query(read_audit_sql(audit_table_id), job_config=config).result()
    except exceptions.GoogleAPICallError as error:
        raise AuditError(
            f"could not read the audit trail of batch {batch_id} from {audit_table_id}: {error.message}"
        ) from error
    return [AuditRecord.from_row(dict(row.items())) for row in rows]


def unfinished(records: Sequence[AuditRecord]) -> list[AuditRecord]:
    """The In Progress rows of ``records`` (one batch, oldest first) that no later row closed.

    A piece of work is a stage of a table (of a shard); the run's own row is not among them.
    """
    last: dict[tuple[str, str | None, int | None], AuditRecord] = {}
    for record in records:
        if record.stage != "run":
            last[(record.stage, record.table_name, record.shard_index)] = record
    return [record for record in last.values() if record.status == "In Progress"]


def close_unfinished(client: bigquery.Client, audit_table_id: str, batch_id: str, message: str) -> int:
    """Write a Failed row (``message``) for every piece of work of the batch left In Progress.

    A run that was stopped (SIGTERM, a step that crashed) leaves its steps' rows In Progress,
    which reads as work still running. Returns how many rows were closed.
    """
    opened = unfinished(read_audit(client, audit_table_id, batch_id))
    for record in opened:
        write_audit(client, audit_table_id, record.evolve(status="Failed", error_message=message, seconds=None))
    return len(opened)
