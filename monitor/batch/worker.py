"""The worker side of `monitor batch`: check one workbook from one snapshot and write its outputs.

Runs in a worker process (or, with no bounds asked for, in the main process). Returns plain
dicts; never writes the history. Three outcomes:

  checked  findings + outputs written, each with the SHA-256 of the file written;
  error    the workbook cannot be read (its problem: exit code 2);
  failed   the run's environment failed while writing outputs (disk full, permission denied,
           read-only folder: exit code 3). Nothing of it is recorded as a success.

A worker dies with its parent: on Linux the kernel sends it SIGKILL when the main process dies
(prctl PR_SET_PDEATHSIG), and everywhere a watchdog thread exits when its parent pid changes.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from ..io import quiet_zipfile_del
from . import outputs as out_files

# errors of the machine, not of a workbook: they stop the run with exit code 3
OPERATIONAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                      errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EFBIG}


def is_operational(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in OPERATIONAL_ERRNOS


def os_error_line(e: OSError, fallback: str = "") -> str:
    """`path: cause` for an OSError, one line."""
    where = e.filename or fallback
    cause = e.strerror or str(e) or type(e).__name__
    return f"{where}: {cause}" if where else cause


# ---------------------------------------------------------------- fault points (tests, fuzz)

def fault(point: str, path=None) -> None:
    """Fault injection for the tests and benchmarks/fault_inject.py, off unless MONITOR_FAULT is
    set: `MONITOR_FAULT=point` kills this process with SIGKILL at that point (`worker-...` points
    kill the main process from the worker); `MONITOR_FAULT=ENOSPC@point` (any errno name) raises
    that OSError there, as a full disk or a read-only folder would."""
    want = os.environ.get("MONITOR_FAULT")
    if not want:
        return
    name, _, at = want.rpartition("@")
    if at != point:
        return
    if name:
        code = getattr(errno, name)
        raise OSError(code, os.strerror(code), str(path) if path is not None else None)
    in_worker = point.startswith("worker-") and _PARENT is not None and os.getppid() == _PARENT
    os.kill(_PARENT if in_worker else os.getpid(), signal.SIGKILL)
    time.sleep(5)   # the signal arrives; nothing after this point runs


def after_snapshot(task: dict) -> None:
    """Called between reading a workbook's snapshot and checking it (tests replace the file here)."""


# ---------------------------------------------------------------- dying with the parent

def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when `parent_pid` dies: the kernel's parent-death signal on Linux,
    and a watchdog thread on the parent pid everywhere (also covers a parent that died before
    the signal was armed)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):   # pragma: no cover - no prctl: the watchdog still works
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


_PROFILE = None
_PARENT = None        # the main process's pid, in a worker process


def init_worker(profile, parent_pid: int | None = None) -> None:
    """Worker start: keep the profile; leave Ctrl-C to the main process; die with the parent."""
    global _PROFILE, _PARENT
    _PROFILE, _PARENT = profile, parent_pid
    quiet_zipfile_del()
    if parent_pid is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent(parent_pid)


def worker_main(conn, profile, parent_pid: int) -> None:
    """A worker process: receive a task, send its result, until told to stop (None)."""
    init_worker(profile, parent_pid)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        fn, task = item
        res = fn(task)
        try:
            conn.send(res)
        except (OSError, EOFError):
            return


# ---------------------------------------------------------------- one workbook

def check_one(task: dict) -> dict:
    """Check one workbook and write its outputs, all from one snapshot of its bytes."""
    from ..check import check_workbook
    from ..workbook.reader import WorkbookError, take_snapshot

    t0 = time.perf_counter()
    src, out_dir, out_root = Path(task["path"]), Path(task["out_dir"]), Path(task["out_root"])
    now = datetime.fromisoformat(task["now"])
    try:
        snap = take_snapshot(src, task["max_unpacked_mb"])
        after_snapshot(task)
        result = check_workbook(snap, _PROFILE, today=now.date(), now=now, max_unpacked_mb=task["max_unpacked_mb"])
    except WorkbookError as e:
        return error_result(task, str(e), t0)
    except MemoryError:
        return error_result(task, f"{task['rel']}: ran out of memory while reading the workbook", t0)
    except Exception as e:  # a reader bug must not stop the batch either
        return error_result(task, f"internal error while reading the workbook: {type(e).__name__}: {e}", t0)
    try:
        outputs, notes, hashes = out_files.write_workbook_outputs(
            src, result, out_dir, out_root, task["stem"], frozenset(task.get("previous_ids", ())), now,
            _PROFILE, task.get("pdf", True))
    except OSError as e:
        return failed_result(task, os_error_line(e, str(out_dir)), t0, result.sha256)
    except Exception as e:
        return failed_result(task, f"{out_dir}: outputs could not be written ({type(e).__name__}: {e})",
                             t0, result.sha256)
    return {"status": "checked", "sha256": result.sha256, "error": None,
            "findings": [f.to_dict() for f in result.findings], "outputs": outputs, "notes": notes,
            "hashes": hashes, "seconds": time.perf_counter() - t0}


def error_result(task: dict, message: str, t0: float, sha256: str | None = None) -> dict:
    message = message.replace(task["path"], task["rel"])
    return {"status": "error", "sha256": sha256, "error": message, "findings": None, "outputs": {},
            "notes": {}, "hashes": {}, "seconds": time.perf_counter() - t0}


def failed_result(task: dict, message: str, t0: float, sha256: str | None = None) -> dict:
    return {"status": "failed", "sha256": sha256, "error": message, "findings": None, "outputs": {},
            "notes": {}, "hashes": {}, "seconds": time.perf_counter() - t0}
