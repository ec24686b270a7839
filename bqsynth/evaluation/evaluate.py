"""Stage 5: evaluate what landed in each target table against its source.

This module is the I/O edge of the quality report: it reads bounded samples of the
source (a BigQuery table or the source files) and of the target, runs the SQL checks
that must see every row (orphans, duplicate keys, NOT NULL, identifying values found in
the source), and hands the samples to :mod:`bqsynth.evaluation.metrics`, which holds the metrics.

What is measured on every row, by SQL: row counts, duplicate primary keys, foreign-key
orphans, NULLs in REQUIRED columns, schema conformance, identifying values present in
the source (by digest, so file sources and BigQuery sources are checked the same way).
What is measured on samples (``sample_rows`` each side): SDMetrics fidelity, exact row
copies, distance to closest record, rare categories and format validity.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pandas as pd
from google.cloud import bigquery, storage

from bqsynth.evaluation import integrity, metrics
from bqsynth.gcp.schema import columns_from_bigquery, schema_differences
from bqsynth.gcp.sql import quote_column, quote_table, string_literal
from bqsynth.generation.exclusions import count_shared_values, exclusions_from_records, fetch_digests, identifying_paths
from bqsynth.models import (
    ArrayValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    DatasetPlan,
    NullValue,
    TablePlan,
    TableQuality,
    leaf_plans,
)
from bqsynth.sources.bigquery_profile import json_safe, read_sample
from bqsynth.sources.gcs_files import iter_source_records
from bqsynth.sources.value_stats import reservoir_sample
from bqsynth.values import value_at

log = logging.getLogger("bqsynth")

DEFAULT_SAMPLE_ROWS = 10_000
# Key columns read whole for the children-per-parent shape; beyond this the score is skipped.
MAX_KEY_VALUES = 1_000_000
MAX_CATEGORY_VALUES = 100_000
# A file source with more rows is streamed for each measure instead of kept in memory.
MAX_KEPT_SOURCE_ROWS = 50_000


@dataclass
class SourceReader:
    """Reads sources for the report. A file source of at most ``MAX_KEPT_SOURCE_ROWS`` rows is
    read once and its rows kept; a larger one is streamed again for each measure, which keeps
    only what the measure needs (a sample, a column, digests, counts), never every row.

    ``bq`` runs its jobs in the target project (sources need only read access) and ``gcs``
    reads file sources: the clients of the step that evaluates.
    """

    plan: DatasetPlan
    bq: bigquery.Client
    gcs: storage.Client
    _records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _large: set[str] = field(default_factory=set)

    def records(self, table: TablePlan) -> Iterable[dict[str, Any]] | None:
        """Every row of a file source, kept or streamed (None for a BigQuery source)."""
        if table.file_format is None:
            return None
        if table.name in self._records:
            return self._records[table.name]
        if table.name not in self._large:
            head = list(islice(self._stream(table), MAX_KEPT_SOURCE_ROWS + 1))
            if len(head) <= MAX_KEPT_SOURCE_ROWS:
                self._records[table.name] = head
                return head
            self._large.add(table.name)
        return self._stream(table)

    def _stream(self, table: TablePlan) -> Iterator[dict[str, Any]]:
        assert table.file_format is not None
        return iter_source_records(self.gcs, table.source_table, table.file_format)

    def sample(self, table: TablePlan, rows: int) -> list[dict[str, Any]]:
        records = self.records(table)
        if isinstance(records, list):
            return spread_sample(records, rows)
        if records is not None:
            return reservoir_sample(records, rows, seed=table.name)
        # Metadata is enough to choose between a full scan and TABLESAMPLE; no COUNT query.
        source = self.bq.get_table(table.source_table)
        if source.table_type != "TABLE":
            # A view's metadata counts no rows (none, or 0 on the emulator): read it as a small
            # table (a full scan with LIMIT; TABLESAMPLE takes tables only), never as an empty one.
            return read_sample(self.bq, table.source_table, rows, rows)
        return read_sample(self.bq, table.source_table, source.num_rows or 0, rows)

    def reference_keys(
        self, parent: TablePlan, parent_column: str, child: TablePlan, child_column: str
    ) -> tuple[list[Any], list[Any]]:
        """The parent's keys and the child's references, as the sources hold them."""
        parent_records, child_records = self.records(parent), self.records(child)
        if parent_records is None and child_records is None:
            return reference_keys(self.bq, parent.source_table, parent_column, child.source_table, child_column)
        return self._column(parent, parent_records, parent_column), self._column(child, child_records, child_column)

    def _column(self, table: TablePlan, records: Iterable[dict[str, Any]] | None, column: str) -> list[Any]:
        if records is not None:
            # As many values as the BigQuery query reads: one more than are scored.
            return [value_at(r, column) for r in islice(records, MAX_KEY_VALUES + 1)]
        return column_values(self.bq, table.source_table, column)

    def leaked_values(self, table: TablePlan, target: bigquery.Client) -> int:
        """Distinct target values of identifying columns that are also values of the source column."""
        records = self.records(table)
        if records is None:
            return count_shared_values(target, table.source_table, table.target_table, table.columns)
        source = exclusions_from_records(table, records)
        synthetic = fetch_digests(target, table.target_table, table.columns)
        return sum(len(set(digests) & set(source.get(path, ()))) for path, digests in synthetic.items())

    def category_counts(self, table: TablePlan) -> dict[str, dict[Any, int]]:
        paths = categorical_paths(table)
        records = self.records(table)
        if records is not None:
            counts: dict[str, Counter[Any]] = {path: Counter() for path in paths}
            for record in records if paths else ():  # one pass: a large file's rows are streamed once
                for path, seen in counts.items():
                    if (value := value_at(record, path)) is not None:
                        seen[value] += 1
            return {path: dict(seen) for path, seen in counts.items()}
        if not paths:
            return {}
        return value_counts(self.bq, table.source_table, paths)


def spread_sample(rows: Sequence[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Every k-th row: deterministic and spread over the whole file, not its first block."""
    if size <= 0 or not rows:
        return []
    step = max(1, math.ceil(len(rows) / size))
    return list(rows[::step])[:size]


def categorical_paths(table: TablePlan) -> list[str]:
    """Leaf paths generated from observed categories (outside arrays): where rare values could leak."""
    return [
        path
        for path, column in leaf_plans(table.columns).items()
        if isinstance(column.generator, Categorical) and column.mode != "REPEATED"
    ]


def column_values(client: bigquery.Client, table_id: str, column: str) -> list[Any]:
    sql = f"SELECT t.{quote_column(column)} AS v FROM {quote_table(table_id)} AS t LIMIT {MAX_KEY_VALUES + 1}"
    return [json_safe(row["v"]) for row in client.query(sql).result()]


def reference_keys_sql(parent_table: str, parent_column: str, child_table: str, child_column: str) -> str:
    """Parent keys (side 'p') and child references (side 'c') in one query: a key and its
    references share a type, so they fit one column."""
    limit = MAX_KEY_VALUES + 1
    return (
        f"(SELECT 'p' AS side, t.{quote_column(parent_column)} AS k FROM {quote_table(parent_table)} AS t"
        f" LIMIT {limit})\nUNION ALL\n"
        f"(SELECT 'c' AS side, t.{quote_column(child_column)} AS k FROM {quote_table(child_table)} AS t"
        f" LIMIT {limit})"
    )


def reference_keys(
    client: bigquery.Client, parent_table: str, parent_column: str, child_table: str, child_column: str
) -> tuple[list[Any], list[Any]]:
    sides: dict[str, list[Any]] = {"p": [], "c": []}
    for row in client.query(reference_keys_sql(parent_table, parent_column, child_table, child_column)).result():
        sides[row["side"]].append(json_safe(row["k"]))
    return sides["p"], sides["c"]


def value_counts_sql(table_id: str, paths: Sequence[str]) -> str:
    """Counts of every value of several columns in one query; values travel as JSON text
    because the columns' types differ and UNION ALL needs one."""
    return "\nUNION ALL\n".join(
        f"(SELECT {string_literal(path)} AS path, TO_JSON_STRING(v) AS v, COUNT(*) AS n"
        f" FROM (SELECT t.{quote_column(path)} AS v FROM {quote_table(table_id)} AS t)"
        f" WHERE v IS NOT NULL GROUP BY v LIMIT {MAX_CATEGORY_VALUES})"
        for path in paths
    )


def value_counts(client: bigquery.Client, table_id: str, paths: Sequence[str]) -> dict[str, dict[Any, int]]:
    counts: dict[str, dict[Any, int]] = {path: {} for path in paths}
    for row in client.query(value_counts_sql(table_id, paths)).result():
        counts[row["path"]][json.loads(row["v"])] = int(row["n"])
    return counts


# ---------------------------------------------------------------------------------------------
# Rows to frames
# ---------------------------------------------------------------------------------------------


def flatten_row(row: Mapping[str, Any], columns: Sequence[ColumnSchema], prefix: str = "") -> dict[str, Any]:
    """A JSON row as dotted leaf paths; arrays are left out (fidelity compares scalars)."""
    flat: dict[str, Any] = {}
    for column in columns:
        if column.is_repeated:
            continue
        value = row.get(column.name) if isinstance(row, Mapping) else None
        path = f"{prefix}{column.name}"
        if column.is_record:
            flat.update(flatten_row(value or {}, column.fields, f"{path}."))
        elif column.type in {"NUMERIC", "BIGNUMERIC"} and value is not None:
            flat[path] = float(value)  # file sources keep NUMERIC as text, BigQuery as a number
        else:
            flat[path] = value
    return flat


def rows_to_frame(rows: Sequence[Mapping[str, Any]], table: TablePlan) -> pd.DataFrame:
    flat = [flatten_row(row, table.schema_) for row in rows]
    columns = list(flatten_row({}, table.schema_).keys())
    return pd.DataFrame(flat, columns=columns)


# ---------------------------------------------------------------------------------------------
# Evaluating one table
# ---------------------------------------------------------------------------------------------


@dataclass
class TableSamples:
    source: pd.DataFrame
    synthetic: pd.DataFrame


def children_per_parent_score(
    reader: SourceReader, plan: DatasetPlan, table: TablePlan, client: bigquery.Client
) -> float | None:
    """Mean SDMetrics cardinality similarity over the table's single-column references."""
    scores: list[float] = []
    for rel in plan.relationships:
        if rel.child_table != table.name or len(rel.child_columns) != 1:
            continue
        parent = plan.table(rel.parent_table)
        child_column, parent_column = rel.child_columns[0], rel.parent_columns[0]
        values = [
            *reader.reference_keys(parent, parent_column, table, child_column),
            *reference_keys(client, parent.target_table, parent_column, table.target_table, child_column),
        ]
        if any(len(v) > MAX_KEY_VALUES for v in values):
            log.info("%s: cardinality of %s not scored, more than %d keys", table.name, child_column, MAX_KEY_VALUES)
            continue
        score = metrics.cardinality_score(*(pd.Series(v) for v in values))
        if score is not None:
            scores.append(score)
    return sum(scores) / len(scores) if scores else None


# A column the source fills must hold a value in the target when its plan expects at least
# this many (an all-NULL column is then no accident of the draw: e**-10 for a Poisson count).
MIN_EXPECTED_FILLED = 10


def expected_filled(column: ColumnPlan, rows: int) -> float:
    """How many of ``rows`` rows the plan expects to hold a value (a non-empty array) in ``column``.

    A column planned as NULL while the source fills it is what the check is for: it counts as
    expected in every row.
    """
    if isinstance(column.generator, NullValue):
        return float(rows) * MIN_EXPECTED_FILLED
    share = 1.0 - column.null_rate
    if isinstance(column.generator, ArrayValue):
        lengths = column.generator.lengths
        total = sum(lengths.weights) or 1.0
        share *= sum(w for v, w in zip(lengths.values, lengths.weights, strict=True) if v) / total
    return rows * share


def filled_columns(table: TablePlan, rows: list[dict[str, Any]], rows_in_target: int) -> list[tuple[str, bool]]:
    """Top-level columns the target must fill, as ``(name, repeated)``: with a value in some source
    row, and planned to hold at least ``MIN_EXPECTED_FILLED`` values in the target."""
    plans = {c.name: c for c in table.columns}
    return [
        (c.name, c.is_repeated)
        for c in table.schema_
        if c.name in plans
        and expected_filled(plans[c.name], rows_in_target) >= MIN_EXPECTED_FILLED
        and any(row.get(c.name) not in (None, [], {}) for row in rows)
    ]


def evaluate_table(
    reader: SourceReader,
    plan: DatasetPlan,
    checked: TableQuality,
    *,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    min_category_count: int = 5,
) -> tuple[TableQuality, TableSamples]:
    """Fidelity, privacy, validity and the remaining integrity checks of one loaded table."""
    table = plan.table(checked.table)
    client = reader.bq
    source_rows = reader.sample(table, sample_rows)
    source = rows_to_frame(source_rows, table)
    synthetic = rows_to_frame(read_sample(client, table.target_table, checked.rows_in_target, sample_rows), table)

    required = [c.name for c in table.schema_ if c.mode == "REQUIRED"]
    target_schema = columns_from_bigquery(client.get_table(table.target_table).schema)
    identifying = [p.path for p in identifying_paths(table.columns)]

    fidelity = metrics.fidelity_scores(source, synthetic, table)  # per-column validity included
    fidelity = fidelity.model_copy(update={"cardinality": children_per_parent_score(reader, plan, table, client)})
    privacy = metrics.privacy_scores(
        source,
        synthetic,
        table,
        leaked_values=reader.leaked_values(table, client),
        identifying_columns=identifying,
        source_value_counts=reader.category_counts(table),
        min_category_count=min_category_count,
        seed=plan.seed,
    )
    evaluated = checked.model_copy(
        update={
            "not_null_violations": integrity.count_not_null_violations(client, table.target_table, required),
            "type_violations": len(schema_differences(table.schema_, target_schema)),
            # Never a silent column of NULLs: a column the source fills must be filled in the target.
            "columns_left_empty": integrity.columns_left_empty(
                client, table.target_table, filled_columns(table, source_rows, checked.rows_in_target)
            ),
            "fidelity": fidelity,
            "privacy": privacy,
            "validity": metrics.table_validity(fidelity.columns),
        }
    )
    return evaluated, TableSamples(source, synthetic)
