"""The event-source registry (localsearch/ingest/sources.py): the CIM mapping and the process-record
recognition are built from it, and it maps ESCU's full Endpoint.Processes field set for Sysmon 1 and 4688."""
from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from localsearch.ingest import load_events
from localsearch.ingest import load as load_mod
from localsearch.ingest.cim import RAW_FIELDS_USED, Mapping, zoned_time_sql
from localsearch.ingest.layouts import LAYOUTS, classify
from localsearch.ingest.sources import CIM_FIELDS, SOURCES, check, raw_names
from project import DATASETS, needs_datasets

needs_data = needs_datasets("otrf", "mdecrevoisier")

# ESCU's Endpoint.Processes field set (security_content detections' `by` clauses, e.g. v8 of the analytic this
# app ships, REFERENCE section 1)
ESCU_PROCESSES = {"action", "dest", "original_file_name", "parent_process", "parent_process_exec",
                  "parent_process_guid", "parent_process_id", "parent_process_name", "parent_process_path",
                  "process", "process_exec", "process_guid", "process_hash", "process_id",
                  "process_integrity_level", "process_name", "process_path", "user", "user_id", "vendor_product"}


def test_registry_covers_the_escu_field_set_and_everything_is_derived_from_it() -> None:
    check()
    assert ESCU_PROCESSES <= set(CIM_FIELDS)
    proc_re = re.compile(load_mod.PROC_RE)
    # fields a source does not carry: 4688 has no GUIDs, hashes or original file name, and the Windows add-on
    # maps no integrity level for it (Splunk_TA_windows 8.1.2 and 8.4.0 props.conf, [source::XmlWinEventLog:
    # Security]: no process_integrity_level)
    not_carried = {"Security 4688": {"process_integrity_level"}}
    for s in SOURCES:
        assert ESCU_PROCESSES - {"process_guid", "parent_process_guid", "process_hash", "original_file_name"} \
            - not_carried.get(s.name, set()) <= set(s.cim), s.name
        assert proc_re.search(json.dumps({"EventID": int(s.event_code)}))      # process-record recognition
        assert proc_re.search(json.dumps({"EventCode": s.event_code}))
        for spec in s.cim.values():
            assert set(raw_names(spec)) <= set(RAW_FIELDS_USED)
        for raw in s.ecs:
            assert raw in RAW_FIELDS_USED or raw in ("Hashes",), raw
    assert set(SOURCES[0].cim) == set(CIM_FIELDS)         # Sysmon 1 carries every field


def test_mapping_sql_names_each_source_once_per_field() -> None:
    m = Mapping(lambda name: f'r."{name}"')
    cim = m.cim()
    assert set(cim) == set(CIM_FIELDS)
    for s in SOURCES:
        cond = m.is_source(s)
        assert sum(cim[f].count(cond) for f in s.cim) == len(s.cim)


@needs_data
def test_4688_full_field_set_on_real_evtx() -> None:
    """Security 4688 from a real EVTX file as the Windows add-on maps it: no integrity level (the add-on maps
    none), user_id from System/Security@UserID only (FIELDALIAS-user_id_for_windows = UserID AS user_id in
    Splunk_TA_windows 8.1.2 and 8.4.0 props.conf; Security events leave it empty), *_exec the file names."""
    con = duckdb.connect()
    load_events([DATASETS / "mdecrevoisier/ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx"], con)
    rows = con.execute("""SELECT process_id, process_exec, parent_process_exec, process_integrity_level, user_id,
                                 action, vendor_product, process_guid, process_hash, original_file_name
                          FROM processes ORDER BY process_id""").fetchall()
    got = {r[0]: r[1:] for r in rows}
    assert got["0xd44"] == ("cmd.exe", "WmiPrvSE.exe", None, None, "allowed", "Microsoft Windows",
                            None, None, None)
    assert got["0xc8c"][:4] == ("cscript.exe", "MonitoringHost.exe", None, None)
    assert len(got) == 6


@needs_data
def test_sysmon1_hash_and_directory_on_real_otrf() -> None:
    con = duckdb.connect()
    load_events([DATASETS / "otrf/covenant_wmi_wbemcomn_dll_hijack_2020-10-09173318.process_creation_subset.json"],
                con)
    row = con.execute("""SELECT process_hash, process_current_directory, parent_process_exec, process_exec
                         FROM processes WHERE process_id = '4480'""").fetchone()
    assert row[0].startswith("SHA1=8DCA9749CD48D286950E7A9FA1088C937CBCCAD4,MD5=")
    assert row[1:] == ("C:\\Users\\pgustavo\\Desktop\\", "GruntHTTP.exe", "cmd.exe")


@pytest.mark.parametrize("text, zoned", [("2020-10-09 17:34:57", False), ("2020-10-09T21:34:57Z", True),
                                         ("2020-10-09T17:34:57-04:00", True), ("2020-10-09 21:34:57+0000", True)])
def test_nxlog_event_time_is_a_time_only_with_a_zone(text: str, zoned: bool) -> None:
    got = duckdb.connect().execute(f"SELECT {zoned_time_sql('t')} FROM (SELECT ? AS t)", [text]).fetchone()[0]
    if zoned:
        assert got == pytest.approx(1602279297.0)
    else:
        assert got is None


def test_nxlog_record_times(tmp_path: Path) -> None:
    """NXLog (no @timestamp): Sysmon takes UtcTime; a 4688 with only a local EventTime has no _time."""
    base = {"SourceModuleType": "im_msvistalog", "Hostname": "W1", "EventTime": "2020-10-09 17:34:57"}
    f = tmp_path / "nx.json"
    f.write_text(json.dumps(dict(base, EventID=1, Channel="Microsoft-Windows-Sysmon/Operational",
                                 UtcTime="2020-10-09 21:34:57.000", Image="C:\\a.exe")) + "\n"
                 + json.dumps(dict(base, EventID=4688, Channel="Security", NewProcessName="C:\\b.exe")) + "\n")
    con = duckdb.connect()
    r = load_events([f], con, raw_events=False)
    assert r.files[0].format == "jsonl-nxlog" and r.processes == 2
    got = dict(con.execute("SELECT process_name, _time FROM processes").fetchall())
    assert got == {"a.exe": pytest.approx(1602279297.0), "b.exe": None}


def test_layouts_are_told_apart() -> None:
    names = [lay.name for lay in LAYOUTS]
    assert len(names) == len(set(names))
    cases = {
        "jsonl-elastic-agent": {"winlog": {"event_id": 1}, "data_stream": {"dataset": "windows.sysmon_operational"}},
        "jsonl-ecs": {"winlog": {"event_id": 1}, "event": {"module": "sysmon"}},
        "jsonl-winlogbeat": {"winlog": {"event_id": 1}, "event": {"code": "1"}},
        "jsonl-winlogbeat6": {"event_id": 1, "log_name": "Security", "event_data": {}},
        "jsonl-otrf": {"EventID": 1, "SourceModuleType": "im_msvistalog", "@timestamp": "x"},
        "jsonl-nxlog": {"EventID": 1, "SourceModuleType": "im_msvistalog"},
        "jsonl-flat": {"EventCode": "1", "Channel": "Security"},
    }
    for name, doc in cases.items():
        lay = classify(doc)
        assert lay is not None and lay.name == name, (name, lay)
    assert classify({"foo": 1}) is None
