"""Comparison, conditional and informational eval functions (Search Reference, "Comparison and Conditional
functions", "Informational functions"): if, case, coalesce, null, true, false, isnull, isnotnull, isnum, isstr,
in, like, match, cidrmatch, validate, isint, typeof."""
from __future__ import annotations

import ipaddress

from .ast import ECall, EStr
from .eval_sql import NULL_TEXT, looks_numeric
from .functions import Compiled, EvalContext, function, literal_text
from .errors import SplError, Unsupported
from .regex import guarded_subject, to_re2
from .sql import lit


@function("true", 0)
def _true(ctx: EvalContext, call: ECall) -> Compiled:
    return "TRUE", "bool"


@function("false", 0)
def _false(ctx: EvalContext, call: ECall) -> Compiled:
    return "FALSE", "bool"


@function("null", 0)
def _null(ctx: EvalContext, call: ECall) -> Compiled:
    # null(): no value; an eval assigning it leaves the field without a value
    return NULL_TEXT, "null"


def _null_test(ctx: EvalContext, call: ECall) -> str:
    sql, kind = ctx.eval(call.args[0])
    if kind == "null":
        return "TRUE"
    return f"({sql} IS NULL OR len({sql}) = 0)" if kind == "list" else f"({sql} IS NULL)"


@function("isnull", 1)
def _isnull(ctx: EvalContext, call: ECall) -> Compiled:
    return _null_test(ctx, call), "bool"


@function("isnotnull", 1)
def _isnotnull(ctx: EvalContext, call: ECall) -> Compiled:
    return f"(NOT {_null_test(ctx, call)})", "bool"


@function("isnum", 1)
def _isnum(ctx: EvalContext, call: ECall) -> Compiled:
    # isnum(X): TRUE when X is a number (a field value that looks like a decimal number is one)
    sql, kind = ctx.scalar(call.args[0], call.pos)
    if kind in ("num", "str", "null", "bool"):
        return ("TRUE" if kind == "num" else "FALSE"), "bool"
    return f"COALESCE({looks_numeric(sql)}, FALSE)", "bool"


@function("isstr", 1)
def _isstr(ctx: EvalContext, call: ECall) -> Compiled:
    sql, kind = ctx.scalar(call.args[0], call.pos)
    if kind in ("num", "str", "null", "bool"):
        return ("TRUE" if kind == "str" else "FALSE"), "bool"
    return f"COALESCE(NOT {looks_numeric(sql)}, FALSE)", "bool"


@function("if", 3)
def _if(ctx: EvalContext, call: ECall) -> Compiled:
    # if(X, Y, Z): Y when X is TRUE, else Z (a null condition is not TRUE)
    cond = ctx.condition(call.args[0], call.pos, "if()")
    (a, b), kind = ctx.unify([ctx.eval(call.args[1]), ctx.eval(call.args[2])], call.pos)
    return f"(CASE WHEN {cond} THEN {a} ELSE {b} END)", kind


@function("case", 2, None)
def _case(ctx: EvalContext, call: ECall) -> Compiled:
    # case(X1, Y1, X2, Y2, ...): the Y of the first TRUE X; none TRUE: null
    if len(call.args) % 2:
        raise SplError("case() takes pairs of condition and value", call.pos)
    conds = [ctx.condition(call.args[i], call.pos, "case()") for i in range(0, len(call.args), 2)]
    values, kind = ctx.unify([ctx.eval(call.args[i]) for i in range(1, len(call.args), 2)], call.pos)
    whens = " ".join(f"WHEN {c} THEN {v}" for c, v in zip(conds, values))
    return f"(CASE {whens} END)", kind


@function("coalesce", 1, None)
def _coalesce(ctx: EvalContext, call: ECall) -> Compiled:
    # coalesce(X, ...): the first value that is not null
    values, kind = ctx.unify([ctx.eval(a) for a in call.args], call.pos)
    if kind == "list":
        values = [f"(CASE WHEN len({v}) > 0 THEN {v} END)" for v in values]
    return f"COALESCE({', '.join(values)})", kind


@function("in", 2, None)
def _in(ctx: EvalContext, call: ECall) -> Compiled:
    # in(field, v1, ...): TRUE when the field's value is one of the values (as text, case-sensitively)
    values = [ctx.text(a, call.pos) for a in call.args[1:]]
    return f"({ctx.text(call.args[0], call.pos)} IN ({', '.join(values)}))", "bool"


@function("like", 2)
def _like(ctx: EvalContext, call: ECall) -> Compiled:
    return ctx.like(call.args[0], call.args[1], call.pos), "bool"


@function("match", 2)
def _match(ctx: EvalContext, call: ECall) -> Compiled:
    # match(SUBJECT, "REGEX"): TRUE when the regex matches any part of the subject (PCRE; RE2 where identical)
    if not isinstance(call.args[1], EStr):
        return _match_computed(ctx, call), "bool"
    rx = to_re2(call.args[1].value, call.pos, "match()")
    subject = guarded_subject(ctx.text(call.args[0], call.pos), rx, "match()")
    return f"regexp_matches({subject}, {lit(rx.pattern)})", "bool"


# A regex computed per result (`match(process_name, "(?i)".original_file_name)`) is run only when its value is
# read the same by PCRE and RE2: an optional leading (?i), then ASCII letters, digits and punctuation that is
# literal in both, and `.` (any character but a newline in both). Any other value is refused when met.
_PLAIN_REGEX = r"^(\(\?i\))?[A-Za-z0-9 _.,:;@#%&~=/!'\"<>-]*$"


def _match_computed(ctx: EvalContext, call: ECall) -> str:
    pattern = ctx.text(call.args[1], call.pos)
    subject = ctx.text(call.args[0], call.pos)
    refuse = ("error('unsupported in local runs: match() with a regular expression computed from fields that "
              "holds more than literal text, . and a leading (?i) (a pattern of ' || "
              f"CAST(length({pattern}) AS VARCHAR) || ' characters)')")
    return (f"(CASE WHEN {pattern} IS NULL THEN NULL WHEN regexp_matches({pattern}, {lit(_PLAIN_REGEX)}) "
            f"THEN regexp_matches({subject}, {pattern}) ELSE {refuse} END)")


_IPV4 = r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})"


@function("cidrmatch", 2)
def _cidrmatch(ctx: EvalContext, call: ECall) -> Compiled:
    # cidrmatch("X", Y): TRUE when IP address Y is in subnet X. IPv4 subnets; an IPv6 subnet is refused; a value
    # that is not an IPv4 address is not in an IPv4 subnet.
    text = literal_text(call, 0, "subnet")
    if "/" not in text:
        raise Unsupported(f"cidrmatch() with {text!r}: not a CIDR subnet (address/bits)", call.pos)
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise SplError(f"cidrmatch(): {text!r} is not a CIDR subnet", call.pos) from None
    if net.version != 4:
        raise Unsupported("cidrmatch() with an IPv6 subnet", call.pos)
    ip = ctx.text(call.args[1], call.pos)
    octets = [f"CAST(regexp_extract({ip}, {lit('^' + _IPV4 + '$')}, {i}) AS BIGINT)" for i in range(1, 5)]
    valid = " AND ".join(f"{o} <= 255" for o in octets)
    value = " + ".join(f"{o} * {256 ** (3 - i)}" for i, o in enumerate(octets))
    low, high = int(net.network_address), int(net.broadcast_address)
    return (f"(CASE WHEN {ip} IS NULL THEN NULL WHEN regexp_full_match({ip}, {lit(_IPV4)}) AND {valid} "
            f"THEN ({value}) BETWEEN {low} AND {high} ELSE FALSE END)"), "bool"


@function("validate", 2, None)
def _validate(ctx: EvalContext, call: ECall) -> Compiled:
    # validate(X1, Y1, ...): the Y of the first X that is FALSE; all TRUE: null
    if len(call.args) % 2:
        raise SplError("validate() takes pairs of condition and value", call.pos)
    conds = [ctx.condition(call.args[i], call.pos, "validate()") for i in range(0, len(call.args), 2)]
    values, kind = ctx.unify([ctx.eval(call.args[i]) for i in range(1, len(call.args), 2)], call.pos)
    whens = " ".join(f"WHEN NOT COALESCE({c}, FALSE) THEN {v}" for c, v in zip(conds, values))
    return f"(CASE {whens} END)", kind


@function("isint", 1)
def _isint(ctx: EvalContext, call: ECall) -> Compiled:
    # isint(X): TRUE when X is an integer (a field value of decimal digits is one)
    sql, kind = ctx.scalar(call.args[0], call.pos)
    if kind == "num":
        return f"COALESCE({sql} = trunc({sql}), FALSE)", "bool"
    if kind != "any":
        return "FALSE", "bool"
    return f"COALESCE(regexp_full_match({sql}, '[-+]?[0-9]+'), FALSE)", "bool"


@function("typeof", 1)
def _typeof(ctx: EvalContext, call: ECall) -> Compiled:
    # typeof(X): "Number", "String", "Boolean", or "Invalid" for no value
    sql, kind = ctx.eval(call.args[0])
    if kind == "list":
        raise Unsupported("typeof() of a multivalue value", call.pos)
    fixed = {"num": "Number", "str": "String", "bool": "Boolean", "null": "Invalid"}
    if kind in fixed:
        return (f"(CASE WHEN {sql} IS NULL THEN 'Invalid' ELSE {lit(fixed[kind])} END)" if kind != "null"
                else "'Invalid'"), "str"
    return f"(CASE WHEN {sql} IS NULL THEN 'Invalid' WHEN {looks_numeric(sql)} THEN 'Number' ELSE 'String' END)", "str"
