"""Paths and faithful conf reading for tests of the app's own files.

Conf files are read with AppInspect's configuration parser (the one the package is certified with), so the
tests see continuations, comments and duplicates exactly as Splunk's tooling does.
"""
from __future__ import annotations

from pathlib import Path

from project import DATASETS, MAIN_RULE, SYSMON_RULE  # noqa: F401  (re-exported for the content tests)
from project import REPO as REPO_ROOT
from splunk_appinspect.configuration_file import ConfigurationFile
from splunk_appinspect.configuration_parser import configuration_lexer, parse

APP_ID = "DA-ESS-WmiProcessExecution"


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
