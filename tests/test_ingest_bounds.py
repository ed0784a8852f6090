"""Bounded resources: odd records give a clean per-record skip (file and record number) or a consistent answer,
never a traceback or an aborted run (localsearch/ingest/bounds.py states the bounds)."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import List

import duckdb
import pytest
from project import REPO, SYSMON_RULE, localsearch

from localsearch.ingest import LoadError, load_events

RAW = SYSMON_RULE
BASE = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "h1",
        "Image": "C:\\x\\cmd.exe", "ParentImage": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "ProcessId": "5",
        "User": "CORP\\a", "LogonId": "0x1", "@timestamp": "2024-01-02T03:04:05Z"}
OK = json.dumps(BASE)


def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return localsearch("run", *args, "--app-dir", str(REPO), "--format", "jsonl", env=env)


def both(path: Path) -> List[subprocess.CompletedProcess]:
    """The shipped tstats search and the raw-event variant (with and without the prefilter)."""
    out = [cli(str(path)), cli(str(path), "--search", RAW),
           cli(str(path), "--search", RAW, env=dict(os.environ, LOCALSEARCH_NO_PREFILTER="1"))]
    for p in out:
        assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    return out


def test_deep_json_is_read_or_skipped_cleanly(tmp_path: Path) -> None:
    f = tmp_path / "deep.json"
    f.write_text(OK + "\n" + '{"a":' * 100_000 + "1" + "}" * 100_000 + "\n" + '[' * 100_000 + "\n" + OK + "\n")
    runs = both(f)
    assert all(len(p.stdout.splitlines()) >= 1 for p in runs)
    r = load_events([f], duckdb.connect())
    assert r.events + len(r.skipped) == 4 and all(s.record_number in (2, 3) for s in r.skipped)


def test_an_empty_json_key_names_no_field(tmp_path: Path) -> None:
    f = tmp_path / "e.json"
    f.write_text(json.dumps({"": "x", **BASE}) + "\n" + OK + "\n")
    runs = both(f)
    assert [len(p.stdout.splitlines()) for p in runs] == [1, 2, 2]


@pytest.mark.parametrize("stamp", ["0000-01-02T03:04:05Z", "10000-01-02T03:04:05Z"])
def test_times_outside_years_1_to_9999_are_untimed(tmp_path: Path, stamp: str) -> None:
    f = tmp_path / "t.json"
    f.write_text(json.dumps({**BASE, "@timestamp": stamp, "UtcTime": stamp}) + "\n" + OK + "\n")
    runs = both(f)
    assert [len(p.stdout.splitlines()) for p in runs] == [1, 2, 2]     # tstats groups the two alike
    con = duckdb.connect()
    load_events([f], con)
    assert sorted(con.execute("SELECT _time FROM processes").fetchall(), key=repr) == [(1704164645.0,), (None,)]


@pytest.mark.slow                       # records at the size limits, run by the CLI
def test_a_record_over_32_mib_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    f = tmp_path / "big.json"
    with open(f, "w", encoding="utf-8") as fh:
        fh.write(OK + "\n")
        fh.write('{"EventID": 1, "x": "' + "a" * (33 << 20) + '"}\n')
        fh.write(OK + "\n")
    for p in both(f):
        assert "record 2: record of 34,603,0" in p.stderr and "over the 32 MiB limit" in p.stderr
        assert str(f) in p.stderr and os.path.join(tempfile.gettempdir(), "localsearch-") not in p.stderr
    gz = tmp_path / "big.log"           # the same in XmlWinEventLog text
    gz.write_bytes(b"<Event>" + b"a" * (33 << 20) + b"\n")
    r = load_events([gz], duckdb.connect())
    assert r.events == 0 and [s.record_number for s in r.skipped] == [1]


@pytest.mark.slow                       # records at the size limits, run by the CLI
def test_a_record_with_10000_fields_is_skipped(tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_text(json.dumps({**BASE, **{f"f{i}": "" for i in range(10_000)}}) + "\n" + OK + "\n")
    assert f.stat().st_size < 200_000
    runs = both(f)
    assert all("record 1: record has 10,009 fields, over the limit of 2,000" in p.stderr for p in runs)


@pytest.mark.slow                       # records at the size limits, run by the CLI
def test_10000_distinct_fields_over_many_records_are_refused_for_a_raw_search(tmp_path: Path) -> None:
    f = tmp_path / "spread.json"
    f.write_text("".join(json.dumps({**BASE, **{f"f{i}_{j}": "v" for j in range(10)}}) + "\n" for i in range(1000)))
    assert cli(str(f)).returncode == 0                       # tstats reads only the data model
    p = cli(str(f), "--search", RAW)
    assert p.returncode == 2 and "unsupported in local runs: the events hold 10,009 distinct field names" in p.stderr
    with pytest.raises(LoadError):
        load_events([f], duckdb.connect())


def test_duplicate_keys_resolve_alike_whatever_the_other_lines(tmp_path: Path) -> None:
    """Rule (bounds.py): every value of a repeated key is kept, as one multivalue field."""
    line = OK[:-1] + ', "User": "CORP\\\\b"}'
    assert line.count('"User"') == 2
    alone = tmp_path / "alone.json"
    alone.write_text(line + "\n")
    mixed = tmp_path / "mixed.json"                 # a non-object line sends the file to the Python reader
    mixed.write_text(line + "\n[1]\n")
    walked = tmp_path / "w"
    walked.mkdir()
    (walked / "x.json").write_text(OK + "\n" + line + "\n")
    got = []
    for paths in ([alone], [mixed], [walked]):
        for raw_events in (True, False):
            con = duckdb.connect()
            r = load_events(paths, con, raw_events=raw_events)
            got.append(con.execute("SELECT \"user\" FROM processes ORDER BY ALL").fetchall()[-1])
            if raw_events:
                c = r.columns["events"]
                vals = con.execute(f"SELECT {c['User']} FROM events ORDER BY ALL").fetchall()
                assert ("CORP\\a\nCORP\\b",) in vals
    assert set(got) == {("CORP\\a\nCORP\\b",)}
