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
    assert app["id"]["version"] == "1.1.0"
    assert app["launcher"]["version"] == app["id"]["version"]
    assert app["package"]["check_for_updates"] == "false"
    assert app["install"].get("is_configured", "false") in ("false", "0")
    assert 5 <= len(app["ui"]["label"]) <= 80
    manifest = json.loads((REPO_ROOT / "app.manifest").read_text(encoding="utf-8"))
    assert manifest["info"]["id"] == {"group": None, "name": APP_ID, "version": app["id"]["version"]}


def test_required_macros_are_as_escu_ships_them() -> None:
    macros = read_conf("macros.conf")
    for name in ("process_execution_via_wmi_filter", "process_execution_via_wmi_from_raw_sysmon_events_filter"):
        assert macros[name]["definition"] == "search *"
        assert macros[name]["description"] == (
            "Update this macro to limit the output results to filter out false positives.")
    assert macros["security_content_ctime(1)"] == {
        "args": "field", "definition": 'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime($field$)',
        "description": macros["security_content_ctime(1)"]["description"]}
    assert macros["security_content_summariesonly"]["definition"] == (
        "summariesonly=false allow_old_summaries=true fillnull_value=null")
    assert not any(name.startswith("drop_dm_object_name") for name in macros), "belongs to Splunk_SA_CIM"
    for name, keys in macros.items():
        assert keys.get("description"), f"macro {name} has no description for the analyst"


ALLOWLIST_COLUMNS = ["dest", "user", "process_name", "process", "reason"]


def lookup_inputs(definition: str, lookup: str) -> list[str]:
    return definition.split(f"lookup {lookup} ", 1)[1].split(" OUTPUT ")[0].split()


def test_known_benign_lookup_is_app_owned_with_public_sources() -> None:
    transform = read_conf("transforms.conf")["wmi_process_execution_known_benign"]
    with (REPO_ROOT / "lookups" / transform["filename"]).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["process_name"].lower() for r in rows} >= {"werfault.exe", "wmiprvse.exe", "dismhost.exe"}
    for row in rows:
        assert row["reason"] and re.search(r"SigmaHQ|ESCU", row["source"]), row
    assert re.findall(r"WILDCARD\((\w+)\)", transform["match_type"]) == ["process_name", "process"]
    assert transform["case_sensitive_match"] == "false"
    definition = read_conf("macros.conf")["process_execution_via_wmi_known_benign"]["definition"]
    assert lookup_inputs(definition, "wmi_process_execution_known_benign") == ["process_name", "process"]


def test_analyst_allowlist_is_defined_but_never_shipped() -> None:
    """An upgrade cannot replace a file the package does not contain (README "Tuning")."""
    transform = read_conf("transforms.conf")["wmi_process_execution_allowlist"]
    assert not (REPO_ROOT / "lookups" / transform["filename"]).exists()
    wildcard = re.findall(r"WILDCARD\((\w+)\)", transform["match_type"])
    assert wildcard == ALLOWLIST_COLUMNS[:4]
    assert transform["case_sensitive_match"] == "false"
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert ",".join(ALLOWLIST_COLUMNS) in readme, "README gives the allowlist's header row"


def test_allowlist_macro_applies_both_lists() -> None:
    definition = read_conf("macros.conf")["process_execution_via_wmi_allowlist"]["definition"]
    assert lookup_inputs(definition, "wmi_process_execution_known_benign") == ["process_name", "process"]
    assert lookup_inputs(definition, "wmi_process_execution_allowlist") == ALLOWLIST_COLUMNS[:4]
    assert "where isnull(known_benign_reason) AND isnull(allowlist_reason)" in definition
    assert definition.endswith("| fields - known_benign_reason allowlist_reason")


def test_both_lists_stay_opt_in() -> None:
    macros = read_conf("macros.conf")
    for name in ("process_execution_via_wmi_filter", "process_execution_via_wmi_from_raw_sysmon_events_filter"):
        assert macros[name]["definition"] == "search *", name


def test_metadata_shares_everything_with_the_system() -> None:
    meta = read_conf("default.meta", folder="metadata")
    # ess_admin is ES's own admin role, sc_admin Splunk Cloud's: both tune content in ES
    assert meta[""] == {"access": "read : [ * ], write : [ admin, sc_admin, ess_admin ]", "export": "system"}
    for stanza in ("savedsearches", "macros", "commands", "lookups", "transforms", "analyticstories"):
        assert meta[stanza]["export"] == "system", stanza
    # app-level ownership: no user account whose removal would orphan the scheduled searches
    assert meta["savedsearches"]["owner"] == "nobody"
    assert not any("owner" in keys for stanza, keys in meta.items() if stanza != "savedsearches")


def test_changelog_has_the_release() -> None:
    version = read_conf("app.conf")["id"]["version"]
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {version}\n" in changelog
    manifest = json.loads((REPO_ROOT / "app.manifest").read_text(encoding="utf-8"))
    assert manifest["info"]["releaseNotes"]["text"] == "CHANGELOG.md"


def test_slimignore_keeps_everything_but_the_app_out_of_the_package() -> None:
    ignored = {line.strip() for line in (REPO_ROOT / ".slimignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    app_parts = {"default", "bin", "lib", "lookups", "metadata", "README.md", "CHANGELOG.md", "LICENSE", "app.manifest"}
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    top = {path.split("/")[0] for path in tracked.stdout.split()}
    assert top, "not a git checkout"
    assert top - app_parts <= ignored, f"not in .slimignore: {sorted(top - app_parts - ignored)}"
    assert not (REPO_ROOT / "local").exists() or "local" in ignored
