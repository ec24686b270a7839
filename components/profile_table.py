from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def profile_table(config: Input[Artifact], source_table: str, profile: Output[Artifact]) -> None:
    """Read one source table's schema, keys, statistics and a bounded sample (a TableProfile)."""
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.profile import profile_step

    run = read_model(RunConfig, config.path)
    profile_step(run, source_table, profile.path, bq=bigquery_client(run.target_project), gcs=storage_client())
