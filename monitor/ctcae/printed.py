"""Which of the units CTCAE prints for a term a result is graded in.

CTCAE v5.0 prints many lab thresholds in two or three units (calcium `>13.5 mg/dL; >3.4
mmol/L`) and rounded each figure on its own, so the same result can sit on different sides of
the two figures (13.6 mg/dL = 3.39 mmol/L). The rule (docs/ctcae_grading.md, "Units"):

1. a result entered in a unit the term prints is graded on the figures printed in that unit,
   exactly as entered (factor 1.0, no round trip through SI);
2. a result in another unit is converted to the closest printed unit: one of the same
   dimension (pint converts it without an analyte factor: `K/uL` -> `10e9/L`, `umol/L` ->
   `mmol/L`), the SI one first; else the first printed unit (SI where CTCAE prints one), with
   the catalogue's analyte factor (`mEq/L` calcium -> mmol/L by its valence);
3. a term whose thresholds are all relative (x ULN, x baseline) has no printed unit: its
   grade does not depend on the unit.

Each (criterion, entered unit) pair is decided once and cached: a frame has few distinct units.
"""

from __future__ import annotations

import math

from ..labs.catalogue import Catalogue

_CACHE: dict = {}


def graded_unit(c, entered: str | None, catalogue: Catalogue) -> tuple:
    """(printed unit or None, factor from the entered unit to it or None).

    (None, 1.0): the record has no printed unit (relative thresholds: the unit does not matter).
    (None, None): the entered unit does not convert to the test (cannot grade).
    """
    key = (id(catalogue), c.test, c.direction, c.units, entered)
    if key not in _CACHE:
        _CACHE[key] = _choose(c, entered, catalogue)
    return _CACHE[key]


def _choose(c, entered: str | None, catalogue: Catalogue) -> tuple:
    if not c.units or c.scale is not None:
        return None, 1.0
    lab = catalogue.tests.get(c.test)
    if lab is None:                      # a vital sign: graded in its one unit
        return c.units[0], 1.0
    entered = lab.si_unit if entered is None else entered
    if catalogue.to_si(c.test, entered) is None:
        return None, None
    same_dim = [u for u in c.units if catalogue.same_dimension(c.test, entered, u)]
    for u in same_dim:                   # the entered unit is one CTCAE prints (any spelling)
        k = catalogue.convert(c.test, entered, u)
        if k is not None and math.isclose(k, 1.0, rel_tol=1e-12):
            return u, 1.0
    target = same_dim[0] if same_dim else c.units[0]
    return target, catalogue.convert(c.test, entered, target)


def si_to(c, unit: str | None, catalogue: Catalogue) -> float | None:
    """Factor from the test's SI unit to a printed unit (1.0 for None or a vital sign)."""
    if unit is None or c.test not in catalogue.tests:
        return 1.0
    f = catalogue.to_si(c.test, unit)
    return None if not f else 1.0 / f
