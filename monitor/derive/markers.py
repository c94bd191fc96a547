"""Tumour-marker trends per subject and marker (AFP, PIVKA-II: the profile's [[markers]]).

    marker_results(ctx)  one row per marker result (Labs row) from the graded labs table (SI
                         values, so AFP in IU/mL and ng/mL compare): baseline, the nadir before
                         the result, percent change from both, and whether the result meets the
                         response or progression criterion, confirmed by the next result.
    marker_summary(ctx)  one row per subject and marker: baseline, nadir, latest, percent
                         changes, a log-linear doubling or halving time over the last rising or
                         falling run, marker_response and marker_progression with their dates.
    markers_table(ctx)   results with the summary columns: the `markers` export table.

Qualified results are bounds, used only where the bound is conservative: `<10` may be anything
below 10, so it can confirm a fall but never a rise; `>1210` the other way round. A baseline of
`>1210` counts as 1210 for a fall (the fall is at least that big); a nadir of `<10` counts as 10
for a rise. Qualified results are left out of the doubling/halving-time fit (censored values).

Baseline = the subject's last result of the marker on or before the first dose (as for every
lab, monitor.derive.labs); the nadir is the lowest result from the baseline on, before the result.
"""

from __future__ import annotations

import math

import polars as pl

from .exposure import REL_TOL, cached

SCHEMA = {"row": pl.Int64, "subject": pl.String, "marker": pl.String, "date": pl.Date}


def _settings(ctx) -> pl.DataFrame:
    rows = [(m["test"], float(m["response_fall_pct"]), float(m["progression_rise_pct"]),
             bool(m["progression_above_uln"]), int(m["trend_min_points"]), m["source"],
             _f(m.get("uln")), float(m.get("min_baseline", 0)), int(m.get("confirm_interval_days", 0)),
             float(m.get("trend_min_change_pct", 0)))
            for m in ctx.profile.markers]
    return pl.DataFrame(rows, schema={"marker": pl.String, "fall_pct": pl.Float64, "rise_pct": pl.Float64,
                                      "above_uln": pl.Boolean, "min_points": pl.Int64, "source": pl.String,
                                      "profile_uln": pl.Float64, "min_baseline": pl.Float64,
                                      "confirm_days": pl.Int64, "min_change_pct": pl.Float64},
                        orient="row")


def _f(v):
    return None if v is None else float(v)


def build_marker_results(ctx) -> pl.DataFrame:
    labs = ctx.labs
    sets = _settings(ctx)
    if not labs.height or not sets.height or "value_si" not in labs.columns:
        return pl.DataFrame(schema=SCHEMA)
    g = ["subject", "marker"]
    q = pl.col("qualifier").fill_null("")
    # the columns are selected before the filter (not the whole wide labs table filtered)
    df = (labs.select("row", "subject", pl.col("test").alias("marker"), "date", "result_text", "value", "qualifier",
                      "unit", "value_si", "unit_si", "uln_si", "first_dose")
          .filter(pl.col("marker").is_in(sets.get_column("marker").implode()) & pl.col("date").is_not_null()
                  & pl.col("subject").is_not_null() & (pl.col("value_si") > 0))
          .join(sets, on="marker")
          # a blank site ULN (MK003) falls back to the profile's ULN for the marker (SI unit)
          .with_columns(pl.col("uln_si").is_null().alias("uln_from_profile"),
                        pl.coalesce("uln_si", "profile_uln").alias("uln_si"))
          .sort("subject", "marker", "date", "row")
          .with_columns(
              # bounds of the true value: '<x' is below x, '>x' above x
              pl.when(q.str.starts_with("<") | q.str.starts_with("≤")).then(0.0)
              .otherwise(pl.col("value_si")).alias("value_lo"),
              pl.when(q.str.starts_with(">") | q.str.starts_with("≥")).then(float("inf"))
              .otherwise(pl.col("value_si")).alias("value_hi")))
    on_or_before = pl.col("first_dose").is_not_null() & (pl.col("date") <= pl.col("first_dose"))
    base = (df.filter(on_or_before).group_by(g, maintain_order=True).last()
            .select(*g, pl.col("row").alias("baseline_row"), pl.col("date").alias("baseline_date"),
                    pl.col("value_si").alias("baseline"), pl.col("value_lo").alias("baseline_lo")))
    df = df.join(base, on=g, how="left").with_columns(
        (pl.col("first_dose").is_not_null() & (pl.col("date") > pl.col("first_dose"))).alias("on_treatment"))
    # the series from the baseline on (no baseline: from the first result on treatment)
    df = df.filter(pl.col("baseline_date").is_null() | (pl.col("date") >= pl.col("baseline_date"))
                   ).filter(pl.col("on_treatment") | (pl.col("row") == pl.col("baseline_row")))
    df = df.with_columns(
        pl.col("value_hi").cum_min().shift(1).over(g).alias("nadir_hi"),
        pl.col("value_si").cum_min().shift(1).over(g).alias("nadir_before"),
    )
    fall = 1 - pl.col("fall_pct") / 100
    rise = 1 + pl.col("rise_pct") / 100
    uln_ok = pl.when(pl.col("above_uln")).then(pl.col("value_lo") > pl.col("uln_si")).otherwise(True)
    df = df.with_columns(
        ((pl.col("value_si") - pl.col("baseline")) / pl.col("baseline") * 100).alias("pct_from_baseline"),
        ((pl.col("value_si") - pl.col("nadir_before")) / pl.col("nadir_before") * 100).alias("pct_from_nadir"),
        (pl.col("on_treatment") & (pl.col("baseline_lo") > 0)
         & (pl.col("baseline_lo") >= pl.col("min_baseline") * (1 - REL_TOL))
         & (pl.col("value_hi") <= pl.col("baseline_lo") * fall * (1 + REL_TOL))).fill_null(False).alias("response_met"),
        (pl.col("on_treatment") & (pl.col("value_lo") >= pl.col("nadir_hi") * rise * (1 - REL_TOL)) & uln_ok)
        .fill_null(False).alias("progression_met"),
    )
    # confirmed: a result at least `confirm_days` later (0: the next result) meets the criterion and
    # so does every result in between (both in the same run of consecutive results meeting it)
    df = df.with_columns(pl.int_range(pl.len()).over(g).alias("_i"))
    for flag in ("response", "progression"):
        met = pl.col(f"{flag}_met")
        df = df.with_columns((met != met.shift(1).over(g)).fill_null(True).cum_sum().over(g).alias(f"_{flag}_run"))
    target = (pl.when(pl.col("confirm_days") > 0).then(pl.col("date") + pl.duration(days=pl.col("confirm_days")))
              .otherwise(pl.col("date") + pl.duration(days=1)))
    left = df.select("row", *g, target.alias("_target"), "_i").sort("_target")
    right = df.select(*g, pl.col("date").alias("_cdate"), pl.col("_i").alias("_ci"), "response_met", "progression_met",
                      "_response_run", "_progression_run").sort("_cdate")
    right = right.rename({c: f"_c_{c}" for c in ("response_met", "progression_met", "_response_run",
                                                 "_progression_run")})
    conf = left.join_asof(right, left_on="_target", right_on="_cdate", by=g, strategy="forward",
                          check_sortedness=False)
    # with confirm_days 0 the confirming result is the next one (the same day counts too)
    nxt = df.select("row", pl.col("_i").shift(-1).over(g).alias("_next_i"), pl.col("date").shift(-1).over(g)
                    .alias("_next_date"))
    df = df.join(conf.select("row", "_cdate", "_ci", *[c for c in conf.columns if c.startswith("_c_")]),
                 on="row", how="left").join(nxt, on="row", how="left")
    zero = pl.col("confirm_days") == 0
    ci = pl.when(zero).then(pl.col("_next_i")).otherwise(pl.col("_ci"))
    out = []
    for flag in ("response", "progression"):
        same = pl.when(zero).then(pl.col(f"{flag}_met").shift(-1).over(g)).otherwise(
            pl.col(f"_c_{flag}_met") & (pl.col(f"_c__{flag}_run") == pl.col(f"_{flag}_run")))
        out.append((pl.col(f"{flag}_met") & ci.is_not_null() & same.fill_null(False)).alias(f"{flag}_confirmed"))
    df = df.with_columns(out).with_columns(
        pl.when(zero).then(pl.col("_next_date")).otherwise(pl.col("_cdate")).alias("next_date"))
    return df.drop([c for c in df.columns if c.startswith("_")])


def marker_results(ctx) -> pl.DataFrame:
    return cached(ctx, "marker_results", build_marker_results)


def _trend(df: pl.DataFrame) -> pl.DataFrame:
    """Per subject and marker: the last strictly rising or falling run of unqualified results
    and its log-linear fit ln(value) = a + b * day: doubling time ln 2 / b (b > 0) or halving
    time ln 2 / -b (b < 0), in days, when the run has at least `trend_min_points` results."""
    g = ["subject", "marker"]
    s = (df.filter(pl.col("qualifier").is_null()).sort(*g, "date", "row")
         .with_columns(pl.col("value_si").diff().sign().over(g).alias("_sign")))
    s = s.with_columns((pl.col("_sign") != pl.col("_sign").shift(1).over(g)).fill_null(True).cum_sum()
                       .over(g).alias("_run"))
    s = s.with_columns(pl.col("_run").last().over(g).alias("_last_run"),
                       pl.col("_sign").last().over(g).alias("_last_sign"))
    # the last run, plus the result it starts from
    s = s.filter(((pl.col("_run") == pl.col("_last_run"))
                  | (pl.col("_run").shift(-1).over(g) == pl.col("_last_run"))) & (pl.col("_last_sign") != 0))
    t = (pl.col("date") - pl.col("date").min()).dt.total_days().cast(pl.Float64)
    y = pl.col("value_si").log()
    fit = s.group_by(g).agg(
        pl.len().alias("trend_points"), pl.col("date").min().alias("trend_start"), pl.col("date").max().alias("trend_end"),
        pl.col("_last_sign").first().alias("_dir"), pl.col("min_points").first(), pl.col("min_change_pct").first(),
        pl.col("value_si").sort_by("date").first().alias("_first"), pl.col("value_si").sort_by("date").last().alias("_last"),
        (((t - t.mean()) * (y - y.mean())).sum() / ((t - t.mean()) ** 2).sum()).alias("_slope"))
    # a doubling / halving time needs >= trend_min_points results and a real change over the run
    # (first to last >= trend_min_change_pct): a flat series has no doubling time
    ok = ((pl.col("trend_points") >= pl.col("min_points")) & (pl.col("_slope").abs() > 0)
          & ((pl.col("_last") / pl.col("_first") - 1).abs() * 100 >= pl.col("min_change_pct") * (1 - REL_TOL)))
    return fit.select(
        *g, "trend_points", "trend_start", "trend_end",
        pl.when(pl.col("_dir") > 0).then(pl.lit("rising")).when(pl.col("_dir") < 0).then(pl.lit("falling"))
        .alias("trend"),
        pl.when(ok & (pl.col("_slope") > 0)).then(math.log(2) / pl.col("_slope")).alias("doubling_time_days"),
        pl.when(ok & (pl.col("_slope") < 0)).then(math.log(2) / -pl.col("_slope")).alias("halving_time_days"))


def build_marker_summary(ctx) -> pl.DataFrame:
    df = marker_results(ctx)
    if not df.height:
        return pl.DataFrame(schema={"subject": pl.String, "marker": pl.String})
    g = ["subject", "marker"]
    first_true = lambda flag, col: pl.col(col).filter(pl.col(flag)).first()  # noqa: E731
    nadir = df.sort("value_si", "date").group_by(g).agg(pl.col("value_si").first().alias("nadir"),
                                                        pl.col("date").first().alias("nadir_date"))
    s = df.group_by(g, maintain_order=True).agg(
        pl.col("baseline").first(), pl.col("baseline_date").first(), pl.col("unit_si").first(),
        pl.col("value_si").last().alias("latest"), pl.col("date").last().alias("latest_date"),
        pl.col("uln_si").drop_nulls().last().alias("uln_si"),
        first_true("response_confirmed", "date").alias("response_date"),
        first_true("response_met", "date").alias("response_unconfirmed_date"),
        first_true("progression_confirmed", "date").alias("progression_date"),
        first_true("progression_met", "date").alias("progression_unconfirmed_date"),
        pl.col("source").first().alias("criteria_source"),
    ).join(nadir, on=g, how="left")
    s = s.with_columns(
        ((pl.col("latest") - pl.col("baseline")) / pl.col("baseline") * 100).alias("latest_pct_from_baseline"),
        ((pl.col("latest") - pl.col("nadir")) / pl.col("nadir") * 100).alias("latest_pct_from_nadir"),
        pl.when(pl.col("baseline").is_null()).then(pl.lit("no baseline"))
        .when(pl.col("response_date").is_not_null()).then(pl.lit("response"))
        .when(pl.col("response_unconfirmed_date").is_not_null()).then(pl.lit("response (unconfirmed)"))
        .otherwise(pl.lit("no response")).alias("marker_response"),
        pl.when(pl.col("progression_date").is_not_null()).then(pl.lit("progression"))
        .when(pl.col("progression_unconfirmed_date").is_not_null()).then(pl.lit("progression (unconfirmed)"))
        .otherwise(pl.lit("no progression")).alias("marker_progression"),
    )
    return s.join(_trend(df), on=g, how="left").sort(g)


def marker_summary(ctx) -> pl.DataFrame:
    return cached(ctx, "marker_summary", build_marker_summary)


RESULT_COLUMNS = ("row", "subject", "marker", "date", "result_text", "value", "qualifier", "unit", "value_si",
                  "unit_si", "uln_si", "on_treatment", "baseline", "baseline_date", "nadir_before",
                  "pct_from_baseline", "pct_from_nadir", "response_met", "response_confirmed",
                  "progression_met", "progression_confirmed", "uln_from_profile")


def markers_table(ctx) -> pl.DataFrame:
    """The `markers` export: one row per marker result with the subject's marker summary."""
    res = marker_results(ctx)
    if not res.height:
        return pl.DataFrame({"row": pl.Series([], dtype=pl.Int64)})
    summ = marker_summary(ctx).drop("baseline", "baseline_date", "unit_si", "uln_si")
    return res.select(list(RESULT_COLUMNS)).join(summ, on=["subject", "marker"], how="left").sort("row")
