"""`| inputlookup [start=<int>] [max=<int>] <lookup> [WHERE <search expression>]` (Search Reference,
inputlookup): a generating command giving the lookup table's rows in file order, one field per column (an
empty cell is no value); `start` skips that many rows (default 0), `max` keeps at most that many (default
1000000000); `WHERE` filters the rows with search syntax (wildcards, case-insensitive values). WHERE together
with start/max is refused (the order in which they apply is not documented), as are `append=` and `strict=`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ..ast import SearchNode
from ..errors import SplError, Unsupported
from ..expr import parse_search
from ..lexer import OP, STRING, WORD, Token
from ..sql import Col, compile_search, resolver_for
from .base import GENERATING, Command, CommandSpec, Frame, Runtime, register

MAX_DEFAULT = 1_000_000_000


@dataclass
class InputlookupCmd(Command):
    name: str
    start: int
    max: int
    where: Optional[SearchNode]


def parse_inputlookup(tokens: List[Token], pos: int, end: int) -> InputlookupCmd:
    i = 0
    start, maximum = 0, MAX_DEFAULT
    while i + 2 < len(tokens) and tokens[i].kind == WORD and tokens[i + 1].kind == OP and \
            tokens[i + 1].value == "=":
        key, value = tokens[i].value.lower(), tokens[i + 2].value
        if key in ("start", "max"):
            if not value.isdigit():
                raise SplError(f"inputlookup: {key}={value} is not a whole number", tokens[i + 2].pos)
            if key == "start":
                start = int(value)
            else:
                maximum = int(value)
        elif key in ("append", "strict"):
            raise Unsupported(f"inputlookup {key}=", tokens[i].pos)
        else:
            raise SplError(f"inputlookup: unknown option {tokens[i].value}=", tokens[i].pos)
        i += 3
    if i >= len(tokens) or tokens[i].kind not in (WORD, STRING):
        raise SplError("inputlookup needs a lookup name", pos)
    name = tokens[i].value
    i += 1
    where = None
    if i < len(tokens):
        if not tokens[i].is_keyword("WHERE"):
            raise SplError(f"inputlookup: unexpected {tokens[i].raw or tokens[i].value!r} (expected WHERE)",
                           tokens[i].pos)
        if i + 1 >= len(tokens):
            raise SplError("inputlookup: WHERE without a condition", tokens[i].pos)
        if (start, maximum) != (0, MAX_DEFAULT):
            raise Unsupported("inputlookup WHERE together with start= or max=", tokens[i].pos)
        where = parse_search(tokens[i + 1:], end)
    return InputlookupCmd(pos, name, start, maximum, where)


def compile_inputlookup(cmd: InputlookupCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    spec = rt.lookup_table(cmd.name, cmd.pos)
    if len(set(spec.header)) != len(spec.header):
        raise SplError(f"inputlookup {cmd.name}: {spec.path} has duplicate column names", cmd.pos)
    rows = spec.rows[cmd.start:cmd.start + cmd.max]
    table = rt.new_table("_input")
    n = len(spec.header)
    rt.create_table(table, ["__ord BIGINT"] + [f"c{i} VARCHAR" for i in range(n)],
                    [[k + 1] + [(r[i] if i < len(r) and r[i] != "" else None) for i in range(n)]
                     for k, r in enumerate(rows)])
    cols = [Col(h, f"c{i}", "VARCHAR") for i, h in enumerate(spec.header)]
    pred = compile_search(cmd.where, resolver_for(cols)) if cmd.where is not None else "TRUE"
    return rt.materialize(table, [(c.name, c.sql) for c in cols], pred)


def _outputs(cmd: InputlookupCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    return None


register(CommandSpec("inputlookup", InputlookupCmd, parse_inputlookup, compile_inputlookup, _outputs,
                     kinds=(GENERATING,), search_values=True))
