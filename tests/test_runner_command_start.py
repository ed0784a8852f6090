"""The custom command's process is started before the events load (engine.start_commands), so that its start-up
overlaps the load: the search speaks to that process (one process per custom command, as splunkd starts one),
and a process the search never reaches is ended, never left running."""
from __future__ import annotations

import pytest

from localsearch import chunked, engine
from localsearch.runner import app_confs, run_search
from localsearch.spl.pipeline import parse_pipeline
from project import MAIN_RULE, REPO, SAMPLES, SHIPPED_SEARCHES

pytestmark = pytest.mark.skipif(not (REPO / "lib" / "splunklib").is_dir(),
                                reason="splunklib is not vendored into lib/ (run `make vendor`)")


def _started(monkeypatch) -> list:
    procs: list = []
    real = chunked.ChunkedProcess

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            procs.append(self)

    monkeypatch.setattr(chunked, "ChunkedProcess", Counting)
    return procs


def test_the_search_speaks_to_the_process_started_before_the_load(monkeypatch) -> None:
    import localsearch.ingest as ingest
    procs = _started(monkeypatch)
    at_load: list = []
    real_load = ingest.load_events

    def load(*args, **kwargs):
        at_load.append(len(procs))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(ingest, "load_events", load)
    out = run_search(app_confs(REPO, None), SHIPPED_SEARCHES[MAIN_RULE], MAIN_RULE, [SAMPLES])
    assert out.error is None and out.rows and "risk_score" in out.fields
    assert at_load == [1] and len(procs) == 1       # started once, before the load, and used
    assert procs[0].proc.poll() == 0                # it ran to its end (exit 0), not killed


def test_a_process_the_search_never_reaches_is_ended(monkeypatch) -> None:
    procs = _started(monkeypatch)
    search = SHIPPED_SEARCHES[MAIN_RULE].replace("| rbascore", "| lookup no_such_lookup dest | rbascore", 1)
    out = run_search(app_confs(REPO, None), search, "t", [SAMPLES])
    assert out.error and "no_such_lookup" in out.error             # an error at run time, before rbascore
    assert len(procs) == 1 and procs[0].proc.poll() is not None      # started, then ended


def test_start_commands_and_close_started() -> None:
    confs = app_confs(REPO, None)
    pipeline = parse_pipeline("| tstats count from datamodel=Endpoint.Processes | rbascore impact=1 confidence=1 "
                              "| rbascore impact=2 confidence=2",
                              engine.sources_of(confs))
    started = engine.start_commands(confs, pipeline)
    assert len(started) == 1                        # one per command script (a second use starts its own)
    procs = list(started.values())
    engine.close_started(started)
    assert not started and all(p.proc.poll() is not None for p in procs)
