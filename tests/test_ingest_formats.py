"""Splunk exports and compressed files: each rendering of a shared dataset (tests/renderings.py says how each is
made) gives the same events, data model and detection results as the original file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import duckdb
import pytest
import renderings as rd
from project import DATASETS, MAIN_RULE, REPO, SYSMON_RULE, needs_datasets

from localsearch.conf import AppConfs
from localsearch.engine import SearchEngine
from localsearch.ingest import LoadError, load_events

MAIN, RAW = MAIN_RULE, SYSMON_RULE
FILES = [
    "otrf/covenant_wmi_wbemcomn_dll_hijack_2020-10-09173318.process_creation_subset.json",
    "otrf/covenant_com_wsman_automation_2020-10-13002455.json",
    "mdecrevoisier/ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx",
    "mdecrevoisier/ID1-WMI_spawning_PowerShell_process-WMImplant.evtx",
    "mdecrevoisier/ID1-CrackMapExec_payload_execution.evtx",
]
needs_data = needs_datasets("otrf", "mdecrevoisier")
# _time to the millisecond: Splunk's exports write it so (`%Y-%m-%dT%H:%M:%S.%3N%:z`)
PROC_COLS = ("CAST(floor(_time * 1000 + 1e-6) AS BIGINT), dest, \"user\", process, process_name, process_path, process_id, process_guid, parent_process, "
             "parent_process_name, parent_process_path, parent_process_id, parent_process_guid, "
             "process_integrity_level, process_hash, original_file_name, user_id, action, vendor_product")


def detect(paths: List[Path]) -> Dict[str, object]:
    """Events read, the data model rows, and the results of both shipped searches."""
    confs = AppConfs(REPO, REPO / "local")
    saved = confs.conf("savedsearches")
    con = duckdb.connect()
    report = load_events(paths, con)
    out: Dict[str, object] = {
        "events": report.events,
        "processes": sorted(con.execute(f"SELECT {PROC_COLS} FROM processes").fetchall(), key=repr),
        "skipped": [(s.record_number, s.reason) for s in report.skipped],
        "formats": [f.format for f in report.files if f.format != "ignored"],
    }
    engine = SearchEngine(con, report.columns, confs, app_name="DA-ESS-WmiProcessExecution")
    for name in (MAIN, RAW):
        result = engine.run(saved.get(name, "search"))
        ms = [i for i, f in enumerate(result.fields) if f == "_time"]
        rows = [[int(float(v) * 1000 + 1e-6) if i in ms else v for i, v in enumerate(r)] for r in result.rows]
        out[name] = (result.fields, sorted(rows, key=repr))
    return out


RENDERINGS: Dict[str, Callable[[Path, Path], Path]] = {
    "splunk-csv": lambda src, tmp: rd.splunk_csv(src, tmp / (src.stem + ".csv")),
    "splunk-json": lambda src, tmp: rd.splunk_json(src, tmp / (src.stem + ".export.json")),
    "splunk-raw": lambda src, tmp: rd.splunk_raw(src, tmp / (src.stem + ".raw.log")),
    "gzip": lambda src, tmp: rd.gz(src, tmp / (src.name + ".gz")),
    "zip": lambda src, tmp: rd.zip_of([src], tmp / (src.stem + ".zip")),
    "tar.gz": lambda src, tmp: rd.tgz_of([src], tmp / (src.stem + ".tar.gz")),
}
EXPECTED_FORMAT = {"splunk-csv": "splunk-csv", "splunk-json": "splunk-json"}


# `make unit` renders one EVTX file every way; `make test` renders them all.
FAST_FILES = {FILES[-1]}


class Originals(Dict[str, Dict[str, object]]):
    """What each original file gives, detected once per module on first use."""

    def __missing__(self, rel: str) -> Dict[str, object]:
        self[rel] = detect([DATASETS / rel])
        return self[rel]


@pytest.fixture(scope="module")
def originals() -> Originals:
    return Originals()


@needs_data
@pytest.mark.parametrize("kind", sorted(RENDERINGS))
@pytest.mark.parametrize("rel", [rel if rel in FAST_FILES else pytest.param(rel, marks=pytest.mark.slow)
                                 for rel in FILES])
def test_rendering_detects_as_the_original(rel: str, kind: str, tmp_path: Path, originals: Originals) -> None:
    src = DATASETS / rel
    if kind == "splunk-raw" and src.suffix != ".evtx":
        pytest.skip("the raw export of JSON events is the JSON lines file itself")
    made = RENDERINGS[kind](src, tmp_path)
    got = detect([made])
    want = originals[rel]
    assert got["events"] == want["events"] > 0
    assert got["skipped"] == want["skipped"] == []
    assert got["processes"] == want["processes"]
    assert got[MAIN] == want[MAIN] and got[RAW] == want[RAW]
    assert len(got[MAIN][1]) >= 1                       # every file in FILES holds a WmiPrvSE child
    fmt = EXPECTED_FORMAT.get(kind, "xmlwineventlog" if kind == "splunk-raw" else want["formats"][0])
    assert got["formats"] == [fmt]


@needs_data
def test_export_keeps_splunk_default_fields(tmp_path: Path) -> None:
    src = DATASETS / "mdecrevoisier/ID1-CrackMapExec_payload_execution.evtx"
    for made in (rd.splunk_csv(src, tmp_path / "e.csv"), rd.splunk_json(src, tmp_path / "e.json")):
        con = duckdb.connect()
        r = load_events([made], con)
        c = r.columns["events"]
        rows = con.execute(f"SELECT {c['index']}, {c['host']}, {c['source']}, {c['sourcetype']}, {c['_time']} "
                           f"FROM events ORDER BY {c['_time']}").fetchall()
        assert [x[:4] for x in rows] == [("wineventlog", "win10-02.offsec.lan",
                                          "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "XmlWinEventLog")] * 2
        assert "EventCode" in c and "tag" not in c      # search-time fields come from _raw, not the export
        assert con.execute("SELECT DISTINCT source FROM processes").fetchall() == \
            [("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",)]


def test_export_time_and_fields_without_raw(tmp_path: Path) -> None:
    """A `table` export (no _raw): its columns are the event's fields; `_time` as epoch (outputcsv)."""
    f = tmp_path / "t.csv"
    f.write_text('"_time","host","EventCode","Channel","Computer","Image","ParentImage","User"\n'
                 '"1704164645","h9","1","Microsoft-Windows-Sysmon/Operational","h9.corp","C:\\x\\cmd.exe",'
                 '"C:\\Windows\\System32\\wbem\\WmiPrvSE.exe","CORP\\a"\n', encoding="utf-8")
    con = duckdb.connect()
    r = load_events([f], con)
    assert r.files[0].format == "splunk-csv" and r.events == 1 and r.processes == 1
    assert con.execute("SELECT _time, host, parent_process_name FROM processes").fetchone() == \
        (1704164645.0, "h9", "WmiPrvSE.exe")


def test_classic_wineventlog_raw_is_refused_per_record(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    classic = "04/26/2021 08:25:37 AM\nLogName=Security\nEventCode=4688\nMessage=A new process has been created."
    f.write_text(json.dumps({"preview": False, "offset": 0, "result": {"_raw": classic, "host": "h"}}) + "\n"
                 + json.dumps({"preview": False, "offset": 1, "result": {"_raw": "<Event", "host": "h"}}) + "\n")
    r = load_events([f], duckdb.connect())
    assert r.events == 0 and r.files[0].records_skipped == 2
    con = duckdb.connect()
    g = tmp_path / "d.json"
    g.write_text(f.read_text() + json.dumps({"preview": False, "offset": 2, "result": {
        "_raw": json.dumps({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"})}}) + "\n")
    r = load_events([g], con)
    assert r.events == 1
    assert [(s.record_number, s.reason.split(":")[0]) for s in r.skipped] == \
        [(1, "unsupported in local runs"), (2, "malformed XML in _raw")]


@needs_data
def test_archive_members_are_named_by_their_path_inside(tmp_path: Path) -> None:
    files = [DATASETS / rel for rel in FILES]
    for made in (rd.zip_of(files, tmp_path / "all.zip"), rd.tgz_of(files, tmp_path / "all.tar.gz")):
        con = duckdb.connect()
        r = load_events([made], con)
        read = {str(f.path): f for f in r.files if f.format != "ignored"}
        assert set(read) == {f"{made}!/data/{p.name}" for p in files}
        assert {str(f.path): f.note for f in r.files if f.format == "ignored"} == \
            {f"{made}!/data/README.txt": "unknown format: first line starts with 'not event data' (expected EVTX, "
                                        "<Event ...> XML lines, JSON lines, a Splunk CSV/JSON export or "
                                        "classic WinEventLog text)"}
        assert {f.container for f in read.values()} == {made.name.endswith(".zip") and "zip" or "tar"}
        want = detect(files)
        assert r.events == want["events"]
        assert sorted(con.execute(f"SELECT {PROC_COLS} FROM processes").fetchall(), key=repr) == want["processes"]


def test_damaged_archive_is_a_failure(tmp_path: Path) -> None:
    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}) + "\n")
    bad = tmp_path / "bad.json.gz"
    rd.gz(good, bad)
    bad.write_bytes(bad.read_bytes()[:-12])            # cut: CRC and length trailer gone, data cut
    with pytest.raises(LoadError) as ei:
        load_events([good, bad], duckdb.connect())
    assert str(bad) in str(ei.value)
    r = load_events([good, bad], duckdb.connect(), keep_going=True)
    assert r.events == 1 and [p for p, _ in r.failed] == [bad]


def _formats(paths: List[Path]) -> List[Tuple[str, str]]:
    r = load_events(paths, duckdb.connect())
    return [(f.path.name, f.format) for f in r.files]
