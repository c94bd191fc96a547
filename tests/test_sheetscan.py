"""The streamed sheet scan (monitor/workbook/sheetscan.py) and the parallel sheet load
(monitor/workbook/load.py): a sheet part is never held whole, yet every scan finds exactly what
it finds over the whole XML; the largest sheet loads in a second thread, yet the frames, and the
refusal a workbook with two problems gets, are the same as one sheet after another."""

from __future__ import annotations

import random
import re
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz.xlsx import edit_sheet  # noqa: E402
from monitor.workbook import load, sheetscan  # noqa: E402
from monitor.workbook.reader import Limits, WorkbookError, read_workbook  # noqa: E402
from monitor.workbook.sheetscan import SheetScan, check_extent, pieces, scan_sheet_xml  # noqa: E402

SMALL = ROOT / "fuzz" / "corpus" / "small_study.xlsx"
DEMO = ROOT / "sample_sheets" / "demo_study.xlsx"


def _sheet(rows: int, prefix: str = "", first: str = "B", extra: bytes = b"") -> bytes:
    """A sheet of `rows` rows starting in column `first`, every 97th with a formula and no saved
    value (its cell in column C), every 89th with a formula and a value; tags with `prefix`."""
    p = prefix.encode()
    out = [b'<?xml version="1.0"?><%sworksheet xmlns%s="http://schemas.openxmlformats.org/spreadsheetml/2006/'
           b'main" xmlns:r="http://x/r"><%ssheetData>' % (p, (b":" + p[:-1]) if p else b"", p)]
    for i in range(1, rows + 1):
        cells = [b'<%sc r="%s%d" t="inlineStr"><%sis><%st>s%d</%st></%sis></%sc>'
                 % (p, first.encode(), i, p, p, i, p, p, p)]
        if i % 97 == 0:
            cells.append(b'<%sc r="C%d"><%sf>SUM(A1:A2)</%sf></%sc>' % (p, i, p, p, p))
        elif i % 89 == 0:
            cells.append(b'<%sc r="C%d"><%sf>1+1</%sf><%sv>2</%sv></%sc>' % (p, i, p, p, p, p, p))
        else:
            cells.append(b'<%sc r="C%d"><%sv>%d</%sv></%sc>' % (p, i, p, i, p, p))
        out.append(b'<%srow r="%d">%s</%srow>' % (p, i, b"".join(cells), p))
    out.append(extra + b"</%ssheetData></%sworksheet>" % (p, p))
    return b"".join(out)


def _chunks(data: bytes, seed: int):
    """`data` in chunks of random sizes (1 byte to 3 kB), as zipfile may hand them over."""
    rnd, i = random.Random(seed), 0
    while i < len(data):
        n = rnd.randint(1, 3000)
        yield data[i:i + n]
        i += n


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_pieces_rejoin_to_the_part_and_each_starts_at_a_cell_or_row(prefix):
    xml = _sheet(3000, prefix)
    for seed in range(3):
        got = list(pieces(_chunks(xml, seed), piece_bytes=20_000))
        assert b"".join(got) == xml
        assert len(got) > 5
        assert all(re.match(rb"<(?:\w+:)?(?:c|row)[\s>/]", p) for p in got[1:]), [p[:20] for p in got]


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_the_streamed_scan_finds_what_the_whole_part_scan_finds(prefix):
    xml = _sheet(3000, prefix, first="B")
    whole = scan_sheet_xml(xml)   # one piece: the part is smaller than PIECE_BYTES
    assert whole == (1, [f"C{i}" for i in range(97, 3001, 97)])
    for seed in range(3):
        scan = SheetScan(Limits())
        for p in pieces(_chunks(xml, seed), piece_bytes=5_000):
            scan.feed(p)
        assert scan.finish() == whole


def test_formula_cells_of_a_large_part_are_found_as_without_the_batch_search(monkeypatch):
    """Over 1 MB a batch of pieces is first searched for the formula tag at once (polars'
    memmem, sheetscan._may_contain); only pieces holding it are read one by one. The formula
    cells found, and their order, are those the piece-by-piece search finds."""
    xml = _sheet(30_000, first="B")
    assert len(xml) > 2 * sheetscan._PREFILTER_BYTES

    def scanned():
        scan = SheetScan(Limits())
        for p in pieces(_chunks(xml, 4), piece_bytes=200_000):
            scan.feed(p)
        return scan.finish()
    fast = scanned()
    assert fast == (1, [f"C{i}" for i in range(97, 30_001, 97)])
    monkeypatch.setattr(sheetscan, "_PREFILTER_BYTES", 1 << 62)
    assert scanned() == fast


def test_a_large_batch_is_copied_into_polars_once_for_both_searches(monkeypatch):
    """The formula search and the far-reference search of a batch over 1 MB share one polars
    copy of its pieces (sheetscan._as_series): a copy of a 180 MB sheet costs ~0.15 s. What they
    find is unchanged."""
    xml = _sheet(30_000, first="B")
    made = []
    real = sheetscan._as_series
    monkeypatch.setattr(sheetscan, "_as_series", lambda batch: made.append(len(batch)) or real(batch))
    scan = SheetScan(Limits())
    for p in pieces(_chunks(xml, 5), piece_bytes=200_000):
        scan.feed(p)
    assert scan.finish() == (1, [f"C{i}" for i in range(97, 30_001, 97)])
    assert len(made) == 1 and made[0] > 1


def test_a_value_in_column_a_in_a_late_piece_moves_the_first_column():
    xml = _sheet(2000, first="B", extra=b'<row r="2001"><c r="A2001"><v>1</v></c></row>')
    scan = SheetScan(Limits())
    for p in pieces(_chunks(xml, 1), piece_bytes=5_000):
        scan.feed(p)
    assert scan.finish()[0] == 0


def test_a_first_column_beyond_z_is_found_across_pieces():
    xml = _sheet(2000, first="AC")
    scan = SheetScan(Limits())
    for p in pieces(_chunks(xml, 2), piece_bytes=5_000):
        scan.feed(p)
    assert scan.finish()[0] == 2   # column C (the formulas and values) is the first used one


@pytest.mark.parametrize("far, words", [
    (b'<row r="1000001"><c r="A1000001"><v>1</v></c></row>', "reaches row 1,000,001"),
    (b'<row r="5"><c r="AAA5"><v>1</v></c></row>', "reaches column AAA"),
])
def test_a_reference_beyond_a_limit_in_the_last_piece_is_refused_as_in_the_whole_part(far, words):
    xml = _sheet(3000, extra=far)
    with pytest.raises(WorkbookError) as whole:
        check_extent(xml, Limits(), "wb.xlsx", "Labs")
    scan = SheetScan(Limits(), "wb.xlsx", "Labs")
    with pytest.raises(WorkbookError) as streamed:
        for p in pieces(_chunks(xml, 3), piece_bytes=5_000):
            scan.feed(p)
        scan.finish()
    assert str(whole.value) == str(streamed.value) and words in str(whole.value)


def test_a_wide_sheet_gets_the_second_pass_for_its_lower_row_limit():
    """30,000,000 cells / 100 columns = 300,000 rows: a reference to row 400,000 in a sheet that
    reaches column CV passes the first pass (1,000,000 rows) and is refused by the second."""
    xml = _sheet(200, extra=b'<row r="3"><c r="CV3"><v>1</v></c></row><row r="400000"><c r="A400000">'
                             b'<v>1</v></c></row>')
    scan = SheetScan(Limits(), "wb.xlsx", "Tumor")
    for p in pieces([xml], piece_bytes=2_000):
        scan.feed(p)
    scan.finish()
    assert scan.needs_second_pass()
    with pytest.raises(WorkbookError, match="reaches row 400,000 and column CV"):
        for p in pieces([xml], piece_bytes=2_000):
            scan.feed_second(p)
        scan.finish_second()


def test_damaged_xml_without_cut_points_is_cut_in_linear_time():
    """8 MB of `<x` and no cell or row start: one growing piece, each byte looked at once (a
    backward search from the end of the buffer at every chunk would be quadratic: minutes)."""
    data = b"<x" * (4 << 20)
    t0 = time.process_time()
    got = list(pieces((data[i:i + 65536] for i in range(0, len(data), 65536)), piece_bytes=1 << 20))
    assert got == [data]
    assert time.process_time() - t0 < 3


# ---------------------------------------------------------------- the parallel load

def _frames(wb):
    return {n: s.frame for n, s in wb.sheets.items()}


@pytest.mark.parametrize("path", [DEMO, SMALL])
def test_the_background_load_reads_the_same_workbook_as_one_sheet_after_another(monkeypatch, path):
    parallel = read_workbook(path)
    monkeypatch.setattr(load, "BACKGROUND", False)
    serial = read_workbook(path)
    assert list(parallel.sheets) == list(serial.sheets)
    for name, frame in _frames(serial).items():
        assert parallel.sheets[name].frame.equals(frame), name
    assert (parallel.study, parallel.formula_cells, parallel.sheet_names) == \
        (serial.study, serial.formula_cells, serial.sheet_names)


def _two_problems(tmp_path) -> Path:
    """Cycles and Labs (the largest sheet, loaded in the background) each over --max-cell-chars."""
    def long_cell(xml):
        return xml.replace(b"</row>", b'<c r="Z2" t="inlineStr"><is><t>' + b"x" * 50 + b"</t></is></c></row>", 2)
    data = edit_sheet(edit_sheet(SMALL.read_bytes(), "Labs", long_cell), "Cycles", long_cell)
    p = tmp_path / "two.xlsx"
    p.write_bytes(data)
    return p


def test_two_refused_sheets_name_the_first_in_contract_order_and_leave_no_thread(tmp_path):
    path = _two_problems(tmp_path)
    before = threading.active_count()
    with pytest.raises(WorkbookError, match=r"cell Cycles!Z2 holds 50 characters"):
        read_workbook(path, limits=Limits(max_cell_chars=40))
    assert threading.active_count() == before


def test_a_refusal_while_the_largest_sheet_loads_waits_for_it(tmp_path, monkeypatch):
    """A later part over a limit is found while the largest sheet is loading: the error is raised
    once that thread has ended (nothing runs on after read_workbook returns or raises)."""
    started = []
    real = load._Background.__init__

    def spy(self, *a, **k):
        real(self, *a, **k)
        started.append(self)
    monkeypatch.setattr(load._Background, "__init__", spy)
    data = edit_sheet(SMALL.read_bytes(), "AdverseEvents",
                      lambda xml: xml.replace(b"</sheetData>", b'<row r="99"><c r="A99"><v>1</v></c></row>'
                                                               b"</sheetData>"))
    p = tmp_path / "late.xlsx"
    p.write_bytes(data)
    with pytest.raises(WorkbookError, match="--max-rows"):
        read_workbook(p, limits=Limits(max_rows=50))
    assert all(not b.thread.is_alive() for b in started)


def test_a_large_part_inflated_ahead_gives_its_error_after_its_chunks():
    """A part of 8 MB or more is inflated by a second thread (load._prefetched): its chunks come
    in order, and the inflate's error (over the unpacked budget, a damaged stream) after them."""
    def chunks():
        yield b"a"
        yield b"b"
        raise WorkbookError("wb.xlsx: unpacks to more than the limit of 1 MB (--max-unpacked-mb); refused")
    it = load._prefetched(chunks())
    assert [next(it), next(it)] == [b"a", b"b"]
    with pytest.raises(WorkbookError, match="--max-unpacked-mb"):
        next(it)


def test_a_consumer_that_stops_early_stops_the_inflating_thread():
    before = threading.active_count()

    def endless():
        while True:
            yield b"x" * 1000
    it = load._prefetched(endless(), depth=2)
    assert next(it) == b"x" * 1000
    it.close()   # a refusal: the scan stops reading
    assert threading.active_count() == before


def test_the_largest_sheet_is_scanned_first_yet_an_earlier_refused_sheet_is_named(monkeypatch):
    """small_study's Labs part is its largest: it is scanned (and would start loading) first.
    With --max-rows 10 both Cycles (11 rows) and Labs (16) are over; the refusal names Cycles,
    the first in the zip, as when every part was scanned in zip order."""
    import zipfile

    scanned = []
    real = load._scan_part

    def spy(zf, info, *a, **k):
        scanned.append(info.filename)
        return real(zf, info, *a, **k)
    monkeypatch.setattr(load, "_scan_part", spy)
    with zipfile.ZipFile(SMALL) as zf:
        sizes = {i.filename: i.file_size for i in zf.infolist() if i.filename.startswith("xl/worksheets/")}
    with pytest.raises(WorkbookError, match=r"sheet 'Cycles' reaches row 11"):
        read_workbook(SMALL, limits=Limits(max_rows=10))
    assert scanned[0] == max(sizes, key=sizes.get)
