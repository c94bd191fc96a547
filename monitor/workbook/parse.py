"""Cell parsers as polars expressions: dates, qualified numbers, yes/no, choices.

Each parser takes the raw cell text (stripped, null when blank) and gives the typed value
plus an error code (null when the cell is fine or blank). The rules turn error codes into
findings; the parsers never guess a type from the data (workbook contract, "Column types").
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import polars as pl

from ..frames import lookup_set, mapping_series
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

# Excel serial 61 = 1900-03-01; serials below 61 are off by one (Excel's fictitious 1900-02-29),
# but they are all before 1950 and so rejected as implausible anyway.
EXCEL_EPOCH = pl.date(1899, 12, 30)
MIN_YEAR, MAX_YEAR = 1950, 2100  # a trial date outside these years is a typo

_ISO = r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_SERIAL = r"^\d{1,7}(?:\.\d+)?$"
_CLINICAL = r"^(\d{1,2})[- ]?([A-Za-z]{3})[- ]?(\d{4})$"
_NUMERIC_DM = r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$"
_PARTIAL_YM = r"^(\d{4})-(\d{1,2})$"
_PARTIAL_UNK = r"^(?:UN|UNK|UK|XX)[- ]?([A-Za-z]{3})[- ]?(\d{4})$"
_PARTIAL_YEAR = r"^(?:(?:UN|UNK|UK|XX)[- ]?(?:UNK|UN|XXX)[- ]?)?(\d{4})$"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# no leading "+": `+1` is a dipstick reading, not the number 1
_NUMBER = r"^(<=|>=|≤|≥|<|>)?\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$"


def clean(raw: pl.Expr) -> pl.Expr:
    """Strip spaces (incl. non-breaking); blank becomes null."""
    s = raw.cast(pl.String).str.strip_chars(" \t\r\n\u00a0")
    return pl.when(s.str.len_chars() == 0).then(None).otherwise(s)


def is_missing_marker(s: pl.Expr) -> pl.Expr:
    """ND, NA, not done, ... : a value that is known to be missing, not zero (in any case)."""
    return s.is_in(_marker_set())


@lru_cache(maxsize=1)
def _marker_set() -> pl.Series:
    """_marker_spellings as is_in reads it, built once (a read and the rules ask ~30 times)."""
    return lookup_set(_marker_spellings())


@lru_cache(maxsize=1)
def _marker_spellings() -> tuple:
    """Every text whose lowercase is a missing marker (`nd`, `Nd`, `ND` ...): a set lookup per
    cell instead of lowercasing every cell of a 600,000-row column (5x faster). The only
    non-ASCII character that lowercases to an ASCII letter is the Kelvin sign (to `k`)."""
    def spellings(m: str) -> list:
        alts = [sorted({ch, ch.upper()} | ({"\u212a"} if ch == "k" else set())) for ch in m]
        return ["".join(p) for p in itertools.product(*alts)]

    return tuple(sorted({v for m in MISSING_MARKERS if m for v in spellings(m)}))


def _strptime(text: pl.Expr, fmt: str) -> pl.Expr:
    """A date from text rewritten to Y-M-D, null when no such day exists (2022-02-30)."""
    return text.str.strptime(pl.Date, fmt, strict=False)


def _year_state(d: pl.Expr) -> pl.Expr:
    """1: a date within MIN_YEAR..MAX_YEAR, 0: a date outside them, -1: no date."""
    return d.dt.year().is_between(MIN_YEAR, MAX_YEAR).cast(pl.Int32).fill_null(-1)


def _date_error(missing, dm, partial, iso_or_clinical, year_month_or_unk, serial, full, part,
                date_format, allow_partial):
    """The error of one date cell from its facts (full/part: _year_state of the full date and of
    the earliest day of a partial date), checked in this order."""
    if missing:
        return None
    if full == 0:
        return DATE_IMPLAUSIBLE
    if full == 1:
        return None
    if dm and date_format is None:
        return DATE_AMBIGUOUS
    if partial and allow_partial and part == 0:
        return DATE_IMPLAUSIBLE
    if partial and allow_partial and part == 1:
        return None
    if partial and not allow_partial:
        return DATE_PARTIAL
    if iso_or_clinical or dm or (year_month_or_unk and part == -1):
        return DATE_IMPOSSIBLE
    if serial:
        return DATE_IMPLAUSIBLE
    return DATE_UNREADABLE


@lru_cache(maxsize=None)
def _date_errors(date_format: str | None, allow_partial: bool) -> dict:
    """The packed facts code of parse_date -> error, for every combination that is an error."""
    out = {}
    for bits in range(64):
        flags = [bool(bits >> i & 1) for i in range(6)]
        for full in (-1, 0, 1):
            for part in (-1, 0, 1):
                e = _date_error(*flags, full, part, date_format, allow_partial)
                if e is not None:
                    out[bits + (full + 1) * 64 + (part + 1) * 192] = e
    return out


class _Inline:
    """parse_date's parts written into one expression tree (the plain form)."""

    def __call__(self, name: str, e: pl.Expr) -> pl.Expr:
        return e

    def stage(self) -> None:
        pass


class _Staged:
    """parse_date's parts computed as columns, one `with_columns` per stage (date_stages)."""

    def __init__(self, prefix: str):
        self.prefix, self.stages = prefix, [[]]

    def __call__(self, name: str, e: pl.Expr) -> pl.Expr:
        self.stages[-1].append(e.alias(self.prefix + name))
        return pl.col(self.prefix + name)

    def stage(self) -> None:
        self.stages.append([])


def parse_date(s: pl.Expr, date_format: str | None = None, allow_partial: bool = False) -> dict:
    """Dates as the contract allows: Excel date cells and serials, ISO, 05-JUL-2022 / 05 Jul 2022,
    numeric D/M forms only when the Study sheet names the format; partial dates when allowed.

    Returns expressions: value (full date or null), lo/hi (earliest/latest possible day; equal
    to value for a full date), err (error code or null).

    Each form is rewritten to `Y-M-D` text by one regex replace and parsed by one strptime
    (`%b` reads JAN..DEC in any case): the expressions below are referenced several times, so
    every node saved here is saved many times over in the planned query.
    """
    return _date_plan(s, date_format, allow_partial, _Inline())


def date_stages(raw_name: str, date_format: str | None = None, allow_partial: bool = False) -> tuple:
    """parse_date of column `raw_name` as (stages, outputs): each stage a list of expressions for
    one `with_columns` (columns named `<raw_name>\x1f<part>`), then the outputs of parse_date
    over those columns. The same values as parse_date (tests/test_parse.py pins it), at a
    quarter of the cost on a small frame: the plain tree evaluates the full date's four forms
    about five times per output, and polars' eager engine does not share them."""
    put = _Staged(f"{raw_name}\x1f")
    out = _date_plan(pl.col(raw_name), date_format, allow_partial, put)
    return [st for st in put.stages if st], out


def _date_plan(s: pl.Expr, date_format, allow_partial: bool, put) -> dict:
    iso = put("iso", s.str.contains(_ISO))
    iso_d = put("iso_d", _strptime(s.str.extract(r"^(\d{4}-\d{1,2}-\d{1,2})", 1), "%Y-%m-%d"))
    serial_x = s.str.contains(_SERIAL)
    serial = put("serial", serial_x)
    serial_n = s.cast(pl.Float64, strict=False)
    serial_d = put("serial_d", EXCEL_EPOCH + pl.duration(days=serial_n.floor().cast(pl.Int64, strict=False)))
    clin = put("clin", s.str.contains(_CLINICAL))
    clin_d = put("clin_d", _strptime(s.str.replace(_CLINICAL, "${3}-${2}-${1}"), "%Y-%b-%d"))
    dm = put("dm", s.str.contains(_NUMERIC_DM))
    if date_format == "DD/MM/YYYY":
        dm_d = put("dm_d", _strptime(s.str.replace(_NUMERIC_DM, "${3}-${2}-${1}"), "%Y-%m-%d"))
    elif date_format == "MM/DD/YYYY":
        dm_d = put("dm_d", _strptime(s.str.replace(_NUMERIC_DM, "${3}-${1}-${2}"), "%Y-%m-%d"))
    else:
        dm_d = pl.lit(None, dtype=pl.Date)

    # partial dates: earliest and latest possible day
    ym = put("ym", s.str.contains(_PARTIAL_YM))
    ym_lo = put("ym_lo", _strptime(s.str.replace(_PARTIAL_YM, "${1}-${2}-1"), "%Y-%m-%d"))
    su = s.str.to_uppercase()
    unk = put("unk", su.str.contains(_PARTIAL_UNK) & su.str.extract(_PARTIAL_UNK, 1).is_in(list(_MONTHS)))
    unk_lo = put("unk_lo", _strptime(su.str.replace(_PARTIAL_UNK, "${2}-${1}-1"), "%Y-%b-%d"))
    yr = put("yr", su.str.contains(_PARTIAL_YEAR) & (~serial_x | s.str.contains(r"^(?:19\d{2}|20\d{2}|2100)$")))
    yr_lo = put("yr_lo", _strptime(su.str.replace(_PARTIAL_YEAR, "${1}-1-1"), "%Y-%m-%d"))
    yr_hi = put("yr_hi", _strptime(su.str.replace(_PARTIAL_YEAR, "${1}-12-31"), "%Y-%m-%d"))
    # outside AE dates a bare year stays an Excel serial (2022 -> 1905-07-14, implausible), but an
    # explicit unknown day and month (UNK-UNK-2022) is a partial date there too
    yr_unk = put("yr_unk", su.str.contains(r"^(?:UN|UNK|UK|XX)[- ]?(?:UNK|UN|XXX)[- ]?\d{4}$"))
    missing = put("missing", s.is_null() | is_missing_marker(s))
    put.stage()

    full = (pl.when(iso).then(iso_d)
            .when(serial).then(serial_d)
            .when(clin).then(clin_d)
            .when(dm).then(dm_d)
            .otherwise(pl.lit(None, dtype=pl.Date)))
    is_partial = put("partial", ym | unk | (yr if allow_partial else yr_unk))
    p_lo = put("p_lo", pl.when(ym).then(ym_lo).when(unk).then(unk_lo).when(yr).then(yr_lo))
    if allow_partial:
        # in a partial-date column a bare 4-digit year 1900-2100 is a year, not a serial
        full = pl.when(yr).then(pl.lit(None, dtype=pl.Date)).otherwise(full)
    full_raw = full = put("full_raw", full)
    put.stage()

    p_hi = put("p_hi", pl.when(ym | unk).then(p_lo.dt.month_end()).when(yr).then(yr_hi))
    implausible = full.is_not_null() & ((full.dt.year() < MIN_YEAR) | (full.dt.year() > MAX_YEAR))
    full = put("full", pl.when(implausible).then(pl.lit(None, dtype=pl.Date)).otherwise(full))
    put.stage()

    value = full
    lo = pl.coalesce(full, pl.when(is_partial).then(p_lo)) if allow_partial else full
    hi = pl.coalesce(full, pl.when(is_partial).then(p_hi)) if allow_partial else full
    # the error is looked up from one small integer that packs every fact it depends on, so the
    # big `full` and `p_lo` expressions are referenced once each (see _date_error for the logic)
    facts = [missing, dm, is_partial, iso | clin, ym | unk, serial]
    code = sum((f.fill_null(False).cast(pl.Int32) * (1 << i) for i, f in enumerate(facts)), pl.lit(0, pl.Int32))
    code = code + (_year_state(full_raw) + 1) * 64 + (_year_state(p_lo) + 1) * 192
    err = code.replace_strict(_date_errors(date_format, allow_partial), default=None, return_dtype=pl.String)
    return {"value": value, "lo": lo, "hi": hi, "err": err, "as_read": full_raw}


def parse_number(s: pl.Expr) -> dict:
    """`12.5`, `<0.5`, `>1210`, `≤2`: the number and its qualifier. ND / NA / not done: missing."""
    return _number_plan(s, _Inline())


def _number_plan(s: pl.Expr, put) -> dict:
    """parse_number's parts; `put` as in _date_plan (the plain tree, or columns stage by stage:
    number_stages). In the plain tree the pattern is matched again at every reference (~10 times
    for an integer's error), as polars' eager engine shares no subexpression."""
    num = put("num", s.str.extract(_NUMBER, 2))
    qual = put("qual", s.str.extract(_NUMBER, 1))
    hit = put("hit", s.str.contains(_NUMBER))
    put.stage()
    v = num.cast(pl.Float64, strict=False)
    ok = put("ok", hit & v.is_finite())   # 1e400 overflows to inf: not a number
    v = put("v", v)
    put.stage()
    v = pl.when(ok).then(v)
    q = pl.when(ok).then(qual.str.replace("≤", "<=").str.replace("≥", ">="))
    err = (pl.when(s.is_null() | is_missing_marker(s) | ok).then(None)
           .otherwise(pl.lit(NUMBER_UNREADABLE)))
    return {"value": v, "q": q, "err": err}


def number_stages(raw_name: str, integer: bool = False) -> tuple:
    """parse_number (parse_int when `integer`) of column `raw_name` as (stages, outputs), as
    date_stages: the pattern matched once per cell, not at each reference."""
    put = _Staged(f"{raw_name}\x1f")
    n = _number_plan(pl.col(raw_name), put)
    return [st for st in put.stages if st], (_int_of(n) if integer else n)


def parse_int(s: pl.Expr) -> dict:
    return _int_of(parse_number(s))


def _int_of(n: dict) -> dict:
    """parse_int's outputs from parse_number's (`n`)."""
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
    v = low.replace_strict(*_yes_no(), default=None, return_dtype=pl.Boolean)
    err = (pl.when(s.is_null() | v.is_not_null()).then(None)
           .when(is_missing_marker(s)).then(None)
           .otherwise(pl.lit(YESNO_UNREADABLE)))
    return {"value": v, "err": err}


@lru_cache(maxsize=1)
def _yes_no() -> tuple:
    """YES_NO as replace_strict's (old, new) Series, built once."""
    return mapping_series(YES_NO, pl.Boolean)


def choice_map(col: Column) -> dict:
    m = {}
    for c in col.choices:
        m.setdefault(norm(c), c)   # "New (equivocal)" normalises to "new": the plain "New" keeps it
    for alias, canon in (col.choice_aliases or {}).items():
        m[norm(alias)] = canon
    return m


def _full_norm(text) -> str:
    """Like norm, but a bracketed tail is kept: 'New (equivocal)' -> 'newequivocal'."""
    return re.sub(r"[^0-9a-z#]+", "", str(text).lower())


def choice_map_full(col: Column) -> dict:
    """Choices (and aliases) whose bracketed tail is part of the value, matched before choice_map."""
    pairs = [(c, c) for c in col.choices] + list((col.choice_aliases or {}).items())
    return {_full_norm(a): c for a, c in pairs if _full_norm(a) != norm(a)}


def norm_expr(s: pl.Expr) -> pl.Expr:
    """The expression form of schema.norm for cell values."""
    return (s.str.replace(r"\s*[\(\[][^\)\]]*[\)\]]\s*$", "").str.to_lowercase()
            .str.replace_all(r"[^0-9a-z#]+", ""))


_CHOICE_SERIES: dict = {}


def _choice_series(col: Column) -> tuple:
    """(choice_map, choice_map_full) of `col` as replace_strict's (old, new) Series (the second
    None when it is empty), built once per distinct choice list and aliases (parse_choice is
    called ~20 times a check; a dict given to replace_strict is made into Series at each call)."""
    key = (col.choices, tuple(sorted((col.choice_aliases or {}).items())))
    found = _CHOICE_SERIES.get(key)
    if found is None:
        full = choice_map_full(col)
        found = _CHOICE_SERIES[key] = (mapping_series(choice_map(col), pl.String),
                                       mapping_series(full, pl.String) if full else None)
    return found


def parse_choice(s: pl.Expr, col: Column) -> dict:
    m, full = _choice_series(col)
    n = norm_expr(s)
    v = n.replace_strict(*m, default=None, return_dtype=pl.String)
    if full is not None:
        f = s.str.to_lowercase().str.replace_all(r"[^0-9a-z#]+", "")
        v = f.replace_strict(*full, default=None, return_dtype=pl.String).fill_null(v)
    err = pl.when(s.is_null() | v.is_not_null()).then(None).otherwise(pl.lit(CHOICE_UNKNOWN))
    return {"value": v, "err": err}


def parse_id(s: pl.Expr) -> pl.Expr:
    """Identifiers: a number cell 1001 arrives as '1001' or '1001.0'; both mean '1001'."""
    return s.str.replace(r"^(\d+)\.0+$", "${1}")


_COLUMN_EXPRS: dict = {}


def parse_column(raw_name: str, col: Column, date_format: str | None) -> list[pl.Expr]:
    """All typed expressions for one column, named `<key>`, `<key>__err` and extras.

    Expressions are immutable, so they are built once per (raw column, column spec, date
    format) and reused: building them costs about as much as running them on a site workbook.
    """
    key = (raw_name, col.kind, col.key, col.choices, tuple(sorted((col.choice_aliases or {}).items())),
           date_format)
    if key not in _COLUMN_EXPRS:
        _COLUMN_EXPRS[key] = tuple(_parse_column(raw_name, col, date_format))
    return list(_COLUMN_EXPRS[key])


def _parse_column(raw_name: str, col: Column, date_format: str | None) -> list[pl.Expr]:
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
        return _date_outputs(parse_date(s, date_format, allow_partial=col.kind is Kind.PARTIAL_DATE), col)
    if col.kind is Kind.YESNO:
        p = parse_yesno(s)
        return [p["value"].alias(k), p["err"].alias(f"{k}__err")]
    if col.kind is Kind.CHOICE:
        p = parse_choice(parse_id(s), col)
        return [p["value"].alias(k), p["err"].alias(f"{k}__err")]
    raise AssertionError(col.kind)


def _date_outputs(p: dict, col: Column) -> list[pl.Expr]:
    k = col.key
    out = [p["value"].alias(k), p["err"].alias(f"{k}__err")]
    if col.kind is Kind.PARTIAL_DATE:
        out += [p["lo"].alias(f"{k}__lo"), p["hi"].alias(f"{k}__hi")]
    return out


DATE_IN = "\x1fdate"   # the input column of the date and number stages column_stages gives (see there)


def column_stages(raw_name: str, col: Column, date_format: str | None) -> tuple[list, list[pl.Expr]]:
    """parse_column as (stages, expressions): a date or number column's parts first become
    columns, one `with_columns` per stage (date_stages, number_stages), and its expressions read
    them; any other column has no stage and parse_column's expressions. Same names and values as
    parse_column.

    Those stages and expressions read the column DATE_IN, not `raw_name`: the caller puts the
    column there (reader.parse_by_value). They are built once per process for each date format
    and kind, and each number kind (building a date's costs ~4 ms, more than running it on a
    site's sheet), not once per column."""
    if col.kind in (Kind.NUMBER, Kind.INT):
        stages, p = _number_template(col.kind is Kind.INT)
        k = col.key
        if col.kind is Kind.INT:
            return stages, [p["value"].alias(k), p["err"].alias(f"{k}__err")]
        return stages, [p["value"].alias(k), p["q"].alias(f"{k}__q"), p["err"].alias(f"{k}__err")]
    if col.kind not in (Kind.DATE, Kind.PARTIAL_DATE):
        return [], parse_column(raw_name, col, date_format)
    stages, p = _date_template(date_format, col.kind is Kind.PARTIAL_DATE)
    return stages, _date_outputs(p, col)


DATE_FORMATS = ("DD/MM/YYYY", "MM/DD/YYYY")   # the Study sheet's DateFormat values the reader takes


def stage_templates() -> dict:
    """name -> builder of every date and number template a read can use (each date format the
    Study sheet may declare, or none; partial dates or not; numbers and integers): what
    monitor/refcache.py precompiles."""
    out = {f"number_stages:{integer}": (lambda i=integer: number_stages(DATE_IN, i)) for integer in (False, True)}
    for fmt in (None, *DATE_FORMATS):
        for partial in (False, True):
            out[f"date_stages:{fmt}:{partial}"] = lambda f=fmt, p=partial: date_stages(DATE_IN, f, p)
    return out


@lru_cache(maxsize=None)
def _number_template(integer: bool) -> tuple:
    return _template(f"number_stages:{integer}", lambda: number_stages(DATE_IN, integer))


@lru_cache(maxsize=None)
def _date_template(date_format: str | None, allow_partial: bool) -> tuple:
    return _template(f"date_stages:{date_format}:{allow_partial}",
                     lambda: date_stages(DATE_IN, date_format, allow_partial))


def _template(name: str, build) -> tuple:
    """`build()`, or its copy from the package's precompiled reference data when it is current
    (monitor/refcache.py): unpickling a date template is ~0.25 ms, building it 0.7-2 ms, and a
    site check uses four."""
    from .. import refcache

    return refcache.get(name, build)
