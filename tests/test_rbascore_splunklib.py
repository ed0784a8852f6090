"""bin/rbascore.py overrides private splunklib methods (the fast path needs them). These tests fail when the
vendored splunklib is not a version those overrides were checked against, or when the splunklib code they replace
or rely on differs from what was checked: re-read it, adjust the overrides, then update SPLUNKLIB_CHECKED and the
digests here."""
from __future__ import annotations

import ast
import hashlib
import json
import re
import subprocess
import sys

from localsearch.chunked import messages_of
from project import REPO
from rbascore_support import (
    BIN,
    LIB,
    SCRIPT,
    execute_chunk,
    getinfo_chunk,
    needs_splunklib,
    raw_body,
)

# sha256 (first 16 hex digits) of the source of each splunklib definition the overrides replace or rely on, in
# the checked version (a property's getter and setter hashed together).
CHECKED_CODE = {
    "search_command.py": {
        "SearchCommand._read_chunk": "b38f8ec4f5d4eab3",  # replaced (reads getinfo)
        "SearchCommand._execute_v2": "626e1843f202aaa3",  # replaced
        "SearchCommand._execute_chunk_v2": "40664985a3ae6879",  # bypassed: its _allow_empty_input check is kept
        "SearchCommand._report_unexpected_error": "47c1cdabaeabce7c",  # replaced
        "SearchCommand._process_protocol_v2": "30e62c91e8b8bf3b",  # calls the above; error paths use finish()
        "SearchCommand._execute": "1cca012fd7de1d23",
        "SearchCommand.finish": "cd9cabdf05dbe755",
        "SearchCommand.write_error": "b7352a5062edf159",
    },
    "internals.py": {
        "RecordWriter.write": "82a200d254e717d7",
        "RecordWriter.is_flushed": "c392eb43e70b352a",
        "RecordWriter.ofile": "72a63cce23fb0c4b",
        "RecordWriterV2.flush": "55fd9a4e585e1651",
        "RecordWriterV2.write_chunk": "067dcf913e185aea",
        "RecordWriterV2._write_chunk": "d0471258c35077b9",
    },
}


def rbascore_checked() -> tuple[str, ...]:
    text = SCRIPT.read_text()
    match = re.search(r"^SPLUNKLIB_CHECKED = \(([^)]*)\)", text, re.M)
    assert match, "bin/rbascore.py declares SPLUNKLIB_CHECKED"
    return tuple(ast.literal_eval("(" + match.group(1) + ")"))


def vendored_version() -> str:
    needs_splunklib()
    text = (LIB / "splunklib" / "__init__.py").read_text()
    match = re.search(r"^__version_info__ = \(([^)]*)\)", text, re.M)
    assert match
    return ".".join(str(part) for part in ast.literal_eval("(" + match.group(1) + ")"))


def digests(path) -> dict[str, str]:
    source = path.read_text()
    found: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found.setdefault(f"{node.name}.{item.name}", []).append(ast.get_source_segment(source, item) or "")
    return {name: hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16] for name, parts in found.items()}


def test_vendored_splunklib_is_a_version_the_overrides_were_checked_against():
    version = vendored_version()
    assert version in rbascore_checked(), (
        f"lib/ holds splunklib {version}; bin/rbascore.py's overrides were checked against {rbascore_checked()}")


def test_the_build_vendors_a_checked_version():
    makefile = (REPO / "Makefile").read_text()
    pinned = re.search(r"^SPLUNK_SDK\s*:=\s*(\S+)", makefile, re.M).group(1)
    requirements = re.search(r"^splunk-sdk==(\S+)", (REPO / "requirements-dev.txt").read_text(), re.M).group(1)
    assert pinned in rbascore_checked() and requirements in rbascore_checked(), (pinned, requirements)


def test_the_splunklib_code_the_overrides_replace_is_the_code_that_was_checked():
    needs_splunklib()
    for filename, expected in CHECKED_CODE.items():
        actual = digests(LIB / "splunklib" / "searchcommands" / filename)
        changed = {name: actual.get(name) for name, digest in expected.items() if actual.get(name) != digest}
        assert not changed, f"splunklib {filename} changed where bin/rbascore.py overrides it: {changed}"


ALLOW_EMPTY = """
import sys
sys.argv = [{script!r}]
sys.path.insert(0, {bin!r})
import rbascore
rbascore.dispatch(rbascore.RbaScoreCommand, sys.argv, sys.stdin, sys.stdout, None, allow_empty_input=False)
"""


def test_the_execute_override_keeps_splunklibs_allow_empty_input_check():
    needs_splunklib()
    body, _ = raw_body(["dest"], [[b"h1"]])
    stream = getinfo_chunk(["impact=70", "confidence=70", "message=x"]) + execute_chunk(body) + execute_chunk(b"", True)
    code = ALLOW_EMPTY.format(script=str(SCRIPT), bin=str(BIN))
    proc = subprocess.run([sys.executable, "-c", code], input=stream, capture_output=True, timeout=60)
    out = proc.stdout
    replies: list[bytes] = []
    while out:
        header, out = out.split(b"\n", 1)
        meta_len, body_len = map(int, header.split(b",")[1:])
        replies.append(out[:meta_len])
        out = out[meta_len + body_len:]
    errors = [text for meta in replies for level, text in messages_of(json.loads(meta)) if level == "ERROR"]
    assert len(replies) == 3 and errors == ["rbascore: ValueError: No records found to process. Set "
                                            "allow_empty_input=True in dispatch function to move forward with "
                                            "empty records."], replies
