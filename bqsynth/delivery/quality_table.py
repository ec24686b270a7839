"""The quality table: one BigQuery row per table per batch, for dashboards and trends.

Like the audit trail it is a log table (``bqsynth.delivery.log_tables``): streaming inserts, so that
parallel steps never contend and rows are queryable at once; a table partitioned by day on
``insert_timestamp`` and clustered by batch and table; every column NULLABLE, so that
adding one later is a compatible change. A deterministic ``insertId`` per batch and table
makes a retried write be de-duplicated.

``TableQuality`` nests fidelity and privacy; here they are flattened to one column per
number, and the per-column details (``ColumnQuality``) go to ``column_details`` as JSON
text. STRING rather than BigQuery's JSON type: it streams as a plain value, the emulator
handles it, and ``JSON_VALUE``/``JSON_QUERY`` read it all the same.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions
from google.cloud import bigquery

from bqsynth.delivery.log_tables import LogTable, ensure_log_table, iso_utc, log_schema, stream_rows
from bqsynth.errors import DeliveryError
from bqsynth.gcp.sql import quote_table
from bqsynth.models import TableQuality

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
    ("quality_score", "FLOAT64", "Mean of column shapes, column pair trends and text realism (0..1)"),
    ("column_shapes", "FLOAT64", "SDMetrics Column Shapes (0..1)"),
    ("column_pair_trends", "FLOAT64", "SDMetrics Column Pair Trends (0..1)"),
    ("text_realism", "FLOAT64", "Mean look-alike score of text columns drawn fresh (0..1)"),
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


class QualityTableError(DeliveryError):
    """The quality table could not be created, written or read."""


_QUALITY_LOG = LogTable(
    noun="quality",
    columns=QUALITY_COLUMNS,
    error=QualityTableError,
    ensure_advice="Call ensure_quality_table first.",
    schema_function="quality_schema()",
)


def quality_schema() -> list[bigquery.SchemaField]:
    return log_schema(QUALITY_COLUMNS)


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
        "text_realism": f.text_realism if f else None,
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
        "insert_timestamp": iso_utc(inserted_at or datetime.now(UTC)),
    }
    return row


def quality_insert_id(batch_id: str, table: str) -> str:
    """One ``insertId`` per (batch, table): a retried step's second write of the same table is
    dropped by BigQuery's best-effort de-duplication (about a minute). A later rewrite does
    land; readers take the newest row per table (``read_quality_rows`` does)."""
    return hashlib.sha256(json.dumps([batch_id, table]).encode()).hexdigest()[:32]


def ensure_quality_table(client: bigquery.Client, table_id: str, location: str | None = None) -> bigquery.Table:
    """Create the dataset and the quality table when missing; add columns an older table lacks.

    Safe to call from parallel steps (see ``ensure_log_table``).
    """
    return ensure_log_table(client, table_id, _QUALITY_LOG, location)


def write_quality_rows(client: bigquery.Client, table_id: str, batch_id: str, tables: list[TableQuality]) -> None:
    """Stream one row per table; raise ``QualityTableError`` when BigQuery rejects any."""
    if not tables:
        return
    stream_rows(
        client,
        table_id,
        _QUALITY_LOG,
        [quality_row(batch_id, t) for t in tables],
        [quality_insert_id(batch_id, t.table) for t in tables],
        what=f"quality rows of batch {batch_id}",
        row_labels=[t.table for t in tables],
    )


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
