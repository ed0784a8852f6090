"""Classic (non-XML) WinEventLog renderings of Security 4688 records, written at test time (never committed).

How an event is made (from its XML, e.g. an EVTX record rendered by the `evtx` package):
- first line: the event time as `MM/DD/YYYY hh:mm:ss AM` (a forwarder writes its local time; UTC here, and a CSV
  export carries the instant in `_time`);
- the header lines a Splunk forwarder writes for classic WinEventLog (`LogName=`, `EventCode=`, `EventType=`,
  `ComputerName=`, `SourceName=`, `Type=`, `RecordNumber=`, `Keywords=`, `TaskCategory=`, `OpCode=`), then
  `Message=`;
- the message in the layout of Microsoft's 4688 documentation ("4688(S): A new process has been created.",
  https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/auditing/event-4688,
  source https://github.com/MicrosoftDocs/windows-itpro-docs/blob/main/windows/security/threat-protection/auditing/event-4688.md):
  sections Creator Subject (SubjectUserSid, SubjectUserName, SubjectDomainName, SubjectLogonId), Target
  Subject (TargetUser*), Process Information (New Process ID = NewProcessId, New Process Name, Token Elevation
  Type, Mandatory Label, Creator Process ID = ProcessId, Creator Process Name = ParentProcessName, Process
  Command Line = CommandLine); each line `\\t<Label>:` then tabs and the value; SIDs unresolved, as a
  forwarder renders them without name resolution; then the first sentence of the message's closing note.
- line ends `\\n` (`crlf=True`: the message body's line ends are `\\r\\n`).
"""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"

SECTIONS: List[Tuple[str, List[Tuple[str, str]]]] = [
    ("Creator Subject", [("Security ID", "SubjectUserSid"), ("Account Name", "SubjectUserName"),
                         ("Account Domain", "SubjectDomainName"), ("Logon ID", "SubjectLogonId")]),
    ("Target Subject", [("Security ID", "TargetUserSid"), ("Account Name", "TargetUserName"),
                        ("Account Domain", "TargetDomainName"), ("Logon ID", "TargetLogonId")]),
    ("Process Information", [("New Process ID", "NewProcessId"), ("New Process Name", "NewProcessName"),
                             ("Token Elevation Type", "TokenElevationType"), ("Mandatory Label", "MandatoryLabel"),
                             ("Creator Process ID", "ProcessId"), ("Creator Process Name", "ParentProcessName"),
                             ("Process Command Line", "CommandLine")]),
]
# the value column: two tabs after the shorter labels
TABS = dict.fromkeys(("Security ID", "Account Name", "Account Domain", "Logon ID", "New Process ID",
                      "Mandatory Label"), "\t\t")
NOTE = ("Token Elevation Type indicates the type of token that was assigned to the new process in accordance "
        "with User Account Control policy.")


def classic_4688(system: Dict[str, str], data: Dict[str, str], crlf: bool = False) -> str:
    """The classic text of one 4688 from its System values (SystemTime, Computer, EventRecordID) and EventData."""
    when = datetime.fromisoformat(system["SystemTime"].rstrip("Z")[:26]).replace(tzinfo=timezone.utc)
    head = [when.strftime("%m/%d/%Y %I:%M:%S %p"), "LogName=Security", "EventCode=4688", "EventType=0",
            f"ComputerName={system['Computer']}", "SourceName=Microsoft Windows security auditing.",
            "Type=Information", f"RecordNumber={system.get('EventRecordID', '0')}", "Keywords=Audit Success",
            "TaskCategory=Process Creation", "OpCode=Info"]
    body = ["A new process has been created.", ""]
    for title, rows in SECTIONS:
        body.append(f"{title}:")
        for label, name in rows:
            body.append(f"\t{label}:{TABS.get(label, chr(9))}{data.get(name, '')}")
        body.append("")
    body.append(NOTE)
    eol = "\r\n" if crlf else "\n"
    return "\n".join(head) + "\nMessage=" + eol.join(body)


def evtx_4688(path: Path) -> Iterator[Tuple[Dict[str, str], Dict[str, str]]]:
    """(System values, EventData) of each Security 4688 record of an EVTX file."""
    from evtx import PyEvtxParser
    for rec in PyEvtxParser(str(path)).records():
        root = ET.fromstring(rec["data"].encode("utf-8"))
        sys_ = root.find(f"{NS}System")
        assert sys_ is not None
        if sys_.findtext(f"{NS}EventID") != "4688":
            continue
        tc = sys_.find(f"{NS}TimeCreated")
        system = {"SystemTime": tc.get("SystemTime", "") if tc is not None else "",
                  "Computer": sys_.findtext(f"{NS}Computer") or "",
                  "EventRecordID": sys_.findtext(f"{NS}EventRecordID") or "0"}
        data = {d.get("Name", ""): d.text or "" for d in root.iter(f"{NS}Data")}
        yield system, data


def _iso(system: Dict[str, str]) -> str:
    when = datetime.fromisoformat(system["SystemTime"].rstrip("Z")[:26]).replace(tzinfo=timezone.utc)
    return when.isoformat(timespec="milliseconds")


def splunk_csv(src: Path, dst: Path, crlf: bool = False) -> Path:
    """Splunk's CSV export (Splunk Web "Export" / outputcsv) of the 4688 records in classic form."""
    cols = ["_raw", "_time", "host", "index", "linecount", "source", "sourcetype", "splunk_server", "EventCode"]
    with open(dst, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(cols)
        for system, data in evtx_4688(src):
            raw = classic_4688(system, data, crlf)
            w.writerow([raw, _iso(system), system["Computer"], "wineventlog",
                        str(raw.count("\n") + 1), "WinEventLog:Security", "WinEventLog", "sh1", "4688"])
    return dst


def splunk_raw(src: Path, dst: Path, crlf: bool = False) -> Path:
    """Splunk's raw export: each event's `_raw`, one after another."""
    with open(dst, "w", encoding="utf-8", newline="") as fh:
        for system, data in evtx_4688(src):
            fh.write(classic_4688(system, data, crlf) + "\n")
    return dst
