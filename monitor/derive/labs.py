"""The analysis-ready labs table: canonical test codes, SI values, normal limits and baseline.

Baseline (CTCAE v5.0 baseline-relative grades; ADaM ABLFL convention): the subject's last
non-missing result for that test on or before the first dose date. First dose = the earliest
Cycles date with Action Given or Reduced.
"""

from __future__ import annotations

import polars as pl

from ..labs.catalogue import Catalogue, with_lab_codes


def first_doses(cycles) -> pl.DataFrame:
    """subject -> first_dose (earliest Given/Reduced date), from the Cycles sheet data."""
    if cycles is None or not cycles.has("subject", "date", "action"):
        return pl.DataFrame(schema={"subject": pl.String, "first_dose": pl.Date})
    return (cycles.frame.filter(pl.col("action").is_in(["Given", "Reduced"]) & pl.col("date").is_not_null())
            .group_by("subject").agg(pl.col("date").min().alias("first_dose")))


def labs_table(labs, cycles, catalogue: Catalogue) -> pl.DataFrame:
    """One row per result with SI conversion (value_si = value * factor of the entered unit)."""
    if labs is None or not labs.has("subject", "date", "test", "result"):
        return pl.DataFrame()
    df = with_lab_codes(labs.frame, catalogue)
    factors = {f"{code}\x1f{u}": f for code, t in catalogue.tests.items() for u, f in t.units.items()}
    si_units = {code: t.si_unit for code, t in catalogue.tests.items()}
    key = pl.concat_str([pl.col("test_code"), pl.col("unit_norm")], separator="\x1f")
    factor = key.replace_strict(factors, default=None, return_dtype=pl.Float64)
    lln = pl.col("lln") if "lln" in df.columns else pl.lit(None, dtype=pl.Float64)
    uln = pl.col("uln") if "uln" in df.columns else pl.lit(None, dtype=pl.Float64)
    unit = pl.col("unit") if "unit" in df.columns else pl.lit(None, dtype=pl.String)
    out = df.select(
        pl.col("_row").alias("row"),
        pl.col("subject"),
        pl.col("date"),
        pl.col("test_code").alias("test"),
        pl.col("test").alias("test_as_entered"),
        pl.col("result__raw").alias("result_text"),
        pl.col("result").alias("value"),
        pl.col("result__q").alias("qualifier"),
        unit.alias("unit"),
        (pl.col("result") * factor).alias("value_si"),
        pl.col("test_code").replace_strict(si_units, default=None, return_dtype=pl.String).alias("unit_si"),
        lln.alias("lln"),
        uln.alias("uln"),
        (lln * factor).alias("lln_si"),
        (uln * factor).alias("uln_si"),
        factor.alias("_factor"),   # the row's own unit factor, for the baseline below
    )
    fd = first_doses(cycles)
    out = out.join(fd, on="subject", how="left")
    base = (out.filter(pl.col("value_si").is_not_null() & pl.col("first_dose").is_not_null()
                       & (pl.col("date") <= pl.col("first_dose")) & pl.col("test").is_not_null())
            .sort(["subject", "test", "date", "row"])
            .group_by(["subject", "test"], maintain_order=True)
            .agg(pl.col("value_si").last().alias("baseline_si"), pl.col("date").last().alias("baseline_date")))
    out = out.join(base, on=["subject", "test"], how="left")
    return out.with_columns(
        (pl.col("baseline_si") / pl.col("_factor")).alias("baseline"),
        ((pl.col("date") == pl.col("baseline_date")) & pl.col("value_si").is_not_null()).fill_null(False)
        .alias("baseline_flag"),
    ).drop("_factor").sort("row")


def factor_for(df: pl.DataFrame, factors: dict) -> pl.Expr:
    """Factor of each row's own unit (to show the baseline in the row's unit)."""
    from ..labs.catalogue import norm_unit_expr

    key = pl.concat_str([pl.col("test"), norm_unit_expr(pl.col("unit"))], separator="\x1f")
    return key.replace_strict(factors, default=None, return_dtype=pl.Float64)


def graded_labs(labs, cycles, catalogue: Catalogue) -> pl.DataFrame:
    """labs_table plus the CTCAE v5.0 grade columns (ctcae_term_low/high, ctcae_grade_low/high,
    ctcae_grade), when the grading engine is present."""
    df = labs_table(labs, cycles, catalogue)
    if not df.height:
        return df
    from ..ctcae.grade import grade_labs

    graded = grade_labs(df.rename({"test": "test_code"}))
    return graded.rename({"test_code": "test"})
