"""10 million rows of the 23-column fact table on 2 cores, then loaded into the emulator (issue 14).

Run (the emulators running for the load, ``eval "$(bash scripts/local_stack.sh env)"``):

    PYTHONPATH=. .venv/bin/python benchmarks/ten_million.py [--rows 10000000] [--workers 2]
        [--shard-rows 250000] [--format auto|parquet|ndjson] [--skip-load] [--keep DIR]

The table is ``engine_speed.fact_table`` (a key, 8 references, 10 measures, 3 dates, a flag).
Its shards (``table_shards``: ``--shard-rows`` rows each) are split between ``--workers``
processes, round robin, as the pipeline's ParallelFor runs them two at a time locally; each
worker generates its shards one after another with ``generate_with_engine(..., engine="columnar",
only=shard)``, as a generate task does, writing the columnar engine's files (``--format auto``:
Parquet for this table). Printed: the wall time of the generation (all workers, from the first
start to the last end), and each worker's wall time and peak RSS (``benchmarks/measure.py``:
``os.wait4`` rusage, exact per process).

Then the load, as the load step does it: every file uploaded to the GCS emulator (timed), and
one ``load_table`` job from ``gs://`` into a new table (timed), whose rows are counted. The
emulators run on the same 2 cores and are not counted in the memory figures.

Timings on this shared 2-core machine are noisy (other work runs beside it): run it twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from engine_speed import SEED, fact_table  # noqa: E402
from measure import Measurement, run_measured  # noqa: E402


def worker(rows: int, shard_rows: int, workers: int, index: int, file_format: str, out: Path) -> None:
    """One worker process: its share of the shards, one after another, as generate tasks do."""
    from bqsynth.generation.columnar import generate_with_engine
    from bqsynth.generation.shards import table_shards

    table = fact_table(rows)
    mine = table_shards(table, shard_rows)[index::workers]
    made_rows, files = 0, []
    started = time.perf_counter()
    for item in mine:
        made = generate_with_engine(
            table, SEED, out, engine="columnar", shard_rows=shard_rows, only=item, file_format=file_format
        )
        made_rows += made.rows
        files += [str(f) for f in made.files]
    seconds = time.perf_counter() - started
    print(json.dumps({"worker": index, "shards": len(mine), "rows": made_rows, "seconds": seconds, "files": files}))


def generate(args: argparse.Namespace, out: Path) -> tuple[list[Path], int]:
    results: dict[int, Measurement] = {}
    logs = [out / f"worker-{i}.log" for i in range(args.workers)]

    def run(index: int) -> None:
        command = [
            sys.executable,
            __file__,
            "--worker",
            str(index),
            "--rows",
            str(args.rows),
            "--workers",
            str(args.workers),
            "--shard-rows",
            str(args.shard_rows),
            "--format",
            args.format,
            "--out",
            str(out),
        ]
        results[index] = run_measured(command, logs[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    files: list[Path] = []
    rows = 0
    for index in range(args.workers):
        text = logs[index].read_text()
        if results[index].returncode != 0:
            raise SystemExit(f"worker {index} failed:\n{text}")
        report = json.loads(text.strip().splitlines()[-1])
        files += [Path(f) for f in report["files"]]
        rows += report["rows"]
        m = results[index]
        print(
            f"  worker {index}: {report['shards']} shards, {report['rows']:,} rows,"
            f" generation {report['seconds']:.1f} s, process wall {m.wall_seconds:.1f} s,"
            f" peak RSS {m.max_process_rss_mb:.0f} MB"
        )
    size = sum(f.stat().st_size for f in files) / 2**20
    print(
        f"generated {rows:,} rows in {len(files)} files ({size:,.0f} MiB) with {args.workers} workers:"
        f" wall {wall:.1f} s, {rows / wall:,.0f} rows/s overall, {rows / wall / args.workers:,.0f} rows/s per worker"
    )
    return sorted(files), rows


def load(files: list[Path], rows: int) -> None:
    from google.cloud import storage

    from bqsynth.delivery.load import load_table, source_format, upload_files
    from bqsynth.gcp.clients import bigquery_client

    bq = bigquery_client()
    dataset = f"{bq.project}.bench_ten_million_{uuid.uuid4().hex[:8]}"
    batch = f"b{uuid.uuid4().hex[:8]}"
    table = fact_table(rows)
    try:
        started = time.perf_counter()
        uris = upload_files(storage.Client(project=bq.project), "bqsynth-bench-ten-million", f"{batch}/", files)
        uploaded = time.perf_counter() - started
        print(f"  upload of {len(uris)} files to the GCS emulator: {uploaded:.1f} s")
        started = time.perf_counter()
        loaded = load_table(bq, f"{dataset}.Fact_Sales", uris, table.schema_, batch_id=batch)
        seconds = time.perf_counter() - started
        counted = next(iter(bq.query(f"SELECT COUNT(*) FROM `{dataset}.Fact_Sales`").result()))[0]
        print(
            f"loaded {loaded:,} rows ({counted:,} counted) from {source_format(uris)} into the emulator in one job:"
            f" {seconds:.1f} s, {loaded / seconds:,.0f} rows/s (upload + load {uploaded + seconds:.1f} s)"
        )
    finally:
        bq.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-rows", type=int, default=250_000)
    parser.add_argument("--format", default="auto", choices=["auto", "parquet", "ndjson"])
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them (default: a temporary folder)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.rows, args.shard_rows, args.workers, args.worker, args.format, args.out)
        return
    print(
        f"{args.rows:,} rows of the 23-column fact table, shards of {args.shard_rows:,}, {args.workers} worker"
        f" processes, format {args.format} (timings noisy: 2 shared cores)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bqsynth-ten-million-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        files, rows = generate(args, out)
        if not args.skip_load:
            load(files, rows)


if __name__ == "__main__":
    main()
