"""Warnings that are true: process creations in a layout the runner does not know, and the raw variant's
missing-field warnings (the same with and without the prefilter, and none on ordinary negative data)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import List

import duckdb
import pytest

from localsearch.ingest import load_events
from project import DATASETS, SYSMON_RULE as SIGMA, localsearch, needs_datasets

needs_data = needs_datasets("otrf-negatives", "mdecrevoisier")


def cli(paths: List[Path], search: str, prefilter: bool, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("LOCALSEARCH_NO_PREFILTER", None)
    if not prefilter:
        env["LOCALSEARCH_NO_PREFILTER"] = "1"
    return localsearch("run", *map(str, paths), "--search", search, "--format", "jsonl", *extra, env=env)


def warnings_of(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in (DATASETS / "otrf-negatives").glob("*.json"))
                         if (DATASETS / "otrf-negatives").is_dir() else [])
def test_no_warning_noise_on_negatives(name: str) -> None:
    """Every negative file holds Sysmon events with ParentImage, LogonId and User: no field is missing, with or
    without the prefilter (the reported bug: the prefiltered run warned on most of them)."""
    f = DATASETS / "otrf-negatives" / name
    on, off = cli([f], SIGMA, True), cli([f], SIGMA, False)
    assert on.returncode == 0 and off.returncode == 0, (on.stderr, off.stderr)
    assert on.stdout == off.stdout == ""
    assert warnings_of(on.stderr) == warnings_of(off.stderr) == []


@needs_data
def test_missing_field_warning_is_the_same_with_and_without_prefilter() -> None:
    """Security-only data holds no Sysmon field: the raw Sysmon variant cannot match, and says so either way."""
    f = DATASETS / "mdecrevoisier" / "ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx"
    on, off = cli([f], SIGMA, True), cli([f], SIGMA, False)
    assert on.returncode == 0 and off.returncode == 0
    w = warnings_of(on.stderr)
    assert w == warnings_of(off.stderr)
    assert "warning: field ParentImage does not exist in the loaded events: conditions on it match nothing" in w


def test_field_in_a_non_candidate_event_is_not_missing(tmp_path: Path) -> None:
    """LogonId exists only in an event that cannot match: it exists in the input, so no warning either way."""
    f = tmp_path / "e.json"
    base = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\a.exe",
            "@timestamp": "2024-01-01T00:00:00Z"}
    f.write_text(json.dumps(dict(base, ParentImage="C:\\x\\WmiPrvSE.exe")) + "\n"
                 + json.dumps(dict(base, ParentImage="C:\\x\\other.exe", LogonId="0x3e7")) + "\n", encoding="utf-8")
    on, off = cli([f], SIGMA, True), cli([f], SIGMA, False)
    assert on.returncode == 0 and off.returncode == 0 and on.stdout == off.stdout and on.stdout
    assert warnings_of(on.stderr) == warnings_of(off.stderr)
    assert not any("LogonId" in w for w in warnings_of(on.stderr))
    assert any("field User does not exist in the loaded events" in w for w in warnings_of(on.stderr))


def _unknown(report) -> List[str]:
    return [w for w in report.warnings if "layout the runner" in w]


def test_process_creations_in_an_unknown_flat_layout_are_warned_about(tmp_path: Path) -> None:
    f = tmp_path / "nochannel.json"    # Sysmon 1 fields, but no Channel: no source can be recognised
    f.write_text(json.dumps({"EventID": 1, "Computer": "W1", "Image": "C:\\Windows\\System32\\cmd.exe",
                             "ParentImage": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"}) + "\n")
    r = load_events([f], duckdb.connect())
    assert r.processes == 0
    w = _unknown(r)
    assert len(w) == 1 and str(f) in w[0] and "1 records" in w[0]


def test_process_creations_in_an_unknown_nested_layout_are_warned_about(tmp_path: Path) -> None:
    f = tmp_path / "beat.json"         # winlog shape without a channel
    f.write_text(json.dumps({"@timestamp": "2024-01-01T00:00:00Z",
                             "winlog": {"event_id": 4688, "event_data": {"NewProcessName": "C:\\x.exe"}}}) + "\n"
                 + json.dumps({"@timestamp": "2024-01-01T00:00:00Z",
                               "winlog": {"event_id": 4688, "channel": "Security",
                                          "event_data": {"NewProcessName": "C:\\y.exe"}}}) + "\n")
    r = load_events([f], duckdb.connect(), raw_events=False)
    assert r.processes == 1
    w = _unknown(r)
    assert len(w) == 1 and "1 records" in w[0]


@pytest.mark.parametrize("python_path", [False, True])
def test_process_creations_whose_fields_a_shipper_renamed_are_warned_about(tmp_path: Path, python_path: bool) -> None:
    """A Sysmon 1 record is recognised, but its Image (which every Sysmon 1 event carries) is under a name the
    runner does not know (here HELK-style `process_path`): its data model row is incomplete, and the summary
    says so. Read by DuckDB where it is (flat) and in Python (Winlogbeat shape)."""
    f = tmp_path / "renamed.json"
    if python_path:
        doc = {"@timestamp": "2024-01-01T00:00:00Z",
               "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "computer_name": "W1",
                          "event_data": {"IntegrityLevel": "Medium"}},
               "process_path": "C:\\Windows\\System32\\cmd.exe"}
    else:
        doc = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "W1",
               "process_path": "C:\\Windows\\System32\\cmd.exe"}
    f.write_text(json.dumps(doc) + "\n")
    r = load_events([f], duckdb.connect(), raw_events=False)
    assert r.processes == 1
    w = _unknown(r)
    assert len(w) == 1 and "1 process creations lack Image / NewProcessName" in w[0] and str(f) in w[0]


@needs_data
@pytest.mark.slow
def test_no_unknown_layout_warning_on_the_shared_datasets() -> None:
    r = load_events([DATASETS], duckdb.connect(), raw_events=False)
    assert r.processes > 0 and _unknown(r) == []


def test_untimed_warning_is_the_same_with_and_without_prefilter(tmp_path: Path) -> None:
    """Under a time window, the raw search counts the untimed events it would otherwise match (the prefilter
    keeps all of those), not the untimed events of whatever rows were loaded."""
    f = tmp_path / "t.json"
    base = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\a.exe",
            "User": "CORP\\u", "LogonId": "0x1"}
    f.write_text(json.dumps(dict(base, ParentImage="C:\\x\\WmiPrvSE.exe", UtcTime="2024-01-01 00:00:00.000")) + "\n"
                 + json.dumps(dict(base, ParentImage="C:\\x\\WmiPrvSE.exe")) + "\n"          # untimed, matches
                 + json.dumps(dict(base, ParentImage="C:\\x\\other.exe")) + "\n"             # untimed, cannot
                 + json.dumps({"EventID": 4624, "Channel": "Security"}) + "\n", encoding="utf-8")
    out = []
    for prefilter in (True, False):
        p = cli([f], SIGMA, prefilter, "--earliest", "2023-01-01T00:00:00")
        assert p.returncode == 0, p.stderr
        out.append((p.stdout, warnings_of(p.stderr)))
    assert out[0] == out[1]
    assert len(out[0][0].splitlines()) == 1
    assert any(w.startswith("warning: 1 events that match the search have no readable time") for w in out[0][1]), out
