"""Splunk's own exports of search results, read as the events they came from.

Formats (REFERENCE section 8; Splunk Search Manual "Export search results"):
- CSV (Splunk Web export, `outputcsv`): a header row, then one row per event; `_raw`, `_time`, `host`,
  `source`, `sourcetype`, `index` and the fields extracted at search time; multivalue fields are newline-joined
  inside one quoted cell.
- JSON (Splunk Web export, REST `output_mode=json`): one `{"preview":false,"offset":N,"result":{...}}` object per
  line; every value in `result` is a string or a list of strings (multivalue).
- Raw: each event's `_raw`, one per line for XmlWinEventLog, which is the XmlWinEventLog text reader's input;
  classic WinEventLog events span several lines each (stage_splunk_raw_classic).

Each event is rebuilt from its `_raw` as the Windows and Sysmon add-ons read it (XmlWinEventLog: the XML
`<Event>`, flatten.xml_event_to_flat; JSON events such as OTRF's: the JSON lines rules; classic WinEventLog
text: wineventlog_text.py), so every field a search uses comes from the same place as for an EVTX or XML
file; the exported search-time fields (which include the add-ons' own CIM aliases) are not read again.
A row without `_raw` (an export of a `table`) gives its columns as the event's fields. Splunk's default fields
of the export (`host`, `source`, `sourcetype`, `index`, `_time`) are kept: they override what the runner would
derive, under the hidden names `_ls_default.<field>` (fieldnames.py). Classic WinEventLog records the add-on's rules
do not settle are skipped with `unsupported in local runs: <what>` (wineventlog_text.py).
"""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple

from .bounds import MAX_FIELDS, MAX_RECORD_BYTES, TOO_LONG, BoundError, bounded_loads, lines
from .flatten import parse_event_xml, xml_event_to_flat
from .layouts import json_to_flat
from .readers import flat_or_skip, xml_record_to_flat
from .wineventlog_text import OVERRIDE, event_from_text, starts_event

Skip = Callable[[int, str], None]
Tick = Callable[[int], None]
DEFAULTS = ("host", "source", "sourcetype", "index", "_time")


def epoch_text(value: str) -> Optional[str]:
    """An export's `_time` (epoch seconds from outputcsv/REST, ISO-8601 with offset from Splunk Web) as epoch
    seconds text; None when unreadable (the event's own time is used then)."""
    v = value.strip()
    if not v:
        return None
    try:
        return repr(float(v))
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        return repr(dt.timestamp())
    except (OverflowError, ValueError, OSError):
        return None


def _value(v: Any) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, list):
        parts = [str(x) for x in v if x not in (None, "")]
        return "\n".join(parts) if parts else None
    return str(v) if v != "" else None


def event_from_result(result: Dict[str, Any]) -> Dict[str, str]:
    """One exported result -> the flat event (raises ValueError with the reason for a record not read)."""
    raw = _value(result.get("_raw"))
    if raw is not None:
        text = raw.lstrip()
        if text.startswith("{"):          # JSON events (KV_MODE=json): the JSON lines reader's rules
            flat = json_to_flat(bounded_loads(text.encode("utf-8")))
        elif text.startswith("<"):
            try:
                flat = xml_event_to_flat(parse_event_xml(text.encode("utf-8")))
            except ET.ParseError as exc:
                raise ValueError(f"malformed XML in _raw: {exc}") from None
        else:                             # classic WinEventLog text (sourcetype WinEventLog)
            flat = event_from_text(text)
    else:
        flat = {}
        for k, v in result.items():
            t = _value(v)
            if t is not None and k and not k.startswith("_") and k not in DEFAULTS:
                flat[k] = t
        if not flat:
            raise ValueError("result has neither _raw nor fields")
    for name in DEFAULTS:
        t = _value(result.get(name))
        if name == "_time" and t is not None:
            t = epoch_text(t)
        if t is not None:
            flat[OVERRIDE + name] = t
    return flat


def _write(out: IO[str], flat: Dict[str, str]) -> None:
    out.write(json.dumps(flat, ensure_ascii=False))
    out.write("\n")


def stage_splunk_json(fh: IO[bytes], out: IO[str], skip: Skip, tick: Tick) -> int:
    n = done = 0
    for lineno, raw in enumerate(lines(fh, skip), 1):
        done += len(raw)
        if raw is TOO_LONG or not raw.strip():
            continue
        try:
            d = bounded_loads(raw.lstrip(b"\xef\xbb\xbf"))
        except BoundError as exc:
            skip(lineno, str(exc))
            continue
        except ValueError as exc:
            skip(lineno, f"malformed JSON: {exc}")
            continue
        result = d.get("result") if isinstance(d, dict) else None
        if not isinstance(result, dict):
            skip(lineno, "not a search result (no `result` object)")
            continue
        flat = flat_or_skip(event_from_result, result, lineno, skip)
        if flat is None:
            continue
        _write(out, flat)
        n += 1
        if n % 20_000 == 0:
            tick(done)
    return n


def _csv_rows(fh: IO[bytes], skip: Skip) -> Iterator[Dict[str, str]]:
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
    csv.field_size_limit(MAX_RECORD_BYTES)
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    for row in reader:
        if not row:
            continue
        yield dict(zip(header, row))


def stage_splunk_csv(fh: IO[bytes], out: IO[str], skip: Skip, tick: Tick) -> int:
    """Records are numbered by row (1 = the first row after the header): a quoted `_raw` spans lines."""
    n = 0
    rows = _csv_rows(fh, skip)
    rowno = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            rowno += 1
            skip(rowno, f"CSV row not readable: {exc}")
            if "field larger than field limit" not in str(exc):
                break          # the reader cannot resynchronise after a broken quote
            continue
        rowno += 1
        if len(row) > MAX_FIELDS:
            skip(rowno, f"row has {len(row):,} fields, over the limit of {MAX_FIELDS:,}")
            continue
        flat = flat_or_skip(event_from_result, row, rowno, skip)
        if flat is None:
            continue
        _write(out, flat)
        n += 1
    return n


# ---- Splunk's raw export of classic WinEventLog events ----------------------------------------------------
@dataclass
class ClassicStats:
    """What a raw export of classic events lacks: their time zone (the text holds the forwarder's local
    time only, so `_time` is unknown; a CSV or JSON export carries it)."""
    untimed: int = 0

    def warnings(self, name: Path) -> List[str]:
        if not self.untimed:
            return []
        return [f"{name}: {self.untimed:,} classic WinEventLog event(s) carry only the forwarder's local time, "
                "without a time zone: their _time is unknown (a CSV or JSON export of the search gives it)"]


def _classic_records(fh: IO[bytes], skip: Skip) -> Iterator[Tuple[int, bytes, int]]:
    """(first line number, event text, bytes read): a classic event runs from a line that opens with its time
    stamp to the next such line (Splunk's LINE_BREAKER for WinEventLog); a line `<Event ...>...</Event>` (an
    XmlWinEventLog event of the same search) is a record of its own. Lines outside any event are reported,
    once per run of them."""
    buf: List[bytes] = []
    start = size = held = 0
    dropping = orphan = False

    def close() -> Iterator[Tuple[int, bytes, int]]:
        nonlocal buf, size, held
        if buf:
            yield start, b"".join(buf), size
        buf, size, held = [], 0, 0

    for lineno, raw in enumerate(lines(fh, skip), 1):
        if raw is TOO_LONG:              # reported by lines(); the event holding it is not read
            buf, size, held, dropping = [], 0, 0, True
            continue
        line = raw[3:] if lineno == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
        bare = line.strip()
        if starts_event(line[:32].decode("utf-8", "replace")) or (bare.startswith(b"<Event")
                                                                   and bare.endswith(b"</Event>")):
            yield from close()
            buf, size, held, start, dropping, orphan = [line], len(raw), len(line), lineno, False, False
            if bare.startswith(b"<Event"):
                yield from close()
            continue
        size += len(raw)
        if dropping:
            continue
        if not buf:
            if bare and not orphan:
                orphan = True
                skip(lineno, "text outside any classic WinEventLog event (no MM/DD/YYYY hh:mm:ss AM line before it)")
            continue
        buf.append(line)
        held += len(line)
        if held > MAX_RECORD_BYTES:
            skip(start, f"record over the {MAX_RECORD_BYTES >> 20} MiB limit: not read")
            buf, size, held, dropping = [], 0, 0, True
    yield from close()


def stage_splunk_raw_classic(fh: IO[bytes], out: IO[str], skip: Skip, tick: Tick,
                             stats: Optional[ClassicStats] = None) -> int:
    """Splunk's raw export of classic WinEventLog events (each `_raw` as it is, events one after another),
    XmlWinEventLog lines among them read as XML. A record's number is its first line's."""
    n = done = 0
    for lineno, raw, size in _classic_records(fh, skip):
        done += size
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            skip(lineno, f"not UTF-8 text: {exc}")
            continue
        xml = text.lstrip().startswith("<")
        flat = (flat_or_skip(xml_record_to_flat, raw.strip(), lineno, skip) if xml else
                flat_or_skip(event_from_text, text.rstrip("\n"), lineno, skip))
        if flat is None:
            continue
        _write(out, flat)
        n += 1
        if stats is not None and not xml:
            stats.untimed += 1
        if n % 20_000 == 0:
            tick(done)
    return n
