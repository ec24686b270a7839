"""Editable plans and recipes, end to end through ``kfp.local``: an edit changes exactly what was edited.

The web shop (``tests/shop_data.py``) is run once as it is (the baseline). Its plan.yaml
is then edited as a user would (one column's generator, one table's row count) and fed
back with ``plan_uri``; and one table's compiled recipe is edited and fed back with
``recipes``. Each run writes to its own target dataset with the same seed, and the tests
compare the three by SQL: what was edited changed as edited, everything else is the same
row for row.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.cloud import bigquery

from bqsynth.config import RunConfig, load_config
from bqsynth.evaluation.integrity import count_duplicate_keys, count_orphans
from bqsynth.gcp.clients import bigquery_client, default_project, storage_client
from bqsynth.models import RunSummary
from bqsynth.planning.plan_file import PLAN_FILE_NAME
from bqsynth.steps.artifacts import read_text, write_text
from submit import main, run_local_pipeline
from tests.shop_data import build_shop_tables, load_shop_dataset

SHOP = build_shop_tables(seed=11)
KEYS = {t.name: list(t.primary_key) for t in SHOP}
REFERENCES = [(t.name, r.columns, r.ref_table, r.ref_columns) for t in SHOP for r in t.references]
STAGING = "it-editplan-staging"

# The edits: a generator (orders.status) and a row count (order_lines, a table nothing references).
EDITED_STATUSES = ["EDITED_OPEN", "EDITED_SHIPPED"]
EXTRA_LINES = 150
# The supplied recipe: products.category drawn from two new values.
RECIPE_CATEGORIES = ["Recipe-A", "Recipe-B"]


@dataclass(frozen=True)
class Run:
    summary: RunSummary
    target: str  # project.dataset
    root: Path


@dataclass(frozen=True)
class Runs:
    baseline: Run
    edited_plan: Run
    supplied_recipe: Run
    plan_text: str  # the baseline's plan.yaml
    published_plan: str  # the baseline's plan.yaml in the batch's folder
    source: str


@pytest.fixture(scope="module")
def client(local_stack: object) -> bigquery.Client:
    return bigquery_client(default_project())


def _config(source: str, target: str, **extra: Any) -> RunConfig:
    project = default_project()
    return load_config(
        None,
        {
            "source_tables": [f"{project}.{source}.{t.name}" for t in SHOP],
            "target_dataset": target,
            "seed": 5,
            "staging_bucket": STAGING,
            "audit_table": f"{project}.{target}.bqsynth_audit",
            # The emulator drops REQUIRED from a table a WRITE_TRUNCATE load replaces.
            "write_disposition": "WRITE_APPEND",
            **extra,
        },
    )


def _artifact(root: Path, name: str) -> Path:
    found = sorted(root.glob(f"*/plan-dataset/{name}"))
    assert len(found) == 1, f"expected one plan-dataset/{name} under {root}, found {found}"
    return found[0]


def edit_plan(text: str) -> str:
    """The user's edits, made on the YAML document."""
    document = yaml.safe_load(text)
    tables = {t["name"]: t for t in document["tables"]}
    status = next(c for c in tables["orders"]["columns"] if c["name"] == "status")
    status["generator"] = {"kind": "categorical", "values": EDITED_STATUSES, "weights": [3, 1]}
    tables["order_lines"]["row_count"] += EXTRA_LINES
    return yaml.safe_dump(document, sort_keys=False)


def edit_recipe(recipe: str) -> str:
    """products.category from two new values, the rest of the compiled recipe unchanged."""
    category = re.search(r"    category:\n      Bqsynth\.choice:\n(        .*\n)+?(?=    \w)", recipe)
    assert category is not None, recipe
    values = json.dumps(RECIPE_CATEGORIES)
    return recipe.replace(
        category.group(0),
        f"    category:\n      Bqsynth.choice:\n        values: '{values}'\n        weights: '[1, 1]'\n",
    )


@pytest.fixture(scope="module")
def runs(client: bigquery.Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    project = client.project
    suffix = uuid.uuid4().hex[:8]
    source = f"edit_src_{suffix}"
    targets = {kind: f"edit_{kind}_{suffix}" for kind in ("base", "plan", "recipe")}
    gcs = storage_client()
    try:
        load_shop_dataset(client, project, source, SHOP)
        root = tmp_path_factory.mktemp("kfp-baseline")
        baseline = Run(run_local_pipeline(_config(source, targets["base"]), str(root)), targets["base"], root)
        plan_text = _artifact(root, PLAN_FILE_NAME).read_text()
        published = read_text(
            f"gs://{STAGING}/bqsynth/batches/{baseline.summary.batch_id}/plan/{PLAN_FILE_NAME}", gcs=gcs
        )

        # The edited plan goes through Cloud Storage, as on Vertex AI.
        plan_uri = f"gs://{STAGING}/inputs/{suffix}/plan.yaml"
        write_text(edit_plan(plan_text), plan_uri, gcs=gcs)
        root = tmp_path_factory.mktemp("kfp-edited-plan")
        config = _config(source, targets["plan"], plan_uri=plan_uri)
        edited_plan = Run(run_local_pipeline(config, str(root)), targets["plan"], root)

        # The supplied recipe is a local file, as for submit.py --local.
        recipe = _artifact(baseline.root, "recipes/products.recipe.yml").read_text()
        recipe_file = tmp_path_factory.mktemp("user") / "products.recipe.yml"
        recipe_file.write_text(edit_recipe(recipe))
        root = tmp_path_factory.mktemp("kfp-recipe")
        config = _config(source, targets["recipe"], recipes={"products": str(recipe_file)})
        supplied = Run(run_local_pipeline(config, str(root)), targets["recipe"], root)
        yield Runs(baseline, edited_plan, supplied, plan_text, published, f"{project}.{source}")
    finally:
        for dataset in [source, *targets.values()]:
            client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def rows(client: bigquery.Client, dataset: str, table: str) -> list[str]:
    """Every row of a target as JSON text, sorted: equal lists are byte-identical tables."""
    found = client.query(f"SELECT * FROM `{client.project}.{dataset}.{table}`").result()
    return sorted(json.dumps(dict(row), sort_keys=True, default=str) for row in found)


def column_rows(client: bigquery.Client, dataset: str, table: str, columns: list[str]) -> list[tuple]:
    found = client.query(f"SELECT {', '.join(columns)} FROM `{client.project}.{dataset}.{table}`").result()
    return sorted(tuple(json.dumps(v, default=str) for v in row.values()) for row in found)


def other_columns(client: bigquery.Client, dataset: str, table: str, edited: str) -> list[str]:
    schema = client.get_table(f"{client.project}.{dataset}.{table}").schema
    return [field.name for field in schema if field.name != edited]


def assert_intact(client: bigquery.Client, run: Run) -> None:
    assert run.summary.ok, [
        t.model_dump(
            include={
                "table",
                "status",
                "error",
                "duplicate_primary_keys",
                "foreign_key_orphans",
                "not_null_violations",
                "type_violations",
                "columns_left_empty",
            }
        )
        | {"leaked": t.privacy.identifying_values_leaked if t.privacy else 0}
        for t in run.summary.tables
    ]
    target = f"{client.project}.{run.target}"
    for child, columns, parent, parent_columns in REFERENCES:
        assert (
            count_orphans(client, f"{target}.{child}", list(columns), f"{target}.{parent}", list(parent_columns)) == 0
        )
    for table, key in KEYS.items():
        assert count_duplicate_keys(client, f"{target}.{table}", key) == 0, table


# ------------------------------------------------------------------------------ the plan file


def test_every_run_writes_its_plan_as_yaml_next_to_the_recipes(runs: Runs) -> None:
    assert runs.published_plan == runs.plan_text
    document = yaml.safe_load(runs.plan_text)
    assert document["seed"] == 5 and {t["name"] for t in document["tables"]} == set(KEYS)
    recipes = _artifact(runs.baseline.root, "recipes")
    assert sorted(p.name for p in recipes.iterdir()) == sorted(f"{t}.recipe.yml" for t in KEYS)


# ----------------------------------------------------------------------------- an edited plan


def test_the_edited_generator_changed_its_column_and_nothing_else_in_the_table(
    runs: Runs, client: bigquery.Client
) -> None:
    assert_intact(client, runs.edited_plan)
    assert runs.edited_plan.summary.engine.startswith(f"plan file gs://{STAGING}/inputs/")
    statuses = client.query(
        f"SELECT status, COUNT(*) AS n FROM `{client.project}.{runs.edited_plan.target}.orders` GROUP BY status"
    ).result()
    counts = {row["status"]: row["n"] for row in statuses}
    assert set(counts) - {None} == set(EDITED_STATUSES)
    assert counts["EDITED_OPEN"] > counts["EDITED_SHIPPED"]  # weights 3:1
    others = other_columns(client, runs.baseline.target, "orders", "status")
    assert column_rows(client, runs.edited_plan.target, "orders", others) == column_rows(
        client, runs.baseline.target, "orders", others
    )


def test_the_edited_row_count_changed_its_table_and_nothing_else(runs: Runs, client: bigquery.Client) -> None:
    before = rows(client, runs.baseline.target, "order_lines")
    after = rows(client, runs.edited_plan.target, "order_lines")
    assert len(after) == len(before) + EXTRA_LINES
    assert set(before) <= set(after)  # every row of the baseline, the same: rows are functions of their index
    for table in ("customers", "products"):
        assert rows(client, runs.edited_plan.target, table) == rows(client, runs.baseline.target, table), table


# --------------------------------------------------------------------------- a supplied recipe


def test_the_supplied_recipe_changed_its_column_and_kept_keys_and_other_tables(
    runs: Runs, client: bigquery.Client
) -> None:
    assert_intact(client, runs.supplied_recipe)
    target, baseline = runs.supplied_recipe.target, runs.baseline.target
    categories = client.query(f"SELECT DISTINCT category FROM `{client.project}.{target}.products`").result()
    assert {row["category"] for row in categories} - {None} == set(RECIPE_CATEGORIES)
    assert column_rows(client, target, "products", ["sku"]) == column_rows(client, baseline, "products", ["sku"])
    for table in ("customers", "orders", "order_lines"):
        assert rows(client, target, table) == rows(client, baseline, table), table


# ------------------------------------------------------------------------ refused before generation


def test_an_edited_plan_that_does_not_fit_the_sources_exits_2_naming_table_and_column(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(runs.plan_text)
    orders = next(t for t in document["tables"] if t["name"] == "orders")
    next(c for c in orders["columns"] if c["name"] == "status")["generator"] = {"kind": "boolean", "p_true": 0.5}
    bad = tmp_path / "plan.yaml"
    bad.write_text(yaml.safe_dump(document, sort_keys=False))
    target = f"edit_refused_{uuid.uuid4().hex[:8]}"
    code = main(
        [
            "--local",
            "--source-tables",
            ",".join(f"{runs.source}.{t.name}" for t in SHOP),
            "--target-dataset",
            target,
            "--staging-bucket",
            STAGING,
            "--plan",
            str(bad),
            "--pipeline-root",
            str(tmp_path / "root"),
        ]
    )
    err = capsys.readouterr().err
    try:
        assert code == 2, err
        assert "table orders, column status: generator kind 'boolean' cannot make STRING values" in err
        assert not list((tmp_path / "root").glob("*/generate-table*")), "nothing may be generated"
    finally:
        bigquery_client(default_project()).delete_dataset(target, delete_contents=True, not_found_ok=True)
