"""Pure checks on the generated demo warehouse: determinism, keys, shapes and distributions."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from demo.warehouse import Column, DemoTable, build_demo_tables

Row = dict[str, Any]


@pytest.fixture(scope="module")
def tables() -> dict[str, DemoTable]:
    return {t.name: t for t in build_demo_tables(seed=42, scale=1.0)}


def _rows(tables: dict[str, DemoTable], name: str) -> list[Row]:
    return tables[name].rows


def _null_rate(rows: list[Row], column: str) -> float:
    return sum(r[column] is None for r in rows) / len(rows)


def _share(rows: list[Row], column: str, value: Any) -> float:
    return sum(r[column] == value for r in rows) / len(rows)


def _walk(columns: tuple[Column, ...]) -> Iterator[Column]:
    for c in columns:
        yield c
        yield from _walk(c.fields)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_rows() -> None:
    first = build_demo_tables(seed=7, scale=0.3)
    second = build_demo_tables(seed=7, scale=0.3)
    assert [(t.name, t.rows) for t in first] == [(t.name, t.rows) for t in second]


def test_different_seed_gives_different_rows() -> None:
    a = {t.name: t.rows for t in build_demo_tables(seed=1, scale=0.3)}
    b = {t.name: t.rows for t in build_demo_tables(seed=2, scale=0.3)}
    assert all(a[name] != b[name] for name in a)


def test_scale_multiplies_row_counts() -> None:
    small = {t.name: len(t.rows) for t in build_demo_tables(seed=42, scale=0.5)}
    large = {t.name: len(t.rows) for t in build_demo_tables(seed=42, scale=2.0)}
    for name in ("Dim_Customer", "Dim_Account", "Dim_Product", "Dim_Branch", "Fact_Transaction"):
        assert 3.0 <= large[name] / small[name] <= 5.0, name


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_non_positive_scale_is_rejected(scale: float) -> None:
    with pytest.raises(ValueError):
        build_demo_tables(seed=42, scale=scale)


def test_tiny_scale_still_builds_every_dimension() -> None:
    built = {t.name: t for t in build_demo_tables(seed=3, scale=0.01)}
    assert all(t.rows for name, t in built.items() if name.startswith("Dim_") and name != "Dim_Card")


# ---------------------------------------------------------------- shape & types


def test_expected_tables_and_sizes(tables: dict[str, DemoTable]) -> None:
    assert len(tables) >= 5
    assert {"Dim_Customer", "Dim_Product", "Dim_Branch", "Dim_Account", "Fact_Transaction"} <= set(tables)
    total = sum(len(t.rows) for t in tables.values())
    assert 3000 <= total <= 10000
    assert len(_rows(tables, "Fact_Transaction")) == 3000


def test_rows_match_columns_and_are_json_ready(tables: dict[str, DemoTable]) -> None:
    for t in tables.values():
        names = [c.name for c in t.columns]
        assert len(set(names)) == len(names), t.name
        for row in t.rows:
            assert list(row) == names, t.name
        json.dumps(t.rows)  # raises on dates, Decimals, datetimes left unconverted


def test_required_columns_are_never_null(tables: dict[str, DemoTable]) -> None:
    for t in tables.values():
        for c in t.columns:
            if c.mode == "REQUIRED":
                assert all(r[c.name] is not None for r in t.rows), f"{t.name}.{c.name}"


def test_all_bigquery_types_are_present(tables: dict[str, DemoTable]) -> None:
    columns = [c for t in tables.values() for c in _walk(t.columns)]
    types = {c.type for c in columns}
    expected = {"STRING", "INT64", "NUMERIC", "FLOAT64", "BOOL", "DATE", "DATETIME", "TIMESTAMP", "STRUCT"}
    assert expected <= types
    assert any(c.mode == "REPEATED" for c in columns)
    assert any(c.mode == "REQUIRED" for c in columns)


def test_schema_fields_mirror_columns(tables: dict[str, DemoTable]) -> None:
    customer = {f.name: f for f in tables["Dim_Customer"].schema()}
    assert customer["tags"].mode == "REPEATED"
    assert customer["customer_id"].mode == "REQUIRED"
    location = {f.name: f for f in tables["Dim_Branch"].schema()}["location"]
    assert location.field_type == "RECORD"
    assert [f.name for f in location.fields] == ["latitude", "longitude"]


def test_ddl_declares_only_declared_keys(tables: dict[str, DemoTable]) -> None:
    account = tables["Dim_Account"].ddl("p", "d")
    assert "PRIMARY KEY (account_id) NOT ENFORCED" in account
    assert account.count("FOREIGN KEY") == 2
    assert "REFERENCES `p.d.Dim_Customer`(customer_id) NOT ENFORCED" in account
    assert "branch_id) REFERENCES" not in account  # real but undeclared
    fact = tables["Fact_Transaction"].ddl("p", "d")
    assert "PRIMARY KEY" not in fact and "FOREIGN KEY" not in fact
    customer = tables["Dim_Customer"].ddl("p", "d")
    assert "tags ARRAY<STRING>" in customer
    assert "customer_id INT64 NOT NULL" in customer
    assert "location STRUCT<latitude FLOAT64, longitude FLOAT64>" in tables["Dim_Branch"].ddl("p", "d")


def test_mix_of_declared_and_undeclared_relationships(tables: dict[str, DemoTable]) -> None:
    fks = [fk for t in tables.values() for fk in t.foreign_keys]
    assert any(fk.declared for fk in fks) and any(not fk.declared for fk in fks)
    assert any(fk.ref_table == t.name for t in tables.values() for fk in t.foreign_keys)  # self-reference
    assert not tables["Fact_Transaction"].primary_key_declared
    assert not tables["Fact_Transaction"].declared_foreign_keys


# ------------------------------------------------------------ keys & integrity


def test_primary_keys_are_unique_and_present(tables: dict[str, DemoTable]) -> None:
    for t in tables.values():
        assert t.primary_key, t.name
        keys = [r[t.primary_key] for r in t.rows]
        assert None not in keys, t.name
        assert len(set(keys)) == len(keys), t.name


@pytest.mark.parametrize(("seed", "scale"), [(42, 1.0), (1, 0.01), (2, 0.3), (3, 2.0)])
def test_no_orphans_for_any_relationship(seed: int, scale: float) -> None:
    tables = {t.name: t for t in build_demo_tables(seed=seed, scale=scale)}
    checked = 0
    for t in tables.values():
        for fk in t.foreign_keys:
            parents = {r[fk.ref_column] for r in tables[fk.ref_table].rows}
            values = [r[fk.column] for r in t.rows if r[fk.column] is not None]
            orphans = [v for v in values if v not in parents]
            assert not orphans, f"{t.name}.{fk.column} -> {fk.ref_table}: {orphans[:5]}"
            checked += 1
    assert checked >= 6


def test_id_ranges_do_not_overlap(tables: dict[str, DemoTable]) -> None:
    # Otherwise an integer column would trivially "contain" another and fake an inclusion dependency.
    ranges = sorted(
        (min(r[t.primary_key] for r in t.rows), max(r[t.primary_key] for r in t.rows))
        for t in tables.values()
        if t.columns[0].type == "INT64"
    )
    for (_, high), (low, _) in pairwise(ranges):
        assert high < low


def test_identifiers_are_unique_and_synthetic(tables: dict[str, DemoTable]) -> None:
    customers = _rows(tables, "Dim_Customer")
    emails = [c["email"] for c in customers]
    assert len(set(emails)) == len(emails)
    assert all(e.split("@")[1] in {"example.com", "example.net", "example.org"} for e in emails)
    assert all(c["phone_number"].startswith("+1-") and "-555-01" in c["phone_number"] for c in customers)
    numbers = [a["account_number"] for a in _rows(tables, "Dim_Account")]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == 10 and n.isdigit() for n in numbers)
    assert all(p["product_id"].startswith("PRD-") for p in _rows(tables, "Dim_Product"))


def test_branch_manager_name_matches_an_employee(tables: dict[str, DemoTable]) -> None:
    managers = {
        (e["branch_id"], f"{e['first_name']} {e['last_name']}")
        for e in _rows(tables, "Dim_Employee")
        if e["job_title"] == "Branch Manager"
    }
    assert all((b["branch_id"], b["manager_name"]) in managers for b in _rows(tables, "Dim_Branch"))


def test_exactly_one_top_of_hierarchy(tables: dict[str, DemoTable]) -> None:
    assert [e["job_title"] for e in _rows(tables, "Dim_Employee") if e["manager_id"] is None] == [
        "Chief Executive Officer"
    ]


# --------------------------------------------------------------------- time


def test_dates_stay_inside_fixed_anchors(tables: dict[str, DemoTable]) -> None:
    for c in _rows(tables, "Dim_Customer"):
        dob, since = date.fromisoformat(c["date_of_birth"]), _ts(c["customer_since"])
        assert date(1940, 1, 1) <= dob and since.date() <= date(2024, 6, 30)
        assert since.date() >= dob.replace(year=dob.year + 18, day=min(dob.day, 28))
    for t in _rows(tables, "Fact_Transaction"):
        assert datetime.fromisoformat("2023-01-01 00:00:00+00:00") <= _ts(t["transaction_ts"])
        assert _ts(t["transaction_ts"]).date() <= date(2024, 12, 31)


def test_booking_date_follows_transaction_time(tables: dict[str, DemoTable]) -> None:
    lags = Counter(
        (date.fromisoformat(t["booking_date"]) - _ts(t["transaction_ts"]).date()).days
        for t in _rows(tables, "Fact_Transaction")
    )
    assert set(lags) <= {0, 1}
    assert lags[0] > lags[1] > 0


@pytest.mark.parametrize(
    ("table", "time_column"),
    [
        ("Dim_Customer", "customer_since"),
        ("Dim_Account", "opened_at"),
        ("Fact_Transaction", "transaction_ts"),
    ],
)
def test_ids_increase_with_time(tables: dict[str, DemoTable], table: str, time_column: str) -> None:
    key = str(tables[table].primary_key)
    ordered = sorted(_rows(tables, table), key=lambda r: r[key])
    stamps = [_ts(r[time_column]) for r in ordered]
    assert stamps == sorted(stamps)


def test_children_come_after_their_parents(tables: dict[str, DemoTable]) -> None:
    customers = {c["customer_id"]: _ts(c["customer_since"]).replace(tzinfo=None) for c in _rows(tables, "Dim_Customer")}
    launched = {p["product_id"]: date.fromisoformat(p["launched_on"]) for p in _rows(tables, "Dim_Product")}
    opened: dict[int, datetime] = {}
    for a in _rows(tables, "Dim_Account"):
        opened_at = datetime.fromisoformat(a["opened_at"])
        assert opened_at >= customers[a["customer_id"]]
        assert opened_at.date() >= launched[a["product_id"]]
        opened[a["account_id"]] = opened_at
    for t in _rows(tables, "Fact_Transaction"):
        assert _ts(t["transaction_ts"]).replace(tzinfo=None) > opened[t["account_id"]]
    for card in _rows(tables, "Dim_Card"):
        issued = date.fromisoformat(card["issued_on"])
        assert issued > opened[card["account_id"]].date()
        assert date.fromisoformat(card["expires_on"]) > issued


# ------------------------------------------------------------ distributions


def test_null_rates_are_roughly_as_designed(tables: dict[str, DemoTable]) -> None:
    assert 0.02 <= _null_rate(_rows(tables, "Dim_Customer"), "credit_score") <= 0.09
    assert 0.01 <= _null_rate(_rows(tables, "Dim_Customer"), "preferences") <= 0.08
    assert 0.14 <= _null_rate(_rows(tables, "Fact_Transaction"), "merchant_name") <= 0.28
    assert 0.06 <= _null_rate(_rows(tables, "Fact_Transaction"), "description") <= 0.14
    assert 0.02 <= _null_rate(_rows(tables, "Dim_Account"), "branch_id") <= 0.10
    assert 0.5 <= _null_rate(_rows(tables, "Dim_Account"), "overdraft_limit") <= 0.9


def test_overdraft_only_on_checking(tables: dict[str, DemoTable]) -> None:
    types = {p["product_id"]: p["product_type"] for p in _rows(tables, "Dim_Product")}
    for a in _rows(tables, "Dim_Account"):
        if a["overdraft_limit"] is not None:
            assert types[a["product_id"]] == "Checking"


def test_categoricals_are_skewed(tables: dict[str, DemoTable]) -> None:
    customers = _rows(tables, "Dim_Customer")
    assert 0.6 <= _share(customers, "segment", "Retail") <= 0.8
    assert _share(customers, "segment", "Private") <= 0.05
    top3 = sum(n for _, n in Counter(c["state"] for c in customers).most_common(3)) / len(customers)
    assert top3 >= 0.45
    assert 0.78 <= _share(_rows(tables, "Dim_Account"), "status", "Open") <= 0.92
    txns = _rows(tables, "Fact_Transaction")
    assert 0.86 <= _share(txns, "currency", "USD") <= 0.94
    assert Counter(t["channel"] for t in txns).most_common(1)[0][0] == "POS"
    assert 0.002 <= _share(txns, "is_flagged", True) <= 0.04


def test_transaction_fan_out_is_skewed(tables: dict[str, DemoTable]) -> None:
    per_account = Counter(t["account_id"] for t in _rows(tables, "Fact_Transaction"))
    assert max(per_account.values()) >= 5 * statistics.median(per_account.values())


def test_amounts_are_signed_and_skewed(tables: dict[str, DemoTable]) -> None:
    amounts = [Decimal(t["amount"]) for t in _rows(tables, "Fact_Transaction")]
    assert all(a != 0 and a == a.quantize(Decimal("0.01")) for a in amounts)
    debits = [a for a in amounts if a < 0]
    assert len(debits) / len(amounts) >= 0.7
    magnitudes = [abs(a) for a in amounts]
    assert statistics.mean(magnitudes) > Decimal("1.5") * statistics.median(magnitudes)


def test_repeated_and_record_values_are_well_formed(tables: dict[str, DemoTable]) -> None:
    tag_counts = Counter(len(c["tags"]) for c in _rows(tables, "Dim_Customer"))
    assert set(tag_counts) <= {0, 1, 2, 3} and tag_counts[0] > 0 and tag_counts[3] > 0
    for b in _rows(tables, "Dim_Branch"):
        assert 24 <= b["location"]["latitude"] <= 49 and -125 <= b["location"]["longitude"] <= -70
