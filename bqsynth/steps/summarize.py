"""Check every target (integrity by SQL, then fidelity, privacy, validity), report, and close the run.

The quality table gets one row per table; the run's audit row ends Completed, or Failed
with the failed tables and the quality findings.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from google.cloud import bigquery, storage

from bqsynth.config import DEFAULT_QUALITY_TABLE, RunConfig
from bqsynth.delivery.quality_table import ensure_quality_table, write_quality_rows
from bqsynth.evaluation import evaluate, integrity
from bqsynth.evaluation.quality_report import headline_metrics, quality_findings, render_html, render_quality_markdown
from bqsynth.evaluation.run_summary import render_markdown
from bqsynth.models import (
    DatasetPlan,
    RunSummary,
    Status,
    TableQuality,
    TableResult,
    TableResults,
    reported_disclosures,
)
from bqsynth.steps.artifacts import read_model, write_model
from bqsynth.steps.audited import AuditTrail, audited, failure_text, log_failure

EVALUATION_THREADS = 4


def summarize_step(
    config: RunConfig,
    plan_path: str,
    results_path: str,
    summary_path: str,
    report_path: str,
    html_path: str = "",
    *,
    bq: bigquery.Client,
    gcs: storage.Client,
) -> tuple[RunSummary, dict[str, float]]:
    """Evaluate and report the run; returns the summary and its headline metrics (the KFP Metrics).

    ``results_path`` holds the load step's ``TableResults``. Every planned table is in the
    summary, whatever failed: an integrity check or an evaluation that fails for one table
    is reported on that table and does not stop the others; a failure of the summary itself
    fails the run.
    """
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    # The run's In Progress row was written by start_batch; this closes it.
    with audited(trail, trail.row("run"), announce=False, ends_run=True) as work:
        started = time.perf_counter()
        plan = read_model(DatasetPlan, plan_path)
        results = with_every_planned_table(plan, read_model(TableResults, results_path).tables)
        reader = evaluate.SourceReader(plan, bq=bq, gcs=gcs)
        samples: dict[str, evaluate.TableSamples] = {}

        def check_and_evaluate(result: TableResult) -> TableQuality:
            try:
                checked = check_table(plan, result, bq)
            except Exception as error:  # the table's line says so; the other tables go on
                log_failure(f"checking {result.table}", error)
                return unchecked_table(result, error)
            if checked.status != "Completed":
                return checked
            try:
                checked, samples[checked.table] = evaluate.evaluate_table(
                    reader,
                    plan,
                    checked,
                    sample_rows=config.quality_sample_rows,
                    min_category_count=config.min_category_count,
                )
            except Exception as error:
                log_failure(f"evaluating {result.table}", error)
                checked = checked.model_copy(update={"error": f"quality not evaluated: {failure_text(error)}"})
            return checked

        # Mostly waiting on BigQuery, so tables overlap; the metrics themselves are short.
        with ThreadPoolExecutor(max_workers=EVALUATION_THREADS) as pool:
            tables = list(pool.map(check_and_evaluate, sorted(results, key=lambda r: r.table)))
        tables += [unplanned_table(f.table, f.error) for f in plan.failures]
        summary = RunSummary(
            batch_id=config.batch_id,
            tables=tables,
            seconds=round(time.perf_counter() - started, 3),
            engine=plan.engine,
            llm_tokens_used=plan.llm_tokens_used,
            llm_fallbacks=plan.llm_fallbacks,
            primary_keys=plan.primary_keys,
            relationships=plan.relationships,
            rejected_relationships=plan.rejected_relationships,
            disclosures=reported_disclosures(plan.tables),
        )
        write_model(summary, summary_path)
        write_reports(summary, samples, plan, Path(report_path), Path(html_path) if html_path else None)
        quality_table = config.quality_table or sibling_table(config.audit_table, DEFAULT_QUALITY_TABLE)
        ensure_quality_table(bq, quality_table)
        write_quality_rows(bq, quality_table, config.batch_id, tables)
        failed = [t.table for t in tables if t.status != "Completed"]
        findings = ([f"failed tables: {', '.join(failed)}"] if failed else []) + quality_findings(summary)
        work.complete_with(
            user_requested_table_count=len(tables),
            num_records_generated=sum(t.rows_generated for t in tables),
            error_message="; ".join(findings) or None,
        )
        if not summary.ok:  # failed tables, orphans, duplicate keys, empty columns, leaks: the exit code's 1
            work.fail("; ".join(findings))
    return summary, headline_metrics(summary)


def with_every_planned_table(plan: DatasetPlan, results: list[TableResult]) -> list[TableResult]:
    """The load step's results, plus a Failed one for any planned table they lack."""
    known = {r.table for r in results}
    missing = [
        TableResult(
            table=t.name,
            source_table=t.source_table,
            target_table=t.target_table,
            rows_requested=t.row_count,
            status="Failed",
            error=f"{t.name} has no load result in this batch (its step left none); run the batch again",
        )
        for t in plan.tables
        if t.name not in known
    ]
    return results + missing


def _unmeasured(result: TableResult, status: Status, error: str | None) -> TableQuality:
    """A table's summary line from its result alone, before (or without) any check on the target."""
    return TableQuality(
        table=result.table,
        target_table=result.target_table,
        rows_requested=result.rows_requested,
        rows_generated=result.rows_generated,
        rows_loaded=result.rows_loaded,
        rows_in_target=0,
        duplicate_primary_keys=0,
        foreign_key_orphans=0,
        status=status,
        error=error,
        seconds=round(result.generate_seconds + result.load_seconds, 3),
    )


def unchecked_table(result: TableResult, error: BaseException) -> TableQuality:
    """The summary's line for a loaded table whose integrity could not be checked: Failed, with why."""
    return _unmeasured(result, "Failed", f"loaded, but its integrity could not be checked: {failure_text(error)}")


def check_table(plan: DatasetPlan, result: TableResult, bq: bigquery.Client) -> TableQuality:
    """Integrity of one loaded table, measured by SQL on the target."""
    table = plan.table(result.table)
    quality = _unmeasured(result, result.status, result.error)
    if result.status != "Completed":
        return quality
    orphans, checked = 0, []
    for rel in plan.relationships:
        if rel.child_table == table.name:
            parent = plan.table(rel.parent_table)
            orphans += integrity.count_orphans(
                bq, table.target_table, rel.child_columns, parent.target_table, rel.parent_columns
            )
            checked.append(f"{', '.join(rel.child_columns)} -> {rel.parent_table}.{', '.join(rel.parent_columns)}")
    duplicates = integrity.count_duplicate_keys(bq, table.target_table, table.primary_key) if table.primary_key else 0
    return quality.model_copy(
        update={
            "rows_in_target": integrity.count_rows(bq, table.target_table),
            "foreign_key_orphans": orphans,
            "duplicate_primary_keys": duplicates,
            "primary_key": table.primary_key,
            "foreign_keys_checked": checked,
        }
    )


def unplanned_table(name: str, error: str) -> TableQuality:
    """The summary's line for a table that never got a plan (its profile or its plan failed)."""
    return TableQuality(
        table=name,
        target_table="",
        rows_requested=0,
        rows_generated=0,
        rows_loaded=0,
        rows_in_target=0,
        duplicate_primary_keys=0,
        foreign_key_orphans=0,
        status="Failed",
        error=error,
        seconds=0.0,
    )


def write_reports(
    summary: RunSummary,
    samples: dict[str, evaluate.TableSamples],
    plan: DatasetPlan,
    report_path: Path,
    html_path: Path | None,
) -> None:
    """The Markdown report (summary and quality) and, when asked for, the HTML report with plots."""
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render_markdown(summary) + render_quality_markdown(summary))
    if html_path is not None:
        frames = {name: (s.source, s.synthetic) for name, s in samples.items()}
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(summary, frames, {t.name: t for t in plan.tables}))


def sibling_table(table_id: str, name: str) -> str:
    """``project.dataset.name`` in the dataset of ``table_id``."""
    project, dataset, _ = table_id.split(".")
    return f"{project}.{dataset}.{name}"
