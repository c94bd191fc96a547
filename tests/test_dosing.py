"""Dosing and schedule (DOSE rules, monitor.derive.exposure): boundary tables for every
threshold and window of the profile, with the source of each next to it.

Sources (bundled profile ql1604_bev_hcc.toml):
  [schedule] cycle_days 21, window_days 3      protocol section 6 (21-day cycles +/- 3 days)
             dose_tolerance_pct 10             protocol section 6.1
             weight_change_pct 10              protocol section 6.1 (recalculate at >= 10%)
             predose_lab_days 3                schedule of assessments (labs <= 3 days before)
  [[drugs]]  QL1604 200 mg flat; bevacizumab 15 mg/kg   protocol section 6.1
  [[hold_rules]] 0 QL1604 hold, ALT/AST grade >= 2      protocol 6.4 / ASCO-NCCN irAE 2021
                 1 QL1604 stop, immune hepatitis grade 4; 2 QL1604 stop, pneumonitis grade >= 3
                 3 bevacizumab hold, UPROT24 >= 2 g/24h; 4 bevacizumab hold, hypertension grade 3
                 5-8 bevacizumab stop: bleeding grade >= 3, GI perforation, nephrotic syndrome,
                 arterial thromboembolism               bevacizumab prescribing information 2.4
Valid study (tests/builders.py): 1001 C1 2025-03-10, C2 03-31 (labs 03-07 and 03-28);
1002 C1 03-17, C2 04-04 (QL1604 Held for ALT 248 U/L on 04-01); 1003 C1 04-09.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from builders import TODAY, codes, copy_row, delete_column, fresh, rename_sheet, set_cell, set_cells, where, write
from monitor.derive.exposure import administrations, exposure
from monitor.derive.holds import describe_rule
from monitor.profile.profile import ProfileError, bundled_profiles, load_profile, parse_profile

C, L, AE, V, S = "Cycles", "Labs", "AdverseEvents", "Vitals", "Subjects"


def d(y, m, day):
    return datetime(y, m, day)


def row_of(df: pl.DataFrame, row: int) -> dict:
    (r,) = df.filter(pl.col("row") == row).to_dicts()
    return r


def dose_codes(result) -> list:
    return sorted(c for c in codes(result) if c.startswith("DOSE"))


# ------------------------------------------------------------------ DOSE001 interval (21 +/- 3)

def _c2(s, day, labs_day, action="Given", reason=None):
    """1001 cycle 2 of both drugs on `day`, its ALT on `labs_day` (so DOSE004 stays quiet)."""
    for i in (2, 3):
        set_cells(s, C, i, Date=day, Action=action, Reason=reason)
    set_cell(s, L, 8, "Date", labs_day)
    return s


@pytest.mark.parametrize("day, action, reason, fires", [
    (d(2025, 3, 27), "Given", None, True),           # day 17: 21 - 3 - 1, early
    (d(2025, 3, 28), "Given", None, False),          # day 18: 21 - 3, first day of the window
    (d(2025, 4, 3), "Given", None, False),           # day 24: 21 + 3, last day of the window
    (d(2025, 4, 4), "Given", None, True),            # day 25: late, no delay recorded
    (d(2025, 4, 4), "Delayed", "patient request", False),  # late and documented
    (d(2025, 3, 27), "Delayed", "patient request", True),  # early is never excused by Delayed
], ids=["day17", "day18", "day24", "day25", "day25-delayed", "day17-delayed"])
def test_interval_window_boundaries(run, day, action, reason, fires):
    s = _c2(fresh(), day, day, action, reason)
    result = run(s)
    assert where(result, "DOSE001") == (["Cycles!C4", "Cycles!C5"] if fires else [])
    assert not [c for c in dose_codes(result) if c != "DOSE001"]


def test_interval_counts_the_cycles_between_a_held_cycle(run):
    """1001: cycle 2 Held, cycle 3 given on day 42 (2 x 21) and day 46 (42 + 4)."""
    for day, fires in ((d(2025, 4, 21), False), (d(2025, 4, 24), False), (d(2025, 4, 25), True)):
        s = fresh()
        for i in (2, 3):
            set_cells(s, C, i, Action="Held", Dose=None, Unit=None, Weight=None, Reason="fatigue")
        for i in (0, 1):
            copy_row(s, C, i, Cycle=3, Date=day)
        copy_row(s, L, 8, Date=day)
        result = run(s)
        assert bool(where(result, "DOSE001")) == fires, (day, [f.message for f in result.findings])


def test_interval_delay_recorded_as_delayed_row_plus_given_row(run):
    """The contract's other way to record a delay: a Delayed row (no dose) on the planned day and
    the Given row on the day actually dosed -- not a late dose, and not a repeated cycle."""
    s = _c2(fresh(), d(2025, 4, 7), d(2025, 4, 6))
    for i in (2, 3):
        copy_row(s, C, i, Date=d(2025, 3, 31), Action="Delayed", Dose=None, Unit=None, Reason="neutropenia")
    result = run(s)
    assert dose_codes(result) == [], [f.message for f in result.findings]


# ------------------------------------------------------------------ DOSE002 dose vs protocol (+/- 10%)

@pytest.mark.parametrize("idx, changes, fires", [
    (0, {"Dose": 180}, False),                 # 200 mg - 10%: inside
    (0, {"Dose": 179.9}, True),
    (0, {"Dose": 220}, False),                 # 200 mg + 10%
    (0, {"Dose": 220.1}, True),
    (1, {"Dose": 16.5}, False),                # 15 mg/kg + 10%
    (1, {"Dose": 16.51}, True),
    (9, {"Dose": 1082.7, "Unit": "mg"}, False),  # 15 x 80.2 kg = 1203 mg; - 10% = 1082.7
    (9, {"Dose": 1082.6, "Unit": "mg"}, True),
    (1, {"Dose": 7.5, "Action": "Reduced", "Reason": "proteinuria"}, False),   # documented reduction
    (1, {"Dose": 16.6, "Action": "Reduced", "Reason": "typo"}, True),          # 'reduced' above
], ids=["flat-180", "flat-179.9", "flat-220", "flat-220.1", "kg-16.5", "kg-16.51", "mg-1082.7",
        "mg-1082.6", "reduced-below", "reduced-above"])
def test_dose_tolerance_boundaries(run, idx, changes, fires):
    s = fresh()
    set_cells(s, C, idx, **changes)
    result = run(s)
    assert bool(where(result, "DOSE002")) == fires, [f.message for f in result.findings]


def test_expected_dose_uses_cycles_then_vitals_then_subjects_weight(ctx_of):
    s = fresh()
    set_cells(s, C, 1, Dose=1100, Unit="mg", Weight=None)       # 1001 C1 bev: Vitals 72.5 on 03-10
    set_cells(s, C, 9, Dose=1200, Unit="mg", Weight=None)       # 1003 C1: Vitals 80.2 on 04-09
    set_cell(s, V, 3, "Date", d(2025, 4, 10))                   # ... now after the dose: Subjects 80.2
    set_cell(s, S, 2, "Weight (kg)", 80.0)
    adm = administrations(ctx_of(s))
    a, b = row_of(adm, 3), row_of(adm, 11)
    assert (a["weight_source"], a["weight_used"], a["expected_dose"]) == ("Vitals", 72.5, 15 * 72.5)
    assert (b["weight_source"], b["weight_used"], b["expected_dose"]) == ("Subjects", 80.0, 1200.0)
    assert b["dose_deviation_pct"] == 0.0


def test_dose_message_names_the_expected_dose_and_its_basis(run):
    s = fresh()
    set_cells(s, C, 9, Dose=700, Unit="mg")
    (f,) = [f for f in run(s).findings if f.rule == "DOSE002"]
    assert "expected 1203 mg = 15 mg/kg x 80.2 kg (Cycles weight)" in f.message and "below" in f.message
    assert (f.cell, f.column, f.severity) == ("E11", "Dose", "major")


# ------------------------------------------------------------------ DOSE003 weight change (>= 10%)

@pytest.mark.parametrize("weight, fires", [
    (65.25, True),     # 72.5 - 10% exactly: recalculate (>= 10%)
    (65.26, False),
    (79.75, True),     # + 10%
    (79.74, False),
], ids=["minus-10", "minus-9.99", "plus-10", "plus-9.99"])
def test_weight_change_boundaries(run, weight, fires):
    s = fresh()
    set_cell(s, V, 1, "Weight (kg)", weight)           # 1001 Vitals on 03-31, bev C2 on 72.5 kg
    result = run(s)
    assert where(result, "DOSE003") == (["Cycles!G5"] if fires else []), [f.message for f in result.findings]


def test_weight_measured_after_the_dose_is_not_the_current_weight(run):
    s = fresh()
    set_cells(s, V, 1, Date=d(2025, 4, 1), Weight=60)
    assert where(run(s), "DOSE003") == []


def test_weight_change_not_evaluated_without_vitals(run):
    s = fresh()
    del s[V]
    result = run(s)
    assert ("DOSE003", "sheet Vitals is absent") in result.not_evaluated
    assert dose_codes(result) == []


# ------------------------------------------------------------------ DOSE004 pre-dose labs (3 days)

@pytest.mark.parametrize("labs_day, result_text, fires", [
    (d(2025, 3, 28), 45, False),        # 3 days before C2 (03-31)
    (d(2025, 3, 27), 45, True),         # 4 days
    (d(2025, 3, 31), 45, False),        # on the dose day
    (d(2025, 3, 28), "ND", True),       # not done is no lab
    (d(2025, 3, 28), "<5", False),      # a qualified result is a result
], ids=["3-days", "4-days", "same-day", "not-done", "qualified"])
def test_predose_lab_window_boundaries(run, labs_day, result_text, fires):
    s = fresh()
    set_cells(s, L, 8, Date=labs_day, Result=result_text)
    result = run(s)
    assert where(result, "DOSE004") == (["Cycles!C4"] if fires else []), [f.message for f in result.findings]


def test_predose_labs_reported_once_per_visit_and_dipstick_counts(run):
    s = fresh()
    set_cell(s, L, 8, "Date", d(2025, 3, 20))
    r1 = run(s)
    assert where(r1, "DOSE004") == ["Cycles!C4"]           # both drugs given that day: one finding
    copy_row(s, L, 7, Date=d(2025, 3, 30))                  # urine dipstick 'Neg' the day before
    assert where(run(s), "DOSE004") == []


def test_subject_without_any_lab_is_not_judged_dose_by_dose(run):
    s = fresh()
    copy_row(s, S, 0, Subject_ID=1004)
    copy_row(s, C, 0, Subject_ID=1004)
    assert dose_codes(run(s)) == []


# ------------------------------------------------------------------ DOSE005 hold rules

QL_GIVEN = dict(Dose=200, Unit="mg", Action="Given", Reason=None)


@pytest.mark.parametrize("alt, fires", [
    (120, False),        # 3.0 x ULN 40: not above 3 x ULN
    (120.5, True),       # > 3 x ULN, normal baseline -> hold QL1604 (hold_rules[0], PD-1 label)
], ids=["3.0x", "3.01x"])
def test_lab_hold_uses_the_ctcae_grade_of_the_latest_result(run, alt, fires):
    s = fresh()
    set_cells(s, C, 6, **QL_GIVEN)                               # 1002 QL1604 given on 04-04
    set_cell(s, AE, 2, "End date", d(2025, 4, 3))                # the ALT AE is over
    set_cell(s, AE, 2, "Grade", 3)
    copy_row(s, L, 11, Date=d(2025, 4, 3), Result=alt)          # latest ALT before the dose
    result = run(s)
    assert where(result, "DOSE005") == (["Cycles!H8"] if fires else []), [f.message for f in result.findings]


def test_hold_message_names_evidence_rule_and_source(run):
    s = fresh()
    set_cells(s, C, 6, **QL_GIVEN)
    (f,) = [f for f in run(s).findings if f.rule == "DOSE005"]
    assert f.message.startswith("QL1604 given on 2025-04-04 during a hold: ")
    assert "hold QL1604 for ALT or AST > 3 x ULN (baseline <= 1 x ULN)" in f.message and "PD-1 label" in f.message
    assert "ALT 6.2 x ULN (baseline 0.9 x ULN) on 2025-04-01" in f.message
    assert f.column == "Action" and f.severity == "major"


@pytest.mark.parametrize("value, unit, fires", [
    (2.0, "g/24h", True),          # >= 2 g/24 h: hold (bevacizumab PI 2.4)
    (1.99, "g/24h", False),
    (2000, "mg/24h", True),        # the same in mg: compared in the SI unit
], ids=["2.0-g", "1.99-g", "2000-mg"])
def test_proteinuria_hold_boundary(run, value, unit, fires):
    s = fresh()
    copy_row(s, L, 8, Test="UPROT24", Result=value, Unit=unit, LLN=None, ULN=None)
    expected = {True: ["Cycles!H5"], False: [], "C1 too": ["Cycles!H3", "Cycles!H5"]}[fires]
    assert where(run(s), "DOSE005") == expected


@pytest.mark.parametrize("onset, end, ongoing, fires", [
    (d(2025, 3, 30), None, "Y", True),            # started the day before, ongoing
    (d(2025, 3, 31), None, "Y", False),           # started on the dose day: maybe after the dose
    (d(2025, 3, 20), d(2025, 3, 31), "N", False),  # ended on the dose day
    (d(2025, 3, 20), d(2025, 4, 1), "N", True),    # ended the day after
    (d(2025, 3, 20), None, "N", False),           # not ongoing, end unknown (AE004): not judged
    ("2025-03", None, "Y", False),                # partial onset: latest possible day 03-31, the dose day
    ("UNK-FEB-2025", None, "Y", "C1 too"),        # latest possible day 02-28: before C1 (03-10) too
], ids=["day-before", "dose-day", "ends-dose-day", "ends-day-after", "end-unknown", "partial-onset-march",
        "partial-onset-february"])
def test_ae_hold_period_boundaries(run, onset, end, ongoing, fires):
    """Hypertension grade 3 holds bevacizumab (hold_rules[4]); 1001 bev C2 on 2025-03-31. A
    partial onset counts from its latest possible day (fewest false findings)."""
    s = fresh()
    set_cells(s, AE, 1, Grade=3, Onset_date=onset, End_date=end, Ongoing=ongoing)
    expected = {True: ["Cycles!H5"], False: [], "C1 too": ["Cycles!H3", "Cycles!H5"]}[fires]
    assert where(run(s), "DOSE005") == expected


# ------------------------------------------------------------------ DOSE006 permanent discontinuation

def _ae(s, **kw):
    base = dict(AE_number=3, Onset_date=d(2025, 3, 20), End_date=d(2025, 3, 25), Ongoing="N")
    base.update(kw)
    return copy_row(s, AE, 0, **base)


@pytest.mark.parametrize("term, grade, immune, onset, fires", [
    ("Pneumonitis", 3, "N", d(2025, 3, 20), True),     # stop QL1604 after grade >= 3 (hold_rules[2])
    ("Pneumonitis", 2, "N", d(2025, 3, 20), False),
    ("Pneumonitis", 3, "N", d(2025, 3, 31), False),    # on the dose day
    ("Hepatic failure", 4, "Y", d(2025, 3, 20), True),  # immune-related grade 4 (hold_rules[1])
    ("Hepatic failure", 4, "N", d(2025, 3, 20), False),
    ("Hepatic failure", 3, "Y", d(2025, 3, 20), False),
], ids=["pneumonitis-3", "pneumonitis-2", "pneumonitis-dose-day", "hepatic-4-immune", "hepatic-4-not-immune",
        "hepatic-3-immune"])
def test_discontinuation_rules(run, term, grade, immune, onset, fires):
    s = fresh()
    _ae(s, CTCAE_term=term, Grade=grade, Immune_related=immune, Onset_date=onset)
    result = run(s)
    assert where(result, "DOSE006") == (["Cycles!H4"] if fires else []), [f.message for f in result.findings]
    assert where(result, "DOSE005") == []          # a stopped drug is reported once, as critical


def test_bleeding_stops_bevacizumab_for_good_even_after_it_ended(run):
    s = fresh()
    _ae(s, CTCAE_term="Upper gastrointestinal hemorrhage", Grade=3, Onset_date=d(2025, 3, 12),
        End_date=d(2025, 3, 14))
    result = run(s)
    (f,) = [f for f in result.findings if f.rule == "DOSE006"]
    assert (f.cell, f.severity, f.subject) == ("H5", "critical", "1001")
    assert "Upper gastrointestinal hemorrhage grade 3" in f.message and "Avastin PI 2.4" in f.message


def test_dose_after_a_discontinued_row_of_the_same_drug(run):
    s = fresh()
    set_cells(s, C, 2, Action="Discontinued", Dose=None, Unit=None, Reason="pneumonitis")   # 1001 QL C2
    copy_row(s, C, 0, Cycle=3, Date=d(2025, 4, 21))
    copy_row(s, L, 8, Date=d(2025, 4, 20))
    result = run(s)
    assert where(result, "DOSE006") == ["Cycles!H12"]
    (f,) = [f for f in result.findings if f.rule == "DOSE006"]
    assert "Action Discontinued on 2025-03-31 (Cycles row 4)" in f.message


# ------------------------------------------------------------------ DOSE007 off treatment

@pytest.mark.parametrize("off, fires", [(d(2025, 4, 3), True), (d(2025, 4, 4), False)], ids=["day-before", "same-day"])
def test_off_treatment_boundary(run, off, fires):
    s = fresh()
    set_cell(s, S, 1, "Off-treatment date", off)
    assert where(run(s), "DOSE007") == (["Cycles!C9"] if fires else [])


def test_off_treatment_before_consent_is_left_to_wb208(run):
    s = fresh()
    set_cell(s, S, 1, "Off-treatment date", d(2025, 3, 9))
    result = run(s)
    assert where(result, "WB208") == ["Subjects!I3"] and where(result, "DOSE007") == []


def test_dose_dates_that_cannot_be_right_start_no_cascade(run):
    """A dose before consent (WB209) or after the run date (WB112): the date is unknown here."""
    s = fresh()
    set_cell(s, C, 2, "Date", d(2025, 3, 1))
    assert dose_codes(run(s)) == []
    s = fresh()
    set_cell(s, C, 2, "Date", d(2026, 3, 31))
    result = run(s)
    assert "WB112" in codes(result) and dose_codes(result) == []


# ------------------------------------------------------------------ DOSE008 / DOSE009 cycle numbers

def test_skipped_cycles_are_named(run):
    s = fresh()
    set_cell(s, C, 2, "Cycle", 4)
    (f,) = [f for f in run(s).findings if f.rule == "DOSE008"]
    assert f.message == ("QL1604 cycle 4 follows cycle 1: cycles 2-3 have no row "
                         "(given, held, delayed or discontinued).")


@pytest.mark.parametrize("day, fires", [(d(2025, 4, 21), False), (d(2025, 4, 22), True)], ids=["17-days", "18-days"])
def test_repeated_cycle_boundary(run, day, fires):
    """cycle_days - window_days = 18: a row of the same cycle 18 days on is another visit."""
    s = fresh()
    copy_row(s, C, 6, Date=day)
    assert where(run(s), "DOSE009") == (["Cycles!B12"] if fires else [])


def test_two_administrations_of_one_cycle_are_wb204_only(run):
    s = fresh()
    copy_row(s, C, 0, Date=d(2025, 3, 31))
    result = run(s)
    assert where(result, "WB204") == ["Cycles!B12"] and where(result, "DOSE009") == []


# ------------------------------------------------------------------ derived exposure

def test_exposure_of_the_valid_study(ctx_of):
    ex = exposure(ctx_of(fresh()))
    by = {(r["subject"], r["drug"]): r for r in ex.to_dicts()}
    ql = by[("1001", "QL1604")]
    assert (ql["cycles_received"], ql["administrations"], ql["cumulative_dose_mg"]) == (2, 2, 400.0)
    assert ql["exposure_days"] == 21 + 21 and ql["dose_intensity"] == pytest.approx(1.0)
    bev = by[("1001", "Bevacizumab")]
    assert bev["cumulative_dose_mg"] == pytest.approx(2 * 15 * 72.5)
    q2 = by[("1002", "QL1604")]                     # cycle 2 held
    assert (q2["cycles_received"], q2["holds"], q2["exposure_days"]) == (1, 1, 21)
    b2 = by[("1002", "Bevacizumab")]                # day 1 and day 18: 2 doses in 39 days
    assert b2["dose_intensity"] == pytest.approx(2 / (39 / 21))
    assert by[("1003", "QL1604")]["time_on_treatment_days"] == 21


def test_dose_intensity_unknown_when_a_dose_is_unknown(ctx_of):
    s = fresh()
    set_cell(s, C, 2, "Dose", None)
    ex = exposure(ctx_of(s)).filter((pl.col("subject") == "1001") & (pl.col("drug") == "QL1604"))
    assert ex["doses_unknown"][0] == 1 and ex["dose_intensity"][0] is None


def test_reductions_delays_and_repeats_in_exposure(ctx_of):
    s = fresh()
    set_cells(s, C, 3, Dose=7.5, Action="Reduced", Reason="proteinuria")
    copy_row(s, C, 1)                                               # 1001 C1 bev entered twice
    ctx = ctx_of(s)
    adm = administrations(ctx)
    assert row_of(adm, 12)["duplicate"] is True
    b = exposure(ctx).filter((pl.col("subject") == "1001") & (pl.col("drug") == "Bevacizumab")).to_dicts()[0]
    assert (b["administrations"], b["reductions"]) == (2, 1)
    assert b["dose_intensity"] == pytest.approx((15 + 7.5) / 30)


def test_held_and_discontinued_rows_are_not_administrations(ctx_of):
    adm = administrations(ctx_of(fresh()))
    held = row_of(adm, 8)
    assert held["administered"] is False and held["drug"] == "QL1604"
    assert row_of(adm, 10)["drug"] == "QL1604" and row_of(adm, 10)["drug_as_entered"] == "QL-1604"


def test_dosing_rules_not_evaluated_without_their_columns(run):
    s = fresh()
    delete_column(s, C, "Cycle")
    result = run(s)
    gated = {code for code, _ in result.not_evaluated}
    assert {"DOSE001", "DOSE008", "DOSE009"} <= gated
    assert not [f for f in result.findings if f.rule.startswith("DOSE") or f.rule == "WB000"]


def test_dosing_rules_read_a_cycles_sheet_by_its_alias(run):
    s = fresh()
    rename_sheet(s, C, "Dosing")
    set_cell(s, "Dosing", 0, "Dose", 240)
    assert where(run(s), "DOSE002") == ["Dosing!E2"]


# ------------------------------------------------------------------ profile: hold rules are validated data

def _profile_text(old: str, new: str) -> str:
    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old, new, message", [
    ('ae_terms = ["Pneumonitis"], min_grade = 3 }', 'ae_terms = ["Pneumonitis"], min_grade = 7 }',
     "hold_rules[11].when.min_grade must be 1-5, found 7"),
    ('lab = ["UPROT24"], min_value = 2.0', 'lab = ["UPROT42"], min_value = 2.0',
     "hold_rules[32].when.lab 'UPROT42' is not a lab test code of the catalogue"),
    ('lab = ["UPROT24"], min_value = 2.0', 'lab = ["UPROT24"], min_value = -2.0',
     "hold_rules[32].when.min_value must be > 0, found -2.0"),
    ('ae_terms = ["Hypertension"], min_grade = 3', 'ae_terms = ["Hypertension"]',
     "hold_rules[33].when needs min_grade or min_value"),
    ('ae_terms = ["Hypertension"], min_grade = 3', 'ae_terms = ["Hypertension"], grade = 3',
     "hold_rules[33].when.grade is not a known key"),
    ('ae_terms = ["Nephrotic syndrome"], min_grade = 1', 'min_grade = 1',
     "hold_rules[43].when needs lab or ae_terms"),
    ('ae_terms = ["Nephrotic syndrome"], min_grade = 1', 'ae_terms = [], min_grade = 1',
     "hold_rules[43].when.ae_terms must be a non-empty list of text"),
    ('min_grade = 4, immune_related = true', 'min_grade = 4, immune_related = "yes"',
     "hold_rules[9].when.immune_related must be true/false"),
])
def test_broken_hold_rule_is_an_error_naming_the_key(tmp_path, old, new, message):
    import tomllib

    with pytest.raises(ProfileError) as e:
        parse_profile(tomllib.loads(_profile_text(old, new)), "p.toml")
    assert message in str(e.value)


def test_broken_hold_rule_stops_the_cli_with_exit_2(tmp_path):
    import subprocess
    import sys

    prof = tmp_path / "p.toml"
    prof.write_text(_profile_text('ae_terms = ["Pneumonitis"], min_grade = 3 }',
                                  'ae_terms = ["Pneumonitis"], min_grade = 0 }'))
    wb = write(tmp_path / "w.xlsx", fresh())
    p = subprocess.run([sys.executable, "-m", "monitor", "check", str(wb), "--profile", str(prof),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "hold_rules[11].when.min_grade must be 1-5" in p.stderr


def test_hold_rules_read_as_words(profile):
    texts = [describe_rule(h, {"UPROT24": "g/24h"}) for h in profile.hold_rules]
    assert texts[0] == "hold QL1604 for ALT or AST > 3 x ULN (baseline <= 1 x ULN)"
    assert texts[2] == "hold QL1604 for ALT or AST > 5 x ULN (baseline > 1 and <= 3 x ULN)"
    assert texts[9] == "permanently discontinue QL1604 for immune-related AE group immune_hepatitis grade >= 4"
    assert texts[10] == ("hold QL1604 for AE Pneumonitis grade >= 2, until grade <= 1; "
                         "resume on prednisone <= 10 mg/day")
    assert texts[32] == "hold Bevacizumab for UPROT24 >= 2 g/24h"
    assert texts[35] == "permanently discontinue Bevacizumab for AE group bleeding grade >= 3"
    assert "not back to grade <= 1 within 12 weeks" in texts[31]


def test_a_profile_can_add_a_hold_rule_as_data(run, tmp_path):
    """No code knows the rules: a new one in the profile (hold bevacizumab for platelets grade >= 2)
    is evaluated like the bundled ones."""
    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8") + (
        '\n[[hold_rules]]\ndrug = "Bevacizumab"\naction = "hold"\n'
        'when = { lab = ["PLAT"], min_grade = 2 }\nsource = "test: platelets"\n')
    prof = tmp_path / "p.toml"
    prof.write_text(text)
    s = fresh()
    copy_row(s, L, 4, Date=d(2025, 3, 28), Result=70)          # 1001 PLAT 70: grade 2 (< 75)
    from builders import check

    result = check(write(tmp_path / "w.xlsx", s), load_profile(prof))
    assert where(result, "DOSE005") == ["Cycles!H5"]
