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

from bqsynth.models import ForeignKeyRef, LinkPairing, SequenceKey
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
    if spec.link is not None:
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
    else:
        index = parent_index(seed, table, draw, row_index, spec.parent_rows, spec.skew, spec.fan_out)
    if spec.via is not None:
        return reference_value(seed, spec.via, spec.parent_table, spec.parent_column, index)
    return sequence_key_value(spec.parent_key, index)


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
