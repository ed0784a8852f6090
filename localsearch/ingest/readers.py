"""Python readers that stage EVTX, XmlWinEventLog text and irregular JSON lines as flat NDJSON.

Each reader streams its input (no whole file in memory), writes one flat JSON object per event to `out`
(see flatten.py) and calls `skip(record_number, reason)` for every record it cannot read, then goes on.
They return the number of events written. `tick(bytes_done_in_this_file)` is called now and then.
"""
from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Callable, List, Optional, Tuple

from .flatten import evtx_json_to_flat, xml_event_to_flat
from .layouts import LayoutStats, json_to_flat

Skip = Callable[[int, str], None]
Tick = Callable[[int], None]
TICK_EVERY = 20_000


def _write(out: IO[str], flat: dict) -> None:
    out.write(json.dumps(flat, ensure_ascii=False))
    out.write("\n")


def stage_xml_lines(path: Path, out: IO[str], skip: Skip, tick: Tick) -> int:
    """Splunk XmlWinEventLog text: one `<Event xmlns=...>...</Event>` per line. Blank lines are not records."""
    n = 0
    done = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            done += len(raw)
            line = raw.strip()
            if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line:
                continue
            if line.startswith(b"<?xml"):      # a declaration on its own line is not a record
                if line.endswith(b"?>"):
                    continue
                line = line[line.index(b"?>") + 2:].strip() if b"?>" in line else line
            try:
                flat = xml_event_to_flat(ET.fromstring(line))
            except ET.ParseError as exc:
                skip(lineno, f"malformed XML: {exc}")
                continue
            except ValueError as exc:
                skip(lineno, str(exc))
                continue
            _write(out, flat)
            n += 1
            if n % TICK_EVERY == 0:
                tick(done)
    return n


CHUNK = 65536
HEADER_BLOCK = 4096


def evtx_cut_chunks(path: Path) -> List[Tuple[int, Optional[int], Optional[int], Optional[int]]]:
    """Chunks cut short by truncation that held records: (chunk index, records lost or None when the
    chunk header itself is cut, first EventRecordID, last EventRecordID). The `evtx` parser silently drops
    an incomplete chunk, so this reads the chunk headers to report what was lost."""
    size = path.stat().st_size
    cut = []
    with open(path, "rb") as fh:
        i = 0
        while HEADER_BLOCK + i * CHUNK < size:
            off = HEADER_BLOCK + i * CHUNK
            if off + CHUNK > size:
                fh.seek(off)
                head = fh.read(40)
                if head.startswith(b"ElfChnk\x00"):
                    if len(head) >= 40:
                        first_no, last_no, first_id, last_id = struct.unpack("<4Q", head[8:40])
                        if last_no >= first_no:
                            cut.append((i, last_no - first_no + 1, first_id, last_id))
                    else:
                        cut.append((i, None, None, None))
            i += 1
    return cut


def stage_evtx(path: Path, out: IO[str], skip: Skip, tick: Tick) -> int:
    """EVTX via the `evtx` package (its JSON rendering: faster than XML + ElementTree, and it keeps the CR LF
    line ends inside values that an XML parser would normalise to LF). A record the parser cannot
    render is reported with its position in the file (1-based) and reading goes on; records lost in a
    chunk cut by truncation are reported after the readable ones."""
    from evtx import PyEvtxParser

    size = path.stat().st_size
    try:
        parser = PyEvtxParser(str(path))
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"not a readable EVTX file: {exc}") from exc
    it = iter(parser.records_json())
    with open(path, "rb") as fh:
        header = fh.read(32)
    next_id = struct.unpack("<Q", header[24:32])[0] if len(header) == 32 else 0   # for progress only
    first_rid = 0     # first EventRecordID seen, for progress
    n = 0
    pos = 0
    while True:
        pos += 1
        try:
            rec = next(it)
        except StopIteration:
            break
        except (RuntimeError, OSError, ValueError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            skip(pos, f"EVTX record not readable: {msg}")
            continue
        if rec is None:             # the parser's iterator is typed Optional; no record, nothing to read
            skip(pos, "EVTX record not readable: the parser returned no record")
            continue
        try:
            flat = evtx_json_to_flat(json.loads(rec["data"]))
        except ValueError as exc:
            skip(pos, f"EVTX record (EventRecordID {rec.get('event_record_id')}): {exc}")
            continue
        _write(out, flat)
        n += 1
        if n % TICK_EVERY == 0 and next_id:
            rid: int = rec.get("event_record_id") or 0
            first_rid = first_rid or rid
            if next_id > first_rid:
                tick(size * max(0, min(rid - first_rid, next_id - first_rid)) // (next_id - first_rid))
    for idx, lost, first_id, last_id in evtx_cut_chunks(path):
        if lost is None or first_id is None:     # (both are None when the chunk header is cut)
            skip(pos, f"truncated EVTX file ({size} bytes): chunk {idx + 1} is cut inside its header, "
                      "its records are lost")
            pos += 1
            continue
        for k in range(lost):
            skip(pos, f"truncated EVTX file ({size} bytes): chunk {idx + 1} (EventRecordID {first_id}.."
                      f"{last_id}) is cut, record EventRecordID {first_id + k} lost")
            pos += 1
    return n


def stage_json_lines(path: Path, out: IO[str], skip: Skip, tick: Tick, stats: Optional[LayoutStats] = None) -> int:
    """JSON lines read record by record in Python (files the SQL path cannot take as they are: malformed
    lines, non-object records, non-flat layouts). Blank lines are not records. `stats` counts the records'
    layouts (layouts.py)."""
    n = 0
    done = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            done += len(raw)
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                d = json.loads(raw)
            except ValueError as exc:
                what = "truncated JSON record" if not raw.endswith(b"\n") else "malformed JSON"
                skip(lineno, f"{what}: {exc}")
                continue
            try:
                flat = json_to_flat(d, stats)
            except ValueError as exc:
                skip(lineno, str(exc))
                continue
            _write(out, flat)
            n += 1
            if n % TICK_EVERY == 0:
                tick(done)
    return n
