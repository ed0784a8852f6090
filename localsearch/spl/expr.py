"""Parsers for the two expression languages of SPL used here.

* Search expressions (`search`, the implied leading search, `tstats ... where`): implicit AND; NOT binds
  tightest, then OR, then AND (Splunk Search Manual, "Boolean expressions": the search command evaluates OR
  before AND); `field=value`, `!=`, `<`, `>`, `<=`, `>=`, `field IN (v1, v2)`, `*` wildcards in values.
* Eval expressions (`where`): NOT, then AND, then OR (the eval/where order); comparisons, LIKE, string and
  number literals, field names bare or in single quotes, a few functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

from .errors import SplError, Unsupported
from .lexer import COMMA, FIELD, LPAREN, OP, RPAREN, STRING, WORD, Token


# ---- search expression AST -------------------------------------------------------------------------
@dataclass(frozen=True)
class And:
    items: Tuple["SearchNode", ...]


@dataclass(frozen=True)
class Or:
    items: Tuple["SearchNode", ...]


@dataclass(frozen=True)
class Not:
    item: "SearchNode"


@dataclass(frozen=True)
class Compare:
    field: str
    op: str            # = != < > <= >=
    value: str
    pos: int


@dataclass(frozen=True)
class MatchAll:
    """A bare `*`."""


@dataclass(frozen=True)
class Term:
    """A bare keyword or phrase (full-text search of _raw)."""
    value: str
    pos: int


SearchNode = Union[And, Or, Not, Compare, MatchAll, Term]

# Search modifiers that look like fields but are not event fields.
SEARCH_MODIFIERS = {"earliest", "latest", "_index_earliest", "_index_latest", "starttime", "endtime",
                    "starthoursago", "endhoursago", "startminutesago", "endminutesago", "startdaysago",
                    "enddaysago", "startmonthsago", "endmonthsago", "searchtimespanhours",
                    "searchtimespanminutes", "searchtimespandays", "searchtimespanmonths", "daysago",
                    "hoursago", "minutesago", "monthsago", "eventtype", "tag", "savedsearch",
                    "savedsplunk", "timeformat", "eventtypetag", "hosttag", "splunk_server",
                    "splunk_server_group"}


class _Cursor:
    def __init__(self, tokens: List[Token], end_pos: int):
        self.tokens = tokens
        self.i = 0
        self.end_pos = end_pos

    def peek(self, k: int = 0) -> Optional[Token]:
        j = self.i + k
        return self.tokens[j] if j < len(self.tokens) else None

    def next(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise SplError("unexpected end of expression", self.end_pos)
        self.i += 1
        return tok

    def pos(self) -> int:
        tok = self.peek()
        return tok.pos if tok is not None else self.end_pos


def parse_search(tokens: List[Token], end_pos: int = 0) -> SearchNode:
    """Parses a search expression. An empty expression matches everything."""
    if not tokens:
        return MatchAll()
    cur = _Cursor(tokens, end_pos)
    node = _s_and(cur)
    if cur.peek() is not None:
        tok = cur.peek()
        raise SplError(f"unexpected {tok.raw or tok.value!r} in search expression", tok.pos)
    return node


def _s_and(cur: _Cursor) -> SearchNode:
    items = [_s_or(cur)]
    while True:
        tok = cur.peek()
        if tok is None or tok.kind == RPAREN:
            break
        if tok.is_word("AND"):
            cur.next()
        items.append(_s_or(cur))
    return items[0] if len(items) == 1 else And(tuple(items))


def _s_or(cur: _Cursor) -> SearchNode:
    items = [_s_not(cur)]
    while cur.peek() is not None and cur.peek().is_word("OR"):
        cur.next()
        items.append(_s_not(cur))
    return items[0] if len(items) == 1 else Or(tuple(items))


def _s_not(cur: _Cursor) -> SearchNode:
    tok = cur.peek()
    if tok is not None and tok.is_word("NOT"):
        cur.next()
        return Not(_s_not(cur))
    return _s_primary(cur)


def _s_primary(cur: _Cursor) -> SearchNode:
    tok = cur.next()
    if tok.kind == LPAREN:
        node = _s_and(cur)
        close = cur.peek()
        if close is None or close.kind != RPAREN:
            raise SplError("missing ')' in search expression", tok.pos)
        cur.next()
        return node
    if tok.kind == RPAREN:
        raise SplError("unexpected ')' in search expression", tok.pos)
    if tok.kind in (OP, COMMA):
        raise SplError(f"unexpected {tok.value!r} in search expression", tok.pos)
    if tok.is_word("AND", "OR"):
        raise SplError(f"{tok.value} without a term before it", tok.pos)
    nxt = cur.peek()
    if tok.kind == WORD and nxt is not None and nxt.kind == OP:
        op = cur.next()
        if op.value == "==":
            raise SplError("'==' is not a search operator (use '=')", op.pos)
        val = cur.peek()
        if val is None or val.kind not in (WORD, STRING) or val.is_word("AND", "OR", "NOT"):
            raise SplError(f"missing value after {tok.value}{op.value}", op.pos)
        cur.next()
        _check_field(tok)
        return Compare(tok.value, op.value, val.value, tok.pos)
    if tok.kind == WORD and nxt is not None and nxt.is_keyword("IN") and \
            cur.peek(1) is not None and cur.peek(1).kind == LPAREN:
        cur.next()
        cur.next()
        values: List[str] = []
        while True:
            v = cur.next()
            if v.kind == RPAREN:
                break
            if v.kind == COMMA:
                continue
            if v.kind not in (WORD, STRING):
                raise SplError(f"unexpected {v.value!r} in IN list", v.pos)
            values.append(v.value)
        if not values:
            raise SplError(f"empty IN list for {tok.value}", tok.pos)
        _check_field(tok)
        return Or(tuple(Compare(tok.value, "=", v, tok.pos) for v in values))
    if tok.kind == WORD and tok.value == "*":
        return MatchAll()
    return Term(tok.value, tok.pos)


def _check_field(tok: Token) -> None:
    if tok.value.lower() in SEARCH_MODIFIERS:
        raise Unsupported(f"search modifier {tok.value}= (use --earliest/--latest for time)", tok.pos)
    if "*" in tok.value:
        raise Unsupported(f"wildcard in field name {tok.value!r}", tok.pos)


# ---- eval expression AST (where) -------------------------------------------------------------------
@dataclass(frozen=True)
class EField:
    name: str
    pos: int


@dataclass(frozen=True)
class EStr:
    value: str


@dataclass(frozen=True)
class ENum:
    value: float
    text: str


@dataclass(frozen=True)
class EBool:
    value: bool


@dataclass(frozen=True)
class ECall:
    name: str
    args: Tuple["EvalNode", ...]
    pos: int


@dataclass(frozen=True)
class EBinary:
    op: str              # AND OR = != < > <= >= LIKE
    left: "EvalNode"
    right: "EvalNode"
    pos: int


@dataclass(frozen=True)
class ENot:
    item: "EvalNode"


EvalNode = Union[EField, EStr, ENum, EBool, ECall, EBinary, ENot]

EVAL_FUNCTIONS = {"isnull": 1, "isnotnull": 1, "like": 2, "match": 2, "lower": 1, "upper": 1, "len": 1,
                  "in": -1, "coalesce": -1, "true": 0, "false": 0, "isnum": 1, "isstr": 1}


def _number(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


def parse_eval(tokens: List[Token], end_pos: int = 0) -> EvalNode:
    if not tokens:
        raise SplError("empty expression", end_pos)
    cur = _Cursor(tokens, end_pos)
    node = _e_or(cur)
    if cur.peek() is not None:
        tok = cur.peek()
        raise SplError(f"unexpected {tok.raw or tok.value!r} in expression", tok.pos)
    return node


def _e_or(cur: _Cursor) -> EvalNode:
    node = _e_and(cur)
    while cur.peek() is not None and cur.peek().is_keyword("OR"):
        tok = cur.next()
        node = EBinary("OR", node, _e_and(cur), tok.pos)
    if cur.peek() is not None and cur.peek().is_keyword("XOR"):
        raise Unsupported("XOR in where", cur.pos())
    return node


def _e_and(cur: _Cursor) -> EvalNode:
    node = _e_not(cur)
    while cur.peek() is not None and cur.peek().is_keyword("AND"):
        tok = cur.next()
        node = EBinary("AND", node, _e_not(cur), tok.pos)
    return node


def _e_not(cur: _Cursor) -> EvalNode:
    tok = cur.peek()
    if tok is not None and tok.is_keyword("NOT"):
        cur.next()
        return ENot(_e_not(cur))
    return _e_cmp(cur)


def _e_cmp(cur: _Cursor) -> EvalNode:
    left = _e_operand(cur)
    tok = cur.peek()
    if tok is not None and tok.kind == OP:
        cur.next()
        op = "=" if tok.value == "==" else tok.value
        return EBinary(op, left, _e_operand(cur), tok.pos)
    if tok is not None and tok.is_keyword("LIKE"):
        cur.next()
        return EBinary("LIKE", left, _e_operand(cur), tok.pos)
    if tok is not None and tok.is_keyword("IN") and cur.peek(1) is not None and cur.peek(1).kind == LPAREN:
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


def _e_operand(cur: _Cursor) -> EvalNode:
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
        if name not in EVAL_FUNCTIONS:
            raise Unsupported(f"eval function {tok.value}()", tok.pos)
        cur.next()
        args: List[EvalNode] = []
        if cur.peek() is not None and cur.peek().kind == RPAREN:
            cur.next()
        else:
            while True:
                args.append(_e_or(cur))
                sep = cur.next()
                if sep.kind == RPAREN:
                    break
                if sep.kind != COMMA:
                    raise SplError(f"expected ',' or ')' in {tok.value}()", sep.pos)
        arity = EVAL_FUNCTIONS[name]
        if arity >= 0 and len(args) != arity:
            raise SplError(f"{tok.value}() takes {arity} argument(s), got {len(args)}", tok.pos)
        if arity < 0 and len(args) < (2 if name == "in" else 1):
            raise SplError(f"{tok.value}() needs more arguments", tok.pos)
        return ECall(name, tuple(args), tok.pos)
    num = _number(tok.value)
    if num is not None:
        return ENum(num, tok.value)
    if any(c in tok.value for c in "+-*/%.") and not _plain_field(tok.value):
        raise Unsupported(f"arithmetic or operator in where expression {tok.value!r}", tok.pos)
    return EField(tok.value, tok.pos)


def _plain_field(name: str) -> bool:
    """Field names may contain dots (Processes.dest) but not arithmetic."""
    return all(c.isalnum() or c in "_." for c in name) and not name[0].isdigit()
