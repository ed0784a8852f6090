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
from typing import IO, Callable, Dict, Iterable, List, Optional, Tuple

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
# is no process-creation code, the text spells "EventID" nowhere else and "EventCode" never (no other field
# joins the flat EventID or makes an EventCode), and it nests within orjson's depth limit (1024 levels, 1025
# fails: a text of at most _DEPTH_FREE characters cannot nest deeper than half its length, a longer one has its
# brackets counted). Every other record is flattened as before, so the data model, counts and skips are the
# same as in a full load.
# This test runs on every record, so it avoids whole-text scans where it can: the usual layout (the `evtx`
# package's xmlns and Provider attributes, all plain strings) has a regular expression of its own, twice as fast
# as the general one, which decides every other layout; after the System EventID one search finds any other
# EventID or EventCode key (before it there are only Event and Provider attributes, which make no flat field).
_CODES = frozenset(event_codes())
_SCALAR = r'(?:"[^"\\]*"|[-0-9.]+|null|true|false)'     # (strings without escapes: others take the full path)
_ATTRS = r'\{(?:"[^"\\]*":' + _SCALAR + r'(?:,"[^"\\]*":' + _SCALAR + r')*)?\}'   # an object of scalars
_SYSTEM_EVENTID = re.compile(r'\{"Event":\{(?:"#attributes":' + _ATTRS + r',)?"System":\{'
                             r'(?:"Provider":\{(?:"#attributes":' + _ATTRS + r')?\},)?"EventID":([0-9]+)[,}]')
_USUAL_EVENTID = re.compile(re.escape(
    '{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},'
    '"System":{"Provider":{"#attributes":{"Name":"') + r'[^"\\]*(?:","[^"\\]*":"[^"\\]*)*"\}\},"EventID":([0-9]+),')
_OTHER_KEY = re.compile(r'"Event(?:ID|Code)"')
_DEPTH_FREE = 2000
_DEPTH_LIMIT = 1000


def count_only(text: str) -> bool:
    """True: the record (the `evtx` package's JSON text) is surely read and no process creation."""
    m = _USUAL_EVENTID.match(text) or _SYSTEM_EVENTID.match(text)
    return (m is not None and m.group(1) not in _CODES and _OTHER_KEY.search(text, m.end()) is None
            and (len(text) <= _DEPTH_FREE or text.count("{") + text.count("[") <= _DEPTH_LIMIT))


@dataclass
class EvtxOutcome:
    events: int
    stated: int
    skipped: Iterable[Tuple[int, str]]     # consumed once (evtx_fast.losses yields them)
    unstaged: int = 0            # events counted in `events` but not written (processes_only)


def _emitter(out: IO[str], bad: List[Tuple[int, str]]) -> Callable[[str, int], bool]:
    """Flatten one record and write it (orjson: about twice as fast as json here, the same JSON values)."""
    def emit(text: str, rid: int) -> bool:
        try:
            flat = evtx_json_to_flat(orjson.loads(text))
        except (ValueError, RecursionError) as exc:
            bad.append((rid, f"EVTX record (EventRecordID {rid}): {exc}"))
            return False
        out.write(orjson.dumps(flat).decode("utf-8"))
        out.write("\n")
        return True
    return emit


def _parse(source: "str | IO[bytes]", chunks: List[ef.Chunk], out: IO[str], processes_only: bool) -> ef.PartResult:
    """Parse and stage (processes_only: only the records count_only does not rule out)."""
    bad: List[Tuple[int, str]] = []
    res = ef.parse(source, chunks, _emitter(out, bad), count_only if processes_only else None)
    res.bad_records = bad
    return res


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
        return _outcome(census, _parse(fh, census.chunks, out, processes_only))
    finally:
        if spool is not None:
            spool.close()


def stage_path(path: Path, out: IO[str], processes_only: bool = False) -> EvtxOutcome:
    """One plain EVTX file, parsed here (the parser reads the file itself: faster than through a stream)."""
    with open(path, "rb") as fh:
        census = ef.read_census(fh, os.fstat(fh.fileno()).st_size)
    return _outcome(census, _parse(str(path), census.chunks, out, processes_only))


# --- the pool ---------------------------------------------------------------------------------------------

_Part = Tuple[int, str, int, int, List[ef.Chunk], bool]     # file index, path, chunks [lo, hi), them, whole file


def _task(parts: List[_Part], out_dir: str,
          processes_only: bool) -> Tuple[str, List[Tuple[int, ef.PartResult, int]]]:
    """Worker: parse some parts (chunks [lo, hi) of a file, or whole files), append their events to this
    worker's file; (that file, each part's result and the offset in the file where its records begin).
    ValueError names the file that is not readable EVTX."""
    out_path = os.path.join(out_dir, f"staged-evtx-{os.getpid()}.ndjson")
    results: List[Tuple[int, ef.PartResult, int]] = []
    with open(out_path, "a", encoding="utf-8") as out:
        for i, path, lo, hi, chunks, whole in parts:
            source = path if whole else ef.ChunkView(Path(path), lo, hi)
            try:
                start = out.tell()
                results.append((i, _parse(source, chunks, out, processes_only), start))  # type: ignore[arg-type]
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from exc
            finally:
                if not isinstance(source, str):
                    source.close()
    return out_path, results


def _batches(paths: List[Path], censuses: List[ef.Census], workers: int) -> List[List[_Part]]:
    """The parts of the files put together in tasks of about PART_CHUNKS chunks each: many small files go to a
    worker a batch at a time, not one by one. A file is parsed whole (the parser reading the file itself, about
    a tenth faster than through a ChunkView) unless it is more than a worker's share of the load: then in
    parts of PART_CHUNKS chunks, so that it spreads over the workers."""
    batches: List[List[_Part]] = []
    cur: List[_Part] = []
    size = 0
    share = sum(len(c.chunks) for c in censuses) / max(1, workers)
    for i, (p, c) in enumerate(zip(paths, censuses)):
        ranges = ef.parts(c, PART_CHUNKS if len(c.chunks) > share else 1 << 62)
        for lo, hi in ranges:
            chunks = [ch for ch in c.chunks if lo <= ch.index < hi]     # (the census is read once, here)
            cur.append((i, str(p), lo, hi, chunks, len(ranges) == 1))
            size += max(1, hi - lo)
            if size >= PART_CHUNKS:
                batches.append(cur)
                cur, size = [], 0
    if cur:
        batches.append(cur)
    return batches


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
                processes_only: bool = False) -> Tuple[Dict[Path, List[Tuple[int, int]]], List[EvtxOutcome]]:
    """Parse plain EVTX files with a process pool; (the NDJSON files written, each with where the records of
    each part begin in it: [(index of the path, byte offset)] in file order; one outcome per path).
    Raises ValueError naming the file for one that is not a readable EVTX file."""
    censuses = []
    for p in paths:
        with open(p, "rb") as fh:
            censuses.append(ef.read_census(fh, os.fstat(fh.fileno()).st_size))
    by_file: Dict[int, List[ef.PartResult]] = {i: [] for i in range(len(paths))}
    outs: Dict[Path, List[Tuple[int, int]]] = {}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    n = workers or os.cpu_count() or 2
    # fork: workers start at once and need no importable __main__ (spawn re-imports the caller's script); the
    # children only parse EVTX and write files, they touch none of the parent's DuckDB state
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        futures = [pool.submit(_task, b, str(out_dir), processes_only) for b in _batches(paths, censuses, n)]
        for fut in futures:
            out_path, results = fut.result()
            starts = outs.setdefault(Path(out_path), [])
            for i, res, start in results:
                starts.append((i, start))
                by_file[i].append(res)
                if done is not None:
                    done(i)
    outcomes = [_outcome(c, _merge(by_file[i])) for i, c in enumerate(censuses)]
    for starts in outs.values():
        starts.sort(key=lambda s: s[1])      # a worker's tasks run one after another: in file order
    return outs, outcomes
