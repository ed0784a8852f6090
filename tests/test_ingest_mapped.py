"""Per file, the records mapped to each data-model table the load built (FileReport.mapped, LoadReport.mapped and
the run summary), checked against an independent count of the file's records read with the `evtx` package or
json: Endpoint.Processes holds Sysmon Event ID 1 and Security 4688, Endpoint.Filesystem Sysmon 11, Endpoint.Registry
Sysmon 12 and 13 (the add-on mappings ESCU declares: splunk/security_content data_sources/sysmon_eventid_1.yml,
windows_security_4688.yml, sysmon_eventid_11.yml, sysmon_eventid_12.yml, sysmon_eventid_13.yml), by channel
(case-insensitive: OTRF spells `security` in lower case) and event code. Archive members are counted under the
name the summary gives them (`<archive>!/<member>`). Derived files (gzip, zip, Winlogbeat 8 and Splunk JSON
renderings, subsets of a shared file) are written at test time."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Dict, List

import duckdb
import pytest
from layout_renderings import render_file
from project import DATASETS, localsearch, needs_datasets
from renderings import gz, splunk_json, zip_of

from bench import evtx_build
from localsearch.ingest import evtx_pool, load_events, staging
from localsearch.output import summary_lines

SYSMON = "microsoft-windows-sysmon/operational"
PROCESSES, FILESYSTEM, REGISTRY = "Endpoint.Processes", "Endpoint.Filesystem", "Endpoint.Registry"
MODELS = (PROCESSES, FILESYSTEM, REGISTRY)
MODEL_OF = {(SYSMON, "1"): PROCESSES, ("security", "4688"): PROCESSES, (SYSMON, "11"): FILESYSTEM,
            (SYSMON, "12"): REGISTRY, (SYSMON, "13"): REGISTRY}

EVTX = sorted((DATASETS / "mdecrevoisier").glob("*.evtx"))
OTRF = sorted((DATASETS / "otrf").glob("*.json"))
NEG = DATASETS / "otrf-negatives"
pytestmark = needs_datasets("mdecrevoisier", "otrf", "otrf-negatives")


def independent_count(path: Path) -> Dict[str, int]:
    """Records of each data model in an EVTX or OTRF JSON lines file, by channel and event code."""
    got: Counter = Counter()
    if path.suffix == ".evtx":
        from evtx import PyEvtxParser
        for rec in PyEvtxParser(str(path)).records_json():
            system = json.loads(rec["data"])["Event"]["System"]
            code = system["EventID"]
            code = code["#text"] if isinstance(code, dict) else code       # EventID with Qualifiers
            model = MODEL_OF.get((str(system["Channel"]).lower(), str(code)))
            if model:
                got[model] += 1
    else:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    d = json.loads(line)
                    model = MODEL_OF.get((str(d.get("Channel", "")).lower(), str(d.get("EventID"))))
                    if model:
                        got[model] += 1
    return {m: got.get(m, 0) for m in MODELS}


def subset(src: Path, dst: Path, keep) -> Path:
    """The lines of an OTRF file whose (channel, event code) `keep` accepts, bytes unchanged."""
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as out:
        for line in fin:
            if line.strip():
                d = json.loads(line)
                if keep(MODEL_OF.get((str(d.get("Channel", "")).lower(), str(d.get("EventID"))))):
                    out.write(line)
    return dst


def table_counts(con: duckdb.DuckDBPyConnection) -> Dict[str, int]:
    """Rows of each data-model table the load built (tstats reads these tables)."""
    tables = {PROCESSES: "processes", FILESYSTEM: None, REGISTRY: None}
    from localsearch.ingest.sources import DATASETS as DS
    for d in DS:
        tables[d.model] = d.table
    return {m: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for m, t in tables.items()}


def mixed_inputs(tmp: Path) -> Dict[Path, Path]:
    """Inputs of every kind, each with the original shared file its records come from."""
    seatbelt = NEG / "cmd_seatbelt_group_user_2020-11-0216391814.json"
    psexec = NEG / "cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json"
    wsman = next(p for p in OTRF if p.name.startswith("covenant_com_wsman"))
    subset_file = next(p for p in OTRF if "subset" in p.name)
    crackmap = next(p for p in EVTX if p.name.startswith("ID1-CrackMapExec"))
    wmimplant = next(p for p in EVTX if p.name.startswith("ID1-WMI"))
    out: Dict[Path, Path] = {p: p for p in EVTX + OTRF + [psexec]}
    out[gz(subset_file, tmp / "subset.json.gz")] = subset_file
    out[render_file(wsman, tmp / "wsman.winlogbeat8.json", "winlogbeat8")] = wsman
    out[splunk_json(wmimplant, tmp / "wmimplant.splunk.json")] = wmimplant
    zipped = zip_of([crackmap, seatbelt], tmp / "two.zip")
    out[Path(f"{zipped}!/data/{crackmap.name}")] = crackmap
    out[Path(f"{zipped}!/data/{seatbelt.name}")] = seatbelt
    # derived: psexec without its process creations (other models kept), and with no data-model record at all
    out[subset(psexec, tmp / "no_process.json", lambda m: m != PROCESSES)] = tmp / "no_process.json"
    out[subset(psexec, tmp / "no_model.json", lambda m: m is None)] = tmp / "no_model.json"
    return out


def expected_counts(inputs: Dict[Path, Path]) -> Dict[str, Dict[str, int]]:
    cache: Dict[Path, Dict[str, int]] = {}
    for origin in inputs.values():
        if origin not in cache:
            cache[origin] = independent_count(origin)
    return {str(p): cache[o] for p, o in inputs.items()}


def _given(inputs: Dict[Path, Path]) -> List[Path]:
    """What the user names: files, and each archive once."""
    return list(dict.fromkeys(Path(str(p).split("!/")[0]) for p in inputs))


@pytest.mark.parametrize("raw_events", [True, False], ids=["full-load", "data-model-only"])
@pytest.mark.parametrize("bundle_bytes", [None, 0], ids=["shared-bundles", "a-bundle-per-input"])
def test_per_file_mapped_counts_match_an_independent_count(tmp_path: Path, raw_events: bool, bundle_bytes,
                                                           monkeypatch) -> None:
    """The inputs read in Python share staged bundles (their process records are told apart by line) or, past
    the bundle size, get bundles of their own: the counts are the same."""
    if bundle_bytes is not None:
        monkeypatch.setattr(staging, "BUNDLE_BYTES", bundle_bytes)
    inputs = mixed_inputs(tmp_path)
    expected = expected_counts(inputs)
    con = duckdb.connect()
    report = load_events(_given(inputs), con, raw_events=raw_events)
    read = {str(f.path): f for f in report.files if f.format != "ignored"}
    assert set(read) == set(expected)
    assert {p: read[p].mapped for p in read} == expected
    # the derived files: no process creation (0, not absent), and no data-model record at all
    assert read[str(tmp_path / "no_process.json")].mapped[PROCESSES] == 0
    assert read[str(tmp_path / "no_process.json")].mapped[REGISTRY] > 0
    assert read[str(tmp_path / "no_model.json")].mapped == {m: 0 for m in MODELS}
    # per-file counts add up to the rows of each table the load built, and to the report's totals
    tables = table_counts(con)
    assert report.mapped == tables
    assert report.processes == tables[PROCESSES]
    for m in MODELS:
        assert sum(f.mapped[m] for f in read.values()) == tables[m] > 0


def test_summary_names_each_files_mapped_records(tmp_path: Path) -> None:
    """The run summary (stderr) gives each file's mapped records per data model, 0 where it mapped none."""
    evtx = next(p for p in EVTX if p.name.startswith("ID4688"))
    zero = subset(NEG / "cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json", tmp_path / "none.json",
                  lambda m: m is None)
    proc = localsearch("run", str(evtx), str(zero))
    assert proc.returncode == 0, proc.stderr
    want = independent_count(evtx)
    line = next(ln for ln in proc.stderr.splitlines() if ln.strip().startswith(str(evtx)))
    assert re.search(rf"mapped: {want[PROCESSES]} {PROCESSES}, 0 {FILESYSTEM}, 0 {REGISTRY}$", line), line
    zline = next(ln for ln in proc.stderr.splitlines() if ln.strip().startswith(str(zero)))
    assert zline.endswith(f"mapped: 0 {PROCESSES}, 0 {FILESYSTEM}, 0 {REGISTRY}"), zline
    assert f"process events mapped ({PROCESSES}): {want[PROCESSES]}" in proc.stderr


def test_pooled_evtx_counts_are_exact(tmp_path: Path, monkeypatch) -> None:
    """Through the process pool: each worker appends the records of its parts to its own staged file and says
    where each part's records begin, so every file is counted exactly, read alone or together with others, in
    parts on both workers, in a data-model-only load and a full one."""
    big = tmp_path / "big.evtx"
    evtx_build.build(EVTX, big, 20)
    monkeypatch.setattr(evtx_pool, "POOL_BYTES", 0)
    monkeypatch.setattr(evtx_pool, "PART_CHUNKS", 3)         # several parts of the file, on both workers
    alone = load_events([big], duckdb.connect(), raw_events=False)
    assert alone.files[0].mapped == independent_count(big)
    assert alone.files[0].mapped[PROCESSES] == alone.processes > 0
    for raw_events in (False, True):
        together = load_events(EVTX + [big], duckdb.connect(), raw_events=raw_events)
        for f in together.files:
            assert f.mapped == independent_count(f.path), f.path
        assert sum(f.mapped[PROCESSES] for f in together.files) == together.processes
        lines = summary_lines("S", together, 0, [], [], None)
        assert not any("not counted per file" in ln for ln in lines)
