"""A dead endpoint is named within a minute, with what to check, before any step runs.

The clients' own retries would wait 600 s; the probes (``bqsynth.gcp.clients``) ask once
with a short timeout and give up at a deadline. The endpoints here are closed local ports.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests

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


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refused(method: str, url: str, **kwargs: object) -> object:
    raise requests.exceptions.ConnectionError("[Errno 111] Connection refused")


def test_a_call_is_retried_by_its_client_until_the_endpoint_has_been_silent_for_the_deadline() -> None:
    clock = FakeClock()
    guard = clients.NoAnswerGuard("BigQuery", "http://127.0.0.1:1", 30.0, clock)
    with pytest.raises(requests.exceptions.ConnectionError):  # the client's retry sees it and tries again
        guard.send(refused, "GET", "http://127.0.0.1:1/x")
    clock.now = 29.0
    with pytest.raises(requests.exceptions.ConnectionError):
        guard.send(refused, "GET", "http://127.0.0.1:1/x")
    clock.now = 30.5
    with pytest.raises(
        clients.EndpointUnreachable, match=r"BigQuery at http://127\.0\.0\.1:1 did not answer within 30 s"
    ):
        guard.send(refused, "GET", "http://127.0.0.1:1/x")


def test_any_answer_restarts_the_silence_and_an_unset_timeout_gets_a_connect_timeout() -> None:
    clock = FakeClock()
    guard = clients.NoAnswerGuard("Cloud Storage", "http://127.0.0.1:1", 30.0, clock)
    with pytest.raises(requests.exceptions.ConnectionError):
        guard.send(refused, "GET", "u")
    seen: dict[str, object] = {}

    def answered(method: str, url: str, **kwargs: object) -> str:
        seen.update(kwargs)
        return "404"

    clock.now = 25.0
    assert guard.send(answered, "GET", "u", timeout=None) == "404"
    assert seen["timeout"] == (clients.CONNECT_TIMEOUT_S, None)  # requests would wait forever to connect
    clock.now = 50.0
    with pytest.raises(requests.exceptions.ConnectionError):  # silent for 0 s, not 50 s
        guard.send(refused, "GET", "u")


def test_every_client_is_guarded_and_the_deadline_is_configurable(
    dead_stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(clients.NO_ANSWER_DEADLINE_ENV, "2")
    started = time.monotonic()
    with pytest.raises(clients.EndpointUnreachable, match="did not answer within 2 s"):
        clients.bigquery_client("proj").query("SELECT 1").result()  # 600 s of retries unguarded
    assert time.monotonic() - started < 20
    with pytest.raises(clients.EndpointUnreachable, match="Cloud Storage at .* did not answer within 2 s"):
        clients.storage_client("proj").bucket("b").blob("o").upload_from_string(b"x")  # resumable media too


@pytest.mark.parametrize("text", ["0", "-5", "soon", "inf", "nan"])
def test_a_deadline_that_is_not_seconds_is_refused_naming_the_variable(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(clients.NO_ANSWER_DEADLINE_ENV, text)
    with pytest.raises(clients.BqsynthError, match=clients.NO_ANSWER_DEADLINE_ENV):
        clients.no_answer_deadline()
