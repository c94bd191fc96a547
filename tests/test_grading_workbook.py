"""Grading from a workbook: units as entered, corrected calcium, plausibility, qualified results,
weight, and the export columns (unit_graded, ca_corrected, grade_from_qualifier)."""

from __future__ import annotations

import polars as pl
import pytest

from builders import d, fresh, where
from monitor.export import build_tables
from monitor.labs.catalogue import load_catalogue

LAB_HEADER = ["Subject ID", "Date", "Test", "Result", "Unit", "LLN", "ULN", "Comment"]


def with_labs(rows: list) -> dict:
    """The valid study with its Labs replaced by `rows` (subject 1001, before and on treatment)."""
    s = fresh()
    s["Labs"] = [LAB_HEADER] + [list(r) + [None] * (8 - len(r)) for r in rows]
    return s


def graded(ctx) -> pl.DataFrame:
    """The whole graded labs table (the export's and the report's); a check's ctx.labs is it
    without the columns no rule reads (RULES_DROP_LAB_COLUMNS)."""
    from monitor.derive.labs import graded_labs

    return graded_labs(ctx.sheet("Labs"), ctx.sheet("Cycles"), ctx.catalogue)


def labs_of(ctx_of, rows) -> pl.DataFrame:
    return graded(ctx_of(with_labs(rows)))


def test_rules_labs_table_is_the_graded_table_without_the_columns_no_rule_reads(ctx_of):
    from monitor.rules.base import RULES_DROP_LAB_COLUMNS

    ctx = ctx_of(with_labs([[1001, d(2025, 3, 1), "CA", 2.85, "mmol/L", 2.2, 2.6],
                            [1001, d(2025, 3, 1), "ALB", 30, "g/L", 35, 50],
                            [1001, DAY, "GLUC", "<40", "mg/dL", 70, 100],
                            [1001, DAY, "ALT", 250, "U/L", 7, 40],
                            [1001, DAY, "HGB", 128, "g/dL", 12, 16]]))
    whole = graded(ctx)
    assert set(RULES_DROP_LAB_COLUMNS) <= set(whole.columns)
    assert ctx.labs.equals(whole.drop(RULES_DROP_LAB_COLUMNS))


DAY = d(2025, 3, 28)   # on treatment (first dose 2025-03-10)


# ------------------------------------------------------------------ examples from issue 10
ISSUE = [
    # test, result, unit, lln, uln, term direction, expected grade, unit graded, CTCAE text
    ("CA", 13.6, "mg/dL", 8.5, 10.5, "high", 4, "mg/dL", "Corrected serum calcium of >13.5 mg/dL"),
    ("CA", 6.0, "mg/dL", 8.5, 10.5, "low", 3, "mg/dL", "<7.0 - 6.0 mg/dL"),
    ("GLUC", 30, "mg/dL", 70, 100, "low", 3, "mg/dL", "<40 - 30 mg/dL"),
    ("MG", 3.0, "mg/dL", 1.6, 2.4, "high", 1, "mg/dL", ">ULN - 3.0 mg/dL"),
    ("MG", 0.7, "mg/dL", 1.6, 2.4, "low", 3, "mg/dL", "<0.9 - 0.7 mg/dL"),
    ("CHOL", 300, "mg/dL", None, 200, "high", 1, "mg/dL", ">ULN - 300 mg/dL"),
    ("CHOL", 400, "mg/dL", None, 200, "high", 2, "mg/dL", ">300 - 400 mg/dL"),
    ("CHOL", 500, "mg/dL", None, 200, "high", 3, "mg/dL", ">400 - 500 mg/dL"),
    ("TRIG", 1001, "mg/dL", None, 150, "high", 4, "mg/dL", ">1000 mg/dL"),
    ("HGB", 6.2, "mmol/L", 7.4, 9.9, "low", 1, "mmol/L", "<LLN - 6.2 mmol/L"),
    ("PLAT", 20, "K/uL", 150, 400, "low", 4, "10e9/L", "<25.0 x 10e9 /L"),
    ("PLAT", 20, "THOU/uL", 150, 400, "low", 4, "10e9/L", "<25.0 x 10e9 /L"),
    ("LYM", 0.47, "GI/L", 1.0, 4.0, "low", 3, "10e9/L", "<0.5 - 0.2 x 10e9 /L"),
    ("PLAT", 20000, "cells/mm^3", 150000, 400000, "low", 4, "/mm3", "<25,000/mm3"),
    ("PLAT", 20000, "1/uL", 150000, 400000, "low", 4, "/mm3", "<25,000/mm3"),
    ("PLAT", 20000, "10^3/mL", 150000, 400000, "low", 4, "/mm3", "10^3/mL = 1/uL = 1/mm3"),
    ("UPROT24", 2500, "mg/24 hr", None, 150, "high", 2, "g/24h", "1.0 - <3.5 g/24 hrs"),
    ("K", 6.1, "mEq/L", 3.5, 5.1, "high", 3, "mmol/L", ">6.0 - 7.0 mmol/L"),
]


@pytest.mark.parametrize("row", ISSUE, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}")
def test_issue_examples_graded_as_ctcae_prints_them(ctx_of, row):
    test, value, unit, lln, uln, direction, grade, graded_in, text = row
    labs = labs_of(ctx_of, [[1001, DAY, test, value, unit, lln, uln]])
    r = labs.row(0, named=True)
    assert r[f"ctcae_grade_{direction}"] == grade, text
    assert r[f"unit_graded_{direction}"] == graded_in


def test_corrected_calcium_from_same_day_albumin(ctx_of):
    """Ca 2.85 mmol/L with albumin 25 g/L the same day: 2.85 + 0.02 x (40 - 25) = 3.15 mmol/L,
    '>3.1 - 3.4 mmol/L' = grade 3 (uncorrected 2.85 would be grade 1)."""
    labs = labs_of(ctx_of, [[1001, DAY, "CA", 2.85, "mmol/L", 2.1, 2.6], [1001, DAY, "ALB", 25, "g/L", 35, 50],
                            [1001, d(2025, 3, 29), "CA", 2.85, "mmol/L", 2.1, 2.6]])
    ca = labs.filter(pl.col("test") == "CA").sort("row")
    first, nextday = ca.row(0, named=True), ca.row(1, named=True)
    assert first["ca_corrected"] is True and first["corrected"] == pytest.approx(3.15)
    assert first["ctcae_grade_high"] == 3 and first["value"] == 2.85
    assert nextday["ca_corrected"] is False and nextday["ctcae_grade_high"] == 1, "no albumin that day"
    assert labs.filter(pl.col("test") == "ALB")["ca_corrected"].to_list() == [None]


def test_corrected_calcium_in_mg_dl_uses_the_mg_dl_formula(ctx_of):
    """8.0 mg/dL with albumin 2.0 g/dL: 8.0 + 0.8 x (4 - 2) = 9.6 mg/dL, within normal limits,
    not 'Hypocalcemia <LLN - 8.0' (grade 1) as the total would be."""
    labs = labs_of(ctx_of, [[1001, DAY, "CA", 8.0, "mg/dL", 8.5, 10.5], [1001, DAY, "ALB", 2.0, "g/dL", 3.5, 5.0]])
    ca = labs.filter(pl.col("test") == "CA").row(0, named=True)
    assert ca["corrected"] == pytest.approx(9.6) and ca["ctcae_grade_low"] == 0 and ca["unit_graded_low"] == "mg/dL"


def test_ionized_calcium_is_never_corrected(ctx_of):
    labs = labs_of(ctx_of, [[1001, DAY, "iCa", 1.55, "mmol/L", 1.15, 1.3], [1001, DAY, "ALB", 25, "g/L", 35, 50]])
    r = labs.filter(pl.col("test") == "CAION").row(0, named=True)
    assert r["ca_corrected"] is None and r["ctcae_grade_high"] == 2   # '>1.5 - 1.6 mmol/L'


def test_qualified_result_is_graded_in_the_proven_direction_only(ctx_of):
    labs = labs_of(ctx_of, [[1001, DAY, "GLUC", "<40", "mg/dL", 70, 100]])
    r = labs.row(0, named=True)
    assert r["ctcae_grade_low"] == 3 and r["ctcae_grade_high"] is None and r["grade_from_qualifier"] is True


def test_implausible_result_is_not_graded_and_gets_lab009(ctx_of, run):
    sheets = with_labs([[1001, DAY, "HGB", 128, "g/dL", 12, 16]])
    r = graded(ctx_of(sheets)).row(0, named=True)
    assert r["plausible"] is False and r["value_si"] is None and r["ctcae_grade"] is None
    result = run(sheets)
    assert where(result, "LAB009") == ["Labs!D2"]
    f = next(f for f in result.findings if f.rule == "LAB009")
    assert f.message == "128 g/dL is not a plausible hemoglobin (physiological range 5 - 250 g/L); it is not graded."
    assert f.suggestion.startswith("Did you mean g/L?")


def test_unknown_unit_suggests_the_nearest(run):
    result = run(with_labs([[1001, DAY, "ALT", 30, "UL", 7, 40]]))
    f = next(f for f in result.findings if f.rule == "LAB002")
    assert f.where == "Labs!E2" and f.suggestion == "Did you mean U/L?"


def test_dipstick_plus_signs(ctx_of):
    labs = labs_of(ctx_of, [[1001, DAY, "Urine protein", "++"], [1001, DAY, "Urine protein", "+++"],
                            [1001, DAY, "Urine protein", "+"]])
    assert labs.sort("row")["ctcae_grade"].to_list() == [2, 2, 1]


def test_count_in_k_per_ul_raises_the_safety_finding(run):
    """A platelet count of 20 K/uL is grade 4: without an AE it is a LAB101 finding."""
    result = run(with_labs([[1001, DAY, "PLAT", 20, "K/uL", 150, 400]]))
    assert where(result, "LAB101") == ["Labs!D2"] and not where(result, "LAB002")


def test_export_labs_and_vitals_columns(ctx_of, tmp_path):
    from builders import check, write

    path = write(tmp_path / "x.xlsx", with_labs([[1001, DAY, "CA", 2.85, "mmol/L", 2.1, 2.6],
                                                 [1001, DAY, "ALB", 25, "g/L", 35, 50]]))
    tables = build_tables(check(path), load_catalogue())
    labs = tables["labs"]
    for col in ("unit_graded", "unit_graded_low", "unit_graded_high", "ca_corrected", "corrected", "plausible",
                "grade_from_qualifier"):
        assert col in labs.columns, col
    assert labs.filter(pl.col("test") == "CA")["unit_graded"].to_list() == ["mmol/L"]
    vitals = tables["vitals"].sort("row")
    # Subjects weight 72.5 kg; Vitals 72.5 then 72.0 (-0.7%: grade 0)
    assert vitals["weight_change_pct"].round(2).to_list()[:2] == [0.0, -0.69]
    assert vitals["ctcae_grade_weight_loss"].to_list()[:2] == [0, 0]
    assert vitals["ctcae_grade_hypertension"].to_list()[:2] == [1, 2]


def test_weight_loss_from_vitals(tmp_path):
    from builders import check, write

    s = fresh()
    s["Vitals"].append([1001, d(2025, 5, 1), 120, 70, 58.0, 1])     # 72.5 -> 58.0 = -20%: grade 3
    tables = build_tables(check(write(tmp_path / "w.xlsx", s)), load_catalogue())
    v = tables["vitals"].filter(pl.col("weight") == 58.0).row(0, named=True)
    assert v["ctcae_grade_weight_loss"] == 3 and v["ctcae_grade_weight_gain"] == 0
