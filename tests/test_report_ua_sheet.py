"""The user-agent sheet without the pseudo-element rules the report never uses
(monitor/report/ua_sheet.py): the same pages, and the full sheet wherever one could matter."""

from __future__ import annotations

import weasyprint

from monitor.report import ua_sheet
from monitor.report.render import bundled_asset

CSS = bundled_asset("report.css").decode()
HTML = """<!DOCTYPE html><html><head><style>{css}</style></head><body>
<h2 class="subject-head">Subject 01-0001</h2>
<table class="aes"><thead><tr><th>AE</th><th>Term</th></tr></thead>
<tbody><tr><td>1</td><td>Proteinuria <span class="muted">(proteinuria)</span> <span class="gtag g2">G2</span></td></tr></tbody></table>
<section class="cycle"><h3 class="cycle-head" data-label="Cycle 1"><span class="st given">Given</span>Cycle 1</h3>
<p class="dose"><span class="given"><b>QL1604</b> 200 mg <span class="muted">(planned 200 mg)</span></span></p></section>
</body></html>"""


def pages(cls, html):
    doc = cls(string=html).render()
    return [(p.width, p.height, repr(p._page_box.children)) for p in doc.pages], doc.write_pdf()


def test_the_report_lays_out_the_same_without_the_pseudo_element_rules():
    html = HTML.format(css=CSS)
    assert ua_sheet.usable(html, CSS)
    full, pdf_full = pages(weasyprint.HTML, html)
    trimmed, pdf_trimmed = pages(ua_sheet.html_class(), html)
    assert trimmed == full
    assert pdf_trimmed == pdf_full


def test_the_trimmed_sheet_is_weasyprints_without_the_six_rules_only():
    from weasyprint.html import UA

    text = ua_sheet.trimmed_text()
    assert text is not None and ua_sheet.trimmed_sheet() is not None
    assert all(rule not in text for rule in ua_sheet.RULES)
    assert len(text) == len(UA) - sum(len(rule) for rule in ua_sheet.RULES)
    kept = [line for line in UA.splitlines(keepends=True) if line not in ua_sheet.RULES]
    assert "".join(kept) == text


def test_a_document_that_could_make_a_marker_footnote_or_note_keeps_the_full_sheet():
    assert not ua_sheet.usable("<ul><li>item</li></ul>", "")
    assert not ua_sheet.usable("<details><summary>s</summary></details>", "")
    assert not ua_sheet.usable("<p>x</p>", "p { display: list-item }")
    assert not ua_sheet.usable("<p>x</p>", "p { float: footnote }")
    assert not ua_sheet.usable("<p>x</p>", "p { position: note(a) }")
    assert ua_sheet.usable('<link rel="stylesheet" href="asset:report.css"><p>x</p>', CSS)


def test_another_weasyprint_keeps_its_own_sheet(monkeypatch):
    ua_sheet.trimmed_sheet.cache_clear()
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    try:
        assert ua_sheet.trimmed_sheet() is None
        assert not ua_sheet.usable("<p>x</p>", "")
    finally:
        ua_sheet.trimmed_sheet.cache_clear()
