"""Ingest of the project's sample events, and the pure helpers (column naming, hex and time rules)."""
from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import duckdb
import pytest

from localsearch.ingest import load_events
from localsearch.ingest.cim import hex_norm_sql, time_sql
from localsearch.ingest.columns import assign_columns, quote_ident
from project import SAMPLES

SAMPLE = SAMPLES / "wmi_process_execution.XmlWinEventLog.log"
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


def _parsed_samples():
    """Independent read of the sample lines with ElementTree."""
    out = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        root = ET.fromstring(line)
        sysx = root.find(NS + "System")
        data = {d.get("Name"): d.text for d in root.find(NS + "EventData")}
        out.append((sysx.findtext(NS + "EventID"), sysx.findtext(NS + "Channel"), data))
    return out


@pytest.fixture(scope="module")
def loaded():
    con = duckdb.connect()
    return con, load_events([SAMPLES], con)


def test_sample_counts(loaded):
    con, r = loaded
    ev = _parsed_samples()
    procs = [d for eid, ch, d in ev if (eid, ch) in {("1", "Microsoft-Windows-Sysmon/Operational"), ("4688", "Security")}]
    wmi = [d for d in procs if (d.get("ParentImage") or d.get("ParentProcessName")).lower().endswith("\\wmiprvse.exe")]
    assert (len(ev), len(procs), len(wmi)) == (10, 9, 5)          # samples/README.md
    assert r.events == 10 and r.processes == 9 and r.skipped == []
    assert {f.path.name for f in r.files if f.format == "ignored"} == {"README.md"}
    got = con.execute("""SELECT count(*) FROM processes WHERE parent_process_name ILIKE 'wmiprvse.exe'""").fetchone()[0]
    assert got == 5


def test_sample_cases(loaded):
    con, r = loaded
    rows = con.execute("""SELECT dest, "user", process_name, process_id, parent_process_id, parent_process
                          FROM processes WHERE parent_process_name ILIKE 'wmiprvse.exe' ORDER BY _time""").fetchall()
    assert [(x[1], x[2]) for x in rows] == [
        ("CORP\\adm_ops", "cmd.exe"), ("CORP\\adm_ops", "powershell.exe"), ("CORP\\svc_monitor", "agent.exe"),
        ("NT AUTHORITY\\SYSTEM", "updsvc.exe"), ("adm_ops", "cmd.exe")]
    assert rows[-1][3:] == ("0x1a2c", "0xd10", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe")
    assert "-enc " in con.execute("SELECT process FROM processes WHERE process_name = 'powershell.exe'").fetchone()[0]
    # WmiPrvSE.exe itself started by svchost -k DcomLaunch is a process, not a child
    assert con.execute("""SELECT parent_process FROM processes WHERE process_name = 'WmiPrvSE.exe'""").fetchall() == [
        ("C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p",)]
    # 4688 with TargetUserName '-' falls back to SubjectUserName
    assert con.execute("SELECT \"user\" FROM processes WHERE process_name = 'mmc.exe'").fetchall() == [("jdoe",)]


def test_sigma_style_raw_search_on_samples(loaded):
    con, r = loaded
    c = r.columns["events"]
    n = con.execute(f"""SELECT count(*) FROM events WHERE {c['source']} = 'XmlWinEventLog:Microsoft-Windows-Sysmon/Operational'
                        AND lower({c['ParentImage']}) LIKE '%\\wmiprvse.exe'
                        AND NOT ({c['LogonId']} = '0x3e7' OR {c['User']} = 'NT AUTHORITY\\SYSTEM')""").fetchone()[0]
    assert n == 3
    # CIM aliases on the raw Sysmon event
    row = con.execute(f"""SELECT {c['user']}, {c['dest']}, {c['process_name']}, {c['parent_process_name']},
                                 {c['process_path']}, {c['parent_process_path']}, {c['process_id']}, {c['parent_process_id']}
                          FROM events WHERE {c['EventRecordID']} = '41206'""").fetchone()
    assert row == ("CORP\\svc_monitor", "WKS-FIN-07.corp.example", "agent.exe", "WmiPrvSE.exe",
                   "C:\\Program Files\\Monitoring\\agent.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "8100", "3376")
    # a non-process event gets no CIM aliases
    assert con.execute(f"SELECT {c['process_name']} FROM events WHERE {c['EventCode']} = '3'").fetchall() == [(None,)]


def test_assign_columns():
    cols = assign_columns({"User": 5, "user": 1, "ProcessID": 9, "ProcessId": 9, "a": 1},
                          ["user", "host", "HOST"], prefer=["ProcessId"])
    assert cols["ProcessId"] == "ProcessId" and cols["ProcessID"] == "ProcessID#2"
    assert cols["User"] == "User" and cols["user"] == "user#2"
    assert cols["host"] == "host" and cols["HOST"] == "HOST#2"
    assert len({v.lower() for v in cols.values()}) == len(cols)
    assert quote_ident('we"ird') == '"we""ird"'


@pytest.mark.parametrize("raw,want", [
    ("0x00000000000003e7", "0x3e7"), ("0x3E7", "0x3e7"), ("0x0", "0x0"), ("0x0000", "0x0"),
    ("1234", "1234"), ("-", "-"), (None, None)])
def test_hex_norm(raw, want):
    assert duckdb.connect().execute(f"SELECT {hex_norm_sql('$1')}", [raw]).fetchone()[0] == want


@pytest.mark.parametrize("raw,want", [
    ("2021-04-30T20:27:39.7612379Z", 1619814459.761237), ("2020-10-13 04:24:51.699", 1602563091.699),
    ("2020-10-13T04:24:56Z", 1602563096.0), ("garbage", None)])
def test_time(raw, want):
    got = duckdb.connect().execute(f"SELECT {time_sql('CAST($1 AS VARCHAR)')}", [raw]).fetchone()[0]
    assert got == (pytest.approx(want) if want is not None else None)


def test_samples_are_fictional():
    text = SAMPLE.read_text(encoding="utf-8")
    hosts = set(re.findall(r"<Computer>([^<]+)</Computer>", text))
    assert hosts and all(h.endswith(".corp.example") for h in hosts)
