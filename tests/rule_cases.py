"""Bad and good cases for every rule code: small mutations of builders.valid_study().

A BAD case must raise its code exactly at the listed `Sheet!Cell`s (`Sheet` alone for a
sheet-level finding, `-` for a workbook-level one) and no other code outside `allow`.
A GOOD case is the closest valid variant (often the boundary value just inside the range):
no finding of its code, and again nothing outside `allow`.

Rows in comments are Excel rows of the valid study (header in row 1):
  Subjects  2:1001  3:1002 (off-treatment 2025-06-20)  4:1003
  Cycles    2:1001 C1 QL1604  3:1001 C1 Bev  4:1001 C2 QL1604  5:1001 C2 Bev  6:1002 C1 QL1604
            7:1002 C1 Bev  8:1002 C2 QL1604 Held  9:1002 C2 Bev  10:1003 C1 QL-1604  11:1003 C1 Avastin
  Labs      2:1001 ALT  3:AST  4:BILI  5:HGB  6:PLAT  7:INR  8:AFP  9:urine protein  10:ALT (C2)
            11:1002 SGPT  12:PIVKA-II ND  13:ALT 248  14:1003 ALT <5  15:AFP >1210  16:NEUT
  AdverseEvents  2:1001 #1 Fatigue g1  3:1001 #2 Hypertension g2 (onset UNK-APR-2025, ongoing)
                 4:1002 #1 ALT increased g3 serious
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from builders import (add_column, copy_row, delete_column, delete_row, insert_title_rows,
                      rename_header, set_cell, set_cells, set_study)


@dataclass(frozen=True)
class Case:
    code: str
    id: str
    bad: bool
    mutate: Callable
    at: tuple = ()            # bad: expected locations of `code` findings (a multiset)
    allow: tuple = ()         # other codes this case may also raise
    comment: str = ""
    rules: str | None = None  # None: the registry; "crash"/"calm": the registry plus a fake rule
    cached: tuple = ()        # ((sheet, cell, value), ...) cached values for formula cells
    profile: str | None = None  # a bundled profile name (None: the seed study's)

    @property
    def test_id(self) -> str:
        return f"{self.code}-{'bad' if self.bad else 'good'}-{self.id}"


def bad(code, id, mutate, at, allow=(), comment="", **kw) -> Case:
    return Case(code, id, True, mutate, tuple(at) if isinstance(at, (list, tuple)) else (at,),
                tuple(allow), comment, **kw)


def good(code, id, mutate, allow=(), comment="", **kw) -> Case:
    return Case(code, id, False, mutate, (), tuple(allow), comment, **kw)


# ------------------------------------------------------------ tiny mutation vocabulary

def cell(sheet, idx, header, value):
    return lambda s: set_cell(s, sheet, idx, header, value)


def cells(sheet, idx, **by_header):
    return lambda s: set_cells(s, sheet, idx, **by_header)


def study(field, value):
    return lambda s: set_study(s, field, value)


def steps(*fns):
    def run(s):
        for f in fns:
            f(s)
        return s
    return run


def nothing(s):
    return s


def d(y, m, day):
    return datetime(y, m, day)


S, C, L, AE, V, T = "Subjects", "Cycles", "Labs", "AdverseEvents", "Vitals", "Tumor"
LAB_HEADER_GARBLED = ["Pt", "Day", "Analyte", "Val", "U", "Lo", "Hi", "Note"]


def _garble_labs_header(s):
    s[L][0] = list(LAB_HEADER_GARBLED)
    return s


CASES: list[Case] = [
    # ------------------------------------------------------------------ WB000 (crash guard)
    bad("WB000", "crashing-rule-recorded", nothing, "-", rules="crash",
        comment="a fake rule raising RuntimeError becomes one WB000 finding; the other rules still run"),
    good("WB000", "calm-fake-rule", nothing, rules="calm"),

    # ------------------------------------------------------------------ structure
    bad("WB001", "garbled-header", _garble_labs_header, "Labs",
        comment="no Labs row has two known headers; every Labs rule is skipped, nothing cascades"),
    bad("WB001", "header-below-scan-window", lambda s: insert_title_rows(s, L, [["Lab results"]] * 30),
        "Labs", comment="header on row 31: outside the first 30 rows scanned"),
    good("WB001", "header-on-last-scanned-row", lambda s: insert_title_rows(s, L, [["Lab results"]] * 29),
         comment="header on row 30: the last row scanned"),

    bad("WB002", "grade-column-missing", lambda s: delete_column(s, AE, "Grade"), "AdverseEvents!A1"),
    bad("WB002", "related-column-missing", lambda s: delete_column(s, AE, "Related to Bevacizumab"),
        "AdverseEvents!A1", comment="one Related-to column per profile drug is required"),
    good("WB002", "grade-column-by-alias", lambda s: rename_header(s, AE, "Grade", "CTCAE grade")),
    good("WB002", "optional-column-absent", lambda s: delete_column(s, AE, "Verbatim term")),

    bad("WB003", "unknown-header", lambda s: add_column(s, L, "Lab comment 2", ["repeat draw"]), "Labs!I1"),
    bad("WB003", "data-without-header", lambda s: add_column(s, L, None, ["stray note"]), "Labs!I1",
        comment="values in a column with no header are kept and reported"),
    good("WB003", "known-header-other-case", lambda s: rename_header(s, L, "Comment", " COMMENT ")),

    bad("WB004", "result-and-value", lambda s: add_column(s, L, "Value", [33]), "Labs!I1",
        comment="`Value` is an alias of `Result`: only the first is read"),
    good("WB004", "value-alone", lambda s: rename_header(s, L, "Result", "Value")),

    bad("WB005", "formula-no-cached-value", cell(L, 0, "Comment", "=1+1"), "Labs!H2"),
    good("WB005", "formula-with-cached-value", cell(L, 0, "Comment", "=1+1"), cached=((L, "H2", "2"),),
         comment="Excel saves the result with the formula; the saved value is read"),

    bad("WB006", "site-blank", study("Site", None), "Study!B3"),
    bad("WB006", "site-row-absent", lambda s: s["Study"].pop(2), "Study"),
    good("WB006", "field-name-lower-case", lambda s: s["Study"][2].__setitem__(0, " site ")),

    bad("WB007", "other-profile", study("Profile", "other_study"), "Study!B4"),
    good("WB007", "profile-other-case", study("Profile", "QL1604_BEV_HCC")),

    bad("WB008", "unknown-date-format", study("Date format", "D.M.Y"), "Study!B5"),
    good("WB008", "dd-mm-yyyy-lower-case", study("Date format", "dd/mm/yyyy")),

    # ------------------------------------------------------------------ cell values
    bad("WB101", "grade-blank", cell(AE, 0, "Grade", None), "AdverseEvents!E2"),
    bad("WB101", "consent-date-unk", cell(S, 0, "Consent date", "UNK"), "Subjects!E2",
        comment="a missing marker in a required date is still missing"),
    good("WB101", "lab-result-not-done", cell(L, 0, "Result", "not done"),
         comment="contract: a Labs result may be a missing marker (test not done)"),
    good("WB101", "optional-blank", cell(S, 1, "Off-treatment reason", None)),

    bad("WB102", "words", cell(L, 0, "Date", "5th July"), "Labs!B2"),
    good("WB102", "clinical-with-spaces", cell(L, 0, "Date", "07 Mar 2025")),

    bad("WB103", "31-feb", cell(C, 0, "Date", "31-FEB-2025"), "Cycles!C2"),
    good("WB103", "29-feb-leap-year", cell(L, 0, "Date", "2024-02-29")),
    good("WB103", "28-feb", cell(C, 0, "Date", "28-FEB-2025"), allow=("WB209",),
         comment="a real day (before consent, hence WB209)"),

    bad("WB104", "day-month-unknown", cell(L, 0, "Date", "07/03/2025"), "Labs!B2"),
    good("WB104", "dd-mm-yyyy-declared", steps(study("Date format", "DD/MM/YYYY"), cell(L, 0, "Date", "07/03/2025"))),

    bad("WB105", "lab-date-year-month", cell(L, 0, "Date", "2025-03"), "Labs!B2"),
    bad("WB105", "consent-unk-day", cell(S, 0, "Consent date", "UNK-MAR-2025"), "Subjects!E2"),
    good("WB105", "ae-onset-year-month", cell(AE, 0, "Onset date", "2025-03")),

    bad("WB106", "serial-number", cell(S, 0, "Consent date", 12), "Subjects!E2",
        comment="12 in a date cell reads as 1900-01-11"),
    bad("WB106", "partial-1949", cell(AE, 0, "Onset date", "UNK-DEC-1949"), "AdverseEvents!F2",
        allow=("AE011", "AE012"), comment="the earliest possible day is still compared with consent and dosing"),
    good("WB106", "1950", cell(S, 0, "Consent date", "1950-01-01")),
    good("WB106", "partial-1950", cell(AE, 0, "Onset date", "UNK-JAN-1950"), allow=("AE011", "AE012")),

    bad("WB107", "decimal-comma", cell(S, 0, "Weight (kg)", "72,5"), "Subjects!D2"),
    bad("WB107", "number-with-unit", cell(C, 0, "Dose", "200 mg"), "Cycles!E2",
        comment="an unreadable dose is not also a missing dose"),
    good("WB107", "decimal-point-text", cell(S, 0, "Weight (kg)", "72.5")),

    bad("WB108", "fraction", cell(C, 2, "Cycle", 2.5), "Cycles!B4"),
    good("WB108", "whole-as-decimal", cell(C, 2, "Cycle", "2.0")),

    bad("WB109", "maybe", cell(AE, 0, "Serious", "maybe"), "AdverseEvents!I2"),
    bad("WB109", "two", cell(AE, 0, "Immune-related", 2), "AdverseEvents!P2"),
    good("WB109", "boolean-cell", cell(AE, 0, "Serious", False)),

    bad("WB110", "action-skipped", cell(C, 0, "Action", "Skipped"), "Cycles!H2"),
    good("WB110", "action-lower-case", cell(C, 0, "Action", "given")),
    good("WB110", "bclc-zero-number", cell(S, 0, "BCLC stage", 0), comment="a number 0 cell is stage 0"),

    bad("WB111", "age-17", cell(S, 0, "Age", 17), "Subjects!C2"),
    bad("WB111", "age-101", cell(S, 0, "Age", 101), "Subjects!C2"),
    bad("WB111", "age-huge", cell(S, 0, "Age", "99999999999999999999"), "Subjects!C2",
        comment="a number beyond 64 bits must not vanish"),
    good("WB111", "age-18", cell(S, 0, "Age", 18)),
    good("WB111", "age-100", cell(S, 0, "Age", 100)),
    bad("WB111", "weight-24.9", cell(S, 0, "Weight (kg)", 24.9), "Subjects!D2"),
    bad("WB111", "weight-250.1", cell(S, 0, "Weight (kg)", 250.1), "Subjects!D2"),
    good("WB111", "weight-25", cell(S, 0, "Weight (kg)", 25)),
    good("WB111", "weight-250", cell(S, 0, "Weight (kg)", 250)),
    bad("WB111", "grade-0", cell(AE, 0, "Grade", 0), "AdverseEvents!E2"),
    bad("WB111", "grade-6", cell(AE, 0, "Grade", 6), "AdverseEvents!E2"),
    good("WB111", "grade-1", cell(AE, 1, "Grade", 1)),
    good("WB111", "grade-5", cells(AE, 0, CTCAE_term="Sepsis", Grade=5, Outcome="Fatal"), allow=("AE013",)),
    bad("WB111", "ecog-minus-1", cell(S, 0, "ECOG", -1), "Subjects!H2"),
    bad("WB111", "ecog-6", cell(V, 0, "ECOG", 6), "Vitals!F2"),
    good("WB111", "ecog-0", cell(S, 0, "ECOG", 0)),
    good("WB111", "ecog-5", cell(V, 0, "ECOG", 5)),

    bad("WB112", "lab-tomorrow", cell(L, 0, "Date", d(2026, 1, 2)), "Labs!B2"),
    bad("WB112", "partial-onset-next-month", cell(AE, 1, "Onset date", "2026-02"), "AdverseEvents!F3"),
    good("WB112", "lab-today", cell(L, 0, "Date", d(2026, 1, 1))),
    good("WB112", "held-dose-planned", cell(C, 6, "Date", d(2026, 1, 20)),
         comment="a planned, not-given dose may be in the future"),
    good("WB112", "partial-onset-this-month", cell(AE, 1, "Onset date", "2026-01"),
         comment="earliest possible day 2026-01-01 is not after today"),

    # ------------------------------------------------------------------ references and records
    bad("WB201", "subject-twice-as-text", lambda s: copy_row(s, S, 0, Subject_ID="1001.0"), "Subjects!A5",
        comment="1001 typed as a number and '1001.0' as text are the same ID"),
    good("WB201", "new-subject", lambda s: copy_row(s, S, 0, Subject_ID=1004)),

    bad("WB202", "lab-of-unknown-subject", cell(L, 0, "Subject ID", 1009), "Labs!A2"),
    good("WB202", "id-as-text-with-decimals", cell(L, 0, "Subject ID", "1001.0")),

    bad("WB203", "sorafenib", cell(C, 0, "Drug", "Sorafenib"), "Cycles!D2"),
    good("WB203", "alias-any-case", cell(C, 1, "Drug", "BEVACIZUMAB BIOSIMILAR")),

    bad("WB204", "row-entered-twice", lambda s: copy_row(s, C, 0), "Cycles!B12",
        comment="same cycle and date: reported once, on the cycle"),
    bad("WB204", "same-date-other-cycle", lambda s: copy_row(s, C, 0, Cycle=3), "Cycles!C12"),
    bad("WB204", "same-cycle-by-alias", lambda s: copy_row(s, C, 1, Drug="Avastin", Date=d(2025, 3, 11)),
        "Cycles!B12"),
    good("WB204", "next-cycle", lambda s: copy_row(s, C, 2, Cycle=3, Date=d(2025, 4, 21))),

    bad("WB205", "given-no-dose", cell(C, 0, "Dose", None), "Cycles!E2"),
    bad("WB205", "reduced-dose-nd", cells(C, 0, Dose="ND", Action="Reduced", Reason="grade 2 fatigue"),
        "Cycles!E2"),
    good("WB205", "delayed-no-dose", cells(C, 0, Dose=None, Unit=None, Action="Delayed", Reason="holiday")),

    bad("WB206", "unit-blank", cell(C, 0, "Unit", None), "Cycles!F2"),
    good("WB206", "unit-upper-case", cell(C, 0, "Unit", "MG")),

    bad("WB207", "held-no-reason", cell(C, 6, "Reason", None), "Cycles!I8"),
    bad("WB207", "reduced-no-reason", cells(C, 0, Dose=150, Action="Reduced"), "Cycles!I2"),
    good("WB207", "held-with-reason", cell(C, 6, "Reason", "patient request")),

    bad("WB208", "off-day-before-consent", cell(S, 1, "Off-treatment date", d(2025, 3, 9)), "Subjects!I3",
        allow=(), comment="consent 2025-03-10"),
    good("WB208", "off-on-consent-day", cell(S, 1, "Off-treatment date", d(2025, 3, 10))),

    bad("WB209", "dose-day-before-consent", cell(C, 0, "Date", d(2025, 3, 2)), "Cycles!C2",
        comment="consent 2025-03-03"),
    good("WB209", "dose-on-consent-day", cell(C, 0, "Date", d(2025, 3, 3))),
    good("WB209", "held-before-consent", cells(C, 6, Date=d(2025, 3, 1)),
         comment="a held (not given) dose is not a dose"),

    bad("WB210", "equal", cells(V, 0, Systolic_BP=82, Diastolic_BP=82), "Vitals!C2"),
    good("WB210", "one-above", cells(V, 0, Systolic_BP=83, Diastolic_BP=82)),

    # ------------------------------------------------------------------ labs as entered
    bad("LAB001", "garbled-name", cell(L, 0, "Test", "ALT (SGPT)x"), "Labs!C2",
        comment="no unit or range findings cascade from an unknown test"),
    good("LAB001", "alias", cell(L, 0, "Test", "sgpt")),
    bad("LAB001", "one-finding-per-unknown-test", steps(cell(L, 0, "Test", "Hematocrite"),
        lambda s: copy_row(s, L, 0, Date=d(2025, 3, 8)), lambda s: copy_row(s, L, 0, Date=d(2025, 3, 9))),
        "Labs!C2", comment="three rows of one unknown test: one info finding at the first cell"),
    good("LAB001", "cdisc-lbtest-name", cell(L, 4, "Test", "Platelet"), comment="CDISC pilot LBTEST for PLAT"),
    good("LAB001", "cdisc-code-bun", lambda s: copy_row(s, L, 0, Test="BUN", Result=14, Unit="mg/dL", LLN=4, ULN=24)),
    good("LAB001", "cdisc-urinalysis", lambda s: copy_row(s, L, 7, Test="KETONES", Result="Trace")),

    bad("LAB002", "alt-in-mg-dl", cell(L, 0, "Unit", "mg/dL"), "Labs!E2"),
    good("LAB002", "alt-in-iu-l", cell(L, 0, "Unit", "IU/L")),
    good("LAB002", "micro-sign", cells(L, 2, Unit="µmol/L")),
    good("LAB002", "us-count-unit", cells(L, 4, Unit="THOU/uL"), comment="CDISC pilot LBORRESU; GI/L = 10^9/L"),
    bad("LAB002", "serum-protein-in-mmol-l", lambda s: copy_row(s, L, 0, Test="PROT", Result=65, Unit="mmol/L",
        LLN=None, ULN=None), "Labs!E17",
        comment="protein has no molar mass in the catalogue: mmol/L does not convert (mg/dL would: 650 mg/dL = 65 g/L)"),
    good("LAB002", "serum-protein-g-dl", lambda s: copy_row(s, L, 0, Test="PROT", Result=6.5, Unit="g/dL",
         LLN=6, ULN=8), comment="PROT in g/dL is serum total protein, not the urine dipstick"),

    bad("LAB003", "alt-no-unit", cell(L, 0, "Unit", None), "Labs!E2"),
    good("LAB003", "inr-no-unit", cell(L, 5, "Unit", None)),

    bad("LAB004", "alt-positive", cell(L, 0, "Result", "positive"), "Labs!D2"),
    bad("LAB004", "dipstick-5-plus", cell(L, 7, "Result", "5+"), "Labs!D9"),
    good("LAB004", "dipstick-1-plus", cell(L, 7, "Result", "1+"), comment="2+ is grade 2 proteinuria: LAB101"),
    good("LAB004", "qualified", cell(L, 0, "Result", "≤5")),

    bad("LAB005", "entered-twice", lambda s: copy_row(s, L, 0), "Labs!D17"),
    bad("LAB005", "entered-twice-by-alias", lambda s: copy_row(s, L, 0, Test="SGPT"), "Labs!D17"),
    good("LAB005", "next-day", lambda s: copy_row(s, L, 0, Date=d(2025, 3, 8))),

    bad("LAB006", "two-values", lambda s: copy_row(s, L, 0, Result=33), "Labs!D17"),
    good("LAB006", "other-test-same-day", lambda s: copy_row(s, L, 0, Test="GGT", Result=33)),

    bad("LAB007", "lln-above-uln", cells(L, 0, LLN=50, ULN=40), "Labs!F2"),
    good("LAB007", "lln-equals-uln", cells(L, 0, LLN=40, ULN=40)),

    bad("LAB008", "alt-without-uln", cell(L, 0, "ULN", None), "Labs!G2"),
    bad("LAB008", "hgb-without-lln", cell(L, 3, "LLN", None), "Labs!F5"),
    good("LAB008", "alt-not-done-without-uln", cells(L, 0, Result="ND", ULN=None)),
    good("LAB008", "afp-without-uln", cell(L, 6, "ULN", None), comment="AFP is not CTCAE-graded"),

    bad("LAB009", "hgb-128-g-dl", cells(L, 3, Result=128, Unit="g/dL"), "Labs!D5",
        comment="1280 g/L is beyond any whole blood (plausible 5 - 250 g/L): meant g/L"),
    good("LAB009", "hgb-25-g-dl", cells(L, 3, Result=25, Unit="g/dL"),
         comment="250 g/L is the upper plausibility limit itself"),

    # ------------------------------------------------------------------ adverse events as entered
    bad("AE001", "number-repeated", cell(AE, 1, "AE number", 1), "AdverseEvents!B3"),
    good("AE001", "number-gap", cell(AE, 1, "AE number", 3)),

    bad("AE002", "end-day-before-onset", cell(AE, 0, "End date", d(2025, 3, 19)), "AdverseEvents!G2"),
    bad("AE002", "partial-end-month-before", cell(AE, 0, "End date", "2025-02"), "AdverseEvents!G2"),
    bad("AE002", "end-before-partial-onset", cells(AE, 1, Ongoing="N", End_date="2025-03-31"), "AdverseEvents!G3",
        comment="onset UNK-APR-2025 is 1 April at the earliest"),
    good("AE002", "end-on-onset-day", cell(AE, 0, "End date", d(2025, 3, 20))),
    good("AE002", "partial-end-same-month", cell(AE, 0, "End date", "2025-03"),
         comment="March 2025 may end on or after 20 March: not a certain contradiction"),

    bad("AE003", "ongoing-with-end", cell(AE, 0, "Ongoing", "Y"), "AdverseEvents!H2"),
    good("AE003", "not-ongoing-with-end", cell(AE, 0, "Ongoing", "no")),

    bad("AE004", "not-ongoing-no-end", cell(AE, 1, "Ongoing", "N"), "AdverseEvents!G3"),
    good("AE004", "not-ongoing-partial-end", cells(AE, 1, Ongoing="N", End_date="2025-05")),

    bad("AE005", "report-date-blank", cell(AE, 2, "Date reported", None), "AdverseEvents!K4"),
    bad("AE005", "aware-date-blank", cell(AE, 2, "Date aware", None), "AdverseEvents!J4"),
    bad("AE005", "no-aware-column", lambda s: delete_column(s, AE, "Date aware"), "AdverseEvents!I4",
        comment="Date aware is optional as a column but needed for a serious AE"),
    good("AE005", "not-serious-no-dates", cells(AE, 2, Serious="N", Date_aware=None, Date_reported=None)),

    bad("AE006", "reported-day-before-aware", cell(AE, 2, "Date reported", d(2025, 4, 1)), "AdverseEvents!K4"),
    good("AE006", "reported-on-aware-day", cell(AE, 2, "Date reported", d(2025, 4, 2))),

    bad("AE007", "not-a-ctcae-term", cell(AE, 0, "CTCAE term", "Immune hepatitis"), "AdverseEvents!C2"),
    good("AE007", "other-case-and-spaces", cell(AE, 0, "CTCAE term", "  fatigue ")),
    good("AE007", "other-specify", cells(AE, 0, CTCAE_term="Hepatobiliary disorders - Other, specify")),

    bad("AE008", "alopecia-3", cells(AE, 0, CTCAE_term="Alopecia", Grade=3), "AdverseEvents!E2"),
    bad("AE008", "fatigue-4", cell(AE, 0, "Grade", 4), "AdverseEvents!E2"),
    good("AE008", "alopecia-2", cells(AE, 0, CTCAE_term="Alopecia", Grade=2)),
    good("AE008", "hypertension-5", cells(AE, 1, Grade=5, Outcome="Fatal"), allow=("AE013",),
         comment="CTCAE v5.0 Hypertension grade 5 is Death"),

    bad("AE009", "reported-two-days-after-aware", cell(AE, 2, "Date reported", d(2025, 4, 4)), "AdverseEvents!K4",
        comment="24 hours with date-only cells: the next day is the last allowed"),
    good("AE009", "reported-next-day", cell(AE, 2, "Date reported", d(2025, 4, 3))),
    good("AE009", "late-but-not-serious", cells(AE, 2, Serious="N", Date_reported=d(2025, 4, 9))),

    bad("AE010", "grade-5-recovered", cells(AE, 0, CTCAE_term="Sepsis", Grade=5), "AdverseEvents!E2",
        allow=("AE013",)),
    bad("AE010", "fatal-grade-3", cell(AE, 2, "Outcome", "Fatal"), "AdverseEvents!E4"),
    good("AE010", "grade-5-death-alias", cells(AE, 0, CTCAE_term="Sepsis", Grade=5, Outcome="death"),
         allow=("AE013",)),

    bad("AE011", "onset-day-before-consent", cell(AE, 0, "Onset date", d(2025, 3, 2)), "AdverseEvents!F2",
        allow=("AE012",), comment="consent 2025-03-03, first dose 2025-03-10"),
    bad("AE011", "partial-onset-month-before", cell(AE, 0, "Onset date", "2025-02"), "AdverseEvents!F2",
        allow=("AE012",)),
    good("AE011", "onset-on-consent-day", cell(AE, 0, "Onset date", d(2025, 3, 3)), allow=("AE012",)),
    good("AE011", "partial-onset-consent-month", cell(AE, 0, "Onset date", "2025-03"),
         comment="March 2025 may be after consent (3 March) and after the first dose (10 March)"),

    # ICH E2A II.B: an adverse event that results in death is serious
    bad("AE013", "grade-5-fatal-not-serious", cells(AE, 0, CTCAE_term="Sepsis", Grade=5, Outcome="Fatal"),
        "AdverseEvents!I2", comment="CDISC pilot: three deaths recorded AESER = N"),
    bad("AE013", "fatal-outcome-grade-3-not-serious", cell(AE, 1, "Outcome", "Fatal"), "AdverseEvents!I3",
        allow=("AE010",), comment="the outcome alone decides; AE010 adds the grade mismatch"),
    good("AE013", "grade-5-fatal-serious", cells(AE, 0, CTCAE_term="Sepsis", Grade=5, Outcome="Fatal", Serious="Y",
         Date_aware=d(2025, 3, 21), Date_reported=d(2025, 3, 21))),
    good("AE013", "grade-4-not-serious", cells(AE, 0, CTCAE_term="Sepsis", Grade=4, Outcome="Recovered")),
    bad("AE012", "onset-day-before-first-dose", cell(AE, 0, "Onset date", d(2025, 3, 9)), "AdverseEvents!F2"),
    good("AE012", "onset-on-first-dose-day", cell(AE, 0, "Onset date", d(2025, 3, 10))),
    good("AE012", "held-dose-is-not-a-first-dose", steps(cells(C, 8, Action="Held", Dose=None, Unit=None,
                                                               Reason="bleeding risk"),
                                                         cells(AE, 0, Subject_ID=1003, AE_number=1,
                                                               Onset_date=d(2025, 4, 10),
                                                               End_date=d(2025, 4, 20))),
         comment="1003's QL1604 held on 2025-04-09; Avastin given the same day is the first dose"),

    # ------------------------------------------------------------------ safety reconciliation
    bad("LAB101", "ae-starts-after-tolerance", cell(AE, 2, "Onset date", d(2025, 4, 5)), "Labs!D13",
        comment="ALT 248 (6.2 x ULN, grade 3) drawn 2025-04-01; the AE may start up to 3 days after"),
    bad("LAB101", "no-ae", lambda s: delete_row(s, AE, 2), "Labs!D13"),
    good("LAB101", "ae-starts-at-tolerance", cell(AE, 2, "Onset date", d(2025, 4, 4))),
    good("LAB101", "mapped-term", cells(AE, 2, CTCAE_term="Hepatic failure"),
         comment="the profile counts Hepatic failure as reporting ALT increased"),

    bad("LAB102", "alt-6x-bili-2.02x", lambda s: copy_row(s, L, 2, Subject_ID=1002, Date=d(2025, 4, 1), Result=41.5),
        "Labs!D13", comment="bilirubin 41.5 / ULN 20.5 > 2 x ULN on the ALT date"),
    bad("LAB102", "bili-within-window", lambda s: copy_row(s, L, 2, Subject_ID=1002, Date=d(2025, 4, 8), Result=60),
        "Labs!D13", allow=("LAB101",), comment="7 days after the ALT (window 7); grade 3 bilirubin needs an AE too"),
    good("LAB102", "bili-exactly-2x", lambda s: copy_row(s, L, 2, Subject_ID=1002, Date=d(2025, 4, 1), Result=41)),
    good("LAB102", "bili-outside-window", lambda s: copy_row(s, L, 2, Subject_ID=1002, Date=d(2025, 4, 9), Result=45)),

    bad("LAB103", "tsh-above-uln", lambda s: copy_row(s, L, 8, Test="TSH", Result=12.4, Unit="mIU/L", LLN=0.4, ULN=4.2),
        "Labs!D17"),
    good("LAB103", "tsh-at-uln", lambda s: copy_row(s, L, 8, Test="TSH", Result=4.2, Unit="mIU/L", LLN=0.4, ULN=4.2)),
    good("LAB103", "tsh-high-with-thyroid-ae",
         steps(lambda s: copy_row(s, L, 8, Test="TSH", Result=12.4, Unit="mIU/L", LLN=0.4, ULN=4.2),
               lambda s: copy_row(s, AE, 0, AE_number=3, CTCAE_term="Hypothyroidism", Onset_date=d(2025, 3, 28),
                                  End_date=None, Ongoing="Y", Immune_related="Y"))),

    bad("AE101", "graded-below-lab", cell(AE, 2, "Grade", 2), "AdverseEvents!E4"),
    good("AE101", "lab-before-onset", cells(AE, 2, Grade=2, Onset_date=d(2025, 4, 2)),
         comment="the grade is compared with labs inside the AE period only (LAB101 allows 3 days)"),

    bad("AE102", "graded-above-lab", cell(AE, 2, "Grade", 4), "AdverseEvents!E4"),
    bad("AE102", "abnormal-baseline", cell(L, 9, "Result", 56), "AdverseEvents!E4",
        comment="baseline 56 > ULN: CTCAE grades ALT 248 by baseline (4.4 x, grade 2)"),
    good("AE102", "graded-as-lab", cell(AE, 2, "Grade", 3)),

    bad("VS001", "grade-3-systolic", lambda s: copy_row(s, V, 2, Date=d(2025, 4, 4), Systolic_BP=160), "Vitals!C6",
        comment="1002 on treatment (first dose 03-17, baseline 118/76): grade 3 at >= 160 (CTCAE v5.0)"),
    good("VS001", "grade-2", lambda s: copy_row(s, V, 2, Date=d(2025, 4, 4), Systolic_BP=159, Diastolic_BP=99)),
    good("VS001", "baseline-reading", cells(V, 2, Systolic_BP=165, Diastolic_BP=100),
         comment="the reading of the first-dose day is the baseline: known hypertension, not treatment-emergent"),
    good("VS001", "stable-baseline-grade-3", steps(cells(V, 2, Systolic_BP=165, Diastolic_BP=100),
                                                   lambda s: copy_row(s, V, 2, Date=d(2025, 4, 4))),
         comment="grade 3 at baseline and again on treatment: not worse than baseline"),
    good("VS001", "covered-by-hypertension-ae", cells(V, 1, Systolic_BP=165, Diastolic_BP=100),
         comment="1001's Hypertension AE starts in April 2025; 31 March is within 3 days"),
]


# =====================================================================================================
# Protocol rules (issue 4): dosing and schedule (DOSE), tumour markers (MK), RECIST 1.1 (RECIST).
# Thresholds are the bundled profile's; each boundary case names its source. Valid-study facts used:
#   1001: consent 2025-03-03; C1 2025-03-10 (labs 03-07, 3 days before: the pre-dose boundary),
#         C2 2025-03-31 (ALT 45 on 03-28); bevacizumab 15 mg/kg on 72.5 kg; Vitals 72.5 / 72.0 kg;
#         AFP 1250.3 ng/mL on 03-07 (baseline, ULN 7); Tumor: T1 liver 45 mm and NT1 on 03-05
#         (baseline, 5 days before C1), T1 38 mm on 05-12 (SD, -15.6%)
#   1002: C1 2025-03-17, C2 2025-04-04 (day 18 = 21 - 3: the early boundary); QL1604 Held at C2
#         for ALT 248 U/L (grade 3) on 04-01 with AE ALT increased grade 3 04-01..04-20
#   1003: C1 2025-04-09; Avastin 15 mg/kg on 80.2 kg
# Appended rows: Cycles from row 12, Labs from row 17, AdverseEvents from row 5, Tumor from row 6.

from dataclasses import replace  # noqa: E402


def add_lesion(lid, typ, location, base_mm, followup_mm):
    """A lesion of 1001 at the baseline (03-05) and follow-up (05-12) scans: two rows appended."""
    def run(s):
        copy_row(s, T, 0, Lesion_ID=lid, Lesion_type=typ, Location=location, Diameter=base_mm)
        copy_row(s, T, 2, Lesion_ID=lid, Lesion_type=typ, Location=location, Diameter=followup_mm)
        return s
    return run


def afp(*points):
    """1001 AFP results after the first dose: (date, result) appended from Labs row 17."""
    def run(s):
        for day, value in points:
            copy_row(s, L, 6, Date=day, Result=value)
        return s
    return run


def c2_on(day, labs_day=None, **changes):
    """1001 cycle 2 (both drugs) moved to `day`; its pre-dose ALT moved to `labs_day`."""
    fns = [cells(C, 2, Date=day, **changes), cells(C, 3, Date=day, **changes)]
    if labs_day is not None:
        fns.append(cell(L, 8, "Date", labs_day))
    return steps(*fns)


QL_GIVEN = dict(Dose=200, Unit="mg", Action="Given", Reason=None)

CASES += [
    # ------------------------------------------------------------------ DOSE001 interval (21 +/- 3 days)
    bad("DOSE001", "day-17-early", cell(C, 7, "Date", d(2025, 4, 3)), "Cycles!C9",
        comment="1002 bevacizumab C2 17 days after C1: below 21 - 3 (protocol section 6, profile "
                "schedule.cycle_days / window_days)"),
    good("DOSE001", "day-18-boundary", nothing, comment="1002 C2 is day 18 in the valid study"),
    bad("DOSE001", "day-25-late", c2_on(d(2025, 4, 4), d(2025, 4, 1)), ["Cycles!C4", "Cycles!C5"],
        comment="21 + 3 = 24 is the last day in the window; labs moved so DOSE004 stays quiet"),
    good("DOSE001", "day-24-boundary", c2_on(d(2025, 4, 3), d(2025, 4, 1))),
    good("DOSE001", "day-25-delayed-with-reason",
         c2_on(d(2025, 4, 4), d(2025, 4, 1), Action="Delayed", Reason="patient request"),
         comment="a late dose recorded as Delayed with a reason is the documented delay"),
    bad("DOSE001", "day-25-delayed-without-reason", c2_on(d(2025, 4, 4), d(2025, 4, 1), Action="Delayed"),
        ["Cycles!C4", "Cycles!C5"], allow=("WB207",), comment="the issue: a delay needs Action Delayed and a reason"),

    # ------------------------------------------------------------------ DOSE002 dose vs protocol (+/- 10%)
    bad("DOSE002", "flat-220.5-mg", cell(C, 0, "Dose", 220.5), "Cycles!E2",
        comment="QL1604 200 mg flat + 10.25% (profile drugs[0].dose, schedule.dose_tolerance_pct 10)"),
    good("DOSE002", "flat-220-mg-boundary", cell(C, 0, "Dose", 220)),
    good("DOSE002", "flat-180-mg-boundary", cell(C, 0, "Dose", 180)),
    bad("DOSE002", "mg-for-weight-1082", cells(C, 9, Dose=1082, Unit="mg"), "Cycles!E11",
        comment="15 mg/kg x 80.2 kg = 1203 mg; 1082 is -10.06%"),
    good("DOSE002", "mg-for-weight-1083", cells(C, 9, Dose=1083, Unit="mg"), comment="-9.98%"),
    good("DOSE002", "flat-drug-in-mg-per-kg", cells(C, 0, Dose=2.76, Unit="mg/kg"),
         comment="2.76 mg/kg x 72.5 kg (Subjects weight) = 200.1 mg"),
    good("DOSE002", "reduced-documented", cells(C, 1, Dose=7.5, Action="Reduced", Reason="proteinuria 2+"),
         comment="Action Reduced below the protocol dose is a documented reduction"),
    bad("DOSE002", "reduced-but-above", cells(C, 1, Dose=17, Action="Reduced", Reason="typo"), "Cycles!E3"),

    # ------------------------------------------------------------------ DOSE003 weight change (>= 10%)
    bad("DOSE003", "weight-minus-10-pct", cell(V, 1, "Weight (kg)", 65.25), "Cycles!G5",
        comment="72.5 -> 65.25 kg is exactly -10% (schedule.weight_change_pct, protocol 6.1)"),
    good("DOSE003", "weight-minus-9.9-pct", cell(V, 1, "Weight (kg)", 65.3)),
    good("DOSE003", "dose-recalculated", steps(cell(V, 1, "Weight (kg)", 65.0), cell(C, 3, "Weight (kg)", 65.0))),
    good("DOSE003", "weight-out-of-range-ignored", cell(V, 1, "Weight (kg)", 7.2), allow=("WB111",),
         comment="7.2 kg is a typo reported by WB111, not a weight change"),

    # ------------------------------------------------------------------ DOSE004 pre-dose labs (3 days)
    bad("DOSE004", "labs-4-days-before", cell(L, 8, "Date", d(2025, 3, 27)), "Cycles!C4",
        comment="schedule.predose_lab_days 3 (schedule of assessments); once per visit, on the first row"),
    good("DOSE004", "labs-3-days-before-boundary", nothing, comment="1001 C1 03-10 after labs 03-07"),
    good("DOSE004", "labs-on-dose-day", cell(L, 8, "Date", d(2025, 3, 31))),
    good("DOSE004", "unreadable-lab-date-not-judged", cell(L, 8, "Date", "27/03/2025"), allow=("WB104",),
         comment="the ambiguous date may be the pre-dose draw"),

    # ------------------------------------------------------------------ DOSE005 dosed during a hold
    bad("DOSE005", "ql1604-given-alt-grade-3", cells(C, 6, **QL_GIVEN), "Cycles!H8",
        comment="hold_rules[0]: QL1604 held while ALT/AST grade >= 2 (ALT 248 = 6.2 x ULN on 04-01)"),
    good("DOSE005", "alt-recovered-ae-ended-on-dose-day",
         steps(lambda s: copy_row(s, L, 11, Date=d(2025, 4, 3), Result=60), cells(C, 6, **QL_GIVEN),
               cell(AE, 2, "End date", d(2025, 4, 4))),
         comment="latest ALT 60 (1.5 x ULN, grade 1); the AE ended on the dose day"),
    bad("DOSE005", "alt-recovered-ae-still-on",
        steps(lambda s: copy_row(s, L, 11, Date=d(2025, 4, 3), Result=60), cells(C, 6, **QL_GIVEN),
              cell(AE, 2, "End date", d(2025, 4, 5))), "Cycles!H8",
        comment="the AE ALT increased grade 3 still runs on the dose day"),
    bad("DOSE005", "hypertension-grade-3", cells(AE, 1, Grade=3, Onset_date=d(2025, 3, 20)), "Cycles!H5",
        comment="hold_rules[4]: bevacizumab held for grade 3 hypertension (PI 2.4)"),
    good("DOSE005", "hypertension-grade-3-from-dose-day", cells(AE, 1, Grade=3, Onset_date=d(2025, 3, 31)),
         comment="an AE starting on the dose day may have started after the infusion"),
    bad("DOSE005", "proteinuria-2.0-g", lambda s: copy_row(s, L, 8, Test="UPROT24", Result=2.0, Unit="g/24h",
                                                           LLN=None, ULN=0.15),
        "Cycles!H5", allow=("LAB101",), comment="hold_rules[3]: >= 2 g/24 h (PI 2.4); grade 2 also needs an AE"),
    good("DOSE005", "proteinuria-1.99-g", lambda s: copy_row(s, L, 8, Test="UPROT24", Result=1.99, Unit="g/24h",
                                                             LLN=None, ULN=0.15), allow=("LAB101",)),

    # ------------------------------------------------------------------ DOSE006 after permanent discontinuation
    bad("DOSE006", "pneumonitis-grade-3", lambda s: copy_row(s, AE, 0, AE_number=3, CTCAE_term="Pneumonitis",
                                                             Grade=3, Onset_date=d(2025, 3, 20)),
        "Cycles!H4", comment="hold_rules[2]: stop QL1604 after grade >= 3 pneumonitis (ASCO/NCCN irAE 2021)"),
    good("DOSE006", "pneumonitis-grade-2", lambda s: copy_row(s, AE, 0, AE_number=3, CTCAE_term="Pneumonitis",
                                                              Grade=2, Onset_date=d(2025, 3, 20)),
         allow=("DOSE005",), comment="grade 2 is a hold (ASCO 2021 table 6), not a stop"),
    bad("DOSE006", "immune-hepatic-failure-grade-4",
        lambda s: copy_row(s, AE, 0, AE_number=3, CTCAE_term="Hepatic failure", Grade=4,
                           Onset_date=d(2025, 3, 20), Immune_related="Y"), "Cycles!H4"),
    good("DOSE006", "hepatic-failure-not-immune",
         lambda s: copy_row(s, AE, 0, AE_number=3, CTCAE_term="Hepatic failure", Grade=4,
                            Onset_date=d(2025, 3, 20), Immune_related="N"),
         comment="hold_rules[1] is for immune-related hepatitis only"),
    bad("DOSE006", "given-after-discontinued-row",
        steps(cells(C, 6, Action="Discontinued", Reason="hepatitis"),
              lambda s: copy_row(s, C, 4, Cycle=3, Date=d(2025, 4, 25))), "Cycles!H12", allow=("DOSE004",),
        comment="QL1604 Discontinued on 04-04, given again on 04-25"),

    # ------------------------------------------------------------------ DOSE007 after off-treatment
    bad("DOSE007", "off-the-day-before", cell(S, 1, "Off-treatment date", d(2025, 4, 3)), "Cycles!C9"),
    good("DOSE007", "off-on-the-dose-day", cell(S, 1, "Off-treatment date", d(2025, 4, 4))),

    # ------------------------------------------------------------------ DOSE008 / DOSE009 cycle numbers
    bad("DOSE008", "first-cycle-2", cells(C, 8, Cycle=2), "Cycles!B10"),
    bad("DOSE008", "cycles-1-then-3", steps(cell(C, 2, "Cycle", 3), cell(C, 3, "Cycle", 3)),
        ["Cycles!B4", "Cycles!B5"], allow=("DOSE001",), comment="and 21 days is not 2 cycles (DOSE001)"),
    good("DOSE008", "held-cycle-recorded", nothing, comment="1002's QL1604 cycle 2 Held keeps the sequence"),
    good("DOSE008", "gap-filled-by-unknown-drug", cell(C, 8, "Drug", "Sorafenib"), allow=("WB203",),
         comment="the unknown drug's cycle 1 may be 1003's QL1604: WB203 only"),
    bad("DOSE009", "held-again-18-days-later", lambda s: copy_row(s, C, 6, Date=d(2025, 4, 22)), "Cycles!B12",
        comment="cycle_days - window_days = 18: a later visit of its own"),
    good("DOSE009", "held-again-17-days-later", lambda s: copy_row(s, C, 6, Date=d(2025, 4, 21)),
         comment="within a cycle: a delayed visit"),

    # ------------------------------------------------------------------ MK001 / MK002 tumour markers
    bad("MK001", "afp-minus-50-pct-confirmed", afp((d(2025, 4, 1), 625.15), (d(2025, 4, 29), 600)), "Labs!D17",
        comment="1250.3 x 0.5 = 625.15 (markers[0].response_fall_pct 50, confirmed >= 28 days later, markers[0].confirm_interval_days)"),
    good("MK001", "afp-minus-49.99-pct", afp((d(2025, 4, 1), 625.3), (d(2025, 4, 29), 630))),
    good("MK001", "afp-fall-unconfirmed", afp((d(2025, 4, 1), 600),), comment="no next result yet"),
    bad("MK001", "afp-below-limit-confirms", afp((d(2025, 4, 1), 600), (d(2025, 4, 29), "<10")), "Labs!D17"),
    good("MK001", "afp-above-limit-cannot-confirm", afp((d(2025, 4, 1), 600), (d(2025, 4, 29), ">500")),
         comment="'>500' may be above 625"),
    bad("MK002", "afp-plus-25-pct-over-nadir", afp((d(2025, 4, 1), 10), (d(2025, 4, 29), 12.5), (d(2025, 5, 27), 13)),
        "Labs!D18", allow=("MK001",),
        comment="nadir 10 x 1.25 = 12.5 > ULN 7, then 13 (markers[0].progression_rise_pct 25, confirmed)"),
    good("MK002", "afp-plus-24.9-pct", afp((d(2025, 4, 1), 10), (d(2025, 4, 29), 12.49), (d(2025, 5, 27), 13)),
         allow=("MK001",), comment="the 13 is a first rise, not yet confirmed"),
    good("MK002", "afp-rise-below-uln", afp((d(2025, 4, 1), 4), (d(2025, 4, 29), 5.5), (d(2025, 5, 27), 6.5)),
         allow=("MK001",), comment="progression_above_uln: 6.5 < ULN 7"),

    # ------------------------------------------------------------------ RECIST 1.1
    bad("RECIST001", "pr-claimed-at-minus-15-pct", cell(T, 2, "Investigator response", "PR"), "Tumor!H4",
        comment="38 / 45 mm = -15.6%: SD (RECIST 1.1 4.3.1)"),
    good("RECIST001", "pr-at-minus-30-pct-boundary",
         steps(cells(T, 2, Diameter=31.5, Investigator_response="PR"), cell(T, 3, "Investigator response", "PR")),
         comment="45 x 0.7 = 31.5 (recist.pr_decrease_pct 30)"),
    bad("RECIST001", "pr-at-minus-29.8-pct",
        steps(cells(T, 2, Diameter=31.6, Investigator_response="PR"), cell(T, 3, "Investigator response", "PR")),
        "Tumor!H4"),
    bad("RECIST001", "sd-at-plus-20-pct", cell(T, 2, "Diameter", 54), "Tumor!H4",
        comment="45 x 1.2 = 54 and +9 mm: PD (recist.pd_increase_pct 20, pd_min_increase_mm 5)"),
    good("RECIST001", "sd-at-plus-19.8-pct", cell(T, 2, "Diameter", 53.9)),
    good("RECIST001", "non-target-only-is-sd", steps(cells(T, 0, Lesion_type="Non-target", Diameter=None,
                                                           Non_target_status="Present"),
                                                     cells(T, 2, Lesion_type="Non-target", Diameter=None,
                                                           Non_target_status="Present")),
         comment="table 2: non-CR/non-PD is recorded as SD"),
    bad("RECIST002", "six-targets", steps(*[add_lesion(f"T{i}", "Target", loc, 20, 20) for i, loc in
                                            ((2, "Lung, right lower lobe"), (3, "Bone, T10"), (4, "Adrenal gland"),
                                             (5, "Peritoneum"), (6, "Lymph node, hilar"))]),
        "Tumor!D14", comment="recist.max_targets 5 (RECIST 1.1 4.2): T6 is the sixth"),
    good("RECIST002", "five-targets", steps(*[add_lesion(f"T{i}", "Target", loc, 20, 20) for i, loc in
                                              ((2, "Lung, right lower lobe"), (3, "Bone, T10"), (4, "Adrenal gland"),
                                               (5, "Peritoneum"))])),
    bad("RECIST003", "three-in-liver", steps(add_lesion("T2", "Target", "Liver, segment II", 20, 20),
                                             add_lesion("T3", "Target", "liver segment IV", 20, 20)),
        "Tumor!E8", comment="recist.max_targets_per_organ 2 (RECIST 1.1 4.2)"),
    good("RECIST003", "two-in-liver-one-in-lung", steps(add_lesion("T2", "Target", "Liver, segment II", 20, 20),
                                                        add_lesion("T3", "Target", "Right lung", 20, 20))),
    bad("RECIST004", "target-not-on-follow-up", lambda s: delete_row(s, T, 2), "Tumor!C4",
        comment="the first row of the 05-12 scan (NT1) carries it"),
    bad("RECIST004", "target-diameter-blank", cell(T, 2, "Diameter", None), "Tumor!F4"),
    bad("RECIST004", "non-target-status-blank", cell(T, 3, "Non-target status", None), "Tumor!G5"),
    good("RECIST004", "target-disappeared-0-mm",
         steps(cells(T, 2, Diameter=0, Investigator_response="PR"), cell(T, 3, "Investigator response", "PR")),
         comment="0 mm is a measurement (target CR, non-target present: PR)"),
    bad("RECIST005", "baseline-29-days-before", steps(cell(T, 0, "Date", d(2025, 2, 9)), cell(T, 1, "Date", d(2025, 2, 9))),
        "Tumor!B2", comment="recist.baseline_max_days 28 (RECIST 1.1 3.2: never more than 4 weeks)"),
    good("RECIST005", "baseline-28-days-before",
         steps(cell(T, 0, "Date", d(2025, 2, 10)), cell(T, 1, "Date", d(2025, 2, 10)))),
    bad("RECIST005", "no-baseline-before-first-dose",
        steps(cell(T, 0, "Date", d(2025, 3, 11)), cell(T, 1, "Date", d(2025, 3, 11))), "Tumor!B2"),
]

# Cases above (written before the protocol rules) whose mutation moves a dose or the
# off-treatment date: the protocol rules see a real consequence, allowed here with the reason.
_PROTOCOL_ALLOW = {
    "WB204-good-next-cycle": ("DOSE004",),                   # cycle 3 on 04-21, latest labs 03-28
    "WB208-good-off-on-consent-day": ("DOSE007",),           # 1002 off 03-10, dosed 03-17 and 04-04
    "WB209-good-dose-on-consent-day": ("DOSE001", "DOSE004", "RECIST005"),  # QL1604 C1 on 03-03:
    # 28 days before C2, no labs before it, and the baseline scan (03-05) comes after it
}
CASES[:] = [replace(c, allow=c.allow + _PROTOCOL_ALLOW.get(c.test_id, ())) for c in CASES]

# ------------------------------------------------------------------ study design (issue 12): the CDISC pilot
# builders.pilot_study() with the cdisc_pilot profile (arms Placebo / Xan_Lo 54 mg / Xan_Hi 54 -> 81 -> 54 mg
# by period, Screen Failure without drugs; daily patch, dose_tolerance_pct 0).
# Rows: Subjects 2:1015 Placebo 3:1028 Xan_Hi 4:1033 Xan_Lo 5:1057 Screen Failure;
#       Cycles 2-4:1015 P1-P3 Placebo 0 mg  5-7:1028 P1 54, P2 81, P3 54 mg  8:1033 P1 54 mg
from builders import PILOT_PROFILE, pilot_study  # noqa: E402


def on_pilot(*fns):
    def m(s):
        s.clear()
        s.update(pilot_study())
        for f in fns:
            f(s)
    return m


def pbad(code, id, mutate, at, **kw) -> Case:
    return replace(bad(code, id, on_pilot(mutate), at, **kw), profile=PILOT_PROFILE)


def pgood(code, id, mutate, **kw) -> Case:
    return replace(good(code, id, on_pilot(mutate), **kw), profile=PILOT_PROFILE)


CASES += [
    pbad("WB211", "arm-not-in-profile", cell("Subjects", 0, "Arm", "Xan_Mid"), "Subjects!H2",
         comment="profile [[arms]]: Placebo, Xanomeline Low Dose, Xanomeline High Dose, Screen Failure"),
    pbad("WB211", "arm-blank", cell("Subjects", 1, "Arm", None), "Subjects!H3"),
    pgood("WB211", "arm-code-any-case", cell("Subjects", 0, "Arm", "pbo"),
          comment="the DM ARMCD alias, case and punctuation ignored"),
    pbad("WB211", "no-arm-column", lambda s: delete_column(s, "Subjects", "Arm"), "Subjects",
         comment="one sheet-level finding; DOSE012 is not evaluated"),
    pbad("DOSE012", "xanomeline-to-placebo-subject", cells(C, 1, Drug="Xanomeline", Dose=54), "Cycles!E3",
         allow=("DOSE008",), comment="1015 is Placebo: an active drug breaks the randomisation (and the "
                                     "cycle numbers of each drug now have gaps: DOSE008)"),
    pgood("DOSE012", "placebo-to-placebo-subject", nothing),
    pbad("DOSE012", "screen-failure-dosed",
         lambda s: s["Cycles"].append(["01-701-1057", 1, d(2014, 1, 2), d(2014, 1, 9), "Placebo", 0, "mg", "Given",
                                       None]), "Cycles!E9", comment="the Screen Failure arm has no drugs"),
    pbad("DOSE002", "high-dose-81-in-period-1", cell(C, 3, "Dose", 81), "Cycles!F5",
         comment="Xan_Hi titrates: 54 mg in period 1 (arms[2].drugs[0].doses[0]), tolerance 0"),
    pgood("DOSE002", "high-dose-81-in-period-2", nothing, comment="arms[2].drugs[0].doses[1] from_cycle 2"),
    pbad("DOSE002", "low-dose-81", cell(C, 6, "Dose", 81), "Cycles!F8", comment="Xan_Lo is 54 mg in every period"),
    pbad("DOSE002", "placebo-dose-54", cell(C, 0, "Dose", 54), "Cycles!F2", comment="a placebo's planned dose is 0"),
    pgood("DOSE002", "placebo-dose-0", nothing, comment="dose 0 is the placebo's dose, never '-100%'"),
    pgood("DOSE002", "arm-unknown-dose-at-a-planned-level", steps(cell("Subjects", 1, "Arm", None),
                                                                  cell(C, 4, "Dose", 54)),
          allow=("WB211",), comment="1028 without an arm: 54 mg in period 2 is Xan_Lo's level, not a deviation"),
    pbad("DOSE002", "arm-unknown-dose-at-no-level", steps(cell("Subjects", 1, "Arm", None), cell(C, 4, "Dose", 70)),
         "Cycles!F6", allow=("WB211",), comment="70 mg is no arm's level in period 2 (54 or 81)"),
]

# ------------------------------------------------------------------ RECIST006 / RECIST007 (issues 16, 11)
# 1001: T1 45 mm at baseline (03-05), NT1 present; first dose 03-10, last dose 03-31.


def icpd_then_dose(dose_day, confirm_day=d(2025, 6, 16), confirm_mm=60):
    """1001: T1 45 -> 54 mm on 05-12 (+20%, +9 mm: iUPD), -> confirm_mm on confirm_day, then QL1604
    given on dose_day (cycle 3). The investigator calls PD on both scans."""
    def run(s):
        cells(T, 2, Diameter=54, Investigator_response="PD")(s)
        cell(T, 3, "Investigator response", "PD")(s)
        copy_row(s, T, 2, Date=confirm_day, Diameter=confirm_mm)
        copy_row(s, T, 3, Date=confirm_day)
        copy_row(s, C, 2, Cycle=3, Date=dose_day)
        return s
    return run


_DOSING = ("DOSE001", "DOSE004")   # cycle 3 ~12 weeks after cycle 2, no pre-dose labs: real consequences

CASES += [
    bad("RECIST006", "lesion-9.9-mm", add_lesion("T2", "Target", "Right lung", 9.9, 9.9), "Tumor!F6",
        comment="recist.measurable_min_mm 10 (RECIST 1.1 3.1.1: >= 10 mm on CT, slice <= 5 mm)"),
    good("RECIST006", "lesion-10-mm", add_lesion("T2", "Target", "Right lung", 10, 10)),
    bad("RECIST006", "node-14.9-mm", add_lesion("T2", "Target", "Lymph node, portocaval", 14.9, 14.9), "Tumor!F6",
        comment="recist.node_target_min_mm 15 (RECIST 1.1 3.1.1: a node is measurable at >= 15 mm short axis)"),
    good("RECIST006", "node-15-mm", add_lesion("T2", "Target", "Lymph node, portocaval", 15, 15)),
    bad("RECIST006", "normal-node-9-mm", add_lesion("T2", "Target", "Lymph node, hilar", 9, 9), "Tumor!F6",
        comment="< recist.node_normal_mm 10: a normal node, left out"),
    bad("RECIST007", "dose-day-after-icpd", icpd_then_dose(d(2025, 6, 17)), "Cycles!C12", allow=_DOSING,
        comment="iUPD 05-12, iCPD 06-16 (35 days later, +6 mm >= irecist.further_increase_mm 5), dose 06-17"),
    good("RECIST007", "dose-on-icpd-scan-day", icpd_then_dose(d(2025, 6, 16)), allow=_DOSING,
         comment="a dose on the day of the confirming scan is not after it"),
    good("RECIST007", "growth-4.9-mm-not-confirmed", icpd_then_dose(d(2025, 6, 17), confirm_mm=58.9), allow=_DOSING,
         comment="54 -> 58.9: +4.9 mm < 5: iUPD stays unconfirmed, treatment beyond progression allowed"),
    good("RECIST007", "confirm-27-days-too-early", icpd_then_dose(d(2025, 6, 17), confirm_day=d(2025, 6, 8)),
         allow=_DOSING, comment="06-08 is 27 days after the iUPD (< irecist.confirm_min_days 28): not a confirmation"),
]

# =====================================================================================================
# Issue 11: safety logic that fits HCC patients. Treatment-emergent reconciliation (on/after the first
# dose and worse than baseline), baseline-aware Hy's law (FDA 2009 DILI guidance; mDISH), labels without
# dose reduction, steroids on resuming (ASCO 2021), marker ULN. Valid-study facts used:
#   1001 first dose 2025-03-10 (baseline labs 03-07: PLAT 142, ALT 32 ...); ALT 45 on 03-28
#   1002 first dose 2025-03-17; baseline SGPT 36 (0.9 x ULN 40) on 03-14; ALT 248 (6.2 x ULN) on 04-01;
#        AE ALT increased grade 3 immune 04-01..04-20; QL1604 held at C2 (04-04);
#        ConMeds prednisone 60 mg/day 04-02..04-15, then 10 mg/day from 04-16 (ConMeds rows 2, 3)
# Appended rows: Cycles 12, Labs 17, AdverseEvents 5, ConMeds 4.

CM = "ConMeds"


def bili_1002(day, value):
    """A total bilirubin of 1002 (ULN 20.5 umol/L) appended at Labs row 17."""
    return lambda s: copy_row(s, L, 2, Subject_ID=1002, Date=day, Result=value)


def alp_1002(day, value):
    """An ALP of 1002 (ULN 130 U/L) appended."""
    return lambda s: copy_row(s, L, 0, Subject_ID=1002, Date=day, Test="ALP", Result=value, LLN=40, ULN=130)


def ql1604_c3_1002(pred_mg, drug="Prednisone"):
    """1002 resumes QL1604 at C3 on 04-25 (AE over 04-20, ALT 40 on 04-24) on `pred_mg` mg/day."""
    return steps(lambda s: copy_row(s, C, 4, Cycle=3, Date=d(2025, 4, 25)),
                 lambda s: copy_row(s, L, 11, Date=d(2025, 4, 24), Result=40),
                 cells(CM, 1, Drug=drug, Dose=pred_mg))


CASES += [
    # ------------------------------------------------------------------ LAB101 treatment-emergent only
    good("LAB101", "screening-platelets-45", cell(L, 4, "Result", 45),
         comment="cirrhotic platelets 45 (grade 3) at screening: medical history, not a new AE"),
    good("LAB101", "stable-platelets-45", steps(cell(L, 4, "Result", 45),
                                                lambda s: copy_row(s, L, 4, Date=d(2025, 3, 28))),
         comment="the same grade 3 on treatment as at baseline: not worse than baseline"),
    bad("LAB101", "platelets-worse-than-baseline", steps(cell(L, 4, "Result", 60),
                                                         lambda s: copy_row(s, L, 4, Date=d(2025, 3, 28), Result=45)),
        "Labs!D17", comment="baseline 60 (grade 2) -> 45 (grade 3, CTCAE v5.0 < 50) on treatment"),
    good("LAB101", "own-ctcae-term", steps(cell(L, 4, "Result", 60),
                                           lambda s: copy_row(s, L, 4, Date=d(2025, 3, 28), Result=45),
                                           lambda s: copy_row(s, AE, 0, AE_number=3,
                                                              CTCAE_term="Platelet count decreased", Grade=3,
                                                              Onset_date=d(2025, 3, 28), End_date=d(2025, 4, 2))),
         comment="an AE coded with the lab's own CTCAE term reports it"),

    # ------------------------------------------------------------------ LAB102 Hy's law (FDA 2009 DILI guidance)
    bad("LAB102", "alt-exactly-3x", steps(cell(L, 11, "Result", 120), bili_1002(d(2025, 4, 1), 41.5)), "Labs!D13",
        allow=("AE102",), comment="'3-fold or greater': 120 / 40 = 3.0 counts (the AE grade 3 is now above lab grade 1)"),
    good("LAB102", "alt-2.99x", steps(cell(L, 11, "Result", 119.6), bili_1002(d(2025, 4, 1), 41.5)),
         allow=("AE102",)),
    good("LAB102", "screening-draw", steps(cell(L, 9, "Result", 248), bili_1002(d(2025, 3, 14), 41.5)),
         allow=("AE102",), comment="ALT 6.2 x and bilirubin 2.02 x ULN before the first dose: not on treatment; "
                                   "ALT 248 on 04-01 is then 1 x its abnormal baseline"),
    good("LAB102", "stable-abnormal-baseline",
         steps(cell(L, 9, "Result", 128), bili_1002(d(2025, 3, 14), 43), cell(L, 11, "Result", 128),
               bili_1002(d(2025, 4, 1), 43)), allow=("AE102",),
         comment="the issue's HCC patient: ALT 3.2 x and bilirubin 2.1 x ULN before and after the first dose"),
    bad("LAB102", "abnormal-baseline-tripled", steps(cell(L, 9, "Result", 80), bili_1002(d(2025, 4, 1), 41.5)),
        "Labs!D13", allow=("AE102",), comment="baseline ALT 80 (2 x ULN): 248 = 3.1 x baseline (mDISH)"),
    good("LAB102", "abnormal-baseline-2.9x", steps(cell(L, 9, "Result", 86), bili_1002(d(2025, 4, 1), 41.5)),
         allow=("AE102",), comment="248 / 86 = 2.88 x baseline although 6.2 x ULN"),
    good("LAB102", "cholestatic-alp-2x", steps(bili_1002(d(2025, 4, 1), 41.5), alp_1002(d(2025, 4, 1), 260)),
         comment="ALP 2.0 x ULN on the same draw: cholestasis, not the Hy's law pattern (ALP < 2x ULN)"),
    bad("LAB102", "alp-1.99x", steps(bili_1002(d(2025, 4, 1), 41.5), alp_1002(d(2025, 4, 1), 258.7)), "Labs!D13"),
    bad("LAB102", "alp-on-another-draw", steps(bili_1002(d(2025, 4, 1), 41.5), alp_1002(d(2025, 4, 2), 300)),
        "Labs!D13", comment="safety.hys_law_alp_window_days 0: ALP from the same draw only"),

    # ------------------------------------------------------------------ LAB103 TSH, treatment-emergent
    good("LAB103", "tsh-high-at-screening", lambda s: copy_row(s, L, 0, Test="TSH", Result=12.4, Unit="mIU/L",
                                                               LLN=0.4, ULN=4.2)),
    good("LAB103", "tsh-high-at-baseline-and-on-treatment",
         steps(lambda s: copy_row(s, L, 0, Test="TSH", Result=12.4, Unit="mIU/L", LLN=0.4, ULN=4.2),
               lambda s: copy_row(s, L, 8, Test="TSH", Result=15, Unit="mIU/L", LLN=0.4, ULN=4.2))),
    bad("LAB103", "tsh-high-baseline-then-low",
        steps(lambda s: copy_row(s, L, 0, Test="TSH", Result=12.4, Unit="mIU/L", LLN=0.4, ULN=4.2),
              lambda s: copy_row(s, L, 8, Test="TSH", Result=0.3, Unit="mIU/L", LLN=0.4, ULN=4.2)), "Labs!D18"),
    good("LAB103", "tsh-increased-ae",
         steps(lambda s: copy_row(s, L, 8, Test="TSH", Result=12.4, Unit="mIU/L", LLN=0.4, ULN=4.2),
               lambda s: copy_row(s, AE, 0, AE_number=3, CTCAE_term="Thyroid stimulating hormone increased",
                                  Onset_date=d(2025, 3, 28), End_date=None, Ongoing="Y"))),

    # ------------------------------------------------------------------ DOSE010 labels without dose reduction
    bad("DOSE010", "ql1604-reduced", cells(C, 0, Dose=150, Action="Reduced", Reason="hepatitis"), "Cycles!H2",
        comment="PD-1 label section 2: no dose reduction (profile dose_reduction.not_allowed)"),
    bad("DOSE010", "bevacizumab-reduced", cells(C, 1, Dose=7.5, Action="Reduced", Reason="proteinuria"),
        "Cycles!H3", comment="Avastin PI 2.4: no dose reduction"),
    good("DOSE010", "given-at-full-dose", nothing),

    # ------------------------------------------------------------------ DOSE011 resumed on steroids (ASCO 2021)
    bad("DOSE011", "resumed-on-prednisone-10.5", ql1604_c3_1002(10.5), "Cycles!H12",
        comment="ALT AE over, ALT 1 x ULN, but prednisone 10.5 mg/day > 10 (hold_rules steroid_max_mg)"),
    good("DOSE011", "resumed-on-prednisone-10", ql1604_c3_1002(10)),
    bad("DOSE011", "resumed-on-methylprednisolone-8.5", ql1604_c3_1002(8.5, "Methylprednisolone"), "Cycles!H12",
        comment="8.5 mg x 1.25 = 10.6 mg/day prednisone-equivalent ([steroids])"),
    good("DOSE011", "resumed-on-methylprednisolone-8", ql1604_c3_1002(8, "Methylprednisolone"),
         comment="8 mg x 1.25 = 10.0 mg/day prednisone-equivalent: at the limit"),

    # ------------------------------------------------------------------ MK003 marker ULN blank
    bad("MK003", "afp-uln-blank", cell(L, 6, "ULN", None), "Labs!G8",
        comment="progression then uses markers[0].uln 10 ng/mL"),
    good("MK003", "afp-uln-entered", nothing),
]

# Cases above whose mutation now also meets an issue-11 rule (a real consequence, allowed here).
_HCC_ALLOW = {
    "WB205-bad-reduced-dose-nd": ("DOSE010",), "WB207-bad-reduced-no-reason": ("DOSE010",),
    "DOSE002-good-reduced-documented": ("DOSE010",), "DOSE002-bad-reduced-but-above": ("DOSE010",),
    "LAB008-good-afp-without-uln": ("MK003",),
    "DOSE005-good-alt-recovered-ae-ended-on-dose-day": ("DOSE011",),   # QL1604 given on prednisone 60 mg
}
CASES[:] = [replace(c, allow=c.allow + _HCC_ALLOW.get(c.test_id, ())) for c in CASES]
