"""The raw-line prefilter of a leading raw-event search (localsearch.spl.prefilter) and the prefiltered load.

Soundness (every event the compiled search matches passes the prefilter on its JSON line) is checked as a
property over random searches and random events read through DuckDB's read_json, the way the `events` view
reads them; equivalence: the CLI gives the same results with and without the prefilter.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from localsearch.ingest import DERIVED_FIELDS, load_events
from localsearch.spl.expr import parse_search
from localsearch.spl.lexer import tokenize
from localsearch.spl.prefilter import (FOLDS_TO_ASCII, AllOf, AnyOf, Contains, chunk_of, derive,
                                       leading_search, line_filter, to_sql)
from localsearch.spl.sql import Col, compile_search, resolver_for
from project import DATASETS, MAIN_RULE, SAMPLES, SYSMON_RULE, datasets_missing, examples, localsearch

SEARCHES = [MAIN_RULE, SYSMON_RULE]
CON = duckdb.connect()


def formula(search: str, derived=("host", "EventCode", "process_name")):
    node = parse_search(tokenize(search))
    return derive(node, lambda f: f not in derived and not f.startswith("extracted_"))


# ---- derivation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("search, expected", [
    ('ParentImage="*\\\\WmiPrvSE.exe"', Contains("WmiPrvSE.exe")),
    ('Image="C:\\\\Windows\\\\System32\\\\cmd.exe"', Contains("System32")),
    ("a=ab*cdefg*h", Contains("cdefg")),
    ('a="abc\\\\defg"', Contains("defg")),
    ("a=abcd-efg_h.ij", Contains("abcd-efg_h.ij")),
    ("a=abcd:efgh", Contains("abcd")),                 # first of equal length
    ("a=abc", None), ("a=abc*def", None), ('a="*"', None), ('a=""', None),      # short or no chunk
    ("EventCode=123456 host=abcdefgh process_name=cmdexe.exe extracted_host=abcdefg", None),   # derived
    ("a=abcdef host=zzzzzz", Contains("abcdef")),
    ("a=abcdef b=ghijkl", AllOf((Contains("abcdef"), Contains("ghijkl")))),
    ("a=abcdef OR b=ghijkl", AnyOf((Contains("abcdef"), Contains("ghijkl")))),
    ("a=abcdef OR host=ghijkl", None),
    ("a=abcdef OR b=xy", None),
    ("a=abcdef OR NOT b=ghijkl", None),
    ("NOT a=abcdef", None), ("a!=abcdef", None), ("a>abcdefgh", None), ("a<=abcdefgh", None),
    ("*", None), ("abcdefgh", None),
    ("a=abcdef 2520", Contains("abcdef")), ("a=abcdef OR 2520", None),   # bare terms constrain nothing
    ("a IN (abcdef, ghijkl)", AnyOf((Contains("abcdef"), Contains("ghijkl")))),
    ("a IN (abcdef, gh)", None),
    ("(a=abcdef OR b=ghijkl) NOT c=mnopqr d=st", AnyOf((Contains("abcdef"), Contains("ghijkl")))),
])
def test_derive(search: str, expected) -> None:
    assert formula(search) == expected


def test_chunk_of_splits_on_wildcards_backslashes_and_other_characters() -> None:
    assert chunk_of("*\\wmiprvse.exe") == "wmiprvse.exe"
    assert chunk_of("NT AUTHORITY\\SYSTEM") == "AUTHORITY"
    assert chunk_of("0x3e7") == "0x3e7"
    assert chunk_of("a*b*c\\d") is None


def test_leading_search_of_pipelines() -> None:
    assert leading_search("| tstats count from datamodel=Endpoint.Processes") is None
    node = leading_search("search a=abcdef | table a")
    assert (node.field, node.op, node.value) == ("a", "=", "abcdef")
    # a subsearch over the events: no prefilter (it must see every event)
    assert line_filter("a=abcdef [search b=c]", ()) is None
    assert leading_search("a=(") is None                          # does not parse: the engine reports it
    assert line_filter("| tstats count from datamodel=Endpoint.Processes", DERIVED_FIELDS) is None
    assert line_filter("index=* EventCode=1 | table dest", DERIVED_FIELDS) is None
    assert "WmiPrvSE" in line_filter('index=* ParentImage="*\\\\WmiPrvSE.exe" | table dest', DERIVED_FIELDS)


def _passes(sql: str, line: str) -> bool:
    return CON.execute(f"SELECT {sql} FROM (SELECT ?::VARCHAR AS json)", [line]).fetchone()[0]


def test_sql_matches_chunks_case_insensitively_and_passes_guarded_lines() -> None:
    sql = to_sql(formula('a="*\\\\wmiprvse.exe" (b=abcdef OR b=ghijkl)'))
    assert _passes(sql, '{"a": "C:\\\\x\\\\WMIPRVSE.EXE", "b": "GHIJKL"}')
    assert not _passes(sql, '{"a": "C:\\\\x\\\\WMIPRVSE.EXE", "b": "ghijk"}')
    assert not _passes(sql, '{"a": "C:\\\\x\\\\wmiprvseXexe", "b": "abcdef"}')      # '.' is not a wildcard
    for guarded in ('{"a": "\\u0041"}', '{"a": "\u0130"}', '{"a": "\u212a"}'):
        assert _passes(sql, guarded), guarded
    # numbers DuckDB re-renders matter only to chunks that could be part of a number
    assert not _passes(sql, '{"n": 1.5, "m": [1e5]}')
    num = to_sql(formula("a=123456.5*"))
    assert not _passes(num, '{"a": "x", "n": 12, "s": "07:56:20.697", "t": "1.5e3"}')
    assert not _passes(num, '{"a": "\u0130\u212a"}')                 # no i or k in the chunk
    for guarded in ('{"n": 1.5}', '{"n": [1e5]}', '{"n": 2E-3 }', '{"n": {"m": 1.0e+2}}'):
        assert _passes(num, guarded), guarded
    assert _passes(num, '{"a": "123456.5"}')


def test_folds_to_ascii_lists_every_character_duckdb_lowercases_to_ascii() -> None:
    rows = CON.execute("SELECT cp, lower(chr(cp::INTEGER)) FROM range(128, 1114112) t(cp) "
                       "WHERE (cp < 55296 OR cp > 57343) "
                       "AND regexp_matches(lower(chr(cp::INTEGER)), '[\\x00-\\x7F]') ORDER BY cp").fetchall()
    got: Dict[str, str] = {}
    for cp, low in rows:
        for ch in low:
            if ch.isascii():
                got[ch] = got.get(ch, "") + chr(cp)
    assert got == FOLDS_TO_ASCII


def test_derived_fields_cover_every_field_the_view_computes(tmp_path: Path) -> None:
    raw = {"host": "h1", "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\a.exe",
           "ParentImage": "C:\\b.exe", "Hostname": "w1", "@timestamp": "2024-01-01T00:00:00Z"}
    f = tmp_path / "e.json"
    f.write_text(json.dumps(raw) + "\n", encoding="utf-8")
    report = load_events([f], duckdb.connect())
    computed = [n for n in report.columns["events"] if n not in raw]
    assert computed and all(n in DERIVED_FIELDS or n.startswith("extracted_") for n in computed), computed


# ---- soundness property -----------------------------------------------------------------------------
STR_VALUES = st.text(alphabet="aAkKiI1.-_\\ *é\u0130\u212a", min_size=1, max_size=10)
# JSON text DuckDB does not render verbatim as VARCHAR (numbers with fraction/exponent, nested values
# re-serialised, \u escapes)
RAW_JSON = st.sampled_from(["1e5", "123456789.123456789", "1.50", "12345678901234567890123", "-0", "1E-5",
                            '{"k": "\\u0041kKi1.x"}', '[1.0E3, "aKi1-k"]', '"\\u0041kkk\\u0049ii"', "true",
                            '"ki\\/ak"', '"a\\u212aiii"'])
VALUE = st.one_of(st.none(), st.tuples(st.just("s"), STR_VALUES, st.booleans()),
                  st.tuples(st.just("j"), RAW_JSON))
ROW = st.fixed_dictionaries({"a": VALUE, "b": VALUE})
RAW_FIELDS = ["a", "b", "c"]         # c never exists; host is derived (its values are not in the line)


def line_of(row: Dict[str, object]) -> str:
    parts = ['"x": 0']
    for k, v in row.items():
        if v is None:
            continue
        if v[0] == "s":
            parts.append(f'"{k}": {json.dumps(v[1], ensure_ascii=v[2])}')
        else:
            parts.append(f'"{k}": {v[1]}')
    return "{" + ", ".join(parts) + "}"


FOLDED = {"\u0130": "i", "\u212a": "k"}     # what DuckDB's lower() makes of them


def mutate(value: str, rnd: random.Random) -> str:
    """A search pattern this value (probably) matches: case changes, case folds, `*` over some runs."""
    out = []
    wild = rnd.random() < 0.5
    for ch in value:
        r = rnd.random()
        if ch in FOLDED and r < 0.7:
            out.append(FOLDED[ch])
        elif wild and r < 0.15:
            if not out or out[-1] != "*":
                out.append("*")
        elif r < 0.35:
            out.append(ch.swapcase() if ch.isascii() else ch)
        else:
            out.append(ch)
    return "".join(out) or "*"


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expr_strategy(pool: List[str]):
    pattern = st.one_of(st.builds(mutate, st.sampled_from(pool), st.randoms(use_true_random=False)),
                        STR_VALUES) if pool else STR_VALUES
    leaf = st.builds(lambda f, op, p: f"{f}{op}{quote(p)}", st.sampled_from(RAW_FIELDS + ["host"]),
                     st.sampled_from(["=", "=", "=", "!="]), pattern)
    in_list = st.builds(lambda f, ps: f"{f} IN ({', '.join(quote(p) for p in ps)})",
                        st.sampled_from(RAW_FIELDS), st.lists(pattern, min_size=1, max_size=3))
    return st.recursive(st.one_of(leaf, in_list), lambda inner: st.one_of(
        st.builds(lambda e: f"NOT ({e})", inner),
        st.builds(lambda x, y: f"({x}) ({y})", inner, inner),
        st.builds(lambda x, y: f"({x}) OR ({y})", inner, inner)), max_leaves=6)


COLS = [Col("a", "a", "VARCHAR"), Col("b", "b", "VARCHAR"), Col("c", "c", "VARCHAR"),
        Col("host", "host", "VARCHAR")]


def check_sound(lines: List[str], search: Optional[str] = None, draw=None) -> int:
    """Writes the lines, reads them as the events view does (VARCHAR columns a, b, c; host derived: the
    reversed a, not in the line), runs the search (or one drawn from the values read) and asserts that every
    matched line passes the prefilter. Returns the number of matched lines."""
    folder = Path(tempfile.mkdtemp(prefix="prefilter-test-"))
    try:
        path = folder / "e.ndjson"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        p = "'" + str(path).replace("'", "''") + "'"
        rel = (f"(SELECT ordinality AS i, a, b, c, reverse(coalesce(a, 'zz')) || 'QQQQ' AS host FROM "
               f"read_json({p}, format='newline_delimited', records=true, "
               f"columns={{'a': 'VARCHAR', 'b': 'VARCHAR', 'c': 'VARCHAR'}}) WITH ORDINALITY)")
        text = dict(CON.execute(f"SELECT ordinality, json FROM read_ndjson_objects({p}) WITH ORDINALITY")
                    .fetchall())
        if search is None:
            pool = [v for r in CON.execute(f"SELECT a, b, host FROM {rel}").fetchall() for v in r if v]
            search = draw(expr_strategy(pool), label="search")
        node = parse_search(tokenize(search))
        where = compile_search(node, resolver_for(COLS))
        matched = [r[0] for r in CON.execute(f"SELECT i FROM {rel} WHERE {where}").fetchall()]
        f = derive(node, lambda name: name != "host")
        if f is not None:
            sql = to_sql(f)
            for i in matched:
                assert _passes(sql, text[i]), (search, text[i], sql)
        return len(matched)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("search, line", [
    ('a="akkkiii"', '{"a": "\\u0041kkk\\u0049ii"}'),          # escapes spell ASCII letters
    ('a="*kkkk*"', '{"a": {"b": "\\u004bkkk"}}'),                # ... inside a nested value
    ('a="111i"', '{"a": "111\u0130"}'),                         # DuckDB: lower(U+0130) = i
    ('a="kkkk"', '{"a": "\u212akkk"}'),                         # Kelvin sign
    ('a="100000.0"', '{"a": 1e5}'),                             # numbers re-rendered
    ('a="123456789.12345679"', '{"a": 123456789.123456789}'),
    ('a="*1000.0*"', '{"a": [1.0E3, "x"]}'),
    ('a="host-abcdef" OR host="*"', '{"a": "HOST-ABCDEF"}'),
])
def test_sound_on_lines_that_need_a_guard(search: str, line: str) -> None:
    assert check_sound([line], search) == 1


@pytest.mark.slow
@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=1, max_size=4), data=st.data())
def test_every_matched_event_passes_the_prefilter(rows: List[Dict[str, Optional[object]]], data) -> None:
    check_sound([line_of(r) for r in rows], draw=data.draw)


# ---- the prefiltered load and the CLI -----------------------------------------------------------------
def _inputs(tmp_path: Path) -> List[Path]:
    bad = tmp_path / "bad.json"
    bad.write_text('{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}\n{"EventID": 1, oops\n'
                   '[1, 2]\n{}\n', encoding="utf-8")
    beat = tmp_path / "beat.json"
    beat.write_text('{"@timestamp": "2024-01-01T00:00:00Z", "winlog": {"event_id": 1, "channel": '
                    '"Microsoft-Windows-Sysmon/Operational", "computer_name": "h1", "event_data": {"Image": '
                    '"C:\\\\x\\\\cmd.exe", "ParentImage": "C:\\\\Windows\\\\System32\\\\wbem\\\\WmiPrvSE.exe"}}}\n',
                    encoding="utf-8")
    empty_obj = tmp_path / "empty_obj.json"
    empty_obj.write_text('{"EventID": 4688, "Channel": "Security"}\n{ }\n', encoding="utf-8")
    paths = [SAMPLES, bad, beat, empty_obj]
    if (DATASETS / "otrf").is_dir():
        paths.append(DATASETS / "otrf")
    return paths


def test_prefiltered_load_keeps_counts_processes_and_skips(tmp_path: Path) -> None:
    paths = _inputs(tmp_path)
    cond = line_filter('ParentImage="*\\\\WmiPrvSE.exe"', DERIVED_FIELDS)
    assert cond is not None
    full_con, pre_con = duckdb.connect(), duckdb.connect()
    full = load_events(paths, full_con)
    pre = load_events(paths, pre_con, line_filter=cond)
    rows = "SELECT * FROM processes ORDER BY ALL"
    assert pre_con.execute(rows).fetchall() == full_con.execute(rows).fetchall()
    assert (pre.events, pre.processes) == (full.events, full.processes)
    assert full.candidates is None and pre.candidates is not None and 0 < pre.candidates < pre.events
    assert pre_con.execute("SELECT count(*) FROM events").fetchone()[0] == pre.candidates
    assert [(s.path.name, s.record_number, s.reason) for s in pre.skipped] == \
           [(s.path.name, s.record_number, s.reason) for s in full.skipped]
    assert [(f.path.name, f.format, f.events_read, f.records_skipped) for f in pre.files] == \
           [(f.path.name, f.format, f.events_read, f.records_skipped) for f in full.files]
    # the candidate rows are the full view's rows that pass the filter, field for field
    wmi = "SELECT ParentImage, Image, _time, EventCode, dest FROM events WHERE ParentImage ILIKE '%wmiprvse%' ORDER BY ALL"
    got = pre_con.execute(wmi).fetchall()
    assert got and got == full_con.execute(wmi).fetchall()


def test_prefiltered_load_without_candidates_still_has_an_events_view(tmp_path: Path) -> None:
    con = duckdb.connect()
    report = load_events([SAMPLES], con, line_filter=line_filter("a=nowherezzz", DERIVED_FIELDS))
    assert report.candidates == 0 and report.events > 0
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert "EventCode" in report.columns["events"]


def cli(paths: List[Path], search: str, prefilter: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("LOCALSEARCH_NO_PREFILTER", None)
    if not prefilter:
        env["LOCALSEARCH_NO_PREFILTER"] = "1"
    return localsearch("run", *map(str, paths), "--search", search, "--format", "jsonl", env=env)


def _events_read(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("files read:"))


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("inputs", ["samples", pytest.param("datasets", marks=pytest.mark.slow)])
def test_cli_results_do_not_depend_on_the_prefilter(search: str, inputs: str) -> None:
    missing = datasets_missing() if inputs == "datasets" else None
    if missing:
        pytest.skip(missing)
    if inputs == "samples" and not any(SAMPLES.glob("*.log")):
        pytest.skip("no sample events in samples/")
    paths = [SAMPLES] if inputs == "samples" else [DATASETS]
    on, off = cli(paths, search, True), cli(paths, search, False)
    assert on.returncode == 0 and off.returncode == 0, (on.stderr, off.stderr)
    assert on.stdout.splitlines() and on.stdout == off.stdout
    assert _events_read(on.stderr) == _events_read(off.stderr)


@pytest.mark.slow
def test_search_without_table_gives_the_same_results_field_for_field(tmp_path: Path) -> None:
    # without `table` the output lists the fields of the loaded events: with the prefilter only those of the
    # candidate events (fields no candidate has are absent, and their order may differ), values identical
    missing = datasets_missing("otrf")
    if missing:
        pytest.skip(missing)
    local = tmp_path / "local"
    local.mkdir()
    (local / "savedsearches.conf").write_text('[T]\nsearch = ParentImage="*\\\\WmiPrvSE.exe" NOT User="*SYSTEM"\n')
    env = dict(os.environ)
    outs = []
    for off in ("", "1"):
        env["LOCALSEARCH_NO_PREFILTER"] = off
        proc = localsearch("run", str(DATASETS / "otrf"), "--search", "T", "--local-dir", str(local),
                           "--format", "jsonl", env=env)
        assert proc.returncode == 0, proc.stderr
        outs.append([json.loads(line) for line in proc.stdout.splitlines()])
    assert outs[0] and outs[0] == outs[1]
