"""JSON layouts of other shippers: each rendering of the shared OTRF datasets gives the detections of the original.

The renderings are made at test time from the shared files by tests/layout_renderings.py (each transformation
is described there, with the shipper code it follows); nothing derived is committed. Both shipped searches run
through the CLI as users run them; the summary must name each file's detected layout.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import duckdb
import pytest

from layout_renderings import RENDERINGS, records, render_file
from localsearch.ingest import load_events
from project import DATASETS, MAIN_RULE as MAIN, SYSMON_RULE as SIGMA, localsearch, needs_datasets

OTRF = DATASETS / "otrf"

pytestmark = needs_datasets("otrf")

# layout -> the format name the summary must show
FORMAT = {"nxlog": "jsonl-nxlog", "winlogbeat6": "jsonl-winlogbeat6", "winlogbeat8": "jsonl-winlogbeat",
          "ecs_module": "jsonl-ecs", "elastic_agent": "jsonl-elastic-agent"}
# renderings whose _time differs from OTRF's export-time @timestamp (see layout_renderings): compare without times
RETIMED = {"nxlog", "ecs_module", "elastic_agent"}
TIME_FIELDS = {"firstTime", "lastTime", "_time"}


def rows(folder: Path, search: str, drop_times: bool) -> Tuple[List[str], str]:
    proc = localsearch("run", str(folder), "--search", search, "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    out = []
    for line in proc.stdout.splitlines():
        d = json.loads(line)
        if drop_times:
            d = {k: v for k, v in d.items() if k not in TIME_FIELDS}
        out.append(json.dumps(d, sort_keys=True))
    return sorted(out), proc.stderr


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Dict[str, Path]:
    out = {}
    for layout in RENDERINGS:
        d = tmp_path_factory.mktemp(layout)
        for src in sorted(OTRF.glob("*.json")):
            render_file(src, d / src.name, layout)
        out[layout] = d
    return out


@pytest.mark.slow
@pytest.mark.parametrize("layout", sorted(RENDERINGS))
@pytest.mark.parametrize("search", [MAIN, SIGMA])
def test_rendering_gives_the_original_detections(rendered, layout: str, search: str) -> None:
    want, _ = rows(OTRF, search, layout in RETIMED)
    got, summary = rows(rendered[layout], search, layout in RETIMED)
    assert len(want) == 6 if search == MAIN else len(want) >= 3
    assert got == want
    assert "layout the runner" not in summary, summary
    for src in sorted(OTRF.glob("*.json")):
        assert f"{src.name} [{FORMAT[layout]}]" in summary, summary


@pytest.mark.slow
@pytest.mark.parametrize("layout", sorted(RENDERINGS))
def test_rendering_maps_every_process_creation(rendered, layout: str) -> None:
    """Record counts and the data model rows, field by field, equal the original's (bar _time)."""
    con0, con1 = duckdb.connect(), duckdb.connect()
    r0 = load_events([OTRF], con0, raw_events=False)
    r1 = load_events([rendered[layout]], con1, raw_events=False)
    assert (r1.events, r1.processes) == (r0.events, r0.processes) == (3180, 42)
    q = "SELECT * EXCLUDE (_time) FROM processes ORDER BY dest, process_guid, process_id, process_path"
    assert con1.execute(q).fetchall() == con0.execute(q).fetchall()


def test_winlogbeat6_was_silently_unmapped(tmp_path: Path) -> None:
    """The reported bug: Winlogbeat 6.x records (top-level event_data, no winlog object) mapped 0 of 22."""
    src = OTRF / "covenant_wmi_wbemcomn_dll_hijack_2020-10-09173318.process_creation_subset.json"
    f = render_file(src, tmp_path / "wlb6.json", "winlogbeat6")
    con = duckdb.connect()
    r = load_events([f], con)
    assert r.processes == 26
    assert r.files[0].format == "jsonl-winlogbeat6"
    assert con.execute("SELECT count(*) FROM processes WHERE parent_process_name ILIKE 'wmiprvse.exe'").fetchone()[0] == 2


def test_ecs_parent_fields_come_from_process_parent(tmp_path: Path) -> None:
    """The reported bug: ECS documents whose winlog.event_data lost ParentImage etc. mapped with empty parents."""
    src = OTRF / "covenant_wmi_wbemcomn_dll_hijack_2020-10-09173318.process_creation_subset.json"
    f = render_file(src, tmp_path / "ecs.json", "ecs_module")
    con = duckdb.connect()
    r = load_events([f], con)
    assert r.processes == 26
    assert con.execute("SELECT count(*) FROM processes WHERE parent_process_path IS NULL").fetchone()[0] == 0
    assert r.files[0].format == "jsonl-ecs"
    got = con.execute("SELECT count(*) FROM processes WHERE parent_process_name ILIKE 'wmiprvse.exe'").fetchone()[0]
    assert got == 2


def test_elastic_golden_sysmon_process_create_document(tmp_path: Path) -> None:
    """The shape of elastic/beats' own golden output for Sysmon 1 with the sysmon module
    (x-pack/winlogbeat/module/sysmon/test/testdata/sysmon-12-processcreate.evtx.golden.json: the same fields,
    values made up): Image, CommandLine, ParentImage, User, ... exist only as ECS fields."""
    doc = {
        "@timestamp": "2024-03-01T10:00:00.5Z",
        "event": {"category": ["process"], "code": 1, "kind": "event", "module": "sysmon",
                  "provider": "Microsoft-Windows-Sysmon", "type": ["start", "process_start"]},
        "host": {"name": "w10-lab"}, "log": {"level": "information"},
        "process": {"args": ["C:\\Windows\\system32\\notepad.exe"],
                    "command_line": "\"C:\\Windows\\system32\\notepad.exe\" ",
                    "entity_id": "{1A2B3C4D-0001-6000-0A00-000000000700}",
                    "executable": "C:\\Windows\\System32\\notepad.exe",
                    "hash": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "name": "notepad.exe",
                    "parent": {"args": ["C:\\Windows\\Explorer.EXE"], "command_line": "C:\\Windows\\Explorer.EXE",
                               "entity_id": "{1A2B3C4D-0002-6000-0B00-000000000700}",
                               "executable": "C:\\Windows\\explorer.exe", "name": "explorer.exe", "pid": 5120},
                    "pe": {"original_file_name": "NOTEPAD.EXE"}, "pid": 6144,
                    "working_directory": "C:\\Users\\alice\\"},
        "user": {"domain": "LAB", "name": "alice"},
        "winlog": {"api": "wineventlog", "channel": "Microsoft-Windows-Sysmon/Operational", "computer_name": "w10-lab",
                   "event_data": {"IntegrityLevel": "Medium", "LogonId": "0x1f2e3", "RuleName": "-",
                                  "TerminalSessionId": "1"},
                   "event_id": 1, "process": {"pid": 2048, "thread": {"id": 2049}},
                   "provider_guid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
                   "provider_name": "Microsoft-Windows-Sysmon", "record_id": 20, "user": {"identifier": "S-1-5-18"},
                   "version": 5},
    }
    f = tmp_path / "golden.json"
    f.write_text(json.dumps(doc) + "\n")
    con = duckdb.connect()
    r = load_events([f], con)
    assert r.files[0].format == "jsonl-ecs" and r.processes == 1
    row = con.execute("SELECT dest, user, process, process_name, process_path, process_id, process_guid, "
                      "parent_process, parent_process_name, parent_process_path, parent_process_id, "
                      "parent_process_guid, original_file_name, process_current_directory, "
                      "process_integrity_level FROM processes").fetchone()
    assert row == ("w10-lab", "LAB\\alice", "\"C:\\Windows\\system32\\notepad.exe\" ", "notepad.exe",
                   "C:\\Windows\\System32\\notepad.exe", "6144", "{1A2B3C4D-0001-6000-0A00-000000000700}",
                   "C:\\Windows\\Explorer.EXE", "explorer.exe", "C:\\Windows\\explorer.exe", "5120",
                   "{1A2B3C4D-0002-6000-0B00-000000000700}", "NOTEPAD.EXE", "C:\\Users\\alice\\", "Medium")


def test_layouts_of_each_record_in_one_file(tmp_path: Path) -> None:
    """A file mixing layouts (one record per rendering) maps every record; the format names them all."""
    src = OTRF / "covenant_wmi_wbemcomn_dll_hijack_2020-10-09173318.process_creation_subset.json"
    recs = list(records(src))[:5]
    f = tmp_path / "mixed.json"
    fns = list(RENDERINGS.values())
    f.write_text("".join(json.dumps(fns[i](r)) + "\n" for i, r in enumerate(recs)))
    con = duckdb.connect()
    r = load_events([f], con, raw_events=False)
    assert r.processes == 5
    assert r.files[0].format.startswith("jsonl-")


def test_elastic_agent_document_with_the_original_xml(tmp_path: Path) -> None:
    """Elastic Agent with `preserve_original_event` keeps the event's XML in event.original and drops
    winlog.event_data (shape of elastic/integrations packages/windows/data_stream/sysmon_operational/
    sample_event.json; a Sysmon 1 event with made-up values): the event is read from the XML, as the same
    event in XmlWinEventLog text is."""
    xml = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
           "<Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/>"
           "<EventID>1</EventID><Version>5</Version><TimeCreated SystemTime='2024-03-01T10:00:00.250000000Z'/>"
           "<EventRecordID>70</EventRecordID><Execution ProcessID='2828' ThreadID='1684'/>"
           "<Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>w10-lab</Computer>"
           "<Security UserID='S-1-5-18'/></System><EventData>"
           "<Data Name='UtcTime'>2024-03-01 10:00:00.125</Data><Data Name='ProcessGuid'>{0a0b0c0d-0001-6000-0a00-000000000700}</Data>"
           "<Data Name='ProcessId'>4242</Data><Data Name='Image'>C:\\Windows\\System32\\cmd.exe</Data>"
           "<Data Name='CommandLine'>cmd.exe /c whoami</Data><Data Name='User'>LAB\\alice</Data>"
           "<Data Name='ParentProcessId'>1212</Data><Data Name='ParentImage'>C:\\Windows\\System32\\wbem\\WmiPrvSE.exe</Data>"
           "<Data Name='ParentCommandLine'>C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding</Data>"
           "</EventData></Event>")
    doc = {"@timestamp": "2024-03-01T10:00:00.125Z", "agent": {"type": "filebeat", "version": "8.11.0"},
           "data_stream": {"dataset": "windows.sysmon_operational", "namespace": "default", "type": "logs"},
           "elastic_agent": {"id": "x", "snapshot": False, "version": "8.11.0"},
           "event": {"code": "1", "dataset": "windows.sysmon_operational", "kind": "event", "original": xml},
           "host": {"name": "w10-lab"}, "process": {"executable": "C:\\Windows\\System32\\cmd.exe", "pid": 4242},
           "tags": ["preserve_original_event"], "user": {"id": "S-1-5-18"},
           "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "computer_name": "w10-lab", "event_id": "1",
                      "record_id": "70", "user": {"identifier": "S-1-5-18"}}}
    f = tmp_path / "agent.json"
    f.write_text(json.dumps(doc) + "\n")
    g = tmp_path / "same.xml"
    g.write_text(xml + "\n")
    q = "SELECT * EXCLUDE (source) FROM processes"
    con_f, con_g = duckdb.connect(), duckdb.connect()
    rf, rg = load_events([f], con_f), load_events([g], con_g)
    assert rf.files[0].format == "jsonl-elastic-agent" and rf.processes == rg.processes == 1
    assert con_f.execute(q).fetchall() == con_g.execute(q).fetchall()
    assert con_f.execute("SELECT parent_process_name, user FROM processes").fetchone() == ("WmiPrvSE.exe", "LAB\\alice")
