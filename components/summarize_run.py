from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def summarize_run(
    config: Input[Artifact],
    plan: Input[Artifact],
    results: Input[Artifact],
    summary: Output[Artifact],
    report: Output[Markdown],
    quality_report: Output[HTML],
    quality_metrics: Output[Metrics],
) -> None:
    """Check the targets (integrity by SQL; fidelity, privacy, validity on samples) and report."""
    from bqsynth.config import RunConfig
    from bqsynth.gcp.clients import bigquery_client, storage_client
    from bqsynth.steps.artifacts import read_model
    from bqsynth.steps.summarize import summarize_step

    run = read_model(RunConfig, config.path)
    _, headline = summarize_step(
        run,
        plan_path=plan.path,
        results_path=results.path,
        summary_path=summary.path,
        report_path=report.path,
        html_path=quality_report.path,
        bq=bigquery_client(run.target_project),
        gcs=storage_client(),
    )
    for name, value in headline.items():
        quality_metrics.log_metric(name, value)
