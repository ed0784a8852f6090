"""The runner's memory bound (localsearch/memory.py; README "Memory"): the DuckDB memory limit a run sets, and the
raw variant's candidate lines going to a staged file in the run's staging folder past a quarter of it.

DuckDB: `memory_limit` bounds its buffer manager and what outgrows it spills to `temp_directory`, in in-memory
mode too (DuckDB docs, Operations manual "Limits"; Guides, "Tuning workloads", "Spilling to disk"). Peak RSS
against input size is measured in bench/memory_bench.py, not here (no timed or RSS-threshold tests).
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from localsearch import memory
from localsearch.ingest import DERIVED_FIELDS, candidates, load_events
from localsearch.spl.prefilter import line_filter
from tests.project import DATASETS, SAMPLES, SYSMON_RULE, localsearch, needs_datasets


@pytest.mark.parametrize("text,size", [("1GiB", 1 << 30), ("512MiB", 512 << 20), ("300m", 300 << 20),
                                       ("2GB", 2 * 1000 ** 3), ("1.5GiB", 3 << 29), (str(200 << 20), 200 << 20)])
def test_sizes_read_as_duckdb_reads_them(text: str, size: int) -> None:
    assert memory.parse_size(text) == size


@pytest.mark.parametrize("text,why", [("lots", "is not a size"), ("1 parsec", "is not a size"),
                                      ("", "is not a size"), ("1MiB", "under the smallest")])
def test_bad_sizes_are_named(text: str, why: str) -> None:
    with pytest.raises(memory.BadSize, match=why):
        memory.parse_size(text)


def test_default_limit_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(memory.MEMORY_LIMIT_ENV, raising=False)
    assert memory.memory_limit() == memory.DEFAULT_LIMIT == 1 << 30
    monkeypatch.setenv(memory.MEMORY_LIMIT_ENV, "256MiB")
    assert memory.memory_limit() == 256 << 20
    assert memory.memory_limit("2GiB") == 2 << 30          # the option wins over the environment


def test_bad_limit_is_a_usage_error(tmp_path: Path) -> None:
    got = localsearch("run", "samples", "--memory-limit", "lots")
    assert got.returncode == 2
    assert "--memory-limit: 'lots' is not a size" in got.stderr
    assert "Traceback" not in got.stderr
    env = dict(os.environ, **{memory.MEMORY_LIMIT_ENV: "3MiB"})
    got = localsearch("run", "samples", env=env)
    assert got.returncode == 2 and f"{memory.MEMORY_LIMIT_ENV}: '3MiB' is under the smallest" in got.stderr


def test_the_run_sets_its_limit() -> None:
    """The limit reaches DuckDB: one just big enough for the samples runs, and the run reports it."""
    got = localsearch("run", "samples", "--memory-limit", "200MiB")
    assert got.returncode == 0, got.stderr
    assert "memory limit: 200 MiB (DuckDB" in got.stderr
    got = localsearch("run", "samples", "--search", SYSMON_RULE)
    assert got.returncode == 0, got.stderr
    assert "memory limit: 1 GiB (DuckDB" in got.stderr
    assert "held in memory (up to 256.0 MiB)" in got.stderr


def test_spilled_candidates_give_the_same_events_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidate lines written to staged files (here after every group of files: a budget of 0) give the `events`
    view the candidate table gives, row for row and column for column; the files are in the staging folder."""
    beat = tmp_path / "beat.json"      # a nested layout: read in Python, staged, then scanned as a bundle
    beat.write_text('{"@timestamp": "2020-01-01T00:00:00Z", "winlog": {"event_id": 1, "channel": '
                    '"Microsoft-Windows-Sysmon/Operational", "event_data": {"ParentImage": "C:\\\\WmiPrvSE.exe", '
                    '"Image": "C:\\\\x.exe"}}}\n', encoding="utf-8")
    paths = [SAMPLES, beat] + [DATASETS / d for d in ("otrf", "otrf-negatives") if (DATASETS / d).is_dir()]
    cond = line_filter('ParentImage="*\\\\WmiPrvSE.exe"', DERIVED_FIELDS)
    assert cond is not None
    held_con, disk_con = duckdb.connect(), duckdb.connect()
    held = load_events(paths, held_con, line_filter=cond)
    monkeypatch.setattr(candidates, "SHARE", 1 << 60)
    disk = load_events(paths, disk_con, line_filter=cond)
    assert not held.candidates_on_disk and disk.candidates_on_disk and disk.candidate_budget == 0
    assert disk.candidates == held.candidates and held.candidates
    assert disk.candidate_bytes == held.candidate_bytes + held.candidates        # (a newline each)
    assert disk.columns == held.columns
    assert disk.staging_dir is not None
    staged = sorted(disk.staging_dir.glob("candidates-*.ndjson"))
    assert staged and sum(len(p.read_bytes().splitlines()) for p in staged) == disk.candidates
    rows = "SELECT * FROM events ORDER BY ALL"
    assert disk_con.execute(rows).fetchall() == held_con.execute(rows).fetchall()
    assert disk_con.execute("SELECT count(*) FROM events").fetchone() == (disk.candidates,)
    assert disk_con.execute("SELECT * FROM processes ORDER BY ALL").fetchall() == \
        held_con.execute("SELECT * FROM processes ORDER BY ALL").fetchall()


def _dense_candidates(dst: Path, at_least: int) -> int:
    """A JSON lines file of OTRF lines that hold `WmiPrvSE` (every one a candidate line of the raw variant's
    prefilter), repeated until it is `at_least` bytes: derived from the shared datasets at run time."""
    lines = [line for f in sorted((DATASETS / "otrf").glob("*.json")) + sorted((DATASETS / "otrf-negatives").glob("*.json"))
             for line in f.read_bytes().splitlines() if b"wmiprvse" in line.lower()]
    block = b"\n".join(lines) + b"\n"
    rounds = -(-at_least // len(block))
    with open(dst, "wb") as out:
        for _ in range(rounds):
            out.write(block)
    return rounds * len(lines)


@pytest.mark.slow
@needs_datasets("otrf", "otrf-negatives")
def test_tiny_limit_spills_candidates_to_the_staging_folder_only(tmp_path: Path) -> None:
    """The raw variant over an input larger than the smallest memory limit: it completes with the results of a
    run without that limit, its candidate lines (over a quarter of the limit) went to disk, and nothing is left
    behind, neither in the temporary folder (the staging folder is removed) nor in the current folder (DuckDB's
    default spill folder `.tmp`)."""
    data = tmp_path / "dense.json"
    events = _dense_candidates(data, memory.MIN_LIMIT + (8 << 20))
    assert data.stat().st_size > memory.MIN_LIMIT
    runs = {}
    for limit in ("4GiB", f"{memory.MIN_LIMIT >> 20}MiB"):
        tmpdir, cwd = tmp_path / f"tmp-{limit}", tmp_path / f"cwd-{limit}"
        tmpdir.mkdir()
        cwd.mkdir()
        env = dict(os.environ, TMPDIR=str(tmpdir))
        env.pop(memory.MEMORY_LIMIT_ENV, None)
        got = localsearch("run", str(data), "--search", SYSMON_RULE, "--format", "csv", "--memory-limit", limit,
                          "--app-dir", str(Path(__file__).resolve().parent.parent), cwd=cwd, env=env)
        assert got.returncode == 0, got.stderr[-2000:]
        assert f"events read: {events}," in got.stderr
        assert list(tmpdir.iterdir()) == [], "the staging folder outlived the run"
        assert list(cwd.iterdir()) == [], "the run left files in the current folder"
        runs[limit] = got
    small, big = runs[f"{memory.MIN_LIMIT >> 20}MiB"], runs["4GiB"]
    assert small.stdout == big.stdout
    assert len(small.stdout.splitlines()) > 1          # the results are not empty
    assert "spilled to disk in the staging folder" in small.stderr
    assert "held in memory" in big.stderr


def test_skipped_records_past_the_listed_ones_are_counted_not_held(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What the loader holds for skipped records does not grow with them (model.SKIPPED_LISTED): past the
    listed ones they are counted by file and reason, and the run summary still counts every one."""
    from localsearch.ingest import model
    from localsearch.output import summary_lines
    monkeypatch.setattr(model, "SKIPPED_LISTED", 3)
    monkeypatch.setattr(model, "REASONS_COUNTED", 2)
    bad = tmp_path / "bad.json"
    lines = ['{"EventID": 1, "Image": "a.exe"}'] + [f'{{"EventID": 1, "Image": "x" oops {i}}}' for i in range(9)]
    lines += ["{" * 100_000 + "}" * 100_000, '{"EventID": 1' + ', "k": ' * 2 + "}"]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = load_events([bad], duckdb.connect())
    assert report.events == 1 and report.files[0].records_skipped == 11
    assert len(report.skipped) == 3 and report.skipped_count() == 11
    assert sum(report.skip_reasons().values()) == 11
    assert len(report.skipped_unlisted[bad]) <= 2 + 1                 # two reasons and "other reasons"
    summary = summary_lines("S", report, 0, [], [], None)
    assert "records skipped: 11" in summary
    assert sum(int(line.split(" x ")[0]) for line in summary if " x " in line) == 11
