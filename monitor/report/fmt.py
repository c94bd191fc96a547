"""Shared by the view modules: the report's constants (lab order and labels), text formatting
of dates, numbers and grades, and reading a sheet's typed frame with absent columns as null."""

from __future__ import annotations

import hashlib
import re

import polars as pl


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# Clinical reading order of the lab strip; tests not listed follow alphabetically.
LAB_ORDER = ("ALT", "AST", "BILI", "ALP", "GGT", "ALB", "INR", "CREAT", "UPROT", "UPROT24",
             "HGB", "PLAT", "NEUT", "WBC", "LYM", "K", "SODIUM", "CA", "CAION", "MG", "GLUC",
             "AMYLASE", "LIPASE", "CK", "LDH", "TSH", "FT4", "AFP", "PIVKA2")
LAB_LABEL = {"PIVKA2": "PIVKA-II", "UPROT": "U-prot", "UPROT24": "U-prot 24h", "SODIUM": "Na",
             "CREAT": "Creat", "GLUC": "Gluc", "AMYLASE": "Amyl", "LIPASE": "Lipase",
             "CAION": "Ca ion"}
MARKERS = ("AFP", "PIVKA2")
LIVER = ("ALT", "AST", "BILI")
SEVERITIES = ("critical", "major", "minor", "info")
RESPONSE_RANK = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NE": 4}


def fmt_date(d) -> str:
    if d is None:
        return ""
    return f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year:04d}"


def fmt_num(v, digits: int = 6) -> str:
    if v is None:
        return ""
    if float(v).is_integer() and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.{digits}g}"


def as_text(v) -> str:
    return "" if v is None else str(v)


def yn(v) -> str:
    return "" if v is None else ("Y" if v else "N")


def grade_css(g) -> str:
    if g is None:
        return "ng"
    return f"g{min(int(g), 4)}"


def family(rule: str) -> str:
    m = re.match(r"[A-Z]+", rule or "")
    return m.group(0) if m else "?"


def norm(text) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


def slug(text: str) -> str:
    """A name safe in ids and asset names; text that needed changing gets a short hash so two
    subjects never share one."""
    text = str(text)
    safe = re.sub(r"[^0-9A-Za-z_-]+", "_", text)
    if safe != text or not safe:
        safe += "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return safe


def sheet_frame(wb, sheet: str, keys: dict) -> pl.DataFrame:
    """The sheet's typed frame with the given columns (key -> dtype); absent columns are null,
    so a workbook missing an optional column still gives a report."""
    sd = wb.get(sheet) if wb is not None else None
    cols = {"_row": pl.Int64, **keys}
    if sd is None or sd.header_row is None:
        return pl.DataFrame(schema=cols)
    have = sd.frame.columns
    return sd.frame.select([(pl.col(k).cast(t, strict=False) if k in have else pl.lit(None, dtype=t)).alias(k)
                            for k, t in cols.items()])


def rows_by_subject(df: pl.DataFrame) -> dict:
    """subject -> list of row dicts (one pass, grouped in polars)."""
    if df.height == 0:
        return {}
    out = {}
    for part in df.filter(pl.col("subject").is_not_null()).partition_by("subject", maintain_order=True):
        out[part["subject"][0]] = part.to_dicts()
    return out
