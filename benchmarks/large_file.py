"""Profile one large delimited file source: elapsed time and peak memory of the profiling.

Writes a generated CSV of ``--gigabytes`` (5 by default) to the GCS emulator with the official
client, streaming (one block of rows in memory at a time, a resumable upload), then profiles
it as the pipeline does (``bqsynth.sources.gcs_files.profile_file_source``) in a fresh Python
process and prints that process's wall time and peak RSS (``os.wait4``, as ``measure.py``) with
the profile's row count, format and the statistics of a few columns. The object is deleted at
the end (``--keep`` keeps it).

    eval "$(bash scripts/local_stack.sh env)"
    PYTHONPATH=. .venv/bin/python benchmarks/large_file.py --gigabytes 1

The file has the columns of a sales export: a sequential key, an email (unique), an amount with
two decimals and thousands separators inside quotes (``"1,234.56"``), a date, a status from
six values, a timestamp, and a free-text note that is quoted, holds the delimiter and, in one
row of 50, a line break. The fake GCS server keeps the object on its data disk (about the
file's size; check ``df -h`` first).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from google.cloud import storage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import run_measured  # noqa: E402

BUCKET = "bqsynth-bench-large"
OBJECT = "large/sales_large.csv"
BLOCK_ROWS = 50_000
STATUSES = ("new", "paid", "shipped", "delivered", "returned", "cancelled")
WORDS = ("late", "box", "damaged", "gift", "call back", "urgent", "address, changed", "ok")


def rows_block(start: int, rng: random.Random) -> str:
    """``BLOCK_ROWS`` CSV lines starting at row ``start`` (deterministic for a seed)."""
    lines = []
    for n in range(start, start + BLOCK_ROWS):
        cents = rng.randrange(1, 500_000_000)
        amount = f"{cents // 100:,}.{cents % 100:02d}"
        day = 1 + n % 28
        month = 1 + (n // 28) % 12
        note = " ".join(rng.choice(WORDS) for _ in range(1 + n % 4))
        if n % 50 == 0:
            note += "\nsecond line"
        lines.append(
            f'{n},customer{n}@example.com,"{amount}",2024-{month:02d}-{day:02d},{STATUSES[n % 6]},'
            f'2024-{month:02d}-{day:02d} {n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d},"{note}"\n'
        )
    return "".join(lines)


def write_file(client: storage.Client, size_bytes: int, seed: int) -> tuple[int, int, float]:
    """Write the CSV to the emulator, streamed; (bytes, rows, seconds)."""
    bucket = client.bucket(BUCKET)
    if not bucket.exists():
        client.create_bucket(BUCKET)
    rng = random.Random(seed)
    started = time.perf_counter()
    written, rows = 0, 0
    blob = bucket.blob(OBJECT)
    with blob.open("wb", chunk_size=16 * 1024 * 1024, ignore_flush=True) as out:
        header = b"sale_id,email,amount,sold_on,status,updated_at,note\n"
        out.write(header)
        written += len(header)
        while written < size_bytes:
            data = rows_block(rows, rng).encode()
            out.write(data)
            written += len(data)
            rows += BLOCK_ROWS
    return written, rows, time.perf_counter() - started


def profile_child(uri: str) -> None:
    """Run in the measured process: profile the file source and print the result as JSON."""
    from bqsynth.sources.gcs_files import profile_file_source

    started, cpu_started = time.perf_counter(), time.process_time()
    profile = profile_file_source(storage.Client(), uri)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    fmt = profile.file_format
    assert fmt is not None
    shown = {}
    for name in ("sale_id", "email", "amount", "status"):
        stats = profile.stats[name]
        shown[name] = {
            "type": stats.type,
            "distinct_count": stats.distinct_count,
            "min": stats.min_value,
            "max": stats.max_value,
            "top": [(v.value, v.count) for v in (stats.top_values or [])[:3]],
        }
    print(
        json.dumps(
            {
                "profile_seconds": round(seconds, 1),
                # The machine may be shared: CPU time tells the work apart from the waiting.
                "profile_cpu_seconds": round(cpu_seconds, 1),
                "load_average": round(os.getloadavg()[0], 1),
                "row_count": profile.row_count,
                "sample_rows": len(profile.sample),
                "columns": [(c.name, c.type) for c in profile.columns],
                "delimiter": fmt.delimiter,
                "stats": shown,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=5.0, help="size of the generated file (GB, 10^9 bytes)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the object in the emulator afterwards")
    parser.add_argument("--profile-uri", help=argparse.SUPPRESS)  # the measured child process
    args = parser.parse_args()
    if args.profile_uri:
        profile_child(args.profile_uri)
        return
    if not os.environ.get("STORAGE_EMULATOR_HOST"):
        sys.exit('Start the emulators first: eval "$(bash scripts/local_stack.sh env)"')
    client = storage.Client()
    size, rows, write_seconds = write_file(client, int(args.gigabytes * 10**9), args.seed)
    print(f"wrote gs://{BUCKET}/{OBJECT}: {size:,} bytes, {rows:,} rows in {write_seconds:.1f} s", flush=True)
    log = Path(os.environ.get("TMPDIR", "/tmp")) / "bqsynth_large_file_profile.log"
    try:
        measured = run_measured(
            [sys.executable, __file__, "--profile-uri", f"gs://{BUCKET}/{OBJECT}"], log, env=dict(os.environ)
        )
        output = log.read_text()
        if measured.returncode != 0:
            sys.exit(f"profiling failed:\n{output}")
        result = json.loads(output.strip().splitlines()[-1])
    finally:
        if not args.keep:
            client.bucket(BUCKET).blob(OBJECT).delete()
    print(json.dumps(result["stats"], indent=1))
    mb = size / 1e6
    print(
        f"profiled {size:,} bytes ({result['row_count']:,} rows; {rows:,} written): "
        f"profile {result['profile_seconds']} s ({result['profile_cpu_seconds']} s CPU) inside a process of "
        f"{measured.wall_seconds} s wall, {mb / result['profile_seconds']:.1f} MB/s; "
        f"peak RSS {measured.max_process_rss_mb} MB; load average {result['load_average']} at the end"
    )


if __name__ == "__main__":
    main()
