"""Fit the Gaussian copula that correlates the columns of one table, on the profile's sample.

Each column keeps its own profiled distribution (quantiles, category weights); what the
copula adds is the dependence between them (amount with fee, opened_on with closed_on,
segment with credit limit). It is fitted on the profile's sample the way SDV's
GaussianCopula is: every value becomes a normal score (numbers and dates by rank,
categories by the midpoint of their interval in the generator's cumulative weights), the
scores' correlation matrix is made positive definite and factored, ``C = L L^T``. Each
correlated column's plan carries its own row of ``L``; generation reproduces the
dependence from it (:mod:`bqsynth.generation.copula_draws`).

The leaves of a non-repeated RECORD take part like top-level columns, under their dotted
path (``details.fee``): they hold one value per row, so they draw from the row's latent
normals too. Leaves under a REPEATED record (or an array) do not: their values are per
element, and one row's elements cannot share one row of latent normals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bqsynth.models import Categorical, ColumnPlan, NumberFromQuantiles, RecordValue, TemporalFromQuantiles
from bqsynth.values import normal_score, temporal_to_seconds, value_at

# Correlations weaker than this are noise in a 200-row sample; such columns stay independent.
MIN_CORRELATION = 0.15
MAX_COPULA_COLUMNS = 24
MIN_PAIRED_ROWS = 20


def rank_scores(values: Sequence[float | None]) -> list[float | None]:
    """Normal scores of numbers by rank (ties share their mean rank); None stays None."""
    present = sorted((v, i) for i, v in enumerate(values) if v is not None)
    scores: list[float | None] = [None] * len(values)
    n, start = len(present), 0
    while start < n:
        end = start
        while end + 1 < n and present[end + 1][0] == present[start][0]:
            end += 1
        rank = (start + end) / 2
        for _, index in present[start : end + 1]:
            scores[index] = normal_score((rank + 0.5) / n)
        start = end + 1
    return scores


def category_scores(values: Sequence[Any], categories: Sequence[Any], weights: Sequence[float]) -> list[float | None]:
    """Normal score of the midpoint of each value's interval in the cumulative weights.

    The generator maps a uniform to a category through the same intervals, so the
    dependence fitted here is the one the draw reproduces. Unknown values (rare ones the
    plan suppressed) and nulls give None.
    """
    total = sum(max(float(w), 0.0) for w in weights) or 1.0
    midpoints: dict[str, float] = {}
    low = 0.0
    for category, weight in zip(categories, weights, strict=True):
        share = max(float(weight), 0.0) / total
        midpoints[repr(category)] = normal_score(low + share / 2)
        low += share
    return [None if v is None else midpoints.get(repr(v)) for v in values]


def correlation(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    """Pearson correlation over the rows where both are present (0 when too few)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if len(pairs) < MIN_PAIRED_ROWS:
        return 0.0
    xs, ys = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    if xs.std() == 0 or ys.std() == 0:
        return 0.0
    return float(np.corrcoef(xs, ys)[0, 1])


def factor(matrix: np.ndarray) -> np.ndarray:
    """``L`` with ``L L^T`` = the nearest correlation matrix (eigenvalues clipped, diagonal 1)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    clipped = vectors @ np.diag(np.clip(values, 1e-6, None)) @ vectors.T
    scale = np.sqrt(np.diag(clipped))
    return np.linalg.cholesky(clipped / np.outer(scale, scale))


def fit_copula(scores: Mapping[str, Sequence[float | None]]) -> dict[str, list[float]]:
    """Each correlated column's row of ``L``; columns correlated with no other are left out."""
    names = list(scores)
    size = len(names)
    matrix = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            matrix[i, j] = matrix[j, i] = correlation(scores[names[i]], scores[names[j]])
    strength = np.abs(matrix - np.eye(size)).max(axis=1) if size else np.array([])
    keep = [i for i in np.argsort(-strength, kind="stable") if strength[i] >= MIN_CORRELATION][:MAX_COPULA_COLUMNS]
    if len(keep) < 2:
        return {}
    keep = sorted(keep)
    lower = factor(matrix[np.ix_(keep, keep)])
    return {names[i]: [round(float(x), 6) for x in lower[row, : row + 1]] for row, i in enumerate(keep)}


def column_scores(generator: Any, values: Sequence[Any]) -> list[float | None] | None:
    """Normal scores of a column's sample values under its generator; None if it takes no part."""
    if isinstance(generator, Categorical) and not generator.unique:
        return category_scores(values, generator.values, generator.weights)
    if isinstance(generator, NumberFromQuantiles) and not generator.unique:
        numbers = [float(v) if isinstance(v, (int, float, str)) and _is_number(v) else None for v in values]
        return rank_scores(numbers)
    if isinstance(generator, TemporalFromQuantiles):
        return rank_scores([_seconds(v, generator.type) for v in values])
    return None


def per_row_leaves(columns: Sequence[ColumnPlan], prefix: str = "") -> dict[str, ColumnPlan]:
    """Leaves holding one value per row, by dotted path: top-level columns and the leaves of
    non-repeated records at any depth; nothing REPEATED, nor anything under it."""
    leaves: dict[str, ColumnPlan] = {}
    for column in columns:
        path = f"{prefix}{column.name}"
        if column.mode == "REPEATED":
            continue
        if isinstance(column.generator, RecordValue):
            leaves.update(per_row_leaves(column.generator.fields, f"{path}."))
        else:
            leaves[path] = column
    return leaves


def table_copula(columns: Sequence[ColumnPlan], sample: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """The copula rows, by dotted path, of a table's numeric, temporal and categorical per-row leaves."""
    rows = [row if isinstance(row, dict) else dict(row) for row in sample]
    scores: dict[str, list[float | None]] = {}
    for path, column in per_row_leaves(columns).items():
        # None where a record on the way is missing or NULL: that row then pairs with no other.
        found = column_scores(column.generator, [value_at(row, path) for row in rows])
        if found is not None:
            scores[path] = found
    return fit_copula(scores)


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _seconds(value: Any, temporal_type: str) -> float | None:
    try:
        return temporal_to_seconds(str(value), temporal_type) if value is not None else None
    except ValueError:
        return None
