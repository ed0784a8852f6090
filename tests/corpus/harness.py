"""Run the corpus of published SPL (tests/corpus/) through the local runner and classify each outcome.

- A tuning item is run as the body of the filter macro `process_execution_via_wmi_filter` (a temporary
  local/ overlay, as `--local-dir` gives one) inside the app's correlation search (without its final
  `rbascore`, which keeps every result), over a set of events.
- An ESCU search is run as published, with ESCU's own macros (escu_macros.json) in the overlay, each
  detection's `<name>_filter` macro defined as contentctl generates it (`search *`), and ESCU's lookup
  definitions (lookups.json: transforms.conf settings and the CSV header row, no rows).

Outcomes: `ran` (with the result count), `refused` (`unsupported in local runs: <what>`), `error` (any other
clean search error: for published SPL a wrong error, i.e. a bug), `crash` (any other exception) and
`unavailable` (the item calls a macro or lookup that its source does not publish with it, or names a lookup
field that the lookup's header, taken from another commit than the item's, lacks: the corpus cannot define
it; reported, and left out of the rates).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import duckdb

import project
from localsearch.conf import AppConfs
from localsearch.engine import SearchEngine
from localsearch.ingest import load_events
from localsearch.spl.errors import SplError, Unsupported

CORPUS = Path(__file__).resolve().parent
REPO = project.REPO
PARTS = ("dev", "heldout")
FILTER_MACRO = "process_execution_via_wmi_filter"
SAVED_SEARCH = project.MAIN_RULE
UNSUPPORTED = "unsupported in local runs: "
MACRO_CALL = re.compile(r"`([A-Za-z0-9_]+_filter)`")


@dataclass(frozen=True)
class Item:
    kind: str            # tuning | search
    spl: str
    part: str            # dev | heldout
    source_repo: str
    commit: str
    path: str
    license: str
    name: str = ""

    @property
    def id(self) -> str:
        return hashlib.sha256(self.spl.encode("utf-8")).hexdigest()[:10]


@dataclass
class Outcome:
    item: Item
    dataset: str
    status: str          # ran | refused | error | crash
    count: int = 0
    message: str = ""

    @property
    def reason(self) -> str:
        """The refusal's <what>, with lookup names and similar specifics generalised for the tally."""
        what = self.message[len(UNSUPPORTED):] if self.message.startswith(UNSUPPORTED) else self.message
        what = re.sub(r"^lookup \S+: ", "lookup: ", what)
        # the position (and the macro the text came from) differ from item to item
        what = re.sub(r" \(at character \d+ of the expanded search.*$", "", what)
        return what


def load_items(parts: Sequence[str] = PARTS, kinds: Optional[Iterable[str]] = None) -> List[Item]:
    items = []
    for part in parts:
        for path in sorted((CORPUS / part).glob("*.json")):
            for raw in json.loads(path.read_text(encoding="utf-8")):
                if kinds is None or raw["kind"] in kinds:
                    items.append(Item(raw["kind"], raw["spl"], part, raw["source_repo"], raw["commit"],
                                      raw["path"], raw["license"], raw.get("name", "")))
    return items


def _conf_value(text: str) -> str:
    """One conf line: a definition's line breaks become spaces (a conf value cannot end in a backslash)."""
    return " ".join(text.split())


class Workspace:
    """A copy of the app with ESCU's lookup definitions, and a local/ overlay rewritten for each item."""

    def __init__(self, root: Path):
        self.app = root / "DA-ESS-WmiProcessExecution"
        for sub in ("default", "bin", "lookups", "lib"):
            if (REPO / sub).is_dir():
                shutil.copytree(REPO / sub, self.app / sub, ignore=shutil.ignore_patterns("__pycache__"))
        self.local = root / "overlay"
        self.local.mkdir()
        self.macros = json.loads((CORPUS / "escu_macros.json").read_text(encoding="utf-8"))
        app_macros = AppConfs(self.app, self.local).conf("macros")
        self.app_macro_names = set(app_macros.stanza_names())
        saved = AppConfs(self.app, self.local).conf("savedsearches").get(SAVED_SEARCH, "search") or ""
        # the trailing `| rbascore ...` only adds fields to every result (its own tests cover it): left out,
        # it would start one command process per item and event set
        self.saved_search = re.sub(r"\|\s*rbascore\b[^|]*$", "", saved).rstrip()
        assert FILTER_MACRO in self.saved_search, f"{SAVED_SEARCH} no longer calls {FILTER_MACRO}"
        self.macro_names = {m["name"] for m in self.macros} | self.app_macro_names
        self.lookup_names = set(AppConfs(self.app, self.local).conf("transforms").stanza_names())
        transforms = []
        self._headers: Dict[str, str] = {}
        self.lookup_commits: Dict[str, str] = {}
        for lk in json.loads((CORPUS / "lookups.json").read_text(encoding="utf-8")):
            settings = dict(lk["settings"])
            if "header_from" not in lk:      # the header row of a CSV published at that commit
                self.lookup_commits[lk["name"]] = lk["commit"]
            if "file" in settings:       # a CSV read by name (`inputlookup x.csv`), no transforms stanza
                self._write_csv(settings["file"], lk["header"])
                self.lookup_names.add(lk["name"])
                continue
            transforms.append(f"# {lk['source_repo']} {lk['commit']} {lk['path']} ({lk['license']})")
            transforms.append(f"[{lk['name']}]")
            if "collection" in settings:
                settings["external_type"] = "kvstore"
            transforms += [f"{k} = {v}" for k, v in settings.items()]
            if lk.get("header") and "filename" in settings:
                self._write_csv(settings["filename"], lk["header"])
            transforms.append("")
            self.lookup_names.add(lk["name"])
        (self.local / "transforms.conf").write_text("\n".join(transforms), encoding="utf-8")

    def _write_csv(self, filename: str, header: str) -> None:
        """One header row per CSV file: a stanza and `inputlookup <file>` reading the same file must agree."""
        path = self.app / "lookups" / filename
        if filename in self._headers and self._headers[filename] != header:
            raise AssertionError(f"lookups.json gives {filename} two header rows: {self._headers[filename]!r}, "
                                 f"{header!r}")
        self._headers[filename] = header
        path.write_text(header + "\n", encoding="utf-8")

    def write_macros(self, item: Item) -> None:
        lines = []
        for m in self.macros:
            if item.kind == "tuning" and m["name"].split("(")[0] in {n.split("(")[0] for n in self.app_macro_names}:
                continue     # the app's own definitions of shared names (security_content_ctime, ...) stay
            lines += [f"# {m['source_repo']} {m['commit']} {m['path']} ({m['license']})", f"[{m['name']}]"]
            if m.get("args"):
                lines.append(f"args = {m['args']}")
            lines += [f"definition = {_conf_value(m['definition'])}", ""]
        text = item.spl if item.kind == "search" else ""
        # contentctl gives every detection a filter macro `<name>_filter` with `search *`
        for name in sorted(set(MACRO_CALL.findall(text)) - {FILTER_MACRO}):
            lines += [f"[{name}]", "definition = search *", ""]
        if item.kind == "tuning":
            lines += [f"[{FILTER_MACRO}]", f"definition = {_conf_value(item.spl)}", ""]
        (self.local / "macros.conf").write_text("\n".join(lines), encoding="utf-8")

    def search_of(self, item: Item) -> str:
        return item.spl if item.kind == "search" else self.saved_search


@dataclass
class Events:
    name: str
    con: duckdb.DuckDBPyConnection
    columns: Dict[str, Dict[str, str]]
    processes: int


def load(name: str, paths: Sequence[Path]) -> Events:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    report = load_events(list(paths), con, raw_events=True)
    return Events(name, con, report.columns, report.processes)


def _temp_tables(con: duckdb.DuckDBPyConnection) -> set:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}


def _missing_dependency(ws: "Workspace", item: Item, message: str) -> bool:
    # a field that the newest published CSV lacks, used by an item of an earlier version: the corpus holds
    # each lookup's header at one commit only, so the table this item was written against is not defined
    col = re.match(r"lookup (\S+): field '[^']+' is not a column of ", message)
    if col:
        commit = ws.lookup_commits.get(col.group(1))
        return commit is not None and commit != item.commit
    m = re.match(r"(?:lookup (\S+) is not defined in transforms\.conf|macro `([^`(]+)(?:\([^`]*\))?` is not defined)",
                 message)
    if not m:
        return False
    name = m.group(1) or m.group(2)
    return name not in ws.lookup_names and name not in {n.split("(")[0] for n in ws.macro_names}


def run_item(ws: Workspace, events: Events, item: Item) -> Outcome:
    ws.write_macros(item)
    before = _temp_tables(events.con)
    engine = SearchEngine(events.con, events.columns, AppConfs(ws.app, ws.local), app_name=ws.app.name)
    try:
        result = engine.run(ws.search_of(item))
        return Outcome(item, events.name, "ran", len(result.rows))
    except Unsupported as exc:
        return Outcome(item, events.name, "refused", message=exc.message)
    except SplError as exc:       # CommandError included: a clean error, but not a refusal
        status = "unavailable" if _missing_dependency(ws, item, exc.message) else "error"
        return Outcome(item, events.name, status, message=str(exc))
    except Exception as exc:      # noqa: BLE001 - a crash is what the corpus is there to find
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Outcome(item, events.name, "crash", message=tb)
    finally:
        for table in _temp_tables(events.con) - before:
            events.con.execute(f'DROP TABLE IF EXISTS "{table}"')


@dataclass
class Tally:
    outcomes: List[Outcome] = field(default_factory=list)
    # per event set: results of the correlation search with the shipped filter (`search *`)
    baseline: Dict[str, int] = field(default_factory=dict)

    def select(self, kind: Optional[str] = None, part: Optional[str] = None,
               dataset: Optional[str] = None) -> List[Outcome]:
        return [o for o in self.outcomes if (kind is None or o.item.kind == kind)
                and (part is None or o.item.part == part) and (dataset is None or o.dataset == dataset)]

    @staticmethod
    def rate(outcomes: Sequence[Outcome]) -> float:
        """Share of the items that ran, of those the corpus can define completely."""
        counted = [o for o in outcomes if o.status != "unavailable"]
        return sum(o.status == "ran" for o in counted) / len(counted) if counted else 0.0

    @staticmethod
    def reasons(outcomes: Sequence[Outcome], status: str = "refused") -> Counter:
        return Counter(o.reason for o in outcomes if o.status == status)


def event_sets(with_datasets: bool = True) -> List[tuple]:
    """(name, paths): the bundled samples, then each folder of the shared datasets when they are there."""
    sets = [("samples", [project.SAMPLES])]
    if with_datasets and not project.datasets_missing():
        sets += [(f"datasets/{d.name}", [d]) for d in sorted(project.DATASETS.iterdir()) if d.is_dir()]
    return sets


def run_corpus(root: Path, items: Sequence[Item], with_datasets: bool = True) -> Tally:
    """Every tuning item over every event set; every ESCU search over the samples."""
    ws = Workspace(root)
    tally = Tally()
    for name, paths in event_sets(with_datasets):
        events = load(name, paths)
        try:
            untuned = run_item(ws, events, Item("tuning", "search *", "dev", "", "", "", ""))
            assert untuned.status == "ran", f"the correlation search does not run on {name}: {untuned.message}"
            tally.baseline[name] = untuned.count
            for item in items:
                if item.kind == "tuning" or name == "samples":
                    tally.outcomes.append(run_item(ws, events, item))
        finally:
            events.con.close()
    return tally
