"""Mutations of a workbook, each a small function of a seeded `random.Random`.

Package mutators edit the zip members (`fuzz.xlsx.Package`) and return a short description;
byte mutators edit the finished file. `MUTATORS` lists them with weights; `mutate` applies one
to three of them. Everything is deterministic for a given Random.
"""

from __future__ import annotations

import re
import struct
import zipfile
from xml.sax.saxutils import escape

from .xlsx import Package

# text that must stay text everywhere: markup, template syntax, URLs, formula starters
HOSTILE_TEXT = (
    '=HYPERLINK("http://evil.example/x","click")', "=1+2", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1",
    "=cmd|' /C calc'!A0", "<script>alert(1)</script>", '<img src="http://evil.example/x.png">',
    "<style>body{display:none}</style>", "url(file:///etc/passwd)", "file:///etc/passwd",
    "http://evil.example/", "{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "{# c #}", "${7*7}",
    "'; DROP TABLE findings; --", "\x1b[31mred\x1b[0m", "a\u202eevil", "\u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627", "\u60a3\u8005\u7f16\u53f7", "\u8840\u5c0f\u677f\u51cf\u5c11", "\U0001f489\U0001f9ea",
    "e\u0301\u0301\u0301", "\ufeffBOM", "line\nbreak", "tab\there", "\u2028sep", "NUL\x00here", "ctl\x01\x07\x1f",
)
STRANGE_NUMBERS = ("-1", "0", "-0", "1e308", "1e400", "-1e400", "NaN", "inf", "2958466", "2958465.99999",
                   "99999999999999999999", "1e-320", "0x10", "1,5", " 12 ", "")
FAR_REFS = ("XFD1048576", "A1048577", "A99999999", "B99999999999999999999", "ZZZZZZZZ1", "GS1", "GR999999",
            "A0", "0", "a1", "xfd1048576", "A-1", "1A", "AAAA1", "A1A", "")
SHEET_NAMES = ("../../etc/passwd", "/abs/path", "..", "CON", "NUL", "com1.txt", "a/b\\c", "Labs",
               "x" * 200, "", " ", "Stu\u0000dy", "\u60a3\u8005", "Study ", "STUDY", "'quoted'", "<b>", "{{x}}")
STATES = ("hidden", "veryHidden", "bogus", "")


def _cells(xml: bytes) -> list:
    return list(re.finditer(rb"<c\b[^>]*?(?:/>|>.*?</c>)", xml, re.S))


def _pick_sheet(rng, pkg: Package) -> str | None:
    sheets = pkg.sheets()
    return rng.choice(sheets) if sheets else None


def _pick_cell(rng, pkg: Package):
    """(part, xml, match) of a random cell, or None."""
    for _ in range(4):
        part = _pick_sheet(rng, pkg)
        if part is None:
            return None
        xml = pkg.get(part)
        cells = _cells(xml)
        if cells:
            return part, xml, rng.choice(cells)
    return None


def _ref(cell: bytes) -> bytes:
    m = re.search(rb'\br="([^"]*)"', cell)
    return m.group(1) if m else b"A1"


def _inline(ref: bytes, text: str) -> bytes:
    t = escape(text).encode("utf-8", "surrogatepass")
    return b'<c r="' + ref + b'" t="inlineStr"><is><t xml:space="preserve">' + t + b"</t></is></c>"


def _replace(xml: bytes, m, new: bytes) -> bytes:
    return xml[:m.start()] + new + xml[m.end():]


# ---------------------------------------------------------------- cell contents

def long_cell(rng, pkg):
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    n = rng.choice((10_000, 10_000, 32_767, 32_768, 100_000))
    pkg.set(part, _replace(xml, m, _inline(_ref(m.group()), rng.choice("xA\u60a3=([ ") * n)))
    return f"{n}-char cell in {part}"


def header_row_text(rng, pkg):
    """The first rows of a sheet (where the header is looked for) filled with one text: long
    brackets (a backtracking regex's worst case), or the same unknown header repeated."""
    part = _pick_sheet(rng, pkg)
    if part is None:
        return None
    text = rng.choice(("(" * 32_767, "[" * 5_000 + "x", "Notes", "Comment", "Subject ID", "(kg)" * 100))
    rows = b"".join(b'<row r="%d">' % r + b"".join(_inline(b"%s%d" % (col.encode(), r), text)
                                                   for col in "ABCDEFGHIJKLMNOPQRST") + b"</row>"
                    for r in range(1, rng.choice((2, 4, 31))))
    pkg.set(part, pkg.get(part).replace(b"<sheetData>", b"<sheetData>" + rows, 1))  # rows numbered twice
    return f"{len(text)}-char text {text[:6]!r} across the first rows of {part}"


def hostile_text(rng, pkg):
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    text = rng.choice(HOSTILE_TEXT)
    if rng.random() < 0.3:
        text = "".join(rng.sample(HOSTILE_TEXT, 3))
    pkg.set(part, _replace(xml, m, _inline(_ref(m.group()), text)))
    return f"hostile text {text[:20]!r} in {part}"


def control_chars(rng, pkg):
    """Raw control bytes, OOXML `_x0000_` escapes, invalid UTF-8 and character references."""
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    payload = rng.choice((b"\x00", b"\x01\x02", b"_x0000_", b"_x001B_[2J", b"&#0;", b"&#x1;", b"\xff\xfe",
                          b"\xed\xa0\x80", b"\xc3", b"&bogus;", b"]]>", b"_xD800_"))
    new = b'<c r="' + _ref(m.group()) + b'" t="inlineStr"><is><t>a' + payload + b"b</t></is></c>"
    pkg.set(part, _replace(xml, m, new))
    return f"control bytes {payload!r} in {part}"


def strange_number(rng, pkg):
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    v = rng.choice(STRANGE_NUMBERS).encode()
    style = rng.choice((b"", b' s="1"', b' s="2"', b' s="999"'))
    pkg.set(part, _replace(xml, m, b'<c r="' + _ref(m.group()) + b'"' + style + b"><v>" + v + b"</v></c>"))
    return f"number {v!r} style {style!r} in {part}"


def far_date(rng, pkg):
    """A date cell far in the past or future: serials, ISO `t="d"` cells, 1904 dates."""
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    ref = _ref(m.group())
    kind = rng.randrange(3)
    if kind == 0:
        v = rng.choice((b"-1", b"0", b"1", b"60", b"61", b"2958465", b"2958466", b"1e15", b"-1e15", b"4e9"))
        new = b'<c r="' + ref + b'" s="2"><v>' + v + b"</v></c>"
    elif kind == 1:
        v = rng.choice((b"9999-12-31T00:00:00", b"0001-01-01", b"1899-12-31", b"2100-02-29", b"garbage",
                        b"-2022-01-01", b"2022-13-45", b"+275760-09-13", b""))
        new = b'<c r="' + ref + b'" t="d"><v>' + v + b"</v></c>"
    else:
        new = _inline(ref, rng.choice(("0001-01-01", "9999-12-31", "31-DEC-9999", "01-JAN-0001", "1900-02-29",
                                       "UNK-UNK-0000", "2022-00-00", "29-FEB-2023", "99/99/9999")))
    pkg.set(part, _replace(xml, m, new))
    if rng.random() < 0.2 and pkg.has("xl/workbook.xml"):
        pkg.set("xl/workbook.xml", pkg.get("xl/workbook.xml").replace(b"<workbookPr", b'<workbookPr date1904="1"', 1))
    return f"far date in {part}"


def cell_type(rng, pkg):
    """Cell types calamine must cope with: booleans out of range, errors, unknown `t`."""
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    t, v = rng.choice(((b"b", b"2"), (b"b", b"x"), (b"e", b"#DIV/0!"), (b"e", b"#BOGUS!"), (b"n", b"abc"),
                       (b"str", b"text"), (b"s", b""), (b"zzz", b"1"), (b"inlineStr", b"no is"), (b"d", b"x")))
    pkg.set(part, _replace(xml, m, b'<c r="' + _ref(m.group()) + b'" t="' + t + b'"><v>' + v + b"</v></c>"))
    return f"cell type {t!r} value {v!r} in {part}"


def formula(rng, pkg):
    """Formulas with and without cached values, shared and array formulas."""
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    ref = _ref(m.group())
    f = rng.choice((b"<f>1+1</f>", b"<f>A1*2</f>", b'<f t="shared" ref="A1:A9" si="0">B1</f>',
                    b'<f t="shared" si="0"/>', b'<f t="array" ref="A1:B2">A1:B2</f>', b"<f>HYPERLINK(\"http://x\")</f>",
                    b"<f/>"))
    v = rng.choice((b"", b"<v>2</v>", b"<v></v>", b"<v/>", b"<v>#N/A</v>"))
    t = rng.choice((b"", b' t="str"', b' t="e"', b' t="b"'))
    pkg.set(part, _replace(xml, m, b'<c r="' + ref + b'"' + t + b">" + f + v + b"</c>"))
    return f"formula {f!r} cached {v!r} in {part}"


def shared_string_index(rng, pkg):
    """A shared-string cell pointing outside the table (or at a table that is missing)."""
    got = _pick_cell(rng, pkg)
    if not got:
        return None
    part, xml, m = got
    v = rng.choice((b"999999", b"-1", b"4294967296", b"1.5", b"abc", b"", b"0"))
    pkg.set(part, _replace(xml, m, b'<c r="' + _ref(m.group()) + b'" t="s"><v>' + v + b"</v></c>"))
    if rng.random() < 0.3:
        pkg.remove("xl/sharedStrings.xml")
    return f"shared string index {v!r} in {part}"


def shared_strings_broken(rng, pkg):
    if not pkg.has("xl/sharedStrings.xml"):
        return shared_string_index(rng, pkg)
    sst = pkg.get("xl/sharedStrings.xml")
    how = rng.randrange(4)
    if how == 0:
        sst = re.sub(rb'(uniqueCount|count)="\d+"', rb'\1="4294967295"', sst)
    elif how == 1:
        sst = sst[: rng.randrange(len(sst))]
    elif how == 2:
        sst = re.sub(rb"<si>.*?</si>", b"", sst, count=rng.randrange(1, 5), flags=re.S)
    else:
        sst = sst.replace(b"<t>", b"<t>" + escape(rng.choice(HOSTILE_TEXT)).encode(), 3)
    pkg.set("xl/sharedStrings.xml", sst)
    return f"shared strings broken ({how})"


# ---------------------------------------------------------------- sheet structure

def far_reference(rng, pkg):
    """A cell (or row) reference far outside the sheet: calamine would build a dense grid."""
    part = _pick_sheet(rng, pkg)
    if part is None:
        return None
    ref = rng.choice(FAR_REFS).encode()
    row = re.sub(rb"^[A-Za-z]*", b"", ref) or b"1"
    form = rng.randrange(5)
    value = rng.choice((b"<v>1</v>", b"", b'<is><t>x</t></is>'))
    if form == 0:
        cell = b'<row r="' + row + b'"><c r="' + ref + b'" t="inlineStr">' + value + b"</c></row>"
    elif form == 1:
        cell = b"<row r='" + row + b"'><c r = '" + ref + b"'>" + value + b"</c></row>"
    elif form == 2:  # an empty styled cell, then one without a reference placed after it
        cell = b'<row r="' + row + b'"><c r="' + ref + b'" s="1"/><c><v>1</v></c></row>'
    elif form == 3:  # a row reference, cells without references
        cell = b'<row r="' + row + b'"><c><v>1</v></c></row>'
    else:
        cell = b'<row r="' + row + b'"><c r="' + ref + b'"><v>1</v></c></row>'
    xml = pkg.get(part).replace(b"</sheetData>", cell + b"</sheetData>", 1)
    pkg.set(part, xml)
    return f"far reference {ref!r} form {form} in {part}"


def dimension_lie(rng, pkg):
    part = _pick_sheet(rng, pkg)
    if part is None:
        return None
    ref = rng.choice((b"A1:XFD1048576", b"A1", b"ZZZ:0", b"", b"A1:A1:A1"))
    xml = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="' + ref + b'"/>', pkg.get(part), count=1)
    pkg.set(part, xml)
    return f"dimension {ref!r} in {part}"


def merged_header(rng, pkg):
    """Merge the first row's cells (the header, or the title above it), as Excel does: the
    merged cells lose their values."""
    part = _pick_sheet(rng, pkg)
    if part is None:
        return None
    xml = pkg.get(part)
    width = rng.randrange(2, 6)
    first = re.search(rb"<row\b[^>]*>(.*?)</row>", xml, re.S)
    if first and rng.random() < 0.7:
        cells = _cells(first.group(1))
        keep = [c.group() for i, c in enumerate(cells) if i == 0 or i >= width]
        xml = xml[:first.start(1)] + b"".join(keep) + xml[first.end(1):]
    rng_ref = b"A1:" + b"ABCDEFGH"[width - 1:width] + b"1"
    merge = b'<mergeCells count="1"><mergeCell ref="' + rng_ref + b'"/></mergeCells>'
    xml = xml.replace(b"</sheetData>", b"</sheetData>" + merge, 1)
    pkg.set(part, xml)
    return f"merged {rng_ref!r} in {part}"


def shuffle_rows(rng, pkg):
    part = _pick_sheet(rng, pkg)
    if part is None:
        return None
    xml = pkg.get(part)
    rows = list(re.finditer(rb"<row\b[^>]*?(?:/>|>.*?</row>)", xml, re.S))
    if len(rows) < 2:
        return None
    body = [r.group() for r in rows]
    how = rng.randrange(3)
    if how == 0:
        rng.shuffle(body)
    elif how == 1:
        i = rng.randrange(len(body))
        body.insert(i, body[i])
    else:
        body = [re.sub(rb'\sr="[^"]*"', b"", b) for b in body]   # no references at all
    xml = xml[:rows[0].start()] + b"".join(body) + xml[rows[-1].end():]
    pkg.set(part, xml)
    return f"rows {('shuffled', 'duplicated', 'without references')[how]} in {part}"


def broken_xml(rng, pkg):
    part = rng.choice(pkg.sheets() + ["xl/workbook.xml", "xl/styles.xml", "xl/_rels/workbook.xml.rels",
                                      "[Content_Types].xml"])
    if not pkg.has(part):
        return None
    xml = pkg.get(part)
    how = rng.randrange(9)
    if how == 0:
        xml = xml[: rng.randrange(len(xml) + 1)]
    elif how == 7:  # cells never closed: a lazy regex would run to the end from every cell
        xml = xml.replace(b"</c>", b"")
    elif how == 8:  # cell tags never ended
        xml = re.sub(rb"(<c [^>]*)>", rb"\1", xml)
    elif how == 1:
        i = rng.randrange(len(xml) + 1)
        xml = xml[:i] + rng.choice((b"<", b">", b"</c>", b"<row>", b"&", b'"', b"<!--", b"<![CDATA[")) + xml[i:]
    elif how == 2:
        xml = xml.replace(b"</sheetData>", b"", 1)
    elif how == 3:  # billion laughs
        dtd = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
               + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                          for i in range(1, 10)) + b"]>")
        xml = dtd + re.sub(rb"^<\?xml[^>]*\?>", b"", xml).replace(b"<t>", b"<t>&lol9;", 1)
    elif how == 4:  # external entity
        xml = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
               + re.sub(rb"^<\?xml[^>]*\?>", b"", xml).replace(b"<t>", b"<t>&xxe;", 1))
    elif how == 5:
        xml = xml.encode() if isinstance(xml, str) else xml.decode("utf-8", "replace").encode("utf-16")
    else:
        xml = b""
    pkg.set(part, xml)
    return f"broken xml ({how}) in {part}"


def styles(rng, pkg):
    how = rng.randrange(4)
    if how == 0:
        pkg.remove("xl/styles.xml")
    elif how == 1:
        pkg.set("xl/styles.xml", b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>')
    elif how == 2 and pkg.has("xl/styles.xml"):
        st = re.sub(rb'numFmtId="\d+"', b'numFmtId="14"', pkg.get("xl/styles.xml"))
        pkg.set("xl/styles.xml", st)   # every cell a date
    else:
        st = (b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1">'
              b'<numFmt numFmtId="164" formatCode="[$-F800]dddd\\,\\ mmmm\\ dd\\,\\ yyyy;@[[[["/></numFmts>'
              b'<cellXfs count="3"><xf numFmtId="164"/><xf numFmtId="164"/><xf numFmtId="99999999999"/></cellXfs>'
              b"</styleSheet>")
        pkg.set("xl/styles.xml", st)
    return f"styles ({how})"


# ---------------------------------------------------------------- workbook structure

def sheet_state(rng, pkg):
    if not pkg.has("xl/workbook.xml"):
        return None
    state = rng.choice(STATES).encode()
    wb = pkg.get("xl/workbook.xml")
    sheets = list(re.finditer(rb"<sheet [^>]*?/>", wb))
    if not sheets:
        return None
    m = rng.choice(sheets)
    tag = re.sub(rb'\sstate="[^"]*"', b"", m.group())
    tag = tag.replace(b"<sheet ", b'<sheet state="' + state + b'" ', 1)
    pkg.set("xl/workbook.xml", wb[:m.start()] + tag + wb[m.end():])
    return f"sheet state {state!r}"


def sheet_name(rng, pkg):
    if not pkg.has("xl/workbook.xml"):
        return None
    wb = pkg.get("xl/workbook.xml")
    names = list(re.finditer(rb'(<sheet [^>]*?name=")([^"]*)(")', wb))
    if not names:
        return None
    m = rng.choice(names)
    new = rng.choice(SHEET_NAMES)
    if rng.random() < 0.3:  # the name of another sheet: a duplicate
        new = rng.choice(names).group(2).decode("utf-8", "replace")
    enc = escape(new, {'"': "&quot;"}).encode("utf-8")
    pkg.set("xl/workbook.xml", wb[:m.start(2)] + enc + wb[m.end(2):])
    return f"sheet renamed to {new[:30]!r}"


def relationships(rng, pkg):
    name = "xl/_rels/workbook.xml.rels"
    if not pkg.has(name):
        return None
    rels = pkg.get(name)
    targets = list(re.finditer(rb'Target="([^"]*)"', rels))
    if not targets:
        return None
    m = rng.choice(targets)
    new = rng.choice((b"worksheets/missing.xml", b"/xl/worksheets/sheet1.xml", b"xl/worksheets/sheet2.xml",
                      b"../../../etc/passwd", b"http://evil.example/sheet.xml", b"sharedStrings.xml",
                      b"worksheets/../worksheets/sheet1.xml", b"workbook.xml", b"", b"XL/WORKSHEETS/SHEET1.XML"))
    pkg.set(name, rels[:m.start(1)] + new + rels[m.end(1):])
    return f"relationship target {new!r}"


def drop_member(rng, pkg):
    names = pkg.names()
    if not names:
        return None
    victim = rng.choice(names)
    pkg.remove(victim)
    return f"dropped {victim}"


def duplicate_member(rng, pkg):
    names = pkg.names()
    if not names:
        return None
    victim = rng.choice(names)
    other = rng.choice(names)
    pkg.members.append((victim, pkg.get(other)))
    if rng.random() < 0.5:  # the duplicate first
        pkg.members.insert(0, pkg.members.pop())
    return f"duplicated {victim} (content of {other})"


def case_of_names(rng, pkg):
    pkg.members = [(n.upper() if rng.random() < 0.5 else n, d) for n, d in pkg.members]
    return "member names in upper case"


def compression(rng, pkg):
    pkg.compression = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA))
    return f"compression {pkg.compression}"


def huge_attribute(rng, pkg):
    """A numeric attribute (a count, a style index, spans, an id) set to a huge or negative value:
    readers that reserve memory for what a file claims abort on these."""
    names = [n for n in pkg.names() if n.endswith((".xml", ".rels"))]
    if not names:
        return None
    part = rng.choice(names)
    xml = pkg.get(part)
    attrs = list(re.finditer(rb'\b([A-Za-z:]+)="(\d+(?::\d+)?)"', xml))
    if not attrs:
        return None
    m = rng.choice(attrs)
    value = rng.choice((b"4294967295", b"18446744073709551615", b"2147483648", b"-1", b"99999999999999999999999"))
    if b":" in m.group(2):
        value = b"1:" + value
    pkg.set(part, xml[:m.start(2)] + value + xml[m.end(2):])
    if rng.random() < 0.3 and pkg.has("xl/sharedStrings.xml"):
        sst = pkg.get("xl/sharedStrings.xml")
        pkg.set("xl/sharedStrings.xml", re.sub(rb'uniqueCount="\d+"', b'uniqueCount="' + value + b'"', sst))
    return f"{m.group(1).decode()}={value.decode()} in {part}"


PACKAGE_MUTATORS = {
    "long_cell": (long_cell, 6), "hostile_text": (hostile_text, 10), "control_chars": (control_chars, 8),
    "strange_number": (strange_number, 6), "far_date": (far_date, 8), "cell_type": (cell_type, 6),
    "formula": (formula, 6), "shared_string_index": (shared_string_index, 5),
    "shared_strings_broken": (shared_strings_broken, 3), "far_reference": (far_reference, 8),
    "dimension_lie": (dimension_lie, 2), "merged_header": (merged_header, 4), "shuffle_rows": (shuffle_rows, 4),
    "broken_xml": (broken_xml, 5), "styles": (styles, 4), "sheet_state": (sheet_state, 4),
    "sheet_name": (sheet_name, 5), "relationships": (relationships, 4), "drop_member": (drop_member, 2),
    "duplicate_member": (duplicate_member, 4), "case_of_names": (case_of_names, 1), "compression": (compression, 2),
    "huge_attribute": (huge_attribute, 4), "header_row_text": (header_row_text, 4),
}


# ---------------------------------------------------------------- bytes of the file

def flip_bytes(rng, data: bytes):
    b = bytearray(data)
    n = rng.choice((1, 1, 2, 8, 64))
    for _ in range(n):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b), f"{n} bit(s) flipped"


def truncate(rng, data: bytes):
    n = rng.randrange(len(data))
    return data[:n], f"truncated to {n} bytes"


def lie_about_sizes(rng, data: bytes):
    """Rewrite the central directory's sizes of one member (smaller, larger, or 4 GB)."""
    b = bytearray(data)
    entries = [m.start() for m in re.finditer(rb"PK\x01\x02", data)]
    if not entries:
        return data, "no central directory"
    at = rng.choice(entries)
    size = rng.choice((0, 1, 10, 0xFFFFFFFF, 0x7FFFFFFF))
    field = rng.choice((20, 24))     # compressed / uncompressed size
    struct.pack_into("<I", b, at + field, size)
    return bytes(b), f"central directory size field {field} set to {size}"


BYTE_MUTATORS = {"flip_bytes": (flip_bytes, 3), "truncate": (truncate, 1), "lie_about_sizes": (lie_about_sizes, 2)}


def mutate(rng, base: bytes) -> tuple[bytes, list[str]]:
    """One to three mutations of `base`; returns the new file and what was done."""
    names = list(PACKAGE_MUTATORS) + list(BYTE_MUTATORS)
    weights = [w for _, w in PACKAGE_MUTATORS.values()] + [w for _, w in BYTE_MUTATORS.values()]
    chosen = rng.choices(names, weights, k=rng.choice((1, 1, 1, 2, 3)))
    pkg, done = Package.read(base), []
    for name in [n for n in chosen if n in PACKAGE_MUTATORS]:
        desc = PACKAGE_MUTATORS[name][0](rng, pkg)
        if desc:
            done.append(f"{name}: {desc}")
    data = pkg.to_bytes()
    for name in [n for n in chosen if n in BYTE_MUTATORS]:
        data, desc = BYTE_MUTATORS[name][0](rng, data)
        done.append(f"{name}: {desc}")
    return data, done
