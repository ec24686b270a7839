"""Move tables between the BigQuery emulator and flat NDJSON files (benchmark driver side, .venv).

The SDV side only sees flat tables, so every table (source and synthetic alike, through the
same code) is written with RECORD fields expanded to ``parent.child`` columns and REPEATED
columns as a JSON string (``["vip", "student"]``): SDV models that as one categorical value.
No pandas here: the project venv is not guaranteed to have it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import tpch_schema
from google.cloud import bigquery

# BigQuery's legacy type names (what the REST schema returns) -> GoogleSQL names.
TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "BIGNUMERIC": "NUMERIC", "RECORD": "STRUCT"}


def _scalar(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def leaf_types(schema: Iterable[bigquery.SchemaField], prefix: str = "") -> dict[str, str]:
    """Flat column name -> GoogleSQL type; REPEATED columns are ``ARRAY`` (stored as JSON text)."""
    types: dict[str, str] = {}
    for field in schema:
        path = f"{prefix}{field.name}"
        if field.mode == "REPEATED":
            types[path] = "ARRAY"
        elif field.field_type in ("RECORD", "STRUCT"):
            types.update(leaf_types(field.fields, f"{path}."))
        else:
            types[path] = TYPE_NAMES.get(field.field_type, field.field_type)
    return types


def _flatten(schema: Iterable[bigquery.SchemaField], values: dict[str, Any] | None, prefix: str, out: dict) -> None:
    for field in schema:
        path = f"{prefix}{field.name}"
        value = None if values is None else values.get(field.name)
        if field.mode == "REPEATED":
            out[path] = json.dumps(value or [], default=_scalar, sort_keys=True)
        elif field.field_type in ("RECORD", "STRUCT"):
            _flatten(field.fields, value, f"{path}.", out)
        else:
            out[path] = _scalar(value)


def export_table(client: bigquery.Client, table_id: str, path: Path) -> tuple[int, dict[str, str]]:
    """Write every row of ``table_id`` to ``path`` as flat NDJSON; return (rows, flat column types)."""
    table = client.get_table(table_id)
    count = 0
    with path.open("w") as out:
        # list_rows (tabledata.list), not a query: no job, and no Storage API (unreachable offline).
        for row in client.list_rows(table, page_size=20_000):
            flat: dict[str, Any] = {}
            _flatten(table.schema, dict(row.items()), "", flat)
            out.write(json.dumps(flat) + "\n")
            count += 1
    return count, leaf_types(table.schema)


def recreate_dataset(client: bigquery.Client, project: str, dataset: str) -> None:
    """Empty a benchmark-owned dataset (never a shared one) so reruns start from nothing."""
    client.delete_dataset(f"{project}.{dataset}", delete_contents=True, not_found_ok=True)
    client.create_dataset(f"{project}.{dataset}", exists_ok=True)


def load_tpch(client: bigquery.Client, project: str, dataset: str, files: Path) -> dict[str, int]:
    """Create the TPC-H tables with their specification keys (NOT ENFORCED) and load ``files/<t>.jsonl``."""
    recreate_dataset(client, project, dataset)
    for table in tpch_schema.TABLE_ORDER:
        client.query(tpch_schema.ddl(project, dataset, table)).result()
    jobs = []
    for table in tpch_schema.TABLE_ORDER:
        schema = [bigquery.SchemaField(n, t, mode="REQUIRED") for n, t in tpch_schema.COLUMNS[table].items()]
        config = bigquery.LoadJobConfig(
            schema=schema,
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        )
        with (files / f"{table}.jsonl").open("rb") as data:
            jobs.append(client.load_table_from_file(data, f"{project}.{dataset}.{table}", job_config=config))
    for job in jobs:
        job.result()
    return {t: client.get_table(f"{project}.{dataset}.{t}").num_rows for t in tpch_schema.TABLE_ORDER}
