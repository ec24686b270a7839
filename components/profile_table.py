from kfp import dsl
from kfp.dsl import Artifact, Input

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def profile_table(config: Input[Artifact], source_table: str) -> str:
    """Read one source table's schema, keys, statistics and a bounded sample (a TableProfile).

    Returns the gs:// URI of the profile in the batch's folder: the plan step collects
    these strings (Vertex AI refuses a collected fan-in of more than 100 artifacts).
    """
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.profile import profile_step, profile_uri

    run = read_model(RunConfig, config.path)
    uri = profile_uri(run, source_table)
    profile_step(run, source_table, uri, bq=bigquery_client(run.target_project), gcs=storage_client())
    return uri
