"""Ingest: Windows event files (EVTX, XmlWinEventLog text, JSON lines) into DuckDB tables for localsearch.

Entry point: load_events(paths, con, progress=None, raw_events=True, line_filter=None) -> LoadReport (see
load.py for the tables made). DERIVED_FIELDS: the `events` fields computed rather than read from the raw line.
"""
from __future__ import annotations

from .load import DERIVED_FIELDS, load_events
from .model import FileReport, LoadError, LoadReport, Skipped

__all__ = ["load_events", "DERIVED_FIELDS", "LoadReport", "FileReport", "Skipped", "LoadError"]
