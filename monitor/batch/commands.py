"""The bodies of `monitor batch`, `monitor watch` and `monitor history` (cli.py only declares
their options). Each returns the exit code; errors that stop a command are one line on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_OUT = Path("output") / "batch"


def _err(msg: str, code: int = 2) -> int:
    """One plain line on stderr (control characters of file names flattened), never a traceback."""
    import re

    msg = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", str(msg))
    print(f"monitor: {msg}", file=sys.stderr)
    return code


def _debug() -> bool:
    import os

    return bool(os.environ.get("MONITOR_DEBUG"))


def _options(inbox, out, jobs, fail_on, profile, force, max_unpacked_mb, kind, pdf=True,
             workbook_timeout=600.0, workbook_memory_mb=2048.0):
    from ..findings import Severity
    from ..profile.profile import ProfileError, load_profile
    from .runner import BatchOptions

    threshold = Severity.parse(fail_on)          # ValueError -> caller
    if jobs is not None and jobs < 1:
        raise ValueError("--jobs must be 1 or more")
    if max_unpacked_mb <= 0:
        raise ValueError("--max-unpacked-mb must be > 0")
    if workbook_timeout < 0 or workbook_memory_mb < 0:
        raise ValueError("--workbook-timeout and --workbook-memory-mb must be >= 0 (0: no bound)")
    try:
        prof = load_profile(profile)
    except ProfileError as e:
        raise ValueError(f"profile error: {e}") from None
    return BatchOptions(inbox=Path(inbox), out=Path(out or DEFAULT_OUT), profile=prof, fail_on=threshold,
                        jobs=jobs, force=force, max_unpacked_mb=max_unpacked_mb, kind=kind, pdf=pdf,
                        workbook_timeout=workbook_timeout, workbook_memory_mb=workbook_memory_mb)


def _stop_on_sigterm():
    """systemd and `timeout` stop with SIGTERM: end like Ctrl-C (finished workbooks recorded)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, _term)


def batch_command(inbox, out=None, jobs=None, fail_on="major", profile=None, force=False,
                  max_unpacked_mb=200.0, format="text", quiet=False, pdf=True, workbook_timeout=600.0,
                  workbook_memory_mb=2048.0) -> int:
    """Exit 0 clean, 1 findings, 2 a workbook unreadable (or the command is wrong), 3 the run
    failed (disk, permissions, database: one line with the path and the cause), 130 interrupted."""
    from .console import make_progress, summary_text
    from .history import HistoryError
    from .runner import EXIT_FAILED, EXIT_INTERRUPTED, BatchError, Runner

    if format not in ("text", "json"):
        return _err(f"--format must be text or json, not {format!r}")
    try:
        opts = _options(inbox, out, jobs, fail_on, profile, force, max_unpacked_mb, "batch", pdf,
                        workbook_timeout, workbook_memory_mb)
    except ValueError as e:
        return _err(str(e))
    progress = make_progress(quiet or format == "json")
    _stop_on_sigterm()
    try:
        runner = Runner(opts, progress)
        try:
            report = runner.run()
        finally:
            runner.close()
    except BatchError as e:
        _stop_progress(progress)
        return _err(str(e), e.code)
    except HistoryError as e:
        _stop_progress(progress)
        return _err(str(e), EXIT_FAILED)
    except KeyboardInterrupt:
        _stop_progress(progress)
        print("monitor: interrupted; the workbooks finished so far are recorded", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:   # a bug: still one line, and the code that alerts
        if _debug():
            raise
        _stop_progress(progress)
        return _err(f"internal error: {type(e).__name__}: {e} (MONITOR_DEBUG=1 shows the traceback)", EXIT_FAILED)
    try:
        if format == "json":
            sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        elif not quiet:
            sys.stdout.write(summary_text(report))
    except OSError as e:   # stdout closed or full (a log on a full disk)
        return _err(f"stdout: {e.strerror or e}", EXIT_FAILED)
    return report.exit_code


def _stop_progress(progress):
    try:
        progress.finish(None)
    except Exception:
        pass


def watch_command(inbox, out=None, jobs=None, fail_on="major", profile=None, max_unpacked_mb=200.0,
                  settle=2.0, poll=False, poll_interval=1.0, initial=True, quiet=False, pdf=True,
                  workbook_timeout=600.0, workbook_memory_mb=2048.0) -> int:
    from .history import HistoryError
    from .runner import BatchError, Runner
    from .watch import Watcher, WatchProgress

    if settle < 0 or poll_interval <= 0:
        return _err("--settle must be >= 0 and --poll-interval > 0")
    try:
        opts = _options(inbox, out, jobs, fail_on, profile, False, max_unpacked_mb, "watch", pdf,
                        workbook_timeout, workbook_memory_mb)
    except ValueError as e:
        return _err(str(e))
    progress = WatchProgress(sys.stdout, quiet=quiet)
    try:
        runner = Runner(opts, progress)
    except BatchError as e:
        return _err(str(e), e.code)
    watcher = Watcher(runner, settle=settle, poll=poll, poll_interval=poll_interval, initial=initial,
                      say=progress._say)
    try:
        return watcher.run()
    except BatchError as e:
        return _err(str(e), e.code)
    except HistoryError as e:
        return _err(str(e), 3)


def restore_command(out=None) -> int:
    """`monitor history --restore`: the newest sound backup replaces monitor.db."""
    from .history import HistoryError
    from .integrity import quick_check, restore
    from .lock import FolderLock

    out = Path(out or DEFAULT_OUT)
    lock = FolderLock(out / ".monitor.lock")
    try:
        if not lock.acquire(timeout=10):
            return _err(f"{out} is in use by another monitor run ({lock.holder()}); try again when it has "
                        "finished", 3)
    except OSError as e:
        return _err(f"{e.filename or out}: {e.strerror or e}", 3)
    try:
        db = out / "monitor.db"
        if db.exists() and quick_check(db) is None:
            print(f"monitor: {db} passes its integrity check; restoring the last backup anyway",
                  file=sys.stderr)
        used, moved = restore(out)
    except HistoryError as e:
        return _err(str(e), 3)
    except OSError as e:
        return _err(f"{e.filename or out}: {e.strerror or e}", 3)
    finally:
        lock.release()
    sys.stdout.write(f"restored {out / 'monitor.db'} from {used}"
                     + (f"; the replaced database is kept as {moved}" if moved else "")
                     + ". Runs after that copy are no longer in the history: the next run checks "
                       "again every workbook whose outputs it did not record.\n")
    return 0


def history_command(workbook=None, out=None, limit=20, format="text", restore=False) -> int:
    import sqlite3

    from .console import history_text
    from .history import History, HistoryError, resolve_workbook

    if restore:
        return restore_command(out)
    if format not in ("text", "json"):
        return _err(f"--format must be text or json, not {format!r}")
    out = Path(out or DEFAULT_OUT)
    from .integrity import DamagedHistory, refuse_if_damaged

    try:
        refuse_if_damaged(out)
    except DamagedHistory as e:
        return _err(str(e).replace("refused to write into it", "it cannot be shown"), 3)
    try:
        with History(out, create=False) as hist:
            if workbook is None:
                data = {"out": str(out), "runs": hist.runs(limit)}
            else:
                path = resolve_workbook(hist, workbook)
                data = {"out": str(out), "workbook": path, "checks": hist.workbook_history(path, limit),
                        "open_findings": hist.open_findings(path)}
    except HistoryError as e:
        return _err(str(e))
    except sqlite3.DatabaseError as e:
        from .integrity import last_good

        good = last_good(out)
        return _err(f"{out / 'monitor.db'}: the history database is damaged ({e}); "
                    + (f"the last good copy is {good}; restore it with `monitor history --restore --out {out}`"
                       if good else "there is no backup copy"), 3)
    if format == "json":
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(history_text(data))
    return 0
