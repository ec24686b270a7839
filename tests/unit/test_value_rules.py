"""Rules read off the sample's values (issue 13, item 9), on TPC-DS rows nobody here wrote.

The TPC-DS specification defines its sales measures from each other (``ext_sales_price =
quantity * sales_price``, ``net_profit = net_paid - ext_wholesale_cost``); the offline engine
must find those relations in the values, pick which column to compute without breaking a sign
the source keeps, and the generated rows must satisfy every rule, chains included.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bqsynth.generation.columnar import generate_with_engine
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.rule_enforcement import in_dependency_order
from bqsynth.llm import with_offline_rules
from bqsynth.llm.columns import key_paths
from bqsynth.llm.value_rules import value_rules
from bqsynth.models import ColumnSchema, DatasetPlan, InterColumnRule, TablePlan, TableProfile, leaf_plans
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import column_stats, generated_rows

TPCDS = Path(__file__).resolve().parents[1] / "data" / "tpcds"


def tpcds_profile(table: str) -> TableProfile:
    rows = [json.loads(line) for line in (TPCDS / f"{table}.jsonl").read_text().splitlines()]
    # Keys and quantities are integers; prices and amounts NUMERIC (JSON strings).
    types = {name: "INT64" if any(isinstance(r[name], int) for r in rows) else "NUMERIC" for name in rows[0]}
    return TableProfile(
        table_id=f"p.tpcds.{table}",
        name=table,
        row_count=len(rows),
        columns=[ColumnSchema(name=name, type=kind) for name, kind in types.items()],
        stats={name: column_stats(name, kind, rows) for name, kind in types.items()},
        sample=rows,
    )


def offline_plan(profile: TableProfile, rows: int | None = None) -> DatasetPlan:
    counts = {profile.name: rows} if rows else {}
    options = PlanOptions(seed=3, target_project="p", target_dataset="t", record_counts=counts)
    plan = with_recipes(plan_dataset([profile], options))
    ruled, _ = with_offline_rules(plan, [profile], min_support=5)
    return ruled


def found(profile: TableProfile) -> set[str]:
    table = offline_plan(profile).tables[0]
    leaves = leaf_plans(table.columns)
    measures = [p for p in leaves if p not in key_paths(table)]
    return {rule.describe() for rule in value_rules(leaves, measures, profile.sample)}


def test_store_sales_measures_are_found_as_the_specification_defines_them() -> None:
    assert found(tpcds_profile("store_sales")) == {
        "ss_ext_sales_price = ss_quantity * ss_sales_price",
        "ss_ext_list_price = ss_quantity * ss_list_price",
        "ss_ext_wholesale_cost = ss_quantity * ss_wholesale_cost",
        "ss_net_paid_inc_tax = ss_ext_tax + ss_net_paid",
        "ss_net_profit = ss_net_paid - ss_ext_wholesale_cost",
    }  # ss_coupon_amt = ss_ext_discount_amt too, but fewer than 20 of these 60 rows have a coupon


def test_a_column_never_negative_is_not_computed_as_a_difference() -> None:
    """net_paid = ext_sales_price - coupon_amt holds, but two independent draws could make
    net_paid negative, which it never is: neither of its never-negative columns is computed."""
    rules = found(tpcds_profile("store_sales"))
    assert not any(r.startswith(("ss_net_paid =", "ss_coupon_amt = ss_ext_sales_price")) for r in rules)


def test_independent_columns_give_no_rule() -> None:
    """Every pair of 12 random measure columns, 200 rows: nothing holds by chance."""
    rng = np.random.default_rng(7)
    names = [f"m{i}" for i in range(12)]
    rows = [
        {n: round(float(v), 2) for n, v in zip(names, rng.gamma(2.0, 40.0, len(names)), strict=True)}
        | {"qty": int(rng.integers(1, 100))}
        for _ in range(200)
    ]
    profile = TableProfile(
        table_id="p.d.random",
        name="random",
        row_count=200,
        columns=[ColumnSchema(name=n, type="NUMERIC") for n in names] + [ColumnSchema(name="qty", type="INT64")],
        stats={n: column_stats(n, "NUMERIC", rows) for n in names} | {"qty": column_stats("qty", "INT64", rows)},
        sample=rows,
    )
    assert found(profile) == set()
    assert offline_plan(profile).tables[0].rules == []


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.mark.parametrize("engine", ["columnar", "snowfakery"])
def test_generated_catalog_sales_satisfy_every_rule_chains_included(engine: str, tmp_path: Path) -> None:
    """net_paid_inc_ship_tax = ext_tax + net_paid_inc_ship reads a computed column: order matters."""
    table: TablePlan = offline_plan(tpcds_profile("catalog_sales"), rows=300).tables[0]
    arithmetic = [r for r in table.rules if r.kind == "arithmetic"]
    assert "cs_net_paid_inc_ship" in {r.target for r in arithmetic}
    assert any("cs_net_paid_inc_ship" in r.operands for r in arithmetic)
    run = generate_with_engine(table, 3, tmp_path, engine=engine)
    rows = generated_rows(run.files)
    assert len(rows) == 300
    checked = 0
    for row in rows:
        for rule in arithmetic:
            if any(row.get(o) is None for o in rule.operands):
                continue  # the source has NULLs too: a rule holds where its operands have values
            left, right = (_number(row[o]) for o in rule.operands)
            value = left * right if rule.op == "*" else left + right if rule.op == "+" else left - right
            assert abs(_number(row[rule.target]) - value) <= Decimal("0.01"), (rule, row)
            checked += 1
    assert checked >= 0.8 * 300 * len(arithmetic)


def test_rules_run_after_the_rules_that_compute_their_operands() -> None:
    total = InterColumnRule(kind="arithmetic", target="total", operands=["net", "tax"], op="+")
    net = InterColumnRule(kind="arithmetic", target="net", operands=["gross", "discount"], op="-")
    gross = InterColumnRule(kind="arithmetic", target="gross", operands=["qty", "price"], op="*")
    end = InterColumnRule(kind="compare", target="ends", operands=["starts"], op=">=")
    assert in_dependency_order([total, end, net, gross]) == [end, gross, net, total]
    cycle = [
        InterColumnRule(kind="arithmetic", target="a", operands=["b", "c"], op="+"),
        InterColumnRule(kind="arithmetic", target="b", operands=["a", "c"], op="-"),
    ]
    assert in_dependency_order(cycle) == cycle


def test_an_offline_run_keeps_the_rules_the_sample_agrees_with_and_says_so() -> None:
    profile = tpcds_profile("store_sales")
    plan = with_recipes(plan_dataset([profile], PlanOptions(seed=3, target_project="p", target_dataset="t")))
    assert plan.tables[0].rules == []
    ruled, lines = with_offline_rules(plan, [profile], min_support=5)
    kept = {(r.target, tuple(r.operands), r.op) for r in ruled.tables[0].rules}
    assert ("ss_ext_sales_price", ("ss_quantity", "ss_sales_price"), "*") in kept
    assert len(lines) == len(ruled.tables[0].rules)
    assert all(line.startswith("store_sales: rule ") and "kept: holds on all" in line for line in lines)
    # A sample too small to test a rule keeps none of them, and says why.
    few = profile.model_copy(update={"sample": profile.sample[:3]})
    unruled, why = with_offline_rules(plan, [few], min_support=5)
    assert unruled.tables[0].rules == [] and all("sampled rows" in line or "dropped" in line for line in why)
