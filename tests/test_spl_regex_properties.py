"""Property tests of the PCRE -> RE2 translation (localsearch/spl/regex.py): a pattern the runner accepts finds
the same matches and the same group values in DuckDB as a backtracking engine with PCRE's rules does.

The reference is Python's `re`, which agrees with PCRE on the constructs generated here (literals, escapes,
classes, groups, named groups, alternation, greedy and lazy quantifiers, anchors, `(?i)`), including PCRE's
`$` before a final newline, which the runner refuses (checked below) rather than reading as RE2 does.
"""
from __future__ import annotations

import re
from typing import List

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localsearch.spl.errors import Unsupported
from localsearch.spl.regex import guarded_subject, to_re2
from project import examples

ALPHABET = "aAb1 ._\\-\n"

_atoms = st.sampled_from(["a", "b", "A", "1", " ", r"\.", r"\\", r"\_", r"\-", ".", r"\d", r"\w", r"\s", r"\W",
                          "[ab]", "[^a]", r"[\w.]", "[a-z1]", r"\b"])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    quantified = st.tuples(inner, st.sampled_from(["", "*", "+", "?", "*?", "+?", "??", "{1,2}", "{2}"]))
    return st.one_of(
        st.lists(inner, min_size=1, max_size=3).map("".join),
        quantified.map(lambda t: f"(?:{t[0]}){t[1]}" if t[1] else t[0]),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}|{t[1]})"),
        inner.map(lambda p: f"({p})"),
    )


_bodies = st.recursive(_atoms, _extend, max_leaves=6)
patterns = st.tuples(st.sampled_from(["", "(?i)", "^"]), _bodies, st.sampled_from(["", "$"]), _bodies) \
    .map(lambda t: f"{t[0]}(?<g>{t[1]}){t[3]}{t[2]}")
subjects = st.lists(st.text(ALPHABET, max_size=8), min_size=1, max_size=24)

CON = duckdb.connect()


def _python(pattern: str) -> "re.Pattern[str]":
    return re.compile(pattern.replace("(?<g>", "(?P<g>"))


@settings(max_examples=examples(300), deadline=None)
@given(patterns, subjects)
def test_match_and_group_agree_with_a_pcre_reading(pattern: str, texts: List[str]) -> None:
    rx = to_re2(pattern, 0, "match()")
    ref = _python(pattern)
    texts = [t for t in texts if not (rx.dollar and t.endswith("\n"))]
    if not texts:
        return
    matches, whole, groups = CON.execute(
        f"SELECT list_transform($texts, lambda t: regexp_matches(t, $p)), "
        f"list_transform($texts, lambda t: regexp_extract(t, $p, 0)), "
        f"list_transform($texts, lambda t: regexp_extract(t, $p, {rx.names['g']}))",
        {"p": rx.pattern, "texts": texts}).fetchone()
    for text, matched, span, group in zip(texts, matches, whole, groups):
        found = ref.search(text)
        assert matched == (found is not None), (pattern, rx.pattern, text)
        assert span == (found.group(0) if found else ""), (pattern, rx.pattern, text)
        assert group == ((found.group("g") or "") if found else ""), (pattern, rx.pattern, text)


@settings(max_examples=examples(50), deadline=None)
@given(patterns)
def test_dollar_before_a_final_newline_is_refused_not_read_as_re2_does(pattern: str) -> None:
    rx = to_re2(pattern, 0, "match()")
    subject = guarded_subject("t", rx, "match()")
    if not rx.dollar:
        assert subject == "t"
        return
    with pytest.raises(duckdb.Error, match="unsupported in local runs"):
        CON.execute(f"SELECT regexp_matches({subject}, $p) FROM (SELECT 'a' || chr(10) AS t)",
                    {"p": rx.pattern}).fetchall()


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)", r"(?<!a)b", r"a*+", r"(?>a)", r"\h", r"\Z", r"(?x)a",
                                     r"(?|a)", r"(?#c)", r"a{,2}", r"(*UTF)a", r"\K", r"\R", r"[\b]"])
def test_pcre_only_constructs_are_refused(pattern: str) -> None:
    with pytest.raises(Unsupported):
        to_re2(pattern, 0, "regex")


@pytest.mark.parametrize("pattern,re2", [
    (r"(?<name>a)(?'other'b)(?P<third>c)", r"(?P<name>a)(?P<other>b)(?P<third>c)"),
    (r"\\1", r"\\1"),                       # an escaped backslash, then 1: no back-reference
    ("\\–", "–"),                           # an escaped non-ASCII character is that character
    (r"\Qa.b\E", r"a\.b"),
    (r"\x{202E}", r"\x{202E}"),
])
def test_translations(pattern: str, re2: str) -> None:
    assert to_re2(pattern, 0, "rex").pattern == re2
