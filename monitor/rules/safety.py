"""Safety reconciliation rules: CTCAE lab grades and blood pressure against adverse events.

They read the derived labs table (ctx.labs: SI values, baseline, CTCAE v5.0 grades) and count
treatment-emergent values only: on or after the subject's first dose and worse than the baseline
(the last value on or before the first dose). A screening abnormality (cirrhotic platelets) and
the same stable abnormality at every visit are medical history, not new adverse events (ICH E2A;
CTCAE v5.0 grades relative to baseline; the treatment-emergent convention of ICH E9 / ADaM TRTEMFL).
Hy's law (LAB102) is in rules/liver.py.
"""

from __future__ import annotations

import polars as pl

from ..ctcae.terms import norm_term
from ..derive.exposure import cached, join_in_order
from ..frames import join_columns
from .base import emit, quoted, sheet_join

LIVER_TERMS = ("alanine aminotransferase increased", "aspartate aminotransferase increased",
               "blood bilirubin increased")


def _norm(e: pl.Expr) -> pl.Expr:
    return e.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def _emergent_long(ctx) -> pl.DataFrame:
    """The treatment-emergent rows of the graded long table (LAB101)."""
    return _safety_tables(ctx)[0]


def _safety_tables(ctx) -> tuple[pl.DataFrame, pl.DataFrame]:
    return cached(ctx, "safety_tables", _build_safety_tables)   # shared by several rules: built once


def _build_safety_tables(ctx) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the emergent rows of the graded long table, the AE-versus-lab table). The graded long
    table (one row per lab result and graded direction, ~1.3 rows per result on a whole study) is
    never built whole: each rule needs a small part of it, and each part is filtered from the labs
    table side by side (low, high) before it is concatenated, in the long table's row order."""
    labs = ctx.labs
    if not labs.height or "ctcae_grade" not in labs.columns:
        empty = pl.DataFrame(schema={"row": pl.Int64, "subject": pl.String, "date": pl.Date, "test": pl.String,
                                     "lab_term": pl.String, "lab_grade": pl.Int64, "emergent": pl.Boolean})
        return empty, _ae_vs_lab_from(ctx, empty, 0)
    return _emergent_rows(labs), _ae_vs_lab_from(ctx, *_ae_term_rows(ctx, labs))


def _side(side: str) -> tuple[pl.Expr, pl.Expr]:
    """(lab_term, lab_grade) of one graded direction of the labs table (ctx.labs has no term
    text: it is the test's CTCAE term in that direction, ctcae.grade.term_expr)."""
    from ..ctcae.grade import term_expr

    return (term_expr(side, "test").alias("lab_term"), pl.col(f"ctcae_grade_{side}").cast(pl.Int64).alias("lab_grade"))


def _graded(side: str, codes=None) -> pl.Expr:
    """Rows graded in direction `side`: a grade, and a test with a CTCAE term in that direction
    (`codes`: only these of them). Tested on the code, not on the term text built for every row."""
    from ..ctcae.grade import side_terms

    codes = list(side_terms(side)) if codes is None else codes
    return pl.col("test").is_in(codes) & pl.col(f"ctcae_grade_{side}").is_not_null()


def _emergent_rows(labs: pl.DataFrame) -> pl.DataFrame:
    """Rows of the graded long table (row, subject, date, test, lab_term, lab_grade, emergent)
    that are treatment-emergent: on or after the first dose and above the baseline grade of the
    term (the worst grade of the subject's baseline draws of that test and term; 0 when none).
    A row can only be emergent when its grade is above the lowest baseline grade there can be
    (0, or a lower grade if the criteria had one), so the rows are cut to those first."""
    low = min([0, *(v for side in ("low", "high")
                    if (v := labs.get_column(f"ctcae_grade_{side}").min()) is not None)])
    cols = ("row", "subject", "date", "test", "lab_term", "lab_grade")
    base = pl.concat([labs.filter(pl.col("baseline_flag") & _graded(side)).select("subject", "test", *_side(side))
                      for side in ("low", "high")])
    base = base.group_by("subject", "test", "lab_term").agg(pl.col("lab_grade").max().alias("baseline_grade"))
    parts = []
    for side in ("low", "high"):
        term, grade = _side(side)
        cand = labs.filter(_graded(side) & (pl.col("date") >= pl.col("first_dose")).fill_null(False)
                           & (grade > low)).select("row", "subject", "date", "test", term, grade)
        cand = join_columns(cand, base, ["subject", "test", "lab_term"])
        parts.append(cand.filter((pl.col("lab_grade") > pl.col("baseline_grade").fill_null(0)).fill_null(False))
                     .select(*cols, pl.lit(True).alias("emergent")))
    return pl.concat(parts)


def _ae_term_rows(ctx, labs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """(the rows of the graded long table whose term some adverse event of the study has, with
    subject, date, test, lab_grade, lab_term; the long table's row count): the only rows the
    AE-versus-lab join can match. The count keeps that join's row order the unfiltered one's."""
    from ..ctcae.grade import side_terms

    aes = _aes(ctx).get_column("term_norm").unique()
    parts, n_long = [], 0
    for side in ("low", "high"):
        term, grade = _side(side)
        n_long += int(labs.select(_graded(side).fill_null(False).sum()).item())
        terms = pl.DataFrame(list(side_terms(side).items()), schema={"code": pl.String, "term": pl.String},
                             orient="row")
        keep = terms.filter(_norm(pl.col("term")).is_in(aes.implode())).get_column("code").to_list()
        parts.append(labs.filter(_graded(side, keep)).select("subject", "date", "test", grade, term))
    return pl.concat(parts), n_long


def _aes(ctx) -> pl.DataFrame:
    return cached(ctx, "safety_aes", _build_aes)   # shared by several rules: built once


def _build_aes(ctx) -> pl.DataFrame:
    """AE periods: subject, ae_row, term_norm, grade, start, stop (open periods end at the run date)."""
    sd = ctx.sheet("AdverseEvents")
    f = sd.frame
    verb = pl.col("verbatim") if "verbatim" in f.columns else pl.lit(None, dtype=pl.String)
    pats = ctx.profile.lab_ae_terms.get("verbatim_patterns", [])
    liver = pl.lit(False)
    for p in pats:
        liver = liver | verb.str.contains("(?i)" + p).fill_null(False)
    other = _norm(pl.col("term")).str.ends_with("- other, specify")
    # Grade and End date are not in every rule's `needs` (End date is optional): absent, they are unknown
    grade = pl.col("grade") if "grade" in f.columns else pl.lit(None, dtype=pl.Int64)
    end = pl.col("end__hi") if "end__hi" in f.columns else pl.lit(None, dtype=pl.Date)
    return f.select(
        pl.col("subject"), pl.col("_row").alias("ae_row"), _norm(pl.col("term")).alias("term_norm"),
        grade.alias("ae_grade"), pl.col("onset__lo").alias("start"),
        pl.coalesce(end, pl.lit(ctx.today)).alias("stop"),
        (other & liver).alias("liver_other"),
    ).filter(pl.col("subject").is_not_null() & pl.col("start").is_not_null())


def _accepted_terms(ctx) -> pl.DataFrame:
    """lab_term_norm -> ae term_norm that report it: the term itself and the profile's mapped terms."""
    rows = []
    for lab_term, ae_terms in ctx.profile.lab_ae_terms.items():
        if isinstance(ae_terms, list) and lab_term != "verbatim_patterns":
            rows += [(norm_term(lab_term), norm_term(t)) for t in ae_terms]
    return pl.DataFrame(rows, schema={"lab_norm": pl.String, "term_norm": pl.String}, orient="row")


def lab_grade_without_ae(ctx):
    """A treatment-emergent lab value reaches the profile's CTCAE grade (default 3) and no adverse event reports it.

    *What it does*: for each result on or after the first dose, graded above the baseline grade
    of its term and at or above `safety.lab_ae_min_grade` (or the per-term value in
    `safety.lab_ae_min_grade_by_term`, e.g. Proteinuria 2), looks for an AE
    of the same subject with that CTCAE term, a term the profile maps to it (e.g. Hepatic
    failure for ALT), or, for ALT/AST, an 'Other, specify' term whose verbatim names immune
    hepatitis, whose onset-end period covers the draw date +/- `safety.lab_ae_tolerance_days`.
    *Why it matters*: a grade 3 lab abnormality is an adverse event under CTCAE v5.0 and must be
    recorded and graded (ICH E2A; protocol AE definition); a missing AE under-reports toxicity.
    Screening values and a baseline abnormality that does not get worse are not reported; an AE
    coded with the lab's own CTCAE term (Platelet count decreased) reports it.
    *Example*: ALT 250 U/L (ULN 40, 6.25 x ULN, grade 3; baseline grade 0) with no AE around that
    date; not: platelets 45 x 10^9/L at screening and at every visit of a cirrhotic patient.
    """
    sd = ctx.sheet("Labs")
    long = _emergent_long(ctx)
    by_term = {norm_term(k): int(v) for k, v in ctx.profile.safety.get("lab_ae_min_grade_by_term", {}).items()}
    min_default = int(ctx.profile.safety["lab_ae_min_grade"])
    long = long.with_columns(_norm(pl.col("lab_term")).alias("lab_norm"))
    need = pl.col("lab_norm").replace_strict(by_term, default=min_default, return_dtype=pl.Int64)
    hits = long.filter(pl.col("lab_grade") >= need)
    if not hits.height:
        return None
    tol = pl.duration(days=int(ctx.profile.safety["lab_ae_tolerance_days"]))
    aes = _aes(ctx)
    accepted = pl.concat([hits.select("lab_norm").unique().with_columns(pl.col("lab_norm").alias("term_norm")),
                          _accepted_terms(ctx)])
    cand = hits.join(accepted, on="lab_norm").join(aes, on=["subject", "term_norm"])
    liver = hits.filter(pl.col("lab_norm").is_in(LIVER_TERMS)).join(
        aes.filter(pl.col("liver_other")).drop("term_norm"), on="subject")
    covered = pl.concat([cand.select("row", "lab_norm", "date", "start", "stop"),
                         liver.select("row", "lab_norm", "date", "start", "stop")]).filter(
        (pl.col("date") >= pl.col("start") - tol) & (pl.col("date") <= pl.col("stop") + tol))
    bad = hits.join(covered.select("row", "lab_norm").unique(), on=["row", "lab_norm"], how="anti")
    df = sheet_join(sd, bad.select(pl.col("row").alias("_row"), "lab_term", "lab_grade", "test"))
    return emit(sd, df, "result", pl.col("test") + pl.lit(" ") + quoted(pl.col("result__raw"))
                + pl.lit(" is CTCAE v5.0 grade ") + pl.col("lab_grade").cast(pl.String) + pl.lit(" ")
                + pl.col("lab_term") + pl.lit(" but no adverse event of that term covers ")
                + pl.col("date").cast(pl.String) + pl.lit("."),
                suggestion=pl.lit("Record the adverse event, or explain the value in the Comment."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("date__raw"), pl.col("test"), pl.col("lab_term")],
                                  separator="|"))


def _ae_vs_lab(ctx) -> pl.DataFrame:
    return _safety_tables(ctx)[1]


def _ae_vs_lab_from(ctx, long: pl.DataFrame, n_long: int) -> pl.DataFrame:
    """ae_row -> lab_max (the worst lab grade of the AE's term in its period), ae_grade, and the
    date and test of that worst value. `long`: graded long rows (subject, date, test, lab_grade,
    lab_term), those of terms no AE has may be left out; `n_long`: the whole long table's rows."""
    aes = _aes(ctx)
    # a lab term is normalised once per distinct term (a few dozen), not on every graded row
    terms = long.select(pl.col("lab_term").unique()).with_columns(_norm(pl.col("lab_term")).alias("_t"))
    long = long.select("subject", "date", "test", "lab_grade", pl.col("lab_term").replace_strict(
        terms.get_column("lab_term"), terms.get_column("_t"), default=None, return_dtype=pl.String).alias("term_norm"))
    # only the graded rows of a term some AE has can join: the others are dropped first, and
    # join_in_order keeps the unfiltered join's row order (the worst grade's ties pick by order)
    long = long.filter(pl.col("term_norm").is_in(aes.get_column("term_norm").unique().implode()))
    j = join_in_order(aes, long, ["subject", "term_norm"], aes.height, n_long).filter(
        (pl.col("date") >= pl.col("start")) & (pl.col("date") <= pl.col("stop")))
    return j.group_by("ae_row").agg(pl.col("lab_grade").max().alias("lab_max"),
                                    pl.col("ae_grade").first(),
                                    pl.col("date").sort_by("lab_grade", descending=True).first().alias("worst_date"),
                                    pl.col("test").sort_by("lab_grade", descending=True).first().alias("worst_test"))


def _ae_grade_rule(ctx, lower: bool):
    sd = ctx.sheet("AdverseEvents")
    cmp = _ae_vs_lab(ctx)
    cmp = cmp.filter(pl.col("ae_grade") < pl.col("lab_max")) if lower else cmp.filter(pl.col("ae_grade") > pl.col("lab_max"))
    df = sd.frame.join(cmp.rename({"ae_row": "_row"}), on="_row")
    return emit(sd, df, "grade", pl.lit("Grade ") + pl.col("grade").cast(pl.String) + pl.lit(" of ")
                + quoted(pl.col("term__raw")) + pl.lit(" is " + ("below" if lower else "above")
                                                       + " the worst lab grade in its period: ")
                + pl.col("worst_test") + pl.lit(" on ") + pl.col("worst_date").cast(pl.String)
                + pl.lit(" is CTCAE v5.0 grade ") + pl.col("lab_max").cast(pl.String) + pl.lit("."))


def ae_grade_below_lab_grade(ctx):
    """An adverse event is graded lower than the worst CTCAE grade of its lab values in its period.

    *What it does*: for AEs whose term is graded from labs (e.g. Platelet count decreased),
    takes the worst lab grade of that term between onset and end, and compares.
    *Why it matters*: under-grading hides dose-limiting toxicity and hold-rule triggers
    (CTCAE v5.0 grades lab terms by value).
    *Example*: AE Platelet count decreased grade 1 while PLAT was 40 x 10^9/L (grade 3).
    """
    return _ae_grade_rule(ctx, lower=True)


def ae_grade_above_lab_grade(ctx):
    """An adverse event is graded higher than the worst CTCAE grade of its lab values in its period.

    *What it does*: as ae-grade-below-lab-grade, the other way round.
    *Why it matters*: may be right (clinical criteria such as hospitalisation raise a grade),
    so it is minor: worth a look, often a typo.
    *Example*: AE ALT increased grade 3 while the worst ALT was 2.5 x ULN (grade 1).
    """
    return _ae_grade_rule(ctx, lower=False)


def _uncovered(ctx, hits: pl.DataFrame, terms: list) -> pl.DataFrame:
    """Rows of `hits` (subject, date, _row) with no AE of one of `terms` covering the date
    (+/- the profile's tolerance)."""
    tol = pl.duration(days=int(ctx.profile.safety["lab_ae_tolerance_days"]))
    aes = _aes(ctx).filter(pl.col("term_norm").is_in([norm_term(t) for t in terms]))
    covered = hits.join(aes, on="subject").filter(
        (pl.col("date") >= pl.col("start") - tol) & (pl.col("date") <= pl.col("stop") + tol))
    return hits.join(covered.select("_row").unique(), on="_row", how="anti")


def _first_dose(ctx) -> pl.DataFrame:
    from ..derive.labs import first_doses

    return first_doses(ctx.sheet("Cycles"))


def _emergent(df: pl.DataFrame, ctx, state: str, worse) -> pl.DataFrame:
    """Rows of `df` (subject, date, `state`) on or after the first dose whose state is worse than the
    baseline's (the last row on or before the first dose); `worse(state, baseline_state)` -> Expr."""
    fd = _first_dose(ctx)
    df = df.join(fd, on="subject", how="left")
    base = (df.filter(pl.col("first_dose").is_not_null() & (pl.col("date") <= pl.col("first_dose"))
                      & pl.col(state).is_not_null())
            .sort("date", "_row").group_by("subject", maintain_order=True).last()
            .select("subject", pl.col(state).alias("_baseline_state")))
    df = df.join(base, on="subject", how="left")
    return df.filter(((pl.col("date") >= pl.col("first_dose")) & worse(pl.col(state), pl.col("_baseline_state")))
                     .fill_null(False))


def hypertension_without_ae(ctx):
    """Treatment-emergent blood pressure reaches CTCAE v5.0 grade 3 Hypertension and no Hypertension AE covers it.

    *What it does*: grades each Vitals reading with the adult CTCAE v5.0 Hypertension thresholds
    (grade 3: systolic >= 160 or diastolic >= 100 mmHg); a reading on or after the first dose,
    of grade 3 or more and above the baseline reading's grade (the last on or before the first
    dose), needs a Hypertension AE of the subject whose period covers the date (+/- the profile
    tolerance). Hypertension known before the first dose that does not get worse is history.
    *Why it matters*: hypertension is the commonest bevacizumab toxicity; grade 3 requires holding
    bevacizumab (prescribing information 2.4), so it must be recorded as an AE.
    *Example*: baseline 128/82, then 168/102 mmHg on 2023-01-10 with no Hypertension AE.
    """
    from ..ctcae.grade import grade_bp

    sd = ctx.sheet("Vitals")
    # readings with systolic not above diastolic are swapped entries (WB210), not graded here
    df = sd.frame.filter((pl.col("sbp").is_not_null() | pl.col("dbp").is_not_null())
                         & ~(pl.col("sbp") <= pl.col("dbp")).fill_null(False))
    if not df.height:
        return None
    graded = grade_bp(df.with_columns(pl.col("sbp").alias("systolic_bp"), pl.col("dbp").alias("diastolic_bp")))
    graded = _emergent(graded, ctx, "ctcae_grade_high", lambda g, b: g > b.fill_null(0))
    hits = graded.filter(pl.col("ctcae_grade_high") >= 3)
    bad = _uncovered(ctx, hits, ["Hypertension"])
    return emit(sd, bad, "sbp", pl.lit("Blood pressure ") + pl.col("sbp__raw").fill_null("?") + pl.lit("/")
                + pl.col("dbp__raw").fill_null("?") + pl.lit(" mmHg is CTCAE v5.0 grade ")
                + pl.col("ctcae_grade_high").cast(pl.String)
                + pl.lit(" Hypertension but no Hypertension AE covers ") + pl.col("date").cast(pl.String) + pl.lit("."),
                suggestion=pl.lit("Record the AE (and check the bevacizumab hold rule)."))


THYROID_TERMS = ["Hypothyroidism", "Hyperthyroidism", "Endocrine disorders - Other, specify",
                 "Thyroid stimulating hormone increased"]


def tsh_abnormal_without_thyroid_ae(ctx):
    """A treatment-emergent TSH outside the site's normal range and no thyroid adverse event.

    *What it does*: flags TSH results on or after the first dose below LLN or above ULN, unless
    the baseline TSH (the last on or before the first dose) was already out on the same side,
    when no Hypothyroidism, Hyperthyroidism, 'Endocrine disorders - Other, specify' (thyroiditis)
    or Thyroid stimulating hormone increased AE covers the date.
    *Why it matters*: thyroid dysfunction is among the commonest immune-related AEs of anti-PD-1
    antibodies (ASCO irAE guideline 2021); a new abnormal TSH needs an AE or a documented reason.
    A TSH already high before the first dose is history.
    *Example*: baseline TSH 2.1, then 12.4 mIU/L (ULN 4.2) with no thyroid AE.
    """
    sd, labs = ctx.sheet("Labs"), ctx.lab_rows
    if not ("lln" in labs.columns or "uln" in labs.columns):
        return None
    lln = pl.col("lln") if "lln" in labs.columns else pl.lit(None, dtype=pl.Float64)
    uln = pl.col("uln") if "uln" in labs.columns else pl.lit(None, dtype=pl.Float64)
    tsh = labs.filter((pl.col("test_code") == "TSH") & pl.col("result").is_not_null()).with_columns(
        pl.when(pl.col("result") > uln).then(pl.lit("high")).when(pl.col("result") < lln).then(pl.lit("low"))
        .when(lln.is_not_null() | uln.is_not_null()).then(pl.lit("normal")).alias("_tsh_state"))
    hits = _emergent(tsh, ctx, "_tsh_state", lambda s, b: (s != "normal") & (s != b.fill_null("normal")))
    bad = _uncovered(ctx, hits, THYROID_TERMS)
    return emit(sd, bad, "result", pl.lit("TSH ") + quoted(pl.col("result__raw"))
                + pl.when(pl.col("result") > uln).then(pl.lit(" is above ULN ") + uln.cast(pl.String))
                .otherwise(pl.lit(" is below LLN ") + lln.cast(pl.String))
                + pl.lit(" and no thyroid AE covers ") + pl.col("date").cast(pl.String) + pl.lit("."),
                suggestion=pl.lit("Record Hypothyroidism / Hyperthyroidism, or comment why not."))
