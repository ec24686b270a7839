"""The semantic-name corpus (tests/unit/data/semantic_names.csv): accuracy floor and must-pass names."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from bqsynth.semantics import SEMANTIC_TYPES

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "semantic_names.py"
MIN_ACCURACY = 0.95
MIN_SOURCE_ACCURACY = 0.85


@cache
def benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("semantic_names_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def outcomes() -> dict[tuple[str, str, str], str]:
    """(source, table, column) -> the semantic type found."""
    found = benchmark().classify_corpus(benchmark().load_corpus())
    return {(o.case.source, o.case.table, o.case.column): o.found for o in found}


def test_the_corpus_is_real_and_well_formed() -> None:
    cases = benchmark().load_corpus()
    header = benchmark().CORPUS.read_text().split("column,table,type", 1)[0]
    assert len(cases) >= 200
    assert all(c.expected in SEMANTIC_TYPES for c in cases), [c for c in cases if c.expected not in SEMANTIC_TYPES]
    # Every source group is cited in the header.
    assert all(f"#   {source}:" in header for source in {c.source for c in cases})
    assert len({(c.source, c.table, c.column) for c in cases}) == len(cases)


def test_accuracy_overall_and_per_source() -> None:
    results = benchmark().classify_corpus(benchmark().load_corpus())
    assert benchmark().accuracy(results) >= MIN_ACCURACY
    for source, (hits, total) in benchmark().by_source(results).items():
        assert hits / total >= MIN_SOURCE_ACCURACY, source


@pytest.mark.parametrize(
    ("source", "table", "column", "expected"),
    [
        ("chinook-folded", "invoice", "billingcity", "address.city"),
        ("chinook-folded", "invoice", "billingpostalcode", "address.postal_code"),
        ("chinook-folded", "INVOICE", "BILLINGPOSTALCODE", "address.postal_code"),
        ("chinook", "Invoice", "BillingState", "address.state"),
        ("northwind", "Orders", "ShipCountry", "address.country"),
        ("northwind", "Customers", "Region", "address.state"),
        ("chinook", "Employee", "Title", "job_title"),
        ("chinook", "Album", "Title", "work.title"),
        ("chinook", "Track", "Name", "work.title"),
        ("chinook", "Genre", "Name", "category.name"),
        ("chinook", "Employee", "BirthDate", "date_of_birth"),
        ("northwind", "Products", "ProductName", "product.name"),
        ("northwind", "Customers", "ContactTitle", "job_title"),
        ("adventureworks", "Person", "Title", "categorical"),
        ("adventureworks", "StateProvince", "Name", "address.state"),
        ("adventureworks", "CountryRegion", "Name", "address.country"),
        ("tpch", "customer", "c_name", "person.full_name"),
        ("tpch", "supplier", "s_name", "company.name"),
        ("tpch", "part", "p_name", "product.name"),
        ("tpcds", "customer_address", "ca_zip", "address.postal_code"),
        ("oracle", "EMP", "ENAME", "person.full_name"),
        ("oracle", "DEPT", "DNAME", "category.name"),
        ("oracle", "EMP", "SAL", "amount"),
        ("oracle", "PRODUCTS", "PROD_DESC", "free_text"),
        ("lahman", "People", "nameFirst", "person.first_name"),
        ("lahman", "People", "birthCity", "address.city"),
        ("pubs", "authors", "au_lname", "person.last_name"),
        ("pubs", "sales", "qty", "quantity"),
        ("sparkov", "transactions", "amt", "amount"),
        ("sparkov", "transactions", "dob", "date_of_birth"),
        ("sparkov", "transactions", "first", "person.first_name"),
        ("sparkov", "transactions", "job", "job_title"),
        ("employees", "titles", "title", "job_title"),
        ("pubs", "titles", "title", "work.title"),
    ],
)
def test_must_pass_names(source: str, table: str, column: str, expected: str) -> None:
    assert outcomes()[(source, table, column)] == expected
