"""Regular expressions of SPL (PCRE in Splunk) as DuckDB runs them (RE2): what cannot run the same is refused."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional

from .errors import SplError, Unsupported

# PCRE constructs (Splunk's regex engine) that DuckDB's RE2 lacks: lookaround, backreferences, atomic groups,
# possessive quantifiers. Refused rather than matched differently. Read token by token, so an escaped
# backslash (`\\\\1` is a backslash, then 1) or an escaped parenthesis is not taken for one of them.
_GROUP_ONLY = re.compile(r"\(\?(?:=|!|<=|<!|>)")
_ESCAPE_ONLY = re.compile(r"\\(?:[1-9]|g[{<\d-]|k[<{'])")
_POSSESSIVE = re.compile(r"(?:[*+?}])\+")


def pcre_only(pattern: str) -> Optional[str]:
    """The first PCRE-only construct in the pattern, as written, or None."""
    i = 0
    in_class = False
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            m = _ESCAPE_ONLY.match(pattern, i)
            if m:
                return m.group(0)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            i += 1
            continue
        if c == "[":
            in_class = True
            i += 1
            if pattern[i:i + 1] == "^":
                i += 1
            if pattern[i:i + 1] == "]":      # a ']' first in a class is a literal
                i += 1
            continue
        m = _GROUP_ONLY.match(pattern, i) or _POSSESSIVE.match(pattern, i)
        if m:
            return m.group(0)
        i += 1
    return None


def check_regex(pattern: str, pos: int) -> None:
    """A match() pattern DuckDB can run as Splunk would: PCRE-only constructs are refused, bad syntax is an error."""
    found = pcre_only(pattern)
    if found:
        raise Unsupported(f"regular expression construct {found!r} in match() (PCRE only)", pos)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SplError(f"invalid regular expression {pattern!r} in match(): {exc}", pos) from None


# ---- PCRE -> RE2 ---------------------------------------------------------------------------------------------
# Escapes that mean the same in PCRE and RE2 (letters; any escaped ASCII punctuation is a literal in both).
_SAME_ESCAPES = set("dDwWsSbBAzQEnrtfax0pP")
_NAMED = re.compile(r"\(\?(?:<([A-Za-z_][A-Za-z0-9_]*)>|'([A-Za-z_][A-Za-z0-9_]*)'|P<([A-Za-z_][A-Za-z0-9_]*)>)")
_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?(:|\))")


@dataclass(frozen=True)
class Re2:
    pattern: str            # the RE2 pattern, same matches as the PCRE one
    names: Dict[str, int]   # named groups and their numbers, in order
    groups: int             # capturing groups
    dollar: bool            # has `$` (PCRE also matches it before a final newline: such subjects are refused)


def to_re2(pattern: str, pos: int, where: str) -> Re2:
    """The RE2 form of a PCRE pattern of `where` (match(), regex, rex ...): named groups `(?<n>...)` and `(?'n'...)`
    become `(?P<n>...)`, an escaped non-ASCII character its literal; PCRE-only constructs are refused; a pattern
    that is not valid is an error naming it."""
    found = pcre_only(pattern)
    if found:
        raise Unsupported(f"regular expression construct {found!r} in {where} (PCRE only)", pos)
    out: List[str] = []
    names: Dict[str, int] = {}
    groups = 0
    dollar = False
    in_class = False
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            if e == "Q":                                   # \Q...\E: literal text
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(pattern[i + 2:end]))
                i = end + 2
                continue
            if e.isascii() and e.isalnum() and (e not in _SAME_ESCAPES or in_class and e == "b"):
                raise Unsupported(f"regular expression escape \\{e} in {where} (PCRE only)", pos)
            out.append(pattern[i:i + 2] if e.isascii() else e)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1
            if pattern[j:j + 1] == "^":
                j += 1
            if pattern[j:j + 1] == "]":
                j += 1
            out.append(pattern[i:j])
            i = j
            continue
        if c == "$":
            dollar = True
        if c == "{" and pattern[i + 1:i + 2] == ",":
            raise Unsupported(f"quantifier '{{,' in {where} (its meaning depends on the PCRE version)", pos)
        if c == "(" and pattern[i + 1:i + 2] == "*":
            raise Unsupported(f"PCRE verb '(*' in {where}", pos)
        if c == "(" and pattern[i + 1:i + 2] == "?":
            m = _NAMED.match(pattern, i)
            if m:
                name = next(g for g in m.groups() if g)
                groups += 1
                if name in names:
                    raise SplError(f"group name {name!r} used twice in {where}", pos)
                names[name] = groups
                out.append(f"(?P<{name}>")
                i = m.end()
                continue
            m = _FLAGS.match(pattern, i)
            if m and set((m.group(1) or "") + (m.group(2) or "")) <= set("imsU"):
                out.append(m.group(0))
                i = m.end()
                continue
            raise Unsupported(f"group {pattern[i:i + 3]!r} in {where} (PCRE only)", pos)
        if c == "(":
            groups += 1
        out.append(c)
        i += 1
    translated = "".join(out)
    try:
        re.compile(_python_form(translated))
    except (re.error, ValueError) as exc:
        raise SplError(f"invalid regular expression {pattern!r} in {where}: {exc}", pos) from None
    return Re2(translated, names, groups, dollar)


def _python_form(re2: str) -> str:
    """The pattern in Python's syntax, only to check it (\\x{..}, \\z and \\p{..} are spelt differently)."""
    text = re.sub(r"(?<!\\)((?:\\\\)*)\\x\{([0-9A-Fa-f]+)\}", lambda m: f"{m.group(1)}\\U{int(m.group(2), 16):08x}", re2)
    text = re.sub(r"(?<!\\)((?:\\\\)*)\\[pP](\{[^}]*\}|[A-Za-z])", lambda m: m.group(1) + "x", text)
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", lambda m: m.group(1) + "\\Z", text)


def guarded_subject(subject: str, rx: Re2, where: str) -> str:
    """The subject SQL; with a `$` in the pattern, a value ending in a newline is refused when met (PCRE's `$`
    also matches before a final newline, RE2's does not)."""
    if not rx.dollar:
        return subject
    message = (f"'unsupported in local runs: {where} with $ on a value ending in a newline (' || "
               f"CAST(length({subject}) AS VARCHAR) || ' characters)'")
    return f"(CASE WHEN suffix({subject}, chr(10)) THEN error({message}) ELSE {subject} END)"
