"""Joint relationship discovery over all profiled tables (the offline engine).

Declared foreign keys are taken as they are. Undeclared ones are inferred, conservatively,
from three kinds of evidence that must agree:

* names: the child column names the parent (``customer_id``, ``cust_no``, ``customer_key``
  -> ``Dim_Customer.customer_id``; ``manager_id`` -> the same table's ``employee_id``);
* types: both columns in the same key-able type family (integer, string);
* values: the child's range inside the parent's, no more distinct child values than parent
  keys, and sampled child values found among the parent's known values. Samples are bounded,
  so inclusion is only measured where it can be: exactly when the parent was sampled whole,
  through range containment when the parent's integer keys are dense, and otherwise only as
  supporting evidence.

Name evidence is required: a numeric column that merely falls inside a key's range (an
``amount``, a ``quantity``) is never related. Declared evidence wins, a column gets at most
one parent, and output order is sorted so the same profiles always give the same result.

Public API: :func:`discover_relationships` returns a :class:`RelationshipReport`
(relationships and warnings, e.g. a declared foreign key to a table outside the run);
:func:`infer_relationships` returns just the relationships; :func:`order_tables` and
:func:`generation_order` put parents before children.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import Field

from bqsynth.models import (
    ColumnSchema,
    ColumnStats,
    Relationship,
    StrictModel,
    TableProfile,
    key_type_family,
    leaf_schemas,
    normalise_type,
)
from bqsynth.semantics import (
    UNIQUE_RATIO,
    derive_pattern,
    entity_forms,
    entity_tokens,
    name_tokens,
    sample_values,
    split_name,
)

# Below this an inferred relationship is dropped. Name evidence weighs 0.6, values 0.4, so an
# exact name match alone (0.6) passes and a bare abbreviation (0.36) needs values to agree.
MIN_CONFIDENCE = 0.5
NAME_WEIGHT = 0.6
VALUE_WEIGHT = 0.4
# Sampled child values that must be found when the parent's values are known completely;
# real warehouses carry a few orphans.
MIN_INCLUSION = 0.9
# APPROX_COUNT_DISTINCT is ~1% off: a child may appear to have a few more keys than its parent.
DISTINCT_TOLERANCE = 1.05

# Role words that make a same-table id a self-reference (employees.manager_id -> employee_id).
SELF_REFERENCE_ROLES = frozenset(
    {
        "manager",
        "parent",
        "supervisor",
        "boss",
        "reports",
        "referrer",
        "referred",
        "lead",
        "mentor",
        "head",
        "predecessor",
        "successor",
        "previous",
        "prev",
        "next",
        "original",
        "root",
        "super",
        "superior",
        "sponsor",
        "approver",
        "replaced",
        "replaces",
        "master",
        "duplicate",
        "merged",
        "linked",
        "related",
    }
)
_KEY_NAMES = frozenset({"id", "key", "pk", "uuid", "guid", "code", "no", "number", "num", "nbr", "nr", "sk"})
# Natural keys: their names carry no id/key suffix, yet a table of products is keyed by them.
_NATURAL_KEY_NAMES = frozenset({"sku", "ean", "upc", "gtin", "isbn", "asin", "vin", "mpn"})
# Higher rank = more key-like when a table has several candidate key columns.
_KEY_SUFFIX_RANK = {
    "id": 4,
    "key": 3,
    "sk": 3,
    "uuid": 3,
    "guid": 3,
    "pk": 3,
    "code": 2,
    "number": 1,
    "no": 1,
    "num": 1,
    "nbr": 1,
    "nr": 1,
}


class RelationshipReport(StrictModel):
    """Relationships found over one run's tables, and what could not be used."""

    relationships: list[Relationship] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class GenerationOrder(StrictModel):
    """Tables with every parent before its children, and how cycles were broken."""

    order: list[str]
    notes: list[str] = Field(default_factory=list)


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
# Candidate parents
# ---------------------------------------------------------------------------------------------


class _Key:
    """A single-column key that children may reference, with what is known about its values."""

    def __init__(self, table: TableProfile, column: str, declared: bool) -> None:
        self.table = table
        self.column = column
        self.declared = declared
        self.schema = table.column(column)
        self.stats = table.stats.get(column)
        self.family = key_type_family(self.schema.type, self.stats)
        self.values = _known_values(table, column)
        self.core = split_name(name_tokens(column))[0]
        self.entity = entity_tokens(table.name)
        self.forms = entity_forms(table.name)


def _known_values(table: TableProfile, path: str) -> set[Any]:
    stats = table.stats.get(path)
    values = {v for v in sample_values(table, path) if not isinstance(v, (dict, list))}
    if stats is not None:
        values.update(v.value for v in stats.top_values if v.value is not None)
    return values


def _unique_enough(table: TableProfile, column: str) -> bool:
    stats = table.stats.get(column)
    if stats is not None and stats.non_null_count > 0:
        return stats.null_count == 0 and stats.distinct_ratio >= UNIQUE_RATIO
    values = sample_values(table, column)
    # Without statistics, a whole-sample check is the best we have (rows without the key fail it).
    return bool(values) and len(values) == len(table.sample) and len(set(map(str, values))) == len(values)


def _key_rank(table: TableProfile, column: ColumnSchema) -> int:
    """How strongly a column's name says "this table's own key"; 0 = not at all."""
    tokens = name_tokens(column.name)
    if tokens and tokens[-1] in _NATURAL_KEY_NAMES:
        return 2  # product_sku, isbn: below a surrogate id, above nothing
    core, suffix = split_name(tokens)
    if not suffix:
        return 0
    rank = max(_KEY_SUFFIX_RANK.get(t, 0) for t in suffix)
    if not core and tokens[-1] in _KEY_NAMES:
        return rank + 10  # "id", "key": the conventional surrogate key
    if core and "_".join(core) in entity_forms(table.name):
        return rank + 5  # customer_id in customers, customer_key in Dim_Customer
    return 0


def candidate_key(table: TableProfile) -> tuple[str, bool] | None:
    """The table's single-column key: the declared primary key, else the best unique key-named column."""
    if table.primary_key:
        return (table.primary_key[0], True) if len(table.primary_key) == 1 else None
    ranked: list[tuple[int, str]] = []
    for column in table.columns:
        if column.is_record or column.is_repeated or key_type_family(column.type, table.stats.get(column.name)) is None:
            continue
        rank = _key_rank(table, column)
        if rank and _unique_enough(table, column.name):
            ranked.append((-rank, column.name))
    return (min(ranked)[1], False) if ranked else None


# ---------------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------------


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(char in letters for char in short)


def _name_score(child: TableProfile, path: str, key: _Key) -> tuple[float, str]:
    """How strongly the child column's name points at the key (0..1), and why."""
    tokens = name_tokens(path.rsplit(".", 1)[-1])
    core, suffix = split_name(tokens)
    key_name = f"{key.table.name}.{key.column}"
    if not core:
        return 0.0, ""
    # Keys named after their entity (customer_id) are matched by name; "id" keys by entity.
    if key.core and tokens == name_tokens(key.column):
        return 1.0, f"same name as {key_name}"
    joined = "_".join(core)
    tail = core[-len(key.entity) :] if key.entity else []
    unsuffixed = 1.0 if suffix else 0.8  # "customer" alone is weaker than "customer_id"
    if key.entity and ("_".join(tail) in key.forms or joined in key.forms):
        score = (1.0 if not key.core else 0.9) * unsuffixed
        return score, f"{path} names {key.table.name}'s entity '{'_'.join(key.entity)}'"
    if key.core and core[-len(key.core) :] == key.core:
        return 0.9 * unsuffixed, f"{path} ends like {key_name}"
    if child.name == key.table.name and set(core) & SELF_REFERENCE_ROLES:
        return 0.7 * unsuffixed, f"{path} is a self-reference role ({'_'.join(core)}) within {child.name}"
    # Abbreviations: cust -> customer, acct -> account.
    word = core[-1]
    targets = {t for t in (key.entity[-1:] + key.core[-1:]) if t}
    for target in sorted(targets):
        if len(word) >= 3 and word != target and target.startswith(word):
            return 0.6 * unsuffixed, f"'{word}' abbreviates '{target}' ({key_name})"
    for target in sorted(targets):
        if len(word) >= 3 and word[0] == target[0] and _is_subsequence(word, target) and word != target:
            return 0.5 * unsuffixed, f"'{word}' looks like an abbreviation of '{target}' ({key_name})"
    return 0.0, ""


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


def _value_score(child: TableProfile, path: str, key: _Key) -> tuple[float | None, list[str]]:
    """Value evidence in 0..1, or None when the values contradict the relationship."""
    stats = child.stats.get(path)
    notes: list[str] = []
    score = 0.0
    child_values = {v for v in sample_values(child, path) if not isinstance(v, (dict, list))}
    integer = key.family == "integer"

    if stats is not None and key.stats is not None and stats.distinct_count > 0:
        parent_distinct = key.stats.distinct_count or key.table.row_count
        if stats.distinct_count > parent_distinct * DISTINCT_TOLERANCE + 1:
            return None, [f"{stats.distinct_count} distinct child values > {parent_distinct} parent keys"]
        notes.append(f"child distinct {stats.distinct_count} <= parent distinct {parent_distinct}")
        score += 0.15

    parent_range = _numeric_range(key.stats) if integer else None
    child_range = _numeric_range(stats) if integer else None
    if integer:
        if parent_range is not None and child_range is not None:
            if child_range[0] < parent_range[0] or child_range[1] > parent_range[1]:
                return None, [
                    f"child range {_range_text(child_range)} outside parent range {_range_text(parent_range)}"
                ]
            notes.append(f"child range {_range_text(child_range)} within parent range {_range_text(parent_range)}")
            score += 0.35
    else:
        child_pattern = derive_pattern(child_values)
        parent_pattern = derive_pattern(key.values)
        if child_pattern and parent_pattern:
            if not _shapes_compatible(child_pattern, parent_pattern):
                return None, [f"child shape {child_pattern!r} differs from parent shape {parent_pattern!r}"]
            notes.append(f"same shape {parent_pattern!r}")
            score += 0.25

    if child_values:
        checked = sorted(child_values, key=str)
        if _fully_known(key):
            hits = sum(1 for v in checked if v in key.values)
            share = hits / len(checked)
            if share < MIN_INCLUSION:
                return None, [f"only {hits}/{len(checked)} sampled child values exist in the parent"]
            notes.append(f"{hits}/{len(checked)} sampled child values found in {key.table.name} (all keys known)")
            score += 0.5 * share
        elif parent_range is not None and _dense_integers(key):
            low, high = parent_range
            numbers = [_as_number(v) for v in checked]
            inside = sum(1 for n in numbers if n is not None and n == int(n) and low <= n <= high)
            share = inside / len(checked)
            if share < MIN_INCLUSION:
                return None, [f"only {inside}/{len(checked)} sampled child values fall within the dense parent keys"]
            notes.append(f"{inside}/{len(checked)} sampled child values within the parent's dense key range")
            score += 0.4 * share
        else:
            hits = sum(1 for v in checked if v in key.values)
            if hits:
                notes.append(f"{hits}/{len(checked)} sampled child values seen in the parent's partial sample")
                score += 0.2
    return min(score, 1.0), notes


def _child_candidates(table: TableProfile, declared: set[tuple[str, str]]) -> list[tuple[str, ColumnSchema]]:
    candidates = []
    own = _own_key_columns(table)
    for path, column in leaf_schemas(table.columns).items():
        if (table.name, path) in declared:
            continue
        # A table's own natural key (customer_id in customers) is referenced, never a reference.
        # A key named after another entity (customer_id as the key of customer_details) may be one.
        if path in own and _key_rank(table, column) > 0:
            continue
        if key_type_family(column.type, table.stats.get(path)) is None:
            continue
        candidates.append((path, column))
    return candidates


def _own_key_columns(table: TableProfile) -> set[str]:
    found = candidate_key(table)
    own = set(table.primary_key)
    if found is not None:
        own.add(found[0])
    return own


def _candidate_relationship(child: TableProfile, path: str, column: ColumnSchema, key: _Key) -> Relationship | None:
    if child.name == key.table.name and path == key.column:
        return None
    family = key_type_family(column.type, child.stats.get(path))
    if family is None or family != key.family:
        return None
    name_score, name_note = _name_score(child, path, key)
    if name_score <= 0:
        return None
    value_score, value_notes = _value_score(child, path, key)
    if value_score is None:
        return None
    confidence = round(NAME_WEIGHT * name_score + VALUE_WEIGHT * value_score, 3)
    if confidence < MIN_CONFIDENCE:
        return None
    types = f"types {normalise_type(column.type)}/{normalise_type(key.schema.type)}"
    evidence = "; ".join([name_note, types, *value_notes])
    return Relationship(
        child_table=child.name,
        child_columns=[path],
        parent_table=key.table.name,
        parent_columns=[key.column],
        origin="inferred",
        confidence=confidence,
        evidence=evidence,
    )


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _relationship_order(rel: Relationship) -> tuple[str, list[str], str, list[str]]:
    return rel.child_table, rel.child_columns, rel.parent_table, rel.parent_columns


def discover_relationships(profiles: Sequence[TableProfile]) -> RelationshipReport:
    """Declared foreign keys, then inferred single-column ones; sorted, with warnings.

    Profiles with an ``error`` take no part (a declared reference to one becomes a warning).
    Composite keys are only ever declared, never inferred. Child columns may be nested
    (``items.product_id``); parent keys are top-level, non-repeated columns.
    """
    usable = sorted((p for p in profiles if not p.error), key=lambda p: p.name)
    failed = [p for p in profiles if p.error]
    relationships, warnings = _declared(usable, failed)
    declared_children = {(r.child_table, c) for r in relationships for c in r.child_columns}

    keys: list[_Key] = []
    for table in usable:
        found = candidate_key(table)
        if found is None:
            continue
        column, declared = found
        if not any(c.name == column for c in table.columns):
            warnings.append(f"{table.name}: declared primary key column {column} is not in the schema")
            continue
        key = _Key(table, column, declared)
        if key.family is not None:
            keys.append(key)

    best: dict[tuple[str, str], tuple[tuple[float, str, str], Relationship]] = {}
    for child in usable:
        for path, column in _child_candidates(child, declared_children):
            for key in keys:
                rel = _candidate_relationship(child, path, column, key)
                if rel is None:
                    continue
                # Highest confidence wins; ties go to the alphabetically first parent.
                rank = (-rel.confidence, key.table.name, key.column)
                slot = (child.name, path)
                if slot not in best or rank < best[slot][0]:
                    best[slot] = (rank, rel)
    relationships.extend(rel for _, rel in best.values())
    relationships.sort(key=_relationship_order)
    return RelationshipReport(relationships=relationships, warnings=sorted(warnings))


def infer_relationships(profiles: Sequence[TableProfile]) -> list[Relationship]:
    """The relationships of :func:`discover_relationships`, without its warnings."""
    return discover_relationships(profiles).relationships


def order_tables(tables: Iterable[TableProfile | str], relationships: Iterable[Relationship]) -> GenerationOrder:
    """Parents before children (Kahn's algorithm, alphabetical among equals).

    Self-references never block a table. A cycle is broken at its alphabetically first
    table that has the fewest unplaced parents, and a note names the references that then
    point forward. Relationships to tables not listed are ignored.
    """
    names = sorted({t if isinstance(t, str) else t.name for t in tables})
    known = set(names)
    parents: dict[str, set[str]] = {n: set() for n in names}
    for rel in relationships:
        if rel.child_table in known and rel.parent_table in known and rel.child_table != rel.parent_table:
            parents[rel.child_table].add(rel.parent_table)
    order: list[str] = []
    notes: list[str] = []
    placed: set[str] = set()
    ready = [n for n in names if not parents[n]]
    heapq.heapify(ready)
    while len(order) < len(names):
        if not ready:
            remaining = [n for n in names if n not in placed]
            chosen = min(remaining, key=lambda n: (len(parents[n] - placed), n))
            pending = sorted(parents[chosen] - placed)
            notes.append(f"cycle: {chosen} placed before its parent(s) {', '.join(pending)}")
            heapq.heappush(ready, chosen)
        name = heapq.heappop(ready)
        if name in placed:
            continue
        order.append(name)
        placed.add(name)
        for child in names:
            if child not in placed and child not in ready and parents[child] <= placed:
                heapq.heappush(ready, child)
    return GenerationOrder(order=order, notes=notes)


def generation_order(tables: Iterable[TableProfile | str], relationships: Iterable[Relationship]) -> list[str]:
    """Table names, parents before children; see :func:`order_tables` for cycle notes."""
    return order_tables(tables, relationships).order
