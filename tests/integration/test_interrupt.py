"""Faults during a local run end it cleanly.

SIGTERM (or Ctrl-C) stops every step and closes the run's audit row as Failed; BigQuery lost
mid-run is reported within the no-answer deadline, naming the endpoint. ``submit.py --local``
runs as a real subprocess against the emulators; the fault comes once its first step has finished.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

import submit
from bqsynth.delivery.audit import AuditError, read_audit, unfinished
from bqsynth.gcp.clients import bigquery_client

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def source(local_stack: object) -> Iterator[str]:
    client = bigquery_client()
    dataset = f"{client.project}.intr_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    schema = [bigquery.SchemaField("id", "INT64", mode="REQUIRED"), bigquery.SchemaField("amount", "FLOAT64")]
    table = client.create_table(bigquery.Table(f"{dataset}.payments", schema=schema))
    rows = [{"id": i, "amount": i * 1.5} for i in range(1, 201)]
    client.load_table_from_json(rows, table, job_config=bigquery.LoadJobConfig(schema=schema)).result()
    yield f"{dataset}.payments"
    for name in (dataset, f"{dataset}_tgt"):
        client.delete_dataset(name, delete_contents=True, not_found_ok=True)


class TcpRelay:
    """A TCP relay to ``target`` on a port of its own: closing it is an endpoint that went away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.listener.accept()
                far = socket.create_connection(self.target)
            except OSError:
                return
            self.sockets += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self.listener.close()
        for end in self.sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()


def generating(audit: str, batch: str) -> bool:
    """Whether a generate step of ``batch`` has begun and not ended."""
    try:
        return any(r.stage == "generate" for r in unfinished(read_audit(bigquery_client(), audit, batch)))
    except AuditError:  # start_batch has not created the audit table yet
        return False


def running_below(pid: int) -> list[int]:
    return [p for p in submit._descendants(pid) if Path(f"/proc/{p}").exists()]


def still_running(pids: list[int], grace: float = 5.0) -> dict[int, str]:
    """The processes of ``pids`` that still run after ``grace`` seconds, with their state and command.

    A killed step is a zombie until whoever inherits it reaps it (PID 1 of a container may
    take its time): it runs nothing, so it does not count.
    """
    deadline = time.monotonic() + grace
    while True:
        running = {}
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200].decode(errors="replace")
            except OSError:
                continue
            if state not in ("Z", "X"):
                running[pid] = f"{state} {command}"
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.2)


@pytest.mark.parametrize(
    "shard_rows",
    [
        pytest.param(3_000_000, id="one long step"),  # its In Progress row must be closed
        pytest.param(150_000, id="shards queued"),  # kfp.local's pool would start the 19 queued ones
    ],
)
def test_sigterm_stops_every_step_and_closes_the_run_as_failed(source: str, tmp_path: Path, shard_rows: int) -> None:
    batch = f"intr-{uuid.uuid4().hex[:8]}"
    target = source.split(".")[1] + "_tgt"
    root = tmp_path / "kfp"
    flags = [f"--source-tables={source}", f"--target-dataset={target}", f"--batch-id={batch}"]
    # Enough rows that a generate step is running when the signal comes.
    flags += [
        "--record-count=payments=3000000",
        f"--shard-rows={shard_rows}",
        "--llm=offline",
        f"--pipeline-root={root}",
    ]
    command = [sys.executable, "submit.py", "--local", *flags]
    audit = f"{source.split('.')[0]}.{target}.bqsynth_audit"
    run = subprocess.Popen(command, cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while run.poll() is None and time.monotonic() < deadline and not generating(audit, batch):
            time.sleep(0.5)
        assert run.poll() is None, run.communicate()
        below = running_below(run.pid)
        run.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, err = run.communicate(timeout=90)
        took = time.monotonic() - signalled
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == submit.EXIT_INTERRUPTED, err
    assert took < 30, f"the run took {took:.0f} s to stop"
    message = err.decode()
    assert "interrupted (SIGTERM)" in message and f"--batch-id {batch}" in message and "Traceback" not in message
    assert not still_running(below)  # no step left running
    rows = read_audit(bigquery_client(), audit, batch)
    runs = [r for r in rows if r.stage == "run"]
    assert runs[-1].status == "Failed" and "interrupted" in (runs[-1].error_message or "")
    assert not unfinished(rows), "a stopped step's row still says In Progress"


def test_bigquery_lost_mid_run_is_reported_within_the_deadline_naming_the_endpoint(source: str, tmp_path: Path) -> None:
    host, port = os.environ["BIGQUERY_EMULATOR_HOST"].removeprefix("http://").rsplit(":", 1)
    relay = TcpRelay((host, int(port)))
    batch = f"lost-{uuid.uuid4().hex[:8]}"
    target = source.split(".")[1] + "_tgt"
    root = tmp_path / "kfp"
    flags = [f"--source-tables={source}", f"--target-dataset={target}", f"--batch-id={batch}"]
    flags += ["--record-count=payments=5000", "--llm=offline", f"--pipeline-root={root}"]
    endpoint = f"http://127.0.0.1:{relay.port}"
    env = {**os.environ, "BIGQUERY_EMULATOR_HOST": endpoint, "BQSYNTH_NO_ANSWER_DEADLINE_S": "5"}
    run = subprocess.Popen(
        [sys.executable, "submit.py", "--local", *flags],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(root.glob("*/start-batch/executor_output.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run.poll() is None, run.communicate()
        relay.close()
        lost = time.monotonic()
        _, err = run.communicate(timeout=90)
        took = time.monotonic() - lost
    finally:
        relay.close()
        if run.poll() is None:
            run.kill()
    message = err.decode()
    assert run.returncode == submit.EXIT_RUN_STOPPED, message
    assert f"BigQuery at {endpoint} did not answer within 5 s" in message, message
    assert "Traceback" not in message
    # The clients' own retries would have taken 600 s per call; the deadline, a backoff step and
    # the step processes' start-up are what is left.
    assert took < 60, f"reported {took:.0f} s after the endpoint went away"
