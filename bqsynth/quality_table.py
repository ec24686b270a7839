"""The quality table: one BigQuery row per table per batch, for dashboards and trends.

It follows the audit trail (``bqsynth.audit``): streaming inserts, so that parallel steps
never contend and rows are queryable at once; a table partitioned by day on
``insert_timestamp`` and clustered by batch and table; every column NULLABLE, so that
adding one later is a compatible change; a deterministic ``insertId`` so that a retried
write is de-duplicated.

``TableQuality`` nests fidelity and privacy; here they are flattened to one column per
number, and the per-column details (``ColumnQuality``) go to ``column_details`` as JSON
text. STRING rather than BigQuery's JSON type: it streams as a plain value, the emulator
handles it, and ``JSON_VALUE``/``JSON_QUERY`` read it all the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions
from google.cloud import bigquery

from bqsynth.load import ensure_dataset
from bqsynth.models import TableQuality
from bqsynth.sql import quote_table

# (name, type, description); all NULLABLE.
QUALITY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("batch_id", "STRING", "One pipeline run"),
    ("table_name", "STRING", "Short table name within the run"),
    ("target_table", "STRING", "Target table id"),
    ("status", "STRING", "In Progress | Completed | Failed"),
    ("rows_requested", "INT64", "Rows the plan asked for"),
    ("rows_generated", "INT64", "Rows generated"),
    ("rows_loaded", "INT64", "Rows loaded"),
    ("rows_in_target", "INT64", "Rows counted in the target table"),
    ("duplicate_primary_keys", "INT64", "Primary key values present more than once"),
    ("foreign_key_orphans", "INT64", "References to no parent row"),
    ("primary_key", "STRING", "Comma-separated primary key columns checked"),
    ("foreign_keys_checked", "STRING", "Semicolon-separated references checked"),
    ("not_null_violations", "INT64", "NULLs in REQUIRED columns"),
    ("type_violations", "INT64", "Target columns whose type differs from the plan"),
    ("quality_score", "FLOAT64", "SDMetrics overall quality score (0..1)"),
    ("column_shapes", "FLOAT64", "SDMetrics Column Shapes (0..1)"),
    ("column_pair_trends", "FLOAT64", "SDMetrics Column Pair Trends (0..1)"),
    ("cardinality", "FLOAT64", "Children-per-parent shape similarity (0..1)"),
    ("fidelity_source_rows", "INT64", "Source rows the scores were computed on"),
    ("fidelity_synthetic_rows", "INT64", "Synthetic rows the scores were computed on"),
    ("validity", "FLOAT64", "Share of checked values in the source column's format"),
    ("identifying_values_leaked", "INT64", "Synthetic values of identifying columns found in the source"),
    ("identifying_columns_checked", "STRING", "Comma-separated identifying columns checked"),
    ("exact_row_copies", "INT64", "Synthetic rows equal to a source row (non-key columns)"),
    ("rare_categories_emitted", "INT64", "Emitted values seen fewer than k times in the source"),
    ("min_category_count", "INT64", "The k of rare_categories_emitted"),
    ("dcr_median", "FLOAT64", "Median distance to the closest source record"),
    ("dcr_p05", "FLOAT64", "5th percentile distance to the closest source record"),
    ("dcr_baseline_median", "FLOAT64", "The same median for held-out source rows"),
    ("column_details", "STRING", "JSON list of per-column quality (bqsynth ColumnQuality)"),
    ("error_message", "STRING", "Why the table failed"),
    ("seconds", "FLOAT64", "Duration of the table's checks"),
    ("insert_timestamp", "TIMESTAMP", "When the row was written (UTC); the partitioning column"),
)

PARTITION_COLUMN = "insert_timestamp"
CLUSTER_COLUMNS = ["batch_id", "table_name"]
# A table created seconds ago can answer 404 to streaming inserts for a short while on BigQuery.
NOT_FOUND_GRACE_SECONDS = 30.0


class QualityTableError(RuntimeError):
    """The quality table could not be created, written or read."""


def quality_schema() -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(name, field_type, mode="NULLABLE", description=description)
        for name, field_type, description in QUALITY_COLUMNS
    ]


def _iso_utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def quality_row(batch_id: str, quality: TableQuality, inserted_at: datetime | None = None) -> dict[str, Any]:
    """The flat JSON row of one table's quality, column names as in ``QUALITY_COLUMNS``."""
    f, p = quality.fidelity, quality.privacy
    row: dict[str, Any] = {
        "batch_id": batch_id,
        "table_name": quality.table,
        "target_table": quality.target_table,
        "status": quality.status,
        "rows_requested": quality.rows_requested,
        "rows_generated": quality.rows_generated,
        "rows_loaded": quality.rows_loaded,
        "rows_in_target": quality.rows_in_target,
        "duplicate_primary_keys": quality.duplicate_primary_keys,
        "foreign_key_orphans": quality.foreign_key_orphans,
        "primary_key": ",".join(quality.primary_key),
        "foreign_keys_checked": ";".join(quality.foreign_keys_checked),
        "not_null_violations": quality.not_null_violations,
        "type_violations": quality.type_violations,
        "quality_score": f.quality_score if f else None,
        "column_shapes": f.column_shapes if f else None,
        "column_pair_trends": f.column_pair_trends if f else None,
        "cardinality": f.cardinality if f else None,
        "fidelity_source_rows": f.source_rows if f else None,
        "fidelity_synthetic_rows": f.synthetic_rows if f else None,
        "validity": quality.validity,
        "identifying_values_leaked": p.identifying_values_leaked if p else None,
        "identifying_columns_checked": ",".join(p.identifying_columns_checked) if p else None,
        "exact_row_copies": p.exact_row_copies if p else None,
        "rare_categories_emitted": p.rare_categories_emitted if p else None,
        "min_category_count": p.min_category_count if p else None,
        "dcr_median": p.dcr_median if p else None,
        "dcr_p05": p.dcr_p05 if p else None,
        "dcr_baseline_median": p.dcr_baseline_median if p else None,
        "column_details": json.dumps([c.model_dump(mode="json") for c in f.columns]) if f else None,
        "error_message": quality.error,
        "seconds": quality.seconds,
        "insert_timestamp": _iso_utc(inserted_at or datetime.now(UTC)),
    }
    return row


def quality_insert_id(batch_id: str, table: str) -> str:
    """One ``insertId`` per (batch, table): a retried step's second write of the same table is
    dropped by BigQuery's best-effort de-duplication (about a minute). A later rewrite does
    land; readers take the newest row per table (``read_quality_rows`` does)."""
    return hashlib.sha256(json.dumps([batch_id, table]).encode()).hexdigest()[:32]


def _reference(client: bigquery.Client, table_id: str) -> bigquery.TableReference:
    try:
        return bigquery.TableReference.from_string(table_id, default_project=client.project)
    except ValueError as error:
        raise QualityTableError(
            f"quality table id must be project.dataset.table or dataset.table, got {table_id!r}"
        ) from error


def new_quality_table(reference: bigquery.TableReference) -> bigquery.Table:
    table = bigquery.Table(reference, schema=quality_schema())
    table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field=PARTITION_COLUMN)
    table.clustering_fields = CLUSTER_COLUMNS
    return table


def ensure_quality_table(client: bigquery.Client, table_id: str, location: str | None = None) -> bigquery.Table:
    """Create the dataset and the quality table when missing; add columns an older table lacks.

    Looked up before created (creating needs a permission a writer may rightly lack), and a
    creation race between parallel steps ends in "already exists", which is what we want.
    """
    reference = _reference(client, table_id)
    try:
        ensure_dataset(client, bigquery.DatasetReference(reference.project, reference.dataset_id), location)
        try:
            existing = client.get_table(reference)
        except exceptions.NotFound:
            existing = client.create_table(new_quality_table(reference), exists_ok=True)
        present = {field.name for field in existing.schema}
        missing = [field for field in quality_schema() if field.name not in present]
        if missing:
            existing.schema = list(existing.schema) + missing
            existing = client.update_table(existing, ["schema"])
        return existing
    except exceptions.GoogleAPICallError as error:
        raise QualityTableError(
            f"could not create or update the quality table {table_id}: {error.message}. "
            "Check that the identity running the pipeline may create datasets and tables there, "
            "or point the quality table at a dataset it can write to."
        ) from error


def write_quality_rows(client: bigquery.Client, table_id: str, batch_id: str, tables: list[TableQuality]) -> None:
    """Stream one row per table; raise ``QualityTableError`` when BigQuery rejects any.

    ``insert_rows_json`` reports rejected rows in its return value, not as an exception.
    """
    if not tables:
        return
    rows = [quality_row(batch_id, t) for t in tables]
    row_ids = [quality_insert_id(batch_id, t.table) for t in tables]
    deadline = time.monotonic() + NOT_FOUND_GRACE_SECONDS
    while True:
        try:
            errors = client.insert_rows_json(table_id, rows, row_ids=row_ids)
            break
        except exceptions.NotFound as error:
            if time.monotonic() >= deadline or not _table_exists(client, table_id):
                raise QualityTableError(
                    f"quality table {table_id} not found: {error.message}. Call ensure_quality_table first."
                ) from error
            time.sleep(2.0)
        except exceptions.GoogleAPICallError as error:
            raise QualityTableError(f"could not write quality rows to {table_id}: {error.message}") from error
    if errors:
        raise QualityTableError(
            f"BigQuery rejected quality rows of batch {batch_id} in {table_id}: {_describe(errors, tables)}. "
            "If the quality table was created by another version, compare its schema with quality_schema()."
        )


def _table_exists(client: bigquery.Client, table_id: str) -> bool:
    try:
        client.get_table(table_id)
    except exceptions.NotFound:
        return False
    return True


def _describe(errors: Sequence[Mapping[str, Any]], tables: Sequence[TableQuality]) -> str:
    messages = []
    for entry in errors:
        index = entry.get("index")
        name = tables[index].table if isinstance(index, int) and 0 <= index < len(tables) else "row"
        for e in entry.get("errors", []):
            messages.append(f"{name}: {e.get('location') or ''} {e.get('message') or e.get('reason')}".strip())
    return "; ".join(messages) or json.dumps(list(errors))


def read_quality_rows(client: bigquery.Client, table_id: str, batch_id: str) -> list[dict[str, Any]]:
    """The newest row of each table of one batch, by table name."""
    sql = f"SELECT * FROM {quote_table(table_id)} WHERE batch_id = @batch_id ORDER BY table_name, insert_timestamp DESC"
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("batch_id", "STRING", batch_id)])
    try:
        rows = [dict(row.items()) for row in client.query(sql, job_config=config).result()]
    except exceptions.GoogleAPICallError as error:
        raise QualityTableError(
            f"could not read quality rows of batch {batch_id} from {table_id}: {error.message}"
        ) from error
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        newest.setdefault(row["table_name"], row)
    return list(newest.values())
