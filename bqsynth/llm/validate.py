"""Check every answer before any of it is used, and every resulting table before it is kept.

Answers are checked against the real schema (no invented tables, columns or types) and
the closed vocabulary (the schemas' enums already constrain semantic types, kinds and
providers; here: compatibility with the column's BigQuery type, privacy, observed values).
A table built from an answer is then checked as a whole: privacy invariants, the compiled
recipe through ``recipe_safety.check_recipe`` (before Snowfakery parses it, since parsing
imports plugins and reads included files), Snowfakery's own validation, and a dry run of a
few rows through ``snowfakery_runner.generate_table``. Every problem is a sentence a model can act
on in a repair round; none quotes source values of identifying columns.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from bqsynth.generation.recipe_checks import dry_run_problems, snowfakery_problems
from bqsynth.generation.recipe_safety import check_recipe
from bqsynth.llm.advice_report import VocabularyRecord
from bqsynth.llm.answers import (
    ColumnRule,
    GenerationAnswer,
    GeneratorChoice,
    RelationshipProposal,
    RelationshipsAnswer,
    SemanticsAnswer,
)
from bqsynth.llm.apply import generator_for_choice
from bqsynth.llm.columns import in_array, table_key_column
from bqsynth.llm.prompts import describe_generator
from bqsynth.llm.rule_checks import rule_problems
from bqsynth.llm.vocabulary import PresentDigests, VocabularyLimits, check_vocabulary, not_eligible
from bqsynth.models import (
    NUMERIC_TYPES,
    UNCLASSIFIABLE_TYPES,
    ArrayValue,
    Categorical,
    ColumnPlan,
    DatasetPlan,
    FakerValue,
    ForeignKeyRef,
    FreeText,
    Generator,
    NullValue,
    PatternString,
    Relationship,
    SequenceKey,
    ShapedText,
    TablePlan,
    TableProfile,
    Vocabulary,
    key_type_family,
    leaf_plans,
)
from bqsynth.planning.relationships import DISTINCT_TOLERANCE, MIN_CONFIDENCE, MIN_INCLUSION
from bqsynth.semantics import sample_values
from bqsynth.sources.key_checks import InclusionQuery, KeyChecks

_ANY = None
_STRING = frozenset({"STRING"})
_CODE = frozenset({"STRING"}) | NUMERIC_TYPES  # values that may be stored as numbers or strings
# BigQuery types each semantic type can describe (None: any scalar type).
SEMANTIC_COLUMN_TYPES: dict[str, frozenset[str] | None] = {
    **dict.fromkeys(
        [
            "person.first_name",
            "person.last_name",
            "person.full_name",
            "email",
            "address.street",
            "address.city",
            "address.state",
            "address.country",
            "company.name",
            "product.name",
            "work.title",
            "job_title",
            "category.name",
            "url",
            "ip_address",
            "iban",
            "free_text",
        ],
        _STRING,
    ),
    **dict.fromkeys(
        [
            "phone_number",
            "address.postal_code",
            "credit_card_number",
            "ssn",
            "account_number",
            "identifier",
            "key",
            "amount",
            "quantity",
            "percentage",
            "latitude",
            "longitude",
            "number",
        ],
        _CODE,
    ),
    "date_of_birth": frozenset({"DATE", "DATETIME", "TIMESTAMP", "STRING"}),
    "date": frozenset({"DATE", "DATETIME", "TIMESTAMP", "STRING"}),
    "timestamp": frozenset({"DATETIME", "TIMESTAMP", "STRING"}),
    "time": frozenset({"TIME", "STRING"}),
    "boolean": frozenset({"BOOL", "INT64", "STRING"}),
    "categorical": _ANY,
    "unknown": _ANY,
}


def _problems_of_names(given: list[str], expected: list[str], what: str) -> list[str]:
    problems = []
    unknown = [c for c in given if c not in expected]
    if unknown:
        problems.append(f"no {what} {', '.join(map(repr, unknown[:5]))} in this request; use the exact names given")
    duplicated = sorted({c for c in given if given.count(c) > 1})
    if duplicated:
        problems.append(f"{what}s answered more than once: {duplicated[:5]}")
    return problems


# --- semantics --------------------------------------------------------------------------------


def semantics_problems(answer: SemanticsAnswer, table: TablePlan, columns: list[str]) -> list[str]:
    """Exactly the requested columns, each with a semantic type its BigQuery type can hold."""
    problems = []
    if answer.table != table.name:
        problems.append(f"the answer is for table {answer.table!r}, the request was for {table.name!r}")
    given = [m.column for m in answer.columns]
    problems += _problems_of_names(given, columns, "column")
    missing = [c for c in columns if c not in given]
    if missing:
        problems.append(f"every column needs an answer; missing: {missing[:10]}")
    leaves = leaf_plans(table.columns)
    for meaning in answer.columns:
        if meaning.column not in leaves:
            continue
        column_type = leaves[meaning.column].type
        allowed = SEMANTIC_COLUMN_TYPES.get(meaning.semantic_type, _ANY)
        if column_type in UNCLASSIFIABLE_TYPES and meaning.semantic_type != "unknown":
            problems.append(f"{meaning.column}: {column_type} columns can only be 'unknown'")
        elif allowed is not None and column_type not in allowed:
            problems.append(f"{meaning.column}: a {column_type} column cannot be {meaning.semantic_type!r}")
        if not meaning.human_name.strip():
            problems.append(f"{meaning.column}: human_name is empty")
    return problems


# --- relationships ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """A known, inferred relationship the model rejected, and the model's reason."""

    relationship: Relationship
    reason: str


@dataclass
class RelationshipOutcome:
    added: list[RelationshipProposal] = field(default_factory=list)
    confirmed: list[RelationshipProposal] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # low-confidence proposals, not errors


def _same(proposal: RelationshipProposal, rel: Relationship) -> bool:
    return (
        rel.child_table == proposal.child_table
        and rel.child_columns == [proposal.child_column]
        and rel.parent_table == proposal.parent_table
        and rel.parent_columns == [proposal.parent_column]
    )


def _proposal_label(proposal: RelationshipProposal) -> str:
    return f"{proposal.child_table}.{proposal.child_column} -> {proposal.parent_table}.{proposal.parent_column}"


def _shown_as(proposal: RelationshipProposal, rel: Relationship) -> bool:
    """The proposal names ``rel`` as the prompt lists it (several columns joined by commas)."""
    return (
        rel.child_table == proposal.child_table
        and ",".join(rel.child_columns) == proposal.child_column.replace(" ", "")
        and rel.parent_table == proposal.parent_table
        and ",".join(rel.parent_columns) == proposal.parent_column.replace(" ", "")
    )


def _recomputed_elsewhere(table: str, column: str, planned: dict[str, TablePlan]) -> bool:
    """Whether a composite reference of another table recomputes ``table.column`` (its ``via``)."""
    return any(
        isinstance(g := c.generator, ForeignKeyRef)
        and g.via is not None
        and (g.parent_table, g.parent_column) == (table, column)
        for t in planned.values()
        for c in leaf_plans(t.columns).values()
    )


def _rejection_problems(
    proposal: RelationshipProposal, known: list[Relationship], planned: dict[str, TablePlan]
) -> tuple[Rejection | None, list[str]]:
    """A rejection of a known, inferred, single-column reference the plan can drop on its own."""
    label = _proposal_label(proposal)
    rel = next((r for r in known if _shown_as(proposal, r)), None)
    if rel is None:
        return None, [f"{label}: not a known relationship; only relationships listed in 'known' can be rejected"]
    if rel.origin != "inferred":
        return None, [
            f"{label}: it is {rel.origin} (in the source schema's constraints), not inferred; "
            "a declared relationship cannot be rejected, confirm it or leave it out"
        ]
    if len(rel.child_columns) != 1:
        return None, [f"{label}: only single-column references can be rejected"]
    child = planned.get(rel.child_table)
    column = leaf_plans(child.columns).get(rel.child_columns[0]) if child else None
    generator = column.generator if column else None
    if isinstance(generator, ForeignKeyRef) and (
        generator.link is not None or generator.draw or generator.stratified_rows or generator.group_pairing
    ):
        # Its values pair with another column's (a two-column key, or a composite reference):
        # replanning one half alone would break the pair the other half and its children rely on.
        # Or a line number counts the rows of each of its parents (``stratified_rows``).
        return None, [
            f"{label}: the column is half of a paired two-column reference, or the group a line number "
            "numbers, and cannot be rejected alone"
        ]
    if _recomputed_elsewhere(rel.child_table, rel.child_columns[0], planned):
        return None, [
            f"{label}: other tables' composite references take this column's values from its rows "
            "(planning.planner.resolve_composite_references); it cannot be rejected alone"
        ]
    if not proposal.evidence.strip():
        return None, [f"{label}: a rejection needs the reason in its evidence"]
    return Rejection(relationship=rel, reason=proposal.evidence.strip()), []


def _value_problems(
    proposal: RelationshipProposal, child: TableProfile, parent: TableProfile, parent_plan: TablePlan
) -> list[str]:
    """Values must not contradict the reference (checked locally, on the full profile)."""
    label = f"{proposal.child_table}.{proposal.child_column} -> {proposal.parent_table}.{proposal.parent_column}"
    child_stats = child.stats.get(proposal.child_column)
    parent_stats = parent.stats.get(proposal.parent_column)
    problems = []
    if child_stats and parent_stats and child_stats.distinct_count > parent_stats.distinct_count * DISTINCT_TOLERANCE:
        problems.append(f"{label}: the child has more distinct values than the parent has keys")
    if child_stats and parent_stats:
        bounds = [child_stats.min_value, child_stats.max_value, parent_stats.min_value, parent_stats.max_value]
        if all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
            low, high, parent_low, parent_high = bounds  # type: ignore[misc]
            if low < parent_low or high > parent_high:  # type: ignore[operator]
                problems.append(f"{label}: child values fall outside the parent's key range")
    children = [v for v in sample_values(child, proposal.child_column) if v is not None]
    if children and parent.row_count and len(parent.sample) >= parent.row_count:
        keys = {str(v) for v in sample_values(parent, proposal.parent_column)}
        found = sum(1 for v in children if str(v) in keys)
        if found < MIN_INCLUSION * len(children):
            problems.append(f"{label}: only {found} of {len(children)} sampled child values are parent keys")
    key = leaf_plans(parent_plan.columns)[proposal.parent_column].generator
    if isinstance(key, SequenceKey) and key.as_string and key.prefix and children:
        if not all(str(v).startswith(key.prefix) for v in children):
            problems.append(f"{label}: child values do not have the shape of the parent's keys")
    return problems


def _inclusion_problems(
    proposal: RelationshipProposal, child: TableProfile, parent: TableProfile, checks: KeyChecks | None
) -> list[str]:
    """The child's values must exist in the parent key, counted exactly on the sources."""
    if checks is None or child.file_format is not None or parent.file_format is not None:
        return []
    query = InclusionQuery(
        child_table_id=child.table_id,
        child_columns=[proposal.child_column],
        parent_table_id=parent.table_id,
        parent_columns=[proposal.parent_column],
    )
    [inclusion] = checks.inclusion([query])
    label = f"{proposal.child_table}.{proposal.child_column} -> {proposal.parent_table}.{proposal.parent_column}"
    if inclusion is None:
        return [f"{label}: the values could not be checked on the source tables"]
    if inclusion.child_distinct == 0 or inclusion.share < MIN_INCLUSION:
        return [
            f"{label}: only {inclusion.found} of {inclusion.child_distinct} distinct child values are parent keys "
            "(exact check on all rows)"
        ]
    return []


def relationships_problems(
    answer: RelationshipsAnswer,
    profiles: dict[str, TableProfile],
    plan: DatasetPlan,
    known: list[Relationship],
    tables: list[str],
    checks: KeyChecks | None = None,
) -> tuple[RelationshipOutcome, list[str]]:
    """Accepted confirmations, additions and rejections, or the problems with the answer.

    Only an inferred single-column reference can be rejected (a declared one is the
    schema's word, not a guess); a column whose reference is rejected may be given another
    parent in the same answer. An added reference passes the checks an inferred one passes: the profile's evidence
    here, and with ``checks`` the exact inclusion of the child's values in the parent key.
    """
    outcome = RelationshipOutcome()
    problems: list[str] = []
    planned = {t.name: t for t in plan.tables}
    added_children: set[tuple[str, str]] = set()
    # Rejections first: a column whose reference is rejected may get another parent ('add').
    ordered = sorted(answer.relationships, key=lambda p: p.action != "reject")
    for proposal in ordered:
        label = _proposal_label(proposal)
        if proposal.child_table not in tables or proposal.parent_table not in planned:
            problems.append(f"{label}: unknown table (child tables here: {tables[:10]})")
            continue
        if proposal.action == "reject":
            rejection, errors = _rejection_problems(proposal, known, planned)
            if rejection is not None and rejection.relationship in [r.relationship for r in outcome.rejected]:
                continue  # the same rejection twice
            if rejection is not None:
                outcome.rejected.append(rejection)
            problems += errors
            continue
        if any(_shown_as(proposal, r.relationship) for r in outcome.rejected):
            problems.append(f"{label}: it is both rejected and {proposal.action}ed in this answer; choose one")
            continue
        child_plan, parent_plan = planned[proposal.child_table], planned[proposal.parent_table]
        child_leaves = leaf_plans(child_plan.columns)
        column = next((c for c in child_plan.schema_ if c.name == proposal.child_column), None)
        if column is None or proposal.child_column not in child_leaves:
            problems.append(f"{label}: {proposal.child_table} has no top-level column {proposal.child_column!r}")
            continue
        key_column = table_key_column(parent_plan)
        if proposal.parent_column != key_column:
            problems.append(f"{label}: the parent column must be {proposal.parent_table}'s key ({key_column})")
            continue
        if proposal.action == "confirm":
            if not any(_same(proposal, rel) for rel in known):
                problems.append(f"{label}: not a known relationship; use action 'add' to propose it")
            else:
                outcome.confirmed.append(proposal)
            continue
        if any(_same(proposal, rel) for rel in known):
            outcome.confirmed.append(proposal)  # "adding" a known one confirms it
            continue
        if proposal.confidence < MIN_CONFIDENCE:
            outcome.ignored.append(f"{label}: confidence {proposal.confidence} below {MIN_CONFIDENCE}")
            continue
        child_key = (proposal.child_table, proposal.child_column)
        still_known = [r for r in known if r not in [x.relationship for x in outcome.rejected]]
        if any(r.child_table == child_key[0] and child_key[1] in r.child_columns for r in still_known):
            problems.append(f"{label}: {proposal.child_column} already references another table")
            continue
        if child_key in added_children:
            problems.append(f"{label}: {proposal.child_column} is given more than one parent")
            continue
        if table_key_column(child_plan) == proposal.child_column:
            problems.append(f"{label}: {proposal.child_column} is {proposal.child_table}'s own key")
            continue
        if column.is_repeated or column.is_record:
            problems.append(f"{label}: only scalar, non-repeated columns can reference a key")
            continue
        child, parent = profiles[proposal.child_table], profiles[proposal.parent_table]
        child_family = key_type_family(column.type, child.stats.get(proposal.child_column))
        parent_family = key_type_family(leaf_plans(parent_plan.columns)[key_column].type, parent.stats.get(key_column))
        if child_family is None or child_family != parent_family:
            problems.append(f"{label}: types are not compatible ({column.type} vs the parent's key)")
            continue
        value_problems = _value_problems(proposal, child, parent, parent_plan) or _inclusion_problems(
            proposal, child, parent, checks
        )
        if value_problems:
            problems += value_problems
            continue
        added_children.add(child_key)
        outcome.added.append(proposal)
    return outcome, problems


# --- generation -------------------------------------------------------------------------------


@dataclass
class GenerationOutcome:
    generators: dict[str, tuple[Generator, str]] = field(default_factory=dict)
    rules: list[ColumnRule] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    vocabularies: list[VocabularyRecord] = field(default_factory=list)


@dataclass(frozen=True)
class VocabularyAsk:
    """What a generation question offers for vocabularies: the limits, who answers, the exact source lookup."""

    limits: VocabularyLimits
    origin: str
    present: PresentDigests | None = None


def generation_problems(
    answer: GenerationAnswer,
    profile: TableProfile,
    table: TablePlan,
    columns: list[str],
    keys: set[str],
    min_category_count: int,
    vocabulary: VocabularyAsk | None = None,
) -> tuple[GenerationOutcome, list[str]]:
    """Generators for the chosen columns (built from the profile) and well-formed rules, or problems.

    A proposed vocabulary (only when ``vocabulary`` offers them) is checked by
    ``vocabulary.check_vocabulary``: too few surviving values keep the offline generator, a note.
    """
    outcome = GenerationOutcome()
    problems: list[str] = []
    if answer.table != table.name:
        problems.append(f"the answer is for table {answer.table!r}, the request was for {table.name!r}")
    leaves = leaf_plans(table.columns)
    problems += _problems_of_names([c.column for c in answer.columns], columns, "column")
    for choice in answer.columns:
        if choice.column not in columns or choice.column in outcome.generators:
            continue
        if choice.column in keys:
            outcome.notes.append(f"{choice.column}: key column, its choice was ignored")
            continue
        column = leaves[choice.column]
        if choice.kind == "vocabulary":
            problems += _vocabulary_choice(choice, column, profile, table, keys, vocabulary, outcome)
            continue
        generator, errors = generator_for_choice(
            choice,
            column,
            profile.stats.get(choice.column),
            table.row_count,
            column.identifying,
            min_category_count,
            sample_values(profile, choice.column),
        )
        if errors or generator is None:
            problems += errors
            continue
        reason = f"model: {choice.reason}".strip() if choice.reason else "model's choice"
        outcome.generators[choice.column] = (generator, reason)
    repeated = {p for p in leaves if in_array(table, p)}
    for rule in answer.rules:
        errors = rule_problems(rule, leaves, repeated)
        if errors:
            problems += errors
        else:
            outcome.rules.append(rule)
    return outcome, problems


def _vocabulary_choice(
    choice: GeneratorChoice,
    column: ColumnPlan,
    profile: TableProfile,
    table: TablePlan,
    keys: set[str],
    ask: VocabularyAsk | None,
    outcome: GenerationOutcome,
) -> list[str]:
    """Add a checked vocabulary to ``outcome`` (or a note why the offline generator stays); problems to repair."""
    if ask is None:
        return [f"{choice.column}: vocabulary is not offered in this request; choose another kind"]
    why_not = not_eligible(column, choice.column, table, keys)
    if why_not is not None:
        return [f"{choice.column}: no vocabulary: {why_not}"]
    generator, record, problems = check_vocabulary(
        choice.column, choice.vocabulary or [], profile, table, ask.limits, ask.origin, ask.present
    )
    if problems:
        return problems
    outcome.vocabularies.append(record)
    if generator is None:
        outcome.notes.append(f"{choice.column}: vocabulary not used: {record.fallback_reason}")
        return []
    reason = f"model: {choice.reason}".strip() if choice.reason else "model's vocabulary"
    outcome.generators[choice.column] = (generator, f"{reason} ({record.kept} values checked against the source)")
    return []


def _element(generator: Generator) -> Generator:
    return generator.element if isinstance(generator, ArrayValue) else generator


def privacy_problems(table: TablePlan, offline: TablePlan, paths: Collection[str] | None = None) -> list[str]:
    """Changed leaves (of ``paths``, default all): an identifying column never copies source values.

    Checked on the built table, because the generator may come from the offline plan while
    the semantic type (and so ``identifying``) came from the model.
    """
    before = leaf_plans(offline.columns)
    problems = []
    for path, column in leaf_plans(table.columns).items():
        if (paths is not None and path not in paths) or before.get(path) == column or not column.identifying:
            continue
        element = _element(column.generator)
        if isinstance(element, Categorical):
            problems.append(
                f"{path}: it is identifying ({column.semantic_type}) but its generator copies source values "
                "(categorical); choose faker, pattern or text"
            )
        elif column.type == "STRING" and not isinstance(
            # A vocabulary's values were checked not to be source values, and are excluded again when generating.
            element,
            (FakerValue, PatternString, FreeText, ShapedText, Vocabulary, NullValue),
        ):
            problems.append(f"{path}: an identifying STRING column needs faker, pattern or text")
    return problems


# --- recipes ----------------------------------------------------------------------------------


def table_problems(
    table: TablePlan, offline: TablePlan, seed: int, dry_run_rows: int, paths: Collection[str] | None = None
) -> list[str]:
    """Everything a table built from advice must pass, cheapest first; the first failing stage reports."""
    problems = privacy_problems(table, offline, paths)
    if problems:
        return problems
    problems = [f"recipe: {p}" for p in check_recipe(table.recipe)]
    if problems:
        return problems
    problems = snowfakery_problems(table.recipe)
    if problems:
        return problems
    return dry_run_problems(table, seed, dry_run_rows)


def changed_leaves(table: TablePlan, offline: TablePlan) -> list[str]:
    before = leaf_plans(offline.columns)
    return [path for path, column in leaf_plans(table.columns).items() if before.get(path) != column]


def column_summary(column: ColumnPlan) -> str:
    """A one-line, value-free description of a leaf's plan, for the report's change list."""
    return f"{column.semantic_type}, {describe_generator(column.generator)}"
