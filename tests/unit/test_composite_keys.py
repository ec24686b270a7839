"""Keys made of references: a link table (part x supplier) and a composite reference to it
(TPC-H shape), composite references to keys of a reference and a number (TPC-DS returns), and
a key that is a reference itself (a 1:1 extension table).

Planned from profiles with declared keys only, generated with the real Snowfakery, then
checked like the SQL checks do: unique pairs in the link table, and every pair a child
refers to present there.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from bqsynth.generation.keys import link_parent_index, stable_uniform
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.llm.answers import RelationshipProposal, RelationshipsAnswer
from bqsynth.llm.validate import relationships_problems
from bqsynth.models import ColumnSchema, ForeignKey, ForeignKeyRef, LinkPairing, TableProfile
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import column_stats


def profile(name: str, rows: list[dict[str, Any]], pk: list[str], fks: list[ForeignKey] | None = None) -> TableProfile:
    columns = [ColumnSchema(name=c, type="INT64", mode="REQUIRED") for c in rows[0]]
    return TableProfile(
        table_id=f"p.src.{name}",
        name=name,
        row_count=len(rows),
        columns=columns,
        primary_key=pk,
        foreign_keys=fks or [],
        stats={c.name: column_stats(c.name, "INT64", rows) for c in columns},
        sample=rows[:200],
    )


def fk(columns: list[str], table: str, referenced: list[str]) -> ForeignKey:
    return ForeignKey(columns=columns, referenced_table=f"p.src.{table}", referenced_columns=referenced)


def tpch_like() -> list[TableProfile]:
    parts = [{"p_partkey": i, "p_size": i % 50} for i in range(1, 201)]
    suppliers = [{"s_suppkey": i, "s_acctbal": i * 7} for i in range(1, 11)]
    partsupp = [
        {"ps_partkey": p, "ps_suppkey": (p + k * 3) % 10 + 1, "ps_availqty": p * k}
        for p in range(1, 201)
        for k in range(4)
    ]
    lineitem = [
        {
            "l_orderkey": i // 4 + 1,
            "l_linenumber": i % 4 + 1,
            "l_partkey": r["ps_partkey"],
            "l_suppkey": r["ps_suppkey"],
        }
        for i, r in enumerate(partsupp * 3)
    ]
    return [
        profile("part", parts, ["p_partkey"]),
        profile("supplier", suppliers, ["s_suppkey"]),
        profile(
            "partsupp",
            partsupp,
            ["ps_partkey", "ps_suppkey"],
            [fk(["ps_partkey"], "part", ["p_partkey"]), fk(["ps_suppkey"], "supplier", ["s_suppkey"])],
        ),
        profile(
            "lineitem",
            lineitem,
            ["l_orderkey", "l_linenumber"],
            [
                fk(["l_partkey"], "part", ["p_partkey"]),
                fk(["l_suppkey"], "supplier", ["s_suppkey"]),
                fk(["l_partkey", "l_suppkey"], "partsupp", ["ps_partkey", "ps_suppkey"]),
            ],
        ),
    ]


def rows_of(files: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_link_tables_get_unique_pairs_and_composite_references_find_them(tmp_path: Path) -> None:
    plan = with_recipes(
        plan_dataset(
            tpch_like(), PlanOptions(seed=3, record_counts={"lineitem": 5000}, target_project="p", target_dataset="t")
        )
    )
    partsupp, lineitem = plan.table("partsupp"), plan.table("lineitem")
    halves = [c.generator for c in partsupp.columns if c.name in ("ps_partkey", "ps_suppkey")]
    assert all(isinstance(g, ForeignKeyRef) and g.link and g.link.link_table == "partsupp" for g in halves)
    assert any(r.child_table == "lineitem" and len(r.child_columns) == 2 for r in plan.relationships)

    link_rows = rows_of(generate_table(partsupp, plan.seed, tmp_path / "ps", shard_rows=300)[0])
    pairs = [(r["ps_partkey"], r["ps_suppkey"]) for r in link_rows]
    assert len(pairs) == 800 and len(set(pairs)) == 800  # a primary key: no pair twice
    assert {p for p, _ in pairs} <= set(range(1, 201)) and {s for _, s in pairs} <= set(range(1, 11))

    child_rows = rows_of(generate_table(lineitem, plan.seed, tmp_path / "li", shard_rows=1700)[0])
    references = {(r["l_partkey"], r["l_suppkey"]) for r in child_rows}
    assert len(child_rows) == 5000 and references <= set(pairs)  # no orphan pair, across shards
    assert len(references) > 400  # the draws spread over the link table


def test_a_link_table_asked_for_more_pairs_than_exist_is_refused_and_a_scaled_one_kept_within_them() -> None:
    plan = plan_dataset(
        tpch_like(), PlanOptions(seed=3, record_counts={"partsupp": 5000}, target_project="p", target_dataset="t")
    )
    failures = {f.table: f.error for f in plan.failures}
    assert set(failures) == {"partsupp", "lineitem"}  # lineitem refers to partsupp's pairs
    assert "primary key (ps_partkey, ps_suppkey)" in failures["partsupp"]
    assert "holds 2000 rows (200 part rows x 10 supplier rows), 5000 rows asked" in failures["partsupp"]
    # A count from the scale keeps the source's proportion, within what the key holds.
    plan = plan_dataset(tpch_like(), PlanOptions(seed=3, scale=0.1, target_project="p", target_dataset="t"))
    assert not plan.failures and plan.table("partsupp").row_count == 20 * 1


def tpcds_like() -> list[TableProfile]:
    """TPC-DS's shape: a sale line is (item, ticket); a return is keyed by the sale it returns."""
    items = [{"i_item_sk": i, "i_price": i % 90} for i in range(1, 121)]
    sales = [
        {"ss_item_sk": (t * 7 + k) % 120 + 1, "ss_ticket_number": t, "ss_qty": k}
        for t in range(1, 301)
        for k in range(3)
    ]
    returns = [
        {"sr_item_sk": s["ss_item_sk"], "sr_ticket_number": s["ss_ticket_number"], "sr_amt": i}
        for i, s in enumerate(sales[::4])
    ]
    return [
        profile("item", items, ["i_item_sk"]),
        profile("store_sales", sales, ["ss_item_sk", "ss_ticket_number"], [fk(["ss_item_sk"], "item", ["i_item_sk"])]),
        profile(
            "store_returns",
            returns,
            ["sr_item_sk", "sr_ticket_number"],
            [
                fk(["sr_item_sk"], "item", ["i_item_sk"]),
                fk(["sr_item_sk", "sr_ticket_number"], "store_sales", ["ss_item_sk", "ss_ticket_number"]),
            ],
        ),
    ]


def test_a_composite_reference_takes_every_column_from_one_parent_row(tmp_path: Path) -> None:
    counts = {"store_sales": 2000, "store_returns": 700, "item": 150}
    plan = with_recipes(
        plan_dataset(tpcds_like(), PlanOptions(seed=5, record_counts=counts, target_project="p", target_dataset="t"))
    )
    returns = plan.table("store_returns")
    item_ref = next(c.generator for c in returns.columns if c.name == "sr_item_sk")
    assert isinstance(item_ref, ForeignKeyRef) and item_ref.via is not None  # the sale's item, not a fresh draw
    assert item_ref.one_to_one and item_ref.draw == "sr_item_sk,sr_ticket_number"
    assert any(r.child_table == "store_returns" and len(r.child_columns) == 2 for r in plan.relationships)

    sales = rows_of(generate_table(plan.table("store_sales"), plan.seed, tmp_path / "ss", shard_rows=900)[0])
    sale_keys = {(r["ss_item_sk"], r["ss_ticket_number"]) for r in sales}
    assert len(sales) == 2000 and len(sale_keys) == 2000
    back = rows_of(generate_table(returns, plan.seed, tmp_path / "sr", shard_rows=300)[0])
    return_keys = [(r["sr_item_sk"], r["sr_ticket_number"]) for r in back]
    assert len(back) == 700 and len(set(return_keys)) == 700  # its primary key stays unique
    assert set(return_keys) <= sale_keys  # every return is of a sale that exists, across shards
    assert {i for i, _ in return_keys} <= set(range(1, 151))  # and its single reference to item holds too


def test_a_reference_key_cannot_ask_for_more_rows_than_its_parent_has() -> None:
    counts = {"store_sales": 100, "store_returns": 101}
    plan = plan_dataset(tpcds_like(), PlanOptions(seed=5, record_counts=counts, target_project="p", target_dataset="t"))
    failure = next(f for f in plan.failures if f.table == "store_returns")
    assert "101 rows asked, store_sales has 100" in failure.error and "at most 100 rows" in failure.error


def test_composite_references_sharing_a_column_are_paired_within_its_groups(tmp_path: Path) -> None:
    """bakeoff's challenges: (series, baker) -> bakers and (series, episode) -> episodes share `series`,
    which refers to no table: both are kept, a bakers row and an episodes row of one series paired."""
    bakers = [{"series": s, "baker": b, "age": 20 + b} for s in range(1, 6) for b in range(1, 9)]
    episodes = [{"series": s, "episode": e, "viewers": s * e} for s in range(1, 6) for e in range(1, 7)]
    challenges = [
        {"series": s, "episode": e, "baker": b, "score": (s + e + b) % 10}
        for s in range(1, 6)
        for e in range(1, 7)
        for b in range(1, 9)
    ]
    profiles = [
        profile("bakers", bakers, ["series", "baker"]),
        profile("episodes", episodes, ["series", "episode"]),
        profile(
            "challenges",
            challenges,
            ["series", "episode", "baker"],
            [
                fk(["series", "baker"], "bakers", ["series", "baker"]),
                fk(["series", "episode"], "episodes", ["series", "episode"]),
            ],
        ),
    ]
    plan = plan_dataset(profiles, PlanOptions(seed=1, target_project="p", target_dataset="t"))
    challenges_plan = plan.table("challenges")
    pairings = {
        c.name: c.generator.group_pairing
        for c in challenges_plan.columns
        if isinstance(c.generator, ForeignKeyRef) and c.generator.group_pairing is not None
    }
    assert set(pairings) == {"series", "episode", "baker"}  # every key column from one pairing
    assert len([r for r in plan.relationships if r.child_table == "challenges"]) == 2

    plan = with_recipes(plan)
    generated = {
        name: rows_of(generate_table(plan.table(name), plan.seed, tmp_path / name, shard_rows=100)[0])
        for name in ("bakers", "episodes", "challenges")
    }
    child_rows = generated["challenges"]
    for parent, columns in (("bakers", ["series", "baker"]), ("episodes", ["series", "episode"])):
        parent_keys = {tuple(r[c] for c in columns) for r in generated[parent]}
        assert len(parent_keys) == len(generated[parent])
        assert {tuple(r[c] for c in columns) for r in child_rows} <= parent_keys  # both references hold
    challenge_keys = {(r["series"], r["episode"], r["baker"]) for r in child_rows}
    assert len(challenge_keys) == len(child_rows) == 240  # every pair of a series once: the whole space
    assert len({r["series"] for r in generated["bakers"]}) == 5  # five series, as the source


def test_a_key_that_is_a_reference_takes_its_parents_key(tmp_path: Path) -> None:
    people = [{"id": i + 100, "age": i % 70} for i in range(300)]
    employees = [{"person_id": i + 100, "salary": i * 10} for i in range(150, 300)]  # the later half
    badges = [{"badge_no": i, "person_id": employees[i % 150]["person_id"]} for i in range(150)]
    profiles = [
        profile("person", people, ["id"]),
        profile("employee", employees, ["person_id"], [fk(["person_id"], "person", ["id"])]),
        profile("badge", badges, ["badge_no"], [fk(["person_id"], "employee", ["person_id"])]),
    ]
    counts = {"person": 260, "employee": 250, "badge": 500}
    plan = with_recipes(
        plan_dataset(profiles, PlanOptions(seed=2, record_counts=counts, target_project="p", target_dataset="t"))
    )
    generated = {
        name: rows_of(generate_table(plan.table(name), plan.seed, tmp_path / name, shard_rows=120)[0])
        for name in counts
    }
    person_ids = {r["id"] for r in generated["person"]}
    employee_ids = [r["person_id"] for r in generated["employee"]]
    assert len(set(employee_ids)) == 250 and set(employee_ids) <= person_ids  # unique and no orphan
    assert {r["person_id"] for r in generated["badge"]} <= set(employee_ids)

    too_many = plan_dataset(
        profiles,
        PlanOptions(seed=2, record_counts={"person": 10, "employee": 11}, target_project="p", target_dataset="t"),
    )
    failure = next(f for f in too_many.failures if f.table == "employee")
    assert "11 rows asked, person has 10" in failure.error


@pytest.mark.parametrize(
    ("child_table", "child_column", "parent_table", "parent_column", "expected"),
    [
        ("partsupp", "ps_partkey", "part", "p_partkey", "half of a paired two-column reference"),
        ("lineitem", "l_partkey", "part", "p_partkey", "half of a paired two-column reference"),
        ("lineitem", "l_partkey,l_suppkey", "partsupp", "ps_partkey,ps_suppkey", "only single-column references"),
    ],
)
def test_a_reference_whose_column_is_paired_with_another_cannot_be_rejected(
    child_table: str, child_column: str, parent_table: str, parent_column: str, expected: str
) -> None:
    """Rejecting one half of a pair would break the pairs the other half and the children rely on."""
    problems = rejection_problems(tpch_like(), child_table, child_column, parent_table, parent_column)
    assert any(expected in p for p in problems), problems


def rejection_problems(
    profiles: list[TableProfile], child_table: str, child_column: str, parent_table: str, parent_column: str
) -> list[str]:
    """What validation says of a model rejecting one reference of the offline plan (none accepted)."""
    plan = plan_dataset(profiles, PlanOptions(target_project="p", target_dataset="t"))
    # The same plan as if every reference had been inferred: only then may the model reject one.
    inferred = [r.model_copy(update={"origin": "inferred"}) for r in plan.relationships]
    plan = plan.model_copy(update={"relationships": inferred})
    proposal = RelationshipProposal(
        action="reject",
        child_table=child_table,
        child_column=child_column,
        parent_table=parent_table,
        parent_column=parent_column,
        confidence=0.9,
        evidence="not a reference",
    )
    answer = RelationshipsAnswer(relationships=[proposal])
    outcome, problems = relationships_problems(
        answer, {p.name: p for p in profiles}, plan, inferred, [p.name for p in profiles]
    )
    assert outcome.rejected == []
    return problems


def test_a_reference_another_tables_composite_recomputes_cannot_be_rejected() -> None:
    """store_returns takes (item, ticket) from a store_sales row: its item is store_sales' reference."""
    problems = rejection_problems(tpcds_like(), "store_sales", "ss_item_sk", "item", "i_item_sk")
    assert any("composite references take this column" in p for p in problems), problems


def lahman_like() -> list[TableProfile]:
    """Lahman's shape: a stint of a player's season is with one team season; pitching and fielding
    lines are of a batting stint, so (yearID, teamID) -> Teams holds for all three tables."""
    people = [{"playerID": p, "born": 1980 + p % 20} for p in range(1, 301)]
    teams = [{"yearID": y, "teamID": t, "W": (y + t) % 100} for y in range(2018, 2021) for t in range(1, 31)]
    batting = [
        {"playerID": p, "yearID": y, "stint": s, "teamID": (p * 7 + y + s) % 30 + 1, "H": p % 50}
        for p in range(1, 301)
        for y in range(2018, 2021)
        for s in range(1, 2 + (p % 6 == 0))
    ]
    pitching = [{**{k: r[k] for k in ("playerID", "yearID", "stint", "teamID")}, "W": 3} for r in batting[::3]]
    fielding = [
        {**{k: r[k] for k in ("playerID", "yearID", "stint", "teamID")}, "POS": pos, "PO": pos * 2}
        for r in batting
        for pos in range(1, 2 + r["playerID"] % 2)
    ]
    stint_of = ["playerID", "yearID", "stint"]
    team_of = fk(["yearID", "teamID"], "Teams", ["yearID", "teamID"])
    return [
        profile("People", people, ["playerID"]),
        profile("Teams", teams, ["yearID", "teamID"]),
        profile("Batting", batting, stint_of, [fk(["playerID"], "People", ["playerID"]), team_of]),
        profile("Pitching", pitching, stint_of, [team_of, fk(stint_of, "Batting", stint_of)]),
        profile("Fielding", fielding, [*stint_of, "POS"], [team_of, fk(stint_of, "Batting", stint_of)]),
    ]


def test_a_reference_that_holds_through_another_ones_parent_row_is_kept_too(tmp_path: Path) -> None:
    counts = {"People": 200, "Teams": 60, "Batting": 900, "Pitching": 300, "Fielding": 1500}
    plan = with_recipes(
        plan_dataset(lahman_like(), PlanOptions(seed=4, record_counts=counts, target_project="p", target_dataset="t"))
    )
    assert not plan.failures
    rows = {t: rows_of(generate_table(plan.table(t), plan.seed, tmp_path / t, shard_rows=400)[0]) for t in counts}
    teams = {(r["yearID"], r["teamID"]) for r in rows["Teams"]}
    stints = {(r["playerID"], r["yearID"], r["stint"]) for r in rows["Batting"]}
    assert len(stints) == 900  # Batting's key stays unique
    for table in ("Batting", "Pitching", "Fielding"):
        assert {(r["yearID"], r["teamID"]) for r in rows[table]} <= teams, table  # no orphan team season
    for table in ("Pitching", "Fielding"):
        assert {(r["playerID"], r["yearID"], r["stint"]) for r in rows[table]} <= stints, table  # no orphan stint
    pitching_keys = [(r["playerID"], r["yearID"], r["stint"]) for r in rows["Pitching"]]
    assert len(set(pitching_keys)) == 300  # its key is the reference: one batting stint each


def managers_like() -> list[TableProfile]:
    """Lahman Managers' shape: keyed by (playerID, yearID), a person and the year of a team
    season; no column of its own keeps the key unique. Awards name a manager's season."""
    base = lahman_like()
    managers = [
        {"playerID": p, "yearID": y, "teamID": (p + y) % 30 + 1, "G": 162} for p in range(1, 41) for y in (2018, 2019)
    ]
    awards = [{"playerID": r["playerID"], "yearID": r["yearID"], "votes": i} for i, r in enumerate(managers[::2])]
    return [
        *base[:2],
        profile(
            "Managers",
            managers,
            ["playerID", "yearID"],
            [fk(["playerID"], "People", ["playerID"]), fk(["yearID", "teamID"], "Teams", ["yearID", "teamID"])],
        ),
        profile(
            "Awards",
            awards,
            ["playerID", "yearID", "votes"],
            [fk(["playerID", "yearID"], "Managers", ["playerID", "yearID"])],
        ),
    ]


def test_a_key_of_a_reference_and_part_of_a_composite_one_pairs_parent_rows(tmp_path: Path) -> None:
    counts = {"People": 50, "Teams": 40, "Managers": 1500, "Awards": 3000}
    plan = with_recipes(
        plan_dataset(managers_like(), PlanOptions(seed=5, record_counts=counts, target_project="p", target_dataset="t"))
    )
    assert not plan.failures
    rows = {t: rows_of(generate_table(plan.table(t), plan.seed, tmp_path / t, shard_rows=400)[0]) for t in counts}
    keys = [(r["playerID"], r["yearID"]) for r in rows["Managers"]]
    assert len(keys) == 1500 and len(set(keys)) == 1500  # 34 duplicates in Lahman when drawn independently
    assert {(r["yearID"], r["teamID"]) for r in rows["Managers"]} <= {(r["yearID"], r["teamID"]) for r in rows["Teams"]}
    assert {r["playerID"] for r in rows["Managers"]} <= {r["playerID"] for r in rows["People"]}
    assert {(r["playerID"], r["yearID"]) for r in rows["Awards"]} <= set(keys)  # a child of the pairing finds it


def test_a_key_part_derived_from_its_parents_row_index_identifies_the_row_too(tmp_path: Path) -> None:
    """Managers keyed (playerID, teamID): teamID is the Teams column derived from the row index
    (Teams' key column is yearID), unique per Teams row like the key, so the rows pair."""
    base = managers_like()
    managers = [
        {"playerID": p, "yearID": 2018 + p % 3, "teamID": t, "G": 162} for p in range(1, 41) for t in (p % 30 + 1, 7)
    ]
    managers = [dict(r) for r in {(r["playerID"], r["teamID"]): r for r in managers}.values()]
    keyed = profile(
        "Managers",
        managers,
        ["playerID", "teamID"],
        [fk(["playerID"], "People", ["playerID"]), fk(["yearID", "teamID"], "Teams", ["yearID", "teamID"])],
    )
    counts = {"People": 50, "Teams": 40, "Managers": 1800}
    options = PlanOptions(seed=6, record_counts=counts, target_project="p", target_dataset="t")
    plan = with_recipes(plan_dataset([*base[:2], keyed], options))
    assert not plan.failures
    generators = {c.name: c.generator for c in plan.table("Managers").columns}
    assert all(generators[c].link for c in ("playerID", "teamID"))  # type: ignore[union-attr]
    rows = {t: rows_of(generate_table(plan.table(t), plan.seed, tmp_path / t, shard_rows=500)[0]) for t in counts}
    keys = [(r["playerID"], r["teamID"]) for r in rows["Managers"]]
    assert len(keys) == 1800 and len(set(keys)) == 1800
    assert {(r["yearID"], r["teamID"]) for r in rows["Managers"]} <= {(r["yearID"], r["teamID"]) for r in rows["Teams"]}


def visits_like(people: int = 30, places: int = 10, days: int = 7, visits: int = 30) -> list[TableProfile]:
    """An association of three entities: a visit is (person, place, day), and a note names a visit."""
    rows = [
        {"pid": p % people + 1, "place_id": p % places + 1, "day_id": p % days + 1, "minutes": p} for p in range(visits)
    ]
    notes = [
        {"pid": r["pid"], "place_id": r["place_id"], "day_id": r["day_id"], "note_no": i} for i, r in enumerate(rows)
    ]
    return [
        profile("people", [{"pid": p} for p in range(1, people + 1)], ["pid"]),
        profile("places", [{"place_id": p} for p in range(1, places + 1)], ["place_id"]),
        profile("days", [{"day_id": d} for d in range(1, days + 1)], ["day_id"]),
        profile(
            "visits",
            rows,
            ["pid", "place_id", "day_id"],
            [
                fk(["pid"], "people", ["pid"]),
                fk(["place_id"], "places", ["place_id"]),
                fk(["day_id"], "days", ["day_id"]),
            ],
        ),
        profile(
            "notes",
            notes,
            ["note_no"],
            [fk(["pid", "place_id", "day_id"], "visits", ["pid", "place_id", "day_id"])],
        ),
    ]


def test_a_key_of_three_references_pairs_three_parents_and_a_child_finds_its_tuples(tmp_path: Path) -> None:
    counts = {"people": 30, "places": 10, "days": 7, "visits": 2000, "notes": 3000}
    plan = with_recipes(
        plan_dataset(visits_like(), PlanOptions(seed=1, record_counts=counts, target_project="p", target_dataset="t"))
    )
    assert not plan.failures
    links = [c.generator.link for c in plan.table("visits").columns if isinstance(c.generator, ForeignKeyRef)]
    assert sorted(link.position for link in links if link) == [0, 1, 2]
    rows = {t: rows_of(generate_table(plan.table(t), plan.seed, tmp_path / t, shard_rows=700)[0]) for t in counts}
    keys = [(r["pid"], r["place_id"], r["day_id"]) for r in rows["visits"]]
    assert len(keys) == 2000 and len(set(keys)) == 2000  # drawn independently, ~30 would repeat
    assert {k[0] for k in keys} == set(range(1, 31))  # the tuples spread over every parent
    assert {k[1] for k in keys} == set(range(1, 11)) and {k[2] for k in keys} == set(range(1, 8))
    noted = {(r["pid"], r["place_id"], r["day_id"]) for r in rows["notes"]}
    assert noted <= set(keys) and len(noted) > 1000  # a child of the pairing finds each tuple it names


def test_a_key_of_references_is_refused_exactly_when_the_rows_exceed_its_space() -> None:
    rng = random.Random(11)
    for _ in range(6):
        sizes = [rng.randint(1, 6) for _ in range(3)]
        space = math.prod(sizes)
        for rows, refused in ((space, False), (space + 1, True)):
            counts = {"people": sizes[0], "places": sizes[1], "days": sizes[2], "visits": rows, "notes": 5}
            options = PlanOptions(seed=2, record_counts=counts, target_project="p", target_dataset="t")
            failures = {f.table: f.error for f in plan_dataset(visits_like(), options).failures}
            assert ("visits" in failures) is refused, (sizes, rows, failures)
            if refused:
                assert "primary key (pid, place_id, day_id)" in failures["visits"]
                assert f"the key space holds {space} rows" in failures["visits"]


@pytest.mark.parametrize("parents", [2, 3, 4])
def test_the_pairing_gives_distinct_tuples_of_existing_parent_rows_for_any_sizes(parents: int) -> None:
    rng = random.Random(parents)
    for trial in range(40):
        sizes = [rng.randint(1, 9) for _ in range(parents)]
        space = math.prod(sizes)
        rows = rng.randint(1, space)
        pairings = [
            LinkPairing(
                link_table=f"t{trial}",
                link_rows=rows,
                first_rows=sizes[0],
                second_rows=sizes[1],
                more_rows=sizes[2:],
                position=i,
            )
            for i in range(parents)
        ]
        tuples = [tuple(link_parent_index(trial, p, j) for p in pairings) for j in range(rows)]
        assert len(set(tuples)) == rows, (sizes, rows)  # unique whenever the rows fit
        assert all(0 <= t[i] < sizes[i] for t in tuples for i in range(parents))  # every row exists
        if rows == space:
            assert set(tuples) == set(itertools.product(*(range(n) for n in sizes)))


def test_two_parents_pair_exactly_as_the_first_link_pairing_did() -> None:
    def first_pairing(seed: int, link: LinkPairing, row: int) -> int:  # keys.link_parent_index before k parents
        first = row % link.first_rows
        if link.position == 0:
            return first
        offset = int(stable_uniform(seed, link.link_table, "link-offset", first) * link.second_rows)
        return (row // link.first_rows + offset) % link.second_rows

    for position in (0, 1):
        link = LinkPairing(link_table="partsupp", link_rows=800, first_rows=200, second_rows=10, position=position)
        assert all(link_parent_index(7, link, j) == first_pairing(7, link, j) for j in range(2000))


def test_a_pairing_position_must_name_one_of_its_parents() -> None:
    with pytest.raises(ValueError, match="position 2 names no parent of a pairing of 2 tables"):
        LinkPairing(link_table="t", link_rows=4, first_rows=2, second_rows=2, position=2)


def test_a_key_part_several_parent_rows_share_is_refused_with_the_reason() -> None:
    """Rosters (pid, franch_id): franch_id is taken from a Teams row, whose franch_id is a
    reference of its own that several Teams rows share; pairing Teams rows would repeat keys."""
    people = [{"pid": p} for p in range(1, 31)]
    franchises = [{"franch_id": f} for f in range(1, 6)]
    teams = [{"team_id": t, "franch_id": t % 5 + 1} for t in range(1, 21)]
    rosters = [{"pid": p, "franch_id": p % 5 + 1, "team_id": p % 5 + 1, "games": p} for p in range(1, 31)]
    profiles = [
        profile("people", people, ["pid"]),
        profile("franchises", franchises, ["franch_id"]),
        profile("teams", teams, ["team_id", "franch_id"], [fk(["franch_id"], "franchises", ["franch_id"])]),
        profile(
            "rosters",
            rosters,
            ["pid", "franch_id"],
            [fk(["pid"], "people", ["pid"]), fk(["team_id", "franch_id"], "teams", ["team_id", "franch_id"])],
        ),
    ]
    plan = plan_dataset(profiles, PlanOptions(seed=1, target_project="p", target_dataset="t"))
    assert [f.table for f in plan.failures] == ["rosters"]
    error = plan.failures[0].error
    assert "primary key (pid, franch_id)" in error
    assert "franch_id is teams.franch_id of the composite reference (team_id,franch_id)" in error
    assert {t.name for t in plan.tables} == {"people", "franchises", "teams"}
    # A count of 0 (an empty target on purpose) or 1 repeats no key: nothing to refuse.
    for rows in (0, 1):
        counts = {"rosters": rows}
        plan = plan_dataset(profiles, PlanOptions(seed=1, record_counts=counts, target_project="p", target_dataset="t"))
        assert not plan.failures and plan.table("rosters").row_count == rows
