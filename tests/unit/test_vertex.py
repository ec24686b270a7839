"""Submitting to Vertex AI without a network: cron expressions, flags, the dry-run request,
the compiled pipeline's image, resources and retries. (tests/integration/test_vertex_fake.py
sends the requests to a fake Vertex AI endpoint.)"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import google.auth
import pytest
import yaml

from bqsynth.config import load_config
from bqsynth.deploy.vertex import (
    CronError,
    Schedule,
    UsageError,
    build_request,
    label_value,
    parse_labels,
    prepare_template,
    validate_cron,
)
from components import DEFAULT_COMPONENT_IMAGE
from submit import main, without_retries

REPO = Path(__file__).resolve().parents[2]
IMAGE = "us-central1-docker.pkg.dev/my-project/bqsynth/bqsynth-components:v1"
TABLES = "p-src.shop.customers,p-src.shop.orders"
CLOUD = ["--project", "my-project", "--region", "us-central1", "--pipeline-root", "gs://my-bucket/root"]
RETRIED = {"start-batch", "profile-table", "plan-dataset", "generate-table", "load-tables", "summarize-run"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may look up credentials or open a connection."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit test tried to reach the network or look up credentials")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(google.auth, "default", refuse)


# ---------------------------------------------------------------------------------------------
# Cron
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "0 3 * * *",
        "*/15 * * * *",
        "0 0 1,15 * *",
        "30 6 * * MON-FRI",
        "0 9 * jan,Jul *",
        "5-50/5 1-5 * * 0,7",
        "0 3 * * 1/2",
        "0 0 29 2 *",
        "TZ=America/New_York 0 3 * * *",
        "CRON_TZ=Europe/Paris 0 3 * * SUN",
        "  0   3 * *   *  ",
    ],
)
def test_valid_cron_expressions(expression: str) -> None:
    assert validate_cron(expression) == " ".join(expression.split())


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "0 field"),
        ("0 3 * *", "4 field"),
        ("0 3 * * MON-FRI extra", "6 field"),
        ("@daily", "1 field"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 0 0 * *", "day of month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 8", "day of week 8 is out of range 0-7"),
        ("*/0 * * * *", "step '0'"),
        ("*/x * * * *", "step 'x'"),
        ("0 0 * * FOO", "'FOO' is not a number 0-7 or a name such as SUN"),
        ("0 0 MON * *", "day of month 'MON' is not a number 1-31"),
        ("10-5 * * * *", "range '10-5' runs backwards"),
        ("0,,5 * * * *", "empty list item"),
        ("0 3 ? * *", "'?' is not a number"),
        ("0 3 L * *", "'L' is not a number"),
        ("TZ=Mars/Olympus_Mons 0 3 * * *", "not an IANA time zone"),
        ("TZ=Europe/Paris", "0 field"),
    ],
)
def test_invalid_cron_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=re.escape(message)) as raised:
        validate_cron(expression)
    assert "TZ=America/New_York" in str(raised.value) or "minute hour day-of-month month day-of-week" in str(
        raised.value
    )


# ---------------------------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--source-tables", TABLES], "--project is required"),
        (["--source-tables", TABLES, "--project", "my-project"], "--region is required"),
        (["--source-tables", TABLES, *CLOUD[:4]], "--pipeline-root gs://BUCKET/PATH is required"),
        (["--source-tables", TABLES, *CLOUD[:4], "--pipeline-root", "/tmp/root"], "must be a Cloud Storage path"),
        (["--source-tables", TABLES, *CLOUD[:4], "--pipeline-root", "gs://"], "must be a Cloud Storage path"),
        (["--source-tables", TABLES, *CLOUD[2:], "--project", "My Project"], "not a Google Cloud project id"),
        (["--source-tables", TABLES, *CLOUD[:2], *CLOUD[4:], "--region", "mars"], "not a Google Cloud region"),
        (["--source-tables", TABLES, *CLOUD, "--service-account", "runner"], "service account email"),
        (["--source-tables", TABLES, *CLOUD, "--schedule", "0 25 * * *"], "hour 25 is out of range 0-23"),
        (["--source-tables", TABLES, *CLOUD, "--schedule-name", "n"], "--schedule-name needs --schedule"),
        (["--source-tables", TABLES, *CLOUD, "--schedule", "0 3 * * *", "--batch-id", "b1"], "--batch-id cannot"),
        (["--source-tables", TABLES, *CLOUD, "--label", "Team=x"], "--label 'Team=x'"),
        (["--source-tables", TABLES, *CLOUD, "--template", "nope.yaml"], "--template nope.yaml does not exist"),
        (["--source-tables", TABLES, *CLOUD, "--image", "not an image"], "is not a container image name"),
        (["--source-tables", TABLES, *CLOUD], "placeholder image"),  # no --image: would never start on Vertex
        (["--source-tables", "nodots", *CLOUD, "--image", IMAGE], "project.dataset.table"),
        (["--local", "--source-tables", TABLES, "--project", "my-project", "--dry-run"], "--project, --dry-run"),
        (["--source-tables", TABLES, *CLOUD, "--generate-parallelism", "0"], "--generate-parallelism='0'"),
        (["--source-tables", TABLES, *CLOUD, "--generate-parallelism", "lots"], "whole number of at least 1"),
        (
            [
                "--source-tables",
                TABLES,
                *CLOUD,
                "--template",
                str(REPO / "pipeline.yaml"),
                "--generate-parallelism",
                "4",
            ],
            "--generate-parallelism is fixed when pipeline.py is compiled",
        ),
        (["--local", "--source-tables", TABLES, "--generate-parallelism", "4"], "--generate-parallelism only apply"),
    ],
)
def test_wrong_flags_exit_2_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_parameter_in_the_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"source_tables": TABLES.split(","), "colour": "blue"}))
    assert main(["--config", str(config), *CLOUD, "--image", IMAGE, "--dry-run"]) == 2
    assert "colour" in capsys.readouterr().err


def test_labels_and_label_values() -> None:
    assert parse_labels(["team=data-eng", "cost_centre=42", "empty="]) == {
        "team": "data-eng",
        "cost_centre": "42",
        "empty": "",
    }
    for bad in ["team", "Team=x", "team=X", "1team=x", f"team={'x' * 64}"]:
        with pytest.raises(UsageError):
            parse_labels([bad])
    assert label_value("20261126T175309-abc123") == "20261126t175309-abc123"
    assert label_value("Shop Nightly! (EU)") == "shop-nightly-eu"
    assert len(label_value("x" * 100)) == 63


# ---------------------------------------------------------------------------------------------
# The request
# ---------------------------------------------------------------------------------------------


def config(**overrides: object):  # noqa: ANN201 - a RunConfig
    return load_config(None, {"source_tables": TABLES.split(","), **overrides})


def test_a_run_fixes_its_batch_id_and_a_schedule_leaves_it_to_each_run(tmp_path: Path) -> None:
    run = build_request(config(), tmp_path / "t.yaml", {IMAGE})
    batch = run.parameter_values["batch_id"]
    assert batch and run.labels == {"app": "bqsynth", "batch": label_value(batch)}
    assert run.job_id == f"bqsynth-{label_value(batch)}" and re.fullmatch(r"[a-z][-a-z0-9]{0,127}", run.job_id)

    again = [build_request(config(batch_id="Rerun_Of_May"), tmp_path / "t.yaml", {IMAGE}) for _ in range(2)]
    assert all(r.parameter_values["batch_id"] == "Rerun_Of_May" for r in again)
    assert again[0].job_id != again[1].job_id  # a batch can be rerun: each run is a new job
    assert all(re.fullmatch(r"bqsynth-rerun-of-may-[0-9a-f]{6}", r.job_id) for r in again)

    scheduled = build_request(config(), tmp_path / "t.yaml", {IMAGE}, schedule=Schedule("0 3 * * *", "Nightly EU"))
    assert scheduled.parameter_values["batch_id"] == ""
    assert scheduled.labels == {"app": "bqsynth", "schedule": "nightly-eu"}


def test_the_image_is_replaced_in_every_step(tmp_path: Path) -> None:
    path, images = prepare_template(REPO / "pipeline.yaml", IMAGE, tmp_path)
    spec = yaml.safe_load(path.read_text())
    assert images == {IMAGE}
    assert {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()} == {IMAGE}
    assert prepare_template(REPO / "pipeline.yaml", None, tmp_path) == (
        REPO / "pipeline.yaml",
        {DEFAULT_COMPONENT_IMAGE},
    )
    (tmp_path / "other.yaml").write_text("a: 1\n")
    with pytest.raises(UsageError, match="not a compiled KFP pipeline"):
        prepare_template(tmp_path / "other.yaml", IMAGE, tmp_path)


def test_dry_run_prints_the_request_and_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    sa = "runner@my-project.iam.gserviceaccount.com"
    argv = ["--source-tables", TABLES, "--record-count", "orders=10", *CLOUD, "--service-account", sa]
    assert main([*argv, "--image", IMAGE, "--dry-run", "--label", "team=x"]) == 0
    printed = json.loads(capsys.readouterr().out)
    job = printed["pipelineJob"]
    job_id = printed["request"].rsplit("=", 1)[1]
    assert (
        printed["request"] == f"POST /v1/projects/my-project/locations/us-central1/pipelineJobs?pipelineJobId={job_id}"
    )
    assert printed["endpoint"] == "us-central1-aiplatform.googleapis.com"
    assert printed["consoleUrl"] == (
        f"https://console.cloud.google.com/vertex-ai/locations/us-central1/pipelines/runs/{job_id}?project=my-project"
    )
    batch = job["runtimeConfig"]["parameterValues"]["batch_id"]
    assert job["labels"] == {"app": "bqsynth", "batch": label_value(batch), "team": "x"}
    assert job["serviceAccount"] == sa
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://my-bucket/root"
    assert job["runtimeConfig"]["parameterValues"]["record_counts"] == {"orders": 10}
    assert job["runtimeConfig"]["parameterValues"]["source_tables"] == TABLES.split(",")
    assert job["pipelineSpec"]["images"] == [IMAGE]
    assert "plan-dataset" in job["pipelineSpec"]["tasks"]
    assert job["pipelineSpec"]["parallelismLimits"] == {"generate-each-shard": 32}  # the default cap

    assert main([*argv, "--dry-run", "--schedule", "TZ=UTC 0 3 * * *", "--schedule-name", "nightly"]) == 0
    captured = capsys.readouterr()
    assert "placeholder image" in captured.err  # a dry run warns; a real submission refuses
    schedule = json.loads(captured.out)["schedule"]
    assert schedule["cron"] == "TZ=UTC 0 3 * * *" and schedule["displayName"] == "nightly"
    assert schedule["createPipelineJobRequest"]["pipelineJob"]["runtimeConfig"]["parameterValues"]["batch_id"] == ""


def test_the_cap_on_shards_at_once_is_compiled_into_the_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--generate-parallelism, else $BQSYNTH_GENERATE_PARALLELISM, else 32; a --template keeps its own."""
    argv = ["--source-tables", TABLES, *CLOUD, "--image", IMAGE, "--dry-run"]

    def limits(*extra: str) -> dict[str, int]:
        assert main([*argv, *extra]) == 0
        return json.loads(capsys.readouterr().out)["pipelineJob"]["pipelineSpec"]["parallelismLimits"]

    assert limits("--generate-parallelism", "7") == {"generate-each-shard": 7}
    monkeypatch.setenv("BQSYNTH_GENERATE_PARALLELISM", "12")
    assert limits() == {"generate-each-shard": 12}
    assert limits("--generate-parallelism", "3") == {"generate-each-shard": 3}  # the flag wins
    assert limits("--template", str(REPO / "pipeline.yaml")) == {"generate-each-shard": 32}  # as committed
    monkeypatch.setenv("BQSYNTH_GENERATE_PARALLELISM", "none")
    assert main(argv) == 2
    assert "BQSYNTH_GENERATE_PARALLELISM='none'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The compiled pipeline
# ---------------------------------------------------------------------------------------------


def test_compile_sh_puts_the_image_resources_and_retries_into_every_step(tmp_path: Path) -> None:
    out = tmp_path / "build" / "pipeline.yaml"
    env = {**os.environ, "BQSYNTH_COMPONENT_IMAGE": IMAGE}
    subprocess.run([str(REPO / "compile.sh"), str(out)], env=env, check=True, capture_output=True)
    spec = yaml.safe_load(out.read_text())
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 6
    for name, executor in executors.items():
        container = executor["container"]
        assert container["image"] == IMAGE, name
        resources = container["resources"]
        assert resources["cpuRequest"] <= resources["cpuLimit"], name
        assert resources["memoryRequest"] <= resources["memoryLimit"], name
    dags = [spec["root"]["dag"], *(c["dag"] for c in spec["components"].values() if "dag" in c)]
    steps = {n: t for dag in dags for n, t in dag["tasks"].items() if not n.startswith("for-loop")}
    assert {n for n, t in steps.items() if t.get("retryPolicy", {}).get("maxRetryCount", 0) > 0} == RETRIED
    assert all(t["cachingOptions"] == {} for t in steps.values())  # caching off (enableCache false is omitted)


def test_compile_sh_caps_the_shards_generated_at_once(tmp_path: Path) -> None:
    out = tmp_path / "pipeline.yaml"
    env = {**os.environ, "BQSYNTH_GENERATE_PARALLELISM": "5"}
    done = subprocess.run([str(REPO / "compile.sh"), str(out)], env=env, check=True, capture_output=True, text=True)
    assert "at most 5 shards generated at once" in done.stdout
    loop = next(t for t in yaml.safe_load(out.read_text())["root"]["dag"]["tasks"].values() if "iteratorPolicy" in t)
    assert loop["taskInfo"]["name"] == "generate-each-shard" and loop["iteratorPolicy"] == {"parallelismLimit": 5}
    refused = subprocess.run(
        [str(REPO / "compile.sh"), str(tmp_path / "no.yaml")],
        env={**env, "BQSYNTH_GENERATE_PARALLELISM": "0"},
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "BQSYNTH_GENERATE_PARALLELISM='0'" in refused.stderr
    assert not (tmp_path / "no.yaml").exists()


def test_local_runs_do_not_retry_but_the_pipeline_still_does() -> None:
    from pipeline import bqsynth_pipeline

    def retried(pipeline: object) -> set[str]:
        spec = pipeline.pipeline_spec  # type: ignore[attr-defined]
        dags = [spec.root.dag, *(c.dag for c in spec.components.values() if c.HasField("dag"))]
        return {n for dag in dags for n, t in dag.tasks.items() if t.HasField("retry_policy")}

    assert retried(without_retries(bqsynth_pipeline)) == set()
    assert retried(bqsynth_pipeline) == RETRIED
