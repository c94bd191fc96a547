"""The planned dose of each administration, from the profile's study design (arms, dose levels
by cycle, placebo) and the subject's arm on the Subjects sheet.

    plan_frame(profile)    one row per arm, drug and dose step: arm, drug, from_cycle, to_cycle
                           (exclusive; null = open), dose, unit, placebo.
    subject_arms(ctx)      subject, arm (the profile's arm name; null when blank, unknown or the
                           Arm column is absent), arm_as_entered.
    planned_doses(ctx, df) per administration row: the arm, the planned dose and unit of the
                           drug in that arm and cycle (protocol_dose, protocol_unit), placebo.

A subject whose arm is not known (no Arm column, blank, or a name the profile does not have,
WB211) is compared with every dose level the drug has in any arm at that cycle, and the level
nearest to the dose is taken: a dose that is one of the planned levels is never a deviation.
A study without [[arms]] has one implicit arm holding every drug at its own dose, so this
reduces to the drug's dose for every subject (the seed study's behaviour).
"""

from __future__ import annotations

import polars as pl

PLAN_SCHEMA = {"arm": pl.String, "drug": pl.String, "from_cycle": pl.Int64, "to_cycle": pl.Int64,
               "plan_dose": pl.Float64, "plan_unit": pl.String, "placebo": pl.Boolean}


def plan_frame(profile) -> pl.DataFrame:
    units = {d.name: d.unit for d in profile.drugs}
    placebo = {d.name: d.placebo for d in profile.drugs}
    rows = []
    for arm in profile.design_arms():
        for ad in arm.drugs:
            steps = ad.steps
            for i, s in enumerate(steps):
                to = steps[i + 1].from_cycle if i + 1 < len(steps) else None
                rows.append((arm.name, ad.drug, s.from_cycle, to, s.dose, units[ad.drug], placebo[ad.drug]))
    return pl.DataFrame(rows, schema=PLAN_SCHEMA, orient="row")


def subject_arms(ctx) -> pl.DataFrame:
    """subject -> arm (the profile's name, null when not known) and the arm as entered."""
    schema = {"subject": pl.String, "arm": pl.String, "arm_as_entered": pl.String}
    sd = ctx.sheet("Subjects")
    if sd is None or "subject" not in sd.columns:
        return pl.DataFrame(schema=schema)
    f = sd.frame.filter(pl.col("subject").is_not_null()).unique("subject", keep="first", maintain_order=True)
    if not ctx.profile.arms:
        return f.select("subject", pl.lit("").alias("arm"), pl.lit(None, dtype=pl.String).alias("arm_as_entered"))
    if "arm" not in sd.columns:
        return f.select("subject", pl.lit(None, dtype=pl.String).alias("arm"),
                        pl.lit(None, dtype=pl.String).alias("arm_as_entered"))
    lookup = ctx.profile.arm_lookup()
    n = pl.col("arm").cast(pl.String).str.to_lowercase().str.replace_all(r"[^0-9a-z]+", "")
    return f.select("subject", n.replace_strict(lookup, default=None, return_dtype=pl.String).alias("arm"),
                    pl.col("arm").cast(pl.String).alias("arm_as_entered"))


def planned_doses(ctx, df: pl.DataFrame) -> pl.DataFrame:
    """row, arm, protocol_dose, protocol_unit, placebo for the rows of `df` (row, subject, drug,
    cycle, dose, unit, weight_used): the nearest planned level where the arm is not known."""
    out_schema = {"row": pl.Int64, "arm": pl.String, "protocol_dose": pl.Float64, "protocol_unit": pl.String,
                  "placebo": pl.Boolean}
    plan = plan_frame(ctx.profile)
    if df.height == 0 or plan.height == 0:
        return pl.DataFrame(schema=out_schema)
    arms = subject_arms(ctx).select("subject", "arm")
    rows = (df.select("row", "subject", "drug", "cycle", "dose", "unit", "weight_used")
            .join(arms, on="subject", how="left"))
    cand = rows.join(plan, on="drug", how="inner").filter(
        (pl.col("arm").is_null() | (pl.col("arm") == pl.col("arm_right")))
        & (pl.col("cycle").is_null()
           | ((pl.col("from_cycle") <= pl.col("cycle"))
              & (pl.col("to_cycle").is_null() | (pl.col("cycle") < pl.col("to_cycle"))))))
    w = pl.col("weight_used")
    in_unit = (pl.when(pl.col("unit") == pl.col("plan_unit")).then(pl.col("plan_dose"))
               .when((pl.col("plan_unit") == "mg/kg") & (pl.col("unit") == "mg")).then(pl.col("plan_dose") * w)
               .when((pl.col("plan_unit") == "mg") & (pl.col("unit") == "mg/kg")).then(pl.col("plan_dose") / w))
    best = (cand.with_columns((in_unit - pl.col("dose")).abs().alias("_gap"))
            .sort(["row", "_gap", "arm_right", "from_cycle"], nulls_last=True)
            .group_by("row", maintain_order=True).first())
    return best.select("row", "arm",
                       pl.col("plan_dose").alias("protocol_dose"), pl.col("plan_unit").alias("protocol_unit"),
                       "placebo")
