"""Staging of the inputs the SQL path cannot read where they are: EVTX (here alone, with evtx_pool), XmlWinEventLog
text, Splunk exports, nested JSON layouts and JSON files with unreadable records are read in Python (readers.py,
flatten.py, splunk_export.py) into a few flat NDJSON bundles in the staging folder; unreadable records are
counted in the file's report with their record number. Also the path DuckDB reads a JSON lines input by."""
from __future__ import annotations

from pathlib import Path
from typing import IO, Callable, List, Optional, Tuple

from . import evtx_pool, readers, splunk_export
from .containers import GZIP, Archives
from .detect import EVTX, JSONL, SPLUNK_CSV, SPLUNK_JSON, WINEVENTLOG, XML
from .inputs import Input
from .layouts import LayoutStats, stats_warnings
from .model import FileReport, LoadReport, Skipped
from .units import Unit

BUNDLE_BYTES = 256 << 20
GLOB_CHARS = set("*?[]{}")        # DuckDB expands these in a path: such files are read through a link


class Stager:
    """Writes the events of Python-read inputs into a few flat NDJSON bundles in the staging folder
    (few files keep DuckDB's per-file cost low when a folder holds hundreds of EVTX files)."""

    def __init__(self, root: Path, report: LoadReport, tick: Callable[[int], None],
                 processes_only: bool = False) -> None:
        self.root = root
        self.processes_only = processes_only     # EVTX: stage only what may be process creations
        self.unstaged = 0                         # EVTX events counted, not staged (evtx_pool)
        self.report = report
        self.tick = tick
        self.bundles: List[Unit] = []
        self._out: Optional[IO[str]] = None
        self.archives = Archives()

    def _bundle(self, size: int, freport: FileReport) -> IO[str]:
        if self._out is None or self._out.tell() > BUNDLE_BYTES:
            self.close()
            path = self.root / f"staged-{len(self.bundles) + 1:04d}.ndjson"
            self._out = open(path, "w", encoding="utf-8")
            self.bundles.append(Unit(path, None, 0))
        self.bundles[-1].size += size
        self.bundles[-1].starts.append((freport, self._out.tell()))      # its records follow, to the next start
        self.bundles[-1].inputs.append(freport)
        return self._out

    def skipper(self, freport: FileReport) -> Callable[[int, str], None]:
        def skip(rec: int, reason: str) -> None:
            freport.records_skipped += 1
            self.report.skip(Skipped(freport.path, rec, reason))
        return skip

    def stage(self, src: Input, fmt: str, freport: FileReport) -> None:
        """Read one input in Python into the current bundle. OSError/ValueError: the input cannot be read."""
        skip = self.skipper(freport)
        out = self._bundle(src.size, freport)
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
        if fmt == WINEVENTLOG:
            cstats = splunk_export.ClassicStats()
            with src.open(self.archives) as fh:
                freport.events_read = splunk_export.stage_splunk_raw_classic(fh, out, skip, self.tick, cstats)
            self.report.warnings.extend(cstats.warnings(src.name))
            return
        reader = {XML: readers.stage_xml_lines,
                  SPLUNK_CSV: splunk_export.stage_splunk_csv, SPLUNK_JSON: splunk_export.stage_splunk_json}[fmt]
        with src.open(self.archives) as fh:
            freport.events_read = reader(fh, out, skip, self.tick)

    def discard(self, freport: FileReport) -> None:
        """An input that failed while being staged: the records it had written go from the bundle (the file is
        cut back to where they began), so that the totals count only the inputs read."""
        if self._out is None or not self.bundles:
            return
        unit = self.bundles[-1]
        if unit.starts and unit.starts[-1][0] is freport:
            self._out.seek(unit.starts[-1][1])
            self._out.truncate()
            unit.starts.pop()
            if unit.inputs and unit.inputs[-1] is freport:
                unit.inputs.pop()

    def evtx_done(self, freport: FileReport, got: "evtx_pool.EvtxOutcome") -> None:
        skip = self.skipper(freport)
        freport.events_read = got.events
        freport.records_stated = got.stated
        self.unstaged += got.unstaged
        for rec, reason in got.skipped:
            skip(rec, reason)

    def add_bundle(self, path: Path, starts: List[Tuple[FileReport, int]]) -> None:
        """A staged file written by an evtx_pool worker: the records of each input follow its byte offset
        (`starts`, in file order), as in the stager's own bundles."""
        unit = Unit(path, None, path.stat().st_size, starts=list(starts))
        for fr, _ in starts:
            if not any(fr is f for f in unit.inputs):
                unit.inputs.append(fr)
        self.bundles.append(unit)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self.archives.close()


def input_sql_path(src: Input, staging: Path, n: int) -> Path:
    """The path DuckDB reads a JSON lines input by: absolute (the view reads it again later, whatever the cwd),
    or, when the name holds characters DuckDB would expand as a glob, a link to it in the staging folder (the
    name is taken as it is, not as a pattern). A gzip file keeps a `.gz` name: DuckDB decompresses it."""
    path = src.path.resolve()
    if not (GLOB_CHARS & set(str(path))):
        return path
    link = staging / (f"input-{n:05d}.json" + (".gz" if src.container == GZIP else ""))
    link.symlink_to(path)
    return link


def stage_or_fail(stager: "Stager", src: Input, fr: FileReport, fail: Callable[[Path, str], None],
                  report: LoadReport) -> None:
    try:
        stager.stage(src, fr.format if fr.format in (EVTX, XML, SPLUNK_CSV, SPLUNK_JSON, WINEVENTLOG) else JSONL, fr)
    except (OSError, ValueError, EOFError) as exc:
        stager.discard(fr)
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
    report.skipped_unlisted.pop(fr.path, None)


def stage_evtx(stager: "Stager", pooled: List[Tuple[Input, FileReport]], staging: Path,
               fail: Callable[[Path, str], None], report: LoadReport) -> int:
    """Plain EVTX files: with a process pool when they are large enough together (evtx_pool), else here.
    Returns their bytes. Each file the pool's workers write holds records of any pooled file: it is labelled
    with all of them (their data-model rows are then counted per file only when it holds none; load.py)."""
    size = sum(src.size for src, _ in pooled)
    if size < evtx_pool.POOL_BYTES or len(pooled) == 0:
        for src, fr in pooled:
            stage_or_fail(stager, src, fr, fail, report)
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
            stage_or_fail(stager, src, fr, fail, report)
        return size
    for (_, fr), got in zip(pooled, outcomes):
        stager.evtx_done(fr, got)
    for p, starts in outs.items():
        stager.add_bundle(p, [(pooled[i][1], offset) for i, offset in starts])
    return size
