"""Write an annotated copy of a checked workbook: each finding's cell coloured by severity and
commented, plus a first sheet listing every finding with a link to its cell.

The original file is only read (opened read-only, never saved over); the copy is written
atomically as .xlsx (macros of an .xlsm are dropped). Only the cells that have findings are
touched, so a large workbook costs its load and save, not a pass over every cell.

openpyxl round-trips cell values, formulas, styles, comments, merged cells and plain data
validations; it drops what it does not model (charts, images, pivot tables, validation and
conditional-format extensions). Formulas are kept as formulas and Excel recalculates them on
open (`fullCalcOnLoad`); their cached values are not in the copy.

Annotating again (an annotated copy, or a workbook annotated before) first takes the monitor's
earlier marks off: every cell it marked gets back its own style and note (kept on a very hidden
`monitor-marks` sheet), and its Findings sheet is replaced, not added a second time. Copies
written before the marks sheet existed are cleaned by their marks: notes by author `monitor`,
fills in the severity colours on those cells, a sheet titled "Monitor findings: ...".
The copy carries the custom document property `monitor-output = annotated copy`, so a re-run
may replace it and nothing else (monitor.io).
"""

from __future__ import annotations

import io
import re
import warnings
from copy import copy
from pathlib import Path

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, MergedCell
from openpyxl.comments import Comment
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.properties import CalcProperties
from openpyxl.worksheet.hyperlink import Hyperlink

from ..findings import Severity
from ..grouping import Group, grouped
from ..io import OUTPUT_PROPERTY, atomic_path, safe_cell
from .reader import WorkbookError

FINDINGS_SHEET = "Findings"
FINDINGS_SHEET_ALT = "Findings (monitor)"
MARKS_SHEET = "monitor-marks"   # very hidden: the cells marked and what they held before
EARLIER_NOTE = "\n\n--- earlier note ---\n"
AUTHOR = "monitor"

# severity -> fill colour (RGB): critical red, major orange, minor yellow, info light blue
SEVERITY_COLOURS = {
    Severity.CRITICAL.value: "FF7C80",
    Severity.MAJOR.value: "FFC000",
    Severity.MINOR.value: "FFFF66",
    Severity.INFO.value: "BDD7EE",
}
SEVERITY_MEANING = {
    Severity.CRITICAL.value: "must be fixed before the data can be used (patient safety or GCP)",
    Severity.MAJOR.value: "wrong or unreadable data that a safety check depends on",
    Severity.MINOR.value: "incomplete or doubtful data; please review",
    Severity.INFO.value: "for information; nothing may be wrong",
}
COLUMNS = (  # Findings sheet: header, width
    ("Severity", 10), ("Rule", 9), ("Name", 28), ("Where", 22), ("Subject", 12),
    ("Message", 70), ("Suggestion", 50), ("Finding ID", 18),
    ("Status", 11), ("Query", 40), ("Response", 40),   # the findings workflow (monitor/batch/workflow.py)
)
RESPONSE_FILL = PatternFill(fill_type="solid", fgColor="FFF2CC")   # where the site types its answer
WORKBOOK_PROPERTY = "monitor workbook"   # the history's name of the workbook (for `monitor responses`)
STORE_PROPERTY = "monitor history"       # the folder of the history store the statuses came from
HEADER_ROW = 4          # rows 1-2: title and legend; row 4: the table's header
MAX_TEXT = 32000        # Excel's cell limit is 32,767 characters
MAX_COMMENT_FINDINGS = 20

_OUR_NOTE = re.compile(r"^(CRITICAL|MAJOR|MINOR|INFO) [A-Z]+\d{3} ")
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_BOLD = Font(bold=True)
_LINK = Font(color="0563C1", underline="single")
_WRAP = Alignment(wrap_text=True, vertical="top")


def fill_for(severity: str) -> PatternFill:
    return PatternFill(fill_type="solid", fgColor=SEVERITY_COLOURS[_severity(severity).value])


def _severity(text) -> Severity:
    try:
        return Severity(str(text).lower())
    except ValueError:
        return Severity.INFO


def _clean(text) -> str:
    """Text safe to store: no characters XML 1.0 forbids, within Excel's cell limit."""
    s = ILLEGAL_CHARACTERS_RE.sub("", "" if text is None else str(text))
    return s if len(s) <= MAX_TEXT else s[:MAX_TEXT - 3] + "..."


def _text(cell, value):
    """Write text copied from the workbook or a finding: cleaned and formula-safe, always text."""
    if value is None or value == "":
        return
    cell.value = safe_cell(_clean(value))
    cell.data_type = "s"


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def finding_line(f) -> str:
    """One finding as a comment line: `MAJOR WB110 value-not-allowed: message -> suggestion`."""
    line = f"{str(f.severity).upper()} {f.rule} {f.name}: {f.message}"
    if f.suggestion:
        line += f" -> {f.suggestion}"
    return line


def _target(f, sheets: dict, first_col) -> tuple[str, str] | None:
    """(workbook sheet name, cell) that the finding marks, or None for summary-only findings."""
    name = sheets.get(f.sheet) if f.sheet else None
    if name is None:
        return None
    if f.cell:
        m = _CELL_REF.match(str(f.cell).strip())
        if m:
            return name, f"{m.group(1).upper()}{int(m.group(2))}"
    if f.row:
        return name, f"{first_col[name]}{int(f.row)}"
    return None


class _FirstColumns:
    """Sheet name -> letter of its first used column (where row-level findings go): from the
    reader's result when there is one, else from the sheet, worked out only when needed."""

    def __init__(self, wb, result):
        self.wb = wb
        self.known = {}
        read = getattr(result, "wb", None)
        for sd in (read.sheets.values() if read is not None else ()):
            self.known[sd.name] = sd.first_col_letter

    def __getitem__(self, name: str) -> str:
        if name not in self.known:
            self.known[name] = get_column_letter(self.wb[name].min_column or 1)
        return self.known[name]


def _anchor(ws, ref: str):
    """The cell to mark: the top-left cell of a merged range that contains `ref`."""
    cell = ws[ref]
    if isinstance(cell, MergedCell):
        for rng in ws.merged_cells.ranges:
            if ref in rng:
                return ws.cell(row=rng.min_row, column=rng.min_col)
    return cell


def _mark(ws, ref: str, findings: list, marks=None):
    findings = sorted(findings, key=lambda f: -_severity(f.severity).rank)
    cell = _anchor(ws, ref)
    if marks is not None:
        marks.remember(ws, cell)
    cell.fill = fill_for(findings[0].severity)
    lines = [finding_line(f) for f in findings[:MAX_COMMENT_FINDINGS]]
    if len(findings) > MAX_COMMENT_FINDINGS:
        lines.append(f"... and {len(findings) - MAX_COMMENT_FINDINGS} more (see the Findings sheet).")
    text = "\n".join(lines)
    if cell.comment is not None and cell.comment.text:
        text += EARLIER_NOTE + cell.comment.text
    text = _clean(text)
    height = 20 + 15 * sum(1 + len(line) // 55 for line in text.splitlines())
    cell.comment = Comment(text, AUTHOR, height=min(height, 500), width=360)


class _Marks:
    """The very hidden sheet recording each marked cell (sheet, cell, its note before) with a
    cell that keeps its style before, so the next annotation can take the marks off exactly."""

    HEADER = ("sheet", "cell", "note", "note author", "style before", "findings sheet")

    def __init__(self, wb):
        self.ws = wb.create_sheet(MARKS_SHEET)
        self.ws.sheet_state = "veryHidden"
        for j, h in enumerate(self.HEADER, start=1):
            self.ws.cell(row=1, column=j, value=h)
        self.row = 1

    def remember(self, ws, cell):
        self.row += 1
        r = self.row
        _exact(self.ws.cell(row=r, column=1), ws.title)
        self.ws.cell(row=r, column=2, value=cell.coordinate)
        if cell.comment is not None:
            _exact(self.ws.cell(row=r, column=3), cell.comment.text or " ")
            _exact(self.ws.cell(row=r, column=4), cell.comment.author or "")
        self.ws.cell(row=r, column=5)._style = copy(cell._style)

    def findings_sheet(self, title: str):
        _exact(self.ws.cell(row=1, column=7), title)


def _exact(cell, value):
    """Text kept to be put back exactly (a sheet name, a note): stored as text, never a formula,
    without the apostrophe that _text adds for people reading the sheet."""
    if value:
        cell.value = _clean(value)
        cell.data_type = "s"


def remove_marks(wb) -> int:
    """Take the monitor's earlier marks off a workbook (see the module note); returns the number
    of cells restored."""
    n = 0
    if MARKS_SHEET in wb.sheetnames:
        ms = wb[MARKS_SHEET]
        findings_title = ms.cell(row=1, column=7).value
        for sheet, ref, note, author, before in ms.iter_rows(min_row=2, max_col=5):
            if sheet.value not in wb.sheetnames or not ref.value:
                continue
            try:
                cell = wb[sheet.value][str(ref.value)]
            except (ValueError, KeyError, IndexError):
                continue
            cell._style = copy(before._style)
            cell.comment = Comment(str(note.value), str(author.value or "")) if note.value else None
            n += 1
        wb.remove(ms)
        if findings_title and findings_title in wb.sheetnames:
            wb.remove(wb[findings_title])
        return n
    # written before the marks sheet existed: known by its marks
    ours = [ws for ws in wb.worksheets if str(ws.title).lower().startswith("findings")
            and str(ws.cell(row=1, column=1).value or "").startswith("Monitor findings")]
    if not ours:
        return 0
    colours = set(SEVERITY_COLOURS.values())
    for ws in wb.worksheets:
        if ws in ours:
            continue
        for cell in list(ws._cells.values()):
            c = cell.comment
            if c is None or c.author != AUTHOR or not _OUR_NOTE.match(c.text or ""):
                continue
            text = c.text or ""
            if EARLIER_NOTE in text:
                cell.comment = Comment(text.split(EARLIER_NOTE, 1)[1], "")
            else:
                cell.comment = None
            rgb = str(getattr(cell.fill.fgColor, "rgb", "") or "")
            if cell.fill.fill_type == "solid" and rgb[-6:].upper() in colours:
                cell.fill = PatternFill(fill_type=None)
            n += 1
    for ws in ours:
        wb.remove(ws)
    return n


def _sheet_title(wb) -> str:
    taken = {n.lower() for n in wb.sheetnames}
    for cand in (FINDINGS_SHEET, FINDINGS_SHEET_ALT):
        if cand.lower() not in taken:
            return cand
    n = 2
    while f"findings (monitor {n})" in taken:
        n += 1
    return f"Findings (monitor {n})"


def _write_findings_sheet(wb, result, marked: dict) -> str:
    title = _sheet_title(wb)
    ws = wb.create_sheet(title, 0)
    findings = list(result.findings)
    counts = {s.value: 0 for s in Severity}
    for f in findings:
        counts[_severity(f.severity).value] += 1

    workbook = Path(str(getattr(result, "workbook", "") or "")).name
    head = ws.cell(row=1, column=1)
    _text(head, f"Monitor findings: {workbook}" if workbook else "Monitor findings")
    head.font = Font(bold=True, size=13)
    info = [f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"]
    for label, attr in (("profile", "profile"), ("checked", "generated"), ("monitor", "tool_version")):
        if getattr(result, attr, None):
            info.append(f"{label} {getattr(result, attr)}")
    _text(ws.cell(row=1, column=4), "; ".join(info))

    # legend: one coloured cell per severity, with its count and meaning
    _text(ws.cell(row=2, column=1), "Colours:")
    ws.cell(row=2, column=1).font = _BOLD
    for j, sev in enumerate(Severity, start=2):
        c = ws.cell(row=2, column=j)
        _text(c, f"{sev.value} ({counts[sev.value]})")
        c.fill = fill_for(sev.value)
        c.comment = Comment(f"{sev.value}: {SEVERITY_MEANING[sev.value]}", AUTHOR, height=60, width=240)
    _text(ws.cell(row=2, column=6), "Coloured cells on the other sheets carry a note with their findings; "
                                    "a cell with several findings has the worst one's colour. Click a "
                                    "'Where' cell to go to it.")

    for j, (header, width) in enumerate(COLUMNS, start=1):
        c = ws.cell(row=HEADER_ROW, column=j, value=header)
        c.font = _BOLD
        c.fill = PatternFill(fill_type="solid", fgColor="D9D9D9")
        ws.column_dimensions[get_column_letter(j)].width = width

    if not findings:
        _text(ws.cell(row=HEADER_ROW + 1, column=1), "No findings.")
    from ..batch.workflow import finding_status

    # one cause on many rows: one line with its count and first cells; a finding someone accepted,
    # queried or answered keeps its own line (its Status, Query and Response)
    acted = set(getattr(result, "workflow", None) or ())
    items = grouped([f for f in findings if f.id not in acted]) + [f for f in findings if f.id in acted]
    pos = {id(f): n for n, f in enumerate(findings)}
    items.sort(key=lambda it: pos[id(it.first if isinstance(it, Group) else it)])
    for i, item in enumerate(items, start=HEADER_ROW + 1):
        f = item.first if isinstance(item, Group) else item
        st = (finding_status(result, f.id) if not isinstance(item, Group) else {}) or {"status": "open"}
        status = st["status"] + (f": {st['reason']}" if st.get("reason") and st["status"] == "accepted" else "")
        values = (str(f.severity).upper(), f.rule, f.name, f.where, f.subject, f.message,
                  f.suggestion, f.id, status, st.get("query"), st.get("response"))
        if isinstance(item, Group):
            values = (str(f.severity).upper(), f.rule, f.name, f"{f.where} (+{item.count - 1})",
                      item.subjects_text(), f"{f.message} [{item.count} rows like this: {item.cells_text()}]",
                      f.suggestion, f"group {f.group}", status, None, None)
        for j, v in enumerate(values, start=1):
            c = ws.cell(row=i, column=j)
            _text(c, v)
            if j in (6, 7, 10, 11):
                c.alignment = _WRAP
        if st.get("status") in ("queried", "answered"):
            ws.cell(row=i, column=11).fill = RESPONSE_FILL
        ws.cell(row=i, column=1).fill = fill_for(f.severity)
        target = marked.get(id(f))
        if target is not None:
            sheet, ref = target
            where = ws.cell(row=i, column=4)
            where.hyperlink = Hyperlink(ref=where.coordinate, location=f"{_quote_sheet(sheet)}!{ref}",
                                        tooltip=_clean(f"Go to {sheet}!{ref}")[:255])
            where.font = _LINK
    last = HEADER_ROW + max(len(items), 1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(COLUMNS))}{last}"
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    return title


def _load(path: Path, data: bytes | None = None):
    """openpyxl's workbook from `data` (the bytes the check read) or, without them, the file."""
    try:
        with (io.BytesIO(data) if data is not None else open(path, "rb")) as fh, warnings.catch_warnings():
            # openpyxl warns about parts it drops (validation extensions ...): expected for a copy
            warnings.simplefilter("ignore", UserWarning)
            return openpyxl.load_workbook(fh, keep_vba=False, data_only=False)
    except WorkbookError:
        raise
    except Exception as e:  # openpyxl raises many types for damaged parts; all mean unreadable here
        raise WorkbookError(f"{path}: cannot be opened for annotation ({type(e).__name__}: {e})") from None


def annotate_copy(workbook_path, result, target) -> Path:
    """Write a copy of `workbook_path` with every finding of `result` marked on its cell and a
    first sheet listing them all. The original is never modified. Returns the path written
    (always .xlsx: a target with another suffix gets .xlsx)."""
    src = Path(workbook_path)
    target = Path(target)
    if target.suffix.lower() != ".xlsx":
        target = target.with_suffix(".xlsx")
    if target.exists() and src.exists() and target.resolve() == src.resolve():
        raise WorkbookError(f"{target}: the annotated copy would overwrite the workbook itself; "
                            "choose another --out")
    # the bytes the check read (one snapshot): a file replaced since cannot mix two versions
    snap = getattr(getattr(result, "wb", None), "snapshot", None)
    wb = _load(src, snap.data if snap is not None else None)
    remove_marks(wb)
    marks = _Marks(wb)

    by_norm = {n.lower(): n for n in wb.sheetnames}
    sheets = {}
    for f in result.findings:
        if f.sheet and f.sheet not in sheets:
            sheets[f.sheet] = f.sheet if f.sheet in wb.sheetnames else by_norm.get(str(f.sheet).lower())
    first_col = _FirstColumns(wb, result)

    marked, per_cell = {}, {}
    for f in result.findings:
        t = _target(f, sheets, first_col)
        if t is None:
            continue
        marked[id(f)] = t
        per_cell.setdefault(t, []).append(f)
    for (sheet, ref), fs in per_cell.items():
        try:
            _mark(wb[sheet], ref, fs, marks)
        except (ValueError, KeyError, IndexError):  # a reference outside the sheet: listed, not marked
            for f in fs:
                marked.pop(id(f), None)

    title = _write_findings_sheet(wb, result, marked)
    marks.findings_sheet(title)
    wb.move_sheet(marks.ws, offset=len(wb.sheetnames) - 1 - wb.sheetnames.index(MARKS_SHEET))
    for ws in wb.worksheets:          # only the Findings sheet selected: no grouped sheets
        ws.sheet_view.tabSelected = False
    wb.active = wb.sheetnames.index(title)
    wb[title].sheet_view.tabSelected = True
    wb.properties.lastModifiedBy = AUTHOR
    if getattr(result, "sha256", None):   # the bytes this copy and its findings came from
        wb.properties.identifier = f"sha256:{result.sha256}"
    for prop in [p for p in wb.custom_doc_props.props if p.name == OUTPUT_PROPERTY]:
        wb.custom_doc_props.props.remove(prop)
    wb.custom_doc_props.append(StringProperty(name=OUTPUT_PROPERTY, value="annotated copy"))
    hist = getattr(result, "history", None) or {}
    for name, value in ((WORKBOOK_PROPERTY, hist.get("workbook")), (STORE_PROPERTY, hist.get("store"))):
        for prop in [p for p in wb.custom_doc_props.props if p.name == name]:
            wb.custom_doc_props.props.remove(prop)
        if value:
            wb.custom_doc_props.append(StringProperty(name=name, value=str(value)[:255]))
    if wb.calculation is None:
        wb.calculation = CalcProperties()
    wb.calculation.fullCalcOnLoad = True

    with atomic_path(target) as tmp:
        wb.save(tmp)
    return target
