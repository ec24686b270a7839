"""Google client construction that works the same on Google Cloud and on the local emulators.

The official clients already honour ``BIGQUERY_EMULATOR_HOST`` and
``STORAGE_EMULATOR_HOST``; what they do not do is skip credential discovery, which
fails on a laptop without gcloud. When an emulator is configured we therefore pass
anonymous credentials explicitly.
"""

from __future__ import annotations

import os

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
    """A BigQuery client for ``project`` (job project), on the emulator when one is set."""
    if using_bigquery_emulator():
        return bigquery.Client(project=project or default_project(), credentials=AnonymousCredentials())
    return bigquery.Client(project=project)


def storage_client(project: str | None = None) -> storage.Client:
    """A Cloud Storage client, on the emulator when one is set."""
    if using_storage_emulator():
        return storage.Client(project=project or default_project(), credentials=AnonymousCredentials())
    return storage.Client(project=project)


def default_project() -> str:
    """The project used when none is given: the environment's, or the local stack's."""
    return os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("BQSYNTH_PROJECT") or "bqsynth-local"


# A dead endpoint is reported well within a minute: each probe call waits this long for an
# answer and is retried (with backoff) until the deadline. The clients' own default is 600 s.
PROBE_TIMEOUT_S = 10.0
PROBE_DEADLINE_S = 30.0
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
