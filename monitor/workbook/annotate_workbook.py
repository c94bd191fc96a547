"""workbook.xml and the document properties of the annotated copy: the sheet list (the Findings
sheet first, the marks sheet last and very hidden, the monitor's earlier sheets taken out), the
sheet-local defined names moved with their sheets, the Findings sheet active and selected, Excel
told to recalculate on open (the copy keeps formulas, not necessarily fresh values); the custom
properties that mark the copy (monitor.io) and name its workbook and history (`monitor
responses`), lastModifiedBy and the identifier of the bytes the findings came from.

Also the reading the monitor needs from its own earlier sheets: cell values of the marks sheet
and of an old Findings sheet's title.
"""

from __future__ import annotations

import re

from lxml import etree

from .annotate_package import (CT_CORE, CT_CUSTOM, CT_SHEET, NS_MAIN, NS_R, REL, REL_CORE, REL_CUSTOM, Rels,
                               dump, parse)
from .annotate_sheet import parse_ref

NS_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
NS_VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
NS_CP = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
NS_DC = "http://purl.org/dc/elements/1.1/"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
_WB_ORDER = ("fileVersion", "fileSharing", "workbookPr", "workbookProtection", "bookViews", "sheets",
             "functionGroups", "externalReferences", "definedNames", "calcPr")


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _child(root, name: str, create: bool = False):
    q = "{%s}" % (etree.QName(root).namespace or NS_MAIN)
    el = root.find(q + name)
    if el is None and create:
        el = etree.Element(q + name)
        before = _WB_ORDER[:_WB_ORDER.index(name)]
        pos = 0
        for i, c in enumerate(root):
            if _local(c) in before:
                pos = i + 1
        root.insert(pos, el)
    return el


def sheets(pkg) -> list[dict]:
    """The workbook's sheets in order: name, state, part, the <sheet> element."""
    out = []
    for el in _child(pkg.wb, "sheets", True):
        if _local(el) != "sheet":
            continue
        rid = el.get(f"{{{NS_R}}}id") or next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
        part = pkg.wb_rels.target(rid) if rid else None
        out.append({"el": el, "name": el.get("name", ""), "state": el.get("state", "visible"), "rid": rid,
                    "part": part if part and pkg.name(part) else None})
    return out


def remove_sheet(pkg, sheet: dict) -> None:
    """A sheet of the monitor's (an earlier Findings or marks sheet) and its parts out of the copy."""
    if sheet["part"]:
        rels = Rels(pkg, sheet["part"])
        for r in rels.items():
            if r.get("TargetMode") != "External":
                pkg.drop_part(rels.target(r.get("Id")))
        pkg.drop_part(sheet["part"])
    if sheet["rid"]:
        pkg.wb_rels.remove(sheet["rid"])


def set_sheets(pkg, old: list, keep: list, findings: tuple, marks: tuple) -> None:
    """The sheet list becomes [Findings] + keep + [marks]; findings/marks: (name, part)."""
    sheets_el = _child(pkg.wb, "sheets")
    q = "{%s}" % (etree.QName(pkg.wb).namespace or NS_MAIN)
    kept = {id(s["el"]) for s in keep}
    for s in old:
        if id(s["el"]) not in kept:
            sheets_el.remove(s["el"])
    ids = [int(s["el"].get("sheetId")) for s in keep if (s["el"].get("sheetId") or "").isdigit()]
    next_id = max(ids, default=0) + 1
    new = []
    for (name, part), state in ((findings, None), (marks, "veryHidden")):
        rid = pkg.wb_rels.add(REL + "worksheet", part)
        el = etree.Element(q + "sheet", name=name, sheetId=str(next_id))
        if state:
            el.set("state", state)
        el.set(f"{{{NS_R}}}id", rid)
        pkg.override(part, CT_SHEET)
        next_id += 1
        new.append(el)
    sheets_el.insert(0, new[0])
    sheets_el.append(new[1])
    order = [s["el"] for s in old]
    now = [el for el in sheets_el if _local(el) == "sheet"]
    names = _child(pkg.wb, "definedNames")
    for dn in list(names if names is not None else ()):
        lid = dn.get("localSheetId")
        if lid is None:
            continue
        try:
            el = order[int(lid)]
        except (ValueError, IndexError):
            continue
        if el in now:
            dn.set("localSheetId", str(now.index(el)))
        else:
            names.remove(dn)
    if names is not None and not len(names):
        pkg.wb.remove(names)
    views = _child(pkg.wb, "bookViews", True)
    view = next((v for v in views if _local(v) == "workbookView"), None)
    if view is None:
        view = etree.SubElement(views, q + "workbookView")
    view.set("activeTab", "0")
    if view.get("firstSheet") is not None:
        view.set("firstSheet", "0")
    _child(pkg.wb, "calcPr", True).set("fullCalcOnLoad", "1")
    pkg.put(pkg.wb_part, dump(pkg.wb))


def doc_props(pkg, props: dict, identifier: str | None, author: str) -> None:
    """Custom properties `props` (None: removed) and the core properties of the copy."""
    name = next((t for _, t in pkg.root_rels.of_type("/custom-properties") if pkg.name(t)), None)
    if name is None:
        name = "docProps/custom.xml"
        pkg.root_rels.add(REL_CUSTOM, name)
        root = etree.Element(f"{{{NS_CUSTOM}}}Properties", nsmap={None: NS_CUSTOM, "vt": NS_VT})
    else:
        root = parse(pkg.read(name), name)
    q = "{%s}" % (etree.QName(root).namespace or NS_CUSTOM)
    for p in list(root):
        if _local(p) == "property" and p.get("name") in props:
            root.remove(p)
    pids = [int(p.get("pid")) for p in root if (p.get("pid") or "").isdigit()]
    pid = max([1, *pids]) + 1
    for key, value in props.items():
        if value:
            p = etree.SubElement(root, q + "property", fmtid=FMTID, pid=str(pid), name=key)
            etree.SubElement(p, f"{{{NS_VT}}}lpwstr").text = value
            pid += 1
    pkg.put(name, dump(root), CT_CUSTOM)

    core = next((t for _, t in pkg.root_rels.of_type("/core-properties") if pkg.name(t)), None)
    if core is None:
        core = "docProps/core.xml"
        pkg.root_rels.add(REL_CORE, core)
        root = etree.Element(f"{{{NS_CP}}}coreProperties", nsmap={"cp": NS_CP, "dc": NS_DC})
    else:
        root = parse(pkg.read(core), core)
    for ns, local, value in ((NS_CP, "lastModifiedBy", author), (NS_DC, "identifier", identifier)):
        if value is None:
            continue
        el = root.find(f"{{{ns}}}{local}")
        if el is None:
            el = etree.SubElement(root, f"{{{ns}}}{local}")
        el.text = value
    pkg.put(core, dump(root), CT_CORE)

    app = next((t for _, t in pkg.root_rels.of_type("/extended-properties") if pkg.name(t)), None)
    if app:   # the list of sheet titles would be stale: it is optional, Excel writes it again on save
        root = parse(pkg.read(app), app)
        stale = [c for c in root if _local(c) in ("HeadingPairs", "TitlesOfParts")]
        if stale:
            for c in stale:
                root.remove(c)
            pkg.put(app, dump(root))


# ---------------------------------------------------------------- reading the monitor's own sheets

_SI = re.compile(rb"<(?:\w+:)?si\b")


def shared_strings(pkg, wanted: set) -> dict:
    """Index -> text of the shared strings in `wanted` (read only when an earlier copy used them)."""
    part = next((t for _, t in pkg.wb_rels.of_type("/sharedStrings") if pkg.name(t)), None)
    if not wanted or part is None:
        return {}
    out, n = {}, -1
    for _, el in etree.iterparse(pkg.zf.open(pkg.name(part)), tag=f"{{{NS_MAIN}}}si", huge_tree=True,
                                 resolve_entities=False):
        n += 1
        if n in wanted:
            out[n] = "".join(t.text or "" for t in el.iter(f"{{{NS_MAIN}}}t")
                             if etree.QName(t.getparent()).localname != "rPh")
        el.clear()
        if n >= max(wanted):
            break
    return out


def read_cells(pkg, part: str, max_row: int | None = None) -> dict:
    """(row, col) -> (text or None, style index) of a small sheet of the monitor's."""
    xml = pkg.read(part)
    if xml is None:
        return {}
    root = parse(xml, part)
    q = "{%s}" % NS_MAIN
    raw, wanted = {}, set()
    for c in root.iter(q + "c"):
        p = parse_ref(c.get("r", ""))
        if p is None or (max_row and p[0] > max_row):
            continue
        t, v = c.get("t"), c.find(q + "v")
        if t == "inlineStr":
            value = "".join(x.text or "" for x in c.iter(q + "t"))
        elif v is not None and t == "s" and (v.text or "").strip().isdigit():
            value = int(v.text)
            wanted.add(value)
        else:
            value = v.text if v is not None else None
        s = c.get("s")
        raw[p] = (t, value, int(s) if s and s.isdigit() else 0)
    sst = shared_strings(pkg, wanted)
    return {p: (sst.get(value) if t == "s" else value, s) for p, (t, value, s) in raw.items()}
