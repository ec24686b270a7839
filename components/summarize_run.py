from typing import List

from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def summarize_run(
    plan: Input[Artifact],
    results: Input[List[Artifact]],
    batch: Input[Artifact],
    summary: Output[Artifact],
    report: Output[Markdown],
) -> None:
    """Check the targets by SQL (rows, orphans, duplicate keys) and write the run summary."""
    from bqsynth.steps import summarize_step

    summarize_step(
        plan_path=plan.path,
        result_paths=[r.path for r in results],
        batch_path=batch.path,
        summary_path=summary.path,
        report_path=report.path,
    )
