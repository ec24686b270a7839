"""The demo pipeline end to end with llm=gemini, through kfp.local, against a fake Vertex server.

The plan steps run in subprocesses: they reach the fake server through the environment
(``BQSYNTH_GEMINI_BASE_URL``, ``BQSYNTH_GEMINI_ACCESS_TOKEN``), with the real
google-genai client. The plan must differ from the offline plan exactly where the
scripted answers say, and the data must still load with intact keys.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

import submit
from bqsynth.config import load_config
from bqsynth.gcp.clients import bigquery_client, default_project, storage_client
from bqsynth.llm import ACCESS_TOKEN_ENV, BASE_URL_ENV
from bqsynth.llm.columns import leaf_plans
from bqsynth.models import DatasetPlan, FakerValue, TableProfile
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.sources.key_checks import BigQueryKeyChecks
from bqsynth.steps.artifacts import read_model
from bqsynth.steps.profile import profile_uri
from demo import warehouse
from submit import run_local_pipeline
from tests.fake_vertex_genai import FakeVertex, ScriptedModel, json_reply

BRANCH_NAME = {"column": "branch_name", "kind": "faker", "provider": "company", "reason": "reads like a firm"}


@pytest.fixture(scope="module")
def run(local_stack: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    client: bigquery.Client = bigquery_client(default_project())
    source, target = f"it_gsrc_{uuid.uuid4().hex[:8]}", f"it_gtgt_{uuid.uuid4().hex[:8]}"
    warehouse.load_demo_dataset(client, client.project, source, seed=42, scale=0.3)
    model = ScriptedModel().on(
        "generation", "Dim_Branch", json_reply({"table": "Dim_Branch", "columns": [BRANCH_NAME], "rules": []})
    )
    config = load_config(
        None,
        {
            "source_tables": [f"{client.project}.{source}.{t.name}" for t in warehouse.build_demo_tables(42, 0.3)],
            "target_dataset": target,
            "seed": 5,
            "staging_bucket": "it-staging",
            "write_disposition": "WRITE_APPEND",
            "llm": "gemini",
        },
    )
    root = tmp_path_factory.mktemp("kfp")
    try:
        with FakeVertex(model) as fake, pytest.MonkeyPatch.context() as env:
            env.setenv(BASE_URL_ENV, fake.url)
            env.setenv(ACCESS_TOKEN_ENV, "test")
            summary = run_local_pipeline(config, str(root))
        yield config, summary, fake, root
    finally:
        for dataset in (source, target):
            client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def artifacts(root: Path, step: str, name: str) -> list[Path]:
    return sorted(root.glob(f"*/{step}*/{name}")) + sorted(root.glob(f"*/*/{step}*/{name}"))


def test_the_run_completes_with_the_model_and_intact_keys(run: tuple) -> None:
    _, summary, fake, _ = run
    assert summary.ok and summary.engine == "gemini:gemini-2.5-flash"
    assert summary.llm_tokens_used > 0 and summary.llm_fallbacks == {}
    assert {r.task for r in fake.requests} >= {"relationships", "semantics", "generation"}


def test_the_plan_differs_from_the_offline_plan_exactly_where_the_model_said(run: tuple) -> None:
    config, summary, _, root = run
    plan = read_model(DatasetPlan, artifacts(root, "plan-dataset", "plan")[0])
    batch = config.model_copy(update={"batch_id": summary.batch_id})  # the profiles are in the batch's folder
    profiles = [read_model(TableProfile, profile_uri(batch, t), gcs=storage_client()) for t in config.source_tables]
    assert len(profiles) == len(config.source_tables)
    offline = plan_dataset(
        profiles,
        PlanOptions(seed=config.seed, target_project=config.target_project, target_dataset=config.target_dataset),
        BigQueryKeyChecks(bigquery_client(config.target_project)),  # as the plan step checks (counts fan-outs)
    )
    changed = {
        (table.name, path)
        for table in plan.tables
        for path, column in leaf_plans(table.columns).items()
        if leaf_plans(offline.table(table.name).columns)[path] != column
    }
    assert changed == {("Dim_Branch", "branch_name")}
    assert leaf_plans(plan.table("Dim_Branch").columns)["branch_name"].generator == FakerValue(provider="company")


# --- Gemini cannot be used: the cause on the terminal, not only in advice.json ------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("case", ["unreachable", "no credentials"])
def test_submit_local_says_on_stderr_why_gemini_was_not_used(
    case: str,
    local_stack: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``submit.py --local --llm gemini``: the run goes on offline, and stderr says why, while it runs."""
    client: bigquery.Client = bigquery_client(default_project())
    source, target = f"it_gsrc_{uuid.uuid4().hex[:8]}", f"it_gtgt_{uuid.uuid4().hex[:8]}"
    branches = [t for t in warehouse.build_demo_tables(42, 0.1) if t.name == "Dim_Branch"]
    warehouse.load_tables(client, client.project, source, branches)
    monkeypatch.setenv(BASE_URL_ENV, f"http://127.0.0.1:{closed_port()}")  # the steps inherit the environment
    if case == "unreachable":
        monkeypatch.setenv(ACCESS_TOKEN_ENV, "test")
        cause = f"cannot reach Vertex AI at {os.environ[BASE_URL_ENV]} (ConnectError: "
    else:  # no key file, an empty gcloud configuration, not on GCE: no application default credentials
        monkeypatch.delenv(ACCESS_TOKEN_ENV, raising=False)
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
        monkeypatch.setenv("NO_GCE_CHECK", "True")
        cause = "no Google Cloud credentials for Vertex AI (DefaultCredentialsError: "
    args = ["--local", "--llm", "gemini", "--source-tables", f"{client.project}.{source}.Dim_Branch"]
    args += ["--target-dataset", target, "--staging-bucket", "it-staging", "--pipeline-root", str(tmp_path / "kfp")]
    try:
        exit_code = submit.main(args)
    finally:
        for dataset in (source, target):
            client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
    out, err = capsys.readouterr()
    assert exit_code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("warning: gemini:gemini-2.5-flash could not be used (2 failed calls")
    assert "1 of 1 tables planned offline: " + cause in warnings[0]
    # The run finished, planned offline, and its summary does not claim Gemini planned it.
    assert "planned by offline; planned offline instead: Dim_Branch: provider unavailable" in out
