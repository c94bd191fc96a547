"""Worker processes of `monitor batch` with a time and a memory bound per workbook.

Each worker is a spawned process (no fork of a process with threads or polars loaded) that takes
one workbook at a time over a pipe, so the main process always knows which workbook a worker is
on. That gives each workbook its own bounds:

  - time: a workbook still running after `timeout` seconds has its worker killed (SIGKILL) and is
    recorded as `error` ("took longer than ..."); a fresh worker takes the next one;
  - memory: every 0.2 s the main process reads each worker's resident memory (/proc, Linux); a
    worker over `memory_mb` is killed the same way ("needed more than ... MB");
  - a worker that dies on its own (a crash in a C library, the OOM killer) costs only its own
    workbook, which is tried once more in a fresh worker and then recorded as `error`.

Workers die with the main process (worker.die_with_parent), and are stopped with it (SIGKILL)
when the run ends or is interrupted.
"""

from __future__ import annotations

import os
import time
from collections import deque

from .worker import error_result, worker_main

POLL = 0.2


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576
    except (OSError, ValueError, IndexError):
        return None


class _Worker:
    def __init__(self, ctx, profile):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=worker_main, args=(child, profile, os.getpid()), daemon=True,
                                name="monitor-worker")
        self.proc.start()
        child.close()
        self.task = None
        self.started = 0.0
        self.attempt = 1

    def give(self, fn, task: dict, attempt: int):
        self.task, self.attempt, self.started = task, attempt, time.perf_counter()
        self.conn.send((fn, task))

    def kill(self):
        try:
            self.proc.kill()
        except (OSError, ValueError):
            pass
        self.proc.join(timeout=5)
        self.conn.close()


class Pool:
    """`jobs` workers; `run(tasks)` yields (task, result) as they finish."""

    def __init__(self, jobs: int, profile, timeout: float = 0, memory_mb: float = 0):
        import multiprocessing

        self.ctx = multiprocessing.get_context("spawn")
        self.jobs, self.profile = max(1, jobs), profile
        self.timeout, self.memory_mb = timeout, memory_mb
        self.workers: list = []

    def _new(self) -> _Worker:
        w = _Worker(self.ctx, self.profile)
        self.workers.append(w)
        return w

    def _drop(self, w: _Worker):
        w.kill()
        if w in self.workers:
            self.workers.remove(w)

    def run(self, tasks: list, fn):
        """Run `fn(task)` (a top-level function: it is pickled by name) for each task."""
        queue = deque((t, 1) for t in tasks)
        while len(self.workers) < min(self.jobs, len(tasks)):
            self._new()
        from multiprocessing.connection import wait

        while queue or any(w.task is not None for w in self.workers):
            for w in self.workers:
                if w.task is None and queue:
                    w.give(fn, *queue.popleft())
            busy = [w for w in self.workers if w.task is not None]
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=POLL))
            for w in busy:
                task = w.task
                if w.conn in ready:
                    try:
                        res = w.conn.recv()
                    except (EOFError, OSError):
                        res = None
                    if res is not None:
                        w.task = None
                        yield task, res
                        continue
                if w.conn in ready or w.proc.sentinel in ready or not w.proc.is_alive():
                    self._drop(w)
                    if w.attempt < 2:
                        queue.appendleft((task, w.attempt + 1))   # once more, in a fresh worker
                    else:
                        yield task, error_result(task, f"{task['rel']}: the checker process died while "
                                                 "reading this workbook (crash or out of memory); it was "
                                                 "skipped", w.started)
                    if queue or any(x.task is not None for x in self.workers):
                        if len(self.workers) < self.jobs:
                            self._new()
                    continue
                over = self._over_bounds(w)
                if over:
                    self._drop(w)
                    yield task, error_result(task, f"{task['rel']}: {over}; it was skipped", w.started)
                    if queue and len(self.workers) < self.jobs:
                        self._new()

    def _over_bounds(self, w: _Worker) -> str | None:
        if self.timeout and time.perf_counter() - w.started > self.timeout:
            return (f"took longer than {self.timeout:g} s (--workbook-timeout): a slow or very large "
                    "workbook")
        if self.memory_mb:
            mb = rss_mb(w.proc.pid)
            if mb is not None and mb > self.memory_mb:
                return (f"needed more than {self.memory_mb:g} MB of memory (--workbook-memory-mb): a very "
                        "large workbook")
        return None

    def close(self, wait: bool = True):
        """Stop the workers: politely when idle (`wait`), else at once."""
        for w in list(self.workers):
            if wait and w.task is None and w.proc.is_alive():
                try:
                    w.conn.send(None)
                    w.proc.join(timeout=2)
                except (OSError, ValueError):
                    pass
            self._drop(w)
