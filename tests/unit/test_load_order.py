"""The load step's order: parents before children, and which parents count as failed."""

from __future__ import annotations

from bqsynth.models import TableResult
from bqsynth.steps.load import failed_parents, load_waves


def result(table: str, status: str) -> TableResult:
    return TableResult(table=table, source_table=f"p.d.{table}", target_table=f"p.t.{table}", status=status)


def test_parents_load_in_earlier_waves_than_their_children() -> None:
    parents = {"card": ["account"], "account": ["customer", "branch"], "customer": [], "branch": [], "note": []}
    assert load_waves(["card", "account", "customer", "branch", "note"], parents) == [
        ["customer", "branch", "note"],
        ["account"],
        ["card"],
    ]


def test_a_reference_cycle_loads_last_and_does_not_stall_the_order() -> None:
    parents = {"a": ["b"], "b": ["a"], "c": [], "d": ["a"]}
    assert load_waves(["a", "b", "c", "d"], parents) == [["c"], ["a", "b", "d"]]


def test_only_parents_that_did_not_complete_count_as_failed() -> None:
    parents = {"account": ["customer", "branch", "product"]}
    results = {"customer": result("customer", "Completed"), "branch": result("branch", "Failed")}
    assert failed_parents("account", parents, results) == ["branch"]  # product: not decided yet
