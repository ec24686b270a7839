from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def generate_table(
    plan: Input[Artifact],
    table: str,
    batch: Input[Artifact],
    staging_bucket: str,
    result: Output[Artifact],
) -> None:
    """Run Snowfakery for one table and write its files to GCS under the batch's path."""
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.models import BatchInfo
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.generate import generate_step

    run = read_model(BatchInfo, batch.path)
    generate_step(
        run,
        plan_path=plan.path,
        table=table,
        staging_bucket=staging_bucket,
        result_path=result.path,
        bq=bigquery_client(run.target_project),
        gcs=storage_client(),
    )
