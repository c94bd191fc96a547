"""Potential Hy's law on HCC baselines (LAB102): FDA 2009 DILI guidance, baseline-aware.

Cirrhosis and liver tumour raise ALT, AST and bilirubin before the first dose. Counting ULN
multiples alone reports every such patient at every visit. Here (docs/protocol_rules.md):
  * only draws on or after the first dose count (on treatment);
  * the reference is the ULN where the subject's baseline (last result on or before the first
    dose) is within normal limits, and the baseline itself where it is above the ULN
    (multiples of baseline, as in mDISH and the IQ DILI consensus for patients with abnormal
    baseline liver tests, Treem et al. Drug Saf 2021;44:133-165);
  * thresholds as the guidance words them: ALT or AST "3-fold or greater" (>= 3), total
    bilirubin "> 2x" (> 2), no cholestasis: ALP "< 2x ULN";
  * bilirubin within `safety.hys_law_window_days` of the transaminase draw; ALP from the same draw
    or within `safety.hys_law_alp_window_days`; an ALP >= 2 x ULN there is cholestatic injury, not a
    Hy's law pattern; no ALP at all is reported as unknown (the case is still potential).
"""

from __future__ import annotations

import polars as pl

from ..derive.exposure import REL_TOL, cached, fmt_num
from .base import emit, sheet_join


def liver_draws(ctx) -> pl.DataFrame:
    """row, subject, date, test, x_uln, x_ref, ref ('ULN' / 'baseline'), baseline_x_uln for ALT, AST,
    BILI and ALP results on or after the first dose (cached)."""
    return cached(ctx, "liver_draws", _build_liver_draws)


def _build_liver_draws(ctx) -> pl.DataFrame:
    schema = {"row": pl.Int64, "subject": pl.String, "date": pl.Date, "test": pl.String, "x_uln": pl.Float64,
              "x_ref": pl.Float64, "ref": pl.String, "baseline_x_uln": pl.Float64}
    labs = ctx.labs
    if not labs.height or "first_dose" not in labs.columns:
        return pl.DataFrame(schema=schema)
    df = (labs.select("row", "subject", "date", "test", "value_si", "uln_si", "baseline_flag", "first_dose")
          .filter(pl.col("test").is_in(["ALT", "AST", "BILI", "ALP"]) & pl.col("date").is_not_null()
                  & pl.col("value_si").is_not_null()))   # the columns used, before the filter of the wide table
    base = (df.filter(pl.col("baseline_flag")).sort("row").group_by("subject", "test")
            .agg((pl.col("value_si") / pl.col("uln_si")).last().alias("baseline_x_uln"),
                 pl.col("value_si").last().alias("_base")))
    df = df.filter(pl.col("first_dose").is_not_null() & (pl.col("date") >= pl.col("first_dose")))
    df = df.join(base, on=["subject", "test"], how="left")
    abnormal = (pl.col("baseline_x_uln") > 1 + REL_TOL).fill_null(False)
    return df.select(
        pl.col("row").cast(pl.Int64), "subject", "date", "test", (pl.col("value_si") / pl.col("uln_si")).alias("x_uln"),
        pl.when(abnormal).then(pl.col("value_si") / pl.col("_base"))
        .otherwise(pl.col("value_si") / pl.col("uln_si")).alias("x_ref"),
        pl.when(abnormal).then(pl.lit("baseline")).otherwise(pl.lit("ULN")).alias("ref"),
        "baseline_x_uln")


def _times(x: str, ref: str) -> pl.Expr:
    return fmt_num(pl.col(x)) + pl.lit(" x ") + pl.col(ref)


def potential_hys_law(ctx):
    """On treatment, ALT or AST >= 3 x ULN (or x baseline) with bilirubin > 2 x and ALP < 2 x ULN: potential Hy's law.

    *What it does*: on draws on or after the first dose, pairs each ALT/AST of 3 times or more its
    reference with a total bilirubin of more than 2 times its reference of the same subject on the
    same draw or within `safety.hys_law_window_days` (7). The reference is the ULN when the
    subject's baseline is within normal limits and the baseline when it is above the ULN (mDISH).
    ALP is taken from the same draw or within `safety.hys_law_alp_window_days` (0); ALP >= 2 x ULN
    (cholestasis) excludes the pair, no ALP is reported as not available.
    *Why it matters*: hepatocellular injury with jaundice and without cholestasis predicts a high
    risk of fatal drug-induced liver injury; potential cases need expedited evaluation (FDA
    Guidance for Industry: Drug-Induced Liver Injury, 2009: "ALT or AST elevation of 3-fold or
    greater above ULN ... total bilirubin >2x ULN ... without initial findings of cholestasis
    (ALP <2x ULN)"). HCC baselines are often abnormal: multiples of baseline keep a stable
    cirrhotic patient from being reported at every visit (Treem et al., Drug Saf 2021).
    *Example*: normal baseline, ALT 180 U/L (ULN 40, 4.5 x) on 2023-02-01, bilirubin 50 umol/L
    (ULN 21, 2.4 x) on 2023-02-03, ALP 1.2 x ULN.
    """
    sd = ctx.sheet("Labs")
    draws = liver_draws(ctx)
    if not draws.height:
        return None
    safety = ctx.profile.safety
    win, alp_win = int(safety["hys_law_window_days"]), int(safety.get("hys_law_alp_window_days", 0))
    trans = draws.filter(pl.col("test").is_in(["ALT", "AST"]) & (pl.col("x_ref") >= 3 * (1 - REL_TOL)))
    bili = draws.filter((pl.col("test") == "BILI") & (pl.col("x_ref") > 2 * (1 + REL_TOL))).select(
        "subject", pl.col("date").alias("bili_date"), pl.col("x_ref").alias("bili_x"), pl.col("ref").alias("bili_ref"))
    pairs = trans.join(bili, on="subject").filter((pl.col("bili_date") - pl.col("date")).dt.total_days().abs() <= win)
    if not pairs.height:
        return None
    pairs = pairs.sort(["row", "bili_x"], descending=[False, True]).group_by("row", maintain_order=True).first()
    alp = draws.filter(pl.col("test") == "ALP").select("subject", pl.col("date").alias("alp_date"),
                                                        pl.col("x_uln").alias("alp_x"))
    near = (pairs.select("row", "subject", "date").join(alp, on="subject")
            .with_columns((pl.col("alp_date") - pl.col("date")).dt.total_days().abs().alias("_d"))
            .filter(pl.col("_d") <= alp_win).sort("row", "_d", "alp_x", descending=[False, False, True])
            .group_by("row", maintain_order=True).first().select("row", "alp_x", "alp_date"))
    pairs = pairs.join(near, on="row", how="left").filter(~(pl.col("alp_x") >= 2).fill_null(False))
    if not pairs.height:
        return None
    df = sheet_join(sd, pairs.rename({"row": "_row", "test": "x_test"}))
    alp_txt = (pl.when(pl.col("alp_x").is_null())
               .then(pl.lit(f" ALP not available {'on that draw' if alp_win == 0 else f'within {alp_win} days'}."))
               .otherwise(pl.lit(" ALP ") + fmt_num(pl.col("alp_x")) + pl.lit(" x ULN (< 2: no cholestasis).")))
    base = (pl.when(pl.col("ref") == "baseline")
            .then(pl.lit(" (baseline ") + fmt_num(pl.col("baseline_x_uln")) + pl.lit(" x ULN)")).otherwise(pl.lit("")))
    return emit(sd, df, "result", pl.lit("Potential Hy's law on treatment: ") + pl.col("x_test") + pl.lit(" ")
                + _times("x_ref", "ref") + base + pl.lit(" on ") + pl.col("date").cast(pl.String)
                + pl.lit(" with bilirubin ") + _times("bili_x", "bili_ref") + pl.lit(" on ")
                + pl.col("bili_date").cast(pl.String) + pl.lit(".") + alp_txt,
                suggestion=pl.lit("Evaluate for drug-induced liver injury and report per the protocol."))
