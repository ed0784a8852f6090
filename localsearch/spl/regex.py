"""Regular expressions of SPL (PCRE in Splunk) as DuckDB runs them (RE2): what cannot run the same is refused."""
from __future__ import annotations

import re

from .errors import SplError, Unsupported

# PCRE constructs (Splunk's regex engine) that DuckDB's RE2 lacks: lookaround, backreferences, atomic groups,
# possessive quantifiers. Refused rather than matched differently.
_PCRE_ONLY = re.compile(r"\(\?(?:=|!|<=|<!|>)|\\[1-9]|\\g[{<\d]|\\k<|[*+?}]\+")


def check_regex(pattern: str, pos: int) -> None:
    """A match() pattern DuckDB can run as Splunk would: PCRE-only constructs are refused, bad syntax is an error."""
    found = _PCRE_ONLY.search(pattern)
    if found:
        raise Unsupported(f"regular expression construct {found.group(0)!r} in match() (PCRE only)", pos)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SplError(f"invalid regular expression {pattern!r} in match(): {exc}", pos) from None
