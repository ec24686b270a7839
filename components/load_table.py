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
    from bqsynth.steps.plan import load_step

    load_step(
        plan_path=plan.path,
        generated_path=generated.path,
        batch_path=batch.path,
        write_disposition=write_disposition,
        result_path=result.path,
    )
