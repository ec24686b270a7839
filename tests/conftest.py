"""Shared pytest fixtures for bqsynth's tests."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------
# Local BigQuery + Cloud Storage emulators
# --------------------------------------------------------------------------

LOCAL_STACK_SCRIPT = REPO_ROOT / "scripts" / "local_stack.sh"
_STACK_ENV_VARS = ("BIGQUERY_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")


@dataclass(frozen=True)
class LocalStack:
    """Where the emulators answer, as the Google clients see them through the environment."""

    bigquery_host: str  # e.g. http://127.0.0.1:9050 (BIGQUERY_EMULATOR_HOST)
    storage_host: str  # e.g. http://127.0.0.1:4443 (STORAGE_EMULATOR_HOST)
    project: str  # the project the BigQuery emulator serves (GOOGLE_CLOUD_PROJECT)


def _with_scheme(host: str) -> str:
    return host if "://" in host else f"http://{host}"


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=5) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _start_stack() -> dict[str, str]:
    """Run ``scripts/local_stack.sh start`` and return the variables it exports."""
    result = subprocess.run(
        ["bash", str(LOCAL_STACK_SCRIPT), "start"],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/local_stack.sh start failed (exit {result.returncode}):\n{result.stderr}", pytrace=False)
    exported = {}
    for line in result.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            exported[name.strip()] = value.strip()
    missing = [name for name in _STACK_ENV_VARS if name not in exported]
    if missing:
        pytest.fail(f"local_stack.sh start did not export {missing}; it printed:\n{result.stdout}", pytrace=False)
    return exported


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The local BigQuery and Cloud Storage emulators, up and configured in ``os.environ``.

    * If ``BIGQUERY_EMULATOR_HOST`` and ``STORAGE_EMULATOR_HOST`` are both set (as
      ``make test`` does, from ``scripts/local_stack.sh env``), the emulators there are
      used as they are; the fixture fails at once if either does not answer.
    * If neither is set, it runs ``scripts/local_stack.sh start`` (idempotent: it reuses a
      stack already running from this checkout; the first run also installs the emulator
      venv, which takes about a minute) and sets the three variables below for the
      session, restoring the previous environment afterwards. The stack is left running
      for the next session; ``scripts/local_stack.sh stop`` stops it.

    Sets ``BIGQUERY_EMULATOR_HOST``, ``STORAGE_EMULATOR_HOST`` and ``GOOGLE_CLOUD_PROJECT``,
    which the official clients (and ``bqsynth.gcp.clients``) read. Opt-in: request it from
    the tests or fixtures that need BigQuery or GCS; unit tests do not.
    """
    bq_host = os.environ.get("BIGQUERY_EMULATOR_HOST")
    gcs_host = os.environ.get("STORAGE_EMULATOR_HOST")
    with pytest.MonkeyPatch.context() as env:
        if bq_host and gcs_host:
            project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("BQSYNTH_PROJECT") or "bqsynth-local"
            env.setenv("GOOGLE_CLOUD_PROJECT", project)
        elif bq_host or gcs_host:
            pytest.fail(
                "only one of BIGQUERY_EMULATOR_HOST / STORAGE_EMULATOR_HOST is set: set both "
                '(eval "$(scripts/local_stack.sh env)") or neither (the fixture then starts the stack)',
                pytrace=False,
            )
        else:
            exported = _start_stack()
            for name, value in exported.items():
                env.setenv(name, value)
            bq_host, gcs_host = exported["BIGQUERY_EMULATOR_HOST"], exported["STORAGE_EMULATOR_HOST"]
            project = exported["GOOGLE_CLOUD_PROJECT"]

        stack = LocalStack(bigquery_host=_with_scheme(bq_host), storage_host=_with_scheme(gcs_host), project=project)
        probes = {
            "BigQuery": f"{stack.bigquery_host}/bigquery/v2/projects/{stack.project}/datasets",
            "Cloud Storage": f"{stack.storage_host}/storage/v1/b",
        }
        dead = [f"{name} at {url}" for name, url in probes.items() if not _answers(url)]
        if dead:
            pytest.fail(
                f"emulator not answering: {', '.join(dead)}. Start the stack with scripts/local_stack.sh start, "
                "or unset BIGQUERY_EMULATOR_HOST and STORAGE_EMULATOR_HOST to let this fixture start it.",
                pytrace=False,
            )
        yield stack
