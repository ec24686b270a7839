"""Values of the BigQuery types that are not plain numbers, strings or dates.

Pure functions of a plan generator and a ``random.Random``-like source, each returning
the value in the spelling a BigQuery NDJSON load takes: JSON as a Python object (written
as JSON), GEOGRAPHY as WKT, BYTES as base64, INTERVAL as ``Y-M D H:M:S``, RANGE as
``[start, end)`` and NUMERIC / BIGNUMERIC as decimal strings. The Snowfakery plugin calls
them; any other executor can call them the same way.
"""

from __future__ import annotations

import base64
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Protocol

from bqsynth.models import BytesValue, GeographyValue, IntervalValue, JsonNode, RangeValue
from bqsynth.values import interval_text, seconds_to_temporal, temporal_to_seconds


class Rng(Protocol):
    def random(self) -> float: ...

    def randint(self, a: int, b: int) -> int: ...


SYLLABLES = ("ka", "ri", "lo", "ven", "mar", "sel", "do", "tan", "bri", "el", "no", "qua", "zet", "ur", "fi")
# BigQuery's own limits of the decimal types: (most digits, most decimals).
DECIMAL_LIMITS = {"NUMERIC": (38, 9), "BIGNUMERIC": (76, 38)}
# A float keeps about 15 significant decimal digits; digits below are drawn, not left as zeros.
_FLOAT_DIGITS = 15


def _between(low: float, high: float, rng: Rng) -> float:
    return low + (high - low) * rng.random()


# --- JSON -------------------------------------------------------------------------------------


def invented_text(low: int, high: int, rng: Rng) -> str:
    """Pronounceable filler of ``low``..``high`` characters (never a source value)."""
    low, high = max(int(low), 0), max(int(high), int(low), 0)
    target = rng.randint(low, high)
    text = ""
    while len(text) < target:
        text += SYLLABLES[int(rng.random() * len(SYLLABLES))]
    return text[:target]


def json_value(shape: JsonNode, rng: Rng) -> Any:
    """A JSON value of ``shape``: the same keys (each present at its profiled rate) and kinds."""
    match shape.kind:
        case "object":
            return {
                key: json_value(node, rng)
                for key, node in shape.fields.items()
                if rng.random() < shape.presence.get(key, 1.0)
            }
        case "array":
            size = shape.lengths[int(rng.random() * len(shape.lengths))] if shape.lengths else 0
            return [json_value(shape.element, rng) for _ in range(size)] if shape.element else []
        case "integer":
            return rng.randint(int(shape.low), int(max(shape.high, shape.low)))
        case "number":
            return round(_between(shape.low, shape.high, rng), 6)
        case "string":
            if shape.values:
                return shape.values[int(rng.random() * len(shape.values))]
            return invented_text(int(shape.low), int(shape.high), rng)
        case "boolean":
            return rng.random() < shape.high
    return None


# --- GEOGRAPHY --------------------------------------------------------------------------------


def _point(generator: GeographyValue, rng: Rng) -> tuple[float, float]:
    return (
        round(_between(generator.min_longitude, generator.max_longitude, rng), 6),
        round(_between(generator.min_latitude, generator.max_latitude, rng), 6),
    )


def geography_value(generator: GeographyValue, rng: Rng) -> str:
    """WKT of the generator's shape kind, every vertex inside the bounds."""
    if generator.shape == "point":
        x, y = _point(generator, rng)
        return f"POINT({x} {y})"
    if generator.shape == "linestring":
        points = [_point(generator, rng) for _ in range(2)]
        return "LINESTRING(" + ", ".join(f"{x} {y}" for x, y in points) + ")"
    # A small axis-aligned box around a point, clipped to the bounds (a valid, closed ring).
    (x, y), (dx, dy) = _point(generator, rng), _box(generator)
    x1, y1 = max(x - dx, generator.min_longitude), max(y - dy, generator.min_latitude)
    x2, y2 = min(x + dx, generator.max_longitude), min(y + dy, generator.max_latitude)
    if x2 - x1 < 1e-6 or y2 - y1 < 1e-6:
        return f"POINT({x} {y})"
    ring = [(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)]
    return "POLYGON((" + ", ".join(f"{round(a, 6)} {round(b, 6)}" for a, b in ring) + "))"


def _box(generator: GeographyValue) -> tuple[float, float]:
    return (
        max((generator.max_longitude - generator.min_longitude) / 20, 1e-4),
        max((generator.max_latitude - generator.min_latitude) / 20, 1e-4),
    )


# --- BYTES ------------------------------------------------------------------------------------


def bytes_value(generator: BytesValue, rng: Rng) -> str:
    """Random bytes of ``min_length``..``max_length`` bytes, base64 as BigQuery's JSON loads expect."""
    size = rng.randint(generator.min_length, max(generator.max_length, generator.min_length))
    data = bytes(rng.randint(0, 255) for _ in range(size))
    return base64.b64encode(data).decode("ascii")


# --- INTERVAL and RANGE -----------------------------------------------------------------------


def interval_value(generator: IntervalValue, rng: Rng) -> str:
    """``Y-M D H:M:S`` with months, days and seconds each within the generator's ranges."""
    return interval_text(
        rng.randint(*sorted(generator.months)),
        rng.randint(*sorted(generator.days)),
        rng.randint(*sorted(generator.seconds)) * 1_000_000,
    )


def _unit(temporal_type: str) -> float:
    return 86400.0 if temporal_type == "DATE" else 1.0


def range_bounds(generator: RangeValue, rng: Rng) -> tuple[str, str]:
    """``(start, end)`` with start < end, the end never past ``high`` (ISO strings)."""
    unit = _unit(generator.type)
    starts = [temporal_to_seconds(s, generator.type) for s in generator.starts]
    high = temporal_to_seconds(generator.high, generator.type)
    start = _quantile(starts, rng.random())
    length = max(_quantile(generator.lengths, rng.random()), unit)
    end = min(start + length, high)
    start = min(start, end - unit)
    start, end = _floor(start, unit), _floor(end, unit)
    return seconds_to_temporal(start, generator.type), seconds_to_temporal(end, generator.type)


def _floor(seconds: float, unit: float) -> float:
    return (seconds // unit) * unit


def _quantile(quantiles: list[float], u: float) -> float:
    if len(quantiles) == 1:
        return quantiles[0]
    position = u * (len(quantiles) - 1)
    low = int(position)
    upper = quantiles[min(low + 1, len(quantiles) - 1)]
    return quantiles[low] + (upper - quantiles[low]) * (position - low)


def range_value(generator: RangeValue, rng: Rng) -> str:
    """BigQuery's RANGE text ``[start, end)``."""
    start, end = range_bounds(generator, rng)
    return f"[{start}, {end})"


# --- NUMERIC and BIGNUMERIC -------------------------------------------------------------------


def decimal_value(value: float, decimals: int, precision: int, low: float, high: float, rng: Rng) -> str:
    """``value`` as a decimal string of exactly ``decimals`` decimals and at most ``precision`` digits.

    Digits a float cannot hold (beyond ~15 significant ones) are drawn rather than left as
    zeros, so a BIGNUMERIC keeps its full scale; the result stays within ``low``..``high``
    and within what ``precision`` allows.
    """
    decimals = max(int(decimals), 0)
    with localcontext() as context:
        context.prec = 100
        step = Decimal(1).scaleb(-decimals)
        exact = Decimal(repr(float(value)))
        if exact != 0:
            below = Decimal(1).scaleb(exact.adjusted() - _FLOAT_DIGITS)
            if below > step:
                exact += below * Decimal(repr(rng.random()))
        limit = Decimal(1).scaleb(precision - decimals) - step
        lowest = max(Decimal(repr(float(low))).quantize(step, rounding="ROUND_CEILING"), -limit)
        highest = min(Decimal(repr(float(high))).quantize(step, rounding="ROUND_FLOOR"), limit)
        result = exact.quantize(step, rounding=ROUND_HALF_EVEN)
        if lowest <= highest:
            result = min(max(result, lowest), highest)
        else:
            result = min(max(result, -limit), limit)
        return f"{result:f}"
