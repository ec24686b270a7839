"""Naming conventions of keys and references, as public schemas write them.

Each rule below comes from a convention that published schemas use:

* a table-alias prefix on every column of a table: TPC-H ``l_orderkey`` / ``o_orderkey``,
  the Star Schema Benchmark ``lo_custkey`` / ``c_custkey``, TPC-DS ``ss_sold_date_sk`` /
  ``d_date_sk``; it names the table, not the column, so it is set aside before matching;
* key words glued to the entity: ``custkey``, ``partkey``, ``tailnum``, ``customerid``;
* the same name on both sides (``playerID``, ``carrier``, ``sku``), or the parent's entity
  plus a key word (``customer_id`` -> ``customers.id``, ``AlbumId`` -> ``Album.AlbumId``),
  or the entity alone (``customer`` -> ``customers.id``);
* role-playing references: a role before the parent's key (``sold_date_sk``,
  ``ship_customer_sk``, ``bill_addr_sk`` -> the date, customer, address keys);
* abbreviations (``cust``, ``addr``, ``promo``, ``cdemo`` for customer_demographics);
* self-references by role (``manager_id``, ``parent_id``, ``reports_to``) and references to
  a table of people by a person's role (``support_rep_id``, ``salesperson_id`` -> employees).

:func:`name_match` scores one child column against one parent key column (0..1) and says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bqsynth.models import ColumnSchema, TableProfile
from bqsynth.semantics import entity_forms, entity_tokens, name_tokens, split_name

# Words that make a column a key or a reference: customer_ID, order_KEY, date_SK, order_NO.
KEY_WORDS = frozenset({"id", "key", "sk", "pk", "fk", "uuid", "guid", "code", "cd", "no", "nr", "num", "nbr", "number"})
# Key words that are glued to the entity in some conventions (custkey, tailnum, customerid).
_GLUED_KEY_WORDS = ("key", "id", "sk", "num", "nbr", "code")
# A glued word splits off only when at least this many letters stay in front (monkey, valid stay whole).
_MIN_GLUED_STEM = 4
# A table's column prefix is short (an alias: l_, ss_, inv_, web_) and shared by most columns.
_MAX_PREFIX_LENGTH = 4
_PREFIX_SHARE = 0.6

# Role words that make a same-table reference a self-reference: structural ones for any
# entity (categories.parent_id, versions.previous_id), ...
SELF_REFERENCE_ROLES = frozenset(
    {
        "parent",
        "predecessor",
        "successor",
        "previous",
        "prev",
        "next",
        "original",
        "root",
        "super",
        "superior",
        "replaced",
        "replaces",
        "master",
        "duplicate",
        "merged",
        "linked",
        "related",
    }
)
# ... and people's roles only within a table of people (employees.manager_id, not items.manager_id).
PERSON_SELF_ROLES = frozenset(
    {
        "manager",
        "supervisor",
        "boss",
        "reports",
        "referrer",
        "referred",
        "lead",
        "mentor",
        "head",
        "sponsor",
        "approver",
    }
)
# A person's role in a reference to a table of people (orders.salesperson_id -> employees).
PERSON_ROLES = frozenset(
    {
        "rep",
        "representative",
        "agent",
        "manager",
        "supervisor",
        "clerk",
        "cashier",
        "salesperson",
        "salesman",
        "seller",
        "buyer",
        "approver",
        "reviewer",
        "owner",
        "assignee",
        "creator",
        "author",
        "handler",
        "operator",
        "officer",
        "reports",
    }
)
PERSON_ENTITIES = frozenset({"employee", "staff", "person", "people", "user", "member", "worker", "agent", "personnel"})


@dataclass(frozen=True)
class ColumnWords:
    """A column's name as words, the table's alias prefix set aside: ``ss_sold_date_sk`` -> sold, date | sk."""

    core: tuple[str, ...]
    suffix: tuple[str, ...]

    @property
    def words(self) -> tuple[str, ...]:
        return self.core + self.suffix

    @property
    def is_key_named(self) -> bool:
        return any(word in KEY_WORDS for word in self.suffix)


def split_glued(token: str) -> list[str]:
    """``custkey`` -> cust, key; ``tailnum`` -> tail, num; ``monkey`` stays whole."""
    for word in _GLUED_KEY_WORDS:
        stem = token[: -len(word)]
        if token.endswith(word) and len(stem) >= _MIN_GLUED_STEM and stem.isalpha():
            return [stem, word]
    return [token]


def table_prefix(table: TableProfile) -> str | None:
    """The alias most of a table's columns start with (``l`` in lineitem), if it has one."""
    firsts = [tokens[0] for c in table.columns if len(tokens := name_tokens(c.name)) > 1]
    if len(firsts) < 2:
        return None
    word, count = Counter(firsts).most_common(1)[0]
    if count < 2 or count < _PREFIX_SHARE * len(table.columns) or len(word) > _MAX_PREFIX_LENGTH:
        return None
    if word in KEY_WORDS or word.isdigit():
        return None
    return word


def column_words(name: str, prefix: str | None) -> ColumnWords:
    """The column's words without the table's alias prefix, glued key words split off."""
    tokens = name_tokens(name.rsplit(".", 1)[-1])
    if prefix and len(tokens) > 1 and tokens[0] == prefix:
        tokens = tokens[1:]
    split: list[str] = []
    for token in tokens:
        split.extend(split_glued(token))
    core, suffix = split_name(split)
    return ColumnWords(tuple(core), tuple(suffix))


@dataclass(frozen=True)
class KeyName:
    """What a parent key's name and its table's name say, for matching children against it."""

    table: str
    column: str
    words: ColumnWords
    entity: tuple[str, ...]
    forms: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


def key_name(table: TableProfile, column: str, prefix: str | None) -> KeyName:
    return KeyName(
        table=table.name,
        column=column,
        words=column_words(column, prefix),
        entity=tuple(entity_tokens(table.name)),
        forms=entity_forms(table.name),
    )


def _abbreviates(short: str, long: str, words: Sequence[str] = ()) -> str | None:
    """``cust`` -> customer (a prefix), ``cdemo`` -> customerdemographic (letters in order, same first).

    A whole word of ``long`` (its ``words``) abbreviates nothing: ``customer`` is not short
    for ``customer_details``, it names another entity.
    """
    if len(short) < 3 or short == long or short[0] != long[0] or short in words:
        return None
    if long.startswith(short):
        return "prefix"
    letters = iter(long)
    return "letters" if all(char in letters for char in short) else None


def name_match(child_table: str, child: ColumnWords, key: KeyName) -> tuple[float, str]:
    """How strongly a child column's name points at a parent key (0..1), and why; (0, "") for no match."""
    if not child.core:
        return 0.0, ""  # a bare "id" names no parent
    same_table = child_table == key.table
    joined = "_".join(child.core)
    suffixed = 1.0 if child.is_key_named else 0.8  # "customer" alone is weaker than "customer_id"
    people = bool(set(key.entity) & PERSON_ENTITIES)
    if same_table:
        # Within one table only a role makes a reference: categories.parent_id, employees.manager_id.
        roles = SELF_REFERENCE_ROLES | (PERSON_SELF_ROLES if people else frozenset())
        if set(child.core) & roles:
            return 0.7 * suffixed, f"a self-reference role ({joined}) within {child_table}"
        return 0.0, ""
    if key.words.core and child == key.words:
        return 1.0, f"same name as {key.label}"
    entity_tail = "_".join(child.core[-len(key.entity) :]) if key.entity else ""
    if key.entity and (joined in key.forms or entity_tail in key.forms):
        # Only a bare key (id) or one named after its own entity is "the" key of that entity.
        if not key.words.core or "_".join(key.words.core) in key.forms:
            role = "" if joined in key.forms else f" in the role '{'_'.join(child.core[: -len(key.entity)])}'"
            return suffixed, f"names {key.table}'s entity '{'_'.join(key.entity)}'{role}"
    if key.words.core and child.core[-len(key.words.core) :] == key.words.core:
        if child.suffix == key.words.suffix or (child.is_key_named and key.words.is_key_named):
            role = child.core[: -len(key.words.core)]
            why = f"a role ({'_'.join(role)}) of {key.label}" if role else f"the same key as {key.label}"
            return 0.9 * suffixed, why
    word = child.core[-1]
    targets = sorted({t for t in (key.entity[-1:] + key.words.core[-1:]) if t})
    # A role glued to the entity: lo_orderdate -> the date dimension's d_datekey.
    for target in targets:
        if len(target) >= 4 and word.endswith(target) and len(word) - len(target) >= 3:
            return 0.7 * suffixed, f"'{word}' is a role ({word[: -len(target)]}) of '{target}' ({key.label})"
    if not child.is_key_named:
        return 0.0, ""  # below: roles and abbreviations, which only a key-named column may use
    if people and set(child.core) & PERSON_ROLES:
        return 0.6 * suffixed, f"a person's role ({joined}) referring to {key.table}"
    for target in targets:
        if _abbreviates(word, target) == "prefix":
            return 0.75 * suffixed, f"'{word}' abbreviates '{target}' ({key.label})"
    wholes = sorted({w for w in ("".join(key.entity), "".join(key.words.core)) if w})
    words = key.entity + key.words.core
    for short in dict.fromkeys(["".join(child.core), word]):
        for whole in wholes:
            if _abbreviates(short, whole, words) is not None:
                return 0.6 * suffixed, f"'{short}' abbreviates '{whole}' ({key.label})"
    for target in targets:
        if _abbreviates(word, target) is not None:
            return 0.5 * suffixed, f"'{word}' looks like an abbreviation of '{target}' ({key.label})"
    return 0.0, ""


# Ordinals that, with a parent reference, key a line-item table: (order_id, line_no).
ORDINAL_WORDS = frozenset(
    {"line", "linenumber", "lineno", "seq", "sequence", "stint", "position", "pos", "ordinal", "idx", "index"}
)


def is_ordinal_name(words: ColumnWords) -> bool:
    """``line_no``, ``l_linenumber``, ``stint``, ``seq``: a position within a parent."""
    return bool(set(words.words) & ORDINAL_WORDS)


def key_rank(table: TableProfile, column: ColumnSchema, prefix: str | None) -> int:
    """How strongly a column's name says "this table's own key"; 0 = not at all.

    A bare ``id``/``key`` ranks highest, then the table's entity plus a key word
    (``customer_id`` in customers, ``c_custkey`` in customer), then other key-named columns.
    """
    words = column_words(column.name, prefix)
    if not words.suffix or not words.is_key_named:
        return 1 if set(words.core) & _NATURAL_KEY_NAMES else 0
    rank = max(_KEY_SUFFIX_RANK.get(word, 0) for word in words.suffix)
    if not words.core:
        return rank + 10
    forms = entity_forms(table.name)
    entity = entity_tokens(table.name)
    joined = "_".join(words.core)
    compact = "".join(words.core)
    # The table's own key names its entity, its head noun (demo_sk in household_demographics),
    # or abbreviates either (c_custkey in customer); customer_id in customer_details names another.
    head = entity[-1] if entity else ""
    if joined in forms or compact == "".join(entity) or compact == head:
        return rank + 5
    if _abbreviates(compact, head) == "prefix" or _abbreviates(compact, "".join(entity), entity) is not None:
        return rank + 5
    return rank


def names_entity(table_name: str, words: ColumnWords) -> bool:
    """``baker`` in bakers, ``episode`` of episodes, ``contestant`` of rpdr_contestants: the column's
    words (key words aside) are the table's entity, or its head noun."""
    entity = entity_tokens(table_name)
    joined = "_".join(words.core)
    return bool(entity) and (joined in entity_forms(table_name) or words.core == (entity[-1],))


# Natural keys: their names carry no key word, yet a table of products is keyed by them.
_NATURAL_KEY_NAMES = frozenset({"sku", "ean", "upc", "gtin", "isbn", "asin", "vin", "mpn"})
# Higher = more key-like when a table has several key-named columns.
_KEY_SUFFIX_RANK = {
    "id": 4,
    "key": 4,
    "sk": 4,
    "uuid": 3,
    "guid": 3,
    "pk": 3,
    "code": 2,
    "cd": 2,
    "number": 1,
    "no": 1,
    "num": 1,
    "nbr": 1,
    "nr": 1,
    "fk": 0,
}
