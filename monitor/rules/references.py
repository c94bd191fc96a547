"""Reference and record rules (WB2xx): subjects, drugs, duplicates, conditional fields."""

from __future__ import annotations

import polars as pl

import re

from .base import emit, quoted, rows_where


def _id_number(text: str) -> str | None:
    """The last run of digits of a subject ID without leading zeros: '006', '06', '6', '07-006'
    and 'S-006' all give '6'; None when the ID has no digits."""
    runs = re.findall(r"\d+", str(text))
    return (runs[-1].lstrip("0") or "0") if runs else None


def subject_guesses(unknown: list, known: list) -> dict:
    """Unknown ID -> the suggestion naming the known ID(s) it most likely means: the same ID with
    other leading zeros ('06' for '006'), or with or without a site prefix ('006' for '07-006').
    IDs with no single close match get the generic advice. Runs over the distinct IDs only."""
    by_number: dict = {}
    for k in known:
        n = _id_number(k)
        if n is not None:
            by_number.setdefault(n, []).append(k)
    out = {}
    for u in unknown:
        cands = by_number.get(_id_number(u) or "\x00", [])
        if len(cands) == 1:
            k = cands[0]
            how = ("leading zeros differ" if re.sub(r"\D", "", u).lstrip("0") == re.sub(r"\D", "", k).lstrip("0")
                   and re.sub(r"\d", "", u) == re.sub(r"\d", "", k) else "the site prefix differs")
            out[u] = f"Did you mean '{k}' ({how})? Type the ID exactly as on the Subjects sheet."
        elif 1 < len(cands) <= 3:
            out[u] = ("Did you mean " + " or ".join(f"'{k}'" for k in cands)
                      + "? Type the ID exactly as on the Subjects sheet.")
    return out


def subject_duplicated(ctx):
    """The same Subject ID is on more than one row of the Subjects sheet.

    *What it does*: counts each Subject ID on the Subjects sheet; every repeat is reported.
    *Why it matters*: every other sheet refers to subjects by ID; two rows make age, weight
    and consent ambiguous, so weight-based doses and consent checks cannot be trusted.
    *Example*: `001` on Subjects rows 2 and 9.
    """
    sd = ctx.sheet("Subjects")
    df = sd.frame.filter(pl.col("subject").is_not_null())
    df = df.with_columns(pl.col("_row").rank("ordinal").over("subject").alias("_n"),
                         pl.col("_row").min().over("subject").alias("_first"))
    bad = df.filter(pl.col("_n") > 1)
    return emit(sd, bad, "subject", pl.lit("Subject ID ") + quoted(pl.col("subject__raw"))
                + pl.lit(" is already on row ") + pl.col("_first").cast(pl.String) + pl.lit("."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("_n").cast(pl.String)], separator="|"))


def subject_unknown(ctx):
    """A row refers to a Subject ID that is not on the Subjects sheet.

    *What it does*: checks the Subject ID of every row of Cycles, Labs, AdverseEvents, Vitals
    and Tumor against the Subjects sheet; says "did you mean '006'?" when the ID differs from a
    known one only by leading zeros or a site prefix.
    *Why it matters*: data attached to an unknown subject is orphaned: it is in no summary
    and no safety check (often a typo: `01` for `001`).
    *Example*: Labs!A20 says `0010` but Subjects has `010`.
    """
    subj = ctx.sheet("Subjects")
    known = subj.frame.get_column("subject").drop_nulls().unique()
    out = []
    for name in ("Cycles", "Labs", "AdverseEvents", "Vitals", "Tumor"):
        sd = ctx.sheet(name)
        if sd is None or not sd.has("subject"):
            continue
        bad = rows_where(sd, sd.frame, pl.col("subject").is_not_null() & ~pl.col("subject").is_in(known.implode()),
                         "subject__raw")
        if bad.height:
            guesses = subject_guesses(bad.get_column("subject").unique().to_list(), known.to_list())
            suggestion = pl.col("subject").replace_strict(
                guesses, default=pl.lit("Check the ID or add the subject to the Subjects sheet."),
                return_dtype=pl.String)
            out.append(emit(sd, bad, "subject", pl.lit("Subject ID ") + quoted(pl.col("subject__raw"))
                            + pl.lit(" is not on the Subjects sheet."), suggestion=suggestion))
    return pl.concat(out) if out else None


def drug_unknown(ctx):
    """A Cycles row names a drug the protocol profile does not know (even by alias).

    *What it does*: matches the Drug cell against the profile's drugs and their aliases
    (case, spaces and punctuation ignored).
    *Why it matters*: doses, schedules and hold rules are per drug; an unknown drug is
    checked by none of them.
    *Example*: `Sorafenib` in a QL1604 + bevacizumab study.
    """
    sd = ctx.sheet("Cycles")
    lookup = ctx.profile.drug_lookup()
    n = pl.col("drug").str.to_lowercase().str.replace_all(r"[^0-9a-z]+", "")
    bad = sd.frame.filter(pl.col("drug").is_not_null() & ~n.is_in(list(lookup)))
    names = ", ".join(ctx.profile.drug_names)
    return emit(sd, bad, "drug", pl.lit("Drug ") + quoted(pl.col("drug__raw"))
                + pl.lit(f" is not a drug of this protocol ({names})."),
                suggestion=pl.lit(f"Use one of: {names}."))


def administration_duplicated(ctx):
    """The same administration is entered twice: one drug given twice in a cycle or on a date.

    *What it does*: groups administrations (Action Given or Reduced) by subject, drug (aliases
    resolved) and cycle, and by subject, drug and date; every row after the first of a group is
    reported. A Delayed or Held row for the planned date plus a Given row for the day actually
    dosed is the contract's way to record a delay and is not a duplicate.
    *Why it matters*: a double entry doubles exposure and dose intensity and hides the real
    cycle (ICH E6(R2) 4.9: accurate records).
    *Example*: two `Bev` rows for subject 003 cycle 4.
    """
    from ..derive.exposure import cycles_drug

    sd = ctx.sheet("Cycles")
    # the drug name is resolved once per distinct spelling (derive.exposure.canonical_drug)
    # only the columns read below: the windows move a narrow frame, not every Cycles column
    f = sd.frame.select("_row", "subject", "subject__raw", "drug", "action", "cycle", "cycle__raw", "date", "date__raw")
    df = f.with_columns(cycles_drug(ctx).alias("_drug")).filter(
        pl.col("subject").is_not_null() & pl.col("_drug").is_not_null()
        & pl.col("action").is_in(["Given", "Reduced"]))
    out = []
    for keys, what in ((["subject", "_drug", "cycle"], "cycle"), (["subject", "_drug", "date"], "date")):
        # only rows of a group with two or more rows can be a repeat: the windows run on those
        d = df.filter(pl.col(keys[-1]).is_not_null() & pl.struct(keys).is_duplicated()).with_columns(
            pl.col("_row").rank("ordinal").over(keys).alias("_n"),
            pl.col("_row").min().over(keys).alias("_first"))
        bad = d.filter(pl.col("_n") > 1)
        if what == "date" and out:
            # a row already reported as a repeated cycle is not reported twice
            bad = bad.join(out[0].select(pl.col("row").alias("_row")), on="_row", how="anti")
        if bad.height:
            out.append(emit(sd, bad, what, pl.col("_drug") + pl.lit(f" for this subject and {what} ")
                            + quoted(pl.col(f"{what}__raw")) + pl.lit(" is already on row ")
                            + pl.col("_first").cast(pl.String) + pl.lit("."),
                            key=pl.concat_str([pl.col("subject__raw"), pl.col("_drug"),
                                               pl.col(f"{what}__raw"), pl.col("_n").cast(pl.String)],
                                              separator="|")))
    return pl.concat(out) if out else None


def dose_missing(ctx):
    """A Cycles row says the drug was Given or Reduced but has no dose.

    *What it does*: requires Dose when Action is Given or Reduced.
    *Why it matters*: exposure, dose intensity and dose-deviation checks need the dose given.
    *Example*: `Given` with an empty Dose cell.
    """
    sd = ctx.sheet("Cycles")
    bad = sd.frame.filter(pl.col("action").is_in(["Given", "Reduced"]) & pl.col("dose").is_null()
                          & pl.col("dose__err").is_null())
    return emit(sd, bad, "dose", pl.lit("Dose is blank but the action is ") + pl.col("action")
                + pl.lit("; enter the dose given."))


def dose_unit_missing(ctx):
    """A dose is entered without its unit.

    *What it does*: requires Unit (mg or mg/kg) whenever Dose has a value.
    *Why it matters*: 15 means 15 mg/kg for bevacizumab but would be a 99% under-dose as mg.
    *Example*: Dose `15`, Unit blank.
    """
    sd = ctx.sheet("Cycles")
    bad = sd.frame.filter(pl.col("dose").is_not_null() & pl.col("unit").is_null() & pl.col("unit__err").is_null())
    return emit(sd, bad, "unit", pl.lit("Unit is blank for dose ") + quoted(pl.col("dose__raw"))
                + pl.lit("; enter mg or mg/kg."))


def action_reason_missing(ctx):
    """A dose was reduced, delayed, held or discontinued with no reason given.

    *What it does*: requires Reason when Action is not Given.
    *Why it matters*: monitors must tell toxicity-driven changes from logistics; hold-rule
    and dose-intensity reviews depend on it.
    *Example*: Action `Held`, Reason blank.
    """
    sd = ctx.sheet("Cycles")
    bad = sd.frame.filter(pl.col("action").is_in(["Reduced", "Delayed", "Held", "Discontinued"])
                          & pl.col("reason").is_null())
    return emit(sd, bad, "reason", pl.lit("Action is ") + pl.col("action") + pl.lit(" but no reason is given."))


def off_treatment_before_consent(ctx):
    """A subject's off-treatment date is before the consent date.

    *What it does*: compares the two dates on the Subjects sheet.
    *Why it matters*: one of the two dates is wrong; consent must precede every study procedure
    (ICH E6(R2) 4.8.8).
    *Example*: consent 2022-07-01, off-treatment 2021-02-05.
    """
    sd = ctx.sheet("Subjects")
    bad = sd.frame.filter(pl.col("off_date") < pl.col("consent_date"))
    return emit(sd, bad, "off_date", pl.lit("Off-treatment date ") + pl.col("off_date").cast(pl.String)
                + pl.lit(" is before the consent date ") + pl.col("consent_date").cast(pl.String) + pl.lit("."))


def dosed_before_consent(ctx):
    """A dose was given before the subject signed consent.

    *What it does*: compares each Given or Reduced dose date with the subject's consent date.
    *Why it matters*: treatment before informed consent is a critical GCP breach (ICH E6(R2)
    4.8.8), or one of the dates is wrong.
    *Example*: consent 2022-07-01, cycle 1 given 2022-06-28.
    """
    sd = ctx.sheet("Cycles")
    subj = ctx.sheet("Subjects").frame.select("subject", "consent_date").unique("subject", keep="first")
    df = sd.frame.join(subj, on="subject", how="inner")
    bad = df.filter(pl.col("action").is_in(["Given", "Reduced"]) & (pl.col("date") < pl.col("consent_date")))
    return emit(sd, bad, "date", pl.lit("Dose date ") + pl.col("date").cast(pl.String)
                + pl.lit(" is before the consent date ") + pl.col("consent_date").cast(pl.String) + pl.lit("."))


def blood_pressure_inverted(ctx):
    """Systolic blood pressure is not above diastolic.

    *What it does*: compares the two blood pressures of each Vitals row.
    *Why it matters*: swapped columns would hide bevacizumab hypertension (graded on both).
    *Example*: Systolic 80, Diastolic 135.
    """
    sd = ctx.sheet("Vitals")
    bad = sd.frame.filter(pl.col("sbp") <= pl.col("dbp"))
    return emit(sd, bad, "sbp", pl.lit("Systolic BP ") + quoted(pl.col("sbp__raw"))
                + pl.lit(" is not above diastolic BP ") + quoted(pl.col("dbp__raw")) + pl.lit("; swapped?"))
