"""Editable plans and recipes: the plan as YAML and back, and every way an edit is refused.

A plan is made by the real planner from the demo warehouse's profiles; each test edits its
YAML text (as a user would) or a recipe the real compiler wrote, and checks what the run's
checks say, by table and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import submit
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.recipe_checks import snowfakery_problems, supplied_recipe_problems
from bqsynth.models import Categorical, DatasetPlan, ForeignKeyRef, TableProfile
from bqsynth.planning.plan_file import (
    PlanFileError,
    checked_plan,
    consistency_problems,
    edited_engine,
    edited_plan_problems,
    plan_from_yaml,
    plan_to_yaml,
    with_references_refreshed,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import demo_profiles

MAX_ROWS = 100_000_000


@pytest.fixture(scope="module")
def profiles() -> list[TableProfile]:
    return demo_profiles()


@pytest.fixture(scope="module")
def plan(profiles: list[TableProfile]) -> DatasetPlan:
    return with_recipes(plan_dataset(profiles, PlanOptions(seed=42, target_project="p", target_dataset="t")))


@pytest.fixture(scope="module")
def text(plan: DatasetPlan) -> str:
    return plan_to_yaml(plan)


def edited(text: str, change: Callable[[dict], None]) -> str:
    """The YAML after ``change`` edited its document, as a user's editor would save it."""
    document = yaml.safe_load(text)
    change(document)
    return yaml.safe_dump(document, sort_keys=False)


def table_of(document: dict, name: str) -> dict:
    return next(t for t in document["tables"] if t["name"] == name)


def column_of(document: dict, table: str, name: str) -> dict:
    return next(c for c in table_of(document, table)["columns"] if c["name"] == name)


# --- YAML round trip ----------------------------------------------------------------------------


def test_yaml_round_trip_gives_the_same_plan(plan: DatasetPlan, text: str) -> None:
    back = plan_from_yaml(text, "plan.yaml")
    assert all(t.recipe == "" for t in back.tables)  # recipes are derived, not in the file
    assert with_recipes(back) == plan
    assert plan_to_yaml(back) == text


def test_yaml_keeps_the_models_field_order_and_dates_as_strings(plan: DatasetPlan, text: str) -> None:
    document = yaml.safe_load(text)
    assert list(document) == list(DatasetPlan.model_fields)
    first = document["tables"][0]
    assert list(first) == [f.alias or n for n, f in type(plan.tables[0]).model_fields.items() if n != "recipe"]
    assert "recipe:" not in text
    # A date in a quantile list comes back as the ISO string the model holds, not a datetime.date.
    back = plan_from_yaml(text, "plan.yaml")
    opened = next(c for c in back.table("Dim_Branch").columns if c.name == "opened_on")
    assert all(isinstance(q, str) for q in opened.generator.quantiles)  # type: ignore[union-attr]


def test_an_unedited_plan_fits_its_run(plan: DatasetPlan, profiles: list[TableProfile]) -> None:
    assert edited_plan_problems(plan, profiles, MAX_ROWS) == []
    assert consistency_problems(plan) == []
    assert with_references_refreshed(plan) == plan


# --- refused edits, each naming its table and column -------------------------------------------


def _problems(text: str, profiles: list[TableProfile]) -> str:
    with pytest.raises(PlanFileError) as refused:
        checked_plan(plan_from_yaml(text, "edited.yaml"), profiles, MAX_ROWS, "edited.yaml")
    return str(refused.value)


def test_a_column_the_source_does_not_have_is_refused(text: str, profiles: list[TableProfile]) -> None:
    def rename(document: dict) -> None:
        column_of(document, "Dim_Customer", "email")["name"] = "e_mail"

    message = _problems(edited(text, rename), profiles)
    assert "table Dim_Customer, column e_mail: not a column of the source" in message
    assert "table Dim_Customer, column email: a column of the source with no plan" in message


def test_a_generator_kind_outside_the_vocabulary_is_refused(text: str) -> None:
    def sparkle(document: dict) -> None:
        column_of(document, "Dim_Branch", "state")["generator"] = {"kind": "sparkle"}

    with pytest.raises(PlanFileError, match=r"table Dim_Branch, column state, generator: generator kind 'sparkle'"):
        plan_from_yaml(edited(text, sparkle), "edited.yaml")


def test_a_generator_that_cannot_make_the_column_type_is_refused(text: str, profiles: list[TableProfile]) -> None:
    def boolean_name(document: dict) -> None:
        column_of(document, "Dim_Branch", "manager_name")["generator"] = {"kind": "boolean", "p_true": 0.5}

    message = _problems(edited(text, boolean_name), profiles)
    assert "table Dim_Branch, column manager_name: generator kind 'boolean' cannot make STRING values" in message


def test_a_changed_column_type_is_refused(text: str, profiles: list[TableProfile]) -> None:
    def retype(document: dict) -> None:
        column_of(document, "Dim_Branch", "state")["type"] = "INT64"

    message = _problems(edited(text, retype), profiles)
    assert "table Dim_Branch, column state: planned as INT64 NULLABLE, but the source column is STRING" in message


def test_a_negative_record_count_is_refused(text: str) -> None:
    def negative(document: dict) -> None:
        table_of(document, "Dim_Product")["row_count"] = -5

    with pytest.raises(PlanFileError, match=r"table Dim_Product, row_count: Input should be greater than or equal"):
        plan_from_yaml(edited(text, negative), "edited.yaml")


def test_a_record_count_above_max_rows_is_refused(text: str, profiles: list[TableProfile]) -> None:
    def huge(document: dict) -> None:
        table_of(document, "Dim_Product")["row_count"] = MAX_ROWS + 1

    assert f"table Dim_Product: row_count {MAX_ROWS + 1} exceeds max_rows" in _problems(edited(text, huge), profiles)


def test_a_reference_to_a_table_outside_the_run_is_refused(text: str, profiles: list[TableProfile]) -> None:
    def elsewhere(document: dict) -> None:
        column_of(document, "Dim_Card", "account_id")["generator"]["parent_table"] = "Dim_Nowhere"

    message = _problems(edited(text, elsewhere), profiles)
    assert "table Dim_Card, column account_id: references table Dim_Nowhere, which is not in the plan" in message


def test_a_table_of_the_run_missing_from_the_plan_is_refused(text: str, profiles: list[TableProfile]) -> None:
    def drop(document: dict) -> None:
        document["tables"] = [t for t in document["tables"] if t["name"] != "Fact_Transaction"]

    message = _problems(edited(text, drop), profiles)
    assert "table Fact_Transaction: a source of this run, but not in the plan" in message


def test_a_file_that_is_not_a_plan_is_refused() -> None:
    with pytest.raises(PlanFileError, match="is not valid YAML"):
        plan_from_yaml("tables: [unclosed", "bad.yaml")
    with pytest.raises(PlanFileError, match="must be a mapping with 'seed' and 'tables'"):
        plan_from_yaml("- just\n- a list\n", "list.yaml")


# --- edits that other tables follow -----------------------------------------------------------


def test_a_parents_edited_row_count_moves_its_references(text: str, profiles: list[TableProfile]) -> None:
    def grow(document: dict) -> None:
        table_of(document, "Dim_Account")["row_count"] = 900

    plan = checked_plan(plan_from_yaml(edited(text, grow), "e.yaml"), profiles, MAX_ROWS, "e.yaml")
    card = next(c for c in plan.table("Dim_Card").columns if c.name == "account_id").generator
    assert isinstance(card, ForeignKeyRef) and card.parent_table == "Dim_Account" and card.parent_rows == 900


def test_an_edited_generator_compiles_into_the_recipe(text: str, profiles: list[TableProfile]) -> None:
    def two_states(document: dict) -> None:
        column_of(document, "Dim_Branch", "state")["generator"] = {
            "kind": "categorical",
            "values": ["XX", "YY"],
            "weights": [1, 3],
        }

    plan = with_recipes(checked_plan(plan_from_yaml(edited(text, two_states), "e"), profiles, MAX_ROWS, "e"))
    state = next(c for c in plan.table("Dim_Branch").columns if c.name == "state")
    assert state.generator == Categorical(values=["XX", "YY"], weights=[1.0, 3.0])
    assert 'values: \'["XX", "YY"]\'' in plan.table("Dim_Branch").recipe


# --- supplied recipes -------------------------------------------------------------------------


def test_the_compiled_recipe_passes_the_supplied_recipe_checks(plan: DatasetPlan) -> None:
    table = plan.table("Dim_Branch")
    assert supplied_recipe_problems(table, table.recipe, plan.seed) == []


def test_a_supplied_recipe_outside_the_safe_surface_is_refused(plan: DatasetPlan) -> None:
    table = plan.table("Dim_Branch")
    builtin = table.recipe.replace(
        "    city:\n      Bqsynth.fake:\n        provider: city\n        column: city\n        unique: false\n",
        "    city:\n      fake: city\n",
    )
    assert builtin != table.recipe
    problems = supplied_recipe_problems(table, builtin, plan.seed)
    assert problems and all(p.startswith("recipe-safety check: ") for p in problems)
    assert any("field 'city'" in p for p in problems)
    included = "- include_file: /etc/passwd\n" + table.recipe
    assert any("include_file is not allowed" in p for p in supplied_recipe_problems(table, included, plan.seed))


def test_snowfakerys_validation_refuses_what_it_cannot_run() -> None:
    unknown_provider = "- object: A\n  count: 2\n  fields:\n    x:\n      fake: NoSuchProviderAtAll\n"
    undefined = "- object: A\n  count: 2\n  fields:\n    x: ${{ undefined_name + 1 }}\n"
    assert "Unknown Faker provider 'NoSuchProviderAtAll'" in " ".join(snowfakery_problems(unknown_provider))
    assert "'undefined_name' is undefined" in " ".join(snowfakery_problems(undefined))


def test_a_supplied_recipe_missing_a_column_or_adding_one_is_refused(plan: DatasetPlan) -> None:
    table = plan.table("Dim_Branch")
    without_state = re.sub(r"    state:\n      Bqsynth.choice:\n(        .*\n)+?(?=    opened_on)", "", table.recipe)
    assert "state:" not in without_state
    assert supplied_recipe_problems(table, without_state, plan.seed) == [
        "column state: no field for it in the recipe; add one (null for NULLs)"
    ]
    extra = table.recipe.replace("  fields:\n", "  fields:\n    region: null\n")
    assert supplied_recipe_problems(table, extra, plan.seed)[0].startswith("field region: not a column of")


def test_a_supplied_recipe_whose_values_are_not_the_columns_type_is_refused(plan: DatasetPlan) -> None:
    table = plan.table("Dim_Branch")
    opened = re.search(r"    opened_on:\n      Bqsynth.temporal:\n(        .*\n)+?(?=    manager_name)", table.recipe)
    assert opened is not None
    as_word = table.recipe.replace(
        opened.group(0), "    opened_on:\n      Bqsynth.choice:\n        values: '[\"soon\"]'\n        weights: '[1]'\n"
    )
    assert "dry run: column opened_on: 'soon' is not a DATE" in supplied_recipe_problems(table, as_word, plan.seed)
    bad_key = table.recipe.replace("start: 101", "start: abc")
    assert supplied_recipe_problems(table, bad_key, plan.seed)[0].startswith("dry run of 20 rows failed")


# --- row counts given twice ---------------------------------------------------------------------


def test_record_counts_may_repeat_the_plans_row_counts_but_not_contradict_them(
    plan: DatasetPlan, profiles: list[TableProfile]
) -> None:
    rows = plan.table("Dim_Customer").row_count
    assert checked_plan(plan, profiles, MAX_ROWS, "p.yaml", {"Dim_Customer": rows}) == plan
    with pytest.raises(PlanFileError, match=f"table Dim_Customer: record_counts gives 7 rows, the plan file {rows}"):
        checked_plan(plan, profiles, MAX_ROWS, "p.yaml", {"Dim_Customer": 7})


def test_submit_refuses_a_contradicting_record_count_before_any_work(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    flags = ["--local", "--source-tables=proj.src.Dim_Customer", "--plan", str(path)]
    flags += ["--record-count", "Dim_Customer=7"]
    assert submit.main(flags) == submit.EXIT_CONFIG_ERROR
    assert "table Dim_Customer: record_counts gives 7 rows, the plan file" in capsys.readouterr().err


def test_a_run_from_a_plan_file_says_so_and_keeps_who_first_planned_it() -> None:
    once = edited_engine("gemini:gemini-2.5-flash", "gs://b/p.yaml")
    assert once == "plan file gs://b/p.yaml (planned by gemini:gemini-2.5-flash)"
    assert edited_engine(once, "p2.yaml") == "plan file p2.yaml (planned by gemini:gemini-2.5-flash)"
