"""Command line: run one of the app's saved searches over Windows event files, without Splunk.

    python -m localsearch run PATH... [--search NAME] [--app-dir DIR] [--local-dir DIR]
                                  [--format table|csv|jsonl] [--earliest T] [--latest T]

Exit codes: 0 ok (with or without results), 1 search error (SPL, macro, unsupported command, custom
command failure), 2 usage or input error (arguments, unknown saved search, unreadable conf or event files).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence

from .conf import AppConfs, ConfError
from .output import FORMATS, summary_lines, write_results
from .spl.errors import SplError
from .spl.timespec import TimeSpecError, parse_time

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DEFAULT_SEARCH = "Endpoint - Process Execution via WMI - Rule"
EXIT_OK, EXIT_SEARCH, EXIT_USAGE = 0, 1, 2
PROGRESS_AFTER = 2.0   # seconds before a progress bar appears
NO_PREFILTER_ENV = "LOCALSEARCH_NO_PREFILTER"   # set (not 0): load every event into the events view


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localsearch",
                                     description="Run this Splunk app's saved searches on Windows event files "
                                                 "(EVTX, XmlWinEventLog text, JSON lines) without Splunk.")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a saved search over event files or folders")
    run.add_argument("paths", nargs="+", metavar="PATH", help="event files or folders (searched recursively)")
    run.add_argument("--search", default=DEFAULT_SEARCH, metavar="NAME",
                     help=f"saved search (stanza of savedsearches.conf); default: {DEFAULT_SEARCH!r}")
    run.add_argument("--app-dir", default=".", metavar="DIR", help="the app folder (default: current folder)")
    run.add_argument("--local-dir", default=None, metavar="DIR",
                     help="folder laid out like the app's local/ (macros.conf, savedsearches.conf, "
                          "transforms.conf) overriding default/ key by key; default: <app-dir>/local")
    run.add_argument("--format", default="table", choices=FORMATS, help="output format (default: table)")
    run.add_argument("--earliest", metavar="T", help="only events at or after T (epoch, ISO-8601, or "
                                                     "relative such as -24h@h); default: no limit")
    run.add_argument("--latest", metavar="T", help="only events before T; default: no limit")
    return parser


class _LazyProgress:
    """A rich progress bar on stderr that appears only when loading takes longer than a moment."""

    def __init__(self, after: float = PROGRESS_AFTER):
        self.start = time.monotonic()
        self.after = after
        self.bar: Optional["Progress"] = None
        self.task: Optional["TaskID"] = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.start < self.after or not sys.stderr.isatty():
                return
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
            from rich.console import Console
            self.bar = Progress(TextColumn("reading events"), BarColumn(), DownloadColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("read", total=total or None)
        if self.task is not None:
            self.bar.update(self.task, completed=done, total=total or None)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _saved_search(confs: AppConfs, name: str) -> str:
    saved = confs.conf("savedsearches")
    if not saved.layers:
        raise UsageError(f"no savedsearches.conf in {confs.app_dir / 'default'} or {confs.local_dir} "
                         f"(is --app-dir the app folder?)")
    search = saved.get(name, "search") if saved.has_stanza(name) else None
    if search is None:
        names = [n for n in saved.stanza_names() if n != "default" and saved.get(n, "search")]
        raise UsageError(f"no saved search named {name!r} (with a search setting); available: "
                         + "; ".join(repr(n) for n in names))
    return search


def run(args: argparse.Namespace) -> int:
    app_dir = Path(args.app_dir)
    local_dir = Path(args.local_dir) if args.local_dir else app_dir / "local"
    if not (app_dir / "default").is_dir():
        raise UsageError(f"{app_dir} is not an app folder (no default/ folder); use --app-dir")
    if args.local_dir and not local_dir.is_dir():
        raise UsageError(f"--local-dir {local_dir} is not a folder")
    try:
        earliest = parse_time(args.earliest) if args.earliest else None
        latest = parse_time(args.latest) if args.latest else None
    except TimeSpecError as exc:
        raise UsageError(str(exc)) from None
    confs = AppConfs(app_dir, local_dir)
    search = _saved_search(confs, args.search)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise UsageError("no such file or folder: " + ", ".join(missing))

    import duckdb
    from .engine import CommandError, SearchEngine, sources_of
    from .ingest import DERIVED_FIELDS, LoadError, load_events
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
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")   # DuckDB's own bar would write to stdout
    progress = _LazyProgress()
    try:
        report = load_events([Path(p) for p in args.paths], con, progress=progress, raw_events=raw_events,
                             line_filter=line_filter)
    except LoadError as exc:
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    app_name = confs.conf("app").get("package", "id") or app_dir.resolve().name
    label = (None if report.candidates is None else
             "the events whose text can match the search's values (the prefiltered events)")
    engine = SearchEngine(con, report.columns, confs, earliest=earliest, latest=latest, app_name=app_name,
                          events_label=label)
    local_used = str(local_dir) if local_dir.is_dir() and any(local_dir.glob("*.conf")) else None
    try:
        result = engine.run(pipeline if pipeline is not None else search)
    except CommandError as exc:
        _summary(args.search, report, 0, engine.messages, engine.warnings, local_used)
        _err(str(exc))
        return EXIT_SEARCH
    except SplError as exc:
        _err(f"in saved search {args.search!r}: {exc}")
        if engine.search:
            print(_pointer(engine.search, exc.position), file=sys.stderr)
        return EXIT_SEARCH
    write_results(args.format, result.fields, result.rows, sys.stdout)
    sys.stdout.flush()
    _summary(args.search, report, len(result.rows), result.messages, result.warnings, local_used)
    return EXIT_OK


def _pointer(search: str, position: Optional[int]) -> str:
    """The expanded search, with a caret under the character an error points at."""
    if position is None or not 0 <= position <= len(search):
        return f"expanded search:\n{search}"
    start = search.rfind("\n", 0, position) + 1
    end = search.find("\n", position)
    end = len(search) if end < 0 else end
    before = search[:end]
    after = search[end:]
    caret = " " * (position - start) + "^"
    return f"expanded search:\n{before}\n{caret}{after}"


def _summary(name, report, results, messages, warnings, local_used) -> None:
    for line in summary_lines(name, report, results, messages, warnings, local_used):
        print(line, file=sys.stderr)


def _attach_time_values(argv: List[str]) -> List[str]:
    """`--earliest -24h` -> `--earliest=-24h` (argparse would take -24h for an option)."""
    out: List[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in ("--earliest", "--latest") and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_time_values(list(argv) if argv is not None else sys.argv[1:]))
    try:
        if args.action == "run":
            return run(args)
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except ConfError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except SplError as exc:
        _err(str(exc))
        return EXIT_SEARCH
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
