"""The one Finding type every rule produces, and the severities."""

from __future__ import annotations

import enum
import hashlib
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

    @property
    def where(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        if self.sheet and self.row:
            return f"{self.sheet}!{self.row}:{self.row}"
        return self.sheet or "-"

    def to_dict(self) -> dict:
        # plain getattr: dataclasses.asdict deep-copies every field and is ~10x slower
        return {k: getattr(self, k) for k in FINDING_FIELDS}


FINDING_FIELDS = (
    "id", "rule", "name", "severity", "sheet", "cell", "row", "subject",
    "message", "suggestion", "column",
)


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
