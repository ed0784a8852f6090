"""`search` (also the implied search that starts a pipeline, over the raw events) and `where`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ..ast import EvalNode, SearchNode
from ..eval_sql import compile_where
from ..expr import parse_eval, parse_search
from ..lexer import Token
from ..sql import resolver_for
from .base import Command, CommandSpec, Frame, Runtime, register
from .evaluate import materialize_checked
from .subsearch import compile_with_subsearches


@dataclass
class SearchCmd(Command):
    expr: SearchNode
    leading: bool = False        # the first command of the pipeline: it reads the raw events


@dataclass
class WhereCmd(Command):
    expr: EvalNode


def parse_search_cmd(tokens: List[Token], pos: int, end: int) -> SearchCmd:
    return SearchCmd(pos, parse_search(tokens, end))


def compile_search_cmd(cmd: SearchCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    if frame is None:
        return raw_search(cmd.expr, rt)
    pred = compile_with_subsearches(cmd.expr, resolver_for(frame.cols), rt)     # subsearches run first
    return rt.materialize(frame.table, [(c.name, c.sql) for c in frame.cols], pred)


def raw_search(expr: SearchNode, rt: Runtime) -> Frame:
    """The leading search: the loaded events, newest first, within the time window."""
    cols = rt.base_cols("events")
    missing: List[str] = []
    pred = compile_with_subsearches(expr, resolver_for(cols, missing), rt)     # subsearches run first
    if rt.field_exists is not None:     # only fields no event read has (also those a prefilter left out)
        missing, label = [m for m in missing if not rt.field_exists(m)], "the loaded events"
    else:
        label = rt.events_label or "the loaded events"
    for name in missing:
        rt.warn(f"field {name} does not exist in {label}: conditions on it match nothing")
    time_col = next((c for c in cols if c.name == "_time"), None)
    # untimed events are counted among those the search matches: the same with and without the prefilter
    window = rt.time_filter(time_col.sql if time_col else None, "events", rt.events_label, pred)
    order = f"{time_col.sql} DESC" if time_col else "1"
    return rt.materialize("events", [(c.name, c.sql) for c in cols], f"({pred}) AND {window}", order)


def parse_where(tokens: List[Token], pos: int, end: int) -> WhereCmd:
    return WhereCmd(pos, parse_eval(tokens, end))


def compile_where_cmd(cmd: WhereCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    pred = compile_where(cmd.expr, resolver_for(frame.cols))
    return materialize_checked(rt, frame, frame.cols, pred, cmd.pos)


register(CommandSpec("search", SearchCmd, parse_search_cmd, compile_search_cmd, search_values=True,
                     subsearch=True))
register(CommandSpec("where", WhereCmd, parse_where, compile_where_cmd, single_quotes=True))
