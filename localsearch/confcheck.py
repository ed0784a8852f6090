"""Warnings for local tuning that does nothing: a conf file, stanza or key in the local folder that the app
never reads, with the nearest name that would work.

Rules (splunkd's reading of an app, Admin Manual "Configuration file precedence"): a file in local/ is read
only under the name of a conf file (`macros.conf`, not `macro.conf`); a local stanza only overrides the
default/ stanza of the same name (a local macro, lookup or command no search uses is never run; a local saved
search is run only when asked for); a key is read only under its spec name (`definition`, not `definiton`).
"""
from __future__ import annotations

import difflib
import re
from typing import Dict, Iterable, List, Optional, Set

from .conf import AppConfs, ConfFile, read_conf
from .spl.macros import BUILTIN, split_args

# the conf files the local runner reads (from default/ and the local folder)
READ_CONFS = ("macros", "savedsearches", "transforms", "commands", "app")

# keys of macros.conf.spec, of the lookup part of transforms.conf.spec and of commands.conf.spec
MACRO_KEYS = {"definition", "args", "iseval", "validation", "errormsg", "description"}
LOOKUP_KEYS = {"filename", "collection", "external_cmd", "external_type", "fields_list", "index_fields_list",
               "python.version", "python.required", "time_field", "time_format", "max_offset_secs",
               "min_offset_secs", "max_matches", "min_matches", "default_match", "case_sensitive_match",
               "match_type", "batch_index_query", "allow_caching", "cache_size", "filter", "replicate",
               "feature_id_element", "check_permission", "max_ext_batch", "reload_threshold", "replicate_delta"}
COMMAND_KEYS = {"type", "filename", "local", "perf_warn_limit", "streaming", "maxinputs", "passauth",
                "run_in_preview", "enableheader", "retainsevents", "generating", "generates_timeorder",
                "overrides_timeorder", "requires_preop", "streaming_preop", "required_fields",
                "supports_multivalues", "supports_getinfo", "supports_rawargs", "undo_scheduler_escaping",
                "requires_srinfo", "needs_empty_results", "changes_colorder", "outputheader",
                "clear_required_fields", "stderr_dest", "is_order_sensitive", "is_risky", "chunked", "maxwait",
                "maxchunksize", "python.version", "python.required", "command.arg"}
# savedsearches.conf.spec keys (families by prefix); unknown keys are reported when they are near one
SAVED_KEYS = {"search", "description", "disabled", "cron_schedule", "enableSched", "schedule", "max_concurrent",
              "realtime_schedule", "run_on_startup", "run_n_times", "schedule_window", "schedule_priority",
              "schedule_as", "counttype", "relation", "quantity", "alert_condition", "dispatchAs", "is_visible",
              "defer_scheduled_searchable_idxc", "skip_scheduled_realtime_idxc", "allow_skew", "workload_pool",
              "restart_on_searchpeer_add", "vsid", "is_scheduled", "displayview", "qualifiedSearch",
              "next_scheduled_time", "embed.enabled", "auto_summarize", "precalculate_required_fields_for_alerts"}
SAVED_PREFIXES = ("action.", "alert.", "dispatch.", "display.", "request.", "auto_summarize.", "durable.",
                  "federated.", "embed.")

_CALL = re.compile(r"`\s*([A-Za-z0-9_.:\-]+)\s*(?:\((.*?)\))?\s*`", re.S)
_LOOKUP = re.compile(r"\b(?:lookup|inputlookup|outputlookup)\s+(?:[a-z_]+=\S+\s+)*\"?([^\s|\"\]]+)", re.I)
_PIPE_CMD = re.compile(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)")


def _nearest(name: str, choices: Iterable[str]) -> Optional[str]:
    found = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.75)
    return found[0] if found else None


def _hint(name: str, choices: Iterable[str]) -> str:
    near = _nearest(name, choices)
    return f" (did you mean {near}?)" if near else ""


def local_conf_warnings(confs: AppConfs, run_search: Optional[str] = None) -> List[str]:
    """Warnings for the local folder of `confs` (nothing when it is the app's own local/ and absent)."""
    local = confs.local_dir
    if not local.is_dir():
        return []
    warnings: List[str] = []
    files: Dict[str, ConfFile] = {}
    known = [f"{c}.conf" for c in READ_CONFS]
    for path in sorted(p for p in local.iterdir() if p.is_file()):
        name = path.name
        if name.endswith(".conf") and name[:-5] in READ_CONFS:
            files[name[:-5]] = read_conf(path)
        elif not name.startswith("."):
            warnings.append(f"{path} is not read in local runs: the runner reads only {', '.join(known)}"
                            f"{_hint(name, known)}")
    texts = _all_search_texts(confs)
    for conf, checker in (("macros", _macros), ("savedsearches", _saved), ("transforms", _transforms),
                          ("commands", _commands)):
        if conf in files:
            warnings += checker(files[conf], _default_stanzas(confs, conf), texts, run_search)
    return warnings


def _default_stanzas(confs: AppConfs, conf: str) -> Set[str]:
    path = confs.app_dir / "default" / f"{conf}.conf"
    return set(read_conf(path).stanzas) if path.is_file() else set()


def _all_search_texts(confs: AppConfs) -> List[str]:
    """Every search and macro definition of the app, default/ and local/."""
    texts: List[str] = []
    for conf, key in (("savedsearches", "search"), ("macros", "definition")):
        layered = confs.conf(conf)
        for stanza in layered.stanza_names():
            value = layered.get(stanza, key)
            if value:
                texts.append(value)
    return texts


def _called_macros(texts: Iterable[str]) -> Set[str]:
    called: Set[str] = set()
    for text in texts:
        for m in _CALL.finditer(text):
            args = m.group(2)
            n = len(split_args(args)) if args is not None and args.strip() else 0
            called.add(f"{m.group(1)}({n})" if n else m.group(1))
    return called


def _stanza_line(conf: ConfFile, stanza: str) -> str:
    return f"{conf.path}:{conf.stanza_lines.get(stanza, 0)}"


def _unknown_keys(conf: ConfFile, stanza: str, keys: Set[str], prefixes: tuple = (),
                  only_near: bool = False) -> List[str]:
    out = []
    for key, setting in conf.stanzas[stanza].items():
        base = re.sub(r"\.\d+$", "", key)
        if key in keys or base in keys or key.startswith(prefixes):
            continue
        near = _nearest(key, keys)
        if only_near and near is None:
            continue
        out.append(f"key {key!r} in [{stanza}] ({setting.path}:{setting.line}) is never read"
                   + (f" (did you mean {near!r}?)" if near else ""))
    return out


def _macros(conf: ConfFile, default: Set[str], texts: List[str], run: Optional[str]) -> List[str]:
    warnings: List[str] = []
    called = _called_macros(texts)
    valid = default | set(BUILTIN) | called
    for stanza in conf.stanzas:
        if stanza != "default" and stanza not in valid:
            warnings.append(f"[{stanza}] in {_stanza_line(conf, stanza)} overrides no macro of the app and no "
                            f"search calls it{_hint(stanza, default | set(BUILTIN))}")
        warnings += _unknown_keys(conf, stanza, MACRO_KEYS)
    return warnings


def _saved(conf: ConfFile, default: Set[str], texts: List[str], run: Optional[str]) -> List[str]:
    warnings: List[str] = []
    for stanza in conf.stanzas:
        if stanza not in default and stanza not in ("default", run):
            warnings.append(f"[{stanza}] in {_stanza_line(conf, stanza)} is not a saved search of the app and is "
                            f"not the one run{_hint(stanza, default)}")
        warnings += _unknown_keys(conf, stanza, SAVED_KEYS, SAVED_PREFIXES, only_near=True)
    return warnings


def _transforms(conf: ConfFile, default: Set[str], texts: List[str], run: Optional[str]) -> List[str]:
    warnings: List[str] = []
    used = {m.group(1) for t in texts for m in _LOOKUP.finditer(t)}
    for stanza in conf.stanzas:
        if stanza != "default" and stanza not in default | used:
            warnings.append(f"[{stanza}] in {_stanza_line(conf, stanza)} is no lookup of the app and no search "
                            f"uses it{_hint(stanza, default | used)}")
        if stanza in default | used or set(conf.stanzas[stanza]) & {"filename", "collection", "external_type"}:
            warnings += _unknown_keys(conf, stanza, LOOKUP_KEYS)
    return warnings


def _commands(conf: ConfFile, default: Set[str], texts: List[str], run: Optional[str]) -> List[str]:
    warnings: List[str] = []
    used = {m.group(1) for t in texts for m in _PIPE_CMD.finditer(t)}
    for stanza in conf.stanzas:
        if stanza != "default" and stanza not in default | used:
            warnings.append(f"[{stanza}] in {_stanza_line(conf, stanza)} is no command of the app and no search "
                            f"uses it{_hint(stanza, default | used)}")
        warnings += _unknown_keys(conf, stanza, COMMAND_KEYS)
    return warnings


__all__ = ["local_conf_warnings", "READ_CONFS"]
