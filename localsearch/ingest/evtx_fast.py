"""EVTX: what the file says it holds, what the `evtx` parser reads, and the difference, record by record.

An EVTX file is a 4 KiB file header (next record id, chunk count) and 64 KiB chunks; each chunk header states
its first and last record number and record id. The `evtx` parser (Rust) silently drops a chunk cut short by
truncation, and after a damaged record header it reports one error and drops the rest of that chunk. So the
records each chunk header states are compared with the records read from that chunk: every record missing is
reported (with its EventRecordID when the chunk's ids are consecutive) as truncated or unreadable. Chunks the
file header counts that are missing from the file (a file cut at a chunk boundary) are reported with the
records the file header's next record id implies (ids are consecutive across a log's chunks).

Large files are parsed in parts (ranges of chunks, each presented to the parser as the file header plus those
chunks), so a process pool can spread one file over both cores (evtx_pool.py).
"""
from __future__ import annotations

import io
import os
import struct
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple

HEADER_BLOCK = 4096
CHUNK = 65536
CHUNK_MAGIC = b"ElfChnk\x00"
MAX_CHUNK_RECORDS = CHUNK // 24     # a record is at least 24 bytes: more stated records is a damaged header


@dataclass
class Chunk:
    index: int                  # slot in the file (0-based)
    first_no: int = 0
    last_no: int = 0
    first_id: int = 0
    last_id: int = 0
    complete: bool = True       # all 64 KiB present
    readable: bool = True       # header magic present and its counts plausible

    @property
    def stated(self) -> int:
        return self.last_no - self.first_no + 1 if self.readable else 0

    @property
    def consecutive_ids(self) -> bool:
        return self.readable and self.last_id - self.first_id + 1 == self.stated


@dataclass
class Census:
    size: int
    next_record_id: int
    chunk_count: int            # chunks the file header says the file holds
    chunks: List[Chunk] = field(default_factory=list)

    @property
    def missing_chunks(self) -> int:
        return max(0, self.chunk_count - len(self.chunks))

    @property
    def tail_lost(self) -> int:
        """Records of chunks missing from the file, from the file header's next record id (0 if none)."""
        if not self.missing_chunks:
            return 0
        last = max((c.last_id for c in self.chunks if c.readable), default=0)
        return max(0, self.next_record_id - 1 - last)

    @property
    def stated(self) -> int:
        return sum(c.stated for c in self.chunks) + self.tail_lost


def read_census(fh: IO[bytes], size: int) -> Census:
    """Census of an EVTX stream (seekable) of `size` bytes."""
    fh.seek(0)
    head = fh.read(HEADER_BLOCK)
    if len(head) < 44 or not head.startswith(b"ElfFile\x00"):
        raise ValueError("not an EVTX file (no ElfFile header)")
    next_id = struct.unpack_from("<Q", head, 24)[0]
    chunk_count = struct.unpack_from("<H", head, 42)[0]
    census = Census(size, next_id, chunk_count)
    slots = max(0, -(-(size - HEADER_BLOCK) // CHUNK))
    for i in range(slots):
        off = HEADER_BLOCK + i * CHUNK
        fh.seek(off)
        h = fh.read(40)
        complete = off + CHUNK <= size
        if not h.startswith(CHUNK_MAGIC):
            if i < chunk_count and h.strip(b"\x00"):
                census.chunks.append(Chunk(i, complete=complete, readable=False))
            continue                     # an unused (zeroed) slot
        if len(h) < 40:
            census.chunks.append(Chunk(i, complete=False, readable=False))
            continue
        first_no, last_no, first_id, last_id = struct.unpack_from("<4Q", h, 8)
        ok = first_no <= last_no and last_no - first_no < MAX_CHUNK_RECORDS
        census.chunks.append(Chunk(i, first_no, last_no, first_id, last_id, complete, ok))
    return census


class ChunkView(io.RawIOBase):
    """A read-only EVTX stream made of a file's header block and its chunks [lo, hi): what the parser sees
    when one part of a large file is parsed on its own."""

    def __init__(self, path: Path, lo: int, hi: int) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        size = os.fstat(self._fd).st_size
        self._start = HEADER_BLOCK + lo * CHUNK
        self._end = min(size, HEADER_BLOCK + hi * CHUNK)
        self._len = HEADER_BLOCK + max(0, self._end - self._start)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._len}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, b: Any) -> int:
        want = min(len(b), self._len - self._pos)
        if want <= 0:
            return 0
        if self._pos < HEADER_BLOCK:
            data = os.pread(self._fd, min(want, HEADER_BLOCK - self._pos), self._pos)
        else:
            data = os.pread(self._fd, want, self._start + self._pos - HEADER_BLOCK)
        b[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


@dataclass
class PartResult:
    """What parsing one part (or a whole file) gave: counts per chunk slot and the errors met."""

    written: int = 0
    unstaged: int = 0               # of `written`: counted, not staged (evtx_pool processes_only)
    read_ids: Dict[int, List[int]] = field(default_factory=dict)   # chunk index -> ids read (losses only)
    read_count: Dict[int, int] = field(default_factory=dict)       # chunk index -> records read
    errors: List[Tuple[int, str]] = field(default_factory=list)    # (chunk index or -1, message)
    bad_records: List[Tuple[int, str]] = field(default_factory=list)   # (record id, why it was not kept)


def parse(source: "str | IO[bytes]", chunks: List[Chunk], emit: Callable[[str, int], bool],
          skip: Optional[Callable[[str], bool]] = None) -> PartResult:
    """Parse EVTX records with the `evtx` package (one thread: the pool gives the parallelism). For each
    record, skip(text) True counts it in `unstaged` only; else emit(text, record id) writes it and returns
    False for a record it rejects (the reason goes into bad_records by the caller). Records are attributed
    to chunks by id range."""
    from evtx import PyEvtxParser

    res = PartResult()
    ranges = [(c.first_id, c.last_id, c.index) for c in chunks if c.readable]
    # a record's chunk: the first (in file order) whose id range holds it; found by bisection when the ranges
    # do not overlap (a sound file), else by a scan in file order (a damaged file)
    by_start = sorted(ranges)
    disjoint = all(a[1] < b[0] for a, b in zip(by_start, by_start[1:]))
    starts = [r[0] for r in by_start]
    last_chunk = -1
    try:
        parser = PyEvtxParser(source, 1)
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"not a readable EVTX file: {exc}") from exc
    it: Iterator = iter(parser.records_json())
    # the hot loop (as long as the parse itself when written plainly): the current chunk's id range and id
    # list held in locals; a chunk's count is the length of its id list
    ids: Dict[int, List[int]] = res.read_ids
    lo, hi, cur_ids = 1, 0, ids.setdefault(-1, [])
    written = unstaged = 0
    in_emit = False
    while True:
        try:
            for rec in it:
                rid = rec["event_record_id"] or 0
                if not lo <= rid <= hi:       # a record of another chunk
                    lo, hi, cur_ids = 1, 0, ids[-1]
                    last_chunk = -1
                    if disjoint:
                        k = bisect_right(starts, rid)
                        found = [by_start[k - 1]] if k else []
                    else:
                        found = ranges
                    for lo_k, hi_k, ci in found:
                        if lo_k <= rid <= hi_k:
                            lo, hi, last_chunk = lo_k, hi_k, ci
                            cur_ids = ids.setdefault(ci, [])
                            break
                cur_ids.append(rid)
                text = rec["data"]
                if skip is not None and skip(text):
                    unstaged += 1
                    continue
                in_emit = True
                if emit(text, rid):
                    written += 1
                in_emit = False
            break
        except (RuntimeError, OSError, ValueError) as exc:
            if in_emit:               # the caller's failure (a write), not the parser's: not a lost record
                raise
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            res.errors.append((last_chunk, msg))
    res.written = written + unstaged
    res.unstaged = unstaged
    for idx in [k for k, v in ids.items() if not v]:
        del ids[idx]
    res.read_count = {k: len(v) for k, v in ids.items()}
    # keep the id lists only where a chunk lost records (the caller names the missing ones)
    stated = {c.index: c.stated for c in chunks}
    for idx in list(res.read_ids):
        if idx in stated and res.read_count.get(idx, 0) >= stated[idx]:
            del res.read_ids[idx]
    return res


def losses(census: Census, res: PartResult, path_size: int) -> Iterator[Tuple[int, str]]:
    """(record number, reason) for every record the headers state that was not read, one at a time (a file cut
    in half can state millions: they are never held in a list)."""
    pos = 0
    err_by_chunk: Dict[int, str] = {}
    for ci, msg in res.errors:
        err_by_chunk.setdefault(ci, msg)
    for c in census.chunks:
        if not c.readable:
            yield (pos + 1, f"EVTX chunk {c.index + 1} has an unreadable header: its records are lost "
                            "(number unknown)")
            continue
        got = res.read_count.get(c.index, 0)
        lost = c.stated - got
        if lost > 0:
            if not c.complete:
                why = f"truncated EVTX file ({path_size} bytes): chunk {c.index + 1} is cut"
            else:
                # an error right after the last record read from the chunk before, or in this chunk
                prev = _prev(census, c.index)
                msg = (err_by_chunk.get(c.index) or (err_by_chunk.get(prev) if prev is not None else None)
                       or "not returned by the parser")
                why = f"EVTX record not readable in chunk {c.index + 1}: {msg}"
            seen = set(res.read_ids.get(c.index, []))
            if c.consecutive_ids:
                missing = [i for i in range(c.first_id, c.last_id + 1) if i not in seen]
                for rid in missing:
                    yield (pos + rid - c.first_id + 1, f"{why}, record EventRecordID {rid} lost")
            else:
                for k in range(lost):
                    yield (pos + got + k + 1, f"{why}, a record lost")
        pos += c.stated
    if census.missing_chunks:
        n = census.tail_lost
        first = census.next_record_id - n
        why = (f"truncated EVTX file ({path_size} bytes): the file header counts {census.chunk_count} chunks, "
               f"{census.missing_chunks} missing")
        if n:
            for k in range(n):
                yield (pos + k + 1, f"{why}, record EventRecordID {first + k} lost")
        else:
            yield (pos + 1, f"{why}, their records are lost (number unknown)")
    yield from res.bad_records


def _prev(census: Census, index: int) -> Optional[int]:
    prev = [c.index for c in census.chunks if c.index < index]
    return prev[-1] if prev else None


def parts(census: Census, per_part: int) -> List[Tuple[int, int]]:
    """Chunk ranges [lo, hi) of about per_part chunks covering the file's chunk slots."""
    slots = max(0, -(-(census.size - HEADER_BLOCK) // CHUNK))
    return [(lo, min(slots, lo + per_part)) for lo in range(0, slots, per_part)] or [(0, 0)]
