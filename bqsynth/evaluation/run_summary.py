"""Render a ``RunSummary``: Markdown for the KFP report artifact, a rich table for terminals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from bqsynth.models import Disclosure, Relationship, RunSummary, TableQuality

COLUMNS = (
    "table",
    "status",
    "requested",
    "generated",
    "loaded",
    "in target",
    "FKs checked",
    "FK orphans",
    "dup PKs",
    "seconds",
)


def _cells(t: TableQuality) -> list[str]:
    counts = (t.rows_requested, t.rows_generated, t.rows_loaded, t.rows_in_target, len(t.foreign_keys_checked))
    return [
        t.table,
        t.status,
        *map(str, counts),
        str(t.foreign_key_orphans),
        str(t.duplicate_primary_keys),
        f"{t.seconds:.1f}",
    ]


def _errors(summary: RunSummary) -> list[str]:
    return [f"{t.table}: {t.error}" for t in summary.tables if t.error]


def keys_checked(t: TableQuality) -> str:
    """Which keys the counts cover: a reference nobody found is a reference nobody checked."""
    key = ", ".join(t.primary_key) or "none found"
    return f"primary key ({key}); references: {'; '.join(t.foreign_keys_checked) or 'none'}"


def planner_line(summary: RunSummary) -> str:
    """Who planned the data, what the model cost, and where its advice was not used."""
    line = f"planned by {summary.engine}"
    if summary.engine != "offline" and not summary.engine.startswith("plan file"):
        line += f", {summary.llm_tokens_used} tokens"
    fallbacks = "; ".join(f"{table}: {reason}" for table, reason in summary.llm_fallbacks.items())
    return line + (f"; planned offline instead: {fallbacks}" if fallbacks else "")


def key_counts(summary: RunSummary) -> str:
    """How many keys and references were declared, inferred (or the model's) and rejected."""
    origins = Counter(k.origin for k in summary.primary_keys)
    references = Counter(r.origin for r in summary.relationships)
    return (
        f"primary keys: {origins['declared']} declared, {origins['inferred'] + origins['model']} inferred; "
        f"references: {references['declared']} declared, {references['inferred'] + references['model']} inferred, "
        f"{len(summary.rejected_relationships)} rejected"
    )


def _reference(r: Relationship) -> str:
    return f"{r.child_table}({', '.join(r.child_columns)}) -> {r.parent_table}({', '.join(r.parent_columns)})"


def key_lines(summary: RunSummary) -> list[str]:
    """One line per key and reference, with origin, confidence and evidence: what the plan relied on."""
    lines = [
        f"- key {k.table}({', '.join(k.columns)}): {k.origin}, confidence {k.confidence}: {k.evidence}"
        for k in summary.primary_keys
    ]
    lines += [f"- {_reference(r)}: {r.origin}, confidence {r.confidence}: {r.evidence}" for r in summary.relationships]
    lines += [f"- rejected {_reference(r)}: {r.evidence}" for r in summary.rejected_relationships]
    return lines


def disclosure_lines(disclosures: Mapping[str, Disclosure]) -> list[str]:
    """The public columns (kept as observed) and the columns a setting made private, each with why."""
    public = {c: d for c, d in disclosures.items() if d.public}
    private = {c: d for c, d in disclosures.items() if not d.public}
    lines = [
        f"{len(public)} public columns: every observed value kept with its frequency, left out of the leak and "
        "rare-category checks. Every other column is private: values seen fewer than k times are suppressed, "
        "identifying values never copied (each column's reason is in the plan).",
        "",
    ]
    lines += [f"- public {column} ({d.origin}): {d.reason}" for column, d in public.items()]
    lines += [f"- private {column} ({d.origin}): {d.reason}" for column, d in private.items()]
    return lines


def render_markdown(summary: RunSummary) -> str:
    lines = [f"# bqsynth run summary: batch `{summary.batch_id}`", "", planner_line(summary), ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    lines += ["| " + " | ".join(_cells(t)) + " |" for t in summary.tables]
    lines += ["", "## Keys checked on the targets", ""]
    lines += [f"- {t.table}: {keys_checked(t)}" for t in summary.tables if t.status == "Completed"]
    lines += ["", "## Keys and relationships", "", key_counts(summary), ""] + key_lines(summary)
    lines += ["", "## Public and private columns", ""] + disclosure_lines(summary.disclosures)
    errors = _errors(summary)
    if errors:
        lines += ["", "## Errors", ""] + [f"- {e}" for e in errors]
    return "\n".join(lines) + "\n"


def print_summary(summary: RunSummary, console: Console | None = None) -> None:
    # A wide table even when stdout is a pipe or CI log, where rich would assume 80 columns.
    console = console or Console(width=130)
    table = Table(title=f"bqsynth batch {summary.batch_id}")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("table", "status") else "right")
    for quality in summary.tables:
        table.add_row(*_cells(quality), style="green" if quality.ok else "red")
    console.print(table)
    console.print(planner_line(summary))
    console.print(key_counts(summary))
    for error in _errors(summary):
        console.print(f"[red]{error}[/red]")
