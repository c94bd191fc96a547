"""The cover and overview pages: the report's header (Meta), the data cut, the study counts
and the swimmer plot's data (time on treatment, doses, grade >= 3 AEs, responses)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from .fmt import fmt_date
from .records import Chart, Meta


def meta(d, scope, subject, cycle, tool_version) -> Meta:
    st = d.wb.study if d.wb else {}
    protocol = (st.get("protocol") or (None,))[0] or "(protocol not given)"
    site = (st.get("site") or (None,))[0] or "(site not given)"
    if scope == "study":
        title = f"Cycle safety summary - {protocol}, site {site}"
    elif scope == "subject":
        title = f"Subject {subject} - cycle safety summary - {protocol}, site {site}"
    else:
        title = f"Subject {subject}, cycle {cycle} - visit summary - {protocol}, site {site}"
    g = d.generated
    return Meta(title=title, scope=scope, protocol=protocol, site=site, profile=d.profile.name,
                profile_title=getattr(d.profile, "title", d.profile.name),
                workbook=d.result.workbook.replace("\\", "/").rsplit("/", 1)[-1],
                sha256=d.result.sha256,
                generated=g.strftime("%Y-%m-%d %H:%M UTC") if g.utcoffset() in (None, timedelta(0))
                else g.strftime("%Y-%m-%d %H:%M %z"),
                generated_iso=g.replace(microsecond=0).isoformat(),
                tool_version=tool_version, data_cut=fmt_date(data_cut(d)),
                predose_days=d.predose, history=d.previous is not None, cycle_word=d.cycle_word,
                has_predose=d.has_predose, has_tumour=d.has_tumour, has_arms=bool(d.profile.arms),
                subject_columns=tuple(c for c in ("child_pugh", "bclc", "ecog")
                                      if d.subjects_df.get_column(c).is_not_null().any()))


def data_cut(d):
    """The latest date in the workbook that is not after the run date (a typo in the year
    must not move the data cut into the future; WB112 reports those)."""
    best = None
    for df, cols in ((d.cycles_df, ["date"]), (d.labs, ["date"]), (d.vitals_df, ["date"]),
                     (d.tumor_df, ["date"]), (d.ae_df, ["start", "stop"]),
                     (d.subjects_df, ["consent_date", "off_date"])):
        for c in cols:
            s = df.get_column(c).filter(df.get_column(c) <= d.today)
            m = s.max() if s.len() else None
            if m is not None and (best is None or m > best):
                best = m
    return best


def counts(d, subjects) -> dict:
    on = sum(1 for s in subjects if s.status.startswith("On treatment"))
    ae = d.ae_df.filter(pl.col("subject").is_not_null())
    return {
        "Subjects": len(subjects),
        "On treatment": on,
        "Off treatment": len(subjects) - on,
        f"{d.cycle_word}s": d.cycle_table.height,
        "Administrations": d.cycles_df.filter(pl.col("action").is_in(["Given", "Reduced", "Delayed"])
                                              & pl.col("dose").is_not_null()).height,
        "Lab results": d.labs.height,
        "Adverse events": ae.height,
        "Grade >= 3 AEs": ae.filter(pl.col("grade") >= 3).height,
        "Serious AEs": ae.filter(pl.col("serious").fill_null(False)).height,
    }


def swimmer_charts(d, subjects, per_chart: int = 30) -> list:
    rows = []
    for s in subjects:
        ctab = d.by_subject["ctab"].get(s.id, [])
        first = d.first_dose.get(s.id)
        if first is None:
            continue
        srow = d.subject_row(s.id)
        off = srow.get("off_date")
        doses = [c["date"] for c in ctab]
        last = max(doses) if doses else first
        last_end = max((c["end"] for c in ctab), default=first)
        end = off if off is not None and off >= last else last_end
        end = min(end, d.today)
        aes = [((a["start"] - first).days, a["grade"]) for a in d.by_subject["ae"].get(s.id, [])
               if a["start"] is not None and (a["grade"] or 0) >= 3]
        resp = sorted({(t["date"], t["inv_response"]) for t in d.by_subject["tumor"].get(s.id, [])
                       if t["inv_response"] and t["date"] is not None and t["date"] >= first})
        rows.append({"subject": s.id, "end": (end - first).days, "ongoing": off is None
                     and not s.status.startswith("Off"),
                     "doses": [(x - first).days for x in doses if x >= first],
                     "aes": aes, "responses": [((x - first).days, r) for x, r in resp]})
    charts = []
    for i in range(0, len(rows), per_chart):
        block = rows[i:i + per_chart]
        title = "Time on treatment" + (f" (subjects {block[0]['subject']} to {block[-1]['subject']})"
                                       if len(rows) > per_chart else "")
        charts.append(Chart(f"swimmer-{i // per_chart + 1}.svg", "swimmer", title,
                            {"rows": block, "xmax": max([r["end"] for r in rows] + [21])}))
    return charts
