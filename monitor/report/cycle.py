"""One cycle of one subject (the subject pages' cycle blocks and the one-cycle visit summary):
doses given against the profile's plan, the pre-dose lab panel with CTCAE grades, interim labs,
vitals, scans, the adverse events active during the cycle and the findings attached to it."""

from __future__ import annotations

import polars as pl

from .findings import fold
from .fmt import LAB_LABEL, LAB_ORDER, MONTHS, as_text, fmt_date, fmt_num, grade_css, norm, slug, yn
from .records import AERow, CycleView, DoseRow, LabCell


def ae_row(d, a: dict) -> AERow:
    g = a.get("grade")
    rel = ", ".join(f"{x}: {yn(a.get(f'related__{x}')) or '?'}" for x in d.profile.related_drug_names)
    if a.get("ongoing"):
        end = "ongoing"
    else:
        end = fmt_date(a.get("end")) or "-"
    return AERow(number=as_text(a.get("ae_number")), term=as_text(a.get("term")), verbatim=as_text(a.get("verbatim")),
                 grade=f"G{g}" if g is not None else "G?", grade_n=g, css=grade_css(g),
                 onset=fmt_date(a.get("onset") or a.get("start")) or "?", end=end,
                 serious=bool(a.get("serious")), immune=bool(a.get("immune")), related=rel,
                 outcome=as_text(a.get("outcome")), action=as_text(a.get("action")))


def lab_cell(r: dict) -> LabCell:
    test = r["test"] or "?"
    g = r["ctcae_grade"]
    v, lln, uln = r["value"], r["lln"], r["uln"]
    flag = ""
    if v is not None and uln is not None and v > uln:
        flag = "H"
    elif v is not None and lln is not None and v < lln:
        flag = "L"
    term = ""
    if g:
        term = (r["ctcae_term_high"] if (r["ctcae_grade_high"] or 0) >= (r["ctcae_grade_low"] or 0)
                else r["ctcae_term_low"]) or ""
    return LabCell(test=LAB_LABEL.get(test, test), unit=as_text(r["unit"]), value=as_text(r["result_text"]),
                   grade=f"G{g}" if g is not None else "", flag=flag, css=grade_css(g),
                   date=fmt_date(r["date"]), term=term)


def computed_responses(d, sid) -> dict:
    """scan date -> RECIST 1.1 time-point response computed by the protocol rules, if present."""
    df = d.tables.get("recist")
    if not isinstance(df, pl.DataFrame) or not {"subject", "date", "time_point_response"} <= set(df.columns):
        return {}
    sub = df.filter(pl.col("subject") == sid)
    return {x: r for x, r in zip(sub["date"].to_list(), sub["time_point_response"].to_list()) if r}


def cycle_view(d, sid, c: dict, crows, aes_raw, weight, first, usual=None) -> CycleView:
    n, day1 = c["cycle"], c["date"]
    end = c["end"]
    rows = [r for r in crows if r["cycle"] == n]
    doses, actions = dose_rows(d, rows, weight, sid, n)
    # labs of this cycle's window
    labs = [r for r in d.by_subject["labs"].get(sid, []) if r["cycle"] == n]
    pre = {}
    for r in labs:
        if r["predose"] or not d.has_predose:   # no pre-dose labs in the study: the period's latest
            pre[r["test"] or r["test_as_entered"] or "?"] = r   # sorted by date: the latest wins
    order = {t: i for i, t in enumerate(LAB_ORDER)}
    pre_cells = [lab_cell(pre[t]) for t in sorted(pre, key=lambda t: (order.get(t, len(order)), t))]
    interim = [lab_cell(r) for r in labs if d.has_predose and not r["predose"] and (r["ctcae_grade"] or 0) >= 2]
    lab_dates = ", ".join(sorted({c2.date for c2 in pre_cells}, key=lambda s: (s[7:], MONTHS.index(s[3:6]), s[:2])))
    if d.has_predose:
        note = "" if pre_cells else f"No labs within {d.predose} days before the dose."
    else:
        note = "" if pre_cells else f"No labs in the {d.cycle_word.lower()}."
    # AEs active during [day1, end]
    act = []
    for a in aes_raw:
        st, sp = a["start"], a["stop"]
        if st is None or st > end:
            continue
        if sp is not None and not a.get("ongoing") and sp < day1:
            continue
        row = ae_row(d, a)
        row.new_in_cycle = day1 <= st <= end
        act.append(row)
    vit = [v for v in d.by_subject["vitals"].get(sid, []) if v["cycle"] == n]
    vrows, vtext = [], ""
    for v in vit:
        bp = f"{fmt_num(v['sbp'])}/{fmt_num(v['dbp'])}" if v["sbp"] is not None or v["dbp"] is not None else ""
        vrows.append((fmt_date(v["date"]), bp, fmt_num(v["weight"]), as_text(v["ecog"])))
    visit = [v for v in vit if v["predose"]] or vit[:1]
    if visit:
        v = visit[-1]
        parts = []
        if v["sbp"] is not None or v["dbp"] is not None:
            parts.append(f"BP {fmt_num(v['sbp']) or '?'}/{fmt_num(v['dbp']) or '?'} mmHg")
        if v["weight"] is not None:
            parts.append(f"{fmt_num(v['weight'])} kg")
        if v["ecog"] is not None:
            parts.append(f"ECOG {v['ecog']}")
        vtext = " · ".join(parts) + (f" ({fmt_date(v['date'])})" if parts else "")
    scans = scan_lines(d, sid, n)
    status, css = cycle_status(actions)
    day = f"Day {(day1 - first).days + 1}" if first is not None else ""
    allcells = [lab_cell(r) for r in labs]
    return CycleView(
        number=n, anchor=f"s{slug(sid)}-c{n}", date=fmt_date(day1), day=day,
        period=f"{fmt_date(day1)} to {fmt_date(end)}", doses=doses, labs=pre_cells,
        lab_line=lab_line(pre_cells, usual or {}),
        lab_dates=lab_dates, labs_note=note, interim_labs=interim, all_labs=allcells,
        vitals=vtext, vitals_rows=vrows, scans=scans, aes=act,
        findings=fold(d.findings.by_cycle.get((sid, n), [])), status=status, status_css=css,
        labs_title="Pre-dose labs" if d.has_predose else f"Latest labs of the {d.cycle_word.lower()}")


def scan_lines(d, sid, n) -> list:
    """["16-AUG-2022: target sum 52 mm (2 lesions), investigator response PR"] for the scans
    in cycle `n`'s window."""
    scans = []
    computed = computed_responses(d, sid)
    tum = [t for t in d.by_subject["tumor"].get(sid, []) if t["cycle"] == n and t["date"] is not None]
    for dd in sorted({t["date"] for t in tum}):
        on = [t for t in tum if t["date"] == dd]
        tsum = sum(t["diameter"] for t in on if t["lesion_type"] == "Target" and t["diameter"] is not None)
        ntarget = sum(1 for t in on if t["lesion_type"] == "Target")
        new = sum(1 for t in on if t["lesion_type"] == "New")
        resp = next((t["inv_response"] for t in on if t["inv_response"]), "")
        text = f"{fmt_date(dd)}: target sum {fmt_num(tsum)} mm ({ntarget} lesion{'s' if ntarget != 1 else ''})"
        if new:
            text += f", {new} new lesion{'s' if new != 1 else ''}"
        text += f", investigator response {resp}" if resp else ", no investigator response"
        comp = computed.get(dd)
        if comp:
            text += f" (RECIST 1.1 computed: {comp})"
        scans.append(text)
    return scans


def dose_rows(d, rows, weight, sid=None, cycle=None):
    """One DoseRow per drug the subject gets (their arm's; every drug without arms), "not
    recorded" when the cycle has no row of it; then rows of other drugs, labelled as such."""
    out, actions = [], []
    used = set()
    mine_drugs = d.subject_drugs(sid) if sid is not None else tuple(x.name for x in d.drugs)
    arm = d.arm_of(sid) if sid is not None else None
    for drug in d.drugs:
        mine = [r for r in rows if r["drug"] is not None and d.lookup.get(norm(r["drug"])) == drug.name]
        if drug.name not in mine_drugs:
            if mine:   # recorded, but not a drug of the subject's arm (DOSE012)
                used.update(id(r) for r in mine)
                label = f"{drug.name} (not in arm {arm.name})" if arm is not None else drug.name
                for r in mine:
                    out.append(dose_row(label, r, drug, weight, ""))
                    actions.append(r["action"])
            continue
        used.update(id(r) for r in mine)
        plan = planned(d, drug, weight, None, sid, cycle)
        if not mine:
            out.append(DoseRow(drug.name, "-", plan, "not recorded", "", "missing"))
            continue
        for r in mine:
            out.append(dose_row(drug.name, r, drug, weight, planned(d, drug, weight, r["weight"], sid, cycle)))
            actions.append(r["action"])
    for r in rows:
        if id(r) not in used:
            out.append(dose_row(f"{r['drug'] or '(no drug)'} (not in the profile)", r, None, weight, ""))
            actions.append(r["action"])
    return out, actions


def planned_levels(d, drug, sid, cycle) -> list:
    """The planned dose(s) of `drug` for the subject in `cycle`: the arm's; with an unknown arm
    every level any arm has then; without arms the drug's own."""
    arm = d.arm_of(sid) if sid is not None else None
    arms = [arm] if arm is not None else list(d.profile.design_arms())
    levels = []
    for a in arms:
        ad = a.drug(drug.name)
        if ad is None:
            continue
        v = ad.dose_at(cycle)
        for x in ([v] if v is not None else ad.levels):
            if x not in levels:
                levels.append(x)
    return sorted(levels)


def planned(d, drug, weight, row_weight, sid=None, cycle=None) -> str:
    if drug is None:
        return ""
    if drug.placebo:
        return "placebo"
    levels = planned_levels(d, drug, sid, cycle)
    if not levels:
        return "no planned dose"
    if len(levels) > 1:
        return " or ".join(fmt_num(x) for x in levels) + f" {drug.unit}"
    dose = levels[0]
    if drug.unit == "mg/kg":
        w = row_weight if row_weight is not None else weight
        if w is not None:
            return f"{fmt_num(dose)} mg/kg = {fmt_num(round(dose * w))} mg at {fmt_num(w)} kg"
        return f"{fmt_num(dose)} mg/kg"
    return f"{fmt_num(dose)} {drug.unit}"


def dose_row(label, r, drug, weight, plan) -> DoseRow:
    dose, unit, w = r["dose"], r["unit"], r["weight"]
    action = r["action"] or "(no action)"
    if dose is None:
        given = "-"
    else:
        given = f"{fmt_num(dose)} {unit or '(no unit)'}"
        ww = w if w is not None else weight
        if unit == "mg/kg" and ww is not None:
            given += f" = {fmt_num(round(dose * ww))} mg"
        elif unit == "mg" and drug is not None and drug.unit == "mg/kg" and ww:
            given += f" = {fmt_num(round(dose / ww, 1))} mg/kg"
        if w is not None:
            given += f" ({fmt_num(w)} kg)"
    css = {"Given": "given", "Reduced": "changed", "Delayed": "changed"}.get(action, "notgiven")
    return DoseRow(label, given, plan, action, as_text(r["reason"]), css)


def cycle_status(actions) -> tuple:
    acts = [a for a in actions if a]
    if not acts:
        return "No dosing recorded", "notgiven"
    if all(a == "Given" for a in acts):
        return "Given", "given"
    uniq = list(dict.fromkeys(acts))
    css = "notgiven" if all(a in ("Held", "Discontinued") for a in acts) else "changed"
    return " / ".join(uniq), css


def lab_line(cells: list, usual: dict) -> list:
    """The pre-dose panel as one line of text: [(text, css)]. Values with a CTCAE grade >= 1
    carry their grade as text ("TSH 6.8 H G1") and a css class for the shade; grade-0 and
    ungraded values stay plain text (a line of plain text lays out ~10x faster than a table
    row of cells, see docs/report.md). The unit is shown when it is not the subject's usual one."""
    out, plain = [], []
    label_of = {v: k for k, v in LAB_LABEL.items()}
    for i, c in enumerate(cells):
        code = label_of.get(c.test, c.test)
        text = f"{c.test} {c.value}"
        if c.unit and usual.get(code) and c.unit != usual[code]:
            text += f" {c.unit}"
        if c.flag:
            text += f" {c.flag}"
        sep = " · " if i < len(cells) - 1 else ""
        if c.grade and c.grade != "G0":
            if plain:
                out.append(("".join(plain), ""))
                plain = []
            out.append((f"{text} {c.grade}", c.css))
            plain.append(sep)
        else:
            plain.append(text + sep)
    if plain:
        out.append(("".join(plain), ""))
    return out
