"""A text prefilter implied by a leading raw-event search (pure).

From the search AST a Boolean formula over "the raw JSON line contains chunk C, case-insensitively" is
derived that every event the search can match satisfies, so the loader can skip parsing lines that fail it.

Rules: `field=value` (operator `=`) on a field read verbatim from the event's JSON (not one the loader
derives: host, source, EventCode, the CIM aliases, `extracted_*`, ...) implies that the line contains the
longest run of `[A-Za-z0-9._-]` in the value (split at `*`, `\\` and every other character; at least
MIN_CHUNK characters); AND keeps the parts that constrain; OR constrains only if every branch does; NOT,
`!=`, `<`, `>`, `*`, CIDR values and bare terms constrain nothing. `IN (...)` is an OR.

Why a chunk found in a value is in the line: JSON encoders write those ASCII characters as they are, and
DuckDB's VARCHAR value of a JSON string is its text; a chunk cannot span two JSON tokens (quotes, commas,
colons and brackets are not chunk characters). Where that may not hold, lines pass anyway (guards, OR-ed
with the whole formula, which is the same as OR-ing them into every chunk test):
- a `\\uXXXX` escape in the line (it may spell an ASCII character);
- for a chunk that could be part of a number (only digits, `.`, `-`, `e` and the letters of inf/nan): a
  number with a fraction or an exponent in the line, which DuckDB re-renders (`1e5` -> `100000.0`, also
  inside objects and arrays nested in a value, which it re-serialises);
- for a chunk with `i` or `k`: the non-ASCII characters whose DuckDB lower() is that letter (U+0130,
  U+212A), which Splunk-style case-insensitive matching equates with it.
The guards most chunks need start with a literal or are substring tests, so RE2 skips ahead quickly (a
leading character class, as in the number guard, or an alternation makes a regex several times slower).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Collection, List, Optional, Tuple, Union

from .errors import SplError
from .cidr import is_cidr
from .ast import And, Compare, MatchAll, Not, Or, SearchNode, Term
from .commands.subsearch import Subsearch
from .pipeline import Pipeline, parse_expanded

MIN_CHUNK = 4
_RUN = re.compile(r"[A-Za-z0-9._-]+")
# Non-ASCII characters whose DuckDB lower() contains an ASCII character, by that character (the tests check it).
FOLDS_TO_ASCII = {"i": "\u0130", "k": "\u212a"}
# Characters of DuckDB's renderings of JSON numbers (digits, sign, point, exponent, inf, nan).
_NUMBER_CHARS = set("0123456789.-+eEinfatyINFATY")
# RE2 syntax (DuckDB regexp_matches)
ESCAPE_RE = r"\\u[0-9A-Fa-f]{4}"
# a fraction or an exponent: the number is a JSON number when a separator or bracket follows
NUMBER_RE = r"[0-9][.eE][-+]?[0-9]+[ \t\r\n]*[,\]}]"


@dataclass(frozen=True)
class Contains:
    chunk: str


@dataclass(frozen=True)
class AllOf:
    items: Tuple["Formula", ...]


@dataclass(frozen=True)
class AnyOf:
    items: Tuple["Formula", ...]


Formula = Union[Contains, AllOf, AnyOf]


def chunk_of(value: str) -> Optional[str]:
    """The longest run of [A-Za-z0-9._-] in a search value (the first of equal length), if long enough."""
    best = max(_RUN.findall(value), key=len, default="")
    return best if len(best) >= MIN_CHUNK else None


def derive(node: SearchNode, is_raw_field: Callable[[str], bool]) -> Optional[Formula]:
    """The formula implied by a search expression, or None when it constrains nothing."""
    if isinstance(node, Compare):
        if node.op != "=" or not is_raw_field(node.field) or is_cidr(node.value):
            return None     # a CIDR value matches addresses that do not contain its text
        chunk = chunk_of(node.value)
        return Contains(chunk) if chunk is not None else None
    if isinstance(node, And):
        parts = [f for f in (derive(n, is_raw_field) for n in node.items) if f is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))
    if isinstance(node, Or):
        derived = [derive(n, is_raw_field) for n in node.items]
        branches = [f for f in derived if f is not None]
        if len(branches) < len(derived):
            return None
        return branches[0] if len(branches) == 1 else AnyOf(tuple(branches))
    if isinstance(node, (Not, MatchAll, Term, Subsearch)):
        return None     # a subsearch's results are known only when it has run
    raise TypeError(f"not a search node: {node!r}")


def _regex_lit(chunk: str) -> str:
    return "'(?i)" + chunk.replace(".", "\\.") + "'"     # chunk characters: only '.' is special


def _chunks(f: Formula) -> List[str]:
    if isinstance(f, Contains):
        return [f.chunk]
    return [c for x in f.items for c in _chunks(x)]


def guards(formula: Formula, column: str = "json") -> List[str]:
    """SQL conditions on the raw line under which a chunk of the formula may hold in a value without being
    in the line (see the module docstring)."""
    chunks = _chunks(formula)
    out = [f"regexp_matches({column}, '{ESCAPE_RE}')"]
    for letter, chars in FOLDS_TO_ASCII.items():
        if any(letter in c.lower() for c in chunks):
            out += [f"contains({column}, '{ch}')" for ch in chars]
    if any(set(c) <= _NUMBER_CHARS for c in chunks):
        out.append(f"regexp_matches({column}, '{NUMBER_RE}')")
    return out


def to_sql(formula: Formula, column: str = "json") -> str:
    """DuckDB SQL for the formula over the raw line text `column`, OR-ed with its guards."""
    return "(" + " OR ".join([_sql(formula, column)] + guards(formula, column)) + ")"


def _sql(f: Formula, column: str) -> str:
    if isinstance(f, Contains):
        return f"regexp_matches({column}, {_regex_lit(f.chunk)})"
    joiner = " AND " if isinstance(f, AllOf) else " OR "
    return "(" + joiner.join(_sql(x, column) for x in f.items) + ")"


def leading_search(expanded: str) -> Optional[SearchNode]:
    """The AST of a (macro-expanded) search's leading event search; None for a generating command such as
    tstats, or when it does not parse (the engine reports that)."""
    try:
        return parse_expanded(expanded).leading_search()
    except SplError:
        return None


def line_filter(expanded: str, derived_fields: Collection[str]) -> Optional[str]:
    """SQL condition on the raw line `json` implied by the search's leading event search, or None."""
    try:
        return pipeline_filter(parse_expanded(expanded), derived_fields)
    except SplError:
        return None


def pipeline_filter(pipeline: Pipeline, derived_fields: Collection[str]) -> Optional[str]:
    """SQL condition on the raw line `json` implied by the pipeline's leading event search, or None.
    derived_fields: field names the loader computes rather than reads from the line (`extracted_*` too)."""
    node = pipeline.leading_search()
    if node is None or any(s.pipeline.reads_raw_events() for s in pipeline.subsearches):
        return None      # a subsearch over the events must see all of them
    derived = set(derived_fields)
    formula = derive(node, lambda name: name not in derived and not name.startswith("extracted_"))
    return to_sql(formula) if formula is not None else None
