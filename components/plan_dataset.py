from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def plan_dataset(config: Input[Artifact], profiles: list, plan: Output[Artifact]) -> list:
    """Plan all tables jointly (relationships, keys, generators, advised by Gemini when llm is gemini).

    ``profiles`` are the gs:// URIs of the profiles. Returns the work items to generate: a dict
    (WorkItem) per shard of each table.

    The list is the single return value (KFP's "Output") because the local runner can only
    iterate a ParallelFor over an output of that name.
    """
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.plan import plan_step

    run = read_model(RunConfig, config.path)
    return plan_step(run, profiles, plan.path, bq=bigquery_client(run.target_project), gcs=storage_client())
