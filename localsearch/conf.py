"""Reading Splunk .conf files and layering default/ and local/ as splunkd does.

Syntax (as splunkd and AppInspect read it): a line ending in `\\` continues on the next line and the newline
is kept in the value; a line whose first non-blank character is `#` (or `;`, as AppInspect's lexer also
accepts) is a comment, but only as a whole line (an inline `#` is part of the value); `[stanza names]` may
contain spaces; `key = value` has the key and value stripped of surrounding blanks; settings before the first
stanza belong to `[default]`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple


class ConfError(Exception):
    """A .conf file that cannot be read; the message names the file and line."""


@dataclass
class Setting:
    value: str
    path: str
    line: int


@dataclass
class ConfFile:
    path: str
    stanzas: Dict[str, Dict[str, Setting]] = field(default_factory=dict)
    stanza_lines: Dict[str, int] = field(default_factory=dict)

    def get(self, stanza: str, key: str) -> Optional[str]:
        s = self.stanzas.get(stanza, {}).get(key)
        return None if s is None else s.value


_KEY_RE = re.compile(r"^\s*\S*\s*=")


def _joined_lines(text: str, path: str) -> Iterator[Tuple[str, int]]:
    """Yields (logical line, number of its first physical line), joining `\\` continuations."""
    current: List[str] = []
    first = 0
    lines = text.split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not current:
            first = number
        if line.endswith("\\"):
            current.append(line[:-1] + "\n")
            continue
        if re.search(r"\\\s+$", line):
            raise ConfError(f"{path}:{number}: whitespace after a line-continuation backslash")
        current.append(line)
        yield "".join(current), first
        current = []
    if current:
        yield "".join(current), first


def parse_conf(text: str, path: str = "<string>") -> ConfFile:
    """Parses the text of one .conf file. Duplicate stanzas merge (later keys win, as in splunkd)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    conf = ConfFile(path=path)
    current: Optional[Dict[str, Setting]] = None
    for item, lineno in _joined_lines(text, path):
        if item.strip() == "":
            continue
        if re.match(r"^\s*[#;]", item):
            continue
        if re.match(r"^\s*\[", item):
            start = item.index("[")
            end = item.rfind("]")
            if end <= start:
                raise ConfError(f"{path}:{lineno}: stanza header without closing ']': {item.strip()!r}")
            name = item[start + 1:end]
            current = conf.stanzas.setdefault(name, {})
            conf.stanza_lines.setdefault(name, lineno)
            continue
        if _KEY_RE.match(item):
            key, value = item.split("=", 1)
            if current is None:
                current = conf.stanzas.setdefault("default", {})
                conf.stanza_lines.setdefault("default", lineno)
            current[key.strip()] = Setting(value.strip(), path, lineno)
            continue
        raise ConfError(f"{path}:{lineno}: neither a stanza, a setting nor a comment: {item.strip()[:80]!r}")
    return conf


def read_conf(path: Path) -> ConfFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    return parse_conf(text, str(path))


class LayeredConf:
    """One conf name (e.g. `macros`) across layers, highest precedence first (local/ over default/).

    Lookup follows splunkd key by key: the stanza's key in local, then in default, then the `[default]`
    stanza's key in local, then in default.
    """

    def __init__(self, name: str, layers: List[ConfFile]):
        self.name = name
        self.layers = layers  # highest precedence first

    @classmethod
    def load(cls, name: str, dirs: List[Path]) -> "LayeredConf":
        """`dirs` highest precedence first, e.g. [local_dir, app/default]; missing files are skipped."""
        layers = [read_conf(d / f"{name}.conf") for d in dirs if (d / f"{name}.conf").is_file()]
        return cls(name, layers)

    def has_stanza(self, stanza: str) -> bool:
        return any(stanza in layer.stanzas for layer in self.layers)

    def stanza_names(self) -> List[str]:
        names: List[str] = []
        for layer in reversed(self.layers):
            for n in layer.stanzas:
                if n not in names:
                    names.append(n)
        return names

    def setting(self, stanza: str, key: str) -> Optional[Setting]:
        for name in (stanza, "default"):
            for layer in self.layers:
                s = layer.stanzas.get(name, {}).get(key)
                if s is not None:
                    return s
        return None

    def get(self, stanza: str, key: str, default: Optional[str] = None) -> Optional[str]:
        s = self.setting(stanza, key)
        return default if s is None else s.value

    def stanza(self, stanza: str) -> Dict[str, Setting]:
        """All effective settings of a stanza (with `[default]` underneath)."""
        merged: Dict[str, Setting] = {}
        for name in ("default", stanza):
            for layer in reversed(self.layers):
                merged.update(layer.stanzas.get(name, {}))
        return merged

    def where(self, stanza: str) -> str:
        """Which file defines the stanza (for error messages)."""
        for layer in self.layers:
            if stanza in layer.stanzas:
                return f"{layer.path}:{layer.stanza_lines[stanza]}"
        return f"{self.name}.conf"


@dataclass
class AppConfs:
    """The conf files of one app: `<app>/default` overlaid by a local folder (default `<app>/local`)."""

    app_dir: Path
    local_dir: Path

    def conf(self, name: str) -> LayeredConf:
        return LayeredConf.load(name, [self.local_dir, self.app_dir / "default"])
