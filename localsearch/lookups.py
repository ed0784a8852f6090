"""Reading lookups for the local runner: the transforms.conf stanza's settings and the CSV rows (I/O)."""
from __future__ import annotations

import csv
import re

from . import confine
from .conf import AppConfs
from .spl.commands import LookupTable
from .spl.errors import SplError, Unsupported


def read_lookup(confs: AppConfs, name: str, pos: int) -> LookupTable:
    """The lookup `name`: a transforms.conf stanza (default/ or local/) or a .csv file in the app's lookups/."""
    transforms = confs.conf("transforms")
    lookups_dir = confs.app_dir / "lookups"
    if transforms.has_stanza(name):
        st = name
        for key in ("external_type", "collection", "external_cmd"):
            if transforms.get(st, key):
                raise Unsupported(f"lookup {name}: {key} lookups (only CSV files)", pos)
        if transforms.get(st, "time_field"):
            raise Unsupported(f"lookup {name}: time-based lookups (time_field)", pos)
        filename = transforms.get(st, "filename")
        if not filename:
            raise SplError(f"lookup {name}: no filename in {transforms.where(st)}", pos)
        match_type = transforms.get(st, "match_type") or ""
        ci = (transforms.get(st, "case_sensitive_match") or "true").strip().lower() in \
            ("0", "false", "f", "no", "n")
        max_matches = _conf_int(transforms, st, "max_matches", 100, pos)
        if _conf_int(transforms, st, "min_matches", 0, pos) > 0:
            raise Unsupported(f"lookup {name}: min_matches/default_match", pos)
        where = transforms.where(st)
    elif name.endswith(".csv"):
        filename, match_type, ci, max_matches, where = name, "", False, 100, "in the search"
    else:
        raise SplError(f"lookup {name} is not defined in transforms.conf (default/ or local/) "
                       f"and is not a .csv file", pos)
    wildcard = set()
    for m in re.finditer(r"(\w+)\s*\(([^)]*)\)", match_type):
        kind, fld = m.group(1).upper(), m.group(2).strip()
        if kind == "WILDCARD":
            wildcard.add(fld)
        elif kind != "EXACT":
            raise Unsupported(f"lookup {name}: match_type {kind}", pos)
    if not 1 <= max_matches <= 1000:
        raise SplError(f"lookup {name}: max_matches must be 1-1000 ({where})", pos)
    try:
        path = confine.lookup_file(lookups_dir, filename, where)
    except confine.OutsideApp as exc:
        raise SplError(f"lookup {name}: {exc}", pos) from None
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = [r for r in reader if any(cell != "" for cell in r)]
    except OSError as exc:
        raise SplError(f"lookup {name}: cannot read {path}: {exc.strerror or exc}", pos) from exc
    if not header:
        raise SplError(f"lookup {name}: {path} has no header row", pos)
    return LookupTable(str(path), header, rows, wildcard, ci, max_matches)


def _conf_int(conf, stanza: str, key: str, default: int, pos: int) -> int:
    text = (conf.get(stanza, key) or "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise SplError(f"{key} = {text} in {conf.where(stanza)} is not a whole number", pos) from None
