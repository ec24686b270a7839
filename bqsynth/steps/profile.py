"""Profile one source (a BigQuery table or delimited files in GCS) into a ``TableProfile`` artifact."""

from __future__ import annotations

import logging

from google.cloud import bigquery, storage

from bqsynth.config import RunConfig, column_entry, source_name
from bqsynth.gcp.uris import is_file_source
from bqsynth.llm import headerless_namer, llm_settings
from bqsynth.llm.advice_report import naming_line
from bqsynth.models import TableProfile
from bqsynth.sources.bigquery_profile import ProfileBudget, profile_table
from bqsynth.sources.gcs_files import profile_file_source
from bqsynth.steps.artifacts import step_model_uri, write_model
from bqsynth.steps.audited import AuditTrail, audit_column_fields, audit_file_fields, audited

log = logging.getLogger("bqsynth")


def profile_step(
    config: RunConfig,
    source_table: str,
    profile_path: str,
    *,
    bq: bigquery.Client,
    gcs: storage.Client,
) -> TableProfile:
    """Profile ``source_table`` into ``profile_path`` (local or ``gs://``, see ``profile_uri``).

    A source that cannot be profiled gets a profile that says why.

    The planner leaves such a table out and reports it, so that the other tables go on.
    """
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    name = source_name(source_table)
    with audited(trail, trail.row("profile", table_name=name, source_table=source_table)) as work:
        profile = read_profile(source_table, config, bq, gcs)
        work.complete_with(**audit_column_fields(profile.columns), bytes_processed=profile.bytes_processed)
        if profile.file_format is not None:
            work.complete_with(**audit_file_fields(profile.file_format, profile.source_files, profile.row_count))
    if work.failed:
        profile = TableProfile(table_id=source_table, name=name, error=work.failure)
    write_model(profile, profile_path, gcs=gcs)
    return profile


def read_profile(source: str, config: RunConfig, bq: bigquery.Client, gcs: storage.Client) -> TableProfile:
    """Schema, keys, statistics and a bounded sample of a BigQuery table or a file source.

    With llm=gemini the model names a headerless file's columns (checked; else the names by meaning).
    """
    if is_file_source(source):
        pinned = pinned_names(config, source_name(source))
        namer = headerless_namer(llm_settings(config), pinned=pinned) if config.llm == "gemini" else None
        profile = profile_file_source(gcs, source, sample_rows=config.sample_rows, namer=namer)
        if profile.column_naming is not None:
            log.info("%s: %s", source, naming_line(profile.column_naming))
        return profile
    budget = ProfileBudget(config.profile_full_scan_bytes, config.maximum_bytes_billed)
    return profile_table(bq, source, sample_rows=config.sample_rows, budget=budget)


def profile_uri(config: RunConfig, source_table: str) -> str:
    """Where the profile of ``source_table`` is kept in this batch: the plan step reads it there."""
    return step_model_uri(config, "profile", source_table)


def pinned_names(config: RunConfig, table: str) -> str | None:
    """Why a file source's names by meaning must stay: public_columns or private_columns name its columns
    (a model's names would leave those entries naming nothing); None when nothing names them."""
    entries = [e for e in [*config.public_columns, *config.private_columns] if column_entry(e)[0] == table]
    named = [e for e in entries if column_entry(e)[1] != "*"]
    if not named:
        return None
    return f"public_columns/private_columns name its columns ({', '.join(named[:5])}): their names stay as they are"
