"""XmlWinEventLog events whose values hold line breaks (a CommandLine written over several lines): Splunk keeps
`_raw` as the event was rendered, and the Windows add-on's extractions read the value with a character class
(`<Data Name='CommandLine'>(?<Process_Command_Line>[^<]+)</Data>`, Splunk Add-on for Microsoft Windows props.conf
[source::XmlWinEventLog:Security], PMJeffery/splunk4windows f64aacd160f970b887207431fd52b644abee4aa0
Splunk_TA_windows/default/props.conf, version 8.1.2), so every byte between the tags is kept: LF and CR LF as
they are in the text."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import List

import duckdb
import pytest

from localsearch.ingest import load_events

# a Security 4688 in Splunk's XmlWinEventLog form; CMD is put in the CommandLine element as it is
EVENT = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
         "<Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/>"
         "<EventID>4688</EventID><Version>2</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode>"
         "<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='2024-01-02T03:04:05.123456700Z'/>"
         "<EventRecordID>7</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>"
         "<Channel>Security</Channel><Computer>h1.corp</Computer><Security/></System><EventData>"
         "<Data Name='SubjectUserSid'>S-1-5-20</Data><Data Name='SubjectUserName'>H1$</Data>"
         "<Data Name='SubjectDomainName'>CORP</Data><Data Name='SubjectLogonId'>0x3e4</Data>"
         "<Data Name='NewProcessId'>0x1a4</Data><Data Name='NewProcessName'>C:\\Windows\\System32\\cmd.exe</Data>"
         "<Data Name='TokenElevationType'>%%1936</Data><Data Name='ProcessId'>0x9c</Data>"
         "<Data Name='CommandLine'>CMD</Data><Data Name='TargetUserSid'>S-1-0-0</Data>"
         "<Data Name='TargetUserName'>-</Data><Data Name='TargetDomainName'>-</Data>"
         "<Data Name='TargetLogonId'>0x0</Data>"
         "<Data Name='ParentProcessName'>C:\\Windows\\System32\\wbem\\WmiPrvSE.exe</Data>"
         "<Data Name='MandatoryLabel'>S-1-16-12288</Data></EventData></Event>")

CMDS = [
    "C:\\Windows\\System32\\cmd.exe /c echo a\nb",             # LF
    "C:\\Windows\\System32\\cmd.exe /c echo a\r\nb\r\nc",       # CR LF, kept as it is
    "C:\\Windows\\System32\\cmd.exe /c\n\necho &amp; x\n",       # blank line inside, a line break at the end
]
WANT = [c.replace("&amp;", "&") for c in CMDS]


def _processes(path: Path) -> List[str]:
    con = duckdb.connect()
    r = load_events([path], con)
    assert r.events == len(CMDS) and r.processes == len(CMDS), r.files[0].format
    return [x[0] for x in con.execute("SELECT process FROM processes ORDER BY process_id, process").fetchall()]


def _events() -> List[str]:
    return [EVENT.replace("0x1a4", hex(0x1a4 + i)).replace("CMD", c) for i, c in enumerate(CMDS)]


def test_xml_file_keeps_line_breaks_in_values(tmp_path: Path) -> None:
    f = tmp_path / "multi.xml"
    f.write_bytes("\n".join(_events()).encode("utf-8") + b"\n")
    assert _processes(f) == WANT


def test_xml_file_with_declaration_and_no_final_line_break(tmp_path: Path) -> None:
    f = tmp_path / "multi.xml"
    f.write_bytes(b"<?xml version='1.0' encoding='utf-8'?>\n" + "\n".join(_events()).encode("utf-8"))
    assert _processes(f) == WANT


@pytest.mark.parametrize("kind", ["csv", "json", "raw"])
def test_splunk_export_keeps_line_breaks_in_raw(kind: str, tmp_path: Path) -> None:
    """Splunk Web's CSV and JSON exports and the raw export (each `_raw` as it is, one after another)."""
    rows = [{"_raw": e, "_time": "2024-01-02T03:04:05.123+00:00", "host": "h1", "index": "wineventlog",
             "source": "XmlWinEventLog:Security", "sourcetype": "XmlWinEventLog"} for e in _events()]
    f = tmp_path / f"export.{kind if kind != 'raw' else 'txt'}"
    if kind == "csv":
        with f.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    elif kind == "json":
        f.write_text("".join(json.dumps({"preview": False, "offset": i, "result": r}) + "\n"
                             for i, r in enumerate(rows)), encoding="utf-8")
    else:
        f.write_bytes("\n".join(_events()).encode("utf-8") + b"\n")
    assert _processes(f) == WANT


# ---- Security 4688 `process` as the Splunk Add-on for Microsoft Windows builds it -------------------------------
# props.conf [source::XmlWinEventLog:Security], the same for 4688 in 8.1.2 (PMJeffery/splunk4windows
# f64aacd160f970b887207431fd52b644abee4aa0, Splunk_TA_windows/default/props.conf) and 8.4.0
# (JohnnyMirza/confluent_splunk_demo d3a9bc0dd117cc191dad5b3bf3d3cb9e2c282ffd, same path):
#   EVAL-process = ... EventCode==4688, coalesce(if(match(process_command_line_process,"(\\\)"),
#       Process_Command_Line, (if(match(NewProcessName,"\s"), "\"" + NewProcessName + "\"", NewProcessName))
#       + " " + process_command_line_arguments), NewProcessName) ...
# with transforms.conf [process_command_line_process_and_arguments]: SOURCE_KEY = Process_Command_Line,
# REGEX = (^\"[^\"]+\"|[^\s]+)\s*(.*), FORMAT = process_command_line_process::$1 process_command_line_arguments::$2
CASES = [
    # (NewProcessName, CommandLine, the add-on's process)
    ("C:\\Windows\\System32\\cmd.exe", "cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1 2>&amp;1",
     "C:\\Windows\\System32\\cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1 2>&1"),
    ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\system32\\cmd.exe /c x", "C:\\Windows\\system32\\cmd.exe /c x"),
    ("C:\\Program Files\\A B\\t.exe", "\"t.exe\"   -x  y", "\"C:\\Program Files\\A B\\t.exe\" -x  y"),
    ("C:\\Program Files\\A B\\t.exe", "\"C:\\Program Files\\A B\\t.exe\" -x", "\"C:\\Program Files\\A B\\t.exe\" -x"),
    ("C:\\Windows\\System32\\cmd.exe", "  cmd.exe /c y", "C:\\Windows\\System32\\cmd.exe /c y"),
    ("C:\\Windows\\System32\\cmd.exe", "   ", "C:\\Windows\\System32\\cmd.exe"),     # no first word
    ("C:\\Windows\\System32\\cmd.exe", "", "C:\\Windows\\System32\\cmd.exe"),        # no command line
    # kept as today (README "CIM mapping"): a bare word (empty arguments: whether Splunk creates an empty
    # process_command_line_arguments is not documented) and a line break after a word without a backslash
    # (what `.` matches at a CR depends on the regex library's newline setting)
    ("C:\\Windows\\System32\\cmd.exe", "cmd.exe", "cmd.exe"),
    ("C:\\Windows\\System32\\cmd.exe", "cmd.exe /c a\r\nb", "cmd.exe /c a\r\nb"),
]


def test_4688_process_as_the_windows_add_on_builds_it(tmp_path: Path) -> None:
    evs = [EVENT.replace("0x1a4", hex(0x1a4 + i)).replace("C:\\Windows\\System32\\cmd.exe", path)
           .replace("<Data Name='CommandLine'>CMD</Data>",
                    f"<Data Name='CommandLine'>{cmd}</Data>" if cmd else "<Data Name='CommandLine'></Data>")
           for i, (path, cmd, _) in enumerate(CASES)]
    f = tmp_path / "p.xml"
    f.write_bytes("\n".join(evs).encode("utf-8") + b"\n")
    con = duckdb.connect()
    load_events([f], con)
    got = [x[0] for x in con.execute("SELECT process FROM processes ORDER BY process_id").fetchall()]
    assert got == [want for _, _, want in CASES]
