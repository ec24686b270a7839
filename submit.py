"""Run the bqsynth pipeline on Vertex AI Pipelines, on a schedule, or on this machine.

    python submit.py --project P --region R --pipeline-root gs://BUCKET/root \
        --image R-docker.pkg.dev/P/bqsynth/bqsynth-components:TAG [--service-account SA] \
        --config configs/my.yaml [pipeline parameters...] [--schedule "0 3 * * *"] [--dry-run]
    python submit.py --local --config configs/demo.yaml [--seed 7] [--record-count Dim_Customer=500 ...]

Without --local the pipeline is compiled (or --template is read), and submitted as a
Vertex AI PipelineJob; the console link is printed. --schedule creates a schedule instead,
replacing any schedule of the same name (--schedule-name), so running it twice is safe.
--dry-run prints the request and sends nothing.

--local runs the same pipeline with KFP's local runner (every step a subprocess in
this Python environment) against whatever BigQuery and GCS the environment names:
the emulators when BIGQUERY_EMULATOR_HOST / STORAGE_EMULATOR_HOST are set, Google
Cloud otherwise. Flags override the YAML config file.

Exit codes: 0 success; 1 the run failed (locally) or Vertex AI could not be reached or
refused the request; 2 a flag or parameter is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from bqsynth.config import ConfigError, RunConfig, load_config, new_batch_id, run_default
from bqsynth.deploy import vertex
from bqsynth.errors import USER_WARNING
from bqsynth.models import RunSummary
from bqsynth.steps.artifacts import read_model
from components import COMPONENT_IMAGE_ENV, DEFAULT_COMPONENT_IMAGE

DEFAULT_LOCAL_ROOT = "local_outputs"


def _record_counts(pairs: list[str] | None) -> dict[str, int] | None:
    if not pairs:
        return None
    counts: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip().isdigit():
            raise ConfigError(f"--record-count {pair!r}: expected TABLE=ROWS, e.g. Dim_Customer=1000")
        if name.strip() in counts:  # the last one would win unseen
            raise ConfigError(f"--record-count gives {name.strip()} twice; give each table once")
        counts[name.strip()] = int(value)
    return counts


def _recipes(pairs: list[str] | None) -> dict[str, str] | None:
    """``--recipe TABLE=FILE`` (repeat): a local file's absolute path (the steps may run elsewhere)."""
    if not pairs:
        return None
    recipes: dict[str, str] = {}
    for pair in pairs:
        name, sep, where = (part.strip() for part in pair.partition("="))
        if not sep or not name or not where:
            raise ConfigError(f"--recipe {pair!r}: expected TABLE=FILE, e.g. orders=orders.recipe.yml")
        if name in recipes:
            raise ConfigError(f"--recipe gives {name} twice; give each table once")
        recipes[name] = _user_file(where, f"--recipe {name}")
    return recipes


def _user_file(where: str | None, flag: str) -> str | None:
    """A file the user names (--plan, --recipe): a gs:// URI as is, a local file by its absolute path."""
    if not where or where.startswith("gs://"):
        return where
    path = Path(where).expanduser()
    if not path.is_file():
        raise ConfigError(f"{flag} {where}: no such file")
    return str(path.resolve())


def _source_tables(text: str | None) -> list[str] | None:
    """The comma-separated sources of --source-tables; an empty entry is refused.

    ``a,,b`` or a trailing comma is most often a shell variable that was empty: a table
    the user meant to copy would silently be left out.
    """
    if not text:
        return None
    names = [name.strip() for name in text.split(",")]
    if "" in names:
        raise ConfigError(
            f"--source-tables {text!r} has an empty entry (entry {names.index('') + 1}): "
            "remove the extra comma or fill in the table"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", action="store_true", help="run with kfp.local on this machine")
    parser.add_argument("--config", help="YAML file with pipeline parameters (flags override it)")
    parser.add_argument(
        "--source-tables", help="comma-separated sources: project.dataset.table and/or gs://bucket/path files"
    )
    parser.add_argument("--target-project")
    parser.add_argument("--target-dataset")
    parser.add_argument("--record-count", action="append", metavar="TABLE=ROWS", help="rows for one table; repeat")
    parser.add_argument("--scale", type=float, help="rows = source rows x scale where no count is given")
    parser.add_argument("--max-rows", type=int, help="guard: at most this many rows per table (default 100000000)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--staging-bucket")
    parser.add_argument("--audit-table", help="project.dataset.table of the audit log")
    parser.add_argument("--batch-id")
    parser.add_argument("--sample-rows", type=int)
    parser.add_argument("--min-category-count", type=int)
    parser.add_argument(
        "--public-column", action="append", metavar="TABLE.COLUMN", help="values kept as observed (or TABLE.*); repeat"
    )
    parser.add_argument(
        "--private-column", action="append", metavar="TABLE.COLUMN", help="rare values suppressed (or TABLE.*); repeat"
    )
    parser.add_argument("--write-disposition", choices=["WRITE_TRUNCATE", "WRITE_APPEND"])
    parser.add_argument(
        "--llm", choices=["offline", "gemini"], help="plan advisor (default: offline locally, gemini on Vertex)"
    )
    parser.add_argument("--model", help=f"Gemini model name (default {run_default('model')})")
    parser.add_argument(
        "--llm-location", help=f"Vertex AI region serving the model (default {run_default('llm_location')})"
    )
    parser.add_argument("--sample-policy", choices=["none", "masked", "raw"], help="sample rows sent to the model")
    parser.add_argument("--llm-token-budget", type=int, help="tokens the model may use per run")
    parser.add_argument("--quality-sample-rows", type=int, help="rows per source and target the quality report reads")
    parser.add_argument("--quality-table", help="project.dataset.table of the quality rows (default: by the audit)")
    parser.add_argument(
        "--maximum-bytes-billed", type=int, help="guard: most bytes any query on the sources may bill (default 100 GiB)"
    )
    parser.add_argument(
        "--profile-full-scan-bytes", type=int, help="larger source tables are profiled from a TABLESAMPLE"
    )
    parser.add_argument(
        "--engine",
        choices=["auto", "columnar", "snowfakery"],
        help="generation engine (default auto: columnar where it can)",
    )
    parser.add_argument(
        "--shard-rows",
        type=int,
        help=f"tables of more rows are generated in shards of this many, each its own task "
        f"(default {run_default('shard_rows')})",
    )
    parser.add_argument(
        "--plan", metavar="FILE", help="generate from this plan.yaml (a run's, edited) instead of planning afresh"
    )
    parser.add_argument(
        "--recipe", action="append", metavar="TABLE=FILE", help="your Snowfakery recipe for one table; repeat"
    )
    parser.add_argument(
        "--pipeline-root",
        help=f"where step artifacts are kept: gs://BUCKET/PATH on Vertex AI; locally default {DEFAULT_LOCAL_ROOT}/",
    )
    parser.add_argument("--verbose", action="store_true", help="show kfp.local's full output, not just the steps")

    cloud = parser.add_argument_group("Vertex AI Pipelines (without --local)")
    cloud.add_argument("--project", help="Google Cloud project that runs the pipeline")
    cloud.add_argument("--region", help="Vertex AI region, e.g. us-central1")
    cloud.add_argument("--service-account", help="service account email the steps run as (least privilege: README)")
    cloud.add_argument(
        "--image",
        help="component image every step runs in, e.g. REGION-docker.pkg.dev/P/bqsynth/bqsynth-components:TAG "
        f"(default: ${COMPONENT_IMAGE_ENV} when the pipeline is compiled)",
    )
    cloud.add_argument("--template", help="a compiled pipeline (e.g. pipeline.yaml) instead of compiling pipeline.py")
    cloud.add_argument(
        "--generate-parallelism",
        metavar="N",
        help="at most N shards generated at once, each a worker VM (fixed when pipeline.py is compiled: default "
        "$BQSYNTH_GENERATE_PARALLELISM, else 32; a --template keeps the cap it was compiled with)",
    )
    cloud.add_argument("--display-name", help="name of the run (or of each scheduled run) in the console")
    cloud.add_argument("--label", action="append", metavar="KEY=VALUE", help="extra label on the run; repeat")
    cloud.add_argument("--schedule", metavar="CRON", help='create a schedule instead of one run, e.g. "0 3 * * *"')
    cloud.add_argument("--schedule-name", help="the schedule's display name; an existing one is replaced")
    cloud.add_argument("--dry-run", action="store_true", help="print the request as JSON; send nothing")
    cloud.add_argument("--api-endpoint", help="Vertex AI API host (default REGION-aiplatform.googleapis.com)")
    cloud.add_argument("--api-transport", choices=["grpc", "rest"], default="grpc", help="default grpc")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    overrides: dict[str, Any] = {
        "source_tables": _source_tables(args.source_tables),
        "target_project": args.target_project,
        "target_dataset": args.target_dataset,
        "record_counts": _record_counts(args.record_count),
        "scale": args.scale,
        "max_rows": args.max_rows,
        "seed": args.seed,
        "staging_bucket": args.staging_bucket,
        "audit_table": args.audit_table,
        "batch_id": args.batch_id,
        "sample_rows": args.sample_rows,
        "min_category_count": args.min_category_count,
        "public_columns": args.public_column,
        "private_columns": args.private_column,
        "write_disposition": args.write_disposition,
        "llm": args.llm,
        "model": args.model,
        "llm_location": args.llm_location,
        "sample_policy": args.sample_policy,
        "llm_token_budget": args.llm_token_budget,
        "quality_sample_rows": args.quality_sample_rows,
        "quality_table": args.quality_table,
        "maximum_bytes_billed": args.maximum_bytes_billed,
        "profile_full_scan_bytes": args.profile_full_scan_bytes,
        "engine": args.engine,
        "shard_rows": args.shard_rows,
        "plan_uri": _user_file(args.plan, "--plan"),
        "recipes": _recipes(args.recipe),
    }
    config = load_config(args.config, overrides).for_runner(local=args.local)
    if config.plan_uri and not config.plan_uri.startswith("gs://"):
        check_plan_file(config.plan_uri, config.record_counts)
    if not args.local:
        local = [f for f in [config.plan_uri, *config.recipes.values()] if f and not f.startswith("gs://")]
        if local:
            raise ConfigError(
                f"{local[0]} is a local file, which the steps on Vertex AI cannot read: copy it to Cloud Storage "
                "(gcloud storage cp FILE gs://BUCKET/...) and pass the gs:// URI"
            )
    return config


def check_plan_file(path: str, record_counts: dict[str, int]) -> None:
    """The plan file parses as a plan (YAML, closed vocabulary, counts >= 0) that record_counts do not
    contradict, before anything runs; the plan step checks it against the sources."""
    from bqsynth.planning.plan_file import PlanFileError, plan_from_yaml, record_count_problems

    try:
        plan = plan_from_yaml(Path(path).read_text(encoding="utf-8-sig"), path)
    except PlanFileError as error:
        raise ConfigError(str(error)) from error
    if problems := record_count_problems(plan, record_counts):
        raise ConfigError(f"plan file {path}: {'; '.join(problems)}")


class StepLog(io.TextIOBase):
    """Where kfp.local's output goes: all of it to a log file, step outcomes to the terminal.

    kfp.local prints every step's executor input and output; users need to see which
    step ran and how it ended, and the full log only when something went wrong. A step's
    warning for the user (a line starting with ``USER_WARNING``, e.g. Gemini could not be
    used, and why) goes to ``errors`` (stderr) as it happens. ``show_all`` (--verbose)
    shows every other line on the terminal as well.
    """

    _ANSI = re.compile(r"\x1b\[[0-9;]*m")
    _SHOWN = re.compile(r"finished with status")

    def __init__(
        self, log: TextIO | None, terminal: TextIO, errors: TextIO | None = None, show_all: bool = False
    ) -> None:
        self._log, self._terminal, self._errors = log, terminal, errors or sys.stderr
        self._show_all, self._pending = show_all, ""

    def write(self, text: str) -> int:
        if self._log is not None:
            self._log.write(text)
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            plain = self._ANSI.sub("", line)
            if USER_WARNING in plain:
                self._errors.write("warning: " + plain.split(USER_WARNING, 1)[1].strip() + "\n")
                self._errors.flush()
            elif self._show_all:
                self._terminal.write(line + "\n")
            elif self._SHOWN.search(line):
                self._terminal.write(plain.strip() + "\n")
        return len(text)

    def flush(self) -> None:
        if self._log is not None:
            self._log.flush()
        self._terminal.flush()


def last_error(log_path: Path) -> str:
    """The last exception message a step logged: the cause users need, not KFP's task chain."""
    # bqsynth's own errors (EndpointUnreachable) are named for what happened, not ...Error.
    pattern = re.compile(r"^\s*(bqsynth\.[\w.]+|[\w.]*(?:Error|Exception)): (.+)$")
    found = [m for m in map(pattern.match, log_path.read_text(errors="replace").splitlines()) if m]
    return f"{found[-1][1].rsplit('.', 1)[-1]}: {found[-1][2]}" if found else "the pipeline failed"


def without_retries(pipeline: Any) -> Any:
    """A copy of ``pipeline`` whose steps are not retried.

    The retries are for Vertex AI's transient failures; kfp.local would honour them too,
    and make a local run that fails wait minutes of backoff before saying so.
    """
    local_pipeline = copy.deepcopy(pipeline)
    spec = local_pipeline.pipeline_spec
    for dag in [spec.root.dag, *(c.dag for c in spec.components.values() if c.HasField("dag"))]:
        for task in dag.tasks.values():
            task.ClearField("retry_policy")
    return local_pipeline


def run_local_pipeline(config: RunConfig, pipeline_root: str) -> RunSummary:
    """Run the pipeline with kfp.local (each step a subprocess in this environment)."""
    from kfp import local

    from pipeline import bqsynth_pipeline

    # Locally every step runs in this Python environment, not in the component image, and
    # takes what the machine has: the steps' CPU and memory settings are for Vertex AI.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    warnings.filterwarnings("ignore", message=r"Task '.*': settings \[.*\] have no effect in the current local runner")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    task = without_retries(bqsynth_pipeline)(**config.for_runner(local=True).model_dump())
    return read_summary(task.outputs["Output"].path)


class SummaryUnreadable(Exception):
    """The run's summary does not fit this process's ``RunSummary``: the steps ran other code."""


def read_summary(path: str) -> RunSummary:
    """The run's summary, or ``SummaryUnreadable`` saying why it cannot be read here.

    Locally every step imports the repository's code when it starts, while this process keeps
    the code it started with: a tree changed or updated during a run writes a summary whose model
    this process may not know (a field added), which would otherwise end the run in a traceback.
    """
    try:
        return read_model(RunSummary, path)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SummaryUnreadable(
            f"the run finished, but its summary {path} does not fit this submit.py's RunSummary "
            f"({error.error_count()} problems, first: {where}: {first['msg']}): the pipeline's steps ran other "
            "bqsynth code than submit.py started with. Keep the code unchanged while a local run goes on; the "
            "targets and the audit table hold this run's results"
        ) from error


# Exit codes of a local run: what failed.
EXIT_OK = 0  # every table loaded, and every check on the targets passed
EXIT_TABLES_FAILED = 1  # the run finished with a summary; some tables failed or failed a check (it lists them)
EXIT_CONFIG_ERROR = 2  # the configuration is wrong; nothing ran
EXIT_RUN_STOPPED = 3  # the endpoints did not answer, a step the run cannot go on without failed, or no summary
# could be read (its steps ran other code than submit.py: the tree changed during the run)
EXIT_INTERRUPTED = 130  # SIGINT or SIGTERM: the steps were stopped, the run's audit row says Failed


class StepReaper:
    """Stops, every ``interval`` seconds, each step process this process has started.

    kfp.local runs a ParallelFor's steps from a thread pool and, on the way out of an
    interrupt, waits for the pool, which starts every step still queued. While the interrupt
    unwinds, the reaper stops those steps as they start, so the run ends in seconds and no
    step is left writing after it.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sweep, name="step-reaper", daemon=True)

    def start(self) -> StepReaper:
        self._thread.start()
        return self

    def _sweep(self) -> None:
        while not self._done.wait(self.interval):
            for pid in _descendants(os.getpid()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()


_reaper: StepReaper | None = None


def _interrupted(signum: int, frame: Any) -> None:
    global _reaper
    if _reaper is None:
        _reaper = StepReaper().start()
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the steps kfp.local started, and theirs), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_steps(grace_seconds: float = 5.0) -> None:
    """Stop the steps still running (SIGTERM, then SIGKILL after the grace period), so none
    keeps writing once the run is over."""
    running = _descendants(os.getpid())
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in running):
        time.sleep(0.1)
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def record_interrupted(config: RunConfig, why: str) -> str:
    """Close the run's audit row as Failed ("interrupted"); returns what to tell the user."""
    from bqsynth.delivery.audit import AuditRecord, close_unfinished, write_audit
    from bqsynth.gcp.clients import bigquery_client

    message = f"interrupted ({why}): the run stopped before its summary; rerun with --batch-id {config.batch_id}"
    try:
        client = bigquery_client(config.target_project)
        close_unfinished(client, config.audit_table, config.batch_id, message)
        record = AuditRecord(batch_id=config.batch_id, stage="run", status="Failed", error_message=message)
        write_audit(client, config.audit_table, record)
    except Exception as error:  # the audit table may not exist yet, or BigQuery is what went away
        return f"{message} (the audit row could not be written: {type(error).__name__})"
    return f"{message}; the run's audit row in {config.audit_table} says Failed"


def record_stopped(config: RunConfig, error: str) -> str:
    """Close the run's audit row as Failed when a step stopped the run without saying so.

    A step that fails as planned (planning found nothing to plan) closes the run itself; one
    that crashed left the run In Progress, which would read as still running. Returns what
    to add to the user's message (empty when the row needed nothing or could not be read).
    """
    from bqsynth.delivery.audit import AuditRecord, close_unfinished, read_audit, write_audit
    from bqsynth.gcp.clients import bigquery_client

    if error.startswith("EndpointUnreachable: BigQuery"):  # asking again would wait the deadline again
        return "\n(the run's audit row could not be closed: BigQuery did not answer)"
    try:
        client = bigquery_client(config.target_project)
        runs = [r for r in read_audit(client, config.audit_table, config.batch_id) if r.stage == "run"]
        if not runs or runs[-1].status != "In Progress":
            return ""
        message = f"stopped: {error}; rerun with --batch-id {config.batch_id}"
        close_unfinished(client, config.audit_table, config.batch_id, message)
        record = AuditRecord(batch_id=config.batch_id, stage="run", status="Failed", error_message=message)
        write_audit(client, config.audit_table, record)
    except Exception as failure:  # BigQuery may be what went away; the user still gets the step's error
        return f"\n(the run's audit row could not be closed: {type(failure).__name__})"
    return f"\nthe run's audit row in {config.audit_table} says Failed"


def run_local(config: RunConfig, pipeline_root: str, verbose: bool = False) -> int:
    """Run locally, print the summary; the exit code says what failed (``EXIT_*``).

    SIGINT (Ctrl-C) and SIGTERM stop every step, close the run's audit row as Failed and
    exit ``EXIT_INTERRUPTED``.
    """
    config = config.resolved()
    config = config.model_copy(update={"batch_id": config.batch_id or new_batch_id()})
    global _reaper
    previous = {signum: signal.signal(signum, _interrupted) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _run_local(config, pipeline_root, verbose)
    except KeyboardInterrupt as interrupt:
        stop_steps()
        if _reaper is not None:
            _reaper.stop()
            _reaper = None
        print(f"error: {record_interrupted(config, str(interrupt) or 'SIGINT')}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_local(config: RunConfig, pipeline_root: str, verbose: bool) -> int:
    from bqsynth.evaluation.quality_report import print_quality
    from bqsynth.evaluation.run_summary import print_summary
    from bqsynth.gcp.clients import EndpointUnreachable, bigquery_client, probe_bigquery, probe_storage, storage_client
    from bqsynth.steps.start_batch import location_problem

    try:  # a dead endpoint is named within a minute, before any step starts
        probe_bigquery(bigquery_client(config.target_project), f"{config.target_project}.{config.target_dataset}")
        probe_storage(storage_client(config.target_project), config.staging_bucket)
    except EndpointUnreachable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_RUN_STOPPED
    if problem := location_problem(bigquery_client(config.target_project), config):
        print(f"error: {problem}", file=sys.stderr)  # refused before any step writes anything
        return EXIT_CONFIG_ERROR
    started = time.perf_counter()
    log_path = Path(pipeline_root) / f"bqsynth-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if verbose:
            with contextlib.redirect_stdout(StepLog(None, sys.stdout, sys.stderr, show_all=True)):
                summary = run_local_pipeline(config, pipeline_root)
        else:
            print(f"running the pipeline locally; full log: {log_path}")
            with log_path.open("w") as log, contextlib.redirect_stdout(StepLog(log, sys.stdout, sys.stderr)):
                summary = run_local_pipeline(config, pipeline_root)
    except RuntimeError:  # kfp.local: a step raised (no table could be planned, the audit table is unreachable)
        error = last_error(log_path)
        closed = record_stopped(config, error)
        print(f"error: {error}\nthe full log is {log_path}{closed}", file=sys.stderr)
        # An edited plan or a supplied recipe that does not fit the sources is the user's configuration.
        return EXIT_CONFIG_ERROR if error.startswith("PlanFileError:") else EXIT_RUN_STOPPED
    except SummaryUnreadable as error:
        print(f"error: {error}\nthe full log is {log_path}", file=sys.stderr)
        return EXIT_RUN_STOPPED
    print_summary(summary)
    print_quality(summary)
    print(
        f"batch {summary.batch_id}: {time.perf_counter() - started:.1f} s end to end; audit rows in "
        f"{config.audit_table}; files in gs://{config.staging_bucket}/bqsynth/batches/{summary.batch_id}/"
    )
    reports = sorted(Path(pipeline_root).glob("*/summarize-run/quality_report"), key=lambda p: p.stat().st_mtime)
    if reports:
        # The KFP artifact has no extension; browsers show a .html copy as a page, not as text.
        page = Path(pipeline_root) / f"bqsynth-quality-{summary.batch_id}.html"
        shutil.copyfile(reports[-1], page)
        print(f"quality report with plots: {page.resolve()}")
    failed = [t.table for t in summary.tables if t.status != "Completed"]
    if failed:
        print(f"error: {len(failed)} of {len(summary.tables)} tables failed: {', '.join(failed)}", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_TABLES_FAILED


VERTEX_ONLY_FLAGS = (
    "project",
    "region",
    "service_account",
    "image",
    "template",
    "generate_parallelism",
    "display_name",
    "label",
    "schedule",
    "schedule_name",
    "dry_run",
    "api_endpoint",
)


def compile_pipeline(path: Path, parallelism: str | None = None) -> Path:
    """Compile pipeline.py (components in ``$BQSYNTH_COMPONENT_IMAGE``) to ``path``, generating at most
    ``parallelism`` shards at once (the flag's text; None: ``$BQSYNTH_GENERATE_PARALLELISM``, else the
    default)."""
    from kfp import compiler

    from pipeline import GENERATE_PARALLELISM_ENV, build_pipeline, generate_parallelism

    try:
        if parallelism is None:
            cap = generate_parallelism(os.environ.get(GENERATE_PARALLELISM_ENV))
        else:
            cap = generate_parallelism(parallelism, "--generate-parallelism")
    except ValueError as error:
        raise vertex.UsageError(str(error)) from error
    compiler.Compiler().compile(build_pipeline(cap), str(path))
    return path


def vertex_request(
    args: argparse.Namespace, config: RunConfig, workdir: Path
) -> tuple[vertex.VertexTarget, vertex.JobRequest]:
    """The Vertex AI target and request from the flags; ``vertex.UsageError`` for a wrong one."""
    target = vertex.validate_target(
        args.project, args.region, args.pipeline_root, args.service_account, args.api_endpoint, args.api_transport
    )
    if args.schedule_name and not args.schedule:
        raise vertex.UsageError("--schedule-name needs --schedule CRON")
    schedule = None
    if args.schedule:
        name = args.schedule_name or f"bqsynth {config.target_project}.{config.target_dataset}"
        schedule = vertex.Schedule(cron=vertex.validate_cron(args.schedule), display_name=name)
    labels = vertex.parse_labels(args.label)
    if args.template and args.generate_parallelism:
        raise vertex.UsageError(
            f"--generate-parallelism is fixed when pipeline.py is compiled, and --template {args.template} is "
            "compiled already: drop --template, or compile it again with BQSYNTH_GENERATE_PARALLELISM=N ./compile.sh"
        )
    source = (
        Path(args.template) if args.template else compile_pipeline(workdir / "pipeline.yaml", args.generate_parallelism)
    )
    template, images = vertex.prepare_template(source, args.image, workdir)
    request = vertex.build_request(
        config,
        template,
        images,
        schedule=schedule,
        display_name=args.display_name,
        labels=labels,
        template_source=args.template or "pipeline.py, compiled",
    )
    if DEFAULT_COMPONENT_IMAGE in images:
        problem = (
            f"the pipeline's steps would run in the placeholder image {DEFAULT_COMPONENT_IMAGE}: pass --image "
            f"(scripts/build_image.sh builds it and prints its name) or compile with ${COMPONENT_IMAGE_ENV} set"
        )
        if not args.dry_run:
            raise vertex.UsageError(problem)
        print(f"warning: {problem}", file=sys.stderr)
    return target, request


def run_on_vertex(args: argparse.Namespace, config: RunConfig) -> int:
    """Submit (or schedule, or just print) the pipeline on Vertex AI Pipelines."""
    with tempfile.TemporaryDirectory(prefix="bqsynth-submit-") as workdir:
        try:
            target, request = vertex_request(args, config, Path(workdir))
            if args.dry_run:
                print(vertex.describe_json(request, target))
                return 0
            if request.schedule:
                scheduled = vertex.schedule(request, target)
                for warning in scheduled.warnings:
                    print(f"warning: {warning}", file=sys.stderr)
                for old in scheduled.replaced:
                    print(f"replaced schedule {old}")
                print(
                    f"schedule {request.schedule.display_name!r} ({request.schedule.cron}) created: "
                    f"{scheduled.resource_name}\n{scheduled.console_url}"
                )
                return 0
            submitted = vertex.submit(request, target)
        except vertex.SubmitError as error:
            print(f"error: {error}", file=sys.stderr)
            return error.exit_code
    for warning in submitted.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"submitted {submitted.resource_name} (batch {request.parameter_values['batch_id']}; audit rows in "
        f"{config.audit_table})\n{submitted.console_url}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if not args.local:
        return run_on_vertex(args, config)
    used = [f"--{name.replace('_', '-')}" for name in VERTEX_ONLY_FLAGS if getattr(args, name)]
    if used:
        print(f"error: {', '.join(used)} only apply to Vertex AI Pipelines; drop them or --local", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    root = str(Path(args.pipeline_root or DEFAULT_LOCAL_ROOT).resolve())
    return run_local(config, root, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
