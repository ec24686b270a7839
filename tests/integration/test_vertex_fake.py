"""submit.py against a local fake of the Vertex AI REST API, with the real aiplatform client.

The fake (http.server on 127.0.0.1, random port) implements what the client calls:
pipelineJobs create and get, schedules create, list, get and delete. It records every
request; the tests assert on what arrived. The client runs unchanged with
``api_transport="rest"`` and ``api_endpoint="http://127.0.0.1:PORT"`` (the REST transport
keeps an explicit scheme); the pipeline root is a bucket on the GCS emulator; credentials
are a fixed token. Nothing may leave 127.0.0.1: name lookups of any other host fail the test.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.auth
import pytest
from google.cloud.aiplatform.utils import gcs_utils
from google.oauth2.credentials import Credentials

from bqsynth.deploy.vertex import label_value
from bqsynth.gcp.clients import storage_client
from submit import main

PROJECT = "bqsynth-test"
REGION = "europe-west4"
SA = "bqsynth-runner@bqsynth-test.iam.gserviceaccount.com"
IMAGE = "europe-west4-docker.pkg.dev/bqsynth-test/bqsynth/bqsynth-components:it"
TABLES = ["src-project.shop.customers", "src-project.shop.orders"]
RETRIED = {"start-batch", "profile-table", "plan-dataset", "generate-table", "load-tables", "summarize-run"}
PARENT = f"projects/{PROJECT}/locations/{REGION}"


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeVertex:
    """The Vertex AI REST resources the client uses, in memory."""

    requests: list[Received] = field(default_factory=list)
    jobs: dict[str, dict] = field(default_factory=dict)
    schedules: dict[str, dict] = field(default_factory=dict)
    failures: list[tuple[str, str, int, str]] = field(default_factory=list)  # method, path part, code, status
    url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    def to(self, method: str, collection: str) -> list[Received]:
        return [r for r in self.requests if r.method == method and collection in r.path]

    def add_schedule(self, display_name: str) -> str:
        name = f"{PARENT}/schedules/{next(self._ids)}"
        self.schedules[name] = {"name": name, "displayName": display_name, "cron": "0 0 * * *", "state": "ACTIVE"}
        return name

    def fail_next(self, method: str, path_part: str, code: int, status: str) -> None:
        self.failures.append((method, path_part, code, status))

    def handle(self, method: str, url: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict]:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = json.loads(raw) if raw else None
        self.requests.append(Received(method, parts.path, query, {k.lower(): v for k, v in headers.items()}, body))
        for failure in self.failures:
            if failure[0] == method and failure[1] in parts.path:
                self.failures.remove(failure)
                return failure[2], _error(failure[2], failure[3], f"the fake refuses this {method}")
        path = parts.path.removeprefix("/v1/")
        if method == "POST" and re.fullmatch(r"projects/[^/]+/locations/[^/]+/pipelineJobs", path):
            name = f"{path}/{query['pipelineJobId']}"
            self.jobs[name] = {**body, "name": name, "state": "PIPELINE_STATE_PENDING"}
            return 200, self.jobs[name]
        if method == "GET" and path in self.jobs:
            return 200, self.jobs[path]
        if method == "POST" and re.fullmatch(r"projects/[^/]+/locations/[^/]+/schedules", path):
            name = f"{path}/{next(self._ids)}"
            self.schedules[name] = {**body, "name": name, "state": "ACTIVE"}
            return 200, self.schedules[name]
        if method == "GET" and re.fullmatch(r"projects/[^/]+/locations/[^/]+/schedules", path):
            wanted = re.fullmatch(r'display_name="(.*)"', query.get("filter", ""))
            found = [s for s in self.schedules.values() if not wanted or s["displayName"] == wanted[1]]
            return 200, {"schedules": found}
        if method == "GET" and path in self.schedules:
            return 200, self.schedules[path]
        if method == "DELETE" and path in self.schedules:
            del self.schedules[path]
            operation = f"{path}/operations/{next(self._ids)}"
            return 200, {
                "name": operation,
                "done": True,
                "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
            }
        return 404, _error(404, "NOT_FOUND", f"the fake has no {method} {parts.path}")


def _error(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "status": status, "message": message}}


@pytest.fixture
def fake_vertex() -> Iterator[FakeVertex]:
    fake = FakeVertex()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code, payload = fake.handle(self.command, self.path, dict(self.headers), raw)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fixed-token credentials instead of application-default ones; no host but 127.0.0.1."""
    monkeypatch.setattr(google.auth, "default", lambda *args, **kwargs: (Credentials(token="test"), PROJECT))
    lookup, refused = socket.getaddrinfo, []

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1", b"127.0.0.1"):
            refused.append(host)
            raise OSError(f"test: no network to {host}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    yield
    assert not refused, f"the client tried to reach {refused}"


@pytest.fixture(scope="module")
def pipeline_root(local_stack: object) -> Iterator[str]:
    bucket = storage_client().create_bucket(f"bqsynth-it-pipelines-{uuid.uuid4().hex[:8]}")
    yield f"gs://{bucket.name}/root"
    bucket.delete(force=True)


def args(fake: FakeVertex, pipeline_root: str, *extra: str) -> list[str]:
    return [
        *("--project", PROJECT, "--region", REGION, "--pipeline-root", pipeline_root),
        *("--service-account", SA, "--image", IMAGE),
        *("--api-endpoint", fake.url, "--api-transport", "rest"),
        *("--source-tables", ",".join(TABLES), "--target-dataset", "shop_synthetic"),
        *("--record-count", "orders=1000", "--seed", "7", "--sample-rows", "50"),
        *extra,
    ]


def all_tasks(spec: dict) -> dict[str, dict]:
    dags = [spec["root"]["dag"], *(c["dag"] for c in spec["components"].values() if "dag" in c)]
    return {name: task for dag in dags for name, task in dag["tasks"].items()}


def assert_is_the_bqsynth_pipeline(spec: dict, parameters: dict) -> None:
    """The compiled pipeline as Vertex receives it: parameters, order, image, retries, resources, no cache."""
    root = spec["root"]
    assert set(root["inputDefinitions"]["parameters"]) == set(parameters)
    tasks = root["dag"]["tasks"]
    generation = next(t for n, t in tasks.items() if n.startswith("for-loop") and "plan-dataset" in t["dependentTasks"])
    assert generation["parameterIterator"]["items"]["inputParameter"].endswith("plan-dataset-Output")
    assert "for-loop-1" in tasks["plan-dataset"]["dependentTasks"]  # after every table is profiled
    executors = spec["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {IMAGE}
    assert all(
        {"cpuLimit", "memoryLimit", "cpuRequest", "memoryRequest"} <= set(e["container"]["resources"])
        for e in executors
    )
    steps = {n: t for n, t in all_tasks(spec).items() if not n.startswith("for-loop")}
    assert all(t["cachingOptions"] == {"enableCache": False} for t in steps.values())
    assert {n for n, t in steps.items() if t.get("retryPolicy", {}).get("maxRetryCount")} == RETRIED


def test_submit_sends_the_pipeline_with_parameters_labels_and_service_account(
    fake_vertex: FakeVertex, pipeline_root: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PipelineJob.submit() would create the bucket or ask Cloud Resource Manager who owns it
    # (over gRPC, past the lookup guard): submit.py checks the bucket itself instead.
    sdk_bucket_setup: list[dict] = []
    monkeypatch.setattr(
        gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist", sdk_bucket_setup.append
    )
    assert main(args(fake_vertex, pipeline_root, "--label", "team=data-eng")) == 0
    out = capsys.readouterr().out
    assert sdk_bucket_setup == []

    (create,) = fake_vertex.to("POST", "/pipelineJobs")
    assert [r.method for r in fake_vertex.requests] == ["POST"]  # one request, nothing else
    assert create.path == f"/v1/{PARENT}/pipelineJobs"
    assert create.headers["authorization"] == "Bearer test"
    job_id, job = create.query["pipelineJobId"], create.body
    assert (
        f"https://console.cloud.google.com/vertex-ai/locations/{REGION}/pipelines/runs/{job_id}?project={PROJECT}"
        in out
    )

    parameters = job["runtimeConfig"]["parameterValues"]
    batch_id = parameters["batch_id"]
    assert batch_id and f"batch {batch_id}" in out and label_value(batch_id) in job_id
    assert parameters == {
        "source_tables": TABLES,
        "target_project": "src-project",
        "target_dataset": "shop_synthetic",
        "record_counts": {"orders": 1000},
        "scale": 1.0,
        "max_rows": 100_000_000,
        "seed": 7,
        "staging_bucket": "bqsynth-staging",
        "audit_table": "src-project.shop_synthetic.bqsynth_audit",
        "batch_id": batch_id,
        "sample_rows": 50,
        "min_category_count": 5,
        "public_columns": [],
        "private_columns": [],
        "write_disposition": "WRITE_TRUNCATE",
        "llm": "gemini",  # Vertex runs default to the model
        "model": "gemini-2.5-flash",
        "llm_location": "us-central1",
        "sample_policy": "masked",
        "llm_token_budget": 400000,
        "quality_sample_rows": 10000,
        "quality_table": "",
        "file_outputs": {},
        "maximum_bytes_billed": 100 << 30,
        "profile_full_scan_bytes": 10 << 30,
        "engine": "auto",
        "shard_rows": 250_000,
        "plan_uri": "",
        "recipes": {},
    }
    assert job["runtimeConfig"]["gcsOutputDirectory"] == pipeline_root
    assert job["serviceAccount"] == SA
    assert job["labels"] == {"app": "bqsynth", "batch": label_value(batch_id), "team": "data-eng"}
    assert job["displayName"] == f"bqsynth src-project.shop_synthetic {batch_id}"
    assert_is_the_bqsynth_pipeline(job["pipelineSpec"], parameters)
    assert f"{PARENT}/pipelineJobs/{job_id}" in fake_vertex.jobs


def test_scheduling_twice_leaves_one_schedule_with_the_cron(
    fake_vertex: FakeVertex, pipeline_root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = fake_vertex.add_schedule("someone else's schedule")
    schedule = ["--schedule", "TZ=Europe/Paris 30 6 * * MON-FRI", "--schedule-name", "shop nightly"]
    assert main(args(fake_vertex, pipeline_root, *schedule)) == 0
    (first,) = fake_vertex.schedules.keys() - {other}
    assert main(args(fake_vertex, pipeline_root, *schedule)) == 0
    out = capsys.readouterr().out

    assert sorted(s["displayName"] for s in fake_vertex.schedules.values()) == [
        "shop nightly",
        "someone else's schedule",
    ]
    (second,) = fake_vertex.schedules.keys() - {other}
    assert f"replaced schedule {first}" in out and second in out
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake_vertex.requests] == [
        ("GET", "schedules"),  # list by name: none yet
        ("POST", "schedules"),
        ("GET", "schedules"),  # list by name: the first one
        ("POST", "schedules"),  # create the new one before deleting the old one
        ("DELETE", first.rsplit("/", 1)[-1]),
    ]
    assert all(r.query["filter"] == 'display_name="shop nightly"' for r in fake_vertex.to("GET", "/schedules"))
    assert not fake_vertex.to("POST", "/pipelineJobs")  # a schedule starts runs, submit.py does not

    body = fake_vertex.to("POST", "/schedules")[-1].body
    assert body["displayName"] == "shop nightly"
    assert body["cron"] == "TZ=Europe/Paris 30 6 * * MON-FRI"
    assert int(body["maxConcurrentRunCount"]) == 1
    request = body["createPipelineJobRequest"]
    assert request["parent"] == PARENT
    job = request["pipelineJob"]
    assert job["serviceAccount"] == SA
    assert job["labels"] == {"app": "bqsynth", "schedule": "shop-nightly"}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == pipeline_root
    assert job["runtimeConfig"]["parameterValues"]["batch_id"] == ""  # every run starts its own batch
    assert_is_the_bqsynth_pipeline(job["pipelineSpec"], job["runtimeConfig"]["parameterValues"])


def test_the_committed_pipeline_yaml_can_be_submitted_as_the_template(
    fake_vertex: FakeVertex, pipeline_root: str
) -> None:
    template = Path(__file__).resolve().parents[2] / "pipeline.yaml"
    assert main(args(fake_vertex, pipeline_root, "--template", str(template))) == 0
    (create,) = fake_vertex.to("POST", "/pipelineJobs")
    assert_is_the_bqsynth_pipeline(create.body["pipelineSpec"], create.body["runtimeConfig"]["parameterValues"])


def test_dry_run_sends_nothing(fake_vertex: FakeVertex, pipeline_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(fake_vertex, pipeline_root, "--dry-run", "--schedule", "0 3 * * *")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["schedule"]["cron"] == "0 3 * * *"
    assert fake_vertex.requests == []


def test_a_plan_and_recipes_in_cloud_storage_are_sent_as_parameters(
    fake_vertex: FakeVertex, pipeline_root: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan, recipe = "gs://bqsynth-staging/plans/plan.yaml", "gs://bqsynth-staging/plans/orders.recipe.yml"
    without_counts = [a for a in args(fake_vertex, pipeline_root) if a not in ("--record-count", "orders=1000")]
    assert main([*without_counts, "--dry-run", "--plan", plan, "--recipe", f"orders={recipe}"]) == 0
    parameters = json.loads(capsys.readouterr().out)["pipelineJob"]["runtimeConfig"]["parameterValues"]
    assert parameters["plan_uri"] == plan and parameters["recipes"] == {"orders": recipe}
    # A local file cannot be read by the steps on Vertex AI: refused before anything is sent.
    local = tmp_path / "plan.yaml"
    local.write_text("seed: 1\ntables: []\n")
    assert main([*without_counts, "--dry-run", "--plan", str(local)]) == 2
    assert "is a local file, which the steps on Vertex AI cannot read" in capsys.readouterr().err
    assert fake_vertex.requests == []


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_an_unreachable_api_exits_1_naming_the_endpoint(
    transport: str, pipeline_root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}" if transport == "rest" else f"127.0.0.1:{port}"
    argv = args(FakeVertex(url=endpoint), pipeline_root)
    argv[argv.index("--api-transport") + 1] = transport
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert f"cannot reach the Vertex AI API at {endpoint} ({transport})" in error
    assert "Connection refused" in error and "gcloud services enable aiplatform.googleapis.com" in error
    assert "Traceback" not in error


def test_a_refused_request_exits_1_with_the_roles_to_check(
    fake_vertex: FakeVertex, pipeline_root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_vertex.fail_next("POST", "/pipelineJobs", 403, "PERMISSION_DENIED")
    assert main(args(fake_vertex, pipeline_root)) == 1
    error = capsys.readouterr().err
    assert "the fake refuses this POST" in error
    assert "roles/aiplatform.user" in error and f"roles/iam.serviceAccountUser on {SA}" in error


def test_a_missing_pipeline_root_bucket_exits_1_before_calling_vertex(
    fake_vertex: FakeVertex, local_stack: object, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"gs://bqsynth-it-missing-{uuid.uuid4().hex[:8]}/root"
    assert main(args(fake_vertex, missing)) == 1
    error = capsys.readouterr().err
    assert "does not exist" in error and "gcloud storage buckets create" in error
    assert fake_vertex.requests == []
