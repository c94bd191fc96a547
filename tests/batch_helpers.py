"""Shared helpers of the batch, history and watch tests: small inboxes and one-call runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from builders import set_cells, valid_study, write
from monitor.batch.runner import BatchOptions, run_batch
from monitor.findings import Severity

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "sample_sheets" / "demo_study.xlsx"
MESSY = ROOT / "sample_sheets" / "messy_site.xlsx"


def clean_workbook(path: Path, **subject0) -> Path:
    """A small valid study (no finding), with Subjects row 0 changed by `subject0` (Sex="X" ...)."""
    s = valid_study()
    if subject0:
        set_cells(s, "Subjects", 0, **subject0)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, s)


def broken_workbook(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a zip archive")
    return path


def copy_to(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def batch(inbox: Path, out: Path, profile, **kw):
    """One run in this process (jobs=1, no time or memory bound) without the PDFs (they have
    their own tests)."""
    kw.setdefault("jobs", 1)
    kw.setdefault("pdf", False)
    kw.setdefault("workbook_timeout", 0)      # no bounds: jobs=1 then checks in this process (fast)
    kw.setdefault("workbook_memory_mb", 0)
    if isinstance(kw.get("fail_on"), str):
        kw["fail_on"] = Severity.parse(kw["fail_on"])
    return run_batch(BatchOptions(inbox=inbox, out=out, profile=profile, **kw))


def entry(report, path: str):
    return next(e for e in report.workbooks if e.path == path)


def monitor(*args, cwd=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "monitor", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


def batch_json(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text("utf-8"))


def no_summary_pdf(monkeypatch):
    """Most tests need not pay for WeasyPrint: the one-page summary is tested on its own."""
    import monitor.batch.summary as summary

    monkeypatch.setattr(summary, "write_summary_pdf", lambda out, report: (None, "not written in this test"))
