"""CTCAE v5.0 lab grading: boundary tables for every term, then the frame-level behaviour.

Each block is one criteria record (CTCAE term, test, direction) with the verbatim CTCAE v5.0
grade text above it and rows `case id, value, expected grade, comment`. Defaults (LLN, ULN,
baseline, unit) are set per block; a row may override them. Expected grades are written by hand
from the CTCAE text, never computed from criteria.toml. Values, limits and baseline are in the
block's unit: the catalogue's si_unit by default, or one of the other units CTCAE prints for the
term (mg/dL, g/dL, /mm3 ...): those blocks pin that a result entered in a printed unit is graded
on the figures printed in that unit (calcium 13.6 mg/dL is grade 4 although 13.6 x 0.2495 =
3.39 mmol/L would be grade 3).

Every block has rows exactly at each threshold, just beyond and just inside it (a meta-test
checks this against criteria.toml), a missing value, a missing LLN/ULN where one is needed, and
abnormal-baseline rows for the baseline-relative terms.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import polars as pl
import pytest

from monitor.ctcae.criteria import load_criteria
from monitor.ctcae.grade import (
    BP_OUTPUT_SCHEMA, OUTPUT_SCHEMA, REL_TOL, grade_bp, grade_labs, grade_row, grade_value,
)
from monitor.ctcae.printed import graded_unit
from monitor.ctcae.terms import load_terms
from monitor.labs.catalogue import load_catalogue

MISSING = object()   # "leave the block default"


@dataclass(frozen=True)
class Case:
    id: str
    test: str
    direction: str
    term: str
    value: float | None
    expected: int | None
    lln: float | None
    uln: float | None
    baseline: float | None
    text: str | None
    anticoag: bool | None
    comment: str
    unit: str | None = None      # None: the test's SI unit
    qualifier: str | None = None


@dataclass
class Block:
    test: str
    direction: str
    term: str
    lln: float | None = None
    uln: float | None = None
    baseline: float | None = None
    unit: str | None = None
    rows: list = field(default_factory=list)


BLOCKS: list[Block] = []


def block(test, direction, term, *, lln=None, uln=None, baseline=None, unit=None):
    b = Block(test, direction, term, lln, uln, baseline, unit)
    BLOCKS.append(b)
    return b


def R(b: Block, cid: str, value, expected, comment: str = "", *, lln=MISSING, uln=MISSING,
      baseline=MISSING, text=None, anticoag=None, unit=MISSING, qualifier=None):
    b.rows.append(Case(cid, b.test, b.direction, b.term, value, expected,
                       b.lln if lln is MISSING else lln, b.uln if uln is MISSING else uln,
                       b.baseline if baseline is MISSING else baseline, text, anticoag, comment,
                       b.unit if unit is MISSING else unit, qualifier))


# ================================================================================ blood counts

# Anemia -- G1 "Hemoglobin (Hgb) <LLN - 10.0 g/dL; <LLN - 6.2 mmol/L; <LLN - 100 g/L"
#           G2 "Hgb <10.0 - 8.0 g/dL; <6.2 - 4.9 mmol/L; <100 - 80g/L"
#           G3 "Hgb <8.0 g/dL; <4.9 mmol/L; <80 g/L; transfusion indicated"  (G4/G5 clinical)
b = block("HGB", "low", "Anemia", lln=120.0, uln=160.0)
R(b, "anemia-01", 121.0, 0)
R(b, "anemia-02", 120.0, 0, "exactly LLN is not <LLN")
R(b, "anemia-03", 119.9, 1)
R(b, "anemia-04", 100.0, 1, "exactly 100 g/L: '<100' starts grade 2")
R(b, "anemia-05", 99.9, 2)
R(b, "anemia-05b", 101.0, 1, "just above 100 g/L, below LLN")
R(b, "anemia-06", 80.0, 2, "exactly 80 g/L stays grade 2")
R(b, "anemia-06a", 80.4, 2)
R(b, "anemia-07", 79.9, 3)
R(b, "anemia-08", 45.0, 3, "grade 4 is clinical: the lowest values stay grade 3")
R(b, "anemia-09", None, None, "missing value")
R(b, "anemia-10", 110.0, None, "missing LLN: grade 1 or 0 cannot be told", lln=None)
R(b, "anemia-11", 95.0, 2, "missing LLN but <100 g/L: grade 2 needs no LLN", lln=None)
R(b, "anemia-12", 98.0, 2, "above a low site LLN (95) but <100 g/L: grade 2", lln=95.0)
R(b, "anemia-13", 6.2 * 16.11, 2, "6.2 mmol/L x 16.11 = 99.88 g/L: grade 2 on the g/L scale "
  "(CTCAE's mmol/L wording would say grade 1; documented)")
R(b, "anemia-14", 10.0 * 10.0, 1, "10.0 g/dL = 100 g/L: grade 1")

# Hemoglobin increased -- G1 "Increase in >0 - 2 g/dL"  G2 "Increase in >2 - 4 g/dL"
#                         G3 "Increase in >4 g/dL"   (measured above ULN, or above an abnormal baseline)
b = block("HGB", "high", "Hemoglobin increased", lln=120.0, uln=160.0)
R(b, "hgbinc-01", 160.0, 0, "exactly ULN: no increase")
R(b, "hgbinc-02", 160.1, 1)
R(b, "hgbinc-03", 180.0, 1, "ULN + 2 g/dL exactly: '>2' starts grade 2")
R(b, "hgbinc-03b", 179.1, 1)
R(b, "hgbinc-04", 180.1, 2)
R(b, "hgbinc-05", 200.0, 2, "ULN + 4 g/dL exactly")
R(b, "hgbinc-05b", 199.0, 2)
R(b, "hgbinc-06", 200.1, 3)
R(b, "hgbinc-07", 130.0, 0)
R(b, "hgbinc-07b", 159.9, 0, "just below ULN")
R(b, "hgbinc-08", None, None, "missing value")
R(b, "hgbinc-09", 170.0, None, "missing ULN", uln=None)
R(b, "hgbinc-10", 175.0, 1, "normal baseline (150): increase measured from the ULN", baseline=150.0)
R(b, "hgbinc-11", 170.0, 0, "abnormal baseline 170 (>ULN): no increase over baseline", baseline=170.0)
R(b, "hgbinc-11b", 169.2, 0, baseline=170.0)
R(b, "hgbinc-12", 170.1, 1, "abnormal baseline: just above baseline", baseline=170.0)
R(b, "hgbinc-13", 190.0, 1, "abnormal baseline + 2 g/dL exactly", baseline=170.0)
R(b, "hgbinc-13b", 189.1, 1, baseline=170.0)
R(b, "hgbinc-14", 190.1, 2, baseline=170.0)
R(b, "hgbinc-15", 210.0, 2, "abnormal baseline + 4 g/dL exactly", baseline=170.0)
R(b, "hgbinc-15b", 208.9, 2, baseline=170.0)
R(b, "hgbinc-16", 210.1, 3, baseline=170.0)
R(b, "hgbinc-17", 165.0, 0, "above ULN but below an abnormal baseline: no increase", baseline=170.0)
R(b, "hgbinc-18", 175.0, None, "baseline given but ULN missing: baseline status unknown",
  baseline=170.0, uln=None)
R(b, "hgbinc-19", 165.0, 1, "baseline 0 is not a baseline: ULN decides", baseline=0.0)

# White blood cell decreased -- G1 "<LLN - 3000/mm3; <LLN - 3.0 x 10e9 /L"  G2 "<3000 - 2000/mm3; ..."
#   G3 "<2000 - 1000/mm3; <2.0 - 1.0 x 10e9 /L"  G4 "<1000/mm3; <1.0 x 10e9 /L"
b = block("WBC", "low", "White blood cell decreased", lln=4.0, uln=10.0)
R(b, "wbcdec-01", 4.0, 0, "exactly LLN")
R(b, "wbcdec-01b", 4.01, 0, "just above LLN")
R(b, "wbcdec-02", 3.99, 1)
R(b, "wbcdec-03", 3.0, 1, "exactly 3.0: '<3.0' starts grade 2")
R(b, "wbcdec-03a", 3.015, 1)
R(b, "wbcdec-04", 2.99, 2)
R(b, "wbcdec-05", 2.0, 2)
R(b, "wbcdec-05a", 2.01, 2)
R(b, "wbcdec-06", 1.99, 3)
R(b, "wbcdec-07", 1.0, 3)
R(b, "wbcdec-07a", 1.005, 3)
R(b, "wbcdec-08", 0.99, 4)
R(b, "wbcdec-09", 0.0, 4, "zero count")
R(b, "wbcdec-10", None, None, "missing value")
R(b, "wbcdec-11", 3.5, None, "missing LLN", lln=None)
R(b, "wbcdec-12", 2.5, 2, "missing LLN, <3.0: grade 2", lln=None)
R(b, "wbcdec-13", 2.9, 2, "above a low site LLN (2.8) but <3.0: grade 2", lln=2.8)
R(b, "wbcdec-14", 3000 * 0.001, 1, "3000 cells/uL x 0.001: exactly 3.0 stays grade 1")

# Leukocytosis -- G3 ">100,000/mm3" (no G1/G2; G4 clinical)
b = block("WBC", "high", "Leukocytosis", lln=4.0, uln=10.0)
R(b, "leuko-01", 15.0, 0, "above ULN but v5.0 has no grade 1 or 2")
R(b, "leuko-02", 100.0, 0, "exactly 100 x 10e9/L: '>100,000' not met")
R(b, "leuko-03", 99.9, 0)
R(b, "leuko-04", 100.1, 3)
R(b, "leuko-05", 50.0, 0, "ULN not needed", uln=None)
R(b, "leuko-06", None, None, "missing value")
R(b, "leuko-07", 100000 * 0.001, 0, "100,000 cells/uL converted: still not >100")

# Lymphocyte count decreased -- G1 "<LLN - 800/mm3; <LLN - 0.8 x 10e9/L"  G2 "<800 - 500/mm3; ..."
#   G3 "<500 - 200/mm3; <0.5 - 0.2 x 10e9 /L"  G4 "<200/mm3; <0.2 x 10e9 /L"
b = block("LYM", "low", "Lymphocyte count decreased", lln=1.0, uln=4.0)
R(b, "lymdec-01", 1.0, 0, "exactly LLN")
R(b, "lymdec-01b", 1.01, 0, "just above LLN")
R(b, "lymdec-02", 0.99, 1)
R(b, "lymdec-03", 0.8, 1)
R(b, "lymdec-03a", 0.804, 1)
R(b, "lymdec-04", 0.79, 2)
R(b, "lymdec-05", 0.5, 2)
R(b, "lymdec-05a", 0.5025, 2)
R(b, "lymdec-06", 0.49, 3)
R(b, "lymdec-07", 0.2, 3)
R(b, "lymdec-07b", 0.199, 4)
R(b, "lymdec-07a", 0.201, 3)
R(b, "lymdec-08", 0.19, 4)
R(b, "lymdec-09", None, None, "missing value")
R(b, "lymdec-10", 0.9, None, "missing LLN", lln=None)
R(b, "lymdec-11", 0.7, 2, "missing LLN, <0.8: grade 2", lln=None)

# Lymphocyte count increased -- G2 ">4000/mm3 - 20,000/mm3"  G3 ">20,000/mm3"  (no G1)
b = block("LYM", "high", "Lymphocyte count increased", lln=1.0, uln=4.0)
R(b, "lyminc-01", 4.0, 0, "exactly 4000/mm3")
R(b, "lyminc-02", 3.99, 0)
R(b, "lyminc-03", 4.01, 2, "no grade 1 in v5.0: straight to grade 2")
R(b, "lyminc-04", 20.0, 2, "20,000/mm3 is the inclusive top of grade 2")
R(b, "lyminc-04b", 19.9, 2)
R(b, "lyminc-05", 20.01, 3)
R(b, "lyminc-06", 3.5, 0, "above a site ULN of 3.0 but not >4.0: grade 0", uln=3.0)
R(b, "lyminc-07", 5.0, 2, "ULN not needed", uln=None)
R(b, "lyminc-08", None, None, "missing value")

# Neutrophil count decreased -- G1 "<LLN - 1500/mm3; <LLN - 1.5 x 10e9 /L"  G2 "<1500 - 1000/mm3; ..."
#   G3 "<1000 - 500/mm3; <1.0 - 0.5 x 10e9 /L"  G4 "<500/mm3; <0.5 x 10e9 /L"
b = block("NEUT", "low", "Neutrophil count decreased", lln=1.8, uln=7.5)
R(b, "neut-01", 1.8, 0, "exactly LLN")
R(b, "neut-01b", 1.81, 0, "just above LLN")
R(b, "neut-02", 1.79, 1)
R(b, "neut-03", 1.5, 1)
R(b, "neut-03a", 1.507, 1)
R(b, "neut-04", 1.49, 2)
R(b, "neut-05", 1.0, 2)
R(b, "neut-05a", 1.005, 2)
R(b, "neut-06", 0.99, 3)
R(b, "neut-07", 0.5, 3)
R(b, "neut-07a", 0.5025, 3)
R(b, "neut-08", 0.49, 4)
R(b, "neut-09", None, None, "missing value")
R(b, "neut-10", 1.6, None, "missing LLN", lln=None)
R(b, "neut-11", 1.2, 2, "missing LLN, <1.5: grade 2", lln=None)
R(b, "neut-12", 1.45, 2, "above a low site LLN (1.4) but <1.5: grade 2", lln=1.4)
R(b, "neut-13", 1500 * 0.001, 1, "1500 cells/uL converted: exactly 1.5 stays grade 1")

# Platelet count decreased -- G1 "<LLN - 75,000/mm3; <LLN - 75.0 x 10e9 /L"
#   G2 "<75,000 - 50,000/mm3; ..."  G3 "<50,000 - 25,000/mm3; ..."  G4 "<25,000/mm3; <25.0 x 10e9 /L"
b = block("PLAT", "low", "Platelet count decreased", lln=150.0, uln=400.0)
R(b, "plat-01", 150.0, 0, "exactly LLN")
R(b, "plat-01b", 151.0, 0, "just above LLN")
R(b, "plat-02", 149.0, 1)
R(b, "plat-03", 75.0, 1)
R(b, "plat-03a", 75.37, 1)
R(b, "plat-04", 74.9, 2)
R(b, "plat-05", 50.0, 2)
R(b, "plat-05a", 50.25, 2)
R(b, "plat-06", 49.9, 3)
R(b, "plat-07", 25.0, 3)
R(b, "plat-07a", 25.12, 3)
R(b, "plat-08", 24.9, 4)
R(b, "plat-09", None, None, "missing value")
R(b, "plat-10", 100.0, None, "missing LLN", lln=None)
R(b, "plat-11", 20.0, 4, "missing LLN, <25: grade 4", lln=None)
R(b, "plat-12", 75000 * 0.001, 1, "75,000/uL converted: exactly 75.0 stays grade 1")

# CD4 lymphocytes decreased -- G1 "<LLN - 500/mm3; <LLN - 0.5 x 10e9 /L"  G2 "<500 - 200/mm3; ..."
#   G3 "<200 - 50/mm3; <0.2 x 0.05 - 10e9 /L" (sic)  G4 "<50/mm3; <0.05 x 10e9 /L"
b = block("CD4", "low", "CD4 lymphocytes decreased", lln=0.6, uln=1.6)
R(b, "cd4-01", 0.6, 0, "exactly LLN")
R(b, "cd4-01b", 0.61, 0, "just above LLN")
R(b, "cd4-02", 0.59, 1)
R(b, "cd4-03", 0.5, 1)
R(b, "cd4-03a", 0.5025, 1)
R(b, "cd4-04", 0.49, 2)
R(b, "cd4-05", 0.2, 2)
R(b, "cd4-05b", 0.199, 3)
R(b, "cd4-05a", 0.201, 2)
R(b, "cd4-06", 0.19, 3, "garbled SI text; /mm3 wording '<200 - 50' used")
R(b, "cd4-07", 0.05, 3)
R(b, "cd4-07a", 0.05025, 3)
R(b, "cd4-08", 0.049, 4)
R(b, "cd4-09", None, None, "missing value")
R(b, "cd4-10", 0.55, None, "missing LLN", lln=None)
R(b, "cd4-11", 0.3, 2, "missing LLN, <0.5: grade 2", lln=None)

# ================================================================================ liver
# ALT / AST increased -- G1 ">ULN - 3.0 x ULN if baseline was normal; 1.5 - 3.0 x baseline if baseline was abnormal"
#   G2 ">3.0 - 5.0 x ULN ...; >3.0 - 5.0 x baseline ..."  G3 ">5.0 - 20.0 x ..."  G4 ">20.0 x ..."
b = block("ALT", "high", "Alanine aminotransferase increased", lln=7.0, uln=40.0)
R(b, "alt-01", 40.0, 0, "exactly ULN")
R(b, "alt-01b", 39.9, 0, "just below ULN")
R(b, "alt-02", 40.1, 1)
R(b, "alt-03", 120.0, 1, "exactly 3.0 x ULN: grade 1 ('>3.0' starts grade 2)")
R(b, "alt-03b", 119.4, 1)
R(b, "alt-04", 120.1, 2)
R(b, "alt-05", 200.0, 2, "exactly 5.0 x ULN")
R(b, "alt-05b", 199.0, 2)
R(b, "alt-06", 200.1, 3)
R(b, "alt-07", 800.0, 3, "exactly 20.0 x ULN")
R(b, "alt-07b", 796.0, 3)
R(b, "alt-08", 800.1, 4)
R(b, "alt-09", 5.0, 0, "below LLN: no low term for ALT")
R(b, "alt-10", None, None, "missing value")
R(b, "alt-11", 50.0, None, "missing ULN", uln=None)
R(b, "alt-12", 130.0, 2, "normal baseline (30): ULN scale", baseline=30.0)
R(b, "alt-13", 120.1, 2, "baseline exactly at ULN counts as normal", baseline=40.0)
R(b, "alt-14", 119.9, 0, "abnormal baseline 80: below 1.5 x baseline (120) is no worsening", baseline=80.0)
R(b, "alt-15", 120.0, 1, "abnormal baseline: exactly 1.5 x baseline ('1.5 - 3.0' is inclusive)", baseline=80.0)
R(b, "alt-15a", 120.6, 1, baseline=80.0)
R(b, "alt-16", 240.0, 1, "abnormal baseline: exactly 3.0 x baseline", baseline=80.0)
R(b, "alt-16b", 238.8, 1, baseline=80.0)
R(b, "alt-17", 240.1, 2, baseline=80.0)
R(b, "alt-18", 400.0, 2, "abnormal baseline: exactly 5.0 x baseline", baseline=80.0)
R(b, "alt-18b", 398.0, 2, baseline=80.0)
R(b, "alt-19", 400.1, 3, baseline=80.0)
R(b, "alt-20", 1600.0, 3, "abnormal baseline: exactly 20 x baseline", baseline=80.0)
R(b, "alt-20b", 1592.0, 3, baseline=80.0)
R(b, "alt-21", 1600.1, 4, baseline=80.0)
R(b, "alt-22", 35.0, 0, "abnormal baseline, value back within normal", baseline=80.0)
R(b, "alt-23", 100.0, None, "baseline given, ULN missing: cannot tell which scale", uln=None, baseline=60.0)
R(b, "alt-24", 130.0, 2, "baseline 0 is no baseline: ULN scale", baseline=0.0)
R(b, "alt-25", 1.74 * 60, 1, "1.74 ukat/L vs ULN 0.58 ukat/L (x60): exactly 3.0 x ULN; float noise "
  "(104.4 > 104.39999999999999) must not make it grade 2", uln=0.58 * 60)
R(b, "alt-26", None, None, "missing value with abnormal baseline", baseline=80.0)

b = block("AST", "high", "Aspartate aminotransferase increased", lln=10.0, uln=35.0)
R(b, "ast-01", 35.0, 0, "exactly ULN")
R(b, "ast-01b", 34.9, 0, "just below ULN")
R(b, "ast-02", 35.1, 1)
R(b, "ast-03", 105.0, 1, "exactly 3.0 x ULN")
R(b, "ast-03b", 104.5, 1)
R(b, "ast-04", 105.1, 2)
R(b, "ast-05", 175.0, 2, "exactly 5.0 x ULN")
R(b, "ast-05b", 174.1, 2)
R(b, "ast-06", 175.1, 3)
R(b, "ast-07", 700.0, 3, "exactly 20.0 x ULN")
R(b, "ast-07b", 696.5, 3)
R(b, "ast-08", 700.1, 4)
R(b, "ast-09", None, None, "missing value")
R(b, "ast-10", 40.0, None, "missing ULN", uln=None)
R(b, "ast-11", 74.9, 0, "abnormal baseline 50: below 1.5 x baseline", baseline=50.0)
R(b, "ast-12", 75.0, 1, "abnormal baseline: exactly 1.5 x baseline (inclusive)", baseline=50.0)
R(b, "ast-12a", 75.37, 1, baseline=50.0)
R(b, "ast-13", 150.0, 1, "abnormal baseline: exactly 3.0 x baseline", baseline=50.0)
R(b, "ast-13b", 149.2, 1, baseline=50.0)
R(b, "ast-14", 150.1, 2, baseline=50.0)
R(b, "ast-15", 250.0, 2, baseline=50.0)
R(b, "ast-15b", 248.8, 2, baseline=50.0)
R(b, "ast-16", 250.1, 3, baseline=50.0)
R(b, "ast-17", 1000.0, 3, baseline=50.0)
R(b, "ast-17b", 995.0, 3, baseline=50.0)
R(b, "ast-18", 1000.1, 4, baseline=50.0)
R(b, "ast-19", 106.0, 2, "normal baseline 20: ULN scale", baseline=20.0)

# ALP / GGT increased -- G1 ">ULN - 2.5 x ULN if baseline was normal; 2.0 - 2.5 x baseline if baseline was abnormal"
#   G2 ">2.5 - 5.0 x ULN ...; >2.5 - 5.0 x baseline ..."  G3 ">5.0 - 20.0 x ..."  G4 ">20.0 x ..."
b = block("ALP", "high", "Alkaline phosphatase increased", lln=40.0, uln=130.0)
R(b, "alp-01", 130.0, 0, "exactly ULN")
R(b, "alp-01b", 129.9, 0, "just below ULN")
R(b, "alp-02", 130.1, 1)
R(b, "alp-03", 325.0, 1, "exactly 2.5 x ULN")
R(b, "alp-03b", 323.4, 1)
R(b, "alp-04", 325.1, 2)
R(b, "alp-05", 650.0, 2, "exactly 5.0 x ULN")
R(b, "alp-05b", 646.8, 2)
R(b, "alp-06", 650.1, 3)
R(b, "alp-07", 2600.0, 3, "exactly 20.0 x ULN")
R(b, "alp-07b", 2587.0, 3)
R(b, "alp-08", 2600.1, 4)
R(b, "alp-09", None, None, "missing value")
R(b, "alp-10", 140.0, None, "missing ULN", uln=None)
R(b, "alp-11", 399.9, 0, "abnormal baseline 200: below 2.0 x baseline is no worsening", baseline=200.0)
R(b, "alp-12", 400.0, 1, "abnormal baseline: exactly 2.0 x baseline ('2.0 - 2.5' inclusive)", baseline=200.0)
R(b, "alp-12a", 402.0, 1, baseline=200.0)
R(b, "alp-13", 500.0, 1, "abnormal baseline: exactly 2.5 x baseline", baseline=200.0)
R(b, "alp-13b", 497.5, 1, baseline=200.0)
R(b, "alp-14", 500.1, 2, baseline=200.0)
R(b, "alp-15", 1000.0, 2, baseline=200.0)
R(b, "alp-15b", 995.0, 2, baseline=200.0)
R(b, "alp-16", 1000.1, 3, baseline=200.0)
R(b, "alp-17", 4000.0, 3, baseline=200.0)
R(b, "alp-17b", 3980.0, 3, baseline=200.0)
R(b, "alp-18", 4000.1, 4, baseline=200.0)
R(b, "alp-19", 300.0, 1, "normal baseline 100: ULN scale", baseline=100.0)

b = block("GGT", "high", "GGT increased", lln=8.0, uln=60.0)
R(b, "ggt-01", 60.0, 0, "exactly ULN")
R(b, "ggt-01b", 59.9, 0, "just below ULN")
R(b, "ggt-02", 60.1, 1)
R(b, "ggt-03", 150.0, 1, "exactly 2.5 x ULN")
R(b, "ggt-03b", 149.2, 1)
R(b, "ggt-04", 150.1, 2)
R(b, "ggt-05", 300.0, 2)
R(b, "ggt-05b", 298.5, 2)
R(b, "ggt-06", 300.1, 3)
R(b, "ggt-07", 1200.0, 3)
R(b, "ggt-07b", 1194.0, 3)
R(b, "ggt-08", 1200.1, 4)
R(b, "ggt-09", None, None, "missing value")
R(b, "ggt-10", 70.0, None, "missing ULN", uln=None)
R(b, "ggt-11", 199.9, 0, "abnormal baseline 100: below 2.0 x baseline", baseline=100.0)
R(b, "ggt-12", 200.0, 1, "abnormal baseline: exactly 2.0 x baseline (inclusive)", baseline=100.0)
R(b, "ggt-12a", 201.0, 1, baseline=100.0)
R(b, "ggt-13", 250.0, 1, baseline=100.0)
R(b, "ggt-13b", 248.8, 1, baseline=100.0)
R(b, "ggt-14", 250.1, 2, baseline=100.0)
R(b, "ggt-15", 500.0, 2, baseline=100.0)
R(b, "ggt-15b", 497.5, 2, baseline=100.0)
R(b, "ggt-16", 500.1, 3, baseline=100.0)
R(b, "ggt-17", 2000.0, 3, baseline=100.0)
R(b, "ggt-17b", 1990.0, 3, baseline=100.0)
R(b, "ggt-18", 2000.1, 4, baseline=100.0)

# Blood bilirubin increased -- G1 ">ULN - 1.5 x ULN if baseline was normal; > 1.0 - 1.5 x baseline if baseline was abnormal"
#   G2 ">1.5 - 3.0 x ULN ...; >1.5 - 3.0 x baseline ..."  G3 ">3.0 - 10.0 x ..."  G4 ">10.0 x ..."
b = block("BILI", "high", "Blood bilirubin increased", lln=3.0, uln=20.0)
R(b, "bili-01", 20.0, 0, "exactly ULN")
R(b, "bili-01b", 19.9, 0, "just below ULN")
R(b, "bili-02", 20.1, 1)
R(b, "bili-03", 30.0, 1, "exactly 1.5 x ULN")
R(b, "bili-03b", 29.85, 1)
R(b, "bili-04", 30.1, 2)
R(b, "bili-05", 60.0, 2, "exactly 3.0 x ULN")
R(b, "bili-05b", 59.7, 2)
R(b, "bili-06", 60.1, 3)
R(b, "bili-07", 200.0, 3, "exactly 10.0 x ULN")
R(b, "bili-07b", 199.0, 3)
R(b, "bili-08", 200.1, 4)
R(b, "bili-09", None, None, "missing value")
R(b, "bili-10", 25.0, None, "missing ULN", uln=None)
R(b, "bili-11", 30.0, 0, "abnormal baseline 30: no rise", baseline=30.0)
R(b, "bili-11b", 29.85, 0, baseline=30.0)
R(b, "bili-12", 30.1, 1, "abnormal baseline: any rise ('> 1.0 x baseline')", baseline=30.0)
R(b, "bili-13", 45.0, 1, "abnormal baseline: exactly 1.5 x baseline", baseline=30.0)
R(b, "bili-13b", 44.77, 1, baseline=30.0)
R(b, "bili-14", 45.1, 2, baseline=30.0)
R(b, "bili-15", 90.0, 2, baseline=30.0)
R(b, "bili-15b", 89.55, 2, baseline=30.0)
R(b, "bili-16", 90.1, 3, baseline=30.0)
R(b, "bili-17", 300.0, 3, baseline=30.0)
R(b, "bili-17b", 298.5, 3, baseline=30.0)
R(b, "bili-18", 300.1, 4, baseline=30.0)
R(b, "bili-19", 1.8 * 17.1, 1, "1.8 mg/dL vs ULN 1.2 mg/dL (x17.1): exactly 1.5 x ULN despite float noise",
  uln=1.2 * 17.1)

# ================================================================================ kidney, pancreas, muscle
# Creatinine increased -- G1 ">ULN - 1.5 x ULN"  G2 ">1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN"
#   G3 ">3.0 x baseline; >3.0 - 6.0 x ULN"  G4 ">6.0 x ULN"
b = block("CREAT", "high", "Creatinine increased", lln=60.0, uln=100.0)
R(b, "creat-01", 100.0, 0, "exactly ULN, no baseline")
R(b, "creat-01b", 99.9, 0, "just below ULN")
R(b, "creat-02", 100.1, 1)
R(b, "creat-03", 150.0, 1, "exactly 1.5 x ULN")
R(b, "creat-03b", 149.2, 1)
R(b, "creat-04", 150.1, 2)
R(b, "creat-05", 300.0, 2, "exactly 3.0 x ULN")
R(b, "creat-05b", 298.5, 2)
R(b, "creat-06", 300.1, 3)
R(b, "creat-07", 600.0, 3, "exactly 6.0 x ULN")
R(b, "creat-07b", 597.0, 3)
R(b, "creat-08", 600.1, 4)
R(b, "creat-09", None, None, "missing value")
R(b, "creat-10", 120.0, None, "missing ULN", uln=None)
R(b, "creat-11", 90.0, 0, "baseline 60: exactly 1.5 x baseline, within range", baseline=60.0)
R(b, "creat-11b", 89.55, 0, baseline=60.0)
R(b, "creat-12", 90.1, 2, "baseline 60: >1.5 x baseline though below ULN: grade 2 (literal text)", baseline=60.0)
R(b, "creat-13", 180.0, 2, "baseline 60: exactly 3.0 x baseline", baseline=60.0)
R(b, "creat-13b", 179.1, 2, baseline=60.0)
R(b, "creat-14", 180.1, 3, "baseline 60: >3.0 x baseline (1.8 x ULN would be grade 2)", baseline=60.0)
R(b, "creat-15", 170.0, 2, "baseline 120 (abnormal): ULN 1.7 x decides, 1.42 x baseline", baseline=120.0)
R(b, "creat-16", 200.0, None, "baseline 60 gives >= grade 3 but grade 4 needs the ULN", uln=None, baseline=60.0)
R(b, "creat-17", 130.0, 1, "baseline 0 is skipped", baseline=0.0)
R(b, "creat-18", 1.05 * 88.42, 1, "1.05 mg/dL vs ULN 0.7 mg/dL (x88.42): exactly 1.5 x ULN despite float noise",
  uln=0.7 * 88.42)

# Serum amylase / Lipase increased -- G1 ">ULN - 1.5 x ULN"  G2 ">1.5 - 2.0 x ULN; >2.0 - 5.0 x ULN and asymptomatic"
#   G3 ">2.0 - 5.0 x ULN with signs or symptoms; >5.0 x ULN and asymptomatic"  G4 ">5.0 x ULN and with signs or symptoms"
b = block("AMYLASE", "high", "Serum amylase increased", lln=28.0, uln=100.0)
R(b, "amy-01", 100.0, 0, "exactly ULN")
R(b, "amy-01b", 99.9, 0, "just below ULN")
R(b, "amy-02", 100.1, 1)
R(b, "amy-03", 150.0, 1, "exactly 1.5 x ULN")
R(b, "amy-03b", 149.2, 1)
R(b, "amy-04", 150.1, 2)
R(b, "amy-05", 200.1, 2, ">2.0 x ULN: asymptomatic reading keeps grade 2")
R(b, "amy-06", 500.0, 2, "exactly 5.0 x ULN")
R(b, "amy-06b", 497.5, 2)
R(b, "amy-07", 500.1, 3, ">5.0 x ULN and asymptomatic")
R(b, "amy-08", 2000.0, 3, "grade 4 needs signs or symptoms")
R(b, "amy-09", None, None, "missing value")
R(b, "amy-10", 50.0, None, "missing ULN", uln=None)

b = block("LIPASE", "high", "Lipase increased", lln=13.0, uln=60.0)
R(b, "lip-01", 60.0, 0, "exactly ULN")
R(b, "lip-01b", 59.9, 0, "just below ULN")
R(b, "lip-02", 60.1, 1)
R(b, "lip-03", 90.0, 1, "exactly 1.5 x ULN")
R(b, "lip-03b", 89.55, 1)
R(b, "lip-04", 90.1, 2)
R(b, "lip-05", 300.0, 2, "exactly 5.0 x ULN")
R(b, "lip-05b", 298.5, 2)
R(b, "lip-06", 300.1, 3)
R(b, "lip-07", None, None, "missing value")
R(b, "lip-08", 70.0, None, "missing ULN", uln=None)

# CPK increased -- G1 ">ULN - 2.5 x ULN"  G2 ">2.5 x ULN - 5 x ULN"  G3 ">5 x ULN - 10 x ULN"  G4 ">10 x ULN"
b = block("CK", "high", "CPK increased", lln=30.0, uln=200.0)
R(b, "ck-01", 200.0, 0)
R(b, "ck-01b", 199.9, 0, "just below ULN")
R(b, "ck-02", 200.1, 1)
R(b, "ck-03", 500.0, 1)
R(b, "ck-03b", 497.5, 1)
R(b, "ck-04", 500.1, 2)
R(b, "ck-05", 1000.0, 2)
R(b, "ck-05b", 995.0, 2)
R(b, "ck-06", 1000.1, 3)
R(b, "ck-07", 2000.0, 3)
R(b, "ck-07b", 1990.0, 3)
R(b, "ck-08", 2000.1, 4)
R(b, "ck-09", None, None, "missing value")
R(b, "ck-10", 250.0, None, "missing ULN", uln=None)

# ================================================================================ coagulation
# Activated partial thromboplastin time prolonged -- G1 ">ULN - 1.5 x ULN"  G2 ">1.5 - 2.5 x ULN"  G3 ">2.5 x ULN; bleeding"
b = block("APTT", "high", "Activated partial thromboplastin time prolonged", lln=25.0, uln=35.0)
R(b, "aptt-01", 35.0, 0)
R(b, "aptt-01b", 34.9, 0, "just below ULN")
R(b, "aptt-02", 35.1, 1)
R(b, "aptt-03", 52.5, 1, "exactly 1.5 x ULN")
R(b, "aptt-03b", 52.24, 1)
R(b, "aptt-04", 52.6, 2)
R(b, "aptt-05", 87.5, 2, "exactly 2.5 x ULN")
R(b, "aptt-05b", 87.06, 2)
R(b, "aptt-06", 87.6, 3)
R(b, "aptt-07", None, None, "missing value")
R(b, "aptt-08", 40.0, None, "missing ULN", uln=None)

# INR increased -- G1 ">1.2 - 1.5; >1 - 1.5 x baseline if on anticoagulation; monitoring only indicated"
#   G2 ">1.5 - 2.5; >1.5 - 2.5 x baseline if on anticoagulation; dose adjustment indicated"
#   G3 ">2.5; >2.5 x baseline if on anticoagulation; bleeding"
b = block("INR", "high", "INR increased", lln=0.8, uln=1.2)
R(b, "inr-01", 1.2, 0, "exactly 1.2")
R(b, "inr-01b", 1.19, 0)
R(b, "inr-02", 1.21, 1)
R(b, "inr-03", 1.5, 1)
R(b, "inr-03b", 1.492, 1)
R(b, "inr-04", 1.51, 2)
R(b, "inr-05", 2.5, 2)
R(b, "inr-05b", 2.487, 2)
R(b, "inr-06", 2.51, 3)
R(b, "inr-07", None, None, "missing value")
R(b, "inr-08", 1.3, 1, "absolute thresholds: no ULN needed", uln=None)
R(b, "inr-09", 1.3, 1, "site ULN 1.4 is ignored: >1.2 is grade 1", uln=1.4)
R(b, "inr-10", 2.0, 0, "anticoagulated, baseline 2.0: no rise", baseline=2.0, anticoag=True)
R(b, "inr-10b", 1.99, 0, baseline=2.0, anticoag=True)
R(b, "inr-11", 2.01, 1, "anticoagulated: just above 1 x baseline", baseline=2.0, anticoag=True)
R(b, "inr-12", 3.0, 1, "anticoagulated: exactly 1.5 x baseline", baseline=2.0, anticoag=True)
R(b, "inr-12b", 2.985, 1, baseline=2.0, anticoag=True)
R(b, "inr-13", 3.01, 2, baseline=2.0, anticoag=True)
R(b, "inr-14", 5.0, 2, "anticoagulated: exactly 2.5 x baseline", baseline=2.0, anticoag=True)
R(b, "inr-14b", 4.975, 2, baseline=2.0, anticoag=True)
R(b, "inr-15", 5.01, 3, baseline=2.0, anticoag=True)
R(b, "inr-16", 3.0, None, "anticoagulated without a baseline: cannot grade", anticoag=True)
R(b, "inr-17", 2.6, 3, "not anticoagulated: baseline ignored, absolute >2.5", baseline=2.0, anticoag=False)
R(b, "inr-18", 1.3, 1, "anticoagulation flag null counts as not anticoagulated", anticoag=None)

# Fibrinogen decreased -- G1 "<1.0 - 0.75 x LLN; if abnormal, <25% decrease from baseline"
#   G2 "<0.75 - 0.5 x LLN; if abnormal, 25 - <50% decrease from baseline"
#   G3 "<0.5 - 0.25 x LLN; if abnormal, 50 - <75% decrease from baseline"
#   G4 "<0.25 x LLN; if abnormal, 75% decrease from baseline; absolute value <50 mg/dL"
b = block("FIBRINO", "low", "Fibrinogen decreased", lln=2.0, uln=4.0)
R(b, "fib-01", 2.0, 0, "exactly LLN")
R(b, "fib-01b", 2.01, 0, "just above LLN")
R(b, "fib-02", 1.99, 1)
R(b, "fib-03", 1.5, 1, "exactly 0.75 x LLN")
R(b, "fib-03a", 1.507, 1)
R(b, "fib-04", 1.49, 2)
R(b, "fib-05", 1.0, 2, "exactly 0.5 x LLN")
R(b, "fib-05a", 1.005, 2)
R(b, "fib-06", 0.99, 3)
R(b, "fib-07", 0.5, 3, "exactly 0.25 x LLN = 0.5 g/L: neither '<0.25 x LLN' nor '<50 mg/dL'")
R(b, "fib-07a", 0.5025, 3)
R(b, "fib-08", 0.49, 4)
R(b, "fib-09", None, None, "missing value")
R(b, "fib-10", 1.2, None, "missing LLN", lln=None)
R(b, "fib-11", 0.4, 4, "missing LLN but <50 mg/dL: grade 4", lln=None)
R(b, "fib-12", 0.45, 4, "0.45 x a 1.0 LLN is grade 3, but <0.5 g/L absolute is grade 4", lln=1.0)
R(b, "fib-13", 1.4, 2, "normal baseline 3.0: LLN scale (53% decrease not used)", baseline=3.0)
R(b, "fib-14", 3.2, 0, "abnormal baseline 3.2 (LLN 4.0): no decrease is grade 0 though <LLN",
  lln=4.0, baseline=3.2)
R(b, "fib-14a", 3.216, 0, baseline=3.2, lln=4.0)
R(b, "fib-15", 3.19, 1, "abnormal baseline: any decrease (<25%)", lln=4.0, baseline=3.2)
R(b, "fib-16", 2.41, 1, "abnormal baseline: 24.7% decrease", lln=4.0, baseline=3.2)
R(b, "fib-17", 2.4, 2, "abnormal baseline: exactly 25% decrease ('25 - <50%')", lln=4.0, baseline=3.2)
R(b, "fib-17b", 2.388, 2, baseline=3.2, lln=4.0)
R(b, "fib-18", 1.61, 2, lln=4.0, baseline=3.2)
R(b, "fib-19", 1.6, 3, "abnormal baseline: exactly 50% decrease", lln=4.0, baseline=3.2)
R(b, "fib-19b", 1.592, 3, baseline=3.2, lln=4.0)
R(b, "fib-20", 0.81, 3, lln=4.0, baseline=3.2)
R(b, "fib-21", 0.8, 4, "abnormal baseline: exactly 75% decrease", lln=4.0, baseline=3.2)
R(b, "fib-21b", 0.796, 4, baseline=3.2, lln=4.0)
R(b, "fib-22", 1.0, None, "baseline given, LLN missing: baseline status unknown", lln=None, baseline=1.5)

# Haptoglobin decreased -- G1 "<LLN"
b = block("HAPT", "low", "Haptoglobin decreased", lln=0.3, uln=2.0)
R(b, "hapt-01", 0.3, 0, "exactly LLN")
R(b, "hapt-02", 0.29, 1)
R(b, "hapt-02b", 0.295, 1, "just below LLN")
R(b, "hapt-02c", 0.305, 0, "just above LLN")
R(b, "hapt-03", 0.01, 1, "only grade 1 exists")
R(b, "hapt-04", None, None, "missing value")
R(b, "hapt-05", 0.2, None, "missing LLN", lln=None)

# ================================================================================ chemistry
# Hypoalbuminemia -- G1 "<LLN - 3 g/dL; <LLN - 30 g/L"  G2 "<3 - 2 g/dL; <30 - 20 g/L"  G3 "<2 g/dL; <20 g/L"
b = block("ALB", "low", "Hypoalbuminemia", lln=35.0, uln=50.0)
R(b, "alb-01", 35.0, 0, "exactly LLN")
R(b, "alb-01b", 35.1, 0, "just above LLN")
R(b, "alb-02", 34.9, 1)
R(b, "alb-03", 30.0, 1)
R(b, "alb-03a", 30.15, 1)
R(b, "alb-04", 29.9, 2)
R(b, "alb-05", 20.0, 2)
R(b, "alb-05a", 20.1, 2)
R(b, "alb-06", 19.9, 3)
R(b, "alb-07", None, None, "missing value")
R(b, "alb-08", 32.0, None, "missing LLN", lln=None)
R(b, "alb-09", 25.0, 2, "missing LLN, <30 g/L: grade 2", lln=None)
R(b, "alb-10", 3.0 * 10.0, 1, "3 g/dL converted: exactly 30 g/L stays grade 1")

# Cholesterol high -- G1 ">ULN - 300 mg/dL; >ULN - 7.75 mmol/L"  G2 ">300 - 400 mg/dL; >7.75 - 10.34 mmol/L"
#   G3 ">400 - 500 mg/dL; >10.34 - 12.92 mmol/L"  G4 ">500 mg/dL; >12.92 mmol/L"
b = block("CHOL", "high", "Cholesterol high", lln=None, uln=5.2)
R(b, "chol-01", 5.2, 0, "exactly ULN")
R(b, "chol-01b", 5.19, 0, "just below ULN")
R(b, "chol-02", 5.21, 1)
R(b, "chol-03", 7.75, 1)
R(b, "chol-03b", 7.711, 1)
R(b, "chol-04", 7.76, 2)
R(b, "chol-05", 10.34, 2)
R(b, "chol-05b", 10.29, 2)
R(b, "chol-06", 10.35, 3)
R(b, "chol-07", 12.92, 3)
R(b, "chol-07b", 12.86, 3)
R(b, "chol-08", 12.93, 4)
R(b, "chol-09", None, None, "missing value")
R(b, "chol-10", 6.0, None, "missing ULN", uln=None)
R(b, "chol-11", 8.0, 2, "missing ULN, >7.75: grade 2", uln=None)
R(b, "chol-12", 300 * 0.02586, 2, "300 mg/dL x 0.02586 = 7.758 mmol/L > 7.75: grade 2 on CTCAE's mmol/L "
  "figure (its mg/dL wording says grade 1; documented)")

# Hypertriglyceridemia -- G1 "150 mg/dL - 300 mg/dL; 1.71 mmol/L - 3.42 mmol/L"  G2 ">300 mg/dL - 500 mg/dL; >3.42 mmol/L - 5.7 mmol/L"
#   G3 ">500 mg/dL - 1000 mg/dL; >5.7 mmol/L - 11.4 mmol/L"  G4 ">1000 mg/dL; >11.4 mmol/L; life-threatening consequences"
b = block("TRIG", "high", "Hypertriglyceridemia", lln=None, uln=1.7)
R(b, "trig-01", 1.70, 0)
R(b, "trig-02", 1.71, 1, "1.71 inclusive: grade 1 starts at a fixed value, not at ULN")
R(b, "trig-02b", 1.72, 1)
R(b, "trig-03", 3.42, 1)
R(b, "trig-03b", 3.403, 1)
R(b, "trig-04", 3.43, 2)
R(b, "trig-05", 5.7, 2)
R(b, "trig-05b", 5.671, 2)
R(b, "trig-06", 5.71, 3)
R(b, "trig-07", 11.4, 3)
R(b, "trig-07b", 11.34, 3)
R(b, "trig-08", 11.41, 4)
R(b, "trig-09", None, None, "missing value")
R(b, "trig-10", 2.0, 1, "ULN not needed", uln=None)
R(b, "trig-11", 1.6, 0, "above a site ULN of 1.5 but below 1.71: grade 0", uln=1.5)
R(b, "trig-12", 150 * 0.01129, 0, "150 mg/dL x 0.01129 = 1.69 mmol/L < 1.71: grade 0 (documented)")

# Hyperuricemia -- G1 ">ULN without physiologic consequences"  G3 ">ULN with physiologic consequences"
b = block("URATE", "high", "Hyperuricemia", lln=200.0, uln=420.0)
R(b, "urate-01", 420.0, 0, "exactly ULN")
R(b, "urate-01b", 419.9, 0, "just below ULN")
R(b, "urate-02", 420.1, 1)
R(b, "urate-03", 900.0, 1, "grade 3 needs physiologic consequences")
R(b, "urate-04", None, None, "missing value")
R(b, "urate-05", 500.0, None, "missing ULN", uln=None)

# Hyperglycemia -- G1 "Abnormal glucose above baseline with no medical intervention" (G2+ treatment-based)
b = block("GLUC", "high", "Hyperglycemia", lln=3.9, uln=6.1)
R(b, "hyperglyc-01", 6.1, 0, "exactly ULN")
R(b, "hyperglyc-01b", 6.09, 0, "just below ULN")
R(b, "hyperglyc-02", 6.11, 1)
R(b, "hyperglyc-03", 30.0, 1, "grades 2-4 are treatment-based")
R(b, "hyperglyc-04", None, None, "missing value")
R(b, "hyperglyc-05", 7.0, None, "missing ULN", uln=None)
R(b, "hyperglyc-06", 6.2, 1, "normal baseline 5.0: above ULN is above baseline", baseline=5.0)
R(b, "hyperglyc-07", 8.0, 0, "abnormal baseline 8.0: not above baseline", baseline=8.0)
R(b, "hyperglyc-07b", 7.96, 0, baseline=8.0)
R(b, "hyperglyc-08", 7.0, 0, "abnormal value below an abnormal baseline", baseline=8.0)
R(b, "hyperglyc-09", 8.01, 1, "above an abnormal baseline", baseline=8.0)

# Hypoglycemia -- G1 "<LLN - 55 mg/dL; <LLN - 3.0 mmol/L"  G2 "<55 - 40 mg/dL; <3.0 - 2.2 mmol/L"
#   G3 "<40 - 30 mg/dL; <2.2 - 1.7 mmol/L"  G4 "<30 mg/dL; <1.7 mmol/L; life-threatening consequences; seizures"
b = block("GLUC", "low", "Hypoglycemia", lln=3.9, uln=6.1)
R(b, "hypoglyc-01", 3.9, 0, "exactly LLN")
R(b, "hypoglyc-01b", 3.91, 0, "just above LLN")
R(b, "hypoglyc-02", 3.89, 1)
R(b, "hypoglyc-03", 3.0, 1)
R(b, "hypoglyc-04", 2.99, 2)
R(b, "hypoglyc-05", 2.2, 2)
R(b, "hypoglyc-05a", 2.211, 2)
R(b, "hypoglyc-06", 2.19, 3)
R(b, "hypoglyc-07", 1.7, 3)
R(b, "hypoglyc-07a", 1.708, 3)
R(b, "hypoglyc-08", 1.69, 4)
R(b, "hypoglyc-09", None, None, "missing value")
R(b, "hypoglyc-10", 3.5, None, "missing LLN", lln=None)
R(b, "hypoglyc-11", 2.5, 2, "missing LLN, <3.0: grade 2", lln=None)
R(b, "hypoglyc-12", 55 * 0.05551, 1, "55 mg/dL = 3.05 mmol/L: grade 1 on both scales")

# Hypokalemia -- G1 "<LLN - 3.0 mmol/L"  G2 "Symptomatic with <LLN - 3.0 mmol/L; intervention indicated"
#   G3 "<3.0 - 2.5 mmol/L; hospitalization indicated"  G4 "<2.5 mmol/L; life-threatening consequences"
b = block("K", "low", "Hypokalemia", lln=3.5, uln=5.1)
R(b, "hypok-01", 3.5, 0, "exactly LLN")
R(b, "hypok-01b", 3.51, 0, "just above LLN")
R(b, "hypok-02", 3.49, 1)
R(b, "hypok-03", 3.0, 1, "grade 2 needs symptoms: stays grade 1")
R(b, "hypok-03a", 3.015, 1)
R(b, "hypok-04", 2.99, 3, "no value-based grade 2: straight to 3")
R(b, "hypok-05", 2.5, 3)
R(b, "hypok-05a", 2.512, 3)
R(b, "hypok-06", 2.49, 4)
R(b, "hypok-07", None, None, "missing value")
R(b, "hypok-08", 3.2, None, "missing LLN", lln=None)
R(b, "hypok-09", 2.8, 3, "missing LLN, <3.0: grade 3", lln=None)

# Hyperkalemia -- G1 ">ULN - 5.5 mmol/L"  G2 ">5.5 - 6.0 mmol/L; intervention initiated"
#   G3 ">6.0 - 7.0 mmol/L; hospitalization indicated"  G4 ">7.0 mmol/L; life-threatening consequences"
b = block("K", "high", "Hyperkalemia", lln=3.5, uln=5.1)
R(b, "hyperk-01", 5.1, 0, "exactly ULN")
R(b, "hyperk-02", 5.11, 1)
R(b, "hyperk-03", 5.5, 1)
R(b, "hyperk-04", 5.51, 2)
R(b, "hyperk-04b", 5.49, 1)
R(b, "hyperk-05", 6.0, 2)
R(b, "hyperk-05b", 5.97, 2)
R(b, "hyperk-06", 6.01, 3)
R(b, "hyperk-07", 7.0, 3)
R(b, "hyperk-07b", 6.965, 3)
R(b, "hyperk-08", 7.01, 4)
R(b, "hyperk-09", None, None, "missing value")
R(b, "hyperk-10", 5.3, None, "missing ULN", uln=None)
R(b, "hyperk-11", 6.5, 3, "missing ULN, >6.0: grade 3", uln=None)
R(b, "hyperk-12", 5.55, 2, ">5.5 though below a site ULN of 5.6: grade 2", uln=5.6)

# Hyponatremia -- G1 "<LLN - 130 mmol/L"  G2 "125-129 mmol/L and asymptomatic"
#   G3 "125-129 mmol/L symptomatic; 120-124 mmol/L regardless of symptoms"  G4 "<120 mmol/L; life-threatening consequences"
b = block("SODIUM", "low", "Hyponatremia", lln=135.0, uln=145.0)
R(b, "hypona-01", 135.0, 0, "exactly LLN")
R(b, "hypona-01b", 135.1, 0, "just above LLN")
R(b, "hypona-02", 134.9, 1)
R(b, "hypona-03", 130.0, 1, "130 is the bottom of grade 1")
R(b, "hypona-04", 129.9, 2, "between the integer ranges: read as <130")
R(b, "hypona-05", 129.0, 2)
R(b, "hypona-06", 125.0, 2, "125-129 asymptomatic reading")
R(b, "hypona-07", 124.9, 3)
R(b, "hypona-08", 120.0, 3)
R(b, "hypona-08a", 120.6, 3)
R(b, "hypona-09", 119.9, 4)
R(b, "hypona-10", None, None, "missing value")
R(b, "hypona-11", 132.0, None, "missing LLN", lln=None)
R(b, "hypona-12", 127.0, 2, "missing LLN, <130: grade 2", lln=None)

# Hypernatremia -- G1 ">ULN - 150 mmol/L"  G2 ">150 - 155 mmol/L; intervention initiated"
#   G3 ">155 - 160 mmol/L; hospitalization indicated"  G4 ">160 mmol/L; life-threatening consequences"
b = block("SODIUM", "high", "Hypernatremia", lln=135.0, uln=145.0)
R(b, "hyperna-01", 145.0, 0, "exactly ULN")
R(b, "hyperna-01b", 144.9, 0, "just below ULN")
R(b, "hyperna-02", 145.1, 1)
R(b, "hyperna-03", 150.0, 1)
R(b, "hyperna-04", 150.1, 2)
R(b, "hyperna-05", 155.0, 2)
R(b, "hyperna-05b", 154.2, 2)
R(b, "hyperna-06", 155.1, 3)
R(b, "hyperna-07", 160.0, 3)
R(b, "hyperna-08", 160.1, 4)
R(b, "hyperna-09", None, None, "missing value")
R(b, "hyperna-10", 148.0, None, "missing ULN", uln=None)
R(b, "hyperna-11", 158.0, 3, "missing ULN, >155: grade 3", uln=None)

# Hypocalcemia (total CA) -- G1 "Corrected serum calcium of <LLN - 8.0 mg/dL; <LLN - 2.0 mmol/L; Ionized calcium <LLN - 1.0 mmol/L"
#   G2 "... <8.0 - 7.0 mg/dL; <2.0 - 1.75 mmol/L; Ionized calcium <1.0 - 0.9 mmol/L; symptomatic"
#   G3 "... <7.0 - 6.0 mg/dL; <1.75 - 1.5 mmol/L; Ionized calcium <0.9 - 0.8 mmol/L; hospitalization indicated"
#   G4 "... <6.0 mg/dL; <1.5 mmol/L; Ionized calcium <0.8 mmol/L; life-threatening consequences"
b = block("CA", "low", "Hypocalcemia", lln=2.15, uln=2.55)
R(b, "hypoca-01", 2.15, 0, "exactly LLN")
R(b, "hypoca-01b", 2.16, 0, "just above LLN")
R(b, "hypoca-02", 2.14, 1)
R(b, "hypoca-03", 2.0, 1)
R(b, "hypoca-03a", 2.01, 1)
R(b, "hypoca-04", 1.99, 2)
R(b, "hypoca-05", 1.75, 2)
R(b, "hypoca-05a", 1.759, 2)
R(b, "hypoca-06", 1.74, 3)
R(b, "hypoca-07", 1.5, 3)
R(b, "hypoca-07a", 1.507, 3)
R(b, "hypoca-08", 1.49, 4)
R(b, "hypoca-09", None, None, "missing value")
R(b, "hypoca-10", 2.1, None, "missing LLN", lln=None)
R(b, "hypoca-11", 1.9, 2, "missing LLN, <2.0: grade 2", lln=None)
R(b, "hypoca-12", 8.0 * 0.2495, 2, "8.0 mg/dL x 0.2495 = 1.996 mmol/L: grade 2 on CTCAE's mmol/L figure "
  "(its mg/dL wording says grade 1; documented)")

# Hypercalcemia (total CA) -- G1 "... >ULN - 11.5 mg/dL; >ULN - 2.9 mmol/L; Ionized calcium >ULN - 1.5 mmol/L"
#   G2 "... >11.5 - 12.5 mg/dL; >2.9 - 3.1 mmol/L; Ionized calcium >1.5 - 1.6 mmol/L; symptomatic"
#   G3 "... >12.5 - 13.5 mg/dL; >3.1 - 3.4 mmol/L; Ionized calcium >1.6 - 1.8 mmol/L; ..."
#   G4 "... >13.5 mg/dL; >3.4 mmol/L; Ionized calcium >1.8 mmol/L; life-threatening consequences"
b = block("CA", "high", "Hypercalcemia", lln=2.15, uln=2.55)
R(b, "hyperca-01", 2.55, 0, "exactly ULN")
R(b, "hyperca-01b", 2.54, 0, "just below ULN")
R(b, "hyperca-02", 2.56, 1)
R(b, "hyperca-03", 2.9, 1)
R(b, "hyperca-03b", 2.885, 1)
R(b, "hyperca-04", 2.91, 2)
R(b, "hyperca-05", 3.1, 2)
R(b, "hyperca-05b", 3.085, 2)
R(b, "hyperca-06", 3.11, 3)
R(b, "hyperca-07", 3.4, 3)
R(b, "hyperca-07b", 3.383, 3)
R(b, "hyperca-08", 3.41, 4)
R(b, "hyperca-09", None, None, "missing value")
R(b, "hyperca-10", 2.7, None, "missing ULN", uln=None)
R(b, "hyperca-11", 3.0, 2, "missing ULN, >2.9: grade 2", uln=None)

# Hypocalcemia (ionized CAION) -- the "Ionized calcium" clauses of the texts above
b = block("CAION", "low", "Hypocalcemia", lln=1.12, uln=1.32)
R(b, "hypocai-01", 1.12, 0, "exactly LLN")
R(b, "hypocai-01b", 1.13, 0, "just above LLN")
R(b, "hypocai-02", 1.11, 1)
R(b, "hypocai-03", 1.0, 1)
R(b, "hypocai-03a", 1.005, 1)
R(b, "hypocai-04", 0.99, 2)
R(b, "hypocai-05", 0.9, 2)
R(b, "hypocai-05a", 0.9045, 2)
R(b, "hypocai-06", 0.89, 3)
R(b, "hypocai-07", 0.8, 3)
R(b, "hypocai-07a", 0.804, 3)
R(b, "hypocai-08", 0.79, 4)
R(b, "hypocai-09", None, None, "missing value")
R(b, "hypocai-10", 1.05, None, "missing LLN", lln=None)
R(b, "hypocai-11", 1.3, 0, "a total-calcium-sized value would be grade 0 here (own thresholds)")

# Hypercalcemia (ionized CAION)
b = block("CAION", "high", "Hypercalcemia", lln=1.12, uln=1.32)
R(b, "hypercai-01", 1.32, 0, "exactly ULN")
R(b, "hypercai-01b", 1.31, 0, "just below ULN")
R(b, "hypercai-02", 1.33, 1)
R(b, "hypercai-03", 1.5, 1)
R(b, "hypercai-03b", 1.492, 1)
R(b, "hypercai-04", 1.51, 2)
R(b, "hypercai-05", 1.6, 2)
R(b, "hypercai-05b", 1.592, 2)
R(b, "hypercai-06", 1.61, 3)
R(b, "hypercai-07", 1.8, 3)
R(b, "hypercai-07b", 1.791, 3)
R(b, "hypercai-08", 1.81, 4)
R(b, "hypercai-09", None, None, "missing value")
R(b, "hypercai-10", 1.4, None, "missing ULN", uln=None)

# Hypomagnesemia -- G1 "<LLN - 1.2 mg/dL; <LLN - 0.5 mmol/L"  G2 "<1.2 - 0.9 mg/dL; <0.5 - 0.4 mmol/L"
#   G3 "<0.9 - 0.7 mg/dL; <0.4 - 0.3 mmol/L"  G4 "<0.7 mg/dL; <0.3 mmol/L; life-threatening consequences"
b = block("MG", "low", "Hypomagnesemia", lln=0.66, uln=1.07)
R(b, "hypomg-01", 0.66, 0, "exactly LLN")
R(b, "hypomg-01b", 0.67, 0, "just above LLN")
R(b, "hypomg-02", 0.65, 1)
R(b, "hypomg-03", 0.5, 1)
R(b, "hypomg-03a", 0.5025, 1)
R(b, "hypomg-04", 0.49, 2)
R(b, "hypomg-05", 0.4, 2)
R(b, "hypomg-05b", 0.398, 3)
R(b, "hypomg-05a", 0.402, 2)
R(b, "hypomg-06", 0.39, 3)
R(b, "hypomg-07", 0.3, 3)
R(b, "hypomg-07b", 0.2985, 4)
R(b, "hypomg-07a", 0.3015, 3)
R(b, "hypomg-08", 0.29, 4)
R(b, "hypomg-09", None, None, "missing value")
R(b, "hypomg-10", 0.6, None, "missing LLN", lln=None)
R(b, "hypomg-11", 0.45, 2, "missing LLN, <0.5: grade 2", lln=None)

# Hypermagnesemia -- G1 ">ULN - 3.0 mg/dL; >ULN - 1.23 mmol/L"  G3 ">3.0 - 8.0 mg/dL; >1.23 - 3.30 mmol/L"
#   G4 ">8.0 mg/dL; >3.30 mmol/L; life-threatening consequences"  (no G2)
b = block("MG", "high", "Hypermagnesemia", lln=0.66, uln=1.07)
R(b, "hypermg-01", 1.07, 0, "exactly ULN")
R(b, "hypermg-01b", 1.06, 0, "just below ULN")
R(b, "hypermg-02", 1.08, 1)
R(b, "hypermg-03", 1.23, 1)
R(b, "hypermg-03b", 1.224, 1)
R(b, "hypermg-04", 1.24, 3, "no grade 2 in v5.0")
R(b, "hypermg-05", 3.3, 3)
R(b, "hypermg-05b", 3.283, 3)
R(b, "hypermg-06", 3.31, 4)
R(b, "hypermg-07", None, None, "missing value")
R(b, "hypermg-08", 1.1, None, "missing ULN", uln=None)
R(b, "hypermg-09", 2.0, 3, "missing ULN, >1.23: grade 3", uln=None)

# Acidosis -- G1 "pH <normal, but >=7.3"  G3 "pH <7.3"  (no G2; G4 clinical)
b = block("PH", "low", "Acidosis", lln=7.35, uln=7.45)
R(b, "acid-01", 7.35, 0, "exactly LLN")
R(b, "acid-01b", 7.36, 0, "just above LLN")
R(b, "acid-02", 7.34, 1)
R(b, "acid-03", 7.3, 1, "pH 7.3 is '>=7.3'")
R(b, "acid-04", 7.29, 3, "no grade 2")
R(b, "acid-05", None, None, "missing value")
R(b, "acid-06", 7.32, None, "missing LLN", lln=None)
R(b, "acid-07", 7.2, 3, "missing LLN, <7.3: grade 3", lln=None)

# Alkalosis -- G1 "pH >normal, but <=7.5"  G3 "pH >7.5"
b = block("PH", "high", "Alkalosis", lln=7.35, uln=7.45)
R(b, "alk-01", 7.45, 0, "exactly ULN")
R(b, "alk-01b", 7.44, 0, "just below ULN")
R(b, "alk-02", 7.46, 1)
R(b, "alk-03", 7.5, 1, "pH 7.5 is '<=7.5'")
R(b, "alk-04", 7.51, 3, "no grade 2")
R(b, "alk-05", None, None, "missing value")
R(b, "alk-06", 7.48, None, "missing ULN", uln=None)
R(b, "alk-07", 7.6, 3, "missing ULN, >7.5: grade 3", uln=None)

# Blood lactate dehydrogenase increased -- G1 ">ULN"
b = block("LDH", "high", "Blood lactate dehydrogenase increased", lln=120.0, uln=250.0)
R(b, "ldh-01", 250.0, 0, "exactly ULN")
R(b, "ldh-01b", 249.9, 0, "just below ULN")
R(b, "ldh-02", 250.1, 1)
R(b, "ldh-03", 5000.0, 1, "only grade 1 exists")
R(b, "ldh-04", None, None, "missing value")
R(b, "ldh-05", 300.0, None, "missing ULN", uln=None)

# ================================================================================ urine
# Proteinuria (dipstick UPROT) -- G1 "1+ proteinuria; urinary protein ≥ULN - <1.0 g/24 hrs"
#   G2 "Adult: 2+ and 3+ proteinuria; ..."  G3 "Adult: Urinary protein >=3.5 g/24 hrs; 4+ proteinuria; ..."
b = block("UPROT", "high", "Proteinuria")
R(b, "uprot-01", None, 0, "Neg", text="Neg")
R(b, "uprot-02", None, 0, "Negative", text="Negative")
R(b, "uprot-03", None, 0, "Trace (0.5 on the scale): just below 1+", text="Trace")
R(b, "uprot-04", None, 1, "1+", text="1+")
R(b, "uprot-05", None, 2, "2+", text="2+")
R(b, "uprot-06", None, 2, "3+ is grade 2 (adult)", text="3+")
R(b, "uprot-07", None, 3, "4+", text="4+")
R(b, "uprot-08", None, 1, "spacing and case ignored ('1 +')", text=" 1 +")
R(b, "uprot-09", None, None, "missing result text", text=None)
R(b, "uprot-10", None, None, "'positive' is not on the dipstick scale", text="positive")
R(b, "uprot-11", 2.0, None, "a numeric value without text is not read for a dipstick", text=None)
R(b, "uprot-12", None, 0, "NEG in capitals", text="NEG")
R(b, "uprot-13", None, 2, "'+2' is written for 2+ at some sites", text="+2")
R(b, "uprot-14", None, 3, "'+4'", text="+4")

# Proteinuria (24 h UPROT24) -- G1 "... urinary protein ≥ULN - <1.0 g/24 hrs"
#   G2 "Adult: ... urinary protein 1.0 - <3.5 g/24 hrs"  G3 "Adult: Urinary protein >=3.5 g/24 hrs; ..."
b = block("UPROT24", "high", "Proteinuria", lln=None, uln=0.15)
R(b, "uprot24-01", 0.14, 0)
R(b, "uprot24-02", 0.15, 1, "exactly ULN: '≥ULN' is inclusive")
R(b, "uprot24-02b", 0.149, 0, "just below ULN")
R(b, "uprot24-02c", 0.151, 1)
R(b, "uprot24-03", 0.99, 1)
R(b, "uprot24-04", 1.0, 2, "1.0 g inclusive")
R(b, "uprot24-04a", 1.005, 2)
R(b, "uprot24-05", 3.49, 2)
R(b, "uprot24-06", 3.5, 3, "3.5 g inclusive")
R(b, "uprot24-06a", 3.517, 3)
R(b, "uprot24-07", None, None, "missing value")
R(b, "uprot24-08", 0.5, None, "missing ULN below 1.0 g", uln=None)
R(b, "uprot24-09", 1.2, 2, "missing ULN, >=1.0 g: grade 2", uln=None)
R(b, "uprot24-10", 1000 * 0.001, 2, "1000 mg/24h converted: exactly 1.0 g")
R(b, "uprot24-11", 0.98, 1, "just below 1.0 g")

# ================================================================================ vital signs in a labs frame
# Hypertension (SYSBP / DIABP) in grade_labs grades each pressure alone; grade_bp combines them.
b = block("SYSBP", "high", "Hypertension")
R(b, "sysbp-01", 119.0, 0)
R(b, "sysbp-02", 120.0, 1, "120 inclusive")
R(b, "sysbp-02b", 121.0, 1)
R(b, "sysbp-03", 139.9, 1, "between the integer ranges: read as [120, 140)")
R(b, "sysbp-04", 140.0, 2)
R(b, "sysbp-04a", 140.7, 2)
R(b, "sysbp-05", 159.9, 2)
R(b, "sysbp-06", 160.0, 3, ">=160")
R(b, "sysbp-06a", 160.8, 3)
R(b, "sysbp-07", None, None, "missing value")
b = block("DIABP", "high", "Hypertension")
R(b, "diabp-01", 79.0, 0)
R(b, "diabp-02", 80.0, 1)
R(b, "diabp-02b", 81.0, 1)
R(b, "diabp-03", 89.9, 1)
R(b, "diabp-04", 90.0, 2)
R(b, "diabp-04a", 90.45, 2)
R(b, "diabp-05", 99.9, 2)
R(b, "diabp-06", 100.0, 3)
R(b, "diabp-06a", 100.5, 3)
R(b, "diabp-07", None, None, "missing value")


# ======================================================================= printed units (issue 10)
# A result entered in a unit the term prints is graded on the figures printed in that unit.
# Rows: id, value, expected, comment; values, limits and baseline in the block's unit.

def rows(b: Block, spec: str):
    for line in spec.strip().splitlines():
        cid, value, expected, *comment = [x.strip() for x in line.split("|")]
        R(b, cid, float(value), None if expected == "-" else int(expected), comment[0] if comment else "")


# Anemia in g/dL -- "<LLN - 10.0 g/dL", "<10.0 - 8.0 g/dL", "<8.0 g/dL"
b = block("HGB", "low", "Anemia", lln=12.0, uln=16.0, unit="g/dL")
rows(b, """anemia-gdl-01 | 10.0 | 1 | exactly 10.0 g/dL: grade 1 ('<10.0' starts grade 2)
anemia-gdl-02 | 10.1 | 1
anemia-gdl-03 | 9.9 | 2
anemia-gdl-04 | 8.0 | 2
anemia-gdl-05 | 8.1 | 2
anemia-gdl-06 | 7.9 | 3""")
# Anemia in mmol/L -- "<LLN - 6.2 mmol/L", "<6.2 - 4.9 mmol/L", "<4.9 mmol/L"
b = block("HGB", "low", "Anemia", lln=7.4, uln=9.9, unit="mmol/L")
rows(b, """anemia-mmol-01 | 6.2 | 1 | issue 10: 6.2 mmol/L is '<LLN - 6.2' = grade 1 (SI 99.88 g/L would say 2)
anemia-mmol-02 | 6.3 | 1
anemia-mmol-03 | 6.1 | 2
anemia-mmol-04 | 4.9 | 2
anemia-mmol-05 | 4.95 | 2
anemia-mmol-06 | 4.85 | 3""")
# Hemoglobin increased in g/dL -- "Increase in >0 - 2 g/dL" / ">2 - 4" / ">4" (above ULN 16, or
# above an abnormal baseline 17)
b = block("HGB", "high", "Hemoglobin increased", lln=12.0, uln=16.0, unit="g/dL")
rows(b, """hgbinc-gdl-01 | 18.0 | 1 | ULN + 2 g/dL exactly
hgbinc-gdl-02 | 18.3 | 2
hgbinc-gdl-03 | 17.7 | 1
hgbinc-gdl-04 | 20.0 | 2 | ULN + 4 g/dL exactly
hgbinc-gdl-05 | 20.3 | 3
hgbinc-gdl-06 | 19.7 | 2""")
b = block("HGB", "high", "Hemoglobin increased", lln=12.0, uln=16.0, baseline=17.0, unit="g/dL")
rows(b, """hgbinc-gdl-07 | 19.0 | 1 | abnormal baseline 17 + 2 g/dL exactly
hgbinc-gdl-08 | 19.3 | 2
hgbinc-gdl-09 | 18.7 | 1
hgbinc-gdl-10 | 21.0 | 2 | baseline + 4 g/dL exactly
hgbinc-gdl-11 | 21.3 | 3
hgbinc-gdl-12 | 20.7 | 2""")
# White blood cell decreased in /mm3 -- "<LLN - 3000/mm3", "<3000 - 2000", "<2000 - 1000", "<1000"
b = block("WBC", "low", "White blood cell decreased", lln=4000.0, uln=10000.0, unit="/mm3")
rows(b, """wbcdec-mm3-01 | 3000 | 1
wbcdec-mm3-02 | 3050 | 1
wbcdec-mm3-03 | 2950 | 2
wbcdec-mm3-04 | 2000 | 2
wbcdec-mm3-05 | 2030 | 2
wbcdec-mm3-06 | 1970 | 3
wbcdec-mm3-07 | 1000 | 3
wbcdec-mm3-08 | 1015 | 3
wbcdec-mm3-09 | 985 | 4""")
# Leukocytosis -- ">100,000/mm3" (the only unit printed)
b = block("WBC", "high", "Leukocytosis", lln=4000.0, uln=10000.0, unit="/mm3")
rows(b, """leuko-mm3-01 | 100000 | 0
leuko-mm3-02 | 101000 | 3
leuko-mm3-03 | 99000 | 0""")
# Lymphocyte count decreased in /mm3 -- "<LLN - 800/mm3", "<800 - 500", "<500 - 200", "<200"
b = block("LYM", "low", "Lymphocyte count decreased", lln=1000.0, uln=4000.0, unit="/mm3")
rows(b, """lymdec-mm3-01 | 800 | 1
lymdec-mm3-02 | 810 | 1
lymdec-mm3-03 | 790 | 2
lymdec-mm3-04 | 500 | 2
lymdec-mm3-05 | 505 | 2
lymdec-mm3-06 | 495 | 3
lymdec-mm3-07 | 200 | 3
lymdec-mm3-08 | 202 | 3
lymdec-mm3-09 | 198 | 4""")
# Lymphocyte count increased -- ">4000/mm3 - 20,000/mm3", ">20,000/mm3"
b = block("LYM", "high", "Lymphocyte count increased", lln=1000.0, uln=4000.0, unit="/mm3")
rows(b, """lyminc-mm3-01 | 4000 | 0
lyminc-mm3-02 | 4050 | 2
lyminc-mm3-03 | 3950 | 0
lyminc-mm3-04 | 20000 | 2
lyminc-mm3-05 | 20200 | 3
lyminc-mm3-06 | 19800 | 2""")
# Neutrophil count decreased in /mm3 -- "<LLN - 1500/mm3", "<1500 - 1000", "<1000 - 500", "<500"
b = block("NEUT", "low", "Neutrophil count decreased", lln=2000.0, uln=7500.0, unit="/mm3")
rows(b, """neut-mm3-01 | 1500 | 1
neut-mm3-02 | 1520 | 1
neut-mm3-03 | 1480 | 2
neut-mm3-04 | 1000 | 2
neut-mm3-05 | 1010 | 2
neut-mm3-06 | 990 | 3
neut-mm3-07 | 500 | 3
neut-mm3-08 | 505 | 3
neut-mm3-09 | 495 | 4""")
# Platelet count decreased in /mm3 -- "<LLN - 75,000/mm3", "<75,000 - 50,000", "<50,000 - 25,000", "<25,000"
b = block("PLAT", "low", "Platelet count decreased", lln=150000.0, uln=400000.0, unit="/mm3")
rows(b, """plat-mm3-01 | 75000 | 1
plat-mm3-02 | 76000 | 1
plat-mm3-03 | 74000 | 2
plat-mm3-04 | 50000 | 2
plat-mm3-05 | 50500 | 2
plat-mm3-06 | 49500 | 3
plat-mm3-07 | 25000 | 3
plat-mm3-08 | 25250 | 3
plat-mm3-09 | 24750 | 4""")
# Platelets in K/uL (not printed: the same dimension as 10e9/L, converted with factor 1)
b = block("PLAT", "low", "Platelet count decreased", lln=150.0, uln=400.0, unit="K/uL")
rows(b, """plat-kul-01 | 20 | 4 | issue 10: 20 K/uL = 20 x 10e9/L, '<25.0 x 10e9 /L' = grade 4
plat-kul-02 | 25 | 3""")
R(b, "plat-thou-01", 20.0, 4, "THOU/uL (CDISC pilot spelling)", unit="THOU/uL")
R(b, "plat-gil-01", 20.0, 4, "GI/L (CDISC spelling of 10^9/L)", unit="GI/L")
R(b, "plat-10mL-01", 20000.0, 4, "10^3/mL = 1/uL: 20,000/uL", unit="10^3/mL")
R(b, "plat-cells-01", 20000.0, 4, "cells/mm^3", unit="cells/mm^3")
# CD4 lymphocytes decreased in /mm3 -- "<LLN - 500/mm3", "<500 - 200", "<200 - 50", "<50"
b = block("CD4", "low", "CD4 lymphocytes decreased", lln=600.0, uln=1500.0, unit="/mm3")
rows(b, """cd4-mm3-01 | 500 | 1
cd4-mm3-02 | 505 | 1
cd4-mm3-03 | 495 | 2
cd4-mm3-04 | 200 | 2
cd4-mm3-05 | 202 | 2
cd4-mm3-06 | 198 | 3
cd4-mm3-07 | 50 | 3
cd4-mm3-08 | 50.5 | 3
cd4-mm3-09 | 49.5 | 4""")
# Fibrinogen decreased -- G4 "absolute value <50 mg/dL" (LLN 200 mg/dL: 0.25 x LLN = 50 too)
b = block("FIBRINO", "low", "Fibrinogen decreased", lln=200.0, uln=400.0, unit="mg/dL")
rows(b, """fib-mgdl-01 | 50 | 3 | exactly 50 mg/dL: <0.5 x LLN (grade 3), not <50
fib-mgdl-02 | 50.5 | 3
fib-mgdl-03 | 49.5 | 4""")
# Hypoalbuminemia in g/dL -- "<LLN - 3 g/dL", "<3 - 2 g/dL", "<2 g/dL"
b = block("ALB", "low", "Hypoalbuminemia", lln=3.5, uln=5.0, unit="g/dL")
rows(b, """alb-gdl-01 | 3.0 | 1
alb-gdl-02 | 3.05 | 1
alb-gdl-03 | 2.95 | 2
alb-gdl-04 | 2.0 | 2
alb-gdl-05 | 2.02 | 2
alb-gdl-06 | 1.98 | 3""")
# Cholesterol high in mg/dL -- ">ULN - 300 mg/dL", ">300 - 400", ">400 - 500", ">500"
b = block("CHOL", "high", "Cholesterol high", uln=200.0, unit="mg/dL")
rows(b, """chol-mgdl-01 | 300 | 1 | issue 10: 300 mg/dL is grade 1 (7.758 mmol/L would be 2)
chol-mgdl-02 | 303 | 2
chol-mgdl-03 | 297 | 1
chol-mgdl-04 | 400 | 2 | issue 10
chol-mgdl-05 | 404 | 3
chol-mgdl-06 | 396 | 2
chol-mgdl-07 | 500 | 3 | issue 10
chol-mgdl-08 | 505 | 4
chol-mgdl-09 | 495 | 3""")
# Hypertriglyceridemia in mg/dL -- "150 mg/dL - 300 mg/dL", ">300 - 500", ">500 - 1000", ">1000"
b = block("TRIG", "high", "Hypertriglyceridemia", uln=150.0, unit="mg/dL")
rows(b, """trig-mgdl-01 | 150 | 1 | 150 mg/dL inclusive (1.69 mmol/L would be 0)
trig-mgdl-02 | 151 | 1
trig-mgdl-03 | 149 | 0
trig-mgdl-04 | 300 | 1
trig-mgdl-05 | 303 | 2
trig-mgdl-06 | 297 | 1
trig-mgdl-07 | 500 | 2
trig-mgdl-08 | 505 | 3
trig-mgdl-09 | 495 | 2
trig-mgdl-10 | 1000 | 3
trig-mgdl-11 | 1001 | 4 | issue 10: 1001 mg/dL is '>1000 mg/dL' = 4 (11.30 mmol/L would be 3)
trig-mgdl-12 | 990 | 3""")
# Hypoglycemia in mg/dL -- "<LLN - 55 mg/dL", "<55 - 40", "<40 - 30", "<30"
b = block("GLUC", "low", "Hypoglycemia", lln=70.0, uln=100.0, unit="mg/dL")
rows(b, """gluc-mgdl-01 | 55 | 1
gluc-mgdl-02 | 55.5 | 1
gluc-mgdl-03 | 54.5 | 2
gluc-mgdl-04 | 40 | 2
gluc-mgdl-05 | 40.4 | 2
gluc-mgdl-06 | 39.6 | 3
gluc-mgdl-07 | 30 | 3 | issue 10: 30 mg/dL is '<40 - 30' = 3 (1.665 mmol/L would be 4)
gluc-mgdl-08 | 30.3 | 3
gluc-mgdl-09 | 29.7 | 4""")
# qualified results (issue 12): '<40' proves a value below 40 mg/dL: at least grade 3
R(b, "gluc-q-01", 40.0, 3, "'<40' mg/dL: below 40 = '<40 - 30' grade 3", qualifier="<")
R(b, "gluc-q-02", 40.0, 2, "'<=40': 40 itself is possible, grade 2 proven", qualifier="<=")
R(b, "gluc-q-03", 30.0, 4, "'<30': grade 4", qualifier="<")
b = block("GLUC", "high", "Hyperglycemia", lln=70.0, uln=100.0, unit="mg/dL")
R(b, "glucq-hi-01", 40.0, None, "'<40' proves nothing about the high direction: not graded", qualifier="<")
R(b, "glucq-hi-02", 120.0, 1, "'>120' above the ULN 100: grade 1", qualifier=">")
R(b, "glucq-hi-03", 100.0, 1, "'>100' is above the ULN itself", qualifier=">")
R(b, "glucq-hi-04", 100.0, 0, "'>=100' may be 100: grade 0", qualifier=">=")
# Hypocalcemia in mg/dL -- "<LLN - 8.0 mg/dL", "<8.0 - 7.0", "<7.0 - 6.0", "<6.0"
b = block("CA", "low", "Hypocalcemia", lln=8.5, uln=10.5, unit="mg/dL")
rows(b, """ca-lo-mgdl-01 | 8.0 | 1
ca-lo-mgdl-02 | 8.1 | 1
ca-lo-mgdl-03 | 7.9 | 2
ca-lo-mgdl-04 | 7.0 | 2
ca-lo-mgdl-05 | 7.1 | 2
ca-lo-mgdl-06 | 6.9 | 3
ca-lo-mgdl-07 | 6.0 | 3 | issue 10: 6.0 mg/dL is '<7.0 - 6.0' = 3 (1.497 mmol/L would be 4)
ca-lo-mgdl-08 | 6.1 | 3
ca-lo-mgdl-09 | 5.9 | 4""")
# Hypercalcemia in mg/dL -- ">ULN - 11.5 mg/dL", ">11.5 - 12.5", ">12.5 - 13.5", ">13.5"
b = block("CA", "high", "Hypercalcemia", lln=8.5, uln=10.5, unit="mg/dL")
rows(b, """ca-hi-mgdl-01 | 11.5 | 1
ca-hi-mgdl-02 | 11.6 | 2
ca-hi-mgdl-03 | 11.3 | 1
ca-hi-mgdl-04 | 12.5 | 2
ca-hi-mgdl-05 | 12.6 | 3
ca-hi-mgdl-06 | 12.3 | 2
ca-hi-mgdl-07 | 13.5 | 3
ca-hi-mgdl-08 | 13.6 | 4 | issue 10: 13.6 mg/dL is '>13.5 mg/dL' = 4 (3.393 mmol/L would be 3)
ca-hi-mgdl-09 | 13.3 | 3""")
# Hypomagnesemia in mg/dL -- "<LLN - 1.2 mg/dL", "<1.2 - 0.9", "<0.9 - 0.7", "<0.7"
b = block("MG", "low", "Hypomagnesemia", lln=1.6, uln=2.4, unit="mg/dL")
rows(b, """mg-lo-mgdl-01 | 1.2 | 1
mg-lo-mgdl-02 | 1.21 | 1
mg-lo-mgdl-03 | 1.19 | 2
mg-lo-mgdl-04 | 0.9 | 2
mg-lo-mgdl-05 | 0.91 | 2
mg-lo-mgdl-06 | 0.89 | 3
mg-lo-mgdl-07 | 0.7 | 3 | issue 10: 0.7 mg/dL is '<0.9 - 0.7' = 3 (0.288 mmol/L would be 4)
mg-lo-mgdl-08 | 0.71 | 3
mg-lo-mgdl-09 | 0.69 | 4""")
# Hypermagnesemia in mg/dL -- ">ULN - 3.0 mg/dL", ">3.0 - 8.0", ">8.0"
b = block("MG", "high", "Hypermagnesemia", lln=1.6, uln=2.4, unit="mg/dL")
rows(b, """mg-hi-mgdl-01 | 3.0 | 1 | issue 10: 3.0 mg/dL is '>ULN - 3.0' = 1 (1.234 mmol/L would be 3)
mg-hi-mgdl-02 | 3.05 | 3
mg-hi-mgdl-03 | 2.95 | 1
mg-hi-mgdl-04 | 8.0 | 3
mg-hi-mgdl-05 | 8.1 | 4
mg-hi-mgdl-06 | 7.9 | 3""")
# Potassium in mEq/L (not printed: valence 1, converted to mmol/L with factor 1)
b = block("K", "high", "Hyperkalemia", lln=3.5, uln=5.1, unit="mEq/L")
R(b, "k-meq-01", 6.1, 3, "6.1 mEq/L = 6.1 mmol/L: '>6.0 - 7.0' grade 3")
R(b, "k-meq-02", 6.1, 3, "MEQ/L in capitals", unit="MEQ/L")

# ======================================================= value-gradable terms added in issue 10
# Eosinophilia -- G1 ">ULN and >Baseline" (G3 'steroids initiated' is clinical)
b = block("EOS", "high", "Eosinophilia", lln=0.0, uln=0.5, baseline=0.3)
rows(b, """eos-01 | 0.5 | 0 | exactly ULN
eos-02 | 0.51 | 1 | above ULN and baseline
eos-03 | 0.49 | 0""")
R(b, "eos-04", 0.6, 0, "above ULN but not above an abnormal baseline 0.7", baseline=0.7)
R(b, "eos-05", 0.7, 0, "exactly the baseline", baseline=0.7)
R(b, "eos-06", 0.71, 1, "just above the baseline", baseline=0.7)
R(b, "eos-07", 0.6, 1, "no baseline: the ULN alone decides", baseline=None)
R(b, "eos-08", None, None, "missing value")
R(b, "eos-09", 0.6, None, "missing ULN", uln=None)
R(b, "eos-10", 600.0, 1, "600/mm3 (ULN 500, baseline 300)", unit="/mm3", uln=500.0, baseline=300.0)
# Blood bicarbonate decreased -- G1 "<LLN and no intervention initiated"
b = block("BICARB", "low", "Blood bicarbonate decreased", lln=22.0, uln=29.0)
rows(b, """bicarb-01 | 22 | 0 | exactly LLN
bicarb-02 | 22.2 | 0
bicarb-03 | 21.8 | 1
bicarb-04 | 8 | 1 | the only grade""")
R(b, "bicarb-05", None, None, "missing value")
R(b, "bicarb-06", 20.0, None, "missing LLN", lln=None)
R(b, "bicarb-07", 21.0, 1, "mEq/L (valence 1)", unit="mEq/L")
# Hypophosphatemia / Hyperphosphatemia -- G1 "Laboratory finding only and intervention not indicated"
b = block("PHOS", "low", "Hypophosphatemia", lln=0.81, uln=1.45)
rows(b, """phoslo-01 | 0.81 | 0 | exactly LLN
phoslo-02 | 0.82 | 0
phoslo-03 | 0.8 | 1
phoslo-04 | 0.2 | 1 | grades 2-4 are interventions: the value gives 1""")
R(b, "phoslo-05", None, None, "missing value")
R(b, "phoslo-06", 0.5, None, "missing LLN", lln=None)
R(b, "phoslo-07", 2.4, 1, "2.4 mg/dL below LLN 2.5 mg/dL", unit="mg/dL", lln=2.5, uln=4.5)
b = block("PHOS", "high", "Hyperphosphatemia", lln=0.81, uln=1.45)
rows(b, """phoshi-01 | 1.45 | 0 | exactly ULN
phoshi-02 | 1.46 | 1
phoshi-03 | 1.44 | 0""")
R(b, "phoshi-04", None, None, "missing value")
R(b, "phoshi-05", 2.0, None, "missing ULN", uln=None)
# Cardiac troponin I increased -- G1 ">ULN and below the MI level (manufacturer)", G3 "consistent with MI"
b = block("TROPONI", "high", "Cardiac troponin I increased", uln=26.0)
rows(b, """tni-01 | 26 | 0 | exactly ULN
tni-02 | 26.5 | 1
tni-03 | 25.5 | 0
tni-04 | 40 | 1 | exactly the MI level 40 ng/L: not above it
tni-05 | 40.5 | 3
tni-06 | 39.5 | 1""")
R(b, "tni-07", None, None, "missing value")
R(b, "tni-08", 30.0, None, "missing ULN below the MI level", uln=None)
R(b, "tni-09", 0.05, 3, "0.05 ng/mL = 50 ng/L: above the MI level", unit="ng/mL", uln=0.026)
b = block("TROPONT", "high", "Cardiac troponin T increased", uln=10.0)
rows(b, """tnt-01 | 10 | 0 | exactly ULN
tnt-02 | 10.1 | 1
tnt-03 | 9.9 | 0
tnt-04 | 14 | 1 | exactly the MI level 14 ng/L
tnt-05 | 14.2 | 3
tnt-06 | 13.8 | 1""")
R(b, "tnt-07", None, None, "missing value")
R(b, "tnt-08", 12.0, None, "missing ULN", uln=None)
# Methemoglobinemia -- G2 ">ULN" (no grade 1)
b = block("METHGB", "high", "Methemoglobinemia", uln=1.5)
rows(b, """methb-01 | 1.5 | 0 | exactly ULN
methb-02 | 1.52 | 2
methb-03 | 1.48 | 0""")
R(b, "methb-04", None, None, "missing value")
R(b, "methb-05", 3.0, None, "missing ULN", uln=None)
R(b, "methb-06", 0.03, 2, "FRACTION 0.03 = 3% (ULN 1.5%)", unit="FRACTION", uln=0.015)
# Chronic kidney disease -- G1 "eGFR <LLN - 60 ml/min/1.73 m2", G2 "59 - 30", G3 "29 - 15", G4 "<15"
b = block("GFR", "low", "Chronic kidney disease", lln=90.0, unit="mL/min/1.73m2")
rows(b, """ckd-01 | 90 | 0 | exactly LLN
ckd-01b | 91 | 0
ckd-02 | 89 | 1
ckd-03 | 60 | 1 | '<LLN - 60' includes 60
ckd-04 | 61 | 1
ckd-05 | 59 | 2
ckd-06 | 59.5 | 2 | between the integer ranges: read as <60
ckd-07 | 30 | 2
ckd-08 | 30.5 | 2
ckd-09 | 29.5 | 3
ckd-10 | 15 | 3
ckd-11 | 15.2 | 3
ckd-12 | 14.8 | 4""")
R(b, "ckd-13", None, None, "missing value")
R(b, "ckd-14", 70.0, None, "missing LLN", lln=None)
R(b, "ckd-15", 45.0, 2, "missing LLN but <60: grade 2", lln=None)
R(b, "ckd-16", 45.0, 2, "spelled ml/min/1.73 m2", unit="ml/min/1.73 m2")
# Thyroid stimulating hormone increased -- G1 "TSH increased and no intervention initiated"
b = block("TSH", "high", "Thyroid stimulating hormone increased", lln=0.4, uln=4.0)
rows(b, """tsh-01 | 4.0 | 0
tsh-02 | 4.05 | 1
tsh-03 | 3.95 | 0""")
R(b, "tsh-04", None, None, "missing value")
R(b, "tsh-05", 5.0, None, "missing ULN", uln=None)
R(b, "tsh-06", 5.0, 1, "uIU/mL = mIU/L", unit="uIU/mL")
# Weight loss -- G1 "5 to <10% from baseline", G2 "10 - <20%", G3 ">=20%" (baseline 80 kg)
b = block("WEIGHT", "low", "Weight loss", baseline=80.0)
rows(b, """wtloss-01 | 76 | 1 | exactly 5% loss
wtloss-02 | 76.5 | 0
wtloss-03 | 75.5 | 1
wtloss-04 | 72 | 2 | exactly 10%
wtloss-05 | 72.5 | 1
wtloss-06 | 71.5 | 2
wtloss-07 | 64 | 3 | exactly 20%
wtloss-08 | 64.5 | 2
wtloss-09 | 63.5 | 3""")
R(b, "wtloss-10", None, None, "missing value")
R(b, "wtloss-11", 70.0, None, "no baseline weight", baseline=None)
# Weight gain -- G1 "5 - <10% from baseline", G2 "10 - <20%", G3 ">=20%"
b = block("WEIGHT", "high", "Weight gain", baseline=80.0)
rows(b, """wtgain-01 | 84 | 1 | exactly 5%
wtgain-02 | 84.5 | 1
wtgain-03 | 83.5 | 0
wtgain-04 | 88 | 2
wtgain-05 | 88.5 | 2
wtgain-06 | 87.5 | 1
wtgain-07 | 96 | 3
wtgain-08 | 96.5 | 3
wtgain-09 | 95.5 | 2""")
R(b, "wtgain-10", None, None, "missing value")
R(b, "wtgain-11", 90.0, None, "no baseline weight", baseline=None)


CASES = [c for blk in BLOCKS for c in blk.rows]
TERMS = load_terms()


CAT = load_catalogue()


def _unit(c: Case) -> str:
    t = CAT.tests.get(c.test)
    return c.unit if c.unit is not None else (t.si_unit if t else "")


def _si(c: Case, x):
    if x is None:
        return None
    f = CAT.to_si(c.test, _unit(c)) if c.test in CAT.tests else 1.0
    return x * f


def _frame(cases, entered: bool = True) -> pl.DataFrame:
    """The cases as grade_labs input: SI columns always; with `entered`, also the result as
    entered (unit, value, lln, uln) so that printed units are graded as printed."""
    cols = {
        "case": [c.id for c in cases],
        "test_code": [c.test for c in cases],
        "value_si": [_si(c, c.value) for c in cases],
        "lln_si": [_si(c, c.lln) for c in cases],
        "uln_si": [_si(c, c.uln) for c in cases],
        "baseline_si": [_si(c, c.baseline) for c in cases],
        "result_text": [c.text for c in cases],
        "on_anticoagulation": [c.anticoag for c in cases],
    }
    schema = {"case": pl.String, "test_code": pl.String, "value_si": pl.Float64, "lln_si": pl.Float64,
              "uln_si": pl.Float64, "baseline_si": pl.Float64, "result_text": pl.String,
              "on_anticoagulation": pl.Boolean}
    if entered:
        cols.update({"unit": [_unit(c) for c in cases], "value": [c.value for c in cases],
                     "lln": [c.lln for c in cases], "uln": [c.uln for c in cases],
                     "qualifier": [c.qualifier for c in cases]})
        schema.update({"unit": pl.String, "value": pl.Float64, "lln": pl.Float64, "uln": pl.Float64,
                       "qualifier": pl.String})
    return pl.DataFrame(cols, schema=schema)


@pytest.fixture(scope="module")
def graded() -> dict:
    out = grade_labs(_frame(CASES))
    return {r["case"]: r for r in out.iter_rows(named=True)}


def _text(term: str, grade) -> str:
    t = TERMS.get(term)
    return t.text.get(grade, "-") if (t and isinstance(grade, int) and grade > 0) else str(grade)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_boundary_table(case: Case, graded):
    row = graded[case.id]
    assert row[f"ctcae_term_{case.direction}"] == case.term
    got = row[f"ctcae_grade_{case.direction}"]
    assert got == case.expected, (
        f"{case.id} {case.test} {case.term}: value {case.value} lln {case.lln} uln {case.uln} "
        f"baseline {case.baseline} -> grade {got}, expected {case.expected} ({case.comment}); "
        f"CTCAE expected: {_text(case.term, case.expected)!r}; got: {_text(case.term, got)!r}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_scalar_reference_agrees(case: Case):
    c = load_criteria().for_test(case.test, case.direction)
    got = grade_value(c, case.value, lln=case.lln, uln=case.uln, baseline=case.baseline,
                      anticoagulated=bool(case.anticoag), result_text=case.text, unit=_unit(case),
                      qualifier=case.qualifier)
    assert got == case.expected


def test_every_record_has_a_boundary_block():
    covered = {(b.test, b.direction) for b in BLOCKS}
    missing = [r.label for r in load_criteria() if (r.test, r.direction) not in covered]
    assert not missing, f"records without a boundary table: {missing}"


def _threshold_at(r, t, case: Case, unit: str | None) -> float | None:
    """Where threshold t sits for this row (in the row's unit, which is printed unit `unit`),
    or None if it does not apply to the row."""
    base = case.baseline if case.baseline and case.baseline > 0 else None
    limit = case.uln if r.direction == "high" else case.lln
    abnormal = base is not None and limit is not None and (base > limit if r.direction == "high" else base < limit)
    ok = {"always": True, "baseline_normal": not abnormal, "baseline_abnormal": abnormal,
          "anticoagulated": bool(case.anticoag), "not_anticoagulated": not case.anticoag}[t.applies]
    if not ok:
        return None
    if t.basis == "abs":
        return t.value_in(unit)
    ref = {"uln": case.uln, "lln": case.lln, "baseline": base}[t.basis]
    return None if ref is None else ref * t.factor + t.offset_in(unit)


def _rows_in(rec, unit):
    """Rows of the record entered in printed unit `unit` itself (graded with factor 1)."""
    rows = [c for b in BLOCKS if (b.test, b.direction) == (rec.test, rec.direction) for c in b.rows]
    if unit is None:
        return rows
    return [c for c in rows if graded_unit(rec, _unit(c), CAT) == (unit, 1.0)]


def _coverage_units(rec, t):
    """Absolute figures and offsets are printed per unit: each needs its own rows. Multiples of
    the ULN / LLN / baseline are the same in every unit: rows in any unit cover them."""
    if rec.scale is None and rec.units and (t.basis == "abs" or t.offsets):
        return list(rec.units)
    return [None]


@pytest.mark.parametrize("rec", load_criteria().records, ids=lambda r: f"{r.test}-{r.direction}")
def test_every_threshold_has_at_above_and_below_rows(rec):
    """Coverage: each threshold has a row exactly on it and rows just either side (within 2%),
    in every unit CTCAE prints for the term (rows entered in that unit), plus a missing-value row
    per record and a missing-limit row where a limit is needed."""
    rows = [c for b in BLOCKS if (b.test, b.direction) == (rec.test, rec.direction) for c in b.rows]
    assert any(c.value is None and c.text is None for c in rows), "no missing-value row"
    if rec.needs:
        limit = "lln_missing" if "lln" in rec.needs else "uln_missing"
        assert any((c.lln is None if limit == "lln_missing" else c.uln is None) and c.value is not None
                   for c in rows), f"no row with the needed {limit.split('_')[0].upper()} missing"
    for t in rec.thresholds:
        if rec.scale is not None:
            vals = [rec.scale.get(c.text.strip().lower().replace(" ", "")) for c in rows if c.text]
            pts = [v for v in vals if v is not None]
            assert t.value in pts, f"no row at {t.describe()}"
            assert any(p < t.value for p in pts) and any(p > t.value for p in pts) or t.grade == max(rec.grades)
            continue
        for unit in _coverage_units(rec, t):
            at = above = below = False
            for c in _rows_in(rec, unit):
                thr = _threshold_at(rec, t, c, unit or graded_unit(rec, _unit(c), CAT)[0]) \
                    if c.value is not None and c.qualifier is None else None
                if thr is None:
                    continue
                tol = abs(thr) * 1e-6 + 1e-12
                at |= abs(c.value - thr) <= tol
                above |= thr + tol < c.value <= thr * 1.02 + 1e-9
                below |= thr * 0.98 - 1e-9 <= c.value < thr - tol
            assert at and above and below, (
                f"{rec.label} threshold {t.describe(unit)} (grade {t.grade}) in {unit or 'any unit'}: "
                f"at={at} above={above} below={below}")


# ================================================================================ frame behaviour

def test_output_columns_and_types():
    inp = _frame(CASES[:5])
    out = grade_labs(inp)
    for name, dtype in OUTPUT_SCHEMA.items():
        assert out.schema[name] == dtype
    assert out.columns[:len(inp.columns)] == inp.columns, "input columns kept, in order"


def test_row_order_is_kept_when_tests_interleave():
    cases = CASES[:]
    random.Random(7).shuffle(cases)
    out = grade_labs(_frame(cases))
    assert out["case"].to_list() == [c.id for c in cases]
    for c, row in zip(cases, out.iter_rows(named=True)):
        assert row[f"ctcae_grade_{c.direction}"] == c.expected, c.id


def test_unknown_and_null_test_codes_cannot_be_graded():
    df = pl.DataFrame({"test_code": ["AFP", "NOPE", None], "value_si": [9.0, 1.0, 1.0],
                       "lln_si": [0.4, None, None], "uln_si": [4.0, None, None], "baseline_si": [None] * 3},
                      schema_overrides={"baseline_si": pl.Float64})
    out = grade_labs(df)
    for col in OUTPUT_SCHEMA:
        if col != "grade_from_qualifier":
            assert out[col].to_list() == [None, None, None], col
    assert out["grade_from_qualifier"].to_list() == [False] * 3


def test_nan_value_is_missing_not_zero():
    df = pl.DataFrame({"test_code": ["ALT"], "value_si": [float("nan")], "lln_si": [7.0], "uln_si": [40.0],
                       "baseline_si": [float("nan")]})
    out = grade_labs(df)
    assert out["ctcae_grade_high"].to_list() == [None]
    assert out["ctcae_grade"].to_list() == [None]


def test_integer_columns_and_missing_optional_columns_are_accepted():
    df = pl.DataFrame({"test_code": ["PLAT", "UPROT", "INR"], "value_si": [20, None, 3],
                       "lln_si": [150, None, None], "uln_si": [400, None, None], "baseline_si": [None, None, 2]},
                      schema_overrides={"value_si": pl.Int64, "baseline_si": pl.Int64})
    out = grade_labs(df)
    # no result_text: dipstick cannot be read; no on_anticoagulation: INR absolute thresholds
    assert out["ctcae_grade"].to_list() == [4, None, 3]


def test_missing_required_column_is_named():
    df = pl.DataFrame({"test_code": ["ALT"], "value_si": [1.0], "uln_si": [40.0]})
    with pytest.raises(ValueError, match=r"lln_si, baseline_si"):
        grade_labs(df)


def test_empty_frame_gets_typed_columns():
    df = _frame([])
    out = grade_labs(df)
    assert out.height == 0 and all(out.schema[n] == t for n, t in OUTPUT_SCHEMA.items())


def test_existing_grade_columns_are_replaced():
    df = _frame(CASES[:3]).with_columns(pl.lit(9, dtype=pl.Int8).alias("ctcae_grade"))
    out = grade_labs(df)
    assert out.columns.count("ctcae_grade") == 1 and 9 not in out["ctcae_grade"].to_list()


# ctcae_grade = the worse of low and high. A direction the test has no criteria for is ignored;
# when both exist and one cannot be graded, the other counts only if it is a real grade (>= 1).
COMBINED = [
    # id, test, value, lln, uln, baseline, low, high, combined, comment
    ("comb-01", "HGB", 140.0, 120.0, 160.0, None, 0, 0, 0, "both 0"),
    ("comb-02", "HGB", 95.0, 120.0, 160.0, None, 2, 0, 2, "low wins"),
    ("comb-03", "HGB", 185.0, 120.0, 160.0, None, 0, 2, 2, "high wins"),
    ("comb-04", "HGB", 140.0, 120.0, None, None, 0, None, None, "high unknown, low 0: not 'normal'"),
    ("comb-05", "HGB", 95.0, 120.0, None, None, 2, None, 2, "high unknown but low is a real grade"),
    ("comb-06", "HGB", 140.0, None, None, None, None, None, None, "both unknown"),
    ("comb-07", "ALT", 130.0, None, 40.0, None, None, 2, 2, "ALT has no low term: its high grade"),
    ("comb-08", "ALT", 30.0, None, 40.0, None, None, 0, 0, "no low term: 0 stays 0"),
    ("comb-09", "PLAT", 100.0, None, None, None, None, None, None, "single term, unknown"),
    ("comb-10", "K", 5.0, None, 5.1, None, None, 0, None, "LLN missing, high 0: cannot say normal"),
    ("comb-11", "K", 2.4, None, None, None, 4, None, 4, "both limits missing, <2.5 is grade 4"),
]


@pytest.mark.parametrize("row", COMBINED, ids=lambda r: r[0])
def test_combined_grade(row):
    cid, test, value, lln, uln, base, low, high, combined, comment = row
    df = pl.DataFrame({"test_code": [test], "value_si": [value], "lln_si": [lln], "uln_si": [uln],
                       "baseline_si": [base]},
                      schema={"test_code": pl.String, "value_si": pl.Float64, "lln_si": pl.Float64,
                              "uln_si": pl.Float64, "baseline_si": pl.Float64})
    out = grade_labs(df).row(0, named=True)
    assert (out["ctcae_grade_low"], out["ctcae_grade_high"], out["ctcae_grade"]) == (low, high, combined), comment
    assert grade_row(df.row(0, named=True)) == {k: out[k] for k in OUTPUT_SCHEMA}


def test_vectorised_matches_per_row_reference_on_random_rows():
    """Random values around every record's thresholds, limits and baselines (some missing):
    grade_labs must equal the plain-Python reference row by row."""
    rng = random.Random(20261128)
    crit = load_criteria()
    rows = []
    for _ in range(6000):
        r = rng.choice(crit.records)
        lln = rng.choice([None, round(rng.uniform(0.5, 2), 3)])
        uln = None if rng.random() < 0.1 else round((lln or 1) * rng.uniform(1.5, 4), 3)
        base = rng.choice([None, 0.0, round(rng.uniform(0.2, 6) * (uln or 1), 3)])
        pts = []
        for t in r.thresholds:
            ref = {"abs": 1.0, "uln": uln, "lln": lln, "baseline": base}[t.basis]
            if ref:
                pts.append(t.value if t.basis == "abs" else ref * t.factor + t.offset)
        v = rng.choice(pts) * rng.choice([1.0, 0.999, 1.001, 0.5, 2.0]) if pts else rng.uniform(0, 10)
        rows.append({"test_code": r.test, "value_si": None if rng.random() < 0.05 else round(v, 4),
                     "lln_si": lln, "uln_si": uln, "baseline_si": base,
                     "result_text": rng.choice(["Neg", "Trace", "1+", "2+", "3+", "4+", "x", None]),
                     "on_anticoagulation": rng.choice([None, False, True])})
    df = pl.DataFrame(rows, schema={"test_code": pl.String, "value_si": pl.Float64, "lln_si": pl.Float64,
                                    "uln_si": pl.Float64, "baseline_si": pl.Float64,
                                    "result_text": pl.String, "on_anticoagulation": pl.Boolean})
    got = grade_labs(df).select(list(OUTPUT_SCHEMA))
    want = pl.DataFrame([grade_row(r) for r in rows], schema=OUTPUT_SCHEMA)
    diff = [i for i, (a, b) in enumerate(zip(got.iter_rows(), want.iter_rows())) if a != b]
    assert not diff, [(rows[i], got.row(i), want.row(i)) for i in diff[:5]]


def test_tolerance_is_tiny():
    assert REL_TOL <= 1e-9   # lab values carry at most ~6 significant digits


# ================================================================================ blood pressure
# Hypertension (adult) -- G1 "Systolic BP 120 - 139 mm Hg or diastolic BP 80 - 89 mm Hg"
#   G2 "Systolic BP 140 - 159 mm Hg or diastolic BP 90 - 99 mm Hg if previously WNL; ..."
#   G3 "Systolic BP >=160 mm Hg or diastolic BP >=100 mm Hg; ..."   (G4 life-threatening: clinical)
BP = [
    # id, systolic, diastolic, grade, comment
    ("bp-01", 119, 79, 0, "both below grade 1"),
    ("bp-02", 120, 79, 1, "SBP 120 inclusive"),
    ("bp-03", 119, 80, 1, "DBP 80 inclusive"),
    ("bp-04", 139, 89, 1, "top of grade 1"),
    ("bp-05", 139.5, 70, 1, "between 139 and 140: read as [120, 140)"),
    ("bp-06", 140, 70, 2, "SBP 140"),
    ("bp-07", 120, 90, 2, "DBP 90 makes grade 2"),
    ("bp-08", 159, 99, 2, "top of grade 2"),
    ("bp-09", 160, 70, 3, "SBP >=160"),
    ("bp-10", 110, 100, 3, "DBP >=100"),
    ("bp-11", 200, 130, 3, "grade 4 is clinical"),
    ("bp-12", None, None, None, "no reading"),
    ("bp-13", 165, None, 3, "DBP missing but SBP alone gives the top value grade"),
    ("bp-14", 125, None, None, "DBP missing: could be >=100"),
    ("bp-15", None, 70, None, "SBP missing: could be >=160"),
    ("bp-16", None, 105, 3, "DBP alone gives grade 3"),
    ("bp-17", 145, 85, 2, "worse of SBP grade 2 and DBP grade 1"),
]


def test_grade_bp_table():
    df = pl.DataFrame({"case": [r[0] for r in BP], "systolic_bp": [r[1] for r in BP],
                       "diastolic_bp": [r[2] for r in BP]},
                      schema={"case": pl.String, "systolic_bp": pl.Float64, "diastolic_bp": pl.Float64})
    out = grade_bp(df)
    assert out["ctcae_term_high"].unique().to_list() == ["Hypertension"]
    assert {n: out.schema[n] for n in BP_OUTPUT_SCHEMA} == BP_OUTPUT_SCHEMA
    for (cid, s, d, want, comment), got in zip(BP, out["ctcae_grade"].to_list()):
        assert got == want, f"{cid} {s}/{d}: {got} != {want} ({comment})"
    assert out["ctcae_grade_high"].to_list() == out["ctcae_grade"].to_list()


def test_grade_bp_column_names_and_missing_columns():
    df = pl.DataFrame({"sbp": [150], "dbp": [70]})
    assert grade_bp(df, systolic="sbp", diastolic="dbp")["ctcae_grade"].to_list() == [2]
    with pytest.raises(ValueError, match="systolic_bp"):
        grade_bp(df)


def test_omitted_outputs_are_not_built_and_the_others_are_unchanged():
    """grade_labs(omit=...) (a check's rules read no unit-graded text): the same frame as the
    whole grading without those columns, on every boundary case."""
    omit = ("unit_graded_low", "unit_graded_high", "unit_graded", "grade_from_qualifier")
    df = _frame(CASES)
    lean = grade_labs(df, omit=omit)
    assert not set(omit) & set(lean.columns)
    assert lean.equals(grade_labs(df).drop(omit))
    assert grade_labs(df.clear(), omit=omit).columns == lean.columns


@pytest.mark.parametrize("side", ["low", "high"])
def test_term_expr_is_the_graded_term_of_every_boundary_case(side):
    """term_expr (what a check's rules read instead of the term text): the ctcae_term_<side>
    grade_labs gives, row for row, with null for codes without a criterion in that direction."""
    from monitor.ctcae.grade import term_expr

    df = pl.concat([_frame(CASES), _frame(CASES).with_columns(pl.lit("NOSUCH").alias("test_code"))])
    out = grade_labs(df)
    assert out.select(term_expr(side)).to_series().equals(out.get_column(f"ctcae_term_{side}"), check_names=False)
