"""Parsing of the SPL commands the local runner implements (no execution here).

Each parser takes the command's tokens (without the command name) and returns a command object; syntax
errors name the command and the character position in the expanded search.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .errors import SplError, Unsupported
from .expr import EvalNode, SearchNode, parse_eval, parse_search
from .lexer import COMMA, LPAREN, OP, RPAREN, STRING, WORD, Token, tokenize, unescape


@dataclass
class SearchCmd:
    expr: SearchNode
    pos: int


@dataclass
class WhereCmd:
    expr: EvalNode
    pos: int


@dataclass
class RenameCmd:
    pairs: List[Tuple[str, str, int]]


@dataclass
class ConvertCmd:
    timeformat: str
    conversions: List[Tuple[str, str, Optional[str], int]]   # (function, field pattern, AS name, pos)


@dataclass
class LookupCmd:
    name: str
    inputs: List[Tuple[str, str]]          # (lookup field, event field)
    outputs: List[Tuple[str, str]]         # (lookup field, event field); empty = all other lookup fields
    mode: str                              # OUTPUT or OUTPUTNEW
    pos: int


@dataclass
class FieldsCmd:
    remove: bool
    patterns: List[str]


@dataclass
class TableCmd:
    patterns: List[str]


@dataclass
class Aggregate:
    func: str                  # count, min, max, values, dc
    field: Optional[str]
    name: str                  # output field name
    pos: int


@dataclass
class TstatsCmd:
    options: Dict[str, str]
    aggregates: List[Aggregate]
    datamodel: str
    where: Optional[SearchNode]
    by: List[str]
    pos: int


@dataclass
class CustomCmd:
    name: str
    args: List[str]            # as splunkd puts them in searchinfo.args (quotes removed)
    raw_args: List[str]        # as typed
    pos: int


DEFAULT_TIMEFORMAT = "%m/%d/%Y %H:%M:%S"
TSTATS_FUNCS = {"count", "min", "max", "values", "dc", "distinct_count"}
TSTATS_OPTIONS = {"summariesonly", "allow_old_summaries", "fillnull_value", "prestats", "local", "append",
                  "chunk_size", "include_reduced_buckets"}


def _name(tok: Token, what: str) -> str:
    if tok.kind not in (WORD, STRING):
        raise SplError(f"expected a field name in {what}, got {tok.value!r}", tok.pos)
    return tok.value


def _field_list(tokens: List[Token], what: str) -> List[str]:
    names = []
    for tok in tokens:
        if tok.kind == COMMA:
            continue
        names.append(_name(tok, what))
    return names


def parse_rename(tokens: List[Token], pos: int) -> RenameCmd:
    pairs = []
    i = 0
    while i < len(tokens):
        if tokens[i].kind == COMMA:
            i += 1
            continue
        if i + 2 >= len(tokens) or not tokens[i + 1].is_keyword("AS"):
            where = tokens[i].pos if i < len(tokens) else pos
            raise SplError("rename expects '<field> AS <newname>'", where)
        pairs.append((_name(tokens[i], "rename"), _name(tokens[i + 2], "rename"), tokens[i].pos))
        i += 3
    if not pairs:
        raise SplError("rename needs at least one '<field> AS <newname>'", pos)
    return RenameCmd(pairs)


def parse_convert(tokens: List[Token], pos: int) -> ConvertCmd:
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
            fld = _name(tokens[i + 2], "convert")
            i += 4
            as_name = None
            if i + 1 < len(tokens) and tokens[i].is_keyword("AS"):
                as_name = _name(tokens[i + 1], "convert")
                i += 2
            conversions.append((func, fld, as_name, tok.pos))
            continue
        raise SplError(f"convert: unexpected {tok.raw or tok.value!r} (expected timeformat=\"...\" or "
                       f"ctime(<field>))", tok.pos)
    if not conversions:
        raise SplError("convert needs at least one conversion such as ctime(<field>)", pos)
    return ConvertCmd(timeformat, conversions)


def parse_lookup(tokens: List[Token], pos: int) -> LookupCmd:
    i = 0
    while i + 2 < len(tokens) and tokens[i + 1].value == "=" and tokens[i].kind == WORD and \
            tokens[i].value.lower() in ("local", "update", "event_time_field"):
        if tokens[i].value.lower() == "event_time_field":
            raise Unsupported("lookup event_time_field", tokens[i].pos)
        i += 3
    if i >= len(tokens):
        raise SplError("lookup needs a lookup name", pos)
    name = _name(tokens[i], "lookup")
    i += 1
    inputs: List[Tuple[str, str]] = []
    outputs: List[Tuple[str, str]] = []
    mode = "OUTPUT"
    target = inputs
    seen_mode = False
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == COMMA:
            i += 1
            continue
        if tok.is_keyword("OUTPUT", "OUTPUTNEW") and not seen_mode:
            mode = tok.value.upper()
            target = outputs
            seen_mode = True
            i += 1
            continue
        src = _name(tok, "lookup")
        dst = src
        if i + 1 < len(tokens) and tokens[i + 1].is_keyword("AS"):
            if i + 2 >= len(tokens):
                raise SplError("lookup: AS without a field name", tokens[i + 1].pos)
            dst = _name(tokens[i + 2], "lookup")
            i += 3
        else:
            i += 1
        target.append((src, dst))
    if not inputs:
        raise SplError(f"lookup {name}: no input field", pos)
    if seen_mode and not outputs:
        raise SplError(f"lookup {name}: {mode} without fields", pos)
    return LookupCmd(name, inputs, outputs, mode, pos)


def parse_fields(tokens: List[Token], pos: int) -> FieldsCmd:
    remove = False
    if tokens and tokens[0].is_word("-", "+"):
        remove = tokens[0].value == "-"
        tokens = tokens[1:]
    patterns = _field_list(tokens, "fields")
    if not patterns:
        raise SplError("fields needs at least one field", pos)
    return FieldsCmd(remove, patterns)


def parse_table(tokens: List[Token], pos: int) -> TableCmd:
    patterns = _field_list(tokens, "table")
    if not patterns:
        raise SplError("table needs at least one field", pos)
    return TableCmd(patterns)


def parse_tstats(tokens: List[Token], pos: int, end_pos: int) -> TstatsCmd:
    i = 0
    options: Dict[str, str] = {}
    while i + 2 < len(tokens) and tokens[i].kind == WORD and tokens[i + 1].value == "=" and \
            tokens[i].value.lower() in TSTATS_OPTIONS:
        key = tokens[i].value.lower()
        options[key] = tokens[i + 2].value
        if key not in ("summariesonly", "allow_old_summaries", "fillnull_value"):
            raise Unsupported(f"tstats option {tokens[i].value}=", tokens[i].pos)
        i += 3
    aggregates: List[Aggregate] = []
    while i < len(tokens) and not tokens[i].is_keyword("FROM", "WHERE", "BY"):
        tok = tokens[i]
        if tok.kind == COMMA:
            i += 1
            continue
        func = tok.value.lower()
        if tok.kind != WORD:
            raise SplError(f"tstats: unexpected {tok.value!r}", tok.pos)
        fld = None
        if i + 1 < len(tokens) and tokens[i + 1].kind == LPAREN:
            if i + 3 >= len(tokens) or tokens[i + 3].kind != RPAREN:
                raise SplError(f"tstats: {tok.value}( needs one field and ')'", tok.pos)
            fld = _name(tokens[i + 2], "tstats")
            i += 4
        else:
            i += 1
        if func not in TSTATS_FUNCS:
            raise Unsupported(f"tstats function {tok.value}" + ("()" if fld else ""), tok.pos)
        if func != "count" and fld is None:
            raise SplError(f"tstats: {tok.value} needs a field, e.g. {tok.value}(_time)", tok.pos)
        name = tok.value if fld is None else f"{tok.value}({fld})"
        if i + 1 < len(tokens) and tokens[i].is_keyword("AS"):
            name = _name(tokens[i + 1], "tstats")
            i += 2
        aggregates.append(Aggregate("dc" if func == "distinct_count" else func, fld, name, tok.pos))
    if not aggregates:
        raise SplError("tstats needs at least one aggregate such as count", pos)
    datamodel = ""
    if i < len(tokens) and tokens[i].is_keyword("FROM"):
        if i + 3 > len(tokens) or not tokens[i + 1].is_word("datamodel") or tokens[i + 2].value != "=":
            raise Unsupported("tstats FROM other than datamodel=<model>.<dataset>", tokens[i].pos)
        if i + 3 >= len(tokens):
            raise SplError("tstats: datamodel= needs a name", tokens[i].pos)
        datamodel = tokens[i + 3].value
        i += 4
    else:
        raise Unsupported("tstats without FROM datamodel=... (index-time fields)", pos)
    where_tokens: List[Token] = []
    by: List[str] = []
    if i < len(tokens) and tokens[i].is_keyword("WHERE"):
        i += 1
        depth = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == LPAREN:
                depth += 1
            elif tok.kind == RPAREN:
                depth -= 1
            elif depth == 0 and tok.is_keyword("BY"):
                break
            where_tokens.append(tok)
            i += 1
    if i < len(tokens) and tokens[i].is_keyword("BY"):
        rest = tokens[i + 1:]
        for j, tok in enumerate(rest):
            if tok.kind == OP:
                raise Unsupported(f"tstats by option {rest[j - 1].value}=" if j else "tstats by option", tok.pos)
        by = _field_list(rest, "tstats by")
        if not by:
            raise SplError("tstats: BY without fields", tokens[i].pos)
        i = len(tokens)
    if i < len(tokens):
        raise SplError(f"tstats: unexpected {tokens[i].raw or tokens[i].value!r}", tokens[i].pos)
    where = parse_search(where_tokens, end_pos) if where_tokens else None
    return TstatsCmd(options, aggregates, datamodel, where, by, pos)


def split_args(text: str) -> Tuple[List[str], List[str]]:
    """Splits a custom command's argument text the way splunkd fills searchinfo.args / raw_args."""
    raw: List[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace():
            if text[j] == '"':
                j += 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j += 1
            elif text[j] == "\\":
                j += 2
            else:
                j += 1
        raw.append(text[i:j])
        i = j
    args = []
    for arg in raw:
        parts = re.split(r'("(?:[^"\\]|\\.)*")', arg)
        args.append("".join(unescape(p[1:-1]) if p.startswith('"') and p.endswith('"') and len(p) >= 2
                            else p for p in parts))
    return args, raw


def parse_command(name: str, text: str, pos: int, end_pos: int) -> object:
    """Parses one command of a known kind. Unknown names return None (caller checks commands.conf)."""
    lname = name.lower()
    if lname in ("search", "where", "rename", "convert", "lookup", "fields", "table", "tstats"):
        tokens = tokenize(text, pos, single_quotes=(lname == "where"))
        if lname == "search":
            return SearchCmd(parse_search(tokens, end_pos), pos)
        if lname == "where":
            return WhereCmd(parse_eval(tokens, end_pos), pos)
        if lname == "rename":
            return parse_rename(tokens, pos)
        if lname == "convert":
            return parse_convert(tokens, pos)
        if lname == "lookup":
            return parse_lookup(tokens, pos)
        if lname == "fields":
            return parse_fields(tokens, pos)
        if lname == "table":
            return parse_table(tokens, pos)
        return parse_tstats(tokens, pos, end_pos)
    return None


@dataclass
class Pipeline:
    generating: bool             # the search started with '|' (first command generates results)
    commands: List[Tuple[str, str, int]] = field(default_factory=list)   # (name, argument text, position)
