"""The report's view model: plain, picklable records built from a check Result.

Everything the PDF shows is decided in the view modules, as text: dates, doses, lab values with
their CTCAE grade, the adverse events active in a cycle, the findings attached to it. The
template only reads these records; charts are drawn from the plain series kept here (charts.py).
Nothing in the view modules writes markup.

One module per page kind, all reading one StudyData (data.py: typed frames, cycle windows):

| module        | builds                                                         |
| ------------- | -------------------------------------------------------------- |
| records.py    | the dataclasses the template reads                             |
| overview.py   | Meta, study counts, swimmer-plot data                          |
| subject.py    | SubjectView (header, AEs, derived protocol values)             |
| cycle.py      | CycleView (doses, pre-dose labs, AEs, vitals, scans, findings)  |
| chart_data.py | the data of each subject's chart                               |
| findings.py   | findings attached to cycles, the matrix and the listing        |

What is shown is read from the workbook and the CTCAE grades (monitor.derive.labs); protocol
derivations (dose intensity, marker response, RECIST time-point response) fill in from the
tables `monitor.export.build_tables` returns once they exist (see docs/report.md).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from . import overview
from .cycle import lab_line
from .data import StudyData
from .findings import LISTING_PER_RULE, capped, findings_groups, findings_matrix
from .fmt import fmt_date, fmt_num, slug
from .records import (AERow, Chart, CycleView, DoseRow, FindingRow, LabCell, Meta, ReportError,
                      ReportView, SubjectView)
from .subject import subject_view

__all__ = ["AERow", "Chart", "CycleView", "DoseRow", "FindingRow", "LISTING_PER_RULE", "LabCell", "Meta",
           "ReportError", "ReportView", "SubjectView", "build_view", "capped", "fmt_date", "fmt_num", "lab_line",
           "slug"]


def build_view(result, profile, *, generated: datetime, tool_version: str, subject: str | None = None,
               cycle: int | None = None, previous_ids: set | None = None, tables: dict | None = None,
               labs: pl.DataFrame | None = None) -> ReportView:
    """Build the view model of a whole-study report, one subject's report (`subject`) or the
    one-cycle summary (`subject` and `cycle`). `generated` and `tool_version` are passed in so
    that the same inputs give the same report. `previous_ids`: finding ids of an earlier run
    (marks the new ones); None when there is no history."""
    if cycle is not None and subject is None:
        raise ReportError("--cycle needs --subject: the one-cycle summary is for one subject")
    wb = result.wb
    tables = tables or {}
    if labs is None:
        labs = tables.get("labs")
    if labs is None:
        from ..derive.labs import graded_labs
        from ..labs.catalogue import load_catalogue

        labs = graded_labs(wb.get("Labs"), wb.get("Cycles"), load_catalogue())
    d = StudyData(result, profile, generated, labs, previous_ids, tables)
    ids = d.subject_ids
    if subject is not None and subject not in ids:
        known = ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else "")
        raise ReportError(f"subject {subject!r} is not on the Subjects sheet (subjects: {known or 'none'})")
    scope = "study" if subject is None else ("subject" if cycle is None else "cycle")
    chosen = ids if subject is None else [subject]
    subjects = [subject_view(d, s) for s in ids]
    by_id = {s.id: s for s in subjects}
    view = ReportView(
        meta=overview.meta(d, scope, subject, cycle, tool_version), counts=overview.counts(d, subjects),
        subjects_table=subjects, findings_matrix=findings_matrix(d), severity_totals=result.by_severity(),
        severe_aes=[(s.id, ae) for s in subjects for ae in s.aes if (ae.grade_n or 0) >= 3],
        swimmer=overview.swimmer_charts(d, subjects) if scope == "study" else [],
        subjects=[by_id[s] for s in chosen],
        findings_groups=findings_groups(d, None if subject is None else {subject}),
        n_findings=len(result.findings), n_new=d.findings.n_new,
        not_evaluated=list(result.not_evaluated or []),
    )
    if scope == "cycle":
        sv = by_id[subject]
        match = [c for c in sv.cycles if c.number == cycle]
        if not match:
            have = ", ".join(str(c.number) for c in sv.cycles) or "none"
            raise ReportError(f"subject {subject} has no cycle {cycle} (cycles: {have})")
        view.cycle, view.cycle_subject = match[0], sv
        view.findings_groups = findings_groups(d, {subject})
    return view
