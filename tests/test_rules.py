"""Every rule code against its bad and good cases (rule_cases.py), plus the registry's own rules:
documented, kebab-case, problem-named, and covered by cases."""

from __future__ import annotations

import re

import pytest

from builders import (codes, copy_row, delete_column, fresh, insert_empty_rows, insert_title_rows,
                      set_cell, shift_right, where, add_column)
from monitor.findings import Severity
from monitor.rules.base import Rule
from monitor.rules.registry import BY_CODE, RETIRED, RULE_CRASHED, RULES
from rule_cases import CASES, Case


def _crash(ctx):
    raise RuntimeError("boom")


def _calm(ctx):
    return None


FAKE_RULES = {
    "crash": RULES + (Rule("ZZ901", "fake-rule-crashing", Severity.MINOR, _crash),),
    "calm": RULES + (Rule("ZZ902", "fake-rule-calm", Severity.MINOR, _calm),),
}

ALL_RULES = RULES + (RULE_CRASHED,)


def _show(result) -> str:
    return "\n".join(f"  {f.rule} {f.where}: {f.message}" for f in result.findings) or "  (no findings)"


def _apply(case: Case):
    sheets = fresh()
    case.mutate(sheets)
    cached = {(s, c): v for s, c, v in case.cached} or None
    return sheets, cached


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_rule_case(case: Case, run):
    sheets, cached = _apply(case)
    result = run(sheets, rules=FAKE_RULES.get(case.rules), cached=cached, prof=case.profile)
    got = where(result, case.code)
    if case.bad:
        assert got == sorted(case.at), f"{case.test_id}: expected {case.code} at {sorted(case.at)}\n{_show(result)}"
    else:
        assert got == [], f"{case.test_id}: {case.code} should not fire\n{_show(result)}"
    unexpected = sorted(c for c in codes(result) if c != case.code and c not in case.allow)
    assert not unexpected, f"{case.test_id}: unexpected {unexpected}\n{_show(result)}"


# ------------------------------------------------------------------ the valid study itself

def test_valid_study_has_no_findings_and_every_rule_ran(run):
    result = run(fresh())
    assert result.findings == [], _show(result)
    # every rule ran but the two of a study with arms: the seed study has none (every subject
    # gets every drug), so they are "not evaluated" with that reason
    assert {c for c, _ in result.not_evaluated} == {"WB211", "DOSE012"}
    assert all("[[arms]]" in why for _, why in result.not_evaluated)


def test_crashing_rule_is_recorded_and_the_other_rules_still_run(run):
    sheets = fresh()
    set_cell(sheets, "Subjects", 0, "Age", 17)
    result = run(sheets, rules=FAKE_RULES["crash"])
    assert where(result, "WB111") == ["Subjects!C2"]
    (crash,) = [f for f in result.findings if f.rule == "WB000"]
    assert "ZZ901" in crash.message and "RuntimeError" in crash.message and "boom" in crash.message
    assert crash.severity == RULE_CRASHED.severity.value


# ------------------------------------------------------------------ registry meta-tests

SECTIONS = ("*What it does*", "*Why it matters*", "*Example*")


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_rule_is_documented(rule):
    doc = rule.doc
    assert rule.summary, f"{rule.code}: docstring needs a one-line summary"
    for section in SECTIONS:
        assert section in doc, f"{rule.code}: docstring lacks {section}"
        after = doc.split(section, 1)[1].lstrip(":").strip()
        assert after and not after.startswith("*"), f"{rule.code}: {section} is empty"


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_rule_name_is_kebab_case_and_names_the_problem(rule):
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", rule.name), rule.name
    assert not re.match(r"(check|validate|verify|ensure|fix|detect|find)-", rule.name), \
        f"{rule.code}: {rule.name} names an action, not the problem"


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_rule_has_bad_and_good_cases(rule):
    mine = [c for c in CASES if c.code == rule.code]
    assert any(c.bad for c in mine), f"{rule.code}: add a bad case to tests/rule_cases.py"
    assert any(not c.bad for c in mine), f"{rule.code}: add a good case to tests/rule_cases.py"


def test_codes_are_family_prefix_and_three_digits_never_reused():
    codes_ = [r.code for r in ALL_RULES]
    assert len(set(codes_)) == len(codes_)
    assert all(re.fullmatch(r"[A-Z]+\d{3}", c) for c in codes_), codes_
    assert not set(codes_) & set(RETIRED)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES), "rule names must be unique"


def test_cases_are_well_formed():
    ids = [c.test_id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for c in CASES:
        assert c.code in BY_CODE or c.code == RULE_CRASHED.code, c.test_id
        assert c.code not in c.allow, c.test_id
        assert all(a in BY_CODE for a in c.allow), c.test_id
        assert bool(c.at) == c.bad, c.test_id


# ------------------------------------------------------------------ stable ids, cell references

def _problems(sheets):
    set_cell(sheets, "Labs", 11, "ULN", None)                    # LAB008 Labs!G13
    set_cell(sheets, "Subjects", 2, "Age", 17)                   # WB111 Subjects!C4
    set_cell(sheets, "AdverseEvents", 2, "Date reported", None)  # AE005 AdverseEvents!K4
    set_cell(sheets, "Cycles", 9, "Unit", None)                  # WB206 Cycles!F11
    return sheets


def test_finding_ids_stay_the_same_when_a_row_is_inserted_above(run):
    before = run(_problems(fresh()))
    assert sorted(f.where for f in before.findings) == [
        "AdverseEvents!K4", "Cycles!F11", "Labs!G13", "Subjects!C4"]

    sheets = _problems(fresh())
    copy_row(sheets, "Labs", 5, at=0, Date=None, Test="INR")     # a valid row above each record
    set_cell(sheets, "Labs", 0, "Date", "2025-03-06")
    copy_row(sheets, "Subjects", 0, at=0, Subject_ID=1000)
    copy_row(sheets, "AdverseEvents", 0, at=0, AE_number=3)
    copy_row(sheets, "Cycles", 0, at=0, Subject_ID=1000)
    after = run(sheets)
    assert sorted(f.where for f in after.findings) == [
        "AdverseEvents!K5", "Cycles!F12", "Labs!G14", "Subjects!C5"], _show(after)
    assert {f.id: f.rule for f in after.findings} == {f.id: f.rule for f in before.findings}


def test_finding_ids_stay_the_same_with_empty_rows_and_title_rows(run):
    before = run(_problems(fresh()))
    sheets = _problems(fresh())
    for name in ("Labs", "Subjects", "AdverseEvents", "Cycles"):
        insert_title_rows(sheets, name, [["QL1604-HCC-201, site 01"], []])
        insert_empty_rows(sheets, name, 0)
    after = run(sheets)
    assert sorted(f.where for f in after.findings) == [
        "AdverseEvents!K7", "Cycles!F14", "Labs!G16", "Subjects!C7"], _show(after)
    assert {f.id for f in after.findings} == {f.id for f in before.findings}


def test_duplicate_ids_of_one_record_are_distinct_and_stable(run):
    sheets = fresh()
    copy_row(sheets, "Labs", 0)
    copy_row(sheets, "Labs", 0)
    first = run(sheets)
    assert where(first, "LAB005") == ["Labs!D17", "Labs!D18"]
    assert len({f.id for f in first.findings}) == 2
    again = run(sheets)
    assert [f.id for f in again.findings] == [f.id for f in first.findings]


def test_cell_references_with_title_rows_empty_rows_and_leading_empty_columns(run):
    """Findings name the cell as Excel shows it: the header on row 4 (two title rows and a
    blank line above), two empty rows inside the data, the table starting in column C."""
    sheets = fresh()
    # problems first, by the valid study's own row numbers ...
    set_cell(sheets, "Labs", 0, "ULN", None)             # LAB008, first data row
    set_cell(sheets, "Labs", 11, "ULN", None)            # LAB008, below the empty rows
    set_cell(sheets, "Labs", 1, "Comment", "=1+1")       # WB005, formula without cached value
    add_column(sheets, "Labs", "Lab comment 2", ["x"])   # WB003, unknown column after Comment
    set_cell(sheets, "Subjects", 2, "Age", 17)           # WB111
    delete_column(sheets, "AdverseEvents", "Grade")      # WB002 on the header row
    # ... then the layout a coordinator might make
    for name, shift in (("Labs", 2), ("Subjects", 1), ("AdverseEvents", 3)):
        insert_title_rows(sheets, name, [[f"{name} - QL1604-HCC-201"], ["Site 01, one row per record"], []])
        shift_right(sheets, name, shift)
    insert_empty_rows(sheets, "Labs", 3, n=2)
    insert_empty_rows(sheets, "Subjects", 1)

    result = run(sheets)
    assert where(result, "LAB008") == ["Labs!I18", "Labs!I5"], _show(result)
    assert where(result, "WB005") == ["Labs!J6"]
    assert where(result, "WB003") == ["Labs!K4"]
    assert where(result, "WB111") == ["Subjects!D8"]
    assert where(result, "WB002") == ["AdverseEvents!D4"]
    assert set(codes(result)) == {"LAB008", "WB005", "WB003", "WB111", "WB002"}, _show(result)
    lab = [f for f in result.findings if f.rule == "LAB008"]
    assert {f.column for f in lab} == {"ULN"} and {f.row for f in lab} == {5, 18}
    assert {f.subject for f in lab} == {"1001", "1002"}
