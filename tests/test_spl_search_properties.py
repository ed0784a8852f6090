"""Property tests: CIDR values and bare terms, compiled to SQL, agree with direct readings of Splunk's rules.

- CIDR (Search Reference, search: IPv4 subnets in CIDR notation): a value matches when it is an IPv4 address
  in the subnet (Python's ipaddress as the oracle).
- Terms (Search Manual, "Use CASE() and TERM() to match phrases"; segmenters.conf [default]): `_raw` is split
  at the major breakers, then at the minor breakers; a term of letters and digits matches, case-insensitively,
  when it is one of the pieces. TERM(x) matches when x is one of the pieces split at the major breakers only.
  The default breakers are those of segmenters.conf.spec, MAJOR and MINOR "Default", as listed at
  https://docs.splunk.com/Documentation/Splunk/9.0.4/Admin/Segmentersconf (DEFAULT_MAJOR, DEFAULT_MINOR below).
  A multi-character major breaker such as `%21` or `--` is one breaker: the characters in it are not also
  minor breakers (`%21` has no segment `21`), and `_raw` is read from left to right (`---` is `--` then `-`).
"""
from __future__ import annotations

import ipaddress
import re
from typing import List

import duckdb
import pytest
from hypothesis import given, settings, strategies as st

from localsearch.sqltext import sql_literal
from localsearch.spl.cidr import in_subnet_sql, ipv4_subnet
from localsearch.spl.rawterms import MAJOR_CHARS, MAJOR_SEQUENCES, MINOR_CHARS, term_sql
from project import examples

CON = duckdb.connect()

OCTETS = st.one_of(st.integers(0, 255).map(str), st.sampled_from(["256", "010", "00", "-1", "1a", ""]))
ADDRESSES = st.one_of(
    st.lists(OCTETS, min_size=4, max_size=4).map(".".join),
    st.lists(OCTETS, min_size=3, max_size=5).map(".".join),
    st.text(alphabet="0123456789.:ab ", max_size=12),
)


@settings(max_examples=examples(300), deadline=None)
@given(value=ADDRESSES, net=st.lists(st.integers(0, 255), min_size=4, max_size=4), prefix=st.integers(0, 32))
def test_cidr_match_is_ipv4_subnet_membership(value: str, net: List[int], prefix: int) -> None:
    cidr = ".".join(map(str, net)) + f"/{prefix}"
    subnet = ipv4_subnet(cidr, 0)
    assert subnet is not None
    got = CON.execute(f"SELECT {in_subnet_sql(sql_literal(value), *subnet)}").fetchone()[0]
    try:
        expected = ipaddress.IPv4Address(value) in ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        expected = False
    assert got is expected, (value, cidr)


# segmenters.conf.spec [<SegmenterName>] MAJOR and MINOR, "Default" (space-separated; \s is a space, \n a newline,
# \r a carriage return, \t a tab, \\ a backslash):
# https://docs.splunk.com/Documentation/Splunk/9.0.4/Admin/Segmentersconf
DEFAULT_MAJOR = ("[ ] < > ( ) { } | ! ; , ' \" * \\n \\r \\s \\t & ? + %21 %26 %2526 %3B %7C %20 %2B %3D -- %2520 %5D %5B "
                 "%3A %0A %2C %28 %29")
DEFAULT_MINOR = "/ : = @ . - $ # % \\\\ _"
_SPELLED = {"\\s": " ", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\\\": "\\"}


def _breakers(listed: str) -> List[str]:
    return [_SPELLED.get(b, b) for b in listed.split(" ")]


def test_the_breakers_are_the_documented_defaults() -> None:
    major = _breakers(DEFAULT_MAJOR)
    assert MAJOR_CHARS == "".join(b for b in major if len(b) == 1)
    assert MAJOR_SEQUENCES == tuple(b for b in major if len(b) > 1)
    assert MINOR_CHARS == "".join(_breakers(DEFAULT_MINOR))


def _matches(raw: str, term: str, case: bool = False, exact: bool = False) -> bool:
    return bool(CON.execute(f"SELECT {term_sql(sql_literal(raw), term, 0, case=case, exact=exact)}").fetchone()[0])


@pytest.mark.parametrize("raw, term, expected", [
    ("%21", "21", False),                  # the whole of %21 is one major breaker
    ("a%2Cb", "2Cb", False),
    ("a%2Cb", "a", True), ("a%2Cb", "b", True),
    ("%2520", "2520", False), ("%2520", "520", False),
    ("x%2526y", "2526y", False), ("x%2526y", "y", True),
    ("%%21", "21", False),                 # '%' then the breaker %21
    ("%2%21", "2", True),                  # '%' (minor), '2', then %21
    ("%2c", "2c", True),                   # not a listed breaker (the list is upper case): '%' is minor
    ("%2c", "2C", True),
    ("x--y", "x", True), ("x--y", "y", True),
])
def test_a_multi_character_major_breaker_is_one_breaker(raw: str, term: str, expected: bool) -> None:
    assert _matches(raw, term) is expected


@pytest.mark.parametrize("seq", [b for b in _breakers(DEFAULT_MAJOR) if len(b) > 1 and b.startswith("%")])
def test_every_url_encoded_major_breaker_is_one_breaker(seq: str) -> None:
    assert _matches(seq, seq[1:]) is False
    assert _matches(f"x{seq}", seq[1:]) is False
    assert _matches(f"Q{seq}R", "Q") and _matches(f"Q{seq}R", "R")
    assert _matches(f"Q{seq}R", seq[1:] + "R") is False
    assert _matches(f"{seq}", seq[1:], case=True) is False
    assert _matches(f"a{seq}", f"a%{seq[1:-1]}", exact=True) is False      # TERM(): a major breaker ends it
    assert _matches(f"a{seq}", "a", exact=True)


@pytest.mark.parametrize("raw, term, expected", [
    ("x---y", "x-", False),                # `--`, then `-y`
    ("x---y", "-y", True),
    ("x----y", "-y", False),               # `--` twice
    ("x----y", "x", True),
    ("a-b", "a-b", True),
    ("%2B1", "%2", False), ("1%2B", "1%2", False), ("1%2B", "1", True),
])
def test_term_directive_splits_at_multi_character_breakers_left_to_right(raw: str, term: str,
                                                                         expected: bool) -> None:
    assert _matches(raw, term, exact=True) is expected


def _split(texts: List[str], pattern: str) -> List[str]:
    return [piece for t in texts for piece in re.split(pattern, t)]


def pieces(raw: str, minor: bool) -> List[str]:
    """`raw` split at the documented major breakers (read left to right, a longer one first where two start at
    the same place), then, with `minor`, at the minor breakers."""
    major = sorted(_breakers(DEFAULT_MAJOR), key=len, reverse=True)
    parts = re.split("|".join(re.escape(b) for b in major), raw)
    return _split(parts, "[" + re.escape("".join(_breakers(DEFAULT_MINOR))) + "]") if minor else parts


_SEQUENCES = [b for b in _breakers(DEFAULT_MAJOR) if len(b) > 1]
# pieces of _raw: single characters, every multi-character breaker, its lower-case spelling and its beginnings
FRAGMENTS = sorted(set("ab1B2%05C- .-_=;\"\t") | {f for s in _SEQUENCES for f in (s, s.lower(), s[:-1], s[1:])})
RAW = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)


def raw_around(term: str) -> st.SearchStrategy[str]:
    """_raw made of fragments and the term itself (upper, lower or as drawn), so that most draws hold it."""
    spelled = st.sampled_from([term, term.upper(), term.lower()])
    return st.lists(st.one_of(st.sampled_from(FRAGMENTS), spelled), max_size=8).map("".join)
TAILS = sorted({t for s in _SEQUENCES if s.startswith("%") for t in (s[1:], s[1:].lower(), s[2:])})
TERMS = st.one_of(st.text(alphabet="ab1B2", min_size=1, max_size=3), st.sampled_from(TAILS),
                  st.builds(lambda t, x: t + x, st.sampled_from(TAILS), st.sampled_from("ab1B")))
MAJOR_TERMS = st.one_of(st.text(alphabet="ab1.-_=", min_size=1, max_size=4),
                        st.builds(lambda x, t: x + "%" + t, st.sampled_from(["", "a", "1", "-"]),
                                  st.sampled_from(TAILS))).filter(lambda t: not any(s in t for s in _SEQUENCES))


@settings(max_examples=examples(400), deadline=None)
@given(term=TERMS, data=st.data())
def test_a_term_matches_a_segment_of_raw(term: str, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(RAW, raw_around(term)), label="raw")
    got = CON.execute(f"SELECT {term_sql(sql_literal(raw), term, 0)}").fetchone()[0]
    assert got is (term.lower() in [p.lower() for p in pieces(raw, minor=True)]), (raw, term)
    got_case = CON.execute(f"SELECT {term_sql(sql_literal(raw), term, 0, case=True)}").fetchone()[0]
    assert got_case is (term in pieces(raw, minor=True)), (raw, term)


@settings(max_examples=examples(300), deadline=None)
@given(term=MAJOR_TERMS, data=st.data())
def test_term_directive_matches_a_major_segment(term: str, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(RAW, raw_around(term)), label="raw")
    got = CON.execute(f"SELECT {term_sql(sql_literal(raw), term, 0, exact=True)}").fetchone()[0]
    assert got is (term.lower() in [p.lower() for p in pieces(raw, minor=False)]), (raw, term)
