"""Hold and permanent-discontinuation state of each administration (the profile's [[hold_rules]]).

    holds(ctx, adm)   per administration row: the first active hold (hold_rule, hold_evidence ...),
                      the earliest permanent discontinuation before the dose (discontinued_since,
                      discontinued_evidence ...), and a resumption on steroids above the rule's
                      prednisone-equivalent limit (steroid_evidence ...).

Lab conditions (docs/protocol_rules.md, "Hold and stop rules"):
  * only draws on or after the subject's first dose count (a screening value is eligibility, not a
    reason to hold); the worst result of a test per day is used;
  * a rule meets on a CTCAE grade (`min_grade`), an SI value (`min_value`) or a multiple of the
    site's ULN (`x_uln_above` >, `x_uln_at_least` >=), optionally only for subjects whose baseline
    (the last result on or before the first dose, in multiples of its own ULN) lies in a band
    (`baseline_x_uln_above` < baseline <= `baseline_x_uln_max`; an unknown baseline counts as normal);
  * a hold runs from the latest draw on or before the dose that met the rule until a later draw
    resolved it: grade <= `until_grade` when the rule has one, else a draw that no longer meets it;
  * a discontinue rule applies to every dose after the first draw that met it.
AE conditions: an AE of one of the rule's terms (resolved from ae_terms / ae_socs / ae_patterns /
ae_groups at load time) at or above `min_grade` (immune-related if asked) that started before the
dose (latest possible onset day). A hold lasts while it, or a following AE row of the same terms
still above `until_grade` that starts before it ends, is open on the dose day. A discontinue rule
applies after the onset; with `unresolved_weeks`, only when the AE (above `resolved_grade`) was not
over within that many weeks of its onset, from the end of that period.
Steroid condition (`steroid_max_mg`, a ConMeds sheet): after an AE of the rule, a dose given while
the systemic corticosteroids started since the AE's onset sum to more than the limit in mg/day of
prednisone (the profile's [steroids] equivalents) is a resumption on steroids.
"""

from __future__ import annotations

import polars as pl

from ..ctcae.terms import norm_term
from .exposure import REL_TOL, _latest_before, cached, fmt_num, join_in_order, join_rows, opt, valid_date
from .hold_text import describe_rule   # in its own module; docs and tests import it from here

OUT_SCHEMA = {"row": pl.Int64, "hold_rule": pl.Int64, "hold_rule_text": pl.String, "hold_source": pl.String,
              "hold_evidence": pl.String, "discontinued_since": pl.Date, "discontinued_rule_text": pl.String,
              "discontinued_source": pl.String, "discontinued_evidence": pl.String,
              "steroid_rule_text": pl.String, "steroid_source": pl.String, "steroid_evidence": pl.String}


def _empty(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


# ------------------------------------------------------------------------------ AEs

def _aes(ctx) -> pl.DataFrame:
    schema = {"subject": pl.String, "term_norm": pl.String, "grade": pl.Int64, "start": pl.Date, "stop": pl.Date,
              "open": pl.Boolean, "immune": pl.Boolean, "ae_row": pl.Int64, "term": pl.String}
    sd = ctx.sheet("AdverseEvents")
    if sd is None or not sd.has("subject", "term", "grade", "onset"):
        return _empty(schema)
    f = sd.frame
    end_lo = pl.col("end__lo") if "end__lo" in f.columns else pl.lit(None, dtype=pl.Date)
    return f.select(
        pl.col("subject"), pl.col("term").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
        .alias("term_norm"), pl.col("grade").cast(pl.Int64).alias("grade"),
        pl.col("onset__hi").alias("start"), end_lo.alias("stop"),
        (end_lo.is_null() & opt(f, "ongoing", pl.Boolean).fill_null(True)).alias("open"),
        opt(f, "immune", pl.Boolean).fill_null(False).alias("immune"),
        pl.col("_row").cast(pl.Int64).alias("ae_row"), pl.col("term").alias("term"),
    ).filter(pl.col("subject").is_not_null() & pl.col("start").is_not_null() & pl.col("grade").is_not_null())


AE_RULE_SCHEMA = {"rule": pl.Int64, "term_norm": pl.String, "min_grade": pl.Int64, "until_grade": pl.Int64,
                  "immune_only": pl.Boolean, "unresolved_weeks": pl.Float64, "resolved_grade": pl.Int64}


def _ae_rules(ctx) -> pl.DataFrame:
    """One row per hold rule and AE term. Built by columns: the seed study's rules list ~1,000
    terms, and a frame built row by row from Python tuples cost ~5 ms of every check."""
    cols: dict = {k: [] for k in AE_RULE_SCHEMA}
    for i, h in enumerate(ctx.profile.hold_rules):
        w = h["when"]
        terms = [norm_term(t) for t in h.get("terms", ())]
        n = len(terms)
        if not n:     # a rule without AE terms (lab only) may have no min_grade
            continue
        cols["term_norm"] += terms
        for k, v in (("rule", i), ("min_grade", int(w["min_grade"])),
                     ("until_grade", w.get("until_grade", int(w["min_grade"]) - 1)),
                     ("immune_only", bool(w.get("immune_related", False))),
                     ("unresolved_weeks", w.get("unresolved_weeks")), ("resolved_grade", w.get("resolved_grade"))):
            cols[k] += [v] * n
    return pl.DataFrame(cols, schema=AE_RULE_SCHEMA)


def _ae_text(prefix: str = "") -> pl.Expr:
    return (pl.lit("AE ") + pl.col(f"{prefix}term") + pl.lit(" grade ") + pl.col(f"{prefix}grade").cast(pl.String)
            + pl.when(pl.col(f"{prefix}immune")).then(pl.lit(", immune-related")).otherwise(pl.lit(""))
            + pl.lit(" from ") + pl.col(f"{prefix}start").cast(pl.String) + pl.lit(" (AdverseEvents row ")
            + pl.col(f"{prefix}ae_row").cast(pl.String) + pl.lit(")"))


def _ae_matches(ctx) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(triggers, rows above until_grade): AE rows of each rule's terms, immune-related if asked
    (built once per check: the AE and the steroid conditions both read them)."""
    return cached(ctx, "hold_ae_matches", _build_ae_matches)


def _build_ae_matches(ctx) -> tuple[pl.DataFrame, pl.DataFrame]:
    rules, aes = _ae_rules(ctx), _aes(ctx)
    if not rules.height or not aes.height:
        return aes.head(0).with_columns(pl.lit(0, dtype=pl.Int64).alias("rule")), None
    j = aes.join(rules, on="term_norm").filter(pl.col("immune") | ~pl.col("immune_only"))
    return j.filter(pl.col("grade") >= pl.col("min_grade")), j.filter(pl.col("grade") > pl.col("until_grade"))


def _ae_candidates(ctx, a: pl.DataFrame, meta: pl.DataFrame) -> list:
    """(row, rule, evidence, since) of AE conditions met on each administration."""
    trig, above = _ae_matches(ctx)
    if above is None or not trig.height:
        return []
    out = []
    # only (subject, rule) pairs with a trigger can join below: the others (most of the
    # administrations x rules) are dropped before the join, which keeps the unfiltered join's order
    pairs = trig.select("rule", "subject").unique()
    m = meta.select("rule", pl.col("rule_drug").alias("drug"), "rule_action")
    per = join_in_order(a.join(pairs.select("subject").unique(), on="subject", how="semi", maintain_order="left"),
                        m.filter(pl.col("rule").is_in(pairs.get_column("rule").implode())), "drug", a.height, m.height)
    per = per.join(pairs, on=["rule", "subject"], how="semi", maintain_order="left")
    # holds: a trigger before the dose, and it or a following row still above until_grade open on the dose day
    t = trig.select("rule", "subject", pl.col("start").alias("t_start"), pl.col("stop").alias("t_stop"),
                    pl.col("open").alias("t_open"), _ae_text().alias("evidence"))
    c = above.select("rule", "subject", "start", "stop", "open", "grade", "ae_row")
    ep = t.join(c, on=["rule", "subject"]).filter(
        (pl.col("start") >= pl.col("t_start"))
        & (pl.col("t_open") | (pl.col("start") <= pl.col("t_stop") + pl.duration(days=1))).fill_null(False))
    j = per.filter(pl.col("rule_action") == "hold").join(ep, on=["rule", "subject"]).filter(
        (pl.col("t_start") < pl.col("date")) & (pl.col("start") < pl.col("date"))
        & (pl.col("open") | (pl.col("stop") > pl.col("date"))).fill_null(False))
    out.append(j.select("row", "rule", "evidence", pl.col("t_start").alias("since")))
    # discontinue: after the onset; with unresolved_weeks, after the deadline when not over by then
    d = per.filter(pl.col("rule_action") == "discontinue").join(
        trig.select("rule", "subject", "term", "grade", "immune", "start", "stop", "open", "ae_row",
                    "unresolved_weeks", "resolved_grade"), on=["rule", "subject"])
    deadline = pl.col("start") + pl.duration(days=(pl.col("unresolved_weeks") * 7).round(0).cast(pl.Int64))
    plain = d.filter(pl.col("unresolved_weeks").is_null() & (pl.col("start") < pl.col("date")))
    out.append(plain.select("row", "rule", _ae_text().alias("evidence"), pl.col("start").alias("since")))
    late = d.filter(pl.col("unresolved_weeks").is_not_null() & (pl.col("grade") > pl.col("resolved_grade"))
                    ).with_columns(deadline.alias("deadline"))
    late = late.filter((pl.col("open") & (pl.lit(ctx.today) > pl.col("deadline"))
                        | (pl.col("stop") > pl.col("deadline"))).fill_null(False)
                       & (pl.col("deadline") < pl.col("date")))
    out.append(late.select(
        "row", "rule",
        (_ae_text() + pl.lit(" not back to grade <= ") + pl.col("resolved_grade").cast(pl.String)
         + pl.lit(" within ") + fmt_num(pl.col("unresolved_weeks")) + pl.lit(" weeks (by ")
         + pl.col("deadline").cast(pl.String) + pl.lit("; ")
         + pl.when(pl.col("stop").is_null()).then(pl.lit("still ongoing"))
         .otherwise(pl.lit("ended ") + pl.col("stop").cast(pl.String)) + pl.lit(")")).alias("evidence"),
        pl.col("deadline").alias("since")))
    return out


# ------------------------------------------------------------------------------ labs

PAIR_SLICE_ROWS = 50_000   # lab results joined to their hold rules at a time (_lab_candidates)

LAB_RULE_SCHEMA = {"rule": pl.Int64, "test": pl.String, "min_grade": pl.Int64, "min_value": pl.Float64,
                   "x_above": pl.Float64, "x_least": pl.Float64, "b_above": pl.Float64, "b_max": pl.Float64,
                   "until_grade": pl.Int64}


def _lab_rules(ctx) -> pl.DataFrame:
    rows = []
    for i, h in enumerate(ctx.profile.hold_rules):
        w = h["when"]
        for t in w.get("lab", ()):
            rows.append((i, t, w.get("min_grade"), _f(w.get("min_value")), _f(w.get("x_uln_above")),
                         _f(w.get("x_uln_at_least")), _f(w.get("baseline_x_uln_above")),
                         _f(w.get("baseline_x_uln_max")), w.get("until_grade")))
    return pl.DataFrame(rows, schema=LAB_RULE_SCHEMA, orient="row")


def _f(v):
    return None if v is None else float(v)


def lab_results(ctx, tests: list) -> pl.DataFrame:
    """subject, test, lab_date, grade, value_si, unit_si, x_uln, baseline_x_uln: the worst result per
    subject, test and day on or after the first dose (a null = cannot tell, never 'normal')."""
    labs = ctx.labs
    schema = {"subject": pl.String, "test": pl.String, "lab_date": pl.Date, "grade": pl.Int64,
              "value_si": pl.Float64, "unit_si": pl.String, "x_uln": pl.Float64, "baseline_x_uln": pl.Float64}
    if not labs.height or "ctcae_grade" not in labs.columns or not tests:
        return _empty(schema)
    df = labs.select("row", "subject", "test", "date", "baseline_flag", "value_si", "uln_si", "unit_si", "first_dose",
                     "ctcae_grade").filter(pl.col("test").is_in(tests) & pl.col("date").is_not_null()
                                           & pl.col("subject").is_not_null())
    base = (df.filter(pl.col("baseline_flag") & pl.col("value_si").is_not_null()).sort("row")
            .group_by("subject", "test").agg((pl.col("value_si") / pl.col("uln_si")).last().alias("baseline_x_uln")))
    on_tx = df.filter(pl.col("first_dose").is_not_null() & (pl.col("date") >= pl.col("first_dose")))
    return (on_tx.group_by("subject", "test", "date")
            .agg(pl.col("ctcae_grade").cast(pl.Int64).max().alias("grade"), pl.col("value_si").max(),
                 pl.col("unit_si").first(), (pl.col("value_si") / pl.col("uln_si")).max().alias("x_uln"))
            .join(base, on=["subject", "test"], how="left")
            .rename({"date": "lab_date"}).sort("lab_date").select(list(schema)))


def _lab_flags() -> tuple[pl.Expr, pl.Expr]:
    value = (pl.when(pl.col("min_value").is_not_null()).then(pl.col("value_si") >= pl.col("min_value") * (1 - REL_TOL))
             .when(pl.col("x_above").is_not_null()).then(pl.col("x_uln") > pl.col("x_above") * (1 + REL_TOL))
             .when(pl.col("x_least").is_not_null()).then(pl.col("x_uln") >= pl.col("x_least") * (1 - REL_TOL))
             .otherwise(pl.col("grade") >= pl.col("min_grade")))
    bx = pl.col("baseline_x_uln").fill_null(0.0)
    band = ((pl.col("b_above").is_null() | (bx > pl.col("b_above") * (1 + REL_TOL)))
            & (pl.col("b_max").is_null() | (bx <= pl.col("b_max") * (1 + REL_TOL))))
    met = (value & band).fill_null(False)
    resolved = (pl.when(pl.col("until_grade").is_not_null()).then(pl.col("grade") <= pl.col("until_grade"))
                .otherwise(value.not_())).fill_null(False)
    return met, resolved


def _lab_evidence() -> pl.Expr:
    what = (pl.when(pl.col("min_value").is_not_null())
            .then(fmt_num(pl.col("value_si"), 2) + pl.lit(" ") + pl.col("unit_si").fill_null(""))
            .when(pl.col("x_above").is_not_null() | pl.col("x_least").is_not_null())
            .then(fmt_num(pl.col("x_uln"), 1) + pl.lit(" x ULN")
                  + pl.when(pl.col("baseline_x_uln").is_not_null())
                  .then(pl.lit(" (baseline ") + fmt_num(pl.col("baseline_x_uln"), 1) + pl.lit(" x ULN)"))
                  .otherwise(pl.lit("")))
            .otherwise(pl.lit("CTCAE grade ") + pl.col("grade").cast(pl.String)))
    return pl.col("test") + pl.lit(" ") + what + pl.lit(" on ") + pl.col("lab_date").cast(pl.String)


def _lab_candidates(ctx, a: pl.DataFrame, meta: pl.DataFrame) -> list:
    lr = _lab_rules(ctx)
    if not lr.height:
        return []
    lab = lab_results(ctx, lr.get_column("test").unique().to_list())
    if not lab.height:
        return []
    met, resolved = _lab_flags()
    action = meta.select("rule", "rule_action")

    def pairs(rows: pl.DataFrame) -> pl.DataFrame:
        """The (result, rule) pairs of `rows` (lab, a slice of it, or its rows of some subjects
        and tests), in the order of the whole join of lab and lr (join_in_order)."""
        return join_in_order(rows, lr, "test", lab.height, lr.height)

    def met_pairs(p: pl.DataFrame, sliced: bool) -> pl.DataFrame:
        """The pairs `p` that met their rule, with the rule's action, taken as the unsliced code
        took it: replace_strict when all pairs outnumber the rules (always so over slices: every
        result has a pair, lab_results keeps the rules' tests), else the join. The evidence text
        is built later, only for these few."""
        many = sliced or p.height > action.height
        p = p.filter(met)
        return (p.with_columns(pl.col("rule").replace_strict(action.get_column("rule"), action.get_column(
            "rule_action"), return_dtype=pl.String).alias("rule_action")) if many
            else p.join(action, on="rule"))   # the same rows and order as the join (every rule is in meta)

    # the pairs are built a slice of lab at a time and only the met ones kept: on a whole study
    # all of them are ~380,000 rows of 19 columns (~65 MiB), built at the check's memory peak
    n = max(1, -(-lab.height // PAIR_SLICE_ROWS))
    met_rows = pl.concat([met_pairs(pairs(lab.slice(i * PAIR_SLICE_ROWS, PAIR_SLICE_ROWS)), n > 1)
                          for i in range(n)])
    # administrations x the drug's rules x their tests: the rows of one action (and of the
    # subjects that can match) are joined, in the order of the whole join (join_in_order)
    m_drug = meta.select("rule", pl.col("rule_drug").alias("drug"), "rule_action")
    lr_test = lr.select("rule", "test")
    n_per = join_rows(a, m_drug, "drug")

    def per(act: str, rows: pl.DataFrame) -> pl.DataFrame:
        p = join_in_order(rows, m_drug.filter(pl.col("rule_action") == act), "drug", a.height, m_drug.height)
        return join_in_order(p, lr_test, "rule", n_per, lr_test.height)

    by = ["subject", "rule", "test"]
    first = (met_rows.filter(pl.col("rule_action") == "discontinue").sort("lab_date")
             .group_by("subject", "rule", maintain_order=True).first()
             .with_columns(_lab_evidence().alias("evidence")))
    m = met_rows.select(*by, pl.col("lab_date").alias("met_date"), _lab_evidence().alias("evidence"))
    # only doses of a (subject, rule, test) with a draw that met the rule can be on hold:
    # the others are dropped before the two as-of joins (the filter below drops them anyway)
    keys = m.select(by).unique()
    # the draws that resolved, of the met keys only: their results' pairs, in the whole join's order
    r = (pairs(lab.join(keys.select("subject", "test").unique(), on=["subject", "test"], how="semi",
                        maintain_order="left"))
         .filter(resolved).select(*by, pl.col("lab_date").alias("res_date"))
         .join(keys, on=by, how="semi", maintain_order="left")) if m.height else None
    del lab, met_rows
    out = []
    if m.height:
        subjects = keys.select("subject").unique()
        hp = (per("hold", a.join(subjects, on="subject", how="semi", maintain_order="left")).drop("rule_action")
              .join(keys, on=by, how="semi", maintain_order="left"))
        x = _latest_before(hp, m, "date", "met_date", by=by)
        x = _latest_before(x.filter(pl.col("met_date").is_not_null()), r, "date", "res_date", by=by)
        x = x.filter(pl.col("met_date").is_not_null()
                     & (pl.col("res_date").is_null() | (pl.col("res_date") < pl.col("met_date"))))
        out.append(x.select("row", "rule", "evidence", pl.col("met_date").alias("since")))
    if first.height:
        # as above: only the doses of subjects with a draw that met a discontinue rule can match
        a_first = a.join(first.select("subject").unique(), on="subject", how="semi", maintain_order="left")
        d = (per("discontinue", a_first).select("row", "subject", "rule", "date").unique()
             .join(first.select("subject", "rule", "lab_date", "evidence"), on=["subject", "rule"])
             .filter(pl.col("lab_date") < pl.col("date")))
        out.append(d.select("row", "rule", "evidence", pl.col("lab_date").alias("since")))
    return out


# ------------------------------------------------------------------------------ steroids

def conmed_steroids(ctx) -> pl.DataFrame:
    """subject, cm_row, cm_drug, cm_start, cm_end, pred_mg: systemic corticosteroids of the ConMeds
    sheet with a daily dose in mg, as mg/day prednisone-equivalent (the profile's [steroids])."""
    schema = {"subject": pl.String, "cm_row": pl.Int64, "cm_drug": pl.String, "cm_start": pl.Date,
              "cm_end": pl.Date, "pred_mg": pl.Float64}
    sd = ctx.sheet("ConMeds")
    eq = (getattr(ctx.profile, "steroids", None) or {}).get("prednisone_equivalent", {})
    if sd is None or not eq or not sd.has("subject", "drug", "dose", "start"):
        return _empty(schema)
    f = sd.frame
    name = pl.col("drug").str.to_lowercase().str.replace_all(r"[^a-z]+", " ")
    factor = pl.lit(None, dtype=pl.Float64)
    # whole words, and the longest name is tested first (the outermost when): methylprednisolone
    # is never read as prednisolone
    for k, v in sorted(eq.items(), key=lambda kv: len(kv[0])):
        factor = pl.when(name.str.contains(rf"\b{k}\b")).then(pl.lit(v)).otherwise(factor)
    unit = opt(f, "unit", pl.String).str.to_lowercase().str.replace_all(r"\s+", "")
    per_day = unit.is_null() | unit.is_in(["mg", "mg/day", "mg/d", "mgqd", "mg/24h"])
    return f.select(
        pl.col("subject"), pl.col("_row").cast(pl.Int64).alias("cm_row"), pl.col("drug").alias("cm_drug"),
        valid_date(f, "start").alias("cm_start"), valid_date(f, "end").alias("cm_end"),
        pl.when(per_day).then(pl.col("dose").cast(pl.Float64) * factor).alias("pred_mg"),
    ).filter(pl.col("subject").is_not_null() & pl.col("cm_start").is_not_null() & pl.col("pred_mg").is_not_null())


def _steroid_candidates(ctx, a: pl.DataFrame, meta: pl.DataFrame) -> pl.DataFrame | None:
    limits = {i: float(h["when"]["steroid_max_mg"]) for i, h in enumerate(ctx.profile.hold_rules)
              if "steroid_max_mg" in h["when"]}
    cm = conmed_steroids(ctx)
    trig, _ = _ae_matches(ctx)
    if not limits or not cm.height or not trig.height:
        return None
    t = (trig.filter(pl.col("rule").is_in(list(limits))).sort("start")
         .group_by("rule", "subject", maintain_order=True).first()
         .select("rule", "subject", pl.col("start").alias("t_start"), _ae_text().alias("ae_text")))
    m = meta.select("rule", pl.col("rule_drug").alias("drug"))
    per = join_in_order(  # the rows of the triggers' subjects and rules, in the order of the whole join
        join_in_order(a.join(t.select("subject").unique(), on="subject", how="semi", maintain_order="left"),
                      m.filter(pl.col("rule").is_in(t.get_column("rule").implode())), "drug", a.height, m.height),
        t, ["rule", "subject"], join_rows(a, m, "drug"), t.height)
    per = per.filter(pl.col("t_start") < pl.col("date"))
    on = per.join(cm, on="subject").filter(
        (pl.col("cm_start") >= pl.col("t_start")) & (pl.col("cm_start") <= pl.col("date"))
        & (pl.col("cm_end").is_null() | (pl.col("cm_end") >= pl.col("date"))))
    if not on.height:
        return None
    limit = pl.col("rule").replace_strict(limits, default=None, return_dtype=pl.Float64)
    g = (on.group_by("row", "rule").agg(
        pl.col("pred_mg").sum(), pl.col("ae_text").first(),
        pl.concat_str([pl.col("cm_drug"), pl.lit(" (ConMeds row "), pl.col("cm_row").cast(pl.String), pl.lit(")")])
        .str.join(", ").alias("meds")).with_columns(limit.alias("limit")))
    g = g.filter(pl.col("pred_mg") > pl.col("limit") * (1 + REL_TOL))
    return g.select("row", "rule", (pl.lit("prednisone-equivalent ") + fmt_num(pl.col("pred_mg")) + pl.lit(" mg/day (")
                                    + pl.col("meds") + pl.lit(") > ") + fmt_num(pl.col("limit"))
                                    + pl.lit(" mg/day after ") + pl.col("ae_text")).alias("evidence"))


# ------------------------------------------------------------------------------ all together

def holds(ctx, adm: pl.DataFrame) -> pl.DataFrame:
    """Per administration row: hold, permanent discontinuation and steroid state (see the module doc)."""
    rules = ctx.profile.hold_rules
    units = {code: t.si_unit for code, t in ctx.catalogue.tests.items()}
    a = adm.filter(pl.col("administered") & pl.col("date").is_not_null()).select("row", "subject", "drug", "date")
    if a.height == 0:
        return _empty(OUT_SCHEMA)
    meta = pl.DataFrame({"rule": list(range(len(rules))), "rule_drug": [h["drug"] for h in rules],
                         "rule_action": [h["action"] for h in rules],
                         "rule_text": [describe_rule(h, units) for h in rules],
                         "rule_source": [h["source"] for h in rules]},
                        schema={"rule": pl.Int64, "rule_drug": pl.String, "rule_action": pl.String,
                                "rule_text": pl.String, "rule_source": pl.String})
    cand = _lab_candidates(ctx, a, meta) + _ae_candidates(ctx, a, meta)
    # a Discontinued row of the drug in Cycles: no dose of that drug afterwards
    disc = adm.filter((pl.col("action") == "Discontinued") & pl.col("date").is_not_null()).select(
        "subject", "drug", pl.col("date").alias("since"), pl.col("row").alias("disc_row"))
    cand.append(a.join(disc, on=["subject", "drug"]).filter(pl.col("since") < pl.col("date"))
                .select("row", pl.lit(-1, dtype=pl.Int64).alias("rule"),
                        (pl.lit("Action Discontinued on ") + pl.col("since").cast(pl.String) + pl.lit(" (Cycles row ")
                         + pl.col("disc_row").cast(pl.String) + pl.lit(")")).alias("evidence"), "since"))
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
    out = hold.join(stop, on="row", how="full", coalesce=True)
    st = _steroid_candidates(ctx, a, meta)
    if st is not None and st.height:
        st = (st.join(meta, on="rule").sort("row", "rule").group_by("row", maintain_order=True).first()
              .select("row", pl.col("rule_text").alias("steroid_rule_text"),
                      pl.col("rule_source").alias("steroid_source"), pl.col("evidence").alias("steroid_evidence")))
        out = out.join(st, on="row", how="full", coalesce=True)
    return out.select(pl.col(k) if k in out.columns else pl.lit(None, dtype=t).alias(k)
                      for k, t in OUT_SCHEMA.items())
