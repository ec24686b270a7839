from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def load_tables(config: Input[Artifact], plan: Input[Artifact], generated: list, results: Output[Artifact]) -> None:
    """Load every generated table into its target, parents first; children of a failed parent are not loaded.

    ``generated`` are the gs:// URIs of the generate step's results.
    """
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.load import load_tables_step

    run = read_model(RunConfig, config.path)
    load_tables_step(
        run, plan.path, generated, results.path, bq=bigquery_client(run.target_project), gcs=storage_client()
    )
