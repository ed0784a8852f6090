"""Compressed inputs read in place: `.gz` (one file), `.zip` and `.tar` / `.tar.gz` archives (one input per member).

Nothing is extracted to disk: a gzip file or a zip member is decompressed as it is read; the members of a tar
archive are read in the order they are stored, by one decompressing pass that continues from member to member
(`TarCursor`), so reading every member costs one pass over the archive (plus one at discovery to list and
identify the members). The one exception is an EVTX member of a tar archive: the EVTX parser needs to seek, a
tar stream cannot, so that member is copied to a temporary file (memory up to 64 MiB, then disk), one member at
a time, removed after it is read (readers.py). Members are shown as `<archive>!/<member path>`.

Detection is by content (magic bytes), not by name: gzip `1f 8b`, zip `PK\\3\\4` (or the end record of an
empty archive), tar `ustar` at offset 257 (after gzip decompression for `.tar.gz`).
"""
from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Dict, List, Optional, Tuple, cast

GZIP, ZIP, TAR = "gzip", "zip", "tar"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
ARCHIVE_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, ValueError)


def container_of(head: bytes) -> Optional[str]:
    """The container kind of a file from its first bytes (for gzip: of the compressed bytes), or None."""
    if head.startswith(GZIP_MAGIC):
        return GZIP
    if head.startswith(ZIP_MAGICS):
        return ZIP
    if is_tar(head):
        return TAR
    return None


def is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def gunzip_head(path: Path, n: int) -> bytes:
    """The first n decompressed bytes of a gzip file (raises ARCHIVE_ERRORS on a damaged one)."""
    with gzip.open(path, "rb") as fh:
        return fh.read(n)


@dataclass(frozen=True)
class Member:
    name: str           # path inside the archive
    size: int           # uncompressed bytes
    head: bytes         # its first bytes (for format detection)


def list_members(path: Path, kind: str, peek: int) -> List[Member]:
    """Regular-file members of a zip or tar archive, in stored order, each with its first `peek` bytes."""
    out: List[Member] = []
    if kind == ZIP:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                with zf.open(info) as fh:
                    out.append(Member(info.filename, info.file_size, fh.read(peek)))
        return out
    with tarfile.open(path, mode="r|*") as tf:
        for ti in tf:
            if not ti.isfile():
                continue
            member = tf.extractfile(ti)
            out.append(Member(ti.name, ti.size, member.read(peek) if member is not None else b""))
    return out


class TarCursor:
    """Sequential reader of a tar archive's members: open(name) continues the one decompressing pass to the
    member asked for (members are read in stored order; asking for an earlier one starts a new pass)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tf: Optional[tarfile.TarFile] = None
        self._seen: List[str] = []

    def open(self, name: str) -> IO[bytes]:
        if self._tf is None or name in self._seen:
            self.close()
            self._tf = tarfile.open(self.path, mode="r|*")
            self._seen = []
        for ti in self._tf:
            self._seen.append(ti.name)
            if ti.name == name and ti.isfile():
                fh = self._tf.extractfile(ti)
                if fh is None:
                    break
                return fh
        raise OSError(f"member {name!r} not found in the archive")

    def close(self) -> None:
        if self._tf is not None:
            self._tf.close()
            self._tf = None


class Archives:
    """Open archives during one load (a zip's central directory read once, one tar pass per archive)."""

    def __init__(self) -> None:
        self._zips: Dict[Path, zipfile.ZipFile] = {}
        self._tars: Dict[Path, TarCursor] = {}

    def open(self, path: Path, kind: str, member: str) -> IO[bytes]:
        if kind == GZIP:
            return cast(IO[bytes], gzip.GzipFile(path, "rb"))
        if kind == ZIP:
            zf = self._zips.get(path)
            if zf is None:
                zf = self._zips[path] = zipfile.ZipFile(path)
            return zf.open(member)
        if kind == TAR:
            cur = self._tars.get(path)
            if cur is None:
                cur = self._tars[path] = TarCursor(path)
            return cur.open(member)
        return open(path, "rb")

    def close(self) -> None:
        for zf in self._zips.values():
            zf.close()
        for cur in self._tars.values():
            cur.close()
        self._zips.clear()
        self._tars.clear()


def archive_reason(exc: BaseException) -> str:
    """A short reason for a damaged or unreadable compressed file."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read: {exc.strerror}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"damaged or unreadable compressed data ({text})"


def member_display(archive: Path, member: str) -> Path:
    return Path(f"{archive}!/{member.lstrip('/')}")


def split_display(name: Path) -> Tuple[str, str]:
    """`<archive>!/<member>` -> (archive, member); other names -> (name, "")."""
    text = str(name)
    if "!/" in text:
        a, m = text.split("!/", 1)
        return a, m
    return text, ""
