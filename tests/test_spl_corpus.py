"""Published SPL that others wrote (tests/corpus/), run through the local runner, with a tally.

Tuning filters and allowlist steps run as the body of `process_execution_via_wmi_filter` in the app's
correlation search (a local/ overlay, as `--local-dir` gives one) over the bundled samples and, when present,
the shared datasets; ESCU's Endpoint.Processes detections run as published, with ESCU's macros and lookup
definitions, over the samples. Each outcome is ran / refused (`unsupported in local runs: <what>`) /
error / crash / unavailable (see tests/corpus/harness.py). `.venv/bin/python tests/corpus/tally.py` prints the
full table.

What is asserted today: provenance of every item, no crash, every error a clean one-line message, nothing
but ran / clean refusal on the held-out set, and the result counts of a few items checked against Splunk's
documented semantics. The issue's rate thresholds on the held-out set (95% of tuning filters, 90% of searches
run) are measured by test_held_out_rates and become asserts when ENFORCE_HELD_OUT_THRESHOLDS is True.
"""
from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Dict, List

import pytest

import project

sys.path.insert(0, str(project.REPO / "tests" / "corpus"))
import harness  # noqa: E402
from split import split_of  # noqa: E402

REPO = project.REPO

# Flip to True when the SPL runner is complete (issue 8, "Done when"): the rates become asserts.
ENFORCE_HELD_OUT_THRESHOLDS = True
TUNING_THRESHOLD = 0.95
SEARCH_THRESHOLD = 0.90
MIN_ITEMS = {"tuning": 80, "search": 150}
LICENSES = {"splunk/security_content": "Apache-2.0", "CrossRealms/Splunk-Cyences-App-for-Splunk": "MIT",
            "olafhartong/ThreatHunting": "MIT"}
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


@pytest.fixture(scope="module")
def tally(tmp_path_factory) -> harness.Tally:
    result = harness.run_corpus(tmp_path_factory.mktemp("corpus"), harness.load_items())
    print()
    for kind in ("tuning", "search"):
        for part in harness.PARTS:
            sel = result.select(kind, part)
            print(f"{kind} {part}: {dict(Counter(o.status for o in sel))} ran {harness.Tally.rate(sel):.0%}")
    for reason, n in result.reasons(result.select(dataset="samples")).most_common(10):
        print(f"  refused {n}: {reason}")
    for reason, n in result.reasons(result.select(dataset="samples"), "error").most_common(10):
        print(f"  error {n}: {reason}")
    return result


# ---- the corpus itself --------------------------------------------------------------------------------
def test_every_item_names_its_source_and_licence() -> None:
    items = harness.load_items()
    by_kind = Counter(i.kind for i in items)
    for kind, least in MIN_ITEMS.items():
        assert by_kind[kind] >= least, f"only {by_kind[kind]} {kind} items"
    for item in items:
        assert re.fullmatch(r"[0-9a-f]{40}", item.commit), item
        assert item.path and LICENSES[item.source_repo] == item.license, item
        assert item.part == split_of(item.spl), f"{item.id} is filed in {item.part}/"
    ids = Counter(i.id for i in items)
    assert not [i for i, n in ids.items() if n > 1], "duplicate items"
    for name in ("escu_macros.json", "lookups.json"):
        for entry in json.loads((harness.CORPUS / name).read_text(encoding="utf-8")):
            assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]) and entry["path"] and entry["license"]


def test_each_lookup_file_has_one_header_with_every_field_its_macros_name() -> None:
    """A CSV lookup has one header row, whether read through its transforms.conf stanza or by file name
    (`inputlookup <file>.csv`), and Splunk's lookup/inputlookup need every field they name to be a column
    (Search Reference: lookup, "lookup field"; inputlookup). ThreatHunting reads the same CSV both ways."""
    entries = json.loads((harness.CORPUS / "lookups.json").read_text(encoding="utf-8"))
    file_of = {e["name"]: e["settings"].get("filename") or e["settings"].get("file") for e in entries}
    headers: Dict[str, set] = {}
    for e in entries:
        if e.get("header") and file_of[e["name"]]:
            header = set(e["header"].split(","))
            assert headers.setdefault(file_of[e["name"]], header) == header, f"{e['name']}: two headers"
    for item in harness.load_items(kinds=["tuning"]):
        if item.source_repo != "olafhartong/ThreatHunting":
            continue
        m = re.match(r"lookup\s+(\S+)\s+(.*?)\s+output\s+(\S+)", item.spl, re.IGNORECASE)
        n = re.search(r"inputlookup\s+(\S+\.csv)\s*\|\s*fields\s+([^\]]+)\]", item.spl)
        named = (m.group(1), m.group(2).split() + [m.group(3)]) if m else (n.group(1), n.group(2).split()) if n \
            else None
        if named and named[0] in file_of:
            missing = set(named[1]) - headers[file_of[named[0]]]
            assert not missing, f"{item.id}: {named[0]} lacks {missing}"


def test_held_out_share_is_about_thirty_percent() -> None:
    items = harness.load_items()
    share = sum(i.part == "heldout" for i in items) / len(items)
    assert 0.25 <= share <= 0.35, share


# ---- running it ---------------------------------------------------------------------------------------
def test_nothing_crashes(tally: harness.Tally) -> None:
    crashes = [f"{o.item.id} ({o.item.path}) on {o.dataset}: {o.message}" for o in tally.outcomes
               if o.status == "crash"]
    assert not crashes, "\n".join(crashes)


def test_every_error_is_one_clean_line(tally: harness.Tally) -> None:
    for o in tally.outcomes:
        if o.status in ("error", "refused", "unavailable"):
            assert o.message and "\n" not in o.message and "Traceback" not in o.message, o
            assert str(REPO) not in o.message, f"{o.item.id}: a path of the project in {o.message!r}"


def test_every_item_has_one_outcome_per_event_set(tally: harness.Tally) -> None:
    items = harness.load_items()
    sets = [name for name, _ in harness.event_sets()]
    expected = sum(len(sets) if i.kind == "tuning" else 1 for i in items)
    assert len(tally.outcomes) == expected
    # a refusal or error is the same on every event set; only a refusal of a case met in the data (e.g. a
    # lookup's default_match for a result without the input field) may leave other event sets running
    by_item: Dict[str, set] = {}
    for o in tally.select("tuning"):
        by_item.setdefault(o.item.id, set()).add(o.status if o.status == "ran" else o.message)
    def consistent(v: set) -> bool:
        return len(v) == 1 or (len(v) == 2 and "ran" in v and all(m.startswith(harness.UNSUPPORTED)
                                                                  for m in v - {"ran"}))
    assert all(consistent(v) for v in by_item.values()), {k: v for k, v in by_item.items() if not consistent(v)}


def test_tuning_never_adds_results(tally: harness.Tally) -> None:
    """A tuning step is made of commands that keep, drop or annotate results (search, where, regex, lookup,
    eval, fields, rex, ...): whatever it does, the correlation search returns at most as many results as
    without it, on every event set."""
    assert tally.baseline["samples"] == len(wmi_children())
    for o in tally.select("tuning"):
        if o.status == "ran":
            assert o.count <= tally.baseline[o.dataset], f"{o.item.id} on {o.dataset}: {o.count} results"


def test_shared_datasets_are_run() -> None:
    reason = project.datasets_missing()
    if reason:
        pytest.skip(f"{reason}: the tuning filters ran on the samples only")
    sets = [name for name, _ in harness.event_sets()]
    assert len(sets) > 1 and all(s.startswith("datasets/") for s in sets[1:])


def test_held_out_rates(tally: harness.Tally) -> None:
    """Issue 8 "Done when": on the held-out set 95% of tuning filters and 90% of searches run, nothing fails
    other than with a clean refusal. No error or crash is asserted now; the rates are reported until
    ENFORCE_HELD_OUT_THRESHOLDS is True, then asserted."""
    tuning, search = tally.select("tuning", "heldout"), tally.select("search", "heldout")
    failures = [o for o in tuning + search if o.status in ("error", "crash")]
    report = (f"held-out: tuning filters ran {harness.Tally.rate(tuning):.1%} (threshold {TUNING_THRESHOLD:.0%}), "
              f"ESCU searches ran {harness.Tally.rate(search):.1%} (threshold {SEARCH_THRESHOLD:.0%}), "
              f"{len(failures)} errors other than refusals")
    # held-out items are only counted, never listed: the ids are enough to find them
    assert not failures, report + ": " + "; ".join(f"{o.item.id} ({o.status})" for o in failures[:10])
    if not ENFORCE_HELD_OUT_THRESHOLDS:
        pytest.skip("rates not enforced yet (ENFORCE_HELD_OUT_THRESHOLDS): " + report)
    assert harness.Tally.rate(tuning) >= TUNING_THRESHOLD, report
    assert harness.Tally.rate(search) >= SEARCH_THRESHOLD, report


# ---- result counts against Splunk's documented semantics ---------------------------------------------
def wmi_children() -> List[str]:
    """Command lines of the samples' WmiPrvSE.exe children (Sysmon 1 ParentImage, Security 4688
    ParentProcessName), read from the XML independently of the runner: what the correlation search returns."""
    out = []
    for path in sorted(project.SAMPLES.glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            root = ET.fromstring(line)
            data = {d.get("Name"): (d.text or "") for d in root.iter(f"{NS}Data")}
            parent = data.get("ParentImage") or data.get("ParentProcessName") or ""
            if parent.rsplit("\\", 1)[-1].lower() == "wmiprvse.exe" and data.get("CommandLine"):
                out.append(data["CommandLine"])
    return out


def _expected(*patterns: str) -> int:
    """Children whose command line matches every pattern (Python's re agrees with PCRE on these)."""
    return sum(all(re.search(p, cmd) for p in patterns) for cmd in wmi_children())


# (item id, expected result count on the samples, the Splunk rule); dev-set items only
SEMANTICS = [
    # ESCU's own detection: tstats where values are case-insensitive, `NOT (f IN ("*\\dismhost.exe*"))` keeps
    # every child whose process does not contain \dismhost.exe (Search Reference: tstats, search IN)
    ("b37a4e352b", lambda: len(wmi_children()), "tstats where with NOT IN and wildcards"),
    # ESCU impacket wmiexec: where match() is PCRE, case-sensitive unless (?i) (Search Reference: match);
    # the eval string "\\\\127\.0\.0\.1\\.*" is the regex \\127\.0\.0\.1\.* (\\ in a string is one backslash)
    ("b4a309bacd", lambda: _expected(r"(?i)cmd\.exe\s+\/Q\s+\/c", r"\\127\.0\.0\.1\.*", r"__\d{1,10}\.\d{1,10}"),
     "where match() PCRE"),
    # `search process=*share*`: wildcard, case-insensitive value match (Search Manual: Use wildcards)
    ("901cf3667b", lambda: _expected(r"(?i)share"), "search wildcard value"),
    # `regex process="(?i)(regasm\.exe.{0,4}$)"`: keeps results whose process matches (Search Reference: regex)
    ("7c221bcc30", lambda: _expected(r"(?i)(regasm\.exe.{0,4}$)"), "regex field=value"),
    # NOT over a field the results do not have keeps them all (Search Manual: NOT field=value also returns
    # events without the field)
    ("7b3ed7a535", lambda: len(wmi_children()), "NOT on a missing field"),
    ("18fbeac680", lambda: len(wmi_children()), "NOT (a b) NOT (c d) on missing fields"),
    # tstats results have no `index` field: NOT index IN (...) keeps them all
    ("b0f978a1c3", lambda: len(wmi_children()), "NOT IN on a field the results lack"),
    # a comparison with a field that is missing never matches (Search Manual: Comparison operators)
    ("b707c11f24", lambda: 0, "search f < n with f missing"),
    # AND of two wildcard terms on the same field
    ("abd5f308fb", lambda: _expected(r"(?i)deletejournal", r"(?i)usn"), "search AND of wildcard values"),
    # where match() with (?i) and a character class holding Unicode dashes (ESCU "windowstyle" step)
    ("c05bd3191a", lambda: _expected(r"(?i)[\-|\/|– |—|―]w(in*d*o*w*s*t*y*l*e*)*\s+[^-]"), "match() classes"),
    ("5aaef93595", lambda: _expected(r"(?i)(-O|-sO|-ksO|--output)"), "match() alternation with (?i)"),
    # ESCU windows_lolbas_executed_as_renamed_file: match() with a regex computed per result, then lookup
    # lolbas_file_path (min_matches 1, default_match false; the corpus has no rows) gives desc="false" to every
    # result, which `search desc!="false"` drops (transforms.conf.spec: min_matches, default_match)
    ("1c4f070688", lambda: 0, "computed match() regex, default_match then search !="),
]
# filters over fields the correlation search's results do not have: NOT keeps every result on every event set
MISSING_FIELD_FILTERS = ["7b3ed7a535", "18fbeac680"]


@pytest.mark.parametrize("item_id,expected,rule", SEMANTICS, ids=[s[0] for s in SEMANTICS])
def test_result_count_follows_splunk(tally: harness.Tally, item_id: str, expected, rule: str) -> None:
    [o] = [o for o in tally.select(dataset="samples") if o.item.id == item_id]
    assert o.item.part == "dev"
    assert o.status in ("ran", "refused"), f"{rule}: {o.message}"
    if o.status == "ran":
        assert o.count == expected(), f"{rule}: {o.count} results, Splunk gives {expected()}"


@pytest.mark.parametrize("item_id", MISSING_FIELD_FILTERS)
def test_not_on_missing_fields_keeps_everything_on_every_event_set(tally: harness.Tally, item_id: str) -> None:
    outcomes = [o for o in tally.outcomes if o.item.id == item_id]
    assert outcomes
    for o in outcomes:
        assert o.status in ("ran", "refused"), o.message
        if o.status == "ran":
            assert o.count == tally.baseline[o.dataset], f"{o.dataset}: {o.count} of {tally.baseline[o.dataset]}"
