"""Ingest of malformed, truncated and odd inputs written into tmp_path."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from localsearch.ingest import LoadError, load_events
from project import DATASETS, SAMPLES, needs_datasets

EVTX_4688_NAME = "mdecrevoisier/ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx"
EVTX_4688 = DATASETS / EVTX_4688_NAME
SAMPLE = SAMPLES / "wmi_process_execution.XmlWinEventLog.log"


def _sysmon1(pid: int, parent: str = "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", **extra) -> dict:
    d = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "h1.corp.example",
         "@timestamp": "2024-01-02T03:04:05.678Z", "Image": "C:\\Windows\\System32\\cmd.exe",
         "CommandLine": "cmd.exe /c ver", "ProcessId": str(pid), "ParentImage": parent, "User": "CORP\\alice"}
    d.update(extra)
    return d


def _load(*paths: Path):
    con = duckdb.connect()
    return con, load_events(list(paths), con)


def test_malformed_json_line_is_reported_and_reading_goes_on(tmp_path):
    f = tmp_path / "a.json"
    f.write_text(json.dumps(_sysmon1(1)) + "\n" + '{"EventID": 1, "Channel": \n' + json.dumps(_sysmon1(3)) + "\n")
    con, r = _load(f)
    assert r.events == 2 and r.processes == 2
    assert [(s.path, s.record_number) for s in r.skipped] == [(f, 2)]
    assert "malformed JSON" in r.skipped[0].reason and str(f) in str(r.skipped[0])
    assert r.files[0].records_skipped == 1 and r.files[0].events_read == 2
    assert sorted(x[0] for x in con.execute("SELECT process_id FROM processes").fetchall()) == ["1", "3"]


def test_truncated_json_file(tmp_path):
    f = tmp_path / "t.json"
    line = json.dumps(_sysmon1(7))
    f.write_text(line + "\n" + line[: len(line) // 2])
    con, r = _load(f)
    assert r.events == 1
    assert len(r.skipped) == 1 and r.skipped[0].record_number == 2 and "truncated" in r.skipped[0].reason


def test_blank_lines_are_not_records(tmp_path):
    f = tmp_path / "b.json"
    f.write_text("\n" + json.dumps(_sysmon1(1)) + "\n\n   \n" + json.dumps(_sysmon1(2)) + "\n\n")
    con, r = _load(f)
    assert r.events == 2 and r.skipped == [] and r.files[0].records_skipped == 0
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_non_object_records_are_skipped(tmp_path):
    f = tmp_path / "n.json"
    f.write_text(json.dumps(_sysmon1(1)) + "\n[1, 2]\n{}\n" + json.dumps(_sysmon1(2)) + "\n")
    con, r = _load(f)
    assert r.events == 2
    assert [s.record_number for s in r.skipped] == [2, 3]
    assert "not an object" in r.skipped[0].reason and "empty" in r.skipped[1].reason


def test_broken_xml_line(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    f = tmp_path / "x.log"
    f.write_text("\n".join([lines[0], lines[3][:200], "", lines[4]]) + "\n", encoding="utf-8")
    con, r = _load(f)
    assert r.files[0].format == "xmlwineventlog"
    assert r.events == 2
    assert [(s.record_number, "malformed XML" in s.reason) for s in r.skipped] == [(2, True)]


def test_empty_and_unknown_files(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    with pytest.raises(LoadError, match="empty"):
        _load(empty)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    with pytest.raises(LoadError) as ei:
        _load(blob)
    assert str(blob) in str(ei.value) and "unknown binary" in str(ei.value)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(LoadError, match="unknown format"):
        _load(text)
    with pytest.raises(LoadError, match="no such file"):
        _load(tmp_path / "missing.json")


def test_folder_walk_reports_ignored_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.json").write_text(json.dumps(_sysmon1(5)) + "\n")
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "empty.log").write_bytes(b"")
    con, r = _load(tmp_path)
    assert r.events == 1
    ignored = {f.path.name: f.note for f in r.files if f.format == "ignored"}
    assert set(ignored) == {"README.md", "empty.log"} and ignored["empty.log"] == "empty file"


@needs_datasets(EVTX_4688_NAME)
def test_truncated_evtx(tmp_path):
    from evtx import PyEvtxParser
    full = sum(1 for _ in PyEvtxParser(str(EVTX_4688)).records())
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(EVTX_4688.read_bytes()[:70000])     # inside the second 64 KiB chunk
    readable = sum(1 for _ in PyEvtxParser(str(cut)).records())
    assert 0 < readable < full
    con, r = _load(cut)
    assert r.events == readable
    assert r.files[0].records_skipped == full - readable == len(r.skipped)
    assert [s.record_number for s in r.skipped] == list(range(readable + 1, full + 1))
    assert all("truncated EVTX" in s.reason and s.path == cut for s in r.skipped)


def test_evtx_header_only_is_an_error(tmp_path):
    f = tmp_path / "h.evtx"
    f.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    with pytest.raises(LoadError) as ei:
        _load(f)
    assert str(f) in str(ei.value)


def test_case_collisions_get_distinct_columns(tmp_path):
    f = tmp_path / "c.json"
    recs = [
        _sysmon1(10, User="CORP\\bob"),
        {"EventID": 5156, "Channel": "security", "Hostname": "h1.corp.example", "ProcessID": "4", "user": "raw-lower"},
        _sysmon1(11, parent="C:\\Windows\\explorer.exe", User="CORP\\carol"),
    ]
    f.write_text("\n".join(json.dumps(d) for d in recs) + "\n")
    con, r = _load(f)
    c = r.columns["events"]
    # raw User (2 events) keeps its name; raw `user` (1 event) and CIM `user` are the same Splunk field
    assert c["User"] == '"User"' and c["user"] != '"user"' and c["user"].lower() != '"user"'
    assert c["ProcessId"] == '"ProcessId"' and c["ProcessID"] == '"ProcessID#2"'
    lowered = [v.lower() for v in c.values()]
    assert len(lowered) == len(set(lowered))
    rows = con.execute(f"""SELECT {c['EventCode']}, {c['User']}, {c['user']}, {c['ProcessId']}, {c['ProcessID']}
                           FROM events ORDER BY {c['EventCode']}, {c['ProcessId']}""").fetchall()
    assert rows == [("1", "CORP\\bob", "CORP\\bob", "10", None), ("1", "CORP\\carol", "CORP\\carol", "11", None),
                    ("5156", None, "raw-lower", None, "4")]


def test_winlogbeat_shape(tmp_path):
    f = tmp_path / "w.json"
    d = {"@timestamp": "2024-01-02T03:04:05.000Z", "message": "Process Create", "host": {"name": "x"},
         "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "computer_name": "W1.corp.example",
                    "record_id": 77, "user": {"identifier": "S-1-5-18"},
                    "event_data": {"Image": "C:\\Windows\\System32\\whoami.exe", "CommandLine": "whoami",
                                   "ProcessId": "42", "ParentImage": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
                                   "ParentCommandLine": "wmiprvse.exe -Embedding", "ParentProcessId": "9",
                                   "User": "CORP\\dave"}}}
    f.write_text(json.dumps(d) + "\n")
    con, r = _load(f)
    assert r.files[0].format == "jsonl-winlogbeat" and r.events == 1 and r.processes == 1
    row = con.execute("""SELECT dest, "user", process_name, parent_process_name, process_id, user_id, _time
                         FROM processes""").fetchone()
    assert row[:6] == ("W1.corp.example", "CORP\\dave", "whoami.exe", "WmiPrvSE.exe", "42", "S-1-5-18")
    assert row[6] == pytest.approx(1704164645.0)


def test_progress_callback(tmp_path):
    f = tmp_path / "p.json"
    f.write_text("".join(json.dumps(_sysmon1(i)) + "\n" for i in range(50)))
    calls = []
    con = duckdb.connect()
    load_events([f, SAMPLE], con, progress=lambda done, total: calls.append((done, total)))
    total = f.stat().st_size + SAMPLE.stat().st_size
    assert calls and calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_second_load_on_same_connection_replaces_tables(tmp_path):
    f = tmp_path / "one.json"
    f.write_text(json.dumps(_sysmon1(1)) + "\n" + json.dumps({"EventID": 5156, "Channel": "Security", "ProcessID": "4"}) + "\n")
    con = duckdb.connect()
    load_events([SAMPLE], con)
    r = load_events([f], con)
    assert r.events == 2 and con.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM processes").fetchone()[0] == 1
    c = r.columns["events"]
    assert con.execute(f"SELECT {c['ProcessID']} FROM events WHERE {c['EventCode']} = '5156'").fetchall() == [("4",)]
