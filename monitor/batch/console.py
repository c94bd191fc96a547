"""What batch and watch print: progress on stderr, a summary on stdout.

On a terminal, a progress bar with the current file; otherwise (cron, a log file) one plain line
per workbook that was checked or could not be read, so the mail cron sends is readable.
Unchanged workbooks get no line of their own; the summary counts them.
"""

from __future__ import annotations

import sys


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def entry_line(e) -> str:
    if e.status == "error":
        return f"ERROR    {e.error if (e.error or '').startswith(e.path) else f'{e.path}: {e.error}'}"
    sev = ", ".join(f"{e.by_severity[s]} {s}" for s in ("critical", "major", "minor", "info")
                    if e.by_severity and e.by_severity.get(s))
    text = f"{e.status:<8} {e.path}: {_plural(e.findings or 0, 'finding')}" + (f" ({sev})" if sev else "")
    if e.status == "checked":
        text += f"; {e.new} new, {e.resolved} resolved"
    return text


def summary_text(report) -> str:
    t = report.totals()
    sev = ", ".join(f"{t['by_severity'][s]} {s}" for s in ("critical", "major", "minor", "info")
                    if t["by_severity"][s])
    lines = [f"run {report.run_id}: {_plural(t['workbooks'], 'workbook')}: {t['checked']} checked, "
             f"{t['skipped']} unchanged (skipped), {t['error']} unreadable; "
             f"{_plural(t['findings'], 'open finding')}" + (f" ({sev})" if sev else "")
             + f"; {t['new']} new, {t['resolved']} resolved since "
             + (f"run {report.news_since_run} (the last completed run)" if report.news_since_run
                else "the first run")]
    for e in report.workbooks:
        if e.status == "error":
            lines.append(f"  unreadable: {e.error if (e.error or '').startswith(e.path) else f'{e.path}: {e.error}'}")
    for e in report.workbooks:
        if e.new or e.resolved:
            lines.append(f"  changed:    {e.path}: +{e.new} new, -{e.resolved} resolved")
    for k, v in sorted(report.notes.items()):
        lines.append(f"  note: {v}")
    for i in report.ignored:   # every file not checked, with the reason (also in batch.json)
        lines.append(f"  not checked: {i.rel}: {i.reason}")
    if report.outputs.get("batch_json"):
        lines.append(f"  wrote {report.out}/batch.json" + (f" and {report.outputs['summary_pdf']}"
                                                            if report.outputs.get("summary_pdf") else ""))
    lines.append(f"exit code {report.exit_code} (threshold {report.fail_on})")
    return "\n".join(lines) + "\n"


class PlainProgress:
    """One line per checked / unreadable workbook on stderr."""

    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.total = 0
        self.n = 0

    def _say(self, text: str):
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def note(self, text: str):
        self._say(text)

    def start(self, total: int):
        self.total, self.n = total, 0

    def checking(self, n: int):
        if n:
            self._say(f"checking {_plural(n, 'workbook')} of {self.total} ({self.total - n} unchanged) ...")

    def done(self, e):
        # numbered among the workbooks that get a line (checked or unreadable), out of all of them:
        # one of two checked is "[1/2] checked", never "[2/2]" (issue 14)
        if e.status != "skipped":
            self.n += 1
            self._say(f"[{self.n}/{self.total}] {entry_line(e)}")

    def finish(self, report):
        pass


class BarProgress(PlainProgress):
    """A rich progress bar with the current file (terminal only)."""

    def __init__(self, stream=None):
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.console = Console(file=self.stream)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                            TextColumn("{task.fields[current]}", markup=False),
                            console=self.console, transient=True)
        self.task = None

    def note(self, text: str):
        self.console.print(text)

    def start(self, total: int):
        super().start(total)
        self.bar.start()
        self.task = self.bar.add_task("checking", total=total, current="")

    def checking(self, n: int):
        if n:
            self.console.print(f"checking {_plural(n, 'workbook')} of {self.total} "
                               f"({self.total - n} unchanged) ...", highlight=False)

    def done(self, e):
        if e.status != "skipped":
            self.n += 1
            self.console.print(entry_line(e), highlight=False, markup=False)
        self.bar.update(self.task, advance=1, current=e.path)

    def finish(self, report):
        self.bar.stop()

    def stop(self):
        self.bar.stop()


def make_progress(quiet: bool = False):
    if quiet:
        return PlainProgress(quiet=True)
    if sys.stderr.isatty():
        try:
            return BarProgress(sys.stderr)
        except Exception:  # pragma: no cover - rich missing or broken: plain lines still work
            pass
    return PlainProgress()


def _sev_counts(d: dict) -> str:
    parts = [f"{d.get(s) or 0} {s}" for s in ("critical", "major", "minor", "info") if d.get(s)]
    return f" ({', '.join(parts)})" if parts else ""


def history_text(data: dict) -> str:
    """`monitor history`: the runs, or one workbook's checks with what changed in each."""
    lines = []
    if "runs" in data:
        if not data["runs"]:
            return f"no runs recorded in {data['out']}\n"
        head = ("run", "started", "kind", "status", "exit", "workbooks", "checked", "skipped", "errors",
                "findings", "new", "resolved")
        rows = [(str(r["id"]), r["started"], r["kind"], r["status"],
                 "" if r["exit_code"] is None else str(r["exit_code"]), str(r["workbooks"] or 0),
                 str(r["checked"] or 0), str(r["skipped"] or 0), str(r["errors"] or 0), str(r["findings"] or 0),
                 str(r["new"] or 0), str(r["resolved"] or 0)) for r in data["runs"]]
        w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        lines.append("  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
        for r in rows:
            lines.append("  ".join(v.ljust(w[i]) for i, v in enumerate(r)).rstrip())
        return "\n".join(lines) + "\n"
    lines.append(f"{data['workbook']}  (history in {data['out']})")
    for c in data["checks"]:
        head = f"run {c['run']}  {c['started']}  {c['status']}"
        if c["status"] == "error":
            lines.append(f"{head}: {c['error']}")
            continue
        text = f"{head}: {_plural(c['findings'] or 0, 'finding')}{_sev_counts(c)}"
        if c["status"] == "checked":
            text += f"; {c['new'] or 0} new, {c['persisting'] or 0} persisting, {c['resolved'] or 0} resolved"
        else:
            text += "; unchanged since the last check"
        lines.append(text)
        for ch in c["changes"]:
            where = f"{ch['sheet']}!{ch['cell']}" if ch["sheet"] and ch["cell"] else (ch["sheet"] or "-")
            mark = "+ new     " if ch["change"] == "new" else "- resolved"
            lines.append(f"    {mark} {ch['severity']:<8} {ch['rule']:<7} {where:<22} "
                         f"{ch['subject'] or '':<8} {ch['message'] or ''}")
    lines.append(f"open now: {_plural(len(data['open_findings']), 'finding')}")
    return "\n".join(lines) + "\n"
