"""One worksheet of the annotated copy, rewritten as a stream of bytes: only the `s` (style) of the
marked cells changes, a marked cell the sheet does not have (a blank required cell) is inserted in
its row (and the row, if the sheet has none), `<legacyDrawing>` is added when the sheet gets its
first notes, and the sheet is unselected so that only the Findings sheet is. Every other byte is
copied as it was: values, formulas (shared ones too), styles, validations, merged cells, drawings.

The part is read in chunks and never parsed into a tree: rows before the next marked row are
found by one regular expression over the chunk and passed through; only a marked row is taken
apart into its cells. Rows and cells without an `r` attribute (allowed: the next row or column)
are counted as a spreadsheet reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .container import WorkbookError, col_index, col_letter

CHUNK = 1 << 20
_P = rb"(?:[A-Za-z_][\w.-]*:)?"
_ROW_OR_END = re.compile(rb"<(" + _P + rb")row(?=[\s/>])([^>]*)>|</" + _P + rb"sheetData\s*>")
_ROW_END = re.compile(rb"</" + _P + rb"row\s*>")
_CELL = re.compile(rb"<(" + _P + rb")c(?=[\s/>])([^>]*?)(/?)>")
_CELL_END = re.compile(rb"</" + _P + rb"c\s*>")
_SHEETDATA = re.compile(rb"<(" + _P + rb")sheetData(?=[\s/>])[^>]*?(/?)>")
_SHEETDATA_END = re.compile(rb"</" + _P + rb"sheetData\s*>")
_S = re.compile(rb"""(\s)s\s*=\s*["']\s*(\d*)\s*["']""")
_SPANS = re.compile(rb"""\sspans\s*=\s*["'](\d+):(\d+)["']""")
_CUSTOM = re.compile(rb"""\scustomFormat\s*=\s*["'](1|true)["']""")
_REF = re.compile(rb"^\$?([A-Za-z]{1,3})\$?(\d+)$")
_TAB = re.compile(rb"""(<""" + _P + rb"""sheetView\b[^>]*?\stabSelected\s*=\s*["'])(1|true)(["'])""")
_DIM = re.compile(rb"""(<""" + _P + rb"""dimension\b[^>]*?\sref\s*=\s*["'])([^"']*)(["'])""")
_COL = re.compile(rb"<" + _P + rb"col\b([^>]*)/?>")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*["']([^"']*)["']""")
_MERGE = re.compile(rb"""<""" + _P + rb"""mergeCell\b[^>]*?\sref\s*=\s*["']([^"']+)["']""")
_LEGACY = re.compile(rb"""<""" + _P + rb"""legacyDrawing\b([^>]*)>""")
_TAG = re.compile(rb"<(/?)(" + _P + rb")([A-Za-z_][\w.-]*)([^>]*?)(/?)>")
# worksheet children that come after legacyDrawing (CT_Worksheet sequence)
_AFTER_LEGACY = {b"legacyDrawingHF", b"drawingHF", b"picture", b"oleObjects", b"controls", b"webPublishItems",
                 b"tableParts", b"extLst"}
MAX_ROW, MAX_COL = 1048576, 16384
R_NS = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def parse_ref(ref) -> tuple[int, int] | None:
    """'C12' -> (12, 3), None for a reference outside Excel's grid."""
    m = _REF.match(ref.encode() if isinstance(ref, str) else ref)
    if not m:
        return None
    row, col = int(m.group(2)), col_index(m.group(1).upper().decode()) + 1
    return (row, col) if 1 <= row <= MAX_ROW and 1 <= col <= MAX_COL else None


def ref_of(row: int, col: int) -> str:
    return f"{col_letter(col - 1)}{row}"


@dataclass
class SheetInfo:
    """What a first pass over a sheet finds: its merged ranges, its legacyDrawing's r:id, its
    first used column (from the dimension)."""
    merges: list = field(default_factory=list)      # (row1, col1, row2, col2)
    legacy_rid: str | None = None
    first_col: int = 1

    def anchor(self, row: int, col: int) -> tuple[int, int]:
        """The top-left cell of a merged range holding (row, col), else the cell itself."""
        for r1, c1, r2, c2 in self.merges:
            if r1 <= row <= r2 and c1 <= col <= c2:
                return r1, c1
        return row, col


def _attr(attrs: bytes, name: bytes) -> bytes | None:
    for k, v in _ATTR.findall(attrs):
        if k.split(b":")[-1] == name:
            return v
    return None


def scan(chunks) -> SheetInfo:
    """Merged ranges, the legacyDrawing r:id and the first column of the dimension, from one read
    of the sheet (only when the reader's result is not at hand)."""
    info, tail, head, merges = SheetInfo(), b"", b"", set()
    for chunk in chunks:
        buf = tail + chunk
        if len(head) < 4096:
            head += chunk[:4096]
        merges.update(merges_in(buf))
        info.legacy_rid = info.legacy_rid or legacy_in(buf)
        cut = buf.rfind(b"<")
        tail = buf[cut:] if cut >= 0 else b""
    m = _DIM.search(head)
    if m:
        p = parse_ref(m.group(2).split(b":")[0])
        info.first_col = p[1] if p else 1
    info.merges = sorted(merges)
    return info


@dataclass
class Edits:
    """targets: row -> col -> fn(old style index, the cell existed) -> new style index.
    on_tail(legacyDrawing r:id or None, merged ranges) -> r:id of a `<legacyDrawing>` to add, or
    None; called when the part after the cell data (which holds both) is reached, it may raise
    to abandon the pass. unselect: clear tabSelected."""
    targets: dict
    on_tail: Callable | None = None
    unselect: bool = True


def merges_in(tail: bytes) -> list:
    out = set()
    if b"mergeCell" in tail:
        for m in _MERGE.finditer(tail):
            a, _, b = m.group(1).partition(b":")
            p, q = parse_ref(a), parse_ref(b or a)
            if p and q:
                out.add((min(p[0], q[0]), min(p[1], q[1]), max(p[0], q[0]), max(p[1], q[1])))
    return sorted(out)


def legacy_in(tail: bytes) -> str | None:
    m = _LEGACY.search(tail)
    rid = _attr(m.group(1), b"id") if m else None
    return rid.decode() if rid else None


class _Stream:
    def __init__(self, chunks, write: Callable[[bytes], None]):
        self.chunks = iter(chunks)
        self.write = write
        self.buf = b""
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = next(self.chunks, None)
        if chunk is None:
            self.eof = True
            return False
        self.buf += chunk
        return True


def _col_styles(head: bytes) -> list:
    out = []
    for m in _COL.finditer(head):
        a = dict((k.split(b":")[-1], v) for k, v in _ATTR.findall(m.group(1)))
        if a.get(b"style"):
            try:
                out.append((int(a.get(b"min", b"0")), int(a.get(b"max", b"0")), int(a[b"style"])))
            except ValueError:
                pass
    return out


def _head(head: bytes, edits: Edits, rows: list) -> bytes:
    if edits.unselect:
        head = _TAB.sub(rb"\g<1>0\g<3>", head)
    m = _DIM.search(head)
    if m and rows:
        parts = [parse_ref(p) for p in m.group(2).split(b":")]
        if all(parts) and len(parts) in (1, 2):
            (r1, c1), (r2, c2) = parts[0], parts[-1]
            for r in rows:
                for c in edits.targets[r]:
                    r1, r2, c1, c2 = min(r1, r), max(r2, r), min(c1, c), max(c2, c)
            ref = ref_of(r1, c1) + (":" + ref_of(r2, c2) if (r1, c1) != (r2, c2) else "")
            head = head[:m.start(2)] + ref.encode() + head[m.end(2):]
    return head


def _new_cell(pfx: bytes, row: int, col: int, style: int) -> bytes:
    return b'<%sc r="%s" s="%d"/>' % (pfx, ref_of(row, col).encode(), style)


def _row_xml(pfx: bytes, row: int, cols: dict, default: Callable[[int], int], seen: dict) -> bytes:
    cells = []
    for col in sorted(cols):
        old = default(col)
        seen[(row, col)] = old
        cells.append(_new_cell(pfx, row, col, cols[col](old, False)))
    return b'<%srow r="%d">%s</%srow>' % (pfx, row, b"".join(cells), pfx)


def _rewrite_row(row: bytes, num: int, cols: dict, pfx: bytes, col_style, seen: dict) -> bytes:
    m = _ROW_OR_END.match(row)
    attrs = m.group(2)
    closed = attrs.endswith(b"/")
    if closed:
        attrs, body, close = attrs[:-1], b"", b"</%srow>" % m.group(1)
    else:
        end = row.rfind(b"</")
        body, close = row[m.end():end], row[end:]
    row_style = None
    if _CUSTOM.search(attrs):
        s = _attr(attrs, b"s")
        row_style = int(s) if s and s.isdigit() else None

    def default(col):
        if row_style is not None:
            return row_style
        return next((st for lo, hi, st in col_styles if lo <= col <= hi), 0)

    col_styles = col_style
    todo = sorted(cols)
    out, pos, col = [], 0, 0
    for cm in _CELL.finditer(body):
        ref = _attr(b" " + cm.group(2), b"r")
        p = parse_ref(ref) if ref else None
        col = p[1] if p else col + 1
        while todo and todo[0] < col:               # a marked cell missing before this one
            c = todo.pop(0)
            out.append(body[pos:cm.start()])
            pos = cm.start()
            old = default(c)
            seen[(num, c)] = old
            out.append(_new_cell(pfx, num, c, cols[c](old, False)))
        if todo and todo[0] == col:
            todo.pop(0)
            a = cm.group(2)
            sm = _S.search(a)
            old = int(sm.group(2)) if sm and sm.group(2) else 0
            seen[(num, col)] = old
            new = cols[col](old, True)
            a = (a[:sm.start()] + b'%ss="%d"' % (sm.group(1), new) + a[sm.end():]) if sm else a + b' s="%d"' % new
            out.append(body[pos:cm.start()])
            out.append(b"<%sc%s%s>" % (cm.group(1), a, cm.group(3)))
            pos = cm.end()
    out.append(body[pos:])
    inserted = []
    for c in todo:
        old = default(c)
        seen[(num, c)] = old
        inserted.append(_new_cell(pfx, num, c, cols[c](old, False)))
    out.extend(inserted)
    sp = _SPANS.search(attrs)
    if sp:
        lo, hi = int(sp.group(1)), int(sp.group(2))
        lo, hi = min([lo, *cols]), max([hi, *cols])
        attrs = attrs[:sp.start()] + b' spans="%d:%d"' % (lo, hi) + attrs[sp.end():]
    return b"<%srow%s>" % (m.group(1), attrs) + b"".join(out) + close


def _insert_legacy(tail: bytes, pfx: bytes, rid: str) -> bytes:
    """`<legacyDrawing>` at its place among the worksheet's children after the cell data."""
    el = b'<%slegacyDrawing xmlns:r="%s" r:id="%s"/>' % (pfx, R_NS, rid.encode())
    depth = 0
    for m in _TAG.finditer(tail):
        closing, name, selfclose = m.group(1), m.group(3), m.group(5)
        if closing:
            if depth == 0:                      # </worksheet>
                return tail[:m.start()] + el + tail[m.start():]
            depth -= 1
            continue
        if depth == 0 and name in _AFTER_LEGACY:
            return tail[:m.start()] + el + tail[m.start():]
        if not selfclose:
            depth += 1
    raise WorkbookError("the sheet's XML has no end")


def rewrite(chunks, edits: Edits, write: Callable[[bytes], None]) -> dict:
    """Copy a worksheet part from `chunks` to `write` with `edits`; returns {(row, col): the
    style index the marked cell had (or would have had: its row's or column's)}."""
    st = _Stream(chunks, write)
    rows = sorted(edits.targets)
    seen: dict = {}
    while True:                                            # the head, to <sheetData>
        m = _SHEETDATA.search(st.buf)
        if m:
            break
        if not st.more():
            raise WorkbookError("the sheet has no cell data element")
    pfx = m.group(1)
    col_styles = _col_styles(st.buf[:m.start()])
    if m.group(2):                                         # <sheetData/>: rows go in a new element
        st.write(_head(st.buf[:m.start()], edits, rows))
        new = b"".join(_row_xml(pfx, r, edits.targets[r], lambda c: next(
            (s for lo, hi, s in col_styles if lo <= c <= hi), 0), seen) for r in rows)
        st.write(b"<%ssheetData>%s</%ssheetData>" % (pfx, new, pfx))
        st.buf = st.buf[m.end():]
    else:
        st.write(_head(st.buf[:m.end()], edits, rows))
        st.buf = st.buf[m.end():]
        _rows(st, rows, edits, pfx, col_styles, seen)
    while st.more():                                       # the tail: small (merges, validations ...)
        pass
    tail = st.buf
    end = _SHEETDATA_END.match(tail)
    if end:
        st.write(tail[:end.end()])
        tail = tail[end.end():]
    if edits.on_tail is not None:
        existing = legacy_in(tail)
        add = edits.on_tail(existing, merges_in(tail))
        if add and existing is None:
            tail = _insert_legacy(tail, pfx, add)
    st.write(tail)
    return seen


def _rows(st: _Stream, rows: list, edits: Edits, pfx: bytes, col_styles, seen: dict) -> None:
    """Pass the rows through up to </sheetData>, rewriting the marked ones. Row tags are found
    by a plain byte search and their number read from `r` (or counted, when it is missing);
    a buffer whose last row comes before the next marked row is passed on whole. `done`: the
    bytes of the buffer already written; the buffer is only cut when more data is read."""
    def default(c):
        return next((s for lo, hi, s in col_styles if lo <= c <= hi), 0)

    row_tag, end_tag = b"<" + pfx + b"row", b"</" + pfx + b"sheetData"
    row_r = re.compile(re.escape(row_tag) + rb"""\s+r\s*=\s*["'](\d+)["']""")
    n = len(row_tag)
    ti, last, pos, done = 0, 0, 0, 0
    buf = st.buf
    jump, limit = True, buf.find(end_tag)
    tagged = row_tag + b' r="'
    while True:
        hi = limit if limit >= 0 else len(buf)
        if ti < len(rows):      # straight to the next marked row's tag, if every row before it has r
            j = buf.find(tagged + b'%d"' % rows[ti], pos, hi)
            if j < 0:
                jump = True
            elif buf.count(row_tag, pos, j) == buf.count(tagged, pos, j):
                pos = j
        if jump:        # no marked row before the last row of the buffer: go straight to that row
            jump = False
            j = buf.rfind(row_tag, pos, hi)
            while j > pos:
                m = _ROW_OR_END.match(buf, j)       # a whole row tag (not <rowBreaks, not cut off)
                if m is not None and m.group(1) is not None:
                    r = _attr(m.group(2), b"r")
                    if r and r.isdigit() and (ti >= len(rows) or int(r) < rows[ti]):
                        pos = j
                    break
                j = buf.rfind(row_tag, pos, j)
        j = buf.find(row_tag, pos, hi) if ti < len(rows) else -1     # all marked: on to the end
        m = None
        if j >= 0:
            if buf[j + n:j + n + 1] not in (b" ", b"\t", b"\r", b"\n", b">", b"/"):
                pos = j + n if buf[j + n:j + n + 1] else j      # <rowBreaks ... or cut off
                if pos == j:
                    j = -1
                else:
                    continue
            elif ti < len(rows):
                fast = row_r.match(buf, j)
                if fast is not None and int(fast.group(1)) < rows[ti]:
                    last, pos = int(fast.group(1)), j + n
                    continue
        if j >= 0:
            m = _ROW_OR_END.match(buf, j)
        elif limit >= 0:
            m = _ROW_OR_END.match(buf, limit)
        if m is None:                                       # a tag cut off: read on
            cut = j if j >= 0 else max(buf.rfind(b"<", pos), pos)
            st.write(buf[done:cut])
            st.buf, pos, done = buf[cut:], 0, 0
            if not st.more():
                raise WorkbookError("the sheet's cell data never ends")
            buf = st.buf
            jump, limit = True, buf.find(end_tag)
            continue
        if m.group(1) is None:                              # </sheetData>
            st.write(buf[done:m.start()])
            st.write(b"".join(_row_xml(pfx, r, edits.targets[r], default, seen) for r in rows[ti:]))
            st.buf = buf[m.start():]
            return
        r = _attr(m.group(2), b"r")
        num = int(r) if r and r.isdigit() else last + 1
        last = num
        pos = m.end()
        if ti >= len(rows) or rows[ti] > num:
            continue
        st.write(buf[done:m.start()])
        done = m.start()
        while ti < len(rows) and rows[ti] < num:            # marked rows the sheet does not have
            st.write(_row_xml(pfx, rows[ti], edits.targets[rows[ti]], default, seen))
            ti += 1
            jump = True
        if ti < len(rows) and rows[ti] == num:
            if m.group(2).endswith(b"/"):
                end = m.end()
            else:
                e = _ROW_END.search(buf, m.end())
                while e is None:
                    if not st.more():
                        raise WorkbookError(f"row {num} of the sheet never ends")
                    buf = st.buf
                    limit = buf.find(end_tag)
                    e = _ROW_END.search(buf, m.end())
                end = e.end()
            st.write(_rewrite_row(buf[m.start():end], num, edits.targets[num], pfx, col_styles, seen))
            done = pos = end
            ti += 1
            jump = True
