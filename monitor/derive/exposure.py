"""Dosing facts per administration and exposure per subject and drug (issue 4, DOSE rules).

    administrations(ctx)  one row per Cycles row of a profile drug (aliases resolved): the dose in
                          mg, the dose the protocol expects, the weight used and the current
                          weight, the interval since the previous administration, the latest
                          pre-dose lab, and the hold / permanent-discontinuation state (derive/holds.py).
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

import threading

import polars as pl

from ..frames import STREAMING_ROWS


GIVEN_ACTIONS = ("Given", "Reduced")
REL_TOL = 1e-9   # comparisons at a threshold are not moved by floating-point noise


# ------------------------------------------------------------------------------ small helpers

def cached(ctx, name: str, build):
    """Build a derived table once per check and keep it on the Context. Two threads of one check
    (check.run_rules runs some rules beside the others) that want the same table build it once:
    the second waits for the first (a lock per table, taken only when it is not built yet)."""
    attr = f"_derived_{name}"
    df = getattr(ctx, attr, None)
    if df is None:
        with _table_lock(ctx, attr):
            df = getattr(ctx, attr, None)
            if df is None:
                df = build(ctx)
                setattr(ctx, attr, df)
    return df


_LOCKS_GUARD = threading.Lock()


def _table_lock(ctx, attr: str) -> threading.RLock:
    with _LOCKS_GUARD:
        locks = ctx.__dict__.setdefault("_table_locks", {})
        return locks.setdefault(attr, threading.RLock())


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


def cycles_drug(ctx) -> pl.Expr:
    """_canonical_drugs of the Cycles sheet, worked out once per check (three rules read it)."""
    return cached(ctx, "cycles_drug", lambda c: _canonical_drugs(c.sheet("Cycles").frame, c.profile))


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
    nulls = left.get_column(on_left).null_count()   # usually none: no filters, no concat below
    known = (left.filter(pl.col(on_left).is_not_null()) if nulls else left).sort(on_left)
    if right.height == 0 or known.height == 0:
        extra = [pl.lit(None, dtype=t).alias(c) for c, t in right.schema.items() if c not in by]
        return left.with_columns(extra)
    j = known.join_asof(right.rename({on_right: "__on"}), left_on=on_left, right_on="__on", by=by,
                        strategy="backward", check_sortedness=False)
    j = j.select(pl.exclude("__on"), pl.col("__on").alias(on_right))   # one step: the column last
    if not nulls:
        return j
    unknown = left.filter(pl.col(on_left).is_null())
    extra = [pl.lit(None, dtype=j.schema[c]).alias(c) for c in j.columns if c not in left.columns]
    return pl.concat([j, unknown.with_columns(extra).select(j.columns)])


def join_in_order(left: pl.DataFrame, right: pl.DataFrame, on, n_left: int, n_right: int) -> pl.DataFrame:
    """left.join(right, on) (inner), in the row order polars gives that join unasked for inputs of
    n_left and n_right rows: the larger input's order first (left, then right, when n_left >
    n_right; else right, then left). Given the unfiltered inputs' row counts, a join of filtered
    inputs (fewer rows to join) is exactly the unfiltered join's rows that pass the filters, in
    the same order: what follows (first-of-group, sorts with ties) sees the same frame."""
    return left.join(right, on=on, maintain_order="left_right" if n_left > n_right else "right_left")


def join_rows(left: pl.DataFrame, right: pl.DataFrame, on) -> int:
    """The row count of left.join(right, on) (inner), from the key counts, without the join."""
    on = [on] if isinstance(on, str) else on
    n = left.group_by(on).len().join(right.group_by(on).len(), on=on)
    return int(n.select((pl.col("len") * pl.col("len_right")).sum()).item() or 0)


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
        cycles_drug(ctx).alias("drug"), pl.col("drug").alias("drug_as_entered"),
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
    bad_date = ((valid_date(f, "date").is_null() & pl.col("date__raw").is_not_null())
                | (pl.col("date") > ctx.today).fill_null(False))
    # two lazy queries over the sheet, each filtered then cut to its distinct pairs: on a whole
    # study's 600,000 rows the streaming engine holds no 600,000-row intermediate (the eager
    # select and filters held ~10 MiB at the rules' peak) and is faster (~9 ms against ~14)
    lf = f.lazy()
    days, unknown = pl.collect_all(
        [lf.filter(entered).select(pl.col("subject"), valid_date(f, "date").alias("lab_date")).drop_nulls().unique(),
         lf.filter(bad_date).select("subject").drop_nulls().unique()],
        engine="in-memory" if f.height < STREAMING_ROWS else "streaming",
        optimizations=pl.QueryOptFlags(comm_subplan_elim=False))   # (a shared scan would be cached whole)
    return days.sort("lab_date"), unknown


def _with_predose_labs(ctx, df: pl.DataFrame) -> pl.DataFrame:
    days, unknown = _lab_days(ctx)
    df = _latest_before(df, days, "date", "lab_date").rename({"lab_date": "last_lab_date"})
    return df.with_columns(
        (pl.col("date") - pl.col("last_lab_date")).dt.total_days().alias("days_since_lab"),
        pl.col("subject").is_in(unknown.get_column("subject").implode()).alias("lab_dates_unknown"),
        pl.col("subject").is_in(days.get_column("subject").unique().implode()).alias("has_labs"))


def _build_admin_base(ctx) -> pl.DataFrame:
    df = _base(ctx)             # an empty sheet goes through too: every column exists
    df = _with_weights(ctx, df)
    df = _with_doses(ctx, df)
    df = _with_intervals(ctx, df)
    return _with_predose_labs(ctx, df)


def admin_base(ctx) -> pl.DataFrame:
    """The administrations before their holds: every column that reads no lab table (the Cycles,
    Subjects, Vitals and Labs sheets and the profile only). Read only by build_administrations,
    which lets it go."""
    return cached(ctx, "admin_base", _build_admin_base)


def prebuild_admin_base(ctx) -> None:
    """Build admin_base now, unless the administrations have taken it already (registry.BESIDE_WARM:
    a large check's side thread builds it while the main thread builds the lab tables, ~0.08 s
    of a 600,000-result study's ~0.18 s administrations off the main thread)."""
    with _table_lock(ctx, "_derived_admin_base"):
        if not getattr(ctx, "_admin_base_taken", False):
            admin_base(ctx)


def build_administrations(ctx) -> pl.DataFrame:
    with _table_lock(ctx, "_derived_admin_base"):   # (a side thread building it: wait for it here)
        df = admin_base(ctx)
        ctx._admin_base_taken = True
        ctx._derived_admin_base = None   # read only here: let go (a prebuild after this builds nothing)
    from .holds import holds   # the hold rules live in derive/holds.py (they import helpers from here)

    df = df.join(holds(ctx, df), on="row", how="left")
    return df.sort("row")


def administrations(ctx) -> pl.DataFrame:
    """Every Cycles row of a profile drug with its derived dosing facts (cached per check)."""
    return cached(ctx, "administrations", build_administrations)


def exposure(ctx) -> pl.DataFrame:
    """One row per subject and drug: cycles received, dose intensity ... (monitor.derive.intensity)."""
    from .intensity import exposure as _exposure

    return _exposure(ctx)


def dosing_table(ctx) -> pl.DataFrame:
    """The `dosing` export (monitor.derive.intensity)."""
    from .intensity import dosing_table as _dosing_table

    return _dosing_table(ctx)
