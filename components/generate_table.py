from kfp import dsl
from kfp.dsl import Artifact, Input

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def generate_table(config: Input[Artifact], plan: Input[Artifact], table: str) -> str:
    """Run Snowfakery for one table and write its files to GCS under the batch's path.

    Returns the gs:// URI of the table's result (a TableResult) for the load step to collect.
    """
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.generate import generate_step, generated_uri

    run = read_model(RunConfig, config.path)
    uri = generated_uri(run, table)
    generate_step(run, plan.path, table, uri, bq=bigquery_client(run.target_project), gcs=storage_client())
    return uri
