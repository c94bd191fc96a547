"""Fault injection for `monitor batch`: kill -9 at random moments over a small inbox, then check.

    .venv/bin/python benchmarks/fault_inject.py [--iterations 12] [--seed 13] [--seconds 150]

Each iteration changes some workbooks of a small inbox (so that there is news: findings appear
and go), starts `monitor batch` and SIGKILLs it after a random delay (anywhere from before the
lock to after batch.json), then runs it again to the end and checks:

  - integrity: `PRAGMA quick_check` of monitor.db is ok, and no run is left `running`;
  - outputs match the recorded hash: for every workbook, its last check in the history has the
    SHA-256 of the file in the inbox, findings.json carries that hash, and every recorded output
    file has the SHA-256 recorded for it;
  - no lost news: batch.json's new / resolved per workbook equal the difference between the
    findings open at the previous completed run and now (what a user reading only batch.json
    would have to learn), whatever the killed run did in between;
  - no orphans: no temporary file left in the output folder, no worker process of the killed
    run still alive.

Fixed seed, bounded time (it stops starting iterations after --seconds). Prints the figures and
exits 1 if any check failed. tests/test_batch_faults.py runs a two-iteration version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

VARIANTS = [{}, {"Sex": "X"}, {"Age": 150}, {"Sex": "X", "Age": 150}]   # 0, 1 or 2 findings (WB110, WB111)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_variants(folder: Path) -> list:
    from batch_helpers import clean_workbook

    return [clean_workbook(folder / f"v{i}.xlsx", **kw).read_bytes() for i, kw in enumerate(VARIANTS)]


def children(pid: int) -> list:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(d.name))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def batch_cmd(box: Path, out: Path) -> list:
    return [sys.executable, "-m", "monitor", "batch", str(box), "--out", str(out), "--no-pdf", "--jobs", "2",
            "--format", "json"]


def open_ids(out: Path, box: Path) -> dict:
    """Findings open now per workbook, from each workbook's findings.json."""
    ids = {}
    for wb in sorted(box.glob("*.xlsx")):
        f = out / wb.stem / "findings.json"
        ids[wb.name] = {x["id"] for x in json.loads(f.read_text())["findings"]} if f.exists() else set()
    return ids


def last_run_completed(out: Path) -> bool:
    """The last run wrote batch.json and ended `finished` (a kill may come after both)."""
    try:
        c = sqlite3.connect(f"file:{out / 'monitor.db'}?mode=ro", uri=True)
        try:
            row = c.execute("SELECT id, status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            c.close()
        return row is not None and row[1] == "finished" and \
            json.loads((out / "batch.json").read_text())["run_id"] == row[0]
    except (sqlite3.Error, OSError, ValueError, KeyError):
        return False


def verify(out: Path, box: Path, data: dict, before: dict) -> list:
    problems = []
    db = out / "monitor.db"
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if c.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            problems.append("quick_check failed")
        if c.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0]:
            problems.append("a run left running after a completed run")
        for wb in sorted(box.glob("*.xlsx")):
            row = c.execute("SELECT c.sha256, c.outputs, c.hashes FROM checks c JOIN workbooks w ON w.id=c.workbook"
                            " WHERE w.path=? AND c.status IN ('checked','skipped') ORDER BY c.run DESC LIMIT 1",
                            (wb.name,)).fetchone()
            if row is None:
                problems.append(f"{wb.name}: no check recorded")
                continue
            current = sha(wb)
            if row[0] != current:
                problems.append(f"{wb.name}: history has {row[0][:12]}, the file is {current[:12]}")
            found = json.loads((out / wb.stem / "findings.json").read_text())
            if found["sha256"] != current:
                problems.append(f"{wb.name}: findings.json of another version")
            outputs, hashes = json.loads(row[1] or "{}"), json.loads(row[2] or "{}")
            for kind, rel in outputs.items():
                p = out / rel
                if not p.is_file() or sha(p) != hashes.get(kind):
                    problems.append(f"{wb.name}: {kind} does not match its recorded hash")
    finally:
        c.close()
    now = open_ids(out, box)
    for w in data["workbooks"]:
        prev, cur = before.get(w["path"], set()), now.get(w["path"], set())
        want = (len(cur - prev), len(prev - cur))
        if (w["new"], w["resolved"]) != want:
            problems.append(f"{w['path']}: batch.json says +{w['new']} -{w['resolved']}, the truth is "
                            f"+{want[0]} -{want[1]} since the last completed run")
    tmp = [str(p.relative_to(out)) for p in out.rglob("*.tmp")]
    if tmp:
        problems.append(f"temporary files left: {tmp[:3]}")
    return problems


def run(iterations: int = 12, seed: int = 13, seconds: float = 150, workdir: Path | None = None,
        say=print) -> dict:
    rng = random.Random(seed)
    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    base = Path(tmp.name if tmp else workdir)
    box, out, var = base / "inbox", base / "out", base / "variants"
    box.mkdir(parents=True, exist_ok=True)
    variants = make_variants(var)
    names = [f"site{i}.xlsx" for i in range(4)]
    for n in names:
        (box / n).write_bytes(variants[0])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MONITOR_FAULT", None)

    # a first complete run: the baseline, and how long a run takes (kill delays are drawn in it)
    t0 = time.monotonic()
    p = subprocess.run(batch_cmd(box, out), capture_output=True, text=True, env=env, cwd=ROOT)
    full = time.monotonic() - t0
    before = open_ids(out, box)
    figures = {"seed": seed, "iterations": 0, "killed_mid_run": 0, "finished_before_kill": 0,
               "killed_with_workers_alive": 0, "workers_alive_at_kill": 0,
               "orphan_workers": 0, "problems": [], "exit_codes": {}, "news_checked": 0,
               "full_run_seconds": round(full, 1), "first_exit": p.returncode}
    for it in range(iterations):
        if time.monotonic() - t_start > seconds:
            break
        for n in rng.sample(names, rng.randint(1, len(names))):      # the sites send new versions
            (box / n).write_bytes(variants[rng.randrange(len(variants))])
        delay = rng.uniform(0, full * 1.1)
        proc = subprocess.Popen(batch_cmd(box, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env, cwd=ROOT)
        kids: set = set()
        t_kill = time.monotonic() + delay
        while time.monotonic() < t_kill and proc.poll() is None:
            kids |= set(children(proc.pid))
            time.sleep(0.02)
        if proc.poll() is None:
            kids |= set(children(proc.pid))
            live = [k for k in kids if alive(k)]          # workers that must die with the main process
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            figures["killed_mid_run"] += 1
            figures["killed_with_workers_alive"] += bool(live)
            figures["workers_alive_at_kill"] += len(live)
        else:
            figures["finished_before_kill"] += 1
        if last_run_completed(out):
            before = open_ids(out, box)       # that run completed (batch.json and its row): the baseline now
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(k) for k in kids):
            time.sleep(0.1)
        left = [k for k in kids if alive(k)]
        figures["orphan_workers"] += len(left)
        for k in left:
            os.kill(k, signal.SIGKILL)
        p = subprocess.run(batch_cmd(box, out), capture_output=True, text=True, env=env, cwd=ROOT)
        figures["exit_codes"][p.returncode] = figures["exit_codes"].get(p.returncode, 0) + 1
        if p.returncode not in (0, 1):
            figures["problems"].append(f"iteration {it}: re-run exit {p.returncode}: {p.stderr.strip()[-300:]}")
        else:
            data = json.loads(p.stdout)
            problems = verify(out, box, data, before)
            figures["news_checked"] += len(data["workbooks"])
            figures["problems"] += [f"iteration {it} (kill after {delay:.2f} s): {x}" for x in problems]
        before = open_ids(out, box)
        figures["iterations"] += 1
        say(f"iteration {it}: kill after {delay:.2f} s, re-run exit {p.returncode}, "
            f"{len(figures['problems'])} problem(s) so far")
    figures["seconds"] = round(time.monotonic() - t_start, 1)
    if tmp:
        tmp.cleanup()
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--seconds", type=float, default=150, help="start no iteration after this")
    a = ap.parse_args()
    fig = run(a.iterations, a.seed, a.seconds)
    print(json.dumps(fig, indent=2))
    return 1 if fig["problems"] or fig["orphan_workers"] else 0


if __name__ == "__main__":
    sys.exit(main())
