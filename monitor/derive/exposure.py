"""Dosing facts per administration and exposure per subject and drug (issue 4, DOSE rules).

    administrations(ctx)  one row per Cycles row of a profile drug (aliases resolved): the dose in
                          mg, the dose the protocol expects, the weight used and the current
                          weight, the interval since the previous administration, the latest
                          pre-dose lab, and the hold / permanent-discontinuation state (holds()).
    exposure(ctx)         one row per subject and drug: cycles received, dose intensity, delays,
                          reductions, holds, time on treatment (built in derive/intensity.py).
    dosing_table(ctx)     administrations with the exposure columns: the `dosing` export table.
    The planned dose of each administration comes from derive/plan.py (arms, dose levels).

Definitions (docs/protocol_rules.md has the full list with sources):
  * an administration is a row with Action Given or Reduced, or Delayed with a dose (the demo's
    way to write a dose given late); Held, Discontinued and Delayed without a dose are not;
  * a repeated administration (the same drug twice in one cycle or on one date, reported by
    WB204) is kept in the table (`duplicate` = true) but left out of intervals and exposure;
  * dates with a cell error (unreadable, implausible ...) are unknown, never used; so is the date
    of a dose after the run date (WB112) or before the subject's consent (WB209);
  * the weight used for a dose = the Cycles weight, else the latest Vitals weight on or before
    the dose date, else the Subjects (baseline) weight; weights outside the contract's range
    (25-250 kg, reported by WB111) are unknown.

Everything is polars joins and window expressions (join_asof for "latest on or before"); the
tables are built once per check and cached on the Context, like ctx.labs.
"""

from __future__ import annotations

import polars as pl

from ..ctcae.terms import norm_term

GIVEN_ACTIONS = ("Given", "Reduced")
REL_TOL = 1e-9   # comparisons at a threshold are not moved by floating-point noise


# ------------------------------------------------------------------------------ small helpers

def cached(ctx, name: str, build):
    """Build a derived table once per check and keep it on the Context."""
    attr = f"_derived_{name}"
    df = getattr(ctx, attr, None)
    if df is None:
        df = build(ctx)
        setattr(ctx, attr, df)
    return df


def valid_date(frame: pl.DataFrame, key: str) -> pl.Expr:
    """The typed date, null when the cell has an error (an implausible date keeps its value in
    the frame; here it is unknown)."""
    if key not in frame.columns:
        return pl.lit(None, dtype=pl.Date)
    err = f"{key}__err"
    return pl.when(pl.col(err).is_null()).then(pl.col(key)) if err in frame.columns else pl.col(key)


def in_range(sd, key: str) -> pl.Expr:
    """The number, null when outside the contract's range for the column (reported by WB111)."""
    if key not in sd.frame.columns:
        return pl.lit(None, dtype=pl.Float64)
    col = sd.schema.column(key)
    v = pl.col(key).cast(pl.Float64)
    ok = pl.lit(True)
    if col.min is not None:
        ok = ok & (v >= col.min)
    if col.max is not None:
        ok = ok & (v <= col.max)
    return pl.when(ok).then(v)


def opt(frame: pl.DataFrame, key: str, dtype) -> pl.Expr:
    return pl.col(key) if key in frame.columns else pl.lit(None, dtype=dtype)


def canonical_drug(profile) -> pl.Expr:
    """Drug name or alias as written -> the profile's drug name (null when unknown)."""
    lookup = profile.drug_lookup()
    n = pl.col("drug").str.to_lowercase().str.replace_all(r"[^0-9a-z]+", "")
    return n.replace_strict(lookup, default=None, return_dtype=pl.String)


def _canonical_drugs(frame: pl.DataFrame, profile) -> pl.Expr:
    """canonical_drug computed once per distinct spelling (a few), mapped back to every row."""
    uniq = frame.select(pl.col("drug").unique()).with_columns(canonical_drug(profile).alias("_c"))
    return pl.col("drug").replace_strict(uniq.get_column("drug"), uniq.get_column("_c"), default=None,
                                         return_dtype=pl.String)


def fmt_num(e: pl.Expr, digits: int = 1) -> pl.Expr:
    """A number as short text: 200 not 200.0, 15.5, 870.3."""
    r = e.round(digits)
    whole = r.is_finite() & (r == r.round(0)) & (r.abs() < 9e15)   # inf / NaN / huge: never cast to Int64
    return pl.when(whole).then(r.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(r.cast(pl.String))


def _empty(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


# ------------------------------------------------------------------------------ weights

def vitals_weights(ctx) -> pl.DataFrame:
    """subject, wdate, vitals_weight: valid Vitals weights with valid dates, sorted by date."""
    sd = ctx.sheet("Vitals")
    if sd is None or not sd.has("subject", "date", "weight"):
        return _empty({"subject": pl.String, "wdate": pl.Date, "vitals_weight": pl.Float64})
    f = sd.frame
    return (f.select(pl.col("subject"), valid_date(f, "date").alias("wdate"),
                     in_range(sd, "weight").alias("vitals_weight"))
            .drop_nulls().sort("wdate"))


def _latest_before(left: pl.DataFrame, right: pl.DataFrame, on_left: str, on_right: str,
                   by: str | list = "subject") -> pl.DataFrame:
    """left + the columns of the latest `right` row with on_right <= on_left (same `by`)."""
    by = [by] if isinstance(by, str) else by
    known = left.filter(pl.col(on_left).is_not_null()).sort(on_left)
    unknown = left.filter(pl.col(on_left).is_null())
    if right.height == 0 or known.height == 0:
        extra = [pl.lit(None, dtype=t).alias(c) for c, t in right.schema.items() if c not in by]
        return left.with_columns(extra)
    j = known.join_asof(right.rename({on_right: "__on"}), left_on=on_left, right_on="__on", by=by,
                        strategy="backward", check_sortedness=False)
    j = j.with_columns(pl.col("__on").alias(on_right)).drop("__on")
    extra = [pl.lit(None, dtype=j.schema[c]).alias(c) for c in j.columns if c not in left.columns]
    return pl.concat([j, unknown.with_columns(extra).select(j.columns)])


# ------------------------------------------------------------------------------ administrations

ADMIN_SCHEMA = {
    "row": pl.Int64, "subject": pl.String, "cycle": pl.Int64, "date": pl.Date, "drug": pl.String,
    "drug_as_entered": pl.String, "action": pl.String, "administered": pl.Boolean, "duplicate": pl.Boolean,
    "dose": pl.Float64, "unit": pl.String, "cycles_weight": pl.Float64, "reason": pl.String, "end_date": pl.Date,
}


def _base(ctx) -> pl.DataFrame:
    sd = ctx.sheet("Cycles")
    if sd is None or not sd.has("subject", "date", "drug", "action"):
        return _empty(ADMIN_SCHEMA)
    f = sd.frame
    df = f.select(
        pl.col("_row").cast(pl.Int64).alias("row"), pl.col("subject"),
        opt(f, "cycle", pl.Int64).cast(pl.Int64).alias("cycle"), valid_date(f, "date").alias("date"),
        _canonical_drugs(f, ctx.profile).alias("drug"), pl.col("drug").alias("drug_as_entered"),
        pl.col("action"), opt(f, "dose", pl.Float64).cast(pl.Float64).alias("dose"),
        opt(f, "unit", pl.String).alias("unit"), in_range(sd, "weight").alias("cycles_weight"),
        opt(f, "reason", pl.String).alias("reason"), valid_date(f, "end_date").alias("end_date"),
    ).filter(pl.col("subject").is_not_null() & pl.col("drug").is_not_null())
    adm = (pl.col("action").is_in(GIVEN_ACTIONS)
           | ((pl.col("action") == "Delayed") & pl.col("dose").is_not_null())).fill_null(False)
    df = df.with_columns(adm.alias("administered"))
    # a dose dated after the run date (WB112) did not happen yet: its date is a typo
    df = df.with_columns(pl.when(pl.col("administered") & (pl.col("date") > ctx.today).fill_null(False))
                         .then(None).otherwise(pl.col("date")).alias("date"))
    # a dose dated before the subject's consent (WB209, critical): the date or the consent is
    # wrong, so the date is unknown here rather than the start of a cascade
    subj = ctx.sheet("Subjects")
    if subj is not None and subj.has("subject", "consent_date"):
        consent = (subj.frame.select("subject", valid_date(subj.frame, "consent_date").alias("_consent"))
                   .drop_nulls().unique("subject", keep="first"))
        df = df.join(consent, on="subject", how="left").with_columns(
            pl.when(pl.col("administered") & (pl.col("date") < pl.col("_consent")).fill_null(False))
            .then(None).otherwise(pl.col("date")).alias("date")).drop("_consent")
    # the same drug twice in one cycle or on one date (WB204): only the first counts
    a = df.filter(pl.col("administered")).sort("row")
    dup = pl.concat([
        a.filter(pl.col(k).is_not_null()).filter(~pl.struct("subject", "drug", k).is_first_distinct()).select("row")
        for k in ("cycle", "date")]).unique()
    return df.with_columns(pl.col("row").is_in(dup.get_column("row").implode()).alias("duplicate"))


def _with_weights(ctx, df: pl.DataFrame) -> pl.DataFrame:
    subj = ctx.sheet("Subjects")
    if subj is not None and subj.has("subject", "weight"):
        sw = (subj.frame.select("subject", in_range(subj, "weight").alias("subject_weight"))
              .unique("subject", keep="first"))
        df = df.join(sw, on="subject", how="left")
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias("subject_weight"))
    df = _latest_before(df, vitals_weights(ctx), "date", "wdate")
    return df.with_columns(
        pl.coalesce("cycles_weight", "vitals_weight", "subject_weight").alias("weight_used"),
        pl.when(pl.col("cycles_weight").is_not_null()).then(pl.lit("Cycles"))
        .when(pl.col("vitals_weight").is_not_null()).then(pl.lit("Vitals"))
        .when(pl.col("subject_weight").is_not_null()).then(pl.lit("Subjects")).alias("weight_source"),
        pl.col("vitals_weight").alias("weight_current"), pl.col("wdate").alias("weight_current_date"),
    ).drop("vitals_weight", "wdate")


def _with_doses(ctx, df: pl.DataFrame) -> pl.DataFrame:
    """The planned dose of each row (monitor.derive.plan: the subject's arm, the cycle's dose
    level), the dose in mg and the deviation from the plan (null for a placebo: nothing to
    deviate from; DOSE002 reports a placebo row with a dose above 0 on its own)."""
    from .plan import planned_doses

    w = pl.col("weight_used")
    unit = pl.col("unit")
    expected = (pl.when(unit == pl.col("protocol_unit")).then(pl.col("protocol_dose"))
                .when((pl.col("protocol_unit") == "mg/kg") & (unit == "mg")).then(pl.col("protocol_dose") * w)
                .when((pl.col("protocol_unit") == "mg") & (unit == "mg/kg")).then(pl.col("protocol_dose") / w))
    df = df.join(planned_doses(ctx, df), on="row", how="left").with_columns(pl.col("placebo").fill_null(False))
    return df.with_columns(
        pl.when(unit == "mg").then(pl.col("dose")).when(unit == "mg/kg").then(pl.col("dose") * w).alias("dose_mg"),
        pl.when(pl.col("protocol_unit") == "mg").then(pl.col("protocol_dose"))
        .otherwise(pl.col("protocol_dose") * w).alias("planned_dose_mg"),
        expected.alias("expected_dose"),
    ).with_columns(
        pl.when(pl.col("expected_dose") != 0)
        .then((pl.col("dose") - pl.col("expected_dose")) / pl.col("expected_dose") * 100).alias("dose_deviation_pct"),
        pl.when((pl.col("protocol_unit") == "mg/kg") & pl.col("cycles_weight").is_not_null())
        .then((pl.col("weight_current") - pl.col("cycles_weight")) / pl.col("cycles_weight") * 100)
        .alias("weight_change_pct"),
    )


def _with_intervals(ctx, df: pl.DataFrame) -> pl.DataFrame:
    cycle_days = ctx.profile.schedule.get("cycle_days")   # None: continuous dosing, no expected interval
    keys = ["subject", "drug"]
    a = (df.filter(pl.col("administered") & ~pl.col("duplicate") & pl.col("date").is_not_null())
         .sort(["subject", "drug", "date", "row"])
         .select("row", *keys, "date", "cycle")
         .with_columns(pl.col("date").shift(1).over(keys).alias("previous_date"),
                       pl.col("cycle").shift(1).over(keys).alias("previous_cycle"))
         .with_columns((pl.col("date") - pl.col("previous_date")).dt.total_days().alias("interval_days"),
                       pl.when((pl.col("cycle") > pl.col("previous_cycle")) & pl.lit(cycle_days is not None))
                       .then((pl.col("cycle") - pl.col("previous_cycle")) * (cycle_days or 0))
                       .alias("expected_interval_days"))
         .select("row", "previous_date", "previous_cycle", "interval_days", "expected_interval_days"))
    delayed = (df.filter((pl.col("action") == "Delayed") & pl.col("reason").is_not_null()
                         & pl.col("cycle").is_not_null())
               .select("subject", "drug", "cycle").unique().with_columns(pl.lit(True).alias("delay_recorded")))
    return (df.join(a, on="row", how="left")
            .join(delayed, on=["subject", "drug", "cycle"], how="left")
            .with_columns(pl.col("delay_recorded").fill_null(False)))


def _lab_days(ctx) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(subject, lab_date) of every Labs row with a result entered (a number, a dipstick reading,
    even an unreadable one: not blank and not ND), and the subjects with a lab date that cannot
    be right: unreadable, ambiguous or implausible (WB102-WB106), or after the run date (WB112)."""
    sd = ctx.sheet("Labs")
    if sd is None or not sd.has("subject", "date", "result"):
        e = _empty({"subject": pl.String, "lab_date": pl.Date})
        return e, _empty({"subject": pl.String})
    f = sd.frame
    # a number, or text that is not a missing marker (a dipstick reading, or unreadable: LAB004);
    # blank and ND / not done leave both the value and the error empty
    err = pl.col("result__err").is_not_null() if "result__err" in f.columns else pl.lit(False)
    entered = pl.col("result").is_not_null() | err
    days = (f.filter(entered).select(pl.col("subject"), valid_date(f, "date").alias("lab_date"))
            .drop_nulls().unique().sort("lab_date"))
    unknown = (f.filter((valid_date(f, "date").is_null() & pl.col("date__raw").is_not_null())
                        | (pl.col("date") > ctx.today).fill_null(False))
               .select("subject").drop_nulls().unique())
    return days, unknown


def _with_predose_labs(ctx, df: pl.DataFrame) -> pl.DataFrame:
    days, unknown = _lab_days(ctx)
    df = _latest_before(df, days, "date", "lab_date").rename({"lab_date": "last_lab_date"})
    return df.with_columns(
        (pl.col("date") - pl.col("last_lab_date")).dt.total_days().alias("days_since_lab"),
        pl.col("subject").is_in(unknown.get_column("subject").implode()).alias("lab_dates_unknown"),
        pl.col("subject").is_in(days.get_column("subject").unique().implode()).alias("has_labs"))


def build_administrations(ctx) -> pl.DataFrame:
    df = _base(ctx)             # an empty sheet goes through too: every column exists
    df = _with_weights(ctx, df)
    df = _with_doses(ctx, df)
    df = _with_intervals(ctx, df)
    df = _with_predose_labs(ctx, df)
    df = df.join(holds(ctx, df), on="row", how="left")
    return df.sort("row")


def administrations(ctx) -> pl.DataFrame:
    """Every Cycles row of a profile drug with its derived dosing facts (cached per check)."""
    return cached(ctx, "administrations", build_administrations)


# ------------------------------------------------------------------------------ hold rules

def describe_rule(h: dict, units: dict | None = None) -> str:
    """A hold rule in words, from its data: 'hold QL1604 for ALT or AST grade >= 2, or AE ...'.
    `units`: lab code -> SI unit, shown after a minimum value."""
    w = h["when"]
    parts = []
    if "lab" in w:
        labs = " or ".join(w["lab"])
        unit = (units or {}).get(w["lab"][0], "")
        parts.append(f"{labs} >= {w['min_value']:g} {unit}".rstrip() if "min_value" in w
                     else f"{labs} grade >= {w['min_grade']}")
    if "ae_terms" in w:
        terms = w["ae_terms"]
        shown = " / ".join(terms[:3]) + (f" (+{len(terms) - 3} terms)" if len(terms) > 3 else "")
        irae = "immune-related " if w.get("immune_related") else ""
        parts.append(f"{irae}AE {shown} grade >= {w['min_grade']}")
    verb = "hold" if h["action"] == "hold" else "permanently discontinue"
    return f"{verb} {h['drug']} for " + ", or ".join(parts)


def _ae_episodes(ctx) -> pl.DataFrame:
    """One row per AE matching a hold rule: rule, subject, start (latest possible onset day),
    stop (earliest possible end day; null = ongoing; unknown ends are dropped for holds), text."""
    schema = {"rule": pl.Int64, "subject": pl.String, "start": pl.Date, "stop": pl.Date, "open": pl.Boolean,
              "evidence": pl.String}
    sd = ctx.sheet("AdverseEvents")
    if sd is None or not sd.has("subject", "term", "grade", "onset"):
        return _empty(schema)
    rows = []
    for i, h in enumerate(ctx.profile.hold_rules):
        w = h["when"]
        for t in w.get("ae_terms", ()):
            rows.append((i, norm_term(t), int(w["min_grade"]), bool(w.get("immune_related", False))))
    if not rows:
        return _empty(schema)
    rules = pl.DataFrame(rows, schema={"rule": pl.Int64, "term_norm": pl.String, "min_grade": pl.Int64,
                                       "immune_only": pl.Boolean}, orient="row")
    f = sd.frame
    ongoing = opt(f, "ongoing", pl.Boolean)
    immune = opt(f, "immune", pl.Boolean)
    end_lo = pl.col("end__lo") if "end__lo" in f.columns else pl.lit(None, dtype=pl.Date)
    aes = f.select(
        pl.col("subject"), pl.col("term").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
        .alias("term_norm"), pl.col("grade").cast(pl.Int64).alias("grade"),
        pl.col("onset__hi").alias("start"), end_lo.alias("stop"),
        (end_lo.is_null() & ongoing.fill_null(True)).alias("open"), immune.fill_null(False).alias("immune"),
        pl.col("_row").alias("ae_row"), pl.col("term").alias("term"),
    ).filter(pl.col("subject").is_not_null() & pl.col("start").is_not_null() & pl.col("grade").is_not_null())
    j = aes.join(rules, on="term_norm").filter(
        (pl.col("grade") >= pl.col("min_grade")) & (pl.col("immune") | ~pl.col("immune_only")))
    return j.select(
        "rule", "subject", "start", "stop", "open",
        (pl.lit("AE ") + pl.col("term") + pl.lit(" grade ") + pl.col("grade").cast(pl.String)
         + pl.when(pl.col("immune")).then(pl.lit(", immune-related")).otherwise(pl.lit(""))
         + pl.lit(" from ") + pl.col("start").cast(pl.String) + pl.lit(" (AdverseEvents row ")
         + pl.col("ae_row").cast(pl.String) + pl.lit(")")).alias("evidence"))


def _lab_rules(ctx) -> pl.DataFrame:
    rows = []
    for i, h in enumerate(ctx.profile.hold_rules):
        w = h["when"]
        for t in w.get("lab", ()):
            rows.append((i, t, w.get("min_grade"), float(w["min_value"]) if "min_value" in w else None))
    return pl.DataFrame(rows, schema={"rule": pl.Int64, "test": pl.String, "min_grade": pl.Int64,
                                      "min_value": pl.Float64}, orient="row")


def _lab_results(ctx, tests: list) -> pl.DataFrame:
    """subject, test, lab_date, grade, value_si, unit_si: the worst result per subject, test and day
    (a null grade or value = cannot tell, never 'normal')."""
    labs = ctx.labs
    schema = {"subject": pl.String, "test": pl.String, "lab_date": pl.Date, "grade": pl.Int64,
              "value_si": pl.Float64, "unit_si": pl.String}
    if not labs.height or "ctcae_grade" not in labs.columns or not tests:
        return _empty(schema)
    return (labs.filter(pl.col("test").is_in(tests) & pl.col("date").is_not_null() & pl.col("subject").is_not_null())
            .group_by("subject", "test", "date")
            .agg(pl.col("ctcae_grade").cast(pl.Int64).max().alias("grade"), pl.col("value_si").max(),
                 pl.col("unit_si").first())
            .rename({"date": "lab_date"}).sort("lab_date"))


def _lab_met(lab: pl.DataFrame) -> pl.Expr:
    by_grade = pl.col("grade") >= pl.col("min_grade")
    by_value = pl.col("value_si") >= pl.col("min_value") * (1 - REL_TOL)
    return (pl.when(pl.col("min_value").is_not_null()).then(by_value).otherwise(by_grade)).fill_null(False)


def _lab_evidence() -> pl.Expr:
    what = (pl.when(pl.col("min_value").is_not_null())
            .then(fmt_num(pl.col("value_si"), 2) + pl.lit(" ") + pl.col("unit_si").fill_null(""))
            .otherwise(pl.lit("CTCAE grade ") + pl.col("grade").cast(pl.String)))
    return pl.col("test") + pl.lit(" ") + what + pl.lit(" on ") + pl.col("lab_date").cast(pl.String)


def holds(ctx, adm: pl.DataFrame) -> pl.DataFrame:
    """Per administration row: the first active *hold* rule (hold_rule, hold_evidence) and the
    earliest permanent discontinuation before the dose (discontinued_since, discontinued_evidence:
    a discontinue rule met, or a Discontinued row of the drug in Cycles).

    A hold is active on dose date D when the latest result on or before D of one of the rule's
    labs meets it (grade >= min_grade, or value >= min_value in the SI unit), or when an AE of one
    of its terms (grade >= min_grade, immune-related if asked) started before D (latest possible
    onset day) and had not ended by D (earliest possible end day; open while ongoing).
    A discontinue rule applies from the day after it was first met (lab date or AE onset).
    """
    out_schema = {"row": pl.Int64, "hold_rule": pl.Int64, "hold_rule_text": pl.String, "hold_source": pl.String,
                  "hold_evidence": pl.String, "discontinued_since": pl.Date, "discontinued_rule_text": pl.String,
                  "discontinued_source": pl.String, "discontinued_evidence": pl.String}
    rules = ctx.profile.hold_rules
    units = {code: t.si_unit for code, t in ctx.catalogue.tests.items()}
    a = adm.filter(pl.col("administered") & pl.col("date").is_not_null()).select("row", "subject", "drug", "date")
    if a.height == 0:
        return _empty(out_schema)
    meta = pl.DataFrame({"rule": list(range(len(rules))), "rule_drug": [h["drug"] for h in rules],
                         "rule_action": [h["action"] for h in rules],
                         "rule_text": [describe_rule(h, units) for h in rules],
                         "rule_source": [h["source"] for h in rules]},
                        schema={"rule": pl.Int64, "rule_drug": pl.String, "rule_action": pl.String,
                                "rule_text": pl.String, "rule_source": pl.String})
    cand = []   # (row, rule, evidence, since) for every condition met
    # lab conditions: the latest result on or before the dose
    lr = _lab_rules(ctx)
    if lr.height:
        lab = _lab_results(ctx, lr.get_column("test").unique().to_list())
        per = (a.join(meta.select("rule", pl.col("rule_drug").alias("drug")), on="drug")
               .join(lr, on="rule"))
        if lab.height and per.height:
            latest = _latest_before(per, lab, "date", "lab_date", by=["subject", "test"])
            latest = latest.join(meta.select("rule", "rule_action"), on="rule")
            held = latest.filter((pl.col("rule_action") == "hold") & _lab_met(latest))
            cand.append(held.select("row", "rule", _lab_evidence().alias("evidence"),
                                    pl.col("lab_date").alias("since")))
            # discontinue: the first result that met it, before the dose
            first = (lab.join(lr.join(meta.filter(pl.col("rule_action") == "discontinue").select("rule"), on="rule"),
                              on="test")
                     .filter(_lab_met(lab)).sort("lab_date")
                     .group_by("subject", "rule", maintain_order=True).first())
            if first.height:
                d = (per.select("row", "subject", "rule", "date").unique()
                     .join(first, on=["subject", "rule"]).filter(pl.col("lab_date") < pl.col("date")))
                cand.append(d.select("row", "rule", _lab_evidence().alias("evidence"),
                                     pl.col("lab_date").alias("since")))
    # AE conditions
    ep = _ae_episodes(ctx)
    if ep.height:
        j = (a.join(meta.select("rule", pl.col("rule_drug").alias("drug"), "rule_action"), on="drug")
             .join(ep, on=["rule", "subject"])
             .filter(pl.col("start") < pl.col("date")))
        active = (pl.col("rule_action") == "discontinue") | pl.col("open") | (pl.col("stop") > pl.col("date"))
        cand.append(j.filter(active).select("row", "rule", "evidence", pl.col("start").alias("since")))
    # a Discontinued row of the drug in Cycles: no dose of that drug afterwards
    disc = adm.filter((pl.col("action") == "Discontinued") & pl.col("date").is_not_null()).select(
        "subject", "drug", pl.col("date").alias("since"), pl.col("row").alias("disc_row"))
    cyc = (a.join(disc, on=["subject", "drug"]).filter(pl.col("since") < pl.col("date"))
           .select("row", pl.lit(-1, dtype=pl.Int64).alias("rule"),
                   (pl.lit("Action Discontinued on ") + pl.col("since").cast(pl.String) + pl.lit(" (Cycles row ")
                    + pl.col("disc_row").cast(pl.String) + pl.lit(")")).alias("evidence"), "since"))
    cand.append(cyc)
    c = pl.concat([x.select("row", "rule", "evidence", "since") for x in cand])
    meta_c = pl.concat([meta, pl.DataFrame({"rule": [-1], "rule_drug": [None], "rule_action": ["discontinue"],
                                            "rule_text": [None], "rule_source": [None]}, schema=meta.schema)])
    c = c.join(meta_c, on="rule")
    hold = (c.filter(pl.col("rule_action") == "hold").sort(["row", "rule", "since"], descending=[False, False, True])
            .group_by("row", maintain_order=True).first()
            .select("row", pl.col("rule").alias("hold_rule"), pl.col("rule_text").alias("hold_rule_text"),
                    pl.col("rule_source").alias("hold_source"), pl.col("evidence").alias("hold_evidence")))
    stop = (c.filter(pl.col("rule_action") == "discontinue").sort(["row", "since", "rule"])
            .group_by("row", maintain_order=True).first()
            .select("row", pl.col("since").alias("discontinued_since"),
                    pl.col("rule_text").alias("discontinued_rule_text"),
                    pl.col("rule_source").alias("discontinued_source"),
                    pl.col("evidence").alias("discontinued_evidence")))
    return hold.join(stop, on="row", how="full", coalesce=True).select(list(out_schema))


def exposure(ctx) -> pl.DataFrame:
    """One row per subject and drug: cycles received, dose intensity ... (monitor.derive.intensity)."""
    from .intensity import exposure as _exposure

    return _exposure(ctx)


def dosing_table(ctx) -> pl.DataFrame:
    """The `dosing` export (monitor.derive.intensity)."""
    from .intensity import dosing_table as _dosing_table

    return _dosing_table(ctx)
