"""Google client construction that works the same on Google Cloud and on the local emulators.

The official clients already honour ``BIGQUERY_EMULATOR_HOST`` and
``STORAGE_EMULATOR_HOST``; what they do not do is skip credential discovery, which
fails on a laptop without gcloud. When an emulator is configured we therefore pass
anonymous credentials explicitly.
"""

from __future__ import annotations

import os

from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage

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
