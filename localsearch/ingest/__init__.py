"""Ingest: Windows event files (EVTX, XmlWinEventLog text, JSON lines) into DuckDB tables for localsearch.

Entry point: load_events(paths, con, progress=None) -> LoadReport (see load.py for the tables made).
"""
from __future__ import annotations

from .load import load_events
from .model import FileReport, LoadError, LoadReport, Skipped

__all__ = ["load_events", "LoadReport", "FileReport", "Skipped", "LoadError"]
