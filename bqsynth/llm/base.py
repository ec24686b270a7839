"""The plan-advisor interface: what is asked, what comes back, and who answers.

An advisor answers three questions about a dataset (see ``answers``): what each column
means, which relationships hold across tables, and how each table's columns should be
generated. Two providers implement it: ``OfflineAdvisor`` (the deterministic engine,
reference and fallback) and ``GeminiAdvisor`` (Vertex AI through google-genai).

A request carries both what a model would read (``prompt``: system text and a bounded,
masked JSON payload, built by ``prompts``) and the typed context the offline engine
reads (profiles and the offline plan). A model-backed provider must only ever send the
``prompt``: that is what keeps masking and size limits in one place.

Advisors never raise for a bad answer: they return a ``Reply`` whose ``error`` (an answer
that does not fit the schema: repairable) or ``failure`` (the provider could not be
reached or refused: not repairable) says what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from bqsynth.llm.answers import GenerationAnswer, RelationshipsAnswer, SemanticsAnswer
from bqsynth.models import DatasetPlan, StrictModel, TablePlan, TableProfile

Task = Literal["semantics", "relationships", "generation", "headers"]
AnswerT = TypeVar("AnswerT", bound=BaseModel)


def estimate_tokens(chars: int) -> int:
    """No offline tokenizer for Gemini: ~4 characters per token, rounded up."""
    return (chars + 3) // 4


class Turn(StrictModel):
    role: Literal["user", "model"]
    text: str


class Prompt(StrictModel):
    """Everything a model is shown for one call: its size is what the report prints."""

    task: Task
    table: str | None = None
    chunk: int = Field(default=0, description="0-based chunk of a wide table (or of the table list)")
    chunks: int = 1
    system: str
    turns: list[Turn] = Field(description="The request, then for a repair: the previous answer and the errors")

    @property
    def chars(self) -> int:
        return len(self.system) + sum(len(turn.text) for turn in self.turns)

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens(self.chars)


@dataclass(frozen=True)
class Reply(Generic[AnswerT]):
    """One provider answer: the parsed model, or why there is none, and what it cost."""

    answer: AnswerT | None = None
    text: str = ""
    error: str | None = None  # the answer did not fit the schema (invalid JSON, unknown enum): repairable
    failure: str | None = None  # the provider failed (HTTP error after retries, timeout): not repairable
    tokens: int = 0
    tokens_measured: bool = False  # True: from usage_metadata; False: chars/4 estimate (or offline: 0)


class SemanticsRequest(StrictModel):
    prompt: Prompt
    profile: TableProfile
    table_plan: TablePlan = Field(description="The offline plan of this table")
    columns: list[str] = Field(description="Leaf paths asked about in this chunk")


class RelationshipsRequest(StrictModel):
    prompt: Prompt
    profiles: list[TableProfile]
    offline_plan: DatasetPlan
    tables: list[str] = Field(description="Child tables asked about in this chunk")


class GenerationRequest(StrictModel):
    prompt: Prompt
    profile: TableProfile
    table_plan: TablePlan = Field(description="The offline plan of this table")
    semantic_types: dict[str, str] = Field(description="Leaf path -> the semantic type decided for it")
    columns: list[str] = Field(description="Leaf paths asked about in this chunk")


class PlanAdvisor(Protocol):
    """One provider of plan advice. ``name`` is recorded as the plan's engine."""

    name: str

    def advise_semantics(self, request: SemanticsRequest) -> Reply[SemanticsAnswer]: ...

    def advise_relationships(self, request: RelationshipsRequest) -> Reply[RelationshipsAnswer]: ...

    def advise_generation(self, request: GenerationRequest) -> Reply[GenerationAnswer]: ...
