"""iRECIST (Seymour et al., Lancet Oncol 2017;18:e143-e152): the second response read of an
immunotherapy trial, beside RECIST 1.1, from the same Tumor sheet. Thresholds: profile [irecist].

    irecist_assessments(ctx) one row per subject and assessment: the iRECIST time-point response
                  (iCR, iPR, iSD, non-iCR/non-iUPD, iUPD, iCPD, NE), the new-lesion counts and
                  the separate new-lesion target sum, the iUPD it refers to.
    irecist_best(ctx)  one row per subject: best overall iRECIST response, first iUPD, iCPD date,
                  doses given after the first iUPD (treatment beyond progression) and after iCPD.
    irecist_columns(ctx) both, prefixed irecist_, for the `recist` export table.

How the read is made (the paper's sections and its table 2):
  * The lesion categories are read as in RECIST 1.1 (monitor.derive.recist: targets against
    baseline and nadir, non-targets, new lesions): a time point meeting RECIST 1.1 progression
    in any category is iUPD (unconfirmed progression).
  * New lesions are measured and kept apart from the baseline targets: the measurable ones
    (>= recist.measurable_min_mm, nodes >= recist.node_target_min_mm) are "new lesion target",
    up to new_target_max (5) and new_target_max_per_organ (2) in the order they appear (the larger
    first on the same scan), summed separately (new_lesion_target_sum); the others are "new
    lesion non-target".
  * iUPD becomes iCPD at a later assessment at least confirm_min_days (28) after it -- iRECIST's
    "next assessment 4-8 weeks later"; earlier scans do not confirm (RECIST working group iRECIST
    Q&A) -- when, compared with that iUPD: the target sum grew >= further_increase_mm (5 mm;
    increases add up over the assessments in between), non-target disease grew (status "Further
    increase"), the new-lesion target sum grew >= 5 mm, a new non-target lesion grew (status
    Unequivocal progression / Further increase on a New row), another new lesion appeared, or a
    category that was not progressing at the iUPD now meets RECIST 1.1 progression.
  * Reset: an iSD, iPR or iCR after iUPD (no category progressing, no new lesion present) resets
    the bar: a later progression is a new iUPD that needs its own confirmation. NE changes nothing.
  * iCPD is final: later time points stay iCPD.
  * Best overall iRECIST response: the RECIST 1.1 best-response rules (confirmation, SD minimum
    time; monitor.derive.recist_best) over the iRECIST time points up to iCPD; an iUPD between a
    response and its confirmation breaks it; iUPD is the best response only when nothing better
    and no iCPD was seen. So iUPD then iPR (pseudo-progression) is a best response of iPR.
  * confirm_max_days (56) is not a limit on the read (a later next assessment still confirms);
    days_from_iupd shows how long after the iUPD each assessment was.
"""

from __future__ import annotations

import polars as pl

from .exposure import cached
from .recist import assessments, follow_up
from .recist_best import best_overall
from .recist_lesions import EQUIVOCAL, NEW, PROGRESSION_STATUS, measurable_min

TO_I = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "NON-CR/NON-PD": "non-iCR/non-iUPD", "NE": "NE"}
FROM_I = {"iCR": "CR", "iPR": "PR", "iSD": "SD", "non-iCR/non-iUPD": "NON-CR/NON-PD", "iUPD": "UPD", "iCPD": "PD",
          "NE": "NE"}
BEST_I = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "NON-CR/NON-PD": "non-iCR/non-iUPD", "UPD": "iUPD", "PD": "iCPD",
          "NE": "NE"}


def _new_lesions(ctx, les: pl.DataFrame, dates: pl.DataFrame) -> pl.DataFrame:
    """Per assessment: new lesions seen so far, present, the new-lesion target sum, a new
    non-target grown."""
    r, ir = ctx.profile.recist, ctx.profile.irecist
    new = les.filter((pl.col("lesion_type") == NEW) | pl.col("equivocal_confirmed"))
    empty = dates.select("subject", "date").with_columns(
        pl.lit(0, dtype=pl.UInt32).alias("n_new_seen"), pl.lit(0, dtype=pl.UInt32).alias("n_new_present"),
        pl.lit(None, dtype=pl.Float64).alias("new_lesion_target_sum"), pl.lit(False).alias("new_nt_grew"))
    if not new.height:
        return empty
    first = (new.sort("date", "row").group_by("subject", "lesion", maintain_order=True)
             .agg(pl.col("date").first().alias("first_seen"), pl.col("diameter").first().alias("d0"),
                  pl.col("nodal").first(), pl.col("organ").first(), pl.col("slice_mm").first()))
    meas = pl.when(pl.col("nodal")).then(pl.col("d0") >= r["node_target_min_mm"]).otherwise(
        pl.col("d0") >= measurable_min(r)).fill_null(False)
    nlt = (first.filter(meas).sort("first_seen", pl.col("d0"), descending=[False, True])
           .with_columns(pl.int_range(1, pl.len() + 1).over("subject", pl.col("organ").fill_null("?")).alias("_k"))
           .filter(pl.col("_k") <= ir["new_target_max_per_organ"])
           .with_columns(pl.int_range(1, pl.len() + 1).over("subject").alias("_n"))
           .filter(pl.col("_n") <= ir["new_target_max"]).select("subject", "lesion", pl.lit(True).alias("nlt")))
    seen = (dates.select("subject", "date").join(first.select("subject", "first_seen"), on="subject")
            .group_by("subject", "date").agg((pl.col("first_seen") <= pl.col("date")).sum().alias("n_new_seen")))
    rows = (new.join(nlt, on=["subject", "lesion"], how="left").with_columns(pl.col("nlt").fill_null(False))
            .sort("row").group_by("subject", "date", "lesion", maintain_order=True)
            .agg(pl.col("diameter").first(), pl.col("nlt").first(), pl.col("nt_status").first()))
    per = rows.group_by("subject", "date").agg(
        pl.len().cast(pl.UInt32).alias("n_new_present"),
        pl.when(pl.col("nlt").any()).then(pl.col("diameter").filter(pl.col("nlt")).sum()).alias("new_lesion_target_sum"),
        (~pl.col("nlt") & pl.col("nt_status").is_in(PROGRESSION_STATUS)).any().alias("new_nt_grew"))
    return (dates.select("subject", "date").join(seen, on=["subject", "date"], how="left")
            .join(per, on=["subject", "date"], how="left")
            .with_columns(pl.col("n_new_seen").fill_null(0).cast(pl.UInt32),
                          pl.col("n_new_present").fill_null(0).cast(pl.UInt32), pl.col("new_nt_grew").fill_null(False)))


def build_irecist_assessments(ctx) -> pl.DataFrame:
    ir = ctx.profile.irecist
    a = assessments(ctx)
    if not ir or not a.height or "time_point_response" not in a.columns:
        return pl.DataFrame(schema={"subject": pl.String, "date": pl.Date, "irecist_response": pl.String})
    les = follow_up(ctx)
    further = (les.filter((pl.col("nt_status") == "Further increase") & ~pl.col("lesion_type").is_in([NEW, EQUIVOCAL]))
               .select("subject", "date").unique().with_columns(pl.lit(True).alias("nt_further")))
    df = (a.select("subject", "date", "first_dose", "is_baseline", "sum_measured", "target_response",
                   "non_target_response", "new_lesions", "time_point_response")
          .join(_new_lesions(ctx, les, a), on=["subject", "date"], how="left")
          .join(further, on=["subject", "date"], how="left")
          .with_columns(pl.col("nt_further").fill_null(False)).sort("subject", "date"))
    resp = pl.col("time_point_response")
    pc = (resp == "PD").fill_null(False)
    reset = (~pl.col("is_baseline") & resp.is_in(["CR", "PR", "SD", "NON-CR/NON-PD"])).fill_null(False)
    df = df.with_columns(pc.alias("_pc"), reset.cast(pl.Int32).cum_sum().over("subject").alias("_seg"))
    ref = lambda e: e.filter(pl.col("_pc")).first().over("subject", "_seg")  # noqa: E731  (the episode's iUPD)
    df = df.with_columns(
        ref(pl.col("date")).alias("iupd_date"), ref(pl.col("target_response") == "PD").fill_null(False).alias("_rt"),
        ref(pl.col("non_target_response") == "PD").fill_null(False).alias("_rnt"),
        ref(pl.col("new_lesions")).alias("_rnew"), ref(pl.col("sum_measured")).alias("_rsum"),
        ref(pl.col("new_lesion_target_sum").fill_null(0.0)).alias("_rnlt"), ref(pl.col("n_new_seen")).alias("_rn"))
    mm = ir["further_increase_mm"]
    grew_t = pl.when(pl.col("_rt")).then((pl.col("sum_measured") - pl.col("_rsum")) >= mm - 1e-9).otherwise(
        pl.col("target_response") == "PD")
    grew_nt = pl.when(pl.col("_rnt")).then(pl.col("nt_further")).otherwise(pl.col("non_target_response") == "PD")
    grew_new = pl.when(pl.col("_rnew")).then(
        (pl.col("n_new_seen") > pl.col("_rn")) | pl.col("new_nt_grew")
        | ((pl.col("new_lesion_target_sum").fill_null(0.0) - pl.col("_rnlt")) >= mm - 1e-9)).otherwise(pl.col("new_lesions"))
    days = (pl.col("date") - pl.col("iupd_date")).dt.total_days()
    confirm = (pl.col("_pc") & (days >= ir["confirm_min_days"])
               & (grew_t.fill_null(False) | grew_nt.fill_null(False) | grew_new.fill_null(False))).fill_null(False)
    after = pl.col("date") >= pl.col("iupd_date")
    df = df.with_columns(pl.when(after).then(days).alias("days_from_iupd"), confirm.alias("confirms_iupd"),
                         pl.when(after).then(pl.col("iupd_date")).alias("iupd_date"))
    icpd = pl.col("date").filter(pl.col("confirms_iupd")).min().over("subject")
    out = (pl.when(pl.col("is_baseline") | resp.is_null()).then(None)
           .when(pl.col("date") >= icpd).then(pl.lit("iCPD"))
           .when(pl.col("_pc")).then(pl.lit("iUPD"))
           .otherwise(resp.replace_strict(TO_I, default=None)))
    return df.with_columns(out.alias("irecist_response"), icpd.alias("icpd_date")).select(
        "subject", "date", "first_dose", "is_baseline", "irecist_response", "iupd_date", "days_from_iupd",
        "confirms_iupd", "icpd_date", "n_new_seen", "n_new_present", "new_lesion_target_sum")


def irecist_assessments(ctx) -> pl.DataFrame:
    return cached(ctx, "irecist_assessments", build_irecist_assessments)


def build_irecist_best(ctx) -> pl.DataFrame:
    a = irecist_assessments(ctx)
    schema = {"subject": pl.String, "best_overall_response": pl.String, "icpd_date": pl.Date,
              "first_iupd_date": pl.Date, "doses_after_iupd": pl.UInt32, "doses_after_icpd": pl.UInt32}
    if not a.height:
        return pl.DataFrame(schema=schema)
    tp = a.filter(pl.col("irecist_response").is_not_null()).select(
        "subject", "date", "first_dose", pl.col("irecist_response").replace_strict(FROM_I).alias("resp"))
    b = best_overall(tp, a.select("subject").unique(), {**ctx.profile.recist})
    b = b.with_columns(pl.col("best_overall_response").replace_strict(BEST_I, default=None))
    per = a.group_by("subject").agg(
        pl.col("icpd_date").first(), pl.col("date").filter(pl.col("irecist_response") == "iUPD").min()
        .alias("first_iupd_date"))
    from .exposure import administrations

    adm = administrations(ctx)
    given = (adm.filter(pl.col("action").is_in(["Given", "Reduced"]) & pl.col("date").is_not_null())
             .select("subject", pl.col("date").alias("dose_date")) if adm.height
             else pl.DataFrame(schema={"subject": pl.String, "dose_date": pl.Date}))
    counts = (per.join(given, on="subject", how="left").group_by("subject").agg(
        (pl.col("dose_date") > pl.col("first_iupd_date")).sum().alias("doses_after_iupd"),
        (pl.col("dose_date") > pl.col("icpd_date")).sum().alias("doses_after_icpd")))
    return b.join(per, on="subject", how="left").join(counts, on="subject", how="left").sort("subject")


def irecist_best(ctx) -> pl.DataFrame:
    return cached(ctx, "irecist_best", build_irecist_best)


def irecist_columns(ctx) -> pl.DataFrame:
    """subject, date and the irecist_* columns of the `recist` export (none without [irecist])."""
    a = irecist_assessments(ctx)
    if not ctx.profile.irecist or not a.height:
        return pl.DataFrame(schema={"subject": pl.String, "date": pl.Date})
    b = irecist_best(ctx).select(
        "subject", pl.col("best_overall_response").alias("best_overall_irecist_response"),
        pl.col("best_response_date").alias("best_irecist_response_date"), "first_iupd_date", "icpd_date",
        pl.col("doses_after_iupd").alias("doses_after_first_iupd"), "doses_after_icpd")
    cols = a.select("subject", "date", pl.col("irecist_response").alias("irecist_time_point_response"),
                    "iupd_date", "days_from_iupd", "confirms_iupd", pl.col("n_new_seen").alias("new_lesions_seen"),
                    pl.col("n_new_present").alias("new_lesions_present"), "new_lesion_target_sum")
    cols = cols.join(b, on="subject", how="left")
    return cols.rename({c: f"irecist_{c}" for c in cols.columns if c not in ("subject", "date")
                        and not c.startswith(("irecist", "best_"))})
