"""A column unique in the source stays unique in the synthetic table, though nothing names it a key."""

from __future__ import annotations

from pathlib import Path

from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.llm.answers import GeneratorChoice
from bqsynth.llm.apply import generator_for_choice
from bqsynth.models import NumberFromQuantiles
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.unit.test_composite_keys import profile, rows_of


def members(count: int = 120) -> list[dict[str, int]]:
    # loyalty_number: unique, not key-named, in a narrow range (the source uses 120 of 131 values)
    return [{"member_id": i + 1, "loyalty_number": 5000 + i + i // 11, "visits": i % 9} for i in range(count)]


def test_a_unique_integer_column_stays_unique_beyond_its_source_range(tmp_path: Path) -> None:
    plan = with_recipes(
        plan_dataset(
            [profile("members", members(), ["member_id"])],
            PlanOptions(seed=4, record_counts={"members": 400}, target_project="p", target_dataset="t"),
        )
    )
    column = next(c for c in plan.table("members").columns if c.name == "loyalty_number")
    assert isinstance(column.generator, NumberFromQuantiles) and column.generator.unique
    assert "widened to 5000..5399" in column.reason
    rows = rows_of(generate_table(plan.table("members"), plan.seed, tmp_path / "m", shard_rows=150)[0])
    numbers = [r["loyalty_number"] for r in rows]
    assert len(numbers) == 400 and len(set(numbers)) == 400  # unique across shards
    assert min(numbers) >= 5000 and max(numbers) <= 5399
    visits = [r["visits"] for r in rows]
    assert len(set(visits)) < 20  # a repeating column is not made unique


def test_a_unique_integer_column_keeps_its_source_range_when_it_holds_the_rows(tmp_path: Path) -> None:
    plan = with_recipes(
        plan_dataset(
            [profile("members", members(), ["member_id"])],
            PlanOptions(seed=4, record_counts={"members": 100}, target_project="p", target_dataset="t"),
        )
    )
    rows = rows_of(generate_table(plan.table("members"), plan.seed, tmp_path / "m", shard_rows=40)[0])
    numbers = [r["loyalty_number"] for r in rows]
    assert len(set(numbers)) == 100 and 5000 <= min(numbers) and max(numbers) <= 5000 + 119 + 119 // 11


def test_a_model_choosing_number_for_a_unique_integer_column_keeps_it_unique() -> None:
    members_profile = profile("members", members(), ["member_id"])
    plan = plan_dataset([members_profile], PlanOptions(seed=4, target_project="p", target_dataset="t"))
    column = next(c for c in plan.table("members").columns if c.name == "loyalty_number")
    generator, problems = generator_for_choice(
        GeneratorChoice(column="loyalty_number", kind="number"),
        column,
        members_profile.stats["loyalty_number"],
        rows=300,
        identifying=False,
        min_category_count=5,
    )
    assert problems == [] and isinstance(generator, NumberFromQuantiles) and generator.unique
    assert generator.quantiles[-1] - generator.quantiles[0] + 1 >= 300
