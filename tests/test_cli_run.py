"""`python -m localsearch run`: output formats, summary on stderr, exit codes and error messages."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from project import MAIN_RULE, REPO, SAMPLES, localsearch

pytestmark = pytest.mark.skipif(not any(SAMPLES.glob("*.log")), reason="no sample events in samples/")


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return localsearch(*args, cwd=cwd, timeout=300)


def local_dir(tmp_path: Path, **files: str) -> Path:
    d = tmp_path / "local"
    d.mkdir()
    for name, text in files.items():
        (d / f"{name}.conf").write_text(text)
    return d


def test_jsonl_stdout_is_only_json_objects_and_summary_goes_to_stderr() -> None:
    proc = cli("run", "samples/", "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    objs = [json.loads(line) for line in lines]
    assert len(objs) == 5 and all(isinstance(o, dict) for o in objs)
    assert {"dest", "user", "process_name", "risk_score", "risk_message", "firstTime"} <= set(objs[0])
    for text in ("files read: 1", "events read: 10", "records skipped: 0", "results: 5"):
        assert text in proc.stderr


def test_csv_and_table() -> None:
    proc = cli("run", "samples/", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 5 and all(r["risk_score"] == "49" for r in rows)
    proc = cli("run", "samples/")
    assert proc.returncode == 0, proc.stderr
    assert "risk_score" in proc.stdout and "risk_message" in proc.stdout and "agent.exe" in proc.stdout


def test_app_dir_and_default_search_from_elsewhere(tmp_path: Path) -> None:
    proc = cli("run", str(SAMPLES), "--app-dir", str(REPO), "--format", "jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 5


@pytest.mark.parametrize("args,message", [
    (["run", "samples/", "--search", "No Such Search"], "no saved search named 'No Such Search'"),
    (["run", "no/such/path"], "no such file or folder: no/such/path"),
    (["run", "samples/", "--earliest", "yesterday"], "cannot read time 'yesterday'"),
    (["run", "samples/", "--earliest", "-3fortnights"], "unknown time unit"),
    (["run", "samples/", "--format", "xml"], "invalid choice"),
    (["run", "samples/", "--local-dir", "no/such/dir"], "--local-dir no/such/dir is not a folder"),
    (["run", "README.md"], "README.md"),
])
def test_usage_and_input_errors_exit_2(args: List[str], message: str) -> None:
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stdout == ""


def test_unknown_search_lists_available_searches() -> None:
    proc = cli("run", "samples/", "--search", "x")
    assert MAIN_RULE in proc.stderr


def test_not_an_app_folder_exits_2(tmp_path: Path) -> None:
    proc = cli("run", str(SAMPLES), "--app-dir", str(tmp_path))
    assert proc.returncode == 2 and "not an app folder" in proc.stderr


def test_broken_local_conf_names_file_and_line(tmp_path: Path) -> None:
    d = local_dir(tmp_path, macros="[process_execution_via_wmi_filter]\ndefinition = search \\ \nx=1\n")
    proc = cli("run", "samples/", "--local-dir", str(d))
    assert proc.returncode == 2
    assert "macros.conf:2: whitespace after a line-continuation backslash" in proc.stderr


def test_unsupported_command_in_filter_exits_1(tmp_path: Path) -> None:
    d = local_dir(tmp_path, macros="[process_execution_via_wmi_filter]\ndefinition = transaction dest\n")
    proc = cli("run", "samples/", "--local-dir", str(d))
    assert proc.returncode == 1 and proc.stdout == ""
    assert "unsupported in local runs: command transaction" in proc.stderr
    assert MAIN_RULE in proc.stderr


def test_missing_macro_is_named(tmp_path: Path) -> None:
    d = local_dir(tmp_path, macros="[process_execution_via_wmi_filter]\ndefinition = `my_tuning(dest)`\n")
    proc = cli("run", "samples/", "--local-dir", str(d))
    assert proc.returncode == 1
    assert "macro `my_tuning(1)` is not defined" in proc.stderr and "process_execution_via_wmi_filter" in proc.stderr


def test_local_savedsearches_override_and_command_failure_exits_1(tmp_path: Path) -> None:
    d = local_dir(tmp_path, savedsearches=(
        f"[{MAIN_RULE}]\n"
        "search = | tstats count from datamodel=Endpoint.Processes by Processes.dest \\\n"
        "| rbascore impact=high confidence=70 message=\"x $dest$\"\n"))
    proc = cli("run", "samples/", "--local-dir", str(d))
    assert proc.returncode == 1, proc.stderr
    assert "command rbascore failed" in proc.stderr and "impact" in proc.stderr


def test_local_savedsearches_override_key_by_key(tmp_path: Path) -> None:
    d = local_dir(tmp_path, savedsearches=(
        f"[{MAIN_RULE}]\n"
        "search = | tstats count from datamodel=Endpoint.Processes by Processes.dest | rename Processes.* AS *\n"))
    proc = cli("run", "samples/", "--local-dir", str(d), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    got = {o["dest"]: o["count"] for o in map(json.loads, proc.stdout.splitlines())}
    assert got == {"SRV-APP-02.corp.example": "2", "WKS-FIN-07.corp.example": "7"}


def test_time_window_options() -> None:
    proc = cli("run", "samples/", "--format", "jsonl", "--earliest", "-1h")
    assert proc.returncode == 0 and proc.stdout == ""
    proc = cli("run", "samples/", "--format", "jsonl", "--earliest", "2024-03-12T09:15:00Z",
               "--latest", "2024-03-12T10:00:00")
    assert proc.returncode == 0, proc.stderr
    names = sorted(o["process_name"] for o in map(json.loads, proc.stdout.splitlines()))
    assert names == ["agent.exe", "powershell.exe"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_output_into_a_closed_pipe_ends_quietly_with_exit_0(fmt: str) -> None:
    """`localsearch run ... | head -1`: the reader goes away before the results are written."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    reader, writer = os.pipe()
    os.close(reader)            # nobody will read: the first write of the results fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "localsearch", "run", "samples/", "--format", fmt],
                              cwd=REPO, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=300, env=env)
    finally:
        os.close(writer)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_head_reads_the_first_result_and_the_run_exits_0(tmp_path: Path) -> None:
    script = (f'set -o pipefail; "{sys.executable}" -m localsearch run "{SAMPLES}" --format jsonl 2>"{tmp_path}/err" '
              f'| head -1')
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    # no --app-dir and tmp_path is no app folder: the nearest app folder upward is not found either
    assert proc.returncode == 2 and "no app folder" in (tmp_path / "err").read_text()
    proc = subprocess.run(["bash", "-c", script.replace("--format jsonl", f"--format jsonl --app-dir {REPO}")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, (tmp_path / "err").read_text()
    assert len(proc.stdout.splitlines()) == 1 and json.loads(proc.stdout)["risk_score"] == "49"
    assert "Traceback" not in (tmp_path / "err").read_text()


def test_app_dir_defaults_to_the_nearest_app_folder_upward() -> None:
    proc = cli("run", ".", "--format", "jsonl", cwd=SAMPLES)      # samples/ is inside the app folder
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 5
