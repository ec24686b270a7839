"""The columnar engine's Parquet files load into BigQuery (the emulator) with the values its NDJSON gives.

The same rows of a table with every kind the columnar engine writes (NUMERIC, DATE, DATETIME,
TIMESTAMP, TIME, BOOL, FLOAT64, REPEATED columns and a RECORD, NULLs) are generated twice, as
NDJSON and as Parquet, loaded by the real loader into two tables, and read back column by
column as ``TO_JSON_STRING``: every value must be the same. Loading the Parquet batch again is
a no-op, as for NDJSON (idempotent per batch).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery, storage

from bqsynth.delivery.load import load_table, upload_files
from bqsynth.gcp.clients import bigquery_client
from bqsynth.generation.columnar import generate_table_columnar
from tests.unit.test_columnar_engine import RULES, SEED, every_kind_table

ROWS = 1500


@pytest.fixture(scope="module")
def bq(local_stack: object) -> bigquery.Client:
    return bigquery_client()


@pytest.fixture
def dataset(bq: bigquery.Client) -> Iterator[str]:
    name = f"{bq.project}.parquet_{uuid.uuid4().hex[:10]}"
    bq.create_dataset(name)
    try:
        yield name
    finally:
        bq.delete_dataset(name, delete_contents=True, not_found_ok=True)


def _load(bq: bigquery.Client, files: list[Path], table_id: str, columns: list, batch: str) -> int:
    gcs = storage.Client(project=bq.project)
    uris = upload_files(gcs, "bqsynth-parquet-it", f"{batch}/{uuid.uuid4().hex[:6]}/", files)
    return load_table(bq, table_id, uris, columns, batch_id=batch, write_disposition="WRITE_APPEND")


def _columns(bq: bigquery.Client, table_id: str, names: list[str]) -> dict[str, list[str]]:
    select = ", ".join(f"TO_JSON_STRING(`{n}`) AS `{n}`" for n in names)
    rows = list(bq.query(f"SELECT {select} FROM `{table_id}` ORDER BY sale_id").result())
    return {n: [r[n] for r in rows] for n in names}


@pytest.mark.parametrize("rules", [None, RULES], ids=["no-rules", "rules"])
def test_parquet_loads_the_values_ndjson_loads(
    bq: bigquery.Client, dataset: str, tmp_path: Path, rules: list | None
) -> None:
    table = every_kind_table(rows=ROWS, rules=rules)
    ndjson = generate_table_columnar(table, SEED, tmp_path / "n", shard_rows=600)[0]
    parquet = generate_table_columnar(table, SEED, tmp_path / "p", shard_rows=600, file_format="parquet")[0]
    assert {f.suffix for f in parquet} == {".parquet"} and len(parquet) == 3
    batch = f"b{uuid.uuid4().hex[:8]}"
    assert _load(bq, ndjson, f"{dataset}.from_ndjson", table.schema_, batch) == ROWS
    assert _load(bq, parquet, f"{dataset}.from_parquet", table.schema_, batch) == ROWS
    # The same batch again: the job id is taken, nothing more is loaded.
    assert _load(bq, parquet, f"{dataset}.from_parquet", table.schema_, batch) == ROWS

    names = [c.name for c in table.schema_]
    expected = _columns(bq, f"{dataset}.from_ndjson", names)
    got = _columns(bq, f"{dataset}.from_parquet", names)
    assert len(got["sale_id"]) == ROWS
    for name in names:
        assert got[name] == expected[name], name
    filled = {n: sum(v != "null" and v != "[]" for v in values) for n, values in got.items()}
    assert [n for n, count in filled.items() if not count] == ["nothing"]  # every other column has values
