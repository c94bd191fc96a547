"""Benchmark CTCAE v5.0 lab grading (monitor.ctcae.grade.grade_labs).

    .venv/bin/python benchmarks/bench_grading.py                 # 1,000,000 rows, baseline on 50,000
    .venv/bin/python benchmarks/bench_grading.py --rows 200000 --naive-rows 20000 --repeat 3

Generates realistic SI lab rows (deterministic for a seed): the tests of a solid-tumour study in
their usual proportions (blood counts, liver and kidney panels, electrolytes, coagulation,
lipids, urine protein as dipstick text or g/24h, plus tests without CTCAE criteria such as TSH
and AFP), values around each test's normal range with abnormal tails, ~2% missing values, ~3%
missing normal limits, and a baseline for ~85% of rows. Then:

  * grade_labs on all rows: best of --repeat runs, as rows/s (goal: >= 2,000,000 rows/s on
    1M rows with 2 cores);
  * the naive baseline: the same grading with a per-row Python loop (grade.grade_row, the
    plain-Python reference) on the first --naive-rows rows, as rows/s and as a ratio;
  * a cross-check that both give identical results on those rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.ctcae.grade import OUTPUT_SCHEMA, grade_labs, grade_row  # noqa: E402

# code: (weight, LLN, ULN, centre, spread, shape) in SI units; norm: centre +/- SD spread,
# lognorm: centre x exp(spread z) (spread = log-scale SD); dipstick: result text only
TESTS = {
    "HGB": (6, 120.0, 160.0, 125.0, 18.0, "norm"),
    "WBC": (6, 4.0, 10.0, 6.0, 0.35, "lognorm"),
    "NEUT": (6, 1.8, 7.5, 3.6, 0.45, "lognorm"),
    "LYM": (5, 1.0, 4.0, 1.5, 0.45, "lognorm"),
    "PLAT": (6, 150.0, 400.0, 200.0, 0.4, "lognorm"),
    "ALT": (6, 7.0, 40.0, 32.0, 0.7, "lognorm"),
    "AST": (6, 10.0, 40.0, 34.0, 0.6, "lognorm"),
    "ALP": (5, 40.0, 130.0, 110.0, 0.5, "lognorm"),
    "GGT": (4, 8.0, 61.0, 55.0, 0.8, "lognorm"),
    "BILI": (6, 3.0, 21.0, 15.0, 0.55, "lognorm"),
    "CREAT": (6, 53.0, 106.0, 80.0, 0.3, "lognorm"),
    "ALB": (5, 35.0, 50.0, 37.0, 5.0, "norm"),
    "AMYLASE": (2, 28.0, 100.0, 70.0, 0.5, "lognorm"),
    "LIPASE": (2, 13.0, 60.0, 40.0, 0.7, "lognorm"),
    "CK": (2, 30.0, 200.0, 110.0, 0.7, "lognorm"),
    "LDH": (2, 120.0, 250.0, 220.0, 0.35, "lognorm"),
    "INR": (3, 0.8, 1.2, 1.1, 0.15, "norm"),
    "APTT": (3, 25.0, 35.0, 31.0, 4.0, "norm"),
    "FIBRINO": (1, 2.0, 4.0, 3.2, 0.9, "norm"),
    "K": (5, 3.5, 5.1, 4.2, 0.5, "norm"),
    "SODIUM": (5, 136.0, 145.0, 138.0, 4.0, "norm"),
    "CA": (4, 2.15, 2.55, 2.3, 0.17, "norm"),
    "MG": (3, 0.66, 1.07, 0.82, 0.13, "norm"),
    "GLUC": (4, 3.9, 6.1, 6.0, 0.35, "lognorm"),
    "CHOL": (1, None, 5.2, 4.8, 0.25, "lognorm"),
    "TRIG": (1, None, 1.7, 1.5, 0.5, "lognorm"),
    "URATE": (1, 200.0, 430.0, 330.0, 0.25, "lognorm"),
    "UPROT24": (1, None, 0.15, 0.2, 1.0, "lognorm"),
    "CD4": (0.3, 0.5, 1.6, 0.7, 0.5, "lognorm"),
    "CAION": (0.3, 1.12, 1.32, 1.2, 0.08, "norm"),
    "PH": (0.2, 7.35, 7.45, 7.4, 0.05, "norm"),
    "HAPT": (0.2, 0.3, 2.0, 1.0, 0.6, "lognorm"),
    "TSH": (2, 0.4, 4.0, 2.0, 0.8, "lognorm"),        # no CTCAE criteria: graded NULL
    "AFP": (2, None, 7.0, 30.0, 1.5, "lognorm"),      # no CTCAE criteria: graded NULL
    "UPROT": (3, None, None, 0.0, 0.0, "dipstick"),
}
DIPSTICK = np.array(["Neg", "Trace", "1+", "2+", "3+", "4+"])
DIPSTICK_P = np.array([0.62, 0.14, 0.12, 0.08, 0.03, 0.01])


def make_rows(n: int, seed: int = 20261128) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    codes = np.array(list(TESTS))
    w = np.array([t[0] for t in TESTS.values()], dtype=float)
    idx = rng.choice(len(codes), size=n, p=w / w.sum())
    lln = np.array([np.nan if t[1] is None else t[1] for t in TESTS.values()])[idx]
    uln = np.array([np.nan if t[2] is None else t[2] for t in TESTS.values()])[idx]
    centre = np.array([t[3] for t in TESTS.values()])[idx]
    spread = np.array([t[4] for t in TESTS.values()])[idx]
    lognorm = np.array([t[5] == "lognorm" for t in TESTS.values()])[idx]
    z = rng.standard_normal(n)
    value = np.where(lognorm, centre * np.exp(spread * z), centre + spread * z)
    value = np.round(np.clip(value, 0.001, None), 3)
    base = np.where(lognorm, centre * np.exp(spread * rng.standard_normal(n)),
                    centre + spread * rng.standard_normal(n))
    base = np.round(np.clip(base, 0.001, None), 3)

    dip = np.array(list(TESTS)).tolist().index("UPROT")
    is_dip = idx == dip
    dip_level = np.where(is_dip, rng.choice(len(DIPSTICK), size=n, p=DIPSTICK_P), -1)
    value = np.where(is_dip, np.nan, value)
    base = np.where(is_dip, np.nan, base)

    value[rng.random(n) < 0.02] = np.nan                  # not done / unreadable
    lln[rng.random(n) < 0.03] = np.nan                    # limits left blank
    uln[rng.random(n) < 0.03] = np.nan
    base[rng.random(n) < 0.15] = np.nan                   # no pre-dose result
    df = pl.DataFrame({
        "subject": rng.integers(1, 1001, n),
        "test_code": codes[idx],
        "dipstick": dip_level,
        "value_si": value,
        "lln_si": lln,
        "uln_si": uln,
        "baseline_si": base,
    }, nan_to_null=True)
    return df.select(
        pl.format("01-{}", pl.col("subject")).alias("subject"), "test_code",
        pl.coalesce(pl.col("dipstick").replace_strict(dict(enumerate(DIPSTICK.tolist())), default=None),
                    pl.col("value_si").cast(pl.String)).alias("result_text"),
        "value_si", "lln_si", "uln_si", "baseline_si")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--naive-rows", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20261128)
    a = ap.parse_args()

    t0 = time.perf_counter()
    df = make_rows(a.rows, a.seed)
    print(f"generated {df.height:,} rows in {time.perf_counter() - t0:.2f} s "
          f"({df['test_code'].n_unique()} tests; polars {pl.__version__}, {pl.thread_pool_size()} threads, "
          f"{os.cpu_count()} CPUs)")

    grade_labs(df.head(1000))                                         # warm-up (criteria load)
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        out = grade_labs(df)
        times.append(time.perf_counter() - t)
    best = min(times)
    fast = df.height / best
    print(f"grade_labs: {df.height:,} rows in {best * 1000:.0f} ms (best of {a.repeat}; "
          f"median {sorted(times)[len(times) // 2] * 1000:.0f} ms) = {fast:,.0f} rows/s")
    counts = out.group_by("ctcae_grade").len().sort("ctcae_grade")
    print("  ctcae_grade counts: " + ", ".join(f"{g if g is not None else 'null'}: {c:,}"
                                              for g, c in counts.iter_rows()))

    sub = df.head(a.naive_rows)
    rows = sub.to_dicts()
    t = time.perf_counter()
    naive = [grade_row(r) for r in rows]
    slow_t = time.perf_counter() - t
    slow = len(rows) / slow_t
    print(f"naive per-row Python loop: {len(rows):,} rows in {slow_t:.2f} s = {slow:,.0f} rows/s")
    print(f"ratio: grade_labs is {fast / slow:,.0f}x the per-row loop")

    want = pl.DataFrame(naive, schema=OUTPUT_SCHEMA)
    got = out.head(a.naive_rows).select(list(OUTPUT_SCHEMA))
    same = got.equals(want)
    print(f"cross-check on {len(rows):,} rows: {'identical' if same else 'DIFFERENT'}")
    ok = same and (a.rows < 1_000_000 or fast >= 2_000_000)
    if fast < 2_000_000:
        print("below the 2,000,000 rows/s goal")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
