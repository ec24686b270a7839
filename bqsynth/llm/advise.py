"""Advise a dataset plan: ask an advisor, check every answer, repair or fall back, report.

``advise_plan`` takes the offline plan (``planning.planner.plan_dataset``, its recipes
compiled by ``generation.recipe.with_recipes``) and returns a plan that differs from it
only where a checked answer says so:

1. **Relationships**, jointly over all tables: confirmed, added or rejected references (an
   added one turns the child column into a foreign key to the parent's row-index key; a
   rejected inferred one leaves the plan's relationships for its rejected list, and its
   child column is planned again as a plain column, by the planner's own column planning).
2. **Per table**: semantic types and human names for every leaf column, then generator
   choices and inter-column rules. The resulting table is checked as a whole (privacy,
   ``recipe_safety.check_recipe``, Snowfakery validation, a dry run of a few rows).

Every answer that fails a check goes back to the advisor with the problems, at most
``max_repairs`` times; after that (or when the provider fails, or the token budget is
spent) the decision falls back to the offline engine: for a table, the offline table plan
exactly. Every final recipe passes ``check_recipe``, offline ones included. Apart from the
advisor's calls this is pure: same inputs and answers, same plan and report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import Field

from bqsynth.generation.recipe import compile_recipe
from bqsynth.generation.recipe_safety import check_recipe
from bqsynth.llm.advice_report import (
    AdviceReport,
    CallRecord,
    ColumnChange,
    DecisionRecord,
    RuleRecord,
    Source,
    TableAdvice,
    reference_label,
)
from bqsynth.llm.answers import ColumnMeaning, ColumnRule, GenerationAnswer, RelationshipProposal
from bqsynth.llm.apply import (
    apply_generators,
    apply_rejection,
    apply_relationship,
    apply_semantics,
    as_relationship,
    rejected_relationship,
)
from bqsynth.llm.base import (
    GenerationRequest,
    PlanAdvisor,
    Prompt,
    RelationshipsRequest,
    Reply,
    SemanticsRequest,
    Task,
)
from bqsynth.llm.columns import key_paths
from bqsynth.llm.offline import human_name
from bqsynth.llm.prompts import (
    PromptLimits,
    chunk_items,
    generation_prompts,
    relationships_prompts,
    semantics_prompts,
    with_repair,
)
from bqsynth.llm.rule_checks import check_rule_on_sample
from bqsynth.llm.validate import (
    GenerationOutcome,
    Rejection,
    RelationshipOutcome,
    VocabularyAsk,
    changed_leaves,
    column_summary,
    generation_problems,
    privacy_problems,
    relationships_problems,
    semantics_problems,
    table_problems,
)
from bqsynth.llm.vocabulary import PresentDigests, VocabularyLimits, vocabulary_paths
from bqsynth.models import DatasetPlan, InterColumnRule, PlanFailure, StrictModel, TablePlan, TableProfile, leaf_plans
from bqsynth.planning.planner import PlanError, PlanOptions, fail_children_of_failed
from bqsynth.sources.key_checks import KeyChecks

ResultT = TypeVar("ResultT")


class AdviceOptions(StrictModel):
    prompt: PromptLimits = Field(default_factory=PromptLimits, description="Sample policy and prompt size caps")
    max_repairs: int = Field(default=2, ge=0, description="Repair rounds per question before falling back")
    token_budget: int = Field(default=400_000, ge=0, description="Tokens per run; then the rest is planned offline")
    min_category_count: int = Field(default=5, ge=1, description="Same as PlanOptions.min_category_count")
    min_rule_support: int = Field(default=5, ge=1, description="Sampled rows a rule must hold on to be kept")
    dry_run_rows: int = Field(default=5, ge=1, description="Rows generated to test a table built from advice")
    max_consecutive_failures: int = Field(
        default=2, ge=1, description="Failed calls in a row after which the provider is not asked again this run"
    )
    vocabulary: VocabularyLimits = Field(
        default_factory=VocabularyLimits, description="Model-made vocabularies: most values asked, fewest kept"
    )


class AdvisedPlan(StrictModel):
    plan: DatasetPlan
    report: AdviceReport

    @property
    def rules(self) -> dict[str, list[ColumnRule]]:
        """Inter-column rules kept per table (tested on the sample; enforced on every generated row)."""
        return {t.table: t.accepted_rules for t in self.report.tables if t.accepted_rules}


@dataclass
class _Asked(Generic[ResultT]):
    result: ResultT | None
    rounds: int = 0
    fallback_reason: str | None = None
    errors: list[str] = field(default_factory=list)


class _Session:
    """Calls, budget and provider health for one run: the only mutable state."""

    def __init__(
        self,
        advisor: PlanAdvisor,
        options: AdviceOptions,
        checks: KeyChecks | None = None,
        present_digests: PresentDigests | None = None,
    ) -> None:
        self.advisor = advisor
        self.options = options
        self.checks = checks
        self.present_digests = present_digests
        self.metered = bool(getattr(advisor, "metered", True))
        self.source: Source = "model" if self.metered else "offline"
        self.used = 0
        self.budget_exhausted = False
        self.failures_in_a_row = 0
        self.last_failure: str | None = None
        self.calls: list[CallRecord] = []

    @property
    def unavailable(self) -> bool:
        return self.failures_in_a_row >= self.options.max_consecutive_failures

    def _record(self, prompt: Prompt, round_: int, reply: Reply[Any] | None, outcome: str, detail: str = "") -> None:
        self.calls.append(
            CallRecord(
                task=prompt.task,
                table=prompt.table,
                chunk=prompt.chunk,
                round=round_,
                prompt_chars=prompt.chars,
                prompt_tokens_estimate=prompt.estimated_tokens,
                tokens=reply.tokens if reply else 0,
                tokens_measured=reply.tokens_measured if reply else False,
                outcome=outcome,  # type: ignore[arg-type]
                detail=detail[:300],
            )
        )

    def ask(
        self,
        prompt: Prompt,
        call: Callable[[Prompt], Reply[Any]],
        check: Callable[[Any], tuple[ResultT | None, list[str]]],
    ) -> _Asked[ResultT]:
        """Ask, check, and repair up to ``max_repairs`` times; a result only if an answer passed every check."""
        current, rounds, last_errors = prompt, 0, []
        while True:
            if self.unavailable:
                reason = f"provider unavailable after {self.failures_in_a_row} failed calls in a row"
                self._record(current, rounds, None, "skipped", reason)
                return _Asked(None, rounds, reason, last_errors)
            if self.metered and self.used + current.estimated_tokens > self.options.token_budget:
                self.budget_exhausted = True
                reason = f"token budget exhausted ({self.used} of {self.options.token_budget} used)"
                self._record(current, rounds, None, "skipped", reason)
                return _Asked(None, rounds, reason, last_errors)
            reply = call(current)
            self.used += reply.tokens
            if reply.failure:
                self.failures_in_a_row += 1
                self.last_failure = reply.failure
                self._record(current, rounds, reply, "failed", reply.failure)
                return _Asked(None, rounds, reply.failure, last_errors)
            self.failures_in_a_row = 0
            if reply.answer is None:
                result, problems = None, [f"the answer does not match the response schema: {reply.error}"]
            else:
                try:
                    result, problems = check(reply.answer)
                except Exception as error:  # a checker bug must not stop planning: fall back, say why
                    reason = f"checking the answer failed: {type(error).__name__}: {error}"
                    self._record(current, rounds, reply, "invalid", reason)
                    return _Asked(None, rounds, reason[:400], last_errors)
            if not problems:
                self._record(current, rounds, reply, "accepted")
                return _Asked(result, rounds)
            last_errors = problems
            self._record(current, rounds, reply, "invalid", "; ".join(problems))
            if rounds >= self.options.max_repairs:
                reason = f"answer still invalid after {rounds} repair round(s): {problems[0]}"
                return _Asked(None, rounds, reason[:400], last_errors)
            rounds += 1
            current = with_repair(prompt, reply.text, problems, self.options.prompt)


def _decision(task: Task, session: _Session, asked: _Asked[Any] | None = None) -> DecisionRecord:
    if asked is None:
        return DecisionRecord(decision=task, source=session.source)
    return DecisionRecord(
        decision=task,
        source=session.source if asked.result is not None else "offline",
        repair_rounds=asked.rounds,
        fallback_reason=asked.fallback_reason,
        errors=asked.errors[:20],
    )


# --- relationships ----------------------------------------------------------------------------


@dataclass
class _RelationshipAdvice:
    added: list[RelationshipProposal]
    rejected: list[Rejection]
    confirmed: int
    record: DecisionRecord
    prompt_chars: int


def _advise_relationships(
    session: _Session, profiles: dict[str, TableProfile], offline_plan: DatasetPlan
) -> _RelationshipAdvice:
    """Accepted additions and rejections, confirmations count, the decision record, the largest prompt."""
    limits = session.options.prompt
    prompts = relationships_prompts(list(profiles.values()), offline_plan, offline_plan.relationships, limits)
    added: list[RelationshipProposal] = []
    rejected: list[Rejection] = []
    confirmed = 0
    record = _decision("relationships", session)
    for prompt in prompts:
        tables = chunk_items(prompt)

        def call(p: Prompt, tables: list[str] = tables) -> Reply[Any]:
            request = RelationshipsRequest(
                prompt=p, profiles=list(profiles.values()), offline_plan=offline_plan, tables=tables
            )
            return session.advisor.advise_relationships(request)

        def check(answer: Any, tables: list[str] = tables) -> tuple[RelationshipOutcome | None, list[str]]:
            outcome, problems = relationships_problems(
                answer, profiles, offline_plan, offline_plan.relationships, tables, session.checks
            )
            return (None if problems else outcome), problems

        asked = session.ask(prompt, call, check)
        record.repair_rounds += asked.rounds
        if asked.result is None:
            # All or nothing: a joint answer that cannot be fully checked is not used in part.
            fallback = _decision("relationships", session, asked)
            fallback.repair_rounds = record.repair_rounds
            return _RelationshipAdvice([], [], 0, fallback, max(p.chars for p in prompts))
        added += asked.result.added
        rejected += asked.result.rejected
        confirmed += len(asked.result.confirmed)
        record.notes += asked.result.ignored
        record.notes += [f"rejected {reference_label(r.relationship)}: {r.reason}" for r in asked.result.rejected]
    return _RelationshipAdvice(added, rejected, confirmed, record, max(p.chars for p in prompts))


# --- tables -----------------------------------------------------------------------------------


@dataclass
class _TableRelationships:
    """The checked relationship changes whose child is one table."""

    added: list[RelationshipProposal] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def _column_options(session: _Session) -> PlanOptions:
    """The planner's options for planning one column again: only the category settings matter
    there (the targets name tables, not columns), and they are the run's (``AdviceOptions``)."""
    return PlanOptions(target_project="-", target_dataset="-", min_category_count=session.options.min_category_count)


@dataclass
class _TableState:
    profile: TableProfile
    offline: TablePlan
    base: TablePlan  # offline + rejected and added relationships
    advice: TableAdvice
    meanings: dict[str, ColumnMeaning] = field(default_factory=dict)
    rules: list[ColumnRule] = field(default_factory=list)


def _ask_semantics(session: _Session, state: _TableState) -> TablePlan:
    """The base table with the model's semantic types, or the base table when semantics fell back."""
    limits, keys = session.options.prompt, key_paths(state.base)
    meanings: dict[str, ColumnMeaning] = {}
    record = _decision("semantics", session)
    for prompt in semantics_prompts(state.profile, state.base, limits):
        columns = chunk_items(prompt)

        def call(p: Prompt, columns: list[str] = columns) -> Reply[Any]:
            request = SemanticsRequest(prompt=p, profile=state.profile, table_plan=state.base, columns=columns)
            return session.advisor.advise_semantics(request)

        def check(answer: Any, columns: list[str] = columns) -> tuple[Any, list[str]]:
            return answer, semantics_problems(answer, state.base, columns)

        asked = session.ask(prompt, call, check)
        record.repair_rounds += asked.rounds
        if asked.result is None:
            fallback = _decision("semantics", session, asked)
            fallback.repair_rounds = record.repair_rounds
            state.advice.decisions.append(fallback)
            return state.base
        meanings.update({m.column: m for m in asked.result.columns})
    state.advice.decisions.append(record)
    state.meanings = meanings
    return apply_semantics(state.base, {p: m.semantic_type for p, m in meanings.items()}, keys)


def _candidate(
    session: _Session, state: _TableState, current: TablePlan, outcome: GenerationOutcome, columns: list[str], seed: int
) -> tuple[TablePlan, list[str]]:
    """The table with one chunk's generators applied, compiled and checked (unless it is the offline table)."""
    candidate = apply_generators(current, outcome.generators)
    if candidate.columns == state.offline.columns:
        return candidate.model_copy(update={"recipe": state.offline.recipe}), []
    # Privacy is judged for this chunk's columns: later chunks still get to choose theirs.
    problems = privacy_problems(candidate, state.offline, columns)
    if problems:
        return candidate, problems
    candidate = candidate.model_copy(update={"recipe": compile_recipe(candidate, seed)})
    return candidate, table_problems(candidate, state.offline, seed, session.options.dry_run_rows, columns)


def _ask_generation(session: _Session, state: _TableState, table: TablePlan, seed: int) -> _Asked[TablePlan]:
    limits, keys = session.options.prompt, key_paths(table)
    semantics = {
        path: (column.semantic_type, state.advice.human_names.get(path, ""))
        for path, column in leaf_plans(table.columns).items()
    }
    current = table
    record = _decision("generation", session)
    vocabulary = VocabularyAsk(session.options.vocabulary, session.advisor.name, session.present_digests)
    offered = vocabulary_paths(table, keys, leaf_plans(table.columns).items()) if session.metered else []
    size = session.options.vocabulary.size
    for prompt in generation_prompts(state.profile, table, semantics, limits, size, offered):
        columns = chunk_items(prompt)

        def call(p: Prompt, columns: list[str] = columns) -> Reply[Any]:
            request = GenerationRequest(
                prompt=p,
                profile=state.profile,
                table_plan=table,
                semantic_types={path: s for path, (s, _) in semantics.items()},
                columns=columns,
            )
            return session.advisor.advise_generation(request)

        def check(
            answer: GenerationAnswer, columns: list[str] = columns, current: TablePlan = current
        ) -> tuple[tuple[TablePlan, GenerationOutcome] | None, list[str]]:
            outcome, problems = generation_problems(
                answer, state.profile, current, columns, keys, session.options.min_category_count, vocabulary
            )
            if problems:
                return None, problems
            candidate, problems = _candidate(session, state, current, outcome, columns, seed)
            return (None if problems else (candidate, outcome)), problems

        asked = session.ask(prompt, call, check)
        record.repair_rounds += asked.rounds
        if asked.result is None:
            fallback = _decision("generation", session, asked)
            fallback.repair_rounds = record.repair_rounds
            state.advice.decisions.append(fallback)
            return _Asked(None, record.repair_rounds, asked.fallback_reason, asked.errors)
        current, outcome = asked.result
        state.rules += outcome.rules
        record.notes += outcome.notes
        state.advice.vocabularies += outcome.vocabularies
    state.advice.decisions.append(record)
    return _Asked(current, record.repair_rounds)


def _record_rules(session: _Session, state: _TableState, table: TablePlan) -> None:
    leaves = leaf_plans(table.columns)
    seen: set[str] = set()
    for rule in state.rules:
        text = rule.describe()
        if text in seen:
            continue
        seen.add(text)
        accepted, why = check_rule_on_sample(rule, state.profile, leaves, session.options.min_rule_support)
        state.advice.rules.append(RuleRecord(rule=rule, text=text, accepted=accepted, why=why, source=session.source))


def _changes(table: TablePlan, offline: TablePlan) -> list[ColumnChange]:
    before, after = leaf_plans(offline.columns), leaf_plans(table.columns)
    return [
        ColumnChange(
            column=path,
            offline=column_summary(before[path]) if path in before else "(absent)",
            advised=column_summary(after[path]),
            reason=after[path].reason[:300],
        )
        for path in changed_leaves(table, offline)
    ]


def _apply_rejections(
    table: TablePlan, profile: TableProfile, rejections: list[Rejection], options: PlanOptions
) -> tuple[TablePlan, list[Rejection], list[str]]:
    """The table with each rejected reference's column planned as a plain column; what could not be."""
    applied: list[Rejection] = []
    notes: list[str] = []
    for rejection in rejections:
        try:
            table = apply_rejection(table, profile, rejection.relationship.child_columns[0], options)
        except PlanError as error:  # e.g. a REQUIRED column nothing else can generate: keep the reference
            notes.append(f"rejection of {reference_label(rejection.relationship)} not applied: {error}")
            continue
        applied.append(rejection)
    return table, applied, notes


def _advise_table(
    session: _Session,
    profile: TableProfile,
    offline: TablePlan,
    changes: _TableRelationships,
    planned: dict[str, TablePlan],
    profiles: dict[str, TableProfile],
    seed: int,
) -> tuple[TablePlan, TableAdvice, _TableRelationships]:
    """The final plan of one table, its advice record, and the relationship changes it kept."""
    adds = changes.added
    base, rejections, not_applied = _apply_rejections(offline, profile, changes.rejected, _column_options(session))
    for proposal in adds:
        parent = proposal.parent_table
        base = apply_relationship(base, profile, proposal, planned[parent], profiles[parent])
    state = _TableState(
        profile=profile, offline=offline, base=base, advice=TableAdvice(table=offline.name, source=session.source)
    )
    state.advice.relationship_notes = not_applied
    first_call = len(session.calls)

    table = _ask_semantics(session, state)
    leaves = leaf_plans(table.columns)
    state.advice.human_names = {
        path: state.meanings[path].human_name
        if path in state.meanings
        else human_name(path, leaves[path].semantic_type)
        for path in leaves
    }
    generated = _ask_generation(session, state, table, seed)
    kept = _TableRelationships(added=adds, rejected=rejections)
    if generated.result is None:
        final = offline
        state.advice.source = "offline"
        state.advice.fallback_reason = generated.fallback_reason
        for decision in state.advice.decisions:
            if decision.source != "offline":
                decision.source = "offline"
                decision.fallback_reason = "the table fell back to the offline plan"
        state.advice.relationships_dropped = [
            f"{p.child_table}.{p.child_column} -> {p.parent_table}.{p.parent_column}" for p in adds
        ] + [f"rejection of {reference_label(r.relationship)}" for r in rejections]
        kept = _TableRelationships()
        state.rules = []
        for vocabulary in state.advice.vocabularies:
            if vocabulary.used:
                vocabulary.used, vocabulary.fallback_reason = False, "the table fell back to the offline plan"
    else:
        final = generated.result
    _record_rules(session, state, final)
    accepted = [
        InterColumnRule(kind=r.rule.kind, target=r.rule.target, operands=r.rule.operands, op=r.rule.op)
        for r in state.advice.rules
        if r.accepted
    ]
    if accepted:
        final = final.model_copy(update={"rules": accepted})
    state.advice.changes = _changes(final, offline)
    calls = session.calls[first_call:]
    state.advice.repair_rounds = sum(d.repair_rounds for d in state.advice.decisions)
    state.advice.tokens_used = sum(c.tokens for c in calls)
    state.advice.prompt_chars = max((c.prompt_chars for c in calls), default=0)
    state.advice.prompt_chars_total = sum(c.prompt_chars for c in calls if c.outcome != "skipped")
    state.advice.prompt_tokens_estimate = (state.advice.prompt_chars + 3) // 4
    return final, state.advice, kept


# --- the run ----------------------------------------------------------------------------------


def _unsafe_recipes(tables: list[TablePlan], plan: DatasetPlan, failures: list[PlanFailure]) -> list[TablePlan]:
    """Last line: any final recipe ``check_recipe`` refuses is not shipped; its children go with it."""
    for table in tables:
        problems = check_recipe(table.recipe)
        if problems:
            failures.append(
                PlanFailure(
                    table=table.name,
                    source_table=table.source_table,
                    error=f"table {table.name}: its recipe failed the safety check: {problems[0]}",
                )
            )
    fail_children_of_failed(tables, plan.relationships, failures)
    failed = {f.table for f in failures}
    return [t for t in tables if t.name not in failed]


def advise_plan(
    profiles: list[TableProfile],
    offline_plan: DatasetPlan,
    advisor: PlanAdvisor,
    options: AdviceOptions,
    checks: KeyChecks | None = None,
    present_digests: PresentDigests | None = None,
) -> AdvisedPlan:
    """The offline plan improved by checked advice, and the report of what came from where.

    ``checks`` verifies a reference the model adds on the sources, as the offline ones are;
    ``present_digests`` finds a model-made vocabulary's values among all of a source column's.
    """
    session = _Session(advisor, options, checks, present_digests)
    by_name = {p.name: p for p in profiles if not p.error}
    # The profile step's calls (a headerless file's names) count against the run's one budget.
    session.used = sum(p.column_naming.tokens for p in by_name.values() if p.column_naming is not None)
    planned = {t.name: t for t in offline_plan.tables if t.name in by_name}
    advised = (
        _advise_relationships(session, {n: by_name[n] for n in planned}, offline_plan)
        if planned
        else _RelationshipAdvice([], [], 0, _decision("relationships", session), 0)
    )
    rel_record = advised.record
    tables: list[TablePlan] = []
    advice: list[TableAdvice] = []
    kept_adds: list[RelationshipProposal] = []
    kept_rejections: list[Rejection] = []
    for offline in offline_plan.tables:
        if offline.name not in planned:
            tables.append(offline)
            continue
        mine = _TableRelationships(
            added=[p for p in advised.added if p.child_table == offline.name],
            rejected=[r for r in advised.rejected if r.relationship.child_table == offline.name],
        )
        final, table_advice, kept = _advise_table(
            session, by_name[offline.name], offline, mine, planned, by_name, offline_plan.seed
        )
        tables.append(final)
        advice.append(table_advice.model_copy(update={"column_naming": by_name[offline.name].column_naming}))
        kept_adds += kept.added
        kept_rejections += kept.rejected
    added = [as_relationship(p) for p in kept_adds]
    # A rejected reference leaves the plan's relationships; its parent is unchanged (its key is
    # the parent's own primary key, or derived from the row index and so unique either way).
    dropped = [r.relationship for r in kept_rejections]
    rejected = [rejected_relationship(r.relationship, r.reason, advisor.name) for r in kept_rejections]
    plan = offline_plan.model_copy(
        update={
            "relationships": [r for r in offline_plan.relationships if r not in dropped] + added,
            "rejected_relationships": [*offline_plan.rejected_relationships, *rejected],
        }
    )
    failures = list(offline_plan.failures)
    tables = _unsafe_recipes(tables, plan, failures)
    used_model = session.metered and (
        any(t.source == "model" for t in advice) or bool(added) or bool(rejected) or rel_record.source == "model"
    )
    plan = plan.model_copy(
        update={
            "tables": tables,
            "failures": failures,
            "engine": advisor.name if used_model else offline_plan.engine,
        }
    )
    report = AdviceReport(
        advisor=advisor.name,
        sample_policy=options.prompt.sample_policy,
        token_budget=options.token_budget,
        tokens_used=session.used,
        budget_exhausted=session.budget_exhausted,
        provider_unavailable=session.unavailable,
        provider_failure=session.last_failure,
        max_prompt_chars=options.prompt.max_prompt_chars,
        relationships=rel_record,
        relationships_added=added,
        relationships_rejected=rejected,
        relationships_confirmed=advised.confirmed,
        relationship_prompt_chars=advised.prompt_chars,
        tables=advice,
        calls=session.calls,
    )
    return AdvisedPlan(plan=plan, report=report)
