"""Offline semantic classification: names, value patterns, statistics, shapes, allowlist."""

from __future__ import annotations

from itertools import cycle, islice
from typing import Any

import pytest
from pydantic import ValidationError

from bqsynth.models import ColumnSchema, ColumnStats, ForeignKey, TableProfile, ValueCount, leaf_schemas, normalise_type
from bqsynth.semantics import (
    IDENTIFYING_TYPES,
    PROVIDER_ALLOWLIST,
    SEMANTIC_TYPES,
    SemanticGuess,
    classify_column,
    derive_pattern,
    entity_forms,
    name_tokens,
    sample_values,
)
from bqsynth.text_kinds import new_faker

# --- factories --------------------------------------------------------------------------------


def column_stats(path: str, column_type: str, values: list[Any], nulls: int = 0) -> ColumnStats:
    """Statistics as the profiler would compute them, from a column's non-null values."""
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:20]
    texts = [str(v) for v in values]
    is_string = normalise_type(column_type) == "STRING"
    return ColumnStats(
        path=path,
        type=normalise_type(column_type),
        row_count=len(values) + nulls,
        null_count=nulls,
        distinct_count=len(counts),
        top_values=[ValueCount(value=v, count=c) for v, c in top],
        min_value=min(values) if values else None,
        max_value=max(values) if values else None,
        min_length=min(map(len, texts)) if is_string and texts else None,
        max_length=max(map(len, texts)) if is_string and texts else None,
        avg_length=sum(map(len, texts)) / len(texts) if is_string and texts else None,
    )


def nest(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {head: nest(rest, value) if rest else value}


def one_column_table(
    path: str,
    column_type: str,
    values: list[Any],
    *,
    table: str = "things",
    stats: bool = True,
    primary_key: list[str] | None = None,
    foreign_keys: list[ForeignKey] | None = None,
) -> tuple[TableProfile, ColumnSchema]:
    parts = path.split(".")
    leaf = ColumnSchema(name=parts[-1], type=column_type)
    top = leaf
    for part in reversed(parts[:-1]):
        top = ColumnSchema(name=part, type="RECORD", fields=[top])
    profile = TableProfile(
        table_id=f"proj.ds.{table}",
        name=table,
        row_count=len(values),
        columns=[top],
        primary_key=primary_key or [],
        foreign_keys=foreign_keys or [],
        stats={path: column_stats(path, column_type, values)} if stats else {},
        sample=[nest(path, v) for v in values],
    )
    return profile, leaf


def classify(path: str, column_type: str, values: list[Any], **kwargs: Any) -> SemanticGuess:
    profile, leaf = one_column_table(path, column_type, values, **kwargs)
    return classify_column(profile, path, leaf, profile.stats.get(path), sample_values(profile, path))


def repeat(values: list[Any], n: int) -> list[Any]:
    return list(islice(cycle(values), n))


FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor"]
FULL = [f"{f} {ln}" for f in FIRST for ln in LAST[:5]]
EMAILS = [f"{f.lower()}.{ln.lower()}@example.com" for f in FIRST for ln in LAST[:3]]
PHONES = [f"+1-212-555-01{i:02d}" for i in range(40)]
STREETS = [
    f"{100 + i} {s} {t}"
    for i, (s, t) in enumerate(
        zip(
            repeat(["Oak", "Maple", "Pine", "Cedar"], 30),
            repeat(["St", "Ave", "Blvd", "Rd", "Lane"], 30),
            strict=True,
        )
    )
]
CARDS = ["4532015112830366", "4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]
IBANS = [
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
]
UUIDS = [f"{i:08x}-1d2c-4e5f-8a9b-{i * 7919:012x}" for i in range(30)]


# --- the vocabulary ---------------------------------------------------------------------------


def test_vocabulary_is_closed_and_documented() -> None:
    assert IDENTIFYING_TYPES <= set(SEMANTIC_TYPES)
    assert all(isinstance(doc, str) and doc for doc in SEMANTIC_TYPES.values())
    with pytest.raises(ValidationError, match="unknown semantic type"):
        SemanticGuess(semantic_type="person.shoe_size")
    with pytest.raises(ValidationError, match="not allowlisted"):
        SemanticGuess(semantic_type="email", faker_provider="password")


@pytest.mark.parametrize("provider", sorted(PROVIDER_ALLOWLIST))
def test_allowlisted_providers_exist_and_return_strings(provider: str) -> None:
    fake = new_faker("en_US")
    fake.seed_instance(1)
    method = getattr(fake, provider)
    assert callable(method)
    value = method()
    assert isinstance(value, str) and value


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "column_type", "values", "expected", "provider"),
    [
        ("first_name", "STRING", FIRST, "person.first_name", "first_name"),
        ("fname", "STRING", FIRST, "person.first_name", "first_name"),
        ("Vorname", "STRING", FIRST, "person.first_name", "first_name"),
        ("last_name", "STRING", LAST, "person.last_name", "last_name"),
        ("surname", "STRING", LAST, "person.last_name", "last_name"),
        ("LName", "STRING", LAST, "person.last_name", "last_name"),
        ("customer_name", "STRING", FULL, "person.full_name", "name"),
        ("cardholder_name", "STRING", FULL, "person.full_name", "name"),
        ("FullName", "STRING", FULL, "person.full_name", "name"),
        ("email", "STRING", EMAILS, "email", "email"),
        ("e_mail", "STRING", EMAILS, "email", "email"),
        ("ContactEmailAddress", "STRING", EMAILS, "email", "email"),
        ("phone_number", "STRING", PHONES, "phone_number", "phone_number"),
        ("tel", "STRING", PHONES, "phone_number", "phone_number"),
        ("mobile", "STRING", PHONES, "phone_number", "phone_number"),
        ("street_address", "STRING", STREETS, "address.street", "street_address"),
        ("addr_line_1", "STRING", STREETS, "address.street", "street_address"),
        ("address.line1", "STRING", STREETS, "address.street", "street_address"),
        ("city", "STRING", repeat(["Boston", "Denver", "Austin"], 30), "address.city", "city"),
        ("billing.town", "STRING", repeat(["Boston", "Denver"], 30), "address.city", "city"),
        ("zip", "STRING", repeat(["02110", "80202", "73301"], 30), "address.postal_code", "postcode"),
        (
            "postcode",
            "STRING",
            repeat(["02110-1234", "80202-0001"], 30),
            "address.postal_code",
            "zipcode_plus4",
        ),
        ("PLZ", "STRING", repeat(["10115", "80331"], 30), "address.postal_code", "postcode"),
        ("company_name", "STRING", ["Acme", "Globex", "Initech", "Umbrella"], "company.name", "company"),
        ("employer", "STRING", ["Acme", "Globex", "Initech", "Umbrella"], "company.name", "company"),
        ("website", "STRING", ["https://acme.example", "https://globex.example"], "url", "url"),
        ("client_ip", "STRING", ["10.0.0.1", "192.168.1.20", "172.16.5.4"], "ip_address", "ipv4"),
        ("iban", "STRING", IBANS, "iban", "iban"),
        ("card_number", "STRING", CARDS, "credit_card_number", "credit_card_number"),
        ("ssn", "STRING", ["123-45-6789", "987-65-4320", "555-12-3456"], "ssn", "ssn"),
        ("national_id", "STRING", ["AB123456C", "CD654321A"], "ssn", "ssn"),
        ("acct_no", "STRING", [f"{10**9 + i * 7}" for i in range(30)], "account_number", None),
        ("notes", "STRING", ["called back", "ok"], "free_text", "sentence"),
        ("description", "STRING", ["A long description of the thing. " * 4], "free_text", "text"),
        ("user_name", "STRING", ["jdoe", "msmith", "rbrown"], "identifier", "user_name"),
    ],
)
def test_names_decide_identifying_types(
    path: str, column_type: str, values: list[Any], expected: str, provider: str | None
) -> None:
    guess = classify(path, column_type, values)
    assert (guess.semantic_type, guess.faker_provider) == (expected, provider), guess.reason
    assert guess.identifying
    assert guess.reason


@pytest.mark.parametrize(
    ("path", "column_type", "values", "expected"),
    [
        ("amount", "NUMERIC", [10.5, 20.25, 3.0], "amount"),
        ("unit_price", "FLOAT64", [1.5, 2.5], "amount"),
        ("salary", "INT64", [50000, 62000, 71000], "amount"),
        ("qty", "INT64", [1, 2, 3, 4], "quantity"),
        ("num_items", "INT64", [1, 2, 3, 4], "quantity"),
        ("discount_pct", "FLOAT64", [0.1, 0.2], "percentage"),
        ("interest_rate", "NUMERIC", [1.25, 3.5], "percentage"),
        ("lat", "FLOAT64", [40.7, 34.05], "latitude"),
        ("location.lng", "FLOAT64", [-74.0, -118.2], "longitude"),
        ("created_on", "DATE", ["2024-01-02", "2024-03-04"], "date"),
        ("created_at", "TIMESTAMP", ["2024-01-02 10:00:00+00:00"], "timestamp"),
        ("updated", "DATETIME", ["2024-01-02 10:00:00"], "timestamp"),
        ("opens_at", "TIME", ["09:00:00"], "time"),
        ("is_active", "BOOL", [True, False, True], "boolean"),
        ("email_verified", "BOOL", [True, False], "boolean"),
        ("credit_score", "INT64", list(range(300, 850, 7)), "number"),
    ],
)
def test_names_and_types_decide_non_identifying_types(
    path: str, column_type: str, values: list[Any], expected: str
) -> None:
    guess = classify(path, column_type, values)
    assert guess.semantic_type == expected, guess.reason
    assert not guess.identifying
    assert guess.faker_provider is None


@pytest.mark.parametrize("path", ["dob", "birth_date", "DateOfBirth", "customer.birthday"])
def test_dates_of_birth_are_identifying(path: str) -> None:
    guess = classify(path, "DATE", ["1980-05-06", "1975-01-02"])
    assert guess.semantic_type == "date_of_birth" and guess.identifying
    assert classify(path, "STRING", ["06/05/1980", "02/01/1975"]).semantic_type == "date_of_birth"


def test_state_and_country_keep_their_shape_and_are_not_identifying() -> None:
    abbreviations = classify("state", "STRING", repeat(["CA", "NY", "TX", "WA"], 40))
    assert (abbreviations.semantic_type, abbreviations.faker_provider) == ("address.state", "state_abbr")
    names = classify("province", "STRING", repeat(["California", "New York", "Texas"], 40))
    assert (names.semantic_type, names.faker_provider) == ("address.state", "state")
    countries = classify("country", "STRING", repeat(["France", "Germany", "Japan"], 40))
    assert (countries.semantic_type, countries.faker_provider) == ("address.country", "country")
    codes = classify("country_code", "STRING", repeat(["FR", "DE", "JP"], 40))
    assert (codes.semantic_type, codes.faker_provider) == ("address.country", "country_code")
    assert not any(g.identifying for g in (abbreviations, names, countries, codes))


def test_a_workflow_state_is_not_an_address() -> None:
    guess = classify("order_state", "STRING", repeat(["pending", "shipped", "delivered"], 60))
    assert guess.semantic_type == "categorical"


def test_masked_card_numbers_keep_their_mask_as_a_pattern() -> None:
    guess = classify("masked_pan", "STRING", [f"XXXX-XXXX-XXXX-{i:04d}" for i in range(20)])
    assert guess.semantic_type == "credit_card_number" and guess.identifying
    assert guess.faker_provider is None
    assert guess.pattern == "XXXX-XXXX-XXXX-####"


def test_id_like_names_are_identifiers_with_their_shape() -> None:
    guess = classify("order_ref", "STRING", [f"ORD-{i:05d}" for i in range(1, 60)])
    assert (guess.semantic_type, guess.pattern) == ("identifier", "ORD-#####")
    assert guess.identifying
    uuid_guess = classify("session_id", "STRING", UUIDS)
    assert (uuid_guess.semantic_type, uuid_guess.faker_provider) == ("identifier", "uuid4")


# --- keys -------------------------------------------------------------------------------------


def test_declared_and_given_keys_are_keys() -> None:
    values = [f"PRD-{i:04d}" for i in range(1, 40)]
    declared = classify("product_id", "STRING", values, primary_key=["product_id"])
    assert (declared.semantic_type, declared.pattern, declared.confidence) == ("key", "PRD-####", 1.0)
    fk = ForeignKey(columns=["product_id"], referenced_table="proj.ds.products", referenced_columns=["product_id"])
    assert classify("product_id", "STRING", values, foreign_keys=[fk]).semantic_type == "key"
    profile, leaf = one_column_table("buyer", "INT64", [1, 2, 3])
    guess = classify_column(profile, "buyer", leaf, None, [1, 2, 3], keys={"buyer"})
    assert guess.semantic_type == "key"


def test_a_unique_column_named_like_the_tables_key_is_its_key() -> None:
    ids = list(range(1, 101))
    assert classify("customer_id", "INT64", ids, table="Dim_Customer").semantic_type == "key"
    assert classify("id", "INT64", ids, table="orders").semantic_type == "key"
    # In another table the same name is a reference, not this table's key.
    assert classify("customer_id", "INT64", repeat(ids, 300), table="orders").semantic_type == "identifier"


# --- values, for columns without a usable name ------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected", "provider"),
    [
        (EMAILS, "email", "email"),
        (["https://a.example/x", "http://b.example", "www.c.example.org"], "url", "url"),
        (["10.0.0.1", "192.168.1.20", "8.8.8.8"], "ip_address", "ipv4"),
        (["2001:db8::1", "fe80::1ff:fe23:4567:890a"], "ip_address", "ipv6"),
        (IBANS, "iban", "iban"),
        (CARDS, "credit_card_number", "credit_card_number"),
        (["123-45-6789", "987-65-4320", "555-12-3456"], "ssn", "ssn"),
        (UUIDS, "identifier", "uuid4"),
        (PHONES, "phone_number", "phone_number"),
        (["(415) 555-0100", "(212) 555-0199", "+44 20 7946 0958"], "phone_number", "phone_number"),
        (repeat(["02110-1234", "80202-0001", "73301-4455"], 30), "address.postal_code", "zipcode_plus4"),
        (["SW1A 1AA", "EC1A 1BB", "M1 1AE"], "address.postal_code", "postcode"),
        (repeat(["CA", "NY", "TX"], 30), "address.state", "state_abbr"),
        (repeat(["France", "Germany", "Japan", "Brazil"], 30), "address.country", "country"),
        (FULL, "person.full_name", "name"),
        (repeat(FIRST, 40), "person.first_name", "first_name"),
        (repeat(LAST, 40), "person.last_name", "last_name"),
        (
            ["Acme Inc", "Globex LLC", "Initech Ltd", "Umbrella Corp", "Stark Industries"],
            "company.name",
            "company",
        ),
        (STREETS, "address.street", "street_address"),
        (
            [
                "The parcel arrived late and the box was damaged on one side, sadly.",
                "Great service, would order again from this shop without any doubt.",
            ],
            "free_text",
            "sentence",
        ),
    ],
)
@pytest.mark.parametrize("path", ["col_7", "f3", "c"])
def test_nameless_columns_are_classified_from_values(
    path: str, values: list[str], expected: str, provider: str | None
) -> None:
    guess = classify(path, "STRING", values)
    assert (guess.semantic_type, guess.faker_provider) == (expected, provider), guess.reason
    assert guess.identifying == (expected in IDENTIFYING_TYPES)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (repeat(["2024-01-02", "2023-12-31", "2024-02-29"], 30), "date"),
        (["2024-01-02T10:11:12Z", "2024-01-03 08:00:00+02:00"], "timestamp"),
        (repeat(["Y", "N"], 30), "boolean"),
        (repeat(["true", "false"], 30), "boolean"),
        (repeat(["gold", "silver", "bronze"], 90), "categorical"),
    ],
)
def test_nameless_non_identifying_values(values: list[str], expected: str) -> None:
    guess = classify("col_2", "STRING", values)
    assert guess.semantic_type == expected, guess.reason
    assert not guess.identifying


def test_nameless_unique_codes_are_identifiers_with_a_pattern() -> None:
    guess = classify("x", "STRING", [f"PRD-{i:04d}" for i in range(1, 80)])
    assert (guess.semantic_type, guess.pattern, guess.identifying) == ("identifier", "PRD-####", True)


def test_nameless_numbers() -> None:
    assert classify("col_1", "INT64", repeat([1, 2, 3], 90)).semantic_type == "categorical"
    assert classify("col_1", "INT64", list(range(1000, 1100))).semantic_type == "identifier"
    assert classify("col_1", "FLOAT64", [i * 1.37 for i in range(100)]).semantic_type == "number"


def test_statistics_alone_decide_without_a_sample() -> None:
    profile, leaf = one_column_table("col_9", "STRING", [])
    few = ColumnStats(
        path="col_9",
        type="STRING",
        row_count=10_000,
        distinct_count=12,
        avg_length=6.0,
        top_values=[ValueCount(value="a", count=900)],
    )
    assert classify_column(profile, "col_9", leaf, few, []).semantic_type == "categorical"
    many = few.model_copy(update={"distinct_count": 9_990})
    guess = classify_column(profile, "col_9", leaf, many, [])
    assert guess.semantic_type == "identifier" and guess.identifying
    long_text = few.model_copy(update={"distinct_count": 5_000, "avg_length": 140.0})
    assert classify_column(profile, "col_9", leaf, long_text, []).semantic_type == "free_text"


# --- privacy rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["first_name", "last_name", "customer_name", "col_4"])
def test_person_names_are_never_categorical(path: str) -> None:
    # Three names over 300 rows would pass any cardinality test for a categorical.
    values = repeat(["Mary", "James", "Linda"] if path != "last_name" else ["Smith", "Jones", "Brown"], 300)
    if path == "customer_name":
        values = repeat(["Mary Smith", "James Jones", "Linda Brown"], 300)
    guess = classify(path, "STRING", values)
    assert guess.semantic_type.startswith("person."), guess.reason
    assert guess.identifying and guess.faker_provider in {"first_name", "last_name", "name"}


def test_high_cardinality_strings_are_identifying() -> None:
    guess = classify("product_label", "STRING", [f"Widget {chr(65 + i % 26)}{i}" for i in range(200)])
    assert guess.identifying
    assert guess.semantic_type in {"identifier", "free_text"}


def test_low_cardinality_strings_are_categorical_not_identifying() -> None:
    guess = classify("segment", "STRING", repeat(["Retail", "Premier", "Private"], 120))
    assert (guess.semantic_type, guess.identifying) == ("categorical", False)


def test_unclassifiable_types_are_unknown() -> None:
    assert classify("payload", "JSON", ['{"a": 1}']).semantic_type == "unknown"
    assert classify("blob", "BYTES", ["AAEC"]).semantic_type == "unknown"


def test_classification_is_deterministic() -> None:
    assert classify("col_7", "STRING", EMAILS) == classify("col_7", "STRING", EMAILS)


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        ([f"PRD-{i:04d}" for i in range(1, 10)], "PRD-####"),
        (["4532015112830366", "4111111111111111"], "################"),
        (["AB-12", "CD-34", "EF-56", "GH-78", "IJ-90"], "??-##"),
        (["AB-12", "AB-34"], "??-##"),  # too few values to trust a constant prefix
        (["+1-212-555-0100", "+1-415-555-0199"], "+#-###-###-####"),
        (["PRD-1", "PRD-22"], None),  # different shapes
        (["abc-1", "xyz-2", "klm-3", "opq-4", "rst-5"], None),  # varying lowercase letters
        (["hello", "world"], None),
        ([], None),
    ],
)
def test_derive_pattern(values: list[str], pattern: str | None) -> None:
    assert derive_pattern(values) == pattern


def test_sample_values_flatten_records_and_arrays() -> None:
    profile = TableProfile(
        table_id="p.d.t",
        name="t",
        sample=[
            {
                "id": 1,
                "address": {"city": "Boston"},
                "tags": ["a", "b"],
                "items": [{"sku": "X1"}, {"sku": "X2"}],
            },
            {"id": 2, "address": None, "tags": [], "items": [{"sku": None}]},
            {"id": None, "address": {"city": "Denver"}, "tags": None, "items": None},
        ],
    )
    assert sample_values(profile, "id") == [1, 2]
    assert sample_values(profile, "address.city") == ["Boston", "Denver"]
    assert sample_values(profile, "tags") == ["a", "b"]
    assert sample_values(profile, "items.sku") == ["X1", "X2"]
    assert sample_values(profile, "missing") == []


def test_leaf_columns_and_names() -> None:
    columns = [
        ColumnSchema(name="id", type="INT64"),
        ColumnSchema(name="address", type="RECORD", fields=[ColumnSchema(name="city", type="STRING")]),
    ]
    assert [path for path, _ in leaf_schemas(columns).items()] == ["id", "address.city"]
    assert name_tokens("CustomerID") == ["customer", "id"]
    assert name_tokens("EMailAddress") == ["e", "mail", "address"]
    assert name_tokens("addr_line1") == ["addr", "line", "1"]
    assert {"customer", "customers"} <= entity_forms("Dim_Customer")
    assert {"category", "categories", "order_item"} & entity_forms("tbl_categories") == {
        "category",
        "categories",
    }
