"""RECIST 1.1 from the Tumor sheet: sums, time-point responses, best overall response.

    lesions(ctx)      the Tumor rows (monitor.derive.recist_lesions: baseline, measurability,
                      equivocal new lesions).
    assessments(ctx)  one row per subject and assessment date from the baseline on: sum of the
                      baseline target lesions, % change from baseline and from the nadir,
                      target / non-target / new-lesion status, the time-point response by the
                      RECIST 1.1 tables and the investigator's response.
    best_response(ctx) one row per subject: best overall response with confirmation, its date,
                      first response, progression date, duration of response (recist_best.py).
    recist_table(ctx) assessments with the subject's best response: the `recist` export table.

Time-point response (Eisenhauer 2009, RECIST 1.1 sections 4.3-4.4, tables 1 and 2):
  target lesions   CR: every non-nodal target 0 mm and every nodal target < node_normal_mm;
                   PR: sum >= pr_decrease_pct below the baseline sum;
                   PD: sum >= pd_increase_pct above the nadir (the smallest earlier sum, baseline
                   included) and >= pd_min_increase_mm more -- also when some targets are not
                   measured (the measured ones are already enough); NE: a target not measured;
                   SD: otherwise.
  non-target       PD: any Unequivocal progression (or iRECIST's Further increase); NE: a
                   baseline non-target without status; CR: all Absent; else NON-CR/NON-PD.
  new lesions      a row of type New on that date -> PD; a New (equivocal) row only once a later
                   scan confirms it (section 4.3.5: PD dated from the scan that first showed it).
  overall          table 1 (targets at baseline) or table 2 (non-targets only).
Numbers are defined or null, with the reason in `null_reason`:
  * sum_diameters is the sum of every baseline target, null unless all are measured (never 0 for
    an unmeasured scan); sum_measured is the sum of the measured ones (what the PD test uses);
  * pct_from_baseline / pct_from_nadir are null when that sum is null or the reference is 0 mm.
Nadir 0 mm (every target gone): 20% of 0 is 0, so section 4.3.1's PD test is the 5 mm absolute
increase (a sum >= pd_min_increase_mm). After a CR (the previous evaluable time point), the
reappearance of any lesion -- a target > 0 mm (a node >= node_normal_mm), a non-target Present --
is PD (RECIST working group, RECIST 1.1 Q&A "Does a new lesion always result in PD?",
recist.eortc.org; Schwartz et al., Eur J Cancer 2016;62:132-137): `reappeared_after_cr`.
Tumour markers (sections 4.3.3 and 4.4): a CR needs the markers normalised; a CR with a marker of
recist.cr_markers above its ULN within cr_marker_window_days of the scan is a PR (`markers_above_uln`).
"""

from __future__ import annotations

import polars as pl

from .exposure import REL_TOL, cached
from .recist_best import best_of
from .recist_lesions import EQUIVOCAL, NEW, PROGRESSION_STATUS, baseline_roles, lesion_status, lesions  # noqa: F401

ORDER = {"CR": 0, "PR": 1, "SD": 2, "NON-CR/NON-PD": 2, "PD": 4, "NE": 5}
ASSESSMENT_SCHEMA = {"subject": pl.String, "date": pl.Date, "row": pl.Int64}


def follow_up(ctx) -> pl.DataFrame:
    """The lesion rows from each subject's baseline on."""
    les = lesions(ctx)
    return les.filter(pl.col("baseline_date").is_not_null() & (pl.col("date") >= pl.col("baseline_date")))


def assessment_dates(les: pl.DataFrame) -> pl.DataFrame:
    return (les.group_by("subject", "date").agg(
        pl.col("row").min(), pl.col("first_dose").first(), pl.col("baseline_date").first(),
        pl.col("inv_response").drop_nulls().first().alias("investigator_response"),
        ((pl.col("lesion_type") == NEW) | pl.col("equivocal_confirmed")).any().alias("new_lesions"),
        ((pl.col("lesion_type") == EQUIVOCAL) & ~pl.col("equivocal_confirmed")).any().alias("new_equivocal"))
        .with_columns((pl.col("date") == pl.col("baseline_date")).alias("is_baseline")))


def target_sums(dates: pl.DataFrame, grid: pl.DataFrame, pr_pct, pd_pct, pd_mm, node_mm) -> pl.DataFrame:
    """Per assessment: target counts, sums, baseline and nadir sums and the target response.
    grid: subject, date, lesion, value (mm or null), nodal -- every assessment x every baseline target.
    node_mm None: a nodal target counts as gone at 0 mm like any other."""
    v = pl.col("value")
    nodal = pl.col("nodal") if node_mm is not None else pl.lit(False)
    node_mm = node_mm if node_mm is not None else 0.0
    tsum = grid.group_by("subject", "date").agg(
        pl.len().alias("n_targets"), v.count().alias("n_measured"), v.sum().alias("_s"),
        pl.when(nodal).then(v < node_mm).otherwise(v == 0).all().alias("_all_cr"),
        pl.when(nodal).then(v >= node_mm).otherwise(v > 0).any().alias("_back"))
    df = (dates.join(tsum, on=["subject", "date"], how="left")
          .with_columns(pl.col("n_targets").fill_null(0), pl.col("n_measured").fill_null(0),
                        pl.col("_back").fill_null(False)).sort("subject", "date"))
    complete = (pl.col("n_targets") > 0) & (pl.col("n_measured") == pl.col("n_targets"))
    df = df.with_columns(complete.alias("complete"),
                         pl.when(pl.col("n_measured") > 0).then(pl.col("_s")).alias("sum_measured"),
                         pl.when(complete).then(pl.col("_s")).alias("sum_diameters"))
    df = df.with_columns(
        pl.col("sum_diameters").filter(pl.col("is_baseline")).first().over("subject").alias("baseline_sum"),
        # nadir before each assessment: the smallest complete sum so far (baseline included)
        pl.col("sum_diameters").cum_min().forward_fill().shift(1).over("subject").alias("nadir_sum"))
    inc = pl.col("sum_measured") - pl.col("nadir_sum")
    pd_t = ((inc > 0) & (inc >= pl.col("nadir_sum") * pd_pct / 100 * (1 - REL_TOL))
            & (inc >= pd_mm * (1 - REL_TOL))).fill_null(False)
    pr_t = (pl.col("sum_diameters") <= pl.col("baseline_sum") * (1 - pr_pct / 100) * (1 + REL_TOL)).fill_null(False)
    target = (pl.when((pl.col("n_targets") == 0) | pl.col("is_baseline")).then(None)
              .when(pl.col("baseline_sum").is_null()).then(pl.lit("NE"))
              .when(pd_t).then(pl.lit("PD"))
              .when(~pl.col("complete")).then(pl.lit("NE"))
              .when(pl.col("_all_cr")).then(pl.lit("CR"))
              .when(pr_t).then(pl.lit("PR"))
              .otherwise(pl.lit("SD")))
    pos = lambda e: pl.when(e > 0).then(e)  # noqa: E731  (a 0 mm reference gives no percentage)
    return df.with_columns(
        target.alias("target_response"), inc.alias("mm_from_nadir"),
        ((pl.col("sum_diameters") - pl.col("baseline_sum")) / pos(pl.col("baseline_sum")) * 100).alias("pct_from_baseline"),
        ((pl.col("sum_diameters") - pl.col("nadir_sum")) / pos(pl.col("nadir_sum")) * 100).alias("pct_from_nadir"),
        null_reason().alias("null_reason"),
    ).drop("_s", "_all_cr")


def null_reason() -> pl.Expr:
    """Why a sum or a percentage of this assessment is null (None when nothing is)."""
    n, m = pl.col("n_targets"), pl.col("n_measured")
    parts = [
        pl.when(n == 0).then(pl.lit("no baseline target lesion: no sum")),
        pl.when((n > 0) & (m == 0)).then(pl.lit("no target lesion measured: sum unknown")),
        pl.when((m > 0) & (m < n)).then(pl.lit("only ") + m.cast(pl.String) + pl.lit(" of ") + n.cast(pl.String)
                                        + pl.lit(" targets measured: sum incomplete (sum_measured is a partial sum)")),
        pl.when((n > 0) & ~pl.col("is_baseline") & pl.col("baseline_sum").is_null())
        .then(pl.lit("baseline sum incomplete: no % from baseline")),
        pl.when(pl.col("nadir_sum") == 0).then(pl.lit("nadir 0 mm: % from nadir undefined (PD needs >= 5 mm, "
                                                      "or any lesion back after a CR)")),
    ]
    r = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    return pl.when(r == "").then(None).otherwise(r)


def marker_flags(ctx, dates: pl.DataFrame) -> pl.DataFrame:
    """subject, date, markers_above_uln (null: no result of recist.cr_markers within the window),
    markers_text: e.g. 'AFP 96.4 > ULN 8.8 (2024-02-18)'."""
    r = ctx.profile.recist
    empty = pl.DataFrame(schema={"subject": pl.String, "date": pl.Date, "markers_above_uln": pl.Boolean,
                                 "markers_text": pl.String})
    if ctx.sheet("Labs") is None or not r.get("cr_markers"):
        return empty
    labs = ctx.labs
    need = {"subject", "date", "test", "value_si", "uln_si"}
    if not labs.height or not need <= set(labs.columns):
        return empty
    q = pl.col("qualifier").fill_null("") if "qualifier" in labs.columns else pl.lit("")
    used = [c for c in ("subject", "date", "test", "value_si", "uln_si", "qualifier") if c in labs.columns]
    mk = (labs.select(used).filter(pl.col("test").is_in(list(r["cr_markers"])) & pl.col("value_si").is_finite()
                                   & pl.col("uln_si").is_finite() & pl.col("date").is_not_null())
          .select("subject", pl.col("date").alias("mdate"), "test", "value_si", "uln_si",
                  ((pl.col("value_si") > pl.col("uln_si")) & ~q.str.contains("^[<≤]")).alias("above")))
    j = (dates.select("subject", "date").join(mk, on="subject")
         .with_columns((pl.col("mdate") - pl.col("date")).dt.total_days().abs().alias("gap"))
         .filter(pl.col("gap") <= r["cr_marker_window_days"])
         .sort("gap", "mdate").group_by("subject", "date", "test", maintain_order=True).first())
    if not j.height:
        return empty
    text = (pl.col("test") + pl.lit(" ") + pl.col("value_si").round(1).cast(pl.String)
            + pl.when(pl.col("above")).then(pl.lit(" > ULN ")).otherwise(pl.lit(" <= ULN "))
            + pl.col("uln_si").round(1).cast(pl.String) + pl.lit(" (") + pl.col("mdate").cast(pl.String) + pl.lit(")"))
    return (j.sort("test").group_by("subject", "date")
            .agg(pl.col("above").any().alias("markers_above_uln"), text.str.join(", ").alias("markers_text")))


def overall_response(t: pl.Expr, n: pl.Expr) -> pl.Expr:
    """Tables 1 and 2: target t, non-target n (null when the subject has none), new_lesions."""
    return (pl.when(pl.col("is_baseline")).then(None)
            .when(t.is_null() & n.is_null() & ~pl.col("new_lesions")).then(None)
            .when((t == "PD") | (n == "PD") | pl.col("new_lesions")).then(pl.lit("PD"))
            .when(t.is_null()).then(n)                                   # table 2: non-targets only
            .when(t == "NE").then(pl.lit("NE"))
            .when(t == "CR").then(pl.when(n.is_null() | (n == "CR")).then(pl.lit("CR")).otherwise(pl.lit("PR")))
            .otherwise(t))                                               # PR or SD whatever non-targets


def non_target_reads(les: pl.DataFrame, dates: pl.DataFrame, nts: pl.DataFrame, r: dict) -> pl.DataFrame:
    """subject, date, n_non_targets, non_target_response, _nt_present (a baseline non-target seen)."""
    st = (les.filter(pl.col("lesion_type").is_in(["Target", "Non-target"])).sort("row")
          .group_by("subject", "date", "lesion", maintain_order=True)
          .agg(lesion_status(les, r).first().alias("status")))
    ntg = dates.select("subject", "date").join(nts, on="subject").join(st, on=["subject", "date", "lesion"], how="left")
    up_any = (les.filter(pl.col("nt_status").is_in(PROGRESSION_STATUS)).select("subject", "date").unique()
              .with_columns(pl.lit(True).alias("_up")))
    ntr = ntg.group_by("subject", "date").agg(
        pl.len().alias("n_non_targets"), pl.col("status").null_count().alias("_missing"),
        (pl.col("status") == "Absent").all().alias("_all_absent"),
        pl.col("status").is_in(["Present", *PROGRESSION_STATUS]).any().alias("_nt_present"))
    df = (dates.select("subject", "date", "is_baseline").join(ntr, on=["subject", "date"], how="left")
          .join(up_any, on=["subject", "date"], how="left")
          .with_columns(pl.col("n_non_targets").fill_null(0), pl.col("_up").fill_null(False),
                        pl.col("_nt_present").fill_null(False)))
    resp = (pl.when(pl.col("is_baseline")).then(None).when(pl.col("_up")).then(pl.lit("PD"))
            .when(pl.col("n_non_targets") == 0).then(None)
            .when(pl.col("_missing") > 0).then(pl.lit("NE"))
            .when(pl.col("_all_absent")).then(pl.lit("CR"))
            .otherwise(pl.lit("NON-CR/NON-PD")))
    return df.select("subject", "date", "n_non_targets", resp.alias("non_target_response"), "_nt_present")


def build_assessments(ctx) -> pl.DataFrame:
    r = ctx.profile.recist
    les = follow_up(ctx)
    if not les.height:
        return pl.DataFrame(schema=ASSESSMENT_SCHEMA)
    dates = assessment_dates(les)
    roles = baseline_roles(les, r)
    targets = roles.filter(pl.col("role") == "target").select("subject", "lesion", "nodal")
    nts = roles.filter(pl.col("role").str.starts_with("non-target")).select("subject", "lesion")
    # every assessment x every baseline target: the measurement that date (first row of the lesion)
    meas = (les.filter(pl.col("lesion_type") == "Target").sort("row")
            .group_by("subject", "date", "lesion", maintain_order=True).agg(pl.col("diameter").first().alias("value")))
    grid = dates.select("subject", "date").join(targets, on="subject").join(
        meas, on=["subject", "date", "lesion"], how="left")
    df = target_sums(dates, grid, r["pr_decrease_pct"], r["pd_increase_pct"], r["pd_min_increase_mm"],
                     float(r["node_normal_mm"]))
    df = (df.join(non_target_reads(les, dates, nts, r), on=["subject", "date"], how="left")
          .join(marker_flags(ctx, dates), on=["subject", "date"], how="left").sort("subject", "date"))
    o = overall_response(pl.col("target_response"), pl.col("non_target_response"))
    # sections 4.3.3 / 4.4: a CR needs the tumour markers back under their ULN
    o = pl.when((o == "CR") & pl.col("markers_above_uln").fill_null(False)).then(pl.lit("PR")).otherwise(o)
    df = df.with_columns(o.alias("_o"))
    prev = (pl.when(pl.col("_o").is_not_null() & (pl.col("_o") != "NE")).then(pl.col("_o"))
            .shift(1).forward_fill().over("subject"))
    back = ~pl.col("is_baseline") & (prev == "CR") & (pl.col("_back") | pl.col("_nt_present")) & (pl.col("_o") != "PD")
    df = df.with_columns(back.fill_null(False).alias("reappeared_after_cr"))
    return df.with_columns(
        pl.when(pl.col("reappeared_after_cr")).then(pl.lit("PD")).otherwise(pl.col("_o")).alias("time_point_response"),
        (pl.col("date") - pl.col("first_dose")).dt.total_days().alias("days_from_first_dose"),
    ).drop("_o", "_back", "_nt_present")


def assessments(ctx) -> pl.DataFrame:
    return cached(ctx, "recist_assessments", build_assessments)


def build_best_response(ctx) -> pl.DataFrame:
    return best_of(assessments(ctx), "time_point_response", ctx.profile.recist)


def best_response(ctx) -> pl.DataFrame:
    return cached(ctx, "recist_best", build_best_response)


ASSESSMENT_COLUMNS = ("row", "subject", "date", "is_baseline", "days_from_first_dose", "n_targets", "n_measured",
                      "sum_diameters", "sum_measured", "baseline_sum", "nadir_sum", "pct_from_baseline",
                      "pct_from_nadir", "mm_from_nadir", "null_reason", "target_response", "n_non_targets",
                      "non_target_response", "new_lesions", "new_equivocal", "reappeared_after_cr",
                      "markers_above_uln", "markers_text", "time_point_response", "investigator_response")


def recist_table(ctx) -> pl.DataFrame:
    """The `recist` export: one row per subject and assessment date (row = its first Tumor row)
    with the subject's best overall response, then the iRECIST and mRECIST reads when the profile
    has them (columns irecist_* and mrecist_*, monitor.derive.irecist / mrecist)."""
    a = assessments(ctx)
    if not a.height:
        return pl.DataFrame({"row": pl.Series([], dtype=pl.Int64)})
    out = (a.select(list(ASSESSMENT_COLUMNS)).join(best_response(ctx), on="subject", how="left")
           .sort("subject", "date"))
    from .irecist import irecist_columns
    from .mrecist import mrecist_columns

    return out.join(irecist_columns(ctx), on=["subject", "date"], how="left").join(
        mrecist_columns(ctx), on=["subject", "date"], how="left").sort("subject", "date")
