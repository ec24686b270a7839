from kfp import dsl
from kfp.dsl import Artifact, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def start_batch(
    batch_id: str,
    audit_table: str,
    target_project: str,
    target_dataset: str,
    staging_bucket: str,
    source_tables: list,
    batch: Output[Artifact],
) -> None:
    """Resolve the batch id and defaults, create the audit table when missing, log the run as In Progress.

    The resolved values travel as an artifact (BatchInfo), not as output parameters: KFP's
    local runner replaces upstream output parameters inside a ParallelFor with the loop item.
    """
    from bqsynth.steps.plan import start_batch_step

    start_batch_step(
        batch_id=batch_id,
        audit_table=audit_table,
        target_project=target_project,
        target_dataset=target_dataset,
        staging_bucket=staging_bucket,
        source_tables=source_tables,
        batch_path=batch.path,
    )
