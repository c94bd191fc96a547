"""Adverse-event record rules (AE0xx): numbering, dates, seriousness, CTCAE terms and grades."""

from __future__ import annotations

import polars as pl

from .base import emit, quoted


def ae_number_duplicated(ctx):
    """Two adverse events of one subject share an AE number.

    *What it does*: counts AE numbers per subject; every repeat is reported.
    *Why it matters*: the AE number is how queries, SAE reports and the report refer to an
    event; a repeat makes them ambiguous (workbook contract: unique per subject).
    *Example*: subject 004 has two AE #2.
    """
    sd = ctx.sheet("AdverseEvents")
    d = sd.frame.filter(pl.col("subject").is_not_null() & pl.col("ae_number").is_not_null()).with_columns(
        pl.col("_row").rank("ordinal").over(["subject", "ae_number"]).alias("_n"),
        pl.col("_row").min().over(["subject", "ae_number"]).alias("_first"))
    bad = d.filter(pl.col("_n") > 1)
    return emit(sd, bad, "ae_number", pl.lit("AE number ") + quoted(pl.col("ae_number__raw"))
                + pl.lit(" is already used for this subject on row ") + pl.col("_first").cast(pl.String) + pl.lit("."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("ae_number__raw"), pl.col("_n").cast(pl.String)],
                                  separator="|"))


def ae_end_before_onset(ctx):
    """An adverse event ends before it starts.

    *What it does*: compares onset and end; with partial dates it takes the latest possible
    end and the earliest possible onset, so only a certain contradiction is reported.
    *Why it matters*: the AE period decides which lab results and doses it covers.
    *Example*: onset 2022-09-10, end 2022-09-01.
    """
    sd = ctx.sheet("AdverseEvents")
    bad = sd.frame.filter(pl.col("end__hi") < pl.col("onset__lo"))
    return emit(sd, bad, "end", pl.lit("End date ") + quoted(pl.col("end__raw"))
                + pl.lit(" is before the onset date ") + quoted(pl.col("onset__raw")) + pl.lit("."))


def ae_ongoing_with_end_date(ctx):
    """An adverse event is marked ongoing but has an end date.

    *What it does*: flags Ongoing = Y together with an End date.
    *Why it matters*: one of the two is wrong; an AE still open at the data cut is counted
    differently from a resolved one.
    *Example*: Ongoing `Y`, End date `2022-10-01`.
    """
    sd = ctx.sheet("AdverseEvents")
    bad = sd.frame.filter((pl.col("ongoing") == True) & pl.col("end__raw").is_not_null())  # noqa: E712
    return emit(sd, bad, "ongoing", pl.lit("Ongoing is Y but an end date ") + quoted(pl.col("end__raw"))
                + pl.lit(" is entered."))


def ae_end_date_missing(ctx):
    """An adverse event is not ongoing but has no end date.

    *What it does*: flags Ongoing = N with the End date blank.
    *Why it matters*: without an end the AE period is open-ended and covers every later lab.
    *Example*: Ongoing `N`, End date blank.
    """
    sd = ctx.sheet("AdverseEvents")
    bad = sd.frame.filter((pl.col("ongoing") == False) & pl.col("end__raw").is_null())  # noqa: E712
    return emit(sd, bad, "end", pl.lit("End date is blank but Ongoing is N."))


def sae_dates_missing(ctx):
    """A serious adverse event has no awareness date or no report date.

    *What it does*: requires Date aware and Date reported when Serious = Y.
    *Why it matters*: SAEs must reach the sponsor within 24 hours of awareness (ICH E2A,
    ICH E6(R2) 4.11.1); without both dates the timeline cannot be checked.
    *Example*: Serious `Y`, Date reported blank.
    """
    sd = ctx.sheet("AdverseEvents")
    out = []
    for key, label in (("date_aware", "Date aware"), ("date_reported", "Date reported")):
        if key not in sd.columns:
            bad = sd.frame.filter(pl.col("serious") == True)  # noqa: E712
            if bad.height:
                out.append(emit(sd, bad, "serious", pl.lit(f"Serious is Y but the sheet has no {label} column.")))
            continue
        bad = sd.frame.filter((pl.col("serious") == True) & pl.col(key).is_null()  # noqa: E712
                              & pl.col(f"{key}__err").is_null())
        if bad.height:
            out.append(emit(sd, bad, key, pl.lit(f"{label} is blank for a serious adverse event.")))
    return pl.concat(out) if out else None


def sae_reported_before_aware(ctx):
    """A serious adverse event is reported before the site became aware of it.

    *What it does*: compares Date reported with Date aware.
    *Why it matters*: one date is wrong, and the 24-hour reporting check uses both.
    *Example*: aware 2023-03-05, reported 2023-03-01.
    """
    sd = ctx.sheet("AdverseEvents")
    bad = sd.frame.filter(pl.col("date_reported") < pl.col("date_aware"))
    return emit(sd, bad, "date_reported", pl.lit("Date reported ") + pl.col("date_reported").cast(pl.String)
                + pl.lit(" is before Date aware ") + pl.col("date_aware").cast(pl.String) + pl.lit("."))


def ae_term_not_ctcae(ctx):
    """The CTCAE term is not a CTCAE v5.0 term.

    *What it does*: looks the term up in the NCI CTCAE v5.0 table (837 terms, case and
    spacing ignored) and suggests terms: the CTCAE terms of a MedDRA preferred term
    (ctcae/meddra_pt.toml: Pyrexia -> Fever, Diarrhoea -> Diarrhea), curated ones for common
    names (ctcae/synonyms.toml), else the closest by spelling.
    *Why it matters*: grading and lab reconciliation need the exact CTCAE term; free text
    belongs in Verbatim term (use '<SOC> - Other, specify' for events without a term).
    *Example*: `Immune hepatitis` (suggested: Hepatic failure, Hepatobiliary disorders - Other, specify).
    """
    sd = ctx.sheet("AdverseEvents")
    names = set(ctx.terms.by_norm)
    n = pl.col("term").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    bad = sd.frame.filter(pl.col("term").is_not_null() & ~n.is_in(list(names)))
    if not bad.height:
        return None
    # suggestions: one difflib lookup per distinct bad term (few), not per row
    uniq = bad.get_column("term").unique().to_list()
    sugg = {t: ", ".join(ctx.terms.closest(t)) for t in uniq}
    s = pl.col("term").replace_strict(sugg, default="", return_dtype=pl.String)
    return emit(sd, bad, "term", pl.lit("Term ") + quoted(pl.col("term__raw")) + pl.lit(" is not a CTCAE v5.0 term."),
                suggestion=pl.when(s != "").then(pl.lit("Closest CTCAE v5.0 terms: ") + s + pl.lit("."))
                .otherwise(pl.lit("Use a CTCAE v5.0 term, or '<SOC> - Other, specify' with the verbatim term.")))


def ae_grade_not_defined(ctx):
    """The grade is one CTCAE v5.0 does not define for the term.

    *What it does*: checks the grade against the grades the NCI table gives the term
    (a '-' in CTCAE means the grade does not exist).
    *Why it matters*: e.g. Alopecia has only grades 1-2 and Nausea none above 3; an
    undefined grade is a transcription error or the wrong term.
    *Example*: Alopecia grade 3.
    """
    sd = ctx.sheet("AdverseEvents")
    n = pl.col("term").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    g = n.replace_strict(*ctx.terms.defined_grades(), default=None, return_dtype=pl.String)
    df = sd.frame.with_columns(g.alias("_allowed"))
    bad = df.filter(pl.col("_allowed").is_not_null() & pl.col("grade").is_between(1, 5)
                    & ~pl.col("_allowed").str.contains(pl.col("grade").cast(pl.String), literal=True))
    return emit(sd, bad, "grade", pl.lit("Grade ") + pl.col("grade").cast(pl.String)
                + pl.lit(" is not defined for ") + quoted(pl.col("term__raw"))
                + pl.lit(" in CTCAE v5.0 (grades: ") + pl.col("_allowed") + pl.lit(")."))


def sae_reported_late(ctx):
    """A serious adverse event reached the sponsor later than the profile allows after awareness.

    *What it does*: compares Date reported with Date aware; dates carry no time, so with the
    default 24 hours a report dated more than one day after awareness is late.
    *Why it matters*: SAEs must be reported to the sponsor immediately, within 24 hours of
    awareness (ICH E6(R2) 4.11.1; ICH E2A; the profile's `safety.sae_report_hours`).
    *Example*: aware 2023-03-01, reported 2023-03-04.
    """
    sd = ctx.sheet("AdverseEvents")
    hours = float(ctx.profile.safety["sae_report_hours"])
    allowed_days = -(-hours // 24)  # a date-only report may fall on any day up to ceil(hours / 24) later
    days = (pl.col("date_reported") - pl.col("date_aware")).dt.total_days()
    bad = sd.frame.filter((pl.col("serious") == True) & (days > allowed_days))  # noqa: E712
    return emit(sd, bad, "date_reported", pl.lit("SAE reported ") + days.cast(pl.String)
                + pl.lit(f" days after awareness (limit {hours:g} hours): aware ")
                + pl.col("date_aware").cast(pl.String) + pl.lit(", reported ")
                + pl.col("date_reported").cast(pl.String) + pl.lit("."))


def ae_fatal_grade_mismatch(ctx):
    """Grade 5 (death) without a Fatal outcome, or a Fatal outcome with a grade below 5.

    *What it does*: compares Grade with Outcome.
    *Why it matters*: CTCAE v5.0 grade 5 is death related to the AE; the two fields must agree
    for deaths to be counted and reported correctly.
    *Example*: Grade 5 with Outcome `Recovering`.
    """
    sd = ctx.sheet("AdverseEvents")
    fatal = pl.col("outcome") == "Fatal"
    g5 = pl.col("grade") == 5
    bad = sd.frame.filter((g5 & pl.col("outcome").is_not_null() & ~fatal) | (fatal & pl.col("grade").is_not_null() & ~g5))
    return emit(sd, bad, "grade", pl.lit("Grade ") + pl.col("grade").cast(pl.String) + pl.lit(" with outcome ")
                + quoted(pl.col("outcome")) + pl.lit(": grade 5 and a Fatal outcome go together."))


def ae_onset_before_consent(ctx):
    """An adverse event starts before the subject signed consent.

    *What it does*: compares the latest possible onset with the consent date.
    *Why it matters*: events before consent are medical history, not adverse events of the study
    (ICH E2A); one of the dates may also be wrong.
    *Example*: consent 2022-07-01, AE onset 2022-06-20.
    """
    sd = ctx.sheet("AdverseEvents")
    subj = ctx.sheet("Subjects").frame.select("subject", "consent_date").unique("subject", keep="first")
    df = sd.frame.join(subj, on="subject", how="inner")
    bad = df.filter(pl.col("onset__hi") < pl.col("consent_date"))
    return emit(sd, bad, "onset", pl.lit("Onset ") + quoted(pl.col("onset__raw"))
                + pl.lit(" is before the consent date ") + pl.col("consent_date").cast(pl.String)
                + pl.lit("; medical history rather than an adverse event?"))


def ae_onset_before_first_dose(ctx):
    """An adverse event starts before the first dose (a pre-treatment event).

    *What it does*: compares the latest possible onset with the subject's first Given dose.
    *Why it matters*: pre-treatment events are not treatment-emergent; they are kept apart in
    safety tables (ICH E9 / CDISC ADaM TRTEMFL), so this is information, not an error.
    *Example*: first dose 2022-07-05, AE onset 2022-07-02.
    """
    from ..derive.labs import first_doses

    sd = ctx.sheet("AdverseEvents")
    fd = first_doses(ctx.sheet("Cycles"))
    df = sd.frame.join(fd, on="subject", how="inner")
    bad = df.filter(pl.col("onset__hi") < pl.col("first_dose"))
    return emit(sd, bad, "onset", pl.lit("Onset ") + quoted(pl.col("onset__raw"))
                + pl.lit(" is before the first dose on ") + pl.col("first_dose").cast(pl.String)
                + pl.lit(" (pre-treatment event)."))


def fatal_ae_not_serious(ctx):
    """A grade 5 adverse event, or one with a Fatal outcome, is recorded as not serious.

    *What it does*: flags Serious = N on a row with Grade 5 or Outcome Fatal.
    *Why it matters*: an adverse event that results in death is serious by definition (ICH E2A
    II.B "results in death"; 21 CFR 312.32(a)) and must be reported to the sponsor within 24
    hours; recorded as not serious, it escapes expedited reporting and the SAE tables.
    *Example*: Myocardial infarction, grade 5, Outcome Fatal, Serious `N`.
    """
    sd = ctx.sheet("AdverseEvents")
    fatal = pl.lit(False)
    if "grade" in sd.columns:
        fatal = fatal | (pl.col("grade") == 5).fill_null(False)
    if "outcome" in sd.columns:
        fatal = fatal | (pl.col("outcome") == "Fatal").fill_null(False)
    bad = sd.frame.filter((pl.col("serious") == False) & fatal)  # noqa: E712
    what = (pl.when(pl.col("grade") == 5).then(pl.lit("grade 5")).otherwise(pl.lit("a Fatal outcome"))
            if "grade" in sd.columns else pl.lit("a Fatal outcome"))
    return emit(sd, bad, "serious", pl.lit("Serious is N for an adverse event with ") + what
                + pl.lit(" (") + quoted(pl.col("term__raw") if "term__raw" in sd.frame.columns else pl.lit(""))
                + pl.lit("); an event that results in death is serious."),
                suggestion=pl.lit("Set Serious to Y and report the SAE (Date aware, Date reported)."))
