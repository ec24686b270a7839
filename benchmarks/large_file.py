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
file's size; check ``df -h`` first). It also holds a resumable upload in memory (5 GB of RSS
for a 1 GB file), so beyond a GB write the object straight into its data directory:

    PYTHONPATH=. .venv/bin/python benchmarks/large_file.py --gigabytes 5 \
        --emulator-root "$BQSYNTH_STACK_DIR/data/gcs"
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import io
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import BinaryIO

import google_crc32c
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


def write_rows(out: BinaryIO, size_bytes: int, seed: int) -> tuple[int, int]:
    """Write the CSV to ``out``, one block of rows at a time; (bytes, rows)."""
    rng = random.Random(seed)
    written, rows = 0, 0
    header = b"sale_id,email,amount,sold_on,status,updated_at,note\n"
    out.write(header)
    written += len(header)
    while written < size_bytes:
        data = rows_block(rows, rng).encode()
        out.write(data)
        written += len(data)
        rows += BLOCK_ROWS
    return written, rows


def write_file(
    client: storage.Client, size_bytes: int, seed: int, emulator_root: Path | None
) -> tuple[int, int, float]:
    """Write the CSV to the emulator, streamed; (bytes, rows, seconds)."""
    bucket = client.bucket(BUCKET)
    if not bucket.exists():
        client.create_bucket(BUCKET)
    started = time.perf_counter()
    if emulator_root is not None:
        written, rows = write_into_emulator(emulator_root, size_bytes, seed)
    else:
        with bucket.blob(OBJECT).open("wb", chunk_size=16 * 1024 * 1024, ignore_flush=True) as out:
            written, rows = write_rows(out, size_bytes, seed)
    return written, rows, time.perf_counter() - started


class _Checksummed(io.RawIOBase):
    """A file written with the MD5 and CRC32C that Cloud Storage keeps for an object."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc = google_crc32c.Checksum()

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.md5.update(data)
        self.crc.update(data)
        return self.file.write(data)


def write_into_emulator(root: Path, size_bytes: int, seed: int) -> tuple[int, int]:
    """Write the object straight into fake-gcs-server's filesystem backend (``-filesystem-root``).

    fake-gcs-server keeps a resumable upload in memory until it ends: uploading 1 GB left the
    server at 5 GB RSS, so a 5 GB upload could take the machine's memory. Its filesystem backend
    stores an object as a file with its metadata in the ``user.metadata`` extended attribute
    (read on every request, the bytes read lazily per range), so the file is written there,
    with the checksums the server would have computed. The profiling reads it through the
    official client as before.
    """
    path = root / BUCKET / OBJECT
    path.parent.mkdir(parents=True, exist_ok=True)
    out = _Checksummed(path)
    try:
        written, rows = write_rows(out, size_bytes, seed)  # type: ignore[arg-type]
    finally:
        out.file.close()
    now = dt.datetime.now(dt.UTC)
    md5 = base64.b64encode(out.md5.digest()).decode()
    metadata = {
        "StorageClass": "STANDARD",
        "ContentType": "text/csv",
        "Crc32c": base64.b64encode(out.crc.digest()).decode(),
        "Md5Hash": md5,
        "Etag": md5,
        "Created": now.isoformat().replace("+00:00", "Z"),
        "Updated": now.isoformat().replace("+00:00", "Z"),
        "Generation": int(now.timestamp() * 1e6),
    }
    os.setxattr(path, "user.metadata", json.dumps(metadata).encode())
    return written, rows


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
    parser.add_argument(
        "--emulator-root",
        type=Path,
        help="fake-gcs-server's -filesystem-root (BQSYNTH_STACK_DIR/data/gcs): write the object there "
        "directly, not by an upload the emulator buffers in memory (needed for several GB)",
    )
    parser.add_argument("--profile-uri", help=argparse.SUPPRESS)  # the measured child process
    args = parser.parse_args()
    if args.profile_uri:
        profile_child(args.profile_uri)
        return
    if not os.environ.get("STORAGE_EMULATOR_HOST"):
        sys.exit('Start the emulators first: eval "$(bash scripts/local_stack.sh env)"')
    client = storage.Client()
    size, rows, write_seconds = write_file(client, int(args.gigabytes * 10**9), args.seed, args.emulator_root)
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
