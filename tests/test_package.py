"""The built package: what it holds, and AppInspect's verdict on it (precert, all tags and cloud)."""
from __future__ import annotations

import io
import json
import re
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from app_files import APP_ID, REPO_ROOT, read_conf

pytestmark = pytest.mark.slow
APPINSPECT = Path(sys.executable).with_name("splunk-appinspect")
REQUIRED = ["default/app.conf", "default/savedsearches.conf", "default/macros.conf", "default/transforms.conf",
            "default/commands.conf", "default/searchbnf.conf", "default/analyticstories.conf", "default/server.conf",
            "bin/rbascore.py", "lib/splunklib/searchcommands/__init__.py",
            f"lookups/{read_conf('transforms.conf')['wmi_process_execution_known_benign']['filename']}",
            "metadata/default.meta", "app.manifest", "README.md", "CHANGELOG.md", "LICENSE"]
ALLOWLIST = f"lookups/{read_conf('transforms.conf')['wmi_process_execution_allowlist']['filename']}"


@pytest.fixture(scope="module")
def package() -> Path:
    """Build (or reuse, when up to date) the package exactly as `make package` does."""
    subprocess.run(["make", "-s", "package"], cwd=REPO_ROOT, check=True, capture_output=True)
    version = read_conf("app.conf")["id"]["version"]
    path = REPO_ROOT / "dist" / f"{APP_ID}-{version}.tar.gz"
    assert path.is_file(), f"make package did not produce {path.name}"
    return path


def test_package_holds_the_app_and_nothing_else(package: Path) -> None:
    with tarfile.open(package) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert all(n == APP_ID or n.startswith(APP_ID + "/") for n in names), "one top folder named after the app id"
    inside = {n[len(APP_ID) + 1:] for n in names if n != APP_ID}
    assert set(REQUIRED) <= inside, f"missing: {sorted(set(REQUIRED) - inside)}"
    for member in members:
        rel = member.name[len(APP_ID) + 1:]
        parts = rel.split("/")
        assert not any(p.startswith(".") for p in parts if p), f"dotfile {rel}"
        assert not rel.endswith(".pyc") and "__pycache__" not in parts, rel
        assert parts[0] not in {"local", "localsearch", "tests", "bench", "samples", "build", "dist", "contentctl"}, rel
        assert member.mode & stat.S_IWUSR, f"{rel} not writable by owner"
        if member.isfile() and parts[0] != "bin":
            assert not member.mode & 0o111, f"{rel} is executable outside bin/"
        assert member.issym() is False, f"{rel} is a link"
    assert ALLOWLIST not in inside, "the analyst's allowlist must never be in the package"


def test_upgrade_over_an_installed_copy_keeps_the_analysts_allowlist(package: Path, tmp_path: Path) -> None:
    """Installing a package over an app folder (Splunk: Install app from file, "Upgrade app") writes the package's
    files; the allowlist and local/ are not among them."""
    installed = tmp_path / APP_ID
    (installed / "lookups").mkdir(parents=True)
    (installed / "local").mkdir()
    rows = "dest,user,process_name,process,reason\n*,CORP\\svc_monitor,agent.exe,*,monitoring (CHG-1)\n"
    (installed / ALLOWLIST).write_text(rows, encoding="utf-8")
    (installed / "local" / "macros.conf").write_text(
        "[process_execution_via_wmi_filter]\ndefinition = `process_execution_via_wmi_allowlist`\n", encoding="utf-8")
    with tarfile.open(package) as tar:
        tar.extractall(tmp_path, filter="data")
    assert (installed / ALLOWLIST).read_text(encoding="utf-8") == rows
    assert "process_execution_via_wmi_allowlist" in (installed / "local" / "macros.conf").read_text(encoding="utf-8")
    assert (installed / REQUIRED[-1]).is_file() and (installed / "default" / "analyticstories.conf").is_file()


def test_partition_builds_a_search_head_package(package: Path) -> None:
    parts = sorted(p.name for p in (package.parent / "partitions").glob("*.tar.gz"))
    assert parts == [package.name.replace(".tar.gz", "-_search_heads.tar.gz")]


def appinspect(package: Path, tmp: Path, *tags: str) -> dict:
    report = tmp / "appinspect.json"
    cmd = [str(APPINSPECT), "inspect", str(package), "--mode", "precert", "--skip-trusted-libraries-update",
           "--data-format", "json", "--output-file", str(report), "--ci", *tags]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert report.is_file(), f"AppInspect wrote no report (exit {run.returncode}): {run.stderr[-2000:]}"
    data = json.loads(report.read_text(encoding="utf-8"))
    data["exit_code"] = run.returncode
    return data


def problems(report: dict) -> list[str]:
    found = []
    for app in report["reports"]:
        for group in app["groups"]:
            for check in group["checks"]:
                if check["result"] in ("failure", "error", "future_failure"):
                    messages = "; ".join(m["message"][:200] for m in check["messages"][:3])
                    found.append(f"{check['result']} {check['name']}: {messages}")
    return found


@pytest.mark.parametrize("tags", [(), ("--included-tags", "cloud")], ids=["all-tags", "cloud"])
def test_appinspect_finds_no_failure_error_or_future_failure(package: Path, tmp_path: Path, tags: tuple) -> None:
    report = appinspect(package, tmp_path, *tags)
    summary = report["summary"]
    assert (summary["failure"], summary["error"], summary["future_failure"]) == (0, 0, 0), problems(report)
    assert report["exit_code"] in (0, 103), f"--ci exit code {report['exit_code']}"
    assert summary["success"] > 50, "AppInspect ran almost no checks"


def test_appinspect_gate_fails_a_broken_package(tmp_path: Path, package: Path) -> None:
    """The gate must be able to fail: a compiled file and a local/ folder are AppInspect failures."""
    broken = tmp_path / package.name
    with tarfile.open(package) as src, tarfile.open(broken, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        for extra in ("local/macros.conf", "bin/rbascore.pyc"):
            info = tarfile.TarInfo(f"{APP_ID}/{extra}")
            data = b"[x]\ndefinition = search *\n"
            info.size, info.mode = len(data), 0o644
            dst.addfile(info, io.BytesIO(data))
    report = appinspect(broken, tmp_path)
    assert report["summary"]["failure"] > 0 and report["exit_code"] == 101
    assert any(re.search(r"local|pyc|compiled", p, re.I) for p in problems(report))
