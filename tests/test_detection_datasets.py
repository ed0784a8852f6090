"""The shipped searches on real public event data (REFERENCE section 7), run through the CLI as users run it.

The expected detections are derived here from the raw files, independently of localsearch: every process
creation (Sysmon Event ID 1, Security 4688) whose parent image ends in \\WmiPrvSE.exe, any casing.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from rbascore_core import DOLLAR_STANDIN

from project import DATASETS, REPO, SYSMON_RULE, addon_4688_process, localsearch, needs_datasets, rendered_message

SYSMON = "microsoft-windows-sysmon/operational"

pytestmark = [needs_datasets("otrf", "mdecrevoisier", "otrf-negatives"), pytest.mark.slow]


def _evtx_records(path: Path) -> Iterator[Dict[str, object]]:
    import evtx
    for rec in evtx.PyEvtxParser(str(path)).records_json():
        event = json.loads(rec["data"])["Event"]
        system = event.get("System", {})
        flat = {k: v for k, v in (event.get("EventData") or {}).items() if not k.startswith("#")}
        flat["EventID"] = system.get("EventID")
        if isinstance(flat["EventID"], dict):
            flat["EventID"] = flat["EventID"].get("#text")
        flat["Channel"] = system.get("Channel")
        flat["Computer"] = system.get("Computer")
        yield flat


def _json_records(path: Path) -> Iterator[Dict[str, object]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def raw_records(folder: Path) -> Iterator[Dict[str, object]]:
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".evtx":
            yield from _evtx_records(path)
        elif path.suffix == ".json":
            yield from _json_records(path)


def _basename(path: str) -> str:
    return path.replace("/", "\\").rsplit("\\", 1)[-1]


def _runs_as_system(rec: Dict[str, object]) -> bool:
    """The Sigma rule's exclusion: LogonId 0x3e7 (compared as a number) or User NT AUTHORITY\\SYSTEM."""
    logon = str(rec.get("LogonId") or "")
    try:
        system_logon = int(logon, 16) == 0x3E7
    except ValueError:
        system_logon = False
    return system_logon or str(rec.get("User") or "").lower() == "nt authority\\system"


def wmi_children(folder: Path, sysmon_only: bool = False, exclude_system: bool = False) -> Counter:
    """(host, child image name, command line) of every WmiPrvSE child creation, lower-cased host/name;
    `exclude_system` applies the Sigma rule's SYSTEM exclusion."""
    found: Counter = Counter()
    for rec in raw_records(folder):
        eid = str(rec.get("EventID"))
        channel = str(rec.get("Channel") or "").lower()
        if eid == "1" and channel == SYSMON:
            parent, image = rec.get("ParentImage") or "", rec.get("Image") or ""
            cmd = rec.get("CommandLine") or image
        elif eid == "4688" and channel == "security" and not sysmon_only:
            parent, image = rec.get("ParentProcessName") or "", rec.get("NewProcessName") or ""
            cmd = addon_4688_process(str(image), str(rec.get("CommandLine") or ""))
        else:
            continue
        if _basename(str(parent)).lower() != "wmiprvse.exe":
            continue
        if exclude_system and _runs_as_system(rec):
            continue
        host = str(rec.get("Computer") or rec.get("Hostname") or "").lower()
        found[(host, _basename(str(image)).lower(), cmd)] += 1
    return found


def run_cli(*args: str, cwd: Path = REPO) -> Tuple[int, List[dict], str]:
    proc = localsearch("run", *args, "--format", "jsonl", cwd=cwd)
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, results, proc.stderr


def expected_message(r: dict) -> str:
    """The shipped template filled in; rbascore writes a `$` from a value as its stand-in (machine accounts such
    as `WORKSTATION6$` are users here), so ES cannot expand it as a token."""
    return rendered_message({k: str(v).replace("$", DOLLAR_STANDIN) for k, v in r.items()})


def test_correlation_search_finds_every_wmiprvse_child_and_nothing_else() -> None:
    expected = wmi_children(DATASETS / "otrf") + wmi_children(DATASETS / "mdecrevoisier")
    assert sum(expected.values()) == 10            # REFERENCE section 7: 2+2+2 (OTRF, Sysmon + 4688) + 2+1+1
    code, results, err = run_cli(str(DATASETS / "otrf"), str(DATASETS / "mdecrevoisier"))
    assert code == 0, err
    got: Counter = Counter()
    for r in results:
        got[(r["dest"].lower(), r["process_name"].lower(), r["process"])] += int(r["count"])
    assert got == expected
    for r in results:
        assert r["risk_score"] == "49"
        assert r["parent_process_name"].lower() == "wmiprvse.exe"
        assert "$" not in r["risk_message"] and r["risk_message"] == expected_message(r)
        assert r["firstTime"][:2] == "20" and "T" in r["firstTime"]
    assert f"results: {len(results)}" in err


def test_correlation_search_finds_nothing_on_negatives() -> None:
    negatives = DATASETS / "otrf-negatives"
    assert sum(wmi_children(negatives).values()) == 0
    code, results, err = run_cli(str(negatives))
    assert code == 0, err
    assert results == []
    assert "results: 0" in err


def test_sigma_variant_sees_sysmon_children_only() -> None:
    expected = wmi_children(DATASETS / "otrf", sysmon_only=True, exclude_system=True) + \
        wmi_children(DATASETS / "mdecrevoisier", sysmon_only=True, exclude_system=True)
    code, results, err = run_cli(str(DATASETS / "otrf"), str(DATASETS / "mdecrevoisier"), "--search", SYSMON_RULE)
    assert code == 0, err
    got = Counter((r["dest"].lower(), r["process_name"].lower(), r["process"]) for r in results)
    assert got == expected and len(results) > 0
    assert all(r["risk_score"] == "49" and r["risk_message"] == expected_message(r) for r in results)


def test_time_window_limits_results() -> None:
    code, results, err = run_cli(str(DATASETS / "otrf"), str(DATASETS / "mdecrevoisier"),
                                 "--earliest", "2021-01-01T00:00:00Z", "--latest", "2021-06-01")
    assert code == 0, err
    assert results and all(r["firstTime"] >= "2021-01-01" and r["lastTime"] < "2021-06-01" for r in results)
    code, results, err = run_cli(str(DATASETS / "otrf"), "--latest", "0")
    assert code == 0 and results == []
