"""Lab record rules (LAB0xx): tests, units, results and normal ranges as entered.

CTCAE grading of the values (issue: CTCAE engine) builds on the codes and units these
rules vouch for.
"""

from __future__ import annotations

import functools

import polars as pl

from ..derive.exposure import cached
from ..labs.catalogue import MAX_DISTINCT_UNITS, norm_test_expr, pair_key
from .base import emit, quoted, rows_where, sheet_join


def _labs(ctx):
    return ctx.sheet("Labs"), ctx.lab_rows


def lab_test_unknown(ctx):
    """A Labs test the monitor does not know by code, name or alias (one finding per test).

    *What it does*: matches Test against the lab catalogue (CDISC SDTM LBTESTCD codes such as
    BUN, LBTEST names such as Blood Urea Nitrogen or Platelet, and aliases such as SGPT),
    ignoring case and punctuation. Each unknown test is one finding at its first cell, naming
    how many rows it has and where, with the closest known tests ("did you mean") when there are.
    *Why it matters*: an unknown test is kept, exported and shown, but neither unit-checked nor
    CTCAE-graded; the monitor should know which results it cannot judge, once per test, not
    once per row (a study-specific test such as a biomarker is not an error).
    *Example*: `Hematocrite` on 12 rows -> one finding at Labs!C5: did you mean HCT (Hematocrit)?
    """
    sd, df = _labs(ctx)
    bad = rows_where(sd, df, pl.col("test").is_not_null() & pl.col("test_code").is_null(), "test", "test__raw")
    if not bad.height:
        return None
    letter = sd.letter("test") or ""
    groups = (bad.sort("_row").with_columns(norm_test_expr(pl.col("test")).alias("_tn"))
              .group_by("_tn", maintain_order=True)
              .agg(pl.all().first(), pl.len().alias("_n"), pl.col("_row").head(3).alias("_rows")))
    where, sugg = [], []
    for n, rows, test in groups.select("_n", "_rows", "test").iter_rows():   # one per distinct test
        cells = ", ".join(f"{sd.name}!{letter}{r}" if i == 0 else f"{letter}{r}" for i, r in enumerate(rows))
        more = f" and {n - len(rows)} more" if n > len(rows) else ""
        where.append(f"{n} row{'s' if n > 1 else ''} ({cells}{more})")
        close = ctx.catalogue.suggest(test)
        sugg.append(f"Did you mean {' or '.join(close)}?" if close else
                    "Use a CDISC LBTESTCD code or LBTEST name (see monitor template) if it is a routine test; "
                    "otherwise its results are listed but not graded.")
    groups = groups.with_columns(pl.Series("_where", where, dtype=pl.String), pl.Series("_sugg", sugg, dtype=pl.String))
    return emit(sd, groups, "test", pl.lit("Test ") + quoted(pl.col("test__raw"))
                + pl.lit(" is not in the lab catalogue: ") + pl.col("_where")
                + pl.lit(", kept and exported but not unit-checked or CTCAE-graded."),
                suggestion=pl.col("_sugg"), key=pl.col("_tn"))


def lab_unit_unknown(ctx):
    """A result's unit is not one the monitor knows for that test.

    *What it does*: parses the unit (pint; lab spellings such as `K/uL`, `10*3/uL`, `cells/mm3`,
    `mg/24 hr`, `MEQ/L` are read) and checks that it converts to the test's SI unit, directly or
    through the analyte's molar mass or valence (BILI: umol/L or mg/dL; AFP: ng/mL or IU/mL);
    suggests the closest accepted unit (`UL` for ALT: did you mean U/L?).
    *Why it matters*: grading converts units with analyte-specific factors; an unknown unit
    would give a silently wrong grade, so the value is not graded instead.
    *Example*: ALT in `mg/dL`.
    """
    sd, df = _labs(ctx)
    bad = df.filter(pl.col("test_code").is_not_null() & pl.col("unit").is_not_null() & pl.col("unit_factor").is_null())
    if not bad.height:
        return None
    units = {code: ", ".join(t.accepted) for code, t in ctx.catalogue.tests.items()}
    pairs = (bad.group_by("test_code", pl.col("unit").cast(pl.String)).len()
             .sort("len", "test_code", "unit", descending=[True, False, False]).head(MAX_DISTINCT_UNITS))
    pairs = pairs.select("test_code", "unit")        # the most frequent spellings get a hint
    hint = {pair_key(c, u): s for c, u in pairs.iter_rows()
            if (s := ctx.catalogue.suggest_unit(c, u)) is not None}
    key = pl.concat_str([pl.col("test_code"), pl.col("unit").cast(pl.String)], separator="\x1f")
    return emit(sd, bad, "unit", pl.lit("Unit ") + quoted(pl.col("unit__raw")) + pl.lit(" is not a unit for ")
                + pl.col("test_code") + pl.lit(" (accepted: ")
                + pl.col("test_code").replace_strict(units, default="").fill_null("") + pl.lit(", or any "
                "spelling of their dimension)."),
                suggestion=pl.lit("Did you mean ") + key.replace_strict(hint, default=None, return_dtype=pl.String)
                + pl.lit("?"))


def lab_unit_missing(ctx):
    """A numeric result has no unit, and the test needs one.

    *What it does*: requires Unit for every numeric result of a test whose values carry a unit
    (INR, pH and dipstick results need none).
    *Why it matters*: bilirubin 1.5 is normal in mg/dL-free umol/L terms and grade 2 in mg/dL;
    without a unit no grade can be given.
    *Example*: BILI `25`, Unit blank.
    """
    sd, df = _labs(ctx)
    unitless = [code for code, t in ctx.catalogue.tests.items() if t.unitless_ok]
    bad = df.filter(pl.col("result").is_not_null() & pl.col("unit").is_null()
                    & pl.col("test_code").is_not_null() & ~pl.col("test_code").is_in(unitless))
    return emit(sd, bad, "unit", pl.lit("Unit is blank for ") + pl.col("test_code") + pl.lit(" result ")
                + quoted(pl.col("result__raw")) + pl.lit("."))


def lab_result_unreadable(ctx):
    """A result is not a number, a qualified number, a missing marker or (for dipstick tests)
    one of the test's categorical results.

    *What it does*: accepts `12.5`, `<0.5`, `ND`; for urine protein dipstick `Neg`, `Trace`,
    `1+` .. `4+`.
    *Why it matters*: an unread result cannot be graded and must never count as zero.
    *Example*: `1.2.3` or `positive` as an ALT result.
    """
    from .cells import number_suggestion

    sd, df = _labs(ctx)
    cat_ok = pl.lit(False)
    for code, vals in ctx.catalogue.result_sets().items():
        cat_ok = cat_ok | ((pl.col("test_code") == code) & pl.col("_norm").is_in(vals))
    # the categorical test on the unreadable rows only (few), not on every result; the result
    # text is normalised once, not once per categorical test
    bad = rows_where(sd, df, pl.col("result__err").is_not_null(), "test_code", "result__raw")
    texts = bad.select(pl.col("result__raw").unique()).with_columns(
        pl.col("result__raw").str.to_lowercase().str.replace_all(r"[^0-9a-z+]+", "").alias("_norm"))
    bad = bad.with_columns(pl.col("result__raw").replace_strict(
        texts.get_column("result__raw"), texts.get_column("_norm"), default=None, return_dtype=pl.String)
        .alias("_norm")).filter(~cat_ok.fill_null(False))
    return emit(sd, bad, "result", pl.lit("Result ") + quoted(pl.col("result__raw"))
                + pl.lit(" is not a number (or a result the test allows)."),
                suggestion=number_suggestion(pl.col("result__raw"), unit_column=True))


def _maybe_repeated(df: pl.DataFrame, keys: list) -> pl.Expr:
    """True on every row whose `keys` another row repeats (and, rarely, on a row whose keys only
    share a 64-bit hash with another's: a group of one, which the windows below number 1, so it
    is never reported). Sorting the hashes finds the repeats 2.5x faster than
    `pl.struct(keys).is_duplicated()` on a 600,000-row sheet."""
    h = functools.reduce(lambda acc, k: acc * 31 + pl.col(k).hash(7), keys[1:], pl.col(keys[0]).hash(7))
    hs = df.select(h.alias("h")).sort("h")
    same = (pl.col("h") == pl.col("h").shift(1)) | (pl.col("h") == pl.col("h").shift(-1))
    return h.is_in(hs.filter(same).get_column("h").implode())


def _dupes(df: pl.DataFrame) -> pl.DataFrame:
    keys = ["subject", "date", "test_code"]
    # the columns LAB005 / LAB006 read, then one filter (a row with a null key is never a
    # duplicate of a complete one)
    df = df.select(*keys, "_row", "result__raw", "subject__raw", "date__raw").filter(
        pl.all_horizontal([pl.col(k).is_not_null() for k in keys]) & _maybe_repeated(df, keys))
    return df.with_columns(
        pl.col("_row").rank("ordinal").over(keys).alias("_n"),
        pl.col("_row").min().over(keys).alias("_first"),
        pl.col("result__raw").n_unique().over(keys).alias("_values"),
        pl.col("result__raw").first().over(keys, order_by="_row").alias("_first_value"))


def lab_result_duplicated(ctx):
    """The same result (subject, date, test, value) is entered more than once.

    *What it does*: reports every repeat of a result already entered with the same value.
    *Why it matters*: duplicates inflate counts of abnormal values and can trigger a second
    grade-3 flag for one draw.
    *Example*: ALT 88 for subject 002 on 2022-09-01 on rows 40 and 41.
    """
    sd, df = _labs(ctx)
    d = cached(ctx, "lab_dupes", lambda c: _dupes(df))   # LAB005 and LAB006 share it
    bad = d.filter((pl.col("_n") > 1) & (pl.col("result__raw") == pl.col("_first_value")))
    return emit(sd, bad, "result", pl.col("test_code") + pl.lit(" ") + quoted(pl.col("result__raw"))
                + pl.lit(" on this date is already on row ") + pl.col("_first").cast(pl.String) + pl.lit("."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("date__raw"), pl.col("test_code"),
                                   pl.col("_n").cast(pl.String)], separator="|"))


def lab_result_conflicting(ctx):
    """One subject has two different results for the same test on the same date.

    *What it does*: reports every result that differs from the first one entered for that
    subject, test and date.
    *Why it matters*: one of them is wrong (or a repeat draw without a time); the grade
    depends on which is right, so a monitor must query it.
    *Example*: PLAT 45 and PLAT 145 for subject 004 on 2023-01-10.
    """
    sd, df = _labs(ctx)
    d = cached(ctx, "lab_dupes", lambda c: _dupes(df))   # LAB005 and LAB006 share it
    bad = d.filter((pl.col("_n") > 1) & (pl.col("result__raw") != pl.col("_first_value")))
    return emit(sd, bad, "result", pl.col("test_code") + pl.lit(" ") + quoted(pl.col("result__raw"))
                + pl.lit(" differs from ") + quoted(pl.col("_first_value")) + pl.lit(" entered on row ")
                + pl.col("_first").cast(pl.String) + pl.lit(" for the same date."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("date__raw"), pl.col("test_code"),
                                   pl.col("_n").cast(pl.String)], separator="|"))


def lab_range_inverted(ctx):
    """The lower limit of normal is above the upper limit.

    *What it does*: compares LLN and ULN on each row.
    *Why it matters*: CTCAE grades are multiples of ULN or start below LLN; swapped limits
    give wrong grades for every result of the row.
    *Example*: LLN 40, ULN 7 for ALT.
    """
    sd, df = _labs(ctx)
    bad = df.filter(pl.col("lln") > pl.col("uln"))
    return emit(sd, bad, "lln", pl.lit("LLN ") + quoted(pl.col("lln__raw")) + pl.lit(" is above ULN ")
                + quoted(pl.col("uln__raw")) + pl.lit("; swapped?"))


def lab_normal_limit_missing(ctx):
    """A result of a test that CTCAE grades against the normal range has no ULN (or LLN).

    *What it does*: requires ULN for tests the CTCAE v5.0 criteria grade in multiples of ULN or
    from ULN (ALT, AST, ALP, GGT, bilirubin, creatinine, amylase, lipase, CK, ...) and LLN for
    tests whose grade 1 starts below LLN (haemoglobin, platelets, neutrophils, albumin, ...); the
    list comes from the criteria file (`Criteria.needs`).
    *Why it matters*: CTCAE v5.0 defines these grades relative to the site's normal range;
    without it the result cannot be graded (cannot-grade, never grade 0).
    *Example*: ALT 250 U/L with the ULN cell blank.
    """
    from ..ctcae.criteria import load_criteria

    crit = load_criteria()
    sd, df = _labs(ctx)
    out = []
    for side in ("uln", "lln"):
        codes = [c for c in ctx.catalogue.tests if side in crit.needs(c)]
        cond = pl.col("result").is_not_null() & pl.col("test_code").is_in(codes)
        if side in sd.columns:
            cond = cond & pl.col(side).is_null() & pl.col(f"{side}__err").is_null()
        bad = df.filter(cond)
        if bad.height:
            field = side if side in sd.columns else "result"
            out.append(emit(sd, bad, field, pl.lit(f"{side.upper()} is blank for ") + pl.col("test_code")
                            + pl.lit(f"; CTCAE v5.0 grades this test against the {side.upper()}."),
                            key=pl.concat_str([pl.col("subject__raw"), pl.col("date__raw"), pl.col("test__raw"),
                                               pl.lit(side)], separator="|")))
    return pl.concat(out) if out else None


def lab_result_implausible(ctx):
    """A result lies outside the physiological limits of its test, once converted to SI.

    *What it does*: compares each result (in the test's SI unit) with the plausibility range of
    the lab catalogue (`plausible`, each with its source) and suggests the unit in which the
    number would be plausible. The result is not graded.
    *Why it matters*: a value beyond physiology is a unit or typing error; graded as entered it
    would be a false grade 4 or hide a real one (hemoglobin `128 g/dL` meant 128 g/L: graded
    as 1280 g/L it is "normal" for anaemia and absurd for everything else).
    *Example*: HGB `128` with Unit `g/dL`: "128 g/dL is not a plausible hemoglobin; did you
    mean g/L?".
    """
    sd = ctx.sheet("Labs")
    labs = ctx.labs
    if not labs.height or "plausible" not in labs.columns:
        return None
    bad = labs.filter(~pl.col("plausible"))
    if not bad.height:
        return None
    cat = ctx.catalogue
    bad = bad.with_columns(pl.concat_str([pl.col("test"), pl.col("unit").cast(pl.String).fill_null(""),
                                          pl.col("value").cast(pl.String)], separator="\x1f").alias("_k"))
    hints = {}
    distinct = bad.select("_k", "test", "value").unique().sort("_k").head(MAX_DISTINCT_UNITS)
    for k, code, value in distinct.iter_rows():      # few rows; a hostile sheet is capped
        t = cat.tests.get(code)
        lo, hi = t.plausible
        fits = [u for u in t.accepted if (f := cat.to_si(code, u)) is not None
                and (lo is None or value * f >= lo) and (hi is None or value * f <= hi)]
        if fits:
            hints[k] = fits[0]
    rng = {c: f"{t.plausible[0]:g} - {t.plausible[1]:g} {t.si_unit}" for c, t in cat.tests.items() if t.plausible
           and None not in t.plausible}
    names = {c: t.name.lower() for c, t in cat.tests.items()}
    df = sheet_join(sd, bad.select(pl.col("row").alias("_row"), "_k", pl.col("test").alias("_code")))
    return emit(sd, df, "result",
                pl.col("result__raw").str.slice(0, 30) + pl.lit(" ") + pl.col("unit__raw").fill_null("").str.slice(0, 30)
                + pl.lit(" is not a plausible ") + pl.col("_code").replace_strict(names, default="result")
                + pl.lit(" (physiological range ") + pl.col("_code").replace_strict(rng, default="?")
                + pl.lit("); it is not graded."),
                suggestion=pl.coalesce(
                    pl.lit("Did you mean ") + pl.col("_k").replace_strict(hints, default=None, return_dtype=pl.String)
                    + pl.lit("? Otherwise check the number."),
                    pl.lit("Check the number and its unit.")))
