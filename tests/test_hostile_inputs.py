"""Hostile containers: zip and XML tricks that would crash, abort or exhaust the reader. Each is
exit 2 with one line on stderr, quickly, in a process allowed 1.5 GB of address space (a
dense-grid or reservation bomb that got through would abort it). A panic inside calamine is
caught too, but Rust prints its own panic message on stderr before the monitor's line."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz.xlsx import Package, append_rows, edit, edit_sheet  # noqa: E402

SMALL = ROOT / "fuzz" / "corpus" / "small_study.xlsx"
BOMB_ROW = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10)) + b"]>")


def capped_check(path: Path, tmp: Path):
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "monitor", "check", str(path), "--out", str(tmp / "out")],
                       capture_output=True, text=True, timeout=120, preexec_fn=cap, cwd=tmp,
                       env={"POLARS_MAX_THREADS": "1", "PATH": "/usr/bin:/bin", "RUST_BACKTRACE": "0"})
    return p, time.monotonic() - t0


def _no_xml_decl(xml: bytes) -> bytes:
    return re.sub(rb"^<\?xml[^>]*\?>", b"", xml)


def _sheet_part(sheet: str) -> str:
    return Package.read(SMALL.read_bytes()).sheet_by_name(sheet)


def duplicate_bomb_first(data: bytes) -> bytes:
    pkg = Package.read(data)
    part = pkg.sheet_by_name("Subjects")
    pkg.members.insert(0, (part, append_rows(BOMB_ROW)(pkg.get(part))))
    return pkg.to_bytes()


def duplicate_bomb_last(data: bytes) -> bytes:
    pkg = Package.read(data)
    part = pkg.sheet_by_name("Subjects")
    pkg.members.append((part, append_rows(BOMB_ROW)(pkg.get(part))))
    return pkg.to_bytes()


def upper_case_bomb(data: bytes) -> bytes:
    """calamine finds members ignoring case: the bomb under an upper-case name is the sheet."""
    pkg = Package.read(data)
    part = pkg.sheet_by_name("Subjects")
    xml = pkg.get(part)
    pkg.remove(part)
    pkg.members.append((part.upper(), append_rows(BOMB_ROW)(xml)))
    return pkg.to_bytes()


def target_with_xl_prefix(data: bytes) -> bytes:
    """A target starting with `xl/` is taken as it is by calamine (not relative to xl/)."""
    pkg = Package.read(data)
    part = pkg.sheet_by_name("Subjects")
    pkg.members.append(("xl/worksheets/other.xml", append_rows(BOMB_ROW)(pkg.get(part))))
    rels = pkg.get("xl/_rels/workbook.xml.rels")
    target = part[len("xl/"):].encode()
    pkg.set("xl/_rels/workbook.xml.rels", rels.replace(b'Target="' + target + b'"', b'Target="xl/worksheets/other.xml"'))
    return pkg.to_bytes()


def huge_unique_count(data: bytes) -> bytes:
    return edit(data, "xl/sharedStrings.xml", lambda x: re.sub(rb'uniqueCount="\d+"', b'uniqueCount="4294967295"', x))


def laughs_in_workbook(data: bytes) -> bytes:
    return edit(data, "xl/workbook.xml", lambda x: LAUGHS + _no_xml_decl(x).replace(b'name="Tumor"', b'name="&lol9;"'))


def laughs_in_sheet(data: bytes) -> bytes:
    return edit_sheet(data, "Subjects", lambda x: LAUGHS + _no_xml_decl(x).replace(
        b"</sheetData>", b'<row r="9"><c r="A9" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>'))


def external_entity(data: bytes) -> bytes:
    return edit(data, "xl/workbook.xml", lambda x: b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM '
                b'"file:///etc/passwd">]>' + _no_xml_decl(x).replace(b'name="Tumor"', b'name="&xxe;"'))


def panic_date(data: bytes) -> bytes:
    def put(xml):
        m = re.search(rb'<c r="E2"[^>]*>.*?</c>', xml)
        return xml[:m.start()] + b'<c r="E2" s="1"><v>-1e15</v></c>' + xml[m.end():]
    return edit_sheet(data, "Subjects", put)


CASES = {  # name -> (mutation, what the one stderr line must say)
    "duplicate-zip-entry-bomb-first": (duplicate_bomb_first, "reaches row 1,048,576"),
    "duplicate-zip-entry-bomb-last": (duplicate_bomb_last, "reaches row 1,048,576"),
    "upper-case-member-name": (upper_case_bomb, "reaches row 1,048,576"),
    "target-with-xl-prefix": (target_with_xl_prefix, "reaches row 1,048,576"),
    "shared-strings-claim-4-billion": (huge_unique_count, "claims 4,294,967,295 strings"),
    "billion-laughs-in-workbook": (laughs_in_workbook, "amplification"),
    "billion-laughs-in-sheet": (laughs_in_sheet, "cannot be read"),
    "external-entity": (external_entity, "not a readable .xlsx workbook"),
    "date-serial-that-panics-calamine": (panic_date, "cannot be read"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_container_is_refused_in_one_line_without_crashing(tmp_path, case):
    mutate, words = CASES[case]
    path = tmp_path / f"{case}.xlsx"
    path.write_bytes(mutate(SMALL.read_bytes()))
    p, seconds = capped_check(path, tmp_path)
    assert p.returncode == 2, (p.returncode, p.stderr[-1500:])
    lines = p.stderr.strip().splitlines()
    assert lines[-1].startswith(f"monitor: {path}") and words in lines[-1], p.stderr
    rust_panic = case == "date-serial-that-panics-calamine"   # Rust prints its panic message first (3 lines)
    assert len(lines) == (4 if rust_panic else 1) and "Traceback" not in p.stderr, p.stderr
    assert "root:" not in p.stderr and not (tmp_path / "out").exists()
    assert seconds < 30


DAMAGED_XML = {  # sheet XML a regex with a lazy `.*?` would scan in quadratic time (minutes at this size)
    "cells-never-closed": b'<row r="1">' + b'<c r="B1"><v>1</v>' * 50_000 + b"</row>",
    "formulas-outside-cells": b'<row r="1"><c r="A1"><v>1</v></c>' + b"<f>1</f>" * 100_000 + b"</row>",
    "tags-never-ended": b'<row r="1">' + b"<c " * 100_000 + b"</row>",
    "references-never-ended": b'<row r="1"><c r="AAAA' + b'r="AA' * 100_000 + b'"/></row>',
}


@pytest.mark.parametrize("case", sorted(DAMAGED_XML))
def test_damaged_sheet_xml_is_scanned_in_linear_time(case):
    from monitor.workbook.reader import Limits, WorkbookError, check_extent, scan_sheet_xml

    xml = b"<worksheet><sheetData>" + DAMAGED_XML[case] + b"</sheetData></worksheet>"
    t0 = time.process_time()
    scan_sheet_xml(xml)
    try:
        check_extent(xml, Limits(), "p.xlsx", "Labs")
    except WorkbookError:
        pass
    assert time.process_time() - t0 < 3, f"{case}: {time.process_time() - t0:.1f} s"


def test_header_rows_full_of_brackets_are_read_in_linear_time(tmp_path):
    """30 rows x 20 cells of 32,767 '(' where the header is looked for: header matching used to
    take 10 s a cell (a backtracking regex in schema.norm)."""
    from typer.testing import CliRunner

    from monitor.cli import app

    cell = "(" * 32_767
    rows = b"".join(b'<row r="%d">' % r + b"".join(
        b'<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (c.encode(), r, cell.encode()) for c in "ABCDEFGHIJKLMNOPQRST")
        + b"</row>" for r in range(1, 31))
    path = tmp_path / "brackets.xlsx"
    path.write_bytes(edit_sheet(SMALL.read_bytes(), "Labs", lambda xml: re.sub(
        rb"<sheetData>.*</sheetData>", lambda m: b"<sheetData>" + rows + b"</sheetData>", xml, flags=re.S)))
    t0 = time.monotonic()
    r = CliRunner().invoke(app, ["check", str(path), "--out", str(tmp_path / "o"), "--format", "json"])
    assert r.exit_code == 1, r.stderr
    assert '"WB001"' in r.stdout                      # no header row on Labs
    assert time.monotonic() - t0 < 30


def test_two_unknown_columns_with_one_header_are_both_kept(tmp_path, profile):
    from monitor.check import check_workbook

    def add(xml):
        xml = xml.replace(b"</row>", b'<c r="I1" t="inlineStr"><is><t>Notes</t></is></c>'
                                     b'<c r="J1" t="inlineStr"><is><t>Notes</t></is></c></row>', 1)
        return xml.replace(b'<row r="2">', b'<row r="2"><c r="I2" t="inlineStr"><is><t>a</t></is></c>'
                                           b'<c r="J2" t="inlineStr"><is><t>b</t></is></c>', 1)
    path = tmp_path / "notes.xlsx"
    path.write_bytes(edit_sheet(SMALL.read_bytes(), "Labs", add))
    result = check_workbook(path, profile)
    assert sorted(f.where for f in result.findings if f.rule == "WB003") == ["Labs!I1", "Labs!J1"]
