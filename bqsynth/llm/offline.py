"""The offline advisor: the deterministic engine's own answers, in the advisor's vocabulary.

It answers every question from what the offline planner already decided (semantic types
from ``semantics.classify_column`` via the plan, relationships from
``planning.relationships.infer_relationships`` via the plan, each column's generator), so that

* it is the reference: advising with it reproduces the offline plan exactly (a test
  checks this, which also proves the advice vocabulary covers every offline choice);
* it is the fallback: whatever a model gets wrong, this is what the table gets;
* it needs no network and costs no tokens (``metered = False``).

It also proposes a few inter-column rules from names alone (``expires_on >= issued_on``,
``city determines state``); like a model's, they are kept only if the sample agrees.
"""

from __future__ import annotations

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
from bqsynth.models import (
    TEMPORAL_TYPES,
    ArrayValue,
    BooleanValue,
    Categorical,
    ColumnPlan,
    FakerValue,
    FreeText,
    Generator,
    NumberFromQuantiles,
    PatternString,
    ShapedText,
    TablePlan,
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


def offline_rules(table: TablePlan) -> list[ColumnRule]:
    leaves = leaf_plans(table.columns)
    candidates = [p for p in leaves if not in_array(table, p)]
    return _interval_rules(leaves, candidates) + _location_rules(leaves, candidates)


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
        rules = [r for r in offline_rules(table) if r.target in request.columns]
        answer = GenerationAnswer(table=table.name, columns=choices, rules=rules)
        return Reply(answer=answer, text=answer.model_dump_json())
