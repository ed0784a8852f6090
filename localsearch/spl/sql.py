"""Compiles search expressions to DuckDB SQL (eval expressions: eval_sql.py) over a relation whose fields are known.

Splunk field names are case-sensitive and DuckDB identifiers are not, so every field is addressed through a
`Col` (Splunk name -> SQL expression + DuckDB type); a field that does not exist is SQL NULL.
Values compare as Splunk compares them: in `search`, case-insensitively with `*` wildcards, as text (numbers
rendered the way Splunk renders them), any value of a multivalue field may match; `field!=v` needs the field
to exist, `NOT field=v` does not. In `where`, strings compare case-sensitively and numbers numerically.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from ..sqltext import sql_literal
from .errors import SplError, Unsupported
from .ast import And, Compare, MatchAll, Not, Or, SearchNode, Term

INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"}
FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}


@dataclass(frozen=True)
class Col:
    name: str       # Splunk field name
    sql: str        # SQL expression over the current relation (usually a quoted column)
    type: str       # DuckDB type, e.g. VARCHAR, DOUBLE, BIGINT, VARCHAR[]

    @property
    def is_list(self) -> bool:
        return self.type.endswith("[]")

    @property
    def is_number(self) -> bool:
        return self.type in INT_TYPES or self.type in FLOAT_TYPES or self.type.startswith("DECIMAL")


lit = sql_literal


def text_of(sql: str, type_: str) -> str:
    """SQL rendering a scalar value as Splunk shows it (integral doubles without '.0')."""
    if type_ == "VARCHAR":
        return sql
    if type_ in FLOAT_TYPES or type_.startswith("DECIMAL"):
        return (f"(CASE WHEN {sql} = trunc({sql}) AND abs({sql}) < 1e15 "
                f"THEN CAST(CAST({sql} AS BIGINT) AS VARCHAR) ELSE CAST({sql} AS VARCHAR) END)")
    return f"CAST({sql} AS VARCHAR)"


def like_pattern(value: str) -> str:
    """Splunk wildcard value -> LIKE pattern with `\\` as escape character."""
    out = []
    for ch in value:
        if ch in "\\%_":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        else:
            out.append(ch)
    return "".join(out)


def _number(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


Resolver = Callable[[str, int], Optional[Col]]


# ---- search ----------------------------------------------------------------------------------------
def _value_match(x: str, value: str) -> str:
    """Predicate on the text expression x: case-insensitive equality with `*` wildcards."""
    if "*" in value:
        return f"ilike_escape({x}, {lit(like_pattern(value))}, '\\')"
    return f"lower({x}) = lower({lit(value)})"


def _compare_scalar(x: str, op: str, value: str) -> str:
    if op == "=":
        return _value_match(x, value)
    num = _number(value)
    if num is not None:
        return f"TRY_CAST({x} AS DOUBLE) {op} {num!r}"
    return f"{x} {op} {lit(value)}"


def compile_search(node: SearchNode, resolve: Resolver) -> str:
    """SQL boolean (never NULL) for a search expression."""
    if isinstance(node, MatchAll):
        return "TRUE"
    if isinstance(node, And):
        return "(" + " AND ".join(compile_search(n, resolve) for n in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(compile_search(n, resolve) for n in node.items) + ")"
    if isinstance(node, Not):
        return f"(NOT {compile_search(node.item, resolve)})"
    if isinstance(node, Term):
        raise Unsupported(f"search term {node.value!r} without a field (full-text search of _raw)", node.pos)
    if isinstance(node, Compare):
        col = resolve(node.field, node.pos)
        if col is None:
            return "FALSE"   # a field that does not exist matches neither field=v nor field!=v
        op = node.op
        if op == "=" and node.value == "*":
            if col.is_list:
                return f"({col.sql} IS NOT NULL AND len({col.sql}) > 0)"
            return f"({col.sql} IS NOT NULL)"
        if col.is_list:
            inner = "x" if col.type == "VARCHAR[]" else text_of("x", col.type[:-2])
            base = "=" if op == "!=" else op
            any_match = f"len(list_filter({col.sql}, lambda x: {_compare_scalar(inner, base, node.value)})) > 0"
            if op == "!=":
                return f"COALESCE({col.sql} IS NOT NULL AND len({col.sql}) > 0 AND NOT ({any_match}), FALSE)"
            return f"COALESCE({any_match}, FALSE)"
        x = text_of(col.sql, col.type)
        if op == "!=":
            return f"COALESCE({col.sql} IS NOT NULL AND NOT ({_value_match(x, node.value)}), FALSE)"
        return f"COALESCE({_compare_scalar(x, op, node.value)}, FALSE)"
    raise SplError(f"cannot compile {node!r}")


def resolver_for(cols: List[Col], missing: Optional[List[str]] = None) -> Resolver:
    by_name: Dict[str, Col] = {c.name: c for c in cols}

    def resolve(name: str, pos: int) -> Optional[Col]:
        col = by_name.get(name)
        if col is None and missing is not None and name not in missing:
            missing.append(name)
        return col

    return resolve


from .eval_sql import compile_eval, compile_where  # noqa: E402,F401  (re-export)
