"""One monitor run at a time per output folder: an advisory lock on `OUT/.monitor.lock`.

A nightly cron batch that overlaps a manual run, or a `monitor watch` on the same folder, waits
for the other to finish instead of interleaving writes. The lock is released by the kernel when
the process dies, so a killed run never leaves the folder locked.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locking
    fcntl = None


class FolderLock:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd = None

    def acquire(self, timeout: float = 600.0, on_wait=None, poll: float = 0.2) -> bool:
        if self.fd is not None:
            return True
        if fcntl is None:  # pragma: no cover
            return True
        from .worker import fault

        fault("lock", self.path)   # tests: a read-only output folder
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                if on_wait is not None and not told:
                    on_wait(self.holder())
                    told = True
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self.fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown process"
        except OSError:
            return "unknown process"

    def release(self):
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None
