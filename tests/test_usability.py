"""Issue 14, as a site coordinator, a study monitor and a data manager use the tool: suggestions
written for the column ("did you mean"), a summary and the rules not evaluated in every output,
rule documentation, -h / --version / examples, progress, and batch listing every file it skips."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batch_helpers import batch, batch_json, clean_workbook
from builders import check, codes, fresh, rename_header, set_cell, set_cells, write
from monitor.cli import app
from monitor.rules.registry import RULES


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def findings_of(result, code):
    return [f for f in result.findings if f.rule == code]


# ------------------------------------------------------------------ misspelt headers, not evaluated

def test_misspelt_subject_id_header_gets_did_you_mean_at_the_header_cell(run):
    s = fresh()
    rename_header(s, "Subjects", "Subject ID", "Subjct ID")
    result = run(s)
    (f,) = findings_of(result, "WB002")
    assert f.cell == "A1" and "did you mean 'Subject ID'" in f.message
    assert f.suggestion == "The column is there, misspelt: rename 'Subjct ID' to 'Subject ID'."
    assert "WB003" not in codes(result)                         # reported once, not twice
    skipped = dict(result.not_evaluated)
    for code in ("WB209", "WB201", "DOSE007"):                  # the rules the issue saw silently dropped
        assert skipped[code] == "Subjects lacks column(s) Subject ID"


def test_a_header_nothing_like_a_contract_column_keeps_the_plain_advice(run):
    s = fresh()
    rename_header(s, "Labs", "Comment", "Courier tracking")
    result = run(s)
    (f,) = findings_of(result, "WB003")
    assert f.suggestion is None and "Did you mean" not in f.message


def test_misspelt_optional_header_gets_did_you_mean_from_wb003(run):
    s = fresh()
    rename_header(s, "Labs", "Comment", "Coment")
    (f,) = findings_of(run(s), "WB003")
    assert "Did you mean 'Comment'?" in f.message and "Comment" in f.suggestion


def test_alias_misspelling_is_recognised(run):
    s = fresh()
    rename_header(s, "Labs", "Subject ID", "Patinet ID")       # alias 'Patient ID' misspelt
    (f,) = findings_of(run(s), "WB002")
    assert "Patinet ID" in f.message and f.suggestion.startswith("The column is there")


def test_not_evaluated_rules_are_in_the_json_and_once_in_the_text(tmp_path):
    s = fresh()
    rename_header(s, "Labs", "Subject ID", "Subjct ID")
    wb = write(tmp_path / "a.xlsx", s)
    res = cli("check", wb, "--format", "json", "--out", tmp_path / "o")
    data = json.loads(res.stdout)
    assert {"rule": "LAB005", "reason": "Labs lacks column(s) Subject ID"} in data["not_evaluated"]
    assert data["summary"]["not_evaluated"] == len(data["not_evaluated"])
    assert not [f for f in data["findings"] if f["rule"] == "WB000"]
    text = cli("check", wb, "--out", tmp_path / "o").stdout
    lines = [line for line in text.splitlines() if line.startswith("not evaluated:") and "LAB005" in line]
    assert len(lines) == 1 and "Labs lacks column(s) Subject ID" in lines[0]


def _sample_sheets(path: Path, keep: int) -> dict:
    """A sample workbook as builder rows (values only), each sheet cut to `keep` data rows."""
    import openpyxl

    wb = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        out[ws.title] = rows[: keep + 1]
    return out


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("sample, keep", [("messy_site.xlsx", 60), ("demo_study.xlsx", 160)])
def test_no_rule_crashes_when_any_one_column_is_missing(tmp_path, profile, sample, keep):
    """Every registered rule, on a sample workbook (where the rules fire) with each column of each
    sheet removed in turn: never WB000 (LAB008 crashed on a Labs 'Subjct ID', DOSE004 without
    Cycles.Cycle). A rule that cannot run is listed as not evaluated instead."""
    from monitor.workbook.reader import col_index, read_workbook

    base = _sample_sheets(ROOT / "sample_sheets" / sample, keep)
    path = write(tmp_path / "base.xlsx", base)
    fired = set(codes(check(path, profile)))
    assert len(fired) >= 15                                   # the rules are really exercised
    wb = read_workbook(path, drugs=profile.drug_names)
    tried = 0
    for sd in wb.sheets.values():
        if sd.header_row is None:
            continue
        for key, (header, letter) in sd.columns.items():
            sheets = {k: [list(r) for r in v] for k, v in base.items()}
            hdr = sheets[sd.name][sd.header_row - 1]
            col = col_index(letter)
            hdr[col] = "Zq" + str(col)
            result = check(write(tmp_path / f"m{tried}.xlsx", sheets), profile)
            crashed = [f.message for f in result.findings if f.rule == "WB000"]
            assert not crashed, (sd.name, header, crashed)
            tried += 1
    assert tried >= 30


# ------------------------------------------------------------------ did you mean: values

def test_subject_id_with_other_leading_zeros_gets_did_you_mean(run):
    s = fresh()
    set_cell(s, "Subjects", 0, "Subject ID", "006")
    for i in range(0, 8):                                       # Labs rows of subject 1001 -> '06'
        set_cell(s, "Labs", i, "Subject ID", "06")
    found = [f for f in findings_of(run(s), "WB202") if "'06'" in f.message]
    assert len(found) == 8 and {f.suggestion for f in found} == {
        "Did you mean '006' (leading zeros differ)? Type the ID exactly as on the Subjects sheet."}


def test_subject_id_without_its_site_prefix_gets_did_you_mean(run):
    s = fresh()
    for i in range(3):
        set_cell(s, "Subjects", i, "Subject ID", f"07-{1001 + i}")
    set_cell(s, "Labs", 0, "Subject ID", "1001")
    f = next(f for f in findings_of(run(s), "WB202") if f.where == "Labs!A2")
    assert f.suggestion.startswith("Did you mean '07-1001' (the site prefix differs)?")


def test_subject_id_with_no_close_match_keeps_the_generic_advice(run):
    s = fresh()
    set_cell(s, "Labs", 0, "Subject ID", "ABC")
    f = next(f for f in findings_of(run(s), "WB202") if f.where == "Labs!A2")
    assert f.suggestion == "Check the ID or add the subject to the Subjects sheet."


@pytest.mark.parametrize("sheet, header, value, code, advice", [
    ("Cycles", "Dose", "7,5", "WB107", "Did you mean 7.5? Use a decimal point, not a comma."),
    ("Labs", "Result", "7,5", "LAB004", "Did you mean 7.5? Use a decimal point, not a comma."),
    ("Labs", "Result", "<0,5", "LAB004", "Did you mean <0.5? Use a decimal point, not a comma."),
    ("Labs", "Result", "1,250", "LAB004", "Did you mean 1.250 or 1250? Use a decimal point and no thousands separator."),
    ("Cycles", "Dose", "200 mg", "WB107", "Did you mean 200? 'mg' is not part of the number; put the unit in the Unit column."),
    ("Labs", "Result", "< 0.5 mg/dL", "LAB004", "Did you mean <0.5? 'mg/dL' is not part of the number; put the unit in the Unit column."),
    ("Subjects", "Weight (kg)", "72 kg", "WB107", "Did you mean 72? 'kg' is not part of the number; leave the unit out (the column is in kg)."),
])
def test_number_advice_says_did_you_mean(run, sheet, header, value, code, advice):
    s = fresh()
    set_cell(s, sheet, 0, header, value)
    (f,) = findings_of(run(s), code)
    assert f.suggestion == advice


def test_a_grade_range_gets_whole_number_advice_not_lab_result_advice(run):
    s = fresh()
    set_cell(s, "AdverseEvents", 0, "Grade", "2-3")
    (f,) = findings_of(run(s), "WB107")
    assert f.suggestion == "Enter one whole number, not a range (for a grade, the highest reached)."
    assert "12.5" not in f.suggestion and "ND" not in f.suggestion


@pytest.mark.parametrize("value, says, serial_note", [
    (2204, "is a number, not a date", False),        # not plausibly a serial: no 'days from 1900'
    (12, "is a number, not a date", False),
    (2024, "is a year alone, not a date", False),
    (12000, "read as an Excel serial date it is 1932-11-07", True),   # five digits: plausibly a serial
])
def test_a_bare_number_in_a_date_cell_is_explained_for_what_it_is(run, value, says, serial_note):
    s = fresh()
    set_cell(s, "Subjects", 0, "Consent date", value)
    (f,) = findings_of(run(s), "WB106")
    assert says in f.message
    assert ("serial" in f.message) == serial_note
    assert "counts days from 1900" not in f.message


# ------------------------------------------------------------------ JSON summary, statistics, rules, help

def test_json_summary_counts_by_severity_and_rule(tmp_path):
    s = fresh()
    set_cells(s, "Subjects", 0, Age=640)
    set_cells(s, "Subjects", 1, Age=700)
    wb = write(tmp_path / "a.xlsx", s)
    data = json.loads(cli("check", wb, "--format", "JSON", "--out", tmp_path / "o").stdout)  # any case
    assert data["summary"]["by_rule"] == {"WB111": 2}
    assert data["summary"]["by_severity"] == {"critical": 0, "major": 2, "minor": 0, "info": 0}
    assert data["summary"]["findings"] == len(data["findings"]) == 2


def test_statistics_block_ends_the_text_output(tmp_path):
    s = fresh()
    set_cells(s, "Subjects", 0, Age=640, Sex="X")
    set_cells(s, "Subjects", 1, Age=700)
    wb = write(tmp_path / "a.xlsx", s)
    out = cli("check", wb, "--statistics", "--out", tmp_path / "o").stdout.splitlines()
    i = out.index("statistics:")
    assert out[i + 1].split() == ["2", "WB111", "value-out-of-range", "[major]"]
    assert out[i + 2].split() == ["1", "WB110", "value-not-allowed", "[major]"]
    assert len(out) == i + 3
    assert "statistics:" not in cli("check", wb, "--out", tmp_path / "o").stdout


def test_rules_code_prints_what_why_and_example():
    res = cli("rules", "wb209")
    assert res.exit_code == 0
    text = res.stdout
    assert text.startswith("WB209 dosed-before-consent (critical)")
    assert "What it does:" in text and "Why it matters:" in text and "Example:" in text
    assert cli("rules", "dosed-before-consent").stdout == text
    bad = cli("rules", "XX999")
    assert bad.exit_code == 2 and "XX999" in bad.stderr


def test_every_rule_documentation_prints_its_three_sections():
    from monitor.docs import rule_doc

    for rule in RULES:
        text = rule_doc(rule)
        assert text.startswith(f"{rule.code} {rule.name} ({rule.severity.value})\n\n{rule.summary}"), rule.code
        for section in ("What it does:", "Why it matters:", "Example:"):
            assert f"\n{section}\n  " in text, (rule.code, section)


def test_dash_h_and_version_work():
    from monitor import __version__

    assert cli("-h").exit_code == 0 and "check" in cli("-h").stdout
    assert cli("--version").stdout.strip() == __version__
    assert cli("check", "-h").exit_code == 0


@pytest.mark.parametrize("command", sorted({c.name or c.callback.__name__ for c in app.registered_commands}))
def test_every_command_help_has_an_example(command):
    res = cli(command, "--help")
    assert res.exit_code == 0 and "Example: monitor" in res.stdout, res.stdout


def test_format_is_case_insensitive_and_a_wrong_one_is_one_line(tmp_path):
    wb = write(tmp_path / "a.xlsx", fresh())
    assert cli("check", wb, "--format", "Text", "--out", tmp_path / "o").exit_code == 0
    res = cli("check", wb, "--format", "xml", "--out", tmp_path / "o")
    assert res.exit_code == 2 and "--format must be text or json" in res.stderr


# ------------------------------------------------------------------ progress

def test_progress_without_a_terminal_is_plain_lines_on_stderr():
    from monitor.progress import steps

    err = io.StringIO()
    with steps("report", 3, "a.xlsx", stream=err) as p:
        p.step("checking a.xlsx")
        p.advance(1, "laid out subject 001")
    assert err.getvalue().splitlines() == ["report: checking a.xlsx", "report: laid out subject 001"]


def test_progress_on_a_terminal_is_a_bar_with_the_current_step_and_an_eta():
    from monitor.progress import steps

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    with steps("report", 3, "a.xlsx", stream=err) as p:
        assert type(p).__name__ == "_Bar"
        p.advance(1, "laying out subjects 001-012")
        p.bar.refresh()
    assert "laying out subjects 001-012" in err.getvalue() and "eta" in err.getvalue()


def test_report_keeps_its_last_stdout_line_the_pdf_path_and_reports_progress_on_stderr(tmp_path):
    wb = write(tmp_path / "a.xlsx", fresh())
    res = cli("report", wb, "--out", tmp_path / "o", "--subject", "1001", "--now", "2026-01-01")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1].endswith("a-1001-summary.pdf")
    assert "report: checking a.xlsx" in res.stderr and "laying out subject 1001" in res.stderr
    from monitor.io import own_output

    assert own_output(tmp_path / "o" / "a-1001-summary.pdf")   # a re-run may replace it


# ------------------------------------------------------------------ batch: what it does not check

def test_batch_lists_every_file_it_does_not_check_with_the_reason(tmp_path, profile):
    box = tmp_path / "inbox"
    clean_workbook(box / "site01" / "a.xlsx")
    (box / "site01" / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0legacy")
    (box / "site01" / "~$a.xlsx").write_bytes(b"lock")
    (box / "notes.txt").write_text("x")
    report = batch(box, tmp_path / "out", profile)
    ignored = {i["path"]: i["reason"] for i in batch_json(tmp_path / "out")["ignored"]}
    assert set(ignored) == {"site01/old.xls", "site01/~$a.xlsx", "notes.txt"}
    assert ".xls" in ignored["site01/old.xls"] and "save it as .xlsx" in ignored["site01/old.xls"]
    assert "lock" in ignored["site01/~$a.xlsx"].lower()
    assert "not a workbook" in ignored["notes.txt"]
    from monitor.batch.console import summary_text

    text = summary_text(report)
    for rel in ignored:
        assert f"not checked: {rel}: {ignored[rel]}" in text


def test_batch_progress_numbers_only_the_workbooks_it_checked(tmp_path, profile):
    from monitor.batch.console import PlainProgress

    box = tmp_path / "inbox"
    clean_workbook(box / "a.xlsx")
    clean_workbook(box / "b.xlsx")
    batch(box, tmp_path / "out", profile)
    clean_workbook(box / "b.xlsx", Age=65)                      # only b changed
    err = io.StringIO()
    from monitor.batch.runner import BatchOptions, run_batch

    run_batch(BatchOptions(inbox=box, out=tmp_path / "out", profile=profile, jobs=1, pdf=False),
              progress=PlainProgress(err))
    lines = [line for line in err.getvalue().splitlines() if line.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("[1/2] checked") and "b.xlsx" in lines[0]
