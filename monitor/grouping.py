"""One cause on many rows is one finding to read: findings that share a `group` (the same rule,
sheet, column and message template, monitor.findings.group_id) are shown together in the text
output, the annotated copy's Findings sheet and the PDF listing, with their count and first
cells ("Labs!C2, C7, C12, C20, C33 and 766 more"). JSON and CSV keep every row, each with its
group id, so nothing is lost for the data manager."""

from __future__ import annotations

from dataclasses import dataclass, field

GROUP_MIN = 3        # a cause on at least this many rows is shown as one group
SHOWN_CELLS = 5      # cells named in a group's line


@dataclass
class Group:
    """Findings of one cause, in the order of the findings (the first is the example)."""

    members: list = field(default_factory=list)

    @property
    def first(self):
        return self.members[0]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def subjects(self) -> list:
        return list(dict.fromkeys(f.subject for f in self.members if f.subject))

    def cells_text(self, shown: int = SHOWN_CELLS) -> str:
        """"Labs!C2, C7, C12, C20, C33 and 766 more": the sheet named once, then the cells."""
        out, sheet = [], None
        for f in self.members[:shown]:
            where = f.where
            if f.sheet and f.cell and f.sheet == sheet:
                where = f.cell
            sheet = f.sheet
            out.append(where)
        more = self.count - len(out)
        return ", ".join(out) + (f" and {more} more" if more > 0 else "")

    def subjects_text(self, shown: int = 3) -> str:
        subs = self.subjects
        if not subs:
            return ""
        if len(subs) == 1:
            return subs[0]
        return ", ".join(subs[:shown]) + (f" +{len(subs) - shown}" if len(subs) > shown else "")


def grouped(findings, min_rows: int = GROUP_MIN) -> list:
    """The findings with every cause of `min_rows` or more rows folded into one Group, placed
    where its first finding was; the other findings stay as they are."""
    by_group: dict = {}
    for f in findings:
        g = getattr(f, "group", None)
        if g:
            by_group.setdefault(g, []).append(f)
    out, placed = [], set()
    for f in findings:
        g = getattr(f, "group", None)
        members = by_group.get(g) if g else None
        if members is None or len(members) < min_rows:
            out.append(f)
        elif g not in placed:
            placed.add(g)
            out.append(Group(members))
    return out
