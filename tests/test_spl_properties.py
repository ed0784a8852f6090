"""Property test: compiled search expressions agree with a direct reading of Splunk's rules.

Rules (Search Manual "Use wildcards", "Comparison operators", "Boolean expressions"): field=value matches the
whole value, case-insensitively, `*` matching any run of characters (no escape for it); a multivalue field
matches when any value does; field=* means the field exists; field!=value needs the field to exist and no
value to match; NOT inverts, so NOT field=value keeps events without the field.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

import duckdb
from hypothesis import given, settings, strategies as st

from localsearch.spl.expr import parse_search
from localsearch.spl.lexer import tokenize
from localsearch.spl.sql import Col, compile_search, resolver_for
from project import examples

ALPHABET = "aAb%_\\*. "
VALUES = st.text(alphabet=ALPHABET, min_size=0, max_size=4)
PATTERNS = st.text(alphabet=ALPHABET, min_size=1, max_size=4)

ROW = st.fixed_dictionaries({
    "a": st.one_of(st.none(), VALUES.filter(bool)),
    "b": st.one_of(st.none(), VALUES.filter(bool)),
    "m": st.one_of(st.none(), st.lists(VALUES.filter(bool), min_size=1, max_size=3)),
})

FIELDS = st.sampled_from(["a", "b", "m", "z"])       # z never exists


def leaf() -> st.SearchStrategy:
    return st.tuples(st.just("cmp"), FIELDS, st.sampled_from(["=", "!="]), PATTERNS)


EXPR = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.just("and"), inner, inner),
        st.tuples(st.just("or"), inner, inner),
    ),
    max_leaves=6,
)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(e) -> str:
    kind = e[0]
    if kind == "cmp":
        return f"{e[1]}{e[2]}{quote(e[3])}"
    if kind == "not":
        return f"NOT ({render(e[1])})"
    return f"({render(e[1])}) {'AND' if kind == 'and' else 'OR'} ({render(e[2])})"


def matches(value: str, pattern: str) -> bool:
    rx = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, value, re.I | re.S) is not None


def splunk_eval(e, row: Dict[str, object]) -> bool:
    kind = e[0]
    if kind == "not":
        return not splunk_eval(e[1], row)
    if kind == "and":
        return splunk_eval(e[1], row) and splunk_eval(e[2], row)
    if kind == "or":
        return splunk_eval(e[1], row) or splunk_eval(e[2], row)
    _, field, op, pattern = e
    raw = row.get(field)
    values: List[str] = [] if raw is None else (list(raw) if isinstance(raw, list) else [raw])
    if pattern == "*":
        hit = bool(values)
        return hit if op == "=" else False if not values else not hit
    hit = any(matches(v, pattern) for v in values)
    return hit if op == "=" else (bool(values) and not hit)


CON = duckdb.connect()
COLS = [Col("a", "a", "VARCHAR"), Col("b", "b", "VARCHAR"), Col("m", "m", "VARCHAR[]")]


@settings(max_examples=examples(300), deadline=None)
@given(expr=EXPR, rows=st.lists(ROW, min_size=1, max_size=5))
def test_compiled_search_matches_splunk_rules(expr, rows: List[Dict[str, Optional[object]]]) -> None:
    text = render(expr)
    sql = compile_search(parse_search(tokenize(text)), resolver_for(COLS))
    values = ", ".join("(?, ?, ?::VARCHAR[], ?)" for _ in rows)
    params: List[object] = []
    for i, r in enumerate(rows):
        params += [r["a"], r["b"], r["m"], i]
    got = CON.execute(f"SELECT i FROM (VALUES {values}) AS t(a, b, m, i) WHERE {sql} ORDER BY i",
                      params).fetchall()
    expected = [i for i, r in enumerate(rows) if splunk_eval(expr, r)]
    assert [g[0] for g in got] == expected, text
