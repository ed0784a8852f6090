"""Runs a parsed SPL pipeline on a DuckDB connection holding the `events` and `processes` tables.

The front end (spl/pipeline.py) parses the macro-expanded search once; each command's registry entry
(spl/commands/) compiles it to SQL over the current result set, and this module only executes: it is the
`Runtime` those compile steps use (temporary tables with an `__ord` row-order column, the loaded tables'
columns, the time window, warnings, lookup files) and it runs custom search commands from commands.conf as
real subprocesses through `localsearch.chunked.run_streaming_command`, fed in chunks like splunkd feeds them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import duckdb

from . import confine
from .conf import AppConfs
from .lookups import read_lookup
from .spl.commands import CustomCmd, Frame, LookupTable, spec_of
from .spl.errors import SplError, Unsupported
from .spl.pipeline import Pipeline, Sources, parse_expanded, parse_pipeline
from .spl.sql import Col

Value = object   # str | list[str] | None

CHUNK_SIZE = 50_000

__all__ = ["CommandError", "Frame", "Result", "SearchEngine", "reads_raw_events", "sources_of", "to_value"]


def sources_of(confs: AppConfs) -> Sources:
    """The conf layers the front end reads: macros.conf and savedsearches.conf (local/ over default/)."""
    return Sources(confs.conf("macros"), confs.conf("savedsearches"))


def reads_raw_events(expanded: str) -> bool:
    """Whether a (macro-expanded) search reads raw events; False when it starts with `| tstats`, which
    reads only the data model, so the loader can skip building the raw `events` view."""
    try:
        return parse_expanded(expanded).reads_raw_events()
    except SplError:
        return True      # the search reports its error when it runs


class CommandError(SplError):
    """A custom search command failed; the message carries the command's ERROR messages."""


@dataclass
class Result:
    fields: List[str]
    rows: List[List[Value]]
    messages: List[Tuple[str, str]] = field(default_factory=list)   # (level, text) from custom commands
    warnings: List[str] = field(default_factory=list)
    search: str = ""                                               # the expanded search


def number_text(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_value(value: object) -> Value:
    """A DuckDB value as Splunk represents it: text, a list of texts (multivalue) or None (no value)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = [v for v in (to_value(x) for x in value) if v is not None]
        flat: List[str] = []
        for v in items:
            if isinstance(v, list):
                flat.extend(v)
            else:
                flat.append(str(v))
        if not flat:
            return None
        return flat[0] if len(flat) == 1 else flat
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    text = str(value)
    return text if text != "" else None


def command_argv(confs: AppConfs, python: str, cmd: CustomCmd) -> List[str]:
    """How a custom command is run: [python, its script in the app's bin/], from commands.conf, as splunkd
    finds it (a protocol v2 Python script); SplError/Unsupported for one that cannot be run."""
    name, pos = cmd.name, cmd.pos
    commands = confs.conf("commands")
    stanza = name if commands.has_stanza(name) else name.lower()
    if not commands.has_stanza(stanza):
        raise Unsupported(f"command {name}", pos)
    filename = commands.get(stanza, "filename")
    if not filename:
        raise SplError(f"command {name}: no filename in {commands.where(stanza)}", pos)
    if (commands.get(stanza, "chunked") or "false").strip().lower() not in ("1", "true", "t", "yes", "y"):
        raise Unsupported(f"command {name}: protocol v1 (chunked is not true)", pos)
    try:
        script = confine.command_script(confs.app_dir / "bin", filename, commands.where(stanza))
    except confine.OutsideApp as exc:
        raise SplError(f"command {name}: {exc}", pos) from None
    if not filename.endswith(".py") or not script.is_file():
        raise SplError(f"command {name}: {script} does not exist or is not a Python script", pos)
    return [python, str(script)]


def start_commands(confs: AppConfs, pipeline: Pipeline, python: str = sys.executable) -> Dict[Tuple[str, ...], Any]:
    """Start the processes of the pipeline's custom commands now (argv -> process), so that their start-up
    (an interpreter and splunklib, about a sixth of a second) overlaps the loading of the events; the engine
    given them speaks to them, and close_started() ends those never used. A command that cannot be run is
    left for the engine to report when the search reaches it."""
    from .chunked import ChunkedProcess
    started: Dict[Tuple[str, ...], Any] = {}
    for cmd in pipeline.commands:
        if not isinstance(cmd, CustomCmd):
            continue
        try:
            argv = command_argv(confs, python, cmd)
        except SplError:
            continue
        if tuple(argv) not in started:
            try:
                started[tuple(argv)] = ChunkedProcess(argv, cwd=str(confs.app_dir))
            except OSError:
                continue
    return started


def close_started(started: Dict[Tuple[str, ...], Any]) -> None:
    """End started command processes (start_commands) that were not used."""
    for proc in started.values():
        if proc.proc.poll() is None:
            proc.proc.kill()
        proc.close(timeout=5.0)
    started.clear()


class SearchEngine:
    def __init__(self, con, columns: Dict[str, Dict[str, str]], confs: AppConfs, *,
                 earliest: Optional[float] = None, latest: Optional[float] = None,
                 app_name: str = "DA-ESS-WmiProcessExecution", chunk_size: int = CHUNK_SIZE,
                 python: str = sys.executable, command_runner: Optional[Callable] = None,
                 events_label: Optional[str] = None,
                 field_exists: Optional[Callable[[str], bool]] = None,
                 started: Optional[Dict[Tuple[str, ...], Any]] = None):
        self.con = con
        # how warnings name the `events` rows when the loader holds only a prefiltered part of them
        self.events_label = events_label
        # whether any loaded event has a raw field (also those a prefilter kept out of `events`): the raw
        # search warns only about fields no event has, so the warning is the same with and without it
        self.field_exists = field_exists
        self.columns = columns
        self.confs = confs
        self.earliest = earliest
        self.latest = latest
        self.app_name = app_name
        self.chunk_size = chunk_size
        self.python = python
        self.command_runner = command_runner
        # command processes started before the events were loaded (start_commands): argv -> process
        self.started: Dict[Tuple[str, ...], Any] = dict(started or {})
        self._n = 0
        self.messages: List[Tuple[str, str]] = []
        self.warnings: List[str] = []
        self.search = ""

    # ---- entry points ----------------------------------------------------------------------------
    def parse(self, search: str) -> Pipeline:
        return parse_pipeline(search, sources_of(self.confs))

    def run(self, search: Union[str, Pipeline]) -> Result:
        try:
            pipeline = self.parse(search) if isinstance(search, str) else search
        except SplError as exc:
            self.search = exc.search or ""       # what the error's position points into
            raise
        self.search = pipeline.search
        try:
            frame = self.run_pipeline(pipeline)
        except SplError as exc:
            pipeline.annotate(exc)       # names the macro the error's position points into
            raise
        finally:
            self.close_started()
        fields, rows = self.fetch(frame)
        return Result(fields, rows, list(self.messages), list(self.warnings), pipeline.search)

    def run_pipeline(self, pipeline: Pipeline) -> Frame:
        frame: Optional[Frame] = None
        for cmd in pipeline.commands:
            spec = spec_of(cmd)
            if spec is not None:
                frame = spec.compile(cmd, frame, self)
            elif isinstance(cmd, CustomCmd) and frame is not None:
                frame = self.custom(frame, cmd)
            else:
                raise Unsupported(f"command {type(cmd).__name__}", cmd.pos)
        if frame is None:
            raise SplError("empty search")
        return frame

    # ---- the Runtime of compile steps ----------------------------------------------------------------
    def new_table(self, suffix: str = "") -> str:
        self._n += 1
        return f"_ls_r{self._n}{suffix}"

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def execute(self, sql: str) -> None:
        try:
            self.con.execute(sql)
        except duckdb.Error as exc:     # as in materialize: an error of the search (or a refusal met in a row)
            raise SplError(_cannot_run(exc)) from None

    def create_table(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.con.execute(f"CREATE TEMP TABLE {table} ({', '.join(columns)})")
        if rows:     # one column list per column (far faster than a row at a time)
            types = [c.split(None, 1)[1] for c in columns]
            params = [[r[i] for r in rows] for i in range(len(columns))]
            select = ", ".join(f"unnest(${i + 1}::{t}[])" for i, t in enumerate(types))
            self.con.execute(f"INSERT INTO {table} SELECT {select}", params)

    def lookup_table(self, name: str, pos: int) -> LookupTable:
        return read_lookup(self.confs, name, pos)

    def count(self, sql: str) -> int:
        row = self.con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def subsearch_frame(self, pipeline: Pipeline) -> Frame:
        """Runs a subsearch's pipeline on the same data (before the command that holds it)."""
        return self.run_pipeline(pipeline)

    def subsearch_rows(self, pipeline: Pipeline) -> Tuple[List[str], List[List[Value]]]:
        return self.fetch(self.subsearch_frame(pipeline))

    def _types(self, table: str) -> Dict[str, str]:
        return {row[0]: row[1] for row in self.con.execute(f"DESCRIBE {table}").fetchall()}

    def materialize(self, source: str, exprs: List[Tuple[str, str]], where: str = "TRUE",
                    order: str = "__ord") -> Frame:
        """New temporary table from SELECT exprs FROM source WHERE where (row order kept)."""
        table = self.new_table()
        select = ", ".join([f"row_number() OVER (ORDER BY {order}) AS __ord"] +
                           [f"{sql} AS c{i}" for i, (_, sql) in enumerate(exprs)])
        try:
            self.con.execute(f"CREATE TEMP TABLE {table} AS SELECT {select} FROM {source} WHERE {where} "
                             f"ORDER BY {order}")
        except duckdb.Error as exc:     # e.g. a regex RE2 rejects: an error of the search, not a crash
            raise SplError(_cannot_run(exc)) from None
        types = self._types(table)
        return Frame(table, [Col(name, f"c{i}", types[f"c{i}"]) for i, (name, _) in enumerate(exprs)])

    def base_cols(self, table: str) -> List[Col]:
        mapping = self.columns.get(table)
        if mapping is None:
            raise SplError(f"no '{table}' table was loaded")
        types = self._types(table)
        cols = []
        for name, quoted in mapping.items():
            raw = quoted[1:-1].replace('""', '"') if quoted.startswith('"') else quoted
            cols.append(Col(name, quoted, types.get(raw, "VARCHAR")))
        return cols

    def time_filter(self, time_sql: Optional[str], table: str, label: Optional[str] = None,
                    pred: Optional[str] = None) -> str:
        """The SQL time-window condition. Under a window, untimed rows are counted for a warning: with `pred`
        only those the search's condition matches (the same whatever part of the events was loaded)."""
        conds = []
        if self.earliest is not None:
            conds.append(f"{time_sql} >= {self.earliest!r}")
        if self.latest is not None:
            conds.append(f"{time_sql} < {self.latest!r}")
        if conds and time_sql is None:
            raise SplError("the loaded data has no _time field, so --earliest/--latest cannot apply")
        if conds:
            where = f"{time_sql} IS NULL" + (f" AND ({pred})" if pred is not None else "")
            untimed = self.con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
            if untimed and pred is not None:
                self.warnings.append(f"{untimed} events that match the search have no readable time: they are "
                                     f"outside any --earliest/--latest window")
            elif untimed:
                self.warnings.append(f"{untimed} events in {label or table} have no readable time: outside any "
                                     f"--earliest/--latest window")
        return " AND ".join(conds) if conds else "TRUE"

    # ---- custom search commands ------------------------------------------------------------------------
    def close_started(self) -> None:
        """End the started command processes that no command used."""
        close_started(self.started)

    def custom(self, frame: Frame, cmd: CustomCmd) -> Frame:
        name = cmd.name
        argv = command_argv(self.confs, self.python, cmd)
        args = cmd.args
        fields = frame.names()
        runner = self.command_runner
        extra: Dict[str, Any] = {}
        if runner is None:
            from .chunked import CommandFailed, run_streaming_command
            runner = run_streaming_command
            started = self.started.pop(tuple(argv), None)
            if started is not None:
                extra["started"] = started
        else:
            from .chunked import CommandFailed
        try:
            out = runner(argv, args, fields, self._rows(frame),
                         chunk_size=self.chunk_size, app=self.app_name, cwd=str(self.confs.app_dir),
                         search=self.search, **extra)
        except CommandFailed as exc:
            self.messages.extend(getattr(exc, "messages", []) or [])
            raise CommandError(f"command {name} failed: {exc}") from exc
        self.messages.extend(out.messages)
        return self.load_rows(out.fields, out.rows)

    def _rows(self, frame: Frame) -> Iterator[List[Value]]:
        cur = self.con  # temporary tables are visible on this connection only
        select = ", ".join(c.sql for c in frame.cols) or "NULL"
        cur.execute(f"SELECT {select} FROM {frame.table} ORDER BY __ord")
        while True:
            batch = cur.fetchmany(10_000)
            if not batch:
                break
            for row in batch:
                yield [to_value(v) for v in row[:len(frame.cols)]] if frame.cols else []

    def load_rows(self, fields: Sequence[str], rows: Sequence[Sequence[Value]]) -> Frame:
        """A new result table from Python rows (text, lists of text, None)."""
        table = self.new_table()
        if len(set(fields)) != len(fields):
            raise SplError(f"duplicate field names in command output: {list(fields)}")
        columns: List[list] = [[] for _ in fields]
        is_list = [False] * len(fields)
        for row in rows:
            for i in range(len(fields)):
                v = row[i] if i < len(row) else None
                if isinstance(v, (list, tuple)):
                    is_list[i] = True
                columns[i].append(v)
        selects = ["unnest($1::BIGINT[]) AS __ord"]
        params: List[list] = [list(range(1, len(rows) + 1))]
        for i, values in enumerate(columns):
            if is_list[i]:
                values = [None if v is None else ([v] if isinstance(v, str) else [str(x) for x in v])
                          for v in values]
                typ = "VARCHAR[][]"
            else:
                values = [None if v is None or v == "" else str(v) for v in values]
                typ = "VARCHAR[]"
            params.append(values)
            selects.append(f"unnest(${i + 2}::{typ}) AS c{i}")
        self.con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM (SELECT {', '.join(selects)})", params)
        types = self._types(table)
        return Frame(table, [Col(f, f"c{i}", types[f"c{i}"]) for i, f in enumerate(fields)])

    # ---- results -------------------------------------------------------------------------------------------
    def fetch(self, frame: Frame) -> Tuple[List[str], List[List[Value]]]:
        return frame.names(), list(self._rows(frame))


def _cannot_run(exc: duckdb.Error) -> str:
    first = str(exc).splitlines()[0]
    if isinstance(exc, duckdb.OutOfMemoryException):       # the run's memory limit (memory.py), not the search
        return f"the search needs more memory than the run's memory limit gives (DuckDB: {first}); " \
               "raise it with --memory-limit"
    return f"the search cannot run locally: {first}"
