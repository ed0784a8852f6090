"""Classic (non-XML) WinEventLog text, read as Splunk and the Splunk Add-on for Microsoft Windows read it (pure).

The text (sourcetype `WinEventLog`, source `WinEventLog:<LogName>`): a first line with the forwarder's local
time (`04/26/2021 08:25:37 AM`), `key=value` header lines (`LogName=`, `EventCode=`, `ComputerName=`,
`Keywords=`, ...), then `Message=` and the rendered message, whose body lines read `<indent>Label:<tab>value`.

Search-time fields, as Splunk Enterprise's own configuration defines them for `[source::WinEventLog...]`
(etc/system/default/props.conf `REPORT-MESSAGE = wel-message, wel-eq-kv, wel-col-kv`, `KV_MODE=none`; the
add-on repeats the list as `REPORT-0MESSAGE`; the transforms are the same in Splunk 6.2.6 and 8.2.7, copy at
https://github.com/vikas4cloud/splunkfwd8.2.7/blob/ac2322d9766ae85a5a0ba44af95287d89eb1a5fb/etc/system/default/transforms.conf):
- wel-message: `(?sm)^(?<_pre_msg>.+)\\nMessage=(?<Message>.+)$` (the header is everything before the last
  line that starts with `Message=`);
- wel-eq-kv: `_pre_msg` split by DELIMS `"\\n","="`, MV_ADD;
- wel-col-kv: `\\n([^:\\n\\r]+):[ \\t]++([^\\n]*)` over `Message`, MV_ADD (so the first message line, and
  lines whose colon is followed by the line end, give no field);
- transforms.conf.spec (https://docs.splunk.com/Documentation/Splunk/latest/Admin/Transformsconf): keys are
  cleaned (CLEAN_KEYS: every character outside a-z, A-Z, 0-9 becomes `_`, leading `_` and digits are
  stripped: `\\tNew Process Name` -> `New_Process_Name`), empty values are dropped (KEEP_EMPTY_VALS), MV_ADD
  appends a repeated field's values in order (here newline-joined, as the runner keeps every multivalue).
- Events of a raw export are split where Splunk's own `LINE_BREAKER` for that source splits them: before a
  line that starts with the timestamp (`\\d{2}/\\d{2}/\\d{2,4} \\d{2}:\\d{2}:\\d{2} [aApPmM]{2}`).

The add-on's rules (Splunk_TA_windows default/props.conf and transforms.conf, the same for 4688 in 8.1.2 and
8.4.0: https://github.com/PMJeffery/splunk4windows/blob/f64aacd160f970b887207431fd52b644abee4aa0/Splunk_TA_windows/default/props.conf,
https://github.com/JohnnyMirza/confluent_splunk_demo/blob/d3a9bc0dd117cc191dad5b3bf3d3cb9e2c282ffd/Splunk_TA_windows/default/props.conf;
Splunk's SPL2 module generated from them, https://splunk.github.io/splunk-add-on-for-microsoft-windows/SPL2/FieldExtractions/index_wineventlog_field_extractions/,
of which only the opening could be read):
- source `WinEventLog:<LogName>` (ta-windows-fix-classic-source `(?m)^LogName=(.+?)\\s*$`), sourcetype
  `WinEventLog` (ta-windows-fix-sourcetype keeps the part before the first `:`);
- the eventtype that puts 4688 in Endpoint.Processes covers both forms (eventtypes.conf `windows_process_new`:
  `eventtype=wineventlog_security (EventCode=4688 ...)`, `wineventlog_security`: `source=WinEventLog:Security OR
  ... OR source=XmlWinEventLog:Security`);
- Security 4688 (sources.SECURITY_4688.classic names each field): dest from ComputerName
  (ComputerName_as_dest `(?:[\\\\]+)?([^-].*)`), process_id from EXTRACT-process_id_for_windows_security
  `(?s)Process Information:.*?Process ID:\\s+(?<process_id>\\S+).*?(?:(?:\\r*\\n){2})`, user from the last
  Account Name (Account_Name_as_user `(?:(?:[^\\n]*)\\n)?([^\\n]*)`), or the first (Account_Name_as_src_user)
  when that is `-` (EVAL-user), action `allowed` for `Keywords=Audit Success` (EVAL-action).

The CIM mapping then is sources.SECURITY_4688's, over the XmlWinEventLog field names restored from these
(as layouts.py restores them from ECS documents), so a classic 4688 gives the CIM values its XML form gives.
What these rules do not settle is refused per record (`unsupported in local runs: ...`), see `_refuse`.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

from .sources import DATASETS, SOURCES, EventSource

Fields = Dict[str, List[str]]
UNSUPPORTED = "unsupported in local runs: "
# hidden keys: Splunk default fields a record gives itself (an export's own; the add-on's source and sourcetype
# of classic text), which win over what the runner would derive (fieldnames.with_export_defaults)
OVERRIDE = "_ls_default."

EVENT_START = re.compile(r"\d{2}/\d{2}/\d{2,4} \d{2}:\d{2}:\d{2} [aApPmM]{2}")
WEL_MESSAGE = re.compile(r"(?sm)^(?P<pre>.+)\nMessage=(?P<msg>.+)$")
WEL_COL_KV = re.compile(r"\n([^:\n\r]+):[ \t]++([^\n]*)")
CLASSIC_SOURCE = re.compile(r"(?m)^LogName=(.+?)\s*$")
COMPUTER_AS_DEST = re.compile(r"(?:[\\]+)?([^-].*)")
PROCESS_ID_4688 = re.compile(r"(?s)Process Information:.*?Process ID:\s+(?P<process_id>\S+).*?(?:(?:\r*\n){2})")
ACCOUNT_NAME_AS_USER = re.compile(r"(?:(?:[^\n]*)\n)?([^\n]*)")
ACCOUNT_NAME_AS_SRC_USER = re.compile(r"(?!^-$)([^\n]+)\n")
SID = re.compile(r"S-1-\d+(?:-\d+)*")
# Fields the add-on's REPORT-user_for_windows_security / REPORT-src_user_for_windows_security read before
# Account_Name (the first transform that extracts `user` wins: MV_ADD is false): never in a 4688 message.
USER_BEFORE_ACCOUNT_NAME = ("Logon_Account", "Logon_account", "Target_User_Name", "Primary_User_Name",
                            "Target_Account_Name", "New_Account_Name", "Caller_User_Name", "Client_User_Name",
                            "Target_Server_Name")
# Header values read by the mapping and the add-on's action rule (their lines must hold one `=`).
HEADER_USED = ("LogName", "EventCode", "ComputerName", "Keywords")


def starts_event(line: str) -> bool:
    """Splunk's line breaker for classic WinEventLog: a new event starts at a line opening with its time."""
    return EVENT_START.match(line) is not None


def clean_key(key: str) -> str:
    """transforms.conf CLEAN_KEYS: non-alphanumerics -> `_`, leading `_` and digits stripped."""
    return re.sub(r"^[_0-9]+", "", re.sub(r"[^A-Za-z0-9]", "_", key))


class Extracted:
    """The search-time fields of one classic event, and the header keys whose lines DELIMS splits in a way
    not verified here (more than one `=`)."""

    def __init__(self, fields: Fields, unclear: List[str]) -> None:
        self.fields = fields
        self.unclear = unclear

    def one(self, name: str) -> Optional[str]:
        vs = self.fields.get(name)
        if vs is None:
            return None
        if len(vs) > 1:
            raise ValueError(f"{UNSUPPORTED}classic WinEventLog field {name} given {len(vs)} times")
        return vs[0]


def extract(raw: str) -> Extracted:
    """wel-message, wel-eq-kv, wel-col-kv. ValueError for text that is not a classic event."""
    first = raw.split("\n", 1)[0].rstrip("\r")
    if not EVENT_START.fullmatch(first):
        raise ValueError(f"not classic WinEventLog text: first line {first[:60]!r} is not its time stamp "
                         "(MM/DD/YYYY hh:mm:ss AM)")
    m = WEL_MESSAGE.search(raw)
    if m is None:
        raise ValueError("classic WinEventLog text without a `Message=` line (Splunk extracts no field from it)")
    fields: Fields = {}
    unclear: List[str] = []

    def add(key: str, value: str) -> None:
        key = clean_key(key)
        if key and value != "":
            fields.setdefault(key, []).append(value)

    for pair in m.group("pre").split("\n"):
        if "=" not in pair:
            continue
        key, value = pair.split("=", 1)
        if "=" in value:
            unclear.append(clean_key(key))
            continue
        add(key, value)
    fields.setdefault("Message", []).append(m.group("msg"))
    for km in WEL_COL_KV.finditer(m.group("msg")):
        add(km.group(1), km.group(2))
    return Extracted(fields, unclear)


def _registered(channel: str) -> List[EventSource]:
    every = SOURCES + tuple(s for d in DATASETS for s in d.sources)
    return [s for s in every if s.channel.lower() == channel.lower()]


def event_from_text(raw: str) -> Dict[str, str]:
    """One classic event's `_raw` -> the flat event: its search-time fields (multivalue newline-joined), the
    System fields under their XmlWinEventLog names (Channel, Computer), the add-on's source and sourcetype,
    and for a registered source the raw fields its mapping reads. ValueError with the reason for a record
    not read."""
    ex = extract(raw)
    for name in HEADER_USED:
        if name in ex.unclear:
            raise ValueError(f"{UNSUPPORTED}classic WinEventLog header line {name}= holding another `=`")
    for name, vs in ex.fields.items():
        if name != "Message" and any("\r" in v for v in vs):
            raise ValueError(f"{UNSUPPORTED}classic WinEventLog text with a carriage return in {name} (CR LF "
                             "line ends: wel-eq-kv and wel-col-kv keep the CR in the value; whether Splunk trims "
                             "it was not verified)")
    flat = {k: "\n".join(vs) for k, vs in ex.fields.items()}
    channel = ex.one("LogName")
    code = ex.one("EventCode")
    if channel is not None:
        flat["Channel"] = channel
        src = CLASSIC_SOURCE.search(raw)
        if src is not None:
            flat[OVERRIDE + "source"] = "WinEventLog:" + src.group(1)
    flat[OVERRIDE + "sourcetype"] = "WinEventLog"
    computer = ex.one("ComputerName")
    if computer is not None:
        flat["Computer"] = computer
    registered = _registered(channel) if channel is not None else []
    source = next((s for s in registered if s.event_code == code), None)
    if registered and not any(s.classic for s in registered):
        raise ValueError(f"{UNSUPPORTED}classic (non-XML) WinEventLog text of {channel} events: the Splunk "
                         "add-on's rules for that rendering could not be verified (use XmlWinEventLog)")
    if source is not None and source.classic:
        flat.update(_restore(source, ex, raw))
    elif "New_Process_Name" in flat:     # a process creation the registry would not map: never silently
        raise ValueError(f"{UNSUPPORTED}classic WinEventLog record with a New Process Name line that is not a "
                         f"Security 4688 (LogName={channel}, EventCode={code})")
    return flat


def _refuse(what: str) -> ValueError:
    return ValueError(f"{UNSUPPORTED}classic WinEventLog 4688 {what}")


def _restore(source: EventSource, ex: Extracted, raw: str) -> Dict[str, str]:
    """The XmlWinEventLog fields source.cim reads, from the classic fields the add-on reads in their place;
    refused where the add-on's rules would give another value than that mapping or were not verified."""
    f = ex.fields
    for name in USER_BEFORE_ACCOUNT_NAME:
        if name in f:
            raise _refuse(f"with a {name} field (the add-on would read user from it)")
    if ex.one("Keywords") != "Audit Success":
        raise _refuse(f"with Keywords={ex.one('Keywords')} (the add-on's action for it is not verified)")
    computer = ex.one("ComputerName")
    dest = COMPUTER_AS_DEST.search(computer) if computer is not None else None
    if dest is None or dest.group(1) != computer:
        raise _refuse(f"with ComputerName={computer} (ComputerName_as_dest would not give it as it is)")
    names = f.get("Account_Name", [])
    sids = f.get("Security_ID", [])
    if not 1 <= len(names) <= 2 or len(sids) != len(names):
        raise _refuse(f"with {len(names)} Account Name and {len(sids)} Security ID lines (the add-on's user "
                      "rule is verified for one Subject or a Creator and a Target Subject)")
    if any("," in n for n in names):
        raise _refuse("Account Name holding a comma (the add-on's Special_Account_Name_as_user rule)")
    if names == ["-"]:
        raise _refuse("with the only Account Name `-` (the add-on gives no user)")
    bad = [s for s in sids + f.get("Mandatory_Label", []) if not SID.fullmatch(s)]
    if bad:
        raise _refuse(f"with a resolved account or label name ({bad[0]}) where the XML form has a SID")
    out: Dict[str, str] = {}
    for raw_name, spec in source.classic.items():
        section, _, name = spec.rpartition(":")
        values = f.get(name)
        if not values:
            continue
        if section == "subject":
            out[raw_name] = values[0]
        elif section == "target":
            if len(values) == 2:
                out[raw_name] = values[1]
        else:
            value = ex.one(name)
            if value is not None:
                out[raw_name] = value
    if "NewProcessName" not in out:
        raise _refuse("without a `New Process Name` line (the add-on reads the English message labels)")
    _check_user(names, out)
    pid = PROCESS_ID_4688.search(raw)
    if pid is not None:
        out["NewProcessId"] = pid.group("process_id")
    return out


def _check_user(names: List[str], out: Dict[str, str]) -> None:
    """The add-on's user (Account_Name_as_user, else Account_Name_as_src_user when `-` or missing) must be
    what SECURITY_4688.cim gives from the restored fields (TargetUserName unless `-`, else SubjectUserName)."""
    joined = "\n".join(names)
    m = ACCOUNT_NAME_AS_USER.search(joined)
    user = m.group(1) if m is not None and m.group(1) != "" else None
    if user is None or user == "-":
        s = ACCOUNT_NAME_AS_SRC_USER.search(joined)
        user = s.group(1) if s is not None else None
    target = out.get("TargetUserName")
    mapped = target if target not in (None, "-", "") else out.get("SubjectUserName")
    if user != mapped:
        raise _refuse(f"whose add-on user ({user}) differs from the XML form's ({mapped})")
