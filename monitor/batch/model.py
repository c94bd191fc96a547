"""What a batch run reports: options, one Entry per workbook, the BatchReport (batch.json), exit codes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..findings import Severity

BATCH_JSON = "batch.json"
EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class BatchError(Exception):
    """The batch cannot run as asked (inbox missing, --out inside the inbox): exit code 2."""

    code = EXIT_UNREADABLE


class RunFailure(BatchError):
    """The run itself failed or could not start: disk full, permission denied, read-only output
    folder, damaged or newer history database, output folder busy. Exit code 3; the message is
    one line naming the path and the cause."""

    code = EXIT_FAILED


@dataclass
class BatchOptions:
    inbox: Path
    out: Path
    profile: object                      # a loaded monitor.profile.Profile
    fail_on: Severity = Severity.MAJOR
    jobs: int | None = None              # None: the number of cores
    force: bool = False
    max_unpacked_mb: float = 200
    kind: str = "batch"                  # batch | watch (recorded in the history)
    pdf: bool = True                     # per-workbook PDF summaries and batch-summary.pdf
    lock_timeout: float = 600.0
    workbook_timeout: float = 600.0      # seconds per workbook (0: no bound)
    workbook_memory_mb: float = 2048.0   # resident memory per worker process (0: no bound)


@dataclass
class Entry:
    """One workbook's line in batch.json."""

    path: str
    sha256: str | None
    status: str                          # checked | skipped | error
    error: str | None = None
    findings: int | None = None
    by_severity: dict | None = None
    new: int | None = None
    persisting: int | None = None
    resolved: int | None = None
    outputs: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    out_dir: str | None = None
    seconds: float | None = None         # not in batch.json (it would differ between runs)

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "status": self.status, "error": self.error,
                "findings": self.findings, "by_severity": self.by_severity, "new": self.new,
                "persisting": self.persisting, "resolved": self.resolved, "out_dir": self.out_dir,
                "outputs": self.outputs, "notes": self.notes}

    def count_at_least(self, threshold: Severity) -> int:
        if not self.by_severity:
            return 0
        return sum(n for s, n in self.by_severity.items() if Severity(s).rank >= threshold.rank)


@dataclass
class BatchReport:
    run_id: int
    started: str
    finished: str | None
    inbox: str
    out: str
    profile: str
    tool_version: str
    fail_on: str
    workbooks: list
    ignored: list
    exit_code: int | None = None
    outputs: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    interrupted: bool = False
    news_since_run: int | None = None    # new / resolved are counted since this completed run

    def totals(self) -> dict:
        t = {"workbooks": len(self.workbooks), "checked": 0, "skipped": 0, "error": 0, "findings": 0,
             "by_severity": {s.value: 0 for s in Severity}, "new": 0, "resolved": 0}
        for e in self.workbooks:
            t[e.status] += 1
            t["findings"] += e.findings or 0
            for s, n in (e.by_severity or {}).items():
                t["by_severity"][s] += n
            t["new"] += e.new or 0
            t["resolved"] += e.resolved or 0
        return t

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "started": self.started, "finished": self.finished,
                "inbox": self.inbox, "out": self.out, "profile": self.profile,
                "tool_version": self.tool_version, "fail_on": self.fail_on, "exit_code": self.exit_code,
                "news_since_run": self.news_since_run, "totals": self.totals(), "outputs": self.outputs, "notes": self.notes,
                "workbooks": [e.to_dict() for e in self.workbooks],
                "ignored": [{"path": i.rel, "reason": i.reason} for i in self.ignored]}


def exit_code(entries: list, threshold: Severity) -> int:
    """Over the whole batch: 2 if any workbook is unreadable, else 1 if any workbook (checked now
    or unchanged since its last check) has a finding at or above the threshold, else 0."""
    if any(e.status == "error" for e in entries):
        return EXIT_UNREADABLE
    if any(e.count_at_least(threshold) for e in entries):
        return EXIT_FINDINGS
    return EXIT_OK


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).replace(microsecond=0).isoformat()


