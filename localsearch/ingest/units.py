"""The NDJSON files the SQL path reads (an input read where it is, a bundle of staged events, or the candidate
lines of a prefiltered load), and how they are grouped into one DuckDB scan each."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import duckdb

from ..sqltext import sql_literal
from .model import FileReport

GROUP_BYTES = 1 << 30
GROUP_FILES = 256


@dataclass
class Unit:
    """One NDJSON file the SQL path reads (an input file or a staged one)."""

    sql_path: Path
    report: Optional[FileReport]     # None for a bundle of staged events (their inputs have their own)
    size: int
    keys: Counter = field(default_factory=Counter)      # of candidate lines only in a prefiltered scan
    events: int = 0
    needs_python: str = ""      # why the file must be re-read in Python (empty: SQL path is fine)
    table: str = ""             # the candidate lines of a prefiltered load: a table (ord, json), not a file
    # the inputs whose records the file holds (its own report; for a staged file, what was staged into it)
    inputs: List[FileReport] = field(default_factory=list)
    # a bundle the stager wrote: (input, byte offset where its records begin), in file order
    starts: List[Tuple[FileReport, int]] = field(default_factory=list)
    # process records told apart by input (scan.label_by_input): label (the scan's file column) -> input
    labels: Dict[str, FileReport] = field(default_factory=dict)


def path_list(units: Sequence[Unit]) -> str:
    return "[" + ", ".join(sql_literal(str(u.sql_path)) for u in units) + "]"


def unit_groups(units: List[Unit]) -> List[List[Unit]]:
    out: List[List[Unit]] = []
    cur: List[Unit] = []
    size = 0
    for u in units:
        if cur and (size + u.size > GROUP_BYTES or len(cur) >= GROUP_FILES):
            out.append(cur)
            cur, size = [], 0
        cur.append(u)
        size += u.size
    if cur:
        out.append(cur)
    return out


def count_of(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The value of a `SELECT count(*) ...` (an aggregate without GROUP BY: always one row)."""
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])
