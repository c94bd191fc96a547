"""The analysis-ready labs table: canonical test codes, SI values, normal limits and baseline.

Baseline (CTCAE v5.0 baseline-relative grades; ADaM ABLFL convention): the subject's last
non-missing result for that test on or before the first dose date. First dose = the earliest
Cycles date with Action Given or Reduced.

Plausibility: a result outside its test's physiological limits (catalogue `plausible`) keeps
`value` but gets `plausible` false and no `value_si`, so it is never graded (rule LAB009 says
why on its cell).

Corrected calcium (CTCAE v5.0 Hypocalcemia / Hypercalcemia grade "corrected serum calcium"):
total calcium + 0.8 x (4 - albumin g/dL) mg/dL, the same as + 0.02 x (40 - albumin g/L) mmol/L
(Payne RB et al., BMJ 1973;4:643-6), from the albumin of the same subject drawn the same day.
A calcium entered in mg/dL is corrected with the mg/dL formula, every other unit with the mmol/L
one. Without a same-day albumin the total calcium is graded as reported and `ca_corrected` is
false; ionized calcium (CAION) is never corrected.
"""

from __future__ import annotations

import polars as pl

from ..frames import join_columns
from ..labs.catalogue import Catalogue, with_lab_codes

CA_CORRECTION_MG_DL = 0.8     # mg/dL calcium per g/dL albumin below 4 g/dL (Payne 1973)
CA_CORRECTION_MMOL_L = 0.02   # mmol/L calcium per g/L albumin below 40 g/L (the same, in SI)
ALBUMIN_REFERENCE_G_L = 40.0


def first_doses(cycles) -> pl.DataFrame:
    """subject -> first_dose (earliest Given/Reduced date), from the Cycles sheet data."""
    if cycles is None or not cycles.has("subject", "date", "action"):
        return pl.DataFrame(schema={"subject": pl.String, "first_dose": pl.Date})
    return (cycles.frame.filter(pl.col("action").is_in(["Given", "Reduced"]) & pl.col("date").is_not_null())
            .group_by("subject").agg(pl.col("date").min().alias("first_dose")))


def labs_table(labs, cycles, catalogue: Catalogue, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per result with SI conversion (value_si = value * factor of the entered unit).
    `rows`: `with_lab_codes(labs.frame, catalogue)` when the caller has it already (a check's
    ctx.lab_rows), so the codes and unit factors are not worked out twice."""
    if labs is None or not labs.has("subject", "date", "test", "result"):
        return pl.DataFrame()
    df = with_lab_codes(labs.frame, catalogue) if rows is None else rows
    si_units, lo, hi = catalogue.per_test_series()
    factor = pl.col("unit_factor")
    raw_si = pl.col("result") * factor
    plausible = ~((raw_si < pl.col("test_code").replace_strict(*lo, default=None, return_dtype=pl.Float64))
                  | (raw_si > pl.col("test_code").replace_strict(*hi, default=None, return_dtype=pl.Float64))
                  ).fill_null(False)
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
        pl.when(plausible).then(raw_si).alias("value_si"),
        (plausible | pl.col("result").is_null() | factor.is_null()).alias("plausible"),
        pl.col("test_code").replace_strict(*si_units, default=None, return_dtype=pl.String).alias("unit_si"),
        lln.alias("lln"),
        uln.alias("uln"),
        (lln * factor).alias("lln_si"),
        (uln * factor).alias("uln_si"),
        factor.alias("_factor"),   # the row's own unit factor, for the baseline below
    )
    fd = first_doses(cycles)
    out = join_columns(out, fd, "subject")
    base = (out.filter(pl.col("value_si").is_not_null() & pl.col("first_dose").is_not_null()
                       & (pl.col("date") <= pl.col("first_dose")) & pl.col("test").is_not_null())
            .sort(["subject", "test", "date", "row"])
            .group_by(["subject", "test"], maintain_order=True)
            .agg(pl.col("value_si").last().alias("baseline_si"), pl.col("date").last().alias("baseline_date")))
    out = join_columns(out, base, ["subject", "test"])
    out = out.with_columns(
        (pl.col("baseline_si") / pl.col("_factor")).alias("baseline"),
        ((pl.col("date") == pl.col("baseline_date")) & pl.col("value_si").is_not_null()).fill_null(False)
        .alias("baseline_flag"),
    )
    out = corrected_calcium(out, catalogue).drop("_factor")
    # the joins above keep the sheet's row order: the sort is skipped when it would change nothing
    return out if out.get_column("row").is_sorted() else out.sort("row")


def corrected_calcium(out: pl.DataFrame, catalogue: Catalogue) -> pl.DataFrame:
    """`corrected` (corrected calcium in the entered unit, null when not corrected),
    `corrected_si` (the SI value to grade) and `ca_corrected` (true / false on total calcium
    rows with a value, null on others)."""
    is_ca = pl.col("test") == "CA"
    alb = (out.filter((pl.col("test") == "ALB") & pl.col("value_si").is_not_null()
                      & pl.col("date").is_not_null())
           .sort("row").group_by(["subject", "date"], maintain_order=True)
           .agg(pl.col("value_si").first().alias("_alb_g_l")))
    # the same-day albumin of the calcium rows only (the only rows that read it): their keys are
    # joined and the albumins put at their positions (a join of all 600,000 rows cost ~60 ms)
    at = out.select(pl.arg_where(is_ca)).to_series()
    alb_ca = join_columns(out.select("subject", "date")[at], alb, ["subject", "date"]).get_column("_alb_g_l")
    out = out.with_columns(pl.repeat(None, out.height, dtype=pl.Float64, eager=True).scatter(at, alb_ca)
                           .alias("_alb_g_l"))
    units = out.filter(is_ca).select(pl.col("unit").fill_null("")).unique().to_series().to_list()
    mg_dl = [u for u in units if catalogue.convert("CA", u, "mg/dL") == 1.0]
    delta_si = CA_CORRECTION_MMOL_L * (ALBUMIN_REFERENCE_G_L - pl.col("_alb_g_l"))
    delta = (pl.when(pl.col("unit").fill_null("").is_in(mg_dl))
             .then(CA_CORRECTION_MG_DL * (ALBUMIN_REFERENCE_G_L - pl.col("_alb_g_l")) / 10.0)
             .otherwise(delta_si / pl.col("_factor")))
    ok = is_ca & pl.col("value_si").is_not_null() & pl.col("_alb_g_l").is_not_null()
    corrected = pl.when(ok).then(pl.col("value") + delta)
    return out.with_columns(
        corrected.alias("corrected"),
        pl.when(ok).then((pl.col("value") + delta) * pl.col("_factor")).otherwise(pl.col("value_si"))
        .alias("corrected_si"),
        pl.when(is_ca & pl.col("value_si").is_not_null()).then(ok).alias("ca_corrected"),
    ).drop("_alb_g_l")


def graded_labs(labs, cycles, catalogue: Catalogue, rows: pl.DataFrame | None = None,
                omit: tuple = ()) -> pl.DataFrame:
    """labs_table plus the CTCAE v5.0 grade columns (ctcae_term_low/high, ctcae_grade_low/high,
    ctcae_grade), when the grading engine is present. `omit`: columns not wanted (a grade output
    in it is never built; the others are dropped once the grading has read them)."""
    df = labs_table(labs, cycles, catalogue, rows)
    if not df.height:
        return df.drop(c for c in omit if c in df.columns)
    from ..ctcae.grade import grade_labs

    # grade the corrected calcium; the table keeps the values as entered beside `corrected`
    inputs = df.rename({"test": "test_code"}).with_columns(
        pl.when(pl.col("plausible")).then(pl.coalesce("corrected", "value")).alias("value"),
        pl.col("corrected_si").alias("value_si"))
    graded = grade_labs(inputs, omit=omit).rename({"test_code": "test"})
    graded = graded.with_columns(df.get_column("value"), df.get_column("value_si")).drop("corrected_si")
    return graded.drop(c for c in omit if c in graded.columns)
