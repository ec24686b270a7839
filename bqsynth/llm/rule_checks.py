"""Inter-column rules: check that a rule is well formed, then test it on the source sample.

A rule (``answers.ColumnRule``) is a claim about the source: ``expires_on >= issued_on``,
``total = quantity * unit_price``, ``city determines state``. Claims from a model are
checked twice: :func:`rule_problems` (columns exist, types fit the operator) gives errors
worth a repair; :func:`check_rule_on_sample` evaluates the rule on the sampled rows and says whether
to keep it. A rule is kept only if no sampled row violates it and enough rows support it.
Reasons never quote sample values (the report must not leak identifying data).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bqsynth.generation.rule_enforcement import COMPARISONS
from bqsynth.llm.answers import ARITHMETIC_OPS, COMPARE_OPS, ColumnRule
from bqsynth.models import NUMERIC_TYPES, TEMPORAL_TYPES, ColumnPlan, TableProfile
from bqsynth.values import value_at

# Absolute slack for arithmetic rules (NUMERIC money rounded to cents), plus a relative one
# for FLOAT64 products.
ABS_TOLERANCE = Decimal("0.01")
REL_TOLERANCE = Decimal("1e-9")


def rule_problems(rule: ColumnRule, leaves: dict[str, ColumnPlan], repeated: set[str]) -> list[str]:
    """Why a rule cannot even be evaluated (unknown columns, wrong arity or types): repairable."""
    label = f"rule {rule.describe()!r}"
    names = [rule.target, *rule.operands]
    missing = [n for n in names if n not in leaves]
    if missing:
        return [f"{label}: no column {missing[0]!r} in this table"]
    if len(set(names)) != len(names):
        return [f"{label}: a rule relates different columns"]
    if any(n in repeated for n in names):
        return [f"{label}: REPEATED columns cannot take part in rules"]
    types = [leaves[n].type for n in names]
    match rule.kind:
        case "compare":
            if len(rule.operands) != 1 or rule.op not in COMPARE_OPS:
                return [f"{label}: compare needs one operand and an op among {COMPARE_OPS}"]
            both_numeric = all(t in NUMERIC_TYPES for t in types)
            both_temporal = all(t in TEMPORAL_TYPES - {"TIME"} for t in types) or all(t == "TIME" for t in types)
            if not (both_numeric or both_temporal or (rule.op == "=" and types[0] == types[1])):
                return [f"{label}: compares {types[0]} with {types[1]}"]
        case "arithmetic":
            if len(rule.operands) != 2 or rule.op not in ARITHMETIC_OPS:
                return [f"{label}: arithmetic needs two operands and an op among {ARITHMETIC_OPS}"]
            if not all(t in NUMERIC_TYPES for t in types):
                return [f"{label}: arithmetic needs numeric columns, got {types}"]
        case "determines":
            if len(rule.operands) != 1 or rule.op is not None:
                return [f"{label}: determines takes one operand and no op"]
            if "FLOAT64" in types:
                return [f"{label}: FLOAT64 columns cannot determine or be determined"]
    return []


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _moment(value: Any) -> Any:
    """Dates, datetimes and timestamps on one comparable scale (naive UTC); times as times."""
    if isinstance(value, (dt.date, dt.time)):
        parsed: Any = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        parsed = None
        for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat, dt.time.fromisoformat):
            try:
                parsed = parse(text)
                break
            except ValueError:
                continue
        if parsed is None:
            return None
    if isinstance(parsed, dt.datetime):
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return parsed
    if isinstance(parsed, dt.date):
        return dt.datetime.combine(parsed, dt.time())
    return parsed


def _comparable_sample(value: Any, column_type: str) -> Any:
    if value is None:
        return None
    if column_type in NUMERIC_TYPES:
        return _number(value)
    if column_type in TEMPORAL_TYPES:
        return _moment(value)
    return value


def _arithmetic_holds(target: Decimal, left: Decimal, right: Decimal, op: str) -> bool:
    value = left + right if op == "+" else left - right if op == "-" else left * right
    return abs(target - value) <= ABS_TOLERANCE + REL_TOLERANCE * abs(value)


def check_rule_on_sample(
    rule: ColumnRule, profile: TableProfile, leaves: dict[str, ColumnPlan], min_support: int
) -> tuple[bool, str]:
    """Keep the rule? Evaluated on every sampled row where all its columns have a value."""
    names = [rule.target, *rule.operands]
    types = {n: leaves[n].type for n in names}
    rows = []
    for row in profile.sample:
        values = {n: _comparable_sample(value_at(row, n), types[n]) for n in names}
        if all(v is not None for v in values.values()):
            rows.append(values)
    violations = support = 0
    if rule.kind == "determines":
        seen: dict[Any, set[Any]] = {}
        for values in rows:
            seen.setdefault(values[rule.operands[0]], set()).add(values[rule.target])
        # Evidence only comes from determinant values seen more than once.
        support = len(rows) - len(seen)
        violations = sum(1 for targets in seen.values() if len(targets) > 1)
    else:
        for values in rows:
            try:
                if rule.kind == "compare":
                    holds = COMPARISONS[rule.op or "="](values[rule.target], values[rule.operands[0]])
                else:
                    holds = _arithmetic_holds(
                        values[rule.target], values[rule.operands[0]], values[rule.operands[1]], rule.op or "+"
                    )
            except TypeError:  # mixed kinds (a time and a date) cannot be compared
                holds = False
            support += 1
            violations += 0 if holds else 1
    if violations:
        unit = "determinant values map to several targets" if rule.kind == "determines" else "sampled rows violate it"
        return False, f"dropped: {violations} {unit} (of {len(rows)} rows with values)"
    if support < min_support:
        return False, f"dropped: only {support} sampled rows can test it (need {min_support})"
    return True, f"kept: holds on all {len(rows)} sampled rows with values"
