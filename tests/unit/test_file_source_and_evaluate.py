"""Pure parts of the file-source edge and of the evaluation stage."""

from __future__ import annotations

import pytest

from bqsynth.config import ConfigError, default_project_of, load_config, source_name
from bqsynth.delivery.source_format_files import output_file_names
from bqsynth.evaluation.evaluate import categorical_paths, flatten_row, rows_to_frame, spread_sample
from bqsynth.evaluation.integrity import not_null_violations_sql
from bqsynth.models import (
    Categorical,
    ColumnPlan,
    ColumnSchema,
    NumberFromQuantiles,
    RecordValue,
    TablePlan,
    TablePrivacy,
    TableQuality,
)


@pytest.mark.parametrize(
    ("uri", "shards", "expected"),
    [
        ("gs://b/in/customers.psv", 1, ["customers.psv"]),
        ("gs://b/in/customers.psv", 2, ["customers_00000.psv", "customers_00001.psv"]),
        ("gs://b/in/orders_*.csv", 1, ["orders_00000.csv"]),
        ("gs://b/in/orders_part*.csv", 2, ["orders_part00000.csv", "orders_part00001.csv"]),
        ("gs://b/in/x/data_?.txt", 1, ["data_00000.txt"]),
    ],
)
def test_synthetic_files_keep_the_source_name_or_fill_its_wildcard(uri: str, shards: int, expected: list[str]) -> None:
    assert output_file_names(uri, shards) == expected


def test_file_sources_mix_with_tables_and_need_unique_names() -> None:
    config = load_config(
        None, {"source_tables": ["gs://landing/in/branch_targets.psv", "p1.ds.Dim_Branch"], "target_dataset": "t"}
    )
    assert config.target_project == "p1"  # the first BigQuery source's project, not the bucket
    assert source_name("gs://landing/in/branch_targets.psv") == "branch_targets"
    assert default_project_of(["p2.ds.a", "gs://bkt/c.csv"]) == "p2"
    with pytest.raises(ConfigError, match="must name a bucket and an object"):
        load_config(None, {"source_tables": ["gs://only-a-bucket"]})
    with pytest.raises(ConfigError, match=r"share the short name\(s\) \['orders'\]"):
        load_config(None, {"source_tables": ["gs://bkt/orders.csv", "p.d.orders"]})


def _plan() -> TablePlan:
    address = ColumnSchema(
        name="address", type="RECORD", fields=[ColumnSchema(name="city", type="STRING")], mode="NULLABLE"
    )
    schema = [
        ColumnSchema(name="id", type="INT64", mode="REQUIRED"),
        ColumnSchema(name="amount", type="NUMERIC"),
        ColumnSchema(name="tags", type="STRING", mode="REPEATED"),
        address,
    ]
    city = ColumnPlan(name="city", type="STRING", generator=Categorical(values=["Oslo", "Rome"], weights=[1, 1]))
    return TablePlan(
        name="t",
        source_table="p.d.t",
        target_table="p.e.t",
        row_count=3,
        schema=schema,
        columns=[
            ColumnPlan(name="id", type="INT64", generator=NumberFromQuantiles(quantiles=[1, 2], integer=True)),
            ColumnPlan(name="amount", type="NUMERIC", generator=NumberFromQuantiles(quantiles=[1, 2])),
            ColumnPlan(
                name="tags",
                type="STRING",
                mode="REPEATED",
                generator=Categorical(values=["a"], weights=[1]),
            ),
            ColumnPlan(name="address", type="RECORD", generator=RecordValue(fields=[city])),
        ],
    )


def test_rows_become_frames_of_scalar_leaves_with_numeric_as_numbers() -> None:
    table = _plan()
    row = {"id": 1, "amount": "12.50", "tags": ["x", "y"], "address": {"city": "Oslo"}}
    assert flatten_row(row, table.schema_) == {"id": 1, "amount": 12.5, "address.city": "Oslo"}
    frame = rows_to_frame([row, {"id": 2, "amount": None, "address": None}], table)
    assert list(frame.columns) == ["id", "amount", "address.city"]
    assert frame["address.city"].tolist()[1] is None
    # Rare categories can only leak from categorical columns outside arrays.
    assert categorical_paths(table) == ["address.city"]


def test_file_samples_are_spread_over_the_whole_file() -> None:
    rows = [{"i": i} for i in range(100)]
    sample = spread_sample(rows, 10)
    assert [r["i"] for r in sample] == list(range(0, 100, 10))
    assert spread_sample(rows, 1000) == rows
    assert spread_sample(rows, 0) == []


def test_not_null_check_counts_rows_with_any_null_required_column() -> None:
    sql = not_null_violations_sql("p.d.t", ["id", "order"])
    assert sql == "SELECT COUNT(*) AS n FROM `p.d.t` WHERE (`id` IS NULL OR `order` IS NULL)"


def test_a_leaked_identifying_value_or_a_null_in_a_required_column_fails_the_run() -> None:
    base = TableQuality(
        table="t",
        target_table="p.d.t",
        rows_requested=1,
        rows_generated=1,
        rows_loaded=1,
        rows_in_target=1,
        duplicate_primary_keys=0,
        foreign_key_orphans=0,
        status="Completed",
        seconds=0.1,
    )
    assert base.ok
    assert not base.model_copy(update={"privacy": TablePrivacy(identifying_values_leaked=1)}).ok
    assert not base.model_copy(update={"not_null_violations": 2}).ok
    assert not base.model_copy(update={"type_violations": 1}).ok
    # Exact row copies are reported, not fatal: a table of two yes/no columns must repeat its source rows.
    assert base.model_copy(update={"privacy": TablePrivacy(exact_row_copies=3)}).ok


def test_output_format_changes_convert_delimiter_header_and_custom_lines() -> None:
    import datetime as dt

    from bqsynth.delivery.source_format_files import changed_format
    from bqsynth.models import FileOutputFormat, custom_line_from_template
    from bqsynth.sources.delimited import read_records, sniff_format, write_records

    line = custom_line_from_template("TRL|{count:07}|{date:%Y%m%d}|end")
    assert [(f.kind, f.width, f.format) for f in line.fields] == [("record_count", 7, ""), ("date", 0, "%Y%m%d")]
    source = b"HDR|20240131|ACME\nann@x.example|12,50|2024-01-02\nbob@y.example|3,10|2024-02-03\nTRL|0000002\n"
    fmt = sniff_format(source, "in.psv")
    assert (fmt.delimiter, fmt.has_header, len(fmt.trailer_lines)) == ("|", False, 1)
    rows = read_records(source, fmt, "in.psv")

    # delimiter conversion, a header row added, the trailer replaced, the header line removed
    change = FileOutputFormat(delimiter=";", has_header=True, header_lines=[], trailer_lines=["TRL|{count:07}"])
    out = changed_format(fmt, change)
    data = write_records(rows * 3, out, run_date=dt.date(2025, 5, 6))
    lines = data.decode().splitlines()
    assert lines[0] == ";".join(c.name for c in fmt.columns)
    assert lines[-1] == "TRL|0000006" and len(lines) == 8
    assert read_records(data, out, "out.csv") == rows * 3  # the same values, read back with the new settings

    with pytest.raises(ValueError, match="decimals with a comma"):
        changed_format(fmt, FileOutputFormat(delimiter=","))
    with pytest.raises(ValueError, match="must be a width"):
        custom_line_from_template("TRL|{count:abc}")


def test_file_outputs_must_name_file_sources() -> None:
    sources = ["gs://bkt/in/contacts.psv", "p.d.stores"]
    config = load_config(None, {"source_tables": sources, "file_outputs": {"contacts": {"delimiter": ","}}})
    assert config.file_outputs["contacts"].delimiter == ","
    assert config.model_dump()["file_outputs"] == {"contacts": {"delimiter": ","}}  # KFP parameters hold no None
    with pytest.raises(ConfigError, match=r"file_outputs names \['stores'\]"):
        load_config(None, {"source_tables": sources, "file_outputs": {"stores": {"delimiter": ","}}})
