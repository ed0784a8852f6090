"""Compiles search and eval expressions to DuckDB SQL over a relation whose fields are known.

Splunk field names are case-sensitive and DuckDB identifiers are not, so every field is addressed through a
`Col` (Splunk name -> SQL expression + DuckDB type); a field that does not exist is SQL NULL.
Values compare as Splunk compares them: in `search`, case-insensitively with `*` wildcards, as text (numbers
rendered the way Splunk renders them), any value of a multivalue field may match; `field!=v` needs the field
to exist, `NOT field=v` does not. In `where`, strings compare case-sensitively and numbers numerically.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from ..sqltext import sql_literal
from .errors import SplError, Unsupported
from .expr import (And, Compare, EBinary, EBool, ECall, EField, ENot, ENum, EStr, EvalNode, MatchAll, Not,
                   Or, SearchNode, Term)

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


# ---- eval (where) ----------------------------------------------------------------------------------
# kinds: num, str, bool, any (a text field whose values may be numbers), list, null
def compile_eval(node: EvalNode, resolve: Resolver) -> Tuple[str, str]:
    if isinstance(node, EStr):
        return lit(node.value), "str"
    if isinstance(node, ENum):
        return repr(node.value), "num"
    if isinstance(node, EBool):
        return ("TRUE" if node.value else "FALSE"), "bool"
    if isinstance(node, EField):
        col = resolve(node.name, node.pos)
        if col is None:
            return "CAST(NULL AS VARCHAR)", "null"
        if col.is_list:
            return col.sql, "list"
        if col.is_number:
            return col.sql, "num"
        if col.type == "BOOLEAN":
            return col.sql, "bool"
        return text_of(col.sql, col.type), "any"
    if isinstance(node, ENot):
        sql, kind = compile_eval(node.item, resolve)
        _need_bool(kind, "NOT")
        return f"(NOT {sql})", "bool"
    if isinstance(node, EBinary):
        if node.op in ("AND", "OR"):
            ls, lk = compile_eval(node.left, resolve)
            rs, rk = compile_eval(node.right, resolve)
            _need_bool(lk, node.op)
            _need_bool(rk, node.op)
            return f"({ls} {node.op} {rs})", "bool"
        if node.op == "LIKE":
            return _like(node.left, node.right, resolve, node.pos), "bool"
        return _comparison(node, resolve), "bool"
    if isinstance(node, ECall):
        return _call(node, resolve)
    raise SplError(f"cannot compile {node!r}")


def _need_bool(kind: str, where: str) -> None:
    if kind not in ("bool", "null"):
        raise SplError(f"{where} needs Boolean operands (comparisons or functions such as isnull())")


def _scalar(node: EvalNode, resolve: Resolver, pos: int) -> Tuple[str, str]:
    sql, kind = compile_eval(node, resolve)
    if kind == "list":
        name = node.name if isinstance(node, EField) else "a multivalue value"
        raise Unsupported(f"comparing multivalue field {name} in where", pos)
    return sql, kind


def _as_text(sql: str, kind: str) -> str:
    if kind == "num":
        return text_of(sql, "DOUBLE")
    if kind == "bool":
        return f"CAST({sql} AS VARCHAR)"
    return sql


def _comparison(node: EBinary, resolve: Resolver) -> str:
    ls, lk = _scalar(node.left, resolve, node.pos)
    rs, rk = _scalar(node.right, resolve, node.pos)
    op = "<>" if node.op == "!=" else node.op
    if "null" in (lk, rk):
        return "CAST(NULL AS BOOLEAN)"
    if lk == "num" and rk == "num":
        return f"({ls} {op} {rs})"
    if {lk, rk} == {"num", "any"}:
        a = ls if lk == "num" else f"TRY_CAST({ls} AS DOUBLE)"
        b = rs if rk == "num" else f"TRY_CAST({rs} AS DOUBLE)"
        return f"({a} {op} {b})"
    if lk == "any" and rk == "any":
        return (f"(CASE WHEN TRY_CAST({ls} AS DOUBLE) IS NOT NULL AND TRY_CAST({rs} AS DOUBLE) IS NOT NULL "
                f"THEN TRY_CAST({ls} AS DOUBLE) {op} TRY_CAST({rs} AS DOUBLE) ELSE {ls} {op} {rs} END)")
    return f"({_as_text(ls, lk)} {op} {_as_text(rs, rk)})"


def _like(left: EvalNode, right: EvalNode, resolve: Resolver, pos: int) -> str:
    ls, lk = _scalar(left, resolve, pos)
    rs, rk = _scalar(right, resolve, pos)
    return f"({_as_text(ls, lk)} LIKE {_as_text(rs, rk)})"


# PCRE constructs (Splunk's regex engine) that DuckDB's RE2 lacks: lookaround, backreferences, atomic groups,
# possessive quantifiers. Refused rather than matched differently.
_PCRE_ONLY = re.compile(r"\(\?(?:=|!|<=|<!|>)|\\[1-9]|\\g[{<\d]|\\k<|[*+?}]\+")


def check_regex(pattern: str, pos: int) -> None:
    """A match() pattern DuckDB can run as Splunk would: PCRE-only constructs are refused, bad syntax is an error."""
    found = _PCRE_ONLY.search(pattern)
    if found:
        raise Unsupported(f"regular expression construct {found.group(0)!r} in match() (PCRE only)", pos)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SplError(f"invalid regular expression {pattern!r} in match(): {exc}", pos) from None


def _call(node: ECall, resolve: Resolver) -> Tuple[str, str]:
    name = node.name
    if name in ("true", "false"):
        return ("TRUE" if name == "true" else "FALSE"), "bool"
    if name in ("isnull", "isnotnull"):
        sql, kind = compile_eval(node.args[0], resolve)
        if kind == "list":
            test = f"({sql} IS NULL OR len({sql}) = 0)"
        else:
            test = f"({sql} IS NULL)"
        return (test if name == "isnull" else f"(NOT {test})"), "bool"
    if name == "like":
        return _like(node.args[0], node.args[1], resolve, node.pos), "bool"
    if name == "match":
        if isinstance(node.args[1], EStr):
            check_regex(node.args[1].value, node.pos)
        ls, lk = _scalar(node.args[0], resolve, node.pos)
        rs, rk = _scalar(node.args[1], resolve, node.pos)
        return f"regexp_matches({_as_text(ls, lk)}, {_as_text(rs, rk)})", "bool"
    if name in ("lower", "upper"):
        sql, kind = _scalar(node.args[0], resolve, node.pos)
        return f"{name}({_as_text(sql, kind)})", "str"
    if name == "len":
        sql, kind = _scalar(node.args[0], resolve, node.pos)
        return f"length({_as_text(sql, kind)})", "num"
    if name in ("isnum", "isstr"):
        sql, kind = _scalar(node.args[0], resolve, node.pos)
        if kind == "num":
            return ("TRUE" if name == "isnum" else "FALSE"), "bool"
        isnum = f"(TRY_CAST({sql} AS DOUBLE) IS NOT NULL)"
        return (isnum if name == "isnum" else f"({sql} IS NOT NULL AND NOT {isnum})"), "bool"
    if name == "in":
        sql, kind = _scalar(node.args[0], resolve, node.pos)
        values = [_as_text(*_scalar(a, resolve, node.pos)) for a in node.args[1:]]
        return f"({_as_text(sql, kind)} IN ({', '.join(values)}))", "bool"
    if name == "coalesce":
        parts = [_as_text(*_scalar(a, resolve, node.pos)) for a in node.args]
        return f"COALESCE({', '.join(parts)})", "any"
    raise Unsupported(f"eval function {name}()", node.pos)


def compile_where(node: EvalNode, resolve: Resolver) -> str:
    sql, kind = compile_eval(node, resolve)
    if kind not in ("bool", "null"):
        raise SplError("the where command needs a Boolean expression (for example a comparison)")
    return f"COALESCE({sql}, FALSE)"


def resolver_for(cols: List[Col], missing: Optional[List[str]] = None) -> Resolver:
    by_name: Dict[str, Col] = {c.name: c for c in cols}

    def resolve(name: str, pos: int) -> Optional[Col]:
        col = by_name.get(name)
        if col is None and missing is not None and name not in missing:
            missing.append(name)
        return col

    return resolve
