"""Typed models that cross every stage boundary.

Each pipeline step reads one of these from a JSON artifact and writes another:
``TableProfile`` (profile) -> ``DatasetPlan`` (plan) -> ``TableResult`` (generate,
load) -> ``RunSummary``. Keeping them here, free of I/O, lets the stages be tested
without BigQuery and lets a second executor interpret a ``DatasetPlan`` later.

Beside the models live the few pure helpers every stage needs to read them the same way:
the type families (``NUMERIC_TYPES``, ``key_type_family`` ...), the leaf walks
(``leaf_schemas``, ``leaf_plans``) and custom-line templates (``custom_line_from_template``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

Mode = Literal["NULLABLE", "REQUIRED", "REPEATED"]
Scalar = str | int | float | bool | None

# BigQuery's legacy names (returned by the REST API) mapped to the standard SQL names we use.
_TYPE_ALIASES = {
    "INTEGER": "INT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "STRUCT": "RECORD",
    "BIGDECIMAL": "BIGNUMERIC",
    "DECIMAL": "NUMERIC",
}


def normalise_type(field_type: str) -> str:
    """Standard SQL spelling of a BigQuery type name (INTEGER -> INT64, BOOLEAN -> BOOL, ...)."""
    upper = field_type.upper()
    return _TYPE_ALIASES.get(upper, upper)


# Type families, in the standard SQL spelling ``normalise_type`` returns.
NUMERIC_TYPES = frozenset({"INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC"})
TEMPORAL_TYPES = frozenset({"DATE", "DATETIME", "TIMESTAMP", "TIME"})
# Types that name a day (TIME alone does not): a time-series key's time, a birth date compared by its day.
DAY_TYPES = frozenset({"DATE", "DATETIME", "TIMESTAMP"})
# Types whose values say nothing about a column's meaning (a RECORD's fields are read one by one).
UNCLASSIFIABLE_TYPES = frozenset({"RECORD", "JSON", "BYTES", "GEOGRAPHY", "INTERVAL", "RANGE"})
# Types a key can have; ``key_type_family`` says which of them can refer to each other.
KEYABLE_TYPES = frozenset({"INT64", "STRING", "NUMERIC", "BIGNUMERIC"})


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------


class ColumnSchema(StrictModel):
    """One BigQuery column, nested fields included, as read from ``get_table().schema``."""

    name: str
    type: str
    mode: Mode = "NULLABLE"
    description: str | None = None
    fields: list[ColumnSchema] = Field(default_factory=list)
    precision: int | None = Field(default=None, description="NUMERIC(P, S) / BIGNUMERIC(P, S): the declared P")
    scale: int | None = Field(default=None, description="NUMERIC(P, S) / BIGNUMERIC(P, S): the declared S")
    max_length: int | None = Field(default=None, description="STRING(L) / BYTES(L): the declared L")
    range_element_type: str | None = Field(default=None, description="RANGE<T>: T (DATE, DATETIME or TIMESTAMP)")

    @property
    def is_record(self) -> bool:
        return self.type == "RECORD"

    @property
    def is_repeated(self) -> bool:
        return self.mode == "REPEATED"


class ValueCount(StrictModel):
    value: Scalar
    count: int


class ColumnStats(StrictModel):
    """Statistics of one leaf column (``address.city`` for a RECORD field), computed in BigQuery.

    For a REPEATED column the value statistics describe the array elements and the
    ``array_*`` fields the array lengths. Dates and timestamps are ISO strings so that the
    model round-trips through JSON unchanged.
    """

    path: str
    type: str
    row_count: int
    null_count: int = 0
    distinct_count: int = 0
    top_values: list[ValueCount] = Field(default_factory=list)
    quantiles: list[Scalar] = Field(default_factory=list)
    min_value: Scalar = None
    max_value: Scalar = None
    min_length: int | None = None
    max_length: int | None = None
    avg_length: float | None = None
    max_scale: int | None = None
    array_length_counts: list[ValueCount] = Field(default_factory=list)

    @property
    def null_rate(self) -> float:
        return self.null_count / self.row_count if self.row_count else 0.0

    @property
    def non_null_count(self) -> int:
        return self.row_count - self.null_count

    @property
    def distinct_ratio(self) -> float:
        """Distinct values per non-null value: ~1.0 for keys and identifiers."""
        return self.distinct_count / self.non_null_count if self.non_null_count else 0.0


def key_type_family(column_type: str, stats: ColumnStats | None = None) -> str | None:
    """The comparable family of a key type (``integer``, ``string``), or None for types that are never keys."""
    normalised = normalise_type(column_type)
    if normalised == "INT64":
        return "integer"
    if normalised in {"NUMERIC", "BIGNUMERIC"}:
        # NUMERIC keys are integers in disguise only when no value has decimals.
        return "integer" if stats is None or not stats.max_scale else None
    if normalised == "STRING":
        return "string"
    return None


class ForeignKey(StrictModel):
    columns: list[str]
    referenced_table: str
    referenced_columns: list[str]


# ---------------------------------------------------------------------------------------------
# Delimited file sources: the format the synthetic files must reproduce exactly
# ---------------------------------------------------------------------------------------------


class LineField(StrictModel):
    """A value inside a custom header or trailer line that the writer rewrites for the output file.

    ``start``/``end`` are character offsets into ``CustomLine.text``. ``record_count`` fields
    are rewritten with the number of data rows written (zero-padded to the source width when
    ``width`` is set); ``date``/``datetime`` fields with the run date in ``format`` (strftime).
    """

    kind: Literal["record_count", "date", "datetime"]
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    format: str = Field(default="", description="strftime pattern of a date or datetime field")
    width: int = Field(default=0, ge=0, description="Zero-padded width of a record count; 0 = as is")


class CustomLine(StrictModel):
    """A non-data line before the data (``HDR|20240131|ACME``) or after it (``TRL|0000042``)."""

    text: str = Field(description="The source line, verbatim, without its line terminator")
    fields: list[LineField] = Field(default_factory=list)


class NumberSpelling(StrictModel):
    """How a number column is spelled beyond its decimal mark, as exports write money and shares:
    ``1.234,56 €``, ``($1,234.56)``, ``CHF 1'234.50``, ``1.234,56-`` (SAP), ``12,5 %``.

    The value is the number as written (``12,5 %`` is 12.5); ``prefix``/``suffix`` hold the
    currency symbol or code or the percent sign with their spacing.
    """

    group_mark: str = Field(default="", description="Thousands separator: , . ' space, NBSP, thin space; '' = none")
    prefix: str = Field(default="", description="Text before the digits: '$', '€ ', 'USD '")
    suffix: str = Field(default="", description="Text after the digits: ' €', '%', ' EUR'")
    negative: Literal["minus", "minus_after_prefix", "parentheses", "trailing_minus"] = Field(
        default="minus", description="-$5 / $-5 / ($5) / 5-"
    )
    bare_integers: bool = Field(default=False, description="FLOAT64: integral values written without decimals (2)")


class FileColumn(StrictModel):
    """One column of a delimited file and how its values are spelled there."""

    name: str = Field(description="BigQuery column name (sanitised header text, or inferred when headerless)")
    header: str | None = Field(default=None, description="The header text as written in the file; None if no header")
    type: str = Field(description="Inferred BigQuery type: STRING, INT64, FLOAT64, NUMERIC, BOOL, DATE, ...")
    temporal_format: str | None = Field(default=None, description="strftime pattern of DATE/DATETIME/TIMESTAMP/TIME")
    decimal_comma: bool = Field(default=False, description="Decimals written with a comma: 12,50")
    scale: int | None = Field(default=None, ge=0, description="Fixed decimals of a NUMERIC column: 12.50 -> 2")
    true_false: tuple[str, str] | None = Field(default=None, description="How BOOL values are spelled: (true, false)")
    quoted: bool = Field(default=False, description="Every non-empty value of this column is quoted in the source")
    number: NumberSpelling | None = Field(
        default=None, description="Thousands separator, currency, sign and percent of a number column; None = plain"
    )
    utc_offset: str | None = Field(
        default=None, description="TIMESTAMP: the one offset (+01:00) every value is written in; values stay UTC"
    )
    day_month_assumed: bool = Field(
        default=False, description="DATE/DATETIME: no value decides day/month order (no day > 12); read day first"
    )
    header_quoted: bool | None = Field(
        default=None, description="The header text is quoted in the source; None = as the quoting style says"
    )
    null_marker: str | None = Field(
        default=None, description="How this column writes a NULL when it differs from the file's; None = the file's"
    )
    null_spellings: dict[str, float] | None = Field(
        default=None,
        description="A typed column writing NULL several ways (empty and NULL): each spelling and its share of the "
        "column's NULLs; synthetic NULLs are spelled with these shares. None = one spelling (null_marker)",
    )
    utc_offsets: dict[str, float] | None = Field(
        default=None,
        description="TIMESTAMP written in several UTC offsets that no one time zone explains: each offset (+01:00) "
        "and its share of the values; synthetic values take an offset with these shares",
    )
    time_zone: str | None = Field(
        default=None,
        description="TIMESTAMP written in several UTC offsets that one IANA zone explains (+01:00 in winter, "
        "+02:00 in summer: Europe/Berlin): inferred from the values, which synthetic values are written in",
    )
    time_zone_values: int = Field(
        default=0, ge=0, description="How many distinct values (instant and offset) time_zone was inferred from"
    )


class FileFormat(StrictModel):
    """Everything needed to read a delimited source file and write a synthetic one the same way."""

    encoding: Literal["utf-8", "utf-8-sig", "latin-1"] = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    quoting: Literal["minimal", "all", "nonnumeric", "none"] = "minimal"
    escapechar: str | None = None
    line_terminator: Literal["\n", "\r\n"] = "\n"
    has_header: bool = True
    header_lines: list[CustomLine] = Field(default_factory=list, description="Custom lines before the data")
    trailer_lines: list[CustomLine] = Field(default_factory=list, description="Custom lines after the data")
    columns: list[FileColumn] = Field(default_factory=list)
    null_marker: str = Field(default="", description="How a NULL is written (empty field, NULL, \\N, ...)")
    final_newline: bool = Field(default=True, description="The last line ends with the line terminator")
    ragged_rows: int = Field(default=0, ge=0, description="Rows with a wrong field count, tolerated and skipped")


# A delimiter is a short separator: exports write one character, or two or three (``||``, ``~|~``).
MAX_DELIMITER_CHARS = 5


def delimiter_problem(delimiter: str) -> str | None:
    """Why ``delimiter`` cannot separate the fields of a delimited file, or None when it can.

    The rules of the reader (``bqsynth.sources.delimited``): a record ends at a line end, a
    field is quoted with ``"`` or ``'`` and escaped with a backslash, so none of those can be
    part of a delimiter; letters, digits and plain spaces are what values are made of.
    """
    if not delimiter:
        return "it is empty"
    if "\n" in delimiter or "\r" in delimiter:
        return "it holds a line end, which ends a record"
    if '"' in delimiter or "'" in delimiter:
        return "it holds a quote character, which quotes a field"
    if "\\" in delimiter:
        return "it holds a backslash, the escape character"
    if "\x00" in delimiter:
        return "it holds a NUL byte, which makes the file binary"
    if any(c.isalnum() for c in delimiter) or not delimiter.strip(" "):
        return "letters, digits and spaces are what values are made of"
    return None


class FileOutputFormat(StrictModel):
    """What a user changes about a file source's format for its synthetic files; unset = as the source.

    Custom lines take ``{count}`` (the data rows; ``{count:07}`` zero-pads to 7 digits) and
    ``{date:%Y%m%d}`` (the run date, any strftime pattern), e.g. ``TRL|{count:07}``.
    """

    delimiter: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DELIMITER_CHARS,
        description="One character (',', '|', TAB) or several as exports write them ('||', '~|~')",
    )
    has_header: bool | None = None
    encoding: Literal["utf-8", "utf-8-sig", "latin-1"] | None = None
    quoting: Literal["minimal", "all", "nonnumeric", "none"] | None = None
    line_terminator: Literal["\n", "\r\n"] | None = None
    header_lines: list[str] | None = Field(default=None, description="Custom lines before the data ([] = none)")
    trailer_lines: list[str] | None = Field(default=None, description="Custom lines after the data ([] = none)")

    @field_validator("delimiter")
    @classmethod
    def _a_delimiter_the_reader_can_split_on(cls, delimiter: str | None) -> str | None:
        problem = None if delimiter is None else delimiter_problem(delimiter)
        if problem is not None:
            raise ValueError(
                f"delimiter {delimiter!r} cannot separate fields: {problem}; choose one or a few punctuation or "
                "control characters such as ',', '|', TAB, '||' or '~|~'"
            )
        return delimiter


_PLACEHOLDER = re.compile(r"\{(count|date)(?::([^}]*))?\}")


def custom_line_from_template(template: str, run_date: dt.date | None = None) -> CustomLine:
    """A custom line from a user's template: ``{count}``/``{count:07}`` and ``{date:%Y%m%d}``.

    The placeholders become fields that the writer rewrites per file, exactly like the
    record counts and dates recognised in a source's own header and trailer lines.
    """
    text, fields, position = "", [], 0
    sample_day = run_date or dt.date(2000, 1, 1)
    for match in _PLACEHOLDER.finditer(template):
        text += template[position : match.start()]
        kind, spec = match.group(1), match.group(2) or ""
        if kind == "count":
            if spec and not spec.isdigit():
                raise ValueError(f"custom line {template!r}: {{count:{spec}}} must be a width such as {{count:07}}")
            width = int(spec) if spec else 0
            placeholder, field = "0" * max(width, 1), LineField(kind="record_count", start=0, end=0, width=width)
        else:
            pattern = spec or "%Y-%m-%d"
            placeholder, field = sample_day.strftime(pattern), LineField(kind="date", start=0, end=0, format=pattern)
        fields.append(field.model_copy(update={"start": len(text), "end": len(text) + len(placeholder)}))
        text += placeholder
        position = match.end()
    return CustomLine(text=text + template[position:], fields=fields)


class TableLayout(StrictModel):
    """How a BigQuery table is partitioned and clustered: its synthetic target is created the same
    way, so that queries written for the source (partition filters, cluster pruning) work on it."""

    partition_type: Literal["HOUR", "DAY", "MONTH", "YEAR"] | None = Field(
        default=None, description="Time partitioning; with no partition_field, by ingestion time"
    )
    partition_field: str | None = None
    range_field: str | None = Field(default=None, description="Integer-range partitioning column")
    range_start: int = 0
    range_end: int = 0
    range_interval: int = 1
    clustering_fields: list[str] = Field(default_factory=list)
    require_partition_filter: bool = False


class ColumnNaming(StrictModel):
    """Who named a headerless file's columns: the model (llm=gemini, its answer checked) or the offline engine.

    Kept in the profile so that the plan step and its report can say which names a model
    chose. Names only, never a source value.
    """

    advisor: str = Field(description="The advisor asked, e.g. gemini:gemini-2.5-flash")
    source: Literal["model", "offline"] = Field(description="Where the names in the profile came from")
    offline_names: list[str] = Field(description="The deterministic names (by meaning, column_N when unknown)")
    model_names: list[str] = Field(default_factory=list, description="The model's last answer (empty: none)")
    fallback_reason: str | None = Field(default=None, description="Why the offline names are used")
    format_note: str | None = Field(default=None, description="What the model said about the detected format")
    repair_rounds: int = 0
    tokens: int = 0
    tokens_measured: bool = False
    prompt_chars: int = Field(default=0, description="Largest prompt sent")


class TableProfile(StrictModel):
    """Everything the planner may know about one source table."""

    table_id: str = Field(description="Fully qualified source table: project.dataset.table")
    name: str = Field(description="Short table name, unique within one run")
    description: str | None = None
    row_count: int = 0
    columns: list[ColumnSchema] = Field(default_factory=list)
    primary_key: list[str] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    stats: dict[str, ColumnStats] = Field(default_factory=dict)
    sample: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why profiling failed; the table is then skipped")
    layout: TableLayout | None = Field(default=None, description="The source's partitioning and clustering")
    bytes_processed: int = Field(default=0, description="Bytes BigQuery processed for this profile's queries")
    stats_sample_percent: int | None = Field(
        default=None,
        description="The statistics come from TABLESAMPLE SYSTEM of this percent (a table too large to scan "
        "whole, see profile_full_scan_bytes); None = from every row",
    )
    file_format: FileFormat | None = Field(default=None, description="Set for delimited file sources (gs://)")
    source_files: list[str] = Field(default_factory=list, description="gs:// files read, for file sources")
    # Left out of the JSON when unset, so an offline profile is written byte for byte as before.
    column_naming: ColumnNaming | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="A headerless file source's column names when a model was asked for them",
    )

    def column(self, name: str) -> ColumnSchema:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.table_id} has no column {name!r}")


# ---------------------------------------------------------------------------------------------
# Plans: a closed vocabulary of generators, discriminated by ``kind``
# ---------------------------------------------------------------------------------------------


class SequenceKey(StrictModel):
    """A unique key computed from the row index: ``start + index * step``, optionally formatted.

    Any table can recompute the key of row ``i`` of any other table, which is what keeps
    foreign keys valid although tables are generated in parallel.
    """

    kind: Literal["sequence_key"] = "sequence_key"
    start: int = 1
    step: int = 1
    prefix: str = ""
    width: int = 0
    as_string: bool = False
    pattern: str = Field(
        default="",
        description="A shape (# digit, ? uppercase letter): the key is value number start + index * step "
        "of it (see bqsynth.shapes), for string keys that are codes rather than prefix + digits",
    )
    temporal: Literal["", "DATE", "DATETIME", "TIMESTAMP"] = Field(
        default="",
        description="A time key (the hour of a station's reading in (station, hour)): start and step are "
        "seconds since the epoch, the key is the moment start + index * step in this type",
    )


class LinkPairing(StrictModel):
    """How a primary key made of references only (a link table) pairs its parents' rows.

    Two references (``partsupp``: part and supplier) or more (an association of three
    entities). Row ``j`` of the link table is read in a mixed radix over the parents' row
    counts ``n_0, n_1, ...``: digit ``t_0 = j mod n_0``, ``t_1 = (j div n_0) mod n_1``, and so
    on. Parent 0's row is ``t_0``; parent ``i``'s row is ``(t_i + offset_i) mod n_i``, the
    offset a stable function of the rows already chosen for parents ``0..i-1``, so the rows
    spread over every parent. Each step is a bijection of its digit, so distinct rows ``j``
    below ``n_0 x n_1 x ...`` get distinct tuples of parent rows (the key stays unique), and
    any table can recompute the tuple of row ``j``. With two parents this is row ``j mod
    first_rows`` of the first and ``(j div first_rows + offset) mod second_rows`` of the second.
    """

    link_table: str
    link_rows: int = Field(ge=1)
    first_rows: int = Field(ge=1)
    second_rows: int = Field(ge=1)
    more_rows: list[int] = Field(
        default_factory=list,
        description="Rows of the third and later referenced tables, for a key of more than two references",
    )
    position: int = Field(ge=0, description="Which of the references this column holds (0 = the first)")
    draw: str = Field(
        default="", description="In a child of the link table: names the draw its reference columns share"
    )

    @property
    def parent_rows(self) -> list[int]:
        """The row counts of the referenced tables, in pairing order."""
        return [self.first_rows, self.second_rows, *self.more_rows]

    @property
    def space(self) -> int:
        """How many rows the link table can have without a tuple of parent rows twice."""
        return math.prod(self.parent_rows)

    @model_validator(mode="after")
    def _a_position_of_the_key(self) -> LinkPairing:
        # An edited plan may carry any numbers: the position must name one of the parents.
        if self.position >= len(self.parent_rows) or any(n < 1 for n in self.more_rows):
            raise ValueError(
                f"position {self.position} names no parent of a pairing of {len(self.parent_rows)} tables "
                "(positions count from 0), or a row count in more_rows is below 1"
            )
        return self


class GroupLayout(StrictModel):
    """How a table's rows fall into the ``groups`` groups of an implicit parent (issue 11).

    A plain key column that several tables share but that refers to no table (bakeoff's
    ``series``: there is no series table) is the key of an implicit parent with ``groups`` rows.
    Each table with it in its key lays its ``rows`` rows out in row order: group ``q`` holds
    rows ``start(q) .. start(q + 1) - 1``, ``start(q)`` the share ``L(q / groups)`` of the rows
    (rounded), ``L`` the Lorenz curve ``fan_out`` (even when empty), moved so that every group has
    at least one row (``bqsynth.groups.group_starts``): the rows per group follow the source's.
    Any table can recompute the layout of another from these numbers alone.
    """

    column: str = Field(description="The implicit parent's column in this table (series)")
    groups: int = Field(ge=1, description="The implicit parent's rows: how many groups")
    rows: int = Field(ge=0, description="The table's planned rows (at least groups, when any)")
    fan_out: list[tuple[float, float]] = Field(
        default_factory=list,
        description="Rows per group as a Lorenz curve (group share, row share), most first; empty = even groups",
    )

    @model_validator(mode="after")
    def _every_group_has_a_row(self) -> GroupLayout:
        # An edited plan may carry any numbers: a group with no row would leave values no child can pair.
        if 0 < self.rows < self.groups:
            raise ValueError(
                f"{self.rows} rows cannot fill {self.groups} groups of {self.column} (each needs one row at least); "
                "ask for more rows or fewer groups"
            )
        return self


class GroupKey(StrictModel):
    """The key of the row's implicit parent: ``key``'s value number ``group(r)`` (see ``GroupLayout``).

    Several rows share it (the bakers of one series), so it is never unique alone: the table's
    key keeps it beside a column derived from the row index or numbered within the group.
    """

    kind: Literal["group_key"] = "group_key"
    layout: GroupLayout
    key: SequenceKey = Field(description="The implicit parent's key: group q takes its value number q")


class GroupPairing(StrictModel):
    """A child of two composite references that share an implicit parent's column (challenges
    (series, baker) -> bakers and (series, episode) -> episodes): each child row takes a row of
    ``first`` and a row of ``second`` in the same group, no pair twice.

    The key space is ``sum over groups q of size_first(q) x size_second(q)``; child rows are laid
    out over the groups in row order in proportion to their pairs (``keys.paired_group_starts``)
    and, within group ``q``, local row ``t`` is read in a mixed radix: ``t mod size_first(q)`` of
    the first, ``(t div size_first(q) + offset) mod size_second(q)`` of the second, the offset keyed
    on the first row, so every pair is distinct while the child fits the space.
    """

    child_table: str
    child_rows: int = Field(ge=0)
    first_table: str
    first: GroupLayout
    second_table: str
    second: GroupLayout
    position: int = Field(ge=0, le=1, description="Which parent this column's row comes from (0 = first)")

    @model_validator(mode="after")
    def _one_implicit_parent(self) -> GroupPairing:
        if self.first.groups != self.second.groups:
            raise ValueError(
                f"the two parents are laid out over {self.first.groups} and {self.second.groups} groups; "
                "a pairing within groups needs one implicit parent"
            )
        return self


class ForeignKeyRef(StrictModel):
    """A parent's key: the parent row index is drawn from the fan-out distribution.

    With ``link`` the column is one part of a key made of references only: the parent row comes from a
    row of the link table (its own row, or a drawn one for a composite reference to it).
    """

    kind: Literal["foreign_key"] = "foreign_key"
    parent_table: str
    parent_column: str
    parent_rows: int
    parent_key: SequenceKey
    skew: float = Field(
        default=0.0, ge=0.0, description="0 = uniform fan-out; larger = a few parents get most children"
    )
    fan_out: list[tuple[float, float]] = Field(
        default_factory=list,
        description="The source's children per parent as a Lorenz curve: knots (parent share, child share) "
        "from (0, 0) to (p, 1), parents ordered by children, most first, so the first p of the parents hold "
        "every child and the rest none (see generation.keys.fan_out_position); empty = the skew model",
    )
    link: LinkPairing | None = None
    draw: str = Field(
        default="",
        description="Names the parent-row draw the columns of one composite reference share "
        "(all columns take their values from the same parent row); empty = the column's own draw",
    )
    one_to_one: bool = Field(
        default=False,
        description="Each child row takes a different parent row (a keyed permutation, not a draw): "
        "the child's primary key is this reference, so it stays unique",
    )
    via: Via | None = Field(
        default=None,
        description="The parent column is itself a reference (or an implicit parent's key, or a line "
        "number within its group): the value is what this generator of the parent's gives at the drawn "
        "parent row (a composite key of a reference and a number)",
    )
    group_pairing: GroupPairing | None = Field(
        default=None,
        description="The parent row is paired with another parent's within their implicit parent's group "
        "(see GroupPairing), not drawn",
    )
    stratified_rows: int = Field(
        default=0,
        ge=0,
        description="0 = the parent row is a hashed draw; n > 0 = row r's share of the children is the "
        "stratified (r + 0.5) / n (n: the table's planned rows), through the same fan-out, so the parent "
        "rises with the row and each parent's children are contiguous rows (a group a LineNumber numbers)",
    )

    @field_validator("fan_out")
    @classmethod
    def _a_lorenz_curve(cls, knots: list[tuple[float, float]]) -> list[tuple[float, float]]:
        # An edited plan may carry any numbers: a draw needs a curve it can invert.
        if not knots:
            return knots
        xs, ys = [x for x, _ in knots], [y for _, y in knots]
        if (
            len(knots) < 2
            or knots[0] != (0.0, 0.0)
            or ys[-1] != 1.0
            or not 0.0 < xs[-1] <= 1.0
            or any(b <= a for a, b in zip(ys, ys[1:], strict=False))
            or any(b < a for a, b in zip(xs, xs[1:], strict=False))
        ):
            raise ValueError(
                "fan_out must run from (0, 0) to (p, 1) with p <= 1, child shares strictly rising and parent "
                "shares never falling; delete it to use skew instead"
            )
        return knots


class LineNumber(StrictModel):
    """The number of a row within its group, 1..k: a line number, a stint.

    The group is one parent draw of the table's key (``group``: a single reference such as
    ``l_orderkey``, or the columns of one composite reference such as Managers' ``(yearID,
    teamID)``), drawn with ``stratified_rows`` so that each parent's children are contiguous
    rows; the number is the row's position in its parent's run (``keys.line_numbers``), so
    (group, number) is unique. ``rows``, ``parent_rows``, ``skew`` and ``fan_out`` repeat the
    group's reference, so that the number is computed without it: a pure function of the row.
    """

    kind: Literal["line_number"] = "line_number"
    group: list[str] = Field(min_length=1, description="The key's reference columns whose parent row is the group")
    rows: int = Field(ge=0, description="The table's planned rows (the group's stratified_rows)")
    parent_rows: int = Field(ge=1, description="The group's parent_rows")
    skew: float = Field(default=0.0, ge=0.0, description="The group's skew")
    fan_out: list[tuple[float, float]] = Field(default_factory=list, description="The group's fan_out")
    layout: GroupLayout | None = Field(
        default=None,
        description="Numbered within the row's implicit parent group instead (group: its column, e.g. "
        "episodes' episode within series): rows, parent_rows, skew and fan_out are then unused",
    )

    def draws_like(self, reference: ForeignKeyRef) -> bool:
        """Whether ``reference`` is drawn as this numbering assumes (same rows, parents and fan-out)."""
        return (
            reference.stratified_rows == self.rows
            and reference.parent_rows == self.parent_rows
            and reference.skew == self.skew
            and [tuple(k) for k in reference.fan_out] == [tuple(k) for k in self.fan_out]
        )


def _via_kind(value: Any) -> str:
    """The kind of a ``via``: plans written before implicit groups carry references without ``kind``."""
    if isinstance(value, dict):
        # Recipes write a via without its defaults (kind included): its fields tell the kind.
        inferred = "group_key" if "layout" in value and "key" in value else "line_number" if "group" in value else ""
        return str(value.get("kind") or inferred or "foreign_key")
    return str(getattr(value, "kind", "foreign_key"))


# What a reference recomputes at the parent row when the parent column is not the parent's own key.
Via = Annotated[
    Annotated[ForeignKeyRef, Tag("foreign_key")]
    | Annotated[GroupKey, Tag("group_key")]
    | Annotated[LineNumber, Tag("line_number")],
    Discriminator(_via_kind),
]
ForeignKeyRef.model_rebuild()


class FakerValue(StrictModel):
    """A value with the right shape from an allowlisted Faker provider; never a source value."""

    kind: Literal["faker"] = "faker"
    provider: str
    unique: bool = False
    locale: str | None = Field(
        default=None, description="Faker locale of the source's values (de_DE street names); None = en_US"
    )


class Categorical(StrictModel):
    """Observed values with their frequencies (rare values already suppressed)."""

    kind: Literal["categorical"] = "categorical"
    values: list[Scalar]
    weights: list[float]
    unique: bool = Field(
        default=False,
        description="Values unique in the source (the names of a lookup table) stay unique: rows 0..n-1 take a "
        "keyed permutation of the n values, the next n rows another (so every value comes rows/n times); the "
        "weights and the copula are then not used",
    )
    other: FakerValue | ShapedText | PatternString | None = Field(
        default=None,
        description="Draws the share of the values suppressed (seen fewer than min_category_count times): a value "
        "of the column's kind (a Faker or bqsynth provider, the source's shapes), never a source value",
    )
    other_weight: float = Field(default=0.0, ge=0.0, description="The suppressed values' count, beside the weights")
    copula: list[float] | None = Field(
        default=None, description="This column's row of the table's copula factor (see bqsynth.planning.copula_fit)"
    )


class NumberFromQuantiles(StrictModel):
    """A number drawn from the profiled distribution: piecewise-linear between quantiles.

    With ``precision`` (NUMERIC and BIGNUMERIC) the value is a decimal string with exactly
    ``decimals`` decimals and at most ``precision`` digits, never a float.
    """

    kind: Literal["number"] = "number"
    quantiles: list[float]
    integer: bool = False
    decimals: int | None = None
    precision: int | None = Field(
        default=None, ge=1, description="NUMERIC/BIGNUMERIC: the most digits a value may have (declared or type's)"
    )
    unique: bool = Field(
        default=False,
        description="Integers unique in the source stay unique: row i gets a keyed permutation of the "
        "range from the lowest to the highest quantile (widened by the planner to hold every row); "
        "the draw then ignores the quantiles between and the copula",
    )
    copula: list[float] | None = Field(
        default=None, description="This column's row of the table's copula factor (see bqsynth.planning.copula_fit)"
    )


class TemporalFromQuantiles(StrictModel):
    """A DATE, DATETIME or TIMESTAMP drawn between profiled quantiles (ISO strings)."""

    kind: Literal["temporal"] = "temporal"
    type: Literal["DATE", "DATETIME", "TIMESTAMP", "TIME"]
    quantiles: list[str]
    whole_days: bool = Field(
        default=False,
        description="DATETIME/TIMESTAMP values at midnight, as the source's are (a birth date kept in a TIMESTAMP)",
    )
    copula: list[float] | None = Field(
        default=None, description="This column's row of the table's copula factor (see bqsynth.planning.copula_fit)"
    )


class BooleanValue(StrictModel):
    kind: Literal["boolean"] = "boolean"
    p_true: float = Field(ge=0.0, le=1.0)


class PatternString(StrictModel):
    """A string with the shape of an identifier, e.g. ``ACC-########`` (# digit, ? letter).

    ``unique`` derives the digits from the row index so that values never repeat.
    """

    kind: Literal["pattern"] = "pattern"
    pattern: str
    unique: bool = False


class FreeText(StrictModel):
    """Free-text comments: whole sentences, their length drawn around the source's average."""

    kind: Literal["text"] = "text"
    min_length: int = 1
    max_length: int = 50
    avg_length: float | None = Field(default=None, description="The source's average length (None: the midpoint)")


class ShapedText(StrictModel):
    """Text of a kind no provider fits, in the source's shapes (``bqsynth.text_kinds.text_shape``).

    A shape keeps each value's length, word count, capitalisation, digits and punctuation:
    ``Aaaa 99-a`` (``A`` uppercase letter, ``a`` lowercase letter, ``9`` digit, others literal).
    Each row takes a shape by weight and fills its letters with invented pronounceable words.
    """

    kind: Literal["shaped"] = "shaped"
    shapes: list[str] = Field(min_length=1)
    weights: list[float] = Field(min_length=1)


class Vocabulary(StrictModel):
    """Synthetic values a model proposed for a text kind nothing else covers, with weights.

    Not a ``Categorical``: a categorical's values are observed source values (the privacy
    checks refuse it for identifying columns, the quality report counts its rare
    categories), while none of these is a source value: every value was checked against the
    source's values when the plan was made (``bqsynth.llm.vocabulary``), and the generate
    step drops any value whose digest is among the source's (``generation.exclusions``).
    Stored in the plan, so a rerun from the plan needs no model and gives the same rows.
    """

    kind: Literal["vocabulary"] = "vocabulary"
    values: list[str] = Field(min_length=1)
    weights: list[float] = Field(min_length=1)
    origin: str = Field(default="", description="Who proposed the values, e.g. gemini:gemini-2.5-flash")

    @model_validator(mode="after")
    def _one_weight_per_value(self) -> Vocabulary:
        if len(self.values) != len(self.weights):
            raise ValueError(f"vocabulary: {len(self.values)} values but {len(self.weights)} weights")
        if len(set(self.values)) != len(self.values):
            raise ValueError("vocabulary: a value is listed twice")
        if any(w < 0 for w in self.weights) or not sum(self.weights) > 0:
            raise ValueError("vocabulary: weights must be >= 0 and not all 0")
        return self


class RecordValue(StrictModel):
    kind: Literal["record"] = "record"
    fields: list[ColumnPlan]


class ArrayValue(StrictModel):
    kind: Literal["array"] = "array"
    element: Generator
    lengths: Categorical


class NullValue(StrictModel):
    kind: Literal["null"] = "null"


class JsonNode(StrictModel):
    """The shape of a JSON value, learnt from the profile sample: keys and kinds, never identifying strings.

    ``object``: ``fields`` maps each key to the shape of its value and ``presence`` to the
    share of objects that hold it; ``array``: ``element`` and the observed ``lengths``;
    ``integer``/``number``: drawn between ``low`` and ``high``; ``string``: one of ``values``
    (a small vocabulary seen often, of a key that is not identifying) or invented text of
    ``low``..``high`` characters; ``boolean``: true with probability ``high``; ``null``: null.
    """

    kind: Literal["object", "array", "string", "integer", "number", "boolean", "null"]
    fields: dict[str, JsonNode] = Field(default_factory=dict)
    presence: dict[str, float] = Field(default_factory=dict)
    element: JsonNode | None = None
    lengths: list[int] = Field(default_factory=list)
    low: float = 0.0
    high: float = 0.0
    values: list[Scalar] = Field(default_factory=list)


class JsonValue(StrictModel):
    """A JSON column: values of the source's key structure (``shape``)."""

    kind: Literal["json"] = "json"
    shape: JsonNode


class GeographyValue(StrictModel):
    """A GEOGRAPHY column: WKT points (or small lines / polygons) inside the profiled bounds."""

    kind: Literal["geography"] = "geography"
    shape: Literal["point", "linestring", "polygon"] = "point"
    min_longitude: float = Field(ge=-180.0, le=180.0)
    max_longitude: float = Field(ge=-180.0, le=180.0)
    min_latitude: float = Field(ge=-90.0, le=90.0)
    max_latitude: float = Field(ge=-90.0, le=90.0)


class BytesValue(StrictModel):
    """A BYTES column: random bytes of the source's lengths (base64 in the NDJSON files)."""

    kind: Literal["bytes"] = "bytes"
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=16, ge=0)


class IntervalValue(StrictModel):
    """An INTERVAL: months, days and seconds each drawn within the profiled ranges (``Y-M D H:M:S``)."""

    kind: Literal["interval"] = "interval"
    months: tuple[int, int] = (0, 0)
    days: tuple[int, int] = (0, 0)
    seconds: tuple[int, int] = (0, 0)


class RangeValue(StrictModel):
    """A RANGE<DATE|DATETIME|TIMESTAMP> ``[start, end)``: start < end, both within ``low``..``high``.

    The start is drawn between ``starts`` (profiled quantiles, ISO strings), the length
    between ``lengths`` (profiled quantiles of end - start, in seconds).
    """

    kind: Literal["range"] = "range"
    type: Literal["DATE", "DATETIME", "TIMESTAMP"]
    starts: list[str] = Field(min_length=1)
    lengths: list[float] = Field(min_length=1)
    high: str = Field(description="The latest end seen in the source")


Generator = Annotated[
    SequenceKey
    | ForeignKeyRef
    | LineNumber
    | GroupKey
    | FakerValue
    | Categorical
    | NumberFromQuantiles
    | TemporalFromQuantiles
    | BooleanValue
    | PatternString
    | FreeText
    | ShapedText
    | Vocabulary
    | RecordValue
    | ArrayValue
    | NullValue
    | JsonValue
    | GeographyValue
    | BytesValue
    | IntervalValue
    | RangeValue,
    Field(discriminator="kind"),
]

GENERATOR_KINDS = (
    "sequence_key",
    "foreign_key",
    "line_number",
    "group_key",
    "faker",
    "categorical",
    "number",
    "temporal",
    "boolean",
    "pattern",
    "text",
    "shaped",
    "vocabulary",
    "record",
    "array",
    "null",
    "json",
    "geography",
    "bytes",
    "interval",
    "range",
)


class Disclosure(StrictModel):
    """Whether a column's source values may be kept as observed (public) or not (private), and why.

    Public: a reference vocabulary (genres, currencies, a lookup table's names): every observed
    value is kept with its frequency, and the leak and rare-category checks leave it out (and
    say so). Private: values seen fewer than ``min_category_count`` times are suppressed, and an
    identifying column's source values never come out.
    """

    public: bool
    origin: Literal["public_columns", "private_columns", "heuristic"] = Field(
        description="The user's setting that decided, or the default heuristic (bqsynth.planning.vocabularies)"
    )
    reason: str


class ColumnPlan(StrictModel):
    name: str
    type: str
    mode: Mode = "NULLABLE"
    semantic_type: str = "unknown"
    generator: Generator
    null_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    identifying: bool = Field(default=False, description="Source values must never appear in the output")
    reason: str = Field(default="", description="Why this generator was chosen")
    disclosure: Disclosure | None = Field(
        default=None, description="Public or private, and why (None for keys and records, whose fields have theirs)"
    )

    @property
    def public(self) -> bool:
        """Values kept as observed: exempt from the leak and rare-category checks."""
        return self.disclosure is not None and self.disclosure.public


class Relationship(StrictModel):
    child_table: str
    child_columns: list[str]
    parent_table: str
    parent_columns: list[str]
    origin: Literal["declared", "inferred", "model"]
    confidence: float = 1.0
    evidence: str = ""


class KeyChoice(StrictModel):
    """A table's primary key as the plan uses it: declared, inferred from the data, or the model's."""

    table: str
    columns: list[str]
    origin: Literal["declared", "inferred", "model"]
    confidence: float = 1.0
    evidence: str = ""
    numbered: str = Field(
        default="",
        description="A key column that numbers the rows 1..n within each group of the other key columns "
        "(a line number, a stint), found so by an exact check; empty = none",
    )


class InterColumnRule(StrictModel):
    """A relation between columns of one table, enforced on every generated row.

    * ``compare``: ``target op operands[0]`` (``expires_on >= issued_on``): values are swapped
      when a row violates it;
    * ``arithmetic``: ``target = operands[0] op operands[1]`` (``total = quantity * unit_price``):
      the target is computed;
    * ``determines``: ``operands[0]`` determines ``target`` (a city has one state): the target
      is a stable choice among its categorical values for each operand value.
    """

    kind: Literal["compare", "arithmetic", "determines"]
    target: str
    operands: list[str] = Field(min_length=1, max_length=2)
    op: str | None = None


class TablePlan(StrictModel):
    name: str
    source_table: str
    target_table: str
    row_count: int = Field(ge=0)
    columns: list[ColumnPlan]
    schema_: list[ColumnSchema] = Field(alias="schema")
    primary_key: list[str] = Field(default_factory=list)
    first_row: int = Field(
        default=0,
        ge=0,
        description="WRITE_APPEND: rows of earlier batches in the target; this batch's keys continue after them",
    )
    recipe: str = Field(default="", description="Snowfakery recipe compiled from this plan")
    rules: list[InterColumnRule] = Field(default_factory=list, description="Enforced after generation")
    file_format: FileFormat | None = Field(default=None, description="File sources: the source files' format")
    output_format: FileFormat | None = Field(
        default=None, description="File sources: the synthetic files' format (the source's, unless changed)"
    )
    layout: TableLayout | None = Field(
        default=None, description="Partitioning and clustering the target is created with"
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PlanFailure(StrictModel):
    table: str
    source_table: str
    error: str


class DatasetPlan(StrictModel):
    seed: int
    engine: str = Field(default="offline", description="Who advised the plan: offline, or gemini:<model>")
    tables: list[TablePlan]
    relationships: list[Relationship] = Field(default_factory=list)
    primary_keys: list[KeyChoice] = Field(default_factory=list, description="Each table's key and its evidence")
    rejected_relationships: list[Relationship] = Field(
        default_factory=list, description="Candidate references not used, each with the reason in its evidence"
    )
    failures: list[PlanFailure] = Field(default_factory=list)
    llm_tokens_used: int = 0
    llm_fallbacks: dict[str, str] = Field(
        default_factory=dict, description="Tables planned offline although a model was asked, and why"
    )

    def table(self, name: str) -> TablePlan:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"the plan has no table {name!r}; planned: {[t.name for t in self.tables]}")


Categorical.model_rebuild()
RecordValue.model_rebuild()
ArrayValue.model_rebuild()
JsonNode.model_rebuild()


def leaf_schemas(columns: Sequence[ColumnSchema], prefix: str = "") -> dict[str, ColumnSchema]:
    """Every non-record column by dotted path, RECORD fields expanded, in schema order."""
    leaves: dict[str, ColumnSchema] = {}
    for column in columns:
        path = f"{prefix}{column.name}"
        if normalise_type(column.type) == "RECORD" and column.fields:
            leaves.update(leaf_schemas(column.fields, f"{path}."))
        else:
            leaves[path] = column
    return leaves


def leaf_plans(columns: list[ColumnPlan], prefix: str = "") -> dict[str, ColumnPlan]:
    """Every leaf column plan by dotted path, RECORD fields expanded, in schema order."""
    leaves: dict[str, ColumnPlan] = {}
    for column in columns:
        path = f"{prefix}{column.name}"
        if isinstance(column.generator, RecordValue):
            leaves.update(leaf_plans(column.generator.fields, f"{path}."))
        else:
            leaves[path] = column
    return leaves


def public_paths(columns: list[ColumnPlan]) -> list[str]:
    """Leaf paths of the columns kept as observed (public): exempt from the leak and rare-category checks."""
    return [path for path, column in leaf_plans(columns).items() if column.public]


def reported_disclosures(tables: Sequence[TablePlan]) -> dict[str, Disclosure]:
    """The decisions a report lists: every public column, and every column a setting made private."""
    found = {}
    for table in tables:
        for path, column in leaf_plans(table.columns).items():
            decided = column.disclosure
            if decided is not None and (decided.public or decided.origin == "private_columns"):
                found[f"{table.name}.{path}"] = decided
    return found


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


Status = Literal["In Progress", "Completed", "Failed"]


class WorkItem(StrictModel):
    """One generate task: rows ``start_index .. start_index + row_count`` of one table, its shard ``shard``.

    The plan step lists them and the generation ParallelFor runs one task per item, so the
    shards of a large table run on separate workers; keys are pure functions of the row
    index, so a shard is only a row range. Pipeline parameters travel as protobuf Structs,
    where ints arrive as floats: validating the item casts them back.
    """

    table: str
    shard: int = Field(ge=0, description="0-based index of this shard among the table's shards")
    shards: int = Field(ge=1, description="How many shards the table has")
    start_index: int = Field(ge=0, description="First row index (within this batch) of the shard")
    row_count: int = Field(ge=0, description="Rows of the shard")

    def label(self) -> str:
        """``shard 4 of 4 (rows 750-999)``: how messages name the shard (1-based, with its row indices)."""
        rows = f"rows {self.start_index}-{self.start_index + self.row_count - 1}" if self.row_count else "no rows"
        return f"shard {self.shard + 1} of {self.shards} ({rows})"


class TableResult(StrictModel):
    """What happened to one table in one batch; the generate and load steps fill it in turn.

    The generate step writes one per shard (``shard`` set); the load step merges a table's
    shards into one (``shard`` empty, ``shards`` counted) before it loads them in one job.
    """

    table: str
    source_table: str
    target_table: str
    rows_requested: int = 0
    rows_generated: int = 0
    rows_loaded: int = 0
    files: list[str] = Field(default_factory=list, description="NDJSON files loaded into the target table")
    output_files: list[str] = Field(
        default_factory=list, description="File sources: the synthetic files in the source's format"
    )
    status: Status = "In Progress"
    error: str | None = None
    generate_seconds: float = 0.0
    load_seconds: float = 0.0
    engine: str = Field(default="", description="Engine that generated the rows (columnar or snowfakery) and why")
    shard: WorkItem | None = Field(default=None, description="The generate step's result of one shard: which one")
    shards: int = Field(default=1, ge=1, description="Shards the table was generated in, each its own task")


class TableResults(StrictModel):
    """Every planned table's result after the load step, in one artifact for the summary."""

    tables: list[TableResult] = Field(default_factory=list)


class TextRealism(StrictModel):
    """How a synthetic text column looks next to its source column, compared by value signatures
    (``bqsynth.text_kinds.text_signature``); every similarity is 0..1, 1 = the same distribution."""

    score: float = Field(ge=0.0, le=1.0, description="Mean of the four similarities, less the excess filler share")
    length: float = Field(ge=0.0, le=1.0, description="1 - Kolmogorov-Smirnov distance of value lengths")
    words: float = Field(ge=0.0, le=1.0, description="1 - total variation distance of word counts")
    case: float = Field(ge=0.0, le=1.0, description="1 - total variation distance of case patterns")
    classes: float = Field(ge=0.0, le=1.0, description="1 - total variation distance of character classes")
    filler_source: float = Field(ge=0.0, le=1.0, description="Share of source values that are lorem filler")
    filler_synthetic: float = Field(ge=0.0, le=1.0, description="Share of synthetic values that are lorem filler")
    filler_allowed: bool = Field(default=False, description="Free text: filler sentences are its generator, not a flaw")


class ColumnQuality(StrictModel):
    """How one synthetic column compares with the same source column."""

    column: str = Field(description="Dotted leaf path")
    semantic_type: str = "unknown"
    shape_metric: str | None = Field(default=None, description="SDMetrics metric: KSComplement or TVComplement")
    shape_score: float | None = Field(default=None, description="1.0 = same distribution as the source sample")
    validity_rule: str | None = Field(default=None, description="Format checked: email, phone, pattern:ACC-####, ...")
    validity: float | None = Field(default=None, description="Share of non-null synthetic values in that format")
    null_rate_source: float | None = None
    null_rate_synthetic: float | None = None
    text_realism: TextRealism | None = Field(default=None, description="STRING columns drawn fresh: their look")


class TableFidelity(StrictModel):
    """SDMetrics scores of the synthetic sample against the source sample (0..1, higher is closer)."""

    quality_score: float | None = Field(
        default=None, description="Mean of column shapes, column pair trends and text realism (those computed)"
    )
    column_shapes: float | None = None
    column_pair_trends: float | None = None
    text_realism: float | None = Field(default=None, description="Mean text realism over the scored text columns")
    cardinality: float | None = Field(
        default=None, description="Children-per-parent shape similarity, mean over this table's parents"
    )
    source_rows: int = Field(default=0, description="Source rows the scores were computed on")
    synthetic_rows: int = Field(default=0, description="Synthetic rows the scores were computed on")
    columns: list[ColumnQuality] = Field(default_factory=list)


class TablePrivacy(StrictModel):
    """What of the source shows through in the synthetic table; every count should be 0."""

    identifying_values_leaked: int = Field(default=0, description="Synthetic values of identifying columns in source")
    identifying_columns_checked: list[str] = Field(default_factory=list)
    exact_row_copies: int = Field(default=0, description="Synthetic rows equal to a source row (non-key columns)")
    rare_categories_emitted: int = Field(default=0, description="Emitted values seen fewer than k times in the source")
    min_category_count: int = Field(default=0, description="The k of rare_categories_emitted")
    public_columns: list[str] = Field(
        default_factory=list,
        description="Columns kept as observed (a public vocabulary): left out of the leak and rare-category checks",
    )
    dcr_median: float | None = Field(default=None, description="Median distance to the closest source record")
    dcr_p05: float | None = Field(default=None, description="5th percentile distance to the closest source record")
    dcr_baseline_median: float | None = Field(
        default=None, description="The same median for source rows held out of the reference: what 'new' looks like"
    )


class TableQuality(StrictModel):
    table: str
    target_table: str
    rows_requested: int
    rows_generated: int
    rows_loaded: int
    rows_in_target: int
    duplicate_primary_keys: int
    foreign_key_orphans: int
    primary_key: list[str] = Field(default_factory=list, description="Key checked for duplicates")
    foreign_keys_checked: list[str] = Field(default_factory=list, description="References checked for orphans")
    not_null_violations: int = Field(default=0, description="NULLs in REQUIRED columns of the target")
    type_violations: int = Field(default=0, description="Target columns whose type differs from the plan")
    columns_left_empty: list[str] = Field(
        default_factory=list, description="Columns with values in the source and none in any target row"
    )
    fidelity: TableFidelity | None = None
    privacy: TablePrivacy | None = None
    validity: float | None = Field(default=None, description="Share of checked values in the source column's format")
    status: Status
    error: str | None = None
    seconds: float

    @property
    def ok(self) -> bool:
        leaked = self.privacy.identifying_values_leaked if self.privacy else 0
        return (
            self.status == "Completed"
            and self.foreign_key_orphans == 0
            and self.duplicate_primary_keys == 0
            and self.not_null_violations == 0
            and self.type_violations == 0
            and not self.columns_left_empty
            and leaked == 0
        )


class RunSummary(StrictModel):
    batch_id: str
    tables: list[TableQuality]
    seconds: float
    engine: str = "offline"
    llm_tokens_used: int = 0
    llm_fallbacks: dict[str, str] = Field(default_factory=dict)
    primary_keys: list[KeyChoice] = Field(default_factory=list, description="The plan's keys and their evidence")
    relationships: list[Relationship] = Field(default_factory=list, description="References the plan kept")
    rejected_relationships: list[Relationship] = Field(default_factory=list, description="Candidates not used")
    disclosures: dict[str, Disclosure] = Field(
        default_factory=dict,
        description="table.column -> public or private and why, for the columns that are public or that a "
        "setting made private (every column's decision is in the plan)",
    )

    @property
    def ok(self) -> bool:
        """Every table loaded with intact keys, every required value present, no identifying value leaked."""
        return all(t.ok for t in self.tables)
