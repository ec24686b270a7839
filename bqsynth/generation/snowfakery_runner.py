"""Run Snowfakery on a compiled recipe for a slice of row indices and write BigQuery NDJSON.

Snowfakery writes flat rows of scalars; ``shape_row`` turns each into the JSON a
BigQuery load job expects for the table's schema (RECORD sub-fields nested again,
arrays decoded, NUMERIC as strings, Snowfakery's own ``id`` dropped).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import faker
from snowfakery import generate_data
from snowfakery.output_streams import FileOutputStream

from bqsynth.errors import BqsynthError
from bqsynth.generation.exclusions import write_exclusions
from bqsynth.generation.keys import stable_uniform
from bqsynth.generation.recipe import FIELD_SEPARATOR
from bqsynth.generation.rule_enforcement import RuleEnforcer
from bqsynth.generation.snowfakery_plugin import (
    EXCLUSIONS_OPTION,
    NO_EXCLUSIONS,
    ROW_COUNT_OPTION,
    SEED_OPTION,
    START_INDEX_OPTION,
)
from bqsynth.models import ColumnSchema, TablePlan, WorkItem


class GenerationError(BqsynthError):
    """Snowfakery could not generate a table; the message names the table and the cause."""


class RawJsonLinesStream(FileOutputStream):
    """Snowfakery output stream writing one JSON object per row (used via its dotted name)."""

    encoders = {
        **FileOutputStream.encoders,
        dt.date: str,
        dt.datetime: str,
        bool: bool,
        Decimal: str,
    }
    is_text = True

    def write_single_row(self, tablename: str, row: dict[str, Any]) -> None:
        self.write(json.dumps(row, default=str))
        self.write("\n")


RAW_STREAM = f"{RawJsonLinesStream.__module__}.{RawJsonLinesStream.__qualname__}"


def shard_seed(seed: int, table: str, start_index: int) -> int:
    """Each shard's own random stream: independent of which process or order runs it."""
    return int(stable_uniform(seed, "shard", table, start_index) * 2**62)


def seed_everything(seed: int) -> None:
    # Snowfakery has no seed option; seeding the process-wide generators it (and our plugin)
    # draws from makes the output byte-identical across processes.
    random.seed(seed)
    faker.Faker.seed(seed)


def run_snowfakery(
    recipe: str,
    seed: int,
    start_index: int,
    row_count: int,
    output: Path,
    table: str,
    exclusions_file: Path | None = None,
) -> None:
    """Generate rows ``[start_index, start_index + row_count)`` of ``table`` into a raw JSONL file."""
    seed_everything(shard_seed(seed, table, start_index))
    with tempfile.TemporaryDirectory(prefix="bqsynth-recipe-") as tmp:
        recipe_path = Path(tmp, f"{table}.recipe.yml")
        recipe_path.write_text(recipe)
        try:
            generate_data(
                str(recipe_path),
                user_options={
                    SEED_OPTION: str(seed),
                    START_INDEX_OPTION: str(start_index),
                    ROW_COUNT_OPTION: str(row_count),
                    EXCLUSIONS_OPTION: str(exclusions_file) if exclusions_file else NO_EXCLUSIONS,
                },
                output_format=RAW_STREAM,
                output_file=str(output),
            )
        except Exception as error:  # Snowfakery raises many types; the table name is what users need
            raise GenerationError(f"Snowfakery failed on table {table}: {error}") from error


def _shape_value(value: Any, column: ColumnSchema) -> Any:
    if value is None:
        return [] if column.is_repeated else None
    if column.is_repeated:
        items = json.loads(value) if isinstance(value, str) else value
        return [_shape_element(item, column) for item in items if item is not None]
    return _shape_element(value, column)


def _shape_element(value: Any, column: ColumnSchema) -> Any:
    """One value (an array's element, or a whole non-array value) of ``column``."""
    if column.is_record:
        # An element of an array of records: a dict (or its JSON text) of nested values.
        record = json.loads(value) if isinstance(value, str) else value
        return {field.name: _shape_value(record.get(field.name), field) for field in column.fields}
    return _shape_scalar(value, column)


def _shape_scalar(value: Any, column: ColumnSchema) -> Any:
    match column.type:
        case "NUMERIC" | "BIGNUMERIC":
            return str(value)
        case "INT64":
            return int(value)
        case "FLOAT64":
            return float(value)
        case "BOOL":
            return bool(value) if not isinstance(value, str) else value.lower() == "true"
        case "STRING":
            # STRING(L): no value longer than L characters, whatever produced it.
            return str(value)[: column.max_length] if column.max_length else str(value)
        case "JSON":
            # The plugin returns JSON text; the load file holds the JSON value itself.
            return json.loads(value) if isinstance(value, str) else value
    return value


def shape_row(raw: dict[str, Any], columns: list[ColumnSchema], prefix: str = "") -> dict[str, Any]:
    """A flat Snowfakery row as a BigQuery JSON row of ``columns``."""
    row: dict[str, Any] = {}
    for column in columns:
        key = f"{prefix}{column.name}"
        if column.is_record and not column.is_repeated:
            row[column.name] = shape_row(raw, column.fields, prefix=f"{key}{FIELD_SEPARATOR}")
        else:
            row[column.name] = _shape_value(raw.get(key), column)
    return row


def iter_raw_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def write_ndjson(rows: Iterator[dict[str, Any]], handle: IO[str]) -> int:
    count = 0
    for row in rows:
        handle.write(json.dumps(row, separators=(",", ":")))
        handle.write("\n")
        count += 1
    return count


def shard_ranges(table: TablePlan, shard_rows: int, only: WorkItem | None) -> list[tuple[int, int, int]]:
    """``(shard, start, count)`` of each shard to generate: every shard of ``table``, or ``only`` one.

    ``only`` is one work item of the pipeline (its own task); its file keeps the shard's number.
    """
    if only is not None:
        return [(only.shard, only.start_index, only.row_count)] if only.row_count else []
    return [
        (shard, start, min(shard_rows, table.row_count - start))
        for shard, start in enumerate(range(0, table.row_count, shard_rows))
    ]


def generate_table(
    table: TablePlan,
    seed: int,
    output_dir: Path,
    shard_rows: int = 250_000,
    exclusions: dict[str, list[str]] | None = None,
    only: WorkItem | None = None,
) -> tuple[list[Path], int, float]:
    """Generate all rows of ``table`` (or the ``only`` shard's) as NDJSON files, one per shard;
    returns files, rows, seconds.

    ``exclusions`` maps identifying column paths to digests of source values never to emit.
    """
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    exclusions_file = None
    if exclusions:
        exclusions_file = output_dir / f"{table.name}.exclusions.json"
        write_exclusions(exclusions, exclusions_file)
    files: list[Path] = []
    total = 0
    for shard, start, count in shard_ranges(table, shard_rows, only):
        raw = output_dir / f"{table.name}-{shard:05d}.raw.jsonl"
        run_snowfakery(table.recipe, seed, start, count, raw, table.name, exclusions_file)
        final = output_dir / f"{table.name}-{shard:05d}.json"
        with final.open("w") as handle:
            enforce = RuleEnforcer(table, seed)
            written = write_ndjson((enforce(shape_row(r, table.schema_)) for r in iter_raw_rows(raw)), handle)
        raw.unlink()
        if written != count:
            raise GenerationError(f"table {table.name}: shard {shard} produced {written} rows, expected {count}")
        files.append(final)
        total += written
    return files, total, time.perf_counter() - started
