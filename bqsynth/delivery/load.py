"""Generated files to Cloud Storage, and from there into the target BigQuery tables.

A batch is one run's output for one table. Its files live under a deterministic prefix
and are loaded by one load job, so a table either gets the whole batch or nothing.

Idempotency per batch rests on BigQuery's job ids: a job id may be used once per
project, and a second ``jobs.insert`` with the same id is refused with 409 Conflict.
The load job id is derived from (target table, batch id), so a retried or re-run step
finds the earlier job instead of loading again, with ``WRITE_APPEND`` too. A failed job
also keeps its id, so ids carry an attempt number: a re-run walks past failed attempts
(nothing of theirs reached the table) and stops at the first succeeded one or the first
free id. local-bigquery 0.3.2 enforces job-id uniqueness as well, kept across restarts
with a data dir, so the same code is idempotent locally.

Why no ledger table: a ``_bqsynth_loads`` table (check before, write after) would add a
second write that can fail after the load succeeded, and a check-then-write is not
atomic either; the job id is the one atomic guard BigQuery offers. Its limits, accepted:
BigQuery forgets job ids after its job-history retention (months), after which a re-run
of that batch would load again; and a batch loaded with ``WRITE_TRUNCATE`` and then
overwritten by a later batch is not reloaded by re-running the earlier batch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from google.api_core import exceptions
from google.cloud import bigquery, storage
from google.cloud.storage.retry import DEFAULT_RETRY as STORAGE_RETRY

from bqsynth.errors import DeliveryError
from bqsynth.gcp.clients import using_bigquery_emulator
from bqsynth.gcp.schema import columns_from_bigquery, schema_differences, to_bigquery_schema
from bqsynth.gcp.sql import quote_table
from bqsynth.gcp.uris import gcs_uri
from bqsynth.models import ColumnSchema, TableLayout

WriteDisposition = Literal["WRITE_TRUNCATE", "WRITE_APPEND"]

BATCHES_ROOT = "bqsynth/batches"
JOB_ID_MAX_LENGTH = 1024
MAX_LOAD_ATTEMPTS = 50
# A load job that failed for a transient reason is started again under the next attempt id.
TRANSIENT_REASONS = frozenset({"backendError", "internalError", "rateLimitExceeded"})
MAX_TRANSIENT_RETRIES = 3
TRANSIENT_BACKOFF_S = 1.0
# When BigQuery does not say which file broke a load, each file is loaded on its own into
# a scratch table to find it; beyond this many files the cost is not worth it.
MAX_FILES_TO_DIAGNOSE = 50
_ERRORS_SHOWN = 5

_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PATH_PART = re.compile(r"^[A-Za-z0-9_.=-]+$")
# A table's folder is named after the table: BigQuery table names hold Unicode letters, marks,
# numbers, connectors, dashes and spaces (Kunden_Übersicht, Orders 2024), all fine in GCS names.
_TABLE_PART = re.compile(r"^[\w\- ]+$")
_GS_URI = re.compile(r"gs://[^\s'\"]+")


class LoadError(DeliveryError):
    """A batch could not be put into its target table; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# Cloud Storage
# ---------------------------------------------------------------------------------------------


def batch_prefix(batch_id: str, table: str) -> str:
    """``bqsynth/batches/{batch_id}/{table}/``: one folder per batch and table."""
    # A slash or '..' would let one batch write into another's folder.
    if not _PATH_PART.match(batch_id) or batch_id in {".", ".."}:
        raise ValueError(f"batch id {batch_id!r} may only hold letters, digits and _ . = -")
    if not _TABLE_PART.match(table):
        raise ValueError(f"table name {table!r} may only hold letters, digits, marks, _, - and spaces")
    return f"{BATCHES_ROOT}/{batch_id}/{table}/"


def object_names(prefix: str, paths: Sequence[Path]) -> list[str]:
    """Object name of each file: the prefix plus the file's own name.

    Names depend only on the file names, so uploading a batch again overwrites the same
    objects instead of adding new ones. Two files with the same name would silently
    overwrite each other, so that is refused.
    """
    names = [f"{prefix}{Path(path).name}" for path in paths]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"several files would be uploaded to the same object: {duplicates}")
    return names


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".json", ".jsonl", ".ndjson"}:
        return "application/x-ndjson"
    if suffix in {".csv", ".tsv", ".txt", ".dat", ".psv"}:
        return "text/plain"
    return "application/octet-stream"


def ensure_bucket(client: storage.Client, bucket: str, location: str | None = None) -> storage.Bucket:
    """The bucket, created when missing (parallel steps may race to create it: that is fine)."""
    existing = client.lookup_bucket(bucket)
    if existing is not None:
        return existing
    try:
        return client.create_bucket(bucket, location=location)
    except exceptions.Conflict:
        return client.bucket(bucket)


def upload_files(
    storage_client: storage.Client,
    bucket: str,
    prefix: str,
    paths: Sequence[Path],
    location: str | None = None,
) -> list[str]:
    """Upload local files under ``prefix``; return their ``gs://`` URIs in the given order."""
    names = object_names(prefix, paths)
    target = ensure_bucket(storage_client, bucket, location)
    for path, name in zip(paths, names, strict=True):
        # Overwriting an object with the same bytes is harmless, so unconditional uploads
        # may be retried (the client only retries conditional ones by default).
        target.blob(name).upload_from_filename(str(path), content_type=content_type(Path(path)), retry=STORAGE_RETRY)
    return [gcs_uri(bucket, name) for name in names]


# ---------------------------------------------------------------------------------------------
# Target tables
# ---------------------------------------------------------------------------------------------


def table_reference(client: bigquery.Client, table_id: str) -> bigquery.TableReference:
    """``project.dataset.table``, or ``dataset.table`` in the client's project."""
    try:
        return bigquery.TableReference.from_string(table_id, default_project=client.project)
    except ValueError as error:
        raise LoadError(f"target table id must be project.dataset.table or dataset.table, got {table_id!r}") from error


def full_table_id(reference: bigquery.TableReference) -> str:
    return f"{reference.project}.{reference.dataset_id}.{reference.table_id}"


def ensure_dataset(
    client: bigquery.Client, dataset: bigquery.DatasetReference, location: str | None = None
) -> bigquery.Dataset:
    """The dataset, created when missing.

    Looked up first rather than created with ``exists_ok``: creating needs a permission
    that a pipeline writing into an existing dataset may rightly not have.
    """
    try:
        return client.get_dataset(dataset)
    except exceptions.NotFound:
        pass
    new = bigquery.Dataset(dataset)
    if location:
        new.location = location
    return client.create_dataset(new, exists_ok=True)


def schema_mismatch_message(table_id: str, differences: Sequence[str]) -> str:
    listed = "\n".join(f"  - {difference}" for difference in differences)
    return (
        f"target table {table_id} already exists with a schema that does not fit the source, "
        f"so nothing was loaded into it:\n{listed}\n"
        f"To go on, drop it (DROP TABLE `{table_id}`) so that it is recreated with the source schema, "
        "or choose another target dataset."
    )


def with_layout(table: bigquery.Table, layout: TableLayout | None) -> bigquery.Table:
    """``table`` (not yet created) partitioned and clustered as ``layout`` says."""
    if layout is None:
        return table
    if layout.partition_type:
        table.time_partitioning = bigquery.TimePartitioning(type_=layout.partition_type, field=layout.partition_field)
    if layout.range_field:
        table.range_partitioning = bigquery.RangePartitioning(
            field=layout.range_field,
            range_=bigquery.PartitionRange(
                start=layout.range_start, end=layout.range_end, interval=layout.range_interval
            ),
        )
    if layout.clustering_fields:
        table.clustering_fields = layout.clustering_fields
    if layout.require_partition_filter:
        table.require_partition_filter = True
    return table


def ensure_target_table(
    client: bigquery.Client,
    target_table_id: str,
    columns: list[ColumnSchema],
    description: str | None = None,
    location: str | None = None,
    layout: TableLayout | None = None,
) -> bigquery.Table:
    """Create the target with exactly the source schema (and its partitioning and clustering,
    ``layout``) when missing; otherwise check it.

    An existing table is never altered: if its schema cannot take the source's rows
    (see ``schema_differences``), ``LoadError`` lists the differences.
    """
    reference = table_reference(client, target_table_id)
    table_id = full_table_id(reference)
    try:
        ensure_dataset(client, bigquery.DatasetReference(reference.project, reference.dataset_id), location)
        try:
            existing = client.get_table(reference)
        except exceptions.NotFound:
            table = with_layout(bigquery.Table(reference, schema=to_bigquery_schema(columns)), layout)
            table.description = description
            try:
                return client.create_table(table)
            except exceptions.Conflict:
                existing = client.get_table(reference)  # another step created it meanwhile
    except exceptions.GoogleAPICallError as error:
        raise LoadError(
            f"could not create or read the target table {table_id}: {error.message}. Check that the "
            "pipeline's identity may create datasets and tables there, or choose another target dataset."
        ) from error
    differences = schema_differences(columns, columns_from_bigquery(existing.schema))
    if differences:
        raise LoadError(schema_mismatch_message(table_id, differences))
    return existing


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_job_id(target_table_id: str, batch_id: str, attempt: int = 0) -> str:
    """The job id of one load attempt of a batch into a table: same inputs, same id.

    The readable part helps in the BigQuery console; the hash of the exact
    (fully qualified table, batch) pair keeps ids distinct where sanitising made two
    names alike. Only letters, digits, ``_`` and ``-``; at most 1,024 characters.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    digest = hashlib.sha256(f"{target_table_id}\x00{batch_id}".encode()).hexdigest()[:20]
    table_name = target_table_id.rsplit(".", 1)[-1]
    readable = _JOB_ID_UNSAFE.sub("_", f"{table_name}__{batch_id}").strip("_")[:200]
    return f"bqsynth_load_{readable}_{digest}_a{attempt}"


def source_format(uris: Sequence[str]) -> str:
    """The load format of a batch's files, from their names: ``.parquet`` files (the columnar
    engine's, see ``bqsynth.generation.parquet_files``) are Parquet, any other NDJSON. One load job
    reads one format, and a table's batch comes from one engine, so a mix is refused."""
    parquet = [uri.lower().endswith(".parquet") for uri in uris]
    if any(parquet) and not all(parquet):
        raise LoadError(f"a batch mixes Parquet and NDJSON files, which one load job cannot read: {list(uris)[:4]}")
    return bigquery.SourceFormat.PARQUET if parquet and all(parquet) else bigquery.SourceFormat.NEWLINE_DELIMITED_JSON


def load_job_config(
    schema: Sequence[bigquery.SchemaField],
    write_disposition: WriteDisposition,
    file_format: str = bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
) -> bigquery.LoadJobConfig:
    config = bigquery.LoadJobConfig(
        schema=list(schema),
        source_format=file_format,
        write_disposition=write_disposition,
        create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        ignore_unknown_values=False,
        max_bad_records=0,
    )
    if file_format == bigquery.SourceFormat.PARQUET:
        # Without it BigQuery reads a Parquet LIST as a RECORD of ``list.element``, not as REPEATED.
        options = bigquery.ParquetOptions()
        options.enable_list_inference = True
        config.parquet_options = options
    return config


def load_table(
    client: bigquery.Client,
    target_table_id: str,
    uris: list[str],
    columns: list[ColumnSchema],
    batch_id: str,
    write_disposition: WriteDisposition = "WRITE_TRUNCATE",
) -> int:
    """Load a batch of NDJSON or Parquet files (``source_format``) into the target in one job;
    return the rows it loaded.

    Loading the same batch again loads nothing and returns the first load's row count.
    On failure ``LoadError`` names the table and the offending file(s); the target is
    unchanged, because a load job is all-or-nothing.
    """
    if write_disposition not in ("WRITE_TRUNCATE", "WRITE_APPEND"):
        raise ValueError(f"write_disposition must be WRITE_TRUNCATE or WRITE_APPEND, not {write_disposition!r}")
    if not uris:
        raise LoadError(f"no files to load into {target_table_id} for batch {batch_id}: generate the batch first.")
    table = ensure_target_table(client, target_table_id, columns)
    table_id = full_table_id(table.reference)
    # The verified table's own schema, not the source's: it is compatible (checked above) and
    # may legitimately differ in order, descriptions or extra NULLABLE columns, which a load
    # job whose schema differs from its destination's would otherwise trip over.
    config = load_job_config(table.schema, write_disposition, source_format(uris))
    for attempt in range(MAX_LOAD_ATTEMPTS):
        job_id = load_job_id(table_id, batch_id, attempt)
        job, started_here = _start_or_find_job(client, job_id, uris, table, config)
        failure = _wait(job)
        if started_here:
            if failure is not None and transient_failure(failure) and attempt < MAX_TRANSIENT_RETRIES:
                time.sleep(TRANSIENT_BACKOFF_S * (attempt + 1))
                continue  # all-or-nothing: the failed job wrote nothing, the next id tries again
            if failure is not None:
                raise LoadError(_failure_message(client, table, uris, batch_id, job, failure))
            return int(job.output_rows or 0)
        if failure is None and not _table_recreated_since(table, job):
            return int(job.output_rows or 0)
        # An earlier failed attempt, or a load into a table dropped since: this id is spent.
    raise LoadError(
        f"batch {batch_id} was tried {MAX_LOAD_ATTEMPTS} times on {table_id} and every attempt failed; "
        "look at the failed bqsynth_load_* jobs in BigQuery, then run it under a new batch id."
    )


def empty_target(client: bigquery.Client, target_table_id: str, write_disposition: WriteDisposition) -> int:
    """A batch of no rows (a count of 0, an empty source): WRITE_TRUNCATE empties the target on
    purpose, WRITE_APPEND adds nothing; returns the rows loaded, 0."""
    if write_disposition == "WRITE_TRUNCATE":
        client.query(f"TRUNCATE TABLE {quote_table(target_table_id)}").result()
    return 0


def _start_or_find_job(
    client: bigquery.Client,
    job_id: str,
    uris: list[str],
    table: bigquery.Table,
    config: bigquery.LoadJobConfig,
) -> tuple[bigquery.LoadJob, bool]:
    """Start the load under ``job_id``, or return the job that already holds that id."""
    with _emulator_job_lock(job_id):
        try:
            job = client.load_table_from_uri(
                uris, table.reference, job_id=job_id, job_config=config, location=table.location
            )
            return job, True
        except exceptions.Conflict:
            existing = client.get_job(job_id, location=table.location)
        except exceptions.GoogleAPICallError as error:
            raise LoadError(
                f"could not start loading {uris[0]} (and {len(uris) - 1} more) into "
                f"{full_table_id(table.reference)}: {error.message}"
            ) from error
    if not isinstance(existing, bigquery.LoadJob):
        raise LoadError(f"job id {job_id} is taken by a {type(existing).__name__}, not a load job")
    return existing, False


@contextlib.contextmanager
def _emulator_job_lock(job_id: str) -> Iterator[None]:
    """Serialise submissions of one job id, on the emulator only.

    local-bigquery runs the load before it records the job id, so two submissions of the
    same id at the same instant can both load (measured: duplicate rows in 1 of 12 races).
    The emulator is always on this machine, so a file lock closes the gap there; on
    BigQuery the id check is atomic and no lock is needed.
    """
    if not using_bigquery_emulator():
        yield
        return
    lock_dir = Path(tempfile.gettempdir()) / "bqsynth-load-locks"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{job_id[:200]}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def transient_failure(failure: Mapping[str, Any]) -> bool:
    """A job failure worth another attempt: BigQuery's own transient reasons (its docs say to
    retry them), or the emulator's catalog write conflict between two loads at the same instant."""
    reason, message = str(failure.get("reason", "")), str(failure.get("message", ""))
    return reason in TRANSIENT_REASONS or "write-write conflict" in message


def _wait(job: bigquery.LoadJob) -> Mapping[str, Any] | None:
    """Wait for the job; its error result, or None when it succeeded."""
    try:
        job.result()
    except exceptions.GoogleAPICallError:
        pass  # the job's own error_result below is the authoritative account
    return job.error_result


def _table_recreated_since(table: bigquery.Table, job: bigquery.LoadJob) -> bool:
    """True when the earlier load went into a table that has been dropped and recreated."""
    return table.created is not None and job.ended is not None and table.created > job.ended


def files_named_in_errors(errors: Sequence[Mapping[str, Any]], uris: Sequence[str]) -> list[str]:
    """The loaded URIs that BigQuery's error entries name (in ``location`` or the message)."""
    mentioned: set[str] = set()
    for error in errors:
        for text in (str(error.get("location") or ""), str(error.get("message") or "")):
            mentioned.update(match.rstrip(".,;:)") for match in _GS_URI.findall(text))
    return [uri for uri in uris if uri in mentioned]


def summarise_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    messages: list[str] = []
    for error in errors:
        message = str(error.get("message") or error.get("reason") or "unknown error")
        if message not in messages:
            messages.append(message)
    shown = "; ".join(messages[:_ERRORS_SHOWN])
    more = len(messages) - _ERRORS_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


def _failure_message(
    client: bigquery.Client,
    table: bigquery.Table,
    uris: list[str],
    batch_id: str,
    job: bigquery.LoadJob,
    failure: Mapping[str, Any],
) -> str:
    errors = list(job.errors or [failure])
    table_id = full_table_id(table.reference)
    culprits = files_named_in_errors(errors, uris)
    if not culprits and len(uris) == 1:
        culprits = list(uris)
    details = summarise_errors(errors)
    if not culprits:
        diagnosed = _diagnose_files(client, table, uris)
        culprits = list(diagnosed)
        if diagnosed:
            details += "; " + "; ".join(f"{uri}: {message}" for uri, message in diagnosed.items())
    files = ", ".join(culprits) if culprits else f"one of {len(uris)} files under {_common_prefix(uris)}"
    return (
        f"loading batch {batch_id} into {table_id} failed (job {job.job_id}): {details}. "
        f"File(s): {files}. Nothing was written to {table_id}: a load job is all-or-nothing. "
        "Values that do not fit a column's type usually mean the table's plan or recipe does not match "
        "its schema: fix it and run the batch again (the next attempt gets a new job id)."
    )


def _common_prefix(uris: Sequence[str]) -> str:
    prefix = uris[0]
    for uri in uris[1:]:
        while not uri.startswith(prefix):
            prefix = prefix[:-1]
    return prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else prefix


def _diagnose_files(client: bigquery.Client, table: bigquery.Table, uris: list[str]) -> dict[str, str]:
    """Find the failing files by loading each one alone into a throw-away table.

    Only used when the job's errors name no file (local-bigquery names the wildcard or
    nothing). Runs the loads in parallel and always drops the scratch table.
    """
    scratch = bigquery.TableReference(
        bigquery.DatasetReference(table.project, table.dataset_id),
        f"_bqsynth_check_{table.table_id[:100]}_{uuid.uuid4().hex[:12]}",
    )
    config = load_job_config(table.schema, "WRITE_APPEND", source_format(uris))
    try:
        client.create_table(bigquery.Table(scratch, schema=table.schema))

        def check(uri: str) -> tuple[str, str | None]:
            job = client.load_table_from_uri(uri, scratch, job_config=config, location=table.location)
            failure = _wait(job)
            return uri, None if failure is None else summarise_errors(job.errors or [failure])

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(check, uris[:MAX_FILES_TO_DIAGNOSE]))
        return {uri: message for uri, message in results if message is not None}
    except exceptions.GoogleAPICallError:
        return {}  # diagnosis is a courtesy; the original error is still reported
    finally:
        client.delete_table(scratch, not_found_ok=True)
