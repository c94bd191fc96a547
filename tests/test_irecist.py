"""iRECIST (monitor.derive.irecist) and mRECIST (monitor.derive.mrecist) as second response reads.

iRECIST: Seymour et al., Lancet Oncol 2017;18:e143-e152 (table 2: time-point response with and
without a previous iUPD; new lesions; confirmation) and the RECIST working group's iRECIST Q&A
(recist.eortc.org: "sequential increases are additive"; scans < 4 weeks after iUPD do not confirm).
Profile [irecist]: confirm_min_days 28, further_increase_mm 5, new_target_max 5, new_target_max_per_organ 2.
mRECIST: Lencioni & Llovet, Semin Liver Dis 2010;30:52-60, table 1. Profile [mrecist]:
min_viable_mm 10, pr_decrease_pct 30, pd_increase_pct 20, pd_min_increase_mm 0.
First dose 2025-03-10 (day 0); baseline scan BASE.
"""

from __future__ import annotations

import polars as pl
import pytest

from monitor.derive.irecist import irecist_assessments, irecist_best
from monitor.derive.mrecist import mrecist_assessments, mrecist_best
from monitor.derive.recist import best_response, recist_table
from test_recist import BASE, day, lesion, responses, tumor

T1 = lambda mm: lesion("T1", mm)  # noqa: E731
NT = lambda status: lesion("NT1", status=status)  # noqa: E731
NEW = lambda lid, mm=None, loc="Bone, rib", status=None: (lid, "New", loc, mm, status)  # noqa: E731


def iread(ctx) -> list:
    a = irecist_assessments(ctx).filter(~pl.col("is_baseline")).sort("date")
    return a["irecist_response"].to_list()


def series(*scans, base=(T1(50), NT("Present"))):
    """Baseline, then (day, lesions) scans."""
    return tumor((BASE, list(base), None), *[(day(n), list(les), None) for n, les in scans])


# ------------------------------------------------------------------ pseudo-progression, reset

def test_pseudo_progression_iupd_then_ipr(ctx_of):
    """50 -> 61 (+22%, +11 mm: iUPD) -> 34 (-32%: iPR, the bar is reset) -> 33 (iPR confirmed)."""
    ctx = ctx_of(series((42, [T1(61), NT("Present")]), (84, [T1(34), NT("Present")]), (126, [T1(33), NT("Present")])))
    assert iread(ctx) == ["iUPD", "iPR", "iPR"]
    assert responses(ctx) == ["PD", "PR", "PR"]
    assert best_response(ctx).to_dicts()[0]["best_overall_response"] == "PD"          # RECIST 1.1 stops at PD
    b = irecist_best(ctx).to_dicts()[0]
    assert (b["best_overall_response"], b["best_response_date"], b["icpd_date"]) == ("iPR", day(84).date(), None)


def test_reset_makes_a_new_iupd_that_needs_its_own_confirmation(ctx_of):
    """iUPD (61) -> iSD (48) -> iUPD again (60: +25% over the nadir 48) -> 64 (+4 mm over the second
    iUPD, +3 over the first: no iCPD) -> 65 (+5 over the second iUPD: iCPD)."""
    ctx = ctx_of(series((42, [T1(61), NT("Present")]), (84, [T1(48), NT("Present")]),
                        (126, [T1(60), NT("Present")]), (168, [T1(64), NT("Present")]), (210, [T1(65), NT("Present")])))
    assert iread(ctx) == ["iUPD", "iSD", "iUPD", "iUPD", "iCPD"]
    assert irecist_best(ctx).to_dicts()[0]["icpd_date"] == day(210).date()


# ------------------------------------------------------------------ confirmation of iUPD (table 2)

@pytest.mark.parametrize("second, gap, expected", [
    (66, 28, "iCPD"),      # +5 mm from the iUPD (61), 28 days later
    (65.9, 28, "iUPD"),    # +4.9 mm: remains iUPD
    (80, 27, "iUPD"),      # 27 days: too early to confirm, however large
    (40, 28, "iSD"),       # shrank: no progression in any category -> reset (-20% from 50: SD)
], ids=["plus-5-mm", "plus-4.9-mm", "27-days", "shrank"])
def test_target_iupd_confirmation_boundaries(ctx_of, second, gap, expected):
    ctx = ctx_of(series((42, [T1(61), NT("Present")]), (42 + gap, [T1(second), NT("Present")])))
    assert iread(ctx) == ["iUPD", expected]


def test_increases_add_up_over_assessments(ctx_of):
    """61 (iUPD) -> 64 (+3) -> 66 (+5 in all from the iUPD): iCPD (Q&A: sequential increases are additive)."""
    ctx = ctx_of(series((42, [T1(61), NT("Present")]), (84, [T1(64), NT("Present")]), (126, [T1(66), NT("Present")])))
    assert iread(ctx) == ["iUPD", "iUPD", "iCPD"]


def test_icpd_stays(ctx_of):
    ctx = ctx_of(series((42, [T1(61), NT("Present")]), (84, [T1(70), NT("Present")]), (126, [T1(30), NT("Present")])))
    assert iread(ctx) == ["iUPD", "iCPD", "iCPD"]
    assert irecist_best(ctx).to_dicts()[0]["best_overall_response"] == "iCPD"


@pytest.mark.parametrize("second, expected", [
    ("Further increase", "iCPD"),            # non-target iUPD confirmed by a further increase
    ("Unequivocal progression", "iUPD"),     # the same progression again: remains iUPD
], ids=["further-increase", "unchanged"])
def test_non_target_iupd(ctx_of, second, expected):
    ctx = ctx_of(series((42, [T1(45), NT("Unequivocal progression")]), (84, [T1(45), NT(second)])))
    assert iread(ctx) == ["iUPD", expected]


@pytest.mark.parametrize("second, expected", [
    ([NEW("N1", 20)], "iUPD"),                               # the same new lesion, unchanged
    ([NEW("N1", 24.9)], "iUPD"),                             # new-lesion target sum +4.9 mm
    ([NEW("N1", 25)], "iCPD"),                               # +5 mm
    ([NEW("N1", 20), NEW("N2", 4, loc="Lung")], "iCPD"),     # another new lesion (any size)
], ids=["unchanged", "plus-4.9", "plus-5", "another-new-lesion"])
def test_new_lesion_iupd(ctx_of, second, expected):
    ctx = ctx_of(series((42, [T1(45), NT("Present"), NEW("N1", 20)]), (84, [T1(45), NT("Present"), *second])))
    assert iread(ctx) == ["iUPD", expected]


def test_a_category_newly_progressing_confirms(ctx_of):
    """Target iUPD, then a first new lesion at the next assessment: iCPD (table 2, new lesions: yes)."""
    ctx = ctx_of(series((42, [T1(61), NT("Present")]), (84, [T1(61), NT("Present"), NEW("N1", 8)])))
    assert iread(ctx) == ["iUPD", "iCPD"]


def test_new_lesion_targets_two_per_organ(ctx_of):
    """Three new liver lesions: the third is a new non-target, its growth is not summed."""
    liver = lambda lid, mm: NEW(lid, mm, loc=f"Liver, segment {lid}")  # noqa: E731
    ctx = ctx_of(series((42, [T1(45), NT("Present"), liver("N1", 20), liver("N2", 15), liver("N3", 12)]),
                        (84, [T1(45), NT("Present"), liver("N1", 20), liver("N2", 15), liver("N3", 30)])))
    a = irecist_assessments(ctx).filter(~pl.col("is_baseline")).sort("date").to_dicts()
    assert [r["new_lesion_target_sum"] for r in a] == [35.0, 35.0]
    assert iread(ctx) == ["iUPD", "iUPD"]


def test_small_new_lesion_is_not_a_new_lesion_target(ctx_of):
    ctx = ctx_of(series((42, [T1(45), NT("Present"), NEW("N1", 9.9)]), (84, [T1(45), NT("Present"), NEW("N1", 16)])))
    assert irecist_assessments(ctx)["new_lesion_target_sum"].to_list()[-1] is None
    assert iread(ctx) == ["iUPD", "iUPD"]


def test_doses_after_iupd_and_icpd_are_counted(ctx_of):
    """First dose 03-10, second 03-31; iUPD on 03-24 (day 14): one dose beyond progression."""
    ctx = ctx_of(series((14, [T1(61), NT("Present")])))
    b = irecist_best(ctx).to_dicts()[0]
    assert (b["first_iupd_date"], b["doses_after_iupd"], b["doses_after_icpd"]) == (day(14).date(), 2, 0)


# ------------------------------------------------------------------ mRECIST (viable tumour)

def viable(*scans, extra=()):
    """T1 liver target with (diameter, viable) per scan; baseline first."""
    s = tumor(*[(BASE if i == 0 else day(n), [lesion("T1", mm), *extra], None)
                for i, (n, mm, _) in enumerate(scans)])
    s["Tumor"][0].append("Viable diameter (mm)")
    vs = [v for _, _, v in scans]
    for k, row in enumerate(s["Tumor"][1:]):
        row.append(vs[k // (1 + len(extra))] if row[2] == "T1" else None)
    return s


def mread(ctx) -> list:
    return mrecist_assessments(ctx).filter(~pl.col("is_baseline")).sort("date")["response"].to_list()


@pytest.mark.parametrize("v1, expected", [(0, "CR"), (35, "PR"), (35.1, "SD"), (60, "PD"), (59.9, "SD")],
                         ids=["no-enhancement", "minus-30", "minus-29.8", "plus-20", "plus-19.8"])
def test_mrecist_target_response(ctx_of, v1, expected):
    ctx = ctx_of(viable((0, 60, 50), (42, 60, v1)))
    assert mread(ctx) == [expected] and responses(ctx) == ["SD"]   # RECIST 1.1: 60 mm unchanged


def test_mrecist_has_no_5_mm_minimum(ctx_of):
    """Viable nadir 10 -> 12 mm: +20%, only 2 mm -- PD by mRECIST (no absolute minimum)."""
    ctx = ctx_of(viable((0, 60, 12), (42, 60, 10), (84, 60, 12)))
    assert mread(ctx) == ["SD", "PD"]


def test_mrecist_targets_need_10_mm_of_enhancement(ctx_of):
    ctx = ctx_of(viable((0, 60, 9.9), (42, 60, 0)))
    assert mrecist_assessments(ctx)["n_targets"].to_list() == [0, 0] and mread(ctx) == [None]


def test_mrecist_in_the_export_and_best_response(ctx_of):
    ctx = ctx_of(viable((0, 60, 50), (42, 60, 0), (84, 60, 0)))
    assert mrecist_best(ctx).to_dicts()[0]["best_overall_response"] == "CR"
    tab = recist_table(ctx)
    assert tab["mrecist_time_point_response"].to_list() == [None, "CR", "CR"]
    assert tab["mrecist_best_overall_response"].to_list() == ["CR"] * 3


# ------------------------------------------------------------------ the report's response view

def test_report_shows_treatment_beyond_progression(ctx_of):
    from monitor.report.view_response import computed_sums, response_rows, response_summary

    ctx = ctx_of(series((14, [T1(61), NT("Present")]), (42, [T1(66), NT("Present")])))
    tables = {"recist": recist_table(ctx)}
    rows = response_rows(tables, "1001")
    assert [(r.recist, r.irecist, r.css) for r in rows] == [("", "", ""), ("PD", "iUPD", "beyond"),
                                                           ("PD", "iCPD", "confirmed")]
    assert rows[2].note == "progression confirmed: treatment ends"
    assert response_summary(tables, "1001") == {
        "Best overall response (iRECIST)": "iCPD",
        "Treatment beyond progression": "2 administrations after the first iUPD (24-MAR-2025); iCPD 21-APR-2025, "
                                        "0 after it"}
    assert computed_sums(tables, "1001") == {BASE.date(): 50.0, day(14).date(): 61.0, day(42).date(): 66.0}
    assert response_rows({}, "1001") == [] and response_summary({}, "1001") == {}
