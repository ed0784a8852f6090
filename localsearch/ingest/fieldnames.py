"""Splunk field names the ingest layer computes rather than reads from the raw line, shared by the `events`
view and the data-model tables."""
from __future__ import annotations

from typing import Callable, Dict, Optional

from . import splunk_export
from .cim import EVENT_ALIASES

# Raw fields named like Splunk default fields are renamed extracted_<name>.
DEFAULT_FIELDS = ("host", "source", "sourcetype", "index", "_time", "_raw", "linecount", "splunk_server")
# Names the ingest layer adds to every event (Splunk System-field names; coalesced with OTRF names).
SYSTEM_ALIASES = {"Computer": "Hostname", "EventCode": "EventID", "EventRecordID": "RecordNumber"}
# Field names the `events` view computes rather than reads from the raw line (besides `extracted_<name>`,
# raw fields renamed): what a prefilter must not take as raw text.
DERIVED_FIELDS = tuple(dict.fromkeys(list(DEFAULT_FIELDS) + list(SYSTEM_ALIASES) + EVENT_ALIASES))
HIDDEN = "_ls_"                  # keys of staged records that are not event fields (splunk_export.OVERRIDE)


def with_export_defaults(defaults: Dict[str, str], col: Callable[[str], Optional[str]]) -> Dict[str, str]:
    """Splunk default fields, taken from an export's own values where it gave them (splunk_export.py)."""
    out = dict(defaults)
    for name in splunk_export.DEFAULTS:
        e = col(splunk_export.OVERRIDE + name)
        if e is not None and name in out:
            given = f"try_cast({e} AS DOUBLE)" if name == "_time" else e
            out[name] = f"coalesce({given}, {out[name]})"
    return out
