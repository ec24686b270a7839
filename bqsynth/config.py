"""Run configuration: the pipeline's parameters as one validated ``RunConfig``.

Users give them as a YAML file and flags (``submit.py``) or as pipeline parameters (the
Vertex AI console, schedules); either way they are validated here. ``RunConfig`` is also
the one place their defaults are written: the pipeline's signature reads them from
``pipeline_defaults()``. The first step writes the resolved ``RunConfig`` as the run's
``config`` artifact, which every other step reads.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_serializer, field_validator, model_validator

from bqsynth.errors import BqsynthError
from bqsynth.gcp.names import (
    batch_id_problem,
    bucket_name_problem,
    dataset_name_problem,
    project_id_problem,
    project_of,
    table_id_problem,
    table_name_for_uri,
)
from bqsynth.gcp.uris import is_file_source, split_uri
from bqsynth.models import FileOutputFormat, StrictModel


def source_name(source: str) -> str:
    """Short table name of a source: a table id's last part, or derived from a file's name."""
    if is_file_source(source):
        return table_name_for_uri(source)
    return source.split(".")[-1]


def column_entry(entry: str) -> tuple[str, str]:
    """``table.column`` (a RECORD field: ``table.record.field``) or ``table.*`` as (table, column path)."""
    table, dot, column = entry.strip().partition(".")
    if not dot or not table or not column or ("*" in column and column != "*"):
        raise ValueError(f"{entry!r} is not table.column or table.* (e.g. Genre.Name, customers.address.city, Genre.*)")
    return table, column


def default_project_of(sources: list[str]) -> str:
    """The target project when none is given: the first BigQuery source's, else the environment's."""
    for source in sources:
        if not is_file_source(source):
            return project_of(source)
    # Imported here: the clients pull in google-cloud, which validating a config does not need.
    from bqsynth.gcp.clients import default_project

    return default_project()


def new_batch_id(now: dt.datetime | None = None) -> str:
    moment = now or dt.datetime.now(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


Advisor = Literal["offline", "gemini"]


def default_llm(local: bool) -> Advisor:
    """The plan advisor when none is chosen: offline needs no network, so local runs use it."""
    return "offline" if local else "gemini"


# The names a run's parameters give, and the rule (BigQuery's or GCS's) each must follow.
NAME_RULES: dict[str, Callable[[str], str | None]] = {
    "target_project": project_id_problem,
    "target_dataset": dataset_name_problem,
    "staging_bucket": bucket_name_problem,
    "audit_table": table_id_problem,
    "quality_table": table_id_problem,
    "batch_id": batch_id_problem,
}
EMPTY_MEANS_DEFAULT = frozenset({"target_project", "audit_table", "quality_table", "batch_id"})
# The log tables' names when none is given: in the target dataset (the quality table next to the audit).
DEFAULT_AUDIT_TABLE = "bqsynth_audit"
DEFAULT_QUALITY_TABLE = "bqsynth_quality"

# A run's configuration is a few dozen lines; a file far bigger is a mistake (a data file
# given as --config), and reading it whole would only produce an unreadable message.
MAX_CONFIG_BYTES = 1_000_000
# Vertex AI regions (us-central1, europe-west4) and the multi-region "global".
_REGION = re.compile(r"^[a-z]+(-[a-z0-9]+)*$")
# The numeric parameters: YAML reads yes/no/on/off as booleans, which pydantic would take as 1/0.
_NUMBERS = (
    "scale",
    "max_rows",
    "seed",
    "sample_rows",
    "min_category_count",
    "llm_token_budget",
    "quality_sample_rows",
    "shard_rows",
)


def few(names: list[str] | set[str], shown: int = 10) -> str:
    """``names`` for a message: the first ``shown``, then how many more (a huge config stays readable)."""
    ordered = sorted(names)
    listed = ", ".join(repr(n) for n in ordered[:shown])
    return f"[{listed}{f', ... and {len(ordered) - shown} more' if len(ordered) > shown else ''}]"


def _refuse(problem: str | None, value: str) -> str:
    """``value``, or a ValueError with the problem (pydantic reports it under the field's name)."""
    if problem:
        raise ValueError(problem)
    return value


class ConfigError(BqsynthError):
    """A configuration file or flag is invalid; the message says which and how to fix it."""


class RunConfig(StrictModel):
    """The pipeline's parameters. Names match ``pipeline.py`` one for one.

    Defaults and descriptions are written here only: the pipeline takes its parameters'
    defaults from ``pipeline_defaults()`` and its documentation from ``parameter_docs()``.
    """

    source_tables: list[str] = Field(
        description="Sources to copy: BigQuery tables (project.dataset.table) and delimited files "
        "(gs://bucket/path/file.csv, or a * wildcard for a table in several parts), mixed freely."
    )
    target_project: str = Field(
        default="", description="Project of the target dataset; empty means the first source table's project."
    )
    target_dataset: str = Field(
        default="bqsynth_synthetic", description="Dataset that receives the synthetic tables (created when missing)."
    )
    record_counts: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description='Rows to generate per table, keyed by short table name, e.g. {"Fact_Sales": 100000}.',
    )
    scale: float = Field(
        default=1.0,
        gt=0,
        allow_inf_nan=False,
        description="Rows = source rows x scale, for tables without an entry in record_counts.",
    )
    max_rows: int = Field(
        default=100_000_000,
        ge=1,
        description="Guard: no table gets more rows than this (from record_counts or source rows x scale); "
        "raise it on purpose for a bigger run.",
    )
    # numpy and pandas take seeds of 0 to 2**32 - 1 only; a seed outside would fail the run's last step.
    seed: int = Field(
        default=42, ge=0, le=2**32 - 1, description="Random seed; the same seed and inputs give identical data."
    )
    staging_bucket: str = Field(
        default="bqsynth-staging",
        description="GCS bucket for the generated files (gs://BUCKET/bqsynth/batches/BATCH/TABLE/).",
    )
    audit_table: str = Field(
        default="", description="Audit log table project.dataset.table; empty means TARGET_DATASET.bqsynth_audit."
    )
    batch_id: str = Field(
        default="",
        description="Identifier of this batch; empty means a new one. Rerunning a batch id never duplicates rows.",
    )
    sample_rows: int = Field(
        default=200, ge=0, le=10_000, description="Source rows sampled per table for pattern and meaning detection."
    )
    min_category_count: int = Field(
        default=5, ge=1, description="Category values seen fewer times than this are never emitted (privacy)."
    )
    public_columns: list[str] = Field(
        default_factory=list,
        description="Columns whose values are a public vocabulary, kept as observed with their frequencies "
        '(table.column or table.*), e.g. ["Genre.Name", "currency.*"]; overrides the default heuristic.',
    )
    private_columns: list[str] = Field(
        default_factory=list,
        description="Columns whose rare values are suppressed and replaced by values of their kind "
        "(table.column or table.*); overrides the default heuristic and public_columns' table.*.",
    )
    write_disposition: Literal["WRITE_TRUNCATE", "WRITE_APPEND"] = Field(
        default="WRITE_TRUNCATE",
        description="WRITE_TRUNCATE replaces each target table's rows; WRITE_APPEND adds the batch.",
    )
    llm: Advisor | None = Field(
        default=None,
        description="Plan advisor: gemini (checked answers improve the offline plan) or offline (no model at all); "
        "unset means offline for local runs, gemini on Vertex AI.",
    )
    model: str = Field(default="gemini-2.5-flash", description="Gemini model name used when llm is gemini.")
    llm_location: str = Field(default="us-central1", description="Vertex AI region that serves the model.")
    sample_policy: Literal["none", "masked", "raw"] = Field(
        default="masked",
        description="Sample rows sent to the model: masked (identifying columns masked), none, or raw.",
    )
    llm_token_budget: int = Field(
        default=400_000,
        ge=0,
        description="Tokens the model may use in one run; past it the remaining tables are planned offline.",
    )
    quality_sample_rows: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Rows of each source and target compared for fidelity, privacy and validity.",
    )
    quality_table: str = Field(
        default="",
        description="Quality table project.dataset.table (a row per table per run); empty means next to the audit.",
    )
    maximum_bytes_billed: int = Field(
        default=100 << 30,
        ge=1,
        description="Guard: no query bqsynth runs on the sources (profiling, key checks) may bill more bytes than "
        "this (100 GiB by default); a table whose profile would need more is refused by name, a key check skipped.",
    )
    profile_full_scan_bytes: int = Field(
        default=10 << 30,
        ge=1,
        description="A source table whose statistics would scan more bytes than this (10 GiB by default) is "
        "profiled from a TABLESAMPLE of about this size; row counts stay exact.",
    )
    shard_rows: int = Field(
        default=250_000,
        ge=1,
        description="A table of more rows is generated in shards of this many rows, each its own pipeline task "
        "(a worker of its own on Vertex AI); a table's shards are loaded together in one job.",
    )
    engine: Literal["auto", "columnar", "snowfakery"] = Field(
        default="auto",
        description="Generation engine: auto (the columnar engine for a table whose every generator it "
        "interprets and whose recipe is the plan's own, Snowfakery otherwise), columnar (refuse any other table), "
        "or snowfakery (the reference engine for every table).",
    )
    file_outputs: dict[str, FileOutputFormat] = Field(
        default_factory=dict,
        description="Changes to a file source's format for its synthetic files, by table name, e.g. "
        '{"orders": {"delimiter": ",", "has_header": true, "trailer_lines": ["TRL|{count:07}"]}}.',
    )

    plan_uri: str = Field(
        default="",
        description="Generate from this plan instead of planning afresh: the plan.yaml a run wrote, edited "
        "(gs://... on Vertex AI, a local path for local runs); checked against the sources before any generation, "
        "its seed and row counts used. Empty means plan afresh.",
    )
    recipes: dict[str, str] = Field(
        default_factory=dict,
        description='Snowfakery recipes you wrote, by table name, e.g. {"orders": "gs://b/orders.recipe.yml"}: '
        "each must pass the recipe-safety check (bqsynth's plugin only), have a field per column, pass "
        "Snowfakery's validation and a dry run, and then replaces the table's compiled recipe.",
    )

    @field_serializer("file_outputs")
    def _only_the_changes(self, outputs: dict[str, FileOutputFormat]) -> dict[str, dict[str, Any]]:
        # Pipeline parameters travel as protobuf Structs, which hold no None.
        return {name: change.model_dump(exclude_none=True) for name, change in outputs.items()}

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        # YAML's yes/no/on/off/true are booleans; "seed: yes" or "orders: on" is a slip, not 1.
        if not isinstance(data, dict):
            return data
        flagged = [name for name in _NUMBERS if isinstance(data.get(name), bool)]
        counts = data.get("record_counts")
        if isinstance(counts, dict):
            flagged += [f"record_counts.{t}" for t, n in counts.items() if isinstance(n, bool)]
        if flagged:
            raise ValueError(
                f"{', '.join(flagged)}: a number is needed, not a boolean (YAML reads yes, no, on, off, true "
                "and false as booleans); write the number"
            )
        return data

    @model_validator(mode="after")
    def _file_outputs_name_file_sources(self) -> RunConfig:
        files = {source_name(s) for s in self.source_tables if is_file_source(s)}
        unknown = sorted(set(self.file_outputs) - files)
        if unknown:
            raise ValueError(f"file_outputs names {few(unknown)}; the file sources of this run are {few(files)}")
        return self

    @model_validator(mode="after")
    def _logs_are_not_sources_or_targets(self) -> RunConfig:
        # The audit and quality rows are appended to their tables: a source there would be
        # written into, a target there overwritten by the load, and one table cannot hold both.
        # The defaults count too: a source named bqsynth_audit would be copied onto the audit table.
        project = self.target_project or default_project_of(self.source_tables)
        targets = {f"{project}.{self.target_dataset}.{source_name(s)}": s for s in self.source_tables}
        sources = {s for s in self.source_tables if not is_file_source(s)}
        audit = self.audit_table or f"{project}.{self.target_dataset}.{DEFAULT_AUDIT_TABLE}"
        quality = self.quality_table or f"{audit.rsplit('.', 1)[0]}.{DEFAULT_QUALITY_TABLE}"
        logs = {"audit_table": audit, "quality_table": quality}
        for parameter, table in logs.items():
            if table in sources:
                raise ValueError(f"{parameter} {table} is a source table: its rows would be added to it. Name another")
            if table in targets:
                raise ValueError(
                    f"{parameter} {table} is where the synthetic copy of {targets[table]} goes: the load would "
                    "overwrite it. Name another table"
                )
        if self.audit_table and self.audit_table == self.quality_table:
            raise ValueError(
                f"audit_table and quality_table are both {self.audit_table}; their rows differ, so name two tables"
            )
        return self

    @model_validator(mode="after")
    def _targets_are_not_sources(self) -> RunConfig:
        # A target is named after its source, so a source in the target dataset would be overwritten.
        project = self.target_project or default_project_of(self.source_tables)
        for source in self.source_tables:
            if not is_file_source(source) and source.rsplit(".", 2)[:2] == [project, self.target_dataset]:
                raise ValueError(
                    f"source table {source} is in the target dataset {project}.{self.target_dataset}: its synthetic "
                    "copy would overwrite it. Name another target_dataset"
                )
        return self

    @model_validator(mode="after")
    def _record_counts_name_sources(self) -> RunConfig:
        names = {source_name(s) for s in self.source_tables}
        unknown = sorted(set(self.record_counts) - names)
        if unknown:
            raise ValueError(
                f"record_counts names {few(unknown)}, which this run does not copy; its tables are {few(names)} "
                "(short names, case as in the source)"
            )
        too_many = {t: n for t, n in self.record_counts.items() if n > self.max_rows}
        if too_many:
            shown = dict(sorted(too_many.items())[:10])
            raise ValueError(f"record_counts {shown} exceed max_rows={self.max_rows}; raise max_rows on purpose")
        return self

    @model_validator(mode="after")
    def _plan_inputs_fit_the_run(self) -> RunConfig:
        names = {source_name(s) for s in self.source_tables}
        unknown = sorted(set(self.recipes) - names)
        if unknown:
            raise ValueError(f"recipes names {few(unknown)}, which this run does not copy; its tables are {few(names)}")
        if self.plan_uri and self.scale != 1.0:
            raise ValueError("plan_uri and scale both set row counts; edit row_count in the plan file instead")
        return self

    @model_validator(mode="after")
    def _column_settings_name_sources(self) -> RunConfig:
        # Columns are checked against the source schemas when they are known (the plan step).
        names = {source_name(s) for s in self.source_tables}
        entries = {"public_columns": self.public_columns, "private_columns": self.private_columns}
        for parameter, listed in entries.items():
            for entry in listed:
                try:
                    table, _ = column_entry(entry)
                except ValueError as error:
                    raise ValueError(f"{parameter}: {error}") from None
                if table not in names:
                    raise ValueError(
                        f"{parameter} names {entry!r}, but this run copies no table {table}; its tables are "
                        f"{few(names)} (short names, case as in the source)"
                    )
        both = sorted({column_entry(e) for e in self.public_columns} & {column_entry(e) for e in self.private_columns})
        if both:
            shown = ", ".join(f"{t}.{c}" for t, c in both)
            raise ValueError(f"{shown} is in both public_columns and private_columns; keep it in one")
        return self

    @field_validator(*NAME_RULES)
    @classmethod
    def _valid_name(cls, value: str, info: ValidationInfo) -> str:
        if not value and info.field_name in EMPTY_MEANS_DEFAULT:
            return value
        return _refuse(NAME_RULES[info.field_name](value), value)

    @field_validator("source_tables")
    @classmethod
    def _fully_qualified(cls, tables: list[str]) -> list[str]:
        if not tables:
            raise ValueError("name at least one source table")
        for table in tables:
            if is_file_source(table):
                if problem := bucket_name_problem(split_uri(table)[0]):
                    raise ValueError(f"file source {table}: {problem}")
            elif problem := table_id_problem(table):
                raise ValueError(f"source table {problem}, or a gs:// file")
        twice = sorted({t for t in tables if tables.count(t) > 1})
        if twice:
            raise ValueError(f"{few(twice)} listed more than once; name each source once")
        names = [source_name(t) for t in tables]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"sources share the short name(s) {duplicates}; each needs its own name")
        return tables

    @field_validator("llm_location")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(
                f"{value!r} is not a Vertex AI region: lowercase, e.g. us-central1, europe-west4 or global"
            )
        return value

    @field_validator("model")
    @classmethod
    def _model_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"name a Gemini model, e.g. {cls.model_fields['model'].default}")
        return value

    def for_runner(self, local: bool) -> RunConfig:
        """The advisor's default depends on where the run happens (``default_llm``)."""
        return self.model_copy(update={"llm": self.llm or default_llm(local)})

    def resolved(self) -> RunConfig:
        """Defaults that depend on other fields filled in."""
        project = self.target_project or default_project_of(self.source_tables)
        audit = self.audit_table or f"{project}.{self.target_dataset}.{DEFAULT_AUDIT_TABLE}"
        return self.model_copy(update={"target_project": project, "audit_table": audit})


def pipeline_defaults() -> dict[str, Any]:
    """The compiled pipeline's parameter defaults: ``RunConfig``'s, as KFP parameters hold them.

    Two parameters differ, by rule: ``source_tables`` has no default (a run names its
    sources), so the pipeline shows it empty and the first step refuses it empty; ``llm``
    unset means "decided by where the run happens", and a compiled pipeline's defaults are
    what a run on Vertex AI gets (the console, schedules), while ``submit.py --local``
    always passes ``llm``.
    """
    defaults = {name: run_default(name) for name, field in RunConfig.model_fields.items() if not field.is_required()}
    return {"source_tables": [], **defaults, "llm": default_llm(local=False)}


def parameter_docs() -> str:
    """The ``Args:`` section of the pipeline's docstring, from RunConfig's field descriptions."""
    lines = ["Args:"]
    for name, field in RunConfig.model_fields.items():
        lines.append(f"    {name}: {field.description}")
    return "\n".join(lines)


def run_default(parameter: str) -> Any:
    """RunConfig's default of one parameter, for the stages' own option models to share.

    Written once, here: a stage used without a RunConfig (tests, notebooks) gets the same
    defaults as a pipeline run.
    """
    return RunConfig.model_fields[parameter].get_default(call_default_factory=True)


def validated_config(data: dict[str, Any], where: str) -> RunConfig:
    """``data`` as a ``RunConfig``, or a ``ConfigError`` naming every wrong parameter and why.

    Pipeline parameters arrive through protobuf Structs (a dict's numbers are floats, 10.0
    for 10); pydantic accepts a whole float for an int and refuses 10.5.
    """
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in errors[:10])
        if len(errors) > 10:  # a huge config: the first ten say what kind of mistake it is
            problems += f"; ... and {len(errors) - 10} more"
        raise ConfigError(f"invalid configuration ({where}): {problems}") from error


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error.

    Plain YAML keeps the last value silently: ``seed: 1`` further down would win unseen.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice; keep one", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The parameters in a YAML config file, or a ``ConfigError`` saying what is wrong with the file."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist") from error
    except OSError as error:  # a directory, no permission
        raise ConfigError(f"config file {path} cannot be read: {error.strerror or error}") from error
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is {len(raw):,} bytes, over the {MAX_CONFIG_BYTES:,} a run's parameters need: "
            "is it the right file?"
        )
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark (Windows editors) is no error
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {error.start}): save it as UTF-8") from error
    try:
        loaded = yaml.load(text, Loader=_UniqueKeyLoader) or {}  # a SafeLoader: no Python objects
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping of parameter names to values")
    return loaded


def load_config(path: str | Path | None, overrides: dict[str, Any]) -> RunConfig:
    """Read ``path`` (YAML) if given, apply non-None ``overrides``, validate."""
    data: dict[str, Any] = {}
    if path:
        data.update(read_config_file(path))
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validated_config(data, str(path or "flags")).resolved()
