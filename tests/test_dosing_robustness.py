"""The protocol rules (DOSE, MK, RECIST) on degenerate workbooks: empty sheets, missing columns,
missing optional sheets. Never a crash (WB000), never a finding of theirs that the data does not
support; a missing column makes a rule "not evaluated"."""

from __future__ import annotations

import pytest

from builders import delete_column, fresh

PROTOCOL = ("DOSE", "MK", "RECIST")


def _header_only(s, *sheets):
    for name in sheets:
        s[name] = s[name][:1]
    return s


CASES = {
    "empty-cycles": lambda s: _header_only(s, "Cycles"),
    "empty-labs": lambda s: _header_only(s, "Labs"),
    "empty-adverse-events": lambda s: _header_only(s, "AdverseEvents"),
    "empty-vitals-and-tumor": lambda s: _header_only(s, "Vitals", "Tumor"),
    "every-sheet-empty": lambda s: _header_only(s, "Subjects", "Cycles", "Labs", "AdverseEvents", "Vitals", "Tumor"),
    "no-optional-sheets": lambda s: [s.pop("Vitals"), s.pop("Tumor")] and s,
    "cycles-without-drug": lambda s: delete_column(s, "Cycles", "Drug"),
    "cycles-without-dose-unit-weight": lambda s: delete_column(delete_column(delete_column(
        s, "Cycles", "Dose"), "Cycles", "Unit"), "Cycles", "Weight (kg)"),
    "labs-without-result": lambda s: delete_column(s, "Labs", "Result"),
    "ae-without-grade": lambda s: delete_column(s, "AdverseEvents", "Grade"),
    "tumor-without-diameter-and-status": lambda s: delete_column(delete_column(
        s, "Tumor", "Diameter (mm)"), "Tumor", "Non-target status"),
    "tumor-without-location": lambda s: delete_column(s, "Tumor", "Location"),
    "subjects-without-off-date": lambda s: delete_column(s, "Subjects", "Off-treatment date"),
}


@pytest.mark.parametrize("mutate", CASES.values(), ids=list(CASES))
def test_protocol_rules_never_crash_or_cascade(run, mutate):
    s = fresh()
    mutate(s)
    result = run(s)
    crashed = [f.message for f in result.findings if f.rule == "WB000"]
    assert not crashed, crashed
    ours = [(f.rule, f.where, f.message) for f in result.findings if f.rule.startswith(PROTOCOL)]
    assert not ours, ours
