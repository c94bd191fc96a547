"""From a workbook's bytes to one raw text frame per contract sheet: every part inflated and
checked once, then calamine (fastexcel) loads the sheets. Split out of reader.py.

Order of work, and why:

1. workbook.xml and its relations (which part is which sheet), then every part that is not a
   sheet (shared strings, styles, images ...): each is inflated once and counted against the
   unpacked budget, and the shared strings table is checked, before calamine opens the file
   (it reads those parts when it opens it).
2. the sheet parts, each streamed through the sheet scan (its extent against the limits, first
   used column, formulas without a saved value) before calamine may build its grid: the
   largest contract sheet first, then the others in zip order (a refusal names the first
   refused part in zip order, whatever was scanned first). As soon as the largest has passed,
   a second thread starts loading it with its own calamine reader (calamine releases the GIL),
   while this thread scans the other parts and loads the other sheets: a study's Labs sheet is
   most of the workbook, so the whole load takes about as long as that one sheet.
3. the loaded frames are checked (check_frame) and any refusal is raised in the contract's sheet
   order, so a workbook with two problems always gets the same message.
"""

from __future__ import annotations

import ctypes
import queue
import threading

import fastexcel
import polars as pl

from .container import (WorkbookError, Limits, _ZIP_ERRORS, _read_capped, stream_capped, sheet_parts,
                        _WORKBOOK_PARTS, _PARSED_PARTS, check_shared_strings, _is_sheet_part, _short)
from . import bands
from .sheetscan import _ONE_LETTER_COLUMNS, SheetScan, check_frame, pieces

BACKGROUND = True   # load the largest contract sheet in a second thread (tests compare with False)
BANDS = True        # ... in row bands when its part is very large (bands.py; tests compare with False)


def load_sheet_frame(reader, name: str) -> pl.DataFrame:
    sheet = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
    return sheet.to_polars()


def _reraise_if_not_calamine(e: BaseException) -> None:
    """calamine reports a damaged file as an exception, or (a Rust panic) as pyo3's
    PanicException, which derives from BaseException: both mean unreadable. Anything else
    (KeyboardInterrupt, SystemExit) goes on."""
    if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
        raise e


class _Background:
    """One sheet loaded by calamine in a second thread, with its own reader; in row bands
    (bands.py) when the scan fed a very large part to a BandLoader (`banded`: the loader and
    the sheet's first used column)."""

    def __init__(self, data: bytes, sname: str, wname: str, banded=None):
        self.sname, self.wname, self.result, self.banded = sname, wname, None, banded
        self.loader = banded[0] if banded is not None else None
        self.thread = threading.Thread(target=self._run, args=(data,), name="monitor-sheet-load", daemon=True)
        self.thread.start()

    def _run(self, data: bytes) -> None:
        try:
            frame = None
            if self.banded is not None:
                loader, first_col = self.banded
                self.banded = None
                frame = loader.finish(first_col)
            self.result = frame if frame is not None else load_sheet_frame(fastexcel.read_excel(data), self.wname)
        except BaseException as e:   # kept, and raised (or not) by the reading thread in sheet order
            self.result = e

    def get(self, help: bool = False):
        if help and self.loader is not None:
            self.loader.help()   # the bands still waiting load here too, not only in the loading thread
        self.thread.join()
        return self.result


class Loaded:
    """The raw frames of the contract sheets (`matched`: contract name -> workbook sheet name).
    `early()` lists the sheets that can be built while the background sheet is still loading;
    `wait()` finishes it and raises the first refusal in contract order."""

    def __init__(self, path, limits, names, matched, parts, scans, outcome, background):
        self.path, self.limits, self.names, self.matched = path, limits, names, matched
        self.parts, self.scans, self.outcome, self.background = parts, scans, outcome, background

    def early(self) -> list[str]:
        """Contract sheets loaded here, with no refusal before any of them (else: none, so
        nothing is built from a workbook that will be refused)."""
        if any(isinstance(o, BaseException) for o in self.outcome.values()):
            return []
        bg = self.background.sname if self.background else None
        return [s for s in self.matched if s != bg]

    def loading(self) -> bool:
        """Whether the background sheet is still loading (early sheets are worth building now)."""
        return self.background is not None and self.background.thread.is_alive()

    def wait(self) -> None:
        bg = self.background
        if bg is not None:
            result = bg.get(help=True)
            wname = self.matched[bg.sname]
            self.outcome[bg.sname] = _checked(result, self.scans[bg.sname][0], self.limits, self.path, wname)
            self.background = None
        _give_back_memory()
        for sname in self.matched:
            if isinstance(self.outcome[sname], BaseException):
                raise self.outcome[sname]

    def frame(self, sname: str) -> pl.DataFrame:
        return self.outcome[sname]

    def close(self) -> None:
        if self.background is not None:   # refused while it loads: let it end (its sheet passed the scan)
            self.background.get()
            self.background = None


def _give_back_memory() -> None:
    """calamine builds a sheet as millions of small allocations in glibc's heap; freed, they stay
    in the process (~150 MB after a 600,000-row sheet) unless malloc_trim hands the free pages
    back. A no-op where the C library has no malloc_trim."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _checked(result, first_col: int, limits: Limits, path, wname: str):
    """A loaded frame after check_frame, or the WorkbookError to raise for it."""
    if isinstance(result, BaseException):
        _reraise_if_not_calamine(result)
        return WorkbookError(f"{path}: sheet {wname!r} cannot be read ({_short(result)})")
    try:
        check_frame(result, first_col, limits, path, wname)
    except WorkbookError as e:
        return e
    return result


def load_sheets(snap, zf, limits: Limits, match_sheets, contract_order) -> Loaded:
    """Scan every part of the open container `zf` (over `snap`'s bytes) and load the contract
    sheets. Raises WorkbookError for an unreadable file, a missing required sheet or a limit
    crossed before loading; refusals of loaded sheets come from Loaded.wait()."""
    path = snap.path
    budget = [limits.max_unpacked_mb * 1024 * 1024, limits.max_unpacked_mb]
    background = None
    try:
        parts = sheet_parts(zf, budget)
        predicted, by_part = match_sheets(list(parts)), {}
        for sname, wname in predicted.items():
            by_part.setdefault(parts[wname][0].lower(), []).append(sname)
        part_names = {t.lower(): n for n, (t, _) in reversed(list(parts.items()))}
        members = [i for i in zf.infolist()
                   if not (i.filename in _WORKBOOK_PARTS and zf.getinfo(i.filename) is i)]  # read by sheet_parts
        for info in members:
            if _is_sheet_part(info.filename):
                continue
            left = budget[0]
            try:
                head = _read_capped(zf, info, budget, keep=False)
            except _ZIP_ERRORS as e:
                if info.filename.lower() in _PARSED_PARTS:
                    raise WorkbookError(f"{path}: part {info.filename!r} is damaged ({_short(e)})") from None
                continue   # an image or another part nothing here parses: counted up to the damage
            if info.filename.lower() == "xl/sharedstrings.xml":   # calamine matches names ignoring case
                check_shared_strings(head, int(left - budget[0]), path)
        scans, owner = {}, {i.filename.lower(): i for i in members}   # calamine ignores case; the last entry wins
        # every part calamine could load as a sheet (duplicate zip entries included), in zip order
        # (two sheets over a limit: the first is named); the largest contract sheet starts
        # loading as soon as it has passed
        sheet_infos = [i for i in members if _is_sheet_part(i.filename)]
        contract = [i for i in sheet_infos if owner[i.filename.lower()] is i and by_part.get(i.filename.lower())]
        largest = (max(contract, key=lambda i: i.file_size)
                   if BACKGROUND and len(predicted) > 1 and contract else None)
        def scan(info, loader=None):
            first = _scan_part(zf, info, budget, limits, path, part_names.get(info.filename.lower(), info.filename),
                               loader)
            for sname in by_part.get(info.filename.lower(), ()) if owner[info.filename.lower()] is info else ():
                scans[sname] = first

        if largest is not None:   # scanned first, so it starts loading at once
            loader = None
            if BANDS and largest.file_size >= bands.MIN_PART_BYTES:
                copied = bands.copied_parts(zf, zf.infolist())
                sname = by_part[largest.filename.lower()][0]
                loader = bands.BandLoader(copied, largest.filename, predicted[sname]) if copied is not None else None
            try:
                scan(largest, loader)
            except BaseException as refused:
                if loader is not None:
                    loader.abandon()
                if not isinstance(refused, WorkbookError):
                    raise
                # a part before it in the zip may be refused first
                for info in sheet_infos[:sheet_infos.index(largest)]:
                    scan(info)
                raise refused from None
            sname = by_part[largest.filename.lower()][0]
            banded = (loader, scans[sname][0]) if loader is not None else None
            background = _Background(snap.data, sname, predicted[sname], banded)
        for info in sheet_infos:
            if info is not largest:
                scan(info)
        try:
            reader = fastexcel.read_excel(snap.data)
            names = list(reader.sheet_names)
        except BaseException as e:  # calamine's errors are one exception type per cause; all mean unreadable
            _reraise_if_not_calamine(e)
            raise WorkbookError(f"{path}: not a readable .xlsx workbook ({_short(e)})") from None
        matched = match_sheets(names)
        missing = [s.name for s in contract_order if s.required and s.name not in matched]
        if missing:
            raise WorkbookError(f"{path}: required sheet{'s' if len(missing) > 1 else ''} missing: "
                                f"{', '.join(missing)} (found: {', '.join(names) or 'none'})")
        if background is not None and matched.get(background.sname) != background.wname:
            background.get(help=True)      # calamine names the sheets otherwise: load it here instead
            background = None
        outcome, todo = {}, []
        for sname, wname in matched.items():
            if predicted.get(sname) != wname or sname not in scans:
                scans[sname] = (0, [])  # no part, or calamine names the sheets otherwise
            if background is not None and sname == background.sname:
                outcome[sname] = None   # still loading
                continue
            todo.append((sname, wname, owner[parts[wname][0].lower()].file_size
                         if wname in parts and parts[wname][0].lower() in owner else 0))
        results = _load_all(reader, snap.data, todo)
        for sname, wname, _ in todo:
            outcome[sname] = _checked(results[sname], scans[sname][0], limits, path, wname)
    except BaseException:
        if background is not None:
            background.get()
        raise
    return Loaded(path, limits, names, matched, parts, scans, outcome, background)


PAIR_BYTES = 8 << 20   # sheets to load (their parts' sizes) from which a second thread helps (_load_all)


def _load_all(reader, data: bytes, todo: list) -> dict:
    """Sheet name -> its frame, or the exception loading it raised, for `todo` ((name, workbook
    name, part size), all scanned). From PAIR_BYTES of parts on, a second thread with its own
    calamine reader loads beside this one, the largest sheets first: on a study these are the
    sheets after Labs (cycles, adverse events, vital signs ...: ~0.45 s loaded one after the
    other), and the band thread is done with Labs before them. Below that, one after the other:
    a thread costs more than a site workbook's sheets."""
    results: dict = {}
    waiting = sorted(todo, key=lambda t: -t[2])
    lock = threading.Lock()

    def run(rdr) -> None:
        while True:
            with lock:
                if not waiting:
                    return
                sname, wname, _ = waiting.pop(0)
            try:
                results[sname] = load_sheet_frame(rdr, wname)
            except BaseException as e:   # kept, raised (or not) in sheet order by the caller
                results[sname] = e

    helper = None
    if len(todo) > 1 and sum(t[2] for t in todo) >= PAIR_BYTES:
        def second() -> None:
            try:
                rdr = fastexcel.read_excel(data)
            except BaseException:        # this thread's own reader failed: the first loads all
                return
            run(rdr)

        helper = threading.Thread(target=second, name="monitor-sheet-load-2", daemon=True)
        helper.start()
    try:
        run(reader)
    finally:
        if helper is not None:
            helper.join()
    return results


def _scan_part(zf, info, budget: list, limits: Limits, path, sheet: str, loader=None) -> tuple[int, list]:
    """Stream one sheet part through the sheet scan (a second inflate only for a sheet wider
    than Z, whose row limit is lower; those bytes were counted by the first). With `loader` (a
    bands.BandLoader), the pieces of the first pass are fed to it too, and each band it cuts
    may load once the scan has checked its pieces."""
    scan = SheetScan(limits, path, sheet)
    chunks = stream_capped(zf, info, budget)
    if info.file_size >= PREFETCH_BYTES:
        chunks = _prefetched(chunks)
    try:
        for piece in pieces(chunks):
            scan.feed(piece)
            if loader is not None and loader.feed(piece):
                scan.check_now()
                loader.release(wide=scan.max_col > _ONE_LETTER_COLUMNS)
        result = scan.finish()
        if scan.needs_second_pass():
            for piece in pieces(stream_capped(zf, info, [float("inf"), budget[1]])):
                scan.feed_second(piece)
            scan.finish_second()
    except _ZIP_ERRORS as e:
        raise WorkbookError(f"{path}: part {info.filename!r} is damaged ({_short(e)})") from None
    return result


PREFETCH_BYTES = 8 << 20   # a sheet part at least this large is inflated in a second thread


def _prefetched(chunks, depth: int = 8):
    """The items of the iterator `chunks`, produced by a second thread up to `depth` ahead: zlib
    inflates without the GIL, so a large part is inflated while this thread scans the chunks
    before (~0.7 s of a 180 MB sheet's 1.7 s). An exception in the producer is raised here, in
    order; when the consumer stops early (a refusal), the producer stops too and is joined."""
    q: queue.Queue = queue.Queue(depth)
    stop, end = threading.Event(), object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for c in chunks:
                if not put(c):
                    return
            put(end)
        except BaseException as e:   # raised by the consumer, in order
            put(e)

    t = threading.Thread(target=run, name="monitor-inflate", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join()
