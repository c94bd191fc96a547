"""The annotated copy: finding cells coloured and commented, a linked Findings sheet, formula-safe
text, and the original workbook left byte for byte as it was."""

from __future__ import annotations

import zipfile
from datetime import date

import openpyxl
import pytest
from typer.testing import CliRunner

from monitor.check import Result, check_workbook
from monitor.cli import app
from monitor.findings import Finding
from monitor.io import sha256_file
from monitor.profile.profile import load_profile
from monitor.workbook.annotate import (FINDINGS_SHEET, FINDINGS_SHEET_ALT, HEADER_ROW, SEVERITY_COLOURS,
                                       annotate_copy)
from monitor.workbook.template import write_template

TODAY = date(2026, 1, 1)
STUDY_IDS = {"Protocol": "QL1604-HCC-201", "Site": "01"}
EVIL = '=HYPERLINK("http://example.invalid/x","click")'


@pytest.fixture(scope="module")
def profile():
    return load_profile()


def small_data(bad: dict | None = None) -> dict:
    """One clean subject, one dose, one lab, one AE; `bad` overrides (sheet, row, key) cells."""
    data = {
        "Subjects": [{"subject": "001", "sex": "M", "age": 58, "weight": 70.0,
                      "consent_date": date(2025, 3, 3)}],
        "Cycles": [{"subject": "001", "cycle": 1, "date": date(2025, 3, 10), "drug": "QL1604",
                    "dose": 200, "unit": "mg", "action": "Given"}],
        "Labs": [{"subject": "001", "date": date(2025, 3, 8), "test": "ALT", "result": 30, "unit": "U/L",
                  "lln": 7, "uln": 40}],
        "AdverseEvents": [{"subject": "001", "ae_number": 1, "term": "Fatigue", "grade": 1,
                           "onset": date(2025, 3, 20), "end": date(2025, 4, 1), "ongoing": "N",
                           "serious": "N", "related__QL1604": "Y", "related__Bevacizumab": "N"}],
    }
    for (sheet, i, key), value in (bad or {}).items():
        while len(data.setdefault(sheet, [])) <= i:
            data[sheet].append({})
        data[sheet][i][key] = value
    return data


@pytest.fixture(scope="module")
def checked(tmp_path_factory, profile):
    """A workbook with known problems, its check result, and the annotated copy."""
    data = small_data({
        ("Subjects", 0, "age"): 640,                       # Subjects!C2 out of range
        ("Subjects", 1, "subject"): EVIL,                   # a formula-looking Subject ID ...
        ("Subjects", 1, "sex"): "F",
        ("Subjects", 1, "age"): 7,                          # ... whose row has a finding: Subjects!C3
        ("Subjects", 1, "weight"): 60,
        ("Subjects", 1, "consent_date"): date(2025, 3, 3),
        ("Labs", 1, "subject"): "+1",                       # unknown subject Labs!A3, subject '+1'
        ("Labs", 1, "date"): date(2025, 3, 8),
        ("Labs", 1, "test"): "AST",
        ("Labs", 1, "result"): 20,
        ("Labs", 1, "unit"): "U/L",
        ("Labs", 1, "uln"): 40,
        ("Cycles", 0, "action"): "Skipped",                 # Cycles!H2 not allowed
    })
    tmp_path = tmp_path_factory.mktemp("annotate")
    src = tmp_path / "site.xlsx"
    write_template(src, profile, data=data, study=STUDY_IDS)
    result = check_workbook(src, profile, today=TODAY)
    out = annotate_copy(src, result, tmp_path / "out" / "site-annotated.xlsx")
    return src, result, out


def _finding(rule="WB110", severity="major", sheet="Labs", cell=None, row=None, subject="001",
             message="m", suggestion=None, n=[0]):
    n[0] += 1
    return Finding(id=f"id{n[0]}", rule=rule, name="some-problem", severity=severity, sheet=sheet,
                   cell=cell, row=row, subject=subject, message=message, suggestion=suggestion)


def _result(path, findings) -> Result:
    return Result(str(path), sha256_file(path), "ql1604_bev_hcc", "0", "2026-01-01T00:00:00+00:00", findings)


def _cells_changed(src, out, attr):
    """(sheet, cell) whose `attr` differs between the original and the copy, original sheets only."""
    a, b = openpyxl.load_workbook(src), openpyxl.load_workbook(out)
    changed = set()
    for ws in a.worksheets:
        wb_ws = b[ws.title]
        rows = max(ws.max_row, wb_ws.max_row)
        cols = max(ws.max_column, wb_ws.max_column)
        for r in range(1, rows + 1):
            for c in range(1, cols + 1):
                x, y = ws.cell(r, c), wb_ws.cell(r, c)
                if attr == "fill":
                    differ = (x.fill.fill_type, x.fill.fgColor.rgb) != (y.fill.fill_type, y.fill.fgColor.rgb)
                else:
                    differ = (x.comment.text if x.comment else None) != (y.comment.text if y.comment else None)
                if differ:
                    changed.add((ws.title, y.coordinate))
    return changed


def _findings_rows(ws):
    return [r for r in ws.iter_rows(min_row=HEADER_ROW + 1) if r[0].value]


# ------------------------------------------------------------------ marking cells

def test_annotate_marks_exactly_the_finding_cells(checked):
    src, result, out = checked
    expected = {(f.sheet, f.cell) for f in result.findings}
    assert ("Subjects", "C2") in expected and ("Cycles", "H2") in expected and ("Labs", "A3") in expected
    assert _cells_changed(src, out, "fill") == expected
    assert _cells_changed(src, out, "comment") == expected


def test_finding_cell_gets_its_severity_colour_and_a_comment_line(checked):
    _, result, out = checked
    wb = openpyxl.load_workbook(out)
    f = next(f for f in result.findings if (f.sheet, f.cell) == ("Cycles", "H2"))
    cell = wb["Cycles"]["H2"]
    assert cell.fill.fgColor.rgb.endswith(SEVERITY_COLOURS[f.severity])
    assert cell.comment.text == f"MAJOR {f.rule} {f.name}: {f.message} -> {f.suggestion}"


def test_cell_with_several_findings_takes_the_worst_colour_and_lists_all(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    minor = _finding(rule="LAB005", severity="minor", cell="D2", message="first")
    critical = _finding(rule="WB201", severity="critical", cell="D2", message="second")
    out = annotate_copy(src, _result(src, [minor, critical]), tmp_path / "a.xlsx")
    cell = openpyxl.load_workbook(out)["Labs"]["D2"]
    assert cell.fill.fgColor.rgb.endswith(SEVERITY_COLOURS["critical"])
    assert cell.comment.text.splitlines() == ["CRITICAL WB201 some-problem: second",
                                              "MINOR LAB005 some-problem: first"]


def test_row_finding_colours_the_rows_first_cell_and_sheet_finding_only_the_summary(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    row_level = _finding(severity="info", cell=None, row=2)
    sheet_level = _finding(severity="minor", sheet="Labs", cell=None, row=None)
    nowhere = _finding(severity="major", sheet=None, cell=None, row=None)
    out = annotate_copy(src, _result(src, [row_level, sheet_level, nowhere]), tmp_path / "a.xlsx")
    assert _cells_changed(src, out, "fill") == {("Labs", "A2")}
    wb = openpyxl.load_workbook(out)
    assert wb["Labs"]["A2"].fill.fgColor.rgb.endswith(SEVERITY_COLOURS["info"])
    rows = _findings_rows(wb[FINDINGS_SHEET])
    assert len(rows) == 3
    links = [r[3].hyperlink.location if r[3].hyperlink else None for r in rows]
    assert links == ["'Labs'!A2", None, None]


def test_an_existing_cell_note_is_kept_below_the_findings(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    f = _finding(cell="C1", message="header problem")          # C1 carries the template's note
    out = annotate_copy(src, _result(src, [f]), tmp_path / "a.xlsx")
    text = openpyxl.load_workbook(out)["Labs"]["C1"].comment.text
    assert text.startswith("MAJOR WB110 some-problem: header problem")
    assert "A test code (ALT)" in text


# ------------------------------------------------------------------ the Findings sheet

def test_findings_sheet_comes_first_and_lists_every_finding_with_a_link(checked):
    _, result, out = checked
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == FINDINGS_SHEET
    assert wb.active.title == FINDINGS_SHEET
    assert [ws.sheet_view.tabSelected for ws in wb.worksheets].count(True) == 1
    ws = wb[FINDINGS_SHEET]
    assert [c.value for c in ws[HEADER_ROW]][:7] == ["Severity", "Rule", "Name", "Where", "Subject",
                                                     "Message", "Suggestion"]
    rows = _findings_rows(ws)
    assert len(rows) == len(result.findings)
    for row, f in zip(rows, result.findings):
        assert (row[0].value, row[1].value, row[2].value, row[3].value) == (
            f.severity.upper(), f.rule, f.name, f.where)
        assert row[3].hyperlink.location == f"'{f.sheet}'!{f.cell}"
        assert row[0].fill.fgColor.rgb.endswith(SEVERITY_COLOURS[f.severity])
    assert ws.auto_filter.ref == f"A{HEADER_ROW}:K{HEADER_ROW + len(result.findings)}"   # to Response
    assert [c.value for c in ws[HEADER_ROW]][7:] == ["Finding ID", "Status", "Query", "Response"]
    assert ws.freeze_panes == f"A{HEADER_ROW + 1}"
    assert all(ws.column_dimensions[c].width > 8 for c in "ABCDEFG")


def test_findings_sheet_has_a_legend_of_the_colours(checked):
    _, result, out = checked
    ws = openpyxl.load_workbook(out)[FINDINGS_SHEET]
    legend = {c.value.split(" ")[0]: c.fill.fgColor.rgb for c in ws[2] if c.value and c.fill.fill_type}
    assert {k: v[-6:] for k, v in legend.items()} == SEVERITY_COLOURS


def test_formula_looking_text_is_neutralised_in_the_findings_sheet(checked):
    _, result, out = checked
    subjects = {f.subject for f in result.findings}
    assert {EVIL, "+1"} <= subjects                     # the check reports them as written
    ws = openpyxl.load_workbook(out)[FINDINGS_SHEET]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert "'" + EVIL in values and "'+1" in values
    assert EVIL not in values and "+1" not in values


def test_messages_and_suggestions_are_neutralised_too(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    f = _finding(cell="C2", message="=cmd|' /C calc'!A0", suggestion="@SUM(1)", subject="-3")
    out = annotate_copy(src, _result(src, [f]), tmp_path / "a.xlsx")
    row = _findings_rows(openpyxl.load_workbook(out)[FINDINGS_SHEET])[0]
    assert (row[4].value, row[5].value, row[6].value) == ("'-3", "'=cmd|' /C calc'!A0", "'@SUM(1)")
    assert all(c.data_type == "s" for c in row if c.value is not None)


def test_findings_sheet_name_taken_by_the_workbook_uses_the_monitor_name(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    wb = openpyxl.load_workbook(src)
    wb.create_sheet("findings")["A1"] = "the site's own notes"
    wb.save(src)
    out = annotate_copy(src, _result(src, [_finding(cell="C2")]), tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == FINDINGS_SHEET_ALT
    assert wb["findings"]["A1"].value == "the site's own notes"


def test_no_findings_still_writes_a_copy_that_says_so(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    result = check_workbook(src, profile, today=TODAY)
    assert result.findings == []
    out = annotate_copy(src, result, tmp_path / "a.xlsx")
    ws = openpyxl.load_workbook(out)[FINDINGS_SHEET]
    assert ws.cell(HEADER_ROW + 1, 1).value == "No findings."
    assert _cells_changed(src, out, "fill") == set()


# ------------------------------------------------------------------ the original and the copy

def test_original_workbook_is_byte_identical_after_annotate(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data({("Subjects", 0, "age"): 640}),
                         study=STUDY_IDS)
    before = sha256_file(src)
    result = check_workbook(src, profile, today=TODAY)
    annotate_copy(src, result, tmp_path / "a.xlsx")
    assert sha256_file(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx", "s.xlsx"]   # no temp file left


def test_annotate_refuses_to_write_over_the_original(tmp_path, profile):
    from monitor.workbook.reader import WorkbookError

    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    before = sha256_file(src)
    with pytest.raises(WorkbookError, match="overwrite"):
        annotate_copy(src, _result(src, []), src)
    assert sha256_file(src) == before


def test_checking_the_annotated_copy_gives_the_same_findings(checked, profile):
    _, result, out = checked
    again = check_workbook(out, profile, today=TODAY)
    assert [f.id for f in again.findings] == [f.id for f in result.findings]


def _as_xlsm(src, dst):
    """A macro-enabled copy of `src`: the xlsm content type and a (dummy) VBA project part."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"</Types>", b'<Override PartName="/xl/vbaProject.bin" '
                                    b'ContentType="application/vnd.ms-office.vbaProject"/></Types>')
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.'
                                    b'microsoft.com/office/2006/relationships/vbaProject" '
                                    b'Target="vbaProject.bin"/></Relationships>')
            zout.writestr(item, data)
        zout.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really a VBA project")
    return dst


def test_xlsm_input_gives_an_xlsx_copy_without_macros(tmp_path, profile):
    plain = write_template(tmp_path / "s.xlsx", profile, data=small_data({("Subjects", 0, "age"): 640}),
                           study=STUDY_IDS)
    src = _as_xlsm(plain, tmp_path / "site.xlsm")
    result = check_workbook(src, profile, today=TODAY)
    out = annotate_copy(src, result, tmp_path / "copy.xlsm")
    assert out == tmp_path / "copy.xlsx" and out.exists()
    assert not (tmp_path / "copy.xlsm").exists()
    with zipfile.ZipFile(out) as z:
        assert "xl/vbaProject.bin" not in z.namelist()
        types = z.read("[Content_Types].xml")
    assert b"macroEnabled" not in types and b"vbaProject" not in types
    assert openpyxl.load_workbook(out)["Subjects"]["C2"].comment is not None


def test_annotate_command_writes_the_copy_and_prints_its_path(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data({("Subjects", 0, "age"): 640}),
                         study=STUDY_IDS)
    out = tmp_path / "copy.xlsx"
    res = CliRunner().invoke(app, ["annotate", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == str(out)
    assert openpyxl.load_workbook(out).sheetnames[0] == FINDINGS_SHEET


def test_finding_inside_a_merged_range_marks_the_ranges_first_cell(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    wb = openpyxl.load_workbook(src)
    wb["Labs"].merge_cells("H2:I2")
    wb.save(src)
    out = annotate_copy(src, _result(src, [_finding(cell="I2", message="in a merge")]), tmp_path / "a.xlsx")
    ws = openpyxl.load_workbook(out)["Labs"]
    assert ws["H2"].comment.text == "MAJOR WB110 some-problem: in a merge"
    assert ws["H2"].fill.fgColor.rgb.endswith(SEVERITY_COLOURS["major"])


def test_finding_pointing_outside_the_sheet_is_listed_without_a_mark(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    out = annotate_copy(src, _result(src, [_finding(cell="ZZZ9999999")]), tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(out)
    (row,) = _findings_rows(wb[FINDINGS_SHEET])
    assert row[3].hyperlink is None
    assert _cells_changed(src, out, "fill") == set()


def test_annotated_copy_keeps_the_templates_drop_downs(checked):
    src, _, out = checked
    a, b = openpyxl.load_workbook(src), openpyxl.load_workbook(out)
    for name in a.sheetnames:
        assert [(dv.formula1, str(dv.sqref)) for dv in a[name].data_validations.dataValidation] == \
               [(dv.formula1, str(dv.sqref)) for dv in b[name].data_validations.dataValidation]
    assert list(b.defined_names) == list(a.defined_names)
