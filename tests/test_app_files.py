"""The app's identity, conf hygiene, macros, lookups and permissions."""
from __future__ import annotations

import csv
import json
import re
import subprocess

import pytest

from app_files import APP_ID, REPO_ROOT, parse_conf, read_conf

CONF_FILES = sorted(p.name for p in (REPO_ROOT / "default").glob("*.conf"))


@pytest.mark.parametrize("name", CONF_FILES)
def test_conf_file_parses_without_duplicates_or_bad_continuations(name: str) -> None:
    path = REPO_ROOT / "default" / name
    conf = parse_conf(path)
    assert conf.errors == [], conf.errors
    assert "default" not in conf.section_names(), f"{name}: keys outside a stanza or a [default] stanza"
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert not re.search(r"\\\s+$", line), f"{name}:{lineno}: whitespace after a continuation"
        assert line == line.rstrip() or line.endswith("\\"), f"{name}:{lineno}: trailing whitespace"


def test_parser_reports_duplicates_it_is_trusted_for(tmp_path) -> None:
    bad = tmp_path / "probe.conf"
    bad.write_text("[a]\nx = 1\nx = 2\n[a]\ny = 1 \\ \nz = 2\n", encoding="utf-8")
    errors = [e[0] for e in parse_conf(bad).errors]
    assert errors == ["Repeat item name 'x'", "Duplicate stanza", "Continuation with trailing whitespace"]


def test_app_identity_is_consistent() -> None:
    app = read_conf("app.conf")
    assert app["id"]["name"] == app["package"]["id"] == APP_ID
    assert re.fullmatch(r"\d+\.\d+\.\d+", app["id"]["version"])
    assert app["launcher"]["version"] == app["id"]["version"]
    assert app["package"]["check_for_updates"] == "false"
    assert app["install"].get("is_configured", "false") in ("false", "0")
    assert 5 <= len(app["ui"]["label"]) <= 80
    manifest = json.loads((REPO_ROOT / "app.manifest").read_text(encoding="utf-8"))
    assert manifest["info"]["id"] == {"group": None, "name": APP_ID, "version": app["id"]["version"]}


def test_required_macros_are_as_escu_ships_them() -> None:
    macros = read_conf("macros.conf")
    assert macros["process_execution_via_wmi_filter"]["definition"] == "search *"
    assert macros["process_execution_via_wmi_filter"]["description"] == (
        "Update this macro to limit the output results to filter out false positives.")
    assert macros["security_content_ctime(1)"] == {
        "args": "field", "definition": 'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime($field$)',
        "description": macros["security_content_ctime(1)"]["description"]}
    assert macros["security_content_summariesonly"]["definition"] == (
        "summariesonly=false allow_old_summaries=true fillnull_value=null")
    assert not any(name.startswith("drop_dm_object_name") for name in macros), "belongs to Splunk_SA_CIM"
    for name, keys in macros.items():
        assert keys.get("description"), f"macro {name} has no description for the analyst"


def test_allowlist_lookup_matches_what_the_macro_asks_for() -> None:
    transform = read_conf("transforms.conf")["wmi_process_execution_allowlist"]
    with (REPO_ROOT / "lookups" / transform["filename"]).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[:1] == [["dest", "user", "process_name", "process", "reason"]]
    assert len(rows) == 1, "the allowlist ships empty: tuning is the analyst's"
    wildcard = re.findall(r"WILDCARD\((\w+)\)", transform["match_type"])
    assert wildcard == rows[0][:4]
    assert transform["case_sensitive_match"] == "false"
    definition = read_conf("macros.conf")["process_execution_via_wmi_allowlist"]["definition"]
    inputs = definition.split("lookup wmi_process_execution_allowlist ", 1)[1].split(" OUTPUT ")[0].split()
    assert inputs == rows[0][:4]
    assert "OUTPUT reason AS allowlist_reason | where isnull(allowlist_reason)" in definition


def test_metadata_shares_everything_with_the_system() -> None:
    meta = read_conf("default.meta", folder="metadata")
    assert meta[""] == {"access": "read : [ * ], write : [ admin, sc_admin ]", "export": "system"}
    for stanza in ("savedsearches", "macros", "commands", "lookups", "transforms"):
        assert meta[stanza]["export"] == "system", stanza
    assert meta["savedsearches"]["owner"] == "admin"


def test_slimignore_keeps_everything_but_the_app_out_of_the_package() -> None:
    ignored = {line.strip() for line in (REPO_ROOT / ".slimignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    app_parts = {"default", "bin", "lib", "lookups", "metadata", "README.md", "LICENSE", "app.manifest"}
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    top = {path.split("/")[0] for path in tracked.stdout.split()}
    assert top, "not a git checkout"
    assert top - app_parts <= ignored, f"not in .slimignore: {sorted(top - app_parts - ignored)}"
    assert not (REPO_ROOT / "local").exists() or "local" in ignored
