"""bqsynth against SDV 2.0 (GaussianCopula per table, HMA multi-table) on the demo warehouse and TPC-H.

    make benchmark-sdv                       # or, with the stack running and its env exported:
    .venv/bin/python benchmarks/sdv_benchmark.py [--datasets demo,tpch] [--tpch-sf 0.001]

For each dataset:
1. load the source tables into the BigQuery emulator with declared keys (bench_<dataset>_src);
2. export them to flat NDJSON (what SDV trains on: the whole table, as bqsynth profiles it);
3. run ``submit.py --local`` (target bench_<dataset>_bqsynth, same row counts, fixed seed) as a
   measured subprocess, then read the target tables and the plan's identifying columns back;
4. run GaussianCopula and HMA in .bench/sdv-venv as measured subprocesses;
5. score all three with the same code in the SDV venv (SDMetrics QualityReport, FK orphans,
   duplicate keys, identifying values leaked), print the comparison and write
   benchmarks/results/sdv_<dataset>.json.

See benchmarks/README.md for what is measured and the caveats.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bq_io
import tpch_schema
from google.cloud import bigquery
from measure import Measurement, run_measured
from rich.console import Console
from rich.table import Table

from bqsynth.gcp.clients import bigquery_client
from bqsynth.models import DatasetPlan, leaf_plans
from bqsynth.steps.artifacts import read_model
from demo import warehouse

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
SDV_VENV = ROOT / ".bench" / "sdv-venv"
SDV_PYTHON = SDV_VENV / "bin" / "python"
WORKER = BENCH / "sdv_worker.py"
RESULTS = BENCH / "results"
STAGING_BUCKET = "bqsynth-bench-staging"
SYSTEMS = ("bqsynth", "gaussian_copula", "hma")
LABELS = {"bqsynth": "bqsynth", "gaussian_copula": "SDV GaussianCopula", "hma": "SDV HMA"}


@dataclass(frozen=True)
class Source:
    """Source tables loaded into the emulator, with the ground-truth keys used for scoring."""

    dataset: str
    tables: list[str]
    primary_keys: dict[str, list[str]]
    primary_key_declared: dict[str, bool]
    relationships: list[dict[str, Any]]
    note: str


# ------------------------------------------------------------------------- sources


def load_demo(client: bigquery.Client, project: str, seed: int) -> Source:
    """The demo warehouse in its own dataset; its ground truth lists undeclared keys too."""
    dataset = "bench_demo_src"
    tables = warehouse.build_demo_tables(seed=seed)
    warehouse.load_tables(client, project, dataset, tables)
    relationships = [
        {
            "child": t.name,
            "child_columns": [fk.column],
            "parent": fk.ref_table,
            "parent_columns": [fk.ref_column],
            "declared": fk.declared,
        }
        for t in tables
        for fk in t.foreign_keys
    ]
    return Source(
        dataset=dataset,
        tables=[t.name for t in tables],
        primary_keys={t.name: [t.primary_key] if t.primary_key else [] for t in tables},
        primary_key_declared={t.name: t.primary_key_declared for t in tables},
        relationships=relationships,
        note=f"demo.warehouse seed {seed}",
    )


def load_tpch(client: bigquery.Client, project: str, sf: float, work: Path) -> Source:
    """TPC-H from DuckDB (in the SDV venv, which has duckdb 1.5.5), loaded with the spec's keys."""
    raw = work / "tpch_raw"
    subprocess.run([str(SDV_PYTHON), str(WORKER), "tpch", "--sf", str(sf), "--out", str(raw)], check=True)
    dataset = "bench_tpch_src"
    bq_io.load_tpch(client, project, dataset, raw)
    relationships = [
        {
            "child": fk.table,
            "child_columns": list(fk.columns),
            "parent": fk.ref_table,
            "parent_columns": list(fk.ref_columns),
            "declared": True,
        }
        for fk in tpch_schema.FOREIGN_KEYS
    ]
    tables = list(tpch_schema.TABLE_ORDER)
    return Source(
        dataset=dataset,
        tables=tables,
        primary_keys=dict(tpch_schema.PRIMARY_KEYS),
        primary_key_declared=dict.fromkeys(tables, True),
        relationships=relationships,
        note=f"DuckDB tpch dbgen sf={sf}",
    )


def export_source(client: bigquery.Client, project: str, source: Source, work: Path) -> dict[str, Any]:
    """Flat NDJSON of every source table plus the manifest the SDV worker reads."""
    (work / "source").mkdir(parents=True, exist_ok=True)
    tables = {}
    for table in source.tables:
        rows, types = bq_io.export_table(
            client, f"{project}.{source.dataset}.{table}", work / "source" / f"{table}.jsonl"
        )
        tables[table] = {
            "rows": rows,
            "types": types,
            "primary_key": source.primary_keys[table],
            "primary_key_declared": source.primary_key_declared[table],
        }
    return {"tables": tables, "relationships": source.relationships, "identifying": {}}


# ------------------------------------------------------------------------- systems


def run_bqsynth(
    client: bigquery.Client, project: str, name: str, source: Source, manifest: dict[str, Any], seed: int, work: Path
) -> dict[str, Any]:
    """submit.py --local as a measured subprocess; then its targets and identifying columns."""
    target = f"bench_{name}_bqsynth"
    bq_io.recreate_dataset(client, project, target)
    config = {
        "source_tables": [f"{project}.{source.dataset}.{t}" for t in source.tables],
        "target_project": project,
        "target_dataset": target,
        # Explicit counts equal to the source: the same rows SDV is asked for.
        "record_counts": {t: spec["rows"] for t, spec in manifest["tables"].items()},
        "seed": seed,
        "staging_bucket": STAGING_BUCKET,
        "llm": "offline",
    }
    config_path = work / "bqsynth.yaml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is valid YAML: no yaml dependency here
    pipeline_root = work / "kfp"
    command = [sys.executable, str(ROOT / "submit.py"), "--local", "--config", str(config_path)]
    command += ["--pipeline-root", str(pipeline_root)]
    print(f"[{name}] bqsynth: {' '.join(command[1:])}", flush=True)
    measured = run_measured(command, work / "bqsynth.log", cwd=ROOT)
    plans = sorted(pipeline_root.glob("*/plan-dataset/plan"), key=lambda p: p.stat().st_mtime)
    if measured.returncode not in (0, 1) or not plans:  # 1 = ran, but a check failed: still scored
        raise RuntimeError(f"bqsynth failed (exit {measured.returncode}); see {work / 'bqsynth.log'}")
    plan = read_model(DatasetPlan, plans[-1])
    identifying = {
        t.name: [path for path, column in leaf_plans(t.columns).items() if column.identifying] for t in plan.tables
    }
    (work / "bqsynth").mkdir(exist_ok=True)
    for table in plan.tables:
        bq_io.export_table(client, table.target_table, work / "bqsynth" / f"{table.name}.jsonl")
    return {
        "measurement": measured.as_dict(),
        "exit_code": measured.returncode,
        "identifying": identifying,
        "relationships": [r.model_dump() for r in plan.relationships],
        "plan": str(plans[-1]),
    }


def run_sdv(name: str, method: str, work: Path) -> dict[str, Any]:
    print(f"[{name}] SDV {method}", flush=True)
    command = [str(SDV_PYTHON), str(WORKER), "synth", "--work", str(work), "--method", method]
    measured = run_measured(command, work / f"{method}.log", cwd=BENCH)
    if measured.returncode != 0:
        raise RuntimeError(f"SDV {method} failed (exit {measured.returncode}); see {work / (method + '.log')}")
    timing = json.loads((work / method / "timing.json").read_text())
    return {"measurement": measured.as_dict(), **timing}


def score(name: str, work: Path) -> tuple[dict[str, Any], Measurement]:
    print(f"[{name}] scoring", flush=True)
    command = [str(SDV_PYTHON), str(WORKER), "score", "--work", str(work)]
    measured = run_measured(command, work / "score.log", cwd=BENCH)
    if measured.returncode != 0:
        raise RuntimeError(f"scoring failed (exit {measured.returncode}); see {work / 'score.log'}")
    return json.loads((work / "scores.json").read_text()), measured


# ------------------------------------------------------------------------- results


def totals(scores: dict[str, Any]) -> dict[str, Any]:
    tables = scores["tables"].values()
    qualities = [t["quality"] for t in tables if t["quality"] is not None]
    non_identifying = [t["quality_non_identifying"] for t in tables if t["quality_non_identifying"] is not None]
    known = [r for r in scores["relationships"] if r["orphans"] is not None]
    return {
        "mean_quality": round(sum(qualities) / len(qualities), 4) if qualities else None,
        "mean_quality_non_identifying": round(sum(non_identifying) / len(non_identifying), 4)
        if non_identifying
        else None,
        "rows": sum(t["rows"] for t in tables),
        "fk_orphans": sum(r["orphans"] for r in known),
        "fk_orphans_declared": sum(r["orphans"] for r in known if r["declared"]),
        "relationships_with_orphans": sum(1 for r in known if r["orphans"]),
        "relationships_checked": len(known),
        "duplicate_pks": sum(t["duplicate_pks"] for t in tables),
        "leaked_values": sum(t["leaked_values"] for t in tables),
    }


def run_dataset(name: str, args: argparse.Namespace, client: bigquery.Client, project: str) -> dict[str, Any]:
    work = (args.work / name).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    print(f"[{name}] loading the source tables", flush=True)
    source = load_demo(client, project, args.seed) if name == "demo" else load_tpch(client, project, args.tpch_sf, work)
    manifest = export_source(client, project, source, work)
    manifest["seed"] = args.seed
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2))

    runs: dict[str, Any] = {"bqsynth": run_bqsynth(client, project, name, source, manifest, args.seed, work)}
    # bqsynth decides which columns are identifying; SDV's outputs are checked on the same columns.
    manifest["identifying"] = runs["bqsynth"]["identifying"]
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for method in ("gaussian_copula", "hma"):
        if method not in args.skip:
            runs[method] = run_sdv(name, method, work)
    scores, scoring = score(name, work)

    result = {
        "dataset": name,
        "source": {"dataset": f"{project}.{source.dataset}", "note": source.note},
        "source_rows": {t: spec["rows"] for t, spec in manifest["tables"].items()},
        "identifying_columns": manifest["identifying"],
        "cores": os.cpu_count(),
        "runs": runs,
        "scores": {s: scores[s] for s in SYSTEMS if s in scores},
        "totals": {s: totals(scores[s]) for s in SYSTEMS if s in scores},
        "sdv_metadata": scores["sdv_metadata"],
        "scoring_seconds": scoring.wall_seconds,
        "benchmark_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"sdv_{name}.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_result(console: Console, result: dict[str, Any]) -> None:
    systems = [s for s in SYSTEMS if s in result["scores"]]
    name = result["dataset"]
    hma_tables = set(result["runs"].get("hma", {}).get("hma_tables", []))

    quality = Table(
        title=f"{name}: SDMetrics quality per table, all columns | without identifying columns (0..1, higher is closer)"
    )
    quality.add_column("table")
    quality.add_column("source rows", justify="right")
    for system in systems:
        quality.add_column(LABELS[system], justify="right")
    for table, rows in result["source_rows"].items():
        cells = []
        for system in systems:
            entry = result["scores"][system]["tables"].get(table)
            cell = f"{_fmt(entry['quality'])} | {_fmt(entry['quality_non_identifying'])}" if entry else "-"
            if system == "hma" and entry and table not in hma_tables:
                cell += " (GC)"  # outside the sub-schema HMA Community accepts
            cells.append(cell)
        quality.add_row(table, _fmt(rows), *cells)
    console.print(quality)

    summary = Table(title=f"{name}: totals")
    summary.add_column("measure")
    for system in systems:
        summary.add_column(LABELS[system], justify="right")
    runs, total = result["runs"], result["totals"]

    def row(label: str, values: list[Any]) -> None:
        summary.add_row(label, *[_fmt(v, 1) if isinstance(v, float) else _fmt(v) for v in values])

    row("wall seconds, whole process", [runs[s]["measurement"]["wall_seconds"] for s in systems])
    row(
        "  of which SDV fit + sample",
        [runs[s].get("fit_sample_seconds") if s != "bqsynth" else None for s in systems],
    )
    row("peak RSS MB, largest process", [runs[s]["measurement"]["max_process_rss_mb"] for s in systems])
    row("peak RSS MB, process tree (sampled)", [runs[s]["measurement"]["peak_tree_rss_mb"] for s in systems])
    row("rows generated", [total[s]["rows"] for s in systems])
    summary.add_row("mean quality, all columns", *[_fmt(total[s]["mean_quality"]) for s in systems])
    summary.add_row(
        "mean quality, without identifying columns", *[_fmt(total[s]["mean_quality_non_identifying"]) for s in systems]
    )
    row("FK orphans, all relationships", [total[s]["fk_orphans"] for s in systems])
    row("FK orphans, declared relationships", [total[s]["fk_orphans_declared"] for s in systems])
    row(
        "relationships with orphans",
        [f"{total[s]['relationships_with_orphans']}/{total[s]['relationships_checked']}" for s in systems],
    )
    row("duplicate primary keys", [total[s]["duplicate_pks"] for s in systems])
    row("identifying values leaked", [total[s]["leaked_values"] for s in systems])
    console.print(summary)

    orphans = Table(title=f"{name}: FK orphans per relationship (ground truth; * = declared)")
    orphans.add_column("relationship")
    for system in systems:
        orphans.add_column(LABELS[system], justify="right")
    first = result["scores"][systems[0]]["relationships"]
    for index, rel in enumerate(first):
        label = rel["relationship"] + (" *" if rel["declared"] else "")
        orphans.add_row(label, *[_fmt(result["scores"][s]["relationships"][index]["orphans"]) for s in systems])
    console.print(orphans)
    if hma_tables:
        console.print(
            f"HMA modelled {sorted(hma_tables)} (SDV Community's limit: <= 5 tables, parent->child only); "
            "tables marked (GC) were fitted by GaussianCopula in the same run."
        )


# ---------------------------------------------------------------------------- main


def ensure_sdv_venv() -> None:
    if not SDV_PYTHON.exists():
        subprocess.run(["bash", str(BENCH / "setup_sdv_venv.sh")], check=True, cwd=ROOT)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="demo,tpch", help="comma-separated: demo, tpch")
    parser.add_argument(
        "--tpch-sf", type=float, default=0.001, help="TPC-H scale factor (0.001 = ~8.7k rows; see README)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip", default="", help="comma-separated SDV methods to skip: gaussian_copula, hma")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "work", help="scratch directory")
    args = parser.parse_args(argv)
    args.skip = {s for s in args.skip.split(",") if s}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("BIGQUERY_EMULATOR_HOST"):
        print('BIGQUERY_EMULATOR_HOST is not set: run eval "$(bash scripts/local_stack.sh env)" first', file=sys.stderr)
        return 2
    ensure_sdv_venv()
    client = bigquery_client()
    project = client.project
    console = Console(width=140)
    started = time.perf_counter()
    results = [run_dataset(name, args, client, project) for name in args.datasets.split(",")]
    for result in results:
        print_result(console, result)
    console.print(f"total benchmark time {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
