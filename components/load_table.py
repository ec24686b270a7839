from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def load_table(
    config: Input[Artifact], plan: Input[Artifact], generated: Input[Artifact], result: Output[Artifact]
) -> None:
    """Load one table's files from GCS into its target table (created when missing), once per batch."""
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.load import load_step

    run = read_model(RunConfig, config.path)
    load_step(run, plan.path, generated.path, result.path, bq=bigquery_client(run.target_project))
