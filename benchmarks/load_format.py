"""Load time and type fidelity of the same rows as NDJSON and as Parquet, on the BigQuery emulator (issue 14, item 4).

Run (the emulators running, ``eval "$(bash scripts/local_stack.sh env)"``):

    PYTHONPATH=. .venv/bin/python benchmarks/load_format.py [--rows 250000] [--repeats 2]

Two measurements, each on the same rows written both ways:

* **speed**: the 23-column fact table of ``engine_speed.py`` (``--rows`` rows, one shard), as the
  columnar engine writes it (NDJSON), and the same values as one Parquet file (Snappy). Both are
  uploaded to the GCS emulator and loaded from ``gs://`` into a fresh table with the table's
  schema (the Parquet written by the columnar engine itself where pyarrow is installed, else
  converted from the NDJSON); the figure is the wall time of the load job (``load_table_from_uri(...).result()``),
  ``--repeats`` times each, the formats alternating. Printed besides: file sizes, and the time
  to convert the NDJSON to Parquet (pyarrow, a stand-in for an engine writing Parquet itself).
* **fidelity**: the rows of ``tests/integration/test_every_type.py``'s source tables (every
  BigQuery type: JSON, GEOGRAPHY, BYTES, BIGNUMERIC, NUMERIC(10,2), STRING(20), an ARRAY of
  STRUCTs holding an ARRAY and a STRUCT; INTERVAL and RANGE<DATE|DATETIME|TIMESTAMP>; plus
  DATE, DATETIME, TIMESTAMP, TIME, BOOL, FLOAT64) loaded from NDJSON and from Parquet; each
  column is then read back as ``TO_JSON_STRING`` and compared, row by row, with the NDJSON
  load (or, where NDJSON cannot load it, with the values the SQL literals give).

pyarrow is not in the project's venv (it is no runtime dependency of bqsynth): Parquet is
written in a subprocess by the emulator venv's Python (``$BQSYNTH_STACK_DIR/venv``, which has
pyarrow 26), or by ``--arrow-python``. The conversion maps BigQuery types to Parquet as
BigQuery documents for Parquet loads: NUMERIC -> DECIMAL(38,9), BIGNUMERIC -> DECIMAL(76,38),
DATE -> DATE, DATETIME -> TIMESTAMP(isAdjustedToUTC=false), TIMESTAMP -> TIMESTAMP(UTC),
TIME -> TIME, JSON and GEOGRAPHY (WKT) -> STRING, BYTES -> BYTE_ARRAY, RECORD -> group,
REPEATED -> LIST (which BigQuery reads as REPEATED only with
``parquet_options.enable_list_inference``). INTERVAL and RANGE have no Parquet type BigQuery
documents loading from: they are written as their BigQuery text (and, for RANGE, also tried as
a ``{start, end}`` group) to show what the emulator does with them.

Timings on this 2-core machine are noisy (other work shares it): compare formats within one
run, and run it twice.

Results and decision: see the "Load file format" section of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SEED = 42
BUCKET = "bqsynth-bench-load-format"


# ---------------------------------------------------------------------------------------------
# The Parquet side: runs in a Python that has pyarrow (this file with --convert)
# ---------------------------------------------------------------------------------------------


def _arrow_type(column: dict[str, Any], range_as: str) -> Any:
    import pyarrow as pa

    kind = column["type"]
    if kind == "RECORD":
        inner = pa.struct([_arrow_field(f, range_as) for f in column["fields"]])
    elif kind == "RANGE" and range_as == "struct":
        element = _arrow_type({"type": column["range_element_type"], "mode": "NULLABLE"}, range_as)
        inner = pa.struct([pa.field("start", element), pa.field("end", element)])
    else:
        inner = {
            "INT64": pa.int64(),
            "FLOAT64": pa.float64(),
            "BOOL": pa.bool_(),
            "STRING": pa.string(),
            "BYTES": pa.binary(),
            "NUMERIC": pa.decimal128(38, 9),
            "BIGNUMERIC": pa.decimal256(76, 38),
            "DATE": pa.date32(),
            "DATETIME": pa.timestamp("us"),
            "TIMESTAMP": pa.timestamp("us", tz="UTC"),
            "TIME": pa.time64("us"),
            "JSON": pa.string(),
            "GEOGRAPHY": pa.string(),
            "INTERVAL": pa.string(),
            "RANGE": pa.string(),
        }[kind]
    return pa.list_(inner) if column["mode"] == "REPEATED" else inner


def _arrow_field(column: dict[str, Any], range_as: str) -> Any:
    import pyarrow as pa

    # Nullable in the file whatever the mode: BigQuery checks REQUIRED against the values.
    return pa.field(column["name"], _arrow_type(column, range_as))


def _arrow_value(value: Any, column: dict[str, Any], range_as: str) -> Any:
    import datetime as dt
    from decimal import Decimal

    if value is None:
        return None
    if column["mode"] == "REPEATED":
        element = dict(column, mode="NULLABLE")
        return [_arrow_value(v, element, range_as) for v in value]
    match column["type"]:
        case "RECORD":
            return {f["name"]: _arrow_value(value.get(f["name"]), f, range_as) for f in column["fields"]}
        case "NUMERIC" | "BIGNUMERIC":
            return Decimal(str(value))
        case "DATE":
            return dt.date.fromisoformat(value)
        case "DATETIME":
            return dt.datetime.fromisoformat(value.replace("T", " "))
        case "TIMESTAMP":
            text = value.removesuffix(" UTC").removesuffix("Z")
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        case "TIME":
            return dt.time.fromisoformat(value)
        case "BYTES":
            return base64.b64decode(value)
        case "JSON":
            return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        case "RANGE" if range_as == "struct":
            start, end = value.strip("[)").split(", ")
            element = {"type": column["range_element_type"], "mode": "NULLABLE"}
            bound = lambda t: None if t == "UNBOUNDED" else _arrow_value(t, element, range_as)  # noqa: E731
            return {"start": bound(start), "end": bound(end)}
    return value


def convert(ndjson: Path, schema_file: Path, parquet: Path, range_as: str) -> None:
    """NDJSON rows -> one Parquet file with the Arrow schema the BigQuery schema maps to."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = json.loads(schema_file.read_text())
    arrow = pa.schema([_arrow_field(c, range_as) for c in schema])
    columns: dict[str, list[Any]] = {c["name"]: [] for c in schema}
    with ndjson.open() as handle:
        for line in handle:
            row = json.loads(line)
            for c in schema:
                columns[c["name"]].append(_arrow_value(row.get(c["name"]), c, range_as))
    table = pa.table({c["name"]: pa.array(columns[c["name"]], type=arrow.field(c["name"]).type) for c in schema})
    pq.write_table(table, parquet, compression="snappy")


# ---------------------------------------------------------------------------------------------
# The driver: the project's venv
# ---------------------------------------------------------------------------------------------


def arrow_python(given: str | None) -> str:
    if given:
        return given
    try:
        import pyarrow  # noqa: F401  (a requirement since the columnar engine writes Parquet)

        return sys.executable
    except ImportError:
        pass
    stack = os.environ.get("BQSYNTH_STACK_DIR") or str(Path(__file__).resolve().parents[1] / ".local-stack")
    return str(Path(stack) / "venv" / "bin" / "python")


def to_parquet(python: str, ndjson: Path, schema: list[Any], range_as: str = "string") -> tuple[Path, float]:
    schema_file = ndjson.with_suffix(".schema.json")
    schema_file.write_text(json.dumps([c.model_dump() for c in schema]))
    parquet = ndjson.with_suffix(f".{range_as}.parquet")
    started = time.perf_counter()
    command = [python, __file__, "--convert", str(ndjson), str(schema_file), str(parquet), range_as]
    subprocess.run(command, check=True)
    return parquet, time.perf_counter() - started


def load_seconds(client: Any, uri: str, table_id: str, schema: list[Any], fmt: str) -> tuple[float, str | None]:
    """Wall seconds of one load job into a new table; the error, if it failed."""
    from google.cloud import bigquery

    from bqsynth.gcp.schema import to_bigquery_schema

    fields = to_bigquery_schema(schema)
    client.create_table(bigquery.Table(table_id, schema=fields))
    config = bigquery.LoadJobConfig(schema=fields, source_format=fmt, write_disposition="WRITE_APPEND")
    if fmt == "PARQUET":
        options = bigquery.ParquetOptions()
        options.enable_list_inference = True
        config.parquet_options = options
    started = time.perf_counter()
    job = client.load_table_from_uri(uri, table_id, job_config=config)
    try:
        job.result()
    except Exception as error:  # noqa: BLE001 - the benchmark reports it
        return time.perf_counter() - started, str(getattr(error, "message", error)).split("\n")[0][:160]
    return time.perf_counter() - started, None


def upload(path: Path, name: str) -> str:
    from google.cloud import storage

    from bqsynth.delivery.load import ensure_bucket

    client = storage.Client()
    bucket = ensure_bucket(client, BUCKET)
    bucket.blob(name).upload_from_filename(str(path))
    return f"gs://{BUCKET}/{name}"


def speed(client: Any, dataset: str, python: str, rows: int, repeats: int, work: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from engine_speed import fact_table

    from bqsynth.generation.columnar import generate_table_columnar

    table = fact_table(rows)
    started = time.perf_counter()
    files, made, _ = generate_table_columnar(table, SEED, work, shard_rows=rows)
    generated = time.perf_counter() - started
    ndjson = files[0]
    try:
        started = time.perf_counter()
        parquet = generate_table_columnar(table, SEED, work / "engine", shard_rows=rows, file_format="parquet")[0][0]
        written = f"the columnar engine wrote it as Parquet in {time.perf_counter() - started:.2f} s"
    except ImportError:  # no pyarrow in this venv: the same values converted by another Python
        parquet, converted = to_parquet(python, ndjson, table.schema_)
        written = f"pyarrow converted it to Parquet in {converted:.2f} s"
    run = uuid.uuid4().hex[:8]
    uris = {
        "NEWLINE_DELIMITED_JSON": upload(ndjson, f"{run}/fact.json"),
        "PARQUET": upload(parquet, f"{run}/fact.parquet"),
    }
    print(f"fact table, {made:,} rows x {len(table.schema_)} columns (timings noisy: 2 shared cores)")
    print(f"  the columnar engine wrote the NDJSON in {generated:.2f} s; {written}")
    print(
        f"  file size: NDJSON {ndjson.stat().st_size / 2**20:.1f} MiB, Parquet {parquet.stat().st_size / 2**20:.1f} MiB"
    )
    times: dict[str, list[float]] = {fmt: [] for fmt in uris}
    for repeat in range(repeats):
        for fmt in uris if repeat % 2 == 0 else reversed(list(uris)):
            seconds, error = load_seconds(
                client, uris[fmt], f"{dataset}.fact_{fmt[:4].lower()}_{repeat}", table.schema_, fmt
            )
            if error:
                print(f"  {fmt} load FAILED: {error}")
            times[fmt].append(seconds)
            count = next(
                iter(client.query(f"SELECT COUNT(*) FROM `{dataset}.fact_{fmt[:4].lower()}_{repeat}`").result())
            )[0]
            print(f"  load {repeat + 1}: {fmt:<22} {seconds:6.2f} s  ({count:,} rows in the table)", flush=True)
    for fmt, values in times.items():
        print(f"  {fmt:<22} best {min(values):.2f} s, {made / min(values):,.0f} rows/s")
    ratio = min(times["PARQUET"]) / min(times["NEWLINE_DELIMITED_JSON"])
    print(f"  Parquet / NDJSON load time (best of each): {ratio:.2f}")


def _every_type_sources() -> tuple[list[Any], list[dict[str, Any]], list[Any], list[dict[str, Any]]]:
    """The every-type test's source rows, with DATE/DATETIME/TIMESTAMP/TIME/BOOL/FLOAT64 columns added."""
    from google.cloud.bigquery import SchemaField

    from tests.integration.test_every_type import LOADABLE_SCHEMA, ROWS, TEMPORAL_SCHEMA, _loadable_rows

    loadable_schema = [
        *LOADABLE_SCHEMA,
        SchemaField("day", "DATE"),
        SchemaField("at", "DATETIME"),
        SchemaField("ts", "TIMESTAMP"),
        SchemaField("clock", "TIME"),
        SchemaField("flag", "BOOL"),
        SchemaField("ratio", "FLOAT64"),
        SchemaField("amounts", "NUMERIC", "REPEATED"),
        SchemaField("stamps", "DATETIME", "REPEATED"),
    ]
    loadable = _loadable_rows()
    for i, row in enumerate(loadable):
        row.update(
            day=f"2024-02-{1 + i % 28:02d}",
            at=f"2024-05-01 08:{i % 60:02d}:07.123456",
            ts=f"2024-06-01 00:00:{i % 60:02d}.5 UTC",
            clock=f"13:{i % 60:02d}:00.25",
            flag=i % 3 == 0,
            ratio=i / 7,
            amounts=[f"{i}.123456789", "-0.000000001"],
            stamps=[f"2023-12-31 23:59:{i % 60:02d}"],
            big=row["big"],
        )
        if i % 5 == 4:  # NULLs too
            row.update(day=None, at=None, ts=None, doc=None, geo=None, big=None, amount=None)
    temporal = [
        {
            "id": i + 1,
            "span": f"0-{i % 12} {i % 9} {i % 24}:30:0",
            "period": f"[2024-01-{1 + i % 20:02d}, 2024-03-{1 + i % 20:02d})",
            "shift": f"[2024-05-01 08:{i % 60:02d}:00, 2024-05-02 17:00:00)",
            "window": f"[2024-06-01 00:00:00 UTC, 2024-06-{2 + i % 9:02d} 00:00:00 UTC)",
        }
        for i in range(ROWS)
    ]
    return loadable_schema, loadable, TEMPORAL_SCHEMA, temporal


def _read_back(client: Any, table_id: str, names: list[str]) -> dict[str, list[str]]:
    select = ", ".join(f"TO_JSON_STRING(`{n}`) AS `{n}`" for n in names)
    rows = list(client.query(f"SELECT {select} FROM `{table_id}` ORDER BY id").result())
    return {n: [r[n] for r in rows] for n in names}


def fidelity(client: Any, dataset: str, python: str, work: Path) -> None:
    from google.cloud import bigquery

    from bqsynth.gcp.schema import columns_from_bigquery

    loadable_schema, loadable, temporal_schema, temporal = _every_type_sources()
    # The emulator applies from_base64 to BYTES whatever the format (a Parquet BYTE_ARRAY is no
    # base64 text), so its Parquet load of a BYTES column fails: the other types are checked apart.
    no_bytes = [f for f in loadable_schema if f.field_type != "BYTES"]
    print("\nevery-type rows: each column read back (TO_JSON_STRING) after a Parquet load, against the NDJSON load")
    for name, fields, rows in (
        ("loadable", loadable_schema, loadable),
        ("no_bytes", no_bytes, [{k: v for k, v in r.items() if not k.startswith("blob")} for r in loadable]),
        ("temporal", temporal_schema, temporal),
    ):
        schema = columns_from_bigquery(fields)
        ndjson = work / f"{name}.json"
        ndjson.write_text("".join(json.dumps(r) + "\n" for r in rows))
        names = [c.name for c in schema]
        ndjson_id = f"{dataset}.{name}_ndjson"
        _, error = load_seconds(
            client, upload(ndjson, f"{uuid.uuid4().hex[:8]}/{name}.json"), ndjson_id, schema, "NEWLINE_DELIMITED_JSON"
        )
        if error:
            # The reference then comes from SQL literals (INTERVAL and RANGE on the emulator).
            print(f"  {name}: the NDJSON load failed ({error}); reference values from SQL literals")
            client.delete_table(ndjson_id)
            client.create_table(bigquery.Table(ndjson_id, schema=fields))
            values = ", ".join(
                f"({r['id']}, INTERVAL '{r['span']}' YEAR TO SECOND, RANGE<DATE> '{r['period']}', "
                f"RANGE<DATETIME> '{r['shift']}', RANGE<TIMESTAMP> '{r['window']}')"
                for r in rows
            )
            client.query(f"INSERT INTO `{ndjson_id}` VALUES {values}").result()
        reference = _read_back(client, ndjson_id, names)
        for range_as in ("string", "struct") if name == "temporal" else ("string",):
            parquet, _ = to_parquet(python, ndjson, schema, range_as)
            parquet_id = f"{dataset}.{name}_parquet_{range_as}"
            _, error = load_seconds(
                client, upload(parquet, f"{uuid.uuid4().hex[:8]}/{parquet.name}"), parquet_id, schema, "PARQUET"
            )
            label = f"{name} (RANGE as {range_as})" if name == "temporal" else name
            if error:
                print(f"  {label}: Parquet load FAILED: {error}")
                continue
            got = _read_back(client, parquet_id, names)
            for column in names:
                same = sum(a == b for a, b in zip(reference[column], got[column], strict=True))
                verdict = "same" if same == len(rows) else f"DIFFERS in {len(rows) - same} rows"
                example = next(
                    (f": {a} vs {b}" for a, b in zip(reference[column], got[column], strict=True) if a != b), ""
                )
                print(f"  {label:<28} {column:<8} {verdict}{example[:150]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--arrow-python", help="a Python with pyarrow (default: the emulator venv's)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--convert", nargs=4, help=argparse.SUPPRESS)  # the pyarrow subprocess
    args = parser.parse_args()
    if args.convert:
        ndjson, schema, parquet, range_as = args.convert
        convert(Path(ndjson), Path(schema), Path(parquet), range_as)
        return

    from bqsynth.gcp.clients import bigquery_client

    client = bigquery_client()
    dataset = f"{client.project}.bench_load_format_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    python = arrow_python(args.arrow_python)
    try:
        with tempfile.TemporaryDirectory(prefix="bqsynth-load-format-") as tmp:
            if not args.skip_speed:
                speed(client, dataset, python, args.rows, args.repeats, Path(tmp))
            fidelity(client, dataset, python, Path(tmp))
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


if __name__ == "__main__":
    main()
