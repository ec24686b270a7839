"""One function per pipeline step: read artifacts, call the stage, write artifacts and audit rows.

KFP components call these and nothing else, so each step can be run and tested
without KFP. A step that fails for one table records a Failed audit row and a
failed result instead of raising, so the other tables go on; only failures that
leave no table to work on (the audit table itself, a plan with no tables) raise.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bqsynth.config import default_project_of, is_file_source, new_batch_id, source_name
from bqsynth.delivery import audit, load
from bqsynth.delivery.quality_table import ensure_quality_table, write_quality_rows
from bqsynth.errors import error_text
from bqsynth.evaluation import evaluate, integrity
from bqsynth.evaluation.quality_report import headline_metrics, quality_findings, render_html, render_quality_markdown
from bqsynth.evaluation.run_summary import render_markdown
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.generation.exclusions import exclusions_from_records, fetch_exclusions
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.llm import DEFAULT_MODEL, LlmSettings, advise_plan, make_advisor
from bqsynth.models import (
    BatchInfo,
    DatasetPlan,
    FileFormat,
    FileOutputFormat,
    RunSummary,
    TablePlan,
    TableProfile,
    TableQuality,
    TableResult,
)
from bqsynth.planning.planner import PlanError, PlanOptions, plan_dataset
from bqsynth.sources.bigquery_profile import profile_table
from bqsynth.sources.gcs_files import (
    FileWriteError,
    changed_format,
    custom_header_text,
    profile_file_source,
    read_source_records,
    write_source_files,
)
from bqsynth.steps.artifacts import read_model, write_model

QUALITY_TABLE_NAME = "bqsynth_quality"
EVALUATION_THREADS = 4

log = logging.getLogger("bqsynth")


def _project_of(table_id: str) -> str:
    return table_id.split(".")[0]


def _audit(audit_table: str, record: audit.AuditRecord) -> None:
    audit.write_audit(bigquery_client(_project_of(audit_table)), audit_table, record)


def start_batch_step(
    batch_id: str,
    audit_table: str,
    target_project: str,
    target_dataset: str,
    staging_bucket: str,
    source_tables: list[str],
    batch_path: str,
) -> BatchInfo:
    if not source_tables:
        raise ValueError("source_tables is empty: name at least one project.dataset.table")
    project = target_project or default_project_of(source_tables)
    info = BatchInfo(
        batch_id=batch_id or new_batch_id(),
        audit_table=audit_table or f"{project}.{target_dataset}.bqsynth_audit",
        target_project=project,
    )
    audit.ensure_audit_table(bigquery_client(_project_of(info.audit_table)), info.audit_table)
    _audit(
        info.audit_table,
        audit.AuditRecord(
            batch_id=info.batch_id,
            stage="run",
            status="In Progress",
            gcs_bucket_name=staging_bucket,
            user_requested_table_count=len(source_tables),
        ),
    )
    write_model(info, batch_path)
    return info


def _batch(batch_path: str) -> tuple[str, str]:
    batch = read_model(BatchInfo, batch_path)
    return batch.batch_id, batch.audit_table


def profile_step(source_table: str, batch_path: str, sample_rows: int, profile_path: str) -> None:
    batch_id, audit_table = _batch(batch_path)
    name = source_name(source_table)
    base = audit.AuditRecord(
        batch_id=batch_id, stage="profile", status="In Progress", table_name=name, source_table=source_table
    )
    _audit(audit_table, base)
    started = time.perf_counter()
    try:
        if is_file_source(source_table):
            profile = profile_file_source(storage_client(), source_table, sample_rows=int(sample_rows))
        else:
            client = bigquery_client(_project_of(source_table))
            profile = profile_table(client, source_table, sample_rows=int(sample_rows))
    except Exception as error:
        log.error("profiling %s failed:\n%s", source_table, traceback.format_exc())
        profile = TableProfile(table_id=source_table, name=name, error=error_text(error))
        _audit(
            audit_table,
            base.evolve(
                **{"status": "Failed", "error_message": profile.error, "seconds": time.perf_counter() - started}
            ),
        )
    else:
        completed = base.with_columns(profile.columns).evolve(
            **{"status": "Completed", "seconds": time.perf_counter() - started}
        )
        if profile.file_format is not None:
            completed = completed.evolve(
                **_file_audit_fields(profile.file_format, ",".join(profile.source_files), profile.row_count)
            )
        _audit(audit_table, completed)
    write_model(profile, profile_path)


def _file_audit_fields(fmt: FileFormat, paths: str, record_count: int) -> dict[str, Any]:
    """The audit columns that describe a delimited file (a source, or a synthetic copy of one)."""
    return {
        "input_gcs_path": paths,
        "column_header_flag": fmt.has_header,
        "delimiter": fmt.delimiter,
        "custom_header": custom_header_text(fmt, record_count, dt.datetime.now(dt.UTC).date()),
        "num_records_generated": record_count,
    }


def plan_step(
    profile_paths: list[str],
    batch_path: str,
    target_dataset: str,
    record_counts: dict[str, Any],
    scale: float,
    seed: int,
    min_category_count: int,
    plan_path: str,
    llm: str = "offline",
    model: str = DEFAULT_MODEL,
    llm_location: str = "us-central1",
    sample_policy: str = "masked",
    llm_token_budget: int = 400_000,
    file_outputs: dict[str, Any] | None = None,
) -> list[str]:
    """Plan all tables (offline, then advised by the chosen model); returns the tables to generate."""
    batch = read_model(BatchInfo, batch_path)
    batch_id, audit_table, target_project = batch.batch_id, batch.audit_table, batch.target_project
    _audit(audit_table, audit.AuditRecord(batch_id=batch_id, stage="plan", status="In Progress"))
    started = time.perf_counter()
    profiles = [read_model(TableProfile, p) for p in profile_paths]
    options = PlanOptions(
        seed=int(seed),
        # KFP passes dict values through protobuf Struct: every number arrives as a float.
        record_counts={str(k): int(v) for k, v in (record_counts or {}).items()},
        scale=float(scale),
        target_project=target_project,
        target_dataset=target_dataset,
        min_category_count=int(min_category_count),
    )
    plan = advised_plan(
        profiles,
        plan_dataset(profiles, options),
        LlmSettings(
            llm=llm,  # type: ignore[arg-type]  # validated by the model
            project=target_project,
            location=llm_location,
            model=model,
            sample_policy=sample_policy,  # type: ignore[arg-type]
            token_budget=int(llm_token_budget),
            min_category_count=options.min_category_count,
        ),
        Path(plan_path).with_name("advice.json"),
    )
    for table, reason in plan.llm_fallbacks.items():  # a warning: the table is planned, offline
        _audit(
            audit_table,
            audit.AuditRecord(
                batch_id=batch_id,
                stage="plan",
                status="Completed",
                table_name=table,
                error_message=f"model advice not used, planned offline: {reason}",
            ),
        )
    try:
        plan = with_output_formats(plan, file_outputs or {})
    except PlanError as error:  # a configuration mistake: the run stops before writing anything
        for stage in ("plan", "run"):
            _audit(
                audit_table,
                audit.AuditRecord(batch_id=batch_id, stage=stage, status="Failed", error_message=str(error)),
            )
        raise
    write_model(plan, plan_path)
    recipes = Path(plan_path).with_name("recipes")
    recipes.mkdir(parents=True, exist_ok=True)
    for table in plan.tables:
        (recipes / f"{table.name}.recipe.yml").write_text(table.recipe)
    already_failed = {p.name for p in profiles if p.error}
    for failure in plan.failures:
        if failure.table not in already_failed:  # the profile step already logged those
            _audit(
                audit_table,
                audit.AuditRecord(
                    batch_id=batch_id,
                    stage="plan",
                    status="Failed",
                    table_name=failure.table,
                    source_table=failure.source_table,
                    error_message=failure.error,
                ),
            )
    if not plan.tables:
        # Nothing left to generate: the run ends here, and says why.
        reasons = "; ".join(f"{f.table}: {f.error}" for f in plan.failures)
        message = f"no table could be planned, so nothing was generated ({reasons})"
        for stage in ("plan", "run"):
            _audit(
                audit_table, audit.AuditRecord(batch_id=batch_id, stage=stage, status="Failed", error_message=message)
            )
        raise PlanError(message)
    _audit(
        audit_table,
        audit.AuditRecord(
            batch_id=batch_id,
            stage="plan",
            status="Completed",
            user_requested_table_count=len(profiles),
            seconds=time.perf_counter() - started,
        ),
    )
    return [t.name for t in plan.tables]


def with_output_formats(plan: DatasetPlan, file_outputs: dict[str, Any]) -> DatasetPlan:
    """The plan with the user's changes to the synthetic files' formats (``file_outputs``)."""
    tables = {t.name: t for t in plan.tables}
    updated = []
    for table in plan.tables:
        change = file_outputs.get(table.name)
        if change is None:
            updated.append(table)
            continue
        if table.file_format is None:
            raise PlanError(f"file_outputs names {table.name}, which is a BigQuery table, not a file source")
        try:
            fmt = changed_format(table.file_format, FileOutputFormat.model_validate(change))
        except ValueError as error:
            raise PlanError(f"file_outputs for {table.name}: {error}") from error
        updated.append(table.model_copy(update={"output_format": fmt}))
    unknown = sorted(set(file_outputs) - set(tables) - {f.table for f in plan.failures})
    if unknown:
        raise PlanError(f"file_outputs names {unknown}, which are not sources of this run; sources: {sorted(tables)}")
    return plan.model_copy(update={"tables": updated})


def advised_plan(
    profiles: list[TableProfile], offline: DatasetPlan, settings: LlmSettings, report_path: Path
) -> DatasetPlan:
    """The offline plan, improved by the model where its checked answers say so.

    The advice report (decisions, fallbacks, prompt sizes, tokens) is written next to the
    plan and its lines logged; tokens and fallbacks also travel in the plan to the summary.
    """
    if settings.llm == "offline":
        return offline
    advised = advise_plan(profiles, offline, make_advisor(settings), settings.advice_options())
    write_model(advised.report, report_path)
    for line in advised.report.lines():
        log.info("%s", line)
    return advised.plan.model_copy(
        update={
            "engine": f"{settings.llm}:{settings.model}",
            "llm_tokens_used": advised.report.tokens_used,
            "llm_fallbacks": advised.report.fallbacks,
        }
    )


def _table_audit(batch_id: str, stage: str, table: TablePlan, **fields: Any) -> audit.AuditRecord:
    return audit.AuditRecord(
        batch_id=batch_id,
        stage=stage,
        status="In Progress",
        table_name=table.name,
        source_table=table.source_table,
        target_table=table.target_table,
        **fields,
    ).with_columns(table.schema_)


def generate_step(plan_path: str, table: str, batch_path: str, staging_bucket: str, result_path: str) -> None:
    batch_id, audit_table = _batch(batch_path)
    plan = read_model(DatasetPlan, plan_path)
    table_plan = plan.table(table)
    prefix = load.batch_prefix(batch_id, table_plan.name)
    base = _table_audit(
        batch_id,
        "generate",
        table_plan,
        gcs_bucket_name=staging_bucket,
        input_gcs_path=f"gs://{staging_bucket}/{prefix}",
    )
    _audit(audit_table, base)
    result = TableResult(
        table=table_plan.name,
        source_table=table_plan.source_table,
        target_table=table_plan.target_table,
        rows_requested=table_plan.row_count,
    )
    with tempfile.TemporaryDirectory(prefix=f"bqsynth-{table_plan.name}-") as work:
        files: list[Path] = []
        try:
            files, rows, seconds = generate_table(
                table_plan, plan.seed, Path(work), exclusions=_source_exclusions(table_plan)
            )
            uris = load.upload_files(storage_client(), staging_bucket, prefix, files)
            result = result.model_copy(
                update={"rows_generated": rows, "files": uris, "generate_seconds": seconds, "status": "Completed"}
            )
            _audit(
                audit_table, base.evolve(**{"status": "Completed", "num_records_generated": rows, "seconds": seconds})
            )
        except Exception as error:
            log.error("generating %s failed:\n%s", table, traceback.format_exc())
            result = result.model_copy(update={"status": "Failed", "error": error_text(error)})
            _audit(audit_table, base.evolve(**{"status": "Failed", "error_message": result.error}))
        if result.status == "Completed" and table_plan.file_format is not None:
            result = _write_source_format(batch_id, audit_table, table_plan, result, files, staging_bucket, prefix)
    write_model(result, result_path)


def _source_exclusions(table: TablePlan) -> dict[str, list[str]]:
    """Digests of the source values of identifying columns: from BigQuery, or from the source files."""
    if table.file_format is not None:
        records = read_source_records(storage_client(), table.source_table, table.file_format)
        return exclusions_from_records(table, records)
    return fetch_exclusions(bigquery_client(_project_of(table.source_table)), table)


def _write_source_format(
    batch_id: str,
    audit_table: str,
    table: TablePlan,
    result: TableResult,
    ndjson_files: list[Path],
    bucket: str,
    prefix: str,
) -> TableResult:
    """The synthetic rows again, as files in the source's exact format, counted by parsing them back.

    A failure here fails the table before anything is loaded, so the target never holds
    data whose files could not be written.
    """
    fmt = table.output_format or table.file_format
    assert fmt is not None
    started = time.perf_counter()
    base = _table_audit(batch_id, "write_files", table, gcs_bucket_name=bucket, column_header_flag=fmt.has_header)
    base = base.evolve(**{"delimiter": fmt.delimiter})
    _audit(audit_table, base)
    try:
        with tempfile.TemporaryDirectory(prefix=f"bqsynth-{table.name}-files-") as work:
            written = write_source_files(table, fmt, ndjson_files, Path(work), dt.datetime.now(dt.UTC).date())
            uris = load.upload_files(storage_client(), bucket, f"{prefix}files/", [path for path, _ in written])
        counted = sum(count for _, count in written)
        if counted != result.rows_generated:
            raise FileWriteError(
                f"table {table.name}: the synthetic files hold {counted} data rows when parsed back, "
                f"but {result.rows_generated} were generated"
            )
        _audit(
            audit_table,
            base.evolve(
                **_file_audit_fields(fmt, ",".join(uris), counted),
                status="Completed",
                seconds=time.perf_counter() - started,
            ),
        )
        return result.model_copy(update={"output_files": uris})
    except Exception as error:
        log.error("writing the files of %s failed:\n%s", table.name, traceback.format_exc())
        failed = result.model_copy(update={"status": "Failed", "error": error_text(error)})
        _audit(audit_table, base.evolve(**{"status": "Failed", "error_message": failed.error}))
        return failed


def load_step(plan_path: str, generated_path: str, batch_path: str, write_disposition: str, result_path: str) -> None:
    batch_id, audit_table = _batch(batch_path)
    plan = read_model(DatasetPlan, plan_path)
    result = read_model(TableResult, generated_path)
    if result.status == "Failed":  # generation already logged its failure; nothing to load
        write_model(result, result_path)
        return
    table_plan = plan.table(result.table)
    base = _table_audit(
        batch_id, "load", table_plan, input_gcs_path=",".join(result.files), num_records_generated=result.rows_generated
    )
    _audit(audit_table, base)
    started = time.perf_counter()
    try:
        client = bigquery_client(_project_of(table_plan.target_table))
        load.ensure_target_table(
            client,
            table_plan.target_table,
            table_plan.schema_,
            description=f"Synthetic copy of {table_plan.source_table} made by bqsynth",
        )
        rows = load.load_table(
            client,
            table_plan.target_table,
            result.files,
            table_plan.schema_,
            batch_id,
            write_disposition=write_disposition,
        )
        result = result.model_copy(
            update={"rows_loaded": rows, "status": "Completed", "load_seconds": time.perf_counter() - started}
        )
        _audit(audit_table, base.evolve(**{"status": "Completed", "seconds": result.load_seconds}))
    except Exception as error:
        log.error("loading %s failed:\n%s", result.table, traceback.format_exc())
        result = result.model_copy(
            update={"status": "Failed", "error": error_text(error), "load_seconds": time.perf_counter() - started}
        )
        _audit(audit_table, base.evolve(**{"status": "Failed", "error_message": result.error}))
    write_model(result, result_path)


def check_table(plan: DatasetPlan, result: TableResult) -> TableQuality:
    """Integrity of one loaded table, measured by SQL on the target."""
    table = plan.table(result.table)
    quality = TableQuality(
        table=result.table,
        target_table=result.target_table,
        rows_requested=result.rows_requested,
        rows_generated=result.rows_generated,
        rows_loaded=result.rows_loaded,
        rows_in_target=0,
        duplicate_primary_keys=0,
        foreign_key_orphans=0,
        status=result.status,
        error=result.error,
        seconds=round(result.generate_seconds + result.load_seconds, 3),
    )
    if result.status != "Completed":
        return quality
    client = bigquery_client(_project_of(table.target_table))
    orphans, checked = 0, []
    for rel in plan.relationships:
        if rel.child_table == table.name:
            parent = plan.table(rel.parent_table)
            orphans += integrity.count_orphans(
                client, table.target_table, rel.child_columns, parent.target_table, rel.parent_columns
            )
            checked.append(f"{', '.join(rel.child_columns)} -> {rel.parent_table}.{', '.join(rel.parent_columns)}")
    duplicates = (
        integrity.count_duplicate_keys(client, table.target_table, table.primary_key) if table.primary_key else 0
    )
    return quality.model_copy(
        update={
            "rows_in_target": integrity.count_rows(client, table.target_table),
            "foreign_key_orphans": orphans,
            "duplicate_primary_keys": duplicates,
            "primary_key": table.primary_key,
            "foreign_keys_checked": checked,
        }
    )


def summarize_step(
    plan_path: str,
    result_paths: list[str],
    batch_path: str,
    summary_path: str,
    report_path: str,
    html_path: str = "",
    min_category_count: int = 5,
    quality_sample_rows: int = evaluate.DEFAULT_SAMPLE_ROWS,
    quality_table: str = "",
) -> tuple[RunSummary, dict[str, float]]:
    """Check every target (integrity by SQL, then fidelity, privacy and validity), write the report.

    Returns the summary and its headline metrics (for the KFP Metrics artifact). The
    quality table gets one row per table; an evaluation that fails for one table is
    reported on that table and does not stop the others.
    """
    batch_id, audit_table = _batch(batch_path)
    started = time.perf_counter()
    plan = read_model(DatasetPlan, plan_path)
    results = [read_model(TableResult, p) for p in result_paths]
    reader = evaluate.SourceReader(plan)
    samples: dict[str, evaluate.TableSamples] = {}

    def check_and_evaluate(result: TableResult) -> TableQuality:
        checked = check_table(plan, result)
        if checked.status != "Completed":
            return checked
        try:
            checked, samples[checked.table] = evaluate.evaluate_table(
                reader, plan, checked, sample_rows=int(quality_sample_rows), min_category_count=int(min_category_count)
            )
        except Exception as error:
            log.error("evaluating %s failed:\n%s", result.table, traceback.format_exc())
            checked = checked.model_copy(update={"error": f"quality not evaluated: {error_text(error)}"})
        return checked

    # Mostly waiting on BigQuery, so tables overlap; the metrics themselves are short.
    with ThreadPoolExecutor(max_workers=EVALUATION_THREADS) as pool:
        tables = list(pool.map(check_and_evaluate, sorted(results, key=lambda r: r.table)))
    tables += [
        TableQuality(
            table=f.table,
            target_table="",
            rows_requested=0,
            rows_generated=0,
            rows_loaded=0,
            rows_in_target=0,
            duplicate_primary_keys=0,
            foreign_key_orphans=0,
            status="Failed",
            error=f.error,
            seconds=0.0,
        )
        for f in plan.failures
    ]
    summary = RunSummary(
        batch_id=batch_id,
        tables=tables,
        seconds=round(time.perf_counter() - started, 3),
        engine=plan.engine,
        llm_tokens_used=plan.llm_tokens_used,
        llm_fallbacks=plan.llm_fallbacks,
    )
    write_model(summary, summary_path)
    Path(report_path).parent.mkdir(parents=True, exist_ok=True)
    Path(report_path).write_text(render_markdown(summary) + render_quality_markdown(summary))
    if html_path:
        frames = {name: (s.source, s.synthetic) for name, s in samples.items()}
        Path(html_path).parent.mkdir(parents=True, exist_ok=True)
        Path(html_path).write_text(render_html(summary, frames, {t.name: t for t in plan.tables}))
    quality_table = quality_table or sibling_table(audit_table, QUALITY_TABLE_NAME)
    client = bigquery_client(_project_of(quality_table))
    ensure_quality_table(client, quality_table)
    write_quality_rows(client, quality_table, batch_id, tables)
    failed = [t.table for t in tables if t.status != "Completed"]
    problems = quality_findings(summary)
    _audit(
        audit_table,
        audit.AuditRecord(
            batch_id=batch_id,
            stage="run",
            status="Failed" if failed else "Completed",
            user_requested_table_count=len(tables),
            num_records_generated=sum(t.rows_generated for t in tables),
            error_message="; ".join(([f"failed tables: {', '.join(failed)}"] if failed else []) + problems) or None,
        ),
    )
    return summary, headline_metrics(summary)


def sibling_table(table_id: str, name: str) -> str:
    """``project.dataset.name`` in the dataset of ``table_id``."""
    project, dataset, _ = table_id.split(".")
    return f"{project}.{dataset}.{name}"
