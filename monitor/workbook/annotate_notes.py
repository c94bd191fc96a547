"""Cell notes (comments) of the annotated copy: the sheet's comments part, edited where the
monitor adds, extends or takes back a note (every other note is kept as it was, formatting and
all), and the VML drawing Excel needs to show a note: one shape per note, appended to the sheet's
drawing or removed from it; any other shape in the drawing (buttons, form controls) is kept.
"""

from __future__ import annotations

import re

from lxml import etree

from .annotate_sheet import parse_ref
from .annotate_package import dump
from .container import WorkbookError

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
EMPTY = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         f'<comments xmlns="{NS}"><authors/><commentList/></comments>').encode()
_SHAPE = re.compile(rb"<(\w+):shape\b(?:[^>]*?/>|.*?</\1:shape\s*>)", re.S)
_ROWCOL = re.compile(rb"<(?:\w+:)?Row>\s*(\d+)\s*</(?:\w+:)?Row>.*?<(?:\w+:)?Column>\s*(\d+)\s*</(?:\w+:)?Column>", re.S)
_NOTE = re.compile(rb"""ObjectType\s*=\s*["']Note["']""")
_SHAPE_ID = re.compile(rb"""\bid\s*=\s*["']_x0000_s(\d+)["']""")
_END = re.compile(rb"</xml\s*>\s*$")
_DECL = (b'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
         b'xmlns:x="urn:schemas-microsoft-com:office:excel"')
# the prefixes are declared on each element the copy adds: a drawing written by another tool may
# use other prefixes, or declare them element by element (openpyxl does)
SHAPETYPE = (b'<v:shapetype ' + _DECL + b' id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
             b'<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')
VML_HEAD = (b'<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            b'xmlns:x="urn:schemas-microsoft-com:office:excel">'
            b'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="%d"/></o:shapelayout>')


class Notes:
    """The comments part of one sheet."""

    def __init__(self, xml: bytes | None):
        try:
            self.root = etree.fromstring(xml or EMPTY, etree.XMLParser(resolve_entities=False, huge_tree=True))
        except etree.XMLSyntaxError as e:
            raise WorkbookError(f"a comments part is not readable ({e})") from None
        self.q = "{%s}" % (etree.QName(self.root).namespace or NS)
        self.authors = self._child(self.root, "authors", 0)
        self.list = self._child(self.root, "commentList", 1)
        self.by_ref = {}
        for c in self.list.findall(self.q + "comment"):
            p = parse_ref(c.get("ref", "").split(":")[0])
            if p:
                self.by_ref.setdefault(p, c)
        self.added: set = set()
        self.removed: set = set()
        self.changed = xml is None

    def _child(self, parent, name, pos):
        el = parent.find(self.q + name)
        if el is None:
            el = etree.Element(self.q + name)
            parent.insert(pos, el)
        return el

    def _author_name(self, c) -> str:
        names = [a.text or "" for a in self.authors.findall(self.q + "author")]
        try:
            return names[int(c.get("authorId", "0"))]
        except (ValueError, IndexError):
            return ""

    def _author_id(self, name: str) -> int:
        names = [a.text or "" for a in self.authors.findall(self.q + "author")]
        if name in names:
            return names.index(name)
        etree.SubElement(self.authors, self.q + "author").text = name
        return len(names)

    def get(self, cell) -> tuple[str, str] | None:
        """(text, author) of the note on `cell` (row, col), or None."""
        c = self.by_ref.get(cell)
        if c is None:
            return None
        text = c.find(self.q + "text")
        parts = []
        for el in (text if text is not None else ()):
            if el.tag == self.q + "t":
                parts.append(el.text or "")
            elif el.tag == self.q + "r":
                parts.extend(t.text or "" for t in el.findall(self.q + "t"))
        return "".join(parts), self._author_name(c)

    def set(self, cell, ref: str, text: str, author: str) -> None:
        c = self.by_ref.get(cell)
        if c is None:
            c = etree.SubElement(self.list, self.q + "comment", ref=ref)
            self.by_ref[cell] = c
            if cell in self.removed:
                self.removed.discard(cell)
            else:
                self.added.add(cell)
        for child in list(c):
            c.remove(child)
        c.set("authorId", str(self._author_id(author)))
        t = etree.SubElement(etree.SubElement(c, self.q + "text"), self.q + "t")
        t.text = text
        if text != text.strip() or "\n" in text:
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        self.changed = True

    def remove(self, cell) -> None:
        c = self.by_ref.pop(cell, None)
        if c is None:
            return
        self.list.remove(c)
        if cell in self.added:
            self.added.discard(cell)
        else:
            self.removed.add(cell)
        self.changed = True

    def __len__(self) -> int:
        return len(self.by_ref)

    def to_bytes(self) -> bytes:
        return dump(self.root)


def _shape(shape_id: int, row: int, col: int, lines: int) -> bytes:
    """A hidden note box for the cell (row, col), 1-based, about `lines` lines tall."""
    r0, c0 = row - 1, col - 1
    height = min(max(lines, 3), 30)
    anchor = f"{c0 + 1}, 15, {max(r0 - 1, 0)}, 10, {c0 + 5}, 15, {max(r0 - 1, 0) + height}, 4"
    return (f'<v:shape {_DECL.decode()} id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;margin-left:59.25pt;'
            f'margin-top:1.5pt;width:270pt;height:{15 * height}pt;z-index:{shape_id % 100000};visibility:hidden" '
            f'fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
            f'<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
            f'<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
            f'<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:Anchor>{anchor}</x:Anchor>'
            f'<x:AutoFill>False</x:AutoFill><x:Row>{r0}</x:Row><x:Column>{c0}</x:Column></x:ClientData>'
            f'</v:shape>').encode()


def update_vml(xml: bytes | None, remove: set, add: dict, idmap: int) -> bytes:
    """The sheet's VML drawing without the note shapes of `remove` and with a shape for each cell
    of `add` {(row, col): lines of text}; a new drawing when `xml` is None."""
    if xml is None:
        xml = VML_HEAD % idmap + SHAPETYPE + b"</xml>"
    drop = {(r - 1, c - 1) for r, c in remove} | {(r - 1, c - 1) for r, c in add}
    ids = [idmap * 1024]

    def keep(m):
        block = m.group(0)
        ids.extend(int(i) for i in _SHAPE_ID.findall(block))
        rc = _ROWCOL.search(block)
        if rc and _NOTE.search(block) and (int(rc.group(1)), int(rc.group(2))) in drop:
            return b""
        return block

    xml = _SHAPE.sub(keep, xml)
    if b"_x0000_t202" not in xml:
        add_type = SHAPETYPE
    else:
        add_type = b""
    end = _END.search(xml)
    if end is None:
        raise WorkbookError("a note drawing (VML) is damaged: no end")
    next_id = max(ids) + 1
    shapes = []
    for i, ((r, c), lines) in enumerate(sorted(add.items())):
        shapes.append(_shape(next_id + i, r, c, lines))
    return xml[:end.start()] + add_type + b"".join(shapes) + xml[end.start():]
