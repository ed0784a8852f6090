"""Parser of eval expressions (`where`; later `eval`): NOT, then AND, then OR (the eval/where order);
comparisons, LIKE, IN, string and number literals, field names bare or in single quotes, and calls of the
functions registered in functions.py (which also checks their argument counts).
"""
from __future__ import annotations

from typing import List, Mapping, Optional

from .ast import EBinary, ECall, EField, ENot, ENum, EStr, EvalNode
from .errors import SplError, Unsupported
from .cursor import Cursor
from .functions import FUNCTIONS, EvalFunction
from .numbers import number_literal
from .lexer import COMMA, FIELD, LPAREN, OP, RPAREN, STRING, WORD, Token

def parse_eval(tokens: List[Token], end_pos: int = 0,
               functions: Optional[Mapping[str, EvalFunction]] = None) -> EvalNode:
    """Parses an eval expression; `functions` (default: the registry) are the callable functions."""
    if not tokens:
        raise SplError("empty expression", end_pos)
    cur = Cursor(tokens, end_pos)
    cur.functions = FUNCTIONS if functions is None else functions
    node = _e_or(cur)
    if cur.peek() is not None:
        raise cur.unexpected("expression")
    return node


def _e_or(cur: Cursor) -> EvalNode:
    node = _e_and(cur)
    while cur.at_keyword("OR"):
        tok = cur.next()
        node = EBinary("OR", node, _e_and(cur), tok.pos)
    if cur.at_keyword("XOR"):
        raise Unsupported("XOR in where", cur.pos())
    return node


def _e_and(cur: Cursor) -> EvalNode:
    node = _e_not(cur)
    while cur.at_keyword("AND"):
        tok = cur.next()
        node = EBinary("AND", node, _e_not(cur), tok.pos)
    return node


def _e_not(cur: Cursor) -> EvalNode:
    tok = cur.peek()
    if tok is not None and tok.is_keyword("NOT"):
        cur.next()
        return ENot(_e_not(cur))
    return _e_cmp(cur)


def _e_cmp(cur: Cursor) -> EvalNode:
    left = _e_operand(cur)
    tok = cur.peek()
    if tok is not None and tok.kind == OP:
        cur.next()
        op = "=" if tok.value == "==" else tok.value
        return EBinary(op, left, _e_operand(cur), tok.pos)
    if tok is not None and tok.is_keyword("LIKE"):
        cur.next()
        return EBinary("LIKE", left, _e_operand(cur), tok.pos)
    if tok is not None and tok.is_keyword("IN") and cur.at_kind(LPAREN, 1):
        cur.next()
        cur.next()
        values: List[EvalNode] = []
        while True:
            values.append(_e_or(cur))
            sep = cur.next()
            if sep.kind == RPAREN:
                break
            if sep.kind != COMMA:
                raise SplError("expected ',' or ')' in IN list", sep.pos)
        return ECall("in", tuple([left] + values), tok.pos)
    return left


def _e_operand(cur: Cursor) -> EvalNode:
    tok = cur.next()
    if tok.kind == LPAREN:
        node = _e_or(cur)
        close = cur.next()
        if close.kind != RPAREN:
            raise SplError("missing ')' in expression", tok.pos)
        return node
    if tok.kind == STRING:
        return EStr(tok.value)
    if tok.kind == FIELD:
        return EField(tok.value, tok.pos)
    if tok.kind != WORD:
        raise SplError(f"unexpected {tok.value!r} in expression", tok.pos)
    nxt = cur.peek()
    if nxt is not None and nxt.kind == LPAREN:
        name = tok.value.lower()
        spec = cur.functions.get(name)
        if spec is None:
            raise Unsupported(f"eval function {tok.value}()", tok.pos)
        cur.next()
        args: List[EvalNode] = []
        if cur.at_kind(RPAREN):
            cur.next()
        else:
            while True:
                args.append(_e_or(cur))
                sep = cur.next()
                if sep.kind == RPAREN:
                    break
                if sep.kind != COMMA:
                    raise SplError(f"expected ',' or ')' in {tok.value}()", sep.pos)
        spec.check_arity(tok.value, len(args), tok.pos)
        return ECall(name, tuple(args), tok.pos)
    num = number_literal(tok.value, tok.pos)
    if num is not None:
        return ENum(num, tok.value)
    if tok.value[:1].isdigit() or tok.value[:1] == "." and tok.value[1:2].isdigit():
        # 1_000, 0x10, 1e5x: neither a decimal number nor a field name (those start with a letter or _)
        raise Unsupported(f"{tok.value!r} in an eval expression (not a decimal number; a field name starting "
                          "with a digit needs single quotes)", tok.pos)
    if any(c in tok.value for c in "+-*/%.") and not _plain_field(tok.value):
        raise Unsupported(f"arithmetic or operator in where expression {tok.value!r}", tok.pos)
    return EField(tok.value, tok.pos)


def _plain_field(name: str) -> bool:
    """Field names may contain dots (Processes.dest) but not arithmetic."""
    return all(c.isalnum() or c in "_." for c in name) and not name[0].isdigit()
