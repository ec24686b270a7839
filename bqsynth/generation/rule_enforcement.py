"""Enforce a table's inter-column rules on generated rows (BigQuery JSON, after shaping).

Columns are generated independently, so relations between them (an end after its start,
a total equal to quantity times price, one state per city) only hold if something makes
them hold. Rules reach the plan only after passing on the source sample.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from bqsynth.generation.keys import stable_uniform
from bqsynth.generation.sampling import cumulative, weighted_choice
from bqsynth.models import NUMERIC_TYPES, Categorical, InterColumnRule, TablePlan, leaf_plans
from bqsynth.values import value_at

# What each compare operator means, for enforcement here and for checking a rule on the
# source sample before it reaches a plan (llm.rule_checks): one meaning for both.
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
}
_ARITHMETIC: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


def _set(row: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = row
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _comparable_json(value: Any, column_type: str) -> Any:
    """Numbers as Decimal (NUMERIC arrives as a string); dates and times compare as ISO text."""
    if column_type in NUMERIC_TYPES:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return str(value)


def _as_type(value: Decimal, column_type: str) -> Any:
    if column_type == "INT64":
        return int(value.to_integral_value())
    if column_type == "FLOAT64":
        return float(value)
    return format(value.normalize(), "f")


def in_dependency_order(rules: list[InterColumnRule]) -> list[InterColumnRule]:
    """The rules so that a rule computing a column comes before every rule reading it
    (``net_paid_inc_ship_tax = ext_tax + net_paid_inc_ship`` after ``net_paid_inc_ship = ...``);
    otherwise in the given order. Rules in a cycle keep their given order after the rest."""
    ordered: list[InterColumnRule] = []
    waiting = list(rules)
    while waiting:
        written_later = {r.target for r in waiting}
        ready = [r for r in waiting if not any(o in written_later - {r.target} for o in r.operands)]
        ordered += ready or waiting
        waiting = [r for r in waiting if r not in ready] if ready else []
    return ordered


class RuleEnforcer:
    """Applies one table's rules to rows; built once per table, called once per row."""

    def __init__(self, table: TablePlan, seed: int) -> None:
        self.table, self.seed = table, seed
        self.leaves = leaf_plans(table.columns)
        self.rules = in_dependency_order([rule for rule in table.rules if self._applicable(rule)])
        self._choices = {
            rule.target: (generator.values, cumulative(generator.weights))
            for rule in self.rules
            if rule.kind == "determines" and isinstance(generator := self.leaves[rule.target].generator, Categorical)
        }

    def _applicable(self, rule: InterColumnRule) -> bool:
        names = [rule.target, *rule.operands]
        if any(name not in self.leaves or self.leaves[name].mode == "REPEATED" for name in names):
            return False
        if rule.kind == "compare":
            return rule.op in COMPARISONS
        if rule.kind == "arithmetic":
            return rule.op in _ARITHMETIC and len(rule.operands) == 2 and self._type(rule.target) in NUMERIC_TYPES
        return isinstance(self.leaves[rule.target].generator, Categorical)

    def _type(self, path: str) -> str:
        return self.leaves[path].type

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        for rule in self.rules:
            match rule.kind:
                case "compare":
                    self._compare(row, rule)
                case "arithmetic":
                    self._arithmetic(row, rule)
                case "determines":
                    self._determines(row, rule)
        return row

    def _compare(self, row: dict[str, Any], rule: InterColumnRule) -> None:
        target, other = value_at(row, rule.target), value_at(row, rule.operands[0])
        if target is None or other is None:
            return
        left, right = (
            _comparable_json(target, self._type(rule.target)),
            _comparable_json(other, self._type(rule.operands[0])),
        )
        if left is None or right is None or COMPARISONS[str(rule.op)](left, right):
            return
        if rule.op == "=":
            _set(row, rule.target, other)
        elif self._type(rule.target) == self._type(rule.operands[0]):
            # Swapping keeps both columns' values (and so their distributions) in the table.
            _set(row, rule.target, other)
            _set(row, rule.operands[0], target)

    def _arithmetic(self, row: dict[str, Any], rule: InterColumnRule) -> None:
        values = [_comparable_json(value_at(row, name), self._type(name)) for name in rule.operands]
        if any(v is None or value_at(row, name) is None for v, name in zip(values, rule.operands, strict=True)):
            return
        result = _ARITHMETIC[str(rule.op)](values[0], values[1])
        _set(row, rule.target, _as_type(result, self._type(rule.target)))

    def _determines(self, row: dict[str, Any], rule: InterColumnRule) -> None:
        key = value_at(row, rule.operands[0])
        if key is None or value_at(row, rule.target) is None:
            return
        values, weights = self._choices[rule.target]
        draw = stable_uniform(self.seed, self.table.name, rule.target, "given", key)
        _set(row, rule.target, weighted_choice(values, weights, _Fixed(draw)))


class _Fixed:
    """A random source that returns one given draw: the choice depends only on the key."""

    def __init__(self, draw: float) -> None:
        self.draw = draw

    def random(self) -> float:
        return self.draw
