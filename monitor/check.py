"""Run every rule over a read workbook: Checker -> Result. Reporters only read the Result."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import polars as pl

from . import __version__
from .ctcae.terms import load_terms
from .findings import Finding, Severity, finding_id, sort_key
from .labs.catalogue import load_catalogue
from .rules.base import FRAME_SCHEMA, Context
from .rules.registry import RULE_CRASHED, RULES
from .workbook.reader import Limits, Workbook, read_workbook


@dataclass
class Result:
    workbook: str
    sha256: str
    profile: str
    tool_version: str
    generated: str
    findings: list
    not_evaluated: list = field(default_factory=list)   # [(code, reason)]
    wb: Workbook | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "workbook": self.workbook,
            "sha256": self.sha256,
            "profile": self.profile,
            "tool_version": self.tool_version,
            "generated": self.generated,
            "findings": [f.to_dict() for f in self.findings],
        }

    def count(self, at_least: Severity) -> int:
        return sum(1 for f in self.findings if Severity(f.severity).rank >= at_least.rank)

    def by_severity(self) -> dict:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity] += 1
        return out


def _gated(rule, wb: Workbook) -> str | None:
    for sheet, keys in rule.needs:
        sd = wb.get(sheet)
        if sd is None:
            return f"sheet {sheet} is absent"
        if sd.header_row is None:
            return f"sheet {sheet} has no header row"
        missing = [k for k in keys if k not in sd.columns]
        if missing:
            return f"{sheet} lacks column(s) {', '.join(missing)}"
    return None


def run_rules(ctx: Context, rules=RULES) -> tuple[list, list]:
    frames, skipped = [], []
    for rule in rules:
        why = _gated(rule, ctx.wb)
        if why:
            skipped.append((rule.code, why))
            continue
        try:
            df = rule.check(ctx)
        except Exception as e:  # one crashing rule never stops the others
            tb = traceback.extract_tb(e.__traceback__)[-1]
            df = pl.DataFrame([{"sheet": None, "row": None, "field": None, "cell": None, "subject": None,
                                "message": f"Rule {rule.code} ({rule.name}) crashed: {type(e).__name__}: {e} "
                                           f"[{tb.name}:{tb.lineno}]; its checks did not run.",
                                "suggestion": None, "key": rule.code}], schema=FRAME_SCHEMA)
            rule = RULE_CRASHED
        if df is None or df.height == 0:
            continue
        frames.append(df.select(list(FRAME_SCHEMA)).with_columns(
            pl.lit(rule.code).alias("rule"), pl.lit(rule.name).alias("name"),
            pl.lit(rule.severity.value).alias("severity")))
    return frames, skipped


def to_findings(frames: list, wb: Workbook) -> list:
    if not frames:
        return []
    df = pl.concat(frames)
    out, seen = [], {}
    for r in df.iter_rows(named=True):
        sd = wb.sheets.get(r["sheet"]) if r["sheet"] else None
        sheet_name = sd.name if sd else (r["sheet"] if r["sheet"] != "Study" else _study_name(wb))
        cell, column = r["cell"], None
        if r["field"] and sd is not None:
            letter = sd.letter(r["field"])
            column = sd.header(r["field"])
            if letter and r["row"] is not None:
                cell = f"{letter}{r['row']}"
        base = (r["rule"], r["sheet"] or "", r["field"] or "", r["key"] or "")
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(Finding(
            id=finding_id(r["rule"], r["sheet"], r["field"], r["key"] or "", n),
            rule=r["rule"], name=r["name"], severity=r["severity"], sheet=sheet_name,
            cell=cell, row=r["row"], subject=r["subject"], message=r["message"],
            suggestion=r["suggestion"], column=column))
    # a formula cell without a saved value is reported once, by WB005, not again as blank
    formula = {(sheet, cell) for sheet, cell in wb.formula_cells}
    out = [f for f in out if f.rule == "WB005" or (f.sheet, f.cell) not in formula]
    out.sort(key=sort_key)
    return out


def _study_name(wb: Workbook) -> str:
    from .workbook.reader import match_sheets

    return match_sheets(wb.sheet_names).get("Study", "Study")


def check_workbook(path, profile, today: date | None = None, now: datetime | None = None,
                   max_unpacked_mb: float = 200, limits: Limits | None = None) -> Result:
    """Read and check one workbook. Raises WorkbookError when it cannot be read at all or is
    over a resource limit (`limits`; without it the defaults with `max_unpacked_mb`)."""
    now = now or datetime.now(timezone.utc)
    today = today or now.date()
    wb = read_workbook(path, drugs=profile.drug_names, max_unpacked_mb=max_unpacked_mb, limits=limits)
    ctx = Context(wb, profile, load_terms(), load_catalogue(), today)
    frames, skipped = run_rules(ctx)
    findings = to_findings(frames, wb)
    return Result(str(path), wb.sha256, profile.name, __version__,
                  now.replace(microsecond=0).isoformat(), findings, skipped, wb)
