"""Never a silent column of NULLs: a column the source fills must be filled in the target."""

from __future__ import annotations

from bqsynth.evaluation.evaluate import filled_columns
from bqsynth.evaluation.integrity import filled_counts_sql
from bqsynth.models import (
    ArrayValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    NullValue,
    TablePlan,
    TableQuality,
)


def table() -> TablePlan:
    plans = [
        ColumnPlan(name="doc", type="JSON", generator=NullValue(), null_rate=0.1, reason="not generated yet"),
        ColumnPlan(
            name="rare", type="STRING", generator=Categorical(values=["x"], weights=[1.0]), null_rate=0.99, reason=""
        ),
        ColumnPlan(
            name="tags",
            type="STRING",
            mode="REPEATED",
            generator=ArrayValue(
                element=Categorical(values=["a"], weights=[1.0]), lengths=Categorical(values=[0, 1], weights=[9, 1])
            ),
            null_rate=0.0,
            reason="",
        ),
        ColumnPlan(name="empty", type="STRING", generator=NullValue(), null_rate=1.0, reason="all NULL in the source"),
    ]
    schema = [ColumnSchema(name=p.name, type=p.type, mode=p.mode) for p in plans]
    return TablePlan(name="t", source_table="p.s.t", target_table="p.d.t", row_count=100, columns=plans, schema=schema)


SOURCE = [{"doc": {"a": 1}, "rare": "x", "tags": ["a"], "empty": None}, {"doc": None, "rare": None, "tags": []}]


def test_columns_the_plan_expects_to_fill_are_checked() -> None:
    # doc: 90 expected values; tags: 10 non-empty arrays expected; rare: 1 expected (an empty target is chance)
    assert filled_columns(table(), SOURCE, rows_in_target=100) == [("doc", False), ("tags", True)]
    assert filled_columns(table(), SOURCE, rows_in_target=10) == [("doc", False)]
    assert filled_columns(table(), [{"doc": None}], rows_in_target=100) == []  # nothing in the source


def test_the_filled_count_sql_counts_values_and_non_empty_arrays() -> None:
    sql = filled_counts_sql("p.d.t", [("doc", False), ("tags", True)])
    assert sql == "SELECT COUNTIF(`doc` IS NOT NULL) AS c0, COUNTIF(ARRAY_LENGTH(`tags`) > 0) AS c1 FROM `p.d.t`"


def test_a_column_left_empty_fails_the_table() -> None:
    quality = TableQuality(
        table="t",
        target_table="p.d.t",
        rows_requested=100,
        rows_generated=100,
        rows_loaded=100,
        rows_in_target=100,
        duplicate_primary_keys=0,
        foreign_key_orphans=0,
        status="Completed",
        seconds=1.0,
    )
    assert quality.ok
    assert not quality.model_copy(update={"columns_left_empty": ["doc"]}).ok
