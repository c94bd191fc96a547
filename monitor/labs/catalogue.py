"""Load the lab test catalogue and match test names and units written by coordinators."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class LabTest:
    code: str
    name: str
    aliases: tuple[str, ...]
    si_unit: str
    units: dict            # normalised unit -> factor to si_unit
    unit_labels: dict      # normalised unit -> unit as written in the catalogue
    results: tuple[str, ...] = ()  # accepted categorical results (normalised)


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


@dataclass(frozen=True)
class Catalogue:
    tests: dict            # code -> LabTest
    lookup: dict           # normalised name/alias/code -> code
    version: str

    def code_for(self, text: str) -> str | None:
        return self.lookup.get(norm_test(text))


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    data = tomllib.loads(resources.files("monitor.labs").joinpath("tests.toml").read_text("utf-8"))
    tests, lookup = {}, {}
    for code, t in data["tests"].items():
        units = {norm_unit(u): float(f) for u, f in t["units"].items()}
        labels = {norm_unit(u): u for u in t["units"]}
        test = LabTest(code, t["name"], tuple(t.get("aliases", ())), t["si_unit"], units, labels,
                       tuple(norm_test(r) for r in t.get("results", ())))
        tests[code] = test
        for name in (code, t["name"], *test.aliases):
            key = norm_test(name)
            if key in lookup and lookup[key] != code:
                raise ValueError(f"lab test alias {name!r} names both {lookup[key]} and {code}")
            lookup[key] = code
    return Catalogue(tests, lookup, data.get("version", ""))


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


def with_lab_codes(frame, catalogue: "Catalogue"):
    """Add `test_code` (canonical code or null) and `unit_norm` to a Labs frame.

    Tests and units have few distinct values: each is normalised once and mapped back.
    """
    import polars as pl

    def by_value(col: str, expr_fn, dtype):
        if col not in frame.columns:
            return pl.lit(None, dtype=dtype)
        uniq = frame.select(pl.col(col).unique())
        mapped = uniq.select(pl.col(col), expr_fn(pl.col(col)).alias("_v"))
        return pl.col(col).replace_strict(mapped.get_column(col), mapped.get_column("_v"),
                                          default=None, return_dtype=dtype)

    code = lambda e: norm_test_expr(e).replace_strict(catalogue.lookup, default=None, return_dtype=pl.String)  # noqa: E731
    return frame.with_columns(
        by_value("test", code, pl.String).alias("test_code"),
        pl.when(pl.col("unit").is_null()).then(pl.lit("")).otherwise(by_value("unit", norm_unit_expr, pl.String))
        .alias("unit_norm") if "unit" in frame.columns else pl.lit("").alias("unit_norm"),
    )
