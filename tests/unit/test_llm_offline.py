"""The offline advisor is the reference: advising with it reproduces the offline plan exactly."""

from __future__ import annotations

import pytest

from bqsynth.generation.recipe import with_recipes
from bqsynth.llm import AdviceOptions, GeminiAdvisor, LlmSettings, OfflineAdvisor, advise_plan, make_advisor
from bqsynth.llm.apply import generator_for_choice
from bqsynth.llm.columns import key_paths, leaf_plans
from bqsynth.llm.offline import choice_for, human_name, offline_rules
from bqsynth.models import DatasetPlan, ForeignKey, NullValue, TableProfile, leaf_schemas
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.semantics import sample_values
from tests.factories import column_stats, demo_profiles, schema_of
from tests.shop_data import build_shop_tables


def shop_profiles() -> list[TableProfile]:
    """The second, differently shaped dataset, profiled in memory like factories.demo_profiles."""
    profiles = []
    for spec in build_shop_tables():
        schema = [schema_of(c) for c in spec.columns]
        profiles.append(
            TableProfile(
                table_id=f"proj.shop.{spec.name}",
                name=spec.name,
                row_count=len(spec.rows),
                columns=schema,
                primary_key=list(spec.primary_key) if spec.primary_key_declared else [],
                foreign_keys=[
                    ForeignKey(
                        columns=list(r.columns),
                        referenced_table=f"proj.shop.{r.ref_table}",
                        referenced_columns=list(r.ref_columns),
                    )
                    for r in spec.references
                    if r.declared
                ],
                stats={p: column_stats(p, c.type, spec.rows) for p, c in leaf_schemas(schema).items()},
                sample=spec.rows[:200],
            )
        )
    return profiles


def _offline(profiles: list[TableProfile]) -> DatasetPlan:
    return with_recipes(plan_dataset(profiles, PlanOptions(target_project="p", target_dataset="d")))


@pytest.fixture(scope="module", params=["demo", "shop"])
def dataset(request: pytest.FixtureRequest) -> tuple[list[TableProfile], DatasetPlan]:
    profiles = demo_profiles() if request.param == "demo" else shop_profiles()
    return profiles, _offline(profiles)


def test_offline_advice_reproduces_the_offline_plan(dataset: tuple) -> None:
    profiles, plan = dataset
    advised = advise_plan(profiles, plan, OfflineAdvisor(), AdviceOptions())
    # The same plan, plus the inter-column rules the sample supports (enforced in generation).
    without_rules = advised.plan.model_copy(
        update={"tables": [t.model_copy(update={"rules": []}) for t in advised.plan.tables]}
    )
    assert without_rules == plan
    accepted = [(t.table, r.rule.kind, r.rule.target) for t in advised.report.tables for r in t.rules if r.accepted]
    assert [(t.name, r.kind, r.target) for t in advised.plan.tables for r in t.rules] == accepted
    report = advised.report
    assert report.advisor == "offline" and report.tokens_used == 0 and not report.budget_exhausted
    assert report.relationships.source == "offline" and report.relationships_added == []
    assert report.relationships_confirmed == sum(1 for r in plan.relationships if len(r.child_columns) == 1)
    for table in report.tables:
        assert table.source == "offline" and table.fallback_reason is None and table.changes == []
        assert {d.decision for d in table.decisions} == {"semantics", "generation"}
        assert all(d.source == "offline" and d.repair_rounds == 0 for d in table.decisions)
        # Prompt sizes are reported even offline: what would be sent.
        assert 0 < table.prompt_chars <= report.max_prompt_chars
        assert set(table.human_names) == set(leaf_plans(plan.table(table.table).columns))


def test_the_vocabulary_rebuilds_every_offline_generator(dataset: tuple) -> None:
    profiles, plan = dataset
    by_name = {p.name: p for p in profiles}
    covered = set()
    for table in plan.tables:
        keys = key_paths(table)
        for path, column in leaf_plans(table.columns).items():
            choice = choice_for(path, column.generator)
            if path in keys or isinstance(column.generator, NullValue):
                assert choice is None
                continue
            assert choice is not None, f"{table.name}.{path}"
            profile = by_name[table.name]
            rebuilt, problems = generator_for_choice(
                choice,
                column,
                profile.stats.get(path),
                table.row_count,
                column.identifying,
                5,
                sample_values(profile, path),
            )
            # The copula row is fitted on the sample, never chosen: apply_generators carries it over.
            fitted = {"copula": None} if getattr(column.generator, "copula", None) else {}
            assert problems == [] and rebuilt == column.generator.model_copy(update=fitted), f"{table.name}.{path}"
            covered.add(choice.kind)
    assert covered >= {"faker", "categorical", "number", "temporal", "boolean", "pattern"}
    # Free text (sentences) or text of no known kind (the source's shapes): the shop has no comments.
    assert covered & {"text", "shaped"}


def test_human_names_come_from_names_or_meaning() -> None:
    assert human_name("cust_no", "key") == "cust no"
    assert human_name("address.postalCode", "address.postal_code") == "address postal code"
    assert human_name("f0_", "email") == "an email address"
    assert human_name("string_field_3", "free_text") == "free-form text"


def test_offline_rules_come_from_names() -> None:
    plan = _offline(demo_profiles())
    rules = {t.name: [r.describe() for r in offline_rules(t)] for t in plan.tables}
    assert rules["Dim_Card"] == ["expires_on >= issued_on"]
    assert rules["Dim_Customer"] == ["city determines state"]
    assert rules["Fact_Transaction"] == []


def test_the_settings_pick_the_provider() -> None:
    assert isinstance(make_advisor(LlmSettings()), OfflineAdvisor)
    gemini = make_advisor(LlmSettings(llm="gemini", project="my-project", model="gemini-2.5-pro"))
    assert isinstance(gemini, GeminiAdvisor) and gemini.name == "gemini:gemini-2.5-pro"
    assert gemini.config.project == "my-project" and gemini.metered
    with pytest.raises(ValueError, match="project"):
        make_advisor(LlmSettings(llm="gemini"))
    options = LlmSettings(sample_policy="none", token_budget=10, max_repairs=0).advice_options()
    assert (options.prompt.sample_policy, options.token_budget, options.max_repairs) == ("none", 10, 0)
