"""Structure rules (WB0xx): sheets, headers, formulas, the Study sheet.

Structural problems gate the rest: a column that is missing makes the rules that need it
"not evaluated" instead of a cascade of false findings.
"""

from __future__ import annotations

import difflib

from ..profile.profile import bundled_profiles
from ..workbook.reader import col_letter
from ..workbook.schema import STUDY_FIELDS, columns_for, norm
from .base import frame, one


def close_column(ctx, sd, header: str):
    """The contract column that a header not in the contract most likely means (a misspelling
    of its name or of one of its aliases), among the columns the sheet lacks; or None."""
    text = norm(header)
    if len(text) < 3:
        return None
    best, best_score = None, 0.0
    for c in columns_for(sd.schema, ctx.profile.drug_names):
        if c.key in sd.columns:
            continue
        for cand in (c.name, c.header, *c.aliases):
            score = difflib.SequenceMatcher(None, text, norm(cand)).ratio()
            if score > best_score:
                best, best_score = c, score
    return best if best_score >= 0.8 else None


def _misspelt(ctx, sd) -> dict:
    """column key -> (header as written, letter) for the extra headers that misspell it."""
    out = {}
    for header, letter in sd.extra:
        c = close_column(ctx, sd, header)
        if c is not None and c.key not in out:
            out[c.key] = (header, letter)
    return out


def header_row_not_found(ctx):
    """A sheet has no row whose cells match the contract's column headers.

    *What it does*: looks at the first 30 rows of each known sheet for a row with at least
    two of the sheet's headers (case, spaces, `_`/`-`, aliases and units in brackets ignored).
    *Why it matters*: without a header row nothing on the sheet can be read; every other
    check of the sheet is skipped, so this is critical.
    *Example*: a Labs sheet whose first row says `Pt`, `Day`, `Analyte`, `Val`.
    """
    rows = [one(sd.schema.name, f"No header row found on sheet '{sd.name}': none of its first 30 rows "
                f"has the columns {', '.join(c.name for c in sd.schema.columns[:4])} ...",
                suggestion="Put the template's header row above the data (monitor template).",
                key=sd.schema.name)
            for sd in ctx.wb.sheets.values() if sd.header_row is None]
    return frame(rows)


def required_column_missing(ctx):
    """A required column of the contract is not on the sheet.

    *What it does*: compares the header row with the sheet's required columns; when a header
    not in the contract is close to the missing one (`Subjct ID`), says so and points at it.
    *Why it matters*: the data the column holds (a date, a grade) cannot be checked or graded;
    the rules that need it are not evaluated rather than raising false findings.
    *Example*: an AdverseEvents sheet without a `Grade` column.
    """
    rows = []
    for sd in ctx.wb.sheets.values():
        if sd.header_row is None:
            continue
        misspelt = _misspelt(ctx, sd) if sd.missing else {}
        for c in sd.missing:
            if c.key in misspelt:   # the column is there, its header misspelt
                header, letter = misspelt[c.key]
                rows.append(one(sd.schema.name, f"Required column '{c.name}' is missing from sheet "
                                f"'{sd.name}', but header '{header}' (column {letter}) is close: did you "
                                f"mean '{c.header}'?",
                                row=sd.header_row, cell=f"{letter}{sd.header_row}",
                                suggestion=f"The column is there, misspelt: rename '{header}' to '{c.header}'.",
                                key=c.key))
                continue
            rows.append(one(sd.schema.name, f"Required column '{c.name}' is missing from the header row "
                            f"of sheet '{sd.name}'.", row=sd.header_row,
                            cell=f"{sd.first_col_letter}{sd.header_row}",
                            suggestion=f"Add a column headed '{c.header}'.", key=c.key))
    return frame(rows)


def unknown_column(ctx):
    """A column on a sheet is not part of the workbook contract.

    *What it does*: lists header cells that match no column or alias of the sheet.
    *Why it matters*: the column is kept but not checked; it may be a misspelt header
    whose data therefore goes unchecked (info).
    *Example*: `Lab comment 2` on the Labs sheet.
    """
    rows = []
    for sd in ctx.wb.sheets.values():
        required = {c.key for c in sd.missing}
        for header, letter in sd.extra:
            c = close_column(ctx, sd, header)
            if c is not None and c.key in required:
                continue   # reported once, by WB002, at this cell
            rows.append(one(sd.schema.name, f"Column '{header}' is not in the workbook contract; it is "
                            "kept but not checked." + (f" Did you mean '{c.header}'?" if c else ""),
                            row=sd.header_row, cell=f"{letter}{sd.header_row}",
                            suggestion=f"Rename it to '{c.header}' so that it is checked." if c else None,
                            key=header))
    return frame(rows)


def column_duplicated(ctx):
    """Two header cells on one sheet name the same column (directly or by alias).

    *What it does*: finds a second header mapping to a column already found.
    *Why it matters*: only the first is read; data typed in the second is silently ignored.
    *Example*: both `Result` and `Value` on the Labs sheet.
    """
    rows = []
    for sd in ctx.wb.sheets.values():
        for key, header, letter in sd.duplicates:
            first = sd.header(key)
            rows.append(one(sd.schema.name, f"Column '{header}' repeats column '{first}' "
                            f"(column {sd.letter(key)}); only the first is read.", row=sd.header_row,
                            cell=f"{letter}{sd.header_row}", key=f"{key}|{letter}"))
    return frame(rows)


def formula_without_cached_value(ctx):
    """A cell holds a formula but no saved result.

    *What it does*: scans the sheet XML for formula cells with no cached value.
    *Why it matters*: the monitor never calculates formulas (it reads the value Excel saved);
    a file written by a script or saved without recalculation has blanks where the
    coordinator sees numbers.
    *Example*: `=B4*15` in a Dose cell of a file produced by a script.
    """
    rows = []
    schema_of = {sd.name: sd.schema.name for sd in ctx.wb.sheets.values()}
    for sheet, cell in ctx.wb.formula_cells:
        sname = schema_of.get(sheet, "Study")
        rows.append(one(sname, f"Cell {cell} holds a formula with no saved value; the monitor reads "
                        "saved values only.", row=int("".join(ch for ch in cell if ch.isdigit())),
                        cell=cell, suggestion="Open the file in Excel or LibreOffice and save it again, "
                        "or type the value.", key=cell))
    return frame(rows)


def study_field_missing(ctx):
    """The Study sheet lacks Protocol or Site.

    *What it does*: looks for the `Protocol` and `Site` fields with a value.
    *Why it matters*: reports and batch history label every finding with protocol and site;
    without them a monitor cannot tell whose workbook it is.
    *Example*: a Study sheet with only `Profile`.
    """
    rows = []
    for key in ("protocol", "site"):
        v = ctx.wb.study.get(key)
        if v is None or not v[0]:
            rows.append(one("Study", f"The Study sheet has no {STUDY_FIELDS[key]} value.",
                            row=v[1] if v else None, cell=f"{ctx.wb.study_value_col}{v[1]}" if v else None,
                            suggestion=f"Add a row '{STUDY_FIELDS[key]}' with its value.", key=key))
    return frame(rows)


def profile_not_matching(ctx):
    """The Study sheet names a protocol profile other than the one the check used.

    *What it does*: compares the Study sheet's `Profile` with the loaded profile's name.
    *Why it matters*: doses, windows and hold rules come from the profile; checking a
    workbook against another study's rules gives wrong findings.
    *Example*: `Profile = other_study` while the bundled QL1604 profile was loaded.
    """
    v = ctx.wb.study.get("profile")
    if not v or not v[0]:
        return None
    if v[0].strip().lower() == ctx.profile.name.lower():
        return None
    known = sorted(bundled_profiles())
    return frame([one("Study", f"The Study sheet names profile '{v[0]}' but the check used "
                      f"'{ctx.profile.name}'.", row=v[1], cell=f"{ctx.wb.study_value_col}{v[1]}",
                      suggestion=f"Run with --profile FILE for '{v[0]}' (bundled: {', '.join(known)}).",
                      key="profile")])


def date_format_unknown(ctx):
    """The Study sheet's `Date format` is not DD/MM/YYYY or MM/DD/YYYY.

    *What it does*: reads the optional `Date format` field.
    *Why it matters*: numeric dates like 05/07/2022 are only read when the format is known;
    an unrecognised format leaves every such date unread.
    *Example*: `Date format = D.M.Y`.
    """
    v = ctx.wb.study.get("dateformat")
    if not v or not v[0] or ctx.wb.date_format:
        return None
    return frame([one("Study", f"Date format '{v[0]}' is not understood; use DD/MM/YYYY or MM/DD/YYYY.",
                      row=v[1], cell=f"{ctx.wb.study_value_col}{v[1]}", key="dateformat")])
