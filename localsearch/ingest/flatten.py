"""Turn one Windows event (XML element, EVTX JSON) into the flat shape the SQL path reads (pure); the JSON
layouts of shippers (Winlogbeat, ECS, NXLog) are in layouts.py.

Flat shape = OTRF/Mordor style: one JSON object per event, EventData fields at top level, System fields
under the names Splunk extracts from XmlWinEventLog: Name and Guid (Provider), EventID, Version, Level,
Task, Opcode, Keywords, SystemTime (TimeCreated), EventRecordID, ActivityID (Correlation), ProcessID and
ThreadID (Execution), Channel, Computer, UserID (Security). Empty elements are left out (Splunk extracts no
field from them); values are strings.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any, Dict, Optional

from .bounds import DuplicateValues

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_SYSTEM_ATTRS = {
    "Provider": {"Name": "Name", "Guid": "Guid"},
    "TimeCreated": {"SystemTime": "SystemTime"},
    "Correlation": {"ActivityID": "ActivityID"},
    "Execution": {"ProcessID": "ProcessID", "ThreadID": "ThreadID"},
    "Security": {"UserID": "UserID"},
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _put(out: Dict[str, str], key: str, value: Optional[str]) -> None:
    if value is None or value == "":
        return
    if key in out:          # repeated name (unnamed <Data> elements): multivalue, newline-joined
        out[key] = out[key] + "\n" + value
    else:
        out[key] = value


# a tag (attribute values quoted), to tell markup from the text between tags
_TAG = re.compile(rb"""(<(?:[^>"']|"[^"]*"|'[^']*')*>)""")


def parse_event_xml(text: bytes) -> ET.Element:
    """An `<Event>` as Splunk's XmlWinEventLog `_raw` holds it -> element, the text's CR kept: an XML parser
    turns CR LF and CR into LF (XML 1.0 section 2.11), while the add-ons' extractions read the bytes between
    the tags as they are (`<Data Name='CommandLine'>(?<Process_Command_Line>[^<]+)</Data>`), so a CR in text
    is given to the parser as the character reference `&#13;`, which it keeps. Raises ET.ParseError."""
    if b"\r" in text:
        parts = _TAG.split(text)
        text = b"".join(p if i % 2 else p.replace(b"\r", b"&#13;") for i, p in enumerate(parts))
    return ET.fromstring(text)


def xml_event_to_flat(root: ET.Element, brace_guids: bool = False) -> Dict[str, str]:
    """<Event> element -> flat dict. brace_guids: the EVTX renderer prints GUID values without the braces
    Windows (and Splunk's XmlWinEventLog) show; put them back."""
    if _local(root.tag) != "Event":
        raise ValueError(f"root element is <{_local(root.tag)}>, not <Event>")
    out: Dict[str, str] = {}
    for part in root:
        kind = _local(part.tag)
        if kind == "System":
            for el in part:
                name = _local(el.tag)
                attrs = _SYSTEM_ATTRS.get(name)
                if attrs is not None:
                    for a, key in attrs.items():
                        _put(out, key, el.get(a))
                else:
                    _put(out, name, (el.text or "").strip())
        elif kind == "EventData":
            for el in part:
                name = el.get("Name") or _local(el.tag)
                _put(out, name, el.text)
        elif kind == "UserData":
            for el in part.iter():
                if len(el) == 0 and el is not part:
                    _put(out, _local(el.tag), el.text)
        elif kind == "RenderingInfo":
            for el in part:
                if _local(el.tag) == "Message":
                    _put(out, "Message", el.text)
    if "EventID" not in out:
        raise ValueError("no System/EventID")
    if brace_guids:
        for k, v in out.items():
            if _GUID.fullmatch(v):
                out[k] = "{" + v + "}"
    return out


def _text(v: Any) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, DuplicateValues):      # a key repeated in one object: multivalue (bounds.py)
        parts = [t for t in (_text(x) for x in v) if t not in (None, "")]
        return "\n".join(parts) if parts else None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _attrs(v: Any) -> Dict[str, Any]:
    return (v.get("#attributes") or {}) if isinstance(v, dict) else {}


def _leaf(v: Any) -> Optional[str]:
    """Text of an evtx JSON value: plain values, or {"#text": ...} elements (lists joined by newlines)."""
    if isinstance(v, dict):
        v = v.get("#text")
    if isinstance(v, list):
        parts = [t for t in (_text(x) for x in v) if t not in (None, "")]
        return "\n".join(parts) if parts else None
    return _text(v)


def _evtx_value(v: Any) -> Optional[str]:
    cls = v.__class__
    if cls is str:
        if len(v) == 36 and _GUID.fullmatch(v):
            return "{" + v + "}"
        return v or None
    if cls is int:
        return str(v)
    if v is None:
        return None
    return _leaf(v)


def evtx_json_to_flat(d: Dict[str, Any]) -> Dict[str, str]:
    """Record from the `evtx` package's JSON rendering -> the same flat dict as xml_event_to_flat gives
    for its XML rendering, GUIDs put back in braces (the JSON keeps CR LF inside values; XML parsing
    would turn them into LF)."""
    ev = d.get("Event")
    if not isinstance(ev, dict) or not isinstance(ev.get("System"), dict):
        raise ValueError("record has no Event/System")
    out: Dict[str, str] = {}
    for name, el in ev["System"].items():
        attrs = _SYSTEM_ATTRS.get(name)
        if attrs is not None:
            a = _attrs(el)
            for src, key in attrs.items():
                t = _evtx_value(a.get(src))
                if t is not None:
                    out[key] = t
        else:
            t = _evtx_value(el)
            if t is not None:
                out[name] = t
    data = ev.get("EventData")
    if isinstance(data, dict):
        # the hot loop of EVTX reading: _evtx_value and _put inlined for plain strings and numbers
        for k, v in data.items():
            cls = v.__class__
            if cls is str:
                if not v:
                    continue
                if len(v) == 36 and _GUID.fullmatch(v):
                    v = "{" + v + "}"
            elif cls is int:
                v = str(v)
            elif v is None or k == "#attributes":
                continue
            else:
                v = _leaf(v)
                if not v:
                    continue
            if k in out:        # a name also used by System (or repeated): multivalue, as _put does
                out[k] = out[k] + "\n" + v
            else:
                out[k] = v
    data = ev.get("UserData")
    if isinstance(data, dict):
        stack = [data]
        while stack:
            node = stack.pop(0)
            for k, v in node.items():
                if k == "#attributes":
                    continue
                if isinstance(v, dict) and "#text" not in v:
                    stack.append(v)
                else:
                    t = _evtx_value(v)
                    if t is not None:
                        _put(out, k, t)
    if "EventID" not in out:
        raise ValueError("no System/EventID")
    return out
