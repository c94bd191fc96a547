"""CTCAE v5.0 grades of lab values (and blood pressure) as polars expressions.

    grade_labs(df)    adds ctcae_term_low, ctcae_grade_low, ctcae_term_high, ctcae_grade_high and
                      ctcae_grade to a labs frame (ADaM ATOXDSCL/ATOXGRL/ATOXDSCH/ATOXGRH/ATOXGR),
                      and the printed unit each direction was graded in (unit_graded_*)
    grade_bp(df)      the same for Hypertension from systolic and diastolic blood pressure
    grade_weight(df)  Weight loss / Weight gain from a weight and the baseline weight

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
    never moves a value across a threshold it sits exactly on;
  * a result entered in a unit CTCAE prints for the term is compared with the figures printed
    in that unit, exactly as entered; another unit is converted to the closest printed unit
    (printed.py); a qualified result (`<40`) is graded just beyond its number, only in the
    direction the qualifier proves.

Performance: the frame is split once by (test code, entered unit, qualifier) and each part's
when/then chain runs only on its own rows with literal thresholds (polars runs the parts in
parallel); the unit decisions are made once per part, nothing loops over rows in Python.
`grade_value` is a plain-Python reference of the same rules, for tests, benchmarks and
explaining one result; it is not for bulk use.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import polars as pl

from ..labs.catalogue import Catalogue, load_catalogue, norm_test_expr
from .criteria import Criteria, Criterion, load_criteria
from .printed import graded_unit, si_to

REL_TOL = 1e-9
QUALIFIER_NUDGE = 1e-6     # '<40' is graded as a value just below 40 (far beyond REL_TOL)
REQUIRED_COLUMNS = ("test_code", "value_si", "lln_si", "uln_si", "baseline_si")
OPTIONAL_COLUMNS = ("result_text", "on_anticoagulation", "unit", "value", "lln", "uln", "qualifier")
OUTPUT_SCHEMA = {
    "ctcae_term_low": pl.String,
    "ctcae_grade_low": pl.Int8,
    "ctcae_term_high": pl.String,
    "ctcae_grade_high": pl.Int8,
    "ctcae_grade": pl.Int8,
    "unit_graded_low": pl.String,
    "unit_graded_high": pl.String,
    "unit_graded": pl.String,
    "grade_from_qualifier": pl.Boolean,
}
_LOW_QUALIFIERS = ("<", "<=")
_HIGH_QUALIFIERS = (">", ">=")
BP_OUTPUT_SCHEMA = {"ctcae_term_high": pl.String, "ctcae_grade_high": pl.Int8, "ctcae_grade": pl.Int8}

_NULL_GRADE = pl.lit(None, dtype=pl.Int8)


@functools.lru_cache(maxsize=None)
def _lit(value, dtype) -> pl.Expr:
    """A typed literal, built once (pl.lit with a dtype builds a Series: ~10-20 us, and grading
    asks for the same few grades, terms and units hundreds of times)."""
    return pl.lit(value, dtype=dtype)


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
    return _OPS[op](v, thr)


# the comparison of each operator, called for the one a threshold has (building all four and
# keeping one cost ~1 ms of grading a site's labs)
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


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


def _threshold_cond(t, v: pl.Expr, inp: Inputs, unit: str | None) -> pl.Expr:
    if t.basis == "abs":
        cond = _compare(v, t.op, t.value_in(unit))
    else:
        ref = {"uln": inp.uln, "lln": inp.lln, "baseline": inp.baseline}[t.basis]
        cond = _compare(v, t.op, ref, t.factor, t.offset_in(unit))
        if t.optional:
            cond = inp.baseline.is_not_null() & cond
    if t.also is not None:
        other = _threshold_cond(t.also, v, inp, unit)
        if t.also.optional:    # skipped (met) when there is no baseline
            other = inp.baseline.is_null() | other
        cond = cond & other
    return cond


def grade_conditions(c: Criterion, inp: Inputs, unit: str | None = None) -> dict:
    """grade -> nullable Boolean expression: any threshold of that grade met (Kleene OR).
    `unit`: the printed unit the inputs are in (None: the record's first, or relative only)."""
    v = _value(c, inp)
    conds: dict = {}
    for t in c.thresholds:
        cond = _threshold_cond(t, v, inp, unit)
        a = _applies(c, t.applies, inp)
        if a is not None:
            cond = a & cond
        conds.setdefault(t.grade, []).append(cond)
    return {g: functools.reduce(operator.or_, cs) for g, cs in conds.items()}


def grade_chain(conds: dict) -> pl.Expr:
    """Int8 grade from grade -> condition: the highest grade met; NULL when a grade above the
    ones not met is unknown; 0 when none is met."""
    expr = _lit(0, pl.Int8)
    for g in sorted(conds):
        c = conds[g]
        expr = (pl.when(c).then(_lit(g, pl.Int8))
                .when(c.is_null()).then(_NULL_GRADE)
                .otherwise(expr))
    return expr


def criterion_grade_expr(c: Criterion, inp: Inputs, unit: str | None = None) -> pl.Expr:
    """The Int8 grade of one criterion over whole columns."""
    return grade_chain(grade_conditions(c, inp, unit))


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


def _direction_exprs(c: Criterion | None, entered: str | None, qualifier: str | None,
                     catalogue: Catalogue, anticoagulation: bool, names: tuple) -> tuple:
    """(grade expression, unit graded) of one record for one part (test, entered unit,
    qualifier) of the frame. The part's columns: `names` (value, LLN, ULN in the entered unit,
    or in SI when `entered` is None), v_si, lln_si, uln_si, base (SI)."""
    if c is None:
        return _NULL_GRADE, None
    if qualifier is not None and qualifier not in (_LOW_QUALIFIERS if c.direction == "low" else _HIGH_QUALIFIERS):
        return _NULL_GRADE, None          # '<40' proves nothing about the high direction
    unit, k = graded_unit(c, entered, catalogue)
    if k is None:
        return _NULL_GRADE, None
    b = si_to(c, unit, catalogue) if unit is not None else 1.0
    if unit is None:                      # relative thresholds: the grade is unit-free
        v, lln, uln, base = pl.col("v_si"), pl.col("lln_si"), pl.col("uln_si"), pl.col("base")
    else:
        v, lln, uln = (pl.col(n) for n in names)
        base = pl.col("base") * b
        if k != 1.0:
            v, lln, uln = v * k, lln * k, uln * k
    if qualifier is not None:             # conservative: just beyond the number, on the proven side
        v = v * (1.0 - QUALIFIER_NUDGE) if qualifier == "<" else (v * (1.0 + QUALIFIER_NUDGE) if qualifier == ">" else v)
    inp = Inputs(value=v, lln=lln, uln=uln, baseline=base,
                 anticoagulated=pl.col("anticoag") if anticoagulation else _lit(False, pl.Boolean),
                 result_text=pl.col("text"))
    return criterion_grade_expr(c, inp, unit), unit


def _lab_exprs(low: Criterion | None, high: Criterion | None, entered: str | None, qualifier: str | None,
               catalogue: Catalogue, anticoagulation: bool, names: tuple = ("v", "lln", "uln"),
               outputs: tuple = tuple(OUTPUT_SCHEMA)) -> list:
    """The part's first-stage columns: both grades, and of the rest only what `outputs` reads
    (the units graded feed `unit_graded`); what a caller omits is never built."""
    gl, ul = _direction_exprs(low, entered, qualifier, catalogue, anticoagulation, names)
    gh, uh = _direction_exprs(high, entered, qualifier, catalogue, anticoagulation, names)
    has_value = pl.col(names[0]).is_not_null()

    def graded_in(u):
        return pl.when(has_value).then(_lit(u, pl.String)) if u is not None else _lit(None, pl.String)

    exprs = {"ctcae_term_low": lambda: _lit(low.term if low else None, pl.String), "ctcae_grade_low": lambda: gl,
             "ctcae_term_high": lambda: _lit(high.term if high else None, pl.String), "ctcae_grade_high": lambda: gh,
             "unit_graded_low": lambda: graded_in(ul), "unit_graded_high": lambda: graded_in(uh),
             "grade_from_qualifier": lambda: _lit(qualifier is not None, pl.Boolean)}
    needed = {"ctcae_grade_low", "ctcae_grade_high", *outputs,
              *(("unit_graded_low", "unit_graded_high") if "unit_graded" in outputs else ())}
    return [build().alias(name) for name, build in exprs.items() if name in needed]


# ------------------------------------------------------------------------------------ frames

def _f64(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64).fill_nan(None)


def unit_graded(low: pl.Expr, high: pl.Expr, unit_low: pl.Expr, unit_high: pl.Expr) -> pl.Expr:
    """The printed unit of the direction that set ctcae_grade (the high one when it is worse)."""
    return pl.when(high.fill_null(-1) > low.fill_null(-1)).then(unit_high).otherwise(
        pl.coalesce(unit_low, unit_high))


def term_expr(side: str, code: str = "test_code", criteria: Criteria | None = None) -> pl.Expr:
    """The CTCAE term grade_labs gives as ctcae_term_low / ctcae_term_high ('low' / 'high'): a
    function of the test code alone (the term of the test's criterion in that direction; null
    for a code without one), so a table may leave the text column out and read it from here."""
    return pl.col(code).cast(pl.String).replace_strict(*(criteria or load_criteria()).side_term_series(side),
                                                       default=None, return_dtype=pl.String)


def side_terms(side: str, criteria: Criteria | None = None) -> dict:
    """test code -> the CTCAE term of its criterion in direction `side` ('low' / 'high'), for
    the codes that have one (term_expr's mapping)."""
    return (criteria or load_criteria()).side_terms(side)


def grade_labs(df: pl.DataFrame, criteria: Criteria | None = None,
               catalogue: Catalogue | None = None, omit: tuple = ()) -> pl.DataFrame:
    """`df` plus the OUTPUT_SCHEMA columns (terms, grades, units graded, qualifier flag).

    Reads test_code (catalogue code), value_si, lln_si, uln_si, baseline_si (SI unit of the test;
    baseline = the subject's last value on or before first dose), and when present:
    `unit`, `value`, `lln`, `uln` (the result as entered: graded on CTCAE's figures printed in
    that unit, or converted to the closest printed unit, see printed.py); `qualifier` (`<`,
    `<=`, `>`, `>=`: the result is graded only in the direction the qualifier proves, just
    beyond the number); `result_text` (categorical results such as dipstick `2+`);
    `on_anticoagulation` (Boolean, for INR; null counts as false). Rows keep their order;
    existing output columns are replaced. `omit`: output columns not wanted (never built: the
    rules of a check read no unit-graded text, ~55 MiB of a whole study's grading).
    """
    crit = criteria or load_criteria()
    cat = catalogue or load_catalogue()
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"grade_labs: missing column(s) {', '.join(missing)}")
    outputs = [c for c in OUTPUT_SCHEMA if c not in omit]
    if df.height == 0:
        return df.with_columns(pl.lit(None, dtype=OUTPUT_SCHEMA[n]).alias(n) for n in outputs)

    anticoagulation = "on_anticoagulation" in df.columns
    entered = all(c in df.columns for c in ("unit", "value"))
    qualified = "qualifier" in df.columns
    base = _f64("baseline_si")
    # a test without criteria grades to nulls whatever its unit: all its rows make one part per
    # qualifier (code null), not one per (test, unit)
    by_test = crit.by_test()
    code = pl.col("test_code").cast(pl.String)
    has_criteria = code.is_in([c for c, recs in by_test.items() if any(recs.values())])
    cols = [pl.when(has_criteria).then(code).alias("code"),
            _f64("value_si").alias("v_si"), _f64("lln_si").alias("lln_si"), _f64("uln_si").alias("uln_si"),
            pl.when(base > 0).then(base).alias("base")]
    keys = ["code"]
    if entered:        # the result as entered: graded on the figures printed in its unit
        none = pl.lit(None, dtype=pl.Float64)
        cols += [pl.when(has_criteria).then(pl.col("unit").cast(pl.String)).fill_null("").alias("unit"),
                 _f64("value").alias("v"),
                 (_f64("lln") if "lln" in df.columns else none).alias("lln"),
                 (_f64("uln") if "uln" in df.columns else none).alias("uln")]
        keys.append("unit")
    if qualified:
        qual = pl.col("qualifier").cast(pl.String)
        cols.append(pl.when(qual.is_in(["<", "<=", ">", ">="])).then(qual).alias("q"))
        keys.append("q")
    if anticoagulation:
        cols.append(pl.col("on_anticoagulation").cast(pl.Boolean).fill_null(False).alias("anticoag"))
    work = df.select(cols).with_row_index("__row")
    text = df.get_column("result_text").cast(pl.String) if "result_text" in df.columns else None
    names = ("v", "lln", "uln") if entered else ("v_si", "lln_si", "uln_si")

    # One when/then chain per (test, entered unit, qualifier), run on those rows only (the parts
    # run in parallel); a frame has few distinct units, each decided once (printed.py).
    parts = []
    for key, part in work.partition_by(keys, as_dict=True, include_key=False).items():
        k = dict(zip(keys, key))
        code, unit, q = k["code"], k.get("unit"), k.get("q")
        recs = by_test.get(code, {}) if code is not None else {}
        low, high = recs.get("low"), recs.get("high")
        lf = part.lazy()
        if any(c is not None and c.scale is not None for c in (low, high)):
            # result text only where a scale reads it (carrying all strings would double the time)
            lf = lf.with_columns((text.gather(part.get_column("__row")) if text is not None
                                  else pl.lit(None, dtype=pl.String)).alias("text"))
        parts.append(lf.select("__row", *_lab_exprs(low, high, unit, q, cat, anticoagulation, names, outputs),
                               _lit(low is not None, pl.Boolean).alias("__low"),
                               _lit(high is not None, pl.Boolean).alias("__high")))
    # the columns made of both directions: once over all the parts (not a step in each part);
    # __low / __high: whether the row's test has criteria in that direction (worse_grade's flags)
    low_g, high_g, low_t, high_t = (pl.col(c) for c in ("ctcae_grade_low", "ctcae_grade_high", "__low", "__high"))
    second = [pl.when(low_t & high_t).then(worse_grade(True, low_g, True, high_g)).when(low_t).then(low_g)
              .when(high_t).then(high_g).otherwise(_NULL_GRADE).alias("ctcae_grade")]
    if "unit_graded" in outputs:
        second.append(unit_graded(pl.col("ctcae_grade_low"), pl.col("ctcae_grade_high"),
                                  pl.col("unit_graded_low"), pl.col("unit_graded_high")).alias("unit_graded"))
    # the in-memory engine: polars' default ("auto", streaming) costs twice as much to start for
    # the few-row parts of a site's workbook and is no faster on 600,000 rows
    graded = pl.concat(parts).with_columns(second).select("__row", *outputs).collect(engine="in-memory")
    # back to input order: gather by the inverse of the row permutation (cheaper than a sort)
    n = graded.height
    inverse = pl.zeros(n, dtype=pl.UInt32, eager=True).scatter(
        graded.get_column("__row"), pl.int_range(0, n, dtype=pl.UInt32, eager=True))
    graded = graded.select(outputs)[inverse]
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


WEIGHT_OUTPUT_SCHEMA = {"weight_change_pct": pl.Float64, "ctcae_grade_weight_loss": pl.Int8,
                        "ctcae_grade_weight_gain": pl.Int8}


def grade_weight(df: pl.DataFrame, weight: str = "weight", baseline: str = "baseline_weight",
                 criteria: Criteria | None = None) -> pl.DataFrame:
    """`df` plus weight_change_pct and the CTCAE v5.0 Weight loss / Weight gain grades of each
    weight against the baseline weight (% from baseline; criteria records WEIGHT low / high).
    A missing weight or baseline cannot be graded (null)."""
    crit = criteria or load_criteria()
    missing = [c for c in (weight, baseline) if c not in df.columns]
    if missing:
        raise ValueError(f"grade_weight: missing column(s) {', '.join(missing)}")
    w = pl.col(weight).cast(pl.Float64).fill_nan(None)
    b = pl.col(baseline).cast(pl.Float64).fill_nan(None)
    b = pl.when(b > 0).then(b)
    null = pl.lit(None, dtype=pl.Float64)
    inp = Inputs(w, null, null, b, pl.lit(False), pl.lit(None, dtype=pl.String))
    return df.with_columns(
        ((w - b) / b * 100.0).alias("weight_change_pct"),
        criterion_grade_expr(crit.for_test("WEIGHT", "low"), inp).alias("ctcae_grade_weight_loss"),
        criterion_grade_expr(crit.for_test("WEIGHT", "high"), inp).alias("ctcae_grade_weight_gain"),
    )


# The plain-Python reference of the same rules (tests, benchmark baseline, explaining one result).
from .reference import grade_row, grade_value  # noqa: E402,F401
