"""Seconds to generate one table of several shards, with its source values to exclude (issue 14).

Run: PYTHONPATH=. .venv/bin/python benchmarks/shard_exclusions.py [--scale 40] [--rows 60000] [--shard-rows 5000]

Against the local emulators (``eval "$(scripts/local_stack.sh env)"``): the demo's
``Dim_Customer`` (identifying columns: names, email, phone, street address) at
``--scale`` is loaded as the source, then the pipeline's steps run in this process, one
after the other as on one worker: start_batch, profile, plan, and the generate step of every
shard of ``--rows`` rows in shards of ``--shard-rows``. Printed: the CPU seconds (this process and
the emulators, whose PIDs scripts/local_stack.sh keeps) and the wall seconds of the plan step,
of all the generate steps, of one read of the table's exclusions from the source (what each
shard paid before the plan step read them once for all shards), and of a shard's read of the plan
step's object (what each shard pays now).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path

from google.cloud import bigquery, storage

from bqsynth.config import RunConfig, load_config
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.generation.exclusions import source_exclusions
from bqsynth.models import DatasetPlan, WorkItem
from bqsynth.steps.artifacts import read_model
from bqsynth.steps.generate import generate_step, shard_exclusions
from bqsynth.steps.plan import plan_step
from bqsynth.steps.profile import profile_step
from bqsynth.steps.start_batch import start_batch_step
from demo import warehouse

TABLE = "Dim_Customer"
ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def emulator_pids() -> list[int]:
    """The local stack's emulators (scripts/local_stack.sh keeps their PIDs), whose work is the queries'."""
    stack = Path(os.environ.get("BQSYNTH_STACK_DIR", ".stack"))
    folder = (stack if stack.is_absolute() else ROOT / stack) / "pids"
    return [int(f.read_text()) for f in sorted(folder.glob("*.pid"))] if folder.is_dir() else []


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds so far of this process and of ``pids``: on a shared machine the wall time of a
    step swings with the others' load, the CPU its work takes much less."""
    own = os.times()
    total = own.user + own.system
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def one_read_of_exclusions(plan: DatasetPlan, bq: bigquery.Client, gcs: storage.Client) -> float:
    """Seconds of one read of the table's exclusions from its source: what every shard paid before
    the plan step read them once."""
    started = time.perf_counter()
    digests = source_exclusions(plan.table(TABLE), bq, gcs)
    seconds = time.perf_counter() - started
    print(f"one read of the exclusions: {sum(map(len, digests.values())):,} digests of {len(digests)} columns")
    return seconds


def one_shards_exclusions(
    config: RunConfig, plan: DatasetPlan, item: WorkItem, bq: bigquery.Client, gcs: storage.Client
) -> float:
    """Seconds a shard spends getting its exclusions now: a read of the plan step's object."""
    started = time.perf_counter()
    shard_exclusions(config, plan.table(TABLE), item, bq, gcs)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=40.0, help="scale of the demo source (Dim_Customer rows)")
    parser.add_argument("--rows", type=int, default=60_000, help="rows generated")
    parser.add_argument("--shard-rows", type=int, default=5_000)
    args = parser.parse_args()

    bq, gcs = bigquery_client(), storage_client()
    dataset = f"bench_excl_{uuid.uuid4().hex[:8]}"
    [customers] = [t for t in warehouse.build_demo_tables(42, args.scale) if t.name == TABLE]
    warehouse.load_tables(bq, bq.project, dataset, [customers])
    source = f"{bq.project}.{dataset}.{TABLE}"
    config = load_config(
        None,
        {
            "source_tables": [source],
            "target_dataset": f"{dataset}_target",
            "record_counts": {TABLE: args.rows},
            "staging_bucket": "bench-exclusions",
            "audit_table": f"{bq.project}.{dataset}_target.bqsynth_audit",
            "shard_rows": args.shard_rows,
            "batch_id": f"bench-{uuid.uuid4().hex[:8]}",
            "llm": "offline",
        },
    )
    try:
        with tempfile.TemporaryDirectory(prefix="bqsynth-bench-excl-") as tmp:
            work = Path(tmp)
            start_batch_step(config, str(work / "config"), bq=bq)
            profile_step(config, source, str(work / "profile"), bq=bq, gcs=gcs)
            pids = emulator_pids()
            started, cpu = time.perf_counter(), cpu_seconds(pids)
            items = plan_step(config, [str(work / "profile")], str(work / "plan" / "plan"), bq=bq, gcs=gcs)
            plan_seconds, plan_cpu = time.perf_counter() - started, cpu_seconds(pids) - cpu
            started, cpu = time.perf_counter(), cpu_seconds(pids)
            for n, item in enumerate(items):
                result = generate_step(
                    config,
                    str(work / "plan" / "plan"),
                    WorkItem.model_validate(item),
                    str(work / f"gen-{n}"),
                    bq=bq,
                    gcs=gcs,
                )
                assert result.status == "Completed", result.error
            generate_seconds, generate_cpu = time.perf_counter() - started, cpu_seconds(pids) - cpu
            plan = read_model(DatasetPlan, work / "plan" / "plan")
            read_seconds = one_read_of_exclusions(plan, bq, gcs)
            shard_seconds = one_shards_exclusions(config, plan, WorkItem.model_validate(items[1]), bq, gcs)
        print(
            f"{TABLE}: source {len(customers.rows):,} rows; {args.rows:,} rows generated in {len(items)} shards "
            f"of {args.shard_rows:,}\n"
            f"CPU seconds (this process and the {len(pids)} emulators): plan step {plan_cpu:.1f}, "
            f"generate steps {generate_cpu:.1f}, both {plan_cpu + generate_cpu:.1f}\n"
            f"load average {os.getloadavg()[0]:.1f}; wall: "
            f"plan step {plan_seconds:.1f} s; generate steps {generate_seconds:.1f} s "
            f"({generate_seconds / len(items):.2f} s a shard); "
            f"plan + generate {plan_seconds + generate_seconds:.1f} s; "
            f"one read of the exclusions from the source {read_seconds:.2f} s; "
            f"a shard's exclusions {shard_seconds:.2f} s"
        )
    finally:
        bq.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        bq.delete_dataset(f"{dataset}_target", delete_contents=True, not_found_ok=True)


if __name__ == "__main__":
    main()
