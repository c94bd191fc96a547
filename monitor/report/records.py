"""The report's records: plain, picklable dataclasses the template reads (one per thing a page
shows). Built by the view modules (view.py and the page-kind modules beside it); nothing here
computes or writes markup."""

from __future__ import annotations

from dataclasses import dataclass, field


class ReportError(Exception):
    """The report cannot be made as asked (unknown subject or cycle); exit code 2."""


# ------------------------------------------------------------------------------ records

@dataclass
class FindingRow:
    id: str
    severity: str
    rule: str
    name: str
    where: str
    subject: str
    message: str
    suggestion: str
    new: bool = False
    group: str = ""            # the cause (monitor.findings.group_id)
    count: int = 1             # > 1: this row stands for `count` findings of one cause
    cells: str = ""            # their first cells: "Labs!C8, C9, C10, C11, C12 and 35 more"
    member_ids: tuple = ()     # the finding ids it stands for
    status: str = ""           # workflow: "accepted: reason", "queried: text", "answered: ..." ("" open)


@dataclass
class DoseRow:
    drug: str
    given: str          # "200 mg", "15 mg/kg (1020 mg)", "-" when not given
    planned: str        # from the profile: "200 mg", "15 mg/kg = 1020 mg at 68 kg"
    action: str         # Given, Reduced, Delayed, Held, Discontinued, "not recorded"
    reason: str
    css: str            # given | changed | notgiven | missing


@dataclass
class LabCell:
    test: str           # label: ALT, PIVKA-II
    unit: str
    value: str          # as entered, e.g. "<0.01", "1+", "245"
    grade: str          # "G3", "" when CTCAE does not grade it
    flag: str           # "H", "L" against the site's normal range, else ""
    css: str            # g0..g4 or ng (not graded)
    date: str = ""
    term: str = ""      # the CTCAE term the grade is for


@dataclass
class AERow:
    number: str
    term: str
    verbatim: str
    grade: str          # "G3", "G?" when missing
    grade_n: int | None
    css: str
    onset: str
    end: str            # date, "ongoing", or "-"
    serious: bool
    immune: bool
    related: str        # "QL1604: Y, Bevacizumab: N"
    outcome: str
    action: str
    new_in_cycle: bool = False


@dataclass
class CycleView:
    number: int
    anchor: str
    date: str
    day: str            # "Day 85" (day 1 = first dose)
    period: str         # "05-JUL-2022 to 25-JUL-2022"
    doses: list
    labs: list          # [LabCell] pre-dose, latest per test
    lab_line: list      # [(text, css)]: the pre-dose panel as one line; css "" = plain text
    lab_dates: str      # "03-JUL-2022" (dates of the pre-dose panel)
    labs_note: str      # "No labs within 3 days before the dose." or ""
    interim_labs: list  # [LabCell] grade >= 2 drawn during the cycle, not pre-dose
    all_labs: list      # [LabCell] every lab of the cycle window (one-cycle summary)
    vitals: str         # "BP 132/84 (G1) · 68.0 kg · ECOG 1"
    vitals_rows: list   # [(date, bp, grade, weight, ecog)]
    scans: list         # ["16-AUG-2022: target sum 52 mm, investigator PR"]
    aes: list           # [AERow] active during the cycle
    findings: list      # [FindingRow]
    status: str         # the cycle's headline: Given / Delayed / Held ...
    status_css: str
    labs_title: str = "Pre-dose labs"   # "Labs" for a study without pre-dose labs (daily dosing)


@dataclass
class Chart:
    key: str            # asset name the renderer serves, e.g. "chart-001-markers.svg"
    kind: str           # markers | liver | tumour | swimmer
    title: str
    data: dict          # the plain series charts.py draws from
    empty: str = ""     # why there is nothing to draw ("" = draw it)
    note: str = ""      # how to read it (only what the chart shows)


@dataclass
class SubjectView:
    id: str
    anchor: str
    sex: str
    age: str
    weight: str
    child_pugh: str
    bclc: str
    ecog: str
    consent: str
    first_dose: str
    last_dose: str
    status: str
    n_cycles: int
    latest_response: str
    worst_grade: str
    n_findings: dict     # severity -> count
    charts: list         # [Chart]
    cycles: list         # [CycleView]
    aes: list            # [AERow] every AE of the subject
    subject_findings: list  # findings on the Subjects row
    other_findings: list    # findings of the subject not attached to a cycle
    lab_units: str = ""  # "ALT U/L, AST U/L, ...": the subject's usual unit of each test
    derived: dict = field(default_factory=dict)  # label -> text, from protocol tables when present
    arm: str = ""        # the subject's arm (studies with [[arms]])
    responses: list = field(default_factory=list)  # [ResponseRow]: RECIST 1.1 / iRECIST / mRECIST (view_response.py)


@dataclass
class Meta:
    title: str
    scope: str           # study | subject | cycle
    protocol: str
    site: str
    profile: str
    profile_title: str
    workbook: str
    sha256: str
    generated: str       # "2024-03-15 12:00 UTC"
    generated_iso: str
    tool_version: str
    data_cut: str
    predose_days: int = 3
    lang: str = "en"
    history: bool = False   # findings were compared with a previous run
    cycle_word: str = "Cycle"   # "Period" for continuous daily dosing
    has_predose: bool = True    # the study has pre-dose labs (schedule.predose_lab_days)
    has_tumour: bool = True     # tumour assessments ([recist] or a Tumor sheet with rows)
    has_arms: bool = False
    subject_columns: tuple = ("child_pugh", "bclc", "ecog")   # optional Subjects columns with a value


@dataclass
class ReportView:
    meta: Meta
    counts: dict                 # label -> number
    subjects_table: list         # [SubjectView] (overview rows)
    findings_matrix: list        # [(family, {severity: n}, total)]
    severity_totals: dict
    severe_aes: list             # [(subject, AERow)]
    swimmer: list                # [Chart] one per block of subjects
    subjects: list               # [SubjectView] with cycles (the sections to print)
    findings_groups: list        # [(title, anchor, [FindingRow])]
    n_findings: int
    n_new: int
    cycle: CycleView | None = None     # one-cycle summary
    cycle_subject: SubjectView | None = None
    not_evaluated: list = field(default_factory=list)  # [(code, reason)]

