"""Unit conversion data of the lab catalogue: the bridges between dimensions of one analyte
(SI unit, listed units, molar mass, valence) and the plausibility ranges, validated at load.

`catalogue.py` builds a LabTest with them; `units.py` parses the unit strings.
"""

from __future__ import annotations

import math

from . import units as U


class CatalogueError(ValueError):
    """tests.toml is malformed; the message names the test and the field."""


def reading(t, unit: str):
    """The reading of `unit` that converts to test `t` (first fitting one), or None."""
    for r in U.parse_unit(unit):
        if r.unitless:
            if t.unitless_ok:
                return r
            continue
        if any(U.same_dimension(r, b) for b, _ in t.bridges):
            return r
    return None


def to_si_parsed(t, unit: str) -> float | None:
    """Factor from `unit` to test `t`'s SI unit through its bridges; None when none fits."""
    for r in U.parse_unit(unit):
        if r.unitless:
            if t.unitless_ok:
                return 1.0
            continue
        for b, f in t.bridges:
            x = U.ratio(r, b)
            if x is not None:
                return float(f"{x * f:.12g}")    # drop float noise from the base-unit round trip
    return None


def bridges(code: str, t: dict, si_unit: str, listed: dict) -> tuple:
    """(ParsedUnit, factor to SI) for the SI unit, the listed units and the molar/valence
    bridges; a listed factor that contradicts another route by > 1% is an error."""
    def fail(msg):
        raise CatalogueError(f"tests.toml: tests.{code}: {msg}")

    si = [r for r in U.parse_unit(si_unit) if not r.unitless]
    out = [(si[0], 1.0)] if si else []
    mm, val = t.get("molar_mass"), t.get("valence")
    if mm is not None and (not isinstance(mm, (int, float)) or isinstance(mm, bool) or not mm > 0):
        fail(f"molar_mass must be a positive number (g/mol), got {mm!r}")
    if val is not None and (not isinstance(val, int) or isinstance(val, bool) or val < 1):
        fail(f"valence must be a positive integer, got {val!r}")
    if si and mm:
        mol, gram = U.parse_unit("mol/L")[0], U.parse_unit("g/L")[0]
        if (f := U.ratio(mol, si[0])) is not None:          # SI is substance: add mass
            out.append((gram, f / mm))
        elif (f := U.ratio(gram, si[0])) is not None:       # SI is mass: add substance
            out.append((mol, f * mm))
    if si and val:
        mol, eq = U.parse_unit("mol/L")[0], U.parse_unit("eq/L")[0]
        to_mol = next((x * f for b, f in out if (x := U.ratio(mol, b)) is not None), None)
        if to_mol is not None:
            out.append((eq, to_mol / val))
    derived = out[1:]
    listed_out = []
    for label, factor in listed.items():
        readings = [r for r in U.parse_unit(label) if not r.unitless]
        fitting = None
        for r in readings:
            implied = next((x * f for b, f in out if (x := U.ratio(r, b)) is not None), None)
            if implied is not None:
                fitting = (r, implied)
                break
        if fitting is None:
            if readings:
                out.append((readings[0], float(factor)))   # a new bridge (analyte-specific)
                listed_out.append(out[-1])
            continue
        r, implied = fitting
        if not math.isclose(implied, float(factor), rel_tol=0.01):
            fail(f"unit {label!r} has factor {factor:g} but {implied:.6g} follows from "
                 f"{si_unit!r}, molar_mass, valence or another listed unit")
        listed_out.append((r, float(factor)))
    # the listed factors (data, as written) win over the derived ones of the same dimension
    return tuple(out[:1] + listed_out + [b for b in derived])


def plausible(code: str, t: dict):
    p = t.get("plausible")
    if p is None:
        return None, None
    if (not isinstance(p, dict) or set(p) - {"low", "high", "source"} or not isinstance(p.get("source"), str)
            or not p["source"].strip()):
        raise CatalogueError(f"tests.toml: tests.{code}.plausible must be {{ low, high, source }} "
                             "(numbers in si_unit and the source text)")
    lo, hi = p.get("low"), p.get("high")
    for v in (lo, hi):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise CatalogueError(f"tests.toml: tests.{code}.plausible: low/high must be numbers")
    if lo is not None and hi is not None and not lo < hi:
        raise CatalogueError(f"tests.toml: tests.{code}.plausible: low {lo} must be below high {hi}")
    return (None if lo is None else float(lo), None if hi is None else float(hi)), p["source"].strip()
