"""Correlated draws across the columns of one table: a Gaussian copula over the planned marginals.

Each column keeps its own profiled distribution (quantiles, category weights); what the
copula adds is the dependence between them (amount with fee, opened_on with closed_on,
segment with credit limit). It is fitted on the profile's sample the way SDV's
GaussianCopula is: every value becomes a normal score (numbers and dates by rank,
categories by the midpoint of their interval in the generator's cumulative weights), the
scores' correlation matrix is made positive definite and factored, ``C = L L^T``.

Generation stays a pure function of ``(seed, table, row index)``, which is what lets
tables and shards be generated anywhere: row ``r`` has latent normals ``e_k`` derived
from ``(seed, table, r, k)``, shared by every column of the row, and column ``j`` uses the
uniform ``Phi(L[j] . e)`` where it would otherwise draw ``random()``. Each column only
carries its own row of ``L``, so the plan stays per column and Snowfakery evaluates
columns independently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

from bqsynth.generation.keys import stable_uniform
from bqsynth.generation.sampling import temporal_to_seconds
from bqsynth.models import Categorical, ColumnPlan, NumberFromQuantiles, TemporalFromQuantiles

# Correlations weaker than this are noise in a 200-row sample; such columns stay independent.
MIN_CORRELATION = 0.15
MAX_COPULA_COLUMNS = 24
MIN_PAIRED_ROWS = 20
_NORMAL = NormalDist()
_EDGE = 1e-9


def _inverse_normal(p: float) -> float:
    return _NORMAL.inv_cdf(min(max(p, _EDGE), 1 - _EDGE))


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
            scores[index] = _inverse_normal((rank + 0.5) / n)
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
        midpoints[repr(category)] = _inverse_normal(low + share / 2)
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


@lru_cache(maxsize=65536)
def _latent_normal(seed: int, table: str, row: int, k: int) -> float:
    # Every column of a row asks for the same normals: each is computed once per row, and
    # only as many as the longest factor row of the table uses.
    return _inverse_normal(stable_uniform(seed, table, "copula", row, k))


def latent_uniform(seed: int, table: str, row: int, lower_row: Sequence[float]) -> float:
    """The uniform a copula column uses in row ``row``: ``Phi(L[j] . e)``."""
    return _NORMAL.cdf(math.fsum(weight * _latent_normal(seed, table, row, k) for k, weight in enumerate(lower_row)))


def column_scores(generator: Any, values: Sequence[Any]) -> list[float | None] | None:
    """Normal scores of a column's sample values under its generator; None if it takes no part."""
    if isinstance(generator, Categorical):
        return category_scores(values, generator.values, generator.weights)
    if isinstance(generator, NumberFromQuantiles):
        numbers = [float(v) if isinstance(v, (int, float, str)) and _is_number(v) else None for v in values]
        return rank_scores(numbers)
    if isinstance(generator, TemporalFromQuantiles):
        return rank_scores([_seconds(v, generator.type) for v in values])
    return None


def table_copula(columns: Sequence[ColumnPlan], sample: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """The copula rows of a table's top-level numeric, temporal and categorical columns."""
    scores: dict[str, list[float | None]] = {}
    for column in columns:
        if column.mode == "REPEATED":
            continue
        found = column_scores(column.generator, [row.get(column.name) for row in sample])
        if found is not None:
            scores[column.name] = found
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


class FixedUniform:
    """A ``random()`` that returns one given uniform: lets the sampling functions take it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value
