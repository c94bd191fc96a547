"""The report's view model: plain, picklable records built from a check Result.

Everything the PDF shows is decided here, as text: dates, doses, lab values with their CTCAE
grade, the adverse events active in a cycle, the findings attached to it. The template only
reads these records; charts are drawn from the plain series kept here (charts.py). Nothing in
this module writes markup.

Cycle periods. A cycle starts on its dose date and ends the day before the next cycle (the
last cycle: `cycle_days` later). Records with a date (labs, vitals, scans, AE onsets, and the
findings on them) are attached to the cycle whose *window* holds the date, where the window
starts `predose_lab_days` before the dose date, so a pre-dose panel belongs to the cycle it
precedes. A lab drawn in [dose - predose_lab_days, dose] is a pre-dose lab of that cycle.

What is shown is read from the workbook and the CTCAE grades (monitor.derive.labs); protocol
derivations (dose intensity, marker response, RECIST time-point response) fill in from the
tables `monitor.export.build_tables` returns once they exist (see docs/report.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import polars as pl


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# Clinical reading order of the lab strip; tests not listed follow alphabetically.
LAB_ORDER = ("ALT", "AST", "BILI", "ALP", "GGT", "ALB", "INR", "CREAT", "UPROT", "UPROT24",
             "HGB", "PLAT", "NEUT", "WBC", "LYM", "K", "SODIUM", "CA", "CAION", "MG", "GLUC",
             "AMYLASE", "LIPASE", "CK", "LDH", "TSH", "FT4", "AFP", "PIVKA2")
LAB_LABEL = {"PIVKA2": "PIVKA-II", "UPROT": "U-prot", "UPROT24": "U-prot 24h", "SODIUM": "Na",
             "CREAT": "Creat", "GLUC": "Gluc", "AMYLASE": "Amyl", "LIPASE": "Lipase",
             "CAION": "Ca ion"}
MARKERS = ("AFP", "PIVKA2")
LIVER = ("ALT", "AST", "BILI")
SEVERITIES = ("critical", "major", "minor", "info")
RESPONSE_RANK = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NE": 4}


class ReportError(Exception):
    """The report cannot be made as asked (unknown subject or cycle); exit code 2."""


# ------------------------------------------------------------------------------ records

LISTING_PER_RULE = 25    # rows of one rule in one findings table; the rest is one "and N more" row


def capped(rows: list, per_rule: int = LISTING_PER_RULE) -> list:
    """A findings table with at most `per_rule` rows of each rule, then one row saying how many
    more there are: 100,000 identical Labs rows (100,000 findings of one rule) would otherwise
    take WeasyPrint hours to lay out. findings.csv and the annotated copy list every finding."""
    seen: dict = {}
    out = []
    for r in rows:
        n = seen.get(r.rule, 0)
        seen[r.rule] = n + 1
        if n < per_rule:
            out.append(r)
    for rule, n in seen.items():
        if n > per_rule:
            first = next(r for r in rows if r.rule == rule)
            at = max(i for i, r in enumerate(out) if r.rule == rule) + 1
            out.insert(at, FindingRow("", first.severity, rule, first.name, "", first.subject,
                                      f"… and {n - per_rule:,} more {rule} findings, not listed here; "
                                      "findings.csv and the annotated copy list them all.", ""))
    return out


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


@dataclass
class Chart:
    key: str            # asset name the renderer serves, e.g. "chart-001-markers.svg"
    kind: str           # markers | liver | tumour | swimmer
    title: str
    data: dict          # the plain series charts.py draws from
    empty: str = ""     # why there is nothing to draw ("" = draw it)


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


# ------------------------------------------------------------------------------ formatting

def fmt_date(d) -> str:
    if d is None:
        return ""
    return f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year:04d}"


def fmt_num(v, digits: int = 6) -> str:
    if v is None:
        return ""
    if float(v).is_integer() and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.{digits}g}"


def _s(v) -> str:
    return "" if v is None else str(v)


def _yn(v) -> str:
    return "" if v is None else ("Y" if v else "N")


def grade_css(g) -> str:
    if g is None:
        return "ng"
    return f"g{min(int(g), 4)}"


def family(rule: str) -> str:
    m = re.match(r"[A-Z]+", rule or "")
    return m.group(0) if m else "?"


def _norm(text) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


def slug(text: str) -> str:
    """A name safe in ids and asset names; text that needed changing gets a short hash so two
    subjects never share one."""
    text = str(text)
    safe = re.sub(r"[^0-9A-Za-z_-]+", "_", text)
    if safe != text or not safe:
        import hashlib

        safe += "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return safe


# ------------------------------------------------------------------------------ frames

def _frame(wb, sheet: str, keys: dict) -> pl.DataFrame:
    """The sheet's typed frame with the given columns (key -> dtype); absent columns are null,
    so a workbook missing an optional column still gives a report."""
    sd = wb.get(sheet) if wb is not None else None
    cols = {"_row": pl.Int64, **keys}
    if sd is None or sd.header_row is None:
        return pl.DataFrame(schema=cols)
    have = sd.frame.columns
    return sd.frame.select([(pl.col(k).cast(t, strict=False) if k in have else pl.lit(None, dtype=t)).alias(k)
                            for k, t in cols.items()])


def _subject_rows(df: pl.DataFrame) -> dict:
    """subject -> list of row dicts (one pass, grouped in polars)."""
    if df.height == 0:
        return {}
    out = {}
    for part in df.filter(pl.col("subject").is_not_null()).partition_by("subject", maintain_order=True):
        out[part["subject"][0]] = part.to_dicts()
    return out


# ------------------------------------------------------------------------------ the builder

def build_view(result, profile, *, generated: datetime, tool_version: str, subject: str | None = None,
               cycle: int | None = None, previous_ids: set | None = None, tables: dict | None = None,
               labs: pl.DataFrame | None = None) -> ReportView:
    """Build the view model of a whole-study report, one subject's report (`subject`) or the
    one-cycle summary (`subject` and `cycle`). `generated` and `tool_version` are passed in so
    that the same inputs give the same report. `previous_ids`: finding ids of an earlier run
    (marks the new ones); None when there is no history."""
    if cycle is not None and subject is None:
        raise ReportError("--cycle needs --subject: the one-cycle summary is for one subject")
    wb = result.wb
    tables = tables or {}
    if labs is None:
        labs = tables.get("labs")
    if labs is None:
        from ..derive.labs import graded_labs
        from ..labs.catalogue import load_catalogue

        labs = graded_labs(wb.get("Labs"), wb.get("Cycles"), load_catalogue())
    b = _Builder(result, profile, generated, labs, previous_ids, tables)
    ids = b.subject_ids
    if subject is not None and subject not in ids:
        known = ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else "")
        raise ReportError(f"subject {subject!r} is not on the Subjects sheet (subjects: {known or 'none'})")
    scope = "study" if subject is None else ("subject" if cycle is None else "cycle")
    chosen = ids if subject is None else [subject]
    subjects = [b.subject_view(s) for s in ids]
    by_id = {s.id: s for s in subjects}
    meta = b.meta(scope, subject, cycle, tool_version)
    view = ReportView(
        meta=meta, counts=b.counts(subjects), subjects_table=subjects,
        findings_matrix=b.findings_matrix(), severity_totals=result.by_severity(),
        severe_aes=[(s.id, ae) for s in subjects for ae in s.aes if (ae.grade_n or 0) >= 3],
        swimmer=b.swimmer_charts(subjects) if scope == "study" else [],
        subjects=[by_id[s] for s in chosen],
        findings_groups=b.findings_groups(None if subject is None else {subject}),
        n_findings=len(result.findings), n_new=b.n_new,
        not_evaluated=list(result.not_evaluated or []),
    )
    if scope == "cycle":
        sv = by_id[subject]
        match = [c for c in sv.cycles if c.number == cycle]
        if not match:
            have = ", ".join(str(c.number) for c in sv.cycles) or "none"
            raise ReportError(f"subject {subject} has no cycle {cycle} (cycles: {have})")
        view.cycle, view.cycle_subject = match[0], sv
        view.findings_groups = b.findings_groups({subject})
    return view


class _Builder:
    def __init__(self, result, profile, generated, labs, previous_ids, tables):
        self.result, self.profile, self.generated = result, profile, generated
        self.wb = result.wb
        self.previous = previous_ids
        self.tables = tables
        sched = profile.schedule
        self.cycle_days = int(sched.get("cycle_days", 21))
        self.predose = int(sched.get("predose_lab_days", 3))
        self.drugs = profile.drugs
        self.lookup = {_norm(k): v for k, v in profile.drug_lookup().items()}
        self.today = generated.date()
        wb = self.wb
        self.subjects_df = _frame(wb, "Subjects", {
            "subject": pl.String, "sex": pl.String, "age": pl.Int64, "weight": pl.Float64,
            "consent_date": pl.Date, "child_pugh": pl.String, "bclc": pl.String, "ecog": pl.Int64,
            "off_date": pl.Date, "off_reason": pl.String}).filter(pl.col("subject").is_not_null())
        self.subject_ids = list(dict.fromkeys(self.subjects_df["subject"].to_list()))
        cyc = _frame(wb, "Cycles", {"subject": pl.String, "cycle": pl.Int64, "date": pl.Date,
                                    "drug": pl.String, "dose": pl.Float64, "unit": pl.String,
                                    "weight": pl.Float64, "action": pl.String, "reason": pl.String})
        self.cycles_df = cyc.filter(pl.col("subject").is_not_null() & pl.col("cycle").is_not_null())
        # one row per subject-cycle: its date (the earliest date entered for it) and window
        self.cycle_table = (
            self.cycles_df.filter(pl.col("date").is_not_null() & (pl.col("date") <= self.today))
            .group_by("subject", "cycle").agg(pl.col("date").min())
            .sort("subject", "date", "cycle")
            .with_columns(pl.col("date").shift(-1).over("subject").alias("next_date"))
            .with_columns((pl.col("date") - pl.duration(days=self.predose)).alias("window_start"))
        )
        ae_keys = {"subject": pl.String, "ae_number": pl.Int64, "term": pl.String, "verbatim": pl.String,
                   "grade": pl.Int64, "onset": pl.Date, "onset__lo": pl.Date, "end": pl.Date,
                   "end__hi": pl.Date, "ongoing": pl.Boolean, "serious": pl.Boolean, "action": pl.String,
                   "outcome": pl.String, "immune": pl.Boolean}
        ae_keys.update({f"related__{d.name}": pl.Boolean for d in self.drugs})
        self.ae_df = _frame(wb, "AdverseEvents", ae_keys).with_columns(
            pl.coalesce("onset__lo", "onset").alias("start"), pl.coalesce("end__hi", "end").alias("stop"))
        self.vitals_df = _frame(wb, "Vitals", {"subject": pl.String, "date": pl.Date, "sbp": pl.Float64,
                                               "dbp": pl.Float64, "weight": pl.Float64, "ecog": pl.Int64})
        self.tumor_df = _frame(wb, "Tumor", {"subject": pl.String, "date": pl.Date, "lesion": pl.String,
                                             "lesion_type": pl.String, "location": pl.String,
                                             "diameter": pl.Float64, "nt_status": pl.String,
                                             "inv_response": pl.String})
        self.labs = self._labs(labs)
        self.first_dose = dict(
            self.cycles_df.filter(pl.col("action").is_in(["Given", "Reduced", "Delayed"]) & pl.col("date").is_not_null()
                                  & pl.col("dose").is_not_null() & (pl.col("date") <= self.today))
            .group_by("subject").agg(pl.col("date").min()).iter_rows())
        self._by_subject = {
            "cycles": _subject_rows(self.cycles_df.sort("subject", "cycle", "date", "_row")),
            "ae": _subject_rows(self.ae_df.sort("subject", "ae_number", "_row")),
            "labs": _subject_rows(self.labs),
            "vitals": _subject_rows(self._with_cycle(self.vitals_df).sort("subject", "date", "_row")),
            "tumor": _subject_rows(self._with_cycle(self.tumor_df).sort("subject", "date", "_row")),
            "ctab": _subject_rows(self.cycle_table),
        }
        self._findings()

    # ---------------------------------------------------------------- attaching by date
    def _with_cycle(self, df: pl.DataFrame, on: str = "date") -> pl.DataFrame:
        """Add `cycle` (the cycle whose window holds the date) and `predose` (within
        predose_lab_days before or on the dose date) to a frame with subject and a date."""
        if df.height == 0:
            return df.with_columns(pl.lit(None, dtype=pl.Int64).alias("cycle"),
                                   pl.lit(False).alias("predose"))
        # a window ends where the next one starts; the last one a cycle length after its dose
        ct = self.cycle_table.select(
            "subject", "window_start", pl.col("cycle").alias("__cycle"), pl.col("date").alias("__dose"),
            pl.coalesce(pl.col("window_start").shift(-1).over("subject") - pl.duration(days=1),
                        pl.col("date") + pl.duration(days=self.cycle_days - 1)).alias("__until"))
        left = df.with_row_index("__i").with_columns(pl.col(on).alias("__on"))
        dated = left.filter(pl.col("__on").is_not_null() & pl.col("subject").is_not_null()).sort("__on")
        joined = dated.join_asof(ct.sort("window_start"), left_on="__on", right_on="window_start",
                                 by="subject", strategy="backward", check_sortedness=False)
        inside = pl.col("__on") <= pl.col("__until")
        joined = joined.select("__i", pl.when(inside).then(pl.col("__cycle")).alias("__cycle"),
                               (inside & (pl.col("__on") <= pl.col("__dose"))).fill_null(False).alias("predose"))
        out = left.join(joined, on="__i", how="left").sort("__i")
        return out.drop("__i", "__on").rename({"__cycle": "cycle"}).with_columns(pl.col("predose").fill_null(False))

    def _labs(self, labs: pl.DataFrame) -> pl.DataFrame:
        need = {"row": pl.Int64, "subject": pl.String, "date": pl.Date, "test": pl.String,
                "test_as_entered": pl.String, "result_text": pl.String, "value": pl.Float64,
                "unit": pl.String, "value_si": pl.Float64, "lln": pl.Float64, "uln": pl.Float64,
                "uln_si": pl.Float64, "ctcae_grade": pl.Int64, "ctcae_term_low": pl.String,
                "ctcae_term_high": pl.String, "ctcae_grade_low": pl.Int64, "ctcae_grade_high": pl.Int64}
        if labs is None or labs.height == 0:
            return pl.DataFrame(schema={**need, "cycle": pl.Int64, "predose": pl.Boolean})
        have = labs.columns
        df = labs.select([(pl.col(k).cast(t, strict=False) if k in have else pl.lit(None, dtype=t)).alias(k)
                          for k, t in need.items()])
        df = df.with_columns(pl.coalesce("test", pl.col("test_as_entered")).alias("test"))
        return self._with_cycle(df).sort("subject", "date", "row")

    # ---------------------------------------------------------------- findings
    def _findings(self):
        res = self.result
        prev = self.previous
        self.n_new = 0
        sheet_key = {sd.name: key for key, sd in self.wb.sheets.items()} if self.wb else {}
        self.rows = []
        for f in res.findings:
            new = prev is not None and f.id not in prev
            self.n_new += new
            self.rows.append((f, FindingRow(f.id, f.severity, f.rule, f.name, f.where, f.subject or "",
                                            f.message, f.suggestion or "", new)))
        # where a finding's row is: (schema sheet, Excel row) -> (subject, cycle)
        loc = {}
        for key, df in (("Cycles", self.cycles_df.select("_row", "subject", "cycle")),
                        ("Labs", self.labs.select(pl.col("row").alias("_row"), "subject", "cycle")),
                        ("Vitals", self._with_cycle(self.vitals_df).select("_row", "subject", "cycle")),
                        ("Tumor", self._with_cycle(self.tumor_df).select("_row", "subject", "cycle")),
                        ("AdverseEvents", self._with_cycle(self.ae_df, on="start").select("_row", "subject", "cycle"))):
            for r, s, c in df.iter_rows():
                loc[(key, r)] = (s, c)
        self.by_cycle, self.by_subject_other, self.by_subject_row = {}, {}, {}
        for f, row in self.rows:
            key = sheet_key.get(f.sheet)
            s, c = loc.get((key, f.row), (f.subject, None))
            s = s or f.subject
            if s is None:
                continue
            if key == "Subjects":
                self.by_subject_row.setdefault(s, []).append(row)
            elif c is not None:
                self.by_cycle.setdefault((s, c), []).append(row)
            else:
                self.by_subject_other.setdefault(s, []).append(row)
        for d in (self.by_cycle, self.by_subject_other, self.by_subject_row):
            for k, rows in d.items():
                d[k] = capped(rows)

    def findings_matrix(self) -> list:
        fams = {}
        for f, _ in self.rows:
            fams.setdefault(family(f.rule), {s: 0 for s in SEVERITIES})[f.severity] += 1
        order = ["WB", "LAB", "AE", "VS", "DOSE", "MK", "RECIST"]
        keys = sorted(fams, key=lambda k: (order.index(k) if k in order else len(order), k))
        return [(k, fams[k], sum(fams[k].values())) for k in keys]

    def findings_groups(self, only: set | None) -> list:
        groups, study = {}, []
        for f, row in self.rows:
            if f.subject:
                groups.setdefault(f.subject, []).append(row)
            else:
                study.append(row)
        ids = self.subject_ids
        order = sorted(groups, key=lambda s: (s not in ids, ids.index(s) if s in ids else 0, s))
        out = []
        if study and only is None:
            out.append(("Workbook and study level", "findings-study", capped(study)))
        for s in order:
            if only is not None and s not in only:
                continue
            title = f"Subject {s}" + ("" if s in ids else " (not on the Subjects sheet)")
            out.append((title, f"findings-{slug(s)}", capped(groups[s])))
        return out

    # ---------------------------------------------------------------- study level
    def meta(self, scope, subject, cycle, tool_version) -> Meta:
        st = self.wb.study if self.wb else {}
        protocol = (st.get("protocol") or (None,))[0] or "(protocol not given)"
        site = (st.get("site") or (None,))[0] or "(site not given)"
        if scope == "study":
            title = f"Cycle safety summary - {protocol}, site {site}"
        elif scope == "subject":
            title = f"Subject {subject} - cycle safety summary - {protocol}, site {site}"
        else:
            title = f"Subject {subject}, cycle {cycle} - visit summary - {protocol}, site {site}"
        g = self.generated
        return Meta(title=title, scope=scope, protocol=protocol, site=site, profile=self.profile.name,
                    profile_title=getattr(self.profile, "title", self.profile.name),
                    workbook=self.result.workbook.replace("\\", "/").rsplit("/", 1)[-1],
                    sha256=self.result.sha256,
                    generated=g.strftime("%Y-%m-%d %H:%M UTC") if g.utcoffset() in (None, timedelta(0))
                    else g.strftime("%Y-%m-%d %H:%M %z"),
                    generated_iso=g.replace(microsecond=0).isoformat(),
                    tool_version=tool_version, data_cut=fmt_date(self.data_cut()),
                    predose_days=self.predose, history=self.previous is not None)

    def data_cut(self):
        """The latest date in the workbook that is not after the run date (a typo in the year
        must not move the data cut into the future; WB112 reports those)."""
        best = None
        for df, cols in ((self.cycles_df, ["date"]), (self.labs, ["date"]), (self.vitals_df, ["date"]),
                         (self.tumor_df, ["date"]), (self.ae_df, ["start", "stop"]),
                         (self.subjects_df, ["consent_date", "off_date"])):
            for c in cols:
                s = df.get_column(c).filter(df.get_column(c) <= self.today)
                m = s.max() if s.len() else None
                if m is not None and (best is None or m > best):
                    best = m
        return best

    def counts(self, subjects) -> dict:
        on = sum(1 for s in subjects if s.status.startswith("On treatment"))
        ae = self.ae_df.filter(pl.col("subject").is_not_null())
        return {
            "Subjects": len(subjects),
            "On treatment": on,
            "Off treatment": len(subjects) - on,
            "Cycles": self.cycle_table.height,
            "Administrations": self.cycles_df.filter(pl.col("action").is_in(["Given", "Reduced", "Delayed"])
                                                     & pl.col("dose").is_not_null()).height,
            "Lab results": self.labs.height,
            "Adverse events": ae.height,
            "Grade >= 3 AEs": ae.filter(pl.col("grade") >= 3).height,
            "Serious AEs": ae.filter(pl.col("serious").fill_null(False)).height,
        }

    def swimmer_charts(self, subjects, per_chart: int = 30) -> list:
        rows = []
        for s in subjects:
            ctab = self._by_subject["ctab"].get(s.id, [])
            first = self.first_dose.get(s.id)
            if first is None:
                continue
            srow = self._subject_row(s.id)
            off = srow.get("off_date")
            doses = [c["date"] for c in ctab]
            last = max(doses) if doses else first
            end = off if off is not None and off >= last else last + timedelta(days=self.cycle_days - 1)
            end = min(end, self.today)
            aes = [(( a["start"] - first).days, a["grade"]) for a in self._by_subject["ae"].get(s.id, [])
                   if a["start"] is not None and (a["grade"] or 0) >= 3]
            resp = sorted({(t["date"], t["inv_response"]) for t in self._by_subject["tumor"].get(s.id, [])
                           if t["inv_response"] and t["date"] is not None and t["date"] >= first})
            rows.append({"subject": s.id, "end": (end - first).days, "ongoing": off is None
                         and not s.status.startswith("Off"),
                         "doses": [(d - first).days for d in doses if d >= first],
                         "aes": aes, "responses": [((d - first).days, r) for d, r in resp]})
        charts = []
        for i in range(0, len(rows), per_chart):
            block = rows[i:i + per_chart]
            title = "Time on treatment" + (f" (subjects {block[0]['subject']} to {block[-1]['subject']})"
                                           if len(rows) > per_chart else "")
            charts.append(Chart(f"swimmer-{i // per_chart + 1}.svg", "swimmer", title,
                                {"rows": block, "xmax": max([r["end"] for r in rows] + [21])}))
        return charts

    # ---------------------------------------------------------------- one subject
    def _subject_row(self, sid) -> dict:
        if not hasattr(self, "_subject_rows"):
            self._subject_rows = {}
            for r in self.subjects_df.to_dicts():
                self._subject_rows.setdefault(r["subject"], r)
        return self._subject_rows.get(sid, {})

    def subject_view(self, sid: str) -> SubjectView:
        srow = self._subject_row(sid)
        ctab = self._by_subject["ctab"].get(sid, [])
        crows = self._by_subject["cycles"].get(sid, [])
        first = self.first_dose.get(sid)
        last = max((r["date"] for r in crows if r["date"] is not None and r["date"] <= self.today
                    and r["action"] in ("Given", "Reduced", "Delayed") and r["dose"] is not None), default=None)
        off, reason = srow.get("off_date"), srow.get("off_reason")
        if off is not None:
            status = f"Off treatment {fmt_date(off)}" + (f": {reason}" if reason else "")
        elif reason:
            status = f"Off treatment (date not readable): {reason}"
        elif first is None:
            status = "Not dosed"
        else:
            status = "On treatment"
        aes = [self._ae_row(a) for a in self._by_subject["ae"].get(sid, [])]
        tumor = self._by_subject["tumor"].get(sid, [])
        resp = [(t["date"], t["inv_response"]) for t in tumor if t["inv_response"] and t["date"] is not None]
        latest = max(resp)[1] + f" ({fmt_date(max(resp)[0])})" if resp else ""
        worst = max((a.grade_n for a in aes if a.grade_n is not None), default=None)
        nf = {s: 0 for s in SEVERITIES}
        for f, _ in self.rows:
            if f.subject == sid:
                nf[f.severity] += 1
        weight = srow.get("weight")
        units = {}
        for r in self._by_subject["labs"].get(sid, []):
            if r["test"] and r["unit"]:
                units.setdefault(r["test"], {}).setdefault(r["unit"], 0)
                units[r["test"]][r["unit"]] += 1
        usual = {t: max(sorted(u.items()), key=lambda kv: kv[1])[0] for t, u in units.items()}
        order = {t: i for i, t in enumerate(LAB_ORDER)}
        lab_units = ", ".join(f"{LAB_LABEL.get(t, t)} {usual[t]}"
                              for t in sorted(usual, key=lambda t: (order.get(t, len(order)), t)))
        cycles = [self._cycle_view(sid, c, ctab, crows, aes_raw=self._by_subject["ae"].get(sid, []),
                                   weight=weight, first=first, usual=usual) for c in ctab]
        sv = SubjectView(
            id=sid, anchor=f"subject-{slug(sid)}", sex=_s(srow.get("sex")), age=_s(srow.get("age")),
            weight=(fmt_num(weight) + " kg") if weight is not None else "",
            child_pugh=_s(srow.get("child_pugh")), bclc=_s(srow.get("bclc")), ecog=_s(srow.get("ecog")),
            consent=fmt_date(srow.get("consent_date")), first_dose=fmt_date(first), last_dose=fmt_date(last),
            status=status, n_cycles=len(ctab), latest_response=latest,
            worst_grade=f"G{worst}" if worst is not None else "", n_findings=nf, charts=[], cycles=cycles,
            aes=aes, subject_findings=self.by_subject_row.get(sid, []),
            other_findings=self.by_subject_other.get(sid, []), lab_units=lab_units)
        sv.charts = self._subject_charts(sid, ctab, crows, first)
        sv.derived = self._derived(sid)
        from .view_response import response_rows, response_summary   # tumour response reads, one call site
        sv.derived.update(response_summary(self.tables, sid))
        sv.responses = response_rows(self.tables, sid)
        return sv

    def _derived(self, sid) -> dict:
        """Values from the protocol-rules tables (`dosing`, `recist`, `markers` of
        monitor.export.build_tables) when they exist, read by column name; a table or column
        that is absent leaves its line out."""
        out = {}

        def table(name, *cols):
            df = self.tables.get(name)
            if not isinstance(df, pl.DataFrame) or not {"subject", *cols} <= set(df.columns):
                return None
            return df.filter(pl.col("subject") == sid)

        def first(df, col):
            vals = [v for v in df.get_column(col).to_list() if v is not None] if col in df.columns else []
            return vals[0] if vals else None

        d = table("dosing", "drug", "dose_intensity")
        if d is not None and d.height:
            parts = []
            for drug in self.drugs:
                v = first(d.filter(pl.col("drug") == drug.name), "dose_intensity")
                if isinstance(v, (int, float)):
                    parts.append(f"{drug.name} {v * 100:.0f}%")
            if parts:
                out["Dose intensity"] = ", ".join(parts)
            days = first(d, "time_on_treatment_days")
            if days is not None:
                out["Time on treatment"] = f"{days} days"
        r = table("recist", "best_overall_response")
        if r is not None and r.height:
            bor = first(r, "best_overall_response")
            if bor:
                text = str(bor)
                if first(r, "response_confirmed") is True:
                    text += " (confirmed)"
                prog = first(r, "progression_date")
                if prog is not None:
                    text += f"; progression {fmt_date(prog) if isinstance(prog, date) else prog}"
                out["Best overall response (RECIST 1.1, computed)"] = text
        m = table("markers", "marker", "response_confirmed", "progression_confirmed")
        if m is not None and m.height:
            parts = []
            for mk in MARKERS:
                mm = m.filter(pl.col("marker") == mk)
                if not mm.height:
                    continue
                if any(v is True for v in mm.get_column("progression_confirmed").to_list()):
                    state = "progression confirmed"
                elif any(v is True for v in mm.get_column("response_confirmed").to_list()):
                    state = "response confirmed"
                else:
                    state = "no confirmed response or progression"
                parts.append(f"{LAB_LABEL.get(mk, mk)} {state}")
            if parts:
                out["Markers"] = ", ".join(parts)
        return out

    def _computed_responses(self, sid) -> dict:
        """scan date -> RECIST 1.1 time-point response computed by the protocol rules, if present."""
        df = self.tables.get("recist")
        if not isinstance(df, pl.DataFrame) or not {"subject", "date", "time_point_response"} <= set(df.columns):
            return {}
        sub = df.filter(pl.col("subject") == sid)
        return {d: r for d, r in zip(sub["date"].to_list(), sub["time_point_response"].to_list()) if r}

    def _ae_row(self, a: dict) -> AERow:
        g = a.get("grade")
        rel = ", ".join(f"{d.name}: {_yn(a.get(f'related__{d.name}')) or '?'}" for d in self.drugs)
        if a.get("ongoing"):
            end = "ongoing"
        else:
            end = fmt_date(a.get("end")) or "-"
        return AERow(number=_s(a.get("ae_number")), term=_s(a.get("term")), verbatim=_s(a.get("verbatim")),
                     grade=f"G{g}" if g is not None else "G?", grade_n=g, css=grade_css(g),
                     onset=fmt_date(a.get("onset") or a.get("start")) or "?", end=end,
                     serious=bool(a.get("serious")), immune=bool(a.get("immune")), related=rel,
                     outcome=_s(a.get("outcome")), action=_s(a.get("action")))

    def _lab_cell(self, r: dict) -> LabCell:
        test = r["test"] or "?"
        g = r["ctcae_grade"]
        v, lln, uln = r["value"], r["lln"], r["uln"]
        flag = ""
        if v is not None and uln is not None and v > uln:
            flag = "H"
        elif v is not None and lln is not None and v < lln:
            flag = "L"
        term = ""
        if g:
            term = (r["ctcae_term_high"] if (r["ctcae_grade_high"] or 0) >= (r["ctcae_grade_low"] or 0)
                    else r["ctcae_term_low"]) or ""
        return LabCell(test=LAB_LABEL.get(test, test), unit=_s(r["unit"]), value=_s(r["result_text"]),
                       grade=f"G{g}" if g is not None else "", flag=flag, css=grade_css(g),
                       date=fmt_date(r["date"]), term=term)

    def _cycle_view(self, sid, c: dict, ctab, crows, aes_raw, weight, first, usual=None) -> CycleView:
        n, d = c["cycle"], c["date"]
        nxt = c["next_date"]
        end = (nxt - timedelta(days=1)) if nxt is not None else d + timedelta(days=self.cycle_days - 1)
        rows = [r for r in crows if r["cycle"] == n]
        doses, actions = self._doses(rows, weight)
        # labs of this cycle's window
        labs = [r for r in self._by_subject["labs"].get(sid, []) if r["cycle"] == n]
        pre = {}
        for r in labs:
            if r["predose"]:
                pre[r["test"] or r["test_as_entered"] or "?"] = r   # sorted by date: the latest wins
        order = {t: i for i, t in enumerate(LAB_ORDER)}
        pre_cells = [self._lab_cell(pre[t]) for t in sorted(pre, key=lambda t: (order.get(t, len(order)), t))]
        interim = [self._lab_cell(r) for r in labs if not r["predose"] and (r["ctcae_grade"] or 0) >= 2]
        lab_dates = ", ".join(sorted({c2.date for c2 in pre_cells}, key=lambda s: (s[7:], MONTHS.index(s[3:6]), s[:2])))
        note = "" if pre_cells else f"No labs within {self.predose} days before the dose."
        # AEs active during [d, end]
        act = []
        for a in aes_raw:
            st, sp = a["start"], a["stop"]
            if st is None or st > end:
                continue
            if sp is not None and not a.get("ongoing") and sp < d:
                continue
            row = self._ae_row(a)
            row.new_in_cycle = d <= st <= end
            act.append(row)
        vit = [v for v in self._by_subject["vitals"].get(sid, []) if v["cycle"] == n]
        vrows, vtext = [], ""
        for v in vit:
            bp = f"{fmt_num(v['sbp'])}/{fmt_num(v['dbp'])}" if v["sbp"] is not None or v["dbp"] is not None else ""
            vrows.append((fmt_date(v["date"]), bp, fmt_num(v["weight"]), _s(v["ecog"])))
        visit = [v for v in vit if v["predose"]] or vit[:1]
        if visit:
            v = visit[-1]
            parts = []
            if v["sbp"] is not None or v["dbp"] is not None:
                parts.append(f"BP {fmt_num(v['sbp']) or '?'}/{fmt_num(v['dbp']) or '?'} mmHg")
            if v["weight"] is not None:
                parts.append(f"{fmt_num(v['weight'])} kg")
            if v["ecog"] is not None:
                parts.append(f"ECOG {v['ecog']}")
            vtext = " · ".join(parts) + (f" ({fmt_date(v['date'])})" if parts else "")
        scans = []
        computed = self._computed_responses(sid)
        tum = [t for t in self._by_subject["tumor"].get(sid, []) if t["cycle"] == n and t["date"] is not None]
        for dd in sorted({t["date"] for t in tum}):
            on = [t for t in tum if t["date"] == dd]
            tsum = sum(t["diameter"] for t in on if t["lesion_type"] == "Target" and t["diameter"] is not None)
            ntarget = sum(1 for t in on if t["lesion_type"] == "Target")
            new = sum(1 for t in on if t["lesion_type"] == "New")
            resp = next((t["inv_response"] for t in on if t["inv_response"]), "")
            text = f"{fmt_date(dd)}: target sum {fmt_num(tsum)} mm ({ntarget} lesion{'s' if ntarget != 1 else ''})"
            if new:
                text += f", {new} new lesion{'s' if new != 1 else ''}"
            text += f", investigator response {resp}" if resp else ", no investigator response"
            comp = computed.get(dd)
            if comp:
                text += f" (RECIST 1.1 computed: {comp})"
            scans.append(text)
        status, css = self._cycle_status(actions)
        day = f"Day {(d - first).days + 1}" if first is not None else ""
        allcells = [self._lab_cell(r) for r in labs]
        return CycleView(
            number=n, anchor=f"s{slug(sid)}-c{n}", date=fmt_date(d), day=day,
            period=f"{fmt_date(d)} to {fmt_date(end)}", doses=doses, labs=pre_cells,
            lab_line=lab_line(pre_cells, usual or {}),
            lab_dates=lab_dates, labs_note=note, interim_labs=interim, all_labs=allcells,
            vitals=vtext, vitals_rows=vrows, scans=scans, aes=act,
            findings=self.by_cycle.get((sid, n), []), status=status, status_css=css)

    def _doses(self, rows, weight):
        out, actions = [], []
        used = set()
        for drug in self.drugs:
            mine = [r for r in rows if r["drug"] is not None and self.lookup.get(_norm(r["drug"])) == drug.name]
            used.update(id(r) for r in mine)
            if not mine:
                out.append(DoseRow(drug.name, "-", self._planned(drug, weight, None), "not recorded", "", "missing"))
                continue
            for r in mine:
                out.append(self._dose_row(drug.name, r, drug, weight))
                actions.append(r["action"])
        for r in rows:
            if id(r) not in used:
                out.append(self._dose_row(f"{r['drug'] or '(no drug)'} (not in the profile)", r, None, weight))
                actions.append(r["action"])
        return out, actions

    def _planned(self, drug, weight, row_weight) -> str:
        if drug is None:
            return ""
        if drug.unit == "mg/kg":
            w = row_weight if row_weight is not None else weight
            if w is not None:
                return f"{fmt_num(drug.dose)} mg/kg = {fmt_num(round(drug.dose * w))} mg at {fmt_num(w)} kg"
            return f"{fmt_num(drug.dose)} mg/kg"
        return f"{fmt_num(drug.dose)} {drug.unit}"

    def _dose_row(self, label, r, drug, weight) -> DoseRow:
        dose, unit, w = r["dose"], r["unit"], r["weight"]
        action = r["action"] or "(no action)"
        if dose is None:
            given = "-"
        else:
            given = f"{fmt_num(dose)} {unit or '(no unit)'}"
            ww = w if w is not None else weight
            if unit == "mg/kg" and ww is not None:
                given += f" = {fmt_num(round(dose * ww))} mg"
            elif unit == "mg" and drug is not None and drug.unit == "mg/kg" and ww:
                given += f" = {fmt_num(round(dose / ww, 1))} mg/kg"
            if w is not None:
                given += f" ({fmt_num(w)} kg)"
        css = {"Given": "given", "Reduced": "changed", "Delayed": "changed"}.get(action, "notgiven")
        return DoseRow(label, given, self._planned(drug, weight, w), action, _s(r["reason"]), css)

    @staticmethod
    def _cycle_status(actions) -> tuple:
        acts = [a for a in actions if a]
        if not acts:
            return "No dosing recorded", "notgiven"
        if all(a == "Given" for a in acts):
            return "Given", "given"
        uniq = list(dict.fromkeys(acts))
        css = "notgiven" if all(a in ("Held", "Discontinued") for a in acts) else "changed"
        return " / ".join(uniq), css

    # ---------------------------------------------------------------- charts (data only)
    def _subject_charts(self, sid, ctab, crows, first) -> list:
        labs = self._by_subject["labs"].get(sid, [])
        tumor = self._by_subject["tumor"].get(sid, [])
        dates = [r["date"] for r in labs if r["date"] is not None] + [c["date"] for c in ctab] \
            + [t["date"] for t in tumor if t["date"] is not None]
        dates = [d for d in dates if d <= self.today]
        xlim = (min(dates) - timedelta(days=7), max(dates) + timedelta(days=7)) if dates else None
        # dosing periods: a cycle with a drug actually given shades [dose date, next dose)
        given = {r["cycle"] for r in crows if r["action"] in ("Given", "Reduced", "Delayed") and r["dose"] is not None}
        spans = []
        for c in ctab:
            if c["cycle"] not in given:
                continue
            a = c["date"]
            b = c["next_date"] or (a + timedelta(days=self.cycle_days))
            if spans and spans[-1][1] >= a:
                spans[-1] = (spans[-1][0], max(spans[-1][1], b))
            else:
                spans.append((a, b))
        panels = {}
        # tumour markers, straight from the graded labs (SI units)
        for m in MARKERS:
            label = LAB_LABEL.get(m, m)
            unit = "ng/mL" if m == "AFP" else "mAU/mL"
            pts = [(r["date"], r["value_si"]) for r in labs if r["test"] == m and r["value_si"] is not None
                   and r["date"] is not None and r["date"] <= self.today and r["value_si"] > 0]
            pts = list(dict.fromkeys(pts))   # identical rows are one point, not 100,000 in an SVG
            if not pts:
                panels[m] = {"title": label, "empty": f"No {label} results."}
                continue
            ulns = [r["uln_si"] for r in labs if r["test"] == m and r["uln_si"]]
            prof = next((mk for mk in self.profile.markers if mk.get("test") == m), {})
            before = [p for p in pts if first is not None and p[0] <= first]
            after = [p for p in pts if first is not None and p[0] > first]
            panels[m] = {"title": f"{label} ({unit}, log scale)", "label": label, "unit": unit, "points": pts,
                         "uln": ulns[-1] if ulns else None, "baseline": before[-1][1] if before else None,
                         "nadir": min(after, key=lambda p: (p[1], p[0])) if after else None,
                         "fall_pct": prof.get("response_fall_pct")}
        liver = {}
        for t in LIVER:
            pts = [(r["date"], r["value_si"] / r["uln_si"]) for r in labs if r["test"] == t and r["value_si"] is not None
                   and r["uln_si"] and r["date"] is not None and r["date"] <= self.today and r["value_si"] > 0]
            if pts:
                liver[t] = list(dict.fromkeys(pts))   # identical rows: one point
        panels["liver"] = ({"title": "ALT, AST, bilirubin (x ULN, log scale)", "series": liver} if liver else
                           {"title": "ALT, AST, bilirubin (x ULN)", "empty": "No ALT, AST or bilirubin results with a ULN."})
        sums, resp, new = {}, {}, set()
        for t in tumor:
            d = t["date"]
            if d is None or d > self.today:
                continue
            if t["lesion_type"] == "Target" and t["diameter"] is not None:
                sums[d] = sums.get(d, 0.0) + t["diameter"]
            if t["inv_response"]:
                resp.setdefault(d, t["inv_response"])
            if t["lesion_type"] == "New":
                new.add(d)
        from .view_response import computed_sums   # the computed RECIST 1.1 sums when the table exists
        sums = {d: v for d, v in computed_sums(self.tables, sid).items() if d <= self.today} or sums
        if sums:
            pts = sorted(sums.items())
            before = [p for p in pts if first is not None and p[0] <= first]
            panels["tumour"] = {"title": "Sum of target-lesion diameters (mm) and investigator response",
                                "points": pts, "responses": sorted(resp.items()), "new": sorted(new),
                                "baseline": (before[-1] if before else pts[0])[1]}
        else:
            panels["tumour"] = {"title": "Sum of target-lesion diameters", "empty": "No target-lesion measurements."}
        if not dates:
            return []
        return [Chart(f"chart-{slug(sid)}.svg", "subject", f"Subject {sid}: markers, liver tests, target lesions",
                      {"xlim": xlim, "spans": spans, "panels": panels})]


def lab_line(cells: list, usual: dict) -> list:
    """The pre-dose panel as one line of text: [(text, css)]. Values with a CTCAE grade >= 1
    carry their grade as text ("TSH 6.8 H G1") and a css class for the shade; grade-0 and
    ungraded values stay plain text (a line of plain text lays out ~10x faster than a table
    row of cells, see docs/report.md). The unit is shown when it is not the subject's usual one."""
    out, plain = [], []
    label_of = {v: k for k, v in LAB_LABEL.items()}
    for i, c in enumerate(cells):
        code = label_of.get(c.test, c.test)
        text = f"{c.test} {c.value}"
        if c.unit and usual.get(code) and c.unit != usual[code]:
            text += f" {c.unit}"
        if c.flag:
            text += f" {c.flag}"
        sep = " · " if i < len(cells) - 1 else ""
        if c.grade and c.grade != "G0":
            if plain:
                out.append(("".join(plain), ""))
                plain = []
            out.append((f"{text} {c.grade}", c.css))
            plain.append(sep)
        else:
            plain.append(text + sep)
    if plain:
        out.append(("".join(plain), ""))
    return out
