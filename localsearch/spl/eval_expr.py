"""Parser of eval expressions (`eval`, `where`).

Splunk rules (Search Reference, "eval" and "Evaluation functions", "Operators"): string literals in double
quotes, field names bare or in single quotes, numbers in decimal notation; the arithmetic operators `+ - * / %`,
`.` concatenation, comparisons `= == != < > <= >=`, `LIKE`, `IN (...)`, `NOT`, `AND`, `XOR`, `OR` (keywords in
any case). Binding from tightest: unary minus; `* / %`; `+ - .`; comparisons; NOT; AND; XOR; OR. Function calls
are checked against the registry in functions.py (name, argument count).

A bare field name holds only letters, digits and `_`: "If the expression references a field name that contains
non-alphanumeric characters, it needs to be surrounded by single quotation marks" (eval), so an unquoted
`Processes.dest` is the concatenation of fields `Processes` and `dest` (as ESCU's `RTLO_command_1.RTLO_command_2`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Mapping, Optional

from .ast import EBinary, ECall, EField, ENot, ENum, EStr, EvalNode
from .errors import SplError, Unsupported
from .functions import FUNCTIONS, EvalFunction
from .lexer import COMMA, FIELD, LPAREN, OP, RPAREN, STRING, WORD, Token
from .numbers import number_literal

# token kinds of the expression (the shared lexer's words are split at arithmetic operators)
NUM, IDENT, STR, QFIELD, ARITH, CMP, LP, RP, SEP = "num", "ident", "str", "qfield", "arith", "cmp", "(", ")", ","

_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS = {"AND", "OR", "NOT", "XOR", "LIKE", "IN"}


@dataclass(frozen=True)
class ETok:
    kind: str
    value: str
    pos: int


def _split_word(tok: Token) -> List[ETok]:
    text, base, out, i = tok.value, tok.pos, [], 0
    while i < len(text):
        c = text[i]
        m = _DECIMAL.match(text, i) if (c.isdigit() or c == "." and text[i + 1:i + 2].isdigit()) else None
        if m and not (m.end() < len(text) and (text[m.end()].isalpha() or text[m.end()] == "_")):
            out.append(ETok(NUM, m.group(0), base + i))
            i = m.end()
            continue
        if m or c.isdigit():
            raise Unsupported(f"{text!r} in an eval expression (not a decimal number; a field name starting with a "
                              "digit needs single quotes)", base + i)
        m = _IDENT.match(text, i)
        if m:
            out.append(ETok(IDENT, m.group(0), base + i))
            i = m.end()
            continue
        if c in "+-*/%.":
            out.append(ETok(ARITH, c, base + i))
            i += 1
            continue
        raise SplError(f"unexpected {c!r} in eval expression {text!r} (a field name with it needs single quotes)",
                       base + i)
    return out


def expression_tokens(tokens: List[Token]) -> List[ETok]:
    out: List[ETok] = []
    for tok in tokens:
        if tok.kind == WORD:
            out.extend(_split_word(tok))
        elif tok.kind == STRING:
            out.append(ETok(STR, tok.value, tok.pos))
        elif tok.kind == FIELD:
            out.append(ETok(QFIELD, tok.value, tok.pos))
        elif tok.kind == OP:
            out.append(ETok(CMP, "=" if tok.value == "==" else tok.value, tok.pos))
        elif tok.kind in (LPAREN, RPAREN, COMMA):
            out.append(ETok({LPAREN: LP, RPAREN: RP, COMMA: SEP}[tok.kind], tok.value, tok.pos))
        else:
            raise SplError(f"unexpected {tok.value!r} in expression", tok.pos)
    return out


class _Cur:
    def __init__(self, toks: List[ETok], end_pos: int, functions: Mapping[str, EvalFunction]):
        self.toks, self.i, self.end_pos, self.functions = toks, 0, end_pos, functions

    def peek(self, k: int = 0) -> Optional[ETok]:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def next(self) -> ETok:
        tok = self.peek()
        if tok is None:
            raise SplError("unexpected end of expression", self.end_pos)
        self.i += 1
        return tok

    def keyword(self, *words: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.kind == IDENT and tok.value.upper() in words

    def kind(self, kind: str, value: Optional[str] = None, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.kind == kind and (value is None or tok.value == value)


def parse_eval(tokens: List[Token], end_pos: int = 0,
               functions: Optional[Mapping[str, EvalFunction]] = None) -> EvalNode:
    """Parses an eval expression; `functions` (default: the registry) are the callable functions."""
    from . import eval_sql  # noqa: F401  (registers the functions; imported here: eval_sql imports sql, which imports this)
    if not tokens:
        raise SplError("empty expression", end_pos)
    cur = _Cur(expression_tokens(tokens), end_pos, FUNCTIONS if functions is None else functions)
    node = _or(cur)
    tok = cur.peek()
    if tok is not None:
        raise SplError(f"unexpected {tok.value!r} in expression", tok.pos)
    return node


def _or(cur: _Cur) -> EvalNode:
    node = _xor(cur)
    while cur.keyword("OR"):
        tok = cur.next()
        node = EBinary("OR", node, _xor(cur), tok.pos)
    return node


def _xor(cur: _Cur) -> EvalNode:
    node = _and(cur)
    while cur.keyword("XOR"):
        tok = cur.next()
        node = EBinary("XOR", node, _and(cur), tok.pos)
    return node


def _and(cur: _Cur) -> EvalNode:
    node = _not(cur)
    while cur.keyword("AND"):
        tok = cur.next()
        node = EBinary("AND", node, _not(cur), tok.pos)
    return node


def _not(cur: _Cur) -> EvalNode:
    if cur.keyword("NOT"):
        cur.next()
        return ENot(_not(cur))
    return _cmp(cur)


def _cmp(cur: _Cur) -> EvalNode:
    left = _add(cur)
    tok = cur.peek()
    if tok is not None and tok.kind == CMP:
        cur.next()
        return EBinary(tok.value, left, _add(cur), tok.pos)
    if cur.keyword("LIKE"):
        cur.next()
        return EBinary("LIKE", left, _add(cur), tok.pos if tok else 0)
    if tok is not None and cur.keyword("IN") and cur.kind(LP, k=1):
        cur.next()
        cur.next()
        values = _args(cur, "IN list")
        if not values:
            raise SplError("empty IN list", tok.pos)
        return ECall("in", tuple([left] + values), tok.pos)
    return left


def _add(cur: _Cur) -> EvalNode:
    node = _mul(cur)
    while cur.kind(ARITH) and cur.peek().value in "+-.":   # type: ignore[union-attr]
        tok = cur.next()
        node = EBinary(tok.value, node, _mul(cur), tok.pos)
    return node


def _mul(cur: _Cur) -> EvalNode:
    node = _unary(cur)
    while cur.kind(ARITH) and cur.peek().value in "*/%":   # type: ignore[union-attr]
        tok = cur.next()
        node = EBinary(tok.value, node, _unary(cur), tok.pos)
    return node


def _unary(cur: _Cur) -> EvalNode:
    if cur.kind(ARITH, "-"):
        tok = cur.next()
        operand = _unary(cur)
        if isinstance(operand, ENum):
            return ENum(-operand.value, "-" + operand.text)
        return EBinary("-", ENum(0.0, "0"), operand, tok.pos)     # -x is 0 - x (null stays null)
    if cur.kind(ARITH, "+"):
        cur.next()
        return _unary(cur)
    return _primary(cur)


def _args(cur: _Cur, what: str) -> List[EvalNode]:
    """Comma-separated expressions up to the closing ')' (the '(' is consumed)."""
    args: List[EvalNode] = []
    if cur.kind(RP):
        cur.next()
        return args
    while True:
        args.append(_or(cur))
        sep = cur.next()
        if sep.kind == RP:
            return args
        if sep.kind != SEP:
            raise SplError(f"expected ',' or ')' in {what}", sep.pos)


def _primary(cur: _Cur) -> EvalNode:
    tok = cur.next()
    if tok.kind == LP:
        node = _or(cur)
        close = cur.peek()
        if close is None or close.kind != RP:
            raise SplError("missing ')' in expression", tok.pos)
        cur.next()
        return node
    if tok.kind == STR:
        return EStr(tok.value)
    if tok.kind == QFIELD:
        return EField(tok.value, tok.pos)
    if tok.kind == NUM:
        value = number_literal(tok.value, tok.pos)
        assert value is not None
        return ENum(value, tok.value)
    if tok.kind != IDENT:
        raise SplError(f"unexpected {tok.value!r} in expression", tok.pos)
    if cur.kind(LP):
        name = tok.value.lower()
        spec = cur.functions.get(name)
        if spec is None:
            raise Unsupported(f"eval function {tok.value}()", tok.pos)
        cur.next()
        args = _args(cur, f"{tok.value}()")
        spec.check_arity(tok.value, len(args), tok.pos)
        return ECall(name, tuple(args), tok.pos)
    if tok.value.upper() in KEYWORDS:
        raise SplError(f"{tok.value} where a value was expected", tok.pos)
    return EField(tok.value, tok.pos)
