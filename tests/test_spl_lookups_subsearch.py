"""lookup match settings, inputlookup and subsearches against Splunk's documented rules.

Splunk references (each test names the one it relies on):
- [KM-match] Knowledge Manager Manual, "Add field matching rules to your lookup configuration": max_matches
  (1-1000, default 100, file order), min_matches (default 0), default_match ("provides this default_match value
  one or more times until the min_matches threshold is reached"), case_sensitive_match, match_type.
- [lookup] Search Reference, lookup: OUTPUT overwrites, OUTPUTNEW does not; CIDR subnets supported.
- [inputlookup] Search Reference, inputlookup (start, max, WHERE).
- [format] Search Reference, format, and Search Manual "Change the format of subsearch results": results become
  `( ( f1="v1" AND f2="v2" ) OR ( ... ) )`, multivalue fields joined by OR (mvsep), `_` fields ignored, `search`
  and `query` fields inserted as text, no results give `NOT ( )`.
- [subsearch] Search Reference, append / Search Manual "About subsearches": at most 10,000 results by default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from localsearch.spl.errors import SplError, Unsupported
from localsearch.spl.commands.subsearch import MAXOUT, format_results
from localsearch.spl.ast import And, Compare, MatchAll, Not, Or
from test_spl_engine import rows

# events: id name user n   (see test_spl_engine.EVENT_ROWS)
#  1 WmiPrvSE.exe alice 5 / 2 cmd.exe (no user) 10 / 3 wmiprvse.EXE bob 2 / 4 note%_pad.exe carol (no n)


def app_with(tmp_path: Path, transforms: str, files: Dict[str, str]) -> Path:
    app = tmp_path / "app"
    (app / "default").mkdir(parents=True)
    (app / "lookups").mkdir()
    (app / "default" / "transforms.conf").write_text(transforms)
    for name, text in files.items():
        (app / "lookups" / name).write_text(text)
    return app


def by_id(search: str, field: str, app: Path) -> Dict[str, object]:
    return {r["id"]: r.get(field) for r in rows(search, app=app)}


# ---- lookup: min_matches / default_match ([KM-match]) -----------------------------------------------------
ESCU_STYLE = ("[allow]\nfilename = l.csv\nmatch_type = WILDCARD(name)\nmin_matches = 1\ndefault_match = false\n"
              "case_sensitive_match = false\n")


def test_default_match_fills_results_with_fewer_than_min_matches(tmp_path: Path) -> None:
    """Rule [KM-match]: with min_matches=1, a result that matches no row gets default_match; one that matches
    gets the row's value (every ESCU lookup is written this way)."""
    app = app_with(tmp_path, ESCU_STYLE, {"l.csv": "name,isbad\nwmi*,true\n"})
    assert by_id("* | lookup allow name OUTPUT isbad", "isbad", app) == \
        {"1": "true", "2": "false", "3": "true", "4": "false"}
    # the allowlist step ESCU detections then apply
    assert sorted(r["id"] for r in rows("* | lookup allow name OUTPUT isbad | search isbad=false", app=app)) == \
        ["2", "4"]


def test_default_match_pads_up_to_min_matches(tmp_path: Path) -> None:
    """Rule [KM-match]: default_match is output "one or more times until the min_matches threshold"."""
    app = app_with(tmp_path, "[allow]\nfilename = l.csv\nmatch_type = WILDCARD(name)\nmin_matches = 2\n"
                             "default_match = none\ncase_sensitive_match = false\n",
                   {"l.csv": "name,tag\nwmi*,a\n*.exe,b\n"})
    out = by_id("* | lookup allow name OUTPUT tag", "tag", app)
    assert out == {"1": ["a", "b"], "2": ["b", "none"], "3": ["a", "b"], "4": ["b", "none"]}


def test_without_default_match_nothing_is_added(tmp_path: Path) -> None:
    """Rule [KM-match]: default_match defaults to the empty string: nothing is output."""
    app = app_with(tmp_path, "[allow]\nfilename = l.csv\nmin_matches = 1\n", {"l.csv": "name,tag\ncmd.exe,a\n"})
    assert by_id("* | lookup allow name OUTPUT tag", "tag", app) == {"1": None, "2": "a", "3": None, "4": None}


def test_default_match_for_a_result_without_the_input_field_is_refused(tmp_path: Path) -> None:
    """Whether Splunk applies default_match to a result that lacks the input field is not documented."""
    app = app_with(tmp_path, ESCU_STYLE.replace("WILDCARD(name)", "WILDCARD(user)"),
                   {"l.csv": "user,isbad\nalice,true\n"})
    with pytest.raises(Unsupported, match="default_match for results without the input field"):
        rows("* | lookup allow user OUTPUT isbad", app=app)
    # without such results it runs
    assert by_id("* | search user=* | lookup allow user OUTPUT isbad", "isbad", app) == \
        {"1": "true", "3": "false", "4": "false"}


def test_max_matches_limits_the_multivalue_output_in_file_order(tmp_path: Path) -> None:
    """Rule [KM-match]: max_matches N keeps the first N matching rows in file order."""
    app = app_with(tmp_path, "[allow]\nfilename = l.csv\nmatch_type = WILDCARD(name)\nmax_matches = 2\n"
                             "case_sensitive_match = false\n",
                   {"l.csv": "name,tag\n*.exe,first\nwmi*,second\n*prv*,third\n"})
    assert by_id("* | lookup allow name OUTPUT tag", "tag", app)["1"] == ["first", "second"]


def test_case_sensitive_match_applies_to_exact_fields(tmp_path: Path) -> None:
    """Rule [KM-match]: case_sensitive_match = false makes exact matches case-insensitive too."""
    app = app_with(tmp_path, "[allow]\nfilename = l.csv\ncase_sensitive_match = false\n",
                   {"l.csv": "name,tag\nwmiprvse.exe,w\n"})
    assert by_id("* | lookup allow name OUTPUT tag", "tag", app) == {"1": "w", "2": None, "3": "w", "4": None}


# ---- lookup: CIDR ([KM-match], [lookup]) ----------------------------------------------------------------------
def test_cidr_match_type_matches_addresses_in_the_subnet(tmp_path: Path) -> None:
    """Rule [lookup]: CIDR(field) rows match the addresses of their subnet (a bare address is a /32)."""
    app = app_with(tmp_path, "[nets]\nfilename = n.csv\nmatch_type = CIDR(ip)\nmax_matches = 1\n",
                   {"n.csv": "ip,zone\n10.0.0.0/8,inner\n192.168.1.7,host\n", "ips.csv": "ip\n10.1.2.3\n"
                    "11.0.0.1\n192.168.1.7\n192.168.1.8\nnot-an-ip\n"})
    out = rows("| inputlookup ips.csv | lookup nets ip OUTPUT zone", app=app)
    assert [(r["ip"], r["zone"]) for r in out] == [("10.1.2.3", "inner"), ("11.0.0.1", None),
                                                   ("192.168.1.7", "host"), ("192.168.1.8", None),
                                                   ("not-an-ip", None)]


def test_several_cidr_matches_are_refused(tmp_path: Path) -> None:
    """Which of several matching subnets Splunk outputs first is not documented: refused when it happens."""
    app = app_with(tmp_path, "[nets]\nfilename = n.csv\nmatch_type = CIDR(ip)\n",
                   {"n.csv": "ip,zone\n10.0.0.0/8,a\n10.1.0.0/16,b\n", "ips.csv": "ip\n10.1.2.3\n"})
    with pytest.raises(Unsupported, match="several CIDR rows"):
        rows("| inputlookup ips.csv | lookup nets ip OUTPUT zone", app=app)


def test_outputnew_keeps_existing_values(tmp_path: Path) -> None:
    """Rule [lookup]: OUTPUTNEW does not overwrite a field the result already has; OUTPUT does."""
    app = app_with(tmp_path, ESCU_STYLE, {"l.csv": "name,user\ncmd*,svc\n"})
    assert by_id("* | lookup allow name OUTPUTNEW user", "user", app) == \
        {"1": "alice", "2": "svc", "3": "bob", "4": "carol"}
    assert by_id("* | lookup allow name OUTPUT user", "user", app) == \
        {"1": "false", "2": "svc", "3": "false", "4": "false"}


# ---- inputlookup ([inputlookup]) --------------------------------------------------------------------------------
ALLOW = "name,user,reason\nwmi*,alice,known\ncmd.exe,,admin\nnote*,carol,\n"


@pytest.mark.parametrize("search,expected", [
    ("| inputlookup l.csv", [("wmi*", "alice", "known"), ("cmd.exe", None, "admin"), ("note*", "carol", None)]),
    ("| inputlookup allow", [("wmi*", "alice", "known"), ("cmd.exe", None, "admin"), ("note*", "carol", None)]),
    ("| inputlookup start=1 max=1 l.csv", [("cmd.exe", None, "admin")]),
    ("| inputlookup l.csv where name=CMD*", [("cmd.exe", None, "admin")]),     # search syntax: case-insensitive
    ("| inputlookup l.csv where reason=*", [("wmi*", "alice", "known"), ("cmd.exe", None, "admin")]),
])
def test_inputlookup_rows_in_file_order(tmp_path: Path, search: str, expected: List[tuple]) -> None:
    """Rule [inputlookup]: the table's rows in file order, an empty cell is no value; WHERE filters them."""
    app = app_with(tmp_path, "[allow]\nfilename = l.csv\n", {"l.csv": ALLOW})
    assert [(r["name"], r["user"], r["reason"]) for r in rows(search, app=app)] == expected


@pytest.mark.parametrize("search,what", [
    ("| inputlookup append=true l.csv", "inputlookup append="),
    ("| inputlookup max=2 l.csv where name=x", "WHERE together with start= or max="),
])
def test_inputlookup_refuses_what_it_does_not_do(tmp_path: Path, search: str, what: str) -> None:
    app = app_with(tmp_path, "", {"l.csv": ALLOW})
    with pytest.raises(Unsupported, match=what):
        rows(search, app=app)


# ---- subsearches ([format], [subsearch]) ------------------------------------------------------------------------
@pytest.mark.parametrize("search,expected", [
    # ( ( name="wmi*" AND user="alice" ) OR ( name="cmd.exe" ) OR ( name="note*" AND user="carol" ) )
    ("* | search [| inputlookup l.csv | fields name user]", ["1", "2", "4"]),
    ("* | search NOT [| inputlookup l.csv | fields name user]", ["3"]),
    ("NOT [| inputlookup l.csv | fields name user]", ["3"]),                     # in the leading search
    ("* | search NOT [| inputlookup l.csv | fields name]", []),
    # an empty result gives NOT ( ): nothing matches it, everything matches its negation
    ("* | search [| inputlookup l.csv | search name=none | fields name]", []),
    ("* | search NOT [| inputlookup l.csv | search name=none | fields name]", ["1", "2", "3", "4"]),
    # a subsearch over the same events
    ("* | search NOT [search user=bob | fields name]", ["2", "4"]),
    ("user=* NOT [search n>4 | fields name]", ["4"]),
])
def test_subsearch_results_become_a_search_as_format_writes_it(tmp_path: Path, search: str,
                                                               expected: List[str]) -> None:
    """Rule [format]: one AND group per result of its fields with values, groups joined by OR; values keep
    search semantics (case-insensitive, `*` wildcards); no results give NOT ( )."""
    app = app_with(tmp_path, "", {"l.csv": ALLOW})
    assert sorted(r["id"] for r in rows(search, app=app)) == expected


def test_format_expression_shape() -> None:
    """Rule [format]: multivalue values joined by OR inside their group; `_` fields left out."""
    node = format_results(["_time", "a", "b"], [["1", "x", ["y", "z"]], ["2", None, "w"]], 0)
    assert node == Or((And((Compare("a", "=", "x", 0), Or((Compare("b", "=", "y", 0), Compare("b", "=", "z", 0))))),
                       Compare("b", "=", "w", 0)))
    assert format_results(["a"], [], 0) == Not(MatchAll())


@pytest.mark.parametrize("fields,row,what", [
    (["search"], ["x"], "field named search"),
    (["query"], ["x"], "field named query"),
    (["a"], [None], "no field values"),
    (["a"], ['say "hi"'], "double quote"),
    (["a"], ["\\\\server\\share"], "escaping backslash"),
])
def test_format_refuses_what_depends_on_text_insertion_or_escaping(fields: List[str], row: list,
                                                                   what: str) -> None:
    with pytest.raises(Unsupported, match=what):
        format_results(fields, [row], 0)


def test_subsearch_maxout_keeps_the_first_10000_results(tmp_path: Path) -> None:
    """Rule [subsearch]: at most 10,000 subsearch results are used, with a warning here."""
    lines = "\n".join(f"x{i}" for i in range(MAXOUT)) + "\ncmd.exe\n"
    app = app_with(tmp_path, "", {"big.csv": "name\n" + lines})
    from test_spl_engine import engine
    res = engine(app=app).run("* | search NOT [| inputlookup big.csv]")
    assert sorted(dict(zip(res.fields, r))["id"] for r in res.rows) == ["1", "2", "3", "4"]   # cmd.exe is #10001
    assert any("only the first 10000" in w for w in res.warnings)


def test_subsearch_errors_point_into_the_whole_search(tmp_path: Path) -> None:
    app = app_with(tmp_path, "", {})
    search = "* | search NOT [| inputlookup nothere.csv | fields a]"
    with pytest.raises(SplError) as err:
        rows(search, app=app)
    assert search[err.value.position:].startswith("nothere.csv")      # the command's arguments
