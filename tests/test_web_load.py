"""`monitor serve` under a bounded load (benchmarks/load_serve.py, smaller): 10 concurrent
clients, 50 requests (10 uploads of the sample, all with the same file name, mixed with reads of
findings and pages) end with no error and no lost upload: every upload is its own file in the
site's inbox, checked once in the history with its findings, and returned again by the API.
Timing is the benchmark's business, not asserted here."""

from __future__ import annotations

import asyncio
import sys

import pytest

from web_server import ROOT, User, serve

sys.path.insert(0, str(ROOT / "benchmarks"))
from load_serve import login_cookies, run_load, verify  # noqa: E402

pytestmark = pytest.mark.slow


def test_ten_concurrent_clients_and_fifty_requests_lose_no_upload_and_see_no_error(tmp_path):
    server = serve(tmp_path, [User("coord1", "coordinator", ("site01",))])
    try:
        token = server.token("coord1")
        first = server.api_upload("coord1")
        report = asyncio.run(run_load(server.base, token, login_cookies(server.base, "coord1"), first["id"],
                                      concurrency=10, requests=50, uploads=10))
        assert [(r.kind, r.status, r.error) for r in report.errors] == []
        assert len(report.ids) == 10
        assert verify(server, [first["id"], *report.ids], len(first["findings"]), token) == []
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()
