"""Every text column gets values of its kind: detection by value, providers, shapes, sentences."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from functools import cache
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import pytest
from faker.providers.job.en_US import Provider as JobProvider
from faker.providers.lorem.en_US import Provider as LoremProvider

from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    ColumnSchema,
    ColumnStats,
    FakerValue,
    FreeText,
    ShapedText,
    TableProfile,
    ValueCount,
    leaf_plans,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.semantics import classify_column, sample_values
from bqsynth.text_kinds import GENRES, column_shapes, new_faker, shaped_value, text_shape

LOREM = frozenset(w.lower() for w in LoremProvider.word_list)
JOB_TITLES = frozenset(JobProvider.jobs)

# Values in the style of a small online store (Chinook-like); none of them may come out.
TRACKS = [
    "For Those About To Rock",
    "Balls to the Wall",
    "Fast As a Shark",
    "Restless and Wild",
    "Princess of the Dawn",
]
GENRE_NAMES = ["Rock", "Jazz", "Metal", "Alternative & Punk", "Rock And Roll", "Blues", "Latin", "Reggae", "Pop"]
EMPLOYEE_TITLES = ["General Manager", "Sales Manager", "Sales Support Agent", "IT Manager", "IT Staff"]
CITIES = ["São José dos Campos", "Stuttgart", "Montréal", "Oslo", "Prague", "Vienne", "Brussels", "Edmonton"]
POSTCODES = ["12227-000", "70174", "H2G 1A7", "0171", "14700", "1010", "T6G 2C7", "V6C 1G8"]
PRODUCTS = ["Chai", "Chang", "Aniseed Syrup", "Chef Anton's Cajun Seasoning", "Grandma's Boysenberry Spread"]
COMMENTS = [
    "Please leave the parcel with the neighbour if nobody answers.",
    "Customer asked for a gift wrap and a handwritten card.",
    "Late delivery last time; call before shipping.",
]


def options() -> PlanOptions:
    return PlanOptions(target_project="tp", target_dataset="td", min_category_count=5)


def text_stats(path: str, values: list[str]) -> ColumnStats:
    counts = Counter(values)
    lengths = [len(v) for v in values]
    return ColumnStats(
        path=path,
        type="STRING",
        row_count=len(values),
        distinct_count=len(counts),
        top_values=[ValueCount(value=v, count=n) for v, n in counts.most_common(20)],
        min_length=min(lengths),
        max_length=max(lengths),
        avg_length=sum(lengths) / len(lengths),
    )


def text_table(name: str, columns: dict[str, list[str]], rows: int | None = None) -> TableProfile:
    """A table of STRING columns; each column's values repeat to fill ``rows`` (default: the longest list)."""
    rows = rows or max(len(v) for v in columns.values())
    filled = {c: list(islice(cycle(v), rows)) for c, v in columns.items()}
    return TableProfile(
        table_id=f"p.d.{name}",
        name=name,
        row_count=rows,
        columns=[ColumnSchema(name=c, type="STRING") for c in columns],
        stats={c: text_stats(c, v) for c, v in filled.items()},
        sample=[{c: v[i] for c, v in filled.items()} for i in range(rows)],
    )


def store_profiles() -> list[TableProfile]:
    return [
        text_table("Track", {"Name": TRACKS}),
        text_table("Genre", {"Name": GENRE_NAMES}),
        text_table("Employee", {"Title": EMPLOYEE_TITLES, "City": CITIES[:5]}),
        text_table("invoice", {"billingcity": CITIES, "billingpostalcode": POSTCODES, "comment": COMMENTS}, rows=40),
        text_table(
            "Products", {"ProductName": PRODUCTS, "QuantityPerUnit": ["10 boxes x 20 bags", "24 - 12 oz bottles"]}
        ),
    ]


@cache
def generated(rows: int = 300) -> dict[str, dict[str, list[Any]]]:
    """Table -> column -> generated values, for the store profiles (planned and generated once)."""
    plan = with_recipes(plan_dataset(store_profiles(), options()))
    assert not plan.failures, plan.failures
    out: dict[str, dict[str, list[Any]]] = {}
    directory = Path(__import__("tempfile").mkdtemp(prefix="text_kinds_"))
    for table in plan.tables:
        table = table.model_copy(update={"row_count": rows})
        files, _, _ = generate_table(table, 7, directory / table.name)
        records = [__import__("json").loads(line) for f in files for line in f.read_text().splitlines()]
        out[table.name] = {c: [r[c] for r in records] for c in records[0]}
    return out


def plans() -> dict[str, dict[str, Any]]:
    plan = plan_dataset(store_profiles(), options())
    return {t.name: leaf_plans(t.columns) for t in plan.tables}


def is_sentence(value: str) -> bool:
    return value.endswith(".") and len(value.split()) >= 4


def is_filler(value: str) -> bool:
    """Faker's lorem words as the issue saw them: lower-case word runs ("partner husband") or a sentence."""
    words = [w.strip(".,").lower() for w in value.split()]
    return bool(words) and all(w in LOREM for w in words) and (value == value.lower() or is_sentence(value))


def lorem_share(values: list[str]) -> float:
    """Share of values that are filler (see :func:`is_filler`)."""
    return sum(is_filler(v) for v in values) / len(values)


# --- the plan: one generator per kind ---------------------------------------------------------


def test_each_text_kind_gets_its_own_generator() -> None:
    leaves = plans()
    assert leaves["Track"]["Name"].generator == FakerValue(provider="work_title")
    assert leaves["Genre"]["Name"].generator == FakerValue(provider="genre")
    assert leaves["Employee"]["Title"].generator == FakerValue(provider="job")
    assert leaves["invoice"]["billingcity"].generator == FakerValue(provider="city")
    assert leaves["Products"]["ProductName"].generator == FakerValue(provider="product_name")
    assert isinstance(leaves["invoice"]["comment"].generator, FreeText)
    # Nothing fits a packaging description: the source's shapes, never lorem words.
    assert isinstance(leaves["Products"]["QuantityPerUnit"].generator, ShapedText)
    # Postal codes of several countries keep each shape, never words.
    assert leaves["invoice"]["billingpostalcode"].semantic_type == "address.postal_code"
    assert isinstance(leaves["invoice"]["billingpostalcode"].generator, ShapedText)


# --- generated values look like their kind ----------------------------------------------------


def test_product_names_are_names_not_sentences() -> None:
    values = generated()["Products"]["ProductName"]
    assert not any(is_sentence(v) for v in values)
    assert all(1 <= len(v.split()) <= 4 and all(w[0].isupper() for w in v.split()) for v in values)
    assert not set(values) & set(PRODUCTS)
    assert lorem_share(values) < 0.05


def test_titles_of_works_are_title_cased_and_varied() -> None:
    values = generated()["Track"]["Name"]
    assert not any(v.endswith(".") for v in values)
    assert all(v.split()[0][0].isupper() and len(v.split()) <= 6 for v in values)
    assert len(set(values)) > 50 and lorem_share(values) < 0.05


def test_job_titles_look_like_job_titles() -> None:
    values = generated()["Employee"]["Title"]
    assert all(v in JOB_TITLES for v in values)
    assert lorem_share(values) < 0.05


def test_genres_are_genres() -> None:
    values = generated()["Genre"]["Name"]
    assert set(values) <= set(GENRES) and len(set(values)) > 5


def test_cities_are_cities_never_lorem_words() -> None:
    values = generated()["invoice"]["billingcity"]
    assert lorem_share(values) < 0.05
    assert all(v[0].isupper() for v in values) and not set(values) & set(CITIES)


def test_filler_detection_can_fail() -> None:
    assert is_filler("partner husband") and is_filler("True lead accept political media your.")
    assert not is_filler("The Silent River") and not is_filler("Sales Manager")


def test_postal_codes_are_not_words_and_keep_the_sources_shapes() -> None:
    values = generated()["invoice"]["billingpostalcode"]
    assert all(any(c.isdigit() for c in v) for v in values)
    assert lorem_share(values) == 0.0
    assert {text_shape(v) for v in values} == {text_shape(p) for p in POSTCODES}


def test_comments_are_sentences_of_the_sources_lengths() -> None:
    values = generated()["invoice"]["comment"]
    lengths = [len(v) for v in values]
    source = [len(c) for c in COMMENTS]
    assert min(source) <= min(lengths) and max(lengths) <= max(source)
    assert abs(sum(lengths) / len(lengths) - sum(source) / len(source)) < 8
    assert sum(v.endswith(".") for v in values) / len(values) > 0.8


def test_shaped_columns_keep_the_sources_shapes() -> None:
    values = generated()["Products"]["QuantityPerUnit"]
    shapes = {text_shape(v) for v in values}
    assert shapes == {"99 aaaaa a 99 aaaa", "99 - 99 aa aaaaaaa"}
    assert not set(values) & {"10 boxes x 20 bags", "24 - 12 oz bottles"}


# --- shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["Rock And Roll", "IT Staff", "SW1A 1AA", "O'Brien-Smith", "24 - 12 oz bottles", "Ünïcode Straße 5", "x"],
)
def test_a_shaped_value_keeps_length_words_case_digits_and_punctuation(value: str) -> None:
    rng = random.Random(3)
    for _ in range(20):
        made = shaped_value(text_shape(value), rng)
        assert text_shape(made) == text_shape(value)
        assert len(made) == len(value) and len(made.split()) == len(value.split())
        assert [c for c in made if not c.isalnum()] == [c for c in value if not c.isalnum()]


def test_shapes_are_weighted_by_frequency_and_bounded() -> None:
    shapes, weights = column_shapes(["Ab 1", "Cd 2", "Efg", None, "", *[f"W{i}" for i in range(100)]], limit=3)
    assert shapes[:2] == ["A9", "A99"] or shapes[0] in {"A9", "A99"}
    assert len(shapes) == 3 and weights == sorted(weights, reverse=True)
    assert "Aa 9" in column_shapes(["Ab 1", "Cd 2", "Efg"])[0]


def test_kinds_provider_values_are_seeded() -> None:
    first, second = new_faker(), new_faker()
    first.seed_instance(5)
    second.seed_instance(5)
    assert [first.product_name() for _ in range(5)] == [second.product_name() for _ in range(5)]
    assert [first.work_title() for _ in range(5)] != [first.work_title() for _ in range(5)]


# --- detection from values where the name says nothing ----------------------------------------


def classify_values(path: str, values: list[str], table: str = "things") -> str:
    profile = text_table(table, {path: values}, rows=60)
    column = profile.columns[0]
    return classify_column(profile, path, column, profile.stats[path], sample_values(profile, path)).semantic_type


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            ["Sales Manager", "Software Engineer", "Accountant", "Sales Support Agent", "IT Manager", "Nurse"],
            "job_title",
        ),
        (["Stuttgart", "Oslo", "Prague", "Brussels", "Edmonton", "Vancouver", "Mumbai", "Kraków"], "address.city"),
        (
            ["Rock", "Jazz", "Metal", "Blues", "Latin", "Reggae", "Classical", "Soundtrack", "Pop", "Hip Hop"],
            "category.name",
        ),
    ],
)
def test_values_decide_the_kind_when_the_name_says_nothing(values: list[str], expected: str) -> None:
    assert classify_values("col_7", values) == expected


def test_value_rules_do_not_fire_on_other_text() -> None:
    assert (
        classify_values("col_7", ["Chai", "Chang", "Aniseed Syrup", "Ikura", "Konbu", "Tofu", "Pavlova"])
        != "address.city"
    )
    assert classify_values("col_7", [f"Widget {i}" for i in range(40)]) not in {"job_title", "category.name"}


def test_reference_words_in_names_find_their_kind() -> None:
    cases = {
        ("billingcity", "invoice"): "address.city",
        ("shipcountry", "orders"): "address.country",
        ("custname", "orders"): "person.full_name",
        ("EmployeeLastName", "staff"): "person.last_name",
        ("BillingPostalCode", "Invoice"): "address.postal_code",
        ("home_addr_line2", "people"): "address.street",
        ("TEL", "contacts"): "phone_number",
        ("c_name", "customer"): "person.full_name",
        ("Name", "MediaType"): "category.name",
    }
    for (path, table), expected in cases.items():
        profile = TableProfile(table_id=f"p.d.{table}", name=table, columns=[ColumnSchema(name=path, type="STRING")])
        guess = classify_column(profile, path, profile.columns[0], None, [])
        assert guess.semantic_type == expected, (path, guess.reason)


def test_no_lorem_in_any_text_kind() -> None:
    for table, columns in generated().items():
        for column, values in columns.items():
            if column != "comment":
                assert lorem_share([str(v) for v in values]) < 0.05, (table, column)
                assert not any(re.fullmatch(r"[A-Z][a-z]+( [a-z]+){3,}\.", str(v)) for v in values), (table, column)


def test_a_description_in_capitals_keeps_its_shapes_not_sentences(tmp_path: Path) -> None:
    """Bank statement lines are named like free text but are not prose: sentences would not look like them."""
    lines = [
        "POS PURCHASE CORNER MARKET AUSTIN",
        "ATM WITHDRAWAL #4821 DENVER",
        "MONTHLY MAINTENANCE FEE",
        "OVERDRAFT FEE",
    ]
    profile = text_table("statement", {"description": lines, "note": COMMENTS}, rows=40)
    plan = with_recipes(plan_dataset([profile], options()))
    table = plan.table("statement")
    description = next(c for c in table.columns if c.name == "description")
    assert isinstance(description.generator, ShapedText), description.reason
    assert isinstance(next(c for c in table.columns if c.name == "note").generator, FreeText)
    rows = [
        json.loads(line) for f in generate_table(table, plan.seed, tmp_path)[0] for line in f.read_text().splitlines()
    ]
    values = [r["description"] for r in rows if r["description"]]
    assert values and all(v == v.upper() and not v.endswith(".") for v in values)
    assert {text_shape(v) for v in values} <= {text_shape(v) for v in lines} and not set(values) & set(lines)
