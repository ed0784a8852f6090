"""load_events: read Windows event files into DuckDB as `events` (view) and `processes` (table).

How it works (one mapping path for every format):
1. Inputs are discovered and their format detected from content (detect.py).
2. JSON lines in a flat layout (OTRF/Mordor, NXLog, other flat objects; layouts.py, told by the first record)
   are read by DuckDB where they are. EVTX (the `evtx` package's JSON rendering), XmlWinEventLog text, the
   nested JSON layouts (Winlogbeat, ECS, Elastic Agent) and JSON files with unreadable records are read
   in Python (readers.py, flatten.py) and staged as flat NDJSON bundles in a temporary folder (removed
   when the process exits); unreadable records are reported in LoadReport.skipped with file and record
   number, and reading goes on. A load for the data model only (raw_events=False) stages only the EVTX records
   that may be process creations and counts the others (evtx_pool.count_only).
3. One multi-threaded DuckDB scan per group of files collects the field names present (with counts),
   the number of events, and the process-creation records (Sysmon 1 / Security 4688).
4. `processes` (CIM Endpoint.Processes) is built from those records by the SQL mapping in cim.py.
5. `events` (skipped with raw_events=False, when only a tstats search runs) is a VIEW over the NDJSON files (DuckDB read_json with the discovered columns, all VARCHAR),
   plus `_time`, host/source/sourcetype/index, the System-field names Splunk uses (Computer, EventCode,
   EventRecordID) and, on process-creation rows, the CIM aliases (same SQL mapping). A view keeps memory
   flat whatever the input size: each query streams the files again (only the columns it uses are
   parsed). The files must stay in place while the connection is used.

Prefilter (`line_filter`, a SQL condition on the raw line text `json`, from localsearch.spl.prefilter): pass 1
still counts every event and collects every process-creation record, but lists field names only of the lines
passing the filter (the candidates), and keeps those lines in a table that `events` is built over (in
memory; DuckDB's json_transform gives the values read_json would): `events` then holds the candidate events
only (a superset of what the leading search matches). LoadReport.events and FileReport.events_read still count every event read.

Case-sensitive field names: a raw field whose spelling differs only in case from a more frequent one
(OTRF has both `ProcessId` and `ProcessID`, `TargetProcessGuid` and `TargetProcessGUID`) gets its own
column (`ProcessID#2`); its values are taken in the same scan by record position (a small side table).
LoadReport.columns gives every Splunk field name's SQL identifier.

Raw fields named like Splunk default fields (OTRF's `host` is the collector host) are renamed
`extracted_<name>`, as Splunk does with search-time fields that collide with default fields.

Progress: `progress(bytes_done, bytes_total)` is called after each file is read, from time to time
inside long Python reads, and every quarter second from DuckDB's query progress while a large group of
JSON files is scanned; bytes are input file sizes, so the CLI can draw a bar. Always called from the
thread that called load_events; the last call is (total, total).

Time: `_time` = System/TimeCreated/@SystemTime (EVTX, XML), else `@timestamp` (OTRF: the export time,
seconds after the event; Winlogbeat: the event time), else Sysmon's UtcTime, else NXLog's EventTime where it
carries a zone; all read as UTC unless they carry an offset (cim.Mapping.time).

After loading: LoadReport.warnings names files whose records look like process creations in a layout the
runner does not know, and LoadReport.field_exists tells the raw search whether any event read (not only the
prefiltered ones) has a field (presence.py).
"""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Dict, List, Optional, Sequence, Tuple

import duckdb

from ..sqltext import sql_literal
from . import evtx_pool, readers, splunk_export
from .bounds import MAX_FIELDS
from .cim import EVENT_ALIASES, PROCESS_FIELDS, RAW_FIELDS_USED, Mapping
from .columns import assign_columns, quote_ident
from .containers import GZIP, Archives
from .detect import EVTX, JSONL, SPLUNK_CSV, SPLUNK_JSON, XML
from .inputs import Input, discover
from .layouts import NESTED_KEYS, UNKNOWN, LayoutStats, peek_layout, stats_warnings
from .model import FileReport, LoadError, LoadReport, Skipped
from .presence import FieldPresence, unknown_layout_warnings
from .sources import DATASETS, SOURCES, Dataset, event_codes

Progress = Callable[[int, int], None]

# Raw fields named like Splunk default fields are renamed extracted_<name>.
DEFAULT_FIELDS = ("host", "source", "sourcetype", "index", "_time", "_raw", "linecount", "splunk_server")
# Names the ingest layer adds to every event (Splunk System-field names; coalesced with OTRF names).
SYSTEM_ALIASES = {"Computer": "Hostname", "EventCode": "EventID", "EventRecordID": "RecordNumber"}
# A loose text pre-filter for process-creation records; cim.Mapping.is_process() decides exactly.
PROC_RE = r'"Event(?:ID|Code)"\s*:\s*"?(' + "|".join(event_codes()) + r')"?\s*[,}]'
PROGRESS_BYTES = 32 << 20        # groups larger than this report DuckDB's progress while scanned
WINLOGBEAT_REASON = "records in a nested layout (Winlogbeat, ECS)"
NON_OBJECT_REASON = "records that are not JSON objects (or empty objects)"
PROC_TABLE = "_ls_proc_json"
CAND_TABLE = "_ls_cand_json"     # a prefiltered load: (file, json, flags), see _scan_filtered; then the
                                 # candidate lines the `events` view reads
# Lines a prefiltered scan keeps whatever the filter says, so the Winlogbeat test sees every top-level key
# the full scan would (a `\uXXXX` escape may spell `winlog`).
# (a regex, not contains(): RE2 skips ahead on the literal faster than contains() scans)
WINLOG_TEXT_SQL = ("(" + " OR ".join(f"""regexp_matches(json, '"{k}"\\s*:')""" for k in NESTED_KEYS)
                   + r""" OR regexp_matches(json, '\\u[0-9A-Fa-f]{4}'))""")
NESTED_TEXT_SQL = "(" + " OR ".join(f"contains(json, '\"{k}\"')" for k in NESTED_KEYS) + ")"
NON_OBJECT_RE = r'^\s*\{\s*"'         # fails only on records that are not objects, or empty objects
# Field names the `events` view computes rather than reads from the raw line (besides `extracted_<name>`,
# raw fields renamed): what a prefilter must not take as raw text.
DERIVED_FIELDS = tuple(dict.fromkeys(list(DEFAULT_FIELDS) + list(SYSTEM_ALIASES) + EVENT_ALIASES))
GROUP_BYTES = 1 << 30
GROUP_FILES = 256
BUNDLE_BYTES = 256 << 20
HIDDEN = "_ls_"                  # keys of staged records that are not event fields (splunk_export.OVERRIDE)
GLOB_CHARS = set("*?[]{}")        # DuckDB expands these in a path: such files are read through a link
DUPLICATE_KEYS_REASON = "records with duplicate keys"
MAX_VIEW_FIELDS = 2000
# records over bounds.MAX_FIELDS fields (at least 7 bytes a field: only long lines are looked at): read in Python,
# where they are skipped, in every load mode alike
# (CASE, not AND: DuckDB then parses only the rows the first test selects)
WIDE_SQL = f"(CASE WHEN length(json) > {7 * MAX_FIELDS} THEN len(json_keys(json)) > {MAX_FIELDS} ELSE false END)"
WIDE_REASON = f"records with more than {MAX_FIELDS:,} fields"


@dataclass
class _Unit:
    """One NDJSON file the SQL path reads (an input file or a staged one)."""

    sql_path: Path
    report: Optional[FileReport]     # None for a bundle of staged events (their inputs have their own)
    size: int
    keys: Counter = field(default_factory=Counter)      # of candidate lines only in a prefiltered scan
    events: int = 0
    needs_python: str = ""      # why the file must be re-read in Python (empty: SQL path is fine)
    table: str = ""             # the candidate lines of a prefiltered load: a table (ord, json), not a file


def _path_list(units: Sequence[_Unit]) -> str:
    return "[" + ", ".join(sql_literal(str(u.sql_path)) for u in units) + "]"


def _groups(units: List[_Unit]) -> List[List[_Unit]]:
    out: List[List[_Unit]] = []
    cur: List[_Unit] = []
    size = 0
    for u in units:
        if cur and (size + u.size > GROUP_BYTES or len(cur) >= GROUP_FILES):
            out.append(cur)
            cur, size = [], 0
        cur.append(u)
        size += u.size
    if cur:
        out.append(cur)
    return out


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


def _scan(con: duckdb.DuckDBPyConnection, units: List[_Unit],
          tick: Optional[Callable[[float], None]] = None, field_names: bool = True,
          line_filter: Optional[str] = None) -> None:
    """Pass 1 over a group of NDJSON files: field names, event counts, process-creation records.
    Without `field_names` (no raw-event search to serve) the costly per-record key listing is skipped;
    with a `line_filter` it is done on the candidate lines only (see _scan_filtered)."""
    by_name = {str(u.sql_path): u for u in units}
    if not field_names:
        _scan_light(con, units, by_name, tick)
        return
    if line_filter is not None:
        _scan_filtered(con, units, by_name, tick, line_filter)
        return
    _execute(con,
        f"""CREATE OR REPLACE TEMP TABLE _ls_scan AS
            SELECT filename, any_value(k) AS keys, count(*) AS n,
                   list(json) FILTER (WHERE regexp_matches(json, {sql_literal(PROC_RE)})) AS procs
            FROM (SELECT filename, json, json_keys(json) AS k
                  FROM read_ndjson_objects({_path_list(units)}, filename = true))
            GROUP BY filename, hash(k)""", tick)
    rows = con.execute("SELECT filename, keys, n FROM _ls_scan").fetchall()
    _take_process_records(con)
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


def _take_process_records(con: duckdb.DuckDBPyConnection) -> None:
    """Move the process-creation records a scan collected in _ls_scan into PROC_TABLE; drop _ls_scan."""
    con.execute(f"INSERT INTO {PROC_TABLE} SELECT filename, unnest(procs) FROM _ls_scan WHERE len(procs) > 0")
    con.execute("DROP TABLE _ls_scan")


def _scan_light(con: duckdb.DuckDBPyConnection, units: List[_Unit], by_name: Dict[str, _Unit],
                tick: Optional[Callable[[float], None]]) -> None:
    """Pass 1 without field names: event counts, process-creation records, and the two cheap text tests
    that send a file to the Python readers (records that are not objects, Winlogbeat records)."""
    _execute(con,
        f"""CREATE OR REPLACE TEMP TABLE _ls_scan AS
            SELECT filename, count(*) AS n,
                   count(*) FILTER (WHERE NOT starts_with(json, '{{')) AS non_objects,
                   count(*) FILTER (WHERE {NESTED_TEXT_SQL}) AS winlog,
                   count(*) FILTER (WHERE {WIDE_SQL}) AS wide,
                   list(json) FILTER (WHERE regexp_matches(json, {sql_literal(PROC_RE)})) AS procs
            FROM read_ndjson_objects({_path_list(units)}, filename = true)
            GROUP BY filename""", tick)
    rows = con.execute("SELECT filename, n, non_objects, winlog, wide FROM _ls_scan").fetchall()
    _take_process_records(con)
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


def _scan_filtered(con: duckdb.DuckDBPyConnection, units: List[_Unit], by_name: Dict[str, _Unit],
                   tick: Optional[Callable[[float], None]], line_filter: str) -> None:
    """Pass 1 with a prefilter, in one read of the files: a row per line in CAND_TABLE (flags: process
    creation `p`, candidate `k`, not a non-empty object `o`; the text only where p or k), from which
    every line is counted, process-creation records are taken from every line, and field names are
    listed for the candidate lines only. Candidates: the filter's lines, plus any line that may carry a
    top-level `winlog` key, so the Winlogbeat test sees what the full scan would. (No list aggregates:
    one huge list per file is slow and memory-hungry in DuckDB.)"""
    files = [str(u.sql_path) for u in units]
    _execute(con,
        f"""INSERT INTO {CAND_TABLE}
            SELECT filename, CASE WHEN p OR k THEN json END, p, k, o
            FROM (SELECT filename, json,
                         regexp_matches(json, {sql_literal(PROC_RE)}) AS p,
                         (({line_filter}) OR {WINLOG_TEXT_SQL}) AS k,
                         (NOT regexp_matches(json, {sql_literal(NON_OBJECT_RE)}) OR {WIDE_SQL}) AS o
                  FROM read_ndjson_objects({_path_list(units)}, filename = true))""", tick)
    rows = con.execute(f"SELECT file, count(*), count(*) FILTER (WHERE o) FROM {CAND_TABLE} "
                       f"WHERE list_contains(?, file) GROUP BY file", [files]).fetchall()
    con.execute(f"INSERT INTO {PROC_TABLE} SELECT file, json FROM {CAND_TABLE} WHERE p AND list_contains(?, file)",
                [files])
    con.execute(f"DELETE FROM {CAND_TABLE} WHERE NOT k AND list_contains(?, file)", [files])
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


def _reset(con: duckdb.DuckDBPyConnection, u: _Unit) -> None:
    u.keys.clear()
    u.events = 0
    u.needs_python = ""
    con.execute(f"DELETE FROM {PROC_TABLE} WHERE file = ?", [str(u.sql_path)])
    con.execute(f"DELETE FROM {CAND_TABLE} WHERE file = ?", [str(u.sql_path)])


def _scan_all(con: duckdb.DuckDBPyConnection, units: List[_Unit],
              tick: Optional[Callable[[float], None]] = None, field_names: bool = True,
              line_filter: Optional[str] = None) -> None:
    """Pass 1 in groups; a group that fails (malformed JSON) is scanned file by file to find the culprit."""
    for group in _groups(units):
        try:
            _scan(con, group, tick, field_names, line_filter)
        except duckdb.Error:
            for u in group:
                _reset(con, u)
                try:
                    _scan(con, [u], field_names=field_names, line_filter=line_filter)
                    if u.needs_python:
                        con.execute(f"DELETE FROM {PROC_TABLE} WHERE file = ?", [str(u.sql_path)])
                        con.execute(f"DELETE FROM {CAND_TABLE} WHERE file = ?", [str(u.sql_path)])
                except duckdb.Error as exc:
                    u.needs_python = f"unreadable by the SQL path ({str(exc).splitlines()[0]})"


class _Stager:
    """Writes the events of Python-read inputs into a few flat NDJSON bundles in the staging folder
    (few files keep DuckDB's per-file cost low when a folder holds hundreds of EVTX files)."""

    def __init__(self, root: Path, report: LoadReport, tick: Callable[[int], None],
                 processes_only: bool = False) -> None:
        self.root = root
        self.processes_only = processes_only     # EVTX: stage only what may be process creations
        self.unstaged = 0                         # EVTX events counted, not staged (evtx_pool)
        self.report = report
        self.tick = tick
        self.bundles: List[_Unit] = []
        self._out: Optional[IO[str]] = None
        self.archives = Archives()

    def _bundle(self, size: int) -> IO[str]:
        if self._out is None or self._out.tell() > BUNDLE_BYTES:
            self.close()
            path = self.root / f"staged-{len(self.bundles) + 1:04d}.ndjson"
            self._out = open(path, "w", encoding="utf-8")
            self.bundles.append(_Unit(path, None, 0))
        self.bundles[-1].size += size
        return self._out

    def skipper(self, freport: FileReport) -> Callable[[int, str], None]:
        def skip(rec: int, reason: str) -> None:
            freport.records_skipped += 1
            self.report.skipped.append(Skipped(freport.path, rec, reason))
        return skip

    def stage(self, src: Input, fmt: str, freport: FileReport) -> None:
        """Read one input in Python into the current bundle. OSError/ValueError: the input cannot be read."""
        skip = self.skipper(freport)
        out = self._bundle(src.size)
        if fmt == EVTX:
            if src.plain:
                got = evtx_pool.stage_path(src.path, out, self.processes_only)
            else:
                with src.open(self.archives) as fh:
                    got = evtx_pool.stage_stream(fh, out, self.processes_only)
            self.evtx_done(freport, got)
            return
        if fmt == JSONL:
            stats = LayoutStats()
            with src.open(self.archives) as fh:
                freport.events_read = readers.stage_json_lines(fh, out, skip, self.tick, stats)
            freport.format = stats.format_name(freport.format)
            self.report.warnings.extend(stats_warnings(src.name, stats))
            return
        reader = {XML: readers.stage_xml_lines,
                  SPLUNK_CSV: splunk_export.stage_splunk_csv, SPLUNK_JSON: splunk_export.stage_splunk_json}[fmt]
        with src.open(self.archives) as fh:
            freport.events_read = reader(fh, out, skip, self.tick)

    def evtx_done(self, freport: FileReport, got: "evtx_pool.EvtxOutcome") -> None:
        skip = self.skipper(freport)
        freport.events_read = got.events
        freport.records_stated = got.stated
        self.unstaged += got.unstaged
        for rec, reason in got.skipped:
            skip(rec, reason)

    def add_bundle(self, path: Path) -> None:
        self.bundles.append(_Unit(path, None, path.stat().st_size))

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self.archives.close()


def _layers(keys: List[str]) -> List[List[str]]:
    """Split keys into lists without two names equal case-insensitively (one read_json each)."""
    layers: List[List[str]] = []
    for k in keys:
        for layer in layers:
            if all(k.lower() != x.lower() for x in layer):
                layer.append(k)
                break
        else:
            layers.append([k])
    return layers


def _read_json(units: Sequence[_Unit], keys: Sequence[str], ordinality: bool = False) -> str:
    """A relation of the records' `keys` (VARCHAR), with their position `ordinality` if asked. For the candidate
    table, json_transform: the same JSON-to-VARCHAR transform read_json applies (numbers re-rendered,
    nested values re-serialised, keys matched alike)."""
    if units[0].table:
        struct = json.dumps({k: "VARCHAR" for k in keys})
        return (f"(SELECT rowid AS ordinality, unnest(json_transform(json, {sql_literal(struct)})) "
                f"FROM {units[0].table})")
    struct = "{" + ", ".join(f"{sql_literal(k)}: 'VARCHAR'" for k in keys) + "}"
    return (f"read_json({_path_list(units)}, format = 'newline_delimited', records = true, "
            f"columns = {struct})" + (" WITH ORDINALITY" if ordinality else ""))


def _variant_tables(con: duckdb.DuckDBPyConnection, groups: List[List[_Unit]],
                    variants: List[str], cols: Dict[str, str]) -> List[Optional[str]]:
    """For raw fields whose column is not their own name (case variants), a side table per group:
    (ord, <columns>) for the records that carry one of them, matched to the view's rows by position
    (WITH ORDINALITY over the same files in the same order)."""
    out: List[Optional[str]] = []
    for gi, group in enumerate(groups):
        present = [k for k in variants if any(k in u.keys for u in group)]
        if not present:
            out.append(None)
            continue
        parts = []
        for li, layer in enumerate(_layers(present)):
            part = f"_ls_variants_{gi}_{li}"
            sel = ", ".join(f"{quote_ident(k)} AS {quote_ident(cols[k])}" for k in layer)
            cond = " OR ".join(f"{quote_ident(k)} IS NOT NULL" for k in layer)
            con.execute(f"""CREATE OR REPLACE TEMP TABLE {part} AS
                            SELECT ordinality AS ord, {sel} FROM {_read_json(group, layer, True)}
                            WHERE {cond}""")
            parts.append(part)
        name = f"_ls_variants_{gi}"
        if len(parts) == 1:
            con.execute(f"ALTER TABLE {parts[0]} RENAME TO {name}")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {' FULL JOIN '.join(parts[:1] + [p + ' USING (ord)' for p in parts[1:]])}")
            for part in parts:
                con.execute(f"DROP TABLE {part}")
        out.append(name)
    return out


def load_events(paths: Sequence[Path], con: duckdb.DuckDBPyConnection,
                progress: Optional[Progress] = None, raw_events: bool = True,
                line_filter: Optional[str] = None, keep_going: bool = False) -> LoadReport:
    """Read event files/folders into `con`: view `events`, table `processes`. See the module docstring.

    raw_events=False builds only `processes` (enough for a tstats search over Endpoint.Processes): the
    field-name pass that the `events` view needs is skipped, which roughly halves the time on JSON lines.
    LoadReport.columns["events"] is then empty and no `events` view exists.

    line_filter (with raw_events=True): a SQL condition on the raw line text `json` that every event the
    raw-event search can match satisfies (localsearch.spl.prefilter.line_filter); `events` then holds only
    the lines passing it (and its columns are the fields of those lines), while LoadReport.events, the
    per-file counts and `processes` still cover every event read.

    progress(bytes_done, bytes_total), if given, is called from the calling thread as reading goes on.
    DuckDB's own progress bar printing is switched off while loading (it would write to stdout) and the
    connection's settings are restored afterwards.

    An input that cannot be read (missing, unreadable file or folder, unknown format when named explicitly,
    damaged archive, not a readable EVTX file) raises LoadError naming it and the reason; with keep_going it
    is listed in LoadReport.failed instead and the others are read.
    """
    saved = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                             "('enable_progress_bar', 'enable_progress_bar_print', 'progress_bar_time')").fetchall())
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET progress_bar_time = 0")
    try:
        return _load(paths, con, progress, raw_events, line_filter if raw_events else None, keep_going)
    finally:
        for name in sorted(saved, key=lambda n: n != "progress_bar_time"):   # no bar printed meanwhile
            con.execute(f"SET {name} = {saved[name]}")


def _load(paths: Sequence[Path], con: duckdb.DuckDBPyConnection, progress: Optional[Progress],
          raw_events: bool, line_filter: Optional[str], keep_going: bool) -> LoadReport:
    report = LoadReport()
    disc = discover([Path(p) for p in paths])
    for p, why in disc.ignored:
        report.files.append(FileReport(p, "ignored", note=why))

    def fail(p: Path, why: str) -> None:
        if not keep_going:
            raise LoadError(p, why)
        report.failed.append((p, why))

    for p, why in disc.failed:
        fail(p, why)
    found = disc.inputs
    if not found:
        raise LoadError(Path(paths[0]) if paths else Path("."), "no event files found")

    total = sum(i.size for i in found)
    done = 0

    def emit(extra: int = 0) -> None:
        if progress is not None:
            progress(min(done + extra, total), total)

    # a previous load on this connection: its view and side tables go first
    con.execute("DROP VIEW IF EXISTS events")
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary "
                               "AND table_name LIKE '\\_ls\\_variants\\_%' ESCAPE '\\'").fetchall():
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PROC_TABLE} (file VARCHAR, json VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CAND_TABLE} (file VARCHAR, json VARCHAR, p BOOLEAN, k BOOLEAN, "
                f"o BOOLEAN)")
    staging = Path(tempfile.mkdtemp(prefix="localsearch-"))
    atexit.register(shutil.rmtree, staging, True)
    report.staging_dir = staging
    # DuckDB spills what outgrows its memory_limit (the candidate lines of a prefiltered load, large sorts) to
    # its temp_directory: the staging folder rather than `.tmp` in the user's current folder
    row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    if row is None or row[0] in ("", ".tmp"):
        con.execute(f"SET temp_directory = {sql_literal(str(staging / 'spill'))}")
    stager = _Stager(staging, report, emit, processes_only=not raw_events)

    units: List[_Unit] = []          # JSON lines files read by DuckDB where they are
    sources: Dict[int, Input] = {}   # id(FileReport) -> its input, for a re-read in Python
    pooled: List[Tuple[Input, FileReport]] = []
    try:
        for src in found:
            fr = FileReport(src.name, src.fmt, container=src.container)
            sources[id(fr)] = src
            report.files.append(fr)
            direct_json = src.fmt == JSONL and src.container in ("", GZIP)
            layout = None
            if direct_json:
                with src.open(stager.archives) as fh:
                    layout = peek_layout(fh)
            if direct_json and (layout is None or layout.flat):     # DuckDB reads it where it is
                fr.format = layout.name if layout is not None else UNKNOWN
                units.append(_Unit(_sql_path(src, staging, len(units)), fr, src.size))
            elif src.fmt == EVTX and src.plain:
                pooled.append((src, fr))
            else:
                _stage_or_fail(stager, src, fr, fail, report)
                done += src.size
                emit()
        done += _stage_evtx(stager, pooled, staging, fail, report)
        emit()

        # Pass 1 on JSON lines; files the SQL path cannot take as they are are read in Python instead.
        for group in _groups(units):
            size = sum(u.size for u in group)
            big = progress is not None and size > PROGRESS_BYTES
            _scan_all(con, group, _scaled(emit, size) if big else None, raw_events, line_filter)
            done += size
            emit()
        kept: List[_Unit] = []
        for u in units:
            unit_report = u.report
            assert unit_report is not None     # every unit of pass 1 is a file, with its report
            if u.needs_python:
                _reset(con, u)
                _stage_or_fail(stager, sources[id(unit_report)], unit_report, fail, report)
            else:
                unit_report.events_read = u.events
                kept.append(u)
    finally:
        stager.close()
    _scan_all(con, stager.bundles, field_names=raw_events, line_filter=line_filter)
    for u in stager.bundles:
        if u.needs_python:        # staged files are written by readers.py: this is a bug, not bad input
            raise LoadError(u.sql_path, f"staged events unreadable: {u.needs_python}")
    if stager.unstaged:          # EVTX events only counted (a data-model-only load): in the total all the same
        stager.bundles[0].events += stager.unstaged
    units = kept + stager.bundles
    if line_filter is None:
        con.execute(f"DROP TABLE {CAND_TABLE}")
        view_units = units
    else:
        view_units = [_candidates_unit(con, units)]
        report.candidates = view_units[0].events
    if raw_events:
        _check_field_count(view_units, units, found[0].name)
    ev_cols = _build_events(con, view_units) if raw_events else {}
    mapped = _build_processes(con, units, report, ev_cols)
    direct = {str(u.sql_path): u.report.path for u in kept if u.report is not None}
    report.warnings.extend(unknown_layout_warnings(con, direct, mapped))
    if raw_events:
        keys = set().union(*(u.keys for u in view_units)) if view_units else set()
        report.field_exists = FieldPresence(con, [str(u.sql_path) for u in units], keys,
                                            complete=line_filter is None,
                                            renamed={f"extracted_{k}": k for k in DEFAULT_FIELDS})
    emit()
    return report


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The value of a `SELECT count(*) ...` (an aggregate without GROUP BY: always one row)."""
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _scaled(emit: Callable[[int], None], size: int) -> Callable[[float], None]:
    """A progress tick for a fraction of `size` bytes done."""
    return lambda fraction: emit(int(fraction * size))


def _check_field_count(view_units: List[_Unit], units: List[_Unit], first: Path) -> None:
    """The events view has a column per distinct field name: past MAX_VIEW_FIELDS the load is refused, naming
    the input with the most names (every query would carry thousands of columns and DuckDB's memory grows
    with them: 10,000 names over 1,000 records took over 15 GB)."""
    names = set().union(*(u.keys for u in view_units)) if view_units else set()
    names = {k for k in names if k and not k.startswith(HIDDEN)}
    if len(names) <= MAX_VIEW_FIELDS:
        return
    worst = max(units, key=lambda u: len(u.keys))
    where = worst.report.path if worst.report is not None else first      # (a bundle holds many inputs)
    raise LoadError(where, f"unsupported in local runs: the events hold {len(names):,} distinct field names, over "
                           f"the {MAX_VIEW_FIELDS:,} a raw-event search can read (a tstats search is not limited)")


def _sql_path(src: Input, staging: Path, n: int) -> Path:
    """The path DuckDB reads a JSON lines input by: absolute (the view reads it again later, whatever the cwd),
    or, when the name holds characters DuckDB would expand as a glob, a link to it in the staging folder (the
    name is taken as it is, not as a pattern). A gzip file keeps a `.gz` name: DuckDB decompresses it."""
    path = src.path.resolve()
    if not (GLOB_CHARS & set(str(path))):
        return path
    link = staging / (f"input-{n:05d}.json" + (".gz" if src.container == GZIP else ""))
    link.symlink_to(path)
    return link


def _stage_or_fail(stager: "_Stager", src: Input, fr: FileReport, fail: Callable[[Path, str], None],
                   report: LoadReport) -> None:
    try:
        stager.stage(src, fr.format if fr.format in (EVTX, XML, SPLUNK_CSV, SPLUNK_JSON) else JSONL, fr)
    except (OSError, ValueError, EOFError) as exc:
        _drop(report, fr)
        fail(src.name, _reason(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read: {exc.strerror}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text


def _drop(report: LoadReport, fr: FileReport) -> None:
    """An input that failed: its report and its skipped records go (it is listed as failed instead)."""
    report.files = [f for f in report.files if f is not fr]
    report.skipped = [s for s in report.skipped if s.path != fr.path]


def _stage_evtx(stager: "_Stager", pooled: List[Tuple[Input, FileReport]], staging: Path,
                fail: Callable[[Path, str], None], report: LoadReport) -> int:
    """Plain EVTX files: with a process pool when they are large enough together (evtx_pool), else here.
    Returns their bytes."""
    size = sum(src.size for src, _ in pooled)
    if size < evtx_pool.POOL_BYTES or len(pooled) == 0:
        for src, fr in pooled:
            _stage_or_fail(stager, src, fr, fail, report)
        return size
    from concurrent.futures.process import BrokenProcessPool
    try:
        outs, outcomes = evtx_pool.stage_files([src.path for src, _ in pooled], staging,
                                               processes_only=stager.processes_only)
    except (ValueError, OSError, BrokenProcessPool):
        # one file is not readable EVTX (or the pool could not run): read them here, one by one, to name it
        for p in staging.glob("staged-evtx-*.ndjson"):
            p.unlink()
        for src, fr in pooled:
            _stage_or_fail(stager, src, fr, fail, report)
        return size
    for (_, fr), got in zip(pooled, outcomes):
        stager.evtx_done(fr, got)
    for p in outs:
        stager.add_bundle(p)
    return size


def _candidates_unit(con: duckdb.DuckDBPyConnection, units: List[_Unit]) -> _Unit:
    """The candidate lines of a prefiltered load (the rows left in CAND_TABLE, kept in memory like the
    records of pass 1) as the one unit the `events` view reads; it carries their field names."""
    unit = _Unit(Path(CAND_TABLE), None, 0, table=CAND_TABLE)
    for u in units:
        unit.keys.update(u.keys)
    unit.events = _count(con, f"SELECT count(*) FROM {CAND_TABLE}")
    return unit


def _build_events(con: duckdb.DuckDBPyConnection, units: List[_Unit]) -> Dict[str, str]:
    """The `events` view over the NDJSON files; returns its Splunk field name -> SQL column mapping."""
    raw_counts: Counter = Counter()
    for u in units:
        raw_counts.update(u.keys)
    hidden = sorted(k for k in raw_counts if k.startswith(HIDDEN))
    for k in hidden:
        del raw_counts[k]
    raw_counts.pop("", None)     # an empty JSON key names no field (and no SQL column can be named so)
    # Splunk field name of each raw key
    field_of = {k: (f"extracted_{k}" if k in DEFAULT_FIELDS else k) for k in raw_counts}
    field_counts = {field_of[k]: c for k, c in raw_counts.items()}
    derived = list(SYSTEM_ALIASES) + ["_time", "host", "source", "sourcetype", "index"] + EVENT_ALIASES
    cols = assign_columns(field_counts, derived, prefer=RAW_FIELDS_USED)
    derived_set = set(derived)
    variants = [k for k in raw_counts if cols[field_of[k]] != field_of[k]]
    plain = [k for k in raw_counts if k not in variants]

    groups = _groups(units)
    vtables = _variant_tables(con, groups, variants, {k: cols[field_of[k]] for k in variants})

    # events view: one SELECT per group, UNION ALL
    def resolver_for(has_variants: bool, from_text: bool) -> Callable[[str], Optional[str]]:
        def col(name: str) -> Optional[str]:
            if name in SYSTEM_ALIASES:
                alt = SYSTEM_ALIASES[name]
                parts = [e for e in (_raw_ref(name), _raw_ref(alt)) if e is not None]
                return f"coalesce({', '.join(parts)})" if len(parts) > 1 else (parts[0] if parts else None)
            return _raw_ref(name)

        def _raw_ref(name: str) -> Optional[str]:
            if name in hidden:
                return _hidden_ref(name)
            if name not in raw_counts:
                return None
            if name in variants:
                return f"v.{quote_ident(cols[field_of[name]])}" if has_variants else "CAST(NULL AS VARCHAR)"
            if from_text:       # one field per transform: a query parses only for the fields it uses
                return f"struct_extract(json_transform(r.json, {sql_literal(json.dumps({name: 'VARCHAR'}))}), {sql_literal(name)})"
            return f"r.{quote_ident(name)}"

        def _hidden_ref(name: str) -> str:
            if from_text:
                return f"struct_extract(json_transform(r.json, {sql_literal(json.dumps({name: 'VARCHAR'}))}), {sql_literal(name)})"
            return f"r.{quote_ident(name)}"
        return col

    selects = []
    for group, vt in zip(groups, vtables):
        from_text = bool(group[0].table)
        col = resolver_for(vt is not None, from_text)
        m = Mapping(col)
        items: List[Tuple[str, str]] = []
        for k in sorted(raw_counts, key=lambda x: cols[field_of[x]]):
            if field_of[k] in derived_set:
                continue        # same field as a derived one, which coalesces the raw value
            expr = col(k)
            assert expr is not None         # k is a raw field of these events: it always resolves
            items.append((cols[field_of[k]], expr))
        for name in SYSTEM_ALIASES:
            e = col(name)
            items.append((cols[name], e if e is not None else "CAST(NULL AS VARCHAR)"))
        for name, e in _with_export_defaults(m.defaults(), col).items():
            items.append((cols[name], e))
        for name, e in m.cim().items():
            raw = col(name) if name in raw_counts else None
            items.append((cols[name], f"coalesce({e}, {raw})" if raw else e))
        sel = ",\n  ".join(f"{e} AS {quote_ident(c)}" for c, e in items)
        # (no field at all: only a prefiltered load without candidates; read_json needs a column)
        if from_text:       # the candidate lines' text: each raw field taken by its own json_transform
            src = f"(SELECT rowid AS ordinality, json FROM {group[0].table})"
        else:
            src = _read_json(group, sorted(plain + hidden) or ["_ls_no_field"], vt is not None)
        if vt is not None:      # record positions only where a side table needs them (they cost time)
            src += f" AS r LEFT JOIN {vt} AS v ON v.ord = r.ordinality"
        else:
            src += " AS r"
        selects.append(f"SELECT\n  {sel}\nFROM {src}")
    con.execute("CREATE OR REPLACE VIEW events AS\n" + "\nUNION ALL\n".join(selects))

    ev_cols: Dict[str, str] = {}
    for k in raw_counts:
        f = field_of[k]
        if f not in derived_set:
            ev_cols[f] = quote_ident(cols[f])
    for name in list(SYSTEM_ALIASES) + ["_time", "host", "source", "sourcetype", "index"] + EVENT_ALIASES:
        ev_cols[name] = quote_ident(cols[name])

    return ev_cols


def _with_export_defaults(defaults: Dict[str, str], col: Callable[[str], Optional[str]]) -> Dict[str, str]:
    """Splunk default fields, taken from an export's own values where it gave them (splunk_export.py)."""
    out = dict(defaults)
    for name in splunk_export.DEFAULTS:
        e = col(splunk_export.OVERRIDE + name)
        if e is not None and name in out:
            given = f"try_cast({e} AS DOUBLE)" if name == "_time" else e
            out[name] = f"coalesce({given}, {out[name]})"
    return out


def _build_processes(con: duckdb.DuckDBPyConnection, units: List[_Unit], report: LoadReport,
                     ev_cols: Dict[str, str]) -> Dict[str, Tuple[int, int]]:
    """The `processes` table (CIM Endpoint.Processes) from the process-creation records of pass 1; returns
    per file read (SQL path): (rows, rows lacking a field their source always carries)."""
    needed = sorted(set(RAW_FIELDS_USED) | set(SYSTEM_ALIASES) | set(SYSTEM_ALIASES.values())
                    | {splunk_export.OVERRIDE + n for n in splunk_export.DEFAULTS})

    def pcol(name: str) -> Optional[str]:
        if name in SYSTEM_ALIASES:
            return f"coalesce(p.{quote_ident(name)}, p.{quote_ident(SYSTEM_ALIASES[name])})"
        return f"p.{quote_ident(name)}"

    pm = Mapping(pcol)
    paths = "[" + ", ".join(sql_literal("$." + json.dumps(k)) for k in needed) + "]"
    extract = ", ".join(f"x[{i + 1}] AS {quote_ident(k)}" for i, k in enumerate(needed))
    pcim = pm.cim()
    pdef = _with_export_defaults(pm.defaults(), pcol)
    psel = [f"{pdef['_time']} AS \"_time\""]
    for name in PROCESS_FIELDS:
        e = pcim.get(name) or pdef[name]
        psel.append(f"CAST({e} AS VARCHAR) AS {quote_ident(name)}")
    # materialised step by step: DuckDB inlines subquery columns, so each reference to x[i] (or to a
    # field in the CIM expressions) would parse the JSON again
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_proc_x AS SELECT file, json_extract_string(json, {paths}) AS x "
                f"FROM {PROC_TABLE}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_proc_raw AS SELECT file AS _ls_file, {extract} FROM _ls_proc_x")
    con.execute(
        f"""CREATE OR REPLACE TABLE processes AS
            SELECT {', '.join(psel)} FROM _ls_proc_raw AS p
            WHERE {pm.is_process()}
            ORDER BY "_time" """
    )
    lacking = " OR ".join(f"({pm.is_source(s)} AND ({' OR '.join(f'{pcol(r)} IS NULL' for r in s.required)}))"
                          for s in SOURCES if s.required) or "FALSE"
    mapped = {f: (n, k) for f, n, k in con.execute(
        f"SELECT _ls_file, count(*), count(*) FILTER (WHERE {lacking}) FROM _ls_proc_raw AS p "
        f"WHERE {pm.is_process()} GROUP BY _ls_file").fetchall()}
    ds_cols = {d.table: _build_dataset(con, pm, pdef, d) for d in DATASETS}
    for t in (PROC_TABLE, "_ls_proc_x", "_ls_proc_raw"):
        con.execute(f"DROP TABLE {t}")

    report.events = sum(u.events for u in units)
    report.processes = _count(con, "SELECT count(*) FROM processes")
    report.columns = {
        "events": ev_cols,
        "processes": {"_time": '"_time"', **{f: quote_ident(f) for f in PROCESS_FIELDS}},
        **ds_cols,
    }
    return mapped


def _build_dataset(con: duckdb.DuckDBPyConnection, pm: Mapping, pdef: Dict[str, str], ds: Dataset) -> Dict[str, str]:
    """The table of a CIM Endpoint dataset other than Processes (sources.DATASETS), built like `processes` from
    the records pass 1 collected; returns its columns (name -> SQL identifier)."""
    names = list(ds.fields) + ["host", "source", "sourcetype"]
    exprs = {**pdef, **pm.dataset(ds)}
    sel = [f"{pdef['_time']} AS \"_time\""] + [f"CAST({exprs[n]} AS VARCHAR) AS {quote_ident(n)}" for n in names]
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(ds.table)} AS SELECT {', '.join(sel)} "
                f"FROM _ls_proc_raw AS p WHERE {pm.is_dataset(ds)} ORDER BY \"_time\"")
    return {"_time": '"_time"', **{n: quote_ident(n) for n in names}}
