"""Key-inference benchmark: load public schemas into the emulator, profile and plan, score the keys.

Run: eval "$(bash /work/main/scripts/local_stack.sh env)"; PYTHONPATH=. .venv/bin/python
benchmarks/key_inference/run.py [--schemas ssb,chinook] [--with-declared] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import emulator  # noqa: E402
from chinook import chinook  # noqa: E402
from duckdb_schemas import ssb, tpch  # noqa: E402
from google.api_core.exceptions import NotFound  # noqa: E402
from google.cloud import bigquery  # noqa: E402
from lahman import lahman  # noqa: E402
from nycflights13 import nycflights13  # noqa: E402
from rdatasets_schemas import bakeoff, dragracer  # noqa: E402
from tpcds import tpcds  # noqa: E402
from truth import ForeignKey, Schema  # noqa: E402

from bqsynth.gcp.clients import bigquery_client  # noqa: E402
from bqsynth.models import DatasetPlan, TableProfile  # noqa: E402
from bqsynth.planning.planner import NOT_GENERATED, PlanOptions, plan_dataset  # noqa: E402
from bqsynth.sources.bigquery_profile import profile_table  # noqa: E402
from bqsynth.sources.key_checks import BigQueryKeyChecks  # noqa: E402

SCHEMAS = {
    "ssb": ssb,
    "tpch": tpch,
    "chinook": chinook,
    "lahman": lahman,
    "nycflights13": nycflights13,
    "tpcds": tpcds,
    "bakeoff": bakeoff,
    "dragracer": dragracer,
}
RESULTS = Path(__file__).resolve().parents[1] / "results"
PROFILES = RESULTS / "key_inference_data" / "profiles"


@dataclass
class Score:
    schema: str
    tables: int
    rows: int
    pk_precision: float
    pk_recall: float
    fk_precision: float
    fk_recall: float
    load_seconds: float
    profile_seconds: float
    plan_seconds: float
    pk_false_positives: list[str] = field(default_factory=list)
    pk_false_negatives: list[str] = field(default_factory=list)
    fk_false_positives: list[str] = field(default_factory=list)
    fk_false_negatives: list[str] = field(default_factory=list)
    fk_not_generated: list[str] = field(default_factory=list)
    declared_changed: list[str] = field(default_factory=list)


def _ratio(hits: int, total: int) -> float:
    return 1.0 if total == 0 else round(hits / total, 4)


def plan_schema(
    client: bigquery.Client, project: str, dataset: str, schema: Schema, *, reuse: bool = False
) -> tuple[DatasetPlan, float, float]:
    """What a user's run does before generation: profile each table in BigQuery, then plan them jointly.

    Profiles are saved beside the data; ``reuse`` reads them back (profiling TPC-DS on the
    emulator takes ~20 minutes), so a change to planning is measured on the same profiles.
    """
    started = time.monotonic()
    cache = PROFILES / f"{dataset}.json"
    if reuse and cache.exists():
        profiles = [TableProfile.model_validate(p) for p in json.loads(cache.read_text())]
    else:
        profiles = [profile_table(client, f"{project}.{dataset}.{t}", sample_rows=1000) for t in schema.columns]
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps([p.model_dump(mode="json") for p in profiles]))
    profiled = time.monotonic()
    options = PlanOptions(target_project=project, target_dataset=f"{dataset}_synthetic")
    plan = plan_dataset(profiles, options, BigQueryKeyChecks(client))
    return plan, profiled - started, time.monotonic() - profiled


def score(schema: Schema, plan: DatasetPlan) -> dict[str, object]:
    """PKs: column set equal to the published one. FKs: (child, child cols, parent, parent cols) as sets."""
    found_pks = {t.name: frozenset(t.primary_key) for t in plan.tables if t.primary_key}
    true_pks = {t: frozenset(c) for t, c in schema.primary_keys.items()}
    pk_hits = sum(1 for t, c in found_pks.items() if true_pks.get(t) == c)
    # Inference is scored: a reference found but rejected because generation cannot keep it
    # (two composite references sharing a column) counts as found, and is listed as such.
    not_generated = [r for r in plan.rejected_relationships if NOT_GENERATED in r.evidence]
    found = {
        ForeignKey(r.child_table, tuple(r.child_columns), r.parent_table, tuple(r.parent_columns)).key(): r
        for r in [*plan.relationships, *not_generated]
    }
    truth = {f.key(): f for f in schema.foreign_keys}
    fk_hits = len(found.keys() & truth.keys())
    return {
        "pk_precision": _ratio(pk_hits, len(found_pks)),
        "pk_recall": _ratio(pk_hits, len(true_pks)),
        "fk_precision": _ratio(fk_hits, len(found)),
        "fk_recall": _ratio(fk_hits, len(truth)),
        "pk_false_positives": [f"{t}({', '.join(sorted(c))})" for t, c in found_pks.items() if true_pks.get(t) != c],
        "pk_false_negatives": [f"{t}({', '.join(sorted(c))})" for t, c in true_pks.items() if found_pks.get(t) != c],
        # A false positive the plan itself calls ambiguous (evidence, confidence <= 0.7) is marked.
        "fk_false_positives": [
            f"{k[0]}({', '.join(sorted(k[1]))}) -> {k[2]}({', '.join(sorted(k[3]))})"
            + (f" [plan: ambiguous, confidence {found[k].confidence}]" if "ambiguous" in found[k].evidence else "")
            for k in found.keys() - truth.keys()
        ],
        "fk_false_negatives": [str(truth[k]) for k in truth.keys() - found.keys()],
        "fk_not_generated": [
            f"{r.child_table}({', '.join(r.child_columns)}) -> {r.parent_table}({', '.join(r.parent_columns)})"
            for r in not_generated
        ],
    }


def declared_changes(schema: Schema, plan: DatasetPlan) -> list[str]:
    """Every declared key must come back unchanged and marked declared."""
    changes = []
    for table in plan.tables:
        if list(table.primary_key) != list(schema.primary_keys.get(table.name, ())):
            changes.append(
                f"PK {table.name}: declared {schema.primary_keys.get(table.name)}, planned {table.primary_key}"
            )
    declared = {
        (r.child_table, tuple(r.child_columns), r.parent_table, tuple(r.parent_columns))
        for r in plan.relationships
        if r.origin == "declared"
    }
    for fk in schema.foreign_keys:
        if (fk.child_table, fk.child_columns, fk.parent_table, fk.parent_columns) not in declared:
            changes.append(f"FK {fk} not used as declared")
    return changes


def _has_tables(client: bigquery.Client, dataset: str) -> bool:
    try:
        return bool(list(client.list_tables(dataset)))
    except NotFound:
        return False


def run_one(client: bigquery.Client, project: str, schema: Schema, *, declared: bool, reuse: bool) -> Score:
    started = time.monotonic()
    dataset = emulator.dataset_name(schema, declared)
    if not reuse:
        dataset = emulator.load(client, project, schema, declared=declared)
    elif not _has_tables(client, f"{project}.{dataset}"):
        # Without the tables the exact checks are all skipped and the scores mean nothing.
        raise SystemExit(f"--reuse: {project}.{dataset} has no tables (a restarted emulator?): run without --reuse")
    load_seconds = time.monotonic() - started
    plan, profile_seconds, plan_seconds = plan_schema(client, project, dataset, schema, reuse=reuse)
    result = Score(
        schema=schema.name,
        tables=len(schema.columns),
        rows=schema.row_count(),
        load_seconds=round(load_seconds, 1),
        profile_seconds=round(profile_seconds, 1),
        plan_seconds=round(plan_seconds, 1),
        **score(schema, plan),  # type: ignore[arg-type]
    )
    if declared:
        result.declared_changed = declared_changes(schema, plan)
    return result


def report(result: Score) -> str:
    lines = [
        f"{result.schema}: {result.tables} tables, {result.rows} rows | PK P={result.pk_precision} R={result.pk_recall}"
        f" | FK P={result.fk_precision} R={result.fk_recall} | load {result.load_seconds}s profile "
        f"{result.profile_seconds}s plan {result.plan_seconds}s"
    ]
    for label in (
        "pk_false_positives",
        "pk_false_negatives",
        "fk_false_positives",
        "fk_false_negatives",
        "fk_not_generated",
        "declared_changed",
    ):
        for item in getattr(result, label):
            lines.append(f"  {label}: {item}")
    return "\n".join(lines)


def _merged(path: Path, results: list[dict]) -> list[dict]:
    """Earlier results of the schemas not rerun are kept, so one file holds every schema's last run."""
    rerun = {r["schema"] for r in results}
    earlier = json.loads(path.read_text()) if path.exists() else []
    return [r for r in earlier if r["schema"] not in rerun] + results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schemas", default=",".join(SCHEMAS), help=f"comma list of {', '.join(SCHEMAS)}")
    parser.add_argument("--with-declared", action="store_true", help="declare the published keys NOT ENFORCED")
    parser.add_argument("--reuse", action="store_true", help="reuse the datasets and profiles of an earlier run")
    parser.add_argument("--project", default="bqsynth-local")
    args = parser.parse_args()
    client = bigquery_client(args.project)
    results = []
    for name in args.schemas.split(","):
        result = run_one(client, args.project, SCHEMAS[name](), declared=args.with_declared, reuse=args.reuse)
        print(report(result), flush=True)
        results.append(asdict(result))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"key_inference{'_declared' if args.with_declared else ''}.json"
    out.write_text(json.dumps(_merged(out, results), indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
