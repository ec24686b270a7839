"""The pipeline steps, called as functions with real clients on the local emulators (no KFP, no mocks).

One small source table goes through start_batch, profile, plan, generate, load and
summarize; every step's artifact and audit rows are checked. The audited-step machinery
is checked on its own for each kind of failure: the user's, Google's and a bug.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from google.api_core import exceptions as google_exceptions
from google.cloud import bigquery, storage

from bqsynth.config import ConfigError, RunConfig
from bqsynth.delivery.audit import AuditRecord, read_audit
from bqsynth.errors import BqsynthError
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.gcp.uris import split_uri
from bqsynth.generation.columnar import generate_with_engine
from bqsynth.generation.exclusions import TableExclusions, value_digest
from bqsynth.generation.parquet_files import read_rows
from bqsynth.models import DatasetPlan, RunSummary, TableProfile, TableResults, WorkItem
from bqsynth.planning.planner import PlanError
from bqsynth.steps.artifacts import exclusions_uri, read_model
from bqsynth.steps.audited import AuditTrail, audited, failure_text
from bqsynth.steps.generate import generate_step
from bqsynth.steps.load import load_tables_step
from bqsynth.steps.plan import plan_step, write_shared_exclusions
from bqsynth.steps.profile import profile_step
from bqsynth.steps.start_batch import run_config, start_batch_step
from bqsynth.steps.summarize import summarize_step

BUCKET = "bqsynth-step-tests"
CUSTOMERS = [
    {"customer_id": i, "segment": ["retail", "business"][i % 2], "signup_date": f"2024-01-{i % 28 + 1:02d}"}
    for i in range(1, 31)
]


@dataclass(frozen=True)
class Warehouse:
    bq: bigquery.Client
    gcs: storage.Client
    dataset: str  # project.dataset holding the source

    @property
    def target(self) -> str:
        """project.dataset of the targets and the audit table (a source's dataset is never a target)."""
        return f"{self.dataset}_target"

    @property
    def source(self) -> str:
        return f"{self.dataset}.customers"

    def config(self, **parameters: object) -> RunConfig:
        """The run's configuration as start_batch makes it from pipeline parameters (KFP's types)."""
        return run_config(
            {
                "source_tables": [self.source],
                "target_dataset": self.target.split(".")[1],
                "staging_bucket": BUCKET,
                "record_counts": {"customers": 12.0},  # a dict's numbers arrive as floats
                "seed": 3,
                "min_category_count": 1,
                "quality_sample_rows": 100,
                "llm": "offline",
                **parameters,
            }
        )

    def states(self, config: RunConfig) -> list[tuple[str | None, str, str]]:
        return [(r.table_name, r.stage, r.status) for r in read_audit(self.bq, config.audit_table, config.batch_id)]

    def failures(self, config: RunConfig) -> dict[tuple[str | None, str], str]:
        rows = read_audit(self.bq, config.audit_table, config.batch_id)
        return {(r.table_name, r.stage): r.error_message or "" for r in rows if r.status == "Failed"}


@pytest.fixture(scope="module")
def warehouse(local_stack: object) -> Iterator[Warehouse]:
    bq, gcs = bigquery_client(), storage_client()
    dataset = f"{bq.project}.steps_{uuid.uuid4().hex[:8]}"
    bq.create_dataset(dataset)
    bq.create_dataset(f"{dataset}_target")
    schema = [
        bigquery.SchemaField("customer_id", "INT64", mode="REQUIRED"),
        bigquery.SchemaField("segment", "STRING"),
        bigquery.SchemaField("signup_date", "DATE"),
    ]
    table = bq.create_table(bigquery.Table(f"{dataset}.customers", schema=schema))
    bq.load_table_from_json(CUSTOMERS, table, job_config=bigquery.LoadJobConfig(schema=schema)).result()
    if gcs.lookup_bucket(BUCKET) is None:
        gcs.create_bucket(BUCKET)
    yield Warehouse(bq, gcs, dataset)
    bq.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
    bq.delete_dataset(f"{dataset}_target", delete_contents=True, not_found_ok=True)


@pytest.fixture
def located_sources(warehouse: Warehouse) -> Iterator[tuple[str, str, str]]:
    """Source datasets in EU and in US (one table each), and the name of a target not made yet."""
    made = []
    for location in ("EU", "US"):
        name = f"{warehouse.bq.project}.loc_{location.lower()}_{uuid.uuid4().hex[:8]}"
        dataset = bigquery.Dataset(name)
        dataset.location = location
        warehouse.bq.create_dataset(dataset)
        warehouse.bq.create_table(bigquery.Table(f"{name}.t_{location}", schema=[bigquery.SchemaField("id", "INT64")]))
        made.append(name)
    target = f"loc_target_{uuid.uuid4().hex[:8]}"
    yield made[0], made[1], target
    for dataset in [*made, f"{warehouse.bq.project}.{target}"]:
        warehouse.bq.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def test_a_new_target_dataset_is_made_in_the_sources_location(
    warehouse: Warehouse, located_sources: tuple[str, str, str], tmp_path: Path
) -> None:
    eu, _, target = located_sources
    config = warehouse.config(source_tables=[f"{eu}.t_EU"], target_dataset=target, record_counts={})
    start_batch_step(config, str(tmp_path / "config"), bq=warehouse.bq)
    assert warehouse.bq.get_dataset(f"{warehouse.bq.project}.{target}").location == "EU"  # not the default US
    assert warehouse.states(config) == [(None, "run", "In Progress")]


def test_sources_in_two_locations_are_refused_before_anything_is_made(
    warehouse: Warehouse, located_sources: tuple[str, str, str], tmp_path: Path
) -> None:
    eu, us, target = located_sources
    config = warehouse.config(source_tables=[f"{eu}.t_EU", f"{us}.t_US"], target_dataset=target, record_counts={})
    with pytest.raises(ConfigError, match=rf"several locations \({eu} in EU, {us} in US\)"):
        start_batch_step(config, str(tmp_path / "config"), bq=warehouse.bq)
    with pytest.raises(google_exceptions.NotFound):
        warehouse.bq.get_dataset(f"{warehouse.bq.project}.{target}")


@pytest.fixture
def started(warehouse: Warehouse, tmp_path: Path) -> RunConfig:
    config = warehouse.config(batch_id=f"unit-{uuid.uuid4().hex[:8]}")
    start_batch_step(config, str(tmp_path / "config"), bq=warehouse.bq)
    return config


def test_start_batch_resolves_the_configuration_and_opens_the_run(warehouse: Warehouse, tmp_path: Path) -> None:
    config = warehouse.config()
    assert config.batch_id  # a new one when none is given
    assert config.target_project == warehouse.bq.project  # the source's
    assert config.audit_table == f"{warehouse.target}.bqsynth_audit"  # in the target dataset
    assert config.record_counts == {"customers": 12}
    start_batch_step(config, str(tmp_path / "config"), bq=warehouse.bq)
    assert read_model(RunConfig, tmp_path / "config") == config
    assert warehouse.states(config) == [(None, "run", "In Progress")]


def test_wrong_pipeline_parameters_fail_the_run_before_it_starts(warehouse: Warehouse) -> None:
    with pytest.raises(ConfigError, match=r"pipeline parameters.*record_counts.customers") as error:
        warehouse.config(record_counts={"customers": 12.5}, sample_rows=-1)
    assert "sample_rows" in str(error.value)
    with pytest.raises(ConfigError, match="at least one source table"):
        warehouse.config(source_tables=[])


def test_an_advisor_left_unset_is_the_one_a_vertex_run_gets(warehouse: Warehouse) -> None:
    assert warehouse.config(llm=None).llm == "gemini"


def test_a_whole_run_of_steps_records_every_state_change(
    warehouse: Warehouse, started: RunConfig, tmp_path: Path
) -> None:
    plan_path = str(tmp_path / "plan" / "plan")
    profile = profile_step(started, warehouse.source, str(tmp_path / "profile"), bq=warehouse.bq, gcs=warehouse.gcs)
    assert read_model(TableProfile, tmp_path / "profile") == profile
    assert profile.error is None and profile.row_count == len(CUSTOMERS)

    items = plan_step(started, [str(tmp_path / "profile")], plan_path, bq=warehouse.bq)
    assert items == [{"table": "customers", "shard": 0, "shards": 1, "start_index": 0, "row_count": 12}]
    plan = read_model(DatasetPlan, plan_path)
    assert plan.seed == started.seed
    assert (tmp_path / "plan" / "recipes" / "customers.recipe.yml").read_text() == plan.table("customers").recipe

    generated_path = str(tmp_path / "generated")
    [item] = [WorkItem.model_validate(i) for i in items]
    generated = generate_step(started, plan_path, item, generated_path, bq=warehouse.bq, gcs=warehouse.gcs)
    assert (generated.status, generated.rows_generated) == ("Completed", 12), generated.error
    assert all(uri.startswith(f"gs://{BUCKET}/") for uri in generated.files)
    assert generated.engine.split(":")[0] in ("columnar", "snowfakery") and "engine=auto" in generated.engine

    results = load_tables_step(started, plan_path, [generated_path], str(tmp_path / "loaded"), bq=warehouse.bq)
    [loaded] = results.tables
    assert (loaded.status, loaded.rows_loaded) == ("Completed", 12), loaded.error
    assert read_model(TableResults, tmp_path / "loaded") == results

    summary, headline = summarize_step(
        started,
        plan_path,
        str(tmp_path / "loaded"),
        str(tmp_path / "summary"),
        str(tmp_path / "report.md"),
        bq=warehouse.bq,
        gcs=warehouse.gcs,
    )
    assert [(t.table, t.status, t.rows_in_target, t.duplicate_primary_keys) for t in summary.tables] == [
        ("customers", "Completed", 12, 0)
    ]
    assert headline and (tmp_path / "report.md").read_text()

    states = warehouse.states(started)
    for stage in ("profile", "generate", "load"):
        assert states.count(("customers", stage, "In Progress")) == 1, stage
        assert states.count(("customers", stage, "Completed")) == 1, stage
    assert (None, "plan", "In Progress") in states and (None, "plan", "Completed") in states
    assert states[0] == (None, "run", "In Progress") and states[-1] == (None, "run", "Completed")
    assert not warehouse.failures(started)
    completed = [r for r in read_audit(warehouse.bq, started.audit_table, started.batch_id) if r.status == "Completed"]
    assert all(r.seconds is not None for r in completed if r.stage != "run")  # timed from their In Progress row
    # The profile's bytes (0 from the emulator, which reports none) are in its audit row, for the cost trail.
    assert [r.bytes_processed for r in completed if r.stage == "profile"] == [profile.bytes_processed]


def run_batch(warehouse: Warehouse, config: RunConfig, work: Path, table: str = "customers") -> RunSummary:
    """Every step of one batch, as the pipeline runs them, for one source table."""
    start_batch_step(config, str(work / "config"), bq=warehouse.bq)
    source = f"{warehouse.dataset}.{table}"
    profile_step(config, source, str(work / "profile"), bq=warehouse.bq, gcs=warehouse.gcs)
    items = plan_step(config, [str(work / "profile")], str(work / "plan" / "plan"), bq=warehouse.bq, gcs=warehouse.gcs)
    generated = [str(work / f"gen-{n}") for n in range(len(items))]
    for item, path in zip(items, generated, strict=True):
        shard = WorkItem.model_validate(item)
        generate_step(config, str(work / "plan" / "plan"), shard, path, bq=warehouse.bq, gcs=warehouse.gcs)
    load_tables_step(config, str(work / "plan" / "plan"), generated, str(work / "loaded"), bq=warehouse.bq)
    return summarize(warehouse, config, work)


def summarize(warehouse: Warehouse, config: RunConfig, work: Path) -> RunSummary:
    paths = [str(work / "plan" / "plan"), str(work / "loaded"), str(work / "summary"), str(work / "report.md")]
    return summarize_step(config, *paths, bq=warehouse.bq, gcs=warehouse.gcs)[0]


def target_ids(warehouse: Warehouse) -> list[int]:
    query = f"SELECT customer_id FROM `{warehouse.target}.customers`"
    return [row[0] for row in warehouse.bq.query(query).result()]


def test_an_appended_batch_continues_the_keys_after_the_rows_already_there(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    first = warehouse.config(batch_id=f"first-{uuid.uuid4().hex[:8]}")  # WRITE_TRUNCATE: the target starts anew
    assert run_batch(warehouse, first, tmp_path / "first").ok
    before = target_ids(warehouse)
    second = warehouse.config(batch_id=f"second-{uuid.uuid4().hex[:8]}", write_disposition="WRITE_APPEND")
    summary = run_batch(warehouse, second, tmp_path / "second")
    [table] = summary.tables
    assert (table.status, table.rows_in_target, table.duplicate_primary_keys) == ("Completed", 24, 0), table.error
    after = target_ids(warehouse)
    assert len(after) == len(set(after)) == 24 and set(before) < set(after)
    assert read_model(DatasetPlan, tmp_path / "second" / "plan" / "plan").table("customers").first_row == 12
    assert warehouse.states(second)[-1] == (None, "run", "Completed")


def test_duplicate_keys_in_the_target_fail_the_run_in_the_audit_too(warehouse: Warehouse, tmp_path: Path) -> None:
    config = warehouse.config(batch_id=f"dup-{uuid.uuid4().hex[:8]}")
    assert run_batch(warehouse, config, tmp_path).ok
    target = f"`{warehouse.target}.customers`"
    warehouse.bq.query(f"INSERT INTO {target} SELECT * FROM {target} LIMIT 1").result()  # one key twice
    summary = summarize(warehouse, config, tmp_path)
    assert not summary.ok and summary.tables[0].duplicate_primary_keys == 1
    assert warehouse.states(config)[-1] == (None, "run", "Failed")
    assert "duplicate primary key" in warehouse.failures(config)[(None, "run")]


def test_a_birth_date_kept_in_a_timestamp_is_never_a_real_persons_birthday(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """120 employees born on 120 of 150 days: a birth date drawn in that span would mostly hit one."""
    schema = [
        bigquery.SchemaField("employee_id", "INT64", mode="REQUIRED"),
        bigquery.SchemaField("first_name", "STRING"),
        bigquery.SchemaField("BirthDate", "TIMESTAMP"),
    ]
    days = [d for d in range(150) if d % 5][:120]
    born = [date(1990, 1, 1) + timedelta(days=day) for day in days]
    rows = [{"employee_id": i + 1, "first_name": f"Name{i}", "BirthDate": f"{d} 00:00:00"} for i, d in enumerate(born)]
    table = warehouse.bq.create_table(bigquery.Table(f"{warehouse.dataset}.employees", schema=schema), exists_ok=True)
    warehouse.bq.load_table_from_json(rows, table, job_config=bigquery.LoadJobConfig(schema=schema)).result()
    config = warehouse.config(
        batch_id=f"dob-{uuid.uuid4().hex[:8]}",
        source_tables=[f"{warehouse.dataset}.employees"],
        record_counts={"employees": 100},
    )
    summary = run_batch(warehouse, config, tmp_path, table="employees")
    [quality] = summary.tables
    assert quality.status == "Completed" and quality.rows_in_target == 100, quality.error
    assert quality.privacy is not None and "BirthDate" in quality.privacy.identifying_columns_checked
    assert quality.privacy.identifying_values_leaked == 0
    shared = warehouse.bq.query(
        f"SELECT COUNT(*) FROM `{warehouse.target}.employees` AS t "
        f"JOIN `{warehouse.dataset}.employees` AS s ON DATE(t.BirthDate) = DATE(s.BirthDate)"
    ).result()
    assert next(iter(shared))[0] == 0  # by SQL join: no synthetic birth date on a source birthday
    times = warehouse.bq.query(f"SELECT DISTINCT TIME(BirthDate) FROM `{warehouse.target}.employees`").result()
    assert [str(row[0]) for row in times] == ["00:00:00"]  # whole days, as the source's


def test_a_count_of_0_empties_the_target_on_purpose(warehouse: Warehouse, tmp_path: Path) -> None:
    assert run_batch(warehouse, warehouse.config(batch_id=f"full-{uuid.uuid4().hex[:8]}"), tmp_path / "full").ok
    assert len(target_ids(warehouse)) == 12
    config = warehouse.config(batch_id=f"zero-{uuid.uuid4().hex[:8]}", record_counts={"customers": 0})
    summary = run_batch(warehouse, config, tmp_path / "zero")
    [table] = summary.tables
    assert (table.status, table.rows_generated, table.rows_in_target) == ("Completed", 0, 0), table.error
    assert target_ids(warehouse) == []  # WRITE_TRUNCATE with nothing: the earlier batch's rows are gone
    assert warehouse.states(config)[-1] == (None, "run", "Completed")


def test_an_empty_source_table_gets_an_empty_target_of_its_schema(warehouse: Warehouse, tmp_path: Path) -> None:
    schema = [bigquery.SchemaField("code", "STRING", mode="REQUIRED"), bigquery.SchemaField("n", "INT64")]
    warehouse.bq.create_table(bigquery.Table(f"{warehouse.dataset}.nothing_yet", schema=schema), exists_ok=True)
    config = warehouse.config(
        batch_id=f"empty-{uuid.uuid4().hex[:8]}", source_tables=[f"{warehouse.dataset}.nothing_yet"], record_counts={}
    )
    summary = run_batch(warehouse, config, tmp_path, table="nothing_yet")
    [table] = summary.tables
    assert (table.status, table.rows_in_target) == ("Completed", 0), table.error
    target = warehouse.bq.get_table(f"{warehouse.target}.nothing_yet")
    assert [(f.name, f.field_type, f.mode) for f in target.schema] == [
        ("code", "STRING", "REQUIRED"),
        ("n", "INTEGER", "NULLABLE"),
    ]


def test_a_table_that_cannot_be_profiled_fails_with_the_remedy(
    warehouse: Warehouse, started: RunConfig, tmp_path: Path
) -> None:
    missing = f"{warehouse.dataset}.nowhere"
    profile = profile_step(started, missing, str(tmp_path / "profile"), bq=warehouse.bq, gcs=warehouse.gcs)
    assert profile.error and "nowhere" in profile.error and "check the project, dataset and table name" in profile.error
    assert read_model(TableProfile, tmp_path / "profile").error == profile.error
    assert warehouse.states(started)[-2:] == [("nowhere", "profile", "In Progress"), ("nowhere", "profile", "Failed")]
    assert warehouse.failures(started)[("nowhere", "profile")] == profile.error
    assert "internal error" not in profile.error


def test_a_plan_with_no_table_left_fails_the_run_and_raises(
    warehouse: Warehouse, started: RunConfig, tmp_path: Path
) -> None:
    gone = f"{warehouse.dataset}.gone"
    profile_step(started, gone, str(tmp_path / "profile"), bq=warehouse.bq, gcs=warehouse.gcs)
    with pytest.raises(PlanError, match="no table could be planned"):
        plan_step(started, [str(tmp_path / "profile")], str(tmp_path / "plan"), bq=warehouse.bq)
    failures = warehouse.failures(started)
    assert "no table could be planned" in failures[(None, "plan")]
    assert failures[(None, "run")] == failures[(None, "plan")]


# ---------------------------------------------------------------------------------------------
# The audited-step machinery, on its own
# ---------------------------------------------------------------------------------------------


def last_row(warehouse: Warehouse, config: RunConfig) -> AuditRecord:
    return read_audit(warehouse.bq, config.audit_table, config.batch_id)[-1]


def test_a_users_error_is_recorded_in_its_own_words(warehouse: Warehouse, started: RunConfig) -> None:
    trail = AuditTrail(warehouse.bq, started.audit_table, started.batch_id)
    with audited(trail, trail.row("load", table_name="orders")) as work:
        raise BqsynthError("the target has another schema", table="orders", hint="Drop it or pick another dataset.")
    assert work.failure == "table orders: the target has another schema. Drop it or pick another dataset."
    row = last_row(warehouse, started)
    assert (row.table_name, row.stage, row.status, row.error_message) == ("orders", "load", "Failed", work.failure)


def test_a_bug_is_labelled_an_internal_error_with_its_traceback_in_the_log(
    warehouse: Warehouse, started: RunConfig, caplog: pytest.LogCaptureFixture
) -> None:
    trail = AuditTrail(warehouse.bq, started.audit_table, started.batch_id)
    with caplog.at_level(logging.ERROR, logger="bqsynth"), audited(trail, trail.row("generate", table_name="t")):
        {}["missing_key"]  # noqa: B018 - the bug under test
    message = last_row(warehouse, started).error_message or ""
    assert message.startswith("internal error (a bug in bqsynth, not a problem with the input): KeyError")
    assert "'missing_key'" in message and "log has the traceback" in message
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)


def test_a_google_refusal_is_not_called_a_bug(warehouse: Warehouse, started: RunConfig) -> None:
    trail = AuditTrail(warehouse.bq, started.audit_table, started.batch_id)
    with audited(trail, trail.row("generate", table_name="t")) as work:
        raise google_exceptions.NotFound("The specified bucket does not exist.")
    assert work.failure == "Google Cloud refused a request (NotFound): The specified bucket does not exist."
    assert "internal" not in work.failure


def test_work_the_run_needs_fails_the_run_and_raises(warehouse: Warehouse, started: RunConfig) -> None:
    trail = AuditTrail(warehouse.bq, started.audit_table, started.batch_id)
    with pytest.raises(ZeroDivisionError), audited(trail, trail.row("plan"), ends_run=True):
        _ = 1 / 0
    failures = warehouse.failures(started)
    assert failures[(None, "plan")] == failures[(None, "run")] == failure_text(ZeroDivisionError("division by zero"))


def test_work_can_end_failed_without_an_exception_and_keep_its_counts(warehouse: Warehouse, started: RunConfig) -> None:
    trail = AuditTrail(warehouse.bq, started.audit_table, started.batch_id)
    with audited(trail, trail.row("run"), announce=False) as work:
        work.complete_with(num_records_generated=7, error_message="a warning")
        work.fail("failed tables: t")
    rows = read_audit(warehouse.bq, started.audit_table, started.batch_id)
    assert [(r.stage, r.status) for r in rows] == [("run", "In Progress"), ("run", "Failed")]  # no second In Progress
    assert (rows[-1].num_records_generated, rows[-1].error_message, rows[-1].seconds) == (7, "failed tables: t", None)


def test_completed_rows_carry_what_the_work_reported(warehouse: Warehouse, started: RunConfig) -> None:
    trail = AuditTrail(warehouse.bq, started.audit_table, started.batch_id)
    with audited(trail, trail.row("load", table_name="t", input_gcs_path="gs://b/x")) as work:
        work.complete_with(num_records_generated=3)
    row = last_row(warehouse, started)
    assert (row.status, row.num_records_generated, row.input_gcs_path) == ("Completed", 3, "gs://b/x")
    assert not work.failed and json.loads(row.model_dump_json())["seconds"] >= 0


def test_a_table_in_shards_is_loaded_once_whole_and_a_failed_shard_keeps_it_out(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Each shard is its own generate step (a task of the generation ParallelFor); one load job takes them all."""
    config = warehouse.config(batch_id=f"shards-{uuid.uuid4().hex[:8]}", shard_rows=5.0)  # a float, as KFP sends
    summary = run_batch(warehouse, config, tmp_path / "whole")
    [table] = summary.tables
    assert (table.status, table.rows_loaded, table.rows_in_target, table.duplicate_primary_keys) == (
        "Completed",
        12,
        12,
        0,
    ), table.error
    loaded = read_model(TableResults, tmp_path / "whole" / "loaded").tables[0]
    # The columnar engine writes this table as Parquet (every column loads from it exactly).
    assert loaded.shards == 3 and [uri.rsplit("/", 1)[-1] for uri in loaded.files] == [
        f"customers-{n:05d}.parquet" for n in range(3)
    ]
    ids = target_ids(warehouse)
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 12
    rows = read_audit(warehouse.bq, config.audit_table, config.batch_id)
    generated = [(r.shard_index, r.shard_count, r.num_records_generated) for r in rows if r.stage == "generate"]
    assert sorted(g for g in generated if g[2] is not None) == [(0, 3, 5), (1, 3, 5), (2, 3, 2)]
    assert [r.status for r in rows if r.stage == "load" and r.table_name == "customers"] == ["In Progress", "Completed"]

    # The batch loaded again (a retried load step): the one load job is found, nothing is added.
    plan_path, shard_paths = str(tmp_path / "whole" / "plan" / "plan"), sorted(tmp_path.glob("whole/gen-*"))
    again = load_tables_step(config, plan_path, [str(p) for p in shard_paths], str(tmp_path / "again"), bq=warehouse.bq)
    assert again.tables[0].rows_loaded == 12 and sorted(target_ids(warehouse)) == sorted(ids)

    # Another batch whose second shard fails: the table fails naming that shard, and nothing of it is loaded.
    failing = warehouse.config(batch_id=f"shards-failed-{uuid.uuid4().hex[:8]}", shard_rows=5)
    work = tmp_path / "failed"
    start_batch_step(failing, str(work / "config"), bq=warehouse.bq)
    profile_step(failing, warehouse.source, str(work / "profile"), bq=warehouse.bq, gcs=warehouse.gcs)
    plan_path = str(work / "plan" / "plan")
    items = [
        WorkItem.model_validate(i) for i in plan_step(failing, [str(work / "profile")], plan_path, bq=warehouse.bq)
    ]
    # The second shard's task gets a plan whose recipe Snowfakery cannot run (as a broken user recipe would be).
    plan = read_model(DatasetPlan, plan_path)
    broken = plan.model_copy(
        update={"tables": [plan.table("customers").model_copy(update={"recipe": "- object: customers\n  nope: [\n"})]}
    )
    (work / "broken-plan").write_text(broken.model_dump_json(by_alias=True))
    paths = []
    for item in items:
        plan_file = str(work / "broken-plan") if item.shard == 1 else plan_path
        paths.append(str(work / f"gen-{item.shard}"))
        generate_step(failing, plan_file, item, paths[-1], bq=warehouse.bq, gcs=warehouse.gcs)
    [result] = load_tables_step(failing, plan_path, paths, str(work / "loaded"), bq=warehouse.bq).tables
    assert result.status == "Failed" and result.files == [] and result.shards == 3
    assert result.error and "customers" in result.error and "shard 2 of 3 (rows 5-9) failed" in result.error
    assert sorted(target_ids(warehouse)) == sorted(ids)  # WRITE_TRUNCATE never ran: the earlier batch is intact
    failures = warehouse.failures(failing)
    assert failures[("customers", "load")] == result.error
    assert "customers" in failures[("customers", "generate")]
    summary = summarize(warehouse, failing, work)
    assert [(t.table, t.status, t.error) for t in summary.tables] == [("customers", "Failed", result.error)]


def birthdays_table(warehouse: Warehouse, name: str) -> tuple[str, set[str]]:
    """A source of 120 people born on 120 of 150 days (an identifying birth date in a TIMESTAMP),
    and its birthdays: a birth date drawn in that span would mostly hit one."""
    schema = [
        bigquery.SchemaField("person_id", "INT64", mode="REQUIRED"),
        bigquery.SchemaField("BirthDate", "TIMESTAMP"),
    ]
    born = [date(1990, 1, 1) + timedelta(days=day) for day in range(150) if day % 5][:120]
    rows = [{"person_id": i + 1, "BirthDate": f"{d} 00:00:00"} for i, d in enumerate(born)]
    table = warehouse.bq.create_table(bigquery.Table(f"{warehouse.dataset}.{name}", schema=schema))
    warehouse.bq.load_table_from_json(rows, table, job_config=bigquery.LoadJobConfig(schema=schema)).result()
    return f"{warehouse.dataset}.{name}", {str(d) for d in born}


def planned_shards(warehouse: Warehouse, config: RunConfig, source: str, work: Path) -> tuple[str, list[WorkItem]]:
    """The batch started, ``source`` profiled and planned, in ``work``: the plan's path and its work items."""
    start_batch_step(config, str(work / "config"), bq=warehouse.bq)
    profile_step(config, source, str(work / "profile"), bq=warehouse.bq, gcs=warehouse.gcs)
    plan_path = str(work / "plan" / "plan")
    items = plan_step(config, [str(work / "profile")], plan_path, bq=warehouse.bq, gcs=warehouse.gcs)
    return plan_path, [WorkItem.model_validate(i) for i in items]


def test_a_table_in_shards_reads_its_source_values_once_and_no_shard_emits_one(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """The plan step reads the values to exclude and writes their digests once; the 4 shards read them
    there (the source is gone by the time they run) and none emits a source birthday."""
    source, birthdays = birthdays_table(warehouse, f"people_{uuid.uuid4().hex[:6]}")
    name = source.rsplit(".", 1)[1]
    config = warehouse.config(
        batch_id=f"excl-{uuid.uuid4().hex[:8]}", source_tables=[source], record_counts={name: 100}, shard_rows=25
    )
    work = tmp_path / "run"
    plan_path, items = planned_shards(warehouse, config, source, work)
    assert [(i.shard, i.shards, i.row_count) for i in items] == [(n, 4, 25) for n in range(4)]
    table = read_model(DatasetPlan, plan_path).table(name)
    where = exclusions_uri(config, table.name)
    shared = read_model(TableExclusions, where, gcs=warehouse.gcs)
    assert shared.error is None and shared.digests["BirthDate"] == sorted(value_digest(d) for d in birthdays)

    # Without the digests a shard does hit source birthdays: the check below could fail.
    unguarded = generate_with_engine(table, config.seed, tmp_path / "unguarded", only=items[1])
    drawn = {str(r["BirthDate"])[:10] for f in unguarded.files for r in read_rows(f)}
    assert drawn & birthdays

    warehouse.bq.delete_table(source)  # the shards must not read the source again
    paths = [str(work / f"gen-{item.shard}") for item in items]
    for item, path in zip(items, paths, strict=True):
        result = generate_step(config, plan_path, item, path, bq=warehouse.bq, gcs=warehouse.gcs)
        assert (result.status, result.rows_generated) == ("Completed", 25), result.error
    [loaded] = load_tables_step(config, plan_path, paths, str(work / "loaded"), bq=warehouse.bq).tables
    assert (loaded.status, loaded.rows_loaded, loaded.shards) == ("Completed", 100, 4), loaded.error
    days = warehouse.bq.query(f"SELECT DISTINCT CAST(DATE(BirthDate) AS STRING) FROM `{loaded.target_table}`")
    emitted = {row[0] for row in days.result() if row[0] is not None}
    assert len(emitted) > 20 and not emitted & birthdays  # across all 4 shards, by SQL on the target

    # The object gone (a lost write, a cleaned bucket): the shard fails, naming the table and where.
    bucket, object_name = split_uri(where)
    warehouse.gcs.bucket(bucket).blob(object_name).delete()
    lost = generate_step(config, plan_path, items[2], str(work / "lost"), bq=warehouse.bq, gcs=warehouse.gcs)
    assert lost.status == "Failed" and lost.files == []
    assert lost.error and name in lost.error and "missing" in lost.error and where in lost.error


def test_a_source_the_plan_step_cannot_read_fails_every_shard_of_its_table(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    source, _ = birthdays_table(warehouse, f"gone_{uuid.uuid4().hex[:6]}")
    name = source.rsplit(".", 1)[1]
    config = warehouse.config(
        batch_id=f"excl-gone-{uuid.uuid4().hex[:8]}", source_tables=[source], record_counts={name: 60}, shard_rows=20
    )
    plan_path, items = planned_shards(warehouse, config, source, tmp_path)
    warehouse.bq.delete_table(source)
    # The plan step's read of the source fails (as it would when the table went away mid-run).
    write_shared_exclusions(config, read_model(DatasetPlan, plan_path), items, warehouse.bq, warehouse.gcs)
    table = read_model(DatasetPlan, plan_path).table(name)
    failed = read_model(TableExclusions, exclusions_uri(config, table.name), gcs=warehouse.gcs)
    assert failed.digests == {} and failed.error and name in failed.error
    for item in items:
        result = generate_step(
            config, plan_path, item, str(tmp_path / f"gen-{item.shard}"), bq=warehouse.bq, gcs=warehouse.gcs
        )
        assert result.status == "Failed" and result.rows_generated == 0 and result.files == []
        assert result.error and "could not read the source values it must not emit" in result.error
        assert name in result.error
