"""The banded load of a very large sheet (monitor/workbook/bands.py): cut into row bands, loaded
band by band and put back together, a sheet gives exactly the frame calamine gives for the whole
sheet; and whatever the bands cannot place for certain (rows out of order, a cell outside its
row, a namespace prefix) is loaded whole instead, never guessed."""

from __future__ import annotations

import datetime
import io
import sys
import threading
import zipfile
from pathlib import Path

import fastexcel
import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz.xlsx import edit_sheet  # noqa: E402
from monitor.workbook import bands, load  # noqa: E402
from monitor.workbook.container import Limits, sheet_parts  # noqa: E402
from monitor.workbook.reader import WorkbookError, read_workbook  # noqa: E402
from monitor.workbook.sheetscan import pieces  # noqa: E402

SAMPLES = sorted((ROOT / "sample_sheets").glob("*.xlsx")) + [ROOT / "fuzz" / "corpus" / "small_study.xlsx",
                                                              ROOT / "fuzz" / "corpus" / "hostile_text.xlsx"]


def _banded(data: bytes, sheet: str, band_bytes: int, whole: bool = True):
    """(banded frame or None, whole frame or None) of one sheet, cut into pieces and bands of a
    few hundred bytes so that even a small sheet has many bands."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    part = sheet_parts(zf, [1 << 40, 1e9])[sheet][0]
    info = zf.getinfo(part)
    first_col, _ = load._scan_part(zf, info, [1 << 40, 1e9], Limits(1e9), "x.xlsx", sheet)
    xml = zf.read(info)
    step = max(64, band_bytes // 4)
    kept = list(pieces([xml[i:i + step] for i in range(0, len(xml), step)], step))
    whole = load.load_sheet_frame(fastexcel.read_excel(data), sheet) if whole else None
    got = bands.load_banded(bands.copied_parts(zf, zf.infolist()), info.filename, sheet, kept, first_col, band_bytes)
    return got, whole


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("band_bytes", [300, 2000])
def test_banded_frame_equals_the_whole_sheet_on_every_sample_sheet(path, band_bytes):
    data = path.read_bytes()
    names = fastexcel.read_excel(data).sheet_names
    banded_sheets = 0
    for sheet in names:
        got, whole = _banded(data, sheet, band_bytes)
        if got is None:
            continue
        banded_sheets += 1
        assert got.columns == whole.columns, sheet
        assert got.equals(whole), sheet
    assert banded_sheets >= (len(names) // 2 if band_bytes <= 300 else 1)   # sheets really were cut into bands


def _odd_workbook() -> bytes:
    """Leading empty rows and columns, gaps of empty rows, every kind of cell (empty text, a
    formula with an empty cached value, booleans, dates, times, durations, tiny and huge numbers)
    and a last column that only a few rows reach."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    values = ["", True, False, datetime.datetime(2022, 1, 1, 10, 30, 15, 500000), datetime.time(10, 30),
              1e-7, 1.2345678901234567e19, 0.1 + 0.2, datetime.timedelta(hours=30), "text", 42, -3.5]
    row = 4
    for i in range(400):
        row += 1 + (i % 7 == 0) * 3       # some gaps of empty rows
        ws.cell(row, 3, f"s{i}")
        ws.cell(row, 4, values[i % len(values)])
        if i % 5 == 0:
            ws.cell(row, 5, "=1/0")
        if i % 53 == 0:
            ws.cell(row, 9, i)            # a far column only some bands reach
    ws.cell(row + 3, 4, "last")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("band_bytes", [250, 700, 5000])
def test_banded_frame_equals_the_whole_sheet_with_gaps_odd_cells_and_a_far_column(band_bytes):
    got, whole = _banded(_odd_workbook(), "S", band_bytes)
    assert got is not None
    assert got.columns == whole.columns
    assert got.equals(whole)


def _sheet_xml(data: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")


def _renumber_row(xml: bytes, old: int, new: int) -> bytes:
    """Row `old` (its tag and its cells' references) moved to row `new`, where it stands in the XML."""
    import re

    def fix(m):
        return re.sub(rb'r="([A-Z]+)%d"' % old, lambda c: b'r="%s%d"' % (c.group(1), new),
                      m.group(0).replace(b'<row r="%d"' % old, b'<row r="%d"' % new, 1))
    return re.sub(rb'<row r="%d".*?</row>' % old, fix, xml, count=1, flags=re.S)


def test_rows_out_of_order_across_bands_are_loaded_whole():
    import re

    xml_rows = [int(n) for n in re.findall(rb'<row r="(\d+)"', _sheet_xml(_odd_workbook()))]
    late = xml_rows[len(xml_rows) * 2 // 3]
    data = edit_sheet(_odd_workbook(), "S", lambda x: _renumber_row(x, late, 3))   # a late row numbered 3
    got, whole = _banded(data, "S", 700)
    assert got is None
    assert any(v is not None for v in whole.row(2))   # the whole load has the row where it says


def test_a_cell_outside_its_row_is_loaded_whole():
    def move(xml):   # a cell of row 300 whose reference says row 20
        return xml.replace(b'<c r="C300"', b'<c r="C20"', 1)
    data = edit_sheet(_odd_workbook(), "S", move)
    got, whole = _banded(data, "S", 700)
    assert got is None or got.equals(whole)


def test_a_marker_row_colliding_with_a_cell_is_loaded_whole():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r in range(1, 300):
        ws.cell(r, 1, bands.MARK if r % 10 == 0 else f"v{r}")   # marker text in real cells
    buf = io.BytesIO()
    wb.save(buf)
    got, whole = _banded(buf.getvalue(), "S", 400)
    assert got is None or got.equals(whole)


def test_a_namespace_prefixed_sheet_is_not_cut():
    xml = (b'<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           b"<x:sheetData>" + b"".join(b'<x:row r="%d"><x:c r="A%d"><x:v>%d</x:v></x:c></x:row>' % (i, i, i)
                                       for i in range(1, 500)) + b"</x:sheetData></x:worksheet>")
    kept = list(pieces([xml[i:i + 200] for i in range(0, len(xml), 200)], 200))
    loader = bands.BandLoader({}, "xl/worksheets/sheet1.xml", "S", 500)
    assert not any([loader.feed(p) for p in kept])   # no band is ever cut
    assert loader.finish(0) is None


def test_a_damaged_band_gives_none_so_the_whole_load_names_the_damage():
    data = edit_sheet(_odd_workbook(), "S", lambda x: x.replace(b"<v>42</v>", b"<v>42</x>", 1))
    got, _ = _banded(data, "S", 700, whole=False)
    assert got is None


@pytest.fixture
def small_bands(monkeypatch):
    """The reader bands the largest sheet of any workbook, in pieces of 1 kB and bands of 4 kB;
    yields the list of (banded?, bands) of each BandLoader.finish."""
    calls = []
    real_finish, real_stream, real_pieces = bands.BandLoader.finish, load.stream_capped, load.pieces

    def finish(self, first_col):
        out = real_finish(self, first_col)
        calls.append((out is not None, len(self.rows)))
        return out

    def small_chunks(*a, **k):
        for chunk in real_stream(*a, **k):
            for i in range(0, len(chunk), 512):
                yield chunk[i:i + 512]

    monkeypatch.setattr(bands, "MIN_PART_BYTES", 0)
    monkeypatch.setattr(bands, "BAND_BYTES", 4000)
    monkeypatch.setattr(bands.BandLoader, "finish", finish)
    monkeypatch.setattr(load, "stream_capped", small_chunks)
    monkeypatch.setattr(load, "pieces", lambda chunks: real_pieces(chunks, 1024))
    return calls


def test_read_workbook_is_the_same_with_bands(small_bands):
    """The whole reader, with the largest sheet banded, gives the same sheets as without."""
    path = ROOT / "sample_sheets" / "demo_study.xlsx"
    load.BANDS = False
    try:
        plain = read_workbook(path)
    finally:
        load.BANDS = True
    banded = read_workbook(path)
    assert len(small_bands) == 1 and small_bands[0][0] and small_bands[0][1] > 10   # banded, in many bands
    assert plain.sheets.keys() == banded.sheets.keys()
    for name, sd in plain.sheets.items():
        assert sd.frame.equals(banded.sheets[name].frame), name
        assert sd.columns == banded.sheets[name].columns
    assert (plain.study, plain.formula_cells) == (banded.study, banded.formula_cells)


def _with_late_row(row_xml: bytes) -> bytes:
    return edit_sheet((ROOT / "sample_sheets" / "demo_study.xlsx").read_bytes(), "Labs",
                      lambda x: x.replace(b"</sheetData>", row_xml + b"</sheetData>", 1))


def test_a_refusal_while_bands_load_stops_them_and_gives_the_same_message(small_bands, tmp_path, monkeypatch):
    """A reference beyond the row limit near the end of the largest sheet: bands before it have
    started loading; the refusal is the one the whole load gives, and no thread is left."""
    started = []
    real_frame = bands.BandLoader._frame

    def frame(self, *a):
        started.append(a[0])
        return real_frame(self, *a)
    monkeypatch.setattr(bands.BandLoader, "_frame", frame)
    p = tmp_path / "far.xlsx"
    p.write_bytes(_with_late_row(b'<row r="60000"><c r="A60000"><v>1</v></c></row>'))
    before = threading.active_count()
    with pytest.raises(WorkbookError) as banded:
        read_workbook(p, limits=Limits(max_rows=50000))
    assert started                                   # bands were loading when the scan refused
    assert threading.active_count() == before
    monkeypatch.setattr(load, "BANDS", False)
    with pytest.raises(WorkbookError) as whole:
        read_workbook(p, limits=Limits(max_rows=50000))
    assert str(banded.value) == str(whole.value)
    assert "--max-rows" in str(whole.value)


def test_a_sheet_wider_than_z_holds_its_bands_until_scanned_and_reads_the_same(small_bands, tmp_path):
    """A cell in column AB late in the largest sheet: bands cut after it wait for the whole scan
    (the row limit of a wide sheet is lower); the frames are still the same as a whole load."""
    data = _with_late_row(b'<row r="3000"><c r="AB3000" t="inlineStr"><is><t>wide</t></is></c></row>')
    path = tmp_path / "wide.xlsx"
    path.write_bytes(data)
    banded = read_workbook(path)
    assert small_bands and small_bands[0][0]
    load.BANDS = False
    try:
        plain = read_workbook(path)
    finally:
        load.BANDS = True
    assert banded.sheets["Labs"].frame.equals(plain.sheets["Labs"].frame)
    assert banded.sheets["Labs"].extra == plain.sheets["Labs"].extra


def test_the_scan_loads_bands_itself_while_max_queued_bands_wait(small_bands, monkeypatch):
    """The scan outruns calamine: it may release at most MAX_QUEUED bands that are not loaded
    yet (each is inflated XML held in memory); then, rather than wait, the reading thread loads
    the oldest waiting band itself. The frames are still the same."""
    waiting, most, by = [0], [0], set()
    lock = threading.Lock()
    real_put, real_frame = bands.queue.Queue.put, bands.BandLoader._frame

    class Counted(bands.queue.Queue):
        def put(self, item, *a, **k):
            if item is not None:
                with lock:
                    waiting[0] += 1
                    most[0] = max(most[0], waiting[0])
            return real_put(self, item, *a, **k)

    def slow_frame(self, *a):
        import time
        time.sleep(0.01)       # a slow loader: without the bound every band would be released
        by.add(threading.current_thread().name)
        try:
            return real_frame(self, *a)
        finally:
            with lock:
                waiting[0] -= 1
    monkeypatch.setattr(bands.queue, "Queue", Counted)
    monkeypatch.setattr(bands.BandLoader, "_frame", slow_frame)
    monkeypatch.setattr(bands, "MAX_QUEUED", 2)
    path = ROOT / "sample_sheets" / "demo_study.xlsx"
    banded = read_workbook(path)
    assert small_bands[0][0] and small_bands[0][1] > 10
    assert 1 <= most[0] <= 2 + 1     # MAX_QUEUED released by the scan, + the last one finish() adds
    assert by == {"monitor-band-load", threading.current_thread().name}   # both threads loaded bands
    monkeypatch.setattr(load, "BANDS", False)
    plain = read_workbook(path)
    assert banded.sheets["Labs"].frame.equals(plain.sheets["Labs"].frame)


def test_finish_waits_for_a_band_the_reading_thread_is_still_loading(monkeypatch):
    """help(): the reading thread takes a waiting band; the loading thread ends first (it takes
    the rest and its end mark). finish() must wait for that band, not put the sheet together
    without it (then the sheet would be loaded whole a second time)."""
    import time

    data = (ROOT / "sample_sheets" / "demo_study.xlsx").read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(data))
    part = sheet_parts(zf, [1 << 40, 1e9])["Labs"][0]
    info = zf.getinfo(part)
    first_col, _ = load._scan_part(zf, info, [1 << 40, 1e9], Limits(1e9), "x.xlsx", "Labs")
    xml = zf.read(info)
    whole = load.load_sheet_frame(fastexcel.read_excel(data), "Labs")
    real_frame = bands.BandLoader._frame
    helper_took = threading.Event()

    def frame(self, *a):
        if threading.current_thread().name == "helper":
            helper_took.set()
            time.sleep(0.5)                 # the loading thread is done long before this
        else:
            helper_took.wait(2)             # the helper takes its band first
        return real_frame(self, *a)
    monkeypatch.setattr(bands.BandLoader, "_frame", frame)
    monkeypatch.setattr(bands, "MAX_QUEUED", 10_000)   # no band is loaded by the scan itself here
    loader = bands.BandLoader(bands.copied_parts(zf, zf.infolist()), info.filename, "Labs", 2000)
    for piece in pieces([xml[i:i + 500] for i in range(0, len(xml), 500)], 500):
        loader.feed(piece)
    loader.release()
    assert loader.queue.qsize() >= 3
    helper = threading.Thread(target=loader.help, name="helper")
    helper.start()
    helper_took.wait(2)
    got = loader.finish(first_col)
    helper.join()
    assert got is not None and got.equals(whole)


def test_the_sheets_after_the_largest_load_on_two_threads_with_the_same_frames_and_errors_in_place(monkeypatch):
    # load._load_all: from PAIR_BYTES of parts a second thread with its own reader helps; each
    # sheet's frame (or its exception, raised later in sheet order) must be the one thread's
    data = (ROOT / "sample_sheets" / "demo_study.xlsx").read_bytes()
    reader = fastexcel.read_excel(data)
    todo = [(n, n, 1000 + i) for i, n in enumerate(reader.sheet_names)] + [("Ghost", "No such sheet", 5000)]
    alone = load._load_all(reader, data, todo)          # ~0 bytes of parts: one thread
    seen = set()
    real = load.load_sheet_frame
    monkeypatch.setattr(load, "load_sheet_frame",
                        lambda r, n: (seen.add(threading.current_thread().name), real(r, n))[1])
    monkeypatch.setattr(load, "PAIR_BYTES", 0)
    paired = load._load_all(fastexcel.read_excel(data), data, todo)
    assert "monitor-sheet-load-2" in seen                 # the helper loaded some of them
    assert set(paired) == set(alone) == {t[0] for t in todo}
    for name, frame in alone.items():
        if name == "Ghost":
            assert isinstance(frame, Exception) and type(paired[name]) is type(frame)
        else:
            assert paired[name].equals(frame), name
