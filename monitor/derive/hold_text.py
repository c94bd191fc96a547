"""A hold rule of the profile ([[hold_rules]]) in words, from its data (derive/holds.py checks it)."""

from __future__ import annotations


def describe_rule(h: dict, units: dict | None = None) -> str:
    """A hold rule in words, from its data: 'hold QL1604 for ALT or AST > 3 x ULN (baseline <= 1 x
    ULN)', 'permanently discontinue Bevacizumab for AE group bleeding grade >= 3'.
    `units`: lab code -> SI unit, shown after a minimum value."""
    w = h["when"]
    parts = []
    if "lab" in w:
        labs = " or ".join(w["lab"])
        unit = (units or {}).get(w["lab"][0], "")
        if "min_value" in w:
            txt = f"{labs} >= {w['min_value']:g} {unit}".rstrip()
        elif "x_uln_above" in w:
            txt = f"{labs} > {w['x_uln_above']:g} x ULN"
        elif "x_uln_at_least" in w:
            txt = f"{labs} >= {w['x_uln_at_least']:g} x ULN"
        else:
            txt = f"{labs} grade >= {w['min_grade']}"
        band = []
        if "baseline_x_uln_above" in w:
            band.append(f"> {w['baseline_x_uln_above']:g}")
        if "baseline_x_uln_max" in w:
            band.append(f"<= {w['baseline_x_uln_max']:g}")
        if band:
            txt += f" (baseline {' and '.join(band)} x ULN)"
        parts.append(txt)
    named = list(w.get("ae_terms", ()))
    if named or any(k in w for k in ("ae_socs", "ae_patterns", "ae_groups")):
        shown = " / ".join(named[:3]) + (f" (+{len(named) - 3} terms)" if len(named) > 3 else "")
        extra = ([f"group {g}" for g in w.get("ae_groups", ())] + [f"SOC {s}" for s in w.get("ae_socs", ())]
                 + [f"terms matching '{p}'" for p in w.get("ae_patterns", ())])
        shown = " / ".join([x for x in [shown] if x] + extra)
        irae = "immune-related " if w.get("immune_related") else ""
        txt = f"{irae}AE {shown} grade >= {w['min_grade']}"
        if "unresolved_weeks" in w:
            txt += f" not back to grade <= {w['resolved_grade']} within {w['unresolved_weeks']:g} weeks"
        parts.append(txt)
    verb = "hold" if h["action"] == "hold" else "permanently discontinue"
    text = f"{verb} {h['drug']} for " + ", or ".join(parts)
    if "until_grade" in w:
        text += f", until grade <= {w['until_grade']}"
    if "steroid_max_mg" in w:
        text += f"; resume on prednisone <= {w['steroid_max_mg']:g} mg/day"
    return text
