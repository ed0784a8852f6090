"""`eval`: one or more `field=expression` assignments, separated by commas.

Splunk rules (Search Reference, eval): assignments run left to right and later ones see the fields earlier ones
set; assigning to an existing field replaces its value; a null result leaves the field without a value; the
result cannot be a Boolean ("Fields cannot be assigned a boolean value").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..ast import EvalNode
from ..errors import SplError, Unsupported
from ..eval_expr import parse_eval
from ..eval_mv import fields_of
from ..eval_sql import UNSUPPORTED, EvalCompiler
from ..lexer import COMMA, FIELD, LPAREN, OP, RPAREN, STRING, WORD, Token
from ..sql import Col, resolver_for
from .base import Command, CommandSpec, Frame, Runtime, register

_TYPES = {"num": "DOUBLE", "str": "VARCHAR", "any": "VARCHAR", "null": "VARCHAR", "list": "VARCHAR[]"}


@dataclass
class EvalCmd(Command):
    assignments: List[Tuple[str, EvalNode, int]]     # (field, expression, position of the field name)


def _split_top(tokens: List[Token]) -> List[List[Token]]:
    parts: List[List[Token]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.kind == LPAREN:
            depth += 1
        elif tok.kind == RPAREN:
            depth -= 1
        if tok.kind == COMMA and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def parse_eval_cmd(tokens: List[Token], pos: int, end: int) -> EvalCmd:
    assignments = []
    for part in _split_top(tokens):
        if not part:
            raise SplError("eval: empty assignment (a comma with nothing after or before it)", pos)
        name = part[0]
        if name.kind not in (WORD, FIELD, STRING) or len(part) < 2 or part[1].kind != OP or part[1].value != "=":
            raise SplError("eval expects '<field>=<expression>'", name.pos)
        expr_end = part[-1].pos + len(part[-1].raw or part[-1].value)
        assignments.append((name.value, parse_eval(part[2:], expr_end if len(part) > 2 else part[1].pos + 1),
                            name.pos))
    return EvalCmd(pos, assignments)


def eval_outputs(cmd: EvalCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None:
        return None
    out = list(fields)
    for name, _, _ in cmd.assignments:
        if name not in out:
            out.append(name)
    return out


def assigned_column(name: str, sql: str, kind: str, pos: int) -> Col:
    """The column an eval result becomes (a Boolean cannot be assigned)."""
    if kind == "bool":
        raise SplError(f"eval {name}: Fields cannot be assigned a boolean value. Instead, try "
                       "if([bool expr], [expr], [expr]).", pos)
    typ = _TYPES[kind]
    if kind == "list":
        sql = f"(CASE WHEN len({sql}) > 0 THEN {sql} END)"
    return Col(name, f"CAST({sql} AS {typ})", typ)


def materialize_checked(rt: Runtime, frame: Frame, cols: List[Col], where: str, pos: int) -> Frame:
    """rt.materialize, with a refusal raised by a row (DuckDB error()) reported as the clean refusal it is."""
    try:
        return rt.materialize(frame.table, [(c.name, c.sql) for c in cols], where)
    except Unsupported:
        raise
    except SplError as exc:
        text = str(exc.message)
        if UNSUPPORTED in text:
            raise Unsupported(text[text.index(UNSUPPORTED) + len(UNSUPPORTED):], pos) from None
        raise


def compile_eval_cmd(cmd: EvalCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    cols = list(frame.cols)
    for k, (name, expr, pos) in enumerate(cmd.assignments):
        sql, kind = EvalCompiler(resolver_for(cols)).eval(expr)
        col = assigned_column(name, sql, kind, pos)
        at = next((i for i, c in enumerate(cols) if c.name == name), None)
        if at is None:
            cols.append(col)
        else:
            cols[at] = col
        later = set().union(*(fields_of(e, set()) for _, e, _ in cmd.assignments[k + 1:]))
        if name in later and len(col.sql) > 400:       # a long expression used again: computed once
            frame = materialize_checked(rt, frame, cols, "TRUE", cmd.pos)
            cols = list(frame.cols)
    return materialize_checked(rt, frame, cols, "TRUE", cmd.pos)


register(CommandSpec("eval", EvalCmd, parse_eval_cmd, compile_eval_cmd, eval_outputs, single_quotes=True))
