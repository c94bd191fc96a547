"""RECIST 1.1 rules (RECIST0xx): the investigator's response against the one computed by the
RECIST 1.1 tables, target-lesion selection, lesions not followed, the baseline scan window.

Thresholds are the profile's [recist] table; sums and responses come from monitor.derive.recist.
"""

from __future__ import annotations

import polars as pl

from ..derive.exposure import fmt_num
from ..derive.recist import assessments, lesions
from .base import emit, quoted

SAME = {"NON-CR/NON-PD": "SD"}   # table 2's non-CR/non-PD is what the contract's list calls SD


def _frame(ctx, hits: pl.DataFrame, cols: list) -> tuple:
    sd = ctx.sheet("Tumor")
    df = sd.frame.join(hits.select(pl.col("row").alias("_row"), *[pl.col(c).alias(f"x_{c}") for c in cols]),
                       on="_row")
    return sd, df


def investigator_response_differs(ctx):
    """The investigator's response differs from the RECIST 1.1 time-point response of the lesions.

    *What it does*: computes the time-point response of every assessment after the baseline
    (sum of the baseline target lesions against the baseline and the nadir, non-target status,
    new lesions; RECIST 1.1 tables 1 and 2, thresholds in the profile's `recist` table) and
    compares it with the Investigator response on that date; a different response is reported on
    the first row carrying it. An assessment that cannot be computed (NE: a lesion not
    measured, see RECIST004) is not compared. Non-CR/non-PD (non-target disease only) matches SD.
    After a complete response any lesion back is PD; with a 0 mm nadir the 5 mm rule decides and
    no percentage is shown; a CR with a tumour marker above its ULN is PR; non-measurable
    baseline targets (RECIST006) are read as non-targets (docs/tumour_response.md).
    *Why it matters*: response and progression dates drive the primary endpoints (ORR, PFS); a
    response that does not follow from the measurements is a query for the site and the
    radiologist (Eisenhauer 2009, RECIST 1.1 sections 4.3-4.4).
    *Example*: sum 52 mm against a baseline of 78 mm (-33%, PR) recorded as SD.
    """
    a = assessments(ctx)
    if not a.height or "time_point_response" not in a.columns:
        return None
    cols = ["time_point_response", "sum_diameters", "sum_measured", "n_targets", "n_measured", "baseline_sum",
            "nadir_sum", "pct_from_baseline", "pct_from_nadir", "mm_from_nadir", "new_lesions", "non_target_response",
            "reappeared_after_cr", "markers_above_uln", "markers_text"]
    comp = a.filter(pl.col("time_point_response").is_not_null() & (pl.col("time_point_response") != "NE")).select(
        "subject", "date", *cols)
    les = lesions(ctx).filter(pl.col("inv_response").is_not_null()).select("row", "subject", "date", "inv_response")
    j = les.join(comp, on=["subject", "date"])
    norm = lambda c: pl.col(c).replace(SAME)  # noqa: E731
    bad = (j.filter(norm("inv_response") != norm("time_point_response")).sort("row")
           .group_by("subject", "date", "inv_response", maintain_order=True).first())
    if not bad.height:
        return None
    sd, df = _frame(ctx, bad, cols)
    return emit(sd, df, "inv_response", pl.lit("Investigator response ") + quoted(pl.col("inv_response__raw"))
                + pl.lit(" on ") + pl.col("date").cast(pl.String) + pl.lit(" but RECIST 1.1 gives ")
                + pl.col("x_time_point_response") + pl.lit(" (") + _why() + pl.lit(")."),
                suggestion=pl.lit("Check the measurements and the response with the site radiologist."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("date__raw"), pl.col("inv_response")],
                                  separator="|"))


def _why() -> pl.Expr:
    """The numbers behind a computed response; a number that is undefined is left out, never shown
    as 0, inf or ?: an unmeasured scan has no sum, a 0 mm nadir no percentage."""
    x = lambda c: pl.col(f"x_{c}")  # noqa: E731
    mm = lambda c: fmt_num(x(c)) + pl.lit(" mm")  # noqa: E731
    total = (pl.when(x("n_targets") == 0).then(pl.lit("no target lesions"))
             .when(x("sum_diameters").is_not_null()).then(pl.lit("sum ") + mm("sum_diameters"))
             .when(x("sum_measured").is_not_null())
             .then(pl.lit("sum of the measured targets ") + mm("sum_measured") + pl.lit(" (") + x("n_measured").cast(
                 pl.String) + pl.lit(" of ") + x("n_targets").cast(pl.String) + pl.lit(")"))
             .otherwise(pl.lit("no target measured")))
    base = (pl.when(x("pct_from_baseline").is_not_null())
            .then(pl.lit(", ") + fmt_num(x("pct_from_baseline")) + pl.lit("% from baseline ") + mm("baseline_sum")))
    nadir = (pl.when(x("pct_from_nadir").is_not_null())
             .then(pl.lit(", ") + fmt_num(x("pct_from_nadir")) + pl.lit("% from nadir ") + mm("nadir_sum"))
             .when(x("nadir_sum").is_not_null() & x("mm_from_nadir").is_not_null())
             .then(pl.lit(", nadir ") + mm("nadir_sum") + pl.lit(", ") + fmt_num(x("mm_from_nadir"))
                   + pl.lit(" mm from it")))
    return pl.concat_str([
        total, base, nadir,
        pl.when(x("new_lesions")).then(pl.lit(", new lesion")),
        pl.when(x("reappeared_after_cr")).then(pl.lit(", a lesion back after a complete response")),
        pl.when(x("markers_above_uln") & (x("time_point_response") == "PR") & x("markers_text").is_not_null())
        .then(pl.lit(", markers not normalised for a CR: ") + x("markers_text")),
        pl.when(x("non_target_response").is_not_null()).then(pl.lit(", non-target ") + x("non_target_response")),
    ], separator="", ignore_nulls=True)


def _baseline_targets(ctx) -> pl.DataFrame:
    les = lesions(ctx)
    return les.filter((pl.col("date") == pl.col("baseline_date")) & (pl.col("lesion_type") == "Target")).sort("row")


def too_many_target_lesions(ctx):
    """More target lesions at baseline than RECIST 1.1 allows.

    *What it does*: counts the Target rows of each subject's baseline assessment (the last scan
    on or before the first dose); each one beyond `recist.max_targets` (5) is reported on its
    Lesion type cell.
    *Why it matters*: RECIST 1.1 selects at most 5 target lesions (section 4.2); extra targets
    change the sum and so every response and progression call.
    *Example*: six lesions marked Target on the baseline CT.
    """
    mx = ctx.profile.recist["max_targets"]
    t = _baseline_targets(ctx).with_columns(pl.int_range(1, pl.len() + 1).over("subject").alias("n"),
                                            pl.len().over("subject").alias("total"))
    bad = t.filter(pl.col("n") > mx)
    if not bad.height:
        return None
    sd, df = _frame(ctx, bad, ["n", "total"])
    return emit(sd, df, "lesion_type", pl.lit("Baseline has ") + pl.col("x_total").cast(pl.String)
                + pl.lit(f" target lesions; RECIST 1.1 allows at most {mx} (lesion ")
                + quoted(pl.col("lesion__raw")) + pl.lit(" is number ") + pl.col("x_n").cast(pl.String) + pl.lit(")."),
                suggestion=pl.lit("Keep the largest, reproducibly measurable lesions as targets; "
                                  "record the others as Non-target."))


def too_many_target_lesions_in_organ(ctx):
    """More than the allowed number of target lesions in one organ at baseline.

    *What it does*: groups the baseline Target rows by organ (the first word of the Location,
    laterality skipped: 'Liver, segment II' and 'Liver segment VII' are both liver, 'Right lung'
    is lung; every lymph node counts as one organ); each one beyond
    `recist.max_targets_per_organ` (2) in an organ is reported on its Location cell. Rows
    without a Location are not counted.
    *Why it matters*: RECIST 1.1 takes at most 2 targets per organ so that the sum represents
    all involved organs (section 4.2).
    *Example*: three target lesions with Location 'Liver, segment ...'.
    """
    mx = ctx.profile.recist["max_targets_per_organ"]
    t = (_baseline_targets(ctx).filter(pl.col("organ").is_not_null())
         .with_columns(pl.int_range(1, pl.len() + 1).over("subject", "organ").alias("n")))
    bad = t.filter(pl.col("n") > mx)
    if not bad.height or "location" not in ctx.sheet("Tumor").columns:
        return None
    sd, df = _frame(ctx, bad, ["n", "organ"])
    return emit(sd, df, "location", pl.lit("Target lesion ") + quoted(pl.col("lesion__raw"))
                + pl.lit(" is target number ") + pl.col("x_n").cast(pl.String) + pl.lit(" in organ '")
                + pl.col("x_organ") + pl.lit(f"' at baseline; RECIST 1.1 allows at most {mx} per organ."),
                suggestion=pl.lit("Record the extra lesion as Non-target."))


def baseline_lesion_not_assessed(ctx):
    """A baseline lesion has no diameter (target) or status (non-target) at an assessment.

    *What it does*: for every assessment date from the baseline on, looks up each baseline
    lesion by its Lesion ID: a target lesion needs a diameter, a non-target lesion a status
    (when the sheet has the status column). A row without it is reported on that cell; a
    lesion with no row at all on the first row of that date (Lesion ID cell).
    *Why it matters*: a target lesion not measured makes the time point not evaluable (NE) unless
    progression is already clear (RECIST 1.1 section 4.4.2); it may also hide a growing lesion.
    *Example*: target T2 (30 mm at baseline) is not on the scan of 2022-09-20.
    """
    les = lesions(ctx)
    sd = ctx.sheet("Tumor")
    has_status = "nt_status" in sd.columns
    les = les.filter(pl.col("baseline_date").is_not_null() & (pl.col("date") >= pl.col("baseline_date")))
    if not les.height:
        return None
    base = les.filter((pl.col("date") == pl.col("baseline_date"))
                      & pl.col("lesion_type").is_in(["Target"] + (["Non-target"] if has_status else [])))
    base = (base.sort("row").group_by("subject", "lesion", maintain_order=True)
            .agg(pl.col("lesion_type").first().alias("base_type"), pl.col("diameter").first().alias("base_mm"),
                 pl.col("baseline_date").first()))
    dates = les.group_by("subject", "date").agg(pl.col("row").min().alias("first_row"))
    grid = dates.join(base, on="subject")
    rows = (les.sort("row").group_by("subject", "date", "lesion", maintain_order=True)
            .agg(pl.col("row").first().alias("lesion_row"), pl.col("diameter").first(), pl.col("nt_status").first()))
    g = grid.join(rows, on=["subject", "date", "lesion"], how="left")
    missing = pl.when(pl.col("base_type") == "Target").then(pl.col("diameter").is_null()).otherwise(
        pl.col("nt_status").is_null())
    bad = g.filter(missing)
    if not bad.height:
        return None
    field = pl.when(pl.col("lesion_row").is_null()).then(pl.lit("lesion")).when(
        pl.col("base_type") == "Target").then(pl.lit("diameter")).otherwise(pl.lit("nt_status"))
    bad = bad.with_columns(pl.coalesce("lesion_row", "first_row").alias("row"), field.alias("field"))
    out = []
    for fld, part in bad.partition_by("field", as_dict=True).items():
        fld = fld[0]
        s, df = _frame(ctx, part, ["lesion", "base_type", "base_mm", "baseline_date", "date"])
        what = (pl.col("x_base_type").str.to_lowercase() + pl.lit(" lesion '") + pl.col("x_lesion") + pl.lit("'")
                + pl.when(pl.col("x_base_mm").is_not_null())
                .then(pl.lit(" (") + fmt_num(pl.col("x_base_mm")) + pl.lit(" mm at baseline)")).otherwise(pl.lit("")))
        if fld == "lesion":
            msg = (pl.lit("Baseline ") + what + pl.lit(" is not on the assessment of ")
                   + pl.col("x_date").cast(pl.String) + pl.lit("."))
        else:
            msg = (pl.lit("Baseline ") + what + pl.lit(" has no ")
                   + pl.when(pl.col("x_base_type") == "Target").then(pl.lit("diameter"))
                   .otherwise(pl.lit("status")) + pl.lit(" on ") + pl.col("x_date").cast(pl.String) + pl.lit("."))
        out.append(emit(s, df, fld, msg, suggestion=pl.lit("Enter the measurement (or NE with a comment) for every "
                                                           "baseline lesion at every assessment."),
                        key=pl.concat_str([pl.col("subject__raw"), pl.col("x_date").cast(pl.String),
                                           pl.col("x_lesion")], separator="|")))
    return pl.concat(out)


def baseline_scan_out_of_window(ctx):
    """The baseline scan is more than 28 days (profile) before the first dose, or there is none.

    *What it does*: takes each dosed subject's last Tumor assessment on or before the first dose
    (the earliest Given or Reduced dose of a profile drug; a dose before consent, WB209, does
    not count); more than `recist.baseline_max_days` (28) before it is reported on that
    assessment's first Date cell; a subject whose first assessment is after the first dose is
    reported on that first row.
    *Why it matters*: RECIST 1.1 requires baseline scans no more than 4 weeks before the start of
    treatment (section 3.2); an old baseline inflates or hides early change.
    *Example*: baseline CT 2022-06-01, first dose 2022-07-05 (34 days).
    """
    mx = ctx.profile.recist["baseline_max_days"]
    les = lesions(ctx).filter(pl.col("first_dose").is_not_null())
    if not les.height:
        return None
    first = les.sort("date", "row").group_by("subject", maintain_order=True).first()
    none = first.filter(pl.col("baseline_date").is_null()).with_columns(pl.lit(None, dtype=pl.Int64).alias("gap"))
    at = (les.filter(pl.col("date") == pl.col("baseline_date")).sort("row").group_by("subject", maintain_order=True)
          .first().with_columns((pl.col("first_dose") - pl.col("date")).dt.total_days().alias("gap")))
    old = at.filter(pl.col("gap") > mx)
    bad = pl.concat([none.select("row", "first_dose", "gap"), old.select("row", "first_dose", "gap")])
    if not bad.height:
        return None
    sd, df = _frame(ctx, bad, ["first_dose", "gap"])
    msg = (pl.when(pl.col("x_gap").is_null())
           .then(pl.lit("No tumour assessment on or before the first dose ") + pl.col("x_first_dose").cast(pl.String)
                 + pl.lit("; the first is on ") + pl.col("date").cast(pl.String) + pl.lit("."))
           .otherwise(pl.lit("Baseline assessment ") + pl.col("date").cast(pl.String) + pl.lit(" is ")
                      + pl.col("x_gap").cast(pl.String) + pl.lit(" days before the first dose ")
                      + pl.col("x_first_dose").cast(pl.String) + pl.lit(f" (at most {mx}).")))
    return emit(sd, df, "date", msg, suggestion=pl.lit("Check the scan and dose dates; a baseline must be repeated "
                                                       "when it is too old."),
                key=pl.concat_str([pl.col("subject__raw"), pl.lit("baseline")], separator="|"))


def target_lesion_not_measurable(ctx):
    """A baseline target lesion is below the size RECIST 1.1 needs to measure it.

    *What it does*: checks each baseline Target row (the last scan on or before the first dose)
    against RECIST 1.1 measurability, thresholds in the profile's `recist` table: a lesion needs
    a longest diameter >= `measurable_min_mm` (10 mm; with a Slice thickness above `slice_max_mm`
    (5 mm), at least twice the slice), a lymph node >= `node_target_min_mm` (15 mm) short axis.
    Reported on the Diameter cell. In the derivation such a lesion is read as a non-target lesion
    (a node under `node_normal_mm`, 10 mm, as a normal node: left out), never summed as a target.
    *Why it matters*: small lesions and borderline nodes cannot be measured reproducibly; as
    targets they move the sum by noise and drive false responses or progressions (RECIST 1.1
    section 3.1.1 measurable disease; 3.1.2 non-measurable lesions are non-target; 4.2).
    *Example*: an 8 mm lung nodule, or a 12 mm portocaval node, marked Target at baseline.
    """
    from ..derive.recist_lesions import baseline_roles

    r = ctx.profile.recist
    les = lesions(ctx).filter(pl.col("baseline_date").is_not_null())
    if not les.height or "diameter" not in ctx.sheet("Tumor").columns:
        return None
    bad = baseline_roles(les, r).filter(pl.col("role").is_in(["non-target (not measurable)", "normal node"]))
    if not bad.height:
        return None
    sd, df = _frame(ctx, bad, ["role", "nodal", "min_mm", "diameter"])
    need = (pl.when(pl.col("x_nodal")).then(pl.lit(f"a lymph node needs >= {fmt_mm(r['node_target_min_mm'])} mm short axis"))
            .otherwise(pl.lit("a lesion needs >= ") + fmt_num(pl.col("x_min_mm")) + pl.lit(" mm longest diameter")))
    done = (pl.when(pl.col("x_role") == "normal node")
            .then(pl.lit(f"under {fmt_mm(r['node_normal_mm'])} mm a node is normal: left out of the response"))
            .otherwise(pl.lit("read as a non-target lesion, not summed")))
    return emit(sd, df, "diameter", pl.lit("Baseline target ") + quoted(pl.col("lesion__raw")) + pl.lit(" is ")
                + fmt_num(pl.col("x_diameter")) + pl.lit(" mm: not measurable (") + need
                + pl.lit(", RECIST 1.1 section 3.1.1); ") + done + pl.lit("."),
                suggestion=pl.lit("Record it as Non-target (or, for a node under 10 mm, not at all) and choose "
                                  "measurable targets."))


def fmt_mm(v) -> str:
    return f"{float(v):g}"


def dosed_after_confirmed_progression(ctx):
    """A study drug was given after iRECIST confirmed progression (iCPD).

    *What it does*: reads response by iRECIST beside RECIST 1.1 (monitor.derive.irecist, profile
    `irecist`): an unconfirmed progression (iUPD) may be treated beyond, but once a later scan
    4-8 weeks on confirms it (iCPD) the subject stops. Every administration (Given or Reduced)
    of a profile drug dated after the scan that confirmed progression is reported on its Date cell.
    *Why it matters*: iRECIST allows treatment beyond progression only until confirmation (Seymour
    et al., Lancet Oncol 2017, "treatment beyond iUPD"; anti-PD-1 protocols: discontinue at
    confirmed progression); dosing after iCPD is a protocol deviation and exposes the patient to a
    drug that has failed.
    *Example*: iUPD 2023-08-22, iCPD 2023-10-03 (target sum +9 mm), QL1604 Given 2023-10-24.
    """
    from ..derive.exposure import administrations
    from ..derive.irecist import irecist_best

    if not ctx.profile.irecist:
        return None
    best = irecist_best(ctx).filter(pl.col("icpd_date").is_not_null())
    if not best.height:
        return None
    adm = administrations(ctx)
    adm = adm.filter(pl.col("action").is_in(["Given", "Reduced"]) & pl.col("date").is_not_null())
    bad = adm.join(best.select("subject", "icpd_date", "first_iupd_date"), on="subject").filter(
        pl.col("date") > pl.col("icpd_date"))
    if not bad.height:
        return None
    sd = ctx.sheet("Cycles")
    df = sd.frame.join(bad.select(pl.col("row").alias("_row"), pl.col("drug").alias("x_drug"),
                                  pl.col("icpd_date").alias("x_icpd")), on="_row")
    return emit(sd, df, "date", pl.col("x_drug") + pl.lit(" given on ") + pl.col("date").cast(pl.String)
                + pl.lit(", after iRECIST confirmed progression (iCPD) on the scan of ")
                + pl.col("x_icpd").cast(pl.String) + pl.lit("."),
                suggestion=pl.lit("Check the scans and the response; treatment beyond progression ends at iCPD."))
