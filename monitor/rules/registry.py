"""The rule registry: one table mapping each stable code to its rule.

Codes are never reused or renumbered; a retired code stays listed in RETIRED.
`monitor rules` and the README's rule table are generated from this table.
"""

from __future__ import annotations

from ..findings import Severity as S
from . import adverse_events as ae
from . import cells, labs, liver, references as ref, safety, structure as st
from .base import Rule

RULES: tuple[Rule, ...] = (
    # structure
    Rule("WB001", "header-row-not-found", S.CRITICAL, st.header_row_not_found),
    Rule("WB002", "required-column-missing", S.CRITICAL, st.required_column_missing),
    Rule("WB003", "unknown-column", S.INFO, st.unknown_column),
    Rule("WB004", "column-duplicated", S.MAJOR, st.column_duplicated),
    Rule("WB005", "formula-without-cached-value", S.MAJOR, st.formula_without_cached_value),
    Rule("WB006", "study-field-missing", S.MINOR, st.study_field_missing),
    Rule("WB007", "profile-not-matching", S.MAJOR, st.profile_not_matching),
    Rule("WB008", "date-format-unknown", S.MAJOR, st.date_format_unknown),
    # cell values
    Rule("WB101", "required-value-missing", S.MAJOR, cells.required_value_missing),
    Rule("WB102", "date-unreadable", S.MAJOR, cells.date_unreadable),
    Rule("WB103", "date-impossible", S.MAJOR, cells.date_impossible),
    Rule("WB104", "date-ambiguous", S.MAJOR, cells.date_ambiguous),
    Rule("WB105", "partial-date-not-allowed", S.MAJOR, cells.partial_date_not_allowed),
    Rule("WB106", "date-implausible", S.MAJOR, cells.date_implausible),
    Rule("WB107", "number-unreadable", S.MAJOR, cells.number_unreadable),
    Rule("WB108", "integer-expected", S.MAJOR, cells.integer_expected),
    Rule("WB109", "yes-no-unreadable", S.MAJOR, cells.yes_no_unreadable),
    Rule("WB110", "value-not-allowed", S.MAJOR, cells.value_not_allowed),
    Rule("WB111", "value-out-of-range", S.MAJOR, cells.value_out_of_range),
    Rule("WB112", "date-in-future", S.MINOR, cells.date_in_future),
    # references and records
    Rule("WB201", "subject-duplicated", S.CRITICAL, ref.subject_duplicated, (("Subjects", ("subject",)),)),
    Rule("WB202", "subject-unknown", S.MAJOR, ref.subject_unknown, (("Subjects", ("subject",)),)),
    Rule("WB203", "drug-unknown", S.MAJOR, ref.drug_unknown, (("Cycles", ("drug",)),)),
    Rule("WB204", "administration-duplicated", S.MAJOR, ref.administration_duplicated,
         (("Cycles", ("subject", "drug", "cycle", "date", "action")),)),
    Rule("WB205", "dose-missing", S.MAJOR, ref.dose_missing, (("Cycles", ("action", "dose")),)),
    Rule("WB206", "dose-unit-missing", S.MAJOR, ref.dose_unit_missing, (("Cycles", ("dose", "unit")),)),
    Rule("WB207", "action-reason-missing", S.MINOR, ref.action_reason_missing, (("Cycles", ("action", "reason")),)),
    Rule("WB208", "off-treatment-before-consent", S.MAJOR, ref.off_treatment_before_consent,
         (("Subjects", ("off_date", "consent_date")),)),
    Rule("WB209", "dosed-before-consent", S.CRITICAL, ref.dosed_before_consent,
         (("Cycles", ("subject", "date", "action")), ("Subjects", ("subject", "consent_date")))),
    Rule("WB210", "blood-pressure-inverted", S.MAJOR, ref.blood_pressure_inverted, (("Vitals", ("sbp", "dbp")),)),
    # labs as entered
    Rule("LAB001", "lab-test-unknown", S.INFO, labs.lab_test_unknown, (("Labs", ("test",)),)),
    Rule("LAB002", "lab-unit-unknown", S.MAJOR, labs.lab_unit_unknown, (("Labs", ("test", "unit")),)),
    Rule("LAB003", "lab-unit-missing", S.MAJOR, labs.lab_unit_missing, (("Labs", ("test", "result", "unit")),)),
    Rule("LAB004", "lab-result-unreadable", S.MAJOR, labs.lab_result_unreadable, (("Labs", ("test", "result")),)),
    Rule("LAB005", "lab-result-duplicated", S.MINOR, labs.lab_result_duplicated,
         (("Labs", ("subject", "date", "test", "result")),)),
    Rule("LAB006", "lab-result-conflicting", S.MAJOR, labs.lab_result_conflicting,
         (("Labs", ("subject", "date", "test", "result")),)),
    Rule("LAB007", "lab-range-inverted", S.MAJOR, labs.lab_range_inverted, (("Labs", ("lln", "uln")),)),
    Rule("LAB008", "lab-normal-limit-missing", S.MAJOR, labs.lab_normal_limit_missing,
         (("Labs", ("test", "result")),)),
    Rule("LAB009", "lab-result-implausible", S.MAJOR, labs.lab_result_implausible,
         (("Labs", ("subject", "date", "test", "result")),)),
    # adverse events as entered
    Rule("AE001", "ae-number-duplicated", S.MAJOR, ae.ae_number_duplicated,
         (("AdverseEvents", ("subject", "ae_number")),)),
    Rule("AE002", "ae-end-before-onset", S.MAJOR, ae.ae_end_before_onset, (("AdverseEvents", ("onset", "end")),)),
    Rule("AE003", "ae-ongoing-with-end-date", S.MAJOR, ae.ae_ongoing_with_end_date,
         (("AdverseEvents", ("ongoing", "end")),)),
    Rule("AE004", "ae-end-date-missing", S.MINOR, ae.ae_end_date_missing, (("AdverseEvents", ("ongoing", "end")),)),
    Rule("AE005", "sae-dates-missing", S.MAJOR, ae.sae_dates_missing, (("AdverseEvents", ("serious",)),)),
    Rule("AE006", "sae-reported-before-aware", S.MAJOR, ae.sae_reported_before_aware,
         (("AdverseEvents", ("date_aware", "date_reported")),)),
    Rule("AE007", "ae-term-not-ctcae", S.MAJOR, ae.ae_term_not_ctcae, (("AdverseEvents", ("term",)),)),
    Rule("AE008", "ae-grade-not-defined", S.MAJOR, ae.ae_grade_not_defined, (("AdverseEvents", ("term", "grade")),)),
    Rule("AE009", "sae-reported-late", S.MAJOR, ae.sae_reported_late,
         (("AdverseEvents", ("serious", "date_aware", "date_reported")),)),
    Rule("AE010", "ae-fatal-grade-mismatch", S.MAJOR, ae.ae_fatal_grade_mismatch,
         (("AdverseEvents", ("grade", "outcome")),)),
    Rule("AE011", "ae-onset-before-consent", S.MINOR, ae.ae_onset_before_consent,
         (("AdverseEvents", ("subject", "onset")), ("Subjects", ("subject", "consent_date")))),
    Rule("AE012", "ae-onset-before-first-dose", S.INFO, ae.ae_onset_before_first_dose,
         (("AdverseEvents", ("subject", "onset")), ("Cycles", ("subject", "date", "action")))),
    Rule("AE013", "fatal-ae-not-serious", S.MAJOR, ae.fatal_ae_not_serious, (("AdverseEvents", ("serious",)),)),
    # CTCAE v5.0 safety reconciliation (graded labs and vitals against adverse events)
    Rule("LAB101", "lab-grade-without-ae", S.MAJOR, safety.lab_grade_without_ae,
         (("Labs", ("subject", "date", "test", "result")), ("AdverseEvents", ("subject", "term", "onset")))),
    Rule("LAB102", "potential-hys-law", S.CRITICAL, liver.potential_hys_law,
         (("Labs", ("subject", "date", "test", "result", "uln")),)),
    Rule("LAB103", "tsh-abnormal-without-thyroid-ae", S.MINOR, safety.tsh_abnormal_without_thyroid_ae,
         (("Labs", ("subject", "date", "test", "result")), ("AdverseEvents", ("subject", "term", "onset")))),
    Rule("AE101", "ae-grade-below-lab-grade", S.MAJOR, safety.ae_grade_below_lab_grade,
         (("Labs", ("subject", "date", "test", "result")), ("AdverseEvents", ("subject", "term", "grade", "onset")))),
    Rule("AE102", "ae-grade-above-lab-grade", S.MINOR, safety.ae_grade_above_lab_grade,
         (("Labs", ("subject", "date", "test", "result")), ("AdverseEvents", ("subject", "term", "grade", "onset")))),
    Rule("VS001", "hypertension-without-ae", S.MAJOR, safety.hypertension_without_ae,
         (("Vitals", ("subject", "date", "sbp", "dbp")), ("AdverseEvents", ("subject", "term", "onset")))),
)

# Rule that records a crash inside another rule (the rest still run).
RULE_CRASHED = Rule("WB000", "rule-crashed", S.MAJOR, lambda ctx: None)
RULE_CRASHED.check.__doc__ = """A rule stopped with an internal error; its checks did not run on this workbook.

*What it does*: records the crash against the workbook so the other rules still run.
*Why it matters*: a silent crash would look like a clean workbook.
*Example*: never expected; report it with the workbook.
"""

RETIRED: dict = {}  # code -> note, for codes that no longer run (never reused)

BY_CODE = {r.code: r for r in RULES}
assert len(BY_CODE) == len(RULES), "duplicate rule code"

# ---------------------------------------------------------------------------------------------
# Protocol rules (issue 4): dosing and schedule, tumour markers, RECIST 1.1. Appended as one block
# so the table above stays as it was; thresholds are in the profile, derived tables in derive/.
from . import dosing, markers as mk, recist  # noqa: E402

_CYC = ("subject", "date", "drug", "action")
RULES = RULES + (
    Rule("DOSE001", "dose-interval-out-of-window", S.MAJOR, dosing.dose_interval_out_of_window,
         (("Cycles", _CYC + ("cycle",)),)),
    Rule("DOSE002", "dose-deviates-from-protocol", S.MAJOR, dosing.dose_deviates_from_protocol,
         (("Cycles", _CYC + ("dose", "unit")),)),
    Rule("DOSE003", "dose-not-recalculated-after-weight-change", S.MAJOR,
         dosing.dose_not_recalculated_after_weight_change,
         (("Cycles", _CYC + ("weight",)), ("Vitals", ("subject", "date", "weight")))),
    Rule("DOSE004", "dosed-without-predose-labs", S.MAJOR, dosing.dosed_without_predose_labs,
         (("Cycles", _CYC), ("Labs", ("subject", "date", "result")))),
    Rule("DOSE005", "dosed-during-hold", S.MAJOR, dosing.dosed_during_hold,
         (("Cycles", _CYC), ("Labs", ("subject", "date", "test", "result")),
          ("AdverseEvents", ("subject", "term", "grade", "onset")))),
    Rule("DOSE006", "dosed-after-permanent-discontinuation", S.CRITICAL, dosing.dosed_after_permanent_discontinuation,
         (("Cycles", _CYC), ("Labs", ("subject", "date", "test", "result")),
          ("AdverseEvents", ("subject", "term", "grade", "onset")))),
    Rule("DOSE007", "dosed-after-off-treatment", S.MAJOR, dosing.dosed_after_off_treatment,
         (("Cycles", _CYC), ("Subjects", ("subject", "off_date")))),
    Rule("DOSE008", "cycle-number-skipped", S.MAJOR, dosing.cycle_number_skipped,
         (("Cycles", _CYC + ("cycle",)),)),
    Rule("DOSE009", "cycle-number-repeated", S.MAJOR, dosing.cycle_number_repeated,
         (("Cycles", _CYC + ("cycle",)),)),
    # tumour markers (profile [[markers]]); first dose from Cycles
    Rule("MK001", "marker-response-confirmed", S.INFO, mk.marker_response_confirmed,
         (("Labs", ("subject", "date", "test", "result")), ("Cycles", ("subject", "date", "action")))),
    Rule("MK002", "marker-progression-confirmed", S.MAJOR, mk.marker_progression_confirmed,
         (("Labs", ("subject", "date", "test", "result")), ("Cycles", ("subject", "date", "action")))),
    # RECIST 1.1 (optional Tumor sheet; profile [recist])
    Rule("RECIST001", "investigator-response-differs", S.MAJOR, recist.investigator_response_differs,
         (("Tumor", ("subject", "date", "lesion", "lesion_type", "diameter", "inv_response")),)),
    Rule("RECIST002", "too-many-target-lesions", S.MAJOR, recist.too_many_target_lesions,
         (("Tumor", ("subject", "date", "lesion", "lesion_type")),)),
    Rule("RECIST003", "too-many-target-lesions-in-organ", S.MAJOR, recist.too_many_target_lesions_in_organ,
         (("Tumor", ("subject", "date", "lesion", "lesion_type", "location")),)),
    Rule("RECIST004", "baseline-lesion-not-assessed", S.MAJOR, recist.baseline_lesion_not_assessed,
         (("Tumor", ("subject", "date", "lesion", "lesion_type", "diameter")),)),
    Rule("RECIST005", "baseline-scan-out-of-window", S.MAJOR, recist.baseline_scan_out_of_window,
         (("Tumor", ("subject", "date")), ("Cycles", _CYC))),
)

# Issue 11 (HCC safety): labels without dose reduction, steroids on resuming, marker ULN.
RULES = RULES + (
    Rule("DOSE010", "dose-reduction-not-allowed", S.MAJOR, dosing.dose_reduction_not_allowed,
         (("Cycles", _CYC),)),
    Rule("DOSE011", "dosed-on-steroids-above-limit", S.MAJOR, dosing.dosed_on_steroids_above_limit,
         (("Cycles", _CYC), ("AdverseEvents", ("subject", "term", "grade", "onset")),
          ("ConMeds", ("subject", "drug", "dose", "start")))),
    Rule("MK003", "marker-uln-missing", S.MAJOR, mk.marker_uln_missing,
         (("Labs", ("subject", "date", "test", "result")),)),
)

BY_CODE = {r.code: r for r in RULES}
assert len(BY_CODE) == len(RULES), "duplicate rule code"

# ---------------------------------------------------------------------------------------------
# Tumour response reads (issue 16 / 11): RECIST 1.1 measurability, iRECIST treatment beyond
# progression. Appended as one block; thresholds in the profile's [recist] / [irecist] tables.
RULES = RULES + (
    Rule("RECIST006", "target-lesion-not-measurable", S.MAJOR, recist.target_lesion_not_measurable,
         (("Tumor", ("subject", "date", "lesion", "lesion_type", "diameter")),)),
    Rule("RECIST007", "dosed-after-confirmed-progression", S.MAJOR, recist.dosed_after_confirmed_progression,
         (("Tumor", ("subject", "date", "lesion", "lesion_type")), ("Cycles", _CYC))),
)

BY_CODE = {r.code: r for r in RULES}
assert len(BY_CODE) == len(RULES), "duplicate rule code"

# ---------------------------------------------------------------------------------------------
# Study design (issue 12): arms, placebo, dose levels, continuous dosing, optional sections.
# A rule whose part of the study is absent from the profile (no [recist], no [[markers]], no
# cycle length for a daily patch ...) is "not evaluated" with the reason, never a finding.
from dataclasses import replace as _replace  # noqa: E402

from . import design as dsg  # noqa: E402
from ..derive import exposure as _exposure  # noqa: E402

PROFILE_NEEDS = {
    "DOSE001": ("schedule.cycle_days", "schedule.window_days"),
    "DOSE002": ("schedule.dose_tolerance_pct",),
    "DOSE003": ("schedule.weight_change_pct", "weight_dosing"),
    "DOSE004": ("schedule.predose_lab_days",),
    "DOSE005": ("hold_rules",),
    "DOSE009": ("schedule.cycle_days", "schedule.window_days"),
    "MK001": ("markers",), "MK002": ("markers",), "MK003": ("markers",),
    "RECIST001": ("recist",), "RECIST002": ("recist",), "RECIST003": ("recist",),
    "RECIST004": ("recist",), "RECIST005": ("recist",), "RECIST006": ("recist",), "RECIST007": ("recist",),
}
RULES = tuple(_replace(r, profile_needs=PROFILE_NEEDS[r.code]) if r.code in PROFILE_NEEDS else r for r in RULES)
RULES = RULES + (
    Rule("WB211", "arm-unknown", S.MAJOR, dsg.arm_unknown, (("Subjects", ("subject",)),), ("arms",)),
    Rule("DOSE012", "drug-not-in-arm", S.MAJOR, dsg.drug_not_in_arm,
         (("Cycles", _CYC), ("Subjects", ("subject", "arm"))), ("arms",)),
)

BY_CODE = {r.code: r for r in RULES}
assert len(BY_CODE) == len(RULES), "duplicate rule code"

# The Context's cached tables (rules/base.py, derive/), each let go by a whole check
# (check.run_rules) once the last rule that reads it has run: otherwise every one of them is
# held to the end of the rules, where the check's memory peaked (on a 600,000-result study the
# graded labs, lab codes, marker results, liver draws and RECIST tables are ~110 MiB). A table
# read after its release is built again (the same table, only slower). tests/test_release.py
# runs every rule on the sample workbooks with each shipped profile and pins that no table is
# read after its release. The administrations are read by the last rule (DOSE012): kept.
RELEASE_AFTER = {
    "LAB006": ("_derived_lab_dupes",),
    "LAB102": ("_derived_liver_draws",),
    "AE102": ("_derived_safety_tables",),
    "VS001": ("_derived_safety_aes",),
    "DOSE002": ("_derived_hold_ae_matches",),
    "DOSE008": ("_derived_cycles_drug",),
    "MK002": ("_derived_marker_results",),
    "RECIST001": ("_labs",),
    "MK003": ("_lab_rows",),
    "RECIST007": ("_derived_recist_assessments", "_derived_recist_lesions", "_derived_irecist_best",
                  "_derived_irecist_assessments"),
}
assert set(RELEASE_AFTER) <= set(BY_CODE), "RELEASE_AFTER names a rule that is not registered"

# The rules a whole check of a large workbook runs on a second thread beside the others
# (check.run_rules): they read no lab table (neither ctx.lab_rows nor ctx.labs, which the first lab
# rules spend ~0.3 s of a 600,000-result study building at ~1.5 cores), so they fill the idle
# core meanwhile. Of the Context's cached tables they read only BESIDE_READS; the main thread
# waits for them before it lets one of those go. tests/test_beside.py pins both: each of these
# rules runs with the lab tables forbidden, and reads nothing else, on every sample workbook with
# each shipped profile.
BESIDE = (*(f"WB00{i}" for i in range(1, 9)), *(f"WB1{i:02d}" for i in range(1, 13)),
          *(f"WB2{i:02d}" for i in range(1, 11)), *(f"AE0{i:02d}" for i in range(1, 14)), "VS001")
BESIDE_READS = ("_derived_cell_error_columns", "_derived_cycles_drug", "_derived_safety_aes")
assert set(BESIDE) <= set(BY_CODE), "BESIDE names a rule that is not registered"
# What the side thread builds after the BESIDE rules, if the main thread has not yet asked for
# it: the lab-free part of a table the main thread's rules will want (each builds it at most
# once, reads no lab table and of the cached tables only BESIDE_READS and its own; the same
# test pins it). The main thread cancels what has not started when it finishes the side rules.
BESIDE_WARM = (_exposure.prebuild_admin_base,)
