"""Hostile text end to end: a workbook whose cells, subject IDs, headers and sheet names hold HTML,
CSS, file:/http: URLs, jinja2 syntax, formula starters (= + - @), right-to-left and CJK text.

JSON keeps every such text exactly as typed; CSV and XLSX outputs hold none of it as a live
formula; the PDF shows it as literal text and WeasyPrint fetches nothing; the batch history
stores it unchanged. The workbook is fuzz/corpus/hostile_text.xlsx (fuzz/make_corpus.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "fuzz" / "corpus" / "hostile_text.xlsx"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

# texts typed into cells of hostile_text.xlsx that findings quote verbatim
QUOTED = (
    '=HYPERLINK("http://evil.example/x","click")', "<script>alert('x')</script>", "+cmd|' /C calc'!A0",
    "@SUM(1+1)", "-2+3 <img src='file:///etc/passwd'>", "<style>@import url(http://evil.example/x.css)</style>",
    "url(file:///etc/shadow)", "=1+1", "{{ config.items() }}", "<b>bold</b>", "http://evil.example/lesion",
    "\u60a3\u8005 \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd a\u202eevil", "<i>{{ header }}</i>",
)


def cli(*args):
    from monitor.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    wb = tmp / "inbox" / "hostile.xlsx"
    wb.parent.mkdir()
    shutil.copyfile(HOSTILE, wb)
    return tmp, wb


@pytest.fixture(scope="module")
def checked(work):
    tmp, wb = work
    r = cli("check", wb, "--format", "json", "--out", tmp / "check")
    assert r.exit_code == 1, r.stderr
    return json.loads((tmp / "check" / "findings.json").read_text("utf-8")), tmp / "check"


def live_formulas(rows) -> list:
    """Fields a spreadsheet would run: starting with = + - @ tab or CR and not a plain number."""
    return [v for row in rows for v in row if v.startswith(FORMULA_START) and not NUMBER.match(v)]


def test_json_keeps_every_hostile_text_exactly(checked):
    data, out = checked
    messages = "\n".join(f["message"] for f in data["findings"])
    for text in QUOTED:
        assert text in messages, text
    assert {f["subject"] for f in data["findings"]} >= {"=1+1", "@cmd", "-1+2"}
    assert "+Vitals" in {f["sheet"] for f in data["findings"]}
    raw = (out / "findings.json").read_text("utf-8")
    assert "\u60a3\u8005" in raw                       # written as UTF-8, not \u escapes


def test_findings_csv_has_no_live_formula_and_keeps_the_text_after_an_apostrophe(checked):
    data, out = checked
    rows = list(csv.reader(io.StringIO((out / "findings.csv").read_text("utf-8"))))
    assert not live_formulas(rows)
    fields = {v for row in rows for v in row}
    for text in ("'=1+1", "'@cmd", "'-1+2", "'+Vitals"):
        assert text in fields, text
    assert len(rows) == len(data["findings"]) + 1


def test_export_csvs_have_no_live_formula_and_parquet_keeps_the_text(work):
    tmp, wb = work
    out = tmp / "export"
    assert cli("export", wb, "--out", out).exit_code == 0
    csvs = sorted(out.glob("*.csv"))
    assert {"findings.csv", "labs.csv", "cycles.csv"} <= {p.name for p in csvs}
    for p in csvs:
        rows = list(csv.reader(io.StringIO(p.read_text("utf-8"))))
        assert not live_formulas(rows), (p.name, live_formulas(rows)[:3])
    cycles = pl.read_parquet(out / "cycles.parquet")
    assert "+cmd|' /C calc'!A0" in cycles.get_column("drug").to_list()
    labs = pl.read_csv(out / "labs.csv", infer_schema=False)
    assert "'=1+1" in labs.get_column(labs.columns[1]).to_list()


def test_annotated_copy_has_no_formula_no_external_link_and_neutralised_findings(work):
    tmp, wb = work
    copy = tmp / "annotated.xlsx"
    assert cli("annotate", wb, "--out", copy).exit_code == 0
    book = openpyxl.load_workbook(copy)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula: {c.value!r}"
        for link in ws._hyperlinks:
            assert link.location and not link.target, (ws.title, link.location, link.target)
    findings = book.worksheets[0]
    assert findings.title == "Findings"
    texts = [c.value for row in findings.iter_rows(min_row=5) for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(FORMULA_START)]
    assert "'=1+1" in texts and "'+Vitals!A6" in texts           # subject and Where cells neutralised too
    assert any("<script>alert('x')</script>" in t for t in texts)
    # the coordinator's own cells are still text, exactly as typed
    assert book["Subjects"]["B2"].value == '=HYPERLINK("http://evil.example/x","click")'


@pytest.mark.slow
def test_pdf_shows_hostile_text_literally_and_fetches_nothing(work, profile):
    pytest.importorskip("weasyprint")
    pypdf = pytest.importorskip("pypdf")
    import datetime as dt

    from monitor.check import check_workbook
    from monitor.report import make_report

    tmp, wb = work
    now = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.timezone.utc)
    result = check_workbook(wb, profile, now=now)
    stats = make_report(result, profile, tmp / "hostile.pdf", now=now, tool_version="test", jobs=1)
    reader = pypdf.PdfReader(tmp / "hostile.pdf")
    text = "".join(p.extract_text() for p in reader.pages).replace("\n", "")
    for literal in ("<script>alert('x')</script>", "{{ config.items() }}", "@SUM(1+1)",
                    "<style>@import url(http://evil.example/x.css)</style>"):
        assert literal in text, literal
    assert stats.refused == []                                   # nothing else was even asked for
    assert {u.split(":", 1)[0] for u in stats.requests} == {"asset"}


@pytest.mark.slow
def test_history_stores_hostile_text_unchanged(work, profile, checked):
    from monitor.batch.history import History
    from monitor.batch.runner import BatchOptions, run_batch

    tmp, wb = work
    out = tmp / "batch"
    run_batch(BatchOptions(inbox=wb.parent, out=out, profile=profile, jobs=1, pdf=False))
    with History(out, create=False) as hist:
        stored = hist.open_findings("hostile.xlsx")
    data, _ = checked
    want = {(f["id"], f["message"], f["subject"], f["sheet"]) for f in data["findings"]}
    assert {(f["id"], f["message"], f["subject"], f["sheet"]) for f in stored} == want
    rows = list(csv.reader(io.StringIO(next(out.rglob("findings.csv")).read_text("utf-8"))))
    assert not live_formulas(rows)


def test_stderr_message_of_a_refused_file_is_one_line_whatever_its_sheet_names(tmp_path):
    sys.path.insert(0, str(ROOT))
    from fuzz.xlsx import Package

    pkg = Package.read(HOSTILE.read_bytes())
    wbxml = pkg.get("xl/workbook.xml")
    pkg.set("xl/workbook.xml", wbxml.replace(b'name="Labs"', b'name="Lab&#10;\x1b[2Jresults"', 1))
    pkg.set("xl/workbook.xml", pkg.get("xl/workbook.xml").replace(b'name="Study"', b'name="Stu&#13;dy"'))
    path = tmp_path / "names.xlsx"
    path.write_bytes(pkg.to_bytes())
    r = cli("check", path, "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "\x1b" not in r.stderr, repr(r.stderr)
