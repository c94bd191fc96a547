"""Checks off the request thread: a bounded queue and one dispatcher thread that runs the same
`Runner` as `monitor batch` / `monitor watch` (monitor/batch/runner.py) over the uploaded files.

    upload -> queue (bounded; full: the page says so, HTTP 503) -> dispatcher takes what is
    queued -> Runner.run(only=[those files]) -> the batch's worker processes (a fixed pool, with
    its time and memory bound per workbook) check each one from one snapshot, write findings,
    annotated copy (and the PDF summary when asked) with their SHA-256, and the history records
    the check -> the page's status becomes done (or failed, with the line `check` prints).

So an uploaded workbook and a nightly one are the same thing: same skip key, same outputs, same
history; the nightly batch skips an upload already checked (it writes the PDF the page did not).
The PDF summary takes far longer than the check, so the pages ask for it only when someone
downloads it (a second run over the same file: unchanged bytes, only the PDF is missing).

A workbook the checker cannot read (over a row or cell limit, a required sheet missing ...) is
moved out of the inbox to OUT/.refused/<site>/ so that the nightly batch does not fail on it.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import store


@dataclass
class Job:
    web_id: int
    rel: str                       # path relative to the inbox
    upload: bool = False           # the first check of an upload: sets the page's status
    pdf: bool = False              # also write the PDF summary
    waiters: list = field(default_factory=list)    # (loop, future) of requests waiting for it
    result: dict | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wait_future(self):
        """A future of the running event loop that gets the job's result."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self.result is not None:
                fut.set_result(self.result)
            else:
                self.waiters.append((loop, fut))
        return fut

    def resolve(self, result: dict):
        with self._lock:
            self.result = result
            waiters, self.waiters = self.waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, fut, result)
            except RuntimeError:     # that request's loop is gone (server stopping)
                pass


class Busy(Exception):
    """The queue is full."""


class Checker:
    def __init__(self, opts, st: store.Store, max_queue: int = 64):
        from ..batch.runner import Runner

        self.opts = opts
        self.store = st
        self.runner = Runner(opts, _Progress(self))
        self._running: dict = {}       # rel -> Job of the run under way (results stream per workbook)
        self.inbox_real = self.runner.inbox_real
        self.q: queue.Queue = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict = {}       # (rel, pdf) -> Job queued or running (one per file)
        self._thread = threading.Thread(target=self._loop, name="monitor-web-checker", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Job:
        """Queue `job` (or return the same job already queued for that file). Raises Busy."""
        key = (job.rel, job.pdf)
        with self._lock:
            if key in self._pending:
                return self._pending[key]
            try:
                self.q.put_nowait(job)
            except queue.Full:
                raise Busy(f"the server is busy checking {self.q.maxsize} other workbooks; try again in a "
                           "minute") from None
            self._pending[key] = job
        return job

    def queued(self) -> int:
        return self.q.qsize()

    def close(self, wait: float = 5.0):
        """Stop taking jobs. A check under way gets `wait` seconds; after that the process may end
        anyway: worker processes die with it, the history keeps every workbook already recorded,
        and the next run marks the cut run interrupted (as for a killed `monitor batch`)."""
        self._stop.set()
        self._thread.join(timeout=wait)
        if not self._thread.is_alive():
            self.runner.close()

    # -- the dispatcher thread
    def _warm_up(self):
        """Start the worker processes and load the checker in them before the first upload (that
        costs seconds: the first upload would pay it)."""
        try:
            if self.runner._in_process(1):
                warm({})
                return
            pool = self.runner._get_pool(self.runner.jobs)
            for _ in pool.run([{"rel": "(warm-up)"} for _ in range(self.runner.jobs)], warm):
                pass
        except Exception:      # a worker that cannot start shows on the first real check instead
            pass

    def _loop(self):
        self._warm_up()
        while not self._stop.is_set():
            try:
                first = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            jobs = [first]
            while len(jobs) < 32:
                try:
                    jobs.append(self.q.get_nowait())
                except queue.Empty:
                    break
            for pdf in (False, True):
                batch = [j for j in jobs if j.pdf == pdf]
                if batch:
                    self._run(batch, pdf)

    def _run(self, jobs: list, pdf: bool):
        from ..batch.history import HistoryError
        from ..batch.model import BatchError

        conn = self.store.conn
        for j in jobs:
            if j.upload:
                store.set_status(conn, j.web_id, "checking")
        self.runner.opts.pdf = pdf
        self._running = {j.rel: j for j in jobs}
        try:
            report = self.runner.run(only=[self.inbox_real / j.rel for j in jobs], write_batch_json=False)
            ignored, failure = {i.rel: i.reason for i in report.ignored}, None
        except (BatchError, HistoryError) as e:
            ignored, failure = {}, f"the check could not run: {e}"
        except Exception as e:   # a bug: the page says so; the server keeps serving
            ignored, failure = {}, f"internal error: {type(e).__name__}: {e}"
        for j in list(self._running.values()):     # not reported one by one (ignored, or the run failed)
            self._finish(conn, j, None, ignored.get(j.rel), failure)
        self._running = {}

    def on_entry(self, entry):
        """A workbook of the run is recorded in the history: its page and waiters know at once."""
        job = self._running.pop(entry.path, None)
        if job is None:
            return
        try:
            self._finish(self.store.conn, job, entry, None, None)
        except Exception as e:     # the history could not take the page's status: still answer
            job.resolve({"status": "failed", "error": f"internal error: {type(e).__name__}: {e}",
                         "workbook": None, "outputs": {}, "notes": {}})

    def _finish(self, conn, job: Job, entry, ignored: str | None, failure: str | None):
        row = conn.execute("SELECT id FROM workbooks WHERE path=?", (job.rel,)).fetchone()
        wid = row[0] if row is not None else None
        if entry is not None and entry.status in ("checked", "skipped"):
            status, error = "done", None
        else:
            status = "failed"
            error = failure or (entry.error if entry is not None else None) or \
                (f"{job.rel}: {ignored}" if ignored else f"{job.rel}: was not checked")
        if job.upload:
            if entry is not None and entry.status == "error":
                self._refuse(job.rel)
            store.set_status(conn, job.web_id, status, error, wid)
        with self._lock:
            self._pending.pop((job.rel, job.pdf), None)
        job.resolve({"status": status, "error": error, "workbook": wid,
                     "outputs": dict(entry.outputs) if entry is not None else {},
                     "notes": dict(entry.notes) if entry is not None else {}})

    def _refuse(self, rel: str):
        """An unreadable upload leaves the inbox (kept in OUT/.refused/) so nightly runs stay clean."""
        src = self.inbox_real / rel
        dest = Path(self.opts.out).resolve() / ".refused" / rel
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src), str(dest))
        except OSError:
            try:
                os.unlink(src)
            except OSError:
                pass


def warm(task: dict) -> dict:
    """Run in a worker process: import what a check needs (polars, the rules, openpyxl)."""
    import monitor.check  # noqa: F401
    import monitor.workbook.annotate  # noqa: F401

    return {"status": "warm"}


class _Progress:
    """The Runner's progress hooks: `done(entry)` comes as each workbook is recorded."""

    def __init__(self, checker):
        self.checker = checker

    def done(self, entry):
        self.checker.on_entry(entry)

    def start(self, n):
        pass

    def checking(self, n):
        pass

    def finish(self, report):
        pass

    def note(self, text):
        pass


def _resolve(fut, value):
    if not fut.done():
        fut.set_result(value)
