"""`monitor batch`: every workbook of an inbox checked into its own output folder, unchanged ones
skipped by hash, unreadable ones recorded and the batch going on, exit codes over the batch,
files that must not be checked ignored, and outputs that never leave --out."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from batch_helpers import (DEMO, MESSY, batch, batch_json, broken_workbook, clean_workbook, copy_to, entry,
                           monitor, no_summary_pdf)
from monitor.batch import outputs as out_files
from monitor.batch.files import discover, out_rel, safe_join
from monitor.batch.history import History
from monitor.batch.runner import BatchError, BatchOptions, Runner, exit_code


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    no_summary_pdf(monkeypatch)


@pytest.fixture
def inbox(tmp_path):
    box = tmp_path / "inbox"
    clean_workbook(box / "site01" / "clean.xlsx")
    clean_workbook(box / "site02" / "sex.xlsx", Sex="X")       # one major finding (WB110)
    return box


def test_every_workbook_in_sub_folders_gets_its_outputs_under_its_relative_path(inbox, tmp_path, profile):
    out = tmp_path / "out"
    report = batch(inbox, out, profile)
    assert [e.path for e in report.workbooks] == ["site01/clean.xlsx", "site02/sex.xlsx"]
    assert [e.status for e in report.workbooks] == ["checked", "checked"]
    for stem, folder in (("clean", out / "site01" / "clean"), ("sex", out / "site02" / "sex")):
        assert (folder / "findings.json").is_file() and (folder / "findings.csv").is_file()
        assert (folder / f"{stem}-annotated.xlsx").is_file()
        assert (folder / "changes.json").is_file()
    sex = json.loads((out / "site02" / "sex" / "findings.json").read_text())
    assert [f["rule"] for f in sex["findings"]] == ["WB110"]
    assert (out / "batch.json").is_file() and (out / "monitor.db").is_file()


def test_batch_json_has_the_documented_fields(inbox, tmp_path, profile):
    out = tmp_path / "out"
    batch(inbox, out, profile)
    data = batch_json(out)
    assert {"run_id", "started", "finished", "workbooks", "outputs"} <= set(data)
    wb = next(w for w in data["workbooks"] if w["path"] == "site02/sex.xlsx")
    assert {"path", "sha256", "status", "error", "findings", "by_severity", "new", "resolved",
            "outputs"} <= set(wb)
    assert wb["findings"] == 1 and wb["by_severity"]["major"] == 1 and wb["new"] == 1 and wb["resolved"] == 0
    assert wb["outputs"]["findings_json"] == "site02/sex/findings.json"
    assert data["outputs"]["batch_json"] == "batch.json"
    # the PDF summaries are either written or their absence is explained
    assert data["outputs"].get("summary_pdf") or "summary_pdf" in data["notes"]
    assert "report_pdf" in wb["outputs"] or "report_pdf" in wb["notes"]


def test_an_unreadable_workbook_is_an_error_and_the_batch_goes_on(inbox, tmp_path, profile):
    broken_workbook(inbox / "site03" / "broken.xlsx")
    out = tmp_path / "out"
    report = batch(inbox, out, profile)
    bad = entry(report, "site03/broken.xlsx")
    assert bad.status == "error" and "not a zip archive" in bad.error
    assert str(inbox) not in bad.error           # named by its path in the inbox
    assert entry(report, "site01/clean.xlsx").status == "checked"
    assert report.exit_code == 2
    assert json.loads((out / "site03" / "broken" / "error.json").read_text())["error"] == bad.error


def test_an_unchanged_workbook_is_skipped_and_keeps_its_findings_and_exit_code(inbox, tmp_path, profile):
    out = tmp_path / "out"
    first = batch(inbox, out, profile)
    second = batch(inbox, out, profile)
    assert [e.status for e in second.workbooks] == ["skipped", "skipped"]
    sex = entry(second, "site02/sex.xlsx")
    assert sex.findings == 1 and sex.by_severity["major"] == 1 and sex.new == 0 and sex.resolved == 0
    assert sex.outputs == entry(first, "site02/sex.xlsx").outputs
    assert first.exit_code == second.exit_code == 1


def test_force_checks_unchanged_workbooks_again(inbox, tmp_path, profile):
    out = tmp_path / "out"
    batch(inbox, out, profile)
    again = batch(inbox, out, profile, force=True)
    assert [e.status for e in again.workbooks] == ["checked", "checked"]
    assert entry(again, "site02/sex.xlsx").new == 0 and entry(again, "site02/sex.xlsx").persisting == 1


def test_changed_bytes_or_profile_content_make_a_workbook_checked_again(inbox, tmp_path, profile):
    from monitor.profile.profile import bundled_profiles, load_profile

    out = tmp_path / "out"
    batch(inbox, out, profile)
    clean_workbook(inbox / "site01" / "clean.xlsx", Age=70)      # new bytes
    report = batch(inbox, out, profile)
    assert entry(report, "site01/clean.xlsx").status == "checked"
    assert entry(report, "site02/sex.xlsx").status == "skipped"
    # the same profile with one number changed: every workbook again
    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    assert "sae_report_hours = 24" in text
    edited = tmp_path / "edited.toml"
    edited.write_text(text.replace("sae_report_hours = 24", "sae_report_hours = 48"))
    report = batch(inbox, out, load_profile(edited))
    assert {e.status for e in report.workbooks} == {"checked"}


def test_a_workbook_whose_outputs_were_deleted_is_checked_again(inbox, tmp_path, profile):
    out = tmp_path / "out"
    batch(inbox, out, profile)
    (out / "site02" / "sex" / "sex-annotated.xlsx").unlink()
    report = batch(inbox, out, profile)
    assert entry(report, "site02/sex.xlsx").status == "checked"
    assert (out / "site02" / "sex" / "sex-annotated.xlsx").is_file()


@pytest.mark.parametrize("statuses, severities, fail_on, expected", [
    (["checked"], [{}], "major", 0),
    (["checked", "skipped"], [{}, {"major": 1}], "major", 1),          # an unchanged file still counts
    (["checked"], [{"minor": 3}], "major", 0),
    (["checked"], [{"minor": 3}], "minor", 1),
    (["checked", "error"], [{"critical": 1}, None], "major", 2),         # unreadable wins
    ([], [], "major", 0),                                                 # an empty inbox
])
def test_exit_code_is_taken_over_the_whole_batch(statuses, severities, fail_on, expected):
    from monitor.batch.runner import Entry
    from monitor.findings import Severity

    entries = []
    for i, (st, sev) in enumerate(zip(statuses, severities)):
        full = None if sev is None else {s: sev.get(s, 0) for s in ("critical", "major", "minor", "info")}
        entries.append(Entry(f"w{i}.xlsx", None, st, by_severity=full))
    assert exit_code(entries, Severity.parse(fail_on)) == expected


def test_lock_hidden_and_temporary_files_and_links_outside_the_inbox_are_ignored(tmp_path):
    box = tmp_path / "inbox"
    clean_workbook(box / "a.xlsx")
    (box / "~$a.xlsx").write_bytes(b"lock")
    (box / ".~lock.a.xlsx#").write_bytes(b"lock")
    (box / ".a.xlsx.Xy12ab34.tmp").write_bytes(b"tmp")
    (box / ".hidden.xlsx").write_bytes(b"x")
    (box / "a.xlsx.tmp").write_bytes(b"x")
    (box / "notes.txt").write_text("x")
    outside = clean_workbook(tmp_path / "elsewhere" / "secret.xlsx")
    (box / "link-out.xlsx").symlink_to(outside)
    (box / "link-in.xlsx").symlink_to(box / "a.xlsx")
    (box / "linked-folder").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    os.mkfifo(box / "pipe.xlsx")
    found, ignored = discover(box)
    assert [c.rel for c in found] == ["a.xlsx", "link-in.xlsx"]
    reasons = {i.rel: i.reason for i in ignored}
    assert "lock" in reasons["~$a.xlsx"].lower()
    assert "outside the inbox" in reasons["link-out.xlsx"]
    assert "not followed" in reasons["linked-folder/"]
    assert "regular" in reasons["pipe.xlsx"]
    assert ".hidden.xlsx" not in {c.rel for c in found}


@pytest.mark.parametrize("rel, expected", [
    ("site01/a.xlsx", "site01/a"),
    ("a.XLSX", "a"),
    ("a.xlsm", "a.xlsm"),                   # only .xlsx is dropped: a.xlsx and a.xlsm never share
    ("../../etc/x.xlsx", "_/_/etc/x"),
    ("/etc/x.xlsx", "etc/x"),
    ("batch.json.xlsx", "batch.json_"),      # never the batch's own files
    ("monitor.db.xlsx", "monitor.db_"),
    (".xlsx", "_xlsx"),
    ("a/./b.xlsx", "a/b"),
    ("a\\..\\b.xlsx", "a/_/b"),
    ("x\x00y.xlsx", "x_y"),
])
def test_output_folders_stay_inside_out_whatever_the_names(rel, expected, tmp_path):
    assert out_rel(rel) == expected
    out = tmp_path / "out"
    out.mkdir()
    target = safe_join(out, out_rel(rel))
    assert target.is_relative_to(out.resolve()) and target != out.resolve()


def test_a_planted_link_in_the_output_folder_cannot_lead_outside_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "site01").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValueError):
        safe_join(out, "site01/a")


def test_an_output_folder_inside_the_inbox_is_refused(inbox, profile):
    with pytest.raises(BatchError, match="inside the inbox"):
        Runner(BatchOptions(inbox=inbox, out=inbox / "out", profile=profile))
    assert not (inbox / "out").exists()


def test_the_inbox_is_never_written(inbox, tmp_path, profile):
    broken_workbook(inbox / "broken.xlsx")
    def snapshot():
        return {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in inbox.rglob("*")}

    before = snapshot()
    batch(inbox, tmp_path / "out", profile)
    batch(inbox, tmp_path / "out", profile, force=True)
    assert snapshot() == before


def test_workbooks_whose_output_folders_collide_get_distinct_folders(tmp_path, profile):
    box = tmp_path / "inbox"
    clean_workbook(box / "Site.xlsx")
    clean_workbook(box / "site.xlsx", Sex="X")   # the same folder on a case-insensitive disk
    out = tmp_path / "out"
    report = batch(box, out, profile)
    folders = {e.path: e.out_dir for e in report.workbooks}
    assert folders == {"Site.xlsx": "Site", "site.xlsx": "site~2"}
    again = batch(box, out, profile, force=True)    # a workbook keeps its folder
    assert {e.path: e.out_dir for e in again.workbooks} == folders


def test_a_run_cut_short_keeps_the_finished_workbooks_and_the_next_run_does_the_rest(inbox, tmp_path, profile):
    class StopAfterFirst:
        def start(self, total): pass
        def checking(self, n): pass
        def note(self, text): pass
        def finish(self, report): pass

        def done(self, e):
            raise KeyboardInterrupt

    out = tmp_path / "out"
    runner = Runner(BatchOptions(inbox=inbox, out=out, profile=profile, jobs=1, pdf=False), StopAfterFirst())
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    runner.close()
    assert not (out / "batch.json").exists()
    with History(out) as h:
        assert [r["status"] for r in h.runs()] == ["interrupted"]
    report = batch(inbox, out, profile)
    assert sorted(e.status for e in report.workbooks) == ["checked", "skipped"]


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted(inbox, tmp_path, profile):
    out = tmp_path / "out"
    out.mkdir()
    with History(out) as h:
        h.start_run(started="2026-01-01T00:00:00+00:00", inbox=str(inbox), profile="p", profile_sha256="x",
                    tool_version="0", fail_on="major", jobs=1, forced=False)
    batch(inbox, out, profile)
    with History(out) as h:
        assert [r["status"] for r in h.runs()] == ["interrupted", "finished"]


def test_a_missing_report_module_is_said_in_the_outputs(inbox, tmp_path, profile, monkeypatch):
    monkeypatch.setattr(out_files, "report_available", lambda: False)
    out = tmp_path / "out"
    report = batch(inbox, out, profile, pdf=True)
    e = entry(report, "site01/clean.xlsx")
    assert "report_pdf" not in e.outputs and "not installed" in e.notes["report_pdf"]
    assert entry(batch(inbox, out, profile, pdf=True), "site01/clean.xlsx").status == "skipped"
    # once the module is there, the workbooks are checked again to get their PDFs
    monkeypatch.setattr(out_files, "report_available", lambda: True)
    monkeypatch.setattr(out_files, "render_pdf", lambda result, target, *a: target.write_bytes(b"%PDF") and target)
    again = batch(inbox, out, profile, pdf=True)
    assert {e.status for e in again.workbooks} == {"checked"}
    assert entry(again, "site01/clean.xlsx").outputs["report_pdf"] == "site01/clean/clean-summary.pdf"


def test_no_pdf_leaves_the_pdfs_out_and_says_so(inbox, tmp_path, profile):
    out = tmp_path / "out"
    report = batch(inbox, out, profile, pdf=False)
    assert "not requested" in entry(report, "site01/clean.xlsx").notes["report_pdf"]
    assert report.outputs["summary_pdf"] is None and "not requested" in report.notes["summary_pdf"]
    assert not list(out.rglob("*.pdf"))


def test_a_report_renderer_is_called_with_the_result_and_the_target(tmp_path):
    """The report module is discovered at run time: whatever it calls its output parameter."""
    from monitor.batch.outputs import render_pdf

    class Result:
        findings = []

    calls = {}

    def render_report(result, out, *, new_ids=frozenset(), title="x"):
        calls.update(result=result, out=out, new_ids=new_ids)
        Path(out).write_bytes(b"%PDF-1.7")
        return Path(out)

    import types
    import sys
    fake = types.ModuleType("monitor.report.render")
    fake.render_report = render_report
    sys.modules["monitor.report.render"] = fake
    try:
        path = render_pdf(Result(), tmp_path / "x-summary.pdf")
    finally:
        del sys.modules["monitor.report.render"]
    assert path == tmp_path / "x-summary.pdf" and calls["out"] == path and calls["new_ids"] == frozenset()


@pytest.mark.slow
def test_results_are_the_same_whatever_the_jobs_count(tmp_path, profile):
    box = tmp_path / "inbox"
    copy_to(MESSY, box / "site02" / "messy.xlsx")
    clean_workbook(box / "site01" / "clean.xlsx")
    clean_workbook(box / "site03" / "sex.xlsx", Sex="X")
    broken_workbook(box / "site04" / "broken.xlsx")
    one = batch(box, tmp_path / "out1", profile, jobs=1)
    two = batch(box, tmp_path / "out2", profile, jobs=2)
    strip = lambda r: [e.to_dict() for e in r.workbooks]  # noqa: E731
    assert strip(one) == strip(two)
    for e in one.workbooks:
        if e.status == "checked":
            a = json.loads((tmp_path / "out1" / e.outputs["findings_json"]).read_text())
            b = json.loads((tmp_path / "out2" / e.outputs["findings_json"]).read_text())
            assert a["findings"] == b["findings"]


def crash_on_purpose(task):
    """A worker that dies (as a segfault would) on workbooks named crash*.xlsx."""
    from monitor.batch.runner import check_one

    if Path(task["path"]).name.startswith("crash"):
        os._exit(70)
    return check_one(task)


@pytest.mark.slow
def test_a_worker_process_that_dies_fails_only_its_own_workbook(tmp_path, profile, monkeypatch):
    import monitor.batch.runner as runner_mod

    box = tmp_path / "inbox"
    clean_workbook(box / "a.xlsx")
    clean_workbook(box / "crash.xlsx")
    clean_workbook(box / "z.xlsx", Sex="X")
    monkeypatch.setattr(runner_mod, "check_one", crash_on_purpose)
    report = batch(box, tmp_path / "out", profile, jobs=2)
    assert {e.path: e.status for e in report.workbooks} == {"a.xlsx": "checked", "crash.xlsx": "error",
                                                            "z.xlsx": "checked"}
    assert "died" in entry(report, "crash.xlsx").error
    assert report.exit_code == 2


@pytest.mark.slow
def test_the_batch_command_end_to_end(tmp_path):
    box = tmp_path / "inbox"
    copy_to(DEMO, box / "site01" / "demo_study.xlsx")
    broken_workbook(box / "site02" / "broken.xlsx")
    out = tmp_path / "out"
    p = monitor("batch", box, "--out", out, "--jobs", "2", "--no-pdf")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    assert "1 checked" in p.stdout and "1 unreadable" in p.stdout
    assert "ERROR" in p.stderr and "site02/broken.xlsx" in p.stderr     # progress lines (not a terminal)
    data = batch_json(out)
    assert [w["status"] for w in data["workbooks"]] == ["checked", "error"]

    shutil.copyfile(DEMO, box / "site02" / "broken.xlsx")               # the site fixed it
    p = monitor("batch", box, "--out", out, "--format", "json", "--fail-on", "critical", "--no-pdf")
    assert p.returncode == 1, p.stderr
    data = json.loads(p.stdout)
    assert [w["status"] for w in data["workbooks"]] == ["skipped", "checked"]
    assert data == batch_json(out)

    p = monitor("history", "--out", out)
    assert p.returncode == 0 and len(p.stdout.strip().splitlines()) == 3       # header + 2 runs
    p = monitor("history", "broken.xlsx", "--out", out)
    assert p.returncode == 0, p.stderr
    assert "error" in p.stdout and "+ new" in p.stdout

    p = monitor("batch", tmp_path / "nowhere", "--out", out)
    assert p.returncode == 2 and "no such folder" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_each_workbook_gets_its_pdf_summary_when_the_report_module_is_there(tmp_path, profile, monkeypatch):
    if not out_files.report_available():
        pytest.skip("monitor.report is not installed")
    from monitor.batch import summary

    monkeypatch.setattr(summary, "write_summary_pdf", lambda out, report: (None, "not in this test"))
    box = tmp_path / "inbox"
    clean_workbook(box / "a.xlsx", Sex="X")
    report = batch(box, tmp_path / "out", profile, pdf=True)
    e = entry(report, "a.xlsx")
    assert e.outputs.get("report_pdf") == "a/a-summary.pdf", e.notes
    assert (tmp_path / "out" / "a" / "a-summary.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("rel, stem", [
    ("site01/Visit 3.xlsx", "Visit 3"),
    ("x\x01y.xlsx", "x_y"),
    ("a.xlsm", "a.xlsm"),
    ("a" * 300 + ".xlsx", "a" * 150),
])
def test_output_file_names_are_cleaned_and_short_enough(rel, stem):
    from monitor.batch.files import file_stem

    assert file_stem(rel) == stem
