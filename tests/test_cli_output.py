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


def test_summary_gives_each_files_mapped_records_per_data_model() -> None:
    """Per file: its rows in each data-model table (0 when none), or that the pool left them uncounted."""
    from pathlib import Path

    from localsearch.ingest import FileReport, LoadReport
    report = LoadReport(events=12, processes=3,
                        mapped={"Endpoint.Processes": 3, "Endpoint.Filesystem": 1, "Endpoint.Registry": 0})
    report.files = [
        FileReport(Path("a.json"), "jsonl-otrf", events_read=10,
                   mapped={"Endpoint.Processes": 3, "Endpoint.Filesystem": 1, "Endpoint.Registry": 0}),
        FileReport(Path("b.json"), "jsonl-otrf", events_read=1,
                   mapped={"Endpoint.Processes": 0, "Endpoint.Filesystem": 0, "Endpoint.Registry": 0}),
        FileReport(Path("c.evtx"), "evtx", events_read=1, records_stated=1),
    ]
    lines = summary_lines("S", report, 0, [], [], None)
    assert ("files read: 3, events read: 12, process events mapped (Endpoint.Processes): 3, "
            "Endpoint.Filesystem: 1, Endpoint.Registry: 0") in lines
    assert ("  a.json [jsonl-otrf]: 10 events, mapped: 3 Endpoint.Processes, 1 Endpoint.Filesystem, "
            "0 Endpoint.Registry") in lines
    assert "  b.json [jsonl-otrf]: 1 events, mapped: 0 Endpoint.Processes, 0 Endpoint.Filesystem, 0 Endpoint.Registry" \
        in lines
    assert ("  c.evtx [evtx]: 1 events (the file's headers state 1 records), mapped: not counted per file "
            "(its records could not be told apart in a staged file)") in lines
