"""Bounded fuzz test of rbascore's protocol, run as splunkd runs it (a subprocess of bin/rbascore.py speaking
protocol v2 with the vendored splunklib) under this venv's Python and Splunk's Pythons 3.9 and 3.13.

Each example is one search: getinfo, then generated execute chunks (empty, header-only, or records whose fields
change from chunk to chunk; cells with any Unicode, NUL, CR/LF, quotes, `$` and its look-alikes, bytes that are
not UTF-8, multivalue `__mv_` cells, values of hundreds of KB; the command's own output fields on a re-run;
`finished` as booleans and strings), sometimes ending in broken framing. Invariants, checked against an oracle
written here from the rules, not from the code:
- every reply body is exactly the input records' bytes with the score and message cells (the command's own
  cells replaced in place on a re-run), so nothing is lost, reordered or altered;
- the message is the template filled with the values, non-UTF-8 bytes as U+FFFD, and no `$` from the data under
  any Unicode normal form;
- one warning at the real end, counting the records that lacked each field;
- broken framing: exactly one clean ERROR as the last reply, exit code not 0.

RBASCORE_FUZZ_EXAMPLES sets the number of examples per Python (default 12; `make fuzz` runs 300).
"""
from __future__ import annotations

import os
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rbascore_support import (
    DOLLAR_STANDIN,
    assert_clean_error,
    chunk,
    csv_cell,
    execute_chunk,
    getinfo_chunk,
    needs_splunklib,
    run_raw,
    splunk_python,
)

EXAMPLES = int(os.environ.get("RBASCORE_FUZZ_EXAMPLES", "12"))
TEMPLATE = "[$a$|$b$|$zz$] $$"
ARGS = ["impact=70", "confidence=70", "message=" + TEMPLATE]
SCORE, MESSAGE = "risk_score", "risk_message"
NAMES = ["a", "b", "dest", "x y", "\u00e9t\u00e9", "q\"t", SCORE, MESSAGE]
DOLLARS = {ord("$"): DOLLAR_STANDIN, 0xFF04: DOLLAR_STANDIN, 0xFE69: DOLLAR_STANDIN}

any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
tricky_text = st.text(alphabet='ab$,"\r\n ;\x00\uff04\ufe69\u00e9\u4e2d\U0001f4b2', max_size=12)
large_text = st.integers(100_000, 400_000).map(lambda n: "v$\u00e9" * (n // 4))
text = st.one_of(any_text, tricky_text, tricky_text, large_text)
plain_cell = st.one_of(text.map(lambda t: t.encode("utf-8")), st.binary(max_size=12))
# a value: plain bytes, or several strings (a multivalue, sent as splunkd sends it: plain + __mv_ cell)
value = st.one_of(plain_cell, plain_cell, st.lists(st.one_of(any_text, tricky_text), min_size=2, max_size=4))


@st.composite
def execute_chunks(draw):
    """(fields, rows of values, line end) of one execute chunk; fields None for an empty body."""
    kind = draw(st.sampled_from(["records", "records", "records", "header-only", "empty"]))
    if kind == "empty":
        return None, [], b"\n"
    fields = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    rows = [] if kind == "header-only" else draw(
        st.lists(st.lists(value, min_size=len(fields), max_size=len(fields)), min_size=1, max_size=6))
    return fields, rows, draw(st.sampled_from([b"\n", b"\r\n"]))


def encode(fields, rows, end):
    """Body bytes and each record's cells (plain cells then __mv_ cells, as bytes)."""
    header = [csv_cell(f.encode("utf-8")) for f in fields + ["__mv_" + f for f in fields]]
    records = []
    for row in rows:
        plain, mv = [], []
        for v in row:
            if isinstance(v, list):
                plain.append(csv_cell("\n".join(v).encode("utf-8")))
                mv.append(csv_cell(";".join("$" + x.replace("$", "$$") + "$" for x in v).encode("utf-8")))
            else:
                plain.append(csv_cell(v))
                mv.append(b"")
        records.append(plain + mv)
    lines = [b",".join(header)] + [b",".join(cells) for cells in records]
    return end.join(lines) + end, header, records


def shown(v) -> str:
    """A value as the message shows it."""
    if isinstance(v, list):
        v = ", ".join(x for x in v if x)
    else:
        v = v.decode("utf-8", "replace")
    return v.translate(DOLLARS)


class Oracle:
    def __init__(self):
        self.records = 0
        self.empty = {"a": 0, "b": 0, "zz": 0}

    def reply(self, fields, rows, end) -> bytes:
        if fields is None or not rows:
            return b""
        _, header, records = encode(fields, rows, end)
        width = len(fields)
        tail = [n for n in (SCORE, MESSAGE) if n not in fields]
        out = [b",".join(header + [csv_cell(n.encode()) for n in tail + ["__mv_" + n for n in tail]])]
        for row, cells in zip(rows, records):
            record = dict(zip(fields, row))
            parts = []
            for name in ("a", "b", "zz"):
                part = shown(record[name]) if name in record else ""
                self.empty[name] += part == ""
                parts.append(part)
            message = "[%s|%s|%s] $" % tuple(parts)
            for form in ("NFC", "NFD", "NFKC", "NFKD"):
                assert unicodedata.normalize(form, message[:-1]).count("$") == 0
            values = {SCORE: b"49", MESSAGE: csv_cell(message.encode("utf-8"))}
            cells = list(cells)
            for name in (SCORE, MESSAGE):
                if name in fields:
                    cells[fields.index(name)] = values[name]
                    cells[width + fields.index(name)] = b""
            out.append(b",".join(cells + [values[n] for n in tail] + [b""] * len(tail)))
        self.records += len(rows)
        return b"\r\n".join(out) + b"\r\n"

    def warning(self) -> list[str]:
        missing = [f"{name} ({n} of {self.records} records)" for name, n in self.empty.items() if n]
        return ["rbascore: message fields missing or empty, rendered as empty text: " + ", ".join(missing)] \
            if missing else []


BROKEN = [b"chunked 2.0,2,0\n{}", b"\n", b"chunked 1.0,2,99999999999999999999\n{}", chunk(b"{x", b""),
          chunk({"action": "getinfo"}), chunk(b"[]"), b"chunked 1.0,5,1000000\n{}"]


@st.composite
def broken_tails(draw):
    choice = draw(st.integers(0, len(BROKEN)))
    if choice < len(BROKEN):
        return BROKEN[choice]
    whole = execute_chunk(b"a,__mv_a\nx,\n")
    return whole[:draw(st.integers(1, len(whole) - 1))]  # a chunk cut short anywhere


@st.composite
def streams(draw):
    chunks = draw(st.lists(execute_chunks(), max_size=4))
    not_finished = st.sampled_from([False, False, "false", "true", 0, 1, None])
    flags = [draw(not_finished) for _ in chunks]
    end = draw(st.sampled_from(["final", "final", "eof", "broken"]))
    final = draw(execute_chunks()) if end == "final" else None
    tail = draw(broken_tails()) if end == "broken" else b""
    return chunks, flags, end, final, tail


# Splunk's own Pythons (from pyenv) are the slow part: `make unit` runs the venv's only
@pytest.fixture(params=["venv", pytest.param("3.9", marks=pytest.mark.slow), pytest.param("3.13", marks=pytest.mark.slow)],
                scope="module")
def python(request) -> str:
    needs_splunklib()
    return sys.executable if request.param == "venv" else splunk_python(request.param)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(stream=streams())
def test_generated_streams_keep_every_invariant(python, stream):
    chunks, flags, end, final, tail = stream
    oracle = Oracle()
    sent = getinfo_chunk(ARGS)
    expected = []
    for (fields, rows, line_end), flag in zip(chunks, flags):
        body = b"" if fields is None else encode(fields, rows, line_end)[0]
        sent += chunk({"action": "execute", "finished": flag} if flag is not None else {"action": "execute"},
                      body)
        expected.append((False, oracle.reply(fields, rows, line_end)))
    if final is not None:
        fields, rows, line_end = final
        sent += execute_chunk(b"" if fields is None else encode(fields, rows, line_end)[0], True)
        expected.append((True, oracle.reply(fields, rows, line_end)))
    sent += tail
    run = run_raw(python, sent)

    assert run.replies and run.replies[0][0].get("type") == "stateful", run.replies[:1]
    replies = run.replies[1:]
    if end == "broken":
        errors = run.messages("ERROR", "FATAL")
        assert len(errors) == 1 and len(replies) == len(expected) + 1, (errors, len(replies), len(expected))
        assert errors[0].startswith("rbascore: ")
        assert_clean_error(errors[0])
        assert replies[-1][0].get("finished") is True and replies[-1][1] == b""
        assert run.returncode != 0
        replies = replies[:-1]
    else:
        assert run.messages("ERROR", "FATAL") == [], run.messages("ERROR", "FATAL")
        assert run.returncode == 0, run.stderr[-2000:]
        assert len(replies) == len(expected)
    for (finished, body), (meta, got) in zip(expected, replies):
        assert meta.get("finished") is finished
        assert got == body, (got[:300], body[:300])
    warnings = run.messages("WARN")
    assert warnings == (oracle.warning() if final is not None else []), warnings
