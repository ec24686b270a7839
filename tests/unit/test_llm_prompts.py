"""What a model is shown: masking per policy, bounded size whatever the table, repair turns."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bqsynth.llm.base import estimate_tokens
from bqsynth.llm.columns import leaf_plans
from bqsynth.llm.prompts import (
    PromptLimits,
    chunk_items,
    clip,
    generation_prompts,
    masked_paths,
    relationships_prompts,
    semantics_prompts,
    shape_of,
    with_repair,
)
from bqsynth.models import (
    Categorical,
    ColumnPlan,
    ColumnSchema,
    ColumnStats,
    DatasetPlan,
    SequenceKey,
    TablePlan,
    TableProfile,
    ValueCount,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.semantics import sample_values
from tests.factories import demo_profiles


@pytest.fixture(scope="module")
def demo() -> tuple[list[TableProfile], DatasetPlan]:
    profiles = demo_profiles()
    return profiles, plan_dataset(profiles, PlanOptions(target_project="p", target_dataset="d"))


def _all_prompts(profiles: list[TableProfile], plan: DatasetPlan, limits: PromptLimits) -> list[Any]:
    prompts = relationships_prompts(profiles, plan, plan.relationships, limits)
    for profile, table in zip(profiles, plan.tables, strict=True):
        prompts += semantics_prompts(profile, table, limits)
        prompts += generation_prompts(profile, table, {}, limits)
    return prompts


def _leaked(values: set[str], text: str) -> list[str]:
    """Values found as whole tokens ("Mark" in "Money Market" or "5071" in "25.755071" is no leak)."""
    return sorted(v for v in values if v in text and re.search(rf"(?<![\w.]){re.escape(v)}(?![\w.])", text))


def _identifying_values(profiles: list[TableProfile], plan: DatasetPlan) -> set[str]:
    """Source values of identifying columns that are long enough to be recognised in a prompt."""
    values = set()
    for profile, table in zip(profiles, plan.tables, strict=True):
        for path in masked_paths(table):
            for value in sample_values(profile, path):
                text = str(value)
                if len(text) >= 4 and any(c.isalnum() for c in text):
                    values.add(text)
    return values


def test_shapes_keep_layout_not_characters() -> None:
    assert shape_of("Ann Lee-Smith", 40) == "Aaa Aaa-Aaaaa"
    assert shape_of("+1-303-555-0167", 40) == "+9-999-999-9999"
    assert shape_of("jane.doe@example.com", 40) == "aaaa.aaa@aaaaaaa.aaa"
    assert shape_of("${{ open() }}", 40) == "*** aaaa() **"
    assert shape_of("x" * 100, 10) == "a" * 10 + "…"
    assert clip("line\nbreak\x00", 100) == "line break "


def test_identifying_values_never_appear_under_the_default_policy(demo: tuple) -> None:
    profiles, plan = demo
    limits = PromptLimits()
    assert limits.sample_policy == "masked"
    text = "".join(p.system + p.turns[0].text for p in _all_prompts(profiles, plan, limits))
    secrets = _identifying_values(profiles, plan)
    assert len(secrets) > 500  # names, emails, phones, streets, card numbers, keys ...
    assert _leaked(secrets, text) == []
    # Non-identifying frequent values are shown: they are what the model needs.
    assert "Retail" in text and "Checking" in text


def test_policy_none_sends_no_values_and_raw_sends_them(demo: tuple) -> None:
    profiles, plan = demo
    none = "".join(p.turns[0].text for p in _all_prompts(profiles, plan, PromptLimits(sample_policy="none")))
    raw = "".join(p.turns[0].text for p in _all_prompts(profiles, plan, PromptLimits(sample_policy="raw")))
    for prompt in _all_prompts(profiles, plan, PromptLimits(sample_policy="none")):
        payload = json.loads(prompt.turns[0].text)
        blocks = [t["sample"] for t in payload["tables"]] if payload["task"] == "relationships" else [payload["sample"]]
        assert blocks and all(block is None for block in blocks)
    assert '"top_values"' not in none
    assert "Retail" not in none
    secrets = _identifying_values(profiles, plan)
    assert _leaked(secrets, none) == []
    assert _leaked(secrets, raw), "raw sends sample values as they are"


def test_masked_columns_follow_the_plan(demo: tuple) -> None:
    _, plan = demo
    customer = plan.table("Dim_Customer")
    masked = masked_paths(customer)
    assert {"first_name", "email", "phone_number", "street_address", "city", "date_of_birth", "customer_id"} <= masked
    assert not {"state", "segment", "is_active", "credit_score"} & masked


def test_prompts_name_their_task_table_and_items(demo: tuple) -> None:
    profiles, plan = demo
    prompt = semantics_prompts(profiles[2], plan.tables[2], PromptLimits())[0]
    payload = json.loads(prompt.turns[0].text)
    assert (payload["task"], payload["table"]) == ("semantics", "Dim_Customer")
    assert chunk_items(prompt) == list(leaf_plans(plan.tables[2].columns))
    assert prompt.chars == len(prompt.system) + len(prompt.turns[0].text)
    assert prompt.estimated_tokens == estimate_tokens(prompt.chars)
    rel = relationships_prompts(profiles, plan, plan.relationships, PromptLimits())[0]
    assert chunk_items(rel) == [t.name for t in plan.tables]
    known = json.loads(rel.turns[0].text)["known"]
    assert {"Dim_Card.account_id -> Dim_Account.account_id", "Dim_Employee.manager_id -> Dim_Employee.employee_id"} <= {
        f"{k['child_table']}.{k['child_column']} -> {k['parent_table']}.{k['parent_column']}" for k in known
    }
    # The model adjudicates with the evidence, which carries names and verdicts but never values.
    assert all(
        k["evidence"] and not any(ch.isdigit() for ch in k["evidence"]) for k in known if k["origin"] == "inferred"
    )
    turned_down = plan.model_copy(
        update={
            "rejected_relationships": [plan.relationships[0].model_copy(update={"evidence": "x; 3 of 9; rejected"})]
        }
    )
    rejected = json.loads(relationships_prompts(profiles, turned_down, [], PromptLimits())[0].turns[0].text)["rejected"]
    assert [r["evidence"] for r in rejected] == ["x; rejected"]


def _wide_profile(columns: int, rows: int, value_chars: int) -> tuple[TableProfile, DatasetPlan]:
    names = [f"col_{i:03d}_" + "x" * 40 for i in range(columns)]
    schema = [ColumnSchema(name=n, type="STRING") for n in names]
    sample = [{n: f"value {r} " + "y" * value_chars for n in names} for r in range(rows)]
    stats = {
        n: ColumnStats(
            path=n,
            type="STRING",
            row_count=rows,
            distinct_count=3,
            top_values=[ValueCount(value=f"v{k} " + "z" * value_chars, count=rows // 3) for k in range(3)],
            min_length=value_chars,
            max_length=value_chars + 10,
            avg_length=float(value_chars),
        )
        for n in names
    }
    profile = TableProfile(
        table_id="p.d.Wide",
        name="Wide",
        row_count=rows,
        columns=schema,
        stats=stats,
        sample=sample,
        description="d" * 5000,
    )
    return profile, plan_dataset([profile], PlanOptions(target_project="p", target_dataset="d"))


@pytest.fixture(scope="module")
def wide() -> tuple[TableProfile, DatasetPlan]:
    # 300 columns with long names, a long description and 300-character values: unbounded,
    # one prompt would hold well over 300 x 8 x 300 characters of sample alone.
    return _wide_profile(columns=300, rows=40, value_chars=300)


@pytest.mark.parametrize("policy", ["none", "masked", "raw"])
def test_prompt_size_is_bounded_whatever_the_table(policy: str, wide: tuple[TableProfile, DatasetPlan]) -> None:
    profile, plan = wide
    limits = PromptLimits(sample_policy=policy, max_prompt_chars=12_000)
    for prompts in (
        semantics_prompts(profile, plan.tables[0], limits),
        generation_prompts(profile, plan.tables[0], {}, limits),
        relationships_prompts([profile], plan, [], limits),
    ):
        assert all(p.chars <= limits.max_prompt_chars for p in prompts)
    chunks = semantics_prompts(profile, plan.tables[0], limits)
    assert len(chunks) >= 300 // limits.max_columns_per_prompt
    # Every column is asked about exactly once, in order, across the chunks.
    assert [c for p in chunks for c in chunk_items(p)] == list(leaf_plans(plan.tables[0].columns))
    assert [(p.chunk, p.chunks) for p in chunks] == [(i, len(chunks)) for i in range(len(chunks))]


def test_repair_turns_echo_the_answer_and_the_errors_within_bounds(demo: tuple) -> None:
    profiles, plan = demo
    limits = PromptLimits(max_repair_chars=1000, max_repair_errors=3)
    prompt = generation_prompts(profiles[0], plan.tables[0], {}, limits)[0]
    repaired = with_repair(prompt, "{" + "x" * 5000, [f"error {i}" for i in range(10)], limits)
    roles = [t.role for t in repaired.turns]
    assert roles == ["user", "model", "user"]
    assert repaired.turns[0] == prompt.turns[0]
    assert len(repaired.turns[1].text) <= 1000
    assert "error 2" in repaired.turns[2].text and "error 3" not in repaired.turns[2].text
    assert "7 more" in repaired.turns[2].text
    # A second repair starts from the original request again: prompts do not grow round after round.
    again = with_repair(prompt, "{}", ["e"], limits)
    assert len(again.turns) == 3


def _keyed_table(name: str, references: int) -> tuple[TableProfile, TablePlan]:
    """A table with a row-index key and INT64 columns that could reference other keys (built directly:
    planning hundreds of tables with the offline engine is slow and beside the point here)."""
    key = ColumnSchema(name=f"{name}_id", type="INT64", mode="REQUIRED")
    refs = [ColumnSchema(name=f"ref_{c:03d}_" + "q" * 60, type="INT64") for c in range(references)]
    stats = {c.name: ColumnStats(path=c.name, type="INT64", row_count=100, distinct_count=7) for c in [key, *refs]}
    profile = TableProfile(
        table_id=f"p.d.{name}", name=name, row_count=100, columns=[key, *refs], stats=stats, primary_key=[key.name]
    )
    columns = [ColumnPlan(name=key.name, type="INT64", mode="REQUIRED", semantic_type="key", generator=SequenceKey())]
    columns += [
        ColumnPlan(
            name=c.name, type="INT64", semantic_type="categorical", generator=Categorical(values=[1], weights=[1])
        )
        for c in refs
    ]
    plan = TablePlan(
        name=name, source_table=profile.table_id, target_table=f"p.t.{name}", row_count=100, columns=columns,
        schema=profile.columns,
    )  # fmt: skip
    return profile, plan


def test_relationship_prompts_are_bounded_for_many_tables_and_wide_ones() -> None:
    built = [_keyed_table(f"table_with_a_rather_long_name_{t:03d}", 300 if t == 7 else 3) for t in range(300)]
    profiles = [p for p, _ in built]
    plan = DatasetPlan(seed=1, tables=[t for _, t in built])
    limits = PromptLimits(max_prompt_chars=10_000)
    prompts = relationships_prompts(profiles, plan, [], limits)
    assert all(p.chars <= limits.max_prompt_chars for p in prompts)
    assert [t for p in prompts for t in chunk_items(p)] == [t.name for t in plan.tables]
    omitted = [json.loads(p.turns[0].text).get("omitted") for p in prompts]
    # 300 keys never fit one prompt, nor 300 candidate columns: what is left out is counted, not hidden.
    assert all(o and o["keys"] > 0 for o in omitted)
    assert any(o["columns"] > 0 for o in omitted)
