"""The shipped searches on the project's sample events (samples/), through the CLI, including the analyst
tuning workflows the README documents: a local macros.conf given with --local-dir, and the allowlist lookup.

Expected detections are derived from the raw XmlWinEventLog lines here, independently of localsearch.
"""
from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from project import REPO, SAMPLES, SYSMON_RULE, localsearch, rendered_message

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"

pytestmark = pytest.mark.skipif(not any(SAMPLES.glob("*.log")), reason="no sample events in samples/")


def sample_events() -> List[Dict[str, str]]:
    events = []
    for path in sorted(SAMPLES.glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            root = ET.fromstring(line)
            system = root.find(f"{NS}System")
            ev = {d.get("Name"): (d.text or "") for d in root.iter(f"{NS}Data")}
            ev["EventID"] = system.findtext(f"{NS}EventID")
            ev["Channel"] = system.findtext(f"{NS}Channel")
            ev["Computer"] = system.findtext(f"{NS}Computer")
            events.append(ev)
    return events


def _name(path: str) -> str:
    return path.rsplit("\\", 1)[-1]


def children(sysmon_only: bool = False, drop_system: bool = False) -> Counter:
    found: Counter = Counter()
    for ev in sample_events():
        if ev["EventID"] == "1" and ev["Channel"].lower() == "microsoft-windows-sysmon/operational":
            parent, image = ev.get("ParentImage", ""), ev.get("Image", "")
        elif ev["EventID"] == "4688" and ev["Channel"].lower() == "security" and not sysmon_only:
            parent, image = ev.get("ParentProcessName", ""), ev.get("NewProcessName", "")
        else:
            continue
        if _name(parent).lower() != "wmiprvse.exe":
            continue
        if drop_system and (int(ev.get("LogonId", "0") or "0", 16) == 0x3E7
                            or ev.get("User", "").upper() == "NT AUTHORITY\\SYSTEM"):
            continue
        found[(ev["Computer"].lower(), _name(image).lower())] += 1
    return found


PROCESS_FIELDS = ["action", "dest", "original_file_name", "parent_process", "parent_process_exec",
                  "parent_process_guid", "parent_process_id", "parent_process_name", "parent_process_path",
                  "process", "process_exec", "process_guid", "process_hash", "process_id",
                  "process_integrity_level", "process_name", "process_path", "user", "user_id", "vendor_product"]
ALLOWLIST_HEADER = "dest,user,process_name,process,reason"


def run_cli(*args: str, app: Path = REPO) -> Tuple[int, List[dict], str]:
    proc = localsearch("run", str(SAMPLES), "--app-dir", str(app), "--format", "jsonl", *args, timeout=300)
    assert proc.stdout == "" or proc.stdout.endswith("\n")
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def keys(results: List[dict]) -> Counter:
    return Counter((r["dest"].lower(), r["process_name"].lower()) for r in results)


def test_correlation_search_on_samples() -> None:
    expected = children()
    assert sum(expected.values()) == 5                      # samples/README.md: #4, #5, #6, #7, #9
    code, results, err = run_cli()
    assert code == 0, err
    assert keys(results) == expected
    for r in results:
        assert r["risk_score"] == "49"
        assert r["risk_message"] == rendered_message(r)
        # the message names child, parent, host and user, and no WMI client
        assert r["risk_message"] == (f"{r['parent_process_name']} (WMI provider host) started {r['process_name']} "
                                     f"on host {r['dest']} as user {r['user']}")
        # ESCU's full Processes field set, every field a result (empty ones as "null", fillnull_value)
        assert set(PROCESS_FIELDS) <= set(r), sorted(set(PROCESS_FIELDS) - set(r))
        assert r["parent_process_name"] == r["parent_process_exec"] == "WmiPrvSE.exe"
        assert r["action"] == "allowed" and r["process_path"].lower().endswith("\\" + r["process_name"].lower())
        if r["vendor_product"] == "Microsoft Sysmon":
            for field in ("process_guid", "parent_process_guid", "process_hash", "process_integrity_level"):
                assert r[field] not in ("", "null"), (field, r)
    assert {r["vendor_product"] for r in results} == {"Microsoft Sysmon", "Microsoft Windows"}
    assert "events read: 10" in err and "process events mapped (Endpoint.Processes): 9" in err


def test_sigma_variant_drops_the_system_child() -> None:
    expected = children(sysmon_only=True, drop_system=True)
    code, results, err = run_cli("--search", SYSMON_RULE)
    assert code == 0, err
    assert keys(results) == expected
    system_children = children(sysmon_only=True) - expected
    assert system_children and not (set(system_children) & set(keys(results)))
    assert all(r["risk_score"] == "49" for r in results)


BENIGN = ("wks-fin-07.corp.example", "agent.exe")


def test_local_macros_conf_tunes_the_filter(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    # the README's example filter
    (local / "macros.conf").write_text(
        "[process_execution_via_wmi_filter]\n"
        'definition = search NOT (process_name="CcmExec.exe" OR (user="CORP\\\\svc_monitor" process_name="agent.exe"))\n')
    code, tuned, err = run_cli("--local-dir", str(local))
    assert code == 0, err
    expected = children()
    assert BENIGN in expected
    del expected[BENIGN]
    assert keys(tuned) == expected
    assert "local overrides" in err


def copy_app(tmp_path: Path) -> Path:
    app = tmp_path / "DA-ESS-WmiProcessExecution"
    for sub in ("default", "bin", "lookups", "lib"):
        if (REPO / sub).is_dir():
            shutil.copytree(REPO / sub, app / sub, ignore=shutil.ignore_patterns("__pycache__"))
    return app


def test_allowlist_lookup_removes_the_benign_case(tmp_path: Path) -> None:
    app = copy_app(tmp_path)
    csv_path = app / "lookups" / "wmi_process_execution_allowlist.csv"
    assert not csv_path.exists(), "the app never ships the analyst's allowlist"
    header = ALLOWLIST_HEADER
    # wildcards and other casing than the events: matching is wildcard and case-insensitive
    row = 'WKS-FIN-07*,corp\\SVC_MONITOR,AGENT.EXE,"""C:\\Program Files\\Monitoring\\agent.exe"" --collect*",monitoring inventory (CHG-1234)'
    csv_path.write_text(header + "\n" + row + "\n", encoding="utf-8")
    (app / "local").mkdir()
    (app / "local" / "macros.conf").write_text(
        "[process_execution_via_wmi_filter]\ndefinition = `process_execution_via_wmi_allowlist`\n")
    code, results, err = run_cli(app=app)
    assert code == 0, err
    expected = children()
    del expected[BENIGN]
    assert keys(results) == expected
    assert all("allowlist_reason" not in r and "known_benign_reason" not in r for r in results)
    # without the opt-in the same copy still reports the benign case
    shutil.rmtree(app / "local")
    code, results, err = run_cli(app=app)
    assert code == 0 and BENIGN in keys(results)


def test_readme_allowlist_example_row(tmp_path: Path) -> None:
    """The allowlist row the README documents removes the sample's benign case."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"```\n(dest,user,process_name,process,reason\n[^`]+)```", readme)
    if not m:
        pytest.skip("README has no allowlist example block")
    app = copy_app(tmp_path)
    (app / "lookups" / "wmi_process_execution_allowlist.csv").write_text(m.group(1), encoding="utf-8")
    (app / "local").mkdir()
    (app / "local" / "macros.conf").write_text(
        "[process_execution_via_wmi_filter]\ndefinition = `process_execution_via_wmi_allowlist`\n")
    code, results, err = run_cli(app=app)
    assert code == 0, err
    assert BENIGN not in keys(results)
    assert sum(keys(results).values()) == sum(children().values()) - 1


def test_allowlist_macro_without_the_analysts_file_stops_with_a_clear_error(tmp_path: Path) -> None:
    """As in Splunk, a lookup whose file does not exist is an error, not an empty list: create the allowlist
    before pointing a filter macro at the allowlist macro (README "Tuning")."""
    app = copy_app(tmp_path)
    (app / "local").mkdir()
    (app / "local" / "macros.conf").write_text(
        "[process_execution_via_wmi_filter]\ndefinition = `process_execution_via_wmi_allowlist`\n")
    code, results, err = run_cli(app=app)
    assert code == 1 and results == []
    assert "wmi_process_execution_allowlist" in err and "No such file" in err


def with_extra_children(tmp_path: Path, images: List[str]) -> Path:
    """The bundled samples plus copies of sample #4 (wmiexec-style cmd.exe) with another child image each."""
    folder = tmp_path / "events"
    folder.mkdir()
    lines = [ln for p in sorted(SAMPLES.glob("*.log")) for ln in p.read_text(encoding="utf-8").splitlines() if ln]
    template = next(ln for ln in lines if "whoami /all" in ln)
    extra = []
    for n, image in enumerate(images):
        name = image.rsplit("\\", 1)[-1]
        line = template.replace("C:\\Windows\\System32\\cmd.exe", image)
        line = re.sub(r"(<Data Name='CommandLine'>)[^<]*", rf"\g<1>{name} -Embedding", line)
        line = re.sub(r"(<Data Name='ProcessId'>)\d+", rf"\g<1>{7001 + n}", line)
        assert line != template
        extra.append(line)
    (folder / "samples.XmlWinEventLog.log").write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    return folder


def test_known_benign_macro_drops_the_listed_children_only(tmp_path: Path) -> None:
    events = with_extra_children(tmp_path, ["C:\\Windows\\System32\\WerFault.exe",
                                            "C:\\Windows\\System32\\Dism\\DismHost.exe",
                                            "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"])
    local = tmp_path / "local"
    local.mkdir()

    def run(definition: str) -> Counter:
        (local / "macros.conf").write_text(f"[process_execution_via_wmi_filter]\ndefinition = {definition}\n")
        proc = localsearch("run", str(events), "--app-dir", str(REPO), "--local-dir", str(local),
                           "--format", "jsonl", timeout=300)
        assert proc.returncode == 0, proc.stderr
        return keys([json.loads(line) for line in proc.stdout.splitlines()])

    untuned = run("search *")
    benign = {("wks-fin-07.corp.example", n) for n in ("werfault.exe", "dismhost.exe", "wmiprvse.exe")}
    assert benign <= set(untuned) and sum(untuned.values()) == sum(children().values()) + 3
    tuned = run("`process_execution_via_wmi_known_benign`")
    assert not benign & set(tuned)
    assert tuned == children()          # every other child, the benign monitoring agent included, stays
