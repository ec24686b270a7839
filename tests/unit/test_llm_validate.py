"""Checks on answers (schema, vocabulary, privacy, observed values) and on the tables built from them."""

from __future__ import annotations

import pytest

from bqsynth.generation.recipe import compile_recipe, with_recipes
from bqsynth.llm import validate
from bqsynth.llm.answers import (
    ColumnMeaning,
    ColumnRule,
    GenerationAnswer,
    GeneratorChoice,
    RelationshipProposal,
    RelationshipsAnswer,
    SemanticsAnswer,
)
from bqsynth.llm.apply import apply_generators, generator_for_choice
from bqsynth.llm.columns import leaf_plans
from bqsynth.llm.validate import (
    SEMANTIC_COLUMN_TYPES,
    generation_problems,
    privacy_problems,
    relationships_problems,
    semantics_problems,
    snowfakery_problems,
    table_problems,
)
from bqsynth.models import (
    ArrayValue,
    Categorical,
    DatasetPlan,
    FakerValue,
    ForeignKeyRef,
    NumberFromQuantiles,
    PatternString,
    TablePlan,
    TableProfile,
    TemporalFromQuantiles,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.semantics import SEMANTIC_TYPES
from bqsynth.sources.key_checks import RowsKeyChecks
from tests.factories import demo_profiles


def rename_column(profile: TableProfile, old: str, new: str) -> TableProfile:
    """The same table with one top-level column renamed (schema, statistics and sample)."""
    columns = [c.model_copy(update={"name": new}) if c.name == old else c for c in profile.columns]
    stats = {
        (new if path == old else path): (s.model_copy(update={"path": new}) if path == old else s)
        for path, s in profile.stats.items()
    }
    sample = [{(new if k == old else k): v for k, v in row.items()} for row in profile.sample]
    return profile.model_copy(update={"columns": columns, "stats": stats, "sample": sample})


@pytest.fixture(scope="module")
def demo() -> tuple[dict[str, TableProfile], DatasetPlan]:
    # Fact_Transaction.account_id renamed to a name that says nothing: the offline engine misses it.
    profiles = [
        rename_column(p, "account_id", "posting_ref") if p.name == "Fact_Transaction" else p for p in demo_profiles()
    ]
    plan = with_recipes(plan_dataset(profiles, PlanOptions(target_project="p", target_dataset="d")))
    return {p.name: p for p in profiles}, plan


# --- semantics --------------------------------------------------------------------------------


def _meanings(table: TablePlan, **overrides: str) -> SemanticsAnswer:
    columns = [
        ColumnMeaning(column=path, semantic_type=overrides.get(path, column.semantic_type), human_name=path)
        for path, column in leaf_plans(table.columns).items()
    ]
    return SemanticsAnswer(table=table.name, columns=columns)


def test_every_semantic_type_has_a_column_type_rule() -> None:
    assert set(SEMANTIC_COLUMN_TYPES) == set(SEMANTIC_TYPES)


def test_offline_semantics_are_valid_answers(demo: tuple) -> None:
    _, plan = demo
    for table in plan.tables:
        assert semantics_problems(_meanings(table), table, list(leaf_plans(table.columns))) == []


def test_semantics_must_cover_exactly_the_requested_columns(demo: tuple) -> None:
    _, plan = demo
    table = plan.table("Dim_Customer")
    columns = list(leaf_plans(table.columns))
    answer = _meanings(table)
    missing = answer.model_copy(update={"columns": answer.columns[1:]})
    invented = answer.model_copy(
        update={"columns": [*answer.columns, ColumnMeaning(column="ssn", semantic_type="ssn", human_name="ssn")]}
    )
    twice = answer.model_copy(update={"columns": [*answer.columns, answer.columns[0]]})
    assert "missing: ['customer_id']" in " ".join(semantics_problems(missing, table, columns))
    assert "no column 'ssn'" in " ".join(semantics_problems(invented, table, columns))
    assert "more than once" in " ".join(semantics_problems(twice, table, columns))
    other = answer.model_copy(update={"table": "Dim_Branch"})
    assert "request was for 'Dim_Customer'" in " ".join(semantics_problems(other, table, columns))


def test_semantic_types_must_fit_the_column_type(demo: tuple) -> None:
    _, plan = demo
    table = plan.table("Dim_Customer")
    columns = list(leaf_plans(table.columns))
    problems = semantics_problems(_meanings(table, credit_score="email", is_active="amount"), table, columns)
    assert any("INT64 column cannot be 'email'" in p for p in problems)
    assert any("BOOL column cannot be 'amount'" in p for p in problems)


# --- relationships ----------------------------------------------------------------------------


def _proposal(**fields: object) -> RelationshipProposal:
    base = {
        "action": "add",
        "child_table": "Fact_Transaction",
        "child_column": "posting_ref",
        "parent_table": "Dim_Account",
        "parent_column": "account_id",
        "confidence": 0.9,
        "evidence": "values are account ids",
    }
    return RelationshipProposal(**{**base, **fields})  # type: ignore[arg-type]


def _relationships(demo: tuple, *proposals: RelationshipProposal) -> tuple[validate.RelationshipOutcome, list[str]]:
    profiles, plan = demo
    return relationships_problems(
        RelationshipsAnswer(relationships=list(proposals)), profiles, plan, plan.relationships, list(profiles)
    )


def test_a_missing_relationship_can_be_added_and_known_ones_confirmed(demo: tuple) -> None:
    confirm = _proposal(action="confirm", child_table="Dim_Card", child_column="account_id", parent_table="Dim_Account")
    outcome, problems = _relationships(demo, _proposal(), confirm)
    assert problems == []
    assert [p.child_column for p in outcome.added] == ["posting_ref"]
    assert [p.child_table for p in outcome.confirmed] == ["Dim_Card"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"parent_table": "etc_passwd"}, "unknown table"),
        ({"child_column": "no_such_column"}, "no top-level column"),
        ({"parent_column": "customer_id"}, "must be Dim_Account's key"),
        ({"action": "confirm"}, "not a known relationship"),
        ({"child_table": "Dim_Card", "child_column": "account_id", "parent_table": "Dim_Customer",
          "parent_column": "customer_id"}, "already references"),
        ({"child_column": "transaction_id"}, "own key"),
        ({"child_column": "currency"}, "not compatible"),
        ({"child_column": "posting_ref", "parent_table": "Dim_Branch", "parent_column": "branch_id"}, "range"),
    ],
)  # fmt: skip
def test_relationship_proposals_are_checked_against_schema_and_values(demo: tuple, fields: dict, expected: str) -> None:
    outcome, problems = _relationships(demo, _proposal(**fields))
    assert outcome.added == [] and any(expected in p for p in problems), problems


def test_an_added_relationship_must_pass_the_exact_inclusion_check(demo: tuple) -> None:
    profiles, plan = demo
    child, parent = profiles["Fact_Transaction"], profiles["Dim_Account"]
    keys = [row["account_id"] for row in parent.sample]
    answer = RelationshipsAnswer(relationships=[_proposal()])

    def checked(child_values: list) -> list[str]:
        rows = [{"posting_ref": value} for value in child_values]
        checks = RowsKeyChecks({child.table_id: rows, parent.table_id: parent.sample})
        return relationships_problems(answer, profiles, plan, plan.relationships, list(profiles), checks)[1]

    assert checked(keys[:20]) == []
    # The profile does not contradict it; the rows say most values are no key at all.
    problems = checked([max(keys) + i for i in range(1, 6)] + keys[:1])
    assert any("distinct child values are parent keys (exact check on all rows)" in p for p in problems), problems


def test_low_confidence_additions_are_ignored_not_errors(demo: tuple) -> None:
    outcome, problems = _relationships(demo, _proposal(confidence=0.2))
    assert problems == [] and outcome.added == [] and "below" in outcome.ignored[0]


def _reject(child_table: str, child_column: str, parent_table: str, parent_column: str) -> RelationshipProposal:
    return _proposal(
        action="reject",
        child_table=child_table,
        child_column=child_column,
        parent_table=parent_table,
        parent_column=parent_column,
        evidence="branch_id here is the branch that opened the file, not a reference",
    )


def test_an_inferred_relationship_can_be_rejected_with_its_reason(demo: tuple) -> None:
    _, plan = demo
    known = next(r for r in plan.relationships if r.child_table == "Dim_Account" and r.child_columns == ["branch_id"])
    assert known.origin == "inferred"
    confirm = _proposal(action="confirm", child_table="Dim_Card", child_column="account_id", parent_table="Dim_Account")
    outcome, problems = _relationships(demo, _reject("Dim_Account", "branch_id", "Dim_Branch", "branch_id"), confirm)
    assert problems == []
    assert [r.relationship for r in outcome.rejected] == [known]
    assert outcome.rejected[0].reason.startswith("branch_id here is the branch")
    assert [p.child_table for p in outcome.confirmed] == ["Dim_Card"] and outcome.added == []


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (("Dim_Card", "account_id", "Dim_Account", "account_id"), "a declared relationship cannot be rejected"),
        (("Dim_Card", "card_id", "Dim_Account", "account_id"), "only relationships listed in 'known'"),
        (("Dim_Account", "branch_id", "Dim_Customer", "customer_id"), "only relationships listed in 'known'"),
        (("etc_passwd", "branch_id", "Dim_Branch", "branch_id"), "unknown table"),
    ],
)
def test_a_declared_or_unknown_relationship_cannot_be_rejected(demo: tuple, reference: tuple, expected: str) -> None:
    outcome, problems = _relationships(demo, _reject(*reference))
    assert outcome.rejected == [] and any(expected in p for p in problems), problems


def test_a_rejected_column_may_get_another_parent_but_not_the_same_one(demo: tuple) -> None:
    reject = _reject("Fact_Transaction", "posting_ref", "Dim_Account", "account_id")
    # posting_ref is not known (the offline engine missed it): nothing to reject.
    assert "only relationships listed in 'known'" in " ".join(_relationships(demo, reject)[1])
    reject = _reject("Dim_Account", "branch_id", "Dim_Branch", "branch_id")
    again = _proposal(child_table="Dim_Account", child_column="branch_id", parent_table="Dim_Branch",
                      parent_column="branch_id")  # fmt: skip
    outcome, problems = _relationships(demo, again, reject)  # the rejection counts first, whatever the order
    assert any("both rejected and added" in p for p in problems), problems
    assert len(outcome.rejected) == 1 and outcome.added == []


# --- generator choices ------------------------------------------------------------------------


def _choice(demo: tuple, table: str, column: str, identifying: bool | None = None, **fields: object) -> tuple:
    profiles, plan = demo
    plan_table = plan.table(table)
    leaf = leaf_plans(plan_table.columns)[column]
    return generator_for_choice(
        GeneratorChoice(column=column, **fields),  # type: ignore[arg-type]
        leaf,
        profiles[table].stats.get(column),
        plan_table.row_count,
        leaf.identifying if identifying is None else identifying,
        5,
    )


def test_choices_build_generators_from_the_profile(demo: tuple) -> None:
    fee, problems = _choice(demo, "Dim_Product", "monthly_fee", kind="number")
    assert problems == [] and isinstance(fee, NumberFromQuantiles) and fee.quantiles
    opened, _ = _choice(demo, "Dim_Branch", "opened_on", kind="temporal")
    assert isinstance(opened, TemporalFromQuantiles) and opened.type == "DATE"
    name, _ = _choice(demo, "Dim_Branch", "branch_name", kind="faker", provider="company")
    assert name == FakerValue(provider="company")
    segment, _ = _choice(demo, "Dim_Customer", "segment", kind="categorical", values=["Retail", "Premier"])
    assert isinstance(segment, Categorical) and segment.values == ["Retail", "Premier"]
    assert segment.weights == [196.0, 68.0]  # observed counts, whatever the model says
    tags, _ = _choice(demo, "Dim_Customer", "tags", kind="text", min_length=3, max_length=12)
    assert isinstance(tags, ArrayValue) and tags.element.kind == "text"  # REPEATED keeps its lengths
    code, _ = _choice(demo, "Dim_Account", "account_number", kind="pattern", pattern="AC-########", unique=True)
    assert code == PatternString(pattern="AC-########", unique=True)


@pytest.mark.parametrize(
    ("table", "column", "fields", "expected"),
    [
        ("Dim_Customer", "credit_score", {"kind": "faker", "provider": "name"}, "makes strings"),
        ("Dim_Customer", "email", {"kind": "faker"}, "needs a provider"),
        ("Dim_Customer", "first_name", {"kind": "categorical"}, "must not copy source values"),
        ("Dim_Customer", "segment", {"kind": "categorical", "values": ["${{ open('/etc/passwd') }}"]}, "observed"),
        ("Dim_Branch", "state", {"kind": "categorical", "values": ["NC"]}, "observed"),  # seen < 5 times
        ("Dim_Customer", "segment", {"kind": "number"}, "numeric"),
        ("Dim_Customer", "credit_score", {"kind": "temporal"}, "DATE"),
        ("Dim_Customer", "credit_score", {"kind": "boolean"}, "BOOL"),
        ("Dim_Customer", "email", {"kind": "pattern", "pattern": "${{ 7*7 }}#"}, "not allowed"),
        ("Dim_Customer", "email", {"kind": "pattern", "pattern": "plain"}, "at least one"),
        ("Dim_Customer", "email", {"kind": "pattern", "pattern": "E-##", "unique": True}, "digits"),
        ("Dim_Customer", "email", {"kind": "text", "min_length": 9, "max_length": 3}, "greater"),
        ("Dim_Customer", "email", {"kind": "number"}, "needs faker, pattern or text"),
        ("Dim_Customer", "segment", {"kind": "null"}, "null"),
        ("Dim_Account", "customer_id", {"kind": "null"}, "REQUIRED"),
    ],
)
def test_bad_choices_are_explained(demo: tuple, table: str, column: str, fields: dict, expected: str) -> None:
    generator, problems = _choice(demo, table, column, **fields)
    assert generator is None and any(expected in p for p in problems), problems


def test_generation_answers_are_checked_column_by_column(demo: tuple) -> None:
    profiles, plan = demo
    table = plan.table("Dim_Card")
    columns = list(leaf_plans(table.columns))
    keys = {"card_id", "account_id"}
    answer = GenerationAnswer(
        table="Dim_Card",
        columns=[
            GeneratorChoice(column="credit_limit", kind="number"),
            GeneratorChoice(column="card_id", kind="text"),  # a key: ignored with a note
        ],
        rules=[ColumnRule(kind="compare", target="expires_on", operands=["issued_on"], op=">=")],
    )
    outcome, problems = generation_problems(answer, profiles["Dim_Card"], table, columns, keys, 5)
    assert problems == []
    assert set(outcome.generators) == {"credit_limit"} and "key column" in outcome.notes[0]
    assert [r.describe() for r in outcome.rules] == ["expires_on >= issued_on"]
    bad = answer.model_copy(
        update={
            "columns": [GeneratorChoice(column="cvv", kind="number")],
            "rules": [ColumnRule(kind="compare", target="expires_on", operands=["valid_from"], op=">=")],
        }
    )
    _, problems = generation_problems(bad, profiles["Dim_Card"], table, columns, keys, 5)
    assert any("no column 'cvv'" in p for p in problems) and any("'valid_from'" in p for p in problems)


# --- tables -----------------------------------------------------------------------------------


def test_privacy_holds_when_a_column_becomes_identifying(demo: tuple) -> None:
    _, plan = demo
    offline = plan.table("Dim_Customer")
    state = leaf_plans(offline.columns)["state"]
    assert isinstance(state.generator, Categorical) and not state.identifying
    from bqsynth.llm.columns import replace_leaf

    raised = offline.model_copy(
        update={"columns": replace_leaf(offline.columns, "state", state.model_copy(update={"identifying": True}))}
    )
    assert "copies source values" in privacy_problems(raised, offline)[0]
    assert privacy_problems(raised, offline, paths=["email"]) == []
    assert privacy_problems(offline, offline) == []


def test_a_table_from_advice_is_validated_and_dry_run(demo: tuple) -> None:
    _, plan = demo
    offline = plan.table("Dim_Product")
    changed = apply_generators(
        offline, {"monthly_fee": (NumberFromQuantiles(quantiles=[0.0, 5.0, 12.0], decimals=2), "model")}
    )
    changed = changed.model_copy(update={"recipe": compile_recipe(changed, plan.seed)})
    assert table_problems(changed, offline, plan.seed, 5) == []


def test_an_unsafe_recipe_is_refused_before_snowfakery_sees_it(demo: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    # FakerValue takes any provider string: only the checks stand between a model and file_path.
    _, plan = demo
    offline = plan.table("Dim_Branch")
    poisoned = apply_generators(offline, {"city": (FakerValue(provider="file_path"), "model")})
    poisoned = poisoned.model_copy(update={"recipe": compile_recipe(poisoned, plan.seed)})

    def never(*args: object, **kwargs: object) -> list[str]:
        raise AssertionError("Snowfakery must not parse an unchecked recipe")

    monkeypatch.setattr(validate, "snowfakery_problems", never)
    monkeypatch.setattr(validate, "dry_run_problems", never)
    problems = table_problems(poisoned, offline, plan.seed, 5)
    assert problems and "file_path" in problems[0] and problems[0].startswith("recipe:")


def test_a_table_that_cannot_generate_fails_its_dry_run(demo: tuple) -> None:
    _, plan = demo
    offline = plan.table("Dim_Branch")
    broken = apply_generators(
        offline, {"opened_on": (TemporalFromQuantiles(type="DATE", quantiles=["not a date", "never"]), "model")}
    )
    broken = broken.model_copy(update={"recipe": compile_recipe(broken, plan.seed)})
    problems = table_problems(broken, offline, plan.seed, 5)
    assert problems and problems[0].startswith("dry run of 5 rows failed")


def test_snowfakery_validation_reports_its_errors() -> None:
    recipe = "- object: T\n  count: 1\n  fields:\n    a:\n      fake: not_a_provider\n"
    problems = snowfakery_problems(recipe)
    assert problems and "not_a_provider" in problems[0]


def test_foreign_keys_survive_a_dry_run_of_a_few_rows(demo: tuple) -> None:
    _, plan = demo
    table = plan.table("Dim_Account")
    assert any(isinstance(c.generator, ForeignKeyRef) for c in table.columns)
    assert validate.dry_run_problems(table, plan.seed, 5) == []
