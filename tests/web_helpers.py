"""Shared by tests/test_web_*.py: an app over a temporary inbox and output folder with users of two
sites, a Starlette TestClient per user, and the page forms' CSRF tokens."""

from __future__ import annotations

import re
import time
from pathlib import Path

from starlette.testclient import TestClient

from monitor.web import store
from monitor.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_sheets" / "demo_study.xlsx"
PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-22", "mona": "mona-pass-333", "dana": "dana-pass-4444"}


def make_app(tmp: Path, **kw):
    """inbox/ with site01 and site02, out/ with alice (coordinator site01), bob (coordinator
    site02), mona (monitor of both) and dana (data manager)."""
    inbox, out = tmp / "inbox", tmp / "out"
    (inbox / "site01").mkdir(parents=True, exist_ok=True)
    (inbox / "site02").mkdir(parents=True, exist_ok=True)
    app = create_app(inbox, out, jobs=1, **kw)
    conn = app.state.store.conn
    for name, role, sites in (("alice", "coordinator", ["site01"]), ("bob", "coordinator", ["site02"]),
                              ("mona", "monitor", ["site01", "site02"]), ("dana", "data-manager", [])):
        if store.user_by_name(conn, name) is None:
            store.add_user(conn, name, role, sites, PASSWORDS[name])
    return app


def csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the page has no form with a csrf_token"
    return m.group(1)


def login(app, name: str) -> TestClient:
    """A client (cookies kept) logged in as `name`; use as a context manager or close it."""
    c = TestClient(app, follow_redirects=False)
    page = c.get("/login")
    r = c.post("/login", data={"username": name, "password": PASSWORDS[name], "csrf_token": csrf(page.text)})
    assert r.status_code == 303, r.text
    return c


def token(app, name: str) -> str:
    conn = app.state.store.conn
    return store.new_token(conn, store.user_by_name(conn, name))


def upload(client: TestClient, site: str, data: bytes | None = None, name: str = "demo_study.xlsx"):
    page = client.get(f"/sites/{site}")
    return client.post(f"/sites/{site}/upload", data={"csrf_token": csrf(page.text)},
                       files={"file": (name, SAMPLE.read_bytes() if data is None else data)})


def wait_done(client: TestClient, web_id: int, timeout: float = 300) -> str:
    """The workbook page once its status is done or failed."""
    end = time.monotonic() + timeout
    while True:
        r = client.get(f"/workbooks/{web_id}")
        assert r.status_code == 200, r.text
        status = re.search(r'<span id="status"[^>]*>([^<]+)</span>', r.text).group(1)
        if status in ("done", "failed"):
            return r.text
        assert time.monotonic() < end, f"workbook {web_id} still {status}"
        time.sleep(0.2)


def web_id_of(response) -> int:
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])
