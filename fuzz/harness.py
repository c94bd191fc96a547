"""Run mutated workbooks through the real CLI, in-process, and judge every outcome.

A case is `(seed, index)`: the same pair always gives the same file (fuzz.mutators with a
`random.Random` seeded by the pair). Each case runs in a worker process that calls the typer
app in-process (no interpreter start per case); the parent kills a worker that takes longer
than the hard timeout, and notices one that dies (a Rust abort, the OOM killer), so a crash or
a hang is reported as that case's failure instead of taking the run down.

What every case must satisfy (`judge`):
  - `monitor check` exits 0, 1 or 2, with no exception other than SystemExit;
  - exit 2 is one plain line on stderr, `monitor: <path>: <reason>`;
  - exit 0/1 writes findings.json (valid JSON, the same as --format json printed) and findings.csv,
    in which no field would run as a formula in a spreadsheet;
  - each command within the time bound; the input file is byte-identical afterwards; nothing is
    written outside the output folder;
  - every eighth case also runs `annotate` and `export`, which must exit 0 or 2 the same way.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
REGRESSIONS = ROOT / "fuzz" / "regressions"
BASES = (  # (name, path, weight): small files first, they make most cases cheap
    ("small_study", CORPUS / "small_study.xlsx", 5),
    ("hostile_text", CORPUS / "hostile_text.xlsx", 2),
    ("messy_site", ROOT / "sample_sheets" / "messy_site.xlsx", 3),
    ("demo_study", ROOT / "sample_sheets" / "demo_study.xlsx", 1),
)
TIME_BOUND = 20.0       # seconds one command may take (a clean check of these bases takes < 1 s)
HARD_TIMEOUT = 90.0     # the worker is killed after this
MEMORY_LIMIT = 6 << 30  # address space of a worker: an allocation bomb fails fast instead of swapping
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
FULL_EVERY = 8          # every FULL_EVERY-th case also runs annotate and export


@dataclass
class Case:
    id: str
    data: bytes
    base: str
    mutations: list = field(default_factory=list)


def make_case(seed: int, index: int) -> Case:
    from .mutators import mutate

    rng = random.Random(f"monitor-fuzz:{seed}:{index}")
    bases = [b for b in BASES if b[1].exists()]
    name, path, _ = rng.choices(bases, [w for *_, w in bases])[0]
    data, done = mutate(rng, path.read_bytes())
    return Case(f"s{seed}-{index:05d}", data, name, done)


def regression_cases() -> list[Path]:
    return sorted(REGRESSIONS.glob("*.xlsx"))


# ---------------------------------------------------------------- one case, in-process

def _tree(folder: Path) -> set:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _invoke(args: list[str]):
    """The typer app in-process: (exit code, stdout, stderr, exception or None)."""
    from typer.testing import CliRunner

    from monitor.cli import app

    try:
        r = CliRunner().invoke(app, args)
    except BaseException as e:  # noqa: BLE001 - a Rust panic is a BaseException; it must be reported
        return None, "", "", e
    exc = r.exception if r.exception is not None and not isinstance(r.exception, SystemExit) else None
    return r.exit_code, r.stdout, r.stderr, exc


def _judge_exit(cmd: str, path: Path, code, stderr: str, exc, allowed) -> list[str]:
    problems = []
    if exc is not None:
        tb = "".join(traceback.format_exception(exc)).strip().splitlines()
        problems.append(f"{cmd}: {type(exc).__name__}: {str(exc)[:300]} at {' / '.join(tb[-3:])[:600]}")
        return problems
    if code not in allowed:
        problems.append(f"{cmd}: exit code {code}")
    if "Traceback" in stderr:
        problems.append(f"{cmd}: traceback on stderr")
    if code == 2:
        lines = stderr.strip().splitlines()
        if not lines or not lines[0].startswith("monitor: ") or len(lines) > 2 or str(path) not in stderr:
            problems.append(f"{cmd}: exit 2 without one plain line naming the file: {stderr[:300]!r}")
    return problems


def judge(data: bytes, name: str, workdir: Path, full: bool = False, bound: float = TIME_BOUND) -> dict:
    """Run `check` (and with `full`, `annotate` and `export`) on `data`; return the outcome."""
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"{name}.xlsx"
    src.write_bytes(data)
    out = workdir / "out"
    before = hashlib.sha256(data).hexdigest()
    problems: list[str] = []
    t0 = time.perf_counter()
    code, stdout, stderr, exc = _invoke(["check", str(src), "--format", "json", "--out", str(out)])
    took = {"check": time.perf_counter() - t0}
    problems += _judge_exit("check", src, code, stderr, exc, (0, 1, 2))
    if code in (0, 1) and exc is None:
        try:
            written = json.loads((out / "findings.json").read_text("utf-8"))
            if json.loads(stdout) != written:
                problems.append("check: --format json differs from findings.json")
            live = [v for row in csv.reader(io.StringIO((out / "findings.csv").read_text("utf-8")))
                    for v in row if v.startswith(_FORMULA_START) and not _NUMBER.match(v)]
            if live:
                problems.append(f"check: findings.csv holds text a spreadsheet would run: {live[:3]}")
        except (OSError, ValueError) as e:
            problems.append(f"check: outputs unreadable: {e}")
    codes = {"check": code}
    if full and code in (0, 1) and exc is None:
        for cmd, args in (("annotate", ["--out", str(out / "annotated.xlsx")]), ("export", ["--out", str(out / "export")])):
            t1 = time.perf_counter()
            c, _, err, e = _invoke([cmd, str(src), *args])
            took[cmd] = time.perf_counter() - t1
            codes[cmd] = c
            problems += _judge_exit(cmd, src, c, err, e, (0, 2))
    seconds = time.perf_counter() - t0
    for cmd, t in took.items():
        if t > bound:
            problems.append(f"{cmd} took {t:.1f} s, over the bound of {bound:g} s")
    if not src.is_file() or hashlib.sha256(src.read_bytes()).hexdigest() != before:
        problems.append("the input workbook was modified")
    stray = {p for p in _tree(workdir) if p != src.name and p != "out" and not p.startswith("out/")}
    if stray:
        problems.append(f"files written outside the output folder: {sorted(stray)[:5]}")
    return {"codes": codes, "seconds": round(seconds, 3), "problems": problems}


# ---------------------------------------------------------------- workers

def _limit_memory():
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


def _worker(conn, bound: float, root: str):
    os.environ.setdefault("POLARS_MAX_THREADS", "1")   # two workers on two cores: no oversubscription
    os.environ["RUST_BACKTRACE"] = "0"                 # a caught calamine panic prints one line, not a backtrace
    _limit_memory()
    import monitor.cli  # noqa: F401  (import once, before the first case is timed)

    tmp = Path(tempfile.mkdtemp(dir=root))
    try:
        while True:
            job = conn.recv()
            if job is None:
                break
            kind, key, full = job
            if kind == "seeded":
                case = make_case(*key)
                data, name = case.data, case.id
            else:
                data, name = Path(key).read_bytes(), Path(key).stem
            workdir = tmp / name
            try:
                outcome = judge(data, name, workdir, full=full, bound=bound)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            conn.send(outcome)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Slot:
    def __init__(self, ctx, bound, root):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, bound, root), daemon=True)
        self.proc.start()
        child.close()
        self.job = None
        self.started = 0.0

    def stop(self, kill=False):
        try:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def run_jobs(jobs: list, workers: int = 2, bound: float = TIME_BOUND, hard_timeout: float = HARD_TIMEOUT,
             progress=None) -> list[dict]:
    """Run `jobs` ((kind, key, full) tuples) on `workers` processes; one outcome dict per job, in
    order, each with `job` added. A worker that dies or overruns `hard_timeout` is replaced."""
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    root = tempfile.mkdtemp(prefix="monitor-fuzz-")   # removed at the end, killed workers' files too
    pending = list(enumerate(jobs))[::-1]
    results: list = [None] * len(jobs)
    slots = [_Slot(ctx, bound, root) for _ in range(max(1, min(workers, len(jobs))))]
    try:
        def feed(slot):
            if pending:
                i, job = pending.pop()
                slot.job = (i, job)
                slot.started = time.monotonic()
                slot.conn.send(job)
            else:
                slot.job = None

        for s in slots:
            feed(s)
        while any(s.job for s in slots):
            busy = [s for s in slots if s.job]
            ready = wait([s.conn for s in busy], timeout=1.0)
            for s in list(busy):
                i, job = s.job
                outcome = None
                if s.conn in ready:
                    try:
                        outcome = s.conn.recv()
                    except (EOFError, OSError):
                        outcome = {"codes": {}, "seconds": None,
                                   "problems": [f"worker died (exit code {s.proc.exitcode}): a crash or abort"]}
                elif time.monotonic() - s.started > hard_timeout:
                    outcome = {"codes": {}, "seconds": None,
                               "problems": [f"hung: killed after {hard_timeout:g} s"]}
                    s.proc.kill()
                if outcome is None:
                    continue
                if not s.proc.is_alive() or outcome["seconds"] is None:
                    s.stop(kill=True)
                    slots[slots.index(s)] = s = _Slot(ctx, bound, root)
                outcome["job"] = job
                results[i] = outcome
                if progress:
                    progress(i, job, outcome)
                feed(s)
    finally:
        for s in slots:
            s.stop()
        shutil.rmtree(root, ignore_errors=True)
    return results


def seeded_jobs(seed: int, count: int, start: int = 0) -> list:
    return [("seeded", (seed, i), i % FULL_EVERY == 0) for i in range(start, start + count)]


def regression_jobs() -> list:
    return [("file", str(p), True) for p in regression_cases()]


def save_regression(job, outcome) -> Path | None:
    """Keep a failing seeded case as a regression file (its bytes and a note of what failed)."""
    kind, key, _ = job
    if kind != "seeded":
        return None
    case = make_case(*key)
    REGRESSIONS.mkdir(parents=True, exist_ok=True)
    path = REGRESSIONS / f"{case.id}.xlsx"
    path.write_bytes(case.data)
    note = {"case": case.id, "base": case.base, "mutations": case.mutations,
            "failed_with": outcome["problems"], "fixed_in": "(fill in)"}
    path.with_suffix(".json").write_text(json.dumps(note, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path
