"""JSON, GEOGRAPHY, BYTES, INTERVAL, RANGE, decimals, STRING(L) and arrays of records.

The pure value generators (``bqsynth.generation.typed_values``), what the planner learns
for each type (``bqsynth.planning.type_shapes``), and a whole table of every type through
plan -> recipe -> Snowfakery -> NDJSON rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bqsynth.generation import typed_values
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.recipe_safety import check_recipe
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    ArrayValue,
    BytesValue,
    ColumnSchema,
    ColumnStats,
    GeographyValue,
    IntervalValue,
    JsonNode,
    JsonValue,
    NumberFromQuantiles,
    RangeValue,
    RecordValue,
    TableProfile,
    ValueCount,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.planning.type_shapes import (
    bytes_generator,
    geography_generator,
    interval_generator,
    interval_parts,
    json_generator,
    range_generator,
)
from bqsynth.values import temporal_to_seconds

WKT_POINT = re.compile(r"^POINT\((-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)\)$")


def _never(path: str, values: list[str]) -> bool:
    return False


# --- pure value generators --------------------------------------------------------------------


def test_decimal_values_have_exactly_the_scale_and_fit_the_precision() -> None:
    rng = random.Random(1)
    for _ in range(500):
        value = typed_values.decimal_value(rng.uniform(-99_999_999, 99_999_999), 2, 10, -99_999_999, 99_999_999, rng)
        digits = value.lstrip("-")
        whole, fraction = digits.split(".")
        assert len(fraction) == 2 and len(whole.lstrip("0")) + 2 <= 10, value
    # Bounds beyond what NUMERIC(10, 2) can hold are cut to it.
    assert typed_values.decimal_value(5e12, 2, 10, 0, 1e13, rng) == "99999999.99"


def test_bignumeric_values_keep_their_full_scale_not_a_float() -> None:
    rng = random.Random(2)
    values = [typed_values.decimal_value(0.123456789, 38, 76, 0, 1, rng) for _ in range(50)]
    assert all(len(v.split(".")[1]) == 38 for v in values)
    # Digits a float cannot hold are drawn, not left as zeros.
    assert all(not v.endswith("0000000000") for v in values)
    assert len(set(values)) == 50
    assert all(Decimal(0) <= Decimal(v) <= Decimal(1) for v in values)


def test_value_generators_are_deterministic_per_seed() -> None:
    shape = JsonNode(
        kind="object",
        fields={"a": JsonNode(kind="integer", low=1, high=9), "b": JsonNode(kind="string", low=3, high=8)},
    )
    geo = GeographyValue(min_longitude=2.0, max_longitude=3.0, min_latitude=48.0, max_latitude=49.0)

    def draw(seed: int) -> list[Any]:
        rng = random.Random(seed)
        return [
            typed_values.json_value(shape, rng),
            typed_values.geography_value(geo, rng),
            typed_values.bytes_value(BytesValue(min_length=4, max_length=9), rng),
            typed_values.interval_value(IntervalValue(months=(0, 30), days=(0, 9), seconds=(0, 86399)), rng),
        ]

    assert draw(5) == draw(5)
    assert draw(5) != draw(6)


def test_json_values_follow_the_shape_and_never_copy_identifying_strings() -> None:
    sample = [
        {"status": "open", "owner": {"email": f"user{i}@example.com", "age": 20 + i}, "tags": ["x"] * (i % 3)}
        for i in range(40)
    ]

    def identifying(path: str, values: list[str]) -> bool:
        return path.endswith("email")

    generator = json_generator(sample, "doc", identifying, min_count=5)
    assert generator is not None
    shape = generator.shape
    assert set(shape.fields) == {"status", "owner", "tags"}
    assert shape.fields["status"].values == ["open"]  # a small vocabulary seen often is kept
    assert shape.fields["owner"].fields["email"].values == []  # identifying: never kept
    assert shape.fields["tags"].lengths == [0, 1, 2]
    rng = random.Random(3)
    emails = {f"user{i}@example.com" for i in range(40)}
    for _ in range(200):
        value = typed_values.json_value(shape, rng)
        assert value["status"] == "open"
        assert value["owner"]["email"] not in emails and isinstance(value["owner"]["email"], str)
        assert 20 <= value["owner"]["age"] <= 59 and isinstance(value["owner"]["age"], int)
        assert len(value["tags"]) in (0, 1, 2)


def test_geography_points_stay_within_the_sampled_bounds() -> None:
    generator = geography_generator(["POINT(2.35 48.85)", "POINT(4.83 45.76)", "POINT(7.26 43.7)"])
    assert generator == GeographyValue(
        shape="point", min_longitude=2.35, max_longitude=7.26, min_latitude=43.7, max_latitude=48.85
    )
    rng = random.Random(4)
    for _ in range(300):
        match = WKT_POINT.match(typed_values.geography_value(generator, rng))
        assert match, "not a WKT point"
        x, y = float(match[1]), float(match[2])
        assert 2.35 <= x <= 7.26 and 43.7 <= y <= 48.85
    polygons = geography_generator(["POLYGON((0 0, 1 0, 1 1, 0 0))", "POLYGON((2 2, 3 2, 3 3, 2 2))"])
    assert polygons is not None and polygons.shape == "polygon"
    text = typed_values.geography_value(polygons, rng)
    assert text.startswith("POLYGON((")
    assert all(0 <= float(n) <= 3 for n in re.findall(r"-?\d+(?:\.\d+)?", text))


def test_bytes_have_the_source_lengths_and_the_declared_limit() -> None:
    stats = ColumnStats(path="b", type="BYTES", row_count=9, min_length=3, max_length=40)
    generator = bytes_generator(stats, [], max_length=12)
    assert generator == BytesValue(min_length=3, max_length=12)
    rng = random.Random(5)
    lengths = {len(base64.b64decode(typed_values.bytes_value(generator, rng))) for _ in range(400)}
    assert min(lengths) == 3 and max(lengths) == 12
    # Without statistics, the sample's (base64) values give the lengths.
    assert bytes_generator(None, ["aGk=", "aGVsbG8="], None) == BytesValue(min_length=2, max_length=5)


def test_intervals_stay_within_the_sampled_parts() -> None:
    generator = interval_generator(["0-1 2 3:00:00", "1-0 10 0:30:00"])
    assert generator == IntervalValue(months=(1, 12), days=(2, 10), seconds=(1800, 10800))
    rng = random.Random(6)
    for _ in range(300):
        parts = interval_parts(typed_values.interval_value(generator, rng))
        assert parts is not None
        months, days, seconds = parts
        assert 1 <= months <= 12 and 2 <= days <= 10 and 1800 <= seconds <= 10800


@pytest.mark.parametrize(
    ("element", "sample"),
    [
        ("DATE", [{"start": f"2024-0{m}-01", "end": f"2024-0{m + 1}-15"} for m in range(1, 8)]),
        ("DATETIME", ["[2024-01-01 08:00:00, 2024-01-01 17:30:00)", "[2024-02-03 09:00:00, 2024-02-04 12:00:00)"]),
        (
            "TIMESTAMP",
            [{"start": "2024-01-01T08:00:00+00:00", "end": "2024-01-03T00:00:00+00:00"}] * 3
            + [{"start": "2024-03-01T00:00:00+00:00", "end": "2024-03-09T00:00:00+00:00"}],
        ),
    ],
)
def test_ranges_start_before_they_end_within_the_profiled_span(element: str, sample: list[Any]) -> None:
    generator = range_generator(sample, element)
    assert generator is not None and generator.type == element
    low = min(temporal_to_seconds(s, element) for s in generator.starts)
    high = temporal_to_seconds(generator.high, element)
    rng = random.Random(7)
    for _ in range(300):
        text = typed_values.range_value(generator, rng)
        assert text.startswith("[") and text.endswith(")")
        start, end = (temporal_to_seconds(part.strip(), element) for part in text[1:-1].split(","))
        assert low <= start < end <= high, text


# --- a whole table of every type --------------------------------------------------------------

ROWS = 60


def _source_rows() -> list[dict[str, Any]]:
    rng = random.Random(11)
    rows = []
    for i in range(ROWS):
        rows.append(
            {
                "id": i + 1,
                "doc": {"kind": rng.choice(["a", "b"]), "n": rng.randint(1, 50), "nested": {"ok": True}},
                "geo": f"POINT({rng.uniform(2, 3):.4f} {rng.uniform(48, 49):.4f})",
                "blob": base64.b64encode(bytes(rng.randint(4, 8))).decode(),
                "span": f"0-{rng.randint(0, 11)} {rng.randint(0, 20)} {rng.randint(0, 23)}:00:00",
                "period": {"start": f"2024-01-{1 + i % 20:02d}", "end": f"2024-02-{1 + i % 20:02d}"},
                "big": f"{rng.uniform(0, 1000):.12f}",
                "amount": f"{rng.uniform(0, 9999):.2f}",
                "code": "".join(rng.choice("abcdefghij") for _ in range(rng.randint(10, 30))),
                "items": [
                    {"sku": f"S{rng.randint(1, 9)}", "qty": rng.randint(1, 5), "tags": ["x"] * rng.randint(0, 2)}
                    for _ in range(rng.randint(1, 3))
                ],
            }
        )
    return rows


COLUMNS = [
    ColumnSchema(name="id", type="INT64", mode="REQUIRED"),
    ColumnSchema(name="doc", type="JSON"),
    ColumnSchema(name="geo", type="GEOGRAPHY"),
    ColumnSchema(name="blob", type="BYTES", max_length=6),
    ColumnSchema(name="span", type="INTERVAL"),
    ColumnSchema(name="period", type="RANGE", range_element_type="DATE"),
    ColumnSchema(name="big", type="BIGNUMERIC"),
    ColumnSchema(name="amount", type="NUMERIC", precision=10, scale=2),
    ColumnSchema(name="code", type="STRING", max_length=20),
    ColumnSchema(
        name="items",
        type="RECORD",
        mode="REPEATED",
        fields=[
            ColumnSchema(name="sku", type="STRING"),
            ColumnSchema(name="qty", type="INT64"),
            ColumnSchema(name="tags", type="STRING", mode="REPEATED"),
        ],
    ),
]


def _stats() -> dict[str, ColumnStats]:
    def filled(path: str, kind: str, **extra: Any) -> ColumnStats:
        return ColumnStats(path=path, type=kind, row_count=ROWS, distinct_count=ROWS, **extra)

    return {
        "id": filled("id", "INT64", quantiles=[1, ROWS], min_value=1, max_value=ROWS),
        "doc": filled("doc", "JSON"),
        "geo": filled("geo", "GEOGRAPHY"),
        "blob": filled("blob", "BYTES", min_length=4, max_length=8),
        "span": filled("span", "INTERVAL"),
        "period": filled("period", "RANGE"),
        "big": filled("big", "BIGNUMERIC", quantiles=[0.0, 500.0, 1000.0], max_scale=12),
        "amount": filled("amount", "NUMERIC", quantiles=[0.0, 9999.0], max_scale=2),
        "code": filled("code", "STRING", min_length=10, max_length=30),
        "items": ColumnStats(
            path="items",
            type="RECORD",
            row_count=ROWS,
            array_length_counts=[ValueCount(value=n, count=20) for n in (1, 2, 3)],
        ),
        "items.sku": ColumnStats(
            path="items.sku",
            type="STRING",
            row_count=120,
            distinct_count=9,
            top_values=[ValueCount(value=f"S{n}", count=13) for n in range(1, 10)],
        ),
        "items.qty": ColumnStats(path="items.qty", type="INT64", row_count=120, distinct_count=5, quantiles=[1, 5]),
        "items.tags": ColumnStats(
            path="items.tags",
            type="STRING",
            row_count=120,
            distinct_count=1,
            top_values=[ValueCount(value="x", count=120)],
            array_length_counts=[ValueCount(value=n, count=40) for n in (0, 1, 2)],
        ),
    }


def typed_profile() -> TableProfile:
    """A profiled table with one column of every type that needs more than a number or a string."""
    return TableProfile(
        table_id="p.d.typed",
        name="typed",
        row_count=ROWS,
        columns=COLUMNS,
        primary_key=["id"],
        stats=_stats(),
        sample=_source_rows(),
    )


def test_every_type_is_planned_with_a_generator_and_the_recipe_is_safe() -> None:
    plan = with_recipes(plan_dataset([typed_profile()], PlanOptions(target_project="p", target_dataset="t")))
    assert not plan.failures
    table = plan.table("typed")
    by_name = {c.name: c.generator for c in table.columns}
    assert isinstance(by_name["doc"], JsonValue)
    assert isinstance(by_name["geo"], GeographyValue)
    assert by_name["blob"] == BytesValue(min_length=4, max_length=6)
    assert isinstance(by_name["span"], IntervalValue)
    assert isinstance(by_name["period"], RangeValue) and by_name["period"].type == "DATE"
    big, amount = by_name["big"], by_name["amount"]
    assert isinstance(big, NumberFromQuantiles) and (big.decimals, big.precision) == (12, 76)
    assert isinstance(amount, NumberFromQuantiles) and (amount.decimals, amount.precision) == (2, 10)
    items = by_name["items"]
    assert isinstance(items, ArrayValue) and isinstance(items.element, RecordValue)
    assert [f.name for f in items.element.fields] == ["sku", "qty", "tags"]
    assert isinstance(items.element.fields[2].generator, ArrayValue)
    assert check_recipe(table.recipe) == []


def test_a_type_with_values_but_nothing_to_learn_from_fails_the_table_by_name() -> None:
    profile = typed_profile().model_copy(update={"sample": []})
    plan = plan_dataset([profile], PlanOptions(target_project="p", target_dataset="t"))
    assert [f.table for f in plan.failures] == ["typed"]
    assert "column doc (JSON) has values in the source but cannot be generated" in plan.failures[0].error


def test_an_empty_source_with_a_required_column_plans_no_rows_and_refuses_rows_asked() -> None:
    empty = TableProfile(
        table_id="p.d.empty",
        name="empty",
        columns=[ColumnSchema(name="id", type="INT64", mode="REQUIRED"), ColumnSchema(name="note", type="STRING")],
    )
    plan = plan_dataset([empty], PlanOptions(target_project="p", target_dataset="t"))
    assert plan.failures == [] and plan.table("empty").row_count == 0  # an empty target, on purpose
    asked = plan_dataset([empty], PlanOptions(target_project="p", target_dataset="t", record_counts={"empty": 5}))
    assert "REQUIRED column id (INT64) cannot be generated" in asked.failures[0].error


def test_generated_rows_of_every_type_are_filled_and_within_their_limits(tmp_path: Path) -> None:
    plan = with_recipes(plan_dataset([typed_profile()], PlanOptions(target_project="p", target_dataset="t", seed=3)))
    table = plan.table("typed").model_copy(update={"row_count": 300})
    files, count, _ = generate_table(table, plan.seed, tmp_path)
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert count == len(rows) == 300
    source_kinds = {row["doc"]["kind"] for row in _source_rows()}
    for row in rows:
        assert set(row["doc"]) <= {"kind", "n", "nested"} and row["doc"]["kind"] in source_kinds
        assert row["doc"]["nested"] == {"ok": True}
        assert WKT_POINT.match(row["geo"])
        assert 4 <= len(base64.b64decode(row["blob"])) <= 6
        assert interval_parts(row["span"]) is not None
        start, end = row["period"][1:-1].split(", ")
        assert dt.date.fromisoformat(start) < dt.date.fromisoformat(end)
        assert isinstance(row["big"], str) and len(row["big"].split(".")[1]) == 12
        assert re.fullmatch(r"\d{1,8}\.\d{2}", row["amount"]), row["amount"]
        assert 0 < len(row["code"]) <= 20
        assert 1 <= len(row["items"]) <= 3
        for item in row["items"]:
            assert set(item) == {"sku", "qty", "tags"}
            assert re.fullmatch(r"S\d", item["sku"]) and 1 <= item["qty"] <= 5
            assert item["tags"] in ([], ["x"], ["x", "x"])
    assert {len(row["items"]) for row in rows} == {1, 2, 3}
