"""The annotated copy put together (see monitor/workbook/annotate.py for what it holds): the
earlier marks taken off, the finding cells marked sheet by sheet in one streamed pass each, the
Findings and marks sheets added, and the package written with every untouched part copied as
it was."""

from __future__ import annotations

import re

from . import annotate as A
from .annotate_findings import Looks, findings_sheet, findings_views, marks_sheet
from .annotate_notes import Notes, update_vml
from .annotate_package import CT_COMMENTS, CT_SHEET, CT_STYLES, CT_VML, REL, Package, Rels
from .annotate_sheet import Edits, SheetInfo, parse_ref, ref_of, rewrite, scan
from .annotate_styles import Styles
from .annotate_workbook import doc_props, read_cells, remove_sheet, set_sheets, sheets
from .annotate_zip import Deflater, ZipOut
from .container import WorkbookError, col_letter

BIG_PART = 16 << 20    # a sheet larger than this unpacked is deflated fast (level 1) rather than small
_TAB = b"tabSelected"
_BAD_NAME = re.compile(r"[\\/?*\[\]:]")


class _Reanchor(Exception):
    """A marked cell lies inside a merged range: mark the range's first cell instead."""

    def __init__(self, merges):
        self.merges = merges


def _anchored(marks: dict, merges: list) -> dict:
    info, out = SheetInfo(merges=merges), {}
    for cell, fs in marks.items():
        out.setdefault(info.anchor(*cell), []).extend(fs)
    return out


def _lines(text: str) -> int:
    return sum(1 + len(line) // 55 for line in text.splitlines())


class _Build:
    def __init__(self, data: bytes, src, result):
        self.pkg = pkg = Package(data, src)
        self.result = result
        pkg.extra_rels = []
        pkg.as_xlsx()
        self.all = sheets(pkg)
        for s in self.all:      # the copy keeps the names: one Excel refuses would make it unreadable
            if not s["name"] or len(s["name"]) > 31 or _BAD_NAME.search(s["name"]):
                raise WorkbookError(f"{src}: the sheet name {s['name']!r} is not one Excel allows (at most 31 "
                                    "characters, none of \\ / ? * [ ] :); rename the sheet and annotate again")
        ws_parts = {pkg.name(t) for _, t in pkg.wb_rels.of_type("/worksheet")}
        self.styles_part = next((t for _, t in pkg.wb_rels.of_type("/styles") if pkg.name(t)), None)
        self.styles = Styles(pkg.read(self.styles_part) if self.styles_part else None)
        self.restore: dict = {}
        self.legacy = False
        ours = self._earlier()
        self.keep = [s for s in self.all if not any(s is o for o in ours)]
        for s in ours:
            remove_sheet(pkg, s)
        self.by_name = {s["name"]: s for s in self.keep if s["part"] and pkg.name(s["part"]) in ws_parts}
        self.infos: dict = {}
        self.marks_rows: list = []
        self.vml_ids = 600

    # ------------------------------------------------------------ the monitor's earlier marks
    def _earlier(self) -> list:
        marks = next((s for s in self.all if s["name"] == A.MARKS_SHEET), None)
        if marks is not None:
            cells = read_cells(self.pkg, marks["part"]) if marks["part"] else {}
            title = (cells.get((1, 7)) or (None, 0))[0]
            for row in sorted({r for r, _ in cells if r >= 2}):
                sheet, ref = (cells.get((row, 1)) or (None, 0))[0], (cells.get((row, 2)) or (None, 0))[0]
                p = parse_ref(str(ref or ""))
                if not sheet or p is None:
                    continue
                note, author = (cells.get((row, 3)) or (None, 0))[0], (cells.get((row, 4)) or (None, 0))[0]
                style = (cells.get((row, 5)) or (None, 0))[1]
                self.restore.setdefault(str(sheet), {})[p] = (style, note, author)
            return [marks] + [s for s in self.all if title and s["name"] == title and s is not marks]
        ours = []
        for s in self.all:    # written before the marks sheet existed: known by its title cell
            if s["name"].lower().startswith("findings") and s["part"]:
                a1 = read_cells(self.pkg, s["part"], max_row=1).get((1, 1))
                if a1 and str(a1[0] or "").startswith("Monitor findings"):
                    ours.append(s)
        self.legacy = bool(ours)
        return ours

    # ------------------------------------------------------------ targets
    def info(self, name: str):
        if name not in self.infos:
            self.infos[name] = scan(self.pkg.chunks(self.by_name[name]["part"]))
        return self.infos[name]

    def targets(self):
        known = {}
        read = getattr(self.result, "wb", None)
        for sd in (read.sheets.values() if read is not None else ()):
            known[sd.name] = sd.first_col_letter

        def first_col(name):
            return known.get(name) or col_letter(self.info(name).first_col - 1)

        by_norm = {n.lower(): n for n in self.by_name}
        names = {}
        for f in self.result.findings:
            if f.sheet and f.sheet not in names:
                names[f.sheet] = f.sheet if f.sheet in self.by_name else by_norm.get(str(f.sheet).lower())
        marked, per_cell = {}, {}
        for f in self.result.findings:
            t = A._target(f, names, first_col)
            p = parse_ref(t[1]) if t else None
            if p is None:       # summary-only, or a reference outside the sheet: listed, not marked
                continue
            marked[id(f)] = t
            per_cell.setdefault((t[0], p), []).append(f)
        return marked, per_cell

    # ------------------------------------------------------------ one sheet
    def sheet(self, name: str, raw: dict, merges: list | None = None) -> None:
        """Mark one sheet: `raw` {(row, col): findings}; merged ranges are learnt from the pass
        itself (they follow the cells) and the pass is made again only if a mark falls inside one."""
        if merges is None and name in self.infos:
            merges = self.infos[name].merges
        try:
            self._sheet(name, _anchored(raw, merges) if merges else raw, merges is not None)
        except _Reanchor as again:
            self._sheet(name, _anchored(raw, again.merges), True)

    def _sheet(self, name: str, marks: dict, anchored: bool) -> None:
        pkg, styles, part = self.pkg, self.styles, self.by_name[name]["part"]
        rest = self.restore.get(name, {})
        rels = Rels(pkg, part)
        comments = next((t for _, t in rels.of_type("/comments") if pkg.name(t)), None)
        notes, legacy = None, set()
        if self.legacy and comments:
            notes = Notes(pkg.read(comments))
            for cell in list(notes.by_ref):
                text, author = notes.get(cell)
                if author == A.AUTHOR and A._OUR_NOTE.match(text or ""):
                    legacy.add(cell)
                    if A.EARLIER_NOTE in text:
                        notes.set(cell, ref_of(*cell), text.split(A.EARLIER_NOTE, 1)[1], "")
                    else:
                        notes.remove(cell)
        if not (marks or rest or legacy):
            head = next(pkg.chunks(part, 1 << 16), b"")
            if _TAB in head[:head.find(b"sheetData") if b"sheetData" in head else None]:
                self._rewrite(part, Edits({}))
            return
        if notes is None:
            notes = Notes(pkg.read(comments) if comments else None)
        for cell, (style, note, author) in rest.items():
            if note:
                notes.set(cell, ref_of(*cell), str(note), str(author or ""))
            else:
                notes.remove(cell)
        before_notes = {}
        for cell, fs in marks.items():
            before = notes.get(cell)
            before_notes[cell] = before
            text = A.note_text(fs)
            if before and before[0]:
                text += A.EARLIER_NOTE + before[0]
            notes.set(cell, ref_of(*cell), A._clean(text), A.AUTHOR)
        colours = set(A.SEVERITY_COLOURS.values())
        worst = {cell: A.SEVERITY_COLOURS[max((A._severity(f.severity) for f in fs), key=lambda s: s.rank).value]
                 for cell, fs in marks.items()}
        before_style = {}

        def restyle(cell):
            def fn(old, existed):
                base = rest[cell][0] if cell in rest else old
                if cell in legacy and styles.fill_rgb(base) in colours:
                    base = styles.with_fill(base, None)
                if cell in worst:
                    before_style[cell] = base
                    return styles.with_fill(base, worst[cell])
                return base
            return fn

        targets = {}
        for cell in set(marks) | set(rest) | legacy:
            targets.setdefault(cell[0], {})[cell[1]] = restyle(cell)
        drawing = {}

        def on_tail(rid, merges):
            if not anchored and _anchored(marks, merges).keys() != marks.keys():
                raise _Reanchor(merges)
            if not notes.changed:
                return None
            vml = rels.target(rid) if rid else None
            if vml is not None and pkg.name(vml):
                drawing["vml"] = vml
                return None
            drawing["vml"] = pkg.free_name("xl/drawings/vmlDrawing%d.vml")
            drawing["new"] = True
            return rels.add(REL + "vmlDrawing", drawing["vml"])

        self._rewrite(part, Edits(targets, on_tail))
        if notes.changed:
            if comments is None:
                comments = pkg.free_name("xl/comments%d.xml")
                rels.add(REL + "comments", comments)
            pkg.put(comments, notes.to_bytes(), CT_COMMENTS)
            vml = drawing["vml"]
            added = {cell: _lines(notes.get(cell)[0]) for cell in notes.added}
            self.vml_ids += 1
            pkg.put(vml, update_vml(None if drawing.get("new") else pkg.read(vml), notes.removed, added,
                                    self.vml_ids))
            pkg.default("vml", CT_VML)
        if rels.changed:
            pkg.extra_rels.append(rels)
        for cell in sorted(marks):
            before = before_notes[cell]
            self.marks_rows.append((name, ref_of(*cell), before[0] if before else None,
                                    before[1] if before else None, before_style.get(cell, 0)))

    def _rewrite(self, part: str, edits: Edits) -> None:
        info = self.pkg.infos[self.pkg.name(part)]
        d = Deflater(1 if info.file_size > BIG_PART else 6)
        rewrite(self.pkg.chunks(part), edits, d.write)
        self.pkg.deflated[self.pkg.name(part)] = d.finish()

    # ------------------------------------------------------------ the new sheets
    def looks(self) -> Looks:
        st = self.styles
        return Looks(title=st.cell_style(font=st.font(bold=True, size=13)),
                     bold=st.cell_style(font=st.font(bold=True)),
                     header=st.cell_style(font=st.font(bold=True), fill=A.HEADER_COLOUR),
                     link=st.cell_style(font=st.font(color=A.LINK_COLOUR, underline=True)),
                     wrap=st.cell_style(wrap=True),
                     response=st.cell_style(fill=A.RESPONSE_COLOUR, wrap=True),
                     severity={s: st.cell_style(fill=c) for s, c in A.SEVERITY_COLOURS.items()})

    def new_sheets(self, marked: dict) -> None:
        pkg = self.pkg
        title = A._sheet_title([s["name"] for s in self.keep])
        ws = findings_sheet(self.result, marked, self.looks(), A.COLUMNS, A.HEADER_ROW, A.SEVERITY_MEANING,
                            A._severity, A._clean, A._quote_sheet)
        part = pkg.free_name("xl/worksheets/sheet%d.xml")
        pkg.put(part, b"", CT_SHEET)          # the name is taken
        rels = Rels(pkg, part)
        notes = Notes(None)
        for cell, text in ws.notes.items():
            notes.set(cell, ref_of(*cell), text, A.AUTHOR)
        comments = pkg.free_name("xl/comments%d.xml")
        pkg.put(comments, notes.to_bytes(), CT_COMMENTS)
        rels.add(REL + "comments", comments)
        vml = pkg.free_name("xl/drawings/vmlDrawing%d.vml")
        self.vml_ids += 1
        pkg.put(vml, update_vml(None, set(), {c: 4 for c in ws.notes}, self.vml_ids))
        pkg.default("vml", CT_VML)
        rid = rels.add(REL + "vmlDrawing", vml)
        pkg.extra_rels.append(rels)
        last = A.HEADER_ROW + max(len([r for r in {r for r, _ in ws.cells} if r > A.HEADER_ROW]), 1)
        tail = f'<autoFilter ref="A{A.HEADER_ROW}:{col_letter(len(A.COLUMNS) - 1)}{last}"/>'
        pkg.put(part, ws.to_bytes(findings_views(A.HEADER_ROW), tail, rid))
        mpart = pkg.free_name("xl/worksheets/sheet%d.xml")
        pkg.put(mpart, marks_sheet(self.marks_rows, title, A.MARKS_HEADER, A._clean), CT_SHEET)
        set_sheets(pkg, self.all, self.keep, (title, part), (A.MARKS_SHEET, mpart))

    def styles_out(self) -> None:
        pkg = self.pkg
        if self.styles_part is None:
            self.styles_part = "xl/styles.xml"
            pkg.wb_rels.add(REL + "styles", self.styles_part)
            pkg.put(self.styles_part, self.styles.to_bytes(), CT_STYLES)
        elif self.styles.changed:
            pkg.put(self.styles_part, self.styles.to_bytes())


def build(data: bytes, src, result, fh, props: dict) -> None:
    b = _Build(data, src, result)
    marked, per_cell = b.targets()
    by_sheet: dict = {}
    for (sheet, cell), fs in per_cell.items():
        by_sheet.setdefault(sheet, {})[cell] = fs
    for name in b.by_name:
        b.sheet(name, by_sheet.get(name, {}))
    b.new_sheets(marked)
    b.styles_out()
    sha = getattr(result, "sha256", None)
    doc_props(b.pkg, props, f"sha256:{sha}" if sha else None, A.AUTHOR)
    z = ZipOut(fh)
    b.pkg.write(z)
    z.close()
