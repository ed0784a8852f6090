"""Where a prefiltered load keeps its candidate lines (the raw lines the `events` view of a raw-event search is
built over; scan._scan_filtered): in a DuckDB table, CAND_TABLE (file, json), while their text stays within a
budget of a quarter of DuckDB's memory limit; past it they go to staged NDJSON files in the run's staging
folder (`candidates-NNNN.ndjson`, the lines as read, in order), which the view then reads as it reads any
input file, and the table is emptied. So the candidates never take more than the budget of memory, whatever
the input size: the rest of the memory limit is left to the scans, the data model and the search.

The table is emptied by dropping and creating it again: DuckDB does not give back the memory of deleted rows
of an in-memory table (measured: 491 MiB before and 508 MiB after deleting 90% of the rows; 0 after a drop).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List

import duckdb

from ..memory import read_size
from .units import Unit

CAND_TABLE = "_ls_cand_json"
SHARE = 4                       # the candidates' budget: memory_limit / SHARE
SPILL_BATCH = 2000              # lines fetched at a time when they are written to a staged file


def create_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CAND_TABLE} (file VARCHAR, json VARCHAR)")


def budget(con: duckdb.DuckDBPyConnection) -> int:
    """A quarter of the connection's memory limit, in bytes."""
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    return read_size(str(row[0])) // SHARE if row is not None else 0


class CandidateStore:
    """The candidate lines of one load: held in CAND_TABLE up to `limit` bytes of text, then in staged files."""

    def __init__(self, con: duckdb.DuckDBPyConnection, staging: Path) -> None:
        self.con = con
        self.staging = staging
        self.limit = budget(con)
        self.files: List[Path] = []
        self.lines_in: List[int] = []            # candidate lines per staged file
        self.bytes_on_disk = 0
        self.total_bytes = 0                     # of all candidate lines, once units() has run
        create_table(con)

    def held_bytes(self) -> int:
        row = self.con.execute(f"SELECT coalesce(sum(strlen(json)), 0) FROM {CAND_TABLE}").fetchone()
        return int(row[0]) if row is not None else 0

    def after_group(self, units: List[Unit]) -> None:
        """After pass 1 over a group of units: the candidates of units going to the Python readers go (their
        staged events are scanned again later), and past the budget the rest go to a staged file."""
        gone = [str(u.sql_path) for u in units if u.needs_python]
        if gone:
            self.con.execute(f"DELETE FROM {CAND_TABLE} WHERE list_contains(?, file)", [gone])
        if self.held_bytes() > self.limit:
            self._spill()

    def _spill(self) -> None:
        """The table's lines, in the order they were read, to a new staged file; the table emptied. (Written
        from here in batches: DuckDB's CSV writer, the way to write text lines as they are, allocates 512 MiB
        at once for a large table. A candidate line is a JSON object DuckDB read, so it holds no line break.)"""
        path = self.staging / f"candidates-{len(self.files) + 1:04d}.ndjson"
        n = size = 0
        cur = self.con.execute(f"SELECT json FROM {CAND_TABLE}")     # (insertion order: DuckDB keeps it)
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            while True:
                batch = cur.fetchmany(SPILL_BATCH)
                if not batch:
                    break
                for (line,) in batch:
                    out.write(line)
                    out.write("\n")
                    size += len(line.encode("utf-8")) + 1
                n += len(batch)
        if n == 0:
            path.unlink()
            return
        self.files.append(path)
        self.lines_in.append(n)
        self.bytes_on_disk += size
        create_table(self.con)

    def units(self, scanned: List[Unit]) -> List[Unit]:
        """The units the `events` view reads: the table, or (once any line went to disk) only staged files, so
        the view never mixes the two. Each carries the field names of all candidate lines."""
        keys: Counter = Counter()
        for u in scanned:
            keys.update(u.keys)
        if not self.files:
            unit = Unit(Path(CAND_TABLE), None, 0, table=CAND_TABLE)
            unit.keys.update(keys)
            row = self.con.execute(f"SELECT count(*) FROM {CAND_TABLE}").fetchone()
            unit.events = int(row[0]) if row is not None else 0
            self.total_bytes = self.held_bytes()
            return [unit]
        self._spill()
        self.con.execute(f"DROP TABLE {CAND_TABLE}")
        self.total_bytes = self.bytes_on_disk
        out = []
        for path, n in zip(self.files, self.lines_in):
            unit = Unit(path, None, path.stat().st_size, events=n)
            unit.keys.update(keys)      # (every file: the view's side tables look for names per group of files)
            out.append(unit)
        return out
