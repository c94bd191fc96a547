"""Generate a large, realistic site workbook for benchmarks (deterministic for a given seed).

    .venv/bin/python benchmarks/make_large.py                      # 1,000 subjects x 30 cycles
    .venv/bin/python benchmarks/make_large.py --subjects 50 --out /tmp/small.xlsx

Follows the workbook contract (../shared/design/workbook.md): Study, Subjects, Cycles (QL1604
200 mg flat + bevacizumab 15 mg/kg each 21-day cycle), Labs (20 tests per cycle, long form, with
units and LLN/ULN, some `<0.5` qualifiers, some `ND`), AdverseEvents (CTCAE v5.0 terms from
monitor/ctcae/terms.csv with grades the term allows, one `Related to` column per drug), Vitals
and Tumor. Dates are real Excel dates (serial numbers with a date format).

The data follow the bundled profile, so the protocol and safety rules find it consistent: visits
every 21 days within the +/- 3 day window (a few recorded delays), holds where the hold rules
require them (QL1604 while ALT/AST is grade >= 2, bevacizumab during grade 3 hypertension),
bevacizumab doses recalculated on the current weight, pre-dose labs 0-3 days before each dose,
lab values in range or mildly abnormal and at the AE's CTCAE grade inside each lab-graded AE
(ALT, AST, bilirubin, platelets, proteinuria, TSH, blood pressure), smooth tumour-marker courses,
and RECIST 1.1 target sums with the response RECIST gives.

About 0.1% of the records carry a deliberate error (impossible / ambiguous dates, unreadable
numbers, unknown tests, units or subjects, missing ULN, swapped limits, duplicated or
conflicting results, undefined grades, non-CTCAE terms, formulas without a saved value ...) so
that `monitor check` has findings to build; the counts are printed at the end.

Written with xlsxwriter in constant_memory mode (rows streamed to disk, inline strings), so the
generator's memory stays small whatever the size.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import xlsxwriter

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "data" / "large_study.xlsx"
TERMS_CSV = ROOT / "monitor" / "ctcae" / "terms.csv"
EXCEL_EPOCH = dt.date(1899, 12, 30)
ERROR_RATE = 0.001   # default share of records with a deliberate error
SITE = "01"

# code as written, unit, LLN, ULN, kind, direction of an occasional mild (CTCAE grade 1) abnormality,
# decimals. kind "range": inside LLN..ULN; "logn": log-normal (median, log-sd) for tumour markers,
# which CTCAE does not grade; "dip": urine dipstick.
LAB_TESTS = (
    ("ALT", "U/L", 7, 40, "range", "high", 0),
    ("AST", "U/L", 13, 40, "range", "high", 0),
    ("BILI", "umol/L", 3.4, 20.5, "range", "high", 1),
    ("ALP", "U/L", 40, 150, "range", "high", 0),
    ("GGT", "U/L", 10, 60, "range", "high", 0),
    ("ALB", "g/L", 35, 50, "range", "low", 0),
    ("CREAT", "umol/L", 53, 106, "range", "high", 0),
    ("HGB", "g/L", 120, 160, "range", "low", 0),
    ("PLAT", "10^9/L", 125, 350, "range", "low", 0),
    ("NEUT", "10^9/L", 1.8, 6.3, "range", "low", 2),
    ("WBC", "10^9/L", 3.5, 9.5, "range", "low", 2),
    ("LYM", "10^9/L", 1.1, 3.2, "range", "low", 2),
    ("INR", "ratio", 0.8, 1.2, "range", None, 2),
    ("K", "mmol/L", 3.5, 5.3, "range", None, 1),
    ("SODIUM", "mmol/L", 137, 147, "range", None, 0),
    ("GLUC", "mmol/L", 3.9, 6.1, "range", None, 1),
    ("TSH", "mIU/L", 0.27, 4.2, "range", None, 2),
    ("AFP", "ng/mL", 0, 7, "logn", (20, 2.0), 1),        # "<0.5" below the assay's limit
    ("PIVKA-II", "mAU/mL", 0, 40, "logn", (60, 1.2), 0),
    ("Urine protein", "", None, None, "dip", None, None),
)
MILD_ABNORMAL = 0.03   # share of post-baseline results mildly out of range (grade 1, no AE needed)
DIPSTICK = (("Neg", 0.80), ("Trace", 0.15), ("1+", 0.05))
# AE terms graded from a lab value or a vital sign: the results inside the AE's period are written
# at the AE's grade (CTCAE v5.0 bands, baseline normal), so the safety reconciliation rules
# (lab grade without AE, AE grade vs lab grade, TSH, hypertension) find the data consistent.
LAB_AE = {
    "Alanine aminotransferase increased": ("ALT", "xuln", {1: 2.0, 2: 4.0, 3: 8.0, 4: 25.0}),
    "Aspartate aminotransferase increased": ("AST", "xuln", {1: 2.0, 2: 4.0, 3: 8.0, 4: 25.0}),
    "Blood bilirubin increased": ("BILI", "xuln", {1: 1.3, 2: 2.2, 3: 5.0, 4: 12.0}),
    "Platelet count decreased": ("PLAT", "abs", {1: 100, 2: 62, 3: 38, 4: 15}),
    "Proteinuria": ("Urine protein", "abs", {1: "1+", 2: "2+", 3: "4+"}),
    "Hypothyroidism": ("TSH", "xuln", {g: 2.5 for g in range(1, 6)}),
    "Hyperthyroidism": ("TSH", "abs", {g: 0.08 for g in range(1, 6)}),
    "Hypertension": ("BP", "abs", {1: (134, 86), 2: (150, 94), 3: (166, 102), 4: (188, 118), 5: (188, 118)}),
}

# common AEs with QL1604 (anti-PD-1) + bevacizumab in HCC: (CTCAE v5.0 term, weight, immune-related)
AE_TERMS = (
    ("Hypertension", 14, False), ("Proteinuria", 12, False), ("Fatigue", 10, False),
    ("Aspartate aminotransferase increased", 9, True), ("Alanine aminotransferase increased", 8, True),
    ("Blood bilirubin increased", 5, False), ("Platelet count decreased", 6, False),
    ("Diarrhea", 6, False), ("Anorexia", 5, False), ("Pruritus", 5, True),
    ("Rash maculo-papular", 5, True), ("Hypothyroidism", 5, True), ("Hyperthyroidism", 2, True),
    ("Epistaxis", 3, False), ("Abdominal pain", 4, False), ("Fever", 3, False), ("Nausea", 3, False),
    ("Ascites", 2, False), ("Edema limbs", 2, False), ("Infusion related reaction", 2, False),
    ("Pneumonitis", 1, True), ("Colitis", 1, True), ("Upper gastrointestinal hemorrhage", 1, False),
    ("Arthralgia", 2, False), ("Cough", 2, False), ("Alopecia", 1, False),
)
# grade >= 3 of these stops a drug for good (profile hold rules): kept at grade <= 2 here
STOP_TERMS = ("Pneumonitis", "Upper gastrointestinal hemorrhage")
AE_ACTIONS = ("None", "Dose delayed", "Dose reduced", "Drug interrupted", "Drug withdrawn")
HOLD_REASONS = ("Patient request", "Scheduling (public holiday)", "Infusion related reaction",
                "Intercurrent infection", "Investigator decision")
DELAY_REASONS = ("Scheduling (public holiday)", "Patient request", "Intercurrent infection")
LOCATIONS = ("Liver", "Liver", "Lung", "Lymph node", "Peritoneum", "Bone", "Adrenal gland")


def serial(d: dt.date) -> int:
    return (d - EXCEL_EPOCH).days


def load_grades() -> dict:
    """CTCAE v5.0 term -> grades the NCI table defines (a blank grade cell does not exist)."""
    out = {}
    with open(TERMS_CSV, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["term"]] = tuple(g for g in range(1, 6) if row[f"grade_{g}"].strip())
    return out


class Gen:
    def __init__(self, args):
        self.a = args
        self.r = random.Random(args.seed)
        self.col0 = ord(args.first_col.upper()) - 65   # leading empty columns (a margin)
        self.rate = args.error_rate
        self.site = args.site
        self.errors = Counter()
        self.rows = Counter()
        self.grades = load_grades()
        missing = [t for t, _, _ in AE_TERMS if t not in self.grades]
        if missing:
            raise SystemExit(f"not CTCAE v5.0 terms: {missing}")
        self.terms = [t for t, _, _ in AE_TERMS]
        self.term_w = [w for _, w, _ in AE_TERMS]
        self.immune = {t for t, _, i in AE_TERMS if i}

    def err(self) -> bool:
        return self.r.random() < self.rate

    # --------------------------------------------------------------- workbook plumbing
    def open(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                                  "strings_to_formulas": False, "strings_to_urls": False})
        # fixed metadata so the same seed gives the same bytes
        self.wb.set_properties({"title": f"QL1604-HCC-201 site {self.site} (synthetic benchmark data)",
                                "author": "benchmarks/make_large.py",
                                "created": dt.datetime(2024, 1, 1)})
        self.bold = self.wb.add_format({"bold": True})
        self.datef = self.wb.add_format({"num_format": "yyyy-mm-dd"})

    def sheet(self, name: str, headers: list, widths=None):
        ws = self.wb.add_worksheet(name)
        ws.write_row(0, self.col0, headers, self.bold)
        ws.freeze_panes(1, 0)
        for i, h in enumerate(headers):
            ws.set_column(self.col0 + i, self.col0 + i, max(10, len(h) + 2) if widths is None else widths[i])
        return ws

    def put(self, ws, row: int, values: list):
        """One row: str -> text, int/float -> number, dt.date -> Excel date, None -> empty,
        ("=f", cached) -> formula with its cached value ('' = none saved)."""
        for c, v in enumerate(values, start=self.col0):
            if v is None:
                continue
            t = type(v)
            if t is str:
                ws.write_string(row, c, v)
            elif t is int or t is float:
                ws.write_number(row, c, v)
            elif t is dt.date:
                ws.write_number(row, c, serial(v), self.datef)
            elif t is tuple:
                ws.write_formula(row, c, v[0], None, v[1])
            else:
                raise TypeError(t)

    # --------------------------------------------------------------- data
    def build(self, path: Path):
        r = self.r
        self.open(path)
        n, cycles = self.a.subjects, self.a.cycles
        start0 = dt.date(2021, 3, 1)
        subjects = []
        for i in range(1, n + 1):
            sid = f"{self.site}-{i:04d}"
            c1 = start0 + dt.timedelta(days=r.randrange(0, 540))
            consent = c1 - dt.timedelta(days=r.randrange(3, 28))
            weight = round(r.gauss(66, 11), 1)
            weight = min(max(weight, 38.0), 130.0)
            subjects.append({"id": sid, "c1": c1, "consent": consent, "weight": weight,
                             "sex": r.choices(("M", "F"), (0.82, 0.18))[0],
                             "age": int(min(max(r.gauss(58, 10), 22), 88)),
                             "cp": r.choices(("A", "A5", "A6", "B7"), (0.3, 0.4, 0.25, 0.05))[0],
                             "bclc": r.choices(("B", "C"), (0.3, 0.7))[0],
                             "ecog": r.choices((0, 1), (0.55, 0.45))[0]})
        for s in subjects:
            # the dosing calendar: every 21 days within the +/- 3 day window; now and then a
            # visit delayed by a week (recorded as Delayed, with the dose and a reason)
            d, dates, delayed = s["c1"], [], set()
            for c in range(cycles):
                if c:
                    if r.random() < 0.02:
                        d = d + dt.timedelta(days=21 + r.randrange(5, 11))
                        delayed.add(c + 1)
                    else:
                        d = d + dt.timedelta(days=21 + r.choice((-1, 0, 0, 0, 0, 1)))
                dates.append(d)
            s["dates"], s["delayed"] = dates, delayed
            # pre-dose labs 0-3 days before each visit
            s["lab_dates"] = [x - dt.timedelta(days=r.choice((0, 1, 1, 2, 2, 3))) for x in dates]
            # body weight at each visit (a slow random walk), and the weight each bevacizumab dose
            # was calculated on: recalculated once the weight has moved by 5% (protocol: by 10%)
            w, used, ws, us = s["weight"], s["weight"], [], []
            for _ in dates:
                w = round(min(max(w * r.uniform(0.985, 1.015), 0.8 * s["weight"]), 1.2 * s["weight"]), 1)
                if abs(w - used) >= 0.05 * used:
                    used = w
                ws.append(w)
                us.append(used)
            s["weights"], s["weights_used"] = ws, us
            s["off"] = dates[-1] + dt.timedelta(days=r.randrange(14, 35)) if r.random() < 0.35 else None
            # tumour markers: a smooth course per subject (responders fall, some progress late)
            s["marker_course"] = r.choices(("stable", "response", "progression"), (0.5, 0.35, 0.15))[0]

        for s in subjects:
            self.make_aes(s)
            self.make_holds(s)
        self.study()
        self.subjects_sheet(subjects)
        self.cycles_sheet(subjects)
        self.labs_sheet(subjects)
        self.ae_sheet(subjects)
        self.vitals_sheet(subjects)
        self.tumor_sheet(subjects)
        self.wb.close()

    def study(self):
        ws = self.wb.add_worksheet("Study")
        c0 = self.col0
        ws.set_column(c0, c0, 16)
        ws.set_column(c0 + 1, c0 + 1, 40)
        ws.write_string(0, c0, "QL1604-HCC-201: site workbook (synthetic data for benchmarks)", self.bold)
        ws.write_row(2, c0, ["Field", "Value"], self.bold)
        for i, (f, v) in enumerate((("Protocol", "QL1604-HCC-201"), ("Site", self.site),
                                     ("Profile", "ql1604_bev_hcc")), start=3):
            ws.write_string(i, c0, f)
            ws.write_string(i, c0 + 1, v)

    def subjects_sheet(self, subjects):
        r = self.r
        ws = self.sheet("Subjects", ["Subject ID", "Sex", "Age (years)", "Weight (kg)", "Consent date",
                                     "Child-Pugh", "BCLC stage", "ECOG", "Off-treatment date",
                                     "Off-treatment reason"])
        row = 1
        for s in subjects:
            age, consent = s["age"], s["consent"]
            if self.err():
                self.errors["Subjects: age out of range"] += 1
                age = s["age"] * 10
            if self.err():
                self.errors["Subjects: consent date 2-digit serial (implausible)"] += 1
                consent = 12
            self.put(ws, row, [s["id"], s["sex"], age, s["weight"], consent, s["cp"], s["bclc"], s["ecog"],
                               s["off"], r.choice(("Progressive disease", "Adverse event", "Withdrew consent"))
                               if s["off"] else None])
            row += 1
        self.rows["Subjects"] = row - 1

    def cycles_sheet(self, subjects):
        r = self.r
        ws = self.sheet("Cycles", ["Subject ID", "Cycle", "Date", "Drug", "Dose", "Unit", "Weight (kg)",
                                   "Action", "Reason"])
        row = 1
        for si, s in enumerate(subjects):
            for c, d in enumerate(s["dates"], start=1):
                w = s["weights_used"][c - 1]
                action = "Delayed" if c in s["delayed"] else r.choices(("Given", "Held"), (0.985, 0.015))[0]
                for drug, dose, unit in (("QL1604", 200, "mg"), ("Bevacizumab", 15, "mg/kg")):
                    a, reason = action, None
                    hold = s["holds"].get((drug, c))
                    if hold:
                        a, reason = "Held", hold
                    elif a == "Delayed":
                        reason = r.choice(DELAY_REASONS)
                    elif a == "Held":
                        reason = r.choice(HOLD_REASONS)
                    dd = None if a == "Held" else dose
                    vals = [s["id"], c, d, drug, dd, unit if dd is not None else None,
                            w if drug == "Bevacizumab" else None, a, reason]
                    if drug == "Bevacizumab" and self.a.formulas and si % 200 == 0 and c == 1:
                        # a few weight cells pull the Subjects weight by formula (cached value saved)
                        vals[6] = (f"=Subjects!{chr(68 + self.col0)}{si + 2}", w)
                    e = r.randrange(6) if self.err() else -1
                    if e == 1:
                        self.errors["Cycles: dose blank for a Given dose"] += 1
                        vals[7], vals[4], vals[5] = "Given", None, None
                    elif e == 2:
                        self.errors["Cycles: action not on the list"] += 1
                        vals[7] = "Skipped"
                    elif e == 3:
                        self.errors["Cycles: impossible date"] += 1
                        vals[2] = f"{d.year}-02-30"
                    elif e == 4:
                        self.errors["Cycles: dose with a unit typed in"] += 1
                        vals[4] = f"{dd or dose} mg"
                    elif e == 5:
                        self.errors["Cycles: unknown drug"] += 1
                        vals[3] = "Sorafenib"
                    self.put(ws, row, vals)
                    row += 1
                    if e == 0:
                        self.errors["Cycles: administration entered twice"] += 1
                        self.put(ws, row, vals)
                        row += 1
        self.rows["Cycles"] = row - 1

    def lab_value(self, t, baseline: bool, effect=None, s=None, cycle=1):
        code, unit, lln, uln, kind, abn, dec = t
        r = self.r
        if effect is not None:          # inside an AE period: the AE's grade
            how, v = effect
            v = v * uln if how == "xuln" else v
            if isinstance(v, str):
                return v
            v = v * r.uniform(0.97, 1.03)
        elif kind == "dip":
            x = r.random()
            for v, p in DIPSTICK:
                x -= p
                if x <= 0:
                    return v
            return DIPSTICK[0][0]
        elif kind == "logn":   # the subject's own level, following its course, +/- 8%
            med, lsd = abn
            key = "marker_" + code
            if key not in s:
                s[key] = med * math.exp(r.gauss(0, lsd))
            k = cycle - 1
            course = s["marker_course"]
            f = (max(0.25, 1 - 0.12 * k) if course == "response"
                 else 1.0 if course == "stable" or k < 12 else 1 + 0.15 * (k - 11))
            v = s[key] * f * r.uniform(0.92, 1.08)
            if v < 0.5:
                return "<0.5"
        elif abn and not baseline and r.random() < MILD_ABNORMAL:
            v = uln * r.uniform(1.05, 1.4) if abn == "high" else lln * r.uniform(0.9, 0.98)
        else:
            v = lln + (uln - lln) * (0.5 + 0.35 * max(-1.0, min(1.0, r.gauss(0, 0.45))))
        v = round(v, dec)
        return int(v) if dec == 0 else v

    def labs_sheet(self, subjects):
        r = self.r
        ws = self.sheet("Labs", ["Subject ID", "Collection date", "Test", "Result", "Unit", "LLN", "ULN",
                                 "Comment"])
        row = 1
        for si, s in enumerate(subjects):
            for c, d in enumerate(s["dates"], start=1):
                ld = s["lab_dates"][c - 1]
                for t in LAB_TESTS:
                    code, unit, lln, uln = t[:4]
                    val = self.lab_value(t, c == 1, self.effect(s, code, ld), s, c)
                    comment = None
                    if r.random() < 0.002:
                        val, comment = "ND", r.choice(("Sample haemolysed", "Not collected", "Lab error"))
                    vals = [s["id"], ld, code, val, unit or None, lln, uln, comment]
                    e = r.randrange(10) if self.err() else -1
                    if e == 1:
                        self.errors["Labs: impossible date"] += 1
                        vals[1] = f"{ld.year}-02-30"
                    elif e == 2:
                        self.errors["Labs: ambiguous dd/mm date"] += 1
                        vals[1] = ld.strftime("%d/%m/%Y")
                    elif e == 3 and code != "Urine protein":
                        self.errors["Labs: result with a decimal comma"] += 1
                        vals[3] = str(val).replace(".", ",") + ",5"
                    elif e == 4 and code in ("ALT", "AST", "GGT", "ALP"):
                        self.errors["Labs: unit unknown for the test"] += 1
                        vals[4] = "mg/dL"
                    elif e == 5:
                        self.errors["Labs: unknown test"] += 1
                        vals[2] = code + " (repeat)x"
                    elif e == 6 and uln:
                        self.errors["Labs: ULN blank"] += 1
                        vals[6] = None
                    elif e == 7:
                        self.errors["Labs: unknown subject"] += 1
                        vals[0] = f"{self.site}-9{si:03d}"
                    elif e == 8 and lln and uln:
                        self.errors["Labs: LLN/ULN swapped"] += 1
                        vals[5], vals[6] = uln, lln
                    if self.a.formulas and si % 100 == 7 and c == 2 and code == "ALB":
                        # a few formula cells (e.g. a g/dL -> g/L conversion), normally with the
                        # cached value saved; a couple saved by a script without one
                        cached = "" if si % 500 == 7 else val
                        if cached == "":
                            self.errors["Labs: formula without cached value"] += 1
                        vals[3] = (f"=ROUND({val}/10,1)*10", cached)
                    self.put(ws, row, vals)
                    row += 1
                    if e == 0 and code != "Urine protein":
                        self.errors["Labs: result entered twice (conflicting)"] += 1
                        vals[3] = self.lab_value(t, c == 1, None, s, c)
                        self.put(ws, row, vals)
                        row += 1
                    elif e == 9:
                        self.errors["Labs: result entered twice (same value)"] += 1
                        self.put(ws, row, vals)
                        row += 1
        self.rows["Labs"] = row - 1

    def effect(self, s, test, day):
        """(how, value) when an AE of the subject graded from `test` covers `day`, else None."""
        for start, end, t, how, v, _, _ in s["effects"]:
            if t == test and start <= day <= end:
                return how, v
        return None

    def make_holds(self, s):
        """(drug, cycle) -> reason for the doses the profile's hold rules stop: QL1604 while ALT or
        AST is grade >= 2 (the pre-dose result, or the AE still open); bevacizumab while a grade
        >= 3 hypertension is open."""
        s["holds"] = {}
        for c, (d, ld) in enumerate(zip(s["dates"], s["lab_dates"]), start=1):
            for start, end, test, how, v, term, grade in s["effects"]:
                if test in ("ALT", "AST") and grade >= 2 and (start <= ld <= end or start < d <= end):
                    s["holds"][("QL1604", c)] = f"Grade {grade} {test} increased"
                if test == "BP" and grade >= 3 and start < d <= end:
                    s["holds"][("Bevacizumab", c)] = f"Grade {grade} hypertension"

    def make_aes(self, s):
        """The subject's adverse events (written later), and the periods in which they set the
        lab results or blood pressure they are graded from."""
        r = self.r
        k = min(int(r.expovariate(1 / 3.0)), 15)
        last = s["dates"][-1]
        span = (last - s["c1"]).days
        s["aes"], s["effects"] = [], []
        busy = {}                                  # lab-graded term -> end of its last AE
        for n in range(1, k + 1):
            term = r.choices(self.terms, self.term_w)[0]
            allowed = [g for g in self.grades[term] if g <= (2 if term in STOP_TERMS else 4)]
            gw = {1: 0.5, 2: 0.33, 3: 0.14, 4: 0.03}
            grade = r.choices(allowed, [gw[g] for g in allowed])[0]
            onset = s["c1"] + dt.timedelta(days=r.randrange(1, span + 1))
            coupled = LAB_AE.get(term)
            if coupled:
                # one period at a time per graded term, each closed (an open period would cover
                # every later result); results inside it are written at this grade
                onset = max(onset, busy.get(term, s["c1"]) + dt.timedelta(days=10))
                if onset > last:
                    continue
                ongoing = False
                end = onset + dt.timedelta(days=r.randrange(7, 43))
                busy[term] = end
                test, how, by_grade = coupled
                s["effects"].append((onset, end, test, how, by_grade[grade], term, grade))
            else:
                ongoing = r.random() < 0.12
                end = None if ongoing else onset + dt.timedelta(days=r.randrange(1, 60))
            serious = grade >= 3 and r.random() < 0.5
            aware = onset + dt.timedelta(days=r.randrange(0, 3)) if serious else None
            reported = aware if serious else None
            rel_q = r.random() < (0.7 if term in self.immune else 0.35)
            rel_b = r.random() < (0.7 if term in ("Hypertension", "Proteinuria", "Epistaxis",
                                                   "Upper gastrointestinal hemorrhage") else 0.3)
            action = "None" if grade == 1 else r.choice(AE_ACTIONS[:4])
            outcome = "Not recovered" if ongoing else r.choice(("Recovered", "Recovered", "Recovering"))
            verbatim = term.lower() if r.random() < 0.5 else None
            onset_v = onset
            if not coupled and r.random() < 0.02 and onset.replace(day=1) > s["c1"]:
                onset_v = f"UNK-{onset.strftime('%b').upper()}-{onset.year}"   # partial dates are allowed here
            vals = [s["id"], len(s["aes"]) + 1, term, verbatim, grade, onset_v, end, "Y" if ongoing else "N",
                    "Y" if serious else "N", aware, reported, "Y" if rel_q else "N", "Y" if rel_b else "N",
                    action, outcome, "Y" if term in self.immune and rel_q else "N"]
            # deliberate errors (a few more on this small sheet), never on a lab-graded AE
            e = r.randrange(5) if not coupled and (self.err() or r.random() < 0.004) else -1
            if e == 0 and grade <= 2:
                self.errors["AdverseEvents: grade not defined for the term"] += 1
                vals[2], vals[4] = "Alopecia", 3
            elif e == 1:
                self.errors["AdverseEvents: term not CTCAE"] += 1
                vals[2] = "Immune hepatitis"
            elif e == 2 and end:
                self.errors["AdverseEvents: end before onset"] += 1
                vals[6] = onset - dt.timedelta(days=5)
            elif e == 3 and end:
                self.errors["AdverseEvents: ongoing with an end date"] += 1
                vals[7] = "Y"
            elif e == 4:
                self.errors["AdverseEvents: relatedness unreadable"] += 1
                vals[11] = "maybe"
            s["aes"].append(vals)

    def ae_sheet(self, subjects):
        ws = self.sheet("AdverseEvents", ["Subject ID", "AE number", "CTCAE term", "Verbatim term", "Grade",
                                          "Onset date", "End date", "Ongoing", "Serious", "Date aware",
                                          "Date reported", "Related to QL1604", "Related to Bevacizumab",
                                          "Action taken", "Outcome", "Immune-related"])
        row = 1
        for s in subjects:
            for vals in s["aes"]:
                self.put(ws, row, vals)
                row += 1
        self.rows["AdverseEvents"] = row - 1

    def vitals_sheet(self, subjects):
        r = self.r
        ws = self.sheet("Vitals", ["Subject ID", "Date", "Systolic BP (mmHg)", "Diastolic BP (mmHg)",
                                   "Weight (kg)", "ECOG"])
        row = 1
        for s in subjects:
            for d, w in zip(s["dates"], s["weights"]):
                eff = self.effect(s, "BP", d)
                if eff:
                    sbp, dbp = (x + r.randrange(0, 4) for x in eff[1])
                else:   # below grade 3 hypertension (160/100)
                    dbp = int(min(max(r.gauss(78, 7), 55), 95))
                    sbp = int(min(max(r.gauss(126, 10), dbp + 20), 152))
                if self.err():
                    self.errors["Vitals: systolic below diastolic"] += 1
                    sbp, dbp = dbp, sbp
                self.put(ws, row, [s["id"], d, sbp, dbp, w, r.choices((0, 1, 2), (0.5, 0.45, 0.05))[0]])
                row += 1
        self.rows["Vitals"] = row - 1

    def tumor_sheet(self, subjects):
        """RECIST 1.1: two target lesions and one non-target lesion, assessed at baseline (before
        the first dose) and every third cycle; the investigator's response is the one RECIST 1.1
        gives (PR: sum >= 30% below baseline; PD: >= 20% and >= 5 mm above the nadir; else SD)."""
        r = self.r
        ws = self.sheet("Tumor", ["Subject ID", "Date", "Lesion ID", "Lesion type", "Location", "Diameter (mm)",
                                  "Non-target status", "Investigator response"])
        row = 1
        for s in subjects:
            locs = r.sample(LOCATIONS, 3)
            diam = [r.randrange(20, 90), r.randrange(20, 60)]
            course = s["marker_course"]
            base = nadir = None
            for k, d in enumerate(s["dates"][::3]):
                d = d - dt.timedelta(days=r.randrange(1, 7))
                if k:
                    f = (0.82 if course == "response" and k <= 4 else
                         1.12 if course == "progression" and k >= 5 else r.uniform(0.97, 1.03))
                    diam = [max(5, round(x * f)) for x in diam]
                total = sum(diam)
                if k == 0:
                    base = nadir = total
                    resp = None
                else:
                    if total - nadir >= 5 and (total - nadir) * 100 >= 20 * nadir:
                        resp = "PD"
                    elif (base - total) * 100 >= 30 * base:
                        resp = "PR"
                    else:
                        resp = "SD"
                    nadir = min(nadir, total)
                for lid, typ, loc, dia, nts in (("T1", "Target", locs[0], diam[0], None),
                                                ("T2", "Target", locs[1], diam[1], None),
                                                ("NT1", "Non-target", locs[2], None, "Present")):
                    self.put(ws, row, [s["id"], d, lid, typ, loc, dia, nts, resp])
                    row += 1
        self.rows["Tumor"] = row - 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subjects", type=int, default=1000)
    p.add_argument("--cycles", type=int, default=30)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--seed", type=int, default=20240101)
    p.add_argument("--site", default=SITE, help=f"site number: subject IDs are SITE-0001 ... [{SITE}] "
                   "(a batch of workbooks from different sites)")
    p.add_argument("--no-formulas", dest="formulas", action="store_false",
                   help="write no formula cells at all (by default a few cells in Cycles and Labs "
                        "hold formulas, two of them without a saved value)")
    p.add_argument("--first-col", default="A", choices=[chr(c) for c in range(65, 75)],
                   help="column each sheet starts in (B: leave column A empty, as some sites do)")
    p.add_argument("--error-rate", type=float, default=ERROR_RATE,
                   help=f"share of records with a deliberate error (default {ERROR_RATE}); raise it "
                        "to benchmark a workbook with many findings")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    g = Gen(a)
    g.build(a.out)
    if not a.quiet:
        size = a.out.stat().st_size / 1048576
        print(f"wrote {a.out} ({size:.1f} MB) in {time.perf_counter() - t0:.1f} s")
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in g.rows.items()))
        total = sum(g.errors.values())
        print(f"deliberate errors: {total:,} ({total / max(1, sum(g.rows.values())):.3%} of rows)")
        for k, v in sorted(g.errors.items()):
            print(f"  {v:6,}  {k}")
    return a.out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
