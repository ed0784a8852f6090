"""Classic (non-XML) WinEventLog text in Splunk exports (sourcetype WinEventLog), read as Splunk and the Splunk
Add-on for Microsoft Windows read it. The rules and where they come from: localsearch/ingest/wineventlog_text.py
(Splunk's wel-message / wel-eq-kv / wel-col-kv transforms, the add-on's props.conf for
[source::WinEventLog:Security]). The events here are written for these tests; the dataset test renders the
shared EVTX file's 4688 records in classic form (tests/classic_rendering.py says how)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import classic_rendering as cr
import duckdb
import pytest
from project import DATASETS, REPO, addon_4688_process, needs_datasets

from localsearch.ingest import load_events
from localsearch.ingest.sources import CIM_FIELDS

SYSTEM = {"SystemTime": "2021-04-26T08:25:37.258117Z", "Computer": "srvdefender01.offsec.lan",
          "EventRecordID": "463010"}
WMI_CHILD = {
    "SubjectUserSid": "S-1-5-20", "SubjectUserName": "SRVDEFENDER01$", "SubjectDomainName": "OFFSEC",
    "SubjectLogonId": "0x3e4", "NewProcessId": "0xd44", "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
    "TokenElevationType": "%%1936", "ProcessId": "0xac8",
    "CommandLine": "cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1619425227.894209 2>&1",
    "TargetUserSid": "S-1-0-0", "TargetUserName": "admmig", "TargetDomainName": "OFFSEC",
    "TargetLogonId": "0x4da32af", "ParentProcessName": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
    "MandatoryLabel": "S-1-16-12288",
}
LOGON_4624 = ("04/26/2021 08:25:36 AM\nLogName=Security\nEventCode=4624\nEventType=0\n"
              "ComputerName=srvdefender01.offsec.lan\nKeywords=Audit Success\nMessage=An account was "
              "successfully logged on.\n\nSubject:\n\tSecurity ID:\t\tS-1-0-0\n\tAccount Name:\t\t-\n\n"
              "Logon Information:\n\tLogon Type:\t\t3\n")


def xml_4688(system: Dict[str, str], data: Dict[str, str]) -> str:
    """The same event as Splunk's XmlWinEventLog `_raw` (one line)."""
    ed = "".join(f"<Data Name='{k}'>{v.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</Data>"
                 for k, v in data.items())
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider "
            "Name='Microsoft-Windows-Security-Auditing'/><EventID>4688</EventID><Version>2</Version>"
            "<Keywords>0x8020000000000000</Keywords>"
            f"<TimeCreated SystemTime='{system['SystemTime']}'/><EventRecordID>{system['EventRecordID']}"
            f"</EventRecordID><Channel>Security</Channel><Computer>{system['Computer']}</Computer></System>"
            f"<EventData>{ed}</EventData></Event>")


def json_export(path: Path, raws: List[str], time: str = "2021-04-26T08:25:37.258+00:00") -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for n, raw in enumerate(raws):
            fh.write(json.dumps({"preview": False, "offset": n, "result": {
                "_raw": raw, "_time": time, "host": "srvdefender01", "index": "wineventlog",
                "source": "WinEventLog:Security", "sourcetype": "WinEventLog"}}) + "\n")
    return path


def processes(paths: List[Path], con: Optional[duckdb.DuckDBPyConnection] = None) -> List[Dict[str, object]]:
    con = con or duckdb.connect()
    load_events(paths, con)
    cols = ["_time"] + CIM_FIELDS + ["source", "sourcetype"]
    rows = con.execute(f"SELECT {', '.join(cols)} FROM processes").fetchall()
    return [dict(zip(cols, r)) for r in rows]


def test_classic_4688_gives_the_cim_values_of_its_xml_form(tmp_path: Path) -> None:
    classic = cr.classic_4688(SYSTEM, WMI_CHILD)
    xml = tmp_path / "x.xml"
    xml.write_text(xml_4688(SYSTEM, WMI_CHILD) + "\n", encoding="utf-8")
    (want,) = processes([xml])
    (got,) = processes([json_export(tmp_path / "c.json", [classic])])
    assert {k: got[k] for k in CIM_FIELDS} == {k: want[k] for k in CIM_FIELDS}
    assert (got["source"], got["sourcetype"]) == ("WinEventLog:Security", "WinEventLog")
    assert abs(float(got["_time"]) - float(want["_time"])) < 0.001      # _time from the export
    # the add-on's rules, value by value (wineventlog_text.py)
    assert {k: got[k] for k in ("dest", "user", "process_name", "process_path", "parent_process_name",
                                "parent_process", "process_id", "parent_process_id", "action",
                                "vendor_product", "user_id", "process_integrity_level")} == {
        "dest": "srvdefender01.offsec.lan", "user": "admmig", "process_name": "cmd.exe",
        "process_path": "C:\\Windows\\System32\\cmd.exe", "parent_process_name": "WmiPrvSE.exe",
        "parent_process": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "process_id": "0xd44",
        "parent_process_id": "0xac8", "action": "allowed", "vendor_product": "Microsoft Windows",
        "user_id": None, "process_integrity_level": None}       # as the add-on: neither is mapped for 4688


def test_search_time_fields_of_the_classic_text(tmp_path: Path) -> None:
    con = duckdb.connect()
    r = load_events([json_export(tmp_path / "c.json", [cr.classic_4688(SYSTEM, WMI_CHILD), LOGON_4624])], con)
    assert r.events == 2 and r.processes == 1 and r.skipped == []
    c = r.columns["events"]
    rows = con.execute(f"SELECT {c['EventCode']}, {c['New_Process_Name']}, {c['Account_Name']}, "
                       f"{c['Logon_Type']}, {c['TaskCategory']} FROM events ORDER BY 1").fetchall()
    # wel-eq-kv gives the header fields, wel-col-kv the message lines (MV_ADD: both Account Name lines)
    assert rows == [("4624", None, "-", "3", None),
                    ("4688", "C:\\Windows\\System32\\cmd.exe", "SRVDEFENDER01$\nadmmig", None, "Process Creation")]


def test_user_is_the_creator_when_the_target_account_is_a_dash(tmp_path: Path) -> None:
    data = dict(WMI_CHILD, TargetUserName="-", TargetDomainName="-")
    (got,) = processes([json_export(tmp_path / "c.json", [cr.classic_4688(SYSTEM, data)])])
    assert got["user"] == "SRVDEFENDER01$"


def test_version_1_event_with_one_subject_and_no_creator_name(tmp_path: Path) -> None:
    """4688 version 0/1: one `Subject:` section, no Creator Process Name (Microsoft's 4688 documentation)."""
    raw = ("04/26/2015 08:25:37 AM\nLogName=Security\nEventCode=4688\nComputerName=wks1.corp.lan\n"
           "Keywords=Audit Success\nMessage=A new process has been created.\n\nSubject:\n\tSecurity ID:\t\t"
           "S-1-5-21-1-2-3-1104\n\tAccount Name:\t\tdadmin\n\tAccount Domain:\t\tCORP\n\tLogon ID:\t\t0x4a5af0\n\n"
           "Process Information:\n\tNew Process ID:\t\t0x2bc\n\tNew Process Name:\tC:\\Windows\\System32\\"
           "rundll32.exe\n\tToken Elevation Type:\t%%1938\n\tCreator Process ID:\t0xe74\n\tProcess Command Line:\t"
           "\n\nToken Elevation Type indicates the type of token.")
    (got,) = processes([json_export(tmp_path / "c.json", [raw])])
    assert (got["user"], got["user_id"], got["process"], got["parent_process_name"], got["process_id"]) == \
        ("dadmin", None, "C:\\Windows\\System32\\rundll32.exe", None, "0x2bc")


def test_raw_export_of_multi_line_events(tmp_path: Path) -> None:
    """Events one after another, each over many lines, split before each time stamp line (Splunk's
    LINE_BREAKER); blank lines inside and between messages are no events."""
    no_cmd = dict(WMI_CHILD, CommandLine="", NewProcessId="0xd48")
    f = tmp_path / "security.log"
    f.write_text("\n" + cr.classic_4688(SYSTEM, WMI_CHILD) + "\n\n" + LOGON_4624 + "\n"
                 + cr.classic_4688(SYSTEM, no_cmd) + "\n", encoding="utf-8")
    con = duckdb.connect()
    r = load_events([f], con)
    assert [fr.format for fr in r.files] == ["wineventlog"]
    assert r.events == 3 and r.processes == 2 and r.skipped == []
    rows = con.execute("SELECT process, process_id, source, sourcetype, _time FROM processes ORDER BY 2").fetchall()
    # process: the Windows add-on's EVAL-process (the first word has no backslash: the path and the arguments)
    assert rows == [(addon_4688_process(WMI_CHILD["NewProcessName"], WMI_CHILD["CommandLine"]), "0xd44", "WinEventLog:Security", "WinEventLog", None),
                    ("C:\\Windows\\System32\\cmd.exe", "0xd48", "WinEventLog:Security", "WinEventLog", None)]
    assert any("without a time zone: their _time is unknown" in w for w in r.warnings)


def test_raw_export_mixing_xml_and_classic_events(tmp_path: Path) -> None:
    """An XmlWinEventLog `<Event>` line is an event of its own; text after it that opens no event is reported."""
    f = tmp_path / "mixed.log"
    xml_child = dict(WMI_CHILD, NewProcessId="0xd50")
    f.write_text(cr.classic_4688(SYSTEM, WMI_CHILD) + "\n" + xml_4688(SYSTEM, xml_child) + "\nstray text\n\n"
                 + LOGON_4624, encoding="utf-8")
    con = duckdb.connect()
    r = load_events([f], con)
    assert (r.events, r.processes) == (3, 2)
    stray = f.read_text().splitlines().index("stray text") + 1
    assert [(s.record_number, s.reason.split(" (")[0]) for s in r.skipped] == \
        [(stray, "text outside any classic WinEventLog event")]
    assert con.execute("SELECT process_id, source FROM processes ORDER BY 1").fetchall() == \
        [("0xd44", "WinEventLog:Security"), ("0xd50", "XmlWinEventLog:Security")]
    assert [w for w in r.warnings if "_time is unknown" in w] == \
        [f"{f}: 2 classic WinEventLog event(s) carry only the forwarder's local time, without a time zone: "
         "their _time is unknown (a CSV or JSON export of the search gives it)"]


@pytest.mark.parametrize(("change", "reason"), [
    (lambda t: t.replace("\tNew Process Name:", "\tNeuer Prozessname:"),
     "unsupported in local runs: classic WinEventLog 4688 without a `New Process Name` line"),
    (lambda t: t.replace("\nMessage=", "\nBody="), "classic WinEventLog text without a `Message=` line"),
    (lambda t: t.replace("Keywords=Audit Success\n", ""),
     "unsupported in local runs: classic WinEventLog 4688 with Keywords=None"),
    (lambda t: t.replace("\tAccount Name:\t\tadmmig\n", ""),
     "unsupported in local runs: classic WinEventLog 4688 with 1 Account Name and 2 Security ID lines"),
    (lambda t: t.replace("S-1-5-20", "NT AUTHORITY\\NETWORK SERVICE"),
     "unsupported in local runs: classic WinEventLog 4688 with a resolved account or label name"),
    (lambda t: t.replace("LogName=Security", "LogName=Security=x"),
     "unsupported in local runs: classic WinEventLog header line LogName= holding another `=`"),
    (lambda t: "LogName=Security\n" + t, "not classic WinEventLog text: first line 'LogName=Security'"),
    (lambda t: t.replace("LogName=Security\n", ""), "unsupported in local runs: classic WinEventLog record with "
     "a New Process Name line that is not a Security 4688 (LogName=None, EventCode=4688)"),
])
def test_records_the_rules_do_not_settle_are_refused_and_counted(tmp_path: Path, change, reason: str) -> None:
    good = cr.classic_4688(SYSTEM, WMI_CHILD)
    r = load_events([json_export(tmp_path / "c.json", [change(good), good])], duckdb.connect())
    assert r.events == 1 and r.processes == 1
    assert [s.record_number for s in r.skipped] == [1] and r.skipped[0].reason.startswith(reason), r.skipped


def test_missing_optional_lines_give_null_fields(tmp_path: Path) -> None:
    """No Creator Process Name, an empty command line, no Mandatory Label: NULL as in the XML form (empty
    values make no field: KEEP_EMPTY_VALS); no blank line after Process Information: the add-on's process_id
    EXTRACT needs one, so process_id is NULL."""
    data = {k: v for k, v in WMI_CHILD.items() if k not in ("ParentProcessName", "MandatoryLabel")}
    data["CommandLine"] = ""
    raw = cr.classic_4688(SYSTEM, data).replace("\tCreator Process Name:\t\n", "").replace(
        "\tMandatory Label:\t\t\n", "")
    (got,) = processes([json_export(tmp_path / "a.json", [raw])])
    assert (got["parent_process"], got["process_integrity_level"], got["process"], got["process_id"]) == \
        (None, None, "C:\\Windows\\System32\\cmd.exe", "0xd44")
    cut = raw[:raw.index("\n\n" + cr.NOTE)]
    (got,) = processes([json_export(tmp_path / "b.json", [cut])])
    assert (got["process_id"], got["process_name"]) == (None, "cmd.exe")


def test_multi_line_command_line_keeps_its_first_line(tmp_path: Path) -> None:
    """A command line holding a line break: the classic message shows the rest on lines of their own, and
    wel-col-kv's value ends at the line end, so Process_Command_Line (the add-on's `process`) is the first line;
    the XML form keeps it whole. A later line shaped `Label: value` becomes a field of its own."""
    data = dict(WMI_CHILD, CommandLine="powershell.exe -c \"Write-Host 1\nStatus: done\"")
    con = duckdb.connect()
    r = load_events([json_export(tmp_path / "c.json", [cr.classic_4688(SYSTEM, data)])], con)
    c = r.columns["events"]
    assert con.execute(f"SELECT process, {c['Status']} FROM events").fetchall() == \
        [('C:\\Windows\\System32\\cmd.exe -c "Write-Host 1', 'done"')]
    # the Windows add-on's EVAL-process over that first line (no backslash in its first word: path + arguments)
    assert con.execute("SELECT process FROM processes").fetchall() == \
        [('C:\\Windows\\System32\\cmd.exe -c "Write-Host 1',)]
    (want,) = processes([json_export(tmp_path / "x.json", [xml_4688(SYSTEM, data)])])
    assert want["process"] == data["CommandLine"]


def test_crlf_line_ends_are_refused_per_record(tmp_path: Path) -> None:
    """Message lines ending in CR LF: wel-col-kv's `([^\\n]*)` keeps the CR in each value; whether Splunk trims
    it afterwards is not verified, so such records are refused, each counted."""
    crlf = cr.classic_4688(SYSTEM, WMI_CHILD, crlf=True)
    r = load_events([json_export(tmp_path / "c.json", [crlf])], duckdb.connect())
    assert r.events == 0 and r.files[0].records_skipped == 1
    assert r.skipped[0].reason.startswith("unsupported in local runs: classic WinEventLog text with a carriage "
                                          "return in ")
    body = LOGON_4624.replace("\n\t", "\r\n\t")      # a generic event too: its values would hold the CR
    r = load_events([json_export(tmp_path / "d.json", [body])], duckdb.connect())
    assert r.events == 0 and "carriage return in Security_ID" in r.skipped[0].reason
    f = tmp_path / "crlf.log"                         # a raw export whose every line ends in CR LF
    first = cr.classic_4688(SYSTEM, WMI_CHILD)
    f.write_bytes((first + "\n" + LOGON_4624).replace("\n", "\r\n").encode())
    r = load_events([f], duckdb.connect())
    assert r.files[0].format == "wineventlog" and r.events == 0
    assert [(s.record_number, "carriage return" in s.reason) for s in r.skipped] == \
        [(1, True), (first.count("\n") + 2, True)]


def test_classic_sysmon_is_refused(tmp_path: Path) -> None:
    """The Splunk Add-on for Sysmon's rules for classic text could not be verified (wineventlog_text.py)."""
    raw = ("04/26/2021 08:25:37 AM\nLogName=Microsoft-Windows-Sysmon/Operational\nEventCode=1\n"
           "ComputerName=h\nMessage=Process Create:\nImage: C:\\Windows\\System32\\cmd.exe\n"
           "ParentImage: C:\\Windows\\System32\\wbem\\WmiPrvSE.exe\n")
    r = load_events([json_export(tmp_path / "s.json", [raw])], duckdb.connect())
    assert r.events == 0
    assert r.skipped[0].reason.startswith("unsupported in local runs: classic (non-XML) WinEventLog text of "
                                          "Microsoft-Windows-Sysmon/Operational events")


# ---- a classic rendering of a shared EVTX file's 4688 records -------------------------------------------------
EVTX_4688 = "mdecrevoisier/ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx"


def run(path: Path) -> List[Dict[str, object]]:
    proc = subprocess.run([sys.executable, "-m", "localsearch", "run", str(path), "--format", "jsonl"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return sorted((json.loads(line) for line in proc.stdout.splitlines()), key=repr)


@needs_datasets("mdecrevoisier")
def test_classic_rendering_of_the_4688_dataset_detects_as_the_original(tmp_path: Path) -> None:
    src = DATASETS / EVTX_4688
    want = run(src)
    assert len(want) == 2 and {w["parent_process_name"] for w in want} == {"WmiPrvSE.exe"}
    made = cr.splunk_csv(src, tmp_path / "security.csv")
    assert run(made) == want
    assert ms(processes([made])) == ms([dict(p, source="WinEventLog:Security", sourcetype="WinEventLog")
                                        for p in processes([src])])
    crlf = load_events([cr.splunk_csv(src, tmp_path / "crlf.csv", crlf=True)], duckdb.connect())
    assert (crlf.events, len(crlf.skipped)) == (0, len(want) + 4)          # the 6 process creations, refused
    # the raw export has no time zone: _time is unknown, so the results lack firstTime and lastTime
    raw = run(cr.splunk_raw(src, tmp_path / "security.log"))
    assert sorted(({k: v for k, v in r.items() if k not in ("firstTime", "lastTime")} for r in want),
                  key=repr) == raw


def ms(rows: List[Dict[str, object]]) -> List[Dict[str, object]]:
    """_time to the millisecond (Splunk's exports write it so), rows in a stable order."""
    return sorted((dict(r, _time=int(float(r["_time"]) * 1000 + 1e-6)) for r in rows), key=repr)
