"""Build a large, valid EVTX file from the chunks of smaller ones (for the benchmark and the tests).

The chunks holding records are copied in turn until `chunks` chunks are written; each copy gets new record
numbers and EventRecordIDs (chunk header and every record header), so ids run 1..N across the file as in a real
log, and its checksums are recomputed: the chunk header CRC32 (bytes 0-120 and 128-512), the records CRC32
(bytes 512 to the chunk's free-space offset), and the file header's (first chunk 0, last chunk, next record id,
chunk count, CRC32 of bytes 0-120). Records refer to templates and strings by offsets inside their own chunk, so
a copied chunk stays readable.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import List

HEADER = 4096
CHUNK = 65536


def _chunks(src: Path) -> List[bytes]:
    data = src.read_bytes()
    out = []
    for off in range(HEADER, len(data) - CHUNK + 1, CHUNK):
        c = data[off:off + CHUNK]
        if c.startswith(b"ElfChnk\x00"):
            first_no, last_no = struct.unpack_from("<2Q", c, 8)
            if last_no >= first_no:
                out.append(c)
    return out


def build(sources: List[Path], dst: Path, chunks: int) -> int:
    """Write dst with `chunks` chunks (at most 65535); returns the number of records."""
    pool = [c for s in sources for c in _chunks(s)]
    if not pool:
        raise ValueError("no chunk with records in the sources")
    header = bytearray(sources[0].read_bytes()[:HEADER])
    next_id = 1
    with open(dst, "wb") as out:
        out.write(b"\x00" * HEADER)
        for i in range(chunks):
            c = bytearray(pool[i % len(pool)])
            free = struct.unpack_from("<I", c, 48)[0]
            first = next_id
            pos = 512
            while pos + 24 <= free and c[pos:pos + 4] == b"\x2a\x2a\x00\x00":
                size = struct.unpack_from("<I", c, pos + 4)[0]
                struct.pack_into("<Q", c, pos + 8, next_id)
                next_id += 1
                pos += size
            last = next_id - 1
            struct.pack_into("<4Q", c, 8, first, last, first, last)
            struct.pack_into("<I", c, 52, zlib.crc32(bytes(c[512:free])))
            struct.pack_into("<I", c, 124, zlib.crc32(bytes(c[:120] + c[128:512])))
            out.write(c)
        struct.pack_into("<QQQ", header, 8, 0, chunks - 1, next_id)
        struct.pack_into("<H", header, 42, chunks)
        struct.pack_into("<I", header, 120, 0)             # flags: clean
        struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
        out.seek(0)
        out.write(header)
    return next_id - 1
