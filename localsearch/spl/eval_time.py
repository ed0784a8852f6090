"""Date and time eval functions (Search Reference, "Date and Time functions"): now, time, relative_time,
strftime, strptime. Times are epoch seconds; as in the rest of the local runner (timespec.py) the time zone is
UTC. Formats and time modifiers must be string literals; a format directive that is not listed here is refused
rather than rendered differently."""
from __future__ import annotations

import re
import time
from typing import List

from .ast import ECall
from .errors import SplError, Unsupported
from .functions import Compiled, EvalContext, function, literal_text
from .sql import lit
from .timespec import _PART, _UNITS

# the directives DuckDB renders and reads as Splunk's strftime/strptime do (POSIX meanings)
_SAME = set("YmdHMSybBaAjpIUWwuGV%")
_EXPAND = {"F": "%Y-%m-%d", "T": "%H:%M:%S", "D": "%m/%d/%y", "R": "%H:%M"}


# what each directive reads (to tell text that does not fit from text with more after a fitting prefix)
_PREFIX = {"%Y": r"[0-9]{4}", "%y": r"[0-9]{2}", "%b": "[A-Za-z]+", "%B": "[A-Za-z]+", "%a": "[A-Za-z]+",
           "%A": "[A-Za-z]+", "%p": "[AaPp][Mm]", "%z": r"(?:[+-][0-9]{2}:?[0-9]{2}|Z)", "%Z": r"[A-Za-z_/+-]+",
           "%%": "%"}
for _d in "mdHMSIjUWuwGV":
    _PREFIX["%" + _d] = r"\s*[0-9]{1,3}"


def _timestamp(epoch: str) -> str:
    return f"make_timestamp(CAST(round({epoch} * 1000000) AS BIGINT))"


def _directives(fmt: str, pos: int, where: str) -> List[str]:
    """The format split into literal text and %-directives (with %F %T %D %R expanded)."""
    out: List[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            j = fmt.find("%", i)
            j = len(fmt) if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        if fmt[i + 1:i + 3] in ("3N", "6N", "9N"):
            out.append(fmt[i:i + 3])
            i += 3
            continue
        code = fmt[i + 1:i + 2]
        if not code:
            raise SplError(f"{where}: format {fmt!r} ends with '%'", pos)
        if code in _EXPAND:
            out.extend(_directives(_EXPAND[code], pos, where))
        else:
            out.append("%" + code)
        i += 2
    return out


def _render(ts: str, epoch: str, d: str, pos: int) -> str:
    if not d.startswith("%"):
        return lit(d)
    code = d[1:]
    if code in _SAME:
        return f"strftime({ts}, {lit(d)})"
    if code == "e":
        return f"lpad(CAST(day({ts}) AS VARCHAR), 2, ' ')"
    if code == "k":
        return f"lpad(CAST(hour({ts}) AS VARCHAR), 2, ' ')"
    if code == "s":
        return f"CAST(CAST(floor({epoch}) AS BIGINT) AS VARCHAR)"
    if code == "Z":
        return "'UTC'"
    if code == "z":
        return "'+0000'"
    if code in ("3N", "6N", "9N"):
        digits = int(code[0])
        return f"lpad(CAST(CAST(floor(({epoch} - floor({epoch})) * {10 ** digits}) AS BIGINT) AS VARCHAR), {digits}, '0')"
    raise Unsupported(f"strftime() format directive {d!r}", pos)


@function("now", 0)
def _now(ctx: EvalContext, call: ECall) -> Compiled:
    # now(): the time the search started (epoch seconds)
    return f"CAST({int(time.time())} AS DOUBLE)", "num"


@function("time", 0)
def _time(ctx: EvalContext, call: ECall) -> Compiled:
    # time(): the wall-clock time, with microseconds
    return "epoch(get_current_timestamp())", "num"


@function("strftime", 2)
def _strftime(ctx: EvalContext, call: ECall) -> Compiled:
    # strftime(X, Y): epoch time X rendered with format Y
    epoch = ctx.number(call.args[0], call.pos, "strftime()")
    fmt = literal_text(call, 1, "format")
    ts = _timestamp(epoch)
    pieces = [_render(ts, epoch, d, call.pos) for d in _directives(fmt, call.pos, "strftime()")]
    body = " || ".join(pieces) if pieces else "''"
    return f"(CASE WHEN {epoch} IS NOT NULL THEN {body} END)", "str"


@function("strptime", 2)
def _strptime(ctx: EvalContext, call: ECall) -> Compiled:
    # strptime(X, Y): the epoch time of text X read with format Y; null when X does not fit Y
    fmt = literal_text(call, 1, "format")
    parts = []
    for d in _directives(fmt, call.pos, "strptime()"):
        if d.startswith("%") and d[1:] not in _SAME and d not in ("%z", "%Z"):   # %Z: a zone name or abbreviation
            raise Unsupported(f"strptime() format directive {d!r}", call.pos)
        parts.append(d)
    if not any(d in ("%Y", "%y") for d in parts):
        raise Unsupported(f"strptime() format {fmt!r} without a year (the date it gives is not documented)", call.pos)
    text = ctx.text(call.args[0], call.pos)
    parsed = f"try_strptime({text}, {lit(''.join(parts))})"
    # text that fits the format and has more after it: C's strptime stops there, DuckDB's fails; refused when met
    prefix = "^\\s*" + "".join(_PREFIX.get(d, re.escape(d)) if d.startswith("%") else re.escape(d) for d in parts)
    more = (f"error('unsupported in local runs: strptime() on text with more after the format: ' || "
            f"CAST(length({text}) AS VARCHAR) || ' characters')")
    return (f"(CASE WHEN {parsed} IS NOT NULL THEN CAST(epoch({parsed}) AS DOUBLE) "
            f"WHEN regexp_matches({text}, {lit(prefix)}) THEN {more} END)"), "num"


def _relative_sql(ts: str, spec: str, pos: int) -> str:
    low = spec.strip().lower()
    if low == "now":
        return ts
    i = 0
    while i < len(low):
        m = _PART.match(low, i)
        if not m:
            raise SplError(f"relative_time(): cannot read time modifier {spec!r} at {low[i:]!r}", pos)
        if m.group(1):
            unit = _UNITS.get(m.group(3))
            if unit is None:
                raise SplError(f"relative_time(): unknown time unit {m.group(3)!r} in {spec!r}", pos)
            n = int(m.group(2) or "1") * (1 if m.group(1) == "+" else -1)
            if unit in ("mon", "q", "y"):
                ts = f"({ts} + to_months({n * {'mon': 1, 'q': 3, 'y': 12}[unit]}))"
            else:
                ts = f"({ts} + to_microseconds(CAST({n * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[unit]} AS BIGINT) * 1000000))"
        else:
            unit = _UNITS.get(m.group(4))
            if unit is None or m.group(5) and unit != "w":
                raise SplError(f"relative_time(): bad snap {m.group(0)!r} in {spec!r}", pos)
            if unit == "w":
                target = int(m.group(5) or 0)            # @w0 = Sunday
                day = f"date_trunc('day', {ts})"
                ts = f"({day} - to_days(CAST(((dayofweek({day}) - {target}) % 7 + 7) % 7 AS INTEGER)))"
            else:
                part = {"s": "second", "m": "minute", "h": "hour", "d": "day", "mon": "month", "q": "quarter",
                        "y": "year"}[unit]
                ts = f"date_trunc('{part}', {ts})"
        i = m.end()
    return ts


@function("relative_time", 2)
def _relative_time(ctx: EvalContext, call: ECall) -> Compiled:
    # relative_time(X, Y): epoch time X moved by the relative time modifier Y (-1d@d, +3h, @w1 ...)
    epoch = ctx.number(call.args[0], call.pos, "relative_time()")
    spec = literal_text(call, 1, "time modifier")
    moved = _relative_sql(f"CAST({_timestamp(epoch)} AS TIMESTAMP)", spec, call.pos)
    return f"CAST(epoch({moved}) AS DOUBLE)", "num"
