"""Renderings of the shared datasets written at test time (never committed): Splunk exports and archives.

How each is made:
- Events: an EVTX record as the XmlWinEventLog `_raw` Splunk indexes (one line, `<Event xmlns=...>` with no
  whitespace between elements, GUIDs in braces as Windows renders them), made from the `evtx` package's XML
  rendering; an OTRF record as its JSON line (Splunk indexes JSON events as they are), with the source and
  sourcetype the runner gives the original (`XmlWinEventLog:<channel>`), so the raw-event search selects it.
- Splunk's CSV export (Splunk Web "Export" / `outputcsv`): header `_raw,_time,host,index,linecount,source,
  sourcetype,splunk_server` plus extracted fields (here EventCode, a search-time field the runner must not
  need), every cell quoted, `_time` as Splunk Web writes it (ISO-8601 with milliseconds and offset).
- Splunk's JSON export: one `{"preview":false,"offset":N,"result":{...}}` per line, every value a string (a
  multivalue field a list of strings), `_time` as Splunk Web writes it; the last line has `"lastrow":true`.
- Splunk's raw export: each event's `_raw`, one per line.
- Archives: gzip of one file, zip and tar.gz of a folder of files (members under a sub-folder).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
ET.register_namespace("", NS)
CHANNELS = {"security": "Security", "microsoft-windows-sysmon/operational": "Microsoft-Windows-Sysmon/Operational"}


def _braces(el: ET.Element) -> None:
    for e in el.iter():
        if e.text is not None:
            e.text = "{" + e.text + "}" if GUID.fullmatch(e.text) else (e.text if e.text.strip() else None)
        e.tail = None
        for k, v in e.attrib.items():
            if GUID.fullmatch(v):
                e.attrib[k] = "{" + v + "}"


def _iso(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, timezone.utc)
    return dt.isoformat(timespec="milliseconds")


def _time_of(text: str) -> float:
    t = text.rstrip("Z")
    t = re.sub(r"(\.\d{6})\d+", r"\1", t)
    return datetime.fromisoformat(t).replace(tzinfo=timezone.utc).timestamp()


def events(path: Path) -> Iterator[Dict[str, str]]:
    """Splunk's view of each event: _raw, _time (epoch), host, source, sourcetype, index, EventCode."""
    if path.suffix == ".evtx":
        from evtx import PyEvtxParser
        for rec in PyEvtxParser(str(path)).records():
            root = ET.fromstring(rec["data"].encode("utf-8"))
            _braces(root)
            raw = ET.tostring(root, encoding="unicode")
            sys_ = root.find(f"{{{NS}}}System")
            assert sys_ is not None
            channel = sys_.findtext(f"{{{NS}}}Channel") or ""
            tc = sys_.find(f"{{{NS}}}TimeCreated")
            yield {"_raw": raw, "_time": _time_of(tc.get("SystemTime")) if tc is not None else 0.0,
                   "host": sys_.findtext(f"{{{NS}}}Computer") or "", "source": f"XmlWinEventLog:{channel}",
                   "sourcetype": "XmlWinEventLog", "index": "wineventlog",
                   "EventCode": sys_.findtext(f"{{{NS}}}EventID") or ""}
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            channel = CHANNELS.get(str(d.get("Channel", "")).lower(), d.get("Channel", ""))
            yield {"_raw": line.rstrip("\n"), "_time": _time_of(d["@timestamp"]), "host": d.get("Hostname", ""),
                   "source": f"XmlWinEventLog:{channel}", "sourcetype": "XmlWinEventLog", "index": "otrf",
                   "EventCode": str(d.get("EventID", ""))}


def splunk_csv(src: Path, dst: Path) -> Path:
    cols = ["_raw", "_time", "host", "index", "linecount", "source", "sourcetype", "splunk_server", "EventCode"]
    with open(dst, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(cols)
        for e in events(src):
            w.writerow([e["_raw"], _iso(e["_time"]), e["host"], e["index"], "1", e["source"], e["sourcetype"],
                        "sh1", e["EventCode"]])
    return dst


def splunk_json(src: Path, dst: Path) -> Path:
    evs: List[Dict[str, str]] = list(events(src))
    with open(dst, "w", encoding="utf-8") as fh:
        for n, e in enumerate(evs):
            result = {"_raw": e["_raw"], "_time": _iso(e["_time"]), "host": e["host"], "index": e["index"],
                      "linecount": "1", "source": e["source"], "sourcetype": e["sourcetype"],
                      "splunk_server": "sh1", "EventCode": e["EventCode"], "tag": ["process", "report"]}
            obj = {"preview": False, "offset": n, **({"lastrow": True} if n == len(evs) - 1 else {}),
                   "result": result}
            fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
    return dst


def splunk_raw(src: Path, dst: Path) -> Path:
    with open(dst, "w", encoding="utf-8") as fh:
        for e in events(src):
            fh.write(e["_raw"] + "\n")
    return dst


def gz(src: Path, dst: Path) -> Path:
    with open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.write(fin.read())
    return dst


def zip_of(files: List[Path], dst: Path, folder: str = "data") -> Path:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f"{folder}/{f.name}")
        zf.writestr(f"{folder}/README.txt", "not event data\n")
    return dst


def tgz_of(files: List[Path], dst: Path, folder: str = "data") -> Path:
    with tarfile.open(dst, "w:gz") as tf:
        for f in files:
            tf.add(f, f"{folder}/{f.name}")
        info = tarfile.TarInfo(f"{folder}/README.txt")
        body = b"not event data\n"
        info.size = len(body)
        tf.addfile(info, io.BytesIO(body))
    return dst
