"""Rows per second of the columnar engine and of Snowfakery, side by side, in one run (issue 14).

Run: PYTHONPATH=. .venv/bin/python benchmarks/engine_speed.py [--columnar-rows N] [--snowfakery-rows N]

Two tables: a 23-column fact table (a sequence key, 8 references, 10 measures, 3 dates and
a flag) and the demo's ``Fact_Transaction`` as the planner plans it from the demo
warehouse (Faker company names and free text among its columns). Each engine writes the
final files (shaping and rules included) into a temporary folder on one core: Snowfakery and
``columnar`` NDJSON, ``columnar-pq`` what the pipeline writes (``file_format="auto"``: Parquet
where the table allows it, see ``bqsynth/generation/parquet_files.py``); the figure is
rows / wall seconds of ``generate_table`` / ``generate_table_columnar``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bqsynth.generation.columnar import generate_table_columnar
from bqsynth.generation.recipe import compile_recipe
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    BooleanValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    ForeignKeyRef,
    NumberFromQuantiles,
    SequenceKey,
    TablePlan,
    TemporalFromQuantiles,
)

SEED = 42


def _column(name: str, kind: str, generator: object, null_rate: float = 0.0) -> ColumnPlan:
    return ColumnPlan(name=name, type=kind, generator=generator, null_rate=null_rate)  # type: ignore[arg-type]


def fact_table(rows: int) -> TablePlan:
    """23 columns: a key, 8 references (int and string keys, skewed and not), 10 measures, 3 dates, a flag."""
    references = [
        _column(
            f"dim{i}_id",
            "STRING" if i % 3 == 0 else "INT64",
            ForeignKeyRef(
                parent_table=f"Dim{i}",
                parent_column=f"dim{i}_id",
                parent_rows=50 * (i + 1) ** 2,
                parent_key=SequenceKey(prefix=f"D{i}-", width=6, as_string=True)
                if i % 3 == 0
                else SequenceKey(start=1000 * (i + 1)),
                skew=0.8 if i % 2 else 0.0,
            ),
            null_rate=0.05 if i == 7 else 0.0,
        )
        for i in range(8)
    ]
    measures = [
        _column("amount", "NUMERIC", NumberFromQuantiles(quantiles=[-50, 0, 12, 40, 900], decimals=2, precision=38)),
        _column("tax", "NUMERIC", NumberFromQuantiles(quantiles=[0, 1, 3, 90], decimals=2, precision=38)),
        _column("discount", "NUMERIC", NumberFromQuantiles(quantiles=[0, 0, 5, 50], decimals=2), null_rate=0.3),
        _column("quantity", "INT64", NumberFromQuantiles(quantiles=[1, 1, 2, 5, 40], integer=True)),
        _column("weight", "FLOAT64", NumberFromQuantiles(quantiles=[0.1, 0.5, 2.0, 30.0])),
        _column("margin", "FLOAT64", NumberFromQuantiles(quantiles=[-0.2, 0.1, 0.3, 0.6], decimals=4)),
        _column("points", "INT64", NumberFromQuantiles(quantiles=[0, 10, 100, 5000], integer=True)),
        _column("channel", "STRING", Categorical(values=["web", "store", "phone", "app"], weights=[5, 3, 1, 4])),
        _column("currency", "STRING", Categorical(values=["EUR", "USD", "GBP"], weights=[6, 3, 1], copula=[1.0])),
        _column("status", "STRING", Categorical(values=["ok", "returned", "void"], weights=[90, 8, 2])),
    ]
    dates = [
        _column("sold_on", "DATE", TemporalFromQuantiles(type="DATE", quantiles=["2020-01-01", "2024-12-31"])),
        _column(
            "sold_at",
            "TIMESTAMP",
            TemporalFromQuantiles(
                type="TIMESTAMP",
                quantiles=["2020-01-01 00:00:00+00:00", "2024-12-31 23:00:00+00:00"],
                copula=[0.6, 0.8],
            ),
        ),
        _column(
            "shipped_at",
            "DATETIME",
            TemporalFromQuantiles(type="DATETIME", quantiles=["2020-01-02 00:00:00", "2025-01-31 00:00:00"]),
            null_rate=0.1,
        ),
    ]
    columns = [
        ColumnPlan(name="sale_id", type="INT64", mode="REQUIRED", generator=SequenceKey(start=1)),
        *references,
        *measures,
        *dates,
        _column("is_online", "BOOL", BooleanValue(p_true=0.4)),
    ]
    table = TablePlan(
        name="Fact_Sales",
        source_table="p.src.Fact_Sales",
        target_table="p.tgt.Fact_Sales",
        row_count=rows,
        columns=columns,
        schema=[ColumnSchema(name=c.name, type=c.type, mode=c.mode) for c in columns],
        primary_key=["sale_id"],
    )
    return table.model_copy(update={"recipe": compile_recipe(table, SEED)})


def demo_fact_table(rows: int) -> TablePlan:
    # Imported here: the demo is not part of the library, and only this table needs it.
    from bqsynth.generation.recipe import with_recipes
    from bqsynth.planning.planner import PlanOptions, plan_dataset
    from tests.factories import demo_profiles

    options = PlanOptions(target_project="p", target_dataset="d", record_counts={"Fact_Transaction": rows}, seed=SEED)
    return with_recipes(plan_dataset(demo_profiles(), options)).table("Fact_Transaction")


Runner = Callable[..., tuple[list[Path], int, float]]


def rows_per_second(run: Runner, table: TablePlan) -> float:
    with tempfile.TemporaryDirectory(prefix="bqsynth-engine-speed-") as tmp:
        started = time.perf_counter()
        _, rows, _ = run(table, SEED, Path(tmp), shard_rows=250_000)
        return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--columnar-rows", type=int, default=200_000)
    parser.add_argument("--snowfakery-rows", type=int, default=10_000)
    args = parser.parse_args()
    print(f"{'table':<34} {'engine':<11} {'rows':>8} {'rows/s':>10}")
    for label, build in (("23-column fact table (8 refs)", fact_table), ("demo Fact_Transaction", demo_fact_table)):
        speeds = {}
        for engine, run, rows in (
            ("snowfakery", generate_table, args.snowfakery_rows),
            ("columnar", generate_table_columnar, args.columnar_rows),
            ("columnar-pq", partial(generate_table_columnar, file_format="auto"), args.columnar_rows),
        ):
            speeds[engine] = rows_per_second(run, build(rows))
            print(f"{label:<34} {engine:<11} {rows:>8} {speeds[engine]:>10,.0f}", flush=True)
        for engine in ("columnar", "columnar-pq"):
            ratio = speeds[engine] / speeds["snowfakery"]
            print(f"{label:<34} {'ratio':<11} {'':>8} {ratio:>9.1f}x  ({engine} / snowfakery)")


if __name__ == "__main__":
    main()
