"""Static reading of the app's SPL for content tests: macro expansion and the fields a pipeline outputs.

Independent of the local runner on purpose: it is a second, simple reading of the same searches, limited to
the commands the shipped searches use, and it fails loudly on anything else.
"""
from __future__ import annotations

import re
import shlex
from typing import Optional

CIM_MACROS = {"drop_dm_object_name": (["object"], "rename $object$.* AS *")}
MACRO_CALL = re.compile(r"`([^`(]+)(?:\(([^`]*)\))?`")
# `$field$`, or `$field|s$` with a token filter (|s quotes and escapes the value, |u, |h, |n as in Splunk).
TOKEN = re.compile(r"\$([^$\s|]+)(?:\|[a-z])?\$")


def macro_table(macros_conf: dict[str, dict[str, str]]) -> dict[str, tuple[list[str], str]]:
    """{name: (arg names, definition)} keyed by the called name; `name(2)` stanzas become `name` with 2 args."""
    table = dict(CIM_MACROS)
    for stanza, keys in macros_conf.items():
        match = re.fullmatch(r"(.+)\((\d+)\)", stanza)
        name = match.group(1) if match else stanza
        args = [a.strip() for a in keys.get("args", "").split(",") if a.strip()]
        assert len(args) == (int(match.group(2)) if match else 0), f"macro {stanza}: args {args}"
        table[name] = (args, keys["definition"])
    return table


def expand(search: str, macros: dict[str, tuple[list[str], str]], used: Optional[set] = None) -> str:
    """Expand every macro call, recursively; raises KeyError/AssertionError naming a bad call."""
    used = set() if used is None else used

    def one(match: re.Match) -> str:
        name, raw_args = match.group(1).strip(), match.group(2)
        values = [] if raw_args is None else [a.strip() for a in raw_args.split(",")]
        if name not in macros:
            raise KeyError(f"macro `{name}` is not defined")
        arg_names, definition = macros[name]
        assert len(values) == len(arg_names), f"macro `{name}` takes {len(arg_names)} args, called with {values}"
        used.add(name)
        for arg, value in zip(arg_names, values):
            definition = definition.replace(f"${arg}$", value)
        return expand(definition, macros, used)

    return MACRO_CALL.sub(one, search)


def split_pipeline(search: str) -> list[str]:
    """Split on pipes outside double quotes; whitespace outside quotes folds to one space, as Splunk reads it."""
    parts, current, quoted, escaped = [], [], False, False
    for ch in search:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch.isspace() and not quoted:
            if current and current[-1] != " ":
                current.append(" ")
            continue
        elif ch == "|" and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def command_args(command: str) -> dict[str, str]:
    """key=value arguments of a command (quotes removed)."""
    return dict(w.split("=", 1) for w in shlex.split(command)[1:] if "=" in w)


def output_fields(search: str) -> Optional[set[str]]:
    """Fields a pipeline's results carry; None while unknown (raw events before a `table`)."""
    fields: Optional[set[str]] = None
    for i, command in enumerate(split_pipeline(search)):
        words = command.split()
        name = words[0].lower()
        if i == 0 and name != "tstats":
            fields = None  # raw events: every extracted field
        elif name == "tstats":
            head, _, by = command.partition(" by ")
            aggregates = head.split(" from ")[0]
            renamed = re.findall(r"\)\s+as\s+(\w+)", aggregates, flags=re.I)
            fields = set(renamed) | ({"count"} if re.search(r"\bcount\b(?!\()", aggregates) else set())
            fields |= set(by.split())
        elif name == "rename":
            pairs = re.findall(r"(\S+)\s+as\s+(\S+)", command[len("rename"):], flags=re.I)
            for old, new in pairs:
                if fields is None:
                    continue
                if old.endswith("*") and new == "*":
                    fields = {f[len(old) - 1:] if f.startswith(old[:-1]) else f for f in fields}
                elif old in fields:
                    fields = (fields - {old}) | {new}
        elif name in ("table",):
            fields = set(words[1:])
        elif name == "fields" and len(words) > 1 and words[1] == "-":
            fields = None if fields is None else fields - set(words[2:])
        elif name == "lookup":
            outputs = command.split(" OUTPUT ", 1)[1]
            added = {m[1] or m[0] for m in re.findall(r"(\w+)(?:\s+AS\s+(\w+))?", outputs)}
            fields = None if fields is None else fields | added
        elif name == "rbascore":
            fields = None if fields is None else fields | {"risk_score", "risk_message"}
        elif name in ("search", "where", "convert"):
            pass
        else:
            raise AssertionError(f"spl_static does not know the command {name!r}")
    return fields


def tokens(text: str) -> set[str]:
    return set(TOKEN.findall(text))
