"""Property tests (hypothesis): over generated records and templates, rbascore loses nothing and alters nothing;
the score and message match an oracle written independently here."""
from __future__ import annotations

import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rbascore_support import DOLLAR_STANDIN, SCRIPT, es_expand, needs_splunklib

from localsearch.chunked import ChunkedProcess, decode_body, encode_rows, getinfo_metadata
from rbascore_core import parse_template
from rbascore_csv import ChunkScorer
from project import examples

# Text as Splunk results carry it: any Unicode but surrogates and NUL; quotes, commas, CR/LF, `$` likely.
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30) | \
    st.text(alphabet='ab$,"\r\n ;\u00e9\u4e2d', max_size=12)
value = st.none() | text | st.lists(text, min_size=2, max_size=4)
field_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in ("risk_score", "risk_message"))
literal = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="$\x00"), max_size=15)


@st.composite
def tables(draw):
    fields = draw(st.lists(field_name, min_size=1, max_size=6, unique=True))
    rows = draw(st.lists(st.lists(value, min_size=len(fields), max_size=len(fields)), max_size=12))
    return fields, rows


@st.composite
def templates(draw, fields):
    """(template source, [literal, name, literal, name, ..., literal]); names from the table or absent ones."""
    names = st.sampled_from(fields) | field_name
    pieces = [draw(literal)]
    for _ in range(draw(st.integers(0, 4))):
        pieces += [draw(names), draw(literal)]
    if not any(p.strip() for p in pieces[::2]) and len(pieces) == 1:
        pieces[0] = "x"
    source = "".join(p if i % 2 == 0 else f"${p}$" for i, p in enumerate(pieces))
    return source, pieces


def normalised(v):
    """What a value reads back as after a trip through Splunk CSV: "" and [] are empty, [x] is x."""
    if v is None or v == "" or v == []:
        return None
    return v


def shown(v) -> str:
    """Oracle for a value inside the message."""
    if v is None:
        return ""
    if isinstance(v, list):
        v = ", ".join(x for x in v if x)
    return v.replace("$", DOLLAR_STANDIN)


def oracle_message(pieces, record: dict) -> str:
    return "".join(p if i % 2 == 0 else shown(record.get(p)) for i, p in enumerate(pieces))


def oracle_score(impact: int, confidence: int) -> str:
    hundredths = impact * confidence
    whole, rest = divmod(hundredths, 100)
    return str(whole) if rest == 0 else f"{whole}.{rest:02d}".rstrip("0")


def check(fields, rows, out_fields, out_rows, score, message_of):
    assert len(out_rows) == len(rows)
    assert out_fields[:len(fields)] == fields
    assert out_fields[len(fields):] == ["risk_score", "risk_message"]
    for sent, got in zip(rows, out_rows):
        assert got[:len(fields)] == [normalised(v) for v in sent]
        assert got[len(fields)] == score
        expected = message_of(dict(zip(fields, sent)))
        assert (got[len(fields) + 1] or "") == expected


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), table=tables(), impact=st.integers(0, 100), confidence=st.integers(0, 100))
def test_fast_path_loses_and_alters_nothing(data, table, impact, confidence):
    fields, rows = table
    source, pieces = data.draw(templates(fields))
    template = parse_template(source)
    score = oracle_score(impact, confidence)
    scorer = ChunkScorer(template, score, "risk_score", "risk_message")
    out, count = scorer.process(encode_rows(fields, rows))
    assert count == len(rows)
    if not rows:
        assert out == []
        return
    out_fields, out_rows = decode_body(b"".join(out))
    check(fields, rows, out_fields, out_rows, score, lambda record: oracle_message(pieces, record))
    for name in template.field_names:
        empty = sum(1 for r in rows if not shown(dict(zip(fields, r)).get(name)))
        assert scorer.missing_counts[name] == empty


@settings(max_examples=examples(300), deadline=None)
@given(table=tables())
def test_event_data_never_forms_an_es_token(table):
    fields, rows = table
    pieces = ["by "]
    for name in fields:
        pieces += [name, " "]
    template = parse_template("".join(p if i % 2 == 0 else f"${p}$" for i, p in enumerate(pieces)))
    for row in rows:
        record = dict(zip(fields, row))
        message = template.render_mapping(record)
        assert "$" not in message
        assert es_expand(message, {name: "EXPANDED" for name in fields}) == message


@pytest.fixture(scope="module")
def live_command():
    """One rbascore process for many execute chunks, as in a long search."""
    needs_splunklib()
    proc = ChunkedProcess([sys.executable, str(SCRIPT)])
    dispatch = tempfile.mkdtemp(prefix="rbascore_prop_")
    args = ["impact=70", "confidence=70", "message=[$a$|$b$|$zz$]"]
    reply = proc.request(getinfo_metadata(args, app="DA-ESS-WmiProcessExecution", dispatch_dir=dispatch,
                                          search="| rbascore", command="rbascore"))
    assert reply is not None and reply[0].get("type") == "stateful", proc.stderr
    yield proc
    reply = proc.request({"action": "execute", "finished": True}, b"")
    assert reply is not None and reply[0].get("finished") is True
    assert proc.close() == 0


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(), extra=st.lists(value, min_size=2, max_size=2))
def test_command_process_loses_and_alters_nothing(live_command, table, extra):
    fields, rows = table
    fields = [f for f in fields if f not in ("a", "b")] + ["a", "b"]
    rows = [row[:len(fields) - 2] + extra for row in rows]
    meta, body = live_command.request({"action": "execute", "finished": False}, encode_rows(fields, rows))
    assert meta.get("finished") is False
    assert not [m for m in (meta.get("inspector") or {}).get("messages", []) if m[0] == "ERROR"]
    if not rows:
        assert body == b""
        return
    out_fields, out_rows = decode_body(body)
    check(fields, rows, out_fields, out_rows, "49",
          lambda record: f"[{shown(record['a'])}|{shown(record['b'])}|]")
