"""Nothing lost silently: every record a file holds is read or counted as skipped with its reason, every input
that cannot be read stops the run (exit 2) unless --keep-going, names are read as given."""
from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import duckdb
import pytest
from project import DATASETS, REPO, localsearch, needs_datasets

from localsearch.ingest import LoadError, load_events

EVTX_4688 = DATASETS / "mdecrevoisier" / "ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx"
needs_evtx = needs_datasets("mdecrevoisier")
SYSMON = "Microsoft-Windows-Sysmon/Operational"
# The 4688 file: 97 records, chunk 1 holds EventRecordID 1..81, chunk 2 82..97 (its chunk headers say so).
CHUNK = 65536


def _rec(pid: int) -> str:
    return json.dumps({"EventID": 1, "Channel": SYSMON, "Hostname": "h1", "ProcessId": str(pid),
                       "Image": "C:\\x\\cmd.exe", "ParentImage": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"})


def cli(*args: str) -> subprocess.CompletedProcess:
    return localsearch("run", *args, "--app-dir", str(REPO))


@needs_evtx
def test_evtx_cut_at_a_chunk_boundary_counts_the_missing_chunk(tmp_path: Path) -> None:
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(EVTX_4688.read_bytes()[:4096 + CHUNK])
    r = load_events([cut], duckdb.connect())
    f = r.files[0]
    assert (f.events_read, f.records_skipped, f.records_stated) == (81, 16, 97)
    assert [s.record_number for s in r.skipped] == list(range(82, 98))
    assert "record EventRecordID 82 lost" in r.skipped[0].reason and "1 missing" in r.skipped[0].reason


@needs_evtx
def test_one_damaged_record_header_counts_the_rest_of_its_chunk(tmp_path: Path) -> None:
    data = bytearray(EVTX_4688.read_bytes())
    second = data.find(b"\x2a\x2a\x00\x00", 4096 + 512 + 4)     # the 2nd record of chunk 1 (id 2)
    assert struct.unpack_from("<Q", data, second + 8)[0] == 2
    data[second:second + 4] = b"XXXX"
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(bytes(data))
    r = load_events([bad], duckdb.connect())
    f = r.files[0]
    assert f.records_stated == 97 and f.events_read + f.records_skipped == 97
    assert f.records_skipped == 80                 # ids 2..81: the parser stops reading chunk 1 at the damage
    assert [s.record_number for s in r.skipped] == list(range(2, 82))
    assert all("not readable in chunk 1" in s.reason for s in r.skipped)


@needs_evtx
def test_cli_summary_states_the_header_count(tmp_path: Path) -> None:
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(EVTX_4688.read_bytes()[:4096 + CHUNK])
    proc = cli(str(cut), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert "81 events, 16 skipped (the file's headers state 97 records)" in proc.stderr
    assert "records skipped: 16" in proc.stderr


def test_names_with_glob_characters_are_read_as_named(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(_rec(1) + "\n" + _rec(2) + "\n")
    odd = tmp_path / "[ab].json"
    odd.write_text(_rec(3) + "\n")
    star = tmp_path / "x*{1,2}?.json"
    star.write_text(_rec(4) + "\n")
    con = duckdb.connect()
    r = load_events([odd, star], con)
    assert (r.events, r.processes) == (2, 2)
    assert [f.path for f in r.files] == [odd, star] and [f.events_read for f in r.files] == [1, 1]
    assert sorted(x for (x,) in con.execute("SELECT process_id FROM processes").fetchall()) == ["3", "4"]
    c = r.columns["events"]
    assert con.execute(f"SELECT count(*) FROM events WHERE {c['ProcessId']} = '3'").fetchone() == (1,)
    r = load_events([tmp_path], duckdb.connect())          # the same in a folder walk
    assert r.events == 4


def test_an_unreadable_subfolder_stops_the_run_unless_keep_going(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.json").write_text(_rec(1) + "\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    from localsearch.ingest import inputs as inputs_mod
    real = os.scandir

    def scandir(path):      # root reads any folder: simulate the permission error a user gets
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)
    monkeypatch.setattr(inputs_mod.os, "scandir", scandir)
    with pytest.raises(LoadError) as ei:
        load_events([tmp_path], duckdb.connect())
    assert str(locked) in str(ei.value) and "cannot read folder: Permission denied" in str(ei.value)
    r = load_events([tmp_path], duckdb.connect(), keep_going=True)
    assert r.events == 1 and r.failed == [(locked, "cannot read folder: Permission denied")]


def test_an_unreadable_file_stops_the_run_unless_keep_going(tmp_path: Path, monkeypatch) -> None:
    good = tmp_path / "a.json"
    good.write_text(_rec(1) + "\n")
    bad = tmp_path / "b.json"
    bad.write_text(_rec(2) + "\n")
    import builtins
    from localsearch.ingest import inputs as inputs_mod
    real = builtins.open

    def fake_open(file, *a, **k):
        if Path(str(file)) == bad:
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *a, **k)
    monkeypatch.setattr(inputs_mod, "open", fake_open, raising=False)
    for paths in ([tmp_path], [good, bad]):
        with pytest.raises(LoadError, match="b.json: cannot read: Permission denied"):
            load_events(paths, duckdb.connect())
        r = load_events(paths, duckdb.connect(), keep_going=True)
        assert r.events == 1 and r.failed == [(bad, "cannot read: Permission denied")]


def test_cli_exit_code_and_keep_going(tmp_path: Path) -> None:
    good = tmp_path / "a.json"
    good.write_text(_rec(1) + "\n")
    bad = tmp_path / "b.evtx"
    bad.write_bytes(b"ElfFile\x00" + b"\x00" * 100)         # an EVTX header and nothing the parser can read
    proc = cli(str(good), str(bad), "--format", "csv")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"error: {bad}:" in proc.stderr
    proc = cli(str(good), str(bad), "--format", "csv", "--keep-going")
    assert proc.returncode == 0, proc.stderr
    assert f"not read (--keep-going) {bad}:" in proc.stderr and "events read: 1," in proc.stderr
    proc = cli(str(good), str(tmp_path / "missing.json"), "--keep-going")
    assert proc.returncode == 0 and "no such file or folder" in proc.stderr


def test_symlinks_are_followed_only_inside_the_given_paths(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret-location-name.json"
    secret.write_text(_rec(9) + "\n")
    top = tmp_path / "data"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "a.json").write_text(_rec(1) + "\n")
    (top / "link-in.json").symlink_to(top / "sub" / "a.json")    # the same file again: read once
    (top / "dirlink").symlink_to(top / "sub", target_is_directory=True)
    (top / "link-out.json").symlink_to(secret)
    (top / "loop").symlink_to(top, target_is_directory=True)
    (top / "broken.json").symlink_to(tmp_path / "nowhere.json")
    r = load_events([top], duckdb.connect())
    assert r.events == 1
    ignored = {f.path.name: f.note for f in r.files if f.format == "ignored"}
    assert ignored == {"link-out.json": "symbolic link to a location outside the given paths: not followed",
                       "broken.json": "broken symbolic link"}
    proc = cli(str(top), "--format", "csv")
    assert proc.returncode == 0 and "secret-location-name" not in proc.stderr + proc.stdout
    # named explicitly, a link is followed
    assert load_events([top / "link-out.json"], duckdb.connect()).events == 1


def test_a_nul_byte_in_a_json_file_skips_that_record_only(tmp_path: Path) -> None:
    f = tmp_path / "n.json"
    f.write_bytes((_rec(1) + "\n").encode() + b'{"EventID": 1, "x": "a\x00b"}\n' + (_rec(2) + "\n").encode())
    for paths in ([f], [tmp_path]):
        r = load_events(paths, duckdb.connect())
        assert r.files[0].format.startswith("jsonl") and r.events == 2 and r.processes == 2
        assert [(s.record_number, "malformed JSON" in s.reason) for s in r.skipped] == [(2, True)]


@needs_datasets("mdecrevoisier")
def test_a_large_cut_file_counts_every_lost_record_without_listing_them_all(tmp_path: Path) -> None:
    """A large EVTX file cut after its 10th chunk: every record its headers state past the cut is counted as
    lost (the first SKIPPED_LISTED listed, the rest counted by reason), and the lost records are produced one
    at a time (evtx_fast.losses is a generator: a file cut in half can state millions)."""
    from bench import evtx_build
    from localsearch.ingest import evtx_fast
    from localsearch.ingest.model import SKIPPED_LISTED
    big = tmp_path / "big.evtx"
    evtx_build.build(sorted((DATASETS / "mdecrevoisier").glob("*.evtx")), big, 200)
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(big.read_bytes()[:4096 + 10 * 65536])
    r = load_events([cut], duckdb.connect(), raw_events=False)
    f = r.files[0]
    assert f.records_stated == load_events([big], duckdb.connect(), raw_events=False).events
    assert f.events_read + f.records_skipped == f.records_stated and f.records_skipped > SKIPPED_LISTED
    assert len(r.skipped) == SKIPPED_LISTED
    assert sum(r.skipped_unlisted[cut].values()) == f.records_skipped - SKIPPED_LISTED
    with open(cut, "rb") as fh:
        census = evtx_fast.read_census(fh, cut.stat().st_size)
    assert not isinstance(evtx_fast.losses(census, evtx_fast.PartResult(), census.size), list)
