"""Inter-column rules: well-formedness, and the sample decides which are kept."""

from __future__ import annotations

from typing import Any

import pytest

from bqsynth.llm.answers import ColumnRule
from bqsynth.llm.rule_checks import check_rule_on_sample, rule_problems
from bqsynth.models import ColumnPlan, ColumnSchema, NullValue, TableProfile

TYPES = {
    "start_date": "DATE",
    "end_date": "DATE",
    "created_at": "TIMESTAMP",
    "quantity": "INT64",
    "unit_price": "NUMERIC",
    "total": "NUMERIC",
    "city": "STRING",
    "state": "STRING",
    "ratio": "FLOAT64",
    "at": "TIME",
}
LEAVES = {name: ColumnPlan(name=name, type=t, generator=NullValue()) for name, t in TYPES.items()}


def _rows(n: int = 10, **override: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        row = {
            "start_date": f"2024-01-{i + 1:02d}",
            "end_date": f"2024-02-{i + 1:02d}",
            "created_at": f"2023-12-{i + 1:02d} 10:00:00+00:00",
            "quantity": i + 1,
            "unit_price": "2.50",
            "total": f"{(i + 1) * 2.5:.2f}",
            "city": ["Denver", "Austin"][i % 2],
            "state": ["CO", "TX"][i % 2],
            "ratio": 0.5,
            "at": "10:00:00",
        }
        rows.append({**row, **override})
    return rows


def _profile(rows: list[dict[str, Any]]) -> TableProfile:
    return TableProfile(
        table_id="p.d.T",
        name="T",
        row_count=len(rows),
        columns=[ColumnSchema(name=n, type=t) for n, t in TYPES.items()],
        sample=rows,
    )


def _rule(kind: str, target: str, *operands: str, op: str | None = None) -> ColumnRule:
    return ColumnRule(kind=kind, target=target, operands=list(operands), op=op)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rule",
    [
        _rule("compare", "end_date", "start_date", op=">="),
        _rule("compare", "end_date", "created_at", op=">"),  # DATE against TIMESTAMP: one time scale
        _rule("arithmetic", "total", "quantity", "unit_price", op="*"),
        _rule("determines", "state", "city"),
    ],
)
def test_true_rules_are_kept(rule: ColumnRule) -> None:
    assert rule_problems(rule, LEAVES, set()) == []
    kept, why = check_rule_on_sample(rule, _profile(_rows()), LEAVES, min_support=5)
    assert kept, why
    assert rule.describe() in {"end_date >= start_date", "end_date > created_at", "total = quantity * unit_price",
                               "city determines state"}  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "rows"),
    [
        (_rule("compare", "start_date", "end_date", op=">="), _rows()),
        (_rule("arithmetic", "total", "quantity", "unit_price", op="+"), _rows()),
        (_rule("determines", "state", "city"), _rows() + [{**_rows(1)[0], "state": "XX"}]),
        (_rule("compare", "end_date", "start_date", op=">="), _rows() + [{**_rows(1)[0], "end_date": "2023-01-01"}]),
    ],
)
def test_rules_the_sample_violates_are_dropped_without_quoting_values(rule: ColumnRule, rows: list) -> None:
    kept, why = check_rule_on_sample(rule, _profile(rows), LEAVES, min_support=5)
    assert not kept and why.startswith("dropped:")
    assert not any(v in why for v in ("2023-01-01", "XX", "Denver", "CO"))


def test_rules_need_enough_rows_with_values() -> None:
    rule = _rule("compare", "end_date", "start_date", op=">=")
    rows = _rows(3) + _rows(20, end_date=None)
    kept, why = check_rule_on_sample(rule, _profile(rows), LEAVES, min_support=5)
    assert not kept and "only 3" in why
    # A determinant that never repeats shows nothing.
    unique_cities = [{**row, "city": f"City {i}"} for i, row in enumerate(_rows(10))]
    kept, why = check_rule_on_sample(_rule("determines", "state", "city"), _profile(unique_cities), LEAVES, 5)
    assert not kept and "only 0" in why


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (_rule("compare", "end_date", "valid_to", op=">="), "no column 'valid_to'"),
        (_rule("compare", "end_date", "end_date", op=">="), "different columns"),
        (_rule("compare", "end_date", "city", op=">="), "compares DATE with STRING"),
        (_rule("compare", "end_date", "start_date", op="*"), "op among"),
        (_rule("compare", "at", "created_at", op="<"), "compares TIME"),
        (_rule("arithmetic", "total", "quantity", op="*"), "two operands"),
        (_rule("arithmetic", "city", "quantity", "unit_price", op="*"), "numeric"),
        (_rule("determines", "state", "city", op="="), "no op"),
        (_rule("determines", "state", "ratio"), "FLOAT64"),
    ],
)
def test_malformed_rules_are_errors_worth_a_repair(rule: ColumnRule, expected: str) -> None:
    problems = rule_problems(rule, LEAVES, set())
    assert problems and expected in problems[0]


def test_repeated_columns_take_no_part_in_rules() -> None:
    assert "REPEATED" in rule_problems(_rule("determines", "state", "city"), LEAVES, {"city"})[0]
