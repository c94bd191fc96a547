"""Cell rules (WB1xx): every value read by the type its column declares.

The parsers (workbook/parse.py) leave an error code in `<key>__err`; each rule below picks
its code out of every column of every sheet, so one rule covers e.g. all date columns.
"""

from __future__ import annotations

import polars as pl

from ..derive.exposure import cached
from ..workbook import parse as P
from ..workbook.schema import Kind, columns_for
from .base import emit, frame, quoted

# columns whose values a more specific rule checks (Labs.Result: numbers or dipstick results)
CUSTOM = {("Labs", "result")}
# required columns where a missing marker (ND, not done) is itself the answer (workbook
# contract, Labs: "Result ... number, qualified number, or missing marker")
MARKER_ANSWERS = {("Labs", "result")}


def _columns(ctx, sd):
    return [c for c in columns_for(sd.schema, ctx.profile.related_drug_names) if c.key in sd.columns]


def _hits(sd, conds: list) -> list:
    """Whether each boolean expression of `conds` holds on some row of `sd.frame`, in one query
    for the sheet (a rule filters only the columns with hits instead of querying every column)."""
    if not conds or not sd.frame.height:
        return [False] * len(conds)
    return list(sd.frame.select([c.any().alias(f"_{i}") for i, c in enumerate(conds)]).row(0))


def _error_columns(ctx) -> list:
    """[(sheet, column, the error codes it holds)] for every column holding one, in sheet and
    column order: one look at each sheet's `__err` columns per check, shared by the nine rules
    below (each looked at every column of every sheet itself: ~2,000 polars calls a check)."""
    return cached(ctx, "cell_error_columns", _build_error_columns)


def _build_error_columns(ctx) -> list:
    out = []
    for sd in ctx.wb.sheets.values():
        names = set(sd.frame.columns)
        for c in _columns(ctx, sd):
            if (sd.schema.name, c.key) in CUSTOM or f"{c.key}__err" not in names:
                continue
            errs = sd.frame.get_column(f"{c.key}__err")
            if errs.null_count() == errs.len():  # the usual case
                continue
            out.append((sd, c, set(errs.drop_nulls().unique().to_list())))
    return out


def _errors(ctx, code: str, message) -> pl.DataFrame:
    out = []
    for sd, c, codes in _error_columns(ctx):
        if code not in codes:
            continue
        bad = sd.frame.filter(sd.frame.get_column(f"{c.key}__err") == code)   # only the columns with the error
        raw = pl.col(f"{c.key}__raw")
        suggestion = (number_suggestion(raw, c, unit_column=sd.has("unit")) if code == P.NUMBER_UNREADABLE
                      else _implausible_suggestion(raw) if code == P.DATE_IMPLAUSIBLE
                      else _suggest(code, c))
        out.append(emit(sd, bad, c.key, message(c, raw, pl.col(c.key)), suggestion=suggestion))
    return pl.concat(out) if out else None


# ------------------------------------------------------------------ suggestions written for the column

_DECIMAL_COMMA = r"^\s*([<>≤≥]=?\s*)?(\d+),(\d+)\s*$"
_NUMBER_AND_UNIT = r"^\s*([<>≤≥]=?\s*)?(\d+(?:[.,]\d+)?)\s*([A-Za-zµμ%/^*][^\d]*.*?)\s*$"
_RANGE = r"^\s*(\d+(?:\.\d+)?)\s*(?:-|–|to|/)\s*(\d+(?:\.\d+)?)\s*$"


def number_suggestion(raw: pl.Expr, c=None, unit_column: bool = False) -> pl.Expr:
    """What to type instead of a value that is not a number, written for the column `c`:
    `7,5` -> "Did you mean 7.5?"; `200 mg` -> "Did you mean 200? ..."; a range `2-3` in a
    whole-number column (grade, cycle) -> one value; otherwise the column's own kind of number.
    `unit_column`: the row has a Unit column where a unit belongs (Labs, Cycles)."""
    integer = c is not None and c.kind is Kind.INT
    comma_num = raw.str.replace(_DECIMAL_COMMA, "${1}${2}.${3}")
    three = raw.str.extract(_DECIMAL_COMMA, 3).str.len_chars() == 3
    thousands = raw.str.replace(_DECIMAL_COMMA, "${1}${2}${3}")
    unit_num = (raw.str.extract(_NUMBER_AND_UNIT, 1).fill_null("").str.replace_all(" ", "", literal=True)
                + raw.str.extract(_NUMBER_AND_UNIT, 2).str.replace(",", ".", literal=True))
    unit_txt = raw.str.extract(_NUMBER_AND_UNIT, 3)
    unit_advice = (pl.lit("; put the unit in the Unit column.") if unit_column
                   else pl.lit("; leave the unit out" + (f" (the column is in {c.unit})." if c is not None
                                                         and c.unit else ".")))
    if integer:
        rng = ""
        if c.min is not None and c.max is not None:
            rng = f" {c.min:g}-{c.max:g}"
        worst = " (for a grade, the highest reached)" if c.key == "grade" else ""
        default = pl.lit(f"Enter one whole number{rng}{worst}.")
        range_advice = pl.lit(f"Enter one whole number, not a range{worst}.")
    else:
        unit = f", in {c.unit}" if c is not None and c.unit else ""
        default = pl.lit(f"Enter a number such as 12.5 or <0.5 (decimal point, no unit{unit}), or ND if not done.")
        range_advice = pl.lit("Enter one number, not a range.")
    comma = pl.lit("Did you mean ") + comma_num + pl.lit("? Use a decimal point, not a comma.")
    comma3 = (pl.lit("Did you mean ") + comma_num + pl.lit(" or ") + thousands
              + pl.lit("? Use a decimal point and no thousands separator."))
    return (pl.when(raw.str.contains(_DECIMAL_COMMA) & three.fill_null(False)).then(comma3)
            .when(raw.str.contains(_DECIMAL_COMMA)).then(comma)
            .when(raw.str.contains(_RANGE)).then(range_advice)
            .when(raw.str.contains(_NUMBER_AND_UNIT) & unit_num.is_not_null())
            .then(pl.lit("Did you mean ") + unit_num + pl.lit("? '") + unit_txt + pl.lit("' is not part of the number")
                  + unit_advice)
            .otherwise(default))


def _suggest(code: str, c):
    text = {
        P.DATE_UNREADABLE: "Type the date as 2022-07-05 or 05-JUL-2022, or use an Excel date.",
        P.DATE_IMPOSSIBLE: "Check the day and month.",
        P.DATE_AMBIGUOUS: "Write 05-JUL-2022, or set 'Date format' (DD/MM/YYYY or MM/DD/YYYY) on the Study sheet.",
        P.DATE_PARTIAL: "Enter the full date; only AE onset and end dates may be partial.",
        P.DATE_IMPLAUSIBLE: "Check the year.",
        P.NUMBER_UNREADABLE: "Enter a number such as 12.5 or <0.5 (decimal point, no units), or ND if not done.",
        P.INTEGER_EXPECTED: "Enter a whole number.",
        P.YESNO_UNREADABLE: "Enter Y or N.",
        P.CHOICE_UNKNOWN: "Use one of: " + ", ".join(c.choices) + "." if c.choices else None,
    }.get(code)
    return pl.lit(text, dtype=pl.String)


def date_unreadable(ctx):
    """A date cell holds something that is not a date in any accepted form.

    *What it does*: accepts Excel dates and serial numbers, ISO `2022-07-05`, and the
    clinical `05-JUL-2022` / `05 Jul 2022`; anything else is reported.
    *Why it matters*: an unread date drops the record out of every window, interval and
    grading check (ICH E6(R2) 4.9.1: data must be attributable, legible, accurate).
    *Example*: `5th July` in Labs!B14.
    """
    return _errors(ctx, P.DATE_UNREADABLE,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw) + pl.lit(" is not a date."))


def date_impossible(ctx):
    """A date has the right form but no such day exists.

    *What it does*: parses the day, month and year and rejects a day the calendar lacks.
    *Why it matters*: 31-FEB is a typing error; reading it as 3 March or 28 Feb would be a guess.
    *Example*: `2022-02-30` in Cycles!C9.
    """
    return _errors(ctx, P.DATE_IMPOSSIBLE,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw) + pl.lit(" is not a real date."))


def date_ambiguous(ctx):
    """A numeric date like 05/07/2022 could be 5 July or 7 May.

    *What it does*: rejects numeric day/month dates unless the Study sheet's `Date format`
    says which order the site uses.
    *Why it matters*: sites in different countries write day and month in different orders;
    guessing shifts a date by months (workbook contract, Dates).
    *Example*: `05/07/2022` with no `Date format` on the Study sheet.
    """
    return _errors(ctx, P.DATE_AMBIGUOUS,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw)
                   + pl.lit(" could be day/month or month/day."))


def partial_date_not_allowed(ctx):
    """A partial date (no day or month) where a full date is required.

    *What it does*: allows `2022-07`, `UNK-JUL-2022` only in AdverseEvents onset and end.
    *Why it matters*: dosing, lab and consent dates drive windows measured in days.
    *Example*: `2022-07` as a Labs collection date.
    """
    return _errors(ctx, P.DATE_PARTIAL,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw)
                   + pl.lit(" is a partial date; this column needs a full date."))


def date_implausible(ctx):
    """A date falls outside 1950-2100, usually a typo in the year or a number in a date cell.

    *What it does*: flags dates (including Excel serial numbers) before 1950 or after 2100; a
    bare number of up to four digits is called a number (or a year), not a serial date.
    *Why it matters*: a number like 12 typed in a date cell is day 12 of 1900; the date is not
    used by any other check, so the record drops out of windows until it is fixed.
    *Example*: `12` in Subjects!E4 (consent date).
    """
    return _errors(ctx, P.DATE_IMPLAUSIBLE, _implausible_message)


def _implausible_suggestion(raw):
    n = raw.str.extract(r"^\s*(\d+)(?:\.0+)?\s*$", 1)
    return (pl.when(n.is_not_null() & (n.str.len_chars() < 5))
            .then(pl.lit("Type the day, month and year, e.g. 05-JUL-2022, or use an Excel date."))
            .otherwise(pl.lit("Check the year.")))


def _implausible_message(c, raw, v):
    """A bare number of five or more digits is plausibly an Excel serial date and is shown as the
    date it counts to; a shorter one (2204, 12) is a number typed in a date cell, and a real date
    outside 1950-2100 has a wrong year."""
    n = raw.str.extract(r"^\s*(\d+)(?:\.0+)?\s*$", 1)
    serial = n.str.len_chars() >= 5
    as_date = (P.EXCEL_EPOCH + pl.duration(days=n.cast(pl.Int64, strict=False))).cast(pl.String)
    head = pl.lit(f"{c.name} ") + quoted(raw)
    year = n.cast(pl.Int64, strict=False).is_between(1900, 2100)
    return (pl.when(n.is_not_null() & serial)
            .then(head + pl.lit(" is not a plausible date: read as an Excel serial date it is ") + as_date
                  + pl.lit(", outside 1950-2100."))
            .when(n.is_not_null() & year)
            .then(head + pl.lit(" is a year alone, not a date."))
            .when(n.is_not_null())
            .then(head + pl.lit(" is a number, not a date."))
            .otherwise(head + pl.lit(" is not a plausible date: it falls outside 1950-2100.")))


def number_unreadable(ctx):
    """A number cell holds text that is not a number, a qualified number or a missing marker.

    *What it does*: accepts `12.5`, `<0.5`, `>1210`, `≤2`, and `ND`/`NA`/`not done` as missing.
    *Why it matters*: a value that cannot be read cannot be range-checked or graded; it must
    never silently become zero.
    *Example*: `12,5` or `12.5 mg` in Cycles!E7.
    """
    return _errors(ctx, P.NUMBER_UNREADABLE,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw) + pl.lit(" is not a number."))


def integer_expected(ctx):
    """A whole number was expected (cycle, age, grade, ECOG, AE number).

    *What it does*: rejects fractions and qualified values in integer columns.
    *Why it matters*: cycle 2.5 or grade `<3` has no meaning and breaks ordering and grading.
    *Example*: `2.5` in Cycles!B8.
    """
    return _errors(ctx, P.INTEGER_EXPECTED,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw) + pl.lit(" is not a whole number."))


def yes_no_unreadable(ctx):
    """A yes/no cell holds something other than Y/N, Yes/No, 1/0 or True/False.

    *What it does*: reads the accepted forms in any case.
    *Why it matters*: `Serious`, `Ongoing` and relatedness drive SAE and causality checks.
    *Example*: `maybe` in AdverseEvents!I5.
    """
    return _errors(ctx, P.YESNO_UNREADABLE,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw) + pl.lit(" is not Y or N."))


def value_not_allowed(ctx):
    """A cell of a fixed list holds a value that is not on the list.

    *What it does*: checks Sex, Action, Unit, Outcome, Lesion type and other lists (aliases
    such as `Male` for `M` are accepted).
    *Why it matters*: dosing and AE rules branch on these values; an unknown one would skip them.
    *Example*: `Skipped` as a Cycles action (use Held or Delayed).
    """
    return _errors(ctx, P.CHOICE_UNKNOWN,
                   lambda c, raw, v: pl.lit(f"{c.name} ") + quoted(raw)
                   + pl.lit(" is not one of: " + ", ".join(c.choices) + "."))


def required_value_missing(ctx):
    """A required cell is blank (or a missing marker) in a row that has data.

    *What it does*: checks every required column of every record.
    *Why it matters*: a result without a date or an AE without a grade cannot be used in any
    safety check (ICH E6(R2) 4.9.0: complete source data).
    *Example*: an AdverseEvents row with no Grade.
    """
    out = []
    for sd in ctx.wb.sheets.values():
        todo = []
        for c in _columns(ctx, sd):
            if not c.required:
                continue
            raw = pl.col(f"{c.key}__raw")
            missing = raw.is_null()
            if (sd.schema.name, c.key) not in MARKER_ANSWERS:
                missing = missing | P.is_missing_marker(raw)
            todo.append((c, raw, missing))
        for (c, raw, missing), hit in zip(todo, _hits(sd, [t[2] for t in todo])):
            if hit:
                bad = sd.frame.filter(missing)
                msg = (pl.when(raw.is_null()).then(pl.lit(f"{c.name} is blank; it is required."))
                       .otherwise(pl.lit(f"{c.name} ") + quoted(raw) + pl.lit(" marks it as missing; it is required.")))
                out.append(emit(sd, bad, c.key, msg, suggestion=pl.lit(c.doc or None, dtype=pl.String)))
    return pl.concat(out) if out else None


def value_out_of_range(ctx):
    """A number is outside the range the contract allows for its column.

    *What it does*: checks age 18-100, weight 25-250 kg, grade 1-5, ECOG 0-5, cycle >= 1,
    blood pressure, diameters and dose >= 0.
    *Why it matters*: out-of-range values are typing errors (weight 7.5 for 75) that would
    distort weight-based doses and grades.
    *Example*: Age `640` in Subjects!C5.
    """
    out = []
    for sd in ctx.wb.sheets.values():
        todo = []
        for c in _columns(ctx, sd):
            if c.min is None and c.max is None or c.kind not in (Kind.NUMBER, Kind.INT):
                continue
            v = pl.col(c.key)
            cond = pl.lit(False)
            if c.min is not None:
                cond = cond | (v < c.min)
            if c.max is not None:
                cond = cond | (v > c.max)
            todo.append((c, v.is_not_null() & cond))
        for (c, cond), hit in zip(todo, _hits(sd, [t[1] for t in todo])):
            if hit:
                bad = sd.frame.filter(cond)
                rng = f"{c.min:g}-{c.max:g}" if c.min is not None and c.max is not None else (
                    f">= {c.min:g}" if c.min is not None else f"<= {c.max:g}")
                unit = f" {c.unit}" if c.unit else ""
                out.append(emit(sd, bad, c.key, pl.lit(f"{c.name} ") + quoted(pl.col(f"{c.key}__raw"))
                                + pl.lit(f" is outside the allowed range {rng}{unit}.")))
    return pl.concat(out) if out else None


def date_in_future(ctx):
    """A date is later than the day the check runs.

    *What it does*: compares every full date with the run date (passed in, so reruns agree).
    *Why it matters*: data are entered after the fact; a future date is a typo in the year
    or month (a planned, not-given dose is the only exception and is marked Held/Delayed).
    *Example*: a lab collection date of 2032-07-05.
    """
    out = []
    today = pl.lit(ctx.today)
    for sd in ctx.wb.sheets.values():
        todo = []
        for c in _columns(ctx, sd):
            if c.kind not in (Kind.DATE, Kind.PARTIAL_DATE):
                continue
            v = pl.col(c.key) if c.kind is Kind.DATE else pl.col(f"{c.key}__lo")
            cond = v.is_not_null() & (v > today)
            if sd.schema.name == "Cycles" and c.key == "date" and "action" in sd.columns:
                cond = cond & pl.col("action").is_in(["Given", "Reduced"]).fill_null(True)
            todo.append((c, cond))
        for (c, cond), hit in zip(todo, _hits(sd, [t[1] for t in todo])):
            if hit:
                bad = sd.frame.filter(cond)
                out.append(emit(sd, bad, c.key, pl.lit(f"{c.name} ") + quoted(pl.col(f"{c.key}__raw"))
                                + pl.lit(f" is after today ({ctx.today.isoformat()}).")))
    return pl.concat(out) if out else None
