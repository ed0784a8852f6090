"""`fillnull` and `bin`/`bucket` (Search Reference: fillnull, bin).

fillnull: `fillnull [value=<string>] [<field>...]` puts the value (default 0) in every result where a listed
field has no value, creating the field when no result has it; without a field list, in every field the
results have (a field that no result has a value in, or an internal `_` field with gaps, is refused: whether
Splunk counts it as present is not documented).
bin: `bin span=<span> <field> [AS <newfield>]`: `_time` goes down to the start of its span (spans in seconds,
minutes or hours, aligned to the epoch: `s`, `m`, `h` and their long forms, or a plain number of seconds);
a numeric field becomes the text `<start>-<end>` of its span (bin's numeric ranges). Refused: spans of days and
longer (aligned to the local time zone), `bins=`, `minspan=`, `start=`, `end=`, `aligntime=`, log spans, and
values of a numeric field that are not numbers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional

from ..errors import SplError, Unsupported
from ..lexer import OP, STRING, WORD, Token
from ..numbers import DECIMAL
from ..sql import Col, lit, text_of
from .base import Command, CommandSpec, Frame, Runtime, field_list, name_of, register

_SPAN = re.compile(r"(\d+(?:\.\d+)?)([a-z]*)")
_SECONDS = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
            "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}


def span_seconds(text: str, pos: int) -> float:
    """A time span of seconds, minutes or hours in seconds (days and longer align to the local time zone:
    refused)."""
    m = _SPAN.fullmatch(text.lower())
    if not m or m.group(2) not in _SECONDS:
        raise Unsupported(f"time span {text} (only seconds, minutes and hours)", pos)
    value = float(m.group(1)) * _SECONDS[m.group(2)]
    if value <= 0:
        raise SplError(f"span={text} must be positive", pos)
    return value


# ---- fillnull -------------------------------------------------------------------------------------------
@dataclass
class FillnullCmd(Command):
    value: str
    fields: List[str]


def parse_fillnull(tokens: List[Token], pos: int, end: int) -> FillnullCmd:
    value = "0"
    rest = list(tokens)
    if len(rest) >= 3 and rest[0].is_word("value") and rest[1].kind == OP and rest[1].value == "=":
        if rest[2].kind not in (WORD, STRING):
            raise SplError("fillnull: value= needs a value", rest[2].pos)
        value = rest[2].value
        rest = rest[3:]
    for tok in rest:
        if tok.kind == OP:
            raise SplError(f"fillnull: unexpected {tok.value!r} (only value= is an option)", tok.pos)
    fields = field_list(rest, "fillnull")
    for f in fields:
        if "*" in f:
            raise Unsupported(f"fillnull wildcard field {f}", pos)
    return FillnullCmd(pos, value, fields)


def _filled(col: Col, value: str) -> Col:
    if col.is_list:
        return Col(col.name, f"(CASE WHEN {col.sql} IS NULL OR len({col.sql}) = 0 THEN [{lit(value)}] "
                             f"ELSE list_transform({col.sql}, lambda v: {text_of('v', col.type[:-2])}) END)",
                   "VARCHAR[]")
    return Col(col.name, f"COALESCE({text_of(col.sql, col.type)}, {lit(value)})", "VARCHAR")


def compile_fillnull(cmd: FillnullCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    cols = list(frame.cols)
    if cmd.fields:
        names = frame.names()
        for f in cmd.fields:
            if f not in names:
                cols.append(Col(f, "CAST(NULL AS VARCHAR)", "VARCHAR"))
        targets = set(cmd.fields)
    else:
        targets = set()
        for c in cols:
            nulls = rt.count(f"SELECT count(*) FROM {frame.table} WHERE {c.sql} IS NULL")
            if not nulls:
                continue
            values = rt.count(f"SELECT count(*) FROM {frame.table} WHERE {c.sql} IS NOT NULL")
            if c.name.startswith("_") or not values:
                raise Unsupported(f"fillnull without a field list over {c.name}, which "
                                  f"{'is internal' if values else 'no result has'}", cmd.pos)
            targets.add(c.name)
    cols = [_filled(c, cmd.value) if c.name in targets else c for c in cols]
    return rt.materialize(frame.table, [(c.name, c.sql) for c in cols])


def _fillnull_outputs(cmd: FillnullCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None:
        return None
    return fields + [f for f in cmd.fields if f not in fields]


# ---- bin ------------------------------------------------------------------------------------------------
@dataclass
class BinCmd(Command):
    span: float
    unit: str            # as typed (empty for a plain number)
    field: str
    as_name: Optional[str]


def parse_bin(tokens: List[Token], pos: int, end: int) -> BinCmd:
    span: Optional[str] = None
    span_pos = pos
    rest: List[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == WORD and i + 1 < len(tokens) and tokens[i + 1].kind == OP:
            if i + 2 >= len(tokens):
                raise SplError(f"bin: {tok.value}= needs a value", tok.pos)
            if tok.value.lower() != "span":
                raise Unsupported(f"bin {tok.value}=", tok.pos)
            span, span_pos = tokens[i + 2].value, tokens[i + 2].pos
            i += 3
            continue
        rest.append(tok)
        i += 1
    if span is None:
        raise Unsupported("bin without span= (automatic bins)", pos)
    m = _SPAN.fullmatch(span.lower())
    if not m:
        raise Unsupported(f"bin span={span}", span_pos)
    as_name = None
    if len(rest) == 3 and rest[1].is_keyword("AS"):
        as_name = name_of(rest[2], "bin")
        rest = rest[:1]
    names = field_list(rest, "bin")
    if len(names) != 1:
        raise SplError("bin needs one field (and optionally AS <newfield>)", pos)
    value = float(m.group(1))
    if value <= 0:
        raise SplError(f"bin: span={span} must be positive", span_pos)
    return BinCmd(pos, value, m.group(2), names[0], as_name)


def compile_bin(cmd: BinCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    col = next((c for c in frame.cols if c.name == cmd.field), None)
    out = cmd.as_name or cmd.field
    cols = list(frame.cols)
    if col is None:
        return Frame(frame.table, cols)
    if col.is_list:
        raise Unsupported(f"bin of the multivalue field {cmd.field}", cmd.pos)
    num = col.sql if col.is_number else \
        f"(CASE WHEN regexp_full_match({col.sql}, {lit(DECIMAL)}) THEN TRY_CAST({col.sql} AS DOUBLE) END)"
    if cmd.field == "_time":
        if cmd.unit not in _SECONDS:
            raise Unsupported(f"bin span of {cmd.unit} for _time (only seconds, minutes and hours)", cmd.pos)
        width = cmd.span * _SECONDS[cmd.unit]
        new = Col(out, f"(floor({num} / {width!r}) * {width!r})", "DOUBLE")
    else:
        if cmd.unit:
            raise Unsupported(f"bin span={cmd.span:g}{cmd.unit} for a field other than _time", cmd.pos)
        bad = rt.count(f"SELECT count(*) FROM {frame.table} WHERE {col.sql} IS NOT NULL AND {num} IS NULL")
        if bad:
            raise Unsupported(f"bin of {cmd.field}: values that are not numbers", cmd.pos)
        lo = f"(floor({num} / {cmd.span!r}) * {cmd.span!r})"
        new = Col(out, f"({text_of(lo, 'DOUBLE')} || '-' || {text_of(f'({lo} + {cmd.span!r})', 'DOUBLE')})",
                  "VARCHAR")
    cols = [c for c in cols if c.name != out] + [new] if out != cmd.field else \
        [new if c.name == out else c for c in cols]
    return rt.materialize(frame.table, [(c.name, c.sql) for c in cols])


def _bin_outputs(cmd: BinCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None or cmd.as_name is None:
        return fields
    return [f for f in fields if f != cmd.as_name] + [cmd.as_name]


register(CommandSpec("fillnull", FillnullCmd, parse_fillnull, compile_fillnull, _fillnull_outputs))
register(CommandSpec("bin", BinCmd, parse_bin, compile_bin, _bin_outputs))


@dataclass
class BucketCmd(BinCmd):
    pass


def _parse_bucket(tokens: List[Token], pos: int, end: int) -> BucketCmd:
    b = parse_bin(tokens, pos, end)
    return BucketCmd(b.pos, b.span, b.unit, b.field, b.as_name)


register(CommandSpec("bucket", BucketCmd, _parse_bucket, compile_bin, _bin_outputs))
