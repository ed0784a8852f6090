"""load_events without the raw events view (raw_events=False, what a tstats search needs) gives the same data
model and the same counts and skips as the full load, and the CLI picks the mode from the search."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from localsearch.engine import reads_raw_events
from localsearch.ingest import load_events
from project import DATASETS, SAMPLES


def _load(paths, raw_events: bool, tmp_path: Path):
    con = duckdb.connect()
    report = load_events(paths, con, raw_events=raw_events)
    rows = con.execute("SELECT * FROM processes ORDER BY ALL").fetchall()
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    return report, rows, views


def _inputs(tmp_path: Path):
    paths = [SAMPLES]
    bad = tmp_path / "bad.json"
    bad.write_text('{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}\n{"EventID": 1, oops\n'
                   '[1, 2]\n', encoding="utf-8")
    beat = tmp_path / "beat.json"
    beat.write_text('{"@timestamp": "2024-01-01T00:00:00Z", "winlog": {"event_id": 1, "channel": '
                    '"Microsoft-Windows-Sysmon/Operational", "computer_name": "h1", "event_data": {"Image": '
                    '"C:\\\\x\\\\cmd.exe", "ParentImage": "C:\\\\Windows\\\\System32\\\\wbem\\\\WmiPrvSE.exe"}}}\n',
                    encoding="utf-8")
    paths += [bad, beat]
    if (DATASETS / "otrf").is_dir():
        paths.append(DATASETS / "otrf")
    return paths


def test_processes_counts_and_skips_do_not_depend_on_the_mode(tmp_path: Path) -> None:
    paths = _inputs(tmp_path)
    full, full_rows, full_views = _load(paths, True, tmp_path)
    light, light_rows, light_views = _load(paths, False, tmp_path)
    assert light_rows == full_rows and len(full_rows) >= 9 + 1
    assert (light.events, light.processes) == (full.events, full.processes)
    assert [(s.path.name, s.record_number, s.reason) for s in light.skipped] == \
           [(s.path.name, s.record_number, s.reason) for s in full.skipped]
    assert [(f.path.name, f.format, f.events_read, f.records_skipped) for f in light.files] == \
           [(f.path.name, f.format, f.events_read, f.records_skipped) for f in full.files]
    assert "events" in full_views and "events" not in light_views
    assert light.columns["events"] == {} and light.columns["processes"] == full.columns["processes"]
    assert any(f.format == "jsonl-winlogbeat" for f in light.files)
    assert len(light.skipped) == 2, light.skipped


@pytest.mark.parametrize("search, raw", [
    ("| tstats count from datamodel=Endpoint.Processes by Processes.dest | search dest=x", False),
    ("|tstats count from datamodel=Endpoint.Processes", False),
    ("index=* EventCode=1 | table dest", True),
    ("search EventCode=1", True),
    ("| inputlookup x", False),                                              # a lookup file only
    ("| inputlookup x | join a [search EventCode=1]", True),                 # a subsearch over the events
    ("| tstats count from datamodel=Endpoint.Processes | search NOT [| inputlookup x]", False),
])
def test_which_searches_read_raw_events(search: str, raw: bool) -> None:
    assert reads_raw_events(search) is raw
