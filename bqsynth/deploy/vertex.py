"""Submit and schedule the bqsynth pipeline on Vertex AI Pipelines.

``submit.py`` is the command line; this module turns a compiled pipeline definition
and a ``RunConfig`` into a Vertex AI ``PipelineJob`` (or a ``PipelineJobSchedule``),
checks offline whatever can be checked offline (project, region, pipeline root, service
account, cron expression, labels, component image), and sends the request with the
official google-cloud-aiplatform client. That client is imported lazily: it takes ~2 s.

Errors are ``SubmitError`` (exit code 1: the API, the network, credentials, a missing
bucket) or its subclass ``UsageError`` (exit code 2: a flag or value to fix); each
message names what was called and what to check.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bqsynth.config import RunConfig, new_batch_id
from bqsynth.errors import BqsynthError

CONSOLE = "https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
CREATE_TIMEOUT_S = 120.0


class SubmitError(BqsynthError):
    """Submitting failed at run time (API, network, credentials, bucket): exit code 1."""

    exit_code = 1


class UsageError(SubmitError):
    """A flag or value is wrong; the message says which and how to fix it: exit code 2."""

    exit_code = 2


class CronError(UsageError):
    """A schedule's cron expression is not one Vertex AI accepts."""


# ---------------------------------------------------------------------------------------------
# Cron expressions (unix-cron, as Vertex AI schedules take them)
# ---------------------------------------------------------------------------------------------

_MONTHS = {name: number for number, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_DAYS = {name: number for number, name in enumerate("SUN MON TUE WED THU FRI SAT".split())}
# name, lowest, highest value, names allowed in place of numbers
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),  # 0 and 7 are both Sunday
)
_CRON_HELP = (
    'five fields "minute hour day-of-month month day-of-week", optionally after TZ=Area/City, '
    'e.g. "0 3 * * *" (03:00 UTC daily) or "TZ=Europe/Paris 30 6 * * MON-FRI"'
)


def validate_cron(expression: str) -> str:
    """Check a schedule's cron expression the way Vertex AI reads it; return it trimmed.

    Five fields: numbers, ``*``, ranges ``a-b``, lists ``a,b``, steps ``*/n`` / ``a-b/n`` /
    ``a/n``, month names JAN-DEC and day names SUN-SAT (any case). A ``TZ=`` or ``CRON_TZ=``
    prefix names an IANA time zone; without one the schedule runs in UTC.
    """
    text = " ".join(expression.split())
    fields_text = text
    zone = re.match(r"^(?:CRON_TZ|TZ)=(\S*)(?: (.*))?$", text)
    if zone:
        _check_time_zone(zone[1], expression)
        fields_text = zone[2] or ""
    fields = fields_text.split()
    if len(fields) != len(_CRON_FIELDS):
        raise CronError(f"cron {expression!r} has {len(fields)} field(s); expected {_CRON_HELP}")
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_field(value, name, low, high, names, expression)
    return text


def _check_time_zone(name: str, expression: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        # Without a time zone database on this machine, only the shape can be checked.
        if zoneinfo.available_timezones() or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", name):
            raise CronError(
                f"cron {expression!r}: {name!r} is not an IANA time zone (e.g. TZ=America/New_York, TZ=UTC)"
            ) from error


def _check_cron_field(value: str, name: str, low: int, high: int, names: dict[str, int], expression: str) -> None:
    def fail(problem: str) -> CronError:
        return CronError(f"cron {expression!r}: {name} {problem}; expected {_CRON_HELP}")

    def number(token: str) -> int:
        if token.isdigit():
            result = int(token)
        elif token.upper() in names:
            result = names[token.upper()]
        else:
            allowed = f"a number {low}-{high}" + (f" or a name such as {next(iter(names))}" if names else "")
            raise fail(f"{token!r} is not {allowed}")
        if not low <= result <= high:
            raise fail(f"{token} is out of range {low}-{high}")
        return result

    for item in value.split(","):
        if not item:
            raise fail(f"{value!r} has an empty list item")
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and 1 <= int(step) <= high):
            raise fail(f"{item!r} has step {step!r}; a step is a whole number 1-{high}")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        if not dash:
            number(start)
        elif number(start) > number(end):
            raise fail(f"range {base!r} runs backwards")


# ---------------------------------------------------------------------------------------------
# The request
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VertexTarget:
    """Where and as whom the pipeline runs."""

    project: str
    region: str
    pipeline_root: str  # gs://BUCKET/PATH: Vertex keeps every step's artifacts there
    service_account: str | None = None  # the identity the steps run as (default: Compute Engine's)
    api_endpoint: str | None = None  # default REGION-aiplatform.googleapis.com
    api_transport: str = "grpc"  # or "rest" (HTTP/1.1, e.g. through proxies)

    @property
    def endpoint(self) -> str:
        return self.api_endpoint or f"{self.region}-aiplatform.googleapis.com"

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def bucket(self) -> str:
        return self.pipeline_root.removeprefix("gs://").split("/", 1)[0]


def validate_target(
    project: str | None,
    region: str | None,
    pipeline_root: str | None,
    service_account: str | None = None,
    api_endpoint: str | None = None,
    api_transport: str = "grpc",
) -> VertexTarget:
    """A ``VertexTarget`` from command-line values, or a ``UsageError`` naming the flag."""
    if not project:
        raise UsageError("--project is required to submit to Vertex AI Pipelines (or use --local to run here)")
    if not re.fullmatch(r"([a-z0-9.-]+:)?[a-z][-a-z0-9]{4,28}[a-z0-9]", project):
        raise UsageError(f"--project {project!r} is not a Google Cloud project id (e.g. my-project-123)")
    if not region:
        raise UsageError("--region is required to submit to Vertex AI Pipelines, e.g. --region us-central1")
    if not re.fullmatch(r"[a-z]+(-[a-z]+)+[0-9]+", region):
        raise UsageError(f"--region {region!r} is not a Google Cloud region such as us-central1 or europe-west4")
    if not pipeline_root:
        raise UsageError("--pipeline-root gs://BUCKET/PATH is required: Vertex AI keeps each step's artifacts there")
    if not re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/\S*)?", pipeline_root):
        raise UsageError(
            f"--pipeline-root {pipeline_root!r} must be a Cloud Storage path gs://BUCKET/PATH "
            "(a bucket name has 3-222 of a-z 0-9 . _ -)"
        )
    if service_account and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z.]+", service_account):
        raise UsageError(
            f"--service-account {service_account!r} must be a service account email, "
            "e.g. bqsynth-runner@PROJECT.iam.gserviceaccount.com"
        )
    if api_transport not in ("grpc", "rest"):
        raise UsageError(f"--api-transport {api_transport!r}: expected grpc or rest")
    return VertexTarget(project, region, pipeline_root.rstrip("/"), service_account, api_endpoint, api_transport)


@dataclass(frozen=True)
class Schedule:
    cron: str
    display_name: str
    max_concurrent_run_count: int = 1  # a run never overlaps the previous one


@dataclass(frozen=True)
class JobRequest:
    """One pipeline run (or the runs of a schedule) as Vertex AI will receive it."""

    display_name: str
    job_id: str
    template_path: Path
    parameter_values: dict[str, Any]
    labels: dict[str, str]
    schedule: Schedule | None = None
    images: tuple[str, ...] = field(default_factory=tuple)
    template_source: str = ""  # what the template was made from, for people reading a dry run


def label_value(text: str) -> str:
    """``text`` as a Google Cloud label value: lowercase letters, digits, ``-`` and ``_``, <= 63."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:63].rstrip("-_")


def parse_labels(pairs: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key) or not re.fullmatch(r"[a-z0-9_-]{0,63}", value):
            raise UsageError(
                f"--label {pair!r}: expected KEY=VALUE with lowercase letters, digits, - and _ (key starts "
                "with a letter; both at most 63 characters), e.g. --label team=data-eng"
            )
        labels[key] = value
    return labels


def template_images(template: dict[str, Any]) -> set[str]:
    """The container images of a compiled pipeline's steps."""
    executors = template.get("deploymentSpec", {}).get("executors", {})
    return {e["container"]["image"] for e in executors.values() if "container" in e}


def parallelism_limits(template: dict[str, Any]) -> dict[str, int]:
    """Each loop of a compiled pipeline that caps its concurrent iterations (by its name), and the cap:
    fixed when the pipeline was compiled, so a dry run shows what the template carries."""
    tasks = template.get("root", {}).get("dag", {}).get("tasks", {})
    return {
        task.get("taskInfo", {}).get("name", name): int(task["iteratorPolicy"]["parallelismLimit"])
        for name, task in tasks.items()
        if task.get("iteratorPolicy", {}).get("parallelismLimit")
    }


def prepare_template(source: Path, image: str | None, workdir: Path) -> tuple[Path, set[str]]:
    """The pipeline definition to send: ``source``, with every step's image replaced by ``image``.

    Returns the file to submit and the images its steps run in.
    """
    try:
        template = yaml.safe_load(source.read_text())
    except FileNotFoundError as error:
        raise UsageError(f"--template {source} does not exist (./compile.sh writes pipeline.yaml)") from error
    except yaml.YAMLError as error:
        raise UsageError(f"--template {source} is not a compiled pipeline (YAML): {error}") from error
    if not isinstance(template, dict) or "deploymentSpec" not in template or "root" not in template:
        raise UsageError(f"--template {source} is not a compiled KFP pipeline (./compile.sh writes one)")
    if not image:
        return source, template_images(template)
    if not re.fullmatch(r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})?", image):
        raise UsageError(f"--image {image!r} is not a container image name, e.g. REGION-docker.pkg.dev/P/REPO/NAME:TAG")
    for executor in template["deploymentSpec"]["executors"].values():
        if "container" in executor:
            executor["container"]["image"] = image
    path = workdir / source.name
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path, {image}


def build_request(
    config: RunConfig,
    template_path: Path,
    images: set[str],
    *,
    schedule: Schedule | None = None,
    display_name: str | None = None,
    labels: dict[str, str] | None = None,
    template_source: str = "",
) -> JobRequest:
    """The job for ``config``: a run has its batch id fixed now (it names the job and labels it,
    so the console, the audit table and the files agree); a schedule's runs each start a batch."""
    parameters = config.for_runner(local=False).model_dump()
    all_labels = {"app": "bqsynth"}
    if schedule:
        if config.batch_id:
            raise UsageError(
                "--batch-id cannot be used with --schedule: every scheduled run starts a new batch "
                "(a fixed batch id would load nothing after the first run)"
            )
        all_labels["schedule"] = label_value(schedule.display_name) or "unnamed"
        job_id = ""  # Vertex names each scheduled run
    else:
        batch_id = config.batch_id or new_batch_id()
        parameters["batch_id"] = batch_id
        all_labels["batch"] = label_value(batch_id) or "unnamed"
        suffix = f"-{uuid.uuid4().hex[:6]}" if config.batch_id else ""  # a rerun of a batch is a new job
        job_id = re.sub(r"-+", "-", f"bqsynth-{label_value(batch_id).replace('_', '-')}")[:121].rstrip("-") + suffix
    all_labels.update(labels or {})
    name = display_name or f"bqsynth {config.target_project}.{config.target_dataset}" + (
        "" if schedule else f" {parameters['batch_id']}"
    )
    if len(name) > 128:  # Vertex AI's limit
        name = name[:125] + "..."
    return JobRequest(
        name, job_id, template_path, parameters, all_labels, schedule, tuple(sorted(images)), template_source
    )


def console_url(target: VertexTarget, job_id: str | None = None, schedule_id: str | None = None) -> str:
    base = CONSOLE.format(region=target.region)
    if job_id:
        return f"{base}/runs/{job_id}?project={target.project}"
    if schedule_id:
        return f"{base}/schedules/{schedule_id}?project={target.project}"
    return f"{base}/schedules?project={target.project}"


# ---------------------------------------------------------------------------------------------
# Talking to Vertex AI
# ---------------------------------------------------------------------------------------------


def _aiplatform() -> Any:
    from google.cloud import aiplatform

    # The SDK's loggers print every call and a "use this in another session" snippet to
    # stdout, each at its own INFO level; submit.py prints a summary instead.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("google.cloud.aiplatform") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.WARNING)
    return aiplatform


def _pipeline_job(aiplatform: Any, request: JobRequest, target: VertexTarget, credentials: Any) -> Any:
    try:
        return aiplatform.PipelineJob(
            display_name=request.display_name,
            template_path=str(request.template_path),
            job_id=request.job_id or None,
            pipeline_root=target.pipeline_root,
            parameter_values=request.parameter_values,
            enable_caching=False,  # every run is a new batch: never replay a previous run's steps
            labels=request.labels,
            project=target.project,
            location=target.region,
            credentials=credentials,
        )
    except ValueError as error:  # a parameter the pipeline does not have, a bad label or job id
        raise UsageError(f"the pipeline request is invalid: {error}") from error


def describe(request: JobRequest, target: VertexTarget) -> dict[str, Any]:
    """What ``submit`` or ``schedule`` would send, built by the real client without any network."""
    from google.auth.credentials import AnonymousCredentials

    job = _pipeline_job(_aiplatform(), request, target, AnonymousCredentials()).to_dict()
    spec = job.pop("pipelineSpec")
    job["serviceAccount"] = target.service_account  # null: the project's Compute Engine default account
    job["pipelineSpec"] = {
        "pipelineInfo": spec.get("pipelineInfo"),
        "template": request.template_source or str(request.template_path),
        "tasks": sorted(spec["root"]["dag"]["tasks"]),
        "images": list(request.images),
        "parallelismLimits": parallelism_limits(spec),
    }
    described: dict[str, Any] = {"dryRun": True, "endpoint": target.endpoint, "apiTransport": target.api_transport}
    if request.schedule:
        described["request"] = f"POST /v1/{target.parent}/schedules"
        described["schedule"] = {
            "displayName": request.schedule.display_name,
            "cron": request.schedule.cron,
            "maxConcurrentRunCount": request.schedule.max_concurrent_run_count,
            "replaces": f"every schedule named {request.schedule.display_name!r} in {target.parent}",
            "createPipelineJobRequest": {"parent": target.parent, "pipelineJob": job},
        }
        described["consoleUrl"] = console_url(target)
    else:
        described["request"] = f"POST /v1/{target.parent}/pipelineJobs?pipelineJobId={request.job_id}"
        described["pipelineJob"] = job
        described["consoleUrl"] = console_url(target, job_id=request.job_id)
    return described


def describe_json(request: JobRequest, target: VertexTarget) -> str:
    return json.dumps(describe(request, target), indent=2, sort_keys=False)


@dataclass(frozen=True)
class Submitted:
    resource_name: str
    job_id: str
    console_url: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scheduled:
    resource_name: str
    console_url: str
    replaced: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def submit(request: JobRequest, target: VertexTarget, credentials: Any = None) -> Submitted:
    """Create the pipeline run on Vertex AI; return its name and console link."""
    if request.schedule:
        raise ValueError("submit() runs once; use schedule() for a request with a schedule")
    aiplatform, credentials = _connect(target, credentials)
    job = _pipeline_job(aiplatform, request, target, credentials)  # validates the parameters offline
    warnings = check_pipeline_root(target, credentials)
    with _api_errors(target, "create the pipeline run"), _without_sdk_bucket_setup():
        job.submit(service_account=target.service_account, create_request_timeout=CREATE_TIMEOUT_S)
    job_id = job.resource_name.rsplit("/", 1)[-1]
    return Submitted(job.resource_name, job_id, console_url(target, job_id=job_id), tuple(warnings))


def schedule(request: JobRequest, target: VertexTarget, credentials: Any = None) -> Scheduled:
    """Create the schedule, then delete every older schedule of the same display name.

    Creating first means a failure leaves the previous schedule in place; afterwards exactly
    one schedule has the name, however often this runs.
    """
    if not request.schedule:
        raise ValueError("schedule() needs a request with a schedule")
    name = request.schedule.display_name
    aiplatform, credentials = _connect(target, credentials)
    job = _pipeline_job(aiplatform, request, target, credentials)  # validates the parameters offline
    warnings = check_pipeline_root(target, credentials)
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    with _api_errors(target, f"list the schedules named {name!r}"):
        existing = aiplatform.PipelineJobSchedule.list(
            filter=f'display_name="{quoted}"', project=target.project, location=target.region, credentials=credentials
        )
    with _api_errors(target, f"create the schedule {name!r}"):
        created = job.create_schedule(
            cron=request.schedule.cron,
            display_name=name,
            max_concurrent_run_count=request.schedule.max_concurrent_run_count,
            service_account=target.service_account,
            create_request_timeout=CREATE_TIMEOUT_S,
        )
    replaced = []
    for old in existing:
        if old.display_name == name and old.resource_name != created.resource_name:
            with _api_errors(target, f"delete the replaced schedule {old.resource_name}"):
                old.delete()
            replaced.append(old.resource_name)
    schedule_id = created.resource_name.rsplit("/", 1)[-1]
    return Scheduled(
        created.resource_name, console_url(target, schedule_id=schedule_id), tuple(replaced), tuple(warnings)
    )


def _connect(target: VertexTarget, credentials: Any) -> tuple[Any, Any]:
    """The aiplatform module, initialised for ``target``, and the credentials it uses."""
    import google.auth
    from google.auth import exceptions as auth_exceptions

    if credentials is None:
        try:
            credentials, _ = google.auth.default(scopes=SCOPES)
        except auth_exceptions.DefaultCredentialsError as error:
            raise SubmitError(
                "no Google credentials found: run `gcloud auth application-default login`, or set "
                "GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
            ) from error
    aiplatform = _aiplatform()
    aiplatform.init(
        project=target.project,
        location=target.region,
        credentials=credentials,
        api_endpoint=target.endpoint,  # always set: init() keeps an endpoint from an earlier call otherwise
        api_transport=target.api_transport,
    )
    return aiplatform, credentials


def check_pipeline_root(target: VertexTarget, credentials: Any) -> list[str]:
    """Make sure the pipeline root's bucket exists; return warnings for what could not be checked.

    Listing one object needs only object permissions (the submitting account often has no
    bucket-level role); a 404 means the bucket is missing.
    """
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions
    from google.cloud import storage

    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    where = f"the Cloud Storage emulator at {emulator} (STORAGE_EMULATOR_HOST)" if emulator else "Cloud Storage"
    client = storage.Client(project=target.project, credentials=credentials)
    prefix = target.pipeline_root.removeprefix(f"gs://{target.bucket}").lstrip("/")
    try:
        next(iter(client.list_blobs(target.bucket, prefix=prefix, max_results=1, timeout=60)), None)
    except api_exceptions.NotFound as error:
        raise SubmitError(
            f"the pipeline root's bucket gs://{target.bucket} does not exist in {where}: create it next to the "
            f"pipeline (gcloud storage buckets create gs://{target.bucket} --project {target.project} "
            f"--location {target.region} --uniform-bucket-level-access) and give the pipeline's service account "
            "roles/storage.objectAdmin on it"
        ) from error
    except api_exceptions.Forbidden:
        return [
            f"could not list gs://{target.bucket} as the submitting account; make sure the pipeline's service account "
            f"{target.service_account or '(Compute Engine default)'} has roles/storage.objectAdmin on it"
        ]
    except auth_exceptions.RefreshError as error:
        raise SubmitError(
            f"your credentials were refused while checking gs://{target.bucket}: {_network_error_text(error)}. "
            "Run `gcloud auth application-default login` (or check GOOGLE_APPLICATION_CREDENTIALS)"
        ) from error
    except (api_exceptions.GoogleAPICallError, auth_exceptions.TransportError, OSError) as error:
        raise SubmitError(
            f"cannot check the pipeline root gs://{target.bucket} in {where}: {_network_error_text(error)}. "
            "Check your network or proxy and your credentials (gcloud auth application-default login)"
        ) from error
    return []


@contextlib.contextmanager
def _without_sdk_bucket_setup() -> Iterator[None]:
    """Skip what ``PipelineJob.submit`` does to the pipeline root's bucket before submitting.

    The SDK creates a missing bucket and grants IAM roles on it, and for an existing bucket
    asks Cloud Resource Manager for the project number to compare with the bucket's owner;
    it logs, and otherwise ignores, every failure of this. ``check_pipeline_root`` checks
    the bucket instead, and reports a missing one as an error.
    """
    from google.cloud.aiplatform.utils import gcs_utils

    name = "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist"
    original = getattr(gcs_utils, name)  # AttributeError if a new SDK renamed it: revisit then
    setattr(gcs_utils, name, lambda output_artifacts_gcs_dir=None, **_: output_artifacts_gcs_dir)
    try:
        yield
    finally:
        setattr(gcs_utils, name, original)


def _network_error_text(error: BaseException) -> str:
    """The useful part of a network error (requests' messages quote the whole URL twice)."""
    text = str(error)
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return f"{type(error).__name__}: {errno[0]}"
    return f"{type(error).__name__}: {text[:300]}"


@contextlib.contextmanager
def _api_errors(target: VertexTarget, action: str) -> Iterator[None]:
    """Translate the client's exceptions into a ``SubmitError`` saying what to check."""
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    where = f"the Vertex AI API at {target.endpoint} ({target.api_transport})"
    try:
        yield
    except SubmitError:
        raise
    except (auth.RefreshError, api.Unauthenticated, api.Unauthorized) as error:
        raise SubmitError(
            f"{where} did not accept your credentials to {action}: {_network_error_text(error)}. "
            "Run `gcloud auth application-default login` (or check GOOGLE_APPLICATION_CREDENTIALS)"
        ) from error
    except (auth.TransportError, api.ServiceUnavailable, api.DeadlineExceeded, api.RetryError, OSError) as error:
        raise SubmitError(
            f"cannot reach {where} to {action}: {_network_error_text(error)}. Check your network or proxy, that "
            f"--region {target.region} is a Vertex AI region, and that the Vertex AI API is enabled "
            f"(gcloud services enable aiplatform.googleapis.com --project {target.project})"
        ) from error
    except (api.PermissionDenied, api.Forbidden) as error:  # gRPC and REST spellings
        account = target.service_account or "the Compute Engine default service account"
        raise SubmitError(
            f"{where} refused to {action} in project {target.project}: {error.message}. The submitting account "
            f"needs roles/aiplatform.user on the project and roles/iam.serviceAccountUser on {account}; "
            "the Vertex AI API must be enabled"
        ) from error
    except api.NotFound as error:
        raise SubmitError(
            f"{where} found no such resource to {action}: {error.message}. Check --project {target.project} "
            f"and --region {target.region}"
        ) from error
    except api.GoogleAPICallError as error:
        raise SubmitError(f"{where} failed to {action}: {error.code} {error.message}") from error
