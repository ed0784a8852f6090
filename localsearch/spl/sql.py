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
from .cidr import in_subnet_sql, ipv4_subnet
from .errors import SplError, Unsupported
from .numbers import DECIMAL, number_literal, sql_number
from .rawterms import term_sql
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


Resolver = Callable[[str, int], Optional[Col]]


# ---- search ----------------------------------------------------------------------------------------
def _matches(x: str, node: Compare) -> str:
    """Predicate on the text expression x for field=value: a CIDR value matches addresses in the subnet;
    otherwise equality with `*` wildcards, case-insensitive unless the value is CASE(...)."""
    subnet = ipv4_subnet(node.value, node.pos)
    if subnet is not None:
        return in_subnet_sql(x, *subnet)
    if "*" in node.value:
        fn = "like_escape" if node.case else "ilike_escape"
        return f"{fn}({x}, {lit(like_pattern(node.value))}, '\\')"
    if node.case:
        return f"({x} = {lit(node.value)})"
    return f"lower({x}) = lower({lit(node.value)})"


def _ordered(x: str, node: Compare) -> str:
    """field<value and the like: numeric when both are numbers, otherwise lexicographic."""
    num = number_literal(node.value, node.pos)
    if num is None:
        return f"({x} {node.op} {lit(node.value)})"
    return (f"(CASE WHEN regexp_full_match({x}, {lit(DECIMAL)}) THEN TRY_CAST({x} AS DOUBLE) {node.op} "
            f"{sql_number(num)} ELSE {x} {node.op} {lit(node.value)} END)")


def _compare_scalar(x: str, op: str, node: Compare) -> str:
    return _matches(x, node) if op == "=" else _ordered(x, node)


_OPERATOR_WORDS = {"or": "OR", "and": "AND", "not": "NOT", "in": "IN"}


def _term(node: Term, resolve: Resolver) -> str:
    raw = resolve("_raw", node.pos)
    if raw is None or raw.is_list:
        hint = ""
        if node.value in _OPERATOR_WORDS and not node.quoted:
            hint = (f"; lower-case {node.value} is a search term: the operator is upper case "
                    f"{_OPERATOR_WORDS[node.value]}")
        raise Unsupported(f"search term {node.value!r} without a field (full-text search of _raw, which the "
                          f"loaded events do not have){hint}", node.pos)
    return term_sql(text_of(raw.sql, raw.type), node.value, node.pos, case=node.case, exact=node.exact)


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
        return _term(node, resolve)
    if isinstance(node, Compare):
        return _compare(node, resolve)
    raise SplError(f"cannot compile {node!r}")


def _compare(node: Compare, resolve: Resolver) -> str:
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
        any_match = f"len(list_filter({col.sql}, lambda x: {_compare_scalar(inner, base, node)})) > 0"
        if op == "!=":
            return f"COALESCE({col.sql} IS NOT NULL AND len({col.sql}) > 0 AND NOT ({any_match}), FALSE)"
        return f"COALESCE({any_match}, FALSE)"
    x = text_of(col.sql, col.type)
    if op == "!=":
        return f"COALESCE({col.sql} IS NOT NULL AND NOT ({_matches(x, node)}), FALSE)"
    return f"COALESCE({_compare_scalar(x, op, node)}, FALSE)"


def resolver_for(cols: List[Col], missing: Optional[List[str]] = None) -> Resolver:
    by_name: Dict[str, Col] = {c.name: c for c in cols}

    def resolve(name: str, pos: int) -> Optional[Col]:
        col = by_name.get(name)
        if col is None and missing is not None and name not in missing:
            missing.append(name)
        return col

    return resolve


from .eval_sql import compile_eval, compile_where  # noqa: E402,F401  (re-export)
