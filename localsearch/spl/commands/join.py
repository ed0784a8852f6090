"""`join [type=inner|left|outer] [max=<int>] [overwrite=<bool>] [<field>...] [ <subsearch> ]` (Search
Reference, join).

Rules: the subsearch runs first, on the same data; at most 50,000 of its results are joined (the rest are left
out, with a warning). A main result joins the subsearch results whose join fields all have the same values
(compared exactly, as text); without a field list, the fields the two sides have in common are the join
fields. `max` (default 1) is how many subsearch results join each main result, the first ones in their order
(0: all, one output result each). `type=inner` (the default) drops main results without a match; `left` and
`outer` keep them. `overwrite=true` (the default): a subsearch value replaces the main result's value of the
same field; `false` keeps the main value. Results keep the main search's order. Refused: `usetime`,
`earlier`, the `left=`/`right=`/`where` form, multivalue join fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from ..errors import SplError, Unsupported
from ..lexer import OP, WORD, Token
from ..sql import Col, text_of
from .base import Command, CommandSpec, Frame, Runtime, field_list, register
from .subsearch import MARKER

RIGHT_MAX = 50_000          # limits.conf [join] subsearch_maxout
_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


@dataclass
class JoinCmd(Command):
    type: str
    max: int
    overwrite: bool
    fields: List[str]
    subsearch: Any            # the marker while parsing, then the Subsearch (front end)


def parse_join(tokens: List[Token], pos: int, end: int) -> JoinCmd:
    kind, maximum, overwrite = "inner", 1, True
    names: List[Token] = []
    marker: Optional[str] = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == WORD and tok.value.startswith(MARKER):
            if i != len(tokens) - 1:
                raise SplError("join: the subsearch must come last", tokens[i + 1].pos)
            marker = tok.value
            break
        if tok.kind == WORD and i + 1 < len(tokens) and tokens[i + 1].kind == OP:
            if i + 2 >= len(tokens):
                raise SplError(f"join: {tok.value}= needs a value", tok.pos)
            key, value = tok.value.lower(), tokens[i + 2].value.lower()
            if key == "type":
                if value not in ("inner", "left", "outer"):
                    raise SplError(f"join: type={tokens[i + 2].value} (inner, left or outer)", tokens[i + 2].pos)
                kind = "inner" if value == "inner" else "left"
            elif key == "max":
                if not value.isdigit():
                    raise SplError(f"join: max={tokens[i + 2].value} is not a whole number", tokens[i + 2].pos)
                maximum = int(value)
            elif key in ("overwrite", "usetime", "earlier"):
                if value not in _TRUE | _FALSE:
                    raise SplError(f"join: {key}={tokens[i + 2].value} is not a Boolean", tokens[i + 2].pos)
                if key == "overwrite":
                    overwrite = value in _TRUE
                elif value in _TRUE or key == "earlier":
                    raise Unsupported(f"join {key}=", tok.pos)
            elif key in ("left", "right"):
                raise Unsupported("join left=/right= ... where", tok.pos)
            else:
                raise SplError(f"join: unknown option {tok.value}=", tok.pos)
            i += 3
            continue
        if tok.is_keyword("WHERE"):
            raise Unsupported("join ... where", tok.pos)
        names.append(tok)
        i += 1
    if marker is None:
        raise SplError("join needs a subsearch [ ... ] as its last argument", pos)
    fields = field_list(names, "join")
    for f in fields:
        if "*" in f:
            raise Unsupported(f"join wildcard field {f}", pos)
    return JoinCmd(pos, kind, maximum, overwrite, fields, marker)


def compile_join(cmd: JoinCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    right = rt.subsearch_frame(cmd.subsearch.pipeline)
    # plain columns c<i> on both sides (aliases l and r)
    frame = rt.materialize(frame.table, [(c.name, c.sql) for c in frame.cols])
    right = rt.materialize(right.table, [(c.name, c.sql) for c in right.cols])
    total = rt.count(f"SELECT count(*) FROM {right.table}")
    if total > RIGHT_MAX:
        rt.warn(f"join: the subsearch returned {total} results: only the first {RIGHT_MAX} are joined "
                "(Splunk's default subsearch_maxout for join)")
    left_by = {c.name: c for c in frame.cols}
    right_by = {c.name: c for c in right.cols}
    fields = cmd.fields or [n for n in frame.names() if n in right_by]
    conds = []
    for f in fields:
        lc, rc = left_by.get(f), right_by.get(f)
        if lc is None or rc is None:
            conds.append("FALSE")
            continue
        if lc.is_list or rc.is_list:
            raise Unsupported(f"join on the multivalue field {f}", cmd.pos)
        conds.append(f"{text_of('l.' + lc.sql, lc.type)} = {text_of('r.' + rc.sql, rc.type)}")
    if not conds:
        raise SplError("join: no join fields (none given and none in common with the subsearch)", cmd.pos)
    exprs: List[str] = []
    cols: List[Col] = []
    for k, c in enumerate(frame.cols):
        rc = right_by.get(c.name)
        sql = _on(c, "l")
        if rc is not None and c.name not in fields:
            if c.is_list != rc.is_list:
                raise Unsupported(f"join: field {c.name} is multivalue on one side only", cmd.pos)
            new, old = _as_text(_on(rc, "r"), rc), _as_text(sql, c)
            sql = f"COALESCE({new}, {old})" if cmd.overwrite else f"COALESCE({old}, {new})"
        exprs.append(f"{sql} AS x{k}")
        cols.append(Col(c.name, f"x{k}", ""))
    for k, rc in enumerate(right.cols):
        if rc.name not in left_by:
            exprs.append(f"{_on(rc, 'r')} AS y{k}")
            cols.append(Col(rc.name, f"y{k}", ""))
    how = "JOIN" if cmd.type == "inner" else "LEFT JOIN"
    limited = f"(SELECT * FROM {right.table} WHERE __ord <= {RIGHT_MAX})"
    ranked = (f"SELECT l.__ord AS __lo, r.__ord AS __ro, row_number() OVER (PARTITION BY l.__ord "
              f"ORDER BY r.__ord) AS __n, {', '.join(exprs)} FROM {frame.table} AS l {how} {limited} AS r "
              f"ON {' AND '.join(conds)}")
    joined = rt.new_table("_join")
    keep = f"WHERE __n <= {cmd.max}" if cmd.max else ""
    rt.execute(f"CREATE TEMP TABLE {joined} AS SELECT * FROM ({ranked}) {keep}")
    return rt.materialize(joined, [(c.name, c.sql) for c in cols], "TRUE", "__lo, __ro")


def _on(col: Col, alias: str) -> str:
    return f"{alias}.{col.sql}"


def _as_text(sql: str, col: Col) -> str:
    if col.is_list:
        return f"list_transform({sql}, lambda v: {text_of('v', col.type[:-2])})"
    return text_of(sql, col.type)


def _outputs(cmd: JoinCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    return None


register(CommandSpec("join", JoinCmd, parse_join, compile_join, _outputs, subsearch=True))
