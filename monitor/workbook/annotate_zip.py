"""The zip side of the annotated copy: parts the copy does not change are copied as their
compressed bytes (no inflate, no deflate: byte for byte, and nearly free), the parts it changes
are deflated as they are produced.

Python's zipfile cannot copy a member without recompressing it, so the writer here is a small
one of its own: local headers with the sizes in them, a central directory, ZIP64 refused
(a workbook that large is refused by the unpacked-size limit long before).
"""

from __future__ import annotations

import struct
import zipfile
import zlib

from .container import WorkbookError

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_UTF8 = 0x800
_LIMIT = 0xFFFFFFFF
# a fixed date for the parts the copy adds: the same inputs give the same bytes
NEW_PART_DATE = (2026, 1, 1, 0, 0, 0)


def raw_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """The compressed bytes of one member of the zip held in `data`."""
    off = info.header_offset
    head = data[off:off + 30]
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise WorkbookError(f"{info.filename}: damaged zip member")
    name_len, extra_len = struct.unpack("<2H", head[26:30])
    start = off + 30 + name_len + extra_len
    raw = data[start:start + info.compress_size]
    if len(raw) != info.compress_size:
        raise WorkbookError(f"{info.filename}: damaged zip member (truncated)")
    return raw


class Deflater:
    """Deflate a part as it is written, keeping its CRC and sizes."""

    def __init__(self, level: int = 6):
        self._z = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.parts: list[bytes] = []
        self.crc = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        if data:
            self.crc = zlib.crc32(data, self.crc)
            self.size += len(data)
            out = self._z.compress(data)
            if out:
                self.parts.append(out)

    def finish(self) -> tuple[bytes, int, int]:
        self.parts.append(self._z.flush())
        return b"".join(self.parts), self.crc, self.size


def deflated(data: bytes, level: int = 6) -> tuple[bytes, int, int]:
    d = Deflater(level)
    d.write(data)
    return d.finish()


def _dos_time(dt) -> tuple[int, int]:
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((max(y, 1980) - 1980) << 9) | (mo << 5) | d


class ZipOut:
    """A zip written member by member to a binary file object."""

    def __init__(self, fh):
        self.fh = fh
        self.entries: list[tuple] = []
        self.names: set[str] = set()
        self.offset = 0

    def _write(self, b: bytes) -> None:
        self.fh.write(b)
        self.offset += len(b)

    def add_compressed(self, name: str, raw: bytes, crc: int, size: int, method: int = zipfile.ZIP_DEFLATED,
                       date_time=NEW_PART_DATE, flags: int = 0) -> None:
        if name in self.names:
            raise WorkbookError(f"{name}: twice in the annotated copy")
        if self.offset > _LIMIT or len(raw) >= _LIMIT or size >= _LIMIT:
            raise WorkbookError("the annotated copy would be over 4 GB; refused")
        self.names.add(name)
        fname = name.encode("utf-8")
        flags = (flags & ~0x8 & ~0x1) | (_UTF8 if not name.isascii() else 0)   # sizes in the header
        t, d = _dos_time(date_time)
        self.entries.append((fname, flags, method, t, d, crc, len(raw), size, self.offset))
        self._write(_LOCAL.pack(b"PK\x03\x04", 20, 0, flags, method, t, d, crc, len(raw), size, len(fname), 0))
        self._write(fname)
        self._write(raw)

    def copy(self, data: bytes, info: zipfile.ZipInfo, name: str | None = None) -> None:
        """Copy a member of the source zip `data` unchanged (its compressed bytes)."""
        self.add_compressed(name or info.filename, raw_member(data, info), info.CRC, info.file_size,
                            info.compress_type, info.date_time, info.flag_bits)

    def add(self, name: str, data: bytes) -> None:
        raw, crc, size = deflated(data)
        self.add_compressed(name, raw, crc, size)

    def close(self) -> None:
        start = self.offset
        for fname, flags, method, t, d, crc, csize, size, off in self.entries:
            self._write(_CENTRAL.pack(b"PK\x01\x02", 20, 0, 20, 0, flags, method, t, d, crc, csize, size,
                                      len(fname), 0, 0, 0, 0, 0, off))
            self._write(fname)
        n = len(self.entries)
        if n > 0xFFFF or self.offset > _LIMIT:
            raise WorkbookError("the annotated copy has too many parts or is over 4 GB; refused")
        self._write(_END.pack(b"PK\x05\x06", 0, 0, n, n, self.offset - start, start, 0))
