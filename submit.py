"""Run the bqsynth pipeline.

    python submit.py --local --config configs/demo.yaml [--seed 7] [--record-count Dim_Customer=500 ...]

``--local`` runs the same pipeline with KFP's local runner (every step a subprocess in
this Python environment) against whatever BigQuery and GCS the environment names:
the emulators when BIGQUERY_EMULATOR_HOST / STORAGE_EMULATOR_HOST are set, Google
Cloud otherwise. Flags override the YAML config file.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from bqsynth.config import ConfigError, RunConfig, load_config
from bqsynth.models import RunSummary, read_model

DEFAULT_LOCAL_ROOT = "local_outputs"


def _record_counts(pairs: list[str] | None) -> dict[str, int] | None:
    if not pairs:
        return None
    counts: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip().isdigit():
            raise ConfigError(f"--record-count {pair!r}: expected TABLE=ROWS, e.g. Dim_Customer=1000")
        counts[name.strip()] = int(value)
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", action="store_true", help="run with kfp.local on this machine")
    parser.add_argument("--config", help="YAML file with pipeline parameters (flags override it)")
    parser.add_argument("--source-tables", help="comma-separated project.dataset.table list")
    parser.add_argument("--target-project")
    parser.add_argument("--target-dataset")
    parser.add_argument("--record-count", action="append", metavar="TABLE=ROWS", help="rows for one table; repeat")
    parser.add_argument("--scale", type=float, help="rows = source rows x scale where no count is given")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--staging-bucket")
    parser.add_argument("--audit-table", help="project.dataset.table of the audit log")
    parser.add_argument("--batch-id")
    parser.add_argument("--sample-rows", type=int)
    parser.add_argument("--min-category-count", type=int)
    parser.add_argument("--write-disposition", choices=["WRITE_TRUNCATE", "WRITE_APPEND"])
    parser.add_argument("--pipeline-root", help=f"where local runs keep artifacts (default {DEFAULT_LOCAL_ROOT}/)")
    parser.add_argument("--verbose", action="store_true", help="show kfp.local's full output, not just the steps")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    overrides: dict[str, Any] = {
        "source_tables": [t.strip() for t in args.source_tables.split(",") if t.strip()]
        if args.source_tables
        else None,
        "target_project": args.target_project,
        "target_dataset": args.target_dataset,
        "record_counts": _record_counts(args.record_count),
        "scale": args.scale,
        "seed": args.seed,
        "staging_bucket": args.staging_bucket,
        "audit_table": args.audit_table,
        "batch_id": args.batch_id,
        "sample_rows": args.sample_rows,
        "min_category_count": args.min_category_count,
        "write_disposition": args.write_disposition,
    }
    return load_config(args.config, overrides)


class StepLog(io.TextIOBase):
    """Where kfp.local's output goes: all of it to a log file, step outcomes to the terminal.

    kfp.local prints every step's executor input and output; users need to see which
    step ran and how it ended, and the full log only when something went wrong.
    """

    _ANSI = re.compile(r"\x1b\[[0-9;]*m")
    _SHOWN = re.compile(r"finished with status")

    def __init__(self, log: TextIO, terminal: TextIO) -> None:
        self._log, self._terminal, self._pending = log, terminal, ""

    def write(self, text: str) -> int:
        self._log.write(text)
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            if self._SHOWN.search(line):
                self._terminal.write(self._ANSI.sub("", line).strip() + "\n")
        return len(text)

    def flush(self) -> None:
        self._log.flush()
        self._terminal.flush()


def last_error(log_path: Path) -> str:
    """The last exception message a step logged: the cause users need, not KFP's task chain."""
    pattern = re.compile(r"^\s*([\w.]*(?:Error|Exception)): (.+)$")
    found = [m for m in map(pattern.match, log_path.read_text(errors="replace").splitlines()) if m]
    return f"{found[-1][1].rsplit('.', 1)[-1]}: {found[-1][2]}" if found else "the pipeline failed"


def run_local_pipeline(config: RunConfig, pipeline_root: str) -> RunSummary:
    """Run the pipeline with kfp.local (each step a subprocess in this environment)."""
    from kfp import local

    from pipeline import bqsynth_pipeline

    # Locally every step runs in this Python environment, not in the component image.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    task = bqsynth_pipeline(**config.model_dump())
    return read_model(RunSummary, task.outputs["Output"].path)


def run_local(config: RunConfig, pipeline_root: str, verbose: bool = False) -> int:
    """Run locally, print the summary; 0 when every table loaded with intact keys."""
    from bqsynth.report import print_summary

    started = time.perf_counter()
    log_path = Path(pipeline_root) / f"bqsynth-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if verbose:
            summary = run_local_pipeline(config, pipeline_root)
        else:
            print(f"running the pipeline locally; full log: {log_path}")
            with log_path.open("w") as log, contextlib.redirect_stdout(StepLog(log, sys.stdout)):
                summary = run_local_pipeline(config, pipeline_root)
    except RuntimeError:  # kfp.local: a step raised (no table could be planned, the audit table is unreachable)
        print(f"error: {last_error(log_path)}\nthe full log is {log_path}", file=sys.stderr)
        return 1
    print_summary(summary)
    print(
        f"batch {summary.batch_id}: {time.perf_counter() - started:.1f} s end to end; audit rows in "
        f"{config.audit_table}; files in gs://{config.staging_bucket}/bqsynth/batches/{summary.batch_id}/"
    )
    return 0 if summary.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.local:
        print(
            "error: submitting to Vertex AI Pipelines is not available in this build yet; "
            "use --local to run on this machine, or upload pipeline.yaml (./compile.sh) in the console.",
            file=sys.stderr,
        )
        return 2
    root = str(Path(args.pipeline_root or DEFAULT_LOCAL_ROOT).resolve())
    return run_local(config, root, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
