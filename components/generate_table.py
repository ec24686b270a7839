from kfp import dsl
from kfp.dsl import Artifact, Input

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def generate_table(config: Input[Artifact], plan: Input[Artifact], work_item: dict) -> str:
    """Generate one shard of one table (a WorkItem from the plan step) and write its files to GCS.

    Returns the gs:// URI of the shard's result (a TableResult) for the load step to collect.
    """
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.models import WorkItem
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.generate import generate_step, generated_uri

    run = read_model(RunConfig, config.path)
    item = WorkItem.model_validate(work_item)
    uri = generated_uri(run, item.table, item.shard)
    generate_step(run, plan.path, item, uri, bq=bigquery_client(run.target_project), gcs=storage_client())
    return uri
