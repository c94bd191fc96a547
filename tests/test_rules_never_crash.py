"""No registered rule crashes on valid data (issue 16): a property test (hypothesis, derandomized,
bounded) drives EVERY rule of monitor.rules.registry with edge values and asserts no WB000.

Each example is the clean valid study (tests/builders.py) changed by hypothesis: sheets cut to one
row or none, optional columns left blank, number cells set to 0, tiny, huge (1e308: sums overflow
to inf), 'inf' / 'nan' as typed text, date cells set to extreme dates, the Tumor sheet with its
optional Slice thickness / Viable diameter columns, and -- after a first run has built them -- the
float columns of every derived table (RECIST sums and percentages, dose intensity, SI lab values,
marker changes ...) poisoned with inf, -inf and NaN before the rules run again. Workbooks are built
in memory (monitor.workbook.reader.build_sheet), so 60 examples take seconds, not minutes.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builders import TODAY, valid_study
from monitor.check import run_rules
from monitor.ctcae.terms import load_terms
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import load_profile
from monitor.rules.base import Context
from monitor.rules.registry import RULE_CRASHED, RULES
from monitor.workbook.reader import Workbook, build_sheet, read_study
from monitor.workbook.schema import SHEETS_BY_NAME

PROFILE = load_profile()
TERMS, CATALOGUE = load_terms(), load_catalogue()
SETTINGS = settings(derandomize=True, max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NUMBERS = [0, 0.0, 1e-300, 1e308, -1e308, 500, 9.9, 10, 15, "inf", "-inf", "nan", "1e999"]
DATES = [date(1900, 1, 1), date(1970, 1, 1), date(2099, 12, 31), date(2025, 3, 10), date(2025, 3, 5)]
SHEET_NAMES = ["Subjects", "Cycles", "Labs", "AdverseEvents", "Vitals", "Tumor"]


def _text(v):
    if v is None:
        return None
    if isinstance(v, datetime):
        v = v.date()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def workbook(sheets: dict) -> Workbook:
    """The sheets (name -> rows, header first) as the reader would build them."""
    def raw(rows):
        width = max(len(r) for r in rows)
        cols = {f"c{j}": [_text(r[j]) if j < len(r) else None for r in rows] for j in range(width)}
        return pl.DataFrame(cols, schema={k: pl.String for k in cols})
    built = {name: build_sheet(SHEETS_BY_NAME[name], name, raw(rows), 0, PROFILE.drug_names, None)
             for name, rows in sheets.items() if name != "Study"}
    return Workbook("mem.xlsx", "0" * 64, list(sheets), built, read_study(raw(sheets["Study"])))


@st.composite
def edge_studies(draw):
    s = valid_study()
    if draw(st.integers(0, 3)):        # (3 in 4) a tumour story: complete responses, reappearance, new lesions
        s["Tumor"][1:] = _scans(draw)
    s["Tumor"][0] += ["Slice thickness (mm)", "Viable diameter (mm)"]
    for row in s["Tumor"][1:]:
        row += [draw(st.sampled_from([None, 5, 8])), draw(st.sampled_from([None, 0, 12, 30]))]
    for name in SHEET_NAMES:
        rows = s[name]
        cut = draw(st.sampled_from(["all"] * 6 + ["one", "none"]))
        if cut != "all":
            s[name] = rows[:2] if cut == "one" else rows[:1]
        if not draw(st.integers(0, 3)):   # (1 in 4) every optional column left blank
            spec = SHEETS_BY_NAME[name]
            optional = {c.name.lower() for c in spec.columns if not c.required}
            for j, h in enumerate(s[name][0]):
                if str(h).split(" (")[0].lower() in optional:
                    for r in s[name][1:]:
                        r[j] = None
    for _ in range(draw(st.integers(0, 12))):   # edge values in cells of the right kind
        name = draw(st.sampled_from(SHEET_NAMES))
        rows = s[name]
        if len(rows) < 2:
            continue
        i = draw(st.integers(1, len(rows) - 1))
        j = draw(st.integers(0, len(rows[0]) - 1))
        old = rows[i][j] if j < len(rows[i]) else None
        if isinstance(old, (int, float)) and not isinstance(old, bool) and j > 0:
            rows[i][j] = draw(st.sampled_from(NUMBERS))
        elif isinstance(old, (date, datetime)):
            rows[i][j] = draw(st.sampled_from(DATES))
    poison = draw(st.sampled_from([None, float("inf"), float("-inf"), float("nan")]))
    return s, poison


SCAN_DATES = [datetime(2025, 3, 5), datetime(2025, 4, 21), datetime(2025, 6, 2), datetime(2025, 7, 14)]
BASE_MM = [0, 9.9, 10, 15, 30]
MM = [0, 0, 0, 4, 5, 10, 54, None]


def _scans(draw) -> list:
    """1001's Tumor rows: a baseline and 1-3 follow-ups with edge diameters and any investigator call."""
    rows = []
    two = draw(st.booleans())
    for k, when in enumerate(SCAN_DATES[:draw(st.integers(2, 4))]):
        resp = None if k == 0 else draw(st.sampled_from(["CR", "PR", "SD", "PD", "NE", None]))
        mm = BASE_MM if k == 0 else MM
        rows.append([1001, when, "T1", "Target", "Liver segment VII", draw(st.sampled_from(mm)), None, resp])
        if two:
            rows.append([1001, when, "T2", "Target", "Lymph node, portocaval", draw(st.sampled_from(mm)), None, resp])
        rows.append([1001, when, "NT1", "Non-target", "Portal vein", None,
                     draw(st.sampled_from(["Present", "Absent", "Unequivocal progression", "Further increase", None])),
                     resp])
        if k and draw(st.booleans()):
            rows.append([1001, when, "N1", draw(st.sampled_from(["New", "New (equivocal)"])), "Bone",
                         draw(st.sampled_from(MM)), None, resp])
    return rows


def _poison_derived(ctx, value) -> None:
    """Every float column of every derived table built so far: every value -> value."""
    for attr in [a for a in vars(ctx) if a.startswith("_derived_") or a == "_labs"]:
        df = getattr(ctx, attr)
        if not isinstance(df, pl.DataFrame) or not df.height:
            continue
        floats = [c for c, t in df.schema.items() if t in (pl.Float64, pl.Float32)]
        setattr(ctx, attr, df.with_columns(pl.lit(value, dtype=df.schema[c]).alias(c) for c in floats))


def crashes(frames) -> list:
    return [m for f in frames if f.height and f["rule"][0] == RULE_CRASHED.code for m in f["message"].to_list()]


def _after_cr() -> dict:
    """The crash of issue 16: CR (nadir 0 mm), then 4 mm back, the investigator calls SD."""
    s = valid_study()
    s["Tumor"][1:] = [[1001, SCAN_DATES[0], "T1", "Target", "Liver", 30, None, None],
                      [1001, SCAN_DATES[1], "T1", "Target", "Liver", 0, None, "CR"],
                      [1001, SCAN_DATES[2], "T1", "Target", "Liver", 4, None, "SD"]]
    return s


@SETTINGS
@example((_after_cr(), None))
@example((_after_cr(), float("inf")))
@given(edge_studies())
def test_no_rule_crashes_on_edge_values(case):
    sheets, poison = case
    ctx = Context(workbook(sheets), PROFILE, TERMS, CATALOGUE, TODAY)
    frames, _ = run_rules(ctx, RULES)
    assert not crashes(frames), crashes(frames)
    if poison is not None:
        _poison_derived(ctx, poison)
        frames, _ = run_rules(ctx, RULES)
        assert not crashes(frames), (poison, crashes(frames))


def test_the_in_memory_workbook_reads_like_the_file(run):
    """The harness is honest: the clean study built in memory gives the findings the file gives
    (none), and a planted crash is seen as WB000."""
    ctx = Context(workbook(valid_study()), PROFILE, TERMS, CATALOGUE, TODAY)
    frames, skipped = run_rules(ctx, RULES)
    assert [f for f in frames if f.height] == [] and run(valid_study()).findings == []
    assert {c for c, _ in skipped} == {"WB211", "DOSE012"}   # the seed study has no arms (test_design.py drives them)
    from monitor.rules.base import Rule
    from monitor.findings import Severity

    def boom(ctx):
        raise ValueError("planted")
    frames, _ = run_rules(ctx, (Rule("X001", "planted", Severity.MAJOR, boom),))
    assert crashes(frames) and "planted" in crashes(frames)[0]


def test_every_registered_rule_is_driven():
    """The property test runs the registry itself: a rule added later is covered without edits."""
    assert {r.code for r in RULES} >= {"RECIST001", "RECIST006", "RECIST007", "DOSE001", "MK001", "LAB102"}
