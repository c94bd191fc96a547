"""Issue 14, safe outputs: the monitor never replaces a file it did not write (unless --force), a
re-run replaces its own outputs, files get the process umask, annotating again replaces the
earlier marks, and the template covers 10,000 rows with a Unit list per test, date validation
and an Instructions sheet."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from builders import fresh, set_cell, write
from monitor.cli import app
from monitor.io import OutputError, atomic_write_text, guard_outputs, own_output
from monitor.workbook.annotate import FINDINGS_SHEET, MARKS_SHEET
from monitor.workbook.template import FORMATTED_ROWS, INSTRUCTIONS_SHEET, LISTS_SHEET, write_template

ROOT = Path(__file__).resolve().parents[1]
MESSY = ROOT / "sample_sheets" / "messy_site.xlsx"


def cli(*args, cwd=None):
    return CliRunner().invoke(app, [str(a) for a in args])


def refused(res, path) -> bool:
    err = res.stderr.strip()
    return res.exit_code == 2 and len(err.splitlines()) == 1 and str(path) in err and "--force" in err


# ------------------------------------------------------------------ never replace a foreign file

def test_template_over_a_filled_workbook_is_refused_and_the_workbook_kept(tmp_path):
    site07 = write(tmp_path / "site07.xlsx", fresh())
    before = site07.read_bytes()
    res = cli("template", site07)
    assert refused(res, site07), res.output
    assert site07.read_bytes() == before


def test_template_over_a_template_the_monitor_wrote_and_later_filled_is_refused(tmp_path, profile):
    """A coordinator fills the template in: it keeps the monitor's mark but now holds data."""
    t = tmp_path / "site07.xlsx"
    assert cli("template", t).exit_code == 0
    wb = openpyxl.load_workbook(t)
    wb["Subjects"]["A2"] = "001"
    wb.save(t)
    assert refused(cli("template", t), t)


def test_template_replaces_its_own_empty_template_and_force_replaces_anything(tmp_path):
    t = tmp_path / "t.xlsx"
    assert cli("template", t).exit_code == 0
    assert own_output(t)
    assert cli("template", t).exit_code == 0            # a re-run replaces its own output
    other = write(tmp_path / "other.xlsx", fresh())
    res = cli("template", other, "--force")
    assert res.exit_code == 0 and INSTRUCTIONS_SHEET in openpyxl.load_workbook(other).sheetnames


def test_annotate_over_another_workbook_is_refused_but_its_own_copy_is_replaced(tmp_path):
    a = write(tmp_path / "a.xlsx", fresh())
    b = write(tmp_path / "b.xlsx", fresh())
    before = b.read_bytes()
    res = cli("annotate", a, "--out", b)
    assert refused(res, b) and b.read_bytes() == before
    c = tmp_path / "c.xlsx"
    assert cli("annotate", a, "--out", c).exit_code == 0
    assert cli("annotate", a, "--out", c).exit_code == 0     # its own earlier copy
    assert cli("annotate", a, "--out", b, "--force").exit_code == 0
    assert own_output(b)


def test_check_refuses_to_replace_a_findings_json_it_did_not_write(tmp_path):
    wb = write(tmp_path / "a.xlsx", fresh())
    out = tmp_path / "o"
    out.mkdir()
    (out / "findings.json").write_text('["my own notes"]')
    res = cli("check", wb, "--out", out)
    assert refused(res, out / "findings.json")
    assert cli("check", wb, "--out", out, "--force").exit_code == 0
    assert cli("check", wb, "--out", out).exit_code == 0      # now the monitor's own


def test_own_outputs_are_recognised_by_their_marks(tmp_path, profile):
    wb = write(tmp_path / "a.xlsx", fresh())
    out = tmp_path / "o"
    assert cli("check", wb, "--out", out).exit_code == 0
    assert cli("export", wb, "--out", out / "x").exit_code == 0
    assert own_output(out / "findings.json") and own_output(out / "findings.csv")
    assert own_output(out / "x" / "labs.csv") and own_output(out / "x" / "labs.parquet")
    assert not own_output(wb)                        # a workbook from elsewhere
    (tmp_path / "n.csv").write_text("subject,value\n1,2\n")
    assert not own_output(tmp_path / "n.csv")
    (tmp_path / "n.json").write_text('{"a": 1}')
    assert not own_output(tmp_path / "n.json")


def test_the_guard_is_off_for_library_callers_and_empty_files_are_replaced(tmp_path):
    p = tmp_path / "notes.json"
    p.write_text("mine")
    atomic_write_text(p, "{}")                       # library use: no guard (tests, sample generator)
    p.write_text("mine")
    with guard_outputs(), pytest.raises(OutputError):
        atomic_write_text(p, "{}")
    p.write_text("")
    with guard_outputs():
        atomic_write_text(p, "{}")


# ------------------------------------------------------------------ modes follow the umask

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_are_created_with_the_process_umask(tmp_path, umask, mode):
    wb = write(tmp_path / "a.xlsx", fresh())
    old = os.umask(umask)
    try:
        assert cli("check", wb, "--out", tmp_path / "o").exit_code == 0
        assert cli("annotate", wb, "--out", tmp_path / "o" / "a.xlsx").exit_code == 0
        assert cli("template", tmp_path / "t.xlsx").exit_code == 0
    finally:
        os.umask(old)
    for p in (tmp_path / "o" / "findings.json", tmp_path / "o" / "findings.csv", tmp_path / "o" / "a.xlsx",
              tmp_path / "t.xlsx"):
        assert stat.S_IMODE(p.stat().st_mode) == mode, p


# ------------------------------------------------------------------ annotating again

def _comments(wb) -> dict:
    return {(ws.title, c.coordinate): c.comment.text for ws in wb.worksheets for c in ws._cells.values()
            if c.comment is not None and ws.title != FINDINGS_SHEET}


def _fills(wb) -> dict:
    return {(ws.title, c.coordinate): c.fill.fgColor.rgb for ws in wb.worksheets for c in ws._cells.values()
            if c.fill.fill_type == "solid" and ws.title != FINDINGS_SHEET}


def test_annotating_an_annotated_copy_after_a_fix_drops_the_stale_marks_and_keeps_one_findings_sheet(tmp_path):
    s = fresh()
    set_cell(s, "Subjects", 0, "Age", 640)        # WB111 on Subjects!C2
    set_cell(s, "Subjects", 1, "Sex", "X")        # WB110 on Subjects!B3
    src = write(tmp_path / "site.xlsx", s)
    first = tmp_path / "first.xlsx"
    assert cli("annotate", src, "--out", first).exit_code == 0
    wb1 = openpyxl.load_workbook(first)
    assert ("Subjects", "C2") in _comments(wb1) and ("Subjects", "B3") in _comments(wb1)
    wb1["Subjects"]["C2"] = 64                     # the coordinator fixes the age in the annotated copy
    wb1.save(first)
    second = tmp_path / "second.xlsx"
    assert cli("annotate", first, "--out", second).exit_code == 0
    wb2 = openpyxl.load_workbook(second)
    assert [n for n in wb2.sheetnames if n.lower().startswith("findings")] == [FINDINGS_SHEET]
    assert ("Subjects", "C2") not in _comments(wb2) and ("Subjects", "C2") not in _fills(wb2)
    assert ("Subjects", "B3") in _comments(wb2)
    assert _comments(wb2)[("Subjects", "B3")].count("WB110") == 1   # not piled on the old note
    assert wb2[MARKS_SHEET].sheet_state == "veryHidden"


def test_annotating_twice_restores_a_cells_own_note_and_fill(tmp_path):
    s = fresh()
    set_cell(s, "Subjects", 0, "Age", 640)
    src = write(tmp_path / "site.xlsx", s)
    wb = openpyxl.load_workbook(src)
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    wb["Subjects"]["C2"].comment = Comment("=asked the site", "Ann")
    wb["Subjects"]["D2"].fill = PatternFill(fill_type="solid", fgColor="00B050")
    wb.save(src)
    once = tmp_path / "once.xlsx"
    cli("annotate", src, "--out", once)
    twice = tmp_path / "twice.xlsx"
    cli("annotate", once, "--out", twice)
    note = openpyxl.load_workbook(twice)["Subjects"]["C2"].comment.text
    assert note.count("WB111") == 1 and note.count("asked the site") == 1
    assert note.endswith("\n=asked the site")              # the cell's own note, exactly
    assert _fills(openpyxl.load_workbook(twice))[("Subjects", "D2")].endswith("00B050")


def test_a_copy_annotated_before_the_marks_sheet_existed_is_cleaned_by_its_marks(tmp_path, profile):
    from builders import check
    from monitor.workbook.annotate import annotate_copy

    s = fresh()
    set_cell(s, "Subjects", 0, "Age", 640)
    src = write(tmp_path / "site.xlsx", s)
    old = annotate_copy(src, check(src, profile), tmp_path / "old.xlsx")
    wb = openpyxl.load_workbook(old)               # as an older version wrote it: no marks sheet
    wb.remove(wb[MARKS_SHEET])
    wb.save(old)
    new = annotate_copy(old, check(old, profile), tmp_path / "new.xlsx")
    wb = openpyxl.load_workbook(new)
    assert [n for n in wb.sheetnames if n.lower().startswith("findings")] == [FINDINGS_SHEET]
    assert _comments(wb)[("Subjects", "C2")].count("WB111") == 1


# ------------------------------------------------------------------ template

@pytest.fixture(scope="module")
def template_wb(tmp_path_factory):
    path = write_template(tmp_path_factory.mktemp("tpl") / "t.xlsx")
    return openpyxl.load_workbook(path)


def _validations(ws):
    return [(dv, str(dv.sqref)) for dv in ws.data_validations.dataValidation]


def test_template_validations_cover_at_least_10000_rows(template_wb):
    assert FORMATTED_ROWS >= 10_000
    for name in ("Subjects", "Cycles", "Labs", "AdverseEvents"):
        refs = [ref for _, ref in _validations(template_wb[name])]
        assert refs and all(ref.split(":")[-1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == str(FORMATTED_ROWS + 1)
                            for r in refs for ref in r.split()), (name, refs)


def test_template_dates_have_date_validation(template_wb):
    ws = template_wb["Labs"]
    date_dvs = [dv for dv, ref in _validations(ws) if dv.type == "date"]
    assert date_dvs and any(ref.startswith("B2") for dv in date_dvs for ref in str(dv.sqref).split())
    assert template_wb["AdverseEvents"].data_validations.dataValidation


def test_template_unit_drop_down_follows_the_test_from_the_catalogue(template_wb):
    from monitor.labs.catalogue import load_catalogue

    ws = template_wb["Labs"]
    head = {c.value: c.column_letter for c in ws[1] if c.value}
    unit_dv = [dv for dv, ref in _validations(ws) if ref.startswith(f"{head['Unit']}2")]
    assert unit_dv and "INDIRECT" in unit_dv[0].formula1 and f"${head['Test']}2" in unit_dv[0].formula1
    names = template_wb.defined_names
    alt = names["Units_ALT"].attr_text
    sheet, ref = alt.split("!")
    col = ref.split(":")[0].replace("$", "").rstrip("0123456789")
    values = [c.value for c in template_wb[LISTS_SHEET][col][1:] if c.value]
    assert set(values) == set(load_catalogue().tests["ALT"].unit_labels.values())
    for code in load_catalogue().tests:
        assert f"Units_{code}" in names, code


def test_template_has_an_instructions_sheet_with_a_colour_legend(template_wb):
    from monitor.workbook.annotate import SEVERITY_COLOURS

    ws = template_wb[INSTRUCTIONS_SHEET]
    assert template_wb.sheetnames[0] == INSTRUCTIONS_SHEET
    text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert "monitor check" in text and "Subject ID" in text
    fills = {str(c.fill.fgColor.rgb)[-6:] for row in ws.iter_rows() for c in row if c.fill.fill_type == "solid"}
    assert set(SEVERITY_COLOURS.values()) <= fills


def test_a_filled_template_with_the_instructions_sheet_checks_clean(tmp_path, profile):
    from builders import check

    path = write_template(tmp_path / "t.xlsx", profile)
    result = check(path, profile)
    assert not [f for f in result.findings if f.sheet in (INSTRUCTIONS_SHEET, LISTS_SHEET)]


def test_findings_json_is_written_exactly_as_json_indent_2(monkeypatch):
    """reporters.to_json writes with orjson (or, for what orjson refuses, json's C encoder); the
    text is byte for byte what json.dumps(..., indent=2) gives (nested summary, workflow fields,
    resolved findings, text that needs escaping, numbers, empty lists and dicts)."""
    from monitor.check import Result
    from monitor.findings import Finding
    from monitor.reporters import indented_json, to_json

    fs = [Finding(f"{i:016x}", "LAB004", "lab-result-unreadable", "major", "Labs", f"D{i}", i, "01-0\u00e9",
                  'Result "<1,5>"\n\ttab \u2028 \U0001f600 \\ end', None if i % 2 else "Use a number", "Result",
                  "g1") for i in range(5)]
    res = Result("wb.xlsx", "ab" * 32, "p", "0", "2024-01-01T00:00:00+00:00", fs, [("X1", "why \"not\"")])
    res.workflow = {fs[0].id: {"status": "accepted", "reason": "checked at source"}}
    res.new_ids = {fs[1].id}
    res.resolved = [fs[2].to_dict() | {"status": "resolved"}]
    assert to_json(res) == json.dumps(res.to_dict(), ensure_ascii=False, indent=2) + "\n"
    import orjson

    def refuse(*a, **k):
        raise orjson.JSONEncodeError("refused")
    monkeypatch.setattr(orjson, "dumps", refuse)   # then indented_json writes it: the same text
    assert to_json(res) == json.dumps(res.to_dict(), ensure_ascii=False, indent=2) + "\n"
    for obj in ({}, [], {"a": {}, "b": [], "c": [1, 2.5, None, True], "d": {"e": {"f": [{"g": 1}]}}},
                {1: "int key"}, [[{}], [[]]], "x", 0.1, -3):
        assert indented_json(obj) == json.dumps(obj, ensure_ascii=False, indent=2)


_CSV_TEXT = ["plain", "", "a,b", 'say "x"', "two\nlines", "=1+1", "+44", "-3", "@SUM(A1)", "\tTab", " lead", "trail ",
             "é 中 😀", "'quoted'", "a;b", "line\r\nend"]


def _csv_result(n: int, texts: list, workflow: bool):
    from monitor.check import Result
    from monitor.findings import Finding

    fs = [Finding(f"{i:016x}", "LAB004", texts[i % len(texts)], "major", "Labs" if i % 3 else None,
                  f"D{i}" if i % 4 else None, i if i % 5 else None, texts[(i + 1) % len(texts)],
                  texts[(i + 2) % len(texts)] or "m", texts[(i + 3) % len(texts)] if i % 2 else None,
                  texts[(i + 4) % len(texts)], None if i % 7 else "g") for i in range(n)]
    res = Result("wb.xlsx", "ab" * 32, "p", "0", "2024-01-01T00:00:00+00:00", fs, [])
    if workflow:
        res.workflow = {fs[1].id: {"status": "accepted", "reason": "=checked, \"ok\""},
                        fs[2].id: {"status": "queried", "query": "why\n?"}}
        res.new_ids = {fs[3].id}
    return res


@pytest.mark.parametrize("workflow", [False, True])
def test_findings_csv_by_polars_is_byte_for_byte_the_csv_modules(workflow):
    """A large findings.csv is written by polars (reporters._csv_by_polars); its text is exactly
    the csv module's (reporters._csv_by_module): the same quoting (commas, quotes, line feeds),
    None and "" both empty, formula-looking text behind an apostrophe (io.safe_cell), the
    workflow columns. A carriage return anywhere leaves the file to the csv module (polars would
    quote a bare CR, the module does not)."""
    from monitor import reporters

    no_cr = [t for t in _CSV_TEXT if "\r" not in t]
    res = _csv_result(1_200, no_cr, workflow)
    fast = reporters._csv_by_polars(res)
    assert fast is not None and fast == reporters._csv_by_module(res)
    assert reporters.to_csv(res) == fast
    assert "'=1+1" in fast and "'@SUM(A1)" in fast and ',"say ""x""",' in fast
    with_cr = _csv_result(1_200, _CSV_TEXT + ["bare\rcr"], workflow)
    assert reporters._csv_by_polars(with_cr) is None
    assert reporters.to_csv(with_cr) == reporters._csv_by_module(with_cr)


def test_write_outputs_writes_both_files_and_raises_the_json_error_first(tmp_path, monkeypatch):
    """findings.json is written on a second thread while findings.csv is made (their fsyncs
    overlap): both files are written and their paths returned in order; an error of the JSON write
    is raised on the caller's thread, before the CSV's when both fail, as when the JSON was
    written first; a CSV error alone is raised with the JSON written."""
    import monitor.reporters as rep
    from monitor.check import Result
    from monitor.findings import Finding

    res = Result("wb.xlsx", "ab" * 32, "p", "0", "2024-01-01T00:00:00+00:00",
                 [Finding("0" * 16, "LAB004", "lab-result-unreadable", "major", "Labs", "D2", 2, "01-001",
                          "Result 'x' is not a number.", None, "Result", "g1")], [])
    paths = rep.write_outputs(res, tmp_path / "o")
    assert [p.name for p in paths] == ["findings.json", "findings.csv"]
    assert json.loads(paths[0].read_text())["findings"][0]["rule"] == "LAB004"
    assert paths[1].read_text().splitlines()[1].startswith("0000000000000000,LAB004")

    real = rep.atomic_write_text

    def failing(names):
        def write(path, text):
            if Path(path).name in names:
                raise OSError(28, "No space left on device", str(path))
            return real(path, text)
        return write

    monkeypatch.setattr(rep, "atomic_write_text", failing({"findings.json", "findings.csv"}))
    with pytest.raises(OSError) as e:
        rep.write_outputs(res, tmp_path / "both")
    assert e.value.filename.endswith("findings.json")
    monkeypatch.setattr(rep, "atomic_write_text", failing({"findings.csv"}))
    with pytest.raises(OSError) as e:
        rep.write_outputs(res, tmp_path / "csv")
    assert e.value.filename.endswith("findings.csv") and (tmp_path / "csv" / "findings.json").is_file()
