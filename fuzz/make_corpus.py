"""Write the fuzz corpus: fuzz/corpus/small_study.xlsx and hostile_text.xlsx.

    .venv/bin/python -m fuzz.make_corpus

Both come from tests/builders.py (the clean three-subject study): small_study as openpyxl
writes it (shared strings, date styles), hostile_text with markup, template syntax, URLs,
formula starters, control characters, right-to-left and CJK text in cells whose values end up
in findings. Deterministic: fixed document dates and zip timestamps.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .xlsx import Package

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import builders as B  # noqa: E402

HOSTILE = {  # (sheet, data-row index, header) -> text; each cell's value is quoted by a finding
    ("Subjects", 0, "Sex"): '=HYPERLINK("http://evil.example/x","click")',
    ("Subjects", 1, "BCLC stage"): "<script>alert('x')</script>",
    ("Subjects", 2, "Off-treatment reason"): "{{ 7*7 }} {% include '/etc/passwd' %}",
    ("Cycles", 0, "Drug"): "+cmd|' /C calc'!A0",
    ("Cycles", 1, "Unit"): "@SUM(1+1)",
    ("Cycles", 2, "Action"): "-2+3 <img src='file:///etc/passwd'>",
    ("Labs", 0, "Test"): "<style>@import url(http://evil.example/x.css)</style>",
    ("Labs", 1, "Unit"): "url(file:///etc/shadow)",
    ("Labs", 2, "Result"): "=1+1",
    ("Labs", 3, "Comment"): "\t=2+2",
    ("AdverseEvents", 0, "CTCAE term"): "\u60a3\u8005 \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd a\u202eevil",
    ("AdverseEvents", 1, "Outcome"): "{{ config.items() }}",
    ("AdverseEvents", 2, "Verbatim term"): "line\nbreak\rcr _x001B_[31mred",
    ("Vitals", 0, "ECOG"): "<b>bold</b>",
    ("Tumor", 0, "Lesion type"): "http://evil.example/lesion",
}


def hostile_study() -> dict:
    s = B.fresh()
    for (sheet, idx, header), text in HOSTILE.items():
        B.set_cell(s, sheet, idx, header, text)
    B.add_column(s, "Labs", "<i>{{ header }}</i>", ["=HYPERLINK(\"http://evil.example\")"])
    B.set_study(s, "Site", "=HYPERLINK(\"http://evil.example\",\"site\")")
    # subject IDs become the `subject` field of findings, sheet names their `sheet` field
    B.copy_row(s, "Labs", 0, Subject_ID="=1+1")
    B.copy_row(s, "Vitals", 0, Subject_ID="@cmd")
    B.copy_row(s, "Cycles", 0, Subject_ID="-1+2")
    B.rename_sheet(s, "Vitals", "+Vitals")
    s["Notes {{x}}"] = [["<script>", "file:///etc/passwd"]]
    return s


def write_literal(path: Path, sheets: dict) -> Path:
    """Like builders.write, but every string is stored as text, even one starting with `=`
    (a coordinator's typed `=1+1` that Excel kept as text, or a hostile file)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row, start=1):
                if v is not None:
                    cell = ws.cell(row=r, column=c, value=v)
                    if isinstance(v, str):
                        cell.data_type = "s"
    wb.save(path)
    return path


def to_shared_strings(pkg: Package) -> None:
    """Move every inline string into xl/sharedStrings.xml, as Excel saves text."""
    table: dict = {}

    def swap(m):
        i = table.setdefault(m.group(3), len(table))
        return m.group(1) + b' t="s"' + m.group(2) + b"><v>" + str(i).encode() + b"</v></c>"

    cell = re.compile(rb'(<c r="[A-Z]+\d+")((?: s="\d+")?) t="inlineStr"><is><t(?: [^>]*)?>(.*?)</t></is></c>', re.S)
    for part in pkg.sheets():
        pkg.set(part, cell.sub(swap, pkg.get(part)))
    ns = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    items = b"".join(b'<si><t xml:space="preserve">' + t + b"</t></si>" for t in table)
    pkg.set("xl/sharedStrings.xml", b'<sst xmlns="' + ns + b'" count="%d" uniqueCount="%d">' % (len(table), len(table))
            + items + b"</sst>")
    rels = pkg.get("xl/_rels/workbook.xml.rels")
    pkg.set("xl/_rels/workbook.xml.rels", rels.replace(b"</Relationships>", (
        b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>')))
    ct = pkg.get("[Content_Types].xml")
    pkg.set("[Content_Types].xml", ct.replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'spreadsheetml.sharedStrings+xml"/></Types>')))


def _deterministic(path: Path, shared_strings: bool = False) -> None:
    pkg = Package.read(path.read_bytes())
    if shared_strings:
        to_shared_strings(pkg)
    if pkg.has("docProps/core.xml"):
        core = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-01-01T00:00:00Z", pkg.get("docProps/core.xml"))
        pkg.set("docProps/core.xml", core)
    path.write_bytes(pkg.to_bytes())


def main() -> None:
    out = ROOT / "fuzz" / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    for name, sheets in (("small_study", B.fresh()), ("hostile_text", hostile_study())):
        path = write_literal(out / f"{name}.xlsx", sheets)
        _deterministic(path, shared_strings=name == "small_study")
        print(path)


if __name__ == "__main__":
    main()
