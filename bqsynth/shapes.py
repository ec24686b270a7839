"""Shape templates and the size of their value space: ``#`` a digit, ``?`` an uppercase letter.

A shape such as ``ACC-####`` stands for every string of its length where the ``#`` positions
hold a digit, the ``?`` positions an uppercase letter and every other character itself. Its
values are numbered ``0 .. space - 1`` in mixed radix (10 per ``#``, 26 per ``?``), so a
unique column can take value ``permute(row)`` and letters count in the space as much as digits.

A source that uses a shape densely leaves too few unused values for the synthetic rows (its
own values are never emitted). The planner then *widens* the shape: a constant digit becomes
``#`` and a constant uppercase letter ``?``, which keeps the length and the character class
of every position and only lets more of them vary. This module is pure arithmetic, in the
base layer, because both the planner (which fits the shape) and the generator use it.
"""

from __future__ import annotations

import string
from functools import lru_cache

DIGIT = "#"
UPPER = "?"
ALPHABETS: dict[str, str] = {DIGIT: string.digits, UPPER: string.ascii_uppercase}
# A source's distinct count from BigQuery is APPROX_COUNT_DISTINCT (HyperLogLog++, about 1%
# error): the exclusion list it stands for may be a little longer, so fits count this margin.
APPROX_DISTINCT_MARGIN = 0.02


@lru_cache(maxsize=256)
def pattern_space(pattern: str) -> int:
    """How many distinct values the shape has (1 for a shape without ``#`` or ``?``)."""
    space = 1
    for char in pattern:
        alphabet = ALPHABETS.get(char)
        if alphabet is not None:
            space *= len(alphabet)
    return space


def widening_class(char: str) -> str | None:
    """The varying class a constant character may become: a digit ``#``, an uppercase letter ``?``."""
    if char in string.digits:
        return DIGIT
    if char in string.ascii_uppercase:
        return UPPER
    return None


def widest_pattern(pattern: str) -> str:
    """The shape with every constant digit and uppercase letter varying: the largest space of that look."""
    return "".join(widening_class(char) or char for char in pattern)


def fitted_pattern(pattern: str, needed: int, roomy: int | None = None) -> str | None:
    """The shape, widened as little as it must be to hold ``needed`` values; None if it cannot.

    A shape holding ``roomy`` (default ``needed``) values is returned unchanged. Otherwise
    constant positions are widened from the right (the leading characters, usually the
    code's prefix, stay as in the source) until the space holds ``roomy``, or every position
    varies; the result is refused only when it still holds fewer than ``needed``.
    """
    roomy = max(needed, roomy or needed)
    if pattern_space(pattern) >= roomy:
        return pattern
    chars = list(pattern)
    space = pattern_space(pattern)
    for position in range(len(chars) - 1, -1, -1):
        if space >= roomy:
            break
        wider = widening_class(chars[position])
        if wider is None:
            continue
        chars[position] = wider
        space *= len(ALPHABETS[wider])
    return "".join(chars) if space >= needed else None


@lru_cache(maxsize=256)
def _varying_positions(pattern: str) -> tuple[tuple[int, str], ...]:
    """The varying positions of a shape, last first, with their alphabets (cached: called per row)."""
    return tuple((p, ALPHABETS[c]) for p, c in reversed(list(enumerate(pattern))) if c in ALPHABETS)


def shape_value(pattern: str, number: int) -> str:
    """Value ``number`` of the shape, in mixed radix over its varying positions (last varies fastest)."""
    space = pattern_space(pattern)
    if not 0 <= number < space:
        raise ValueError(f"shape {pattern!r} has {space} values; value number {number} does not exist")
    out = list(pattern)
    for position, alphabet in _varying_positions(pattern):
        number, digit = divmod(number, len(alphabet))
        out[position] = alphabet[digit]
    return "".join(out)


def excluded_bound(distinct_count: int, non_null_count: int) -> int:
    """At most how many source values the generator must skip, from a profile's counts."""
    bound = int(distinct_count * (1 + APPROX_DISTINCT_MARGIN)) + (1 if distinct_count else 0)
    return min(bound, non_null_count) if non_null_count > 0 else bound
