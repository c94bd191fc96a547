"""python -m fuzz: run the fuzzing harness (see fuzz/README.md).

    .venv/bin/python -m fuzz                          # 300 cases of seed 1, like CI
    .venv/bin/python -m fuzz --cases 20000 --seed 7   # a long run; failures saved as regressions
    .venv/bin/python -m fuzz --replay                 # only the saved regressions
    .venv/bin/python -m fuzz --show s7-00042          # write one case to ./s7-00042.xlsx and print it
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .harness import (HARD_TIMEOUT, TIME_BOUND, make_case, regression_jobs, run_jobs, save_regression,
                      seeded_jobs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--start", type=int, default=0, help="first case index (to resume a long run)")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--bound", type=float, default=TIME_BOUND, help="seconds a case may take")
    ap.add_argument("--hard-timeout", type=float, default=HARD_TIMEOUT, help="kill a case after this")
    ap.add_argument("--no-save", action="store_true", help="do not save failing cases under fuzz/regressions/")
    ap.add_argument("--replay", action="store_true", help="run only the saved regressions")
    ap.add_argument("--show", metavar="CASE", help="write case sN-IIIII to the current folder and describe it")
    a = ap.parse_args(argv)

    if a.show:
        seed, index = a.show.lstrip("s").split("-")
        case = make_case(int(seed), int(index))
        open(f"{case.id}.xlsx", "wb").write(case.data)
        print(f"{case.id}.xlsx  base={case.base}")
        for m in case.mutations:
            print("  " + m)
        return 0

    jobs = regression_jobs() if a.replay else seeded_jobs(a.seed, a.cases, a.start)
    failed, t0 = [], time.monotonic()

    def progress(i, job, outcome):
        if outcome["problems"]:
            failed.append((job, outcome))
            print(f"FAIL {_name(job)}: " + "; ".join(outcome["problems"]), flush=True)
        done = i + 1
        if done % 100 == 0:
            print(f"... {done}/{len(jobs)} cases, {len(failed)} failed, {time.monotonic() - t0:.0f} s", flush=True)

    outcomes = run_jobs(jobs, a.jobs, a.bound, a.hard_timeout, progress)
    codes = {}
    for o in outcomes:
        c = o["codes"].get("check")
        codes[c] = codes.get(c, 0) + 1
    slow = max(outcomes, key=lambda o: o["seconds"] or 0, default=None)
    slowest = f"{slow['seconds'] or 0:.1f} s ({_name(slow['job'])})" if slow else "-"
    print(f"{len(outcomes)} cases in {time.monotonic() - t0:.0f} s: exit codes {dict(sorted(codes.items(), key=str))}, "
          f"slowest {slowest}, {len(failed)} failed")
    if failed and not a.replay and not a.no_save:
        for job, outcome in failed:
            p = save_regression(job, outcome)
            if p:
                print(f"saved {p.relative_to(p.parents[2])}")
    return 1 if failed else 0


def _name(job) -> str:
    kind, key, _ = job
    return os.path.basename(key) if kind == "file" else f"s{key[0]}-{key[1]:05d}"


if __name__ == "__main__":
    sys.exit(main())
