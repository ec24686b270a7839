"""Model-made vocabularies: invented values for a text kind nothing else covers, checked before use.

Text of a kind no Faker provider makes (paint shades, grape varieties, fabric names) is
planned offline as ``ShapedText``: the source's shapes filled with invented pronounceable
words ("Kivo Tamu"). With llm=gemini the generation answer may give such a column
``kind="vocabulary"`` and a list of realistic synthetic values instead ("Misty Fern").

Only where it cannot copy or stand in for personal data: a scalar STRING column, not a key
or reference, whose semantic type is neither one of ``IDENTIFYING_TYPES`` (people, contacts,
addresses, identifiers, free text), nor ``unknown`` (when in doubt, a column is treated as
personal), nor a kind a provider makes (``FAKER_COVERED_TYPES``), and whose plan is shaped
text. Every proposed value is then checked:

* the answer holds at most ``size`` values (the response schema bounds it too);
* a value equal to a source value is dropped and counted: compared by the digest the leak
  check and the generate step's exclusions use (``generation.exclusions.value_digest``),
  against every source value the plan step has: the profile's sample, top values, minimum
  and maximum, and, where ``KeyChecks.present_digests`` can ask the source, all its values;
* a value out of the column's bounds is dropped and counted: empty or padded, control
  characters, a length outside the source's (or the declared ``STRING(L)``), a character
  class (letters, digits, spaces, punctuation) no source value uses, or lorem filler;
* fewer than ``min_values`` survivors (at most the source's distinct count): the column keeps
  its offline generator, and the report says why.

Kept values are weighted by the source's value frequencies in rank order (the model lists
its values most common first), so the synthetic column repeats values as the source does
without any source value in it. The result is a ``models.Vocabulary`` stored in the plan.
Pure apart from the optional ``present`` lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from pydantic import Field

from bqsynth.generation.exclusions import value_digest
from bqsynth.llm.advice_report import VocabularyRecord
from bqsynth.llm.answers import MAX_VOCABULARY_VALUES
from bqsynth.llm.columns import in_array
from bqsynth.models import (
    ColumnPlan,
    ColumnStats,
    ShapedText,
    StrictModel,
    TablePlan,
    TableProfile,
    Vocabulary,
    leaf_schemas,
)
from bqsynth.semantics import IDENTIFYING_TYPES, sample_values
from bqsynth.text_kinds import character_classes, is_filler

DEFAULT_VOCABULARY_SIZE = 50
DEFAULT_MIN_VOCABULARY_VALUES = 10

# Semantic types whose values a provider of the allowlist makes (Faker's, and the kinds
# ``text_kinds.KindsProvider`` adds: products, titles of works, categories): a column of one
# of them gets the provider, which has more variety than any list.
FAKER_COVERED_TYPES = frozenset(
    {
        "person.first_name",
        "person.last_name",
        "person.full_name",
        "email",
        "phone_number",
        "address.street",
        "address.city",
        "address.state",
        "address.postal_code",
        "address.country",
        "company.name",
        "product.name",
        "work.title",
        "job_title",
        "category.name",
        "url",
        "ip_address",
        "iban",
        "credit_card_number",
    }
)

# Which of these digests are values of a source column, counted on all its rows (None: unknown).
PresentDigests = Callable[[TableProfile, str, Collection[str]], set[str] | None]


class VocabularyLimits(StrictModel):
    """How large a model-made vocabulary may be, and how small it may end up after the checks."""

    size: int = Field(
        default=DEFAULT_VOCABULARY_SIZE, ge=1, le=MAX_VOCABULARY_VALUES, description="Values one answer may propose"
    )
    min_values: int = Field(
        default=DEFAULT_MIN_VOCABULARY_VALUES,
        ge=1,
        description="Values that must survive the checks (at most the source's distinct count), else the "
        "column keeps its offline generator",
    )


def not_eligible(column: ColumnPlan, path: str, table: TablePlan, keys: Collection[str]) -> str | None:
    """Why a model may not propose a vocabulary for a column; None when it may."""
    semantic = column.semantic_type
    if path in keys:
        return "it is a key or a reference, generated from row indices"
    if column.type != "STRING" or in_array(table, path):
        return "only a STRING column outside arrays can have a vocabulary"
    if semantic in IDENTIFYING_TYPES or semantic == "unknown":
        return f"it may hold personal or identifying data ({semantic}); it is faked, never a list of values"
    if semantic in FAKER_COVERED_TYPES:
        return f"a Faker provider makes its kind ({semantic}); choose faker"
    if not isinstance(column.generator, ShapedText | Vocabulary):
        kind = column.generator.kind
        return f"only text of a kind nothing else covers (planned as shaped text) can have one; it is {kind}"
    return None


def source_digests(profile: TableProfile, path: str) -> set[str]:
    """Digests of every value of the column the profile holds: sample, top values, minimum and maximum."""
    stats = profile.stats.get(path)
    values: list[Any] = list(sample_values(profile, path))
    if stats is not None:
        values += [v.value for v in stats.top_values] + [stats.min_value, stats.max_value]
    return {value_digest(v) for v in values if v is not None}


def _bounds_problem(value: str, low: int, high: int, classes: set[str] | None, filler_ok: bool) -> str | None:
    if not value.strip() or value != value.strip() or not value.isprintable():
        return "empty, padded or with control characters"
    if not low <= len(value) <= high:
        return f"length {len(value)} outside {low}..{high}"
    if classes is not None and not set(character_classes(value).split()) <= classes:
        return "characters of a class no source value uses"
    if not filler_ok and is_filler(value):
        return "lorem filler"
    return None


def length_bounds(stats: ColumnStats | None, declared: int | None) -> tuple[int, int]:
    """The lengths a value may have: the source's, within a declared STRING(L)."""
    low = stats.min_length if stats and stats.min_length else 1
    high = stats.max_length if stats and stats.max_length else max(low, 100)
    if declared:
        low, high = min(low, declared), min(high, declared)
    return max(low, 1), high


def rank_weights(count: int, stats: ColumnStats | None) -> list[float]:
    """The source's value counts in rank order, one per kept value (the last repeated beyond them)."""
    counts = sorted((v.count for v in (stats.top_values if stats else []) if v.value is not None), reverse=True)
    if not counts:
        return [1.0] * count
    return [float(counts[min(i, len(counts) - 1)]) for i in range(count)]


def check_vocabulary(
    path: str,
    proposed: Sequence[str],
    profile: TableProfile,
    table: TablePlan,
    limits: VocabularyLimits,
    origin: str,
    present: PresentDigests | None = None,
) -> tuple[Vocabulary | None, VocabularyRecord, list[str]]:
    """The vocabulary built from a proposal, what the checks dropped, and problems to repair.

    Problems (an answer outside the bounds asked for) go back to the model; dropped values
    never do, so an answer never learns which of its values are source values.
    """
    record = VocabularyRecord(column=path, proposed=len(proposed))
    if not proposed:
        return None, record, [f"{path}: a vocabulary needs values"]
    if len(proposed) > limits.size:
        too_many = f"{path}: a vocabulary holds at most {limits.size} values, the answer has {len(proposed)}"
        return None, record, [too_many]
    stats = profile.stats.get(path)
    samples = [str(v) for v in sample_values(profile, path) if v is not None]
    low, high = length_bounds(stats, leaf_schemas(table.schema_)[path].max_length)
    classes = set().union(*(character_classes(s).split() for s in samples)) if samples else None
    filler_ok = any(is_filler(s) for s in samples)
    seen_source = source_digests(profile, path)
    unique = list(dict.fromkeys(proposed))
    record.dropped_duplicates = len(proposed) - len(unique)
    in_bounds = [v for v in unique if _bounds_problem(v, low, high, classes, filler_ok) is None]
    record.dropped_out_of_bounds = len(unique) - len(in_bounds)
    fresh = [v for v in in_bounds if value_digest(v) not in seen_source]
    found = present(profile, path, [value_digest(v) for v in fresh]) if present and fresh else None
    record.checked_on_all_rows = found is not None
    kept = [v for v in fresh if value_digest(v) not in (found or set())]
    record.dropped_source_values = len(in_bounds) - len(kept)
    record.kept = len(kept)
    needed = min(limits.min_values, max(stats.distinct_count if stats else 0, 1))
    if len(kept) < needed:
        record.fallback_reason = (
            f"{len(kept)} of {len(proposed)} proposed values passed the checks, {needed} are needed: "
            "the offline generator is kept"
        )
        return None, record, []
    record.used = True
    return Vocabulary(values=kept, weights=rank_weights(len(kept), stats), origin=origin), record, []


def vocabulary_paths(table: TablePlan, keys: Collection[str], leaves: Iterable[tuple[str, ColumnPlan]]) -> list[str]:
    """The leaves a model may propose a vocabulary for."""
    return [path for path, column in leaves if not_eligible(column, path, table, keys) is None]
