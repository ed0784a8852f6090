"""JSON layouts of Windows events, as data: what identifies each, its time fields, how it becomes the flat shape.

The flat shape (flatten.py) is OTRF's: EventData fields at top level, System fields under the names Splunk
extracts from XmlWinEventLog. A record's layout is the first entry of LAYOUTS whose identifying keys it has
(dotted paths into nested objects); layouts marked `flat` are already in that shape and are read by DuckDB as
they are, the others are flattened in Python record by record.

| layout (format name) | shipper | identified by | time (`_time`) |
|---|---|---|---|
| jsonl-elastic-agent | Elastic Agent, Windows/System integrations | winlog + data_stream or elastic_agent | @timestamp |
| jsonl-ecs | Winlogbeat 7+/8 with the sysmon/security module | winlog + event.module or process | @timestamp |
| jsonl-winlogbeat | Winlogbeat 7+/8 without a module | winlog | @timestamp |
| jsonl-winlogbeat6 | Winlogbeat 6.x | event_id + log_name (top level) | @timestamp |
| jsonl-otrf | NXLog im_msvistalog through Logstash (OTRF / Mordor) | EventID + SourceModuleType + @timestamp | @timestamp (the export time) |
| jsonl-nxlog | NXLog im_msvistalog `to_json()` | EventID + SourceModuleType | UtcTime (Sysmon), else EventTime only with a zone |
| jsonl-flat | other flat objects with an EventID or EventCode | EventID or EventCode | SystemTime, @timestamp, UtcTime |

ECS documents: an Elastic module *moves* fields out of `winlog.event_data` (Image, CommandLine, ParentImage,
User, ... for Sysmon 1; NewProcessName, NewProcessId, ParentProcessName for 4688); the fields a source lists
in its `ecs` table (sources.py) are taken back from the ECS fields when event_data lacks them, converted back to
the Windows form (pids of 4688 to `0x` hex, user.domain + user.name to `DOMAIN\\name`, process.hash.* to
Sysmon's `SHA1=...,MD5=...` text).

Where a Winlogbeat / ECS / Elastic Agent document keeps the event's XML in `event.original` (Agent's
`preserve_original_event`, Winlogbeat's `include_xml`), the event is read from that XML instead.

NXLog writes EventTime as local time without a zone, so it is a time only where it carries an offset.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple

from .flatten import _put, _text, xml_event_to_flat
from .sources import SOURCES, source_of


@dataclass(frozen=True)
class Layout:
    name: str
    shipper: str
    all_of: Tuple[str, ...]              # dotted key paths that must all be present
    any_of: Tuple[str, ...] = ()         # and at least one of these (when given)
    flat: bool = False                   # already flat: read by DuckDB as it is
    time_fields: Tuple[str, ...] = ("@timestamp",)
    # layouts of one shipper family (a Winlogbeat 8 file holds module-processed and plain records): a file
    # is named by the most specific layout of each family it holds
    family: str = ""


LAYOUTS: Tuple[Layout, ...] = (
    Layout("jsonl-elastic-agent", "Elastic Agent (Windows / System integrations)", ("winlog",),
           ("data_stream", "elastic_agent"), family="winlog"),
    Layout("jsonl-ecs", "Winlogbeat 7+/8 with its sysmon / security module (ECS)", ("winlog",),
           ("event.module", "process"), family="winlog"),
    Layout("jsonl-winlogbeat", "Winlogbeat 7+/8", ("winlog",), family="winlog"),
    Layout("jsonl-winlogbeat6", "Winlogbeat 6.x", ("event_id", "log_name")),
    Layout("jsonl-otrf", "NXLog through Logstash (OTRF / Mordor)", ("EventID", "SourceModuleType", "@timestamp"),
           flat=True),
    Layout("jsonl-nxlog", "NXLog im_msvistalog to_json()", ("EventID", "SourceModuleType"), flat=True,
           time_fields=("UtcTime", "EventTime")),
    Layout("jsonl-flat", "flat JSON objects (EventData fields at top level)", (), ("EventID", "EventCode"),
           flat=True, time_fields=("SystemTime", "@timestamp", "UtcTime")),
)
UNKNOWN = "jsonl-unknown"
# Top-level keys whose presence in any record of a JSON file read by DuckDB sends the file to the Python
# flattening instead (pass 1 tests every line's text for them). Winlogbeat 6.x (`event_data`) is recognised
# by the file's first record only (peek_layout): one more text test per line would cost a scan of every
# line (~35% of the tstats load on OTRF-sized records), and Winlogbeat writes one layout per file.
NESTED_KEYS = ("winlog",)
# Raw fields only process creations carry (Sysmon 1, Security 4688): a record holding one that does not map
# to a source is a process creation in a layout the runner does not know.
PROCESS_HINTS = ("ParentImage", "NewProcessName")


def _get(d: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def classify(d: Dict[str, Any]) -> Optional[Layout]:
    for lay in LAYOUTS:
        if all(_get(d, p) is not None for p in lay.all_of) and \
                (not lay.any_of or any(_get(d, p) is not None for p in lay.any_of)):
            return lay
    return None


@dataclass
class LayoutStats:
    """Per file: records by layout name, and process creations the mapping will not see."""
    layouts: Counter = field(default_factory=Counter)
    unmapped_processes: int = 0         # process-creation fields, but no source recognises the record
    incomplete_processes: int = 0       # a source's record without the fields it always carries

    def format_name(self, default: str) -> str:
        """The layouts held, one name per family (its most specific layout present), most records first."""
        by_name = {lay.name: lay for lay in LAYOUTS}
        families: Dict[str, Tuple[int, int, str]] = {}      # family -> (-records, rank, name)
        for name, n in self.layouts.items():
            lay = by_name.get(name)
            fam = (lay.family or lay.name) if lay is not None else name
            rank = LAYOUTS.index(lay) if lay is not None else len(LAYOUTS)
            total, best, best_name = families.get(fam, (0, rank, name))
            families[fam] = (total - n, min(best, rank), best_name if best <= rank else name)
        return "+".join(v[2] for v in sorted(families.values())) or default


# ---- Winlogbeat 6.x -----------------------------------------------------------------------------------------
_WLB6_KEYS = {
    "event_id": "EventID", "log_name": "Channel", "computer_name": "Computer", "record_number": "EventRecordID",
    "source_name": "Name", "provider_guid": "Guid", "version": "Version", "task": "Task", "opcode": "Opcode",
    "level": "Level", "keywords": "Keywords", "activity_id": "ActivityID", "process_id": "ProcessID",
    "thread_id": "ThreadID",
}


def winlogbeat6_to_flat(d: Dict[str, Any]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for part in ("event_data", "user_data"):
        for k, v in (d.get(part) or {}).items():
            _put(out, k, _text(v))
    for k, name in _WLB6_KEYS.items():
        _put(out, name, _text(d.get(k)))
    _put(out, "UserID", _text((d.get("user") or {}).get("identifier")))
    _put(out, "@timestamp", _text(d.get("@timestamp")))
    _put(out, "Message", _text(d.get("message")))
    return out


# ---- Winlogbeat 7+/8, ECS modules, Elastic Agent -----------------------------------------------------------
_WINLOG_KEYS = {
    "event_id": "EventID", "channel": "Channel", "computer_name": "Computer", "record_id": "EventRecordID",
    "provider_name": "Name", "provider_guid": "Guid", "version": "Version", "task": "Task",
    "opcode": "Opcode", "activity_id": "ActivityID",
}
_HASH_ORDER = ("sha1", "md5", "sha256", "imphash")      # Sysmon's order in its Hashes field


def ecs_value(d: Dict[str, Any], spec: str) -> Optional[str]:
    """A raw Windows field's value back from the ECS field `spec` names (see EventSource.ecs)."""
    kind, _, path = spec.rpartition(":")
    v = _get(d, path)
    if v is None:
        return None
    if kind == "hex":
        return f"0x{int(v):x}" if isinstance(v, int) or str(v).isdigit() else _text(v)
    if kind == "user":
        name, domain = _text(v.get("name")) if isinstance(v, dict) else None, None
        if isinstance(v, dict):
            domain = _text(v.get("domain"))
        if not name:
            return None
        return f"{domain}\\{name}" if domain else name
    if kind == "hashes":
        if not isinstance(v, dict):
            return None
        parts = [f"{k.upper()}={str(v[k]).upper()}" for k in _HASH_ORDER if v.get(k)]
        return ",".join(parts) or None
    return _text(v)


def _original(d: Dict[str, Any]) -> Optional[Dict[str, str]]:
    """The event as Windows wrote it, when the shipper kept it: `event.original` holding the event's XML
    (Elastic Agent's `preserve_original_event`, Winlogbeat's `include_xml`); None otherwise."""
    orig = _get(d, "event.original")
    if not isinstance(orig, str) or not orig.lstrip().startswith("<Event"):
        return None
    try:
        return xml_event_to_flat(ET.fromstring(orig))
    except (ET.ParseError, ValueError):
        return None


def winlog_to_flat(d: Dict[str, Any]) -> Dict[str, str]:
    """winlog.event_data.* at top level, winlog System fields under Splunk names, @timestamp (the event time)
    kept, `message` as Message; fields an ECS module moved out of event_data taken back from ECS. The rest of
    the ECS envelope (agent, ecs, host, event, log objects) is not kept. When `event.original` holds the
    event's XML, that is the event (read as XmlWinEventLog text is), with @timestamp and Message added."""
    w = d["winlog"]
    orig = _original(d)
    if orig is not None:
        _put(orig, "@timestamp", _text(d.get("@timestamp")))
        if "Message" not in orig:
            _put(orig, "Message", _text(d.get("message")))
        return orig
    out: Dict[str, str] = {}
    for part in ("event_data", "user_data"):
        for k, v in (w.get(part) or {}).items():
            _put(out, k, _text(v))
    for k, name in _WINLOG_KEYS.items():
        _put(out, name, _text(w.get(k)))
    proc = w.get("process") or {}
    _put(out, "ProcessID", _text(proc.get("pid")))
    _put(out, "ThreadID", _text((proc.get("thread") or {}).get("id")))
    _put(out, "UserID", _text((w.get("user") or {}).get("identifier")))
    _put(out, "@timestamp", _text(d.get("@timestamp")))
    _put(out, "Message", _text(d.get("message")))
    if "EventID" not in out:
        raise ValueError("Winlogbeat event without winlog.event_id")
    src = source_of(out.get("Channel"), out.get("EventID"))
    if src is not None:
        for raw, spec in src.ecs.items():
            if raw not in out:
                _put(out, raw, ecs_value(d, spec))
    return out


_FLATTEN = {"jsonl-elastic-agent": winlog_to_flat, "jsonl-ecs": winlog_to_flat, "jsonl-winlogbeat": winlog_to_flat,
            "jsonl-winlogbeat6": winlogbeat6_to_flat}


def json_to_flat(d: Any, stats: Optional[LayoutStats] = None) -> Dict[str, str]:
    """One parsed JSON record -> flat dict (flat layouts pass through with values as text)."""
    if not isinstance(d, dict):
        raise ValueError(f"record is a JSON {type(d).__name__}, not an object")
    if not d:
        raise ValueError("record is an empty JSON object")
    lay = classify(d)
    fn = _FLATTEN.get(lay.name) if lay is not None else None
    if fn is not None:
        out = fn(d)
    else:
        out = {k: t for k, t in ((k, _text(v)) for k, v in d.items()) if t is not None}
    if stats is not None:
        stats.layouts[lay.name if lay is not None else UNKNOWN] += 1
        src = source_of(out.get("Channel"), out.get("EventCode") or out.get("EventID"))
        if src is None and any(h in out for h in PROCESS_HINTS):
            stats.unmapped_processes += 1         # a process creation no source recognises
        elif src is not None and not all(r in out for r in src.required):
            stats.incomplete_processes += 1       # recognised, but its process fields are elsewhere
    return out


def peek_layout(fh: IO[bytes], limit: int = 1 << 20) -> Optional[Layout]:
    """The layout of a JSON lines stream's first record (None when it is not a readable object within `limit`
    bytes): decides whether the file goes to DuckDB as it is or to the Python flattening."""
    seen = 0
    try:
        for raw in fh:
            seen += len(raw)
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if raw.strip():
                if len(raw) > limit:
                    return None
                d = json.loads(raw)
                return classify(d) if isinstance(d, dict) else None
            if seen > limit:
                return None
    except (OSError, ValueError, EOFError):
        return None
    return None


def unknown_layout_warning(path: Path, n: int) -> str:
    known = ", ".join(lay.name for lay in LAYOUTS)
    return (f"{path}: {n} records look like process creations (they carry {' or '.join(PROCESS_HINTS)}) but are "
            f"in a layout the runner does not know, so they are not in Endpoint.Processes (known JSON layouts: "
            f"{known})")


def incomplete_layout_warning(path: Path, n: int) -> str:
    required = " / ".join(r for s in SOURCES for r in s.required)
    return (f"{path}: {n} process creations lack {required} (fields every such event carries): they are in a "
            f"layout the runner reads only in part, so their Endpoint.Processes fields are incomplete")


def stats_warnings(path: Path, stats: LayoutStats) -> List[str]:
    out = []
    if stats.unmapped_processes:
        out.append(unknown_layout_warning(path, stats.unmapped_processes))
    if stats.incomplete_processes:
        out.append(incomplete_layout_warning(path, stats.incomplete_processes))
    return out
