"""The one-page `batch-summary.pdf` across sites.

A plain view model built from the BatchReport, rendered by a jinja2 template with autoescape on
(workbook names are untrusted text), laid out by CSS, turned into PDF by WeasyPrint with a URL
fetcher that fetches nothing. Without WeasyPrint the PDF is left out and batch.json says so.
When every workbook was skipped and the list of workbooks is the same as last time, the previous
PDF still describes the batch and is kept (rendering would cost more than the whole re-run).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..assets import templates_dir

SUMMARY_PDF = "batch-summary.pdf"
MAX_ROWS = 28            # rows that fit one A4 landscape page at 8 pt (checked by a test)
SEVERITIES = ("critical", "major", "minor", "info")
_STATUS = {"checked": "checked", "skipped": "unchanged", "error": "UNREADABLE"}


def view_model(report, max_rows: int = MAX_ROWS) -> dict:
    def order(e):
        s = e.by_severity or {}
        return (e.status != "error", -s.get("critical", 0), -s.get("major", 0), -s.get("minor", 0), e.path)

    rows = []
    for e in sorted(report.workbooks, key=order):
        note = e.error or ""
        if not note and e.notes:
            note = "; ".join(v for k, v in sorted(e.notes.items()) if "not installed" not in v)
        rows.append({"path": e.path, "status": e.status, "status_label": _STATUS.get(e.status, e.status),
                     "by_severity": e.by_severity or {}, "new": e.new, "resolved": e.resolved,
                     "note": note[:300]})
    shown = rows[:max_rows]
    return {"run_id": report.run_id, "started": report.started, "inbox": report.inbox,
            "profile": report.profile, "tool_version": report.tool_version, "fail_on": report.fail_on,
            "exit_code": report.exit_code, "totals": report.totals(), "severities": SEVERITIES,
            "rows": shown, "more": len(rows) - len(shown)}


def render_html(model: dict) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("batch-summary.html.j2").render(**model)


def stylesheet() -> str:
    return (templates_dir() / "batch-summary.css").read_text("utf-8")


def refuse_fetch(url: str, *args, **kwargs):
    """WeasyPrint URL fetcher: the summary needs nothing from outside, so nothing is fetched."""
    raise ValueError(f"external resources are not loaded: {url[:80]}")


def _unchanged(out: Path, report) -> bool:
    if not (out / SUMMARY_PDF).is_file() or any(e.status != "skipped" for e in report.workbooks):
        return False
    try:
        prev = json.loads((out / "batch.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return [w.get("path") for w in prev.get("workbooks", [])] == [e.path for e in report.workbooks]


def write_summary_pdf(out: Path, report) -> tuple[str | None, str | None]:
    """(relative path written or kept, note) -- or (None, why it is not there)."""
    import importlib.util

    # looked up before importing: importing WeasyPrint costs more than a whole unchanged re-run
    if importlib.util.find_spec("weasyprint") is not None and _unchanged(out, report):
        return SUMMARY_PDF, "batch-summary.pdf kept: every workbook was unchanged since it was written"
    try:
        import weasyprint
    except Exception as e:  # ImportError, or OSError when pango is missing
        try:
            (out / SUMMARY_PDF).unlink()   # an older PDF would pass for this run's
        except OSError:
            pass
        return None, (f"batch-summary.pdf not written: WeasyPrint is not available ({type(e).__name__}); "
                      "batch.json has everything the PDF would show")
    from ..io import atomic_path

    css = weasyprint.CSS(string=stylesheet(), url_fetcher=refuse_fetch)
    rows = MAX_ROWS
    while True:
        html = weasyprint.HTML(string=render_html(view_model(report, rows)), url_fetcher=refuse_fetch,
                               base_url=None)
        doc = html.render(stylesheets=[css])
        if len(doc.pages) <= 1 or rows <= 5:
            break
        rows = max(5, rows * 3 // 4)
    with atomic_path(out / SUMMARY_PDF) as tmp:
        doc.write_pdf(tmp)
    return SUMMARY_PDF, None
