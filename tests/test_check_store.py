"""`monitor check` opens its history store on a thread while the rules run
(workflow.OpeningStore): what it records, and how it fails, are those of opening it in turn."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading

from batch_helpers import ROOT, broken_workbook, clean_workbook
from monitor.batch.workflow import OpeningStore, open_store


def run_cli(*args, fault=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MONITOR_FAULT", None)
    if fault:
        env["MONITOR_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "monitor", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=180, cwd=ROOT)


def test_checks_record_their_runs_and_see_the_previous_one(tmp_path):
    wb, out = clean_workbook(tmp_path / "site.xlsx", Sex="X"), tmp_path / "out"
    first = run_cli("check", wb, "--out", out, "--format", "json")
    assert first.returncode == 1, first.stderr
    assert "new" not in json.loads(first.stdout)["summary"]          # no previous check
    clean_workbook(wb, Sex="X", Age=150)                              # another version
    second = json.loads(run_cli("check", wb, "--out", out, "--format", "json").stdout)
    assert second["summary"]["new"] >= 1
    c = sqlite3.connect(out / "monitor.db")
    try:
        assert c.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    finally:
        c.close()


def test_an_unreadable_workbook_opens_no_store(tmp_path):
    out = tmp_path / "out"
    p = run_cli("check", broken_workbook(tmp_path / "bad.xlsx"), "--out", out)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert not (out / "monitor.db").exists()


def test_a_store_that_cannot_be_locked_fails_as_before(tmp_path):
    """The error raised on the opening thread is raised where the record would have raised it:
    one line, the lock file named, no traceback."""
    wb, out = clean_workbook(tmp_path / "site.xlsx"), tmp_path / "out"
    p = run_cli("check", wb, "--out", out, fault="EROFS@lock")
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr
    assert ".monitor.lock" in p.stderr and "Read-only file system" in p.stderr


def test_the_opened_store_is_used_on_another_thread_and_discarded_unlocked(tmp_path):
    opening = OpeningStore(tmp_path)
    opening.start()
    lock, hist = opening.get()                       # opened on the opening thread, used on this one
    assert hist.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    hist.close()
    lock.release()
    unused = OpeningStore(tmp_path)
    unused.start()
    unused.discard()                                 # closed and unlocked: the folder can be locked again
    got = []

    def reopen():
        lock, hist = open_store(tmp_path)
        hist.close()
        lock.release()
        got.append(True)
    t = threading.Thread(target=reopen, daemon=True)
    t.start()
    t.join(10)
    assert got, "the store stayed locked"


def test_after_an_in_process_check_the_store_is_closed_and_unlocked(tmp_path):
    """The store is closed on a thread while the outputs are written: by the time the command
    returns, that thread has ended and the folder can be locked at once."""
    from typer.testing import CliRunner

    from monitor.cli import app

    wb, out = clean_workbook(tmp_path / "site.xlsx", Sex="X"), tmp_path / "out"
    r = CliRunner().invoke(app, ["check", str(wb), "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert not [t for t in threading.enumerate() if t.name.startswith("monitor-history")]
    lock, hist = open_store(out)          # no wait: FolderLock would poll for up to 60 s
    try:
        assert hist.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    finally:
        hist.close()
        lock.release()
