"""The repository under test, for the tests and the benchmarks: where it and the event data are, what the app
ships (its correlation searches, the risk message, the `rbascore` arguments) read from the conf files so no test
repeats them, and a way to run the `localsearch` command.

The fixtures in `conftest.py` hand these to tests; module-level code (parametrize lists, skip marks) imports
them from here.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import pytest

from localsearch.conf import ConfFile, read_conf

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / "bin"
LIB = REPO / "lib"
SAMPLES = REPO / "samples"

# The shared, read-only attack data: `../shared/datasets` beside the repository unless this variable names
# another folder. Never copied into the repository.
DATASETS_ENV = "LOCALSEARCH_DATASETS"


def datasets_dir() -> Path:
    override = os.environ.get(DATASETS_ENV, "").strip()
    return Path(override).expanduser().resolve() if override else REPO.parent / "shared" / "datasets"


DATASETS = datasets_dir()


def datasets_missing(*subfolders: str) -> Optional[str]:
    """Why the tests on the shared datasets (or on these subfolders of it) cannot run, or None."""
    for sub in ("", *subfolders):
        path = DATASETS / sub if sub else DATASETS
        if not path.exists():
            return (f"shared datasets not found at {path} (read-only event data kept outside the repository; "
                    f"set {DATASETS_ENV} to its folder)")
    return None


def needs_datasets(*subfolders: str) -> pytest.MarkDecorator:
    """A skip mark for tests (or a module's `pytestmark`) that read the shared datasets."""
    reason = datasets_missing(*subfolders)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


# Property tests draw `examples(n)` generated cases: n in `make test`; a tenth (at least 10) when
# PROPERTY_EXAMPLES=unit, which `make unit` sets to stay fast.
PROPERTY_EXAMPLES_ENV = "PROPERTY_EXAMPLES"


def examples(full: int) -> int:
    """How many examples a property test written for `full` examples draws in this run."""
    return max(10, full // 10) if os.environ.get(PROPERTY_EXAMPLES_ENV, "").strip() == "unit" else full


# What the app ships, from default/savedsearches.conf (read with the runner's conf parser, which
# test_conf_parser checks against AppInspect's).
SAVEDSEARCHES: ConfFile = read_conf(REPO / "default" / "savedsearches.conf")


def _setting(stanza: str, key: str) -> str:
    value = SAVEDSEARCHES.get(stanza, key)
    if value is None:
        raise LookupError(f"default/savedsearches.conf [{stanza}] has no {key}")
    return value


# ES correlation searches, in file order.
CORRELATION_SEARCHES: List[str] = [name for name in SAVEDSEARCHES.stanzas
                                   if SAVEDSEARCHES.get(name, "action.correlationsearch.enabled") == "1"]
SHIPPED_SEARCHES: Dict[str, str] = {name: _setting(name, "search") for name in CORRELATION_SEARCHES}
# The tstats rule over the Endpoint data model (the runner's default) and the raw Sysmon variant.
MAIN_RULE = next(n for n, s in SHIPPED_SEARCHES.items() if s.lstrip().startswith("| tstats"))
SYSMON_RULE = next(n for n in CORRELATION_SEARCHES if n != MAIN_RULE)

# The risk message ES shows (`action.risk.param._risk_message`) and the `rbascore` stage writing it (the stage
# before the filter macro: its arguments run up to the next pipe outside double quotes).
RISK_MESSAGE = _setting(MAIN_RULE, "action.risk.param._risk_message")
_RBASCORE = re.search(r'\|\s*rbascore\s+((?:[^|"]|"(?:[^"\\]|\\.)*")*)', SHIPPED_SEARCHES[MAIN_RULE], re.S)
if _RBASCORE is None:
    raise LookupError(f"[{MAIN_RULE}] has no `| rbascore ...` stage")
RBASCORE_ARGS: List[str] = shlex.split(_RBASCORE.group(1))     # ["impact=70", "confidence=70", "message=..."]
RBASCORE_OPTIONS: Dict[str, str] = dict(arg.split("=", 1) for arg in RBASCORE_ARGS)
SHIPPED_MESSAGE = RBASCORE_OPTIONS["message"]       # the template rbascore renders (same text as RISK_MESSAGE)


def rendered_message(result: Mapping[str, object], template: str = SHIPPED_MESSAGE) -> str:
    """The template with each `$field$` replaced by the result's value (empty when missing): the test oracle
    for `risk_message` on results whose values hold no `$`."""
    def value(m: "re.Match[str]") -> str:
        v = result.get(m.group(1))
        if isinstance(v, list):
            return ", ".join(str(x) for x in v)
        return "" if v is None else str(v)
    return re.sub(r"\$([^$]+)\$", value, template)


def localsearch(*args: str, cwd: Path = REPO, env: Optional[Mapping[str, str]] = None,
                timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m localsearch ARGS` in a subprocess, as a user runs it (text output captured)."""
    environment = dict(os.environ if env is None else env)
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), environment.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "localsearch", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environment)


_WS = "\t\n\v\f\r "


def addon_4688_process(path: str, cmd: str) -> str:
    """Security 4688 `process` as the Splunk Add-on for Microsoft Windows builds it (props.conf
    [source::XmlWinEventLog:Security] EVAL-process and transforms.conf [process_command_line_process_and_arguments],
    8.1.2: PMJeffery/splunk4windows f64aacd160f970b887207431fd52b644abee4aa0 and 8.4.0:
    JohnnyMirza/confluent_splunk_demo d3a9bc0dd117cc191dad5b3bf3d3cb9e2c282ffd, Splunk_TA_windows/default/):
    the command line when its first word holds a backslash, else the path (quoted when it holds a space),
    a space and the arguments; the path without a command line. Written apart from the runner's SQL, for the
    tests to compare with. Empty arguments and multi-line command lines stay as they are (README)."""
    if not cmd.strip(_WS):
        return path
    if cmd.startswith('"') and '"' in cmd[1:] and cmd.index('"', 1) > 1:
        end = cmd.index('"', 1) + 1
    else:
        start = len(cmd) - len(cmd.lstrip(_WS))
        end = start
        while end < len(cmd) and cmd[end] not in _WS:
            end += 1
        cmd_word = cmd[start:end]
        if "\\" in cmd_word:
            return cmd
    if "\\" in cmd[:end]:
        return cmd
    args = cmd[end:].lstrip(_WS).split("\n", 1)[0]
    if not args or "\n" in cmd or "\r" in cmd:
        return cmd
    return (f'"{path}"' if any(ch in path for ch in _WS) else path) + " " + args
