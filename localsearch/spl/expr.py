"""Parser of search expressions (the eval/where parser is in eval_expr.py, re-exported here).

* Search expressions (`search`, the implied leading search, `tstats ... where`): implicit AND; NOT binds
  tightest, then OR, then AND (Splunk Search Manual, "Boolean expressions": the search command evaluates OR
  before AND); `field=value`, `!=`, `<`, `>`, `<=`, `>=`, `field IN (v1, v2)`, `*` wildcards in values.
* Eval expressions (`where`): NOT, then AND, then OR (the eval/where order); comparisons, LIKE, string and
  number literals, field names bare or in single quotes, a few functions.
"""
from __future__ import annotations

import re
from typing import List

from .ast import (And, Compare, EBinary, EBool, ECall, EField, ENot, ENum, EStr, EvalNode, MatchAll, Not,
                  Or, SearchNode, Term)
from .errors import SplError, Unsupported
from .cursor import Cursor
from .lexer import COMMA, LPAREN, OP, RPAREN, STRING, WORD, Token

__all__ = ["And", "Compare", "EBinary", "EBool", "ECall", "EField", "ENot", "ENum", "EStr", "EvalNode",
           "MatchAll", "Not", "Or", "SearchNode", "Term", "Cursor", "parse_search", "parse_eval",
           "SEARCH_MODIFIERS"]

# Search modifiers that look like fields but are not event fields.
SEARCH_MODIFIERS = {"earliest", "latest", "_index_earliest", "_index_latest", "starttime", "endtime",
                    "starthoursago", "endhoursago", "startminutesago", "endminutesago", "startdaysago",
                    "enddaysago", "startmonthsago", "endmonthsago", "searchtimespanhours",
                    "searchtimespanminutes", "searchtimespandays", "searchtimespanmonths", "daysago",
                    "hoursago", "minutesago", "monthsago", "eventtype", "tag", "savedsearch",
                    "savedsplunk", "timeformat", "eventtypetag", "hosttag", "splunk_server",
                    "splunk_server_group"}


def parse_search(tokens: List[Token], end_pos: int = 0) -> SearchNode:
    """Parses a search expression. An empty expression matches everything."""
    if not tokens:
        return MatchAll()
    cur = Cursor(tokens, end_pos)
    node = _s_and(cur)
    if cur.peek() is not None:
        raise cur.unexpected("search expression")
    return node


def _s_and(cur: Cursor) -> SearchNode:
    items = [_s_or(cur)]
    while True:
        tok = cur.peek()
        if tok is None or tok.kind == RPAREN:
            break
        if tok.is_word("AND"):
            cur.next()
        items.append(_s_or(cur))
    return items[0] if len(items) == 1 else And(tuple(items))


def _s_or(cur: Cursor) -> SearchNode:
    items = [_s_not(cur)]
    while cur.at_word("OR"):
        cur.next()
        items.append(_s_not(cur))
    return items[0] if len(items) == 1 else Or(tuple(items))


def _s_not(cur: Cursor) -> SearchNode:
    tok = cur.peek()
    if tok is not None and tok.is_word("NOT"):
        cur.next()
        return Not(_s_not(cur))
    return _s_primary(cur)


def _quote_then_text(raw: str) -> bool:
    """Whether a word as typed holds a quoted part with unquoted text after it (`"* Nul*"Processes.x`)."""
    return bool(re.search(r'"[^"]*"[^"\s]', raw))


def _s_primary(cur: Cursor) -> SearchNode:
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
        prev = cur.tokens[cur.i - 2] if cur.i >= 2 else None
        if tok.kind == OP and prev is not None and prev.kind == WORD and _quote_then_text(prev.raw):
            # `f="a"g="b"`: the Search Reference does not say how a quoted value directly followed by more
            # text is split (one value `ag`, or two terms); refused rather than guessed
            raise Unsupported(f"a quoted value directly followed by more text ({prev.raw}{tok.value})", prev.pos)
        raise SplError(f"unexpected {tok.value!r} in search expression", tok.pos)
    if tok.is_word("AND", "OR"):
        raise SplError(f"{tok.value} without a term before it", tok.pos)
    nxt = cur.peek()
    # a field name may be quoted: "Processes.process_name"=cmd.exe
    if tok.kind in (WORD, STRING) and nxt is not None and nxt.kind == OP:
        return _comparison(cur, tok)
    # IN is upper case only (a lower-case `in` is a search term)
    if tok.kind == WORD and nxt is not None and nxt.is_word("IN") and cur.at_kind(LPAREN, 1):
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
    if tok.is_word("CASE", "TERM") and cur.at_kind(LPAREN) and cur.at_kind(RPAREN, 2):
        cur.next()
        inner = cur.next()
        cur.next()
        if inner.kind not in (WORD, STRING):
            raise SplError(f"{tok.value}() needs a term", inner.pos)
        return Term(inner.value, tok.pos, quoted=inner.kind == STRING, case=tok.value == "CASE",
                    exact=tok.value == "TERM")
    return Term(tok.value, tok.pos, quoted=tok.kind == STRING)


_DIRECTIVE = re.compile(r"(CASE|TERM)\((.*)\)", re.S)


def _comparison(cur: Cursor, tok: Token) -> Compare:
    op = cur.next()
    if op.value == "==":
        raise SplError("'==' is not a search operator (use '=')", op.pos)
    val = cur.peek()
    if val is None or val.kind not in (WORD, STRING) or val.is_word("AND", "OR", "NOT"):
        raise SplError(f"missing value after {tok.value}{op.value}", op.pos)
    cur.next()
    _check_field(tok)
    directive = _DIRECTIVE.fullmatch(val.value) if val.kind == WORD else None
    if directive is None:
        return Compare(tok.value, op.value, val.value, tok.pos)
    if directive.group(1) == "TERM" or op.value not in ("=", "!="):
        raise Unsupported(f"{directive.group(1)}() in {tok.value}{op.value}{val.raw}", val.pos)
    return Compare(tok.value, op.value, directive.group(2), tok.pos, case=True)


def _check_field(tok: Token) -> None:
    if tok.value.lower() in SEARCH_MODIFIERS:
        raise Unsupported(f"search modifier {tok.value}= (use --earliest/--latest for time)", tok.pos)
    if "*" in tok.value:
        raise Unsupported(f"wildcard in field name {tok.value!r}", tok.pos)


from .eval_expr import parse_eval  # noqa: E402  (re-export)
