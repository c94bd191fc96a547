"""Load the lab test catalogue and match test names and units written by coordinators.

Units are parsed, not listed (`units.py`, pint): a test accepts any unit whose dimension can be
converted to its SI unit. The `units` table of a test in tests.toml lists the usual spellings
with their factor to `si_unit`; each listed unit that parses is also a *bridge* between
dimensions for that analyte (mg/dL -> mmol/L for calcium is a molar mass, written as data).
`molar_mass` (g/mol) and `valence` (charge of the ion) add the mass and equivalent bridges
without listing them. A listed factor that disagrees with the molar mass, the valence or pint's
own conversion by more than 1% is refused at load, naming the test and the unit.
"""

from __future__ import annotations

import difflib
import heapq
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import polars as pl

from .. import tomldata
from ..frames import collect_sized, join_columns, lookup_set, mapping_series
from . import units as U
from .conversion import CatalogueError, bridges as _bridges, plausible as _plausible, reading, to_si_parsed

MAX_DISTINCT_UNITS = 2000   # (test, unit) spellings parsed per workbook; a real one has < 100




@dataclass(frozen=True)
class LabTest:
    """One test of the lab catalogue: names, SI unit, accepted units, plausible range and
    sources."""

    code: str
    name: str
    aliases: tuple[str, ...]
    si_unit: str
    units: dict            # normalised unit -> factor to si_unit
    unit_labels: dict      # normalised unit -> unit as written in the catalogue
    results: tuple[str, ...] = ()  # accepted categorical results (normalised)
    specimen: str = "BLOOD"        # BLOOD (serum, plasma, whole blood) or URINE (CDISC LBSPEC)
    cdisc: str = ""                # the CDISC LBTESTCD (the key unless the code is shared)
    source: str = ""
    molar_mass: float | None = None       # g/mol, the mass <-> substance bridge
    valence: int | None = None            # charge of the ion, the eq <-> mol bridge
    plausible: tuple | None = None        # (low, high) in si_unit: outside = a unit or typing error
    plausible_source: str | None = None
    bridges: tuple = field(default=(), compare=False)   # (ParsedUnit, factor to si_unit)
    unitless_ok: bool = False             # a blank unit is accepted (INR, pH, dipstick)

    @property
    def accepted(self) -> list[str]:
        """The unit spellings shown to coordinators (listed ones, SI first)."""
        labels = [self.si_unit] + [u for u in self.unit_labels.values() if u != self.si_unit]
        return [u for u in dict.fromkeys(labels) if u]


def letter_counts(names: list[str]) -> pl.DataFrame:
    """name, len and one count column per character of the names (for close_matches)."""
    df = pl.DataFrame({"name": names}, schema={"name": pl.String})
    chars = sorted(set("".join(names)))
    return df.with_columns(pl.col("name").str.len_chars().cast(pl.Int64).alias("len"),
                           *[pl.col("name").str.count_matches(ch, literal=True).cast(pl.Int64).alias(f"c{ord(ch)}")
                             for ch in chars])


def close_matches(word: str, names: pl.DataFrame, n: int, cutoff: float) -> list[str]:
    """difflib.get_close_matches(word, names["name"], n, cutoff), the same list, without a
    Python loop over the whole catalogue: difflib's quick_ratio (an upper bound of ratio, below
    real_quick_ratio) is computed for every name at once from the letter counts, and
    SequenceMatcher.ratio runs only on the few names that reach the cutoff."""
    want = Counter(word)
    common = [pl.min_horizontal(pl.col(f"c{ord(ch)}"), pl.lit(k, dtype=pl.Int64))
              for ch, k in want.items() if f"c{ord(ch)}" in names.columns]
    matches = pl.sum_horizontal(common) if common else pl.lit(0, dtype=pl.Int64)
    quick = (pl.lit(2.0) * matches.cast(pl.Float64)) / (pl.col("len") + len(word)).cast(pl.Float64)
    s = difflib.SequenceMatcher()
    s.set_seq2(word)
    result = []
    for k in names.filter(quick >= cutoff).get_column("name"):
        s.set_seq1(k)
        if s.ratio() >= cutoff:
            result.append((s.ratio(), k))
    return [k for _, k in heapq.nlargest(n, result)]


def norm_test(text: str) -> str:
    return re.sub(r"[^0-9a-z+]+", "", str(text).lower())


_SUPERSCRIPTS = str.maketrans({"⁰": "^0", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "⁵": "^5",
                               "⁶": "^6", "⁷": "^7", "⁸": "^8", "⁹": "^9"})


def norm_unit(text: str | None) -> str:
    """Units compare with case, spaces, and `µ`/`μ` vs `u` ignored; `x10^9/L` = `10^9/L`."""
    if text is None:
        return ""
    t = str(text).strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")
    t = t.translate(_SUPERSCRIPTS).replace("10*", "10^").replace("*", "").replace("×", "x")
    t = re.sub(r"^x(?=10)", "", t)
    t = t.replace("10e9", "10^9").replace("10e3", "10^3")
    return t


SPECIMENS = ("BLOOD", "URINE")


def specimen_class(text: str | None) -> str | None:
    """BLOOD or URINE from a specimen as written (CDISC LBSPEC: SERUM, PLASMA, SERUM OR PLASMA,
    WHOLE BLOOD, ARTERIAL BLOOD, URINE ...); None when it says neither."""
    if text is None:
        return None
    t = norm_test(text)
    if "urin" in t:
        return "URINE"
    if any(w in t for w in ("blood", "serum", "plasma", "sera")):
        return "BLOOD"
    return None


@dataclass(frozen=True)
class Catalogue:
    """The lab catalogue: its tests by code, and the code of each normalised name, alias or
    code."""

    tests: dict            # code -> LabTest
    lookup: dict           # normalised name/alias/code -> code (names of one test only)
    version: str
    shared: dict = field(default_factory=dict)  # normalised name -> (code, ...) by specimen, default first
    _si_cache: dict = field(default_factory=dict, compare=False, repr=False)   # (code, unit) -> factor
    _names: dict = field(default_factory=dict, compare=False, repr=False)      # letter counts for suggest
    _series: dict = field(default_factory=dict, compare=False, repr=False)     # lookup_series, result_sets

    def code_for(self, text: str, specimen: str | None = None, unit: str | None = None,
                 result: str | None = None) -> str | None:
        """The test a name means. A name shared by tests of different specimens (pH, Protein,
        Glucose ...) is resolved by `specimen`, else by a unit or a categorical result only one
        of them accepts, else the catalogue's default for it."""
        key = norm_test(text)
        cands = self.shared.get(key)
        if not cands:
            return self.lookup.get(key)
        return self.resolve(cands, specimen_class(specimen), norm_unit(unit) if unit is not None else None,
                            norm_test(result) if result is not None else None)

    def resolve(self, cands: tuple, specimen: str | None, unit: str | None, result: str | None) -> str:
        if specimen:
            hit = [c for c in cands if self.tests[c].specimen == specimen]
            if len(hit) == 1:
                return hit[0]
        if unit:   # a blank unit tells nothing (dipstick and pH are unitless, and units get forgotten)
            hit = [c for c in cands if unit in self.tests[c].units]
            if len(hit) == 1:
                return hit[0]
        if result:
            hit = [c for c in cands if result in self.tests[c].results]
            if len(hit) == 1:
                return hit[0]
        return cands[0]

    def lookup_series(self) -> tuple[pl.Series, pl.Series]:
        """`lookup` as replace_strict's (old, new) Series, built on first use (replace_strict
        of the ~2,600-name dict builds them at every call: ~0.4 ms)."""
        if "lookup" not in self._series:
            self._series["lookup"] = mapping_series(self.lookup, pl.String)
        return self._series["lookup"]

    def per_test_series(self) -> tuple:
        """(SI unit, lowest plausible SI value, highest plausible SI value) of each test, each as
        replace_strict's (old, new) Series (a bound only for the tests that have it), built on
        first use: the labs table reads them in every check."""
        if "per_test" not in self._series:
            t = self.tests
            self._series["per_test"] = (
                mapping_series({c: x.si_unit for c, x in t.items()}, pl.String),
                mapping_series({c: x.plausible[0] for c, x in t.items() if x.plausible and x.plausible[0] is not None},
                               pl.Float64),
                mapping_series({c: x.plausible[1] for c, x in t.items() if x.plausible and x.plausible[1] is not None},
                               pl.Float64))
        return self._series["per_test"]

    def result_sets(self) -> dict:
        """code -> its accepted categorical results as is_in reads them (frames.lookup_set), for
        the tests that have some; built on first use."""
        if "results" not in self._series:
            self._series["results"] = {code: lookup_set(t.results) for code, t in self.tests.items() if t.results}
        return self._series["results"]

    def names_frame(self) -> pl.DataFrame:
        """The letter counts of every known name (letter_counts), built on first use; the
        precompiled catalogue (monitor.refcache) holds it built (~5 ms of a check that suggests)."""
        if not self._names:
            self._names["frame"] = letter_counts([*self.lookup, *self.shared])
        return self._names["frame"]

    def suggest(self, text: str, n: int = 2) -> list[str]:
        """Known tests close to an unknown name by spelling: `CODE (Name)`."""
        key = norm_test(text)
        if not key:
            return []
        keys = close_matches(key, self.names_frame(), n=6, cutoff=0.75)
        out = []
        for k in keys:
            code = self.lookup.get(k) or self.shared[k][0]
            label = f"{self.tests[code].cdisc} ({self.tests[code].name})"
            if label not in out:
                out.append(label)
        return out[:n]

    def to_si(self, code: str | None, unit: str | None) -> float | None:
        """Factor from `unit` (as written) to the test's SI unit; None when it is not a unit of
        the test (unknown spelling, or a dimension no bridge of the test converts)."""
        k = (code, "" if unit is None else str(unit))
        if k not in self._si_cache:
            t = self.tests.get(code) if code else None
            f = None if t is None else to_si_parsed(t, k[1])
            if f is None and t is not None:
                f = t.units.get(norm_unit(k[1]))          # a listed spelling the parser cannot read
            self._si_cache[k] = f
        return self._si_cache[k]

    def convert(self, code: str, unit_from: str | None, unit_to: str | None) -> float | None:
        """Factor from one unit of the test to another (via the SI unit)."""
        a, b = self.to_si(code, unit_from), self.to_si(code, unit_to)
        if a is None or b is None:
            return None
        return 1.0 if U.key(unit_from) == U.key(unit_to) else a / b

    def same_dimension(self, code: str, unit_a: str, unit_b: str) -> bool:
        """Whether two units of a test convert by pint alone (no analyte bridge)."""
        t = self.tests.get(code)
        pa = reading(t, unit_a) if t else None
        pb = reading(t, unit_b) if t else None
        return pa is not None and pb is not None and U.same_dimension(pa, pb)

    def suggest_unit(self, code: str | None, unit: str | None) -> str | None:
        """The accepted unit of the test closest in spelling to `unit` (`UL` -> `U/L`)."""
        t = self.tests.get(code) if code else None
        if t is None:
            return None
        labels = t.accepted
        keys: dict = {}
        for x in labels:                      # SI first: it wins a tie
            keys.setdefault(U.key(x).replace("x", ""), x)
        got = difflib.get_close_matches(U.key(unit).replace("x", ""), list(keys), n=1, cutoff=0.5)
        return keys[got[0]] if got else (labels[0] if labels else None)


def _name_keys(test: LabTest) -> tuple[list[str], list[str]]:
    """The normalised names a test answers to: code, name, aliases, plus the specimen-qualified
    forms of each (`urine pH`, `pH, urine`; `serum protein`) that are not already written."""
    base = [norm_test(x) for x in (test.code, test.name, *test.aliases)]
    words = ("urine",) if test.specimen == "URINE" else ("serum", "plasma", "blood")
    extra = [w + k for k in base for w in words if not k.startswith(w)] + \
            [k + w for k in base for w in words if not k.endswith(w)]
    return base, extra


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The bundled lab catalogue (cached; from the package's precompiled copy when it is
    current: monitor.refcache)."""
    from .. import refcache

    return refcache.get("catalogue", _build_catalogue)


def _build_catalogue() -> Catalogue:
    text = resources.files("monitor.labs").joinpath("tests.toml").read_text("utf-8")
    return parse_catalogue(text)


def parse_catalogue(text: str) -> Catalogue:
    """Build and validate the catalogue: a name may be shared only by tests of one CDISC code and
    different specimens, and the [defaults] table names which of them a bare name means."""
    data = tomldata.loads(text)
    tests, names = {}, {}
    for code, t in data["tests"].items():
        listed = dict(t.get("units", {}))
        units = {norm_unit(u): float(f) for u, f in listed.items()}
        labels = {norm_unit(u): u for u in listed}
        spec = t.get("specimen", "BLOOD")
        if spec not in SPECIMENS:
            raise ValueError(f"lab test {code}: specimen {spec!r} is not one of {', '.join(SPECIMENS)}")
        si_unit = t["si_unit"]
        unitless_ok = any(U.parse_unit(u)[:1] and U.parse_unit(u)[0].unitless for u in [*listed, si_unit])
        listed_parsed = {u: f for u, f in listed.items() if u != "" and not (
            U.parse_unit(u) and U.parse_unit(u)[0].unitless)}
        plausible, psource = _plausible(code, t)
        test = LabTest(code, t["name"], tuple(t.get("aliases", ())), si_unit, units, labels,
                       tuple(norm_test(r) for r in t.get("results", ())), spec, t.get("code", code),
                       t.get("source", ""), t.get("molar_mass"), t.get("valence"), plausible, psource,
                       _bridges(code, t, si_unit, listed_parsed), unitless_ok)
        tests[code] = test
    generated = {}
    for code, test in tests.items():
        base, extra = _name_keys(test)
        for key in base:
            names.setdefault(key, [])
            if code not in names[key]:
                names[key].append(code)
        for key in extra:
            generated.setdefault(key, code)
    for key, code in generated.items():
        names.setdefault(key, [code])
    defaults = data.get("defaults", {})
    lookup, shared = {}, {}
    for key, codes in names.items():
        if len(codes) == 1:
            lookup[key] = codes[0]
            continue
        cdisc = {tests[c].cdisc for c in codes}
        specs = [tests[c].specimen for c in codes]
        if len(cdisc) > 1 or len(set(specs)) < len(specs):
            raise ValueError(f"lab test name {key!r} names {', '.join(codes)}: a name may be shared only "
                             "by tests of one CDISC code and different specimens")
        default = defaults.get(cdisc.pop())
        if default not in codes:
            raise ValueError(f"lab test name {key!r} is shared by {', '.join(codes)}: "
                             f"[defaults] must name one of them for its code")
        shared[key] = (default, *[c for c in codes if c != default])
    return Catalogue(tests, lookup, data.get("version", ""), shared)


def norm_test_expr(e):
    """The polars form of norm_test."""
    return e.str.to_lowercase().str.replace_all(r"[^0-9a-z+]+", "")


def norm_unit_expr(e):
    """The polars form of norm_unit."""
    t = e.fill_null("")
    for sup, plain in (("⁹", "^9"), ("³", "^3"), ("⁶", "^6"), ("¹²", "^12")):
        t = t.str.replace_all(sup, plain, literal=True)
    t = t.str.replace_all("10*", "10^", literal=True)
    t = (t.str.strip_chars().str.to_lowercase().str.replace_all("µ", "u", literal=True)
         .str.replace_all("μ", "u", literal=True).str.replace_all(" ", "", literal=True)
         .str.replace_all("*", "", literal=True).str.replace_all("×", "x", literal=True)
         .str.replace(r"^x(10)", "${1}").str.replace_all("10e9", "10^9", literal=True)
         .str.replace_all("10e3", "10^3", literal=True))
    return t


def specimen_class_expr(e):
    """The polars form of specimen_class."""
    t = e.str.to_lowercase()
    return (pl.when(t.str.contains("urin")).then(pl.lit("URINE"))
            .when(t.str.contains("blood|serum|plasma|sera")).then(pl.lit("BLOOD"))
            .otherwise(pl.lit(None, dtype=pl.String)))


def with_lab_codes(frame, catalogue: "Catalogue"):
    """Add `test_code` (canonical code or null) and `unit_factor` (the factor from the entered
    unit to the test's SI unit; null = not a unit of the test) to a Labs frame. (The normalised
    unit the codes are worked out from is not kept: no reader needs it, and on a whole study it
    was a 600,000-row text column held through every rule.)

    Tests and units have few distinct values: each is normalised once and mapped back. Rows of
    a shared name (pH, Protein ...) are resolved per distinct (name, specimen, unit, categorical
    result), see Catalogue.code_for. Units are parsed once per distinct (test, unit) pair.
    """
    if "test" not in frame.columns or frame.height == 0:
        out = _with_test_codes(frame, catalogue)
        return out.with_columns(unit_factor_expr(out, catalogue).alias("unit_factor")).drop("unit_norm")
    # The two columns depend only on (test, unit, specimen, and the unreadable result text of a
    # shared name): they are worked out once per distinct combination and joined back to the rows
    # (a 600,000-row sheet has about a hundred), not mapped column by column over every row.
    keys = [c for c in ("test", "unit", "specimen") if c in frame.columns]
    extra = []
    if {"result__err", "result__raw"} <= set(frame.columns) and catalogue.shared:
        tests = frame.select(pl.col("test").unique())
        shared_raw = tests.filter(norm_test_expr(pl.col("test")).is_in(list(catalogue.shared))).get_column("test")
        extra = [pl.when(pl.col("result__err").is_not_null() & pl.col("test").is_in(shared_raw.implode()))
                 .then(pl.col("result__raw")).alias("_res")]
    on = keys + (["_res"] if extra else [])
    # the key columns are selected first: an eager group_by of the wide frame with a computed
    # key cost ~150 MiB and 0.4 s on a 600,000-row sheet, this ~4 MiB and 0.1 s
    combos = collect_sized(frame.lazy().select(*keys, *extra).group_by(on).len("_len"), frame.height)
    if extra:   # what _with_test_codes reads of a result (only for shared names)
        combos = combos.with_columns(pl.col("_res").alias("result__raw"),
                                     pl.when(pl.col("_res").is_not_null()).then(pl.lit("x")).alias("result__err"))
    combos = _with_test_codes(combos, catalogue)
    combos = combos.select(*on, "test_code",
                           unit_factor_expr(combos, catalogue, weight="_len").alias("unit_factor"))
    out = frame.with_columns(extra) if extra else frame
    out = join_columns(out, combos, on, nulls_equal=True)
    return out.drop("_res") if extra else out


def _with_test_codes(frame, catalogue: "Catalogue"):
    def by_value(col: str, expr_fn, dtype):
        if col not in frame.columns:
            return pl.lit(None, dtype=dtype)
        uniq = frame.select(pl.col(col).unique())
        mapped = uniq.select(pl.col(col), expr_fn(pl.col(col)).alias("_v"))
        return pl.col(col).replace_strict(mapped.get_column(col), mapped.get_column("_v"),
                                          default=None, return_dtype=dtype)

    unit_norm = (pl.when(pl.col("unit").is_null()).then(pl.lit("")).otherwise(by_value("unit", norm_unit_expr, pl.String))
                 if "unit" in frame.columns else pl.lit(""))
    out = frame.with_columns(by_value("test", norm_test_expr, pl.String).alias("_tn"), unit_norm.alias("unit_norm"))
    code = pl.col("_tn").replace_strict(*catalogue.lookup_series(), default=None, return_dtype=pl.String)
    shared = pl.col("_tn").is_in(list(catalogue.shared))
    if not catalogue.shared or not out.select(shared.any()).item():
        return out.with_columns(code.alias("test_code")).drop("_tn")
    spec = (by_value("specimen", specimen_class_expr, pl.String) if "specimen" in frame.columns
            else pl.lit(None, dtype=pl.String))
    res = (pl.when(pl.col("result__err").is_not_null()).then(norm_test_expr(pl.col("result__raw")))
           if {"result__err", "result__raw"} <= set(frame.columns) else pl.lit(None, dtype=pl.String))
    key = pl.when(shared).then(pl.concat_str([pl.col("_tn"), spec.fill_null(""), pl.col("unit_norm"),
                                              res.fill_null("")], separator="\x1f"))
    out = out.with_columns(key.alias("_sk"))
    combos = out.get_column("_sk").drop_nulls().unique().to_list()
    resolved = {}
    for k in combos:   # few distinct combinations, not rows
        tn, sp, un, rs = k.split("\x1f")
        resolved[k] = catalogue.resolve(catalogue.shared[tn], sp or None, un, rs or None)
    shared_code = pl.col("_sk").replace_strict(resolved, default=None, return_dtype=pl.String)
    return out.with_columns(pl.coalesce(code, shared_code).alias("test_code")).drop("_tn", "_sk")


def pair_key(code: str, unit: str) -> str:
    return f"{code}\x1f{unit}"


def unit_factor_expr(frame, catalogue: "Catalogue", code_col: str = "test_code", unit_col: str = "unit",
                     weight: str | None = None):
    """Factor to SI of each row's unit, computed once per distinct (test, unit) pair.
    `weight`: a column of how many rows each row of `frame` stands for (a frame of distinct
    combinations with their counts), so the most frequent pairs are the ones kept."""
    unit = pl.col(unit_col).cast(pl.String).fill_null("") if unit_col in frame.columns else pl.lit("")
    key = pl.concat_str([pl.col(code_col), unit], separator="\x1f")
    n = pl.col(weight).sum().alias("len") if weight else pl.len()
    pairs = (frame.select(pl.col(code_col).cast(pl.String).alias("c"), unit.alias("u"),
                          *([pl.col(weight)] if weight else []))
             .filter(pl.col("c").is_not_null() & (pl.col("u").str.len_chars() <= U.MAX_UNIT_CHARS))
             .group_by("c", "u").agg(n).sort("len", "c", "u", descending=[True, False, False])
             .head(MAX_DISTINCT_UNITS))   # a hostile sheet of random units must not cost minutes
    mapping = {pair_key(c, u): catalogue.to_si(c, u) for c, u, _ in pairs.iter_rows()}
    mapping = {k: v for k, v in mapping.items() if v is not None}
    return key.replace_strict(mapping, default=None, return_dtype=pl.Float64)
