"""Content tests of the shipped correlation searches: ES keys, macros, tokens, RBA scoring."""
from __future__ import annotations

import json
import re

import pytest

from app_files import MAIN_RULE, SYSMON_RULE, read_conf
from spl_static import command_args, expand, macro_table, output_fields, split_pipeline, tokens

SEARCHES = read_conf("savedsearches.conf")
MACROS = macro_table(read_conf("macros.conf"))
RULES = [MAIN_RULE, SYSMON_RULE]
# Tokens ES fills itself in notable drilldowns, not from the search's results.
ES_TOKENS = {"info_min_time", "info_max_time"}


def rbascore_args(rule: str) -> dict[str, str]:
    last = split_pipeline(expand(SEARCHES[rule]["search"], MACROS))[-1]
    assert last.startswith("rbascore "), f"{rule}: results must go through rbascore last, got {last!r}"
    return command_args(last)


def test_only_correlation_searches_shipped_and_all_named_as_es_expects() -> None:
    assert sorted(SEARCHES) == sorted(RULES)
    for name, keys in SEARCHES.items():
        assert name.endswith(" - Rule") and len(name) <= 99, name
        assert keys["action.correlationsearch.label"] == name
        assert keys["action.escu.full_search_name"] == name


@pytest.mark.parametrize("rule", RULES)
def test_correlation_search_keys(rule: str) -> None:
    keys = SEARCHES[rule]
    expected = {
        "action.correlationsearch.enabled": "1",
        "action.correlationsearch.detection_type": "ebd",
        "action.risk": "1",
        "action.risk.param._risk_score": "0",
        "action.risk.param.verbose": "0",
        "action.notable": "1",
        "action.notable.param.security_domain": "endpoint",
        "action.notable.param.severity": "medium",
        "action.notable.param.nes_fields": "user,dest",
        "cron_schedule": "0 * * * *",
        "dispatch.earliest_time": "-70m@m",
        "dispatch.latest_time": "-10m@m",
        "schedule_window": "auto",
        "allow_skew": "100%",
        "realtime_schedule": "0",
        "enableSched": "1",
        "alert.digest_mode": "1",
        "counttype": "number of events",
        "relation": "greater than",
        "quantity": "0",
        "disabled": "1",
    }
    assert {k: keys.get(k) for k in expected} == expected
    for key in ("description", "action.escu.how_to_implement", "action.escu.known_false_positives",
                "action.notable.param.rule_title", "action.notable.param.rule_description"):
        assert len(keys[key]) > 40 or key.startswith("action.notable"), f"{rule}: {key} too thin"


@pytest.mark.parametrize("rule", RULES)
def test_annotations_and_metadata(rule: str) -> None:
    annotations = json.loads(SEARCHES[rule]["action.correlationsearch.annotations"])
    assert annotations["mitre_attack"] == ["T1047"]
    assert annotations["kill_chain_phases"] == ["Installation"]
    assert annotations["nist"] == ["DE.CM"]
    assert annotations["cis20"] == ["CIS 10"]
    assert annotations["analytic_story"] == ["Suspicious WMI Use"]
    metadata = json.loads(SEARCHES[rule]["action.correlationsearch.metadata"])
    assert set(metadata) == {"deprecated", "detection_id", "detection_version", "publish_time"}
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", metadata["detection_id"])
    assert isinstance(metadata["publish_time"], int)
    main_id = json.loads(SEARCHES[MAIN_RULE]["action.correlationsearch.metadata"])["detection_id"]
    assert main_id == "24869767-8579-485d-9a4f-d9ddfd8f0cac"


@pytest.mark.parametrize("rule", RULES)
def test_risk_objects_and_score_agree_with_the_command(rule: str) -> None:
    keys = SEARCHES[rule]
    risk = json.loads(keys["action.risk.param._risk"])
    args = rbascore_args(rule)
    annotations = json.loads(keys["action.correlationsearch.annotations"])
    impact, confidence = int(args["impact"]), int(args["confidence"])
    assert (impact, confidence) == (annotations["impact"], annotations["confidence"])
    score = impact * confidence // 100
    objects = {(r["risk_object_field"], r["risk_object_type"], r["risk_score"]) for r in risk if "risk_object_field" in r}
    assert objects == {("dest", "system", score), ("user", "user", score)}
    assert score == 49
    assert keys["action.risk.param._risk_message"] == args["message"]


@pytest.mark.parametrize("rule", RULES)
def test_every_token_is_a_field_the_search_outputs(rule: str) -> None:
    keys = SEARCHES[rule]
    fields = output_fields(expand(keys["search"], MACROS))
    assert fields is not None, f"{rule}: output fields unknown (end raw searches with table)"
    assert {"risk_score", "risk_message", "dest", "user", "parent_process_name", "process_name"} <= fields
    texts = {k: v for k, v in keys.items() if k.startswith(("action.risk.param._risk_message", "action.notable.param"))}
    texts["rbascore message"] = rbascore_args(rule)["message"]
    for drill in json.loads(keys["action.notable.param.drilldown_searches"]):
        assert set(drill) == {"name", "search", "earliest_offset", "latest_offset"}
        texts[f"drilldown {drill['name']}"] = json.dumps(drill)
    for where, text in texts.items():
        missing = tokens(text) - fields - ES_TOKENS
        assert not missing, f"{rule}: {where} uses ${'$, $'.join(sorted(missing))}$ which the search never outputs"
    for field in {r.get("risk_object_field") or r.get("threat_object_field")
                  for r in json.loads(keys["action.risk.param._risk"])}:
        assert field in fields, f"{rule}: risk object field {field} not in results"


def test_token_check_catches_the_escu_v4_message_bug() -> None:
    """ESCU v4 grouped without parent_process_name, so its message token rendered empty."""
    v4 = SEARCHES[MAIN_RULE]["search"].replace("Processes.parent_process_name Processes.parent_process ",
                                               "Processes.parent_process ")
    assert v4 != SEARCHES[MAIN_RULE]["search"]
    assert "parent_process_name" not in output_fields(expand(v4, MACROS))


@pytest.mark.parametrize("rule", RULES)
def test_searches_and_drilldowns_use_only_defined_macros(rule: str) -> None:
    keys = SEARCHES[rule]
    used: set[str] = set()
    expand(keys["search"], MACROS, used)
    for drill in json.loads(keys["action.notable.param.drilldown_searches"]):
        expand(drill["search"], MACROS, used)
    assert "drop_dm_object_name" in used or rule == SYSMON_RULE
    assert used <= set(MACROS)


def test_undefined_macro_or_wrong_arity_is_caught() -> None:
    with pytest.raises(KeyError, match="no_such_macro"):
        expand("| `no_such_macro`", MACROS)
    with pytest.raises(AssertionError, match="security_content_ctime"):
        expand("| `security_content_ctime(a, b)`", MACROS)


def test_main_rule_is_escu_v4_with_parent_process_name_grouped() -> None:
    stages = split_pipeline(expand(SEARCHES[MAIN_RULE]["search"], MACROS))
    tstats = stages[0]
    assert tstats.startswith("tstats summariesonly=false allow_old_summaries=true fillnull_value=null count")
    assert "from datamodel=Endpoint.Processes where Processes.parent_process_name=WmiPrvSE.exe" in tstats
    by = tstats.split(" by ", 1)[1].split()
    assert by == ["Processes.dest", "Processes.user", "Processes.parent_process_name", "Processes.parent_process",
                  "Processes.process_name", "Processes.process", "Processes.process_id",
                  "Processes.parent_process_id"]
    assert stages[1:] == ["rename Processes.* AS *",
                          'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime)',
                          'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(lastTime)',
                          "search *", stages[-1]]


def test_sysmon_variant_is_the_sigma_logic() -> None:
    first = split_pipeline(expand(SEARCHES[SYSMON_RULE]["search"], MACROS))[0]
    assert 'source="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"' in first
    assert 'EventCode=1 ParentImage="*\\\\WmiPrvSE.exe" NOT (LogonId="0x3e7" OR User="NT AUTHORITY\\\\SYSTEM")' in first
    assert "SYSTEM" in SEARCHES[SYSMON_RULE]["description"] and "persistence" in SEARCHES[SYSMON_RULE]["description"]
