"""Issue 11: safety logic that fits HCC patients. Each example of the issue rebuilt as a test, the
anti-PD-1 HCC liver bands and the bevacizumab / irAE rule sets at their boundaries, CTCAE term groups.

Sources (bundled profile, monitor/profile/ql1604_bev_hcc.toml, one per rule):
  FDA Guidance for Industry: Drug-Induced Liver Injury (2009): ALT/AST ">= 3-fold", bilirubin "> 2x",
      ALP "< 2x ULN"; mDISH multiples of baseline for abnormal baselines (Treem et al., Drug Saf 2021)
  PD-1 label (KEYTRUDA / OPDIVO section 2), hepatitis with tumour involvement of the liver:
      baseline > 1-3 x ULN: withhold at > 5-10 x; baseline > 3-5 x: withhold at > 8-10 x;
      ALT/AST > 10 x ULN or bilirubin > 3 x ULN: permanently discontinue
  ASCO 2021 irAE guideline (Schneider et al., J Clin Oncol 2021); Avastin PI 2.4 / EU SmPC 4.4
Valid study (tests/builders.py): 1001 first dose 2025-03-10 (labs 03-07: ALT ULN 40, bilirubin ULN
20.5 umol/L), C2 2025-03-31 (Cycles rows 4 QL1604, 5 bevacizumab); appended Cycles rows from 12.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from builders import copy_row, fresh, set_cell, set_cells, where

C, L, AE = "Cycles", "Labs", "AdverseEvents"


def d(y, m, day):
    return datetime(y, m, day)


def more_ql1604_doses(s, *days, row=2):
    """1001 QL1604 (Cycles data row `row` copied) on each day, cycles 3, 4 ..., with pre-dose labs."""
    for i, day in enumerate(days):
        copy_row(s, C, row, Cycle=3 + i, Date=day)
        copy_row(s, L, 3, Date=day - timedelta(days=1))        # a haemoglobin the day before (DOSE004)
    return s


# ------------------------------------------------------------------ the examples

def test_stable_abnormal_liver_baseline_gives_no_hys_law_and_no_liver_stop(run):
    """ALT 3.2 x and bilirubin 2.1 x ULN from before the first dose, unchanged at every visit: the
    old rule gave 8 critical potential-Hy's-law findings, one on the screening draw. Now none."""
    s = fresh()
    set_cell(s, L, 0, "Result", 128)                            # ALT 128 / 40 = 3.2 x ULN (baseline)
    set_cell(s, L, 2, "Result", 43)                             # bilirubin 43 / 20.5 = 2.1 x ULN
    set_cell(s, L, 8, "Result", 128)                            # 03-28: unchanged
    days = [d(2025, 4, 21), d(2025, 5, 12), d(2025, 6, 2)]
    more_ql1604_doses(s, *days)
    for day in [d(2025, 3, 28)] + [x - timedelta(days=1) for x in days]:
        copy_row(s, L, 2, Date=day)                             # bilirubin 2.1 x at every visit
        copy_row(s, L, 0, Date=day)                             # ALT 3.2 x at every visit
    result = run(s)
    assert where(result, "LAB102") == []
    assert where(result, "DOSE005") == [] and where(result, "DOSE006") == []


def test_alt_11x_and_bilirubin_3_5x_on_a_4x_baseline_stops_ql1604_on_every_later_dose(run):
    """Baseline ALT 4 x ULN, then ALT 11 x with bilirubin 3.5 x: CTCAE grade 1 against the
    baseline, but the PD-1 label for HCC says permanently discontinue (> 10 x ULN; bilirubin > 3 x).
    QL1604 given three more times: three critical findings."""
    s = fresh()
    set_cell(s, L, 0, "Result", 160)                            # baseline ALT 4 x ULN
    set_cell(s, L, 8, "Result", 440)                            # 03-28: ALT 11 x ULN
    copy_row(s, L, 2, Date=d(2025, 3, 28), Result=71.75)        # bilirubin 3.5 x ULN
    more_ql1604_doses(s, d(2025, 4, 21), d(2025, 5, 12))
    result = run(s)
    assert where(result, "DOSE006") == ["Cycles!H12", "Cycles!H13", "Cycles!H4"]
    f = next(f for f in result.findings if f.rule == "DOSE006" and f.cell == "H4")
    assert "ALT 11 x ULN (baseline 4 x ULN) on 2025-03-28" in f.message
    assert "> 10 x ULN" in f.message and "PD-1 label" in f.message
    assert where(result, "DOSE005") == []                      # a stopped drug is reported once


def test_grade_3_myocardial_infarction_stops_bevacizumab_for_the_next_three_doses(run):
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term="Myocardial infarction", Grade=3, Onset_date=d(2025, 3, 20),
             End_date=d(2025, 3, 25))
    for i, day in enumerate((d(2025, 4, 21), d(2025, 5, 12))):
        copy_row(s, C, 3, Cycle=3 + i, Date=day)
        copy_row(s, L, 3, Date=day - timedelta(days=1))
    result = run(s)
    assert where(result, "DOSE006") == ["Cycles!H12", "Cycles!H13", "Cycles!H5"]
    assert "arterial_thromboembolism" in next(f.message for f in result.findings if f.rule == "DOSE006")


@pytest.mark.parametrize("term", ["Retroperitoneal hemorrhage", "Colonic hemorrhage", "Jejunal hemorrhage",
                                  "Ileal hemorrhage", "Hematuria", "Epistaxis", "Esophageal varices hemorrhage"])
def test_every_ctcae_bleeding_term_grade_3_stops_bevacizumab(run, term):
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term=term, Grade=3, Onset_date=d(2025, 3, 20), End_date=d(2025, 3, 25))
    assert where(run(s), "DOSE006") == ["Cycles!H5"]


def test_bleeding_grade_2_does_not_stop_bevacizumab(run):
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term="Epistaxis", Grade=2, Onset_date=d(2025, 3, 20),
             End_date=d(2025, 3, 25))
    assert where(run(s), "DOSE006") == []


@pytest.mark.parametrize("term, grade, code", [
    ("Reversible posterior leukoencephalopathy syndrome", 1, "DOSE006"),   # PRES: any grade (PI 2.4)
    ("Gastric perforation", 1, "DOSE006"),
    ("Gallbladder perforation", 1, "DOSE006"),
    ("Tracheal fistula", 1, "DOSE006"),
    ("Rectal fistula", 4, "DOSE006"),            # any grade 4 fistula
    ("Rectal fistula", 3, None),
    ("Wound dehiscence", 2, "DOSE006"),          # requiring medical intervention (grade >= 2)
    ("Wound dehiscence", 1, None),
    ("Thromboembolic event", 4, "DOSE006"),      # grade 4 venous thromboembolism
    ("Thromboembolic event", 3, None),
    ("Hypertension", 4, "DOSE006"),              # hypertensive crisis / encephalopathy
    ("Hypertension", 3, "DOSE005"),              # severe: withhold
    ("Nephrotic syndrome", 1, "DOSE006"),
    ("Transient ischemic attacks", 1, "DOSE006"),
    ("Stroke", 1, "DOSE006"),
])
def test_bevacizumab_label_rules(run, term, grade, code):
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term=term, Grade=grade, Onset_date=d(2025, 3, 20), End_date=None,
             Ongoing="Y")
    result = run(s)
    for c in ("DOSE005", "DOSE006"):
        assert where(result, c) == (["Cycles!H5"] if c == code else []), (term, grade, c)


@pytest.mark.parametrize("term, grade, immune, code", [
    ("Pneumonitis", 2, "N", "DOSE005"), ("Pneumonitis", 3, "N", "DOSE006"), ("Pneumonitis", 1, "N", None),
    ("Colitis", 2, "Y", "DOSE005"), ("Diarrhea", 3, "Y", "DOSE005"), ("Diarrhea", 4, "Y", "DOSE006"),
    ("Myocarditis", 1, "Y", "DOSE005"), ("Myocarditis", 2, "Y", "DOSE006"),
    ("Creatinine increased", 2, "Y", "DOSE005"), ("Acute kidney injury", 4, "Y", "DOSE006"),
    ("Adrenal insufficiency", 2, "Y", "DOSE005"), ("Adrenal insufficiency", 1, "Y", None),
    ("Hypophysitis", 2, "Y", "DOSE005"), ("Hyperglycemia", 3, "Y", "DOSE005"), ("Hyperglycemia", 2, "Y", None),
    ("Hypothyroidism", 3, "Y", "DOSE005"), ("Hypothyroidism", 2, "Y", None), ("Hyperthyroidism", 3, "Y", "DOSE005"),
    ("Stevens-Johnson syndrome", 3, "Y", "DOSE006"), ("Toxic epidermal necrolysis", 4, "Y", "DOSE006"),
    ("Rash maculo-papular", 3, "Y", "DOSE005"), ("Rash maculo-papular", 3, "N", None),
    ("Bullous dermatitis", 4, "Y", "DOSE006"),
    ("Myasthenia gravis", 2, "Y", "DOSE005"), ("Myasthenia gravis", 3, "Y", "DOSE006"),
    ("Guillain-Barre syndrome", 1, "Y", "DOSE006"),
    ("Encephalopathy", 1, "Y", "DOSE005"), ("Encephalopathy", 3, "Y", "DOSE006"),
    ("Alanine aminotransferase increased", 4, "N", "DOSE006"),   # AE-grade discontinuation (ASCO 2021)
    ("Hepatobiliary disorders - Other, specify", 2, "Y", "DOSE005"),
])
def test_anti_pd1_irae_rules(run, term, grade, immune, code):
    """1001 QL1604 C2 on 2025-03-31 after an AE from 03-20, still ongoing."""
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term=term, Grade=grade, Onset_date=d(2025, 3, 20), End_date=None,
             Ongoing="Y", Immune_related=immune)
    result = run(s)
    for c in ("DOSE005", "DOSE006"):
        assert where(result, c) == (["Cycles!H4"] if c == code else []), (term, grade, c, result.findings)


# ------------------------------------------------------------------ hold until grade <= N

def test_hold_lasts_while_a_following_row_stays_above_the_until_grade(run):
    """Colitis grade 3 03-15..03-22, then grade 2 from 03-23 (ongoing): held until grade <= 1."""
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term="Colitis", Grade=3, Onset_date=d(2025, 3, 15),
             End_date=d(2025, 3, 22), Immune_related="Y")
    copy_row(s, AE, 0, AE_number=4, CTCAE_term="Colitis", Grade=2, Onset_date=d(2025, 3, 23),
             End_date=None, Ongoing="Y", Immune_related="Y")
    assert where(run(s), "DOSE005") == ["Cycles!H4"]
    set_cell(s, AE, 4, "Grade", 1)                              # back to grade 1: resumed correctly
    assert where(run(s), "DOSE005") == []


def test_creatinine_hold_until_grade_1(run):
    """CTCAE v5.0 creatinine grade 2 (> 1.5-3 x baseline) holds QL1604 until grade <= 1."""
    s = fresh()
    copy_row(s, L, 0, Test="Creatinine", Result=70, Unit="umol/L", LLN=45, ULN=90)          # baseline 03-07
    copy_row(s, L, 0, Date=d(2025, 3, 20), Test="Creatinine", Result=140, Unit="umol/L", LLN=45, ULN=90)
    result = run(s)
    assert where(result, "DOSE005") == ["Cycles!H4"]
    copy_row(s, L, 0, Date=d(2025, 3, 27), Test="Creatinine", Result=100, Unit="umol/L", LLN=45, ULN=90)
    assert where(run(s), "DOSE005") == []                       # 1.43 x baseline: grade 1


# ------------------------------------------------------------------ PD-1 label HCC liver bands at their edges

def _liver(s, baseline_alt, alt=None, bili=None):
    set_cell(s, L, 0, "Result", baseline_alt)
    if alt is not None:
        set_cell(s, L, 8, "Result", alt)
    if bili is not None:
        copy_row(s, L, 2, Date=d(2025, 3, 28), Result=bili)
    return s


@pytest.mark.parametrize("baseline, alt, code", [
    (40, 120.4, "DOSE005"),     # normal baseline: > 3 x ULN withhold (3.01 x)
    (40, 120, None),            # 3.0 x: not above
    (40, 320.4, "DOSE006"),     # normal baseline: > 8 x ULN discontinue
    (40.4, 200.4, "DOSE005"),   # baseline 1.01 x ULN (> 1-3 band): > 5 x withhold
    (40.4, 200, None),          # 5.0 x: not above
    (120, 200.4, "DOSE005"),    # baseline exactly 3 x: still the > 1-3 band
    (120.4, 200.4, None),       # baseline 3.01 x (> 3-5 band): 5.01 x is below 8 x
    (120.4, 320.4, "DOSE005"),  # > 8 x
    (200, 320.4, "DOSE005"),    # baseline 5 x: > 3-5 band
    (120.4, 400, "DOSE005"),    # 10.0 x: not above 10, still a hold
    (120.4, 400.4, "DOSE006"),  # > 10 x ULN: permanently discontinue, whatever the baseline
])
def test_anti_pd1_hcc_liver_bands(run, baseline, alt, code):
    result = run(_liver(fresh(), baseline, alt))
    for c in ("DOSE005", "DOSE006"):
        assert where(result, c) == (["Cycles!H4"] if c == code else []), (baseline, alt, c)


@pytest.mark.parametrize("bili, code", [(61.5, "DOSE005"), (61.6, "DOSE006"), (30.75, None), (30.8, "DOSE005")],
                         ids=["3.0x-hold", "3.005x-stop", "1.5x", "1.502x-hold"])
def test_bilirubin_hold_and_stop(run, bili, code):
    result = run(_liver(fresh(), 32, bili=bili))
    for c in ("DOSE005", "DOSE006"):
        assert where(result, c) == (["Cycles!H4"] if c == code else []), (bili, c)


def test_liver_rules_count_on_treatment_draws_only(run):
    """ALT 11 x ULN at screening (03-07): eligibility, not a stop; C1 (03-10) and C2 are not findings."""
    s = fresh()
    set_cell(s, L, 0, "Result", 440)
    result = run(s)
    assert where(result, "DOSE006") == [] and where(result, "DOSE005") == []


# ------------------------------------------------------------------ irAE not back to grade <= 1 in 12 weeks

@pytest.mark.parametrize("end, fires", [(d(2025, 6, 4), False), (d(2025, 6, 5), True), (None, True)],
                         ids=["ended-day-84", "ended-day-85", "ongoing"])
def test_irae_not_resolved_within_12_weeks_stops_ql1604(run, end, fires):
    """Immune-related arthralgia grade 2 from 2025-03-12; 12 weeks = 84 days -> 2025-06-04.
    QL1604 given on 2025-06-06."""
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term="Arthralgia", Grade=2, Onset_date=d(2025, 3, 12), End_date=end,
             Ongoing="Y" if end is None else "N", Immune_related="Y")
    more_ql1604_doses(s, d(2025, 6, 6))
    result = run(s)
    assert where(result, "DOSE006") == (["Cycles!H12"] if fires else [])
    if fires:
        f = next(f for f in result.findings if f.rule == "DOSE006")
        assert "not back to grade <= 1 within 12 weeks (by 2025-06-04" in f.message


def test_endocrine_irae_is_not_stopped_by_the_12_week_rule(run):
    s = fresh()
    copy_row(s, AE, 0, AE_number=3, CTCAE_term="Hypothyroidism", Grade=2, Onset_date=d(2025, 3, 12), End_date=None,
             Ongoing="Y", Immune_related="Y")
    more_ql1604_doses(s, d(2025, 6, 6))
    assert where(run(s), "DOSE006") == []


# ------------------------------------------------------------------ CTCAE term groups resolved at load

def test_groups_resolve_against_the_shipped_ctcae_table(profile):
    from monitor.ctcae.terms import load_terms

    terms = load_terms()
    bleeding = set(profile.ae_groups["bleeding"]["terms_resolved"])
    named = {t.term for t in terms.by_norm.values() if "hemorrhage" in t.term.lower()}
    assert len(named) == 36 and named <= bleeding
    assert {"Hematuria", "Epistaxis", "Retroperitoneal hemorrhage", "Jejunal hemorrhage"} <= bleeding
    ate = set(profile.ae_groups["arterial_thromboembolism"]["terms_resolved"])
    assert {"Myocardial infarction", "Stroke", "Transient ischemic attacks", "Peripheral ischemia"} <= ate
    gi = set(profile.ae_groups["gi_perforation"]["terms_resolved"])
    assert "Small intestinal perforation" in gi and "Uterine perforation" not in gi   # SOC and pattern
    irae = set(profile.ae_groups["irae_non_endocrine"]["terms_resolved"])
    assert "Hypothyroidism" not in irae and "Hyperglycemia" not in irae and "Colitis" in irae
    skin = next(h for h in profile.hold_rules if h["when"].get("ae_socs") == ["Skin and subcutaneous tissue disorders"])
    assert "Stevens-Johnson syndrome" in skin["terms"] and all(terms.get(t) for t in skin["terms"])


@pytest.mark.parametrize("addition, message", [
    ('[ae_groups.x]\nterms = ["Heart attack"]\nsource = "t"\n', "ae_groups.x: 'Heart attack' is not a CTCAE v5.0 term"),
    ('[ae_groups.x]\nsocs = ["Liver disorders"]\nsource = "t"\n',
     "ae_groups.x: 'Liver disorders' is not a CTCAE v5.0 System Organ Class"),
    ('[ae_groups.x]\npatterns = ["hemorrhage("]\nsource = "t"\n', "is not a valid regular expression"),
    ('[ae_groups.x]\npatterns = ["zzz"]\nsource = "t"\n', "ae_groups.x names no CTCAE v5.0 term"),
    ('[ae_groups.x]\nterms = ["Stroke"]\n', "ae_groups.x.source is missing"),
    ('[[hold_rules]]\ndrug = "QL1604"\naction = "hold"\nwhen = { ae_groups = ["nope"], min_grade = 2 }\nsource = "t"\n',
     "group 'nope' is not defined in [ae_groups]"),
    ('[[hold_rules]]\ndrug = "QL1604"\naction = "hold"\nwhen = { lab = ["ALT"], x_uln_above = 3, '
     'baseline_x_uln_above = 3, baseline_x_uln_max = 1 }\nsource = "t"\n', "baseline_x_uln_above must be below"),
    ('[[hold_rules]]\ndrug = "QL1604"\naction = "hold"\nwhen = { ae_terms = ["Colitis"], min_grade = 2, '
     'until_grade = 2 }\nsource = "t"\n', "until_grade must be below min_grade"),
    ('[[hold_rules]]\ndrug = "QL1604"\naction = "hold"\nwhen = { ae_terms = ["Colitis"], min_grade = 2, '
     'unresolved_weeks = 12, resolved_grade = 1 }\nsource = "t"\n', "unresolved_weeks needs action 'discontinue'"),
    ('[[hold_rules]]\ndrug = "QL1604"\naction = "discontinue"\nwhen = { ae_terms = ["Colitis"], min_grade = 2, '
     'steroid_max_mg = 10 }\nsource = "t"\n', "steroid_max_mg needs action 'hold'"),
])
def test_broken_group_or_rule_is_an_error_naming_the_key(addition, message):
    import tomllib

    from monitor.profile.profile import ProfileError, bundled_profiles, parse_profile

    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8")
    # tables appended after [lab_ae_terms] would belong to it: insert before it
    text = text.replace("[lab_ae_terms]", addition + "\n[lab_ae_terms]", 1)
    with pytest.raises(ProfileError) as e:
        parse_profile(tomllib.loads(text), "p.toml")
    assert message in str(e.value)


def test_every_rule_names_its_source_and_every_drug_is_covered(profile):
    assert all(h["source"].strip() for h in profile.hold_rules)
    drugs = {h["drug"] for h in profile.hold_rules}
    assert drugs == {"QL1604", "Bevacizumab"}
    assert set(profile.dose_reduction["not_allowed"]) == {"QL1604", "Bevacizumab"}


# ------------------------------------------------------------------ ConMeds sheet (optional) and DOSE011

def _resume_1002_on(s, drug, mg, unit="mg/day"):
    """1002 resumes QL1604 at C3 on 2025-04-25 (ALT AE over 04-20, ALT 40 on 04-24) on `drug` `mg`."""
    copy_row(s, C, 4, Cycle=3, Date=d(2025, 4, 25))
    copy_row(s, L, 11, Date=d(2025, 4, 24), Result=40)
    set_cells(s, "ConMeds", 1, Drug=drug, Dose=mg, Unit=unit)
    return s


@pytest.mark.parametrize("drug, mg, unit, fires", [
    ("Methylprednisolone", 8.5, "mg/day", True),        # 10.6 mg/day prednisone-equivalent
    ("methylprednisolone sodium succinate", 8.5, "mg", True),
    ("Dexamethasone", 1.6, "mg/day", True),             # 10.7
    ("Dexamethasone", 1.4, "mg/day", False),            # 9.3
    ("Prednisolone", 10, "mg/day", False),
    ("Hydrocortisone", 44, "mg/day", True),             # 11
    ("Budesonide", 9, "mg/day", False),                 # not a systemic steroid of [steroids]
    ("Prednisone", 20, "mg/kg", False),                 # not a daily dose in mg: not read
])
def test_prednisone_equivalents(run, drug, mg, unit, fires):
    s = _resume_1002_on(fresh(), drug, mg, unit)
    assert where(run(s), "DOSE011") == (["Cycles!H12"] if fires else [])


def test_steroid_started_before_the_irae_does_not_count(run):
    s = _resume_1002_on(fresh(), "Prednisone", 20)
    set_cells(s, "ConMeds", 1, Start_date=d(2025, 3, 1))    # before the ALT AE of 04-01
    set_cells(s, "ConMeds", 0, Start_date=d(2025, 3, 1))
    assert where(run(s), "DOSE011") == []


def test_conmeds_sheet_is_optional_and_read_by_its_alias(run):
    from builders import rename_sheet

    s = _resume_1002_on(fresh(), "Prednisone", 20)
    rename_sheet(s, "ConMeds", "Concomitant medications")
    assert where(run(s), "DOSE011") == ["Cycles!H12"]
    del s["Concomitant medications"]
    result = run(s)
    assert "DOSE011" in {c for c, _ in result.not_evaluated}
    assert not [f for f in result.findings if f.rule == "WB000"]
