"""EVTX through the process pool (over files and over chunk ranges of one file) gives what the one-process read
gives: the same events, data model, counts and lost-record reports."""
from __future__ import annotations

import struct
from pathlib import Path

import duckdb
from project import DATASETS, needs_datasets

from bench import evtx_build
from localsearch.ingest import evtx_pool, load_events

EVTX = sorted((DATASETS / "mdecrevoisier").glob("*.evtx"))
pytestmark = needs_datasets("mdecrevoisier")


def _load(paths, pool: bool, monkeypatch):
    monkeypatch.setattr(evtx_pool, "POOL_BYTES", 0 if pool else 1 << 62)
    monkeypatch.setattr(evtx_pool, "PART_CHUNKS", 3)         # several parts per large file
    con = duckdb.connect()
    r = load_events(paths, con)
    rows = sorted(con.execute("SELECT * FROM processes").fetchall(), key=repr)
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    files = [(f.path.name, f.events_read, f.records_skipped, f.records_stated) for f in r.files]
    return r.events, n, rows, files, sorted((s.path.name, s.record_number, s.reason) for s in r.skipped)


def test_pool_matches_one_process(tmp_path: Path, monkeypatch) -> None:
    big = tmp_path / "big.evtx"
    records = evtx_build.build(EVTX, big, 20)
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(big.read_bytes()[:4096 + 9 * 65536 + 30000])       # chunk 10 cut, 11..20 missing
    damaged = tmp_path / "damaged.evtx"
    data = bytearray(big.read_bytes())
    rec = data.find(b"\x2a\x2a\x00\x00", 4096 + 4 * 65536 + 512 + 4)      # 2nd record of chunk 5
    data[rec:rec + 4] = b"XXXX"
    damaged.write_bytes(bytes(data))
    paths = EVTX + [big, cut, damaged]
    one = _load(paths, False, monkeypatch)
    pooled = _load(paths, True, monkeypatch)
    assert pooled == one
    files = {name: (read, skipped, stated) for name, read, skipped, stated in one[3]}
    assert files["big.evtx"] == (records, 0, records)
    for name in ("cut.evtx", "damaged.evtx"):
        read, skipped, stated = files[name]
        assert stated == records and read + skipped == records and skipped > 0
    first_id = struct.unpack_from("<Q", data, rec + 8)[0]
    lost = [n for f, n, _ in one[4] if f == "damaged.evtx"]
    assert lost[0] == first_id
