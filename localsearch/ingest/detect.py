"""Input discovery: walk folders, detect each file's format from its content."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from .model import LoadError

EVTX_MAGIC = b"ElfFile\x00"
PEEK = 64 * 1024

EVTX, XML, JSONL = "evtx", "xmlwineventlog", "jsonl"


def detect_format(path: Path) -> Tuple[Optional[str], str]:
    """(format, "") or (None, reason). Formats: EVTX (magic `ElfFile\\0`), XmlWinEventLog text (first
    non-blank line starts with `<Event`), JSON lines (first non-blank line starts with `{`)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(PEEK)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    if not head:
        return None, "empty file"
    if head.startswith(EVTX_MAGIC):
        return EVTX, ""
    text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    stripped = text.lstrip()
    if not stripped:
        return None, "no data (only blank lines)"
    if b"\x00" in head:
        return None, "unknown binary format (not EVTX: no ElfFile header)"
    if stripped.startswith(b"<Event") or stripped.startswith(b"<?xml"):
        return XML, ""
    if stripped.startswith(b"{"):
        return JSONL, ""
    first = stripped.split(b"\n", 1)[0][:60].decode("utf-8", "replace")
    return None, f"unknown format: first line starts with {first!r} (expected EVTX, <Event ...> XML lines or JSON lines)"


def discover(paths: Iterable[Path]) -> Tuple[List[Tuple[Path, str]], List[Tuple[Path, str]]]:
    """Files to read as (path, format), and files found in folders that were ignored as (path, reason).

    A file named explicitly must be readable (LoadError otherwise); files found by walking a folder that
    are not event data (README, SOURCES.md, ...) are ignored and reported. Hidden files and folders are
    skipped. The same file named twice is read once (as Splunk reads a file once).
    """
    found: List[Tuple[Path, str]] = []
    ignored: List[Tuple[Path, str]] = []
    seen: set = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                if any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                key = f.resolve()
                if key in seen:
                    continue
                seen.add(key)
                fmt, why = detect_format(f)
                if fmt is None:
                    ignored.append((f, why))
                else:
                    found.append((f, fmt))
        elif p.is_file():
            key = p.resolve()
            if key in seen:
                continue
            seen.add(key)
            fmt, why = detect_format(p)
            if fmt is None:
                raise LoadError(p, why)
            found.append((p, fmt))
        else:
            raise LoadError(p, "no such file or folder")
    return found, ignored
