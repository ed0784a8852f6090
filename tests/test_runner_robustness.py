"""Inputs that must end in a clean error or warning, never a traceback or a silently different answer."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from localsearch.ingest import load_events
from project import localsearch

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def cli(*args: str) -> subprocess.CompletedProcess:
    return localsearch("run", *args, timeout=300)


def tuning(tmp_path: Path, **confs: str) -> str:
    folder = tmp_path / "tuning"
    folder.mkdir()
    for name, text in confs.items():
        (folder / f"{name}.conf").write_text(text, encoding="utf-8")
    return str(folder)


def sysmon_child(**extra: str) -> dict:
    return {"EventID": 1, "Channel": SYSMON, "Hostname": "h1.corp.example", "User": "CORP\\adm",
            "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe /c whoami",
            "ParentImage": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "ParentCommandLine": "wmiprvse.exe",
            "ProcessId": "4242", "ParentProcessId": "1000", "@timestamp": "2024-03-12T08:55:10.000Z", **extra}


def write_jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("definition, expected", [
    ('where match(process, "(?<!x)cmd")', "unsupported in local runs: regular expression construct '(?<!'"),
    ('where match(process, "cmd(?=.exe)")', "unsupported in local runs: regular expression construct '(?='"),
    ('where match(process, "[")', "invalid regular expression '['"),
])
def test_regex_duckdb_cannot_run_is_refused_cleanly(tmp_path: Path, definition: str, expected: str) -> None:
    local = tuning(tmp_path, macros=f"[process_execution_via_wmi_filter]\ndefinition = {definition}\n")
    proc = cli("samples/", "--local-dir", local)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in proc.stderr


def test_a_regex_duckdb_can_run_still_filters(tmp_path: Path) -> None:
    local = tuning(tmp_path, macros='[process_execution_via_wmi_filter]\ndefinition = where match(process, "^cmd")\n')
    proc = cli("samples/", "--local-dir", local, "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert results and all(r["process"].lower().startswith("cmd") for r in results)


def test_non_numeric_lookup_setting_names_the_conf_file(tmp_path: Path) -> None:
    local = tuning(tmp_path,
                   macros="[process_execution_via_wmi_filter]\ndefinition = `process_execution_via_wmi_allowlist`\n",
                   transforms="[wmi_process_execution_allowlist]\nmax_matches = one\n")
    proc = cli("samples/", "--local-dir", local)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "max_matches = one in" in proc.stderr and "transforms.conf" in proc.stderr


def test_tstats_nodename_is_refused_not_matched_as_a_field(tmp_path: Path) -> None:
    search = ("| tstats count from datamodel=Endpoint.Processes where nodename=Processes "
              "Processes.parent_process_name=WmiPrvSE.exe by Processes.dest")
    local = tuning(tmp_path, savedsearches=f"[Endpoint - Process Execution via WMI - Rule]\nsearch = {search}\n")
    proc = cli("samples/", "--local-dir", local)
    assert proc.returncode == 1 and "unsupported in local runs: tstats nodename=" in proc.stderr, proc.stderr


def test_events_keyed_eventcode_reach_the_data_model(tmp_path: Path) -> None:
    record = sysmon_child()
    record["EventCode"] = str(record.pop("EventID"))
    path = write_jsonl(tmp_path / "eventcode.json", record)
    proc = cli(str(path), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["process_name"] for line in proc.stdout.splitlines()] == ["cmd.exe"]


@pytest.mark.parametrize("stamp, epoch", [
    ("2024-03-12T08:55:10+02:00", 1710226510.0),
    ("2024-03-12T08:55:10.5-0130", 1710238510.5),
    ("2024-03-12T08:55:10.1234567Z", 1710233710.123456),
    ("2024-03-12 08:55:10", 1710233710.0),
])
def test_time_offsets_are_applied_and_no_offset_means_utc(tmp_path: Path, stamp: str, epoch: float) -> None:
    path = write_jsonl(tmp_path / "t.json", sysmon_child(**{"@timestamp": stamp}))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")     # the session's zone must not matter
    load_events([path], con)
    assert con.execute("SELECT _time FROM processes").fetchone()[0] == pytest.approx(epoch)


def test_a_time_window_warns_about_events_without_a_readable_time(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.json", sysmon_child(), sysmon_child(**{"@timestamp": "yesterday noon",
                                                                          "ProcessId": "77"}))
    proc = cli(str(path), "--earliest", "0", "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    assert "1 events in processes have no readable time" in proc.stderr
