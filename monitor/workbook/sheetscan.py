"""The scans of a sheet's raw XML, streamed: the sheet's extent against the resource limits
(before calamine builds its grid), its first used column (calamine drops leading empty columns,
so cell letters need it) and the cells holding a formula without a saved value. Split out of
container.py.

A sheet part is never held whole: it is inflated in chunks and re-cut into pieces that each
start at a cell or row start tag (`<c `, `<row `, with any namespace prefix), so every cell is
whole in one piece and every scan sees exactly what it would see in the whole XML. Memory stays
at a few pieces whatever the sheet's size (a 180 MB sheet used to cost ~1 GB here: the XML, the
join of its chunks and the regex engine's copy of it).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Iterator

import polars as pl

from .container import Limits, WorkbookError, col_index, col_letter

PIECE_BYTES = 4 << 20      # a piece is cut at the last cell or row start after this many bytes
BATCH_BYTES = 32 << 20     # pieces searched together by polars' regex engine (one call, all cores)
_PREFILTER_BYTES = 1 << 20  # less than this in a batch: `re` looks directly

# A cut point: a cell or row start tag. `<cols>`, `<cfRule ...>` and `<col ...>` are not.
_BOUNDARY = rb"<(?:\w+:)?(?:c|row)[\s>/]"
_LAST_BOUNDARY = re.compile(rb"(?s:.*)(" + _BOUNDARY + rb")")   # `.*` backtracks from the end: the last one


def pieces(chunks: Iterable[bytes], piece_bytes: int = PIECE_BYTES) -> Iterator[bytes]:
    """Re-cut `chunks` (a part's inflated bytes, in order) into pieces of about `piece_bytes`
    that each start at a cell or row start tag (the first piece: at the part's start). A cell
    longer than a piece (or damaged XML with no cut point) only makes its piece longer. Each
    byte is looked at for a cut point once, so damaged XML costs linear time."""
    buf = bytearray()
    cut, looked = 0, 0      # last cut point found in buf; buf[:looked] already searched for one
    for chunk in chunks:
        buf += chunk
        end = len(buf)
        m = _LAST_BOUNDARY.match(buf, looked)   # the last cut point in the new bytes (and a few before)
        if m:
            cut = max(cut, m.start(1))
        looked = max(looked, end - 16)   # a tag cut in two by a chunk end is looked at again
        if end >= piece_bytes and cut > 0:
            with memoryview(buf) as mv:
                piece = bytes(mv[:cut])   # one copy (`bytes(buf[:cut])` made two)
            del buf[:cut]
            yield piece
            looked, cut = max(0, looked - cut), 0
    if buf:
        yield bytes(buf)


class SheetScan:
    """Feed a sheet part's pieces in order (`feed`), then `finish`: (first used column index,
    [formula cells without a saved value]). Raises WorkbookError (limits) as soon as a batch of
    pieces shows a cell or row reference beyond them. When the sheet turns out wider than Z,
    `needs_second_pass()` says so and the part is streamed again through `feed_second`."""

    def __init__(self, limits: Limits | None = None, path="", sheet: str = ""):
        self.limits, self.path, self.sheet = limits, path, sheet
        self.rows_over = (min(limits.max_rows, max(1, limits.max_cells // _ONE_LETTER_COLUMNS))
                          if limits else None)
        self.max_col = 0
        self.first_col: int | None = None
        self.formulas: list[str] = []
        self.tag: bytes | None = None
        self.first = True
        self.batch: list[bytes] = []
        self.batch_bytes = 0

    # ------------------------------------------------------------------ first pass
    def feed(self, piece: bytes) -> None:
        if self.tag is None:
            m = _ROOT_PREFIX.search(piece, 0, 4096)
            self.tag = b"<" + (m.group(1) if m and m.group(1) else b"") + b"f"
        if self.first_col != 0:
            col = _first_valued_column(piece, below=1 << 30 if self.first_col is None else self.first_col)
            if col is not None and (self.first_col is None or col < self.first_col):
                self.first_col = col
        self._add(piece, self._flush)

    def _add(self, piece: bytes, flush) -> None:
        """Batch the piece; a full batch is searched (`flush`: its formula cells and, with
        limits, its references beyond them)."""
        self.batch.append(piece)
        self.batch_bytes += len(piece)
        if self.batch_bytes >= BATCH_BYTES:
            flush()

    def _flush(self) -> None:
        """The formula cells of the batch's pieces, in order, and (with limits) its references
        beyond them."""
        batch, self.batch, self.batch_bytes = self.batch, [], 0
        series = _as_series(batch)   # the batch copied into polars once, for both searches
        for piece, may in zip(batch, _may_contain(batch, self.tag, series) if self.tag is not None else ()):
            if may:
                self.formulas.extend(_formula_cells(piece, self.tag))
        if self.limits is None:
            return
        for col, row in _far_refs_in(batch, self.rows_over, True, series):
            self.max_col = max(self.max_col, col)
            if row > self.rows_over or col > self.limits.max_columns:
                _refuse_extent(row, col, self.limits, self.path, self.sheet)
                _refuse_cells(row, _ONE_LETTER_COLUMNS, self.limits, self.path, self.sheet)

    def check_now(self) -> None:
        """Search the pieces fed so far for references beyond the limits now (not when the batch
        is full): what a banded load waits for before a band may load."""
        self._flush()

    def finish(self) -> tuple[int, list]:
        self.check_now()
        return (self.first_col or 0), self.formulas

    # ------------------------------------------------------------------ wide sheets
    def _allowed(self) -> int:
        return self.limits.max_cells // max(self.max_col, _ONE_LETTER_COLUMNS)

    def needs_second_pass(self) -> bool:
        """A sheet wider than Z may hold fewer rows than the first pass looked for."""
        return self.limits is not None and self._allowed() < self.rows_over

    def feed_second(self, piece: bytes) -> None:
        self._add(piece, self.finish_second)

    def finish_second(self) -> None:
        batch, self.batch, self.batch_bytes = self.batch, [], 0
        allowed, width = self._allowed(), max(self.max_col, _ONE_LETTER_COLUMNS)
        for _, row in _far_refs_in(batch, allowed, False):
            if row > allowed:
                _refuse_cells(row, width, self.limits, self.path, self.sheet)


def scan_sheet_xml(xml: bytes) -> tuple[int, list]:
    """From the whole raw sheet XML: the first used column and the cells holding a formula
    without a cached value (the streamed scan over one in-memory part)."""
    scan = SheetScan()
    for piece in pieces([xml]):
        scan.feed(piece)
    return scan.finish()


def check_extent(xml: bytes, limits: Limits, path, sheet: str) -> None:
    """Refuse a sheet whose cell references reach beyond the row, column or cell limits, before
    calamine allocates its grid (the streamed check over one in-memory part). Columns A-Z are
    not read one by one: here a sheet counts as at least 26 columns wide (the check after
    loading is exact)."""
    scan = SheetScan(limits, path, sheet)
    scan.batch = list(pieces([xml]))
    scan._flush()
    if scan.needs_second_pass():
        scan.batch = list(pieces([xml]))
        scan.finish_second()


# Every repetition below stops at the next `<` (or at the next cell's start), so a match attempt
# never runs past its own cell: on a damaged sheet (cells never closed, a tag never ended) a
# lazy `.*?` would run to the end of the XML from every cell, quadratic time (20 s for 150 kB).
# _valued_in(column): a cell of that column holding a value, from its reference (a literal prefix:
# a search that finds nothing costs 0.1 s per 200 MB) through an optional formula to <v> or <is>.
_VALUED_IN_COLUMN = (rb'r="%s\d+"[^<>]*>'
                     rb'(?:<(?:\w+:)?f[^<>]*?/>|<(?:\w+:)?f[^<>]*?>[^<]*</(?:\w+:)?f>)?<(?:\w+:)?(?:v>[^<]|is>)')


@lru_cache(maxsize=26)
def _valued_in(i: int) -> re.Pattern:
    """_VALUED_IN_COLUMN for column i (0 = A), compiled when first needed (a sheet normally
    starts in A or B: compiling all 26 at import cost ~8 ms of every command)."""
    return re.compile(_VALUED_IN_COLUMN % chr(65 + i).encode())


_CELL = re.compile(rb'<(?:\w+:)?c\s([^<>]*?)(?:/>|>((?:[^<]|<(?!(?:\w+:)?c[\s>/]))*?)</(?:\w+:)?c>)')
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_HAS_VALUE = re.compile(rb'<(?:\w+:)?v>[^<]|<(?:\w+:)?is>')
_HAS_FORMULA = re.compile(rb'<(?:\w+:)?f[\s>/]')
_ROOT_PREFIX = re.compile(rb"<(\w+:)?worksheet[\s>]")


def _formula_cells(xml: bytes, tag: bytes) -> list[str]:
    """The cells of one piece holding a formula (tag `<f` or `<x:f`) without a cached value."""
    formulas = []
    for pos in _formula_tags(xml, tag):
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
    return [f for f, _ in formulas]


def _first_valued_column(xml: bytes, below: int = 26) -> int | None:
    """Index of the first column holding a value in this piece, if it is before `below`
    (None: no value, or none that far left): column by column from A (one regex search each,
    stopping at the first hit; a sheet normally starts in A or B), then, past Z, one pass over
    every cell."""
    if not _HAS_VALUE.search(xml):
        return None
    for i in range(min(below, 26)):
        if _valued_in(i).search(xml):
            return i
    if below <= 26:
        return None
    cols = [col_index(m.group(1).decode()) for m in _iter_valued_refs(xml)]
    return min(cols) if cols and min(cols) < below else None


def _as_series(batch: list[bytes]) -> pl.Series | None:
    """The batch's pieces as one polars Binary series (a copy of every byte), or None for a
    batch smaller than _PREFILTER_BYTES (the searches below then let `re` and `bytes.find` look
    directly). Made once per batch and shared by _may_contain and _may_match: a copy of a
    180 MB sheet costs ~0.15 s."""
    if sum(map(len, batch)) < _PREFILTER_BYTES:
        return None
    return pl.Series(batch, dtype=pl.Binary)


def _may_contain(batch: list[bytes], literal: bytes, series: pl.Series | None = None) -> list[bool]:
    """For each piece, whether it contains `literal`: one search of the whole batch by polars
    (Rust's memmem, pieces in parallel; ~10x faster than `bytes.find` on a 180 MB sheet, where
    `<` is every few bytes). `series`: _as_series(batch) when the caller has it. A small batch:
    True (the caller's own search looks)."""
    series = _as_series(batch) if series is None else series
    if series is None:
        return [True] * len(batch)
    return series.bin.contains(literal).to_list()


def _formula_tags(xml: bytes, tag: bytes):
    """Positions of formula tags (`<f>`, `<f ...>`, `<f/>`; `<x:f>` when the sheet uses a
    namespace prefix), in order: `bytes.find` from tag to tag (a regex over a 200 MB sheet takes
    seconds; pieces without the tag are skipped before this, see _may_contain)."""
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


def _far_patterns(rows_over: int, wide: bool) -> tuple[re.Pattern, str]:
    """The `re` pattern of `r` attributes that may name a row above `rows_over` (rows with as
    many digits as `rows_over` and a first digit at least its first digit, or more digits) or,
    when `wide`, a column beyond Z; and a looser one for polars' regex engine that finds at
    least every match of the first (no `^` alternative and no `{n,}`: each makes Rust's regex
    ~3x slower; nor a character class before the `r`: that alone doubles its time. Any number
    of as many digits as `rows_over` is a prefix of every far row number)."""
    n = str(rows_over)
    far = rb"(?:[%s-9]\d{%d}|[1-9]\d{%d,})" % (n[0].encode(), len(n) - 1, len(n))
    loose_far = rb"[1-9]\d{%d}" % (len(n) - 1)
    alts, loose = ([rb"[A-Za-z]{2}"], [rb"[A-Za-z]{2}"]) if wide else ([], [])
    alts.append(rb"[A-Za-z]%s0*%s" % (b"?" if wide else b"*", far))
    loose.append(rb"[A-Za-z]%s0*%s" % (b"?" if wide else b"*", loose_far))
    pat = re.compile(rb"""r\s*=\s*["'](?:""" + b"|".join(alts) + rb")")
    return pat, (rb"""r\s*=\s*["'](?:""" + b"|".join(loose) + rb")").decode("ascii")


def _far_refs_in(batch: list[bytes], rows_over: int, wide: bool, series: pl.Series | None = None):
    """(column number, row number) of the `r` attributes (of cells or rows; quotes and spaces as
    XML allows) in the pieces of `batch` that may name a row above `rows_over` or, when `wide`,
    a column beyond Z, in document order. polars' regex engine (Rust, all cores) first picks
    the pieces that may hold one; `re` reads those.

    A normal sheet has no candidates, so the pass allocates nothing beyond one copy of the batch.
    References count whether or not their cell holds a value (calamine places a cell without a
    reference after the previous one, value or not): an overestimate at worst.
    """
    pat, loose = _far_patterns(rows_over, wide)
    for piece, may in zip(batch, _may_match(batch, loose, series)):
        if not may:   # the loose pattern finds every match of `pat` (_far_patterns)
            continue
        for m in pat.finditer(piece):
            at = m.start()
            if at and piece[at - 1] not in b" \t\r\n":
                continue  # the end of another attribute's name (`x:r`, `ver`): not a cell reference
            attr = _REF_ATTR.match(piece, at)
            parts = _REF_PARTS.fullmatch(attr.group(1)) if attr else None
            if parts:
                letters = parts.group(1).decode().upper()
                yield (col_index(letters) + 1 if letters else 0), int(parts.group(2) or 0)


def _may_match(batch: list[bytes], pattern: str, series: pl.Series | None = None) -> list[bool]:
    """For each piece, whether `pattern` may match in it: polars' regex engine (Rust, ~4x faster
    than `re` here, pieces searched in parallel) looks. Its `\\s` and `\\d` take Unicode
    whitespace and digits too, so it finds at least every match `re` finds: no match there
    means none here. `series`: _as_series(batch) when the caller has it. A piece that is not
    UTF-8, or a small batch: True (let `re` look)."""
    series = _as_series(batch) if series is None else series
    if series is None:
        return [True] * len(batch)
    try:
        return [bool(v) for v in series.cast(pl.String).str.contains(pattern)]
    except Exception:   # a piece is not UTF-8 (polars raises ComputeError): piece by piece, those to `re`
        return [_may_match_one(piece, pattern) for piece in batch]


def _may_match_one(piece: bytes, pattern: str) -> bool:
    try:
        return bool(pl.Series([piece], dtype=pl.Binary).cast(pl.String).str.contains(pattern).item())
    except Exception:
        return True


def _column_name(n: int) -> str:
    return col_letter(n - 1) if n <= 16384 else "beyond XFD"


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
