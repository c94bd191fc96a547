"""A very large sheet loaded by calamine in row bands, from the pieces the sheet scan inflates
(issue 15: one inflate per part, and the sheet that is most of a study loaded while it is still
being scanned).

Loading a 180 MB Labs part whole, calamine inflates it a second time (the scan did once), starts
only when the scan has finished, and holds the whole cell list and grid at once (~360 MB over
the frame). Here the scan's pieces are cut at row starts into bands of about BAND_BYTES; each band
becomes a small stored (not deflated) copy of the package: the same workbook, styles and shared
strings parts, with the sheet part holding only that band's rows. A second thread loads the bands
as soon as the scan has passed their pieces (calamine releases the GIL), the reading thread too
while MAX_QUEUED bands are released and not loaded (at most that many are held as inflated XML),
and the band frames are put back together in row order.

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
import queue
import re
import threading
import zipfile

import fastexcel
import polars as pl

from .container import _is_sheet_part

# a band holds about this much sheet XML (~27,000 rows of 8 columns); 24 MB bands peaked ~50 MB
# higher on the 1,000 x 30 study, and were no faster
BAND_BYTES = 8 << 20
MIN_PART_BYTES = 64 << 20    # a sheet part smaller than this is loaded whole, as before
MAX_COPIED_PART = 16 << 20   # a non-sheet part larger than this (an image ...) is not copied into bands
# bands released and not yet loaded (waiting or loading); the scan waits for the loader beyond
# that. With 2, the reading thread took the one waiting band whenever the queue was full, the
# loading thread then ran dry while the reading thread loaded and went back to scanning (~25% idle
# of a core, the read's CPU graph); with 3 one band is left for it. 3 x 8 MB hold as much XML as
# 2 x 12 did: the 1,000 x 30 check 0.95-0.97x wall (8 paired rounds), the same peak (the rules').
MAX_QUEUED = 3

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


class BandLoader:
    """The bands of one sheet part, cut from the scan's pieces as they come (`feed`) and loaded
    by a second thread as soon as the scan has passed their pieces (`release`; while MAX_QUEUED
    wait, the scan's thread loads the oldest itself); `finish` loads the last band and puts the
    sheet's frame together (None: load it whole).

    At most two bands load at once (the loading thread's and the scan's), disjoint row ranges: a
    band the scan has passed while the sheet is no wider than Z lies within the rows the scan
    allows for 26 columns, so the grids of the bands loading together stay within the sheet's and
    the cell limit; once the scan has seen a column beyond Z, bands wait until the whole sheet has
    passed (then they are within the sheet's own extent)."""

    def __init__(self, parts: dict, sheet_part: str, wname: str, band_bytes: int | None = None):
        self.parts, self.part, self.wname = parts, sheet_part, wname
        self.band_bytes = band_bytes or BAND_BYTES
        self.head: bytes | None = None
        self.failed = False
        self.cur: list = []
        self.size = 0
        self.held: list = []        # bands cut, waiting for the scan to pass their pieces
        self.rows: list = []        # (first row, last row) of every band, in order
        self.frames: dict = {}
        self.queue: queue.Queue = queue.Queue()
        self.slots = threading.Semaphore(MAX_QUEUED)   # the scan waits here while MAX_QUEUED bands wait
        self.loading = 0                               # bands the reading thread is loading now
        self.loaded = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self._work, name="monitor-band-load", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ the reading thread
    def feed(self, piece: bytes) -> bool:
        """Take the scan's next piece; True when a band was completed (then let the scan check
        its pieces and call `release`)."""
        if self.failed:
            return False
        if self.head is None:
            at = piece.find(_HEAD_END)
            if at < 0 or b"<worksheet" not in piece[:at]:
                self.failed = True
                return False
            self.head = _DIMENSION.sub(b"", piece[:at + len(_HEAD_END)])
            piece = piece[at + len(_HEAD_END):]
        done = False
        if self.cur and self.size + len(piece) >= self.band_bytes:
            cut = _last_row_start(piece)     # the band ends before the last row that starts here
            if cut >= 0:
                if cut:
                    self.cur.append(piece[:cut])
                    piece = piece[cut:]
                done = self._cut(self.cur)
                self.cur, self.size = [], 0
        if piece:
            self.cur.append(piece)
            self.size += len(piece)
        return done

    def _cut(self, pieces: list, tail: bytes | None = None) -> bool:
        """A complete band: its row numbers checked (None of them: the sheet is loaded whole)."""
        index = len(self.rows)
        m = _ROW_NUMBER.match(pieces[0]) if pieces else None
        if index and (m is None or not pieces[0].startswith(b"<row")):
            self.failed = True
            return False
        first_row = int(m.group(1)) if index else 1   # the first band's frame starts at row 1
        last_piece = next((p for p in reversed(pieces) if _ROW_START.search(p)), None)
        lm = _ROW_NUMBER.match(last_piece, _last_row_start(last_piece)) if last_piece else None
        prev_last = self.rows[-1][1] if self.rows else 0
        if lm is None or int(lm.group(1)) < first_row or (index and first_row <= max(prev_last, 1)):
            self.failed = True
            return False
        self.rows.append((first_row, int(lm.group(1))))
        self.held.append((index, pieces, tail))
        return True

    def release(self, wide: bool = False) -> None:
        """The scan has passed every piece fed so far: the bands cut so far may load (unless the
        sheet is wider than Z: then they wait for `finish`)."""
        if wide or self.failed:
            return
        for item in self.held:
            self._enqueue(item)
        self.held = []

    def _enqueue(self, item) -> None:
        """Queue a band once fewer than MAX_QUEUED wait. The scan is faster than calamine: without
        a bound, most of a 180 MB part would wait as inflated XML (~120 MB at the read's peak).
        While the queue is full, this thread loads the oldest waiting band itself rather than
        wait: two bands load at once, disjoint row ranges of a sheet the scan has bounded, so
        their grids together stay within the sheet's, and the cell limit."""
        while not self.slots.acquire(blocking=False):
            # none left to load here (the loading thread has them): wait for it
            if not self._load_waiting() and (self.slots.acquire(timeout=0.05) or not self.thread.is_alive()):
                break
        self.queue.put(item)

    def finish(self, first_col: int) -> pl.DataFrame | None:
        """The whole sheet has passed the scan: load the last band and the held ones, wait for
        them, and put the frame together (None: load the sheet whole)."""
        try:
            if not self.failed and self.cur:
                last = self.cur[-1]
                end = last.rfind(_TAIL_START)
                if end >= 0 and len(self.rows) >= 1:
                    self.cur[-1] = last[:end]
                    self._cut([p for p in self.cur if p], tail=last[end:])
                else:
                    self.failed = True
            self.cur = []
            if not self.failed:
                for item in self.held:
                    self.queue.put(item)
            self.held = []
        finally:
            self.queue.put(None)
            self.thread.join()
            with self.loaded:      # a band the reading thread took (help) may still be loading
                self.loaded.wait_for(lambda: self.loading == 0)
        if self.failed or len(self.frames) != len(self.rows):
            return None
        return _assemble([self.frames.pop(i) for i in range(len(self.rows))], self.rows, first_col)

    def abandon(self) -> None:
        """The scan refused the sheet: no more bands; the one loading ends (it is within limits)."""
        self.stop, self.failed = True, True
        self.held, self.cur = [], []
        self.queue.put(None)
        self.thread.join()

    # ------------------------------------------------------------ the loading thread
    def _work(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            self._load(item)

    def help(self) -> None:
        """Load bands still waiting, in the calling thread beside the loading one, until none is
        left (the reading thread, idle once every other sheet is built). Two bands then load at
        once: they are disjoint row ranges of a sheet the scan has bounded, so their grids
        together stay within the sheet's, and the cell limit."""
        while not (self.stop or self.failed) and self._load_waiting():
            pass

    def _load_waiting(self) -> bool:
        """Load the oldest waiting band in this thread (it frees its slot); False when none waits."""
        with self.loaded:          # taken and counted at once: finish() waits for it
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:       # the loading thread's end: left for it
                self.queue.put(None)
                return False
            self.loading += 1
        try:
            self._load(item, Exception)   # Ctrl-C in the reading thread is not a refused band
        finally:
            with self.loaded:
                self.loading -= 1
                self.loaded.notify_all()
        return True

    def _load(self, item, refused=BaseException) -> None:
        if self.stop or self.failed:
            self.slots.release()
            return
        index, pieces, tail = item
        try:
            self.frames[index] = self._frame(index, pieces, tail)
        except refused:   # calamine refuses a band: the sheet is loaded, and refused, whole
            self.failed = True
        finally:
            pieces.clear()
            self.slots.release()

    def _frame(self, index: int, pieces: list, tail: bytes | None) -> pl.DataFrame:
        first_row, last_row = self.rows[index]
        lead = [_mark_row(first_row - 1)] if index else []
        end = [tail] if tail is not None else [_mark_row(last_row + 1), _TAIL_START, b"</worksheet>"]
        data = _package(self.parts, self.part, [self.head, *lead, *pieces, *end])
        pieces.clear()
        reader = fastexcel.read_excel(data)
        del data
        frame = reader.load_sheet(self.wname, header_row=None, skip_rows=0 if index == 0 else None,
                                  dtypes="string").to_polars()
        return _kept(frame, first_row, last_row, index, tail is not None)


def load_banded(parts: dict, sheet_part: str, wname: str, pieces: list, first_col: int,
                band_bytes: int | None = None) -> pl.DataFrame | None:
    """One sheet's frame from all its pieces at once (what the reader does while it scans)."""
    loader = BandLoader(parts, sheet_part, wname, band_bytes)
    pieces.reverse()
    while pieces:
        loader.feed(pieces.pop())
    loader.release()
    return loader.finish(first_col)


def _package(parts: dict, sheet_part: str, xml_pieces: list) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
        with z.open(sheet_part, "w", force_zip64=True) as w:
            for p in xml_pieces:
                w.write(p)
    return buf.getvalue()


def _only_mark(frame: pl.DataFrame, i: int) -> bool:
    row = frame.row(i)
    return row[0] == MARK and all(v is None for v in row[1:])


def _kept(frame: pl.DataFrame, first_row: int, last_row: int, index: int, last: bool) -> pl.DataFrame | None:
    """The band's rows without its marker rows, or None when a marker is not where it must be."""
    if not frame.height or not frame.width:
        return None
    if index == 0:
        if last or frame.height != last_row + 1 or not _only_mark(frame, last_row):
            return None
        return frame.slice(0, last_row)
    if not _only_mark(frame, 0):
        return None
    if last:
        body = frame.slice(1)   # ends at the sheet's last stored row, as a whole load does
        return body if body.height else None   # no stored cell after the marker: the end is unknown here
    if frame.height != last_row - first_row + 3 or not _only_mark(frame, frame.height - 1):
        return None
    return frame.slice(1, frame.height - 2)


def _assemble(kept: list, rows: list, first_col: int) -> pl.DataFrame | None:
    """The band frames (marker rows gone) in row order: the columns before the first used one
    (empty) dropped, narrower bands padded, rows between bands with no row element empty."""
    if len(kept) < 2 or any(k is None for k in kept):
        return None
    out = []
    for body in kept:
        if body.width < first_col:
            return None
        if first_col and body.select(pl.any_horizontal(pl.col(body.columns[:first_col]).is_not_null()).any()).item():
            return None
        out.append(body.select(body.columns[first_col:]))
    width = max(f.width for f in out)
    names = [f"__UNNAMED__{j}" for j in range(width)]
    frames, prev_last = [], 0
    for (first_row, last_row), body in zip(rows, out):
        gap = first_row - prev_last - 1
        if gap > 0:
            frames.append(pl.DataFrame({n: pl.Series(n, [None] * gap, dtype=pl.String) for n in names}))
        body = body.rename(dict(zip(body.columns, names[:body.width])))
        if body.width < width:
            body = body.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in names[body.width:])
        frames.append(body.select(pl.col(n).cast(pl.String) for n in names))
        prev_last = last_row
    return pl.concat(frames, rechunk=False)


def copied_parts(zf: zipfile.ZipFile, members: list) -> dict | None:
    """The package parts a band copy needs (every part but the sheets, images and other large
    parts), or None when the package has two entries of one name (calamine's choice among them
    is not copied here)."""
    names = [i.filename.lower() for i in members]
    if len(set(names)) != len(names):
        return None
    return {i.filename: zf.read(i) for i in members
            if not _is_sheet_part(i.filename) and not i.is_dir() and i.file_size <= MAX_COPIED_PART}
