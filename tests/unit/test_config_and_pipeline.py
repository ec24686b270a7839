"""Configuration (YAML + flags), the submit CLI's parsing, and the compiled pipeline's shape."""

from pathlib import Path

import pytest
import yaml
from kfp import compiler

from bqsynth.config import ConfigError, RunConfig, default_llm, load_config, pipeline_defaults, validated_config
from pipeline import (
    DEFAULT_GENERATE_PARALLELISM,
    GENERATE_LOOP,
    bqsynth_pipeline,
    build_pipeline,
    generate_parallelism,
)
from submit import build_parser, config_from_args, main

TABLES = ["p.src.Dim_Customer", "p.src.Fact_Sales"]


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_flags_override_the_file_and_defaults_are_resolved(tmp_path: Path) -> None:
    path = write(tmp_path, {"source_tables": TABLES, "seed": 1, "record_counts": {"Fact_Sales": 10}})
    args = build_parser().parse_args(
        ["--local", "--config", str(path), "--seed", "9", "--record-count", "Dim_Customer=5", "--scale", "2"]
    )
    config = config_from_args(args)
    assert config.seed == 9 and config.scale == 2.0
    assert config.record_counts == {"Dim_Customer": 5}  # a flag replaces the file's mapping
    assert config.target_project == "p"
    assert config.audit_table == "p.bqsynth_synthetic.bqsynth_audit"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source_tables": ["just_a_table"]}, "project.dataset.table"),
        ({"source_tables": []}, "at least one source table"),
        ({"source_tables": ["a.b.T", "c.d.T"]}, "short name"),
        ({"source_tables": TABLES, "scale": 0}, "scale"),
        ({"source_tables": TABLES, "colour": "blue"}, "colour"),
        ({"source_tables": TABLES, "write_disposition": "WRITE_SOMETIMES"}, "write_disposition"),
    ],
)
def test_bad_configuration_names_the_parameter(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, data), {})


def test_missing_or_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", {})
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml", {})


def test_submit_exits_2_with_a_message_for_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--local", "--source-tables", "nodots"]) == 2
    assert "project.dataset.table" in capsys.readouterr().err
    assert main(["--local", "--source-tables", TABLES[0], "--record-count", "Dim_Customer=lots"]) == 2
    assert "TABLE=ROWS" in capsys.readouterr().err


def test_every_pipeline_parameter_of_the_config_exists_in_the_pipeline(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"source_tables": TABLES}), {})
    compiled = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(bqsynth_pipeline, str(compiled))
    spec = yaml.safe_load(compiled.read_text())
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == set(config.model_dump())
    # The descriptions are RunConfig's, written once (the pipeline's docstring is built from them).
    assert {name: p.get("description") for name, p in parameters.items()} == {
        name: field.description for name, field in RunConfig.model_fields.items()
    }
    assert all("defaultValue" in p or p.get("isOptional") for p in parameters.values())


def compiled_pipeline(tmp_path: Path) -> dict:
    compiled = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(bqsynth_pipeline, str(compiled))
    return yaml.safe_load(compiled.read_text())


def kfp_default(parameter: dict) -> object:
    """A compiled parameter's default as Python holds it (KFP writes every number as a float)."""
    value = parameter["defaultValue"]
    return int(value) if parameter["parameterType"] == "NUMBER_INTEGER" else value


def test_the_pipelines_defaults_are_run_configs(tmp_path: Path) -> None:
    """Defaults are written once, in RunConfig; the console, schedules and submit.py see the same."""
    parameters = compiled_pipeline(tmp_path)["root"]["inputDefinitions"]["parameters"]
    assert {name: kfp_default(p) for name, p in parameters.items()} == pipeline_defaults()
    fields = RunConfig.model_fields
    by_rule = {"source_tables", "llm"}  # the two pipeline_defaults() documents
    for name in set(fields) - by_rule:
        assert pipeline_defaults()[name] == fields[name].get_default(call_default_factory=True), name
    assert fields["source_tables"].is_required() and pipeline_defaults()["source_tables"] == []
    # RunConfig leaves the advisor to where the run happens; the compiled pipeline is the Vertex AI run.
    assert fields["llm"].default is None
    vertex_run = RunConfig(source_tables=TABLES).for_runner(local=False)
    assert pipeline_defaults()["llm"] == vertex_run.llm == default_llm(local=False) == "gemini"
    assert RunConfig(source_tables=TABLES).for_runner(local=True).llm == "offline"


def test_start_batch_takes_the_parameters_and_every_other_step_only_the_config(tmp_path: Path) -> None:
    components = compiled_pipeline(tmp_path)["components"]
    start = components["comp-start-batch"]["inputDefinitions"]
    assert set(start["parameters"]) == set(RunConfig.model_fields) and "artifacts" not in start
    per_item = {
        "comp-profile-table": {"source_table"},
        "comp-plan-dataset": {"profiles"},
        "comp-generate-table": {"work_item"},
        "comp-load-tables": {"generated"},
    }
    for name in ("comp-profile-table", "comp-plan-dataset", "comp-generate-table", "comp-load-tables"):
        inputs = components[name]["inputDefinitions"]
        assert set(inputs.get("parameters", {})) == per_item.get(name, set()), name
        assert "config" in inputs["artifacts"], name
    assert "parameters" not in components["comp-summarize-run"]["inputDefinitions"]


def test_pipeline_parameters_as_kfp_delivers_them_are_a_valid_config() -> None:
    """A dict parameter is a protobuf Struct: its numbers are floats and it holds no None."""
    config = validated_config(
        {"source_tables": TABLES, "record_counts": {"Fact_Sales": 10.0}, "seed": 7, "scale": 2}, "parameters"
    )
    assert config.record_counts == {"Fact_Sales": 10} and config.scale == 2.0
    with pytest.raises(ConfigError, match=r"invalid configuration \(parameters\): record_counts.Fact_Sales"):
        validated_config({"source_tables": TABLES, "record_counts": {"Fact_Sales": 10.5}}, "parameters")


def test_a_config_survives_the_trip_through_pipeline_parameters_and_the_artifact() -> None:
    files = ["p.src.stores", "gs://landing/orders.txt"]
    config = RunConfig(source_tables=files, file_outputs={"orders": {"delimiter": ",", "trailer_lines": []}})
    parameters = config.model_dump()
    assert parameters["file_outputs"] == {"orders": {"delimiter": ",", "trailer_lines": []}}  # no None for a Struct
    assert validated_config(parameters, "parameters") == config
    assert RunConfig.model_validate_json(config.model_dump_json()) == config


def test_planning_runs_once_before_the_generation_loop(tmp_path: Path) -> None:
    compiled = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(bqsynth_pipeline, str(compiled))
    tasks = yaml.safe_load(compiled.read_text())["root"]["dag"]["tasks"]
    generation_loop = next(
        t for name, t in tasks.items() if name.startswith("for-loop") and "plan-dataset" in t.get("dependentTasks", [])
    )
    assert generation_loop["parameterIterator"]["items"]["inputParameter"].endswith("plan-dataset-Output")
    assert "for-loop-1" in tasks["plan-dataset"]["dependentTasks"]  # after every profile


def test_the_committed_pipeline_yaml_is_up_to_date(tmp_path: Path) -> None:
    """pipeline.yaml is what users upload in the console: ./compile.sh must have been run."""
    compiled = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(bqsynth_pipeline, str(compiled))
    committed = Path(__file__).resolve().parents[2] / "pipeline.yaml"
    assert compiled.read_text() == committed.read_text(), "pipeline.yaml is stale: run ./compile.sh"


def test_local_runs_show_step_outcomes_and_keep_the_full_log(tmp_path: Path) -> None:
    import io

    from submit import StepLog, last_error

    log, terminal = io.StringIO(), io.StringIO()
    stream = StepLog(log, terminal)
    stream.write("{\"executorInput\": 1}\n17:00 - INFO - Task \x1b[96m'plan-dataset'\x1b[0m finished with ")
    stream.write("status SUCCESS\nmore detail\n")
    assert terminal.getvalue() == "17:00 - INFO - Task 'plan-dataset' finished with status SUCCESS\n"
    assert "executorInput" in log.getvalue() and "more detail" in log.getvalue()
    path = tmp_path / "run.log"
    error = "bqsynth.planning.planner.PlanError: no table could be planned (T: gone)"
    path.write_text(f"Traceback\n    {error}\nRuntimeError: x\n")
    assert last_error(path) == "RuntimeError: x"
    path.write_text(f"Traceback\n    {error}\n")
    assert last_error(path) == "PlanError: no table could be planned (T: gone)"


def test_a_step_warning_for_the_user_goes_to_stderr_as_it_happens() -> None:
    import io

    from bqsynth.errors import USER_WARNING, warn_user
    from submit import StepLog

    step = io.StringIO()
    warn_user("gemini:m could not be used;\n 7 of 7 tables planned offline: no credentials", step)
    log, terminal, errors = io.StringIO(), io.StringIO(), io.StringIO()
    stream = StepLog(log, terminal, errors)
    stream.write("\x1b[96mplan-dataset\x1b[0m: " + step.getvalue() + "other output\n")
    assert errors.getvalue() == "warning: gemini:m could not be used; 7 of 7 tables planned offline: no credentials\n"
    assert terminal.getvalue() == "" and USER_WARNING in log.getvalue()
    verbose_terminal, verbose_errors = io.StringIO(), io.StringIO()
    verbose = StepLog(None, verbose_terminal, verbose_errors, show_all=True)
    verbose.write(step.getvalue() + "other output\n")
    assert verbose_terminal.getvalue() == "other output\n" and verbose_errors.getvalue() == errors.getvalue()


def test_the_advisor_defaults_to_offline_locally_and_gemini_on_vertex(tmp_path: Path) -> None:
    path = write(tmp_path, {"source_tables": TABLES})
    parser = build_parser()
    assert config_from_args(parser.parse_args(["--local", "--config", str(path)])).llm == "offline"
    assert config_from_args(parser.parse_args(["--config", str(path)])).llm == "gemini"
    chosen = parser.parse_args(["--local", "--config", str(path), "--llm", "gemini", "--sample-policy", "none"])
    assert (config_from_args(chosen).llm, config_from_args(chosen).sample_policy) == ("gemini", "none")


def generation_loop_policy(pipeline: object, tmp_path: Path) -> dict[str, dict]:
    """Each root loop's ``iteratorPolicy`` in the compiled YAML, by the loop's name (empty: no cap)."""
    compiled = tmp_path / "capped.yaml"
    compiler.Compiler().compile(pipeline, str(compiled))
    tasks = yaml.safe_load(compiled.read_text())["root"]["dag"]["tasks"]
    loops = {t["taskInfo"]["name"]: t for name, t in tasks.items() if name.startswith("for-loop")}
    return {name: loop.get("iteratorPolicy", {}) for name, loop in loops.items()}


def test_the_generation_loop_runs_at_most_its_cap_of_shards_at_once(tmp_path: Path) -> None:
    """KFP takes the cap when the pipeline is compiled: the spec's iteratorPolicy of the generation loop."""
    assert generation_loop_policy(bqsynth_pipeline, tmp_path) == {
        "profile-each-table": {},  # one task per source table, as many as the run names
        GENERATE_LOOP: {"parallelismLimit": DEFAULT_GENERATE_PARALLELISM},
    }
    assert DEFAULT_GENERATE_PARALLELISM == 32
    assert generation_loop_policy(build_pipeline(5), tmp_path)[GENERATE_LOOP] == {"parallelismLimit": 5}
    for wrong in (0, -3, 2.5, True, "8"):
        with pytest.raises(ValueError, match="parallelism must be an int of at least 1"):
            build_pipeline(wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize(("setting", "cap"), [(None, 32), ("", 32), ("1", 1), (" 64 ", 64), (200, 200)])
def test_the_parallelism_setting_is_a_whole_number_of_at_least_one(setting: str | int | None, cap: int) -> None:
    assert generate_parallelism(setting) == cap


@pytest.mark.parametrize("setting", ["0", "-1", "2.5", "many", 0])
def test_a_wrong_parallelism_setting_names_itself_and_the_rule(setting: str | int) -> None:
    with pytest.raises(ValueError, match=r"--generate-parallelism=.*whole number of at least 1 \(default 32\)"):
        generate_parallelism(setting, "--generate-parallelism")
