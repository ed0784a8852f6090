"""`search` semantics of the local runner, each case naming the Splunk rule it checks.

References (Splunk Search Reference and Search Manual):
- search: "The search command supports IPv4 and IPv6 addresses and subnets that use CIDR notation" (a value in
  CIDR notation matches a field whose value is an address in that subnet).
- Search Manual, "Boolean expressions": the operators AND, OR, NOT must be upper case; lower-case `and`, `or`,
  `not` are search terms. Search Reference, search: the IN operator is upper case (`field IN (v1, v2)`).
- Search Manual, "Use CASE() and TERM() to match phrases": `field=CASE(Value)` matches case-sensitively;
  bare terms match the segments of `_raw` (major and minor breakers of segmenters.conf), case-insensitively.
- Search Manual, "Comparison operators": `<`, `>`, `<=`, `>=` compare numerically when both sides are numbers,
  otherwise lexicographically; a number is written in decimal (`nan`, `inf`, `1_000` are text).
- Search Manual, "Quotes and escaping characters": a quoted string directly followed by unquoted text is one
  argument with the quotes removed (splunkd's argument splitting, as in searchinfo.args).
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import duckdb
import pytest

from localsearch.conf import AppConfs
from localsearch.engine import SearchEngine
from localsearch.spl.errors import SplError, Unsupported
from localsearch.spl.lexer import tokenize
from localsearch.spl.pipeline import parse_expanded
from localsearch.spl.prefilter import line_filter

from project import REPO
COLS = ["id", "dest", "ips", "n", "process", "_raw"]
ROWS: List[Sequence[object]] = [
    ("1", "10.1.2.3", ["192.168.1.5", "8.8.8.8"], "5", "powershell -c [Diagnostics.Process]::GetCurrentProcess()",
     "2024-03-12 proc=powershell.exe user=CORP\\alice action=allowed"),
    ("2", "11.0.0.1", ["10.0.0.9"], "1000", "cmd.exe /c whoami", "Logon OR failure for bob; src 11.0.0.1"),
    ("3", "host-a", None, "nan", "notepad.exe", "Event: WmiPrvSE spawned cmd.exe (pid 42)"),
    ("4", "10.255.255.255", None, "1_000", "rundll32.exe x,y", "cmd%2Bline WMIPRVSE"),
    ("5", None, None, None, None, None),
]


def run(search: str, with_raw: bool = True) -> List[str]:
    con = duckdb.connect()
    con.execute("CREATE TABLE events (id VARCHAR, dest VARCHAR, ips VARCHAR[], n VARCHAR, process VARCHAR, "
                "_raw VARCHAR)")
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", [list(r) for r in ROWS])
    cols: Dict[str, str] = {c: f'"{c}"' for c in COLS if with_raw or c != "_raw"}
    eng = SearchEngine(con, {"events": cols}, AppConfs(REPO, REPO / "local"))
    res = eng.run(search)
    return sorted(str(r[res.fields.index("id")]) for r in res.rows)


# ---- CIDR values match subnets ---------------------------------------------------------------------------------
@pytest.mark.parametrize("search,expected", [
    ("dest=10.0.0.0/8", ["1", "4"]),
    ('dest="10.0.0.0/8"', ["1", "4"]),
    ("NOT dest=10.0.0.0/8", ["2", "3", "5"]),                   # the silently wrong case
    ("dest!=10.0.0.0/8", ["2", "3"]),                           # != needs the field to exist
    ("dest=10.1.2.3/32", ["1"]),
    ("dest=10.1.2.0/24", ["1"]),
    ("dest=0.0.0.0/0", ["1", "2", "4"]),                        # every IPv4 address, not host-a
    ("ips=10.0.0.0/8", ["2"]),                                  # any value of a multivalue field
    ("ips=192.168.0.0/16 OR dest=11.0.0.0/8", ["1", "2"]),
    ("dest IN (10.0.0.0/24, 11.0.0.0/8)", ["2"]),
])
def test_a_cidr_value_matches_addresses_in_the_subnet(search: str, expected: List[str]) -> None:
    assert run(search) == expected
    assert run(f"* | search {search}") == expected


def test_cidr_values_give_no_text_prefilter() -> None:
    """dest=10.0.0.0/8 matches 10.1.2.3, whose line does not contain the text 10.0.0.0."""
    assert line_filter("SourceIp=10.0.0.0/8", ()) is None
    assert line_filter("SourceIp=10.0.0.0/8 Image=*whoami.exe", ()) is not None


def test_an_ipv6_cidr_value_is_refused() -> None:
    with pytest.raises(Unsupported, match="IPv6 CIDR"):
        run("dest=2001:db8::/32")


# ---- Boolean operators and IN are upper case --------------------------------------------------------------------
def test_lower_case_in_is_not_the_in_operator() -> None:
    """`name in (a)` is the terms name, in and (a): it must not run as IN."""
    pipeline = parse_expanded("dest in (host-a)")
    assert "Or" not in type(pipeline.leading_search()).__name__
    assert run("dest IN (host-a)") == ["3"]
    with pytest.raises(Unsupported, match="search term 'dest'"):
        run("dest in (host-a)", with_raw=False)


@pytest.mark.parametrize("word", ["or", "and", "not", "in"])
def test_lower_case_operator_words_are_terms_and_the_refusal_says_so(word: str) -> None:
    with pytest.raises(Unsupported, match=f"search term '{word}'.*upper case"):
        run(f"dest=host-a {word} dest=x", with_raw=False)


# ---- bare terms over _raw --------------------------------------------------------------------------------------
@pytest.mark.parametrize("search,expected", [
    ("cmd", ["3", "4"]),                          # a segment before a minor breaker (cmd.exe, cmd%2B)
    ("CMD", ["3", "4"]),                          # case-insensitive
    ("line", ["4"]),                              # after the major breaker %2B
    ("2Bline", []),                               # %2B is one major breaker: its '%' is no minor breaker
    ("wmiprvse", ["3", "4"]),
    ("allowed", ["1"]),
    ("allow", []),                                # not a segment of "allowed"
    ("or", ["2"]),                                # lower-case or is a term (the text "OR" in event 2)
    ('"WmiPrvSE"', ["3", "4"]),
    ("cmd wmiprvse", ["3", "4"]),                 # implied AND
    ("NOT cmd", ["1", "2", "5"]),
    ("id=1 OR bob", ["1", "2"]),
])
def test_bare_terms_match_segments_of_raw(search: str, expected: List[str]) -> None:
    assert run(search) == expected


@pytest.mark.parametrize("search,what", [
    ("cmd.exe", "breaker"),
    ("cmd*", "wildcard"),
    ('"spawned cmd"', "breaker"),
])
def test_terms_the_runner_cannot_match_exactly_are_refused(search: str, what: str) -> None:
    with pytest.raises(Unsupported, match=what):
        run(search)


def test_without_raw_a_bare_term_is_refused() -> None:
    with pytest.raises(Unsupported, match="search term 'cmd' without a field"):
        run("cmd", with_raw=False)


# ---- CASE() and TERM() --------------------------------------------------------------------------------------------
def test_case_makes_a_field_value_case_sensitive() -> None:
    assert run("dest=HOST-A") == ["3"]
    assert run("dest=CASE(HOST-A)") == []
    assert run("dest=CASE(host-a)") == ["3"]
    assert run("dest=CASE(host*)") == ["3"]
    assert run("CASE(WmiPrvSE)") == ["3"]
    assert run("CASE(wmiprvse)") == []


def test_term_matches_between_major_breakers_only() -> None:
    assert run("TERM(11.0.0.1)") == ["2"]             # "src 11.0.0.1": spaces around it
    assert run("TERM(0.0.1)") == []                   # minor breakers do not end a TERM()
    assert run("TERM(CORP)") == []                    # "user=CORP\\alice" is one major segment
    with pytest.raises(Unsupported, match="TERM"):
        run('TERM("a b")')


# ---- unquoted values with parentheses, quoted field names ------------------------------------------------------------
def test_an_unquoted_value_may_contain_balanced_parentheses() -> None:
    assert run("process=*GetCurrentProcess()*") == ["1"]
    assert run("(process=*GetCurrentProcess() OR dest=host-a)") == ["1", "3"]
    assert run("(dest=host-a)") == ["3"]
    tokens = tokenize("process=*Get()* x=(a)", search_values=True)
    assert [t.value for t in tokens] == ["process", "=", "*Get()*", "x", "=", "(", "a", ")"]


def test_a_quoted_field_name_is_a_field() -> None:
    assert run('"dest"=host-a') == ["3"]
    assert run('* | search "dest"!=host-a') == ["1", "2", "4"]


def test_a_quoted_field_name_in_tstats_where() -> None:
    con = duckdb.connect()
    con.execute('CREATE TABLE processes ("_time" DOUBLE, process_name VARCHAR)')
    con.execute("INSERT INTO processes VALUES (1, 'cmd.exe'), (2, 'notepad.exe')")
    eng = SearchEngine(con, {"processes": {"_time": '"_time"', "process_name": '"process_name"'}},
                       AppConfs(REPO, REPO / "local"))
    res = eng.run('| tstats count from datamodel=Endpoint.Processes where "Processes.process_name"=cmd.exe')
    assert res.rows == [["1"]]


def test_a_quoted_part_joined_to_unquoted_text_is_one_argument() -> None:
    """`drop_dm_object_name("Processes")` expands to `rename "Processes".* AS *`."""
    assert [t.value for t in tokenize('"Processes".* AS *')] == ["Processes.*", "AS", "*"]
    assert [t.value for t in tokenize('a"b c"d x')] == ["ab cd", "x"]
    assert [t.value for t in tokenize('"a"."b"', single_quotes=True)] == ["a", ".", "b"]    # eval: not joined


# ---- numbers as search reads them ----------------------------------------------------------------------------------
@pytest.mark.parametrize("search,expected", [
    ("n>10", ["2", "3", "4"]),       # 1000 > 10 numerically; "nan" > "10" and "1_000" > "10" as text
    ("n<10", ["1"]),                 # 5 < 10 numerically; "nan", "1_000" are text and sort after "10"
    ("n>nan", []),                   # "nan" is text: every value compares as text, "5" and "1000" sort first
    ("n>=nan", ["3"]),
    ("n<1_000", ["2"]),              # text: "1000" < "1_000" ('0' < '_'), "5" > "1_000"
    ("n>inf", ["3"]),                # text: "nan" > "inf"
])
def test_comparison_values_that_are_not_decimal_numbers_compare_as_text(search: str, expected: List[str]) -> None:
    assert run(search) == expected


def test_a_number_beyond_the_double_range_is_refused() -> None:
    with pytest.raises(Unsupported, match="1e999"):
        run("n>1e999")


@pytest.mark.parametrize("expr", ["n > nan", "n > inf"])
def test_in_where_nan_and_inf_are_field_names(expr: str) -> None:
    assert run(f"* | where {expr}") == []          # a missing field: the comparison is null


def test_in_where_odd_numbers_are_refused_not_guessed() -> None:
    with pytest.raises(Unsupported, match="1e999"):
        run("* | where n > 1e999")
    with pytest.raises(Unsupported, match="1_000"):
        run("* | where n > 1_000")


def test_a_subsearch_with_a_comma_is_not_a_syntax_error() -> None:
    with pytest.raises(SplError, match="lookup allow.csv: cannot read"):    # it parses, and runs
        run("* | search NOT [| inputlookup allow.csv | fields dest, user]")


# ---- regular expressions: an escaped backslash before a digit is not a back-reference --------------------------
@pytest.mark.parametrize("pattern,refused", [
    (r"\\127\.0\.0\.1", False),      # ESCU's impacket wmiexec filter: \\ is a literal backslash, then 127
    (r"\\\\127", False),
    (r"(a)\1", True),                # a back-reference (PCRE only)
    (r"\\\1", True),                 # literal backslash, then a back-reference
    (r"[\1]", True),                 # PCRE reads \1 in a class as an octal escape: refused, not guessed
])
def test_only_a_real_backreference_is_refused(pattern: str, refused: bool) -> None:
    from localsearch.spl.regex import check_regex
    if refused:
        with pytest.raises(Unsupported, match="PCRE only"):
            check_regex(pattern, 0)
    else:
        check_regex(pattern, 0)


def test_the_escu_wmiexec_filter_runs() -> None:
    """SPL `"\\\\\\\\127\\.0\\.0\\.1"` is the regex `\\\\127\\.0\\.0\\.1`: a backslash, then 127.0.0.1."""
    con_rows = run('* | where match(process, "\\\\\\\\127\\.0\\.0\\.1") OR id="5"')
    assert con_rows == ["5"]
