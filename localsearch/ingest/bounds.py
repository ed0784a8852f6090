"""Resource bounds of the Python readers (pure apart from the stream they read).

- A record (line) longer than MAX_RECORD_BYTES is not read: it is skipped with its size and line number, and
  reading goes on after it; memory for it stays at one read buffer (READ_BYTES).
- JSON nested deeper than the parser's recursion limit is skipped ("nested too deeply"), not a traceback.
- A record with more than MAX_FIELDS fields is skipped (the events view gives every distinct field name a
  column; 10,000 distinct names from a few records would make every query wide and slow).
- Duplicate keys in one JSON object: every value is kept, in order, as one multivalue field (values joined
  by a newline, as repeated `<Data Name=...>` elements are), the same in every file whatever its other lines
  hold. (Files with duplicate keys are read here rather than by DuckDB, which refuses them in read_json.)
"""
from __future__ import annotations

import json
from typing import IO, Any, Callable, Dict, Iterator, List, Tuple

MAX_RECORD_BYTES = 32 << 20
MAX_FIELDS = 2000
READ_BYTES = 1 << 20


class _TooLong(bytes):
    """The line yielded in place of a record that was too long (already reported)."""


TOO_LONG = _TooLong()


def lines(fh: IO[bytes], skip: Callable[[int, str], None]) -> Iterator[bytes]:
    """The lines of a binary stream, each with its newline; a line over MAX_RECORD_BYTES is reported through
    skip(line number, reason) and yielded as TOO_LONG, having been read past in READ_BYTES pieces."""
    lineno = 0
    while True:
        line = fh.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        lineno += 1
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            size = len(line)
            while True:
                piece = fh.readline(READ_BYTES)
                size += len(piece)
                if not piece or piece.endswith(b"\n"):
                    break
            skip(lineno, f"record of {size:,} bytes is over the {MAX_RECORD_BYTES >> 20} MiB limit: not read")
            yield TOO_LONG
            continue
        yield line


def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    dup: Dict[str, List[Any]] = {}
    for k, v in pairs:
        if k in out:
            dup.setdefault(k, [out[k]]).append(v)
        out[k] = v
    for k, vs in dup.items():
        out[k] = DuplicateValues(vs)
    return out


class BoundError(ValueError):
    """A record over one of the bounds (the message says which)."""


class DuplicateValues(list):
    """The values of a key that appears more than once in one JSON object, in order."""


def bounded_loads(raw: bytes) -> Any:
    """json.loads with the bounds above: BoundError for too deep nesting or too many fields (ValueError for
    malformed JSON); duplicate keys give DuplicateValues."""
    try:
        d = json.loads(raw, object_pairs_hook=_pairs)
    except RecursionError:
        raise BoundError("JSON nested too deeply to read") from None
    if isinstance(d, dict) and len(d) > MAX_FIELDS:
        raise BoundError(f"record has {len(d):,} fields, over the limit of {MAX_FIELDS:,}")
    return d
