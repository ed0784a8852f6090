"""The contentctl project's detections (contentctl/detections/**/*.yml), tested offline as contentctl tests
them (localsearch.contentctl).

Two kinds of attack data: the app's sample events, named by a path relative to the project folder (contentctl
runs there and resolves a file path from it), and real public files on GitHub, named by URL at the commit the
shared datasets were copied from. `localsearch test` maps a URL to the file named as its last path segment
(URL-decoded) under --data-dir; the shared copies carry shortened names (SOURCES.md: one of them also corrects
the upstream "spwaning"), so the test builds a data folder of links named as upstream, each to the shared copy
SOURCES.md lists for that upstream path, after checking the copy's sha256. A URL that does not name a file of
SOURCES.md, at its repository and snapshot commit, fails the test.

A contentctl test must be able to fail: on the Sysmon events of an otrf-negatives dataset (no WmiPrvSE.exe
child) each detection's test fails, with exit 1 and a JUnit failure naming it.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import quote, unquote, urlparse

import pytest
import yaml

from localsearch import contentctl
from localsearch.spec import load_spec
from localsearch.testing import describe, run_case
from project import DATASETS, REPO, datasets_missing, localsearch, needs_datasets

DETECTIONS = sorted((REPO / "contentctl" / "detections").rglob("*.yml"))
SYSMON_SOURCE = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"
# a hard negative (SOURCES.md of otrf-negatives): WMI queries, WmiPrvSE.exe itself started, no WmiPrvSE child
NEGATIVE = "otrf-negatives/cmd_seatbelt_group_user_2020-11-0216391814.json"


def _doc(path: Path) -> Dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    return doc


def _is_url(data: str) -> bool:
    return urlparse(data).scheme in ("http", "https")


def _urls(doc: Dict[str, Any]) -> List[str]:
    return [e["data"] for t in doc["tests"] for e in t["attack_data"] if _is_url(e["data"])]


@dataclass(frozen=True)
class SharedFile:
    local: Path          # the shared copy
    url: str             # the upstream file, at the snapshot commit
    sha256: str


def shared_files(datasets: Path) -> Dict[str, SharedFile]:
    """Upstream file name -> the shared copy, from the tables of datasets/SOURCES.md: a `### owner/name`
    heading, `Snapshot HEAD <commit>`, then rows `| local file | repo path | sha256 |` (a repo path that is a
    zip archive is left out: the shared copy is its member, which has no URL of its own)."""
    out: Dict[str, SharedFile] = {}
    repo = commit = ""
    for line in (datasets / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        heading = re.match(r"###\s+([\w.-]+/[\w.-]+)", line)
        if heading:
            repo, commit = heading.group(1), ""
        snapshot = re.search(r"Snapshot HEAD\s+`?([0-9a-f]{40})", line)
        if snapshot:
            commit = snapshot.group(1)
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) != 3 or not re.fullmatch(r"[0-9a-f]{64}", cells[2]) or cells[1].endswith(".zip"):
            continue
        local = [p for p in datasets.rglob(cells[0]) if p.is_file()]
        assert len(local) == 1, f"SOURCES.md lists {cells[0]}: {len(local)} such files under {datasets}"
        url = f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(cells[1])}"
        out[Path(cells[1]).name] = SharedFile(local[0], url, cells[2])
    return out


def upstream_named_folder(folder: Path, urls: List[str]) -> Path:
    """A folder of links named as the URLs' files, to the shared copies (sha256 checked)."""
    files = shared_files(DATASETS)
    folder.mkdir(exist_ok=True)
    for url in urls:
        name = unquote(Path(urlparse(url).path).name)
        assert name in files, f"{url}: {name} is not an upstream file of {DATASETS / 'SOURCES.md'}"
        shared = files[name]
        assert url == shared.url, f"{url}: SOURCES.md gives this file at {shared.url}"
        digest = hashlib.sha256(shared.local.read_bytes()).hexdigest()
        assert digest == shared.sha256, f"{shared.local}: sha256 {digest}, SOURCES.md says {shared.sha256}"
        link = folder / name
        if not link.exists():
            link.symlink_to(shared.local)
    return folder


def _run(path: Path, cases: List[Any]) -> None:
    results = [r for case in cases for r in run_case(case, REPO)]
    bad = [describe(r) for r in results if r.status not in ("PASS", "SKIP")]
    assert not bad, "\n".join(bad)
    assert any(r.status == "PASS" for r in results), f"{path}: every test skipped"


@pytest.mark.skipif(not DETECTIONS, reason="no contentctl project (contentctl/detections/) in the repository")
@pytest.mark.parametrize("path", DETECTIONS, ids=[p.stem for p in DETECTIONS])
def test_contentctl_detection_on_project_files(path: Path) -> None:
    """The tests whose attack data are files of the project (they run without the shared datasets)."""
    doc = _doc(path)
    doc["tests"] = [t for t in doc["tests"] if not any(_is_url(e["data"]) for e in t["attack_data"])]
    assert doc["tests"], f"{path}: no test on the project's own files"
    _run(path, contentctl.cases(doc, path, None))


@pytest.mark.skipif(not DETECTIONS, reason="no contentctl project (contentctl/detections/) in the repository")
@pytest.mark.parametrize("path", DETECTIONS, ids=[p.stem for p in DETECTIONS])
def test_contentctl_detection_on_shared_datasets(path: Path, tmp_path: Path) -> None:
    """Every test of the detection, the ones on public files included (read from the shared copies)."""
    doc = _doc(path)
    urls = _urls(doc)
    assert urls, f"{path}: no test on public attack data"
    reason = datasets_missing()
    if reason is not None:
        pytest.skip(f"{reason}: the tests on {len(urls)} public files are not run")
    cases = load_spec(path, data_dir=upstream_named_folder(tmp_path / "data", urls))
    assert len(cases) == len(doc["tests"])
    _run(path, cases)


def test_shared_files_map_upstream_names() -> None:
    """The mapping reads SOURCES.md as written: the three mdecrevoisier files, under their upstream names."""
    if datasets_missing("mdecrevoisier"):
        pytest.skip(datasets_missing("mdecrevoisier") or "")
    files = shared_files(DATASETS)
    wmimplant = files["ID1-WMI spwaning PowerShell process - WMImplant.evtx"]
    assert wmimplant.local.name == "ID1-WMI_spawning_PowerShell_process-WMImplant.evtx"
    assert wmimplant.url.startswith("https://raw.githubusercontent.com/mdecrevoisier/EVTX-to-MITRE-Attack/"
                                    "8119420d43bc0163200d64a733a80ad6e9cacf90/TA0002-Execution/T1047-Windows%20")
    assert {f.local.parent.name for f in files.values()} == {"mdecrevoisier"}


def _sysmon_lines(source: Path, target: Path) -> int:
    """The Sysmon lines of an OTRF file, bytes unchanged (a derived file, made at run time)."""
    channel = SYSMON_SOURCE.split(":", 1)[1].lower()
    kept = [line for line in source.read_bytes().splitlines(keepends=True)
            if line.strip() and str(json.loads(line).get("Channel", "")).lower() == channel]
    target.write_bytes(b"".join(kept))
    return len(kept)


@needs_datasets("otrf-negatives")
@pytest.mark.parametrize("path", DETECTIONS, ids=[p.stem for p in DETECTIONS])
def test_contentctl_test_without_wmi_child_fails(path: Path, tmp_path: Path) -> None:
    negative = DATASETS / NEGATIVE
    data = tmp_path / negative.name
    assert _sysmon_lines(negative, data) > 0
    doc = copy.deepcopy(_doc(path))
    name = f"No WmiPrvSE child - {negative.name}"
    doc["tests"] = [{"name": name, "attack_data": [{"data": str(data), "source": SYSMON_SOURCE,
                                                    "sourcetype": "XmlWinEventLog"}]}]
    detection = tmp_path / path.name
    detection.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    junit = tmp_path / "junit.xml"
    proc = localsearch("test", str(detection), "--app-dir", str(REPO), "--junit", str(junit))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    failures = [(c.get("classname", ""), f.text or "") for c in ET.parse(junit).getroot().iter("testcase")
                for f in c.findall("failure")]
    assert failures == [(f"{doc['name']}: {name}", "the search returned no results")]

    # the whole file holds Security events too: indexed with the Sysmon source, they are refused (exit 2)
    doc["tests"][0]["attack_data"][0]["data"] = str(negative)
    detection.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    proc = localsearch("test", str(detection), "--app-dir", str(REPO))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"unsupported in local runs: data indexed with source '{SYSMON_SOURCE}'" in proc.stderr
