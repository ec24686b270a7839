"""What advice did to the plan, per table: where each decision came from and what it cost.

The ``AdviceReport`` is written next to the plan (a JSON artifact) and summarised in the
run summary and audit rows: for every table, whether its plan came from the model or the
offline engine (and why it fell back), repair rounds, tokens, prompt sizes, the rules kept
or dropped, and every column the advice changed. It never holds source values.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bqsynth.llm.answers import ColumnRule
from bqsynth.llm.base import Task
from bqsynth.models import ColumnNaming, Relationship, StrictModel

Source = Literal["model", "offline"]


def reference_label(rel: Relationship) -> str:
    """``child.col -> parent.key``, several columns joined by commas, as the prompts list them."""
    return f"{rel.child_table}.{','.join(rel.child_columns)} -> {rel.parent_table}.{','.join(rel.parent_columns)}"


def naming_line(naming: ColumnNaming) -> str:
    """Who named a headerless file's columns, in a line for logs and the advice report."""
    if naming.source == "model":
        return f"column names from {naming.advisor} ({naming.tokens} tokens): {', '.join(naming.model_names)}"
    return f"column names by meaning, not from {naming.advisor}: {naming.fallback_reason}"


class CallRecord(StrictModel):
    """One provider call (or one that was not made)."""

    task: Task
    table: str | None = None
    chunk: int = 0
    round: int = Field(default=0, description="0: first ask; n: n-th repair round")
    prompt_chars: int
    prompt_tokens_estimate: int
    tokens: int = 0
    tokens_measured: bool = False
    outcome: Literal["accepted", "invalid", "failed", "skipped"]
    detail: str = ""


class DecisionRecord(StrictModel):
    decision: Task
    source: Source
    repair_rounds: int = 0
    fallback_reason: str | None = None
    errors: list[str] = Field(default_factory=list, description="Problems of the last rejected answer")
    notes: list[str] = Field(default_factory=list)


class RuleRecord(StrictModel):
    rule: ColumnRule
    text: str
    accepted: bool
    why: str
    source: Source


class ColumnChange(StrictModel):
    column: str
    offline: str
    advised: str
    reason: str = ""


class VocabularyRecord(StrictModel):
    """A model-made vocabulary for one column: what was proposed, what the checks dropped, whether it is used.

    Counts only: the report never holds the values (the plan does, and only the kept ones).
    """

    column: str
    proposed: int = 0
    kept: int = 0
    dropped_source_values: int = Field(default=0, description="Equal to a source value (by digest): dropped")
    dropped_out_of_bounds: int = Field(default=0, description="Outside the column's lengths or characters: dropped")
    dropped_duplicates: int = 0
    checked_on_all_rows: bool = Field(
        default=False, description="Also compared with every source value in the source (not only the profile's)"
    )
    used: bool = False
    fallback_reason: str | None = None


class TableAdvice(StrictModel):
    table: str
    source: Source = Field(description="Where the final table plan came from")
    fallback_reason: str | None = None
    decisions: list[DecisionRecord] = Field(default_factory=list)
    repair_rounds: int = 0
    tokens_used: int = 0
    prompt_chars: int = Field(default=0, description="Largest single prompt for this table")
    prompt_chars_total: int = 0
    prompt_tokens_estimate: int = Field(default=0, description="Largest prompt, chars/4")
    human_names: dict[str, str] = Field(default_factory=dict)
    rules: list[RuleRecord] = Field(default_factory=list)
    changes: list[ColumnChange] = Field(default_factory=list)
    relationships_dropped: list[str] = Field(default_factory=list)
    vocabularies: list[VocabularyRecord] = Field(default_factory=list, description="Model-made vocabularies")
    relationship_notes: list[str] = Field(
        default_factory=list, description="Relationship changes for this table that could not be applied, and why"
    )
    column_naming: ColumnNaming | None = Field(
        default=None, description="A headerless file source: who named its columns in the profile step, and why"
    )

    @property
    def accepted_rules(self) -> list[ColumnRule]:
        return [r.rule for r in self.rules if r.accepted]


class AdviceReport(StrictModel):
    advisor: str
    sample_policy: str
    token_budget: int
    tokens_used: int = 0
    budget_exhausted: bool = False
    provider_unavailable: bool = False
    provider_failure: str | None = Field(
        default=None, description="Why the provider's last failed call failed (credentials, endpoint, model, schema)"
    )
    max_prompt_chars: int = Field(description="The per-call cap prompts were built under")
    relationships: DecisionRecord
    relationships_added: list[Relationship] = Field(default_factory=list)
    relationships_rejected: list[Relationship] = Field(
        default_factory=list, description="Inferred references the model rejected; who and why end their evidence"
    )
    relationships_confirmed: int = 0
    relationship_prompt_chars: int = 0
    tables: list[TableAdvice] = Field(default_factory=list)
    calls: list[CallRecord] = Field(default_factory=list)

    @property
    def fallbacks(self) -> dict[str, str]:
        """Tables planned offline although advice was asked, and why."""
        return {t.table: t.fallback_reason or "" for t in self.tables if t.source == "offline" and t.fallback_reason}

    def problems(self) -> list[str]:
        """What the person running bqsynth must hear about now: the provider failed, and why.

        A fallback per table says which decision was planned offline; the cause (no
        credentials, an endpoint nobody answers on, a model the project cannot use) is the
        same for all of them and is said once.
        """
        if self.provider_failure is None:
            return []
        failed = sum(1 for c in self.calls if c.outcome == "failed")
        offline = sum(1 for t in self.tables if t.source == "offline")
        if self.provider_unavailable:
            what = f"{self.advisor} could not be used ({failed} failed calls, then no more were made)"
        else:
            what = f"{failed} call(s) to {self.advisor} failed"
        planned = f"{offline} of {len(self.tables)} tables planned offline" if self.tables else "planned offline"
        return [f"{what}; {planned}: {self.provider_failure}"]

    def table(self, name: str) -> TableAdvice:
        for table in self.tables:
            if table.table == name:
                return table
        raise KeyError(f"no advice for table {name!r}")

    def lines(self) -> list[str]:
        """A plain-text summary for logs and the terminal (prompt sizes included)."""
        lines = [
            f"advisor {self.advisor}: {self.tokens_used} of {self.token_budget} tokens"
            f"{' (budget exhausted)' if self.budget_exhausted else ''}; sample policy {self.sample_policy}; "
            f"prompts capped at {self.max_prompt_chars} chars",
            f"relationships: {self.relationships.source}"
            + (f" ({self.relationships.fallback_reason})" if self.relationships.fallback_reason else "")
            + f", {self.relationships_confirmed} confirmed, {len(self.relationships_added)} added, "
            f"{len(self.relationships_rejected)} rejected, prompt {self.relationship_prompt_chars} chars",
        ]
        lines += self.problems()
        lines += [f"rejected {reference_label(r)}: {r.evidence}" for r in self.relationships_rejected]
        for t in self.tables:
            kept = sum(1 for r in t.rules if r.accepted)
            lines.append(
                f"{t.table}: {t.source}"
                + (f" (fallback: {t.fallback_reason})" if t.fallback_reason else "")
                + f"; {len(t.changes)} column changes, {t.repair_rounds} repair rounds, {t.tokens_used} tokens, "
                f"largest prompt {t.prompt_chars} chars (~{t.prompt_tokens_estimate} tokens), "
                f"rules {kept} kept / {len(t.rules) - kept} dropped"
            )
            if t.column_naming is not None:
                lines.append(f"{t.table}: {naming_line(t.column_naming)}")
            lines += [
                f"{t.table}.{v.column}: vocabulary "
                + (f"used, {v.kept} values" if v.used else f"not used ({v.fallback_reason})")
                + f"; {v.proposed} proposed, {v.dropped_source_values} dropped as source values, "
                f"{v.dropped_out_of_bounds} out of bounds, {v.dropped_duplicates} duplicates"
                for v in t.vocabularies
            ]
        return lines
