"""`rename`, `fields`, `table`: commands that only change which fields a result carries and their names.

Splunk rules (Search Reference): rename with wildcards maps `*` to `*` in order and renaming onto an existing
field replaces it; `fields` (+) keeps the internal `_time` and `_raw`; `fields -` removes; `table` lists fields
in the order given, a missing field as an empty column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..errors import SplError
from ..lexer import COMMA, Token
from ..sql import Col
from .base import Command, CommandSpec, Frame, Runtime, field_list, name_of, register


def wildcard_regex(pattern: str) -> "re.Pattern[str]":
    return re.compile("^" + "(.*)".join(re.escape(p) for p in pattern.split("*")) + "$", re.S)


def matching_names(names: List[str], patterns: List[str]) -> List[str]:
    out: List[str] = []
    for p in patterns:
        rx = wildcard_regex(p)
        out += [n for n in names if rx.match(n) and n not in out]
    return out


# ---- rename ----------------------------------------------------------------------------------------------
@dataclass
class RenameCmd(Command):
    pairs: List[Tuple[str, str, int]]


def parse_rename(tokens: List[Token], pos: int, end: int) -> RenameCmd:
    pairs = []
    i = 0
    while i < len(tokens):
        if tokens[i].kind == COMMA:
            i += 1
            continue
        if i + 2 >= len(tokens) or not tokens[i + 1].is_keyword("AS"):
            raise SplError("rename expects '<field> AS <newname>'", tokens[i].pos)
        pairs.append((name_of(tokens[i], "rename"), name_of(tokens[i + 2], "rename"), tokens[i].pos))
        i += 3
    if not pairs:
        raise SplError("rename needs at least one '<field> AS <newname>'", pos)
    return RenameCmd(pos, pairs)


def rename(cols: List[Col], pairs: List[Tuple[str, str, int]]) -> List[Col]:
    out = list(cols)
    for src, dst, pos in pairs:
        if "*" in src:
            rx = wildcard_regex(src)
            if dst.count("*") not in (0, src.count("*")):
                raise SplError(f"rename {src} AS {dst}: wildcards must correspond", pos)
            renamed = []
            for c in out:
                m = rx.match(c.name)
                if m:
                    new = dst
                    for g in m.groups():
                        new = new.replace("*", g, 1)
                    renamed.append((c, new))
            targets = {new for _, new in renamed}
            moved = {id(c) for c, _ in renamed}
            out = [c for c in out if c.name not in targets or id(c) in moved]
            mapping = {id(c): new for c, new in renamed}
            out = [Col(mapping[id(c)], c.sql, c.type) if id(c) in mapping else c for c in out]
        else:
            if "*" in dst:
                raise SplError(f"rename {src} AS {dst}: wildcard in the new name only", pos)
            if not any(c.name == src for c in out):
                continue
            out = [c for c in out if c.name != dst or c.name == src]
            out = [Col(dst, c.sql, c.type) if c.name == src else c for c in out]
    # a wildcard rename can map two fields onto one name: the later one wins, as in Splunk
    seen: Dict[str, int] = {}
    for i, c in enumerate(out):
        seen[c.name] = i
    return [c for i, c in enumerate(out) if seen[c.name] == i]


def _rename_outputs(cmd: RenameCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None:
        return None
    return [c.name for c in rename([Col(f, "", "VARCHAR") for f in fields], cmd.pairs)]


# ---- fields ----------------------------------------------------------------------------------------------
@dataclass
class FieldsCmd(Command):
    remove: bool
    patterns: List[str]


def parse_fields(tokens: List[Token], pos: int, end: int) -> FieldsCmd:
    remove = False
    if tokens and tokens[0].is_word("-", "+"):
        remove = tokens[0].value == "-"
        tokens = tokens[1:]
    patterns = field_list(tokens, "fields")
    if not patterns:
        raise SplError("fields needs at least one field", pos)
    return FieldsCmd(pos, remove, patterns)


def select_names(names: List[str], patterns: List[str], remove: bool) -> List[str]:
    if remove:
        drop = matching_names(names, patterns)
        return [n for n in names if n not in drop]
    keep = matching_names(names, patterns)
    keep += [n for n in ("_time", "_raw") if n in names and n not in keep]    # fields + keeps these
    return keep


def _fields_outputs(cmd: FieldsCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    return None if fields is None else select_names(fields, cmd.patterns, cmd.remove)


# ---- table -----------------------------------------------------------------------------------------------
@dataclass
class TableCmd(Command):
    patterns: List[str]


def parse_table(tokens: List[Token], pos: int, end: int) -> TableCmd:
    patterns = field_list(tokens, "table")
    if not patterns:
        raise SplError("table needs at least one field", pos)
    return TableCmd(pos, patterns)


def table_names(names: List[str], patterns: List[str]) -> List[str]:
    out: List[str] = []
    for p in patterns:
        add = matching_names(names, [p]) if "*" in p else [p]
        out += [n for n in add if n not in out]
    return out


def _table_outputs(cmd: TableCmd, fields: Optional[List[str]]) -> Optional[List[str]]:
    if fields is None:
        if any("*" in p for p in cmd.patterns):
            return None
        fields = []
    return table_names(fields, cmd.patterns)


# ---- compile: only the field list changes -------------------------------------------------------------------
def _reselect(frame: Frame, names: List[str]) -> Frame:
    by_name = {c.name: c for c in frame.cols}
    return Frame(frame.table, [by_name.get(n) or Col(n, "CAST(NULL AS VARCHAR)", "VARCHAR") for n in names])


def _compile_rename(cmd: RenameCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    return Frame(frame.table, rename(frame.cols, cmd.pairs))


def _compile_fields(cmd: FieldsCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    return _reselect(frame, select_names(frame.names(), cmd.patterns, cmd.remove))


def _compile_table(cmd: TableCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
    assert frame is not None
    return _reselect(frame, table_names(frame.names(), cmd.patterns))


register(CommandSpec("rename", RenameCmd, parse_rename, _compile_rename, _rename_outputs))
register(CommandSpec("fields", FieldsCmd, parse_fields, _compile_fields, _fields_outputs))
register(CommandSpec("table", TableCmd, parse_table, _compile_table, _table_outputs))
