"""SQL text helpers shared by the loader and the search compiler."""
from __future__ import annotations


def sql_literal(value: str) -> str:
    """A DuckDB string literal for `value` (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"
