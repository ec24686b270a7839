from kfp import dsl
from kfp.dsl import Artifact, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def start_batch(
    source_tables: list,
    target_project: str,
    target_dataset: str,
    record_counts: dict,
    scale: float,
    max_rows: int,
    seed: int,
    staging_bucket: str,
    audit_table: str,
    batch_id: str,
    sample_rows: int,
    min_category_count: int,
    public_columns: list,
    private_columns: list,
    write_disposition: str,
    llm: str,
    model: str,
    llm_location: str,
    sample_policy: str,
    llm_token_budget: int,
    quality_sample_rows: int,
    quality_table: str,
    file_outputs: dict,
    maximum_bytes_billed: int,
    profile_full_scan_bytes: int,
    engine: str,
    shard_rows: int,
    plan_uri: str,
    recipes: dict,
    config: Output[Artifact],
) -> None:
    """Validate the pipeline's parameters into the run's configuration (a RunConfig artifact), resolve
    its defaults (batch id, target project, audit table), create the audit table, log the run In Progress.

    Takes every pipeline parameter, by the same name; every other step reads the config artifact.
    """
    # Every parameter above but the output, by name: taken first, before any other local exists.
    parameters = {name: value for name, value in locals().items() if name != "config"}

    from bqsynth.gcp.clients import bigquery_client
    from bqsynth.steps.start_batch import run_config, start_batch_step

    run = run_config(parameters)
    start_batch_step(run, config.path, bq=bigquery_client(run.target_project))
