"""`monitor serve` in a real headless Chromium (Debian's, driven by Playwright): a site
coordinator uploads the sample workbook and sees its critical findings with their cells,
downloads the annotated copy and the PDF, answers a monitor's query; a monitor queries and
accepts findings; another site's coordinator is refused every page, file and API route of the
first site. Routes, ids and classes: docs/web.md (the contract WEB_SPEC)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from web_server import SAMPLE, User, login, monitor, serve, wait_done
from web_server import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

CELL = re.compile(r"^([^!]+)!([A-Z]{1,3}[0-9]+)")
REF = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,3}[0-9]+)(?![0-9])")   # B7, D1242 (after the sheet name)
MORE = re.compile(r"(?:\+\s*|and\s+)(\d+)(?:\s+more)?\s*$")
QUESTION = "Please confirm this date against the source notes (browser test)"
ANSWER = "Checked against the source notes: typo, corrected to 2023-04-08 (browser test)"
REASON = "Confirmed against source: protocol deviation already reported (browser test)"


def expect():
    from playwright.sync_api import expect as e

    return e


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Screenshots: $MONITOR_SCREENSHOTS if set (to look at them), else a temporary folder."""
    folder = Path(os.environ.get("MONITOR_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = serve(tmp_path_factory.mktemp("serve"), [
        User("coord1", "coordinator", ("site01",)),
        User("coord2", "coordinator", ("site02",)),
        User("mon1", "monitor", ("site01", "site02")),
    ])
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """The sample's findings as `monitor check --format json` gives them."""
    out = tmp_path_factory.mktemp("check")
    r = monitor("check", SAMPLE, "--format", "json", "--out", out, ok=(0, 1))
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def uploaded(server):
    """The sample uploaded to site01 through the API; its workbook id."""
    doc = server.api_upload("coord1")
    return doc["id"]


def open_done(page, server, wid):
    page.goto(server.url(f"/workbooks/{wid}"))
    wait_done(page)


def rows_of(page, severity=None):
    sel = "table#findings tr.finding" + (f'[data-severity="{severity}"]' if severity else "")
    return page.locator(sel)


def first_open(page, severity="critical", form=".query-form"):
    """The data-finding id of the first row of `severity` still open with `form`."""
    rows = rows_of(page, severity)
    for i in range(rows.count()):
        row = rows.nth(i)
        if row.locator("td.status").inner_text().strip() == "open" and row.locator(form).count():
            return row.get_attribute("data-finding")
    raise AssertionError(f"no open {severity} row with {form}")


def row(page, fid):
    return page.locator(f'table#findings tr.finding[data-finding="{fid}"]')


# ---------------------------------------------------------------- coordinator


def test_coordinator_uploads_the_sample_and_sees_its_critical_findings_with_cells(browser, server, expected,
                                                                                 shots, tmp_path):
    page = login(browser, server, "coord1")
    assert page.url.endswith("/sites/site01"), page.url
    before = set((server.inbox / "site01").glob("*.xlsx"))
    page.set_input_files("#upload-file", str(SAMPLE))
    with page.expect_navigation():
        page.click("#upload-submit")
    m = re.search(r"/workbooks/(\d+)$", page.url)
    assert m, page.url
    wait_done(page)
    page.screenshot(path=str(shots / "coordinator-workbook.png"), full_page=True)

    # the upload is kept in the site's inbox folder beside earlier ones
    added = set((server.inbox / "site01").glob("*.xlsx")) - before
    assert len(added) == 1 and next(iter(added)).name.startswith("demo_study"), added

    # every critical finding of `monitor check` is on the page, each line with its Sheet!Cell
    want = {f"{f['sheet']}!{f['cell']}" for f in expected["findings"] if f["severity"] == "critical"}
    crit = rows_of(page, "critical")
    assert crit.count() >= 1
    shown, covered = set(), 0
    for i in range(crit.count()):
        r = crit.nth(i)
        text = r.locator("td.cell").inner_text().strip()
        first = CELL.match(text)
        assert first, f"td.cell {text!r} does not start with Sheet!Cell"
        sheet, rest = first.group(1), text[first.start(2):]
        more = MORE.search(rest)
        refs = REF.findall(rest[:more.start()] if more else rest)
        shown |= {f"{sheet}!{ref}" for ref in refs}
        covered += len(refs) + (int(more.group(1)) if more else 0)
        assert r.locator("td.code").inner_text().strip() == r.get_attribute("data-code")
        assert r.locator("td.message").inner_text().strip()
        assert r.locator("td.status").inner_text().strip() == "open"
    assert shown <= want, shown - want
    assert "Cycles!H190" in shown
    assert covered == len(want), (covered, sorted(want))

    # the annotated copy downloads and has its Findings sheet; the PDF summary downloads
    with page.expect_download() as dl:
        page.click("#download-annotated")
    xlsx = tmp_path / "annotated.xlsx"
    dl.value.save_as(xlsx)
    wb = openpyxl.load_workbook(xlsx, read_only=True)
    assert "Findings" in wb.sheetnames, wb.sheetnames
    wb.close()
    with page.expect_download(timeout=240_000) as dl:
        page.click("#download-report")
    pdf = tmp_path / "report.pdf"
    dl.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    page.context.close()


def test_coordinator_answers_a_monitors_query_and_sees_it_answered(browser, server, uploaded, shots):
    mon = login(browser, server, "mon1")
    open_done(mon, server, uploaded)
    fid = first_open(mon, "critical", ".query-form")
    form = row(mon, fid).locator("form.query-form")
    form.locator("textarea[name=text]").fill(QUESTION)
    with mon.expect_navigation():
        form.locator("button.query-submit").click()
    mon.goto(server.url(f"/workbooks/{uploaded}"))
    expect()(row(mon, fid).locator("td.status")).to_have_text("queried")
    mon.context.close()

    page = login(browser, server, "coord1")
    page.goto(server.url(f"/workbooks/{uploaded}"))
    query = page.locator("section#queries div.query").filter(has_text=QUESTION)
    expect()(query).to_have_count(1)
    expect()(query.locator("p.query-text")).to_contain_text(QUESTION)
    page.screenshot(path=str(shots / "coordinator-query.png"), full_page=True)
    query.locator("form.response-form textarea[name=response]").fill(ANSWER)
    with page.expect_navigation():
        query.locator("form.response-form button.response-submit").click()
    page.goto(server.url(f"/workbooks/{uploaded}"))
    expect()(row(page, fid).locator("td.status")).to_have_text("answered")
    expect()(page.locator("section#queries div.query").filter(has_text=QUESTION)).to_have_count(0)
    page.context.close()

    # the audit trail has both actions, with who did them
    audit = audit_rows(server, fid)
    assert ("queried", "mon1", QUESTION) in audit and ("answered", "coord1", ANSWER) in audit, audit


def test_monitor_accepts_a_finding_with_a_reason_and_sees_it_accepted(browser, server, uploaded, shots):
    page = login(browser, server, "mon1")
    open_done(page, server, uploaded)
    fid = first_open(page, "critical", ".accept-form")
    form = row(page, fid).locator("form.accept-form")
    form.locator("input[name=reason]").fill(REASON)
    with page.expect_navigation():
        form.locator("button.accept-submit").click()
    page.goto(server.url(f"/workbooks/{uploaded}"))
    expect()(row(page, fid).locator("td.status")).to_have_text("accepted")
    page.screenshot(path=str(shots / "monitor-accepted.png"), full_page=True)

    # the monitor's overview lists the sites
    page.goto(server.url("/sites"))
    links = page.locator("table#sites tr.site a.site-link")
    assert {links.nth(i).inner_text().strip() for i in range(links.count())} >= {"site01", "site02"}
    page.screenshot(path=str(shots / "monitor-sites.png"), full_page=True)

    # the web's activity page shows who accepted which finding, when and why
    page.goto(server.url("/activity"))
    event = page.locator("table#activity tr.event").filter(has_text=REASON)
    expect()(event).to_have_count(1)
    assert event.locator("td.by").inner_text().strip() == "mon1"
    assert "accept" in event.locator("td.action").inner_text()
    assert event.locator("td.finding").inner_text().strip() == fid
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d", event.locator("td.at").inner_text().strip())
    page.context.close()
    assert ("accepted", "mon1", REASON) in audit_rows(server, fid)


def audit_rows(server, fid) -> list:
    """(action, by, text) of the audit trail for finding `fid` (history store, read-only)."""
    con = sqlite3.connect(f"file:{server.out / 'monitor.db'}?mode=ro", uri=True)
    try:
        return con.execute("SELECT action, by_name, text FROM audit WHERE finding = ? ORDER BY id",
                           (fid,)).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- another site


def test_another_sites_coordinator_is_refused_every_page_file_and_api_route(browser, server, uploaded,
                                                                            expected, shots):
    secrets = [f["message"] for f in expected["findings"]][:40] + ["demo_study", "Cycles!H190"]
    page = login(browser, server, "coord2")
    assert page.url.endswith("/sites/site02"), page.url
    for path in ("/sites/site01", f"/workbooks/{uploaded}", f"/workbooks/{uploaded}/annotated.xlsx",
                 f"/workbooks/{uploaded}/report.pdf", "/activity"):
        r = page.request.get(server.url(path), max_redirects=0)
        assert r.status == 403, (path, r.status)
        body = r.text()
        assert 'class="error"' in body, (path, body[:300])
        for s in secrets:
            assert s not in body, (path, s)
    resp = page.goto(server.url(f"/workbooks/{uploaded}"))
    assert resp.status == 403
    expect()(page.locator("p.error")).to_have_count(1)
    assert page.locator("table#findings").count() == 0
    page.screenshot(path=str(shots / "other-site-refused.png"), full_page=True)

    # the overview, if it answers at all, does not list site01
    r = page.request.get(server.url("/sites"), max_redirects=0)
    if r.status == 200:
        assert "/sites/site01" not in r.text()

    # an upload into site01 with coord2's own valid CSRF token is refused and stores nothing
    page.goto(server.url("/sites/site02"))
    token = page.locator("#upload-form input[name=csrf_token]").get_attribute("value")
    before = sorted((server.inbox / "site01").iterdir())
    r = page.request.post(server.url("/sites/site01/upload"), max_redirects=0, multipart={
        "csrf_token": token,
        "file": {"name": "x.xlsx", "mimeType": "application/octet-stream", "buffer": SAMPLE.read_bytes()}})
    assert r.status == 403, r.status
    assert sorted((server.inbox / "site01").iterdir()) == before
    page.context.close()

    # the API: another site's workbook and its files are 403 or 404, and nothing of them shows
    with server.api("coord2") as c:
        for path in (f"/api/workbooks/{uploaded}", f"/api/workbooks/{uploaded}/annotated",
                     f"/api/workbooks/{uploaded}/report"):
            r = c.get(path)
            assert r.status_code in (403, 404), (path, r.status_code)
            assert all(s not in r.text for s in secrets), path
        r = c.post("/api/workbooks", files={"file": ("x.xlsx", SAMPLE.read_bytes())}, data={"site": "site01"})
        assert r.status_code in (400, 403, 404), r.status_code
    assert sorted((server.inbox / "site01").iterdir()) == before
