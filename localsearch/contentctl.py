"""contentctl detection YAMLs as `localsearch test` cases: contentctl's unit tests, run offline.

A detection (contentctl 5.x: contentctl/objects/detection*.py, rba.py, unit_test.py, test_attack_data.py) has
`name`, `search`, `rba` (`risk_objects` / `threat_objects` with a `field` each) and `tests`, each with a
`name` and `attack_data` entries (`data`: a URL or a file, `source`, `sourcetype`). contentctl replays the
data into Splunk and runs the search; here the data is read locally (a URL maps to the file of the same name
under --data-dir), the search runs with the app's macros, and contentctl's unit-test rule is applied
(localsearch.expect.ContentctlUnitTest). As contentctl does (detection_abstract.py), the tests of a detection
with `tags.manual_test`, of one whose status is not `production` and of a `Correlation` detection are skipped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote, urlparse

from .expect import ContentctlUnitTest
from .spec import Case, SpecError

# The sourcetype the runner reads Windows event logs as, and the source prefix Splunk gives them
# (XmlWinEventLog:<channel>); the comparison ignores case, as `search` does.
SOURCETYPE = "xmlwineventlog"
SOURCE_PREFIX = "xmlwineventlog:"
PROJECT_MARKER = "contentctl.yml"


def is_detection(doc: Any) -> bool:
    return isinstance(doc, dict) and "search" in doc and "name" in doc and "tests" in doc


def _fields(rba: Any, key: str, where: str) -> Tuple[str, ...]:
    items = rba.get(key) or []
    if not isinstance(items, list) or not all(isinstance(o, dict) and isinstance(o.get("field"), str)
                                              for o in items):
        raise SpecError(f"{where}: rba.{key} must be a list of mappings with a field")
    return tuple(o["field"] for o in items)


def project_dir(start: Path) -> Optional[Path]:
    """The contentctl project a detection belongs to: the nearest folder at or above the detection file's
    folder holding contentctl.yml."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_MARKER).is_file():
            return folder
    return None


def _data_file(data: str, base: Path, data_dir: Optional[Path], where: str) -> Path:
    """A URL: the file named as the URL's last path segment, URL-decoded (`%20` is a space), under data_dir
    (searched recursively; exactly one must exist). A relative path: from the contentctl project folder, as
    contentctl (run in that folder) resolves it; outside a project, from data_dir when given, else from the
    detection file's folder."""
    url = urlparse(data)
    if url.scheme in ("http", "https"):
        name = Path(unquote(url.path)).name
        if data_dir is None:
            raise SpecError(f"{where}: attack data {data} is a URL: give --data-dir, a folder holding {name}")
        found = sorted(p for p in data_dir.rglob(name) if p.is_file()) if data_dir.is_dir() else []
        if not found:
            raise SpecError(f"{where}: no file named {name} under --data-dir {data_dir} (for {data})")
        if len(found) > 1:
            raise SpecError(f"{where}: {len(found)} files named {name} under --data-dir {data_dir}: "
                            + ", ".join(str(p) for p in found[:5]))
        return found[0]
    path = Path(data)
    if not path.is_absolute():
        project = project_dir(base)
        path = (project if project is not None else data_dir if data_dir is not None else base) / path
    if not path.exists():
        raise SpecError(f"{where}: attack data file {path} not found")
    return path


def _origin(entries: List[Dict[str, Any]], where: str) -> Tuple[str, str]:
    """The one (source, sourcetype) of a test's attack data; the runner gives every event its sourcetype
    XmlWinEventLog and its source XmlWinEventLog:<channel>, so only those can be honoured exactly."""
    pairs = {(str(e.get("source", "")), str(e.get("sourcetype", ""))) for e in entries}
    if len(pairs) > 1:
        raise SpecError(f"{where}: unsupported in local runs: attack data with different source/sourcetype "
                        f"in one test: {sorted(pairs)}")
    source, sourcetype = pairs.pop()
    if sourcetype.lower() != SOURCETYPE or not source.lower().startswith(SOURCE_PREFIX):
        raise SpecError(f"{where}: unsupported in local runs: attack data with source {source!r} and "
                        f"sourcetype {sourcetype!r} (the runner reads Windows event logs: sourcetype "
                        "XmlWinEventLog, source XmlWinEventLog:<channel>)")
    return source, sourcetype


def search_text(search: str) -> str:
    """contentctl runs a search that does not start with `|` as `search ...` (retry_search_until_timeout)."""
    text = search.strip()
    return text if text.startswith("|") or text.startswith("search ") else f"search {text}"


def cases(doc: Dict[str, Any], path: Path, data_dir: Optional[Path]) -> List[Case]:
    name = doc.get("name")
    where = f"{path} (detection {name!r})"
    if not isinstance(name, str) or not isinstance(doc.get("search"), str):
        raise SpecError(f"{path}: a contentctl detection needs name and search as text")
    rba = doc.get("rba") or {}
    if not isinstance(rba, dict):
        raise SpecError(f"{where}: rba must be a mapping")
    rule = ContentctlUnitTest("contentctl unit test: results, every risk object field filled",
                              _fields(rba, "risk_objects", where), _fields(rba, "threat_objects", where))
    tests = doc["tests"]
    if not isinstance(tests, list) or not tests:
        raise SpecError(f"{where}: tests must be a non-empty list")
    raw_tags = doc.get("tags")
    tags: Dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
    skip = (f"manual test ({tags['manual_test']})" if tags.get("manual_test") is not None else
            f"detection is non-production ({doc.get('status')})" if doc.get("status") != "production" else
            f"detection type {doc.get('type')} cannot be tested by contentctl" if doc.get("type") == "Correlation"
            else None)
    out: List[Case] = []
    for i, test in enumerate(tests):
        at = f"{where}: tests[{i}]"
        if not isinstance(test, dict) or not isinstance(test.get("name"), str):
            raise SpecError(f"{at}: expected a mapping with name and attack_data")
        at += f" ({test['name']!r})"
        entries = test.get("attack_data")
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) and isinstance(
                e.get("data"), str) for e in entries):
            raise SpecError(f"{at}: attack_data must be a non-empty list of mappings with data")
        case = Case(spec=path, name=f"{name}: {test['name']}", data=[], expectations=[rule],
                    search_text=search_text(doc["search"]))
        case.skip = skip
        if skip is None:
            case.data = [_data_file(e["data"], path.parent, data_dir, at) for e in entries]
            case.origin = _origin(entries, at)
        out.append(case)
    return out
