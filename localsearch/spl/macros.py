"""Search macro expansion as splunkd does it before parsing: `name` and `name(a, b)` in backticks.

A call with N arguments uses the stanza `name(N)` (`name` when N = 0); `args` names the parameters and
`$param$` in the definition is replaced by the argument text as written. Arguments may also be given by
name (`name(field=x)`). Expansion is recursive. `iseval = 1` is refused unless the definition is a plain
quoted string; `validation` expressions are refused. CIM's `drop_dm_object_name(1)` is built in when no
conf layer defines it (Splunk_SA_CIM ships it on every ES search head).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Protocol, Tuple

from .errors import SplError, Unsupported
from .lexer import scan_quoted, unescape

MAX_DEPTH = 50

# Built-in macros of apps that are always present where this app runs (Splunk_SA_CIM).
BUILTIN: Dict[str, Tuple[List[str], str]] = {
    "drop_dm_object_name(1)": (["object"], "rename $object$.* AS *"),
}


class MacroSource(Protocol):
    def has_stanza(self, stanza: str) -> bool: ...
    def stanza_names(self) -> List[str]: ...
    def get(self, stanza: str, key: str, default: Optional[str] = None) -> Optional[str]: ...
    def where(self, stanza: str) -> str: ...


@dataclass
class Macro:
    name: str
    args: List[str]
    definition: str
    origin: str


_NAME_RE = re.compile(r"^\s*([A-Za-z0-9_.:\-]+)\s*(?:\((.*)\))?\s*$", re.S)
_TRUE = {"1", "true", "t", "yes", "y"}


def split_args(text: str) -> List[str]:
    """Splits macro arguments on top-level commas (quotes and parentheses protect commas)."""
    args: List[str] = []
    depth = 0
    cur: List[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = scan_quoted(text, i, '"')
            cur.append(text[i:j])
            i = j
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    args.append("".join(cur).strip())
    return args


class MacroExpander:
    def __init__(self, macros: Optional[MacroSource]):
        self.macros = macros

    def lookup(self, name: str, nargs: int, chain: List[str]) -> Macro:
        stanza = f"{name}({nargs})" if nargs else name
        where = " > ".join(chain + [f"`{stanza}`"])
        if self.macros is not None and self.macros.has_stanza(stanza):
            definition = self.macros.get(stanza, "definition")
            origin = self.macros.where(stanza)
            if definition is None:
                raise SplError(f"macro `{stanza}` ({origin}) has no definition (in {where})")
            if (self.macros.get(stanza, "validation") or "").strip():
                raise Unsupported(f"argument validation of macro `{stanza}` ({origin})")
            args_text = self.macros.get(stanza, "args") or ""
            params = [a.strip() for a in args_text.split(",") if a.strip()]
            if len(params) != nargs:
                raise SplError(f"macro `{stanza}` ({origin}) declares {len(params)} argument(s) in args "
                               f"but its name says {nargs} (in {where})")
            if (self.macros.get(stanza, "iseval") or "0").strip().lower() in _TRUE:
                m = re.fullmatch(r'\s*"((?:[^"\\]|\\.)*)"\s*', definition, re.S)
                if not m or "$" in m.group(1):
                    raise Unsupported(f"macro `{stanza}` with iseval = 1 ({origin})")
                definition = unescape(m.group(1))
            return Macro(stanza, params, definition, origin)
        if stanza in BUILTIN:
            params, definition = BUILTIN[stanza]
            return Macro(stanza, params, definition, "built-in (Splunk_SA_CIM)")
        others = []
        if self.macros is not None:
            others = [s for s in self.macros.stanza_names()
                      if s == name or s.startswith(name + "(")]
        others += [s for s in BUILTIN if s.startswith(name + "(")]
        if others:
            raise SplError(f"macro `{name}` called with {nargs} argument(s), but only "
                           f"{', '.join(sorted(set(others)))} is defined (in {where})")
        raise SplError(f"macro `{stanza}` is not defined in macros.conf (default/ or local/) (in {where})")

    def expand(self, text: str, chain: Optional[List[str]] = None) -> str:
        chain = chain or []
        if len(chain) > MAX_DEPTH:
            raise SplError(f"macro expansion deeper than {MAX_DEPTH} levels: {' > '.join(chain)}")
        out: List[str] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c == '"':
                j = scan_quoted(text, i, '"')
                out.append(text[i:j])
                i = j
                continue
            if c == "\\" and i + 1 < len(text):
                out.append(text[i:i + 2])
                i += 2
                continue
            if c == "`":
                end = text.find("`", i + 1)
                if end < 0:
                    where = f" (in {' > '.join(chain)})" if chain else ""
                    raise SplError(f"unbalanced backtick: macro call {text[i:i + 40]!r} has no closing `{where}",
                                   None if chain else i)
                out.append(self._call(text[i + 1:end], chain))
                i = end + 1
                continue
            out.append(c)
            i += 1
        return "".join(out)

    def _call(self, call: str, chain: List[str]) -> str:
        m = _NAME_RE.match(call)
        if not m:
            where = f" (in {' > '.join(chain)})" if chain else ""
            raise SplError(f"malformed macro call `{call}`{where}")
        name, arg_text = m.group(1), m.group(2)
        args = split_args(arg_text) if arg_text is not None and arg_text.strip() else []
        macro = self.lookup(name, len(args), chain)
        if any(c.startswith(f"`{macro.name}`") for c in chain):
            raise SplError(f"macro `{macro.name}` calls itself: {' > '.join(chain + [f'`{macro.name}`'])}")
        values = self._bind(macro, args)
        definition = macro.definition
        for param, value in values.items():
            definition = definition.replace(f"${param}$", value)
        return self.expand(definition, chain + [f"`{macro.name}` ({macro.origin})"])

    @staticmethod
    def _bind(macro: Macro, args: List[str]) -> Dict[str, str]:
        named = [re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", a, re.S) for a in args]
        if args and all(named) and {n.group(1) for n in named if n} == set(macro.args):
            return {n.group(1): n.group(2).strip() for n in named if n}
        return dict(zip(macro.args, args))


def expand_macros(search: str, macros: Optional[MacroSource]) -> str:
    return MacroExpander(macros).expand(search)
