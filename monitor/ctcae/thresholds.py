"""One threshold of a CTCAE criterion: the small fixed vocabulary, its parser and checks.

A threshold is `value op factor x limit + offset` (basis uln / lln / baseline) or
`value op printed figure` (basis abs), never code. Absolute figures and offsets carry one number
per unit CTCAE prints for the term (criteria.py, "Units").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BASES = ("uln", "lln", "abs", "baseline")
OPS = (">", ">=", "<", "<=")
APPLIES = ("always", "baseline_normal", "baseline_abnormal", "anticoagulated", "not_anticoagulated")
GRADES = (1, 2, 3, 4, 5)
_THRESHOLD_KEYS = {"grade", "basis", "op", "factor", "offset", "value", "unit", "applies", "optional", "also"}
PRINTED_AGREEMENT = 0.10   # CTCAE rounded each unit on its own: Mg 0.9 mg/dL = 0.37 vs 0.4 mmol/L (7.4%)
_OPS_FOR = {"high": (">", ">="), "low": ("<", "<=")}


@dataclass(frozen=True)
class Threshold:
    """One way of reaching `grade`: value `op` (factor x limit + offset) or value `op` value."""

    grade: int
    basis: str                   # uln | lln | abs | baseline
    op: str                      # > | >= | < | <=
    factor: float = 1.0          # multiple of the limit / baseline (not for abs)
    offsets: tuple = ()          # ((unit, amount), ...) added to factor x limit (not for abs)
    values: tuple = ()           # abs only: ((unit, value), ...) one per printed unit
    applies: str = "always"
    optional: bool = False       # baseline only: skipped (not "unknown") when there is no baseline
    also: "Threshold | None" = None   # a second condition that must hold too (">ULN and >Baseline")

    @property
    def value(self) -> float | None:
        """The value in the record's first (SI) printed unit (abs only)."""
        return self.values[0][1] if self.values else None

    @property
    def offset(self) -> float:
        return self.offsets[0][1] if self.offsets else 0.0

    def value_in(self, unit: str | None) -> float:
        """The printed figure in `unit` (None: the first printed unit)."""
        return self.values[0][1] if unit is None else dict(self.values)[unit]

    def offset_in(self, unit: str | None) -> float:
        if not self.offsets:
            return 0.0
        return self.offsets[0][1] if unit is None else dict(self.offsets)[unit]

    def describe(self, unit: str | None = None) -> str:
        """Human form, e.g. `> 3.0 x ULN`, `< 100 g/L`, `> baseline + 20 g/L (baseline abnormal)`."""
        if self.basis == "abs":
            u = unit or self.values[0][0]
            s = f"{self.op} {self.value_in(u):g} {u}".rstrip()
        else:
            ref = {"uln": "ULN", "lln": "LLN", "baseline": "baseline"}[self.basis]
            s = f"{self.op} {ref}" if self.factor == 1.0 else f"{self.op} {self.factor:g} x {ref}"
            if self.offsets:
                u = unit or self.offsets[0][0]
                s += f" + {self.offset_in(u):g} {u}"
        if self.also is not None:
            s += f" and {self.also.describe(unit)}"
        if self.applies != "always":
            s += f" ({self.applies.replace('_', ' ')})"
        return s


def _per_unit(v, units: list, what: str, bad, old_unit=None) -> tuple:
    """A per-unit figure table `{ unit = number }` (or the old scalar + `unit`) checked against
    the record's printed units: ((unit, number), ...) in the order of `units`."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if old_unit is None:
            bad(f"{what} needs a table of printed unit -> number, e.g. {{ {units[0] if units else 'g/L'!r} = ... }}")
        v = {old_unit: v}
    if not isinstance(v, dict) or not v:
        bad(f"{what} must be a table of printed unit -> number")
    if set(v) != set(units):
        bad(f"{what} must give one figure per printed unit {units} (CTCAE prints each), got {sorted(v)}")
    out = []
    for u in units:
        x = v[u]
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            bad(f"{what} in {u!r} must be a finite number, got {x!r}")
        out.append((u, float(x)))
    return tuple(out)


def parse_threshold(j: int, t, direction: str, units: list, ct, fail, nested: bool = False) -> Threshold:
    def bad(msg: str):
        fail(f"thresholds[{j}]{'.also' if nested else ''}: {msg}")

    if not isinstance(t, dict):
        bad("is not a table")
    unknown = set(t) - _THRESHOLD_KEYS
    if unknown:
        bad(f"unknown key(s) {sorted(unknown)} (allowed: {sorted(_THRESHOLD_KEYS)})")
    g = t.get("grade") if not nested else 1
    if nested and "grade" in t:
        bad("`also` takes no grade (it belongs to its threshold)")
    if not isinstance(g, int) or isinstance(g, bool) or g not in GRADES:
        bad(f"grade {g!r} must be an integer 1-5")
    if not nested and g not in ct.grades:
        bad(f"grade {g}: CTCAE v5.0 defines no grade {g} for {ct.term} (it has {list(ct.grades)})")
    basis = t.get("basis")
    if basis not in BASES:
        bad(f"unknown basis {basis!r} (use one of {', '.join(BASES)})")
    op = t.get("op")
    if op not in OPS:
        bad(f"unknown op {op!r} (use one of {', '.join(OPS)})")
    if op not in _OPS_FOR[direction]:
        bad(f"op {op!r} does not fit direction {direction} (use {' or '.join(_OPS_FOR[direction])})")
    applies = t.get("applies", "always")
    if applies not in APPLIES:
        bad(f"unknown applies {applies!r} (use one of {', '.join(APPLIES)})")
    optional = t.get("optional", False)
    if not isinstance(optional, bool):
        bad("optional must be true or false")
    if optional and basis != "baseline":
        bad("optional is only for basis = baseline")

    def num(key, default=None):
        v = t.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            bad(f"{key} must be a finite number, got {v!r}")
        return float(v)

    also = None
    if "also" in t:
        if nested:
            bad("`also` cannot nest")
        also = parse_threshold(j, t["also"], direction, units, ct, fail, nested=True) if isinstance(t["also"], dict) \
            else bad("`also` must be a table (basis, op, factor ...)")
    old_unit = t.get("unit")
    if old_unit is not None and old_unit not in units:
        bad(f"unit {old_unit!r} must be one of the record's printed units {units}")
    if basis == "abs":
        if "factor" in t or "offset" in t:
            bad("basis abs takes `value`, not factor/offset")
        if "value" not in t:
            bad("basis abs needs `value` (one figure per printed unit)")
        values = _per_unit(t["value"], units, "value", bad, old_unit)
        return Threshold(g, basis, op, values=values, applies=applies, optional=optional, also=also)
    if "value" in t:
        bad(f"basis {basis} takes factor (and offset), not `value`")
    factor = num("factor", 1.0)
    if factor <= 0:
        bad(f"factor must be > 0, got {factor:g}")
    offsets = ()
    if "offset" in t:
        offsets = _per_unit(t["offset"], units, "offset", bad, old_unit)
        if any(x < 0 for _, x in offsets):
            bad(f"offset must be >= 0, got {dict(offsets)}")
        if all(x == 0 for _, x in offsets):
            offsets = ()
    elif old_unit is not None:
        bad("unit is only for value or offset")
    return Threshold(g, basis, op, factor=factor, offsets=offsets, applies=applies, optional=optional,
                     also=also)


def check_monotone(ths: tuple, direction: str, fail) -> None:
    """Within one basis and `applies`, a higher grade must sit further from normal."""
    groups: dict = {}
    for t in ths:
        groups.setdefault((t.basis, t.applies), []).append(t)
    for (basis, applies), ts in groups.items():
        for a, b in zip(ts, ts[1:]):
            if a.grade == b.grade:
                fail(f"two {basis} thresholds ({applies}) for grade {a.grade}")
            ka = (a.value,) if basis == "abs" else (a.factor, a.offset)
            kb = (b.value,) if basis == "abs" else (b.factor, b.offset)
            if a.also is not None or b.also is not None:
                continue
            worse = kb > ka if direction == "high" else (kb < ka if basis == "abs" else b.factor < a.factor)
            if not worse:
                fail(f"grade {b.grade} threshold ({b.describe()}) is not beyond grade {a.grade}'s "
                     f"({a.describe()}) for a {direction} term")


def check_printed_agree(ths: tuple, test: str, catalogue, fail) -> None:
    """The figures of one threshold in its printed units must agree once converted."""
    for t in ths:
        for what, pairs in (("value", t.values), ("offset", t.offsets)):
            si = [(u, v * catalogue.to_si(test, u)) for u, v in pairs]
            if len(si) < 2:
                continue
            ref_u, ref = si[0]
            for u, x in si[1:]:
                if abs(x - ref) > PRINTED_AGREEMENT * max(abs(ref), 1e-12):
                    fail(f"grade {t.grade} {what}: {dict(pairs)[u]:g} {u} is {x:.4g} in SI but "
                         f"{dict(pairs)[ref_u]:g} {ref_u} is {ref:.4g}; the printed figures must agree "
                         f"within {PRINTED_AGREEMENT:.0%}")
