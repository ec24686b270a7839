"""Relationship discovery: declared keys, inference from names + types + values, ordering."""

from __future__ import annotations

import random
from typing import Any

from bqsynth.models import (
    ColumnSchema,
    ForeignKey,
    Relationship,
    TableProfile,
    leaf_schemas,
)
from bqsynth.planning.relationships import (
    RelationshipReport,
    candidate_key,
    discover_relationships,
    generation_order,
    infer_relationships,
    order_tables,
)
from demo import warehouse
from tests.factories import column_stats, demo_profiles

# --- factories --------------------------------------------------------------------------------


def table(
    name: str,
    columns: dict[str, str],
    rows: list[dict[str, Any]],
    *,
    primary_key: list[str] | None = None,
    foreign_keys: list[ForeignKey] | None = None,
    sample_rows: int = 200,
    stats: bool = True,
    dataset: str = "proj.ds",
) -> TableProfile:
    """A profile as the profile step would write it: schema, keys, statistics and a bounded sample."""
    schema = [ColumnSchema(name=n, type=t) for n, t in columns.items()]
    return TableProfile(
        table_id=f"{dataset}.{name}",
        name=name,
        row_count=len(rows),
        columns=schema,
        primary_key=primary_key or [],
        foreign_keys=foreign_keys or [],
        stats={p: column_stats(p, c.type, rows) for p, c in leaf_schemas(schema).items()} if stats else {},
        sample=rows[:sample_rows],
    )


def fk(column: str, parent: str, parent_column: str, dataset: str = "proj.ds") -> ForeignKey:
    return ForeignKey(columns=[column], referenced_table=f"{dataset}.{parent}", referenced_columns=[parent_column])


def customers(n: int = 300, base: int = 100_001, name: str = "Dim_Customer", **kwargs: Any) -> TableProfile:
    rows = [{"customer_id": base + i, "first_name": f"N{i}", "segment": ["Retail", "Premier"][i % 2]} for i in range(n)]
    return table(name, {"customer_id": "INT64", "first_name": "STRING", "segment": "STRING"}, rows, **kwargs)


def accounts(customer_ids: list[int], n: int = 450, **kwargs: Any) -> TableProfile:
    rng = random.Random(7)
    rows = [
        {
            "account_id": 70_000_001 + i,
            "customer_id": rng.choice(customer_ids),
            "balance": round(rng.uniform(0, 9000), 2),
        }
        for i in range(n)
    ]
    return table(
        "Dim_Account",
        {"account_id": "INT64", "customer_id": "INT64", "balance": "NUMERIC"},
        rows,
        primary_key=["account_id"],
        **kwargs,
    )


def transactions(account_ids: list[int], n: int = 3000) -> TableProfile:
    rng = random.Random(11)
    rows = [
        {
            "transaction_id": 900_000_001 + i,
            "account_id": rng.choice(account_ids),
            # Amounts in the same numeric range as the account keys: only names may tell them apart.
            "amount": rng.randint(70_000_001, 70_000_400),
            "currency": "USD",
        }
        for i in range(n)
    ]
    return table(
        "Fact_Transaction",
        {"transaction_id": "INT64", "account_id": "INT64", "amount": "INT64", "currency": "STRING"},
        rows,
    )


def pairs(relationships: list[Relationship]) -> set[tuple[str, str, str, str, str]]:
    return {
        (r.child_table, ",".join(r.child_columns), r.parent_table, ",".join(r.parent_columns), r.origin)
        for r in relationships
    }


# --- declared keys ----------------------------------------------------------------------------


def test_declared_foreign_key_is_kept_as_declared() -> None:
    parent = customers(primary_key=["customer_id"])
    rows = [{"order_id": i, "buyer": 100_001 + i % 300} for i in range(500)]
    child = table(
        "orders",
        {"order_id": "INT64", "buyer": "INT64"},
        rows,
        primary_key=["order_id"],
        foreign_keys=[fk("buyer", "Dim_Customer", "customer_id")],
    )
    report = discover_relationships([child, parent])
    assert isinstance(report, RelationshipReport)
    [rel] = report.relationships
    assert (rel.child_table, rel.child_columns, rel.parent_table, rel.parent_columns) == (
        "orders",
        ["buyer"],
        "Dim_Customer",
        ["customer_id"],
    )
    assert (rel.origin, rel.confidence) == ("declared", 1.0)
    assert "declared" in rel.evidence
    assert report.warnings == []


def test_declared_foreign_key_outside_the_run_is_a_warning() -> None:
    rows = [{"order_id": i, "customer_id": i % 10} for i in range(50)]
    child = table(
        "orders",
        {"order_id": "INT64", "customer_id": "INT64"},
        rows,
        primary_key=["order_id"],
        foreign_keys=[fk("customer_id", "customers", "customer_id", dataset="other.crm")],
    )
    failed = TableProfile(table_id="proj.ds.products", name="products", error="permission denied")
    rows = [{"line_id": i, "product_id": i % 5} for i in range(50)]
    lines = table(
        "lines",
        {"line_id": "INT64", "product_id": "INT64"},
        rows,
        primary_key=["line_id"],
        foreign_keys=[fk("product_id", "products", "product_id")],
    )
    report = discover_relationships([child, lines, failed])
    assert report.relationships == []
    assert len(report.warnings) == 2
    assert "other.crm.customers" in report.warnings[1] and "not in this run" in report.warnings[1]
    assert "proj.ds.products" in report.warnings[0] and "could not be profiled" in report.warnings[0]


def test_declared_reference_matches_table_ids_loosely() -> None:
    parent = customers(primary_key=["customer_id"])
    rows = [{"order_id": i, "customer_id": 100_001 + i % 300} for i in range(100)]
    child = table(
        "orders",
        {"order_id": "INT64", "customer_id": "INT64"},
        rows,
        primary_key=["order_id"],
        foreign_keys=[
            ForeignKey(
                columns=["customer_id"],
                referenced_table="`PROJ:ds.Dim_Customer`",
                referenced_columns=["customer_id"],
            )
        ],
    )
    assert pairs(infer_relationships([child, parent])) == {
        ("orders", "customer_id", "Dim_Customer", "customer_id", "declared")
    }


# --- inferred keys ----------------------------------------------------------------------------


def test_undeclared_account_id_in_a_fact_table_is_found_with_evidence() -> None:
    cust = customers(primary_key=["customer_id"])
    acct = accounts([100_001 + i for i in range(300)], foreign_keys=[fk("customer_id", "Dim_Customer", "customer_id")])
    fact = transactions([70_000_001 + i for i in range(450)])
    report = discover_relationships([fact, acct, cust])
    assert pairs(report.relationships) == {
        ("Dim_Account", "customer_id", "Dim_Customer", "customer_id", "declared"),
        ("Fact_Transaction", "account_id", "Dim_Account", "account_id", "inferred"),
    }
    inferred = next(r for r in report.relationships if r.origin == "inferred")
    assert inferred.confidence >= 0.9
    assert "same name" in inferred.evidence and "within parent range" in inferred.evidence
    assert "sampled child values" in inferred.evidence
    # The amount column overlaps the key range but has no name evidence: never related.
    assert not any(r.child_columns == ["amount"] for r in report.relationships)


def test_abbreviated_column_is_related_by_values_and_partial_name() -> None:
    parent = customers(primary_key=["customer_id"])
    rng = random.Random(3)
    rows = [
        {"loan_id": i, "cust_no": rng.randint(100_001, 100_300), "principal": rng.randint(1000, 50_000)}
        for i in range(800)
    ]
    loans = table(
        "loans", {"loan_id": "INT64", "cust_no": "INT64", "principal": "INT64"}, rows, primary_key=["loan_id"]
    )
    [rel] = infer_relationships([loans, parent])
    assert (rel.child_table, rel.child_columns, rel.parent_table, rel.parent_columns, rel.origin) == (
        "loans",
        ["cust_no"],
        "Dim_Customer",
        ["customer_id"],
        "inferred",
    )
    assert "'cust' abbreviates 'customer'" in rel.evidence
    assert 0.5 <= rel.confidence < 0.9


def test_abbreviation_without_value_evidence_is_not_enough() -> None:
    parent = customers(primary_key=["customer_id"], stats=False, sample_rows=0)
    rows = [{"loan_id": i, "cust_no": 100_001 + i % 300} for i in range(800)]
    loans = table(
        "loans",
        {"loan_id": "INT64", "cust_no": "INT64"},
        rows,
        primary_key=["loan_id"],
        stats=False,
        sample_rows=0,
    )
    assert infer_relationships([loans, parent]) == []


def test_customer_key_matches_the_dimension_entity() -> None:
    parent = customers(primary_key=["customer_id"])
    rows = [{"sale_id": i, "customer_key": 100_001 + (i * 7) % 300} for i in range(600)]
    sales = table("fct_sales", {"sale_id": "INT64", "customer_key": "INT64"}, rows, primary_key=["sale_id"])
    assert pairs(infer_relationships([sales, parent])) == {
        ("fct_sales", "customer_key", "Dim_Customer", "customer_id", "inferred")
    }


def test_generic_id_keys_are_referenced_by_entity_name() -> None:
    users = table(
        "users",
        {"id": "INT64", "email": "STRING"},
        [{"id": i, "email": f"u{i}@example.com"} for i in range(1, 101)],
    )
    posts = table(
        "posts",
        {"id": "INT64", "user_id": "INT64"},
        [{"id": i, "user_id": 1 + (i * 13) % 100} for i in range(1, 401)],
    )
    assert candidate_key(users) == ("id", False)
    assert pairs(infer_relationships([users, posts])) == {("posts", "user_id", "users", "id", "inferred")}


def test_self_reference_is_supported() -> None:
    rows = [
        {"employee_id": 5001 + i, "manager_id": None if i == 0 else 5001 + (i - 1) // 3, "salary": 1000 * i}
        for i in range(120)
    ]
    employees = table(
        "Dim_Employee",
        {"employee_id": "INT64", "manager_id": "INT64", "salary": "INT64"},
        rows,
        primary_key=["employee_id"],
    )
    [rel] = infer_relationships([employees])
    assert (rel.child_table, rel.child_columns, rel.parent_table, rel.parent_columns) == (
        "Dim_Employee",
        ["manager_id"],
        "Dim_Employee",
        ["employee_id"],
    )
    assert "self-reference" in rel.evidence


def test_a_tables_own_key_is_never_related_to_itself_or_to_its_children() -> None:
    cust = customers(primary_key=["customer_id"])
    acct = accounts([100_001 + i for i in range(300)])
    found = infer_relationships([cust, acct])
    assert pairs(found) == {("Dim_Account", "customer_id", "Dim_Customer", "customer_id", "inferred")}


def test_type_mismatch_is_rejected() -> None:
    parent = customers(primary_key=["customer_id"])
    rows = [{"order_id": i, "customer_id": str(100_001 + i % 300)} for i in range(500)]
    orders = table("orders", {"order_id": "INT64", "customer_id": "STRING"}, rows, primary_key=["order_id"])
    assert infer_relationships([orders, parent]) == []
    decimals = [{"order_id": i, "customer_id": 100_001.5 + i % 300} for i in range(500)]
    floats = table("orders", {"order_id": "INT64", "customer_id": "FLOAT64"}, decimals, primary_key=["order_id"])
    assert infer_relationships([floats, parent]) == []


def test_values_outside_the_parent_are_rejected() -> None:
    parent = customers(primary_key=["customer_id"])
    beyond = [{"order_id": i, "customer_id": 100_001 + i} for i in range(500)]  # up to 100_500 > 100_300
    orders = table("orders", {"order_id": "INT64", "customer_id": "INT64"}, beyond, primary_key=["order_id"])
    assert infer_relationships([orders, parent]) == []
    # In range, but the (fully sampled) parent has only even keys: most child values are orphans.
    evens = table(
        "Dim_Customer",
        {"customer_id": "INT64"},
        [{"customer_id": 2 * i} for i in range(150)],
        primary_key=["customer_id"],
    )
    odds = table(
        "orders",
        {"order_id": "INT64", "customer_id": "INT64"},
        [{"order_id": i, "customer_id": 1 + 2 * (i % 140)} for i in range(300)],
        primary_key=["order_id"],
    )
    assert infer_relationships([odds, evens]) == []


def test_string_keys_must_share_a_shape() -> None:
    products = table(
        "Dim_Product",
        {"product_id": "STRING", "product_name": "STRING"},
        [{"product_id": f"PRD-{i:04d}", "product_name": f"P{i}"} for i in range(1, 61)],
        primary_key=["product_id"],
    )
    lines = table(
        "order_lines",
        {"line_id": "INT64", "product_id": "STRING"},
        [{"line_id": i, "product_id": f"PRD-{1 + i % 60:04d}"} for i in range(400)],
        primary_key=["line_id"],
    )
    assert pairs(infer_relationships([products, lines])) == {
        ("order_lines", "product_id", "Dim_Product", "product_id", "inferred")
    }
    # A three-row child sample cannot tell a constant prefix from varying letters (???-####): still compatible.
    few = table(
        "order_lines",
        {"line_id": "INT64", "product_id": "STRING"},
        [{"line_id": i, "product_id": f"PRD-{1 + i % 60:04d}"} for i in range(400)],
        primary_key=["line_id"],
        sample_rows=3,
    )
    assert len(infer_relationships([products, few])) == 1
    skus = table(
        "order_lines",
        {"line_id": "INT64", "product_id": "STRING"},
        [{"line_id": i, "product_id": f"SKU-{1 + i % 60:04d}"} for i in range(400)],
        primary_key=["line_id"],
    )
    assert infer_relationships([products, skus]) == []


def test_a_column_gets_at_most_one_parent() -> None:
    current = customers(primary_key=["customer_id"])
    archive = customers(name="customers_archive", primary_key=["customer_id"])
    acct = accounts([100_001 + i for i in range(300)])
    found = [r for r in infer_relationships([acct, current, archive]) if r.child_table == "Dim_Account"]
    assert len(found) == 1
    # Equal evidence: the alphabetically first parent wins, whatever the input order.
    assert found[0].parent_table == "Dim_Customer"
    assert infer_relationships([archive, acct, current]) == infer_relationships([acct, current, archive])


def test_errored_profiles_take_no_part() -> None:
    cust = customers(primary_key=["customer_id"]).model_copy(update={"error": "boom"})
    acct = accounts([100_001 + i for i in range(300)])
    assert infer_relationships([cust, acct]) == []


def test_nested_child_columns_can_reference_a_parent() -> None:
    products = table(
        "products",
        {"product_id": "INT64"},
        [{"product_id": i} for i in range(1, 51)],
        primary_key=["product_id"],
    )
    schema = [
        ColumnSchema(name="order_id", type="INT64"),
        ColumnSchema(
            name="items",
            type="RECORD",
            mode="REPEATED",
            fields=[ColumnSchema(name="product_id", type="INT64"), ColumnSchema(name="qty", type="INT64")],
        ),
    ]
    rows = [
        {"order_id": i, "items": [{"product_id": 1 + (i + k) % 50, "qty": k + 1} for k in range(3)]} for i in range(100)
    ]
    orders = TableProfile(
        table_id="proj.ds.orders",
        name="orders",
        row_count=100,
        columns=schema,
        primary_key=["order_id"],
        stats={p: column_stats(p, c.type, rows) for p, c in leaf_schemas(schema).items()},
        sample=rows,
    )
    assert pairs(infer_relationships([orders, products])) == {
        ("orders", "items.product_id", "products", "product_id", "inferred")
    }


def test_output_is_sorted_and_deterministic() -> None:
    cust = customers(primary_key=["customer_id"])
    acct = accounts([100_001 + i for i in range(300)])
    fact = transactions([70_000_001 + i for i in range(450)])
    first = discover_relationships([fact, cust, acct])
    assert first == discover_relationships([acct, fact, cust])
    keys = [(r.child_table, r.child_columns, r.parent_table, r.parent_columns) for r in first.relationships]
    assert keys == sorted(keys)


def test_demo_warehouse_ground_truth_is_recovered() -> None:
    """Every real reference of the demo warehouse, declared or not, and nothing else."""
    truth = {
        (t.name, f.column, f.ref_table, f.ref_column, "declared" if f.declared else "inferred")
        for t in warehouse.build_demo_tables(seed=42, scale=1.0)
        for f in t.foreign_keys
    }
    assert pairs(infer_relationships(demo_profiles())) == truth


# --- ordering ---------------------------------------------------------------------------------


def rel(child: str, parent: str) -> Relationship:
    return Relationship(
        child_table=child, child_columns=["x"], parent_table=parent, parent_columns=["id"], origin="inferred"
    )


def test_generation_order_puts_parents_first() -> None:
    relationships = [
        rel("Fact_Transaction", "Dim_Account"),
        rel("Dim_Account", "Dim_Customer"),
        rel("Dim_Account", "Dim_Branch"),
        rel("Dim_Employee", "Dim_Employee"),
    ]
    names = ["Fact_Transaction", "Dim_Employee", "Dim_Account", "Dim_Customer", "Dim_Branch"]
    assert generation_order(names, relationships) == [
        "Dim_Branch",
        "Dim_Customer",
        "Dim_Account",
        "Dim_Employee",
        "Fact_Transaction",
    ]
    profiles = [TableProfile(table_id=f"p.d.{n}", name=n) for n in names]
    assert generation_order(profiles, relationships) == generation_order(sorted(names), relationships)
    # The load step's waves group the same order: each table after its parents' wave.
    assert order_tables(names, relationships).waves == [
        ["Dim_Branch", "Dim_Customer", "Dim_Employee"],
        ["Dim_Account"],
        ["Fact_Transaction"],
    ]


def test_cycles_are_broken_deterministically_with_a_note() -> None:
    relationships = [rel("a", "b"), rel("b", "c"), rel("c", "a"), rel("d", "c"), rel("a", "outside")]
    result = order_tables(["d", "c", "b", "a"], relationships)
    # a -> b -> c -> a: a goes first, then everything that only waited for it.
    assert result.order == ["a", "c", "b", "d"]
    assert result.notes == ["cycle: a placed before its parent(s) b"]
    assert order_tables(["a", "b", "c", "d"], list(reversed(relationships))) == result


def test_natural_keys_are_candidate_keys_and_referenced_by_name() -> None:
    rng = random.Random(3)
    skus = [f"SKU-{n:05d}" for n in rng.sample(range(10000, 99999), 60)]
    products = table(
        "products",
        {"sku": "STRING", "title": "STRING"},
        [{"sku": s, "title": f"thing {i}"} for i, s in enumerate(skus)],
    )
    lines = table(
        "order_lines",
        {"line_id": "INT64", "sku": "STRING"},
        [{"line_id": i, "sku": rng.choice(skus)} for i in range(400)],
    )
    assert candidate_key(products) == ("sku", False)
    assert ("order_lines", "sku", "products", "sku", "inferred") in pairs(infer_relationships([products, lines]))
