"""Tumour-marker rules (MK0xx): confirmed response and progression of AFP / PIVKA-II.

Criteria are data in the profile's [[markers]] (fall %, rise %, above ULN, source); the series,
baselines, nadirs and confirmations come from monitor.derive.markers (SI values, qualifiers as
bounds). These are clinical signals for the monitor, not data errors.
"""

from __future__ import annotations

import polars as pl

from ..derive.exposure import fmt_num
from ..derive.markers import marker_results
from .base import emit, quoted, sheet_join

LABEL = {"PIVKA2": "PIVKA-II"}


def _first(ctx, flag: str) -> pl.DataFrame:
    res = marker_results(ctx)
    if not res.height:
        return res
    return (res.filter(pl.col(flag)).sort("date", "row").group_by("subject", "marker", maintain_order=True).first())


def _emit(ctx, hits: pl.DataFrame, text: pl.Expr, suggestion: str):
    sd = ctx.sheet("Labs")
    cols = ["marker", "baseline", "baseline_date", "nadir_before", "pct_from_baseline", "pct_from_nadir",
            "next_date", "unit_si", "uln_si", "fall_pct", "rise_pct", "source", "value_si"]
    df = sheet_join(sd, hits.select(pl.col("row").alias("_row"), *[pl.col(c).alias(f"x_{c}") for c in cols]))
    name = pl.col("x_marker").replace(LABEL)
    return emit(sd, df, "result", name + pl.lit(" ") + quoted(pl.col("result__raw")) + pl.lit(" on ")
                + pl.col("date").cast(pl.String) + pl.lit(": ") + text,
                suggestion=pl.lit(suggestion),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("x_marker")], separator="|"))


def marker_response_confirmed(ctx):
    """AFP or PIVKA-II fell >= 50% (profile) from baseline, confirmed >= 4 weeks later.

    *What it does*: for each marker of the profile (`markers`: AFP, PIVKA-II), finds the first
    result after the first dose that is at least `response_fall_pct` (50%) below the baseline
    (the last result on or before the first dose, at least `min_baseline`, AFP 20 ng/mL) when a
    result `confirm_interval_days` (28) or more later, and every result in between, is too; reports it
    once per subject and marker, on that result. A `<` result can confirm a fall, a `>`
    result cannot; AFP in IU/mL is compared in ng/mL.
    *Why it matters*: an AFP / PIVKA-II response is an early sign of treatment benefit in HCC and
    is reported next to RECIST (AFP response criteria in HCC trials: Personeni 2012, Chan 2009;
    PIVKA-II: Kim 2015); info only.
    *Example*: AFP 1210 ng/mL at baseline, 463 (-62%) then 212 (-83%) 4 weeks later: response from
    the 463.
    """
    hits = _first(ctx, "response_confirmed")
    if not hits.height:
        return None
    return _emit(ctx, hits, fmt_num(pl.col("x_pct_from_baseline")) + pl.lit("% from the baseline ")
                 + fmt_num(pl.col("x_baseline"), 2) + pl.lit(" ") + pl.col("x_unit_si") + pl.lit(" (")
                 + pl.col("x_baseline_date").cast(pl.String) + pl.lit("), confirmed on ")
                 + pl.col("x_next_date").cast(pl.String) + pl.lit(": marker response (fall >= ")
                 + fmt_num(pl.col("x_fall_pct")) + pl.lit("%; ") + pl.col("x_source") + pl.lit(")."),
                 "No action needed: shown for the response review.")


def marker_progression_confirmed(ctx):
    """AFP or PIVKA-II rose >= 25% (profile) over its nadir and above the ULN, confirmed >= 4 weeks later.

    *What it does*: for each marker of the profile, finds the first result after the first dose
    that is at least `progression_rise_pct` (25%) above the nadir before it (the lowest result
    from the baseline on) and, with `progression_above_uln`, above the site's ULN (the profile's
    `uln` when the site's is blank, MK003), when a result `confirm_interval_days` (28) or more later,
    and every result in between, meets it too; reports it once per subject and marker, on
    that result. A `>` result can confirm a rise, a `<` result cannot.
    *Why it matters*: a confirmed marker rise often precedes radiological progression in HCC and
    should prompt an imaging review (AFP progression criteria in HCC trials: Personeni 2012;
    Zhu 2019 REACH-2; PIVKA-II: Ueno 2016).
    *Example*: AFP nadir 8.4 ng/mL, then 21.5 (+156%, ULN 7) and 58.2: progression from 21.5.
    """
    hits = _first(ctx, "progression_confirmed")
    if not hits.height:
        return None
    uln = (pl.when(pl.col("x_uln_si").is_null()).then(pl.lit(""))
           .when(pl.col("x_value_si") > pl.col("x_uln_si"))
           .then(pl.lit(" and above the ULN ") + fmt_num(pl.col("x_uln_si"), 2) + pl.lit(" ") + pl.col("x_unit_si"))
           .otherwise(pl.lit(" (ULN ") + fmt_num(pl.col("x_uln_si"), 2) + pl.lit(" ") + pl.col("x_unit_si")
                      + pl.lit(")")))
    return _emit(ctx, hits, pl.lit("+") + fmt_num(pl.col("x_pct_from_nadir")) + pl.lit("% over the nadir ")
                 + fmt_num(pl.col("x_nadir_before"), 2) + pl.lit(" ") + pl.col("x_unit_si") + uln
                 + pl.lit(", confirmed on ") + pl.col("x_next_date").cast(pl.String)
                 + pl.lit(": marker progression (rise >= ") + fmt_num(pl.col("x_rise_pct")) + pl.lit("%; ")
                 + pl.col("x_source") + pl.lit(")."),
                 "Review the subject's imaging and the investigator's assessment of progression.")


def marker_uln_missing(ctx):
    """An AFP or PIVKA-II result has a blank ULN: progression falls back to the profile's ULN.

    *What it does*: for each marker of the profile, reports results entered without the site's
    ULN, on the ULN cell (or the Result cell when the sheet has no ULN column), naming the ULN the
    progression criterion uses instead (`markers.uln`, e.g. AFP 10 ng/mL), or saying it cannot be
    judged when the profile has none.
    *Why it matters*: marker progression counts only above the ULN (Personeni 2012; Zhu 2019
    REACH-2); without it the check was silently never met (AFP 20 -> 60 -> 150 ng/mL reported as
    no progression). The site's own range belongs in the workbook (ICH E6(R2) 8.2.12).
    *Example*: AFP 60 ng/mL with the ULN cell blank.
    """
    sd = ctx.sheet("Labs")
    labs = ctx.lab_rows
    tests = {m["test"]: m.get("uln") for m in ctx.profile.markers}
    if not tests:
        return None
    blank = pl.col("uln").is_null() & pl.col("uln__err").is_null() if "uln" in labs.columns else pl.lit(True)
    bad = labs.filter(pl.col("test_code").is_in(list(tests)) & pl.col("result").is_not_null() & blank)
    if not bad.height:
        return None
    units = {code: t.si_unit for code, t in ctx.catalogue.tests.items()}
    fallback = {k: (f"; progression is judged against the profile's ULN {v:g} {units.get(k, '')} (markers.uln)"
                    if v is not None else "; progression above the ULN cannot be judged (no markers.uln)")
                for k, v in tests.items()}
    name = pl.col("test_code").replace(LABEL)
    return emit(sd, bad, "uln" if "uln" in labs.columns else "result",
                name + pl.lit(" ") + quoted(pl.col("result__raw")) + pl.lit(" on ") + pl.col("date").cast(pl.String)
                + pl.lit(" has no ULN") + pl.col("test_code").replace_strict(fallback, default="") + pl.lit("."),
                suggestion=pl.lit("Enter the site laboratory's upper limit of normal."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("date__raw"), pl.col("test__raw"), pl.lit("uln")],
                                  separator="|"))
