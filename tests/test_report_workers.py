"""The report's worker processes are started before the view model is built when the study will
be laid out in them (monitor/report/workers.py), and not for a small study or one process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitor.check import check_workbook
from monitor.report import make_report, workers

DEMO = Path(__file__).resolve().parent.parent / "sample_sheets" / "demo_study.xlsx"
NOW = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("n, jobs, pool", [
    (200, 2, True), (8, 2, True),      # 8 subjects cost at least 12: a pool (render._pooled)
    (7, 2, False), (0, 2, False),      # below the pool's least cost: laid out in turn
    (200, 1, False),                   # one process: no workers
])
def test_a_pool_is_foreseen_only_when_the_parts_will_be_pooled(n, jobs, pool):
    assert workers.worth_a_pool(n, jobs) is pool


def test_the_foreseen_pool_never_disagrees_with_the_parts_costs():
    """worth_a_pool's estimate is at most the planned cost: it never starts workers that the
    report then does not use because of the cost rule."""
    from monitor.report import render

    assert render.POOL_MIN_COST == workers.POOL_MIN_COST
    # render.plan_parts costs a subject 1.5 + 0.2 a cycle, and adds the overview and listing
    assert workers.SUBJECT_COST <= 1.5


class _Stop(Exception):
    pass


@pytest.fixture(scope="module")
def demo_result(profile):
    return check_workbook(DEMO, profile, now=NOW)


@pytest.mark.parametrize("jobs, subject, started", [(2, None, True), (1, None, False), (2, "001", False)])
def test_make_report_starts_the_workers_before_building_the_view(demo_result, profile, monkeypatch, tmp_path,
                                                                 jobs, subject, started):
    from monitor.report import _n_subjects

    calls = []
    monkeypatch.setattr(workers, "prestart", lambda: calls.append("prestart") or True)
    monkeypatch.setattr(workers, "POOL_MIN_COST", workers.SUBJECT_COST * _n_subjects(demo_result))

    def built(*a, **k):
        calls.append("view")
        raise _Stop

    monkeypatch.setattr("monitor.report.build_view", built)
    with pytest.raises(_Stop):
        make_report(demo_result, profile, tmp_path / "r.pdf", now=NOW, tool_version="x", jobs=jobs,
                    subject=subject)
    assert calls == (["prestart", "view"] if started else ["view"])


def test_prestart_leaves_a_forkserver_running_for_the_pool():
    from multiprocessing import forkserver

    assert workers.prestart() is True
    assert forkserver._forkserver._forkserver_pid is not None
    assert forkserver._forkserver._preload_modules == workers.PRELOAD


def test_the_process_that_hands_parts_out_does_not_import_the_renderers_libraries():
    """render.py imports WeasyPrint and matplotlib only to lay a part out: the main process of a
    pooled report (which plans the parts and sends them to workers) never imports them, the
    workers' forkserver imports them once for all workers."""
    import subprocess
    import sys

    code = ("import sys, monitor.report.render as r\n"
            "from monitor.report import workers\n"
            "print(sorted(m for m in ('weasyprint', 'matplotlib') if m in sys.modules))\n"
            "from monitor.report.render import AssetFetcher\n"
            "print(AssetFetcher.__module__, 'weasyprint' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "monitor.report.fetcher True"
    assert {"weasyprint", "monitor.report.charts"} <= set(workers.PRELOAD)
