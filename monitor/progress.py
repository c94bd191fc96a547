"""Progress of a long command (report, export): on a terminal a rich progress bar on stderr with
the current step (a subject, a table) and an estimate of the time left; without a terminal
(cron, a pipe, a log) one plain line per step on stderr, or nothing with `plain=False`.
stdout is never touched, so a command's last stdout line stays its result (the PDF's path).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager


class _Plain:
    def __init__(self, name: str, total: float, stream, say: bool):
        self.name, self.total, self.done, self.stream, self.say = name, total, 0.0, stream, say

    def grow(self, n: float):
        self.total += n

    def step(self, text: str, size: float = 1.0):
        """Start the next step (`text` says what it works on); the previous one is done."""
        if self.say:
            print(f"{self.name}: {text}", file=self.stream, flush=True)
        self.done += size

    def advance(self, size: float, text: str | None = None):
        self.done += size
        if text and self.say:
            print(f"{self.name}: {text}", file=self.stream, flush=True)

    def close(self):
        pass


class _Bar(_Plain):
    def __init__(self, name: str, total: float, stream, label: str):
        super().__init__(name, total, stream, False)
        from rich.console import Console
        from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.bar = Progress(TextColumn(f"{name} [bold]{{task.fields[label]}}[/]", markup=True), BarColumn(),
                            TaskProgressColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                            TextColumn("{task.description}", markup=False),
                            console=Console(file=stream), transient=True)
        self.bar.start()
        self.task = self.bar.add_task("", total=total, label=_escape(label))

    def grow(self, n: float):
        super().grow(n)
        self.bar.update(self.task, total=self.total)

    def step(self, text: str, size: float = 1.0):
        self.bar.update(self.task, completed=self.done, description=text)
        self.done += size

    def advance(self, size: float, text: str | None = None):
        self.done += size
        self.bar.update(self.task, completed=self.done, description=text or "")

    def close(self):
        self.bar.update(self.task, completed=self.total)
        self.bar.stop()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(str(text))


@contextmanager
def steps(name: str, total: float, label: str = "", stream=None, plain: bool = True):
    """`with steps("report", 5, "site07.xlsx") as p: p.step("checking") ...`"""
    stream = stream or sys.stderr
    p = None
    if getattr(stream, "isatty", lambda: False)():
        try:
            p = _Bar(name, total, stream, label)
        except Exception:  # pragma: no cover - rich missing or broken: plain lines still work
            p = None
    if p is None:
        p = _Plain(name, total, stream, plain)
    try:
        yield p
    finally:
        p.close()
