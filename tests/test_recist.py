"""RECIST 1.1 (RECIST rules, monitor.derive.recist): time-point responses by the RECIST 1.1 tables
at every threshold, best overall response with confirmation, structural checks, the export.

Sources (bundled profile [recist]; Eisenhauer et al., Eur J Cancer 2009;45:228-247):
  pr_decrease_pct 30, pd_increase_pct 20, pd_min_increase_mm 5, node_normal_mm 10   section 4.3.1
  max_targets 5, max_targets_per_organ 2                                           section 4.2
  baseline_max_days 28                                                             section 3.2
  confirm_min_days 28 (CR/PR confirmed >= 4 weeks later), confirm_max_ne 1          section 4.6
  sd_min_days 42 (SD counts for the best response only >= 6 weeks after first dose) 4.4.3 / protocol
The tumour data below is subject 1001 of the valid study (first dose 2025-03-10), replaced case by case.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from builders import TODAY, check, fresh, where, write
from monitor.derive.recist import assessments, best_response, recist_table
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import ProfileError, bundled_profiles, load_profile, parse_profile

T = "Tumor"
HEADER = ["Subject ID", "Date", "Lesion ID", "Lesion type", "Location", "Diameter (mm)", "Non-target status",
          "Investigator response"]
FIRST_DOSE = date(2025, 3, 10)
BASE = datetime(2025, 3, 5)


def day(n: int) -> datetime:
    """n days after the first dose."""
    return datetime(2025, 3, 10) + timedelta(days=n)


def lesion(lid, mm=None, status=None, typ=None, loc=None):
    typ = typ or ("Target" if status is None and not lid.startswith(("NT", "N")) else
                  "New" if lid.startswith("N") and not lid.startswith("NT") else "Non-target")
    loc = loc or {"Target": f"Liver, segment {lid}", "Non-target": "Portal vein", "New": "Bone"}[typ]
    return (lid, typ, loc, mm, status)


def tumor(*scans, subject=1001) -> dict:
    """The valid study with its Tumor sheet replaced: scans = (date, [lesion(...)], response)."""
    s = fresh()
    rows = [list(HEADER)]
    for when, lesions, resp in scans:
        for lid, typ, loc, mm, status in lesions:
            rows.append([subject, when, lid, typ, loc, mm, status, resp])
    s[T] = rows
    return s


def responses(ctx) -> list:
    a = assessments(ctx).filter(~pl.col("is_baseline")).sort("date")
    return a["time_point_response"].to_list()


# ------------------------------------------------------------------ time-point response (tables 1, 2)

TP_CASES = [
    # id, baseline lesions, follow-up lesions, expected time-point response, comment
    ("pr-minus-30", [lesion("T1", 60), lesion("T2", 40)], [lesion("T1", 40), lesion("T2", 30)], "PR",
     "100 -> 70 mm: exactly -30%"),
    ("sd-minus-29.9", [lesion("T1", 60), lesion("T2", 40)], [lesion("T1", 40.1), lesion("T2", 30)], "SD", ""),
    ("pd-plus-20-and-5mm", [lesion("T1", 60), lesion("T2", 40)], [lesion("T1", 72), lesion("T2", 48)], "PD",
     "100 -> 120: +20%, +20 mm"),
    ("sd-plus-19.9", [lesion("T1", 60), lesion("T2", 40)], [lesion("T1", 71.9), lesion("T2", 48)], "SD", ""),
    ("sd-plus-20-but-4mm", [lesion("T1", 20)], [lesion("T1", 24)], "SD", "20 -> 24: +20% but only +4 mm"),
    ("pd-plus-25-and-5mm", [lesion("T1", 20)], [lesion("T1", 25)], "PD", "+5 mm: both criteria met"),
    ("cr-nodes-below-10", [lesion("T1", 20), lesion("T2", 15, loc="Lymph node, portocaval")],
     [lesion("T1", 0), lesion("T2", 9.9, loc="Lymph node, portocaval")], "CR", "node short axis < 10 mm"),
    ("pr-node-at-10", [lesion("T1", 20), lesion("T2", 15, loc="Lymph node, portocaval")],
     [lesion("T1", 0), lesion("T2", 10, loc="Lymph node, portocaval")], "PR", "a 10 mm node is not normal"),
    ("cr-targets-non-target-present", [lesion("T1", 20), lesion("NT1", status="Present")],
     [lesion("T1", 0), lesion("NT1", status="Present")], "PR", "table 1: CR + non-CR/non-PD = PR"),
    ("cr-targets-non-target-absent", [lesion("T1", 20), lesion("NT1", status="Present")],
     [lesion("T1", 0), lesion("NT1", status="Absent")], "CR", ""),
    ("cr-targets-non-target-not-assessed", [lesion("T1", 20), lesion("NT1", status="Present")],
     [lesion("T1", 0), lesion("NT1", typ="Non-target")], "PR", "table 1: CR + NE = PR"),
    ("target-missing-ne", [lesion("T1", 30), lesion("T2", 30)], [lesion("T1", 30)], "NE", ""),
    ("target-missing-but-pd", [lesion("T1", 30), lesion("T2", 30)], [lesion("T1", 75)], "PD",
     "the measured lesion alone is +25% / +15 mm over the 60 mm nadir"),
    ("new-lesion", [lesion("T1", 60)], [lesion("T1", 30), lesion("N1")], "PD", "a new lesion is PD"),
    ("unequivocal-progression", [lesion("T1", 60), lesion("NT1", status="Present")],
     [lesion("T1", 30), lesion("NT1", status="Unequivocal progression")], "PD", ""),
    ("non-target-only-present", [lesion("NT1", status="Present")], [lesion("NT1", status="Present")],
     "NON-CR/NON-PD", "table 2"),
    ("non-target-only-absent", [lesion("NT1", status="Present")], [lesion("NT1", status="Absent")], "CR", ""),
]


@pytest.mark.parametrize("base, follow, expected", [c[1:4] for c in TP_CASES], ids=[c[0] for c in TP_CASES])
def test_time_point_response(ctx_of, base, follow, expected):
    ctx = ctx_of(tumor((BASE, base, None), (day(42), follow, None)))
    assert responses(ctx) == [expected]


def test_pd_is_measured_from_the_nadir_not_the_baseline(ctx_of):
    """50 -> 30 (PR, nadir) -> 36: +20% and +6 mm over the nadir although -28% from baseline."""
    ctx = ctx_of(tumor((BASE, [lesion("T1", 50)], None), (day(42), [lesion("T1", 30)], None),
                       (day(105), [lesion("T1", 36)], None)))
    assert responses(ctx) == ["PR", "PD"]
    a = assessments(ctx).sort("date").to_dicts()[-1]
    assert (a["nadir_sum"], a["mm_from_nadir"]) == (30.0, 6.0) and a["pct_from_nadir"] == pytest.approx(20.0)
    assert a["pct_from_baseline"] == pytest.approx(-28.0)


def test_incomplete_assessment_is_not_a_nadir(ctx_of):
    """A scan with a target missing (NE) does not lower the nadir."""
    ctx = ctx_of(tumor((BASE, [lesion("T1", 30), lesion("T2", 30)], None),
                       (day(42), [lesion("T1", 10)], None),
                       (day(105), [lesion("T1", 36), lesion("T2", 36)], None)))
    assert responses(ctx) == ["NE", "PD"]
    assert assessments(ctx).sort("date")["nadir_sum"].to_list()[-1] == 60.0


def test_thresholds_come_from_the_profile(tmp_path, ctx_of):
    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8").replace(
        "pr_decrease_pct = 30 ", "pr_decrease_pct = 20 ", 1)
    (tmp_path / "p.toml").write_text(text)
    prof = load_profile(tmp_path / "p.toml")
    s = tumor((BASE, [lesion("T1", 100)], None), (day(42), [lesion("T1", 75)], None))
    assert responses(ctx_of(s)) == ["SD"] and responses(ctx_of(s, prof)) == ["PR"]


# ------------------------------------------------------------------ best overall response (table 3)

def _series(*points):
    """Target T1 at baseline 100 mm, then (days after first dose, mm or None for a missing lesion)."""
    scans = [(BASE, [lesion("T1", 100), lesion("T2", 50)], None)]
    for n, mm in points:
        scans.append((day(n), [lesion("T1", mm), lesion("T2", 50)] if mm is not None else [lesion("T2", 50)], None))
    return tumor(*scans)


@pytest.mark.parametrize("points, bor, confirmed", [
    (((42, 40), (70, 40)), "PR", True),            # PR, PR 28 days later: confirmed (section 4.6)
    (((42, 40), (69, 40)), "SD", False),           # 27 days: not confirmed; day 42 counts as SD
    (((42, 40), (56, None), (84, 40)), "PR", True),  # one NE in between is allowed (confirm_max_ne 1)
    (((42, 40), (56, None), (63, None), (84, 40)), "SD", False),  # two NE: not confirmed
    (((42, 40), (56, 56), (84, 40)), "SD", False),  # SD in between (106 mm: -29%, +18% over 90) breaks it
    (((42, 0), (70, 0)), "PR", True),              # targets gone, T2 still 50: PR (not CR)
    (((41, 90), (84, 200)), "PD", False),          # SD on day 41 (< 42) then PD
    (((42, 90), (84, 200)), "SD", False),          # SD on day 42 counts
    (((41, 90),), "NE", False),                    # only an early SD
], ids=["pr-28d", "pr-27d", "one-ne-between", "two-ne-between", "sd-between", "pr-zero-targets",
        "sd-day-41-then-pd", "sd-day-42-then-pd", "early-sd-only"])
def test_best_overall_response(ctx_of, points, bor, confirmed):
    b = best_response(ctx_of(_series(*points))).to_dicts()[0]
    assert (b["best_overall_response"], b["response_confirmed"]) == (bor, confirmed)


def test_complete_response_confirmation(ctx_of):
    s = tumor((BASE, [lesion("T1", 30)], None), (day(42), [lesion("T1", 0)], None),
              (day(70), [lesion("T1", 0)], None))
    b = best_response(ctx_of(s)).to_dicts()[0]
    assert (b["best_overall_response"], b["best_response_date"]) == ("CR", day(42).date())
    s = tumor((BASE, [lesion("T1", 30)], None), (day(42), [lesion("T1", 0)], None),
              (day(70), [lesion("T1", 4)], None))          # 4 mm: back after a CR (RECIST 1.1 Q&A): PD
    assert responses(ctx_of(s)) == ["CR", "PD"]
    assert best_response(ctx_of(s)).to_dicts()[0]["best_overall_response"] == "SD"   # unconfirmed CR, then PD


def test_duration_of_response_and_progression_date(ctx_of):
    b = best_response(ctx_of(_series((42, 40), (70, 40), (140, 60)))).to_dicts()[0]
    assert b["progression_date"] == day(140).date() and b["response_date"] == day(42).date()
    assert b["duration_of_response_days"] == 98 + 1 and b["duration_of_response_censored"] is False
    b = best_response(ctx_of(_series((42, 40), (70, 40), (126, 45)))).to_dicts()[0]
    assert b["progression_date"] is None and b["duration_of_response_censored"] is True
    assert b["duration_of_response_days"] == 84 + 1


def test_responses_after_progression_do_not_count(ctx_of):
    b = best_response(ctx_of(_series((42, 200), (84, 40), (112, 40)))).to_dicts()[0]
    assert b["best_overall_response"] == "PD"


# ------------------------------------------------------------------ RECIST001 investigator response

def test_investigator_response_reported_on_the_first_row_carrying_it(run):
    s = tumor((BASE, [lesion("T1", 60), lesion("NT1", status="Present")], None),
              (datetime(2025, 5, 12), [lesion("T1", 50), lesion("NT1", status="Present")], "SD"))
    s[T][3][7] = "PR"                        # T1's row (row 4) says PR, NT1's SD: only the PR disagrees
    result = run(s)
    assert where(result, "RECIST001") == ["Tumor!H4"]
    (f,) = [f for f in result.findings if f.rule == "RECIST001"]
    assert f.message == ("Investigator response 'PR' on 2025-05-12 but RECIST 1.1 gives SD (sum 50 mm, "
                         "-16.7% from baseline 60 mm, -16.7% from nadir 60 mm, non-target NON-CR/NON-PD).")


def test_not_evaluable_assessment_is_not_compared(run):
    s = tumor((BASE, [lesion("T1", 60), lesion("T2", 40)], None), (datetime(2025, 5, 12), [lesion("T1", 10)], "PR"))
    result = run(s)
    assert where(result, "RECIST001") == [] and where(result, "RECIST004") == ["Tumor!C4"]


# ------------------------------------------------------------------ RECIST002 / 003 target selection

def test_lymph_nodes_are_one_organ_and_lungs_too(run):
    base = [lesion("T1", 20, loc="Lymph node, hilar"), lesion("T2", 20, loc="Portocaval lymph node"),
            lesion("T3", 20, loc="Mediastinal nodes"), lesion("T4", 20, loc="Right lung"),
            lesion("T5", 20, loc="Lung, left upper lobe"), lesion("T6", 20, loc="left lung")]
    result = run(tumor((BASE, base, None), (datetime(2025, 5, 12), base, "SD")))
    assert where(result, "RECIST003") == ["Tumor!E4", "Tumor!E7"]
    assert where(result, "RECIST002") == ["Tumor!D7"]


def test_targets_of_later_scans_are_not_counted(run):
    organs = ("Liver", "Lung", "Bone", "Spleen", "Kidney", "Adrenal gland")
    base = [lesion(f"T{i}", 20, loc=organs[i - 1]) for i in range(1, 6)]
    later = base + [lesion("T6", 20, loc=organs[5])]
    assert where(run(tumor((BASE, base, None), (datetime(2025, 5, 12), later, "SD"))), "RECIST002") == []


# ------------------------------------------------------------------ RECIST004 lesions not followed

def test_each_missing_lesion_is_its_own_finding(run):
    s = tumor((BASE, [lesion("T1", 30), lesion("T2", 30), lesion("NT1", status="Present")], None),
              (datetime(2025, 5, 12), [lesion("T1", 30)], "SD"))
    result = run(s)
    assert where(result, "RECIST004") == ["Tumor!C5", "Tumor!C5"]
    assert len({f.id for f in result.findings if f.rule == "RECIST004"}) == 2


def test_non_target_status_not_required_without_the_column(run):
    s = tumor((BASE, [lesion("T1", 30), lesion("NT1", status="Present")], None),
              (datetime(2025, 5, 12), [lesion("T1", 30), lesion("NT1", typ="Non-target")], "SD"))
    assert where(run(s), "RECIST004") == ["Tumor!G5"]
    for row in s[T]:
        del row[6]
    assert where(run(s), "RECIST004") == []


# ------------------------------------------------------------------ RECIST005 baseline window

@pytest.mark.parametrize("scan, at", [
    (datetime(2025, 2, 10), []),              # 28 days before the first dose (2025-03-10)
    (datetime(2025, 2, 9), ["Tumor!B2"]),     # 29 days
    (datetime(2025, 3, 10), []),              # on the first-dose day
    (datetime(2025, 3, 11), ["Tumor!B2"]),    # after it: no baseline
], ids=["28-days", "29-days", "same-day", "day-after"])
def test_baseline_window_boundaries(run, scan, at):
    s = tumor((scan, [lesion("T1", 30)], None), (datetime(2025, 5, 12), [lesion("T1", 30)], "SD"))
    assert where(run(s), "RECIST005") == at


# ------------------------------------------------------------------ gating and export

def test_recist_rules_not_evaluated_without_the_tumor_sheet(run):
    s = fresh()
    del s[T]
    result = run(s)
    gated = {c for c, _ in result.not_evaluated}
    assert {"RECIST001", "RECIST002", "RECIST003", "RECIST004", "RECIST005"} <= gated
    assert result.findings == []


def test_investigator_column_missing_gates_only_recist001(run):
    s = fresh()
    for row in s[T]:
        del row[7]
    result = run(s)
    gated = {c for c, _ in result.not_evaluated}
    assert "RECIST001" in gated and not {"RECIST002", "RECIST004", "RECIST005"} & gated
    assert result.findings == []


def test_recist_table_columns(ctx_of):
    tab = recist_table(ctx_of(fresh()))
    assert tab["row"].to_list() == [2, 4]
    r = tab.to_dicts()[1]
    assert (r["sum_diameters"], r["baseline_sum"], r["time_point_response"], r["investigator_response"]) == \
        (38.0, 45.0, "SD", "SD")
    assert r["best_overall_response"] == "SD" and r["days_from_first_dose"] == 63


def test_export_writes_the_protocol_tables(tmp_path, written):
    import subprocess
    import sys

    out = tmp_path / "exp"
    p = subprocess.run([sys.executable, "-m", "monitor", "export", str(written(fresh())), "--out", str(out)],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    for name in ("dosing", "markers", "recist"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    dosing = pl.read_parquet(out / "dosing.parquet")
    assert {"row", "subject", "drug", "dose_mg", "expected_dose", "dose_intensity", "hold_rule_text"} <= set(dosing.columns)
    assert dosing.height == 10
    recist = pl.read_parquet(out / "recist.parquet")
    assert recist["best_overall_response"].to_list() == ["SD", "SD"]
    markers = pl.read_parquet(out / "markers.parquet")
    assert set(markers["marker"].to_list()) == {"AFP"} and "marker_response" in markers.columns


def test_build_tables_takes_the_profile_of_the_check(tmp_path, written, profile):
    from monitor.export import build_tables

    result = check(written(fresh()), profile)
    tables = build_tables(result, load_catalogue(), profile)
    assert {"dosing", "markers", "recist", "labs", "findings"} <= set(tables)
    assert build_tables(result, load_catalogue())["dosing"].equals(tables["dosing"])


# ------------------------------------------------------------------ profile: [recist] validated

@pytest.mark.parametrize("old, new, message", [
    ("pr_decrease_pct = 30 ", "pr_decrease_pct = 0 ", "recist.pr_decrease_pct must be > 0 and <= 100, found 0"),
    ("max_targets = 5 ", "max_targets = 0 ", "recist.max_targets must be >= 1, found 0"),
    ("confirm_min_days = 28 ", "confirm_min_days = 27.5 ", "recist.confirm_min_days must be a whole number"),
    ("sd_min_days = 42 ", "sd_min = 42 ", "recist.sd_min_days is missing"),
    ("node_normal_mm = 10 ", 'node_normal_mm = "10" ', "recist.node_normal_mm must be a number"),
    ("[recist]", "[recist_settings]", "profile file.recist_settings is not a known table; did you mean [recist]?"),
])
def test_broken_recist_settings_are_errors_naming_the_key(old, new, message):
    import tomllib

    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    assert old in text, old
    with pytest.raises(ProfileError) as e:
        parse_profile(tomllib.loads(text.replace(old, new, 1)), "p.toml")
    assert message in str(e.value)
