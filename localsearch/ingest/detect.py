"""Format detection from a file's first bytes (pure): EVTX, XmlWinEventLog text, JSON lines, Splunk exports,
classic WinEventLog text."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Tuple

from .wineventlog_text import EVENT_START

EVTX_MAGIC = b"ElfFile\x00"
PEEK = 64 * 1024

EVTX, XML, JSONL = "evtx", "xmlwineventlog", "jsonl"
SPLUNK_CSV, SPLUNK_JSON = "splunk-csv", "splunk-json"
WINEVENTLOG = "wineventlog"        # classic WinEventLog text (Splunk's raw export of sourcetype WinEventLog)
# Splunk's internal fields: a CSV whose header row names _raw or _time is an export of search results (Splunk
# Web "Export" as CSV, or `outputcsv`; an export of a `table` may lack _raw).
_CSV_MARKERS = ("_raw", "_time")


def detect_format(path: Path) -> Tuple[Optional[str], str]:
    """(format, "") or (None, reason), from the file's first 64 KiB (see detect_bytes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(PEEK)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    return detect_bytes(head)


def detect_bytes(head: bytes) -> Tuple[Optional[str], str]:
    """(format, "") or (None, reason). Formats: EVTX (magic `ElfFile\\0`), XmlWinEventLog text (first
    non-blank line starts with `<Event` or `<?xml`; also Splunk's raw export of XmlWinEventLog events, one
    `_raw` per line), Splunk's JSON export (first line `{"preview": ..., "result": {...}}`), JSON lines (first
    non-blank line starts with `{`), Splunk's CSV export (header row naming `_raw` or `_time`), classic
    WinEventLog text (a `MM/DD/YYYY hh:mm:ss AM` line, then `LogName=`: Splunk's raw export). A NUL byte
    is no reason to refuse a file that starts as text: the record holding it is skipped with its reason."""
    if not head:
        return None, "empty file"
    if head.startswith(EVTX_MAGIC):
        return EVTX, ""
    text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    stripped = text.lstrip()
    if not stripped:
        return None, "no data (only blank lines)"
    if stripped.startswith(b"<Event") or stripped.startswith(b"<?xml"):
        return XML, ""
    if stripped.startswith(b"{"):
        return (SPLUNK_JSON if _is_splunk_json(stripped) else JSONL), ""
    if _is_splunk_csv(stripped):
        return SPLUNK_CSV, ""
    if _is_classic(stripped):
        return WINEVENTLOG, ""
    if b"\x00" in head:
        return None, "unknown binary format (not EVTX: no ElfFile header)"
    first = stripped.split(b"\n", 1)[0][:60].decode("utf-8", "replace")
    return None, (f"unknown format: first line starts with {first!r} (expected EVTX, <Event ...> XML lines, "
                  "JSON lines, a Splunk CSV/JSON export or classic WinEventLog text)")


def _is_splunk_json(text: bytes) -> bool:
    line = text.split(b"\n", 1)[0]
    if not line.startswith(b'{"preview"'):
        return False
    try:
        d = json.loads(line)
    except ValueError:
        return True       # a cut first line of the same shape: the reader reports it
    return isinstance(d, dict) and "result" in d and "preview" in d


def _is_splunk_csv(text: bytes) -> bool:
    line = text.split(b"\n", 1)[0].rstrip(b"\r")
    if b"," not in line:
        return False
    names = [c.strip().strip('"') for c in line.decode("utf-8", "replace").split(",")]
    return any(m in names for m in _CSV_MARKERS)


def _is_classic(text: bytes) -> bool:
    first, _, rest = text.partition(b"\n")
    return (EVENT_START.fullmatch(first.rstrip(b"\r").decode("utf-8", "replace")) is not None
            and rest.startswith(b"LogName="))
