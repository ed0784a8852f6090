"""EVTX files staged as flat NDJSON, on every core: a process pool over files and over chunk ranges of large files.

Each task parses one file, or one part of a large file (PART_CHUNKS chunks, evtx_fast.ChunkView), with the
`evtx` package in one thread, flattens its records (flatten.evtx_json_to_flat) and appends them to its worker's
own NDJSON file in the staging folder; it returns counts per chunk, from which the loader reports every
record the file's headers state that was not read (evtx_fast.losses). Small loads (under POOL_BYTES of EVTX)
are parsed in this process: starting workers costs more than it saves. Members of archives are parsed in this
process from their stream (a tar member is first copied to a temporary file: the parser needs to seek).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Dict, List, Optional, Tuple

import orjson

from . import evtx_fast as ef
from .flatten import evtx_json_to_flat
from .sources import event_codes

POOL_BYTES = 16 << 20
PART_CHUNKS = 64                 # 4 MiB of chunks per task
SPOOL_BYTES = 64 << 20

# processes_only (a load for the data model only, load_events(raw_events=False)): a record is only counted, not
# flattened nor staged, when its flat form surely exists and cannot match load.PROC_RE (an EventID or EventCode
# field equal to a process-creation code): the record's text starts {"Event":{ [attributes,] "System":{
# [Provider,] "EventID":<integer> (so flattening succeeds: it needs Event/System and an EventID), that integer
# is no process-creation code, the text spells "EventID" once and "EventCode" never (no other field joins the
# flat EventID or makes an EventCode), and it nests too little for orjson's depth limit. Every other record is
# flattened as before, so the data model, counts and skips are the same as in a full load.
_CODES = frozenset(event_codes())
_SCALAR = r'(?:"[^"\\]*"|[-0-9.]+|null|true|false)'     # (strings without escapes: others take the full path)
_ATTRS = r'\{(?:"[^"\\]*":' + _SCALAR + r'(?:,"[^"\\]*":' + _SCALAR + r')*)?\}'   # an object of scalars
_SYSTEM_EVENTID = re.compile(r'\{"Event":\{(?:"#attributes":' + _ATTRS + r',)?"System":\{'
                             r'(?:"Provider":\{(?:"#attributes":' + _ATTRS + r')?\},)?"EventID":([0-9]+)[,}]')
_MAX_OPENERS = 200


def count_only(text: str) -> bool:
    """True: the record (the `evtx` package's JSON text) is surely read and no process creation."""
    m = _SYSTEM_EVENTID.match(text)
    return (m is not None and m.group(1) not in _CODES and text.count('"EventID"') == 1
            and '"EventCode"' not in text and text.count("{") + text.count("[") < _MAX_OPENERS)


@dataclass
class EvtxOutcome:
    events: int
    stated: int
    skipped: List[Tuple[int, str]]
    unstaged: int = 0            # events counted in `events` but not written (processes_only)


def _emitter(out: IO[str], bad: List[Tuple[int, str]], unstaged: List[int],
             processes_only: bool = False) -> Callable[[Dict], bool]:
    """Flatten one record and write it (orjson: about twice as fast as json here, the same JSON values).
    processes_only: records that cannot be process creations are counted in unstaged[0], not written."""
    def emit(rec: Dict) -> bool:
        if processes_only:
            if count_only(rec["data"]):
                unstaged[0] += 1
                return True
        try:
            flat = evtx_json_to_flat(orjson.loads(rec["data"]))
        except (ValueError, RecursionError) as exc:
            bad.append((rec.get("event_record_id") or 0,
                        f"EVTX record (EventRecordID {rec.get('event_record_id')}): {exc}"))
            return False
        out.write(orjson.dumps(flat).decode("utf-8"))
        out.write("\n")
        return True
    return emit


def _outcome(census: ef.Census, res: ef.PartResult) -> EvtxOutcome:
    return EvtxOutcome(res.written, census.stated, ef.losses(census, res, census.size), res.unstaged)


def stage_stream(fh: IO[bytes], out: IO[str], processes_only: bool = False) -> EvtxOutcome:
    """One EVTX stream (a gzip file or an archive member), parsed here."""
    spool: Optional[IO[bytes]] = None
    try:
        seekable = fh.seekable()
    except AttributeError:          # a member of a tar stream (tarfile's stream has no seekable())
        seekable = False
    if not seekable:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        shutil.copyfileobj(fh, spool, 1 << 20)
        size = spool.tell()
        fh = spool
    else:
        size = fh.seek(0, 2)     # the decompressed size (a gzip stream or zip member decompresses to its end)
    try:
        census = ef.read_census(fh, size)
        fh.seek(0)
        bad: List[Tuple[int, str]] = []
        unstaged = [0]
        res = ef.parse(fh, census.chunks, _emitter(out, bad, unstaged, processes_only))
        res.bad_records = bad
        res.unstaged = unstaged[0]
        return _outcome(census, res)
    finally:
        if spool is not None:
            spool.close()


def stage_path(path: Path, out: IO[str], processes_only: bool = False) -> EvtxOutcome:
    """One plain EVTX file, parsed here (the parser reads the file itself: faster than through a stream)."""
    with open(path, "rb") as fh:
        census = ef.read_census(fh, os.fstat(fh.fileno()).st_size)
    bad: List[Tuple[int, str]] = []
    unstaged = [0]
    res = ef.parse(str(path), census.chunks, _emitter(out, bad, unstaged, processes_only))
    res.bad_records = bad
    res.unstaged = unstaged[0]
    return _outcome(census, res)


# --- the pool ---------------------------------------------------------------------------------------------

def _task(args: Tuple[str, int, int, bool, str, bool]) -> Tuple[str, ef.PartResult]:
    """Worker: parse chunks [lo, hi) of a file (or the whole file), append its events to this worker's file."""
    path, lo, hi, whole, out_dir, processes_only = args
    out_path = os.path.join(out_dir, f"staged-evtx-{os.getpid()}.ndjson")
    with open(path, "rb") as fh:
        census = ef.read_census(fh, os.fstat(fh.fileno()).st_size)
    chunks = [c for c in census.chunks if whole or lo <= c.index < hi]
    bad: List[Tuple[int, str]] = []
    unstaged = [0]
    with open(out_path, "a", encoding="utf-8") as out:
        source = path if whole else ef.ChunkView(Path(path), lo, hi)
        try:
            res = ef.parse(source, chunks, _emitter(out, bad, unstaged, processes_only))  # type: ignore[arg-type]
        finally:
            if not isinstance(source, str):
                source.close()
    res.bad_records = bad
    res.unstaged = unstaged[0]
    return out_path, res


def _merge(parts: List[ef.PartResult]) -> ef.PartResult:
    total = ef.PartResult()
    for p in parts:
        total.written += p.written
        total.unstaged += p.unstaged
        for k, v in p.read_count.items():
            total.read_count[k] = total.read_count.get(k, 0) + v
        for k, ids in p.read_ids.items():
            total.read_ids.setdefault(k, []).extend(ids)
        total.errors.extend(p.errors)
        total.bad_records.extend(p.bad_records)
    return total


def stage_files(paths: List[Path], out_dir: Path, workers: Optional[int] = None,
                done: Optional[Callable[[int], None]] = None,
                processes_only: bool = False) -> Tuple[List[Path], List[EvtxOutcome]]:
    """Parse plain EVTX files with a process pool; (the NDJSON files written, one outcome per path).
    Raises ValueError naming the file for one that is not a readable EVTX file."""
    censuses = []
    for p in paths:
        with open(p, "rb") as fh:
            censuses.append(ef.read_census(fh, os.fstat(fh.fileno()).st_size))
    tasks: List[Tuple[int, Tuple[str, int, int, bool, str, bool]]] = []
    for i, (p, c) in enumerate(zip(paths, censuses)):
        ranges = ef.parts(c, PART_CHUNKS)
        for lo, hi in ranges:
            tasks.append((i, (str(p), lo, hi, len(ranges) == 1, str(out_dir), processes_only)))
    by_file: Dict[int, List[ef.PartResult]] = {i: [] for i in range(len(paths))}
    outs: Dict[str, None] = {}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    n = workers or os.cpu_count() or 2
    # fork: workers start at once and need no importable __main__ (spawn re-imports the caller's script); the
    # children only parse EVTX and write files, they touch none of the parent's DuckDB state
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        futures = [(i, pool.submit(_task, t)) for i, t in tasks]
        for i, fut in futures:
            try:
                out_path, res = fut.result()
            except ValueError as exc:
                raise ValueError(f"{paths[i]}: {exc}") from exc
            outs[out_path] = None
            by_file[i].append(res)
            if done is not None:
                done(i)
    outcomes = [_outcome(c, _merge(by_file[i])) for i, c in enumerate(censuses)]
    return [Path(p) for p in outs], outcomes
