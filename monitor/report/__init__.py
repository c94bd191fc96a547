"""PDF cycle summaries for study monitors: view model (view.py and the page-kind modules it
names), charts (charts.py) and the WeasyPrint renderer (render.py). `make_report` is the one entry point the CLI uses."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from .view import ReportError, build_view

__all__ = ["ReportError", "build_view", "make_report", "previous_ids", "report_name"]


def report_name(stem: str, subject: str | None = None, cycle: int | None = None) -> str:
    """File name of the PDF: <stem>-summary.pdf, <stem>-<subject>-summary.pdf or
    <stem>-<subject>-cycle<N>-summary.pdf."""
    from .view import slug

    if subject is None:
        return f"{stem}-summary.pdf"
    if cycle is None:
        return f"{stem}-{slug(subject)}-summary.pdf"
    return f"{stem}-{slug(subject)}-cycle{cycle}-summary.pdf"


def previous_ids(path) -> set:
    """Finding ids of an earlier run's findings.json (the file `monitor check` writes)."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
        return {f["id"] for f in data["findings"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ReportError(f"{path}: not a findings.json of an earlier run ({e})") from None


def make_report(result, profile, out_path, *, now: datetime, tool_version: str, subject: str | None = None,
                cycle: int | None = None, previous: set | None = None, jobs: int = 1, force_pool: bool = False,
                progress=None):
    """Build the view model of a check Result and render it to `out_path`. `now` and
    `tool_version` are passed in so the same inputs give the same PDF. Returns ReportStats."""
    from ..export import build_tables
    from ..labs.catalogue import load_catalogue
    from . import workers

    t0, c0 = time.perf_counter(), time.process_time()
    if subject is None and workers.worth_a_pool(_n_subjects(result), jobs):
        workers.prestart()   # the workers' imports run while the view is built
    from .render import write_report

    tables = build_tables(result, load_catalogue(), profile=profile)
    view = build_view(result, profile, generated=now, tool_version=tool_version, subject=subject, cycle=cycle,
                      previous_ids=previous, tables=tables)
    t_view, c_view = time.perf_counter() - t0, time.process_time() - c0
    stats = write_report(view, out_path, jobs=jobs, force_pool=force_pool, progress=progress)
    stats.timings["view"] = t_view
    stats.timings["cpu_view"] = c_view
    stats.wall += t_view
    return stats


def _n_subjects(result) -> int:
    """Rows of the Subjects sheet (0 when it is missing): enough to tell a study that will be
    laid out in worker processes before its view model is built."""
    sheet = result.wb.get("Subjects") if getattr(result, "wb", None) is not None else None
    return sheet.frame.height if sheet is not None else 0
