"""Run a phase of many small polars queries on one of polars' own worker threads.

Every eager polars call (`select`, `filter`, `join`, `sort` ...) collects a plan, and a plan
collected from a thread outside polars' thread pool is handed to a pool thread: the caller wakes
a sleeping worker and sleeps until the worker wakes it again. On this 2-core VM that round trip
is ~0.1 ms, more than the work of a query on a site workbook's few hundred rows (a 20-row sort
costs ~0.12 ms from the main thread, ~0.02 ms from a worker). The rules of a site check make
~800 such calls. Called from a pool worker, the same calls run where they are, with no hand-off;
their parallel parts still spread over the other workers (rayon's work stealing).

`on_pool(fn)` runs `fn()` on a worker: `pl.collect_all` of a one-row plan whose only expression
is a Python function that calls `fn`. Measured (the 20 x 8 site workbook, fresh process): the
rule phase 0.28-0.30 s -> 0.16 s; on the 1,000 x 30 study 1.35 -> 1.24 s.

What the caller gives up while `fn` runs: its thread waits inside polars, so a Ctrl-C (handled
on the main thread only) takes effect when `fn` returns, and `fn` runs on a thread whose stack is
Rust's (2 MiB unless RUST_MIN_STACK; monitor/__init__.py asks for 8 MiB, the main thread's), deep
enough for Python's default recursion limit either way (measured: 2,000 nested Python-C-Python
calls on 2 MiB). `fn` must not wait for another Python thread that itself calls polars (the
workbook reader's loading threads do): with every worker waiting like that, that thread's query
would find no worker. So only code that calls polars from its own thread goes here (the rules).
Another thread's query meanwhile waits at most until `fn` returns, also when polars has a single
thread (POLARS_MAX_THREADS=1, or a one-CPU container): then every query of `fn` runs in turn on
that thread, still without a hand-off (measured: the site rules 0.14 -> 0.12 s on one thread).
"""

from __future__ import annotations

import threading

import polars as pl

_ON_POOL = threading.local()


def on_pool(fn):
    """`fn()`, run on a polars worker thread (see the module docstring); its result, or its
    exception re-raised here. Runs `fn()` directly when already on the pool (a nested call)."""
    if getattr(_ON_POOL, "active", False):
        return fn()
    box: dict = {}

    def run(s: pl.Series, return_dtype=None) -> pl.Series:
        if not box:                      # once, whatever polars does with the function
            _ON_POOL.active = True
            try:
                box["value"] = fn()
            except BaseException as e:   # re-raised on the caller's thread below
                box["error"] = e
            finally:
                _ON_POOL.active = False
        return s

    plan = pl.LazyFrame({"x": [0]}).select(pl.col("x").map_batches(run, return_dtype=pl.Int64))
    pl.collect_all([plan], engine="in-memory")
    if "error" in box:
        raise box["error"]
    if "value" not in box:               # polars never called it: nothing is lost, run it here
        return fn()
    return box["value"]
