"""Write the two sample site workbooks in sample_sheets/ (deterministic: fixed seed, fixed dates).

    .venv/bin/python scripts/make_samples.py            # write both workbooks
    .venv/bin/python scripts/make_samples.py --check    # write, then check rule coverage

1. sample_sheets/demo_study.xlsx: a site workbook of QL1604-HCC-201 (QL1604 anti-PD-1 200 mg flat
   + bevacizumab 15 mg/kg IV q3w, advanced HCC), site 01. Subject 001 is the published case
   (clean: no finding). Subjects 002-009 carry realistic clinical stories and, between them,
   trigger every registered rule except the structural WB001-WB008 (see TRIGGERS below).
2. sample_sheets/messy_site.xlsx: the same contract filled in by a tired coordinator: title and
   instruction rows, odd headers, a leading empty column, an unknown and a duplicated column, a
   missing required column, a sheet without a recognisable header row, formulas without cached
   values, ambiguous / impossible / partial / future dates, "12,5" numbers, Y/N variants ...
   It exercises WB001-WB008, which a well-formed workbook cannot.

Dates are fixed (data cut-off 15-MAR-2024; nothing later except deliberate typos), the random
lab noise comes from string-seeded random.Random instances (the same on every run and platform),
and the files are written with fixed document properties and fixed zip timestamps, so rerunning
gives byte-identical files.

Deliberate triggers in demo_study.xlsx (rule -> subject: what). Cell addresses are in
sample_sheets/README.md (and printed by --check).
    WB101 required-value-missing      005  AE "Fatigue" with the Grade left blank
    WB102 date-unreadable             007  Vitals date typed "20-Sept-2022"
    WB103 date-impossible             003  AE "Epistaxis" end date "31-SEP-2022"
    WB104 date-ambiguous              007  pre-dose labs dated "05/06/2023" (no Date format on Study)
    WB105 partial-date-not-allowed    002  off-treatment date "2023-05" (day unknown)
    WB106 date-implausible            006  Vitals date "2320-05-09" (year typo for 2023)
    WB107 number-unreadable           004  Vitals weight "79,5" (decimal comma)
    WB108 integer-expected            006  Vitals ECOG "1.5"
    WB109 yes-no-unreadable           009  AE Hypothyroidism "Related to Bevacizumab" = "possibly"
    WB110 value-not-allowed           003  AE Hypertension outcome "Resolving"
    WB111 value-out-of-range          009  Vitals weight 7.5 (for 75)
    WB112 date-in-future              009  labs dated "2042-01-08" (digit swap for 2024-01-08)
    WB201 subject-duplicated          009  entered twice on Subjects (second row re-entered)
    WB202 subject-unknown             006  labs of 12-JAN-2023 entered under "06"
    WB203 drug-unknown                008  denosumab (bone metastases) entered on Cycles
    WB204 administration-duplicated   003  cycle 4 entered as "Avastin" and again as "Bevacizumab"
    WB205 dose-missing                005  cycle 3 QL1604 Given, Dose blank
    WB206 dose-unit-missing           005  cycle 5 bevacizumab Dose 15, Unit blank
    WB207 action-reason-missing       007  cycle 7 Delayed, no reason
    WB208 off-treatment-before-consent 005 off-treatment 2022-08-01 (year typo for 2023), consent 2022-11-14
    WB209 dosed-before-consent        006  cycle 1 on 04-NOV-2022, consent dated 08-NOV-2022
    WB210 blood-pressure-inverted     004  Vitals systolic 82 / diastolic 134 (swapped)
    LAB001 lab-test-unknown           007  "HBV DNA" (not in the lab catalogue)
    LAB002 lab-unit-unknown           009  ALT in "UL" (did you mean U/L?)
    LAB003 lab-unit-missing           009  AST with the Unit blank
    LAB004 lab-result-unreadable      003  AST result "haemolysed"
    LAB005 lab-result-duplicated      002  ALT 245 of 10-OCT-2022 entered twice
    LAB006 lab-result-conflicting     006  PLAT 48 and PLAT 148 on 05-JAN-2023
    LAB007 lab-range-inverted         004  ALT with LLN 40 and ULN 7 (swapped)
    LAB008 lab-normal-limit-missing   008  ALP with the ULN blank
    LAB009 lab-result-implausible     009  BILI 12.1 "mmol/L" (12,100 umol/L; should be umol/L)
    AE001 ae-number-duplicated        003  two AEs numbered 2 (Hypertension, Epistaxis)
    AE002 ae-end-before-onset         009  Hyperthyroidism onset 2023-10-23, end 2023-09-28
    AE003 ae-ongoing-with-end-date    004  Proteinuria Ongoing Y with an end date
    AE004 ae-end-date-missing         006  Neutrophil count decreased, Ongoing N, no end date
    AE005 sae-dates-missing           006  SAE Lung infection without a report date
    AE006 sae-reported-before-aware   002  SAE immune hepatitis reported 10-OCT, aware 11-OCT
    AE007 ae-term-not-ctcae           002  "Immune hepatitis" (should be "Hepatobiliary disorders - Other,
                                           specify" with verbatim "immune-mediated hepatitis")
    AE008 ae-grade-not-defined        008  Alopecia grade 3 (CTCAE defines grades 1-2)
    AE009 sae-reported-late           005  SAE hepatitis reported 3 days after awareness (limit 24 h)
    AE010 ae-fatal-grade-mismatch     002  Hepatic failure grade 4 with outcome Fatal (should be 5)
    AE011 ae-onset-before-consent     007  pre-existing pruritus (medical history) entered as an AE
    AE012 ae-onset-before-first-dose  007  the same pruritus (info: a pre-treatment event)
    AE013 fatal-ae-not-serious        008  death from progression (Disease progression, grade 5,
                                           Fatal) entered with Serious N
    LAB101-LAB103                     002 / 005 / 009  grade 3 ALT without AE, Hy's law, TSH
    AE101 ae-grade-below-lab-grade    006  Platelet count decreased graded 2 with platelets 48 (grade 3)
    AE102 ae-grade-above-lab-grade    006  Neutrophil count decreased graded 4, lowest ANC 0.9 (grade 3)
    VS001 hypertension-without-ae     006  one reading of 162/96 mmHg, no Hypertension AE
    DOSE001 dose-interval-out-of-window  003  cycle 15 given 26 days after cycle 14, Action Given
    DOSE002 dose-deviates-from-protocol  003  cycle 20 Avastin 780 mg for 58.2 kg (expected 873 mg)
    DOSE003 dose-not-recalculated-...    008  bevacizumab still calculated on 55 kg at 49.5 / 48.4 kg
    DOSE004 dosed-without-predose-labs   008  no labs before cycle 5 (and 006 cycle 4: its labs are
                                             under "06", a WB202 cascade)
    DOSE005 dosed-during-hold            004  bevacizumab restarted (reduced) with 2.1 g/24h protein
    DOSE006 dosed-after-permanent-...    005  QL1604 Given at cycle 8 after Action Discontinued at cycle 7
    DOSE007 dosed-after-off-treatment    004  off-treatment date typed 19-AUG for 19-SEP-2023
    DOSE008 cycle-number-skipped         006  cycle 10 visit without dosing rows
    DOSE009 cycle-number-repeated        005  QL1604 "cycle 7 Discontinued" entered again at the end
    DOSE010 dose-reduction-not-allowed   004  bevacizumab Reduced to 7.5 mg/kg (the label allows none)
    DOSE011 dosed-on-steroids-above-limit 003 QL1604 resumed after pneumonitis on prednisone 20 mg/day
    MK003 marker-uln-missing             006  AFP of cycle 14 entered without its ULN
    DOSE006 (HCC liver rule)             006  QL1604 given after ALT 11x / bilirubin 3.5x ULN on a
                                             3.2x / 2.1x baseline (anti-PD-1 label for HCC: stop)
    MK001 / MK002                     001 and others  confirmed marker response / progression (the
                                           clinical signals of 001's published course are expected)
    RECIST001 investigator-response-differs  003  PR called at -23% (SD)
    RECIST002 too-many-target-lesions        006  six target lesions at baseline
    RECIST003 too-many-target-lesions-in-organ 008  a third liver target
    RECIST004 baseline-lesion-not-assessed   002  T2 not measured on 22-NOV-2022
    RECIST005 baseline-scan-out-of-window    007  baseline CT 35 days before the first dose
    RECIST006 target-lesion-not-measurable   010  a 12 mm portocaval node selected as a target
    RECIST007 dosed-after-confirmed-progression 010  both drugs given 24-OCT-2023, after iCPD (03-OCT-2023)
Valid forms that must NOT trigger: drug aliases "Avastin" (003) and "QL-1604" (004), bevacizumab
in mg with the weight (003), lab names and units from an outside hospital (007: Hb g/dL, PLT
x10^3/uL, T-Bil mg/dL, SGPT, INR without unit), qualified results ("<0.01" TSH, 009), dipstick
results (Neg, Trace, 1+ .. 3+), Child-Pugh as class or score, partial AE dates.

Clinical stories for the rules still to come (CTCAE grading, dosing, markers, RECIST):
    001  the published case: PR for 18 months, AFP 1210 -> <10, PIVKA-II 2480 -> ~30, PD FEB-2024
         (lung lesion), grade 1 hypothyroidism / proteinuria / hypertension; one 7-day delay;
         bevacizumab 675 mg as published (no weight in the case: 45 kg, so 15 mg/kg x 45 kg)
    002  immune-mediated hepatitis, ALT 6.1x ULN (grade 3) -> QL1604 held 2 cycles, prednisone; PD
    003  bevacizumab grade 3 hypertension 168/104 -> bevacizumab held, amlodipine; bev dosed in mg
    004  proteinuria 3+ and 2.5 g/24h -> bevacizumab held, then reduced to 7.5 mg/kg; PD
    005  potential Hy's law (ALT 4.7x ULN, bilirubin 2.7x ULN, ALP 1.2x) -> SAE reported 3 days
         after awareness; QL1604 permanently discontinued, bevacizumab monotherapy
    006  thrombocytopenia 48 and neutropenia 0.9 (grade 3) -> both drugs delayed 1 week;
         neutropenic lung infection (SAE)
    007  grade 3 oesophageal variceal haemorrhage (SAE) -> bevacizumab discontinued; anaemia
         grade 3 (Hb 7.6 g/dL, outside hospital); QL1604 monotherapy
    008  weight 55 -> 48 kg (-13%) but bevacizumab still dosed on 55 kg; no pre-dose labs before
         cycle 5; early PD with a new bone lesion -> off treatment
    009  thyroiditis: hyperthyroidism (TSH <0.01) then hypothyroidism grade 2 on levothyroxine
    010  pseudo-progression (iRECIST): target growth on the first CT (RECIST 1.1 PD, iUPD), treated
         beyond progression, then PR (iPR, confirmed); later a real progression (iUPD, confirmed
         iCPD 6 weeks on) -- and one more cycle given after the iCPD
"""

from __future__ import annotations

import argparse
import copy
import io
import random
import sys
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
from openpyxl.styles import Font, PatternFill
from openpyxl.writer.excel import ExcelWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.workbook.schema import (  # noqa: E402  (the contract is the source of the headers)
    ADVERSE_EVENTS, CONMEDS, CYCLES, LABS, STUDY, SUBJECTS, TUMOR, VITALS, columns_for)

OUT_DIR = ROOT / "sample_sheets"
DEMO = OUT_DIR / "demo_study.xlsx"
MESSY = OUT_DIR / "messy_site.xlsx"
US_SITE = OUT_DIR / "us_site.xlsx"

SEED = "QL1604-HCC-201"
FIXED_TIME = datetime(2024, 3, 15, 9, 0, 0)      # document properties: created / modified
ZIP_TIME = (2024, 3, 15, 9, 0, 0)                  # every zip member's timestamp
DATA_CUT = date(2024, 3, 15)
DRUGS = ("QL1604", "Bevacizumab")
DATE_FMT = "DD-MMM-YYYY"


def D(text) -> date:
    """A date from ISO text (dates pass through)."""
    return text if isinstance(text, date) else date.fromisoformat(text)


# --------------------------------------------------------------------------- lab catalogue
# The site lab's units and normal ranges (site 01). (unit, LLN, ULN); sex-specific where they differ.
RANGES = {
    "ALT": ("U/L", 7, 40), "AST": ("U/L", 13, 40), "BILI": ("umol/L", 3.4, 20.5),
    "ALP": ("U/L", 45, 125), "ALB": ("g/L", 35, 50), "PLAT": ("10^9/L", 125, 350),
    "NEUT": ("10^9/L", 1.8, 6.3), "WBC": ("10^9/L", 3.5, 9.5), "TSH": ("mIU/L", 0.27, 4.2),
    "FT4": ("pmol/L", 12, 22), "UPROT": (None, None, None), "UPROT24": ("g/24h", None, 0.15),
    "INR": (None, 0.8, 1.2), "AFP": ("ng/mL", None, 7), "PIVKA2": ("mAU/mL", None, 40),
}
SEX_RANGES = {
    ("CREAT", "M"): ("umol/L", 57, 111), ("CREAT", "F"): ("umol/L", 41, 81),
    ("HGB", "M"): ("g/L", 130, 175), ("HGB", "F"): ("g/L", 115, 150),
}
LABEL = {"UPROT": "Urine protein", "PIVKA2": "PIVKA-II", "UPROT24": "24h urine protein"}
PANEL = ("ALT", "AST", "BILI", "ALP", "ALB", "CREAT", "HGB", "PLAT", "NEUT", "WBC", "TSH", "UPROT")
LFT = ("ALT", "AST", "BILI", "ALP", "INR")
ORDER = PANEL + ("FT4", "UPROT24", "INR", "AFP", "PIVKA2")
DECIMALS = {"ALT": 0, "AST": 0, "ALP": 0, "CREAT": 0, "HGB": 0, "PLAT": 0, "BILI": 1, "ALB": 1,
            "NEUT": 2, "WBC": 2, "TSH": 2, "FT4": 1, "INR": 2, "UPROT24": 2, "AFP": 1, "PIVKA2": 0}
NOISE = {"ALT": .08, "AST": .07, "BILI": .08, "ALP": .05, "ALB": .025, "CREAT": .04, "HGB": .025,
         "PLAT": .06, "NEUT": .08, "WBC": .06, "TSH": .08, "FT4": .05, "INR": .03, "AFP": .04,
         "PIVKA2": .04, "UPROT24": 0}
BASE = {"ALT": 26, "AST": 28, "BILI": 12, "ALP": 90, "ALB": 41, "CREAT_M": 80, "CREAT_F": 62,
        "HGB_M": 142, "HGB_F": 128, "PLAT": 190, "NEUT": 3.4, "WBC": 5.8, "TSH": 1.8, "FT4": 15,
        "INR": 1.05}


def rnd(value: float, ndigits: int):
    v = round(value, ndigits)
    return int(v) if ndigits == 0 else v


class Patient:
    """One subject: demographics, trajectories (keypoints, interpolated + noise) and the rows."""

    def __init__(self, wb: "Study", sid: str, sex: str, age: int, weight: float, consent: date,
                 child_pugh, bclc: str, ecog: int, off_date=None, off_reason=None):
        self.wb, self.sid, self.sex = wb, sid, sex
        self.row = {"subject": sid, "sex": sex, "age": age, "weight": weight, "consent_date": consent,
                    "child_pugh": child_pugh, "bclc": bclc, "ecog": ecog, "off_date": off_date,
                    "off_reason": off_reason}
        wb.subjects.append(self.row)
        self.rng = random.Random(f"{SEED}/{sid}")
        self.traj: dict = {}
        self.uprot = [(date(2000, 1, 1), "Neg")]
        self.vit = {"sbp": [(date(2000, 1, 1), 114)], "dbp": [(date(2000, 1, 1), 72)],
                    "weight": [(date(2000, 1, 1), weight)]}
        self.ecog = [(date(2000, 1, 1), ecog)]
        self.ae_n = 0
        self.pre: dict = {}          # cycle -> date of its pre-dose panel

    # trajectories --------------------------------------------------------------------
    def set(self, test: str, *points):
        self.traj[test] = sorted((D(d), v) for d, v in points)

    def base(self, test: str) -> float:
        return BASE.get(test, BASE.get(f"{test}_{self.sex}"))

    def value(self, test: str, d: date, noise: bool = True) -> float:
        pts = self.traj.get(test) or [(date(2000, 1, 1), self.base(test))]
        if any(p == d for p, _ in pts):
            return rnd(next(v for p, v in pts if p == d), DECIMALS[test])   # a designed value: exact
        v = _interp(pts, d)
        if noise:
            v *= 1 + self.rng.uniform(-NOISE[test], NOISE[test])
        return rnd(v, DECIMALS[test])

    def step(self, pts, d):
        out = pts[0][1]
        for p, v in pts:
            if p <= d:
                out = v
        return out

    def vital(self, key: str, d: date, jitter: float):
        v = _interp(self.vit[key], d) + self.rng.uniform(-jitter, jitter)
        return round(v, 1) if key == "weight" else int(round(v))

    # rows ----------------------------------------------------------------------------
    def lab(self, d, test, result, unit=..., lln=..., uln=..., comment=None, label=None):
        u, lo, hi = SEX_RANGES.get((test, self.sex)) or RANGES.get(test, (None, None, None))
        self.wb.labs.append({
            "subject": self.sid, "date": d, "test": label or LABEL.get(test, test), "result": result,
            "unit": u if unit is ... else unit, "lln": lo if lln is ... else lln,
            "uln": hi if uln is ... else uln, "comment": comment, "_order": _order(test)})

    def draw(self, d: date, tests=PANEL, overrides: dict | None = None):
        """A panel drawn on day d: every test from its trajectory unless overridden."""
        overrides = overrides or {}
        for t in tests:
            if t in overrides:
                self.lab(d, t, overrides[t])
            elif t == "UPROT":
                self.lab(d, t, self.step(self.uprot, d))
            else:
                self.lab(d, t, self.value(t, d))

    def markers(self, *rows):
        for d, afp, pivka in rows:
            d = D(d)
            if afp is not None:
                self.lab(d, "AFP", afp)
            if pivka is not None:
                self.lab(d, "PIVKA2", pivka)

    def vitals(self, d: date, ecog=None):
        self.wb.vitals.append({"subject": self.sid, "date": d, "sbp": self.vital("sbp", d, 3),
                               "dbp": self.vital("dbp", d, 2), "weight": self.vital("weight", d, 0.3),
                               "ecog": self.step(self.ecog, d) if ecog is None else ecog})

    def dose(self, cycle: int, d: date, drug: str, action: str = "Given", dose=..., unit=...,
             weight=..., reason=None, label=None):
        given = action not in ("Held", "Discontinued")
        if drug == "QL1604":
            dflt = (200, "mg", None)
        else:
            w = self.wb_weight(d)
            dflt = (15, "mg/kg", w)
        row = {"subject": self.sid, "cycle": cycle, "date": d, "drug": label or drug,
               "dose": (dflt[0] if given else None) if dose is ... else dose,
               "unit": (dflt[1] if given else None) if unit is ... else unit,
               "weight": (dflt[2] if given else None) if weight is ... else weight,
               "action": action, "reason": reason, "_drug": drug}
        self.wb.cycles.append(row)
        return row

    def wb_weight(self, d: date) -> float:
        """The weight used for a weight-based dose: that day's Vitals weight if there is one."""
        for v in self.wb.vitals:
            if v["subject"] == self.sid and v["date"] == d and isinstance(v["weight"], (int, float)):
                return v["weight"]
        return round(_interp(self.vit["weight"], d), 1)

    def ae(self, term, grade, onset, end=None, ongoing=None, serious="N", aware=None, reported=None,
           ql="N", bev="N", action="None", outcome=None, irae="N", verbatim=None, number=None):
        self.ae_n += 1
        ongoing = ongoing if ongoing is not None else ("N" if end else "Y")
        outcome = outcome or ("Recovered" if end else "Not recovered")
        row = {"subject": self.sid, "ae_number": number or self.ae_n, "term": term, "verbatim": verbatim,
               "grade": grade, "onset": _d(onset), "end": _d(end), "ongoing": ongoing, "serious": serious,
               "date_aware": _d(aware), "date_reported": _d(reported), "action": action,
               "outcome": outcome, "immune": irae, "related__QL1604": ql, "related__Bevacizumab": bev}
        self.wb.aes.append(row)
        return row

    def conmed(self, drug, dose, start, end=None, unit="mg/day", indication=None):
        self.wb.conmeds.append({"subject": self.sid, "drug": drug, "dose": dose, "unit": unit,
                                "start": D(start), "end": D(end) if end else None, "indication": indication})

    def scan(self, d, lesions, response=None, all_rows=True):
        """lesions: (id, type, location, diameter or None, non-target status or None)."""
        d = D(d)
        for i, (lid, typ, loc, diam, nts) in enumerate(lesions):
            self.wb.tumor.append({"subject": self.sid, "date": d, "lesion": lid, "lesion_type": typ,
                                  "location": loc, "diameter": diam, "nt_status": nts,
                                  "inv_response": response if (all_rows or i == 0) else None})

    def cycle(self, c: int, d: date, lag: int | None = None, labs=True, vitals=True,
              ql=None, bev=None, extra_tests=()):
        """A standard visit: pre-dose panel (lag days before), vitals on the day, both drugs Given
        unless ql / bev give (action, reason) or a full dose() kwargs dict."""
        if labs:
            lag = lag if lag is not None else self.rng.choice((1, 1, 2))
            self.pre[c] = d - timedelta(days=lag)
            self.draw(self.pre[c], PANEL + tuple(extra_tests))
        if vitals:
            self.vitals(d)
        for drug, spec in (("QL1604", ql), ("Bevacizumab", bev)):
            if spec is None:
                self.dose(c, d, drug)
            elif isinstance(spec, dict):
                self.dose(c, d, drug, **spec)
            elif spec != "skip":
                self.dose(c, d, drug, action=spec[0], reason=spec[1])


def _d(v):
    """ISO text -> date; anything else (a date, None, a mistyped text) unchanged."""
    if isinstance(v, str) and len(v) == 10 and v[4] == "-":
        try:
            return D(v)
        except ValueError:
            return v
    return v


def _order(test):
    return ORDER.index(test) if test in ORDER else len(ORDER)


def _interp(pts, d):
    if d <= pts[0][0]:
        return pts[0][1]
    for (d0, v0), (d1, v1) in zip(pts, pts[1:]):
        if d0 <= d <= d1:
            t = (d - d0).days / (d1 - d0).days if d1 > d0 else 1
            return v0 + (v1 - v0) * t
    return pts[-1][1]


def q3w(start: str, n: int, extra: dict | None = None) -> dict:
    """Cycle -> date: every 21 days, plus extra days before the given cycles."""
    extra = extra or {}
    out, d = {}, D(start)
    for c in range(1, n + 1):
        if c > 1:
            d = d + timedelta(days=21 + extra.get(c, 0))
        out[c] = d
    return out


class Study:
    def __init__(self):
        self.subjects, self.cycles, self.labs, self.aes, self.vitals, self.tumor = [], [], [], [], [], []
        self.conmeds = []

    def find(self, rows, **match):
        hits = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
        assert len(hits) == 1, (match, len(hits))
        return hits[0]

    def patch(self, rows, match: dict, **changes):
        """Change one row (asserts exactly one matches): how each deliberate error is placed."""
        r = self.find(rows, **match)
        if isinstance(changes.get("date"), str):
            r["_sort"] = r["date"]              # a mistyped date still sorts where it was meant
        r.update(changes)

    def retype_dates(self, rows, subject: str, d: date, text: str):
        """Every row of `subject` dated `d` gets the date typed as `text` (a coordinator's typo)."""
        hits = [r for r in rows if r["subject"] == subject and r["date"] == d]
        assert hits, (subject, d)
        for r in hits:
            r["_sort"], r["date"] = d, text

    def duplicate(self, rows, match: dict, **changes):
        """Insert a copy of one row right after it (a double entry), with changes."""
        r = self.find(rows, **match)
        new = copy.deepcopy(r)
        new.update(changes)
        new["_after"] = id(r)
        rows.insert(rows.index(r) + 1, new)


# =========================================================================== demo study
def demo() -> Study:
    st = Study()
    for make in (s001, s002, s003, s004, s005, s006, s007, s008, s009, s010):
        make(st)
    return st


BEV_001 = {"dose": 675, "unit": "mg", "weight": 45}    # the published dose: 15 mg/kg x 45 kg


def s001(st):
    """The published case: 64 M, HBV, HCC resected 2015, recurrence 2022 with lung and spinal
    metastases; Child-Pugh A (5), ECOG 1, BCLC C; PR for 18 months, PD in February 2024."""
    # 28 cycles from 05-JUL-2022. Cycle 11 (planned 31-JAN-2023) delayed 7 days at the patient's
    # request; later visits sometimes a day or two late (inside the +/-3 day window).
    cyc = q3w("2022-07-05", 28, {11: 7, 14: 1, 16: 1, 18: 2, 20: 1, 22: 1, 24: 1, 26: 1, 27: 1})
    stop = cyc[28] + timedelta(days=21)                 # cycle 29, not given: progression
    # The case report gives bevacizumab 675 mg per cycle and no body weight. 675 mg is 15 mg/kg at
    # 45 kg, so 001 weighs 45 kg (a small man; weight stable within +/-1 kg) and every bevacizumab
    # dose is entered as the published 675 mg with the 45 kg it was calculated on.
    p = Patient(st, "001", "M", 64, 45, D("2022-06-20"), "A", "C", 1, stop,
                "Progressive disease (RECIST 1.1): growth of right lower lobe lung metastasis")
    lag = {c: 2 if c % 4 == 0 else 1 for c in cyc}
    pre = {c: cyc[c] - timedelta(days=lag[c]) for c in cyc}
    scr = D("2022-06-28")
    p.set("ALT", (scr, 36), ("2022-09-01", 30), ("2023-06-01", 25), ("2024-02-20", 27))
    p.set("AST", (scr, 35), ("2022-09-01", 30), ("2024-02-20", 27))
    p.set("BILI", (scr, 14.2), ("2023-01-01", 12), ("2024-02-20", 12.5))
    p.set("ALP", (scr, 116), ("2022-10-01", 98), ("2024-02-20", 92))
    p.set("ALB", (scr, 38.4), ("2022-12-01", 41), ("2024-02-20", 40.5))
    p.set("CREAT", (scr, 78), ("2024-02-20", 84))
    p.set("HGB", (scr, 138), ("2023-01-01", 143), ("2024-02-20", 141))
    p.set("PLAT", (scr, 146), ("2023-01-01", 158), ("2024-02-20", 152))
    p.set("NEUT", (scr, 3.3))
    p.set("WBC", (scr, 5.6))
    # subclinical hypothyroidism from cycle 6 (TSH 6-9 mIU/L, FT4 normal): grade 1, untreated
    p.set("TSH", (scr, 1.9), (pre[5], 2.6), (pre[6], 6.8), ("2023-03-01", 8.4), ("2024-02-20", 7.2))
    p.set("FT4", (scr, 15.8), (pre[6], 13.6), ("2024-02-20", 13.2))
    # proteinuria 1+ (grade 1) from cycle 9 (December 2022) to cycle 12; negative from cycle 14
    p.uprot = [(D("2000-01-01"), "Neg"), (pre[8], "Trace"), (pre[9], "1+"), (pre[13], "Trace"),
               (pre[14], "Neg")]
    # blood pressure normal, then grade 1 hypertension (130s/80s) from cycle 11 (31-JAN-2023)
    p.vit["sbp"] = [(D("2022-06-01"), 113), (cyc[10], 115), (cyc[11], 131), (D("2024-03-01"), 130)]
    p.vit["dbp"] = [(D("2022-06-01"), 72), (cyc[10], 74), (cyc[11], 84), (D("2024-03-01"), 83)]
    p.vit["weight"] = [(D("2022-06-01"), 45), (D("2022-12-01"), 45.6), (D("2023-08-01"), 45.9),
                       (D("2024-02-20"), 45.2)]
    p.ecog = [(D("2000-01-01"), 1), (D("2022-11-01"), 0)]

    p.draw(scr, PANEL + ("FT4", "INR"))                                # screening
    p.vitals(scr)
    for c, d in cyc.items():
        extra = ("FT4",) if c % 3 == 0 or c in (6, 7) else ()
        if c == 11:
            why = (f"Planned {_clin(cyc[10] + timedelta(days=21))}, given 7 days later at the "
                   "patient's request (family travel after the Spring Festival)")
            p.cycle(c, d, lag=lag[c], extra_tests=extra, ql={"action": "Delayed", "reason": why},
                    bev={"action": "Delayed", "reason": why, **BEV_001})
        else:
            p.cycle(c, d, lag=lag[c], extra_tests=extra, bev=BEV_001)
    for drug in DRUGS:
        p.dose(29, stop, drug, "Discontinued", reason="Progressive disease (RECIST 1.1) on 20-FEB-2024 CT")
    p.vitals(stop)

    # tumour markers: screening and every cycle up to cycle 9, then every 3 cycles
    p.markers((scr, 1210.4, 2480))
    for c, afp, pivka in [(2, 826.5, 1650), (3, 463.2, 982), (4, 211.7, 516), (5, 98.6, 262),
                          (6, 46.2, 141), (7, 28.4, 84), (8, 19.7, 56), (9, 14.3, 43),
                          (12, 11.8, 38), (15, 9.6, 35), (18, 8.9, 33), (21, 9.4, 31), (24, 8.4, 30),
                          (27, 21.5, 68), (28, 58.2, 142)]:
        p.markers((pre[c], afp, pivka))
    p.markers(("2024-02-20", 96.4, 210))

    # RECIST 1.1: 3 target lesions (2 lung, 1 liver), 2 non-target spinal metastases
    for d, (t1, t2, t3), resp in [(scr, (32, 18, 28), None), ("2022-08-16", (22, 12, 18), "PR"),
                                  ("2022-10-18", (19, 10, 15), "PR"), ("2022-12-20", (17, 9, 13), "PR"),
                                  ("2023-02-21", (16, 8, 12), "PR"), ("2023-04-25", (15, 8, 11), "PR"),
                                  ("2023-06-27", (15, 7, 11), "PR"), ("2023-08-29", (14, 7, 11), "PR"),
                                  ("2023-10-31", (14, 7, 11), "PR"), ("2024-01-02", (15, 7, 11), "PR"),
                                  ("2024-02-20", (24, 7, 11), "PD")]:
        p.scan(d, [("T1", "Target", "Lung, right lower lobe", t1, None),
                   ("T2", "Target", "Lung, left upper lobe", t2, None),
                   ("T3", "Target", "Liver, segment VIII", t3, None),
                   ("NT1", "Non-target", "Bone, T10 vertebra", None, "Present"),
                   ("NT2", "Non-target", "Bone, L2 vertebra", None, "Present")], resp)

    p.ae("Hypothyroidism", 1, pre[6], verbatim="Subclinical hypothyroidism (TSH 6.8)", ql="Y", irae="Y")
    p.ae("Proteinuria", 1, pre[9], pre[14], verbatim="Proteinuria 1+ on dipstick", bev="Y")
    p.ae("Hypertension", 1, cyc[11], verbatim="Raised blood pressure (130s/80s)", bev="Y")


def s002(st):
    """Immune-mediated hepatitis grade 3 (ALT 6.1x ULN): QL1604 held two cycles; PD in May 2023."""
    cyc = q3w("2022-08-09", 13)
    stop = cyc[13] + timedelta(days=21)
    p = Patient(st, "002", "M", 58, 72, D("2022-08-01"), "6", "C", 1, stop,
                "Progressive disease (new intrahepatic lesion)")
    # WB105: the off-treatment date entered without its day
    p.row["off_date"] = stop.isoformat()[:7]
    hep, h1, h2, h3, res = (cyc[4] - timedelta(days=1), D("2022-10-14"), D("2022-10-21"),
                            D("2022-10-28"), cyc[5] - timedelta(days=1))
    p.set("ALT", ("2022-08-02", 34), ("2022-09-15", 42), (hep, 245), (h1, 198), (h2, 121), (h3, 74),
          (res, 61), ("2022-11-21", 38), ("2023-05-01", 33))
    p.set("AST", ("2022-08-02", 36), ("2022-09-15", 44), (hep, 188), (h1, 160), (h2, 97), (h3, 62),
          (res, 52), ("2022-11-21", 37), ("2023-05-01", 35))
    p.set("BILI", ("2022-08-02", 15.1), (hep, 17.8), (h1, 18.2), ("2023-05-01", 14))
    p.set("ALP", ("2022-08-02", 104), (hep, 132), (h1, 128), ("2022-11-21", 108), ("2023-05-01", 112))
    p.set("ALB", ("2022-08-02", 37.6))
    p.set("PLAT", ("2022-08-02", 168))
    p.set("TSH", ("2022-08-02", 2.2))
    p.vit["weight"] = [(D("2022-08-01"), 72), (stop, 70.5)]
    p.draw(D("2022-08-02"), PANEL + ("INR",))
    p.vitals(D("2022-08-02"))
    for c, d in cyc.items():
        if c == 4:      # ALT 245 the day before: QL1604 held, prednisone 1 mg/kg
            p.cycle(c, d, lag=1, ql=("Held", "Immune-mediated hepatitis grade 3 (ALT 6.1x ULN); "
                                             "prednisone 1 mg/kg/day"))
        elif c == 5:    # ALT 1.5x ULN on the steroid taper: still held
            p.cycle(c, d, lag=1, ql=("Held", "Hepatitis resolving (ALT grade 1) on steroid taper"))
        else:
            p.cycle(c, d)
    for d in (h1, h2, h3):
        p.draw(d, ("ALT", "AST", "BILI", "ALP"))
    for drug in DRUGS:
        p.dose(14, stop, drug, "Discontinued", reason="Progressive disease on 02-MAY-2023 CT")
    p.markers(("2022-08-02", 352.0, 880), (p.pre[3], 281.5, 610), (p.pre[6], 306.2, 640),
              (p.pre[9], 418.9, 820), (p.pre[12], 566.0, 1130), ("2023-05-02", 742.8, 1480))
    for d, (t1, t2), resp, new in [("2022-08-02", (45, 30), None, False),
                                   ("2022-09-20", (40, 27), "SD", False),
                                   ("2022-11-22", (38, None), "SD", False),   # RECIST004: T2 not measured
                                   ("2023-01-24", (37, 25), "SD", False),
                                   ("2023-03-28", (39, 26), "SD", False),
                                   ("2023-05-02", (44, 29), "PD", True)]:
        les = [("T1", "Target", "Liver, segment VI", t1, None),
               ("T2", "Target", "Liver, segment IV", t2, None),
               ("NT1", "Non-target", "Portal vein tumour thrombus (right branch)", None, "Present")]
        if new:
            les.append(("N1", "New", "Liver, segment II", None, None))
        p.scan(d, les, resp, all_rows=False)
    p.ae("Rash maculo-papular", 1, "2022-09-05", "2022-09-26", verbatim="Itchy rash on trunk",
         ql="Y", irae="Y")
    # AE007: "Immune hepatitis" is not a CTCAE v5.0 term (should be "Hepatobiliary disorders -
    # Other, specify" with this verbatim). AE006: reported 10-OCT, a day before the site knew (typo).
    p.ae("Immune hepatitis", 3, hep, "2022-11-18", verbatim="immune-mediated hepatitis",
         serious="Y", aware=hep + timedelta(days=1), reported=hep, ql="Y", action="Drug interrupted",
         irae="Y")
    # AE010: death from liver failure 5 weeks after the last dose, graded 4 with outcome Fatal
    p.ae("Hepatic failure", 4, "2023-06-10", "2023-06-14", verbatim="Liver failure due to tumour progression",
         serious="Y", aware="2023-06-14", reported="2023-06-14", outcome="Fatal")
    # LAB005: the ALT of 10-OCT-2022 entered a second time
    st.duplicate(st.labs, {"subject": "002", "date": hep, "test": "ALT"},
                 comment="re-entered from hospital LIS")


def s003(st):
    """Bevacizumab grade 3 hypertension (168/104): bevacizumab held, amlodipine; partial response.
    Drug written "Avastin" (a valid alias) and dosed in mg with the weight (870 mg = 15 x 58 kg)."""
    # DOSE001: cycle 15 given 5 days late (26 days) and recorded as Given, not Delayed
    cyc = q3w("2022-09-13", 26, {15: 5})
    p = Patient(st, "003", "F", 52, 58, D("2022-09-05"), "A5", "B", 0)
    p.set("ALB", ("2022-09-06", 39.5))
    p.set("PLAT", ("2022-09-06", 176))
    p.set("TSH", ("2022-09-06", 1.4))
    p.vit["sbp"] = [(D("2022-09-01"), 112), (cyc[4], 117), (cyc[5], 168), (cyc[5] + timedelta(days=1), 146),
                    (cyc[6], 135), (D("2024-03-01"), 133)]
    p.vit["dbp"] = [(D("2022-09-01"), 72), (cyc[4], 77), (cyc[5], 104), (cyc[5] + timedelta(days=1), 94),
                    (cyc[6], 86), (D("2024-03-01"), 84)]
    p.vit["weight"] = [(D("2022-09-01"), 58), (D("2024-03-01"), 58.6)]
    p.ecog = [(D("2000-01-01"), 0)]
    p.draw(D("2022-09-06"), PANEL + ("INR",))
    p.vitals(D("2022-09-06"))
    # immune-related pneumonitis grade 2 six days after cycle 10: QL1604 held at cycle 11,
    # prednisone 60 mg/day (~1 mg/kg) tapered over 6 weeks; DOSE011: QL1604 resumed at cycle 12 while
    # still on prednisone 20 mg/day (ASCO 2021: resume at <= 10 mg/day)
    pneu = cyc[10] + timedelta(days=6)
    for c, d in cyc.items():
        p.cycle(c, d, bev="skip", ql=("Held", "Pneumonitis grade 2 (immune-related); prednisone 1 mg/kg")
                if c == 11 else None)
        if c == 5:
            p.dose(c, d, "Bevacizumab", "Held", label="Avastin",
                   reason="Hypertension grade 3 (168/104 mmHg); amlodipine started")
        else:
            w = p.wb_weight(d)
            # DOSE002: cycle 20 prepared as 780 mg (15 mg/kg x 52 kg, an old weight), not ~880 mg
            mg = 780 if c == 20 else int(round(15 * w / 10) * 10)
            p.dose(c, d, "Bevacizumab", dose=mg, unit="mg", weight=w, label="Avastin")
    st.patch(st.vitals, {"subject": "003", "date": cyc[5]}, sbp=168, dbp=104)    # the designed BP
    # WB204: cycle 4 bevacizumab entered twice, once as "Avastin" and once as "Bevacizumab"
    st.duplicate(st.cycles, {"subject": "003", "cycle": 4, "_drug": "Bevacizumab"}, drug="Bevacizumab")
    # LAB004: an AST result typed "haemolysed" (should be ND with a comment)
    st.patch(st.labs, {"subject": "003", "date": p.pre[9], "test": "AST"}, result="haemolysed",
             comment="repeat requested")
    p.markers(("2022-09-06", 86.3, 640), (p.pre[3], 41.2, 212), (p.pre[6], 18.6, 71),
              (p.pre[9], 11.4, 44), (p.pre[12], 9.8, 38), (p.pre[17], 8.7, 36), (p.pre[21], 9.1, 35),
              (p.pre[25], 8.8, 34))
    # RECIST001: the investigator called the 25-OCT-2022 scan PR at -23% (SD by RECIST 1.1)
    for d, (t1, t2), resp in [("2022-09-06", (52, 34), None), ("2022-10-25", (40, 26), "PR"),
                              ("2022-12-27", (35, 23), "PR"), ("2023-02-28", (30, 20), "PR"),
                              ("2023-05-02", (28, 18), "PR"), ("2023-07-04", (27, 17), "PR"),
                              ("2023-09-05", (27, 17), "PR"), ("2023-11-07", (26, 16), "PR"),
                              ("2024-01-09", (26, 16), "PR"), ("2024-03-12", (26, 17), "PR")]:
        p.scan(d, [("T1", "Target", "Liver, segment V", t1, None),
                   ("T2", "Target", "Liver, segment VII", t2, None)], resp, all_rows=False)
    p.ae("Fatigue", 1, "2022-10-04", "2022-11-15", ql="Y", number=1)
    # WB103: end date 31-SEP-2022 does not exist (meant 30-SEP)
    p.ae("Epistaxis", 1, "2022-09-20", "31-SEP-2022", verbatim="Nosebleed", bev="Y", number=2)
    # AE001: the hypertension also numbered 2
    p.ae("Hypertension", 3, cyc[5], cyc[6], verbatim="Hypertension 168/104 mmHg", bev="Y",
         action="Drug interrupted", number=2)
    p.ae("Pneumonitis", 2, pneu, pneu + timedelta(days=27), verbatim="Immune-related pneumonitis (CT: ground-glass)",
         ql="Y", action="Drug interrupted", irae="Y", number=4)
    for start, days, mg in ((1, 14, 60), (15, 14, 40), (29, 14, 20), (43, 14, 10), (57, 14, 5)):
        p.conmed("Prednisone", mg, pneu + timedelta(days=start), pneu + timedelta(days=start + days - 1),
                 indication="Immune-related pneumonitis (taper)")
    p.conmed("Amlodipine", 5, cyc[5], indication="Hypertension")
    # WB110: outcome "Resolving" is not on the list (Recovering)
    p.ae("Hypertension", 2, cyc[6] + timedelta(days=1), verbatim="Hypertension on amlodipine",
         bev="Y", outcome="Resolving", number=3)


def s004(st):
    """Proteinuria 3+ / 2.5 g/24h: bevacizumab held, then reduced to 7.5 mg/kg; PD SEP-2023.
    QL1604 written "QL-1604" (a valid alias)."""
    cyc = q3w("2022-10-18", 16)
    stop = cyc[16] + timedelta(days=21)
    p = Patient(st, "004", "M", 61, 80, D("2022-10-10"), "A5", "C", 1, stop,
                "Progressive disease (RECIST 1.1)")
    # DOSE007: off-treatment date typed a month early (19-AUG for 19-SEP-2023): cycle 16 is after it
    p.row["off_date"] = stop.replace(month=stop.month - 1)
    lag = {c: 1 for c in cyc}
    pre = {c: cyc[c] - timedelta(days=1) for c in cyc}
    p.set("ALB", ("2022-10-11", 38.2), (pre[6], 36.2), ("2023-06-01", 37.5))
    p.set("CREAT", ("2022-10-11", 88), (pre[6], 96), ("2023-09-01", 92))
    p.set("TSH", ("2022-10-11", 2.4))
    p.uprot = [(D("2000-01-01"), "Neg"), (pre[4], "1+"), (pre[5], "2+"), (pre[6], "3+"), (pre[7], "2+"),
               (pre[10], "1+"), (pre[13], "Trace")]
    p.vit["weight"] = [(D("2022-10-01"), 80), (D("2023-09-01"), 77.5)]
    p.vit["sbp"] = [(D("2022-10-01"), 116)]
    p.vit["dbp"] = [(D("2022-10-01"), 74)]
    p.draw(D("2022-10-11"), PANEL + ("INR",))
    p.vitals(D("2022-10-11"))
    for c, d in cyc.items():
        p.cycle(c, d, lag=lag[c], ql={"label": "QL-1604"}, bev="skip")
        if c == 6:
            p.lab(pre[c], "UPROT24", 2.5)
            p.dose(c, d, "Bevacizumab", "Held", reason="Proteinuria 2.5 g/24h (>= 2 g/24h)")
        elif c == 7:
            # DOSE005: restarted (reduced) while the 24-h protein was still >= 2 g (hold rule)
            p.lab(pre[c], "UPROT24", 2.1)
            p.dose(c, d, "Bevacizumab", "Reduced", dose=7.5,
                   reason="Proteinuria grade 2 improving (2.1 g/24h): dose reduced to 7.5 mg/kg")
        elif c == 8:
            p.lab(pre[c], "UPROT24", 1.6)
            p.dose(c, d, "Bevacizumab", "Reduced", dose=7.5, reason="Continued at 7.5 mg/kg (proteinuria)")
        elif c > 7:
            p.dose(c, d, "Bevacizumab", "Reduced", dose=7.5, reason="Continued at 7.5 mg/kg (proteinuria)")
        else:
            p.dose(c, d, "Bevacizumab")
    p.lab(pre[11], "UPROT24", 0.62)
    for drug, label in (("QL1604", "QL-1604"), ("Bevacizumab", None)):
        p.dose(17, stop, drug, "Discontinued", label=label, reason="Progressive disease on 05-SEP-2023 CT")
    # WB210: systolic and diastolic swapped on cycle 3
    st.patch(st.vitals, {"subject": "004", "date": cyc[3]}, sbp=82, dbp=134)
    # WB107: weight typed with a decimal comma on cycle 9
    st.patch(st.vitals, {"subject": "004", "date": cyc[9]}, weight="79,5")
    # LAB007: ALT limits swapped on cycle 10's panel
    st.patch(st.labs, {"subject": "004", "date": pre[10], "test": "ALT"}, lln=40, uln=7)
    p.markers(("2022-10-11", 4.2, 1860), (pre[5], 3.8, 1420), (pre[10], 4.0, 1290), (pre[14], 4.4, 1650),
              ("2023-09-05", 4.9, 2310))
    for d, (t1, t2), resp in [("2022-10-11", (60, 18), None), ("2022-11-29", (55, 17), "SD"),
                              ("2023-01-31", (52, 16), "SD"), ("2023-04-04", (50, 16), "SD"),
                              ("2023-06-06", (51, 16), "SD"), ("2023-09-05", (64, 20), "PD")]:
        p.scan(d, [("T1", "Target", "Liver, segment VII", t1, None),
                   ("T2", "Target", "Lymph node, portocaval (short axis)", t2, None)], resp)
    # AE003: Ongoing Y although an end date is entered
    p.ae("Proteinuria", 2, pre[5], "2023-06-20", ongoing="Y", verbatim="Proteinuria 2+ to 3+, 2.5 g/24h",
         bev="Y", action="Dose reduced", outcome="Recovered")


def s005(st):
    """Potential Hy's law (ALT 4.7x ULN, bilirubin 2.7x ULN, ALP 1.2x ULN): SAE reported 3 days
    after awareness; QL1604 permanently discontinued, bevacizumab monotherapy; consent withdrawn."""
    cyc = q3w("2022-11-22", 12)
    stop = cyc[12] + timedelta(days=21)
    p = Patient(st, "005", "F", 66, 54, D("2022-11-14"), "A6", "C", 1, stop,
                "Subject withdrew consent for further treatment")
    # WB208: off-treatment date typed 2022 for 2023: before the consent date
    p.row["off_date"] = stop.replace(year=2022)
    hy = cyc[6] - timedelta(days=1)
    f1, f2, f3, f4 = D("2023-03-10"), D("2023-03-17"), D("2023-03-24"), D("2023-04-07")
    p.set("ALT", ("2022-11-15", 31), ("2023-02-13", 38), (hy, 186), (f1, 242), (f2, 150), (f3, 88),
          (f4, 45), ("2023-04-17", 36), ("2023-08-01", 30))
    p.set("AST", ("2022-11-15", 33), ("2023-02-13", 39), (hy, 172), (f1, 210), (f2, 128), (f3, 71),
          (f4, 41), ("2023-04-17", 35), ("2023-08-01", 32))
    p.set("BILI", ("2022-11-15", 13.6), ("2023-02-13", 15.0), (hy, 55.4), (f1, 58.6), (f2, 49.0),
          (f3, 31.2), (f4, 19.1), ("2023-04-17", 16), ("2023-08-01", 14))
    p.set("ALP", ("2022-11-15", 96), (hy, 152), (f1, 161), (f3, 124), ("2023-04-17", 101))
    p.set("INR", ("2022-11-15", 1.04), (hy, 1.28), (f1, 1.36), (f4, 1.08))
    p.set("ALB", ("2022-11-15", 36.8), (f1, 33.9), ("2023-05-01", 36.5))
    p.set("TSH", ("2022-11-15", 2.0))
    p.vit["weight"] = [(D("2022-11-01"), 54), (stop, 52.8)]
    p.draw(D("2022-11-15"), PANEL + ("INR",))
    p.vitals(D("2022-11-15"))
    why = "ALT 4.7x ULN with bilirubin 2.7x ULN (potential Hy's law); hospitalised"
    for c, d in cyc.items():
        if c == 6:
            p.cycle(c, d, lag=1, extra_tests=("INR",), ql=("Held", why), bev=("Held", why))
        elif c == 7:
            p.cycle(c, d, ql=("Discontinued", "Immune-mediated hepatitis with jaundice: QL1604 "
                                              "permanently discontinued"),
                    bev=("Held", "Hepatitis recovering"))
        elif c == 8:    # DOSE006: a QL1604 row entered as Given (copied from the bevacizumab row)
            p.cycle(c, d)
        elif c > 7:
            p.cycle(c, d, ql="skip")
        else:
            p.cycle(c, d)
    for d in (f1, f2, f3, f4):
        p.draw(d, LFT)
    p.dose(13, stop, "Bevacizumab", "Discontinued", reason="Subject withdrew consent")
    # DOSE009: at the end-of-treatment visit QL1604 "cycle 7 Discontinued" was entered a second time
    p.dose(7, stop, "QL1604", "Discontinued", reason="Subject withdrew consent")
    # WB205: cycle 3 QL1604 Given with no dose; WB206: cycle 5 bevacizumab dose without unit
    st.patch(st.cycles, {"subject": "005", "cycle": 3, "_drug": "QL1604"}, dose=None, unit=None)
    st.patch(st.cycles, {"subject": "005", "cycle": 5, "_drug": "Bevacizumab"}, unit=None)
    p.markers(("2022-11-15", 2850.0, 5120), (p.pre[3], 1460.3, 2210), (p.pre[5], 1312.8, 1980),
              ("2023-04-17", 1580.1, 2350), (p.pre[12], 1722.4, 2890))
    for d, (t1, t2), resp in [("2022-11-15", (70, 41), None), ("2023-01-03", (62, 38), "SD"),
                              ("2023-03-07", (60, 37), "SD"), ("2023-05-09", (61, 38), "SD"),
                              ("2023-07-11", (64, 39), "SD")]:
        p.scan(d, [("T1", "Target", "Liver, segment VIII", t1, None),
                   ("T2", "Target", "Lung, right middle lobe", t2, None),
                   ("NT1", "Non-target", "Peritoneum", None, "Present")], resp, all_rows=False)
    # WB101: the Grade of this AE was never entered
    p.ae("Fatigue", None, "2022-12-05", "2023-01-20", ql="Y")
    # SAE reported 3 days after awareness (protocol: within 24 h)
    p.ae("Hepatobiliary disorders - Other, specify", 3, hy, f4,
         verbatim="immune-mediated hepatitis with jaundice", serious="Y", aware=cyc[6],
         reported=cyc[6] + timedelta(days=3), ql="Y", action="Drug withdrawn", irae="Y")


def s006(st):
    """Hypersplenism: platelets 48 and ANC 0.9 (grade 3) -> both drugs delayed 1 week;
    neutropenic lung infection (SAE). Cycle 1 dated before the consent date (WB209)."""
    cyc = q3w("2022-11-04", 23, {4: 7})
    p = Patient(st, "006", "M", 55, 66, D("2022-11-08"), "A6", "C", 1)
    low, rec = cyc[4] - timedelta(days=8), cyc[4] - timedelta(days=1)     # 05-JAN and 12-JAN-2023
    p.set("PLAT", ("2022-10-28", 102), ("2022-12-14", 84), (low, 48), (rec, 76), ("2023-02-01", 92),
          ("2024-03-01", 96))
    p.set("NEUT", ("2022-10-28", 2.3), ("2022-12-14", 1.6), (low, 0.9), (rec, 1.6), ("2023-02-01", 2.1),
          ("2024-03-01", 2.2))
    p.set("WBC", ("2022-10-28", 4.1), ("2022-12-14", 3.2), (low, 2.3), (rec, 3.0), ("2023-02-01", 3.8),
          ("2024-03-01", 3.9))
    p.set("ALB", ("2022-10-28", 36.2))
    # cirrhosis: ALT ~3.2x, AST ~3x and bilirubin ~2.1x ULN from screening on, stable (no Hy's law:
    # multiples of the abnormal baseline). Cycle 18's panel: ALT 11x with bilirubin 3.5x ULN (immune
    # hepatitis) -- CTCAE grade 1-2 against that baseline, but the anti-PD-1 label for HCC says
    # permanently discontinue (> 10x ULN; bilirubin > 3x ULN). DOSE006: QL1604 still given at cycle 18.
    hep = cyc[18] - timedelta(days=1)
    p.set("ALT", ("2022-10-28", 128), (cyc[17], 130), (hep, 440), (cyc[19] - timedelta(days=1), 180),
          (cyc[21], 132), ("2024-03-01", 128))
    p.set("AST", ("2022-10-28", 118), (cyc[17], 120), (hep, 380), (cyc[19] - timedelta(days=1), 160),
          (cyc[21], 120), ("2024-03-01", 118))
    p.set("BILI", ("2022-10-28", 43), (cyc[17], 43), (hep, 71.8), (cyc[19] - timedelta(days=1), 50),
          (cyc[21], 44), ("2024-03-01", 43))
    p.set("TSH", ("2022-10-28", 1.6))
    p.vit["weight"] = [(D("2022-10-01"), 66), (D("2024-03-01"), 67)]
    p.draw(D("2022-10-28"), PANEL + ("INR",))
    p.vitals(D("2022-10-28"))
    why = (f"Platelets 48 and ANC 0.9 on {_clin(low)} (grade 3): delayed 1 week from "
           f"{_clin(cyc[3] + timedelta(days=21))}")
    for c, d in cyc.items():
        if c == 4:
            p.draw(low, PANEL)
            p.cycle(c, d, lag=1, ql={"action": "Delayed", "reason": why},
                    bev={"action": "Delayed", "reason": why})
        elif c == 10:   # DOSE008: the visit happened (labs, vitals) but its dosing rows were never entered
            p.cycle(c, d, ql="skip", bev="skip")
        elif c == 18:
            p.cycle(c, d, lag=1)
        elif c == 19:
            p.cycle(c, d, lag=1, ql=("Discontinued", "Immune-mediated hepatitis: ALT 11x ULN with bilirubin "
                                                    f"3.5x ULN on {_clin(hep)}"))
        elif c > 19:
            p.cycle(c, d, ql="skip")
        else:
            p.cycle(c, d)
    p.ae("Hepatobiliary disorders - Other, specify", 2, hep, cyc[21], verbatim="immune-mediated hepatitis",
         ql="Y", action="Drug withdrawn", irae="Y")
    # LAB006: a second PLAT for 05-JAN-2023: 148 (a typo of 48)
    st.duplicate(st.labs, {"subject": "006", "date": low, "test": "PLAT"}, result=148)
    # WB202: the panel of 12-JAN-2023 entered under subject "06"
    for r in st.labs:
        if r["subject"] == "006" and r["date"] == rec:
            r["subject"] = "06"
    # WB106: a Vitals date with the year mistyped; WB108: ECOG 1.5
    st.patch(st.vitals, {"subject": "006", "date": cyc[10]}, date="2320" + cyc[10].isoformat()[4:])
    st.patch(st.vitals, {"subject": "006", "date": cyc[12]}, ecog="1.5")
    p.markers(("2022-10-28", 612.0, 940), (low, 388.1, 602), (p.pre[8], 295.5, 455), (p.pre[14], 301.2, 470),
              (p.pre[21], 318.6, 488))
    # MK003: the AFP of cycle 14's panel entered without its ULN
    st.patch(st.labs, {"subject": "006", "date": p.pre[14], "test": "AFP"}, uln=None)
    for d, t1, resp in [("2022-10-28", 48, None), ("2022-12-16", 44, "SD"), ("2023-02-24", 41, "SD"),
                        ("2023-04-28", 40, "SD"), ("2023-06-30", 42, "SD"), ("2023-09-01", 41, "SD"),
                        ("2023-11-03", 43, "SD"), ("2024-01-05", 42, "SD")]:
        # RECIST002: six target lesions selected at baseline (RECIST 1.1 allows five)
        p.scan(d, [("T1", "Target", "Liver, segment VI", t1, None),
                   ("T2", "Target", "Liver, segment VIII", 22, None),
                   ("T3", "Target", "Lung, right lower lobe", 15, None),
                   ("T4", "Target", "Lung, left lower lobe", 12, None),
                   ("T5", "Target", "Peritoneum", 18, None),
                   ("T6", "Target", "Adrenal gland, left", 14, None),
                   ("NT1", "Non-target", "Lymph node, hepatic hilum", None, "Present")], resp,
               all_rows=False)
    # AE101: graded 2 although platelets 48 x 10^9/L is CTCAE grade 3 (< 50)
    p.ae("Platelet count decreased", 2, low, rec, verbatim="Thrombocytopenia", ql="Y", bev="Y",
         action="Dose delayed")
    # AE004: not ongoing but no end date; AE102: graded 4 although the lowest ANC, 0.9, is grade 3
    p.ae("Neutrophil count decreased", 4, low, None, ongoing="N", verbatim="Neutropenia",
         ql="Y", bev="Y", action="Dose delayed", outcome="Recovered")
    # VS001: one reading of 162/96 mmHg (grade 3 hypertension) with no Hypertension AE
    st.patch(st.vitals, {"subject": "006", "date": cyc[15]}, sbp=162, dbp=96)
    # AE005: serious, but the SAE report date was never entered
    p.ae("Lung infection", 3, low + timedelta(days=3), "2023-01-20", verbatim="Neutropenic pneumonia",
         serious="Y", aware=low + timedelta(days=4), reported=None, action="Dose delayed")


def s007(st):
    """Grade 3 oesophageal variceal haemorrhage (SAE) on 18-JAN-2023: bevacizumab discontinued,
    QL1604 continued alone. Labs of the emergency admission come from an outside hospital
    (Hb in g/dL, PLT x10^3/uL, T-Bil and creatinine in mg/dL, SGPT): valid names and units."""
    cyc = q3w("2022-08-30", 26, {7: 3, 8: 4})
    p = Patient(st, "007", "M", 67, 64, D("2022-08-22"), "A6", "C", 1)
    bleed = D("2023-01-18")
    p.set("HGB", ("2022-08-23", 134), (cyc[7] - timedelta(days=1), 128), (bleed, 76),
          (cyc[8] - timedelta(days=1), 98), ("2023-03-01", 118), ("2024-03-01", 128))
    p.set("PLAT", ("2022-08-23", 132), ("2024-03-01", 128))
    p.set("ALB", ("2022-08-23", 36.5))
    p.set("BILI", ("2022-08-23", 17.2))
    p.set("TSH", ("2022-08-23", 2.7))
    p.vit["weight"] = [(D("2022-08-01"), 64), (D("2024-03-01"), 63)]
    p.draw(D("2022-08-23"), PANEL + ("INR",))
    p.vitals(D("2022-08-23"))
    # LAB001: HBV DNA is not in the lab catalogue
    p.lab(D("2022-08-23"), "HBVDNA", "<20", unit="IU/mL", lln=None, uln=None, label="HBV DNA",
          comment="on entecavir")
    for c, d in cyc.items():
        if c == 7:      # WB207: Delayed (3 days), reason not entered
            p.cycle(c, d, lag=1, ql={"action": "Delayed"}, bev={"action": "Delayed"})
        elif c == 8:
            p.cycle(c, d, lag=1, ql={"action": "Delayed", "reason": "Recovery from variceal bleeding "
                                                                   "(band ligation 19-JAN-2023)"},
                    bev=("Discontinued", "Grade 3 oesophageal variceal haemorrhage: bevacizumab "
                                         "permanently discontinued"))
        elif c > 8:
            p.cycle(c, d, lag=1 if c == 14 else None, bev="skip")
        else:
            p.cycle(c, d)
    # outside-hospital results on the day of the bleed (names and units as that lab writes them)
    for test, label, result, unit, lln, uln in [
            ("HGB", "Hb", 7.6, "g/dL", 13.0, 17.5), ("PLAT", "PLT", 88, "x10^3/uL", 125, 350),
            ("BILI", "T-Bil", 1.1, "mg/dL", 0.2, 1.2), ("ALT", "SGPT", 35, "U/L", 7, 40),
            ("CREAT", "Creatinine", 1.0, "mg/dL", 0.7, 1.25), ("INR", "INR", 1.4, None, 0.8, 1.2)]:
        p.lab(bleed, test, result, unit=unit, lln=lln, uln=uln, label=label,
              comment="County hospital emergency department")
    # WB102: "Sept" is not a month abbreviation the contract accepts
    st.patch(st.vitals, {"subject": "007", "date": cyc[2]}, date=_clin(cyc[2]).replace("SEP", "Sept"))
    # WB104: the pre-dose labs of 05-JUN-2023 typed 05/06/2023 (day/month order unknown)
    assert p.pre[14] == D("2023-06-05"), p.pre[14]
    st.retype_dates(st.labs, "007", p.pre[14], "05/06/2023")
    p.markers(("2022-08-23", 45.3, 322), (p.pre[5], 22.8, 118), (p.pre[9], 19.4, 86),
              (p.pre[17], 20.2, 88), (p.pre[24], 22.6, 95))
    # RECIST005: the baseline CT is from the referring hospital, 35 days before the first dose
    for d, (t1, t2), resp in [("2022-07-26", (41, 22), None), ("2022-10-11", (33, 18), "SD"),
                              ("2022-12-13", (28, 15), "PR"), ("2023-02-21", (27, 15), "PR"),
                              ("2023-04-25", (26, 14), "PR"), ("2023-06-27", (26, 14), "PR"),
                              ("2023-08-29", (27, 14), "PR"), ("2023-10-31", (27, 15), "PR"),
                              ("2024-01-02", (28, 15), "PR")]:
        p.scan(d, [("T1", "Target", "Liver, segment IVa", t1, None),
                   ("T2", "Target", "Lung, right upper lobe", t2, None)], resp, all_rows=False)
    # AE011 / AE012: pruritus present before consent (medical history) entered as an AE
    p.ae("Pruritus", 1, "2022-08-15", "2022-10-20", verbatim="Itching (before study entry)")
    p.ae("Esophageal varices hemorrhage", 3, bleed, "2023-01-25",
         verbatim="Haematemesis from oesophageal varices, band ligation", serious="Y",
         aware=bleed, reported=bleed, bev="Y", action="Drug withdrawn")
    p.ae("Anemia", 3, bleed, "2023-02-20", verbatim="Anaemia after variceal bleed, 2 units RBC")


def s008(st):
    """Weight 55 -> 48 kg (-12%) but bevacizumab still dosed on 55 kg; no pre-dose labs before
    cycle 5; early PD with a new bone lesion (22-NOV-2022) -> off treatment."""
    cyc = q3w("2022-07-26", 6)
    stop = cyc[6] + timedelta(days=21)
    p = Patient(st, "008", "F", 70, 55, D("2022-07-18"), "A5", "C", 1, stop,
                "Progressive disease (new bone metastasis)")
    p.set("ALB", ("2022-07-19", 37.0), ("2022-11-01", 34.2))
    p.set("ALP", ("2022-07-19", 118), ("2022-11-01", 168))
    p.set("TSH", ("2022-07-19", 2.9))
    p.vit["weight"] = [(D("2022-07-01"), 55), (cyc[2], 53.6), (cyc[4], 50.8), (cyc[6], 48.4), (stop, 47.9)]
    p.ecog = [(D("2000-01-01"), 1), (D("2022-11-01"), 2)]
    p.draw(D("2022-07-19"), PANEL + ("INR",))
    p.vitals(D("2022-07-19"))
    for c, d in cyc.items():
        p.cycle(c, d, labs=(c != 5), bev={"weight": 55})   # weight never updated; no labs before C5
    for drug in DRUGS:
        p.dose(7, stop, drug, "Discontinued", reason="Progressive disease on 22-NOV-2022 CT")
    p.vitals(stop)
    # WB203: denosumab (for the bone metastases) is not a study drug
    p.dose(4, cyc[4], "Denosumab", dose=120, unit="mg", weight=None)
    # LAB008: ALP of cycle 3's panel with the ULN blank
    st.patch(st.labs, {"subject": "008", "date": p.pre[3], "test": "ALP"}, uln=None)
    p.markers(("2022-07-19", 18.2, 460), (p.pre[3], 24.6, 612), ("2022-11-22", 41.8, 1120))
    for d, (t1, t2), resp, new in [("2022-07-19", (38, 25), None, False),
                                   ("2022-09-06", (40, 26), "SD", False),
                                   ("2022-11-22", (45, 29), "PD", True)]:
        les = [("T1", "Target", "Liver, segment II", t1, None),
               ("T2", "Target", "Liver, segment VI", t2, None),
               ("T3", "Target", "Liver, segment IV", t1 // 2, None)]    # RECIST003: a third liver target
        if new:
            les.append(("N1", "New", "Bone, right iliac", None, None))
        p.scan(d, les, resp)
    # AE008: Alopecia has grades 1-2 only in CTCAE v5.0
    p.ae("Alopecia", 3, "2022-09-10", verbatim="Hair thinning")
    p.ae("Anorexia", 2, "2022-09-20", verbatim="Poor appetite")
    p.ae("Weight loss", 2, cyc[6], verbatim="Weight loss 12% from baseline")
    p.ae("Back pain", 3, "2022-11-18", "2022-11-26", verbatim="Bone pain, new iliac metastasis",
         serious="Y", aware="2022-11-18", reported="2022-11-18")
    # AE013: died of progressive disease after stopping treatment; entered as not serious
    p.ae("Disease progression", 5, "2023-01-20", "2023-01-20", verbatim="Death due to progressive HCC",
         outcome="Fatal")


def s009(st):
    """Recently enrolled; thyroiditis: hyperthyroidism (TSH <0.01) then hypothyroidism grade 2 on
    levothyroxine. Entered twice on the Subjects sheet (WB201)."""
    cyc = q3w("2023-09-12", 9)
    pre = {c: cyc[c] - timedelta(days=1) for c in cyc}
    p = Patient(st, "009", "M", 49, 75, D("2023-09-04"), "A5", "C", 0)
    p.set("TSH", ("2023-09-05", 1.7), (pre[2], 1.2), (pre[3], 0.01), (pre[4], 0.9), (pre[5], 18.6),
          (pre[7], 6.2), (pre[9], 3.1))
    p.set("FT4", ("2023-09-05", 16.2), (pre[2], 15.0), (pre[3], 38.4), (pre[4], 14.1), (pre[5], 8.2),
          (pre[7], 12.6), (pre[9], 15.1))
    p.vit["weight"] = [(D("2023-09-01"), 75), (D("2024-03-01"), 75.8)]
    p.ecog = [(D("2000-01-01"), 0)]
    p.draw(D("2023-09-05"), PANEL + ("FT4", "INR"))
    p.vitals(D("2023-09-05"))
    for c, d in cyc.items():
        p.cycle(c, d, lag=1, extra_tests=("FT4",))
    # TSH below the assay's limit: a qualified result (valid)
    st.patch(st.labs, {"subject": "009", "date": pre[3], "test": "TSH"}, result="<0.01")
    # LAB009: bilirubin 12.1 in mmol/L (12,100 umol/L: the lab's unit is umol/L); LAB002: ALT in
    # "UL" (U/L); LAB003: AST without a unit
    st.patch(st.labs, {"subject": "009", "date": pre[5], "test": "BILI"}, unit="mmol/L")
    st.patch(st.labs, {"subject": "009", "date": pre[5], "test": "ALT"}, unit="UL")
    st.patch(st.labs, {"subject": "009", "date": pre[6], "test": "AST"}, unit=None)
    # WB112: the pre-dose labs of cycle 7 dated 2042 (digit swap for 2024)
    st.retype_dates(st.labs, "009", pre[7], "2042" + pre[7].isoformat()[4:])
    # WB111: weight 7.5 for 75
    st.patch(st.vitals, {"subject": "009", "date": cyc[4]}, weight=7.5)
    # WB201: the subject re-entered on the Subjects sheet
    st.subjects.append(dict(p.row, ecog=1, weight=75.4))
    p.markers(("2023-09-05", 9.6, 1240), (pre[4], 7.2, 380), (pre[9], 5.8, 96))
    for d, (t1, t2), resp in [("2023-09-05", (36, 24), None), ("2023-10-24", (30, 20), "SD"),
                              ("2023-12-26", (24, 15), "PR"), ("2024-02-27", (22, 14), "PR")]:
        p.scan(d, [("T1", "Target", "Liver, segment VIII", t1, None),
                   ("T2", "Target", "Adrenal gland, right", t2, None)], resp, all_rows=False)
    # AE002: end date 2023-09-28 (month typo for 2023-11-28) is before the onset
    p.ae("Hyperthyroidism", 1, pre[3], "2023-09-28", verbatim="Thyroiditis, thyrotoxic phase",
         ql="Y", irae="Y")
    # WB109: "possibly" is not Y or N
    p.ae("Hypothyroidism", 2, pre[5], verbatim="Hypothyroidism, levothyroxine 50 ug", ql="Y",
         bev="possibly", irae="Y")


def s010(st):
    """Pseudo-progression on anti-PD-1 (iRECIST, Seymour 2017): targets 65 -> 80 mm on the first CT
    (RECIST 1.1 PD; iUPD), clinically well, treated beyond progression; 44 mm six weeks later (PR;
    iPR, the bar reset) and 41 mm (iPR confirmed). Then 56 mm (+37% over the nadir: iUPD) and 65 mm
    six weeks later (+9 mm: iCPD) -- cycle 12 still given after it (RECIST007). A 12 mm portocaval
    node was chosen as a target at baseline (RECIST006; read as a non-target). The liver targets
    carry viable (enhancing) diameters: mRECIST reads SD, PR, PR, PD, PD."""
    cyc = q3w("2023-03-07", 12)
    stop = cyc[12] + timedelta(days=21)
    p = Patient(st, "010", "F", 57, 62, D("2023-02-20"), "A5", "C", 0, stop,
                "Confirmed progressive disease (iRECIST iCPD on 03-OCT-2023 CT)")
    p.vit["weight"] = [(D("2023-02-01"), 62), (D("2023-11-01"), 61.2)]
    p.draw(D("2023-02-28"), PANEL + ("INR",))
    p.vitals(D("2023-02-28"))
    for c, d in cyc.items():
        p.cycle(c, d, lag=1)
    for drug in DRUGS:
        p.dose(13, stop, drug, "Discontinued", reason="Confirmed progression (iCPD) on 03-OCT-2023 CT")
    p.markers(("2023-02-28", 420.5, 880), (p.pre[4], 388.0, 760), (p.pre[6], 96.2, 210), (p.pre[9], 61.8, 150),
              (p.pre[11], 212.4, 520))
    for d, (t1, t2), resp in [("2023-03-01", (40, 25), None), ("2023-04-18", (50, 30), "PD"),
                              ("2023-05-30", (30, 14), "PR"), ("2023-07-11", (28, 13), "PR"),
                              ("2023-08-22", (38, 18), "PD"), ("2023-10-03", (45, 20), "PD")]:
        p.scan(d, [("T1", "Target", "Liver, segment VII", t1, None),
                   ("T2", "Target", "Liver, segment IV", t2, None),
                   ("T3", "Target", "Lymph node, portocaval (short axis)", 12, None),
                   ("NT1", "Non-target", "Peritoneum", None, "Present")], resp)
    # mRECIST (HCC): viable, arterially enhancing diameters of the two liver targets
    viable = {"2023-03-01": (36, 22), "2023-04-18": (44, 24), "2023-05-30": (12, 0), "2023-07-11": (10, 0),
              "2023-08-22": (26, 10), "2023-10-03": (35, 14)}
    for r in st.tumor:
        if r["subject"] == "010" and r["lesion"] in ("T1", "T2"):
            r["viable"] = viable[r["date"].isoformat()][r["lesion"] == "T2"]
    p.ae("Tumor pain", 2, "2023-04-12", "2023-05-10", verbatim="Right upper quadrant pain (tumour flare)", ql="Y")


def _clin(d: date) -> str:
    """05-JUL-2022."""
    return d.strftime("%d-%b-%Y").upper()


# ------------------------------------------------------------------ writing workbooks
HEAD_FONT = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


def write_sheet(ws, columns, rows, date_fmt=DATE_FMT):
    ws.append([c.header for c in columns])
    for cell in ws[1]:
        cell.font, cell.fill = HEAD_FONT, HEAD_FILL
    for r in rows:
        ws.append([_cell(r.get(c.key)) for c in columns])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, (date, datetime)):
                cell.number_format = date_fmt
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width = max(c.width, len(c.header) + 2)
    ws.freeze_panes = "B2"


def _cell(v):
    if v is ...:
        return None
    return v


def sorted_rows(rows, key):
    """Stable sort by key, keeping a double entry right after its original."""
    out = []
    for r in sorted((r for r in rows if not r.get("_after")), key=key):
        out.append(r)
        out.extend(x for x in rows if x.get("_after") == id(r))
    return out


def _when(r, key="date") -> date:
    """The date a row sorts by: the date meant, also when it was mistyped."""
    v = r.get("_sort", r.get(key))
    return v if isinstance(v, date) else date(1900, 1, 1)


def _sortsubj(s):
    return s.zfill(3)


def save_deterministic(wb: openpyxl.Workbook, path: Path):
    """Save with fixed document properties and fixed zip member timestamps (byte-identical reruns)."""
    wb.properties.creator = "make_samples.py"
    wb.properties.lastModifiedBy = "make_samples.py"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    archive = zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(wb, archive).save()          # not save_workbook(): it stamps "modified" with now()
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, src.read(info.filename))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())


def write_demo(path: Path = DEMO) -> Path:
    st = demo()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Study"
    ws.append([STUDY.column("field").header, STUDY.column("value").header])
    for cell in ws[1]:
        cell.font, cell.fill = HEAD_FONT, HEAD_FILL
    for row in (("Protocol", "QL1604-HCC-201"), ("Site", "01"), ("Profile", "ql1604_bev_hcc")):
        ws.append(row)
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 14, 30

    write_sheet(wb.create_sheet("Subjects"), SUBJECTS.columns, st.subjects)
    write_sheet(wb.create_sheet("Cycles"), CYCLES.columns, sorted_rows(
        st.cycles, lambda r: (_sortsubj(r["subject"]), r["cycle"], DRUGS.index(r["_drug"])
                              if r["_drug"] in DRUGS else 9)))
    write_sheet(wb.create_sheet("Labs"), LABS.columns, sorted_rows(
        st.labs, lambda r: (_sortsubj(r["subject"]), _when(r), r["_order"])))
    write_sheet(wb.create_sheet("AdverseEvents"), columns_for(ADVERSE_EVENTS, DRUGS), sorted(
        st.aes, key=lambda r: (_sortsubj(r["subject"]), r["ae_number"], _when(r, "onset"))))
    write_sheet(wb.create_sheet("Vitals"), VITALS.columns, sorted(
        st.vitals, key=lambda r: (_sortsubj(r["subject"]), _when(r))))
    write_sheet(wb.create_sheet("Tumor"), TUMOR.columns, sorted(
        st.tumor, key=lambda r: (_sortsubj(r["subject"]), r["date"])))    # lesions in scan order
    write_sheet(wb.create_sheet("ConMeds"), CONMEDS.columns, sorted(
        st.conmeds, key=lambda r: (_sortsubj(r["subject"]), r["start"])))
    save_deterministic(wb, path)
    return path


# =========================================================================== messy workbook
def write_messy(path: Path = MESSY) -> Path:
    """A tired coordinator's workbook of another site. Every structural rule fires here:
        WB001 header-row-not-found       sheet "RECIST": home-made headers (Pt, Scan dt, Lsn ...)
        WB002 required-column-missing    sheet "AE": no "Related to Bevacizumab" column
        WB003 unknown-column             "Hospital no." on Patients; a header-less column on Vital signs
        WB004 column-duplicated          "Lab results": both "Result" and "Value"
        WB005 formula-without-cached-value  Dosing dose "=H6*15" and a Lab ULN "=40" (no saved value)
        WB006 study-field-missing        STUDY has no Site
        WB007 profile-not-matching       STUDY Profile "QL1604 + Bev HCC"
        WB008 date-format-unknown        STUDY Date format "dd.mm.yy"
    and the cell rules again in their untidy forms (05/07/2022, 31-FEB-2023, 2022-09 consent,
    "12,5", "maybe", Sex "X", Age 640, weight 7.5, 2032 dose date, "12" in a date cell ...).
    Valid untidy forms that must not fire: "male"/"Male", "given", "yes"/"TRUE"/"1"/"no"/"false"/
    "0", "<0.5", "ND", partial AE dates "UNK-SEP-2022" / "2022-08", aliases SGPT, PLT, Bev,
    QL-1604, Avastin, sheet aliases (Patients, Dosing, Lab results, AE, Vital signs, RECIST).
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "STUDY"
    ws.append(["Study information - please complete"])
    ws.append(["FIELD", "value"])
    ws.append(["Protocol", "QL1604-HCC-201"])
    ws.append(["Profile", "QL1604 + Bev HCC"])          # WB007
    ws.append(["Date format", "dd.mm.yy"])               # WB008 (and numeric dates stay ambiguous)
    ws.append(["Investigator", "Dr. Wang"])              # not a contract field: ignored
    # WB006: no Site row

    ws = wb.create_sheet("Patients")
    ws.append(["SUBJECT LIST  -  site 02"])
    ws.append(["Instructions: one row per subject; dates as DD-MMM-YYYY; do not merge cells"])
    ws.append(["subject_id", "sex", "AGE", "Weight(kg)", "Informed consent date", "Child-Pugh class",
               "BCLC", "Baseline ECOG", "End of treatment date", "off treatment reason", "Hospital no."])
    ws.append([201, "Male", 58, 71, "05/07/2022", "A5", "C", 1, None, None, "H-88213"])     # WB104
    ws.append([202, "F", 640, "62,5", "12-AUG-2022", "A", "B", 0, None, None, "H-90112"])  # WB111, WB107
    ws.append([])                                                                          # empty row
    ws.append([203, "male", 45, 7.5, "2022-09", "B7", "C", "1", None, None, "H-90377"])    # WB111, WB105
    ws.append([204, "M", 59, 80.4, datetime(2022, 10, 3), "A6", "C", 1, "31-FEB-2023",    # WB103
               "Progression", "H-91002"])
    ws.append([205, "X", 63, 66, "03-NOV-2022", "A5", "E", 2, None, None, "H-91540"])      # WB110 x2

    ws = wb.create_sheet("Dosing")            # column A left empty: data start in column B
    ws["B1"] = "Dosing log (QL1604 200 mg + bevacizumab 15 mg/kg q3w)"
    hdr = ["Subject", "Cycle number", "Dose date", "Treatment", "Actual dose", "Dose unit", "Weight (kg)",
           "Status", "Reason"]
    rows = [
        [201, 1, datetime(2022, 7, 12), "QL-1604", 200, "mg", None, "Given", None],
        [201, 1, datetime(2022, 7, 12), "Avastin", 15, "mg/kg", 71, "Given", None],
        [201, 2, "02-AUG-2022", "QL1604", 200, "mg", None, "given", None],
        [201, 2, "02-AUG-2022", "Bev", "=H6*15", "mg", 71, "Given", None],        # WB005 (+ WB205)
        [202, 1, "23-AUG-2022", "Sorafenib", 400, "mg", None, "Given", None],       # WB203
        [202, 2.5, "13-SEP-2022", "QL1604", 200, "mg", None, "Given", None],        # WB108
        None,                                                                       # empty row
        [203, 1, "2032-09-20", "QL1604", 200, "mg", None, "Given", None],           # WB112
        [204, 1, "11-OCT-2022", "Bevacizumab", "7,5", "mg/kg", 80.4, "Reduced", None],  # WB107, WB207
        [205, 1, "12", "QL1604", 200, "mg", None, "Given", None],                   # WB106
        [210, 1, "15-NOV-2022", "QL1604", 200, "mg", None, "Given", None],          # WB202
    ]
    ws.append([None] + hdr)
    for r in rows:
        ws.append([None] + r if r else [])
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            if isinstance(cell.value, datetime):
                cell.number_format = "DD/MM/YYYY"

    ws = wb.create_sheet("Lab results")
    ws.append(["LAB RESULTS (central and local labs)"])
    ws.append(["Enter ND if not done. Units as printed on the lab report."])
    ws.append(["Subject ID", "COLLECTION DATE", "Lab test", "Result", "UNIT ", "Lower limit",
               "Upper limit", "Value", "comment"])                                  # WB004: Value
    ws.append([201, "11-JUL-2022", "ALT", 32, "U/L", 7, 40, 32, None])
    ws.append([201, "01-AUG-2022", "ALT", 45, "mg/dL", 7, 40, 45, None])            # LAB002
    ws.append([201, "11-JUL-2022", "Total bilirubin", "<0.5", "mg/dL", 0.2, 1.2, None, None])  # valid
    ws.append([201, "11-JUL-2022", "Albumin", "ND", "g/L", 35, 50, None, "not done"])         # valid
    ws.append([201, "01-AUG-2022", "T-Bil", "12,5", "umol/L", 3.4, 20.5, None, None])         # LAB004
    ws.append([202, "31-FEB-2023", "PLT", 180, "10^9/L", 125, 350, None, None])               # WB103
    ws.append([])                                                                            # empty row
    ws.append([202, "14th Feb 2023", "HGB", 11.2, "g/dL", 13, 17.5, None, None])             # WB102
    ws.append([202, "22-AUG-2022", "Ferritin", 880, "ng/mL", 30, 400, None, None])           # LAB001
    ws.append([203, "19-SEP-2022", "Platelets", 180, "x10^9/L", None, 350, None, None])      # LAB008
    ws.append([203, "19-SEP-2022", "ALT", 28, "U/L", 7, "=40", None, None])                  # WB005
    ws.append([210, "14-NOV-2022", "ALT", 30, "U/L", 7, 40, None, None])                     # WB202

    ws = wb.create_sheet("AE")
    ws.append(["Subject", "AE #", "Term", "Reported term", "Grade", "Start date", "End date", "ongoing",
               "SAE", "Site awareness date", "SAE report date", "Related to QL1604", "Action taken",
               "Outcome", "irAE"])                                  # WB002: no Related to Bevacizumab
    ws.append([201, 1, "Hypothyroidism", "TSH 12", 2, "UNK-SEP-2022", None, "yes", "no", None, None,
               True, "None", "Not recovered", "Y"])
    ws.append([201, 2, "Rash maculo-papular", None, 1, "2022-08", "2022-08-20", "N", "false", None, None,
               1, "None", "resolved", "1"])
    ws.append([202, 1, "Fatigue", "tired", 2, "14-AUG-2022", None, "maybe", "N", None, None,   # WB109
               "N", None, None, "0"])
    ws.append([202, 2, "Diarrhea", None, "2-3", "2022-09-01", "2022-09-05", "N", "N", None, None,  # WB107
               "Y", "Dose delayed", "Recovered", "Y"])
    ws.append([203, 1, "Pneumonitis", "ILD on CT", 3, "2022-10-01", None, "Y", "TRUE", "2022-10-02",
               "2022-10-03", "Y", "Drug withdrawn", "Recovering", "Y"])

    ws = wb.create_sheet("Vital signs")
    ws.append(["Subject ID", "DATE", "SBP (mmHg)", "DBP(mmHg)", "Weight(kg)", "ECOG", None, None])
    ws.append([201, "12-JUL-2022", 118, 76, "68,5", 1, None, "see notes"])   # WB107; header-less data: WB003
    ws.append([202, "23-AUG-2022", 124, 80, 62.5, 0])
    ws.append([203, "20-SEP-2022", 130, 82, 680, 1])                         # WB111

    ws = wb.create_sheet("RECIST")                                           # WB001: no header row
    ws.append(["Pt", "Scan dt", "Lsn", "Where", "Size mm", "Resp"])
    ws.append([201, "30-AUG-2022", "1", "liver", 42, "SD"])
    ws.append([201, "30-AUG-2022", "2", "lung", 15, "SD"])
    save_deterministic(wb, path)
    return path


# =========================================================================== US-units site
US_SITE_LABS = [
    # subject, date, test as written, result as written, unit as written, LLN, ULN, comment.
    # The expected grades are tabled from the CTCAE v5.0 text in tests/test_us_site.py.
    ("301", "2023-06-02", "Calcium", 9.4, "mg/dL", 8.5, 10.5, "screening"),
    ("301", "2023-06-02", "Albumin", 4.0, "g/dL", 3.5, 5.0, None),
    ("301", "2023-06-02", "ALT", 25, "U/L", 7, 40, None),
    ("301", "2023-06-02", "Creatinine", 0.9, "mg/dL", 0.6, 1.2, None),
    ("301", "2023-06-02", "Bilirubin", 0.8, "mg/dL", 0.2, 1.2, None),
    ("301", "2023-06-27", "Calcium", 13.6, "mg/dL", 8.5, 10.5, None),
    ("301", "2023-06-27", "Albumin", 4.0, "g/dL", 3.5, 5.0, None),
    ("301", "2023-06-27", "Glucose", "<40", "mg/dL", 70, 99, "below the meter's range"),
    ("301", "2023-06-27", "Magnesium", 3.0, "mg/dL", 1.6, 2.4, None),
    ("301", "2023-06-27", "Cholesterol", 400, "mg/dL", None, 200, None),
    ("301", "2023-06-27", "Triglycerides", 1001, "mg/dL", None, 150, None),
    ("301", "2023-06-27", "Platelets", 20, "K/uL", 150, 400, None),
    ("301", "2023-06-27", "ANC", 0.9, "THOU/uL", 1.8, 7.7, None),
    ("301", "2023-06-27", "WBC", 2900, "cells/mm3", 4000, 11000, None),
    ("301", "2023-06-27", "Lymphocytes", 450, "/uL", 1000, 4800, None),
    ("301", "2023-06-27", "Hemoglobin", 7.9, "g/dL", 12.0, 16.0, None),
    ("301", "2023-06-27", "Potassium", 6.1, "mEq/L", 3.5, 5.1, None),
    ("301", "2023-06-27", "Sodium", 129, "mEq/L", 136, 145, None),
    ("301", "2023-06-27", "Bilirubin", 1.9, "mg/dL", 0.2, 1.2, None),
    ("301", "2023-06-27", "Creatinine", 2.0, "mg/dL", 0.6, 1.2, None),
    ("301", "2023-06-27", "ALT", 130, "U/L", 7, 40, None),
    ("301", "2023-06-27", "Urine protein", "++", None, None, None, "dipstick"),
    ("301", "2023-06-28", "24h urine protein", 2500, "mg/24 hr", None, 150, None),
    ("302", "2023-06-05", "Calcium", 9.0, "mg/dL", 8.5, 10.5, "screening"),
    ("302", "2023-06-30", "Calcium", 6.0, "mg/dL", 8.5, 10.5, "no albumin drawn this day"),
    ("302", "2023-06-30", "Glucose", 30, "mg/dL", 70, 99, None),
    ("302", "2023-06-30", "Magnesium", 0.7, "mg/dL", 1.6, 2.4, None),
    ("302", "2023-06-30", "Triglycerides", 150, "mg/dL", None, 150, None),
    ("302", "2023-06-30", "Cholesterol", 300, "mg/dL", None, 200, None),
    ("302", "2023-07-21", "Calcium", 11.0, "mg/dL", 8.5, 10.5, None),
    ("302", "2023-07-21", "Albumin", 2.5, "g/dL", 3.5, 5.0, None),
    ("302", "2023-07-21", "Platelets", 60000, "cells/uL", 150000, 400000, None),
    ("302", "2023-07-21", "eGFR", 45, "mL/min/1.73m2", 60, None, None),
    ("303", "2023-06-06", "Hemoglobin", 12.8, "g/dL", 12.0, 16.0, "screening"),
    ("303", "2023-07-03", "Hemoglobin", 128, "g/dL", 12.0, 16.0, "meant 12.8"),
    ("303", "2023-07-03", "ALT", 52, "UL", 7, 40, None),
    ("303", "2023-07-03", "Eosinophils", 0.9, "x10E3/uL", 0.0, 0.5, None),
    ("303", "2023-07-03", "Phosphorus", 2.0, "mg/dL", 2.5, 4.5, None),
]


def write_us_site(path: Path = US_SITE) -> Path:
    """A US site of the same study: results in US-conventional units and real laboratory spellings
    (mg/dL, g/dL, K/uL, THOU/uL, cells/mm3, /uL, mEq/L, mg/24 hr, dipstick ++, a qualified `<40`),
    a same-day albumin for corrected calcium, one implausible value (HGB 128 g/dL) and one
    unknown unit (ALT in `UL`). Adverse events are not yet entered: the grade >= 3 results raise
    LAB101, as they should."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Study"
    ws.append([STUDY.column("field").header, STUDY.column("value").header])
    for row in (("Protocol", "QL1604-HCC-201"), ("Site", "03"), ("Profile", "ql1604_bev_hcc")):
        ws.append(row)
    subjects = [dict(subject=s, sex=sex, age=age, weight=w, consent_date=D(c), child_pugh="A5", bclc="C", ecog=1)
                for s, sex, age, w, c in (("301", "M", 61, 82.0, "2023-05-29"), ("302", "F", 57, 64.5, "2023-06-01"),
                                           ("303", "M", 69, 90.3, "2023-06-02"))]
    first = {"301": "2023-06-05", "302": "2023-06-08", "303": "2023-06-09"}   # 3 days after screening
    cycles = []
    for s in subjects:
        when = D(first[s["subject"]])
        cycles.append(dict(subject=s["subject"], cycle=1, date=when, drug="QL1604", dose=200, unit="mg",
                           action="Given"))
        cycles.append(dict(subject=s["subject"], cycle=1, date=when, drug="Bevacizumab", dose=15, unit="mg/kg",
                           weight=s["weight"], action="Given"))
    labs = [dict(subject=s, date=D(d), test=t, result=r, unit=u, lln=lo, uln=hi, comment=cm)
            for s, d, t, r, u, lo, hi, cm in US_SITE_LABS]
    vitals = [dict(subject="301", date=D("2023-06-05"), sbp=126, dbp=78, weight=82.0, ecog=1),
              dict(subject="301", date=D("2023-06-27"), sbp=132, dbp=84, weight=73.5, ecog=1)]
    write_sheet(wb.create_sheet("Subjects"), SUBJECTS.columns, subjects)
    write_sheet(wb.create_sheet("Cycles"), CYCLES.columns, cycles)
    write_sheet(wb.create_sheet("Labs"), LABS.columns, labs)
    write_sheet(wb.create_sheet("AdverseEvents"), columns_for(ADVERSE_EVENTS, DRUGS), [])
    write_sheet(wb.create_sheet("Vitals"), VITALS.columns, vitals)
    save_deterministic(wb, path)
    return path


# =========================================================================== coverage check
# Subject 001's published course is real clinical signal, not a data problem: AFP 1210 -> <10 and
# PIVKA-II 2480 -> ~30 (confirmed marker response, MK001 info) and both markers rising from their
# nadir above the ULN two months before his RECIST PD (confirmed marker progression, MK002).
S001_SIGNALS = {"MK001", "MK002"}


def check(today: date = DATA_CUT) -> int:
    """Run the checker on both workbooks (as of the data cut-off, so WB112 does not depend on the
    clock); print rule -> cells; fail unless every registered rule fires somewhere, the demo alone
    covers every non-structural rule, and subject 001 has no finding other than the clinical
    signals of his published course (S001_SIGNALS: the AFP / PIVKA-II response and the marker
    rise before his PD are true, and MK001 / MK002 are meant to report them)."""
    from monitor.check import check_workbook
    from monitor.profile.profile import load_profile
    from monitor.rules.registry import RULES

    prof = load_profile(None)
    where: dict = {}
    results = {}
    for path in (DEMO, MESSY):
        res = check_workbook(path, prof, today=today)
        results[path.stem] = res
        for f in res.findings:
            subj = f" [{f.subject}]" if f.subject else ""
            where.setdefault(f.rule, []).append(f"{path.stem}!{f.where}{subj}")
    ok = True
    for r in RULES:
        cells = where.get(r.code, [])
        absent = [n for n in r.profile_needs if not prof.has(n)]
        if absent and not cells:   # e.g. arms: the seed study has none (tests/rule_cases.py covers them)
            print(f"{r.code:<7} {r.severity.value:<8}   -  not applicable: the seed profile has no {', '.join(absent)}")
            continue
        shown = ", ".join(cells[:3]) + (f" (+{len(cells) - 3})" if len(cells) > 3 else "")
        in_demo = any(c.startswith("demo_study!") for c in cells)
        structural = r.code.startswith("WB0")      # WB001-WB008: a well-formed workbook cannot
        if not cells or (not structural and not in_demo):
            ok = False
            shown = "-- NOT TRIGGERED" + (" IN THE DEMO -- " if cells else " -- ") + shown
        print(f"{r.code:<7} {r.severity.value:<8} {len(cells):>3}  {shown}")
    s001 = [f for f in results["demo_study"].findings if f.subject == "001"]
    signals = [f for f in s001 if f.rule in S001_SIGNALS]
    s001 = [f for f in s001 if f.rule not in S001_SIGNALS]
    print(f"subject 001: {len(s001)} findings (and {len(signals)} expected clinical signals: "
          f"{', '.join(sorted({f.rule for f in signals}))})")
    for f in s001:
        print(f"  {f.rule} {f.where} {f.message}")
    ok = ok and not s001 and {f.rule for f in signals} == S001_SIGNALS
    print("OK" if ok else "COVERAGE INCOMPLETE")
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="run the checker and report rule coverage")
    args = ap.parse_args(argv)
    for p in (write_demo(), write_messy(), write_us_site()):
        print(p.relative_to(ROOT))
    if args.check:
        return check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
