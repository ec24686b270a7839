"""The first step: resolve the run's identity, create the audit table, log the run as In Progress."""

from __future__ import annotations

from google.cloud import bigquery

from bqsynth.config import ConfigError, default_project_of, new_batch_id
from bqsynth.delivery.audit import ensure_audit_table
from bqsynth.models import BatchInfo
from bqsynth.steps.artifacts import write_model
from bqsynth.steps.audited import AuditTrail


def batch_info(
    batch_id: str, audit_table: str, target_project: str, target_dataset: str, sources: list[str]
) -> BatchInfo:
    """The batch's identity and the defaults that depend on the other parameters, resolved."""
    if not sources:
        raise ConfigError("source_tables is empty: name at least one project.dataset.table")
    project = target_project or default_project_of(sources)
    return BatchInfo(
        batch_id=batch_id or new_batch_id(),
        audit_table=audit_table or f"{project}.{target_dataset}.bqsynth_audit",
        target_project=project,
    )


def start_batch_step(
    batch: BatchInfo, staging_bucket: str, requested_tables: int, batch_path: str, *, bq: bigquery.Client
) -> None:
    """Create the audit table when missing, log the run In Progress, hand the batch to the next steps.

    A failure here raises: without an audit table no step could record anything.
    """
    ensure_audit_table(bq, batch.audit_table)
    trail = AuditTrail(bq, batch.audit_table, batch.batch_id)
    trail.write(trail.row("run", gcs_bucket_name=staging_bucket, user_requested_table_count=requested_tables))
    write_model(batch, batch_path)
