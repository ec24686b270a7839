"""A dead endpoint is named within a minute, with what to check, before any step runs.

The clients' own retries would wait 600 s; the probes (``bqsynth.gcp.clients``) ask once
with a short timeout and give up at a deadline. The endpoints here are closed local ports.
"""

from __future__ import annotations

import socket
import time

import pytest

import submit
from bqsynth.gcp import clients


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


@pytest.fixture
def dead_stack(monkeypatch: pytest.MonkeyPatch) -> str:
    endpoint = closed_port()
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", endpoint)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    monkeypatch.setattr(clients, "PROBE_DEADLINE_S", 3.0)
    return endpoint


def test_a_local_run_against_a_dead_endpoint_stops_at_once_naming_it(
    dead_stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = submit.main(["--local", "--source-tables=proj.src.customers", "--pipeline-root", "/tmp/bqsynth-dead"])
    assert code == submit.EXIT_RUN_STOPPED
    assert time.monotonic() - started < 60
    error = capsys.readouterr().err
    assert f"BigQuery at {dead_stack} did not answer within 3 s" in error
    assert "scripts/local_stack.sh start" in error and "Traceback" not in error


def test_the_storage_probe_names_its_endpoint_too(dead_stack: str) -> None:
    with pytest.raises(clients.EndpointUnreachable, match=r"Cloud Storage at http://127\.0\.0\.1:\d+ did not answer"):
        clients.probe_storage(clients.storage_client("proj"), "some-bucket")


def test_an_answer_that_is_an_error_is_still_an_answer(local_stack: object) -> None:
    # a dataset and a bucket that do not exist: 404s, so the endpoints are up
    clients.probe_bigquery(clients.bigquery_client(), "bqsynth-local.no_such_dataset_here", deadline=5)
    clients.probe_storage(clients.storage_client(), "no-such-bucket-here", deadline=5)


def test_a_cloud_endpoint_hint_names_network_api_and_credentials() -> None:
    error = clients._unreachable("BigQuery", "https://bigquery.googleapis.com", 30, ConnectionError())
    assert "network" in str(error) and "gcloud auth application-default login" in str(error)
