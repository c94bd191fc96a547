"""A/B of `monitor check` between two checkouts of the code, on a shared, busy machine.

    .venv/bin/python benchmarks/ab_check.py --a /work/main --b . --runs 7
    .venv/bin/python benchmarks/ab_check.py --a /work/main --b . --workbook benchmarks/data/large_study.xlsx

Each run is `monitor check WORKBOOK --format json --out DIR` in a fresh process (the console
script beside this interpreter, else `python -m monitor`) with PYTHONPATH set to one checkout,
then the same with the other, then a bare `polars.read_excel(path, sheet_id=0)` (bench_all's row
b baseline), alternating which checkout goes first; the command runs in an empty folder, so the
current directory never decides which code is imported. Prints the medians (and minima) of
wall and CPU time (user + sys of the command) of each, the ratios check / bare read and B / A,
and /proc/loadavg before and after: with other work on the machine, only numbers measured
alternately in one run compare; the median of each round's own B / A ratio (A and B ran one
after the other) is the figure that holds best when the machine's speed drifts.

Byte code: a checkout whose modules have no up-to-date .pyc (PYTHONDONTWRITEBYTECODE=1, or
edited since) compiles them at every start (~150 ms for `monitor check`), so each checkout's
`monitor` package is compiled once first (compileall; it writes only __pycache__).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import DATA, loadavg, measure, monitor_cmd, polars_cmd


def _runs(a) -> dict:
    trees = {"A": Path(a.a).resolve(), "B": Path(a.b).resolve()}
    for t in trees.values():
        compileall.compile_dir(str(t / "monitor"), quiet=1)
        if (t / "monitor" / "refcache.py").exists():   # its precompiled reference data, as setup writes it
            subprocess.run([sys.executable, "-m", "monitor.refcache"], cwd=t, check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "PYTHONPATH": str(t)})
    out: dict = {"A": [], "B": [], "read": []}
    mon = monitor_cmd()
    for i in range(a.runs):
        for k in ("A", "B") if i % 2 == 0 else ("B", "A"):
            d = Path(tempfile.mkdtemp(prefix="ab_check."))
            r = measure([*mon, "check", str(a.workbook), "--format", "json", "--out", str(d / "out"), *a.extra],
                        cwd=d, env={"PYTHONPATH": str(trees[k])})
            shutil.rmtree(d, ignore_errors=True)
            if r["rc"] not in (0, 1):
                raise SystemExit(f"{k} ({trees[k]}) exited {r['rc']}:\n{r['stderr_tail'][-2000:]}")
            out[k].append(r)
        out["read"].append(measure(polars_cmd(a.workbook)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="checkout A (the folder holding monitor/), e.g. /work/main")
    ap.add_argument("--b", required=True, help="checkout B, e.g. .")
    ap.add_argument("--workbook", type=Path, default=DATA / "site_20x8.xlsx", help="[site_20x8.xlsx, row b]")
    ap.add_argument("--runs", type=int, default=7, help="alternating rounds [7]")
    ap.add_argument("extra", nargs="*", help="more `monitor check` arguments (after --)")
    a = ap.parse_args(argv)
    if not a.workbook.exists():
        raise SystemExit(f"{a.workbook}: no such workbook (bench_all.py generates it)")
    before = loadavg()
    res = _runs(a)
    med = {k: (statistics.median(r["wall"] for r in v), statistics.median(r["cpu"] for r in v)) for k, v in res.items()}
    for k, v in res.items():
        print(f"{k:5s} wall median {med[k][0]:.3f} s (min {min(r['wall'] for r in v):.3f})   "
              f"cpu median {med[k][1]:.3f} s (min {min(r['cpu'] for r in v):.3f})")
    ratio = {k: med[k][0] / med["read"][0] for k in ("A", "B")}
    print(f"check / bare read (wall medians): A {ratio['A']:.2f}x   B {ratio['B']:.2f}x")
    print(f"B / A: wall {med['B'][0] / med['A'][0]:.3f}   cpu {med['B'][1] / med['A'][1]:.3f}")
    # each round's A and B ran one after the other: their ratio is not moved by the machine's
    # speed drifting between rounds (on this VM the same command's wall moved by 30-40% within
    # minutes, and the medians above with it)
    pairs = {m: statistics.median(b[m] / x[m] for x, b in zip(res["A"], res["B"])) for m in ("wall", "cpu")}
    print(f"B / A, median of the rounds' own ratios: wall {pairs['wall']:.3f}   cpu {pairs['cpu']:.3f}")
    print(f"load before {before}\nload after  {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
