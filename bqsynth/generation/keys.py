"""Keys as pure functions of (seed, table, row index).

Tables are generated in parallel, in separate processes, so a child table cannot look
up its parent's rows. Instead, the key of parent row ``i`` is recomputed from the
parent's ``SequenceKey``, and the parent row a child row points at is a deterministic
draw from ``(seed, child table, column, child row index)``. Referential integrity then
holds by construction, across tables and shards, and a seed reproduces the data.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from bqsynth.groups import group_sizes, group_starts, groups_of, paired_group_starts
from bqsynth.models import ForeignKeyRef, GroupKey, GroupLayout, GroupPairing, LineNumber, LinkPairing, SequenceKey
from bqsynth.shapes import ALPHABETS, pattern_space, shape_value
from bqsynth.values import seconds_to_temporal

_UNIT = float(1 << 64)
_MASK64 = (1 << 64) - 1
# splitmix64's increment and finaliser multipliers: the finaliser is a bijection of 64-bit
# words that passes BigCrush on a counter, so draws per row need no hashing of the row.
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB


def stable_uniform(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) that depends only on the arguments (not on process or order)."""
    text = "\x1f".join([str(seed), *map(str, parts)]).encode()
    (value,) = struct.unpack("<Q", hashlib.blake2b(text, digest_size=8).digest())
    return value / _UNIT


@lru_cache(maxsize=4096)
def stream_key(seed: int, *parts: object) -> int:
    """A 64-bit key of one stream of draws (a column's parent choices): hashed once per stream."""
    text = "\x1f".join([str(seed), *map(str, parts)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def row_uniform(seed: int, table: str, column: str, stream: str, row_index: int) -> float:
    """A uniform in [0, 1) of one row of one stream: splitmix64 of the stream's key and the row.

    The columnar engine computes the same numbers for a whole shard at once
    (``columnar.uniforms``), so both engines draw the same parent for every row.
    """
    z = (stream_key(seed, table, column, stream) + (row_index + 1) * GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * MIX2) & _MASK64
    z ^= z >> 31
    return (z >> 11) * (1.0 / (1 << 53))


def sequence_key_value(spec: SequenceKey, index: int) -> int | str:
    """The key of row ``index`` (0-based) of a table whose key is ``spec``."""
    number = spec.start + index * spec.step
    if spec.temporal:
        return seconds_to_temporal(number, spec.temporal)
    if spec.pattern:
        return shape_value(spec.pattern, number)
    if not spec.as_string:
        return number
    return f"{spec.prefix}{number:0{spec.width}d}"


def parent_index(
    seed: int,
    child_table: str,
    column: str,
    row_index: int,
    parent_rows: int,
    skew: float,
    fan_out: Sequence[tuple[float, float]] = (),
) -> int:
    """The parent row a child row refers to.

    With a ``fan_out`` curve (the source's children per parent) the row's uniform is a share
    of the children and ``fan_out_position`` the parent it falls on, low indices holding
    most children. Else, with ``skew == 0`` every parent is equally likely; otherwise
    ``u ** (1 + skew)`` concentrates children on low parent indices: the first ``k`` of
    ``n`` parents receive a share ``(k / n) ** (1 / (1 + skew))`` of all children, which is
    how ``planning.planner.estimate_skew`` fits ``skew`` from profiled top fan-outs.
    """
    if parent_rows <= 0:
        raise ValueError(f"{child_table}.{column}: the parent table has no rows to refer to")
    u = row_uniform(seed, child_table, column, "parent", row_index)
    if fan_out:
        u = float(fan_out_position(np.array([u]), fan_out)[0])
    elif skew > 0:
        u = u ** (1.0 + skew)
    return min(int(u * parent_rows), parent_rows - 1)


def fan_out_position(shares: np.ndarray, fan_out: Sequence[tuple[float, float]]) -> np.ndarray:
    """Where each child share falls among the parents: the inverse of the Lorenz curve ``fan_out``.

    The curve's segment of slope ``s`` holds parents with ``s`` times the mean number of
    children, so drawing children uniformly in share and placing them by the inverse gives
    each parent its share. Both engines call this with arrays: one numpy interpolation,
    the same floats for a row whether it is drawn alone or in a shard.
    """
    knots = np.asarray(fan_out, dtype=np.float64)
    return np.interp(shares, knots[:, 1], knots[:, 0])


def stratified_parent_indices(
    rows: np.ndarray, count: int, parent_rows: int, skew: float, fan_out: Sequence[tuple[float, float]] = ()
) -> np.ndarray:
    """The parent row of each row of a table drawn in row order (``ForeignKeyRef.stratified_rows``).

    Row ``r`` of ``count`` takes the share ``(r + 0.5) / count`` of the children, placed on the
    parents by the fan-out (or skew) as a hashed draw is, so the parents follow the same curve;
    the map never falls as ``r`` rises, so each parent's children are contiguous rows, which is
    what lets ``line_numbers`` number them. Both engines call this with arrays (one row, or a
    shard) and get the same floats: only exactly rounded operations and Python's ``pow``.
    """
    if parent_rows <= 0:
        raise ValueError("the parent table has no rows to refer to")
    shares = (np.asarray(rows, dtype=np.int64) + 0.5) / max(count, 1)
    if fan_out:
        positions = _rising_fan_out_position(shares, fan_out)
    elif skew > 0:
        exponent = 1.0 + skew
        # Python's pow per value: numpy's may use a SIMD approximation that depends on the array.
        positions = np.fromiter((u**exponent for u in shares.tolist()), dtype=np.float64, count=len(shares))
    else:
        positions = shares
    return np.minimum((positions * parent_rows).astype(np.int64), parent_rows - 1)


def _rising_fan_out_position(shares: np.ndarray, fan_out: Sequence[tuple[float, float]]) -> np.ndarray:
    """``fan_out_position`` computed so that it never falls as the share rises, even by a rounding:
    each segment's value is clamped to its upper knot, where the next segment starts (np.interp's
    rounded slope may overshoot a knot by an ulp, which could move a row to the previous parent)."""
    knots = np.asarray(fan_out, dtype=np.float64)
    xs, ys = knots[:, 0], knots[:, 1]
    j = np.clip(np.searchsorted(ys, shares, side="right") - 1, 0, len(ys) - 2)
    t = np.clip((shares - ys[j]) / (ys[j + 1] - ys[j]), 0.0, 1.0)
    return np.minimum(xs[j] + t * (xs[j + 1] - xs[j]), xs[j + 1])


def first_rows_of(
    parents: np.ndarray,
    rows: np.ndarray,
    count: int,
    parent_rows: int,
    skew: float,
    fan_out: Sequence[tuple[float, float]] = (),
) -> np.ndarray:
    """The first row of each parent's run of children, given a row ``rows[i]`` of that run.

    A binary search on the rising map ``stratified_parent_indices`` for the smallest row whose
    parent is ``parents[i]``: it depends on the parent only, never on the shard a row is in.
    A row whose previous row has another parent starts its run (one step); only the others
    (a shard's first run, rows one at a time) search, all at once.
    """
    rows = np.asarray(rows, dtype=np.int64)
    first = rows.copy()
    before = np.maximum(rows - 1, 0)
    open_runs = (rows > 0) & (stratified_parent_indices(before, count, parent_rows, skew, fan_out) == parents)
    if not open_runs.any():
        return first
    low, high, wanted = np.zeros(int(open_runs.sum()), dtype=np.int64), before[open_runs], parents[open_runs]
    while (low < high).any():
        middle = (low + high) // 2
        reached = stratified_parent_indices(middle, count, parent_rows, skew, fan_out) >= wanted
        high, low = np.where(reached, middle, high), np.where(reached, low, middle + 1)
    first[open_runs] = low
    return first


def line_numbers(
    rows: np.ndarray, count: int, parent_rows: int, skew: float, fan_out: Sequence[tuple[float, float]] = ()
) -> np.ndarray:
    """``LineNumber`` of each row: its position in its parent's run of children, from 1."""
    rows = np.asarray(rows, dtype=np.int64)
    parents = stratified_parent_indices(rows, count, parent_rows, skew, fan_out)
    if len(rows) > 1 and (np.diff(rows) == 1).all():
        # A shard: a run starts where the parent changes; only the first run may start earlier.
        starts = np.flatnonzero(np.diff(parents)) + 1
        run_first = np.zeros(len(rows), dtype=np.int64)
        run_first[starts] = rows[starts]
        run_first[0] = first_rows_of(parents[:1], rows[:1], count, parent_rows, skew, fan_out)[0]
        run_first = np.maximum.accumulate(run_first)
    else:
        run_first = first_rows_of(parents, rows, count, parent_rows, skew, fan_out)
    return rows - run_first + 1


def line_number(
    row: int, count: int, parent_rows: int, skew: float, fan_out: tuple[tuple[float, float], ...] = ()
) -> int:
    """``line_numbers`` of one row (Snowfakery's rows come one at a time): each parent's first row
    is searched once and kept, as it depends on the parent only."""
    parent = int(stratified_parent_indices(np.array([row]), count, parent_rows, skew, fan_out)[0])
    # Below ``count`` the last planned row bounds every run's start; a row past it bounds its own.
    high = count - 1 if 0 <= row < count else row
    return row - _run_start(parent, high, count, parent_rows, skew, fan_out) + 1


@lru_cache(maxsize=65536)
def _run_start(
    parent: int, high: int, count: int, parent_rows: int, skew: float, fan_out: tuple[tuple[float, float], ...]
) -> int:
    low = 0
    while low < high:
        middle = (low + high) // 2
        if stratified_parent_indices(np.array([middle]), count, parent_rows, skew, fan_out)[0] >= parent:
            high = middle
        else:
            low = middle + 1
    return low


def link_parent_index(seed: int, link: LinkPairing, link_row: int) -> int:
    """The row of the referenced table that ``link``'s column holds in row ``link_row`` of the link table.

    The digits of ``link_row`` in a mixed radix over the parents' row counts, each shifted by an
    offset keyed on the rows already chosen (see ``LinkPairing``): a bijection per digit, so no
    tuple of parent rows repeats below ``link.space`` rows. Only the parents up to ``position``
    are computed; with two parents the values are those of the first link pairing.
    """
    radices = link.parent_rows
    chosen: list[int] = []
    rest = link_row
    for radix in radices[: link.position + 1]:
        rest, digit = divmod(rest, radix)
        if chosen:
            # A per-prefix offset spreads the later references over the whole referenced table.
            digit = (digit + int(stable_uniform(seed, link.link_table, "link-offset", *chosen) * radix)) % radix
        chosen.append(digit)
    return chosen[-1]


def link_row_index(seed: int, table: str, link: LinkPairing, row_index: int, skew: float) -> int:
    """The link-table row behind ``row_index`` of ``table``: its own row, or a drawn one in a child."""
    if table == link.link_table:
        return row_index
    return parent_index(seed, table, link.draw, row_index, link.link_rows, skew)


def self_reference_index(seed: int, table: str, column: str, row_index: int) -> int | None:
    """A smaller row index of the same table (a manager id), or None for the first row."""
    if row_index == 0:
        return None
    return min(int(stable_uniform(seed, table, column, row_index) * row_index), row_index - 1)


def reference_value(seed: int, spec: ForeignKeyRef, table: str, column: str, row_index: int) -> int | str | None:
    """The value reference ``spec`` gives column ``column`` of row ``row_index`` of ``table``.

    The parent row comes from the link pairing, an earlier row (a self-reference), a keyed
    permutation (``one_to_one``) or a draw named by ``spec.draw`` (shared by the columns of
    one composite reference) or the column. With ``via`` the parent column is a reference
    itself, evaluated exactly as the parent evaluates it at that row; so a composite
    reference takes every column from one existing parent row.
    """
    draw = spec.draw or column
    if spec.group_pairing is not None:
        index = int(paired_rows(seed, spec.group_pairing, np.array([row_index]))[0])
    elif spec.link is not None:
        link_row = link_row_index(seed, table, spec.link, row_index, spec.skew)
        index = link_parent_index(seed, spec.link, link_row)
    elif spec.parent_table == table and spec.via is None:
        # An earlier row only (a manager hired before): no cycles, and the first row has none.
        earlier = self_reference_index(seed, table, column, row_index)
        return None if earlier is None else sequence_key_value(spec.parent_key, earlier)
    elif spec.one_to_one:
        if row_index >= spec.parent_rows:
            raise ValueError(
                f"{table}.{draw}: row {row_index} needs a parent row of its own, {spec.parent_table} has "
                f"{spec.parent_rows}"
            )
        index = permute(row_index, spec.parent_rows, f"{seed}:{table}:{draw}")
    elif spec.stratified_rows:
        index = int(
            stratified_parent_indices(
                np.array([row_index]), spec.stratified_rows, spec.parent_rows, spec.skew, spec.fan_out
            )[0]
        )
    else:
        index = parent_index(seed, table, draw, row_index, spec.parent_rows, spec.skew, spec.fan_out)
    if spec.via is not None:
        return values_at(seed, spec.via, spec.parent_table, spec.parent_column, np.array([index]))[0]
    return sequence_key_value(spec.parent_key, index)


def values_at(
    seed: int, via: ForeignKeyRef | GroupKey | LineNumber, table: str, column: str, rows: np.ndarray
) -> list[int | str | None]:
    """What the generator ``via`` of ``table.column`` gives at each of the parent rows ``rows``."""
    if isinstance(via, ForeignKeyRef):
        return [reference_value(seed, via, table, column, row) for row in np.asarray(rows).tolist()]
    if isinstance(via, GroupKey):
        return group_key_values(via, rows)  # type: ignore[return-value]
    if via.layout is None:
        raise ValueError(f"{table}.{column}: a line number within a reference draw cannot be recomputed from a row")
    return group_line_numbers(via.layout, rows).tolist()


# --- implicit group parents (GroupLayout, GroupKey, GroupPairing) -------------------------------


def group_line_numbers(layout: GroupLayout, rows: np.ndarray) -> np.ndarray:
    """``LineNumber`` within the row's implicit group: its position in the group, from 1."""
    rows = np.asarray(rows, dtype=np.int64)
    return rows - group_starts(layout)[groups_of(layout, rows)] + 1


def group_key_values(spec: GroupKey, rows: np.ndarray) -> list[int | str]:
    """``GroupKey`` of each row: the implicit parent's key of the row's group."""
    return [sequence_key_value(spec.key, q) for q in groups_of(spec.layout, rows).tolist()]


def paired_rows(seed: int, pairing: GroupPairing, rows: np.ndarray) -> np.ndarray:
    """The row of parent ``pairing.position`` that each child row takes (see ``GroupPairing``)."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = paired_group_starts(pairing)
    # The last group with a start at or before the row: groups given no child row are skipped.
    group = np.clip(np.searchsorted(starts, rows, side="right") - 1, 0, pairing.first.groups - 1)
    local = rows - starts[group]
    first_sizes, second_sizes = group_sizes(pairing.first)[group], group_sizes(pairing.second)[group]
    first_row = group_starts(pairing.first)[group] + local % first_sizes
    if pairing.position == 0:
        return first_row
    # The offset is keyed on the first parent's row, so each first row pairs a spread of second rows.
    offsets = np.array(
        [
            int(row_uniform(seed, pairing.child_table, pairing.first_table, "group-offset", int(row)) * size)
            for row, size in zip(first_row.tolist(), second_sizes.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    return group_starts(pairing.second)[group] + (local // first_sizes + offsets) % second_sizes


def unique_integer(low: int, high: int, seed: int, salt: str, row_index: int) -> int:
    """Row ``row_index``'s value of a unique integer column: a keyed permutation of ``[low, high]``."""
    return low + permute(row_index, high - low + 1, f"{seed}:{salt}:unique")


def cycled_index(count: int, seed: int, salt: str, row_index: int) -> int:
    """Row ``row_index``'s value number among ``count`` values that must not repeat before all are used:
    rows 0..count-1 take a keyed permutation of them, the next ``count`` rows another, and so on."""
    cycle, position = divmod(row_index, count)
    return permute(position, count, f"{seed}:{salt}:cycle:{cycle}")


def permute(index: int, space: int, key: str) -> int:
    """A keyed bijection of ``[0, space)``: a 4-round Feistel network with cycle-walking.

    Unlike an affine map it keeps no arithmetic structure, so ``index`` and
    ``index + rows`` land in unrelated places (which is what redraws rely on).
    """
    if not 0 <= index < space:
        raise ValueError(f"index {index} is outside [0, {space})")
    half_bits = max(1, ((space - 1).bit_length() + 1) // 2)
    mask = (1 << half_bits) - 1
    value = index
    while True:
        left, right = value >> half_bits, value & mask
        for round_number in range(4):
            digest = hashlib.blake2b(f"{key}\x1f{round_number}\x1f{right}".encode(), digest_size=8).digest()
            left, right = right, left ^ (int.from_bytes(digest, "little") & mask)
        value = (left << half_bits) | right
        if value < space:
            return value


def pattern_value(pattern: str, index: int, seed: int, salt: str, unique: bool) -> str:
    """Fill a shape template: ``#`` a digit, ``?`` an uppercase letter, anything else literal.

    With ``unique`` the value is number ``permute(index)`` of the shape's whole space (digits
    and letters: see ``bqsynth.shapes``), so values never repeat and do not look sequential.
    Otherwise every varying position is drawn from the hash of (seed, salt, index).
    """
    if unique:
        space = pattern_space(pattern)
        if index >= space:
            raise ValueError(f"pattern {pattern!r} has room for {space} unique values, row {index} asks for more")
        return shape_value(pattern, permute(index, space, f"{seed}:{salt}"))
    out: list[str] = []
    for position, char in enumerate(pattern):
        alphabet = ALPHABETS.get(char)
        if alphabet is None:
            out.append(char)
        else:
            tag = "D" if char == "#" else "L"
            out.append(alphabet[int(stable_uniform(seed, salt, index, tag, position) * len(alphabet))])
    return "".join(out)


class PatternCursor(NamedTuple):
    """How far a unique pattern column has got: ``row`` was given value number ``position``."""

    row: int = -1
    position: int = -1


def next_unique_pattern(
    pattern: str, index: int, seed: int, salt: str, is_excluded: Callable[[str], bool], cursor: PatternCursor
) -> tuple[str, PatternCursor]:
    """Row ``index``'s value: the index-th value of the keyed permutation that is not excluded.

    Skipping excluded values keeps the result unique. From a cursor just before ``index`` it
    costs O(1) per row (rows come in order within a shard); after a jump it restarts at 0.
    """
    row, position = cursor if cursor.row < index else PatternCursor()
    space = pattern_space(pattern)
    value = ""
    while row < index:
        position += 1
        if position >= space:
            raise ValueError(
                f"{salt}: the shape {pattern!r} has no unused value left for row {index} "
                f"(it holds {space} values); the source uses too much of it. Plan again: "
                "the planner widens such shapes"
            )
        value = shape_value(pattern, permute(position, space, f"{seed}:{salt}"))
        if not is_excluded(value):
            row += 1
    return value, PatternCursor(row, position)


def pattern_value_avoiding(
    pattern: str, index: int, seed: int, salt: str, is_excluded: Callable[[str], bool], redraws: int
) -> str:
    """A non-unique value of the shape that is not excluded.

    ``redraws`` independent draws first; if all are excluded (a densely used shape), the
    values after a drawn one in a keyed permutation of the space, until one is free: this
    ends whenever the shape holds one value more than it excludes (the planner sees to that).
    """
    for attempt in range(redraws):
        value = pattern_value(pattern, index, seed, f"{salt}#{attempt}", False)
        if not is_excluded(value):
            return value
    space = pattern_space(pattern)
    key = f"{seed}:{salt}:probe"
    start = int(stable_uniform(seed, salt, index, "probe") * space)
    for step in range(space):
        value = shape_value(pattern, permute((start + step) % space, space, key))
        if not is_excluded(value):
            return value
    raise ValueError(f"{salt}: every value of shape {pattern!r} is a source value; widen the pattern")
