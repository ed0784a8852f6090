"""A data-model-only load (load_events(raw_events=False), what a tstats search needs) stages only the EVTX
records that may be process creations and counts the rest: it must give the same data model, counts, skips and
lost-record reports as the full load, in this process and through the process pool."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb
import orjson
from evtx import PyEvtxParser
from project import DATASETS, needs_datasets

from bench import evtx_build
from localsearch.ingest import evtx_pool, load_events
from localsearch.ingest.flatten import evtx_json_to_flat
from localsearch.ingest.load import PROC_RE

EVTX = sorted((DATASETS / "mdecrevoisier").glob("*.evtx"))
pytestmark = needs_datasets("mdecrevoisier")


def _load(paths, pool: bool, raw_events: bool, monkeypatch, counting: bool = True):
    """counting=False: every record flattened and staged, as before count_only existed."""
    monkeypatch.setattr(evtx_pool, "POOL_BYTES", 0 if pool else 1 << 62)
    monkeypatch.setattr(evtx_pool, "PART_CHUNKS", 3)
    if not counting:        # (the pool forks: its workers see this too)
        monkeypatch.setattr(evtx_pool, "count_only", lambda text: False)
    con = duckdb.connect()
    r = load_events(paths, con, raw_events=raw_events)
    monkeypatch.undo()
    rows = sorted(con.execute("SELECT * FROM processes").fetchall(), key=repr)
    cols = [d[0] for d in con.execute("SELECT * FROM processes LIMIT 0").description]
    files = [(f.path.name, f.format, f.events_read, f.records_skipped, f.records_stated, f.container)
             for f in r.files]
    skipped = sorted((s.path.name, s.record_number, s.reason) for s in r.skipped)
    return (r.events, r.processes, r.columns.get("processes"), cols, rows, files, skipped, sorted(r.warnings),
            r.failed)


def _test_files(tmp_path: Path):
    big = tmp_path / "big.evtx"
    evtx_build.build(EVTX, big, 20)
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(big.read_bytes()[:4096 + 9 * 65536 + 30000])       # chunk 10 cut, 11..20 missing
    data = bytearray(big.read_bytes())
    rec = data.find(b"\x2a\x2a\x00\x00", 4096 + 4 * 65536 + 512 + 4)      # 2nd record of chunk 5
    data[rec:rec + 4] = b"XXXX"
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(bytes(data))
    return EVTX + [big, cut, damaged]


def test_data_model_only_load_equals_staging_every_record(tmp_path: Path, monkeypatch) -> None:
    paths = _test_files(tmp_path)
    before = _load(paths, False, False, monkeypatch, counting=False)
    assert before[4], "the shared EVTX files hold process creations"
    assert before[6], "the damaged and cut files report lost records"
    for pool in (False, True):
        assert _load(paths, pool, False, monkeypatch, counting=False) == before
        assert _load(paths, pool, False, monkeypatch) == before
    # and the data model of a full load (the raw events view too) is the same
    full = _load(paths, False, True, monkeypatch)
    assert (full[0], full[1], full[3], full[4], full[5], full[6]) == \
        (before[0], before[1], before[3], before[4], before[5], before[6])


def test_count_only_records_flatten_and_are_no_process_creations() -> None:
    """Every shared record the data-model-only load merely counts is read by the full load and its flat text
    does not match the process-creation prefilter; the process creations are never merely counted."""
    rx = re.compile(PROC_RE)
    counted = 0
    for path in EVTX:
        for rec in PyEvtxParser(str(path)).records_json():
            text = rec["data"]
            flat = orjson.dumps(evtx_json_to_flat(orjson.loads(text))).decode()
            if evtx_pool.count_only(text):
                counted += 1
                assert rx.search(flat) is None, flat[:200]
    assert counted > 0


def _record(system_event_id: str, event_data: str = '{"Image":"x"}', provider: str = "") -> str:
    return ('{"Event":{"#attributes":{"xmlns":"e"},"System":{' + provider + '"EventID":' + system_event_id
            + ',"Channel":"c"},"EventData":' + event_data + '}}')


def test_count_only_cases() -> None:
    provider = '"Provider":{"#attributes":{"Name":"S","Guid":"{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"}},'
    assert evtx_pool.count_only(_record("5", provider=provider))          # braces inside attribute strings
    assert evtx_pool.count_only(_record("10"))
    assert not evtx_pool.count_only(_record("1"))                         # a process-creation code
    assert not evtx_pool.count_only(_record("4688"))
    assert not evtx_pool.count_only(_record("5", '{"EventID":"1"}'))      # another EventID joins the flat one
    assert not evtx_pool.count_only(_record("5", '{"EventCode":"4688"}'))
    assert not evtx_pool.count_only(_record('{"#attributes":{"Qualifiers":0},"#text":4624}'))   # not an integer
    assert not evtx_pool.count_only(_record("1.5"))
    assert not evtx_pool.count_only('{"Event":{"EventData":{}}}')         # no System: the full load skips it
    shallow = _record("5", '{"X":' + "[" * 300 + "]" * 300 + '}')
    assert evtx_pool.count_only(shallow) and evtx_json_to_flat(orjson.loads(shallow))   # within orjson's limit
    deep = _record("5", '{"X":' + "[" * 1100 + "]" * 1100 + '}')
    assert not evtx_pool.count_only(deep)                 # past orjson's depth limit (1024): read as before
    try:
        orjson.loads(deep)
        raise AssertionError("orjson reads 1100 levels: count_only's depth rule is stale")
    except orjson.JSONDecodeError:
        pass
    # the usual layout (string checks) and others (the regular expression) agree
    usual = ('{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},'
             '"System":{"Provider":{"#attributes":{"Name":"P","Guid":"{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"}},'
             '"EventID":%s,"Channel":"c"},"EventData":{"Image":"x"}}}')
    assert evtx_pool.count_only(usual % "5") and not evtx_pool.count_only(usual % "4688")
    assert not evtx_pool.count_only(usual.replace('"Name":"P"', '"Name":"P\\"') % "5")    # an escape
    assert evtx_pool.count_only(usual.replace('"Name":"P"', '"Name":"P","EventSourceName":"Q"') % "5")
    assert not evtx_pool.count_only((usual % "5").replace('"Image"', '"EventCode"'))
