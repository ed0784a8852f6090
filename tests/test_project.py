"""The suite's own set-up (tests/project.py, conftest.py): what it reads from the conf files and where it looks
for the shared datasets."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import project
from project import DATASETS_ENV, REPO


def _datasets_seen(env_value: str) -> str:
    code = "import project; print(project.DATASETS); print(project.datasets_missing('otrf') or '')"
    env = {"PATH": "", DATASETS_ENV: env_value, "PYTHONPATH": f"{REPO / 'tests'}:{REPO}"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout


def test_datasets_folder_is_overridable_and_a_missing_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "otrf").mkdir()
    assert _datasets_seen(str(tmp_path)).splitlines() == [str(tmp_path.resolve()), ""]
    missing = tmp_path / "none"
    out = _datasets_seen(str(missing)).splitlines()
    assert out[0] == str(missing)
    assert f"shared datasets not found at {missing}" in out[1] and DATASETS_ENV in out[1]
    assert _datasets_seen("").splitlines()[0] == str(REPO.parent / "shared" / "datasets")


def test_shipped_searches_are_read_from_the_conf_file() -> None:
    conf = (REPO / "default" / "savedsearches.conf").read_text(encoding="utf-8")
    assert len(project.CORRELATION_SEARCHES) == 2
    for name in project.CORRELATION_SEARCHES:
        assert f"[{name}]" in conf
    assert "tstats" in project.SHIPPED_SEARCHES[project.MAIN_RULE]
    assert "tstats" not in project.SHIPPED_SEARCHES[project.SYSMON_RULE]
    assert project.RBASCORE_OPTIONS["impact"] == "70" and project.SHIPPED_MESSAGE == project.RISK_MESSAGE


def test_rendered_message_fills_tokens_and_leaves_missing_ones_empty() -> None:
    got = project.rendered_message({"dest": "h1", "process_name": ["a.exe", "b.exe"]}, "x $dest$ $process_name$ "
                                                                                      "$user$.")
    assert got == "x h1 a.exe, b.exe ."


def test_fixtures(repo: Path, samples: Path, shipped_searches: dict, main_rule: str, sysmon_rule: str,
                  risk_message: str) -> None:
    assert (repo / "default" / "app.conf").is_file() and samples == repo / "samples"
    assert set(shipped_searches) == {main_rule, sysmon_rule}
    assert "$dest$" in risk_message
