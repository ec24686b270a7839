"""Implicit group parents: how a table's rows fall into the groups of a plain key column.

bakeoff's ``series`` is a key column of bakers and episodes that refers to no table: the key of
an implicit parent with G rows. Each table lays its rows out over the G groups in row order
(``GroupLayout``), and a child of both pairs a row of each in the same group
(``GroupPairing``). This is the arithmetic of those layouts, pure functions of the plan's numbers,
shared by the planner (how many rows a pairing holds) and both engines (which row is where).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from bqsynth.models import GroupLayout, GroupPairing

# A layout as the caches key it: (rows, groups, fan-out knots).
_LayoutKey = tuple[int, int, tuple[tuple[float, float], ...]]


def _layout_key(layout: GroupLayout) -> _LayoutKey:
    return layout.rows, layout.groups, tuple((float(x), float(y)) for x, y in layout.fan_out)


def group_starts(layout: GroupLayout) -> np.ndarray:
    """The first row of each group and, last, the table's rows: ``groups + 1`` rising numbers, each
    group one row at least (see ``GroupLayout``). Computed once per layout in a process."""
    return _group_starts(*_layout_key(layout))


@lru_cache(maxsize=1024)
def _group_starts(rows: int, groups: int, fan_out: tuple[tuple[float, float], ...]) -> np.ndarray:
    shares = np.arange(groups + 1, dtype=np.float64) / groups
    if fan_out:
        knots = np.asarray(fan_out, dtype=np.float64)
        # np.interp needs rising x: a curve's parent shares never fall, and a repeat holds no group.
        held = np.maximum.accumulate(np.interp(shares, knots[:, 0], knots[:, 1]))
    else:
        held = shares
    total = max(rows, groups)
    # The curve's share of the rows, rounded (so that a curve of the source's sizes gives them back
    # exactly), then one row per group at least: q + the rising maximum of (start - q), capped so the
    # groups after q still have a row each.
    rounded = np.floor(total * np.minimum(held, 1.0) + 0.5).astype(np.int64)
    index = np.arange(groups + 1, dtype=np.int64)
    starts = np.minimum(index + np.maximum.accumulate(rounded - index), total - groups + index)
    starts[0], starts[-1] = 0, total
    starts.flags.writeable = False  # cached: shared by every caller
    return starts


def group_sizes(layout: GroupLayout) -> np.ndarray:
    """Rows of each group of ``layout``."""
    return np.diff(group_starts(layout))


def groups_of(layout: GroupLayout, rows: np.ndarray) -> np.ndarray:
    """The group of each row: a binary search on the group starts (the same for a row alone or in a shard)."""
    starts = group_starts(layout)
    found = np.searchsorted(starts, np.asarray(rows, dtype=np.int64), side="right") - 1
    return np.clip(found, 0, layout.groups - 1)


def _group_pairs(first: _LayoutKey, second: _LayoutKey) -> list[int]:
    """Pairs of a first and a second parent row in each group (Python integers: no overflow)."""
    sizes = np.diff(_group_starts(*first)).tolist(), np.diff(_group_starts(*second)).tolist()
    return [a * b for a, b in zip(*sizes, strict=True)]


def group_pair_space(first: GroupLayout, second: GroupLayout) -> int:
    """How many child rows a pairing within groups holds with no pair twice."""
    return sum(_group_pairs(_layout_key(first), _layout_key(second)))


def paired_group_starts(pairing: GroupPairing) -> np.ndarray:
    """The first child row of each group and, last, the child's rows: group ``q`` holds a share of the
    child rows in proportion to its pairs, rounded down at each cumulative step, so no group is
    asked for more rows than it has pairs while the child fits the space."""
    return _paired_group_starts(pairing.child_rows, _layout_key(pairing.first), _layout_key(pairing.second))


@lru_cache(maxsize=256)
def _paired_group_starts(
    child_rows: int,
    first: _LayoutKey,
    second: _LayoutKey,
) -> np.ndarray:
    pairs = _group_pairs(first, second)
    space = sum(pairs)
    if child_rows > space:
        raise ValueError(f"{child_rows} rows do not fit the {space} pairs of their groups")
    starts, held = [0], 0
    for count in pairs:
        held += count
        starts.append(child_rows * held // space if space else 0)  # exact integers: the same everywhere
    found = np.array(starts, dtype=np.int64)
    found.flags.writeable = False
    return found
