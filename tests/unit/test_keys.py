"""Key derivation: pure functions of (seed, table, row index)."""

import math
from collections import Counter

import pytest

from bqsynth.generation.keys import (
    parent_index,
    pattern_value,
    self_reference_index,
    sequence_key_value,
    stable_uniform,
)
from bqsynth.models import ForeignKeyRef, SequenceKey, ValueCount
from bqsynth.planning.planner import estimate_skew, fan_out_curve
from bqsynth.sources.key_checks import FanOut


def test_stable_uniform_is_deterministic_and_in_range() -> None:
    values = [stable_uniform(7, "t", "c", i) for i in range(1000)]
    assert values == [stable_uniform(7, "t", "c", i) for i in range(1000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert values != [stable_uniform(8, "t", "c", i) for i in range(1000)]
    assert 0.45 < sum(values) / len(values) < 0.55


def test_integer_and_formatted_sequence_keys_are_unique() -> None:
    assert [sequence_key_value(SequenceKey(start=100, step=5), i) for i in range(3)] == [100, 105, 110]
    spec = SequenceKey(start=1, prefix="PRD-", width=4, as_string=True)
    keys = [sequence_key_value(spec, i) for i in range(20000)]
    assert keys[0] == "PRD-0001" and keys[9998] == "PRD-9999" and keys[9999] == "PRD-10000"
    assert len(set(keys)) == len(keys)


def test_parent_index_stays_in_range_and_is_reproducible() -> None:
    picks = [parent_index(42, "Fact", "account_id", i, 37, 0.0) for i in range(5000)]
    assert min(picks) == 0 and max(picks) == 36
    assert picks == [parent_index(42, "Fact", "account_id", i, 37, 0.0) for i in range(5000)]


def test_skew_concentrates_children_on_few_parents() -> None:
    uniform = Counter(parent_index(1, "c", "fk", i, 100, 0.0) for i in range(20000))
    skewed = Counter(parent_index(1, "c", "fk", i, 100, 2.0) for i in range(20000))
    top10 = lambda counts: sum(c for _, c in counts.most_common(10))  # noqa: E731
    assert top10(skewed) > 2 * top10(uniform)


def test_estimate_skew_recovers_the_generating_skew() -> None:
    children, parents = 50000, 500
    for true_skew in (0.0, 1.0, 3.0):
        counts = Counter(parent_index(3, "c", "fk", i, parents, true_skew) for i in range(children))
        top = [ValueCount(value=k, count=c) for k, c in counts.most_common(20)]
        assert estimate_skew(top, children, parents) == pytest.approx(true_skew, abs=0.35)


def test_parent_index_refuses_an_empty_parent() -> None:
    with pytest.raises(ValueError, match="Fact.account_id"):
        parent_index(1, "Fact", "account_id", 0, 0, 0.0)


def test_self_reference_points_to_an_earlier_row() -> None:
    assert self_reference_index(1, "Emp", "manager_id", 0) is None
    assert all(0 <= self_reference_index(1, "Emp", "manager_id", i) < i for i in range(1, 500))  # type: ignore[operator]


def test_unique_patterns_never_repeat_and_keep_the_shape() -> None:
    values = [pattern_value("AC-######", i, 9, "T.acct", unique=True) for i in range(50000)]
    assert len(set(values)) == len(values)
    assert all(len(v) == 9 and v.startswith("AC-") and v[3:].isdigit() for v in values)
    assert values[:5] != sorted(values[:5]) or values[0][3:] != "000000"


def test_unique_pattern_without_room_fails_clearly() -> None:
    with pytest.raises(ValueError, match="room for 100"):
        pattern_value("##", 100, 1, "t.c", unique=True)


def test_letters_and_literals_in_patterns() -> None:
    value = pattern_value("??-##x", 3, 1, "t.c", unique=False)
    assert value[:2].isalpha() and value[:2].isupper() and value[2] == "-" and value[3:5].isdigit() and value[5] == "x"


def test_permute_is_a_bijection_without_arithmetic_structure() -> None:
    from bqsynth.generation.keys import permute

    for space in (1, 7, 10, 1000, 4099):
        assert sorted(permute(i, space, "k") for i in range(space)) == list(range(space))
    residues = {(permute(i, 10000, "k") - permute(i + 2000, 10000, "k")) % 4 for i in range(200)}
    assert len(residues) == 4


def test_a_fan_out_curve_is_the_lorenz_curve_of_children_per_parent() -> None:
    # 1 parent with 3 children, 2 with 1, and 2 of the 5 parents with none.
    curve = fan_out_curve(FanOut(histogram=[(1, 2), (3, 1)]), parent_rows=5)
    assert curve == [(0.0, 0.0), (0.2, 0.6), (0.6, 1.0)]
    assert fan_out_curve(FanOut(histogram=[]), parent_rows=5) == []
    many = FanOut(histogram=[(c, 1) for c in range(1, 500)])
    knots = fan_out_curve(many, parent_rows=600, max_knots=9)
    assert len(knots) <= 9 and knots[0] == (0.0, 0.0) and knots[-1] == (499 / 600, 1.0)
    assert all(b[0] > a[0] and b[1] > a[1] for a, b in zip(knots, knots[1:], strict=False))


def test_references_drawn_on_the_curve_give_parents_the_sources_children_per_parent() -> None:
    # A heavy tail like a fact table's: 40% of the parents have no child, a few have dozens.
    histogram = [(1, 300), (2, 150), (5, 100), (20, 40), (60, 10)]
    parents = 1000
    children = sum(c * p for c, p in histogram)
    curve = fan_out_curve(FanOut(histogram=histogram), parent_rows=parents)
    drawn = Counter(parent_index(7, "fact", "account_id", i, parents, 0.0, curve) for i in range(children))
    counts = sorted((drawn.get(p, 0) for p in range(parents)), reverse=True)
    source = sorted((c for c, p in histogram for _ in range(p)), reverse=True) + [0] * 400
    # Draws are independent, so a parent expecting c children gets none with probability e^-c.
    expected_empty = 400 + sum(p * math.exp(-c) for c, p in histogram)
    assert abs(sum(1 for c in counts if c == 0) - expected_empty) < 40
    top = sum(counts[:50]) / children
    assert top == pytest.approx(sum(source[:50]) / children, abs=0.03)
    uniform = Counter(parent_index(7, "fact", "account_id", i, parents, 0.0) for i in range(children))
    assert sum(sorted(uniform.values(), reverse=True)[:50]) / children < top / 2  # the curve did it


def test_an_edited_plans_fan_out_must_be_a_curve_a_draw_can_invert() -> None:
    spec = {"parent_table": "p", "parent_column": "id", "parent_rows": 5, "parent_key": SequenceKey()}
    ForeignKeyRef(**spec, fan_out=[(0.0, 0.0), (0.5, 1.0)])
    for bad in ([(0.0, 0.0), (0.5, 0.9)], [(0.1, 0.0), (0.5, 1.0)], [(0.0, 0.0), (0.4, 0.6), (0.3, 1.0)]):
        with pytest.raises(ValueError, match="fan_out must run from"):
            ForeignKeyRef(**spec, fan_out=bad)
