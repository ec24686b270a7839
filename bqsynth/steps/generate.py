"""Generate one table's rows into GCS; for a file source, also write them in the source's format."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

from google.api_core.exceptions import NotFound
from google.cloud import bigquery, storage

from bqsynth.config import RunConfig
from bqsynth.delivery.load import batch_prefix, upload_files
from bqsynth.delivery.source_format_files import FileWriteError, write_source_files
from bqsynth.generation.columnar import generate_with_engine
from bqsynth.generation.exclusions import TableExclusions, read_by_plan, shared_exclusions, source_exclusions
from bqsynth.models import DatasetPlan, TablePlan, TableResult, WorkItem
from bqsynth.steps.artifacts import exclusions_uri, read_model, step_model_uri, write_model
from bqsynth.steps.audited import AuditTrail, audit_file_fields, audited

log = logging.getLogger("bqsynth")


def generate_step(
    config: RunConfig,
    plan_path: str,
    item: WorkItem,
    result_path: str,
    *,
    bq: bigquery.Client,
    gcs: storage.Client,
) -> TableResult:
    """Rows of one shard of a table (``item``) as NDJSON or Parquet under the batch's path in the
    staging bucket; a failure is the shard's, and so its table's.

    The result goes to ``result_path``: a local file or a ``gs://`` URI (see ``generated_uri``).
    Each shard writes its own audit rows (``shard_index``, ``shard_count``) and its own file
    (``<table>-<shard>.json``, or ``.parquet`` from the columnar engine), so shards may run
    anywhere, in any order, and be retried.
    """
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    plan = read_model(DatasetPlan, plan_path)
    table_plan = plan.table(item.table)
    prefix = batch_prefix(config.batch_id, table_plan.name)
    bucket = config.staging_bucket
    result = TableResult(
        table=table_plan.name,
        source_table=table_plan.source_table,
        target_table=table_plan.target_table,
        rows_requested=item.row_count,
        shard=item,
        shards=item.shards,
    )
    begun = trail.table_row(
        "generate",
        table_plan,
        gcs_bucket_name=bucket,
        input_gcs_path=f"gs://{bucket}/{prefix}",
        **shard_fields(item),
    )
    with tempfile.TemporaryDirectory(prefix=f"bqsynth-{table_plan.name}-") as work_dir:
        with audited(trail, begun) as work:
            exclusions = shard_exclusions(config, table_plan, item, bq, gcs)
            made = generate_with_engine(
                table_plan, plan.seed, Path(work_dir), engine=config.engine, exclusions=exclusions, only=item
            )
            log.info("generate %s %s: %s engine (%s)", table_plan.name, item.label(), made.engine, made.reason)
            files, rows = made.files, made.rows
            uris = upload_files(gcs, bucket, prefix, files)
            result = result.model_copy(
                update={
                    "rows_generated": rows,
                    "files": uris,
                    "generate_seconds": made.seconds,
                    "status": "Completed",
                    "engine": f"{made.engine}: {made.reason}",
                }
            )
            work.complete_with(num_records_generated=rows)
        if work.failed:
            result = result.model_copy(update={"status": "Failed", "error": work.failure})
        elif table_plan.file_format is not None:  # one shard (``table_shards``): all its rows are here
            result = write_source_format(trail, table_plan, result, files, bucket, prefix, gcs, seed=plan.seed)
    write_model(result, result_path, gcs=gcs)
    return result


def shard_fields(item: WorkItem) -> dict[str, int]:
    """The audit row's shard columns: set for a table made in several shards, empty for one of one."""
    return {"shard_index": item.shard, "shard_count": item.shards} if item.shards > 1 else {}


def generated_uri(config: RunConfig, table: str, shard: int = 0) -> str:
    """Where the generate result of one shard of ``table`` is kept in this batch: the load step reads it there."""
    return step_model_uri(config, "generate", f"{table}.shard-{shard:05d}")


def shard_exclusions(
    config: RunConfig, table: TablePlan, item: WorkItem, bq: bigquery.Client, gcs: storage.Client
) -> dict[str, list[str]]:
    """The digests this shard must never emit: read from the source by a table's only shard, from
    the plan step's object by each shard of a larger table (absent or failed: the shard fails)."""
    if not read_by_plan(table, item.shards):
        return source_exclusions(table, bq, gcs)
    where = exclusions_uri(config, table.name)
    try:
        found: TableExclusions | None = read_model(TableExclusions, where, gcs=gcs)
    except NotFound:
        found = None
    return shared_exclusions(table, found, where)


def write_source_format(
    trail: AuditTrail,
    table: TablePlan,
    result: TableResult,
    ndjson_files: list[Path],
    bucket: str,
    prefix: str,
    gcs: storage.Client,
    *,
    seed: int = 0,
) -> TableResult:
    """The synthetic rows again, as files in the source's exact format, counted by parsing them back.

    A failure here fails the table before anything is loaded, so the target never holds
    data whose files could not be written.
    """
    fmt = table.output_format or table.file_format
    assert fmt is not None, "only file sources are written in their source's format"
    begun = trail.table_row(
        "write_files", table, gcs_bucket_name=bucket, column_header_flag=fmt.has_header, delimiter=fmt.delimiter
    )
    with audited(trail, begun) as work:
        with tempfile.TemporaryDirectory(prefix=f"bqsynth-{table.name}-files-") as work_dir:
            run_date = dt.datetime.now(dt.UTC).date()
            written = write_source_files(table, fmt, ndjson_files, Path(work_dir), run_date, seed=seed)
            uris = upload_files(gcs, bucket, f"{prefix}files/", [path for path, _ in written])
        counted = sum(count for _, count in written)
        if counted != result.rows_generated:
            raise FileWriteError(
                f"the synthetic files hold {counted} data rows when parsed back, "
                f"but {result.rows_generated} were generated",
                table=table.name,
            )
        work.complete_with(**audit_file_fields(fmt, uris, counted))
        result = result.model_copy(update={"output_files": uris})
    if work.failed:
        return result.model_copy(update={"status": "Failed", "error": work.failure})
    return result
