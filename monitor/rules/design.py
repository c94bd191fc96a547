"""Study-design rules: the subject's arm against the profile's [[arms]] (WB211), and the drugs
given against the drugs of that arm (DOSE012). Both run only for a profile with arms."""

from __future__ import annotations

import polars as pl

from ..derive.exposure import administrations
from ..derive.plan import subject_arms
from .base import emit, frame, one, quoted


def _arm_names(profile) -> str:
    return ", ".join(a.name for a in profile.arms)


def arm_unknown(ctx):
    """The subject's arm is blank or not an arm of the protocol profile.

    *What it does*: matches the Subjects Arm cell against the profile's `[[arms]]` names and
    aliases (case, spaces and punctuation ignored); a blank or unknown arm is reported on the
    cell. A Subjects sheet without an Arm column gets one finding on the sheet.
    *Why it matters*: the arm decides which drugs and dose levels a subject gets (placebo,
    54 mg or 81 mg); without it a placebo subject's doses cannot be told from a missed dose,
    and doses are only checked against every level of the drug (ICH E9 2.3 and ICH E3 9.4:
    the assigned treatment is part of every subject's record).
    *Example*: Arm `Xan_Mid` in a study whose arms are Placebo, Xanomeline Low Dose and
    Xanomeline High Dose.
    """
    sd = ctx.sheet("Subjects")
    names = _arm_names(ctx.profile)
    if "arm" not in sd.columns:
        return frame([one("Subjects", f"The profile defines arms ({names}) but the Subjects sheet has no Arm "
                                      "column: each dose is only checked against every dose level of its drug.",
                          suggestion="Add an Arm column with each subject's treatment arm.", key="arm-column")])
    arms = subject_arms(ctx).select("subject", pl.col("arm").alias("_arm"))
    df = sd.frame.filter(pl.col("subject").is_not_null()).join(arms, on="subject", how="left")
    bad = df.filter(pl.col("_arm").is_null())
    if not bad.height:
        return None
    msg = (pl.when(pl.col("arm").is_null()).then(pl.lit("Arm is blank"))
           .otherwise(pl.lit("Arm ") + quoted(pl.col("arm__raw")) + pl.lit(" is not an arm of this protocol"))
           + pl.lit(f" ({names}): the subject's drugs and doses cannot be checked against an arm."))
    return emit(sd, bad, "arm", msg, suggestion=pl.lit(f"Enter one of: {names}."))


def drug_not_in_arm(ctx):
    """A drug was given to a subject whose arm does not have it.

    *What it does*: for subjects with a known arm (WB211), compares the drug of every
    administration (Given, Reduced, or Delayed with a dose) with the drugs of the arm in the
    profile's `[[arms]]`; a drug the arm does not have is reported on the Drug cell. An arm with
    no drugs (screen failures) has none.
    *Why it matters*: an active drug given to a placebo subject (or the other way round) is a
    treatment error that breaks the randomisation and may unblind the study; it must be reported
    as a protocol deviation (ICH E6(R2) 4.5.3, ICH E3 10.2).
    *Example*: Xanomeline 54 mg given to a subject of the Placebo arm.
    """
    arms = {a.name: set(a.drug_names) for a in ctx.profile.arms}
    pairs = [(arm, d.name) for arm in arms for d in ctx.profile.drugs if d.name in arms[arm]]
    allowed = pl.DataFrame(pairs, schema={"_arm": pl.String, "drug": pl.String}, orient="row") \
        .with_columns(pl.lit(True).alias("_ok"))
    a = administrations(ctx).filter(pl.col("administered") & pl.col("drug").is_not_null())
    a = a.join(subject_arms(ctx).select("subject", pl.col("arm").alias("_arm")), on="subject", how="left")
    bad = (a.filter(pl.col("_arm").is_not_null())
           .join(allowed, on=["_arm", "drug"], how="left").filter(pl.col("_ok").is_null()))
    if not bad.height:
        return None
    drugs_of = {arm: ", ".join(sorted(ds)) or "none" for arm, ds in arms.items()}
    sd = ctx.sheet("Cycles")
    df = sd.frame.join(bad.select(pl.col("row").alias("_row"), pl.col("drug").alias("x_drug"), "_arm"), on="_row")
    return emit(sd, df, "drug", pl.col("x_drug") + pl.lit(" given to a subject of arm ") + pl.col("_arm")
                + pl.lit(", which does not have it (drugs of the arm: ")
                + pl.col("_arm").replace_strict(drugs_of, default="none", return_dtype=pl.String) + pl.lit(")."),
                suggestion=pl.lit("Check the drug and the subject's arm; a wrong treatment is a protocol deviation."))
