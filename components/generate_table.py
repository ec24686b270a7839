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
    from bqsynth.steps.plan import generate_step

    generate_step(
        plan_path=plan.path,
        table=table,
        batch_path=batch.path,
        staging_bucket=staging_bucket,
        result_path=result.path,
    )
