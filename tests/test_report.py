"""The PDF cycle summary: view model of the demo study, security of the rendering, determinism,
the one-cycle summary and the `monitor report` command."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from builders import fresh, set_cells, set_study, write
from monitor.check import check_workbook
from monitor.report import build_view, make_report
from monitor.report.render import AssetFetcher, environment, plan_parts, render_html

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "sample_sheets" / "demo_study.xlsx"
NOW = dt.datetime(2024, 3, 15, 12, 0, tzinfo=dt.timezone.utc)      # the demo's data cut
LATER = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.timezone.utc)       # builders.valid_study() is in 2025
HOSTILE_IMG = '<img src="file:///etc/passwd">'
HOSTILE_LINK = '<link rel="stylesheet" href="http://example.invalid/x.css">'


def pdf_text(path_or_bytes) -> str:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(p.extract_text() for p in reader.pages)


@pytest.fixture(scope="session")
def demo_result(profile):
    return check_workbook(DEMO, profile, now=NOW)


@pytest.fixture(scope="session")
def demo_view(demo_result, profile):
    return build_view(demo_result, profile, generated=NOW, tool_version="9.9.9")


def subject(view, sid):
    (s,) = [s for s in view.subjects if s.id == sid]
    return s


def cycle(s, n):
    (c,) = [c for c in s.cycles if c.number == n]
    return c


# ------------------------------------------------------------------ the view model of the demo study

def test_overview_names_the_study_and_counts_what_the_workbook_holds(demo_view, demo_result):
    m = demo_view.meta
    assert (m.protocol, m.site, m.profile, m.tool_version) == ("QL1604-HCC-201", "01", "ql1604_bev_hcc", "9.9.9")
    assert m.generated == "2024-03-15 12:00 UTC" and m.sha256 == demo_result.sha256
    # the data cut is the latest date not after the run date: the typo 2042-01-15 does not move it
    assert m.data_cut == "12-MAR-2024"
    assert [s.id for s in demo_view.subjects] == [f"{i:03d}" for i in range(1, 11)]
    assert demo_view.counts["Subjects"] == 10
    assert demo_view.n_findings == len(demo_result.findings)
    assert sum(t for _, _, t in demo_view.findings_matrix) == len(demo_result.findings)


def test_grade_3_or_higher_adverse_events_are_listed(demo_view):
    severe = {(sid, a.term, a.grade) for sid, a in demo_view.severe_aes}
    assert ("002", "Hepatic failure", "G4") in severe
    assert ("003", "Hypertension", "G3") in severe
    assert all(a.grade_n >= 3 for _, a in demo_view.severe_aes)


def test_subject_header_and_status(demo_view):
    s = subject(demo_view, "001")
    assert (s.sex, s.age, s.weight, s.child_pugh, s.bclc, s.ecog) == ("M", "64", "45 kg", "A", "C", "1")
    assert s.first_dose == "05-JUL-2022"
    assert s.status.startswith("Off treatment 29-FEB-2024")
    assert s.n_findings["critical"] == 0
    assert subject(demo_view, "003").status == "On treatment"


def test_held_dose_shows_action_reason_and_planned_dose(demo_view):
    c4 = cycle(subject(demo_view, "002"), 4)
    ql = [d for d in c4.doses if d.drug == "QL1604"][0]
    assert ql.action == "Held" and ql.given == "-" and "hepatitis" in ql.reason.lower()
    assert ql.planned == "200 mg"
    assert c4.status_css == "changed" and "Held" in c4.status


def test_drug_alias_and_mg_dose_are_read_against_the_profile(demo_view):
    # 003 writes bevacizumab as `Avastin`, dosed in mg (870 mg for 15 mg/kg at 57.9 kg)
    c1 = cycle(subject(demo_view, "003"), 1)
    bev = [d for d in c1.doses if d.drug == "Bevacizumab"][0]
    assert bev.given.startswith("870 mg") and "15 mg/kg" in bev.given
    assert bev.planned == "15 mg/kg = 868 mg at 57.9 kg"   # the weight entered for the dose


def test_pre_dose_labs_carry_their_ctcae_grade_as_text(demo_view):
    s = subject(demo_view, "002")
    graded = [(c.number, text, css) for c in s.cycles for text, css in c.lab_line if css == "g3"]
    assert any(text.startswith("ALT 245") and text.endswith("G3") for _, text, _ in graded), graded
    # colour never alone: every shaded value carries its grade in its text
    for c in s.cycles:
        for text, css in c.lab_line:
            if css:
                assert text.endswith(f"G{css[1]}")


def test_outside_lab_units_are_shown_where_they_differ(demo_view):
    s = subject(demo_view, "007")
    cells = [cell for c in s.cycles for cell in c.all_labs if cell.test == "HGB" and cell.unit == "g/dL"]
    assert cells and any(cell.grade == "G3" for cell in cells)


def test_cycle_without_pre_dose_labs_says_so(demo_view):
    s = subject(demo_view, "008")
    notes = [c.number for c in s.cycles if c.labs_note]
    assert 5 in notes     # "no pre-dose labs before cycle 5" (sample_sheets/README.md)
    c5 = cycle(s, 5)
    assert c5.labs_note == "No labs within 3 days before the dose." and c5.lab_line == []


def test_findings_are_attached_to_their_cycle(demo_view, demo_result):
    c7 = cycle(subject(demo_view, "007"), 7)
    assert any(f.rule == "WB207" and f.where == "Cycles!I249" for f in c7.findings)
    # every finding is in the listing exactly once
    listed = [i for _, _, rows in demo_view.findings_groups for f in rows for i in (f.member_ids or (f.id,))]
    assert sorted(listed) == sorted(f.id for f in demo_result.findings)


def test_future_typo_dates_are_not_attached_to_a_cycle(demo_view):
    s = subject(demo_view, "009")
    in_cycles = [f for c in s.cycles for f in c.findings if f.rule == "WB112"]
    assert not in_cycles
    assert any(f.rule == "WB112" for f in s.other_findings)


def test_charts_have_marker_liver_and_tumour_series(demo_view):
    (ch,) = subject(demo_view, "001").charts
    p = ch.data["panels"]
    assert p["AFP"]["baseline"] == pytest.approx(1210, rel=1e-3) and p["AFP"]["nadir"][1] < 10
    assert set(p["liver"]["series"]) == {"ALT", "AST", "BILI"}
    assert ("PR" in {r for _, r in p["tumour"]["responses"]}) and p["tumour"]["points"][0][1] == 78
    assert ch.data["spans"], "dosing periods are shaded"
    rows = demo_view.swimmer[0].data["rows"]
    assert {r["subject"] for r in rows} == {s.id for s in demo_view.subjects}


def test_new_findings_are_marked_against_a_previous_run(demo_result, profile):
    some = {f.id for f in demo_result.findings[:5]}
    v = build_view(demo_result, profile, generated=NOW, tool_version="x", previous_ids=some)
    assert v.meta.history and v.n_new == len(demo_result.findings) - 5


def test_one_cycle_view_and_errors(demo_result, profile):
    from monitor.report import ReportError

    v = build_view(demo_result, profile, generated=NOW, tool_version="x", subject="002", cycle=4)
    assert v.meta.scope == "cycle" and v.cycle.number == 4 and v.cycle_subject.id == "002"
    assert [t for t, _, _ in v.findings_groups] == ["Subject 002"]
    with pytest.raises(ReportError, match="no cycle 99"):
        build_view(demo_result, profile, generated=NOW, tool_version="x", subject="002", cycle=99)
    with pytest.raises(ReportError, match="not on the Subjects sheet"):
        build_view(demo_result, profile, generated=NOW, tool_version="x", subject="099")
    with pytest.raises(ReportError, match="needs --subject"):
        build_view(demo_result, profile, generated=NOW, tool_version="x", cycle=4)


def test_parts_do_not_depend_on_the_number_of_jobs(demo_view):
    parts = plan_parts(demo_view)
    assert [p.kind for p in parts][0] == "overview" and parts[-1].kind == "findings"
    assert [s.id for p in parts if p.kind == "subjects" for s in p.view.subjects] == [s.id for s in demo_view.subjects]


# ------------------------------------------------------------------ security

def hostile_workbook(path):
    sheets = fresh()
    set_study(sheets, "Protocol", "QL1604 " + HOSTILE_LINK)
    set_cells(sheets, "Subjects", 1, **{"Off-treatment reason": HOSTILE_IMG})
    set_cells(sheets, "AdverseEvents", 0, **{"Verbatim term": "肝功能异常 " + HOSTILE_IMG})
    set_cells(sheets, "Cycles", 2, **{"Reason": "<script>alert(1)</script> {{ 7*7 }} url(file:///etc/shadow)"})
    return write(path, sheets)


def test_jinja_autoescape_is_on_and_undefined_names_fail():
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x=HOSTILE_IMG) == "&lt;img src=&#34;file:///etc/passwd&#34;&gt;"


def test_cell_text_reaches_the_html_only_as_text(tmp_path, profile):
    result = check_workbook(hostile_workbook(tmp_path / "h.xlsx"), profile, now=LATER)
    view = build_view(result, profile, generated=LATER, tool_version="x")
    html = "".join(render_html(p) for p in plan_parts(view))
    assert HOSTILE_IMG not in html and "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    assert HOSTILE_LINK not in html and "<script>" not in html
    assert "{{ 7*7 }}" in html    # a template expression inside a cell is not evaluated


class RecordingFetcher(AssetFetcher):
    """Records every URL WeasyPrint asks for, before the real fetcher decides."""

    seen: list

    def fetch(self, url, headers=None):
        self.seen = getattr(self, "seen", [])
        self.seen.append(url)
        return super().fetch(url, headers)


def test_fetcher_serves_bundled_assets_and_refuses_everything_else():
    import weasyprint

    html = """<html><head><link rel="stylesheet" href="asset:report.css">
      <link rel="stylesheet" href="http://example.invalid/x.css">
      <style>@import url("https://example.invalid/i.css"); p { background: url(file:///etc/hosts) }</style></head>
      <body><img src="file:///etc/passwd"><img src="data:image/png;base64,iVBORw0KGgo=">
      <img src="https://example.invalid/x.png"><img src="asset:../../etc/passwd"><p>x</p></body></html>"""
    f = RecordingFetcher()
    weasyprint.HTML(string=html, url_fetcher=f).write_pdf()
    assert "asset:report.css" in f.seen
    refused = set(f.refused)
    for url in ("http://example.invalid/x.css", "https://example.invalid/i.css", "file:///etc/hosts",
                "file:///etc/passwd", "https://example.invalid/x.png", "asset:../../etc/passwd"):
        assert url in refused, (url, f.seen)
    assert any(u.startswith("data:") for u in refused)
    assert set(f.seen) - refused == {"asset:report.css"}


@pytest.mark.slow
def test_hostile_cells_show_as_literal_text_in_the_pdf(tmp_path, profile):
    result = check_workbook(hostile_workbook(tmp_path / "h.xlsx"), profile, now=LATER)
    stats = make_report(result, profile, tmp_path / "h.pdf", now=LATER, tool_version="x", jobs=1)
    text = pdf_text(tmp_path / "h.pdf")
    assert 'src="file:///etc/passwd">' in text.replace("\n", "")
    assert "肝功能异常" in text          # CJK cell text is drawn (Noto CJK from the system)
    assert stats.refused == []          # nothing outside our assets was even asked for
    assert {u.split(":")[0] for u in stats.requests} == {"asset"}


# ------------------------------------------------------------------ rendering

@pytest.fixture(scope="module")
def small_pdf(tmp_path_factory, profile):
    tmp = tmp_path_factory.mktemp("small")
    wb = write(tmp / "small.xlsx", fresh())
    result = check_workbook(wb, profile, now=LATER)
    a, b = tmp / "a.pdf", tmp / "b.pdf"
    make_report(result, profile, a, now=LATER, tool_version="1.2.3", jobs=1)
    make_report(result, profile, b, now=LATER, tool_version="1.2.3", jobs=1)
    return a, b, result


@pytest.mark.slow
def test_same_inputs_give_the_same_pdf(small_pdf):
    a, b, _ = small_pdf
    assert pdf_text(a) == pdf_text(b)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.slow
def test_every_page_has_provenance_and_page_x_of_y(small_pdf):
    a, _, result = small_pdf
    reader = pypdf.PdfReader(a)
    n = len(reader.pages)
    assert n >= 4
    for i, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Page {i} of {n}" in text
        assert result.sha256 in text.replace("\n", "") and "trial safety monitor 1.2.3" in text
        assert "Generated 2026-01-01 09:00 UTC" in text
    meta = reader.metadata
    assert meta.title.startswith("Cycle safety summary - QL1604-HCC-201")
    assert reader.trailer["/Root"]["/Lang"] == "en"
    outline = [o.title for o in reader.outline if not isinstance(o, list)]
    assert outline[:2] == ["Study overview", "Subject 1001"] and "Findings listing" in outline
    # the table of contents on page 1 gives the page each subject starts on
    first = reader.pages[0].extract_text()
    assert "Contents" in first and "Subject 1001" in first


@pytest.mark.slow
def test_two_processes_give_the_same_pdf_as_one(small_pdf, profile, tmp_path):
    a, _, result = small_pdf
    c = tmp_path / "c.pdf"
    make_report(result, profile, c, now=LATER, tool_version="1.2.3", jobs=2, force_pool=True)
    assert c.read_bytes() == a.read_bytes()


@pytest.mark.slow
def test_one_cycle_summary_pdf(demo_result, profile, tmp_path):
    out = tmp_path / "c.pdf"
    make_report(demo_result, profile, out, now=NOW, tool_version="x", subject="002", cycle=4)
    text = pdf_text(out)
    assert "Visit summary: subject 002, cycle 4 (11-OCT-2022)" in text
    assert "Monitor review" in text and "AE007" in text and "Immune hepatitis" in text
    assert "Subject 003" not in text


# ------------------------------------------------------------------ the command

def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "monitor", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def cli(*args):
    """The real command, in this process (typer's runner): no interpreter start per case."""
    from typer.testing import CliRunner

    from monitor.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.slow
def test_report_command_writes_the_pdf_and_prints_its_path_last(tmp_path):
    wb = write(tmp_path / "site.xlsx", fresh())
    p = run("report", wb, "--out", tmp_path / "o", "--now", "2026-01-01T09:00:00Z", "--subject", "1002")
    assert p.returncode == 0, p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert last == str(tmp_path / "o" / "site-1002-summary.pdf") and Path(last).is_file()
    r = cli("report", wb, "--out", tmp_path / "o", "--subject", "1002", "--cycle", "1", "--now", "2026-01-01")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().splitlines()[-1] == str(tmp_path / "o" / "site-1002-cycle1-summary.pdf")


@pytest.mark.parametrize("args, words", [
    (["--subject", "nobody"], "not on the Subjects sheet"),
    (["--subject", "1001", "--cycle", "77"], "no cycle 77"),
    (["--cycle", "1"], "needs --subject"),
    (["--now", "yesterday"], "ISO 8601"),
])
def test_report_command_exits_2_on_bad_requests(tmp_path, args, words):
    wb = write(tmp_path / "site.xlsx", fresh())
    r = cli("report", wb, "--out", tmp_path / "o", *args)
    assert r.exit_code == 2 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_report_command_exits_2_on_an_unreadable_workbook(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    r = cli("report", bad, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "not a zip" in r.stderr and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_demo_command_checks_annotates_and_reports_each_sample(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    write(samples / "mini.xlsx", fresh())
    r = cli("demo", "--samples", samples, "--out", tmp_path / "out", "--now", "2026-01-01", "--jobs", "1")
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    for f in ("site-workbook-template.xlsx", "mini/findings.json", "mini/findings.csv",
              "mini/mini-annotated.xlsx", "mini/mini-summary.pdf"):
        assert (out / f).is_file(), f
    assert r.stdout.strip().splitlines()[-1].startswith("demo: outputs are in")


def test_protocol_rule_tables_fill_in_when_present(demo_result, profile):
    import polars as pl

    tables = {
        "dosing": pl.DataFrame({"subject": ["001", "001"], "drug": ["QL1604", "Bevacizumab"],
                                "dose_intensity": [0.97, 0.5], "time_on_treatment_days": [604, 604]}),
        "recist": pl.DataFrame({"subject": ["001"], "date": [dt.date(2022, 8, 16)], "best_overall_response": ["PR"],
                                "response_confirmed": [True], "time_point_response": ["PR"]}),
    }
    v = build_view(demo_result, profile, generated=NOW, tool_version="x", tables=tables)
    s = subject(v, "001")
    assert s.derived["Dose intensity"] == "QL1604 97%, Bevacizumab 50%"
    assert s.derived["Best overall response (RECIST 1.1, computed)"] == "PR (confirmed)"
    assert any("RECIST 1.1 computed: PR" in sc for c in s.cycles for sc in c.scans)
    bare = build_view(demo_result, profile, generated=NOW, tool_version="x", tables={"labs": None})
    assert subject(bare, "001").derived == {}


def test_report_command_exits_2_when_the_pdf_cannot_be_written(tmp_path):
    wb = write(tmp_path / "site.xlsx", fresh())
    blocker = tmp_path / "o"
    blocker.write_text("a file where the output folder should be")
    r = cli("report", wb, "--out", blocker, "--jobs", "1", "--now", "2026-01-01")
    assert r.exit_code == 2 and "Traceback" not in r.output and str(blocker) in r.stderr


def test_subject_010_shows_the_three_response_reads_and_treatment_beyond_progression(demo_result, profile):
    """Issue 16: iRECIST (and mRECIST) reads in the PDF, treatment beyond progression shown."""
    from monitor.export import build_tables
    from monitor.labs.catalogue import load_catalogue

    tables = build_tables(demo_result, load_catalogue(), profile)
    view = build_view(demo_result, profile, generated=NOW, tool_version="9.9.9", subject="010", tables=tables)
    (s,) = [s for s in view.subjects if s.id == "010"]
    assert [(r.recist, r.irecist, r.mrecist.split(" ")[0], r.css) for r in s.responses] == [
        ("", "", "", ""), ("PD", "iUPD", "SD", "beyond"), ("PR", "iPR", "PR", ""), ("PR", "iPR", "PR", ""),
        ("PD", "iUPD", "PD", "beyond"), ("PD", "iCPD", "PD", "confirmed")]
    assert s.derived["Best overall response (iRECIST)"] == "iPR"
    assert s.derived["Best overall response (mRECIST)"] == "PR"
    assert s.derived["Treatment beyond progression"].startswith("18 administrations after the first iUPD (18-APR-2023)")
