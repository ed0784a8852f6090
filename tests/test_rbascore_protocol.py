"""rbascore run as splunkd runs it: a subprocess with no argv, getinfo with a full searchinfo, lockstep execute
chunks with __mv_ columns, under this venv's Python and Splunk's Pythons 3.9 and 3.13 (from pyenv)."""
from __future__ import annotations

import re
import sys
import tempfile

import pytest

from project import rendered_message
from rbascore_support import (
    DOLLAR_STANDIN,
    SCRIPT,
    SHIPPED_ARGS,
    needs_splunklib,
    run_rbascore,
    splunk_python,
)

from localsearch.chunked import (
    ChunkedProcess,
    CommandFailed,
    decode_body,
    encode_rows,
    getinfo_metadata,
    messages_of,
)

FIELDS = ["count", "firstTime", "lastTime", "dest", "user", "parent_process", "parent_process_name",
          "process_name", "process", "process_id", "parent_process_id", "note"]
BIG = "A" * 600_000 + "\u00e9\u4e2d" * 200_000  # > 1 MB of UTF-8


# Splunk's own Pythons (from pyenv) are the slow part: `make unit` runs the venv's only
@pytest.fixture(params=["venv", pytest.param("3.9", marks=pytest.mark.slow), pytest.param("3.13", marks=pytest.mark.slow)])
def python(request) -> str:
    needs_splunklib()
    return sys.executable if request.param == "venv" else splunk_python(request.param)


def record(i: int, **overrides) -> list:
    values = {
        "count": str(i + 1), "firstTime": "2024-03-01T10:00:00", "lastTime": "2024-03-01T10:05:00",
        "dest": f"wks-{i:02d}.corp", "user": f"CORP\\user{i}",
        "parent_process": "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
        "parent_process_name": "WmiPrvSE.exe", "process_name": "cmd.exe",
        "process": f"cmd.exe /c whoami #{i}", "process_id": str(4000 + i), "parent_process_id": "1234",
        "note": None,
    }
    values.update(overrides)
    return [values[f] for f in FIELDS]


def varied_rows() -> list[list]:
    return [
        # first record lacks fields (user, parent_process_name, note) that later records have
        record(0, user=None, parent_process_name=None),
        record(1, user=["CORP\\alice", "CORP\\bob"], note="multi\nline"),
        record(2, process_name="p\u00f6wershell.exe \u2713", note='quotes "inside", and, commas'),
        record(3, process='cmd.exe /c echo $dest$ $user$ > "x,y"', dest="$parent_process_name$"),
        record(4, note=BIG),
        record(5, process_name=["a.exe", "b$.exe", "c.exe"], note="\r\ncarriage\rreturns\n"),
        record(6, note="\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \U0001f600 emoji"),
        record(7),
    ]


def expected_message(row: dict) -> str:
    def show(value):
        if value is None:
            return ""
        if isinstance(value, list):
            value = ", ".join(v for v in value if v)
        return value.replace("$", DOLLAR_STANDIN)

    return rendered_message({f: show(row.get(f)) for f in ("parent_process_name", "process_name", "dest", "user")})


@pytest.mark.parametrize("chunk_size", [3, 50_000])
def test_every_record_comes_out_in_order_unchanged_with_score_and_message(python, chunk_size):
    rows = varied_rows()
    out = run_rbascore(python, SHIPPED_ARGS, FIELDS, rows, chunk_size=chunk_size)
    # "stateful" = streaming on the search head only: the app is not installed on indexers.
    assert out.getinfo.get("type") == "stateful"
    assert out.records_in == out.records_out == len(rows)
    assert out.fields[:len(FIELDS)] == FIELDS
    assert set(out.fields) == set(FIELDS) | {"risk_score", "risk_message"}
    position = {name: i for i, name in enumerate(out.fields)}
    for sent, got in zip(rows, out.rows):
        assert [got[position[f]] for f in FIELDS] == sent
        assert got[position["risk_score"]] == "49"
        assert got[position["risk_message"]] == expected_message(dict(zip(FIELDS, sent)))
    assert "$" not in "".join(r[position["risk_message"]] for r in out.rows)
    warnings = [text for level, text in out.messages if level == "WARN"]
    assert len(warnings) == 1, out.messages
    assert "parent_process_name (1 of 8 records)" in warnings[0]
    assert "process_name" not in warnings[0].replace("parent_process_name", "")
    assert not [m for m in out.messages if m[0] in ("ERROR", "FATAL")]


def test_no_warning_when_every_message_field_has_a_value(python):
    out = run_rbascore(python, SHIPPED_ARGS, FIELDS, [record(i) for i in range(5)])
    assert out.messages == []
    assert [r[-2] for r in out.rows] == ["49"] * 5


def test_custom_output_field_names_and_fractional_score(python):
    args = ["impact=33", "confidence=70", "message=on $dest$", "score_field=wmi_score", "message_field=wmi_msg"]
    out = run_rbascore(python, args, ["dest"], [["h1"], ["h2"]])
    assert out.fields == ["dest", "wmi_score", "wmi_msg"]
    assert out.rows == [["h1", "23.1", "on h1"], ["h2", "23.1", "on h2"]]


def _lockstep(python: str, args: list[str]):
    dispatch = tempfile.mkdtemp(prefix="rbascore_test_")
    proc = ChunkedProcess([python, str(SCRIPT)])
    reply = proc.request(getinfo_metadata(args, app="DA-ESS-WmiProcessExecution", dispatch_dir=dispatch,
                                          search="| rbascore", command="rbascore"))
    assert reply is not None, proc.stderr
    return proc, reply


def test_raw_chunks_empty_non_final_header_only_final_and_changing_headers(python):
    proc, (info, body) = _lockstep(python, SHIPPED_ARGS)
    with proc:
        assert info["type"] == "stateful" and body == b""
        # empty non-final chunk
        meta, body = proc.request({"action": "execute", "finished": False}, b"")
        assert meta.get("finished") is False and body == b""
        # a chunk without `user`, then one with it: fields only later records have survive
        first = encode_rows(["dest", "process_name"], [["h1", "a.exe"]])
        meta, body = proc.request({"action": "execute", "finished": False}, first)
        fields, rows = decode_body(body)
        assert fields == ["dest", "process_name", "risk_score", "risk_message"]
        assert rows[0][:3] == ["h1", "a.exe", "49"]
        second_rows = [["h2", "b.exe", ["u1", "u2"]], ["h3", "c.exe", "u3"]]
        second = encode_rows(["dest", "process_name", "user"], second_rows)
        meta, body = proc.request({"action": "execute", "finished": False}, second)
        fields, rows = decode_body(body)
        assert fields == ["dest", "process_name", "user", "risk_score", "risk_message"]
        assert [r[:3] for r in rows] == second_rows
        # the input's record text is passed through byte for byte
        rest = body.split(b"\r\n", 1)[1]
        for row in second_rows:
            raw = encode_rows(["dest", "process_name", "user"], [row]).split(b"\n", 1)[1].rstrip(b"\n")
            assert rest.startswith(raw + b",49,"), (raw, rest[:200])
            rest = rest[rest.index(b",,\r\n", len(raw)) + 4:]
        assert rest == b""
        # header-only final chunk
        meta, body = proc.request({"action": "execute", "finished": True}, encode_rows(["dest"], []))
        assert meta.get("finished") is True and body == b""
        warnings = [t for level, t in messages_of(meta) if level == "WARN"]
        assert len(warnings) == 1 and "parent_process_name (3 of 3 records)" in warnings[0]
        assert proc.close() == 0


def test_unreadable_chunk_is_one_clean_error(python):
    proc, _ = _lockstep(python, SHIPPED_ARGS)
    with proc:
        meta, body = proc.request({"action": "execute", "finished": False}, b"dest,user\nh1,u1\nh2\n")
        errors = [t for level, t in messages_of(meta) if level == "ERROR"]
        assert errors == ["rbascore: execute chunk record 2 has 1 values for 2 columns"]
        assert body == b""
        assert proc.close() != 0


ERROR_CASES = {
    "non-numeric impact": (["impact=high", "confidence=70", "message=x"], r"impact=high"),
    "impact over 100": (["impact=101", "confidence=70", "message=x"], r"impact=101"),
    "negative confidence": (["impact=70", "confidence=-5", "message=x"], r"confidence=-5"),
    "missing confidence": (["impact=70", "message=x"], r'"confidence" is required'),
    "missing message": (["impact=70", "confidence=70"], r'"message" is required'),
    "no options": ([], r"missing: confidence, impact, message"),
    "unknown option": (SHIPPED_ARGS + ["risk_object=dest"], r"Unrecognized option: risk_object=dest"),
    "empty template": (["impact=70", "confidence=70", "message="], r"message must not be empty"),
    "unbalanced $": (["impact=70", "confidence=70", "message=host $dest"], r"unbalanced \$ at position 6"),
    "braces in a bad value": (["impact={0}", "confidence=70", "message=x"], r"impact=\{0\}"),
    "reserved output field": (SHIPPED_ARGS + ["message_field=rule_title"], r"message_field=rule_title"),
    "same output fields": (SHIPPED_ARGS + ["score_field=x", "message_field=x"], r"must differ"),
    "positional argument": (SHIPPED_ARGS + ["dest"], r"unexpected: dest"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_options_give_one_clean_error_and_no_results(python, case):
    args, pattern = ERROR_CASES[case]
    with pytest.raises(CommandFailed) as failure:
        run_rbascore(python, args, ["dest"], [["h1"], ["h2"]])
    errors = [text for level, text in failure.value.messages if level in ("ERROR", "FATAL")]
    assert len(errors) == 1, failure.value.messages
    assert re.search(pattern, errors[0]), errors[0]
    assert "Traceback" not in errors[0] and ".py" not in errors[0] and 'File "' not in errors[0]
    assert str(failure.value) == errors[0]
    assert failure.value.returncode not in (0, None)


def test_commands_conf_declares_a_chunked_python_command():
    needs_splunklib()
    conf = (SCRIPT.parent.parent / "default" / "commands.conf").read_text()
    stanza = conf.split("[rbascore]", 1)[1].split("\n[", 1)[0]
    keys = dict(line.split(" = ", 1) for line in stanza.strip().splitlines() if " = " in line)
    assert keys == {"filename": "rbascore.py", "chunked": "true", "python.version": "python3",
                    "python.required": "3.9,3.13"}


def test_searchbnf_has_the_help_keys_and_clean_continuations():
    text = (SCRIPT.parent.parent / "default" / "searchbnf.conf").read_text()
    assert "[rbascore-command]" in text
    for key in ("syntax", "shortdesc", "description", "usage", "example1", "comment1"):
        assert re.search(rf"^{key} = \S", text, re.M), key
    assert re.search(r"^usage = public$", text, re.M)
    assert not re.search(r"\\[ \t]+$", text, re.M), "whitespace after a line-continuation backslash"
