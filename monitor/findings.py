"""The one Finding type every rule produces, and the severities."""

from __future__ import annotations

import enum
import hashlib
import operator
from dataclasses import dataclass


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: info 0 .. critical 3."""
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown severity {text!r}: use one of critical, major, minor, info"
            ) from None


_RANK = {Severity.INFO: 0, Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True)
class Finding:
    """One problem, pointed at a cell where it has one."""

    id: str
    rule: str
    name: str
    severity: str
    sheet: str | None
    cell: str | None
    row: int | None
    subject: str | None
    message: str
    suggestion: str | None = None
    column: str | None = None  # header of the column the cell is in
    group: str | None = None   # same cause on many rows: rule + sheet + column + message template

    @property
    def where(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        if self.sheet and self.row:
            return f"{self.sheet}!{self.row}:{self.row}"
        return self.sheet or "-"

    def to_dict(self) -> dict:
        # one attrgetter call: dataclasses.asdict deep-copies every field and is ~10x slower
        return dict(zip(FINDING_FIELDS, _FIELD_VALUES(self)))


FINDING_FIELDS = (
    "id", "rule", "name", "severity", "sheet", "cell", "row", "subject",
    "message", "suggestion", "column", "group",
)
_FIELD_VALUES = operator.attrgetter(*FINDING_FIELDS)   # a finding -> its values in FINDING_FIELDS order


# What varies between rows of one cause: quoted cell values, numbers and dates. The rest of the
# message is the cause's template ("Term '…' is not a CTCAE v5.0 term.").
TEMPLATE_PARTS = (r"'[^']*'", "'…'"), (r"\d+(?:[.,]\d+)*", "#")


def message_template(message: str) -> str:
    import re

    for pat, rep in TEMPLATE_PARTS:
        message = re.sub(pat, rep, message or "")
    return message


def per_subject(rule: str, severity: str = "") -> bool:
    """Whether a rule's findings are a signal of one subject (a lab grade without its AE, a
    dose during a hold, Hy's law ...), grouped per subject, or a data-entry cause (WB, LAB0xx,
    AE0xx: an unknown test code, an ambiguous date format) grouped across subjects. Critical
    findings are always per subject."""
    import re

    if severity == "critical":
        return True
    return not (rule.startswith("WB") or re.fullmatch(r"(LAB|AE)0\d\d", rule or ""))


def group_id(rule: str, sheet: str | None, column: str | None, template: str, subject: str | None = None) -> str:
    """Stable id of a cause: the same rule, sheet, column and message template (and, for a
    per-subject signal, the same subject) give the same group on every run and in every
    workbook, so a data manager can filter by it."""
    raw = "\x1f".join([rule, sheet or "", column or "", template] + ([subject or ""] if subject is not None else []))
    return "g" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:11]


def finding_id(rule: str, sheet: str | None, field: str | None, key: str, ordinal: int = 0) -> str:
    """Stable id: the same problem on the same record gives the same id on every run.

    Built from the rule code, the sheet, the column and the record's key fields (subject,
    date, test, AE number ...), never from the row number alone, so inserting a row above
    does not change it.  `ordinal` separates true duplicates of the same key.
    """
    raw = "\x1f".join([rule, sheet or "", field or "", key, str(ordinal)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def sort_key(f: Finding):
    return (-Severity(f.severity).rank, f.sheet or "", f.row or 0, f.cell or "", f.rule, f.id)
