"""Any multi-table dataset works without code changes, not just the demo.

A small web shop (``tests/shop_data.py``), shaped unlike the demo warehouse (plural
lower_snake table names, STRING keys declared and undeclared, a composite primary key,
references not named ``<entity>_id``), is loaded into a fresh source dataset and run
once through the real pipeline (``kfp.local``). Everything is checked against the shop's
own ground truth, by SQL on what landed in BigQuery, and the plan the pipeline wrote is
checked for the choices that decide those results.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.cloud import bigquery

from bqsynth.config import RunConfig, load_config
from bqsynth.evaluation.integrity import count_duplicate_keys, count_orphans, count_rows
from bqsynth.gcp.clients import bigquery_client, default_project
from bqsynth.gcp.schema import columns_from_bigquery
from bqsynth.models import Categorical, ColumnPlan, DatasetPlan, ForeignKeyRef, RecordValue, RunSummary, SequenceKey
from bqsynth.steps.artifacts import read_model
from submit import run_local_pipeline
from tests.shop_data import IDENTIFYING, ShopTable, build_shop_tables, load_shop_dataset

SEED = 11
SHOP = build_shop_tables(seed=SEED)
SOURCE_ROWS = {t.name: len(t.rows) for t in SHOP}
SCALE = 1.5
COUNTS = {"order_lines": 2 * SOURCE_ROWS["order_lines"]}  # a child at twice its source size
EXPECTED_ROWS = {name: COUNTS.get(name, round(rows * SCALE)) for name, rows in SOURCE_ROWS.items()}


@dataclass(frozen=True)
class Run:
    config: RunConfig
    summary: RunSummary
    plan: DatasetPlan
    source: str  # project.dataset
    target: str  # project.dataset


@pytest.fixture(scope="module")
def client(local_stack: object) -> bigquery.Client:
    return bigquery_client(default_project())


@pytest.fixture(scope="module")
def run(client: bigquery.Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    project = client.project
    suffix = uuid.uuid4().hex[:8]
    source, target = f"shop_src_{suffix}", f"shop_tgt_{suffix}"
    try:
        load_shop_dataset(client, project, source, SHOP)
        config = load_config(
            None,
            {
                "source_tables": [f"{project}.{source}.{t.name}" for t in SHOP],
                "target_dataset": target,
                "record_counts": COUNTS,
                "scale": SCALE,
                "seed": 3,
                "staging_bucket": "it-shop-staging",
                "audit_table": f"{project}.{target}.bqsynth_audit",
                # The emulator drops REQUIRED from a table a WRITE_TRUNCATE load replaces.
                "write_disposition": "WRITE_APPEND",
            },
        )
        root = tmp_path_factory.mktemp("kfp-shop")
        summary = run_local_pipeline(config, str(root))
        plan = read_model(DatasetPlan, str(_plan_artifact(root)))
        print(describe_plan(plan))  # shown with -s, or with the failure report
        yield Run(config, summary, plan, f"{project}.{source}", f"{project}.{target}")
    finally:
        client.delete_dataset(source, delete_contents=True, not_found_ok=True)
        client.delete_dataset(target, delete_contents=True, not_found_ok=True)


def _plan_artifact(root: Path) -> Path:
    found = sorted(root.glob("*/plan-dataset/plan"))
    assert len(found) == 1, f"expected one plan-dataset/plan artifact under {root}, found {found}"
    return found[0]


def _leaves(columns: list[ColumnPlan], prefix: str = "") -> Iterator[tuple[str, ColumnPlan]]:
    for column in columns:
        path = f"{prefix}{column.name}"
        if isinstance(column.generator, RecordValue):
            yield from _leaves(column.generator.fields, f"{path}.")
        else:
            yield path, column


def describe_plan(plan: DatasetPlan) -> str:
    """The planner's choices, one line each: relationships, keys, and every column's generator."""
    lines = ["relationships:"]
    for rel in plan.relationships:
        child, parent = ", ".join(rel.child_columns), ", ".join(rel.parent_columns)
        how = f"[{rel.origin} {rel.confidence}] {rel.evidence}"
        lines.append(f"  {rel.child_table}({child}) -> {rel.parent_table}({parent})  {how}")
    for failure in plan.failures:
        lines.append(f"FAILED {failure.table}: {failure.error}")
    for table in plan.tables:
        lines.append(f"{table.name}: {table.row_count} rows, primary key {table.primary_key}")
        for path, column in _leaves(table.columns):
            generator = column.generator.model_dump(exclude_none=True)
            text = json.dumps(generator, default=str)
            text = text if len(text) <= 110 else text[:107] + "..."
            flag = " IDENTIFYING" if column.identifying else ""
            lines.append(f"  {path}: {column.semantic_type}{flag} null={column.null_rate} {text}  # {column.reason}")
    return "\n".join(lines)


def _scalar(client: bigquery.Client, sql: str) -> int:
    return int(next(iter(client.query(sql).result()))[0] or 0)


def _spec(name: str) -> ShopTable:
    return next(t for t in SHOP if t.name == name)


# --------------------------------------------------------------------------------- the run


def test_every_table_completes_with_the_requested_rows(run: Run, client: bigquery.Client) -> None:
    tables = {t.table: t for t in run.summary.tables}
    assert set(tables) == set(SOURCE_ROWS)
    for name, expected in EXPECTED_ROWS.items():
        quality = tables[name]
        assert quality.status == "Completed", f"{name}: {quality.error}"
        assert quality.rows_requested == quality.rows_generated == quality.rows_loaded == expected, name
        assert count_rows(client, f"{run.target}.{name}") == expected, name
    assert run.summary.ok, [
        (t.table, t.status, t.foreign_key_orphans, t.duplicate_primary_keys) for t in tables.values()
    ]


# -------------------------------------------------------------------------- keys, by SQL


@pytest.mark.parametrize(
    ("child", "columns", "parent", "parent_columns"),
    [(t.name, r.columns, r.ref_table, r.ref_columns) for t in SHOP for r in t.references],
    ids=lambda v: v if isinstance(v, str) else ",".join(v),
)
def test_no_orphans_for_any_real_relationship(
    run: Run, client: bigquery.Client, child: str, columns: tuple, parent: str, parent_columns: tuple
) -> None:
    """Declared and undeclared references alike, from the shop's ground truth."""
    child_table, parent_table = f"{run.target}.{child}", f"{run.target}.{parent}"
    assert count_orphans(client, child_table, list(columns), parent_table, list(parent_columns)) == 0
    filled = _scalar(
        client, f"SELECT COUNTIF({' AND '.join(f'{c} IS NOT NULL' for c in columns)}) FROM `{child_table}`"
    )
    assert filled > 0.8 * count_rows(client, child_table)  # references generated, not nulled away


@pytest.mark.parametrize("table", [t.name for t in SHOP])
def test_no_duplicate_primary_keys(run: Run, client: bigquery.Client, table: str) -> None:
    """Declared single and composite keys, and the undeclared ``products.sku``."""
    key = list(_spec(table).primary_key)
    assert count_duplicate_keys(client, f"{run.target}.{table}", key) == 0, key
    assert (
        _scalar(client, f"SELECT COUNTIF({' OR '.join(f'{c} IS NULL' for c in key)}) FROM `{run.target}.{table}`") == 0
    )


@pytest.mark.parametrize("table", [t.name for t in SHOP])
def test_target_schema_equals_source_schema(run: Run, client: bigquery.Client, table: str) -> None:
    source = columns_from_bigquery(client.get_table(f"{run.source}.{table}").schema)
    target = columns_from_bigquery(client.get_table(f"{run.target}.{table}").schema)
    assert target == source


@pytest.mark.parametrize(("table", "path"), [(table, path) for table, paths in IDENTIFYING.items() for path in paths])
def test_no_source_value_of_an_identifying_column_is_copied(
    run: Run, client: bigquery.Client, table: str, path: str
) -> None:
    sql = (
        f"SELECT COUNT(*) FROM (SELECT DISTINCT {path} AS v FROM `{run.source}.{table}`) AS s "
        f"JOIN (SELECT DISTINCT {path} AS v FROM `{run.target}.{table}`) AS t ON s.v = t.v"
    )
    assert _scalar(client, sql) == 0
    assert _scalar(client, f"SELECT COUNT(DISTINCT {path}) FROM `{run.target}.{table}`") > 1  # faked, not blanked


# ------------------------------------------------------------------- the planner's choices


def test_the_plan_keeps_every_real_relationship(run: Run) -> None:
    planned = {
        (r.child_table, tuple(r.child_columns), r.parent_table, tuple(r.parent_columns)) for r in run.plan.relationships
    }
    truth = {(t.name, r.columns, r.ref_table, r.ref_columns) for t in SHOP for r in t.references}
    assert truth - planned == set(), f"relationships missing from the plan:\n{describe_plan(run.plan)}"
    assert planned - truth == set(), "relationships the shop does not have"
    for table in SHOP:
        plan = run.plan.table(table.name)
        columns = dict(_leaves(plan.columns))
        for ref in table.references:
            generator = columns[ref.columns[0]].generator
            assert isinstance(generator, ForeignKeyRef) and generator.parent_table == ref.ref_table, (
                f"{table.name}.{ref.columns[0]} planned as {type(generator).__name__}"
            )


def test_the_plan_derives_every_primary_key_from_the_row_index(run: Run) -> None:
    for table in SHOP:
        plan = run.plan.table(table.name)
        assert plan.primary_key == list(table.primary_key), table.name
        columns = dict(_leaves(plan.columns))
        key = columns[table.primary_key[-1] if len(table.primary_key) > 1 else table.primary_key[0]]
        assert isinstance(key.generator, SequenceKey), f"{table.name}: key {key.name} planned as {key.generator}"
    sku = dict(_leaves(run.plan.table("products").columns))["sku"].generator
    assert isinstance(sku, SequenceKey) and sku.as_string and sku.prefix == "SKU-", sku
    cust_no = dict(_leaves(run.plan.table("customers").columns))["cust_no"].generator
    assert isinstance(cust_no, SequenceKey) and cust_no.prefix == "C" and cust_no.width == 6, cust_no


def test_the_plan_fakes_identifying_columns_and_keeps_categoricals(run: Run) -> None:
    for table, paths in IDENTIFYING.items():
        columns = dict(_leaves(run.plan.table(table).columns))
        for path in paths:
            assert columns[path].identifying and not isinstance(columns[path].generator, Categorical), (table, path)
    categoricals = {
        "customers": ("loyalty_tier", "country"),
        "products": ("category",),
        "orders": ("status", "coupon_codes"),
    }
    for table, names in categoricals.items():
        columns = dict(_leaves(run.plan.table(table).columns))
        for name in names:
            generator = columns[name].generator
            element = getattr(generator, "element", generator)
            assert isinstance(element, Categorical), f"{table}.{name}: {columns[name].semantic_type} {element}"
