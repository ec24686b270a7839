"""Quality of each demo table by engine, over many seeds: is a difference the engine's or the seed's?

Run (the local stack running, ``eval "$(scripts/local_stack.sh env)"`` first):

    PYTHONPATH=. .venv/bin/python benchmarks/engine_quality.py [--seeds 20] [--tables Dim_Employee ...]

benchmarks/demo_quality.py runs the whole demo per engine and seed, a few minutes a run, so it
can afford three seeds; a small table's score then swings by several points from seed to seed.
This script plans the demo once (the demo pipeline through kfp.local, offline engine), then
generates each BigQuery-sourced table of that plan with both engines for every seed in this
process, and scores each synthetic table against the whole source table with the quality the
summarize step computes (``metrics.fidelity_scores``: column shapes, column pair trends, text
realism). Printed per table and engine: mean, standard deviation, lowest and highest score, and
the difference of the means (columnar - Snowfakery) with Welch's 95% interval.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy import stats

from bqsynth.config import load_config
from bqsynth.evaluation.evaluate import rows_to_frame
from bqsynth.evaluation.metrics import fidelity_scores
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.generation.columnar import generate_with_engine
from bqsynth.generation.parquet_files import read_rows
from bqsynth.generation.snowfakery_runner import iter_raw_rows
from bqsynth.models import DatasetPlan, TablePlan
from bqsynth.steps.artifacts import read_model
from demo.feeds import load_demo_sources
from demo.warehouse import build_demo_tables
from submit import run_local_pipeline

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("columnar", "snowfakery")


def demo_plan(pipeline_root: Path) -> DatasetPlan:
    config = load_config(ROOT / "configs" / "demo.yaml", {})
    project = config.target_project
    source_dataset = config.source_tables[0].split(".")[1]
    load_demo_sources(bigquery_client(project), storage_client(project), project, source_dataset)
    run_local_pipeline(config, str(pipeline_root))
    [plan] = pipeline_root.glob("*/plan-dataset/plan")
    return read_model(DatasetPlan, plan)


def synthetic_frame(table: TablePlan, seed: int, engine: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="bqsynth-engine-quality-") as tmp:
        run = generate_with_engine(table, seed, Path(tmp), engine=engine)
        rows = [
            row for path in run.files for row in (read_rows(path) if path.suffix == ".parquet" else iter_raw_rows(path))
        ]
    return rows_to_frame(rows, table)


def welch_interval(first: list[float], second: list[float]) -> tuple[float, float, float]:
    """Difference of the means and its 95% interval (Welch's t)."""
    difference = statistics.fmean(first) - statistics.fmean(second)
    v1, v2 = statistics.variance(first) / len(first), statistics.variance(second) / len(second)
    if v1 + v2 == 0:
        return difference, difference, difference
    freedom = (v1 + v2) ** 2 / (v1**2 / (len(first) - 1) + v2**2 / (len(second) - 1))
    half = stats.t.ppf(0.975, freedom) * (v1 + v2) ** 0.5
    return difference, difference - half, difference + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="seeds 1..N")
    parser.add_argument("--tables", nargs="*", help="only these tables (default: every BigQuery-sourced one)")
    args = parser.parse_args()
    console = Console(width=160)

    with tempfile.TemporaryDirectory(prefix="bqsynth-engine-quality-plan-") as tmp:
        plan = demo_plan(Path(tmp))
    sources = {t.name: t for t in build_demo_tables(42, 1.0)}
    tables = [t for t in plan.tables if t.file_format is None and (not args.tables or t.name in args.tables)]

    figures = Table(title=f"demo quality per table (%) over seeds 1..{args.seeds}, whole source table as reference")
    for heading in ("table", "rows", "engine", "mean", "sd", "lowest", "highest", "columnar - snowfakery (95%)"):
        figures.add_column(heading, justify="left" if heading in ("table", "engine") else "right")
    for table in tables:
        source = rows_to_frame(sources[table.name].rows, table)
        scores: dict[str, list[float]] = {engine: [] for engine in ENGINES}
        for seed in range(1, args.seeds + 1):
            for engine in ENGINES:
                fidelity = fidelity_scores(source, synthetic_frame(table, seed, engine), table)
                scores[engine].append(100 * (fidelity.quality_score or 0.0))
        difference, low, high = welch_interval(scores["columnar"], scores["snowfakery"])
        for n, engine in enumerate(ENGINES):
            values = scores[engine]
            figures.add_row(
                table.name if n == 0 else "",
                f"{table.row_count:,}" if n == 0 else "",
                engine,
                f"{statistics.fmean(values):.1f}",
                f"{statistics.stdev(values):.1f}",
                f"{min(values):.1f}",
                f"{max(values):.1f}",
                f"{difference:+.1f} ({low:+.1f} .. {high:+.1f})" if n == 0 else "",
            )
        console.print(f"{table.name}: done", highlight=False)
    console.print(figures)


if __name__ == "__main__":
    main()
