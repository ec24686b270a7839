from typing import List

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def plan_dataset(
    profiles: Input[List[Artifact]],
    batch: Input[Artifact],
    target_dataset: str,
    record_counts: dict,
    scale: float,
    seed: int,
    min_category_count: int,
    llm: str,
    model: str,
    llm_location: str,
    sample_policy: str,
    llm_token_budget: int,
    file_outputs: dict,
    plan: Output[Artifact],
) -> list:
    """Plan all tables jointly (relationships, keys, generators, advised by Gemini when llm is gemini).

    Returns the tables to generate.

    The list is the single return value (KFP's "Output") because the local runner can only
    iterate a ParallelFor over an output of that name.
    """
    from bqsynth.gcp.clients import bigquery_client
    from bqsynth.models import BatchInfo
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.plan import plan_step

    run = read_model(BatchInfo, batch.path)
    return plan_step(
        run,
        profile_paths=[p.path for p in profiles],
        target_dataset=target_dataset,
        record_counts=record_counts,
        scale=scale,
        seed=seed,
        min_category_count=min_category_count,
        plan_path=plan.path,
        llm=llm,
        model=model,
        llm_location=llm_location,
        sample_policy=sample_policy,
        llm_token_budget=llm_token_budget,
        file_outputs=file_outputs,
        bq=bigquery_client(run.target_project),
    )
