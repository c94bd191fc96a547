"""Resource limits: unpacked size, rows, columns, cells and cell length. Each is an option of
check, annotate and export, and a workbook over one is exit 2 with one line naming the file,
the limit and its option, decided before the data it guards is built."""

from __future__ import annotations

import re
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz.xlsx import Package, append_rows, edit, edit_sheet  # noqa: E402
from monitor.check import check_workbook  # noqa: E402
from monitor.cli import app  # noqa: E402
from monitor.workbook.reader import Limits, WorkbookError  # noqa: E402

SMALL = ROOT / "fuzz" / "corpus" / "small_study.xlsx"   # 3 subjects, clean; Cycles A1:I11, Labs A1:H16,
#                                                          AdverseEvents A1:P4


def cli(*args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


def variant(tmp_path, name, data: bytes) -> Path:
    p = tmp_path / f"{name}.xlsx"
    p.write_bytes(data)
    return p


def assert_refused(r, path, option, *words):
    assert r.exit_code == 2, r.stdout + r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"monitor: {path}"), line
    assert f"({option})" in line, line
    for w in words:
        assert w in line, line


# ---------------------------------------------------------------- rows, columns, cells

def test_default_limits_accept_the_sample_workbooks(tmp_path):
    for wb in (SMALL, ROOT / "sample_sheets" / "demo_study.xlsx", ROOT / "sample_sheets" / "messy_site.xlsx"):
        assert cli("check", wb, "--out", tmp_path / wb.stem).exit_code in (0, 1)


def test_rows_beyond_max_rows_are_refused_before_reading(tmp_path):
    r = cli("check", SMALL, "--max-rows", 10, "--out", tmp_path / "o")
    assert_refused(r, SMALL, "--max-rows", "sheet 'Cycles'", "row 11", "limit of 10 rows", "before reading")
    assert not (tmp_path / "o").exists()
    assert cli("check", SMALL, "--max-rows", 16, "--out", tmp_path / "o").exit_code == 0


def test_rows_without_references_are_counted_after_loading(tmp_path):
    """Rows and cells without `r` attributes are placed one after another: no reference to scan,
    so the loaded sheet's own size decides."""
    data = edit_sheet(SMALL.read_bytes(), "Labs", lambda xml: re.sub(rb'\sr="[^"]*"', b"", xml))
    path = variant(tmp_path, "no-refs", data)
    r = cli("check", path, "--max-rows", 15, "--out", tmp_path / "o")
    assert_refused(r, path, "--max-rows", "sheet 'Labs' reaches row 16")
    assert "before reading" not in r.stderr


def test_columns_beyond_max_columns_are_refused_after_loading_naming_the_column(tmp_path):
    r = cli("check", SMALL, "--max-columns", 15, "--out", tmp_path / "o")
    assert_refused(r, SMALL, "--max-columns", "sheet 'AdverseEvents'", "column P (16)", "limit of 15 columns")
    assert cli("check", SMALL, "--max-columns", 16, "--out", tmp_path / "o").exit_code == 0


def test_columns_beyond_z_are_refused_before_reading(tmp_path):
    data = edit_sheet(SMALL.read_bytes(), "Labs", append_rows(b'<row r="20"><c r="AB20"><v>1</v></c></row>'))
    path = variant(tmp_path, "wide", data)
    r = cli("check", path, "--max-columns", 27, "--out", tmp_path / "o")
    assert_refused(r, path, "--max-columns", "sheet 'Labs'", "column AB (28)", "before reading")


def test_cells_beyond_max_cells_are_refused(tmp_path):
    # the first check counts a sheet as at least 26 columns wide: row 10 x 26 > 250
    r = cli("check", SMALL, "--max-cells", 250, "--out", tmp_path / "o")
    assert_refused(r, SMALL, "--max-cells", "sheet 'Cycles'", "row 10 and column Z: up to 260 cells", "before reading")
    # 16 rows x 26 fit in 420; the exact sizes after loading are all smaller (Labs 16 x 8)
    assert cli("check", SMALL, "--max-cells", 420, "--out", tmp_path / "o").exit_code == 0
    pkg = Package.read(SMALL.read_bytes())
    for part in pkg.sheets():
        pkg.set(part, re.sub(rb'\sr="[^"]*"', b"", pkg.get(part)))
    path = variant(tmp_path, "no-refs", pkg.to_bytes())
    r = cli("check", path, "--max-cells", 120, "--out", tmp_path / "o")   # checked after loading: 16 x 8 = 128
    assert_refused(r, path, "--max-cells", "sheet 'Labs' spans 16 rows x 8 columns (128 cells)")


def test_lying_dimension_element_is_not_trusted(tmp_path):
    lie = lambda xml: re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', xml)
    pkg = Package.read(SMALL.read_bytes())
    for part in pkg.sheets():
        pkg.set(part, lie(pkg.get(part)))
    path = variant(tmp_path, "dimension", pkg.to_bytes())
    assert cli("check", path, "--out", tmp_path / "o").exit_code == 0


FAR = {  # rows appended to the Subjects sheet: each would make calamine allocate a dense grid
    "last-cell-of-excel": b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
    "row-beyond-excel": b'<row r="2000000"><c r="A2000000"><v>1</v></c></row>',
    "within-rows-and-columns-too-many-cells": b'<row r="999999"><c r="GR999999"><v>1</v></c></row>',
    "overflowing-row-number": b'<row r="1"><c r="B99999999999999999999"><v>1</v></c></row>',
    "single-quotes-and-spaces": b"<row r = '1048576'><c r = 'XFD1048576' ><v>1</v></c></row>",
    "lower-case": b'<row r="1048576"><c r="xfd1048576"><v>1</v></c></row>',
    "styled-empty-cell-then-cell-without-reference": b'<row r="999999"><c r="GQ999999" s="1"/><c><v>1</v></c></row>',
    "row-reference-only": b'<row r="99999999"><c><v>1</v></c></row>',
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(FAR))
def test_far_cell_reference_is_refused_before_any_grid_is_built(tmp_path, case):
    """In a process allowed 1.5 GB of address space: had calamine built the grid, it would abort."""
    path = variant(tmp_path, case, edit_sheet(SMALL.read_bytes(), "Subjects", append_rows(FAR[case])))

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "monitor", "check", str(path), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120, preexec_fn=cap,
                       env={"POLARS_MAX_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert p.returncode == 2, p.stderr[-2000:]
    assert p.stderr.startswith(f"monitor: {path}: sheet 'Subjects' reaches"), p.stderr
    assert "refused before reading it" in p.stderr
    assert time.monotonic() - t0 < 30


# ---------------------------------------------------------------- cell length

def _long_comment(n: int) -> bytes:
    def put(xml):
        cell = b'<c r="H2" t="inlineStr"><is><t>' + b"x" * n + b"</t></is></c>"
        return re.sub(rb'(<row r="2"[^>]*>.*?)(</row>)', lambda m: m.group(1) + cell + m.group(2), xml, count=1,
                      flags=re.S)
    return edit_sheet(SMALL.read_bytes(), "Labs", put)


def test_cell_longer_than_excels_limit_is_refused_naming_the_cell(tmp_path):
    path = variant(tmp_path, "long", _long_comment(40_000))
    r = cli("check", path, "--out", tmp_path / "o")
    assert_refused(r, path, "--max-cell-chars", "cell Labs!H2 holds 40,000 characters", "limit of 32,767")


def test_cell_at_excels_limit_is_accepted(tmp_path):
    path = variant(tmp_path, "at-limit", _long_comment(32_767))
    assert cli("check", path, "--out", tmp_path / "o").exit_code in (0, 1)


def test_max_cell_chars_counts_characters_not_bytes(tmp_path):
    def put(xml):
        cell = "\u60a3" * 100   # 100 characters, 300 bytes of UTF-8
        return xml.replace(b"</row>", b'<c r="H2" t="inlineStr"><is><t>' + cell.encode() + b"</t></is></c></row>", 2)
    path = variant(tmp_path, "cjk", edit_sheet(SMALL.read_bytes(), "Labs", put))
    assert cli("check", path, "--max-cell-chars", 100, "--out", tmp_path / "o").exit_code in (0, 1)
    assert_refused(cli("check", path, "--max-cell-chars", 99, "--out", tmp_path / "o"), path, "--max-cell-chars",
                   "holds 100 characters")


# ---------------------------------------------------------------- unpacked size

def _lying_shared_strings(big: int) -> bytes:
    """A shared-strings part that inflates to `big` bytes but declares 1,000."""
    sst = Package.read(SMALL.read_bytes()).get("xl/sharedStrings.xml")
    data = bytearray(edit(SMALL.read_bytes(), "xl/sharedStrings.xml",
                          lambda x: x.replace(b"</sst>", b"<si><t>" + b"A" * big + b"</t></si></sst>")))
    assert sst
    name = b"xl/sharedStrings.xml"
    for sig, size_at, name_len_at, name_at in ((b"PK\x01\x02", 24, 28, 46), (b"PK\x03\x04", 22, 26, 30)):
        for m in re.finditer(re.escape(sig), bytes(data)):
            n = struct.unpack_from("<H", data, m.start() + name_len_at)[0]
            if bytes(data[m.start() + name_at:m.start() + name_at + n]) == name:
                struct.pack_into("<I", data, m.start() + size_at, 1000)
    return bytes(data)


def test_part_lying_about_its_size_cannot_get_past_the_unpacked_limit(tmp_path):
    path = variant(tmp_path, "liar", _lying_shared_strings(3 << 20))
    r = cli("check", path, "--max-unpacked-mb", 2, "--out", tmp_path / "o")
    assert_refused(r, path, "--max-unpacked-mb", "limit of 2 MB")


# ---------------------------------------------------------------- options and API

@pytest.mark.parametrize("option", ["--max-rows", "--max-columns", "--max-cell-chars", "--max-cells",
                                    "--max-unpacked-mb"])
def test_a_limit_must_be_positive(tmp_path, option):
    r = cli("check", SMALL, option, 0, "--out", tmp_path / "o")
    assert r.exit_code == 2 and f"{option} must be greater than 0" in r.stderr


@pytest.mark.parametrize("command", ["annotate", "export"])
def test_annotate_and_export_take_the_same_limits(tmp_path, command):
    r = cli(command, SMALL, "--max-rows", 5, "--out", tmp_path / "o")
    assert_refused(r, SMALL, "--max-rows")
    assert not (tmp_path / "o").exists()


def test_check_workbook_takes_limits_and_keeps_max_unpacked_mb(profile):
    with pytest.raises(WorkbookError, match="--max-rows"):
        check_workbook(SMALL, profile, limits=Limits(max_rows=5))
    with pytest.raises(WorkbookError, match="--max-unpacked-mb"):
        check_workbook(SMALL, profile, max_unpacked_mb=0.01)
    assert check_workbook(SMALL, profile, max_unpacked_mb=1).findings == []


@pytest.mark.parametrize("case", sorted(FAR) + ["none", "not-utf8"])
def test_a_large_sheet_is_refused_exactly_as_a_small_one(monkeypatch, case):
    """Sheets over 1 MB of XML are first searched by polars' regex engine (container._may_match);
    it must never let through a reference the byte-level scan refuses, and must give the same
    message (a namespace declaration `xmlns:r="http..."` is not a reference)."""
    from monitor.workbook import sheetscan as container

    filler = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (i, i)
                      for i in range(2, 40_000))
    tail = b"" if case in ("none", "not-utf8") else FAR[case]
    bad = b"\xff\xfe" if case == "not-utf8" else b""
    xml = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://'
           b'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>' + filler + bad + tail
           + b"</sheetData></worksheet>")
    assert len(xml) > container._PREFILTER_BYTES

    def outcome():
        try:
            container.check_extent(xml, Limits(), "wb.xlsx", "Subjects")
        except WorkbookError as e:
            return str(e)
        return None

    fast = outcome()
    monkeypatch.setattr(container, "_PREFILTER_BYTES", 1 << 62)
    assert fast == outcome()
    assert (fast is None) == (case in ("none", "not-utf8"))
