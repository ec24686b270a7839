"""Recipe compilation and generation with the real Snowfakery."""

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bqsynth.generation.recipe import compile_recipe, json_literal
from bqsynth.generation.snowfakery_runner import generate_table, shape_row
from bqsynth.models import (
    ArrayValue,
    BooleanValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    FakerValue,
    ForeignKeyRef,
    FreeText,
    NumberFromQuantiles,
    PatternString,
    RecordValue,
    SequenceKey,
    TablePlan,
    TemporalFromQuantiles,
)

POISON = "${{ 7 * 7 }}"


def account_table(rows: int = 3000) -> TablePlan:
    schema = [
        ColumnSchema(name="account_id", type="INT64", mode="REQUIRED"),
        ColumnSchema(name="customer_id", type="STRING"),
        ColumnSchema(name="email", type="STRING"),
        ColumnSchema(name="status", type="STRING"),
        ColumnSchema(name="balance", type="NUMERIC"),
        ColumnSchema(name="opened_on", type="DATE"),
        ColumnSchema(name="opened_at", type="TIMESTAMP"),
        ColumnSchema(name="is_joint", type="BOOL"),
        ColumnSchema(name="account_number", type="STRING"),
        ColumnSchema(name="tags", type="STRING", mode="REPEATED"),
        ColumnSchema(
            name="address",
            type="RECORD",
            fields=[ColumnSchema(name="city", type="STRING"), ColumnSchema(name="postal_code", type="STRING")],
        ),
        ColumnSchema(name="note", type="STRING"),
    ]
    columns = [
        ColumnPlan(name="account_id", type="INT64", mode="REQUIRED", generator=SequenceKey(start=1000)),
        ColumnPlan(
            name="customer_id",
            type="STRING",
            generator=ForeignKeyRef(
                parent_table="Customer",
                parent_column="customer_id",
                parent_rows=250,
                parent_key=SequenceKey(prefix="C-", width=6, as_string=True),
                skew=1.0,
            ),
        ),
        ColumnPlan(name="email", type="STRING", generator=FakerValue(provider="email", unique=True)),
        ColumnPlan(
            name="status",
            type="STRING",
            null_rate=0.2,
            generator=Categorical(values=["Open", POISON, "<<1+1>>"], weights=[8, 1, 1]),
        ),
        ColumnPlan(
            name="balance", type="NUMERIC", generator=NumberFromQuantiles(quantiles=[-50, 0, 10, 900], decimals=2)
        ),
        ColumnPlan(
            name="opened_on",
            type="DATE",
            generator=TemporalFromQuantiles(type="DATE", quantiles=["2020-01-01", "2022-06-30", "2024-12-31"]),
        ),
        ColumnPlan(
            name="opened_at",
            type="TIMESTAMP",
            generator=TemporalFromQuantiles(
                type="TIMESTAMP", quantiles=["2020-01-01 00:00:00+00:00", "2024-12-31 23:00:00+00:00"]
            ),
        ),
        ColumnPlan(name="is_joint", type="BOOL", generator=BooleanValue(p_true=0.25)),
        ColumnPlan(name="account_number", type="STRING", generator=PatternString(pattern="AC-########", unique=True)),
        ColumnPlan(
            name="tags",
            type="STRING",
            mode="REPEATED",
            generator=ArrayValue(
                element=Categorical(values=["vip", "paperless"], weights=[1, 3]),
                lengths=Categorical(values=[0, 1, 2], weights=[2, 1, 1]),
            ),
        ),
        ColumnPlan(
            name="address",
            type="RECORD",
            generator=RecordValue(
                fields=[
                    ColumnPlan(name="city", type="STRING", generator=FakerValue(provider="city")),
                    ColumnPlan(
                        name="postal_code", type="STRING", null_rate=0.5, generator=FakerValue(provider="postcode")
                    ),
                ]
            ),
        ),
        ColumnPlan(name="note", type="STRING", null_rate=0.1, generator=FreeText(min_length=5, max_length=30)),
    ]
    table = TablePlan(
        name="Account",
        source_table="p.src.Account",
        target_table="p.tgt.Account",
        row_count=rows,
        columns=columns,
        schema=schema,
        primary_key=["account_id"],
    )
    table.recipe = compile_recipe(table, seed=42)
    return table


def read_rows(files: list[Path]) -> list[dict]:
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_recipe_is_valid_yaml_with_plugin_options_and_flattened_records() -> None:
    document = yaml.safe_load(account_table().recipe)
    assert document[0] == {"plugin": "bqsynth.generation.snowfakery_plugin.Bqsynth"}
    options = {d["option"]: d["default"] for d in document if "option" in d}
    assert options == {"seed": "42", "start_index": "0", "row_count": "3000", "exclusions": "none"}
    fields = document[-1]["fields"]
    assert "address__city" in fields and "address__postal_code" in fields and "address" not in fields
    assert fields["email"] == {"Bqsynth.fake": {"provider": "email", "column": "email", "unique": True}}


def test_source_strings_can_never_become_templates() -> None:
    recipe = account_table().recipe
    assert "${{ 7" not in recipe and "<<1+1" not in recipe
    assert json.loads(json_literal(POISON)) == POISON


def test_generation_matches_the_plan(tmp_path: Path) -> None:
    table = account_table(3000)
    files, rows, _ = generate_table(table, 42, tmp_path, shard_rows=1000)
    data = read_rows(files)
    assert rows == len(data) == 3000 and len(files) == 3
    assert [r["account_id"] for r in data] == list(range(1000, 4000))
    assert all(r["customer_id"].startswith("C-") and 1 <= int(r["customer_id"][2:]) <= 250 for r in data)
    assert len({r["email"] for r in data}) == 3000
    assert len({r["account_number"] for r in data}) == 3000
    statuses = Counter(r["status"] for r in data)
    assert statuses[POISON] > 0 and statuses["<<1+1>>"] > 0  # written literally, never evaluated
    assert 0.15 < statuses[None] / 3000 < 0.25
    assert all(-50 <= float(r["balance"]) <= 900 and isinstance(r["balance"], str) for r in data)
    assert all("2020-01-01" <= r["opened_on"] <= "2024-12-31" for r in data)
    assert all(r["opened_at"].endswith(" UTC") for r in data)
    assert 0.2 < sum(r["is_joint"] for r in data) / 3000 < 0.3
    assert all(set(r["tags"]) <= {"vip", "paperless"} and len(r["tags"]) <= 2 for r in data)
    assert all(isinstance(r["address"], dict) and r["address"]["city"] for r in data)
    assert "id" not in data[0]


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    table = account_table(500)
    first, _, _ = generate_table(table, 42, tmp_path / "a")
    second, _, _ = generate_table(table, 42, tmp_path / "b")
    other, _, _ = generate_table(table, 43, tmp_path / "c")
    assert first[0].read_bytes() == second[0].read_bytes()
    assert first[0].read_bytes() != other[0].read_bytes()


def test_keys_do_not_depend_on_how_the_table_is_sharded(tmp_path: Path) -> None:
    table = account_table(900)
    whole = read_rows(generate_table(table, 5, tmp_path / "whole", shard_rows=900)[0])
    sharded = read_rows(generate_table(table, 5, tmp_path / "shards", shard_rows=250)[0])
    for column in ("account_id", "customer_id", "account_number"):
        assert [r[column] for r in whole] == [r[column] for r in sharded]


def test_shape_row_builds_bigquery_json() -> None:
    schema = [
        ColumnSchema(name="n", type="NUMERIC"),
        ColumnSchema(name="xs", type="INT64", mode="REPEATED"),
        ColumnSchema(name="r", type="RECORD", fields=[ColumnSchema(name="a", type="BOOL")]),
    ]
    raw = {"id": 1, "n": 1.5, "xs": "[1, 2]", "r__a": True}
    assert shape_row(raw, schema) == {"n": "1.5", "xs": [1, 2], "r": {"a": True}}
    assert shape_row({"n": None, "xs": None, "r__a": None}, schema) == {"n": None, "xs": [], "r": {"a": None}}


def test_source_values_of_identifying_columns_are_never_emitted(tmp_path: Path) -> None:
    from faker import Faker

    from bqsynth.generation.exclusions import value_digest

    faker = Faker("en_US")
    faker.seed_instance(1)
    source_names = {faker.first_name() for _ in range(3000)}  # most common first names
    source_pans = {f"****{n:04d}" for n in range(0, 10000, 4)}  # a quarter of the 4-digit space
    schema = [ColumnSchema(name="first_name", type="STRING"), ColumnSchema(name="pan", type="STRING")]
    columns = [
        ColumnPlan(name="first_name", type="STRING", identifying=True, generator=FakerValue(provider="first_name")),
        ColumnPlan(
            name="pan", type="STRING", identifying=True, generator=PatternString(pattern="****####", unique=True)
        ),
    ]
    table = TablePlan(
        name="Card", source_table="p.s.Card", target_table="p.t.Card", row_count=2000, columns=columns, schema=schema
    )
    table.recipe = compile_recipe(table, seed=1)
    exclusions = {"first_name": [value_digest(v) for v in source_names], "pan": [value_digest(v) for v in source_pans]}
    files, rows, _ = generate_table(table, 1, tmp_path, shard_rows=700, exclusions=exclusions)
    data = read_rows(files)
    assert rows == 2000
    assert not {r["first_name"] for r in data} & source_names
    assert all(r["first_name"] for r in data)
    pans = [r["pan"] for r in data]
    assert len(set(pans)) == 2000 and not set(pans) & source_pans


@pytest.mark.parametrize(
    ("column_type", "midnight"), [("DATE", ""), ("DATETIME", " 00:00:00"), ("TIMESTAMP", " 00:00:00 UTC")]
)
def test_an_identifying_date_is_never_on_a_source_day(tmp_path: Path, column_type: str, midnight: str) -> None:
    """A birth date in any type: a synthetic birth timestamp on a real person's birthday is that birthday."""
    from datetime import date, timedelta

    from bqsynth.generation.exclusions import identifying_paths, value_digest

    # Two thirds of the days of 1980-1982 are real birth dates: collisions would be common.
    source = {(date(1980, 1, 1) + timedelta(days=d)).isoformat() for d in range(0, 1096) if d % 3}
    quantiles = [f"{d}{midnight}" for d in ("1980-01-01", "1981-06-01", "1982-12-31")]
    column = ColumnPlan(
        name="date_of_birth",
        type=column_type,
        identifying=True,
        generator=TemporalFromQuantiles(type=column_type, quantiles=quantiles, whole_days=column_type != "DATE"),
    )
    table = TablePlan(
        name="Person",
        source_table="p.s.Person",
        target_table="p.t.Person",
        row_count=1500,
        columns=[column],
        schema=[ColumnSchema(name="date_of_birth", type=column_type)],
    )
    assert identifying_paths(table.columns) == [("date_of_birth", False, True)]  # compared by day
    table.recipe = compile_recipe(table, seed=4)
    exclusions = {"date_of_birth": [value_digest(v) for v in source]}  # what DATE(v) digests in BigQuery
    emitted = [r["date_of_birth"] for r in read_rows(generate_table(table, 4, tmp_path, exclusions=exclusions)[0])]
    assert len(emitted) == 1500 and not {d[:10] for d in emitted} & source
    assert all(d.endswith(midnight) for d in emitted)  # whole days, as the source's
    assert all("1980-01-01" <= d[:10] <= "1983-01-10" for d in emitted)


def test_self_references_point_to_earlier_rows_only(tmp_path: Path) -> None:
    key = SequenceKey(start=100)
    schema = [ColumnSchema(name="employee_id", type="INT64"), ColumnSchema(name="manager_id", type="INT64")]
    columns = [
        ColumnPlan(name="employee_id", type="INT64", generator=key),
        ColumnPlan(
            name="manager_id",
            type="INT64",
            generator=ForeignKeyRef(
                parent_table="Employee", parent_column="employee_id", parent_rows=300, parent_key=key
            ),
        ),
    ]
    table = TablePlan(
        name="Employee",
        source_table="p.s.Employee",
        target_table="p.t.Employee",
        row_count=300,
        columns=columns,
        schema=schema,
    )
    table.recipe = compile_recipe(table, seed=3)
    rows = read_rows(generate_table(table, 3, tmp_path, shard_rows=120)[0])
    assert rows[0]["manager_id"] is None
    assert all(r["manager_id"] < r["employee_id"] for r in rows[1:])
