"""Write the site workbook template (and filled workbooks) from the schema.

Every sheet, header, note and drop-down comes from `schema.SHEETS`, the profile (drugs), the
CTCAE v5.0 term table and the lab catalogue; nothing about the contract is restated here.
The same writer fills rows (`data`), so the sample generator and the tests build their
workbooks with it and stay in step with the contract.

Drop-down lists longer than Excel's 255-character limit for inline lists live on a hidden
`Lists` sheet, referenced through workbook-level names (`List_ctcae` ...). The reader ignores
sheets it does not know, so the hidden sheet never produces a finding.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from .. import __version__
from ..io import OUTPUT_PROPERTY, atomic_path
from .instructions import write_instructions
from .reader import col_letter
from .schema import SHEETS, STUDY, STUDY_FIELDS, Column, Kind, Sheet, columns_for, norm

DATE_FORMAT = "DD-MMM-YYYY"
DATETIME_FORMAT = "DD-MMM-YYYY HH:MM"
TEXT_FORMAT = "@"
FORMATTED_ROWS = 10_000         # data rows given drop-downs and validation (formats: whole columns)
INSTRUCTIONS_SHEET = "Instructions"
UNITS_PREFIX = "Units_"         # workbook name of a lab test's units: Units_ALT ...
FIRST_DATE, LAST_DATE = date(1950, 1, 1), date(2100, 12, 31)   # plausible dates (rule WB106)
LISTS_SHEET = "Lists"           # hidden sheet holding the long drop-down lists
INLINE_LIST_LIMIT = 255         # Excel's limit for an inline list (the quoted, comma-separated text)
EXTRA_PREFIX = "x:"             # data key "x:Header" writes an extra column (not in the contract)
AUTHOR = "monitor"

_HEADER_FONT = Font(bold=True)
_REQUIRED_FILL = PatternFill(fill_type="solid", fgColor="BDD7EE")   # required column
_OPTIONAL_FILL = PatternFill(fill_type="solid", fgColor="E7E6E6")   # optional column
_HEADER_ALIGN = Alignment(vertical="center", wrap_text=True)

_KIND_TEXT = {
    Kind.TEXT: "Text.",
    Kind.ID: "An identifier, typed exactly as on the other sheets (e.g. 001). The column is "
             "formatted as text so leading zeros stay.",
    Kind.INT: "A whole number.",
    Kind.NUMBER: "A number (decimal point, no unit). A qualifier is kept (<0.5, >1210); "
                 "ND, NA or 'not done' means not done (never zero).",
    Kind.DATE: "A full date: an Excel date, 2022-07-05 or 05-JUL-2022.",
    Kind.PARTIAL_DATE: "A date: an Excel date, 2022-07-05 or 05-JUL-2022; partial allowed "
                       "(2022-07, UNK-JUL-2022).",
    Kind.YESNO: "Y or N (Yes/No, 1/0 and True/False are read too).",
    Kind.CHOICE: "One value of a fixed list.",
}


class Formula(str):
    """A cell formula in `data` (e.g. Formula("=B2*15")). Plain strings are always written as
    text, even when they start with '=', so data can never turn into a formula by accident."""


# ------------------------------------------------------------------ drop-down lists

def list_values(name: str, profile) -> tuple[list[str], str]:
    """The values of a named drop-down list (schema `Column.lists`) and what they are."""
    if name == "drugs":
        return list(profile.drug_names), "drug of the protocol profile"
    if name == "arms":
        return [a.name for a in profile.arms], "treatment arm of the protocol profile"
    if name == "tests":
        from ..labs.catalogue import load_catalogue

        return list(load_catalogue().tests), "lab test code"
    if name == "ctcae":
        from ..ctcae.terms import load_terms

        return load_terms().names(), "CTCAE v5.0 term"
    raise KeyError(f"unknown drop-down list {name!r} in the schema")


class _Lists:
    """Drop-down sources: short lists inline, long ones as a named range on the hidden sheet."""

    def __init__(self, wb: Workbook):
        self.wb = wb
        self.ws = None
        self.used = 0
        self.sources: dict = {}

    def source(self, name: str, values: list[str], title: str) -> str:
        key = (name, tuple(values))
        if key in self.sources:
            return self.sources[key]
        inline = ",".join(values)
        if len(inline) + 2 <= INLINE_LIST_LIMIT and not any(("," in v or '"' in v) for v in values):
            src = f'"{inline}"'
        else:
            src = self._range(name, values, title)
        self.sources[key] = src
        return src

    def units(self) -> None:
        """One named range per lab test with the units the catalogue accepts for it
        (`Units_ALT` ...), for the Labs Unit drop-down that follows the row's Test."""
        from ..labs.catalogue import load_catalogue

        for code, test in load_catalogue().tests.items():
            labels = list(dict.fromkeys(test.unit_labels.values()))
            if labels:
                self._range(UNITS_PREFIX + code, labels, f"{code} units", exact=True)

    def _range(self, name: str, values: list[str], title: str, exact: bool = False) -> str:
        if self.ws is None:
            self.ws = self.wb.create_sheet(LISTS_SHEET)
            self.ws.sheet_state = "hidden"
        ws = self.ws
        self.used += 1
        col = self.used
        letter = col_letter(col - 1)
        head = ws.cell(row=1, column=col, value=title)
        head.font = _HEADER_FONT
        for i, v in enumerate(values, start=2):
            c = ws.cell(row=i, column=col, value=v)
            c.data_type = "s"
        ws.column_dimensions[letter].width = max(12, min(60, max((len(v) for v in values), default=10) + 2))
        ref = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
        dn_name = base = ("" if exact else "List_") + "".join(ch if ch.isalnum() else "_" for ch in name)
        n = 1
        while dn_name in self.wb.defined_names:   # two different lists of one name
            n += 1
            dn_name = f"{base}_{n}"
        self.wb.defined_names[dn_name] = DefinedName(dn_name, attr_text=ref)
        return dn_name


def _choices_text(col: Column) -> str:
    also = sorted({a for a in (col.choice_aliases or {})})
    text = "Allowed: " + ", ".join(col.choices) + "."
    if also:
        text += " Also read: " + ", ".join(also) + "."
    return text


def _range_text(col: Column) -> str | None:
    if col.min is None and col.max is None:
        return None
    unit = f" {col.unit}" if col.unit else ""
    if col.min is not None and col.max is not None:
        return f"Range: {col.min:g}-{col.max:g}{unit}."
    return f"Range: >= {col.min:g}{unit}." if col.min is not None else f"Range: <= {col.max:g}{unit}."


def column_note(col: Column, profile=None) -> str:
    """The note on a header cell: what the column holds, whether it is required, its kind and
    the values or range it allows."""
    lines = [col.header, col.doc or ""]
    if col.required:
        lines.append("Required.")
    elif col.required_if:
        lines.append(f"Required if {col.required_if}.")
    else:
        lines.append("Optional.")
    lines.append("Type: " + _KIND_TEXT[col.kind])
    if col.kind is Kind.CHOICE and col.choices:
        lines.append(_choices_text(col))
    rng = _range_text(col)
    if rng:
        lines.append(rng)
    if col.lists == "drugs" and profile is not None:
        also = [a for d in profile.drugs for a in d.aliases]
        lines.append("Pick from the list: " + ", ".join(profile.drug_names) + "."
                     + (" Also read: " + ", ".join(also) + "." if also else ""))
    elif col.lists == "arms" and profile is not None:
        lines.append("Pick from the list: " + ", ".join(a.name for a in profile.arms) + "." if profile.arms
                     else "This study's profile has no arms: leave blank.")
    elif col.lists == "tests":
        lines.append("Pick a test code from the list (ALT, AST, BILI ...); test names and "
                     "aliases (Alanine aminotransferase, SGPT) are read too.")
    elif col.lists == "ctcae":
        lines.append("Pick the exact CTCAE v5.0 term from the list; put the investigator's "
                     "words in Verbatim term.")
    if col.aliases:
        lines.append("Header also read as: " + ", ".join(col.aliases) + ".")
    return "\n".join(line for line in lines if line)


def _comment(text: str) -> Comment:
    lines = text.splitlines()
    height = 20 + 15 * sum(1 + len(line) // 48 for line in lines)
    return Comment(text, AUTHOR, height=min(height, 400), width=320)


# ------------------------------------------------------------------ validations

def _validation_spec(col: Column, profile, lists: _Lists) -> dict | None:
    """DataValidation arguments for a column, or None. `errorStyle` is 'stop' only where the
    list is everything the monitor accepts; 'warning' where aliases or other forms are read."""
    if col.lists:
        values, what = list_values(col.lists, profile)
        if not values:   # a study without arms: nothing to pick
            return None
        src = lists.source(col.lists, values, what)
        strict = col.lists == "ctcae"  # only the exact CTCAE term passes the check
        return dict(type="list", formula1=src, errorStyle="stop" if strict else "warning",
                    errorTitle="Not in the list",
                    error=f"Not a {what} from the list." + ("" if strict else
                          " Other spellings are read only if the monitor knows them."))
    if col.kind in (Kind.DATE, Kind.PARTIAL_DATE):
        partial = col.kind is Kind.PARTIAL_DATE
        return dict(type="date", operator="between", formula1=_serial(FIRST_DATE), formula2=_serial(LAST_DATE),
                    errorStyle="warning", errorTitle="Not a date",
                    error="Enter a date between 1950 and 2100, e.g. 05-JUL-2022 or 2022-07-05."
                    + (" A partial date (2022-07, UNK-JUL-2022) is read too." if partial else ""))
    if col.kind is Kind.YESNO:
        return dict(type="list", formula1=lists.source("yesno", ["Y", "N"], "Y/N"), errorStyle="warning",
                    errorTitle="Y or N", error="Enter Y or N.")
    if col.kind is Kind.CHOICE and col.choices:
        return dict(type="list", formula1=lists.source(col.key, list(col.choices), col.name),
                    errorStyle="warning" if col.choice_aliases else "stop",
                    errorTitle="Not in the list", error="Use one of: " + ", ".join(col.choices) + ".")
    if col.kind is Kind.INT and col.min is not None and col.max is not None:
        if col.max - col.min <= 10:   # a short scale (grade, ECOG): a drop-down
            vals = [str(int(v)) for v in range(int(col.min), int(col.max) + 1)]
            return dict(type="list", formula1=lists.source(col.key, vals, col.name),
                        errorStyle="stop" if col.required else "warning",
                        errorTitle="Out of range", error=f"Enter a whole number {vals[0]}-{vals[-1]}.")
        return dict(type="whole", operator="between", formula1=str(int(col.min)),
                    formula2=str(int(col.max)), errorStyle="warning", errorTitle="Out of range",
                    error=f"Enter a whole number {col.min:g}-{col.max:g}.")
    if col.kind is Kind.NUMBER and col.min is not None and col.max is not None:
        unit = f" {col.unit}" if col.unit else ""
        return dict(type="decimal", operator="between", formula1=f"{col.min:g}", formula2=f"{col.max:g}",
                    errorStyle="warning", errorTitle="Out of range",
                    error=f"Enter a number {col.min:g}-{col.max:g}{unit} (or ND if not done).")
    return None


def _serial(d: date) -> str:
    return str((d - date(1899, 12, 30)).days)


def _unit_spec(test_letter: str) -> dict:
    """The Labs Unit drop-down: the units of the test in the same row (Units_<code>). A test
    written by name or alias gives no list; any unit may then be typed (the check reads it)."""
    return dict(type="list", formula1=f'INDIRECT("{UNITS_PREFIX}"&${test_letter}2)', errorStyle="warning",
                errorTitle="Unit not in the list",
                error="Not a unit the monitor knows for this test; pick one from the list.")


def _add_validation(ws, spec: dict, ref: str, cache: dict):
    key = tuple(sorted(spec.items()))
    dv = cache.get(key)
    if dv is None:
        dv = DataValidation(allow_blank=True, showErrorMessage=True, **spec)
        ws.add_data_validation(dv)
        cache[key] = dv
    dv.add(ref)


# ------------------------------------------------------------------ writing

def _write_value(cell, value):
    if value is None:
        return
    if isinstance(value, Formula):
        cell.value = str(value)
        return
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"   # never a formula, whatever it starts with
        return
    if isinstance(value, datetime):
        cell.value = value
        cell.number_format = DATETIME_FORMAT if (value.hour, value.minute, value.second) != (0, 0, 0) \
            else DATE_FORMAT
        return
    if isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
        return
    if isinstance(value, (bool, int, float)):
        cell.value = value
        return
    raise TypeError(f"cannot write a {type(value).__name__} to cell {cell.coordinate}: {value!r}")


def _style_header(cell, col: Column | None, note: str):
    cell.font = _HEADER_FONT
    cell.alignment = _HEADER_ALIGN
    cell.fill = _REQUIRED_FILL if col is not None and col.required else _OPTIONAL_FILL
    cell.comment = _comment(note)


def _write_study(ws, profile, study: dict | None):
    values = {"Protocol": None, "Site": None, "Profile": profile.name, "Date format": None}
    by_norm = {norm(v): v for v in STUDY_FIELDS.values()}
    for k, v in (study or {}).items():
        field = by_norm.get(norm(k))
        if field is None:
            raise ValueError(f"unknown Study field {k!r}; use one of {', '.join(values)}")
        values[field] = v
    for j, col in enumerate(STUDY.columns, start=1):
        cell = ws.cell(row=1, column=j, value=col.header)
        _style_header(cell, col, column_note(col))
        ws.column_dimensions[col_letter(j - 1)].width = max(col.width, 16)
    notes = {
        "Protocol": "The protocol ID, e.g. QL1604-HCC-201. Required.",
        "Site": "The site ID, e.g. 01 (kept as text). Required.",
        "Profile": "The protocol profile the monitor checks against; prefilled. Change it only "
                   "if the monitor tells you to.",
        "Date format": "Optional: DD/MM/YYYY or MM/DD/YYYY, only if numeric dates such as "
                       "05/07/2022 are used. Leave blank otherwise.",
    }
    for i, (field, value) in enumerate(values.items(), start=2):
        f = ws.cell(row=i, column=1, value=field)
        f.data_type = "s"
        f.comment = _comment(notes[field])
        v = ws.cell(row=i, column=2)
        v.number_format = TEXT_FORMAT
        _write_value(v, value)
        if field == "Date format":
            dv = DataValidation(type="list", formula1='"DD/MM/YYYY,MM/DD/YYYY"', allow_blank=True,
                                showErrorMessage=True, errorStyle="stop", errorTitle="Date format",
                                error="DD/MM/YYYY or MM/DD/YYYY, or leave blank.")
            ws.add_data_validation(dv)
            dv.add(v.coordinate)
    ws.freeze_panes = "A2"


def _write_sheet(ws, sheet: Sheet, profile, rows: list, lists: _Lists):
    cols = list(columns_for(sheet, profile.related_drug_names))
    keys = {c.key for c in cols}
    extra = []
    for r in rows:
        if not isinstance(r, dict):
            raise TypeError(f"{sheet.name}: each row must be a dict of column key -> value")
        for k in r:
            if k in keys:
                continue
            if isinstance(k, str) and k.startswith(EXTRA_PREFIX):
                if k not in extra:
                    extra.append(k)
                continue
            raise ValueError(f"{sheet.name}: unknown column key {k!r}; use one of "
                             f"{', '.join(c.key for c in cols)} (or '{EXTRA_PREFIX}Header' for an extra column)")
    last = 1 + max(FORMATTED_ROWS, len(rows))
    cache: dict = {}
    for j, col in enumerate(cols, start=1):
        letter = col_letter(j - 1)
        _style_header(ws.cell(row=1, column=j, value=col.header), col, column_note(col, profile))
        ws.column_dimensions[letter].width = col.width
        fmt = {Kind.DATE: DATE_FORMAT, Kind.PARTIAL_DATE: DATE_FORMAT, Kind.ID: TEXT_FORMAT}.get(col.kind)
        if fmt:   # the whole column: every row a coordinator adds gets it
            ws.column_dimensions[letter].number_format = fmt
            for r in range(2, len(rows) + 2):
                ws.cell(row=r, column=j).number_format = fmt
        spec = _validation_spec(col, profile, lists)
        if sheet.name == "Labs" and col.key == "unit" and any(c.key == "test" for c in cols):
            spec = _unit_spec(col_letter([c.key for c in cols].index("test")))
        if spec:
            _add_validation(ws, spec, f"{letter}2:{letter}{last}", cache)
    for j, k in enumerate(extra, start=len(cols) + 1):
        cell = ws.cell(row=1, column=j, value=k[len(EXTRA_PREFIX):])
        cell.data_type = "s"
        cell.font = _HEADER_FONT
    index = {c.key: j for j, c in enumerate(cols, start=1)}
    index.update({k: j for j, k in enumerate(extra, start=len(cols) + 1)})
    for i, r in enumerate(rows, start=2):
        for k, v in r.items():
            _write_value(ws.cell(row=i, column=index[k]), v)
    ws.freeze_panes = "A2"


def write_template(path, profile=None, data: dict | None = None, study: dict | None = None) -> Path:
    """Write the site workbook: every schema sheet in order, headers with notes, drop-downs and
    formats; optionally filled with `data` rows and `study` fields. Written atomically.

    data:  {"Subjects": [{"subject": "001", "sex": "M", "consent_date": date(...)}, ...], ...}
           keyed by schema sheet names and column keys (`related__<drug>` for AE relatedness;
           "x:<header>" adds a column outside the contract). Strings are always text, dates real
           Excel dates; `Formula("=...")` writes a formula.
    study: {"Protocol": ..., "Site": ..., "Profile": ..., "Date format": ...} over the defaults
           (Profile = the profile's name, the rest blank).
    """
    if profile is None:
        from ..profile.profile import load_profile

        profile = load_profile()
    data = dict(data or {})
    names = {s.name for s in SHEETS}
    unknown = [k for k in data if k not in names or k == STUDY.name]
    if unknown:
        raise ValueError(f"unknown data sheet(s) {', '.join(map(repr, unknown))}; use "
                         f"{', '.join(s.name for s in SHEETS if s is not STUDY)} (Study fields go in `study`)")
    wb = Workbook()
    wb.remove(wb.active)
    lists = _Lists(wb)
    lists.units()
    write_instructions(wb.create_sheet(INSTRUCTIONS_SHEET), _REQUIRED_FILL, _OPTIONAL_FILL)
    for sheet in SHEETS:
        ws = wb.create_sheet(sheet.name)
        if sheet is STUDY:
            _write_study(ws, profile, study)
        else:
            _write_sheet(ws, sheet, profile, list(data.get(sheet.name, ())), lists)
    if lists.ws is not None:   # keep the hidden sheet last, after every contract sheet
        wb.move_sheet(lists.ws, offset=len(wb.sheetnames) - 1 - wb.sheetnames.index(LISTS_SHEET))
    wb.active = 0
    wb.custom_doc_props.append(StringProperty(name=OUTPUT_PROPERTY,
                                              value="template" if not data else "generated workbook"))
    props = wb.properties
    props.title = f"Site workbook: {getattr(profile, 'title', profile.name)}"
    props.subject = f"Trial safety monitor workbook (profile {profile.name})"
    props.description = "Written by the trial safety monitor; hover a header for its note."
    props.keywords = "clinical trial; site workbook; safety monitor"
    props.creator = AUTHOR
    props.lastModifiedBy = AUTHOR
    props.category = f"monitor {__version__}"
    path = Path(path)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path
