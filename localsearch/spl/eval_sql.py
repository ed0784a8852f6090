"""Compiles eval expressions (`eval`, `where`) to DuckDB SQL. Function calls go to their entry in functions.py.

Splunk rules followed (Search Reference, "eval", "where", "Evaluation functions"):
- A field value that looks like a decimal number is a number (`x > 5`, `x + 1`); other values are strings.
- `+` adds two numbers or concatenates two strings ("Typechecking failed" for a literal string and a number; a
  number and a string met in the data are refused);
  `- * / %` take numbers; `.` concatenates, numbers in their text form. Any operand null: the result is null.
  A value that is not a number in arithmetic gives null.
- Comparisons: numbers numerically, strings case-sensitively as text, a number-looking field against a number
  numerically; with a null operand the comparison is null, so neither it nor its NOT keeps a result in `where`.
- An eval result cannot be a Boolean; a null result leaves the field without a value.
- A multivalue field where a single value is needed: a field with one value is that value; with more, the search
  is refused when such a value is met (`unsupported in local runs: multivalue ...`).

Kinds: num, str, bool, any (text that may hold a number), list (multivalue, VARCHAR[]), null.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

from .ast import EBinary, EBool, ECall, EField, ENot, ENum, EStr, EvalNode
from .errors import SplError, Unsupported
from .functions import FUNCTIONS, Compiled
from .numbers import DECIMAL, sql_number
from .sql import Col, Resolver, lit, text_of

NUMBER_RE = DECIMAL
_NUMBER = re.compile(NUMBER_RE)
_LIKE_ESCAPE = re.compile(r"\\[%_\\]")
NULL_TEXT = "CAST(NULL AS VARCHAR)"
NULL_NUM = "CAST(NULL AS DOUBLE)"
UNSUPPORTED = "unsupported in local runs: "


def looks_numeric(sql: str) -> str:
    return f"regexp_full_match({sql}, {lit(NUMBER_RE)})"


def number_of(sql: str) -> str:
    """A text value as a number when it looks like a decimal number, else null (no '1_000', ' 1', 'inf')."""
    return f"(CASE WHEN {looks_numeric(sql)} THEN CAST({sql} AS DOUBLE) END)"


def as_text(sql: str, kind: str) -> str:
    if kind == "num":
        return text_of(sql, "DOUBLE")
    if kind == "bool":
        raise SplError("a Boolean value where a string or number is needed (use if(<condition>, ..., ...))")
    if kind == "list":
        raise SplError("internal: multivalue value as text")
    if kind == "null":
        return NULL_TEXT
    return sql


def runtime_refusal(what: str, count_sql: str) -> str:
    """SQL raising `unsupported in local runs: <what>` for a row that reaches it (DuckDB's error() with a
    row-dependent message, so it is not folded into a constant and raised for rows that never reach it)."""
    return f"error({lit(UNSUPPORTED + what + ' (a value with ')} || CAST({count_sql} AS VARCHAR) || ' values)')"


def text_list(sql: str, col_type: str) -> str:
    """A list column as VARCHAR[] (numbers rendered as Splunk renders them)."""
    if col_type == "VARCHAR[]":
        return sql
    return f"list_transform({sql}, lambda v: {text_of('v', col_type[:-2])})"


class EvalCompiler:
    """Compiles eval expressions over the fields `resolve` knows (the EvalContext of functions.py)."""

    def __init__(self, resolve: Resolver):
        self.resolve = resolve

    def bound(self, name: str, col: Col) -> "EvalCompiler":
        """The same compiler with field `name` read from `col` (mvfilter's current value)."""
        outer = self.resolve
        return EvalCompiler(lambda n, p: col if n == name else outer(n, p))

    # ---- values -------------------------------------------------------------------------------------------
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
            self.need_bool(kind, "NOT")
            return f"(NOT {sql})", "bool"
        if isinstance(node, EBinary):
            return self._binary(node)
        if isinstance(node, ECall):
            spec = FUNCTIONS.get(node.name)
            if spec is None:
                raise Unsupported(f"eval function {node.name}()", node.pos)
            return spec.sql(self, node)
        raise SplError(f"cannot compile {node!r}")

    def _field(self, node: EField) -> Compiled:
        col = self.resolve(node.name, node.pos)
        if col is None:
            return NULL_TEXT, "null"
        if col.is_list:
            return text_list(col.sql, col.type), "list"
        if col.is_number:
            return f"CAST({col.sql} AS DOUBLE)", "num"
        if col.type == "BOOLEAN":
            return col.sql, "bool"
        return text_of(col.sql, col.type), "any"

    def scalar(self, node: EvalNode, pos: int) -> Compiled:
        """A single value: a multivalue value with one value is that value; with more it is refused."""
        sql, kind = self.eval(node)
        if kind != "list":
            return sql, kind
        name = f"field {node.name}" if isinstance(node, EField) else "value"
        refuse = runtime_refusal(f"multivalue {name} where a single value is needed", f"len({sql})")
        return (f"(CASE WHEN {sql} IS NULL OR len({sql}) = 0 THEN {NULL_TEXT} WHEN len({sql}) = 1 THEN {sql}[1] "
                f"ELSE {refuse} END)"), "any"

    def text(self, node: EvalNode, pos: int) -> str:
        return as_text(*self.scalar(node, pos))

    def number(self, node: EvalNode, pos: int, what: str = "this function") -> str:
        """A numeric argument: numbers, number-looking text; a string literal is an error; other text is null."""
        sql, kind = self.scalar(node, pos)
        if kind == "num":
            return sql
        if kind == "null":
            return NULL_NUM
        if kind == "str" and isinstance(node, EStr):
            raise SplError(f"{what} needs a number, got the string {node.value!r}", pos)
        if kind == "bool":
            raise SplError(f"{what} needs a number, got a Boolean", pos)
        return number_of(sql)

    def condition(self, node: EvalNode, pos: int, what: str) -> str:
        sql, kind = self.eval(node)
        self.need_bool(kind, what, pos)
        return sql

    def like(self, left: EvalNode, right: EvalNode, pos: int) -> str:
        # like(): % any run of characters, _ one character (Search Reference, "Comparison and Conditional
        # functions"); the documentation names no escape character, so a backslash before %, _ or a backslash
        # (escape or literal?) is refused; any other backslash is itself (DuckDB's LIKE without ESCAPE)
        if isinstance(right, EStr):
            if _LIKE_ESCAPE.search(right.value):
                raise Unsupported(f"like pattern {right.value!r} with a backslash before %, _ or \\ (an escape "
                                  "or a literal backslash is not documented)", pos)
            return f"({self.text(left, pos)} LIKE {self.text(right, pos)})"
        pattern = self.text(right, pos)
        refuse = ("error('unsupported in local runs: like pattern with a backslash before %, _ or \\: ' || "
                  f"{pattern})")
        guarded = f"(CASE WHEN regexp_matches({pattern}, {lit(_LIKE_ESCAPE.pattern)}) THEN {refuse} ELSE {pattern} END)"
        return f"({self.text(left, pos)} LIKE {guarded})"

    @staticmethod
    def need_bool(kind: str, where: str, pos: Optional[int] = None) -> None:
        if kind not in ("bool", "null"):
            raise SplError(f"{where} needs a Boolean (a comparison or a function such as isnull())", pos)

    # ---- operators ------------------------------------------------------------------------------------------
    def _binary(self, node: EBinary) -> Compiled:
        op = node.op
        if op in ("AND", "OR", "XOR"):
            ls = self.condition(node.left, node.pos, op)
            rs = self.condition(node.right, node.pos, op)
            if op == "XOR":
                return f"({ls} <> {rs})", "bool"
            return f"({ls} {op} {rs})", "bool"
        if op == "LIKE":
            return self.like(node.left, node.right, node.pos), "bool"
        if op == ".":
            ls, lk = self.scalar(node.left, node.pos)
            rs, rk = self.scalar(node.right, node.pos)
            return f"({as_text(ls, lk)} || {as_text(rs, rk)})", "str"
        if op == "+":
            return self._plus(node)
        if op in ("-", "*", "/", "%"):
            a = self.number(node.left, node.pos, f"'{op}'")
            b = self.number(node.right, node.pos, f"'{op}'")
            if op == "/":
                return f"(CASE WHEN {b} = 0 THEN {NULL_NUM} ELSE {a} / {b} END)", "num"
            if op == "%":
                return f"(CASE WHEN {b} = 0 THEN {NULL_NUM} ELSE fmod({a}, {b}) END)", "num"
            return f"({a} {op} {b})", "num"
        return self._comparison(node), "bool"

    def _plus(self, node: EBinary) -> Compiled:
        ls, lk = self.scalar(node.left, node.pos)
        rs, rk = self.scalar(node.right, node.pos)
        if "bool" in (lk, rk):
            raise SplError("Typechecking failed. '+' only takes two strings or two numbers.", node.pos)
        if "null" in (lk, rk):
            return NULL_NUM, "null"
        if {lk, rk} == {"str", "num"}:
            raise SplError("Typechecking failed. '+' only takes two strings or two numbers.", node.pos)
        if lk == rk == "num":
            return f"({ls} + {rs})", "num"
        if lk == rk == "str":
            return f"({ls} || {rs})", "str"
        # a field whose values may be numbers: add when both are numbers, concatenate when both are strings
        a = ls if lk == "num" else number_of(ls)
        b = rs if rk == "num" else number_of(rs)
        ta, tb = as_text(ls, lk), as_text(rs, rk)
        na = "TRUE" if lk == "num" else ("FALSE" if lk == "str" else looks_numeric(ls))
        nb = "TRUE" if rk == "num" else ("FALSE" if rk == "str" else looks_numeric(rs))
        # a number and a string met at run time: not documented (null? concatenation?), refused when met
        mixed = ("error('unsupported in local runs: + of a number and a string (' || "
                 f"{ta} || ' + ' || {tb} || ')')")
        return (f"(CASE WHEN {ta} IS NULL OR {tb} IS NULL THEN NULL WHEN {na} AND {nb} THEN "
                f"{text_of(f'({a} + {b})', 'DOUBLE')} WHEN NOT {na} AND NOT {nb} THEN {ta} || {tb} "
                f"ELSE {mixed} END)"), "any"

    def _comparison(self, node: EBinary) -> str:
        ls, lk = self.scalar(node.left, node.pos)
        rs, rk = self.scalar(node.right, node.pos)
        op = "<>" if node.op == "!=" else node.op
        if "null" in (lk, rk):
            return "CAST(NULL AS BOOLEAN)"
        if "bool" in (lk, rk):
            if lk == rk and op in ("=", "<>"):
                return f"({ls} {op} {rs})"
            raise SplError(f"cannot compare a Boolean with {node.op}", node.pos)
        if lk == "num" and rk == "num":
            return f"({ls} {op} {rs})"
        literal = node.right if isinstance(node.right, EStr) else node.left if isinstance(node.left, EStr) else None
        if op not in ("=", "<>") and "any" in (lk, rk) and isinstance(literal, EStr) and \
                _NUMBER.fullmatch(literal.value):
            raise Unsupported(f"comparing a field with the quoted number \"{literal.value}\" by {node.op} "
                              "(as text or as numbers; write the number without quotes)", node.pos)
        if {lk, rk} == {"num", "any"}:
            a = ls if lk == "num" else number_of(ls)
            b = rs if rk == "num" else number_of(rs)
            return f"({a} {op} {b})"
        if lk == "any" and rk == "any":
            return (f"(CASE WHEN {looks_numeric(ls)} AND {looks_numeric(rs)} "
                    f"THEN {number_of(ls)} {op} {number_of(rs)} ELSE {ls} {op} {rs} END)")
        return f"({as_text(ls, lk)} {op} {as_text(rs, rk)})"

    # ---- helpers for functions -------------------------------------------------------------------------------
    def as_list(self, node: EvalNode) -> str:
        """Any value as a VARCHAR[] (a single value is a list of one, null is null)."""
        sql, kind = self.eval(node)
        if kind == "list":
            return sql
        if kind == "null":
            return "CAST(NULL AS VARCHAR[])"
        text = as_text(sql, kind)
        return f"(CASE WHEN {text} IS NULL THEN CAST(NULL AS VARCHAR[]) ELSE [{text}] END)"

    def unify(self, branches: Sequence[Compiled], pos: int) -> Tuple[List[str], str]:
        """Results of if/case/coalesce branches in one SQL type, and the kind of the whole."""
        kinds = {k for _, k in branches if k != "null"}
        if not kinds:
            return [NULL_TEXT for _ in branches], "null"
        if kinds == {"bool"}:
            return [s if k == "bool" else "CAST(NULL AS BOOLEAN)" for s, k in branches], "bool"
        if "bool" in kinds:
            raise SplError("a Boolean value mixed with other values (use if(<condition>, ..., ...))", pos)
        if "list" in kinds:
            out = []
            for s, k in branches:
                out.append(s if k == "list" else "CAST(NULL AS VARCHAR[])" if k == "null" else
                           f"(CASE WHEN {as_text(s, k)} IS NULL THEN CAST(NULL AS VARCHAR[]) ELSE [{as_text(s, k)}] END)")
            return out, "list"
        if kinds == {"num"}:
            return [s if k == "num" else NULL_NUM for s, k in branches], "num"
        kind = "str" if kinds == {"str"} else "any"
        return [as_text(s, k) for s, k in branches], kind


def compile_eval(node: EvalNode, resolve: Resolver) -> Tuple[str, str]:
    return EvalCompiler(resolve).eval(node)


def compile_where(node: EvalNode, resolve: Resolver) -> str:
    sql, kind = compile_eval(node, resolve)
    if kind not in ("bool", "null"):
        raise SplError("the where command needs a Boolean expression (for example a comparison)")
    return f"COALESCE({sql}, FALSE)"


from . import eval_cond, eval_mv, eval_text, eval_time  # noqa: E402,F401  (function registration)
