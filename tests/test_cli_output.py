"""Result rendering: multivalue values, missing values and _time in each format."""
from __future__ import annotations

import csv
import io
import json

from localsearch.output import summary_lines, write_results

FIELDS = ["_time", "dest", "names", "empty"]
ROWS = [["1710235201.5", "h1", ["cmd.exe", "powershell.exe"], None], ["1710235200", "h2", "a,b", None]]


def render(fmt: str, width: int = 200) -> str:
    out = io.StringIO()
    write_results(fmt, FIELDS, ROWS, out, width=width)
    return out.getvalue()


def test_jsonl_keeps_lists_and_omits_missing_values() -> None:
    objs = [json.loads(line) for line in render("jsonl").splitlines()]
    assert objs[0] == {"_time": "2024-03-12T09:20:01.500+00:00", "dest": "h1",
                       "names": ["cmd.exe", "powershell.exe"]}
    assert objs[1]["_time"] == "2024-03-12T09:20:00+00:00"


def test_csv_joins_multivalue_with_newlines() -> None:
    rows = list(csv.reader(io.StringIO(render("csv"))))
    assert rows[0] == FIELDS
    assert rows[1][2] == "cmd.exe\npowershell.exe" and rows[1][3] == ""
    assert rows[2][2] == "a,b"


def test_table_grid_when_it_fits_and_records_when_not() -> None:
    wide = render("table", width=200)
    assert "powershell.exe" in wide and "result 1 of 2" not in wide
    narrow = render("table", width=40)
    assert "result 1 of 2" in narrow and "result 2 of 2" in narrow
    out = io.StringIO()
    write_results("table", FIELDS, [], out, width=80)
    assert "No results." in out.getvalue()


def test_summary_mentions_messages_and_warnings() -> None:
    lines = summary_lines("S", None, 3, [("WARN", "field x empty")], ["field y does not exist"], "/tmp/l")
    text = "\n".join(lines)
    assert "search: S (local overrides from /tmp/l)" in text and "results: 3" in text
    assert "command warn: field x empty" in text and "warning: field y does not exist" in text
