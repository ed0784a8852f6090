"""Content tests of the shipped correlation searches: ES keys, identity, macros, tokens, RBA scoring.

Sources: REFERENCE-level facts are cited where used. ES risk action (SA-ThreatIntelligence `risk` modular action,
`RiskModularAction.dowork`): a result's own `risk_message` field is used before the configured `_risk_message`,
and both are token-expanded. contentctl 5.6.2 `detection_abstract.py`: the filter macro is the detection name
lowercased with " ", "-", ".", "/" replaced by "_", plus "_filter". contentctl-ng 1.1.1 (ESCU 6): one finding
entity in `action.notable.param._entities`, the others in `_risk` with a per-entry `risk_message`.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest

from app_files import MAIN_RULE, REPO_ROOT, SYSMON_RULE, read_conf
from spl_static import command_args, expand, macro_table, output_fields, split_pipeline, tokens

SEARCHES = read_conf("savedsearches.conf")
MACROS = macro_table(read_conf("macros.conf"))
RULES = [MAIN_RULE, SYSMON_RULE]
# Tokens ES fills itself in notable drilldowns, not from the search's results.
ES_TOKENS = {"info_min_time", "info_max_time"}
ESCU_ID = "24869767-8579-485d-9a4f-d9ddfd8f0cac"      # ESCU "Process Execution via WMI"
SIGMA_ID = "d21374ff-f574-44a7-9998-4a8c8bf33d7d"     # Sigma "Wmiprvse Spawning Process"
# Each search's own identity, fixed from 1.1.0 on, and its version with a digest of everything that makes up
# its logic and output. Change the logic -> this test fails: raise detection_version, then update the digest.
IDENTITY = {
    MAIN_RULE: ("d52bf1af-a26c-4ff2-8c44-d4c62b9b3da0", "5", "772eb2470f20c18f"),
    SYSMON_RULE: ("7354e183-53de-47cb-9798-11a9113cb7f4", "2", "f855d5054a22458c"),
}
LOGIC_KEYS = ("search", "action.risk.param._risk", "action.risk.param._risk_message", "action.notable.param._entities",
              "action.notable.param.rule_title", "action.notable.param.rule_description",
              "action.notable.param.drilldown_searches", "action.notable.param.severity")
# ESCU's full Endpoint.Processes field set (ESCU v8 by clause; contentctl's Sysmon EventID 1 output fields).
ESCU_PROCESS_FIELDS = ["action", "dest", "original_file_name", "parent_process", "parent_process_exec",
                       "parent_process_guid", "parent_process_id", "parent_process_name", "parent_process_path",
                       "process", "process_exec", "process_guid", "process_hash", "process_id",
                       "process_integrity_level", "process_name", "process_path", "user", "user_id",
                       "vendor_product"]
FILTER_MACROS = {MAIN_RULE: "process_execution_via_wmi_filter",
                 SYSMON_RULE: "process_execution_via_wmi_from_raw_sysmon_events_filter"}
# Fields whose values an attacker does not write as free text: the host and account names (also the notable's
# entities), the child's and parent's file names. The command lines (process, parent_process), paths and the
# rendered risk_message are kept out of every text ES expands.
NOTABLE_TOKENS = {"dest", "user", "process_name", "parent_process_name"}


def stages(rule: str) -> list[str]:
    return split_pipeline(expand(SEARCHES[rule]["search"], MACROS))


def rbascore_args(rule: str) -> dict[str, str]:
    found = [s for s in stages(rule) if s.startswith("rbascore ")]
    assert len(found) == 1, f"{rule}: exactly one rbascore stage"
    return command_args(found[0])


def contentctl_filter_macro(detection_name: str) -> str:
    """contentctl 5.6.2's rule (Detection.getDetectionMacros)."""
    for ch in " -./":
        detection_name = detection_name.replace(ch, "_")
    return detection_name.lower() + "_filter"


def test_only_correlation_searches_shipped_and_all_named_as_es_expects() -> None:
    assert sorted(SEARCHES) == sorted(RULES)
    for name, keys in SEARCHES.items():
        assert name.endswith(" - Rule") and len(name) <= 99, name
        assert keys["action.correlationsearch.label"] == name


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
    for key in ("description", "action.escu.how_to_implement", "action.escu.known_false_positives"):
        assert len(keys[key]) > 40, f"{rule}: {key} too thin"


def test_no_conf_value_holds_a_build_time_placeholder() -> None:
    """%name% placeholders (contentctl's %original_detection_search%, deployments' %description%) are filled in
    by a builder; ES never expands them. (strftime formats such as %Y-%m-%dT%H are not placeholders.)"""
    placeholder = re.compile(r"%[a-z][a-z_]+%")
    assert placeholder.search('"search": "%original_detection_search% | search dest = \\"$dest$\\""')
    assert not placeholder.search('convert timeformat="%Y-%m-%dT%H:%M:%S"')
    for path in sorted((REPO_ROOT / "default").glob("*.conf")):
        for stanza, keys in read_conf(path.name).items():
            for key, value in keys.items():
                assert not placeholder.search(value), f"{path.name} [{stanza}] {key}: {value[:120]}"


@pytest.mark.parametrize("rule", RULES)
def test_own_identity_with_the_escu_and_sigma_ids_as_references(rule: str) -> None:
    keys = SEARCHES[rule]
    metadata = json.loads(keys["action.correlationsearch.metadata"])
    assert set(metadata) == {"deprecated", "detection_id", "detection_version", "publish_time"}
    detection_id, version, _ = IDENTITY[rule]
    assert (metadata["detection_id"], metadata["detection_version"]) == (detection_id, version)
    assert uuid.UUID(detection_id).version == 4 and str(uuid.UUID(detection_id)) == detection_id
    assert detection_id not in (ESCU_ID, SIGMA_ID)
    assert isinstance(metadata["publish_time"], int) and metadata["deprecated"] == "0"
    derived = json.loads(keys["action.correlationsearch.annotations"])["derived_from"]
    references = {ESCU_ID} | ({SIGMA_ID} if rule == SYSMON_RULE else set())
    for ref in references:
        assert any(ref in d for d in derived), f"{rule}: {ref} not in derived_from"
        assert ref in keys["description"], f"{rule}: {ref} not named in the description"


def test_the_two_searches_have_distinct_ids() -> None:
    ids = {json.loads(SEARCHES[r]["action.correlationsearch.metadata"])["detection_id"] for r in RULES}
    assert len(ids) == 2


@pytest.mark.parametrize("rule", RULES)
def test_detection_version_moves_with_the_logic(rule: str) -> None:
    keys = SEARCHES[rule]
    digest = hashlib.sha256(json.dumps([keys[k] for k in LOGIC_KEYS]).encode()).hexdigest()[:16]
    assert digest == IDENTITY[rule][2], (
        f"{rule}: logic or output changed (digest {digest}): raise detection_version in savedsearches.conf "
        "and contentctl/, then update IDENTITY here")


@pytest.mark.parametrize("rule", RULES)
def test_annotations(rule: str) -> None:
    annotations = json.loads(SEARCHES[rule]["action.correlationsearch.annotations"])
    assert annotations["mitre_attack"] == ["T1047"]
    assert annotations["kill_chain_phases"] == ["Installation"]
    assert annotations["nist"] == ["DE.CM"]
    assert annotations["cis20"] == ["CIS 10"]
    assert annotations["analytic_story"] == ["Suspicious WMI Use"]
    # both builders write type_list (an ES UI re-save drops a single-valued type) and no confidence/impact
    assert annotations["type"] == "TTP" and annotations["type_list"] == ["TTP"]
    assert "confidence" not in annotations and "impact" not in annotations
    assert "Sysmon EventID 1" in annotations["data_source"]


@pytest.mark.parametrize("rule", RULES)
def test_risk_entities_and_score_agree_with_the_command(rule: str) -> None:
    keys = SEARCHES[rule]
    args = rbascore_args(rule)
    score = int(args["impact"]) * int(args["confidence"]) // 100
    assert score == 49
    risk = json.loads(keys["action.risk.param._risk"])
    entities = json.loads(keys["action.notable.param._entities"])
    # ES 8: the finding entity (user) in _entities, the intermediate entity (dest) in _risk, never both
    assert entities == [{"risk_object_field": "user", "risk_object_type": "user", "risk_score": score}]
    objects = [r for r in risk if "risk_object_field" in r]
    assert objects == [{"risk_object_field": "dest", "risk_object_type": "system", "risk_score": score,
                        "risk_message": args["message"]}]
    assert [r for r in risk if "threat_object_field" in r] == [
        {"threat_object_field": "process_name", "threat_object_type": "process_name"}]
    # ES 7 reads the top-level message; a result's risk_message (rbascore's) wins there
    assert keys["action.risk.param._risk_message"] == args["message"]


@pytest.mark.parametrize("rule", RULES)
def test_search_ends_with_rbascore_then_the_filter_macro(rule: str) -> None:
    raw = split_pipeline(SEARCHES[rule]["search"])
    assert raw[-1] == f"`{FILTER_MACROS[rule]}`"
    assert raw[-2].startswith("rbascore ")
    detection_name = rule.removeprefix("Endpoint - ").removesuffix(" - Rule")
    assert FILTER_MACROS[rule] == contentctl_filter_macro(detection_name)
    assert MACROS[FILTER_MACROS[rule]] == ([], "search *")


def test_filter_macro_rule_is_contentctls() -> None:
    assert contentctl_filter_macro("Process Execution via WMI") == "process_execution_via_wmi_filter"
    assert contentctl_filter_macro("A-b.c/d e") == "a_b_c_d_e_filter"


@pytest.mark.parametrize("rule", RULES)
def test_message_and_title_are_true_for_every_wmi_client(rule: str) -> None:
    keys = SEARCHES[rule]
    message = rbascore_args(rule)["message"]
    assert tokens(message) == {"parent_process_name", "process_name", "dest", "user"}
    for text in (message, keys["action.notable.param.rule_title"], keys["action.notable.param.rule_description"]):
        assert not re.search(r"wmic|remote|impacket|powershell|lateral", text, re.I), text
    assert tokens(keys["action.notable.param.rule_title"]) == {"process_name", "dest"}


@pytest.mark.parametrize("rule", RULES)
def test_notable_texts_carry_no_attacker_written_text_to_es_expansion(rule: str) -> None:
    keys = SEARCHES[rule]
    for key in ("action.notable.param.rule_title", "action.notable.param.rule_description"):
        used = tokens(keys[key])
        assert used <= NOTABLE_TOKENS, f"{rule}: {key} expands {sorted(used - NOTABLE_TOKENS)}"


@pytest.mark.parametrize("rule", RULES)
def test_every_token_is_a_field_the_search_outputs(rule: str) -> None:
    keys = SEARCHES[rule]
    fields = output_fields(expand(keys["search"], MACROS))
    assert fields is not None, f"{rule}: output fields unknown (end raw searches with table)"
    assert {"risk_score", "risk_message"} | set(ESCU_PROCESS_FIELDS) <= fields
    texts = {k: v for k, v in keys.items() if k.startswith(("action.risk.param._risk", "action.notable.param"))}
    texts["rbascore message"] = rbascore_args(rule)["message"]
    for drill in json.loads(keys["action.notable.param.drilldown_searches"]):
        assert set(drill) == {"name", "search", "earliest_offset", "latest_offset"}
        texts[f"drilldown {drill['name']}"] = json.dumps(drill)
    for where, text in texts.items():
        missing = tokens(text) - fields - ES_TOKENS
        assert not missing, f"{rule}: {where} uses ${'$, $'.join(sorted(missing))}$ which the search never outputs"
    entity_fields = {r.get("risk_object_field") or r.get("threat_object_field")
                     for r in json.loads(keys["action.risk.param._risk"])}
    entity_fields |= {e["risk_object_field"] for e in json.loads(keys["action.notable.param._entities"])}
    assert entity_fields <= fields


@pytest.mark.parametrize("rule", RULES)
def test_drilldown_tokens_are_quoted_with_the_s_filter(rule: str) -> None:
    """ES's own correlation searches write drilldown values as $field|s$ (e.g. `| search src=$src|s$`), the
    token filter that wraps the value in quotes and escapes quotes and backslashes."""
    for drill in json.loads(SEARCHES[rule]["action.notable.param.drilldown_searches"]):
        bare = re.findall(r"\$(\w+)\$", drill["search"])
        assert not bare, f"{rule}: unquoted token(s) {bare} in drilldown {drill['name']!r}"
        assert re.findall(r"\$(\w+)\|s\$", drill["search"]), drill["search"]


def test_token_check_catches_the_escu_v4_message_bug() -> None:
    """ESCU v4 grouped without parent_process_name, so its message token rendered empty."""
    v4 = SEARCHES[MAIN_RULE]["search"].replace("Processes.parent_process_name ", "")
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
    assert {FILTER_MACROS[rule], "security_content_ctime"} <= used
    assert used <= set(MACROS)


def test_undefined_macro_or_wrong_arity_is_caught() -> None:
    with pytest.raises(KeyError, match="no_such_macro"):
        expand("| `no_such_macro`", MACROS)
    with pytest.raises(AssertionError, match="security_content_ctime"):
        expand("| `security_content_ctime(a, b)`", MACROS)


def test_main_rule_groups_by_the_full_escu_processes_field_set() -> None:
    tstats, *rest = stages(MAIN_RULE)
    assert tstats.startswith("tstats summariesonly=false allow_old_summaries=true fillnull_value=null count")
    assert "from datamodel=Endpoint.Processes where Processes.parent_process_name=WmiPrvSE.exe" in tstats
    by = tstats.split(" by ", 1)[1].split()
    assert by == [f"Processes.{f}" for f in ESCU_PROCESS_FIELDS]
    assert rest[:3] == ["rename Processes.* AS *",
                        'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime)',
                        'convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(lastTime)']
    assert rest[3].startswith("rbascore ") and rest[4:] == ["search *"]


def test_sysmon_variant_is_the_sigma_logic_with_the_same_fields() -> None:
    first, table, *rest = stages(SYSMON_RULE)
    assert 'source="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"' in first
    assert 'EventCode=1 ParentImage="*\\\\WmiPrvSE.exe" NOT (LogonId="0x3e7" OR User="NT AUTHORITY\\\\SYSTEM")' in first
    assert table.split() == ["table", "_time"] + ESCU_PROCESS_FIELDS
    assert rest[0].startswith("rbascore ") and rest[1:] == ["search *"]
    assert "SYSTEM" in SEARCHES[SYSMON_RULE]["description"] and "persistence" in SEARCHES[SYSMON_RULE]["description"]
