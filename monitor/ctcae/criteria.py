"""CTCAE v5.0 grading criteria for lab values: load and validate criteria.toml.

The criteria are data (one record per term, test and direction) kept beside the verbatim CTCAE
text they come from. Thresholds use a small fixed vocabulary (basis, op, factor / offset /
value, applies) and are never code: `grade.py` turns them into polars expressions.

Units: a record lists every unit CTCAE prints for its term (`units`, SI first) and each
absolute threshold (and offset) carries its printed figure in each of them, e.g.
`value = { "g/L" = 100.0, "g/dL" = 10.0, "mmol/L" = 6.2 }` for Anemia grade 2. A result is
graded on the figures printed in its own unit when CTCAE prints that unit; otherwise it is
converted to the closest printed unit (`units_for`). Records whose thresholds are all relative
(x ULN, x baseline) need no units.

The loader refuses a file it cannot trust, naming the record: an unknown op, basis or
`applies`, a grade outside 1-5 or one CTCAE does not define for the term, a term not in
terms.csv, a test not in the lab catalogue, a printed unit the test cannot convert to, a
threshold missing a printed unit or whose printed figures disagree (> 10%) once converted, CTCAE
text that is missing or differs from terms.csv, thresholds out of grade order or not monotone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from .. import tomldata
from ..labs.catalogue import Catalogue, load_catalogue, norm_test
from .terms import Terms, load_terms
from .thresholds import (  # noqa: F401  (re-exported: the vocabulary is part of this module's API)
    APPLIES, BASES, GRADES, OPS, PRINTED_AGREEMENT, Threshold, check_monotone, check_printed_agree, parse_threshold)

DIRECTIONS = ("low", "high")
CTCAE_VERSION = "5.0"

_RECORD_KEYS = {"term", "test", "direction", "unit", "units", "thresholds", "text", "note", "scale"}


class CriteriaError(ValueError):
    """criteria.toml is malformed; the message names the record and the field."""


@dataclass(frozen=True)
class Criterion:
    """The grading criteria of one CTCAE term for one test in one direction."""

    term: str
    test: str
    direction: str               # low | high
    units: tuple                 # every unit CTCAE prints for the term, SI first (() = relative only)
    thresholds: tuple            # Threshold, ascending grade
    text: dict                   # grade -> verbatim CTCAE v5.0 text (every grade the term defines)
    note: str | None = None
    scale: dict | None = None    # normalised result text -> number (categorical tests)
    index: int = 0               # position in the file (0-based), for messages

    @property
    def unit(self) -> str | None:
        """The first printed unit (SI where CTCAE prints one), None for relative-only records."""
        return self.units[0] if self.units else None

    @property
    def grades(self) -> tuple:
        """Grades the value can establish (those with a threshold), ascending."""
        return tuple(sorted({t.grade for t in self.thresholds}))

    @property
    def needs(self) -> frozenset:
        """Normal limits the grading may need: subset of {'lln', 'uln'} (baseline is optional)."""
        return frozenset(t.basis for t in self.thresholds if t.basis in ("lln", "uln"))

    @property
    def uses_baseline(self) -> bool:
        return any(t.basis == "baseline" or t.applies.startswith("baseline")
                   or (t.also is not None and t.also.basis == "baseline") for t in self.thresholds)

    @property
    def label(self) -> str:
        return f"criteria[{self.index}] ({self.test} / {self.term!r} / {self.direction})"


@dataclass(frozen=True)
class Criteria:
    """The grading criteria (criteria.toml): every Criterion in file order, and the vital signs."""

    version: str
    ctcae_version: str
    records: tuple               # Criterion, in file order
    vital_signs: dict = field(default_factory=dict)   # code -> {name, unit}
    _series: dict = field(default_factory=dict, compare=False, repr=False)   # side_term_series, built once

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __post_init__(self):
        index: dict = {}
        for r in self.records:
            index.setdefault(r.test, {})[r.direction] = r
        object.__setattr__(self, "_by_test", index)

    def for_test(self, test: str, direction: str) -> Criterion | None:
        return self._by_test.get(test, {}).get(direction)

    def by_test(self) -> dict:
        """test code -> {direction: Criterion} (shared; do not mutate)."""
        return self._by_test

    def side_term_series(self, side: str) -> tuple:
        """test code -> the CTCAE term of its criterion in direction `side` ('low' / 'high'), as
        replace_strict's (old, new) Series: built on first use and kept (the safety rules ask
        for them ~12 times a check)."""
        if side not in self._series:
            import polars as pl

            from ..frames import mapping_series

            self._series[side] = mapping_series(self.side_terms(side), pl.String)
        return self._series[side]

    def side_terms(self, side: str) -> dict:
        """test code -> the CTCAE term of its criterion in direction `side` ('low' / 'high'), for
        the codes that have one."""
        return {c: recs[side].term for c, recs in self._by_test.items() if recs.get(side) is not None}

    def terms(self) -> list:
        """Distinct CTCAE terms covered, in file order."""
        return list(dict.fromkeys(r.term for r in self.records))

    def needs(self, test: str) -> frozenset:
        """Normal limits ({'lln', 'uln'}) any record of the test may need."""
        return frozenset().union(*(r.needs for r in self.records if r.test == test))


# ------------------------------------------------------------------------------------------ load

@lru_cache(maxsize=1)
def load_criteria() -> Criteria:
    """The criteria shipped in the package (validated; cached; from the package's precompiled
    copy when it is current: monitor.refcache)."""
    from .. import refcache

    return refcache.get("criteria", _build_criteria)


def _build_criteria() -> Criteria:
    text = resources.files("monitor.ctcae").joinpath("criteria.toml").read_text("utf-8")
    return parse_criteria(text)


def parse_criteria(text: str, *, terms: Terms | None = None, catalogue: Catalogue | None = None,
                   source: str = "criteria.toml") -> Criteria:
    """Parse and validate criteria TOML text; raise CriteriaError naming the bad record."""
    try:
        data = tomldata.loads(text)
    except tomldata.TOMLDecodeError as e:
        raise CriteriaError(f"{source}: not valid TOML: {e}") from None
    terms = terms or load_terms()
    catalogue = catalogue or load_catalogue()

    ver = data.get("ctcae_version")
    if ver != CTCAE_VERSION:
        raise CriteriaError(f"{source}: ctcae_version must be {CTCAE_VERSION!r}, got {ver!r}")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise CriteriaError(f"{source}: `version` (a string such as a date) is missing")
    vitals = data.get("vital_signs", {})
    for code, v in vitals.items():
        if not isinstance(v, dict) or not isinstance(v.get("unit"), str) or not v.get("name"):
            raise CriteriaError(f"{source}: vital_signs.{code} needs a name and a unit")
        if code in catalogue.tests:
            raise CriteriaError(f"{source}: vital_signs.{code} is also a lab catalogue code")
    raw = data.get("criteria")
    if not isinstance(raw, list) or not raw:
        raise CriteriaError(f"{source}: no [[criteria]] records")

    records, seen = [], {}
    for i, rec in enumerate(raw):
        r = _record(i, rec, terms, catalogue, vitals, source)
        key = (r.test, r.direction)
        if key in seen:
            raise CriteriaError(f"{source}: {r.label}: a second record for test {r.test} direction "
                                f"{r.direction} (first: criteria[{seen[key]}]); one record per test and direction")
        seen[key] = i
        records.append(r)
    return Criteria(version, ver, tuple(records), {k: dict(v) for k, v in vitals.items()})


def _record(i: int, rec, terms: Terms, catalogue: Catalogue, vitals: dict, source: str) -> Criterion:
    test, term, direction = (rec.get(k) if isinstance(rec, dict) else None for k in ("test", "term", "direction"))
    where = f"{source}: criteria[{i}] ({test} / {term!r} / {direction})"

    def fail(msg: str):
        raise CriteriaError(f"{where}: {msg}")

    if not isinstance(rec, dict):
        fail("is not a table")
    unknown = set(rec) - _RECORD_KEYS
    if unknown:
        fail(f"unknown key(s) {sorted(unknown)} (allowed: {sorted(_RECORD_KEYS)})")
    for k in ("term", "test", "direction", "thresholds", "text"):
        if k not in rec:
            fail(f"`{k}` is missing")
    if "unit" in rec and "units" in rec:
        fail("give `units` (every unit CTCAE prints) or the old single `unit`, not both")

    ct = terms.get(term) if isinstance(term, str) else None
    if ct is None or ct.term != term:
        hint = f"; did you mean {ct.term!r}?" if ct else (
            f"; closest: {', '.join(map(repr, terms.closest(str(term))))}" if isinstance(term, str) else "")
        fail(f"term {term!r} is not a CTCAE v5.0 term in terms.csv (exact spelling){hint}")
    if direction not in DIRECTIONS:
        fail(f"direction {direction!r} must be one of {', '.join(DIRECTIONS)}")

    lab = catalogue.tests.get(test) if isinstance(test, str) else None
    vital = vitals.get(test) if isinstance(test, str) else None
    if lab is None and vital is None:
        fail(f"test {test!r} is not a lab catalogue code (monitor/labs/tests.toml) nor a vital_signs code")
    si_unit = lab.si_unit if lab is not None else vital["unit"]

    scale = rec.get("scale")
    units = rec.get("units", [rec["unit"]] if "unit" in rec else [])
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units) or len(set(units)) != len(units):
        fail("`units` must be a list of distinct unit strings (the units CTCAE prints for the term)")
    if scale is None and lab is not None:
        for u in units:
            if catalogue.to_si(test, u) is None:
                fail(f"printed unit {u!r} does not convert to {test}'s SI unit {si_unit!r} (catalogue)")
    elif scale is None and units and units != [vital["unit"]]:
        fail(f"vital sign {test} is graded in {vital['unit']!r} only")
    if scale is not None:
        if not isinstance(scale, dict) or not scale:
            fail("`scale` must be a table of result -> number")
        for k, v in scale.items():
            if norm_test(k) != k:
                fail(f"scale key {k!r} is not normalised (write {norm_test(k)!r})")
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                fail(f"scale value for {k!r} must be a number")
        if lab is not None and lab.results and set(lab.results) - set(scale):
            fail(f"scale lacks the catalogue result(s) {sorted(set(lab.results) - set(scale))}")

    # verbatim text: every grade CTCAE defines, exactly as in terms.csv, and nothing else
    text = rec["text"]
    if not isinstance(text, dict):
        fail("`text` must be a table grade_1 .. grade_5")
    bad = [k for k in text if k not in {f"grade_{g}" for g in GRADES}]
    if bad:
        fail(f"text has unknown key(s) {bad} (use grade_1 .. grade_5)")
    texts = {}
    for g in GRADES:
        k = f"grade_{g}"
        if g in ct.grades:
            if k not in text:
                fail(f"text.{k} is missing (CTCAE v5.0 {term} grade {g}: {ct.text[g]!r})")
            if text[k] != ct.text[g]:
                fail(f"text.{k} differs from terms.csv: {text[k]!r} != {ct.text[g]!r}")
            texts[g] = text[k]
        elif k in text:
            fail(f"text.{k} is given but CTCAE v5.0 defines no grade {g} for {term}")

    ths = rec["thresholds"]
    if not isinstance(ths, list) or not ths:
        fail("`thresholds` must be a non-empty list")
    parsed = tuple(parse_threshold(j, t, direction, units, ct, fail) for j, t in enumerate(ths))
    if scale is None and lab is not None:
        check_printed_agree(parsed, test, catalogue, fail)
    grades = [t.grade for t in parsed]
    if grades != sorted(grades):
        fail(f"thresholds must be ordered by grade, got grades {grades}")
    check_monotone(parsed, direction, fail)

    note = rec.get("note")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        fail("`note` must be non-empty text")
    ungraded = [g for g in ct.grades if g not in grades]
    if ungraded and not note:
        fail(f"a `note` is required: CTCAE grade(s) {ungraded} are not graded from the value; say why")
    return Criterion(term, test, direction, tuple(units), parsed, texts, note,
                     dict(scale) if scale is not None else None, i)
