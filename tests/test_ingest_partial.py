"""An input that fails partway through staging (here a gzip cut short, read with keep_going) is listed as failed,
and the records it had staged before the failure leave the load: the totals and the per-file counts then count
the inputs read, and nothing of the failed one."""
from __future__ import annotations

import gzip
from pathlib import Path

import duckdb

from localsearch.ingest import load_events
from project import REPO

SAMPLE = REPO / "samples" / "wmi_process_execution.XmlWinEventLog.log"


def test_a_file_failing_partway_leaves_nothing_in_the_totals(tmp_path: Path) -> None:
    good = tmp_path / "good.XmlWinEventLog.log"
    good.write_bytes(SAMPLE.read_bytes())
    whole = gzip.compress(SAMPLE.read_bytes() * 2000)
    cut = tmp_path / "cut.XmlWinEventLog.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])          # decompresses for a while, then ends early
    alone = load_events([good], duckdb.connect())
    r = load_events([good, cut], duckdb.connect(), keep_going=True)
    assert [p.name for p, _ in r.failed] == [cut.name]
    assert [f.path.name for f in r.files] == [good.name]
    assert (r.events, r.processes) == (alone.events, alone.processes)
    assert sum(f.events_read for f in r.files) == r.events
    assert r.files[0].mapped == alone.files[0].mapped
