"""Bare search terms over `_raw` (Search Manual, "Use CASE() and TERM() to match phrases"; segmenters.conf).

Splunk indexes `_raw` as segments split at the default major and minor breakers, and a bare term matches an
event that has the term as a segment, case-insensitively. A term made only of letters and digits is such a
segment exactly when `_raw` holds it with a breaker (or the start or end of `_raw`) on each side; that is
what is compiled. `CASE(term)` is the same, case-sensitively. `TERM(term)` matches the term between major
breakers only (minor breakers inside it are kept). Terms with breakers inside, or wildcards, would need
Splunk's segment lookup and phrase check: they are refused.

A multi-character major breaker (`%21`, `--`, ...) is one breaker: the characters in it are not also minor
breakers (`%21` has no segment `21`), and `_raw` is read from left to right (`---` is `--`, then `-`). So the
term is looked for in `_raw` with every such breaker replaced by a space (a major breaker); the strings are
matched as segmenters.conf lists them (upper case: `%2c` is the minor breaker `%` and the text `2c`).
"""
from __future__ import annotations

import re

from ..sqltext import sql_literal as lit
from .errors import Unsupported

# segmenters.conf [default] MAJOR and MINOR, in the order listed at
# https://docs.splunk.com/Documentation/Splunk/9.0.4/Admin/Segmentersconf (MAJOR, MINOR: "Default")
MAJOR_CHARS = "[]<>(){}|!;,'\"*\n\r \t&?+"
MAJOR_SEQUENCES = ("%21", "%26", "%2526", "%3B", "%7C", "%20", "%2B", "%3D", "--", "%2520", "%5D", "%5B",
                   "%3A", "%0A", "%2C", "%28", "%29")
MINOR_CHARS = "/:=@.-$#%\\_"
_PLAIN = re.compile(r"[A-Za-z0-9]+")
# RE2 (leftmost-first: at one place the first listed of two breakers is taken, so the longer ones come first)
_SEQUENCES = "|".join(re.escape(s) for s in sorted(MAJOR_SEQUENCES, key=len, reverse=True))


def _class(chars: str) -> str:
    """An RE2 character class of the given characters."""
    special = {"]": "\\]", "[": "\\[", "\\": "\\\\", "^": "\\^", "-": "\\-", "\n": "\\n", "\r": "\\r",
               "\t": "\\t"}
    return "[" + "".join(special.get(c, c) for c in chars) + "]"


def term_sql(raw: str, value: str, pos: int, case: bool = False, exact: bool = False) -> str:
    """SQL (never NULL) for a bare term on the text expression `raw`."""
    if "*" in value:
        raise Unsupported(f"search term {value!r} with a wildcard (full-text search of _raw)", pos)
    breakers = MAJOR_CHARS if exact else MAJOR_CHARS + MINOR_CHARS
    if exact:
        bad = [c for c in value if c in MAJOR_CHARS] or [s for s in MAJOR_SEQUENCES if s in value]
        if bad or not value:
            raise Unsupported(f"TERM({value}) with a major breaker in it", pos)
    elif not _PLAIN.fullmatch(value):
        what = "a breaker character" if any(c in MAJOR_CHARS + MINOR_CHARS for c in value) else "characters"
        raise Unsupported(f"search term {value!r} with {what} other than letters and digits "
                          "(full-text search of _raw)", pos)
    cls = _class(breakers)
    body = re.escape(value) if case else f"(?i:{re.escape(value)})"
    # Every match is a match of the quick test (the breakers as they are in _raw), which most events fail.
    quick = f"(^|{cls}|{_SEQUENCES}){body}($|{cls}|{_SEQUENCES})"
    exact_on = f"regexp_replace({raw}, {lit(_SEQUENCES)}, ' ', 'g')"
    pattern = f"(^|{cls}){body}($|{cls})"
    return (f"CASE WHEN regexp_matches({raw}, {lit(quick)}) "
            f"THEN regexp_matches({exact_on}, {lit(pattern)}) ELSE FALSE END")
