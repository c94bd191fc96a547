"""Benchmark the rule phase of `monitor check` alone (run_rules + to_findings), against a bare
polars read of the same workbook measured in the same run.

    .venv/bin/python benchmarks/bench_rules.py benchmarks/data/site_20x8.xlsx
    .venv/bin/python benchmarks/bench_rules.py benchmarks/data/large_study.xlsx --repeat 3
    .venv/bin/python benchmarks/bench_rules.py FILE --per-rule 15      # the slowest rules too

The workbook is read once (monitor.workbook.reader.read_workbook); each repetition then builds a
fresh Context (so every derived table is built again, as in a real check) and times run_rules
and to_findings, the way monitor.check.check_workbook does. The first repetition is printed on
its own (a `monitor check` process runs the rules once, with polars' first-use costs), then the
best and the median. `bare read` is polars.read_excel(path, sheet_id=0, engine="calamine"), best
of --repeat, in this process. CPU time is printed beside wall time: on a shared machine it is the
steadier of the two. `--per-rule N` times each rule on a fresh Context in registry order (a
shared table is charged to the first rule that builds it) and prints the N slowest.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl  # noqa: E402

from monitor.check import run_rules, to_findings  # noqa: E402
from monitor.ctcae.terms import load_terms  # noqa: E402
from monitor.labs.catalogue import load_catalogue  # noqa: E402
from monitor.profile.profile import load_profile  # noqa: E402
from monitor.rules.base import Context  # noqa: E402
from monitor.rules.registry import RULES  # noqa: E402
from monitor.workbook.reader import read_workbook  # noqa: E402


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workbook", type=Path)
    ap.add_argument("--profile", default=None, help="profile name or TOML path (default: the seed study)")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions of the rule phase (and of the bare read)")
    ap.add_argument("--per-rule", type=int, default=0, metavar="N", help="also print the N slowest rules")
    a = ap.parse_args()

    profile = load_profile(a.profile)
    wb = read_workbook(a.workbook, drugs=profile.related_drug_names, max_unpacked_mb=4096)
    terms, catalogue = load_terms(), load_catalogue()

    def phase():
        ctx = Context(wb, profile, terms, catalogue, date.today())
        frames, _ = run_rules(ctx)
        return to_findings(frames, wb)

    runs = [timed(phase) for _ in range(max(1, a.repeat))]
    reads = [timed(lambda: pl.read_excel(a.workbook, sheet_id=0, engine="calamine"))[1:]
             for _ in range(max(1, a.repeat))]
    findings = runs[0][0]
    walls = sorted(r[1] for r in runs)
    bare = min(w for w, _ in reads)
    print(f"{a.workbook.name}: {len(findings)} findings, {sum(sd.frame.height for sd in wb.sheets.values()):,} rows")
    print(f"  rule phase, first run   {runs[0][1]:7.3f} s wall  {runs[0][2]:7.3f} s CPU")
    print(f"  rule phase, best        {walls[0]:7.3f} s wall  {min(r[2] for r in runs):7.3f} s CPU")
    print(f"  rule phase, median      {walls[len(walls) // 2]:7.3f} s wall")
    print(f"  bare polars read, best  {bare:7.3f} s wall  {min(c for _, c in reads):7.3f} s CPU")
    print(f"  ratio rule phase (best) / bare read: {walls[0] / bare:.2f}x")
    if a.per_rule:
        best: dict = {}
        for _ in range(max(1, a.repeat)):
            ctx = Context(wb, profile, terms, catalogue, date.today())
            for rule in RULES:
                _, w, _ = timed(lambda: run_rules(ctx, (rule,)))
                best[rule.code] = min(best.get(rule.code, w), w)
        for code, w in sorted(best.items(), key=lambda kv: -kv[1])[:a.per_rule]:
            print(f"    {code:10s} {w * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
