"""Study design in the profile (issue 12): arms with drugs and dose levels by cycle, placebo,
continuous daily dosing, and optional sections whose rules are "not evaluated", never a finding.
The CDISC pilot (cdisc_pilot profile, builders.pilot_study) is the study without tumours,
markers, weights or hold rules; the bundled seed study must behave as before."""

from __future__ import annotations

import tomllib

import pytest

from builders import PILOT_PROFILE, delete_column, pilot_study, set_cell, set_cells, where
from builders import d as d_
from monitor.derive.exposure import administrations, exposure
from monitor.profile.profile import ProfileError, bundled_profiles, load_profile, parse_profile


@pytest.fixture(scope="module")
def pilot():
    return load_profile(PILOT_PROFILE)


def _text(name: str) -> str:
    return bundled_profiles()[name].read_text("utf-8")


def _parse(text: str):
    return parse_profile(tomllib.loads(text), "p.toml")


# ------------------------------------------------------------------ the pilot profile loads as the study is

def test_pilot_profile_describes_three_arms_placebo_and_a_titrated_high_dose(pilot):
    assert [a.name for a in pilot.arms] == ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose",
                                             "Screen Failure"]
    placebo = next(d for d in pilot.drugs if d.name == "Placebo")
    assert placebo.placebo and placebo.dose == 0.0
    hi = pilot.arm("Xan_Hi").drug("Xanomeline")
    assert [hi.dose_at(c) for c in (1, 2, 3, 4)] == [54, 81, 54, 54]     # EX: BASELINE, WEEK 2, WEEK 24
    assert hi.dose_at(None) is None and pilot.arm("xan lo").drug("Xanomeline").dose_at(None) == 54
    assert pilot.continuous and "cycle_days" not in pilot.schedule
    assert not pilot.has("recist") and not pilot.has("markers") and not pilot.has("hold_rules")
    assert pilot.related_drug_names == ("Xanomeline",)                   # no "Related to Placebo" column
    assert pilot.drugs_for("Pbo") == ("Placebo",) and pilot.drugs_for("Screen Failure") == ()


def test_pilot_study_has_no_findings_and_only_the_absent_sections_are_not_evaluated(run):
    result = run(pilot_study(), prof=PILOT_PROFILE)
    assert [(f.rule, f.where, f.message) for f in result.findings] == []
    why = dict(result.not_evaluated)
    for code in ("DOSE001", "DOSE009"):
        assert why[code] == "the study has no schedule.cycle_days in its profile"
    assert "schedule.predose_lab_days" in why["DOSE004"]
    assert "schedule.weight_change_pct" in why["DOSE003"]
    assert "[[hold_rules]]" in why["DOSE005"]
    assert {c for c in why if c.startswith(("MK", "RECIST"))} == {"MK001", "MK002", "MK003", *(f"RECIST00{i}" for i in range(1, 8))}
    # the design rules and the dose check ran
    assert not {"WB211", "DOSE012", "DOSE002", "DOSE006", "DOSE007", "DOSE008"} & set(why)


def test_pilot_planned_doses_follow_arm_and_period(ctx_of, pilot):
    adm = administrations(ctx_of(pilot_study(), pilot)).sort("row")
    assert adm["arm"].to_list() == ["Placebo"] * 3 + ["Xanomeline High Dose"] * 3 + ["Xanomeline Low Dose"]
    assert adm["protocol_dose"].to_list() == [0, 0, 0, 54, 81, 54, 54]
    assert adm["dose_deviation_pct"].to_list() == [None, None, None, 0, 0, 0, 0]   # placebo: nothing to deviate from


def test_continuous_dose_intensity_over_the_days_of_each_period_and_none_for_placebo(ctx_of, pilot):
    ex = {r["subject"]: r for r in exposure(ctx_of(pilot_study(), pilot)).to_dicts()}
    p = ex["01-701-1015"]
    assert p["dose_intensity"] is None and p["cumulative_dose_mg"] == 0
    assert p["exposure_days"] == 182                       # 2014-01-02 .. 2014-07-02 (EX day 1 .. 182)
    h = ex["01-701-1028"]
    assert h["exposure_days"] == 180 and h["dose_intensity"] == pytest.approx(1.0)
    assert h["cumulative_dose_mg"] == 54 * 14 + 81 * 158 + 54 * 8


def test_continuous_dose_intensity_counts_a_lower_dose_period(ctx_of, pilot):
    s = pilot_study()
    set_cell(s, "Cycles", 4, "Dose", 54)                    # 1028 period 2 at 54 instead of 81 mg
    h = next(r for r in exposure(ctx_of(s, pilot)).to_dicts() if r["subject"] == "01-701-1028")
    planned = 54 * 14 + 81 * 158 + 54 * 8
    assert h["dose_intensity"] == pytest.approx((54 * 14 + 54 * 158 + 54 * 8) / planned)


def test_open_last_period_leaves_exposure_unknown_not_zero(ctx_of, pilot):
    s = pilot_study()
    set_cell(s, "Cycles", 6, "End date", None)              # 1033's only period, still going
    e = next(r for r in exposure(ctx_of(s, pilot)).to_dicts() if r["subject"] == "01-701-1033")
    assert e["exposure_days"] is None and e["dose_intensity"] is None


@pytest.mark.parametrize("dose, fires", [(54, False), (54.5, True), (53.99, True)])
def test_tolerance_zero_is_exact_for_a_fixed_strength_patch(run, dose, fires):
    """schedule.dose_tolerance_pct = 0 (cdisc_pilot): at the level, just above, just below."""
    s = pilot_study()
    set_cell(s, "Cycles", 6, "Dose", dose)
    assert where(run(s, prof=PILOT_PROFILE), "DOSE002") == (["Cycles!F8"] if fires else [])


def test_without_an_arm_column_doses_are_checked_against_every_level(run):
    s = delete_column(pilot_study(), "Subjects", "Arm")
    set_cells(s, "Cycles", 4, Dose=54)       # 1028 period 2: Xan_Lo's level
    set_cells(s, "Cycles", 5, Dose=81)       # 1028 period 3: no arm has 81 mg in period 3
    result = run(s, prof=PILOT_PROFILE)
    assert where(result, "WB211") == ["Subjects"] and where(result, "DOSE002") == ["Cycles!F7"]
    assert "DOSE012" in dict(result.not_evaluated)


# ------------------------------------------------------------------ the profile is validated, nothing invented

@pytest.mark.parametrize("old, new, message", [
    ('placebo = true ', 'placebo = false ', "arms[0].drugs[0]: no dose for Placebo (give dose here or in [[drugs]])"),
    ('placebo = true ', 'placebo = true\ndose = -1 ', "drugs[1].dose must be > 0, found -1"),
    ('drugs = [{ drug = "Xanomeline", dose = 54 }]', 'drugs = [{ drug = "Xanomeline", dose = 0 }]',
     "arms[1].drugs[0].dose must be > 0 (0 only for a drug with placebo = true), found 0"),
    ('drugs = [{ drug = "Xanomeline", dose = 54 }]', 'drugs = [{ drug = "Xanomelin", dose = 54 }]',
     "arms[1].drugs[0].drug 'Xanomelin' is not one of the profile's drugs"),
    ('drugs = [{ drug = "Xanomeline", dose = 54 }]', 'drugs = [{ drug = "Xanomeline" }]',
     "arms[1].drugs[0]: no dose for Xanomeline"),
    ('{ from_cycle = 1, dose = 54 }, { from_cycle = 2', '{ from_cycle = 2, dose = 54 }, { from_cycle = 3',
     "arms[2].drugs[0].doses must start at from_cycle = 1, found 2"),
    ('{ from_cycle = 2, dose = 81 }', '{ from_cycle = 0, dose = 81 }',
     "arms[2].drugs[0].doses[1].from_cycle must be a whole number >= 1, found 0"),
    ('aliases = ["Xan_Lo", ', 'aliases = ["Pbo", ', "arms[1].aliases: 'Pbo' already names arm Placebo"),
    ('dosing = "continuous"', 'dosing = "daily"', "schedule.dosing must be 'cycles' or 'continuous'"),
    ('dosing = "continuous"', 'dosing = "cycles"', "schedule.cycle_days is missing"),
    ('dosing = "continuous"', 'dosing = "continuous"\ncycle_days = 28', "cycle_days is set but dosing is"),
    ('dose_tolerance_pct = 0 ', 'dose_tolerance_pct = -1 ', "schedule.dose_tolerance_pct must be >= 0, found -1"),
    ('[[arms]]\nname = "Placebo"', '[[arm]]\nname = "Placebo"', "profile file.arm is not a known table; did you mean [arms]?"),
])
def test_broken_design_is_an_error_naming_the_key(old, new, message):
    text = _text(PILOT_PROFILE)
    assert old in text, old
    with pytest.raises(ProfileError) as e:
        _parse(text.replace(old, new, 1))
    assert message in str(e.value)


def test_a_study_without_recist_markers_or_hold_rules_loads():
    text = _text("ql1604_bev_hcc")
    cut = text.index("[[markers]]")
    lab_ae = text.index("[lab_ae_terms]")
    p = _parse(text[:cut] + text[lab_ae:])
    assert p.recist == {} and p.markers == () and p.hold_rules == ()
    assert not p.has("recist") and p.has("schedule.cycle_days")


def test_seed_profile_is_one_implicit_arm_with_every_drug():
    p = load_profile()
    assert p.arms == () and p.drugs_for(None) == ("QL1604", "Bevacizumab")
    assert [(d.name, d.dose) for d in p.drugs] == [("QL1604", 200.0), ("Bevacizumab", 15.0)]


def test_scans_entered_for_a_study_without_recist_are_shown_not_judged(run, pilot):
    """A Tumor sheet in a study whose profile has no [recist]: the RECIST rules do not run, the
    export has an empty recist table and the report still shows the scans and their panel."""
    import datetime as dt

    from builders import d
    from monitor.export import build_tables
    from monitor.labs.catalogue import load_catalogue
    from monitor.report import build_view

    s = pilot_study()
    s["Tumor"] = [["Subject ID", "Date", "Lesion ID", "Lesion type", "Location", "Diameter (mm)"],
                  ["01-701-1028", d(2013, 9, 1), "T1", "Target", "Liver", 30]]
    res = run(s, prof=PILOT_PROFILE)
    assert res.findings == [] and "RECIST001" in dict(res.not_evaluated)
    tables = build_tables(res, load_catalogue(), pilot)
    assert tables["recist"].height == 0 and tables["markers"].height == 0 and tables["dosing"].height == 7
    v = build_view(res, pilot, generated=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), tool_version="t",
                   tables=tables)
    assert v.meta.has_tumour and not v.meta.has_predose and v.meta.cycle_word == "Period"
    sv = next(x for x in v.subjects if x.id == "01-701-1028")
    assert set(sv.charts[0].data["panels"]) == {"liver", "tumour"}      # no AFP / PIVKA-II panels
    assert any("target sum 30 mm" in sc for c in sv.cycles for sc in c.scans)


def test_report_of_the_pilot_shows_only_the_arms_drugs(run, pilot):
    import datetime as dt

    from monitor.export import build_tables
    from monitor.labs.catalogue import load_catalogue
    from monitor.report import build_view

    res = run(pilot_study(), prof=PILOT_PROFILE)
    v = build_view(res, pilot, generated=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), tool_version="t",
                   tables=build_tables(res, load_catalogue(), pilot))
    by = {s.id: s for s in v.subjects}
    placebo = by["01-701-1015"]
    assert placebo.arm == "Placebo"
    assert [(x.drug, x.given, x.planned) for c in placebo.cycles for x in c.doses] == [("Placebo", "0 mg", "placebo")] * 3
    assert "Dose intensity" not in placebo.derived
    hi = by["01-701-1028"]
    assert [(x.drug, x.given, x.planned) for c in hi.cycles for x in c.doses] == [
        ("Xanomeline", "54 mg", "54 mg"), ("Xanomeline", "81 mg", "81 mg"), ("Xanomeline", "54 mg", "54 mg")]
    assert hi.derived["Dose intensity"] == "Xanomeline 100%"
    assert set(hi.charts[0].data["panels"]) == {"liver"} and hi.charts[0].data["rows"] == 1
    assert by["01-701-1057"].cycles == [] and by["01-701-1057"].status == "Not dosed"
    assert [c.number for c in hi.cycles] == [1, 2, 3] and hi.last_dose == "14-JAN-2014"
    assert hi.cycles[1].period == "02-AUG-2013 to 06-JAN-2014"          # the period's End date
    assert not v.meta.has_tumour and v.meta.subject_columns == ()


def test_swimmer_labels_get_room_for_the_longest_subject_id():
    from monitor.report.charts import MM, RC, swimmer_left

    assert swimmer_left([{"subject": "001"}]) == 0.055                  # the seed study's 15 mm
    left = swimmer_left([{"subject": "001"}, {"subject": "01-701-1015"}])
    width_pt = 272 * MM * 72
    assert left * width_pt >= 11 * RC["font.size"] * 0.6 + 4            # 11 characters at 6.5 pt, and the tick pad
    assert left < 0.12


@pytest.mark.parametrize("keys, rows", [(("liver",), 1), (("liver", "tumour"), 1),
                                        (("AFP", "liver", "tumour"), 2), (("AFP", "PIVKA2", "liver", "tumour"), 2)])
def test_subject_chart_layout_has_only_the_panels_of_the_study(keys, rows):
    from monitor.report.charts import BOXES, PANEL_SIZE, layout

    size, boxes = layout(keys)
    assert tuple(boxes) == keys
    assert size[1] == pytest.approx(PANEL_SIZE[1] * rows / 2)
    if len(keys) == 4:
        assert boxes == BOXES                                          # the seed study's 2 x 2 grid, unchanged
    for left, bottom, width, height in boxes.values():
        assert 0 < bottom and bottom + height < 1 and left + width < 1


@pytest.mark.parametrize("sheet, idx, header, value", [
    ("Cycles", 4, "Dose", "inf"), ("Cycles", 4, "Dose", "nan"), ("Cycles", 4, "Dose", 1e308),
    ("Cycles", 4, "Cycle", None), ("Cycles", 4, "End date", d_(1900, 1, 1)), ("Cycles", 4, "Drug", None),
    ("Subjects", 1, "Arm", "  "), ("Subjects", 1, "Arm", None), ("Cycles", 0, "Dose", 0.0),
])
def test_design_rules_never_crash_on_edge_values(run, sheet, idx, header, value):
    """WB211, DOSE012 and the dose plan with the pilot profile on edge cells (the seed study has no
    arms, so tests/test_rules_never_crash.py does not drive them): findings maybe, never WB000."""
    s = pilot_study()
    set_cell(s, sheet, idx, header, value)
    res = run(s, prof=PILOT_PROFILE)
    assert not [f for f in res.findings if f.rule == "WB000"], [f.message for f in res.findings]
