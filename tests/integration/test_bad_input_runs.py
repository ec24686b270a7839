"""Bad input found once a run has started: one line per case (add yours to CASES).

Bad input refused before any work (exit 2, no emulator) is catalogued in
``tests/unit/test_bad_input.py``; this file holds what only the sources themselves can show:
tables that do not exist, empty tables, views, odd names, files that are not delimited text,
and faults of the run (a dead endpoint, SIGTERM). Each case is one line of ``CASES``:

* ``run``: the pipeline run it is part of. Cases share a run where their tables do not
  affect each other (``submit.py --local`` over many sources at once), so that the catalogue
  costs a few runs, not forty; the exit code asserted is then that run's.
* ``source``: the source as given to ``--source-tables`` (``{src}``, ``{src2}``: the run's
  source datasets; ``{land}``: ``gs://`` folder of the run's landing bucket; empty for a case
  about the run as a whole), and ``setup``: what is created for it first.
* ``exit_code`` and ``words``: the words must be in the table's Failed audit rows, or, for a
  case about the run, in what ``submit.py`` printed on stderr.
* ``audit``: the last status of each stage of the table's audit rows, exactly (so none is left
  In Progress); for a case about the run, of the rows that name no table (``run``, ``plan``).
* ``target``: rows in the target table afterwards; ``None``: there is no target table.

Every case also checks: no traceback on stderr, the run's audit row closed (Completed for
exit 0, Failed otherwise), and for a table loaded with rows that the quality report read
its source and found no column left empty, no NULL in a REQUIRED column and no type error.

``docs/bad_input_catalogue.md`` lists both catalogues, one line per case
(``python -m tests.bad_input_catalogue`` writes it from the two CASES lists).
"""

# The catalogue is a table, one case a line (so that a case is added in one line): its lines are long.
# ruff: noqa: E501

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from google.api_core.exceptions import NotFound
from google.cloud import bigquery, storage

import submit
from bqsynth.config import source_name
from bqsynth.delivery.audit import AuditError, AuditRecord, read_audit
from bqsynth.evaluation.integrity import count_rows
from bqsynth.gcp import clients
from bqsynth.models import RunSummary, TableQuality
from bqsynth.steps.artifacts import read_model

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------
# What a case creates before its run: one short call each
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """The run's own datasets and bucket, so that runs never see each other's tables."""

    project: str
    src: str  # project.dataset of the sources
    src2: str  # a second source dataset (a table of the same name in another dataset)
    target: str  # dataset name of the targets
    landing: str  # bucket of the file sources

    def format(self, text: str) -> str:
        return text.format(src=self.src, src2=self.src2, land=f"gs://{self.landing}/in", p=self.project)


Setup = Callable[[str, Names, bigquery.Client, storage.Client], None]
PAYMENTS = "id INT64 REQUIRED, amount FLOAT64, city STRING"
CITIES = ["Oslo", "Rome", "Lima"]


def _schema(spec: str) -> list[bigquery.SchemaField]:
    fields = [part.split() for part in spec.split(",")]
    return [bigquery.SchemaField(f[0], f[1], f[2] if len(f) > 2 else "NULLABLE") for f in fields]


def _value(field: bigquery.SchemaField, i: int) -> Any:
    return {"INT64": i, "FLOAT64": i * 1.5, "STRING": CITIES[i % len(CITIES)]}[field.field_type]


def table(spec: str = PAYMENTS, rows: int = 30, null: tuple[str, ...] = (), target: str | None = None) -> Setup:
    """A BigQuery table of ``rows`` rows (``null``: columns left NULL); ``target``: its target
    table exists already, with that schema."""

    def create(source: str, names: Names, bq: bigquery.Client, gcs: storage.Client) -> None:
        schema = _schema(spec)
        made = bq.create_table(bigquery.Table(source, schema=schema))
        data = [{f.name: None if f.name in null else _value(f, i) for f in schema} for i in range(1, rows + 1)]
        if data:
            bq.load_table_from_json(data, made, job_config=bigquery.LoadJobConfig(schema=schema)).result()
        if target:
            name = f"{names.project}.{names.target}.{source_name(source)}"
            bq.create_table(bigquery.Table(name, schema=_schema(target)))

    return create


def view(sql: str) -> Setup:
    def create(source: str, names: Names, bq: bigquery.Client, gcs: storage.Client) -> None:
        made = bigquery.Table(source)
        made.view_query = names.format(sql)
        bq.create_table(made)

    return create


def file(content: bytes) -> Setup:
    def create(source: str, names: Names, bq: bigquery.Client, gcs: storage.Client) -> None:
        gcs.bucket(names.landing).blob(source.split("/", 3)[3]).upload_from_string(content)

    return create


def nothing(source: str, names: Names, bq: bigquery.Client, gcs: storage.Client) -> None:
    """The source does not exist."""


RAGGED = b"id,name,amount\n1,a,2.5\n2,b\n3,c,4.5,extra\n4,d,1.0\n"
COLLIDING = b"First Name,first_name,FIRST-NAME,id\n" + b"".join(f"A{i},B{i},C{i},{i}\n".encode() for i in range(20))
LATIN1 = "id;name\n1;Zoë\n2;Müller\n3;Ødegård\n4;Zoë\n5;Müller\n".encode("latin-1")

# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------

DONE = "profile:Completed generate:Completed load:Completed"
FILE_DONE = "profile:Completed generate:Completed write_files:Completed load:Completed"
NOT_FOUND = ("was not found", "check the project, dataset and table name")
EMULATOR_CASE = "the BigQuery emulator (DuckDB) cannot hold two tables whose names differ only in case; BigQuery can"


@dataclass(frozen=True)
class Case:
    name: str
    run: str
    source: str
    setup: Setup
    exit_code: int
    words: tuple[str, ...]
    audit: str
    target: int | None
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


def xfail(reason: str) -> tuple[pytest.MarkDecorator, ...]:
    return (pytest.mark.xfail(strict=True, reason=reason),)


# fmt: off
CASES = [
    # name                                 run      source                      setup                             exit words                                    audit                target
    Case("a missing table",                "mixed", "{src}.no_such_table",      nothing,                          1, NOT_FOUND,                                  "profile:Failed",     None),
    Case("a missing dataset",              "mixed", "{p}.no_such_ds.t1",        nothing,                          1, NOT_FOUND,                                  "profile:Failed",     None),
    Case("a source in another project",    "mixed", "other-proj.ds.t2",         nothing,                          1, ("other-proj.ds.t2", "was not found"),      "profile:Failed",     None),
    Case("an empty table",                 "mixed", "{src}.empty0",             table(rows=0),                    1, (),                                         DONE,                 0),
    Case("an empty table asked for rows",  "mixed", "{src}.empty5",             table(rows=0),                    1, ("REQUIRED column id", "no statistics"),    "profile:Completed plan:Failed", None),
    Case("a non-ASCII table name",         "mixed", "{src}.Kunden_Übersicht",   table(),                          1, (),                                         DONE,                 30),
    Case("reserved words, non-ASCII names","mixed", "{src}.select",             table("id INT64 REQUIRED, from STRING, Größe FLOAT64", 20), 1, (),        DONE,                 20),
    Case("a column all NULL",              "mixed", "{src}.all_null",           table("id INT64 REQUIRED, note STRING", 20, null=("note",)), 1, (),      DONE,                 20),
    Case("names differing in case (1)",    "mixed", "{src}.Orders",             table(),                          1, (),                                         DONE,                 30),
    Case("a view",                         "mixed", "{src}.a_view",             view("SELECT id, amount FROM `{src}.Orders`"), 1, (),                  DONE,                 30),
    Case("names differing in case (2)",    "mixed", "{src2}.orders",            table(),                          1, (),                                         DONE,                 30, xfail(EMULATOR_CASE)),
    Case("target exists, other schema",    "mixed", "{src}.clash",              table(target="clash_id STRING"),  1, ("does not fit the source", "DROP TABLE"),  "profile:Completed generate:Completed load:Failed", 0),
    Case("header names collide sanitised", "mixed", "{land}/collide.csv",       file(COLLIDING),                  1, (),                                         FILE_DONE,            20),
    Case("a Latin-1 file",                 "mixed", "{land}/latin1.csv",        file(LATIN1),                     1, (),                                         FILE_DONE,            5),
    Case("a binary file",                  "mixed", "{land}/blob.csv",          file(bytes(range(256)) * 16),     1, ("binary content", "delimited text"),       "profile:Failed",     None),
    Case("a gzip file named .csv",         "mixed", "{land}/gz.csv",            file(b"\x1f\x8b\x08\x00garbage"), 1, ("gzip-compressed", "decompress it"),       "profile:Failed",     None),
    Case("a UTF-16 file",                  "mixed", "{land}/utf16.csv",         file("id,n\n1,a\n".encode("utf-16")), 1, ("UTF-16", "re-export it as UTF-8"), "profile:Failed",     None),
    Case("an empty file",                  "mixed", "{land}/empty.csv",         file(b""),                        1, ("is empty",),                              "profile:Failed",     None),
    Case("a header and no rows",           "mixed", "{land}/header_only.csv",   file(b"id,name\n"),               1, ("no data rows",),                          "profile:Failed",     None),
    Case("rows of other field counts",     "mixed", "{land}/ragged.csv",        file(RAGGED),                     1, ("field count other than 3", "lines 3, 4"), "profile:Failed",     None),
    Case("a wildcard matching nothing",    "mixed", "{land}/none_*.csv",        nothing,                          1, ("no object matches",),                     "profile:Failed",     None),
    Case("a bucket that does not exist",   "mixed", "gs://bqsynth-no-such-bucket-x/a.csv", nothing,               1, ("no object matches",),                     "profile:Failed",     None),
    Case("target in another location",     "elsewhere", "",                     nothing,                          2, ("target_dataset", "in location EU", "in US", "Name a target_dataset in US"), "", None),
    Case("the only source missing",        "none",  "{src}.gone",               nothing,                          3, NOT_FOUND,                                  "profile:Failed",     None),
    Case("the only other source empty",    "none",  "{land}/void.csv",          file(b""),                        3, ("is empty",),                              "profile:Failed",     None),
    Case("the run when nothing is planned","none",  "",                         nothing,                          3, ("no table could be planned", "gone: Source table"), "run:Failed plan:Failed", None),
    Case("dead BigQuery endpoint",         "dead",  "",                         nothing,                          3, ("did not answer within", "local_stack.sh start"), "",            None),
    Case("SIGTERM during the run",         "sigterm", "",                       nothing,                          130, ("interrupted (SIGTERM)", "--batch-id"),  "run:Failed",         None),
]
# fmt: on

# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    exit_code: int
    stderr: str
    audit: list[AuditRecord]
    summary: RunSummary | None
    names: Names
    batch_id: str


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once it is closed


class Runs:
    """Runs each run of the catalogue once, when its first case asks for it."""

    def __init__(self, bq: bigquery.Client, gcs: storage.Client, root: Path) -> None:
        self.bq, self.gcs, self.root = bq, gcs, root
        self.done: dict[str, Outcome] = {}
        self.broken: dict[str, Exception] = {}
        self.datasets: list[str] = []
        self.buckets: list[storage.Bucket] = []

    def names(self, run: str) -> Names:
        tag = f"{run}{uuid.uuid4().hex[:6]}"
        project = self.bq.project
        names = Names(project, f"{project}.bir_{tag}", f"{project}.bir2_{tag}", f"birt_{tag}", f"bir-{tag}")
        for dataset in (names.src, names.src2):
            self.bq.create_dataset(dataset)
            self.datasets.append(dataset)
        self.datasets.append(f"{project}.{names.target}")
        self.buckets.append(self.gcs.create_bucket(names.landing))
        return names

    def outcome(self, run: str) -> Outcome:
        if run in self.broken:  # its setup or run raised: the other cases of that run say so at once
            raise RuntimeError(f"run {run!r} could not be made: {self.broken[run]!r}")
        if run not in self.done:
            try:
                self.done[run] = self._run(run)
            except Exception as error:
                self.broken[run] = error
                raise
        return self.done[run]

    def _run(self, run: str) -> Outcome:
        names = self.names(run)
        # The target dataset exists (a case may put a table there first); for "elsewhere", in
        # another location than the sources'.
        made = bigquery.Dataset(f"{names.project}.{names.target}")
        if run == "elsewhere":
            made.location = "EU"
        self.bq.create_dataset(made)
        sources = []
        for case in CASES:
            if case.run == run and case.source:
                source = names.format(case.source)
                case.setup(source, names, self.bq, self.gcs)
                sources.append(source)
        if not sources:  # a run-wide case: one plain table to copy
            table()(f"{names.src}.payments", names, self.bq, self.gcs)
            sources.append(f"{names.src}.payments")
        batch = f"bir-{uuid.uuid4().hex[:8]}"
        root = self.root / run
        flags = [
            f"--source-tables={','.join(sources)}",
            f"--target-dataset={names.target}",
            f"--batch-id={batch}",
            f"--staging-bucket={names.landing}",
            "--llm=offline",
            "--record-count=empty5=5" if run == "mixed" else "--seed=7",
            f"--pipeline-root={root}",
        ]
        audit_table = f"{names.project}.{names.target}.bqsynth_audit"
        if run == "dead":
            code, stderr = self._dead_endpoint(flags)
        elif run == "sigterm":
            code, stderr = self._interrupted(flags, root)
        else:
            finished = subprocess.run(
                [sys.executable, "submit.py", "--local", *flags],
                cwd=REPO,
                env=os.environ.copy(),
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            code, stderr = finished.returncode, finished.stderr
        try:
            audit = read_audit(self.bq, audit_table, batch)
        except AuditError:  # the run stopped before the audit table was made
            audit = []
        summaries = list(root.glob("*/summarize-run/summary"))
        summary = read_model(RunSummary, summaries[0]) if summaries else None
        return Outcome(code, stderr, audit, summary, names, batch)

    @staticmethod
    def _dead_endpoint(flags: list[str]) -> tuple[int, str]:
        # In this process: the probes' 30 s deadline is shortened, as a user would not wait longer.
        endpoint = _closed_port()
        stderr = io.StringIO()
        dead = {"BIGQUERY_EMULATOR_HOST": endpoint, "STORAGE_EMULATOR_HOST": endpoint}
        with mock.patch.dict(os.environ, dead), mock.patch.object(clients, "PROBE_DEADLINE_S", 3.0):
            with contextlib.redirect_stderr(stderr):
                code = submit.main(["--local", *flags])
        return code, stderr.getvalue()

    @staticmethod
    def _interrupted(flags: list[str], root: Path) -> tuple[int, str]:
        command = [sys.executable, "submit.py", "--local", *flags]
        run = subprocess.Popen(command, cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while not any(root.glob("*/start-batch/executor_output.json")) and time.monotonic() < deadline:
                time.sleep(0.2)
            run.send_signal(signal.SIGTERM)
            _, err = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
        return run.returncode, err.decode()

    def clean(self) -> None:
        for dataset in self.datasets:
            self.bq.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        for bucket in self.buckets:
            with contextlib.suppress(Exception):
                bucket.delete(force=True)


@pytest.fixture(scope="module")
def runs(local_stack: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    made = Runs(clients.bigquery_client(), clients.storage_client(), tmp_path_factory.mktemp("bad_input_runs"))
    yield made
    made.clean()


def last_status(rows: list[AuditRecord]) -> dict[str, str]:
    """The last status of each stage, in the order the rows were written."""
    found: dict[str, str] = {}
    for row in rows:
        found[row.stage] = row.status
    return found


def parse_audit(text: str) -> dict[str, str]:
    return dict(part.split(":") for part in text.split())


def target_rows(bq: bigquery.Client, table_id: str) -> int | None:
    try:
        bq.get_table(table_id)
    except NotFound:
        return None
    return count_rows(bq, table_id)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_bad_input_during_a_run(case: Case, runs: Runs) -> None:
    outcome = runs.outcome(case.run)
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.exit_code == case.exit_code, outcome.stderr
    run_rows = [r for r in outcome.audit if r.stage == "run"]
    if run_rows:  # the run's own row is closed, as the exit code says
        assert run_rows[-1].status == ("Completed" if outcome.exit_code == 0 else "Failed"), run_rows[-1]
    if not case.source:  # a case about the run as a whole
        for word in case.words:
            assert word in outcome.stderr, f"{word!r} not in {outcome.stderr!r}"
        assert last_status([r for r in outcome.audit if r.table_name is None]) == parse_audit(case.audit)
        return
    name = source_name(outcome.names.format(case.source))
    rows = [r for r in outcome.audit if r.table_name == name]
    statuses = last_status(rows)
    assert statuses == parse_audit(case.audit), [(r.stage, r.status, r.error_message) for r in rows]
    failures = " ".join(r.error_message or "" for r in rows if r.status == "Failed")
    for word in case.words:
        assert word in failures, f"{word!r} not in {failures!r}"
    target = f"{outcome.names.project}.{outcome.names.target}.{name}"
    assert target_rows(runs.bq, target) == case.target
    if case.target and outcome.summary is not None:
        quality: TableQuality = next(t for t in outcome.summary.tables if t.table == name)
        assert quality.status == "Completed" and quality.fidelity.source_rows > 0, quality
        assert not quality.columns_left_empty and not quality.not_null_violations and not quality.type_violations
