"""The data of each subject's chart (charts.py draws it): tumour markers, liver tests in x ULN
and the sum of target-lesion diameters over time, with the dosing periods shaded."""

from __future__ import annotations

from datetime import timedelta

from .fmt import LAB_LABEL, LIVER, MARKERS, slug
from .records import Chart


def subject_charts(d, sid, ctab, crows, first) -> list:
    labs = d.by_subject["labs"].get(sid, [])
    tumor = d.by_subject["tumor"].get(sid, [])
    dates = [r["date"] for r in labs if r["date"] is not None] + [c["date"] for c in ctab] \
        + [t["date"] for t in tumor if t["date"] is not None]
    dates = [x for x in dates if x <= d.today]
    xlim = (min(dates) - timedelta(days=7), max(dates) + timedelta(days=7)) if dates else None
    # dosing periods: a cycle with a drug actually given shades [dose date, next dose)
    given = {r["cycle"] for r in crows if r["action"] in ("Given", "Reduced", "Delayed") and r["dose"] is not None}
    spans = []
    for c in ctab:
        if c["cycle"] not in given:
            continue
        a = c["date"]
        b = c["end"] + timedelta(days=1)
        if spans and spans[-1][1] >= a:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    panels = {}
    # tumour markers, straight from the graded labs (SI units)
    for m in (x for x in MARKERS if x in d.marker_tests):   # only the markers the study follows
        label = LAB_LABEL.get(m, m)
        unit = "ng/mL" if m == "AFP" else "mAU/mL"
        pts = [(r["date"], r["value_si"]) for r in labs if r["test"] == m and r["value_si"] is not None
               and r["date"] is not None and r["date"] <= d.today and r["value_si"] > 0]
        pts = list(dict.fromkeys(pts))   # identical rows are one point, not 100,000 in an SVG
        if not pts:
            panels[m] = {"title": label, "empty": f"No {label} results."}
            continue
        ulns = [r["uln_si"] for r in labs if r["test"] == m and r["uln_si"]]
        prof = next((mk for mk in d.profile.markers if mk.get("test") == m), {})
        before = [p for p in pts if first is not None and p[0] <= first]
        after = [p for p in pts if first is not None and p[0] > first]
        panels[m] = {"title": f"{label} ({unit}, log scale)", "label": label, "unit": unit, "points": pts,
                     "uln": ulns[-1] if ulns else None, "baseline": before[-1][1] if before else None,
                     "nadir": min(after, key=lambda p: (p[1], p[0])) if after else None,
                     "fall_pct": prof.get("response_fall_pct")}
    liver = {}
    for t in LIVER:
        pts = [(r["date"], r["value_si"] / r["uln_si"]) for r in labs if r["test"] == t and r["value_si"] is not None
               and r["uln_si"] and r["date"] is not None and r["date"] <= d.today and r["value_si"] > 0]
        if pts:
            liver[t] = list(dict.fromkeys(pts))   # identical rows: one point
    panels["liver"] = ({"title": "ALT, AST, bilirubin (x ULN, log scale)", "series": liver} if liver else
                       {"title": "ALT, AST, bilirubin (x ULN)", "empty": "No ALT, AST or bilirubin results with a ULN."})
    sums, resp, new = {}, {}, set()
    for t in tumor:
        x = t["date"]
        if x is None or x > d.today:
            continue
        if t["lesion_type"] == "Target" and t["diameter"] is not None:
            sums[x] = sums.get(x, 0.0) + t["diameter"]
        if t["inv_response"]:
            resp.setdefault(x, t["inv_response"])
        if t["lesion_type"] == "New":
            new.add(x)
    from .view_response import computed_sums   # the computed RECIST 1.1 sums when the table exists
    sums = {x: v for x, v in computed_sums(d.tables, sid).items() if x <= d.today} or sums
    if not d.has_tumour:
        pass                      # a study without tumour assessments: no target-lesion panel
    elif sums:
        pts = sorted(sums.items())
        before = [p for p in pts if first is not None and p[0] <= first]
        panels["tumour"] = {"title": "Sum of target-lesion diameters (mm) and investigator response",
                            "points": pts, "responses": sorted(resp.items()), "new": sorted(new),
                            "baseline": (before[-1] if before else pts[0])[1]}
    else:
        panels["tumour"] = {"title": "Sum of target-lesion diameters", "empty": "No target-lesion measurements."}
    if not dates:
        return []
    what = (["markers"] if any(k in panels for k in MARKERS) else []) + ["liver tests"] \
        + (["target lesions"] if "tumour" in panels else [])
    return [Chart(f"chart-{slug(sid)}.svg", "subject", f"Subject {sid}: " + ", ".join(what),
                  {"xlim": xlim, "spans": spans, "panels": panels, "rows": 2 if len(panels) >= 3 else 1},
                  note=chart_note(d, panels))]


def chart_note(d, panels: dict) -> str:
    """How to read the subject chart, naming only the panels it has."""
    period = "dosing period" if d.continuous else "dose date to the next cycle"
    parts = [f"Grey bands: periods with a drug given ({period})."]
    if any(k in panels for k in MARKERS):
        parts.append("Markers: dashed line the site's ULN, dotted line the profile's response threshold (a fall of "
                     "the stated percentage from the last value before the first dose), circled point the nadir "
                     "after the first dose.")
    parts.append("Liver tests: each value divided by its own ULN; Hy's law lines at 3x ULN (ALT/AST) and 2x ULN "
                 "(bilirubin).")
    if "tumour" in panels:
        parts.append("Target lesions: sum of the Target diameters per scan date, labelled with the investigator's "
                     "response.")
    return " ".join(parts)
