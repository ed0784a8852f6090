"""CIM Endpoint.Processes mapping of Sysmon Event ID 1 and Security 4688, as SQL expressions (pure).

What the Splunk add-ons do at search time (Sysmon add-on for EID 1, Windows add-on for 4688):

| CIM field | Sysmon 1 | Security 4688 |
|---|---|---|
| dest | Computer | Computer |
| user | User | TargetUserName, or SubjectUserName when the target is `-`/empty |
| process | CommandLine | CommandLine, or NewProcessName when there is no command line |
| process_name, process_exec | file name of Image | file name of NewProcessName |
| process_path | Image | NewProcessName |
| process_id | ProcessId (decimal) | NewProcessId (hex, normalised: see below) |
| process_guid | ProcessGuid | - |
| parent_process | ParentCommandLine | ParentProcessName (a path) |
| parent_process_name, parent_process_exec | file name of ParentImage | file name of ParentProcessName |
| parent_process_path | ParentImage | ParentProcessName |
| parent_process_id | ParentProcessId | ProcessId (creator, hex, normalised) |
| parent_process_guid | ParentProcessGuid | - |
| process_integrity_level | IntegrityLevel | - |
| process_hash | Hashes | - |
| process_current_directory | CurrentDirectory | - |
| original_file_name | OriginalFileName | - |
| user_id | UserID (System/Security: the Sysmon service SID) | - |
| action | `allowed` | `allowed` |
| vendor_product | `Microsoft Sysmon` | `Microsoft Windows` |

Missing values stay NULL. Hex ids: raw fields keep their text; the CIM process_id/parent_process_id of 4688
are written as `0x` + lower-case hex digits without leading zeros (`0x00000000000003E7` -> `0x3e7`, the form
Windows itself renders), so renderers that zero-pad compare equal. Raw hex fields such as LogonId are not
rewritten: a search compares them as text, as Splunk does.
Channel names are compared case-insensitively (OTRF files spell `security`).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

from ..sqltext import sql_literal

SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"
SECURITY_CHANNEL = "security"

# CIM Endpoint.Processes columns (besides _time) in table order.
PROCESS_FIELDS: List[str] = [
    "dest", "user", "process", "process_name", "process_exec", "process_path", "process_id",
    "process_guid", "parent_process", "parent_process_name", "parent_process_exec", "parent_process_path",
    "parent_process_id", "parent_process_guid", "process_integrity_level", "process_hash",
    "process_current_directory", "original_file_name", "user_id", "action", "vendor_product",
    "host", "source", "sourcetype",
]
# CIM fields the add-ons add to the process-creation events themselves (events table).
EVENT_ALIASES: List[str] = [f for f in PROCESS_FIELDS if f not in ("host", "source", "sourcetype")]

# Raw fields the mapping reads (Splunk names after the System-field aliases of `system_sql`).
RAW_FIELDS_USED: List[str] = [
    "Computer", "Hostname", "EventID", "EventCode", "Channel", "User", "CommandLine", "Image", "ProcessId",
    "ProcessGuid", "ParentCommandLine", "ParentImage", "ParentProcessId", "ParentProcessGuid",
    "IntegrityLevel", "Hashes", "CurrentDirectory", "OriginalFileName", "UserID", "TargetUserName",
    "SubjectUserName", "NewProcessName", "NewProcessId", "ParentProcessName",
    "SystemTime", "@timestamp", "UtcTime",
]

Resolver = Callable[[str], Optional[str]]   # raw field name -> SQL expression, None when no input has it


def hex_norm_sql(x: str) -> str:
    """SQL: `0x`-hex text -> `0x` + lower-case digits without leading zeros; other text unchanged."""
    return (f"CASE WHEN regexp_full_match({x}, '0[xX][0-9a-fA-F]+') "
            f"THEN '0x' || coalesce(nullif(ltrim(lower(substr({x}, 3)), '0'), ''), '0') ELSE {x} END")


def file_name_sql(x: str) -> str:
    """SQL: the file name of a Windows path (text after the last backslash or slash)."""
    return f"nullif(regexp_extract({x}, '[^\\\\/]*$'), '')"


def time_sql(x: str) -> str:
    """SQL: ISO-8601 / `YYYY-MM-DD hh:mm:ss.fff` text -> epoch seconds. A `+hh:mm`/`-hhmm` offset is applied;
    without one (or with `Z`) the time is UTC, whatever the session's time zone. 7-digit fractions are cut to
    6. Unreadable text, or a year outside 1..9999, gives NULL."""
    fixed = f"regexp_replace(regexp_replace({x}, '[Zz]$', ''), '(\\.[0-9]{{6}})[0-9]+', '\\1')"
    t = (f"CASE WHEN regexp_matches({fixed}, '[T ][0-9:.]+[+-][0-9]{{2}}:?[0-9]{{2}}$') "
         f"THEN epoch(try_cast({fixed} AS TIMESTAMPTZ)) ELSE epoch(try_cast({fixed} AS TIMESTAMP)) END")
    # years 0001..9999 only (ISO-8601's four digits; year 0 or 10000 is no time Python can render): else NULL
    return f"CASE WHEN regexp_matches({x}, '^[0-9]{{4}}-') AND NOT starts_with({x}, '0000') THEN {t} END"


class Mapping:
    """SQL expressions over raw columns, given a resolver from raw field name to SQL expression."""

    def __init__(self, col: Resolver) -> None:
        self._col = col

    def raw(self, name: str) -> str:
        e = self._col(name)
        return e if e is not None else "CAST(NULL AS VARCHAR)"

    # System fields under their Splunk XmlWinEventLog names (OTRF: Hostname, RecordNumber).
    def computer(self) -> str:
        return f"coalesce({self.raw('Computer')}, {self.raw('Hostname')})"

    def event_code(self) -> str:
        return f"coalesce({self.raw('EventCode')}, {self.raw('EventID')})"

    def is_sysmon1(self) -> str:
        return f"({self.event_code()} = '1' AND lower({self.raw('Channel')}) = {sql_literal(SYSMON_CHANNEL)})"

    def is_4688(self) -> str:
        return f"({self.event_code()} = '4688' AND lower({self.raw('Channel')}) = {sql_literal(SECURITY_CHANNEL)})"

    def is_process(self) -> str:
        return f"({self.is_sysmon1()} OR {self.is_4688()})"

    def time(self) -> str:
        return (f"coalesce({time_sql(self.raw('SystemTime'))}, {time_sql(self.raw('@timestamp'))}, "
                f"{time_sql(self.raw('UtcTime'))})")

    def source(self) -> str:
        ch = self.raw("Channel")
        canon = (f"CASE lower({ch}) WHEN {sql_literal(SECURITY_CHANNEL)} THEN 'Security' "
                 f"WHEN {sql_literal(SYSMON_CHANNEL)} THEN 'Microsoft-Windows-Sysmon/Operational' ELSE {ch} END")
        return f"'XmlWinEventLog:' || {canon}"

    def defaults(self) -> Dict[str, str]:
        """Splunk default fields of every event."""
        return {
            "_time": self.time(),
            "host": self.computer(),
            "source": self.source(),
            "sourcetype": "'XmlWinEventLog'",
            "index": "'main'",
        }

    def cim(self) -> Dict[str, str]:
        """CIM Endpoint.Processes field -> SQL expression, NULL on rows that are not process creations."""
        s1, s4 = self.is_sysmon1(), self.is_4688()
        r = self.raw
        tun = r("TargetUserName")
        u4688 = f"CASE WHEN {tun} IS NULL OR {tun} IN ('-', '') THEN {r('SubjectUserName')} ELSE {tun} END"
        cl = r("CommandLine")
        p4688 = f"CASE WHEN {cl} IS NULL OR {cl} = '' THEN {r('NewProcessName')} ELSE {cl} END"

        def both(sysmon: Optional[str], sec: Optional[str]) -> str:
            parts = []
            if sysmon is not None:
                parts.append(f"WHEN {s1} THEN {sysmon}")
            if sec is not None:
                parts.append(f"WHEN {s4} THEN {sec}")
            return f"CAST(CASE {' '.join(parts)} END AS VARCHAR)"

        return {
            "dest": both(self.computer(), self.computer()),
            "user": both(r("User"), u4688),
            "process": both(cl, p4688),
            "process_name": both(file_name_sql(r("Image")), file_name_sql(r("NewProcessName"))),
            "process_exec": both(file_name_sql(r("Image")), file_name_sql(r("NewProcessName"))),
            "process_path": both(r("Image"), r("NewProcessName")),
            "process_id": both(r("ProcessId"), hex_norm_sql(r("NewProcessId"))),
            "process_guid": both(r("ProcessGuid"), None),
            "parent_process": both(r("ParentCommandLine"), r("ParentProcessName")),
            "parent_process_name": both(file_name_sql(r("ParentImage")), file_name_sql(r("ParentProcessName"))),
            "parent_process_exec": both(file_name_sql(r("ParentImage")), file_name_sql(r("ParentProcessName"))),
            "parent_process_path": both(r("ParentImage"), r("ParentProcessName")),
            "parent_process_id": both(r("ParentProcessId"), hex_norm_sql(r("ProcessId"))),
            "parent_process_guid": both(r("ParentProcessGuid"), None),
            "process_integrity_level": both(r("IntegrityLevel"), None),
            "process_hash": both(r("Hashes"), None),
            "process_current_directory": both(r("CurrentDirectory"), None),
            "original_file_name": both(r("OriginalFileName"), None),
            "user_id": both(r("UserID"), None),
            "action": both("'allowed'", "'allowed'"),
            "vendor_product": both("'Microsoft Sysmon'", "'Microsoft Windows'"),
        }
