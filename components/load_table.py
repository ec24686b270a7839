from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def load_table(
    plan: Input[Artifact],
    generated: Input[Artifact],
    batch: Input[Artifact],
    write_disposition: str,
    result: Output[Artifact],
) -> None:
    """Load one table's files from GCS into its target table (created when missing), once per batch."""
    from bqsynth.gcp.clients import bigquery_client
    from bqsynth.models import BatchInfo
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.load import load_step

    run = read_model(BatchInfo, batch.path)
    load_step(
        run,
        plan_path=plan.path,
        generated_path=generated.path,
        write_disposition=write_disposition,
        result_path=result.path,
        bq=bigquery_client(run.target_project),
    )
