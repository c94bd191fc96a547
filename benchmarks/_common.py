"""Shared pieces of the benchmark scripts: paths, the generated workbooks, and timing one command in a
fresh process with its peak memory.

`measure(cmd)` runs `cmd` from a small wrapper process (a fresh interpreter), which times it and
reads its peak resident memory with `resource.getrusage(RUSAGE_CHILDREN)`. On Linux that is the
largest peak of the command *and* every process it started and waited for (the worker processes of
`monitor report --jobs 2` or `monitor batch --jobs 2`), so it is "peak RSS per process, max over
the parent and its children", and it belongs to that one measurement alone (the wrapper runs
nothing else). The wrapper is a child subreaper, so descendants the command left to exit on their
own (a multiprocessing forkserver and the workers it forked) are reaped, and counted, here too.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"

# A bare polars read, as a user would type it, in its own interpreter; prints the read's own time.
POLARS_READ = ("import sys, time; t0 = time.perf_counter(); import polars as pl; t1 = time.perf_counter(); "
               "frames = pl.read_excel(sys.argv[1], sheet_id=0); t2 = time.perf_counter(); "
               "print('@@READ@@', t1 - t0, t2 - t1, sum(f.height for f in frames.values()))")


def monitor_cmd() -> list:
    """The installed console script beside this interpreter (what a user runs), else `python -m monitor`."""
    for exe in (Path(sys.executable).with_name("monitor"), ROOT / ".venv" / "bin" / "monitor"):
        if exe.exists():
            return [str(exe)]
    return [sys.executable, "-m", "monitor"]


def polars_cmd(path: Path) -> list:
    return [sys.executable, "-c", POLARS_READ, str(path)]


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, steal) clock ticks of all CPUs so far, from /proc/stat (Linux); None elsewhere.
    Steal is time the hypervisor gave this VM's CPUs to someone else: a wall time measured
    while it is high is inflated for reasons no change of ours can touch."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(v[:3]) + sum(v[5:7]), v[7] if len(v) > 7 else 0


def steal_share(start, end) -> str:
    """The share of CPU time stolen between two cpu_ticks() readings, as text."""
    if not start or not end:
        return "?"
    busy, steal = end[0] - start[0], end[1] - start[1]
    return f"{100 * steal / max(1, busy + steal):.0f}%"


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return fh.read().strip()
    except OSError:
        try:
            return " ".join(f"{x:.2f}" for x in os.getloadavg())
        except OSError:  # pragma: no cover
            return "?"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ----------------------------------------------------------------------------- generated workbooks

def make_workbook(path: Path, subjects: int, cycles: int, seed: int | None = None, error_rate: float | None = None,
                  site: str | None = None, regenerate: bool = False, quiet: bool = True) -> Path:
    """benchmarks/make_large.py output at `path`, generated once (deterministic: same arguments,
    same bytes)."""
    path = Path(path)
    if path.exists() and not regenerate:
        return path
    sys.path.insert(0, str(HERE))
    import make_large

    args = ["--subjects", str(subjects), "--cycles", str(cycles), "--out", str(path)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if error_rate is not None:
        args += ["--error-rate", str(error_rate)]
    if site is not None:
        args += ["--site", site]
    if quiet:
        args.append("-q")
    make_large.main(args)
    return path


def batch_site(i: int) -> tuple[str, int, str]:
    """(relative path, seed, site id) of the i-th workbook of a generated inbox: each its own seed
    and site, so every workbook differs (no two share bytes, subject IDs or findings)."""
    return f"region{i // 10:02d}/site{i + 1:03d}.xlsx", 1000 + i, f"{101 + i}"


def make_inbox(inbox: Path, sites: int, subjects: int, cycles: int, error_rate: float = 0.005,
               regenerate: bool = False) -> list:
    """An inbox of `sites` site workbooks, ten per sub-folder (generated once). Returns their paths."""
    paths = []
    for i in range(sites):
        rel, seed, site = batch_site(i)
        paths.append(make_workbook(Path(inbox) / rel, subjects, cycles, seed, error_rate, site, regenerate))
    return paths


# ----------------------------------------------------------------------------- measuring a command

def measure(cmd: list, *, cwd: Path | None = None, timeout: float | None = None, env: dict | None = None) -> dict:
    """Run `cmd` once from a fresh wrapper process. Returns wall (s), cpu (s, user+sys of the command
    and its waited-for children), peak_mib (max RSS over the command and its children), rc,
    stdout_tail, stderr_tail, timed_out."""
    payload = json.dumps({"cmds": [cmd], "cwd": str(cwd) if cwd else None, "timeout": timeout, "env": env})
    return _wrapper(payload)[0]


def measure_each(cmds: list, *, cwd: Path | None = None, timeout: float | None = None) -> list:
    """Run each command in turn, each its own process, from one wrapper; one result per command
    (peak_mib is then the running max, so only the last one is exact; walls are each command's)."""
    payload = json.dumps({"cmds": cmds, "cwd": str(cwd) if cwd else None, "timeout": timeout, "env": None})
    return _wrapper(payload)


def _wrapper(payload: str) -> list:
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_measure", payload],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("@@MEASURE@@")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"measuring wrapper failed ({p.returncode}): {p.stderr[-3000:]}")
    return json.loads(lines[-1][len("@@MEASURE@@"):])


def _become_subreaper() -> None:
    """Orphaned descendants of the command (a multiprocessing forkserver whose parent exited
    without waiting for it, and the workers it forked) are re-parented to this wrapper instead of
    init, so that reaping them here counts their peak RSS in RUSAGE_CHILDREN (Linux >= 3.4)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):  # pragma: no cover
            pass


def _reap_orphans(pgid: int, grace: float = 30.0) -> None:
    """Wait for every remaining descendant (they exit once their parent is gone); SIGKILL the
    command's process group after `grace` seconds."""
    deadline = time.monotonic() + grace
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > deadline:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
                deadline = float("inf")
            time.sleep(0.02)


def _wait(proc: subprocess.Popen, timeout: float | None) -> tuple:
    """(exit code, timed out) of `proc`, waited for with one blocking waitpid, so the wall time
    is exact. `Popen.wait(timeout=...)` polls instead, sleeping 0.5 ms, 1, 2 ... then 50 ms
    between polls: every wall came out rounded up to the next poll (0.0135 s + a multiple of
    0.05 s: a 0.19 s read measured 0.215 s, a 0.42 s check 0.465 s). The timeout is a timer
    that kills the command's process group (the command and its workers)."""
    fired = []

    def kill():
        fired.append(True)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        rc = proc.wait()
    finally:
        if timer:
            timer.cancel()
    return rc, bool(fired)


def _measure_main(payload: str) -> None:
    spec = json.loads(payload)
    _become_subreaper()
    env = dict(os.environ)
    env.update(spec.get("env") or {})
    out = []
    for cmd in spec["cmds"]:
        with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=so, stderr=se, cwd=spec.get("cwd"), env=env,
                                    start_new_session=True)
            rc, timed_out = _wait(proc, spec.get("timeout"))
            wall = time.perf_counter() - t0
            _reap_orphans(proc.pid)
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            so.seek(0)
            se.seek(0)
            stdout, stderr = so.read().decode("utf-8", "replace"), se.read().decode("utf-8", "replace")
        out.append({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "peak_mib": ru.ru_maxrss / 1024.0, "rc": rc,
                    "timed_out": timed_out, "stdout_tail": stdout[-4000:], "stderr_tail": stderr[-4000:]})
    # cpu is cumulative over the commands run so far: make it per command
    prev = 0.0
    for r in out:
        r["cpu"], prev = r["cpu"] - prev, r["cpu"]
    print("@@MEASURE@@" + json.dumps(out))


if __name__ == "__main__" and sys.argv[1:2] == ["--_measure"]:
    _measure_main(sys.argv[2])
