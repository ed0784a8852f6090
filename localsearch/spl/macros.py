"""Search macro expansion as splunkd does it before parsing: `name` and `name(a, b)` in backticks.

Rules (macros.conf.spec; Knowledge Manager Manual, "Use search macros"): a call with N arguments uses the
stanza `name(N)` (`name` when N = 0); `args` names the parameters and `$param$` in the definition is replaced
by the argument text as written, everywhere, even inside quotes. Arguments may also be given by name
(`name(field=x)`). Expansion is recursive. `iseval = 1`: the definition is an eval expression whose value is
the expansion. `validation`: an eval expression over the arguments; false or null fails the call with
`errormsg`, a non-Boolean value fails it with that text (macro_eval.py). CIM's `drop_dm_object_name(1)` is
built in when no conf layer defines it (Splunk_SA_CIM ships it on every ES search head).

Expansion is bounded (MAX_DEPTH levels, MAX_CALLS calls, MAX_EXPANDED characters) and records which part of
the expanded text came from which macro (`Expansion.origin`), so errors can name it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Protocol, Tuple

from .errors import SplError
from .lexer import scan_quoted

MAX_DEPTH = 50
MAX_CALLS = 1_000        # real searches make a few dozen calls
MAX_EXPANDED = 1_000_000      # characters of expanded search

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
    iseval: bool = False
    validation: str = ""
    errormsg: str = ""


@dataclass(frozen=True)
class Span:
    """Characters [start, end) of the expanded text came from the innermost macro of `chain`."""
    start: int
    end: int
    chain: Tuple[str, ...]        # "`name` (file:line)" from the outermost call in


@dataclass
class Expansion:
    text: str
    spans: List[Span] = field(default_factory=list)

    def origin(self, position: Optional[int]) -> Optional[Span]:
        """The innermost macro the character at `position` came from (None: typed in the search itself)."""
        if position is None:
            return None
        inside = [s for s in self.spans if s.start <= position < s.end or s.start == position == s.end]
        return min(inside, key=lambda s: s.end - s.start, default=None) if inside else None


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


def describe(chain: Tuple[str, ...]) -> str:
    """A macro chain for messages, shortened when deep."""
    parts = list(chain) if len(chain) <= 6 else list(chain[:3]) + [f"... {len(chain) - 5} more"] + list(chain[-2:])
    return " > ".join(parts)


class MacroExpander:
    def __init__(self, macros: Optional[MacroSource]):
        self.macros = macros
        self.calls = 0

    def lookup(self, name: str, nargs: int, chain: Tuple[str, ...]) -> Macro:
        stanza = f"{name}({nargs})" if nargs else name
        where = describe(chain + (f"`{stanza}`",))
        if self.macros is not None and self.macros.has_stanza(stanza):
            return self._from_conf(self.macros, stanza, nargs, where)
        if stanza in BUILTIN:
            params, definition = BUILTIN[stanza]
            return Macro(stanza, params, definition, "built-in (Splunk_SA_CIM)")
        others = []
        if self.macros is not None:
            others = [s for s in self.macros.stanza_names() if s == name or s.startswith(name + "(")]
        others += [s for s in BUILTIN if s.startswith(name + "(")]
        if others:
            raise SplError(f"macro `{name}` called with {nargs} argument(s), but only "
                           f"{', '.join(sorted(set(others)))} is defined (in {where})")
        raise SplError(f"macro `{stanza}` is not defined in macros.conf (default/ or local/) (in {where})")

    @staticmethod
    def _from_conf(macros: MacroSource, stanza: str, nargs: int, where: str) -> Macro:
        definition = macros.get(stanza, "definition")
        origin = macros.where(stanza)
        if definition is None:
            raise SplError(f"macro `{stanza}` ({origin}) has no definition (in {where})")
        params = [a.strip() for a in (macros.get(stanza, "args") or "").split(",") if a.strip()]
        if len(params) != nargs:
            raise SplError(f"macro `{stanza}` ({origin}) declares {len(params)} argument(s) in args "
                           f"but its name says {nargs} (in {where})")
        iseval = (macros.get(stanza, "iseval") or "0").strip().lower() in _TRUE
        return Macro(stanza, params, definition, origin, iseval,
                     (macros.get(stanza, "validation") or "").strip(), (macros.get(stanza, "errormsg") or "").strip())

    def expand(self, text: str, chain: Tuple[str, ...] = ()) -> Expansion:
        if len(chain) > MAX_DEPTH:
            raise SplError(f"macro expansion deeper than {MAX_DEPTH} levels: {describe(chain)}")
        out: List[str] = []
        size = 0
        spans: List[Span] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c == '"':
                j = self._quoted(text, i, chain)
                out.append(text[i:j])
                size += j - i
                i = j
                continue
            if c == "\\" and i + 1 < len(text):
                out.append(text[i:i + 2])
                size += 2
                i += 2
                continue
            if c == "`":
                end = text.find("`", i + 1)
                if end < 0:
                    where = f" (in {describe(chain)})" if chain else ""
                    raise SplError(f"unbalanced backtick: macro call {text[i:i + 40]!r} has no closing `{where}",
                                   None if chain else i)
                inner, link = self._call(text[i + 1:end], chain)
                spans += [Span(s.start + size, s.end + size, s.chain) for s in inner.spans]
                spans.append(Span(size, size + len(inner.text), chain + (link,)))
                out.append(inner.text)
                size += len(inner.text)
                if size > MAX_EXPANDED:
                    raise SplError(f"macro expansion makes the search longer than {MAX_EXPANDED:,} characters, "
                                   f"at {describe(chain + (link,))}")
                i = end + 1
                continue
            out.append(c)
            size += 1
            i += 1
        return Expansion("".join(out), spans)

    @staticmethod
    def _quoted(text: str, i: int, chain: Tuple[str, ...]) -> int:
        try:
            return scan_quoted(text, i, '"')
        except SplError as exc:
            if not chain:
                raise
            raise SplError(f"{exc.message} at character {i} of the definition of {describe(chain)}") from None

    def _call(self, call: str, chain: Tuple[str, ...]) -> Tuple[Expansion, str]:
        m = _NAME_RE.match(call)
        if not m:
            where = f" (in {describe(chain)})" if chain else ""
            raise SplError(f"malformed macro call `{call}`{where}")
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise SplError(f"more than {MAX_CALLS:,} macro calls while expanding the search, "
                           f"at {describe(chain + (f'`{m.group(1)}`',))}")
        name, arg_text = m.group(1), m.group(2)
        args = split_args(arg_text) if arg_text is not None and arg_text.strip() else []
        macro = self.lookup(name, len(args), chain)
        link = f"`{macro.name}` ({macro.origin})"
        if any(c.startswith(f"`{macro.name}`") for c in chain):
            raise SplError(f"macro `{macro.name}` calls itself: {describe(chain + (link,))}")
        values = self._bind(macro, args)
        definition = macro.definition
        for param, value in values.items():
            definition = definition.replace(f"${param}$", value)
        if macro.validation or macro.iseval:
            from .macro_eval import evaluate_definition, validate
            if macro.validation:
                validate(macro, values)
            if macro.iseval:
                definition = evaluate_definition(macro, definition)
        return self.expand(definition, chain + (link,)), link

    @staticmethod
    def _bind(macro: Macro, args: List[str]) -> Dict[str, str]:
        named = [re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", a, re.S) for a in args]
        if args and all(named) and {n.group(1) for n in named if n} == set(macro.args):
            return {n.group(1): n.group(2).strip() for n in named if n}
        return dict(zip(macro.args, args))


def expand(search: str, macros: Optional[MacroSource]) -> Expansion:
    return MacroExpander(macros).expand(search)


def expand_macros(search: str, macros: Optional[MacroSource]) -> str:
    return expand(search, macros).text
