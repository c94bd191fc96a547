"""monitor.pool.on_pool: a phase of small polars queries run on one of polars' worker threads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import polars as pl
import pytest

from monitor.pool import on_pool

ROOT = Path(__file__).resolve().parent.parent


def test_the_function_runs_on_a_polars_worker_not_on_the_calling_thread():
    # the whole point: from a worker, polars runs each query where it is called (no hand-off)
    caller = threading.get_ident()
    ran_on = on_pool(threading.get_ident)
    assert ran_on != caller
    assert threading.current_thread() is threading.main_thread()   # the caller's thread is unchanged


def test_the_result_comes_back_including_none_and_polars_frames():
    assert on_pool(lambda: None) is None
    assert on_pool(lambda: (1, "a")) == (1, "a")
    df = pl.DataFrame({"s": ["b", "a", "b"], "v": [1, 2, 3]})
    inside = on_pool(lambda: df.group_by("s").agg(pl.col("v").sum()).sort("s"))
    assert inside.equals(df.group_by("s").agg(pl.col("v").sum()).sort("s"))


def test_an_exception_is_raised_on_the_calling_thread_as_itself():
    err = KeyError("missing")

    def boom():
        raise err

    with pytest.raises(KeyError) as got:
        on_pool(boom)
    assert got.value is err
    with pytest.raises(pl.exceptions.ColumnNotFoundError):   # a polars error inside, as the rules meet it
        on_pool(lambda: pl.DataFrame({"a": [1]}).select("b"))


def test_the_function_runs_exactly_once():
    calls = []
    on_pool(lambda: calls.append(1))
    assert calls == [1]


def test_a_nested_call_runs_where_it_is_called():
    outer, inner = on_pool(lambda: (threading.get_ident(), on_pool(threading.get_ident)))
    assert outer == inner


def test_with_a_single_polars_thread_it_runs_there_while_another_threads_query_waits():
    # one worker, held by the function: a query from another thread (the reader's loading thread
    # does this while the first sheets are built) waits for it, and both finish
    code = textwrap.dedent("""
        import threading, polars as pl
        from monitor.pool import on_pool
        assert pl.thread_pool_size() == 1
        df = pl.DataFrame({"v": list(range(1000))})
        other = []
        t = threading.Thread(target=lambda: other.extend(df.filter(pl.col("v") % 3 == 0).height for _ in range(200)))
        caller = threading.get_ident()
        t.start()
        ran_on, n = on_pool(lambda: (threading.get_ident(), sum(df.sort("v").height for _ in range(200))))
        t.join(timeout=60)
        print(ran_on != caller, n, len(other), other[0])
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "POLARS_MAX_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["True", "200000", "200", "334"]


def test_calls_from_several_threads_at_once_each_get_their_own_result():
    # the web server checks on its own thread; two at once must not mix results
    df = pl.DataFrame({"v": list(range(100))})
    out: dict = {}

    def work(i):
        out[i] = on_pool(lambda: [df.filter(pl.col("v") % 7 == i).height for _ in range(50)])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert {i: v[0] for i, v in out.items()} == {i: df.filter(pl.col("v") % 7 == i).height for i in range(4)}


def test_deep_recursion_on_the_worker_is_a_recursion_error_not_a_crash():
    # a worker thread has Rust's stack (8 MiB asked for in monitor/__init__.py, 2 MiB without):
    # Python's recursion limit must be reached before the stack ends, through C calls too
    code = textwrap.dedent("""
        import monitor
        from monitor.pool import on_pool
        def down(n):
            return list(map(down, [n + 1]))[0]
        try:
            on_pool(lambda: down(0))
        except RecursionError:
            print("RecursionError")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "RecursionError"
