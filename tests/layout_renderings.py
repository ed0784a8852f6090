"""Renderings of OTRF (NXLog-through-Logstash) records in the JSON layouts other shippers write, for tests.

OTRF's flat records are NXLog `im_msvistalog` output (`SourceModuleType`, `EventTime`, `Hostname`,
`ExecutionProcessID`, ...) wrapped by Logstash (`@timestamp`, `@version`, `host`, `port`, `tags`); every other
key is an EventData field. Each function below re-renders one such record the way the named shipper writes the
same Windows event, from its documented output:

- `nxlog`: NXLog `to_json()` without the Logstash envelope (the five Logstash keys removed).
- `winlogbeat6`: Winlogbeat 6.x (`event_data`, `event_id`, `log_name`, `computer_name`, `record_number`,
  `source_name`, `provider_guid`, `process_id`, `thread_id`, `user.identifier`, `beat`, `type: wineventlog`).
- `winlogbeat8`: Winlogbeat 7+/8 without a module (`winlog.event_data` whole, `winlog.channel`,
  `winlog.event_id`, `winlog.computer_name`, `winlog.record_id`, `event.code`, `host.name`, `agent`, `ecs`).
- `ecs_module`: Winlogbeat 8 with its sysmon / security module, which *moves* fields out of
  `winlog.event_data` into ECS (elastic/beats x-pack/winlogbeat/module/sysmon/config/winlogbeat-sysmon.js,
  `event1`: UtcTime -> @timestamp, ProcessGuid -> process.entity_id, ProcessId -> process.pid (long), Image ->
  process.executable, CommandLine -> process.args/command_line, CurrentDirectory -> process.working_directory,
  ParentProcessGuid/ParentProcessId/ParentImage/ParentCommandLine -> process.parent.*, User -> user.domain +
  user.name, Hashes -> process.hash.*, OriginalFileName -> process.pe.original_file_name; module/security
  `renameNewProcessFields` for 4688: NewProcessId -> process.pid (long), NewProcessName -> process.executable,
  ParentProcessName -> process.parent.executable, CommandLine copied to process.command_line, Subject* copied
  to user.*). The result has the shape of the module's golden file
  x-pack/winlogbeat/module/sysmon/test/testdata/sysmon-12-processcreate.evtx.golden.json.
- `elastic_agent`: the same ECS document as Elastic Agent's Windows / System integrations ship it
  (`data_stream`, `elastic_agent`, `event.dataset`, `agent.type: filebeat`).

Time: Winlogbeat's `@timestamp` is the event time; OTRF's is the export time. The renderings keep OTRF's
`@timestamp` so that `_time` is the same as the original's, except where a module sets it from UtcTime (ecs
renderings of Sysmon 1) and NXLog, which has no `@timestamp` at all (Sysmon: UtcTime; other events: EventTime,
local time without a zone).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

LOGSTASH = ("@timestamp", "@version", "host", "port", "tags")
NXLOG = ("EventTime", "Hostname", "Keywords", "EventType", "SeverityValue", "Severity", "EventID", "SourceName",
         "ProviderGuid", "Version", "Task", "OpcodeValue", "RecordNumber", "ExecutionProcessID", "ThreadID",
         "Channel", "Domain", "AccountName", "UserID", "AccountType", "Message", "Category", "Opcode",
         "EventReceivedTime", "SourceModuleName", "SourceModuleType", "ActivityID", "RelatedActivityID")
SYSMON = "microsoft-windows-sysmon/operational"

Record = Dict[str, Any]


def _event_data(r: Record) -> Record:
    return {k: v for k, v in r.items() if k not in LOGSTASH and k not in NXLOG}


def nxlog(r: Record) -> Record:
    return {k: v for k, v in r.items() if k not in LOGSTASH}


def winlogbeat6(r: Record) -> Record:
    out: Record = {
        "@timestamp": r["@timestamp"], "beat": {"hostname": "wec", "name": "wec", "version": "6.8.23"},
        "computer_name": r["Hostname"], "event_data": {k: str(v) for k, v in _event_data(r).items()},
        "event_id": int(r["EventID"]), "level": "Information", "log_name": r["Channel"],
        "message": r.get("Message", ""), "opcode": r.get("Opcode", "Info"), "process_id": r.get("ExecutionProcessID"),
        "provider_guid": r.get("ProviderGuid"), "record_number": str(r["RecordNumber"]),
        "source_name": r["SourceName"], "task": r.get("Category", ""), "thread_id": r.get("ThreadID"),
        "type": "wineventlog", "version": r.get("Version"),
    }
    if r.get("UserID"):
        out["user"] = {"identifier": r["UserID"], "name": r.get("AccountName"), "domain": r.get("Domain"),
                       "type": r.get("AccountType")}
    return out


def _winlog(r: Record, event_data: Record) -> Record:
    w: Record = {
        "api": "wineventlog", "channel": r["Channel"], "computer_name": r["Hostname"], "event_data": event_data,
        "event_id": int(r["EventID"]), "opcode": r.get("Opcode", "Info"),
        "process": {"pid": r.get("ExecutionProcessID"), "thread": {"id": r.get("ThreadID")}},
        "provider_guid": r.get("ProviderGuid"), "provider_name": r["SourceName"], "record_id": r["RecordNumber"],
        "task": r.get("Category", ""), "version": r.get("Version"),
    }
    if r.get("UserID"):
        w["user"] = {"identifier": r["UserID"], "name": r.get("AccountName"), "domain": r.get("Domain"),
                     "type": r.get("AccountType")}
    return w


def winlogbeat8(r: Record) -> Record:
    return {
        "@timestamp": r["@timestamp"], "agent": {"type": "winlogbeat", "version": "8.11.0", "name": "wec"},
        "ecs": {"version": "8.0.0"}, "event": {"code": str(r["EventID"]), "kind": "event",
                                               "provider": r["SourceName"]},
        "host": {"name": r["Hostname"]}, "log": {"level": "information"}, "message": r.get("Message", ""),
        "winlog": _winlog(r, {k: str(v) for k, v in _event_data(r).items()}),
    }


def _hashes(text: str) -> Record:
    out = {}
    for part in text.split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.lower()] = v.lower()     # the module keeps lower-case hex
    return out


def ecs_module(r: Record) -> Record:
    doc = winlogbeat8(r)
    ed: Record = dict(doc["winlog"]["event_data"])
    eid, channel = int(r["EventID"]), str(r["Channel"]).lower()
    proc: Record = {}
    parent: Record = {}
    module = {SYSMON: "sysmon", "security": "security"}.get(channel)
    if module:                        # the module processes every event of its channel
        doc["event"]["module"] = module
    if eid == 1 and channel == SYSMON:
        if "UtcTime" in ed:
            doc["@timestamp"] = ed.pop("UtcTime").replace(" ", "T") + "Z"
        for key, target, field in (("ProcessGuid", proc, "entity_id"), ("Image", proc, "executable"),
                                   ("CurrentDirectory", proc, "working_directory"),
                                   ("ParentProcessGuid", parent, "entity_id"), ("ParentImage", parent, "executable")):
            if key in ed:
                target[field] = ed.pop(key)
        for key, target in (("ProcessId", proc), ("ParentProcessId", parent)):
            if key in ed:
                target["pid"] = int(ed.pop(key))
        for key, target in (("CommandLine", proc), ("ParentCommandLine", parent)):
            if key in ed:
                target["command_line"] = ed.pop(key)
                target["args"] = target["command_line"].split()
        if "OriginalFileName" in ed:
            proc["pe"] = {"original_file_name": ed.pop("OriginalFileName")}
        if "Hashes" in ed:
            proc["hash"] = _hashes(ed.pop("Hashes"))
        if "User" in ed:
            domain, _, name = ed.pop("User").rpartition("\\")
            doc["user"] = {"domain": domain, "name": name} if domain else {"name": name}
    elif eid == 4688 and channel == "security":
        if "NewProcessId" in ed:
            proc["pid"] = int(ed.pop("NewProcessId"), 16)
        if "NewProcessName" in ed:
            proc["executable"] = ed.pop("NewProcessName")
        if "ParentProcessName" in ed:
            parent["executable"] = ed.pop("ParentProcessName")
        if "CommandLine" in ed:
            proc["command_line"] = ed["CommandLine"]
        doc["user"] = {"name": ed.get("SubjectUserName"), "domain": ed.get("SubjectDomainName"),
                       "id": ed.get("SubjectUserSid")}
    if proc or parent:
        if "executable" in proc:
            proc["name"] = proc["executable"].replace("/", "\\").rsplit("\\", 1)[-1]
        if parent:
            if "executable" in parent:
                parent["name"] = parent["executable"].replace("/", "\\").rsplit("\\", 1)[-1]
            proc["parent"] = parent
        doc["process"] = proc
    doc["winlog"]["event_data"] = ed
    return doc


def elastic_agent(r: Record) -> Record:
    doc = ecs_module(r)
    sysmon = str(r["Channel"]).lower() == SYSMON
    dataset = "windows.sysmon_operational" if sysmon else "system.security"
    doc["agent"] = {"type": "filebeat", "version": "8.11.0", "name": "wec"}
    doc["data_stream"] = {"type": "logs", "dataset": dataset, "namespace": "default"}
    doc["elastic_agent"] = {"id": "00000000-0000-0000-0000-000000000000", "version": "8.11.0", "snapshot": False}
    doc["event"]["dataset"] = dataset
    doc["event"].pop("module", None)
    return doc


RENDERINGS: Dict[str, Callable[[Record], Record]] = {
    "nxlog": nxlog, "winlogbeat6": winlogbeat6, "winlogbeat8": winlogbeat8, "ecs_module": ecs_module,
    "elastic_agent": elastic_agent,
}


def records(path: Path) -> Iterator[Record]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def render_file(src: Path, dst: Path, layout: str) -> Path:
    """Write `src` (OTRF JSON lines) to `dst` in `layout`, one JSON object per line."""
    fn = RENDERINGS[layout]
    with open(dst, "w", encoding="utf-8") as out:
        for r in records(src):
            out.write(json.dumps(fn(r), ensure_ascii=False) + "\n")
    return dst
