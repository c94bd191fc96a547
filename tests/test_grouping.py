"""Findings a monitor can read (issue 12): one cause on many rows is one line in the text output,
the annotated copy's Findings sheet and the PDF listing (count, first cells, "and N more"), while
JSON and CSV keep every row with a stable group id."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import openpyxl
import pytest

from builders import PILOT_PROFILE, copy_row, d, fresh, pilot_study, set_cell
from monitor.findings import group_id, message_template, per_subject
from monitor.grouping import GROUP_MIN, Group, grouped
from monitor.reporters import to_csv, to_json, to_text
from monitor.workbook.annotate import FINDINGS_SHEET, HEADER_ROW, annotate_copy

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def with_unknown_tests(n: int, subjects=("01-701-1015", "01-701-1028")):
    """The pilot study plus `n` ALT rows entered without a unit (LAB003 lab-unit-missing, one
    finding per row: one cause on many rows)."""
    s = pilot_study()
    for i in range(n):
        s["Labs"].append([subjects[i % len(subjects)], d(2014, 2, 1 + i % 27), "ALT", 20 + i, None, 6, 34])
    return s


def repeated(result):
    """The repeated cause's findings (LAB003)."""
    return [f for f in result.findings if f.rule == "LAB003"]


# ------------------------------------------------------------------ the group id

def test_message_template_drops_values_numbers_and_dates_only():
    assert message_template("Test 'BUN' is 12.5 on 2014-02-01.") == "Test '…' is # on #-#-#."
    assert message_template("Arm is blank.") == "Arm is blank."


def test_group_id_is_the_cause_not_the_row():
    a = group_id("LAB001", "Labs", "test", message_template("Test 'BUN' is not known."))
    assert a == group_id("LAB001", "Labs", "test", message_template("Test 'PHOS' is not known."))
    assert a != group_id("LAB001", "Labs", "unit", message_template("Test 'BUN' is not known."))
    assert a != group_id("LAB002", "Labs", "test", message_template("Test 'BUN' is not known."))
    # a safety signal is per subject: two subjects' grade-3 labs without an AE are two causes
    assert per_subject("LAB101") and not per_subject("LAB001") and not per_subject("WB104")
    assert per_subject("AE007", "critical")
    assert group_id("LAB101", "Labs", "result", "t", "1001") != group_id("LAB101", "Labs", "result", "t", "1002")


def test_group_ids_are_stable_across_runs_and_row_insertions(run):
    a = run(with_unknown_tests(4), prof=PILOT_PROFILE)
    s = with_unknown_tests(4)
    s["Labs"].insert(1, ["01-701-1015", d(2013, 12, 20), "ALT", 20, "U/L", 6, 34])
    b = run(s, prof=PILOT_PROFILE)
    assert len({f.group for f in repeated(a)}) == 1
    assert {f.group for f in repeated(a)} == {f.group for f in repeated(b)}


def test_signals_of_two_subjects_are_two_groups(run):
    s = fresh()                                        # seed study: ALT 248 U/L (grade 3) of 1002 has its AE
    set_cell(s, "AdverseEvents", 2, "CTCAE term", "Fatigue")          # now LAB101 for 1002
    copy_row(s, "Labs", 11, Subject_ID=1001, Date=d(2025, 3, 28))     # and a grade-3 ALT of 1001 without AE
    res = run(s)
    lab101 = [f for f in res.findings if f.rule == "LAB101"]
    assert {f.subject for f in lab101} == {"1001", "1002"}
    assert len({f.group for f in lab101}) == 2


# ------------------------------------------------------------------ text output: grouped at 3 rows, not at 2

@pytest.mark.parametrize("n, folded", [(GROUP_MIN - 1, False), (GROUP_MIN, True), (40, True)])
def test_text_output_folds_a_cause_from_three_rows(run, n, folded):
    res = run(with_unknown_tests(n), prof=PILOT_PROFILE)
    assert len(repeated(res)) == n
    text = to_text(res, width=200)
    lines = [ln for ln in text.splitlines() if ln.startswith("MAJOR") and "LAB003" in ln]
    if folded:
        assert len(lines) == 1 and f"{n} rows like this" in text and f"+{n - 1}" in lines[0]
        assert f"{n} findings shown as 1 grouped line" in text
    else:
        assert len(lines) == n and "rows like this" not in text


def test_group_line_names_the_first_five_cells_and_how_many_more(run):
    res = run(with_unknown_tests(40), prof=PILOT_PROFILE)
    (g,) = [it for it in grouped(res.findings) if isinstance(it, Group)]
    cells = [f.cell for f in repeated(res)]
    assert g.cells_text() == "Labs!" + ", ".join(cells[:5]) + " and 35 more"
    assert g.subjects == ["01-701-1028", "01-701-1015"] or g.subjects == ["01-701-1015", "01-701-1028"]


def test_json_and_csv_keep_every_row_with_its_group(run):
    res = run(with_unknown_tests(40), prof=PILOT_PROFILE)
    data = json.loads(to_json(res))["findings"]
    assert len(data) == len(res.findings) == 40
    assert len({f["group"] for f in data}) == 1 and data[0]["group"].startswith("g")
    rows = list(csv.DictReader(io.StringIO(to_csv(res))))
    assert len(rows) == 40 and {r["group"] for r in rows} == {data[0]["group"]}


# ------------------------------------------------------------------ annotated copy and PDF listing

def test_annotated_findings_sheet_has_one_line_per_cause_but_every_cell_is_marked(run, written, tmp_path):
    s = with_unknown_tests(40)
    src = written(s)
    from builders import check
    from monitor.profile.profile import load_profile

    res = check(src, load_profile(PILOT_PROFILE))
    out = annotate_copy(src, res, tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(out)
    rows = [r for r in wb[FINDINGS_SHEET].iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]]
    assert len(rows) == 1
    sev, rule, _, where, subject, message, _, ident = rows[0][:8]   # then Status, Query, Response
    first = repeated(res)[0]
    assert (sev, rule, where) == ("MAJOR", "LAB003", f"{first.where} (+39)")
    assert "[40 rows like this: " in message and message.endswith(" and 35 more]")
    assert ident == f"group {first.group}"
    marked = [c for row in wb["Labs"].iter_rows() for c in row if c.comment is not None and "LAB003" in c.comment.text]
    assert len(marked) == 40


def test_pdf_listing_lists_causes_first_then_the_rest(run):
    from monitor.profile.profile import load_profile
    from monitor.report import build_view

    s = with_unknown_tests(40)
    set_cell(s, "Subjects", 0, "Arm", "Xan_Mid")                     # one WB211 on its own
    res = run(s, prof=PILOT_PROFILE)
    v = build_view(res, load_profile(PILOT_PROFILE), generated=NOW, tool_version="t")
    title, anchor, causes = v.findings_groups[0]
    assert anchor == "findings-causes" and len(causes) == 1 and causes[0].count == 40
    assert title.startswith("Causes on 3 or more rows: 1 cause, 40 findings")
    rest = [f for _, _, rows in v.findings_groups[1:] for f in rows]
    assert [f.rule for f in rest] == ["WB211"]
    listed = [i for _, _, rows in v.findings_groups for f in rows for i in (f.member_ids or (f.id,))]
    assert sorted(listed) == sorted(f.id for f in res.findings)
