"""RECIST 1.1 on real reads (issue 16, issue 11): numbers defined or null with a reason, progression
after a complete response, equivocal new lesions, measurability, tumour markers for a CR.

Sources (Eisenhauer et al., Eur J Cancer 2009;45:228-247, section numbers; bundled profile [recist]):
  measurable_min_mm 10, slice_max_mm 5, node_target_min_mm 15, node_normal_mm 10   section 3.1.1
  PD: +20% over the nadir and +5 mm; nadir 0 mm -> the 5 mm alone                 section 4.3.1
  reappearance after a CR is PD       RECIST working group Q&A "Does a new lesion always result in PD?"
  equivocal new lesion: PD at the date first seen once confirmed                   section 4.3.5
  markers above the ULN must normalise for a CR (cr_markers AFP, window 14 days)   sections 4.3.3, 4.4
"""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import TODAY, check, copy_row, fresh, where, write
from monitor.ctcae.terms import load_terms
from monitor.labs.catalogue import load_catalogue
from monitor.rules.base import Context
from monitor.workbook.reader import read_workbook
from monitor.derive.recist import assessments, best_response, recist_table
from test_recist import BASE, day, lesion, responses, tumor


def rows(ctx) -> list[dict]:
    return assessments(ctx).filter(~pl.col("is_baseline")).sort("date").to_dicts()


# ------------------------------------------------------------------ null, never 0 or inf

def test_unmeasured_scan_has_no_sum_and_no_percentage(ctx_of):
    ctx = ctx_of(tumor((BASE, [lesion("T1", 30), lesion("NT1", status="Present")], None),
                       (day(42), [lesion("NT1", status="Present")], None)))
    (r,) = rows(ctx)
    assert r["time_point_response"] == "NE" and r["n_measured"] == 0
    assert r["sum_diameters"] is None and r["sum_measured"] is None and r["pct_from_baseline"] is None
    assert r["null_reason"] == "no target lesion measured: sum unknown"


def test_partial_scan_keeps_the_partial_sum_apart(ctx_of):
    ctx = ctx_of(tumor((BASE, [lesion("T1", 30), lesion("T2", 30)], None), (day(42), [lesion("T1", 20)], None)))
    (r,) = rows(ctx)
    assert (r["sum_diameters"], r["sum_measured"], r["pct_from_baseline"]) == (None, 20.0, None)
    assert r["null_reason"].startswith("only 1 of 2 targets measured")


def test_zero_nadir_gives_no_percentage_and_the_export_no_infinity(ctx_of):
    ctx = ctx_of(tumor((BASE, [lesion("T1", 30)], None), (day(42), [lesion("T1", 0)], None),
                       (day(84), [lesion("T1", 0)], None), (day(126), [lesion("T1", 6)], None)))
    tab = recist_table(ctx)
    floats = [c for c, t in tab.schema.items() if t == pl.Float64]
    assert not any(v is not None and not math.isfinite(v) for c in floats for v in tab[c].to_list())
    last = rows(ctx)[-1]
    assert last["pct_from_nadir"] is None and last["mm_from_nadir"] == 6.0 and "nadir 0 mm" in last["null_reason"]


# ------------------------------------------------------------------ progression after a complete response

@pytest.mark.parametrize("mm, nt_status, expected", [
    (4, "Absent", ["CR", "PD"]),       # a target back after a CR: PD whatever its size (RECIST 1.1 Q&A)
    (0, "Present", ["CR", "PD"]),      # a non-target back after a CR
    (0, "Absent", ["CR", "CR"]),
], ids=["target-4-mm-after-cr", "non-target-back-after-cr", "cr-stays-cr"])
def test_reappearance_after_cr_is_progression(ctx_of, mm, nt_status, expected):
    ctx = ctx_of(tumor((BASE, [lesion("T1", 30), lesion("NT1", status="Present")], None),
                       (day(42), [lesion("T1", 0), lesion("NT1", status="Absent")], None),
                       (day(84), [lesion("T1", mm), lesion("NT1", status=nt_status)], None)))
    assert responses(ctx) == expected
    assert rows(ctx)[-1]["reappeared_after_cr"] is (expected[-1] == "PD")


@pytest.mark.parametrize("mm, expected", [(4.9, "PR"), (5, "PD")], ids=["4.9-mm", "5-mm"])
def test_zero_nadir_without_cr_needs_5_mm(ctx_of, mm, expected):
    """Targets gone but a non-target still present (PR, not CR): 20% of 0 is 0, the 5 mm decides."""
    ctx = ctx_of(tumor((BASE, [lesion("T1", 30), lesion("NT1", status="Present")], None),
                       (day(42), [lesion("T1", 0), lesion("NT1", status="Present")], None),
                       (day(84), [lesion("T1", mm), lesion("NT1", status="Present")], None)))
    assert responses(ctx) == ["PR", expected]


def test_recist001_flags_a_contradiction_after_a_cr_instead_of_crashing(run):
    s = tumor((BASE, [lesion("T1", 30)], None), (day(42), [lesion("T1", 0)], "CR"),
              (day(84), [lesion("T1", 4)], "SD"))
    result = run(s)
    assert where(result, "WB000") == [] and where(result, "RECIST001") == ["Tumor!H4"]
    (f,) = [f for f in result.findings if f.rule == "RECIST001"]
    assert f.message == ("Investigator response 'SD' on 2025-06-02 but RECIST 1.1 gives PD (sum 4 mm, -86.7% from "
                         "baseline 30 mm, nadir 0 mm, 4 mm from it, a lesion back after a complete response).")


# ------------------------------------------------------------------ equivocal new lesions (4.3.5)

def test_equivocal_new_lesion_confirmed_later_is_progression_from_the_first_scan(ctx_of):
    ctx = ctx_of(tumor((BASE, [lesion("T1", 50)], None),
                       (day(42), [lesion("T1", 45), lesion("N1", typ="New (equivocal)", loc="Liver, segment II")], None),
                       (day(84), [lesion("T1", 45), lesion("N1", typ="New", loc="Liver, segment II")], None)))
    assert responses(ctx) == ["PD", "PD"]
    assert best_response(ctx).to_dicts()[0]["progression_date"] == day(42).date()


def test_unconfirmed_equivocal_new_lesion_is_not_progression(ctx_of):
    ctx = ctx_of(tumor((BASE, [lesion("T1", 50)], None),
                       (day(42), [lesion("T1", 45), lesion("N1", typ="New (equivocal)", loc="Liver, segment II")], None),
                       (day(84), [lesion("T1", 45)], None)))
    assert responses(ctx) == ["SD", "SD"]
    assert [r["new_equivocal"] for r in rows(ctx)] == [True, False]


def test_equivocal_is_read_from_the_cell(run):
    s = tumor((BASE, [lesion("T1", 50)], None), (day(42), [lesion("T1", 45), lesion("N1", typ="equivocal", loc="Bone")], "SD"))
    assert run(s).findings == []


# ------------------------------------------------------------------ measurability (3.1.1)

@pytest.mark.parametrize("extra, slice_mm, sum_expected", [
    (lesion("T2", 9.9, loc="Right lung"), None, 40.0),          # < 10 mm: non-target, not summed
    (lesion("T2", 10, loc="Right lung"), None, 50.0),
    (lesion("T2", 14.9, loc="Lymph node, hilar"), None, 40.0),  # node < 15 mm short axis
    (lesion("T2", 15, loc="Lymph node, hilar"), None, 55.0),
    (lesion("T2", 15.9, loc="Right lung"), 8, 40.0),            # 8 mm slices: needs 16 mm
    (lesion("T2", 16, loc="Right lung"), 8, 56.0),
], ids=["lung-9.9", "lung-10", "node-14.9", "node-15", "slice-8-lesion-15.9", "slice-8-lesion-16"])
def test_only_measurable_baseline_targets_are_summed(ctx_of, extra, slice_mm, sum_expected):
    s = tumor((BASE, [lesion("T1", 40), extra], None), (day(42), [lesion("T1", 40), extra], None))
    s["Tumor"][0].append("Slice thickness (mm)")
    for row in s["Tumor"][1:]:
        row.append(slice_mm)
    a = assessments(ctx_of(s)).sort("date").to_dicts()
    assert a[0]["sum_diameters"] == sum_expected


def test_non_measurable_target_counts_as_non_target_and_normal_node_not_at_all(ctx_of):
    small = lambda mm: lesion("T2", mm, loc="Right lung")  # noqa: E731
    ctx = ctx_of(tumor((BASE, [lesion("T1", 40), small(8), lesion("T3", 9, loc="Lymph node, hilar")], None),
                       (day(42), [lesion("T1", 0), small(0), lesion("T3", 12, loc="Lymph node, hilar")], None),
                       (day(84), [lesion("T1", 0), small(3), lesion("T3", 12, loc="Lymph node, hilar")], None)))
    (r1, r2) = rows(ctx)
    assert (r1["n_targets"], r1["n_non_targets"], r1["time_point_response"]) == (1, 1, "CR")
    assert r2["time_point_response"] == "PD"      # the small lesion back after the CR


# ------------------------------------------------------------------ tumour markers for a CR (4.3.3)

@pytest.mark.parametrize("afp_day, value, expected", [
    (day(42 - 14), 7.1, "PR"),     # 14 days before the scan, above ULN 7: not normalised
    (day(42 - 15), 7.1, "CR"),     # 15 days away: outside recist.cr_marker_window_days
    (day(42), 7, "CR"),            # at the ULN: normal
    (day(42), "<10", "CR"),        # below 10 may be normal
], ids=["14-days-above", "15-days-away", "at-uln", "below-10"])
def test_cr_needs_normal_markers(ctx_of, afp_day, value, expected):
    s = tumor((BASE, [lesion("T1", 30)], None), (day(42), [lesion("T1", 0)], None))
    copy_row(s, "Labs", 6, Date=afp_day, Result=value)
    ctx = ctx_of(s)
    assert responses(ctx) == [expected]
    assert bool(rows(ctx)[0]["markers_above_uln"]) is (expected == "PR")   # None: no result in the window


def test_export_carries_the_reasons(ctx_of):
    tab = recist_table(ctx_of(fresh()))
    assert {"sum_measured", "null_reason", "new_equivocal", "reappeared_after_cr", "markers_above_uln",
            "irecist_time_point_response", "best_overall_irecist_response"} <= set(tab.columns)
    assert not any(c.startswith("mrecist_") for c in tab.columns)   # no viable column, no mRECIST read


def test_date_helper_is_the_first_dose_offset():
    assert day(0) == datetime(2025, 3, 10)


# ------------------------------------------------------------------ profile: the new keys validated

@pytest.mark.parametrize("old, new, message", [
    ("measurable_min_mm = 10 ", "measurable_min_mm = 0 ", "recist.measurable_min_mm must be > 0"),
    ('cr_markers = ["AFP"]', 'cr_markers = ["AFPX"]', "recist.cr_markers 'AFPX' is not a lab test code"),
    ("further_increase_mm = 5 ", "further_increase_mm = -1 ", "irecist.further_increase_mm must be >= 0"),
    ("confirm_max_days = 56 ", "confirm_max_days = 20 ", "irecist.confirm_max_days must be >= irecist.confirm_min_days"),
    ("new_target_max_per_organ = 2 ", "new_target_max_per_organ = 1.5 ", "irecist.new_target_max_per_organ must be a whole"),
    ("min_viable_mm = 10 ", "min_viable = 10 ", "mrecist.min_viable_mm is missing"),
], ids=["measurable-0", "marker-unknown", "further-negative", "window-inverted", "per-organ-fraction", "viable-missing"])
def test_broken_response_settings_are_errors_naming_the_key(old, new, message):
    import tomllib

    from monitor.profile.profile import ProfileError, bundled_profiles, parse_profile

    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    assert old in text, old
    with pytest.raises(ProfileError) as e:
        parse_profile(tomllib.loads(text.replace(old, new, 1)), "p.toml")
    assert message in str(e.value)


def test_without_irecist_and_mrecist_tables_those_reads_are_not_made(tmp_path, ctx_of):
    import re

    from monitor.profile.profile import bundled_profiles, load_profile

    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    text = re.sub(r"\n\[irecist\].*?(?=\n\[)", "\n", text, flags=re.S)
    text = re.sub(r"\n\[mrecist\].*?(?=\n\[)", "\n", text, flags=re.S)
    (tmp_path / "p.toml").write_text(text)
    prof = load_profile(tmp_path / "p.toml")
    assert prof.irecist == {} and prof.mrecist == {}
    tab = recist_table(ctx_of(fresh(), prof))
    assert not any(c.startswith(("irecist_", "mrecist_", "best_overall_irecist")) for c in tab.columns)


# ------------------------------------------------------------------ RECIST001: every contradiction, nothing else

SCANS = [BASE] + [day(n) for n in (42, 84, 126, 168)]
OTHER = {"CR": "PR", "PR": "SD", "SD": "PD", "NON-CR/NON-PD": "PD", "PD": "SD"}


@st.composite
def series_with_calls(draw):
    """Random target / non-target / new-lesion series (zeros and reappearances likely); each
    follow-up's investigator call either agrees with the computed response or contradicts it."""
    n = draw(st.integers(2, 5))
    mm = st.sampled_from([0, 0, 3, 5, 12, 20, 30, 45, 60])
    scans = []
    for k in range(n):
        les = [lesion("T1", draw(mm) if k else 40), lesion("NT1", status=draw(st.sampled_from(
            ["Present", "Absent", "Absent", "Unequivocal progression"])) if k else "Present")]
        if draw(st.booleans()):
            les.append(lesion("T2", draw(mm) if k else 20, loc="Right lung"))
        if k and not draw(st.integers(0, 5)):
            les.append(lesion("N1"))
        scans.append(les)
    # the second lesion must be there at baseline to be a target: keep the shapes consistent
    has_t2 = "T2" in [x[0] for x in scans[0]]
    scans = [[x for x in s if x[0] != "T2" or has_t2] for s in scans]
    flips = [draw(st.booleans()) for _ in range(n)]
    return scans, flips


@settings(derandomize=True, max_examples=25, deadline=None, database=None)
@given(series_with_calls())
def test_recist001_flags_exactly_the_contradicting_calls(tmp_path_factory, profile, case):
    scans, flips = case
    path = tmp_path_factory.mktemp("r1") / "s.xlsx"
    plain = tumor(*[(SCANS[k], les, None) for k, les in enumerate(scans)])
    ctx = Context(read_workbook(write(path, plain), drugs=profile.drug_names), profile, load_terms(),
                  load_catalogue(), TODAY)
    computed = dict(zip(assessments(ctx)["date"].to_list(), assessments(ctx)["time_point_response"].to_list()))
    calls, expected = [], []
    for k, les in enumerate(scans):
        resp = computed.get(SCANS[k].date())
        if k == 0 or resp is None:
            calls.append(None)
            continue
        if resp == "NE":
            calls.append("PR")                     # an NE time point is not compared
            continue
        call = OTHER[resp] if flips[k] else ("SD" if resp == "NON-CR/NON-PD" else resp)
        calls.append(call)
        if flips[k]:
            expected.append(SCANS[k].strftime("%Y-%m-%d"))
    s = tumor(*[(SCANS[k], les, calls[k]) for k, les in enumerate(scans)])
    result = check(write(tmp_path_factory.mktemp("r1b") / "s.xlsx", s), profile)
    flagged = sorted(f.message.split(" on ")[1][:10] for f in result.findings if f.rule == "RECIST001")
    assert [f for f in result.findings if f.rule == "WB000"] == []
    assert flagged == sorted(expected)


def test_a_profile_written_before_the_new_keys_gets_the_recist_values():
    """measurable_min_mm 10, slice_max_mm 5, node_target_min_mm 15 (RECIST 1.1 3.1.1); no markers named."""
    import re
    import tomllib

    from monitor.profile.profile import bundled_profiles, parse_profile

    # the seed profile's [recist] without the keys added for measurability and CR markers
    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    old = re.sub(r"(?m)^(measurable_min_mm|slice_max_mm|node_target_min_mm|cr_markers)\s*=.*$", "", text)
    assert old != text
    r = parse_profile(tomllib.loads(old), "old.toml").recist
    assert (r["measurable_min_mm"], r["slice_max_mm"], r["node_target_min_mm"], r["cr_markers"]) == (10, 5, 15, [])
