"""Text, conversion and mathematical eval functions (Search Reference, "Text functions", "Conversion functions",
"Mathematical functions"): len, lower, upper, substr, replace, trim, ltrim, rtrim, split, tonumber, tostring,
round, abs, floor, ceil, sqrt, pow, exp, ln, log."""
from __future__ import annotations

from typing import Callable

from .ast import ECall
from .errors import SplError, Unsupported
from .eval_sql import NULL_TEXT, number_of
from .functions import Compiled, EvalContext, function, literal_int, literal_text
from .regex import guarded_subject, to_re2
from .sql import lit, text_of


@function("len", 1)
def _len(ctx: EvalContext, call: ECall) -> Compiled:
    # len(X): the number of characters
    return f"CAST(length({ctx.text(call.args[0], call.pos)}) AS DOUBLE)", "num"


@function("lower", 1)
def _lower(ctx: EvalContext, call: ECall) -> Compiled:
    return f"lower({ctx.text(call.args[0], call.pos)})", "str"


@function("upper", 1)
def _upper(ctx: EvalContext, call: ECall) -> Compiled:
    return f"upper({ctx.text(call.args[0], call.pos)})", "str"


@function("substr", 2, 3)
def _substr(ctx: EvalContext, call: ECall) -> Compiled:
    # substr(X, Y[, Z]): SQLite semantics: Y starts at 1, a negative Y counts from the end; Z characters
    # (all the rest without Z). DuckDB's substring follows the same rules; a negative Z is refused.
    text = ctx.text(call.args[0], call.pos)
    start = f"CAST(trunc({ctx.number(call.args[1], call.pos, 'substr()')}) AS BIGINT)"
    if len(call.args) == 2:
        return f"substring({text}, {start})", "str"
    length = ctx.number(call.args[2], call.pos, "substr()")
    return (f"(CASE WHEN {length} < 0 THEN error('unsupported in local runs: substr() with a negative length ' || "
            f"CAST({length} AS VARCHAR)) ELSE substring({text}, {start}, CAST(trunc({length}) AS BIGINT)) END)"), "str"


def _rewrite(repl: str, groups: int, pos: int) -> str:
    """A replace() replacement as RE2 reads it: \\\\1..\\\\9 are the groups, \\\\\\\\ a backslash."""
    out, i = [], 0
    while i < len(repl):
        c = repl[i]
        if c == "\\" and i + 1 < len(repl):
            e = repl[i + 1]
            if e.isdigit():
                if int(e) > groups:
                    raise SplError(f"replace(): \\{e} refers to a group the regular expression does not have", pos)
                out.append(repl[i:i + 2])
            elif e == "\\":
                out.append("\\\\")
            else:
                raise Unsupported(f"replace() replacement escape \\{e}", pos)
            i += 2
            continue
        out.append("\\\\" if c == "\\" else c)
        i += 1
    return "".join(out)


@function("replace", 3)
def _replace(ctx: EvalContext, call: ECall) -> Compiled:
    # replace(X, Y, Z): every match of regex Y in X replaced by Z, where \1 .. \9 are Y's groups
    rx = to_re2(literal_text(call, 1, "regular expression"), call.pos, "replace()")
    repl = _rewrite(literal_text(call, 2, "replacement"), rx.groups, call.pos)
    subject = guarded_subject(ctx.text(call.args[0], call.pos), rx, "replace()")
    return f"regexp_replace({subject}, {lit(rx.pattern)}, {lit(repl)}, 'g')", "str"


def _trim(fn: str) -> Callable[[EvalContext, ECall], Compiled]:
    def compile_(ctx: EvalContext, call: ECall) -> Compiled:
        # trim(X[, Y]): the characters in Y removed from the side(s) of X; without Y, spaces and tabs
        chars = ctx.text(call.args[1], call.pos) if len(call.args) > 1 else lit(" \t")
        return f"{fn}({ctx.text(call.args[0], call.pos)}, {chars})", "str"
    return compile_


function("trim", 1, 2)(_trim("trim"))
function("ltrim", 1, 2)(_trim("ltrim"))
function("rtrim", 1, 2)(_trim("rtrim"))


@function("split", 2)
def _split(ctx: EvalContext, call: ECall) -> Compiled:
    # split(X, "delim"): a multivalue of the parts between delimiters (empty parts kept); "" splits characters
    text = ctx.text(call.args[0], call.pos)
    return f"string_split({text}, {ctx.text(call.args[1], call.pos)})", "list"


@function("tonumber", 1, 2)
def _tonumber(ctx: EvalContext, call: ECall) -> Compiled:
    # tonumber(X[, base]): X as a number in base 2..36 (default 10); null when X is not one
    sql, kind = ctx.scalar(call.args[0], call.pos)
    base = literal_int(call, 1, "base") if len(call.args) > 1 else 10
    if not 2 <= base <= 36:
        raise SplError(f"tonumber(): base must be between 2 and 36, got {base}", call.pos)
    if kind == "num":
        return sql, "num"
    if kind in ("null", "bool"):
        return "CAST(NULL AS DOUBLE)", "null" if kind == "null" else "num"
    if base == 10:
        return number_of(sql), "num"
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:base]
    body = f"ltrim({sql}, '-')"
    value = (f"list_reduce(list_transform(string_split(upper({body}), ''), lambda d: "
             f"CAST(instr({lit(digits)}, d) - 1 AS DOUBLE)), lambda a, b: a * {base} + b)")
    valid = f"regexp_full_match(upper({sql}), {lit('-?[' + digits + ']+')})"
    return f"(CASE WHEN {valid} THEN (CASE WHEN prefix({sql}, '-') THEN -1 ELSE 1 END) * {value} END)", "num"


@function("tostring", 1, 2)
def _tostring(ctx: EvalContext, call: ECall) -> Compiled:
    # tostring(X[, "hex"|"commas"|"duration"]): a number as text: hex "0x..", commas with two decimals when it has
    # decimals, duration as [D+]HH:MM:SS; a Boolean as True/False; text unchanged
    sql, kind = ctx.scalar(call.args[0], call.pos)
    fmt = literal_text(call, 1, "format") if len(call.args) > 1 else None
    if kind == "bool":
        return f"(CASE WHEN {sql} THEN 'True' WHEN NOT {sql} THEN 'False' END)", "str"
    if kind == "null":
        return NULL_TEXT, "null"
    if fmt is None:
        return (text_of(sql, "DOUBLE") if kind == "num" else sql), ("str" if kind != "any" else "any")
    num = sql if kind == "num" else number_of(sql)
    if fmt in ("hex", "duration"):
        # a value with a fraction: how Splunk renders it is not documented; refused when met
        fraction = (f"error('unsupported in local runs: tostring(X, \"{fmt}\") of a number with a fraction: ' || "
                    f"CAST({num} AS VARCHAR))")
        num = f"(CASE WHEN {num} <> trunc({num}) THEN {fraction} ELSE {num} END)"
    if fmt == "hex":
        negative = ("error('unsupported in local runs: tostring(X, \"hex\") of a negative number: ' || "
                    f"CAST({num} AS VARCHAR))")
        return f"(CASE WHEN {num} < 0 THEN {negative} ELSE '0x' || upper(hex(CAST({num} AS BIGINT))) END)", "str"
    if fmt == "commas":
        return (f"(CASE WHEN {num} = trunc({num}) THEN format('{{:,}}', CAST({num} AS BIGINT)) "
                f"ELSE format('{{:,.2f}}', {num}) END)"), "str"
    if fmt == "duration":
        secs = f"CAST(trunc({num}) AS BIGINT)"
        hms = (f"lpad(CAST(({secs} % 86400) // 3600 AS VARCHAR), 2, '0') || ':' || "
               f"lpad(CAST(({secs} % 3600) // 60 AS VARCHAR), 2, '0') || ':' || lpad(CAST({secs} % 60 AS VARCHAR), 2, '0')")
        return (f"(CASE WHEN {num} < 0 THEN NULL WHEN {secs} >= 86400 THEN CAST({secs} // 86400 AS VARCHAR) || '+' || "
                f"{hms} ELSE {hms} END)"), "str"
    raise Unsupported(f"tostring() format {fmt!r}", call.pos)


@function("round", 1, 2)
def _round(ctx: EvalContext, call: ECall) -> Compiled:
    # round(X[, Y]): X rounded to Y decimal places (default 0), halves away from zero
    digits = literal_int(call, 1, "number of decimal places") if len(call.args) > 1 else 0
    return f"round({ctx.number(call.args[0], call.pos, 'round()')}, {digits})", "num"


@function("abs", 1)
def _abs(ctx: EvalContext, call: ECall) -> Compiled:
    return f"abs({ctx.number(call.args[0], call.pos, 'abs()')})", "num"




@function("floor", 1)
def _floor(ctx: EvalContext, call: ECall) -> Compiled:
    return f"floor({ctx.number(call.args[0], call.pos, 'floor()')})", "num"


def _ceil(ctx: EvalContext, call: ECall) -> Compiled:
    return f"ceil({ctx.number(call.args[0], call.pos, 'ceil()')})", "num"


function("ceil", 1)(_ceil)
function("ceiling", 1)(_ceil)


@function("sqrt", 1)
def _sqrt(ctx: EvalContext, call: ECall) -> Compiled:
    x = ctx.number(call.args[0], call.pos, "sqrt()")
    return f"(CASE WHEN {x} >= 0 THEN sqrt({x}) END)", "num"


@function("pow", 2)
def _pow(ctx: EvalContext, call: ECall) -> Compiled:
    # pow(X, Y): X to the power Y (a result that is not a finite number: null)
    x, y = ctx.number(call.args[0], call.pos, "pow()"), ctx.number(call.args[1], call.pos, "pow()")
    return f"(CASE WHEN isfinite(pow({x}, {y})) THEN pow({x}, {y}) END)", "num"


@function("exp", 1)
def _exp(ctx: EvalContext, call: ECall) -> Compiled:
    x = ctx.number(call.args[0], call.pos, "exp()")
    return f"(CASE WHEN isfinite(exp({x})) THEN exp({x}) END)", "num"


@function("ln", 1)
def _ln(ctx: EvalContext, call: ECall) -> Compiled:
    x = ctx.number(call.args[0], call.pos, "ln()")
    return f"(CASE WHEN {x} > 0 THEN ln({x}) END)", "num"


@function("log", 1, 2)
def _log(ctx: EvalContext, call: ECall) -> Compiled:
    # log(X[, Y]): the logarithm of X in base Y (default 10)
    x = ctx.number(call.args[0], call.pos, "log()")
    base = ctx.number(call.args[1], call.pos, "log()") if len(call.args) > 1 else "CAST(10 AS DOUBLE)"
    return f"(CASE WHEN {x} > 0 AND {base} > 0 AND {base} <> 1 THEN ln({x}) / ln({base}) END)", "num"
