"""Search semantics of the local runner against Splunk's documented behaviour, on small DuckDB tables.

Splunk references: Search Manual "Boolean expressions" (search evaluates NOT, then OR, then AND; where
evaluates NOT, then AND, then OR), "Comparison operators" (field!=value needs the field; NOT field=value
also returns events without it), "Use wildcards", "Backslashes"; Search Reference tstats (fillnull_value),
rename, convert, lookup; transforms.conf (match_type WILDCARD, case_sensitive_match, max_matches).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import duckdb
import pytest

from localsearch.conf import AppConfs
from localsearch.engine import CommandError, SearchEngine
from localsearch.spl.errors import SplError, Unsupported
from project import REPO

EVENT_COLS = {"_time": '"_time"', "name": '"name"', "path": '"path"', "user": '"user"', "User": '"User#2"',
              "n": '"n"', "mv": '"mv"', "id": '"id"'}
EVENT_ROWS = [
    # id, _time, name, path, user, User, n, mv
    ("1", 100.0, "WmiPrvSE.exe", r"C:\Windows\System32\wbem\WmiPrvSE.exe", "alice", "ALICE-RAW", 5, ["a", "b"]),
    ("2", 200.0, "cmd.exe", r"C:\Windows\System32\cmd.exe", None, "x", 10, None),
    ("3", 300.0, "wmiprvse.EXE", r"c:\windows\system32\WBEM\wmiprvse.exe", "bob", None, 2, ["c"]),
    ("4", 400.0, "note%_pad.exe", None, "carol", None, None, None),
]

PROC_COLS = {c: f'"{c}"' for c in ("_time", "dest", "user", "process_name", "process_id",
                                   "parent_process_name", "process")}
PROC_ROWS = [
    (1000.0, "h1", "CORP\\alice", "cmd.exe", "10", "WmiPrvSE.exe", "cmd /c a"),
    (1010.0, "h1", "CORP\\alice", "cmd.exe", "10", "wmiprvse.exe", "cmd /c a"),
    (1020.0, "h1", "CORP\\alice", "powershell.exe", "11", "WMIPRVSE.EXE", "powershell -enc x"),
    (1030.0, "h2", None, "rundll32.exe", None, "WmiPrvSE.exe", "rundll32 y"),
    (1040.0, "h2", "CORP\\bob", "notepad.exe", "12", "explorer.exe", "notepad"),
]


def make_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute('CREATE TABLE events (id VARCHAR, "_time" DOUBLE, name VARCHAR, path VARCHAR, "user" VARCHAR, '
                '"User#2" VARCHAR, n BIGINT, mv VARCHAR[])')
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [list(r) for r in EVENT_ROWS])
    con.execute('CREATE TABLE processes ("_time" DOUBLE, dest VARCHAR, "user" VARCHAR, process_name VARCHAR, '
                'process_id VARCHAR, parent_process_name VARCHAR, process VARCHAR)')
    con.executemany("INSERT INTO processes VALUES (?, ?, ?, ?, ?, ?, ?)", [list(r) for r in PROC_ROWS])
    return con


def engine(app: Path = REPO, local: Optional[Path] = None, **kw) -> SearchEngine:
    return SearchEngine(make_con(), {"events": EVENT_COLS, "processes": PROC_COLS},
                        AppConfs(app, local or app / "local"), **kw)


def rows(search: str, **kw) -> List[Dict[str, object]]:
    res = engine(**kw).run(search)
    return [dict(zip(res.fields, r)) for r in res.rows]


def ids(search: str) -> List[str]:
    return sorted(r["id"] for r in rows(search))


# ---- search expressions ------------------------------------------------------------------------------
@pytest.mark.parametrize("search,expected", [
    ("name=wmiprvse.exe", ["1", "3"]),                                   # values are case-insensitive
    ('path="*\\\\wbem\\\\*"', ["1", "3"]),                               # wildcards, escaped backslashes
    ("name=*PRVSE*", ["1", "3"]),
    ("name=note%_*", ["4"]),                                             # % and _ are not wildcards in SPL
    ("name=note__pad*", []),
    ('path="C:\\\\Windows\\\\System32\\\\cmd.exe"', ["2"]),
    ("user=alice", ["1"]),
    ("User=alice", []),                                                  # field names are case-sensitive
    ("User=ALICE*", ["1"]),
    ("user!=alice", ["3", "4"]),                                         # != needs the field to exist
    ("NOT user=alice", ["2", "3", "4"]),                                 # NOT also keeps events without it
    ("user=*", ["1", "3", "4"]),
    ("name=cmd.exe OR name=wmiprvse.exe user=bob", ["3"]),               # OR before AND in search
    ("user=bob name=cmd.exe OR name=wmiprvse.exe", ["3"]),
    ("NOT name=cmd.exe OR user=carol", ["1", "3", "4"]),                 # NOT binds tightest
    ("NOT (name=cmd.exe OR user=carol)", ["1", "3"]),
    ("name=wmiprvse.exe AND user=bob", ["3"]),
    ("name IN (cmd.exe, \"note*\")", ["2", "4"]),
    ("NOT name IN (cmd.exe)", ["1", "3", "4"]),
    ("n>3", ["1", "2"]),
    ("n>=10", ["2"]),
    ("n<5", ["3"]),
    ("mv=b", ["1"]),                                                     # any value of a multivalue field
    ("mv!=a", ["3"]),
    ("NOT mv=a", ["2", "3", "4"]),
    ("nosuch=x", []),
    ("NOT nosuch=x", ["1", "2", "3", "4"]),
    ("nosuch!=x", []),
    ("*", ["1", "2", "3", "4"]),
])
def test_leading_search_and_piped_search_agree(search: str, expected: List[str]) -> None:
    assert ids(search) == expected
    assert ids(f"* | search {search}") == expected


def test_raw_search_returns_newest_first() -> None:
    assert [r["id"] for r in rows("*")] == ["4", "3", "2", "1"]


def test_bare_terms_and_modifiers_are_refused() -> None:
    with pytest.raises(Unsupported, match="unsupported in local runs: search term 'powershell'"):
        rows("name=cmd.exe powershell")
    with pytest.raises(Unsupported, match="earliest"):
        rows("earliest=-24h name=x")
    with pytest.raises(Unsupported, match="subsearch"):
        rows("* | where n > 1 [search name=y]")       # a subsearch where the command takes none


def test_syntax_errors_name_the_position() -> None:
    with pytest.raises(SplError) as err:
        rows("name=x | search (user=a")
    assert "missing ')'" in str(err.value) and "at character" in str(err.value)
    with pytest.raises(SplError, match="missing value after user="):
        rows("user= OR x=1")


def test_time_window_applies_to_raw_search() -> None:
    assert sorted(r["id"] for r in rows("*", earliest=200, latest=400)) == ["2", "3"]


# ---- where ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr,expected", [
    ("n > 3", ["1", "2"]),
    ('user="alice"', ["1"]),
    ('user="ALICE"', []),                                                # where compares case-sensitively
    ("isnull(user)", ["2"]),
    ("isnotnull(user) AND n < 5", ["3"]),
    ('like(name, "%.exe")', ["1", "2", "4"]),
    ('name LIKE "%.EXE"', ["3"]),
    ('match(name, "^wmi")', ["3"]),
    ('NOT user="alice"', ["3", "4"]),                                    # NOT of a null comparison is null
    ('user="bob" OR user="alice" AND n=10', ["3"]),                      # AND before OR in where
    ('(user="bob" OR user="alice") AND n=5', ["1"]),
    ("user=User", []),
    ("'User'=\"x\"", ["2"]),
    ("isnull(mv)", ["2", "4"]),
    ('in(user, "bob", "carol")', ["3", "4"]),
    ('user IN ("bob", "carol")', ["3", "4"]),
    ('NOT user IN ("bob")', ["1", "4"]),
    (r'match(path, "(?i)\\\\wbem\\\\")', ["1", "3"]),          # SPL \\\\ -> regex \\ -> one backslash
])
def test_where(expr: str, expected: List[str]) -> None:
    assert ids(f"* | where {expr}") == expected


def test_where_refuses_what_it_cannot_do() -> None:
    with pytest.raises(Unsupported, match="eval function sha256"):
        rows("* | where sha256(name)=\"x\"")
    with pytest.raises(SplError, match="Boolean"):
        rows("* | where user")


# ---- tstats --------------------------------------------------------------------------------------------
TSTATS = ("| tstats {opts} count min(_time) as firstTime max(_time) as lastTime from datamodel=Endpoint.Processes "
          "where Processes.parent_process_name=WmiPrvSE.exe by Processes.dest Processes.user Processes.process_id")


def test_tstats_without_fillnull_drops_rows_with_null_by_fields() -> None:
    out = rows(TSTATS.format(opts="summariesonly=false"))
    assert out == [
        {"Processes.dest": "h1", "Processes.user": "CORP\\alice", "Processes.process_id": "10",
         "count": "2", "firstTime": "1000", "lastTime": "1010"},
        {"Processes.dest": "h1", "Processes.user": "CORP\\alice", "Processes.process_id": "11",
         "count": "1", "firstTime": "1020", "lastTime": "1020"},
    ]


def test_tstats_fillnull_value_fills_null_by_fields() -> None:
    out = rows(TSTATS.format(opts="summariesonly=false allow_old_summaries=true fillnull_value=null"))
    assert [(r["Processes.dest"], r["Processes.user"], r["Processes.process_id"], r["count"]) for r in out] == [
        ("h1", "CORP\\alice", "10", "2"), ("h1", "CORP\\alice", "11", "1"), ("h2", "null", "null", "1")]
    dash = rows(TSTATS.format(opts='fillnull_value="-"'))
    assert dash[-1]["Processes.user"] == "-"


def test_tstats_values_dc_and_no_by() -> None:
    out = rows("| tstats values(Processes.process_name) as names dc(Processes.user) count(Processes.user) "
               "from datamodel=Endpoint.Processes where Processes.parent_process_name=wmiprvse.exe "
               "by Processes.dest")
    assert out == [
        {"Processes.dest": "h1", "names": ["cmd.exe", "powershell.exe"], "dc(Processes.user)": "1",
         "count(Processes.user)": "3"},
        {"Processes.dest": "h2", "names": "rundll32.exe", "dc(Processes.user)": "0", "count(Processes.user)": "0"},
    ]
    assert rows("| tstats count from datamodel=Endpoint.Processes where Processes.dest=nothere") == [{"count": "0"}]
    assert rows("| tstats count from datamodel=Endpoint.Processes") == [{"count": "5"}]


def test_tstats_time_window() -> None:
    assert rows("| tstats count from datamodel=Endpoint.Processes", earliest=1010, latest=1030) == [{"count": "2"}]


@pytest.mark.parametrize("search,what", [
    ("| tstats sum(Processes.process_id) from datamodel=Endpoint.Processes", "tstats function sum"),
    ("| tstats count from datamodel=Network_Traffic.All_Traffic", "datamodel=Network_Traffic"),
    ("| tstats prestats=t count from datamodel=Endpoint.Processes", "tstats option prestats"),
    ("| tstats count from datamodel=Endpoint.Processes by _time span=1d", "time span 1d"),
    ("| stats count", "generating command stats"),
    ("* | stats count by user span=1h", "stats by option"),
    ("* | eval x=sha256(name)", "eval function sha256"),
    ("* | head count>5", "head with an eval expression"),
    ("* | convert dur2sec(n)", "convert function dur2sec"),
    ('* | convert timeformat="%s" ctime(n)', "timeformat directive"),
])
def test_unsupported_is_refused_by_name(search: str, what: str) -> None:
    with pytest.raises(Unsupported) as err:
        rows(search)
    assert str(err.value).startswith("unsupported in local runs: ") and what in str(err.value)


# ---- rename, convert, fields, table ------------------------------------------------------------------
def test_rename_wildcards_and_overwrite() -> None:
    res = engine().run("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user "
                       "| rename Processes.* AS * | rename count AS dest")
    assert res.fields == ["user", "dest"]               # renaming onto an existing field replaces it
    res = engine().run("* | table name path | rename *a* AS x_*_y_*")
    assert res.fields == ["x_n_y_me", "x_p_y_th"]
    res = engine().run("* | table name | rename nosuch AS name2")
    assert res.fields == ["name"]


def test_convert_ctime() -> None:
    out = rows('| tstats min(_time) as firstTime from datamodel=Endpoint.Processes by Processes.dest '
               '| convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime)')
    assert [r["firstTime"] for r in out] == ["1970-01-01T00:16:40", "1970-01-01T00:17:10"]
    out = rows("* | table id _time name | convert ctime(_time) AS shown ctime(name)")
    assert out[-1]["shown"] == "01/01/1970 00:01:40"    # Splunk's default timeformat, UTC
    assert out[-1]["_time"] == "100"                     # AS keeps the original
    assert out[-1]["name"] == "WmiPrvSE.exe"             # not a number: left as it was


def test_fields_and_table() -> None:
    res = engine().run("* | fields - mv, User, path")
    assert res.fields == ["_time", "name", "user", "n", "id"]
    res = engine().run("* | fields name, u*")
    assert res.fields == ["name", "user", "_time"]       # fields + keeps _time
    res = engine().run("* | table n* missing id")
    assert res.fields == ["name", "n", "missing", "id"]
    assert all(r[2] is None for r in res.rows)


# ---- lookup --------------------------------------------------------------------------------------------
def lookup_app(tmp_path: Path, transforms: str, csv_text: str) -> Path:
    app = tmp_path / "app"
    (app / "default").mkdir(parents=True)
    (app / "lookups").mkdir()
    (app / "default" / "transforms.conf").write_text(transforms)
    (app / "lookups" / "l.csv").write_text(csv_text)
    return app


def test_lookup_wildcard_case_insensitive(tmp_path: Path) -> None:
    app = lookup_app(tmp_path, "[allow]\nfilename = l.csv\nmatch_type = WILDCARD(name), WILDCARD(path)\n"
                               "case_sensitive_match = false\nmax_matches = 1\n",
                     "name,path,reason\nWMIPRVSE.*,*\\WBEM\\*,wmi host\ncmd.exe,*,shell\n")
    out = rows("* | lookup allow name path OUTPUT reason AS why | table id why", app=app)
    assert sorted((r["id"], r["why"]) for r in out) == [
        ("1", "wmi host"), ("2", "shell"), ("3", "wmi host"), ("4", None)]
    out = rows("* | lookup allow name path OUTPUT reason AS why | where isnull(why) | table id", app=app)
    assert [r["id"] for r in out] == ["4"]


def test_lookup_is_case_sensitive_by_default_and_exact_without_wildcard(tmp_path: Path) -> None:
    app = lookup_app(tmp_path, "[allow]\nfilename = l.csv\n", "name,reason\nwmiprvse.exe,x\nWmiPrvSE*,y\n")
    out = rows("* | lookup allow name | table id reason", app=app)
    assert sorted((r["id"], r["reason"]) for r in out) == [("1", None), ("2", None), ("3", None), ("4", None)]
    out = rows("* | lookup allow name AS name OUTPUTNEW reason | table id reason", app=app)
    assert all(r["reason"] is None for r in out)


def test_lookup_max_matches_gives_multivalue_and_outputnew(tmp_path: Path) -> None:
    app = lookup_app(tmp_path, "[allow]\nfilename = l.csv\nmatch_type = WILDCARD(name)\n"
                               "case_sensitive_match = false\n",
                     "name,tag\n*.exe,exe\nwmi*,wmi\nnothing,z\n")
    out = {r["id"]: r["tag"] for r in rows("* | lookup allow name OUTPUT tag | table id tag", app=app)}
    assert out == {"1": ["exe", "wmi"], "2": "exe", "3": ["exe", "wmi"], "4": "exe"}
    out = {r["id"]: r["user"] for r in rows("* | lookup allow name OUTPUTNEW tag AS user | table id user", app=app)}
    assert out["1"] == "alice" and out["2"] == "exe"


def test_lookup_errors_name_the_lookup(tmp_path: Path) -> None:
    app = lookup_app(tmp_path, "[allow]\nfilename = l.csv\n", "name,reason\n")
    with pytest.raises(SplError, match=r"lookup nothere is not defined in transforms.conf"):
        rows("* | lookup nothere name", app=app)
    with pytest.raises(SplError, match=r"field 'dest' is not a column of .*l.csv"):
        rows("* | lookup allow dest", app=app)


def test_app_allowlist_macro_removes_listed_rows(tmp_path: Path) -> None:
    """The shipped allowlist macro, with the analyst's allowlist (never shipped) created in a copy of the app."""
    import shutil
    app = tmp_path / "app"
    shutil.copytree(REPO / "default", app / "default")
    shutil.copytree(REPO / "lookups", app / "lookups")
    csv_path = app / "lookups" / "wmi_process_execution_allowlist.csv"
    header = "dest,user,process_name,process,reason"
    csv_path.write_text(header + "\nH1,corp\\ALICE,*,cmd*,admin scripts\n")
    search = ("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user "
              "Processes.process_name Processes.process | `drop_dm_object_name(Processes)` "
              "| `process_execution_via_wmi_allowlist`")
    out = rows(search, app=app)
    assert sorted(r["process_name"] for r in out) == ["notepad.exe", "powershell.exe"]
    assert all("allowlist_reason" not in r for r in out)


# ---- custom commands ---------------------------------------------------------------------------------
def test_custom_command_runs_as_subprocess_and_keeps_multivalue() -> None:
    res = engine().run("| tstats values(Processes.process_name) as process_name count "
                       "from datamodel=Endpoint.Processes by Processes.dest | rename Processes.* AS * "
                       '| rbascore impact=70 confidence=70 message="$process_name$ on $dest$"')
    out = [dict(zip(res.fields, r)) for r in res.rows]
    assert out[0]["dest"] == "h1" and out[0]["process_name"] == ["cmd.exe", "powershell.exe"]
    assert out[0]["risk_score"] == "49"
    assert "h1" in out[0]["risk_message"] and "cmd.exe" in out[0]["risk_message"]


def test_custom_command_failure_carries_its_error() -> None:
    with pytest.raises(CommandError) as err:
        rows('* | rbascore impact=high confidence=70 message="x"')
    assert "rbascore" in str(err.value) and "impact" in str(err.value)


def test_custom_command_chunks_of_at_most_chunk_size() -> None:
    seen = []

    def runner(argv, args, fields, rows_iter, **kw):
        from localsearch.chunked import CommandOutput
        data = list(rows_iter)
        seen.append((argv, args, fields, len(data), kw["chunk_size"]))
        return CommandOutput(fields=fields, rows=[list(r) for r in data], messages=[("WARN", "w")],
                             getinfo={}, records_in=len(data), records_out=len(data))

    eng = engine(command_runner=runner, chunk_size=2)
    res = eng.run('* | table id mv | rbascore impact=1 confidence=2 message="a \\"b\\" $id$"')
    argv, args, fields, n, chunk = seen[0]
    assert argv[1].endswith("rbascore.py") and args == ["impact=1", "confidence=2", 'message=a "b" $id$']
    assert fields == ["id", "mv"] and n == 4 and chunk == 2
    assert res.messages == [("WARN", "w")]
    assert dict(zip(res.fields, res.rows[-1]))["mv"] == ["a", "b"]


def test_unknown_command_is_refused() -> None:
    with pytest.raises(Unsupported, match="unsupported in local runs: command nosuchcmd"):
        rows("* | nosuchcmd a=1")


def test_custom_command_real_subprocess_over_several_chunks() -> None:
    res = engine(chunk_size=3).run('* | table id name mv | rbascore impact=50 confidence=50 message="$name$ $mv$"')
    out = [dict(zip(res.fields, r)) for r in res.rows]
    assert [r["id"] for r in out] == ["4", "3", "2", "1"]           # order kept across chunks
    assert all(r["risk_score"] == "25" for r in out)
    assert out[-1]["mv"] == ["a", "b"] and out[-1]["risk_message"].startswith("WmiPrvSE.exe ")
