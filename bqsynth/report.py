"""Render a ``RunSummary``: Markdown for the KFP report artifact, a rich table for terminals."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bqsynth.models import RunSummary

COLUMNS = ("table", "status", "requested", "generated", "loaded", "in target", "FK orphans", "dup PKs", "seconds")


def _cells(summary: RunSummary) -> list[list[str]]:
    return [
        [
            t.table,
            t.status,
            str(t.rows_requested),
            str(t.rows_generated),
            str(t.rows_loaded),
            str(t.rows_in_target),
            str(t.foreign_key_orphans),
            str(t.duplicate_primary_keys),
            f"{t.seconds:.1f}",
        ]
        for t in summary.tables
    ]


def _errors(summary: RunSummary) -> list[str]:
    return [f"{t.table}: {t.error}" for t in summary.tables if t.error]


def render_markdown(summary: RunSummary) -> str:
    lines = [f"# bqsynth run summary: batch `{summary.batch_id}`", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    lines += ["| " + " | ".join(row) + " |" for row in _cells(summary)]
    errors = _errors(summary)
    if errors:
        lines += ["", "## Errors", ""] + [f"- {e}" for e in errors]
    return "\n".join(lines) + "\n"


def print_summary(summary: RunSummary, console: Console | None = None) -> None:
    # A wide table even when stdout is a pipe or CI log, where rich would assume 80 columns.
    console = console or Console(width=120)
    table = Table(title=f"bqsynth batch {summary.batch_id}")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("table", "status") else "right")
    for row in _cells(summary):
        style = "green" if row[1] == "Completed" and row[6] == "0" and row[7] == "0" else "red"
        table.add_row(*row, style=style)
    console.print(table)
    for error in _errors(summary):
        console.print(f"[red]{error}[/red]")
