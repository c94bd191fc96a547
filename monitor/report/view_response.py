"""The report's tumour-response view: RECIST 1.1, iRECIST and mRECIST reads side by side.

Read from the `recist` table of monitor.export.build_tables (columns of monitor.derive.recist,
irecist_* of monitor.derive.irecist, mrecist_* of monitor.derive.mrecist) by column name; a column
that is absent (no [irecist] in the profile, no Viable diameter column) leaves its part out.

    response_rows(tables, sid)     one ResponseRow per assessment: the three reads, the
                                   investigator's response, and whether the subject was on
                                   treatment beyond an unconfirmed progression (iUPD) then.
    response_summary(tables, sid)  label -> text lines for the subject's facts: best overall
                                   iRECIST / mRECIST response, treatment beyond progression.
Plain records and text only; the template lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl


@dataclass
class ResponseRow:
    date: str
    sum_mm: str          # "65 mm", "44 mm (2 of 3 measured)", "-" when no target was measured
    recist: str          # RECIST 1.1 time-point response (computed)
    irecist: str         # iRECIST time-point response, "" without the read
    mrecist: str         # mRECIST response with the sum of viable diameters, "" without the read
    investigator: str
    note: str            # "treated beyond progression", "confirms iUPD of 22-AUG-2023", ...
    css: str             # "" | "beyond" (on treatment after iUPD) | "confirmed" (iCPD)


def _fmt_date(d) -> str:
    from .view import fmt_date

    return fmt_date(d) if isinstance(d, date) else ""


def _num(v) -> str:
    from .view import fmt_num

    return fmt_num(v, 1) if v is not None else ""


def _subject(tables: dict, sid: str) -> pl.DataFrame | None:
    df = tables.get("recist")
    if not isinstance(df, pl.DataFrame) or not {"subject", "date", "time_point_response"} <= set(df.columns):
        return None
    sub = df.filter(pl.col("subject") == sid).sort("date")
    return sub if sub.height else None


def response_rows(tables: dict, sid: str) -> list[ResponseRow]:
    sub = _subject(tables, sid)
    if sub is None:
        return []
    out = []
    for r in sub.to_dicts():
        if r.get("sum_diameters") is not None:
            total = f"{_num(r['sum_diameters'])} mm"
        elif r.get("sum_measured") is not None:
            total = f"{_num(r['sum_measured'])} mm ({r.get('n_measured')} of {r.get('n_targets')} measured)"
        else:
            total = "-" if r.get("n_targets") else "no targets"
        ir = r.get("irecist_time_point_response") or ""
        mr = r.get("mrecist_time_point_response") or ""
        if mr and r.get("mrecist_sum_viable") is not None:
            mr += f" ({_num(r['mrecist_sum_viable'])} mm viable)"
        note, css = "", ""
        if ir == "iUPD":
            css = "beyond"
            iupd = r.get("irecist_iupd_date")
            note = ("unconfirmed progression: treatment may continue" if iupd == r["date"]
                    else f"iUPD of {_fmt_date(iupd)} not confirmed")
        elif ir == "iCPD":
            css = "confirmed"
            note = "progression confirmed: treatment ends" if r.get("irecist_confirms_iupd") else "after iCPD"
        if r.get("is_baseline"):
            note = "baseline"
        if r.get("reappeared_after_cr"):
            note = (note + "; " if note else "") + "lesion back after a CR"
        out.append(ResponseRow(date=_fmt_date(r["date"]), sum_mm=total, recist=r.get("time_point_response") or "",
                               irecist=ir, mrecist=mr, investigator=r.get("investigator_response") or "",
                               note=note, css=css))
    return out


def response_summary(tables: dict, sid: str) -> dict:
    sub = _subject(tables, sid)
    out = {}
    if sub is None:
        return out
    r = sub.to_dicts()[0]
    if r.get("best_overall_irecist_response"):
        out["Best overall response (iRECIST)"] = r["best_overall_irecist_response"]
        first, icpd = r.get("irecist_first_iupd_date"), r.get("irecist_icpd_date")
        if first is not None:
            n = r.get("irecist_doses_after_first_iupd") or 0
            text = f"{n} administration{'s' if n != 1 else ''} after the first iUPD ({_fmt_date(first)})"
            if icpd is not None:
                k = r.get("irecist_doses_after_icpd") or 0
                text += f"; iCPD {_fmt_date(icpd)}, {k} after it"
            out["Treatment beyond progression"] = text
    if r.get("mrecist_best_overall_response"):
        out["Best overall response (mRECIST)"] = r["mrecist_best_overall_response"]
    return out


def computed_sums(tables: dict, sid: str) -> dict:
    """scan date -> the RECIST 1.1 sum of the measurable baseline targets (complete scans only), for
    the tumour chart; {} without the recist table."""
    sub = _subject(tables, sid)
    if sub is None or "sum_diameters" not in sub.columns:
        return {}
    return {d: v for d, v in zip(sub["date"].to_list(), sub["sum_diameters"].to_list()) if v is not None}
