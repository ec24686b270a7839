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
    from bqsynth.gcp.clients import bigquery_client
    from bqsynth.steps.start_batch import batch_info, start_batch_step

    info = batch_info(batch_id, audit_table, target_project, target_dataset, source_tables)
    start_batch_step(info, staging_bucket, len(source_tables), batch.path, bq=bigquery_client(info.target_project))
