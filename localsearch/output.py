"""Rendering of results (table, CSV, JSON lines) and of the run summary.

Results go to stdout only; everything else (summary, warnings, progress) goes to stderr, so
`--format jsonl` output is exactly one JSON object per result. Multivalue values are JSON arrays in JSON
lines and newline-joined in CSV and the table (as Splunk's CSV export writes them).
"""
from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from typing import IO, Dict, List, Optional, Sequence, Tuple

FORMATS = ("table", "csv", "jsonl")


def show_time(value: object) -> object:
    """_time as ISO-8601 UTC text (Splunk renders _time; results carry epoch seconds)."""
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            return value
        try:
            dt = datetime.fromtimestamp(seconds, timezone.utc)
        except (ValueError, OverflowError, OSError):     # outside years 1..9999: shown as epoch seconds
            return value
        return dt.isoformat(timespec="milliseconds" if seconds != int(seconds) else "seconds")
    return value


def _prepared(fields: Sequence[str], rows: Sequence[Sequence[object]]) -> List[List[object]]:
    idx = [i for i, f in enumerate(fields) if f == "_time"]
    if not idx:
        return [list(r) for r in rows]
    out = []
    for r in rows:
        r = list(r)
        for i in idx:
            r[i] = show_time(r[i])
        out.append(r)
    return out


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def result_dicts(fields: Sequence[str], rows: Sequence[Sequence[object]]) -> List[Dict[str, object]]:
    """Results as `--format jsonl` shows them: fields without a value left out, _time as ISO-8601."""
    return [{f: v for f, v in zip(fields, row) if v is not None} for row in _prepared(fields, rows)]


def write_jsonl(fields: Sequence[str], rows: Sequence[Sequence[object]], out: IO[str]) -> None:
    for obj in result_dicts(fields, rows):
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def write_csv(fields: Sequence[str], rows: Sequence[Sequence[object]], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in _prepared(fields, rows):
        writer.writerow([_text(v) for v in row])


def write_table(fields: Sequence[str], rows: Sequence[Sequence[object]], out: IO[str],
                width: Optional[int] = None) -> None:
    """A grid when it fits the terminal, else one field/value table per result."""
    from rich.console import Console
    from rich.table import Table

    class _Console(Console):
        def on_broken_pipe(self) -> None:    # rich would exit 1; the caller ends quietly with 0 instead
            self.quiet = True
            raise BrokenPipeError

    console = _Console(file=out, width=width, soft_wrap=False, highlight=False, markup=False)
    if not rows:
        console.print("No results.")
        return
    prepared = [[_text(v) for v in row] for row in _prepared(fields, rows)]
    widths = [max([len(f)] + [max((len(line) for line in r[i].split("\n")), default=0) for r in prepared])
              for i, f in enumerate(fields)]
    if sum(widths) + 3 * len(fields) + 1 <= console.width:
        table = Table(show_lines=False, header_style="bold")
        for f in fields:
            table.add_column(f, no_wrap=True)
        for row in prepared:
            table.add_row(*row)
        console.print(table)
        return
    for n, row in enumerate(prepared, start=1):
        table = Table(title=f"result {n} of {len(prepared)}", title_justify="left", show_header=False,
                      show_lines=False)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for f, v in zip(fields, row):
            table.add_row(f, v)
        console.print(table)


def write_results(fmt: str, fields: Sequence[str], rows: Sequence[Sequence[object]], out: IO[str],
                  width: Optional[int] = None) -> None:
    if fmt == "jsonl":
        write_jsonl(fields, rows, out)
    elif fmt == "csv":
        write_csv(fields, rows, out)
    else:
        write_table(fields, rows, out, width)


def _mapped_text(report, f) -> str:
    """A file's records mapped to each data-model table the load built (FileReport.mapped)."""
    if not getattr(report, "mapped", None):
        return ""
    mapped = getattr(f, "mapped", None)
    if mapped is None:
        return ", mapped: not counted per file (its records could not be told apart in a staged file)"
    return ", mapped: " + ", ".join(f"{n} {m}" for m, n in mapped.items())


def summary_lines(search_name: str, report, results: int, messages: Sequence[Tuple[str, str]],
                  warnings: Sequence[str], local_dir: Optional[str], max_skipped: int = 5,
                  max_files: int = 20, memory_limit: Optional[int] = None) -> List[str]:
    """Plain-text summary of a run (for stderr). `memory_limit`: the run's DuckDB memory limit (bytes)."""
    lines = [f"search: {search_name}" + (f" (local overrides from {local_dir})" if local_dir else "")]
    if report is not None:
        read = [f for f in report.files if getattr(f, "format", "") != "ignored"]
        ignored = [f for f in report.files if getattr(f, "format", "") == "ignored"]
        others = "".join(f", {m}: {n}" for m, n in (getattr(report, "mapped", None) or {}).items()
                         if m != "Endpoint.Processes")
        lines.append(f"files read: {len(read)}, events read: {report.events}, "
                     f"process events mapped (Endpoint.Processes): {report.processes}{others}")
        for f in read[:max_files]:
            extra = f", {f.records_skipped} skipped" if f.records_skipped else ""
            stated = getattr(f, "records_stated", None)
            if stated is not None:
                extra += f" (the file's headers state {stated} records)"
            kind = f"{f.format}, {f.container}" if getattr(f, "container", "") else f.format
            lines.append(f"  {f.path} [{kind}]: {f.events_read} events{extra}{_mapped_text(report, f)}")
        if len(read) > max_files:
            lines.append(f"  ... and {len(read) - max_files} more files")
        for f in ignored[:max_files]:
            lines.append(f"  ignored {f.path}: {getattr(f, 'note', '')}")
        if len(ignored) > max_files:
            lines.append(f"  ... and {len(ignored) - max_files} more ignored files")
        for path, why in getattr(report, "failed", []):
            lines.append(f"  not read (--keep-going) {path}: {why}")
        if report.skipped:
            reasons = report.skip_reasons()
            lines.append(f"records skipped: {report.skipped_count()}")
            for reason, n in reasons.most_common():
                lines.append(f"  {n} x {reason}")
            for s in report.skipped[:max_skipped]:
                lines.append(f"  e.g. {s}")
        else:
            lines.append("records skipped: 0")
    lines.extend(memory_lines(report, memory_limit))
    for w in getattr(report, "warnings", None) or ():
        lines.append(f"warning: {w}")
    lines.append(f"results: {results}")
    for level, text in messages:
        lines.append(f"command {level.lower()}: {text}")
    for w in warnings:
        lines.append(f"warning: {w}")
    return lines


def memory_lines(report, memory_limit: Optional[int]) -> List[str]:
    """The run's memory limit, and where a prefiltered load kept its candidate lines (README "Memory")."""
    from .memory import describe
    out = []
    if memory_limit is not None:
        out.append(f"memory limit: {describe(memory_limit)} (DuckDB; past it, data spills to the run's staging folder)")
    if report is not None and getattr(report, "candidates", None) is not None:
        where = ("spilled to disk in the staging folder (over" if report.candidates_on_disk
                 else "held in memory (up to")
        out.append(f"candidate lines of the prefilter: {report.candidates:,} ({_mib(report.candidate_bytes)}), "
                   f"{where} {_mib(report.candidate_budget)})")
    return out


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"
