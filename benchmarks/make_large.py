"""Generate a large, realistic site workbook for benchmarks (deterministic for a given seed).

    .venv/bin/python benchmarks/make_large.py                      # 1,000 subjects x 30 cycles
    .venv/bin/python benchmarks/make_large.py --subjects 50 --out /tmp/small.xlsx

Follows the workbook contract (../shared/design/workbook.md): Study, Subjects, Cycles (QL1604
200 mg flat + bevacizumab 15 mg/kg each 21-day cycle), Labs (20 tests per cycle, long form, with
units and LLN/ULN, some `<0.5` qualifiers, some `ND`), AdverseEvents (CTCAE v5.0 terms from
monitor/ctcae/terms.csv with grades the term allows, one `Related to` column per drug), Vitals
and Tumor. Dates are real Excel dates (serial numbers with a date format).

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

# code as written, unit, LLN, ULN, typical value (median), log-sd, decimals, qualifier floor
LAB_TESTS = (
    ("ALT", "U/L", 7, 40, 38, 0.45, 0, None),
    ("AST", "U/L", 13, 40, 45, 0.45, 0, None),
    ("BILI", "umol/L", 3.4, 20.5, 15, 0.45, 1, None),
    ("ALP", "U/L", 40, 150, 120, 0.35, 0, None),
    ("GGT", "U/L", 10, 60, 80, 0.6, 0, None),
    ("ALB", "g/L", 35, 50, 37, 0.1, 0, None),
    ("CREAT", "umol/L", 53, 106, 75, 0.2, 0, None),
    ("HGB", "g/L", 120, 160, 125, 0.1, 0, None),
    ("PLAT", "10^9/L", 125, 350, 150, 0.35, 0, None),
    ("NEUT", "10^9/L", 1.8, 6.3, 3.5, 0.35, 2, None),
    ("WBC", "10^9/L", 3.5, 9.5, 5.5, 0.3, 2, None),
    ("LYM", "10^9/L", 1.1, 3.2, 1.4, 0.35, 2, None),
    ("INR", "ratio", 0.8, 1.2, 1.1, 0.1, 2, None),
    ("K", "mmol/L", 3.5, 5.3, 4.2, 0.08, 1, None),
    ("SODIUM", "mmol/L", 137, 147, 139, 0.02, 0, None),
    ("GLUC", "mmol/L", 3.9, 6.1, 5.6, 0.2, 1, None),
    ("TSH", "mIU/L", 0.27, 4.2, 1.8, 0.8, 2, 0.05),
    ("AFP", "ng/mL", 0, 7, 6, 1.6, 1, 0.5),
    ("PIVKA-II", "mAU/mL", 0, 40, 60, 1.2, 0, None),
    ("Urine protein", "", None, None, None, None, None, None),   # dipstick
)
DIPSTICK = (("Neg", 0.72), ("Trace", 0.14), ("1+", 0.09), ("2+", 0.04), ("3+", 0.01))

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
AE_ACTIONS = ("None", "Dose delayed", "Dose reduced", "Drug interrupted", "Drug withdrawn")
HOLD_REASONS = ("Grade 2 ALT increased", "Grade 2 proteinuria", "Grade 3 hypertension",
                "Patient request", "Scheduling (public holiday)", "Infusion related reaction")
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
        self.wb.set_properties({"title": "QL1604-HCC-201 site 01 (synthetic benchmark data)",
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
            sid = f"{SITE}-{i:04d}"
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
        for s in subjects:  # the dosing calendar: one visit every 21 days, +/- a few days
            d, dates = s["c1"], []
            for c in range(cycles):
                if c:
                    d = d + dt.timedelta(days=21 + r.choice((-2, -1, 0, 0, 0, 0, 1, 1, 2, 3, 7)))
                dates.append(d)
            s["dates"] = dates
            s["off"] = dates[-1] + dt.timedelta(days=r.randrange(14, 35)) if r.random() < 0.35 else None

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
        for i, (f, v) in enumerate((("Protocol", "QL1604-HCC-201"), ("Site", SITE),
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
            w = s["weight"]
            for c, d in enumerate(s["dates"], start=1):
                if c % 4 == 1:  # weight measured every 4th cycle
                    w = round(w * r.uniform(0.97, 1.02), 1)
                action = r.choices(("Given", "Delayed", "Held", "Reduced"), (0.955, 0.02, 0.02, 0.005))[0]
                for drug, dose, unit in (("QL1604", 200, "mg"), ("Bevacizumab", 15, "mg/kg")):
                    a = action if drug == "Bevacizumab" or action != "Reduced" else "Given"
                    dd = None if a == "Held" else (dose if a != "Reduced" else 7.5)
                    reason = r.choice(HOLD_REASONS) if a != "Given" else None
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

    def lab_value(self, t):
        code, unit, lln, uln, med, lsd, dec, floor = t
        r = self.r
        if med is None:  # dipstick
            x = r.random()
            for v, p in DIPSTICK:
                x -= p
                if x <= 0:
                    return v
            return DIPSTICK[-1][0]
        v = med * math.exp(r.gauss(0, lsd))
        if floor is not None and v < floor:
            return f"<{floor:g}"
        v = round(v, dec)
        return int(v) if dec == 0 else v

    def labs_sheet(self, subjects):
        r = self.r
        ws = self.sheet("Labs", ["Subject ID", "Collection date", "Test", "Result", "Unit", "LLN", "ULN",
                                 "Comment"])
        row = 1
        for si, s in enumerate(subjects):
            for c, d in enumerate(s["dates"], start=1):
                ld = d - dt.timedelta(days=r.choice((0, 1, 1, 2, 2, 3)))
                for t in LAB_TESTS:
                    code, unit, lln, uln = t[:4]
                    val = self.lab_value(t)
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
                        vals[0] = f"{SITE}-9{si:03d}"
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
                        vals[3] = self.lab_value(t)
                        self.put(ws, row, vals)
                        row += 1
                    elif e == 9:
                        self.errors["Labs: result entered twice (same value)"] += 1
                        self.put(ws, row, vals)
                        row += 1
        self.rows["Labs"] = row - 1

    def ae_sheet(self, subjects):
        r = self.r
        ws = self.sheet("AdverseEvents", ["Subject ID", "AE number", "CTCAE term", "Verbatim term", "Grade",
                                          "Onset date", "End date", "Ongoing", "Serious", "Date aware",
                                          "Date reported", "Related to QL1604", "Related to Bevacizumab",
                                          "Action taken", "Outcome", "Immune-related"], )
        row = 1
        for s in subjects:
            k = min(int(r.expovariate(1 / 3.0)), 15)
            last = s["dates"][-1]
            span = (last - s["c1"]).days
            for n in range(1, k + 1):
                term = r.choices(self.terms, self.term_w)[0]
                allowed = [g for g in self.grades[term] if g <= 4]
                gw = {1: 0.5, 2: 0.33, 3: 0.14, 4: 0.03}
                grade = r.choices(allowed, [gw[g] for g in allowed])[0]
                onset = s["c1"] + dt.timedelta(days=r.randrange(1, span + 1))
                ongoing = r.random() < 0.12
                end = None if ongoing else onset + dt.timedelta(days=r.randrange(1, 60))
                serious = grade >= 3 and r.random() < 0.5
                aware = onset + dt.timedelta(days=r.randrange(0, 3)) if serious else None
                reported = aware + dt.timedelta(days=r.choice((0, 0, 0, 1))) if serious else None
                rel_q = r.random() < (0.7 if term in self.immune else 0.35)
                rel_b = r.random() < (0.7 if term in ("Hypertension", "Proteinuria", "Epistaxis",
                                                       "Upper gastrointestinal hemorrhage") else 0.3)
                action = "None" if grade == 1 else r.choice(AE_ACTIONS[:4])
                outcome = "Not recovered" if ongoing else r.choice(("Recovered", "Recovered", "Recovering"))
                verbatim = term.lower() if r.random() < 0.5 else None
                onset_v = onset
                if r.random() < 0.02:  # partial onset dates are allowed in this sheet
                    onset_v = f"UNK-{onset.strftime('%b').upper()}-{onset.year}"
                vals = [s["id"], n, term, verbatim, grade, onset_v, end, "Y" if ongoing else "N",
                        "Y" if serious else "N", aware, reported, "Y" if rel_q else "N", "Y" if rel_b else "N",
                        action, outcome, "Y" if term in self.immune and rel_q else "N"]
                e = r.randrange(5) if self.err() or r.random() < 0.004 else -1  # a few more on this small sheet
                if e >= 0:
                    if e == 0:
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
                self.put(ws, row, vals)
                row += 1
        self.rows["AdverseEvents"] = row - 1

    def vitals_sheet(self, subjects):
        r = self.r
        ws = self.sheet("Vitals", ["Subject ID", "Date", "Systolic BP (mmHg)", "Diastolic BP (mmHg)",
                                   "Weight (kg)", "ECOG"])
        row = 1
        for s in subjects:
            w = s["weight"]
            for d in s["dates"]:
                w = round(w * r.uniform(0.99, 1.01), 1)
                dbp = int(r.gauss(80, 9))
                sbp = max(int(r.gauss(132, 14)), dbp + 20)
                if self.err():
                    self.errors["Vitals: systolic below diastolic"] += 1
                    sbp, dbp = dbp, sbp
                self.put(ws, row, [s["id"], d, sbp, dbp, w, r.choices((0, 1, 2), (0.5, 0.45, 0.05))[0]])
                row += 1
        self.rows["Vitals"] = row - 1

    def tumor_sheet(self, subjects):
        r = self.r
        ws = self.sheet("Tumor", ["Subject ID", "Date", "Lesion ID", "Lesion type", "Location", "Diameter (mm)",
                                  "Non-target status", "Investigator response"])
        row = 1
        for s in subjects:
            locs = r.sample(LOCATIONS, 3)
            diam = [r.randrange(15, 90), r.randrange(12, 60)]
            for k, d in enumerate(s["dates"][::3]):
                d = d - dt.timedelta(days=r.randrange(1, 7))
                resp = None if k == 0 else r.choices(("SD", "PR", "PD", "CR"), (0.6, 0.25, 0.13, 0.02))[0]
                f = {"PR": 0.8, "CR": 0.5, "PD": 1.15}.get(resp, 1.0)
                diam = [max(5, round(x * f * r.uniform(0.95, 1.05))) for x in diam]
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
