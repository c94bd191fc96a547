"""Boundary tables for the cell parsers (monitor.workbook.parse), evaluated as polars
expressions on a DataFrame exactly as the reader does: raw text -> clean -> parse.

Each row: (case id, raw cell text, expected value, expected error code, comment).
Raw text is what fastexcel/calamine gives for the cell: an Excel date cell arrives as
`2022-07-05 00:00:00`, a number cell 1001 as `1001`, a boolean cell as `true`.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from monitor.workbook import parse as P
from monitor.workbook.schema import ADVERSE_EVENTS, CYCLES, SHEETS, SUBJECTS, TUMOR, Kind


def evaluate(exprs: dict, raws: list) -> list[dict]:
    """Evaluate parser expressions (built on column `s`) over raw cells, one dict per cell."""
    df = pl.DataFrame({"raw": raws}, schema={"raw": pl.String}).with_columns(P.clean(pl.col("raw")).alias("s"))
    return df.select(**exprs).to_dicts()


def one(make, raw) -> dict:
    """make(s_expr) -> dict of expressions; evaluated for one raw cell."""
    return evaluate(make(pl.col("s")), [raw])[0]


# ------------------------------------------------------------------ dates (full-date column)

FULL_DATES = [
    # id, raw, value, error, comment
    ("excel-date-cell", "2022-07-05 00:00:00", date(2022, 7, 5), None, "calamine's text for a date cell"),
    ("excel-datetime-cell", "2022-07-05 13:45:00", date(2022, 7, 5), None, "the time of day is dropped"),
    ("excel-datetime-fraction", "2022-07-05 13:45:00.5", date(2022, 7, 5), None, ""),
    ("iso", "2022-07-05", date(2022, 7, 5), None, ""),
    ("iso-unpadded", "2022-7-5", date(2022, 7, 5), None, ""),
    ("iso-with-t", "2022-07-05T08:00", date(2022, 7, 5), None, ""),
    ("serial", "44747", date(2022, 7, 5), None, "a date typed into a General cell keeps its serial"),
    ("serial-with-time", "44747.75", date(2022, 7, 5), None, "18:00 on the same day"),
    ("serial-1950-01-01", "18264", date(1950, 1, 1), None, "first plausible serial"),
    ("serial-1949-12-31", "18263", None, P.DATE_IMPLAUSIBLE, "last implausible serial: no value, so no other rule uses it"),
    ("serial-small-number", "12", None, P.DATE_IMPLAUSIBLE, "a count typed in a date cell"),
    ("serial-zero", "0", None, P.DATE_IMPLAUSIBLE, ""),
    ("bare-year", "2022", None, P.DATE_IMPLAUSIBLE, "outside AE dates a year is a serial (1905)"),
    ("clinical-dashes", "05-JUL-2022", date(2022, 7, 5), None, ""),
    ("clinical-spaces", "05 Jul 2022", date(2022, 7, 5), None, ""),
    ("clinical-compact", "05JUL2022", date(2022, 7, 5), None, "SAS DATE9."),
    ("clinical-lower-one-digit", "5-jul-2022", date(2022, 7, 5), None, ""),
    ("clinical-31-feb", "31-FEB-2022", None, P.DATE_IMPOSSIBLE, ""),
    ("clinical-31-apr", "31-APR-2022", None, P.DATE_IMPOSSIBLE, ""),
    ("clinical-30-apr", "30-APR-2022", date(2022, 4, 30), None, ""),
    ("clinical-bad-month", "05-JLY-2022", None, P.DATE_IMPOSSIBLE, "the clinical form with no such month"),
    ("clinical-two-digit-year", "05-JUL-22", None, P.DATE_UNREADABLE, "the century is not guessed"),
    ("clinical-full-month", "05-July-2022", None, P.DATE_UNREADABLE, ""),
    ("iso-29-feb-2022", "2022-02-29", None, P.DATE_IMPOSSIBLE, "2022 is not a leap year"),
    ("iso-29-feb-2024", "2024-02-29", date(2024, 2, 29), None, "2024 is"),
    ("iso-29-feb-2100", "2100-02-29", None, P.DATE_IMPOSSIBLE, "a century not divisible by 400"),
    ("iso-29-feb-2000", "2000-02-29", date(2000, 2, 29), None, "divisible by 400"),
    ("iso-month-13", "2022-13-01", None, P.DATE_IMPOSSIBLE, ""),
    ("iso-day-0", "2022-07-00", None, P.DATE_IMPOSSIBLE, ""),
    ("year-1950", "1950-01-01", date(1950, 1, 1), None, "MIN_YEAR is plausible"),
    ("year-1949", "1949-12-31", None, P.DATE_IMPLAUSIBLE, "error given, value dropped"),
    ("year-2100", "2100-12-31", date(2100, 12, 31), None, "MAX_YEAR is plausible"),
    ("year-2101", "2101-01-01", None, P.DATE_IMPLAUSIBLE, ""),
    ("numeric-day-month", "05/07/2022", None, P.DATE_AMBIGUOUS, "5 July or 7 May"),
    ("numeric-dots", "05.07.2022", None, P.DATE_AMBIGUOUS, ""),
    ("numeric-day-13", "13/07/2022", None, P.DATE_AMBIGUOUS, "contract: every numeric form needs the format"),
    ("partial-year-month", "2022-07", None, P.DATE_PARTIAL, "partial only in AE onset/end"),
    ("partial-unk-day", "UNK-JUL-2022", None, P.DATE_PARTIAL, ""),
    ("partial-un-day", "UN-FEB-2023", None, P.DATE_PARTIAL, ""),
    ("partial-unk-unk", "UNK-UNK-2022", None, P.DATE_PARTIAL, "not 'unreadable': it is a partial date"),
    ("words", "5th July", None, P.DATE_UNREADABLE, ""),
    ("negative-number", "-5", None, P.DATE_UNREADABLE, ""),
    ("nd", "ND", None, None, "a missing marker: missing, no error"),
    ("unk", "UNK", None, None, ""),
    ("blank", "", None, None, ""),
    ("spaces", "   ", None, None, "cleaned to blank"),
    ("nbsp-around", "\u00a02022-07-05 ", date(2022, 7, 5), None, "non-breaking spaces stripped"),
]


@pytest.mark.parametrize("cid,raw,value,err,comment", FULL_DATES, ids=[c[0] for c in FULL_DATES])
def test_parse_date_full(cid, raw, value, err, comment):
    got = one(lambda s: P.parse_date(s), raw)
    assert (got["value"], got["err"]) == (value, err), comment
    assert got["lo"] == got["hi"] == got["value"], "outside partial columns lo = hi = value"


FORMAT_DATES = [
    # id, raw, Study 'Date format', value, error, comment
    ("dd-mm", "05/07/2022", "DD/MM/YYYY", date(2022, 7, 5), None, ""),
    ("mm-dd", "05/07/2022", "MM/DD/YYYY", date(2022, 5, 7), None, ""),
    ("dd-mm-one-digit", "5/7/2022", "DD/MM/YYYY", date(2022, 7, 5), None, ""),
    ("dd-mm-dots", "05.07.2022", "DD/MM/YYYY", date(2022, 7, 5), None, ""),
    ("dd-mm-31-feb", "31/02/2022", "DD/MM/YYYY", None, P.DATE_IMPOSSIBLE, ""),
    ("mm-dd-month-13", "13/05/2022", "MM/DD/YYYY", None, P.DATE_IMPOSSIBLE, "13 is no month"),
    ("dd-mm-29-feb-2024", "29/02/2024", "DD/MM/YYYY", date(2024, 2, 29), None, ""),
    ("dd-mm-1949", "31/12/1949", "DD/MM/YYYY", None, P.DATE_IMPLAUSIBLE, ""),
    ("format-leaves-iso", "2022-07-05", "MM/DD/YYYY", date(2022, 7, 5), None, "other forms unchanged"),
    ("format-leaves-clinical", "05-JUL-2022", "MM/DD/YYYY", date(2022, 7, 5), None, ""),
]


@pytest.mark.parametrize("cid,raw,fmt,value,err,comment", FORMAT_DATES, ids=[c[0] for c in FORMAT_DATES])
def test_parse_date_with_study_date_format(cid, raw, fmt, value, err, comment):
    got = one(lambda s: P.parse_date(s, fmt), raw)
    assert (got["value"], got["err"]) == (value, err), comment


PARTIAL_DATES = [
    # id, raw, (lo, hi), error, comment  (AdverseEvents onset/end: allow_partial)
    ("year-month", "2022-07", (date(2022, 7, 1), date(2022, 7, 31)), None, ""),
    ("year-month-unpadded", "2022-7", (date(2022, 7, 1), date(2022, 7, 31)), None, ""),
    ("unk-jul", "UNK-JUL-2022", (date(2022, 7, 1), date(2022, 7, 31)), None, ""),
    ("un-jul-lower", "un-jul-2022", (date(2022, 7, 1), date(2022, 7, 31)), None, "any case"),
    ("uk-jul-spaces", "UK JUL 2022", (date(2022, 7, 1), date(2022, 7, 31)), None, ""),
    ("un-feb-2023", "UN-FEB-2023", (date(2023, 2, 1), date(2023, 2, 28)), None, "common year"),
    ("un-feb-2024", "UN-FEB-2024", (date(2024, 2, 1), date(2024, 2, 29)), None, "leap year: 29 days"),
    ("year-month-feb-2024", "2024-02", (date(2024, 2, 1), date(2024, 2, 29)), None, ""),
    ("year-month-feb-2100", "2100-02", (date(2100, 2, 1), date(2100, 2, 28)), None, "2100 is no leap year"),
    ("year-month-dec", "2022-12", (date(2022, 12, 1), date(2022, 12, 31)), None, ""),
    ("unk-unk-year", "UNK-UNK-2022", (date(2022, 1, 1), date(2022, 12, 31)), None, ""),
    ("bare-year", "2022", (date(2022, 1, 1), date(2022, 12, 31)), None, "in AE dates a year is a year"),
    ("full-date", "2022-07-05", (date(2022, 7, 5), date(2022, 7, 5)), None, "full dates still work"),
    ("full-clinical", "05-JUL-2022", (date(2022, 7, 5), date(2022, 7, 5)), None, ""),
    ("serial", "44747", (date(2022, 7, 5), date(2022, 7, 5)), None, "5 digits: a serial, not a year"),
    ("partial-1950", "UNK-JAN-1950", (date(1950, 1, 1), date(1950, 1, 31)), None, ""),
    ("partial-1949", "UNK-DEC-1949", (date(1949, 12, 1), date(1949, 12, 31)), P.DATE_IMPLAUSIBLE,
     "partial dates get the same year check as full dates"),
    ("partial-2100", "2100-12", (date(2100, 12, 1), date(2100, 12, 31)), None, ""),
    ("partial-2101", "2101-01", (date(2101, 1, 1), date(2101, 1, 31)), P.DATE_IMPLAUSIBLE, ""),
    ("year-1949", "1949", (date(1949, 1, 1), date(1949, 12, 31)), P.DATE_IMPLAUSIBLE, ""),
    ("month-13", "2022-13", (None, None), P.DATE_IMPOSSIBLE, ""),
    ("month-0", "2022-00", (None, None), P.DATE_IMPOSSIBLE, ""),
    ("unk-bad-month", "UNK-FOO-2022", (None, None), P.DATE_UNREADABLE, ""),
    ("unk-alone", "UNK", (None, None), None, "a missing marker"),
    ("numeric-ambiguous", "05/07/2022", (None, None), P.DATE_AMBIGUOUS, ""),
]


@pytest.mark.parametrize("cid,raw,bounds,err,comment", PARTIAL_DATES, ids=[c[0] for c in PARTIAL_DATES])
def test_parse_date_partial_allowed(cid, raw, bounds, err, comment):
    got = one(lambda s: P.parse_date(s, allow_partial=True), raw)
    assert ((got["lo"], got["hi"]), got["err"]) == (bounds, err), comment
    if bounds[0] is not None and bounds[0] != bounds[1]:
        assert got["value"] is None, "a partial date has no single value"


def test_parse_date_is_vectorised_over_mixed_forms():
    """One column with every form at once: each row parsed on its own."""
    raws = [r for _, r, *_ in FULL_DATES]
    got = evaluate(P.parse_date(pl.col("s")), raws)
    assert [(g["value"], g["err"]) for g in got] == [(v, e) for _, _, v, e, _ in FULL_DATES]


def staged_equals_plain(raws: list, date_format=None, allow_partial=False) -> None:
    """parse.date_stages (the reader's form: parts as columns, stage by stage) gives exactly
    parse_date's values, errors and bounds, types included."""
    df = pl.DataFrame({"raw": raws}, schema={"raw": pl.String}).with_columns(P.clean(pl.col("raw")).alias("s"))
    plain = df.select(**P.parse_date(pl.col("s"), date_format, allow_partial))
    stages, out = P.date_stages("s", date_format, allow_partial)
    staged = df
    for st in stages:
        staged = staged.with_columns(st)
    staged = staged.select(**out)
    assert staged.schema == plain.schema
    assert staged.to_dicts() == plain.to_dicts()


@pytest.mark.parametrize("fmt", [None, "DD/MM/YYYY", "MM/DD/YYYY"])
@pytest.mark.parametrize("allow_partial", [False, True])
def test_staged_date_parse_equals_the_plain_parse_on_every_boundary_case(fmt, allow_partial):
    raws = ([r for _, r, *_ in FULL_DATES] + [r for _, r, *_ in FORMAT_DATES] + [r for _, r, *_ in PARTIAL_DATES]
            + [None, "UNK-UNK-1949", "1900", "2100", "2101", "xx feb 2020", "44747.75", "1.5e3"])
    staged_equals_plain(raws, fmt, allow_partial)


def test_reader_columns_staged_and_plain_give_the_same_names_and_values():
    """parse.column_stages (used by the reader) against parse_column, for each date column of
    the AE and Subjects sheets and a non-date column (no stages: the same expressions). A date
    column's stages read the column parse.DATE_IN (built once per date kind, not per column)."""
    raws = [r for _, r, *_ in FULL_DATES] + [r for _, r, *_ in PARTIAL_DATES]
    df = pl.DataFrame({"raw": raws}, schema={"raw": pl.String}).with_columns(P.clean(pl.col("raw")).alias("s"))
    cols = [c for c in (*ADVERSE_EVENTS.columns, *SUBJECTS.columns) if c.kind in (Kind.DATE, Kind.PARTIAL_DATE)]
    assert {c.kind for c in cols} == {Kind.DATE, Kind.PARTIAL_DATE}
    for col in cols:
        plain = df.select(P.parse_column("s", col, None))
        stages, exprs = P.column_stages("s", col, None)
        assert stages
        staged = df.with_columns(pl.col("s").alias(P.DATE_IN))
        for st in stages:
            staged = staged.with_columns(st)
        staged = staged.select(exprs)
        assert staged.schema == plain.schema and staged.to_dicts() == plain.to_dicts(), col.key
    other = next(c for c in SUBJECTS.columns if c.kind is Kind.ID)
    assert P.column_stages("s", other, None) == ([], P.parse_column("s", other, None))


# ------------------------------------------------------------------ numbers

NUMBERS = [
    # id, raw, value, qualifier, error, comment
    ("plain", "12.5", 12.5, None, None, ""),
    ("integer", "200", 200.0, None, None, ""),
    ("negative", "-3", -3.0, None, None, ""),
    ("plus", "+4", None, None, P.NUMBER_UNREADABLE, "a leading + is a dipstick reading, not a number"),
    ("leading-point", ".5", 0.5, None, None, ""),
    ("trailing-point", "5.", 5.0, None, None, ""),
    ("exponent", "1e3", 1000.0, None, None, "calamine writes tiny numbers in full, but people type 1e3"),
    ("less-than", "<0.5", 0.5, "<", None, "below the limit of quantification"),
    ("greater-than", ">1210", 1210.0, ">", None, "above the assay range (AFP)"),
    ("less-equal-sign", "≤2", 2.0, "<=", None, ""),
    ("greater-equal-sign", "≥3", 3.0, ">=", None, ""),
    ("less-equal-ascii", "<=2", 2.0, "<=", None, ""),
    ("greater-equal-space", ">= 3", 3.0, ">=", None, ""),
    ("less-than-space", "< 0.5", 0.5, "<", None, ""),
    ("spaces-around", "  7 ", 7.0, None, None, ""),
    ("zero", "0", 0.0, None, None, "zero is a value"),
    ("nd", "ND", None, None, None, "missing, not zero"),
    ("na", "NA", None, None, None, ""),
    ("n-slash-a", "n/a", None, None, None, ""),
    ("not-done", "not done", None, None, None, ""),
    ("not-done-title", "Not Done", None, None, None, ""),
    ("dash", "-", None, None, None, ""),
    ("blank", "", None, None, None, ""),
    ("decimal-comma", "12,5", None, None, P.NUMBER_UNREADABLE, "never read as 125 or 12"),
    ("thousands-comma", "1,210", None, None, P.NUMBER_UNREADABLE, ""),
    ("with-unit", "12.5 mg", None, None, P.NUMBER_UNREADABLE, ""),
    ("two-points", "1.2.3", None, None, P.NUMBER_UNREADABLE, ""),
    ("qualifier-alone", "<", None, None, P.NUMBER_UNREADABLE, ""),
    ("equals-less", "=<2", None, None, P.NUMBER_UNREADABLE, ""),
    ("inf-word", "inf", None, None, P.NUMBER_UNREADABLE, ""),
    ("overflow", "1e400", None, None, P.NUMBER_UNREADABLE, "never infinity"),
    ("words", "positive", None, None, P.NUMBER_UNREADABLE, ""),
]


@pytest.mark.parametrize("cid,raw,value,q,err,comment", NUMBERS, ids=[c[0] for c in NUMBERS])
def test_parse_number(cid, raw, value, q, err, comment):
    got = one(P.parse_number, raw)
    assert (got["value"], got["q"], got["err"]) == (value, q, err), comment


INTEGERS = [
    # id, raw, value, error, comment
    ("whole", "2", 2, None, ""),
    ("whole-as-decimal", "2.0", 2, None, "a number cell 2 may arrive as 2.0"),
    ("fraction", "2.5", None, P.INTEGER_EXPECTED, ""),
    ("almost-whole", "1.0000000001", None, P.INTEGER_EXPECTED, ""),
    ("qualified", "<3", None, P.INTEGER_EXPECTED, "a grade `<3` has no meaning"),
    ("exponent", "1e2", 100, None, ""),
    ("negative", "-1", -1, None, "range rules, not the parser, reject it"),
    ("nd", "ND", None, None, ""),
    ("words", "two", None, P.NUMBER_UNREADABLE, ""),
    ("beyond-int64", "99999999999999999999", 2 ** 62, None,
     "clipped far outside every integer column's range, so WB111 reports it; it never vanishes"),
]


@pytest.mark.parametrize("cid,raw,value,err,comment", INTEGERS, ids=[c[0] for c in INTEGERS])
def test_parse_int(cid, raw, value, err, comment):
    got = one(P.parse_int, raw)
    assert (got["value"], got["err"]) == (value, err), comment


@pytest.mark.parametrize("integer", [False, True])
def test_staged_number_parse_equals_the_plain_parse_on_every_case(integer):
    """parse.number_stages (the reader's form for a site's sheets: the pattern matched once per
    cell, parts as columns) gives exactly parse_number's / parse_int's values, qualifiers and
    errors, types included; and so does column_stages for every number and integer column of
    the contract (read from parse.DATE_IN) against parse_column."""
    raws = ([r for _, r, *_ in NUMBERS] + [r for _, r, *_ in INTEGERS]
            + [None, "1.", "-.5", "1E+05", "≤-2", "> 1e-3", "2.0000", "1e308", "-1e400", "<<1", "12.5.",
               "0x10", "٣", "1_000", "nan", "NaN", " < 3 "])
    df = pl.DataFrame({"raw": raws}, schema={"raw": pl.String}).with_columns(P.clean(pl.col("raw")).alias("s"))
    plain_parts = P.parse_int(pl.col("s")) if integer else P.parse_number(pl.col("s"))
    plain = df.select(**plain_parts)
    stages, out = P.number_stages("s", integer)
    assert len(stages) == 2
    staged = df
    for st in stages:
        staged = staged.with_columns(st)
    staged = staged.select(**out)
    assert staged.schema == plain.schema and staged.to_dicts() == plain.to_dicts()
    kind = Kind.INT if integer else Kind.NUMBER
    cols = [c for sheet in SHEETS for c in sheet.columns if c.kind is kind]
    assert cols
    for col in cols:
        stages, exprs = P.column_stages("s", col, None)
        got = df.with_columns(pl.col("s").alias(P.DATE_IN))
        for st in stages:
            got = got.with_columns(st)
        got = got.select(exprs)
        want = df.select(P.parse_column("s", col, None))
        assert got.schema == want.schema and got.to_dicts() == want.to_dicts(), col.key


YES_NO = [
    # id, raw, value, error, comment
    ("y", "Y", True, None, ""), ("y-lower", "y", True, None, ""), ("yes", "Yes", True, None, ""),
    ("yes-upper", "YES", True, None, ""), ("one", "1", True, None, "a number cell 1"),
    ("true", "true", True, None, "a boolean cell"), ("true-title", "True", True, None, ""),
    ("n", "N", False, None, ""), ("no", "no", False, None, ""), ("zero", "0", False, None, ""),
    ("false", "FALSE", False, None, ""), ("spaces", " y ", True, None, ""),
    ("nd", "ND", None, None, "missing marker: missing"), ("blank", "", None, None, ""),
    ("maybe", "maybe", None, P.YESNO_UNREADABLE, ""), ("two", "2", None, P.YESNO_UNREADABLE, ""),
    ("yes-no", "Y/N", None, P.YESNO_UNREADABLE, ""), ("ja", "ja", None, P.YESNO_UNREADABLE, ""),
]


@pytest.mark.parametrize("cid,raw,value,err,comment", YES_NO, ids=[c[0] for c in YES_NO])
def test_parse_yesno(cid, raw, value, err, comment):
    got = one(P.parse_yesno, raw)
    assert (got["value"], got["err"]) == (value, err), comment


CHOICES = [
    # id, column, raw, value, error, comment
    ("sex-m", SUBJECTS.column("sex"), "M", "M", None, ""),
    ("sex-lower", SUBJECTS.column("sex"), "f", "F", None, ""),
    ("sex-alias-male", SUBJECTS.column("sex"), "Male", "M", None, ""),
    ("sex-alias-female-upper", SUBJECTS.column("sex"), "FEMALE", "F", None, ""),
    ("sex-unknown", SUBJECTS.column("sex"), "X", None, P.CHOICE_UNKNOWN, ""),
    ("bclc-number-cell", SUBJECTS.column("bclc"), "0", "0", None, ""),
    ("bclc-number-as-decimal", SUBJECTS.column("bclc"), "0.0", "0", None, "parse_id first"),
    ("bclc-lower", SUBJECTS.column("bclc"), "c", "C", None, ""),
    ("bclc-e", SUBJECTS.column("bclc"), "E", None, P.CHOICE_UNKNOWN, ""),
    ("action-lower", CYCLES.column("action"), "given", "Given", None, ""),
    ("action-skipped", CYCLES.column("action"), "Skipped", None, P.CHOICE_UNKNOWN, ""),
    ("unit-mg-kg-upper", CYCLES.column("unit"), "MG/KG", "mg/kg", None, ""),
    ("unit-mg-kg-spaces", CYCLES.column("unit"), "mg / kg", "mg/kg", None, ""),
    ("unit-g", CYCLES.column("unit"), "g", None, P.CHOICE_UNKNOWN, ""),
    ("outcome-alias-resolved", ADVERSE_EVENTS.column("outcome"), "Resolved", "Recovered", None, ""),
    ("outcome-alias-death", ADVERSE_EVENTS.column("outcome"), "death", "Fatal", None, ""),
    ("outcome-cdisc", ADVERSE_EVENTS.column("outcome"), "NOT RECOVERED/NOT RESOLVED", "Not recovered", None,
     "the CDISC wording"),
    ("lesion-non-target-space", TUMOR.column("lesion_type"), "non target", "Non-target", None, ""),
    ("lesion-nt", TUMOR.column("lesion_type"), "NT", "Non-target", None, ""),
    ("lesion-t", TUMOR.column("lesion_type"), "t", "Target", None, ""),
    ("nt-status-up", TUMOR.column("nt_status"), "UP", "Unequivocal progression", None, ""),
    ("blank", CYCLES.column("action"), "", None, None, "blank is for the required-value rule"),
]


@pytest.mark.parametrize("cid,col,raw,value,err,comment", CHOICES, ids=[c[0] for c in CHOICES])
def test_parse_choice(cid, col, raw, value, err, comment):
    got = one(lambda s: P.parse_choice(P.parse_id(s), col), raw)
    assert (got["value"], got["err"]) == (value, err), comment


IDS = [
    # id, raw, expected, comment
    ("number-cell", "1001", "1001", ""),
    ("float-text", "1001.0", "1001", "a number cell seen as float"),
    ("float-text-zeros", "1001.00", "1001", ""),
    ("real-fraction", "1001.5", "1001.5", "not an integer: kept"),
    ("leading-zeros", "001", "001", "text IDs keep their zeros"),
    ("site-prefix", "01-001", "01-001", ""),
    ("letters", "A-1001.0", "A-1001.0", "only purely numeric IDs lose .0"),
    ("blank", "", None, ""),
]


@pytest.mark.parametrize("cid,raw,expected,comment", IDS, ids=[c[0] for c in IDS])
def test_parse_id(cid, raw, expected, comment):
    assert one(lambda s: {"v": P.parse_id(s)}, raw)["v"] == expected, comment


def test_clean_strips_spaces_and_blanks_become_null():
    got = evaluate({"v": pl.col("s")}, [" a ", "\u00a0b\u00a0", "\t", "", None])
    assert [g["v"] for g in got] == ["a", "b", None, None, None]


# ------------------------------------------------------------------ through a real workbook

def test_excel_cells_arrive_as_the_parsers_expect(written, profile):
    """Date, datetime, number and boolean cells written by openpyxl reach the parsers in the
    forms the tables above use."""
    from builders import fresh, set_cells
    from monitor.workbook.reader import read_workbook

    s = fresh()
    set_cells(s, "Labs", 0, Date=datetime(2025, 3, 7, 13, 45), Result=32.0)
    set_cells(s, "Labs", 1, Date=45723)                    # a serial in a General cell
    set_cells(s, "AdverseEvents", 0, Serious=False, Ongoing=0, Grade=1.0)
    wb = read_workbook(written(s), drugs=profile.drug_names)
    labs = wb.get("Labs").frame.head(2)
    assert labs["date"].to_list() == [date(2025, 3, 7), date(2025, 3, 7)]
    assert labs["date__raw"].to_list() == ["2025-03-07 13:45:00", "45723"]
    assert labs["result"].to_list() == [32.0, 38.0]
    ae = wb.get("AdverseEvents").frame.head(1)
    assert ae.select("serious", "ongoing", "grade").row(0) == (False, False, 1)
    assert ae["serious__raw"][0] == "false"


def test_choice_series_are_kept_per_choice_list_and_aliases():
    """parse_choice's mappings are built once per distinct choices and aliases (the rules parse
    the same columns again): two columns with the same choices but other aliases get their own."""
    from monitor.workbook.parse import _choice_series
    from monitor.workbook.schema import Column

    a = Column("Response", "resp", Kind.CHOICE, choices=("CR", "PR"), choice_aliases={"complete": "CR"})
    b = Column("Response", "resp", Kind.CHOICE, choices=("CR", "PR"), choice_aliases={"complete": "PR"})
    assert _choice_series(a) is _choice_series(a)
    assert _choice_series(a) is not _choice_series(b)
    df = pl.DataFrame({"x": ["complete", "cr", "pr", "SD", None]})
    assert df.select(P.parse_choice(pl.col("x"), a)["value"]).to_series().to_list() == ["CR", "CR", "PR", None, None]
    assert df.select(P.parse_choice(pl.col("x"), b)["value"]).to_series().to_list() == ["PR", "CR", "PR", None, None]
