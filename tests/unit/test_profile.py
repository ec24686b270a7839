"""Profiling without BigQuery: schema conversion, the statistics SQL and its parsing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from google.api_core.exceptions import BadRequest, Forbidden, InternalServerError, NotFound
from google.cloud import bigquery
from google.cloud.bigquery import SchemaField

from bqsynth.gcp.schema import columns_from_bigquery, leaf_paths, schema_differences, to_bigquery_schema
from bqsynth.gcp.sql import quote_identifier
from bqsynth.models import ColumnSchema, ForeignKey
from bqsynth.sources import bigquery_profile as profile_module
from bqsynth.sources.bigquery_profile import (
    DeclaredKeys,
    ProfileError,
    build_keys_query,
    build_sample_query,
    build_stats_query,
    json_safe,
    keys_from_constraint_rows,
    keys_from_table_constraints,
    merge_declared_keys,
    parse_stats,
    profile_or_error,
    profile_table,
    qualified_table_id,
    sample_percent,
    stats_targets,
    table_name,
)

TABLE = "proj.ds.orders"

API_SCHEMA = [
    SchemaField("id", "INTEGER", "REQUIRED", description="order id"),
    SchemaField("amount", "NUMERIC"),
    SchemaField("score", "FLOAT"),
    SchemaField("paid", "BOOLEAN"),
    SchemaField("tags", "STRING", "REPEATED"),
    SchemaField(
        "address",
        "RECORD",
        description="where to",
        fields=[
            SchemaField("city", "STRING", description="town"),
            SchemaField("phones", "STRING", "REPEATED"),
        ],
    ),
    SchemaField(
        "items",
        "RECORD",
        "REPEATED",
        fields=[SchemaField("sku", "STRING"), SchemaField("codes", "INTEGER", "REPEATED")],
    ),
    SchemaField("blob", "BYTES"),
]


def col(name: str, type_: str, mode: str = "NULLABLE", fields: list[ColumnSchema] | None = None) -> ColumnSchema:
    return ColumnSchema(name=name, type=type_, mode=mode, fields=fields or [])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# schema.py
# ---------------------------------------------------------------------------------------------


def test_columns_from_bigquery_normalises_types_and_keeps_nesting() -> None:
    columns = columns_from_bigquery(API_SCHEMA)
    assert [(c.name, c.type, c.mode) for c in columns] == [
        ("id", "INT64", "REQUIRED"),
        ("amount", "NUMERIC", "NULLABLE"),
        ("score", "FLOAT64", "NULLABLE"),
        ("paid", "BOOL", "NULLABLE"),
        ("tags", "STRING", "REPEATED"),
        ("address", "RECORD", "NULLABLE"),
        ("items", "RECORD", "REPEATED"),
        ("blob", "BYTES", "NULLABLE"),
    ]
    assert columns[0].description == "order id"
    assert columns[5].description == "where to"
    assert columns[5].fields[0] == ColumnSchema(name="city", type="STRING", description="town")
    assert columns[6].fields[1] == col("codes", "INT64", "REPEATED")


def test_schema_round_trips_through_bigquery_fields() -> None:
    columns = columns_from_bigquery(API_SCHEMA)
    fields = to_bigquery_schema(columns)
    assert columns_from_bigquery(fields) == columns
    # The API representation is what a table is created with: standard type names, nesting kept.
    api = fields[6].to_api_repr()
    assert api["type"] == "RECORD" and api["mode"] == "REPEATED"
    assert [f["name"] for f in api["fields"]] == ["sku", "codes"]


PARAMETERISED = [
    SchemaField.from_api_repr({"name": "price", "type": "NUMERIC", "precision": "10", "scale": "2"}),
    SchemaField.from_api_repr({"name": "big", "type": "BIGNUMERIC", "precision": "50", "scale": "20"}),
    SchemaField.from_api_repr({"name": "code", "type": "STRING", "maxLength": "16"}),
    SchemaField.from_api_repr({"name": "raw", "type": "BYTES", "maxLength": "64"}),
    SchemaField.from_api_repr({"name": "stay", "type": "RANGE", "rangeElementType": {"type": "DATE"}}),
]


def test_parameterised_types_and_range_elements_round_trip() -> None:
    columns = columns_from_bigquery(PARAMETERISED)
    assert [(c.precision, c.scale, c.max_length, c.range_element_type) for c in columns] == [
        (10, 2, None, None),
        (50, 20, None, None),
        (None, None, 16, None),
        (None, None, 64, None),
        (None, None, None, "DATE"),
    ]
    fields = to_bigquery_schema(columns)
    assert columns_from_bigquery(fields) == columns
    assert fields[4].to_api_repr()["rangeElementType"] == {"type": "DATE"}  # a RANGE needs its element type
    assert "precision" not in to_bigquery_schema(columns_from_bigquery(API_SCHEMA))[1].to_api_repr()


def test_a_narrower_or_other_target_type_is_a_difference() -> None:
    source = columns_from_bigquery(PARAMETERISED)
    narrower = [c.model_copy(update={"scale": 1}) if c.name == "price" else c for c in source]
    other_range = [c.model_copy(update={"range_element_type": "TIMESTAMP"}) if c.name == "stay" else c for c in source]
    wider = [c.model_copy(update={"max_length": 32}) if c.name == "code" else c for c in source]
    assert schema_differences(source, narrower) == [
        "column price allows scale 1 in the target table but 2 in the source"
    ]
    assert schema_differences(source, other_range) == [
        "column stay is RANGE<TIMESTAMP> in the target table but RANGE<DATE> in the source"
    ]
    assert schema_differences(source, wider) == []


def test_leaf_paths_recurse_and_flag_repeated() -> None:
    paths = [(path, column.type, repeated) for path, column, repeated in leaf_paths(columns_from_bigquery(API_SCHEMA))]
    assert paths == [
        ("id", "INT64", False),
        ("amount", "NUMERIC", False),
        ("score", "FLOAT64", False),
        ("paid", "BOOL", False),
        ("tags", "STRING", True),
        ("address.city", "STRING", False),
        ("address.phones", "STRING", True),
        ("items.sku", "STRING", True),
        ("items.codes", "INT64", True),
        ("blob", "BYTES", False),
    ]


def test_identical_schemas_have_no_differences() -> None:
    columns = columns_from_bigquery(API_SCHEMA)
    assert schema_differences(columns, columns) == []


def test_schema_differences_compare_normalised_types_and_ignore_name_case() -> None:
    expected = [col("id", "INT64"), col("score", "FLOAT64")]
    actual = [col("ID", "INTEGER"), col("score", "FLOAT")]
    assert schema_differences(expected, actual) == []


def test_schema_differences_report_missing_column_and_type_mismatch() -> None:
    expected = [col("id", "INT64"), col("name", "STRING"), col("amount", "NUMERIC")]
    actual = [col("id", "INT64"), col("amount", "FLOAT64")]
    assert schema_differences(expected, actual) == [
        "column name (STRING NULLABLE) is missing from the target table",
        "column amount is FLOAT64 in the target table but NUMERIC in the source",
    ]


def test_schema_differences_report_only_incompatible_modes() -> None:
    # REQUIRED data fits a NULLABLE column; NULLABLE data may not fit a REQUIRED one; arrays fit nothing else.
    assert schema_differences([col("a", "STRING", "REQUIRED")], [col("a", "STRING")]) == []
    assert schema_differences([col("a", "STRING")], [col("a", "STRING", "REQUIRED")]) == [
        "column a is REQUIRED in the target table but NULLABLE in the source"
    ]
    assert schema_differences([col("a", "STRING", "REPEATED")], [col("a", "STRING")]) == [
        "column a is NULLABLE in the target table but REPEATED in the source"
    ]


def test_schema_differences_recurse_into_records_and_flag_extra_required_columns() -> None:
    expected = [col("address", "RECORD", fields=[col("city", "STRING"), col("zip", "STRING")])]
    actual = [
        col("address", "RECORD", fields=[col("city", "INT64")]),
        col("loaded_at", "TIMESTAMP", "REQUIRED"),
        col("note", "STRING"),
    ]
    assert schema_differences(expected, actual) == [
        "column address.city is INT64 in the target table but STRING in the source",
        "column address.zip (STRING NULLABLE) is missing from the target table",
        "the target table has an extra REQUIRED column loaded_at that the generated rows do not fill",
    ]


def test_record_against_scalar_is_a_type_mismatch() -> None:
    assert schema_differences([col("a", "RECORD", fields=[col("b", "STRING")])], [col("a", "STRING")]) == [
        "column a is STRING in the target table but RECORD in the source"
    ]


# ---------------------------------------------------------------------------------------------
# Names and values
# ---------------------------------------------------------------------------------------------


def test_table_names_and_quoting() -> None:
    assert table_name("p.d.orders") == "orders"
    assert table_name("p:d.orders") == "orders"
    assert qualified_table_id("d.orders", "p") == "p.d.orders"
    assert quote_identifier("odd`name") == "`odd\\`name`"
    with pytest.raises(ProfileError, match="not a valid table id"):
        qualified_table_id("orders")


def test_json_safe_converts_client_values() -> None:
    value = {
        "d": dt.date(2024, 1, 2),
        "ts": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "dt": dt.datetime(2024, 1, 2, 3, 4, 5),
        "t": dt.time(3, 4),
        "n": Decimal("1.25"),
        "b": b"\x00\x01",
        "nan": float("nan"),
        "list": [Decimal(2), {"x": None}],
    }
    assert json_safe(value) == {
        "d": "2024-01-02",
        "ts": "2024-01-02T03:04:05+00:00",
        "dt": "2024-01-02T03:04:05",
        "t": "03:04:00",
        "n": 1.25,
        "b": "AAE=",
        "nan": None,
        "list": [2.0, {"x": None}],
    }


# ---------------------------------------------------------------------------------------------
# Statistics SQL
# ---------------------------------------------------------------------------------------------

ALL_TYPES = [
    col("s", "STRING"),
    col("i", "INT64"),
    col("n", "NUMERIC"),
    col("f", "FLOAT64"),
    col("b", "BOOL"),
    col("d", "DATE"),
    col("dt", "DATETIME"),
    col("ts", "TIMESTAMP"),
    col("by", "BYTES"),
    col("j", "JSON"),
    col("g", "GEOGRAPHY"),
]


def _struct_of(sql: str, alias: str) -> str:
    """The STRUCT(...) expression selected as ``alias``."""
    end = sql.index(f" AS {alias}\n") if f" AS {alias}\n" in sql else sql.index(f" AS {alias},")
    start = sql.rindex("STRUCT(", 0, end)
    return sql[start:end]


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("s", ["APPROX_COUNT_DISTINCT", "APPROX_TOP_COUNT(bqsynth_t.`s`, 21)", "MIN(LENGTH(", "AVG(LENGTH("],
         ["APPROX_QUANTILES", "MIN(bqsynth_t", "max_scale"]),
        ("i", ["APPROX_TOP_COUNT", "APPROX_QUANTILES(bqsynth_t.`i`, 20)", "MIN(bqsynth_t.`i`)", "MAX(bqsynth_t.`i`)"],
         ["LENGTH", "max_scale"]),
        ("n", ["APPROX_QUANTILES", "MIN(bqsynth_t.`n`)", "TRUNC(bqsynth_t.`n`, 8) THEN 8 ELSE 9 END) AS max_scale"],
         ["APPROX_TOP_COUNT", "LENGTH"]),
        ("f", ["APPROX_QUANTILES", "IS_NAN", "ROUND(bqsynth_t.`f`, 11) THEN 11 ELSE 12 END) AS max_scale"],
         ["APPROX_TOP_COUNT", "LENGTH"]),
        ("b", ["APPROX_TOP_COUNT", "MIN(bqsynth_t.`b`)"], ["APPROX_QUANTILES", "LENGTH"]),
        ("d", ["APPROX_TOP_COUNT", "APPROX_QUANTILES", "MAX(bqsynth_t.`d`)"], ["LENGTH", "max_scale"]),
        ("dt", ["APPROX_QUANTILES", "MIN(bqsynth_t.`dt`)"], ["APPROX_TOP_COUNT", "LENGTH"]),
        ("ts", ["APPROX_QUANTILES", "MAX(bqsynth_t.`ts`)"], ["APPROX_TOP_COUNT", "LENGTH"]),
        # BYTES: byte lengths only (the generator draws bytes of the source's lengths).
        ("by", ["MIN(LENGTH(bqsynth_t.`by`)) AS min_length", "AVG(LENGTH("], ["APPROX", "MAX(bqsynth_t"]),
        ("j", ["COUNTIF(bqsynth_t.`j` IS NULL) AS null_count"], ["APPROX", "MIN(", "LENGTH"]),
        ("g", ["COUNTIF(bqsynth_t.`g` IS NULL) AS null_count"], ["APPROX", "MIN(", "LENGTH"]),
    ],
)  # fmt: skip
def test_stats_query_uses_the_aggregates_each_type_supports(name: str, present: list[str], absent: list[str]) -> None:
    sql = build_stats_query(TABLE, ALL_TYPES, top_k=20, quantiles=20)
    alias = next(t.alias for t in stats_targets(ALL_TYPES) if t.path == name)
    struct = _struct_of(sql, alias)
    assert struct.startswith("STRUCT(COUNT(*) AS row_count, COUNTIF(")
    for clause in present:
        assert clause in struct, clause
    for clause in absent:
        assert clause not in struct, clause


def test_stats_query_is_one_statement_over_the_quoted_table() -> None:
    sql = build_stats_query(TABLE, ALL_TYPES)
    assert sql.count("FROM `proj.ds.orders` AS bqsynth_t") == 1
    assert "COUNT(*) AS row_count" in sql
    assert "UNNEST" not in sql and "CROSS JOIN" not in sql
    assert ";" not in sql


def test_repeated_and_nested_columns_get_their_own_scans() -> None:
    columns = columns_from_bigquery(API_SCHEMA)
    sql = build_stats_query(TABLE, columns)
    by_path = {t.path: t for t in stats_targets(columns)}
    # Elements of tags, of address.phones and of items are read from unnested scans ...
    assert "CROSS JOIN UNNEST(bqsynth_t.`tags`) AS bqsynth_u1" in sql
    assert "CROSS JOIN UNNEST(bqsynth_t.`address`.`phones`) AS bqsynth_u1" in sql
    assert (
        "CROSS JOIN UNNEST(bqsynth_t.`items`) AS bqsynth_u1 CROSS JOIN UNNEST(bqsynth_u1.`codes`) AS bqsynth_u2" in sql
    )
    assert by_path["items.sku"].expr == "bqsynth_u1.`sku`"
    assert by_path["items.codes"].expr == "bqsynth_u2"
    assert by_path["address.city"].expr == "bqsynth_t.`address`.`city`"
    # ... and their lengths from the scan one level up.
    assert f"IFNULL(ARRAY_LENGTH(bqsynth_t.`tags`), 0), 100) AS {by_path['tags'].alias}_lengths" in sql
    assert f"IFNULL(ARRAY_LENGTH(bqsynth_u1.`codes`), 0), 100) AS {by_path['items.codes'].alias}_lengths" in sql
    # One subquery per distinct scan, joined into a single statement.
    assert sql.count("CROSS JOIN (") == 4  # tags, address.phones, items, items.codes
    assert sql.count("FROM `proj.ds.orders` AS bqsynth_t") == 5


def test_stats_query_restricted_to_some_paths_keeps_aliases() -> None:
    columns = columns_from_bigquery(API_SCHEMA)
    alias = next(t.alias for t in stats_targets(columns) if t.path == "items.codes")
    sql = build_stats_query(TABLE, columns, paths=["items.codes"])
    assert f"AS {alias}\n" in sql and f"AS {alias}_lengths" not in sql.split("CROSS JOIN (")[0]
    assert "`amount`" not in sql
    assert "COUNT(*) AS row_count" in sql  # the table's row count always comes along


def test_parse_stats_reads_a_hand_made_row() -> None:
    columns = [col("s", "STRING"), col("n", "NUMERIC"), col("d", "DATE"), col("tags", "STRING", "REPEATED")]
    aliases = {t.path: t.alias for t in stats_targets(columns)}
    row = {
        "row_count": 10,
        aliases["s"]: {
            "row_count": 10,
            "null_count": 2,
            "distinct_count": 3,
            "top_values": [
                {"value": "b", "count": 2},
                {"value": None, "count": 2},
                {"value": "a", "count": 5},
                {"value": "c", "count": 1},
            ],
            "min_length": 1,
            "max_length": 4,
            "avg_length": 2.5,
        },
        aliases["n"]: {
            "row_count": 10,
            "null_count": 0,
            "distinct_count": 10,
            "quantiles": [Decimal("1.5"), Decimal(2), Decimal("9.25")],
            "min_value": Decimal("1.5"),
            "max_value": Decimal("9.25"),
            "max_scale": 2,
        },
        aliases["d"]: {
            "row_count": 10,
            "null_count": 10,
            "distinct_count": 0,
            "top_values": None,  # BigQuery returns NULL arrays for all-NULL input
            "quantiles": None,
            "min_value": None,
            "max_value": None,
        },
        aliases["tags"]: {"row_count": 7, "null_count": 0, "distinct_count": 2, "top_values": []},
        f"{aliases['tags']}_lengths": [
            {"value": 2, "count": 3},
            {"value": 0, "count": 5},
            {"value": 1, "count": 1},
        ],
    }
    stats = parse_stats(row, columns, top_k=2)
    assert list(stats) == ["s", "n", "d", "tags"]
    s = stats["s"]
    assert (s.row_count, s.null_count, s.distinct_count) == (10, 2, 3)
    assert [(v.value, v.count) for v in s.top_values] == [("a", 5), ("b", 2)]  # NULL dropped, top_k kept
    assert (s.min_length, s.max_length, s.avg_length, s.null_rate) == (1, 4, 2.5, 0.2)
    n = stats["n"]
    assert n.quantiles == [1.5, 2.0, 9.25] and (n.min_value, n.max_value, n.max_scale) == (1.5, 9.25, 2)
    assert stats["d"].quantiles == [] and stats["d"].top_values == [] and stats["d"].min_value is None
    tags = stats["tags"]
    assert tags.row_count == 7
    assert [(v.value, v.count) for v in tags.array_length_counts] == [(0, 5), (1, 1), (2, 3)]
    # The stats are JSON artifacts: they must survive a round trip unchanged.
    assert {k: type(v).model_validate_json(v.model_dump_json()) for k, v in stats.items()} == stats


def test_parse_stats_converts_temporal_values_to_iso_strings() -> None:
    columns = [col("ts", "TIMESTAMP")]
    moment = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    row = {
        "row_count": 1,
        "c0": {"row_count": 1, "null_count": 0, "quantiles": [moment], "min_value": moment},
    }
    stats = parse_stats(row, columns)
    assert stats["ts"].quantiles == ["2024-05-01T12:00:00+00:00"]
    assert stats["ts"].min_value == "2024-05-01T12:00:00+00:00"


# ---------------------------------------------------------------------------------------------
# Declared keys
# ---------------------------------------------------------------------------------------------


def _constraint_row(name: str, kind: str, column: str, ordinal: int, ref: tuple[str, str] | None = None) -> dict:
    return {
        "constraint_name": name,
        "constraint_type": kind,
        "column_name": column,
        "ordinal_position": ordinal,
        "ref_project": "p" if ref else None,
        "ref_dataset": "d" if ref else None,
        "ref_table": ref[0] if ref else None,
        "ref_column": ref[1] if ref else None,
    }


def test_keys_query_reads_the_dataset_views_for_one_table() -> None:
    sql = build_keys_query("p.d.orders")
    for view in ("TABLE_CONSTRAINTS", "KEY_COLUMN_USAGE", "CONSTRAINT_COLUMN_USAGE"):
        assert f"`p.d.INFORMATION_SCHEMA.{view}`" in sql
    assert "@table_name" in sql


def test_keys_from_constraint_rows() -> None:
    rows = [
        _constraint_row("orders.fk$1", "FOREIGN KEY", "customer_id", 1, ("customers", "id")),
        _constraint_row("orders.fk$2", "FOREIGN KEY", "region", 1, ("regions", "code")),
        _constraint_row("orders.fk$2", "FOREIGN KEY", "region", 1, ("regions", "country")),
        _constraint_row("orders.fk$2", "FOREIGN KEY", "country", 2, ("regions", "code")),
        _constraint_row("orders.fk$2", "FOREIGN KEY", "country", 2, ("regions", "country")),
        _constraint_row("orders.pk$", "PRIMARY KEY", "line", 2),
        _constraint_row("orders.pk$", "PRIMARY KEY", "order_id", 1),
    ]
    keys = keys_from_constraint_rows(rows)
    assert keys.primary_key == ["order_id", "line"]
    assert keys.foreign_keys == [
        ForeignKey(columns=["customer_id"], referenced_table="p.d.customers", referenced_columns=["id"]),
        ForeignKey(
            columns=["region", "country"],
            referenced_table="p.d.regions",
            referenced_columns=["code", "country"],
        ),
    ]


def test_composite_foreign_keys_take_their_pairs_from_table_metadata() -> None:
    constraints = bigquery.table.TableConstraints.from_api_repr(
        {
            "primaryKey": {"columns": ["order_id", "line"]},
            "foreignKeys": [
                {
                    "name": "fk$2",
                    "referencedTable": {"projectId": "p", "datasetId": "d", "tableId": "regions"},
                    "columnReferences": [
                        {"referencingColumn": "region", "referencedColumn": "country"},
                        {"referencingColumn": "country", "referencedColumn": "code"},
                    ],
                }
            ],
        }
    )
    metadata = keys_from_table_constraints(constraints)
    views = DeclaredKeys(
        ["order_id", "line"],
        [
            ForeignKey(
                columns=["region", "country"],
                referenced_table="p.d.regions",
                referenced_columns=["code", "country"],
            )
        ],
    )
    merged = merge_declared_keys(views, metadata)
    assert merged.primary_key == ["order_id", "line"]
    assert merged.foreign_keys == [
        ForeignKey(
            columns=["region", "country"],
            referenced_table="p.d.regions",
            referenced_columns=["country", "code"],
        )
    ]
    # Without the views (no dataset-level permission) the metadata stands alone.
    assert merge_declared_keys(None, metadata) == metadata
    assert keys_from_table_constraints(None) == DeclaredKeys([], [])


# ---------------------------------------------------------------------------------------------
# Sample
# ---------------------------------------------------------------------------------------------


def test_sample_query_is_bounded_and_deterministic() -> None:
    sql = build_sample_query(TABLE, 200)
    assert sql.startswith("SELECT * FROM `proj.ds.orders` AS bqsynth_t\n")
    assert "ORDER BY FARM_FINGERPRINT(TO_JSON_STRING(bqsynth_t))" in sql and sql.endswith("LIMIT 200")
    assert "TABLESAMPLE" not in sql
    assert "TABLESAMPLE SYSTEM (3 PERCENT)" in build_sample_query(TABLE, 200, percent=3)


def test_tablesample_only_for_large_tables() -> None:
    assert sample_percent(3_000, 200) is None
    assert sample_percent(900_000, 200) is None
    assert sample_percent(0, 200) is None
    assert sample_percent(2_000_000, 10_000) == 25  # 50 times the sample, to survive block skew
    assert sample_percent(10_000_000, 200) == 1  # whole percents only: the emulator rejects fractions
    assert sample_percent(10_000_000, 0) is None


# ---------------------------------------------------------------------------------------------
# profile_table against a fake client: error messages, fallbacks, query count
# ---------------------------------------------------------------------------------------------


class FakeJob:
    def __init__(self, rows: list[dict[str, Any]], total_bytes_processed: int = 0) -> None:
        self.rows = rows
        self.total_bytes_processed = total_bytes_processed

    def result(self) -> list[dict[str, Any]]:
        return self.rows


class FakeClient:
    """Answers like BigQuery would for a table of 5 rows with one NULL in every column."""

    project = "proj"

    def __init__(
        self,
        schema: list[SchemaField],
        get_error: Exception | None = None,
        refuse: str = "",
        table_bytes: int = 0,
        table_type: str = "TABLE",
    ) -> None:
        self.schema, self.get_error, self.refuse, self.table_bytes = schema, get_error, refuse, table_bytes
        self.table_type = table_type
        self.queries: list[str] = []
        self.dry_runs: list[str] = []

    def get_table(self, table_id: str) -> bigquery.Table:
        if self.get_error:
            raise self.get_error
        table = bigquery.Table(table_id, schema=self.schema)
        table._properties["type"] = self.table_type
        return table

    def query(self, sql: str, job_config: Any = None) -> FakeJob:
        if job_config is not None and job_config.dry_run:
            self.dry_runs.append(sql)
            return FakeJob([], total_bytes_processed=self.table_bytes)
        self.queries.append(sql)
        if "INFORMATION_SCHEMA" in sql:
            return FakeJob([])
        if "FARM_FINGERPRINT" in sql:
            return FakeJob([{"id": 1, "f": Decimal("1.5")}])
        if self.refuse and self.refuse in sql:
            raise BadRequest("Function not found")
        aliases = re.findall(r" AS (c\d+)\b", sql)
        return FakeJob([{"row_count": 5, **{alias: {"row_count": 5, "null_count": 1} for alias in aliases}}])

    def stats_queries(self) -> list[str]:
        return [sql for sql in self.queries if "COUNT(*) AS row_count" in sql]


SIMPLE = [SchemaField("id", "INT64"), SchemaField("f", "FLOAT64"), SchemaField("s", "STRING")]


def test_profile_table_runs_one_query_per_step() -> None:
    client = FakeClient(SIMPLE)
    result = profile_table(client, "ds.t")  # type: ignore[arg-type]
    assert result.table_id == "proj.ds.t" and result.row_count == 5
    assert len(client.queries) == 3  # keys, statistics, sample
    assert [s.null_count for s in result.stats.values()] == [1, 1, 1]
    assert result.sample == [{"id": 1, "f": 1.5}]


def test_wide_tables_are_split_into_a_few_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_module, "MAX_COLUMNS_PER_QUERY", 2)
    client = FakeClient([SchemaField(f"c{i}", "STRING") for i in range(5)])
    result = profile_table(client, "proj.ds.t", sample_rows=0)  # type: ignore[arg-type]
    assert len(client.stats_queries()) == 3
    assert list(result.stats) == [f"c{i}" for i in range(5)]


def test_a_refused_aggregate_costs_only_that_columns_statistics() -> None:
    client = FakeClient(SIMPLE, refuse="APPROX_QUANTILES(bqsynth_t.`f`")
    result = profile_table(client, "proj.ds.t", sample_rows=0)  # type: ignore[arg-type]
    assert result.stats["f"].null_count == 1 and result.stats["f"].quantiles == []
    assert set(result.stats) == {"id", "f", "s"}
    # combined, then id, f (refused), f counts only, s
    assert len(client.stats_queries()) == 5


def test_a_column_that_cannot_be_read_at_all_is_named() -> None:
    client = FakeClient(SIMPLE, refuse="bqsynth_t.`f`")
    with pytest.raises(ProfileError, match=r"Column f of source table proj\.ds\.t could not be profiled"):
        profile_table(client, "proj.ds.t")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            NotFound("no"),
            r"Source table proj\.ds\.t was not found: check the project, dataset and table name",
        ),
        (
            Forbidden("denied"),
            r"may not read source table proj\.ds\.t: grant .*roles/bigquery\.dataViewer.*jobUser",
        ),
        (InternalServerError("boom"), r"Profiling source table proj\.ds\.t failed: boom"),
    ],
)
def test_client_errors_become_profile_errors_naming_the_table(error: Exception, message: str) -> None:
    client = FakeClient(SIMPLE, get_error=error)
    with pytest.raises(ProfileError, match=message):
        profile_table(client, "proj.ds.t")  # type: ignore[arg-type]
    failed = profile_or_error(client, "proj.ds.t")  # type: ignore[arg-type]
    assert failed.name == "t" and failed.error is not None and re.search(message, failed.error)


def test_profile_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="top_k"):
        profile_table(FakeClient(SIMPLE), "proj.ds.t", top_k=0)  # type: ignore[arg-type]


# --- the profiling cost guard (issue 14, item 5) ----------------------------------------------


def test_a_table_larger_than_the_full_scan_threshold_gets_a_sample_percent() -> None:
    budget = profile_module.ProfileBudget(full_scan_bytes=10 << 30, maximum_bytes_billed=100 << 30)
    assert profile_module.stats_sample_percent(10 << 30, budget) is None
    assert profile_module.stats_sample_percent(100 << 30, budget) == 10
    assert profile_module.stats_sample_percent(10 << 40, budget) == 1  # whole percents, at least 1
    sql = build_stats_query("p.d.t", [ColumnSchema(name="a", type="INT64")], percent=10)
    assert "AS bqsynth_t TABLESAMPLE SYSTEM (10 PERCENT)" in sql


def test_a_profile_past_maximum_bytes_billed_is_refused_naming_the_table_and_the_parameter() -> None:
    budget = profile_module.ProfileBudget(full_scan_bytes=10 << 30, maximum_bytes_billed=1 << 30)
    assert profile_module.over_budget_message("p.d.t", 1 << 30, None, budget) is None
    message = profile_module.over_budget_message("p.d.t", 5 << 30, None, budget)
    assert message and "p.d.t" in message and "maximum_bytes_billed=1073741824" in message
    assert "5.00 GiB" in message and "profile_full_scan_bytes" in message
    client = FakeClient(SIMPLE, table_bytes=5 << 30)
    with pytest.raises(ProfileError, match="maximum_bytes_billed"):
        profile_table(client, "proj.ds.t", budget=budget)  # type: ignore[arg-type]
    assert client.stats_queries() == []  # refused before any statistics query ran


def test_a_sampled_profile_counts_rows_exactly_and_reports_its_percent() -> None:
    client = FakeClient(SIMPLE, table_bytes=50 << 30)
    budget = profile_module.ProfileBudget(full_scan_bytes=10 << 30, maximum_bytes_billed=30 << 30)
    result = profile_table(client, "proj.ds.t", sample_rows=0, budget=budget)  # type: ignore[arg-type]
    sampled = [q for q in client.stats_queries() if "TABLESAMPLE" in q]
    assert sampled and "TABLESAMPLE SYSTEM (20 PERCENT)" in sampled[0]
    # 5 rows per sample is under MIN_SAMPLED_ROWS: read again at 40% (20 GiB), never at 80% (40 GiB)
    assert result.stats_sample_percent == 40 and len(sampled) == 2
    assert not any("TABLESAMPLE" not in q for q in client.stats_queries() if "AS s0" in q)
    assert any(q.strip().startswith("SELECT COUNT(*) AS row_count FROM") for q in client.queries)


def test_a_view_is_read_whole_within_the_guard_never_through_tablesample() -> None:
    client = FakeClient(SIMPLE, table_bytes=50 << 30, table_type="VIEW")
    budget = profile_module.ProfileBudget(full_scan_bytes=10 << 30, maximum_bytes_billed=100 << 30)
    result = profile_table(client, "proj.ds.v", sample_rows=0, budget=budget)  # type: ignore[arg-type]
    assert result.stats_sample_percent is None and not any("TABLESAMPLE" in q for q in client.queries)
    with pytest.raises(ProfileError, match="maximum_bytes_billed"):
        profile_table(client, "proj.ds.v", budget=budget._replace(maximum_bytes_billed=20 << 30))  # type: ignore[arg-type]
