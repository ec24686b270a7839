"""Inter-column rules enforced on generated rows."""

from pathlib import Path

from bqsynth.generation.recipe import compile_recipe
from bqsynth.generation.rule_enforcement import RuleEnforcer
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    Categorical,
    ColumnPlan,
    ColumnSchema,
    InterColumnRule,
    NumberFromQuantiles,
    TablePlan,
    TemporalFromQuantiles,
)

SCHEMA = {
    "issued_on": "DATE",
    "expires_on": "DATE",
    "quantity": "INT64",
    "unit_price": "NUMERIC",
    "total": "NUMERIC",
    "city": "STRING",
    "state": "STRING",
}


def table(*rules: InterColumnRule, rows: int = 400) -> TablePlan:
    dates = TemporalFromQuantiles(type="DATE", quantiles=["2020-01-01", "2025-12-31"])
    generators = {
        "issued_on": dates,
        "expires_on": dates,
        "quantity": NumberFromQuantiles(quantiles=[1, 10], integer=True),
        "unit_price": NumberFromQuantiles(quantiles=[1, 100], decimals=2),
        "total": NumberFromQuantiles(quantiles=[1, 1000], decimals=2),
        "city": Categorical(values=[f"City {i}" for i in range(30)], weights=[1.0] * 30),
        "state": Categorical(values=["CA", "NY", "TX"], weights=[5, 3, 2]),
    }
    plan = TablePlan(
        name="Card",
        source_table="p.s.Card",
        target_table="p.t.Card",
        row_count=rows,
        columns=[ColumnPlan(name=n, type=SCHEMA[n], generator=g) for n, g in generators.items()],
        schema=[ColumnSchema(name=n, type=t) for n, t in SCHEMA.items()],
        rules=list(rules),
    )
    plan.recipe = compile_recipe(plan, seed=1)
    return plan


def rows_of(plan: TablePlan, tmp_path: Path) -> list[dict]:
    import json

    files, _, _ = generate_table(plan, 1, tmp_path)
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_without_rules_the_columns_are_independent(tmp_path: Path) -> None:
    rows = rows_of(table(), tmp_path)
    assert any(r["expires_on"] < r["issued_on"] for r in rows)


def test_compare_rules_hold_on_every_row_and_keep_both_columns_values(tmp_path: Path) -> None:
    plain = rows_of(table(), tmp_path / "plain")
    ruled = rows_of(
        table(InterColumnRule(kind="compare", target="expires_on", operands=["issued_on"], op=">=")), tmp_path / "ruled"
    )
    assert all(r["expires_on"] >= r["issued_on"] for r in ruled)
    assert sorted(r["issued_on"] for r in plain) + sorted(r["expires_on"] for r in plain) != []
    assert sorted([r["issued_on"] for r in ruled] + [r["expires_on"] for r in ruled]) == sorted(
        [r["issued_on"] for r in plain] + [r["expires_on"] for r in plain]
    )  # values swapped, not invented


def test_arithmetic_rules_compute_the_target(tmp_path: Path) -> None:
    from decimal import Decimal

    rows = rows_of(
        table(InterColumnRule(kind="arithmetic", target="total", operands=["quantity", "unit_price"], op="*")), tmp_path
    )
    assert all(Decimal(r["total"]) == r["quantity"] * Decimal(r["unit_price"]) for r in rows)


def test_determines_rules_give_each_key_one_value(tmp_path: Path) -> None:
    rows = rows_of(table(InterColumnRule(kind="determines", target="state", operands=["city"])), tmp_path)
    states: dict[str, set[str]] = {}
    for row in rows:
        states.setdefault(row["city"], set()).add(row["state"])
    assert all(len(values) == 1 for values in states.values())
    assert {v for values in states.values() for v in values} <= {"CA", "NY", "TX"}


def test_rules_on_unknown_or_unsuitable_columns_are_ignored() -> None:
    enforcer = RuleEnforcer(
        table(
            InterColumnRule(kind="arithmetic", target="city", operands=["quantity", "total"], op="*"),
            InterColumnRule(kind="compare", target="nowhere", operands=["issued_on"], op=">"),
        ),
        seed=1,
    )
    assert enforcer.rules == []
    row = {"city": "x", "quantity": 2, "total": "3"}
    assert enforcer(dict(row)) == row
