"""Draw values from profiled distributions: the numeric core of the generator vocabulary.

Pure functions of a ``random.Random``-like source, so Snowfakery (through the plugin)
and any later executor draw the same way.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Protocol

from bqsynth.values import seconds_to_temporal


class RandomSource(Protocol):
    def random(self) -> float: ...


def from_quantiles(quantiles: Sequence[float], rng: RandomSource) -> float:
    """Inverse-CDF sampling, linear between equally spaced quantiles (q0 = min, qn = max)."""
    if not quantiles:
        raise ValueError("no quantiles to sample from")
    if len(quantiles) == 1:
        return float(quantiles[0])
    position = rng.random() * (len(quantiles) - 1)
    low = int(position)
    fraction = position - low
    a, b = float(quantiles[low]), float(quantiles[min(low + 1, len(quantiles) - 1)])
    return a + (b - a) * fraction


def round_number(value: float, integer: bool, decimals: int | None) -> int | float:
    if integer:
        return int(round(value))
    if decimals is not None:
        return round(value, decimals)
    return value


def weighted_choice(values: Sequence[object], cumulative_weights: Sequence[float], rng: RandomSource) -> object:
    """Pick by precomputed cumulative weights (bisect: O(log n) per draw)."""
    point = rng.random() * cumulative_weights[-1]
    return values[min(bisect.bisect_right(cumulative_weights, point), len(values) - 1)]


def cumulative(weights: Sequence[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += max(float(weight), 0.0)
        out.append(total)
    if total <= 0:
        raise ValueError("categorical weights must not all be zero")
    return out


def temporal_from_quantiles(quantiles_seconds: Sequence[float], temporal_type: str, rng: RandomSource) -> str:
    return seconds_to_temporal(from_quantiles(quantiles_seconds, rng), temporal_type)
