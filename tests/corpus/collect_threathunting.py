"""The allowlist macros of olafhartong/ThreatHunting (MIT), for collect.py.

Every published version of the app's default/macros.conf: the `*_whitelist` macros, in the three forms the
app has used (`lookup ... output reason | where isnull(reason)`, `... | search reason=NONE`, and
`search NOT [| inputlookup <file>.csv | fields ...]`). Their lookups: the transforms.conf settings of the
newest version that defines each, and a CSV header made of the fields the macros name (the app does not
publish the CSV files; the runs use them empty). A file read both through its stanza and by name gets one
header: the fields of both kinds of macro.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

REPO = "olafhartong/ThreatHunting"
LICENSE = "MIT"
MACROS = "default/macros.conf"
TRANSFORMS = "default/transforms.conf"
LOOKUP_CALL = re.compile(r"^lookup\s+(\S+)\s+(.*?)\s+output\s+(\S+)", re.IGNORECASE)
INPUTLOOKUP = re.compile(r"inputlookup\s+(\S+\.csv)\s*\|\s*fields\s+([^\]]+)\]")


def items(gitdir: Path, git, cat_files, conf_stanzas) -> Tuple[List[dict], List[dict]]:
    commits = git(gitdir, "log", "--all", "--reverse", "--format=%H", "--", MACROS).split()
    found, seen = [], set()
    fields: Dict[str, Set[str]] = {}
    for spec, text in cat_files(gitdir, [f"{c}:{MACROS}" for c in commits]):
        commit = spec.split(":", 1)[0]
        for name, definition in conf_stanzas(text):
            if not name.endswith("_whitelist"):
                continue
            spl = " ".join(definition.split())
            m, n = LOOKUP_CALL.match(spl), INPUTLOOKUP.search(spl)
            if m:
                fields.setdefault(m.group(1), set()).update(m.group(2).split() + [m.group(3)])
            elif n:
                fields.setdefault(n.group(1), set()).update(n.group(2).split())
            else:
                continue
            if spl in seen:
                continue
            seen.add(spl)
            found.append({"kind": "tuning", "spl": spl, "origin": "allowlist macro definition",
                          "source_repo": REPO, "commit": commit, "path": MACROS, "license": LICENSE,
                          "name": name})
    return found, lookups(gitdir, git, cat_files, conf_stanzas_all, fields)


def conf_stanzas_all(text: str) -> Dict[str, Dict[str, str]]:
    out: Dict[str, Dict[str, str]] = {}
    stanza = None
    for line in text.splitlines():
        m = re.match(r"^\[(.+)\]\s*$", line)
        if m:
            stanza = m.group(1)
            out[stanza] = {}
        elif stanza and "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[stanza][key.strip()] = value.strip()
    return out


def lookups(gitdir: Path, git, cat_files, parse, fields: Dict[str, Set[str]]) -> List[dict]:
    commits = git(gitdir, "log", "--all", "--format=%H", "--", TRANSFORMS).split()     # newest first
    settings: Dict[str, Tuple[str, Dict[str, str]]] = {}
    for spec, text in cat_files(gitdir, [f"{c}:{TRANSFORMS}" for c in commits]):
        for name, st in parse(text).items():
            if name in fields and name not in settings:
                settings[name] = (spec.split(":", 1)[0], st)
    # one CSV file serves both its transforms.conf stanza (`lookup <stanza> ... output reason`) and
    # `inputlookup <file>.csv`: its header is every field that any macro reading that file names
    def file_of(name: str) -> str:
        return settings[name][1].get("filename", name) if name in settings else name
    by_file: Dict[str, Set[str]] = {}
    for name, names in fields.items():
        by_file.setdefault(file_of(name), set()).update(names)
    out = []
    for name in sorted(fields):
        entry = {"kind": "lookup", "name": name, "source_repo": REPO, "license": LICENSE,
                 "header": ",".join(sorted(by_file[file_of(name)])),
                 "header_from": "the fields the allowlist macros reading this CSV name (the CSV is not published)"}
        if name in settings:
            commit, st = settings[name]
            keep = ("filename", "match_type", "min_matches", "default_match", "case_sensitive_match",
                    "max_matches")
            entry.update(commit=commit, path=TRANSFORMS, settings={k: v for k, v in st.items() if k in keep})
        elif name.endswith(".csv"):
            entry.update(commit=git(gitdir, "rev-parse", "HEAD").strip(), path=MACROS, settings={"file": name})
        else:
            continue
        out.append(entry)
    return out
