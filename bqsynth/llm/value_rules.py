"""Arithmetic relations read off the source sample's values, for the offline engine.

Fact tables derive measures from others on every row, under names no word list covers:
TPC-DS's ``ss_ext_sales_price = ss_sales_price * ss_quantity``, ``ss_net_profit =
ss_net_paid - ss_ext_wholesale_cost``, ``ss_net_paid_inc_tax = ss_net_paid + ss_ext_tax``,
and columns that repeat another (``ss_ext_discount_amt = ss_coupon_amt``). So candidates
come from the values: a numeric column equal, on every sampled row, to another, or to the
sum or the product of two others. Like every rule, a candidate is then tested on the sample
(``rule_checks.check_rule_on_sample``) before it reaches a plan.

A relation among three columns can be written with any of them as the computed one; the
generator computes the target from independently drawn operands, so the choice matters:

* each column is computed by at most one rule, and no rule reads a column computed from its
  own target (no cycle);
* a computed column never takes a sign its source column never has: a column that is never
  negative is only computed as a sum or a product of columns that are never negative (a
  difference of two independent draws can go below zero);
* products first, then sums with the sum as the target, then differences, each in column
  order, so the result does not depend on anything but the sample.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bqsynth.llm.answers import ColumnRule
from bqsynth.models import NUMERIC_TYPES, ColumnPlan
from bqsynth.values import value_at

# Rows that must show a relation non-trivially (operands not 0, factors not 1, targets of
# some size): the search tries every pair of columns, so a handful of rows could agree by chance.
MIN_EVIDENCE_ROWS = 20
# Half a cent: NUMERIC money is rounded to cents, so a product may differ by that much.
_ABSOLUTE = 0.005
_RELATIVE = 1e-9


def _column_values(sample: Sequence[Mapping[str, Any]], paths: Sequence[str]) -> dict[str, np.ndarray]:
    """Each column's sampled values as floats (NaN where NULL or not a number)."""
    columns: dict[str, np.ndarray] = {}
    for path in paths:
        values = []
        for row in sample:
            value = value_at(row, path)
            try:
                values.append(float(value) if value is not None and not isinstance(value, bool) else np.nan)
            except (TypeError, ValueError):
                values.append(np.nan)
        columns[path] = np.array(values, dtype=float)
    return columns


def _holds(target: np.ndarray, computed: np.ndarray, informative: np.ndarray) -> bool:
    """Equal on every row where all values are known, and on enough informative rows."""
    known = ~(np.isnan(target) | np.isnan(computed))
    if int((known & informative).sum()) < MIN_EVIDENCE_ROWS:
        return False
    close = np.abs(target[known] - computed[known]) <= _ABSOLUTE + _RELATIVE * np.abs(computed[known])
    return bool(close.all())


def _never_negative(values: np.ndarray) -> bool:
    return bool(np.nanmin(values) >= 0) if not np.isnan(values).all() else True


class _Chosen:
    """Rules taken so far: which columns are computed, and from what (to refuse cycles)."""

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        self.columns = columns
        self.reads: dict[str, set[str]] = {}  # computed column -> every column it is computed from
        self.rules: list[ColumnRule] = []

    def _sources(self, path: str) -> set[str]:
        found: set[str] = set()
        for operand in self.reads.get(path, ()):
            found |= {operand} | self._sources(operand)
        return found

    def take(self, target: str, operands: tuple[str, ...], op: str | None, reason: str) -> bool:
        if target in self.reads or any(target in ({o} | self._sources(o)) for o in operands):
            return False
        if _never_negative(self.columns[target]) and (
            op == "-" or not all(_never_negative(self.columns[o]) for o in operands)
        ):
            return False
        self.reads[target] = set(operands)
        kind = "compare" if op is None else "arithmetic"
        self.rules.append(
            ColumnRule(kind=kind, target=target, operands=list(operands), op="=" if op is None else op, reason=reason)
        )
        return True


def value_rules(
    leaves: Mapping[str, ColumnPlan], candidates: Sequence[str], sample: Sequence[Mapping[str, Any]]
) -> list[ColumnRule]:
    """Equalities, products and sums that hold on every sampled row (see the module's rules)."""
    numeric = [p for p in candidates if leaves[p].type in NUMERIC_TYPES]
    columns = {p: v for p, v in _column_values(sample, numeric).items() if np.unique(v[~np.isnan(v)]).size > 1}
    paths = list(columns)
    sized = {p: np.abs(v) >= 1 for p, v in columns.items()}
    chosen = _Chosen(columns)
    for left, right in itertools.combinations(paths, 2):  # a column that repeats another
        if _holds(columns[right], columns[left], sized[left]):
            chosen.take(right, (left,), None, "equal on every sampled row")
    sums: list[tuple[str, str, str]] = []
    for first, second in itertools.combinations(paths, 2):
        a, b = columns[first], columns[second]
        factors = ~np.isin(a, (0, 1)) & ~np.isin(b, (0, 1))
        addends = (a != 0) & (b != 0)
        for target in paths:
            if target in (first, second):
                continue
            if _holds(columns[target], a * b, factors & sized[target]):
                chosen.take(target, (first, second), "*", "the product on every sampled row")
            elif _holds(columns[target], a + b, addends & sized[target]):
                sums.append((target, first, second))
    unwritten = [s for s in sums if not chosen.take(s[0], s[1:], "+", "the sum on every sampled row")]
    for total, first, second in unwritten:
        for target, other in ((first, second), (second, first)):
            if chosen.take(target, (total, other), "-", "the difference on every sampled row"):
                break
    return chosen.rules
