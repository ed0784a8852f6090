"""Regular expressions of SPL (PCRE in Splunk) as DuckDB runs them (RE2): what cannot run the same is refused."""
from __future__ import annotations

import re
from typing import Optional

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
