"""Build site workbooks the way a coordinator fills them in, for tests.

A workbook is a plain dict: sheet name -> list of rows (lists of cell values), written
with openpyxl directly (never through monitor.workbook.template, so the tests do not trust
the code they test). `valid_study()` is a small, realistic, *clean* study: three subjects of
the QL1604 + bevacizumab HCC trial that the bundled profile checks with zero findings on
TODAY. Every rule case in rule_cases.py is one small mutation of it.

Cell helpers address a cell by (sheet, data-row index, header): index 0 is the first row
under the header row, counted in raw rows (so an empty row inside the data counts).
"""

from __future__ import annotations

import copy
import re
import zipfile
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import openpyxl

TODAY = date(2026, 1, 1)

Sheets = dict  # sheet name -> list[list[cell value]]


def d(y: int, m: int, day: int) -> datetime:
    """A real Excel date cell (openpyxl writes datetimes as dates)."""
    return datetime(y, m, day)


def valid_study() -> Sheets:
    """Three HCC subjects on QL1604 200 mg flat + bevacizumab 15 mg/kg q21d; zero findings."""
    return {
        "Study": [
            ["Field", "Value"],
            ["Protocol", "QL1604-HCC-201"],
            ["Site", "01"],
            ["Profile", "ql1604_bev_hcc"],
        ],
        "Subjects": [
            ["Subject ID", "Sex", "Age", "Weight (kg)", "Consent date", "Child-Pugh", "BCLC stage",
             "ECOG", "Off-treatment date", "Off-treatment reason"],
            [1001, "M", 58, 72.5, d(2025, 3, 3), "A5", "C", 1, None, None],
            [1002, "F", 64, 61, d(2025, 3, 10), "A6", "B", 0, d(2025, 6, 20), "Disease progression"],
            [1003, "M", 71, 80.2, d(2025, 4, 2), "B7", "C", 1, None, None],
        ],
        "Cycles": [
            ["Subject ID", "Cycle", "Date", "Drug", "Dose", "Unit", "Weight (kg)", "Action", "Reason"],
            [1001, 1, d(2025, 3, 10), "QL1604", 200, "mg", None, "Given", None],
            [1001, 1, d(2025, 3, 10), "Bevacizumab", 15, "mg/kg", 72.5, "Given", None],
            [1001, 2, d(2025, 3, 31), "QL1604", 200, "mg", None, "Given", None],
            [1001, 2, d(2025, 3, 31), "Bevacizumab", 15, "mg/kg", 72.5, "Given", None],
            [1002, 1, d(2025, 3, 17), "QL1604", 200, "mg", None, "Given", None],
            [1002, 1, d(2025, 3, 17), "Bevacizumab", 15, "mg/kg", 61, "Given", None],
            # cycle 2 on day 18 (21 - 3): the pre-dose labs of 2025-04-01 are within 3 days (DOSE004)
            [1002, 2, d(2025, 4, 4), "QL1604", None, None, None, "Held", "Grade 3 ALT increased"],
            [1002, 2, d(2025, 4, 4), "Bev", 15, "mg/kg", 61, "Given", None],
            [1003, 1, d(2025, 4, 9), "QL-1604", 200, "mg", None, "Given", None],
            [1003, 1, d(2025, 4, 9), "Avastin", 15, "mg/kg", 80.2, "Given", None],
        ],
        "Labs": [
            ["Subject ID", "Date", "Test", "Result", "Unit", "LLN", "ULN", "Comment"],
            [1001, d(2025, 3, 7), "ALT", 32, "U/L", 7, 40, None],
            [1001, d(2025, 3, 7), "AST", 38, "U/L", 13, 35, "slightly above ULN"],
            [1001, d(2025, 3, 7), "Total bilirubin", 14.2, "umol/L", 3.4, 20.5, None],
            [1001, d(2025, 3, 7), "HGB", 128, "g/L", 120, 160, None],
            [1001, d(2025, 3, 7), "Platelets", 142, "10^9/L", 125, 350, None],
            [1001, d(2025, 3, 7), "INR", 1.1, None, 0.8, 1.2, None],
            [1001, d(2025, 3, 7), "AFP", 1250.3, "ng/mL", None, 7, None],
            [1001, d(2025, 3, 7), "Urine protein", "Neg", None, None, None, "dipstick"],
            [1001, d(2025, 3, 28), "ALT", 45, "U/L", 7, 40, None],
            [1002, d(2025, 3, 14), "SGPT", 36, "IU/L", 7, 40, None],
            [1002, d(2025, 3, 14), "PIVKA-II", "ND", "mAU/mL", None, 40, "not done, sample haemolysed"],
            [1002, d(2025, 4, 1), "ALT", 248, "U/L", 7, 40, None],
            [1003, d(2025, 4, 7), "ALT", "<5", "U/L", 7, 40, None],
            [1003, d(2025, 4, 7), "AFP", ">1210", "ng/mL", None, 7, "above assay range"],
            [1003, d(2025, 4, 7), "Neutrophils", 3.2, "x10^9/L", 1.8, 7.5, None],
        ],
        "AdverseEvents": [
            ["Subject ID", "AE number", "CTCAE term", "Verbatim term", "Grade", "Onset date", "End date",
             "Ongoing", "Serious", "Date aware", "Date reported", "Related to QL1604",
             "Related to Bevacizumab", "Action taken", "Outcome", "Immune-related"],
            [1001, 1, "Fatigue", "tiredness", 1, d(2025, 3, 20), d(2025, 4, 5), "N", "N", None, None,
             "Y", "N", "None", "Recovered", "N"],
            [1001, 2, "Hypertension", "high blood pressure", 2, "UNK-APR-2025", None, "Y", "N", None, None,
             "N", "Y", "None", "Not recovered", "N"],
            [1002, 1, "Alanine aminotransferase increased", "ALT elevation", 3, "01-APR-2025",
             "20-APR-2025", "N", "Y", d(2025, 4, 2), d(2025, 4, 3), "Y", "N", "Drug interrupted",
             "Recovered", "Y"],
        ],
        "Vitals": [
            ["Subject ID", "Date", "Systolic BP (mmHg)", "Diastolic BP (mmHg)", "Weight (kg)", "ECOG"],
            [1001, d(2025, 3, 10), 128, 82, 72.5, 1],
            [1001, d(2025, 3, 31), 152, 94, 72.0, 1],
            [1002, d(2025, 3, 17), 118, 76, 61, 0],
            [1003, d(2025, 4, 9), 135, 85, 80.2, 1],
        ],
        "Tumor": [
            ["Subject ID", "Date", "Lesion ID", "Lesion type", "Location", "Diameter (mm)",
             "Non-target status", "Investigator response"],
            [1001, d(2025, 3, 5), "T1", "Target", "Liver segment VII", 45, None, None],
            [1001, d(2025, 3, 5), "NT1", "Non-target", "Portal vein thrombus", None, "Present", None],
            [1001, d(2025, 5, 12), "T1", "Target", "Liver segment VII", 38, None, "SD"],
            [1001, d(2025, 5, 12), "NT1", "Non-target", "Portal vein thrombus", None, "Present", "SD"],
        ],
        "ConMeds": [
            ["Subject ID", "Drug", "Dose", "Unit", "Start date", "End date", "Indication"],
            [1002, "Prednisone", 60, "mg/day", d(2025, 4, 2), d(2025, 4, 15), "immune hepatitis"],
            [1002, "Prednisone", 10, "mg/day", d(2025, 4, 16), None, "immune hepatitis, taper"],
        ],
    }


PILOT_PROFILE = "cdisc_pilot"   # monitor/profile/examples/cdisc_pilot.toml


def pilot_study() -> Sheets:
    """Four subjects of the CDISC pilot (CDISCPILOT01, xanomeline patch vs placebo), as in its SDTM
    DM and EX (../shared/reference/cdisc_pilot/): one per arm, daily dosing periods with start and
    end dates, no Tumor sheet; zero findings with the cdisc_pilot profile.
      Subjects  2:01-701-1015 Placebo  3:01-701-1028 Xan_Hi  4:01-701-1033 Xan_Lo  5:01-701-1057 Scrnfail
      Cycles    2-4: 1015 periods 1-3 Placebo 0 mg  5-7: 1028 Xanomeline 54 / 81 / 54 mg  8: 1033 54 mg"""
    return {
        "Study": [["Field", "Value"], ["Protocol", "CDISCPILOT01"], ["Site", "701"], ["Profile", "cdisc_pilot"]],
        "Subjects": [
            ["Subject ID", "Sex", "Age", "Weight (kg)", "Consent date", "Off-treatment date",
             "Off-treatment reason", "Arm"],
            ["01-701-1015", "F", 63, 54.4, d(2013, 12, 26), d(2014, 7, 2), "Completed", "Placebo"],
            ["01-701-1028", "M", 71, 80.3, d(2013, 7, 11), d(2014, 1, 14), "Completed", "Xan_Hi"],
            ["01-701-1033", "M", 74, 88.5, d(2014, 3, 10), d(2014, 4, 14), "Withdrew consent", "Xanomeline Low Dose"],
            ["01-701-1057", "F", 59, 61.2, d(2013, 12, 20), None, None, "Screen Failure"],
        ],
        "Cycles": [
            ["Subject ID", "Cycle", "Date", "End date", "Drug", "Dose", "Unit", "Action", "Reason"],
            ["01-701-1015", 1, d(2014, 1, 2), d(2014, 1, 16), "PLACEBO", 0, "mg", "Given", None],
            ["01-701-1015", 2, d(2014, 1, 17), d(2014, 6, 18), "PLACEBO", 0, "mg", "Given", None],
            ["01-701-1015", 3, d(2014, 6, 19), d(2014, 7, 2), "PLACEBO", 0, "mg", "Given", None],
            ["01-701-1028", 1, d(2013, 7, 19), d(2013, 8, 1), "XANOMELINE", 54, "mg", "Given", None],
            ["01-701-1028", 2, d(2013, 8, 2), d(2014, 1, 6), "XANOMELINE", 81, "mg", "Given", None],
            ["01-701-1028", 3, d(2014, 1, 7), d(2014, 1, 14), "XANOMELINE", 54, "mg", "Given", None],
            ["01-701-1033", 1, d(2014, 3, 18), d(2014, 3, 31), "XANOMELINE", 54, "mg", "Given", None],
        ],
        "Labs": [
            ["Subject ID", "Date", "Test", "Result", "Unit", "LLN", "ULN"],
            ["01-701-1015", d(2013, 12, 26), "ALT", 27, "U/L", 6, 34],
            ["01-701-1015", d(2014, 1, 16), "ALT", 41, "U/L", 6, 34],
            ["01-701-1015", d(2013, 12, 26), "Albumin", 38, "g/L", 33, 49],
            ["01-701-1028", d(2013, 7, 11), "ALT", 22, "U/L", 6, 34],
            ["01-701-1028", d(2013, 8, 1), "AST", 25, "U/L", 10, 36],
            ["01-701-1033", d(2014, 3, 10), "ALT", 19, "U/L", 6, 34],
        ],
        "AdverseEvents": [
            ["Subject ID", "AE number", "CTCAE term", "Verbatim term", "Grade", "Onset date", "End date",
             "Ongoing", "Serious", "Related to Xanomeline", "Action taken", "Outcome"],
            ["01-701-1015", 1, "Pruritus", "APPLICATION SITE PRURITUS", 1, d(2014, 1, 3),
             None, "Y", "N", "N", "None", "Not recovered"],
            ["01-701-1028", 1, "Dizziness", "DIZZINESS", 1, d(2013, 8, 6),
             None, "Y", "N", "Y", "None", "Not recovered"],
        ],
    }


# ---------------------------------------------------------------- addressing cells

def _norm(text) -> str:
    """Headers compare as people read them: case, spaces, _/- and a trailing (unit) ignored."""
    text = re.sub(r"\s*[\(\[][^\)\]]*[\)\]]\s*$", "", str(text).strip())
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def header_index(sheets: Sheets, sheet: str) -> int:
    """Index (in the raw rows) of the header row: the first row with two or more text cells."""
    for i, row in enumerate(sheets[sheet]):
        if sum(isinstance(v, str) for v in row) >= 2:
            return i
    raise KeyError(f"{sheet}: no header row")


def col_index(sheets: Sheets, sheet: str, header: str) -> int:
    row = sheets[sheet][header_index(sheets, sheet)]
    for j, v in enumerate(row):
        if v is not None and _norm(v) == _norm(header):
            return j
    raise KeyError(f"{sheet}: no column {header!r} in {row}")


def _row(sheets: Sheets, sheet: str, idx: int) -> list:
    rows = sheets[sheet]
    i = header_index(sheets, sheet) + 1 + idx
    while len(rows) <= i:
        rows.append([])
    return rows[i]


def get(sheets: Sheets, sheet: str, idx: int, header: str):
    row = _row(sheets, sheet, idx)
    j = col_index(sheets, sheet, header)
    return row[j] if j < len(row) else None


def set_cell(sheets: Sheets, sheet: str, idx: int, header: str, value) -> Sheets:
    """Set one cell by data-row index and header; returns `sheets` (mutated in place)."""
    row = _row(sheets, sheet, idx)
    j = col_index(sheets, sheet, header)
    row.extend([None] * (j + 1 - len(row)))
    row[j] = value
    return sheets


def set_cells(sheets: Sheets, sheet: str, idx: int, **by_header) -> Sheets:
    """set_cells(s, "Labs", 0, Result=12, ULN=None); `_` in a keyword stands for a space."""
    for h, v in by_header.items():
        set_cell(sheets, sheet, idx, h.replace("_", " "), v)
    return sheets


def copy_row(sheets: Sheets, sheet: str, idx: int, at: int | None = None, **changes) -> Sheets:
    """Copy data row `idx` to data position `at` (default: the end), with some cells changed."""
    new = list(_row(sheets, sheet, idx))
    rows = sheets[sheet]
    pos = len(rows) if at is None else header_index(sheets, sheet) + 1 + at
    rows.insert(pos, new)
    set_cells(sheets, sheet, pos - header_index(sheets, sheet) - 1, **changes)
    return sheets


def delete_row(sheets: Sheets, sheet: str, idx: int) -> Sheets:
    del sheets[sheet][header_index(sheets, sheet) + 1 + idx]
    return sheets


def add_column(sheets: Sheets, sheet: str, header: str, values=None, at: int | None = None) -> Sheets:
    """Add a column (at position `at`, default after the last header); `values` by data index."""
    h = header_index(sheets, sheet)
    rows = sheets[sheet]
    width = max(len(r) for r in rows)
    pos = width if at is None else at
    for r in rows:
        r.extend([None] * (width - len(r)))
    for i, r in enumerate(rows):
        v = header if i == h else None
        if values is not None and i > h and i - h - 1 < len(values):
            v = values[i - h - 1]
        r.insert(pos, v)
    return sheets


def delete_column(sheets: Sheets, sheet: str, header: str) -> Sheets:
    j = col_index(sheets, sheet, header)
    for r in sheets[sheet]:
        if j < len(r):
            del r[j]
    return sheets


def rename_header(sheets: Sheets, sheet: str, header: str, new: str) -> Sheets:
    j = col_index(sheets, sheet, header)
    sheets[sheet][header_index(sheets, sheet)][j] = new
    return sheets


def rename_sheet(sheets: Sheets, old: str, new: str) -> Sheets:
    """Rename a sheet keeping the sheet order."""
    items = [(new if k == old else k, v) for k, v in sheets.items()]
    sheets.clear()
    sheets.update(items)
    return sheets


def set_study(sheets: Sheets, field: str, value) -> Sheets:
    """Set (or add) a Study sheet field."""
    for row in sheets["Study"][1:]:
        if row and row[0] == field:
            row[1:] = [value]
            return sheets
    sheets["Study"].append([field, value])
    return sheets


# ---------------------------------------------------------------- layout changes

def insert_title_rows(sheets: Sheets, sheet: str, rows: list) -> Sheets:
    """Put rows (a title, instructions, blank lines) above the header row."""
    sheets[sheet][0:0] = [list(r) for r in rows]
    return sheets


def insert_empty_rows(sheets: Sheets, sheet: str, at: int, n: int = 1) -> Sheets:
    """Insert n completely empty rows before data row `at`."""
    pos = header_index(sheets, sheet) + 1 + at
    sheets[sheet][pos:pos] = [[] for _ in range(n)]
    return sheets


def shift_right(sheets: Sheets, sheet: str, n: int) -> Sheets:
    """Leave n empty columns on the left (n=2: the data starts in column C)."""
    sheets[sheet] = [([None] * n + list(r)) if r else [] for r in sheets[sheet]]
    return sheets


# ---------------------------------------------------------------- writing

def write(path, sheets: Sheets, hidden=(), cached: dict | None = None) -> Path:
    """Write `sheets` as an .xlsx with openpyxl, as a person typing into Excel would.

    Text starting with `=` becomes a formula, written (as openpyxl does) without a cached
    value; `cached={(sheet, "H2"): "2"}` adds one afterwards, as Excel would on save.
    """
    path = Path(path)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row, start=1):
                if v is not None:
                    ws.cell(row=r, column=c, value=v)
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    if cached:
        _add_cached_values(path, list(sheets), cached)
    return path


def _add_cached_values(path: Path, order: list, cached: dict) -> None:
    """Give formula cells a cached value, the way Excel saves them."""
    parts = {}
    with zipfile.ZipFile(path) as zf:
        items = [(i, zf.read(i.filename)) for i in zf.infolist()]
    for (sheet, cell), value in cached.items():
        part = f"xl/worksheets/sheet{order.index(sheet) + 1}.xml"
        parts.setdefault(part, []).append((cell, value))
    out = []
    for info, data in items:
        for cell, value in parts.get(info.filename, ()):
            pat = re.compile(rb'(<c r="' + cell.encode() + rb'"[^>]*>)(<f>.*?</f>)<v(?:\s*/>|></v>)')
            data, n = pat.subn(lambda m: m.group(1) + m.group(2) + b"<v>" + str(value).encode() + b"</v>", data)
            assert n == 1, f"no formula cell {cell} in {info.filename}"
        out.append((info, data))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in out:
            zf.writestr(info, data)


# ---------------------------------------------------------------- checking

def check(path, profile=None, rules=None, today: date = TODAY):
    """monitor.check.check_workbook, or the same pipeline with a given rule list."""
    from monitor.check import Result, check_workbook, run_rules, to_findings
    from monitor.ctcae.terms import load_terms
    from monitor.labs.catalogue import load_catalogue
    from monitor.profile.profile import load_profile
    from monitor.rules.base import Context
    from monitor.workbook.reader import read_workbook

    profile = profile or load_profile()
    if rules is None:
        return check_workbook(path, profile, today=today, now=datetime(2026, 1, 1, 12, 0))
    wb = read_workbook(path, drugs=profile.related_drug_names)
    frames, skipped = run_rules(Context(wb, profile, load_terms(), load_catalogue(), today), rules)
    return Result(str(path), wb.sha256, profile.name, "test", "2026-01-01T12:00:00",
                  to_findings(frames, wb), skipped, wb)


def where(result, code: str) -> list[str]:
    """Sorted `Sheet!Cell` (or `Sheet`, or `-`) of every finding of `code`."""
    return sorted(f.where for f in result.findings if f.rule == code)


def codes(result) -> Counter:
    return Counter(f.rule for f in result.findings)


def fresh() -> Sheets:
    return copy.deepcopy(valid_study())
