"""Correlated draws across the columns of one table, from the copula fitted at planning.

Generation stays a pure function of ``(seed, table, row index)``, which is what lets
tables and shards be generated anywhere: row ``r`` has latent normals ``e_k`` derived
from ``(seed, table, r, k)``, shared by every column of the row, and column ``j`` uses the
uniform ``Phi(L[j] . e)`` where it would otherwise draw ``random()``, ``L[j]`` being its
row of the copula's factor (:mod:`bqsynth.planning.copula_fit`). Each column only carries
its own row of ``L``, so the plan stays per column and Snowfakery evaluates columns
independently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from bqsynth.generation.keys import stable_uniform
from bqsynth.values import normal_cdf, normal_score


@lru_cache(maxsize=65536)
def _latent_normal(seed: int, table: str, row: int, k: int) -> float:
    # Every column of a row asks for the same normals: each is computed once per row, and
    # only as many as the longest factor row of the table uses.
    return normal_score(stable_uniform(seed, table, "copula", row, k))


def latent_uniform(seed: int, table: str, row: int, lower_row: Sequence[float]) -> float:
    """The uniform a copula column uses in row ``row``: ``Phi(L[j] . e)``."""
    return normal_cdf(math.fsum(weight * _latent_normal(seed, table, row, k) for k, weight in enumerate(lower_row)))


class FixedUniform:
    """A ``random()`` that returns one given uniform: lets the sampling functions take it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value
