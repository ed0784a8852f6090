"""`sort`, `head`, `dedup`: commands that reorder or drop results (Search Reference: sort, head, dedup).

sort: `sort [<count>|limit=<count>] [+|-]<field>|[+|-]num(<field>)|str(<field>)|auto(<field>)... [desc|d]`;
at most <count> results (default 10000; 0 = all); `-` descending; results missing the field come last either
way ("treated as having the smallest or largest possible value ... if descending or ascending"); `str()`
compares as text, `num()` numbers numerically (other values after them, as text); by default (auto) numbers
sort numerically before other text, which sorts as text, and a value that starts with a digit but is not a
number is refused (Splunk sorts it "numerically based on that number alone"), as is text that starts with a
character before the digits (a space, `-`, `(` ...) among numbers (Splunk compares each pair); ties keep their order;
a trailing `desc` reverses the whole order. `ip()` is refused.
head: `head [<N>|limit=<N>]`, the first N results (default 10); an eval expression, `null=`, `keeplast=`
are refused.
dedup: `dedup [<N>] <field>... [keepempty=<bool>]`: keeps the first N (default 1) results of each
combination of the fields' values, in order; results without one of the fields are removed unless
`keepempty=true` (then all are kept). `consecutive=`, `keepevents=`, `sortby` and multivalue fields are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..errors import SplError, Unsupported
from ..lexer import COMMA, LPAREN, OP, RPAREN, STRING, WORD, Token
from ..numbers import DECIMAL
from ..sql import Col, lit, text_of
from .base import Command, CommandSpec, Frame, Runtime, field_list, name_of, register

SORT_LIMIT = 10_000
HEAD_DEFAULT = 10
_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


def _int(tok: Token, what: str) -> int:
    if not tok.value.isdigit():
        raise SplError(f"{what}: {tok.value!r} is not a whole number", tok.pos)
    return int(tok.value)


def _bool(tok: Token, what: str) -> bool:
    v = tok.value.lower()
    if v not in _TRUE | _FALSE:
        raise SplError(f"{what}: {tok.value!r} is not a Boolean", tok.pos)
    return v in _TRUE


# ---- sort ---------------------------------------------------------------------------------------------
@dataclass
class SortKey:
    field: str
    desc: bool
    kind: str          # auto, num, str
    pos: int


@dataclass
class SortCmd(Command):
    limit: int
    keys: List[SortKey]
    reverse: bool


def parse_sort(tokens: List[Token], pos: int, end: int) -> SortCmd:
    limit = SORT_LIMIT
    i = 0
    if tokens and tokens[0].kind == WORD and tokens[0].value.isdigit():
        limit, i = int(tokens[0].value), 1
    elif len(tokens) >= 3 and tokens[0].is_word("limit") and tokens[1].kind == OP:
        limit, i = _int(tokens[2], "sort limit"), 3
    keys: List[SortKey] = []
    reverse = False
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == COMMA:
            i += 1
            continue
        if tok.is_keyword("D", "DESC") and i == len(tokens) - 1 and keys:
            reverse = True
            break
        desc = False
        value = tok.value
        if tok.kind == WORD and value in ("-", "+"):
            desc = value == "-"
            i += 1
            if i >= len(tokens):
                raise SplError(f"sort: {value} without a field", tok.pos)
            tok = tokens[i]
            value = tok.value
        elif tok.kind == WORD and value[:1] in "-+" and len(value) > 1:
            desc, value = value[0] == "-", value[1:]
        kind = "auto"
        if i + 1 < len(tokens) and tokens[i + 1].kind == LPAREN:
            kind = value.lower()
            if kind == "ip":
                raise Unsupported("sort ip()", tok.pos)
            if kind not in ("auto", "num", "str"):
                raise SplError(f"sort: unknown sort type {value}()", tok.pos)
            if i + 3 >= len(tokens) or tokens[i + 3].kind != RPAREN:
                raise SplError(f"sort: {value}( needs one field and ')'", tok.pos)
            value = name_of(tokens[i + 2], "sort")
            i += 4
        else:
            if tok.kind not in (WORD, STRING):
                raise SplError(f"sort: unexpected {tok.raw or tok.value!r}", tok.pos)
            i += 1
        keys.append(SortKey(value, desc, kind, tok.pos))
    if not keys:
        raise SplError("sort needs at least one field", pos)
    return SortCmd(pos, limit, keys, reverse)


def _order_terms(key: SortKey, col: Optional[Col]) -> List[Tuple[str, bool]]:
    """(expression, ascending) terms for one key: missing values last, then numbers (auto/num), then text."""
    if col is None:
        return []
    if col.is_list:
        raise Unsupported(f"sort by the multivalue field {key.field}", key.pos)
    text = text_of(col.sql, col.type)
    terms = [(f"({col.sql} IS NULL)", True)]
    if key.kind != "str":
        num = col.sql if col.is_number else \
            f"(CASE WHEN regexp_full_match({text}, {lit(DECIMAL)}) THEN TRY_CAST({text} AS DOUBLE) END)"
        terms += [(f"({num} IS NULL)", not key.desc), (num, not key.desc)]
    terms.append((text, not key.desc))
    return terms


def compile_sort(cmd: SortCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    by_name = {c.name: c for c in frame.cols}
    terms: List[Tuple[str, bool]] = []
    for key in cmd.keys:
        col = by_name.get(key.field)
        if col is not None and key.kind == "auto" and not col.is_number and not col.is_list:
            text = text_of(col.sql, col.type)
            bad = rt.count(f"SELECT count(*) FROM {frame.table} WHERE regexp_matches({text}, '^[0-9]') "
                           f"AND NOT regexp_full_match({text}, {lit(DECIMAL)})")
            if bad:
                raise Unsupported(f"sort by {key.field}: values that start with a digit but are not numbers "
                                  "(Splunk orders them by their leading number)", key.pos)
            # Splunk compares each pair of values: a number against text that sorts before digits (a space or
            # a symbol such as '-' or '(' first) is not documented
            nums = rt.count(f"SELECT count(*) FROM {frame.table} WHERE regexp_full_match({text}, {lit(DECIMAL)})")
            low = rt.count(f"SELECT count(*) FROM {frame.table} WHERE {text} < '0' AND "
                           f"NOT regexp_full_match({text}, {lit(DECIMAL)})") if nums else 0
            if low:
                raise Unsupported(f"sort by {key.field}: numbers mixed with text that starts with a character "
                                  "before the digits", key.pos)
        terms += _order_terms(key, col)
    terms.append(("__ord", True))
    # a trailing desc reverses the whole order (missing values and ties too)
    order = ", ".join(f"{sql} {'ASC' if asc != cmd.reverse else 'DESC'}" for sql, asc in terms)
    limit = f" LIMIT {cmd.limit}" if cmd.limit else ""
    sub = f"(SELECT * FROM {frame.table} ORDER BY {order}{limit}) AS s"
    return rt.materialize(sub, [(c.name, c.sql) for c in frame.cols], "TRUE", order)


# ---- head ---------------------------------------------------------------------------------------------
@dataclass
class HeadCmd(Command):
    limit: int


def parse_head(tokens: List[Token], pos: int, end: int) -> HeadCmd:
    if not tokens:
        return HeadCmd(pos, HEAD_DEFAULT)
    if len(tokens) == 1 and tokens[0].kind == WORD and tokens[0].value.isdigit():
        return HeadCmd(pos, int(tokens[0].value))
    if len(tokens) == 3 and tokens[0].is_word("limit") and tokens[1].value == "=":
        return HeadCmd(pos, _int(tokens[2], "head limit"))
    if len(tokens) >= 2 and tokens[0].kind == WORD and tokens[1].value == "=" and \
            tokens[0].value.lower() in ("null", "keeplast"):
        raise Unsupported(f"head {tokens[0].value}=", tokens[0].pos)
    raise Unsupported("head with an eval expression", tokens[0].pos)


def compile_head(cmd: HeadCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    return rt.materialize(frame.table, [(c.name, c.sql) for c in frame.cols],
                          f"__ord IN (SELECT __ord FROM {frame.table} ORDER BY __ord LIMIT {cmd.limit})")


# ---- dedup --------------------------------------------------------------------------------------------
@dataclass
class DedupCmd(Command):
    count: int
    fields: List[str]
    keepempty: bool


def parse_dedup(tokens: List[Token], pos: int, end: int) -> DedupCmd:
    count = 1
    i = 0
    if tokens and tokens[0].kind == WORD and tokens[0].value.isdigit():
        count, i = int(tokens[0].value), 1
        if count < 1:
            raise SplError("dedup: the count must be at least 1", tokens[0].pos)
    keepempty = False
    names: List[Token] = []
    while i < len(tokens):
        tok = tokens[i]
        if tok.is_keyword("SORTBY"):
            raise Unsupported("dedup sortby", tok.pos)
        if tok.kind == WORD and i + 2 < len(tokens) and tokens[i + 1].kind == OP:
            key = tok.value.lower()
            if key == "keepempty":
                keepempty = _bool(tokens[i + 2], "dedup keepempty")
            elif key in ("consecutive", "keepevents"):
                if _bool(tokens[i + 2], f"dedup {key}"):
                    raise Unsupported(f"dedup {key}=true", tok.pos)
            else:
                raise SplError(f"dedup: unknown option {tok.value}=", tok.pos)
            i += 3
            continue
        names.append(tok)
        i += 1
    fields = field_list(names, "dedup")
    if not fields:
        raise SplError("dedup needs at least one field", pos)
    for f in fields:
        if "*" in f:
            raise Unsupported(f"dedup wildcard field {f}", pos)
    return DedupCmd(pos, count, fields, keepempty)


def compile_dedup(cmd: DedupCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    by_name = {c.name: c for c in frame.cols}
    keys: List[str] = []
    for f in cmd.fields:
        col = by_name.get(f)
        if col is not None and col.is_list:
            raise Unsupported(f"dedup by the multivalue field {f}", cmd.pos)
        keys.append(text_of(col.sql, col.type) if col is not None else "CAST(NULL AS VARCHAR)")
    complete = " AND ".join(f"({k}) IS NOT NULL" for k in keys)
    ranked = (f"SELECT __ord FROM (SELECT __ord, {complete} AS __full, row_number() OVER "
              f"(PARTITION BY {', '.join(keys)} ORDER BY __ord) AS __n FROM {frame.table}) "
              f"WHERE __full AND __n <= {cmd.count}")
    where = f"__ord IN ({ranked})"
    if cmd.keepempty:
        where = f"({where}) OR NOT ({complete})"
    return rt.materialize(frame.table, [(c.name, c.sql) for c in frame.cols], where)


register(CommandSpec("sort", SortCmd, parse_sort, compile_sort))
register(CommandSpec("head", HeadCmd, parse_head, compile_head))
register(CommandSpec("dedup", DedupCmd, parse_dedup, compile_dedup))
