"""The template's Instructions sheet: what goes where, how to type dates and numbers, the two
commands to run, and a legend of every colour the monitor uses."""

from __future__ import annotations

from openpyxl.styles import Alignment, Font, PatternFill

from .annotate import SEVERITY_COLOURS, SEVERITY_MEANING

INSTRUCTIONS = (
    "How to fill in this workbook",
    "",
    "One sheet per kind of record; one row per record. Keep the header row (row 1) as it is: the "
    "monitor finds columns by their header. Hover a header for what it holds.",
    "Study: the protocol, your site ID and (prefilled) the profile the monitor checks against.",
    "Subjects: one row per subject. Every other sheet refers to subjects by the Subject ID "
    "typed exactly as here (001 stays 001: the column is text).",
    "Cycles: one row per drug per cycle (Given, Reduced, Delayed, Held or Discontinued, with a reason).",
    "Labs: one row per test result; pick the test, then its unit from the drop-down; give the "
    "site's normal range (LLN, ULN) in the same unit. ND or 'not done' when not done, never 0.",
    "AdverseEvents: one row per event, the exact CTCAE v5.0 term from the list, the grade 1-5.",
    "Vitals and Tumor: one row per visit / per lesion per scan.",
    "Dates: 05-JUL-2022, 2022-07-05 or an Excel date. Numbers: a decimal point (7.5, not 7,5), "
    "no unit in the cell; <0.5 keeps its qualifier.",
    "",
    "Then run:  monitor check WORKBOOK.xlsx   (problems by Sheet!Cell)  and  "
    "monitor annotate WORKBOOK.xlsx   (a coloured copy; your file is never changed).",
)


def write_instructions(ws, required_fill, optional_fill) -> None:
    """The Instructions sheet: how to fill the workbook in, and a legend of the colours (the
    template's header fills and the annotated copy's severity colours)."""
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 100
    head = ws.cell(row=1, column=1, value=INSTRUCTIONS[0])
    head.font = Font(bold=True, size=13)
    r = 2
    for line in INSTRUCTIONS[1:]:
        c = ws.cell(row=r, column=2, value=line or None)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        r += 1
    r += 1
    ws.cell(row=r, column=1, value="Colours").font = Font(bold=True)
    legend = [(required_fill, "Header of a required column (this template)"),
              (optional_fill, "Header of an optional column (this template)")]
    legend += [(PatternFill(fill_type="solid", fgColor=SEVERITY_COLOURS[sev]),
                f"{sev} finding in an annotated copy: {SEVERITY_MEANING[sev]}") for sev in SEVERITY_COLOURS]
    for fill, text in legend:
        r += 1
        ws.cell(row=r, column=1).fill = fill
        ws.cell(row=r, column=2, value=text)
    ws.sheet_properties.tabColor = "5B9BD5"
