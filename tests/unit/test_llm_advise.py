"""advise_plan with a scripted in-memory advisor: changes, repairs, fallbacks, budget, report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from bqsynth.evaluation.run_summary import key_counts
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.recipe_safety import check_recipe
from bqsynth.llm import AdviceOptions, OfflineAdvisor, PromptLimits, advise_plan
from bqsynth.llm import advise as advise_module
from bqsynth.llm.answers import (
    ColumnMeaning,
    ColumnRule,
    GenerationAnswer,
    GeneratorChoice,
    RelationshipProposal,
    RelationshipsAnswer,
    SemanticsAnswer,
)
from bqsynth.llm.base import GenerationRequest, Prompt, RelationshipsRequest, Reply, SemanticsRequest
from bqsynth.llm.columns import leaf_plans
from bqsynth.models import (
    Categorical,
    DatasetPlan,
    FakerValue,
    ForeignKeyRef,
    FreeText,
    NumberFromQuantiles,
    RunSummary,
    TableProfile,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import demo_profiles
from tests.unit.test_llm_validate import rename_column

Scripted = Reply[Any] | Callable[[Any], Reply[Any]]


def ok(answer: BaseModel, tokens: int = 100) -> Reply[Any]:
    return Reply(answer=answer, text=answer.model_dump_json(), tokens=tokens, tokens_measured=True)


class ScriptedAdvisor:
    """A metered advisor playing scripted replies per (task, table), agreeing with the offline engine otherwise."""

    name = "scripted"
    metered = True

    def __init__(self, tokens: int = 100) -> None:
        self.tokens = tokens
        self.offline = OfflineAdvisor()
        self.script: dict[tuple[str, str | None], list[Scripted]] = {}
        self.prompts: list[Prompt] = []

    def on(self, task: str, table: str | None, *replies: Scripted) -> ScriptedAdvisor:
        self.script.setdefault((task, table), []).extend(replies)
        return self

    def _reply(self, request: Any, default: Callable[[], Reply[Any]]) -> Reply[Any]:
        prompt: Prompt = request.prompt
        self.prompts.append(prompt)
        queue = self.script.get((prompt.task, prompt.table))
        if queue:
            scripted = queue.pop(0)
            return scripted(request) if callable(scripted) else scripted
        agreed = default()
        return Reply(answer=agreed.answer, text=agreed.text, tokens=self.tokens, tokens_measured=True)

    def advise_semantics(self, request: SemanticsRequest) -> Reply[SemanticsAnswer]:
        return self._reply(request, lambda: self.offline.advise_semantics(request))

    def advise_relationships(self, request: RelationshipsRequest) -> Reply[RelationshipsAnswer]:
        return self._reply(request, lambda: self.offline.advise_relationships(request))

    def advise_generation(self, request: GenerationRequest) -> Reply[GenerationAnswer]:
        return self._reply(request, lambda: ok(GenerationAnswer(table=request.table_plan.name)))

    def asked(self, task: str, table: str | None) -> list[Prompt]:
        return [p for p in self.prompts if p.task == task and p.table == table]


def semantics(request: SemanticsRequest, **overrides: str) -> SemanticsAnswer:
    leaves = leaf_plans(request.table_plan.columns)
    return SemanticsAnswer(
        table=request.table_plan.name,
        columns=[
            ColumnMeaning(column=c, semantic_type=overrides.get(c, leaves[c].semantic_type), human_name=f"the {c}")
            for c in request.columns
        ],
    )


def generation(table: str, *choices: GeneratorChoice, rules: tuple[ColumnRule, ...] = ()) -> GenerationAnswer:
    return GenerationAnswer(table=table, columns=list(choices), rules=list(rules))


ADD_POSTING_REF = RelationshipProposal(
    action="add",
    child_table="Fact_Transaction",
    child_column="posting_ref",
    parent_table="Dim_Account",
    parent_column="account_id",
    confidence=0.9,
    evidence="posting_ref values are account ids",
)


@pytest.fixture(scope="module")
def demo() -> tuple[list[TableProfile], DatasetPlan]:
    profiles = [
        rename_column(p, "account_id", "posting_ref") if p.name == "Fact_Transaction" else p for p in demo_profiles()
    ]
    return profiles, with_recipes(plan_dataset(profiles, PlanOptions(target_project="p", target_dataset="d")))


def _diff(advised: DatasetPlan, offline: DatasetPlan) -> dict[str, set[str]]:
    """Leaf paths whose plan differs, per table."""
    changed = {}
    for table in advised.tables:
        before, after = leaf_plans(offline.table(table.name).columns), leaf_plans(table.columns)
        paths = {p for p in after if before.get(p) != after[p]}
        if paths:
            changed[table.name] = paths
    return changed


def test_the_plan_changes_exactly_where_the_answers_say(demo: tuple) -> None:
    profiles, offline = demo
    branch_name = GeneratorChoice(
        column="branch_name", kind="faker", provider="company", reason="branch names look like firms"
    )
    card_rules = (
        ColumnRule(kind="compare", target="expires_on", operands=["issued_on"], op=">="),
        ColumnRule(kind="compare", target="issued_on", operands=["expires_on"], op=">="),
    )
    advisor = (
        ScriptedAdvisor()
        .on("relationships", None, lambda r: ok(RelationshipsAnswer(relationships=[ADD_POSTING_REF])))
        .on("semantics", "Dim_Branch", lambda r: ok(semantics(r, branch_name="company.name")))
        .on("generation", "Dim_Branch", ok(generation("Dim_Branch", branch_name)))
        .on(
            "generation",
            "Dim_Product",
            ok(generation("Dim_Product", GeneratorChoice(column="monthly_fee", kind="number"))),
        )
        .on("generation", "Dim_Card", ok(generation("Dim_Card", rules=card_rules)))
    )
    advised = advise_plan(profiles, offline, advisor, AdviceOptions())
    plan, report = advised.plan, advised.report
    assert _diff(plan, offline) == {
        "Dim_Branch": {"branch_name"},
        "Dim_Product": {"monthly_fee"},
        "Fact_Transaction": {"posting_ref"},
    }
    branch = leaf_plans(plan.table("Dim_Branch").columns)["branch_name"]
    assert (branch.semantic_type, branch.generator, branch.identifying) == (
        "company.name",
        FakerValue(provider="company"),
        True,
    )
    assert "branch names look like firms" in branch.reason
    assert isinstance(leaf_plans(plan.table("Dim_Product").columns)["monthly_fee"].generator, NumberFromQuantiles)
    reference = leaf_plans(plan.table("Fact_Transaction").columns)["posting_ref"].generator
    assert isinstance(reference, ForeignKeyRef) and reference.parent_table == "Dim_Account"
    assert reference.parent_rows == offline.table("Dim_Account").row_count
    assert plan.relationships[: len(offline.relationships)] == offline.relationships
    assert [(r.child_table, r.child_columns) for r in plan.relationships[len(offline.relationships) :]] == [
        ("Fact_Transaction", ["posting_ref"])
    ]
    # Recipes: recompiled where the plan changed, identical elsewhere, all safe.
    for table in plan.tables:
        assert check_recipe(table.recipe) == []
        same = table.name not in {"Dim_Branch", "Dim_Product", "Fact_Transaction"}
        assert (table.recipe == offline.table(table.name).recipe) is same
    assert plan.engine == "scripted"
    # The report: sources, rules with reasons, changes, tokens and prompt sizes.
    assert report.relationships.source == "model" and len(report.relationships_added) == 1
    assert report.fallbacks == {}
    card = report.table("Dim_Card")
    assert [(r.text, r.accepted) for r in card.rules] == [
        ("expires_on >= issued_on", True),
        ("issued_on >= expires_on", False),
    ]
    assert card.rules[1].why.startswith("dropped:")
    assert advised.rules == {"Dim_Card": [card.rules[0].rule]}
    assert report.table("Dim_Branch").human_names["branch_name"] == "the branch_name"
    assert [c.column for c in report.table("Dim_Product").changes] == ["monthly_fee"]
    assert report.tokens_used == 100 * len(advisor.prompts) == sum(c.tokens for c in report.calls)
    assert all(t.tokens_used == 200 and t.prompt_chars > 0 for t in report.tables)


def test_a_repair_round_fixes_an_answer(demo: tuple) -> None:
    profiles, offline = demo
    wrong = generation("Dim_Product", GeneratorChoice(column="monthly_fees", kind="number"))
    right = generation("Dim_Product", GeneratorChoice(column="monthly_fee", kind="number"))
    advisor = ScriptedAdvisor().on("generation", "Dim_Product", ok(wrong), ok(right))
    report = advise_plan(profiles, offline, advisor, AdviceOptions()).report
    asked = advisor.asked("generation", "Dim_Product")
    assert len(asked) == 2
    assert [t.role for t in asked[1].turns] == ["user", "model", "user"]
    assert "monthly_fees" in asked[1].turns[1].text and "no column 'monthly_fees'" in asked[1].turns[2].text
    product = report.table("Dim_Product")
    assert product.source == "model" and product.repair_rounds == 1 and product.changes
    assert [c.round for c in report.calls if c.table == "Dim_Product" and c.task == "generation"] == [0, 1]


@pytest.mark.parametrize("max_repairs", [0, 2])
def test_after_max_repairs_the_table_falls_back_to_its_offline_plan(demo: tuple, max_repairs: int) -> None:
    profiles, offline = demo
    invalid = Reply(text="{not json", error="Invalid JSON: key must be a string", tokens=10)
    advisor = ScriptedAdvisor().on("generation", "Dim_Customer", *[invalid] * 5)
    advised = advise_plan(profiles, offline, advisor, AdviceOptions(max_repairs=max_repairs))
    assert len(advisor.asked("generation", "Dim_Customer")) == max_repairs + 1
    assert advised.plan.table("Dim_Customer") == offline.table("Dim_Customer")
    customer = advised.report.table("Dim_Customer")
    assert customer.source == "offline" and f"after {max_repairs} repair round(s)" in customer.fallback_reason
    assert "does not match the response schema" in customer.fallback_reason
    generation_decision = next(d for d in customer.decisions if d.decision == "generation")
    assert generation_decision.repair_rounds == max_repairs and generation_decision.errors
    assert advised.report.fallbacks == {"Dim_Customer": customer.fallback_reason}


def test_a_relationship_added_into_a_table_that_falls_back_is_dropped(demo: tuple) -> None:
    profiles, offline = demo
    bad = ok(generation("Fact_Transaction", GeneratorChoice(column="amount", kind="boolean")))
    advisor = (
        ScriptedAdvisor()
        .on("relationships", None, ok(RelationshipsAnswer(relationships=[ADD_POSTING_REF])))
        .on("generation", "Fact_Transaction", bad, bad, bad)
    )
    advised = advise_plan(profiles, offline, advisor, AdviceOptions())
    assert advised.plan.table("Fact_Transaction") == offline.table("Fact_Transaction")
    assert advised.plan.relationships == offline.relationships
    facts = advised.report.table("Fact_Transaction")
    assert facts.relationships_dropped == ["Fact_Transaction.posting_ref -> Dim_Account.account_id"]
    assert all(d.source == "offline" for d in facts.decisions)


def test_an_invalid_relationship_answer_falls_back_as_a_whole(demo: tuple) -> None:
    profiles, offline = demo
    invented = ADD_POSTING_REF.model_copy(update={"parent_table": "secrets"})
    advisor = ScriptedAdvisor().on(
        "relationships", None, *[ok(RelationshipsAnswer(relationships=[ADD_POSTING_REF, invented]))] * 3
    )
    advised = advise_plan(profiles, offline, advisor, AdviceOptions())
    assert advised.report.relationships.source == "offline"
    assert "unknown table" in advised.report.relationships.fallback_reason
    assert advised.plan.relationships == offline.relationships and advised.report.relationships_added == []
    # Tables are still advised.
    assert all(t.source == "model" for t in advised.report.tables)


def test_a_semantic_type_can_raise_privacy_but_never_lower_it(demo: tuple) -> None:
    profiles, offline = demo
    fixed = generation("Dim_Customer", GeneratorChoice(column="segment", kind="faker", provider="word"))
    advisor = (
        ScriptedAdvisor()
        .on("semantics", "Dim_Customer", lambda r: ok(semantics(r, segment="free_text", first_name="categorical")))
        .on("generation", "Dim_Customer", ok(generation("Dim_Customer")), ok(fixed))
    )
    advised = advise_plan(profiles, offline, advisor, AdviceOptions())
    asked = advisor.asked("generation", "Dim_Customer")
    assert "segment: it is identifying (free_text) but its generator copies source values" in asked[1].turns[2].text
    leaves = leaf_plans(advised.plan.table("Dim_Customer").columns)
    assert leaves["segment"].identifying and leaves["segment"].generator == FakerValue(provider="word")
    assert leaves["first_name"].identifying and leaves["first_name"].semantic_type == "categorical"
    assert isinstance(
        offline_leaf := leaf_plans(offline.table("Dim_Customer").columns)["segment"].generator, Categorical
    )
    assert offline_leaf != leaves["segment"].generator


def test_provider_failures_fall_back_at_once_and_stop_asking(demo: tuple) -> None:
    profiles, offline = demo
    down = Reply(failure="Gemini answered HTTP 503 UNAVAILABLE: down")
    advisor = ScriptedAdvisor().on("semantics", "Dim_Branch", down).on("generation", "Dim_Branch", down)
    advised = advise_plan(profiles, offline, advisor, AdviceOptions(max_consecutive_failures=2))
    report = advised.report
    assert len(advisor.asked("semantics", "Dim_Branch")) == 1  # failures are not repaired
    assert report.table("Dim_Branch").fallback_reason == down.failure
    # Two failures in a row: the provider is not asked again this run; every later table is offline.
    assert report.provider_unavailable
    later = [t for t in report.tables if t.table != "Dim_Branch"]
    assert all(t.source == "offline" and "provider unavailable" in t.fallback_reason for t in later)
    assert advised.plan.tables == offline.tables and advised.plan.relationships == offline.relationships
    assert [p.table for p in advisor.prompts] == [None, "Dim_Branch", "Dim_Branch"]


def test_the_token_budget_stops_advice_and_the_rest_is_offline(demo: tuple) -> None:
    profiles, offline = demo
    advisor = ScriptedAdvisor(tokens=3000)
    options = AdviceOptions(token_budget=12_000)
    advised = advise_plan(profiles, offline, advisor, options)
    report = advised.report
    assert report.budget_exhausted and report.tokens_used <= options.token_budget
    skipped = [c for c in report.calls if c.outcome == "skipped"]
    assert skipped and all("token budget exhausted" in c.detail for c in skipped)
    offline_tables = [t for t in report.tables if t.source == "offline"]
    assert offline_tables and all("token budget" in t.fallback_reason for t in offline_tables)
    assert advised.plan.tables == offline.tables  # the agreeing advisor changed nothing anyway


def test_wide_tables_are_asked_in_chunks(demo: tuple) -> None:
    profiles, offline = demo
    limits = PromptLimits(max_columns_per_prompt=5)
    change = generation("Dim_Customer", GeneratorChoice(column="credit_score", kind="categorical"))

    def third_chunk(request: GenerationRequest) -> Reply[Any]:
        empty = ok(generation("Dim_Customer"))
        return ok(change) if "credit_score" in request.columns else empty

    advisor = ScriptedAdvisor().on("generation", "Dim_Customer", *[third_chunk] * 4)
    advised = advise_plan(profiles, offline, advisor, AdviceOptions(prompt=limits))
    asked = advisor.asked("generation", "Dim_Customer")
    assert [(p.chunk, p.chunks) for p in asked] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert len(advisor.asked("semantics", "Dim_Customer")) == 4
    assert _diff(advised.plan, offline) == {"Dim_Customer": {"credit_score"}}
    assert isinstance(leaf_plans(advised.plan.table("Dim_Customer").columns)["credit_score"].generator, Categorical)


def test_a_checker_error_is_a_recorded_fallback_not_a_crash(demo: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles, offline = demo

    def broken(*args: object, **kwargs: object) -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(advise_module, "semantics_problems", broken)
    advised = advise_plan(profiles, offline, ScriptedAdvisor(), AdviceOptions())
    assert advised.plan.tables == offline.tables
    decision = next(d for d in advised.report.tables[0].decisions if d.decision == "semantics")
    assert decision.source == "offline" and "checking the answer failed: RuntimeError: boom" in decision.fallback_reason


def test_no_recipe_leaves_without_passing_the_safety_check(demo: tuple) -> None:
    # Even an offline recipe (edited, or compiled by a future bug) is refused, and so are its children.
    profiles, offline = demo
    account = offline.table("Dim_Account")
    tampered = account.model_copy(update={"recipe": account.recipe + "- include_file: /etc/passwd\n"})
    poisoned = offline.model_copy(
        update={"tables": [tampered if t.name == "Dim_Account" else t for t in offline.tables]}
    )
    advised = advise_plan(profiles, poisoned, OfflineAdvisor(), AdviceOptions())
    failed = {f.table: f.error for f in advised.plan.failures}
    assert "include_file" in failed["Dim_Account"]
    assert set(failed) == {"Dim_Account", "Dim_Card"}  # Fact_Transaction no longer references it
    assert all(check_recipe(t.recipe) == [] for t in advised.plan.tables)


def test_text_generators_of_identifying_columns_can_be_refined(demo: tuple) -> None:
    profiles, offline = demo
    choice = GeneratorChoice(column="branch_name", kind="text", min_length=8, max_length=20)
    advisor = ScriptedAdvisor().on("generation", "Dim_Branch", ok(generation("Dim_Branch", choice)))
    advised = advise_plan(profiles, offline, advisor, AdviceOptions())
    assert leaf_plans(advised.plan.table("Dim_Branch").columns)["branch_name"].generator == FreeText(
        min_length=8, max_length=20
    )


def _reject_account_branch(evidence: str = "branch_id is the opening branch's code, not a reference") -> Any:
    reject = RelationshipProposal(
        action="reject",
        child_table="Dim_Account",
        child_column="branch_id",
        parent_table="Dim_Branch",
        parent_column="branch_id",
        confidence=0.8,
        evidence=evidence,
    )
    return lambda r: ok(RelationshipsAnswer(relationships=[reject]))


def _counts(plan: DatasetPlan) -> str:
    summary = RunSummary(
        batch_id="b",
        tables=[],
        seconds=0.0,
        primary_keys=plan.primary_keys,
        relationships=plan.relationships,
        rejected_relationships=plan.rejected_relationships,
    )
    return key_counts(summary)


def test_a_rejected_inferred_relationship_leaves_the_plan_and_its_column_is_planned_plain(demo: tuple) -> None:
    profiles, offline = demo
    advisor = ScriptedAdvisor().on("relationships", None, _reject_account_branch())
    advised = advise_plan(profiles, offline, advisor, AdviceOptions())
    plan, report = advised.plan, advised.report
    rejected = next(
        r for r in offline.relationships if (r.child_table, r.child_columns) == ("Dim_Account", ["branch_id"])
    )
    assert rejected.origin == "inferred"
    assert rejected not in plan.relationships
    assert [r for r in offline.relationships if r != rejected] == plan.relationships
    assert plan.rejected_relationships[: len(offline.rejected_relationships)] == offline.rejected_relationships
    [moved] = plan.rejected_relationships[len(offline.rejected_relationships) :]
    assert (moved.child_table, moved.child_columns, moved.parent_table) == ("Dim_Account", ["branch_id"], "Dim_Branch")
    assert moved.evidence.endswith("rejected by scripted: branch_id is the opening branch's code, not a reference")
    assert report.relationships_rejected == [moved]
    assert any(n.startswith("rejected Dim_Account.branch_id -> Dim_Branch.branch_id: branch_id is") for n in
               report.relationships.notes)  # fmt: skip
    assert any("1 rejected" in line for line in report.lines())
    # Only the child column changed; the parent (its key is still referenced by Dim_Employee) is unchanged.
    assert _diff(plan, offline) == {"Dim_Account": {"branch_id"}}
    assert plan.table("Dim_Branch") == offline.table("Dim_Branch")
    column = leaf_plans(plan.table("Dim_Account").columns)["branch_id"]
    # The same column the planner makes when nothing references it (no parent table to point at).
    alone = plan_dataset(
        [p for p in profiles if p.name not in ("Dim_Branch", "Dim_Employee")],
        PlanOptions(target_project="p", target_dataset="d"),
    )
    expected = leaf_plans(alone.table("Dim_Account").columns)["branch_id"]
    assert not isinstance(column.generator, ForeignKeyRef)
    assert column.generator.model_copy(update={"copula": None}) == expected.generator.model_copy(
        update={"copula": None}
    )
    assert (column.semantic_type, column.null_rate) == (expected.semantic_type, expected.null_rate)
    assert "its reference was rejected" in column.reason
    # The counts of the run summary follow: one inferred reference fewer, one rejected more.
    assert _counts(offline) == "primary keys: 6 declared, 1 inferred; references: 3 declared, 3 inferred, 0 rejected"
    assert _counts(plan) == "primary keys: 6 declared, 1 inferred; references: 3 declared, 2 inferred, 1 rejected"
    for table in plan.tables:
        assert check_recipe(table.recipe) == []


def test_rejecting_a_declared_relationship_is_refused_and_the_plan_keeps_it(demo: tuple) -> None:
    profiles, offline = demo
    declared = RelationshipProposal(
        action="reject",
        child_table="Dim_Card",
        child_column="account_id",
        parent_table="Dim_Account",
        parent_column="account_id",
        confidence=0.9,
        evidence="cards are not accounts",
    )
    answer = ok(RelationshipsAnswer(relationships=[declared]))
    advisor = ScriptedAdvisor().on("relationships", None, answer, answer, answer)
    advised = advise_plan(profiles, offline, advisor, AdviceOptions(max_repairs=2))
    record = advised.report.relationships
    assert record.source == "offline" and record.repair_rounds == 2
    assert "a declared relationship cannot be rejected" in record.errors[0]
    assert "declared relationship cannot be rejected" in (record.fallback_reason or "")
    # The repair prompt told the model why.
    assert "cannot be rejected" in advisor.asked("relationships", None)[1].turns[-1].text
    assert advised.plan.relationships == offline.relationships
    assert advised.plan.rejected_relationships == offline.rejected_relationships
    assert advised.report.relationships_rejected == []
