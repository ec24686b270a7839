"""SIGTERM (or Ctrl-C) stops a local run cleanly: every step stopped, the run's audit row Failed.

``submit.py --local`` runs as a real subprocess against the emulators; once its first step
has finished it gets SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

import submit
from bqsynth.delivery.audit import read_audit
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


def running_below(pid: int) -> list[int]:
    return [p for p in submit._descendants(pid) if Path(f"/proc/{p}").exists()]


def test_sigterm_stops_every_step_and_closes_the_run_as_failed(source: str, tmp_path: Path) -> None:
    batch = f"intr-{uuid.uuid4().hex[:8]}"
    target = source.split(".")[1] + "_tgt"
    root = tmp_path / "kfp"
    flags = [f"--source-tables={source}", f"--target-dataset={target}", f"--batch-id={batch}"]
    flags += ["--record-count=payments=5000", "--llm=offline", f"--pipeline-root={root}"]
    command = [sys.executable, "submit.py", "--local", *flags]
    run = subprocess.Popen(command, cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not any(root.glob("*/start-batch/executor_output.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run.poll() is None, run.communicate()
        time.sleep(1.0)  # a later step is under way
        below = running_below(run.pid)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == submit.EXIT_INTERRUPTED, err
    message = err.decode()
    assert "interrupted (SIGTERM)" in message and f"--batch-id {batch}" in message and "Traceback" not in message
    assert not [p for p in below if Path(f"/proc/{p}").exists()]  # no step left running
    audit = f"{source.split('.')[0]}.{target}.bqsynth_audit"
    runs = [r for r in read_audit(bigquery_client(), audit, batch) if r.stage == "run"]
    assert runs[-1].status == "Failed" and "interrupted" in (runs[-1].error_message or "")
