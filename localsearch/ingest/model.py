"""Result and error types of the ingest layer."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

# Skipped records are listed one by one up to SKIPPED_LISTED per load; past it they are counted by file and
# reason only (at most REASONS_COUNTED reasons a file, the rest as OTHER_REASONS), so what the loader holds for
# them does not grow with the input: a million malformed lines took 300 MiB as a list.
SKIPPED_LISTED = 1000
REASONS_COUNTED = 100
OTHER_REASONS = "other reasons"


class LoadError(Exception):
    """A whole input cannot be used (missing, empty, unknown format). The message names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Skipped:
    """One record that could not be read. record_number is 1-based: the line number for text formats
    (JSON lines, XmlWinEventLog text), the record's position in the file for EVTX."""

    path: Path
    record_number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: record {self.record_number}: {self.reason}"


@dataclass
class FileReport:
    path: Path             # as given or walked; an archive member as `<archive>!/<member>`
    format: str            # "evtx", "xmlwineventlog", a JSON layout name (layouts.py, "+"-joined when a file
                           # mixes layouts), "splunk-csv", "splunk-json", "ignored"
    events_read: int = 0
    records_skipped: int = 0
    note: str = ""         # why a file found while walking a folder was ignored
    container: str = ""    # "gzip", "zip", "tar" when read from a compressed file
    records_stated: Optional[int] = None    # EVTX: the records the file's chunk headers (and header) state
    # records mapped to each data-model table the load built (e.g. "Endpoint.Processes" -> rows); None when
    # they cannot be told apart from another input's (EVTX files parsed together by the process pool)
    mapped: Optional[Dict[str, int]] = None


@dataclass
class LoadReport:
    files: List[FileReport] = field(default_factory=list)
    events: int = 0                    # events read (also when `events` holds prefiltered candidates only)
    # with a prefilter (load_events' line_filter): rows in `events`, the candidate lines; None without one
    candidates: Optional[int] = None
    processes: int = 0                 # rows in `processes`
    mapped: Dict[str, int] = field(default_factory=dict)     # data model -> rows in its table (processes too)
    skipped: List[Skipped] = field(default_factory=list)
    # per table: Splunk field name -> quoted SQL column identifier (case-sensitive Splunk names on a
    # case-insensitive SQL engine: "User" -> '"User"', "user" -> '"user#2"').
    columns: Dict[str, Dict[str, str]] = field(default_factory=dict)
    # where the `events` view reads from (originals and staged NDJSON files); see load.py
    staging_dir: Optional[Path] = None
    # about the input, for the summary (e.g. process creations in a layout the runner does not know)
    warnings: List[str] = field(default_factory=list)
    # Splunk field name -> whether any event read has that raw field (also with a prefilter); see presence.py
    field_exists: Optional[Callable[[str], bool]] = None
    # inputs that could not be read, with the reason (only with keep_going; otherwise the load fails)
    failed: List[Tuple[Path, str]] = field(default_factory=list)
    # with a prefilter: the candidate lines' bytes, the most the loader keeps of them in a DuckDB table (a
    # quarter of the memory limit) and whether they went past it to staged files instead (candidates.py)
    candidate_bytes: int = 0
    candidate_budget: int = 0
    candidates_on_disk: bool = False
    # skipped records past SKIPPED_LISTED: per file, reason -> how many (not listed in `skipped`)
    skipped_unlisted: Dict[Path, Counter] = field(default_factory=dict)

    def skip(self, item: Skipped) -> None:
        """A record that could not be read: listed, or past SKIPPED_LISTED counted (see SKIPPED_LISTED)."""
        if len(self.skipped) < SKIPPED_LISTED:
            self.skipped.append(item)
            return
        per = self.skipped_unlisted.setdefault(item.path, Counter())
        per[item.reason if item.reason in per or len(per) < REASONS_COUNTED else OTHER_REASONS] += 1

    def skipped_count(self) -> int:
        return len(self.skipped) + sum(sum(c.values()) for c in self.skipped_unlisted.values())

    def skip_reasons(self) -> Counter:
        """Reason -> skipped records, listed and counted ones alike."""
        out = Counter(s.reason for s in self.skipped)
        for per in self.skipped_unlisted.values():
            out.update(per)
        return out
