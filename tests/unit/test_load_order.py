"""The load step's order: parents before children, and which parents count as failed."""

from __future__ import annotations

from bqsynth.models import ColumnPlan, DatasetPlan, NullValue, Relationship, TablePlan, TableResult
from bqsynth.planning.relationships import order_tables, table_parents
from bqsynth.steps.load import failed_parents, load_waves, parent_tables


def rel(child: str, parent: str) -> Relationship:
    return Relationship(
        child_table=child, child_columns=["x"], parent_table=parent, parent_columns=["id"], origin="inferred"
    )


def table(name: str) -> TablePlan:
    column = ColumnPlan(name="x", type="STRING", generator=NullValue())
    return TablePlan(name=name, source_table=f"p.d.{name}", target_table=f"p.t.{name}", row_count=1,
                     columns=[column], schema=[{"name": "x", "type": "STRING"}])  # fmt: skip


def result(table: str, status: str) -> TableResult:
    return TableResult(table=table, source_table=f"p.d.{table}", target_table=f"p.t.{table}", status=status)


def test_parents_load_in_earlier_waves_than_their_children() -> None:
    parents = {"card": ["account"], "account": ["customer", "branch"], "customer": [], "branch": [], "note": []}
    assert load_waves(["card", "account", "customer", "branch", "note"], parents) == [
        ["branch", "customer", "note"],
        ["account"],
        ["card"],
    ]


def test_a_reference_cycle_is_broken_where_the_generation_order_breaks_it() -> None:
    parents = {"a": ["b"], "b": ["a"], "c": [], "d": ["a"]}
    # a is placed before its parent b (the order's cycle note), so b and d, which wait for a, follow it.
    assert load_waves(["a", "b", "c", "d"], parents) == [["c", "a"], ["b", "d"]]
    relationships = [rel("a", "b"), rel("b", "a"), rel("d", "a")]
    order = order_tables(["a", "b", "c", "d"], relationships)
    assert order.notes == ["cycle: a placed before its parent(s) b"]
    assert load_waves(["a", "b", "c", "d"], parents) == order.waves


def test_the_load_step_uses_the_planners_parents() -> None:
    relationships = [rel("card", "account"), rel("account", "customer"), rel("employee", "employee"),
                     rel("account", "not_planned")]  # fmt: skip
    plan = DatasetPlan(seed=1, tables=[table(n) for n in ("card", "account", "customer", "employee")],
                       relationships=relationships)  # fmt: skip
    parents = parent_tables(plan)
    assert parents == table_parents(["card", "account", "customer", "employee"], relationships)
    assert parents == {"account": ["customer"], "card": ["account"], "customer": [], "employee": []}
    names = [t.name for t in plan.tables]
    assert (
        load_waves(names, parents)
        == order_tables(names, relationships).waves
        == [
            ["customer", "employee"],
            ["account"],
            ["card"],
        ]
    )


def test_only_parents_that_did_not_complete_count_as_failed() -> None:
    parents = {"account": ["customer", "branch", "product"]}
    results = {"customer": result("customer", "Completed"), "branch": result("branch", "Failed")}
    assert failed_parents("account", parents, results) == ["branch"]  # product: not decided yet
