"""Tumour markers (MK rules, monitor.derive.markers): response and progression boundaries, qualified
results as bounds, unit changes, doubling / halving times, the markers table, profile validation.

Sources (bundled profile [[markers]]):
  AFP       response_fall_pct 50, progression_rise_pct 25, progression_above_uln true
            (AFP criteria in HCC trials: Personeni 2012; Chan 2009; Zhu 2019 REACH-2);
            uln 10 ng/mL for a blank site ULN, min_baseline 20 ng/mL (Chan 2009), confirm_interval_days
            28 (mirrors RECIST 1.1 4.6), trend_min_points 3 and trend_min_change_pct 25
  PIVKA2    the same (Kim 2015; Ueno 2016)
  1 IU/mL AFP = 1.21 ng/mL (WHO 1st International Standard 72/225; lab catalogue)
Valid study: 1001 AFP 1250.3 ng/mL on 2025-03-07 (ULN 7), first dose 2025-03-10 -> baseline;
1003 AFP '>1210' on 2025-04-07, first dose 2025-04-09. Appended Labs rows start at row 17.
"""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl
import pytest

from builders import TODAY, check, copy_row, fresh, set_cell, set_cells, where, write
from monitor.derive.markers import marker_results, marker_summary, markers_table
from monitor.profile.profile import ProfileError, bundled_profiles, load_profile, parse_profile

L = "Labs"


def d(y, m, day):
    return datetime(y, m, day)


def with_afp(*points, subject_row=6, **changes):
    """The valid study plus results of a subject's AFP row (1001: row index 6): (date, result) or
    (date, result, unit)."""
    s = fresh()
    for p in points:
        extra = dict(changes)
        if len(p) == 3:
            extra["Unit"] = p[2]
        copy_row(s, L, subject_row, Date=p[0], Result=p[1], **extra)
    return s


def _profile_with(tmp_path, old, new):
    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    assert old in text
    path = tmp_path / "p.toml"
    path.write_text(text.replace(old, new, 1))
    return load_profile(path)


A1, A2, A3 = d(2025, 4, 1), d(2025, 4, 29), d(2025, 5, 27)   # 28 days apart: confirm_interval_days
ONE_AFP = (pl.col("marker") == "AFP") & (pl.col("subject") == "1001")


# ------------------------------------------------------------------ MK001 response (>= 50% fall, confirmed)

@pytest.mark.parametrize("points, at", [
    (((A1, 625.15), (A2, 600)), ["Labs!D17"]),      # 1250.3 x 0.5 = 625.15: exactly -50%
    (((A1, 625.3), (A2, 600)), ["Labs!D18"]),       # -49.99% does not count; 600 confirmed ... by nothing
    (((A1, 600),), []),                             # one result: not confirmed yet
    (((A1, 600), (A2, 700)), []),                   # the next result is only -44%
    (((A1, 600), (A2, "<10")), ["Labs!D17"]),       # '<10' is below 10: confirms
    (((A1, 600), (A2, ">500")), []),                # '>500' may be above 625: cannot confirm
    (((A1, "<600"), (A2, 600)), ["Labs!D17"]),      # '<600' counts as 600 for a fall
], ids=["minus-50", "minus-49.99", "unconfirmed", "not-confirmed", "below-limit-confirms",
        "above-limit-cannot", "below-limit-itself"])
def test_response_boundaries(run, points, at):
    if points[0][1] == 625.3:
        points = points + ((A3, 610),)             # 600 then 610: confirmed from the 600 (row 18)
    assert where(run(with_afp(*points)), "MK001") == at


def test_response_from_a_greater_than_baseline(run):
    """1003's baseline is '>1210': the fall is at least the one from 1210, so 605 (-50% of 1210)
    counts; a '<' baseline could be anything lower and never gives a response."""
    s = with_afp((d(2025, 5, 1), 605), (d(2025, 5, 29), 600), subject_row=13)
    assert where(run(s), "MK001") == ["Labs!D17"]
    s = with_afp((A1, 100), (A2, 90))
    set_cell(s, L, 6, "Result", "<1300")
    assert where(run(s), "MK001") == []


@pytest.mark.parametrize("iu, fires", [(500, True), (520, False)], ids=["500-IU", "520-IU"])
def test_response_across_a_unit_change(run, iu, fires):
    """500 IU/mL = 605 ng/mL (-51.6% from 1250.3 ng/mL); 520 IU/mL = 629.2 ng/mL (-49.7%)."""
    s = with_afp((A1, iu, "IU/mL"), (A2, 480, "IU/mL"))
    assert where(run(s), "MK001") == (["Labs!D17"] if fires else [])


def test_response_message(run):
    (f,) = [f for f in run(with_afp((A1, 625.15), (A2, 600))).findings if f.rule == "MK001"]
    assert f.severity == "info" and f.column == "Result" and f.subject == "1001"
    assert f.message.startswith("AFP '625.15' on 2025-04-01: -50% from the baseline 1250.3 ng/mL (2025-03-07), "
                                "confirmed on 2025-04-29: marker response (fall >= 50%; AFP response criteria")


# ------------------------------------------------------------------ MK002 progression (>= 25% over nadir, > ULN)

@pytest.mark.parametrize("points, at", [
    (((A1, 10), (A2, 12.5), (A3, 13)), ["Labs!D18"]),        # nadir 10 x 1.25 = 12.5 > ULN 7, then 13
    (((A1, 10), (A2, 12.49), (A3, 13)), []),                 # +24.9%; the 13 is a first rise
    (((A1, 10), (A2, 12.5), (A3, 12)), []),                  # not confirmed: 12 is +20%
    (((A1, 4), (A2, 5.5), (A3, 6.5)), []),                   # below the ULN 7
    (((A1, "<10"), (A2, 12.5), (A3, 13)), ["Labs!D18"]),     # nadir '<10' counts as 10 for a rise
    (((A1, 10), (A2, "<20"), (A3, "<30")), []),              # '<20' may be below 12.5
    (((A1, 10), (A2, ">12.5"), (A3, ">13")), ["Labs!D18"]),  # '>12.5' is at least 12.5
], ids=["plus-25", "plus-24.9", "unconfirmed", "below-uln", "nadir-below-limit", "below-limit-rise",
        "above-limit-rise"])
def test_progression_boundaries(run, points, at):
    result = run(with_afp(*points))
    assert where(result, "MK002") == at, [f.message for f in result.findings]


def test_progression_needs_a_uln_unless_the_profile_says_otherwise(tmp_path, run):
    s = with_afp((A1, 4), (A2, 5.5), (A3, 6.5))
    prof = _profile_with(tmp_path, 'progression_above_uln = true  #', 'progression_above_uln = false  #')
    result = check(write(tmp_path / "w.xlsx", s), prof)
    assert where(result, "MK002") == ["Labs!D18"]
    s = with_afp((A1, 10), (A2, 12.5), (A3, 13), ULN=None)
    prof = _profile_with(tmp_path, "uln = 10                      #", "uln = 12.5                    #")
    result = check(write(tmp_path / "w2.xlsx", s), prof)
    assert where(result, "MK002") == []                     # blank ULN -> profile ULN 12.5: not above it


def test_progression_message(run):
    (f,) = [f for f in run(with_afp((A1, 10), (A2, 12.5), (A3, 13))).findings if f.rule == "MK002"]
    assert f.severity == "major" and f.cell == "D18"
    assert f.message.startswith("AFP '12.5' on 2025-04-29: +25% over the nadir 10 ng/mL and above the ULN 7 ng/mL, "
                                "confirmed on 2025-05-27: marker progression (rise >= 25%")


def test_marker_findings_once_per_subject_and_marker(run):
    s = with_afp((A1, 10), (A2, 20), (A3, 30), (d(2025, 6, 1), 40))
    result = run(s)
    assert where(result, "MK002") == ["Labs!D18"] and where(result, "MK001") == ["Labs!D17"]


# ------------------------------------------------------------------ derived trends

def test_halving_then_doubling_time_over_the_last_run(ctx_of):
    """1250.3 -> 625.15 -> 312.575 every 14 days (halving 14 d), then 10 -> 20 -> 40 every 30 days:
    the last run is the rising one, doubling time 30 days (log-linear fit, exact here)."""
    s = with_afp((d(2025, 3, 21), 625.15), (d(2025, 4, 4), 312.575))
    ctx = ctx_of(s)
    (row,) = marker_summary(ctx).filter(ONE_AFP).to_dicts()
    assert row["trend"] == "falling" and row["trend_points"] == 3
    assert row["halving_time_days"] == pytest.approx(14.0) and row["doubling_time_days"] is None
    s = with_afp((d(2025, 3, 21), 625.15), (d(2025, 4, 4), 312.575), (d(2025, 5, 1), 10),
                 (d(2025, 5, 31), 20), (d(2025, 6, 30), 40))
    (row,) = marker_summary(ctx_of(s)).filter(ONE_AFP).to_dicts()
    assert row["trend"] == "rising" and row["trend_points"] == 3
    assert row["doubling_time_days"] == pytest.approx(30.0) and row["halving_time_days"] is None
    assert (row["nadir"], row["nadir_date"].isoformat()) == (10.0, "2025-05-01")
    assert row["latest_pct_from_nadir"] == pytest.approx(300.0)
    assert row["latest_pct_from_baseline"] == pytest.approx((40 - 1250.3) / 1250.3 * 100)


def test_trend_fit_is_least_squares_on_log_values(ctx_of):
    s = with_afp((d(2025, 3, 17), 1300), (d(2025, 3, 27), 1500), (d(2025, 4, 16), 2600))
    (row,) = marker_summary(ctx_of(s)).filter(ONE_AFP).to_dicts()
    t = [0, 10, 20, 40]
    y = [math.log(v) for v in (1250.3, 1300, 1500, 2600)]
    tm, ym = sum(t) / 4, sum(y) / 4
    slope = sum((a - tm) * (b - ym) for a, b in zip(t, y)) / sum((a - tm) ** 2 for a in t)
    assert row["trend_points"] == 4 and row["doubling_time_days"] == pytest.approx(math.log(2) / slope)


def test_trend_min_points_from_the_profile(tmp_path, ctx_of):
    prof = _profile_with(tmp_path, "trend_min_points = 3          #", "trend_min_points = 4          #")
    s = with_afp((d(2025, 5, 1), 10), (d(2025, 5, 31), 20), (d(2025, 6, 30), 40))
    (row,) = marker_summary(ctx_of(s, prof)).filter(ONE_AFP).to_dicts()
    assert row["trend_points"] == 3 and row["doubling_time_days"] is None


def test_qualified_results_are_left_out_of_the_fit(ctx_of):
    s = with_afp((d(2025, 5, 1), 10), (d(2025, 5, 31), 20), (d(2025, 6, 30), 40), (d(2025, 7, 30), ">80"))
    (row,) = marker_summary(ctx_of(s)).filter(ONE_AFP).to_dicts()
    assert row["trend_points"] == 3 and row["doubling_time_days"] == pytest.approx(30.0)


def test_markers_table_rows_and_summary(ctx_of):
    ctx = ctx_of(with_afp((A1, 625.15), (A2, 600)))
    tab = markers_table(ctx)
    afp = tab.filter((pl.col("marker") == "AFP") & (pl.col("subject") == "1001")).sort("date")
    assert afp["row"].to_list() == [8, 17, 18]
    assert afp["on_treatment"].to_list() == [False, True, True]
    assert afp["response_confirmed"].to_list() == [False, True, False]
    assert set(afp["marker_response"].to_list()) == {"response"}
    assert afp["pct_from_baseline"][1] == pytest.approx(-50.0)
    assert afp["nadir_before"].to_list()[1:] == [1250.3, 625.15]
    s = marker_summary(ctx).to_dicts()
    by = {(r["subject"], r["marker"]): r for r in s}
    assert by[("1003", "AFP")]["marker_response"] == "no response"
    assert ("1002", "PIVKA2") not in by                 # ND only: no value, no series
    assert by[("1001", "AFP")]["marker_progression"] == "no progression"


def test_no_marker_results_no_rows_and_no_crash(ctx_of):
    s = fresh()
    for i in (6, 10, 13):
        set_cell(s, L, i, "Test", "GGT")
    set_cells(s, L, 6, Unit="U/L", ULN=60)
    set_cells(s, L, 10, Result=30, Unit="U/L")
    set_cells(s, L, 13, Result=30, Unit="U/L", ULN=60)
    ctx = ctx_of(s)
    assert marker_results(ctx).height == 0 and markers_table(ctx).columns == ["row"]


def test_markers_not_evaluated_without_the_action_column(run):
    from builders import delete_column

    s = with_afp((A1, 600), (A2, 500))
    delete_column(s, "Cycles", "Action")
    result = run(s)
    assert {"MK001", "MK002"} <= {c for c, _ in result.not_evaluated}
    assert not [f for f in result.findings if f.rule.startswith("MK") or f.rule == "WB000"]


# ------------------------------------------------------------------ profile: markers validated

@pytest.mark.parametrize("old, new, message", [
    ('response_fall_pct = 50        #', 'response_fall_pct = 0        #',
     "markers[0].response_fall_pct must be > 0 and <= 100, found 0"),
    ('response_fall_pct = 50        #', 'response_fall_pct = 150        #',
     "markers[0].response_fall_pct must be > 0 and <= 100, found 150"),
    ('progression_rise_pct = 25     #', 'progression_rise_pct = -25     #',
     "markers[0].progression_rise_pct must be > 0, found -25"),
    ('progression_above_uln = true  #', 'progression_above_uln = "yes"  #',
     "markers[0].progression_above_uln must be true/false"),
    ('trend_min_points = 3          #', 'trend_min_points = 2          #',
     "markers[0].trend_min_points must be >= 3, found 2"),
    ('trend_min_points = 3          #', 'trend_min_points = 3.5          #',
     "markers[0].trend_min_points must be a whole number, found 3.5"),
    ('confirm_interval_days = 28    #', 'confirm_interval_days = 27.5    #',
     "markers[0].confirm_interval_days must be a whole number, found 27.5"),
    ('uln = 10                      #', 'uln = -10                     #', "markers[0].uln must be >= 0, found -10"),
    ('test = "AFP"', 'test = "AFP2"', "markers[0].test 'AFP2' is not a lab test code of the catalogue"),
    ('progression_rise_pct = 25\nprogression_above_uln = true\n', 'progression_rise_pct = 25\n',
     "markers[1].progression_above_uln is missing"),
])
def test_broken_marker_settings_are_errors_naming_the_key(old, new, message):
    import tomllib

    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    assert old in text, old
    with pytest.raises(ProfileError) as e:
        parse_profile(tomllib.loads(text.replace(old, new, 1)), "p.toml")
    assert message in str(e.value)


# ------------------------------------------------------------------ issue 11: ULN fallback, confirmation interval,
# minimum baseline, doubling time only from a real rise

def test_blank_uln_falls_back_to_the_profile_uln_and_is_reported(run):
    """The issue's example: AFP 20 -> 60 -> 150 ng/mL with the ULN blank is progression (profile ULN
    10 ng/mL), and every blank ULN is an MK003 finding on its ULN cell."""
    s = fresh()
    set_cells(s, L, 6, Result=20, ULN=None)                           # baseline 20 on 03-07, ULN blank
    for day, v in ((A1, 60), (A2, 150)):
        copy_row(s, L, 6, Date=day, Result=v)
    result = run(s)
    assert where(result, "MK002") == ["Labs!D17"]
    assert where(result, "MK003") == ["Labs!G17", "Labs!G18", "Labs!G8"]
    (f,) = [f for f in result.findings if f.rule == "MK003" and f.cell == "G17"]
    assert "profile's ULN 10 ng/mL" in f.message


@pytest.mark.parametrize("gap, fires", [(27, False), (28, True)], ids=["27-days", "28-days"])
def test_confirmation_needs_the_profile_interval(run, gap, fires):
    """confirm_interval_days 28: a fall confirmed 27 days later is not yet a response."""
    from datetime import timedelta

    s = with_afp((A1, 600), (A1 + timedelta(days=gap), 590))
    assert where(run(s), "MK001") == (["Labs!D17"] if fires else [])


def test_a_result_in_between_that_breaks_the_criterion_breaks_the_confirmation(run):
    s = with_afp((A1, 600), (d(2025, 4, 15), 700), (A2, 590))       # 700 (-44%) in between
    assert where(run(s), "MK001") == []


@pytest.mark.parametrize("baseline, fires", [(19.9, False), (20, True)], ids=["19.9", "20"])
def test_response_needs_the_profile_minimum_baseline(run, baseline, fires):
    """min_baseline 20 ng/mL (Chan 2009): a fall from a near-normal baseline is not a response."""
    s = with_afp((A1, 9), (A2, 8))
    set_cell(s, L, 6, "Result", baseline)
    assert where(run(s), "MK001") == (["Labs!D17"] if fires else [])


@pytest.mark.parametrize("values, doubling", [
    ((1251, 1252, 1253), None),               # flat (+0.2%): the old fit gave a doubling time of years
    ((1300, 1400, 1562.9), "some"),           # +25.0% over the run (1250.3 -> 1562.9): a real rise
    ((1300, 1400, 1562.8), None),             # +24.99%
], ids=["flat", "plus-25", "plus-24.99"])
def test_doubling_time_only_from_a_real_rise(ctx_of, values, doubling):
    s = with_afp(*[(d(2025, 4, 1 + 7 * i), v) for i, v in enumerate(values)])
    (row,) = marker_summary(ctx_of(s)).filter(ONE_AFP).to_dicts()
    assert row["trend"] == "rising" and row["trend_points"] == 4
    assert (row["doubling_time_days"] is None) == (doubling is None)


def test_doubling_time_needs_three_points(ctx_of):
    s = with_afp((A1, 10), (A2, 40))                             # falling 1250 -> 10, then one rise
    (row,) = marker_summary(ctx_of(s)).filter(ONE_AFP).to_dicts()
    assert row["trend_points"] == 2 and row["doubling_time_days"] is None
