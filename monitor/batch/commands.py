"""The bodies of `monitor batch`, `monitor watch` and `monitor history` (cli.py only declares
their options). Each returns the exit code; errors that stop a command are one line on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_OUT = Path("output") / "batch"


def _err(msg: str) -> int:
    print(f"monitor: {msg}", file=sys.stderr)
    return 2


def _options(inbox, out, jobs, fail_on, profile, force, max_unpacked_mb, kind, pdf=True):
    from ..findings import Severity
    from ..profile.profile import ProfileError, load_profile
    from .runner import BatchOptions

    threshold = Severity.parse(fail_on)          # ValueError -> caller
    if jobs is not None and jobs < 1:
        raise ValueError("--jobs must be 1 or more")
    if max_unpacked_mb <= 0:
        raise ValueError("--max-unpacked-mb must be > 0")
    try:
        prof = load_profile(profile)
    except ProfileError as e:
        raise ValueError(f"profile error: {e}") from None
    return BatchOptions(inbox=Path(inbox), out=Path(out or DEFAULT_OUT), profile=prof, fail_on=threshold,
                        jobs=jobs, force=force, max_unpacked_mb=max_unpacked_mb, kind=kind, pdf=pdf)


def _stop_on_sigterm():
    """systemd and `timeout` stop with SIGTERM: end like Ctrl-C (finished workbooks recorded)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, _term)


def batch_command(inbox, out=None, jobs=None, fail_on="major", profile=None, force=False,
                  max_unpacked_mb=200.0, format="text", quiet=False, pdf=True) -> int:
    from .console import make_progress, summary_text
    from .history import HistoryError
    from .runner import EXIT_INTERRUPTED, BatchError, Runner

    if format not in ("text", "json"):
        return _err(f"--format must be text or json, not {format!r}")
    try:
        opts = _options(inbox, out, jobs, fail_on, profile, force, max_unpacked_mb, "batch", pdf)
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
    except (BatchError, HistoryError) as e:
        return _err(str(e))
    except KeyboardInterrupt:
        progress.finish(None)
        print("monitor: interrupted; the workbooks finished so far are recorded", file=sys.stderr)
        return EXIT_INTERRUPTED
    if format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    elif not quiet:
        sys.stdout.write(summary_text(report))
    return report.exit_code


def watch_command(inbox, out=None, jobs=None, fail_on="major", profile=None, max_unpacked_mb=200.0,
                  settle=2.0, poll=False, poll_interval=1.0, initial=True, quiet=False, pdf=True) -> int:
    from .history import HistoryError
    from .runner import BatchError, Runner
    from .watch import Watcher, WatchProgress

    if settle < 0 or poll_interval <= 0:
        return _err("--settle must be >= 0 and --poll-interval > 0")
    try:
        opts = _options(inbox, out, jobs, fail_on, profile, False, max_unpacked_mb, "watch", pdf)
    except ValueError as e:
        return _err(str(e))
    progress = WatchProgress(sys.stdout, quiet=quiet)
    try:
        runner = Runner(opts, progress)
    except BatchError as e:
        return _err(str(e))
    watcher = Watcher(runner, settle=settle, poll=poll, poll_interval=poll_interval, initial=initial,
                      say=progress._say)
    try:
        return watcher.run()
    except (BatchError, HistoryError) as e:
        return _err(str(e))


def history_command(workbook=None, out=None, limit=20, format="text") -> int:
    from .console import history_text
    from .history import History, HistoryError, resolve_workbook

    if format not in ("text", "json"):
        return _err(f"--format must be text or json, not {format!r}")
    out = Path(out or DEFAULT_OUT)
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
    if format == "json":
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(history_text(data))
    return 0
