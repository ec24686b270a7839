"""Pure conversions of values that several stages share, so that none imports another's for them.

Rows travel in BigQuery's JSON form (nested dicts, ISO date and time strings): planning
fits distributions on profile samples in that form, generation draws values back into it
and enforces rules on it, advice checks rules on samples and evaluation reads targets, so
all of them read and convert values here, the same way.
"""

from __future__ import annotations

import datetime as dt
from statistics import NormalDist
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DAY_SECONDS = 86400
_NORMAL = NormalDist()
# Uniforms are clipped this far from 0 and 1, where the normal quantile is infinite.
_EDGE = 1e-9


def value_at(row: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a JSON row (None when any part is missing)."""
    node: Any = row
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def temporal_to_seconds(value: str, temporal_type: str) -> float:
    """Seconds since the epoch (or since midnight for TIME) of an ISO value."""
    if temporal_type == "TIME":
        t = dt.time.fromisoformat(value)
        return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6
    if temporal_type == "DATE":
        parsed = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time(), tzinfo=dt.UTC)
    else:
        # " UTC" is how BigQuery (and ``seconds_to_temporal``) spell a TIMESTAMP's zone.
        text = value.strip()
        parsed = dt.datetime.fromisoformat(text.removesuffix(" UTC").replace(" ", "T").replace("Z", "+00:00"))
        if text.endswith(" UTC"):
            parsed = parsed.replace(tzinfo=dt.UTC)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
    return (parsed - _EPOCH).total_seconds()


def seconds_to_temporal(seconds: float, temporal_type: str) -> str:
    """The BigQuery JSON spelling of a DATE / DATETIME / TIMESTAMP / TIME."""
    if temporal_type == "TIME":
        whole = int(seconds) % 86400
        return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    moment = _EPOCH + dt.timedelta(seconds=int(seconds))
    if temporal_type == "DATE":
        return moment.date().isoformat()
    if temporal_type == "DATETIME":
        return moment.replace(tzinfo=None).isoformat(sep=" ")
    return moment.isoformat(sep=" ").replace("+00:00", " UTC")


def normal_score(p: float) -> float:
    """The standard normal quantile of a uniform ``p`` (clipped off 0 and 1)."""
    return _NORMAL.inv_cdf(min(max(p, _EDGE), 1 - _EDGE))


def normal_cdf(x: float) -> float:
    return _NORMAL.cdf(x)


def interval_text(months: int, days: int, micros: int) -> str:
    """BigQuery's canonical INTERVAL text ``Y-M D H:M:S[.F]`` of its three parts (signs on each part)."""
    sign, time_sign = ("-" if months < 0 else ""), ("-" if micros < 0 else "")
    years, month = divmod(abs(months), 12)
    whole, fraction = divmod(abs(micros), 1_000_000)
    hours, rest = divmod(whole, 3600)
    text = f"{sign}{years}-{month} {days} {time_sign}{hours}:{rest // 60}:{rest % 60}"
    return f"{text}.{fraction:06d}".rstrip("0") if fraction else text
