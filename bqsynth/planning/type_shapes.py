"""Generators for JSON, GEOGRAPHY, BYTES, INTERVAL and RANGE columns, learnt from a profile.

Pure functions of a column's statistics and its non-null sample values (as the profiler
stores them: JSON as parsed objects, GEOGRAPHY as WKT, BYTES as base64, INTERVAL and
RANGE as the client's text). Each returns None when the sample holds nothing to learn
from; the planner then says so for the column rather than emit NULLs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from bqsynth.models import (
    BytesValue,
    ColumnStats,
    GeographyValue,
    IntervalValue,
    JsonNode,
    JsonValue,
    RangeValue,
)
from bqsynth.values import temporal_to_seconds

# A JSON string value is kept only as one of a small vocabulary of often-seen values.
JSON_VOCABULARY_MAX = 10
QUANTILES = 10
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_COORDINATES = re.compile(rf"({_NUMBER})\s+({_NUMBER})")
_SHAPES = {"POINT": "point", "LINESTRING": "linestring", "POLYGON": "polygon"}

# Says whether a JSON key (its dotted path and its string values) is identifying.
IsIdentifying = Callable[[str, list[str]], bool]


# --- JSON -------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_shape(values: Sequence[Any], path: str, is_identifying: IsIdentifying, min_count: int) -> JsonNode:
    """The shape of the values at one place of a JSON document (most common kind wins)."""
    present = [v for v in values if v is not None]
    if not present:
        return JsonNode(kind="null")
    kinds = Counter(_kind(v) for v in present)
    kind = kinds.most_common(1)[0][0]
    if kinds.get("number") and kind == "integer":
        kind = "number"  # 1 and 1.5 under one key: a number
    same = [v for v in present if _kind(v) == kind or (kind == "number" and _kind(v) == "integer")]
    match kind:
        case "object":
            keys = list(dict.fromkeys(k for v in same for k in v))
            return JsonNode(
                kind="object",
                fields={
                    k: json_shape([v.get(k) for v in same if k in v], f"{path}.{k}", is_identifying, min_count)
                    for k in keys
                },
                presence={k: round(sum(k in v for v in same) / len(same), 6) for k in keys},
            )
        case "array":
            elements = [item for v in same for item in v]
            return JsonNode(
                kind="array",
                element=json_shape(elements, path, is_identifying, min_count) if elements else None,
                lengths=sorted({len(v) for v in same}),
            )
        case "integer" | "number":
            return JsonNode(kind=kind, low=float(min(same)), high=float(max(same)))
        case "string":
            return _string_node(same, path, is_identifying, min_count)
        case "boolean":
            return JsonNode(kind="boolean", high=round(sum(same) / len(same), 6))
    return JsonNode(kind=kind)  # type: ignore[arg-type]


def _string_node(values: list[str], path: str, is_identifying: IsIdentifying, min_count: int) -> JsonNode:
    lengths = [len(v) for v in values]
    node = JsonNode(kind="string", low=float(min(lengths)), high=float(max(lengths)))
    counts = Counter(values)
    vocabulary = len(counts) <= JSON_VOCABULARY_MAX and min(counts.values()) >= min_count
    if vocabulary and not is_identifying(path, values):
        node.values = sorted(counts)
    return node


def json_generator(values: Sequence[Any], path: str, is_identifying: IsIdentifying, min_count: int) -> JsonValue | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return JsonValue(shape=json_shape(present, path, is_identifying, min_count))


# --- GEOGRAPHY --------------------------------------------------------------------------------


def geography_generator(values: Sequence[Any]) -> GeographyValue | None:
    """Points (or the most common shape kind) within the bounds of every sampled vertex."""
    texts = [str(v).strip().upper() for v in values if v is not None]
    points = [(float(x), float(y)) for text in texts for x, y in _COORDINATES.findall(text)]
    if not points:
        return None
    kinds = Counter(_SHAPES.get(text.split("(", 1)[0].strip(), "point") for text in texts)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return GeographyValue(
        shape=kinds.most_common(1)[0][0],  # type: ignore[arg-type]
        min_longitude=max(min(xs), -180.0),
        max_longitude=min(max(xs), 180.0),
        min_latitude=max(min(ys), -90.0),
        max_latitude=min(max(ys), 90.0),
    )


# --- BYTES ------------------------------------------------------------------------------------


def _decoded_length(value: Any) -> int | None:
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return None


def bytes_generator(stats: ColumnStats | None, values: Sequence[Any], max_length: int | None) -> BytesValue | None:
    """The profiled byte lengths (statistics, else the sample), within the declared BYTES(L)."""
    low = stats.min_length if stats else None
    high = stats.max_length if stats else None
    if low is None or high is None:
        lengths = [n for n in (_decoded_length(v) for v in values if v is not None) if n is not None]
        if not lengths:
            return None
        low, high = min(lengths), max(lengths)
    if max_length is not None:
        low, high = min(low, max_length), min(high, max_length)
    return BytesValue(min_length=low, max_length=max(high, low))


# --- INTERVAL ---------------------------------------------------------------------------------

_INTERVAL = re.compile(r"^(-?)(\d+)-(\d+) (-?\d+) (-?)(\d+):(\d+):(\d+)(?:\.\d+)?$")


def interval_parts(text: str) -> tuple[int, int, int] | None:
    """(months, days, seconds) of BigQuery's canonical INTERVAL text ``Y-M D H:M:S``."""
    match = _INTERVAL.match(text.strip())
    if not match:
        return None
    sign, years, months, days, time_sign, hours, minutes, seconds = match.groups()
    total_months = (int(years) * 12 + int(months)) * (-1 if sign else 1)
    total_seconds = (int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * (-1 if time_sign else 1)
    return total_months, int(days), total_seconds


def interval_generator(values: Sequence[Any]) -> IntervalValue | None:
    parts = [p for p in (interval_parts(str(v)) for v in values if v is not None) if p is not None]
    if not parts:
        return None
    months, days, seconds = zip(*parts, strict=True)
    return IntervalValue(
        months=(min(months), max(months)), days=(min(days), max(days)), seconds=(min(seconds), max(seconds))
    )


# --- RANGE ------------------------------------------------------------------------------------


def range_parts(value: Any) -> tuple[str, str] | None:
    """(start, end) of a sampled RANGE: the client's dict, or ``[start, end)`` text; None if unbounded."""
    if isinstance(value, dict):
        start, end = value.get("start"), value.get("end")
    else:
        text = str(value).strip()
        if not (text.startswith("[") and text.endswith(")") and "," in text):
            return None
        start, end = (part.strip() for part in text[1:-1].split(",", 1))
    if start in (None, "", "UNBOUNDED", "NULL") or end in (None, "", "UNBOUNDED", "NULL"):
        return None
    return str(start), str(end)


def _quantiles(values: list[float], count: int = QUANTILES) -> list[float]:
    ordered = sorted(values)
    return [ordered[round(i * (len(ordered) - 1) / count)] for i in range(count + 1)]


def range_generator(values: Sequence[Any], element_type: str) -> RangeValue | None:
    """Starts and lengths from the sampled ranges; the end never after the latest sampled end."""
    if element_type not in ("DATE", "DATETIME", "TIMESTAMP"):
        return None
    bounds = [b for b in (range_parts(v) for v in values if v is not None) if b is not None]
    if not bounds:
        return None
    seconds = [(temporal_to_seconds(s, element_type), temporal_to_seconds(e, element_type)) for s, e in bounds]
    by_start = sorted(range(len(bounds)), key=lambda i: seconds[i][0])
    starts = [bounds[by_start[round(i * (len(bounds) - 1) / QUANTILES)]][0] for i in range(QUANTILES + 1)]
    lengths = _quantiles([max(end - start, 0.0) for start, end in seconds])
    latest = max(range(len(bounds)), key=lambda i: seconds[i][1])
    return RangeValue(type=element_type, starts=starts, lengths=lengths, high=bounds[latest][1])  # type: ignore[arg-type]
