"""Load one table's generated files into its target table (created with the source schema), once per batch."""

from __future__ import annotations

from google.cloud import bigquery

from bqsynth.config import RunConfig
from bqsynth.delivery.load import ensure_target_table, load_table
from bqsynth.models import DatasetPlan, TableResult
from bqsynth.steps.artifacts import read_model, write_model
from bqsynth.steps.audited import AuditTrail, audited


def load_step(
    config: RunConfig,
    plan_path: str,
    generated_path: str,
    result_path: str,
    *,
    bq: bigquery.Client,
) -> TableResult:
    """The generated table, loaded; a table whose generation failed passes through unchanged."""
    result = read_model(TableResult, generated_path)
    if result.status == "Failed":  # generation already logged its failure; nothing to load
        write_model(result, result_path)
        return result
    table = read_model(DatasetPlan, plan_path).table(result.table)
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    begun = trail.table_row(
        "load", table, input_gcs_path=",".join(result.files), num_records_generated=result.rows_generated
    )
    with audited(trail, begun) as work:
        description = f"Synthetic copy of {table.source_table} made by bqsynth"
        ensure_target_table(bq, table.target_table, table.schema_, description=description)
        rows = load_table(
            bq,
            table.target_table,
            result.files,
            table.schema_,
            config.batch_id,
            write_disposition=config.write_disposition,
        )
        result = result.model_copy(update={"rows_loaded": rows, "status": "Completed", "load_seconds": work.seconds()})
    if work.failed:
        result = result.model_copy(update={"status": "Failed", "error": work.failure, "load_seconds": work.seconds()})
    write_model(result, result_path)
    return result
