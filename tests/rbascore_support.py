"""Helpers for the rbascore tests: paths, Splunk's Pythons from pyenv, running the command as splunkd does.

bin/ and the repository are on the import path through pytest's `pythonpath` setting (pyproject.toml)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Sequence

import pytest

from localsearch.chunked import CommandOutput, run_streaming_command
from project import BIN, LIB, RBASCORE_ARGS, SHIPPED_MESSAGE  # noqa: F401  (SHIPPED_MESSAGE: for the tests)

sys.dont_write_bytecode = True  # no __pycache__ inside the app's bin/ from importing its modules here
SCRIPT = BIN / "rbascore.py"
SHIPPED_ARGS = list(RBASCORE_ARGS)     # the shipped search's `rbascore` options
SPLUNK_PYTHONS = ("3.9", "3.13")  # Splunk 9.3/9.4 ship 3.9; 10.x ships 3.9 and 3.13
FULLWIDTH_DOLLAR = "\uff04"


def needs_splunklib() -> None:
    if not (LIB / "splunklib" / "searchcommands" / "__init__.py").is_file():
        pytest.skip("splunklib is not vendored into lib/ (run `make vendor`)")


def pyenv_python(version: str) -> str | None:
    """Newest pyenv-installed CPython <version>.x, found through `pyenv root`, or None."""
    roots = []
    if shutil.which("pyenv"):
        try:
            out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=20).stdout.strip()
            if out:
                roots.append(Path(out))
        except (OSError, subprocess.SubprocessError):
            pass
    if os.environ.get("PYENV_ROOT"):
        roots.append(Path(os.environ["PYENV_ROOT"]))
    roots.append(Path.home() / ".pyenv")
    for root in roots:
        versions = root / "versions"
        if not versions.is_dir():
            continue
        found = sorted((p for p in versions.iterdir() if p.name.startswith(version + ".")
                        and p.name[len(version) + 1:].isdigit()),
                       key=lambda p: int(p.name.split(".")[2]))
        for candidate in reversed(found):
            python = candidate / "bin" / "python3"
            if python.is_file():
                return str(python)
    return None


def splunk_python(version: str) -> str:
    """The interpreter for a Splunk Python version, or skip the test with a message."""
    python = pyenv_python(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed through pyenv (needed to test Splunk's Python {version})")
    return python


def run_rbascore(python: str, args: Sequence[str], fields: Sequence[str], rows: Iterable[Sequence[object]],
                 *, chunk_size: int = 50_000) -> CommandOutput:
    needs_splunklib()
    return run_streaming_command([python, str(SCRIPT)], list(args), list(fields), rows, chunk_size=chunk_size)


def es_expand(message: str, result: dict) -> str:
    """What ES does with `$tokens$` in a result's risk_message (second expansion), as a test oracle."""
    import re

    return re.sub(r"\$([^$]+)\$", lambda m: str(result.get(m.group(1), "")), message)
