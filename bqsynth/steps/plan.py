"""Plan all tables jointly: relationships, keys, generators, record counts, one recipe per table.

The offline plan comes first; when the run asks for a model, its checked advice improves
it. Planning is the one step the run cannot go on without: its failure fails the run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from google.cloud import bigquery

from bqsynth.delivery.source_format_files import changed_format
from bqsynth.generation.recipe import with_recipes
from bqsynth.llm import DEFAULT_MODEL, LlmSettings, advise_plan, make_advisor
from bqsynth.models import BatchInfo, DatasetPlan, FileOutputFormat, TableProfile
from bqsynth.planning.planner import PlanError, PlanOptions, plan_dataset
from bqsynth.steps.artifacts import read_model, write_model
from bqsynth.steps.audited import AuditTrail, audited

log = logging.getLogger("bqsynth")


def plan_step(
    batch: BatchInfo,
    profile_paths: list[str],
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
    *,
    bq: bigquery.Client,
) -> list[str]:
    """Plan all tables (offline, then advised by the chosen model); returns the tables to generate."""
    trail = AuditTrail(bq, batch.audit_table, batch.batch_id)
    with audited(trail, trail.row("plan"), ends_run=True) as work:
        profiles = [read_model(TableProfile, p) for p in profile_paths]
        options = PlanOptions(
            seed=int(seed),
            # KFP passes dict values through protobuf Struct: every number arrives as a float.
            record_counts={str(k): int(v) for k, v in (record_counts or {}).items()},
            scale=float(scale),
            target_project=batch.target_project,
            target_dataset=target_dataset,
            min_category_count=int(min_category_count),
        )
        plan = advised_plan(
            profiles,
            with_recipes(plan_dataset(profiles, options)),
            LlmSettings(
                llm=llm,  # type: ignore[arg-type]  # validated by the model
                project=batch.target_project,
                location=llm_location,
                model=model,
                sample_policy=sample_policy,  # type: ignore[arg-type]
                token_budget=int(llm_token_budget),
                min_category_count=options.min_category_count,
            ),
            Path(plan_path).with_name("advice.json"),
        )
        for table, reason in plan.llm_fallbacks.items():  # a warning: the table is planned, offline
            message = f"model advice not used, planned offline: {reason}"
            trail.write(trail.row("plan", "Completed", table_name=table, error_message=message))
        # A mistake in file_outputs is the user's configuration: the run stops before writing anything.
        plan = with_output_formats(plan, file_outputs or {})
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
    return [t.name for t in plan.tables]


def write_plan(plan: DatasetPlan, plan_path: Path) -> None:
    """The plan artifact, and next to it each table's recipe as a file users can read and edit."""
    write_model(plan, plan_path)
    recipes = plan_path.with_name("recipes")
    recipes.mkdir(parents=True, exist_ok=True)
    for table in plan.tables:
        (recipes / f"{table.name}.recipe.yml").write_text(table.recipe)


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
