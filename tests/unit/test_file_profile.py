"""Profiles of delimited files (bqsynth.sources.file_profile) and how the planner treats them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bqsynth.gcp.names import table_name_for_uri
from bqsynth.models import (
    BooleanValue,
    FakerValue,
    NumberFromQuantiles,
    PatternString,
    SequenceKey,
    TemporalFromQuantiles,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.sources import bigquery_profile as bq_profile
from bqsynth.sources.delimited import FileFormatError
from bqsynth.sources.file_profile import build_file_profile, column_stats

CORPUS = Path(__file__).resolve().parents[1] / "data" / "files"


def corpus(*names: str) -> list[tuple[str, bytes]]:
    return [(f"gs://b/in/{name}", (CORPUS / name).read_bytes()) for name in names]


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("gs://b/in/customers_*.csv", "customers"),
        ("gs://b/in/customers.csv", "customers"),
        ("gs://b/in/sales_part*.csv", "sales"),
        ("gs://b/exports/orders-2024-*.csv.gz", "orders_2024"),
        ("gs://b/in/2024_orders.txt", "t_2024_orders"),
        ("gs://b/Kunden Liste/Größe.csv", "grosse"),
        ("gs://b/in/*.csv", "in"),
        ("gs://b/*", "b"),
        ("gs://b/in/data/", "data"),
    ],
)
def test_table_name_for_uri(uri: str, name: str) -> None:
    assert table_name_for_uri(uri) == name


# ---------------------------------------------------------------------------------------------
# Statistics with the BigQuery profiler's meaning
# ---------------------------------------------------------------------------------------------


def test_stats_compute_exactly_the_aggregates_bigquery_computes_per_type() -> None:
    samples = {
        "STRING": ["a", "bb", None],
        "INT64": [3, 1, None],
        "FLOAT64": [1.5, 2.25, None],
        "NUMERIC": ["1.50", "2.25", None],
        "BOOL": [True, False, None],
        "DATE": ["2024-01-02", "2024-01-01", None],
        "DATETIME": ["2024-01-01T10:00:00", "2024-01-01T09:00:00", None],
        "TIMESTAMP": ["2024-01-01T10:00:00+00:00", "2024-01-01T09:00:00+00:00", None],
        "TIME": ["10:00:00", "09:00:00", None],
    }
    for kind, values in samples.items():
        stats = column_stats("c", kind, values, top_k=5, quantiles=4)
        assert (stats.row_count, stats.null_count, stats.distinct_count) == (3, 1, 2), kind
        assert bool(stats.top_values) == (kind in bq_profile.TOP_VALUE_TYPES), kind
        assert bool(stats.quantiles) == (kind in bq_profile.QUANTILE_TYPES), kind
        assert (stats.min_value is not None) == (kind in bq_profile.MIN_MAX_TYPES), kind
        assert (stats.max_length is not None) == (kind in bq_profile.LENGTH_TYPES), kind
        assert (stats.max_scale is not None) == (kind in bq_profile.SCALE_LIMITS), kind


def test_quantiles_are_quantiles_plus_one_points_from_min_to_max() -> None:
    stats = column_stats("n", "INT64", list(range(100, 0, -1)), quantiles=4)
    assert stats.quantiles == [1, 26, 51, 75, 100]
    assert (stats.min_value, stats.max_value) == (1, 100)


def test_temporal_quantiles_are_in_time_order_as_iso_strings() -> None:
    values = ["2024-01-01T10:00:00.500000", "2024-01-01T10:00:00", "2023-12-31T23:59:59"]
    stats = column_stats("t", "DATETIME", values, quantiles=2)
    assert stats.quantiles == ["2023-12-31T23:59:59", "2024-01-01T10:00:00", "2024-01-01T10:00:00.500000"]


def test_top_values_rank_by_count_then_value() -> None:
    stats = column_stats("s", "STRING", ["b", "a", "c", "a", "b", None, "d"], top_k=3)
    assert [(v.value, v.count) for v in stats.top_values] == [("a", 2), ("b", 2), ("c", 1)]
    assert (stats.min_length, stats.max_length, stats.avg_length) == (1, 1, 1.0)


def test_numeric_stats_are_floats_and_scale_ignores_trailing_zeros() -> None:
    stats = column_stats("m", "NUMERIC", ["1.50", "2.25", "3.10", "-0.50"])
    assert stats.max_scale == 2
    assert stats.min_value == -0.5 and stats.max_value == 3.1
    assert all(isinstance(q, float) for q in stats.quantiles)
    assert column_stats("m", "NUMERIC", ["1.50", "3.10"]).max_scale == 1
    assert column_stats("f", "FLOAT64", [0.1, 1.005, 2.0]).max_scale == 3


def test_an_all_null_column_has_counts_only() -> None:
    stats = column_stats("x", "INT64", [None, None])
    assert (stats.null_count, stats.distinct_count, stats.quantiles, stats.min_value) == (2, 0, [], None)


# ---------------------------------------------------------------------------------------------
# Profiles of files
# ---------------------------------------------------------------------------------------------


def test_profile_of_a_wildcard_pair_reads_both_parts() -> None:
    profile = build_file_profile(
        "gs://b/in/sales_part*.csv", corpus("sales_part1.csv", "sales_part2.csv"), sample_rows=30
    )
    assert profile.name == "sales"
    assert profile.table_id == "gs://b/in/sales_part*.csv"
    assert profile.row_count == 40
    assert profile.source_files == ["gs://b/in/sales_part1.csv", "gs://b/in/sales_part2.csv"]
    assert [(c.name, c.type) for c in profile.columns] == [
        ("sale_id", "INT64"),
        ("store", "STRING"),
        ("amount", "NUMERIC"),
        ("sold_on", "DATE"),
    ]
    assert profile.stats["sale_id"].min_value == 1 and profile.stats["sale_id"].max_value == 40
    assert profile.stats["sale_id"].distinct_count == 40
    assert len(profile.sample) == 30 and profile.sample[0]["sale_id"] == 1
    assert profile.file_format is not None and profile.file_format.has_header


def test_parts_of_different_formats_are_refused_naming_both_files() -> None:
    with pytest.raises(FileFormatError) as error:
        build_file_profile("gs://b/in/*.csv", corpus("sales_part1.csv", "customers.csv"))
    assert "sales_part1.csv" in str(error.value) and "customers.csv" in str(error.value)


def test_a_part_spelling_a_column_differently_is_refused_naming_both_files() -> None:
    first = ("gs://b/p1.csv", b"id,day\n1,2024-01-02\n2,2024-01-03\n")
    second = ("gs://b/p2.csv", b"id,day\n3,02.01.2024\n4,03.01.2024\n")
    with pytest.raises(FileFormatError) as error:
        build_file_profile("gs://b/p*.csv", [first, second])
    message = str(error.value)
    assert "p1.csv" in message and "p2.csv" in message and "line 2" in message


def test_a_header_only_part_is_an_empty_partition() -> None:
    parts = [("gs://b/p1.csv", b"id,name\n1,Ann\n2,Bob\n"), ("gs://b/p2.csv", b"id,name\n")]
    assert build_file_profile("gs://b/p*.csv", parts).row_count == 2


def test_a_latin1_part_makes_the_table_latin1_when_the_others_are_ascii() -> None:
    parts = [("gs://b/p1.csv", b"id,name\n1,Ann\n"), ("gs://b/p2.csv", "id,name\n2,Zoë\n".encode("latin-1"))]
    profile = build_file_profile("gs://b/p*.csv", parts)
    assert profile.file_format is not None and profile.file_format.encoding == "latin-1"
    assert profile.sample[1]["name"] == "Zoë"


def test_no_files_is_refused() -> None:
    with pytest.raises(FileFormatError, match="matched no files"):
        build_file_profile("gs://b/none_*.csv", [])


def test_ragged_rows_of_all_parts_are_counted() -> None:
    profile = build_file_profile("gs://b/r.csv", corpus("ragged_tolerated.csv"))
    assert profile.file_format is not None and profile.file_format.ragged_rows == 1
    assert profile.row_count == 150


# ---------------------------------------------------------------------------------------------
# The planner treats a file table like a BigQuery table
# ---------------------------------------------------------------------------------------------


def test_plan_of_a_file_profile_has_sensible_generators() -> None:
    profile = build_file_profile("gs://b/in/customers.csv", corpus("customers.csv"))
    plan = plan_dataset([profile], PlanOptions(target_project="tp", target_dataset="td"))
    assert not plan.failures
    table = plan.table("customers")
    generators = {c.name: c.generator for c in table.columns}
    assert isinstance(generators["customer_id"], SequenceKey)
    assert isinstance(generators["email"], FakerValue | PatternString)
    assert isinstance(generators["first_name"], FakerValue) and generators["first_name"].provider == "first_name"
    balance = generators["balance"]
    assert isinstance(balance, NumberFromQuantiles) and balance.decimals == 2
    assert min(balance.quantiles) == profile.stats["balance"].min_value
    signup = generators["signup_date"]
    assert isinstance(signup, TemporalFromQuantiles) and signup.type == "DATE"
    assert isinstance(generators["is_active"], BooleanValue)
    assert table.row_count == 40


def test_plan_of_a_headerless_file_uses_the_inferred_names() -> None:
    profile = build_file_profile("gs://b/in/orders_*.txt", corpus("orders_hdr_trl.txt"))
    plan = plan_dataset([profile], PlanOptions(target_project="tp", target_dataset="td"))
    table = plan.table("orders")
    by_name = {c.name: c for c in table.columns}
    assert by_name["email"].semantic_type == "email" and by_name["email"].identifying
    assert isinstance(by_name["date"].generator, TemporalFromQuantiles)
    assert isinstance(by_name["column_3"].generator, NumberFromQuantiles)
