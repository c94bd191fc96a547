"""The reader: headers found under title rows, aliases, unknown and missing columns (and the
rules they gate), sheet name variants, formulas without a cached value, hidden sheets."""

from __future__ import annotations

import polars as pl
import pytest

from builders import (add_column, codes, delete_column, fresh, insert_empty_rows, insert_title_rows,
                      rename_header, rename_sheet, set_cell, set_study, shift_right, where)
from monitor.findings import Severity
from monitor.rules.registry import BY_CODE, RULES
from monitor.workbook.reader import WorkbookError, read_workbook


@pytest.fixture
def read(written, profile):
    def _read(sheets, **kw):
        return read_workbook(written(sheets, **kw), drugs=profile.drug_names)
    return _read


def _show(result) -> str:
    return "\n".join(f"  {f.rule} {f.where}: {f.message}" for f in result.findings) or "  (no findings)"


# ------------------------------------------------------------------ header row

def test_header_found_below_title_and_instruction_rows(read):
    s = fresh()
    insert_title_rows(s, "Labs", [["QL1604-HCC-201 - Laboratory results"],
                                  ["One row per result; units as printed by the site lab", None, "v2"], []])
    labs = read(s).get("Labs")
    assert labs.header_row == 4
    assert labs.frame["_row"].to_list()[:2] == [5, 6]
    assert labs.frame["test"].to_list()[:2] == ["ALT", "AST"]
    assert labs.letter("result") == "D"


def test_title_row_with_one_known_word_is_not_taken_for_the_header(read):
    s = fresh()
    insert_title_rows(s, "Labs", [["Subject ID list below", "Date"]])   # 'Date' alone: one hit
    labs = read(s).get("Labs")
    # a row needs two known headers; 'Subject ID list below' is not one
    assert labs.header_row == 2


def test_empty_rows_in_the_data_are_skipped_and_keep_row_numbers(read):
    s = fresh()
    insert_empty_rows(s, "Labs", 2, n=3)
    labs = read(s).get("Labs")
    assert labs.frame.height == 15
    assert labs.frame["_row"].to_list()[:4] == [2, 3, 7, 8]


def test_leading_empty_columns_shift_the_letters(read):
    s = fresh()
    shift_right(s, "Cycles", 2)
    cycles = read(s).get("Cycles")
    assert cycles.first_col_letter == "C"
    assert [cycles.letter(k) for k in ("subject", "cycle", "reason")] == ["C", "D", "K"]


# ------------------------------------------------------------------ aliases and header forms

def test_column_aliases_are_read_as_their_columns(run):
    s = fresh()
    rename_header(s, "Labs", "Subject ID", "USUBJID")
    rename_header(s, "Labs", "Date", "Collection date")
    rename_header(s, "Labs", "Test", "Lab test")
    rename_header(s, "Labs", "Result", "Value")
    rename_header(s, "AdverseEvents", "AE number", "AE #")
    rename_header(s, "AdverseEvents", "Serious", "SAE")
    rename_header(s, "Subjects", "Weight (kg)", "Baseline weight")
    result = run(s)
    assert result.findings == [], _show(result)
    labs = result.wb.get("Labs")
    assert labs.has("subject", "date", "test", "result")
    assert labs.header("date") == "Collection date"
    assert result.wb.get("AdverseEvents").header("serious") == "SAE"


def test_headers_match_ignoring_case_spaces_separators_and_units(run):
    s = fresh()
    rename_header(s, "Subjects", "Consent date", "  CONSENT_DATE ")
    rename_header(s, "Subjects", "Off-treatment date", "off treatment date")
    rename_header(s, "Subjects", "Age", "Age (years)")
    rename_header(s, "Vitals", "Systolic BP (mmHg)", "systolic-bp [mm Hg]")
    rename_header(s, "AdverseEvents", "Related to QL1604", "related_to_ql1604")
    result = run(s)
    assert result.findings == [], _show(result)
    assert result.wb.get("Subjects").has("consent_date", "off_date", "age")


# ------------------------------------------------------------------ unknown and duplicated columns

def test_unknown_column_is_kept_and_reported_as_info(run):
    s = fresh()
    add_column(s, "Labs", "Lab comment 2", ["repeat draw", None, "haemolysed"])
    result = run(s)
    assert [(f.rule, f.where, f.severity) for f in result.findings] == [("WB003", "Labs!I1", Severity.INFO.value)]
    labs = result.wb.get("Labs")
    assert labs.extra == [("Lab comment 2", "I")]
    assert labs.frame["x:Lab comment 2"].to_list()[:3] == ["repeat draw", None, "haemolysed"]


def test_duplicated_column_reads_the_first_and_reports_the_second(run):
    s = fresh()
    add_column(s, "Labs", "Value", [999])
    result = run(s)
    assert where(result, "WB004") == ["Labs!I1"]
    assert result.wb.get("Labs").frame["result"][0] == 32.0


# ------------------------------------------------------------------ missing required columns gate the rules

def _needing(sheet: str, key: str) -> set:
    return {r.code for r in RULES if any(sh == sheet and key in keys for sh, keys in r.needs)}


@pytest.mark.parametrize("sheet,header,key", [
    ("Labs", "Test", "test"),
    ("Labs", "Result", "result"),
    ("Subjects", "Subject ID", "subject"),
    ("Subjects", "Consent date", "consent_date"),
    ("Cycles", "Action", "action"),
    ("AdverseEvents", "Grade", "grade"),
    ("AdverseEvents", "Onset date", "onset"),
])
def test_missing_required_column_is_one_finding_and_its_rules_are_not_evaluated(run, sheet, header, key):
    s = fresh()
    delete_column(s, sheet, header)
    result = run(s)
    assert where(result, "WB002") == [f"{sheet}!A1"], _show(result)
    skipped = {code for code, _ in result.not_evaluated}
    needing = _needing(sheet, key)
    assert needing, f"no registered rule needs {sheet}.{key}"
    assert needing <= skipped
    fired = set(codes(result)) - {"WB002"}
    assert not fired & needing
    # no cascade: nothing but the structural finding
    assert fired == set(), _show(result)


def test_no_cascade_when_the_subject_column_is_missing(run):
    """Without Subjects.Subject ID every row of every sheet would be 'subject unknown'."""
    s = fresh()
    delete_column(s, "Subjects", "Subject ID")
    result = run(s)
    assert "WB202" not in codes(result)
    assert dict(result.not_evaluated)["WB202"] == "Subjects lacks column(s) Subject ID"


def test_missing_column_on_a_sheet_with_leading_columns_and_title_rows(run):
    s = fresh()
    delete_column(s, "AdverseEvents", "Serious")
    insert_title_rows(s, "AdverseEvents", [["Adverse events"], []])
    shift_right(s, "AdverseEvents", 1)
    result = run(s)
    assert where(result, "WB002") == ["AdverseEvents!B3"]


def test_header_row_not_found_skips_every_rule_of_the_sheet(run):
    s = fresh()
    s["Labs"][0] = ["Pt", "Day", "Analyte", "Val", "U", "Lo", "Hi", "Note"]
    set_cell(s, "Subjects", 0, "Age", 17)        # rules on other sheets still run
    result = run(s)
    assert sorted((f.rule, f.where) for f in result.findings) == [("WB001", "Labs"), ("WB111", "Subjects!C2")]
    skipped = {code for code, _ in result.not_evaluated}
    assert {c for c in BY_CODE if c.startswith("LAB")} <= skipped


# ------------------------------------------------------------------ sheets

def test_sheet_name_variants_and_aliases(run):
    s = fresh()
    rename_sheet(s, "AdverseEvents", "adverse events")
    rename_sheet(s, "Labs", "LABS")
    rename_sheet(s, "Subjects", " Patients ")
    rename_sheet(s, "Tumor", "Tumour")
    rename_sheet(s, "Cycles", "dosing")
    result = run(s)
    assert result.findings == [], _show(result)
    assert result.wb.get("AdverseEvents").name == "adverse events"
    set_cell(s, "LABS", 0, "ULN", None)
    again = run(s)
    assert where(again, "LAB008") == ["LABS!G2"], "findings name the sheet as the workbook does"


def test_extra_sheets_are_ignored(run):
    s = fresh()
    s["Notes"] = [["anything", "at all"], ["=1+1"]]
    result = run(s)
    assert result.findings == [], _show(result)


def test_optional_sheets_may_be_absent(run):
    s = fresh()
    del s["Vitals"], s["Tumor"]
    result = run(s)
    assert result.findings == [], _show(result)
    assert ("WB210", "sheet Vitals is absent") in result.not_evaluated


def test_adverse_events_may_have_no_rows(run):
    s = fresh()
    del s["AdverseEvents"][1:]
    set_cell(s, "Labs", 11, "Result", 100)     # ALT 2.5 x ULN: grade 1, needs no AE
    result = run(s)
    assert result.findings == [], _show(result)
    assert result.wb.get("AdverseEvents").frame.height == 0


@pytest.mark.parametrize("missing", ["Study", "Subjects", "Cycles", "Labs", "AdverseEvents"])
def test_missing_required_sheet_is_a_workbook_error(written, profile, missing):
    s = fresh()
    del s[missing]
    with pytest.raises(WorkbookError, match=f"required sheet missing: {missing}"):
        read_workbook(written(s), drugs=profile.drug_names)


def test_not_an_xlsx_is_a_workbook_error(tmp_path, profile):
    p = tmp_path / "site.xlsx"
    p.write_text("Subject ID,Age\n1001,58\n")
    with pytest.raises(WorkbookError, match="not a zip"):
        read_workbook(p, drugs=profile.drug_names)


def test_hidden_sheets_are_listed_and_still_checked(run):
    s = fresh()
    set_cell(s, "Vitals", 0, "Systolic BP (mmHg)", 80)
    set_cell(s, "Vitals", 0, "Diastolic BP (mmHg)", 95)
    result = run(s, hidden=("Vitals",))
    assert result.wb.hidden == ["Vitals"]
    assert where(result, "WB210") == ["Vitals!C2"], "hiding a sheet does not hide its data from the monitor"


# ------------------------------------------------------------------ formulas

def test_formula_without_cached_value_is_reported_at_its_cell(run):
    s = fresh()
    set_cell(s, "Labs", 2, "Comment", "=B4+1")
    set_cell(s, "Cycles", 1, "Reason", '=IF(E3>10,"weight based","")')
    result = run(s)
    assert where(result, "WB005") == ["Cycles!I3", "Labs!H4"], _show(result)


def test_formula_with_cached_value_is_read_as_that_value(run):
    s = fresh()
    set_cell(s, "Cycles", 1, "Dose", "=5*3")
    result = run(s, cached={("Cycles", "E3"): "15"})
    assert result.findings == [], _show(result)
    assert result.wb.get("Cycles").frame["dose"][1] == 15.0


def test_formula_on_the_study_sheet(run):
    s = fresh()
    set_study(s, "Site", '="0"&"1"')
    result = run(s)
    assert [(f.rule, f.where) for f in result.findings] == [("WB005", "Study!B3")], \
        "the cell is reported once, as a formula, not again as a blank Site"


def test_study_fields_point_at_their_cells_when_the_sheet_is_shifted(run):
    s = fresh()
    set_study(s, "Site", None)
    insert_title_rows(s, "Study", [["Study information"], []])
    shift_right(s, "Study", 2)
    result = run(s)
    assert where(result, "WB006") == ["Study!D5"], _show(result)


# ------------------------------------------------------------------ types come from the contract

def test_column_types_come_from_the_schema_not_the_data(read):
    s = fresh()
    set_cell(s, "Labs", 14, "Result", "<0.5")     # one qualified result at the end
    set_cell(s, "Cycles", 9, "Dose", 7.5)         # every other dose is whole
    wb = read(s)
    labs, cycles = wb.get("Labs").frame, wb.get("Cycles").frame
    assert labs.schema["result"] == pl.Float64 and labs["result"][14] == 0.5 and labs["result__q"][14] == "<"
    assert cycles.schema["dose"] == pl.Float64 and cycles["dose"][9] == 7.5
    assert cycles.schema["cycle"] == pl.Int64
    assert wb.get("Subjects").frame["subject"].to_list() == ["1001", "1002", "1003"]


@pytest.mark.parametrize("name", ["demo_study", "messy_site", "us_site"])
def test_cleaning_per_distinct_text_reads_the_same_frames_as_cleaning_in_place(monkeypatch, name):
    """Large sheets are cleaned per distinct cell text (reader._cleaned); forced on every sheet
    of the samples (messy_site has padded, non-breaking-space and blank cells) it must give the
    same typed frames, errors included, as stripping every cell in place."""
    from pathlib import Path

    from monitor.workbook import reader

    path = Path(__file__).resolve().parents[1] / "sample_sheets" / f"{name}.xlsx"
    in_place = read_workbook(path)
    monkeypatch.setattr(reader, "CLEAN_BY_VALUE_ROWS", 0)
    by_value = read_workbook(path)
    assert list(by_value.sheets) == list(in_place.sheets)
    for sheet, sd in in_place.sheets.items():
        assert by_value.sheets[sheet].frame.equals(sd.frame), sheet


def test_cleaning_per_distinct_text_matches_in_place_on_padded_and_blank_cells(monkeypatch):
    """The same, on the demo Labs sheet with a third of its cells padded with spaces, tabs or
    non-breaking spaces, blanked to "" or to whitespace only (and a whole row blanked)."""
    import random
    from pathlib import Path

    import fastexcel

    from monitor.workbook import reader
    from monitor.workbook.schema import SHEETS

    path = Path(__file__).resolve().parents[1] / "sample_sheets" / "demo_study.xlsx"
    raw = reader.load_sheet_frame(fastexcel.read_excel(str(path)), "Labs")
    rnd = random.Random(7)
    pads = [" {} ", "\t{}", "{}\u00a0", "", "  ", "\u00a0", "{}"]

    def mess(v):
        return v if v is None or rnd.random() > 0.33 else rnd.choice(pads).format(v)
    messy = pl.DataFrame({c: [mess(v) for v in raw.get_column(c).to_list()] for c in raw.columns},
                         schema={c: pl.String for c in raw.columns})
    messy = messy.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("  ")).otherwise(pl.col(c)).alias(c)
                               for c in raw.columns)
    labs = next(s for s in SHEETS if s.name == "Labs")
    in_place = reader.build_sheet(labs, "Labs", messy, 0, (), None)
    monkeypatch.setattr(reader, "CLEAN_BY_VALUE_ROWS", 0)
    by_value = reader.build_sheet(labs, "Labs", messy, 0, (), None)
    assert by_value.frame.equals(in_place.frame)
    assert in_place.frame.height < messy.height - 1   # the blanked row is gone


def test_columns_without_a_value_are_kept_as_lean_null_columns_with_the_same_values():
    """reader._lean rebuilds all-null columns (their saving, ~70 MB on a 600,000-row Labs sheet,
    is measured by benchmarks, not here): values, types and the other columns stay as they were."""
    from monitor.workbook.reader import _lean

    n = 50_000
    df = pl.DataFrame({"_row": range(n), "x": ["a"] * n}).with_columns(
        pl.col("x").replace_strict(["a"], [None], return_dtype=pl.String).alias("x__err"),
        pl.col("x").replace_strict(["a"], [None], return_dtype=pl.Float64).alias("x__q"),
        pl.when(pl.col("_row") == 7).then(pl.lit("bad")).alias("y__err"))
    lean = _lean(df)
    assert lean.equals(df) and lean.schema == df.schema
    assert lean.get_column("y__err").to_list() == df.get_column("y__err").to_list()   # has a value: as it was


def test_typed_columns_mapped_per_distinct_value_equal_the_plain_parse_and_share_unchanged_text():
    """parse_by_value maps each distinct text's parse back to the rows; a text column whose
    parse changes no value (test names, IDs without '.0') is the column itself, not a mapped
    copy (reader._unchanged). Both give what parsing every row in place gives."""
    from monitor.workbook import reader
    from monitor.workbook.parse import parse_column
    from monitor.workbook.schema import SHEETS

    labs = next(s for s in SHEETS if s.name == "Labs")
    spec = {c.key: c for c in labs.columns}
    n = 400
    df = pl.DataFrame({
        "s": [["1001", "1002", None, "1003"][i % 4] for i in range(n)],
        "s2": [["1001.0", "1002", None][i % 3] for i in range(n)],
        "t": [["ALT", "AST", "Hb", None][i % 4] for i in range(n)],
        "r": [["12", "<0.5", "ND", "x"][i % 4] for i in range(n)],
    })
    cols = [("s", spec["subject"]), ("s2", spec["subject"]), ("t", spec["test"]), ("r", spec["result"])]
    for (rn, c), exprs in zip(cols, reader.parse_by_value(df, cols, None)):
        got, want = df.select(exprs), df.select(parse_column(rn, c, None))
        assert got.equals(want), rn
        assert got.height == n and got.get_column(c.key).null_count() < n
    assert df.select(reader.parse_by_value(df, cols[:1], None)[0]).get_column("subject").to_list()[:4] == [
        "1001", "1002", None, "1003"]
    uniq = df.select(pl.col("s2").unique()).drop_nulls()
    parsed = uniq.select(pl.col("s2"), *parse_column("s2", spec["subject"], None))
    assert reader._unchanged(parsed, "s2") == set()          # "1001.0" -> "1001": mapped
    parsed = df.select(pl.col("t").unique()).drop_nulls().select(pl.col("t"), *parse_column("t", spec["test"], None))
    assert "test" in reader._unchanged(parsed, "t")         # names as written: the column itself
    # an output no distinct text has a value in (test__err) is a null literal, not a lookup
    kinds = {e.meta.output_name(): e.meta.is_literal(allow_aliasing=True) for e in reader._mapped_back(parsed, "t")}
    assert kinds == {"test": False, "test__err": True}
