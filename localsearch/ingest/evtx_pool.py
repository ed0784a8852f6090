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
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Dict, List, Optional, Tuple

import orjson

from . import evtx_fast as ef
from .flatten import evtx_json_to_flat

POOL_BYTES = 16 << 20
PART_CHUNKS = 64                 # 4 MiB of chunks per task
SPOOL_BYTES = 64 << 20


@dataclass
class EvtxOutcome:
    events: int
    stated: int
    skipped: List[Tuple[int, str]]


def _emitter(out: IO[str], bad: List[Tuple[int, str]]) -> Callable[[Dict], bool]:
    """Flatten one record and write it (orjson: about twice as fast as json here, the same JSON values)."""
    def emit(rec: Dict) -> bool:
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
    return EvtxOutcome(res.written, census.stated, ef.losses(census, res, census.size))


def stage_stream(fh: IO[bytes], out: IO[str]) -> EvtxOutcome:
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
        res = ef.parse(fh, census.chunks, _emitter(out, bad))
        res.bad_records = bad
        return _outcome(census, res)
    finally:
        if spool is not None:
            spool.close()


def stage_path(path: Path, out: IO[str]) -> EvtxOutcome:
    """One plain EVTX file, parsed here (the parser reads the file itself: faster than through a stream)."""
    with open(path, "rb") as fh:
        census = ef.read_census(fh, os.fstat(fh.fileno()).st_size)
    bad: List[Tuple[int, str]] = []
    res = ef.parse(str(path), census.chunks, _emitter(out, bad))
    res.bad_records = bad
    return _outcome(census, res)


# --- the pool ---------------------------------------------------------------------------------------------

def _task(args: Tuple[str, int, int, bool, str]) -> Tuple[str, ef.PartResult]:
    """Worker: parse chunks [lo, hi) of a file (or the whole file), append its events to this worker's file."""
    path, lo, hi, whole, out_dir = args
    out_path = os.path.join(out_dir, f"staged-evtx-{os.getpid()}.ndjson")
    with open(path, "rb") as fh:
        census = ef.read_census(fh, os.fstat(fh.fileno()).st_size)
    chunks = [c for c in census.chunks if whole or lo <= c.index < hi]
    bad: List[Tuple[int, str]] = []
    with open(out_path, "a", encoding="utf-8") as out:
        source = path if whole else ef.ChunkView(Path(path), lo, hi)
        try:
            res = ef.parse(source, chunks, _emitter(out, bad))   # type: ignore[arg-type]
        finally:
            if not isinstance(source, str):
                source.close()
    res.bad_records = bad
    return out_path, res


def _merge(parts: List[ef.PartResult]) -> ef.PartResult:
    total = ef.PartResult()
    for p in parts:
        total.written += p.written
        for k, v in p.read_count.items():
            total.read_count[k] = total.read_count.get(k, 0) + v
        for k, ids in p.read_ids.items():
            total.read_ids.setdefault(k, []).extend(ids)
        total.errors.extend(p.errors)
        total.bad_records.extend(p.bad_records)
    return total


def stage_files(paths: List[Path], out_dir: Path, workers: Optional[int] = None,
                done: Optional[Callable[[int], None]] = None) -> Tuple[List[Path], List[EvtxOutcome]]:
    """Parse plain EVTX files with a process pool; (the NDJSON files written, one outcome per path).
    Raises ValueError naming the file for one that is not a readable EVTX file."""
    censuses = []
    for p in paths:
        with open(p, "rb") as fh:
            censuses.append(ef.read_census(fh, os.fstat(fh.fileno()).st_size))
    tasks: List[Tuple[int, Tuple[str, int, int, bool, str]]] = []
    for i, (p, c) in enumerate(zip(paths, censuses)):
        ranges = ef.parts(c, PART_CHUNKS)
        for lo, hi in ranges:
            tasks.append((i, (str(p), lo, hi, len(ranges) == 1, str(out_dir))))
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
