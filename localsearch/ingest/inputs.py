"""Input discovery: the files (and archive members) to read, what was ignored, what could not be read.

Rules:
- A path named explicitly is read as named: no glob expansion (`a[1].json` is that file), a symlink named
  explicitly is followed. A file named explicitly whose format is unknown is a failure.
- Folders are walked recursively in name order. Hidden files and folders (name starting with `.`) are skipped.
  Files that are not event data (README, SOURCES.md, empty files) are ignored with the reason. A symbolic link
  found while walking is followed only when its target lies inside one of the paths given (a link out of them
  is ignored, its target never shown). A folder or file that cannot be read is a failure.
- Compressed files (containers.py) are opened in place: a `.gz` is one input, a zip or tar archive one input
  per member (`<archive>!/<member>`); members that are not event data are ignored like files in a folder.
- The same file reached twice (named twice, or by a link) is read once, as Splunk reads a file once.

Failures are (path, reason); the loader turns the first into an error unless told to keep going.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, List, Sequence, Set, Tuple

from . import containers as ct
from .detect import PEEK, detect_bytes


@dataclass(frozen=True)
class Input:
    """One stream of events: a file, a gzip file's content, or an archive member."""

    name: Path              # what the user sees: the path (as given or walked), or `<archive>!/<member>`
    path: Path              # the file on disk
    fmt: str
    size: int               # bytes (for a member: uncompressed)
    container: str = ""     # "", gzip, zip, tar
    member: str = ""        # path inside a zip/tar archive

    @property
    def plain(self) -> bool:
        return not self.container

    def open(self, archives: "ct.Archives") -> IO[bytes]:
        return archives.open(self.path, self.container, self.member)


@dataclass
class Found:
    inputs: List[Input] = field(default_factory=list)
    ignored: List[Tuple[Path, str]] = field(default_factory=list)
    failed: List[Tuple[Path, str]] = field(default_factory=list)


def _inside(target: Path, roots: Sequence[Path]) -> bool:
    return any(target == r or r in target.parents for r in roots)


def discover(paths: Sequence[Path]) -> Found:
    found = Found()
    roots = []
    for p in paths:
        try:
            roots.append(Path(p).resolve())
        except (OSError, RuntimeError):
            pass
    seen: Set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            _walk(p, roots, seen, found)
        elif p.exists():
            _add_file(p, seen, found, explicit=True)
        else:
            found.failed.append((p, "no such file or folder"))
    return found


def _walk(top: Path, roots: Sequence[Path], seen: Set[Path], found: Found) -> None:
    files: List[Path] = []
    visited: Set[Path] = {top.resolve()}
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            found.failed.append((d, f"cannot read folder: {exc.strerror or exc}"))
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            try:
                if e.is_symlink():
                    try:
                        target = p.resolve(strict=True)
                    except (OSError, RuntimeError):
                        found.ignored.append((p, "broken symbolic link"))
                        continue
                    if not _inside(target, roots):
                        found.ignored.append((p, "symbolic link to a location outside the given paths: not followed"))
                        continue
                    if target.is_dir():
                        if target not in visited:
                            visited.add(target)
                            subdirs.append(p)
                    elif target.is_file():
                        files.append(p)
                    continue
                if e.is_dir(follow_symlinks=False):
                    visited.add(p.resolve())
                    subdirs.append(p)
                elif e.is_file(follow_symlinks=False):
                    files.append(p)
                else:
                    found.ignored.append((p, "not a regular file"))
            except OSError as exc:
                found.failed.append((p, f"cannot read: {exc.strerror or exc}"))
        stack.extend(reversed(subdirs))
    for f in sorted(files):
        _add_file(f, seen, found, explicit=False)


def _add_file(p: Path, seen: Set[Path], found: Found, explicit: bool) -> None:
    try:
        key = p.resolve()
        if key in seen:
            return
        seen.add(key)
        with open(p, "rb") as fh:
            head = fh.read(PEEK)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        found.failed.append((p, f"cannot read: {exc.strerror or exc}"))
        return
    kind = ct.container_of(head)
    if kind is None:
        fmt, why = detect_bytes(head)
        if fmt is None:
            (found.failed if explicit else found.ignored).append((p, why))
        else:
            found.inputs.append(Input(p, p, fmt, size))
        return
    try:
        _add_container(p, kind, size, found)
    except ct.ARCHIVE_ERRORS as exc:
        found.failed.append((p, ct.archive_reason(exc)))


def _add_container(p: Path, kind: str, size: int, found: Found) -> None:
    if kind == ct.GZIP:
        inner = ct.gunzip_head(p, PEEK)
        if ct.is_tar(inner):
            kind = ct.TAR
        else:
            fmt, why = detect_bytes(inner)
            if fmt is None:
                found.failed.append((p, f"gzip-compressed content: {why}"))
            else:
                found.inputs.append(Input(p, p, fmt, size, container=ct.GZIP))
            return
    members = ct.list_members(p, kind, PEEK)
    if not members:
        found.failed.append((p, "archive holds no files"))
        return
    before = len(found.inputs)
    for m in members:
        name = ct.member_display(p, m.name)
        if any(part.startswith(".") for part in Path(m.name).parts) or ct.container_of(m.head) is not None:
            found.ignored.append((name, "hidden member" if ct.container_of(m.head) is None
                                  else "archive inside an archive (not opened)"))
            continue
        fmt, why = detect_bytes(m.head)
        if fmt is None:
            found.ignored.append((name, why))
        else:
            found.inputs.append(Input(name, p, fmt, m.size, container=kind, member=m.name))
    if len(found.inputs) == before:
        found.failed.append((p, "archive holds no event files"))
