"""One declarative spec per sheet: the single source of truth for the workbook contract.

The reader's types, the structural checks, the template writer and the README's tables all
come from these specs (see `../shared/design/workbook.md`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field


class Kind(str, enum.Enum):
    TEXT = "text"            # free text, kept as typed
    ID = "id"                # an identifier: text, numbers shown without ".0"
    INT = "integer"          # a whole number
    NUMBER = "number"        # a number, optionally with a qualifier (<0.5) or a missing marker (ND)
    DATE = "date"            # a full date
    PARTIAL_DATE = "partial date"  # a date that may lack its day or month (AE onset / end only)
    YESNO = "yes/no"         # Y/N, Yes/No, 1/0, True/False
    CHOICE = "choice"        # one of a fixed list (with aliases)


@dataclass(frozen=True)
class Column:
    """One column of a contract sheet: its header and aliases, typed field, kind and limits."""

    name: str                 # the canonical header as the template writes it
    key: str                  # field name in the typed frame
    kind: Kind
    required: bool = False
    aliases: tuple[str, ...] = ()
    doc: str = ""
    choices: tuple[str, ...] = ()          # canonical values for CHOICE
    choice_aliases: dict | None = None     # alias (normalised) -> canonical value
    min: float | None = None
    max: float | None = None
    required_if: str | None = None         # human text of a conditional requirement (rules check it)
    unit: str | None = None                # shown in brackets in the template header
    width: int = 14                        # template column width
    lists: str | None = None               # name of a drop-down list the template adds

    @property
    def header(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


@dataclass(frozen=True)
class Sheet:
    """One sheet of the workbook contract: its columns, whether it is required, its aliases."""

    name: str
    columns: tuple[Column, ...]
    required: bool = True
    aliases: tuple[str, ...] = ()
    doc: str = ""
    record_key: tuple[str, ...] = ()   # fields that identify a record (stable finding ids)
    dynamic: str | None = None         # "related" for AdverseEvents: one Related-to column per drug

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


def norm(text: str) -> str:
    """How headers and sheet names are compared: case, spaces, _ and -, and a trailing
    unit in brackets are ignored (`Weight (kg)` = `weight`, `Subject_ID` = `subject id`)."""
    text = re.sub(r"\s*[\(\[][^\)\]]*[\)\]]\s*$", "", str(text).strip())
    return re.sub(r"[^0-9a-z#]+", "", text.lower())


YES_NO = {"y": True, "yes": True, "1": True, "true": True,
          "n": False, "no": False, "0": False, "false": False}

MISSING_MARKERS = ("nd", "na", "n/a", "notdone", "not done", "nk", "unk", "-", "")

SUBJECT = Column("Subject ID", "subject", Kind.ID, True,
                 ("Subject", "USUBJID", "Patient ID", "Subject number"),
                 "The subject's study ID, exactly as in the Subjects sheet.")

STUDY = Sheet(
    "Study",
    (
        Column("Field", "field", Kind.TEXT, True, doc="Protocol, Site, Profile or Date format."),
        Column("Value", "value", Kind.TEXT, False, doc="The value of the field.", width=30),
    ),
    doc="Two columns, Field and Value: Protocol, Site, Profile, and optionally Date format "
        "(DD/MM/YYYY or MM/DD/YYYY) for numeric dates.",
    record_key=("field",),
)

STUDY_FIELDS = {
    "protocol": "Protocol",
    "site": "Site",
    "profile": "Profile",
    "dateformat": "Date format",
}

SUBJECTS = Sheet(
    "Subjects",
    (
        SUBJECT,
        Column("Sex", "sex", Kind.CHOICE, True, doc="M or F.", choices=("M", "F"),
               choice_aliases={"male": "M", "female": "F"}, width=8),
        Column("Age", "age", Kind.INT, True, doc="Age in years at consent, 18-100.", min=18, max=100,
               unit="years", width=10),
        Column("Weight", "weight", Kind.NUMBER, True, ("Baseline weight",),
               "Baseline weight, 25-250 kg.", min=25, max=250, unit="kg", width=12),
        Column("Consent date", "consent_date", Kind.DATE, True, ("Informed consent date",),
               "Date informed consent was signed."),
        Column("Child-Pugh", "child_pugh", Kind.TEXT, False, ("Child-Pugh class",),
               "Class A, B or C, or a score 5-15."),
        Column("BCLC stage", "bclc", Kind.CHOICE, False, ("BCLC",), "Barcelona Clinic Liver Cancer stage.",
               choices=("0", "A", "B", "C", "D")),
        Column("ECOG", "ecog", Kind.INT, False, ("Baseline ECOG",), "Baseline ECOG performance status 0-5.",
               min=0, max=5, width=8),
        Column("Off-treatment date", "off_date", Kind.DATE, False, ("End of treatment date",),
               "Date the subject came off study treatment; blank while on treatment."),
        Column("Off-treatment reason", "off_reason", Kind.TEXT, False, doc="Why treatment ended.", width=24),
        Column("Arm", "arm", Kind.TEXT, False, ("ARM", "Treatment arm", "Treatment group", "ARMCD", "Arm code"),
               "Optional: the subject's treatment arm, a name or alias of the profile's [[arms]] "
               "(e.g. Placebo); decides which drugs and doses the subject gets.", width=18, lists="arms"),
    ),
    doc="One row per subject.",
    record_key=("subject",),
)

ACTIONS = ("Given", "Reduced", "Delayed", "Held", "Discontinued")

CYCLES = Sheet(
    "Cycles",
    (
        SUBJECT,
        Column("Cycle", "cycle", Kind.INT, True, ("Cycle number",), "Cycle number, an integer >= 1.",
               min=1, max=200, width=8),
        Column("Date", "date", Kind.DATE, True, ("Dose date", "Visit date"),
               "Date given (or planned date if not given)."),
        Column("Drug", "drug", Kind.TEXT, True, ("Treatment",), "A drug of the protocol profile.",
               lists="drugs"),
        Column("Dose", "dose", Kind.NUMBER, False, ("Actual dose",), "Dose given, a number > 0.",
               min=0, max=10000, required_if="action is Given or Reduced", width=10),
        Column("Unit", "unit", Kind.CHOICE, False, ("Dose unit",), "mg or mg/kg.",
               choices=("mg", "mg/kg"), required_if="a dose is entered", width=8),
        Column("Weight", "weight", Kind.NUMBER, False, doc="Weight used for this dose (weight-based drugs).",
               min=25, max=250, unit="kg", width=12),
        Column("Action", "action", Kind.CHOICE, True, ("Status",),
               "Given, Reduced, Delayed, Held or Discontinued.", choices=ACTIONS),
        Column("Reason", "reason", Kind.TEXT, False, doc="Why not Given as planned.", width=24),
        Column("End date", "end_date", Kind.DATE, False, ("Last dose date", "Stop date", "EXENDTC"),
               "Optional, for continuous (daily) dosing: the last day of the dosing period that starts "
               "on Date; blank while it goes on."),
    ),
    doc="One row per drug administration (or planned administration).",
    record_key=("subject", "cycle", "drug"),
)

LABS = Sheet(
    "Labs",
    (
        SUBJECT,
        Column("Date", "date", Kind.DATE, True, ("Collection date",), "Date the sample was taken."),
        Column("Test", "test", Kind.TEXT, True, ("Lab test", "Parameter"),
               "A test code (ALT) or name (Alanine aminotransferase, SGPT).", lists="tests", width=18),
        Column("Result", "result", Kind.NUMBER, True, ("Value",),
               "A number, a qualified number (<0.5) or ND; urine protein dipstick as Neg, Trace, 1+ .. 4+.",
               width=10),
        Column("Unit", "unit", Kind.TEXT, False, doc="Unit of the result, e.g. U/L, umol/L, g/L, 10^9/L.",
               required_if="a result is entered", width=10),
        Column("LLN", "lln", Kind.NUMBER, False, ("Lower limit",), "Site lab lower limit of normal, same unit.",
               width=8),
        Column("ULN", "uln", Kind.NUMBER, False, ("Upper limit",), "Site lab upper limit of normal, same unit.",
               width=8),
        Column("Comment", "comment", Kind.TEXT, False, doc="Free text.", width=24),
        Column("Specimen", "specimen", Kind.TEXT, False, ("LBSPEC", "Specimen type", "Sample type"),
               "Optional: Urine, Serum, Plasma, Blood. Tells urine pH, protein, glucose and bilirubin from "
               "the blood tests of the same name (else the name and unit decide).", width=12),
    ),
    doc="Long form: one row per result.",
    record_key=("subject", "date", "test"),
)

AE_ACTIONS = ("None", "Dose delayed", "Dose reduced", "Drug interrupted", "Drug withdrawn")
AE_OUTCOMES = ("Recovered", "Recovering", "Not recovered", "Recovered with sequelae", "Fatal", "Unknown")

ADVERSE_EVENTS = Sheet(
    "AdverseEvents",
    (
        SUBJECT,
        Column("AE number", "ae_number", Kind.INT, True, ("AE #", "AE no", "Seq", "AE seq"),
               "Number of the AE, unique per subject.", min=1, max=10000, width=10),
        Column("CTCAE term", "term", Kind.TEXT, True, ("Term", "CTCAE v5 term"), "A CTCAE v5.0 term.",
               lists="ctcae", width=30),
        Column("Verbatim term", "verbatim", Kind.TEXT, False, ("Reported term",),
               "The investigator's words.", width=24),
        Column("Grade", "grade", Kind.INT, True, ("CTCAE grade",), "1-5, and defined for the term.",
               min=1, max=5, width=8),
        Column("Onset date", "onset", Kind.PARTIAL_DATE, True, ("Start date",),
               "Date of onset; partial allowed (2022-07, UNK-JUL-2022)."),
        Column("End date", "end", Kind.PARTIAL_DATE, False, ("Resolution date",),
               "Date resolved; blank while ongoing; partial allowed."),
        Column("Ongoing", "ongoing", Kind.YESNO, True, doc="Y or N.", width=9),
        Column("Serious", "serious", Kind.YESNO, True, ("SAE",), "Y or N.", width=9),
        Column("Date aware", "date_aware", Kind.DATE, False, ("Site awareness date",),
               "Date the site became aware of the SAE.", required_if="serious"),
        Column("Date reported", "date_reported", Kind.DATE, False, ("SAE report date",),
               "Date the SAE was reported to the sponsor.", required_if="serious"),
        Column("Action taken", "action", Kind.CHOICE, False, doc=", ".join(AE_ACTIONS) + ".",
               choices=AE_ACTIONS, width=16),
        Column("Outcome", "outcome", Kind.CHOICE, False, doc=", ".join(AE_OUTCOMES) + ".",
               choices=AE_OUTCOMES, choice_aliases={"resolved": "Recovered", "death": "Fatal", "died": "Fatal",
                                                     "recovered/resolved": "Recovered",
                                                     "recovered/resolved with sequelae": "Recovered with sequelae",
                                                     "resolved with sequelae": "Recovered with sequelae",
                                                     "not recovered": "Not recovered", "unk": "Unknown",
                                                     "recovering/resolving": "Recovering",
                                                     "not recovered/not resolved": "Not recovered"},
               width=16),
        Column("Immune-related", "immune", Kind.YESNO, False, ("irAE",), "Y or N.", width=10),
    ),
    doc="One row per adverse event; may have no rows. Add one `Related to DRUG` column (Y/N) per "
        "drug of the profile.",
    record_key=("subject", "ae_number"),
    dynamic="related",
)

VITALS = Sheet(
    "Vitals",
    (
        SUBJECT,
        Column("Date", "date", Kind.DATE, True, doc="Date measured."),
        Column("Systolic BP", "sbp", Kind.NUMBER, False, ("SBP", "Systolic"), "Systolic blood pressure.",
               min=50, max=300, unit="mmHg", width=12),
        Column("Diastolic BP", "dbp", Kind.NUMBER, False, ("DBP", "Diastolic"), "Diastolic blood pressure.",
               min=20, max=200, unit="mmHg", width=12),
        Column("Weight", "weight", Kind.NUMBER, False, doc="Weight.", min=25, max=250, unit="kg", width=12),
        Column("ECOG", "ecog", Kind.INT, False, doc="ECOG performance status 0-5.", min=0, max=5, width=8),
    ),
    required=False,
    doc="Optional: blood pressure, weight and ECOG by date.",
    record_key=("subject", "date"),
)

LESION_TYPES = ("Target", "Non-target", "New", "New (equivocal)")   # RECIST 1.1 section 4.3.5
# "Further increase": iRECIST (Seymour 2017) -- non-target disease grew again after an iUPD
NON_TARGET_STATUS = ("Present", "Absent", "Unequivocal progression", "Further increase")
RESPONSES = ("CR", "PR", "SD", "PD", "NE")

TUMOR = Sheet(
    "Tumor",
    (
        SUBJECT,
        Column("Date", "date", Kind.DATE, True, ("Assessment date", "Scan date"), "Date of the scan."),
        Column("Lesion ID", "lesion", Kind.ID, True, ("Lesion",), "The lesion's ID, the same at every scan."),
        Column("Lesion type", "lesion_type", Kind.CHOICE, True, ("Type",), "Target, Non-target, New, or New (equivocal) for a "
               "possible new lesion (RECIST 1.1 section 4.3.5: progression from the date first seen once a "
               "later scan confirms it as New).",
               choices=LESION_TYPES, choice_aliases={"nontarget": "Non-target", "nt": "Non-target",
                                                      "t": "Target", "equivocal": "New (equivocal)",
                                                      "equivocal new": "New (equivocal)",
                                                      "new equivocal": "New (equivocal)"}),
        Column("Location", "location", Kind.TEXT, False, ("Site", "Organ"), "Organ or site.", width=16),
        Column("Diameter", "diameter", Kind.NUMBER, False, ("Longest diameter", "LD"),
               "Target lesions: longest diameter (short axis for lymph nodes); measured new lesions.",
               min=0, max=500, unit="mm", width=12),
        Column("Non-target status", "nt_status", Kind.CHOICE, False, doc="Present, Absent, "
               "Unequivocal progression, or Further increase (iRECIST: grew again after an unconfirmed "
               "progression).", choices=NON_TARGET_STATUS,
               choice_aliases={"up": "Unequivocal progression", "progression": "Unequivocal progression"},
               width=18),
        Column("Investigator response", "inv_response", Kind.CHOICE, False, ("Response", "Overall response"),
               "CR, PR, SD, PD or NE for the assessment date.", choices=RESPONSES, width=12),
        Column("Slice thickness", "slice_mm", Kind.NUMBER, False, ("CT slice thickness", "Slice"),
               "Optional: CT/MRI slice thickness; above 5 mm a lesion must be twice the slice to be "
               "measurable (RECIST 1.1 section 3.1.1).", min=0, max=20, unit="mm", width=10),
        Column("Viable diameter", "viable", Kind.NUMBER, False, ("Viable tumour diameter", "Enhancing diameter",
                                                                  "mRECIST diameter"),
               "Optional, HCC: longest diameter of the viable (arterially enhancing) tumour, 0 when no "
               "enhancement is left (mRECIST, Lencioni & Llovet 2010).", min=0, max=500, unit="mm", width=12),
    ),
    required=False,
    doc="Optional: RECIST 1.1, one row per lesion per assessment.",
    record_key=("subject", "date", "lesion"),
)

CONMEDS = Sheet(
    "ConMeds",
    (
        SUBJECT,
        Column("Drug", "drug", Kind.TEXT, True, ("Medication", "Drug name", "CMTRT"),
               "Concomitant medication, generic name (prednisone, methylprednisolone ...).", width=20),
        Column("Dose", "dose", Kind.NUMBER, False, ("Daily dose",), "Total daily dose, a number > 0.",
               min=0, max=100000, width=10),
        Column("Unit", "unit", Kind.TEXT, False, ("Dose unit",), "Unit of the daily dose: mg or mg/day.",
               required_if="a dose is entered", width=10),
        Column("Start date", "start", Kind.DATE, True, ("Start",), "First day taken at this dose."),
        Column("End date", "end", Kind.DATE, False, ("Stop date", "End"), "Last day taken at this dose; "
               "blank while ongoing."),
        Column("Indication", "indication", Kind.TEXT, False, ("Reason",), "What it is given for "
               "(e.g. immune-related pneumonitis).", width=24),
    ),
    required=False,
    doc="Optional: concomitant medications, one row per drug and dose period (a steroid taper is one row "
        "per dose step); the hold rules' steroid condition reads systemic corticosteroids from it.",
    record_key=("subject", "drug", "start"),
)

SHEETS: tuple[Sheet, ...] = (STUDY, SUBJECTS, CYCLES, LABS, ADVERSE_EVENTS, VITALS, TUMOR, CONMEDS)
SHEETS_BY_NAME = {s.name: s for s in SHEETS}
SHEET_ALIASES = {
    "Subjects": ("Subject", "Patients", "Demographics"),
    "Cycles": ("Dosing", "Exposure", "Administrations"),
    "Labs": ("Lab", "Laboratory", "Lab results"),
    "AdverseEvents": ("AE", "AEs", "Adverse events"),
    "Vitals": ("Vital signs",),
    "Tumor": ("Tumour", "RECIST", "Tumor assessments"),
    "ConMeds": ("CM", "Concomitant medications", "Con meds"),
}


def related_column(drug: str) -> Column:
    """The `Related to DRUG` column of AdverseEvents, one per profile drug."""
    return Column(f"Related to {drug}", f"related__{drug}", Kind.YESNO, True,
                  doc=f"Y if the investigator judges the AE related to {drug}.", width=12)


def columns_for(sheet: Sheet, drugs: list[str] | tuple[str, ...] = ()) -> tuple[Column, ...]:
    if sheet.dynamic == "related":
        return sheet.columns + tuple(related_column(d) for d in drugs)
    return sheet.columns
