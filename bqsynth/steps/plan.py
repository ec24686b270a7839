"""Plan all tables jointly: relationships, keys, generators, record counts, one recipe per table.

The offline plan comes first; when the run asks for a model, its checked advice improves
it. With ``plan_uri`` the run generates a plan a user edited instead (checked against the
fresh profiles), and ``recipes`` replace tables' compiled recipes (each checked). Planning
is the one step the run cannot go on without: its failure fails the run.

The plan is written as the ``plan`` artifact (JSON), and as ``plan.yaml`` with one recipe
per table next to it and in the batch's folder (``gs://<staging>/bqsynth/batches/<batch>/plan/``),
where a user finds them to edit and feed back.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from google.api_core.exceptions import GoogleAPIError, NotFound
from google.cloud import bigquery, storage

from bqsynth.config import RunConfig
from bqsynth.delivery.load import BATCHES_ROOT
from bqsynth.delivery.source_format_files import changed_format
from bqsynth.errors import BqsynthError, warn_user
from bqsynth.evaluation import integrity
from bqsynth.evaluation.run_summary import disclosure_lines
from bqsynth.gcp.uris import gcs_uri
from bqsynth.generation.exclusions import (
    TableExclusions,
    exclusion_spec,
    present_digests,
    read_by_plan,
    source_exclusions,
    value_digest,
)
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.recipe_checks import changed_key_fields, supplied_recipe_problems
from bqsynth.generation.shards import work_items
from bqsynth.llm import LlmSettings, advise_plan, llm_settings, make_advisor, with_offline_rules
from bqsynth.llm.vocabulary import PresentDigests
from bqsynth.models import (
    DatasetPlan,
    FileOutputFormat,
    ForeignKeyRef,
    PlanFailure,
    TableProfile,
    WorkItem,
    leaf_plans,
    reported_disclosures,
)
from bqsynth.planning.plan_file import (
    PLAN_FILE_NAME,
    PlanFileError,
    checked_plan,
    edited_engine,
    plan_from_yaml,
    plan_to_yaml,
)
from bqsynth.planning.planner import PlanError, PlanOptions, plan_dataset, target_table_id
from bqsynth.sources.gcs_files import iter_source_records
from bqsynth.sources.key_checks import BigQueryKeyChecks, KeyChecks
from bqsynth.steps.artifacts import exclusions_uri, read_model, read_text, write_model, write_text
from bqsynth.steps.audited import AuditTrail, audited, failure_text, log_failure
from bqsynth.values import value_at

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
            public_columns=config.public_columns,
            private_columns=config.private_columns,
        )
        if config.write_disposition == "WRITE_APPEND":
            options.first_rows = rows_already_loaded(bq, profiles, options)
        if config.plan_uri:
            plan = users_plan(config, profiles, options, gcs)
        else:
            checks = BigQueryKeyChecks(bq, max_bytes_billed=config.maximum_bytes_billed)
            plan = advised_plan(
                profiles,
                with_recipes(plan_dataset(profiles, options, checks)),
                llm_settings(config),
                Path(plan_path).with_name("advice.json"),
                checks,
                source_values_lookup(bq, gcs, config.maximum_bytes_billed),
            )
        for table, reason in plan.llm_fallbacks.items():  # a warning: the table is planned, offline
            message = f"model advice not used, planned offline: {reason}"
            trail.write(trail.row("plan", "Completed", table_name=table, error_message=message))
        plan = with_supplied_recipes(plan, config.recipes, gcs)
        # A mistake in file_outputs is the user's configuration: the run stops before writing anything.
        plan = with_output_formats(plan, config.file_outputs)
        for line in disclosure_lines(reported_disclosures(plan.tables)):  # the step's log says what is kept
            log.info("%s", line)
        write_plan(plan, Path(plan_path))
        publish_plan(plan, config, gcs)
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
        items = work_items(plan.tables, config.shard_rows)
        write_shared_exclusions(config, plan, items, bq, gcs)
        work.complete_with(user_requested_table_count=len(profiles))
    # The generation ParallelFor's items: one task per shard of each table (dicts, as KFP passes them).
    return [item.model_dump() for item in items]


def write_shared_exclusions(
    config: RunConfig,
    plan: DatasetPlan,
    items: Sequence[WorkItem],
    bq: bigquery.Client,
    gcs: storage.Client | None,
) -> None:
    """Read once the source values each table of several shards must never emit, and write their
    digests where its shards read them (``artifacts.exclusions_uri``): one read of the source per
    table, not one per shard. One table is held at a time, as digests, never rows.

    A table whose source cannot be read gets the error instead, and each of its shards fails with
    it, as a shard that read the source itself did; the other tables go on.
    """
    shards = Counter(item.table for item in items)
    for table in plan.tables:
        if not read_by_plan(table, shards[table.name]):
            continue
        digests: dict[str, list[str]] = {}
        error = None
        try:
            digests = source_exclusions(table, bq, gcs)
        except Exception as failure:  # the table's failure, recorded for its shards, never the run's
            log_failure(f"reading the values {table.name} must not emit", failure)
            error = failure_text(failure)
        found = TableExclusions(
            table=table.name, source_table=table.source_table, spec=exclusion_spec(table), digests=digests, error=error
        )
        write_model(found, exclusions_uri(config, table.name), gcs=gcs)
        log.info(
            "plan: %s: the digests of %d source values to exclude, for %d shards",
            table.name,
            sum(map(len, digests.values())),
            shards[table.name],
        )


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


def source_values_lookup(bq: bigquery.Client, gcs: storage.Client | None, max_bytes_billed: int) -> PresentDigests:
    """How the advice finds a model-made vocabulary's values among all of a source column's: by a
    query on a BigQuery source, by reading a file source's files (once per column) as the generate
    step does. None (only the profile's values were compared) when that fails; the generate step's
    exclusions still drop any source value."""

    def present(profile: TableProfile, path: str, digests: Collection[str]) -> set[str] | None:
        if profile.file_format is None:
            return present_digests(bq, profile.table_id, path, digests, max_bytes_billed)
        if gcs is None:
            return None
        wanted = set(digests)
        try:  # one streamed pass over the files, keeping only the digests asked about
            records = iter_source_records(gcs, profile.table_id, profile.file_format)
            return {d for r in records if (v := value_at(r, path)) is not None and (d := value_digest(v)) in wanted}
        except (BqsynthError, GoogleAPIError, OSError) as error:
            log.warning("%s: the source values of %s could not be read: %s", profile.table_id, path, error)
            return None

    return present


def write_plan(plan: DatasetPlan, plan_path: Path) -> None:
    """The plan artifact, and next to it the plan as YAML and each table's recipe, files users can edit."""
    write_model(plan, plan_path)
    plan_path.with_name(PLAN_FILE_NAME).write_text(plan_to_yaml(plan))
    recipes = plan_path.with_name("recipes")
    recipes.mkdir(parents=True, exist_ok=True)
    for table in plan.tables:
        (recipes / f"{table.name}.recipe.yml").write_text(table.recipe)


def plan_folder_uri(config: RunConfig) -> str:
    """``gs://<staging>/bqsynth/batches/<batch>/plan/``: the batch's plan.yaml and recipes."""
    return gcs_uri(config.staging_bucket, f"{BATCHES_ROOT}/{config.batch_id}/plan/")


def publish_plan(plan: DatasetPlan, config: RunConfig, gcs: storage.Client | None) -> None:
    """The plan's YAML and recipes in the batch's folder, where users find them (the artifact's
    folder on Vertex AI is deep inside the pipeline root)."""
    if gcs is None:
        return
    folder = plan_folder_uri(config)
    write_text(plan_to_yaml(plan), folder + PLAN_FILE_NAME, gcs=gcs)
    for table in plan.tables:
        write_text(table.recipe, f"{folder}recipes/{table.name}.recipe.yml", gcs=gcs)


def users_plan(
    config: RunConfig, profiles: list[TableProfile], options: PlanOptions, gcs: storage.Client | None
) -> DatasetPlan:
    """The plan at ``plan_uri``, checked against this run's profiles, its recipes compiled.

    The plan's own seed is the run's: the file, not the run's parameters, reproduces the data.
    The targets are this run's (``target_project``, ``target_dataset``), whatever run wrote the
    file. Tables whose source could not be profiled this time fail as in any run.
    """
    where = config.plan_uri
    try:
        text = read_text(where, gcs=gcs)
    except (OSError, NotFound) as error:
        raise PlanFileError(f"plan file {where} cannot be read: {error}", file=where) from error
    plan = plan_from_yaml(text, where)
    failed = {p.name: p for p in profiles if p.error}
    failures = [PlanFailure(table=n, source_table=p.table_id, error=p.error or "") for n, p in failed.items()]
    targets = {p.name: target_table_id(p, options) for p in profiles}
    tables = [
        t.model_copy(update={"target_table": targets.get(t.name, t.target_table)})
        for t in plan.tables
        if t.name not in failed
    ]
    plan = plan.model_copy(update={"tables": tables, "failures": failures})
    plan = with_recipes(checked_plan(plan, profiles, config.max_rows, where, config.record_counts))
    plan = plan.model_copy(update={"engine": edited_engine(plan.engine, where)})
    # A plan's keys start where its own run's did (first_row): appended after rows already in a
    # target, they would repeat that run's keys.
    filled = {name: rows for name, rows in options.first_rows.items() if rows and name in targets}
    if filled:
        shown = ", ".join(f"{targets[n]} ({rows} rows)" for n, rows in sorted(filled.items()))
        raise PlanFileError(
            f"plan file {where}: WRITE_APPEND into targets that already hold rows: {shown}; a plan file's keys "
            "are its own run's, so the batch would repeat them. Use WRITE_TRUNCATE or another target_dataset"
        )
    if plan.seed != config.seed:
        warn_user(f"the plan file's seed {plan.seed} is used, not the run's seed {config.seed}: edit seed in {where}")
    log.info("plan: generating from the plan file %s (seed %s)", where, plan.seed)
    return plan


def with_supplied_recipes(plan: DatasetPlan, recipes: dict[str, str], gcs: storage.Client | None) -> DatasetPlan:
    """The plan with users' recipes in place of the compiled ones, each checked first.

    A recipe that changes a key or reference field gives up the plan's guarantee that keys are
    unique and references resolve; the summary's SQL checks on the target still count
    duplicates and orphans and fail the table, and the user is told so here.
    """
    tables = {t.name: t for t in plan.tables}
    updated = dict(tables)
    for name, where in recipes.items():
        table = tables.get(name)
        if table is None:
            raise PlanFileError(f"recipes names table {name}, which was not planned in this run", table=name)
        try:
            text = read_text(where, gcs=gcs)
        except (OSError, NotFound) as error:
            raise PlanFileError(f"recipe {where} cannot be read: {error}", table=name, file=where) from error
        problems = supplied_recipe_problems(table, text, plan.seed)
        if problems:
            raise PlanFileError(f"recipe {where} for table {name}: {'; '.join(problems[:10])}", table=name)
        references = [p for p, c in leaf_plans(table.columns).items() if isinstance(c.generator, ForeignKeyRef)]
        keys = [k.replace(".", "__") for k in dict.fromkeys([*table.primary_key, *references])]
        changed = changed_key_fields(table, text, keys)
        if changed:
            warn_user(
                f"recipe {where} changes the key or reference field(s) {changed} of table {name}: their uniqueness "
                "and references are no longer planned, only checked by SQL after the load (duplicates or orphans "
                "fail the table)"
            )
        updated[name] = table.model_copy(update={"recipe": text})
    return plan.model_copy(update={"tables": [updated[t.name] for t in plan.tables]})


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
    present: PresentDigests | None = None,
) -> DatasetPlan:
    """The offline plan, improved by the model where its checked answers say so.

    The advice report (decisions, fallbacks, prompt sizes, tokens) is written next to the
    plan and its lines logged; tokens and fallbacks also travel in the plan to the summary.
    """
    if settings.llm == "offline":
        ruled, lines = with_offline_rules(offline, profiles, settings.advice_options().min_rule_support)
        for line in lines:
            log.info("%s", line)
        return ruled
    advised = advise_plan(profiles, offline, make_advisor(settings), settings.advice_options(), checks, present)
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
