"""The worker processes that lay out a report's parts: their multiprocessing context, and
starting them early.

The workers are forked from a forkserver that has imported the renderer (WeasyPrint,
matplotlib: a few seconds). Started only when the parts are handed out, that import was time
with one core idle; `prestart()` starts the forkserver as soon as the report knows it will use
workers (before its view model is built), so the import runs beside the main process's work.
This module imports nothing heavy itself.
"""

from __future__ import annotations

import multiprocessing as mp

# the renderer imports WeasyPrint and matplotlib only where it lays out (render_part), so that the
# main process, which only hands parts out, never does; the workers' forkserver imports them once
PRELOAD = ["monitor.report.render", "monitor.report.fetcher", "monitor.report.charts", "weasyprint"]
POOL_MIN_COST = 12.0   # about 6 subjects: below it, starting worker processes costs more than it saves
SUBJECT_COST = 1.5     # the least a subject's section costs (render.plan_parts: 1.5 + 0.2 a cycle)


def context():
    """The forkserver context the parts and the finish are laid out in."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def worth_a_pool(n_subjects: int, jobs: int) -> bool:
    """Whether a whole-study report of `n_subjects` will be laid out in worker processes (at
    least: render._pooled decides on the parts' costs, which are never below this estimate)."""
    return jobs > 1 and n_subjects * SUBJECT_COST >= POOL_MIN_COST


def prestart() -> bool:
    """Start the forkserver (and its import of the renderer) now, without waiting for it.
    Returns False where worker processes cannot start (the report then lays out in turn)."""
    from multiprocessing import forkserver

    try:
        context()
        forkserver.ensure_running()
    except (OSError, ValueError):
        return False
    return True
