"""Column statistics of a file source computed in one pass, in memory that does not grow with the file.

The statistics have the meaning of ``bqsynth.sources.bigquery_profile`` (see
``bqsynth.sources.file_profile`` for the list). Each column counts its values exactly in a
``Counter`` while it has at most ``StreamLimits.exact_values`` distinct values: every
statistic is then exact, as if the whole column were sorted in memory. A column with more
distinct values (keys, amounts, timestamps of a large file) keeps its statistics in bounded
memory the way BigQuery's own ``APPROX_*`` functions do:

* the counter is pruned to its most frequent half whenever it outgrows the bound (the
  Misra-Gries idea behind ``APPROX_TOP_COUNT``): frequent values stay, their counts may be
  slightly low;
* what a pruned entry contributes to ``min``/``max``, string lengths, ``max_scale`` and the
  row and null counts is folded in before it is dropped, so those stay exact;
* ``distinct_count`` comes from a K-minimum-values sketch of 64-bit hashes (relative error
  about ``1/sqrt(k)``: 1.6% for the default k = 4096), fed with every value the counter ever
  held (``APPROX_COUNT_DISTINCT`` is HyperLogLog++, of the same accuracy);
* ``quantiles`` come from a uniform reservoir sample of the column's non-null values (Vitter's
  algorithm L, seeded, so a profile is reproducible), with the exact minimum and maximum at
  the ends (``APPROX_QUANTILES`` is approximate in the same way).

Everything here is pure and deterministic: no I/O, random numbers from a seeded generator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from operator import itemgetter
from typing import Any, Generic, TypeVar

import numpy as np

from bqsynth.models import ColumnStats, Scalar, ValueCount
from bqsynth.sources.bigquery_profile import (
    DISTINCT_TYPES,
    LENGTH_TYPES,
    MIN_MAX_TYPES,
    QUANTILE_TYPES,
    SCALE_LIMITS,
    TOP_VALUE_TYPES,
)

T = TypeVar("T")

_MIN_WINDOW = 4096  # values ColumnAccumulator.add_many looks at least at once for the next overflow


@dataclass(frozen=True)
class StreamLimits:
    """The memory bounds of profiling a file, none of which depends on the file's size.

    Peak memory is about 35 times ``sniff_bytes`` while the head's format is detected (parsed
    records are that much larger than their text), then ``download_bytes`` plus 35 times
    ``block_chars`` (``chunk_bytes`` when it is 0) plus, per column, ``exact_values`` counted
    values (at most ``exact_chars`` characters of them) and ``quantile_sample`` sampled ones, and the longest
    record (``bqsynth.sources.delimited.MAX_RECORD_CHARS`` at most).
    """

    sniff_bytes: int = 512 * 1024  # the head a file's format is detected from
    chunk_bytes: int = 64 * 1024  # decoded at a time
    # Plain records (bqsynth.sources.record_blocks) are split and counted this many characters at
    # a time, a column at a time; 0 reads every record one by one (the exact reader alone).
    block_chars: int = 256 * 1024
    download_bytes: int = 8 * 1024**2  # fetched from Cloud Storage per request
    exact_values: int = 20_000  # distinct values per column counted exactly
    exact_chars: int = 4 * 1024**2  # and the characters those values may hold together
    quantile_sample: int = 10_000  # values per column the quantiles of a larger column come from
    distinct_sketch: int = 4_096  # k of the K-minimum-values distinct count
    seed: int = 0


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


class Reservoir(Generic[T]):
    """A uniform random sample of ``size`` items of a stream, with their positions (algorithm L).

    Li's algorithm L draws how many items to skip, so most items cost one comparison; seeded,
    the same stream always gives the same sample.
    """

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.seen = 0
        self.items: list[tuple[int, T]] = []
        self._rng = rng
        self._weight = 1.0
        self.next_index = 0

    def offer(self, item: T) -> None:
        index = self.seen
        self.seen = index + 1
        if index != self.next_index:  # skipped: the common case
            return
        if index < self.size:
            self.items.append((index, item))
            if index + 1 < self.size:
                self.next_index = index + 1
            else:
                self._advance(index)
        else:
            self.items[self._rng.randrange(self.size)] = (index, item)
            self._advance(index)

    def offer_many(self, count: int, item_at: Callable[[int], T]) -> None:
        """``offer`` the next ``count`` items, ``item_at(i)`` being the i-th: only the sampled ones are
        built, and the sample is the one offering them one by one gives."""
        start, stop = self.seen, self.seen + count
        while self.next_index < stop:
            self.seen = self.next_index
            self.offer(item_at(self.next_index - start))
        self.seen = stop

    def _advance(self, index: int) -> None:
        self._weight *= math.exp(math.log(self._uniform()) / self.size)
        # The weight underflows towards 0 only after astronomically many items; 1.0 would stop sampling.
        weight = min(self._weight, 1.0 - 1e-16)
        self.next_index = index + int(math.log(self._uniform()) / math.log1p(-weight)) + 1

    def _uniform(self) -> float:
        value = self._rng.random()
        while value == 0.0:
            value = self._rng.random()
        return value

    def in_order(self) -> list[T]:
        """The sampled items in stream order."""
        return [item for _, item in sorted(self.items, key=lambda pair: pair[0])]


def reservoir_sample(items: Iterable[T], size: int, seed: int | str = 0) -> list[T]:
    """A uniform sample of ``size`` items (all when fewer), in their order, reproducible by ``seed``."""
    reservoir: Reservoir[T] = Reservoir(size, random.Random(seed))
    if size <= 0:
        return []
    for item in items:
        reservoir.offer(item)
    return reservoir.in_order()


class DistinctSketch:
    """K minimum values: the ``k`` smallest 64-bit hashes of the values seen estimate their number."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._heap: list[int] = []  # negated: the largest kept hash on top
        self._kept: set[int] = set()

    def add(self, text: str) -> None:
        self._add_digest(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big"))

    def add_many(self, texts: Iterable[str]) -> None:
        """``add`` each text; the sketch is the same (the k smallest hashes do not depend on order)."""
        digests = np.frombuffer(
            b"".join(hashlib.blake2b(text.encode(), digest_size=8).digest() for text in texts), dtype=">u8"
        )
        if len(self._heap) >= self.k:
            # Only a hash below the largest kept one can enter; the bound only falls as hashes enter.
            digests = digests[digests < -self._heap[0]]
        for digest in digests.tolist():
            self._add_digest(digest)

    def _add_digest(self, digest: int) -> None:
        if digest in self._kept:
            return
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, -digest)
            self._kept.add(digest)
        elif digest < -self._heap[0]:
            self._kept.discard(-heapq.heapreplace(self._heap, -digest))
            self._kept.add(digest)

    def estimate(self) -> int:
        if len(self._heap) < self.k:
            return len(self._heap)  # every distinct value is still kept: exact
        return round((self.k - 1) * 2**64 / (-self._heap[0] + 1))


# ---------------------------------------------------------------------------------------------
# Exact statistics of counted values
# ---------------------------------------------------------------------------------------------


def natural_order_key(kind: str) -> Callable[[Any], Any]:
    """Values of one column in their natural order (temporals by time, not by text)."""
    if kind == "NUMERIC":
        return lambda v: Decimal(v)
    if kind in ("DATETIME", "TIMESTAMP"):
        return lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if kind == "TIME":
        return dt.time.fromisoformat
    return lambda v: v


def stat_value(value: Any, kind: str) -> Scalar:
    # NUMERIC is a float in stats, as bigquery_profile.json_safe turns BigQuery's Decimal into one.
    return float(Decimal(value)) if kind == "NUMERIC" else value


def quantile_ranks(count: int, quantiles: int) -> list[int]:
    """The ``quantiles + 1`` nearest ranks from min to max of ``count`` sorted values."""
    last = count - 1
    return [(2 * i * last + quantiles) // (2 * quantiles) for i in range(quantiles + 1)]


def value_scale(value: Any, kind: str) -> int | None:
    """The fewest decimals that keep ``value`` (as ``bigquery_profile.scale_sql``)."""
    limit = SCALE_LIMITS[kind]
    if kind == "NUMERIC":
        exponent = Decimal(value).normalize().as_tuple().exponent
        return min(max(0, -int(exponent)), limit)
    number = float(value)
    if not math.isfinite(number):
        return None
    if abs(number) >= 1e15:
        return 0
    return next((k for k in range(limit) if number == round(number, k)), limit)


def stats_from_counts(
    path: str, kind: str, counts: Mapping[Any, int], nulls: int, *, top_k: int = 20, quantiles: int = 20
) -> ColumnStats:
    """Exact ``ColumnStats`` of a column whose non-null values occur ``counts[value]`` times."""
    present = sum(counts.values())
    key = natural_order_key(kind)
    stats: dict[str, Any] = {"path": path, "type": kind, "row_count": present + nulls, "null_count": nulls}
    if kind in DISTINCT_TYPES:
        stats["distinct_count"] = len({key(v) for v in counts})
    if kind in TOP_VALUE_TYPES and counts:
        ranked = sorted(counts.items(), key=lambda item: (-item[1], key(item[0])))
        stats["top_values"] = [ValueCount(value=v, count=c) for v, c in ranked[:top_k]]
    ordered = sorted(counts, key=key) if kind in MIN_MAX_TYPES and counts else []
    if kind in QUANTILE_TYPES and ordered:
        # Rank r of the fully sorted column is the value whose cumulative count first exceeds r.
        ends = list(accumulate(counts[v] for v in ordered))
        stats["quantiles"] = [
            stat_value(ordered[bisect_right(ends, rank)], kind) for rank in quantile_ranks(present, quantiles)
        ]
    if ordered:
        stats["min_value"] = stat_value(ordered[0], kind)
        stats["max_value"] = stat_value(ordered[-1], kind)
    if kind in LENGTH_TYPES and counts:
        lengths = [len(v) for v in counts]
        stats["min_length"], stats["max_length"] = min(lengths), max(lengths)
        stats["avg_length"] = sum(len(v) * c for v, c in counts.items()) / present
    if kind in SCALE_LIMITS and counts:
        scales = [s for s in (value_scale(v, kind) for v in counts) if s is not None]
        stats["max_scale"] = max(scales) if scales else None
    return ColumnStats(**stats)


# ---------------------------------------------------------------------------------------------
# One column, streamed
# ---------------------------------------------------------------------------------------------


@dataclass
class _Folded:
    """What values dropped from the counter contributed to the statistics that stay exact."""

    present: int = 0
    low: Any = None
    high: Any = None
    min_length: int | None = None
    max_length: int | None = None
    length_sum: int = 0
    max_scale: int | None = None


@dataclass
class ColumnAccumulator:
    """The statistics of one column over a stream of its values (None = NULL)."""

    path: str
    kind: str
    limits: StreamLimits = field(default_factory=StreamLimits)
    nulls: int = 0
    counts: dict[Any, int] = field(default_factory=dict)
    overflowed: bool = False

    def __post_init__(self) -> None:
        rng = random.Random(f"{self.limits.seed}:{self.path}")
        # Only quantiles need the sample; a STRING column's long texts would only cost memory.
        self._sample: Reservoir[Any] | None = (
            Reservoir(self.limits.quantile_sample, rng) if self.kind in QUANTILE_TYPES else None
        )
        self._chars = 0
        self._distinct = DistinctSketch(self.limits.distinct_sketch)
        self._folded = _Folded()
        self._key = natural_order_key(self.kind)
        self._tail_folded = False

    def add(self, value: Any) -> None:
        if self._tail_folded:
            raise RuntimeError(f"column {self.path}: values added after its statistics were taken")
        if value is None:
            self.nulls += 1
            return
        counts = self.counts
        seen = counts.get(value)
        if seen is None:
            counts[value] = 1
            self._chars += len(value) if isinstance(value, str) else 8
            if len(counts) > self.limits.exact_values or self._chars > self.limits.exact_chars:
                self._prune()
        else:
            counts[value] = seen + 1
        sample = self._sample
        if sample is None:
            return
        if sample.seen == sample.next_index:
            sample.offer(value)
        else:  # skipped by the reservoir: its bookkeeping inlined, this runs for every value
            sample.seen += 1

    def add_many(self, values: Sequence[Any]) -> None:
        """``add`` each of ``values`` in turn, with the same statistics, a batch at a time.

        The counter is pruned exactly where adding the values one by one would prune it (which
        values it keeps depends on that): each run of values up to the next overflow is counted
        at once, first occurrences in order, as one by one.
        """
        if self._tail_folded:
            raise RuntimeError(f"column {self.path}: values added after its statistics were taken")
        present = [value for value in values if value is not None]
        self.nulls += len(values) - len(present)
        start = 0
        while start < len(present):
            end, overflows = self._run_end(present, start)
            counts = self.counts
            run = Counter(present[start:end])  # first occurrences in order, as counting one by one
            known = run.keys() & counts.keys()
            self._chars += sum(len(v) if isinstance(v, str) else 8 for v in run.keys() - known)
            for value in known:
                run[value] += counts[value]
            # Known values keep their place in the counter, new ones follow in order: as one by one.
            counts.update(run)
            if overflows:
                self._prune()
            start = end
        if self._sample is not None:
            self._sample.offer_many(len(present), present.__getitem__)

    def _run_end(self, values: Sequence[Any], start: int) -> tuple[int, bool]:
        """Where the run of ``values`` from ``start`` ends: past the first value whose counting
        outgrows a bound (True), or at a window's end without it (False)."""
        counts, limits = self.counts, self.limits
        room = max(limits.exact_values - len(counts), 0)  # new values before the count bound
        # Any window finds the first overflow in it; room + 1 values are enough to meet the count
        # bound, and a floor keeps a nearly full counter from being fed a few values at a time.
        stop = min(len(values), start + max(room + 1, _MIN_WINDOW))
        window = values[start:stop]
        fresh = [value for value in dict.fromkeys(window) if value not in counts]
        chars = list(accumulate(len(v) if isinstance(v, str) else 8 for v in fresh))
        over = min(room, bisect_right(chars, limits.exact_chars - self._chars))
        if over >= len(fresh):
            return stop, False
        return start + window.index(fresh[over]) + 1, True

    def _prune(self) -> None:
        """Keep the most frequent half of the counter; fold the rest into the exact aggregates."""
        self.overflowed = True
        # Most frequent first, ties in counter order (reverse=True keeps a sort stable).
        ranked = sorted(self.counts.items(), key=itemgetter(1), reverse=True)
        keep = max(1, min(len(ranked), self.limits.exact_values) // 2)
        self._fold(ranked[keep:])
        self.counts = dict(ranked[:keep])
        self._chars = sum(len(v) if isinstance(v, str) else 8 for v in self.counts)

    def _fold(self, entries: Sequence[tuple[Any, int]]) -> None:
        if not entries:
            return
        folded, key, kind = self._folded, self._key, self.kind
        values = [value for value, _ in entries]
        folded.present += sum(count for _, count in entries)
        # A NUMERIC text is read into a Decimal once, for its order, its distinct text and its scale.
        decimals = [Decimal(value) for value in values] if kind == "NUMERIC" else None
        normals = [number.normalize() for number in decimals] if decimals is not None else None
        self._distinct.add_many(map(str, normals) if normals is not None else map(self._distinct_text, values))
        if kind in MIN_MAX_TYPES:
            ends = [v for v in (folded.low, folded.high) if v is not None]
            candidates = [*values, *ends]
            keys = [*decimals, *map(key, ends)] if decimals is not None else list(map(key, candidates))
            # min/max over the keys computed once: the same comparisons, so the same first extreme.
            folded.low = candidates[min(range(len(candidates)), key=keys.__getitem__)]
            folded.high = candidates[max(range(len(candidates)), key=keys.__getitem__)]
        if kind in LENGTH_TYPES:
            lengths = [len(value) for value in values]
            low, high = min(lengths), max(lengths)
            folded.min_length = low if folded.min_length is None else min(folded.min_length, low)
            folded.max_length = high if folded.max_length is None else max(folded.max_length, high)
            folded.length_sum += sum(length * count for length, (_, count) in zip(lengths, entries, strict=True))
        if kind in SCALE_LIMITS:
            if normals is not None:  # value_scale of NUMERIC, from the Decimals already read
                limit = SCALE_LIMITS[kind]
                scales = [min(max(0, -int(n.as_tuple().exponent)), limit) for n in normals]
            else:
                scales = [s for s in (value_scale(v, kind) for v in values) if s is not None]
            if scales:
                folded.max_scale = max(scales) if folded.max_scale is None else max(folded.max_scale, *scales)

    def _distinct_text(self, value: Any) -> str:
        # Values equal in their natural order are one distinct value (1.5 and 1.50 in NUMERIC);
        # the parser writes every other type in one canonical spelling already.
        return str(Decimal(value).normalize()) if self.kind == "NUMERIC" else str(value)

    def stats(self, *, top_k: int = 20, quantiles: int = 20) -> ColumnStats:
        """The column's statistics; call once, at the end of the stream (it folds the counter)."""
        if not self.overflowed:
            return stats_from_counts(self.path, self.kind, self.counts, self.nulls, top_k=top_k, quantiles=quantiles)
        if not self._tail_folded:  # the counter's last entries count once, however often stats are asked
            self._fold(list(self.counts.items()))
            self._tail_folded = True
        folded, kind = self._folded, self.kind
        stats: dict[str, Any] = {
            "path": self.path,
            "type": kind,
            "row_count": folded.present + self.nulls,
            "null_count": self.nulls,
        }
        if kind in DISTINCT_TYPES:
            stats["distinct_count"] = max(self._distinct.estimate(), len(self.counts))
        if kind in TOP_VALUE_TYPES:
            ranked = sorted(self.counts.items(), key=lambda item: (-item[1], self._key(item[0])))
            stats["top_values"] = [ValueCount(value=v, count=c) for v, c in ranked[:top_k]]
        if kind in QUANTILE_TYPES and self._sample is not None:
            ordered = sorted((v for _, v in self._sample.items), key=self._key)
            points = [ordered[rank] for rank in quantile_ranks(len(ordered), quantiles)]
            points[0], points[-1] = folded.low, folded.high  # the sample may miss the extremes
            stats["quantiles"] = [stat_value(v, kind) for v in points]
        if kind in MIN_MAX_TYPES:
            stats["min_value"] = stat_value(folded.low, kind)
            stats["max_value"] = stat_value(folded.high, kind)
        if kind in LENGTH_TYPES:
            stats["min_length"], stats["max_length"] = folded.min_length, folded.max_length
            stats["avg_length"] = folded.length_sum / folded.present
        if kind in SCALE_LIMITS:
            stats["max_scale"] = folded.max_scale
        return ColumnStats(**stats)


@dataclass(frozen=True)
class RowBatch:
    """Consecutive rows of a table as its columns: ``columns[c][i]`` is row i's value of column c."""

    names: Sequence[str]
    columns: Sequence[Sequence[Any]]
    rows: int

    def row(self, index: int) -> dict[str, Any]:
        return {name: column[index] for name, column in zip(self.names, self.columns, strict=True)}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.row(index) for index in range(self.rows))


@dataclass
class TableAccumulator:
    """Row count, per-column statistics and a reservoir sample of the rows of a streamed table."""

    columns: Sequence[tuple[str, str]]  # (name, BigQuery type)
    sample_rows: int = 200
    limits: StreamLimits = field(default_factory=StreamLimits)
    rows: int = 0

    def __post_init__(self) -> None:
        self._columns = [(name, ColumnAccumulator(name, kind, self.limits)) for name, kind in self.columns]
        self._sample: Reservoir[dict[str, Any]] = Reservoir(self.sample_rows, random.Random(self.limits.seed))

    def add(self, row: dict[str, Any]) -> None:
        self.rows += 1
        for name, column in self._columns:
            column.add(row[name])
        if self.sample_rows > 0:
            self._sample.offer(row)

    def add_batch(self, batch: RowBatch) -> None:
        """``add`` each row of ``batch``, a column at a time."""
        self.rows += batch.rows
        for (_, column), values in zip(self._columns, batch.columns, strict=True):
            column.add_many(values)
        if self.sample_rows > 0:
            self._sample.offer_many(batch.rows, batch.row)

    def add_all(self, rows: Iterable[dict[str, Any] | RowBatch]) -> None:
        for row in rows:
            if isinstance(row, RowBatch):
                self.add_batch(row)
            else:
                self.add(row)

    def stats(self, *, top_k: int = 20, quantiles: int = 20) -> dict[str, ColumnStats]:
        return {name: column.stats(top_k=top_k, quantiles=quantiles) for name, column in self._columns}

    def sample(self) -> list[dict[str, Any]]:
        """The sampled rows in file order (every row when there are no more than ``sample_rows``)."""
        return self._sample.in_order()


def chunks_of(stream: Any, size: int) -> Iterator[bytes]:
    """A binary file object read ``size`` bytes at a time."""
    while chunk := stream.read(size):
        yield chunk
