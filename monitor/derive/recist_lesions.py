"""The Tumor sheet as lesions for the response reads (RECIST 1.1, iRECIST, mRECIST).

    lesions(ctx)        the Tumor rows with valid dates, the subject's baseline date (the last
                        assessment on or before the first dose; the first assessment when the
                        subject was never dosed), organ and lymph-node flags, and:
        equivocal_confirmed  a "New (equivocal)" row whose Lesion ID is entered as "New" on a later
                        scan (RECIST 1.1 section 4.3.5: progression then dates from the first scan
                        that showed it); unconfirmed, an equivocal lesion is not progression.
    baseline_roles(les, r) one row per subject and baseline lesion: its role in the derivation.

Measurability (RECIST 1.1 section 3.1.1, thresholds in the profile's [recist] table): a baseline
Target row is a target lesion when it is measurable -- longest diameter >= measurable_min_mm (10)
on CT/MRI with slices <= slice_max_mm (5 mm; with thicker slices (optional Slice thickness column)
at least twice the slice), a lymph node >= node_target_min_mm (15) short axis. Otherwise:
  * a lesion too small to measure, or a pathological node (node_normal_mm 10 to 15 mm short axis),
    is read as a NON-TARGET lesion (section 3.1.2: non-measurable lesions are non-target): its
    status on each scan is its Non-target status when entered, else Absent when measured 0 mm (a
    node < 10 mm) and Present when measured more;
  * a node < node_normal_mm (10) is normal (section 3.1.1: not pathological) and is left out.
A baseline target without a diameter stays a target (not measured: RECIST004, the time points NE).
RECIST006 reports every non-measurable baseline target.
"""

from __future__ import annotations

import polars as pl

from .exposure import cached, valid_date

NEW = "New"
EQUIVOCAL = "New (equivocal)"
PROGRESSION_STATUS = ("Unequivocal progression", "Further increase")


def node() -> pl.Expr:
    return pl.col("location").fill_null("").str.to_lowercase().str.contains(r"\bnodes?\b|\blymph")


ORGAN_WORDS = {"hepatic": "liver", "pulmonary": "lung", "lungs": "lung", "osseous": "bone", "bones": "bone",
               "adrenals": "adrenal", "peritoneal": "peritoneum", "pleural": "pleura"}
_SKIP = r"^(?:(?:left|right|bilateral|upper|lower|middle|the|of)\b\s*)+"


def organ() -> pl.Expr:
    """The organ of a lesion: the first word of its Location (before a comma or bracket), with
    laterality words skipped and a few adjectives mapped (hepatic = liver, pulmonary = lung);
    every lymph node is one organ, 'lymph node' (RECIST 1.1 section 4.2)."""
    loc = (pl.col("location").fill_null("").str.to_lowercase().str.replace(r"[,(;].*$", "")
           .str.strip_chars().str.replace(_SKIP, ""))
    word = loc.str.extract(r"^([a-z]+)", 1).replace(ORGAN_WORDS)
    return pl.when(node()).then(pl.lit("lymph node")).otherwise(word)


def first_doses(ctx) -> pl.DataFrame:
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
              "lesion_type": pl.String, "location": pl.String, "diameter": pl.Float64, "nt_status": pl.String,
              "inv_response": pl.String, "slice_mm": pl.Float64, "viable": pl.Float64,
              "first_dose": pl.Date, "baseline_date": pl.Date, "nodal": pl.Boolean, "organ": pl.String,
              "equivocal_confirmed": pl.Boolean}
    if sd is None or not sd.has("subject", "date", "lesion", "lesion_type"):
        return pl.DataFrame(schema=schema)
    f = sd.frame
    opt = lambda k, t: pl.col(k).cast(t) if k in f.columns else pl.lit(None, dtype=t)  # noqa: E731
    df = f.select(
        pl.col("_row").cast(pl.Int64).alias("row"), "subject", valid_date(f, "date").alias("date"),
        "lesion", "lesion_type", opt("location", pl.String).alias("location"),
        opt("diameter", pl.Float64).alias("diameter"), opt("nt_status", pl.String).alias("nt_status"),
        opt("inv_response", pl.String).alias("inv_response"), opt("slice_mm", pl.Float64).alias("slice_mm"),
        opt("viable", pl.Float64).alias("viable"),
    ).filter(pl.col("subject").is_not_null() & pl.col("date").is_not_null())
    df = df.join(first_doses(ctx), on="subject", how="left")
    base = df.group_by("subject").agg(
        pl.col("date").filter(pl.col("date") <= pl.col("first_dose")).max().alias("_pre"),
        pl.col("date").min().alias("_first"), pl.col("first_dose").first().alias("_fd"))
    base = base.select("subject", pl.when(pl.col("_fd").is_null()).then(pl.col("_first"))
                       .otherwise(pl.col("_pre")).alias("baseline_date"))
    # section 4.3.5: an equivocal new lesion is confirmed by a later scan calling it New (same Lesion ID)
    confirmed = (df.filter(pl.col("lesion_type") == NEW).group_by("subject", "lesion")
                 .agg(pl.col("date").max().alias("_new_last")))
    df = (df.join(base, on="subject", how="left").join(confirmed, on=["subject", "lesion"], how="left")
          .with_columns(node().alias("nodal"), organ().alias("organ"),
                        ((pl.col("lesion_type") == EQUIVOCAL) & (pl.col("_new_last") > pl.col("date")))
                        .fill_null(False).alias("equivocal_confirmed")))
    return df.drop("_new_last").sort("row")


def lesions(ctx) -> pl.DataFrame:
    return cached(ctx, "recist_lesions", build_lesions)


def measurable_min(r: dict) -> pl.Expr:
    """The smallest measurable longest diameter of a non-nodal lesion on this row (section 3.1.1)."""
    thick = pl.col("slice_mm").fill_null(0.0)
    return pl.when(thick > r["slice_max_mm"]).then(pl.max_horizontal(thick * 2, pl.lit(float(r["measurable_min_mm"]))))\
        .otherwise(pl.lit(float(r["measurable_min_mm"])))


def baseline_roles(les: pl.DataFrame, r: dict) -> pl.DataFrame:
    """subject, lesion, row, nodal, organ, diameter, role: 'target', 'non-target' (entered so),
    'non-target (not measurable)' (a Target row below the measurable size), 'normal node'."""
    at = (les.filter((pl.col("date") == pl.col("baseline_date")) & pl.col("lesion_type").is_in(["Target", "Non-target"]))
          .sort("row").group_by("subject", "lesion", maintain_order=True).first())
    d = pl.col("diameter")
    role = (pl.when(pl.col("lesion_type") == "Non-target").then(pl.lit("non-target"))
            .when(d.is_null()).then(pl.lit("target"))
            .when(pl.col("nodal") & (d < r["node_normal_mm"])).then(pl.lit("normal node"))
            .when(pl.col("nodal") & (d < r["node_target_min_mm"])).then(pl.lit("non-target (not measurable)"))
            .when(~pl.col("nodal") & (d < measurable_min(r))).then(pl.lit("non-target (not measurable)"))
            .otherwise(pl.lit("target")))
    return at.select("subject", "lesion", "row", "nodal", "organ", "diameter", "slice_mm",
                     measurable_min(r).alias("min_mm"), role.alias("role"))


def lesion_status(les: pl.DataFrame, r: dict) -> pl.Expr:
    """A non-target's status on a row: the Non-target status, else from a diameter (0 mm, or a node
    below node_normal_mm: Absent; more: Present)."""
    d = pl.col("diameter")
    gone = pl.when(pl.col("nodal")).then(d < r["node_normal_mm"]).otherwise(d == 0)
    return pl.coalesce(pl.col("nt_status"), pl.when(d.is_not_null()).then(
        pl.when(gone).then(pl.lit("Absent")).otherwise(pl.lit("Present"))))
