"""The bqsynth pipeline: wiring only. Every step is a component in ``components/``.

On Vertex AI Pipelines each step runs in the component image (``components.COMPONENT_IMAGE``)
on a machine Vertex sizes from the step's CPU and memory limits below; steps that call
Google APIs are retried with backoff. Caching is off for every step: a rerun must start a
new batch (a cached step would replay the previous batch's artifacts).
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact

from components.generate_table import generate_table
from components.load_table import load_table
from components.plan_dataset import plan_dataset
from components.profile_table import profile_table
from components.start_batch import start_batch
from components.summarize_run import summarize_run

PIPELINE_NAME = "bqsynth"


class Resources(NamedTuple):
    """CPU (cores) and memory (bytes, Kubernetes units) of one step: request and limit."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


# Small steps wait on BigQuery jobs; plan and generate work in the worker (Snowfakery is
# single-threaded and streams rows, so one core and a few GB suffice per table or shard).
LIGHT = Resources(cpu_request="0.5", cpu_limit="1", memory_request="1G", memory_limit="2G")
WORKER = Resources(cpu_request="1", cpu_limit="2", memory_request="2G", memory_limit="4G")

# Vertex retries a failed step after 30 s, then 60 s: transient API, quota or machine
# failures. A step that fails for one table records it and succeeds, so retries never
# hide a table's error; every retried step is idempotent (same batch paths, load job ids).
GOOGLE_API_RETRY = {"num_retries": 2, "backoff_duration": "30s", "backoff_factor": 2.0, "backoff_max_duration": "300s"}


def _configure(task: dsl.PipelineTask, resources: Resources, calls_google: bool) -> dsl.PipelineTask:
    task.set_caching_options(False)
    task.set_cpu_request(resources.cpu_request).set_cpu_limit(resources.cpu_limit)
    task.set_memory_request(resources.memory_request).set_memory_limit(resources.memory_limit)
    if calls_google:
        task.set_retry(**GOOGLE_API_RETRY)
    return task


@dsl.pipeline(name=PIPELINE_NAME, description="Synthetic, referentially intact copies of BigQuery tables.")
def bqsynth_pipeline(
    source_tables: list = [],  # noqa: B006 - KFP reads defaults from the signature
    target_project: str = "",
    target_dataset: str = "bqsynth_synthetic",
    record_counts: dict = {},  # noqa: B006
    scale: float = 1.0,
    seed: int = 42,
    staging_bucket: str = "bqsynth-staging",
    audit_table: str = "",
    batch_id: str = "",
    sample_rows: int = 200,
    min_category_count: int = 5,
    write_disposition: str = "WRITE_TRUNCATE",
    llm: str = "gemini",
    model: str = "gemini-2.5-flash",
    llm_location: str = "us-central1",
    sample_policy: str = "masked",
    llm_token_budget: int = 400000,
    quality_sample_rows: int = 10000,
    quality_table: str = "",
    file_outputs: dict = {},  # noqa: B006
) -> Artifact:
    """Make synthetic copies of BigQuery tables and load them into a target dataset.

    Args:
        source_tables: Sources to copy: BigQuery tables (project.dataset.table) and delimited files
            (gs://bucket/path/file.csv, or a * wildcard for a table in several parts), mixed freely.
        target_project: Project of the target dataset; empty means the first source table's project.
        target_dataset: Dataset that receives the synthetic tables (created when missing).
        record_counts: Rows to generate per table, keyed by short table name, e.g. {"Fact_Sales": 100000}.
        scale: Rows = source rows x scale, for tables without an entry in record_counts.
        seed: Random seed; the same seed and inputs give identical data.
        staging_bucket: GCS bucket for the generated files (gs://BUCKET/bqsynth/batches/BATCH/TABLE/).
        audit_table: Audit log table project.dataset.table; empty means TARGET_DATASET.bqsynth_audit.
        batch_id: Identifier of this batch; empty means a new one. Rerunning a batch id never duplicates rows.
        sample_rows: Source rows sampled per table for pattern and meaning detection.
        min_category_count: Category values seen fewer times than this are never emitted (privacy).
        write_disposition: WRITE_TRUNCATE replaces each target table's rows; WRITE_APPEND adds the batch.
        llm: Plan advisor: gemini (checked answers improve the offline plan) or offline (no model at all).
        model: Gemini model name used when llm is gemini.
        llm_location: Vertex AI region that serves the model.
        sample_policy: Sample rows sent to the model: masked (identifying columns masked), none, or raw.
        llm_token_budget: Tokens the model may use in one run; past it the remaining tables are planned offline.
        quality_sample_rows: Rows of each source and target compared for fidelity, privacy and validity.
        quality_table: Quality table project.dataset.table (a row per table per run); empty means next to the audit.
        file_outputs: Changes to a file source's format for its synthetic files, by table name, e.g.
            {"orders": {"delimiter": ",", "has_header": true, "trailer_lines": ["TRL|{count:07}"]}}.
    """
    batch = _configure(
        start_batch(
            batch_id=batch_id,
            audit_table=audit_table,
            target_project=target_project,
            target_dataset=target_dataset,
            staging_bucket=staging_bucket,
            source_tables=source_tables,
        ),
        LIGHT,
        calls_google=True,
    )
    batch_info = batch.outputs["batch"]

    with dsl.ParallelFor(source_tables, name="profile-each-table") as source_table:
        profiled = _configure(
            profile_table(source_table=source_table, batch=batch_info, sample_rows=sample_rows),
            LIGHT,
            calls_google=True,
        )

    planned = _configure(
        plan_dataset(
            profiles=dsl.Collected(profiled.outputs["profile"]),
            batch=batch_info,
            target_dataset=target_dataset,
            record_counts=record_counts,
            scale=scale,
            seed=seed,
            min_category_count=min_category_count,
            llm=llm,
            model=model,
            llm_location=llm_location,
            sample_policy=sample_policy,
            llm_token_budget=llm_token_budget,
            file_outputs=file_outputs,
        ),
        WORKER,
        calls_google=True,  # Gemini, when llm is gemini
    )

    with dsl.ParallelFor(planned.outputs["Output"], name="generate-each-table") as table:
        generated = _configure(
            generate_table(
                plan=planned.outputs["plan"],
                table=table,
                batch=batch_info,
                staging_bucket=staging_bucket,
            ),
            WORKER,
            calls_google=True,
        )
        loaded = _configure(
            load_table(
                plan=planned.outputs["plan"],
                generated=generated.outputs["result"],
                batch=batch_info,
                write_disposition=write_disposition,
            ),
            LIGHT,
            calls_google=True,
        )

    summary = _configure(
        summarize_run(
            plan=planned.outputs["plan"],
            results=dsl.Collected(loaded.outputs["result"]),
            batch=batch_info,
            min_category_count=min_category_count,
            quality_sample_rows=quality_sample_rows,
            quality_table=quality_table,
        ),
        WORKER,  # SDMetrics and the distance-to-closest-record matrix hold samples in memory
        calls_google=True,
    )
    return summary.outputs["summary"]
