"""The runner as an installed tool: the wheel `pip install .` builds declares the command, the Python and the
dependencies, and the installed command (not the checkout's modules) runs from another folder."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from project import REPO, SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # the venv's setuptools (no build isolation: no download); the same backend pyproject.toml names
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(REPO)], check=True, capture_output=True, text=True, timeout=600)
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_declares_the_command_python_and_dependencies(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "localsearch = localsearch.cli:main" in entry
    assert "Requires-Python: >=3.11" in meta
    for dep in ("duckdb", "evtx", "rich", "PyYAML", "splunk-sdk"):
        assert f"Requires-Dist: {dep}" in meta, dep
    assert "localsearch/spl/pipeline.py" in names and "localsearch/ingest/load.py" in names
    assert not any(n.startswith(("tests/", "bin/", "default/")) for n in names)


def test_installed_command_runs_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, text=True, timeout=600)
    command = target / "bin" / "localsearch"
    assert command.is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)        # the installed package; its dependencies from this venv
    proc = subprocess.run([sys.executable, str(command), "run", "--app-dir", str(REPO), str(SAMPLES),
                           "--format", "csv"], cwd=elsewhere, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    header, *rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert {"dest", "user", "process_name", "risk_score", "risk_message"} <= set(header)
    assert len(rows) == 5
    check = subprocess.run([sys.executable, "-c", "import localsearch; print(localsearch.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, env=env, check=True)
    assert check.stdout.startswith(str(target))
