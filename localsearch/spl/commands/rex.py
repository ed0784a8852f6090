"""`regex` and `rex`: regular expressions (PCRE in Splunk) run by DuckDB's RE2 where they mean the same
(regex.py translates or refuses them).

Splunk rules (Search Reference, regex, rex):
- `regex [<field>=|<field>!=]"<regex>"` keeps the results whose field (default `_raw`) matches, or with `!=`
  does not match, anywhere in the value. A result without the field does not match `=`; for `!=` such a result
  is refused when met (not documented).
- `rex [field=<field>] [max_match=<n>] "<regex>"` sets a field from each named group of the first match in the
  field (default `_raw`); a result where the regex does not match keeps its fields. `max_match` > 1 (0: no
  limit) gives the values of up to that many matches as a multivalue field.
- `rex [field=<field>] mode=sed "s/<regex>/<replacement>/[g]"` or `"y/<from>/<to>/"` replaces the value of the
  field in place (`\\1`..`\\9` in the replacement are groups; without `g` only the first match).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from ..errors import SplError, Unsupported
from ..eval_sql import NULL_TEXT, EvalCompiler
from ..eval_text import _rewrite
from ..ast import EField
from ..lexer import OP, STRING, WORD, Token
from ..regex import Re2, guarded_subject, to_re2
from ..sql import Col, lit, resolver_for
from .base import Command, CommandSpec, Frame, Runtime, register
from .evaluate import materialize_checked


@dataclass
class RegexCmd(Command):
    field: str
    negate: bool
    rx: Re2


@dataclass
class RexCmd(Command):
    field: str
    rx: Optional[Re2]                  # extraction; None in sed mode
    max_match: int = 1
    sed: Optional[Dict[str, str]] = None    # kind s|y, a: pattern or from, b: replacement or to, flags


def parse_regex(tokens: List[Token], pos: int, end: int) -> RegexCmd:
    if len(tokens) == 1 and tokens[0].kind == STRING:
        return RegexCmd(pos, "_raw", False, to_re2(tokens[0].value, tokens[0].pos, "regex"))
    if len(tokens) == 3 and tokens[0].kind in (WORD, STRING) and tokens[1].kind == OP and \
            tokens[1].value in ("=", "!=") and tokens[2].kind in (STRING, WORD):
        return RegexCmd(pos, tokens[0].value, tokens[1].value == "!=", to_re2(tokens[2].value, tokens[2].pos, "regex"))
    raise Unsupported("regex without a quoted regular expression (write regex <field>=\"<regex>\")", pos)


def compile_regex(cmd: RegexCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    ctx = EvalCompiler(resolver_for(frame.cols))
    if ctx.resolve(cmd.field, cmd.pos) is None:
        if cmd.negate:
            raise Unsupported(f"regex {cmd.field}!=...: the results have no field {cmd.field}", cmd.pos)
        return rt.materialize(frame.table, [(c.name, c.sql) for c in frame.cols], "FALSE")
    subject = guarded_subject(ctx.text(EField(cmd.field, cmd.pos), cmd.pos), cmd.rx, "regex")
    test = f"regexp_matches({subject}, {lit(cmd.rx.pattern)})"
    if cmd.negate:
        missing = (f"error('unsupported in local runs: regex {cmd.field}!=... on a result without the field ' "
                   f"|| CAST(__ord AS VARCHAR))")
        pred = f"(CASE WHEN {subject} IS NULL THEN {missing} ELSE NOT {test} END)"
    else:
        pred = f"COALESCE({test}, FALSE)"
    return materialize_checked(rt, frame, list(frame.cols), pred, cmd.pos)


def _sed(text: str, pos: int) -> Dict[str, str]:
    """s/regex/replacement/flags or y/from/to/, with '/' as delimiter ('\\/' is a slash)."""
    if len(text) < 2 or text[0] not in "sy" or text[1] != "/":
        raise Unsupported(f"rex mode=sed expression {text!r} (s/// and y/// with '/' are supported)", pos)
    parts: List[str] = [""]
    i = 2
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            parts[-1] += text[i:i + 2] if text[i + 1] != "/" else "/"
            i += 2
            continue
        if c == "/":
            parts.append("")
        else:
            parts[-1] += c
        i += 1
    if len(parts) != 3:
        raise SplError(f"rex mode=sed: cannot read {text!r} (expected {text[0]}/.../.../)", pos)
    return {"kind": text[0], "a": parts[0], "b": parts[1], "flags": parts[2]}


def parse_rex(tokens: List[Token], pos: int, end: int) -> RexCmd:
    opts: Dict[str, str] = {}
    regex: Optional[Token] = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == WORD and i + 2 < len(tokens) and tokens[i + 1].kind == OP and tokens[i + 1].value == "=":
            opts[tok.value.lower()] = tokens[i + 2].value
            i += 3
            continue
        if tok.kind == STRING and regex is None:
            regex = tok
            i += 1
            continue
        raise SplError(f"rex: unexpected {tok.raw or tok.value!r}", tok.pos)
    unknown = set(opts) - {"field", "max_match", "mode"}
    if unknown:
        raise Unsupported(f"rex option {sorted(unknown)[0]}", pos)
    if regex is None:
        raise SplError("rex needs a quoted regular expression", pos)
    fld = opts.get("field", "_raw")
    if opts.get("mode", "").lower() == "sed":
        return RexCmd(pos, fld, None, sed=_sed(regex.value, regex.pos))
    if "mode" in opts:
        raise SplError(f"rex: mode must be sed, got {opts['mode']!r}", pos)
    try:
        max_match = int(opts.get("max_match", "1"))
    except ValueError:
        raise SplError(f"rex: max_match must be a whole number, got {opts['max_match']!r}", pos) from None
    rx = to_re2(regex.value, regex.pos, "rex")
    if not rx.names:
        raise SplError("rex: the regular expression has no named group (?<name>...) to extract", regex.pos)
    for name in rx.names:
        if name.startswith(("_KEY_", "_VAL_")):
            raise Unsupported(f"rex group {name} (dynamic field names)", regex.pos)
    return RexCmd(pos, fld, rx, max_match=max_match if max_match >= 0 else 1)


def rex_outputs(cmd: RexCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None or cmd.rx is None:
        return fields
    return fields + [n for n in cmd.rx.names if n not in fields]


def compile_rex(cmd: RexCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    cols = list(frame.cols)
    ctx = EvalCompiler(resolver_for(cols))
    src = ctx.resolve(cmd.field, cmd.pos)
    if src is None:
        if cmd.rx is not None:
            cols += [Col(n, NULL_TEXT, "VARCHAR") for n in cmd.rx.names if n not in frame.names()]
        return rt.materialize(frame.table, [(c.name, c.sql) for c in cols])
    subject = ctx.text(EField(cmd.field, cmd.pos), cmd.pos)
    if cmd.sed is not None:
        new = _sed_sql(subject, cmd.sed, cmd.pos)
        cols = [Col(c.name, new, "VARCHAR") if c.name == cmd.field else c for c in cols]
        return materialize_checked(rt, frame, cols, "TRUE", cmd.pos)
    rx = cmd.rx
    assert rx is not None
    guarded = guarded_subject(subject, rx, "rex")
    matched = f"regexp_matches({guarded}, {lit(rx.pattern)})"
    for name, number in rx.names.items():
        old = next((c for c in cols if c.name == name), None)
        if cmd.max_match == 1:
            value = f"NULLIF(regexp_extract({guarded}, {lit(rx.pattern)}, {number}), '')"
            typ = "VARCHAR"
            keep = old.sql if old is not None and not old.is_list else NULL_TEXT
            if old is not None and old.is_list:
                typ = old.type
                value, keep = f"(CASE WHEN {value} IS NOT NULL THEN [{value}] END)", old.sql
        else:
            values = f"list_filter(regexp_extract_all({guarded}, {lit(rx.pattern)}, {number}), lambda v: v <> '')"
            if cmd.max_match > 1:
                values = f"list_slice({values}, 1, {cmd.max_match})"
            value, typ = f"(CASE WHEN len({values}) > 0 THEN {values} END)", "VARCHAR[]"
            keep = "CAST(NULL AS VARCHAR[])" if old is None else (old.sql if old.is_list else f"[{old.sql}]")
        col = Col(name, f"(CASE WHEN {matched} THEN COALESCE({value}, {keep}) ELSE {keep} END)", typ)
        cols = [col if c.name == name else c for c in cols] if old is not None else cols + [col]
    return materialize_checked(rt, frame, cols, "TRUE", cmd.pos)


def _sed_sql(subject: str, sed: Dict[str, str], pos: int) -> str:
    if sed["kind"] == "y":
        if len(sed["a"]) != len(sed["b"]) or sed["flags"]:
            raise SplError("rex mode=sed: y/from/to/ needs equally long from and to, and no flags", pos)
        return f"translate({subject}, {lit(sed['a'])}, {lit(sed['b'])})"
    flags = sed["flags"]
    if flags not in ("", "g"):
        raise Unsupported(f"rex mode=sed flags {flags!r} (only g)", pos)
    rx = to_re2(sed["a"], pos, "rex mode=sed")
    if "&" in sed["b"].replace("\\&", ""):
        raise Unsupported("rex mode=sed replacement with '&'", pos)
    repl = _rewrite(sed["b"].replace("\\&", "&"), rx.groups, pos)
    return f"regexp_replace({guarded_subject(subject, rx, 'rex mode=sed')}, {lit(rx.pattern)}, {lit(repl)}, {lit(flags)})"


register(CommandSpec("regex", RegexCmd, parse_regex, compile_regex))
register(CommandSpec("rex", RexCmd, parse_rex, compile_rex, rex_outputs))
