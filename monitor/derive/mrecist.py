"""mRECIST for HCC (Lencioni & Llovet, Semin Liver Dis 2010;30:52-60): a response read on the
viable tumour -- the part that enhances in the arterial phase -- beside RECIST 1.1. Made only where
the Tumor sheet has the optional `Viable diameter (mm)` column, for subjects with a viable diameter
entered, and when the profile has an [mrecist] table (thresholds there, with the source).

    mrecist_assessments(ctx) one row per subject and assessment: sum of viable diameters, its
                   baseline and nadir, the target response and the overall mRECIST response.
    mrecist_columns(ctx)    the mrecist_* columns of the `recist` export, with the best overall
                   mRECIST response (the RECIST 1.1 best-response rules, monitor.derive.recist_best).

Targets (typical HCC): a RECIST 1.1 baseline target (measurable, monitor.derive.recist_lesions)
whose baseline viable diameter is >= min_viable_mm (10 mm of arterially enhancing tumour); an
intrahepatic target without that much enhancement is not an mRECIST target. An extrahepatic target
(organ not liver) with the viable column blank counts with its RECIST diameter: arterial
enhancement is the HCC-in-liver criterion; extrahepatic lesions are measured as in RECIST 1.1.
Target response (table 1 of the paper): CR = no intratumoral arterial enhancement left in any
target (every viable diameter 0 mm); PR = the sum of viable diameters >= pr_decrease_pct (30%)
below the baseline sum; PD = >= pd_increase_pct (20%) above the nadir (the smallest sum since
treatment started, baseline included) with at least pd_min_increase_mm more (0: mRECIST has no
absolute minimum; an increase is still needed); NE = a target not measured; else SD. Non-target
and new lesions, and the overall response, are RECIST 1.1's (tables 1 and 2). The porta-hepatis
node threshold (>= 20 mm) and LI-RADS typing of new lesions are not read: the sheet does not carry them.
"""

from __future__ import annotations

import polars as pl

from .exposure import cached
from .recist import assessment_dates, assessments, follow_up, overall_response, target_sums
from .recist_best import best_of
from .recist_lesions import baseline_roles

SCHEMA = {"subject": pl.String, "date": pl.Date}


def build_mrecist_assessments(ctx) -> pl.DataFrame:
    mr, r = ctx.profile.mrecist, ctx.profile.recist
    sd = ctx.sheet("Tumor")
    if not mr or sd is None or "viable" not in sd.columns:
        return pl.DataFrame(schema=SCHEMA)
    les = follow_up(ctx)
    les = les.filter(pl.col("subject").is_in(les.filter(pl.col("viable").is_not_null())
                                             .get_column("subject").unique().implode()))
    if not les.height:
        return pl.DataFrame(schema=SCHEMA)
    base_viable = (les.filter((pl.col("date") == pl.col("baseline_date")) & (pl.col("lesion_type") == "Target"))
                   .sort("row").group_by("subject", "lesion", maintain_order=True)
                   .agg(pl.col("viable").first().alias("_v0")))
    targets = (baseline_roles(les, r).filter(pl.col("role") == "target").join(base_viable, on=["subject", "lesion"])
               .with_columns((pl.col("organ") != "liver").fill_null(True).alias("extrahepatic"))
               .filter(pl.when(pl.col("_v0").is_not_null()).then(pl.col("_v0") >= mr["min_viable_mm"])
                       .otherwise(pl.col("extrahepatic")))
               .select("subject", "lesion", "extrahepatic"))
    dates = assessment_dates(les)
    value = pl.when(pl.col("extrahepatic") & pl.col("viable").is_null()).then(pl.col("diameter")).otherwise(pl.col("viable"))
    meas = (les.filter(pl.col("lesion_type") == "Target").sort("row")
            .group_by("subject", "date", "lesion", maintain_order=True)
            .agg(pl.col("viable").first(), pl.col("diameter").first()))
    grid = (dates.select("subject", "date").join(targets, on="subject")
            .join(meas, on=["subject", "date", "lesion"], how="left")
            .with_columns(value.alias("value"), pl.lit(False).alias("nodal")))
    df = target_sums(dates, grid, mr["pr_decrease_pct"], mr["pd_increase_pct"], mr["pd_min_increase_mm"], None)
    rec = assessments(ctx).select("subject", "date", "non_target_response")
    df = df.join(rec, on=["subject", "date"], how="left")
    o = overall_response(pl.col("target_response"), pl.col("non_target_response"))
    return df.with_columns(o.alias("response")).select(
        "subject", "date", "first_dose", "is_baseline", "n_targets", "n_measured",
        "sum_diameters", "baseline_sum", "nadir_sum", "pct_from_baseline", "pct_from_nadir", "null_reason",
        "target_response", "response")


def mrecist_assessments(ctx) -> pl.DataFrame:
    return cached(ctx, "mrecist_assessments", build_mrecist_assessments)


def build_mrecist_best(ctx) -> pl.DataFrame:
    return best_of(mrecist_assessments(ctx), "response", ctx.profile.recist)


def mrecist_best(ctx) -> pl.DataFrame:
    return cached(ctx, "mrecist_best", build_mrecist_best)


def mrecist_columns(ctx) -> pl.DataFrame:
    """subject, date and the mrecist_* columns of the `recist` export (none without a read)."""
    a = mrecist_assessments(ctx)
    if not a.height:
        return pl.DataFrame(schema=SCHEMA)
    b = mrecist_best(ctx).select("subject", "best_overall_response", "best_response_date", "response_confirmed")
    cols = a.drop("first_dose", "is_baseline").rename({"response": "time_point_response",
                                                       "sum_diameters": "sum_viable"}).join(b, on="subject", how="left")
    return cols.rename({c: f"mrecist_{c}" for c in cols.columns if c not in ("subject", "date")})
