"""A benchmark schema: rows, BigQuery column types and the published keys (the ground truth).

Rows are plain dicts, not pyarrow/pandas: the project venv (.venv) has neither, and the
emulator load takes NDJSON anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ForeignKey:
    child_table: str
    child_columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]

    def key(self) -> tuple[str, frozenset[str], str, frozenset[str]]:
        """Order-insensitive identity used for scoring (composite column order does not count)."""
        return (self.child_table, frozenset(self.child_columns), self.parent_table, frozenset(self.parent_columns))

    def __str__(self) -> str:
        child, parent = ", ".join(self.child_columns), ", ".join(self.parent_columns)
        return f"{self.child_table}({child}) -> {self.parent_table}({parent})"


@dataclass
class Schema:
    name: str
    columns: dict[str, dict[str, str]]  # table -> column -> BigQuery type, parents first
    rows: dict[str, list[dict[str, Any]]]
    primary_keys: dict[str, tuple[str, ...]]
    foreign_keys: tuple[ForeignKey, ...]
    notes: str = ""
    orphans: dict[str, int] = field(default_factory=dict)  # documented real orphans per FK

    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())
