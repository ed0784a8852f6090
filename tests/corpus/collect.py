"""Rebuild the corpus of published SPL in tests/corpus/ from git clones of its source repositories.

    python tests/corpus/collect.py --security-content GITDIR [--cyences GITDIR] [--threathunting GITDIR]

GITDIR is a git directory (a clone, bare or not) of splunk/security_content (Apache-2.0),
CrossRealms/Splunk-Cyences-App-for-Splunk (MIT) and olafhartong/ThreatHunting (MIT). The searches are read
at HEAD, tuning steps from every published version (git history); each item records the repository, the
commit and the path it came from. Items are split into a development set (tests/corpus/dev/) and a
held-out set (tests/corpus/heldout/) by the SHA-256 of the SPL text (split.py), so the split never
depends on the order of collection.

Kinds of items:
- search: an ESCU detection's `search:` over `datamodel=Endpoint.Processes`, as published.
- tuning: a step that removes known-benign results, run as the body of a filter macro:
  (a) the filtering stages ESCU detections apply after `drop_dm_object_name` (their published allowlist
      and tuning steps, e.g. `where match(process, "\\\\127\\.0\\.0\\.1\\.*")`), joined by ` | `;
  (b) non-trivial `*_filter` macro definitions ever published in ESCU's macros/;
  (c) non-trivial filter macro definitions of the Cyences app's default/macros.conf;
  (d) the allowlist macros of the ThreatHunting app (collect_threathunting.py).
- macro: an ESCU macro definition that the searches and tuning steps use (macros/*.yml).

PyYAML (pinned in requirements-dev.txt) reads ESCU's YAML; the corpus itself is JSON.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import collect_threathunting  # noqa: E402
from split import split_of  # noqa: E402

ESCU_REPO = "splunk/security_content"
CYENCES_REPO = "CrossRealms/Splunk-Cyences-App-for-Splunk"
LICENSES = {ESCU_REPO: "Apache-2.0", CYENCES_REPO: "MIT"}
# a tuning step: a chain of stages that keep, drop or annotate results (at least one filtering command);
# joins with other data models, aggregations and model scoring are detection logic, not tuning
TUNING_COMMANDS = {"search", "where", "regex", "lookup", "eval", "fields", "rex", "fillnull", "rename", "dedup",
                   "table", "sort", "head", "eventstats", "`"}
FILTERING = {"search", "where", "regex"}
DM_DROP = re.compile(r"^`drop_dm_object_name\(\"?Processes\"?\)`$")
MACRO_REF = re.compile(r"`([A-Za-z0-9_]+)(?:\(([^`]*)\))?`")
COMPLETE = r"(search|where|regex|lookup|eval|rex|fillnull|fields)\b"   # a filter macro that is a command
TRIVIAL = {"search *", "fillnull", "`filter_rare_process_allow_list`"}


def git(gitdir: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(gitdir), *args], check=True, capture_output=True,
                          text=True).stdout


def split_pipes(spl: str) -> List[str]:
    """Top-level pipeline stages: a `|` inside quotes, brackets or backticks does not split."""
    stages, depth, quote, tick, start, i = [], 0, False, False, 0, 0
    while i < len(spl):
        c = spl[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c == "`":
            tick = not tick
        elif c == "[" and not tick:
            depth += 1
        elif c == "]" and not tick and depth:
            depth -= 1
        elif c == "|" and not depth and not tick:
            stages.append(spl[start:i].strip())
            start = i + 1
        i += 1
    stages.append(spl[start:].strip())
    return stages


def command_of(stage: str) -> str:
    m = re.match(r"`|[A-Za-z_]+", stage)
    return m.group(0).lower() if m else ""


def tuning_steps(search: str) -> Optional[str]:
    """The leading run of filtering stages after drop_dm_object_name (ctime and the detection's own filter
    macro left out), up to the first join or aggregation."""
    stages = split_pipes(search)
    starts = [i for i, s in enumerate(stages) if DM_DROP.match(s)]
    if not starts:
        return None
    steps = []
    for stage in stages[starts[0] + 1:]:
        if stage.startswith("`security_content_ctime(") or re.fullmatch(r"`[a-z0-9_]+_filter`", stage):
            continue
        cmd = command_of(stage)
        if cmd == "`" and not MACRO_REF.fullmatch(stage):
            return None
        if cmd not in TUNING_COMMANDS:
            break        # the filtering stages before a join or aggregation are the tuning step
        steps.append(stage)
    if not any(command_of(s) in FILTERING for s in steps):
        return None
    return " | ".join(steps)


def escu_items(gitdir: Path) -> Tuple[List[dict], List[dict], Dict[str, dict]]:
    commit = git(gitdir, "rev-parse", "HEAD").strip()
    paths = [p for p in git(gitdir, "ls-tree", "-r", "--name-only", commit, "detections/").splitlines()
             if p.endswith(".yml")]
    searches, tuning = [], []
    seen_tuning: Set[str] = set()
    for path in sorted(paths):
        doc = yaml.safe_load(git(gitdir, "show", f"{commit}:{path}"))
        spl = doc.get("search") if isinstance(doc, dict) else None
        if not isinstance(spl, str) or "datamodel=Endpoint.Processes" not in spl:
            continue
        if doc.get("status") not in ("production", "experimental"):
            continue
        base = {"source_repo": ESCU_REPO, "commit": commit, "path": path, "license": LICENSES[ESCU_REPO],
                "name": doc.get("name", "")}
        searches.append({"kind": "search", "spl": spl.strip(), **base})
        step = tuning_steps(spl)
        if step and step not in seen_tuning:
            seen_tuning.add(step)
            tuning.append({"kind": "tuning", "spl": step, "origin": "detection stages after drop_dm_object_name",
                           **base})
    for item in escu_history_steps(gitdir):
        if item["spl"] not in seen_tuning:
            seen_tuning.add(item["spl"])
            tuning.append(item)
    for item in escu_history_filters(gitdir):
        if item["spl"] not in seen_tuning:
            seen_tuning.add(item["spl"])
            tuning.append(item)
    macros = escu_macros(gitdir, commit)
    return searches, tuning, macros


def cat_files(gitdir: Path, specs: List[str]) -> Iterable[Tuple[str, str]]:
    """(spec, text) of each commit:path, read through one `git cat-file --batch`."""
    proc = subprocess.run(["git", "--git-dir", str(gitdir), "cat-file", "--batch"],
                          input=("\n".join(specs) + "\n").encode(),
                          capture_output=True, check=True)
    out, pos = proc.stdout, 0
    for spec in specs:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode().split()
        pos = nl + 1
        if len(header) < 3 or header[1] != "blob":
            continue
        size = int(header[2])
        yield spec, out[pos:pos + size].decode("utf-8", "replace")
        pos += size + 1


def escu_history_steps(gitdir: Path) -> Iterable[dict]:
    """Tuning steps of earlier published versions of ESCU's Endpoint.Processes detections (oldest first)."""
    log = git(gitdir, "log", "--all", "--reverse", "--no-renames", "--format=COMMIT %H", "-p", "--",
              "detections/endpoint/*.yml")
    specs, commit, path = [], None, None
    for line in log.splitlines():
        if line.startswith("COMMIT "):
            commit = line.split()[1]
        elif line.startswith("+++ b/"):
            path = line[6:]
        elif line.startswith("+search:") and commit and path and "Endpoint.Processes" in line:
            specs.append(f"{commit}:{path}")
    for spec, text in cat_files(gitdir, list(dict.fromkeys(specs))):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        spl = doc.get("search") if isinstance(doc, dict) else None
        if not isinstance(spl, str) or "datamodel=Endpoint.Processes" not in spl:
            continue
        step = tuning_steps(spl)
        if step:
            commit, path = spec.split(":", 1)
            yield {"kind": "tuning", "spl": step, "origin": "detection stages after drop_dm_object_name",
                   "source_repo": ESCU_REPO, "commit": commit, "path": path, "license": LICENSES[ESCU_REPO],
                   "name": doc.get("name", "")}


def escu_history_filters(gitdir: Path) -> Iterable[dict]:
    """Non-trivial *_filter macros ever committed to ESCU's macros/ (the version first published)."""
    log = git(gitdir, "log", "--all", "--reverse", "--format=COMMIT %H", "--name-only", "--diff-filter=AM",
              "--", "macros/*_filter.yml")
    commit = None
    done: Set[str] = set()
    for line in log.splitlines():
        if line.startswith("COMMIT "):
            commit = line.split()[1]
            continue
        if not line.strip() or commit is None or line in done:
            continue
        try:
            doc = yaml.safe_load(git(gitdir, "show", f"{commit}:{line}"))
        except (subprocess.CalledProcessError, yaml.YAMLError):
            continue
        definition = doc.get("definition") if isinstance(doc, dict) else None
        if not isinstance(definition, str) or " ".join(definition.split()) in TRIVIAL:
            continue
        if not re.match(COMPLETE, definition.strip()):
            continue     # a fragment of a tstats where clause (`AND ...`), not a command
        done.add(line)
        yield {"kind": "tuning", "spl": " ".join(definition.split()), "origin": "filter macro definition",
               "source_repo": ESCU_REPO, "commit": commit, "path": line, "license": LICENSES[ESCU_REPO],
               "name": doc.get("name", "")}


def escu_macros(gitdir: Path, commit: str) -> Dict[str, dict]:
    out = {}
    for path in git(gitdir, "ls-tree", "-r", "--name-only", commit, "macros/").splitlines():
        if not path.endswith(".yml"):
            continue
        doc = yaml.safe_load(git(gitdir, "show", f"{commit}:{path}"))
        if not isinstance(doc, dict) or "definition" not in doc:
            continue
        args = doc.get("arguments") or []
        key = f"{doc['name']}({len(args)})" if args else doc["name"]
        out[key] = {"kind": "macro", "name": key, "definition": str(doc["definition"]),
                    "args": ",".join(args), "source_repo": ESCU_REPO, "commit": commit, "path": path,
                    "license": LICENSES[ESCU_REPO]}
    return out


LOOKUP_NAME = re.compile(r"\b(?:lookup|inputlookup)\s+(?:(?:update|local|append|max)=\S+\s+)*([A-Za-z0-9_.]+)")
LOOKUP_KEYS = ("filename", "match_type", "min_matches", "default_match", "case_sensitive_match", "max_matches",
               "collection", "fields_list")


def escu_lookups(gitdir: Path, commit: str, texts: Iterable[str]) -> List[dict]:
    """transforms.conf settings of the ESCU lookups the texts use, and each CSV's header row only."""
    names = {n for t in texts for n in LOOKUP_NAME.findall(t)}
    out = []
    for path in git(gitdir, "ls-tree", "-r", "--name-only", commit, "lookups/").splitlines():
        if not path.endswith(".yml"):
            continue
        doc = yaml.safe_load(git(gitdir, "show", f"{commit}:{path}"))
        if not isinstance(doc, dict) or doc.get("name") not in names:
            continue
        item = {"kind": "lookup", "name": doc["name"], "source_repo": ESCU_REPO, "commit": commit, "path": path,
                "license": LICENSES[ESCU_REPO]}
        item["settings"] = {k: str(doc[k]) for k in LOOKUP_KEYS if k in doc}
        if "filename" in doc:
            csv_text = git(gitdir, "show", f"{commit}:lookups/{doc['filename']}")
            item["header"] = csv_text.splitlines()[0] if csv_text else ""
        out.append(item)
    return sorted(out, key=lambda i: i["name"])


def used_macros(texts: Iterable[str], macros: Dict[str, dict]) -> Dict[str, dict]:
    """The macros the texts call, transitively (filter macros and CIM's drop_dm_object_name excluded)."""
    todo, used = list(texts), {}
    while todo:
        for name, args in MACRO_REF.findall(todo.pop()):
            key = f"{name}({len([a for a in split_args(args)])})" if args else name
            if key in macros and key not in used:
                used[key] = macros[key]
                todo.append(macros[key]["definition"])
    return used


def split_args(args: str) -> List[str]:
    return [a for a in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", args)] if args else []


def cyences_items(gitdir: Path) -> List[dict]:
    """Non-trivial filter macros of every published version of Cyences' macros.conf (oldest first)."""
    path = "cyences_app_for_splunk/default/macros.conf"
    commits = git(gitdir, "log", "--all", "--reverse", "--format=%H", "--", path).split()
    items, seen = [], set()
    for (spec, text) in cat_files(gitdir, [f"{c}:{path}" for c in commits]):
        commit = spec.split(":", 1)[0]
        for name, definition in conf_stanzas(text):
            if "filter" not in name or "(" in name:
                continue
            spl = " ".join(definition.split())
            if not spl or spl in TRIVIAL or spl in seen or not re.match(COMPLETE, spl):
                continue
            seen.add(spl)
            items.append({"kind": "tuning", "spl": spl, "origin": "filter macro definition",
                          "source_repo": CYENCES_REPO, "commit": commit, "path": path,
                          "license": LICENSES[CYENCES_REPO], "name": name})
    return items


def conf_stanzas(text: str) -> Iterable[Tuple[str, str]]:
    """(stanza, definition) of a macros.conf, continuation lines (trailing backslash) joined."""
    stanza, lines = None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^\[(.+)\]\s*$", line)
        if m:
            stanza = m.group(1)
        elif stanza and re.match(r"^definition\s*=", line):
            value = line.split("=", 1)[1].strip()
            while value.endswith("\\") and i + 1 < len(lines):
                i += 1
                value = value[:-1] + "\n" + lines[i].strip()
            yield stanza, value
        i += 1


def write(items: List[dict], name: str) -> None:
    for part in ("dev", "heldout"):
        chosen = [it for it in items if split_of(it["spl"]) == part]
        path = HERE / part / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(chosen, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path.relative_to(HERE)}: {len(chosen)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--security-content", type=Path, required=True, metavar="GITDIR")
    parser.add_argument("--cyences", type=Path, metavar="GITDIR")
    parser.add_argument("--threathunting", type=Path, metavar="GITDIR")
    args = parser.parse_args()
    searches, tuning, macros = escu_items(args.security_content)
    if args.cyences:
        tuning += cyences_items(args.cyences)
    write(searches, "escu_searches")
    write([t for t in tuning if t["source_repo"] == ESCU_REPO], "escu_tuning")
    write([t for t in tuning if t["source_repo"] == CYENCES_REPO], "cyences_tuning")
    used = used_macros([it["spl"] for it in searches + tuning], macros)
    (HERE / "escu_macros.json").write_text(json.dumps(sorted(used.values(), key=lambda m: m["name"]),
                                                      indent=1) + "\n", encoding="utf-8")
    print(f"escu_macros.json: {len(used)}")
    texts = [it["spl"] for it in searches + tuning] + [m["definition"] for m in used.values()]
    lookups = escu_lookups(args.security_content, searches[0]["commit"], texts)
    if args.threathunting:
        th_items, th_lookups = collect_threathunting.items(args.threathunting, git, cat_files, conf_stanzas)
        write(th_items, "threathunting_tuning")
        lookups += th_lookups
    (HERE / "lookups.json").write_text(json.dumps(lookups, indent=1) + "\n", encoding="utf-8")
    print(f"lookups.json: {len(lookups)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
