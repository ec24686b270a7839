"""Google client construction that works the same on Google Cloud and on the local emulators.

The official clients already honour ``BIGQUERY_EMULATOR_HOST`` and
``STORAGE_EMULATOR_HOST``; what they do not do is skip credential discovery, which
fails on a laptop without gcloud. When an emulator is configured we therefore pass
anonymous credentials explicitly.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage

from bqsynth.errors import BqsynthError

BIGQUERY_EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"
STORAGE_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"


def using_bigquery_emulator() -> bool:
    return bool(os.environ.get(BIGQUERY_EMULATOR_ENV))


def using_storage_emulator() -> bool:
    return bool(os.environ.get(STORAGE_EMULATOR_ENV))


def bigquery_client(project: str | None = None) -> bigquery.Client:
    """A BigQuery client for ``project`` (job project), on the emulator when one is set.

    Its calls stop retrying once the endpoint has not answered for ``no_answer_deadline()``.
    """
    if using_bigquery_emulator():
        client = bigquery.Client(project=project or default_project(), credentials=AnonymousCredentials())
    else:
        client = bigquery.Client(project=project)
    return guarded(client, no_answer_guard("BigQuery", bigquery_endpoint()))


def storage_client(project: str | None = None) -> storage.Client:
    """A Cloud Storage client, on the emulator when one is set (guarded as ``bigquery_client``)."""
    if using_storage_emulator():
        client = storage.Client(project=project or default_project(), credentials=AnonymousCredentials())
    else:
        client = storage.Client(project=project)
    return guarded(client, no_answer_guard("Cloud Storage", storage_endpoint()))


def default_project() -> str:
    """The project used when none is given: the environment's, or the local stack's."""
    return os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("BQSYNTH_PROJECT") or "bqsynth-local"


# A dead endpoint is reported well within a minute: each probe call waits this long for an
# answer and is retried (with backoff) until the deadline. The clients' own default is 600 s.
PROBE_TIMEOUT_S = 10.0
PROBE_DEADLINE_S = 30.0
# The same deadline for every other call, so an endpoint lost mid-run is reported as soon as
# one at the start is; a user on a flaky network may lengthen it.
NO_ANSWER_DEADLINE_ENV = "BQSYNTH_NO_ANSWER_DEADLINE_S"
# requests waits forever to connect unless told; a blackholed address must count as no answer.
CONNECT_TIMEOUT_S = 10.0
# What "no answer" looks like once the retries are spent; any HTTP answer (404, 403) means reachable.
_NO_ANSWER = (api_exceptions.RetryError, requests.exceptions.ConnectionError, requests.exceptions.Timeout)


class EndpointUnreachable(BqsynthError):
    """A Google API endpoint (or its local emulator) did not answer."""


def bigquery_endpoint() -> str:
    return os.environ.get(BIGQUERY_EMULATOR_ENV) or "https://bigquery.googleapis.com"


def storage_endpoint() -> str:
    return os.environ.get(STORAGE_EMULATOR_ENV) or "https://storage.googleapis.com"


def _unreachable(service: str, endpoint: str, deadline: float, error: BaseException) -> EndpointUnreachable:
    if endpoint.startswith("http://127.0.0.1") or endpoint.startswith("http://localhost"):
        hint = "Start the local emulators with `bash scripts/local_stack.sh start` (`make demo` and `make test` do)"
    else:
        hint = (
            "Check the network (a proxy or VPC firewall), that the API is enabled in the project, and the "
            "credentials (`gcloud auth application-default login`)"
        )
    cause = type(getattr(error, "cause", None) or error).__name__
    return EndpointUnreachable(f"{service} at {endpoint} did not answer within {deadline:.0f} s ({cause})", hint=hint)


def probe_bigquery(client: bigquery.Client, dataset: str, deadline: float | None = None) -> None:
    """Raise ``EndpointUnreachable`` unless BigQuery answers a metadata request within ``deadline``
    (``PROBE_DEADLINE_S`` by default). ``dataset`` (``project.dataset``) may not exist: a 404 is an answer too.
    """
    deadline = deadline or PROBE_DEADLINE_S
    try:
        client.get_dataset(dataset, retry=Retry(timeout=deadline), timeout=PROBE_TIMEOUT_S)
    except api_exceptions.GoogleAPICallError:
        return
    except _NO_ANSWER as error:
        raise _unreachable("BigQuery", bigquery_endpoint(), deadline, error) from error


def probe_storage(client: storage.Client, bucket: str, deadline: float | None = None) -> None:
    """Raise ``EndpointUnreachable`` unless Cloud Storage answers within ``deadline`` (a 404 answers too)."""
    deadline = deadline or PROBE_DEADLINE_S
    try:
        list(client.list_blobs(bucket, max_results=1, retry=Retry(timeout=deadline), timeout=PROBE_TIMEOUT_S))
    except api_exceptions.GoogleAPICallError:
        return
    except _NO_ANSWER as error:
        raise _unreachable("Cloud Storage", storage_endpoint(), deadline, error) from error


def no_answer_deadline() -> float:
    """Seconds an endpoint may go without answering before a call gives up (``NO_ANSWER_DEADLINE_ENV``)."""
    text = os.environ.get(NO_ANSWER_DEADLINE_ENV)
    if not text:
        return PROBE_DEADLINE_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise BqsynthError(
            f"{NO_ANSWER_DEADLINE_ENV}={text!r} is not a number of seconds above 0",
            hint=f"Unset it (the default is {PROBE_DEADLINE_S:.0f} s) or give e.g. 60",
        )
    return seconds


class NoAnswerGuard:
    """Ends the retries of calls to an endpoint that has not answered for ``deadline`` seconds.

    The Google clients retry a refused or timed-out connection with backoff for up to 600 s
    (BigQuery) or 120 s (Cloud Storage) per call, and a step makes many calls, so an endpoint
    lost mid-run was reported after many minutes. The guard sees every HTTP request of the
    clients it guards: any answer (an error status included) resets it; once no request has
    been answered for ``deadline`` seconds, the next failure raises ``EndpointUnreachable``,
    which the clients do not retry. One guard per endpoint and process, so that a step's
    audit row, written after its work failed that way, fails at once instead of waiting again.
    """

    def __init__(self, service: str, endpoint: str, deadline: float, clock: Callable[[], float] = time.monotonic):
        self.service, self.endpoint, self.deadline, self._clock = service, endpoint, deadline, clock
        self._silent_since: float | None = None
        self._lock = threading.Lock()

    def send(self, request: Callable[..., Any], method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """``request(method, url, ...)``, counting a failure to connect or read as no answer."""
        if kwargs.get("timeout", 0) is None:
            kwargs["timeout"] = (CONNECT_TIMEOUT_S, None)
        try:
            response = request(method, url, *args, **kwargs)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            self._no_answer(error)
            raise
        with self._lock:
            self._silent_since = None
        return response

    def _no_answer(self, error: BaseException) -> None:
        now = self._clock()
        with self._lock:
            if self._silent_since is None:
                self._silent_since = now
            silent = now - self._silent_since
        if silent >= self.deadline:
            raise _unreachable(self.service, self.endpoint, self.deadline, error) from error


_guards: dict[tuple[str, str, float], NoAnswerGuard] = {}
_guards_lock = threading.Lock()


def no_answer_guard(service: str, endpoint: str) -> NoAnswerGuard:
    """The process's guard of ``endpoint`` (at the deadline the environment sets now)."""
    key = (service, endpoint, no_answer_deadline())
    with _guards_lock:
        return _guards.setdefault(key, NoAnswerGuard(*key))


ClientT = TypeVar("ClientT", bigquery.Client, storage.Client)


def guarded(client: ClientT, guard: NoAnswerGuard) -> ClientT:
    """``client`` with every HTTP request (API calls, uploads, downloads) sent through ``guard``."""
    # ``_http`` is the documented transport hook of google-cloud-core clients: one session
    # whose ``request`` both the JSON API calls and google-resumable-media's uploads use.
    session = client._http
    send = session.request
    session.request = functools.partial(guard.send, send)
    return client
