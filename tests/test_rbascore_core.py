"""Unit tests of rbascore's pure core (score, template) and its CSV fast path; no splunklib, no subprocess."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from project import rendered_message
from rbascore_support import DOLLAR_STANDIN, SHIPPED_MESSAGE, es_expand

from rbascore_core import (
    TemplateError,
    decode_mv,
    format_score,
    parse_percent,
    parse_template,
    risk_score,
    validate_output_field,
)
from rbascore_csv import ChunkError, ChunkScorer

# ------------------------------------------------------------------------------------------------ score


@pytest.mark.parametrize("impact, confidence, expected", [
    ("70", "70", "49"),  # the shipped detection: 70 x 70 / 100
    ("100", "100", "100"),
    ("0", "80", "0"),
    ("33", "70", "23.1"),
    ("12.5", "50", "6.25"),
    ("1", "1", "0.01"),
    ("50", "20", "10"),
    ("70.0", "70", "49"),
])
def test_score_is_impact_times_confidence_over_100_without_trailing_zero(impact, confidence, expected):
    score = format_score(risk_score(parse_percent("impact", impact), parse_percent("confidence", confidence)))
    assert score == expected
    assert float(score) == pytest.approx(float(impact) * float(confidence) / 100)


@pytest.mark.parametrize("text", ["high", "", "-1", "101", "100.01", "1e2", "nan", "inf", "0x10", "7 0", "+5"])
def test_bad_percentages_are_refused_with_the_option_name(text):
    with pytest.raises(ValueError) as error:
        parse_percent("confidence", text)
    assert "confidence" in str(error.value)


def test_percent_bounds_are_inclusive():
    assert parse_percent("impact", "0") == Decimal(0)
    assert parse_percent("impact", "100") == Decimal(100)


# ------------------------------------------------------------------------------------------------ template


def test_shipped_template_parses_into_literals_and_tokens():
    template = parse_template(SHIPPED_MESSAGE)
    assert template.fields == ("parent_process_name", "process_name", "dest", "user")
    assert template.literals[0] == SHIPPED_MESSAGE.split("$")[0]
    assert template.literals[-1] == ""


def test_render_fills_tokens_from_the_record():
    template = parse_template(SHIPPED_MESSAGE)
    record = {"parent_process_name": "WmiPrvSE.exe", "process_name": "cmd.exe", "dest": "wks-01",
              "user": "CORP\\jo"}
    assert template.render_mapping(record) == rendered_message(record)
    assert "WmiPrvSE.exe (WMI provider host) started cmd.exe on host wks-01 as user CORP\\jo" == rendered_message(record)


def test_double_dollar_is_a_literal_dollar():
    template = parse_template("$user$ paid $$$$ twice")
    assert template.fields == ("user",)
    assert template.render_mapping({"user": "bob"}) == "bob paid $$ twice"
    assert parse_template("cost $$5").fields == ()


def test_token_after_literal_dollar():
    assert parse_template("$a$$$").render_mapping({"a": "x"}) == "x$"


def test_multivalue_is_joined_readably_and_missing_renders_empty():
    template = parse_template("users=$user$ host=[$dest$]")
    assert template.render_mapping({"user": ["alice", "bob"]}) == "users=alice, bob host=[]"
    assert template.render_mapping({"user": "", "dest": None}) == "users= host=[]"
    assert template.missing({"user": ["a"], "dest": ""}.get) == ["dest"]


@pytest.mark.parametrize("template, where", [
    ("", "empty"),
    ("   ", "empty"),
    ("host $dest", "position 6"),
    ("$", "position 1"),
    ("paid $5 and $10", "position 6"),  # `$5 and $` is no token: whitespace in a name
    ("$$ $user$ $$", "between two literal $$"),
    ("$ $", "position 1"),
])
def test_bad_templates_are_errors_that_say_where(template, where):
    with pytest.raises(TemplateError) as error:
        parse_template(template)
    assert where in str(error.value)


def test_dollar_from_event_data_cannot_become_an_es_token():
    template = parse_template("ran $process$ on $dest$")
    record = {"process": "cmd /c echo $dest$ $user$", "dest": "$$x$$", "user": "root"}
    message = template.render_mapping(record)
    assert "$" not in message
    assert message.count(DOLLAR_STANDIN) == 8
    # ES's second expansion leaves it unchanged: nothing in it looks like a token
    assert es_expand(message, {**record, "dest": "SHOULD-NOT-APPEAR"}) == message


def test_decode_mv_undoubles_dollars():
    assert decode_mv("$a$;$b$$c$;$$") == ["a", "b$c", ""]


@pytest.mark.parametrize("name", ["risk_object", "risk_object_type", "rule_title", "drilldown_search",
                                  "__mv_x", "orig_sid", "bad name", "", "_cd", "_bkt", "_time", "_anything"])
def test_output_field_names_that_es_interprets_are_refused(name):
    with pytest.raises(ValueError):
        validate_output_field("score_field", name)


def test_ordinary_output_field_names_are_accepted():
    assert validate_output_field("score_field", "wmi_risk.score") == "wmi_risk.score"


# ------------------------------------------------------------------------------------------------ fast path


def body_of(lines):
    return "".join(lines).encode("utf-8")


def scorer(message=SHIPPED_MESSAGE, score="49", score_field="risk_score", message_field="risk_message"):
    return ChunkScorer(parse_template(message), score, score_field, message_field)


def test_each_record_goes_out_as_its_exact_input_text_plus_two_cells():
    records = [
        'WmiPrvSE.exe,cmd.exe,wks-1,"multi\nline ""quoted"", with comma",,,\n',
        "WmiPrvSE.exe,powershell.exe,wks-2,ünïcödé ✓,,,\r\n",
        'WmiPrvSE.exe,"a""b",wks-3,"x$y$z",,,\n',
    ]
    header = "parent_process_name,process_name,dest,other,__mv_parent_process_name,__mv_process_name,__mv_dest\n"
    pieces, count = scorer().process(body_of([header] + records))
    out = b"".join(pieces).decode("utf-8")
    assert count == 3
    out_lines = out.split("\r\n")
    assert out_lines[0] == header.strip() + ",risk_score,risk_message,__mv_risk_score,__mv_risk_message"
    rest = out[len(out_lines[0]) + 2:]
    for record in records:
        raw = record.rstrip("\r\n")
        assert rest.startswith(raw + ",49,"), (rest[:200], raw)
        rest = rest[rest.index(",,\r\n", len(raw)) + 4:]
    assert rest == ""


def test_fast_path_output_parses_to_input_plus_score_and_message():
    rows = [["WmiPrvSE.exe", "cmd.exe", "wks-1", "$dest$"], ["", "ps.exe", "", "x"]]
    src = io.StringIO()
    csv.writer(src).writerows([["parent_process_name", "process_name", "dest", "cmdline"]] + rows)
    sc = scorer()
    pieces, _ = sc.process(src.getvalue().encode())
    out = list(csv.reader(io.StringIO(b"".join(pieces).decode(), newline="")))
    assert out[0][:4] == ["parent_process_name", "process_name", "dest", "cmdline"]
    assert [r[:4] for r in out[1:]] == rows
    assert [r[4] for r in out[1:]] == ["49", "49"]
    assert out[1][5] == rendered_message({"parent_process_name": "WmiPrvSE.exe", "process_name": "cmd.exe",
                                          "dest": "wks-1"})
    assert out[2][5] == rendered_message({"process_name": "ps.exe"})
    assert sc.missing_counts == {"parent_process_name": 1, "process_name": 0, "dest": 1, "user": 2}
    assert sc.records == 2


def test_multivalue_cells_are_decoded_for_the_message():
    body = "user,__mv_user\n\"a\nb$\",$a$;$b$$$\n".encode()
    pieces, _ = scorer("by $user$").process(body)
    out = list(csv.reader(io.StringIO(b"".join(pieces).decode(), newline="")))
    assert out[1][:2] == ["a\nb$", "$a$;$b$$$"]
    assert out[1][3] == "by a, b" + DOLLAR_STANDIN


def test_fields_absent_from_the_header_render_empty_and_are_counted():
    sc = scorer("on $dest$ by $user$")
    pieces, count = sc.process(b"dest\nh1\nh2\n")
    assert count == 2
    assert sc.missing_counts == {"dest": 0, "user": 2}
    out = list(csv.reader(io.StringIO(b"".join(pieces).decode(), newline="")))
    assert [r[2] for r in out[1:]] == ["on h1 by ", "on h2 by "]


def test_existing_score_and_message_fields_are_overwritten_in_place():
    body = b"risk_score,dest,__mv_risk_score\n5,h1,$5$;$6$\n"
    pieces, _ = scorer("on $dest$").process(body)
    out = list(csv.reader(io.StringIO(b"".join(pieces).decode(), newline="")))
    assert out[0] == ["risk_score", "dest", "__mv_risk_score", "risk_message", "__mv_risk_message"]
    assert out[1] == ["49", "h1", "", "on h1", ""]


@pytest.mark.parametrize("body", [b"", b"a,b,__mv_a,__mv_b\n", b"a,b,__mv_a,__mv_b\r\n"])
def test_empty_and_header_only_bodies_give_no_records(body):
    assert scorer().process(body) == ([], 0)


def test_ragged_record_is_an_error_naming_the_record():
    with pytest.raises(ChunkError, match="record 2 has 3 values for 2 columns"):
        scorer().process(b"a,b\n1,2\n1,2,3\n")


def test_repeated_header_column_is_an_error():
    with pytest.raises(ChunkError, match="repeats column"):
        scorer().process(b"a,a\n1,2\n")


def test_large_chunk_spans_several_output_pieces_without_loss():
    rows = [f"h{i},p{i}\n" for i in range(10_000)]
    pieces, count = scorer("$dest$/$process_name$").process(body_of(["dest,process_name\n"] + rows))
    assert count == 10_000 and len(pieces) > 1
    out = list(csv.reader(io.StringIO(b"".join(pieces).decode(), newline="")))
    assert [r[3] for r in out[1:]] == [f"h{i}/p{i}" for i in range(10_000)]


@pytest.mark.parametrize("score_field, message_field", [("dest", "risk_message"), ("risk_score", "user"),
                                                         ("wmi_score", "dest")])
def test_an_incoming_field_is_never_overwritten(score_field, message_field):
    sc = scorer("on $dest$", score_field=score_field, message_field=message_field)
    with pytest.raises(ChunkError, match="already have a field of that name"):
        sc.process(b"dest,user,__mv_dest,__mv_user\nh1,u1,,\n")


def test_nul_and_bytes_that_are_not_utf8_pass_through_in_process():
    body = b"dest,note\nh\x00\xff1,\"a\x00,\xc3\"\nh2,\xe9\n"
    pieces, count = scorer("on $dest$").process(body)
    out = b"".join(pieces)
    assert count == 2
    assert out == (b"dest,note,risk_score,risk_message,__mv_risk_score,__mv_risk_message\r\n"
                   b'h\x00\xff1,"a\x00,\xc3",49,on h\x00\xef\xbf\xbd1,,\r\nh2,\xe9,49,on h2,,\r\n')


def test_look_alike_dollars_in_data_are_neutralised_too():
    message = parse_template("$a$").render_mapping({"a": "\uff04x\ufe69 $"})
    assert message == DOLLAR_STANDIN + "x" + DOLLAR_STANDIN + " " + DOLLAR_STANDIN


def test_error_values_are_quoted_short():
    with pytest.raises(ValueError) as error:
        parse_percent("impact", "9" * 100_000)
    assert len(str(error.value)) < 200 and "100,000 characters" in str(error.value)
