"""The command's allocator setting (monitor/cli.py): polars' jemalloc returns freed pages after
0.1 s instead of 1.5 s, set before polars is imported, and a user's own setting is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOW = ("import os; import monitor.cli; import polars; "
        "print(os.environ['_RJEM_MALLOC_CONF'])")


def _conf(user: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if user is not None:
        env["_RJEM_MALLOC_CONF"] = user
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout.strip()


def test_command_returns_freed_pages_sooner_than_polars_default():
    # polars puts its own defaults first; jemalloc takes the last value of an option
    conf = _conf(None)
    assert conf.endswith("dirty_decay_ms:100,muzzy_decay_ms:0"), conf


def test_users_own_allocator_setting_wins():
    conf = _conf("dirty_decay_ms:42")
    assert conf.endswith("dirty_decay_ms:42") and "dirty_decay_ms:100" not in conf, conf


ARENAS = r'''
import ctypes, threading
import monitor.cli
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
go, ready = threading.Event(), []
def work():
    held = [libc.malloc(200) for _ in range(100)]
    ready.append(held)
    go.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
while len(ready) < 6:
    pass
libc.malloc_stats()          # one "Arena N:" block per arena in use, on stderr
go.set()
for t in threads:
    t.join()
'''


def _arenas(env_extra: dict) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env.update(env_extra, PYTHONPATH=str(ROOT))
    err = subprocess.run([sys.executable, "-c", ARENAS], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT).stderr
    return sum(1 for line in err.splitlines() if line.startswith("Arena "))


def test_command_caps_the_c_librarys_malloc_arenas_at_two():
    """Six threads that each allocate share two arenas (without the cap glibc gives each its
    own): calamine's freed memory on one loading thread can serve the next sheet."""
    assert _arenas({}) == 2


def test_users_own_malloc_arena_max_wins():
    assert _arenas({"MALLOC_ARENA_MAX": "4"}) == 4
