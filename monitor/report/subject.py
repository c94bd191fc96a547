"""One subject's section: the header (demographics, status, first and last dose, latest
response, worst AE grade), the usual lab units, every AE, the cycles, the chart and the values
derived by the protocol rules (dose intensity, computed best overall response, markers)."""

from __future__ import annotations

from datetime import date

import polars as pl

from .chart_data import subject_charts
from .cycle import ae_row, cycle_view
from .findings import fold, subject_counts
from .fmt import LAB_LABEL, LAB_ORDER, MARKERS, as_text, fmt_date, fmt_num, slug
from .records import SubjectView


def subject_view(d, sid: str) -> SubjectView:
    srow = d.subject_row(sid)
    ctab = d.by_subject["ctab"].get(sid, [])
    crows = d.by_subject["cycles"].get(sid, [])
    first = d.first_dose.get(sid)
    # the last day dosed: the last dose date; with continuous dosing the end of the last period
    last = max((min(r["end_date"] or r["date"], d.today) if d.continuous else r["date"]
                for r in crows if r["date"] is not None and r["date"] <= d.today
                and r["action"] in ("Given", "Reduced", "Delayed") and r["dose"] is not None), default=None)
    off, reason = srow.get("off_date"), srow.get("off_reason")
    if off is not None:
        status = f"Off treatment {fmt_date(off)}" + (f": {reason}" if reason else "")
    elif reason:
        status = f"Off treatment (date not readable): {reason}"
    elif first is None:
        status = "Not dosed"
    else:
        status = "On treatment"
    aes = [ae_row(d, a) for a in d.by_subject["ae"].get(sid, [])]
    tumor = d.by_subject["tumor"].get(sid, [])
    resp = [(t["date"], t["inv_response"]) for t in tumor if t["inv_response"] and t["date"] is not None]
    latest = max(resp)[1] + f" ({fmt_date(max(resp)[0])})" if resp else ""
    worst = max((a.grade_n for a in aes if a.grade_n is not None), default=None)
    weight = srow.get("weight")
    usual = usual_units(d, sid)
    order = {t: i for i, t in enumerate(LAB_ORDER)}
    lab_units = ", ".join(f"{LAB_LABEL.get(t, t)} {usual[t]}"
                          for t in sorted(usual, key=lambda t: (order.get(t, len(order)), t)))
    cycles = [cycle_view(d, sid, c, crows, aes_raw=d.by_subject["ae"].get(sid, []),
                         weight=weight, first=first, usual=usual) for c in ctab]
    sv = SubjectView(
        id=sid, anchor=f"subject-{slug(sid)}", sex=as_text(srow.get("sex")), age=as_text(srow.get("age")),
        weight=(fmt_num(weight) + " kg") if weight is not None else "",
        child_pugh=as_text(srow.get("child_pugh")), bclc=as_text(srow.get("bclc")), ecog=as_text(srow.get("ecog")),
        consent=fmt_date(srow.get("consent_date")), first_dose=fmt_date(first), last_dose=fmt_date(last),
        status=status, n_cycles=len(ctab), latest_response=latest,
        worst_grade=f"G{worst}" if worst is not None else "", n_findings=subject_counts(d, sid), charts=[],
        cycles=cycles, aes=aes, subject_findings=fold(d.findings.by_subject_row.get(sid, [])),
        other_findings=fold(d.findings.by_subject_other.get(sid, [])), lab_units=lab_units)
    arm = d.arm_of(sid)
    sv.arm = arm.name if arm is not None else as_text(srow.get("arm"))
    sv.charts = subject_charts(d, sid, ctab, crows, first)
    sv.derived = derived(d, sid)
    from .view_response import response_rows, response_summary   # tumour response reads, one call site
    sv.derived.update(response_summary(d.tables, sid))
    sv.responses = response_rows(d.tables, sid)
    return sv


def usual_units(d, sid) -> dict:
    """test -> the unit the subject's results of that test are most often in."""
    units = {}
    for r in d.by_subject["labs"].get(sid, []):
        if r["test"] and r["unit"]:
            units.setdefault(r["test"], {}).setdefault(r["unit"], 0)
            units[r["test"]][r["unit"]] += 1
    return {t: max(sorted(u.items()), key=lambda kv: kv[1])[0] for t, u in units.items()}


def derived(d, sid) -> dict:
    """Values from the protocol-rules tables (`dosing`, `recist`, `markers` of
    monitor.export.build_tables) when they exist, read by column name; a table or column
    that is absent leaves its line out."""
    out = {}

    def table(name, *cols):
        df = d.tables.get(name)
        if not isinstance(df, pl.DataFrame) or not {"subject", *cols} <= set(df.columns):
            return None
        return df.filter(pl.col("subject") == sid)

    def first(df, col):
        vals = [v for v in df.get_column(col).to_list() if v is not None] if col in df.columns else []
        return vals[0] if vals else None

    t = table("dosing", "drug", "dose_intensity")
    if t is not None and t.height:
        parts = []
        for drug in d.drugs:
            v = first(t.filter(pl.col("drug") == drug.name), "dose_intensity")
            if isinstance(v, (int, float)):
                parts.append(f"{drug.name} {v * 100:.0f}%")
        if parts:
            out["Dose intensity"] = ", ".join(parts)
        days = first(t, "time_on_treatment_days")
        if days is not None:
            out["Time on treatment"] = f"{days} days"
    r = table("recist", "best_overall_response")
    if r is not None and r.height:
        bor = first(r, "best_overall_response")
        if bor:
            text = str(bor)
            if first(r, "response_confirmed") is True:
                text += " (confirmed)"
            prog = first(r, "progression_date")
            if prog is not None:
                text += f"; progression {fmt_date(prog) if isinstance(prog, date) else prog}"
            out["Best overall response (RECIST 1.1, computed)"] = text
    m = table("markers", "marker", "response_confirmed", "progression_confirmed")
    if m is not None and m.height:
        parts = []
        for mk in MARKERS:
            mm = m.filter(pl.col("marker") == mk)
            if not mm.height:
                continue
            if any(v is True for v in mm.get_column("progression_confirmed").to_list()):
                state = "progression confirmed"
            elif any(v is True for v in mm.get_column("response_confirmed").to_list()):
                state = "response confirmed"
            else:
                state = "no confirmed response or progression"
            parts.append(f"{LAB_LABEL.get(mk, mk)} {state}")
        if parts:
            out["Markers"] = ", ".join(parts)
    return out
