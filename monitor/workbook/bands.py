"""A very large sheet loaded by calamine in row bands, from the pieces the sheet scan already
inflated (issue 15: one inflate per part, and both cores for the sheet that is most of a study).

Loading a 180 MB Labs part whole, calamine inflates it a second time (the scan did once), parses
it on one core and holds the whole cell list and grid at once (~360 MB over the frame). Here the
scan keeps its pieces; they are cut at row starts into bands of about BAND_BYTES, and each band
becomes a small stored (not deflated) copy of the package: the same workbook, styles and shared
strings parts, with the sheet part holding only that band's rows. Two threads load the bands
(calamine releases the GIL) and the band frames are put back together in row order.

A band's frame must say where it sits. calamine starts a frame at the first stored cell (with
`skip_rows=None`), so each band gets a marker row: one cell in column A on the row before its
first row, and, except the last band, one on the row after its last row. The frame is kept only
if the markers are where they must be (first and last row, column A, alone on their rows) and its
height is what the rows say; then the marker rows are dropped, the columns before the sheet's
first used column (from the scan; they must be empty) are dropped, narrower bands are padded with
empty columns and rows between two bands with no row element are empty rows. The first band is
loaded with `skip_rows=0`, like a whole sheet, so its frame starts at row 1.

Anything unexpected (a namespace prefix, a row without a number, rows out of order across bands,
a marker out of place, calamine refusing a band) gives None: the caller loads the whole sheet
from the workbook's bytes as before, so a damaged sheet gets calamine's own message.
"""

from __future__ import annotations

import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor

import fastexcel
import polars as pl

from .container import _is_sheet_part

BAND_BYTES = 24 << 20        # a band holds about this much sheet XML (~80,000 rows of 8 columns)
MIN_PART_BYTES = 64 << 20    # a sheet part smaller than this is loaded whole, as before
WORKERS = 2
MAX_COPIED_PART = 16 << 20   # a non-sheet part larger than this (an image ...) is not copied into bands

MARK = "\u2063monitor-band\u2063"
_MARK_XML = MARK.encode()
_ROW_START = re.compile(rb"<row[\s>/]")
_ROW_NUMBER = re.compile(rb"<row\s[^>]*?\br\s*=\s*[\"'](\d+)[\"']")
_DIMENSION = re.compile(rb"<dimension\b[^>]*/>")
_HEAD_END = b"<sheetData>"
_TAIL_START = b"</sheetData>"


def _mark_row(row: int) -> bytes:
    return b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c></row>' % (row, row, _MARK_XML)


def _last_row_start(piece: bytes) -> int:
    pos = -1
    for m in _ROW_START.finditer(piece, max(0, len(piece) - (1 << 16))):
        pos = m.start()
    if pos < 0 and len(piece) > (1 << 16):
        for m in _ROW_START.finditer(piece):
            pos = m.start()
    return pos


def split_bands(pieces: list, band_bytes: int | None = None):
    """(head, [(first row, last row, [pieces])], tail) from a sheet part's pieces, or None when
    the part is not one this can cut safely. Consumes `pieces` (the list is emptied)."""
    band_bytes = band_bytes or BAND_BYTES
    if not pieces:
        return None
    first = pieces[0]
    at = first.find(_HEAD_END)
    if at < 0 or b"<worksheet" not in first[:at]:
        return None
    head = _DIMENSION.sub(b"", first[:at + len(_HEAD_END)])
    pieces[0] = first[at + len(_HEAD_END):]
    last = pieces[-1]
    end = last.rfind(_TAIL_START)
    if end < 0:
        return None
    tail = last[end:]
    pieces[-1] = last[:end]
    bands, cur, size = [], [], 0
    pieces.reverse()   # popped from the end: each piece is let go as soon as it is in a band
    while pieces:
        p = pieces.pop()
        if cur and size + len(p) >= band_bytes:
            cut = _last_row_start(p)     # the band ends before the last row that starts in p
            if cut >= 0:
                if cut:
                    cur.append(p[:cut])
                    p = p[cut:]
                bands.append(cur)
                cur, size = [], 0
        cur.append(p)
        size += len(p)
    if cur:
        bands.append(cur)
    out, prev_last = [], 0
    for i, band in enumerate(bands):
        band = [p for p in band if p]
        if not band:
            return None
        m = _ROW_NUMBER.match(band[0])
        if i and (m is None or not band[0].startswith(b"<row")):
            return None
        first_row = int(m.group(1)) if i else 1   # the first band's frame starts at row 1
        last_piece = next((p for p in reversed(band) if _ROW_START.search(p)), None)
        lm = _ROW_NUMBER.match(last_piece, _last_row_start(last_piece)) if last_piece else None
        if lm is None:
            return None
        last_row = int(lm.group(1))
        if i and (first_row <= prev_last or first_row < 2) or last_row < first_row:
            return None
        out.append((first_row, last_row, band))
        prev_last = last_row
    return (head, out, tail) if len(out) > 1 else None


def _package(parts: dict, sheet_part: str, xml_pieces: list) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
        with z.open(sheet_part, "w", force_zip64=True) as w:
            for p in xml_pieces:
                w.write(p)
    return buf.getvalue()


def _band_frame(parts, sheet_part, wname, head, tail, band, index, count):
    first_row, last_row, pieces = band
    lead = [_mark_row(first_row - 1)] if index else []
    end = [_mark_row(last_row + 1), _TAIL_START, b"</worksheet>"] if index < count - 1 else [tail]
    data = _package(parts, sheet_part, [head, *lead, *pieces, *end])
    pieces.clear()
    reader = fastexcel.read_excel(data)
    del data
    return reader.load_sheet(wname, header_row=None, skip_rows=0 if index == 0 else None,
                             dtypes="string").to_polars()


def _only_mark(frame: pl.DataFrame, i: int) -> bool:
    row = frame.row(i)
    return row[0] == MARK and all(v is None for v in row[1:])


def _kept(frame: pl.DataFrame, band, index: int, count: int) -> pl.DataFrame | None:
    """The band's rows without its marker rows, or None when a marker is not where it must be."""
    first_row, last_row, _ = band
    if not frame.height or not frame.width:
        return None
    if index == 0:
        if frame.height != last_row + 1 or not _only_mark(frame, last_row):
            return None
        return frame.slice(0, last_row)
    if not _only_mark(frame, 0):
        return None
    if index == count - 1:
        body = frame.slice(1)   # ends at the sheet's last stored row, as a whole load does
        if not body.height:     # no stored cell after the marker: where the sheet ends is unknown here
            return None
    else:
        if frame.height != last_row - first_row + 3 or not _only_mark(frame, frame.height - 1):
            return None
        body = frame.slice(1, frame.height - 2)
    return body


def load_banded(parts: dict, sheet_part: str, wname: str, split, first_col: int) -> pl.DataFrame | None:
    """The sheet's frame as calamine would load it whole (`header_row=None, skip_rows=0`, text),
    from `split` (split_bands), or None (then load it whole)."""
    head, bands, tail = split
    count = len(bands)
    try:
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="monitor-band") as pool:
            frames = list(pool.map(lambda ib: _band_frame(parts, sheet_part, wname, head, tail, ib[1], ib[0], count),
                                   enumerate(bands)))
    except BaseException as e:   # calamine refuses a band: the whole sheet is loaded, and refused, as before
        if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
            raise
        return None
    kept = []
    for i, (band, frame) in enumerate(zip(bands, frames)):
        body = _kept(frame, band, i, count)
        if body is None or body.width < first_col:
            return None
        lead = body.select(body.columns[:first_col])
        if first_col and lead.select(pl.any_horizontal(pl.all().is_not_null()).any()).item():
            return None
        kept.append(body.select(body.columns[first_col:]))
    width = max(f.width for f in kept)
    names = [f"__UNNAMED__{j}" for j in range(width)]
    out, prev_last = [], 0
    for (first_row, last_row, _), body in zip(bands, kept):
        gap = first_row - prev_last - 1
        if gap > 0:
            out.append(pl.DataFrame({n: pl.Series(n, [None] * gap, dtype=pl.String) for n in names}))
        body = body.rename(dict(zip(body.columns, names)))
        if body.width < width:
            body = body.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in names[body.width:])
        out.append(body.select(pl.col(n).cast(pl.String) for n in names))
        prev_last = last_row
    return pl.concat(out, rechunk=False)


def copied_parts(zf: zipfile.ZipFile, members: list) -> dict | None:
    """The package parts a band copy needs (every part but the sheets, images and other large
    parts), or None when the package has two entries of one name (calamine's choice among them
    is not copied here)."""
    names = [i.filename.lower() for i in members]
    if len(set(names)) != len(names):
        return None
    return {i.filename: zf.read(i) for i in members
            if not _is_sheet_part(i.filename) and not i.is_dir() and i.file_size <= MAX_COPIED_PART}
