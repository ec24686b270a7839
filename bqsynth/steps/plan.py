"""Plan all tables jointly: relationships, keys, generators, record counts, one recipe per table.

The offline plan comes first; when the run asks for a model, its checked advice improves
it. Planning is the one step the run cannot go on without: its failure fails the run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud import bigquery, storage

from bqsynth.config import RunConfig
from bqsynth.delivery.source_format_files import changed_format
from bqsynth.errors import warn_user
from bqsynth.evaluation import integrity
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.shards import work_items
from bqsynth.llm import LlmSettings, advise_plan, make_advisor
from bqsynth.models import DatasetPlan, FileOutputFormat, TableProfile
from bqsynth.planning.planner import PlanError, PlanOptions, plan_dataset, target_table_id
from bqsynth.sources.key_checks import BigQueryKeyChecks, KeyChecks
from bqsynth.steps.artifacts import read_model, write_model
from bqsynth.steps.audited import AuditTrail, audited

log = logging.getLogger("bqsynth")


def plan_step(
    config: RunConfig,
    profile_paths: list[str],
    plan_path: str,
    *,
    bq: bigquery.Client,
    gcs: storage.Client | None = None,
) -> list[dict[str, Any]]:
    """Plan all tables (offline, then advised by the chosen model); returns the work items to generate
    (``WorkItem`` dicts: each table's shards of at most ``shard_rows`` rows).

    ``profile_paths`` are local files or ``gs://`` URIs (then ``gcs`` reads them).
    """
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    with audited(trail, trail.row("plan"), ends_run=True) as work:
        profiles = [read_model(TableProfile, p, gcs=gcs) for p in profile_paths]
        options = PlanOptions(
            seed=config.seed,
            record_counts=config.record_counts,
            scale=config.scale,
            max_rows=config.max_rows,
            target_project=config.target_project,
            target_dataset=config.target_dataset,
            min_category_count=config.min_category_count,
        )
        if config.write_disposition == "WRITE_APPEND":
            options.first_rows = rows_already_loaded(bq, profiles, options)
        checks = BigQueryKeyChecks(bq, max_bytes_billed=config.maximum_bytes_billed)
        plan = advised_plan(
            profiles,
            with_recipes(plan_dataset(profiles, options, checks)),
            llm_settings(config),
            Path(plan_path).with_name("advice.json"),
            checks,
        )
        for table, reason in plan.llm_fallbacks.items():  # a warning: the table is planned, offline
            message = f"model advice not used, planned offline: {reason}"
            trail.write(trail.row("plan", "Completed", table_name=table, error_message=message))
        # A mistake in file_outputs is the user's configuration: the run stops before writing anything.
        plan = with_output_formats(plan, config.file_outputs)
        write_plan(plan, Path(plan_path))
        already_failed = {p.name for p in profiles if p.error}  # the profile step logged those
        for failure in plan.failures:
            if failure.table not in already_failed:
                trail.write(
                    trail.row(
                        "plan",
                        "Failed",
                        table_name=failure.table,
                        source_table=failure.source_table,
                        error_message=failure.error,
                    )
                )
        if not plan.tables:  # nothing left to generate: the run ends here, and says why
            reasons = "; ".join(f"{f.table}: {f.error}" for f in plan.failures)
            raise PlanError(f"no table could be planned, so nothing was generated ({reasons})")
        work.complete_with(user_requested_table_count=len(profiles))
    # The generation ParallelFor's items: one task per shard of each table (dicts, as KFP passes them).
    return [item.model_dump() for item in work_items(plan.tables, config.shard_rows)]


def rows_already_loaded(bq: bigquery.Client, profiles: list[TableProfile], options: PlanOptions) -> dict[str, int]:
    """WRITE_APPEND: the rows each existing target holds, so the batch's keys continue after them."""
    found = {}
    for profile in profiles:
        if profile.error:
            continue
        try:
            found[profile.name] = integrity.count_rows(bq, target_table_id(profile, options))
        except NotFound:
            continue  # a new target: the batch starts at row 0
    return found


def llm_settings(config: RunConfig) -> LlmSettings:
    """The plan advisor's settings from the run's configuration; Gemini is called in the target project."""
    assert config.llm is not None, "start_batch resolves the advisor (RunConfig.for_runner)"
    return LlmSettings(
        llm=config.llm,
        project=config.target_project,
        location=config.llm_location,
        model=config.model,
        sample_policy=config.sample_policy,
        token_budget=config.llm_token_budget,
        min_category_count=config.min_category_count,
    )


def write_plan(plan: DatasetPlan, plan_path: Path) -> None:
    """The plan artifact, and next to it each table's recipe as a file users can read and edit."""
    write_model(plan, plan_path)
    recipes = plan_path.with_name("recipes")
    recipes.mkdir(parents=True, exist_ok=True)
    for table in plan.tables:
        (recipes / f"{table.name}.recipe.yml").write_text(table.recipe)


def with_output_formats(plan: DatasetPlan, file_outputs: dict[str, FileOutputFormat]) -> DatasetPlan:
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
            fmt = changed_format(table.file_format, change)
        except ValueError as error:
            raise PlanError(f"file_outputs for {table.name}: {error}") from error
        updated.append(table.model_copy(update={"output_format": fmt}))
    unknown = sorted(set(file_outputs) - set(tables) - {f.table for f in plan.failures})
    if unknown:
        raise PlanError(f"file_outputs names {unknown}, which are not sources of this run; sources: {sorted(tables)}")
    return plan.model_copy(update={"tables": updated})


def advised_plan(
    profiles: list[TableProfile],
    offline: DatasetPlan,
    settings: LlmSettings,
    report_path: Path,
    checks: KeyChecks | None = None,
) -> DatasetPlan:
    """The offline plan, improved by the model where its checked answers say so.

    The advice report (decisions, fallbacks, prompt sizes, tokens) is written next to the
    plan and its lines logged; tokens and fallbacks also travel in the plan to the summary.
    """
    if settings.llm == "offline":
        return offline
    advised = advise_plan(profiles, offline, make_advisor(settings), settings.advice_options(), checks)
    write_model(advised.report, report_path)
    for line in advised.report.lines():
        log.info("%s", line)
    for problem in advised.report.problems():  # on the terminal too: advice.json is not where anyone looks
        warn_user(problem)
    # The plan's engine is advise_plan's: the model only where a checked answer of it was used,
    # so a run that fell back everywhere does not say it was planned by Gemini.
    return advised.plan.model_copy(
        update={
            "llm_tokens_used": advised.report.tokens_used,
            "llm_fallbacks": advised.report.fallbacks,
        }
    )
