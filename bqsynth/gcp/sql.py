"""Quoting of BigQuery identifiers, shared by every module that writes SQL.

Synthetic copies keep the source's names, which may be reserved words or hold odd
characters, so every identifier is backtick-quoted.
"""

from __future__ import annotations

_FORBIDDEN_IN_TABLE_ID = ("`", "\n", "\r", "\\")


def quote_table(table_id: str) -> str:
    """``project.dataset.table`` as one backticked name.

    Quoting the whole id (rather than each part) keeps domain-scoped projects such as
    ``example.com:project`` intact, which splitting on dots would break.
    """
    if not table_id or any(ch in table_id for ch in _FORBIDDEN_IN_TABLE_ID):
        raise ValueError(f"not a valid BigQuery table id: {table_id!r}")
    return f"`{table_id}`"


def quote_column(path: str) -> str:
    """A column, or a dotted path into RECORD fields, with every part backticked."""
    if not path:
        raise ValueError("empty column name")
    return ".".join(quote_identifier(part) for part in path.split("."))


def quote_identifier(part: str) -> str:
    """One backtick-quoted identifier (a column or field name)."""
    if not part:
        raise ValueError("empty part in a dotted column path")
    return "`" + part.replace("\\", "\\\\").replace("`", "\\`") + "`"


def string_literal(text: str) -> str:
    """A SQL string literal (column paths and values may hold quotes and backslashes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
