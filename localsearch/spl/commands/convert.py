"""`convert` with `ctime()` and `timeformat=` (Search Reference, convert: the default timeformat is
%m/%d/%Y %H:%M:%S; a value that is not a number is left as it was; `AS` keeps the original field)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..errors import SplError, Unsupported
from ..lexer import COMMA, LPAREN, RPAREN, WORD, Token
from ..sql import Col, lit, text_of
from .base import Command, CommandSpec, Frame, Runtime, name_of, register
from .fieldops import wildcard_regex

DEFAULT_TIMEFORMAT = "%m/%d/%Y %H:%M:%S"


@dataclass
class ConvertCmd(Command):
    timeformat: str
    conversions: List[Tuple[str, str, Optional[str], int]]   # (function, field pattern, AS name, pos)


def parse_convert(tokens: List[Token], pos: int, end: int) -> ConvertCmd:
    timeformat = DEFAULT_TIMEFORMAT
    conversions = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == COMMA:
            i += 1
            continue
        if tok.is_word("timeformat") and i + 2 < len(tokens) and tokens[i + 1].value == "=":
            timeformat = tokens[i + 2].value
            i += 3
            continue
        if tok.kind == WORD and i + 3 < len(tokens) and tokens[i + 1].kind == LPAREN and \
                tokens[i + 3].kind == RPAREN:
            func = tok.value.lower()
            if func != "ctime":
                raise Unsupported(f"convert function {tok.value}()", tok.pos)
            fld = name_of(tokens[i + 2], "convert")
            i += 4
            as_name = None
            if i + 1 < len(tokens) and tokens[i].is_keyword("AS"):
                as_name = name_of(tokens[i + 1], "convert")
                i += 2
            conversions.append((func, fld, as_name, tok.pos))
            continue
        raise SplError(f"convert: unexpected {tok.raw or tok.value!r} (expected timeformat=\"...\" or "
                       f"ctime(<field>))", tok.pos)
    if not conversions:
        raise SplError("convert needs at least one conversion such as ctime(<field>)", pos)
    return ConvertCmd(pos, timeformat, conversions)


def _outputs(cmd: ConvertCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None:
        return None
    return fields + [a for _, _, a, _ in cmd.conversions if a is not None and a not in fields]


def _ctime(col: Col, fmt: str) -> str:
    def one(x: str, type_: str) -> str:
        num = x if type_ in ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "HUGEINT") \
            else f"TRY_CAST({x} AS DOUBLE)"
        conv = f"strftime(make_timestamp(CAST(round({num} * 1000000) AS BIGINT)), {lit(fmt)})"
        return f"COALESCE({conv}, {text_of(x, type_)})"
    if col.is_list:
        return f"list_transform({col.sql}, lambda x: {one('x', col.type[:-2])})"
    return one(col.sql, col.type)


def compile_convert(cmd: ConvertCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    fmt = cmd.timeformat
    bad = re.search(r"%(\d*[NQ]|[+:]|s)", fmt)
    if bad:
        raise Unsupported(f"convert timeformat directive %{bad.group(1)}", cmd.pos)
    cols = list(frame.cols)
    for _func, pattern, as_name, pos in cmd.conversions:   # ctime() only (the parser checks)
        rx = wildcard_regex(pattern)
        targets = [c for c in cols if rx.match(c.name)]
        if as_name is not None and (len(targets) > 1 or "*" in pattern):
            raise Unsupported("convert with a wildcard field and AS", pos)
        for col in targets:
            new = Col(as_name or col.name, _ctime(col, fmt), "VARCHAR[]" if col.is_list else "VARCHAR")
            if as_name is None:
                cols[cols.index(col)] = new
            else:
                cols = [c for c in cols if c.name != as_name] + [new]
    try:
        return rt.materialize(frame.table, [(c.name, c.sql) for c in cols])
    except SplError as exc:  # DuckDB rejects a format it cannot render
        raise SplError(f"convert: cannot apply timeformat {fmt!r}: {exc.message}", cmd.pos) from None


register(CommandSpec("convert", ConvertCmd, parse_convert, compile_convert, _outputs))
