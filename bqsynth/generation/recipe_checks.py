"""Checks a recipe passes before a run uses it: Snowfakery's own validation, a dry run, and for
a recipe a user supplied (the ``recipes`` parameter), its fields against the table's schema.

Every check here runs only on a recipe ``recipe_safety.check_recipe`` accepted: Snowfakery
imports plugins and reads included files while it parses. A supplied recipe is held to the
same surface as a compiled one (bqsynth's plugin functions only), so what it can change is
which generator and parameters each column gets, not what code runs.
"""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from snowfakery import generate_data
from snowfakery.api import SnowfakeryApplication

from bqsynth.generation.recipe import FIELD_SEPARATOR
from bqsynth.generation.recipe_safety import check_recipe
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import TEMPORAL_TYPES, ColumnSchema, TablePlan, normalise_type
from bqsynth.values import temporal_to_seconds

# Rows a supplied recipe generates before the run uses it: enough to meet most generators' branches.
SUPPLIED_DRY_RUN_ROWS = 20


class _QuietApplication(SnowfakeryApplication):
    """Snowfakery prints validation progress; planning output stays clean."""

    def echo(self, message: str = "", *args: object, **kwargs: object) -> None:
        return None


def snowfakery_problems(recipe: str) -> list[str]:
    """Snowfakery's own validation (4.2's ``validate_only``): syntax, Jinja, Faker providers.

    Only ever called on a recipe that ``check_recipe`` accepted: parsing imports plugins.
    """
    with tempfile.TemporaryDirectory(prefix="bqsynth-validate-") as tmp:
        path = Path(tmp, "recipe.yml")
        path.write_text(recipe)
        try:
            result = generate_data(str(path), validate_only=True, parent_application=_QuietApplication())
        except Exception as error:  # Snowfakery raises many types; its message is what a repair needs
            return [f"Snowfakery rejected the recipe: {' '.join(str(error).split())[:400]}"]
    errors = getattr(result, "errors", [])
    return [f"Snowfakery rejected the recipe: {' '.join(str(e).split())[:400]}" for e in errors]


def dry_run_problems(table: TablePlan, seed: int, rows: int, check_types: bool = False) -> list[str]:
    """Generate a few rows for real (the same code path as the generate step) and look at them.

    With ``check_types`` every value must also be one of its column's BigQuery type.
    """
    trial = table.model_copy(update={"row_count": rows})
    with tempfile.TemporaryDirectory(prefix="bqsynth-dry-run-") as tmp:
        try:
            files, written, _ = generate_table(trial, seed, Path(tmp))
        except Exception as error:  # any failure here is a reason to reject the table, with its message
            return [f"dry run of {rows} rows failed: {' '.join(str(error).split())[:400]}"]
        if written != rows:
            return [f"dry run produced {written} rows, expected {rows}"]
        problems = []
        required = [c.name for c in table.schema_ if c.mode == "REQUIRED"]
        for file in files:
            for line in Path(file).read_text().splitlines():
                row = json.loads(line)
                problems += [
                    f"dry run: REQUIRED column {name} came out null" for name in required if row.get(name) is None
                ]
                if check_types:
                    problems += [f"dry run: {p}" for p in row_type_problems(row, table.schema_)]
        return list(dict.fromkeys(problems))


def row_type_problems(row: dict[str, Any], schema: list[ColumnSchema], prefix: str = "") -> list[str]:
    """Values of a generated row that are not of their column's type (``column C: ...``)."""
    problems: list[str] = []
    for column in schema:
        value = row.get(column.name)
        values = value if column.is_repeated and isinstance(value, list) else [value]
        for item in values:
            if item is None:
                continue
            path = f"{prefix}{column.name}"
            if column.is_record and isinstance(item, dict):
                problems += row_type_problems(item, column.fields, f"{path}.")
            elif problem := value_type_problem(item, normalise_type(column.type)):
                problems.append(f"column {path}: {problem}")
    return problems


def value_type_problem(value: Any, column_type: str) -> str | None:
    """Why ``value`` (as the NDJSON rows hold it) is not a ``column_type`` value, or None."""
    if column_type == "BOOL" and not isinstance(value, bool):
        return f"{value!r} is not a BOOL"
    if column_type in ("NUMERIC", "BIGNUMERIC"):
        try:
            Decimal(str(value))
        except InvalidOperation:
            return f"{value!r} is not a {column_type}"
    if column_type in TEMPORAL_TYPES:
        try:
            temporal_to_seconds(str(value), column_type)
        except ValueError:
            return f"{value!r} is not a {column_type}"
    return None


def recipe_field_names(schema: list[ColumnSchema], prefix: str = "") -> list[str]:
    """The fields a recipe for ``schema`` has: one per column, a RECORD's leaves as ``parent__child``."""
    names: list[str] = []
    for column in schema:
        if column.is_record and not column.is_repeated:
            names += recipe_field_names(column.fields, f"{prefix}{column.name}{FIELD_SEPARATOR}")
        else:
            names.append(f"{prefix}{column.name}")
    return names


def recipe_fields(text: str) -> dict[str, Any]:
    """The one object's fields of a recipe ``check_recipe`` accepted."""
    document = yaml.safe_load(text)
    return next(statement["fields"] for statement in document if "object" in statement)


def field_problems(table: TablePlan, text: str) -> list[str]:
    """The recipe's fields must be the table's columns exactly: a missing one would load as NULLs."""
    expected = recipe_field_names(table.schema_)
    given = list(recipe_fields(text))
    problems = [
        f"column {name}: no field for it in the recipe; add one (null for NULLs)"
        for name in expected
        if name not in given
    ]
    problems += [
        f"field {name}: not a column of {table.source_table} (fields are named {expected})"
        for name in given
        if name not in expected
    ]
    return problems


def supplied_recipe_problems(table: TablePlan, text: str, seed: int) -> list[str]:
    """Everything a user's recipe for ``table`` must pass, cheapest first; the first failing stage reports."""
    problems = check_recipe(text)
    if problems:
        return [f"recipe-safety check: {p}" for p in problems]
    problems = field_problems(table, text) or snowfakery_problems(text)
    if problems:
        return problems
    return dry_run_problems(table.model_copy(update={"recipe": text}), seed, SUPPLIED_DRY_RUN_ROWS, check_types=True)


def changed_key_fields(table: TablePlan, text: str, keys: list[str]) -> list[str]:
    """Key and reference fields (``keys``) whose definition differs from the compiled recipe's."""
    compiled, supplied = recipe_fields(table.recipe), recipe_fields(text)
    return [name for name in keys if compiled.get(name) != supplied.get(name)]
