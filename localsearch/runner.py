"""One search over event files, as `localsearch run` and `localsearch test` both do it: find the app folder,
read its confs (default/ under a local/ folder), load the events and run the search through the engine.

Input problems (no app folder, unknown saved search, unreadable files) raise InputError; search problems
(SPL, macros, unsupported commands, custom command failures) come back in `Outcome.error`, with the messages
and warnings gathered so far.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .conf import AppConfs
from .spl.errors import SplError

NO_PREFILTER_ENV = "LOCALSEARCH_NO_PREFILTER"   # set (not 0): load every event into the events view
APP_MARKER = Path("default") / "app.conf"


class InputError(Exception):
    """Bad arguments or input (exit code 2): the message names what was wrong and where."""


def find_app_dir(start: Path) -> Optional[Path]:
    """The nearest folder at or above `start` holding default/app.conf (how the app folder is found when
    --app-dir is not given)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / APP_MARKER).is_file():
            return folder
    return None


def app_confs(app_dir: Optional[Path], local_dir: Optional[Path]) -> AppConfs:
    """The app's confs; app_dir None means: the nearest app folder upward from the current folder."""
    if app_dir is None:
        found = find_app_dir(Path.cwd())
        if found is None:
            raise InputError(f"no app folder (one holding {APP_MARKER}) at or above {Path.cwd()}; "
                             "use --app-dir")
        app_dir = found
    if not (app_dir / "default").is_dir():
        raise InputError(f"{app_dir} is not an app folder (no default/ folder); use --app-dir")
    if local_dir is not None and not local_dir.is_dir():
        raise InputError(f"--local-dir {local_dir} is not a folder")
    return AppConfs(app_dir, local_dir if local_dir is not None else app_dir / "local")


def saved_search(confs: AppConfs, name: str) -> str:
    saved = confs.conf("savedsearches")
    if not saved.layers:
        raise InputError(f"no savedsearches.conf in {confs.app_dir / 'default'} or {confs.local_dir} "
                         f"(is --app-dir the app folder?)")
    search = saved.get(name, "search") if saved.has_stanza(name) else None
    if search is None:
        names = [n for n in saved.stanza_names() if n != "default" and saved.get(n, "search")]
        raise InputError(f"no saved search named {name!r} (with a search setting); available: "
                         + "; ".join(repr(n) for n in names))
    return search


@dataclass
class Outcome:
    fields: List[str] = field(default_factory=list)
    rows: List[List[object]] = field(default_factory=list)
    report: object = None                                  # the loader's LoadReport
    messages: List[Tuple[str, str]] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    local_used: Optional[str] = None                       # the local folder, when it held conf files
    error: Optional[str] = None                            # the search failed: why
    pointer: Optional[str] = None                          # the expanded search with a caret at the error
    memory_limit: Optional[int] = None                     # DuckDB's memory limit for the run (bytes)


def run_search(confs: AppConfs, search: str, label: str, paths: Sequence[Path], *,
               earliest: Optional[float] = None, latest: Optional[float] = None,
               progress: Optional[Callable[[int, int], None]] = None,
               origin: Optional[Tuple[str, str]] = None, saved_name: Optional[str] = None,
               keep_going: bool = False, memory_limit: Optional[int] = None) -> Outcome:
    """Load `paths` and run `search` (SPL text; `label` names it in messages) with the app's confs.
    `origin`: the (source, sourcetype) the data was indexed with, given to every event. `saved_name`: the
    saved search run, if it is one (a local stanza of that name is then not reported as unused). `keep_going`:
    an input that cannot be read is listed in the report's `failed` instead of stopping the run. `memory_limit`:
    DuckDB's memory limit in bytes (default: memory.memory_limit(), the environment variable or 1 GiB)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing and not keep_going:
        raise InputError("no such file or folder: " + ", ".join(missing))

    from .engine import close_started, sources_of, start_commands
    from .ingest import DERIVED_FIELDS
    from .spl.pipeline import Pipeline, parse_pipeline
    from .spl.prefilter import pipeline_filter

    line_filter: Optional[str] = None
    pipeline: Optional[Pipeline] = None
    raw_events = True
    try:    # the search is parsed once: a tstats search needs only the data model (no raw events view)
        pipeline = parse_pipeline(search, sources_of(confs))
        raw_events = pipeline.reads_raw_events()
        # a raw-event search: only lines that can match its leading search go into the events view
        if raw_events and os.environ.get(NO_PREFILTER_ENV, "") in ("", "0"):
            line_filter = pipeline_filter(pipeline, DERIVED_FIELDS)
    except SplError:
        pass                  # the search itself reports the error, after loading
    from .memory import BadSize
    from .memory import memory_limit as default_limit
    try:
        limit = memory_limit if memory_limit is not None else default_limit()
    except BadSize as exc:
        raise InputError(str(exc)) from None
    started = start_commands(confs, pipeline) if pipeline is not None else {}
    try:
        return _load_and_run(confs, search, label, paths, pipeline, raw_events, line_filter, started,
                             earliest=earliest, latest=latest, progress=progress, origin=origin,
                             saved_name=saved_name, keep_going=keep_going, memory_limit=limit)
    finally:
        close_started(started)


def _load_and_run(confs: AppConfs, search: str, label: str, paths: Sequence[Path], pipeline: Any,
                  raw_events: bool, line_filter: Optional[str], started: Dict[Tuple[str, ...], Any], *,
                  earliest: Optional[float], latest: Optional[float],
                  progress: Optional[Callable[[int, int], None]], origin: Optional[Tuple[str, str]],
                  saved_name: Optional[str], keep_going: bool, memory_limit: int) -> Outcome:
    import duckdb

    from .confcheck import local_conf_warnings
    from .engine import CommandError, SearchEngine
    from .ingest import LoadError, load_events
    from .memory import apply_limit
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")   # DuckDB's own bar would write to stdout
    apply_limit(con, memory_limit)       # the run's memory bound (memory.py); past it DuckDB spills to the staging folder
    try:
        report = load_events(list(paths), con, progress=progress, raw_events=raw_events, line_filter=line_filter,
                             keep_going=keep_going)
    except LoadError as exc:
        raise InputError(str(exc)) from None
    except duckdb.OutOfMemoryException as exc:
        raise InputError(out_of_memory(memory_limit, exc)) from None
    if origin is not None:
        _set_origin(con, report.columns, *origin)
    app_name = confs.conf("app").get("package", "id") or confs.app_dir.resolve().name
    events_label = (None if report.candidates is None else
                    "the events whose text can match the search's values (the prefiltered events)")
    engine = SearchEngine(con, report.columns, confs, earliest=earliest, latest=latest, app_name=app_name,
                          events_label=events_label, field_exists=report.field_exists, started=started)
    started.clear()               # the engine owns them now (and ends the ones it does not use)
    engine.warnings.extend(local_conf_warnings(confs, saved_name))     # local tuning that does nothing
    local = confs.local_dir
    outcome = Outcome(report=report, memory_limit=memory_limit,
                      local_used=str(local) if local.is_dir() and any(local.glob("*.conf")) else None)
    try:
        result = engine.run(pipeline if pipeline is not None else search)
    except CommandError as exc:
        outcome.messages, outcome.warnings = list(engine.messages), list(engine.warnings)
        outcome.error = str(exc)
        return outcome
    except SplError as exc:
        outcome.error = f"in {label}: {exc}"
        outcome.pointer = pointer(engine.search, exc.position) if engine.search else None
        return outcome
    outcome.fields, outcome.rows = list(result.fields), [list(r) for r in result.rows]
    outcome.messages, outcome.warnings = list(result.messages), list(result.warnings)
    return outcome


def out_of_memory(limit: int, exc: BaseException) -> str:
    from .memory import describe
    return (f"reading the events needs more memory than the memory limit of {describe(limit)} gives "
            f"(DuckDB: {str(exc).splitlines()[0]}); raise it with --memory-limit")


def _set_origin(con: Any, columns: Dict[str, Dict[str, str]], source: str, sourcetype: str) -> None:
    """Every event gets the declared source and sourcetype, as when a file is indexed with them. Only a
    declaration that agrees with the events' own channel (source XmlWinEventLog:<channel>, any case) can be
    honoured: the add-ons' field extractions, which the runner's mapping follows, key on the real one."""
    from .sqltext import sql_literal
    models = [t for t in columns if t != "events" and columns[t]]      # processes and the other datasets
    tables = [(t, columns[t]) for t in models + ["events"] if columns.get(t)]
    for table, cols in tables:
        seen = [r[0] for r in con.execute(f"SELECT DISTINCT {cols['source']} FROM {table} "
                                          f"WHERE lower({cols['source']}) <> lower({sql_literal(source)})").fetchall()]
        if seen:
            raise InputError(f"unsupported in local runs: data indexed with source {source!r} holds events "
                             f"whose channel gives source {seen[0]!r}")
    values = f"{sql_literal(source)} AS {{s}}, {sql_literal(sourcetype)} AS {{t}}"
    for table in models:
        c = columns[table]
        con.execute(f"UPDATE {table} SET {c['source']} = {sql_literal(source)}, "
                    f"{c['sourcetype']} = {sql_literal(sourcetype)}")
    if columns.get("events"):
        c = columns["events"]
        con.execute("ALTER VIEW events RENAME TO _ls_events_as_read")
        con.execute("CREATE VIEW events AS SELECT * REPLACE (" + values.format(s=c["source"], t=c["sourcetype"])
                    + ") FROM _ls_events_as_read")


def pointer(search: str, position: Optional[int]) -> str:
    """The expanded search, with a caret under the character an error points at."""
    if position is None or not 0 <= position <= len(search):
        return f"expanded search:\n{search}"
    start = search.rfind("\n", 0, position) + 1
    end = search.find("\n", position)
    end = len(search) if end < 0 else end
    caret = " " * (position - start) + "^"
    return f"expanded search:\n{search[:end]}\n{caret}{search[end:]}"
