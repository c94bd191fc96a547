"""A plain-Python reference of the grading rules in grade.py, one value at a time.

Used by the tests (the vectorised engine must agree with it row by row), by the benchmark as the
per-row baseline, and to explain a single result. Not for bulk use.
"""

from __future__ import annotations

import math

from ..labs.catalogue import Catalogue, load_catalogue, norm_test
from .criteria import Criteria, Criterion, load_criteria
from .grade import _HIGH_QUALIFIERS, _LOW_QUALIFIERS, OUTPUT_SCHEMA, QUALIFIER_NUDGE, REL_TOL
from .printed import graded_unit


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
                anticoagulated: bool = False, result_text: str | None = None, unit: str | None = None,
                qualifier: str | None = None, catalogue: Catalogue | None = None) -> int | None:
    """The grade of one value under one criterion, in plain Python (same rules as the
    expressions; used by tests and the benchmark baseline, and to explain a single result).
    value, lln, uln and baseline are in `unit` (None: the test's SI unit)."""
    cat = catalogue or load_catalogue()
    if qualifier is not None and qualifier not in (_LOW_QUALIFIERS if c.direction == "low" else _HIGH_QUALIFIERS):
        return None
    printed, k = graded_unit(c, unit, cat)
    if k is None:
        return None
    if c.scale is not None:
        value = c.scale.get(norm_test(result_text)) if result_text is not None else None
    v, lln, uln, base = _num(value), _num(lln), _num(uln), _num(baseline)
    if printed is not None:
        v, lln, uln, base = (None if x is None else x * k for x in (v, lln, uln, base))
    if v is not None and qualifier in ("<", ">"):
        v = v * (1.0 - QUALIFIER_NUDGE) if qualifier == "<" else v * (1.0 + QUALIFIER_NUDGE)
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

    def compare(t):
        k = 1.0 + REL_TOL if t.op in (">", "<=") else 1.0 - REL_TOL
        if t.basis == "abs":
            thr = t.value_in(printed) * k
        else:
            ref = {"uln": uln, "lln": lln, "baseline": base}[t.basis]
            thr = None if ref is None else ref * (t.factor * k) + t.offset_in(printed) * k
        if thr is None:
            cmp = False if t.optional else None
        else:
            cmp = None if v is None else {">": v > thr, ">=": v >= thr, "<": v < thr, "<=": v <= thr}[t.op]
        if t.also is not None:
            cmp = _and(cmp, True if (t.also.optional and base is None) else compare(t.also))
        return cmp

    def met(t):
        a = applies(t.applies)
        if a is False:
            return False
        return _and(a, compare(t))

    for g in sorted(c.grades, reverse=True):
        results = [met(t) for t in c.thresholds if t.grade == g]
        if True in results:
            return g
        if None in results:
            return None
    return 0


def grade_row(row: dict, criteria: Criteria | None = None, catalogue: Catalogue | None = None) -> dict:
    """One labs row (dict with the grade_labs input keys) -> the OUTPUT_SCHEMA values, in Python."""
    crit = criteria or load_criteria()
    cat = catalogue or load_catalogue()
    code = row.get("test_code")
    recs = crit.by_test().get(code, {}) if code is not None else {}
    entered = row.get("unit") is not None or "unit" in row and "value" in row
    q = row.get("qualifier") if row.get("qualifier") in ("<", "<=", ">", ">=") else None
    if entered:
        unit = row.get("unit") or ""
        f = cat.to_si(code, unit) if code else None
        vals = dict(value=row.get("value"), lln=row.get("lln"), uln=row.get("uln"),
                    baseline=None if (row.get("baseline_si") is None or not f) else row["baseline_si"] / f)
    else:
        unit = None
        vals = dict(value=row.get("value_si"), lln=row.get("lln_si"), uln=row.get("uln_si"),
                    baseline=row.get("baseline_si"))
    out = {}
    for d in ("low", "high"):
        c = recs.get(d)
        out[f"ctcae_term_{d}"] = c.term if c else None
        out[f"ctcae_grade_{d}"] = grade_value(
            c, vals["value"], lln=vals["lln"], uln=vals["uln"], baseline=vals["baseline"],
            anticoagulated=bool(row.get("on_anticoagulation")), result_text=row.get("result_text"),
            unit=unit, qualifier=q, catalogue=cat) if c else None
        pu, k = graded_unit(c, unit, cat) if c else (None, None)
        ok_q = q is None or (c is not None and q in (_LOW_QUALIFIERS if d == "low" else _HIGH_QUALIFIERS))
        out[f"unit_graded_{d}"] = pu if (c and k is not None and ok_q and vals["value"] is not None) else None
    lo, hi = out["ctcae_grade_low"], out["ctcae_grade_high"]
    has_lo, has_hi = out["ctcae_term_low"] is not None, out["ctcae_term_high"] is not None
    if has_lo and has_hi:
        known = [g for g in (lo, hi) if g is not None]
        worst = max(known) if known else None
        out["ctcae_grade"] = None if (lo is None or hi is None) and (worst or 0) < 1 else worst
    else:
        out["ctcae_grade"] = lo if has_lo else (hi if has_hi else None)
    hi_wins = (hi if hi is not None else -1) > (lo if lo is not None else -1)
    out["unit_graded"] = out["unit_graded_high"] if hi_wins else (out["unit_graded_low"] or out["unit_graded_high"])
    out["grade_from_qualifier"] = q is not None
    return {k: out[k] for k in OUTPUT_SCHEMA}
