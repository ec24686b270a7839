"""recipe_safety.check_recipe: compiled recipes pass, anything that could run more than our plugin fails."""

from __future__ import annotations

import inspect

import pytest
import yaml

from bqsynth.generation.recipe import PLUGIN, with_recipes
from bqsynth.generation.recipe_safety import ALLOWED_FUNCTIONS, COUNT_EXPRESSION, NESTED_PARAMETERS, check_recipe
from bqsynth.generation.snowfakery_plugin import Bqsynth
from bqsynth.models import DatasetPlan
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import demo_profiles
from tests.unit.test_implicit_groups import drag_race
from tests.unit.test_line_numbers import numbered_table, planned
from tests.unit.test_text_kinds import COMMENTS, text_table
from tests.unit.test_typed_values import typed_profile
from tests.unit.test_vocabulary import vocabulary_table

SMALL = """\
- plugin: bqsynth.generation.snowfakery_plugin.Bqsynth
- option: seed
  default: '42'
- option: start_index
  default: '0'
- option: row_count
  default: '10'
- option: exclusions
  default: none
- object: T
  count: ${{ row_count | int }}
  fields:
    city:
      Bqsynth.fake:
        provider: city
        column: city
        unique: false
    status:
      Bqsynth.null_or:
        rate: 0.1
        value:
          Bqsynth.choice:
            values: '["A", "B"]'
            weights: '[1.0, 2.0]'
    empty: null
"""


@pytest.fixture(scope="module")
def demo_recipes() -> list[str]:
    # The demo warehouse, a table of every BigQuery type (JSON ... arrays of records), and
    # customer comments: the demo has no prose column since its descriptions are in capitals.
    profiles = [*demo_profiles(), typed_profile(), text_table("review", {"comment": COMMENTS}, rows=40)]
    plan = with_recipes(plan_dataset(profiles, PlanOptions(target_project="p", target_dataset="d")))
    # Only a model proposes a vocabulary, never the offline planner: a table with one, as advice leaves it.
    # Nor does the demo number a parent's rows (a line number): a table that does, built as planned.
    numbered = with_recipes(DatasetPlan(seed=1, tables=[numbered_table(rows=10, parents=3)])).tables[0]
    # Nor has it an implicit group parent (group_key, a number within a group, a pairing within groups).
    grouped = planned(drag_race())
    return [t.recipe for t in plan.tables] + [
        vocabulary_table(["Sea Glass", "Oat Linen"], rows=10).recipe,
        numbered.recipe,
        *(t.recipe for t in grouped.tables),
    ]


def test_every_compiled_recipe_passes(demo_recipes: list[str]) -> None:
    assert SMALL and check_recipe(SMALL) == []
    for recipe in demo_recipes:
        assert check_recipe(recipe) == []


def test_the_demo_recipes_use_every_plugin_function(demo_recipes: list[str]) -> None:
    # So "every compiled recipe passes" covers the whole allowlist, nesting included.
    used = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.startswith("Bqsynth."):
                    used.add(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for recipe in demo_recipes:
        walk(yaml.safe_load(recipe))
    assert used == ALLOWED_FUNCTIONS


def test_allowlist_is_read_from_the_plugin() -> None:
    public = {n for n in vars(Bqsynth.Functions) if not n.startswith("_")}
    assert ALLOWED_FUNCTIONS == {f"Bqsynth.{n}" for n in public}
    # Nested definitions are only accepted where the plugin evaluates its argument lazily.
    for name in NESTED_PARAMETERS:
        function = getattr(Bqsynth.Functions, name)
        assert getattr(function, "lazy", False)
        assert NESTED_PARAMETERS[name] <= set(inspect.signature(function).parameters)


def _problems(text: str) -> str:
    problems = check_recipe(text)
    assert problems, "the recipe should have been refused"
    return "\n".join(problems)


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        # Another plugin (imported by Snowfakery while parsing: arbitrary code).
        (lambda r: r.replace(PLUGIN, "snowfakery.standard_plugins.file.File"), "plugin"),
        (lambda r: r + "- plugin: os.system\n", "plugin"),
        (lambda r: r.replace(f"- plugin: {PLUGIN}\n", f"- plugin: {PLUGIN}\n- plugin: {PLUGIN}\n"), "exactly once"),
        # Reading files.
        (lambda r: r + "- include_file: /etc/passwd\n", "include_file"),
        (lambda r: r.replace("  fields:\n", "  include_file: secrets.yml\n  fields:\n"), "keywords"),
        # Templates in values, keys, names and comments.
        (lambda r: r.replace("column: city", "column: ${{ open('/etc/passwd').read() }}"), "delimiter"),
        (lambda r: r.replace("unique: false", "unique: ${{ ''.__class__.__mro__[1].__subclasses__() }}"), "${{"),
        (lambda r: r.replace("default: '42'", "default: '${% import os %}'"), "${%"),
        (lambda r: r.replace("    city:\n", "    << cycler.__init__.__globals__.os.environ >>:\n"), "<<"),
        (lambda r: r.replace("- object: T", "- object: <% lipsum.__globals__ %>"), "<%"),
        (lambda r: "# ${{ 7 * 7 }}\n" + r, "recipe text"),
        (lambda r: r.replace(COUNT_EXPRESSION, "${{ range(10**9) | list | length }}"), "count must be exactly"),
        (lambda r: r.replace(f"count: {COUNT_EXPRESSION}", "count: 1000000"), "count must be exactly"),
        # Functions outside the allowlist, including Snowfakery built-ins and a non-allowlisted provider.
        (lambda r: r.replace("Bqsynth.fake:", "Bqsynth.eval:"), "not allowed"),
        (lambda r: r.replace("Bqsynth.fake:", "fake:"), "not allowed"),
        (lambda r: r.replace("provider: city", "provider: file_path"), "not allowlisted"),
        (lambda r: r.replace("empty: null", "empty:\n      random_choice: [a, b]"), "not allowed"),
        (lambda r: r.replace("empty: null", "empty: ${{ fake.file_path() }}"), "delimiter"),
        (lambda r: r.replace("empty: null", "empty: plain literal"), "exactly one Bqsynth"),
        (lambda r: r.replace("empty: null", "empty:\n      reference: T"), "not allowed"),
        # Parameters outside the plugin's signature, nesting where the plugin does not evaluate definitions.
        (lambda r: r.replace("unique: false", "unique: false\n        path: /etc/passwd"), "no parameter"),
        (lambda r: r.replace("rate: 0.1", "rate:\n          Bqsynth.boolean:\n            p_true: 0.5"), "plain"),
        (lambda r: r.replace("weights: '[1.0, 2.0]'", "weights: 'not json'"), "JSON"),
        (lambda r: r.replace("        weights: '[1.0, 2.0]'\n", ""), "needs"),
        # Other statements and options.
        (lambda r: r + "- macro: m\n  fields: {a: 1}\n", "not allowed"),
        (lambda r: r + "- var: v\n  value: 1\n", "not allowed"),
        (lambda r: r + "- object: U\n  count: ${{ row_count | int }}\n  fields: {}\n", "exactly one object"),
        (lambda r: r + "- option: path\n  default: /etc\n", "option"),
        (lambda r: r.replace("default: '42'", "default: 42"), "strings"),
        # YAML features that construct objects or multiply memory.
        (lambda r: r.replace("provider: city", "provider: !!python/name:os.system"), "tag"),
        (lambda r: r.replace("    city:\n", "    city: &a\n").replace("empty: null", "empty: *a"), "anchor"),
        (lambda r: r + "---\n- plugin: x\n", "YAML"),
        (lambda r: "{not: [valid", "YAML"),
        (lambda r: "just a string", "list of statements"),
    ],
)
def test_poisoned_recipes_are_refused(mutation, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert expected in _problems(mutation(SMALL))


def test_problems_name_where_and_are_not_repeated() -> None:
    text = SMALL.replace("provider: city", "provider: file_path").replace("column: city", "column: ${{ x }}")
    problems = check_recipe(text)
    assert len(problems) == len(set(problems))
    assert any("field 'city'" in p and "file_path" in p for p in problems)


def test_escaped_source_values_are_not_delimiters() -> None:
    # compile_recipe writes source literals with $ and < escaped: they are data, never templates.
    from bqsynth.generation.recipe import json_literal

    document = yaml.safe_load(SMALL)
    poison = ["${{ open('/etc/passwd').read() }}", "<< 7 * 7 >>", "<% x %>", "${% y %}"]
    document[-1]["fields"]["status"]["Bqsynth.null_or"]["value"]["Bqsynth.choice"]["values"] = json_literal(poison)
    document[-1]["fields"]["status"]["Bqsynth.null_or"]["value"]["Bqsynth.choice"]["weights"] = json_literal(
        [1.0] * len(poison)
    )
    assert check_recipe(yaml.safe_dump(document, sort_keys=False)) == []
