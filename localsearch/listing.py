"""`localsearch list`: the saved searches, macros and lookups the runner sees, each with the conf file, line
and layer it comes from (`local` wins over `default` key by key, as in splunkd; `local+default` when both
define the stanza)."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

from .conf import AppConfs, LayeredConf
from .spl.macros import BUILTIN

# macros.conf: a stanza `name(N)` takes N arguments, named by its `args` setting
_MACRO = re.compile(r"^(?P<name>.+?)\((?P<n>\d+)\)$")


@dataclass
class Entry:
    kind: str            # savedsearch, macro, lookup
    name: str
    layer: str           # local, default or local+default
    where: str           # conf file and line of the stanza in its highest layer
    detail: str = ""     # macro arguments; lookup file or collection; saved search state


def _layers(conf: LayeredConf, stanza: str, local_dir: Path) -> str:
    names = []
    for layer in conf.layers:
        if stanza in layer.stanzas:
            names.append("local" if Path(layer.path).parent.resolve() == local_dir.resolve() else "default")
    return "+".join(names)


def _stanzas(conf: LayeredConf) -> List[str]:
    return [n for n in conf.stanza_names() if n != "default"]


def entries(confs: AppConfs) -> List[Entry]:
    out: List[Entry] = []
    saved = confs.conf("savedsearches")
    for name in _stanzas(saved):
        if saved.get(name, "search") is None:
            continue
        state = "disabled" if saved.get(name, "disabled", "0") in ("1", "true", "True") else "enabled"
        if saved.get(name, "action.correlationsearch.enabled") == "1":
            state += ", correlation search"
        out.append(Entry("savedsearch", name, _layers(saved, name, confs.local_dir), saved.where(name), state))
    macros = confs.conf("macros")
    for name in _stanzas(macros):
        m = _MACRO.match(name)
        args: Optional[str] = macros.get(name, "args")
        detail = ("arguments: " + (args if args else f"{m.group('n')} (unnamed)")) if m else "no arguments"
        out.append(Entry("macro", name, _layers(macros, name, confs.local_dir), macros.where(name), detail))
    for name, (params, _definition) in BUILTIN.items():
        if not macros.has_stanza(name):     # the runner's own copy of a macro Splunk_SA_CIM provides
            out.append(Entry("macro", name, "built-in", "Splunk_SA_CIM (built into the runner)",
                             "arguments: " + ",".join(params)))
    transforms = confs.conf("transforms")
    for name in _stanzas(transforms):
        stanza: Dict[str, str] = {k: s.value for k, s in transforms.stanza(name).items()}
        if "filename" in stanza:
            detail = f"file lookups/{stanza['filename']}"
        elif "collection" in stanza:
            detail = f"KV store collection {stanza['collection']}"
        elif "external_cmd" in stanza:
            detail = f"external command {stanza['external_cmd']}"
        else:
            continue        # not a lookup (e.g. a field extraction)
        out.append(Entry("lookup", name, _layers(transforms, name, confs.local_dir), transforms.where(name), detail))
    return out


def as_dicts(items: List[Entry]) -> List[Dict[str, str]]:
    return [asdict(e) for e in items]


def lines(items: List[Entry]) -> List[str]:
    """A plain table: kind, name, layer, where, detail."""
    if not items:
        return ["nothing defined"]
    rows = [("KIND", "NAME", "LAYER", "FILE", "DETAIL")] + [(e.kind, e.name, e.layer, e.where, e.detail)
                                                          for e in items]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
