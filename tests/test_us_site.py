"""The US-units sample site (sample_sheets/us_site.xlsx, scripts/make_samples.py write_us_site):
every result is graded as a safety physician reads the CTCAE v5.0 text. The expected grades below
were written from the CTCAE text quoted on each row, not from the code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from monitor.check import check_workbook
from monitor.export import build_tables
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import load_profile

US = Path(__file__).resolve().parent.parent / "sample_sheets" / "us_site.xlsx"

# subject, date, test code, ctcae_grade, unit graded, the CTCAE v5.0 text that decides
EXPECTED = [
    ("301", "2023-06-02", "CA", 0, "mg/dL", "9.4 mg/dL with albumin 4.0: corrected 9.4, within 8.5 - 10.5"),
    ("301", "2023-06-02", "ALB", 0, "g/dL", "4.0 g/dL within the normal range"),
    ("301", "2023-06-02", "ALT", 0, None, "25 U/L <= ULN 40"),
    ("301", "2023-06-02", "CREAT", 0, None, "0.9 mg/dL <= ULN 1.2"),
    ("301", "2023-06-02", "BILI", 0, None, "0.8 mg/dL <= ULN 1.2"),
    ("301", "2023-06-27", "CA", 4, "mg/dL", "Hypercalcemia: 'Corrected serum calcium of >13.5 mg/dL' (albumin 4.0: "
     "correction 0)"),
    ("301", "2023-06-27", "ALB", 0, "g/dL", "normal"),
    ("301", "2023-06-27", "GLUC", 3, "mg/dL", "Hypoglycemia: '<40 - 30 mg/dL' ('<40' proves below 40)"),
    ("301", "2023-06-27", "MG", 1, "mg/dL", "Hypermagnesemia: '>ULN - 3.0 mg/dL'"),
    ("301", "2023-06-27", "CHOL", 2, "mg/dL", "Cholesterol high: '>300 - 400 mg/dL'"),
    ("301", "2023-06-27", "TRIG", 4, "mg/dL", "Hypertriglyceridemia: '>1000 mg/dL'"),
    ("301", "2023-06-27", "PLAT", 4, "10e9/L", "Platelet count decreased: '<25.0 x 10e9 /L' (20 K/uL = 20 x 10e9/L)"),
    ("301", "2023-06-27", "NEUT", 3, "10e9/L", "Neutrophil count decreased: '<1.0 - 0.5 x 10e9 /L'"),
    ("301", "2023-06-27", "WBC", 2, "/mm3", "White blood cell decreased: '<3000 - 2000/mm3'"),
    ("301", "2023-06-27", "LYM", 3, "/mm3", "Lymphocyte count decreased: '<500 - 200/mm3' (/uL = /mm3)"),
    ("301", "2023-06-27", "HGB", 3, "g/dL", "Anemia: 'Hgb <8.0 g/dL'"),
    ("301", "2023-06-27", "K", 3, "mmol/L", "Hyperkalemia: '>6.0 - 7.0 mmol/L' (mEq/L = mmol/L for K+)"),
    ("301", "2023-06-27", "SODIUM", 2, "mmol/L", "Hyponatremia: '125-129 mmol/L and asymptomatic'"),
    ("301", "2023-06-27", "BILI", 2, None, "Blood bilirubin increased: '>1.5 - 3.0 x ULN' (1.9 / 1.2 = 1.58)"),
    ("301", "2023-06-27", "CREAT", 2, None, "Creatinine increased: '>1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN' "
     "(2.0 / 0.9 = 2.2 x baseline, 1.67 x ULN)"),
    ("301", "2023-06-27", "ALT", 2, None, "Alanine aminotransferase increased: '>3.0 - 5.0 x ULN' (130 / 40 = 3.25)"),
    ("301", "2023-06-27", "UPROT", 2, None, "Proteinuria: 'Adult: 2+ and 3+ proteinuria' ('++' = 2+)"),
    ("301", "2023-06-28", "UPROT24", 2, "g/24h", "Proteinuria: 'urinary protein 1.0 - <3.5 g/24 hrs' (2500 mg)"),
    ("302", "2023-06-05", "CA", 0, "mg/dL", "9.0 mg/dL, no albumin: within 8.5 - 10.5"),
    ("302", "2023-06-30", "CA", 3, "mg/dL", "Hypocalcemia: '<7.0 - 6.0 mg/dL' (no albumin that day: total calcium)"),
    ("302", "2023-06-30", "GLUC", 3, "mg/dL", "Hypoglycemia: '<40 - 30 mg/dL'"),
    ("302", "2023-06-30", "MG", 3, "mg/dL", "Hypomagnesemia: '<0.9 - 0.7 mg/dL'"),
    ("302", "2023-06-30", "TRIG", 1, "mg/dL", "Hypertriglyceridemia: '150 mg/dL - 300 mg/dL'"),
    ("302", "2023-06-30", "CHOL", 1, "mg/dL", "Cholesterol high: '>ULN - 300 mg/dL'"),
    ("302", "2023-07-21", "CA", 2, "mg/dL", "Hypercalcemia: '>11.5 - 12.5 mg/dL' (11.0 + 0.8 x (4 - 2.5) = 12.2)"),
    ("302", "2023-07-21", "ALB", 2, "g/dL", "Hypoalbuminemia: '<3 - 2 g/dL'"),
    ("302", "2023-07-21", "PLAT", 2, "/mm3", "Platelet count decreased: '<75,000 - 50,000/mm3' (cells/uL = /mm3)"),
    ("302", "2023-07-21", "GFR", 2, "mL/min/1.73m2", "Chronic kidney disease: 'eGFR or CrCl 59 - 30 ml/min/1.73 m2'"),
    ("303", "2023-06-06", "HGB", 0, "g/dL", "12.8 g/dL within 12 - 16"),
    ("303", "2023-07-03", "HGB", None, None, "128 g/dL is not plausible (LAB009): not graded"),
    ("303", "2023-07-03", "ALT", None, None, "unit 'UL' unknown (LAB002): not graded"),
    ("303", "2023-07-03", "EOS", 1, None, "Eosinophilia: '>ULN and >Baseline' (no baseline: ULN decides)"),
    ("303", "2023-07-03", "PHOS", 1, None, "Hypophosphatemia: 'Laboratory finding only' (<LLN)"),
]


@pytest.fixture(scope="module")
def result():
    return check_workbook(US, load_profile(), today=date(2024, 3, 15))


@pytest.fixture(scope="module")
def labs(result):
    return build_tables(result, load_catalogue())["labs"]


def test_every_row_of_the_site_is_in_the_table(labs):
    assert labs.height == len(EXPECTED)


@pytest.mark.parametrize("row", EXPECTED, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}")
def test_grade_matches_the_ctcae_text(labs, row):
    subject, day, test, grade, unit, text = row
    got = labs.filter((pl.col("subject") == subject) & (pl.col("date") == date.fromisoformat(day))
                      & (pl.col("test") == test))
    assert got.height == 1
    r = got.row(0, named=True)
    assert r["ctcae_grade"] == grade, text
    assert r["unit_graded"] == unit, text


def test_corrected_calcium_is_marked(labs):
    ca = labs.filter(pl.col("test") == "CA").sort("row")
    assert ca["ca_corrected"].to_list() == [True, True, False, False, True]


def test_findings_of_the_site(result):
    codes = sorted({f.rule for f in result.findings})
    assert codes == ["LAB002", "LAB009", "LAB101"]
    assert [f.where for f in result.findings if f.rule == "LAB009"] == ["Labs!D36"]
