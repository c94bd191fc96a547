"""Run history in monitor.db: findings new / persisting / resolved against the previous run of the
same workbook, first and last seen runs, versioned migrations (upgrading a v1 database), and
`monitor history`."""

from __future__ import annotations

import json
import sqlite3

import pytest

from batch_helpers import batch, broken_workbook, clean_workbook, entry, no_summary_pdf
from monitor.batch import history as history_mod
from monitor.batch.commands import history_command
from monitor.batch.history import LATEST, History, HistoryError, migrate, resolve_workbook, schema_version


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    no_summary_pdf(monkeypatch)


def findings(out, path):
    with History(out) as h:
        wid = h.workbook(path)["id"]
        return {r["rule"]: dict(r) for r in h.conn.execute("SELECT * FROM findings WHERE workbook=?", (wid,))}


def test_findings_are_new_persisting_or_resolved_against_the_previous_run(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    wb = box / "site01" / "a.xlsx"
    clean_workbook(wb, Sex="X")                                   # WB110
    r1 = batch(box, out, profile)
    assert (entry(r1, "site01/a.xlsx").new, entry(r1, "site01/a.xlsx").resolved) == (1, 0)

    clean_workbook(wb, Sex="X", Age=150)                          # WB110 stays, WB111 appears
    r2 = batch(box, out, profile)
    e = entry(r2, "site01/a.xlsx")
    assert (e.new, e.persisting, e.resolved) == (1, 1, 0)

    clean_workbook(wb, Age=150)                                   # WB110 fixed
    r3 = batch(box, out, profile)
    e = entry(r3, "site01/a.xlsx")
    assert (e.new, e.persisting, e.resolved) == (0, 1, 1)
    f = findings(out, "site01/a.xlsx")
    assert f["WB110"]["first_seen"] == r1.run_id and f["WB110"]["resolved_run"] == r3.run_id
    assert f["WB110"]["last_seen"] == r2.run_id
    assert f["WB111"]["first_seen"] == r2.run_id and f["WB111"]["resolved_run"] is None
    changes = json.loads((out / "site01" / "a" / "changes.json").read_text())
    assert changes["previous_run"] == r2.run_id and [x["rule"] for x in changes["new"]] == []
    assert len(changes["resolved"]) == 1 and len(changes["persisting"]) == 1


def test_an_unchanged_run_moves_last_seen_and_a_returning_finding_is_new_again(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    wb = box / "a.xlsx"
    clean_workbook(wb, Sex="X")
    r1 = batch(box, out, profile)
    r2 = batch(box, out, profile)                                  # skipped
    assert findings(out, "a.xlsx")["WB110"]["last_seen"] == r2.run_id
    clean_workbook(wb)
    batch(box, out, profile)                                       # resolved
    clean_workbook(wb, Sex="X")
    r4 = batch(box, out, profile)                                  # back again
    assert entry(r4, "a.xlsx").new == 1
    f = findings(out, "a.xlsx")["WB110"]
    assert f["first_seen"] == r1.run_id and f["last_seen"] == r4.run_id and f["resolved_run"] is None


def test_an_unreadable_run_neither_confirms_nor_resolves_findings(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    wb = box / "a.xlsx"
    clean_workbook(wb, Sex="X")
    r1 = batch(box, out, profile)
    broken_workbook(wb)
    r2 = batch(box, out, profile)
    assert entry(r2, "a.xlsx").status == "error"
    f = findings(out, "a.xlsx")["WB110"]
    assert f["resolved_run"] is None and f["last_seen"] == r1.run_id
    assert not (out / "a" / "findings.json").exists()       # no stale findings beside error.json
    clean_workbook(wb, Sex="X")
    e = entry(batch(box, out, profile), "a.xlsx")
    assert (e.new, e.persisting, e.resolved) == (0, 1, 0)


def _v1_database(out):
    out.mkdir(parents=True)
    conn = history_mod.connect(out / history_mod.DB_NAME)
    assert migrate(conn, upto=1, now="2026-01-01T00:00:00+00:00") == 1
    conn.execute("INSERT INTO runs (id, started, finished, status, inbox, profile, profile_sha256, tool_version)"
                 " VALUES (1, '2026-01-01T00:00:00+00:00', '2026-01-01T00:01:00+00:00', 'finished', '/x',"
                 " 'ql1604_bev_hcc', 'old', '0.0.9')")
    conn.execute("INSERT INTO workbooks (id, path, out_dir, out_key, first_run) VALUES (1, 'a.xlsx', 'a', 'a', 1)")
    conn.execute("INSERT INTO checks (run, workbook, status, sha256, config_key, findings, critical, major, minor,"
                 " info, new, persisting, resolved) VALUES (1, 1, 'checked', 'old', 'old', 1, 0, 1, 0, 0, 1, 0, 0)")
    conn.execute("INSERT INTO findings (workbook, id, rule, severity, sheet, cell, message, first_seen, last_seen)"
                 " VALUES (1, '52bcc1d6ed86798c', 'WB110', 'major', 'Subjects', 'B2', 'old text', 1, 1)")
    conn.close()


def test_a_version_1_database_is_upgraded_and_keeps_its_history(tmp_path, profile):
    out = tmp_path / "out"
    _v1_database(out)
    with History(out) as h:
        assert schema_version(h.conn) == LATEST
        versions = [r[0] for r in h.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, LATEST + 1))
        assert h.previous(1).outputs == {}                         # the column v2 added, empty for old rows
    box = tmp_path / "inbox"
    clean_workbook(box / "a.xlsx", Sex="X")                         # the same WB110 finding id
    e = entry(batch(box, out, profile), "a.xlsx")
    assert e.status == "checked" and (e.new, e.persisting, e.resolved) == (0, 1, 0)
    assert findings(out, "a.xlsx")["WB110"]["first_seen"] == 1


def test_reopening_applies_no_migration_twice(tmp_path):
    History(tmp_path).close()
    with History(tmp_path) as h:
        assert h.conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == LATEST


def test_a_database_from_a_newer_monitor_is_refused(tmp_path):
    History(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "monitor.db")
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 'x')", (LATEST + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(HistoryError, match="newer"):
        History(tmp_path)


def test_a_file_that_is_not_a_database_is_refused_plainly(tmp_path):
    (tmp_path / "monitor.db").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(HistoryError, match="not a usable history database"):
        History(tmp_path)


def test_a_failed_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _v1_database(out)
    broken = history_mod.MIGRATIONS + ((LATEST + 1, "broken", ["CREATE TABLE runs (x)"]),)
    monkeypatch.setattr(history_mod, "MIGRATIONS", broken)
    monkeypatch.setattr(history_mod, "LATEST", LATEST + 1)
    conn = history_mod.connect(out / "monitor.db")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert schema_version(conn) == LATEST                            # v2 applied, the broken one rolled back
    conn.close()


def test_history_lists_runs_and_what_changed_in_a_workbook(tmp_path, profile, capsys):
    box, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(box / "site01" / "a.xlsx", Sex="X")
    clean_workbook(box / "site02" / "a.xlsx")
    batch(box, out, profile)
    clean_workbook(box / "site01" / "a.xlsx", Age=150)
    batch(box, out, profile)
    capsys.readouterr()

    assert history_command(out=out) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["run", "started", "kind", "status"] and len(lines) == 3

    assert history_command("site01/a.xlsx", out=out) == 0
    text = capsys.readouterr().out
    assert "+ new      major    WB111" in text and "- resolved major    WB110" in text
    assert "Subjects!B2" in text

    assert history_command("site01/a.xlsx", out=out, format="json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in data["checks"]] == ["checked", "checked"]
    assert [f["rule"] for f in data["open_findings"]] == ["WB111"]

    assert history_command("a.xlsx", out=out) == 2                 # two workbooks end so
    assert "several" in capsys.readouterr().err
    assert history_command("nope.xlsx", out=out) == 2
    assert history_command(out=tmp_path / "empty") == 2
    assert "no history yet" in capsys.readouterr().err


def test_a_workbook_is_found_by_its_own_file_path(tmp_path, profile):
    box, out = tmp_path / "inbox", tmp_path / "out"
    wb = clean_workbook(box / "site01" / "a.xlsx")
    batch(box, out, profile)
    with History(out) as h:
        assert resolve_workbook(h, str(wb)) == "site01/a.xlsx"
        assert resolve_workbook(h, "./site01/a.xlsx") == "site01/a.xlsx"
