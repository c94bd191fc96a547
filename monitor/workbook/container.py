"""The xlsx container and what one workbook may cost: zip checks, inflating parts against the
unpacked budget and the resource limits, all done before calamine builds a sheet (split out of
reader.py; the sheet XML scans are in sheetscan.py, the order of it all in load.py).

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


def stream_capped(zf: zipfile.ZipFile, name, budget: list, chunk_bytes: int = 1 << 20):
    """Decompress one part (a name or a ZipInfo) chunk by chunk, counting the bytes it really
    inflates to against the unpacked budget `[bytes left, limit in MB]`: a zip can declare a
    small size for a part that inflates to gigabytes, and calamine reads a part to the end of
    its data, not to its declared size. The CRC is checked at the end, as zipfile does."""
    info = zf.getinfo(name) if isinstance(name, str) else name
    probe = copy.copy(info)
    probe.file_size = 1 << 62   # read to the end of the compressed data; the CRC is still checked
    with zf.open(probe) as fh:
        while True:
            chunk = fh.read(chunk_bytes)
            if not chunk:
                return
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise WorkbookError(f"{zf.filename}: unpacks to more than the limit of {budget[1]:g} MB "
                                    "(--max-unpacked-mb); refused")
            yield chunk


def _read_capped(zf: zipfile.ZipFile, name, budget: list, keep: bool = True) -> bytes:
    """The whole part (see stream_capped). With `keep=False` the bytes are only counted and the
    first 4 kB returned."""
    out = []
    for chunk in stream_capped(zf, name, budget):
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


def take_snapshot(path, max_unpacked_mb: float = DEFAULT_MAX_UNPACKED_MB) -> Snapshot:
    """The workbook's bytes, read with one open of the file (WorkbookError if it cannot be)."""
    try:
        return Snapshot.read(path, Snapshot.limit_for(max_unpacked_mb))
    except SnapshotError as e:
        raise WorkbookError(str(e)) from None


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]
