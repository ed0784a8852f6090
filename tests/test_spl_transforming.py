"""stats, eventstats, sort, head, dedup, fillnull, bin, tstats span= and join against the Search Reference.

References: Search Reference stats ("Statistical and charting functions": count, dc, values, list, min, max,
sum, avg, earliest, latest, first, last; a by field without a value drops the result), eventstats, sort
("Results missing a given field are treated as having the smallest or largest possible value of that field if
the order is descending or ascending"; default limit 10000; desc reverses the results), head (default 10),
dedup (keepempty), fillnull (value= default 0), bin (span=), tstats (span), join (type, max default 1,
overwrite default true; 50,000 subsearch rows).

Events (test_spl_engine.EVENT_ROWS), newest first: id 4 (t=400, note%_pad.exe, carol, n none),
3 (t=300, wmiprvse.EXE, bob, n 2, mv [c]), 2 (t=200, cmd.exe, no user, n 10), 1 (t=100, WmiPrvSE.exe, alice,
n 5, mv [a, b]).
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from localsearch.spl.errors import Unsupported
from test_spl_engine import rows
from test_spl_lookups_subsearch import app_with


def col(search: str, field: str, **kw) -> List[object]:
    return [r.get(field) for r in rows(search, **kw)]


# ---- stats ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("search,expected", [
    # one result without BY, named as typed or by AS
    ("* | stats count", [{"count": "4"}]),
    ("* | stats count(user) AS users dc(name) sum(n) avg(n) min(n) max(n)",
     [{"users": "3", "dc(name)": "4", "sum(n)": "17", "avg(n)": "5.666666666666667", "min(n)": "2",
       "max(n)": "10"}]),
    # min/max as text when a value is not a number
    ("* | stats min(name) max(name)", [{"min(name)": "WmiPrvSE.exe", "max(name)": "wmiprvse.EXE"}]),
    # values: distinct, sorted as text; list: in result order
    ("* | stats values(user) list(id)", [{"values(user)": ["alice", "bob", "carol"], "list(id)": ["4", "3", "2", "1"]}]),
    # earliest/latest by _time, first/last in result order (newest first)
    ("* | stats earliest(id) latest(id) first(id) last(id)",
     [{"earliest(id)": "1", "latest(id)": "4", "first(id)": "4", "last(id)": "1"}]),
    # a multivalue field counts each value
    ("* | stats count(mv) dc(mv) values(mv)", [{"count(mv)": "3", "dc(mv)": "3", "values(mv)": ["a", "b", "c"]}]),
    # over no results: one result, count 0
    ("name=none | stats count dc(user)", [{"count": "0", "dc(user)": "0"}]),
    # BY: results without the by field are left out; ordered by the by values
    ("* | stats count by user", [{"user": "alice", "count": "1"}, {"user": "bob", "count": "1"},
                                 {"user": "carol", "count": "1"}]),
    ("name=none | stats count by user", []),
])
def test_stats(search: str, expected: list) -> None:
    assert rows(search) == expected


def test_stats_syntax_errors_name_the_problem() -> None:
    from localsearch.spl.errors import SplError
    for search, what in [("* | stats", "at least one aggregate"), ("* | stats count by", "BY without fields"),
                         ("* | stats count AS", "AS without a field name"), ("* | stats dc(", "needs one field")]:
        with pytest.raises(SplError, match=what):
            rows(search)


def test_stats_refusals() -> None:
    for search, what in [("* | stats perc95(n)", "stats function perc95()"),
                         ("* | stats count(eval(n>1))", "eval"),
                         ("* | stats count by mv", "multivalue field mv"),
                         ("* | stats sum(mv)", "multivalue field mv")]:
        with pytest.raises(Unsupported, match=what):
            rows(search)


def test_eventstats_adds_group_aggregates_in_place() -> None:
    """Rule (eventstats): every result keeps its place and gets its group's aggregate; a result without the
    by field gets none."""
    out = rows("* | eventstats count dc(id) AS ids | eventstats max(n) AS top by user | table id count ids top")
    assert out == [{"id": "4", "count": "4", "ids": "4", "top": None}, {"id": "3", "count": "4", "ids": "4", "top": "2"},
                   {"id": "2", "count": "4", "ids": "4", "top": None}, {"id": "1", "count": "4", "ids": "4", "top": "5"}]


# ---- sort / head / dedup ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("search,expected", [
    ("* | sort n", ["3", "1", "2", "4"]),                 # numbers numerically; missing last
    ("* | sort -n", ["2", "1", "3", "4"]),                # missing last when descending too
    ("* | sort str(n)", ["2", "3", "1", "4"]),            # "10" < "2" < "5"
    ("* | sort num(n)", ["3", "1", "2", "4"]),
    ("* | sort name", ["1", "2", "4", "3"]),              # text: upper case before lower case
    ("* | sort 2 name", ["1", "2"]),
    ("* | sort limit=1 -n", ["2"]),
    ("* | sort user desc", ["2", "4", "3", "1"]),         # desc reverses the whole order
    ("* | sort - user, n", ["4", "3", "1", "2"]),
    ("* | head 2", ["4", "3"]),
    ("* | head", ["4", "3", "2", "1"]),
    ("* | head limit=1", ["4"]),
    ("* | dedup user", ["4", "3", "1"]),                  # without the field: removed
    ("* | dedup user keepempty=true", ["4", "3", "2", "1"]),
])
def test_ordering_commands(search: str, expected: List[str]) -> None:
    assert col(search, "id") == expected


def test_sort_default_limit_is_10000(tmp_path: Path) -> None:
    app = app_with(tmp_path, "", {"big.csv": "x\n" + "\n".join(str(i) for i in range(10_005)) + "\n"})
    assert len(rows("| inputlookup big.csv | sort x", app=app)) == 10_000
    assert len(rows("| inputlookup big.csv | sort 0 x", app=app)) == 10_005
    assert col("| inputlookup big.csv | sort 3 -x", "x", app=app) == ["10004", "10003", "10002"]


def test_dedup_keeps_the_first_n_per_combination(tmp_path: Path) -> None:
    app = app_with(tmp_path, "", {"d.csv": "a,b\n1,x\n1,x\n1,y\n2,x\n1,x\n"})
    assert [(r["a"], r["b"]) for r in rows("| inputlookup d.csv | dedup 2 a b", app=app)] == \
        [("1", "x"), ("1", "x"), ("1", "y"), ("2", "x")]
    assert [r["b"] for r in rows("| inputlookup d.csv | dedup a", app=app)] == ["x", "x"]


@pytest.mark.parametrize("search,what", [
    ("* | dedup user consecutive=true", "dedup consecutive=true"),
    ("* | dedup user sortby -n", "dedup sortby"),
    ("* | sort ip(name)", "sort ip()"),
    ("* | dedup mv", "multivalue field mv"),
])
def test_ordering_refusals(search: str, what: str) -> None:
    with pytest.raises(Unsupported, match=what):
        rows(search)


def test_sort_refuses_values_starting_with_a_digit_that_are_not_numbers(tmp_path: Path) -> None:
    app = app_with(tmp_path, "", {"v.csv": "v\n10abc\n9\n"})
    with pytest.raises(Unsupported, match="start with a digit"):
        rows("| inputlookup v.csv | sort v", app=app)
    assert col("| inputlookup v.csv | sort str(v)", "v", app=app) == ["10abc", "9"]
    app = app_with(tmp_path / "b", "", {"v.csv": "v\n10\n-x\n9\nb\n"})
    with pytest.raises(Unsupported, match="character before the digits"):
        rows("| inputlookup v.csv | sort v", app=app)
    app = app_with(tmp_path / "c", "", {"v.csv": "v\n10\nB\n-3\n9\na\n"})
    assert col("| inputlookup v.csv | sort v", "v", app=app) == ["-3", "9", "10", "B", "a"]


# ---- fillnull / bin ------------------------------------------------------------------------------------------
def test_fillnull() -> None:
    assert col("* | fillnull user", "user") == ["carol", "bob", "0", "alice"]
    assert col("* | fillnull value=none n", "n") == ["none", "2", "10", "5"]
    assert col("* | fillnull value=x newfield", "newfield") == ["x", "x", "x", "x"]
    assert col("* | table id user | fillnull value=-", "user") == ["carol", "bob", "-", "alice"]


def test_bin() -> None:
    assert col("* | bin span=150s _time", "_time") == ["300", "300", "150", "0"]
    assert col("* | bucket span=1m _time AS t", "t") == ["360", "300", "180", "60"]
    assert col("* | bin span=4 n", "n") == [None, "0-4", "8-12", "4-8"]
    with pytest.raises(Unsupported, match="bin span of d"):
        rows("* | bin span=1d _time")
    with pytest.raises(Unsupported, match="automatic bins"):
        rows("* | bin _time")


def test_tstats_by_time_span_bins_time_in_time_order() -> None:
    out = rows("| tstats count from datamodel=Endpoint.Processes by _time span=30s Processes.dest")
    assert out == [{"_time": "990", "Processes.dest": "h1", "count": "2"},
                   {"_time": "1020", "Processes.dest": "h1", "count": "1"},
                   {"_time": "1020", "Processes.dest": "h2", "count": "2"}]


# ---- join ------------------------------------------------------------------------------------------------------
JOINED = "user,dept\nalice,it\nbob,hr\nalice,ops\n"


@pytest.mark.parametrize("search,expected", [
    # inner (default), max=1: the first matching subsearch result
    ("* | table id user | join user [| inputlookup j.csv]", [("3", "bob", "hr"), ("1", "alice", "it")]),
    ("* | table id user | join type=left user [| inputlookup j.csv]",
     [("4", "carol", None), ("3", "bob", "hr"), ("2", None, None), ("1", "alice", "it")]),
    ("* | table id user | join type=outer max=0 user [| inputlookup j.csv]",
     [("4", "carol", None), ("3", "bob", "hr"), ("2", None, None), ("1", "alice", "it"), ("1", "alice", "ops")]),
    # no field list: the fields in common
    ("* | table id user | join [| inputlookup j.csv]", [("3", "bob", "hr"), ("1", "alice", "it")]),
    # join compares exactly (case-sensitively)
    ("* | table id user | rename user AS u | join u [| inputlookup j.csv | rename user AS u | search u=ALICE "
     "| fillnull value=ALICE x | fields x | rename x AS u]", []),
])
def test_join(tmp_path: Path, search: str, expected: list) -> None:
    app = app_with(tmp_path, "", {"j.csv": JOINED})
    assert [(r["id"], r.get("user"), r.get("dept")) for r in rows(search, app=app)] == expected


def test_join_overwrite(tmp_path: Path) -> None:
    app = app_with(tmp_path, "", {"j.csv": "name,user\ncmd.exe,svc\nWmiPrvSE.exe,system\n"})
    assert col("* | join name [| inputlookup j.csv]", "user", app=app) == ["svc", "system"]
    assert col("* | join overwrite=false name [| inputlookup j.csv]", "user", app=app) == ["svc", "alice"]


def test_join_over_a_subsearch_of_the_same_events() -> None:
    out = rows("* | table id name | join name [search n>4 | table name user]")
    assert [(r["id"], r["user"]) for r in out] == [("2", None), ("1", "alice")]


@pytest.mark.parametrize("search,what", [
    ("* | join usetime=true user [search *]", "join usetime="),
    ("* | join left=L right=R where L.a=R.a [search *]", "left=/right="),
    ("* | join user", None),
])
def test_join_refusals(search: str, what: str) -> None:
    if what is None:
        with pytest.raises(Exception, match="join needs a subsearch"):
            rows(search)
        return
    with pytest.raises(Unsupported, match=what):
        rows(search)


def test_tstats_latest_and_earliest() -> None:
    """Rule (tstats, "latest(X): the chronologically latest seen value"): the value at the largest / smallest
    _time among the events with a value."""
    out = rows("| tstats latest(Processes.process_name) AS last earliest(Processes.process) count "
               "from datamodel=Endpoint.Processes by Processes.dest")
    assert out == [{"Processes.dest": "h1", "last": "powershell.exe", "earliest(Processes.process)": "cmd /c a",
                    "count": "3"},
                   {"Processes.dest": "h2", "last": "notepad.exe", "earliest(Processes.process)": "rundll32 y",
                    "count": "2"}]


def test_tstats_latest_with_several_values_at_that_time_is_refused() -> None:
    import duckdb
    from localsearch.conf import AppConfs
    from localsearch.engine import SearchEngine
    from test_spl_engine import PROC_COLS, REPO
    con = duckdb.connect()
    con.execute('CREATE TABLE processes ("_time" DOUBLE, dest VARCHAR, "user" VARCHAR, process_name VARCHAR, '
                'process_id VARCHAR, parent_process_name VARCHAR, process VARCHAR)')
    con.execute("INSERT INTO processes VALUES (5, 'h', NULL, 'a.exe', '1', 'p', 'a'), (5, 'h', NULL, 'b.exe', '2', "
                "'p', 'b'), (1, 'h', NULL, 'c.exe', '3', 'p', 'c')")
    eng = SearchEngine(con, {"processes": PROC_COLS}, AppConfs(REPO, REPO / "local"))
    with pytest.raises(Unsupported, match="several values at the same latest time"):
        eng.run("| tstats latest(Processes.process_name) from datamodel=Endpoint.Processes")
    res = eng.run("| tstats earliest(Processes.process_name) from datamodel=Endpoint.Processes")
    assert res.rows == [["c.exe"]]


def test_stats_spread_functions_are_sample_and_population_figures() -> None:
    """Search Reference, "Statistical and charting functions": stdev/var are the sample standard deviation and
    variance, stdevp/varp the population ones, over the values that are numbers (ESCU's
    unusually_long_command_line: `eventstats stdev(processlen) as stdev ... by dest`)."""
    import statistics
    values = [5, 10, 2]                       # n of the events; id 4 has none
    [out] = rows("* | stats stdev(n) var(n) stdevp(n) varp(n)")
    got = {k: float(v) for k, v in out.items()}
    assert got["stdev(n)"] == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert got["var(n)"] == pytest.approx(statistics.variance(values), rel=1e-12)
    assert got["stdevp(n)"] == pytest.approx(statistics.pstdev(values), rel=1e-12)
    assert got["varp(n)"] == pytest.approx(statistics.pvariance(values), rel=1e-12)
    by_user = {r["user"]: r.get("s") for r in rows("* | eventstats stdevp(n) AS s by user | table user s")
               if r.get("user")}
    assert by_user == {"alice": "0", "bob": "0", "carol": None}


def test_sample_spread_of_a_single_value_is_refused() -> None:
    # the sample figure of one value (n - 1 = 0) is not documented
    for search in ("* | stats stdev(n) by user", "* | eventstats var(n) by user"):
        with pytest.raises(Unsupported, match="of a single value"):
            rows(search)
