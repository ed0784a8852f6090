"""`localsearch test`: specs and contentctl detections, exit codes, JUnit output, errors that name the place;
`localsearch list`."""
from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from project import MAIN_RULE, REPO, RISK_MESSAGE, SAMPLES, localsearch, needs_datasets

# A contentctl 5.x detection (contentctl/objects/detection_abstract.py, rba.py, unit_test.py,
# test_attack_data.py): the shipped tstats rule as ESCU writes it, tested on the file its URL names.
DATA_URL = ("https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/attack_techniques/"
            "T1047/wmi_process_execution/{name}")
DETECTION = """\
name: Process Execution via WMI
id: 24869767-8579-485d-9a4f-d9ddfd8f0cac
version: 4
date: '2026-11-20'
author: DA-ESS-WmiProcessExecution
status: {status}
type: TTP
description: Processes spawned by WmiPrvSE.exe.
data_source:
- Sysmon EventID 1
search: '| tstats `security_content_summariesonly` count min(_time) as firstTime max(_time)
  as lastTime from datamodel=Endpoint.Processes where Processes.parent_process_name=WmiPrvSE.exe
  by Processes.dest Processes.user Processes.parent_process_name Processes.process_name Processes.process
  | `drop_dm_object_name(Processes)` | `security_content_ctime(firstTime)` | `security_content_ctime(lastTime)`
  | `process_execution_via_wmi_filter`'
how_to_implement: Sysmon Event ID 1 mapped to the Endpoint data model.
known_false_positives: Administrators use WMI.
references:
- https://attack.mitre.org/techniques/T1047/
rba:
  message: {message}
  risk_objects:
  - field: dest
    type: system
    score: 49
  - field: {risk_field}
    type: user
    score: 49
  threat_objects:
  - field: process_name
    type: process_name
tags:
  analytic_story:
  - Suspicious WMI Use
  asset_type: Endpoint
  mitre_attack_id:
  - T1047
  product:
  - Splunk Enterprise
  - Splunk Enterprise Security
  - Splunk Cloud
  security_domain: endpoint
tests:
- name: True Positive Test
  attack_data:
  - data: {data}
    source: {source}
    sourcetype: XmlWinEventLog
"""


def sysmon_sample(folder: Path) -> Path:
    """The sample's Sysmon events (not its Security 4688 one), as one attack-data file."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [line for line in next(SAMPLES.glob("*.log")).read_text(encoding="utf-8").splitlines()
             if "Microsoft-Windows-Sysmon/Operational" in line]
    path = folder / "wmi_sysmon.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def detection(tmp_path: Path, *, status: str = "production", risk_field: str = "user",
              source: str = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational") -> Path:
    data = sysmon_sample(tmp_path / "attack_data" / "T1047")
    path = tmp_path / "detections" / "endpoint" / "process_execution_via_wmi.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DETECTION.format(status=status, risk_field=risk_field, source=source, message=RISK_MESSAGE,
                                     data=DATA_URL.format(name=data.name)), encoding="utf-8")
    return path


def spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_failing_expectation_exits_1_with_a_junit_failure_naming_it(tmp_path: Path) -> None:
    path = spec(tmp_path, f"""\
tests:
  - name: counts and rows
    search: {MAIN_RULE}
    data: {SAMPLES}
    expect:
      count: 5
      rows:
        - {{process_name: cmd.exe, risk_score: "49"}}
        - {{process_name: mimikatz.exe}}
      absent:
        - {{process_name: agent.exe}}
""")
    junit = tmp_path / "out" / "junit.xml"
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--junit", str(junit), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "2 passed, 2 failed" in proc.stdout
    assert "FAIL" in proc.stdout and "no result matches {process_name: 'mimikatz.exe'}" in proc.stdout
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    cases = root.findall("./testsuite/testcase")
    assert [c.get("classname") for c in cases] == ["counts and rows"] * 4
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"row {process_name: 'mimikatz.exe'}", "absent {process_name: 'agent.exe'}"}
    assert "1 result match {process_name: 'agent.exe'}" in (failed["absent {process_name: 'agent.exe'}"].text or "")


def test_passing_spec_exits_0(tmp_path: Path) -> None:
    path = spec(tmp_path, f"tests:\n  - name: t\n    data: [{SAMPLES}]\n    expect: {{min_count: 1, max_count: 5}}\n")
    proc = localsearch("test", str(path), "--app-dir", str(REPO))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "2 passed, 0 failed"


@pytest.mark.parametrize("text,message", [
    ("tests: [", "spec.yaml:1:9: not valid YAML"),
    ("tests:\n  - name: a\n    name: b\n", "spec.yaml:3:5: not valid YAML: duplicate key 'name'"),
    ("test: []\n", "expected a mapping with a `tests:` list"),
    ("tests:\n  - {name: t, data: x, expect: {count: 1}, serach: y}\n", "tests[0] ('t'): unknown key(s): serach"),
    ("tests:\n  - {name: t, data: x}\n", "tests[0] ('t'): expect is required"),
    ("tests:\n  - {name: t, data: x, expect: {count: two}}\n", "expect.count must be a whole number"),
    ("tests:\n  - {name: t, data: x, expect: {rows: [{a: true}]}}\n", "expect.rows[0]: value of a must be text"),
    ("tests:\n  - {name: t, data: nowhere, expect: {count: 1}}\n", "test 't': no such file or folder"),
    ("tests:\n  - {name: t, data: '${NO_SUCH_VARIABLE_X}/a', expect: {count: 1}}\n",
     "environment variable NO_SUCH_VARIABLE_X is not set"),
    (f"tests:\n  - {{name: t, data: {SAMPLES}, search: Nope, expect: {{count: 1}}}}\n",
     "test 't': no saved search named 'Nope'"),
])
def test_bad_spec_exits_2_naming_file_and_place(tmp_path: Path, text: str, message: str) -> None:
    path = spec(tmp_path, text)
    proc = localsearch("test", str(path), "--app-dir", str(REPO), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_search_error_is_a_junit_error_and_exit_1(tmp_path: Path) -> None:
    local = tmp_path / "tuning"
    local.mkdir()
    (local / "macros.conf").write_text("[process_execution_via_wmi_filter]\ndefinition = transaction dest\n")
    path = spec(tmp_path, f"tests:\n  - {{name: t, data: {SAMPLES}, local: tuning, expect: {{count: 1}}}}\n")
    junit = tmp_path / "j.xml"
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--junit", str(junit))
    assert proc.returncode == 1
    error = ET.parse(junit).getroot().find("./testsuite/testcase/error")
    assert error is not None and "unsupported in local runs: command transaction" in (error.text or "")


def test_contentctl_detection_passes_on_its_attack_data(tmp_path: Path) -> None:
    path = detection(tmp_path)
    junit = tmp_path / "j.xml"
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--data-dir", str(tmp_path / "attack_data"),
                       "--junit", str(junit))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "Process Execution via WMI: True Positive Test" in proc.stdout
    case = ET.parse(junit).getroot().find("./testsuite/testcase")
    assert case is not None and case.get("name", "").startswith("contentctl unit test")


def test_contentctl_risk_object_field_not_in_results_fails(tmp_path: Path) -> None:
    path = detection(tmp_path, risk_field="src_user")      # not a field of the search's results
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--data-dir", str(tmp_path / "attack_data"))
    assert proc.returncode == 1
    assert "the risk object field(s) src_user are missing in result 1" in proc.stdout


def test_contentctl_url_without_data_dir_or_file_and_odd_source_are_refused(tmp_path: Path) -> None:
    path = detection(tmp_path)
    proc = localsearch("test", str(path), "--app-dir", str(REPO))
    assert proc.returncode == 2 and "is a URL: give --data-dir, a folder holding wmi_sysmon.log" in proc.stderr
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--data-dir", str(tmp_path / "detections"))
    assert proc.returncode == 2 and "no file named wmi_sysmon.log under --data-dir" in proc.stderr
    path = detection(tmp_path, source="XmlWinEventLog:Security")
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--data-dir", str(tmp_path / "attack_data"))
    assert proc.returncode == 2
    assert "unsupported in local runs: data indexed with source 'XmlWinEventLog:Security'" in proc.stderr


def test_contentctl_skips_what_contentctl_skips(tmp_path: Path) -> None:
    path = detection(tmp_path, status="experimental")
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--data-dir", str(tmp_path / "attack_data"))
    assert proc.returncode == 0 and "SKIP" in proc.stdout and "non-production (experimental)" in proc.stdout


@needs_datasets("mdecrevoisier")
def test_contentctl_detection_on_shared_evtx(tmp_path: Path) -> None:
    from project import DATASETS
    text = DETECTION.format(status="production", risk_field="user", message=RISK_MESSAGE,
                            source="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
                            data=DATA_URL.format(name="ID1-WMI_spawning_PowerShell_process-WMImplant.evtx"))
    path = tmp_path / "d.yml"
    path.write_text(text, encoding="utf-8")
    proc = localsearch("test", str(path), "--app-dir", str(REPO), "--data-dir", str(DATASETS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_list_shows_layers_and_files(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "macros.conf").write_text("[process_execution_via_wmi_filter]\ndefinition = search *\n\n"
                                       "[my_tuning(2)]\nargs = a,b\ndefinition = search $a$=$b$\n")
    proc = localsearch("list", "--app-dir", str(REPO), "--local-dir", str(local), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    items = {(d["kind"], d["name"]): d for d in map(json.loads, proc.stdout.splitlines())}
    assert items[("savedsearch", MAIN_RULE)]["layer"] == "default"
    assert items[("savedsearch", MAIN_RULE)]["where"].startswith(str(REPO / "default" / "savedsearches.conf") + ":")
    assert items[("macro", "process_execution_via_wmi_filter")]["layer"] == "local+default"
    assert items[("macro", "process_execution_via_wmi_filter")]["where"] == f"{local / 'macros.conf'}:1"
    assert items[("macro", "my_tuning(2)")]["detail"] == "arguments: a,b"
    assert items[("macro", "security_content_ctime(1)")]["detail"] == "arguments: field"
    assert items[("macro", "drop_dm_object_name(1)")]["layer"] == "built-in"
    assert items[("lookup", "wmi_process_execution_allowlist")]["detail"].endswith(".csv")
    table = localsearch("list", cwd=SAMPLES)       # the app folder found upward
    assert table.returncode == 0 and MAIN_RULE in table.stdout and "LAYER" in table.stdout




def test_a_closed_pipe_does_not_hide_a_failure(tmp_path: Path) -> None:
    import os
    import sys
    path = spec(tmp_path, f"tests:\n  - {{name: t, data: {SAMPLES}, expect: {{count: 99}}}}\n")
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = subprocess.run([sys.executable, "-m", "localsearch", "test", str(path), "--app-dir", str(REPO)],
                              stdout=writer, stderr=subprocess.PIPE, text=True, timeout=300,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    finally:
        os.close(writer)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("search", [
    # raw events (the events view) and the data model (the processes table) both carry the declared values
    'search sourcetype=xmlwineventlog ParentImage="*\\\\WmiPrvSE.exe" | table Image source sourcetype',
    "| tstats count from datamodel=Endpoint.Processes by Processes.source Processes.sourcetype "
    "| rename Processes.* AS *",
])
def test_attack_data_gets_the_declared_source_and_sourcetype(tmp_path: Path, search: str) -> None:
    from localsearch.runner import app_confs, run_search
    data = sysmon_sample(tmp_path)
    declared = ("XmlWinEventLog:microsoft-windows-sysmon/operational", "xmlwineventlog")
    out = run_search(app_confs(REPO, None), search, "t", [data], origin=declared)
    assert out.error is None, out.error
    got = {(r[out.fields.index("source")], r[out.fields.index("sourcetype")]) for r in out.rows}
    assert got == {declared}
