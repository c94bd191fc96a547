"""The findings workflow of issue 14: accept, query, responses, statuses in every output, exit
codes, --fail-on-new, resolved findings, the append-only audit trail, schema v4, and the
walk-through on a copy of the sample study."""

from __future__ import annotations

import json
import shutil
import sqlite3

import openpyxl
import pytest

from batch_helpers import DEMO, batch, clean_workbook, entry, monitor
from monitor.batch.history import LATEST, History, connect, migrate, schema_version


def _json(p):
    assert p.returncode in (0, 1), p.stdout + p.stderr
    return json.loads(p.stdout)


def _find(data, rule):
    return next(f for f in data["findings"] if f["rule"] == rule)


def _check(wb, out, *extra):
    return monitor("check", wb, "--out", out, "--format", "json", *extra)


# ----------------------------------------------------------------------------- schema

def test_v3_database_is_migrated_to_v4_with_workflow_and_audit(tmp_path):
    conn = connect(tmp_path / "monitor.db")
    migrate(conn, upto=3)
    conn.close()
    with History(tmp_path) as h:
        assert schema_version(h.conn) == LATEST == 5
        tables = {r[0] for r in h.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"workflow", "audit"} <= tables
        assert "workflow_seen" in {r[1] for r in h.conn.execute("PRAGMA table_info(checks)")}


def test_audit_trail_and_workflow_rows_can_never_be_deleted_or_rewritten(tmp_path):
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X")
    out = tmp_path / "out"
    fid = _find(_json(_check(wb, out)), "WB110")["id"]
    assert monitor("accept", wb, fid, "--reason", "source says X", "--by", "AM", "--out", out).returncode == 0
    conn = sqlite3.connect(out / "monitor.db")
    for sql in ("DELETE FROM audit", "UPDATE audit SET by_name='someone else'", "DELETE FROM workflow"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only|never deleted"):
            conn.execute(sql)
    assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 1


# ----------------------------------------------------------------------------- check

def test_accepted_finding_no_longer_fails_check_and_shows_its_reason(tmp_path):
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X")      # one major finding: WB110
    out = tmp_path / "out"
    p = _check(wb, out)
    assert p.returncode == 1
    f = _find(json.loads(p.stdout), "WB110")
    assert (f["status"], f["reason"], f["query"], f["response"]) == ("open", None, None, None)
    a = monitor("accept", wb, f["id"][:8], "--reason", "confirmed against source", "--by", "Dr Monitor",
                "--out", out)
    assert a.returncode == 0, a.stderr
    assert "accepted" in a.stdout and f["id"] in a.stdout and "Dr Monitor" in a.stdout
    p = _check(wb, out)
    assert p.returncode == 0, "an accepted finding does not count toward the exit code"
    data = json.loads(p.stdout)
    g = _find(data, "WB110")
    assert (g["status"], g["reason"]) == ("accepted", "confirmed against source")
    assert data["summary"]["by_status"]["accepted"] == 1
    text = monitor("check", wb, "--out", out)
    assert text.returncode == 0 and "[accepted: confirmed against source]" in " ".join(text.stdout.split())
    assert "1 accepted" in text.stdout
    csv = (out / "findings.csv").read_text().splitlines()
    assert csv[0].endswith(",status,reason,query,response") and "accepted" in csv[1]


def test_store_defaults_to_output_monitor_db_beside_output_stem(tmp_path):
    wb = clean_workbook(tmp_path / "in" / "site.xlsx", Sex="X")
    p = monitor("check", wb, "--format", "json", cwd=tmp_path)
    assert p.returncode == 1
    assert (tmp_path / "output" / "monitor.db").is_file() and (tmp_path / "output" / "site" / "findings.json").is_file()
    fid = _find(json.loads(p.stdout), "WB110")["id"]
    # accept finds the store without --out (output/, then output/batch/)
    assert monitor("accept", "site.xlsx", fid, "--reason", "ok", "--by", "x", cwd=tmp_path).returncode == 0
    assert monitor("check", wb, cwd=tmp_path).returncode == 0


def test_fail_on_new_fails_only_on_findings_not_seen_in_the_previous_version(tmp_path):
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X")
    out = tmp_path / "out"
    assert _check(wb, out, "--fail-on-new").returncode == 1      # no earlier version: all are new
    assert _check(wb, out, "--fail-on-new").returncode == 1      # the same bytes again: still new
    clean_workbook(wb, Sex="X", Age=640)                           # a second version adds WB111
    p = _check(wb, out, "--fail-on-new")
    assert p.returncode == 1
    data = json.loads(p.stdout)
    assert _find(data, "WB111")["new"] is True and _find(data, "WB110")["new"] is False
    assert data["summary"]["new"] == 1
    assert monitor("accept", wb, _find(data, "WB111")["id"], "--reason", "age confirmed", "--by", "AM",
                   "--out", out).returncode == 0
    assert _check(wb, out, "--fail-on-new").returncode == 0, "only the old WB110 is left: not new"
    assert _check(wb, out).returncode == 1, "without --fail-on-new the open WB110 still fails"


def test_a_finding_that_disappears_is_resolved(tmp_path):
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X")
    out = tmp_path / "out"
    fid = _find(_json(_check(wb, out)), "WB110")["id"]
    assert monitor("query", wb, fid, "--text", "Sex X?", "--by", "AM", "--out", out).returncode == 0
    clean_workbook(wb)                                             # the site fixed it
    data = _json(_check(wb, out))
    assert data["findings"] == [] and [(r["id"], r["status"]) for r in data["resolved"]] == [(fid, "resolved")]
    h = monitor("history", "site.xlsx", "--out", out, "--format", "json")
    actions = [(a["finding"], a["action"], a["by_name"]) for a in json.loads(h.stdout)["audit"]]
    assert actions == [(fid, "queried", "AM"), (fid, "resolved", "monitor")]


def test_accept_and_query_refuse_unknown_workbooks_findings_and_empty_text(tmp_path):
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X")
    out = tmp_path / "out"
    fid = _find(_json(_check(wb, out)), "WB110")["id"]
    for args, words in ((("accept", wb, "0000000000", "--reason", "x"), "has no finding"),
                        (("accept", "other.xlsx", fid, "--reason", "x"), "not in the history"),
                        (("accept", wb, fid, "--reason", "  "), "must not be empty"),
                        (("query", wb, fid, "--text", "q", "--out", tmp_path / "none"), "no history yet")):
        p = monitor(*args, *(() if "--out" in args else ("--out", out)))
        assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- responses

def _answer(copy, dst, answers: dict, author="Site 01 coordinator"):
    wb = openpyxl.load_workbook(copy)
    ws = wb["Findings"]
    heads = [c.value for c in ws[4]]
    fid_col, resp_col = heads.index("Finding ID"), heads.index("Response")
    for row in ws.iter_rows(min_row=5):
        if row[fid_col].value in answers:
            row[resp_col].value = answers[row[fid_col].value]
    wb.properties.lastModifiedBy = author
    wb.save(dst)
    return dst


def test_responses_typed_in_the_annotated_copy_are_recorded_once(tmp_path):
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X", Age=640)
    out = tmp_path / "out"
    data = _json(_check(wb, out))
    q, other = _find(data, "WB110")["id"], _find(data, "WB111")["id"]
    assert monitor("query", wb, q, "--text", "Please check sex", "--by", "AM", "--out", out).returncode == 0
    copy = out / "site-annotated.xlsx"
    assert monitor("annotate", wb, "--history", out, "--out", copy).returncode == 0
    ws = openpyxl.load_workbook(copy)["Findings"]
    heads = [c.value for c in ws[4]]
    assert heads[-3:] == ["Status", "Query", "Response"]
    rows = {r[heads.index("Finding ID")]: r for r in ws.iter_rows(min_row=5, values_only=True)}
    assert rows[q][-3:-1] == ("queried", "Please check sex") and rows[other][-3] == "open"
    back = _answer(copy, tmp_path / "returned.xlsx", {q: "Female: typo, corrected", other: "no query here"})
    p = monitor("responses", back)          # no --out: the history the copy was written from
    assert p.returncode == 0, p.stderr
    assert "1 response recorded" in p.stdout and "Site 01 coordinator" in p.stdout
    assert "not recorded" in p.stdout and "no open query" in p.stdout
    assert "0 responses recorded, 1 already recorded" in monitor("responses", back).stdout
    f = _find(_json(_check(wb, out)), "WB110")
    assert (f["status"], f["query"], f["response"]) == ("answered", "Please check sex", "Female: typo, corrected")


def test_responses_refuses_a_copy_that_does_not_name_its_workbook(tmp_path):
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X")
    copy = tmp_path / "copy.xlsx"
    assert monitor("annotate", wb, "--history", tmp_path / "nothing", "--out", copy).returncode == 0
    p = monitor("responses", copy, "--out", tmp_path)
    assert p.returncode == 2 and "does not name its workbook" in p.stderr
    p = monitor("responses", wb, "--out", tmp_path)
    assert p.returncode == 2 and "Findings sheet" in p.stderr


# ----------------------------------------------------------------------------- report

def test_report_knows_what_is_new_without_previous_after_check(tmp_path):
    """The bug: `report --previous output/WB/findings.json` after `check` said 0 new, because
    check had just written that file. The history store compares with the previous version."""
    pypdf = pytest.importorskip("pypdf")
    wb = clean_workbook(tmp_path / "site.xlsx", Sex="X")
    out = tmp_path / "out"
    assert _check(wb, out).returncode == 1
    clean_workbook(wb, Sex="X", Age=640)                   # new version: one new finding
    data = _json(_check(wb, out))
    fid = _find(data, "WB110")["id"]
    monitor("accept", wb, fid, "--reason", "checked against source", "--by", "AM", "--out", out)
    r = monitor("report", wb, "--out", out, "--now", "2026-01-01T09:00:00Z", timeout=600)
    assert r.returncode == 0, r.stderr
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(r.stdout.strip().splitlines()[-1]).pages)
    assert "1 new since the previous run" in " ".join(text.split())
    assert "accepted: checked against source" in " ".join(text.split())


# ----------------------------------------------------------------------------- batch

def test_batch_accepted_finding_no_longer_fails_and_the_workbook_is_rewritten(tmp_path, profile):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    clean_workbook(inbox / "site01.xlsx", Sex="X")
    r1 = batch(inbox, out, profile)
    assert r1.exit_code == 1 and entry(r1, "site01.xlsx").failing == 1
    fid = json.loads((out / "site01" / "findings.json").read_text())["findings"][0]["id"]
    assert monitor("accept", "site01.xlsx", fid, "--reason", "ok per protocol", "--by", "AM",
                   "--out", out).returncode == 0
    r2 = batch(inbox, out, profile)
    e = entry(r2, "site01.xlsx")
    assert r2.exit_code == 0 and e.status == "checked", "a workflow change re-writes the outputs"
    assert e.by_status["accepted"] == 1 and e.failing == 0
    from monitor.batch.console import summary_text

    assert "workflow:   1 accepted" in summary_text(r2) and "exit code 0" in summary_text(r2)
    f = json.loads((out / "site01" / "findings.json").read_text())["findings"][0]
    assert (f["status"], f["reason"]) == ("accepted", "ok per protocol")
    r3 = batch(inbox, out, profile)
    assert entry(r3, "site01.xlsx").status == "skipped" and r3.exit_code == 0


def test_walk_through_check_accept_query_answer_batch_history(tmp_path):
    """Issue 14, done when: the whole loop on a copy of the sample study."""
    inbox, out = tmp_path / "inbox", tmp_path / "monitor"
    inbox.mkdir()
    wb = shutil.copyfile(DEMO, inbox / "demo_study.xlsx")
    # 1. check
    p = monitor("check", wb, "--out", out, "--format", "json")
    assert p.returncode == 1
    findings = json.loads(p.stdout)["findings"]
    acc = next(f for f in findings if f["severity"] == "critical")
    qry = next(f for f in findings if f["severity"] == "major" and f["cell"])
    failing_before = sum(f["severity"] in ("critical", "major") for f in findings)
    # 2. accept one finding, query another
    assert monitor("accept", wb, acc["id"], "--reason", "confirmed against source notes", "--by", "Study Monitor",
                   "--out", out).returncode == 0
    assert monitor("query", "demo_study.xlsx", qry["id"], "--text", "Please confirm against the source",
                   "--by", "Study Monitor", "--out", out).returncode == 0
    # 3. batch writes the annotated copy with the query; the site answers in it
    b = monitor("batch", inbox, "--out", out, "--no-pdf", "-j", "1", "--format", "json")
    assert b.returncode == 1, "the other findings are still open"
    assert json.loads(b.stdout)["workbooks"][0]["failing"] == failing_before - 1, "the accepted one does not count"
    copy = out / "demo_study" / "demo_study-annotated.xlsx"
    back = _answer(copy, tmp_path / "from-site.xlsx", {qry["id"]: "Corrected in the source-verified copy"})
    r = monitor("responses", back, "--out", out)
    assert r.returncode == 0 and "1 response recorded" in r.stdout
    # 4. re-run batch
    b = monitor("batch", inbox, "--out", out, "--no-pdf", "-j", "1", "--format", "json", "--fail-on-new")
    assert b.returncode == 0, "nothing new since the last run, and the accepted one does not count"
    e = json.loads(b.stdout)["workbooks"][0]
    assert e["status"] == "checked" and e["failing"] == 0
    assert e["by_status"]["accepted"] == 1 and e["by_status"]["answered"] == 1
    data = {f["id"]: f for f in json.loads((out / "demo_study" / "findings.json").read_text())["findings"]}
    assert data[acc["id"]]["status"] == "accepted"
    assert (data[qry["id"]]["status"], data[qry["id"]]["response"]) == ("answered",
                                                                         "Corrected in the source-verified copy")
    rows = {r[7]: r for r in openpyxl.load_workbook(copy)["Findings"].iter_rows(min_row=5, values_only=True)}
    assert rows[qry["id"]][-1] == "Corrected in the source-verified copy"
    # 5. history shows who did what
    h = monitor("history", "demo_study.xlsx", "--out", out)
    assert h.returncode == 0
    trail = [line for line in h.stdout.splitlines() if line.startswith("  20")]
    assert [line.split()[1:3] for line in trail[:2]] == [["Study", "Monitor"], ["Study", "Monitor"]]
    assert "accepted" in trail[0] and "queried" in trail[1]
    assert "Site 01 coordinator" in trail[2] and "answered" in trail[2]


def test_batch_records_answers_typed_into_its_own_annotated_copy_before_rewriting_it(tmp_path, profile):
    """A coordinator who answers in the copy where batch wrote it does not lose the answers when
    the next run writes the copy again: they are recorded first (by the copy's last author)."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    wb = clean_workbook(inbox / "site01.xlsx", Sex="X")
    batch(inbox, out, profile)
    fid = json.loads((out / "site01" / "findings.json").read_text())["findings"][0]["id"]
    assert monitor("query", "site01.xlsx", fid, "--text", "Sex?", "--by", "AM", "--out", out).returncode == 0
    batch(inbox, out, profile)                                   # the copy now shows the query
    copy = out / "site01" / "site01-annotated.xlsx"
    _answer(copy, copy, {fid: "F, corrected"}, author="J. Site")  # answered in place
    clean_workbook(wb, Sex="X", Age=640)                          # and the workbook changed too
    r = batch(inbox, out, profile)
    assert entry(r, "site01.xlsx").by_status["answered"] == 1
    f = next(f for f in json.loads((out / "site01" / "findings.json").read_text())["findings"] if f["id"] == fid)
    assert (f["status"], f["response"]) == ("answered", "F, corrected")
    h = json.loads(monitor("history", "site01.xlsx", "--out", out, "--format", "json").stdout)
    assert [(a["action"], a["by_name"]) for a in h["audit"]] == [("queried", "AM"), ("answered", "J. Site")]


def test_a_queried_finding_keeps_its_own_line_when_its_cause_is_grouped(tmp_path):
    """Main folds one cause on 3+ rows into one line of the Findings sheet; a finding someone
    acted on stays on its own line, so its Query and Response columns have a place."""
    from builders import set_cells, valid_study, write

    s = valid_study()
    for i in range(3):
        set_cells(s, "Subjects", i, Sex="X")                      # WB110 on three rows: one group
    wb = write(tmp_path / "site.xlsx", s)
    out = tmp_path / "out"
    data = _json(_check(wb, out))
    ids = [f["id"] for f in data["findings"] if f["rule"] == "WB110"]
    assert len(ids) == 3
    copy = tmp_path / "plain.xlsx"
    assert monitor("annotate", wb, "--history", out, "--out", copy).returncode == 0
    listed = [r[7] for r in openpyxl.load_workbook(copy)["Findings"].iter_rows(min_row=5, values_only=True)]
    assert not set(ids) & set(listed), "three rows of one cause: one group line"
    assert monitor("query", wb, ids[1], "--text", "Sex?", "--by", "AM", "--out", out).returncode == 0
    assert monitor("annotate", wb, "--history", out, "--out", copy).returncode == 0
    rows = {r[7]: r for r in openpyxl.load_workbook(copy)["Findings"].iter_rows(min_row=5, values_only=True)}
    assert rows[ids[1]][-3:-1] == ("queried", "Sex?")
