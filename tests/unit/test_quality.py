"""Fidelity, privacy and validity of synthetic samples (bqsynth.evaluation.metrics), without BigQuery."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bqsynth.evaluation import metrics
from bqsynth.models import (
    BooleanValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    FakerValue,
    ForeignKeyRef,
    NumberFromQuantiles,
    PatternString,
    RecordValue,
    SequenceKey,
    TablePlan,
    TemporalFromQuantiles,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from demo import warehouse
from tests.factories import demo_profiles

SEGMENTS = ["retail", "business", "private"]
STATES = ["CA", "NY", "TX", "WA"]


def customer_plan() -> TablePlan:
    """A small hand-made plan with one column of every kind quality treats differently."""
    columns = [
        ColumnPlan(name="id", type="INT64", mode="REQUIRED", semantic_type="key", generator=SequenceKey()),
        ColumnPlan(
            name="branch_id",
            type="INT64",
            semantic_type="key",
            generator=ForeignKeyRef(
                parent_table="branch", parent_column="id", parent_rows=10, parent_key=SequenceKey()
            ),
        ),
        ColumnPlan(
            name="email", type="STRING", semantic_type="email", identifying=True, generator=FakerValue(provider="email")
        ),
        ColumnPlan(
            name="phone",
            type="STRING",
            semantic_type="phone_number",
            identifying=True,
            generator=PatternString(pattern="###-###-####"),
        ),
        ColumnPlan(
            name="postal_code",
            type="STRING",
            semantic_type="address.postal_code",
            identifying=True,
            generator=FakerValue(provider="postcode"),
        ),
        ColumnPlan(
            name="segment",
            type="STRING",
            semantic_type="categorical",
            generator=Categorical(values=SEGMENTS, weights=[5, 3, 2]),
        ),
        ColumnPlan(name="age", type="INT64", semantic_type="number", generator=NumberFromQuantiles(quantiles=[18, 90])),
        ColumnPlan(
            name="balance", type="NUMERIC", semantic_type="amount", generator=NumberFromQuantiles(quantiles=[0, 1e5])
        ),
        ColumnPlan(
            name="signup",
            type="DATE",
            semantic_type="date",
            generator=TemporalFromQuantiles(type="DATE", quantiles=["2020-01-01", "2023-12-31"]),
        ),
        ColumnPlan(name="active", type="BOOL", semantic_type="boolean", generator=BooleanValue(p_true=0.7)),
        ColumnPlan(
            name="address",
            type="RECORD",
            semantic_type="record",
            generator=RecordValue(
                fields=[
                    ColumnPlan(
                        name="city",
                        type="STRING",
                        semantic_type="address.city",
                        identifying=True,
                        generator=FakerValue(provider="city"),
                    ),
                    ColumnPlan(
                        name="state",
                        type="STRING",
                        semantic_type="address.state",
                        generator=FakerValue(provider="state_abbr"),
                    ),
                ]
            ),
        ),
    ]
    schema = [
        ColumnSchema(
            name=c.name,
            type=c.type,
            mode=c.mode,
            fields=[ColumnSchema(name=f.name, type=f.type) for f in getattr(c.generator, "fields", [])],
        )
        for c in columns
    ]
    return TablePlan(
        name="customer",
        source_table="p.d.customer",
        target_table="t.d.customer",
        row_count=600,
        columns=columns,
        schema=schema,
        primary_key=["id"],
    )


def customer_frame(seed: int, rows: int = 600, id_start: int = 1) -> pd.DataFrame:
    """Rows as BigQuery gives them, flattened: age and balance correlate, segment follows balance."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows)
    balance = np.round(age * 900 + rng.normal(0, 4000, rows), 2)
    segment = np.where(balance > 50_000, "business", np.where(rng.random(rows) < 0.25, "private", "retail"))
    signup = [date(2020, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 1400, rows)]
    return pd.DataFrame(
        {
            "id": np.arange(id_start, id_start + rows),
            "branch_id": rng.integers(1, 11, rows),
            "email": [f"user{seed}_{i}@example.com" for i in range(rows)],
            "phone": [f"{rng.integers(200, 999)}-555-{rng.integers(0, 9999):04d}" for _ in range(rows)],
            "postal_code": [f"{rng.integers(10000, 99999)}" for _ in range(rows)],
            "segment": segment,
            "age": age,
            "balance": balance,
            "signup": [d.isoformat() for d in signup],
            "active": rng.random(rows) < 0.7,
            "address.city": [f"City{seed}-{i}" for i in range(rows)],
            "address.state": rng.choice(STATES, rows),
        }
    )


@pytest.fixture(scope="module")
def plan() -> TablePlan:
    return customer_plan()


@pytest.fixture(scope="module")
def source() -> pd.DataFrame:
    return customer_frame(seed=1)


def privacy(source: pd.DataFrame, synthetic: pd.DataFrame, plan: TablePlan, **overrides: Any):  # noqa: ANN201
    arguments: dict[str, Any] = dict(
        leaked_values=0, identifying_columns=[], source_value_counts={}, min_category_count=5, seed=3
    )
    arguments.update(overrides)
    return metrics.privacy_scores(source, synthetic, plan, **arguments)


# --- metadata --------------------------------------------------------------------------------


def test_metadata_maps_generators_to_sdtypes(plan: TablePlan) -> None:
    columns = metrics.sdmetrics_metadata(plan)["columns"]
    assert columns["id"] == {"sdtype": "id"} and columns["branch_id"] == {"sdtype": "id"}
    assert columns["email"] == {"sdtype": "pii", "pii": True}
    assert columns["address.city"] == {"sdtype": "pii", "pii": True}
    assert columns["phone"] == {"sdtype": "id"}  # a pattern: its shape is checked by validity
    assert columns["segment"] == {"sdtype": "categorical"}
    assert columns["address.state"] == {"sdtype": "categorical"}  # non-identifying faker vocabulary
    assert columns["age"] == {"sdtype": "numerical"}
    assert columns["signup"] == {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
    assert columns["active"] == {"sdtype": "boolean"}
    assert metrics.sdmetrics_metadata(plan)["primary_key"] == "id"


# --- fidelity --------------------------------------------------------------------------------


def test_identical_samples_score_close_to_one(plan: TablePlan, source: pd.DataFrame) -> None:
    fidelity = metrics.fidelity_scores(source, source.copy(), plan)
    assert fidelity.quality_score is not None and fidelity.quality_score > 0.99
    assert fidelity.column_shapes is not None and fidelity.column_shapes > 0.99
    assert fidelity.column_pair_trends is not None and fidelity.column_pair_trends > 0.99
    assert (fidelity.source_rows, fidelity.synthetic_rows) == (600, 600)


def test_an_independent_draw_of_the_same_distribution_scores_high(plan: TablePlan, source: pd.DataFrame) -> None:
    fidelity = metrics.fidelity_scores(source, customer_frame(seed=2), plan)
    assert fidelity.quality_score is not None and fidelity.quality_score > 0.9


def test_shuffled_columns_keep_shapes_but_lose_pair_trends(plan: TablePlan, source: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    shuffled = source.apply(lambda column: column.to_numpy()[rng.permutation(len(column))])
    identical = metrics.fidelity_scores(source, source.copy(), plan)
    fidelity = metrics.fidelity_scores(source, shuffled, plan)
    assert fidelity.column_shapes is not None and fidelity.column_shapes > 0.99
    assert fidelity.column_pair_trends is not None and fidelity.column_pair_trends < 0.9
    assert fidelity.quality_score is not None and fidelity.quality_score < identical.quality_score - 0.05  # type: ignore[operator]


def test_garbled_output_scores_clearly_lower(plan: TablePlan, source: pd.DataFrame) -> None:
    garbled = source.copy()
    garbled["age"] = garbled["age"] * 10
    garbled["balance"] = -garbled["balance"]
    garbled["segment"] = "retail"
    garbled["signup"] = "1999-01-01"
    garbled["active"] = False
    garbled["address.state"] = "ZZ"
    fidelity = metrics.fidelity_scores(source, garbled, plan)
    assert fidelity.quality_score is not None and fidelity.quality_score < 0.6
    by_column = {c.column: c for c in fidelity.columns}
    assert by_column["age"].shape_score is not None and by_column["age"].shape_score < 0.1


def test_columns_carry_metric_validity_and_null_rates(plan: TablePlan, source: pd.DataFrame) -> None:
    synthetic = customer_frame(seed=2)
    synthetic.loc[:59, "age"] = None
    columns = {c.column: c for c in metrics.fidelity_scores(source, synthetic, plan).columns}
    assert list(columns)[:3] == ["id", "branch_id", "email"]  # schema order, every leaf column
    assert columns["age"].shape_metric == "KSComplement" and columns["signup"].shape_metric == "KSComplement"
    assert columns["segment"].shape_metric == "TVComplement" and columns["active"].shape_metric == "TVComplement"
    assert columns["address.state"].shape_metric == "TVComplement"
    for unscored in ("id", "branch_id", "email", "phone", "address.city"):
        assert columns[unscored].shape_metric is None and columns[unscored].shape_score is None
    assert (columns["age"].null_rate_source, columns["age"].null_rate_synthetic) == (0.0, 0.1)
    assert (columns["email"].validity_rule, columns["email"].validity) == ("email", 1.0)
    assert columns["phone"].validity_rule == "pattern:###-###-####"
    assert columns["signup"].validity_rule == "date"
    assert columns["email"].semantic_type == "email"


def test_bigquery_value_forms_compare_equal_to_their_text(plan: TablePlan, source: pd.DataFrame) -> None:
    """Decimal NUMERICs, date objects and 'true' strings are the same values as floats, ISO text, bools."""
    as_objects = source.copy()
    as_objects["balance"] = [Decimal(str(v)) for v in source["balance"]]
    as_objects["signup"] = [date.fromisoformat(v) for v in source["signup"]]
    as_objects["active"] = ["true" if v else "false" for v in source["active"]]
    as_objects["age"] = [str(v) for v in source["age"]]
    fidelity = metrics.fidelity_scores(source, as_objects, plan)
    assert fidelity.column_shapes is not None and fidelity.column_shapes > 0.99
    assert metrics.exact_row_copies(source, as_objects, plan) == len(source)


def test_dataframes_from_the_bigquery_client_compare_equal_to_json_rows(plan: TablePlan, source: pd.DataFrame) -> None:
    """``to_dataframe()`` gives nullable dtypes, pd.NA and tz-aware timestamps: same values."""
    typed = source.copy()
    typed["age"] = typed["age"].astype("Int64")
    typed.loc[0, "age"] = pd.NA
    typed["active"] = typed["active"].astype("boolean")
    typed.loc[1, "active"] = pd.NA
    typed["segment"] = typed["segment"].astype("string")
    typed.loc[2, "segment"] = pd.NA
    typed["signup"] = pd.to_datetime(typed["signup"]).dt.tz_localize("UTC")
    columns = {c.column: c for c in metrics.fidelity_scores(source, typed, plan).columns}
    for name in ("age", "active", "segment", "signup"):
        assert columns[name].shape_score is not None and columns[name].shape_score > 0.99, name
    assert columns["age"].null_rate_synthetic == pytest.approx(1 / 600, abs=1e-6)
    assert columns["signup"].validity == 1.0


def test_bounds_rows_and_survives_empty_or_null_columns(
    plan: TablePlan, source: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "MAX_ROWS", 100)
    fidelity = metrics.fidelity_scores(source, customer_frame(seed=2), plan)
    assert (fidelity.source_rows, fidelity.synthetic_rows) == (100, 100)

    empty = metrics.fidelity_scores(source, source.iloc[:0], plan)
    assert empty.quality_score is None and empty.synthetic_rows == 0
    nulls = customer_frame(seed=2)
    nulls["age"] = None
    age = next(c for c in metrics.fidelity_scores(source, nulls, plan).columns if c.column == "age")
    assert age.shape_score is None and age.null_rate_synthetic == 1.0


def test_pair_trends_are_bounded_to_the_first_columns(
    plan: TablePlan, source: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "MAX_PAIR_COLUMNS", 2)
    fidelity = metrics.fidelity_scores(source, customer_frame(seed=2), plan)
    scored = [c for c in fidelity.columns if c.shape_score is not None]
    assert len(scored) == 6  # every modelable column still has a shape
    assert fidelity.quality_score is not None


def test_demo_tables_planned_offline_score_themselves_as_identical() -> None:
    """Real plans (records, arrays, keys) from plan_dataset on the demo profiles."""
    plan = plan_dataset(demo_profiles(), PlanOptions(target_project="tp", target_dataset="td"))
    rows = {spec.name: spec.rows for spec in warehouse.build_demo_tables(seed=42)}
    for name in ("Dim_Customer", "Fact_Transaction"):
        frame = pd.json_normalize(rows[name])
        fidelity = metrics.fidelity_scores(frame, frame.copy(), plan.table(name))
        assert fidelity.quality_score is not None and fidelity.quality_score > 0.99, name
        paths = {c.column: c for c in fidelity.columns}
        assert "tags" not in paths  # REPEATED: left out
        assert all(c.validity in (None, 1.0) for c in fidelity.columns), name
    assert paths["transaction_ts"].shape_metric == "KSComplement"
    assert paths["merchant_name"].shape_metric is None  # identifying faker: not shape-scored


def test_cardinality_score_compares_children_per_parent() -> None:
    parents = pd.Series(range(1, 51))
    rng = np.random.default_rng(0)
    even = pd.Series(np.repeat(np.arange(1, 51), 4))
    similar = pd.Series(rng.permutation(np.repeat(np.arange(1, 51), 4)))
    skewed = pd.Series([1] * 150 + list(range(2, 52))[:50])
    assert metrics.cardinality_score(parents, even, parents, similar) == 1.0
    low = metrics.cardinality_score(parents, even, parents, skewed)
    assert low is not None and low < 0.2
    # An INT64 key and its text still join.
    assert metrics.cardinality_score(parents, even, parents.astype(str), even.astype(str)) == 1.0
    assert metrics.cardinality_score(pd.Series([], dtype=object), even, parents, even) is None


# --- privacy ---------------------------------------------------------------------------------


def test_a_copied_email_leaks_without_hurting_validity(plan: TablePlan, source: pd.DataFrame) -> None:
    synthetic = customer_frame(seed=2)
    synthetic.loc[7, "email"] = source.loc[3, "email"]
    assert metrics.leaked_values(source["email"], synthetic["email"]) == 1
    assert metrics.leaked_values(source["email"], customer_frame(seed=2)["email"]) == 0
    validity = metrics.column_validity(plan, source, synthetic)
    assert validity["email"] == ("email", 1.0)
    result = privacy(source, synthetic, plan, leaked_values=1, identifying_columns=["email", "phone"])
    assert result.identifying_values_leaked == 1 and result.identifying_columns_checked == ["email", "phone"]


def test_leaked_values_counts_distinct_values_as_text() -> None:
    assert metrics.leaked_values(["a", "b", 5, None], ["a", "a", "5", None, "c"]) == 2


def test_a_copied_source_row_is_an_exact_copy(plan: TablePlan, source: pd.DataFrame) -> None:
    synthetic = customer_frame(seed=2, id_start=10_000)
    assert privacy(source, synthetic, plan).exact_row_copies == 0
    copied = source.iloc[[5, 9]].copy()
    copied["id"] = [99_998, 99_999]  # keys are regenerated: a copy differs there
    copied["branch_id"] = 1
    with_copies = pd.concat([synthetic, copied], ignore_index=True)
    assert privacy(source, with_copies, plan).exact_row_copies == 2


def test_rows_of_a_vocabulary_only_table_are_not_copies() -> None:
    plan = customer_plan()
    plan = plan.model_copy(update={"columns": [c for c in plan.columns if c.name in ("id", "segment", "active")]})
    frame = pd.DataFrame({"id": [1, 2], "segment": ["retail", "business"], "active": [True, False]})
    assert metrics.exact_row_copies(frame, frame, plan) == 0


def test_rare_categories_are_counted(plan: TablePlan, source: pd.DataFrame) -> None:
    counts = {
        "segment": {"retail": 300, "business": 200, "private": 3},
        "address.state": {"CA": 100, "NY": 100, "TX": 100, "WA": 2},
    }
    synthetic = customer_frame(seed=2)
    # private (3 < 5) is rare; WA (2 < 5) was copied by the faker column: rare too.
    assert privacy(source, synthetic, plan, source_value_counts=counts).rare_categories_emitted == 2
    synthetic["segment"] = np.where(synthetic["segment"] == "private", "retail", synthetic["segment"])
    synthetic.loc[0, "segment"] = "never-seen"  # a categorical generator emits only source values
    synthetic.loc[0, "address.state"] = "OR"  # a faker column rightly emits values the source lacks
    synthetic["address.state"] = synthetic["address.state"].replace("WA", "CA")
    result = privacy(source, synthetic, plan, source_value_counts=counts)
    assert (result.rare_categories_emitted, result.min_category_count) == (1, 5)


def test_rare_categories_compare_numbers_by_value() -> None:
    plan = TablePlan(
        name="t",
        source_table="p.d.t",
        target_table="t.d.t",
        row_count=3,
        columns=[
            ColumnPlan(name="fee", type="NUMERIC", generator=Categorical(values=[5, 10], weights=[1, 1])),
        ],
        schema=[ColumnSchema(name="fee", type="NUMERIC")],
    )
    synthetic = pd.DataFrame({"fee": [Decimal("5.00"), "10", 10.0]})
    assert metrics.rare_categories(synthetic, plan, {"fee": {5.0: 50, "10": 2}}, 5) == 1


def test_dcr_of_copies_is_zero_and_of_new_rows_near_the_baseline(plan: TablePlan, source: pd.DataFrame) -> None:
    copies = privacy(source, source.copy(), plan)
    assert copies.dcr_median is not None and copies.dcr_p05 == 0.0
    fresh = privacy(source, customer_frame(seed=2), plan)
    assert fresh.dcr_median is not None and fresh.dcr_baseline_median is not None
    assert copies.dcr_median < fresh.dcr_median
    assert 0.5 < fresh.dcr_median / fresh.dcr_baseline_median < 2.0
    assert privacy(source, customer_frame(seed=2), plan) == fresh  # deterministic for a seed


def test_dcr_distances_scale_numbers_and_mismatch_categories() -> None:
    queries = [np.array([0.0, 0.5, np.nan]), np.array([0, 1, 0])]
    reference = [np.array([0.0, 1.0]), np.array([0, 0])]
    distances = metrics.closest_distances(queries, reference)
    # row 0 equals reference 0; row 1: min(0.5 + 1, 0.5 + 1) / 2; row 2: null vs value (1) + 0.
    assert distances.tolist() == [0.0, 0.75, 0.5]


# --- validity --------------------------------------------------------------------------------


def test_validity_rules_come_from_semantic_type_and_generator(plan: TablePlan, source: pd.DataFrame) -> None:
    assert metrics.validity_rules(plan, source) == {
        "email": "email",
        "phone": "pattern:###-###-####",
        "postal_code": "postal_code:#####",
        "signup": "date",
    }


def test_postal_rule_keeps_the_common_shapes() -> None:
    assert metrics.postal_rule(["K1A 0B1", "M5V 3L9", "H2X 1Y4", "V6B 4Y8", "T2P 2M5"]) == "postal_code:?#? #?#"
    mixed = ["12345"] * 20 + ["12345-6789"] * 5 + ["1"]  # "1" is under 5%: a typo, not a shape
    assert metrics.postal_rule(mixed) == "postal_code:#####|#####-####"
    assert metrics.postal_rule([]) == "postal_code"


@pytest.mark.parametrize(
    ("rule", "values", "share"),
    [
        ("email", ["a@b.co", "x.y+z@mail.example.org", "nope", "a@b"], 0.5),
        ("phone", ["+1 (555) 010-9999", "555.010.9999x12", "12-34", "555-CALL-NOW"], 0.5),
        ("pattern:ACC-####", ["ACC-0001", "ACC-12345", "acc-0001", "ACC-12a4"], 0.25),
        ("pattern:??#", ["AB1", "ab1", "A11"], 2 / 3),
        ("postal_code:#####|#####-####", ["12345", "12345-6789", "1234"], 2 / 3),
        ("postal_code", ["SW1A 1AA", "x"], 0.5),
        ("date", ["2024-02-29", "2023-02-30", date(2020, 1, 1), "2020/01/01"], 0.5),
        ("datetime", ["2024-01-01T10:00:00", "2024-01-01 10:00:00.123456", "2024-01-01T25:00:00"], 2 / 3),
        ("timestamp", ["2024-01-01T10:00:00Z", "2024-01-01 10:00:00 UTC", "2024-01-01T10:00:00+02:00", "x"], 0.75),
        ("time", ["10:00:00", "23:59:59.5", "24:00:00"], 2 / 3),
    ],
)
def test_validity_share(rule: str, values: list[Any], share: float) -> None:
    assert metrics.validity_share(rule, pd.Series([*values, None], dtype=object)) == pytest.approx(share, abs=1e-6)


def test_validity_share_of_no_values_is_none_and_unknown_rules_fail() -> None:
    assert metrics.validity_share("email", pd.Series([None, np.nan], dtype=object)) is None
    with pytest.raises(ValueError, match="unknown validity rule"):
        metrics.validity_share("luhn", pd.Series(["1"]))


def test_broken_formats_lower_validity(plan: TablePlan, source: pd.DataFrame) -> None:
    synthetic = customer_frame(seed=2)
    synthetic.loc[:299, "phone"] = "5550100"
    synthetic.loc[:59, "signup"] = "01/02/2023"
    validity = metrics.column_validity(plan, source, synthetic)
    assert validity["phone"] == ("pattern:###-###-####", 0.5)
    assert validity["signup"] == ("date", 0.9)
    columns = metrics.fidelity_scores(source, synthetic, plan).columns
    assert metrics.table_validity(columns) == pytest.approx((1.0 + 0.5 + 1.0 + 0.9) / 4)
    assert metrics.table_validity([]) is None
