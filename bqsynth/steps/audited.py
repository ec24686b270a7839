"""The audited-step machinery: each piece of work is logged In Progress, then Completed or Failed.

``audited`` writes that sequence once for every step. What a Failed row says depends on
what went wrong (``failure_text``): a ``BqsynthError`` is a problem the user can act on and
is shown in its own words; an error returned by a Google Cloud API is shown as such; any
other exception is a bug in bqsynth, labelled as an internal error with its traceback in the
step's log, so that a bug never looks like bad input.

A step writes all its audit rows through one ``AuditTrail``: one BigQuery client for the
whole step, made by the component and passed in.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import GoogleAPICallError
from google.auth.exceptions import GoogleAuthError
from google.cloud import bigquery

from bqsynth.delivery.audit import AuditRecord, Stage, column_names_csv, schema_json, write_audit
from bqsynth.delivery.source_format_files import custom_header_text
from bqsynth.errors import BqsynthError, error_text
from bqsynth.models import ColumnSchema, FileFormat, Status, TablePlan

log = logging.getLogger("bqsynth")


def is_internal(error: BaseException) -> bool:
    """A bug in bqsynth: neither an error the user can act on nor a refusal by Google Cloud."""
    return not isinstance(error, BqsynthError | GoogleAPICallError | GoogleAuthError)


def failure_text(error: BaseException) -> str:
    """The message of a Failed audit row (and of a failed table in the summary) for ``error``."""
    if isinstance(error, BqsynthError):
        return error_text(error)
    if not is_internal(error):
        # Unexplained by bqsynth, but Google's message names the resource and the refusal.
        return f"Google Cloud refused a request ({type(error).__name__}): {error_text(error)}"
    return (
        f"internal error (a bug in bqsynth, not a problem with the input): {type(error).__name__}: "
        f"{error_text(error)}. The step's log has the traceback; please report it"
    )


def log_failure(what: str, error: BaseException) -> None:
    """Log why ``what`` failed: the message for a user's error, the traceback for anything else."""
    if isinstance(error, BqsynthError):
        log.error("%s failed: %s", what, error_text(error))
    else:
        log.error("%s failed: %s", what, failure_text(error), exc_info=error)


@dataclass(frozen=True)
class AuditTrail:
    """Where one step writes its audit rows: the run's audit table, through the step's one client."""

    client: bigquery.Client
    table_id: str
    batch_id: str

    def row(self, stage: Stage, status: Status = "In Progress", **fields: Any) -> AuditRecord:
        """An audit row of this batch (not yet written)."""
        return AuditRecord(batch_id=self.batch_id, stage=stage, status=status, **fields)

    def table_row(self, stage: Stage, table: TablePlan, **fields: Any) -> AuditRecord:
        """An In Progress row about one planned table: its names and its columns."""
        return self.row(
            stage,
            table_name=table.name,
            source_table=table.source_table,
            target_table=table.target_table,
            **audit_column_fields(table.schema_),
            **fields,
        )

    def write(self, record: AuditRecord) -> None:
        write_audit(self.client, self.table_id, record)


class AuditedWork:
    """What the body of ``audited`` reports: fields for its last row, or a failure without an exception."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.fields: dict[str, Any] = {}
        self.failure: str | None = None  # the Failed row's message, once the work failed

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def seconds(self) -> float:
        """Time since the work began."""
        return time.perf_counter() - self.started

    def complete_with(self, **fields: Any) -> None:
        """Audit columns the last row carries (counts, paths), on top of the In Progress row's."""
        self.fields.update(fields)

    def fail(self, message: str) -> None:
        """The work ended but did not succeed (a run with failed tables): the last row says Failed."""
        self.failure = message


@contextmanager
def audited(
    trail: AuditTrail, begun: AuditRecord, *, announce: bool = True, ends_run: bool = False
) -> Iterator[AuditedWork]:
    """Write ``begun`` (In Progress), run the body, then write Completed or Failed with the message.

    An exception in the body is recorded and swallowed: the step goes on to write its failed
    result, so that one table's failure does not stop the others. ``ends_run`` is for work the
    run cannot go on without (planning, the summary): its failure is also the run's, and the
    exception is raised again so that the pipeline stops. ``announce=False`` closes a row whose
    In Progress was written earlier (the run's, written by start_batch).
    """
    work = AuditedWork()
    if announce:
        trail.write(begun)

    def last_row(status: Status, **fields: Any) -> AuditRecord:
        # Only work whose In Progress row was written here knows how long it has been running.
        timed = {"seconds": work.seconds()} if announce else {}
        return begun.evolve(**{**timed, **fields, "status": status})

    try:
        yield work
    except Exception as error:
        work.failure = failure_text(error)
        log_failure(_work_description(begun), error)
        trail.write(last_row("Failed", error_message=work.failure))
        if ends_run:
            if begun.stage != "run":
                trail.write(trail.row("run", status="Failed", error_message=work.failure))
            raise
        return
    if work.failure is not None:
        trail.write(last_row("Failed", **{**work.fields, "error_message": work.failure}))
    else:
        trail.write(last_row("Completed", **work.fields))


def _work_description(record: AuditRecord) -> str:
    return f"{record.stage} of {record.table_name}" if record.table_name else f"the {record.stage} stage"


def audit_column_fields(columns: list[ColumnSchema]) -> dict[str, Any]:
    """The audit columns that describe a table's columns: their names and the schema as JSON."""
    return {"column_names": column_names_csv(columns), "schema_": schema_json(columns)}


def audit_file_fields(fmt: FileFormat, paths: list[str], record_count: int) -> dict[str, Any]:
    """The audit columns that describe delimited files (a source, or a synthetic copy of one)."""
    return {
        "input_gcs_path": ",".join(paths),
        "column_header_flag": fmt.has_header,
        "delimiter": fmt.delimiter,
        "custom_header": custom_header_text(fmt, record_count, dt.datetime.now(dt.UTC).date()),
        "num_records_generated": record_count,
    }
