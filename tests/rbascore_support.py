"""Helpers for the rbascore tests: paths, Splunk's Pythons from pyenv, running the command as splunkd does.

bin/ and the repository are on the import path through pytest's `pythonpath` setting (pyproject.toml)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import pytest

from localsearch.chunked import CommandOutput, getinfo_metadata, messages_of, run_streaming_command
from project import BIN, LIB, RBASCORE_ARGS, SHIPPED_MESSAGE  # noqa: F401  (SHIPPED_MESSAGE: for the tests)

sys.dont_write_bytecode = True  # no __pycache__ inside the app's bin/ from importing its modules here
SCRIPT = BIN / "rbascore.py"
SHIPPED_ARGS = list(RBASCORE_ARGS)     # the shipped search's `rbascore` options
SPLUNK_PYTHONS = ("3.9", "3.13")  # Splunk 9.3/9.4 ship 3.9; 10.x ships 3.9 and 3.13
DOLLAR_STANDIN = "\U0001f4b2"  # HEAVY DOLLAR SIGN, what a `$` from event data becomes in a message


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


# ------------------------------------------------------------------------------------------- raw streams
# For input splunkd's encoder cannot make (bytes that are not UTF-8, NUL, broken framing): chunks built as bytes,
# the whole stream written at once, every reply read back.

def chunk(metadata: dict | bytes, body: bytes = b"") -> bytes:
    meta = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode("utf-8")
    return b"chunked 1.0,%d,%d\n" % (len(meta), len(body)) + meta + body


def getinfo_chunk(args: Sequence[str], *, drop: Sequence[str] = ()) -> bytes:
    meta = getinfo_metadata(list(args), app="DA-ESS-WmiProcessExecution", dispatch_dir=tempfile.gettempdir(),
                            search="| rbascore", command="rbascore")
    for key in drop:
        del meta["searchinfo"][key]
    return chunk(meta)


def execute_chunk(body: bytes, finished: object = False) -> bytes:
    return chunk({"action": "execute", "finished": finished}, body)


def csv_cell(cell: bytes) -> bytes:
    if b'"' in cell:
        return b'"' + cell.replace(b'"', b'""') + b'"'
    if b"," in cell or b"\n" in cell or b"\r" in cell:
        return b'"' + cell + b'"'
    return cell


def raw_body(fields: Sequence[str], rows: Iterable[Sequence[bytes]]) -> tuple[bytes, list[bytes]]:
    """(body, [each record's exact bytes without its line end]) with empty __mv_ twins, "\\n"-terminated."""
    header = b",".join(csv_cell(f.encode("utf-8")) for f in list(fields) + ["__mv_" + f for f in fields])
    records = [b",".join([csv_cell(c) for c in row] + [b""] * len(fields)) for row in rows]
    return b"\n".join([header] + records) + b"\n", records


@dataclass
class RawRun:
    returncode: int
    replies: list  # (metadata dict, body bytes)
    stderr: str

    def messages(self, *levels: str) -> list[str]:
        return [text for meta, _ in self.replies for level, text in messages_of(meta) if level in levels]


def run_raw(python: str, stream: bytes, timeout: float = 120) -> RawRun:
    needs_splunklib()
    proc = subprocess.run([python, str(SCRIPT)], input=stream, capture_output=True, timeout=timeout,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    out, replies = proc.stdout, []
    while out:
        match = re.match(rb"chunked 1\.0,(\d+),(\d+)\n", out)
        assert match, f"reply is not a chunk: {out[:200]!r}"
        meta_len, body_len = int(match.group(1)), int(match.group(2))
        start = match.end()
        assert len(out) >= start + meta_len + body_len, f"reply chunk cut short: {out[:200]!r}"
        replies.append((json.loads(out[start:start + meta_len]), out[start + meta_len:start + meta_len + body_len]))
        out = out[start + meta_len + body_len:]
    return RawRun(proc.returncode, replies, proc.stderr.decode("utf-8", "replace"))


def reply_records(body: bytes) -> tuple[bytes, list[bytes]]:
    """A reply body as (header line, [record lines]) split on the command's "\\r\\n" line ends (the test data
    holds no CR/LF inside cells)."""
    lines = body.split(b"\r\n")
    assert lines[-1] == b"", body[-50:]
    return lines[0], lines[1:-1]


def assert_clean_error(text: str) -> None:
    """An error as an analyst should see it: short, no traceback, no source path."""
    assert len(text) <= 1200, len(text)
    assert "Traceback" not in text and 'File "' not in text and ".py" not in text, text
