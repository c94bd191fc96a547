"""The two sheets the annotated copy adds, written as worksheet XML: the Findings sheet (title,
colour legend with notes, one line per finding or per grouped cause, links to the cells, the
workflow columns Status, Query and Response) and the very hidden `monitor-marks` sheet (each
marked cell with its note and style before, so the next annotation can take the marks off).

Text goes into inline strings (the workbook's shared strings table is not touched), always as
text, cleaned of characters XML forbids and made formula-safe (monitor.io.safe_cell).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ..findings import Severity
from ..grouping import Group, grouped
from ..io import safe_cell
from .annotate_sheet import ref_of

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


@dataclass
class SheetXml:
    cells: dict = field(default_factory=dict)        # (row, col) -> cell XML
    links: list = field(default_factory=list)        # (ref, location, tooltip)
    notes: dict = field(default_factory=dict)        # (row, col) -> note text
    widths: list = field(default_factory=list)

    def text(self, row: int, col: int, value, style: int = 0, exact: bool = False, clean=None) -> None:
        """Text in a cell: formula-safe for people (safe_cell) unless `exact` (kept to be put
        back as it was); nothing for None or ''."""
        if value is None or value == "":
            if style:
                self.style(row, col, style)
            return
        s = clean(value)
        if not exact:
            s = safe_cell(s)
        space = ' xml:space="preserve"' if s != s.strip() or "\n" in s else ""
        st = f' s="{style}"' if style else ""
        self.cells[(row, col)] = (f'<c r="{ref_of(row, col)}"{st} t="inlineStr"><is><t{space}>{escape(s)}</t>'
                                  f'</is></c>')

    def style(self, row: int, col: int, style: int) -> None:
        self.cells[(row, col)] = f'<c r="{ref_of(row, col)}" s="{style}"/>'

    def to_bytes(self, views: str = "", tail: str = "", legacy_rid: str | None = None) -> bytes:
        rows: dict = {}
        for (r, c), xml in self.cells.items():
            rows.setdefault(r, []).append((c, xml))
        data = "".join(f'<row r="{r}">' + "".join(x for _, x in sorted(cells)) + "</row>"
                       for r, cells in sorted(rows.items()))
        cols = "".join(f'<col min="{j}" max="{j}" width="{w}" customWidth="1"/>' for j, w in self.widths)
        links = "".join(f'<hyperlink ref="{ref}" location={quoteattr(loc)} tooltip={quoteattr(tip)} '
                        f'display={quoteattr(disp)}/>' for ref, loc, tip, disp in self.links)
        xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS_MAIN}" '
               f'xmlns:r="{NS_R}">{views}<sheetFormatPr defaultRowHeight="15"/>'
               + (f"<cols>{cols}</cols>" if cols else "")
               + f"<sheetData>{data}</sheetData>{tail}"
               + (f"<hyperlinks>{links}</hyperlinks>" if links else "")
               + '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
               + (f'<legacyDrawing r:id="{legacy_rid}"/>' if legacy_rid else "")
               + "</worksheet>")
        return xml.encode("utf-8")


@dataclass
class Looks:
    """The style indices of the Findings sheet (annotate_styles.Styles.cell_style)."""
    title: int
    bold: int
    header: int
    link: int
    wrap: int
    response: int
    severity: dict      # severity -> style with its fill


def findings_sheet(result, marked: dict, looks: Looks, columns, header_row: int, meanings: dict,
                   severity_of, clean, quote_sheet) -> SheetXml:
    ws = SheetXml()
    findings = list(result.findings)
    counts = {s.value: 0 for s in Severity}
    for f in findings:
        counts[severity_of(f.severity).value] += 1

    workbook = Path(str(getattr(result, "workbook", "") or "")).name
    ws.text(1, 1, f"Monitor findings: {workbook}" if workbook else "Monitor findings", looks.title, clean=clean)
    info = [f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"]
    for label, attr in (("profile", "profile"), ("checked", "generated"), ("monitor", "tool_version")):
        if getattr(result, attr, None):
            info.append(f"{label} {getattr(result, attr)}")
    ws.text(1, 4, "; ".join(info), clean=clean)

    ws.text(2, 1, "Colours:", looks.bold, clean=clean)
    for j, sev in enumerate(Severity, start=2):
        ws.text(2, j, f"{sev.value} ({counts[sev.value]})", looks.severity[sev.value], clean=clean)
        ws.notes[(2, j)] = f"{sev.value}: {meanings[sev.value]}"
    ws.text(2, 6, "Coloured cells on the other sheets carry a note with their findings; a cell with several "
                  "findings has the worst one's colour. Click a 'Where' cell to go to it.", clean=clean)

    for j, (header, width) in enumerate(columns, start=1):
        ws.text(header_row, j, header, looks.header, clean=clean)
        ws.widths.append((j, width))
    if not findings:
        ws.text(header_row + 1, 1, "No findings.", clean=clean)
    from ..batch.workflow import finding_status

    # one cause on many rows: one line with its count and first cells; a finding someone accepted,
    # queried or answered keeps its own line (its Status, Query and Response)
    acted = set(getattr(result, "workflow", None) or ())
    items = grouped([f for f in findings if f.id not in acted]) + [f for f in findings if f.id in acted]
    pos = {id(f): n for n, f in enumerate(findings)}
    items.sort(key=lambda it: pos[id(it.first if isinstance(it, Group) else it)])
    for i, item in enumerate(items, start=header_row + 1):
        f = item.first if isinstance(item, Group) else item
        st = (finding_status(result, f.id) if not isinstance(item, Group) else {}) or {"status": "open"}
        status = st["status"] + (f": {st['reason']}" if st.get("reason") and st["status"] == "accepted" else "")
        values = (str(f.severity).upper(), f.rule, f.name, f.where, f.subject, f.message,
                  f.suggestion, f.id, status, st.get("query"), st.get("response"))
        if isinstance(item, Group):
            values = (str(f.severity).upper(), f.rule, f.name, f"{f.where} (+{item.count - 1})",
                      item.subjects_text(), f"{f.message} [{item.count} rows like this: {item.cells_text()}]",
                      f.suggestion, f"group {f.group}", status, None, None)
        target = marked.get(id(f))
        for j, v in enumerate(values, start=1):
            style = 0
            if j in (6, 7, 10):
                style = looks.wrap
            elif j == 11:
                style = looks.response if st.get("status") in ("queried", "answered") else looks.wrap
            elif j == 1:
                style = looks.severity[severity_of(f.severity).value]
            elif j == 4 and target is not None:
                style = looks.link
            ws.text(i, j, v, style, clean=clean)
        if target is not None:
            sheet, ref = target
            where = ref_of(i, 4)
            tip = clean(f"Go to {sheet}!{ref}")[:255]
            ws.links.append((where, f"{quote_sheet(sheet)}!{ref}", tip, clean(str(values[3] or ""))[:255]))
    return ws


def findings_views(header_row: int) -> str:
    top = f"A{header_row + 1}"
    return (f'<sheetViews><sheetView tabSelected="1" workbookViewId="0"><pane ySplit="{header_row}" '
            f'topLeftCell="{top}" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" '
            f'activeCell="{top}" sqref="{top}"/></sheetView></sheetViews>')


def marks_sheet(rows: list, findings_title: str, header: tuple, clean) -> bytes:
    """rows: (sheet, cell ref, note or None, note author, style before)."""
    ws = SheetXml()
    for j, h in enumerate(header, start=1):
        ws.text(1, j, h, exact=True, clean=clean)
    ws.text(1, 7, findings_title, exact=True, clean=clean)
    for r, (sheet, ref, note, author, before) in enumerate(rows, start=2):
        ws.text(r, 1, sheet, exact=True, clean=clean)
        ws.text(r, 2, ref, exact=True, clean=clean)
        if note is not None:
            ws.text(r, 3, note or " ", exact=True, clean=clean)
            ws.text(r, 4, author or "", exact=True, clean=clean)
        ws.style(r, 5, before) if before else None
    return ws.to_bytes('<sheetViews><sheetView workbookViewId="0"/></sheetViews>')
