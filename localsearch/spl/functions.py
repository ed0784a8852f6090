"""The eval functions the local runner implements: one registry entry per function.

An entry carries the function's name, its argument count and its SQL. The parser (eval_expr.py) checks the
argument count from the entry; the compiler (eval_sql.py) calls the entry's `sql` with the call node and an
`EvalContext` that compiles the arguments. A function not registered here is refused as
`unsupported in local runs: eval function name()`.

To add a function: write `@function("name", min_args, max_args)` over a function
`(ctx: EvalContext, call: ECall) -> (sql, kind)` below (or in a module imported at the end of this one). Kinds:
num, str, bool, any (text whose values may be numbers), list (multivalue), null. State the Splunk rule
(Search Reference, "Evaluation functions") in a comment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Protocol, Tuple

from .ast import ECall, EStr, EvalNode
from .errors import SplError
from .regex import check_regex

Compiled = Tuple[str, str]      # (SQL, kind)


class EvalContext(Protocol):
    def eval(self, node: EvalNode) -> Compiled: ...              # any value, lists included
    def scalar(self, node: EvalNode, pos: int) -> Compiled: ...  # refuses multivalue
    def text(self, node: EvalNode, pos: int) -> str: ...         # scalar rendered as Splunk text
    def like(self, left: EvalNode, right: EvalNode, pos: int) -> str: ...


@dataclass(frozen=True)
class EvalFunction:
    name: str
    min_args: int
    max_args: Optional[int]          # None: any number
    sql: Callable[[EvalContext, ECall], Compiled]

    def check_arity(self, typed: str, n: int, pos: int) -> None:
        if self.max_args == self.min_args and n != self.min_args:
            raise SplError(f"{typed}() takes {self.min_args} argument(s), got {n}", pos)
        if n < self.min_args:
            raise SplError(f"{typed}() needs at least {self.min_args} argument(s), got {n}", pos)
        if self.max_args is not None and n > self.max_args:
            raise SplError(f"{typed}() takes at most {self.max_args} argument(s), got {n}", pos)


FUNCTIONS: Dict[str, EvalFunction] = {}


def function(name: str, min_args: int, max_args: Optional[int] = -1) -> Callable:
    """Registers an eval function; max_args -1 means exactly min_args, None means any number."""
    def deco(fn: Callable[[EvalContext, ECall], Compiled]) -> Callable[[EvalContext, ECall], Compiled]:
        if name in FUNCTIONS:
            raise ValueError(f"eval function {name} registered twice")
        FUNCTIONS[name] = EvalFunction(name, min_args, min_args if max_args == -1 else max_args, fn)
        return fn
    return deco


# ---- the functions -----------------------------------------------------------------------------------
@function("true", 0)
def _true(ctx: EvalContext, call: ECall) -> Compiled:
    return "TRUE", "bool"


@function("false", 0)
def _false(ctx: EvalContext, call: ECall) -> Compiled:
    return "FALSE", "bool"


def _null_test(ctx: EvalContext, call: ECall) -> str:
    sql, kind = ctx.eval(call.args[0])
    return f"({sql} IS NULL OR len({sql}) = 0)" if kind == "list" else f"({sql} IS NULL)"


@function("isnull", 1)
def _isnull(ctx: EvalContext, call: ECall) -> Compiled:
    return _null_test(ctx, call), "bool"


@function("isnotnull", 1)
def _isnotnull(ctx: EvalContext, call: ECall) -> Compiled:
    return f"(NOT {_null_test(ctx, call)})", "bool"


@function("like", 2)
def _like(ctx: EvalContext, call: ECall) -> Compiled:
    return ctx.like(call.args[0], call.args[1], call.pos), "bool"


@function("match", 2)
def _match(ctx: EvalContext, call: ECall) -> Compiled:
    if isinstance(call.args[1], EStr):
        check_regex(call.args[1].value, call.pos)
    return f"regexp_matches({ctx.text(call.args[0], call.pos)}, {ctx.text(call.args[1], call.pos)})", "bool"


@function("lower", 1)
def _lower(ctx: EvalContext, call: ECall) -> Compiled:
    return f"lower({ctx.text(call.args[0], call.pos)})", "str"


@function("upper", 1)
def _upper(ctx: EvalContext, call: ECall) -> Compiled:
    return f"upper({ctx.text(call.args[0], call.pos)})", "str"


@function("len", 1)
def _len(ctx: EvalContext, call: ECall) -> Compiled:
    return f"length({ctx.text(call.args[0], call.pos)})", "num"



@function("isnum", 1)
def _isnum(ctx: EvalContext, call: ECall) -> Compiled:
    sql, kind = ctx.scalar(call.args[0], call.pos)
    if kind == "num":
        return "TRUE", "bool"
    return f"(TRY_CAST({sql} AS DOUBLE) IS NOT NULL)", "bool"


@function("isstr", 1)
def _isstr(ctx: EvalContext, call: ECall) -> Compiled:
    sql, kind = ctx.scalar(call.args[0], call.pos)
    if kind == "num":
        return "FALSE", "bool"
    return f"({sql} IS NOT NULL AND NOT (TRY_CAST({sql} AS DOUBLE) IS NOT NULL))", "bool"


@function("in", 2, None)
def _in(ctx: EvalContext, call: ECall) -> Compiled:
    values = [ctx.text(a, call.pos) for a in call.args[1:]]
    return f"({ctx.text(call.args[0], call.pos)} IN ({', '.join(values)}))", "bool"


@function("coalesce", 1, None)
def _coalesce(ctx: EvalContext, call: ECall) -> Compiled:
    return f"COALESCE({', '.join(ctx.text(a, call.pos) for a in call.args)})", "any"
