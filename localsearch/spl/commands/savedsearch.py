"""`| savedsearch <name> [nosubstitution=<bool>] [<key>=<value>...]` (Search Reference, savedsearch).

A generating command that runs the named saved search's `search` text. `$key$` placeholders in that text are
replaced by the values given, unless `nosubstitution=true`; placeholders without a value stay as typed. The
front end splices the saved search's macro-expanded text in place of the command, so what follows the command
applies to its results. The saved search's own time range (dispatch.*) is not applied: the run's
--earliest/--latest are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..errors import SplError
from ..lexer import OP, STRING, WORD, Token
from ..macros import MacroSource
from .base import GENERATING, Command, CommandSpec, Frame, Runtime, register

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


@dataclass
class SavedSearchCmd(Command):
    name: str
    replacements: Dict[str, str]
    nosubstitution: bool


def parse_savedsearch(tokens: List[Token], pos: int, end: int) -> SavedSearchCmd:
    if not tokens or tokens[0].kind not in (WORD, STRING):
        raise SplError("savedsearch needs the name of a saved search", pos)
    name = tokens[0].value
    replacements: Dict[str, str] = {}
    nosub = False
    i = 1
    while i < len(tokens):
        key = tokens[i]
        pair = tokens[i:i + 3]
        if key.kind != WORD or len(pair) < 3 or pair[1].kind != OP or pair[1].value != "=" or \
                pair[2].kind not in (WORD, STRING):
            raise SplError(f"savedsearch: expected <key>=<value> after the name, got {key.raw or key.value!r} "
                           "(a name with spaces needs double quotes)", key.pos)
        value = tokens[i + 2].value
        if key.value.lower() == "nosubstitution":
            if value.lower() not in _TRUE | _FALSE:
                raise SplError(f"savedsearch: nosubstitution={value} is not a Boolean", key.pos)
            nosub = value.lower() in _TRUE
        else:
            replacements[key.value] = value
        i += 3
    return SavedSearchCmd(pos, name, replacements, nosub)


def saved_search_text(cmd: SavedSearchCmd, saved: Optional[MacroSource]) -> str:
    """The saved search's search text with the command's replacements made."""
    if saved is None or not saved.has_stanza(cmd.name) or saved.get(cmd.name, "search") is None:
        names = [] if saved is None else [n for n in saved.stanza_names() if n != "default" and
                                          saved.get(n, "search") is not None]
        hint = ("; saved searches: " + "; ".join(repr(n) for n in names)) if names else ""
        raise SplError(f"savedsearch: no saved search named {cmd.name!r} in savedsearches.conf{hint}", cmd.pos)
    text = saved.get(cmd.name, "search") or ""
    if not cmd.nosubstitution:
        for key, value in cmd.replacements.items():
            text = text.replace(f"${key}$", value)
    return text


def _no_compile(cmd: Any, frame: Optional[Frame], rt: Runtime) -> Frame:
    raise SplError("savedsearch is replaced by its search before it runs", cmd.pos)


register(CommandSpec("savedsearch", SavedSearchCmd, parse_savedsearch, _no_compile, lambda cmd, fields: None,
                     kinds=(GENERATING,)))
