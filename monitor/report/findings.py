"""The findings pages: every finding as a FindingRow, attached to the cycle (or subject) it is
on, the family x severity matrix of the overview and the listing: first one line per cause
repeated on many rows (monitor.grouping: count, first cells), then the other findings by subject,
so the listing grows with the number of causes, not of rows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

from ..grouping import GROUP_MIN, SHOWN_CELLS

from .fmt import SEVERITIES, family, slug
from .records import FindingRow


LISTING_PER_RULE = 25    # rows of one rule in one findings table; the rest is one "and N more" row


def capped(rows: list, per_rule: int = LISTING_PER_RULE) -> list:
    """A findings table with at most `per_rule` rows of each rule, then one row saying how many
    more there are: 100,000 identical Labs rows (100,000 findings of one rule) would otherwise
    take WeasyPrint hours to lay out. findings.csv and the annotated copy list every finding.
    (Causes on many rows are folded first, see fold(); this bounds what is left.)"""
    seen: dict = {}
    out = []
    for r in rows:
        n = seen.get(r.rule, 0)
        seen[r.rule] = n + 1
        if n < per_rule:
            out.append(r)
    for rule, n in seen.items():
        if n > per_rule:
            first = next(r for r in rows if r.rule == rule)
            at = max(i for i, r in enumerate(out) if r.rule == rule) + 1
            out.insert(at, FindingRow("", first.severity, rule, first.name, "", first.subject,
                                      f"… and {n - per_rule:,} more {rule} findings, not listed here; "
                                      "findings.csv and the annotated copy list them all.", ""))
    return out


@dataclass
class FindingsIndex:
    rows: list = field(default_factory=list)             # [(Finding, FindingRow)] in result order
    n_new: int = 0
    by_cycle: dict = field(default_factory=dict)         # (subject, cycle) -> [FindingRow]
    by_subject_other: dict = field(default_factory=dict)  # subject -> [FindingRow] not in a cycle
    by_subject_row: dict = field(default_factory=dict)   # subject -> [FindingRow] on the Subjects row


def status_text(result, fid: str) -> str:
    """A finding's workflow status for the listing (monitor/batch/workflow.py); "" while open."""
    st = ((getattr(result, "workflow", None) or {}).get(fid)) or {}
    status = st.get("status")
    if status == "accepted":
        return f"accepted: {st.get('reason') or ''}"
    if status == "queried":
        return f"queried: {st.get('query') or ''}"
    if status == "answered":
        return f"answered: {st.get('response') or ''} (query: {st.get('query') or ''})"
    return ""


def index_findings(d) -> FindingsIndex:
    """Attach every finding of the result to where it is: the cycle whose window holds its
    record's date, else the subject (`d` is a StudyData)."""
    prev = d.previous
    ix = FindingsIndex()
    sheet_key = {sd.name: key for key, sd in d.wb.sheets.items()} if d.wb else {}
    for f in d.result.findings:
        new = prev is not None and f.id not in prev
        ix.n_new += new
        status = status_text(d.result, f.id)     # a finding someone acted on is never folded
        ix.rows.append((f, FindingRow(f.id, f.severity, f.rule, f.name, f.where, f.subject or "",
                                      f.message, f.suggestion or "", new,
                                      "" if status else (getattr(f, "group", None) or ""), status=status)))
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


def fold(rows: list, min_rows: int = GROUP_MIN) -> list:
    """FindingRows with every cause of `min_rows` or more rows folded into one row (where it
    first appears) that carries the count, the first cells and the ids it stands for."""
    by = {}
    for r in rows:
        if r.group:
            by.setdefault(r.group, []).append(r)
    out, done = [], set()
    for r in rows:
        members = by.get(r.group) if r.group else None
        if members is None or len(members) < min_rows:
            out.append(r)
        elif r.group not in done:
            done.add(r.group)
            out.append(folded_row(members))
    return capped(out)


def folded_row(members: list) -> FindingRow:
    first = members[0]
    cells, sheet = [], None
    for m in members[:SHOWN_CELLS]:
        sh, _, cell = m.where.partition("!")
        cells.append(cell if cell and sh == sheet else m.where)
        sheet = sh
    more = len(members) - len(cells)
    subjects = list(dict.fromkeys(m.subject for m in members if m.subject))
    subj = ", ".join(subjects[:5]) + (f" +{len(subjects) - 5}" if len(subjects) > 5 else "")
    return replace(first, id=first.group, where=f"{first.where} +{len(members) - 1}", subject=subj,
                   new=any(m.new for m in members), count=len(members),
                   cells=", ".join(cells) + (f" and {more} more" if more > 0 else ""),
                   member_ids=tuple(m.id for m in members))


def findings_groups(d, only: set | None) -> list:
    """The listing: [(title, anchor, [FindingRow])]: the causes on many rows first (one row
    each), then workbook-level findings, then by subject in the Subjects sheet's order;
    `only`: the subjects to list (None = all and the study level)."""
    rows = [(f, row) for f, row in d.findings.rows if only is None or f.subject in only]
    counts = {}
    for _, row in rows:
        if row.group:
            counts[row.group] = counts.get(row.group, 0) + 1
    repeated = [row for _, row in rows if row.group and counts[row.group] >= GROUP_MIN]
    groups, study = {}, []
    for f, row in rows:
        if row.group and counts[row.group] >= GROUP_MIN:
            continue
        if f.subject:
            groups.setdefault(f.subject, []).append(row)
        else:
            study.append(row)
    ids = d.subject_ids
    order = sorted(groups, key=lambda s: (s not in ids, ids.index(s) if s in ids else 0, s))
    out = []
    if repeated:
        causes = fold(repeated)
        out.append((f"Causes on {GROUP_MIN} or more rows: {len(causes)} cause{'s' if len(causes) != 1 else ''}, "
                    f"{len(repeated)} findings", "findings-causes", causes))
    if study and only is None:
        out.append(("Workbook and study level", "findings-study", capped(study)))
    for s in order:
        if only is not None and s not in only:
            continue
        title = f"Subject {s}" + ("" if s in ids else " (not on the Subjects sheet)")
        out.append((title, f"findings-{slug(s)}", capped(groups[s])))
    return out


def subject_counts(d, sid) -> dict:
    """severity -> number of the subject's findings."""
    nf = {s: 0 for s in SEVERITIES}
    for f, _ in d.findings.rows:
        if f.subject == sid:
            nf[f.severity] += 1
    return nf
