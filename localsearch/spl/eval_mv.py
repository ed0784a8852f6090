"""Multivalue eval functions (Search Reference, "Multivalue eval functions"): mvcount, mvindex, mvjoin, mvfilter,
mvappend, mvdedup. A single value counts as a multivalue of one; a multivalue with no values is null."""
from __future__ import annotations

from typing import Set

from .ast import EBinary, ECall, EField, ENot, EvalNode
from .errors import SplError
from .functions import Compiled, EvalContext, function
from .sql import Col

_depth = [0]


def nonempty(sql: str) -> str:
    return f"(CASE WHEN len({sql}) > 0 THEN {sql} END)"


@function("mvcount", 1)
def _mvcount(ctx: EvalContext, call: ECall) -> Compiled:
    # mvcount(X): the number of values of X; null when X has none
    values = ctx.as_list(call.args[0])
    return f"CAST((CASE WHEN len({values}) > 0 THEN len({values}) END) AS DOUBLE)", "num"


def _index(ctx: EvalContext, node: EvalNode, pos: int, n: str) -> str:
    """A 0-based Splunk index (negative: from the end) as a 1-based DuckDB index."""
    i = f"CAST(trunc({ctx.number(node, pos, 'mvindex()')}) AS BIGINT)"
    return f"(CASE WHEN {i} < 0 THEN {n} + {i} + 1 ELSE {i} + 1 END)"


@function("mvindex", 2, 3)
def _mvindex(ctx: EvalContext, call: ECall) -> Compiled:
    # mvindex(X, start[, end]): the value at 0-based start, or the values from start to end inclusive;
    # negative indexes count from the end; a start outside the values gives null
    values = ctx.as_list(call.args[0])
    n = f"len({values})"
    start = _index(ctx, call.args[1], call.pos, n)
    if len(call.args) == 2:
        return f"(CASE WHEN {start} BETWEEN 1 AND {n} THEN {values}[{start}] END)", "any"
    end = _index(ctx, call.args[2], call.pos, n)
    return (f"(CASE WHEN {start} BETWEEN 1 AND {n} AND {end} >= {start} "
            f"THEN list_slice({values}, {start}, least({end}, {n})) END)"), "list"


@function("mvjoin", 2)
def _mvjoin(ctx: EvalContext, call: ECall) -> Compiled:
    # mvjoin(X, delim): the values of X joined with delim
    values = ctx.as_list(call.args[0])
    return f"array_to_string({nonempty(values)}, {ctx.text(call.args[1], call.pos)})", "str"


@function("mvappend", 1, None)
def _mvappend(ctx: EvalContext, call: ECall) -> Compiled:
    # mvappend(X, ...): all values of all arguments in order (null arguments add none)
    parts = [f"COALESCE({ctx.as_list(a)}, CAST([] AS VARCHAR[]))" for a in call.args]
    joined = parts[0]
    for p in parts[1:]:
        joined = f"list_concat({joined}, {p})"
    return nonempty(joined), "list"


@function("mvdedup", 1)
def _mvdedup(ctx: EvalContext, call: ECall) -> Compiled:
    # mvdedup(X): the values of X without repeats, first occurrences in order
    values = ctx.as_list(call.args[0])
    return nonempty(f"list_filter({values}, lambda v, i: list_position({values}, v) = i)"), "list"


def fields_of(node: EvalNode, out: Set[str]) -> Set[str]:
    if isinstance(node, EField):
        out.add(node.name)
    elif isinstance(node, EBinary):
        fields_of(node.left, out)
        fields_of(node.right, out)
    elif isinstance(node, ENot):
        fields_of(node.item, out)
    elif isinstance(node, ECall):
        for a in node.args:
            fields_of(a, out)
    return out


@function("mvfilter", 1)
def _mvfilter(ctx: EvalContext, call: ECall) -> Compiled:
    # mvfilter(X): the values of the one field X refers to for which X is TRUE; none: null
    names = fields_of(call.args[0], set())
    if len(names) != 1:
        raise SplError(f"mvfilter() must refer to exactly one field, got {len(names)}", call.pos)
    name = names.pop()
    values = ctx.as_list(EField(name, call.pos))
    _depth[0] += 1
    var = f"__mvf{_depth[0]}"
    try:
        cond = ctx.bound(name, Col(name, var, "VARCHAR")).condition(call.args[0], call.pos, "mvfilter()")
    finally:
        _depth[0] -= 1
    return nonempty(f"list_filter({values}, lambda {var}: COALESCE({cond}, FALSE))"), "list"
