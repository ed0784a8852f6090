"""Ingest on the real shared datasets: counts against REFERENCE section 7 and an independent pass, CIM fields."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from localsearch.ingest import load_events
from project import DATASETS, needs_datasets

pytestmark = [needs_datasets(), pytest.mark.slow]

# REFERENCE.md section 7: events, process creations, WmiPrvSE children.
EXPECTED = {
    "otrf/covenant_sharpwmi_create_dcerpc_wmi_2020-08-06035621.json": (2343, 10, 2),
    "otrf/covenant_com_wsman_automation_2020-10-13002455.json": (811, 6, 2),
    "otrf/covenant_wmi_wbemcomn_dll_hijack_2020-10-09173318.process_creation_subset.json": (26, 26, 2),
    "mdecrevoisier/ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx": (97, 6, 2),
    "mdecrevoisier/ID1-WMI_spawning_PowerShell_process-WMImplant.evtx": (1, 1, 1),
    "mdecrevoisier/ID1-CrackMapExec_payload_execution.evtx": (2, 2, 1),
}
SYSMON = "microsoft-windows-sysmon/operational"


def _independent_records(path: Path):
    """Flat dicts (EventID, Channel, EventData fields) read with json / evtx directly."""
    if path.suffix == ".evtx":
        from evtx import PyEvtxParser
        for rec in PyEvtxParser(str(path)).records_json():
            ev = json.loads(rec["data"])["Event"]
            eid = ev["System"]["EventID"]
            eid = eid["#text"] if isinstance(eid, dict) else eid
            data = ev.get("EventData") or {}
            yield {**data, "EventID": int(eid), "Channel": ev["System"]["Channel"]}
    else:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def _independent_counts(path: Path):
    events = proc = wmi = 0
    for d in _independent_records(path):
        events += 1
        ch = str(d.get("Channel", "")).lower()
        is_proc = (int(d["EventID"]) == 1 and ch == SYSMON) or (int(d["EventID"]) == 4688 and ch == "security")
        if is_proc:
            proc += 1
            parent = d.get("ParentImage") or d.get("ParentProcessName") or ""
            wmi += parent.lower().endswith("\\wmiprvse.exe")
    return events, proc, wmi


@pytest.fixture(scope="module")
def loaded():
    con = duckdb.connect()
    report = load_events([DATASETS], con)
    return con, report


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_counts_per_file(rel):
    path = DATASETS / rel
    assert _independent_counts(path) == EXPECTED[rel]
    con = duckdb.connect()
    report = load_events([path], con)
    events, proc, wmi = EXPECTED[rel]
    assert report.events == events
    assert report.files[0].events_read == events and report.skipped == []
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == events
    assert report.processes == proc
    assert con.execute("SELECT count(*) FROM processes").fetchone()[0] == proc
    got = con.execute("SELECT count(*) FROM processes WHERE lower(parent_process_name) = 'wmiprvse.exe'").fetchone()[0]
    assert got == wmi


def test_negatives_have_no_wmi_children(loaded):
    con, report = loaded
    neg = sorted((DATASETS / "otrf-negatives").glob("*.json"))
    assert len(neg) == 11
    expected_events = expected_proc = 0
    for p in neg:
        e, pr, w = _independent_counts(p)
        expected_events += e
        expected_proc += pr
        assert w == 0
    assert (expected_events, expected_proc) == (16300, 124)      # REFERENCE / otrf-negatives SOURCES.md
    con2 = duckdb.connect()
    r = load_events(neg, con2)
    assert r.events == 16300 and r.processes == 124
    assert con2.execute("SELECT count(*) FROM processes WHERE parent_process_path ILIKE '%\\wmiprvse.exe'").fetchone()[0] == 0
    # lower-case `security` channel is counted (empire_shell_net_local_users: 5 Sysmon + 5 Security)
    f = next(p for p in neg if p.name.startswith("empire_shell_net_local_users"))
    con3 = duckdb.connect()
    assert load_events([f], con3).processes == 10
    assert con3.execute("SELECT count(*) FROM processes WHERE source = 'XmlWinEventLog:Security'").fetchone()[0] == 5


def test_whole_folder(loaded):
    con, report = loaded
    total = sum(e for e, _, _ in EXPECTED.values()) + 16300
    assert report.events == total
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == total
    assert report.processes == sum(p for _, p, _ in EXPECTED.values()) + 124
    ignored = {f.path.name for f in report.files if f.format == "ignored"}
    assert ignored == {"SOURCES.md"} and sum(f.format == "ignored" for f in report.files) == 2
    # every CIM row is also a process-creation row of `events`, with the same aliases
    c = report.columns["events"]
    n = con.execute(f"SELECT count(*) FROM events WHERE {c['process_name']} IS NOT NULL").fetchone()[0]
    assert n == report.processes


def _one(con, sql):
    rows = con.execute(sql).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def _epoch(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()


def test_sysmon1_cim_fields_evtx():
    con = duckdb.connect()
    load_events([DATASETS / "mdecrevoisier/ID1-CrackMapExec_payload_execution.evtx"], con)
    row = _one(con, """SELECT _time, dest, "user", process_name, process_exec, process_path, process_id, process_guid,
                              parent_process, parent_process_name, parent_process_path, parent_process_id,
                              parent_process_guid, process_integrity_level, original_file_name, user_id,
                              action, vendor_product, host, source, sourcetype
                       FROM processes WHERE process_id = '7728'""")
    assert row[0] == pytest.approx(_epoch("2021-04-30T20:27:39.761237"))
    assert row[1:6] == ("win10-02.offsec.lan", "OFFSEC\\admmig", "cmd.exe", "cmd.exe", "C:\\Windows\\System32\\cmd.exe")
    assert row[7] == "{9828DA72-683B-608C-A30C-000000000C00}"
    assert row[8:13] == ("C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding", "WmiPrvSE.exe",
                         "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "9032", "{9828DA72-67B0-608C-7D0C-000000000C00}")
    assert row[13:] == ("High", "Cmd.Exe", "S-1-5-18", "allowed", "Microsoft Sysmon", "win10-02.offsec.lan",
                        "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "XmlWinEventLog")


def test_4688_cim_fields_evtx():
    con = duckdb.connect()
    r = load_events([DATASETS / "mdecrevoisier/ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx"], con)
    row = _one(con, """SELECT dest, "user", process, process_name, process_path, process_id, parent_process,
                              parent_process_name, parent_process_path, parent_process_id, process_guid,
                              vendor_product, source FROM processes WHERE process_id = '0xd44'""")
    assert row == ("srvdefender01.offsec.lan", "admmig",
                   # the Windows add-on's EVAL-process: the first word has no backslash (tests/project.py)
                   "C:\\Windows\\System32\\cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1619425227.894209 2>&1",
                   "cmd.exe",
                   "C:\\Windows\\System32\\cmd.exe", "0xd44", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
                   "WmiPrvSE.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "0xac8", None,
                   "Microsoft Windows", "XmlWinEventLog:Security")
    # TargetUserName '-' -> SubjectUserName
    row = _one(con, """SELECT "user", parent_process_name FROM processes WHERE process_id = '0xb78'""")
    assert row == ("admmig", "cmd.exe")
    # raw fields stay in events, hex as rendered
    c = r.columns["events"]
    row = _one(con, f"""SELECT {c['NewProcessId']}, {c['ProcessId']}, {c['TargetUserName']}, {c['SubjectUserName']},
                               {c['EventCode']}, {c['Computer']}, {c['process_id']}
                        FROM events WHERE {c['NewProcessId']} = '0xb78'""")
    assert row == ("0xb78", "0xd44", "-", "admmig", "4688", "srvdefender01.offsec.lan", "0xb78")


def test_otrf_network_service_child_and_raw_aliases():
    con = duckdb.connect()
    r = load_events([DATASETS / "otrf/covenant_wmi_wbemcomn_dll_hijack_2020-10-09173318.process_creation_subset.json"], con)
    c = r.columns["events"]
    assert c["User"] != c["user"] and c["User"].lower() != c["user"].lower()
    row = _one(con, f"""SELECT {c['User']}, {c['user']}, {c['LogonId']}, {c['ParentImage']}, {c['parent_process_name']},
                               {c['process_name']}, {c['dest']}, {c['host']}, {c['extracted_host']}, {c['source']}
                        FROM events WHERE {c['EventCode']} = '1' AND {c['process_name']} = 'notepad.exe'
                          AND {c['parent_process_name']} = 'WmiPrvSE.exe'""")
    assert row[0] == row[1] == "NT AUTHORITY\\NETWORK SERVICE"
    assert row[2] == "0x3e4"
    assert row[3].lower() == "c:\\windows\\system32\\wbem\\wmiprvse.exe" and row[4] == "WmiPrvSE.exe"
    assert row[5] == "notepad.exe" and row[6] == row[7] == "WORKSTATION6.theshire.local"
    assert row[8] == "wec.internal.cloudapp.net"           # OTRF collector `host` kept as extracted_host
    assert row[9] == "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"


@pytest.mark.parametrize("name", sorted(p.name for p in (DATASETS / "mdecrevoisier").glob("*.evtx")))
def test_evtx_json_and_xml_renderings_flatten_alike(name):
    """EVTX is read from the evtx package's JSON rendering; its XML rendering must give the same fields
    (XML parsing turns CR LF inside values into LF, the only difference allowed)."""
    import xml.etree.ElementTree as ET
    from evtx import PyEvtxParser
    from localsearch.ingest.flatten import evtx_json_to_flat, xml_event_to_flat
    path = DATASETS / "mdecrevoisier" / name
    via_xml = [xml_event_to_flat(ET.fromstring(r["data"].encode("utf-8")), brace_guids=True)
               for r in PyEvtxParser(str(path)).records()]
    via_json = [evtx_json_to_flat(json.loads(r["data"])) for r in PyEvtxParser(str(path)).records_json()]
    assert len(via_xml) == len(via_json) > 0
    for x, j in zip(via_xml, via_json):
        assert x == {k: v.replace("\r\n", "\n") for k, v in j.items()}
        assert {"EventID", "Channel", "Computer", "SystemTime", "EventRecordID"} <= set(j)
