"""Command line: run the app's saved searches over Windows event files without Splunk, test expectations on
them, list what the app defines.

    localsearch run PATH... [--search NAME] [--app-dir DIR] [--local-dir DIR]
                            [--format table|csv|jsonl] [--earliest T] [--latest T] [--memory-limit SIZE]
    localsearch test SPEC... [--app-dir DIR] [--data-dir DIR] [--junit FILE]
    localsearch list [--app-dir DIR] [--local-dir DIR] [--format table|jsonl]
    (also `python -m localsearch ...`)

Exit codes: 0 ok (with or without results), 1 search error (SPL, macro, unsupported command, custom
command failure), 2 usage or input error (arguments, unknown saved search, unreadable conf or event files).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

from .conf import ConfError
from .memory import DEFAULT_LIMIT, MEMORY_LIMIT_ENV, BadSize, describe, memory_limit
from .output import FORMATS, summary_lines, write_results
from .runner import InputError, Outcome, app_confs, run_search, saved_search
from .spl.errors import SplError
from .spl.timespec import TimeSpecError, parse_time

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DEFAULT_SEARCH = "Endpoint - Process Execution via WMI - Rule"
EXIT_OK, EXIT_SEARCH, EXIT_USAGE = 0, 1, 2
PROGRESS_AFTER = 2.0   # seconds before a progress bar appears
APP_DIR_HELP = "the app folder (default: the nearest folder at or above the current one holding default/app.conf)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localsearch",
                                     description="Run this Splunk app's saved searches on Windows event files "
                                                 "(EVTX, XmlWinEventLog text, JSON lines) without Splunk.")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a saved search over event files or folders")
    run.add_argument("paths", nargs="+", metavar="PATH", help="event files or folders (searched recursively)")
    run.add_argument("--search", default=DEFAULT_SEARCH, metavar="NAME",
                     help=f"saved search (stanza of savedsearches.conf); default: {DEFAULT_SEARCH!r}")
    run.add_argument("--app-dir", default=None, metavar="DIR", help=APP_DIR_HELP)
    run.add_argument("--local-dir", default=None, metavar="DIR",
                     help="folder laid out like the app's local/ (macros.conf, savedsearches.conf, "
                          "transforms.conf) overriding default/ key by key; default: <app-dir>/local")
    run.add_argument("--format", default="table", choices=FORMATS, help="output format (default: table)")
    run.add_argument("--earliest", metavar="T", help="only events at or after T (epoch, ISO-8601, or "
                                                     "relative such as -24h@h); default: no limit")
    run.add_argument("--latest", metavar="T", help="only events before T; default: no limit")
    run.add_argument("--keep-going", action="store_true",
                     help="read the other inputs when one cannot be read (it is listed in the summary; exit 0)")
    run.add_argument("--memory-limit", default=None, metavar="SIZE",
                     help=f"DuckDB's memory limit (e.g. 512MiB, 2GiB); past it data spills to the run's staging "
                          f"folder; default: ${MEMORY_LIMIT_ENV} or {describe(DEFAULT_LIMIT)}")

    test = sub.add_parser("test", help="check expectations (YAML specs or contentctl detections) on event data")
    test.add_argument("specs", nargs="+", metavar="SPEC", help="spec files or contentctl detection YAMLs")
    test.add_argument("--app-dir", default=None, metavar="DIR", help=APP_DIR_HELP)
    test.add_argument("--data-dir", default=None, metavar="DIR",
                      help="where contentctl attack data lives: a URL maps to the file of the same name under DIR")
    test.add_argument("--junit", default=None, metavar="FILE", help="also write the results as JUnit XML")

    listing = sub.add_parser("list", help="list the saved searches, macros and lookups, with file and layer")
    listing.add_argument("--app-dir", default=None, metavar="DIR", help=APP_DIR_HELP)
    listing.add_argument("--local-dir", default=None, metavar="DIR", help="folder overriding default/; "
                                                                         "default: <app-dir>/local")
    listing.add_argument("--format", default="table", choices=("table", "jsonl"), help="default: table")
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


def _app_dir(args: argparse.Namespace) -> Optional[Path]:
    return Path(args.app_dir) if args.app_dir else None


def run(args: argparse.Namespace) -> int:
    confs = app_confs(_app_dir(args), Path(args.local_dir) if args.local_dir else None)
    try:
        earliest = parse_time(args.earliest) if args.earliest else None
        latest = parse_time(args.latest) if args.latest else None
    except TimeSpecError as exc:
        raise InputError(str(exc)) from None
    search = saved_search(confs, args.search)
    try:
        limit = memory_limit(args.memory_limit)
    except BadSize as exc:
        raise InputError(str(exc)) from None
    progress = _LazyProgress()
    try:
        outcome = run_search(confs, search, f"saved search {args.search!r}", [Path(p) for p in args.paths],
                             earliest=earliest, latest=latest, progress=progress, saved_name=args.search,
                             keep_going=args.keep_going, memory_limit=limit)
    finally:
        progress.close()
    if outcome.error is not None:
        _summary(args.search, outcome, 0)
        _err(outcome.error)
        if outcome.pointer:
            print(outcome.pointer, file=sys.stderr)
        return EXIT_SEARCH
    write_results(args.format, outcome.fields, outcome.rows, sys.stdout)
    sys.stdout.flush()
    _summary(args.search, outcome, len(outcome.rows))
    return EXIT_OK


def _summary(name: str, outcome: Outcome, results: int) -> None:
    for line in summary_lines(name, outcome.report, results, outcome.messages, outcome.warnings,
                              outcome.local_used, memory_limit=outcome.memory_limit):
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


def _say(text: str) -> None:
    """A line on stdout; if its reader went away, the rest goes nowhere but the run goes on (the exit code
    of `localsearch test` must still tell whether the expectations hold)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_closed()


def run_tests(args: argparse.Namespace) -> int:
    from .junit import write_junit
    from .testing import describe, load_cases, run_cases, tally

    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        raise InputError(f"--data-dir {data_dir} is not a folder")
    cases = load_cases([Path(p) for p in args.specs], data_dir)
    results = run_cases(cases, _app_dir(args), report=lambda r: _say(describe(r)))
    _say(tally(results))
    if args.junit:
        write_junit(Path(args.junit), results)
    return EXIT_OK if all(r.status in ("PASS", "SKIP") for r in results) else EXIT_SEARCH


def list_app(args: argparse.Namespace) -> int:
    import json

    from .listing import as_dicts, entries, lines

    confs = app_confs(_app_dir(args), Path(args.local_dir) if args.local_dir else None)
    items = entries(confs)
    if args.format == "jsonl":
        for d in as_dicts(items):
            print(json.dumps(d, ensure_ascii=False))
    else:
        print("\n".join(lines(items)))
    return EXIT_OK


def _stdout_closed() -> int:
    """The reader of stdout went away (`| head -1`): stop quietly, as Unix tools do. Later writes, including
    the interpreter's final flush, go to /dev/null instead of raising BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_time_values(list(argv) if argv is not None else sys.argv[1:]))
    try:
        return ACTIONS[args.action](args)
    except BrokenPipeError:
        return _stdout_closed()
    except InputError as exc:
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


ACTIONS: Dict[str, Callable[[argparse.Namespace], int]] = {"run": run, "test": run_tests, "list": list_app}


if __name__ == "__main__":
    sys.exit(main())
