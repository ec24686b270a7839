"""A run over many source tables compiles to a pipeline that Vertex AI Pipelines accepts.

Vertex refuses a collected fan-in of more than 100 artifacts ("Maximum number of artifacts
exceeded", ECOSYSTEM.md). A ParallelFor over a list parameter is dynamic: the compiled spec
does not say how many iterations run, so a collected input gathers as many artifacts as
the list has items. The pipeline must therefore collect only parameters (gs:// URIs as
strings), never artifacts; these tests read the compiled YAML to check it.
"""

# No "from __future__ import annotations": KFP reads the components' annotations as types.
from pathlib import Path
from typing import Any, List

import yaml
from kfp import compiler, dsl
from kfp.dsl import Artifact, Input, Output

from pipeline import bqsynth_pipeline

VERTEX_MAX_COLLECTED_ARTIFACTS = 100
MANY_TABLES = [f"bqsynth-local.warehouse.table_{n:03d}" for n in range(150)]


def compile_spec(pipeline_func: Any, path: Path, **parameters: Any) -> dict:
    compiler.Compiler().compile(pipeline_func, str(path), pipeline_parameters=parameters or None)
    return yaml.safe_load(path.read_text())


def dags(spec: dict) -> dict[str, dict]:
    """Every DAG of the spec (the root's and each sub-DAG's, e.g. a ParallelFor body), by name."""
    found = {"root": spec["root"]["dag"]}
    found.update({name: c["dag"] for name, c in spec["components"].items() if "dag" in c})
    return found


def loop_tasks(dag: dict) -> set[str]:
    """The tasks of a DAG that are ParallelFor loops (one iteration per item of a list)."""
    return {
        name for name, task in dag.get("tasks", {}).items() if "parameterIterator" in task or "artifactIterator" in task
    }


def collected_inputs(spec: dict) -> list[tuple[str, str, str]]:
    """(dag, task, input) for every input fed by a ParallelFor's collected output, with its kind.

    The kind is "artifact" or "parameter"; the same walk covers a loop's sub-DAG outputs
    selecting from a nested loop.
    """
    found = []
    for dag_name, dag in dags(spec).items():
        loops = loop_tasks(dag)
        for task_name, task in dag.get("tasks", {}).items():
            for kind, key in (("artifact", "taskOutputArtifact"), ("parameter", "taskOutputParameter")):
                for input_name, source in task.get("inputs", {}).get(f"{kind}s", {}).items():
                    if source.get(key, {}).get("producerTask") in loops:
                        found.append((f"{dag_name}/{task_name}.{input_name}", kind, source[key]["producerTask"]))
        for output_name, output in dag.get("outputs", {}).get("artifacts", {}).items():
            for selector in output.get("artifactSelectors", []):
                if selector.get("producerSubtask") in loops:
                    found.append((f"{dag_name}/outputs.{output_name}", "artifact", selector["producerSubtask"]))
    return found


def worst_case_artifacts(spec: dict, list_length: int) -> int:
    """The most artifacts any one input can gather: a collected artifact gathers one per item."""
    worst = 1 if any(c.get("inputDefinitions", {}).get("artifacts") for c in spec["components"].values()) else 0
    for _, kind, _ in collected_inputs(spec):
        if kind == "artifact":
            worst = max(worst, list_length)
    return worst


def artifact_list_inputs(spec: dict) -> list[str]:
    """Component inputs declared as a list of artifacts (what a collected artifact fan-in needs)."""
    return [
        f"{component}.{name}"
        for component, body in spec["components"].items()
        for name, definition in body.get("inputDefinitions", {}).get("artifacts", {}).items()
        if definition.get("isArtifactList")
    ]


def test_a_run_over_150_tables_collects_no_artifact(tmp_path: Path) -> None:
    spec = compile_spec(bqsynth_pipeline, tmp_path / "pipeline.yaml", source_tables=MANY_TABLES)
    assert len(spec["root"]["inputDefinitions"]["parameters"]["source_tables"]["defaultValue"]) == 150

    collected = collected_inputs(spec)
    assert [c for c in collected if c[1] == "artifact"] == []
    assert artifact_list_inputs(spec) == []
    assert worst_case_artifacts(spec, list_length=len(MANY_TABLES)) <= VERTEX_MAX_COLLECTED_ARTIFACTS
    # The two fan-ins are there, as collected parameter lists (the steps' gs:// URIs).
    assert {(where, kind) for where, kind, _ in collected} == {
        ("root/plan-dataset.profiles", "parameter"),
        ("root/load-tables.generated", "parameter"),
    }
    for component in ("comp-plan-dataset", "comp-load-tables"):
        parameters = spec["components"][component]["inputDefinitions"]["parameters"]
        assert {p["parameterType"] for p in parameters.values()} == {"LIST"}, component


def test_the_check_finds_a_collected_artifact_fan_in(tmp_path: Path) -> None:
    """The walk above is not vacuous: the pattern Vertex refuses is found in the compiled YAML."""

    @dsl.component(base_image="python:3.11")
    def write_one(item: str, out: Output[Artifact]) -> None:
        open(out.path, "w").write(item)

    @dsl.component(base_image="python:3.11")
    def gather(items: Input[List[Artifact]]) -> None:  # noqa: ARG001
        pass

    @dsl.pipeline(name="collects-artifacts")
    def collects_artifacts(names: list = MANY_TABLES) -> None:
        with dsl.ParallelFor(names) as name:
            one = write_one(item=name)
        gather(items=dsl.Collected(one.outputs["out"]))

    spec = compile_spec(collects_artifacts, tmp_path / "refused.yaml")
    assert [kind for _, kind, _ in collected_inputs(spec)] == ["artifact"]
    assert artifact_list_inputs(spec) == ["comp-gather.items"]
    assert worst_case_artifacts(spec, list_length=len(MANY_TABLES)) == 150 > VERTEX_MAX_COLLECTED_ARTIFACTS
