"""Load test of `monitor serve` on 127.0.0.1 (issue 17): concurrent uploads of the sample
workbook through the JSON API mixed with reads of findings and HTML pages; then checks that no
upload was lost.

    .venv/bin/python benchmarks/load_serve.py                       # 20 concurrent, 200 requests, 40 uploads
    .venv/bin/python benchmarks/load_serve.py --concurrency 10 --requests 50 --uploads 10

Starts its own server (tests/web_server.py: users made with `monitor users add`, bearer token
from `monitor users token`, `monitor serve` as a subprocess on a free port), then:

  baseline  one upload alone, timed (same run, same machine load): the reference for the ratios
  load      REQUESTS requests, CONCURRENCY at a time, in a fixed shuffled order (seed 17):
            UPLOADS x POST /api/workbooks (the sample), the rest split between
            GET /api/workbooks/<id> (findings as JSON) and GET of HTML pages (/sites/site01,
            /workbooks/<id>) with a logged-in session cookie
  verify    every upload answered 201 with a distinct id; each is a file in INBOX/site01, has a
            `checks` row 'checked' in OUT/monitor.db with its findings stored, and
            GET /api/workbooks/<id> returns the same number of findings as `monitor check`

Prints p50/p95 latency per kind, uploads per minute (uploads / wall time of the load phase),
errors (any transport error or unexpected status) and lost uploads, with ratios against the
baseline, and /proc/loadavg before and after (2 shared cores: read the numbers with it).
Exit 1 when there is an error or a lost upload.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from web_server import PASSWORD, SAMPLE, Server, User, serve  # noqa: E402

SITE = "site01"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIMEOUT = 900.0
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="csrf_token"')


@dataclass
class Result:
    kind: str
    status: int | None
    seconds: float
    error: str | None = None
    id: int | None = None


@dataclass
class Report:
    results: list = field(default_factory=list)
    wall: float = 0.0
    ids: list = field(default_factory=list)
    max_uploads_in_flight: int = 0

    def of(self, kind: str) -> list:
        return [r for r in self.results if r.kind == kind]

    @property
    def errors(self) -> list:
        return [r for r in self.results if r.error]


def pct(values: list, q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def login_cookies(base: str, user: str, password: str = PASSWORD) -> httpx.Cookies:
    """A session cookie from the login form (GET /login for its CSRF token, POST /login)."""
    with httpx.Client(base_url=base, timeout=60) as c:
        page = c.get("/login")
        m = CSRF.search(page.text)
        data = {"username": user, "password": password}
        if m:
            data["csrf_token"] = m.group(1) or m.group(2)
        r = c.post("/login", data=data)
        assert r.status_code == 303, (r.status_code, r.text[:300])
        return c.cookies


async def upload(client: httpx.AsyncClient, data: bytes, name: str) -> Result:
    t = time.perf_counter()
    try:
        r = await client.post("/api/workbooks", files={"file": (name, data, XLSX)})
    except httpx.HTTPError as e:
        return Result("upload", None, time.perf_counter() - t, f"{type(e).__name__}: {e}")
    dt = time.perf_counter() - t
    if r.status_code != 201:
        return Result("upload", r.status_code, dt, r.text[:200])
    try:
        return Result("upload", 201, dt, id=int(r.json()["id"]))
    except (ValueError, KeyError, TypeError) as e:
        return Result("upload", 201, dt, f"bad JSON: {e}")


async def get(client: httpx.AsyncClient, kind: str, path: str) -> Result:
    t = time.perf_counter()
    try:
        r = await client.get(path)
    except httpx.HTTPError as e:
        return Result(kind, None, time.perf_counter() - t, f"{type(e).__name__}: {e}")
    dt = time.perf_counter() - t
    return Result(kind, r.status_code, dt, None if r.status_code == 200 else f"{path}: {r.text[:200]}")


def plan(requests: int, uploads: int, seed: int = 17) -> list:
    """The kinds of the requests in order: uploads spread through the run, the rest half JSON
    findings, half HTML pages."""
    rest = requests - uploads
    kinds = ["upload"] * uploads + ["findings"] * (rest // 2) + ["page"] * (rest - rest // 2)
    rnd = random.Random(seed)
    rnd.shuffle(kinds)
    return kinds


async def run_load(base: str, token: str, cookies: httpx.Cookies, seed_id: int, concurrency: int,
                   requests: int, uploads: int, data: bytes = None) -> Report:
    data = data if data is not None else SAMPLE.read_bytes()
    report = Report()
    sem = asyncio.Semaphore(concurrency)
    known = [seed_id]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    api = httpx.AsyncClient(base_url=base, timeout=TIMEOUT, limits=limits,
                            headers={"Authorization": f"Bearer {token}"})
    web = httpx.AsyncClient(base_url=base, timeout=TIMEOUT, limits=limits, cookies=cookies)
    rnd = random.Random(seed_id)
    in_flight = 0

    async def one(i: int, kind: str):
        nonlocal in_flight
        async with sem:
            if kind == "upload":
                in_flight += 1
                report.max_uploads_in_flight = max(report.max_uploads_in_flight, in_flight)
                try:
                    res = await upload(api, data, SAMPLE.name)   # one name for all: none may overwrite another
                finally:
                    in_flight -= 1
                if res.id is not None:
                    known.append(res.id)
                    report.ids.append(res.id)
            elif kind == "findings":
                res = await get(api, kind, f"/api/workbooks/{rnd.choice(known)}")
            else:
                path = f"/sites/{SITE}" if i % 2 else f"/workbooks/{rnd.choice(known)}"
                res = await get(web, kind, path)
            report.results.append(res)

    t = time.perf_counter()
    async with api, web:
        await asyncio.gather(*(one(i, k) for i, k in enumerate(plan(requests, uploads))))
    report.wall = time.perf_counter() - t
    return report


def verify(server: Server, ids: list, expected_findings: int, token: str) -> list:
    """Problems with the uploads `ids` (empty: none lost)."""
    problems = []
    if len(set(ids)) != len(ids):
        problems.append(f"duplicate ids: {sorted(ids)}")
    files = sorted(p.name for p in (server.inbox / SITE).glob("*.xlsx"))
    if len(files) != len(set(ids)):
        problems.append(f"{len(files)} files in the inbox for {len(set(ids))} uploads")
    con = sqlite3.connect(f"file:{server.out / 'monitor.db'}?mode=ro", uri=True)
    try:
        rows = dict(con.execute(
            "SELECT w.path, max(c.findings) FROM workbooks w JOIN checks c ON c.workbook = w.id "
            "WHERE c.status = 'checked' GROUP BY w.path").fetchall())
        stored = dict(con.execute("SELECT w.path, count(f.id) FROM workbooks w JOIN findings f "
                                  "ON f.workbook = w.id GROUP BY w.path").fetchall())
    finally:
        con.close()
    for name in files:
        path = f"{SITE}/{name}"
        if rows.get(path) != expected_findings:
            problems.append(f"{path}: history check records {rows.get(path)} findings, want {expected_findings}")
        if stored.get(path, 0) == 0:
            problems.append(f"{path}: no findings stored in the history")
    with httpx.Client(base_url=server.base, timeout=TIMEOUT, headers={"Authorization": f"Bearer {token}"}) as c:
        for i in sorted(set(ids)):
            r = c.get(f"/api/workbooks/{i}")
            n = len(r.json().get("findings", [])) if r.status_code == 200 else None
            if n != expected_findings:
                problems.append(f"GET /api/workbooks/{i}: {r.status_code}, {n} findings, want {expected_findings}")
    return problems


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--uploads", type=int, default=40)
    a = ap.parse_args(argv)
    if not 0 < a.uploads <= a.requests:
        ap.error("--uploads must be between 1 and --requests")

    with tempfile.TemporaryDirectory(prefix="load_serve-") as tmp:
        print(f"loadavg before: {loadavg()}")
        server = serve(Path(tmp), [User("coord1", "coordinator", (SITE,))])
        try:
            token = server.token("coord1")
            cookies = login_cookies(server.base, "coord1")
            t = time.perf_counter()
            first = server.api_upload("coord1")
            baseline = time.perf_counter() - t
            expected = len(first["findings"])
            print(f"baseline: one upload alone {baseline:.2f} s ({expected} findings)")
            report = asyncio.run(run_load(server.base, token, cookies, first["id"], a.concurrency,
                                          a.requests, a.uploads))
            lost = verify(server, [first["id"], *report.ids], expected, token)
        finally:
            server.stop()
        print(f"loadavg after:  {loadavg()}")

    print(f"\n{a.requests} requests, {a.concurrency} concurrent, {a.uploads} uploads of {SAMPLE.name}: "
          f"wall {report.wall:.1f} s; at most {report.max_uploads_in_flight} uploads in flight at once")
    print(f"{'kind':<9} {'n':>4} {'p50 s':>8} {'p95 s':>8} {'max s':>8} {'p50/base':>9}")
    for kind in ("upload", "findings", "page"):
        s = [r.seconds for r in report.of(kind)]
        if s:
            print(f"{kind:<9} {len(s):>4} {statistics.median(s):>8.3f} {pct(s, 0.95):>8.3f} {max(s):>8.3f} "
                  f"{statistics.median(s) / baseline:>9.2f}")
    ok_uploads = len(report.ids)
    per_min = ok_uploads / report.wall * 60 if report.wall else 0.0
    serial = 60 / baseline
    print(f"uploads per minute: {per_min:.1f} under load (one at a time alone: {serial:.1f}/min; "
          f"ratio {per_min / serial:.2f})")
    print(f"errors: {len(report.errors)}")
    for r in report.errors[:10]:
        print(f"  {r.kind} {r.status}: {r.error}")
    print(f"lost uploads: {len(lost)}")
    for p in lost[:10]:
        print(f"  {p}")
    return 1 if report.errors or lost else 0


if __name__ == "__main__":
    sys.exit(main())
