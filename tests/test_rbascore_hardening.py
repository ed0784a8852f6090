"""rbascore against hostile and odd input, run as splunkd runs it (a subprocess speaking protocol v2 with the
vendored splunklib) under this venv's Python and Splunk's Pythons 3.9 and 3.13 (from pyenv): NUL bytes, bytes that
are not UTF-8, broken framing after good replies, huge option values, `finished` as a string, output fields that
would overwrite incoming ones, and `$` look-alikes that Unicode normalisation turns into `$`."""
from __future__ import annotations

import subprocess
import sys
import unicodedata

import pytest

import rbascore_core
from rbascore_support import (
    DOLLAR_STANDIN,
    SCRIPT,
    SHIPPED_ARGS,
    assert_clean_error,
    chunk,
    execute_chunk,
    getinfo_chunk,
    needs_splunklib,
    raw_body,
    reply_records,
    run_raw,
    splunk_python,
)

ARGS = ["impact=70", "confidence=70", "message=on $dest$ ran $process$"]
FIELDS = ["dest", "process", "note"]
FORMS = ("NFC", "NFD", "NFKC", "NFKD")


# Splunk's own Pythons (from pyenv) are the slow part: `make unit` runs the venv's only
@pytest.fixture(params=["venv", pytest.param("3.9", marks=pytest.mark.slow), pytest.param("3.13", marks=pytest.mark.slow)])
def python(request) -> str:
    needs_splunklib()
    return sys.executable if request.param == "venv" else splunk_python(request.param)


def passthrough(run, records: list[bytes], score: bytes = b"49") -> list[bytes]:
    """Checks each reply record starts with its input record's exact bytes; returns the message cells."""
    bodies = [body for _, body in run.replies[1:] if body]
    out = [line for body in bodies for line in reply_records(body)[1]]
    assert len(out) == len(records)
    messages = []
    for sent, got in zip(records, out):
        assert got.startswith(sent + b"," + score + b","), (sent, got)
        assert got.endswith(b",,")
        messages.append(got[len(sent) + len(score) + 2:-2])
    return messages


# ------------------------------------------------------------------------------------------------ item 1: NUL


def test_nul_bytes_pass_through_byte_for_byte_on_every_python(python):
    rows = [[b"h\x001", b"cmd.exe /c \x00echo", b"x"], [b"h2", b"\x00", b"a,\x00\"b\""], [b"h3", b"p", b""]]
    body, records = raw_body(FIELDS, rows)
    run = run_raw(python, getinfo_chunk(ARGS) + execute_chunk(body) + execute_chunk(b"", True))
    assert run.messages("ERROR", "FATAL") == [], run.replies
    assert run.returncode == 0
    assert passthrough(run, records) == [b"on h\x001 ran cmd.exe /c \x00echo", b"on h2 ran \x00", b"on h3 ran p"]


# --------------------------------------------------------------------------------- item 3: bytes not UTF-8


def test_cells_that_are_not_utf8_come_back_byte_for_byte(python):
    rows = [[b"h\xff1", b"a\xc3", b"\xed\xa0\x80 surrogate, \xf0\x9f"], [b"h2", b"ok \xc3\xa9", b"\x80"]]
    body, records = raw_body(FIELDS, rows)
    run = run_raw(python, getinfo_chunk(ARGS) + execute_chunk(body, True))
    assert run.messages("ERROR", "FATAL") == [], run.replies
    messages = passthrough(run, records)
    # in the message the command writes, bytes that are not UTF-8 read as U+FFFD
    assert messages == ["on h\ufffd1 ran a\ufffd".encode(), "on h2 ran ok \u00e9".encode()]


def test_a_rerun_replaces_its_own_cells_and_keeps_every_other_byte(python):
    fields = ["risk_score", "dest", "process", "risk_message", "note"]
    rows = [[b"5", b"h\xff", b"p\x00", b"old", b'"quoted", \xfe'], [b"", b"h2", b"q", b"", b"x"]]
    body, records = raw_body(fields, rows)
    run = run_raw(python, getinfo_chunk(ARGS) + execute_chunk(body, True))
    assert run.messages("ERROR", "FATAL") == [], run.replies
    header, out = reply_records(run.replies[1][1])
    assert header == body.split(b"\n", 1)[0]  # nothing new: both fields were there
    assert out == [b'49,h\xff,p\x00,on h\xef\xbf\xbd ran p\x00,"""quoted"", \xfe",,,,,',
                   b"49,h2,q,on h2 ran q,x,,,,,"]


# ------------------------------------------------------------------------- item 2: errors during execute


GOOD = raw_body(FIELDS, [[b"h1", b"p1", b""]])[0]
BROKEN = {
    "bad chunk header": (b"chunked 2.0,2,0\n{}", "bad chunk header"),
    "garbage": (b"hello\n", "bad chunk header"),
    "EOF inside a chunk": (b"chunked 1.0,2,500\n{}dest\n", "input ended inside a chunk"),
    "EOF inside the metadata": (b'chunked 1.0,90,0\n{"action"', "input ended inside a chunk"),
    "invalid metadata JSON": (chunk(b"{not json", b""), "chunk metadata is not JSON"),
    "metadata not UTF-8": (chunk(b'{"action": "\xff"}', b""), "chunk metadata is not JSON"),
    "unexpected action": (chunk({"action": "getinfo"}), "expected an execute chunk, not action 'getinfo'"),
    "no action": (chunk({"finished": True}), "expected an execute chunk, not action 'None'"),
    "absurd announced length": (b"chunked 1.0,2,99999999999999999999999\n{}", "bad chunk header"),
    "huge announced length": (b"chunked 1.0,2,900000000000\n{}", "input ended inside a chunk"),
    "ragged record": (execute_chunk(b"dest,process\nh1\n"), "record 1 has 1 values for 2 columns"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_every_execute_failure_after_good_replies_is_one_clean_error(python, case):
    broken, expected = BROKEN[case]
    run = run_raw(python, getinfo_chunk(ARGS) + execute_chunk(GOOD) + execute_chunk(GOOD) + broken)
    assert [meta.get("finished") for meta, _ in run.replies[1:3]] == [False, False]
    assert all(body for _, body in run.replies[1:3])
    errors = run.messages("ERROR", "FATAL")
    assert len(errors) == 1 and len(run.replies) == 4, run.replies
    assert errors[0].startswith("rbascore: ") and expected in errors[0], errors[0]
    assert_clean_error(errors[0])
    assert run.replies[3][0].get("finished") is True and run.replies[3][1] == b""
    assert run.returncode != 0


GETINFO_BROKEN = {
    "no input": (b"", "input ended before the getinfo chunk"),
    "bad header": (b"chunked 1.0,x,0\n{}", "bad chunk header"),
    "getinfo cut short": (getinfo_chunk(ARGS)[:-20], "input ended inside a chunk"),
    "metadata not JSON": (chunk(b"{getinfo"), "chunk metadata is not JSON"),
    "execute first": (execute_chunk(GOOD), "Expected getinfo action, not execute"),
}


@pytest.mark.parametrize("case", sorted(GETINFO_BROKEN))
def test_a_broken_first_chunk_is_one_clean_error(python, case):
    stream, expected = GETINFO_BROKEN[case]
    run = run_raw(python, stream)
    errors = run.messages("ERROR", "FATAL")
    assert len(run.replies) == 1 and len(errors) == 1 and expected in errors[0], run.replies
    assert_clean_error(errors[0])
    assert run.returncode != 0


@pytest.mark.parametrize("drop", [["args"], ["args", "raw_args"]])
def test_getinfo_without_args_is_one_clean_error_in_the_getinfo_reply(python, drop):
    run = run_raw(python, getinfo_chunk(ARGS, drop=drop) + execute_chunk(GOOD, True))
    errors = run.messages("ERROR", "FATAL")
    assert len(run.replies) == 1 and errors == ["rbascore: getinfo metadata has no searchinfo.args list (the "
                                                "command's arguments)"], run.replies
    assert run.returncode != 0


# ------------------------------------------------------------------- item 4: bounded errors, "finished"


BIG = "A" * 1_000_000
HUGE_OPTIONS = {
    "impact": ["impact=" + BIG, "confidence=70", "message=x"],
    "impact number": ["impact=" + "9" * 1_000_000, "confidence=70", "message=x"],
    "unknown option value": SHIPPED_ARGS + ["foo=" + BIG],
    "unknown option name": SHIPPED_ARGS + [BIG + "=1"],
    "template token": ["impact=70", "confidence=70", "message=$" + BIG + " x$"],
    "positional": SHIPPED_ARGS + [BIG],
    "output field": SHIPPED_ARGS + ["score_field=" + BIG + "!"],
}


@pytest.mark.parametrize("case", sorted(HUGE_OPTIONS))
def test_a_megabyte_option_gives_a_short_error(python, case):
    run = run_raw(python, getinfo_chunk(HUGE_OPTIONS[case]) + execute_chunk(GOOD, True))
    errors = run.messages("ERROR", "FATAL")
    assert len(errors) == 1, [e[:100] for e in errors]
    assert_clean_error(errors[0])
    assert "characters" in errors[0]  # says how long the value was


def test_finished_as_the_string_false_is_not_the_end(python):
    # splunklib's record writer ends only on `finished is True` (internals.RecordWriterV1.flush:
    # `self._finished = finished is True`); a JSON string is not a boolean.
    body, _ = raw_body(FIELDS, [[b"h1", b"p", b""]])
    partial, _ = raw_body(["note"], [[b"x"]])
    run = run_raw(python, getinfo_chunk(ARGS) + execute_chunk(body, "false") + execute_chunk(partial, "true")
                  + execute_chunk(b"", True))
    assert run.messages("ERROR") == []
    assert [meta.get("finished") for meta, _ in run.replies[1:]] == [False, False, True]
    warnings = run.messages("WARN")  # the warning comes once, at the real end, counting all records
    assert len(warnings) == 1 and "dest (1 of 2 records)" in warnings[0] and "process (1 of 2" in warnings[0]


# ------------------------------------------------------------------------- item 5: no overwriting


@pytest.mark.parametrize("option", ["score_field=dest", "message_field=user", "score_field=process",
                                    "message_field=note"])
def test_output_fields_never_overwrite_an_incoming_field(python, option):
    body, _ = raw_body(["dest", "user", "process", "note"], [[b"h1", b"u1", b"p", b"n"]])
    run = run_raw(python, getinfo_chunk(ARGS + [option]) + execute_chunk(body, True))
    errors = run.messages("ERROR")
    name = option.split("=")[1]
    assert len(errors) == 1 and f"{option}: the results already have a field of that name" in errors[0], errors
    assert run.replies[1][1] == b"", "no record may come out with the field overwritten"
    assert name in errors[0] and run.returncode != 0


@pytest.mark.parametrize("name", ["_cd", "_bkt", "__mv_dest", "_x"])
def test_underscore_output_fields_are_refused_before_any_record(python, name):
    run = run_raw(python, getinfo_chunk(ARGS + ["score_field=" + name]) + execute_chunk(GOOD, True))
    errors = run.messages("ERROR")
    assert len(run.replies) == 1 and len(errors) == 1, run.replies
    assert f"score_field={name}" in errors[0]


# ------------------------------------------------------------------------- item 6: the `$` stand-in


def test_the_stand_in_is_no_dollar_under_any_normal_form():
    for form in FORMS:
        assert "$" not in unicodedata.normalize(form, DOLLAR_STANDIN)
        assert unicodedata.normalize(form, DOLLAR_STANDIN) == DOLLAR_STANDIN
    for lookalike in rbascore_core.DOLLAR_LOOKALIKES:  # what the data may already hold: NFKC/NFKD make `$` of them
        assert unicodedata.normalize("NFKC", lookalike) == "$"
        assert rbascore_core.neutralise("a" + lookalike + "b") == "a" + DOLLAR_STANDIN + "b"


LOOKALIKES_OF = """
import sys, unicodedata
found = sorted(c for c in map(chr, range(0x110000)) if c != "$" and not 0xD800 <= ord(c) <= 0xDFFF
               and any("$" in unicodedata.normalize(f, c) for f in ("NFC", "NFD", "NFKC", "NFKD")))
print("".join(found))
"""


@pytest.mark.parametrize("version", ["venv", pytest.param("3.9", marks=pytest.mark.slow),
                                     pytest.param("3.13", marks=pytest.mark.slow)])
def test_every_character_that_normalises_to_a_dollar_is_treated_as_one(version):
    # Computed from each Python's own Unicode database (3.9: Unicode 13, 3.13: Unicode 15.1).
    python = sys.executable if version == "venv" else splunk_python(version)
    found = subprocess.run([python, "-c", LOOKALIKES_OF], capture_output=True, text=True, check=True,
                           timeout=120).stdout.strip()
    assert found and set(found) <= set(rbascore_core.DOLLAR_LOOKALIKES), [hex(ord(c)) for c in found]


def test_no_normal_form_of_a_message_holds_a_dollar_from_the_data(python):
    rows = [[b"$dest$", "\uff04user\uff04".encode(), b""], ["\ufe69x\ufe69 $".encode(), b"\xef\xbc\x84", b""]]
    body, records = raw_body(FIELDS, rows)
    run = run_raw(python, getinfo_chunk(ARGS) + execute_chunk(body, True))
    messages = [m.decode("utf-8") for m in passthrough(run, records)]
    assert messages[0] == f"on {DOLLAR_STANDIN}dest{DOLLAR_STANDIN} ran {DOLLAR_STANDIN}user{DOLLAR_STANDIN}"
    for message in messages:
        for form in FORMS:
            assert "$" not in unicodedata.normalize(form, message), (form, message)


def test_the_protocol_v1_record_path_does_not_overwrite_incoming_fields_either():
    # splunklib runs stream() when the script gets argv (protocol v1); commands.conf says chunked = true, but the
    # rule holds on that path too.
    needs_splunklib()
    argv = [sys.executable, str(SCRIPT), "__EXECUTE__", "impact=70", "confidence=70", "message=on"]
    refused = subprocess.run(argv + ["score_field=dest"], input=b"\ndest\nh1\n", capture_output=True, timeout=60)
    assert b"error_message=score_field=dest: the results already have a field of that name" in refused.stdout
    assert b"h1" not in refused.stdout
    allowed = subprocess.run(argv + ["score_field=s"], input=b"\ndest\nh1\n", capture_output=True, timeout=60)
    assert allowed.stdout.endswith(b"h1,,49,,on,\r\n"), allowed.stdout
