"""Reading lookups for the local runner: the transforms.conf stanza's settings and the CSV rows (I/O).

Every lookup file is opened by `read_lookup_file` (the one place where a file name becomes a path, through
the confinement check), for `lookup` and `inputlookup` alike.

Settings (Knowledge Manager Manual, "Add field matching rules to your lookup configuration"; transforms.conf
spec): `max_matches` 1-1000, default 100 (file order); `min_matches` default 0, and when fewer rows match,
`default_match` is output as often as needed to reach it; `case_sensitive_match` default true;
`match_type = WILDCARD(field)` / `CIDR(field)` / `EXACT(field)`.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import List, Tuple

from . import confine
from .conf import AppConfs
from .spl.commands import LookupTable
from .spl.errors import SplError, Unsupported

_FALSE = ("0", "false", "f", "no", "n")


def read_lookup(confs: AppConfs, name: str, pos: int) -> LookupTable:
    """The lookup `name`: a transforms.conf stanza (default/ or local/) or a .csv file in the app's lookups/."""
    transforms = confs.conf("transforms")
    min_matches, default_match = 0, ""
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
        ci = (transforms.get(st, "case_sensitive_match") or "true").strip().lower() in _FALSE
        max_matches = _conf_int(transforms, st, "max_matches", 100, pos)
        min_matches = _conf_int(transforms, st, "min_matches", 0, pos)
        default_match = transforms.get(st, "default_match") or ""
        where = transforms.where(st)
    elif name.endswith(".csv"):
        filename, match_type, ci, max_matches, where = name, "", False, 100, "in the search"
    else:
        raise SplError(f"lookup {name} is not defined in transforms.conf (default/ or local/) "
                       f"and is not a .csv file", pos)
    wildcard, cidr = set(), set()
    for m in re.finditer(r"(\w+)\s*\(([^)]*)\)", match_type):
        kind, fld = m.group(1).upper(), m.group(2).strip()
        if kind == "WILDCARD":
            wildcard.add(fld)
        elif kind == "CIDR":
            cidr.add(fld)
        elif kind != "EXACT":
            raise Unsupported(f"lookup {name}: match_type {kind}", pos)
    if not 1 <= max_matches <= 1000:
        raise SplError(f"lookup {name}: max_matches must be 1-1000 ({where})", pos)
    if min_matches < 0:
        raise SplError(f"lookup {name}: min_matches must not be negative ({where})", pos)
    path, header, rows = read_lookup_file(confs.app_dir / "lookups", filename, name, where, pos)
    return LookupTable(str(path), header, rows, wildcard, ci, max_matches, min_matches, default_match, cidr)


def read_lookup_file(lookups_dir: Path, filename: str, name: str, where: str,
                     pos: int) -> Tuple[Path, List[str], List[List[str]]]:
    """(path, header, rows) of the CSV file `filename` in the app's lookups/ (blank rows left out); a name
    that would leave lookups/ is refused (confine.py)."""
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
    except csv.Error as exc:
        raise SplError(f"lookup {name}: {path} is not a readable CSV file: {exc}", pos) from None
    if not header:
        raise SplError(f"lookup {name}: {path} has no header row", pos)
    return path, header, rows


def _conf_int(conf, stanza: str, key: str, default: int, pos: int) -> int:
    text = (conf.get(stanza, key) or "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise SplError(f"{key} = {text} in {conf.where(stanza)} is not a whole number", pos) from None
