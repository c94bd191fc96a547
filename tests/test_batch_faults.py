"""Batch runs that never lie (issue 13): one snapshot per workbook, skips that verify their
outputs, loud failures (exit 3), a verified and restorable history, news that survives a killed
run, workers that die with their parent, per-workbook bounds."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_helpers import ROOT, batch, batch_json, broken_workbook, clean_workbook, entry, monitor, no_summary_pdf
from monitor.batch import worker as worker_mod
from monitor.batch.commands import batch_command, history_command
from monitor.batch.history import History
from monitor.batch.integrity import BACKUP_DIR, backups, quick_check
from monitor.batch.keys import code_sha256, config_key
from monitor.batch.runner import BatchOptions, RunFailure, Runner
from monitor.io import sha256_file


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    no_summary_pdf(monkeypatch)
    monkeypatch.delenv("MONITOR_FAULT", raising=False)


def env(**extra):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    e.pop("MONITOR_FAULT", None) if "MONITOR_FAULT" not in extra else None
    return e


def run_cli(*args, fault=None, timeout=180):
    e = env(**({"MONITOR_FAULT": fault} if fault else {}))
    return subprocess.run([sys.executable, "-m", "monitor", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=timeout, cwd=ROOT)


def last_check(out, path):
    with History(out) as h:
        wid = h.workbook(path)["id"]
        row = h.conn.execute("SELECT * FROM checks WHERE workbook=? AND status IN ('checked','skipped') "
                             "ORDER BY run DESC LIMIT 1", (wid,)).fetchone()
        return dict(row)


def runs(out):
    with History(out) as h:
        return h.runs()


# ------------------------------------------------------------------ one snapshot per check

def test_a_workbook_replaced_while_it_is_checked_gives_outputs_of_one_version(tmp_path, profile, monkeypatch):
    """The file is replaced (atomically, as a coordinator's tool saves) right after the check read
    it: findings, annotated copy and history all describe the bytes read, and record their hash;
    the next run sees the new bytes and checks again."""
    box, out = tmp_path / "inbox", tmp_path / "out"
    wb = clean_workbook(box / "a.xlsx", Sex="X")                 # version A: WB110
    sha_a = sha256_file(wb)
    b = clean_workbook(tmp_path / "b.xlsx", Age=150)              # version B: WB111
    sha_b = sha256_file(b)

    def replace(task):
        os.replace(b, wb)
    monkeypatch.setattr(worker_mod, "after_snapshot", replace)
    r1 = batch(box, out, profile)
    e = entry(r1, "a.xlsx")
    assert e.status == "checked" and e.sha256 == sha_a
    found = json.loads((out / "a" / "findings.json").read_text())
    assert found["sha256"] == sha_a and [f["rule"] for f in found["findings"]] == ["WB110"]
    assert last_check(out, "a.xlsx")["sha256"] == sha_a
    import openpyxl
    ann = openpyxl.load_workbook(out / "a" / "a-annotated.xlsx")
    assert ann.properties.identifier == f"sha256:{sha_a}"             # the copy says which bytes
    assert any(c.value == "X" for row in ann["Subjects"].iter_rows() for c in row)   # ... and is A
    assert sha256_file(wb) == sha_b                                   # the file now holds B

    monkeypatch.setattr(worker_mod, "after_snapshot", lambda task: None)
    r2 = batch(box, out, profile)                                     # B is not skipped as unchanged
    e = entry(r2, "a.xlsx")
    assert e.status == "checked" and e.sha256 == sha_b
    found = json.loads((out / "a" / "findings.json").read_text())
    assert found["sha256"] == sha_b and [f["rule"] for f in found["findings"]] == ["WB111"]


def test_the_check_opens_the_workbook_once(tmp_path, profile, monkeypatch):
    """After the snapshot the file is gone: every output is still written, from the bytes read
    (calamine, openpyxl and the hash never open the file again)."""
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx", Sex="X")
    opens = []
    real_open = os.open

    def counting_open(path, *a, **k):
        if str(path).endswith("a.xlsx") and "inbox" in str(path):
            opens.append(path)
        return real_open(path, *a, **k)
    monkeypatch.setattr(os, "open", counting_open)
    monkeypatch.setattr(worker_mod, "after_snapshot", lambda task: Path(task["path"]).unlink())
    r = batch(box, out, profile)
    assert entry(r, "a.xlsx").status == "checked"
    assert len(opens) == 1
    for kind in ("findings_json", "findings_csv", "annotated_xlsx", "changes_json"):
        assert (out / entry(r, "a.xlsx").outputs[kind]).is_file()


def test_a_skip_needs_every_output_with_its_recorded_hash(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx", Sex="X")
    batch(box, out, profile)
    assert entry(batch(box, out, profile), "a.xlsx").status == "skipped"
    # findings.json of another version (a run killed between the worker's write and the record)
    f = out / "a" / "findings.json"
    f.write_text(f.read_text().replace("WB110", "WB111"))
    assert entry(batch(box, out, profile), "a.xlsx").status == "checked"
    assert "WB110" in f.read_text()
    (out / "a" / "a-annotated.xlsx").unlink()
    assert entry(batch(box, out, profile), "a.xlsx").status == "checked"
    assert entry(batch(box, out, profile), "a.xlsx").status == "skipped"


def test_the_skip_key_changes_with_the_package_code_and_data(tmp_path, profile, monkeypatch):
    pkg = tmp_path / "pkg"
    (pkg / "rules").mkdir(parents=True)
    (pkg / "rules" / "r.py").write_text("X = 1\n")
    (pkg / "criteria.toml").write_text("a = 1\n")
    (pkg / "terms.csv").write_text("a,b\n")
    h0 = code_sha256(pkg)
    code_sha256.cache_clear()
    (pkg / "criteria.toml").write_text("a = 2\n")                     # a threshold changed
    h1 = code_sha256(pkg)
    code_sha256.cache_clear()
    (pkg / "rules" / "r.py").write_text("X = 2\n")                    # a rule changed
    h2 = code_sha256(pkg)
    code_sha256.cache_clear()
    assert len({h0, h1, h2}) == 3
    assert config_key("p", 200, h0) != config_key("p", 200, h1) != config_key("p", 200, h2)
    assert config_key("p", 200, h0) != config_key("p", 100, h0) != config_key("q", 100, h0)

    import monitor.batch.runner as runner_mod
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    batch(box, out, profile)
    assert entry(batch(box, out, profile), "a.xlsx").status == "skipped"
    monkeypatch.setattr(runner_mod, "code_sha256", lambda: "another rule set")
    assert entry(batch(box, out, profile), "a.xlsx").status == "checked"


# ------------------------------------------------------------------ loud failures, exit 3

def test_a_read_only_output_folder_is_one_line_and_exit_3(tmp_path):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    p = run_cli("batch", box, "--out", out, "--no-pdf", fault="EROFS@lock")
    assert p.returncode == 3, p.stderr
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr
    assert ".monitor.lock" in p.stderr and "Read-only file system" in p.stderr


def test_a_full_disk_while_writing_outputs_fails_the_run_and_is_not_cached(tmp_path):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx", Sex="X")
    clean_workbook(box / "b.xlsx")
    p = run_cli("batch", box, "--out", out, "--no-pdf", "--jobs", "1", fault="ENOSPC@outputs-annotated")
    assert p.returncode == 3, p.stderr
    line = [x for x in p.stderr.splitlines() if x.startswith("monitor:")]
    # the run stops at the first workbook it writes: the larger first (runner: -size, then path).
    # The two files differ in size by a few bytes either way (the zip's timestamps), so which one
    # that is is read from the files, not assumed
    first = min(("a", "b"), key=lambda n: (-(box / f"{n}.xlsx").stat().st_size, n))
    assert len(line) == 1 and "No space left on device" in line[0] and f"{first}-annotated.xlsx" in line[0]
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr
    assert "unreadable" not in p.stderr.lower()
    r = runs(out)[-1]
    assert r["status"] == "failed" and r["exit_code"] == 3 and "No space left" in r["reason"]
    with History(out) as h:
        assert h.conn.execute("SELECT COUNT(*) FROM checks WHERE status='checked'").fetchone()[0] == 0
    p = run_cli("batch", box, "--out", out, "--no-pdf", "--format", "json")   # the disk has room again
    assert p.returncode == 1, p.stderr
    data = json.loads(p.stdout)
    assert {w["path"]: w["status"] for w in data["workbooks"]} == {"a.xlsx": "checked", "b.xlsx": "checked"}


def test_a_full_database_disk_is_exit_3_and_the_run_ends_failed(tmp_path, profile, monkeypatch, capsys):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx", Sex="X")

    def full(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")
    monkeypatch.setattr(History, "record_checked", full)
    code = batch_command(box, out, jobs=1, pdf=False, workbook_timeout=0, workbook_memory_mb=0)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and err[-1].startswith("monitor: ") and "database or disk is full" in err[-1]
    assert str(out / "monitor.db") in err[-1]
    monkeypatch.undo()
    assert runs(out)[-1]["status"] == "failed"


def test_exit_codes_0_1_2(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    assert batch(box, out, profile).exit_code == 0
    clean_workbook(box / "a.xlsx", Sex="X")
    assert batch(box, out, profile).exit_code == 1
    broken_workbook(box / "b.xlsx")
    assert batch(box, out, profile).exit_code == 2


# ------------------------------------------------------------------ history integrity

def corrupt_a_page(db: Path, page: int = 3):
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = c.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as fh:
        fh.seek(size * (page - 1))
        fh.write(bytes(range(256)) * (size // 256))


def test_a_damaged_history_is_refused_with_its_last_good_copy_and_restored(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx", Sex="X")
    clean_workbook(box / "b.xlsx", Age=150)
    batch(box, out, profile)
    batch(box, out, profile)
    assert [n for n, _ in backups(out)] == [2, 1]                   # one online backup before each run
    corrupt_a_page(out / "monitor.db")
    assert quick_check(out / "monitor.db") is not None
    p = run_cli("batch", box, "--out", out, "--no-pdf")
    assert p.returncode == 3, p.stderr
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert "damaged" in p.stderr and str(out / BACKUP_DIR / "monitor-run2.db") in p.stderr
    assert "--restore" in p.stderr
    p = run_cli("history", "--out", out)
    assert p.returncode == 3 and "Traceback" not in p.stderr and "damaged" in p.stderr

    p = run_cli("history", "--restore", "--out", out)
    assert p.returncode == 0, p.stderr
    assert "monitor-run2.db" in p.stdout
    assert quick_check(out / "monitor.db") is None
    assert list(out.glob("monitor.db.damaged-*"))                   # the evidence is kept
    report = batch(box, out, profile)
    assert report.exit_code == 1 and {e.status for e in report.workbooks} == {"skipped"}
    assert [r["status"] for r in runs(out)] == ["finished", "finished"]   # run 1 (restored) and this one


def test_backups_are_kept_to_a_few(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    for _ in range(5):
        batch(box, out, profile)
    assert [n for n, _ in backups(out)] == [5, 4, 3]


# ------------------------------------------------------------------ news is never lost

def test_a_run_killed_before_batch_json_loses_no_news(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    clean_workbook(box / "b.xlsx", Sex="X")
    assert batch(box, out, profile).exit_code == 1                  # run 1: b has WB110
    clean_workbook(box / "a.xlsx", Age=150)                         # a: WB111 new
    clean_workbook(box / "b.xlsx")                                  # b: WB110 resolved
    p = run_cli("batch", box, "--out", out, "--no-pdf", "--jobs", "1", "--workbook-timeout", "0",
                "--workbook-memory-mb", "0", fault="main-before-batch-json")
    assert p.returncode == -signal.SIGKILL
    assert batch_json(out)["run_id"] == 1
    assert runs(out)[-1]["status"] == "running"
    report = batch(box, out, profile)                               # run 3: both skipped ...
    assert {e.status for e in report.workbooks} == {"skipped"}
    data = batch_json(out)                                          # ... and still the news
    assert data["news_since_run"] == 1
    assert data["totals"]["new"] == 1 and data["totals"]["resolved"] == 1
    assert {w["path"]: (w["new"], w["resolved"]) for w in data["workbooks"]} == {"a.xlsx": (1, 0),
                                                                                 "b.xlsx": (0, 1)}
    assert [r["status"] for r in runs(out)] == ["finished", "interrupted", "finished"]
    assert batch(box, out, profile).totals()["new"] == 0            # told once


@pytest.mark.parametrize("point", ["main-before-record", "worker-after-findings"])
def test_a_run_killed_between_the_workers_outputs_and_the_record(tmp_path, profile, point):
    """findings.json of the new version is on disk, the history has the old one: the next run
    checks again (even after the file went back to the old bytes), and leaves no temp file."""
    box, out = tmp_path / "inbox", tmp_path / "out"
    wb = clean_workbook(box / "a.xlsx", Sex="X")
    old = wb.read_bytes()
    batch(box, out, profile)
    clean_workbook(box / "a.xlsx", Age=150)
    p = run_cli("batch", box, "--out", out, "--no-pdf", "--jobs", "1", fault=point)
    assert p.returncode == -signal.SIGKILL
    assert "WB111" in (out / "a" / "findings.json").read_text()       # the new version's findings ...
    assert last_check(out, "a.xlsx")["sha256"] == hashlib.sha256(old).hexdigest()   # ... the old history
    (out / "a" / ".findings.json.orphan.tmp").write_text("half")   # as a write cut by the kill leaves
    wb.write_bytes(old)                                               # back to the recorded bytes
    report = batch(box, out, profile)
    assert entry(report, "a.xlsx").status == "checked"
    found = json.loads((out / "a" / "findings.json").read_text())
    assert found["sha256"] == sha256_file(wb) == last_check(out, "a.xlsx")["sha256"]
    assert not list(out.rglob("*.tmp"))


# ------------------------------------------------------------------ workers and bounds

def _children(pid: int) -> list:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def slow_check(task):
    time.sleep(float(os.environ.get("SLOW_CHECK", "60")))
    return worker_mod.check_one(task)


def hungry_check(task):
    block = bytearray(400 * 1048576)          # touch 400 MB
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(5)
    return worker_mod.check_one(task)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_when_the_main_process_is_killed(tmp_path):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    clean_workbook(box / "b.xlsx")
    script = ("import sys; sys.path.insert(0, 'tests'); import test_batch_faults as t, monitor.batch.runner as r;"
              "r.check_one = t.slow_check; from monitor.batch.commands import batch_command;"
              f"sys.exit(batch_command({str(box)!r}, {str(out)!r}, jobs=2, pdf=False))")
    main = subprocess.Popen([sys.executable, "-c", script], env=env(SLOW_CHECK="60"), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        kids = []
        while time.time() < deadline and len(kids) < 2:
            time.sleep(0.2)
            kids = [k for k in _children(main.pid) if "monitor-worker" in _cmdline(k) or "spawn" in _cmdline(k)]
        assert len(kids) >= 2, "no workers started"
        time.sleep(1.5)                                   # workers armed and busy
        main.send_signal(signal.SIGKILL)
        main.wait(10)
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.1)
        assert not any(_alive(k) for k in kids)
    finally:
        if main.poll() is None:
            main.kill()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_a_slow_workbook_is_reported_not_waited_for(tmp_path, profile, monkeypatch):
    import monitor.batch.runner as runner_mod

    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    monkeypatch.setenv("SLOW_CHECK", "60")
    monkeypatch.setattr(runner_mod, "check_one", slow_check)
    t0 = time.perf_counter()
    report = batch(box, out, profile, workbook_timeout=3)
    assert time.perf_counter() - t0 < 30
    e = entry(report, "a.xlsx")
    assert e.status == "error" and "--workbook-timeout" in e.error and report.exit_code == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_huge_workbook_is_stopped_at_the_memory_bound(tmp_path, profile, monkeypatch):
    import monitor.batch.runner as runner_mod

    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "a.xlsx")
    monkeypatch.setattr(runner_mod, "check_one", hungry_check)
    report = batch(box, out, profile, workbook_memory_mb=300, workbook_timeout=60)
    e = entry(report, "a.xlsx")
    assert e.status == "error" and "--workbook-memory-mb" in e.error


def test_zipfile_del_noise_never_reaches_stderr(tmp_path):
    code = ("import io, gc, openpyxl, monitor.cli\n"
            "class Full(io.BytesIO):\n"
            "    n = 0\n"
            "    def write(self, b):\n"
            "        Full.n += 1\n"
            "        if Full.n > 3: raise OSError(28, 'No space left on device')\n"
            "        return super().write(b)\n"
            "def save():\n"
            "    try:\n"
            "        openpyxl.Workbook().save(Full())\n"
            "    except OSError:\n"
            "        pass\n"
            "save(); gc.collect()\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), cwd=ROOT)
    assert p.returncode == 0 and p.stderr == "", p.stderr


# ------------------------------------------------------------------ readable messages

def test_quoted_cell_text_is_cut_to_a_readable_length(tmp_path, profile):
    from builders import add_column, valid_study, write
    from monitor.check import QUOTE_CHARS, check_workbook

    header = "H" * 32_767                                   # Excel's longest cell, as a header
    s = add_column(valid_study(), "Subjects", header, ["v"] * 3)
    result = check_workbook(write(tmp_path / "long.xlsx", s), profile)
    quoting = [f for f in result.findings if "HHHH" in f.message]
    assert quoting, [f.message for f in result.findings]
    for f in quoting:
        assert len(f.message) < 400
        assert "'" + "H" * (QUOTE_CHARS - 1) + "…'" in f.message
    short = add_column(valid_study(), "Subjects", "Notes" + "x" * 10, ["v"] * 3)   # short quotes stay whole
    msgs = [f.message for f in check_workbook(write(tmp_path / "short.xlsx", short), profile).findings]
    assert any("'Notesxxxxxxxxxx'" in m for m in msgs)


def test_the_pdf_findings_tables_list_a_few_rows_per_rule_then_how_many_more():
    from monitor.report.view import LISTING_PER_RULE, FindingRow, capped

    rows = [FindingRow(f"id{i}", "major", "LAB005", "duplicate-lab", f"Labs!A{i}", "001", "dup", "")
            for i in range(1000)] + [FindingRow("x", "minor", "WB110", "n", "Subjects!C2", "001", "m", "")]
    out = capped(rows)
    assert len(out) == LISTING_PER_RULE + 2
    assert out[LISTING_PER_RULE].rule == "LAB005" and f"and {1000 - LISTING_PER_RULE:,} more" in \
        out[LISTING_PER_RULE].message
    assert out[-1].id == "x"
    assert capped(rows[:LISTING_PER_RULE]) == rows[:LISTING_PER_RULE]     # at the bound: no extra row


@pytest.mark.slow
def test_fault_injection_small(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import fault_inject

    fig = fault_inject.run(iterations=2, seed=5, seconds=60, workdir=tmp_path, say=lambda *_: None)
    assert fig["iterations"] >= 1
    assert fig["problems"] == [] and fig["orphan_workers"] == 0, fig


def test_identical_lab_rows_are_one_chart_point(tmp_path, profile):
    """300 identical ALT rows: the PDF's liver chart gets one point, not an SVG of 300 (100,000
    such rows took the PDF from minutes to hours before)."""
    from datetime import datetime, timezone

    from builders import header_index, valid_study, write
    from monitor.check import check_workbook
    from monitor.report.view import build_view

    s = valid_study()
    first = s["Labs"][header_index(s, "Labs") + 1]
    s["Labs"].extend([list(first) for _ in range(300)])
    result = check_workbook(write(tmp_path / "dup.xlsx", s), profile)
    view = build_view(result, profile, generated=datetime(2026, 1, 1, tzinfo=timezone.utc), tool_version="t")
    charts = [c for sv in view.subjects for c in sv.charts if c.kind == "subject"]
    liver = [c.data["panels"]["liver"]["series"]["ALT"] for c in charts
             if "series" in c.data["panels"]["liver"] and "ALT" in c.data["panels"]["liver"]["series"]]
    assert liver and all(len(set(p)) == len(p) for p in liver)
    assert any(len(p) < 300 for p in liver)
