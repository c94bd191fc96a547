"""Cell parsers as polars expressions: dates, qualified numbers, yes/no, choices.

Each parser takes the raw cell text (stripped, null when blank) and gives the typed value
plus an error code (null when the cell is fine or blank). The rules turn error codes into
findings; the parsers never guess a type from the data (workbook contract, "Column types").
"""

from __future__ import annotations

import polars as pl

from .schema import MISSING_MARKERS, YES_NO, Column, Kind, norm

# Error codes written to `<key>__err`; each maps to one rule (see rules/cells.py).
DATE_UNREADABLE = "date-unreadable"
DATE_IMPOSSIBLE = "date-impossible"
DATE_AMBIGUOUS = "date-ambiguous"
DATE_PARTIAL = "partial-date-not-allowed"
DATE_IMPLAUSIBLE = "date-implausible"
NUMBER_UNREADABLE = "number-unreadable"
INTEGER_EXPECTED = "integer-expected"
YESNO_UNREADABLE = "yes-no-unreadable"
CHOICE_UNKNOWN = "value-not-allowed"

EXCEL_EPOCH = pl.date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug before March 1900)
MIN_YEAR, MAX_YEAR = 1950, 2100  # a trial date outside these years is a typo

_ISO = r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_SERIAL = r"^\d{1,7}(?:\.\d+)?$"
_CLINICAL = r"^(\d{1,2})[- ]?([A-Za-z]{3})[- ]?(\d{4})$"
_NUMERIC_DM = r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$"
_PARTIAL_YM = r"^(\d{4})-(\d{1,2})$"
_PARTIAL_UNK = r"^(?:UN|UNK|UK|XX)[- ]?([A-Za-z]{3})[- ]?(\d{4})$"
_PARTIAL_YEAR = r"^(?:(?:UN|UNK|UK|XX)[- ]?(?:UNK|UN|XXX)[- ]?)?(\d{4})$"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

_NUMBER = r"^(<=|>=|≤|≥|<|>)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$"


def clean(raw: pl.Expr) -> pl.Expr:
    """Strip spaces (incl. non-breaking); blank becomes null."""
    s = raw.cast(pl.String).str.strip_chars(" \t\r\n\u00a0")
    return pl.when(s.str.len_chars() == 0).then(None).otherwise(s)


def is_missing_marker(s: pl.Expr) -> pl.Expr:
    """ND, NA, not done, ... : a value that is known to be missing, not zero."""
    return s.str.to_lowercase().is_in([m for m in MISSING_MARKERS if m])


def _month_number(mon: pl.Expr) -> pl.Expr:
    # one lookup node, not a 12-deep when/then chain: the chain repeated `mon` 12 times and made
    # every date column's expression tree (and its planning time) grow by that factor
    return mon.str.to_uppercase().replace_strict({name: i for i, name in enumerate(_MONTHS, start=1)},
                                                 default=None, return_dtype=pl.Int32)


def _ymd(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    """A date from parts, null when the parts do not make a real date (2022-02-30)."""
    txt = pl.format("{}-{}-{}", y.cast(pl.String).str.zfill(4), m.cast(pl.String).str.zfill(2),
                    d.cast(pl.String).str.zfill(2))
    return txt.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def parse_date(s: pl.Expr, date_format: str | None = None, allow_partial: bool = False) -> dict:
    """Dates as the contract allows: Excel date cells and serials, ISO, 05-JUL-2022 / 05 Jul 2022,
    numeric D/M forms only when the Study sheet names the format; partial dates when allowed.

    Returns expressions: value (full date or null), lo/hi (earliest/latest possible day; equal
    to value for a full date), err (error code or null).
    """
    iso = s.str.contains(_ISO)
    iso_d = _ymd(s.str.extract(r"^(\d{4})", 1), s.str.extract(r"^\d{4}-(\d{1,2})", 1),
                 s.str.extract(r"^\d{4}-\d{1,2}-(\d{1,2})", 1))
    serial = s.str.contains(_SERIAL)
    serial_n = s.cast(pl.Float64, strict=False)
    serial_d = (EXCEL_EPOCH + pl.duration(days=serial_n.floor().cast(pl.Int64, strict=False)))
    clin = s.str.contains(_CLINICAL)
    clin_m = _month_number(s.str.extract(_CLINICAL, 2))
    clin_d = _ymd(s.str.extract(_CLINICAL, 3), clin_m, s.str.extract(_CLINICAL, 1))
    dm = s.str.contains(_NUMERIC_DM)
    a, b, y = (s.str.extract(_NUMERIC_DM, i) for i in (1, 2, 3))
    if date_format == "DD/MM/YYYY":
        dm_d = _ymd(y, b, a)
    elif date_format == "MM/DD/YYYY":
        dm_d = _ymd(y, a, b)
    else:
        dm_d = pl.lit(None, dtype=pl.Date)

    full = (pl.when(iso).then(iso_d)
            .when(serial).then(serial_d)
            .when(clin).then(clin_d)
            .when(dm).then(dm_d)
            .otherwise(pl.lit(None, dtype=pl.Date)))

    # partial dates: earliest and latest possible day
    ym = s.str.contains(_PARTIAL_YM)
    ym_lo = _ymd(s.str.extract(_PARTIAL_YM, 1), s.str.extract(_PARTIAL_YM, 2), pl.lit("1"))
    su = s.str.to_uppercase()
    unk = su.str.contains(_PARTIAL_UNK) & su.str.extract(_PARTIAL_UNK, 1).is_in(list(_MONTHS))
    unk_lo = _ymd(su.str.extract(_PARTIAL_UNK, 2), _month_number(su.str.extract(_PARTIAL_UNK, 1)), pl.lit("1"))
    yr = su.str.contains(_PARTIAL_YEAR) & (~serial | s.str.contains(r"^(19|20)\d{2}$"))
    yr_lo = _ymd(su.str.extract(_PARTIAL_YEAR, 1), pl.lit("1"), pl.lit("1"))
    yr_hi = _ymd(su.str.extract(_PARTIAL_YEAR, 1), pl.lit("12"), pl.lit("31"))
    # outside AE dates a bare year stays an Excel serial (2022 -> 1905-07-14, implausible), but an
    # explicit unknown day and month (UNK-UNK-2022) is a partial date there too
    yr_unk = su.str.contains(r"^(?:UN|UNK|UK|XX)[- ]?(?:UNK|UN|XXX)[- ]?\d{4}$")
    is_partial = ym | unk | (yr if allow_partial else yr_unk)
    p_lo = pl.when(ym).then(ym_lo).when(unk).then(unk_lo).when(yr).then(yr_lo)
    p_hi = (pl.when(ym | unk).then(p_lo.dt.month_end()).when(yr).then(yr_hi))

    if allow_partial:
        # in a partial-date column a bare 4-digit year 1900-2100 is a year, not a serial
        full = pl.when(yr).then(pl.lit(None, dtype=pl.Date)).otherwise(full)

    value = full
    lo = pl.when(full.is_not_null()).then(full).when(is_partial).then(p_lo) if allow_partial else full
    hi = pl.when(full.is_not_null()).then(full).when(is_partial).then(p_hi) if allow_partial else full
    year = full.dt.year()
    p_year = p_lo.dt.year()
    err = (pl.when(s.is_null() | is_missing_marker(s)).then(None)
           .when(full.is_not_null() & ((year < MIN_YEAR) | (year > MAX_YEAR))).then(pl.lit(DATE_IMPLAUSIBLE))
           .when(full.is_not_null()).then(None)
           .when(dm & pl.lit(date_format is None)).then(pl.lit(DATE_AMBIGUOUS))
           .when(is_partial & pl.lit(allow_partial) & p_lo.is_not_null()
                 & ((p_year < MIN_YEAR) | (p_year > MAX_YEAR))).then(pl.lit(DATE_IMPLAUSIBLE))
           .when(is_partial & pl.lit(allow_partial) & p_lo.is_not_null()).then(None)
           .when(is_partial & pl.lit(not allow_partial)).then(pl.lit(DATE_PARTIAL))
           .when(iso | clin | dm | ((ym | unk) & p_lo.is_null())).then(pl.lit(DATE_IMPOSSIBLE))
           .when(serial).then(pl.lit(DATE_IMPLAUSIBLE))
           .otherwise(pl.lit(DATE_UNREADABLE)))
    return {"value": value, "lo": lo, "hi": hi, "err": err}


def parse_number(s: pl.Expr) -> dict:
    """`12.5`, `<0.5`, `>1210`, `≤2`: the number and its qualifier. ND / NA / not done: missing."""
    v = s.str.extract(_NUMBER, 2).cast(pl.Float64, strict=False)
    ok = s.str.contains(_NUMBER) & v.is_finite()   # 1e400 overflows to inf: not a number
    v = pl.when(ok).then(v)
    q = pl.when(ok).then(s.str.extract(_NUMBER, 1).str.replace("≤", "<=").str.replace("≥", ">="))
    err = (pl.when(s.is_null() | is_missing_marker(s) | ok).then(None)
           .otherwise(pl.lit(NUMBER_UNREADABLE)))
    return {"value": v, "q": q, "err": err}


def parse_int(s: pl.Expr) -> dict:
    n = parse_number(s)
    v = n["value"]
    whole = (v == v.round(0)) & n["q"].is_null()
    err = (pl.when(n["err"].is_not_null()).then(n["err"])
           .when(v.is_not_null() & ~whole).then(pl.lit(INTEGER_EXPECTED)))
    # a whole number beyond Int64 (1e20) must not vanish: clipped, it stays far outside every
    # integer column's range and is reported as out of range
    big = float(2 ** 62)
    return {"value": pl.when(whole).then(v.clip(-big, big).cast(pl.Int64, strict=False)), "err": err}


def parse_yesno(s: pl.Expr) -> dict:
    low = s.str.to_lowercase()
    v = low.replace_strict(YES_NO, default=None, return_dtype=pl.Boolean)
    err = (pl.when(s.is_null() | v.is_not_null()).then(None)
           .when(is_missing_marker(s)).then(None)
           .otherwise(pl.lit(YESNO_UNREADABLE)))
    return {"value": v, "err": err}


def choice_map(col: Column) -> dict:
    m = {norm(c): c for c in col.choices}
    for alias, canon in (col.choice_aliases or {}).items():
        m[norm(alias)] = canon
    return m


def norm_expr(s: pl.Expr) -> pl.Expr:
    """The expression form of schema.norm for cell values."""
    return (s.str.replace(r"\s*[\(\[][^\)\]]*[\)\]]\s*$", "").str.to_lowercase()
            .str.replace_all(r"[^0-9a-z#]+", ""))


def parse_choice(s: pl.Expr, col: Column) -> dict:
    m = choice_map(col)
    n = norm_expr(s)
    v = n.replace_strict(m, default=None, return_dtype=pl.String)
    err = pl.when(s.is_null() | v.is_not_null()).then(None).otherwise(pl.lit(CHOICE_UNKNOWN))
    return {"value": v, "err": err}


def parse_id(s: pl.Expr) -> pl.Expr:
    """Identifiers: a number cell 1001 arrives as '1001' or '1001.0'; both mean '1001'."""
    return s.str.replace(r"^(\d+)\.0+$", "${1}")


def parse_column(raw_name: str, col: Column, date_format: str | None) -> list[pl.Expr]:
    """All typed expressions for one column, named `<key>`, `<key>__err` and extras."""
    s = pl.col(raw_name)
    k = col.key
    if col.kind in (Kind.TEXT,):
        return [s.alias(k), pl.lit(None, dtype=pl.String).alias(f"{k}__err")]
    if col.kind is Kind.ID:
        return [parse_id(s).alias(k), pl.lit(None, dtype=pl.String).alias(f"{k}__err")]
    if col.kind is Kind.NUMBER:
        p = parse_number(s)
        return [p["value"].alias(k), p["q"].alias(f"{k}__q"), p["err"].alias(f"{k}__err")]
    if col.kind is Kind.INT:
        p = parse_int(s)
        return [p["value"].alias(k), p["err"].alias(f"{k}__err")]
    if col.kind in (Kind.DATE, Kind.PARTIAL_DATE):
        p = parse_date(s, date_format, allow_partial=col.kind is Kind.PARTIAL_DATE)
        out = [p["value"].alias(k), p["err"].alias(f"{k}__err")]
        if col.kind is Kind.PARTIAL_DATE:
            out += [p["lo"].alias(f"{k}__lo"), p["hi"].alias(f"{k}__hi")]
        return out
    if col.kind is Kind.YESNO:
        p = parse_yesno(s)
        return [p["value"].alias(k), p["err"].alias(f"{k}__err")]
    if col.kind is Kind.CHOICE:
        p = parse_choice(parse_id(s), col)
        return [p["value"].alias(k), p["err"].alias(f"{k}__err")]
    raise AssertionError(col.kind)
