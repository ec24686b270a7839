"""Profiling a file of distinct, non-ISO dates and times: the compiled reading against strptime.

Event times are nearly all distinct, so the per-column cache of ``RecordParser`` rarely hits
and every value is parsed. A file of ``--rows`` rows (a US date, a German datetime, an ISO
timestamp with milliseconds and a Europe/Berlin offset, a 12-hour time, every value distinct)
is profiled with ``profile_file_parts`` from memory (no emulator), alternately (A) with
``datetime.strptime`` per value, as before the compiled reading, and (B) with the compiled
reading of ``bqsynth.sources.delimited._fields_regex``; the runs are interleaved because the
machine may be shared. Both must give the same profile (its digest is printed).

    PYTHONPATH=. .venv/bin/python benchmarks/temporal_parsing.py --rows 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import time
import zoneinfo
from collections.abc import Callable

from bqsynth.sources import delimited
from bqsynth.sources.file_profile import profile_file_parts
from bqsynth.sources.file_stream import FilePart


def events_file(rows: int) -> bytes:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    lines = ["id,booked,updated_eu,logged_at,at_ms"]
    for n in range(rows):
        m = start + dt.timedelta(seconds=n * 157, microseconds=(n * 7919) % 1_000_000)
        local = m.astimezone(berlin)
        z = local.strftime("%z")
        logged = f"{local:%Y-%m-%dT%H:%M:%S}.{m.microsecond // 1000:03d}{z[:3]}:{z[3:]}"
        lines.append(f"{n},{m:%m/%d/%Y},{m:%d.%m.%Y %H:%M:%S},{logged},{m:%I:%M:%S %p}")
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = events_file(args.rows)
    part = FilePart.from_bytes("gs://bench/events.csv", data)
    compiled = (delimited._strptime, delimited._fields_regex)

    def with_strptime() -> None:
        delimited._strptime = delimited._library_strptime
        delimited._fields_regex = lambda pattern: None  # parse_value: format_regex, then strptime

    def with_compiled() -> None:
        delimited._strptime, delimited._fields_regex = compiled

    setups: dict[str, Callable[[], None]] = {"A strptime": with_strptime, "B compiled": with_compiled}
    times: dict[str, list[float]] = {label: [] for label in setups}
    digests = set()
    for _ in range(args.rounds):
        for label, setup in setups.items():
            setup()
            start = time.perf_counter()
            profile = profile_file_parts("gs://bench/events.csv", [part])
            times[label].append(time.perf_counter() - start)
            dumped = json.dumps(profile.model_dump(mode="json"), sort_keys=True).encode()
            digests.add(hashlib.sha256(dumped).hexdigest()[:16])
    with_compiled()
    print(f"{len(data) / 1e6:.1f} MB, {args.rows} rows, {args.rounds} rounds")
    for label, measured in times.items():
        print(f"{label}: best {min(measured):.2f} s, runs {[round(t, 2) for t in measured]}")
    print(f"profile digests: {sorted(digests)} ({'the same' if len(digests) == 1 else 'DIFFERENT'})")


if __name__ == "__main__":
    main()
