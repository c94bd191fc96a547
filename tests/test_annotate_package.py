"""The annotated copy is made from the workbook's own parts, not through a spreadsheet model:
everything it does not mark survives (values, formulas, styles, merged cells, validations,
defined names, column widths, other sheets, parts openpyxl does not know), marked cells keep
every style aspect but the fill, and other readers (openpyxl, LibreOffice) open the copy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
import zipfile

import openpyxl
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName

from monitor.check import check_workbook
from monitor.workbook.annotate import FINDINGS_SHEET, MARKS_SHEET, SEVERITY_COLOURS, annotate_copy
from monitor.workbook.template import write_template
from test_annotate import STUDY_IDS, TODAY, _finding, _result, small_data

STYLE = ("font", "border", "number_format", "alignment", "protection")


@pytest.fixture(scope="module")
def profile():
    from monitor.profile.profile import load_profile

    return load_profile()


def _rich_workbook(path, profile):
    """A site workbook with what a coordinator adds: formats, formulas, merges, notes, names,
    widths, an own sheet."""
    write_template(path, profile, data=small_data({("Subjects", 0, "age"): 640}), study=STUDY_IDS)
    wb = openpyxl.load_workbook(path)
    ws = wb["Labs"]
    ws["N2"] = "=D2*2"
    ws["N2"].font = Font(bold=True, italic=True, color="FF0000", size=14)
    ws["N2"].border = Border(left=Side(style="thick"), bottom=Side(style="dashed", color="00FF00"))
    ws["N2"].number_format = "0.000"
    ws["N2"].alignment = Alignment(horizontal="center", vertical="top", wrap_text=True, text_rotation=45)
    ws["N3"] = 12.5
    ws["N3"].fill = PatternFill(fill_type="solid", fgColor="00B050")
    ws["D2"].font = Font(underline="double")
    ws["D2"].comment = Comment("coordinator: checked with the lab", "Ann")
    ws["E2"].comment = Comment("keep me", "Bob")
    ws.merge_cells("P2:Q3")
    ws["P2"] = "merged"
    ws.column_dimensions["N"].width = 31.5
    own = wb.create_sheet("Coordinator")
    own["A1"] = "my notes"
    own["B2"] = "=Labs!D2+1"
    own["C3"] = 3.25
    own["C3"].number_format = "0.0%"
    wb.defined_names["GlobalName"] = DefinedName("GlobalName", attr_text="Labs!$D$2:$D$5")
    own.defined_names["LocalName"] = DefinedName("LocalName", attr_text="Coordinator!$C$3")
    wb.save(path)
    return path


def _same_style(a, b, aspects=STYLE):
    return {k: (getattr(a, k), getattr(b, k)) for k in aspects if repr(getattr(a, k)) != repr(getattr(b, k))}


def _fill(c):
    return (c.fill.fill_type, c.fill.fgColor.rgb if c.fill.fill_type else None)


def _assert_kept(src, out, marked: set):
    """Every cell of the original sheets: the same value, formula and style in the copy; marked
    cells the same but for their fill."""
    a, b = openpyxl.load_workbook(src), openpyxl.load_workbook(out)
    for ws in a.worksheets:
        other = b[ws.title]
        rows = max(ws.max_row, other.max_row)
        cols = max(ws.max_column, other.max_column)
        for r in range(1, rows + 1):
            for c in range(1, cols + 1):
                x, y = ws.cell(r, c), other.cell(r, c)
                where = (ws.title, x.coordinate)
                assert (x.value, x.data_type) == (y.value, y.data_type), where
                assert _same_style(x, y) == {}, where
                if where in marked:
                    assert _fill(y)[0] == "solid" and y.fill.fgColor.rgb[-6:] in SEVERITY_COLOURS.values(), where
                else:
                    assert _fill(x) == _fill(y), where
        assert sorted(map(str, ws.merged_cells.ranges)) == sorted(map(str, other.merged_cells.ranges))
        assert [(dv.formula1, str(dv.sqref)) for dv in ws.data_validations.dataValidation] == \
               [(dv.formula1, str(dv.sqref)) for dv in other.data_validations.dataValidation]
        assert {k: d.width for k, d in ws.column_dimensions.items()} == \
               {k: d.width for k, d in other.column_dimensions.items()}
        assert {k: v.attr_text for k, v in ws.defined_names.items()} == \
               {k: v.attr_text for k, v in other.defined_names.items()}, ws.title
    assert {k: v.attr_text for k, v in a.defined_names.items()} == {k: v.attr_text for k, v in b.defined_names.items()}
    return b


@pytest.fixture(scope="module")
def rich(tmp_path_factory, profile):
    tmp = tmp_path_factory.mktemp("rich")
    src = _rich_workbook(tmp / "site.xlsx", profile)
    findings = [_finding(cell="D2", message="on a noted, formatted cell"),
                _finding(cell="N2", severity="critical", message="on a formula"),
                _finding(cell="R7", severity="minor", message="a blank cell in a row that does not exist"),
                _finding(cell="M2", severity="info", message="a blank cell in a row that exists"),
                _finding(cell="B2", message="a date"),
                _finding(cell="Q3", message="inside a merge")]
    out = annotate_copy(src, _result(src, findings), tmp / "copy.xlsx")
    return src, out


def test_untouched_cells_keep_value_formula_and_style_and_marked_ones_all_but_the_fill(rich):
    src, out = rich
    marked = {("Labs", ref) for ref in ("D2", "N2", "R7", "M2", "B2", "P2")}
    b = _assert_kept(src, out, marked)
    assert b["Labs"]["N2"].value == "=D2*2" and b["Labs"]["N2"].fill.fgColor.rgb.endswith(SEVERITY_COLOURS["critical"])
    assert b["Labs"]["P2"].comment.text == "MAJOR WB110 some-problem: inside a merge"   # the merge's first cell
    assert b["Labs"]["R7"].comment.text.startswith("MINOR")
    assert b["Coordinator"]["B2"].value == "=Labs!D2+1"
    assert b.sheetnames == [FINDINGS_SHEET, *openpyxl.load_workbook(src).sheetnames, MARKS_SHEET]


def test_parts_the_copy_does_not_change_are_byte_for_byte_the_originals(rich):
    src, out = rich
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        names = set(b.namelist())
        labs = _sheet_part(a, "Labs")
        untouched = [n for n in a.namelist() if n != labs and not n.startswith(("xl/workbook", "xl/styles", "xl/_rels",
                     "docProps", "[Content", "xl/comments", "xl/drawings", "xl/worksheets/_rels/" +
                     labs.rsplit("/", 1)[-1], "xl/worksheets/sheet1.xml"))]   # sheet1: unselected
        assert untouched and set(untouched) <= names
        for n in untouched:
            assert a.read(n) == b.read(n), n
            assert a.getinfo(n).compress_size == b.getinfo(n).compress_size, n     # not even recompressed


def _sheet_part(z, title):
    wb = z.read("xl/workbook.xml").decode()
    rid = re.search(r'<sheet [^>]*name="%s"[^>]*r:id="([^"]+)"' % title, wb).group(1)
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    target = re.search(r'Id="%s"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="%s"' % (rid, rid), rels)
    t = target.group(1) or target.group(2)
    return t.lstrip("/") if t.startswith("/") else "xl/" + t


def test_notes_already_there_are_kept_and_merged(rich):
    _, out = rich
    ws = openpyxl.load_workbook(out)["Labs"]
    assert ws["E2"].comment.text == "keep me" and ws["E2"].comment.author == "Bob"
    text = ws["D2"].comment.text
    assert text.startswith("MAJOR WB110 some-problem: on a noted, formatted cell")
    assert text.endswith("\n--- earlier note ---\ncoordinator: checked with the lab")


def test_openpyxl_reads_the_copy_without_a_warning(rich):
    _, out = rich
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        openpyxl.load_workbook(out)
        openpyxl.load_workbook(out, read_only=True).close()
    assert [str(w.message) for w in caught] == []


def test_annotating_the_copy_again_gives_back_the_originals_cells(rich, tmp_path):
    src, out = rich
    again = annotate_copy(out, _result(out, [_finding(cell="C2", message="only this one now")]), tmp_path / "b.xlsx")
    b = _assert_kept(src, again, {("Labs", "C2")})
    assert b["Labs"]["D2"].comment.text == "coordinator: checked with the lab"
    assert b["Labs"]["D2"].comment.author == "Ann"
    assert b["Labs"]["R7"].comment is None and b["Labs"]["N2"].comment is None
    assert [n for n in b.sheetnames if n.lower().startswith("findings")] == [FINDINGS_SHEET]
    assert b[MARKS_SHEET].sheet_state == "veryHidden"
    with zipfile.ZipFile(again) as z:       # one note shape for each note: none left behind
        vml = b"".join(z.read(n) for n in z.namelist() if n.endswith(".vml"))
        notes = b"".join(z.read(n) for n in z.namelist() if re.match(r"xl/comments.*\.xml$", n))
    assert vml.count(b'ObjectType="Note"') == notes.count(b"<comment ")


def test_a_sheet_starting_in_column_b_gets_row_findings_on_its_first_column(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    wb = openpyxl.load_workbook(src)
    wb["Labs"].insert_cols(1)
    wb.save(src)
    out = annotate_copy(src, _result(src, [_finding(cell=None, row=2, severity="minor")]), tmp_path / "a.xlsx")
    ws = openpyxl.load_workbook(out)["Labs"]
    assert ws["B2"].fill.fgColor.rgb.endswith(SEVERITY_COLOURS["minor"]) and ws["A2"].comment is None


def _patch_part(path, name, fn):
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, fn(data) if item.filename == name else data)
    tmp.replace(path)


def test_shared_formulas_and_rows_without_references_survive(tmp_path, profile):
    src = write_template(tmp_path / "s.xlsx", profile, data=small_data(), study=STUDY_IDS)
    wb = openpyxl.load_workbook(src)
    ws = wb["Labs"]
    for r in (2, 3, 4):
        ws[f"N{r}"] = r
    wb.save(src)
    with zipfile.ZipFile(src) as z:
        part = _sheet_part(z, "Labs")

    def shared(xml):    # O2:O4 = N*2 as one shared formula; row 3 written without its r attribute
        xml = xml.replace(b'<c r="N2" t="n"><v>2</v></c>',
                          b'<c r="N2" t="n"><v>2</v></c><c r="O2"><f t="shared" ref="O2:O4" si="0">N2*2</f><v>4</v></c>')
        for r in (3, 4):
            xml = xml.replace(b'<c r="N%d" t="n"><v>%d</v></c>' % (r, r),
                              b'<c r="N%d" t="n"><v>%d</v></c><c r="O%d"><f t="shared" si="0"/><v>%d</v></c>'
                              % (r, r, r, 2 * r))
        return xml.replace(b'<row r="3"', b'<row', 1)
    _patch_part(src, part, shared)
    before = openpyxl.load_workbook(src)["Labs"]
    assert before["O3"].value == "=N3*2"
    out = annotate_copy(src, _result(src, [_finding(cell="O3"), _finding(cell="P3", severity="info")]),
                        tmp_path / "a.xlsx")
    _assert_kept(src, out, {("Labs", "O3"), ("Labs", "P3")})
    with zipfile.ZipFile(out) as z:
        xml = z.read(part)
    assert b'<f t="shared" ref="O2:O4" si="0">N2*2</f>' in xml and xml.count(b'<f t="shared" si="0"/>') == 2


def test_a_macro_workbooks_copy_is_a_plain_workbook(tmp_path, profile):
    from test_annotate import _as_xlsm

    plain = write_template(tmp_path / "s.xlsx", profile, data=small_data({("Subjects", 0, "age"): 640}),
                           study=STUDY_IDS)
    src = _as_xlsm(plain, tmp_path / "site.xlsm")
    out = annotate_copy(src, check_workbook(src, profile, today=TODAY), tmp_path / "copy.xlsx")
    with zipfile.ZipFile(out) as z:
        types = z.read("[Content_Types].xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    assert b"spreadsheetml.sheet.main+xml" in types and b"vbaProject" not in rels
    _assert_kept(plain, out, {("Subjects", "C2")})


# ------------------------------------------------------------------ another spreadsheet opens it

@pytest.mark.slow
def test_libreoffice_opens_the_copy_and_shows_the_findings_sheet(rich, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        if os.environ.get("MONITOR_REQUIRE_SOFFICE"):
            pytest.fail("LibreOffice (soffice) is required here (MONITOR_REQUIRE_SOFFICE) but not installed")
        pytest.skip("LibreOffice (soffice) is not installed; scripts/test.sh installs it")
    _, out = rich
    profile_dir = tmp_path / "lo-profile"
    res = subprocess.run([soffice, f"-env:UserInstallation=file://{profile_dir}", "--headless", "--convert-to",
                          "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
                          "--outdir", str(tmp_path), str(out)], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    csvs = sorted(tmp_path.glob("copy*.csv"))
    assert csvs, (res.stdout, res.stderr)
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in csvs)
    assert "Monitor findings" in text and "on a formula" in text and "Finding ID" in text


# ------------------------------------------------------------------ the sheet stream itself

def _stream(xml: bytes, marks: dict, chunk: int = 7) -> tuple[bytes, dict]:
    """Rewrite `xml` in small chunks (so tags are cut between them) marking {ref: style}."""
    from monitor.workbook.annotate_sheet import Edits, parse_ref, rewrite

    targets = {}
    for ref, style in marks.items():
        row, col = parse_ref(ref)
        targets.setdefault(row, {})[col] = lambda old, existed, style=style: style
    out = []
    seen = rewrite((xml[i:i + chunk] for i in range(0, len(xml), chunk)), Edits(targets), out.append)
    return b"".join(out), seen


def test_prefixed_xml_rows_and_cells_without_references_and_an_empty_sheet():
    head = b'<x:worksheet xmlns:x="urn:main"><x:sheetViews><x:sheetView tabSelected="1"/></x:sheetViews>'
    xml = (head + b'<x:sheetData><x:row spans="1:2"><x:c><x:v>1</x:v></x:c><x:c s="3"><x:v>2</x:v></x:c></x:row>'
           b'<x:row r="4"/><x:row><x:c r="B5" s="2"><x:f>A5</x:f></x:c></x:row></x:sheetData>'
           b'<x:rowBreaks count="1"/></x:worksheet>')
    out, seen = _stream(xml, {"B1": 9, "D1": 8, "A3": 7, "C4": 6, "B5": 5, "A9": 4})
    assert out == (head.replace(b'tabSelected="1"', b'tabSelected="0"') +
                   b'<x:sheetData><x:row spans="1:4"><x:c><x:v>1</x:v></x:c><x:c s="9"><x:v>2</x:v></x:c>'
                   b'<x:c r="D1" s="8"/></x:row><x:row r="3"><x:c r="A3" s="7"/></x:row>'
                   b'<x:row r="4"><x:c r="C4" s="6"/></x:row><x:row><x:c r="B5" s="5"><x:f>A5</x:f></x:c></x:row>'
                   b'<x:row r="9"><x:c r="A9" s="4"/></x:row></x:sheetData><x:rowBreaks count="1"/></x:worksheet>')
    assert seen == {(1, 2): 3, (1, 4): 0, (3, 1): 0, (4, 3): 0, (5, 2): 2, (9, 1): 0}
    empty, _ = _stream(b'<worksheet><cols><col min="1" max="3" style="11"/></cols><sheetData/></worksheet>',
                       {"B2": 5})
    assert empty == (b'<worksheet><cols><col min="1" max="3" style="11"/></cols><sheetData><row r="2">'
                     b'<c r="B2" s="5"/></row></sheetData></worksheet>')


def test_a_long_sheet_is_passed_through_unchanged_but_for_the_marked_rows():
    rows = b"".join(b'<row r="%d"><c r="A%d" s="1"><v>%d</v></c></row>' % (r, r, r) for r in range(1, 5001))
    xml = b"<worksheet><sheetData>" + rows + b"</sheetData></worksheet>"
    out, seen = _stream(xml, {"A2500": 7, "A4999": 7}, chunk=4096)
    assert out == xml.replace(b'<c r="A2500" s="1">', b'<c r="A2500" s="7">').replace(
        b'<c r="A4999" s="1">', b'<c r="A4999" s="7">')
    assert seen == {(2500, 1): 1, (4999, 1): 1}
