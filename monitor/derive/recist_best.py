"""Best overall response from time-point responses (RECIST 1.1 section 4.4.3, table 3; section 4.6),
shared by the RECIST 1.1, iRECIST and mRECIST reads.

`best_overall(tp, subjects, r)`: tp has subject, date, first_dose, resp with responses CR, PR, SD,
NON-CR/NON-PD, PD, NE and, for iRECIST, UPD (unconfirmed progression; PD there is the confirmed
one). Assessments up to the first PD count; CR (PR) is confirmed by a CR (CR or PR) at least
confirm_min_days later with only CR/PR and at most confirm_max_ne NE assessments in between (an
SD, NON-CR/NON-PD or UPD in between breaks it); else SD (or NON-CR/NON-PD) when an assessment of
SD or better is at least sd_min_days after the first dose; else PD; else UPD; else NE.
Duration of response: first confirmed CR/PR to the first PD (+1 day), censored at the last
assessment without PD.
"""

from __future__ import annotations

import polars as pl

BEST_COLUMNS = ("subject", "best_overall_response", "best_response_date", "response_confirmed", "response_date",
                "progression_date", "duration_of_response_days", "duration_of_response_censored", "last_assessment")


def best_overall(tp: pl.DataFrame, subjects: pl.DataFrame, r: dict) -> pl.DataFrame:
    """One row per subject of `subjects` (BEST_COLUMNS, sorted by subject): one lazy plan,
    collected once (its ~20 steps were as many queries)."""
    subjects = subjects.lazy()
    tp = tp.lazy().select("subject", "date", "first_dose", "resp").sort("subject", "date")
    first_pd = tp.filter(pl.col("resp") == "PD").group_by("subject").agg(pl.col("date").min().alias("progression_date"))
    upd = tp.filter(pl.col("resp") == "UPD").group_by("subject").agg(pl.col("date").min().alias("_upd_date"))
    tp = tp.join(first_pd, on="subject", how="left", maintain_order="left").filter(   # k: date order
        pl.col("progression_date").is_null() | (pl.col("date") <= pl.col("progression_date")))
    tp = tp.with_columns(pl.int_range(pl.len()).over("subject").alias("k"))
    # confirmation: pairs (i, j) with j at least confirm_min_days after i
    pairs = tp.join(tp.select("subject", pl.col("k").alias("k2"), pl.col("date").alias("date2"),
                              pl.col("resp").alias("resp2")), on="subject")
    pairs = pairs.filter((pl.col("k2") > pl.col("k"))
                         & ((pl.col("date2") - pl.col("date")).dt.total_days() >= r["confirm_min_days"]))
    # assessments strictly between i and j: only CR/PR (for PR) or CR (for CR), plus at most confirm_max_ne NE
    between = (tp.select("subject", pl.col("k").alias("kb"), pl.col("resp").alias("rb"))
               .join(pairs.select("subject", "k", "k2").unique(), on="subject")
               .filter((pl.col("kb") > pl.col("k")) & (pl.col("kb") < pl.col("k2")))
               .group_by("subject", "k", "k2")
               .agg(pl.col("rb").is_in(["SD", "NON-CR/NON-PD", "PD", "UPD"]).any().alias("_worse"),
                    (pl.col("rb") == "PR").any().alias("_pr_between"),
                    (pl.col("rb") == "NE").sum().alias("_ne_between")))
    pairs = pairs.join(between, on=["subject", "k", "k2"], how="left").with_columns(
        pl.col("_worse").fill_null(False), pl.col("_pr_between").fill_null(False),
        pl.col("_ne_between").fill_null(0))
    ne_ok = pl.col("_ne_between") <= r["confirm_max_ne"]
    cr_conf = pairs.filter((pl.col("resp") == "CR") & (pl.col("resp2") == "CR") & ~pl.col("_worse")
                           & ~pl.col("_pr_between") & ne_ok)
    pr_conf = pairs.filter(pl.col("resp").is_in(["CR", "PR"]) & pl.col("resp2").is_in(["CR", "PR"])
                           & ~pl.col("_worse") & ne_ok)
    cr = cr_conf.group_by("subject").agg(pl.col("date").min().alias("cr_date"))
    pr = pr_conf.group_by("subject").agg(pl.col("date").min().alias("pr_date"))
    sd_ok = (pl.col("resp").is_in(["CR", "PR", "SD", "NON-CR/NON-PD"])
             & ((pl.col("date") - pl.col("first_dose")).dt.total_days() >= r["sd_min_days"]).fill_null(False))
    sdd = tp.filter(sd_ok).group_by("subject").agg(
        pl.col("date").min().alias("sd_date"),
        pl.col("resp").filter(pl.col("resp") != "NON-CR/NON-PD").len().alias("_n_measurable"))
    last = tp.group_by("subject").agg(pl.col("date").max().alias("last_assessment"), pl.len().alias("assessments"))
    b = (subjects.join(last, on="subject", how="left").join(first_pd, on="subject", how="left")
         .join(upd, on="subject", how="left")
         .join(cr, on="subject", how="left").join(pr, on="subject", how="left").join(sdd, on="subject", how="left"))
    bor = (pl.when(pl.col("cr_date").is_not_null()).then(pl.lit("CR"))
           .when(pl.col("pr_date").is_not_null()).then(pl.lit("PR"))
           .when(pl.col("sd_date").is_not_null())
           .then(pl.when(pl.col("_n_measurable") > 0).then(pl.lit("SD")).otherwise(pl.lit("NON-CR/NON-PD")))
           .when(pl.col("progression_date").is_not_null()).then(pl.lit("PD"))
           .when(pl.col("_upd_date").is_not_null()).then(pl.lit("UPD"))
           .when(pl.col("assessments").is_not_null()).then(pl.lit("NE")))
    b = b.with_columns(bor.alias("best_overall_response"),
                       pl.coalesce("cr_date", "pr_date").alias("response_date"))
    b = b.with_columns(
        pl.when(pl.col("best_overall_response") == "CR").then(pl.col("cr_date"))
        .when(pl.col("best_overall_response") == "PR").then(pl.col("pr_date"))
        .when(pl.col("best_overall_response").is_in(["SD", "NON-CR/NON-PD"])).then(pl.col("sd_date"))
        .when(pl.col("best_overall_response") == "PD").then(pl.col("progression_date"))
        .when(pl.col("best_overall_response") == "UPD").then(pl.col("_upd_date")).alias("best_response_date"),
        pl.col("best_overall_response").is_in(["CR", "PR"]).alias("response_confirmed"),
    )
    dor_end = pl.coalesce("progression_date", "last_assessment")
    b = b.with_columns(
        pl.when(pl.col("response_date").is_not_null())
        .then((dor_end - pl.col("response_date")).dt.total_days() + 1).alias("duration_of_response_days"),
        pl.when(pl.col("response_date").is_not_null()).then(pl.col("progression_date").is_null())
        .alias("duration_of_response_censored"),
    )
    return b.select(list(BEST_COLUMNS)).sort("subject").collect(engine="in-memory")


def best_of(a: pl.DataFrame, column: str, r: dict) -> pl.DataFrame:
    """Best overall response from the time-point responses in `column` of an assessments table
    (RECIST 1.1 or mRECIST): baseline rows and scans without a response are left out."""
    if not a.height or column not in a.columns:
        return pl.DataFrame(schema={"subject": pl.String, "best_overall_response": pl.String})
    tp = a.filter(~pl.col("is_baseline") & pl.col(column).is_not_null()).select(
        "subject", "date", "first_dose", pl.col(column).alias("resp"))
    return best_overall(tp, a.select("subject").unique(), r)
