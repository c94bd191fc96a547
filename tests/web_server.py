"""A real `monitor serve` for the browser and load tests: users made with `monitor users add`,
the server started as a subprocess on a free port of 127.0.0.1, ready once GET /login answers,
stopped (and its process group with it) at teardown. Also: a headless Chromium (Debian's
/usr/bin/chromium driven by Playwright, never a downloaded browser) and a tiny local HTTP
listener that records any request it gets (a leak detector for URLs typed into cells).

Without Chromium or Playwright the browser tests skip, unless MONITOR_REQUIRE_BROWSER=1 (set by
scripts/test.sh, so CI fails instead of silently skipping)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_sheets" / "demo_study.xlsx"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery staple"
READY_TIMEOUT = 90.0   # the server imports polars, weasyprint ... on a loaded 2-core machine


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def monitor(*args, stdin: str | None = None, timeout: float = 300, ok=(0,)) -> subprocess.CompletedProcess:
    """`python -m monitor ARGS` from the repository; raises with its stderr when its exit is not in `ok`."""
    r = subprocess.run([sys.executable, "-m", "monitor", *map(str, args)], cwd=ROOT, env=_env(), input=stdin,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode not in ok:
        raise AssertionError(f"monitor {' '.join(map(str, args))} -> exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class User:
    name: str
    role: str                      # coordinator | monitor | data-manager
    sites: tuple = ()
    password: str = PASSWORD


@dataclass
class Server:
    """One `monitor serve INBOX --out OUT` on 127.0.0.1:port."""
    root: Path
    users: list
    extra: tuple = ()              # more `serve` options (limits)
    port: int = 0
    proc: subprocess.Popen | None = None
    log: Path | None = None
    tokens: dict = field(default_factory=dict)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def setup(self) -> "Server":
        self.out.mkdir(parents=True, exist_ok=True)
        for u in self.users:
            for s in u.sites:
                (self.inbox / s).mkdir(parents=True, exist_ok=True)
            site_args = [a for s in u.sites for a in ("--site", s)]
            monitor("users", "add", u.name, "--role", u.role, *site_args, "--password-stdin", "--out", self.out,
                    stdin=u.password + "\n")
        self.inbox.mkdir(parents=True, exist_ok=True)
        return self

    def token(self, name: str) -> str:
        """A bearer token for `name` (`monitor users token`), made once."""
        if name not in self.tokens:
            line = monitor("users", "token", name, "--out", self.out).stdout.strip().splitlines()
            assert len(line) == 1 and line[0], line
            self.tokens[name] = line[0].strip()
        return self.tokens[name]

    def start(self) -> "Server":
        self.port = free_port()
        self.log = self.root / "serve.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "serve", str(self.inbox), "--out", str(self.out),
                 "--host", "127.0.0.1", "--port", str(self.port), *map(str, self.extra)],
                cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)   # its own process group: teardown ends every child too
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"monitor serve exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(self.url("/login"), timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"monitor serve did not answer GET /login in {READY_TIMEOUT:.0f} s:\n"
                                     f"{self.log_text()}")
            time.sleep(0.2)   # polling interval while waiting for readiness, not a synchronisation

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace")[-4000:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        try:   # workers the server forked that outlived it
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # ------------------------------------------------------------ API helpers

    def api(self, user: str, timeout: float = 300) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=timeout,
                            headers={"Authorization": f"Bearer {self.token(user)}"})

    def api_upload(self, user: str, path: Path = SAMPLE, name: str | None = None, site: str | None = None) -> dict:
        with self.api(user) as c:
            r = c.post("/api/workbooks", files={"file": (name or path.name, path.read_bytes(),
                                                         "application/vnd.openxmlformats-officedocument."
                                                         "spreadsheetml.sheet")},
                       data={"site": site} if site else None)
        assert r.status_code == 201, (r.status_code, r.text[:500])
        return r.json()


def serve(root: Path, users: list, extra: tuple = ()) -> Server:
    return Server(root, users, extra).setup().start()


# ---------------------------------------------------------------- browser


def require_browser():
    """playwright's sync API, or skip (fail under MONITOR_REQUIRE_BROWSER=1) without a browser."""
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        why, sync_playwright = f"playwright is not installed ({e})", None
    if why is None and not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium)"
    if why:
        if os.environ.get("MONITOR_REQUIRE_BROWSER") == "1":
            pytest.fail(why + " and MONITOR_REQUIRE_BROWSER=1")
        pytest.skip(why)
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium; each launch gets a fresh temporary profile (user-data-dir)."""
    sync_playwright = require_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def login(browser, server: Server, user: str, password: str = PASSWORD, requests: list | None = None):
    """A new browser context (own cookies) logged in as `user`; returns its page. `requests`,
    when given, collects the URL of every request the context makes."""
    ctx = browser.new_context(accept_downloads=True)
    ctx.set_default_timeout(120_000)   # a check on a loaded machine; waits are explicit, never sleeps
    if requests is not None:
        ctx.on("request", lambda r: requests.append(r.url))
    page = ctx.new_page()
    page.goto(server.url("/login"))
    page.fill("#login-form input[name=username]", user)
    page.fill("#login-form input[name=password]", password)
    with page.expect_navigation():
        page.click("#login-submit")
    return page


def wait_done(page, timeout_ms: int = 240_000):
    """Wait until the workbook page shows span#status "done" with its results: the page refreshes
    itself (or a script polls) while the check runs, so once the status says done the page is
    loaded again and must say done with its download link."""
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_have_text("done", timeout=timeout_ms)
    page.reload()
    expect(page.locator("#status")).to_have_text("done")
    expect(page.locator("#download-annotated")).to_be_visible()


# ---------------------------------------------------------------- leak detector


class Listener:
    """An HTTP server on 127.0.0.1 that records the path of every request it receives."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append((self.command, self.path))
                self.send_response(204)
                self.end_headers()

            do_POST = do_HEAD = do_OPTIONS = do_GET

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
