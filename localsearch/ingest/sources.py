"""The event sources the runner maps to CIM Endpoint.Processes, and to the other CIM Endpoint datasets it loads
(DATASETS: Filesystem, Registry), as data (pure). Adding a source touches only here.

Each EventSource names what identifies its events (channel, event code), its Splunk source and sourcetype,
the CIM Endpoint.Processes mapping (CIM field -> a Spec over raw Windows field names, as the Splunk add-on
does it at search time), and how to get its raw fields back from an ECS document whose `winlog.event_data`
lost them to an Elastic module (`ecs`: raw field -> ECS path). cim.py compiles the mappings to SQL; scan.py
selects process-creation records by their event codes; flatten.py reads `ecs`.

The mappings follow REFERENCE section 6 (Splunk Add-on for Sysmon for Event ID 1, Splunk Add-on for Microsoft
Windows for 4688) and ESCU's Endpoint.Processes field set. Beyond it:
- 4688 process_integrity_level: none (the Windows add-on maps none), and user_id only as the add-on's generic
  alias does, from System/Security@UserID (empty in Security events): both null, as in Splunk.
- process_exec / parent_process_exec: the file name, as for process_name (REFERENCE section 6).
- Fields a source does not carry (4688: GUIDs, hashes, original file name, current directory) stay NULL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple, Union


# ---- mapping specs (compiled to SQL by cim.py) ------------------------------------------------------------
@dataclass(frozen=True)
class Raw:
    """The raw field's value."""
    name: str


@dataclass(frozen=True)
class FileName:
    """The file name of a Windows path (after the last backslash or slash)."""
    name: str


@dataclass(frozen=True)
class Hex:
    """A `0x` hex id as `0x` + lower-case digits without leading zeros (renderers that zero-pad compare equal)."""
    name: str


@dataclass(frozen=True)
class Const:
    value: str


@dataclass(frozen=True)
class Unless:
    """`name`, or `fallback` when `name` is missing or one of `empty` (e.g. 4688's `-` target user)."""
    name: str
    empty: Tuple[str, ...]
    fallback: "Spec"


@dataclass(frozen=True)
class Lookup:
    """The raw value translated by a table (compared case-insensitively); values not in it stay as they are."""
    name: str
    table: Tuple[Tuple[str, str], ...]


@dataclass(frozen=True)
class Coalesce:
    items: Tuple["Spec", ...]


@dataclass(frozen=True)
class CommandLineProcess:
    r"""Security 4688 `process` as the Splunk Add-on for Microsoft Windows builds it (props.conf
    [source::XmlWinEventLog:Security], the same for 4688 in 8.1.2 and 8.4.0):
        EVAL-process = ... EventCode==4688, coalesce(if(match(process_command_line_process,"(\\\)"),
            Process_Command_Line, (if(match(NewProcessName,"\s"), "\"" + NewProcessName + "\"", NewProcessName))
            + " " + process_command_line_arguments), NewProcessName) ...
    transforms.conf [process_command_line_process_and_arguments]: REGEX = (^\"[^\"]+\"|[^\s]+)\s*(.*) over
    Process_Command_Line. So: no command line (or no word in it) -> the path; a first word holding a backslash ->
    the command line as it is; else the path (quoted when it holds a space) + " " + the arguments. Kept as the
    command line (not verifiable): empty arguments, and a line break in a command line whose first word has no
    backslash (README "CIM mapping")."""
    command_line: str
    path: str


Spec = Union[Raw, FileName, Hex, Const, Unless, Lookup, Coalesce, CommandLineProcess]


def raw_names(spec: Spec) -> List[str]:
    """Raw field names a spec reads."""
    if isinstance(spec, (Raw, FileName, Hex, Lookup)):
        return [spec.name]
    if isinstance(spec, Unless):
        return [spec.name] + raw_names(spec.fallback)
    if isinstance(spec, Coalesce):
        return [n for s in spec.items for n in raw_names(s)]
    if isinstance(spec, CommandLineProcess):
        return [spec.command_line, spec.path]
    return []


# ---- sources -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventSource:
    name: str
    channel: str              # System/Channel, compared case-insensitively (OTRF spells `security`)
    event_code: str
    source: str               # Splunk `source` of the add-on's input
    sourcetype: str
    cim: Mapping[str, Spec]
    # raw fields every event of the source carries: a record of the source without them comes from a layout
    # the runner reads only in part (a shipper renamed or moved them)
    required: Tuple[str, ...] = ()
    # raw Windows field -> ECS field path (dotted) an Elastic module moves it to; a `hex:`, `user:` or
    # `hashes:` prefix names the conversion back (layouts.ecs_value)
    ecs: Mapping[str, str] = field(default_factory=dict)
    # classic (non-XML) WinEventLog text: raw Windows field -> the search-time field the Splunk add-on reads
    # in its place from the classic message body; a `subject:`/`target:` prefix takes that section's value
    # of a field both sections carry (wineventlog_text.py). Empty: the source's classic text is not read.
    classic: Mapping[str, str] = field(default_factory=dict)


SYSMON_1 = EventSource(
    name="Sysmon Event ID 1",
    channel="Microsoft-Windows-Sysmon/Operational", event_code="1",
    source="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", sourcetype="XmlWinEventLog",
    cim={
        "dest": Raw("Computer"), "user": Raw("User"), "process": Raw("CommandLine"),
        "process_name": FileName("Image"), "process_exec": FileName("Image"), "process_path": Raw("Image"),
        "process_id": Raw("ProcessId"), "process_guid": Raw("ProcessGuid"),
        "parent_process": Raw("ParentCommandLine"), "parent_process_name": FileName("ParentImage"),
        "parent_process_exec": FileName("ParentImage"), "parent_process_path": Raw("ParentImage"),
        "parent_process_id": Raw("ParentProcessId"), "parent_process_guid": Raw("ParentProcessGuid"),
        "process_integrity_level": Raw("IntegrityLevel"), "process_hash": Raw("Hashes"),
        "process_current_directory": Raw("CurrentDirectory"), "original_file_name": Raw("OriginalFileName"),
        "user_id": Raw("UserID"), "action": Const("allowed"), "vendor_product": Const("Microsoft Sysmon"),
    },
    required=("Image",),
    # elastic/beats x-pack/winlogbeat/module/sysmon/config/winlogbeat-sysmon.js, event1 (mode: rename)
    ecs={
        "Image": "process.executable", "CommandLine": "process.command_line", "ProcessId": "process.pid",
        "ProcessGuid": "process.entity_id", "CurrentDirectory": "process.working_directory",
        "OriginalFileName": "process.pe.original_file_name", "Hashes": "hashes:process.hash",
        "ParentImage": "process.parent.executable", "ParentCommandLine": "process.parent.command_line",
        "ParentProcessId": "process.parent.pid", "ParentProcessGuid": "process.parent.entity_id",
        "User": "user:user",
    },
)

SECURITY_4688 = EventSource(
    name="Security 4688",
    channel="Security", event_code="4688",
    source="XmlWinEventLog:Security", sourcetype="XmlWinEventLog",
    cim={
        "dest": Raw("Computer"),
        "user": Unless("TargetUserName", ("-", ""), Raw("SubjectUserName")),
        "process": CommandLineProcess("CommandLine", "NewProcessName"),
        "process_name": FileName("NewProcessName"), "process_exec": FileName("NewProcessName"),
        "process_path": Raw("NewProcessName"), "process_id": Hex("NewProcessId"),
        "parent_process": Raw("ParentProcessName"), "parent_process_name": FileName("ParentProcessName"),
        "parent_process_exec": FileName("ParentProcessName"), "parent_process_path": Raw("ParentProcessName"),
        "parent_process_id": Hex("ProcessId"),
        # Splunk_TA_windows (8.1.2, 8.4.0) maps no integrity level for 4688, and user_id only by its generic
        # XmlWinEventLog alias FIELDALIAS-user_id_for_windows = UserID AS user_id (System/Security@UserID, which
        # Security events leave empty): both null in Splunk, so null here (tstats then fills them as the
        # search's fillnull_value says)
        "user_id": Raw("UserID"),
        "action": Const("allowed"), "vendor_product": Const("Microsoft Windows"),
    },
    required=("NewProcessName",),
    # elastic/beats x-pack/winlogbeat/module/security/config/winlogbeat-security.js, renameNewProcessFields
    ecs={
        "NewProcessName": "process.executable", "NewProcessId": "hex:process.pid",
        "ParentProcessName": "process.parent.executable", "CommandLine": "process.command_line",
    },
    # Splunk Add-on for Microsoft Windows, props.conf [source::WinEventLog:Security] beside
    # [source::XmlWinEventLog:Security] (8.1.2 and 8.4.0): process_path New_Process_Name / NewProcessName,
    # parent_process Creator_Process_Name / ParentProcessName, parent_process_id Creator_Process_ID /
    # ProcessId, Process_Command_Line / CommandLine; `user` from the Target Subject's Account Name, else the
    # Creator Subject's (REPORT-user_for_windows_security, REPORT-src_user_for_windows_security and
    # EVAL-user); NewProcessId is the add-on's EXTRACT-process_id_for_windows_security (wineventlog_text.py).
    # Microsoft's event 4688 documentation names each message line's XML field.
    classic={
        "NewProcessName": "New_Process_Name", "CommandLine": "Process_Command_Line",
        "ParentProcessName": "Creator_Process_Name", "ProcessId": "Creator_Process_ID",
        "SubjectUserName": "subject:Account_Name", "TargetUserName": "target:Account_Name",
    },
)

SOURCES: Tuple[EventSource, ...] = (SYSMON_1, SECURITY_4688)


# ---- other CIM Endpoint datasets -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """A CIM Endpoint dataset besides Processes: `tstats ... from datamodel=<model>` reads `table`, one row per
    event of `sources`, with `fields` (besides _time and the Splunk default fields host, source, sourcetype)."""
    model: str                # e.g. Endpoint.Filesystem
    table: str
    fields: Tuple[str, ...]
    sources: Tuple[EventSource, ...]


# Sysmon Event ID 11 (FileCreate) as Endpoint.Filesystem: the field mapping ESCU declares for the Splunk Add-on
# for Sysmon (splunk/security_content data_sources/sysmon_eventid_11.yml, field_mappings: Computer -> dest,
# ProcessGuid -> process_guid, ProcessId -> process_id, TargetFilename -> file_path, the file name of
# TargetFilename -> file_name), and the add-on's vendor_product of every Sysmon event (REFERENCE section 6).
# Fields whose add-on value is not documented there (action, user, file_create_time, file_hash, ...) stay NULL.
SYSMON_11 = EventSource(
    name="Sysmon Event ID 11",
    channel="Microsoft-Windows-Sysmon/Operational", event_code="11",
    source="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", sourcetype="XmlWinEventLog",
    cim={
        "dest": Raw("Computer"), "process_guid": Raw("ProcessGuid"), "process_id": Raw("ProcessId"),
        "file_path": Raw("TargetFilename"), "file_name": FileName("TargetFilename"),
        "vendor_product": Const("Microsoft Sysmon"),
    },
    required=("TargetFilename",),
)

FILESYSTEM = Dataset(
    model="Endpoint.Filesystem", table="filesystem",
    fields=("dest", "file_name", "file_path", "process_guid", "process_id", "vendor_product"),
    sources=(SYSMON_11,),
)


def _sysmon_registry(code: str, extra: Mapping[str, Spec]) -> EventSource:
    return EventSource(
        name=f"Sysmon Event ID {code}",
        channel="Microsoft-Windows-Sysmon/Operational", event_code=code,
        source="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", sourcetype="XmlWinEventLog",
        cim={"dest": Raw("Computer"), "process_guid": Raw("ProcessGuid"), "process_id": Raw("ProcessId"),
             "registry_path": Raw("TargetObject"), "vendor_product": Const("Microsoft Sysmon"), **extra},
        required=("TargetObject",),
    )


# Sysmon Event IDs 12 (registry key/value create and delete) and 13 (value set) as Endpoint.Registry: the field
# mapping ESCU declares for the Splunk Add-on for Sysmon (security_content data_sources/sysmon_eventid_12.yml
# and sysmon_eventid_13.yml: Computer -> dest, ProcessGuid -> process_guid, ProcessId -> process_id,
# TargetObject -> registry_path; for 13 also Details -> registry_value_data). Event ID 14 (rename) has no
# declared mapping, so it is not mapped. registry_key_name, registry_value_name, registry_hive, action, user stay
# NULL: their add-on values are not documented in that mapping.
SYSMON_12 = _sysmon_registry("12", {})
SYSMON_13 = _sysmon_registry("13", {"registry_value_data": Raw("Details")})

REGISTRY = Dataset(
    model="Endpoint.Registry", table="registry",
    fields=("dest", "process_guid", "process_id", "registry_path", "registry_value_data", "vendor_product"),
    sources=(SYSMON_12, SYSMON_13),
)

DATASETS: Tuple[Dataset, ...] = (FILESYSTEM, REGISTRY)

# CIM Endpoint.Processes columns (besides _time) in table order: ESCU's Processes field set, then the
# Splunk default fields.
PROCESS_FIELDS: List[str] = [
    "dest", "user", "process", "process_name", "process_exec", "process_path", "process_id",
    "process_guid", "parent_process", "parent_process_name", "parent_process_exec", "parent_process_path",
    "parent_process_id", "parent_process_guid", "process_integrity_level", "process_hash",
    "process_current_directory", "original_file_name", "user_id", "action", "vendor_product",
    "host", "source", "sourcetype",
]
CIM_FIELDS: List[str] = [f for f in PROCESS_FIELDS if f not in ("host", "source", "sourcetype")]

# Raw field names every record may carry under the Splunk names the mapping reads (System fields and the
# time fields of every layout, see layouts.py).
SYSTEM_FIELDS = ("Computer", "Hostname", "EventID", "EventCode", "Channel")
TIME_FIELDS = ("SystemTime", "@timestamp", "UtcTime", "EventTime")


def raw_fields_used() -> List[str]:
    """Every raw field name the mapping reads, in a stable order."""
    names: Dict[str, None] = dict.fromkeys(SYSTEM_FIELDS)
    for s in SOURCES + tuple(src for d in DATASETS for src in d.sources):
        for spec in s.cim.values():
            names.update(dict.fromkeys(raw_names(spec)))
    names.update(dict.fromkeys(TIME_FIELDS))
    return list(names)


def event_codes() -> List[str]:
    """Event codes of the records a load collects: process creations and the other datasets' events."""
    return sorted({s.event_code for s in SOURCES} | {s.event_code for d in DATASETS for s in d.sources}, key=int)


def source_of(channel: Optional[str], code: Optional[str]) -> Optional[EventSource]:
    """The source of a record by its channel and event code (Python side; cim.py has the SQL twin)."""
    if channel is None or code is None:
        return None
    for s in SOURCES:
        if s.event_code == str(code) and s.channel.lower() == str(channel).lower():
            return s
    return None


def check() -> None:
    """Registry invariants (run by the tests): every source maps exactly the CIM fields."""
    for s in SOURCES:
        extra = set(s.cim) - set(CIM_FIELDS)
        if extra:
            raise ValueError(f"{s.name}: unknown CIM fields {sorted(extra)}")
        read = {n for spec in s.cim.values() for n in raw_names(spec)}
        unread = set(s.classic) - read
        if unread:
            raise ValueError(f"{s.name}: classic fields for raw fields its mapping does not read {sorted(unread)}")
    for d in DATASETS:
        for s in d.sources:
            extra = set(s.cim) - set(d.fields)
            if extra:
                raise ValueError(f"{s.name}: unknown {d.model} fields {sorted(extra)}")
