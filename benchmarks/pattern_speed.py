"""Rows per second of one unique pattern column, generated through the real Snowfakery.

Run: PYTHONPATH=. python benchmarks/pattern_speed.py [rows]
Three cases: a roomy shape with no exclusions; a shape of which the "source" uses a tenth
(``rows`` values of a million excluded), which makes the generator skip values; and a
16-character code the source uses entirely, widened by the planner's rule (before shapes were
widened, that one failed with "no unused value left").
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bqsynth.generation import keys
from bqsynth.generation.exclusions import value_digest
from bqsynth.generation.recipe import compile_recipe
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import ColumnPlan, ColumnSchema, PatternString, TablePlan
from bqsynth.shapes import fitted_pattern, pattern_space, shape_value

SEED = 7


def code_table(pattern: str, rows: int) -> TablePlan:
    table = TablePlan(
        name="Codes",
        source_table="p.d.Codes",
        target_table="p.d2.Codes",
        row_count=rows,
        schema=[ColumnSchema(name="code", type="STRING", mode="REQUIRED")],
        columns=[
            ColumnPlan(
                name="code",
                type="STRING",
                mode="REQUIRED",
                generator=PatternString(pattern=pattern, unique=True),
                identifying=True,
            )
        ],
    )
    return table.model_copy(update={"recipe": compile_recipe(table, SEED)})


def measure(pattern: str, rows: int, excluded: list[str], repeats: int = 3) -> str:
    """Best of ``repeats`` runs, as rows per wall second and per CPU second (the machine is shared)."""
    table = code_table(pattern, rows)
    wall, cpu = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            started, started_cpu = time.perf_counter(), time.process_time()
            _, written, _ = generate_table(table, SEED, Path(tmp), exclusions={"code": excluded} if excluded else None)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        assert written == rows
    return f"{rows / min(wall):,.0f} rows/s ({rows / min(cpu):,.0f} per CPU second)"


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    roomy = "AC-########"
    print(f"{roomy!r}, no exclusions: {measure(roomy, rows, [])}")
    # A source holding as many distinct values as we generate, in a space of twice that.
    dense = "AC-######"
    source = [value_digest(keys.pattern_value(dense, i, 99, "source", True)) for i in range(rows)]
    print(f"{dense!r}, {rows:,} source values excluded: {measure(dense, rows, source)}")
    # A 16-character code the source uses entirely (all 676 values): only works widened.
    code = "AAAAAAAA??AAAAAA"
    wide = fitted_pattern(code, rows + pattern_space(code))
    every = [value_digest(shape_value(code, n)) for n in range(pattern_space(code))]
    if wide is not None:
        print(f"{code!r} used entirely, widened to {wide!r}: {measure(wide, rows, every)}")


if __name__ == "__main__":
    main()
