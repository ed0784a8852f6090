"""Paths and faithful conf reading for tests of the app's own files.

Conf files are read with AppInspect's configuration parser (the one the package is certified with), so the
tests see continuations, comments and duplicates exactly as Splunk's tooling does.
"""
from __future__ import annotations

from pathlib import Path

from splunk_appinspect.configuration_file import ConfigurationFile
from splunk_appinspect.configuration_parser import configuration_lexer, parse

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_ID = "DA-ESS-WmiProcessExecution"
DATASETS = REPO_ROOT.parent / "shared" / "datasets"
MAIN_RULE = "Endpoint - Process Execution via WMI - Rule"
SYSMON_RULE = "Endpoint - Process Execution via WMI from Raw Sysmon Events - Rule"


def parse_conf(path: Path) -> ConfigurationFile:
    """Parse one .conf file; the result's `errors` lists duplicates and bad continuations."""
    conf = ConfigurationFile(relative_path=Path(path.name))
    with path.open("rb") as handle:
        return parse(handle, conf, configuration_lexer)


def read_conf(name: str, folder: str = "default") -> dict[str, dict[str, str]]:
    """`default/<name>` as {stanza: {key: value}}; fails on any parser error."""
    conf = parse_conf(REPO_ROOT / folder / name)
    assert not conf.errors, f"{folder}/{name}: {conf.errors}"
    return {s.name: {o.name: o.value for o in s.settings()} for s in conf.sections()}
