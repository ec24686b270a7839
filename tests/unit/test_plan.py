"""The offline planner on the demo warehouse's profiles (no BigQuery needed)."""

import pytest
import yaml

from bqsynth.generation.recipe import with_recipes
from bqsynth.models import (
    Categorical,
    ColumnSchema,
    FakerValue,
    ForeignKeyRef,
    NumberFromQuantiles,
    PatternString,
    RecordValue,
    SequenceKey,
    TableProfile,
    TemporalFromQuantiles,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import demo_profiles


def options(**overrides: object) -> PlanOptions:
    return PlanOptions(target_project="tp", target_dataset="td", **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def profiles() -> list[TableProfile]:
    return demo_profiles()


def column(plan, table: str, name: str):  # noqa: ANN001, ANN201 - test helper
    return next(c for c in plan.table(table).columns if c.name == name)


def test_every_demo_table_is_planned_with_a_recipe(profiles: list[TableProfile]) -> None:
    plan = with_recipes(plan_dataset(profiles, options()))
    assert not plan.failures
    assert sorted(t.name for t in plan.tables) == sorted(p.name for p in profiles)
    for table in plan.tables:
        document = yaml.safe_load(table.recipe)
        assert document[-1]["object"] == table.name
        assert table.target_table == f"tp.td.{table.name}"
        assert table.schema_ == next(p.columns for p in profiles if p.name == table.name)


def test_keys_are_derived_and_foreign_keys_point_at_the_parents_key(profiles: list[TableProfile]) -> None:
    plan = plan_dataset(profiles, options(record_counts={"Dim_Customer": 1234}, scale=2.0))
    assert plan.table("Dim_Customer").row_count == 1234
    assert plan.table("Dim_Account").row_count == 900  # 450 source rows x 2
    customer_key = column(plan, "Dim_Customer", "customer_id").generator
    assert isinstance(customer_key, SequenceKey) and not customer_key.as_string
    product_key = column(plan, "Dim_Product", "product_id").generator
    assert isinstance(product_key, SequenceKey) and product_key.prefix == "PRD-" and product_key.as_string
    fk = column(plan, "Dim_Account", "customer_id").generator
    assert isinstance(fk, ForeignKeyRef)
    assert (fk.parent_table, fk.parent_rows, fk.parent_key) == ("Dim_Customer", 1234, customer_key)
    # Undeclared keys: found by inference, planned the same way.
    assert isinstance(column(plan, "Fact_Transaction", "account_id").generator, ForeignKeyRef)
    assert isinstance(column(plan, "Fact_Transaction", "transaction_id").generator, SequenceKey)
    assert plan.table("Fact_Transaction").primary_key == ["transaction_id"]
    manager = column(plan, "Dim_Employee", "manager_id").generator
    assert isinstance(manager, ForeignKeyRef) and manager.parent_table == "Dim_Employee"
    declared = {(r.child_table, r.child_columns[0]) for r in plan.relationships if r.origin == "declared"}
    assert ("Dim_Account", "customer_id") in declared


def test_identifying_columns_are_faked_and_categoricals_keep_frequencies(profiles: list[TableProfile]) -> None:
    plan = plan_dataset(profiles, options())
    for name in ("first_name", "last_name", "email", "street_address"):
        planned = column(plan, "Dim_Customer", name)
        assert planned.identifying and isinstance(planned.generator, FakerValue), name
    phone = column(plan, "Dim_Customer", "phone_number")  # one shape in the source: kept exactly
    assert phone.identifying and phone.generator == PatternString(pattern="+#-###-###-####", unique=True)
    assert column(plan, "Dim_Customer", "email").generator.unique  # type: ignore[union-attr]
    segment = column(plan, "Dim_Customer", "segment").generator
    assert isinstance(segment, Categorical) and segment.values[0] == "Retail"
    assert segment.weights == sorted(segment.weights, reverse=True)
    assert isinstance(column(plan, "Fact_Transaction", "amount").generator, NumberFromQuantiles)
    assert isinstance(column(plan, "Fact_Transaction", "transaction_ts").generator, TemporalFromQuantiles)
    assert column(plan, "Dim_Customer", "credit_score").null_rate == pytest.approx(0.05, abs=0.03)
    assert isinstance(column(plan, "Dim_Branch", "location").generator, RecordValue)
    assert column(plan, "Dim_Customer", "tags").generator.kind == "array"


def test_rare_categories_are_never_emitted(profiles: list[TableProfile]) -> None:
    strict = plan_dataset(profiles, options(min_category_count=50))
    segment = column(strict, "Dim_Customer", "segment").generator
    stats = next(p for p in profiles if p.name == "Dim_Customer").stats["segment"]
    rare = {v.value for v in stats.top_values if v.count < 50}
    assert rare and isinstance(segment, Categorical) and not rare & set(segment.values)


def test_failed_profiles_and_their_children_are_reported_not_planned(profiles: list[TableProfile]) -> None:
    broken = [
        p if p.name != "Dim_Customer" else TableProfile(table_id=p.table_id, name=p.name, error="gone")
        for p in profiles
    ]
    plan = plan_dataset(broken, options())
    failed = {f.table: f.error for f in plan.failures}
    assert failed["Dim_Customer"] == "gone"
    assert "Dim_Customer" in failed["Dim_Account"]  # its declared parent could not be read
    assert "Dim_Account" in failed["Dim_Card"] and "Dim_Account" in failed["Fact_Transaction"]
    assert {"Dim_Branch", "Dim_Product", "Dim_Employee"} <= {t.name for t in plan.tables}


def test_a_required_column_that_cannot_be_generated_fails_its_table_by_name() -> None:
    profile = TableProfile(
        table_id="p.d.Blob",
        name="Blob",
        row_count=3,
        columns=[ColumnSchema(name="payload", type="BYTES", mode="REQUIRED")],
    )
    plan = plan_dataset([profile], options())
    assert not plan.tables
    assert "payload" in plan.failures[0].error and "Blob" in plan.failures[0].error


def test_a_composite_key_stays_unique_through_its_non_reference_column() -> None:
    from bqsynth.models import ForeignKey, leaf_schemas
    from tests.factories import column_stats

    def profile(name: str, columns: dict[str, str], rows: list[dict], **keys: object) -> TableProfile:
        schema = [ColumnSchema(name=n, type=t) for n, t in columns.items()]
        stats = {p: column_stats(p, c.type, rows) for p, c in leaf_schemas(schema).items()}
        return TableProfile(
            table_id=f"p.d.{name}", name=name, row_count=len(rows), columns=schema, stats=stats, sample=rows, **keys
        )  # type: ignore[arg-type]

    orders = profile(
        "orders",
        {"order_id": "INT64", "placed_on": "DATE"},
        [{"order_id": i, "placed_on": f"2024-01-{1 + i % 28:02d}"} for i in range(1, 101)],
        primary_key=["order_id"],
    )
    items = profile(
        "order_items",
        {"order_id": "INT64", "line_no": "INT64", "qty": "INT64"},
        [{"order_id": 1 + i // 3, "line_no": 1 + i % 3, "qty": i % 5} for i in range(300)],
        primary_key=["order_id", "line_no"],
        foreign_keys=[ForeignKey(columns=["order_id"], referenced_table="p.d.orders", referenced_columns=["order_id"])],
    )
    plan = plan_dataset([orders, items], options())
    assert isinstance(column(plan, "order_items", "order_id").generator, ForeignKeyRef)
    assert isinstance(column(plan, "order_items", "line_no").generator, SequenceKey)
    assert plan.table("order_items").primary_key == ["order_id", "line_no"]
