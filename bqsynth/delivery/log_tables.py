"""Append-only BigQuery log tables: the mechanics shared by the audit trail and the quality table.

Rows are written by parallel pipeline steps at the same moment, so the write must
not contend on the table. Streaming inserts (``insert_rows_json``) are the mechanism:
on BigQuery they do not count against the 1,500 load jobs per table per day, need no
job slot, are safe from many writers at once and are visible to queries at once
(from the streaming buffer). A load job per row would be atomic too but is slow
(seconds) and quota-bound; DML INSERTs queue behind each other per table. The
emulator accepts streaming from many threads, makes the rows visible at once and
de-duplicates ``insertId`` like BigQuery; this was checked on local-bigquery 0.3.2.

Every log table is partitioned by day on ``insert_timestamp`` and clustered by batch and
table, so that reading one batch scans little; every column is NULLABLE, so that adding
one later is a compatible change and a row may leave what does not apply to it empty.

What differs between two log tables (their columns, their error class and the words of
their messages) is a ``LogTable``; the rest is here: small pure functions and the two
calls that talk to BigQuery, ``ensure_log_table`` and ``stream_rows``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions
from google.cloud import bigquery

from bqsynth.delivery.load import ensure_dataset

# (name, type, description) per column.
Columns = tuple[tuple[str, str, str], ...]

PARTITION_COLUMN = "insert_timestamp"
CLUSTER_COLUMNS = ["batch_id", "table_name"]
# On BigQuery a streaming insert into a table created seconds ago can get a 404 for a
# short while; waiting this long before giving up covers that without hiding a real miss.
NOT_FOUND_GRACE_SECONDS = 30.0
NOT_FOUND_RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class LogTable:
    """One kind of log table: its columns, the error it raises and the words its messages use.

    ``noun`` names it in messages ("the {noun} table"); ``ensure_advice`` says what to do
    when the table is missing; ``schema_function`` is what to compare an older table with.
    """

    noun: str
    columns: Columns
    error: type[Exception]
    ensure_advice: str
    schema_function: str


def log_schema(columns: Columns) -> list[bigquery.SchemaField]:
    """The BigQuery schema of ``columns``, every field NULLABLE."""
    return [
        bigquery.SchemaField(name, field_type, mode="NULLABLE", description=description)
        for name, field_type, description in columns
    ]


def iso_utc(moment: datetime) -> str:
    """An ISO timestamp in UTC ending in ``Z``, as BigQuery's streaming API reads it."""
    # A naive datetime is taken as UTC rather than local time: pipeline workers run in UTC
    # and BigQuery would otherwise read a local wall-clock time as UTC anyway.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_table_id(client: bigquery.Client, table_id: str, log: LogTable) -> bigquery.TableReference:
    """``project.dataset.table``, or ``dataset.table`` in the client's project."""
    try:
        return bigquery.TableReference.from_string(table_id, default_project=client.project)
    except ValueError as error:
        raise log.error(
            f"{log.noun} table id must be project.dataset.table or dataset.table, got {table_id!r}"
        ) from error


def new_log_table(reference: bigquery.TableReference, columns: Columns) -> bigquery.Table:
    """The table to create: partitioned by day and clustered by batch, so that reading one
    batch scans little (local-bigquery accepts both)."""
    table = bigquery.Table(reference, schema=log_schema(columns))
    table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field=PARTITION_COLUMN)
    table.clustering_fields = list(CLUSTER_COLUMNS)
    return table


def missing_columns(actual: Sequence[bigquery.SchemaField], columns: Columns) -> list[bigquery.SchemaField]:
    """The fields of ``columns`` that ``actual`` lacks, in the order of ``columns``."""
    present = {field.name for field in actual}
    return [field for field in log_schema(columns) if field.name not in present]


def describe_insert_errors(errors: Sequence[Mapping[str, Any]], row_labels: Sequence[str] = ()) -> str:
    """The rejections ``insert_rows_json`` returned, one ``where: why`` per error.

    ``row_labels`` names the rows by their index (a table name, say); without one a
    rejection is placed by its field, or as ``row``.
    """
    messages = []
    for entry in errors:
        index = entry.get("index")
        label = row_labels[index] if isinstance(index, int) and 0 <= index < len(row_labels) else None
        for e in entry.get("errors", []):
            where = " ".join(part for part in (label, e.get("location")) if part) or "row"
            messages.append(f"{where}: {e.get('message') or e.get('reason')}")
    return "; ".join(messages) or json.dumps(list(errors))


def ensure_log_table(
    client: bigquery.Client, table_id: str, log: LogTable, location: str | None = None
) -> bigquery.Table:
    """Create the dataset and the table when missing; add columns an older table lacks.

    Safe to call from parallel steps: creation races end in "already exists", which is
    what we want. Looked up before created, because creating needs a permission that a
    pipeline writing into an existing table may rightly not have.
    """
    reference = parse_table_id(client, table_id, log)
    try:
        ensure_dataset(client, bigquery.DatasetReference(reference.project, reference.dataset_id), location)
        try:
            existing = client.get_table(reference)
        except exceptions.NotFound:
            existing = client.create_table(new_log_table(reference, log.columns), exists_ok=True)
        missing = missing_columns(existing.schema, log.columns)
        if missing:
            # Appending NULLABLE columns is a compatible change; older rows read them as NULL.
            existing.schema = list(existing.schema) + missing
            existing = client.update_table(existing, ["schema"])
        return existing
    except exceptions.GoogleAPICallError as error:
        raise log.error(
            f"could not create or update the {log.noun} table {table_id}: {error.message}. "
            "Check that the identity running the pipeline may create datasets and tables there, "
            f"or point the {log.noun} table at a dataset it can write to."
        ) from error


def stream_rows(
    client: bigquery.Client,
    table_id: str,
    log: LogTable,
    rows: Sequence[Mapping[str, Any]],
    row_ids: Sequence[str],
    what: str,
    row_labels: Sequence[str] = (),
) -> None:
    """Stream ``rows`` with their ``insertId``s; raise ``log.error`` when BigQuery rejects any.

    ``what`` names the rows in messages ("the audit row for batch ..."). A 404 is retried
    for ``NOT_FOUND_GRACE_SECONDS`` while the table exists (a fresh table on BigQuery), and
    fails at once when it does not. ``insert_rows_json`` reports rejected rows in its return
    value, not as an exception; an empty list is the only success.
    """
    deadline = time.monotonic() + NOT_FOUND_GRACE_SECONDS
    while True:
        try:
            errors = client.insert_rows_json(table_id, list(rows), row_ids=list(row_ids))
            break
        except exceptions.NotFound as error:
            if time.monotonic() >= deadline or not table_exists(client, table_id):
                raise log.error(
                    f"{log.noun} table {table_id} not found: {error.message}. {log.ensure_advice}"
                ) from error
            time.sleep(NOT_FOUND_RETRY_SECONDS)
        except exceptions.GoogleAPICallError as error:
            raise log.error(f"could not write {what} to {table_id}: {error.message}") from error
    if errors:
        raise log.error(
            f"BigQuery rejected {what} in {table_id}: {describe_insert_errors(errors, row_labels)}. "
            f"If the {log.noun} table was created by another version, "
            f"compare its schema with {log.schema_function}."
        )


def table_exists(client: bigquery.Client, table_id: str) -> bool:
    try:
        client.get_table(table_id)
    except exceptions.NotFound:
        return False
    return True
