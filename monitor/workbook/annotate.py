"""Write an annotated copy of a checked workbook: each finding's cell coloured by severity and
commented, plus a first sheet listing every finding with a link to its cell.

The original file is only read (the bytes the check read, never saved over); the copy is written
atomically as .xlsx (macros of an .xlsm are dropped). The copy is made part by part from the
workbook's zip, never by loading the workbook into a spreadsheet model: every part the copy does
not change (other sheets, shared strings, themes, images, charts, pivot tables, extensions) is
copied as its compressed bytes, and a sheet with marked cells is streamed through, changing only
the style index of those cells (annotate_sheet.py). So everything the coordinator had (values,
formulas and their cached values, formats, validations, merged cells, defined names, drawings)
stays byte for byte where the copy does not touch it, and a large workbook costs about one
inflate and deflate of its marked sheets. Excel recalculates formulas on open
(`fullCalcOnLoad`).

What changes: styles.xml gains a copy of each marked cell's style with the severity fill
(annotate_styles.py); the marked sheets' comments and note drawings (annotate_notes.py); the
Findings sheet and the very hidden marks sheet are added (annotate_findings.py); workbook.xml,
relationships, content types and document properties (annotate_workbook.py).

Annotating again (an annotated copy, or a workbook annotated before) first takes the monitor's
earlier marks off: every cell it marked gets back its own style and note (kept on a very hidden
`monitor-marks` sheet), and its Findings sheet is replaced, not added a second time. Copies
written before the marks sheet existed are cleaned by their marks: notes by author `monitor`,
fills in the severity colours on those cells, a sheet titled "Monitor findings: ...".
The copy carries the custom document property `monitor-output = annotated copy`, so a re-run
may replace it and nothing else (monitor.io).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..findings import Severity
from ..io import OUTPUT_PROPERTY, atomic_path
from .container import WorkbookError

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
RESPONSE_COLOUR = "FFF2CC"   # where the site types its answer
HEADER_COLOUR = "D9D9D9"
LINK_COLOUR = "0563C1"
WORKBOOK_PROPERTY = "monitor workbook"   # the history's name of the workbook (for `monitor responses`)
STORE_PROPERTY = "monitor history"       # the folder of the history store the statuses came from
HEADER_ROW = 4          # rows 1-2: title and legend; row 4: the table's header
MAX_TEXT = 32000        # Excel's cell limit is 32,767 characters
MAX_COMMENT_FINDINGS = 20
MARKS_HEADER = ("sheet", "cell", "note", "note author", "style before", "findings sheet")

_OUR_NOTE = re.compile(r"^(CRITICAL|MAJOR|MINOR|INFO) [A-Z]+\d{3} ")
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
# characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE, plus lone surrogates)
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _severity(text) -> Severity:
    try:
        return Severity(str(text).lower())
    except ValueError:
        return Severity.INFO


def _clean(text) -> str:
    """Text safe to store: no characters XML 1.0 forbids, within Excel's cell limit."""
    s = _ILLEGAL.sub("", "" if text is None else str(text))
    return s if len(s) <= MAX_TEXT else s[:MAX_TEXT - 3] + "..."


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def finding_line(f) -> str:
    """One finding as a comment line: `MAJOR WB110 value-not-allowed: message -> suggestion`."""
    line = f"{str(f.severity).upper()} {f.rule} {f.name}: {f.message}"
    if f.suggestion:
        line += f" -> {f.suggestion}"
    return line


def note_text(findings: list) -> str:
    """The note on a marked cell: its findings, worst first (at most MAX_COMMENT_FINDINGS)."""
    findings = sorted(findings, key=lambda f: -_severity(f.severity).rank)
    lines = [finding_line(f) for f in findings[:MAX_COMMENT_FINDINGS]]
    if len(findings) > MAX_COMMENT_FINDINGS:
        lines.append(f"... and {len(findings) - MAX_COMMENT_FINDINGS} more (see the Findings sheet).")
    return "\n".join(lines)


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
        return name, f"{first_col(name)}{int(f.row)}"
    return None


def _sheet_title(names) -> str:
    taken = {n.lower() for n in names}
    for cand in (FINDINGS_SHEET, FINDINGS_SHEET_ALT):
        if cand.lower() not in taken:
            return cand
    n = 2
    while f"findings (monitor {n})" in taken:
        n += 1
    return f"Findings (monitor {n})"


def annotate_copy(workbook_path, result, target) -> Path:
    """Write a copy of `workbook_path` with every finding of `result` marked on its cell and a
    first sheet listing them all. The original is never modified. Returns the path written
    (always .xlsx: a target with another suffix gets .xlsx)."""
    from .annotate_build import build

    src = Path(workbook_path)
    target = Path(target)
    if target.suffix.lower() != ".xlsx":
        target = target.with_suffix(".xlsx")
    if target.exists() and src.exists() and target.resolve() == src.resolve():
        raise WorkbookError(f"{target}: the annotated copy would overwrite the workbook itself; "
                            "choose another --out")
    # the bytes the check read (one snapshot): a file replaced since cannot mix two versions
    snap = getattr(getattr(result, "wb", None), "snapshot", None)
    if snap is not None:
        data = snap.data
    else:
        try:
            data = src.read_bytes()
        except OSError as e:
            raise WorkbookError(f"{src}: cannot be opened for annotation ({e})") from None
    hist = getattr(result, "history", None) or {}
    props = {OUTPUT_PROPERTY: "annotated copy",
             WORKBOOK_PROPERTY: _clean(hist.get("workbook"))[:255] or None,
             STORE_PROPERTY: _clean(hist.get("store"))[:255] or None}
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            build(data, src, result, fh, props)
    return target
