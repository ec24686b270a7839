from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def profile_table(source_table: str, batch: Input[Artifact], sample_rows: int, profile: Output[Artifact]) -> None:
    """Read one source table's schema, keys, statistics and a bounded sample (a TableProfile)."""
    from bqsynth.steps.plan import profile_step

    profile_step(
        source_table=source_table,
        batch_path=batch.path,
        sample_rows=sample_rows,
        profile_path=profile.path,
    )
