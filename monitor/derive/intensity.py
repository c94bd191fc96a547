"""Exposure per subject and drug from the administrations (monitor.derive.exposure): cycles
received, delays, reductions, holds, cumulative dose, dose intensity and time on treatment, for
cyclic dosing (dose intensity over cycles of `schedule.cycle_days`) and for continuous daily
dosing (dose taken / dose planned over the days of each dosing period). Definitions with their
sources: docs/protocol_rules.md."""

from __future__ import annotations

import polars as pl

from .exposure import _empty, administrations, cached


EXPOSURE_COLUMNS = ("first_dose", "last_dose", "cycles_received", "administrations", "delays", "reductions",
                    "holds", "discontinued_date", "cumulative_dose_mg", "planned_dose_mg_per_cycle",
                    "dose_intensity", "doses_unknown", "exposure_days", "time_on_treatment_days")


def build_exposure(ctx) -> pl.DataFrame:
    """One row per subject and drug (see EXPOSURE_COLUMNS, docs/protocol_rules.md)."""
    adm = administrations(ctx)
    if adm.height == 0:
        return _empty({"subject": pl.String, "drug": pl.String})
    if ctx.profile.continuous:
        return _continuous_exposure(adm)
    cycle_days = ctx.profile.schedule["cycle_days"]
    real = pl.col("administered") & ~pl.col("duplicate") & pl.col("date").is_not_null()
    n_cycles = lambda action: pl.col("cycle").filter(pl.col("action") == action).n_unique()  # noqa: E731
    g = adm.group_by("subject", "drug").agg(
        pl.col("date").filter(real).min().alias("first_dose"),
        pl.col("date").filter(real).max().alias("last_dose"),
        pl.col("cycle").filter(real).n_unique().alias("cycles_received"),
        real.sum().cast(pl.Int64).alias("administrations"),
        n_cycles("Delayed").cast(pl.Int64).alias("delays"),
        n_cycles("Reduced").cast(pl.Int64).alias("reductions"),
        n_cycles("Held").cast(pl.Int64).alias("holds"),
        pl.col("date").filter(pl.col("action") == "Discontinued").min().alias("discontinued_date"),
        pl.col("dose_mg").filter(real).sum().alias("cumulative_dose_mg"),
        pl.col("planned_dose_mg").filter(real).mean().alias("planned_dose_mg_per_cycle"),
        (real & pl.col("dose_mg").is_null()).sum().cast(pl.Int64).alias("doses_unknown"),
    )
    days = (pl.col("last_dose") - pl.col("first_dose")).dt.total_days() + cycle_days
    g = g.with_columns(days.alias("exposure_days")).with_columns(
        pl.when((pl.col("doses_unknown") == 0) & (pl.col("planned_dose_mg_per_cycle") > 0))
        .then(pl.col("cumulative_dose_mg") / (pl.col("planned_dose_mg_per_cycle") * pl.col("exposure_days") / cycle_days))
        .alias("dose_intensity"))
    subj = g.group_by("subject").agg(
        ((pl.col("last_dose").max() - pl.col("first_dose").min()).dt.total_days() + cycle_days)
        .alias("time_on_treatment_days"))
    return g.join(subj, on="subject", how="left").select("subject", "drug", *EXPOSURE_COLUMNS).sort("subject", "drug")


def _continuous_exposure(adm: pl.DataFrame) -> pl.DataFrame:
    """Exposure of daily dosing: each administration row is a period from its date to its End
    date (else the day before the next period of the drug); the daily dose times the days.
    Dose intensity = dose taken / dose planned over the same days; null for a placebo (nothing
    planned) or when a period's dose or length is unknown. `planned_dose_mg_per_cycle` holds
    the mean planned daily dose."""
    real = pl.col("administered") & ~pl.col("duplicate") & pl.col("date").is_not_null()
    a = (adm.filter(real).sort("subject", "drug", "date", "row")
         .with_columns(pl.coalesce(pl.col("end_date"),
                                   pl.col("date").shift(-1).over("subject", "drug") - pl.duration(days=1))
                       .alias("period_end"))
         .with_columns(pl.when(pl.col("period_end") >= pl.col("date"))
                       .then((pl.col("period_end") - pl.col("date")).dt.total_days() + 1).alias("period_days")))
    n_cycles = lambda action: pl.col("cycle").filter(pl.col("action") == action).n_unique()  # noqa: E731
    other = adm.group_by("subject", "drug").agg(
        n_cycles("Delayed").cast(pl.Int64).alias("delays"), n_cycles("Reduced").cast(pl.Int64).alias("reductions"),
        n_cycles("Held").cast(pl.Int64).alias("holds"),
        pl.col("date").filter(pl.col("action") == "Discontinued").min().alias("discontinued_date"))
    g = a.group_by("subject", "drug").agg(
        pl.col("date").min().alias("first_dose"), pl.col("date").max().alias("last_dose"),
        pl.col("cycle").n_unique().alias("cycles_received"), pl.len().cast(pl.Int64).alias("administrations"),
        (pl.col("dose_mg") * pl.col("period_days")).sum().alias("cumulative_dose_mg"),
        (pl.col("planned_dose_mg") * pl.col("period_days")).sum().alias("_planned_total"),
        pl.col("planned_dose_mg").mean().alias("planned_dose_mg_per_cycle"),
        (pl.col("dose_mg").is_null() | pl.col("period_days").is_null()).sum().cast(pl.Int64).alias("doses_unknown"),
        pl.col("period_end").max().alias("_end"), pl.col("period_days").is_null().any().alias("_open"),
    )
    g = g.with_columns(
        pl.when(~pl.col("_open")).then((pl.col("_end") - pl.col("first_dose")).dt.total_days() + 1)
        .alias("exposure_days"),
        pl.when((pl.col("doses_unknown") == 0) & (pl.col("_planned_total") > 0))
        .then(pl.col("cumulative_dose_mg") / pl.col("_planned_total")).alias("dose_intensity"))
    subj = g.group_by("subject").agg(
        pl.when(~pl.col("_open").any()).then((pl.col("_end").max() - pl.col("first_dose").min()).dt.total_days() + 1)
        .alias("time_on_treatment_days"))
    out = (g.join(other, on=["subject", "drug"], how="left").join(subj, on="subject", how="left")
           .with_columns(pl.col("cumulative_dose_mg").cast(pl.Float64)))
    return out.select("subject", "drug", *EXPOSURE_COLUMNS).sort("subject", "drug")


def exposure(ctx) -> pl.DataFrame:
    return cached(ctx, "exposure", build_exposure)


DOSING_COLUMNS = (
    "row", "subject", "arm", "cycle", "date", "end_date", "drug", "drug_as_entered", "action", "administered",
    "duplicate",
    "dose", "unit", "dose_mg", "protocol_dose", "protocol_unit", "expected_dose", "dose_deviation_pct",
    "planned_dose_mg", "cycles_weight", "weight_used", "weight_source", "weight_current",
    "weight_current_date", "weight_change_pct", "previous_date", "interval_days", "expected_interval_days",
    "delay_recorded", "last_lab_date", "days_since_lab", "hold_rule_text", "hold_evidence",
    "discontinued_since", "discontinued_evidence", "steroid_evidence",
)


def dosing_table(ctx) -> pl.DataFrame:
    """The `dosing` export: one row per Cycles row of a profile drug, derived values, and the
    subject's exposure for that drug."""
    adm = administrations(ctx)
    if adm.height == 0:
        return pl.DataFrame({"row": pl.Series([], dtype=pl.Int64)})
    return (adm.select(list(DOSING_COLUMNS))
            .join(exposure(ctx), on=["subject", "drug"], how="left").sort("row"))
