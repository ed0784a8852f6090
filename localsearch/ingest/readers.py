"""Python readers that stage XmlWinEventLog text and irregular JSON lines as flat NDJSON (EVTX: evtx_pool.py).

Each reader streams its input (an open binary stream: a file, a gzip stream or an
archive member; no whole file in memory), writes one flat JSON object per event to `out` (see flatten.py) and calls `skip(record_number, reason)` for every record it cannot read, then goes on.
They return the number of events written. `tick(bytes_done_in_this_file)` is called now and then.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple

from .bounds import MAX_RECORD_BYTES, TOO_LONG, BoundError, bounded_loads, lines
from .flatten import parse_event_xml, xml_event_to_flat
from .layouts import LayoutStats, json_to_flat

Skip = Callable[[int, str], None]
Tick = Callable[[int], None]
TICK_EVERY = 20_000


def _write(out: IO[str], flat: dict) -> None:
    out.write(json.dumps(flat, ensure_ascii=False))
    out.write("\n")


def _xml_records(fh: IO[bytes], skip: Skip) -> Iterator[Tuple[int, bytes, int]]:
    """(first line number, event text, bytes read) per event: an event is one line, or several when its
    values hold line breaks (Splunk's raw export writes `_raw` as it is): lines are joined until `</Event>`."""
    buf: List[bytes] = []
    start = size = 0
    for lineno, raw in enumerate(lines(fh, skip), 1):
        size += len(raw)
        if raw is TOO_LONG:
            continue
        # a line keeps its line break: inside an event it is part of a value (only the leading space of
        # an event's first line and the trailing space after `</Event>` are not the event's)
        line = raw.lstrip() if not buf else raw
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not buf:
            if not line:
                continue
            if line.startswith(b"<?xml"):      # a declaration on its own line is not a record
                if line.rstrip().endswith(b"?>"):
                    continue
                line = line[line.index(b"?>") + 2:].lstrip() if b"?>" in line else line
            if not line.startswith(b"<Event") or line.rstrip().endswith(b"</Event>"):
                yield lineno, line.rstrip(), size
                size = 0
                continue
            start = lineno
        elif raw.lstrip().startswith(b"<Event"):       # the open event never closed: report it, start anew
            yield start, b"".join(buf).strip(), size
            size = 0
            buf = []
            start = lineno
            line = raw.lstrip()
        buf.append(line)
        held = sum(len(b) for b in buf)
        if line.rstrip().endswith(b"</Event>"):
            yield start, b"".join(buf).strip(), size
            buf, size = [], 0
        elif held > MAX_RECORD_BYTES:
            skip(start, f"record over the {MAX_RECORD_BYTES >> 20} MiB limit: not read")
            buf, size = [], 0
    if buf:
        yield start, b"".join(buf).strip(), size


def xml_record_to_flat(text: bytes) -> Dict[str, str]:
    """One XmlWinEventLog event's text -> its flat form (ET.ParseError, ValueError: not readable)."""
    return xml_event_to_flat(parse_event_xml(text))


def flat_or_skip(parse: Callable[[Any], Dict[str, str]], text: Any, lineno: int,
                 skip: Skip) -> Optional[Dict[str, str]]:
    """parse(text) (a record's flat form), or None with the record skipped with the reason: malformed XML, or
    the ValueError of a record the mapping cannot take."""
    try:
        return parse(text)
    except ET.ParseError as exc:
        skip(lineno, f"malformed XML: {exc}")
    except ValueError as exc:
        skip(lineno, str(exc))
    return None


def stage_xml_lines(fh: IO[bytes], out: IO[str], skip: Skip, tick: Tick) -> int:
    """Splunk XmlWinEventLog text: one `<Event xmlns=...>...</Event>` per line (or over several lines when
    values hold line breaks). Blank lines are not records; a record's number is its first line's."""
    n = 0
    done = 0
    for lineno, line, size in _xml_records(fh, skip):
        done += size
        flat = flat_or_skip(xml_record_to_flat, line, lineno, skip)
        if flat is None:
            continue
        _write(out, flat)
        n += 1
        if n % TICK_EVERY == 0:
            tick(done)
    return n


def stage_json_lines(fh: IO[bytes], out: IO[str], skip: Skip, tick: Tick, stats: Optional[LayoutStats] = None) -> int:
    """JSON lines read record by record in Python (files the SQL path cannot take as they are: malformed
    lines, non-object records, non-flat layouts). Blank lines are not records. `stats` counts the records'
    layouts (layouts.py)."""
    n = 0
    done = 0
    for lineno, raw in enumerate(lines(fh, skip), 1):
        done += len(raw)
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        if raw is TOO_LONG:
            continue
        try:
            d = bounded_loads(raw)
        except BoundError as exc:
            skip(lineno, str(exc))
            continue
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
