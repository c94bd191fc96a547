"""One workbook read once: its bytes and their SHA-256, taken from a single open of the file.

Every output of a check (findings, export, annotated copy, PDF, history row) derives from the
same Snapshot, so a file replaced while it is being checked (a coordinator's tool saving over it)
can never give outputs of two versions: the check sees the bytes of the one open, and records
their hash. The file is opened without blocking and must be a regular file (a FIFO named
`x.xlsx` would otherwise block the reader forever); it is read to its end once.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


class SnapshotError(Exception):
    """The file cannot be read (missing, a folder, not a regular file, too big, I/O error)."""


@dataclass(frozen=True)
class Snapshot:
    """A workbook's bytes as read once, with their SHA-256: every later step parses these bytes."""

    path: Path                       # where the bytes came from (for messages only)
    data: bytes = field(repr=False)
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def from_bytes(cls, path, data: bytes) -> "Snapshot":
        return cls(Path(path), bytes(data), hashlib.sha256(data).hexdigest())

    @staticmethod
    def limit_for(max_unpacked_mb: float) -> int:
        """The largest file worth reading under an unpacked-size limit (zip headers give slack)."""
        return int(max_unpacked_mb * 1048576 * 1.01) + (1 << 20)

    @classmethod
    def read(cls, path, max_bytes: int | None = None) -> "Snapshot":
        """Read `path` once. `max_bytes`: refuse a file larger than this before reading it."""
        path = Path(path)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise SnapshotError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise SnapshotError(f"{path}: is a folder, not a workbook") from None
        except OSError as e:
            raise SnapshotError(f"{path}: cannot be read ({e.strerror or e})") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise SnapshotError(f"{path}: is a folder, not a workbook")
            if not stat.S_ISREG(st.st_mode):
                raise SnapshotError(f"{path}: not a regular file")
            if max_bytes is not None and st.st_size > max_bytes:
                raise SnapshotError(f"{path}: the file is {st.st_size / 1048576:.0f} MB, over the limit of "
                                    f"{max_bytes / 1048576:g} MB (--max-unpacked-mb); an .xlsx unpacks to "
                                    "about its own size or more; refused before reading it")
            chunks, total = [], 0
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise SnapshotError(f"{path}: grew over the limit of {max_bytes / 1048576:g} MB "
                                        "(--max-unpacked-mb) while it was read; refused")
        except OSError as e:
            raise SnapshotError(f"{path}: cannot be read ({e.strerror or e})") from None
        finally:
            os.close(fd)
        return cls.from_bytes(path, b"".join(chunks))
