"""Two-column keys: a link table (part x supplier) and a composite reference to it (TPC-H shape).

Planned from profiles with declared keys only, generated with the real Snowfakery, then
checked like the SQL checks do: unique pairs in the link table, and every pair a child
refers to present there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.llm.answers import RelationshipProposal, RelationshipsAnswer
from bqsynth.llm.validate import relationships_problems
from bqsynth.models import ColumnSchema, ForeignKey, ForeignKeyRef, TableProfile
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


def test_a_link_table_never_asks_for_more_pairs_than_exist() -> None:
    plan = plan_dataset(
        tpch_like(), PlanOptions(seed=3, record_counts={"partsupp": 5000}, target_project="p", target_dataset="t")
    )
    assert plan.table("partsupp").row_count == 200 * 10


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
    profiles = tpch_like()
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
    assert outcome.rejected == [] and any(expected in p for p in problems), problems
