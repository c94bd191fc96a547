"""styles.xml of the annotated copy: the workbook's own styles, kept as they are, plus the few the
copy needs, appended: for each cell style a marked cell had, the same style (font, border,
number format, alignment, protection) with the severity fill; the Findings sheet's bold, link
and wrapped styles. Existing style indices never move, so every untouched cell keeps its look.
"""

from __future__ import annotations

import copy

from lxml import etree

from .annotate_package import dump
from .container import WorkbookError

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_Q = "{%s}" % NS
MINIMAL = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<styleSheet xmlns="%s"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
           b'<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
           b'</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           b'<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           b'<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
           b'<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
           % NS.encode())
# CT_Stylesheet order: where a missing list goes
_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
          "tableStyles", "colors", "extLst")


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


class Styles:
    def __init__(self, xml: bytes | None):
        try:
            self.root = etree.fromstring(xml or MINIMAL, etree.XMLParser(resolve_entities=False, huge_tree=True))
        except etree.XMLSyntaxError as e:
            raise WorkbookError(f"xl/styles.xml: not readable ({e})") from None
        self.ns = etree.QName(self.root).namespace or NS
        self.q = "{%s}" % self.ns
        self.fonts = self._list("fonts", "font")
        self.fills = self._list("fills", "fill")
        self.xfs = self._list("cellXfs", "xf")
        self.changed = xml is None
        self._fill_ids: dict[str, int] = {}
        self._xf_cache: dict[tuple, int] = {}
        self._xf_index: dict[bytes, int] | None = None

    def _list(self, name: str, child: str):
        el = self.root.find(self.q + name)
        if el is None:
            el = etree.Element(self.q + name)
            after = _ORDER.index(name)
            pos = 0
            for i, c in enumerate(self.root):
                if _local(c) in _ORDER[:after]:
                    pos = i + 1
            self.root.insert(pos, el)
            if name == "fills":
                for pattern in ("none", "gray125"):
                    etree.SubElement(etree.SubElement(el, self.q + "fill"), self.q + "patternFill",
                                     patternType=pattern)
            elif name in ("fonts", "cellXfs"):
                sub = etree.SubElement(el, self.q + child)
                if name == "cellXfs":
                    sub.attrib.update(numFmtId="0", fontId="0", fillId="0", borderId="0")
        return el

    def _append(self, parent, el) -> int:
        parent.append(el)
        n = sum(1 for c in parent if _local(c) == _local(el))
        parent.set("count", str(n))
        self.changed = True
        return n - 1

    def _items(self, parent) -> list:
        return [c for c in parent if isinstance(c.tag, str)]

    def xf(self, index) -> etree._Element:
        items = self._items(self.xfs)
        try:
            i = int(index or 0)
        except ValueError:
            i = 0
        return items[i] if 0 <= i < len(items) else items[0]

    def solid_fill(self, rgb: str) -> int:
        """The index of a solid fill in `rgb` (RRGGBB), added once."""
        if rgb not in self._fill_ids:
            fill = etree.Element(self.q + "fill")
            pf = etree.SubElement(fill, self.q + "patternFill", patternType="solid")
            etree.SubElement(pf, self.q + "fgColor", rgb="FF" + rgb.upper())
            etree.SubElement(pf, self.q + "bgColor", indexed="64")
            self._fill_ids[rgb] = self._append(self.fills, fill)
        return self._fill_ids[rgb]

    def fill_rgb(self, style) -> str | None:
        """RRGGBB of a style's solid fill, or None."""
        items = self._items(self.fills)
        try:
            fill = items[int(self.xf(style).get("fillId", "0"))]
        except (ValueError, IndexError):
            return None
        pf = fill.find(self.q + "patternFill")
        if pf is None or pf.get("patternType") != "solid":
            return None
        fg = pf.find(self.q + "fgColor")
        rgb = fg.get("rgb") if fg is not None else None
        return rgb[-6:].upper() if rgb else None

    def _new_xf(self, el) -> int:
        """Index of an xf equal to `el` (one added by an earlier annotation) or of `el` added."""
        key = etree.tostring(el, with_tail=False)
        if self._xf_index is None:
            self._xf_index = {}
            for i, x in enumerate(self._items(self.xfs)):
                self._xf_index.setdefault(etree.tostring(x, with_tail=False), i)
        if key not in self._xf_index:
            self._xf_index[key] = self._append(self.xfs, el)
        return self._xf_index[key]

    def with_fill(self, style, rgb: str | None) -> int:
        """The cell style `style` with a solid `rgb` fill (None: no fill); all else the same."""
        key = ("fill", str(style or 0), rgb)
        if key not in self._xf_cache:
            el = copy.deepcopy(self.xf(style))
            el.tail = None
            el.set("fillId", str(self.solid_fill(rgb) if rgb else 0))
            el.set("applyFill", "1")
            self._xf_cache[key] = self._new_xf(el)
        return self._xf_cache[key]

    def font(self, bold=False, size=None, color=None, underline=False) -> int:
        """A font like the workbook's default one (font 0) with these changes."""
        key = ("font", bold, size, color, underline)
        if key not in self._xf_cache:
            items = self._items(self.fonts)
            f = copy.deepcopy(items[0]) if items else etree.Element(self.q + "font")
            f.tail = None
            drop = {"b"} if bold else set()
            drop |= {"sz"} if size else set()
            drop |= {"color"} if color else set()
            drop |= {"u"} if underline else set()
            for c in [c for c in f if _local(c) in drop]:
                f.remove(c)
            if bold:
                f.insert(0, etree.Element(self.q + "b"))
            if underline:
                f.insert(0, etree.Element(self.q + "u"))
            if size:
                f.append(etree.Element(self.q + "sz", val=str(size)))
            if color:
                f.append(etree.Element(self.q + "color", rgb="FF" + color))
            self._xf_cache[key] = self._append(self.fonts, f)
        return self._xf_cache[key]

    def cell_style(self, font: int | None = None, fill: str | None = None, wrap: bool = False) -> int:
        """A cell style for the monitor's own sheets: the default style with a font, fill, wrap."""
        key = ("cell", font, fill, wrap)
        if key not in self._xf_cache:
            el = etree.Element(self.q + "xf", numFmtId="0", fontId=str(font or 0),
                               fillId=str(self.solid_fill(fill) if fill else 0), borderId="0", xfId="0")
            if font:
                el.set("applyFont", "1")
            if fill:
                el.set("applyFill", "1")
            if wrap:
                el.set("applyAlignment", "1")
                etree.SubElement(el, self.q + "alignment", vertical="top", wrapText="1")
            self._xf_cache[key] = self._new_xf(el)
        return self._xf_cache[key]

    def to_bytes(self) -> bytes:
        return dump(self.root)
