"""load_events: read Windows event files into DuckDB as `events` (view) and `processes` (table).

How it works (one mapping path for every format):
1. Inputs are discovered and their format detected from content (detect.py).
2. JSON lines in a flat layout (OTRF/Mordor, NXLog, other flat objects; layouts.py, told by the first record)
   are read by DuckDB where they are. EVTX (the `evtx` package's JSON rendering), XmlWinEventLog text, the
   nested JSON layouts (Winlogbeat, ECS, Elastic Agent) and JSON files with unreadable records are read
   in Python (readers.py, flatten.py; staged by staging.py) as flat NDJSON bundles in a temporary folder
   (removed when the process exits); unreadable records are reported in LoadReport.skipped with file and record
   number, and reading goes on. A load for the data model only (raw_events=False) stages only the EVTX records
   that may be process creations and counts the others (evtx_pool.count_only).
3. One multi-threaded DuckDB scan per group of files collects the field names present (with counts),
   the number of events, and the process-creation records (Sysmon 1 / Security 4688) (scan.py, over the
   units of units.py).
4. `processes` (CIM Endpoint.Processes) and the other Endpoint dataset tables are built from those records by
   the SQL mapping in cim.py (datamodel.py); a GROUP BY on the scan's file column over the same rows gives each
   input's rows per table (FileReport.mapped, LoadReport.mapped; a bundle's process records are labelled by
   input first, scan.label_by_input).
5. `events` (events_view.py; skipped with raw_events=False, when only a tstats search runs) is a VIEW over the NDJSON files (DuckDB read_json with the discovered columns, all VARCHAR),
   plus `_time`, host/source/sourcetype/index, the System-field names Splunk uses (Computer, EventCode,
   EventRecordID) and, on process-creation rows, the CIM aliases (same SQL mapping). A view keeps memory
   flat whatever the input size: each query streams the files again (only the columns it uses are
   parsed). The files must stay in place while the connection is used.

Prefilter (`line_filter`, a SQL condition on the raw line text `json`, from localsearch.spl.prefilter): pass 1
still counts every event and collects every process-creation record, but lists field names only of the lines
passing the filter (the candidates), and keeps those lines in a table that `events` is built over (in
memory, DuckDB's json_transform giving the values read_json would; past a quarter of the memory limit in staged
files instead, candidates.py): `events` then holds the candidate events only (a superset of what the leading
search matches). LoadReport.events and FileReport.events_read still count every event read.

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
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import duckdb

from ..sqltext import sql_literal
from .columns import quote_ident
from .containers import GZIP
from .datamodel import Mapped, build_processes
from .detect import EVTX, JSONL
from .events_view import build_events, check_field_count
from .fieldnames import DEFAULT_FIELDS, DERIVED_FIELDS
from .inputs import Input, discover
from .layouts import UNKNOWN, peek_layout
from .model import FileReport, LoadError, LoadReport
from .presence import FieldPresence, unknown_layout_warnings
from .candidates import CAND_TABLE, CandidateStore
from .scan import PROC_RE, PROC_TABLE, label_by_input, reset_unit, scan_all
from .staging import Stager, input_sql_path, stage_evtx, stage_or_fail
from .units import Unit, unit_groups

__all__ = ["load_events", "DERIVED_FIELDS", "PROC_RE", "Progress"]

Progress = Callable[[int, int], None]
PROGRESS_BYTES = 32 << 20        # groups larger than this report DuckDB's progress while scanned


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
    staging = Path(tempfile.mkdtemp(prefix="localsearch-"))
    atexit.register(shutil.rmtree, staging, True)
    report.staging_dir = staging
    candidates = CandidateStore(con, staging)
    # DuckDB spills what outgrows its memory_limit (the candidate lines of a prefiltered load, large sorts) to
    # its temp_directory: the staging folder rather than `.tmp` in the user's current folder
    row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    if row is None or row[0] in ("", ".tmp"):
        con.execute(f"SET temp_directory = {sql_literal(str(staging / 'spill'))}")
    stager = Stager(staging, report, emit, processes_only=not raw_events)

    units: List[Unit] = []          # JSON lines files read by DuckDB where they are
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
                units.append(Unit(input_sql_path(src, staging, len(units)), fr, src.size, inputs=[fr]))
            elif src.fmt == EVTX and src.plain:
                pooled.append((src, fr))
            else:
                stage_or_fail(stager, src, fr, fail, report)
                done += src.size
                emit()
        done += stage_evtx(stager, pooled, staging, fail, report)
        emit()

        # Pass 1 on JSON lines; files the SQL path cannot take as they are are read in Python instead.
        for group in unit_groups(units):
            size = sum(u.size for u in group)
            big = progress is not None and size > PROGRESS_BYTES
            scan_all(con, group, _scaled(emit, size) if big else None, raw_events, line_filter)
            if line_filter is not None:
                candidates.after_group(group)
            done += size
            emit()
        kept: List[Unit] = []
        for u in units:
            unit_report = u.report
            assert unit_report is not None     # every unit of pass 1 is a file, with its report
            if u.needs_python:
                reset_unit(con, u)
                stage_or_fail(stager, sources[id(unit_report)], unit_report, fail, report)
            else:
                unit_report.events_read = u.events
                kept.append(u)
    finally:
        stager.close()
    for group in unit_groups(stager.bundles):
        scan_all(con, group, field_names=raw_events, line_filter=line_filter)
        if line_filter is not None:
            candidates.after_group(group)
    label_by_input(con, stager.bundles)
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
        view_units = candidates.units(units)
        report.candidates = sum(u.events for u in view_units)
        report.candidate_bytes, report.candidate_budget = candidates.total_bytes, candidates.limit
        report.candidates_on_disk = bool(candidates.files)
    if raw_events:
        check_field_count(view_units, units, found[0].name)
    ev_cols = build_events(con, view_units) if raw_events else {}
    mapped = build_processes(con, units, report, ev_cols)
    _count_mapped(report, units, mapped)
    direct = {str(u.sql_path): u.report.path for u in kept if u.report is not None}
    report.warnings.extend(unknown_layout_warnings(con, direct, mapped.processes()))
    if raw_events:
        keys = set().union(*(u.keys for u in view_units)) if view_units else set()
        report.field_exists = FieldPresence(con, [str(u.sql_path) for u in units], keys,
                                            complete=line_filter is None,
                                            renamed={f"extracted_{k}": k for k in DEFAULT_FIELDS})
    emit()
    return report


def _count_mapped(report: LoadReport, units: List[Unit], mapped: Mapped) -> None:
    """FileReport.mapped of every file read: its rows in each data-model table, summed over the files DuckDB
    read its records from (the input itself, or the bundle it was staged into, by the labels of
    scan.label_by_input). A staged file holding records of several inputs in no known order (one the process
    pool's workers share) cannot tell them apart: if it mapped any row, its inputs are left uncounted (None)
    rather than guessed."""
    counts: Dict[int, Counter] = {}
    unknown: Set[int] = set()
    for u in units:
        rows = mapped.rows.get(str(u.sql_path), {})
        for label, fr in u.labels.items():
            counts.setdefault(id(fr), Counter()).update(mapped.rows.get(label, {}))
        if len(u.inputs) == 1:
            counts.setdefault(id(u.inputs[0]), Counter()).update(rows)
        elif any(rows.values()):
            unknown.update(id(fr) for fr in u.inputs)
    for fr in report.files:
        if fr.format != "ignored":
            got = counts.get(id(fr), Counter())
            fr.mapped = None if id(fr) in unknown else {m: got[m] for m in report.mapped}


def _scaled(emit: Callable[[int], None], size: int) -> Callable[[float], None]:
    """A progress tick for a fraction of `size` bytes done."""
    return lambda fraction: emit(int(fraction * size))
