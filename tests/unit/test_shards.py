"""A table's shards as work items, each generated on its own, and their results merged back into the table's.

The shards are the generation ParallelFor's items (one pipeline task each), so they must
cover every row exactly once, generate the same rows as one task would, and fail their
table as a whole when any of them fails or is missing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bqsynth.generation.columnar import generate_with_engine
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.shards import merge_shard_results, table_shards, work_items
from bqsynth.models import DatasetPlan, FileFormat, TablePlan, TableResult, WorkItem
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import demo_profiles, generated_rows


def bare_table(name: str, rows: int, **fields: object) -> TablePlan:
    ids = {"source_table": f"p.s.{name}", "target_table": f"p.d.{name}"}
    return TablePlan(name=name, row_count=rows, columns=[], schema=[], **ids, **fields)


@pytest.mark.parametrize(
    ("rows", "shard_rows"), [(1, 1), (10, 3), (12, 4), (250_001, 250_000), (999_999, 7), (5, 1_000), (1_000, 1_000)]
)
def test_a_table_of_n_rows_gives_ceil_n_over_s_shards_covering_each_row_once(rows: int, shard_rows: int) -> None:
    shards = table_shards(bare_table("t", rows), shard_rows)
    assert len(shards) == math.ceil(rows / shard_rows)
    assert [s.shard for s in shards] == list(range(len(shards)))
    assert {s.shards for s in shards} == {len(shards)}
    assert all(0 < s.row_count <= shard_rows for s in shards)
    # Contiguous ranges from 0 to rows: every row index in exactly one shard.
    ends = [s.start_index + s.row_count for s in shards]
    assert [s.start_index for s in shards] == [0, *ends[:-1]] and ends[-1] == rows


def test_an_empty_table_and_a_file_source_are_one_shard() -> None:
    assert table_shards(bare_table("empty", 0), 10) == [
        WorkItem(table="empty", shard=0, shards=1, start_index=0, row_count=0)
    ]
    # A file source's files carry the whole table's record count: one task writes them all.
    files = bare_table("feed", 1_000, file_format=FileFormat(delimiter=";", has_header=True))
    assert [(s.start_index, s.row_count) for s in table_shards(files, 10)] == [(0, 1_000)]


def test_work_items_list_every_shard_of_every_table_in_plan_order() -> None:
    items = work_items([bare_table("a", 5), bare_table("b", 0), bare_table("c", 7)], 3)
    assert [(i.table, i.shard, i.shards) for i in items] == [
        ("a", 0, 2),
        ("a", 1, 2),
        ("b", 0, 1),
        ("c", 0, 3),
        ("c", 1, 3),
        ("c", 2, 3),
    ]
    with pytest.raises(ValueError, match="shard_rows"):
        work_items([bare_table("a", 5)], 0)


def test_a_work_item_survives_kfp_s_parameter_struct() -> None:
    # KFP passes a loop item as a protobuf Struct, whose numbers are floats.
    item = WorkItem(table="Fact", shard=2, shards=4, start_index=800, row_count=400)
    as_struct = json.loads(json.dumps({k: float(v) if isinstance(v, int) else v for k, v in item.model_dump().items()}))
    assert WorkItem.model_validate(as_struct) == item
    assert item.label() == "shard 3 of 4 (rows 800-1199)"


@pytest.fixture(scope="module")
def demo_plan() -> DatasetPlan:
    options = PlanOptions(target_project="p", target_dataset="d", record_counts={"Fact_Transaction": 1500})
    return with_recipes(plan_dataset(demo_profiles(), options))


@pytest.mark.parametrize("engine", ["columnar", "snowfakery"])
def test_shards_generated_as_separate_tasks_give_the_rows_of_one_task(
    demo_plan: DatasetPlan, engine: str, tmp_path: Path
) -> None:
    table = demo_plan.table("Fact_Transaction")
    shard_rows = 400
    items = table_shards(table, shard_rows)
    assert len(items) == 4
    separate = [
        generate_with_engine(table, demo_plan.seed, tmp_path / f"shard-{i.shard}", engine=engine, only=i) for i in items
    ]
    assert [run.rows for run in separate] == [400, 400, 400, 300]
    # Each task names its file after its shard, so all of them can share the table's folder.
    suffix = ".parquet" if engine == "columnar" else ".json"
    assert [f.name for run in separate for f in run.files] == [f"Fact_Transaction-{n:05d}{suffix}" for n in range(4)]
    whole = generate_with_engine(table, demo_plan.seed, tmp_path / "whole", engine=engine, shard_rows=shard_rows)
    assert generated_rows([f for run in separate for f in run.files]) == generated_rows(whole.files)
    keys = [row["transaction_id"] for row in generated_rows(whole.files)]
    assert len(keys) == len(set(keys)) == table.row_count


def shard_result(item: WorkItem, status: str = "Completed", error: str | None = None) -> TableResult:
    return TableResult(
        table=item.table,
        source_table=f"p.s.{item.table}",
        target_table=f"p.d.{item.table}",
        rows_requested=item.row_count,
        rows_generated=item.row_count if status == "Completed" else 0,
        files=[f"gs://b/{item.table}-{item.shard:05d}.json"] if status == "Completed" else [],
        status=status,  # type: ignore[arg-type]
        error=error,
        generate_seconds=1.5,
        engine="columnar: engine=auto",
        shard=item,
        shards=item.shards,
    )


def test_a_table_whose_shards_all_completed_is_one_result_with_every_file_in_shard_order() -> None:
    table = bare_table("Fact", 1_000)
    items = table_shards(table, 300)
    merged = merge_shard_results(table, items, [shard_result(i) for i in reversed(items)])
    assert merged.status == "Completed" and merged.error is None
    assert (merged.rows_requested, merged.rows_generated, merged.shards, merged.shard) == (1_000, 1_000, 4, None)
    assert merged.files == [f"gs://b/Fact-{n:05d}.json" for n in range(4)]
    assert merged.generate_seconds == 6.0 and merged.engine == "columnar: engine=auto"


def test_a_failed_or_missing_shard_fails_its_table_by_name_and_drops_every_file() -> None:
    table = bare_table("Fact", 1_000)
    items = table_shards(table, 300)
    failed = shard_result(items[1], "Failed", "Snowfakery failed on table Fact: boom")
    merged = merge_shard_results(table, items, [shard_result(items[0]), failed, shard_result(items[2])])
    assert merged.status == "Failed" and merged.files == []
    assert merged.error is not None
    assert merged.error.startswith("Fact was not loaded into p.d.Fact: ")
    assert "shard 2 of 4 (rows 300-599) failed: Snowfakery failed on table Fact: boom" in merged.error
    assert "shard 4 of 4 (rows 900-999): no generate result in this batch" in merged.error
    assert "shard 1 of 4" not in merged.error and "shard 3 of 4" not in merged.error


def test_a_table_of_one_failed_shard_keeps_its_own_error() -> None:
    table = bare_table("Dim", 10)
    [item] = table_shards(table, 300)
    merged = merge_shard_results(table, [item], [shard_result(item, "Failed", "Dim: the source is gone")])
    assert (merged.status, merged.error, merged.shards) == ("Failed", "Dim: the source is gone", 1)
