"""Run every rule over a read workbook: Checker -> Result. Reporters only read the Result."""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import polars as pl

from . import __version__
from .ctcae.terms import load_terms
from .findings import TEMPLATE_PARTS, Finding, Severity, finding_id, group_id, per_subject
from .labs.catalogue import load_catalogue
from .pool import on_pool
from .rules.base import FRAME_SCHEMA, Context
from .rules.registry import BESIDE, BESIDE_READS, BESIDE_WARM, RELEASE_AFTER, RULE_CRASHED, RULES
from .workbook.reader import Limits, Workbook, read_workbook


@dataclass
class Result:
    """One workbook's check: its findings, the rules not evaluated, and the workflow from the
    history."""

    workbook: str
    sha256: str
    profile: str
    tool_version: str
    generated: str
    findings: list
    not_evaluated: list = field(default_factory=list)   # [(code, reason)]
    wb: Workbook | None = field(default=None, repr=False)
    # the findings workflow (monitor/batch/workflow.py), when a history store was used:
    workflow: dict | None = None        # finding id -> {status, reason, query, response, by, at}
    new_ids: set | None = None          # ids new since the previous check (None: no previous)
    resolved: list | None = None        # findings this check no longer sees (dicts)
    history: dict | None = None         # {store, workbook[, run]}

    def to_dict(self) -> dict:
        from .batch.workflow import finding_status

        out = {
            "workbook": self.workbook,
            "sha256": self.sha256,
            "profile": self.profile,
            "tool_version": self.tool_version,
            "generated": self.generated,
            "summary": self.summary(),
            "not_evaluated": [{"rule": code, "reason": why} for code, why in self.not_evaluated],
            "findings": [f.to_dict() | finding_status(self, f.id) for f in self.findings]
            if self.workflow is not None else [f.to_dict() for f in self.findings],
        }
        if self.resolved is not None:
            out["resolved"] = self.resolved
        return out

    def status_of(self, fid: str) -> str:
        return ((self.workflow or {}).get(fid) or {}).get("status", "open")

    def failing(self, at_least: Severity, only_new: bool = False) -> int:
        """Findings at or above the threshold that count toward the exit code: not accepted, and
        with `only_new` only those not seen in the previous check (all, with no previous)."""
        return sum(1 for f in self.findings if Severity(f.severity).rank >= at_least.rank
                   and self.status_of(f.id) != "accepted"
                   and (not only_new or self.new_ids is None or f.id in self.new_ids))

    def summary(self) -> dict:
        """Counts: all findings, by severity (worst first), by rule (code order of the
        registry), and how many rules were not evaluated."""
        by_rule: dict = {}
        for f in self.findings:
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
        order = {r.code: i for i, r in enumerate(RULES)}
        out = {"findings": len(self.findings), "by_severity": self.by_severity(),
               "by_rule": {k: by_rule[k] for k in sorted(by_rule, key=lambda c: (order.get(c, -1), c))},
               "not_evaluated": len(self.not_evaluated)}
        if self.workflow is not None:
            by_status = {s: 0 for s in ("open", "accepted", "queried", "answered")}
            for f in self.findings:
                by_status[self.status_of(f.id)] += 1
            out["by_status"] = by_status
            if self.new_ids is not None:
                out["new"] = sum(1 for f in self.findings if f.id in self.new_ids)
            if self.resolved is not None:
                out["resolved"] = len(self.resolved)
        return out

    def count(self, at_least: Severity) -> int:
        return sum(1 for f in self.findings if Severity(f.severity).rank >= at_least.rank)

    def by_severity(self) -> dict:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity] += 1
        return out


_NEEDS_TEXT = {"recist": "tumour assessments ([recist])", "markers": "tumour markers ([[markers]])",
               "hold_rules": "dose-hold rules ([[hold_rules]])", "arms": "arms ([[arms]]: every subject gets every drug)",
               "weight_dosing": "weight-based (mg/kg) drug"}


def _column_names(sd, keys) -> str:
    names = {c.key: c.name for c in sd.schema.columns}
    return ", ".join(names.get(k, k) for k in keys)


def _gated(rule, wb: Workbook, profile=None) -> str | None:
    for need in getattr(rule, "profile_needs", ()):
        if profile is not None and not profile.has(need):
            return f"the study has no {_NEEDS_TEXT.get(need, need)} in its profile"
    for sheet, keys in rule.needs:
        sd = wb.get(sheet)
        if sd is None:
            return f"sheet {sheet} is absent"
        if sd.header_row is None:
            return f"sheet {sheet} has no header row"
        missing = [k for k in keys if k not in sd.columns]
        if missing:
            return f"{sheet} lacks column(s) {_column_names(sd, missing)}"
    return None


def _missing_column(e: Exception, wb: Workbook) -> str | None:
    """A rule that reached for a column its sheet lacks (a need not declared in the registry):
    the reason it is not evaluated, or None when the column is not one a workbook may lack
    (then it is a real crash)."""
    if not isinstance(e, pl.exceptions.ColumnNotFoundError):
        return None
    import re

    m = re.search(r'"([^"]+)"', str(e))
    if not m:
        return None
    key = re.sub(r"__(raw|err|lo|hi)$", "", m.group(1))
    for sd in wb.sheets.values():
        if any(c.key == key for c in sd.schema.columns) and key not in sd.columns:
            return f"{sd.schema.name} lacks column(s) {_column_names(sd, [key])}"
    return None


# a whole check whose Labs sheet has at least this many rows runs the BESIDE rules on a second
# thread (run_rules); below, the lab tables take a few ms and a thread costs more than it saves
BESIDE_ROWS = 50_000


def run_rules(ctx: Context, rules=RULES) -> tuple[list, list]:
    """Run `rules` on ctx: (one findings frame per rule that found something, [(code, why not
    evaluated)]), both in the order of `rules`. A whole check (`rules` is RULES) lets each of the
    Context's cached tables go once the last rule that reads it has run (registry.RELEASE_AFTER);
    on a large workbook it runs the rules that read no lab table (registry.BESIDE) on a second
    thread while this one builds the lab tables (~0.3 s at ~1.5 cores on a 600,000-result
    study); before it lets go a table they read (BESIDE_READS), and at the end, it finishes them
    (_Beside.join: those not started yet run here). The findings are the same either way: each
    rule writes to its own slot."""
    release = RELEASE_AFTER if rules is RULES else {}   # a subset may be followed by more rules
    slots = {rule.code: ([], []) for rule in rules}
    beside = (_Beside(ctx, [r for r in rules if r.code in BESIDE], slots, BESIDE_WARM)
              if _runs_beside(ctx, rules) else None)
    for rule in rules:
        if beside is None or rule.code not in BESIDE:
            _run_rule(ctx, rule, *slots[rule.code])
        let_go = release.get(rule.code, ())
        # (what a side rule's entry lets go is a table it reads: in BESIDE_READS too)
        if beside is not None and not set(BESIDE_READS).isdisjoint(let_go):
            beside.join()
        for attr in let_go:
            setattr(ctx, attr, None)   # read again, it would be built again: the same table
    if beside is not None:
        beside.join()
    frames = [f for rule in rules for f in slots[rule.code][0]]
    skipped = [s for rule in rules for s in slots[rule.code][1]]
    return (pl.collect_all(frames, engine="in-memory") if frames else []), skipped


def _runs_beside(ctx: Context, rules) -> bool:
    """Whether a check runs the BESIDE rules on a second thread: a whole check (`rules` is
    RULES), polars on more than one thread, and a Labs sheet of BESIDE_ROWS rows or more."""
    labs = ctx.wb.get("Labs")
    return (rules is RULES and labs is not None and labs.frame.height >= BESIDE_ROWS
            and pl.thread_pool_size() > 1)


class _Beside:
    """The rules `rules` run in order, each into its slot, by a second thread on a polars worker
    (monitor/pool.py), and by the main thread when it comes to `join`: it takes the rules not
    started yet itself, then waits for the one under way, if any. A rule under way runs on a
    worker, its queries run where it is, so that wait always ends; a side thread still waiting
    for a worker (every worker busy: two checks at once in one process) has started none, and
    the main thread runs them all. What stops a rule on the side thread (an interrupt: a rule's
    own error is its WB000 finding, on either thread) is raised by `join`.

    After the rules the side thread runs `warm` (registry.BESIDE_WARM: tables the main thread's
    rules will want, built ahead). Those are optional: `join` cancels the ones not started (the
    main thread builds a table when a rule asks for it, as without them), and an error in one is
    dropped (the rule that asks for the table meets it again and reports it)."""

    def __init__(self, ctx: Context, rules: list, slots: dict, warm=()):
        self.ctx, self.slots = ctx, slots
        self.todo = list(reversed(rules))
        self.warm = list(reversed(warm))
        self.cond = threading.Condition()
        self.running, self.error = False, None
        self.thread = threading.Thread(target=self._run, name="monitor-rules-beside", daemon=True)
        self.thread.start()

    def _take(self):
        with self.cond:
            return self.todo.pop() if self.todo and self.error is None else None

    def _run(self) -> None:
        try:
            on_pool(self._work)
        except BaseException:   # it started no rule (they are the main thread's), or _work kept it
            pass

    def _work(self) -> None:
        while True:
            with self.cond:
                if self.todo:
                    rule, task = self.todo.pop(), None
                elif self.warm and self.error is None:
                    rule, task = None, self.warm.pop()
                else:
                    return
                self.running = True
            try:
                if rule is not None:
                    _run_rule(self.ctx, rule, *self.slots[rule.code])
                else:
                    try:
                        task(self.ctx)
                    except Exception:   # built again by the rule that wants it, which reports it
                        pass
            except BaseException as e:   # raised by join() on the main thread
                self.error = e
                raise
            finally:
                with self.cond:
                    self.running = False
                    self.cond.notify_all()

    def join(self) -> None:
        with self.cond:
            self.warm = []       # not started: cancelled
        while (rule := self._take()) is not None:
            _run_rule(self.ctx, rule, *self.slots[rule.code])
        with self.cond:
            self.cond.wait_for(lambda: not self.running)
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _run_rule(ctx: Context, rule, frames: list, skipped: list) -> None:
    """One rule: its findings' plan appended to `frames`, or (code, why) to `skipped` when it is
    not evaluated; a crash becomes one WB000 finding, never an exception."""
    why = _gated(rule, ctx.wb, ctx.profile)
    if why:
        skipped.append((rule.code, why))
        return
    try:
        df = rule.check(ctx)
    except Exception as e:  # one crashing rule never stops the others
        why = _missing_column(e, ctx.wb)
        if why:
            skipped.append((rule.code, why))
            return
        tb = traceback.extract_tb(e.__traceback__)[-1]
        df = pl.DataFrame([{"sheet": None, "row": None, "field": None, "cell": None, "subject": None,
                            "message": f"Rule {rule.code} ({rule.name}) crashed: {type(e).__name__}: {e} "
                                       f"[{tb.name}:{tb.lineno}]; its checks did not run.",
                            "suggestion": None, "key": rule.code}], schema=FRAME_SCHEMA)
        rule = RULE_CRASHED
    if df is None or df.height == 0:
        return
    # one lazy plan per rule, all collected together (one collect_all, not two collects per rule)
    frames.append(df.lazy().select(*FRAME_SCHEMA, pl.lit(rule.code).alias("rule"), pl.lit(rule.name).alias("name"),
                                   pl.lit(rule.severity.value).alias("severity")))


QUOTE_CHARS = 80          # cell text quoted in a message or suggestion: cut to this, with an ellipsis
TEXT_CHARS = 2000         # a whole message or suggestion (many quotes): the same, as a last bound
# an opening quote at the start or after a space, bracket or colon (not the apostrophe of "it's")
_LONG_QUOTE = r"(^|[\s(\[:=,])'([^'\n]{%d})[^'\n]{2,}'" % (QUOTE_CHARS - 1)


def readable(col: str) -> pl.Expr:
    """A message column with quoted cell text ('...') cut to QUOTE_CHARS characters with an
    ellipsis: a 32,767-character header cell is quoted as its first 79 characters and `…`."""
    c = pl.col(col).str.replace_all(_LONG_QUOTE, "${1}'${2}…'")
    return (pl.when(c.str.len_chars() > TEXT_CHARS)
            .then(c.str.slice(0, TEXT_CHARS - 1) + pl.lit("…")).otherwise(c).alias(col))


def to_findings(frames: list, wb: Workbook) -> list:
    """Rule frames -> sorted Findings. Cell letters, ordinals, the sort and the WB005 de-duplication
    are columnar (polars); Python touches each finding once, to hash its id and build it."""
    if not frames:
        return []
    df = pl.concat(frames)
    if df.height == 0:
        return []
    df = df.with_columns(readable("message"), readable("suggestion"))
    names = {k: sd.name for k, sd in wb.sheets.items()}
    if "Study" not in names:
        names["Study"] = _study_name(wb)
    letters, headers = {}, {}
    for k, sd in wb.sheets.items():
        for f, (header, letter) in sd.columns.items():
            letters[f"{k}\x1f{f}"], headers[f"{k}\x1f{f}"] = letter, header
    sheet_field = pl.concat_str([pl.col("sheet"), pl.col("field")], separator="\x1f")  # null if either is
    letter = sheet_field.replace_strict(letters, default=None, return_dtype=pl.String)
    df = df.with_columns(
        pl.col("sheet").replace(names).alias("_sheet_name"),
        sheet_field.replace_strict(headers, default=None, return_dtype=pl.String).alias("_column"),
        pl.when((letter != "") & pl.col("row").is_not_null())
        .then(pl.concat_str([letter, pl.col("row").cast(pl.String)])).otherwise(pl.col("cell")).alias("_cell"),
        # n-th finding of the same rule, sheet, field and record key, in rule output order
        pl.int_range(pl.len()).over([pl.col("rule"), pl.col("sheet").fill_null(""),
                                     pl.col("field").fill_null(""), pl.col("key").fill_null("")]).alias("_n"),
        pl.col("severity").replace_strict({s.value: -s.rank for s in Severity}, return_dtype=pl.Int8).alias("_rank"),
    )
    if wb.formula_cells:
        # a formula cell without a saved value is reported once, by WB005, not again as blank
        formula = [f"{sheet}\x1f{cell}" for sheet, cell in wb.formula_cells]
        at = pl.concat_str([pl.col("_sheet_name"), pl.col("_cell")], separator="\x1f")
        df = df.filter((pl.col("rule") == "WB005") | ~at.is_in(formula).fill_null(False))
    df = df.with_columns(pl.Series("_id", [
        finding_id(rule, sheet, field, key or "", n)
        for rule, sheet, field, key, n in zip(*(df.get_column(c).to_list() for c in ("rule", "sheet", "field", "key", "_n")))
    ], dtype=pl.String))
    df = df.sort([pl.col("_rank"), pl.col("_sheet_name").fill_null(""), pl.col("row").fill_null(0),
                  pl.col("_cell").fill_null(""), pl.col("rule"), pl.col("_id")], maintain_order=True)
    df = with_groups(df)
    cols = ("_id", "rule", "name", "severity", "_sheet_name", "_cell", "row", "subject", "message",
            "suggestion", "_column", "_group")
    return [Finding(*t) for t in zip(*(df.get_column(c).to_list() for c in cols))]


def with_groups(df: pl.DataFrame) -> pl.DataFrame:
    """`_group`: the finding's cause (monitor.findings.group_id), hashed once per distinct cause."""
    tmpl = pl.col("message").fill_null("")
    for pat, rep in TEMPLATE_PARTS:
        tmpl = tmpl.str.replace_all(pat, rep)
    rules = df.select("rule", "severity").unique()
    signal = [r for r, sev in rules.iter_rows() if per_subject(r, sev)]
    keyed = df.with_columns(tmpl.alias("_template"),
                            pl.when(pl.col("rule").is_in(signal)).then(pl.col("subject").fill_null(""))
                            .alias("_gsubject"))
    on = ["rule", "sheet", "field", "_template", "_gsubject"]
    causes = keyed.select(on).unique(maintain_order=True)
    causes = causes.with_columns(pl.Series("_group", [
        group_id(r, s, f, t, g) for r, s, f, t, g in causes.iter_rows()], dtype=pl.String))
    return keyed.join(causes, on=on, how="left", nulls_equal=True, maintain_order="left")


def _study_name(wb: Workbook) -> str:
    from .workbook.reader import match_sheets

    return match_sheets(wb.sheet_names).get("Study", "Study")


def check_workbook(path, profile, today: date | None = None, now: datetime | None = None,
                   max_unpacked_mb: float = 200, limits: Limits | None = None, on_read=None) -> Result:
    """Read and check one workbook (`path`, or a Snapshot of its bytes). Raises WorkbookError when it cannot be read at all or is
    over a resource limit (`limits`; without it the defaults with `max_unpacked_mb`). `on_read`:
    called once the workbook has been read, before the rules (the CLI starts opening its history
    store there, workflow.OpeningStore)."""
    now = now or datetime.now(timezone.utc)
    today = today or now.date()
    wb = read_workbook(path, drugs=profile.related_drug_names, max_unpacked_mb=max_unpacked_mb, limits=limits)
    if on_read is not None:
        on_read()
    terms, catalogue = load_terms(), load_catalogue()

    def rules():
        ctx = Context(wb, profile, terms, catalogue, today)
        frames, skipped = run_rules(ctx)
        del ctx   # the rules' cached tables (the graded labs ...) go before the findings are built
        return to_findings(frames, wb), skipped

    findings, skipped = on_pool(rules)   # ~800 small queries: on a polars worker, no hand-off each (monitor/pool.py)
    return Result(str(getattr(path, "path", path)), wb.sha256, profile.name, __version__,
                  now.replace(microsecond=0).isoformat(), findings, skipped, wb)
