"""Children per parent of the demo's references: the counted fan-out curve against the skew model.

    PYTHONPATH=. .venv/bin/python benchmarks/fan_out_fidelity.py

Plans the demo warehouse offline twice, without key checks (every reference gets the skew
fitted to its top values) and with exact checks over the source rows (each single-column
reference gets its counted children-per-parent curve, ``ForeignKeyRef.fan_out``), draws every
reference at the source's row count with ``keys.reference_value`` and prints, per reference,
SDMetrics' KSComplement of the children per parent (parents with none included) against the
source's, and the mean. No emulator needed: the checks run on the rows in memory.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from rich.console import Console
from rich.table import Table
from sdmetrics.single_column import KSComplement

from bqsynth.generation import keys
from bqsynth.models import DatasetPlan, ForeignKeyRef, leaf_plans
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.sources.key_checks import RowsKeyChecks
from demo import warehouse
from tests.factories import demo_profiles


def scores(plan: DatasetPlan, rows: dict[str, list[dict]]) -> dict[str, float]:
    """KSComplement of children per parent, source against drawn, per single-column reference."""
    found = {}
    for table in plan.tables:
        for path, column in leaf_plans(table.columns).items():
            ref = column.generator
            if not isinstance(ref, ForeignKeyRef) or ref.link or ref.draw or ref.parent_table == table.name:
                continue
            source = Counter(r[path] for r in rows[table.name] if r[path] is not None)
            real = [source.get(p[ref.parent_column], 0) for p in rows[ref.parent_table]]
            drawn = Counter(keys.reference_value(plan.seed, ref, table.name, path, i) for i in range(table.row_count))
            synthetic = [drawn.get(keys.sequence_key_value(ref.parent_key, i), 0) for i in range(ref.parent_rows)]
            found[f"{table.name}.{path} -> {ref.parent_table}"] = KSComplement.compute(
                pd.Series(real), pd.Series(synthetic)
            )
    return found


def main() -> None:
    rows = {t.name: t.rows for t in warehouse.build_demo_tables(seed=42)}
    profiles = demo_profiles()
    options = PlanOptions(target_project="tp", target_dataset="td")
    skew = scores(plan_dataset(profiles, options), rows)
    counted = scores(plan_dataset(profiles, options, RowsKeyChecks({p.table_id: rows[p.name] for p in profiles})), rows)
    table = Table(title="demo: children per parent, KSComplement against the source (1 = same shape)")
    for heading in ("reference", "skew model", "counted curve"):
        table.add_column(heading, justify="left" if heading == "reference" else "right")
    for name in skew:
        table.add_row(name, f"{skew[name]:.3f}", f"{counted[name]:.3f}")
    table.add_row("mean", f"{sum(skew.values()) / len(skew):.3f}", f"{sum(counted.values()) / len(counted):.3f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
