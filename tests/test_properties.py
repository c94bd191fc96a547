"""Property tests for the parsers and header matching (hypothesis, derandomized).

Each example is a whole column (a list of cells) evaluated in one polars select, as the
reader does, so a few hundred examples cover thousands of cells in a few seconds.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from functools import lru_cache

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.workbook import parse as P
from monitor.workbook.schema import MISSING_MARKERS, YES_NO, norm

SETTINGS = settings(derandomize=True, max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
DATE_SETTINGS = settings(SETTINGS, max_examples=40)  # each example is a whole column of dates

EPOCH = date(1899, 12, 30)
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
TRIAL_DATES = st.dates(min_value=date(P.MIN_YEAR, 1, 1), max_value=date(P.MAX_YEAR, 12, 31))


@lru_cache(maxsize=None)
def _exprs(make, kw: tuple) -> dict:
    return make(pl.col("s"), **dict(kw))


def evaluate(make, raws: list, **kw) -> list[dict]:
    df = pl.DataFrame({"raw": raws}, schema={"raw": pl.String}).with_columns(P.clean(pl.col("raw")).alias("s"))
    return df.select(**_exprs(make, tuple(sorted(kw.items())))).to_dicts()


def cleaned(text: str | None) -> str | None:
    if text is None:
        return None
    t = text.strip(" \t\r\n\u00a0")
    return t or None


def is_missing(text: str | None) -> bool:
    t = cleaned(text)
    return t is None or t.lower() in MISSING_MARKERS


def mixed_case(draw, text: str) -> str:
    mask = draw(st.integers(0, 2 ** len(text) - 1))
    return "".join(c.upper() if mask >> i & 1 else c.lower() for i, c in enumerate(text))


# ------------------------------------------------------------------ dates round-trip

FULL_FORMS = {
    "iso": lambda d: d.isoformat(),
    "iso-unpadded": lambda d: f"{d.year}-{d.month}-{d.day}",
    "excel-datetime": lambda d: f"{d.isoformat()} 00:00:00",
    "excel-serial": lambda d: str((d - EPOCH).days),
    "clinical": lambda d: f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year}",
    "clinical-spaces-title": lambda d: f"{d.day:02d} {MONTHS[d.month - 1].title()} {d.year}",
    "clinical-compact": lambda d: f"{d.day:02d}{MONTHS[d.month - 1]}{d.year}",
    "clinical-one-digit-lower": lambda d: f"{d.day}-{MONTHS[d.month - 1].lower()}-{d.year}",
}


@DATE_SETTINGS
@given(st.lists(TRIAL_DATES, min_size=1, max_size=40), st.sampled_from(sorted(FULL_FORMS)), st.booleans())
def test_full_date_round_trips_in_every_accepted_form(dates, form, partial_column):
    texts = [FULL_FORMS[form](d) for d in dates]
    got = evaluate(P.parse_date, texts, allow_partial=partial_column)
    assert [(g["value"], g["lo"], g["hi"], g["err"]) for g in got] == [(d, d, d, None) for d in dates], texts


@DATE_SETTINGS
@given(st.lists(TRIAL_DATES, min_size=1, max_size=40), st.sampled_from(["DD/MM/YYYY", "MM/DD/YYYY"]),
       st.sampled_from(["/", "."]), st.booleans())
def test_numeric_date_round_trips_when_the_format_is_declared(dates, fmt, sep, pad):
    def text(d):
        a, b = (d.day, d.month) if fmt == "DD/MM/YYYY" else (d.month, d.day)
        return f"{a:02d}{sep}{b:02d}{sep}{d.year}" if pad else f"{a}{sep}{b}{sep}{d.year}"

    got = evaluate(P.parse_date, [text(d) for d in dates], date_format=fmt)
    assert [(g["value"], g["err"]) for g in got] == [(d, None) for d in dates]
    undeclared = evaluate(P.parse_date, [text(d) for d in dates])
    assert {(g["value"], g["err"]) for g in undeclared} == {(None, P.DATE_AMBIGUOUS)}


PARTIAL_FORMS = {
    "year-month": lambda y, m, draw: f"{y}-{m:02d}",
    "year-month-unpadded": lambda y, m, draw: f"{y}-{m}",
    "unk": lambda y, m, draw: mixed_case(draw, f"UNK-{MONTHS[m - 1]}-{y}"),
    "un": lambda y, m, draw: mixed_case(draw, f"UN-{MONTHS[m - 1]}-{y}"),
    "un-spaces": lambda y, m, draw: f"UN {MONTHS[m - 1]} {y}",
}


@DATE_SETTINGS
@given(st.data(), st.sampled_from(sorted(PARTIAL_FORMS)))
def test_partial_date_gives_first_and_last_day_of_its_month(data, form):
    months = data.draw(st.lists(st.tuples(st.integers(P.MIN_YEAR, P.MAX_YEAR), st.integers(1, 12)),
                                min_size=1, max_size=30))
    texts = [PARTIAL_FORMS[form](y, m, data.draw) for y, m in months]
    got = evaluate(P.parse_date, texts, allow_partial=True)
    want = [(None, date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1]), None) for y, m in months]
    assert [(g["value"], g["lo"], g["hi"], g["err"]) for g in got] == want, texts
    elsewhere = evaluate(P.parse_date, texts)
    assert {g["err"] for g in elsewhere} == {P.DATE_PARTIAL}


# ------------------------------------------------------------------ any text: value or error, never a silent wrong value

_ISO_A = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", re.ASCII)
_SERIAL_A = re.compile(r"\d{1,7}(?:\.\d+)?", re.ASCII)
_CLIN_A = re.compile(r"(\d{1,2})[- ]?([A-Za-z]{3})[- ]?(\d{4})", re.ASCII)


def oracle_date(text: str) -> date | None:
    """An independent, plain-Python reading of the full-date forms (ASCII only)."""
    t = cleaned(text)
    if t is None:
        return None
    try:
        if m := _ISO_A.fullmatch(t):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if _SERIAL_A.fullmatch(t):
            return EPOCH + timedelta(days=int(float(t)))
        if (m := _CLIN_A.fullmatch(t)) and m[2].upper() in MONTHS:
            return date(int(m[3]), MONTHS.index(m[2].upper()) + 1, int(m[1]))
    except (ValueError, OverflowError):
        return None
    return None


DATE_FRAGMENTS = st.sampled_from(["2022", "1949", "2101", "07", "7", "31", "29", "02", "13", "-", "/", " ",
                                  "T", "JUL", "feb", "UNK", "UN", "12:30", ".5", "44747", "ND", "x", "\u00a0"])
DATEISH = st.lists(DATE_FRAGMENTS, min_size=1, max_size=6).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=20), DATEISH)


@DATE_SETTINGS
@given(st.lists(st.one_of(st.none(), ANY_TEXT), min_size=1, max_size=60), st.booleans(),
       st.sampled_from([None, "DD/MM/YYYY", "MM/DD/YYYY"]))
def test_any_text_gives_a_date_or_an_error_never_a_silent_wrong_date(texts, partial_column, fmt):
    got = evaluate(P.parse_date, texts, date_format=fmt, allow_partial=partial_column)
    codes = {P.DATE_UNREADABLE, P.DATE_IMPOSSIBLE, P.DATE_AMBIGUOUS, P.DATE_PARTIAL, P.DATE_IMPLAUSIBLE}
    for text, g in zip(texts, got):
        assert g["err"] is None or g["err"] in codes
        if g["err"] not in (None, P.DATE_IMPLAUSIBLE):
            assert g["value"] is None and g["lo"] is None and g["hi"] is None, (text, g)
        if g["value"] is not None and g["err"] is None:
            assert date(P.MIN_YEAR, 1, 1) <= g["value"] <= date(P.MAX_YEAR, 12, 31)
            if fmt is None and (o := oracle_date(text)) is not None:
                assert g["value"] == o, (text, g)
        if g["lo"] is not None:
            assert g["hi"] is not None and g["lo"] <= g["hi"], (text, g)
        if g["err"] is None and g["lo"] is None:
            assert is_missing(text), (text, g)
        if not partial_column:
            assert g["lo"] == g["value"] == g["hi"]


@DATE_SETTINGS
@given(st.lists(st.one_of(st.none(), ANY_TEXT), min_size=1, max_size=60), st.booleans(),
       st.sampled_from([None, "DD/MM/YYYY", "MM/DD/YYYY"]))
def test_the_staged_date_parse_gives_exactly_the_plain_parse(texts, partial_column, fmt):
    """The reader parses dates stage by stage (parse.date_stages); any text gives the same
    value, bounds and error as parse_date's single expression tree."""
    df = pl.DataFrame({"raw": texts}, schema={"raw": pl.String}).with_columns(P.clean(pl.col("raw")).alias("s"))
    stages, out = P.date_stages("s", fmt, partial_column)
    staged = df
    for stage in stages:
        staged = staged.with_columns(stage)
    assert staged.select(**out).to_dicts() == df.select(**P.parse_date(pl.col("s"), fmt, partial_column)).to_dicts()


NUMBER_A = re.compile(r"(<=|>=|≤|≥|<|>)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", re.ASCII)
NUMBERISH = st.lists(st.sampled_from(["<", ">", "≤", "=", "1", "0", "5", ".", ",", "e", "-", "+", " ", "ND",
                                      "mg", "9" * 12]), min_size=1, max_size=6).map("".join)


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.text(max_size=12), NUMBERISH), min_size=1, max_size=60))
def test_any_text_gives_a_number_or_an_error_never_a_silent_wrong_number(texts):
    got = evaluate(P.parse_number, texts)
    ints = evaluate(P.parse_int, texts)
    for text, g, i in zip(texts, got, ints):
        assert g["err"] in (None, P.NUMBER_UNREADABLE)
        if g["err"]:
            assert g["value"] is None and g["q"] is None
        elif g["value"] is None:
            assert is_missing(text), (text, g)
        elif m := NUMBER_A.fullmatch(cleaned(text)):
            assert g["value"] == float(m[2]), (text, g)
        assert (i["value"] is None) or (i["err"] is None), (text, i)
        if i["value"] is None and i["err"] is None:
            assert is_missing(text), (text, i)
        if i["value"] is not None:
            assert g["value"] is not None and g["q"] is None and float(g["value"]).is_integer()


QUALIFIERS = {"": None, "<": "<", ">": ">", "<=": "<=", ">=": ">=", "≤": "<=", "≥": ">="}


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(QUALIFIERS)),
                          st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
                          st.sampled_from(["", " "])), min_size=1, max_size=40))
def test_qualified_numbers_round_trip_value_and_qualifier(items):
    texts = [f"{q}{sp}{x!r}" for q, x, sp in items]
    got = evaluate(P.parse_number, texts)
    assert [(g["value"], g["q"], g["err"]) for g in got] == [(x, QUALIFIERS[q], None) for q, x, _ in items], texts


@SETTINGS
@given(st.data())
def test_yes_no_forms_in_any_case(data):
    forms = data.draw(st.lists(st.sampled_from(sorted(YES_NO)), min_size=1, max_size=30))
    texts = [data.draw(st.sampled_from(["", " "])) + mixed_case(data.draw, f) for f in forms]
    got = evaluate(P.parse_yesno, texts)
    assert [(g["value"], g["err"]) for g in got] == [(YES_NO[f], None) for f in forms], texts


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=1, max_size=60))
def test_any_text_gives_yes_no_or_an_error(texts):
    for text, g in zip(texts, evaluate(P.parse_yesno, texts)):
        if g["value"] is not None:
            assert g["err"] is None and g["value"] == YES_NO[cleaned(text).lower()]
        elif g["err"] is None:
            assert is_missing(text), (text, g)


# ------------------------------------------------------------------ header matching

WORDS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1,
                         max_size=8), min_size=1, max_size=4)
UNITS = st.sampled_from(["(kg)", "[kg]", "(mmHg)", "(U/L)", "(10^9/L)", "[mg/dL]", "(years)", "(mm)"])


@SETTINGS
@given(WORDS, st.sampled_from([" ", "_", "-", "  ", " - "]), st.sampled_from(["", " ", "\t", "  "]),
       st.one_of(st.just(""), UNITS.map(lambda u: " " + u), UNITS), st.data())
def test_header_matching_ignores_case_spaces_separators_and_a_unit(words, sep, pad, unit, data):
    canonical = " ".join(words)
    typed = pad + mixed_case(data.draw, sep.join(words)) + unit + pad
    assert norm(typed) == norm(canonical)
    assert norm(typed) == "".join(words).lower()


@SETTINGS
@given(st.lists(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
                min_size=1, max_size=50))
def test_cell_value_matching_agrees_with_header_matching(texts):
    """parse.norm_expr (choices in cells) is the polars form of schema.norm (headers)."""
    got = evaluate(lambda s: {"n": P.norm_expr(s)}, texts)
    for text, g in zip(texts, got):
        c = cleaned(text)
        assert g["n"] == (None if c is None else norm(c)), text
