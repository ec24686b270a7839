"""Quality of the demo per table, by engine and seed: does the columnar engine lose quality?

Run (the local stack running, ``eval "$(scripts/local_stack.sh env)"`` first):

    PYTHONPATH=. .venv/bin/python benchmarks/demo_quality.py [--seeds 1 2 42] [--engines columnar snowfakery]

Loads the demo warehouse and its files, then runs the demo pipeline (configs/demo.yaml, kfp.local) once per
engine and seed, and prints per table the quality score (the mean of column shapes, column pair
trends and text realism) of every run, its mean per engine, and the integrity and privacy counts
summed over the runs. Snowfakery is the engine every table ran on before the columnar engine
existed, so its column is the reference the columnar engine must not fall below; the spread
across seeds says how much of a difference is sampling noise (the scores compare samples of a
few thousand rows).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bqsynth.config import load_config
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.models import RunSummary
from demo.feeds import load_demo_sources
from submit import run_local_pipeline

ROOT = Path(__file__).resolve().parent.parent


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def quality_table(runs: dict[tuple[str, int], RunSummary], engines: list[str], seeds: list[int]) -> Table:
    table = Table(title="demo quality per table (%), by engine and seed")
    table.add_column("table")
    for engine in engines:
        for seed in seeds:
            table.add_column(f"{engine}\nseed {seed}", justify="right")
        table.add_column(f"{engine}\nmean", justify="right")
    table.add_column("orphans / dup PKs / leaked\n(all runs)", justify="right")
    names = [t.table for t in next(iter(runs.values())).tables]
    for name in names:
        cells: list[str] = []
        orphans = duplicates = leaked = 0
        for engine in engines:
            scores: list[float] = []
            for seed in seeds:
                quality = next(t for t in runs[(engine, seed)].tables if t.table == name)
                score = quality.fidelity.quality_score if quality.fidelity else None
                cells.append(percent(score) if quality.status == "Completed" else quality.status)
                if score is not None:
                    scores.append(score)
                orphans += quality.foreign_key_orphans
                duplicates += quality.duplicate_primary_keys
                leaked += quality.privacy.identifying_values_leaked if quality.privacy else 0
            cells.append(percent(statistics.fmean(scores)) if scores else "-")
        table.add_row(name, *cells, f"{orphans} / {duplicates} / {leaked}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 42])
    parser.add_argument("--engines", nargs="+", default=["columnar", "snowfakery"])
    args = parser.parse_args()
    console = Console(width=200)

    base = load_config(ROOT / "configs" / "demo.yaml", {})
    source_dataset = base.source_tables[0].split(".")[1]
    project = base.target_project
    load_demo_sources(bigquery_client(project), storage_client(project), project, source_dataset)

    runs: dict[tuple[str, int], RunSummary] = {}
    for engine in args.engines:
        for seed in args.seeds:
            config = load_config(ROOT / "configs" / "demo.yaml", {"seed": seed, "engine": engine})
            with tempfile.TemporaryDirectory(prefix="bqsynth-quality-") as tmp:
                runs[(engine, seed)] = run_local_pipeline(config, tmp)
            console.print(f"ran engine={engine} seed={seed}: batch {runs[(engine, seed)].batch_id}")
    console.print(quality_table(runs, args.engines, args.seeds))


if __name__ == "__main__":
    main()
