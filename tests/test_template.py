"""The workbook template: every sheet and column of the schema, notes, formats and drop-downs,
and a template filled with valid data checks clean."""

from __future__ import annotations

from datetime import date, datetime

import openpyxl
import pytest
from typer.testing import CliRunner

from monitor.check import check_workbook
from monitor.cli import app
from monitor.ctcae.terms import load_terms
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import load_profile
from monitor.workbook.schema import SHEETS, STUDY, Kind, columns_for
from monitor.workbook.template import (DATE_FORMAT, FORMATTED_ROWS, INLINE_LIST_LIMIT, INSTRUCTIONS_SHEET, LISTS_SHEET,
                                       TEXT_FORMAT, Formula, write_template)

TODAY = date(2026, 1, 1)
STUDY_IDS = {"Protocol": "QL1604-HCC-201", "Site": "01"}


@pytest.fixture(scope="module")
def profile():
    return load_profile()


@pytest.fixture(scope="module")
def template(tmp_path_factory, profile):
    path = write_template(tmp_path_factory.mktemp("tpl") / "template.xlsx", profile)
    return path, openpyxl.load_workbook(path)


def valid_two_subjects() -> dict:
    """A small realistic clean data set: two HCC subjects on QL1604 200 mg flat + bevacizumab
    15 mg/kg q21d, pre-dose labs within 3 days, one SAE reported the day the site knew."""
    d = date
    subjects = [
        {"subject": "001", "sex": "M", "age": 58, "weight": 70.0, "consent_date": d(2025, 3, 3),
         "child_pugh": "A", "bclc": "C", "ecog": 1},
        {"subject": "002", "sex": "F", "age": 66, "weight": 58.5, "consent_date": d(2025, 4, 1),
         "child_pugh": "A", "bclc": "B", "ecog": 0, "off_date": d(2025, 6, 2),
         "off_reason": "Withdrew consent"},
    ]
    cycles = []
    for cyc, day in ((1, d(2025, 3, 10)), (2, d(2025, 3, 31)), (3, d(2025, 4, 21))):
        cycles += [
            {"subject": "001", "cycle": cyc, "date": day, "drug": "QL1604", "dose": 200, "unit": "mg",
             "action": "Given"},
            {"subject": "001", "cycle": cyc, "date": day, "drug": "Bevacizumab", "dose": 15,
             "unit": "mg/kg", "weight": 70.0, "action": "Given"},
        ]
    cycles += [
        {"subject": "002", "cycle": 1, "date": d(2025, 4, 7), "drug": "QL1604", "dose": 200, "unit": "mg",
         "action": "Given"},
        {"subject": "002", "cycle": 1, "date": d(2025, 4, 7), "drug": "Bevacizumab", "dose": 15,
         "unit": "mg/kg", "weight": 58.5, "action": "Given"},
        {"subject": "002", "cycle": 2, "date": d(2025, 4, 28), "drug": "QL1604", "action": "Held",
         "reason": "Grade 3 diarrhoea (AE 1)"},
        {"subject": "002", "cycle": 2, "date": d(2025, 4, 28), "drug": "Bevacizumab", "dose": 15,
         "unit": "mg/kg", "weight": 58.0, "action": "Given"},
    ]
    labs = []

    def panel(subj, day, afp, pivka, alt=28, ast=31):
        for test, res, unit, lln, uln in (
            ("ALT", alt, "U/L", 7, 40), ("AST", ast, "U/L", 13, 40), ("BILI", 12.5, "umol/L", 3.4, 20.5),
            ("ALB", 38, "g/L", 35, 52), ("CREAT", 74, "umol/L", 45, 106), ("HGB", 131, "g/L", 120, 160),
            ("PLAT", 162, "10^9/L", 125, 350), ("NEUT", 3.4, "10^9/L", 1.8, 7.5),
            ("INR", 1.05, None, 0.8, 1.2), ("UPROT", "Neg", None, None, None),
            ("AFP", afp, "ng/mL", None, 7), ("PIVKA2", pivka, "mAU/mL", None, 40),
        ):
            labs.append({"subject": subj, "date": day, "test": test, "result": res, "unit": unit,
                         "lln": lln, "uln": uln})

    panel("001", d(2025, 3, 8), 850, 420)
    panel("001", d(2025, 3, 29), 610, 300)
    panel("001", d(2025, 4, 19), 390, 180, alt=35, ast=38)
    panel("002", d(2025, 4, 5), 96, 75)
    panel("002", d(2025, 4, 26), 80, 60)
    labs[0]["comment"] = "fasting"
    aes = [
        {"subject": "001", "ae_number": 1, "term": "Hypertension", "verbatim": "High blood pressure",
         "grade": 2, "onset": d(2025, 3, 24), "end": d(2025, 4, 14), "ongoing": "N", "serious": "N",
         "related__QL1604": "N", "related__Bevacizumab": "Y", "action": "None", "outcome": "Recovered",
         "immune": "N"},
        {"subject": "001", "ae_number": 2, "term": "Fatigue", "verbatim": "Tiredness", "grade": 1,
         "onset": d(2025, 4, 2), "ongoing": "N", "end": d(2025, 4, 30), "serious": "N",
         "related__QL1604": "Y", "related__Bevacizumab": "N", "action": "None", "outcome": "Recovered",
         "immune": "N"},
        {"subject": "002", "ae_number": 1, "term": "Diarrhea", "verbatim": "Watery diarrhoea", "grade": 3,
         "onset": d(2025, 4, 20), "end": d(2025, 5, 6), "ongoing": "N", "serious": "Y",
         "date_aware": d(2025, 4, 21), "date_reported": d(2025, 4, 21), "related__QL1604": "Y",
         "related__Bevacizumab": "N", "action": "Drug interrupted", "outcome": "Recovered", "immune": "Y"},
    ]
    vitals = [
        {"subject": "001", "date": d(2025, 3, 10), "sbp": 128, "dbp": 82, "weight": 70.0, "ecog": 1},
        {"subject": "001", "date": d(2025, 3, 31), "sbp": 148, "dbp": 92, "weight": 69.6, "ecog": 1},
        {"subject": "001", "date": d(2025, 4, 21), "sbp": 132, "dbp": 84, "weight": 69.2, "ecog": 1},
        {"subject": "002", "date": d(2025, 4, 7), "sbp": 118, "dbp": 76, "weight": 58.5, "ecog": 0},
        {"subject": "002", "date": d(2025, 4, 28), "sbp": 121, "dbp": 78, "weight": 58.0, "ecog": 0},
    ]
    tumor = []
    for day, t1, t2, response in ((d(2025, 3, 5), 42, 21, None), (d(2025, 4, 18), 33, 17, "SD")):
        tumor += [
            {"subject": "001", "date": day, "lesion": "T1", "lesion_type": "Target",
             "location": "Liver segment VII", "diameter": t1},
            {"subject": "001", "date": day, "lesion": "T2", "lesion_type": "Target",
             "location": "Lung, right lower lobe", "diameter": t2},
            {"subject": "001", "date": day, "lesion": "NT1", "lesion_type": "Non-target",
             "location": "Portal vein thrombus", "nt_status": "Present", "inv_response": response},
        ]
    return {"Subjects": subjects, "Cycles": cycles, "Labs": labs, "AdverseEvents": aes,
            "Vitals": vitals, "Tumor": tumor}


def _validations(ws) -> dict:
    """Column letter -> DataValidation covering that column's data cells."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            for col in range(rng.min_col, rng.max_col + 1):
                out[openpyxl.utils.get_column_letter(col)] = dv
    return out


def _list_values(wb, dv) -> list[str]:
    """The values a list validation offers, inline or through a named range."""
    src = dv.formula1
    if src.startswith('"'):
        return src.strip('"').split(",")
    dn = wb.defined_names[src]
    (sheet, ref), = list(dn.destinations)
    return [row[0].value for row in wb[sheet][ref.replace("$", "")]]


def _letters(ws) -> dict:
    return {c.value: c.column_letter for c in ws[1] if c.value is not None}


# ------------------------------------------------------------------ structure

def test_template_has_instructions_first_every_schema_sheet_in_order_and_a_hidden_lists_sheet_last(template):
    _, wb = template
    assert wb.sheetnames == [INSTRUCTIONS_SHEET] + [s.name for s in SHEETS] + [LISTS_SHEET]
    assert all(wb[s.name].sheet_state == "visible" for s in SHEETS)
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    assert wb.active.title == INSTRUCTIONS_SHEET


def test_every_schema_column_has_its_header_with_a_note(template, profile):
    _, wb = template
    for sheet in SHEETS:
        ws = wb[sheet.name]
        cols = columns_for(sheet, profile.drug_names)
        assert [c.value for c in ws[1]] == [c.header for c in cols], sheet.name
        for cell, col in zip(ws[1], cols):
            note = cell.comment.text
            assert col.doc in note
            assert ("Required." in note) == col.required, (sheet.name, col.name)
            if col.kind is Kind.CHOICE:
                assert all(choice in note for choice in col.choices)
            if col.min is not None and col.max is not None:
                assert f"{col.min:g}-{col.max:g}" in note


def test_adverse_events_get_one_related_column_per_profile_drug(template, profile):
    _, wb = template
    headers = [c.value for c in wb["AdverseEvents"][1]]
    assert [h for h in headers if h.startswith("Related to ")] == [f"Related to {d}" for d in profile.drug_names]


def test_headers_are_bold_frozen_and_sized_from_the_schema(template, profile):
    _, wb = template
    for sheet in SHEETS:
        ws = wb[sheet.name]
        assert ws.freeze_panes == "A2"
        assert all(c.font.bold for c in ws[1])
        if sheet is STUDY:
            continue
        for cell, col in zip(ws[1], columns_for(sheet, profile.drug_names)):
            assert ws.column_dimensions[cell.column_letter].width == col.width


def test_date_columns_are_date_formatted_and_id_columns_text_as_whole_columns(template, profile):
    """Issue 14: formats stopped at row 501 (the demo's Labs sheet has 2,206 rows); now the
    column itself carries the format, so every row a coordinator adds gets it."""
    _, wb = template
    for sheet in SHEETS[1:]:
        ws = wb[sheet.name]
        for j, col in enumerate(columns_for(sheet, profile.drug_names), start=1):
            want = {Kind.DATE: DATE_FORMAT, Kind.PARTIAL_DATE: DATE_FORMAT, Kind.ID: TEXT_FORMAT}.get(col.kind)
            if want:
                letter = ws.cell(row=1, column=j).column_letter
                assert ws.column_dimensions[letter].number_format == want, (sheet.name, col.name)


# ------------------------------------------------------------------ drop-downs

def test_every_yes_no_column_offers_y_and_n(template, profile):
    _, wb = template
    for sheet in SHEETS[1:]:
        ws = wb[sheet.name]
        dvs, letters = _validations(ws), _letters(ws)
        for col in columns_for(sheet, profile.drug_names):
            if col.kind is Kind.YESNO:
                dv = dvs[letters[col.header]]
                assert _list_values(wb, dv) == ["Y", "N"]
                assert str(dv.sqref).count(f"{letters[col.header]}2:{letters[col.header]}{FORMATTED_ROWS + 1}")


def test_every_choice_column_offers_exactly_its_choices(template):
    _, wb = template
    for sheet in SHEETS[1:]:
        ws = wb[sheet.name]
        dvs, letters = _validations(ws), _letters(ws)
        for col in sheet.columns:
            if col.kind is Kind.CHOICE:
                assert _list_values(wb, dvs[letters[col.header]]) == list(col.choices), col.name


def test_grade_drug_and_lab_test_drop_downs(template, profile):
    _, wb = template
    ae = wb["AdverseEvents"]
    assert _list_values(wb, _validations(ae)[_letters(ae)["Grade"]]) == ["1", "2", "3", "4", "5"]
    cyc = wb["Cycles"]
    assert _list_values(wb, _validations(cyc)[_letters(cyc)["Drug"]]) == list(profile.drug_names)
    labs = wb["Labs"]
    assert _list_values(wb, _validations(labs)[_letters(labs)["Test"]]) == list(load_catalogue().tests)


def test_ctcae_term_drop_down_holds_all_837_terms_on_the_hidden_sheet(template):
    _, wb = template
    ae = wb["AdverseEvents"]
    dv = _validations(ae)[_letters(ae)["CTCAE term"]]
    assert not dv.formula1.startswith('"')          # a named range, not an inline list
    (sheet, _), = list(wb.defined_names[dv.formula1].destinations)
    assert sheet == LISTS_SHEET
    terms = _list_values(wb, dv)
    assert len(terms) == 837 == len(load_terms())
    assert terms == load_terms().names()


def test_inline_lists_stay_within_excels_255_character_limit(template):
    _, wb = template
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            if dv.type == "list" and dv.formula1.startswith('"'):
                assert len(dv.formula1) <= INLINE_LIST_LIMIT


def test_columns_that_read_aliases_warn_instead_of_refusing(template):
    _, wb = template

    def style(sheet, header):
        ws = wb[sheet]
        return _validations(ws)[_letters(ws)[header]].errorStyle

    # names, aliases and other spellings are read: warn
    assert style("Labs", "Test") == "warning"
    assert style("Cycles", "Drug") == "warning"
    assert style("Subjects", "Sex") == "warning"              # Male / Female are read
    assert style("AdverseEvents", "Serious") == "warning"     # Yes / No / 1 / 0 are read
    # the list is everything that is read: refuse
    assert style("Cycles", "Action") == "stop"
    assert style("Cycles", "Unit") == "stop"
    assert style("AdverseEvents", "CTCAE term") == "stop"


# ------------------------------------------------------------------ Study sheet and data

def test_study_sheet_has_field_value_rows_with_the_profile_prefilled(template, profile):
    _, wb = template
    rows = [tuple(c.value for c in r) for r in wb["Study"].iter_rows()]
    assert rows == [("Field", "Value"), ("Protocol", None), ("Site", None),
                    ("Profile", profile.name), ("Date format", None)]


def test_study_argument_overrides_the_defaults(tmp_path, profile):
    path = write_template(tmp_path / "t.xlsx", profile,
                          study={"Protocol": "P-1", "site": "01", "Date format": "DD/MM/YYYY"})
    ws = openpyxl.load_workbook(path)["Study"]
    assert [ws[f"B{r}"].value for r in range(2, 6)] == ["P-1", "01", profile.name, "DD/MM/YYYY"]
    with pytest.raises(ValueError, match="unknown Study field"):
        write_template(tmp_path / "u.xlsx", profile, study={"Sponsor": "X"})


def test_data_values_are_written_as_typed_and_text_never_becomes_a_formula(tmp_path, profile):
    path = write_template(tmp_path / "t.xlsx", profile, data={
        "Subjects": [{"subject": "=1+1", "sex": "+M", "age": 58, "weight": 70.5,
                      "consent_date": date(2025, 3, 3), "off_date": datetime(2025, 6, 1)}],
        "Cycles": [{"subject": "001", "dose": Formula("=2*100")}],
    })
    wb = openpyxl.load_workbook(path)
    s = wb["Subjects"]
    assert (s["A2"].value, s["A2"].data_type) == ("=1+1", "s")
    assert (s["B2"].value, s["B2"].data_type) == ("+M", "s")
    assert (s["C2"].value, s["D2"].value) == (58, 70.5)
    assert s["E2"].is_date and s["E2"].value == datetime(2025, 3, 3)
    assert s["I2"].is_date
    assert (wb["Cycles"]["E2"].value, wb["Cycles"]["E2"].data_type) == ("=2*100", "f")


def test_unknown_data_sheet_or_column_key_is_refused(tmp_path, profile):
    with pytest.raises(ValueError, match="unknown data sheet"):
        write_template(tmp_path / "t.xlsx", profile, data={"Dosing": []})
    with pytest.raises(ValueError, match="unknown column key 'ages'"):
        write_template(tmp_path / "t.xlsx", profile, data={"Subjects": [{"ages": 5}]})


def test_extra_data_key_adds_a_column_outside_the_contract(tmp_path, profile):
    path = write_template(tmp_path / "t.xlsx", profile, study=STUDY_IDS,
                          data={"Labs": [{"subject": "001", "x:Lab comment 2": "see file"}]})
    assert openpyxl.load_workbook(path)["Labs"]["J1"].value == "Lab comment 2"
    result = check_workbook(path, profile, today=TODAY)
    assert ("WB003", "Labs!J1") in {(f.rule, f.where) for f in result.findings}


def test_write_is_atomic_and_replaces_an_existing_file(tmp_path, profile):
    target = tmp_path / "t.xlsx"
    target.write_bytes(b"old")
    assert write_template(target, profile) == target
    assert openpyxl.load_workbook(target).sheetnames[1] == "Study"
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]    # no temp file left


def test_workbook_properties_name_the_workbook_and_no_person(template, profile):
    _, wb = template
    assert profile.title in wb.properties.title
    assert wb.properties.creator == "monitor"
    assert wb.properties.lastModifiedBy == "monitor"


# ------------------------------------------------------------------ the template checks clean

def test_bare_template_only_asks_for_protocol_and_site(template, profile):
    path, _ = template
    result = check_workbook(path, profile, today=TODAY)
    assert sorted((f.rule, f.where) for f in result.findings) == [("WB006", "Study!B2"), ("WB006", "Study!B3")]


def test_empty_template_with_protocol_and_site_has_no_finding(tmp_path, profile):
    path = write_template(tmp_path / "t.xlsx", profile, study=STUDY_IDS)
    result = check_workbook(path, profile, today=TODAY)
    assert result.findings == []


def test_template_filled_with_valid_two_subject_data_has_no_finding(tmp_path, profile):
    path = write_template(tmp_path / "t.xlsx", profile, data=valid_two_subjects(), study=STUDY_IDS)
    result = check_workbook(path, profile, today=TODAY)
    assert [(f.rule, f.where, f.message) for f in result.findings] == []
    assert {c for c, _ in result.not_evaluated} == {"WB211", "DOSE012"}   # the seed study has no arms
    assert result.wb.sheets["Subjects"].frame.get_column("subject").to_list() == ["001", "002"]
    assert result.wb.study["site"][0] == "01"


def test_template_command_writes_the_workbook_and_prints_its_path(tmp_path):
    out = tmp_path / "tpl.xlsx"
    res = CliRunner().invoke(app, ["template", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out)
    assert openpyxl.load_workbook(out).sheetnames[1:len(SHEETS) + 1] == [s.name for s in SHEETS]
