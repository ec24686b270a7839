"""Leaf columns of a table plan: walking, replacing, and the facts advice depends on.

Advice is given per leaf column (``address.city``), while a ``TablePlan`` nests RECORD
fields inside ``RecordValue`` generators. These helpers are the one place that maps
between the two, so prompts, validation and application agree on paths.
"""

from __future__ import annotations

from bqsynth.models import (
    ArrayValue,
    ColumnPlan,
    ForeignKeyRef,
    GroupKey,
    LineNumber,
    RecordValue,
    SequenceKey,
    TablePlan,
    leaf_plans,
)
from bqsynth.semantics import IDENTIFYING_TYPES, SEMANTIC_TYPES


def replace_leaf(columns: list[ColumnPlan], path: str, new: ColumnPlan) -> list[ColumnPlan]:
    """A copy of ``columns`` with the leaf at ``path`` replaced (records rebuilt on the way down)."""
    head, _, rest = path.partition(".")
    replaced: list[ColumnPlan] = []
    found = False
    for column in columns:
        if column.name != head:
            replaced.append(column)
            continue
        found = True
        if not rest:
            replaced.append(new)
        elif isinstance(column.generator, RecordValue):
            fields = replace_leaf(column.generator.fields, rest, new)
            replaced.append(column.model_copy(update={"generator": RecordValue(fields=fields)}))
        else:
            raise KeyError(f"{path}: {head} is not a record")
    if not found:
        raise KeyError(f"no column {path!r}")
    return replaced


def in_array(table: TablePlan, path: str) -> bool:
    """Whether the leaf (or one of the records holding it) is REPEATED."""
    columns = table.schema_
    for part in path.split("."):
        column = next((c for c in columns if c.name == part), None)
        if column is None:
            return False
        if column.is_repeated:
            return True
        columns = column.fields
    return False


def key_paths(table: TablePlan) -> set[str]:
    """Leaves whose values are keys derived from row indices: never a per-column model choice."""
    return {
        path
        for path, column in leaf_plans(table.columns).items()
        if isinstance(column.generator, (SequenceKey, ForeignKeyRef, LineNumber, GroupKey))
        or (isinstance(column.generator, ArrayValue) and isinstance(column.generator.element, ForeignKeyRef))
    }


def table_key_column(table: TablePlan) -> str | None:
    """The column holding the table's own row-index key (the parent side of relationships)."""
    for path, column in leaf_plans(table.columns).items():
        if isinstance(column.generator, SequenceKey):
            return path
    return None


def is_identifying(column: ColumnPlan) -> bool:
    """Identifying by the plan's flag or by its semantic type; unknown meaning counts as identifying.

    Used for masking and for what a generator may copy: when in doubt, a column is treated as
    one whose values must not leave the source.
    """
    semantic = column.semantic_type
    return (
        column.identifying or semantic in IDENTIFYING_TYPES or semantic == "unknown" or semantic not in SEMANTIC_TYPES
    )
