"""CTCAE v5.0 grades of lab values (and blood pressure) as polars expressions.

    grade_labs(df)  adds ctcae_term_low, ctcae_grade_low, ctcae_term_high, ctcae_grade_high and
                    ctcae_grade to a labs frame (ADaM ATOXDSCL/ATOXGRL/ATOXDSCH/ATOXGRH/ATOXGR)
    grade_bp(df)    the same for Hypertension from systolic and diastolic blood pressure

Grades are Int8: 0 = the value meets no grade (within normal limits, or not far enough out),
NULL = cannot grade (no value, a needed LLN/ULN or baseline missing, test without criteria).

How a grade is built (criteria.toml has the thresholds; nothing here knows a term):
  * a threshold is met when `value op factor x limit + offset` (or `value op value`) holds and
    its `applies` condition (baseline normal/abnormal, anticoagulated) holds;
  * a grade is met when any of its thresholds is met; the result is the highest grade met;
  * three-valued (Kleene) logic keeps "unknown" apart from "not met": if a grade's test is
    unknown (its limit is missing) and no higher grade is met, the result is NULL. So a platelet
    count of 20 x 10e9/L is grade 4 even without an LLN, but 140 without an LLN is NULL;
  * comparisons allow a relative 1e-9 so that unit-conversion noise (0.7 x 3 = 2.0999...96)
    never moves a value across a threshold it sits exactly on.

Performance: the frame is split by test code once and each test's when/then chain runs only on
its own rows (polars runs the parts in parallel); nothing loops over rows in Python.
`grade_value` is a plain-Python reference of the same rules, for tests, benchmarks and
explaining one result; it is not for bulk use.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass

import polars as pl

from ..labs.catalogue import norm_test, norm_test_expr
from .criteria import Criteria, Criterion, load_criteria

REL_TOL = 1e-9
REQUIRED_COLUMNS = ("test_code", "value_si", "lln_si", "uln_si", "baseline_si")
OPTIONAL_COLUMNS = ("result_text", "on_anticoagulation")
OUTPUT_SCHEMA = {
    "ctcae_term_low": pl.String,
    "ctcae_grade_low": pl.Int8,
    "ctcae_term_high": pl.String,
    "ctcae_grade_high": pl.Int8,
    "ctcae_grade": pl.Int8,
}
BP_OUTPUT_SCHEMA = {"ctcae_term_high": pl.String, "ctcae_grade_high": pl.Int8, "ctcae_grade": pl.Int8}

_NULL_GRADE = pl.lit(None, dtype=pl.Int8)


@dataclass(frozen=True)
class Inputs:
    """The columns a criterion reads, as expressions (baseline already cleaned: null unless > 0)."""

    value: pl.Expr
    lln: pl.Expr
    uln: pl.Expr
    baseline: pl.Expr
    anticoagulated: pl.Expr   # Boolean, never null
    result_text: pl.Expr      # for criteria with a `scale`


# ---------------------------------------------------------------------------------- expressions

def _compare(v: pl.Expr, op: str, ref: pl.Expr | float, factor: float = 1.0, offset: float = 0.0) -> pl.Expr:
    """v op (ref*factor + offset), with the threshold nudged by REL_TOL away from the value side
    that would meet it: '>' needs v > t(1+tol), '>=' v >= t(1-tol), '<' v < t(1-tol), '<=' v <= t(1+tol)."""
    k = 1.0 + REL_TOL if op in (">", "<=") else 1.0 - REL_TOL
    if isinstance(ref, float):
        thr = (ref * factor + offset) * k
    else:
        thr = ref * (factor * k) + offset * k if offset else ref * (factor * k)
    return {">": v > thr, ">=": v >= thr, "<": v < thr, "<=": v <= thr}[op]


def _baseline_abnormal(c: Criterion, inp: Inputs) -> pl.Expr:
    """Baseline beyond the normal limit on the criterion's side; False without a baseline,
    null when the limit is missing."""
    limit_cmp = inp.baseline > inp.uln if c.direction == "high" else inp.baseline < inp.lln
    return inp.baseline.is_not_null() & limit_cmp


def _applies(c: Criterion, applies: str, inp: Inputs) -> pl.Expr | None:
    if applies == "always":
        return None
    if applies == "baseline_abnormal":
        return _baseline_abnormal(c, inp)
    if applies == "baseline_normal":
        return ~_baseline_abnormal(c, inp)
    if applies == "anticoagulated":
        return inp.anticoagulated
    return ~inp.anticoagulated  # not_anticoagulated


def _value(c: Criterion, inp: Inputs) -> pl.Expr:
    if c.scale is None:
        return inp.value
    return norm_test_expr(inp.result_text).replace_strict(c.scale, default=None, return_dtype=pl.Float64)


def grade_conditions(c: Criterion, inp: Inputs) -> dict:
    """grade -> nullable Boolean expression: any threshold of that grade met (Kleene OR)."""
    v = _value(c, inp)
    conds: dict = {}
    for t in c.thresholds:
        if t.basis == "abs":
            cond = _compare(v, t.op, t.value)
        else:
            ref = {"uln": inp.uln, "lln": inp.lln, "baseline": inp.baseline}[t.basis]
            cond = _compare(v, t.op, ref, t.factor, t.offset)
            if t.optional:
                cond = inp.baseline.is_not_null() & cond
        a = _applies(c, t.applies, inp)
        if a is not None:
            cond = a & cond
        conds.setdefault(t.grade, []).append(cond)
    return {g: functools.reduce(operator.or_, cs) for g, cs in conds.items()}


def grade_chain(conds: dict) -> pl.Expr:
    """Int8 grade from grade -> condition: the highest grade met; NULL when a grade above the
    ones not met is unknown; 0 when none is met."""
    expr = pl.lit(0, dtype=pl.Int8)
    for g in sorted(conds):
        c = conds[g]
        expr = (pl.when(c).then(pl.lit(g, dtype=pl.Int8))
                .when(c.is_null()).then(_NULL_GRADE)
                .otherwise(expr))
    return expr


def criterion_grade_expr(c: Criterion, inp: Inputs) -> pl.Expr:
    """The Int8 grade of one criterion over whole columns."""
    return grade_chain(grade_conditions(c, inp))


def worse_grade(term_low: bool, low: pl.Expr, term_high: bool, high: pl.Expr) -> pl.Expr:
    """ctcae_grade: the worse of the low and high grades.

    A direction the test has no criteria for is ignored. When the test has both and one cannot be
    graded, the result is that of the other only if it is a real grade (>= 1): a value with an
    unknown low grade is not "normal" just because its high grade is 0.
    """
    if term_low and term_high:
        worst = pl.max_horizontal(low, high)
        return (pl.when((low.is_null() | high.is_null()) & (worst.fill_null(0) < 1))
                .then(_NULL_GRADE).otherwise(worst))
    if term_low:
        return low
    if term_high:
        return high
    return _NULL_GRADE


def _lab_exprs(low: Criterion | None, high: Criterion | None, inp: Inputs) -> list:
    return [
        pl.lit(low.term if low else None, dtype=pl.String).alias("ctcae_term_low"),
        (criterion_grade_expr(low, inp) if low else _NULL_GRADE).alias("ctcae_grade_low"),
        pl.lit(high.term if high else None, dtype=pl.String).alias("ctcae_term_high"),
        (criterion_grade_expr(high, inp) if high else _NULL_GRADE).alias("ctcae_grade_high"),
    ]


# ------------------------------------------------------------------------------------ frames

def _f64(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64).fill_nan(None)


def _work_inputs(anticoagulation: bool) -> Inputs:
    return Inputs(value=pl.col("v"), lln=pl.col("lln"), uln=pl.col("uln"), baseline=pl.col("base"),
                  anticoagulated=pl.col("anticoag") if anticoagulation else pl.lit(False),
                  result_text=pl.col("text"))


def grade_labs(df: pl.DataFrame, criteria: Criteria | None = None) -> pl.DataFrame:
    """`df` plus ctcae_term_low, ctcae_grade_low, ctcae_term_high, ctcae_grade_high, ctcae_grade.

    Reads test_code (catalogue code), value_si, lln_si, uln_si, baseline_si (SI unit of the test;
    baseline = the subject's last value on or before first dose), and when present result_text
    (categorical results such as dipstick `2+`) and on_anticoagulation (Boolean, for INR; null
    counts as false). Rows keep their order; existing ctcae_* columns are replaced.
    """
    crit = criteria or load_criteria()
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"grade_labs: missing column(s) {', '.join(missing)}")
    if df.height == 0:
        return df.with_columns(pl.lit(None, dtype=t).alias(n) for n, t in OUTPUT_SCHEMA.items())

    anticoagulation = "on_anticoagulation" in df.columns
    base = _f64("baseline_si")
    work = df.select(
        pl.col("test_code").cast(pl.String).alias("code"),
        _f64("value_si").alias("v"),
        _f64("lln_si").alias("lln"),
        _f64("uln_si").alias("uln"),
        pl.when(base > 0).then(base).alias("base"),
        *([pl.col("on_anticoagulation").cast(pl.Boolean).fill_null(False).alias("anticoag")]
          if anticoagulation else []),
    ).with_row_index("__row")
    text = df.get_column("result_text").cast(pl.String) if "result_text" in df.columns else None
    inp = _work_inputs(anticoagulation)

    # One when/then chain per test, run on that test's rows only (the parts run in parallel).
    by_test = crit.by_test()
    parts = []
    for (code,), part in work.partition_by("code", as_dict=True, include_key=False).items():
        recs = by_test.get(code, {}) if code is not None else {}
        low, high = recs.get("low"), recs.get("high")
        lf = part.lazy()
        if any(c is not None and c.scale is not None for c in (low, high)):
            # result text only where a scale reads it (carrying all strings would double the time)
            lf = lf.with_columns((text.gather(part.get_column("__row")) if text is not None
                                  else pl.lit(None, dtype=pl.String)).alias("text"))
        parts.append(lf.select("__row", *_lab_exprs(low, high, inp)).with_columns(
            worse_grade(low is not None, pl.col("ctcae_grade_low"),
                        high is not None, pl.col("ctcae_grade_high")).alias("ctcae_grade")))
    graded = pl.concat(parts).collect()
    # back to input order: gather by the inverse of the row permutation (cheaper than a sort)
    n = graded.height
    inverse = pl.zeros(n, dtype=pl.UInt32, eager=True).scatter(
        graded.get_column("__row"), pl.int_range(0, n, dtype=pl.UInt32, eager=True))
    graded = graded.select(list(OUTPUT_SCHEMA))[inverse]
    return df.with_columns(graded.get_columns())


def grade_bp(df: pl.DataFrame, systolic: str = "systolic_bp", diastolic: str = "diastolic_bp",
             criteria: Criteria | None = None) -> pl.DataFrame:
    """`df` plus ctcae_term_high ('Hypertension'), ctcae_grade_high and ctcae_grade (the same),
    graded from one reading: the worse of the systolic (SYSBP) and diastolic (DIABP) grades.
    A missing pressure is unknown: 125/NULL cannot be graded, 165/NULL is grade 3."""
    crit = criteria or load_criteria()
    missing = [c for c in (systolic, diastolic) if c not in df.columns]
    if missing:
        raise ValueError(f"grade_bp: missing column(s) {', '.join(missing)}")
    sbp, dbp = crit.for_test("SYSBP", "high"), crit.for_test("DIABP", "high")
    null = pl.lit(None, dtype=pl.Float64)
    conds: dict = {}
    for c, col in ((sbp, systolic), (dbp, diastolic)):
        inp = Inputs(pl.col(col).cast(pl.Float64).fill_nan(None), null, null, null, pl.lit(False),
                     pl.lit(None, dtype=pl.String))
        for g, cond in grade_conditions(c, inp).items():
            conds[g] = conds[g] | cond if g in conds else cond
    grade = grade_chain(conds)
    return df.with_columns(
        pl.lit(sbp.term, dtype=pl.String).alias("ctcae_term_high"),
        grade.alias("ctcae_grade_high"),
        grade.alias("ctcae_grade"),
    )


# ------------------------------------------------------------------------ scalar reference

def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def grade_value(c: Criterion, value=None, *, lln=None, uln=None, baseline=None,
                anticoagulated: bool = False, result_text: str | None = None) -> int | None:
    """The grade of one value under one criterion, in plain Python (same rules as the
    expressions; used by tests and the benchmark baseline, and to explain a single result)."""
    if c.scale is not None:
        value = c.scale.get(norm_test(result_text)) if result_text is not None else None
    v, lln, uln, base = _num(value), _num(lln), _num(uln), _num(baseline)
    if base is not None and base <= 0:
        base = None
    anticoagulated = bool(anticoagulated)

    if base is None:
        abnormal = False
    else:
        limit = uln if c.direction == "high" else lln
        abnormal = None if limit is None else (base > limit if c.direction == "high" else base < limit)

    def applies(a: str):
        if a == "always":
            return True
        if a == "baseline_abnormal":
            return abnormal
        if a == "baseline_normal":
            return None if abnormal is None else not abnormal
        return anticoagulated if a == "anticoagulated" else not anticoagulated

    def met(t):
        a = applies(t.applies)
        if t.basis == "abs":
            k = 1.0 + REL_TOL if t.op in (">", "<=") else 1.0 - REL_TOL
            thr = t.value * k
        else:
            ref = {"uln": uln, "lln": lln, "baseline": base}[t.basis]
            if ref is None:
                return False if (t.optional or a is False) else None
            k = 1.0 + REL_TOL if t.op in (">", "<=") else 1.0 - REL_TOL
            thr = ref * (t.factor * k) + t.offset * k
        cmp = None if v is None else {">": v > thr, ">=": v >= thr, "<": v < thr, "<=": v <= thr}[t.op]
        return _and(a, cmp)

    for g in sorted(c.grades, reverse=True):
        results = [met(t) for t in c.thresholds if t.grade == g]
        if True in results:
            return g
        if None in results:
            return None
    return 0


def grade_row(row: dict, criteria: Criteria | None = None) -> dict:
    """One labs row (dict with the grade_labs input keys) -> the five output values, in Python."""
    crit = criteria or load_criteria()
    recs = crit.by_test().get(row.get("test_code"), {}) if row.get("test_code") is not None else {}
    out = {}
    for d in ("low", "high"):
        c = recs.get(d)
        out[f"ctcae_term_{d}"] = c.term if c else None
        out[f"ctcae_grade_{d}"] = grade_value(
            c, row.get("value_si"), lln=row.get("lln_si"), uln=row.get("uln_si"),
            baseline=row.get("baseline_si"), anticoagulated=bool(row.get("on_anticoagulation")),
            result_text=row.get("result_text")) if c else None
    lo, hi = out["ctcae_grade_low"], out["ctcae_grade_high"]
    has_lo, has_hi = out["ctcae_term_low"] is not None, out["ctcae_term_high"] is not None
    if has_lo and has_hi:
        known = [g for g in (lo, hi) if g is not None]
        worst = max(known) if known else None
        out["ctcae_grade"] = None if (lo is None or hi is None) and (worst or 0) < 1 else worst
    else:
        out["ctcae_grade"] = lo if has_lo else (hi if has_hi else None)
    return out
