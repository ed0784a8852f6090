"""The local runner runs and reads only the app's own files, as Splunk does.

Splunk references:
- commands.conf.spec: "If you add your custom search script to the $SPLUNK_HOME/etc/apps/MY_APP/bin/ path, put a
  custom commands.conf file in the $SPLUNK_HOME/etc/apps/MY_APP/default/ directory"; `filename` is the "Name of
  script file for command". A custom command runs from the app's bin/, nothing else.
- transforms.conf.spec, `filename`: "Name of static lookup file. [...] Only file names are supported. Paths are
  explicitly not supported. [...] The Splunk software then looks for this filename in
  $SPLUNK_HOME/etc/system/lookups/ or $SPLUNK_HOME/etc/<app_name>/lookups/."
A tuning change under review in CI (a `--local-dir` with conf files) must not be able to run code or read files
outside the app: such settings are refused with an error naming the setting and the conf file, never echoing
the content of the file they point at.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from localsearch.conf import AppConfs
from localsearch.engine import SearchEngine
from localsearch.spl.errors import SplError

REPO = Path(__file__).resolve().parents[1]
SECRET = "SECRET-FIRST-LINE,root:x:0:0"
EVENT_COLS = {"_time": '"_time"', "name": '"name"', "id": '"id"'}


def make_engine(app: Path, local: Path | None = None) -> SearchEngine:
    con = duckdb.connect()
    con.execute('CREATE TABLE events (id VARCHAR, "_time" DOUBLE, name VARCHAR)')
    con.executemany("INSERT INTO events VALUES (?, ?, ?)", [["1", 100.0, "cmd.exe"], ["2", 200.0, "SECRET"]])
    con.execute('CREATE TABLE processes ("_time" DOUBLE, dest VARCHAR)')
    return SearchEngine(con, {"events": EVENT_COLS, "processes": {"_time": '"_time"', "dest": '"dest"'}},
                        AppConfs(app, local or app / "local"))


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A copy of the app (conf files, bin/, lookups/) and, beside it, files an attacker would point at."""
    app = tmp_path / "app"
    for folder in ("default", "bin", "lookups"):
        shutil.copytree(REPO / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
    if (REPO / "lib").is_dir():
        (app / "lib").symlink_to(REPO / "lib")
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "ran"
    (outside / "x.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (outside / "x.csv").write_text(SECRET + "\nname,reason\ncmd.exe,LEAKED\n")
    (outside / "name.csv").write_text("name,reason\ncmd.exe,LEAKED\n")
    return app


def local_dir(tmp_path: Path, **confs: str) -> Path:
    folder = tmp_path / "tuning"
    folder.mkdir(exist_ok=True)
    for name, text in confs.items():
        (folder / f"{name}.conf").write_text(text)
    return folder


def refused(engine: SearchEngine, search: str) -> str:
    with pytest.raises(SplError) as error:
        engine.run(search)
    text = str(error.value)
    assert "SECRET" not in text and "LEAKED" not in text and "root:x" not in text, text
    return text


RBASCORE = '* | rbascore impact=70 confidence=70 message="x $name$"'


# ---------------------------------------------------------------------------------------- commands.conf


@pytest.mark.parametrize("filename", ["../../outside/x.py", "../outside/x.py", "{outside}/x.py", "sub/../x.py",
                                      "..", "C:\\outside\\x.py"])
def test_a_local_commands_conf_cannot_repoint_rbascore_outside_bin(tmp_path: Path, app: Path, filename: str) -> None:
    filename = filename.format(outside=tmp_path / "outside")
    local = local_dir(tmp_path, commands=f"[rbascore]\nfilename = {filename}\nchunked = true\n")
    text = refused(make_engine(app, local), RBASCORE)
    assert "command rbascore: filename" in text and "commands.conf:1" in text and "bin/" in text, text
    assert not (tmp_path / "ran").exists(), "the script outside bin/ was run"


def test_a_new_command_in_default_commands_conf_cannot_run_a_script_outside_bin(tmp_path: Path, app: Path) -> None:
    with open(app / "default" / "commands.conf", "a") as conf:
        conf.write(f"\n[evil]\nfilename = {tmp_path / 'outside' / 'x.py'}\nchunked = true\n")
    text = refused(make_engine(app), "* | evil")
    assert "command evil: filename" in text and "is a path" in text
    assert not (tmp_path / "ran").exists()


def test_a_script_in_bin_that_links_outside_is_refused(tmp_path: Path, app: Path) -> None:
    (app / "bin" / "linked.py").symlink_to(tmp_path / "outside" / "x.py")
    local = local_dir(tmp_path, commands="[rbascore]\nfilename = linked.py\nchunked = true\n")
    text = refused(make_engine(app, local), RBASCORE)
    assert "is a link that leads out of the app's bin/" in text
    assert str(tmp_path / "outside") not in text  # the link's target is not shown
    assert not (tmp_path / "ran").exists()


def test_the_shipped_command_still_runs_from_bin(app: Path) -> None:
    if not (REPO / "lib" / "splunklib").is_dir():
        pytest.skip("splunklib is not vendored into lib/ (run `make vendor`)")
    result = make_engine(app).run(RBASCORE)
    assert [row[result.fields.index("risk_score")] for row in result.rows] == ["49", "49"]


def test_a_tuning_change_cannot_run_code_through_the_cli(tmp_path: Path, app: Path) -> None:
    local = local_dir(tmp_path, commands="[rbascore]\nfilename = ../../outside/x.py\nchunked = true\n")
    proc = subprocess.run([sys.executable, "-m", "localsearch", "run", str(REPO / "samples"), "--app-dir", str(app),
                           "--local-dir", str(local)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "filename '../../outside/x.py'" in proc.stderr and "bin/" in proc.stderr
    assert not (tmp_path / "ran").exists()


# ---------------------------------------------------------------------------------------- lookups


@pytest.mark.parametrize("filename", ["../../outside/x.csv", "../outside/x.csv", "{outside}/x.csv",
                                      "sub/x.csv", "..\\outside\\x.csv"])
def test_a_transforms_filename_with_a_path_is_refused_without_reading_it(tmp_path: Path, app: Path,
                                                                         filename: str) -> None:
    filename = filename.format(outside=tmp_path / "outside")
    local = local_dir(tmp_path, transforms=f"[allow]\nfilename = {filename}\n")
    text = refused(make_engine(app, local), "* | lookup allow name OUTPUT reason")
    assert "lookup allow: lookup file" in text and "transforms.conf:1" in text and "lookups/" in text, text


def test_etc_passwd_through_transforms_is_refused_and_not_echoed(tmp_path: Path, app: Path) -> None:
    local = local_dir(tmp_path, transforms="[allow]\nfilename = ../../etc/passwd\n")
    text = refused(make_engine(app, local), "* | lookup allow name OUTPUT reason")
    assert "'../../etc/passwd'" in text and "is a path" in text


def test_a_lookup_file_that_links_outside_is_refused(tmp_path: Path, app: Path) -> None:
    (app / "lookups" / "linked.csv").symlink_to(tmp_path / "outside" / "name.csv")
    local = local_dir(tmp_path, transforms="[allow]\nfilename = linked.csv\n")
    text = refused(make_engine(app, local), "* | lookup allow name OUTPUT reason")
    assert "is a link that leads out of the app's lookups/" in text
    text = refused(make_engine(app), "* | lookup linked.csv name OUTPUT reason")
    assert "is a link that leads out of the app's lookups/" in text


@pytest.mark.parametrize("name", ["{outside}/name.csv", "../outside/name.csv", "../../outside/name.csv"])
def test_an_inline_lookup_path_is_refused(tmp_path: Path, app: Path, name: str) -> None:
    name = name.format(outside=tmp_path / "outside")
    text = refused(make_engine(app), f"* | lookup {name} name OUTPUT reason")
    assert "is a path, not a file name in the app's lookups/" in text and "in the search" in text, text


def test_a_lookup_file_in_lookups_still_works(tmp_path: Path, app: Path) -> None:
    (app / "lookups" / "mine.csv").write_text("name,reason\ncmd.exe,known\n")
    result = make_engine(app).run("* | lookup mine.csv name OUTPUT reason | table id reason")
    assert sorted(result.rows) == [["1", "known"], ["2", None]]
