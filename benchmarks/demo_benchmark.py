"""Figures for the foundation: end-to-end seconds of the demo, rows per second of generation.

    make benchmark          # starts the local stack, then runs this

1. Loads the demo warehouse into the local BigQuery emulator and its files into the local Cloud Storage.
2. Runs the demo pipeline (configs/demo.yaml) through kfp.local and times it end to end.
3. Prints the time of each pipeline step of that run, from its audit rows (the work of each
   stage: the sum over its tables and shards, the longest one, and how many there were), and
   the summarize step's seconds (its checks, quality evaluation and reports) from the summary.
4. Times the generation of the demo plan's fact table alone at a larger row count, one
   process, with each engine (the columnar engine the pipeline picks for it, and Snowfakery
   through its compiled recipe), and prints rows per second of both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bqsynth.config import load_config
from bqsynth.delivery.audit import AuditRecord, read_audit
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.generation.columnar import generate_with_engine
from bqsynth.generation.recipe import compile_recipe
from bqsynth.models import DatasetPlan, RunSummary
from bqsynth.steps.artifacts import read_model
from demo.feeds import load_demo_sources
from submit import run_local_pipeline

ROOT = Path(__file__).resolve().parent.parent


def newest_plan(pipeline_root: Path) -> DatasetPlan:
    plans = sorted(pipeline_root.glob("*/plan-dataset/plan"), key=lambda p: p.stat().st_mtime)
    return read_model(DatasetPlan, plans[-1])


def step_times(records: list[AuditRecord], summary: RunSummary) -> Table:
    """Seconds per stage of one batch: each Completed or Failed row carries its work's seconds;
    the summarize step's (its checks, quality evaluation and reports) are the summary's own."""
    by_stage: dict[str, list[float]] = {}
    for record in records:
        if record.status != "In Progress" and record.seconds is not None:
            by_stage.setdefault(record.stage, []).append(record.seconds)
    by_stage.setdefault("summarize", []).append(summary.seconds)
    table = Table(title="demo: seconds per pipeline step (from the audit rows)")
    for heading in ("stage", "pieces of work", "sum (s)", "longest (s)"):
        table.add_column(heading, justify="left" if heading == "stage" else "right")
    for stage, seconds in by_stage.items():
        table.add_row(stage, str(len(seconds)), f"{sum(seconds):.1f}", f"{max(seconds):.1f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="rows generated for the throughput figure")
    parser.add_argument("--table", default="Fact_Transaction")
    args = parser.parse_args()
    console = Console(width=120)

    config = load_config(ROOT / "configs" / "demo.yaml", {})
    source_dataset = config.source_tables[0].split(".")[1]
    client = bigquery_client(config.target_project)
    load_demo_sources(client, storage_client(config.target_project), config.target_project, source_dataset)

    with tempfile.TemporaryDirectory(prefix="bqsynth-bench-") as tmp:
        started = time.perf_counter()
        summary = run_local_pipeline(config, tmp)
        end_to_end = time.perf_counter() - started
        plan = newest_plan(Path(tmp))

    table = plan.table(args.table).model_copy(update={"row_count": args.rows})
    table.recipe = compile_recipe(table, plan.seed)
    speeds: dict[str, float] = {}
    for engine in ("columnar", "snowfakery"):
        with tempfile.TemporaryDirectory(prefix="bqsynth-gen-") as tmp:
            run = generate_with_engine(table, plan.seed, Path(tmp), engine=engine, shard_rows=args.rows)
        speeds[engine] = run.rows / run.seconds

    figures = Table(title="bqsynth demo benchmark")
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    figures.add_row("cores", str(os.cpu_count()))
    figures.add_row(
        "demo tables / rows generated", f"{len(summary.tables)} / {sum(t.rows_generated for t in summary.tables)}"
    )
    figures.add_row("demo end to end (s)", f"{end_to_end:.1f}")
    figures.add_row(
        "demo FK orphans / duplicate PKs",
        f"{sum(t.foreign_key_orphans for t in summary.tables)} / "
        f"{sum(t.duplicate_primary_keys for t in summary.tables)}",
    )
    figures.add_row(f"generation of {args.table} ({len(table.columns)} columns), rows", f"{args.rows:,}")
    for engine, speed in speeds.items():
        figures.add_row(f"  rows per second, {engine} engine (one process)", f"{speed:,.0f}")
    console.print(figures)
    console.print(step_times(read_audit(client, config.resolved().audit_table, summary.batch_id), summary))


if __name__ == "__main__":
    main()
