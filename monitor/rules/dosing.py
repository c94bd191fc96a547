"""Dosing and schedule rules (DOSE0xx): intervals, doses, weights, pre-dose labs, hold rules,
off-treatment dosing, cycle numbering. All thresholds come from the profile's [schedule],
[[drugs]] and [[hold_rules]]; the per-administration facts from monitor.derive.exposure.
"""

from __future__ import annotations

import functools
import operator

import polars as pl

from ..derive.exposure import REL_TOL, administrations, fmt_num
from .base import emit, quoted


def _rows(ctx, facts: pl.DataFrame) -> tuple:
    """The Cycles sheet and its frame rows for `facts` (a filtered administrations table)."""
    sd = ctx.sheet("Cycles")
    extra = [c for c in facts.columns if c not in ("row", "subject")]
    df = sd.frame.join(facts.select(pl.col("row").alias("_row"), *extra)
                       .rename({c: f"x_{c}" for c in extra}), on="_row")
    return sd, df


COUNTED = pl.col("administered") & ~pl.col("duplicate") & pl.col("date").is_not_null()


def _counted(ctx, *where: pl.Expr) -> pl.DataFrame:
    """Administrations that count (given, not a repeat of the same cycle or date (WB204), dated)
    and meet every `where`, in one filter of the cached administrations. The counted rows are
    not kept as a table of their own: on a whole study that was a second 60,000-row copy of the
    administrations' 48 columns (~29 MiB) held through every later rule, at the check's peak."""
    return administrations(ctx).filter(COUNTED, *where)


def dose_interval_out_of_window(ctx):
    """A drug was given earlier or later than the cycle length +/- the visit window allows.

    *What it does*: for each drug of a subject, compares the days since the previous
    administration with `schedule.cycle_days` x the cycles between them (21 days for consecutive
    cycles; 63 when two cycles were held in between); more than `schedule.window_days` (3) away
    is reported on the Date cell, unless the cycle is recorded as Delayed with a reason (late
    doses only). Repeated administrations (WB204) are left out.
    *Why it matters*: dosing outside the protocol window without a documented delay is a protocol
    deviation and changes exposure (protocol section 6, 21-day cycles +/- 3 days; ICH E6(R2) 4.5).
    *Example*: cycle 4 given 26 days after cycle 3, Action Given, no Delayed record.
    """
    sched = ctx.profile.schedule
    win = sched["window_days"]
    a = _counted(ctx, pl.col("expected_interval_days").is_not_null())
    off = pl.col("interval_days") - pl.col("expected_interval_days")
    late_ok = (off > 0) & pl.col("delay_recorded")
    bad = a.filter((off.abs() > win) & ~late_ok)
    if not bad.height:
        return None
    sd, df = _rows(ctx, bad)
    off = pl.col("x_interval_days") - pl.col("x_expected_interval_days")
    return emit(sd, df, "date", pl.col("x_drug") + pl.lit(" cycle ") + pl.col("cycle").cast(pl.String)
                + pl.lit(" given ") + pl.col("x_interval_days").cast(pl.String) + pl.lit(" days after cycle ")
                + pl.col("x_previous_cycle").cast(pl.String) + pl.lit(" (")
                + pl.col("x_previous_date").cast(pl.String) + pl.lit("); the protocol expects ")
                + pl.col("x_expected_interval_days").cast(pl.String) + pl.lit(f" +/- {win:g} days")
                + pl.when(off > 0).then(pl.lit(" and no delay is recorded.")).otherwise(pl.lit(": given early.")),
                suggestion=pl.lit("Check the date; if the dose was delayed, record Action Delayed with the reason."))


def dose_deviates_from_protocol(ctx):
    """The dose differs from the protocol dose by more than the profile's tolerance.

    *What it does*: flat doses (QL1604 200 mg) are compared with the dose; weight-based doses
    (bevacizumab 15 mg/kg) with mg/kg as entered, or, when entered in mg, with mg/kg x the weight
    used (the Cycles weight, else the latest Vitals weight, else the Subjects weight). A
    difference of more than `schedule.dose_tolerance_pct` (10%) is reported on the Dose cell with
    the dose expected. A dose marked Reduced that is below the protocol dose is a documented
    reduction and is not reported. The protocol dose is the one of the subject's arm and cycle
    (profile [[arms]], dose levels by cycle); when the arm is not known, the drug's level nearest
    to the dose. A placebo (planned 0 mg) is reported only when a dose above 0 is entered.
    *Why it matters*: over-dosing is a safety risk and under-dosing lowers dose intensity; both
    are protocol deviations (protocol section 6.1, doses and tolerance).
    *Example*: bevacizumab 700 mg for 58 kg (expected 870 mg = 15 mg/kg x 58 kg, -19.5%).
    """
    tol = ctx.profile.schedule["dose_tolerance_pct"]
    a = _counted(ctx, pl.col("dose_deviation_pct").is_not_null())
    dev = pl.col("dose_deviation_pct")
    documented = (pl.col("action") == "Reduced") & (dev < 0)
    bad = a.filter((dev.abs() > tol * (1 + REL_TOL)) & ~documented)
    placebo = _counted(ctx, (pl.col("expected_dose") == 0) & (pl.col("dose") > 0))
    out = []
    if placebo.height:
        sd, df = _rows(ctx, placebo)
        out.append(emit(sd, df, "dose", pl.col("x_drug") + pl.lit(" dose ") + quoted(pl.col("dose__raw"))
                        + pl.lit(" ") + pl.col("x_unit").fill_null("") + pl.lit(": a placebo has no active dose "
                                                                                "(planned 0 ")
                        + pl.col("x_protocol_unit").fill_null("mg") + pl.lit(")."),
                        suggestion=pl.lit("Enter 0 for a placebo, or check the drug (an active drug given to a "
                                          "placebo subject is a deviation).")))
    if not bad.height:
        return pl.concat(out) if out else None
    sd, df = _rows(ctx, bad)
    dev = pl.col("x_dose_deviation_pct")
    basis = (pl.when((pl.col("x_protocol_unit") == "mg/kg") & (pl.col("x_unit") == "mg"))
             .then(pl.lit(" = ") + fmt_num(pl.col("x_protocol_dose")) + pl.lit(" mg/kg x ")
                   + fmt_num(pl.col("x_weight_used")) + pl.lit(" kg (") + pl.col("x_weight_source")
                   + pl.lit(" weight)"))
             .when((pl.col("x_protocol_unit") == "mg") & (pl.col("x_unit") == "mg/kg"))
             .then(pl.lit(" = ") + fmt_num(pl.col("x_protocol_dose")) + pl.lit(" mg / ")
                   + fmt_num(pl.col("x_weight_used")) + pl.lit(" kg"))
             .otherwise(pl.lit("")))
    found = emit(sd, df, "dose", pl.col("x_drug") + pl.lit(" dose ") + quoted(pl.col("dose__raw")) + pl.lit(" ")
                 + pl.col("x_unit") + pl.lit(" is ") + fmt_num(dev.abs()) + pl.lit("% ")
                 + pl.when(dev > 0).then(pl.lit("above")).otherwise(pl.lit("below"))
                 + pl.lit(" the protocol dose: expected ") + fmt_num(pl.col("x_expected_dose")) + pl.lit(" ")
                 + pl.col("x_unit") + basis + pl.lit(f"; tolerance {tol:g}%."),
                 suggestion=pl.lit("Check the dose and unit; a deliberate reduction is recorded as Action Reduced "
                                   "with the reason."))
    return pl.concat(out + [found]) if out else found


def dose_not_recalculated_after_weight_change(ctx):
    """A weight-based dose was calculated on an old weight, 10% (profile) or more off the current one.

    *What it does*: for drugs dosed per kg, compares the Cycles weight (the weight the dose was
    calculated on) with the latest Vitals weight on or before the dose date; a change of
    `schedule.weight_change_pct` (10%) or more is reported on the Cycles weight cell.
    Weights outside 25-250 kg (WB111) are ignored.
    *Why it matters*: the protocol requires recalculating weight-based doses after a >= 10%
    weight change (protocol section 6.1); dosing on an old weight over- or under-doses.
    *Example*: bevacizumab still calculated on 55 kg when the Vitals weight is 48.4 kg (-12%).
    """
    lim = ctx.profile.schedule["weight_change_pct"]
    a = _counted(ctx, pl.col("weight_change_pct").is_not_null())
    bad = a.filter(pl.col("weight_change_pct").abs() >= lim * (1 - REL_TOL))
    if not bad.height:
        return None
    sd, df = _rows(ctx, bad)
    return emit(sd, df, "weight", pl.col("x_drug") + pl.lit(" dose calculated on ")
                + fmt_num(pl.col("x_cycles_weight")) + pl.lit(" kg but the weight on ")
                + pl.col("x_weight_current_date").cast(pl.String) + pl.lit(" was ")
                + fmt_num(pl.col("x_weight_current")) + pl.lit(" kg (")
                + pl.when(pl.col("x_weight_change_pct") > 0).then(pl.lit("+")).otherwise(pl.lit(""))
                + fmt_num(pl.col("x_weight_change_pct")) + pl.lit(f"%; recalculate at >= {lim:g}%)."),
                suggestion=pl.lit("Recalculate the dose on the current weight and record the weight used."))


def dosed_without_predose_labs(ctx):
    """A dose was given with no lab result in the pre-dose window before it.

    *What it does*: looks for any Labs result of the subject (a value, a dipstick reading; not
    blank or ND) dated from `schedule.predose_lab_days` (3) days before the dose to the dose day;
    reports once per subject and dose date, on the Date cell of the first administration. A
    subject with a lab date that cannot be right (unreadable or ambiguous, WB102-WB106, or after
    the run date, WB112) is not judged: those results may be the pre-dose labs; nor is a subject
    with no lab result at all (labs not entered yet: a gap of the whole sheet, not of one dose).
    *Why it matters*: the safety labs before each dose decide whether to dose, hold or reduce
    (protocol schedule of assessments: safety labs within 3 days before each dose); dosing
    without them bypasses the hold rules.
    *Example*: cycle 5 given on 2022-10-18, latest labs 2022-09-26.
    """
    days = ctx.profile.schedule["predose_lab_days"]
    a = _counted(ctx, ~pl.col("lab_dates_unknown") & pl.col("has_labs"))
    miss = a.filter(pl.col("days_since_lab").is_null() | (pl.col("days_since_lab") > days))
    bad = miss.sort("row").group_by("subject", "date", maintain_order=True).first()
    if not bad.height:
        return None
    sd, df = _rows(ctx, bad)
    last = (pl.when(pl.col("x_last_lab_date").is_null()).then(pl.lit("no earlier labs"))
            .otherwise(pl.lit("latest labs ") + pl.col("x_last_lab_date").cast(pl.String) + pl.lit(", ")
                       + pl.col("x_days_since_lab").cast(pl.String) + pl.lit(" days before")))
    return emit(sd, df, "date", pl.lit("Cycle ") + pl.col("cycle").cast(pl.String).fill_null("?")
                + pl.lit(" dosed on ") + pl.col("x_date").cast(pl.String)
                + pl.lit(f" without labs in the {days:g} days before (") + last + pl.lit(")."),
                suggestion=pl.lit("Enter the pre-dose labs, or document why the dose was given without them."),
                key=pl.concat_str([pl.col("subject__raw"), pl.col("date__raw")], separator="|"))


def _hold_message(prefix: str, rule: str, evidence: str, source: str) -> pl.Expr:
    why = (pl.when(pl.col(rule).is_not_null())
           .then(pl.lit(" (rule: ") + pl.col(rule) + pl.lit("; ") + pl.col(source) + pl.lit(")"))
           .otherwise(pl.lit("")))
    return (pl.col("x_drug") + pl.lit(" given on ") + pl.col("x_date").cast(pl.String) + pl.lit(f" {prefix}: ")
            + pl.col(evidence) + why + pl.lit("."))


def dosed_during_hold(ctx):
    """A drug was given while one of the profile's hold rules was active.

    *What it does*: evaluates every `hold_rules` entry with action `hold` on each dose date:
    the latest on-treatment draw on or before the date of one of the rule's labs that met it
    (CTCAE grade, SI value, or multiple of ULN within a baseline band, as the anti-PD-1 label
    bands HCC hepatitis) and was not since resolved (grade <= `until_grade`), or an adverse event
    of the rule's CTCAE terms (named, by SOC, by pattern or by group) at or above its grade that
    started before the dose and had not come back to `until_grade`. Reported on the Action cell
    with the evidence and the rule's source.
    *Why it matters*: dosing through a hold (e.g. anti-PD-1 with grade 2 ALT increase,
    bevacizumab with proteinuria >= 2 g/24 h or grade 3 hypertension) exposes the subject to
    the toxicity the rule protects against (protocol 6.4; ASCO/NCCN irAE guideline 2021;
    bevacizumab prescribing information 2.4).
    *Example*: QL1604 Given on 2022-10-11 with ALT CTCAE grade 3 on 2022-10-10.
    """
    a = _counted(ctx, pl.col("hold_evidence").is_not_null() & pl.col("discontinued_since").is_null())
    if not a.height:
        return None
    sd, df = _rows(ctx, a)
    return emit(sd, df, "action", _hold_message("during a hold", "x_hold_rule_text", "x_hold_evidence",
                                                "x_hold_source"),
                suggestion=pl.lit("Check the hold rule; if the dose was given, document the reason (deviation)."))


def dosed_after_permanent_discontinuation(ctx):
    """A drug was given after a condition that requires stopping it for good.

    *What it does*: evaluates every `hold_rules` entry with action `discontinue` (e.g. ALT/AST
    > 10 x ULN or bilirubin > 3 x ULN on treatment, grade >= 3 pneumonitis, myocarditis grade >= 2,
    an irAE not back to grade <= 1 within 12 weeks for QL1604; any CTCAE v5.0 bleeding term grade
    >= 3, GI perforation, arterial thromboembolism, PRES or nephrotic syndrome for bevacizumab):
    any later dose of the drug is reported on its Action cell; so is a dose after an Action
    Discontinued row of that drug.
    *Why it matters*: re-challenge after a permanent-discontinuation event can be fatal and is a
    critical protocol deviation (ASCO 2021 irAE guideline; KEYTRUDA / OPDIVO prescribing
    information section 2, hepatitis in HCC; AVASTIN prescribing information 2.4).
    *Example*: bevacizumab Given on 2023-02-08 after grade 3 oesophageal variceal haemorrhage
    on 2023-01-18.
    """
    a = _counted(ctx, pl.col("discontinued_since").is_not_null())
    if not a.height:
        return None
    sd, df = _rows(ctx, a)
    return emit(sd, df, "action", _hold_message("after permanent discontinuation", "x_discontinued_rule_text",
                                                "x_discontinued_evidence", "x_discontinued_source"),
                suggestion=pl.lit("Check the date and the drug; if given, report the deviation at once."))


def dosed_after_off_treatment(ctx):
    """A drug was given after the subject's off-treatment date.

    *What it does*: compares each administration date with the Subjects off-treatment date
    (doses on that day are allowed). Off-treatment dates before the consent date (WB208) are
    left to that rule.
    *Why it matters*: either the dose or the off-treatment date is wrong; both feed exposure,
    safety follow-up windows and the end-of-treatment visit (ICH E6(R2) 4.9).
    *Example*: off treatment 2023-05-30, bevacizumab Given 2023-06-20.
    """
    subj = ctx.sheet("Subjects").frame
    consent = pl.col("consent_date") if "consent_date" in subj.columns else pl.lit(None, dtype=pl.Date)
    off = (subj.select("subject", pl.col("off_date"), consent.alias("consent_date"))
           .filter(pl.col("subject").is_not_null() & pl.col("off_date").is_not_null()
                   & ~(pl.col("off_date") < pl.col("consent_date")).fill_null(False))
           .unique("subject", keep="first"))
    a = _counted(ctx, pl.col("subject").is_in(off.get_column("subject").implode())).join(
        off.select("subject", "off_date"), on="subject")
    bad = a.filter(pl.col("date") > pl.col("off_date"))
    if not bad.height:
        return None
    sd, df = _rows(ctx, bad)
    return emit(sd, df, "date", pl.col("x_drug") + pl.lit(" given on ") + pl.col("x_date").cast(pl.String)
                + pl.lit(", after the off-treatment date ") + pl.col("x_off_date").cast(pl.String) + pl.lit("."),
                suggestion=pl.lit("Check the dose date and the Subjects off-treatment date."))


def _unknown_drug_cycles(ctx) -> pl.DataFrame:
    """subject, u_cycle of Cycles rows whose drug is not a profile drug (WB203)."""
    from ..derive.exposure import cycles_drug

    f = ctx.sheet("Cycles").frame
    return (f.filter(pl.col("drug").is_not_null() & cycles_drug(ctx).is_null()
                     & pl.col("cycle").is_not_null())
            .select("subject", pl.col("cycle").cast(pl.Int64).alias("u_cycle")))


def _previous_in_group(col: str, keys: list) -> pl.Expr:
    """`col` of the previous row of the same `keys` group, in a frame sorted by `keys` (groups
    contiguous, keys never null): `shift(1).over(keys)` without a window (several times faster)."""
    same = functools.reduce(operator.and_, [pl.col(k) == pl.col(k).shift(1) for k in keys])
    return pl.when(same).then(pl.col(col).shift(1))


def cycle_number_skipped(ctx):
    """A subject's cycle numbers for a drug jump: the cycles in between have no row at all.

    *What it does*: per subject and drug (aliases resolved), sorts the cycle numbers of all
    rows (given, held, delayed, discontinued); reports the first row of a cycle that follows a
    gap (e.g. 3 then 6), or a first cycle above 1, on its Cycle cell.
    A gap that a row of an unknown drug (WB203) could fill is left to that rule.
    *Why it matters*: a held or missed cycle must still be recorded (Action Held with a reason);
    a silent gap hides holds and makes exposure and dose intensity wrong (ICH E6(R2) 4.9).
    *Example*: QL1604 cycles 1, 2, 3, 6 with no rows for cycles 4 and 5.
    """
    adm = administrations(ctx).select("subject", "drug", "cycle", "row").filter(pl.col("cycle").is_not_null())
    # the first row of each cycle (the lowest row number: rows are unique), in cycle order
    firsts = (adm.group_by("subject", "drug", "cycle").agg(pl.col("row").min()).sort("subject", "drug", "cycle")
              .with_columns(_previous_in_group("cycle", ["subject", "drug"]).fill_null(0).alias("previous_cycle")))
    bad = firsts.filter(pl.col("cycle") > pl.col("previous_cycle") + 1)
    # a row of a drug the profile does not know (WB203) may be the missing cycle: not judged
    unknown = _unknown_drug_cycles(ctx)
    if unknown.height and bad.height:
        covered = (bad.join(unknown, on="subject")
                   .filter((pl.col("u_cycle") > pl.col("previous_cycle")) & (pl.col("u_cycle") < pl.col("cycle")))
                   .select("row").unique())
        bad = bad.join(covered, on="row", how="anti")
    if not bad.height:
        return None
    sd, df = _rows(ctx, bad)
    missing = (pl.when(pl.col("cycle") - pl.col("x_previous_cycle") == 2)
               .then(pl.lit("cycle ") + (pl.col("x_previous_cycle") + 1).cast(pl.String) + pl.lit(" has"))
               .otherwise(pl.lit("cycles ") + (pl.col("x_previous_cycle") + 1).cast(pl.String) + pl.lit("-")
                          + (pl.col("cycle") - 1).cast(pl.String) + pl.lit(" have")))
    prev = (pl.when(pl.col("x_previous_cycle") == 0).then(pl.lit(" is the first cycle of this drug"))
            .otherwise(pl.lit(" follows cycle ") + pl.col("x_previous_cycle").cast(pl.String)))
    return emit(sd, df, "cycle", pl.col("x_drug") + pl.lit(" cycle ") + pl.col("cycle").cast(pl.String) + prev
                + pl.lit(": ") + missing + pl.lit(" no row (given, held, delayed or discontinued)."),
                suggestion=pl.lit("Add the missing cycles (Action Held with the reason), or correct the cycle number."))


def cycle_number_repeated(ctx):
    """The same cycle number is used for two visits of a drug.

    *What it does*: per subject, drug and cycle number, reports a row dated at least
    `schedule.cycle_days` - `schedule.window_days` (18) days after the cycle's first row, on its
    Cycle cell. Two administrations of one cycle are left to WB204; a Delayed or Held row
    followed within 18 days by the dose of the same cycle is how a delay is recorded.
    *Why it matters*: a reused cycle number usually means the next cycle was mis-numbered, which
    shifts every later cycle, the schedule checks and the cycle summaries.
    *Example*: cycle 4 Held on 2022-10-11 and cycle 4 Given again on 2022-11-01.
    """
    sched = ctx.profile.schedule
    gap = sched["cycle_days"] - sched["window_days"]
    # only the columns used below: the sort moves a narrow frame, not every derived column
    adm = (administrations(ctx).select("row", "subject", "drug", "cycle", "date", "action", "administered")
           .filter(pl.col("cycle").is_not_null() & pl.col("date").is_not_null()))
    g = ["subject", "drug", "cycle"]
    df = adm.sort("date", "row").with_columns(
        pl.col("date").first().over(g).alias("first_date"), pl.col("row").first().over(g).alias("first_row"),
        pl.col("action").first().over(g).alias("first_action"),
        # the cycle's first administration (a `first` window: 15x faster than a cum_sum one)
        pl.col("row").filter(pl.col("administered")).first().over(g).alias("_first_adm"))
    # a second administration of the cycle is WB204's (administration-duplicated)
    bad = df.filter(((pl.col("date") - pl.col("first_date")).dt.total_days() >= gap)
                    & ~(pl.col("administered") & (pl.col("row") != pl.col("_first_adm"))))
    if not bad.height:
        return None
    sd, df2 = _rows(ctx, bad)
    return emit(sd, df2, "cycle", pl.col("x_drug") + pl.lit(" cycle ") + pl.col("cycle").cast(pl.String)
                + pl.lit(" (") + pl.col("action") + pl.lit(" on ") + pl.col("x_date").cast(pl.String)
                + pl.lit(") is already on row ") + pl.col("x_first_row").cast(pl.String) + pl.lit(" (")
                + pl.col("x_first_action") + pl.lit(" on ") + pl.col("x_first_date").cast(pl.String)
                + pl.lit(f"), {gap:g} or more days earlier."),
                suggestion=pl.lit("Check the cycle number: a later visit is usually the next cycle."))


# ---------------------------------------------------------------------------------------------
# Issue 11: labels without dose reduction, and resuming on steroids above the limit.

def dose_reduction_not_allowed(ctx):
    """A drug whose label allows no dose reduction was given as Reduced.

    *What it does*: reports each administration with Action Reduced of a drug listed in the
    profile's `dose_reduction.not_allowed` (QL1604 and bevacizumab), on its Action cell.
    *Why it matters*: anti-PD-1 antibodies and bevacizumab are withheld or discontinued for
    toxicity, never given at a lower dose (KEYTRUDA / OPDIVO prescribing information section 2:
    "No dose reduction ... is recommended"; AVASTIN prescribing information 2.4: no dose
    reduction for adverse reactions); a reduced dose is a protocol deviation.
    *Example*: bevacizumab 7.5 mg/kg, Action Reduced, for proteinuria.
    """
    drugs = list(ctx.profile.dose_reduction.get("not_allowed", ()))
    a = _counted(ctx, (pl.col("action") == "Reduced") & pl.col("drug").is_in(drugs))
    if not drugs or not a.height:
        return None
    sd, df = _rows(ctx, a)
    src = ctx.profile.dose_reduction.get("source", "")
    return emit(sd, df, "action", pl.col("x_drug") + pl.lit(" given as Reduced on ") + pl.col("x_date").cast(pl.String)
                + pl.lit(" (dose ") + pl.col("dose__raw").fill_null("?") + pl.lit(" ") + pl.col("x_unit").fill_null("")
                + pl.lit(f"): its label allows no dose reduction ({src})."),
                suggestion=pl.lit("Withhold or discontinue per the hold rules instead; if given reduced, report the "
                                  "deviation."))


def dosed_on_steroids_above_limit(ctx):
    """A drug was resumed after an immune-related AE while the steroid dose was above the rule's limit.

    *What it does*: for hold rules with `steroid_max_mg` (anti-PD-1 pneumonitis, colitis, hepatitis,
    nephritis, skin), finds doses given after an AE of the rule, once its hold is over, while the
    systemic corticosteroids of the ConMeds sheet started since that AE's onset sum to more than
    the limit (10 mg/day prednisone-equivalent; the profile's [steroids] table converts
    methylprednisolone, dexamethasone ...). Not evaluated without a ConMeds sheet.
    *Why it matters*: anti-PD-1 therapy is resumed only when the irAE is back to grade <= 1 and
    the steroid taper has reached prednisone <= 10 mg/day (ASCO 2021 irAE guideline, Schneider et
    al. J Clin Oncol 2021; KEYTRUDA / OPDIVO prescribing information section 2).
    *Example*: pneumonitis grade 2 from 2023-03-01, resolved 03-20; QL1604 given on 03-28 while
    on prednisone 30 mg/day.
    """
    a = _counted(ctx, pl.col("steroid_evidence").is_not_null() & pl.col("hold_evidence").is_null()
                 & pl.col("discontinued_since").is_null())
    if not a.height:
        return None
    sd, df = _rows(ctx, a)
    return emit(sd, df, "action", _hold_message("on steroids above the limit", "x_steroid_rule_text",
                                                "x_steroid_evidence", "x_steroid_source"),
                suggestion=pl.lit("Check the ConMeds doses; resume only once the taper reaches the limit."))
