"""The answers a plan advisor gives: Pydantic models used as Gemini response schemas.

Each decision has its own small schema, sent as ``response_schema`` so that the model's
output is constrained to it (structured output), and used again to validate the text
ourselves when the SDK could not parse it. Closed vocabularies are ``Literal`` enums
(semantic types, generator kinds, Faker providers, rule operators), so an answer outside
them fails validation before any of it is used. Shapes are deliberately flat (no unions,
no recursion): they convert cleanly to Vertex's OpenAPI schema subset.

What the schemas cannot express (a column that exists, a value that was observed, a rule
the sample respects) is checked in ``validate`` and ``rule_checks``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bqsynth.semantics import PROVIDER_ALLOWLIST, SEMANTIC_TYPES

SemanticTypeName = Literal[tuple(SEMANTIC_TYPES)]  # type: ignore[valid-type]
ProviderName = Literal[tuple(sorted(PROVIDER_ALLOWLIST))]  # type: ignore[valid-type]

# Generator kinds a model may choose for a column. Keys (sequence_key, foreign_key) follow
# from relationships, and records/arrays from the schema, so they are not per-column choices.
ChoosableKind = Literal[
    "faker", "categorical", "number", "temporal", "boolean", "pattern", "text", "shaped", "vocabulary", "null"
]
CHOOSABLE_KINDS: tuple[str, ...] = ChoosableKind.__args__  # type: ignore[attr-defined]

RuleKind = Literal["compare", "arithmetic", "determines"]
RuleOp = Literal["<", "<=", ">", ">=", "=", "+", "-", "*"]
COMPARE_OPS = ("<", "<=", ">", ">=", "=")
ARITHMETIC_OPS = ("+", "-", "*")

MAX_NAME_CHARS = 80
# The most values one vocabulary answer may hold; the run's own limit (``vocabulary.VocabularyLimits``)
# is at most this and is what the prompt asks for.
MAX_VOCABULARY_VALUES = 200
MAX_REASON_CHARS = 300


class AnswerModel(BaseModel):
    # Unknown keys are an error, not silently dropped: a model adding keys is not following the schema.
    model_config = ConfigDict(extra="forbid")


# --- semantics --------------------------------------------------------------------------------


class ColumnMeaning(AnswerModel):
    column: str = Field(description="The column's exact path as given, e.g. 'address.city'")
    semantic_type: SemanticTypeName = Field(description="One of the listed semantic types")
    human_name: str = Field(
        max_length=MAX_NAME_CHARS,
        description="A short human name for what the column holds, e.g. 'product SKU'; required even when the "
        "column's own name says nothing (f0_, col_3)",
    )
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class SemanticsAnswer(AnswerModel):
    table: str
    columns: list[ColumnMeaning] = Field(description="Exactly one entry per column listed in the request")


# --- relationships ----------------------------------------------------------------------------


class RelationshipProposal(AnswerModel):
    action: Literal["confirm", "add", "reject"] = Field(
        description="'confirm' a relationship listed as already known, 'add' one that is missing, or 'reject' a "
        "known one of origin 'inferred' that is wrong (declared ones cannot be rejected)"
    )
    child_table: str
    child_column: str
    parent_table: str
    parent_column: str = Field(description="Must be the parent table's key column")
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str = Field(
        max_length=MAX_REASON_CHARS,
        description="What in names, types or statistics shows it; for 'reject', why the relationship is wrong",
    )


class RelationshipsAnswer(AnswerModel):
    relationships: list[RelationshipProposal]


# --- generation -------------------------------------------------------------------------------


class GeneratorChoice(AnswerModel):
    """A column's generator in the closed vocabulary; parameters the profile knows are not chosen.

    Quantiles, frequencies and null rates always come from the profile, so a model can pick
    *how* a column is generated but never invent the values it is generated from.
    """

    column: str
    kind: ChoosableKind
    provider: ProviderName | None = Field(default=None, description="kind=faker: the Faker provider")
    pattern: str | None = Field(
        default=None, max_length=64, description="kind=pattern: the shape, '#' = digit, '?' = uppercase letter"
    )
    unique: bool = Field(default=False, description="Values must not repeat (pattern, or email-like faker)")
    values: list[str] | None = Field(
        default=None,
        description="kind=categorical: optionally a subset of the observed values to keep, as shown; "
        "frequencies are always the observed ones",
    )
    vocabulary: list[str] | None = Field(
        default=None,
        max_length=MAX_VOCABULARY_VALUES,
        description="kind=vocabulary: realistic values of the column's kind that you invent, most common first, "
        "at most the column's vocabulary_max; never a value shown in the sample or top values",
    )
    min_length: int | None = Field(default=None, ge=1, le=1000, description="kind=text")
    max_length: int | None = Field(default=None, ge=1, le=1000, description="kind=text")
    reason: str = Field(default="", max_length=MAX_REASON_CHARS)


class ColumnRule(AnswerModel):
    """A relation between columns of one table, tested on the source sample before it is kept.

    * ``compare``: ``target op operands[0]``, op one of < <= > >= = (``end_date >= start_date``);
    * ``arithmetic``: ``target = operands[0] op operands[1]``, op one of + - * (``total = quantity * unit_price``);
    * ``determines``: ``operands[0]`` determines ``target`` (each city has one state).
    """

    kind: RuleKind
    target: str
    operands: list[str] = Field(min_length=1, max_length=2)
    op: RuleOp | None = None
    reason: str = Field(default="", max_length=MAX_REASON_CHARS)

    def describe(self) -> str:
        match self.kind:
            case "compare":
                return f"{self.target} {self.op} {self.operands[0]}"
            case "arithmetic":
                right = f" {self.op} ".join(self.operands)
                return f"{self.target} = {right}"
        return f"{self.operands[0]} determines {self.target}"


class GenerationAnswer(AnswerModel):
    table: str
    columns: list[GeneratorChoice] = Field(
        default_factory=list, description="Only columns whose generator should change; omit the others"
    )
    rules: list[ColumnRule] = Field(default_factory=list, max_length=20)


# --- headerless files -------------------------------------------------------------------------


class StatedFormat(AnswerModel):
    """How the model reads the masked sample lines; checked by parsing the real lines with it."""

    delimiter: str = Field(description="The one character between fields, as in the sample lines")
    quotechar: str = Field(description="The one character quoted fields are enclosed in ('\"' if none are quoted)")
    has_header: bool = Field(description="True only if the first sample line holds column names, not data")


class HeaderNamesAnswer(AnswerModel):
    columns: list[str] = Field(
        description="Exactly one name per column, in the file's order: lowercase snake_case BigQuery column names, "
        "unique"
    )
    format: StatedFormat | None = Field(default=None, description="The file's format as the sample lines show it")
