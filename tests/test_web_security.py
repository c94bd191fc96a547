"""`monitor serve` security: a coordinator never reads another site's data, on EVERY route of the
app (a new route without the check fails here), every POST form needs the session's CSRF token,
strict headers on every response, a signed HttpOnly SameSite session cookie, passwords and
tokens stored only as hashes, and nothing from a cell ever becomes markup."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from web_helpers import csrf, login, make_app, token, upload, wait_done, web_id_of

PRIVATE = "site02-private"          # the name bob's workbook was uploaded as: must never leak


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("websec")
    app = make_app(tmp)
    bob = login(app, "bob")
    b_id = web_id_of(upload(bob, "site02", name=f"{PRIVATE}.xlsx"))
    page = wait_done(bob, b_id)
    fid = re.search(r'data-finding="(\w+)"', page).group(1)
    mona = login(app, "mona")
    mpage = mona.get(f"/workbooks/{b_id}").text
    assert mona.post(f"/findings/{fid}/query", data={"csrf_token": csrf(mpage), "workbook": b_id,
                                                      "text": "site02 secret query"}).status_code == 303
    yield {"app": app, "tmp": tmp, "bob_id": b_id, "bob_fid": fid}
    app.state.checker.close()


def routes(app):
    return [(r.path, m) for r in app.routes if isinstance(r, Route) for m in sorted(r.methods - {"HEAD"})]


# routes without a site, workbook or finding in their path: each says why it cannot leak
NO_SITE_IN_PATH = {
    ("/login", "GET"): "the login form",
    ("/login", "POST"): "logs in as oneself",
    ("/logout", "POST"): "logs out",
    ("/", "GET"): "redirects to one's own site",
    ("/sites", "GET"): "lists only one's own sites (checked below)",
    ("/static/{name}", "GET"): "web.css and web.js only",
    ("/activity", "GET"): "refused to coordinators (checked below)",
    ("/api/workbooks", "POST"): "the site is a form field (checked below)",
}


def fill(path: str, web) -> str:
    return (path.replace("{site}", "site02").replace("{id:int}", str(web["bob_id"]))
            .replace("{fid}", web["bob_fid"]))


def test_a_coordinator_is_refused_another_sites_data_on_every_route(web):
    app = web["app"]
    alice = login(app, "alice")
    form_token = csrf(alice.get("/sites/site01").text)
    bearer = {"Authorization": f"Bearer {token(app, 'alice')}"}
    checked = []
    for path, method in routes(app):
        if (path, method) in NO_SITE_IN_PATH:
            continue
        assert re.search(r"\{(site|id:int|fid)\}", path), \
            f"{method} {path}: a new route; give it a site check and add it to this test"
        url = fill(path, web)
        api = path.startswith("/api/")
        client_headers = bearer if api else {}
        if method == "GET":
            r = alice.get(url, headers=client_headers)
        else:
            r = alice.post(url, headers=client_headers,
                           data={"csrf_token": form_token, "workbook": str(web["bob_id"]), "reason": "x",
                                 "text": "x", "response": "x", "site": "site02"},
                           files={"file": ("x.xlsx", b"PK\x03\x04")} if path.endswith("upload") else None)
        assert r.status_code in (403, 404), f"{method} {path}: {r.status_code}"
        assert PRIVATE not in r.text and "site02 secret query" not in r.text, f"{method} {path} leaks"
        checked.append((path, method))
    assert len(checked) >= 10
    # and the routes without a site in their path
    assert alice.get("/").headers["location"] == "/sites/site01"
    sites = alice.get("/sites").text
    assert "site01" in sites and "site02" not in sites
    r = alice.post("/api/workbooks", headers=bearer, data={"site": "site02"},
                   files={"file": ("x.xlsx", b"PK")})
    assert r.status_code == 403
    assert list((web["tmp"] / "inbox" / "site02").glob("x*")) == []
    assert alice.get("/activity").status_code == 403
    for name in ("web.css", "web.js"):
        assert alice.get(f"/static/{name}").status_code == 200
    assert alice.get("/static/login.html.j2").status_code == 404


def test_a_monitor_sees_their_sites_and_a_data_manager_all(web):
    mona = login(web["app"], "mona")
    assert mona.get(f"/workbooks/{web['bob_id']}").status_code == 200
    dana = login(web["app"], "dana")
    sites = dana.get("/sites").text
    assert "site01" in sites and "site02" in sites
    log = dana.get("/activity").text
    assert '<td class="action">upload</td>' in log and '<td class="by">bob</td>' in log


@pytest.mark.parametrize("with_token", [False, True])
def test_every_post_form_is_refused_without_the_sessions_csrf_token(web, with_token):
    app = web["app"]
    mona = login(app, "mona")
    posts = [p for p, m in routes(app) if m == "POST" and not p.startswith("/api/")]
    assert len(posts) >= 5
    for path in posts:
        data = {"workbook": str(web["bob_id"]), "reason": "x", "text": "x", "response": "x",
                "username": "mona", "password": "mona-pass-333"}
        if with_token:
            data["csrf_token"] = "forged-" + "x" * 30
        r = mona.post(fill(path, web), data=data,
                      files={"file": ("x.xlsx", b"PK\x03\x04")} if path.endswith("upload") else None)
        assert r.status_code == 403, f"POST {path} without the right CSRF token: {r.status_code}"
    conn = app.state.store.conn
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE by_name='mona' AND text='x'").fetchone()[0] == 0


def test_not_logged_in_pages_go_to_login_and_the_api_says_401(web):
    c = TestClient(web["app"], follow_redirects=False)
    for path in ("/", "/sites", "/sites/site02", f"/workbooks/{web['bob_id']}",
                 f"/workbooks/{web['bob_id']}/annotated.xlsx"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    assert c.get(f"/api/workbooks/{web['bob_id']}").status_code == 401
    assert c.get(f"/api/workbooks/{web['bob_id']}", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_wrong_password_is_one_message_and_recorded(web):
    c = TestClient(web["app"], follow_redirects=False)
    page = c.get("/login").text
    for name in ("alice", "nobody"):
        r = c.post("/login", data={"username": name, "password": "wrong", "csrf_token": csrf(page)})
        assert r.status_code == 200 and '<p class="error">Wrong user name or password.</p>' in r.text
    conn = web["app"].state.store.conn
    assert conn.execute("SELECT COUNT(*) FROM web_events WHERE action='login-failed'").fetchone()[0] >= 2


def test_security_headers_and_the_session_cookie(web):
    c = TestClient(web["app"], follow_redirects=False)
    for r in (c.get("/login"), c.get("/no-such-page"), c.get("/static/web.css")):
        assert r.headers["content-security-policy"] == (
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    cookie = TestClient(web["app"]).get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    tls = TestClient(web["app"], base_url="https://testserver", follow_redirects=False)
    assert "secure" in tls.get("/login").headers["set-cookie"].lower()


def test_a_tampered_session_cookie_is_not_a_login(web):
    c = TestClient(web["app"], follow_redirects=False)
    import base64
    import json

    forged = base64.b64encode(json.dumps({"uid": 1}).encode()).decode() + ".AAAAAA.forged"
    c.cookies.set("monitor_session", forged)
    assert c.get("/sites").status_code == 303


def test_passwords_and_tokens_are_stored_only_as_hashes(web):
    app = web["app"]
    tok = token(app, "alice")
    conn = app.state.store.conn
    stored = [r[0] for r in conn.execute("SELECT password FROM users")]
    assert all(s.startswith("$argon2id$") for s in stored)
    assert all("alice-pass-1" not in s for s in stored)
    assert tok not in {r[0] for r in conn.execute("SELECT sha256 FROM api_tokens")}


def test_cell_text_is_shown_as_text_never_markup(tmp_path):
    from builders import set_cell, valid_study, write

    sheets = set_cell(valid_study(), "AdverseEvents", 0, "CTCAE term", '<script>alert(1)</script><img src=x>')
    path = write(tmp_path / "hostile.xlsx", sheets)
    app = make_app(tmp_path)
    try:
        alice = login(app, "alice")
        page = wait_done(alice, web_id_of(upload(alice, "site01", path.read_bytes(), "<b>x</b>.xlsx")))
        assert "<script>alert(1)</script>" not in page and "<img src=x>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<b>x</b>" not in page
    finally:
        app.state.checker.close()
