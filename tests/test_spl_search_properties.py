"""Property tests: CIDR values and bare terms, compiled to SQL, agree with direct readings of Splunk's rules.

- CIDR (Search Reference, search: IPv4 subnets in CIDR notation): a value matches when it is an IPv4 address
  in the subnet (Python's ipaddress as the oracle).
- Terms (Search Manual, "Use CASE() and TERM() to match phrases"; segmenters.conf [default]): `_raw` is split
  at the major breakers, then at the minor breakers; a term of letters and digits matches, case-insensitively,
  when it is one of the pieces. TERM(x) matches when x is one of the pieces split at the major breakers only.
"""
from __future__ import annotations

import ipaddress
import re
from typing import List

import duckdb
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


def _split(texts: List[str], pattern: str) -> List[str]:
    return [piece for t in texts for piece in re.split(pattern, t)]


def pieces(raw: str, minor: bool) -> List[str]:
    parts = [raw]
    for seq in sorted(MAJOR_SEQUENCES, key=len, reverse=True):
        parts = [p for t in parts for p in t.split(seq)]
    parts = _split(parts, "[" + re.escape(MAJOR_CHARS) + "]")
    return _split(parts, "[" + re.escape(MINOR_CHARS) + "]") if minor else parts


RAW = st.text(alphabet="ab1B2%0 .-_=;\"\t", max_size=16)
TERMS = st.text(alphabet="ab1B2", min_size=1, max_size=3)
MAJOR_TERMS = st.text(alphabet="ab1.-_=", min_size=1, max_size=4).filter(lambda t: "--" not in t)


@settings(max_examples=examples(400), deadline=None)
@given(raw=RAW, term=TERMS)
def test_a_term_matches_a_segment_of_raw(raw: str, term: str) -> None:
    got = CON.execute(f"SELECT {term_sql(sql_literal(raw), term, 0)}").fetchone()[0]
    assert got is (term.lower() in [p.lower() for p in pieces(raw, minor=True)]), (raw, term)
    got_case = CON.execute(f"SELECT {term_sql(sql_literal(raw), term, 0, case=True)}").fetchone()[0]
    assert got_case is (term in pieces(raw, minor=True)), (raw, term)


@settings(max_examples=examples(300), deadline=None)
@given(raw=RAW, term=MAJOR_TERMS)
def test_term_directive_matches_a_major_segment(raw: str, term: str) -> None:
    got = CON.execute(f"SELECT {term_sql(sql_literal(raw), term, 0, exact=True)}").fetchone()[0]
    assert got is (term.lower() in [p.lower() for p in pieces(raw, minor=False)]), (raw, term)
