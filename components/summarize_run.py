from typing import List

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def summarize_run(
    plan: Input[Artifact],
    results: Input[List[Artifact]],
    batch: Input[Artifact],
    summary: Output[Artifact],
    report: Output[Markdown],
    quality_report: Output[HTML],
    quality_metrics: Output[Metrics],
    min_category_count: int = 5,
    quality_sample_rows: int = 10000,
    quality_table: str = "",
) -> None:
    """Check the targets (integrity by SQL; fidelity, privacy, validity on samples) and report."""
    from bqsynth.gcp.clients import bigquery_client
    from bqsynth.models import BatchInfo
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.summarize import summarize_step

    run = read_model(BatchInfo, batch.path)
    _, headline = summarize_step(
        run,
        plan_path=plan.path,
        result_paths=[r.path for r in results],
        summary_path=summary.path,
        report_path=report.path,
        html_path=quality_report.path,
        min_category_count=min_category_count,
        quality_sample_rows=quality_sample_rows,
        quality_table=quality_table,
        bq=bigquery_client(run.target_project),
    )
    for name, value in headline.items():
        quality_metrics.log_metric(name, value)
