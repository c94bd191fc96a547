"""The xlsx container and what one workbook may cost: zip checks, the sheet XML scans and the
resource limits, all done before calamine builds a sheet (split out of reader.py).

reader.py re-exports every name here, so `from monitor.workbook.reader import WorkbookError,
Limits, col_letter ...` keeps working.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree

import polars as pl

from .snapshot import Snapshot, SnapshotError

DEFAULT_MAX_UNPACKED_MB = 200

class WorkbookError(Exception):
    """The file cannot be read as a workbook at all (exit code 2)."""


@dataclass(frozen=True)
class Limits:
    """What one workbook may cost. A workbook over any limit is refused (WorkbookError, exit 2)
    with a message naming the file, the sheet, the limit and its option. Each is checked before
    the data it guards is built: sizes before decompressing, the sheet's extent (from its cell
    references, not its untrusted <dimension>) before calamine builds the sheet, cell lengths
    before any typed frame.

    Rows and columns are counted from A1 to the last used row and column, as Excel numbers
    them; `max_cells` bounds rows x columns of that block, because calamine stores a sheet as
    a dense grid: a 5 kB file with one value in A1 and one in GR1000000 would otherwise cost
    10 GB of memory.
    """
    max_unpacked_mb: float = DEFAULT_MAX_UNPACKED_MB   # zip bombs
    max_rows: int = 1_000_000
    max_columns: int = 200
    max_cell_chars: int = 32_767                       # Excel's own limit for one cell
    max_cells: int = 30_000_000                        # rows x columns of one sheet's used block

    def __post_init__(self):
        for name in ("max_unpacked_mb", "max_rows", "max_columns", "max_cell_chars", "max_cells"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be greater than 0")



def col_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    index += 1
    while index:
        index, r = divmod(index - 1, 26)
        s = chr(65 + r) + s
    return s


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


# ---------------------------------------------------------------- the zip container

_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def open_container(source, max_unpacked_mb: float) -> zipfile.ZipFile:
    """Refuse what is not an xlsx before parsing anything: empty, not a zip, legacy or
    encrypted (OLE2), over the unpacked size limit (zip bombs), missing its workbook part.
    `source`: a Snapshot (the bytes read once) or a path (read into a Snapshot here)."""
    snap = source if isinstance(source, Snapshot) else take_snapshot(source, max_unpacked_mb)
    path = snap.path
    if snap.size == 0:
        raise WorkbookError(f"{path}: the file is empty")
    head = snap.data[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise WorkbookError(f"{path}: this is a legacy .xls or a password-protected workbook; "
                            "save it as an unprotected .xlsx and try again")
    if not head.startswith(b"PK"):
        raise WorkbookError(f"{path}: not an .xlsx workbook (the file is not a zip archive)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(snap.data))
        zf.filename = str(path)   # for messages: the workbook, not the buffer
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise WorkbookError(f"{path}: not an .xlsx workbook (damaged zip archive: {e})") from None
    limit = max_unpacked_mb * 1024 * 1024
    total = sum(i.file_size for i in infos)
    if total > limit:
        zf.close()
        raise WorkbookError(f"{path}: unpacks to {total / 1048576:.0f} MB, over the limit of "
                            f"{max_unpacked_mb:g} MB (--max-unpacked-mb); refused before parsing")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        zf.close()
        if "EncryptedPackage" in names or "EncryptionInfo" in names:
            raise WorkbookError(f"{path}: the workbook is encrypted; remove the password and try again")
        raise WorkbookError(f"{path}: not an .xlsx workbook (no xl/workbook.xml inside)")
    if any(i.flag_bits & 0x1 for i in infos):
        zf.close()
        raise WorkbookError(f"{path}: the workbook's parts are encrypted; remove the password and try again")
    return zf


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError)


def _read_capped(zf: zipfile.ZipFile, name, budget: list, keep: bool = True) -> bytes:
    """Decompress one part (a name or a ZipInfo), counting the bytes it really inflates to
    against the unpacked budget `[bytes left, limit in MB]`: a zip can declare a small size for
    a part that inflates to gigabytes, and calamine reads a part to the end of its data, not to
    its declared size. With `keep=False` the bytes are only counted and the first 4 kB returned."""
    info = zf.getinfo(name) if isinstance(name, str) else name
    probe = copy.copy(info)
    probe.file_size = 1 << 62   # read to the end of the compressed data; the CRC is still checked
    out = []
    with zf.open(probe) as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise WorkbookError(f"{zf.filename}: unpacks to more than the limit of {budget[1]:g} MB "
                                    "(--max-unpacked-mb); refused")
            if keep or not out:
                out.append(chunk if keep else chunk[:4096])
    return out[0] if len(out) == 1 else b"".join(out)   # one copy at the end, not a growing buffer


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def sheet_parts(zf: zipfile.ZipFile, budget: list) -> dict:
    """Sheet name -> (part path inside the zip, hidden?), resolved as calamine resolves them:
    elements by local name, the first sheet of a name wins, a target starting with `/xl/` or
    `xl/` is taken as it is, any other is relative to `xl/`."""
    try:
        wb = ElementTree.fromstring(_read_capped(zf, "xl/workbook.xml", budget))
        rels_xml = _read_capped(zf, "xl/_rels/workbook.xml.rels", budget)
        rels = {r.get("Id"): r.get("Target") for r in ElementTree.fromstring(rels_xml).iter()
                if _local(r.tag) == "Relationship"}
    except (ElementTree.ParseError, KeyError, *_ZIP_ERRORS) as e:
        raise WorkbookError(f"{zf.filename}: not a readable .xlsx workbook ({_short(e)})") from None
    out = {}
    for s in wb.iter():
        if _local(s.tag) != "sheet" or s.get("name") is None:
            continue
        rid = s.get(f"{_NS_REL}id") or next((v for k, v in s.attrib.items() if _local(k) == "id"), None)
        target = rels.get(rid, "") or ""
        target = target[1:] if target.startswith("/xl/") else target if target.startswith("xl/") else "xl/" + target
        out.setdefault(s.get("name"), (target, s.get("state", "visible") != "visible"))
    return out


_WORKBOOK_PARTS = ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")
_PARSED_PARTS = (*_WORKBOOK_PARTS, "xl/sharedstrings.xml", "xl/styles.xml")   # lower case: calamine ignores case
_SST_UNIQUE = re.compile(rb"""<(?:[\w.-]+:)?sst\b[^>]*?\buniqueCount\s*=\s*["']\s*(\d+)""")


def check_shared_strings(head: bytes, size: int, path) -> None:
    """calamine reserves memory for the number of strings the table's `uniqueCount` claims, before
    reading any: 4294967295 asks for 100 GB and aborts the process. A string takes at least five
    bytes (`<si/>`), so a table cannot hold more than a fifth of its size."""
    m = _SST_UNIQUE.search(head)
    if m and int(m.group(1)) > size // 5 + 1:
        raise WorkbookError(f"{path}: the shared strings table claims {int(m.group(1)):,} strings but its "
                            f"{size:,} bytes cannot hold more than {size // 5 + 1:,}; the file is damaged")


def _is_sheet_part(name: str) -> bool:
    """A zip member calamine could load as a sheet (it matches member names ignoring case)."""
    return name.lower().startswith(("xl/worksheets/", "xl/chartsheets/", "xl/dialogsheets/"))


# Every repetition below stops at the next `<` (or at the next cell's start), so a match attempt
# never runs past its own cell: on a damaged sheet (cells never closed, a tag never ended) a
# lazy `.*?` would run to the end of the XML from every cell, quadratic time (20 s for 150 kB).
# _VALUED_IN[letter]: a cell of that column holding a value, from its reference (a literal prefix:
# a search that finds nothing costs 0.1 s per 200 MB) through an optional formula to <v> or <is>.
_VALUED_IN_COLUMN = (rb'r="%s\d+"[^<>]*>'
                     rb'(?:<(?:\w+:)?f[^<>]*?/>|<(?:\w+:)?f[^<>]*?>[^<]*</(?:\w+:)?f>)?<(?:\w+:)?(?:v>[^<]|is>)')
_VALUED_IN = {letter: re.compile(_VALUED_IN_COLUMN % letter.encode()) for letter in map(chr, range(65, 91))}
_CELL = re.compile(rb'<(?:\w+:)?c\s([^<>]*?)(?:/>|>((?:[^<]|<(?!(?:\w+:)?c[\s>/]))*?)</(?:\w+:)?c>)')
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_HAS_VALUE = re.compile(rb'<(?:\w+:)?v>[^<]|<(?:\w+:)?is>')
_HAS_FORMULA = re.compile(rb'<(?:\w+:)?f[\s>/]')


def scan_sheet_xml(xml: bytes) -> tuple[int, list]:
    """From the raw sheet XML: the first used column (calamine drops leading empty columns, so
    cell letters need it) and the cells holding a formula without a cached value."""
    first_col = _first_valued_column(xml)
    formulas = []
    for pos in _formula_tags(xml):
        # the cell around this formula: the last `<c ` (or `<x:c `) before it
        lo = max(0, pos - 1024)  # a cell's opening tag (r, s, t, cm, vm, ph) is right before its formula
        start = max(xml.rfind(b"<c ", lo, pos), xml.rfind(b":c ", lo, pos) - 2)
        if start < 0 or (formulas and formulas[-1][1] == start):
            continue
        cell = _CELL.match(xml, xml.rfind(b"<", 0, start + 1))
        if cell is None:
            continue
        inner = cell.group(2) or b""
        if _HAS_FORMULA.search(inner) and not _HAS_VALUE.search(inner):
            ref = _REF.search(cell.group(1))
            if ref:
                formulas.append((ref.group(1).decode() + ref.group(2).decode(), start))
    return first_col, [f for f, _ in formulas]


def _first_valued_column(xml: bytes) -> int:
    """Index of the first column holding a value: column by column from A (one regex search
    each, stopping at the first hit; a sheet normally starts in A or B), then, past Z, one pass
    over every cell."""
    if not _HAS_VALUE.search(xml):
        return 0
    for i, letter in enumerate(_VALUED_IN):
        if _VALUED_IN[letter].search(xml):
            return i
    cols = [col_index(m.group(1).decode()) for m in _iter_valued_refs(xml)]
    return min(cols) if cols else 0


_ROOT_PREFIX = re.compile(rb"<(\w+:)?worksheet[\s>]")


def _formula_tags(xml: bytes):
    """Positions of formula tags (`<f>`, `<f ...>`, `<f/>`; `<x:f>` when the sheet uses a
    namespace prefix), in order. One `bytes.find` pass runs at memory speed; a regex over a
    200 MB sheet takes seconds."""
    m = _ROOT_PREFIX.search(xml, 0, 4096)
    tag = b"<" + (m.group(1) if m and m.group(1) else b"") + b"f"
    found, i, n = [], xml.find(tag), len(tag)
    while i >= 0:
        if xml[i + n:i + n + 1] in (b" ", b">", b"/", b"\t", b"\n", b"\r"):
            found.append(i)
        i = xml.find(tag, i + 1)
    return found


def _iter_valued_refs(xml: bytes):
    for m in _CELL.finditer(xml):
        if m.group(2) and _HAS_VALUE.search(m.group(2)):
            ref = _REF.search(m.group(1))
            if ref:
                yield ref


# ---------------------------------------------------------------- sheet extent and cell limits

_ONE_LETTER_COLUMNS = 26   # columns A..Z are not scanned one by one; a sheet counts as 26 wide


_REF_ATTR = re.compile(rb"""r\s*=\s*["']([A-Za-z0-9]*)""")   # calamine reads letters then digits
_REF_PARTS = re.compile(rb"([A-Za-z]*)0*(\d*)")


def _far_refs(xml: bytes, rows_over: int, wide: bool = True):
    """(column number, row number) of the `r` attributes (of cells or rows; quotes and spaces as
    XML allows) that may name a row above `rows_over` or, when `wide`, a column beyond Z. A plain
    regex finds the candidates (rows with as many digits as `rows_over` and a first digit at least
    its first digit, or more digits), a second one reads each.

    A normal sheet has no candidates, so the pass allocates nothing (about 1 s per 200 MB of
    XML). References count whether or not their cell holds a value (calamine places a cell
    without a reference after the previous one, value or not): an overestimate at worst.
    """
    n = str(rows_over)
    far = rb"(?:[%s-9]\d{%d}|[1-9]\d{%d,})" % (n[0].encode(), len(n) - 1, len(n))
    alts = [rb"[A-Za-z]{2}"] if wide else []
    alts.append(rb"[A-Za-z]%s0*%s" % (b"?" if wide else b"*", far))
    pat = re.compile(rb"""r\s*=\s*["'](?:""" + b"|".join(alts) + rb")")
    if not _may_match(xml, rb"(?:^|[ \t\r\n])" + pat.pattern):   # the same test as below, `at` included
        return
    for m in pat.finditer(xml):
        at = m.start()
        if at and xml[at - 1] not in b" \t\r\n":
            continue  # the end of another attribute's name (`x:r`, `ver`): not a cell reference
        attr = _REF_ATTR.match(xml, at)
        parts = _REF_PARTS.fullmatch(attr.group(1)) if attr else None
        if parts:
            letters = parts.group(1).decode().upper()
            yield (col_index(letters) + 1 if letters else 0), int(parts.group(2) or 0)


_PREFILTER_BYTES = 1 << 20


def _may_match(xml: bytes, pattern: bytes) -> bool:
    """Whether `pattern` may match somewhere in a large `xml`: polars' regex engine (Rust, ~4x
    faster than `re` here) counts the matches of the same pattern read as text. Its `\\s` and
    `\\d` take Unicode whitespace and digits too, so it finds at least every match `re` finds:
    no match there means none here. XML that is not UTF-8, or a small one: True (let `re` look)."""
    if len(xml) < _PREFILTER_BYTES:
        return True
    try:
        text = pl.Series([xml], dtype=pl.Binary).cast(pl.String)
        return bool(text.str.contains(pattern.decode("ascii")).item())
    except Exception:   # not UTF-8 (polars raises InvalidOperationError / ComputeError): scan the bytes
        return True


def _column_name(n: int) -> str:
    return col_letter(n - 1) if n <= 16384 else "beyond XFD"


def check_extent(xml: bytes, limits: Limits, path, sheet: str) -> None:
    """Refuse a sheet whose cell references reach beyond the row, column or cell limits, before
    calamine allocates its grid. Columns A-Z are not read one by one: here a sheet counts as at
    least 26 columns wide (the check after loading is exact)."""
    rows_over = min(limits.max_rows, max(1, limits.max_cells // _ONE_LETTER_COLUMNS))
    max_col = 0
    for col, row in _far_refs(xml, rows_over):
        max_col = max(max_col, col)
        if row > rows_over or col > limits.max_columns:
            _refuse_extent(row, col, limits, path, sheet)
            _refuse_cells(row, _ONE_LETTER_COLUMNS, limits, path, sheet)
    width = max(max_col, _ONE_LETTER_COLUMNS)
    allowed = limits.max_cells // width
    if allowed < rows_over:  # a wide sheet: look again for rows beyond what its width allows
        for _, row in _far_refs(xml, allowed, wide=False):
            if row > allowed:
                _refuse_cells(row, width, limits, path, sheet)


def _refuse_cells(rows: int, width: int, limits: Limits, path, sheet: str) -> None:
    raise WorkbookError(f"{path}: sheet {sheet!r} reaches row {rows:,} and column {_column_name(width)}: up to "
                        f"{rows * width:,} cells, over the limit of {limits.max_cells:,} cells per sheet "
                        "(--max-cells); refused before reading it")


def _refuse_extent(rows: int, cols: int, limits: Limits, path, sheet: str, refs: bool = True) -> None:
    where = f"{path}: sheet {sheet!r}"
    before = "; refused before reading it" if refs else ""
    if rows > limits.max_rows:
        raise WorkbookError(f"{where} reaches row {rows:,}, over the limit of {limits.max_rows:,} rows "
                            f"per sheet (--max-rows){before}")
    if cols > limits.max_columns:
        raise WorkbookError(f"{where} reaches column {_column_name(cols)} ({cols:,}), over the limit of "
                            f"{limits.max_columns:,} columns per sheet (--max-columns){before}")
    if rows * cols > limits.max_cells:
        raise WorkbookError(f"{where} spans {rows:,} rows x {cols:,} columns ({rows * cols:,} cells), over "
                            f"the limit of {limits.max_cells:,} cells per sheet (--max-cells){before}")


def check_frame(raw: pl.DataFrame, first_col: int, limits: Limits, path, sheet: str) -> None:
    """The loaded sheet (authoritative): its size, and no cell longer than `max_cell_chars`.
    Rows count from row 1 (the reader loads with skip_rows=0), columns from the first used one."""
    _refuse_extent(raw.height, first_col + raw.width, limits, path, sheet, refs=False)
    if not raw.width:
        return
    longest = raw.select(pl.all().cast(pl.String).str.len_bytes().max()).row(0)  # bytes >= chars
    for j, (name, nbytes) in enumerate(zip(raw.columns, longest)):
        if nbytes is None or nbytes <= limits.max_cell_chars:
            continue
        chars = raw.get_column(name).cast(pl.String).str.len_chars()
        i = chars.arg_max()
        if i is not None and chars[i] > limits.max_cell_chars:
            raise WorkbookError(f"{path}: cell {sheet}!{col_letter(first_col + j)}{i + 1} holds {chars[i]:,} "
                                f"characters, over the limit of {limits.max_cell_chars:,} per cell "
                                "(--max-cell-chars)")


def take_snapshot(path, max_unpacked_mb: float = DEFAULT_MAX_UNPACKED_MB) -> Snapshot:
    """The workbook's bytes, read with one open of the file (WorkbookError if it cannot be)."""
    try:
        return Snapshot.read(path, Snapshot.limit_for(max_unpacked_mb))
    except SnapshotError as e:
        raise WorkbookError(str(e)) from None


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]
