"""Deterministic, offline semantic classification of columns.

This is the offline engine's answer to "what does this column mean?": a closed set of
semantic types (``SEMANTIC_TYPES``), whether source values may ever be copied
(``identifying``), and how to fake the column with the right shape (an allowlisted Faker
provider or a ``#``/``?`` pattern). Gemini may later propose a different guess; it is
validated against the same vocabulary.

Evidence is weighed in a fixed order, strongest first:

1. declared keys and the column's type (BOOL, DATE, ...);
2. the column name, including its record path, common abbreviations and a few other
   languages (``fname``, ``e_mail``, ``plz``, ``dob``, ``address.city`` ...);
3. value patterns over the sample (email, URL, IP, UUID, IBAN, card numbers with Luhn,
   SSN, dates, phones, postal codes, US states, countries, person names from Faker's
   own name lists, company suffixes, street addresses);
4. statistics: distinct counts and string lengths decide categorical vs identifier vs
   free text.

Person names are decided in steps 2 and 3 and never fall through to step 4, so a small
sample of first names is never treated as a categorical vocabulary that could be copied.
Everything here is pure: no I/O, no randomness, no network.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Collection, Iterable, Iterator, Sequence
from functools import cache
from itertools import pairwise
from typing import Any

from pydantic import Field, field_validator

from bqsynth.models import (
    NUMERIC_TYPES,
    UNCLASSIFIABLE_TYPES,
    ColumnSchema,
    ColumnStats,
    StrictModel,
    TableProfile,
    normalise_type,
)

# The closed vocabulary. Planners, prompts and reports refer to these names only.
SEMANTIC_TYPES: dict[str, str] = {
    "person.first_name": "a person's given (or middle) name",
    "person.last_name": "a person's family name",
    "person.full_name": "a person's full name, e.g. a customer, contact or card holder",
    "email": "an email address",
    "phone_number": "a telephone, mobile or fax number",
    "address.street": "a street address line",
    "address.city": "a city or town",
    "address.state": "a state or province (name or code); not identifying on its own",
    "address.postal_code": "a ZIP or postal code",
    "address.country": "a country (name or code); not identifying on its own",
    "company.name": "the name of a company, merchant, vendor or other organisation",
    "product.name": "the name of a product, item, article or model in a catalogue",
    "work.title": "the title of a work: an album, book, film, song, track, playlist or article",
    "job_title": "a job title or occupation (Sales Manager, Accountant)",
    "category.name": "the label of a category, genre, department, region or other class of things",
    "url": "a web address",
    "ip_address": "an IPv4 or IPv6 address",
    "iban": "an International Bank Account Number",
    "credit_card_number": "a payment card number (PAN), possibly masked",
    "ssn": "a social security, national or tax identification number",
    "account_number": "a bank or customer account number",
    "identifier": "a high-cardinality id-like value (order number, UUID, user name ...)",
    "key": "a column used as a primary or foreign key; regenerated, never copied",
    "categorical": "a small vocabulary of values that repeat (status, segment, type ...)",
    "free_text": "free-form text (descriptions, comments, notes); never copied",
    "amount": "a monetary amount (price, balance, salary ...)",
    "quantity": "a count of things",
    "percentage": "a rate, ratio or percentage",
    "latitude": "a latitude in degrees",
    "longitude": "a longitude in degrees",
    "date_of_birth": "a person's date of birth",
    "date": "a calendar date",
    "timestamp": "a point in time (date and time)",
    "time": "a time of day",
    "boolean": "a true/false flag, possibly spelled Y/N or yes/no",
    "number": "a number without a more specific meaning",
    "unknown": "nothing usable was found (records, JSON, bytes, geography, empty columns)",
}

# Values of these types single out people (or are long enough to carry anything), so they
# are always faked with the same shape and never copied from the source.
IDENTIFYING_TYPES: frozenset[str] = frozenset(
    {
        "person.first_name",
        "person.last_name",
        "person.full_name",
        "email",
        "phone_number",
        "address.street",
        "address.city",
        "address.postal_code",
        "company.name",
        "url",
        "ip_address",
        "iban",
        "credit_card_number",
        "ssn",
        "account_number",
        "identifier",
        "key",
        "free_text",
        "date_of_birth",
    }
)

# The only Faker providers a plan may name. Each is a zero-argument method of
# ``faker.Faker("en_US")`` returning a str (a unit test checks both), so recipes stay
# within a reviewed surface even when a model proposes the plan.
PROVIDER_ALLOWLIST: frozenset[str] = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "email",
        "free_email",
        "safe_email",
        "company_email",
        "phone_number",
        "street_address",
        "secondary_address",
        "city",
        "state",
        "state_abbr",
        "postcode",
        "zipcode_plus4",
        "country",
        "country_code",
        "company",
        "url",
        "domain_name",
        "ipv4",
        "ipv6",
        "iban",
        "bban",
        "credit_card_number",
        "ssn",
        "uuid4",
        "user_name",
        "sentence",
        "text",
        "paragraph",
        "word",
        "job",
        "street_name",
        # bqsynth's own provider (bqsynth.text_kinds): kinds Faker has no provider for.
        "product_name",
        "work_title",
        "genre",
        "category_name",
        "department_name",
    }
)

# Types for which a shared shape (``PRD-####``) is worth reporting as a pattern.
_PATTERN_TYPES = frozenset(
    {
        "identifier",
        "key",
        "account_number",
        "credit_card_number",
        "ssn",
        "iban",
        "phone_number",
        "address.postal_code",
    }
)


# Categorical thresholds: few distinct values relative to rows. The second rule admits
# larger vocabularies only when each value repeats a lot (>= 50 rows per value on average).
CATEGORICAL_MAX_DISTINCT = 50
CATEGORICAL_MAX_RATIO = 0.5
CATEGORICAL_LARGE_MAX_DISTINCT = 500
CATEGORICAL_LARGE_MAX_RATIO = 0.02
# Approximate distinct counts (HLL in BigQuery) are ~1% off, so "unique" means >= 0.97.
UNIQUE_RATIO = 0.97
FREE_TEXT_MIN_AVG_LENGTH = 40
# Share of checked sample values that must match a value pattern: real columns are dirty.
VALUE_MATCH_SHARE = 0.9
_MAX_CHECKED_VALUES = 200


class SemanticGuess(StrictModel):
    """What a column means, whether it identifies people and how to fake it."""

    semantic_type: str = "unknown"
    identifying: bool = False
    faker_provider: str | None = None
    pattern: str | None = Field(default=None, description="Shape template: # digit, ? uppercase letter")
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    reason: str = ""

    @field_validator("semantic_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in SEMANTIC_TYPES:
            raise ValueError(f"unknown semantic type {value!r}; known: {sorted(SEMANTIC_TYPES)}")
        return value

    @field_validator("faker_provider")
    @classmethod
    def _allowlisted(cls, value: str | None) -> str | None:
        if value is not None and value not in PROVIDER_ALLOWLIST:
            raise ValueError(f"Faker provider {value!r} is not allowlisted; allowed: {sorted(PROVIDER_ALLOWLIST)}")
        return value


# ---------------------------------------------------------------------------------------------
# Samples and schema walking
# ---------------------------------------------------------------------------------------------


def _walk(node: Any, parts: Sequence[str]) -> Iterator[Any]:
    if node is None:
        return
    if isinstance(node, list):
        # Repeated fields (and repeated records) contribute every element.
        for item in node:
            yield from _walk(item, parts)
        return
    if not parts:
        yield node
        return
    if isinstance(node, dict):
        yield from _walk(node.get(parts[0]), parts[1:])


def sample_values(table: TableProfile, path: str) -> list[Any]:
    """Non-null sample values of a leaf path (``address.city``), arrays and records flattened."""
    parts = path.split(".")
    values: list[Any] = []
    for row in table.sample:
        values.extend(_walk(row, parts))
    return values


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

# Trailing words that qualify rather than name the thing: phone_NUMBER, zip_CODE, customer_ID.
_ID_WORDS = frozenset({"id", "key", "uuid", "guid", "fk", "pk", "sk", "ref", "oid", "uid"})
_NUMBER_WORDS = frozenset({"number", "no", "nr", "num", "nbr", "nummer", "numero", "code", "cd"})
# "account_code" is usually a chart-of-accounts code, "account_number" a customer's account.
_COUNT_WORDS = frozenset({"number", "no", "nr", "num", "nbr", "nummer", "numero"})
_FILLER_WORDS = frozenset({"value", "val", "txt", "str"})
_TABLE_PREFIXES = frozenset(
    {
        "dim",
        "fact",
        "fct",
        "tbl",
        "tb",
        "t",
        "d",
        "f",
        "stg",
        "src",
        "raw",
        "ref",
        "lkp",
        "lookup",
        "vw",
        "v",
        "mst",
        "dwh",
        "ods",
        "bridge",
        "hub",
        "sat",
        "link",
    }
)
_TABLE_SUFFIXES = frozenset({"table", "tbl", "dim", "fact", "master"})


def name_tokens(name: str) -> list[str]:
    """Lower-case words of a column or table name: ``CustomerID`` -> customer, id; ``line1`` -> line, 1."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    tokens: list[str] = []
    for token in re.split(r"[^A-Za-z0-9]+", spaced.lower()):
        if not token:
            continue
        match = re.fullmatch(r"([a-z]+)(\d+)", token)
        tokens.extend([match.group(1), match.group(2)] if match else [token])
    return tokens


def split_name(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split name tokens into the core (what it is) and trailing qualifiers (id, number, code, 1 ...)."""
    core = list(tokens)
    suffix: list[str] = []
    while core and (
        core[-1] in _ID_WORDS or core[-1] in _NUMBER_WORDS or core[-1] in _FILLER_WORDS or core[-1].isdigit()
    ):
        suffix.insert(0, core.pop())
    # "email_address", "ip_address": the address word is the qualifier there.
    if len(core) >= 2 and core[-1] in {"address", "addr", "adr"} and core[-2] in {"email", "mail", "ip", "mac", "web"}:
        suffix.insert(0, core.pop())
    return core, suffix


def singular(word: str) -> str:
    """English singular of a table word: customers -> customer, categories -> category."""
    irregular = {"people": "person", "children": "child", "men": "man", "women": "woman", "staff": "staff"}
    if word in irregular:
        return irregular[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(ss|sh|ch|x|z)es$", word):
        return word[:-2]
    if word.endswith("ses") and len(word) > 4:  # addresses handled above; statuses, buses
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def entity_tokens(table_name: str) -> list[str]:
    """The entity a table is about: ``Dim_Customer`` -> [customer], ``tbl_order_items`` -> [order, item]."""
    tokens = name_tokens(table_name)
    while len(tokens) > 1 and tokens[0] in _TABLE_PREFIXES:
        tokens = tokens[1:]
    while len(tokens) > 1 and tokens[-1] in _TABLE_SUFFIXES:
        tokens = tokens[:-1]
    if tokens:
        tokens[-1] = singular(tokens[-1])
    return tokens


def entity_forms(table_name: str) -> frozenset[str]:
    """Spellings of a table's entity a column may use: customer, customers, order_item, orderitem."""
    tokens = entity_tokens(table_name)
    if not tokens:
        return frozenset()
    last = tokens[-1]
    plural = (
        last[:-1] + "ies"
        if last.endswith("y") and last[-2:-1] not in "aeiou"
        else (last + "es" if re.search(r"(s|sh|ch|x|z)$", last) else last + "s")
    )
    forms = set()
    for variant in (last, plural):
        words = [*tokens[:-1], variant]
        forms.add("_".join(words))
        forms.add("".join(words))
    return frozenset(forms)


def _pairs(tokens: Sequence[str]) -> set[tuple[str, str]]:
    return set(pairwise(tokens))


_PERSON_WORDS = frozenset(
    {
        "customer",
        "cust",
        "client",
        "contact",
        "employee",
        "emp",
        "person",
        "owner",
        "manager",
        "patient",
        "member",
        "author",
        "agent",
        "holder",
        "cardholder",
        "accountholder",
        "policyholder",
        "recipient",
        "sender",
        "driver",
        "student",
        "teacher",
        "staff",
        "beneficiary",
        "payee",
        "payer",
        "applicant",
        "guest",
        "passenger",
        "doctor",
        "physician",
        "nurse",
        "representative",
        "rep",
        "supervisor",
        "buyer",
        "spouse",
        "father",
        "mother",
        "insured",
        "subscriber",
        "worker",
        "salesperson",
        "full",
        "display",
        "legal",
        "maiden",
        "nick",
        "nickname",
        "emergency",
        "signatory",
        "kunde",
        "cliente",
        "mitarbeiter",
        "artist",
        "composer",
        "actor",
        "player",
        "people",
        "reviewer",
        "singer",
        "musician",
        "writer",
    }
)
_COMPANY_WORDS = frozenset(
    {
        "company",
        "companies",
        "employer",
        "organisation",
        "organization",
        "org",
        "business",
        "vendor",
        "supplier",
        "merchant",
        "firm",
        "bank",
        "manufacturer",
        "carrier",
        "insurer",
        "corporation",
        "corp",
        "firma",
        "empresa",
        "retailer",
        "payor",
        "issuer",
        "brand",
        "manufact",
        "mfgr",
        "mfr",
        "publisher",
        "store",
        "shop",
        "team",
        "club",
        "airline",
        "school",
        "university",
        "college",
        "hospital",
        "agency",
        "shipper",
        "reseller",
        "dealer",
        "distributor",
        "wholesaler",
        "warehouse",
        "institution",
    }
)
_EMAIL_WORDS = frozenset({"email", "mail", "emailaddress", "emailaddr", "mailaddress", "courriel", "correo"})
_PHONE_WORDS = frozenset(
    {
        "phone",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "cellphone",
        "fax",
        "msisdn",
        "handy",
        "telefon",
        "telefono",
        "telefone",
        "phonenumber",
        "mobilephone",
        "landline",
        "homephone",
        "workphone",
        "mob",
    }
)
_URL_WORDS = frozenset({"url", "uri", "website", "homepage", "webpage", "web", "href", "weburl"})
_IP_WORDS = frozenset({"ip", "ipv", "ipaddress", "ipaddr"})
_CARD_WORDS = frozenset({"creditcard", "ccnumber", "ccnum", "cardnumber", "cardno", "pan", "ccn", "cc"})
_SSN_WORDS = frozenset(
    {
        "ssn",
        "socialsecuritynumber",
        "nino",
        "nin",
        "sin",
        "tin",
        "taxid",
        "nationalid",
        "personnummer",
        "aadhaar",
        "cpf",
        "nif",
        "bsn",
    }
)
_ACCOUNT_WORDS = frozenset({"account", "acct", "acc", "bankaccount", "konto", "cuenta"})
_ACCOUNT_COMPACT = frozenset({"accountnumber", "acctno", "acctnum", "accountno", "acctnumber", "accno"})
_STREET_WORDS = frozenset(
    {
        "street",
        "address",
        "addr",
        "adr",
        "streetaddress",
        "addressline",
        "strasse",
        "calle",
        "rue",
        "direccion",
        "adresse",
        "anschrift",
    }
)
_CITY_WORDS = frozenset(
    {
        "city",
        "town",
        "ciudad",
        "stadt",
        "ville",
        "municipality",
        "locality",
        "ort",
        "suburb",
        "cidade",
        "citta",
    }
)
_STATE_WORDS = frozenset({"state", "province", "prov", "bundesland", "estado", "provincia", "county", "district"})
_POSTAL_WORDS = frozenset(
    {
        "zip",
        "zipcode",
        "postcode",
        "postalcode",
        "postal",
        "plz",
        "cep",
        "pincode",
        "postleitzahl",
        "codigopostal",
    }
)
_COUNTRY_WORDS = frozenset({"country", "nation", "countryname", "pais", "pays", "land", "nationality", "countries"})
_DOB_WORDS = frozenset({"dob", "birthdate", "birthday", "dateofbirth", "geburtsdatum", "nacimiento", "birth", "bday"})
_FIRST_WORDS = frozenset(
    {"fname", "firstname", "forename", "givenname", "vorname", "prenom", "nombre", "middlename", "mname"}
)
_LAST_WORDS = frozenset({"lname", "lastname", "surname", "familyname", "nachname", "apellido", "apellidos", "sname"})
_FIRST_PAIRS = frozenset(
    {("first", "name"), ("given", "name"), ("fore", "name"), ("middle", "name"), ("f", "name"), ("christian", "name")}
)
_LAST_PAIRS = frozenset({("last", "name"), ("family", "name"), ("sur", "name"), ("l", "name"), ("maiden", "name")})
_LAT_WORDS = frozenset({"lat", "latitude", "breitengrad", "latitud"})
_LON_WORDS = frozenset({"lon", "lng", "long", "longitude", "laengengrad", "longitud"})
_AMOUNT_WORDS = frozenset(
    {
        "amount",
        "amt",
        "price",
        "cost",
        "total",
        "revenue",
        "balance",
        "salary",
        "fee",
        "fees",
        "charge",
        "payment",
        "income",
        "spend",
        "sales",
        "subtotal",
        "tax",
        "discount",
        "wage",
        "pay",
        "profit",
        "limit",
        "premium",
        "budget",
        "turnover",
        "betrag",
        "preis",
        "importe",
        "precio",
        "debit",
        "credit",
        "overdraft",
        "freight",
        "postage",
        "sal",
        "comm",
        "commission",
        "msrp",
        "paid",
        "bal",
        "acctbal",
        "bonus",
    }
)
_QUANTITY_WORDS = frozenset(
    {
        "qty",
        "quantity",
        "count",
        "cnt",
        "units",
        "items",
        "pieces",
        "stock",
        "menge",
        "cantidad",
        "volume",
        "pop",
        "population",
        "inventory",
    }
)
_PERCENT_WORDS = frozenset(
    {
        "pct",
        "percent",
        "percentage",
        "rate",
        "ratio",
        "share",
        "prob",
        "probability",
        "perc",
        "pctg",
        "prozent",
    }
)
_TEXT_WORDS = frozenset(
    {
        "description",
        "desc",
        "comment",
        "comments",
        "note",
        "notes",
        "remark",
        "remarks",
        "text",
        "message",
        "msg",
        "body",
        "review",
        "feedback",
        "summary",
        "bio",
        "details",
        "narrative",
        "memo",
        "content",
        "observation",
        "observations",
        "beschreibung",
        "descripcion",
        "notas",
        "bemerkung",
        "reason",
        "instructions",
        "instruction",
        "explanation",
    }
)
_CATEGORY_WORDS = frozenset(
    {
        "status",
        "type",
        "category",
        "gender",
        "sex",
        "segment",
        "tier",
        "level",
        "channel",
        "currency",
        "method",
        "kind",
        "class",
        "group",
        "flag",
        "grade",
        "priority",
        "stage",
        "mode",
        "source",
        "color",
        "colour",
        "size",
        "language",
        "lang",
        "region",
        "department",
        "dept",
        "title",
        "role",
        "network",
        "plan",
        "band",
        "bucket",
        "label",
        "tag",
        "tags",
        "unit",
    }
)
_USERNAME_WORDS = frozenset({"username", "login", "logon", "handle", "userid", "screenname", "nickname"})
_BOOL_PREFIXES = frozenset({"is", "has", "can", "should", "was", "did", "allow", "allows", "enable", "enabled"})
# Address context: "state" next to these means a place, not a workflow state.
_ADDRESS_CONTEXT = frozenset(
    {
        "address",
        "addr",
        "billing",
        "shipping",
        "home",
        "mailing",
        "residence",
        "postal",
        "location",
        "geo",
        "delivery",
        "work",
        "office",
        "birth",
        "death",
        "ship",
        "bill",
        "shipto",
        "billto",
        "mail",
        "street",
        "city",
    }
)


# Kinds of text named by a word, for "<kind> name" columns and bare "name" columns of a table
# about that kind. Earlier entries win when a name carries several (a country region's name).
_PRODUCT_WORDS = frozenset({"product", "prod", "item", "article", "part", "model", "merchandise", "produkt"})
_WORK_WORDS = frozenset(
    {
        "album",
        "book",
        "film",
        "movie",
        "song",
        "track",
        "playlist",
        "episode",
        "show",
        "video",
        "podcast",
        "novel",
        "publication",
        "game",
        "artwork",
        "painting",
    }
)
_CATEGORY_NAME_WORDS = frozenset(
    {
        "category",
        "subcategory",
        "genre",
        "department",
        "dept",
        "division",
        "region",
        "territory",
        "group",
        "type",
        "media",
        "class",
        "segment",
        "shift",
    }
)
# Category words that name a class only weakly: "CountryRegion" is about countries.
_WEAK_KIND_WORDS = frozenset({"region", "type", "group", "class", "media"})
_JOB_WORDS = frozenset({"job", "occupation", "profession", "jobtitle", "designation", "position"})
_LOGIN_WORDS = frozenset({"user", "login", "logon", "screen"})
# Qualifiers that say how a name is written, not whose it is: "FormalName", "name_full".
_NEUTRAL_NAME_WORDS = frozenset(
    {"full", "formal", "official", "display", "legal", "common", "short", "long", "english", "local", "complete"}
)
# A person whose name the column holds when it is named by the role alone: "manager", "composer".
_PERSON_ROLE_HEADS = frozenset(
    {
        "manager",
        "clerk",
        "composer",
        "author",
        "artist",
        "writer",
        "director",
        "reviewer",
        "salesperson",
        "cashier",
        "owner",
        "supervisor",
        "assignee",
        "reporter",
        "approver",
        "instructor",
        "teacher",
        "doctor",
        "physician",
        "nurse",
        "driver",
        "performer",
        "singer",
    }
)
_EMPLOYEE_WORDS = frozenset({"employee", "emp", "staff", "worker", "hire", "salary", "mitarbeiter"})
_NAME_KINDS: tuple[tuple[frozenset[str], str], ...] = (
    (_LOGIN_WORDS, "identifier"),
    (_PERSON_WORDS - _NEUTRAL_NAME_WORDS, "person.full_name"),
    (_COMPANY_WORDS, "company.name"),
    (_PRODUCT_WORDS, "product.name"),
    (_WORK_WORDS, "work.title"),
    (_COUNTRY_WORDS, "address.country"),
    (_STATE_WORDS, "address.state"),
    (_CITY_WORDS, "address.city"),
    (_STREET_WORDS, "address.street"),
    (_JOB_WORDS, "job_title"),
    (_CATEGORY_NAME_WORDS, "category.name"),
)

# Words that split unseparated names ("billingpostalcode" -> billing, postal, code): every
# word the rules look at, and the qualifiers real schemas put in front of them.
_QUALIFIER_WORDS = frozenset(
    {
        "billing",
        "shipping",
        "delivery",
        "mailing",
        "postal",
        "home",
        "work",
        "office",
        "business",
        "personal",
        "primary",
        "secondary",
        "main",
        "alternate",
        "current",
        "previous",
        "first",
        "last",
        "middle",
        "given",
        "family",
        "birth",
        "death",
        "hire",
        "order",
        "invoice",
        "unit",
        "list",
        "sale",
        "total",
        "line",
        "supply",
        "retail",
        "extended",
        "wholesale",
        "net",
        "gross",
        "standard",
        "name",
        "title",
        "number",
        "date",
        "time",
        "year",
        "month",
        "day",
        "code",
        "reorder",
        "level",
        "emergency",
        "contact",
        "preferred",
        "page",
        "site",
        "service",
        "purchase",
        "purchasing",
        "stock",
        "approval",
        "description",
        "comment",
        "marketing",
        "internal",
        "external",
        "transaction",
        "support",
        "reports",
        "rep",
        "report",
        "photo",
        "path",
        "file",
        "market",
        "modified",
        "created",
        "updated",
        "start",
        "end",
        "due",
        "sell",
        "buy",
        "each",
        "ordered",
        "sold",
        "owned",
        "children",
        "cars",
        "hours",
        "days",
        "avail",
        "courtesy",
        "tax",
        "ytd",
        "guid",
        "uuid",
        "login",
        "logon",
        "user",
    }
)
# Pieces of two letters that may split a name, and where: "empno", "losal".
_SHORT_LAST_PIECES = frozenset({"id", "no", "nr", "cd"})
_SHORT_FIRST_PIECES = frozenset({"lo", "hi"})
# Words that may end a name after an unknown word ("extendedprice", "availqty", "tailnum").
# Only words no common English word ends in ("capacity" must not end in a city).
_TAIL_WORDS = frozenset(
    {
        "name",
        "price",
        "cost",
        "amount",
        "email",
        "address",
        "zipcode",
        "postcode",
        "postalcode",
        "number",
        "num",
        "title",
        "desc",
        "description",
        "comment",
        "comments",
        "country",
        "province",
        "salary",
        "balance",
        "qty",
        "quantity",
        "guid",
        "uuid",
    }
)


@cache
def _segment_vocabulary() -> frozenset[str]:
    words: set[str] = set(_QUALIFIER_WORDS)
    for value in globals().values():
        excluded = value is _TABLE_PREFIXES or value is _BOOL_PREFIXES or value is _TITLES
        if isinstance(value, frozenset) and not excluded and all(isinstance(w, str) for w in value):
            words |= value
    return frozenset(w for w in words if w.isalpha() and len(w) >= 3)


def _segment(token: str) -> list[str] | None:
    """The fewest known words that spell ``token`` exactly, or None."""
    vocabulary = _segment_vocabulary()
    best: list[list[str] | None] = [None] * (len(token) + 1)
    best[0] = []
    for end in range(1, len(token) + 1):
        for start in range(end):
            done = best[start]
            if done is None:
                continue
            piece = token[start:end]
            known = piece in vocabulary or (
                (end == len(token) and piece in _SHORT_LAST_PIECES) or (start == 0 and piece in _SHORT_FIRST_PIECES)
            )
            current = best[end]
            if known and (current is None or len(done) + 1 < len(current)):
                best[end] = [*done, piece]
    return best[-1]


@cache
def split_compound(token: str) -> list[str]:
    """Words of an unseparated lower-case name: ``billingpostalcode`` -> billing, postal, code.

    Known words are kept whole (``postalcode``, ``firstname``); otherwise the fewest known
    words that spell the token, else an unknown word followed by a known tail word
    (``extendedprice`` -> extended, price), else a letter of a table alias before ``name``
    (``ename``). Tokens that cannot be split are returned unchanged.
    """
    if not token.isalpha() or token in _segment_vocabulary() or len(token) < 4:
        return [token]
    pieces = _segment(token)
    if pieces is not None:
        return pieces
    for tail in sorted(_TAIL_WORDS, key=len, reverse=True):
        prefix = token[: -len(tail)]
        if token.endswith(tail) and len(prefix) >= 3:
            return [*(_segment(prefix) or [prefix]), tail]
    if len(token) == 5 and token.endswith("name"):
        return [token[0], "name"]
    return [token]


def _is_alias(word: str, table_tokens: Sequence[str]) -> bool:
    """Whether ``word`` abbreviates the table's name: ``c`` of customer, ``ss`` of store_sales, ``ps`` of partsupp."""
    if not table_tokens or not word.isalpha() or len(word) > 4:
        return False
    compact = "".join(table_tokens)
    initials = "".join(t[0] for t in table_tokens)
    rest = iter(compact[1:])
    subsequence = word[0] == compact[0] and all(c in rest for c in word[1:])
    return word == initials or compact.startswith(word) or (len(word) <= 3 and subsequence)


def semantic_tokens(path: str, table_name: str = "") -> list[str]:
    """The words semantic rules read in a column name (key inference reads :func:`name_tokens`).

    Unseparated words are split (``billingcity`` -> billing, city), a leading table alias is
    dropped (TPC-H ``c_name`` in customer, Oracle ``ENAME`` in EMP), and the Lahman order
    ``nameFirst`` reads as ``first name``.
    """
    tokens = [piece for token in name_tokens(path) for piece in split_compound(token)]
    table_tokens = [piece for token in name_tokens(table_name) for piece in split_compound(token)]
    while len(table_tokens) > 1 and table_tokens[0] in _TABLE_PREFIXES:
        table_tokens = table_tokens[1:]
    if "." not in path and len(tokens) > 1 and _is_alias(tokens[0], table_tokens) and split_name(tokens[1:])[0]:
        tokens = tokens[1:]
    if len(tokens) == 2 and tokens[0] == "name" and tokens[1] in {"first", "last", "given", "middle", "full"}:
        tokens = [tokens[1], "name"]
    return tokens


def _table_words(table: TableProfile) -> frozenset[str]:
    """Every word of the table's column names: the context a column is read in."""
    return frozenset(t for column in table.columns for t in semantic_tokens(column.name, table.name))


class _Name:
    """A column name broken into the words the rules look at."""

    def __init__(self, path: str, table_name: str) -> None:
        self.leaf = path.rsplit(".", 1)[-1]
        self.tokens = semantic_tokens(path, table_name)
        self.core, self.suffix = split_name(self.tokens)
        self.head = self.core[-1] if self.core else ""
        self.qualifiers = set(self.core[:-1])
        self.compact = "".join(self.core)
        self.tail = "".join(self.core[-2:])
        self.pairs = _pairs(self.core)
        self.entity = [piece for token in entity_tokens(table_name) for piece in split_compound(token)]
        if self.entity:
            self.entity[-1] = singular(self.entity[-1])
        self.table_entity = set(self.entity)
        self.has_id_suffix = any(t in _ID_WORDS for t in self.suffix)
        self.has_number_suffix = any(t in _NUMBER_WORDS for t in self.suffix)

    @property
    def usable(self) -> bool:
        # "col_7", "f3", "c", "field": nothing to go on.
        letters = [t for t in self.tokens if not t.isdigit()]
        return bool(letters) and not all(
            t in {"col", "column", "c", "f", "field", "x", "var", "attr", "v"} or len(t) == 1 for t in letters
        )


# ---------------------------------------------------------------------------------------------
# Value patterns
# ---------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_URL_RE = re.compile(r"^((https?|ftp)://[^\s/$.?#][^\s]*|www\.[^\s]+\.[A-Za-z]{2,}[^\s]*)$", re.IGNORECASE)
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IBAN_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_CARD_RE = re.compile(r"^\d{13,19}$")
_SSN_RE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_DATE_RE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|\d{4}/\d{1,2}/\d{1,2}|\d{8})$")
_TIMESTAMP_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)
_TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
# A phone number: 7 to 15 digits, a leading "+" and separators allowed, then an optional
# extension (555-0100x123, ext. 12): Faker's en_US numbers end in one.
_PHONE_RE = re.compile(r"\+?[\d\s().\-/]+")
_PHONE_EXTENSION_RE = re.compile(r"\s*(x|ext\.?)\s*\d{1,6}$", re.IGNORECASE)
_ZIP5_RE = re.compile(r"^\d{5}$")
_ZIP9_RE = re.compile(r"^\d{5}-\d{4}$")
_UK_POSTCODE_RE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}$")
_CA_POSTCODE_RE = re.compile(r"^[A-Z]\d[A-Z]\s?\d[A-Z]\d$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_COMPANY_RE = re.compile(
    r"\b(inc|llc|ltd|limited|gmbh|corp|corporation|co|plc|ag|sa|s\.a|bv|nv|group|holdings|partners|"
    r"& sons|and sons|company|enterprises|industries|solutions|technologies|bank)\.?$",
    re.IGNORECASE,
)
_STREET_RE = re.compile(
    r"^\d+[A-Za-z]?\s+([\w.'-]+\s+){0,4}(st|street|ave|avenue|rd|road|blvd|boulevard|ln|lane|dr|drive|ct|"
    r"court|way|pl|place|ter|terrace|pkwy|parkway|hwy|highway|cir|circle|sq|square|trl|trail|loop)\b\.?",
    re.IGNORECASE,
)
_BOOL_PAIRS = frozenset(
    frozenset(pair)
    for pair in (("y", "n"), ("yes", "no"), ("true", "false"), ("t", "f"), ("0", "1"), ("ja", "nein"), ("si", "no"))
)
_NAME_WORD_RE = re.compile(r"^[A-Z][a-zA-Z'\-]+$")
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "mx"})


@cache
def _lexicon() -> dict[str, frozenset[str]]:
    """First/last names, US states and countries, borrowed from Faker's en_US data (no I/O)."""
    from faker.providers.address import en_US as address_en
    from faker.providers.person import en_US as person_en

    person = person_en.Provider
    address = address_en.Provider
    first = {
        *person.first_names,
        *getattr(person, "first_names_male", ()),
        *getattr(person, "first_names_female", ()),
    }
    return {
        "first": frozenset(n.lower() for n in first),
        "last": frozenset(n.lower() for n in person.last_names),
        "state_abbr": frozenset(address.states_abbr),
        "state": frozenset(s.lower() for s in address.states),
        "country": frozenset(c.lower() for c in address.countries),
    }


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not _IBAN_RE.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _card_ok(value: str) -> bool:
    digits = re.sub(r"[\s-]", "", value)
    return bool(_CARD_RE.match(digits)) and _luhn(digits)


def _ip_ok(value: str) -> bool:
    if "." not in value and ":" not in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# The formats below are what detection looks for in source samples and what the quality
# report's validity checks in synthetic values (evaluation.metrics): one definition for both.


def is_email(value: Any) -> bool:
    return bool(_EMAIL_RE.match(str(value).strip()))


def is_phone_number(value: Any) -> bool:
    text = _PHONE_EXTENSION_RE.sub("", str(value).strip())
    return bool(_PHONE_RE.fullmatch(text)) and 7 <= sum(c.isdigit() for c in text) <= 15


def _looks_like_phone_number(value: str) -> bool:
    # A bare run of digits is as likely an id as a phone: detection also wants a "+" or separators.
    return is_phone_number(value) and (value.startswith("+") or any(c in value for c in " ().-/"))


def _date_ok(value: str) -> bool:
    if not _DATE_RE.match(value):
        return False
    numbers = [int(n) for n in re.findall(r"\d+", value)]
    if len(numbers) == 1:  # yyyymmdd
        text = str(numbers[0]).zfill(8)
        numbers = [int(text[:4]), int(text[4:6]), int(text[6:])]
        return 1800 <= numbers[0] <= 2200 and 1 <= numbers[1] <= 12 and 1 <= numbers[2] <= 31
    # One part must be a month, at most one part may exceed 31 (the year).
    return (
        any(1 <= n <= 12 for n in numbers)
        and sum(n > 31 for n in numbers) <= 1
        and all(n <= 99 or 1000 <= n <= 2999 for n in numbers)
    )


def _timestamp_ok(value: str) -> bool:
    return bool(_TIMESTAMP_RE.match(value))


def _number_ok(value: str) -> bool:
    return bool(_NUMBER_RE.match(value.replace(",", "")))


def _share(values: Sequence[str], predicate: Any) -> float:
    if not values:
        return 0.0
    return sum(1 for v in values if predicate(v)) / len(values)


def _person_name_shares(values: Sequence[str]) -> tuple[float, float, float]:
    """Shares of values that look like a first name, a last name and a full name."""
    lexicon = _lexicon()
    first = last = 0
    full = 0.0
    for value in values:
        words = [w.strip(".,") for w in value.split()]
        if value.count(",") == 1:  # "Smith, John"
            surname, _, given = value.partition(",")
            words = [*given.split(), surname.strip()]
        words = [w for w in words if w and w.lower().strip(".") not in _TITLES]
        if not words or not all(_NAME_WORD_RE.match(w) or re.fullmatch(r"[A-Z]\.?", w) for w in words):
            continue
        if len(words) == 1:
            word = words[0].lower()
            first += word in lexicon["first"]
            last += word in lexicon["last"]
        elif len(words) <= 4:
            # Both parts known counts fully; one known part half (names from other cultures).
            full += ((words[0].lower() in lexicon["first"]) + (words[-1].lower() in lexicon["last"])) / 2
    n = len(values)
    return first / n, last / n, full / n


def derive_pattern(values: Iterable[Any], min_values_for_literals: int = 5) -> str | None:
    """The shared shape of id-like strings: ``PRD-0001`` -> ``PRD-####`` (# digit, ? uppercase letter).

    Digits always become ``#``. An uppercase letter stays literal only when every value has it
    at that position and there are enough values to believe it is a constant prefix;
    otherwise it becomes ``?``. Lowercase letters that vary cannot be expressed, and values
    of different shapes have no single pattern: both give None.
    """
    texts = [str(v) for v in values if v is not None]
    if not texts or len({len(t) for t in texts}) != 1:
        return None
    pattern: list[str] = []
    for chars in zip(*texts, strict=True):
        distinct = set(chars)
        if all(c.isdigit() for c in chars):
            pattern.append("#")
        elif all(c in string.ascii_uppercase for c in chars):
            constant = len(distinct) == 1 and len(texts) >= min_values_for_literals
            pattern.append(chars[0] if constant else "?")
        elif len(distinct) == 1 and chars[0] not in "#?" and not chars[0].isdigit():
            if chars[0].isalpha() and len(texts) < min_values_for_literals:
                return None  # a lone lowercase letter might be a real name's letter
            pattern.append(chars[0])
        else:
            return None
    result = "".join(pattern)
    return result if ("#" in result or "?" in result) else None


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


def _guess(
    semantic_type: str,
    confidence: float,
    reason: str,
    *,
    faker_provider: str | None = None,
    pattern: str | None = None,
    identifying: bool | None = None,
) -> SemanticGuess:
    return SemanticGuess(
        semantic_type=semantic_type,
        identifying=semantic_type in IDENTIFYING_TYPES if identifying is None else identifying,
        faker_provider=faker_provider,
        pattern=pattern if semantic_type in _PATTERN_TYPES else None,
        confidence=round(min(max(confidence, 0.0), 1.0), 3),
        reason=reason,
    )


class _Evidence:
    """The column's sample and statistics, reduced to what the rules ask about."""

    def __init__(self, column_type: str, stats: ColumnStats | None, values: Sequence[Any]) -> None:
        self.type = column_type
        self.stats = stats
        self.values = list(values)
        self.texts = [str(v).strip() for v in self.values[:_MAX_CHECKED_VALUES] if str(v).strip()]
        if stats is not None and stats.non_null_count > 0:
            self.distinct, self.non_null, self.source = (
                stats.distinct_count,
                stats.non_null_count,
                "statistics",
            )
        else:
            hashable = [v for v in self.values if not isinstance(v, (dict, list))]
            self.distinct, self.non_null, self.source = len(set(hashable)), len(hashable), "sample"
        self.ratio = self.distinct / self.non_null if self.non_null else 0.0
        if stats is not None and stats.avg_length is not None:
            self.avg_length = float(stats.avg_length)
        else:
            self.avg_length = sum(len(t) for t in self.texts) / len(self.texts) if self.texts else 0.0

    def share(self, predicate: Any) -> float:
        return _share(self.texts, predicate)

    def matches(self, predicate: Any) -> bool:
        return bool(self.texts) and self.share(predicate) >= VALUE_MATCH_SHARE

    def sample_note(self, predicate: Any, what: str) -> str:
        hits = sum(1 for t in self.texts if predicate(t))
        return f"{hits}/{len(self.texts)} sample values are {what}"

    @property
    def numeric_values(self) -> bool:
        return bool(self.texts) and all(_number_ok(t) for t in self.texts)

    @property
    def is_unique(self) -> bool:
        nulls = self.stats.null_count if self.stats is not None else 0
        return self.non_null > 0 and self.ratio >= UNIQUE_RATIO and nulls == 0

    @property
    def is_categorical(self) -> bool:
        if self.non_null == 0 or self.distinct == 0:
            return False
        small = self.distinct <= CATEGORICAL_MAX_DISTINCT and self.ratio < CATEGORICAL_MAX_RATIO
        large = self.distinct <= CATEGORICAL_LARGE_MAX_DISTINCT and self.ratio <= CATEGORICAL_LARGE_MAX_RATIO
        return small or large

    def cardinality_note(self) -> str:
        return f"{self.distinct} distinct of {self.non_null} non-null values ({self.source})"

    def pattern(self) -> str | None:
        return derive_pattern(self.texts) if self.texts else None

    def scale_confidence(self, confidence: float) -> float:
        # A handful of matching values is weaker evidence than a full sample.
        return confidence if len(self.texts) >= 10 else confidence * (0.75 + 0.025 * len(self.texts))


def classify_column(
    table: TableProfile,
    path: str,
    column: ColumnSchema,
    stats: ColumnStats | None,
    sample_values: list[Any],
    *,
    keys: Collection[str] = (),
) -> SemanticGuess:
    """Classify one leaf column from its name, type, sample values and statistics.

    ``path`` is the dotted leaf path (``address.city``); ``sample_values`` its non-null
    sample values (see :func:`sample_values`). ``keys`` lists further paths known to be
    keys, e.g. the child columns of inferred relationships.
    """
    column_type = normalise_type(column.type)
    name = _Name(path, table.name)
    evidence = _Evidence(column_type, stats, sample_values)

    if column_type in UNCLASSIFIABLE_TYPES:
        return _guess("unknown", 0.9, f"{column_type} columns carry no scalar meaning to classify")
    key_guess = _key_guess(table, path, name, evidence, keys)
    if key_guess is not None:
        return key_guess
    if column_type == "BOOL":
        return _guess("boolean", 1.0, "BOOL column")
    if column_type in {"DATE", "DATETIME", "TIMESTAMP", "TIME"}:
        return _temporal_guess(column_type, name)
    if name.usable:
        named = _name_guess(table, name, evidence)
        if named is not None:
            return named
    if column_type == "STRING":
        valued = _value_guess(evidence)
        if valued is not None:
            return valued
        return _string_stats_guess(name, evidence)
    if column_type in NUMERIC_TYPES:
        return _number_stats_guess(name, evidence)
    return _guess("unknown", 0.2, f"no rule for {column_type} columns")


def _key_guess(
    table: TableProfile, path: str, name: _Name, evidence: _Evidence, keys: Collection[str]
) -> SemanticGuess | None:
    pattern = evidence.pattern() if evidence.type == "STRING" else None
    if path in table.primary_key:
        return _guess("key", 1.0, "declared primary key: regenerated from the row index", pattern=pattern)
    if any(path in fk.columns for fk in table.foreign_keys):
        return _guess("key", 1.0, "declared foreign key: references the parent's regenerated keys", pattern=pattern)
    if path in keys:
        return _guess("key", 0.9, "related to another table's key", pattern=pattern)
    if table.primary_key or "." in path or evidence.type not in {"INT64", "STRING", "NUMERIC", "BIGNUMERIC"}:
        return None
    # Without a declared key, the table's own id column (id, customer_id in customers) is its key.
    own = not name.core or (name.has_id_suffix and "_".join(name.core) in entity_forms(table.name))
    if own and (name.has_id_suffix or name.tokens in (["id"], ["key"])) and evidence.is_unique:
        return _guess(
            "key",
            0.85,
            f"named like {table.name}'s own key and unique ({evidence.cardinality_note()})",
            pattern=pattern,
        )
    return None


def _temporal_guess(column_type: str, name: _Name) -> SemanticGuess:
    if _is_dob_name(name):
        return _guess("date_of_birth", 0.95, f"{column_type} column named like a date of birth")
    semantic = {"DATE": "date", "TIME": "time"}.get(column_type, "timestamp")
    return _guess(semantic, 1.0, f"{column_type} column")


def _is_dob_name(name: _Name) -> bool:
    return (
        (name.head in _DOB_WORDS and name.head != "birth")
        or "dob" in name.core
        or ("birth" in name.core and name.head in {"date", "dt", "day", "birth", "datum", "fecha"})
    )


def _name_guess(table: TableProfile, name: _Name, ev: _Evidence) -> SemanticGuess | None:
    """Rules on the column name; values, where present, confirm or refine the choice."""
    says = f"name {name.leaf!r}"
    is_text = ev.type == "STRING"
    numeric_ok = ev.type in NUMERIC_TYPES or (is_text and ev.numeric_values)
    head, core, suffix_id = name.head, name.core, name.has_id_suffix

    def confirmed(semantic: str, predicate: Any, what: str, provider: str | None) -> SemanticGuess:
        """A name-based guess, more confident when the sample agrees."""
        pattern = ev.pattern() if is_text else None
        if ev.texts and ev.matches(predicate):
            return _guess(
                semantic,
                0.95,
                f"{says}; {ev.sample_note(predicate, what)}",
                faker_provider=provider,
                pattern=pattern,
            )
        return _guess(semantic, 0.8, f"{says} suggests {semantic}", faker_provider=provider, pattern=pattern)

    # Personal data named in the column: strongest name evidence, checked first.
    if is_text and (head in _EMAIL_WORDS or name.compact.endswith("email")):
        return confirmed("email", is_email, "email addresses", "email")
    if (
        head in _SSN_WORDS
        or ("social", "security") in name.pairs
        or (head in {"national", "tax", "taxpayer", "insurance"} and (suffix_id or name.has_number_suffix))
    ):
        return confirmed("ssn", _SSN_RE.match, "SSN-shaped", "ssn")
    if "iban" in core or "iban" in name.suffix:
        return confirmed("iban", _iban_ok, "valid IBANs", "iban")
    if not suffix_id and (
        head in _CARD_WORDS or ("credit", "card") in name.pairs or (head == "card" and name.has_number_suffix)
    ):
        return _card_guess(says, ev)
    if not suffix_id and (head in _ACCOUNT_COMPACT or (head in _ACCOUNT_WORDS and set(name.suffix) & _COUNT_WORDS)):
        pattern = ev.pattern() if is_text else None
        return _guess(
            "account_number",
            0.9,
            f"{says} suggests an account number",
            pattern=pattern,
            faker_provider=None if pattern or not is_text else "bban",
        )
    if not suffix_id and (head in _PHONE_WORDS or name.compact.endswith("phone")):
        return confirmed("phone_number", _looks_like_phone_number, "phone numbers", "phone_number")
    if not suffix_id and (head in _POSTAL_WORDS or (head == "post" and name.has_number_suffix)):
        provider = "zipcode_plus4" if ev.texts and ev.matches(_ZIP9_RE.match) else "postcode"
        return confirmed("address.postal_code", _postal_ok, "postal codes", provider)
    if not suffix_id and is_text and (head in _COUNTRY_WORDS or (head == "region" and "country" in name.qualifiers)):
        return _country_guess(says, name, ev)
    if not suffix_id and is_text and (head in _STATE_WORDS or (head == "region" and _in_address_table(table, name))):
        state = _state_guess(says, name, ev)
        if state is not None:
            return state
    if not suffix_id and is_text and head in _IP_WORDS:
        return confirmed(
            "ip_address",
            _ip_ok,
            "IP addresses",
            "ipv6" if ev.texts and ev.share(lambda v: ":" in v) > 0.5 else "ipv4",
        )
    if not suffix_id and is_text and (head in _URL_WORDS or name.tail in _URL_WORDS or head == "link"):
        return confirmed("url", _URL_RE.match, "URLs", "url")
    if numeric_ok and not suffix_id:
        numbers = _numeric_name_guess(name, says, ev.type)
        if numbers is not None:
            return numbers
    if is_text and _is_dob_name(name):
        return _guess("date_of_birth", 0.9, f"{says} suggests a date of birth")
    if is_text and name.has_number_suffix and head in {"building", "house", "suite", "apt", "apartment", "street"}:
        return _guess("address.street", 0.8, f"{says} suggests a part of a street address", pattern=ev.pattern())
    if is_text and not suffix_id and not name.has_number_suffix:
        person = _person_name_guess(table, name, says, ev)
        if person is not None:
            return person
        kind = _text_kind_guess(table, name, says, ev)
        if kind is not None:
            return kind
        if head in _CITY_WORDS or ("city" in name.qualifiers and head == "name"):
            return _guess("address.city", 0.85, f"{says} suggests a city", faker_provider="city")
        if (
            head in _STREET_WORDS
            or (head in {"line", "street"} and name.qualifiers & {"address", "addr"})
            or ("street" in name.qualifiers and head == "name")
        ):
            return confirmed("address.street", _STREET_RE.match, "street addresses", "street_address")
        if head in _COMPANY_WORDS:
            return _guess("company.name", 0.75, f"{says} suggests an organisation's name", faker_provider="company")
        if head in _TEXT_WORDS:
            return _guess(
                "free_text",
                0.85,
                f"{says} suggests free text",
                faker_provider="sentence" if ev.avg_length <= 80 else "text",
            )
        if head in _USERNAME_WORDS or ("user", "name") in name.pairs:
            return _guess("identifier", 0.8, f"{says} suggests a user name", faker_provider="user_name")
    if (suffix_id or head in {"uuid", "guid"}) and ev.type in {"STRING", "INT64", "NUMERIC", "BIGNUMERIC"}:
        if ev.type == "STRING" and ev.matches(_UUID_RE.match):
            return _guess(
                "identifier",
                0.95,
                f"{says}; {ev.sample_note(_UUID_RE.match, 'UUIDs')}",
                faker_provider="uuid4",
            )
        return _guess(
            "identifier",
            0.75,
            f"{says} is id-like; {ev.cardinality_note()}",
            pattern=ev.pattern() if is_text else None,
        )
    counted = bool(set(name.suffix) & _COUNT_WORDS)
    if counted and ev.type == "INT64" and ev.non_null == 0 and name.core:
        return _guess("identifier", 0.6, f"{says} is a number of something (no values to check)")
    if (
        name.has_number_suffix
        and is_text
        and ((ev.non_null == 0 and counted) or (ev.ratio >= CATEGORICAL_MAX_RATIO and not ev.is_categorical))
    ):
        pattern = ev.pattern()
        return _guess(
            "identifier",
            0.7,
            f"{says} is a number/code; {ev.cardinality_note()}",
            pattern=pattern,
            faker_provider="uuid4" if pattern is None and ev.matches(_UUID_RE.match) else None,
        )
    if ev.type == "INT64" and (name.tokens[0] in _BOOL_PREFIXES or head == "flag") and ev.distinct <= 2:
        return _guess("boolean", 0.8, f"{says} is a flag with {ev.distinct} distinct values")
    return None


def _card_guess(says: str, ev: _Evidence) -> SemanticGuess:
    pattern = ev.pattern() if ev.type == "STRING" else None
    if ev.texts and ev.matches(_card_ok):
        return _guess(
            "credit_card_number",
            0.95,
            f"{says}; {ev.sample_note(_card_ok, 'Luhn-valid card numbers')}",
            faker_provider="credit_card_number",
            pattern=pattern,
        )
    if ev.texts and pattern is not None:
        # Masked PANs ("**** **** **** 1234") must keep their mask: the shape, not a full number.
        return _guess(
            "credit_card_number",
            0.85,
            f"{says}; values share the shape {pattern!r} (masked)",
            pattern=pattern,
        )
    return _guess(
        "credit_card_number",
        0.8,
        f"{says} suggests a card number",
        faker_provider="credit_card_number",
        pattern=pattern,
    )


def _postal_ok(value: str) -> bool:
    return bool(
        _ZIP5_RE.match(value)
        or _ZIP9_RE.match(value)
        or _UK_POSTCODE_RE.match(value.upper())
        or _CA_POSTCODE_RE.match(value.upper())
        or re.fullmatch(r"\d{4,6}", value)
    )


def _country_guess(says: str, name: _Name, ev: _Evidence) -> SemanticGuess:
    countries = _lexicon()["country"]
    codes = ev.texts and ev.matches(lambda v: re.fullmatch(r"[A-Z]{2,3}", v) is not None)
    coded = bool(codes) or name.has_number_suffix or "iso" in name.tokens
    provider = "country_code" if coded else "country"
    if ev.texts and ev.matches(lambda v: v.lower() in countries):
        return _guess(
            "address.country",
            0.95,
            f"{says}; {ev.sample_note(lambda v: v.lower() in countries, 'countries')}",
            faker_provider=provider,
        )
    return _guess(
        "address.country",
        0.85,
        f"{says} suggests a country{' code' if coded else ''}",
        faker_provider=provider,
    )


def _is_state(value: str) -> bool:
    lexicon = _lexicon()
    return value in lexicon["state_abbr"] or value.lower() in lexicon["state"]


def _state_guess(says: str, name: _Name, ev: _Evidence) -> SemanticGuess | None:
    abbreviated = (ev.texts and ev.share(lambda v: len(v) == 2 and v.isupper()) > 0.5) or (
        not ev.texts and ev.stats is not None and ev.stats.max_length is not None and ev.stats.max_length <= 2
    )
    provider = "state_abbr" if abbreviated else "state"
    if ev.texts and ev.matches(_is_state):
        return _guess(
            "address.state",
            0.95,
            f"{says}; {ev.sample_note(_is_state, 'US states')}",
            faker_provider=provider,
        )
    if ev.texts and not (name.qualifiers & _ADDRESS_CONTEXT) and ev.share(_is_state) < 0.5:
        return None  # "order_state" = pending/shipped: a workflow state, left to the statistics
    return _guess("address.state", 0.8, f"{says} suggests a state or province", faker_provider=provider)


_MONEY_RATE_WORDS = frozenset({"rental", "hourly", "daily", "nightly", "room", "pay", "billing", "day"})
# Words that name the measure even before a qualifier: "TotalDue", "priceEach", "SalesYTD".
_LEADING_MEASURE_WORDS = frozenset(
    {"amount", "amt", "price", "cost", "total", "sales", "salary", "revenue", "qty", "quantity", "stock", "inventory"}
)
_QUANTITY_FIRST_WORDS = frozenset({"num", "number", "n", "nb", "count", "cnt", "no", "qty", "quantity", "units"})


def _numeric_word_guess(word: str, name: _Name, says: str) -> SemanticGuess | None:
    """What one word of a numeric column's name says it holds."""
    if word in _LAT_WORDS:
        return _guess("latitude", 0.9, f"{says} suggests a latitude")
    if word in _LON_WORDS:
        return _guess("longitude", 0.9, f"{says} suggests a longitude")
    if word == "rate" and name.qualifiers & _MONEY_RATE_WORDS:
        return _guess("amount", 0.8, f"{says} suggests a price per unit of time")
    if word in _PERCENT_WORDS:
        return _guess("percentage", 0.85, f"{says} suggests a rate or percentage")
    if word in _AMOUNT_WORDS:
        return _guess("amount", 0.85, f"{says} suggests a monetary amount")
    if word in _QUANTITY_WORDS:
        return _guess("quantity", 0.8, f"{says} suggests a count")
    return None


def _numeric_name_guess(name: _Name, says: str, column_type: str) -> SemanticGuess | None:
    head, first = name.head, name.core[0] if name.core else ""
    guess = _numeric_word_guess(head, name, says)
    if guess is not None:
        return guess
    if first in _QUANTITY_FIRST_WORDS and len(name.core) > 1:
        return _guess("quantity", 0.8, f"{says} suggests a count")
    plural = singular(head) != head and head not in _AMOUNT_WORDS
    if column_type == "INT64" and plural:
        # "seats", "engines", "TotalChildren", "VacationHours": an integer named by a plural counts things.
        return _guess("quantity", 0.7, f"{says}: an integer named by a plural, a count")
    for word in reversed(name.core[:-1]):  # "TotalDue", "priceEach", "AMOUNT_SOLD"; not "credit_score"
        guess = _numeric_word_guess(word, name, says) if word in _LEADING_MEASURE_WORDS else None
        if guess is not None:
            return guess.model_copy(update={"confidence": round(guess.confidence * 0.9, 3)})
    return None


_NAME_HEADS = frozenset({"name", "nm", "fullname", "displayname", "names", "holder", "cardholder"})
_FIRST_NAME_PAIRS = _FIRST_PAIRS | {("preferred", "name"), ("nick", "name")}
_CATEGORY_HEADS = frozenset({"category", "subcategory", "genre", "department", "dept", "division"})
_PRODUCT_HEADS = frozenset({"product", "model", "item"})
_WORK_HEADS = frozenset({"album", "book", "film", "movie", "song", "track", "episode", "novel"})
_KIND_PROVIDERS = {
    "person.full_name": "name",
    "company.name": "company",
    "product.name": "product_name",
    "work.title": "work_title",
    "address.city": "city",
    "address.street": "street_address",
    "job_title": "job",
    "identifier": "user_name",
}


def _kind_of(words: Sequence[str]) -> tuple[str, str] | None:
    """The kind of text a set of words names, and the word that said it (``_NAME_KINDS`` order)."""
    for vocabulary, kind in _NAME_KINDS:
        for word in words:
            if word in vocabulary:
                return kind, word
    return None


def _entity_kind(entity: Sequence[str]) -> tuple[str, str] | None:
    """The kind of a table's things: its last word's, unless that word is weak (``CountryRegion``)."""
    if not entity:
        return None
    last = _kind_of(entity[-1:])
    if last is not None and entity[-1] not in _WEAK_KIND_WORDS:
        return last
    return _kind_of(entity[:-1]) or last


def _category_provider(word: str) -> str:
    if word == "genre":
        return "genre"
    return "department_name" if word in {"department", "dept", "division"} else "category_name"


def _kind_guess(
    table: TableProfile, kind: str, word: str, name: _Name, says: str, ev: _Evidence, confidence: float
) -> SemanticGuess | None:
    """The guess for a column holding names or titles of one kind (said by ``word``)."""
    if kind == "address.country":
        return _country_guess(says, name, ev)
    if kind == "address.state":
        return _state_guess(says, name, ev)
    provider = _category_provider(word) if kind == "category.name" else _KIND_PROVIDERS.get(kind)
    if kind == "address.street" and name.head == "name":
        provider = "street_name"
    return _guess(kind, confidence, f"{says} names a {kind.replace('_', ' ')} ({word!r})", faker_provider=provider)


def _in_address_table(table: TableProfile, name: _Name) -> bool:
    """Whether a column sits among address parts: a qualifier like billing_, or a city column beside it."""
    return bool(name.qualifiers & _ADDRESS_CONTEXT) or bool(_table_words(table) & (_CITY_WORDS | _POSTAL_WORDS))


def _person_name_guess(table: TableProfile, name: _Name, says: str, ev: _Evidence) -> SemanticGuess | None:
    head, pairs = name.head, name.pairs
    first_share, last_share, full_share = _person_name_shares(ev.texts) if ev.texts else (0.0, 0.0, 0.0)
    # "first" and "last" side by side (the Sparkov schema) are a person's names.
    paired = name.core == ["first"] and "last" in _table_words(table)
    if head in _FIRST_WORDS or pairs & _FIRST_NAME_PAIRS or paired:
        confidence = 0.95 if first_share >= 0.5 else 0.85
        return _guess("person.first_name", confidence, f"{says} suggests a first name", faker_provider="first_name")
    if head in _LAST_WORDS or pairs & _LAST_PAIRS or (name.core == ["last"] and "first" in _table_words(table)):
        confidence = 0.95 if last_share >= 0.5 else 0.85
        return _guess("person.last_name", confidence, f"{says} suggests a last name", faker_provider="last_name")
    if head not in _NAME_HEADS:
        return None
    qualifiers = [w for w in name.core[:-1] if w not in _NEUTRAL_NAME_WORDS]
    if head in {"holder", "cardholder"}:
        return _guess("person.full_name", 0.9, f"{says} names a person", faker_provider="name")
    named = _kind_of(qualifiers)
    if named is not None:
        return _kind_guess(table, *named, name, says, ev, 0.9)
    if not qualifiers:
        # A bare "name": whose name depends on the table (customers, genres) or the values.
        entity = _entity_kind(name.entity)
        if entity is not None and not (entity[0] != "person.full_name" and full_share >= 0.6):
            return _kind_guess(table, *entity, name, f"{says} in table {table.name}", ev, 0.85)
        if full_share >= 0.5 or head in {"fullname", "displayname"} or name.core != [head]:
            return _guess(
                "person.full_name",
                0.85 if full_share >= 0.5 else 0.7,
                f"{says} in table {table.name} names a person",
                faker_provider="name",
            )
    if full_share >= 0.6:
        return _guess(
            "person.full_name",
            0.8,
            f"{says}; {round(full_share * 100)}% of sample values look like person names",
            faker_provider="name",
        )
    return None


def _title_guess(table: TableProfile, name: _Name, says: str) -> SemanticGuess | None:
    """A title is a job's in an employee's row, a work's in an album's or a film's, an honorific in a person's."""
    qualifiers, entity = name.qualifiers, set(name.entity)
    job = _guess("job_title", 0.85, f"{says} is a job title", faker_provider="job")
    work = _guess("work.title", 0.85, f"{says} is the title of a work", faker_provider="work_title")
    if qualifiers & (_JOB_WORDS | _PERSON_WORDS):
        return job
    if qualifiers & _WORK_WORDS or entity & _WORK_WORDS:
        return work
    if entity & (_JOB_WORDS | _EMPLOYEE_WORDS) or _table_words(table) & _EMPLOYEE_WORDS:
        return job
    if entity & _PERSON_WORDS:
        return None  # Mr., Ms., Dr.: the values decide (a small vocabulary)
    return work.model_copy(update={"confidence": 0.6})


def _text_kind_guess(table: TableProfile, name: _Name, says: str, ev: _Evidence) -> SemanticGuess | None:
    """Text named by its kind: titles, jobs, a person named by a role, products, works, categories."""
    head = name.head
    if head == "title" or name.tail == "jobtitle":
        return _title_guess(table, name, says)
    if head in _JOB_WORDS:
        return _guess("job_title", 0.85, f"{says} is a job or occupation", faker_provider="job")
    if head in _PERSON_ROLE_HEADS:
        return _guess("person.full_name", 0.8, f"{says} names a person by role", faker_provider="name")
    if head in _CATEGORY_HEADS or (head == "line" and "product" in name.qualifiers):
        provider = _category_provider(head)
        return _guess("category.name", 0.8, f"{says} names a category", faker_provider=provider)
    if head in _PRODUCT_HEADS:
        return _guess("product.name", 0.75, f"{says} names a product", faker_provider="product_name")
    if head in _WORK_HEADS:
        return _guess("work.title", 0.75, f"{says} names a work", faker_provider="work_title")
    if head in {"extension", "ext"} and _table_words(table) & (_PHONE_WORDS | _FIRST_WORDS | _LAST_WORDS | {"first"}):
        return _guess("phone_number", 0.7, f"{says} beside a person's details: a phone extension", pattern=ev.pattern())
    return None


# Share of sample values that must be known job titles, cities or genres: vocabularies are partial.
KIND_VALUE_SHARE = 0.6
_EXTRA_JOB_HEADS = frozenset(
    {
        "manager",
        "agent",
        "staff",
        "representative",
        "president",
        "director",
        "assistant",
        "clerk",
        "officer",
        "analyst",
        "developer",
        "consultant",
        "coordinator",
        "supervisor",
        "specialist",
        "administrator",
        "technician",
        "engineer",
        "accountant",
        "executive",
        "associate",
        "intern",
        "lead",
        "buyer",
        "nurse",
    }
)
_EXTRA_GENRES = frozenset(
    {
        "rock and roll",
        "rock & roll",
        "heavy metal",
        "easy listening",
        "bossa nova",
        "soundtrack",
        "world",
        "indie",
        "sci fi & fantasy",
        "science fiction",
        "tv shows",
        "children",
        "family",
        "history",
        "war",
        "sports",
        "games",
        "new",
        "classics",
        "foreign",
        "horror",
        "travel",
        "music",
        "alternative & punk",
        "electronica/dance",
        "hip hop/rap",
        "drama",
        "comedy",
        "action",
        "animation",
        "documentary",
    }
)


@cache
def _job_heads() -> frozenset[str]:
    """The last words of job titles (Faker's job list plus common ones): manager, engineer, nurse."""
    from faker.providers.job.en_US import Provider as JobProvider

    heads = {job.split(",")[0].split()[-1].lower() for job in JobProvider.jobs}
    return frozenset(heads | _EXTRA_JOB_HEADS)


@cache
def _city_names() -> frozenset[str]:
    """City names in Latin script from Faker's locales and the IANA time zone database (no I/O beyond them)."""
    import importlib
    import pkgutil
    import zoneinfo

    import faker.providers.address as address

    names: set[str] = set()
    for module in pkgutil.iter_modules(address.__path__):
        provider = getattr(importlib.import_module(f"{address.__name__}.{module.name}"), "Provider", None)
        for city in getattr(provider, "cities", ()) or ():
            if str(city).isascii() or str(city)[:1].isalpha() and str(city)[:1].isupper():
                names.add(str(city).lower())
    for zone in zoneinfo.available_timezones():
        if "/" in zone:
            names.add(zone.rsplit("/", 1)[-1].replace("_", " ").lower())
    return frozenset(names)


@cache
def _genre_names() -> frozenset[str]:
    from bqsynth.text_kinds import GENRES

    return frozenset(g.lower() for g in GENRES) | _EXTRA_GENRES


def _is_job_title(value: str) -> bool:
    words = value.split(",")[0].split()
    return 1 <= len(words) <= 6 and value[:1].isupper() and words[-1].lower() in _job_heads()


def _is_city(value: str) -> bool:
    return value[:1].isupper() and value.lower() in _city_names()


def _is_genre(value: str) -> bool:
    return value.lower() in _genre_names()


_KIND_VALUE_CHECKS: tuple[tuple[Any, str, str, str], ...] = (
    (_is_job_title, "job_title", "job", "job titles"),
    (_is_genre, "category.name", "genre", "genres"),
    (_is_city, "address.city", "city", "known city names"),
)


def _value_guess(ev: _Evidence) -> SemanticGuess | None:
    """Shapes of the sampled values, for columns whose name said nothing conclusive."""
    if not ev.texts:
        return None

    def found(
        semantic: str, predicate: Any, what: str, provider: str | None = None, confidence: float = 0.9
    ) -> SemanticGuess:
        return _guess(
            semantic,
            ev.scale_confidence(confidence),
            ev.sample_note(predicate, what),
            faker_provider=provider,
            pattern=ev.pattern(),
        )

    lowered = frozenset(t.lower() for t in ev.texts)
    if lowered in _BOOL_PAIRS:
        return _guess("boolean", ev.scale_confidence(0.8), f"values are only {sorted(lowered)}")
    checks: list[tuple[str, Any, str, str | None]] = [
        ("email", is_email, "email addresses", "email"),
        ("url", _URL_RE.match, "URLs", "url"),
        ("ip_address", _ip_ok, "IP addresses", "ipv6" if any(":" in t for t in ev.texts) else "ipv4"),
        ("iban", _iban_ok, "valid IBANs", "iban"),
        ("timestamp", _timestamp_ok, "timestamps", None),
        ("date", _date_ok, "dates", None),
        ("time", lambda v: _TIME_RE.match(v) is not None, "times of day", None),
        ("ssn", _SSN_RE.match, "SSN-shaped (###-##-####)", "ssn"),
        ("credit_card_number", _card_ok, "Luhn-valid card numbers", "credit_card_number"),
        (
            "address.postal_code",
            lambda v: _ZIP9_RE.match(v) or _UK_POSTCODE_RE.match(v) or _CA_POSTCODE_RE.match(v),
            "ZIP+4, UK or Canadian postal codes",
            "postcode",
        ),
        ("phone_number", _looks_like_phone_number, "phone numbers", "phone_number"),
    ]
    if ev.matches(_UUID_RE.match):
        return found("identifier", _UUID_RE.match, "UUIDs", "uuid4", 0.95)
    for semantic, predicate, what, provider in checks:
        if ev.matches(predicate):
            if semantic == "address.postal_code" and ev.matches(_ZIP9_RE.match):
                provider = "zipcode_plus4"
            return found(semantic, predicate, what, provider)
    if ev.matches(_is_state):
        provider = "state_abbr" if all(len(t) == 2 for t in ev.texts) else "state"
        return found("address.state", _is_state, "US states", provider, 0.85)
    countries = _lexicon()["country"]
    if ev.matches(lambda v: v.lower() in countries):
        return found("address.country", lambda v: v.lower() in countries, "country names", "country", 0.85)
    # Company suffixes first: "Davis LLC" would otherwise pass for a person.
    if ev.share(lambda v: _COMPANY_RE.search(v) is not None) >= 0.5:
        return _guess(
            "company.name",
            ev.scale_confidence(0.7),
            "most sample values end like company names",
            faker_provider="company",
        )
    first_share, last_share, full_share = _person_name_shares(ev.texts)
    if full_share >= 0.6:
        return _guess(
            "person.full_name",
            ev.scale_confidence(0.75),
            f"{round(full_share * 100)}% of sample values look like full names (Faker name lists)",
            faker_provider="name",
        )
    if max(first_share, last_share) >= 0.7:
        semantic, provider, share = (
            ("person.first_name", "first_name", first_share)
            if first_share >= last_share
            else ("person.last_name", "last_name", last_share)
        )
        return _guess(
            semantic,
            ev.scale_confidence(0.7),
            f"{round(share * 100)}% of sample values are known {provider.replace('_', ' ')}s",
            faker_provider=provider,
        )
    for predicate, semantic, provider, what in _KIND_VALUE_CHECKS:
        if ev.share(predicate) >= KIND_VALUE_SHARE:
            return found(semantic, predicate, what, provider, 0.7)
    if ev.share(lambda v: _STREET_RE.match(v) is not None) >= 0.7:
        return found("address.street", _STREET_RE.match, "street addresses", "street_address", 0.85)
    if ev.matches(_ZIP5_RE.match) and not ev.is_unique and not ev.is_categorical:
        return found("address.postal_code", _ZIP5_RE.match, "5-digit, repeating: likely ZIP codes", "postcode", 0.5)
    return None


def _string_stats_guess(name: _Name, ev: _Evidence) -> SemanticGuess:
    """Last resort for strings: cardinality and length."""
    spaced = ev.share(lambda v: " " in v) if ev.texts else 0.0
    words = sum(len(t.split()) for t in ev.texts) / len(ev.texts) if ev.texts else 0.0
    if ev.non_null == 0:
        return _guess("unknown", 0.2, "no non-null values to learn from")
    if ev.avg_length >= FREE_TEXT_MIN_AVG_LENGTH:
        return _guess(
            "free_text",
            0.7,
            f"long strings (average length {ev.avg_length:.0f}): free text",
            faker_provider="sentence" if ev.avg_length <= 80 else "text",
        )
    hinted = name.head in _CATEGORY_WORDS and ev.distinct <= CATEGORICAL_LARGE_MAX_DISTINCT and ev.ratio < 0.9
    if ev.is_categorical or hinted:
        why = f"name {name.leaf!r} and " if hinted and not ev.is_categorical else ""
        return _guess("categorical", 0.75, f"{why}few distinct values: {ev.cardinality_note()}")
    if spaced >= 0.5 and words >= 3:
        return _guess(
            "free_text",
            0.6,
            f"multi-word strings with {ev.cardinality_note()}: free text",
            faker_provider="sentence",
        )
    pattern = ev.pattern()
    what = "unique" if ev.ratio >= UNIQUE_RATIO else "high-cardinality"
    return _guess(
        "identifier",
        0.6 if pattern else 0.5,
        f"{what} strings ({ev.cardinality_note()}): never copied" + (f"; shared shape {pattern!r}" if pattern else ""),
        pattern=pattern,
    )


def _number_stats_guess(name: _Name, ev: _Evidence) -> SemanticGuess:
    stats = ev.stats
    if ev.type == "INT64" and ev.non_null and ev.distinct <= 20 and ev.ratio < CATEGORICAL_MAX_RATIO:
        return _guess("categorical", 0.6, f"a small set of integer codes: {ev.cardinality_note()}")
    if ev.type == "INT64" and ev.is_unique and stats is not None:
        low, high = stats.min_value, stats.max_value
        if isinstance(low, int) and isinstance(high, int) and high - low + 1 <= 1.5 * max(ev.distinct, 1):
            return _guess("identifier", 0.55, f"unique, dense integers {low}..{high}: a sequence id", identifying=True)
    return _guess(
        "number",
        0.5,
        f"{ev.type} column without a more specific name"
        if not name.usable
        else f"{ev.type} column; name {name.leaf!r} says nothing more specific",
    )
