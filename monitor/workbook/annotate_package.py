"""The xlsx package of the annotated copy: its parts, relationships and content types, and the
small XML parts the copy edits (workbook.xml, [Content_Types].xml, relationships, document
properties). Big parts are never read whole here: sheets are handed out as chunks.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from lxml import etree

from .container import WorkbookError

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PR = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
REL = NS_R + "/"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
CT_CUSTOM = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CT_CORE = "application/vnd.openxmlformats-package.core-properties+xml"
REL_CUSTOM = REL + "custom-properties"
REL_CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PARSER = etree.XMLParser(resolve_entities=False, huge_tree=True, remove_blank_text=False)


def parse(xml: bytes, name: str):
    try:
        return etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as e:
        raise WorkbookError(f"{name}: not readable XML ({e})") from None


def dump(root) -> bytes:
    return XML_DECL + etree.tostring(root, encoding="utf-8")


def rels_name(part: str) -> str:
    d, base = posixpath.split(part)
    return posixpath.join(d, "_rels", base + ".rels")


def resolve(source_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def relative(source_part: str, part: str) -> str:
    return posixpath.relpath(part, posixpath.dirname(source_part) or ".")


class Rels:
    """One relationships part."""

    def __init__(self, pkg: "Package", part: str):
        self.part, self.name = part, rels_name(part)
        xml = pkg.read(self.name)
        self.changed = xml is None
        self.root = parse(xml, self.name) if xml else etree.Element(f"{{{NS_PR}}}Relationships", nsmap={None: NS_PR})

    def items(self):
        for r in self.root:
            if isinstance(r.tag, str) and etree.QName(r).localname == "Relationship":
                yield r

    def target(self, rid: str) -> str | None:
        for r in self.items():
            if r.get("Id") == rid and r.get("TargetMode") != "External":
                return resolve(self.part, r.get("Target", ""))
        return None

    def of_type(self, suffix: str) -> list:
        return [(r.get("Id"), resolve(self.part, r.get("Target", ""))) for r in self.items()
                if r.get("Type", "").endswith(suffix) and r.get("TargetMode") != "External"]

    def add(self, rel_type: str, part: str) -> str:
        ids = {r.get("Id") for r in self.items()}
        n = 1
        while f"rIdMon{n}" in ids:
            n += 1
        etree.SubElement(self.root, f"{{{NS_PR}}}Relationship", Id=f"rIdMon{n}", Type=rel_type,
                         Target=relative(self.part, part) if self.part else part)
        self.changed = True
        return f"rIdMon{n}"

    def remove(self, rid: str) -> None:
        for r in list(self.items()):
            if r.get("Id") == rid:
                self.root.remove(r)
                self.changed = True

    def to_bytes(self) -> bytes:
        return dump(self.root)


class Package:
    """The source workbook's zip (from the bytes the check read), and what the copy changes."""

    def __init__(self, data: bytes, path):
        self.data, self.path = data, path
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
            self.infos = {i.filename: i for i in self.zf.infolist() if not i.is_dir()}
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise WorkbookError(f"{path}: cannot be opened for annotation ({e})") from None
        self.lower = {n.lower(): n for n in self.infos}
        self.out: dict[str, bytes] = {}        # part -> new bytes
        self.deflated: dict[str, tuple] = {}   # part -> (compressed, crc, size): rewritten sheets
        self.drop: set[str] = set()
        self.types = parse(self.read("[Content_Types].xml") or b"<x/>", "[Content_Types].xml")
        if etree.QName(self.types).localname != "Types":
            raise WorkbookError(f"{path}: not an .xlsx workbook (no content types)")
        self.root_rels = Rels(self, "")
        main = [t for _, t in self.root_rels.of_type("/officeDocument")]
        self.wb_part = main[0] if main and self.name(main[0]) else "xl/workbook.xml"
        self.wb = parse(self.read(self.wb_part) or b"", self.wb_part)
        self.wb_rels = Rels(self, self.wb_part)

    def name(self, part: str) -> str | None:
        """The zip member of a part name (part names are case-insensitive)."""
        return part if part in self.infos else self.lower.get(part.lower())

    def read(self, part: str) -> bytes | None:
        name = self.name(part)
        if (name or part) in self.out:
            return self.out[name or part]
        if name is None:
            return None
        try:
            return self.zf.read(name)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as e:
            raise WorkbookError(f"{self.path}: part {name} is damaged ({e})") from None

    def chunks(self, part: str, size: int = 1 << 20):
        try:
            with self.zf.open(self.name(part)) as fh:
                while True:
                    chunk = fh.read(size)
                    if not chunk:
                        return
                    yield chunk
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, KeyError) as e:
            raise WorkbookError(f"{self.path}: part {part} is damaged ({e})") from None

    def free_name(self, pattern: str) -> str:
        n = 1
        taken = set(self.lower) | {p.lower() for p in self.out}
        while (pattern % n).lower() in taken:
            n += 1
        return pattern % n

    def put(self, part: str, data: bytes, content_type: str | None = None) -> None:
        key = self.name(part) or part
        self.out[key] = data
        self.drop.discard(key)
        if content_type:
            self.override(part, content_type)

    # ---------------------------------------------------------------- content types
    def _items(self, local: str):
        return [e for e in self.types if isinstance(e.tag, str) and etree.QName(e).localname == local]

    def override(self, part: str, content_type: str) -> None:
        self.remove_override(part)
        etree.SubElement(self.types, f"{{{NS_CT}}}Override", PartName="/" + part, ContentType=content_type)

    def remove_override(self, part: str) -> None:
        for e in self._items("Override"):
            if e.get("PartName", "").lstrip("/").lower() == part.lower():
                self.types.remove(e)

    def default(self, ext: str, content_type: str) -> None:
        if not any(e.get("Extension", "").lower() == ext for e in self._items("Default")):
            etree.SubElement(self.types, f"{{{NS_CT}}}Default", Extension=ext, ContentType=content_type)

    def drop_part(self, part: str) -> None:
        """Leave a part and its own relationships out of the copy."""
        for p in (part, rels_name(part)):
            name = self.name(p)
            if name:
                self.drop.add(name)
            self.out.pop(name or p, None)
        self.remove_override(part)

    def as_xlsx(self) -> None:
        """Macros (and a template's type) dropped: the copy is a plain .xlsx."""
        for rid, part in self.wb_rels.of_type("/vbaProject"):
            for _, sig in Rels(self, part).of_type("Signature"):
                self.drop_part(sig)
            self.drop_part(part)
            self.wb_rels.remove(rid)
        for e in self._items("Override"):
            if e.get("PartName", "").lstrip("/").lower() == self.wb_part.lower():
                e.set("ContentType", CT_MAIN)
        for e in self._items("Default"):
            if "vbaProject" in e.get("ContentType", ""):
                self.types.remove(e)

    # ---------------------------------------------------------------- writing
    def write(self, zout) -> None:
        """Every part of the copy: the source's in their order (changed or copied as they were),
        then the new ones."""
        self.put("[Content_Types].xml", dump(self.types))
        for rels in self.all_rels():
            if rels.changed:
                self.put(rels.name, rels.to_bytes())
        done = set()
        for name, info in self.infos.items():
            if name in self.drop:
                continue
            if name in self.deflated:
                zout.add_compressed(name, *self.deflated[name])
            elif name in self.out:
                zout.add(name, self.out[name])
            else:
                zout.copy(self.data, info)
            done.add(name)
        for name, data in self.out.items():
            if name not in done and self.name(name) not in done:
                zout.add(name, data)

    def all_rels(self) -> list:
        return [self.root_rels, self.wb_rels, *getattr(self, "extra_rels", [])]
