"""Pass 1 over the JSON lines units: one multi-threaded DuckDB scan per group of files collects the field names
present (with counts), the number of events, and the process-creation records (Sysmon 1 / Security 4688), and
tells which files the SQL path cannot take as they are (those are read in Python instead; see staging.py).
With a prefilter the candidate lines are kept in CAND_TABLE (candidates.py), which the `events` view is then built
over.

Memory: no aggregate here grows with the input. DuckDB cannot spill `list()` aggregates to disk (DuckDB docs,
"Tuning workloads", "Limitations": `list()` and `string_agg()` "do not support offloading to disk"), so the
process-creation records go into PROC_TABLE by an INSERT of their own (tables spill past the memory limit) and
the counts come from a second read of the files (no slower: the regular expressions are not run twice); a
prefiltered scan's scratch table is dropped once read (DuckDB does not give back the memory of deleted rows)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional

import duckdb

from ..sqltext import sql_literal
from .bounds import MAX_FIELDS
from .candidates import CAND_TABLE
from .layouts import NESTED_KEYS
from .sources import event_codes
from .units import Unit, count_of, path_list, unit_groups

# A loose text pre-filter for process-creation records; cim.Mapping.is_process() decides exactly.
PROC_RE = r'"Event(?:ID|Code)"\s*:\s*"?(' + "|".join(event_codes()) + r')"?\s*[,}]'
WINLOGBEAT_REASON = "records in a nested layout (Winlogbeat, ECS)"
NON_OBJECT_REASON = "records that are not JSON objects (or empty objects)"
PROC_TABLE = "_ls_proc_json"
SCRATCH_TABLE = "_ls_scan_lines"   # a prefiltered scan's lines of one group (f, json, p, k, o)
# Lines a prefiltered scan keeps whatever the filter says, so the Winlogbeat test sees every top-level key
# the full scan would (a `\uXXXX` escape may spell `winlog`).
# (a regex, not contains(): RE2 skips ahead on the literal faster than contains() scans)
WINLOG_TEXT_SQL = ("(" + " OR ".join(f"""regexp_matches(json, '"{k}"\\s*:')""" for k in NESTED_KEYS)
                   + r""" OR regexp_matches(json, '\\u[0-9A-Fa-f]{4}'))""")
NESTED_TEXT_SQL = "(" + " OR ".join(f"contains(json, '\"{k}\"')" for k in NESTED_KEYS) + ")"
NON_OBJECT_RE = r'^\s*\{\s*"'         # fails only on records that are not objects, or empty objects
DUPLICATE_KEYS_REASON = "records with duplicate keys"
# records over bounds.MAX_FIELDS fields (at least 7 bytes a field: only long lines are looked at): read in Python,
# where they are skipped, in every load mode alike
# (CASE, not AND: DuckDB then parses only the rows the first test selects)
WIDE_SQL = f"(CASE WHEN length(json) > {7 * MAX_FIELDS} THEN len(json_keys(json)) > {MAX_FIELDS} ELSE false END)"
WIDE_REASON = f"records with more than {MAX_FIELDS:,} fields"


def _execute(con: duckdb.DuckDBPyConnection, sql: str, tick: Optional[Callable[[float], None]]) -> None:
    """con.execute(sql); with `tick`, run it in a worker thread and report DuckDB's query progress
    (fraction 0..1) from this thread every quarter second."""
    if tick is None:
        con.execute(sql)
        return
    failure: List[BaseException] = []

    def work() -> None:
        try:
            con.execute(sql)
        except BaseException as exc:       # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=work, name="localsearch-ingest-scan", daemon=True)
    worker.start()
    last = 0.0
    while True:
        worker.join(0.25)
        if not worker.is_alive():
            break
        try:
            pct = con.query_progress()
        except duckdb.Error:
            pct = -1.0
        if pct > last:
            last = pct
            tick(min(pct, 100.0) / 100.0)
    if failure:
        raise failure[0]


def _half(tick: Optional[Callable[[float], None]], second: bool) -> Optional[Callable[[float], None]]:
    """The progress of one of a scan's two reads of its files, as a half of the scan's."""
    if tick is None:
        return None
    return lambda fraction: tick((fraction + (1.0 if second else 0.0)) / 2)


def _take_process_records(con: duckdb.DuckDBPyConnection, units: List[Unit],
                          tick: Optional[Callable[[float], None]]) -> None:
    """The first read of a scan: the process-creation records of the files into PROC_TABLE."""
    _execute(con, f"INSERT INTO {PROC_TABLE} SELECT filename, json FROM read_ndjson_objects({path_list(units)}, "
                  f"filename = true) WHERE regexp_matches(json, {sql_literal(PROC_RE)})", tick)


def _scan(con: duckdb.DuckDBPyConnection, units: List[Unit],
          tick: Optional[Callable[[float], None]] = None, field_names: bool = True,
          line_filter: Optional[str] = None) -> None:
    """Pass 1 over a group of NDJSON files: field names, event counts, process-creation records.
    Without `field_names` (no raw-event search to serve) the costly per-record key listing is skipped;
    with a `line_filter` it is done on the candidate lines only (see _scan_filtered)."""
    by_name = {str(u.sql_path): u for u in units}
    if not field_names and all(u.report is None for u in units):
        _scan_staged_light(con, units, by_name, tick)
        return
    if not field_names:
        _scan_light(con, units, by_name, tick)
        return
    if line_filter is not None:
        _scan_filtered(con, units, by_name, tick, line_filter)
        return
    _take_process_records(con, units, _half(tick, False))
    _execute(con,
        f"""CREATE OR REPLACE TEMP TABLE _ls_scan AS
            SELECT filename, any_value(k) AS keys, count(*) AS n
            FROM (SELECT filename, json_keys(json) AS k
                  FROM read_ndjson_objects({path_list(units)}, filename = true))
            GROUP BY filename, hash(k)""", _half(tick, True))
    rows = con.execute("SELECT filename, keys, n FROM _ls_scan").fetchall()
    con.execute("DROP TABLE _ls_scan")
    for fname, keys, n in rows:
        u = by_name[fname]
        if not keys:
            u.needs_python = NON_OBJECT_REASON
        elif any(k in keys for k in NESTED_KEYS):
            u.needs_python = WINLOGBEAT_REASON
        elif not u.needs_python:
            u.needs_python = _key_trouble(keys)
        for k in keys:
            u.keys[k] += n
        u.events += n


def _key_trouble(keys: List[str]) -> str:
    """Why records with these keys must be read in Python (bounds.py rules), or ""."""
    if len(keys) > MAX_FIELDS:
        return WIDE_REASON
    if len(set(keys)) != len(keys):
        return DUPLICATE_KEYS_REASON
    return ""


def _duplicate_key_files(con: duckdb.DuckDBPyConnection, files: List[str]) -> set:
    """The files among `files` whose process-creation records (in PROC_TABLE) repeat a key (bounds.py rule)."""
    rows = con.execute(f"SELECT DISTINCT file FROM {PROC_TABLE} WHERE list_contains(?, file) AND "
                       f"len(json_keys(json)) <> len(list_distinct(json_keys(json)))", [files]).fetchall()
    return {r[0] for r in rows}


def _scan_light(con: duckdb.DuckDBPyConnection, units: List[Unit], by_name: Dict[str, Unit],
                tick: Optional[Callable[[float], None]]) -> None:
    """Pass 1 without field names: event counts, process-creation records, and the two cheap text tests
    that send a file to the Python readers (records that are not objects, Winlogbeat records)."""
    _take_process_records(con, units, _half(tick, False))
    _execute(con,
        f"""CREATE OR REPLACE TEMP TABLE _ls_scan AS
            SELECT filename, count(*) AS n,
                   count(*) FILTER (WHERE NOT starts_with(json, '{{')) AS non_objects,
                   count(*) FILTER (WHERE {NESTED_TEXT_SQL}) AS winlog,
                   count(*) FILTER (WHERE {WIDE_SQL}) AS wide
            FROM read_ndjson_objects({path_list(units)}, filename = true)
            GROUP BY filename""", _half(tick, True))
    rows = con.execute("SELECT filename, n, non_objects, winlog, wide FROM _ls_scan").fetchall()
    con.execute("DROP TABLE _ls_scan")
    dups = _duplicate_key_files(con, list(by_name))
    for fname, n, non_objects, winlog, wide in rows:
        u = by_name[fname]
        if non_objects:
            u.needs_python = NON_OBJECT_REASON
        elif winlog:
            u.needs_python = WINLOGBEAT_REASON
        elif wide:
            u.needs_python = WIDE_REASON
        elif fname in dups:     # (only process records matter here: the data model is all a light load builds)
            u.needs_python = DUPLICATE_KEYS_REASON
        u.events += n


def _scan_staged_light(con: duckdb.DuckDBPyConnection, units: List[Unit], by_name: Dict[str, Unit],
                       tick: Optional[Callable[[float], None]]) -> None:
    """_scan_light over bundles of staged events: they hold JSON objects written from flat dicts, so no key
    repeats and the duplicate-key test is left out; the process-creation records are inserted by a filtered
    read and the lines counted by a second one (about three times faster than one read with a list aggregate).
    The Winlogbeat and width tests stay: a bundle failing them is reported as a fault by the loader."""
    read = f"read_ndjson_objects({path_list(units)}, filename = true)"
    _execute(con, f"INSERT INTO {PROC_TABLE} SELECT filename, json FROM {read} "
                  f"WHERE regexp_matches(json, {sql_literal(PROC_RE)})", tick)
    rows = con.execute(f"SELECT filename, count(*), count(*) FILTER (WHERE {NESTED_TEXT_SQL}), "
                       f"count(*) FILTER (WHERE {WIDE_SQL}) FROM {read} GROUP BY filename").fetchall()
    for fname, n, winlog, wide in rows:
        u = by_name[fname]
        if winlog:
            u.needs_python = WINLOGBEAT_REASON
        elif wide:
            u.needs_python = WIDE_REASON
        u.events += n


def _scan_filtered(con: duckdb.DuckDBPyConnection, units: List[Unit], by_name: Dict[str, Unit],
                   tick: Optional[Callable[[float], None]], line_filter: str) -> None:
    """Pass 1 with a prefilter, in one read of the files: a row per line in a scratch table (the file's
    number in the group, flags: process creation `p`, candidate `k`, not a non-empty object `o`; the text only
    where p or k), from which every line is counted, the `p` lines go to PROC_TABLE and the `k` lines to
    CAND_TABLE; the scratch table is then dropped (about 25 bytes a line while it lives, spilled past the
    memory limit), and field names are listed for the candidate lines only. Candidates: the filter's lines, plus
    any line that may carry a top-level `winlog` key, so the Winlogbeat test sees what the full scan would.
    (One read: two, a table of the kept lines and a count, took a fifth longer.)"""
    files = [str(u.sql_path) for u in units]
    plist = path_list(units)
    _execute(con,
        f"""CREATE OR REPLACE TEMP TABLE {SCRATCH_TABLE} AS
            SELECT list_position({plist}, filename)::INTEGER AS f, CASE WHEN p OR k THEN json END AS json, p, k, o
            FROM (SELECT filename, json,
                         regexp_matches(json, {sql_literal(PROC_RE)}) AS p,
                         (({line_filter}) OR {WINLOG_TEXT_SQL}) AS k,
                         (NOT regexp_matches(json, {sql_literal(NON_OBJECT_RE)}) OR {WIDE_SQL}) AS o
                  FROM read_ndjson_objects({plist}, filename = true))""", tick)
    rows = [(files[f - 1], n, o) for f, n, o in con.execute(
        f"SELECT f, count(*), count(*) FILTER (WHERE o) FROM {SCRATCH_TABLE} GROUP BY f").fetchall()]
    con.execute(f"INSERT INTO {PROC_TABLE} SELECT {plist}[f], json FROM {SCRATCH_TABLE} WHERE p")
    con.execute(f"INSERT INTO {CAND_TABLE} SELECT {plist}[f], json FROM {SCRATCH_TABLE} WHERE k")
    con.execute(f"DROP TABLE {SCRATCH_TABLE}")
    keyrows = con.execute(
        f"""SELECT file, any_value(k) AS keys, count(*) AS n
            FROM (SELECT file, json_keys(json) AS k FROM {CAND_TABLE} WHERE list_contains(?, file))
            GROUP BY file, hash(k)""", [files]).fetchall()
    dups = _duplicate_key_files(con, files)
    for fname, n, non_objects in rows:
        u = by_name[fname]
        if non_objects:
            u.needs_python = NON_OBJECT_REASON
        elif fname in dups:
            u.needs_python = DUPLICATE_KEYS_REASON
        u.events += n
    for fname, keys, n in keyrows:
        u = by_name[fname]
        if any(k in keys for k in NESTED_KEYS) and not u.needs_python:
            u.needs_python = WINLOGBEAT_REASON
        elif not u.needs_python:
            u.needs_python = _key_trouble(keys)
        for k in keys:
            u.keys[k] += n


def reset_unit(con: duckdb.DuckDBPyConnection, u: Unit) -> None:
    u.keys.clear()
    u.events = 0
    u.needs_python = ""
    con.execute(f"DELETE FROM {PROC_TABLE} WHERE file = ?", [str(u.sql_path)])
    con.execute(f"DELETE FROM {CAND_TABLE} WHERE file = ?", [str(u.sql_path)])


def scan_all(con: duckdb.DuckDBPyConnection, units: List[Unit],
             tick: Optional[Callable[[float], None]] = None, field_names: bool = True,
             line_filter: Optional[str] = None) -> None:
    """Pass 1 in groups; a group that fails (malformed JSON) is scanned file by file to find the culprit."""
    for group in unit_groups(units):
        try:
            _scan(con, group, tick, field_names, line_filter)
        except duckdb.OutOfMemoryException:
            raise               # the memory limit, not the files: the run stops (runner.py says so)
        except duckdb.Error:
            for u in group:
                reset_unit(con, u)
                try:
                    _scan(con, [u], field_names=field_names, line_filter=line_filter)
                    if u.needs_python:
                        con.execute(f"DELETE FROM {PROC_TABLE} WHERE file = ?", [str(u.sql_path)])
                        con.execute(f"DELETE FROM {CAND_TABLE} WHERE file = ?", [str(u.sql_path)])
                except duckdb.OutOfMemoryException:
                    raise
                except duckdb.Error as exc:
                    u.needs_python = f"unreadable by the SQL path ({str(exc).splitlines()[0]})"


def label_by_input(con: duckdb.DuckDBPyConnection, units: List[Unit]) -> None:
    """The process records of a bundle that holds several inputs, told apart by input: the stager noted the byte
    offset where each input's records begin (Unit.starts); the bundle is read again with each record's line
    (WITH ORDINALITY: the line number, in file order) and its process records are stored in PROC_TABLE under
    one label per input (`<bundle>#<n>`, Unit.labels), so a GROUP BY on the file column counts them per input.
    Only bundles holding a process record are read again; if the second read does not find the same records,
    the bundle keeps its rows unlabelled (its inputs are then not counted one by one)."""
    for u in units:
        path = str(u.sql_path)
        if len(u.starts) < 2:
            continue
        before = count_of(con, f"SELECT count(*) FROM {PROC_TABLE} WHERE file = {sql_literal(path)}")
        if not before:
            continue
        firsts = _first_lines(u.sql_path, [offset for _, offset in u.starts])
        labels = {f"{path}#{i + 1}": fr for i, (fr, _) in enumerate(u.starts)}
        ranges = ", ".join(f"({sql_literal(label)}, {lo}, {hi})" for label, lo, hi in
                           zip(labels, firsts, [n - 1 for n in firsts[1:]] + [1 << 62]))
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _ls_labelled AS
                        SELECT r.label AS file, t.json
                        FROM read_ndjson_objects({sql_literal(path)}) WITH ORDINALITY AS t(json, ord)
                        JOIN (VALUES {ranges}) AS r(label, lo, hi) ON t.ord BETWEEN r.lo AND r.hi
                        WHERE regexp_matches(t.json, {sql_literal(PROC_RE)})""")
        if count_of(con, "SELECT count(*) FROM _ls_labelled") == before:
            con.execute(f"DELETE FROM {PROC_TABLE} WHERE file = ?", [path])
            con.execute(f"INSERT INTO {PROC_TABLE} SELECT file, json FROM _ls_labelled")
            u.labels = labels
        con.execute("DROP TABLE _ls_labelled")


def _first_lines(path: Path, offsets: List[int]) -> List[int]:
    """The 1-based line number at each byte offset (ascending) of a file."""
    out: List[int] = []
    lines = 1
    pos = 0
    with open(path, "rb") as fh:
        for offset in offsets:
            while pos < offset:
                block = fh.read(min(1 << 20, offset - pos))
                if not block:
                    break
                lines += block.count(b"\n")
                pos += len(block)
            out.append(lines)
    return out
