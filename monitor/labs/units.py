"""Lab units as coordinators write them, parsed with pint and converted by dimension.

A unit string is rewritten from laboratory spellings into pint syntax (`K/uL`, `thou/uL`,
`x10E3/µL`, `10*3/uL` (UCUM), `Gpt/L`, `GI/L` (CDISC), `cells/mm^3`, `mg/24 hr`, `MEQ/L` ...),
then parsed by a small pint registry that defines only the units a lab report uses (SI
prefixes f..k, gram, litre, metre, second/minute/hour/day, mole, equivalent, the enzyme unit
U = umol/min, katal, the international unit IU, arbitrary units AU, percent, mmHg). pint does
the dimensional algebra: `10^3/mL` is `1/uL`, `ukat/L` is 60 U/L, `mg/24 hr` is g/day / 24000.

What pint cannot know is analyte-specific (mass <-> substance needs the molar mass, eq <-> mol
the valence, IU <-> mass the standard's potency); those bridges are data in the lab catalogue
(`monitor/labs/tests.toml`) and applied in `catalogue.py`.

Why pint and not a strict UCUM parser (ucumvert 0.3.2 was tried): lab spellings are mostly not
UCUM (`mEq/L`, `IU/L`, `thou/uL`, `x10E3/uL`, `cells/mm3`, `mg/24 hr` are rejected by it and
`K/uL` reads as kelvin per microlitre), so the rewriting layer here is needed anyway; pint is the
mature unit library underneath both.

Every distinct string is parsed once (`parse_unit` is cached); callers map the few distinct
units of a frame, never rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DEFINITIONS = """
femto- = 1e-15 = f-
pico- = 1e-12 = p-
nano- = 1e-9 = n-
micro- = 1e-6 = u-
milli- = 1e-3 = m-
centi- = 1e-2 = c-
deci- = 1e-1 = d-
kilo- = 1e3 = k-
gram = [mass] = g
meter = [length] = m
liter = decimeter ** 3 = L = l
second = [time] = s = sec
minute = 60 * second = min
hour = 60 * minute = h = hr
day = 24 * hour = d
week = 7 * day = wk
mole = [substance] = mol
equivalent = [equivalent] = eq = Eq = EQ
enzyme_unit = micromole / minute = U
katal = mole / second = kat
international_unit = [iu] = IU
arbitrary_unit = [au] = AU
percent = 0.01 = pct
fraction = 100 * percent
mmHg = [pressure]
"""

MAX_UNIT_CHARS = 40   # longer text is not a unit (and is never handed to the parser)
UNITLESS = "1"   # canonical form of a blank unit ("", "NO UNITS", "pH", "ratio" for INR ...)

# words that mean "no unit": accepted only for tests whose catalogue lists a blank unit
_UNITLESS_WORDS = {"", "nounits", "nounit", "none", "na", "ph", "inr", "dipstick", "ratio", "index"}


@lru_cache(maxsize=1)
def registry():
    import pint   # ~0.3 s of imports: only when a unit is not in the precomputed table

    ureg = pint.UnitRegistry(None, case_sensitive=True, autoconvert_offset_to_baseunit=False)
    for line in _DEFINITIONS.strip().splitlines():
        ureg.define(line)
    return ureg


@lru_cache(maxsize=1)
def _tokens() -> tuple[frozenset, dict]:
    """Every unit symbol the registry knows (with prefixes) and a lower-case index to them."""
    symbols = ["g", "m", "L", "l", "s", "sec", "min", "h", "hr", "d", "wk", "mol", "eq", "Eq", "U",
               "kat", "IU", "AU"]
    prefixes = ["", "f", "p", "n", "u", "m", "c", "d", "k"]
    known = {p + s for s in symbols for p in prefixes}
    known |= {"mmHg", "pct", "fraction", "day", "hour", "minute", "second", "liter", "gram", "mole", "week"}
    lower: dict = {}
    for t in known:
        lower.setdefault(t.lower(), set()).add(t)
    # prefer the canonical clinical spelling where case folding is ambiguous
    prefer = {"l": "L", "dl": "dL", "ml": "mL", "ul": "uL", "nl": "nL", "pl": "pL", "fl": "fL",
              "eq": "eq", "meq": "mEq", "ueq": "ueq", "d": "d", "md": "mL", "iu": "IU", "u": "U",
              "mu": "mU", "ku": "kU", "miu": "mIU", "uiu": "uIU", "kiu": "kIU", "au": "AU", "mau": "mAU"}
    index = {k: (prefer[k] if k in prefer else (next(iter(v)) if len(v) == 1 else None)) for k, v in lower.items()}
    return frozenset(known), index


@dataclass(frozen=True)
class ParsedUnit:
    text: str                 # as written
    expr: str                 # the pint expression it was rewritten to ("1" for unitless)
    unitless: bool            # a blank / "no units" / pH / dipstick unit
    magnitude: float          # the value of 1 <unit> in base units (count 1, gram, metre ...)
    dims: tuple               # sorted (dimension, exponent) pairs

    @property
    def dimension(self) -> str:
        return " ".join(f"{d}^{e:g}" for d, e in self.dims) or "dimensionless"


_SUPER = str.maketrans({"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6",
                        "⁷": "7", "⁸": "8", "⁹": "9", "⁺": "+", "⁻": "-"})
_SUPER_RUN = re.compile("([⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+)")
_COUNT_WORDS = {  # multiplier words written before '/' (per volume): counts of cells
    "thou": "1e3", "thousand": "1e3", "mill": "1e6", "million": "1e6", "mpt": "1e6", "gpt": "1e9",
    "gi": "1e9", "tpt": "1e12", "ti": "1e12", "bill": "1e9", "billion": "1e9",
    "K": "1e3", "k": "1e3", "M": "1e6", "G": "1e9", "T": "1e12",   # single letters: case as written
}
_ONE_WORDS = {"cells", "cell", "count", "counts", "particles", "pt", "#"}


def _rewrite(text: str, counts: bool) -> str:
    """A lab unit spelling as a pint expression (no parsing yet)."""
    s = _SUPER_RUN.sub(lambda m: "^" + m.group(1).translate(_SUPER), text.strip())
    s = re.sub(r"10\s*\(\s*(\d+)\s*\)", r"10^\1", s)           # x10(9)/L
    s = s.replace("µ", "u").replace("μ", "u").replace("×", "x").replace("**", "^")
    s = re.sub(r"\s*\([A-Za-z]{1,3}\)", "", s)          # fmol(Fe) -> fmol
    s = s.replace("per ", "/")
    s = re.sub(r"\bcu\.?\s*mm\b|\bcmm\b", "mm^3", s, flags=re.I)
    s = re.sub(r"\bmcg\b", "ug", s, flags=re.I)
    # powers of ten: x10^9, 10*9 (UCUM), 10E9, 10e+09, 10^9
    s = re.sub(r"(?:^|(?<=[\s/(*]))[xX]?\s*10\s*(?:\^|\*|[eE])\s*\+?(-?\d+)", r"1e\1", s)
    # a bare exponent digit after a length unit: mm3, m2, cm^3
    s = re.sub(r"(?<![A-Za-z])([fpnumcd]?m)\^?([23])(?![0-9])", r"\1^\2", s)
    s = s.replace("%", " pct ")
    if counts:
        def word(m):
            w = m.group(1)
            if w.lower() in _ONE_WORDS:
                return "1"
            if not m.group(2):
                return w
            return _COUNT_WORDS.get(w if len(w) == 1 else w.lower(), w)
        s = re.sub(r"([A-Za-z#]+)(\s*/)?", lambda m: word(m) + (m.group(2) or ""), s)
    # '/24 hr', '/1.73 m^2': the divisor is one group
    s = re.sub(r"/\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+(?:\^\d)?)", r"/(\1*\2)", s)
    s = s.replace("^", "**").strip()
    if s.startswith("/"):
        s = "1" + s
    return s


def _fold_case(expr: str) -> str | None:
    """Unknown tokens resolved case-insensitively (MG/DL, MEQ/L, UL ...); None if one stays unknown."""
    known, index = _tokens()
    bad = False

    def fix(m):
        nonlocal bad
        t = m.group(0)
        if t in known or t == "e":
            return t
        r = index.get(t.lower())
        if r is None:
            bad = True
            return t
        return r
    out = re.sub(r"[A-Za-z]+", fix, expr)
    return None if bad else out


def _quantity(expr: str):
    import pint

    ureg = registry()
    try:
        q = ureg.parse_expression(expr)
    except Exception:   # pint raises many types for bad syntax; any of them = unparsable
        return None
    if not isinstance(q, pint.Quantity):
        q = q * ureg.dimensionless if isinstance(q, pint.Unit) else ureg.Quantity(q)
    return q


@lru_cache(maxsize=4096)
def parse_unit(text: str | None) -> tuple:
    """The readings of a unit string, best first: a tuple of ParsedUnit (empty = not a unit).

    Two readings when a spelling is ambiguous: `G/L` is a count (Giga/L, 10^9/L) or grams per
    litre; the caller keeps the first one whose dimension fits the test.

    The catalogue's own spellings are read from a table of pint's answers (KNOWN_TABLE), so a
    workbook whose units are all listed never imports pint.
    """
    raw = "" if text is None else str(text)
    known = _known().get(raw)
    if known is not None:
        return known
    return _parse(raw)


def _parse(raw: str) -> tuple:
    if len(raw) > MAX_UNIT_CHARS:
        return ()
    norm = re.sub(r"[\s_.\-]+", "", raw.strip().lower())
    if norm in _UNITLESS_WORDS:
        return (ParsedUnit(raw, UNITLESS, True, 1.0, ()),)
    out, seen = [], set()
    for counts in (True, False):
        expr = _rewrite(raw, counts)
        for e in (expr, _fold_case(expr)):
            if not e or e in seen:
                continue
            seen.add(e)
            q = _quantity(e)
            if q is None:
                continue
            base = q.to_base_units()
            dims = tuple(sorted((str(k), float(v)) for k, v in base.dimensionality.items()))
            mag = float(base.magnitude)
            if not (mag > 0) or mag != mag:
                continue
            p = ParsedUnit(raw, e, False, mag, dims)
            if all((x.dims, round(x.magnitude / p.magnitude, 9)) != (p.dims, 1.0) for x in out):
                out.append(p)
            break
    return tuple(out)


def same_dimension(a: ParsedUnit, b: ParsedUnit) -> bool:
    return a.unitless == b.unitless and a.dims == b.dims


def ratio(a: ParsedUnit, b: ParsedUnit) -> float | None:
    """How many b one a is (a -> b factor) when they share a dimension, else None."""
    if not same_dimension(a, b):
        return None
    return a.magnitude / b.magnitude


def key(text: str | None) -> str:
    """A compact spelling for comparing units in messages and suggestions."""
    t = "" if text is None else str(text)
    return re.sub(r"\s+", "", t.lower().replace("µ", "u").replace("μ", "u"))


# ---------------------------------------------------------------- the precomputed table

KNOWN_TABLE = Path(__file__).with_name("units_known.json")
_NO_TABLE: list = []   # non-empty while the table is rebuilt


def _source_key() -> str:
    """The table is valid for this units.py only (the definitions and the rewriting rules)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _known() -> dict:
    """text -> readings: read_known's, from the package's precompiled copy when it is current
    (monitor/refcache.py: ~0.1 ms, reading and checking the table ~1 ms of every check)."""
    if _NO_TABLE:
        return {}
    from .. import refcache

    return refcache.get("units_known", read_known)


def read_known() -> dict:
    """text -> readings, from KNOWN_TABLE when it was written by this units.py, else empty (then
    every unit is parsed by pint: slower, same answers)."""
    try:
        data = json.loads(KNOWN_TABLE.read_text("utf-8"))
        if data.get("source") != _source_key():
            return {}
        return {text: tuple(ParsedUnit(text, e, bool(u), float(m), tuple((str(d), float(x)) for d, x in dims))
                            for e, u, m, dims in readings) for text, readings in data["units"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def table_texts() -> list:
    """The spellings the table holds: every unit the catalogue lists or names as SI, and every
    spelling that loading the catalogue, the CTCAE criteria and the bundled profiles parses."""
    import tomllib
    from importlib import resources

    from .. import refcache
    from ..ctcae.criteria import load_criteria
    from ..labs.catalogue import load_catalogue
    from ..profile.profile import load_profile

    data = tomllib.loads(resources.files("monitor.labs").joinpath("tests.toml").read_text("utf-8"))
    texts = {""}
    for t in data["tests"].values():
        texts.add(t["si_unit"])
        texts.update(t.get("units", {}))
    from ..profile.profile import bundled_profiles

    global _parse
    seen, parse = set(), _parse
    _parse = lambda raw: seen.add(raw) or parse(raw)   # noqa: E731  (records what pint is asked)
    try:
        for fn in (parse_unit, load_catalogue, load_criteria):
            fn.cache_clear()
        _known.cache_clear()
        _NO_TABLE.append(True)       # the table being rewritten is not consulted
        with refcache.bypassed():    # built from the files (the precompiled copy parses nothing)
            load_catalogue(), load_criteria()
            for name in bundled_profiles():
                load_profile(name)
    finally:
        _parse = parse
        _NO_TABLE.clear()
        for fn in (parse_unit, _known, load_catalogue, load_criteria):
            fn.cache_clear()
    return sorted(texts | seen)


def build_table() -> dict:
    """The table's content, parsed by pint now."""
    units = {}
    for text in table_texts():
        units[text] = [[p.expr, p.unitless, p.magnitude, [list(d) for d in p.dims]] for p in _parse(text)]
    return {"source": _source_key(), "units": units}


def write_table() -> Path:
    """Rewrite KNOWN_TABLE (after a change to this file or to the catalogue's units):
    `python -m monitor.labs.units`."""
    table = build_table()
    lines = [f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v)}" for k, v in table["units"].items()]
    KNOWN_TABLE.write_text(f'{{"source": "{table["source"]}", "units": {{\n' + ",\n".join(lines) + "\n}}\n", "utf-8")
    return KNOWN_TABLE


if __name__ == "__main__":
    from monitor.labs import units   # the imported module (the one the catalogue calls), not __main__

    print(f"wrote {units.write_table()}")
