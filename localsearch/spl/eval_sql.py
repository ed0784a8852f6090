"""Compiles eval expressions (`where`) to DuckDB SQL. Function calls go to their entry in functions.py.

Values compare as `where` compares them: strings case-sensitively, numbers numerically, a text field holding a
number against a number numerically; a comparison with a missing field is null (so neither it nor its NOT
keeps the result).
"""
from __future__ import annotations

from typing import Tuple

from .ast import EBinary, EBool, ECall, EField, ENot, ENum, EStr, EvalNode
from .errors import SplError, Unsupported
from .functions import FUNCTIONS, Compiled
from .numbers import sql_number
from .sql import Resolver, lit, text_of

# kinds: num, str, bool, any (a text field whose values may be numbers), list, null


class EvalCompiler:
    """Compiles eval expressions over the fields `resolve` knows (the EvalContext of functions.py)."""

    def __init__(self, resolve: Resolver):
        self.resolve = resolve

    def eval(self, node: EvalNode) -> Compiled:
        if isinstance(node, EStr):
            return lit(node.value), "str"
        if isinstance(node, ENum):
            return sql_number(node.value), "num"
        if isinstance(node, EBool):
            return ("TRUE" if node.value else "FALSE"), "bool"
        if isinstance(node, EField):
            return self._field(node)
        if isinstance(node, ENot):
            sql, kind = self.eval(node.item)
            _need_bool(kind, "NOT")
            return f"(NOT {sql})", "bool"
        if isinstance(node, EBinary):
            if node.op in ("AND", "OR"):
                ls, lk = self.eval(node.left)
                rs, rk = self.eval(node.right)
                _need_bool(lk, node.op)
                _need_bool(rk, node.op)
                return f"({ls} {node.op} {rs})", "bool"
            if node.op == "LIKE":
                return self.like(node.left, node.right, node.pos), "bool"
            return self._comparison(node), "bool"
        if isinstance(node, ECall):
            spec = FUNCTIONS.get(node.name)
            if spec is None:
                raise Unsupported(f"eval function {node.name}()", node.pos)
            return spec.sql(self, node)
        raise SplError(f"cannot compile {node!r}")

    def _field(self, node: EField) -> Compiled:
        col = self.resolve(node.name, node.pos)
        if col is None:
            return "CAST(NULL AS VARCHAR)", "null"
        if col.is_list:
            return col.sql, "list"
        if col.is_number:
            return col.sql, "num"
        if col.type == "BOOLEAN":
            return col.sql, "bool"
        return text_of(col.sql, col.type), "any"

    def scalar(self, node: EvalNode, pos: int) -> Compiled:
        sql, kind = self.eval(node)
        if kind == "list":
            name = node.name if isinstance(node, EField) else "a multivalue value"
            raise Unsupported(f"comparing multivalue field {name} in where", pos)
        return sql, kind

    def text(self, node: EvalNode, pos: int) -> str:
        return as_text(*self.scalar(node, pos))

    def like(self, left: EvalNode, right: EvalNode, pos: int) -> str:
        return f"({self.text(left, pos)} LIKE {self.text(right, pos)})"

    def _comparison(self, node: EBinary) -> str:
        ls, lk = self.scalar(node.left, node.pos)
        rs, rk = self.scalar(node.right, node.pos)
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
        return f"({as_text(ls, lk)} {op} {as_text(rs, rk)})"


def _need_bool(kind: str, where: str) -> None:
    if kind not in ("bool", "null"):
        raise SplError(f"{where} needs Boolean operands (comparisons or functions such as isnull())")


def as_text(sql: str, kind: str) -> str:
    if kind == "num":
        return text_of(sql, "DOUBLE")
    if kind == "bool":
        return f"CAST({sql} AS VARCHAR)"
    return sql


def compile_eval(node: EvalNode, resolve: Resolver) -> Tuple[str, str]:
    return EvalCompiler(resolve).eval(node)


def compile_where(node: EvalNode, resolve: Resolver) -> str:
    sql, kind = compile_eval(node, resolve)
    if kind not in ("bool", "null"):
        raise SplError("the where command needs a Boolean expression (for example a comparison)")
    return f"COALESCE({sql}, FALSE)"
