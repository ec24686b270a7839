"""Wall time and peak memory of a subprocess and everything it starts.

Two memory figures, because neither alone is right for a pipeline of subprocesses:

* ``max_process_rss_mb``: the largest peak RSS of any single process of the tree, exact, from
  ``os.wait4`` on the child (Linux reports the max of the child's own peak and those of the
  descendants it reaped). It misses processes that ran side by side.
* ``peak_tree_rss_mb``: the largest *sum* of RSS over the live process tree, sampled from /proc
  every ``SAMPLE_SECONDS``. It counts concurrent processes but can miss a short spike, and
  shared pages (e.g. the same libraries in several Python processes) are counted once per process.

Servers the child talks to (the BigQuery and GCS emulators) are not its descendants and are
not counted: see benchmarks/README.md.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.25
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measurement:
    returncode: int
    wall_seconds: float
    max_process_rss_mb: float
    peak_tree_rss_mb: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _parents() -> dict[int, int]:
    """pid -> parent pid for every live process."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # the process ended between listdir and read
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry)] = int(fields[1])
    return parents


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except OSError:
        return 0


def tree_rss_bytes(root: int) -> int:
    """Summed RSS of ``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_bytes(pid)
        stack.extend(children.get(pid, ()))
    return total


def run_measured(
    command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Measurement:
    """Run ``command`` to completion with stdout and stderr to ``log_path``; time and measure it."""
    peak = [0]
    done = threading.Event()

    with log_path.open("w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)

        def sample() -> None:
            while not done.wait(SAMPLE_SECONDS):
                peak[0] = max(peak[0], tree_rss_bytes(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4 rather than Popen.wait: it returns this child's own rusage, unaffected by
        # earlier children (getrusage(RUSAGE_CHILDREN) keeps the max over all of them).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()

    return Measurement(
        returncode=process.returncode,
        wall_seconds=round(wall, 2),
        max_process_rss_mb=round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
        peak_tree_rss_mb=round(peak[0] / 2**20, 1),
    )


def self_peak_rss_mb() -> float:
    """Peak RSS of the calling process (used by the SDV worker for its own figure)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
