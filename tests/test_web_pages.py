"""`monitor serve` pages: an upload is stored in the site's inbox folder, checked once by the batch's
code path (history, outputs with their SHA-256), its findings shown grouped with their cells, its
annotated copy downloadable; queries are asked, answered and accepted through the forms, each
with who and when in the audit trails. Refused uploads say why in the words `check` uses."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from web_helpers import SAMPLE, csrf, login, make_app, upload, wait_done, web_id_of


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    app = make_app(tmp)
    alice = login(app, "alice")
    web_id = web_id_of(upload(alice, "site01"))
    page = wait_done(alice, web_id)
    yield {"app": app, "tmp": tmp, "alice": alice, "id": web_id, "page": page}
    app.state.checker.close()


def rows(html: str) -> list:
    return re.findall(r'<tr class="finding[^"]*" data-severity="(\w+)" data-code="(\w+)" data-finding="(\w+)">'
                      r'.*?<td class="cell">([^<]*)</td>.*?<td class="status">(\w+)</td>', html, re.S)


def test_an_upload_is_stored_in_the_site_folder_under_a_new_name_and_checked(web):
    stored = sorted(p.name for p in (web["tmp"] / "inbox" / "site01").iterdir())
    assert len(stored) == 1 and re.fullmatch(r"demo_study-\d{8}T\d{6}Z\.xlsx", stored[0]), stored
    assert (web["tmp"] / "inbox" / "site01" / stored[0]).read_bytes() == SAMPLE.read_bytes()
    assert '<span id="status" class="status-done">done</span>' in web["page"]


def test_the_same_name_uploaded_again_never_overwrites(web):
    again = web_id_of(upload(web["alice"], "site01"))
    wait_done(web["alice"], again)
    assert len(list((web["tmp"] / "inbox" / "site01").glob("demo_study-*.xlsx"))) == 2


def test_critical_findings_show_with_their_cells_and_status(web):
    found = rows(web["page"])
    assert found, "no findings table"
    crit = [r for r in found if r[0] == "critical"]
    assert crit and all(re.match(r"\w+!\$?[A-Z]+\d+|\w+", r[3]) for r in crit)
    assert all(r[4] == "open" for r in found)
    doc = json.loads(next((web["tmp"] / "out" / "site01").rglob("findings.json")).read_text("utf-8"))
    assert len(found) <= len(doc["findings"])          # grouped lines, never more than findings
    assert {r[2] for r in found} <= {f["id"] for f in doc["findings"]}


def test_the_check_is_recorded_like_a_batch_check_with_output_hashes(web):
    from monitor.batch.history import History

    with History(web["tmp"] / "out") as h:
        row = h.conn.execute("SELECT c.status, c.outputs, c.hashes, r.kind FROM checks c JOIN runs r ON r.id = c.run"
                             " JOIN workbooks w ON w.id = c.workbook WHERE w.path LIKE 'site01/%' ORDER BY c.run"
                             " LIMIT 1").fetchone()
    assert row["status"] == "checked" and row["kind"] == "web"
    outputs, hashes = json.loads(row["outputs"]), json.loads(row["hashes"])
    assert {"findings_json", "annotated_xlsx"} <= set(outputs) and set(outputs) <= set(hashes)


def test_a_nightly_batch_skips_the_uploaded_workbook(web):
    from monitor.batch.commands import batch_command

    code = batch_command(web["tmp"] / "inbox", web["tmp"] / "out", jobs=1, pdf=False, quiet=True)
    assert code in (0, 1)
    report = json.loads((web["tmp"] / "out" / "batch.json").read_text("utf-8"))
    assert {e["status"] for e in report["workbooks"]} == {"skipped"}


def test_the_annotated_copy_downloads(web):
    r = web["alice"].get(f"/workbooks/{web['id']}/annotated.xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert "Findings" in zipfile.ZipFile(io.BytesIO(r.content)).read("xl/workbook.xml").decode()


def test_query_answer_and_accept_through_the_forms(web):
    app, wid = web["app"], web["id"]
    mona = login(app, "mona")
    page = mona.get(f"/workbooks/{wid}").text
    fid = rows(page)[0][2]
    r = mona.post(f"/findings/{fid}/query", data={"csrf_token": csrf(page), "workbook": wid,
                                                   "text": "Please check the source <b>now</b>"})
    assert r.status_code == 303
    site = web["alice"].get("/sites/site01").text
    assert 'class="query-text">Please check the source &lt;b&gt;now&lt;/b&gt;</p>' in site
    r = web["alice"].post(f"/findings/{fid}/respond", data={"csrf_token": csrf(site), "workbook": wid,
                                                             "response": "Corrected in the next version"})
    assert r.status_code == 303
    assert dict((x[2], x[4]) for x in rows(mona.get(f"/workbooks/{wid}").text))[fid] == "answered"
    page = mona.get(f"/workbooks/{wid}").text
    mona.post(f"/findings/{fid}/accept", data={"csrf_token": csrf(page), "workbook": wid, "reason": "confirmed"})
    assert dict((x[2], x[4]) for x in rows(mona.get(f"/workbooks/{wid}").text))[fid] == "accepted"
    conn = app.state.store.conn
    trail = [tuple(r) for r in conn.execute("SELECT action, by_name FROM audit WHERE finding=? ORDER BY id", (fid,))]
    assert trail[:3] == [("queried", "mona"), ("answered", "alice"), ("accepted", "mona")]
    events = {(r[0], r[1]) for r in conn.execute("SELECT action, by_name FROM web_events")}
    assert {("login", "alice"), ("upload", "alice"), ("download", "alice"), ("login", "mona"),
            ("queried", "mona"), ("answered", "alice"), ("accepted", "mona")} <= events


def test_a_coordinator_cannot_accept_and_a_monitor_cannot_answer(web):
    page = web["alice"].get(f"/workbooks/{web['id']}").text
    fid = web["page"].split('data-finding="')[1].split('"')[0]
    r = web["alice"].post(f"/findings/{fid}/accept", data={"csrf_token": csrf(page), "workbook": web["id"],
                                                            "reason": "x"})
    assert r.status_code == 403


@pytest.mark.parametrize("name, data, code, words", [
    ("notes.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, 400, "legacy Excel 97-2003 workbook (.xls)"),
    ("notes.csv", b"a,b\n", 400, "CSV file, not a workbook"),
    ("notes.txt", b"hello", 400, "notes.txt: only .xlsx workbooks are accepted"),
    ("macro.xlsm", b"PK\x03\x04", 400, "macro.xlsm: only .xlsx workbooks are accepted"),
    ("fake.xlsx", b"just text, not a zip", 400, "not an .xlsx workbook (the file is not a zip archive)"),
    ("empty.xlsx", b"", 400, "the file is empty"),
])
def test_a_refused_upload_says_why_in_checks_words_and_stores_nothing(web, name, data, code, words):
    before = set((web["tmp"] / "inbox" / "site01").iterdir())
    r = upload(web["alice"], "site01", data, name)
    assert r.status_code == code
    assert re.search(r'<p class="error">[^<]*' + re.escape(words), r.text), r.text
    assert set((web["tmp"] / "inbox" / "site01").iterdir()) == before


def test_a_zip_bomb_is_refused_before_it_is_stored(tmp_path):
    app = make_app(tmp_path, max_unpacked_mb=2)
    try:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("xl/workbook.xml", "<workbook/>")
            z.writestr("xl/worksheets/sheet1.xml", b"\0" * (3 << 20))     # 3 MB of zeros in a few kB
        r = upload(login(app, "alice"), "site01", buf.getvalue(), "bomb.xlsx")
        assert r.status_code == 413 and "unpacks to 3 MB, over the limit of 2 MB" in r.text
        r = upload(login(app, "alice"), "site01", b"PK" + b"\0" * (4 << 20), "big.xlsx")
        assert r.status_code == 413 and "over the upload limit" in r.text and "--max-unpacked-mb" in r.text
        assert list((tmp_path / "inbox" / "site01").iterdir()) == []
    finally:
        app.state.checker.close()


def test_a_workbook_the_checker_refuses_fails_with_the_reason_and_leaves_the_inbox(tmp_path):
    from test_limits import SMALL, _lying_shared_strings

    app = make_app(tmp_path, max_unpacked_mb=2)
    try:
        alice = login(app, "alice")
        wid = web_id_of(upload(alice, "site01", _lying_shared_strings(3 << 20), "liar.xlsx"))
        page = wait_done(alice, wid)
        assert '<span id="status" class="status-failed">failed</span>' in page
        assert re.search(r'<p class="error">[^<]*unpacks to more than the limit of 2 MB', page), page
        assert list((tmp_path / "inbox" / "site01").iterdir()) == []
        assert len(list((tmp_path / "out" / ".refused" / "site01").iterdir())) == 1
        assert SMALL.is_file()
    finally:
        app.state.checker.close()
