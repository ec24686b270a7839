"""The bqsynth pipeline: wiring only. Every step is a component in ``components/``."""

from kfp import dsl
from kfp.dsl import Artifact

from components.generate_table import generate_table
from components.load_table import load_table
from components.plan_dataset import plan_dataset
from components.profile_table import profile_table
from components.start_batch import start_batch
from components.summarize_run import summarize_run

PIPELINE_NAME = "bqsynth"


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
) -> Artifact:
    """Make synthetic copies of BigQuery tables and load them into a target dataset.

    Args:
        source_tables: Fully qualified source tables (project.dataset.table) to copy.
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
    """
    batch = start_batch(
        batch_id=batch_id,
        audit_table=audit_table,
        target_project=target_project,
        target_dataset=target_dataset,
        staging_bucket=staging_bucket,
        source_tables=source_tables,
    ).set_caching_options(False)
    batch_info = batch.outputs["batch"]

    with dsl.ParallelFor(source_tables, name="profile-each-table") as source_table:
        profiled = profile_table(
            source_table=source_table, batch=batch_info, sample_rows=sample_rows
        ).set_caching_options(False)

    planned = plan_dataset(
        profiles=dsl.Collected(profiled.outputs["profile"]),
        batch=batch_info,
        target_dataset=target_dataset,
        record_counts=record_counts,
        scale=scale,
        seed=seed,
        min_category_count=min_category_count,
    ).set_caching_options(False)

    with dsl.ParallelFor(planned.outputs["Output"], name="generate-each-table") as table:
        generated = generate_table(
            plan=planned.outputs["plan"],
            table=table,
            batch=batch_info,
            staging_bucket=staging_bucket,
        ).set_caching_options(False)
        loaded = load_table(
            plan=planned.outputs["plan"],
            generated=generated.outputs["result"],
            batch=batch_info,
            write_disposition=write_disposition,
        ).set_caching_options(False)

    summary = summarize_run(
        plan=planned.outputs["plan"],
        results=dsl.Collected(loaded.outputs["result"]),
        batch=batch_info,
    ).set_caching_options(False)
    return summary.outputs["summary"]
