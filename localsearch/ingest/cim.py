"""CIM Endpoint.Processes mapping of the registered event sources (sources.py), compiled to SQL (pure).

Each source's mapping (CIM field -> Spec over raw Windows field names) becomes one `CASE WHEN <source> THEN
<expr>` arm per CIM field; rows that are no source's process creation get NULL. Missing values stay NULL.
Hex ids (Hex specs): raw fields keep their text; the CIM value is `0x` + lower-case hex digits without
leading zeros (`0x00000000000003E7` -> `0x3e7`, the form Windows itself renders), so renderers that zero-pad
compare equal. Raw hex fields such as LogonId are not rewritten: a search compares them as text, as Splunk
does. Channel names are compared case-insensitively (OTRF files spell `security`).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

from ..sqltext import sql_literal
from .sources import (CIM_FIELDS, PROCESS_FIELDS, SOURCES, Coalesce, CommandLineProcess, Const, Dataset, EventSource, FileName, Hex,
                      Lookup, Raw, Spec, Unless, raw_fields_used)

__all__ = ["PROCESS_FIELDS", "EVENT_ALIASES", "RAW_FIELDS_USED", "Mapping", "hex_norm_sql", "file_name_sql",
           "time_sql"]

# CIM fields the add-ons add to the process-creation events themselves (events table).
EVENT_ALIASES: List[str] = list(CIM_FIELDS)

# Raw fields the mapping reads (Splunk names after the System-field aliases of `system_sql`).
RAW_FIELDS_USED: List[str] = raw_fields_used()

Resolver = Callable[[str], Optional[str]]   # raw field name -> SQL expression, None when no input has it


def hex_norm_sql(x: str) -> str:
    """SQL: `0x`-hex text -> `0x` + lower-case digits without leading zeros; other text unchanged."""
    return (f"CASE WHEN regexp_full_match({x}, '0[xX][0-9a-fA-F]+') "
            f"THEN '0x' || coalesce(nullif(ltrim(lower(substr({x}, 3)), '0'), ''), '0') ELSE {x} END")


def file_name_sql(x: str) -> str:
    """SQL: the file name of a Windows path (text after the last backslash or slash)."""
    return f"nullif(regexp_extract({x}, '[^\\\\/]*$'), '')"


# PCRE's \s (Splunk's regex library): space, \t \n \v \f \r; RE2's \s lacks \v, so the class is spelled out
_WS = "[\\t\\n\\v\\f\\r ]"


def command_line_process_sql(cmd: str, path: str) -> str:
    """The Windows add-on's 4688 `process` (sources.CommandLineProcess): first word `^"[^"]+"`, else the first
    run of non-space; the arguments after it and its spaces, up to the first LF (`.`)."""
    c, p = cmd, path
    nonspace = f"[^{_WS[1:-1]}]"
    quoted = f"regexp_matches({c}, '^\"[^\"]+\"')"
    word = (f"CASE WHEN {quoted} THEN regexp_extract({c}, '^(\"[^\"]+\")', 1) "
            f"ELSE regexp_extract({c}, '({nonspace}+)', 1) END")
    args = (f"CASE WHEN {quoted} THEN regexp_extract({c}, '^\"[^\"]+\"{_WS}*(.*)', 1) "
            f"ELSE regexp_extract({c}, '{nonspace}+{_WS}*(.*)', 1) END")
    built = f"(CASE WHEN regexp_matches({p}, '{_WS}') THEN '\"' || {p} || '\"' ELSE {p} END) || ' ' || ({args})"
    return (f"(CASE WHEN {c} IS NULL OR NOT regexp_matches({c}, '{nonspace}') THEN {p} "
            f"WHEN strpos({word}, '\\') > 0 THEN {c} "
            f"WHEN ({args}) = '' OR strpos({c}, chr(10)) > 0 OR strpos({c}, chr(13)) > 0 THEN {c} "
            f"ELSE coalesce({built}, {p}) END)")


def time_sql(x: str) -> str:
    """SQL: ISO-8601 / `YYYY-MM-DD hh:mm:ss.fff` text -> epoch seconds. A `+hh:mm`/`-hhmm` offset is applied;
    without one (or with `Z`) the time is UTC, whatever the session's time zone. 7-digit fractions are cut to
    6. Unreadable text, or a year outside 1..9999, gives NULL."""
    fixed = f"regexp_replace(regexp_replace({x}, '[Zz]$', ''), '(\\.[0-9]{{6}})[0-9]+', '\\1')"
    t = (f"CASE WHEN regexp_matches({fixed}, '[T ][0-9:.]+[+-][0-9]{{2}}:?[0-9]{{2}}$') "
         f"THEN epoch(try_cast({fixed} AS TIMESTAMPTZ)) ELSE epoch(try_cast({fixed} AS TIMESTAMP)) END")
    # years 0001..9999 only (ISO-8601's four digits; year 0 or 10000 is no time Python can render): else NULL
    return f"CASE WHEN regexp_matches({x}, '^[0-9]{{4}}-') AND NOT starts_with({x}, '0000') THEN {t} END"


def zoned_time_sql(x: str) -> str:
    """SQL: like time_sql, but only for text that carries a zone (`Z` or an offset); NULL otherwise (a local
    time without a zone, such as NXLog's EventTime, is not an instant)."""
    return f"CASE WHEN regexp_matches({x}, '([Zz]|[+-][0-9]{{2}}:?[0-9]{{2}})$') THEN {time_sql(x)} END"


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

    def is_source(self, src: EventSource) -> str:
        return (f"({self.event_code()} = {sql_literal(src.event_code)} AND "
                f"lower({self.raw('Channel')}) = {sql_literal(src.channel.lower())})")

    def is_process(self) -> str:
        return "(" + " OR ".join(self.is_source(s) for s in SOURCES) + ")"

    def time(self) -> str:
        """SystemTime (EVTX, XML), else @timestamp (OTRF: the export time; Winlogbeat: the event time), else
        Sysmon's UtcTime, else NXLog's EventTime where it has a zone."""
        return (f"coalesce({time_sql(self.raw('SystemTime'))}, {time_sql(self.raw('@timestamp'))}, "
                f"{time_sql(self.raw('UtcTime'))}, {zoned_time_sql(self.raw('EventTime'))})")

    def source(self) -> str:
        ch = self.raw("Channel")
        arms = " ".join(f"WHEN {sql_literal(s.channel.lower())} THEN {sql_literal(s.channel)}"
                        for s in {s.channel.lower(): s for s in SOURCES}.values())
        return f"'XmlWinEventLog:' || CASE lower({ch}) {arms} ELSE {ch} END"

    def defaults(self) -> Dict[str, str]:
        """Splunk default fields of every event."""
        return {
            "_time": self.time(),
            "host": self.computer(),
            "source": self.source(),
            "sourcetype": "'XmlWinEventLog'",
            "index": "'main'",
        }

    def spec(self, sp: Spec) -> str:
        """SQL for one mapping spec (sources.py)."""
        if isinstance(sp, Raw):
            return self.computer() if sp.name == "Computer" else self.raw(sp.name)
        if isinstance(sp, FileName):
            return file_name_sql(self.raw(sp.name))
        if isinstance(sp, Hex):
            return hex_norm_sql(self.raw(sp.name))
        if isinstance(sp, Const):
            return sql_literal(sp.value)
        if isinstance(sp, Unless):
            x = self.raw(sp.name)
            empties = ", ".join(sql_literal(e) for e in sp.empty)
            return f"CASE WHEN {x} IS NULL OR {x} IN ({empties}) THEN {self.spec(sp.fallback)} ELSE {x} END"
        if isinstance(sp, Lookup):
            x = self.raw(sp.name)
            arms = " ".join(f"WHEN {sql_literal(k.lower())} THEN {sql_literal(v)}" for k, v in sp.table)
            return f"CASE lower({x}) {arms} ELSE {x} END"
        if isinstance(sp, Coalesce):
            return f"coalesce({', '.join(self.spec(i) for i in sp.items)})"
        if isinstance(sp, CommandLineProcess):
            return command_line_process_sql(self.raw(sp.command_line), self.raw(sp.path))
        raise TypeError(f"not a mapping spec: {sp!r}")

    def cim(self) -> Dict[str, str]:
        """CIM Endpoint.Processes field -> SQL expression, NULL on rows that are not process creations."""
        conds = {s.name: self.is_source(s) for s in SOURCES}
        out = {}
        for name in CIM_FIELDS:
            arms = [f"WHEN {conds[s.name]} THEN {self.spec(s.cim[name])}" for s in SOURCES if name in s.cim]
            out[name] = f"CAST(CASE {' '.join(arms)} END AS VARCHAR)" if arms else "CAST(NULL AS VARCHAR)"
        return out

    def is_dataset(self, ds: Dataset) -> str:
        """SQL: the row is an event of one of the dataset's sources."""
        return "(" + " OR ".join(self.is_source(s) for s in ds.sources) + ")"

    def dataset(self, ds: Dataset) -> Dict[str, str]:
        """A dataset's field -> SQL expression (NULL where no source maps the field)."""
        out = {}
        for name in ds.fields:
            arms = [f"WHEN {self.is_source(s)} THEN {self.spec(s.cim[name])}" for s in ds.sources if name in s.cim]
            out[name] = f"CAST(CASE {' '.join(arms)} END AS VARCHAR)" if arms else "CAST(NULL AS VARCHAR)"
        return out
