"""The findings pages: every finding as a FindingRow, attached to the cycle (or subject) it is
on, the family x severity matrix of the overview and the listing grouped by subject."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from .fmt import SEVERITIES, family, slug
from .records import FindingRow


@dataclass
class FindingsIndex:
    rows: list = field(default_factory=list)             # [(Finding, FindingRow)] in result order
    n_new: int = 0
    by_cycle: dict = field(default_factory=dict)         # (subject, cycle) -> [FindingRow]
    by_subject_other: dict = field(default_factory=dict)  # subject -> [FindingRow] not in a cycle
    by_subject_row: dict = field(default_factory=dict)   # subject -> [FindingRow] on the Subjects row


def index_findings(d) -> FindingsIndex:
    """Attach every finding of the result to where it is: the cycle whose window holds its
    record's date, else the subject (`d` is a StudyData)."""
    prev = d.previous
    ix = FindingsIndex()
    sheet_key = {sd.name: key for key, sd in d.wb.sheets.items()} if d.wb else {}
    for f in d.result.findings:
        new = prev is not None and f.id not in prev
        ix.n_new += new
        ix.rows.append((f, FindingRow(f.id, f.severity, f.rule, f.name, f.where, f.subject or "",
                                      f.message, f.suggestion or "", new)))
    # where a finding's row is: (schema sheet, Excel row) -> (subject, cycle)
    loc = {}
    for key, df in (("Cycles", d.cycles_df.select("_row", "subject", "cycle")),
                    ("Labs", d.labs.select(pl.col("row").alias("_row"), "subject", "cycle")),
                    ("Vitals", d.with_cycle(d.vitals_df).select("_row", "subject", "cycle")),
                    ("Tumor", d.with_cycle(d.tumor_df).select("_row", "subject", "cycle")),
                    ("AdverseEvents", d.with_cycle(d.ae_df, on="start").select("_row", "subject", "cycle"))):
        for r, s, c in df.iter_rows():
            loc[(key, r)] = (s, c)
    for f, row in ix.rows:
        key = sheet_key.get(f.sheet)
        s, c = loc.get((key, f.row), (f.subject, None))
        s = s or f.subject
        if s is None:
            continue
        if key == "Subjects":
            ix.by_subject_row.setdefault(s, []).append(row)
        elif c is not None:
            ix.by_cycle.setdefault((s, c), []).append(row)
        else:
            ix.by_subject_other.setdefault(s, []).append(row)
    return ix


def findings_matrix(d) -> list:
    """[(family, {severity: n}, total)] in the families' reading order."""
    fams = {}
    for f, _ in d.findings.rows:
        fams.setdefault(family(f.rule), {s: 0 for s in SEVERITIES})[f.severity] += 1
    order = ["WB", "LAB", "AE", "VS", "DOSE", "MK", "RECIST"]
    keys = sorted(fams, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [(k, fams[k], sum(fams[k].values())) for k in keys]


def findings_groups(d, only: set | None) -> list:
    """The listing: [(title, anchor, [FindingRow])], workbook-level first, then by subject in
    the Subjects sheet's order; `only`: the subjects to list (None = all and the study level)."""
    groups, study = {}, []
    for f, row in d.findings.rows:
        if f.subject:
            groups.setdefault(f.subject, []).append(row)
        else:
            study.append(row)
    ids = d.subject_ids
    order = sorted(groups, key=lambda s: (s not in ids, ids.index(s) if s in ids else 0, s))
    out = []
    if study and only is None:
        out.append(("Workbook and study level", "findings-study", study))
    for s in order:
        if only is not None and s not in only:
            continue
        title = f"Subject {s}" + ("" if s in ids else " (not on the Subjects sheet)")
        out.append((title, f"findings-{slug(s)}", groups[s]))
    return out


def subject_counts(d, sid) -> dict:
    """severity -> number of the subject's findings."""
    nf = {s: 0 for s in SEVERITIES}
    for f, _ in d.findings.rows:
        if f.subject == sid:
            nf[f.severity] += 1
    return nf
