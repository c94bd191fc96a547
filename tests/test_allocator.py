"""The command's allocator setting (monitor/cli.py): polars' jemalloc returns freed pages after
0.1 s instead of 1.5 s, with one arena per CPU, set before polars is imported, and a user's
own setting is left alone."""

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
    assert conf.endswith(f"dirty_decay_ms:100,muzzy_decay_ms:0,narenas:{os.cpu_count() or 1}"), conf


def test_users_own_allocator_setting_wins():
    conf = _conf("dirty_decay_ms:42")
    assert conf.endswith("dirty_decay_ms:42") and "dirty_decay_ms:100" not in conf, conf
