"""The one-page batch-summary.pdf: untrusted names stay text, nothing is fetched, one page
whatever the number of workbooks, and its absence explained when WeasyPrint is missing."""

from __future__ import annotations

import builtins
import re
import shutil
import subprocess

import pytest

from monitor.batch import summary
from monitor.batch.runner import BatchReport, Entry

HOSTILE = '<img src="file:///etc/passwd"><link rel=stylesheet href="http://example.invalid/x.css">{{ 7*7 }}'


def report(n: int) -> BatchReport:
    entries = [Entry(f"site{i:03d}/{HOSTILE if i == 1 else 'wb'}.xlsx", "0" * 64, "checked", findings=i,
                     by_severity={"critical": i % 3, "major": i, "minor": 0, "info": 0}, new=1, resolved=0)
               for i in range(n)]
    entries.append(Entry("broken.xlsx", None, "error", error="broken.xlsx: not an .xlsx workbook"))
    return BatchReport(7, "2026-11-27T02:00:00+00:00", None, "/srv/inbox", "/srv/out", "ql1604_bev_hcc",
                       "0.1.0", "major", entries, [], exit_code=2)


def test_workbook_names_are_text_in_the_summary_never_markup():
    html = summary.render_html(summary.view_model(report(3)))
    assert "<img" not in html and "&lt;img src=" in html and "<link rel=stylesheet" not in html
    assert "{{ 7*7 }}" in html or "{{ 7*7 }}".replace("{", "&#123;") in html


def test_unreadable_workbooks_come_first_and_long_batches_are_cut_to_one_page():
    model = summary.view_model(report(100))
    assert model["rows"][0]["path"] == "broken.xlsx"
    assert len(model["rows"]) == summary.MAX_ROWS and model["more"] == 101 - summary.MAX_ROWS


def test_the_summary_pdf_is_one_page_and_fetches_nothing(tmp_path, monkeypatch):
    pytest.importorskip("weasyprint")
    fetched = []
    real = summary.refuse_fetch

    def recording(url, *a, **kw):
        fetched.append(url)
        return real(url, *a, **kw)

    monkeypatch.setattr(summary, "refuse_fetch", recording)
    path, note = summary.write_summary_pdf(tmp_path, report(120))
    assert path == "batch-summary.pdf" and note is None
    data = (tmp_path / path).read_bytes()
    assert data.startswith(b"%PDF")
    assert fetched == []
    if shutil.which("pdfinfo"):    # poppler-utils, installed by scripts/setup.sh
        info = subprocess.run(["pdfinfo", str(tmp_path / path)], capture_output=True, text=True, timeout=60)
        assert re.search(r"^Pages:\s+1$", info.stdout, re.M), info.stdout


def test_without_weasyprint_the_pdf_is_left_out_and_the_reason_given(tmp_path, monkeypatch):
    (tmp_path / "batch-summary.pdf").write_bytes(b"%PDF old")
    real_import = builtins.__import__

    def no_weasyprint(name, *a, **kw):
        if name == "weasyprint":
            raise ImportError("No module named 'weasyprint'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    path, note = summary.write_summary_pdf(tmp_path, report(2))
    assert path is None and "WeasyPrint is not available" in note
    assert not (tmp_path / "batch-summary.pdf").exists()      # an old PDF never passes for this run's
