"""The first step: validate the pipeline's parameters into the run's ``RunConfig``, open the audit trail.

The resolved ``RunConfig`` is written as the ``config`` artifact every other step reads.
It travels as an artifact, not as output parameters, because KFP's local runner replaces
upstream output parameters inside a ParallelFor with the loop item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.api_core.exceptions import GoogleAPICallError
from google.cloud import bigquery

from bqsynth.config import ConfigError, RunConfig, new_batch_id, validated_config
from bqsynth.delivery.audit import ensure_audit_table
from bqsynth.delivery.load import ensure_dataset
from bqsynth.gcp.clients import probe_bigquery
from bqsynth.gcp.uris import is_file_source
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
    """Create the target dataset and the audit table when missing, log the run In Progress,
    hand the configuration on.

    A failure here raises: without an audit table no step could record anything. An
    endpoint that does not answer is reported within a minute, naming it (not after the
    client's 600 s of retries). A new target dataset is made in the sources' location: in
    the client's default one, every load and check of sources elsewhere would fail.
    """
    target = f"{config.target_project}.{config.target_dataset}"
    probe_bigquery(bq, target)
    if problem := location_problem(bq, config):
        raise ConfigError(problem)
    location = next(iter(source_locations(bq, config).values()), None)
    ensure_dataset(bq, bigquery.DatasetReference.from_string(target), location)
    ensure_audit_table(bq, config.audit_table, location)
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    trail.write(
        trail.row("run", gcs_bucket_name=config.staging_bucket, user_requested_table_count=len(config.source_tables))
    )
    write_model(config, config_path)


def dataset_location(bq: bigquery.Client, dataset: str) -> str | None:
    """Where ``dataset`` lives; None when it does not exist (yet) or cannot be read."""
    try:
        return bq.get_dataset(dataset).location
    except GoogleAPICallError:
        return None


def source_locations(bq: bigquery.Client, config: RunConfig) -> dict[str, str]:
    """The location of each readable source dataset (file sources have none); missing ones are
    left to the profile step, which says so per table."""
    datasets = sorted({s.rsplit(".", 1)[0] for s in config.source_tables if not is_file_source(s)})
    return {d: found for d in datasets if (found := dataset_location(bq, d))}


def location_problem(bq: bigquery.Client, config: RunConfig) -> str | None:
    """Why the target dataset cannot take copies of these sources, or None.

    A load job and a query read and write within one location, so every load, and every
    check that reads a source with its target or with another source, would fail table by
    table. A target not made yet is no problem: it is made in the sources' location.
    """
    sources = source_locations(bq, config)
    if len({found.lower() for found in sources.values()}) > 1:
        where = ", ".join(f"{d} in {found}" for d, found in sources.items())
        return (
            f"source_tables come from datasets in several locations ({where}): BigQuery queries and loads stay "
            "within one location. Run the tables of each location separately"
        )
    target = f"{config.target_project}.{config.target_dataset}"
    target_location = dataset_location(bq, target)
    if not target_location:
        return None
    elsewhere = {d: found for d, found in sources.items() if found.lower() != target_location.lower()}
    if not elsewhere:
        return None
    where = ", ".join(f"{d} in {found}" for d, found in elsewhere.items())
    return (
        f"target_dataset {target} is in location {target_location}, and source dataset(s) {where}: BigQuery loads "
        f"and queries stay within one location. Name a target_dataset in {next(iter(elsewhere.values()))}"
    )
