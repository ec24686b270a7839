"""The first step: validate the pipeline's parameters into the run's ``RunConfig``, open the audit trail.

The resolved ``RunConfig`` is written as the ``config`` artifact every other step reads.
It travels as an artifact, not as output parameters, because KFP's local runner replaces
upstream output parameters inside a ParallelFor with the loop item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.cloud import bigquery

from bqsynth.config import RunConfig, new_batch_id, validated_config
from bqsynth.delivery.audit import ensure_audit_table
from bqsynth.gcp.clients import probe_bigquery
from bqsynth.steps.artifacts import write_model
from bqsynth.steps.audited import AuditTrail


def run_config(parameters: Mapping[str, Any]) -> RunConfig:
    """The pipeline's parameters as the run's configuration, every default resolved, a batch id set.

    A wrong parameter is a ``ConfigError`` naming each problem: the run fails here, before
    anything is read or written. An unset ``llm`` means a run on Vertex AI (``for_runner``):
    a local run always passes one.
    """
    config = validated_config(dict(parameters), "pipeline parameters").for_runner(local=False).resolved()
    return config.model_copy(update={"batch_id": config.batch_id or new_batch_id()})


def start_batch_step(config: RunConfig, config_path: str, *, bq: bigquery.Client) -> None:
    """Create the audit table when missing, log the run In Progress, hand the configuration on.

    A failure here raises: without an audit table no step could record anything. An
    endpoint that does not answer is reported within a minute, naming it (not after the
    client's 600 s of retries).
    """
    probe_bigquery(bq, f"{config.target_project}.{config.target_dataset}")
    ensure_audit_table(bq, config.audit_table)
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    trail.write(
        trail.row("run", gcs_bucket_name=config.staging_bucket, user_requested_table_count=len(config.source_tables))
    )
    write_model(config, config_path)
