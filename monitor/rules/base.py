"""What every rule shares: the Rule record, the check context, and `emit` to build findings.

A rule is a function `check(ctx) -> pl.DataFrame | None` whose frame has one row per finding
with the columns of FRAME_SCHEMA. `emit` builds that frame from a sheet's rows with polars
expressions, so no rule loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

import polars as pl

from ..findings import Severity
from ..workbook.reader import SheetData, Workbook

FRAME_SCHEMA = {
    "sheet": pl.String,      # schema sheet name (Labs, Cycles ...)
    "row": pl.Int64,         # Excel row, null for sheet-level findings
    "field": pl.String,      # column key, null when the finding is about the row or sheet
    "cell": pl.String,       # explicit cell (when there is no field), e.g. a formula cell
    "subject": pl.String,
    "message": pl.String,
    "suggestion": pl.String,
    "key": pl.String,        # record key for the stable id
}


@dataclass(frozen=True)
class Rule:
    """One check: its stable code, name, severity, function, and the columns and profile it
    needs."""

    code: str
    name: str
    severity: Severity
    check: Callable
    needs: tuple = ()        # ((sheet, (column keys...)), ...): not evaluated when absent
    profile_needs: tuple = ()  # ("recist", "schedule.cycle_days", ...): not evaluated when the study has not

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0].strip() if self.doc else ""

    @property
    def family(self) -> str:
        return self.code.rstrip("0123456789")


@dataclass
class Context:
    """What every rule of one check reads: the workbook, profile, terms, catalogue and date."""

    wb: Workbook
    profile: object
    terms: object            # ctcae.terms.Terms
    catalogue: object        # labs.catalogue.Catalogue
    today: date

    def sheet(self, name: str) -> SheetData | None:
        return self.wb.sheets.get(name)

    @property
    def lab_rows(self) -> pl.DataFrame:
        """The Labs sheet frame with `test_code` and `unit_factor`, built once per check."""
        if getattr(self, "_lab_rows", None) is None:
            from ..labs.catalogue import with_lab_codes

            self._lab_rows = with_lab_codes(self.sheet("Labs").frame, self.catalogue)
        return self._lab_rows

    @property
    def labs(self) -> pl.DataFrame:
        """The derived labs table (SI values, baseline, CTCAE grades), built once per check."""
        if getattr(self, "_labs", None) is None:
            from ..derive.labs import graded_labs

            labs = self.sheet("Labs")
            rows = self.lab_rows if labs is not None and labs.has("subject", "date", "test", "result") else None
            self._labs = graded_labs(labs, self.sheet("Cycles"), self.catalogue, rows, omit=RULES_DROP_LAB_COLUMNS)
        return self._labs


# columns of the graded labs table no rule reads (the export and the report keep them): never
# built for a check's Context, ~60 MiB on a 600,000-result study (five text columns)
RULES_DROP_LAB_COLUMNS = ("unit_graded_low", "unit_graded_high", "unit_graded", "grade_from_qualifier",
                          "corrected", "ca_corrected", "lln_si", "baseline_si",
                          # a function of the test code: rules read it from ctcae.grade.term_expr
                          "ctcae_term_low", "ctcae_term_high")


def record_key(sd: SheetData) -> pl.Expr:
    """The record's key fields as written (subject, date, test, AE number ...)."""
    parts = [pl.col(f"{k}__raw").fill_null("") for k in sd.schema.record_key if k in sd.columns]
    if not parts:
        return pl.col("_row").cast(pl.String)
    return pl.concat_str(parts, separator="|")


# a null text literal, built once: pl.lit with a dtype builds a Series each time (~5 us; emit
# is called ~200 times a check)
_NULL_TEXT = pl.lit(None, dtype=pl.String)
# emit's answer for no rows (~190 times a check), copied from one frame built once: a frame built
# from the schema makes its eight empty columns each time (~30 us; a clone ~0.4 us)
_NO_FINDINGS = pl.DataFrame(schema=FRAME_SCHEMA)


def emit(sd: SheetData, df: pl.DataFrame | pl.LazyFrame, field: str | None, message: pl.Expr,
         suggestion: pl.Expr | None = None, key: pl.Expr | None = None) -> pl.DataFrame:
    """Findings for the rows of `df` (a filtered view of `sd.frame`), on column `field`.
    `df` may be a LazyFrame (`sd.frame.lazy().filter(...)`): then only the columns the findings
    read are filtered, not every column of a wide 600,000-row sheet, in one query."""
    names = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
    subject = pl.col("subject") if "subject" in names else _NULL_TEXT
    k = record_key(sd) if key is None else key
    if field:
        k = pl.concat_str([k, pl.lit(field)], separator="|")
    if isinstance(df, pl.DataFrame) and df.height == 0 and _reads_only(names, k, message, suggestion):
        return _NO_FINDINGS.clone()   # no rows: no query (a column it lacks still raises)
    out = df.select(
        pl.lit(sd.schema.name).alias("sheet"),
        pl.col("_row").cast(pl.Int64).alias("row"),
        (pl.lit(field) if isinstance(field, str) else _NULL_TEXT).alias("field"),
        _NULL_TEXT.alias("cell"),
        subject.cast(pl.String).alias("subject"),
        message.cast(pl.String).alias("message"),
        (suggestion if suggestion is not None else _NULL_TEXT).cast(pl.String).alias("suggestion"),
        k.cast(pl.String).alias("key"),
    )
    return collect(out) if isinstance(out, pl.LazyFrame) else out


def _reads_only(names: list, *exprs) -> bool:
    """Whether the expressions read only columns in `names` (then an empty frame's findings are
    the empty FRAME_SCHEMA frame, what the query would give)."""
    have = set(names)
    return all(set(e.meta.root_names()) <= have for e in exprs if e is not None)


def sheet_join(sd: SheetData, right: pl.DataFrame, on: str = "_row") -> pl.DataFrame:
    """`sd.frame.join(right, on=on)` (inner), the same rows in the same order, without joining
    every row of the sheet: the sheet's rows whose key is in `right` are cut out first (a rule's
    few findings on a 600,000-row Labs sheet no longer cost a join of all 28 columns of it)."""
    from ..derive.exposure import join_in_order

    rows = sd.frame.filter(pl.col(on).is_in(right.get_column(on).implode()))
    return join_in_order(rows, right, on, sd.frame.height, right.height)


def rows_where(sd: SheetData, frame: pl.DataFrame, cond: pl.Expr, *cols: str) -> pl.DataFrame:
    """The rows of `frame` (sd.frame, or a frame with its columns) where `cond` holds, with only
    the columns `emit` reads by default (row, subject, the record key as written) and `cols`:
    a wide 600,000-row sheet is filtered on those few columns, not on all of them."""
    keep = ["_row", *(["subject"] if "subject" in frame.columns else []),
            *(f"{k}__raw" for k in sd.schema.record_key if k in sd.columns), *cols]
    return collect(frame.lazy().filter(cond).select(list(dict.fromkeys(keep))))


def collect(lf: pl.LazyFrame) -> pl.DataFrame:
    """A rule's query, run by the in-memory engine: polars' default engine ("auto": streaming)
    costs about twice as much to start, which is most of the time on a site's few-row frames."""
    return lf.collect(engine="in-memory")


def one(sheet: str, message: str, row: int | None = None, field: str | None = None,
        cell: str | None = None, suggestion: str | None = None, key: str = "",
        subject: str | None = None) -> dict:
    """A single finding as a dict (for sheet-level rules that do not scan rows)."""
    return {"sheet": sheet, "row": row, "field": field, "cell": cell, "subject": subject,
            "message": message, "suggestion": suggestion, "key": key}


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FRAME_SCHEMA)


def quoted(expr: pl.Expr) -> pl.Expr:
    """A cell value shown in a message: in quotes, cut to 60 characters."""
    s = expr.cast(pl.String).str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00$", "${1}")
    s = pl.when(s.str.len_chars() > 60).then(s.str.slice(0, 57) + pl.lit("...")).otherwise(s)
    return pl.lit("'") + s.fill_null("") + pl.lit("'")
