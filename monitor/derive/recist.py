"""RECIST 1.1 from the Tumor sheet: sums, time-point responses, best overall response.

    lesions(ctx)      the Tumor rows with valid dates, the subject's baseline date (the last
                      assessment on or before the first dose; the first assessment when the
                      subject was never dosed), organ and lymph-node flags.
    assessments(ctx)  one row per subject and assessment date from the baseline on: sum of the
                      baseline target lesions, % change from baseline and from the nadir,
                      target / non-target / new-lesion status, the time-point response by the
                      RECIST 1.1 tables and the investigator's response.
    best_response(ctx) one row per subject: best overall response with confirmation, its date,
                      first response, progression date, duration of response.
    recist_table(ctx) assessments with the subject's best response: the `recist` export table.

Time-point response (Eisenhauer 2009, RECIST 1.1 sections 4.3-4.4, tables 1 and 2):
  target lesions   CR: every non-nodal target 0 mm and every nodal target < node_normal_mm;
                   PR: sum >= pr_decrease_pct below the baseline sum;
                   PD: sum >= pd_increase_pct above the nadir (the smallest earlier sum, baseline
                   included) and >= pd_min_increase_mm more -- also when some targets are not
                   measured (the measured ones are already enough); NE: a target not measured;
                   SD: otherwise.
  non-target       PD: any Unequivocal progression; NE: a baseline non-target without status;
                   CR: all Absent; else NON-CR/NON-PD.
  new lesions      any row of type New on that date -> PD.
  overall          table 1 (targets at baseline) or table 2 (non-targets only).
Best overall response (section 4.4.3, table 3 with confirmation; section 4.6): assessments up
to the first PD; CR (PR) is confirmed by a CR (CR or PR) at least confirm_min_days later with
only CR/PR and at most confirm_max_ne NE assessments in between; else SD (or NON-CR/NON-PD) when
an assessment of SD or better is at least sd_min_days after the first dose; else PD; else NE.
Duration of response: first confirmed CR/PR to the first PD (+1 day), censored at the last
assessment without PD.
Lymph nodes are the lesions whose Location names a lymph node or node; organ = the first word of
the Location (laterality skipped; see _organ), with all lymph nodes one organ.
"""

from __future__ import annotations

import polars as pl

from .exposure import REL_TOL, cached, valid_date

ORDER = {"CR": 0, "PR": 1, "SD": 2, "NON-CR/NON-PD": 2, "PD": 4, "NE": 5}


def _node() -> pl.Expr:
    return pl.col("location").fill_null("").str.to_lowercase().str.contains(r"\bnodes?\b|\blymph")


ORGAN_WORDS = {"hepatic": "liver", "pulmonary": "lung", "lungs": "lung", "osseous": "bone", "bones": "bone",
               "adrenals": "adrenal", "peritoneal": "peritoneum", "pleural": "pleura"}
_SKIP = r"^(?:(?:left|right|bilateral|upper|lower|middle|the|of)\b\s*)+"


def _organ() -> pl.Expr:
    """The organ of a lesion: the first word of its Location (before a comma or bracket), with
    laterality words skipped and a few adjectives mapped (hepatic = liver, pulmonary = lung);
    every lymph node is one organ, 'lymph node' (RECIST 1.1 section 4.2)."""
    loc = (pl.col("location").fill_null("").str.to_lowercase().str.replace(r"[,(;].*$", "")
           .str.strip_chars().str.replace(_SKIP, ""))
    word = loc.str.extract(r"^([a-z]+)", 1).replace(ORGAN_WORDS)
    return pl.when(_node()).then(pl.lit("lymph node")).otherwise(word)


def _first_doses(ctx) -> pl.DataFrame:
    """subject -> first_dose: the earliest administration of a profile drug (Given or Reduced,
    dated, not before consent: a dose before consent is WB209's, not a reason to move the
    RECIST baseline)."""
    from .exposure import administrations

    adm = administrations(ctx)
    if not adm.height:
        return pl.DataFrame(schema={"subject": pl.String, "first_dose": pl.Date})
    return (adm.filter(pl.col("action").is_in(["Given", "Reduced"]) & pl.col("date").is_not_null())
            .group_by("subject").agg(pl.col("date").min().alias("first_dose")))


def build_lesions(ctx) -> pl.DataFrame:
    sd = ctx.sheet("Tumor")
    schema = {"row": pl.Int64, "subject": pl.String, "date": pl.Date, "lesion": pl.String,
              "lesion_type": pl.String, "baseline_date": pl.Date, "first_dose": pl.Date}
    if sd is None or not sd.has("subject", "date", "lesion", "lesion_type"):
        return pl.DataFrame(schema=schema)
    f = sd.frame
    opt = lambda k, t: pl.col(k) if k in f.columns else pl.lit(None, dtype=t)  # noqa: E731
    df = f.select(
        pl.col("_row").cast(pl.Int64).alias("row"), "subject", valid_date(f, "date").alias("date"),
        "lesion", "lesion_type", opt("location", pl.String).alias("location"),
        opt("diameter", pl.Float64).cast(pl.Float64).alias("diameter"),
        opt("nt_status", pl.String).alias("nt_status"), opt("inv_response", pl.String).alias("inv_response"),
    ).filter(pl.col("subject").is_not_null() & pl.col("date").is_not_null())
    df = df.join(_first_doses(ctx), on="subject", how="left")
    base = df.group_by("subject").agg(
        pl.col("date").filter(pl.col("date") <= pl.col("first_dose")).max().alias("_pre"),
        pl.col("date").min().alias("_first"), pl.col("first_dose").first().alias("_fd"))
    base = base.select("subject", pl.when(pl.col("_fd").is_null()).then(pl.col("_first"))
                       .otherwise(pl.col("_pre")).alias("baseline_date"))
    return df.join(base, on="subject", how="left").with_columns(
        _node().alias("nodal"), _organ().alias("organ")).sort("row")


def lesions(ctx) -> pl.DataFrame:
    return cached(ctx, "recist_lesions", build_lesions)


ASSESSMENT_SCHEMA = {"subject": pl.String, "date": pl.Date, "row": pl.Int64}


def build_assessments(ctx) -> pl.DataFrame:
    les = lesions(ctx)
    r = ctx.profile.recist
    if not les.height:
        return pl.DataFrame(schema=ASSESSMENT_SCHEMA)
    les = les.filter(pl.col("baseline_date").is_not_null() & (pl.col("date") >= pl.col("baseline_date")))
    dates = (les.group_by("subject", "date").agg(
        pl.col("row").min(), pl.col("first_dose").first(), pl.col("baseline_date").first(),
        pl.col("inv_response").drop_nulls().first().alias("investigator_response"),
        (pl.col("lesion_type") == "New").any().alias("new_lesions"))
        .with_columns((pl.col("date") == pl.col("baseline_date")).alias("is_baseline")))
    at_base = les.filter(pl.col("date") == pl.col("baseline_date"))
    targets = (at_base.filter(pl.col("lesion_type") == "Target").group_by("subject", "lesion")
               .agg(pl.col("nodal").first()))
    nts = at_base.filter(pl.col("lesion_type") == "Non-target").select("subject", "lesion").unique()
    # every assessment x every baseline target: the measurement that date (first row of the lesion)
    meas = (les.filter(pl.col("lesion_type") == "Target").sort("row")
            .group_by("subject", "date", "lesion", maintain_order=True).agg(pl.col("diameter").first()))
    grid = dates.select("subject", "date").join(targets, on="subject").join(
        meas, on=["subject", "date", "lesion"], how="left")
    node_mm = float(r["node_normal_mm"])
    cr_lesion = pl.when(pl.col("nodal")).then(pl.col("diameter") < node_mm).otherwise(pl.col("diameter") == 0)
    tsum = grid.group_by("subject", "date").agg(
        pl.len().alias("n_targets"), pl.col("diameter").count().alias("n_measured"),
        pl.col("diameter").sum().alias("sum_diameters"), cr_lesion.all().alias("_all_cr"))
    st = (les.filter(pl.col("lesion_type") == "Non-target").sort("row")
          .group_by("subject", "date", "lesion", maintain_order=True).agg(pl.col("nt_status").first()))
    ntg = dates.select("subject", "date").join(nts, on="subject").join(st, on=["subject", "date", "lesion"], how="left")
    up_any = (les.filter(pl.col("nt_status") == "Unequivocal progression").select("subject", "date").unique()
              .with_columns(pl.lit(True).alias("_up")))
    ntr = ntg.group_by("subject", "date").agg(
        pl.len().alias("n_non_targets"), pl.col("nt_status").null_count().alias("_nt_missing"),
        (pl.col("nt_status") == "Absent").all().alias("_nt_all_absent"))
    df = (dates.join(tsum, on=["subject", "date"], how="left").join(ntr, on=["subject", "date"], how="left")
          .join(up_any, on=["subject", "date"], how="left")
          .with_columns(pl.col("n_targets").fill_null(0), pl.col("n_measured").fill_null(0),
                        pl.col("n_non_targets").fill_null(0), pl.col("_up").fill_null(False))
          .sort("subject", "date"))
    complete = (pl.col("n_targets") > 0) & (pl.col("n_measured") == pl.col("n_targets"))
    base_sum = pl.col("sum_diameters").filter(pl.col("is_baseline") & complete).first().over("subject")
    df = df.with_columns(complete.alias("complete"), base_sum.alias("baseline_sum"))
    # nadir before each assessment: the smallest complete sum so far (baseline included)
    df = df.with_columns(pl.when(pl.col("complete")).then(pl.col("sum_diameters")).otherwise(None)
                         .cum_min().forward_fill().shift(1).over("subject").alias("nadir_sum"))
    inc = pl.col("sum_diameters") - pl.col("nadir_sum")
    pd_t = ((pl.col("n_measured") > 0) & (inc >= pl.col("nadir_sum") * r["pd_increase_pct"] / 100 * (1 - REL_TOL))
            & (inc >= r["pd_min_increase_mm"] * (1 - REL_TOL))).fill_null(False)
    pr_t = (pl.col("sum_diameters") <= pl.col("baseline_sum") * (1 - r["pr_decrease_pct"] / 100) * (1 + REL_TOL))
    target = (pl.when((pl.col("n_targets") == 0) | pl.col("is_baseline")).then(None)
              .when(pl.col("baseline_sum").is_null()).then(pl.lit("NE"))
              .when(pd_t).then(pl.lit("PD"))
              .when(~pl.col("complete")).then(pl.lit("NE"))
              .when(pl.col("_all_cr")).then(pl.lit("CR"))
              .when(pr_t.fill_null(False)).then(pl.lit("PR"))
              .otherwise(pl.lit("SD")))
    non_target = (pl.when(pl.col("is_baseline")).then(None).when(pl.col("_up")).then(pl.lit("PD"))
                  .when(pl.col("n_non_targets") == 0).then(None)
                  .when(pl.col("_nt_missing") > 0).then(pl.lit("NE"))
                  .when(pl.col("_nt_all_absent")).then(pl.lit("CR"))
                  .otherwise(pl.lit("NON-CR/NON-PD")))
    df = df.with_columns(target.alias("target_response"), non_target.alias("non_target_response"))
    t, n = pl.col("target_response"), pl.col("non_target_response")
    overall = (pl.when(pl.col("is_baseline")).then(None)
               .when(t.is_null() & n.is_null() & ~pl.col("new_lesions")).then(None)
               .when((t == "PD") | (n == "PD") | pl.col("new_lesions")).then(pl.lit("PD"))
               .when(t.is_null()).then(n)                                   # table 2: non-targets only
               .when(t == "NE").then(pl.lit("NE"))
               .when(t == "CR").then(pl.when(n.is_null() | (n == "CR")).then(pl.lit("CR")).otherwise(pl.lit("PR")))
               .otherwise(t))                                               # PR or SD whatever non-targets
    return df.with_columns(
        overall.alias("time_point_response"),
        ((pl.col("sum_diameters") - pl.col("baseline_sum")) / pl.col("baseline_sum") * 100).alias("pct_from_baseline"),
        (inc / pl.col("nadir_sum") * 100).alias("pct_from_nadir"), inc.alias("mm_from_nadir"),
        (pl.col("date") - pl.col("first_dose")).dt.total_days().alias("days_from_first_dose"),
    ).drop("_all_cr", "_nt_missing", "_nt_all_absent", "_up")


def assessments(ctx) -> pl.DataFrame:
    return cached(ctx, "recist_assessments", build_assessments)


def build_best_response(ctx) -> pl.DataFrame:
    a = assessments(ctx)
    r = ctx.profile.recist
    schema = {"subject": pl.String, "best_overall_response": pl.String}
    if not a.height or "time_point_response" not in a.columns:
        return pl.DataFrame(schema=schema)
    tp = a.filter(~pl.col("is_baseline") & pl.col("time_point_response").is_not_null()).select(
        "subject", "date", "first_dose", pl.col("time_point_response").alias("resp")).sort("subject", "date")
    first_pd = tp.filter(pl.col("resp") == "PD").group_by("subject").agg(pl.col("date").min().alias("progression_date"))
    tp = tp.join(first_pd, on="subject", how="left").filter(
        pl.col("progression_date").is_null() | (pl.col("date") <= pl.col("progression_date")))
    tp = tp.with_columns(pl.int_range(pl.len()).over("subject").alias("k"),
                         (pl.col("resp") == "NE").cast(pl.Int64).cum_sum().over("subject").alias("ne_cum"))
    # confirmation: pairs (i, j) with j at least confirm_min_days after i
    pairs = tp.join(tp.select("subject", pl.col("k").alias("k2"), pl.col("date").alias("date2"),
                              pl.col("resp").alias("resp2"), pl.col("ne_cum").alias("ne_cum2")), on="subject")
    pairs = pairs.filter((pl.col("k2") > pl.col("k"))
                         & ((pl.col("date2") - pl.col("date")).dt.total_days() >= r["confirm_min_days"]))
    # assessments strictly between i and j: only CR/PR (for PR) or CR (for CR), plus at most confirm_max_ne NE
    between = (tp.select("subject", pl.col("k").alias("kb"), pl.col("resp").alias("rb"))
               .join(pairs.select("subject", "k", "k2").unique(), on="subject")
               .filter((pl.col("kb") > pl.col("k")) & (pl.col("kb") < pl.col("k2")))
               .group_by("subject", "k", "k2")
               .agg(pl.col("rb").is_in(["SD", "NON-CR/NON-PD", "PD"]).any().alias("_worse"),
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
    subj = a.select("subject").unique()
    b = (subj.join(last, on="subject", how="left").join(first_pd, on="subject", how="left")
         .join(cr, on="subject", how="left").join(pr, on="subject", how="left").join(sdd, on="subject", how="left"))
    bor = (pl.when(pl.col("cr_date").is_not_null()).then(pl.lit("CR"))
           .when(pl.col("pr_date").is_not_null()).then(pl.lit("PR"))
           .when(pl.col("sd_date").is_not_null())
           .then(pl.when(pl.col("_n_measurable") > 0).then(pl.lit("SD")).otherwise(pl.lit("NON-CR/NON-PD")))
           .when(pl.col("progression_date").is_not_null()).then(pl.lit("PD"))
           .when(pl.col("assessments").is_not_null()).then(pl.lit("NE")))
    b = b.with_columns(bor.alias("best_overall_response"),
                       pl.coalesce("cr_date", "pr_date").alias("response_date"))
    b = b.with_columns(
        pl.when(pl.col("best_overall_response") == "CR").then(pl.col("cr_date"))
        .when(pl.col("best_overall_response") == "PR").then(pl.col("pr_date"))
        .when(pl.col("best_overall_response").is_in(["SD", "NON-CR/NON-PD"])).then(pl.col("sd_date"))
        .when(pl.col("best_overall_response") == "PD").then(pl.col("progression_date")).alias("best_response_date"),
        pl.col("best_overall_response").is_in(["CR", "PR"]).alias("response_confirmed"),
    )
    dor_end = pl.coalesce("progression_date", "last_assessment")
    b = b.with_columns(
        pl.when(pl.col("response_date").is_not_null())
        .then((dor_end - pl.col("response_date")).dt.total_days() + 1).alias("duration_of_response_days"),
        pl.when(pl.col("response_date").is_not_null()).then(pl.col("progression_date").is_null())
        .alias("duration_of_response_censored"),
    )
    return b.select("subject", "best_overall_response", "best_response_date", "response_confirmed",
                    "response_date", "progression_date", "duration_of_response_days",
                    "duration_of_response_censored", "last_assessment").sort("subject")


def best_response(ctx) -> pl.DataFrame:
    return cached(ctx, "recist_best", build_best_response)


ASSESSMENT_COLUMNS = ("row", "subject", "date", "is_baseline", "days_from_first_dose", "n_targets", "n_measured",
                      "sum_diameters", "baseline_sum", "nadir_sum", "pct_from_baseline", "pct_from_nadir",
                      "mm_from_nadir", "target_response", "n_non_targets", "non_target_response", "new_lesions",
                      "time_point_response", "investigator_response")


def recist_table(ctx) -> pl.DataFrame:
    """The `recist` export: one row per subject and assessment date (row = its first Tumor row)
    with the subject's best overall response."""
    a = assessments(ctx)
    if not a.height:
        return pl.DataFrame({"row": pl.Series([], dtype=pl.Int64)})
    return (a.select(list(ASSESSMENT_COLUMNS)).join(best_response(ctx), on="subject", how="left")
            .sort("subject", "date"))
