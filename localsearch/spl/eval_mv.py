"""Multivalue eval functions (Search Reference, "Multivalue eval functions"): mvcount, mvindex, mvjoin, mvfilter,
mvappend, mvdedup, mvfind, mvsort, mvzip; and max, min ("Statistical eval functions"). A single value counts as a multivalue of one; a multivalue with no values is null."""
from __future__ import annotations

from typing import Set

from .ast import EBinary, ECall, EField, ENot, EvalNode
from .errors import SplError
from .eval_sql import looks_numeric
from .functions import Compiled, EvalContext, function, literal_text
from .regex import guarded_subject, to_re2
from .sql import Col, lit, text_of

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


@function("mvfind", 2)
def _mvfind(ctx: EvalContext, call: ECall) -> Compiled:
    # mvfind(X, "regex"): the 0-based index of the first value of X the regex matches; none: null
    rx = to_re2(literal_text(call, 1, "regular expression"), call.pos, "mvfind()")
    values = ctx.as_list(call.args[0])
    hits = f"list_transform({values}, lambda v: regexp_matches({guarded_subject('v', rx, 'mvfind()')}, {lit(rx.pattern)}))"
    return f"CAST(nullif(list_position({hits}, TRUE), 0) - 1 AS DOUBLE)", "num"


@function("mvsort", 1)
def _mvsort(ctx: EvalContext, call: ECall) -> Compiled:
    # mvsort(X): the values of X in lexicographic order
    return f"list_sort({ctx.as_list(call.args[0])})", "list"


@function("mvzip", 2, 3)
def _mvzip(ctx: EvalContext, call: ECall) -> Compiled:
    # mvzip(X, Y[, "delim"]): the n-th values of X and Y joined by delim (default ","); X and Y with different
    # numbers of values are refused when met
    x, y = ctx.as_list(call.args[0]), ctx.as_list(call.args[1])
    delim = ctx.text(call.args[2], call.pos) if len(call.args) > 2 else "','"
    refuse = ("error('unsupported in local runs: mvzip() of fields with different numbers of values (' || "
              f"CAST(len({x}) AS VARCHAR) || ' and ' || CAST(len({y}) AS VARCHAR) || ')')")
    zipped = f"list_transform(list_zip({x}, {y}), lambda p: p[1] || {delim} || p[2])"
    return f"(CASE WHEN {x} IS NULL OR {y} IS NULL THEN NULL WHEN len({x}) <> len({y}) THEN {refuse} ELSE {zipped} END)", "list"


def _extreme(ctx: EvalContext, call: ECall, fn: str) -> Compiled:
    # max(X, ...) / min(X, ...): over all values of all arguments (multivalue too); values that look like numbers
    # compare as numbers, "strings are greater than numbers", strings compare lexicographically
    parts = [f"COALESCE({ctx.as_list(a)}, CAST([] AS VARCHAR[]))" for a in call.args]
    values = parts[0]
    for p in parts[1:]:
        values = f"list_concat({values}, {p})"
    nums = f"list_transform(list_filter({values}, lambda v: {looks_numeric('v')}), lambda v: CAST(v AS DOUBLE))"
    strs = f"list_filter({values}, lambda v: NOT {looks_numeric('v')})"
    num = text_of(f"list_{fn}({nums})", "DOUBLE")
    first, second = ((strs, f"list_max({strs})"), (nums, num)) if fn == "max" else ((nums, num), (strs, f"list_min({strs})"))
    return (f"(CASE WHEN len({first[0]}) > 0 THEN {first[1]} WHEN len({second[0]}) > 0 THEN {second[1]} END)"), "any"


@function("max", 1, None)
def _max(ctx: EvalContext, call: ECall) -> Compiled:
    return _extreme(ctx, call, "max")


@function("min", 1, None)
def _min(ctx: EvalContext, call: ECall) -> Compiled:
    return _extreme(ctx, call, "min")
