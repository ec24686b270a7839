"""The offline advisor: the deterministic engine's own answers, in the advisor's vocabulary.

It answers every question from what the offline planner already decided (semantic types
from ``semantics.classify_column`` via the plan, relationships from
``planning.relationships.infer_relationships`` via the plan, each column's generator), so that

* it is the reference: advising with it reproduces the offline plan exactly (a test
  checks this, which also proves the advice vocabulary covers every offline choice);
* it is the fallback: whatever a model gets wrong, this is what the table gets;
* it needs no network and costs no tokens (``metered = False``).

It also proposes inter-column rules from names (``expires_on >= issued_on``, ``city
determines state``) and from the sample's values (``total = quantity * price``, see
``value_rules``); like a model's, they are kept only if the sample agrees. On an offline run
they are the plan's rules (``with_offline_rules``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bqsynth.llm.answers import (
    ColumnMeaning,
    ColumnRule,
    GenerationAnswer,
    GeneratorChoice,
    RelationshipProposal,
    RelationshipsAnswer,
    SemanticsAnswer,
)
from bqsynth.llm.base import GenerationRequest, RelationshipsRequest, Reply, SemanticsRequest
from bqsynth.llm.columns import in_array, key_paths
from bqsynth.llm.rule_checks import check_rule_on_sample
from bqsynth.llm.value_rules import value_rules
from bqsynth.models import (
    TEMPORAL_TYPES,
    ArrayValue,
    BooleanValue,
    Categorical,
    ColumnPlan,
    DatasetPlan,
    FakerValue,
    FreeText,
    Generator,
    InterColumnRule,
    NumberFromQuantiles,
    PatternString,
    ShapedText,
    TablePlan,
    TableProfile,
    TemporalFromQuantiles,
    leaf_plans,
)
from bqsynth.semantics import SEMANTIC_TYPES, name_tokens

# Name words marking the start and the end of an interval (issued_on / expires_on).
START_WORDS = frozenset(
    {"start", "begin", "from", "open", "opened", "issued", "issue", "created", "valid", "effective"}
)
END_WORDS = frozenset(
    {"end", "finish", "to", "close", "closed", "expires", "expiry", "expiration", "until", "terminated", "ended"}
)
_TIME_WORDS = frozenset({"date", "dt", "ts", "time", "timestamp", "on", "at", "day"})


def human_name(path: str, semantic_type: str) -> str:
    """Words of the column's name (``cust_no`` -> ``cust no``); the meaning when the name has none."""
    words = [t for t in name_tokens(path.replace(".", " ")) if not t.isdigit()]
    meaningful = [w for w in words if w not in {"f", "c", "col", "column", "field", "string", "int", "float"}]
    if not meaningful:
        return SEMANTIC_TYPES.get(semantic_type, "a value").split(",")[0].split("(")[0].strip()
    return " ".join(words)


def choice_for(path: str, generator: Generator) -> GeneratorChoice | None:
    """The advisor-vocabulary choice that rebuilds an offline generator (None: not a per-column choice)."""
    match generator:
        case ArrayValue():
            return choice_for(path, generator.element)
        case FakerValue():
            return GeneratorChoice(column=path, kind="faker", provider=generator.provider, unique=generator.unique)
        case PatternString():
            return GeneratorChoice(column=path, kind="pattern", pattern=generator.pattern, unique=generator.unique)
        case FreeText():
            return GeneratorChoice(
                column=path, kind="text", min_length=generator.min_length, max_length=generator.max_length
            )
        case ShapedText():
            return GeneratorChoice(column=path, kind="shaped")
        case Categorical():
            return GeneratorChoice(column=path, kind="categorical")
        case NumberFromQuantiles():
            return GeneratorChoice(column=path, kind="number")
        case TemporalFromQuantiles():
            return GeneratorChoice(column=path, kind="temporal")
        case BooleanValue():
            return GeneratorChoice(column=path, kind="boolean")
    # Keys follow relationships; null-only columns are unsupported types the planner already handled.
    return None


def _interval_rules(leaves: dict[str, ColumnPlan], candidates: list[str]) -> list[ColumnRule]:
    temporal = [p for p in candidates if leaves[p].type in TEMPORAL_TYPES - {"TIME"}]
    rules = []
    for start in temporal:
        start_tokens = name_tokens(start)
        if not START_WORDS & set(start_tokens):
            continue
        rest = [t for t in start_tokens if t not in START_WORDS | _TIME_WORDS]
        for end in temporal:
            end_tokens = name_tokens(end)
            if end == start or not END_WORDS & set(end_tokens):
                continue
            if [t for t in end_tokens if t not in END_WORDS | _TIME_WORDS] == rest:
                rules.append(
                    ColumnRule(kind="compare", target=end, operands=[start], op=">=", reason="named as an interval")
                )
    return rules


def _location_rules(leaves: dict[str, ColumnPlan], candidates: list[str]) -> list[ColumnRule]:
    rules = []
    for city in (p for p in candidates if leaves[p].semantic_type == "address.city"):
        prefix = city.rpartition(".")[0]
        for state in (p for p in candidates if leaves[p].semantic_type == "address.state"):
            if state.rpartition(".")[0] == prefix:
                rules.append(
                    ColumnRule(kind="determines", target=state, operands=[city], reason="a city lies in one state")
                )
    return rules


def offline_rules(table: TablePlan, sample: Sequence[Mapping[str, Any]] = ()) -> list[ColumnRule]:
    """Rules the names suggest (intervals, city and state) and the sample's values show
    (equal columns, sums, products); each still to be tested on the sample."""
    leaves = leaf_plans(table.columns)
    candidates = [p for p in leaves if not in_array(table, p)]
    measures = [p for p in candidates if p not in key_paths(table)]
    return (
        _interval_rules(leaves, candidates)
        + _location_rules(leaves, candidates)
        + value_rules(leaves, measures, sample)
    )


def with_offline_rules(
    plan: DatasetPlan, profiles: Sequence[TableProfile], min_support: int
) -> tuple[DatasetPlan, list[str]]:
    """An offline run's plan with the offline rules that hold on the sample, and what was decided.

    A model's rules replace these on a run with llm=gemini (``advise_plan``); without a model
    the same rules, tested the same way, still make an end follow its start and a total equal
    its quantity times its price.
    """
    by_name = {p.name: p for p in profiles if not p.error}
    tables, lines = [], []
    for table in plan.tables:
        profile = by_name.get(table.name)
        if profile is None:
            tables.append(table)
            continue
        leaves, kept = leaf_plans(table.columns), []
        for rule in offline_rules(table, profile.sample):
            accepted, why = check_rule_on_sample(rule, profile, leaves, min_support)
            lines.append(f"{table.name}: rule {rule.describe()} ({rule.reason}): {why}")
            if accepted:
                kept.append(InterColumnRule(kind=rule.kind, target=rule.target, operands=rule.operands, op=rule.op))
        tables.append(table.model_copy(update={"rules": kept}) if kept else table)
    return plan.model_copy(update={"tables": tables}), lines


class OfflineAdvisor:
    """Deterministic advice from the offline plan: no network, no tokens, always valid."""

    name = "offline"
    metered = False

    def advise_semantics(self, request: SemanticsRequest) -> Reply[SemanticsAnswer]:
        leaves = leaf_plans(request.table_plan.columns)
        meanings = []
        for path in request.columns:
            semantic = leaves[path].semantic_type
            semantic = semantic if semantic in SEMANTIC_TYPES else "unknown"
            meanings.append(
                ColumnMeaning(column=path, semantic_type=semantic, human_name=human_name(path, semantic), confidence=1)
            )
        answer = SemanticsAnswer(table=request.table_plan.name, columns=meanings)
        return Reply(answer=answer, text=answer.model_dump_json())

    def advise_relationships(self, request: RelationshipsRequest) -> Reply[RelationshipsAnswer]:
        proposals = [
            RelationshipProposal(
                action="confirm",
                child_table=rel.child_table,
                child_column=rel.child_columns[0],
                parent_table=rel.parent_table,
                parent_column=rel.parent_columns[0],
                confidence=rel.confidence,
                evidence=rel.evidence[:300],
            )
            for rel in request.offline_plan.relationships
            if rel.child_table in request.tables and len(rel.child_columns) == 1
        ]
        answer = RelationshipsAnswer(relationships=proposals)
        return Reply(answer=answer, text=answer.model_dump_json())

    def advise_generation(self, request: GenerationRequest) -> Reply[GenerationAnswer]:
        table = request.table_plan
        leaves = leaf_plans(table.columns)
        keys = key_paths(table)
        choices = [
            choice
            for path in request.columns
            if path not in keys and (choice := choice_for(path, leaves[path].generator)) is not None
        ]
        rules = [r for r in offline_rules(table, request.profile.sample) if r.target in request.columns]
        answer = GenerationAnswer(table=table.name, columns=choices, rules=rules)
        return Reply(answer=answer, text=answer.model_dump_json())
