"""Profiles built in memory from the demo warehouse, as the profile step would write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bqsynth.generation.parquet_files import read_rows
from bqsynth.models import ColumnSchema, ColumnStats, ForeignKey, TableProfile, ValueCount, leaf_schemas, normalise_type
from bqsynth.semantics import sample_values
from demo import warehouse


def _get(row: dict[str, Any], path: str) -> Any:
    node: Any = row
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def column_stats(path: str, column_type: str, rows: list[dict[str, Any]], quantiles: int = 10) -> ColumnStats:
    """What the profiler computes in BigQuery, computed here over all rows."""
    values = sample_values(TableProfile(table_id="p.d.h", name="h", sample=rows), path)
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:20]
    kind = normalise_type(column_type)
    ordered = sorted(values, key=lambda v: float(v) if kind in ("NUMERIC", "FLOAT64", "INT64") else str(v))
    qs: list[Any] = []
    if ordered and kind in ("INT64", "NUMERIC", "FLOAT64", "DATE", "DATETIME", "TIMESTAMP"):
        picks = [ordered[round(i * (len(ordered) - 1) / quantiles)] for i in range(quantiles + 1)]
        qs = [float(v) if kind in ("NUMERIC", "FLOAT64", "INT64") else str(v) for v in picks]
    return ColumnStats(
        path=path,
        type=kind,
        row_count=len(rows),
        null_count=sum(1 for row in rows if _get(row, path) is None),
        distinct_count=len(counts),
        top_values=[ValueCount(value=v, count=c) for v, c in top],
        quantiles=qs,
        min_value=qs[0] if qs else None,
        max_value=qs[-1] if qs else None,
        max_scale=2 if kind == "NUMERIC" else None,
    )


def schema_of(column: Any) -> ColumnSchema:
    kind = "RECORD" if column.type == "STRUCT" else column.type
    return ColumnSchema(name=column.name, type=kind, mode=column.mode, fields=[schema_of(f) for f in column.fields])


def demo_profiles(seed: int = 42, scale: float = 1.0, dataset: str = "proj.ds") -> list[TableProfile]:
    profiles = []
    for spec in warehouse.build_demo_tables(seed=seed, scale=scale):
        schema = [schema_of(c) for c in spec.columns]
        profiles.append(
            TableProfile(
                table_id=f"{dataset}.{spec.name}",
                name=spec.name,
                row_count=len(spec.rows),
                columns=schema,
                primary_key=[spec.primary_key] if spec.primary_key and spec.primary_key_declared else [],
                foreign_keys=[
                    ForeignKey(
                        columns=[f.column],
                        referenced_table=f"{dataset}.{f.ref_table}",
                        referenced_columns=[f.ref_column],
                    )
                    for f in spec.declared_foreign_keys
                ],
                stats={p: column_stats(p, c.type, spec.rows) for p, c in leaf_schemas(schema).items()},
                sample=spec.rows[:200],
            )
        )
    return profiles


def generated_rows(files: list[Path]) -> list[dict[str, Any]]:
    """The rows of generated files as the load reads them: Parquet (the columnar engine's) or NDJSON."""
    return [
        row
        for path in files
        for row in (read_rows(path) if path.suffix == ".parquet" else map(json.loads, path.read_text().splitlines()))
    ]
