"""The notable drilldowns, filled in as ES fills them, run with the local runner on the bundled samples.

ES expands a drilldown's `$field|s$` tokens from the notable's fields. `|s` is Splunk's "wrap value in quotes"
token filter (Splunk docs, Dashboards "Tokens", token filters: quotes around the value, quotation characters
inside it escaped); ES's own correlation searches write their drilldowns that way (`| search src=$src|s$`).
The substitution below also escapes backslashes, so that SPL reads back the exact value (Search Manual,
"Backslashes": `\\` is a literal backslash, `\"` a literal quote inside a quoted string).

The first drilldown re-runs the detection (`| savedsearch "<name>" | search dest=... user=...`) and must give
back the result it is opened from, also for a result whose host and user hold spaces, quotes and backslashes.
The second reads ES's Risk data model, which does not exist locally: it is parsed and its macros are checked.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List

import duckdb
import pytest

from app_files import MAIN_RULE, REPO_ROOT, SYSMON_RULE, read_conf
from spl_static import expand, macro_table, split_pipeline, tokens
from localsearch.conf import AppConfs
from localsearch.engine import SearchEngine
from localsearch.ingest import load_events
from localsearch.spl.errors import SplError, Unsupported

SAMPLES = REPO_ROOT / "samples"
SEARCHES = read_conf("savedsearches.conf")
RULES = [MAIN_RULE, SYSMON_RULE]
# A host and an account name that would break an unquoted or naively quoted token: spaces, quotes, backslashes
# (one at the end, before the closing quote).
ODD_DEST = 'LAB HOST "7" \\ wks'
ODD_USER = 'CORP\\Jo "JJ" O\'Neil\\'


def s_filter(value: str) -> str:
    """`$field|s$`: the value in double quotes, with `\\` and `"` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fill(text: str, result: Dict[str, object]) -> str:
    def one(match: re.Match) -> str:
        name, filt = match.group(1), match.group(2)
        if name in ("info_min_time", "info_max_time"):
            return match.group(0)
        value = str(result[name])
        return s_filter(value) if filt == "s" else value
    return re.sub(r"\$([^$\s|]+)(?:\|([a-z]))?\$", one, text)


def odd_event_file(tmp_path: Path) -> Path:
    """The bundled samples plus a copy of sample #4 (wmiexec-style cmd.exe child) on a host and for a user
    with spaces, quotes and backslashes (XML-escaped in the event text)."""
    folder = tmp_path / "events"
    folder.mkdir()
    lines = [ln for p in sorted(SAMPLES.glob("*.log")) for ln in p.read_text(encoding="utf-8").splitlines() if ln]
    template = next(ln for ln in lines if "whoami /all" in ln)

    def xml(v: str) -> str:
        return v.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace("'", "&apos;")

    odd = re.sub(r"<Computer>[^<]*</Computer>", f"<Computer>{xml(ODD_DEST)}</Computer>", template)
    odd = re.sub(r"(<Data Name='User'>)[^<]*", lambda m: m.group(1) + xml(ODD_USER), odd)
    assert odd != template
    (folder / "samples.XmlWinEventLog.log").write_text("\n".join(lines + [odd]) + "\n", encoding="utf-8")
    return folder


def engine_for(events: Path, raw_events: bool) -> SearchEngine:
    con = duckdb.connect()
    report = load_events([events], con, raw_events=raw_events)
    confs = AppConfs(REPO_ROOT, REPO_ROOT / "local-does-not-exist")
    return SearchEngine(con, report.columns, confs, app_name="DA-ESS-WmiProcessExecution")


def rows(engine: SearchEngine, search: str) -> List[Dict[str, object]]:
    result = engine.run(search)
    return [dict(zip(result.fields, row)) for row in result.rows]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not any(SAMPLES.glob("*.log")):
        pytest.skip("no sample events in samples/")
    return odd_event_file(tmp_path_factory.mktemp("drilldown"))


@pytest.mark.parametrize("rule", RULES)
def test_first_drilldown_reruns_the_detection_for_the_notables_host_and_user(events: Path, rule: str) -> None:
    engine = engine_for(events, raw_events=True)
    detection = rows(engine, SEARCHES[rule]["search"])
    odd = [r for r in detection if r["dest"] == ODD_DEST]
    assert len(odd) == 1 and odd[0]["user"] == ODD_USER, "the derived event is a result of the detection"
    ordinary = next(r for r in detection if r["user"] == "CORP\\adm_ops" and r["process_name"] == "cmd.exe")
    drilldown = json.loads(SEARCHES[rule]["action.notable.param.drilldown_searches"])[0]
    for result in (ordinary, odd[0]):
        search = fill(drilldown["search"], result)
        assert search.startswith(f'| savedsearch "{rule}" | search dest="')
        back = rows(engine_for(events, raw_events=True), search)
        # every result of the detection for that host and user, and nothing else
        expected = [r for r in detection if (r["dest"], r["user"]) == (result["dest"], result["user"])]
        assert back == expected and result in back, search
        assert fill(drilldown["name"], result).count(str(result["dest"])) == 1


def test_a_naive_substitution_would_break(events: Path) -> None:
    """The check can fail: the odd result's values pasted between plain quotes do not find that result."""
    engine = engine_for(events, raw_events=True)
    drilldown = json.loads(SEARCHES[MAIN_RULE]["action.notable.param.drilldown_searches"])[0]
    naive = drilldown["search"].replace("$dest|s$", f'"{ODD_DEST}"').replace("$user|s$", f'"{ODD_USER}"')
    assert naive != fill(drilldown["search"], {"dest": ODD_DEST, "user": ODD_USER})
    try:
        back = rows(engine, naive)
    except Unsupported:
        raise
    except SplError:
        return
    assert not any(r["dest"] == ODD_DEST and r["user"] == ODD_USER for r in back)


@pytest.mark.parametrize("rule", RULES)
def test_risk_drilldown_parses_and_uses_defined_macros(rule: str) -> None:
    drilldown = json.loads(SEARCHES[rule]["action.notable.param.drilldown_searches"])[1]
    assert tokens(drilldown["search"]) == {"dest", "user"}
    filled = fill(drilldown["search"], {"dest": ODD_DEST, "user": ODD_USER})
    used: set = set()
    expanded = expand(filled, macro_table(read_conf("macros.conf")), used)
    assert used == {"security_content_ctime"}
    stages = split_pipeline(expanded)
    assert stages[0] == "from datamodel Risk.All_Risk"
    assert stages[1] == (f"search normalized_risk_object IN ({s_filter(ODD_DEST)}, {s_filter(ODD_USER)}) "
                         "starthoursago=168")
    assert stages[2].startswith("stats count min(_time) as firstTime max(_time) as lastTime ")
    assert stages[2].endswith(" by normalized_risk_object")
    assert stages[3:] == ['convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime)',
                          'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(lastTime)']
    assert drilldown["earliest_offset"] == "$info_min_time$" and drilldown["latest_offset"] == "$info_max_time$"


def test_drilldowns_name_only_the_notables_entities() -> None:
    for rule in RULES:
        for drill in json.loads(SEARCHES[rule]["action.notable.param.drilldown_searches"]):
            assert tokens(drill["search"]) == {"dest", "user"}, drill["search"]
