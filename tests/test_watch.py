"""`monitor watch`: a workbook is checked once it has stopped changing, lock and temporary files
never, a half-written file again when it completes, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from batch_helpers import DEMO, ROOT, clean_workbook, no_summary_pdf
from monitor.batch.history import History
from monitor.batch.runner import BatchOptions, Runner
from monitor.batch.watch import Watcher, WatchProgress


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    no_summary_pdf(monkeypatch)


def wait_for(cond, timeout=60.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def make_watcher(tmp_path, profile, settle=0.3):
    box, out = tmp_path / "inbox", tmp_path / "out"
    box.mkdir(exist_ok=True)
    runner = Runner(BatchOptions(inbox=box, out=out, profile=profile, jobs=1, kind="watch", pdf=False),
                    WatchProgress(quiet=True))
    return Watcher(runner, settle=settle, initial=False, say=lambda text: None, tick=0.05), box, out


def test_a_file_is_ready_only_after_its_size_and_time_stay_the_same_for_the_settle_time(tmp_path, profile):
    w, box, _ = make_watcher(tmp_path, profile, settle=0.3)
    f = box / "a.xlsx"
    f.write_bytes(b"PK half")
    w._consider(f, False)
    assert w._ready() == []                      # first sight: the quiet period starts
    time.sleep(0.15)
    with open(f, "ab") as fh:                    # still being written: starts again
        fh.write(b" more")
    assert w._ready() == []
    time.sleep(0.15)
    assert w._ready() == []
    time.sleep(0.35)
    assert [p for p, _ in w._ready()] == [f]
    assert w.pending == {}


def test_lock_hidden_and_non_workbook_files_and_paths_outside_are_not_queued(tmp_path, profile):
    w, box, _ = make_watcher(tmp_path, profile)
    for name in ("~$a.xlsx", ".~lock.a.xlsx#", "a.xlsx.tmp", "notes.txt", ".hidden/b.xlsx"):
        w._consider(box / name, False)
    w._consider(tmp_path / "elsewhere.xlsx", False)
    assert w.pending == {}
    w._consider(box / "site01" / "a.XLSX", False)
    assert list(w.pending) == [box / "site01" / "a.XLSX"]


def test_a_lock_file_that_settles_is_still_not_checked(tmp_path, profile):
    w, box, out = make_watcher(tmp_path, profile, settle=0.0)
    lock = box / "~$a.xlsx"
    shutil.copyfile(DEMO, lock)
    w.pending[lock] = None                       # even if an event slipped through
    w._ready()
    w._process(w._ready())
    with History(out) as h:
        assert h.workbook_paths() == []


def test_a_half_written_workbook_is_checked_again_when_it_completes(tmp_path, profile):
    w, box, out = make_watcher(tmp_path, profile, settle=0.2)
    data = clean_workbook(tmp_path / "full.xlsx").read_bytes()
    watching = threading.Event()
    w.say = lambda text: watching.set()
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    try:
        assert watching.wait(30)
        target = box / "a.xlsx"
        target.write_bytes(data[: len(data) // 2])          # a copy that paused half-way
        assert wait_for(lambda: (out / "a" / "error.json").exists(), 60)
        with open(target, "ab") as fh:
            fh.write(data[len(data) // 2:])
        assert wait_for(lambda: (out / "a" / "findings.json").exists(), 60)
        assert not (out / "a" / "error.json").exists()
    finally:
        w.stop()
        t.join(20)
    assert not t.is_alive()
    with History(out) as h:
        assert [c["status"] for c in h.workbook_history("a.xlsx")][-1] == "checked"


def checked_in_a_finished_run(out: Path, path: str) -> bool:
    if not (out / "monitor.db").exists():
        return False
    conn = sqlite3.connect(f"file:{out / 'monitor.db'}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT r.status FROM checks c JOIN runs r ON r.id = c.run JOIN workbooks w"
                           " ON w.id = c.workbook WHERE w.path = ? AND c.status = 'checked'", (path,)).fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return row is not None and row[0] == "finished"


@pytest.mark.slow
def test_watch_checks_a_dropped_workbook_and_stops_cleanly_on_ctrl_c(tmp_path):
    box, out = tmp_path / "inbox", tmp_path / "out"
    box.mkdir()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "watch", str(box), "--out", str(out),
                             "--settle", "0.3", "--jobs", "1", "--no-pdf"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    try:
        assert wait_for(lambda: (out / "monitor.db").exists(), 60), "watch did not start"
        (box / "~$site.xlsx").write_bytes(b"owner file")
        tmp = box / ".site.xlsx.part"
        clean_workbook(tmp_path / "site.xlsx", Sex="X")
        shutil.copyfile(tmp_path / "site.xlsx", tmp)
        os.replace(tmp, box / "site.xlsx")                  # how browsers and Excel save: rename into place
        assert wait_for(lambda: checked_in_a_finished_run(out, "site.xlsx"), 90), "the workbook was not checked"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, output
    assert "stopped" in output and "Traceback" not in output
    assert "checked  site.xlsx" in output
    assert not (out / "~$site").exists()
    with History(out) as h:
        assert h.workbook_paths() == ["site.xlsx"]
        assert {r["status"] for r in h.runs()} == {"finished"}
