"""Peak memory of one generate task (one shard) against the size of its table (issue 14, item 3).

Run: PYTHONPATH=. .venv/bin/python benchmarks/shard_memory.py [--shard-rows N] [--table-rows N ...]

Each table size is measured in a fresh process (peak RSS is per process): the demo's
``Fact_Transaction`` planned at that many rows, and the second-to-last of its shards
generated as one pipeline task does it (``generate_with_engine(only=item)``). A task's
memory should depend on ``shard_rows`` only, never on the table's size.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_task(table_rows: int, shard_rows: int) -> str:
    from bqsynth.generation.columnar import generate_with_engine
    from bqsynth.generation.recipe import with_recipes
    from bqsynth.generation.shards import table_shards
    from bqsynth.planning.planner import PlanOptions, plan_dataset
    from tests.factories import demo_profiles

    options = PlanOptions(
        target_project="p", target_dataset="d", record_counts={"Fact_Transaction": table_rows}, max_rows=10**10
    )
    plan = with_recipes(plan_dataset(demo_profiles(), options))
    table = plan.table("Fact_Transaction")
    items = table_shards(table, shard_rows)
    item = items[-2] if len(items) > 1 else items[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        made = generate_with_engine(table, plan.seed, Path(out), engine="auto", only=item)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"table {table_rows:>12,} rows, {len(items):>4} shards; {item.label()}: {made.rows:,} rows "
        f"by {made.engine} in {seconds:.1f} s, peak RSS {peak:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shard-rows", type=int, default=250_000)
    parser.add_argument("--table-rows", type=int, nargs="+", default=[500_000, 10_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process: one table size
    args = parser.parse_args()
    if args.one is not None:
        print(one_task(args.one, args.shard_rows), flush=True)
        return
    for rows in args.table_rows:
        command = [sys.executable, __file__, "--shard-rows", str(args.shard_rows), "--one", str(rows)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
