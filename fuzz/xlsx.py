"""An .xlsx as an ordered list of zip members that mutators edit, written back byte-for-byte
deterministically (fixed timestamps), so a case id always gives the same file."""

from __future__ import annotations

import io
import re
import warnings
import zipfile

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class Package:
    def __init__(self, members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED):
        self.members = list(members)          # duplicates allowed: that is one of the mutations
        self.compression = compression

    @classmethod
    def read(cls, data: bytes) -> "Package":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return cls([(i.filename, zf.read(i)) for i in zf.infolist()])

    def names(self) -> list[str]:
        return [n for n, _ in self.members]

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.members)

    def get(self, name: str) -> bytes:
        for n, d in self.members:
            if n == name:
                return d
        raise KeyError(name)

    def set(self, name: str, data: bytes) -> None:
        for i, (n, _) in enumerate(self.members):
            if n == name:
                self.members[i] = (n, data)
                return
        self.members.append((name, data))

    def remove(self, name: str) -> None:
        self.members = [(n, d) for n, d in self.members if n != name]

    def sheets(self) -> list[str]:
        return [n for n, _ in self.members if n.startswith("xl/worksheets/") and n.endswith(".xml")]

    def sheet_by_name(self, sheet: str) -> str | None:
        """The part of the sheet named `sheet` (through workbook.xml and its rels)."""
        try:
            wb, rels = self.get("xl/workbook.xml"), self.get("xl/_rels/workbook.xml.rels")
        except KeyError:
            return None
        for m in re.finditer(rb'<sheet [^>]*?name="([^"]*)"[^>]*?r:id="([^"]*)"', wb):
            if m.group(1).decode("utf-8", "replace") == sheet:
                t = re.search(rb'Id="' + re.escape(m.group(2)) + rb'"[^>]*?Target="([^"]*)"', rels) or \
                    re.search(rb'Target="([^"]*)"[^>]*?Id="' + re.escape(m.group(2)) + rb'"', rels)
                if t:
                    target = t.group(1).decode()
                    return target.lstrip("/") if target.startswith("/") else "xl/" + target
        return None

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "Duplicate name": wanted here
            with zipfile.ZipFile(buf, "w", self.compression) as zf:
                for name, data in self.members:
                    info = zipfile.ZipInfo(name, FIXED_TIME)
                    info.compress_type = self.compression
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, data)
        return buf.getvalue()


def edit(data: bytes, part: str, fn) -> bytes:
    """The workbook `data` with member `part` replaced by fn(its bytes)."""
    pkg = Package.read(data)
    pkg.set(part, fn(pkg.get(part)))
    return pkg.to_bytes()


def edit_sheet(data: bytes, sheet: str, fn) -> bytes:
    """The workbook `data` with the XML of the sheet named `sheet` replaced by fn(xml)."""
    part = Package.read(data).sheet_by_name(sheet)
    if part is None:
        raise KeyError(sheet)
    return edit(data, part, fn)


def append_rows(rows_xml: bytes):
    """An edit_sheet function that appends rows at the end of <sheetData>."""
    return lambda xml: xml.replace(b"</sheetData>", rows_xml + b"</sheetData>", 1)
