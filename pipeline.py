"""The bqsynth pipeline: wiring only. Every step is a component in ``components/``.

On Vertex AI Pipelines each step runs in the component image (``components.COMPONENT_IMAGE``)
on a machine Vertex sizes from the step's CPU and memory limits below; steps that call
Google APIs are retried with backoff. Caching is off for every step: a rerun must start a
new batch (a cached step would replay the previous batch's artifacts).
"""

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

from kfp import dsl
from kfp.dsl import Artifact
from kfp.dsl.graph_component import GraphComponent

from bqsynth.config import parameter_docs, pipeline_defaults
from components.generate_table import generate_table
from components.load_tables import load_tables
from components.plan_dataset import plan_dataset
from components.profile_table import profile_table
from components.start_batch import start_batch
from components.summarize_run import summarize_run

PIPELINE_NAME = "bqsynth"
GENERATE_LOOP = "generate-each-shard"  # the generation ParallelFor's task name in the compiled spec

# The parameters' defaults are RunConfig's (bqsynth/config.py), the one place they are written.
DEFAULTS = pipeline_defaults()

# At most this many shards are generated at once. On Vertex AI every task of the generation
# loop is a worker VM of its own, so without a cap a table of 400 shards asks for 400 VMs at
# once (and the project's CPU quota decides what happens). KFP takes the cap as an int when the
# pipeline is compiled (ParallelFor(parallelism=...), the spec's iteratorPolicy), never as a
# run's parameter: BQSYNTH_GENERATE_PARALLELISM=N ./compile.sh or submit.py --generate-parallelism N.
DEFAULT_GENERATE_PARALLELISM = 32
GENERATE_PARALLELISM_ENV = "BQSYNTH_GENERATE_PARALLELISM"


def generate_parallelism(setting: str | int | None, where: str = GENERATE_PARALLELISM_ENV) -> int:
    """The cap from a setting (an environment variable's text, a flag's int; empty: the default)."""
    if setting is None or setting == "":
        return DEFAULT_GENERATE_PARALLELISM
    text = str(setting).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"{where}={setting!r}: the number of shards generated at once must be a whole number of at "
            f"least 1 (default {DEFAULT_GENERATE_PARALLELISM})"
        )
    return int(text)


class Resources(NamedTuple):
    """CPU (cores) and memory (bytes, Kubernetes units) of one step: request and limit."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


# Small steps wait on BigQuery jobs; plan and generate work in the worker (Snowfakery is
# single-threaded and streams rows, so one core and a few GB suffice per table or shard).
LIGHT = Resources(cpu_request="0.5", cpu_limit="1", memory_request="1G", memory_limit="2G")
WORKER = Resources(cpu_request="1", cpu_limit="2", memory_request="2G", memory_limit="4G")

# Vertex retries a failed step after 30 s, then 60 s: transient API, quota or machine
# failures. A step that fails for one table records it and succeeds, so retries never
# hide a table's error; every retried step is idempotent (same batch paths, load job ids).
GOOGLE_API_RETRY = {"num_retries": 2, "backoff_duration": "30s", "backoff_factor": 2.0, "backoff_max_duration": "300s"}


def _configure(task: dsl.PipelineTask, resources: Resources, calls_google: bool) -> dsl.PipelineTask:
    task.set_caching_options(False)
    task.set_cpu_request(resources.cpu_request).set_cpu_limit(resources.cpu_limit)
    task.set_memory_request(resources.memory_request).set_memory_limit(resources.memory_limit)
    if calls_google:
        task.set_retry(**GOOGLE_API_RETRY)
    return task


def _with_parameter_docs(pipeline_func: Callable[..., Any]) -> Callable[..., Any]:
    """Append RunConfig's parameter descriptions as the ``Args:`` KFP reads into the pipeline spec."""
    pipeline_func.__doc__ = f"{inspect.cleandoc(pipeline_func.__doc__ or '')}\n\n{parameter_docs()}\n"
    return pipeline_func


def build_pipeline(parallelism: int = DEFAULT_GENERATE_PARALLELISM) -> GraphComponent:
    """The pipeline, whose generation loop runs at most ``parallelism`` shards at once."""
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise ValueError(f"the generation loop's parallelism must be an int of at least 1, not {parallelism!r}")

    @dsl.pipeline(name=PIPELINE_NAME, description="Synthetic, referentially intact copies of BigQuery tables.")
    @_with_parameter_docs
    def bqsynth_pipeline(
        source_tables: list = DEFAULTS["source_tables"],
        target_project: str = DEFAULTS["target_project"],
        target_dataset: str = DEFAULTS["target_dataset"],
        record_counts: dict = DEFAULTS["record_counts"],
        scale: float = DEFAULTS["scale"],
        max_rows: int = DEFAULTS["max_rows"],
        seed: int = DEFAULTS["seed"],
        staging_bucket: str = DEFAULTS["staging_bucket"],
        audit_table: str = DEFAULTS["audit_table"],
        batch_id: str = DEFAULTS["batch_id"],
        sample_rows: int = DEFAULTS["sample_rows"],
        min_category_count: int = DEFAULTS["min_category_count"],
        public_columns: list = DEFAULTS["public_columns"],
        private_columns: list = DEFAULTS["private_columns"],
        write_disposition: str = DEFAULTS["write_disposition"],
        llm: str = DEFAULTS["llm"],
        model: str = DEFAULTS["model"],
        llm_location: str = DEFAULTS["llm_location"],
        sample_policy: str = DEFAULTS["sample_policy"],
        llm_token_budget: int = DEFAULTS["llm_token_budget"],
        quality_sample_rows: int = DEFAULTS["quality_sample_rows"],
        quality_table: str = DEFAULTS["quality_table"],
        file_outputs: dict = DEFAULTS["file_outputs"],
        maximum_bytes_billed: int = DEFAULTS["maximum_bytes_billed"],
        profile_full_scan_bytes: int = DEFAULTS["profile_full_scan_bytes"],
        engine: str = DEFAULTS["engine"],
        shard_rows: int = DEFAULTS["shard_rows"],
        plan_uri: str = DEFAULTS["plan_uri"],
        recipes: dict = DEFAULTS["recipes"],
    ) -> Artifact:
        """Make synthetic copies of BigQuery tables and load them into a target dataset.

        The parameters are documented in RunConfig (bqsynth/config.py); ``_with_parameter_docs``
        appends their descriptions here for the compiled pipeline.
        """
        # start_batch takes every pipeline parameter, by name (locals() also holds ``parallelism``,
        # from build_pipeline), and turns them into the run's configuration; the other steps read
        # it as an artifact.
        parameters = {name: value for name, value in locals().items() if name in DEFAULTS}
        started = _configure(start_batch(**parameters), LIGHT, calls_google=True)
        config = started.outputs["config"]

        # Per-table steps hand on gs:// URIs (strings), never artifacts, to the step that collects
        # them: Vertex AI refuses a collected fan-in of more than 100 artifacts, not of parameters.
        with dsl.ParallelFor(source_tables, name="profile-each-table") as source_table:
            profiled = _configure(profile_table(config=config, source_table=source_table), LIGHT, calls_google=True)

        planned = _configure(
            plan_dataset(config=config, profiles=dsl.Collected(profiled.output)),
            WORKER,
            calls_google=True,  # Gemini, when llm is gemini
        )

        # One iteration per work item: a shard of at most shard_rows rows of one table, so that a
        # large table's shards run on separate workers (bqsynth/generation/shards.py), at most
        # ``parallelism`` at once.
        with dsl.ParallelFor(planned.outputs["Output"], name=GENERATE_LOOP, parallelism=parallelism) as work_item:
            generated = _configure(
                generate_table(config=config, plan=planned.outputs["plan"], work_item=work_item),
                WORKER,
                calls_google=True,
            )

        # One step loads every table, parents before children, so that it knows whether a
        # table's parents are in their targets before it loads the table (bqsynth/steps/load.py);
        # all shards of a table go into its target in one load job, or none of them.
        loaded = _configure(
            load_tables(config=config, plan=planned.outputs["plan"], generated=dsl.Collected(generated.output)),
            LIGHT,
            calls_google=True,
        )

        summary = _configure(
            summarize_run(config=config, plan=planned.outputs["plan"], results=loaded.outputs["results"]),
            WORKER,  # SDMetrics and the distance-to-closest-record matrix hold samples in memory
            calls_google=True,
        )
        return summary.outputs["summary"]

    return bqsynth_pipeline


# The pipeline as compiled into pipeline.yaml: the default cap.
bqsynth_pipeline = build_pipeline()
