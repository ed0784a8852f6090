"""localsearch.expect: Splunk wildcard matching of expected values and the failure texts."""
from __future__ import annotations

from localsearch.expect import Absent, ContentctlUnitTest, Count, Row, value_matches

RESULTS = [
    {"dest": "WKS-07.corp", "process_name": "cmd.exe", "risk_score": "49", "mv": ["a.exe", "B.EXE"]},
    {"dest": "srv-1", "process_name": "agent.exe", "user": "CORP\\svc"},
]


def test_values_are_splunk_wildcards_matched_case_insensitively() -> None:
    # Search Manual "Use wildcards": * matches any characters; values compare without case
    assert value_matches("WKS-07.corp", "wks-07*") and value_matches("WKS-07.corp", "*07.CORP")
    assert not value_matches("WKS-07.corp", "wks-07") and not value_matches("WKS-07.corp", "wks?07*")
    assert value_matches("a.b", "a.b") and not value_matches("axb", "a.b")      # only * is special
    assert value_matches(["a.exe", "B.EXE"], "b.exe")                           # one value of a multivalue
    assert not value_matches(None, "*")                                         # field=* needs a value
    assert value_matches(None, None) and not value_matches("x", None)           # null: no value


def test_count_row_and_absent() -> None:
    assert Count("count 2", "==", 2).check(RESULTS) is None
    assert Count("count 3", "==", 3).check(RESULTS) == "expected count 3, got 2 results"
    assert Count("min count 3", ">=", 3).check(RESULTS) is not None
    assert Count("max count 2", "<=", 2).check(RESULTS) is None
    assert Row("r", {"process_name": "CMD.exe", "risk_score": "49"}).check(RESULTS) is None
    text = Row("r", {"process_name": "cmd.exe", "risk_score": "50"}).check(RESULTS)
    assert text is not None and "result 1 differs in risk_score: {risk_score: '49'}" in text
    assert Absent("a", {"process_name": "notepad.exe"}).check(RESULTS) is None
    text = Absent("a", {"user": "corp\\*"}).check(RESULTS)
    assert text is not None and text.startswith("1 result match {user: 'corp\\\\*'}") and "result 2:" in text


def test_contentctl_rule() -> None:
    rule = ContentctlUnitTest("rule", ("dest", "user"), ("process_name",))
    assert rule.check([]) == "the search returned no results"
    assert rule.check([{"dest": "h", "user": "u", "process_name": "p"}]) is None
    assert "user are missing in result 1" in (rule.check([{"dest": "h", "process_name": "p"}]) or "")
    assert "user is null in result 1" in (rule.check([{"dest": "h", "user": "null", "process_name": "p"}]) or "")
    # the first result with every threat object filled passes; a threat object null everywhere fails
    assert rule.check([{"dest": "h", "user": "u"}, {"dest": "h", "user": "u", "process_name": "p"}]) is None
    assert "process_name are null in every result" in (rule.check([{"dest": "h", "user": "u"}]) or "")
