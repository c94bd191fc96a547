"""Hostile uploads through `monitor serve`'s page, in headless Chromium: cells holding HTML,
a HYPERLINK formula, URLs of a local listener and CSS url(...) show as literal text in the
findings table, run nothing (no dialog, no element injected) and fetch nothing (the listener
gets no request; the browser requests only the server itself), and the server keeps serving.
A file that is not a workbook, one over the upload limit and a zip bomb are each refused with
one plain line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import builders as B
from web_server import ROOT, Listener, User, login, serve, wait_done
from web_server import browser  # noqa: F401  (fixture)

sys.path.insert(0, str(ROOT))
from fuzz.make_corpus import write_literal  # noqa: E402

pytestmark = pytest.mark.slow

SMALL = ROOT / "fuzz" / "corpus" / "small_study.xlsx"
MAX_UNPACKED_MB = 2   # `serve --max-unpacked-mb`: zip bombs, and the size of the upload itself


def expect():
    from playwright.sync_api import expect as e

    return e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = serve(tmp_path_factory.mktemp("serve"), [User("coord1", "coordinator", ("site01",))],
                extra=("--max-unpacked-mb", MAX_UNPACKED_MB))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def listener():
    lst = Listener()
    try:
        yield lst
    finally:
        lst.close()


def hostile_texts(listener: Listener) -> dict:
    """(sheet, data-row index, header) -> text; every one is quoted whole by a finding's message
    (short enough not to be cut)."""
    return {
        ("Subjects", 1, "BCLC stage"): "<script>alert(1)</script>",
        ("Cycles", 2, "Action"): "<img src=x onerror=alert(2)>",
        ("Cycles", 1, "Unit"): f"<img src={listener.url('/img')}>",
        ("Subjects", 0, "Sex"): '=HYPERLINK("http://example.invalid/x")',
        ("Tumor", 0, "Lesion type"): listener.url("/leak"),
        ("Labs", 0, "Test"): f'<style>@import "{listener.url("/import")}";</style>',
        ("Labs", 1, "Unit"): f"url({listener.url('/css')})",
        ("Vitals", 0, "ECOG"): f'<a id="injected" href="{listener.url("/a")}">x</a>',
    }


def hostile_workbook(path: Path, texts: dict) -> Path:
    s = B.fresh()
    for (sheet, idx, header), text in texts.items():
        B.set_cell(s, sheet, idx, header, text)
    return write_literal(path, s)   # every string stored as text, even `=HYPERLINK(...)`


def upload(page, server, path: Path):
    page.goto(server.url("/sites/site01"))
    page.set_input_files("#upload-file", str(path))
    with page.expect_navigation():
        page.click("#upload-submit")


def test_hostile_cells_show_as_text_run_nothing_fetch_nothing_and_the_server_keeps_serving(
        browser, server, listener, tmp_path):
    texts = hostile_texts(listener)
    book = hostile_workbook(tmp_path / "hostile.xlsx", texts)
    requests, dialogs = [], []
    page = login(browser, server, "coord1", requests=requests)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    upload(page, server, book)
    assert re.search(r"/workbooks/\d+$", page.url), page.url
    wait_done(page)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(tmp_path / "hostile.png"))

    # every hostile text is on the page as the literal characters typed
    table = page.locator("table#findings").inner_text()
    for text in texts.values():
        assert text in table, text

    # nothing of it became markup
    assert page.locator("#injected").count() == 0
    assert page.locator(f'[href*="127.0.0.1:{listener.port}"], [src*="127.0.0.1:{listener.port}"]').count() == 0
    assert page.locator('img[src="x"], a[href*="example.invalid"]').count() == 0
    for i in range(page.locator("script").count()):
        s = page.locator("script").nth(i)
        assert (s.get_attribute("src") or "").startswith("/static/"), s.evaluate("e => e.outerHTML")
    assert page.locator("style").count() == 0   # CSS comes only from /static (style-src 'self')
    assert dialogs == []

    # downloads render the same text server-side (annotated copy, PDF) and fetch nothing either
    # (the PDF is made on demand: its link may pass through a "preparing" page, so it goes last)
    with page.expect_download() as dl:
        page.click("#download-annotated")
    assert Path(dl.value.path()).read_bytes()[:2] == b"PK"
    with page.expect_download(timeout=240_000) as dl:
        page.click("#download-report")
    assert Path(dl.value.path()).read_bytes()[:5] == b"%PDF-"

    assert listener.hits == [], listener.hits
    foreign = [u for u in requests if not u.startswith(server.base + "/")]
    assert foreign == [], foreign
    page.context.close()

    # the server keeps serving: a new login and an ordinary upload are checked
    page = login(browser, server, "coord1")
    upload(page, server, SMALL)
    wait_done(page)
    page.context.close()
    assert listener.hits == [], listener.hits


def lying_bomb() -> bytes:
    """A shared-strings part that inflates past MAX_UNPACKED_MB while its headers say 1,000 bytes."""
    from test_limits import _lying_shared_strings

    return _lying_shared_strings((MAX_UNPACKED_MB + 1) << 20)


REFUSALS = {   # name -> (file bytes, words the one-line reason holds)
    "notes.txt": (lambda: b"minutes of the site visit\n", (".xlsx",)),
    "not-a-zip.xlsx": (lambda: b"hello, this is not a workbook\n" * 10, ("not an .xlsx workbook",)),
    "too-big.xlsx": (lambda: SMALL.read_bytes() + b"\0" * ((MAX_UNPACKED_MB + 2) << 20), ("--max-unpacked-mb",)),
    "bomb.xlsx": (lying_bomb, ("--max-unpacked-mb",)),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_upload_is_one_plain_line_on_the_page_and_stays_out_of_the_inbox(browser, server, tmp_path, name):
    """Refused at once (400/413 page), or, for what only the check itself finds (a part lying
    about its size), the workbook's page ends "failed" with the reason; either way one line
    that check would print, no server path, and the file does not stay in the site's inbox."""
    data, words = REFUSALS[name]
    path = tmp_path / name
    path.write_bytes(data())
    before = sorted((server.inbox / "site01").iterdir())
    page = login(browser, server, "coord1")
    page.goto(server.url("/sites/site01"))
    page.set_input_files("#upload-file", str(path))
    with page.expect_navigation() as nav:
        page.click("#upload-submit")
    if nav.value.status not in (400, 413):
        assert nav.value.status == 200 and re.search(r"/workbooks/\d+$", page.url), (nav.value.status, page.url)
        expect()(page.locator("#status")).to_have_text("failed", timeout=240_000)
    page.screenshot(path=str(tmp_path / "refused.png"))
    err = page.locator("p.error")
    expect()(err).to_have_count(1)
    line = err.inner_text().strip()
    assert line and "\n" not in line, line
    for w in words:
        assert w in line, line
    assert str(server.root) not in line, line    # no server paths in what a site sees
    assert "Traceback" not in page.content()
    assert sorted((server.inbox / "site01").iterdir()) == before
    page.context.close()
