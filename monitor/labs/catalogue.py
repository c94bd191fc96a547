"""Load the lab test catalogue and match test names and units written by coordinators."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import polars as pl


@dataclass(frozen=True)
class LabTest:
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
    tests: dict            # code -> LabTest
    lookup: dict           # normalised name/alias/code -> code (names of one test only)
    version: str
    shared: dict = field(default_factory=dict)  # normalised name -> (code, ...) by specimen, default first

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

    def suggest(self, text: str, n: int = 2) -> list[str]:
        """Known tests close to an unknown name by spelling: `CODE (Name)`."""
        key = norm_test(text)
        if not key:
            return []
        keys = difflib.get_close_matches(key, list(self.lookup) + list(self.shared), n=6, cutoff=0.75)
        out = []
        for k in keys:
            code = self.lookup.get(k) or self.shared[k][0]
            label = f"{self.tests[code].cdisc} ({self.tests[code].name})"
            if label not in out:
                out.append(label)
        return out[:n]


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
    text = resources.files("monitor.labs").joinpath("tests.toml").read_text("utf-8")
    return parse_catalogue(text)


def parse_catalogue(text: str) -> Catalogue:
    """Build and validate the catalogue: a name may be shared only by tests of one CDISC code and
    different specimens, and the [defaults] table names which of them a bare name means."""
    data = tomllib.loads(text)
    tests, names = {}, {}
    for code, t in data["tests"].items():
        units = {norm_unit(u): float(f) for u, f in t["units"].items()}
        labels = {norm_unit(u): u for u in t["units"]}
        spec = t.get("specimen", "BLOOD")
        if spec not in SPECIMENS:
            raise ValueError(f"lab test {code}: specimen {spec!r} is not one of {', '.join(SPECIMENS)}")
        test = LabTest(code, t["name"], tuple(t.get("aliases", ())), t["si_unit"], units, labels,
                       tuple(norm_test(r) for r in t.get("results", ())), spec, t.get("code", code),
                       t.get("source", ""))
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
    """Add `test_code` (canonical code or null) and `unit_norm` to a Labs frame.

    Tests and units have few distinct values: each is normalised once and mapped back. Rows of
    a shared name (pH, Protein ...) are resolved per distinct (name, specimen, unit, categorical
    result), see Catalogue.code_for.
    """
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
    code = pl.col("_tn").replace_strict(catalogue.lookup, default=None, return_dtype=pl.String)
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
