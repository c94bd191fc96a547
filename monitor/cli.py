"""The `monitor` command: one thin function per command, no logic here."""

from __future__ import annotations

import gc
import os
import re
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Optional

import typer

from . import __version__
from .io import quiet_zipfile_del

quiet_zipfile_del()   # no `Exception ignored in ZipFile.__del__` traceback after a failed write

# polars' allocator (jemalloc, as polars configures it) keeps freed pages for 0.5 s, then 1 s more
# as "muzzy" pages that still count as the process's memory: on a whole study the tables one rule
# let go are still resident while the next builds its own. Returned after 0.1 s, with no muzzy
# stage, a 1,000-subject annotate peaks ~20-25 MB lower for ~0.2-0.4 s more system time
# (docs/trust.md, "Memory and time"). And one arena per CPU (jemalloc's default is 4 per CPU): the
# pages one thread frees (the reader's, the band loader's, a polars worker's running the rules)
# are more often the next allocation's on another; more threads than arenas share them, and a
# many-core machine still gets as many arenas as cores. The 1,000 x 30 annotate on 2 CPUs, no
# slower: 550-558 MiB with 2 arenas against 563-596 with 8 (3 alternating runs each). Read when polars is first imported
# (never at this module's import); a user's own _RJEM_MALLOC_CONF is left alone.
os.environ.setdefault("_RJEM_MALLOC_CONF", f"dirty_decay_ms:100,muzzy_decay_ms:0,narenas:{os.cpu_count() or 1}")

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="The trial safety monitor: checks clinical-trial site workbooks.",
                  epilog="Example: monitor check site07.xlsx   then   monitor annotate site07.xlsx")

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


def _show_version(value: bool):
    if value:
        typer.echo(__version__)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(version_: bool = typer.Option(False, "--version", "-V", callback=_show_version, is_eager=True,
                                        help="Print the tool version and exit.")):
    """The trial safety monitor: checks clinical-trial site workbooks."""


def _format(text: str) -> str:
    """--format, in any case (JSON, Json, json)."""
    f = (text or "").strip().lower()
    if f not in ("text", "json"):
        _fail(f"--format must be text or json, not {text!r}")
    return f


FORCE = typer.Option(False, "--force", help="Replace an existing output file even if the monitor did not "
                     "write it (without it such a file is never replaced).")


def _fail(msg: str, code: int = EXIT_UNREADABLE):
    msg = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", msg)   # one plain line, whatever a file or sheet is called
    typer.echo(f"monitor: {msg}", err=True)
    raise typer.Exit(code)


def _profile(profile: Optional[str]):
    from .profile.profile import ProfileError, load_profile

    try:
        return load_profile(profile)
    except ProfileError as e:
        _fail(f"profile error: {e}")


def _check(workbook: Path, profile, limits, on_read=None):
    from .check import check_workbook
    from .workbook.reader import WorkbookError

    try:
        return check_workbook(workbook, profile, limits=limits, on_read=on_read)
    except WorkbookError as e:
        _fail(str(e))


# resource limits shared by check, annotate and export (see monitor.workbook.reader.Limits)
MAX_ROWS = typer.Option(1_000_000, "--max-rows", help="Refuse a sheet that uses rows beyond this.")
MAX_COLUMNS = typer.Option(200, "--max-columns", help="Refuse a sheet that uses columns beyond this (200 = GR).")
MAX_CELL_CHARS = typer.Option(32_767, "--max-cell-chars", help="Refuse a cell longer than this (Excel's own "
                              "limit is 32,767).")
MAX_CELLS = typer.Option(30_000_000, "--max-cells", help="Refuse a sheet whose rows x columns exceed this "
                         "(memory: a sheet is read as a full grid).")


def _limits(max_unpacked_mb, max_rows, max_columns, max_cell_chars, max_cells):
    from .workbook.reader import Limits

    try:
        return Limits(max_unpacked_mb, max_rows, max_columns, max_cell_chars, max_cells)
    except ValueError as e:
        _fail(str(e))


@contextmanager
def _start_up():
    """Start-up of a command (imports, profile): the cyclic garbage collector is off, then the
    objects made so far (modules, functions, expressions: tens of thousands, all kept) are frozen
    out of its reach. With the default thresholds it walks them ~100 times in a check of a site
    workbook, ~50 ms of a 1.1 s check, and finds nothing to free. The caller unfreezes them at
    the end (gc.unfreeze), so a long-lived process (tests, the web app) collects them as usual."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@contextmanager
def _writing(workbook: Path | None, force: bool = False):
    """Outputs of one command: the input is never written over, nor a file the monitor did not
    write (unless --force), and a refusal or a failed write is one plain line and exit 2, not a
    traceback."""
    from .io import OutputError, guard_outputs, protect_input
    from .workbook.reader import WorkbookError

    try:
        with protect_input(workbook) if workbook is not None else nullcontext(), guard_outputs(force):
            yield
    except (WorkbookError, OutputError) as e:
        _fail(str(e))
    except OSError as e:  # a folder where a file should go, no permission, a full disk ...
        _fail(f"{e.filename or workbook or 'output'}: {e.strerror or e}")


def default_out(workbook: Path) -> Path:
    """output/<stem>/, the stem made safe: a workbook named `...xlsx`, `CON.xlsx` or with
    separators in its name cannot put files outside output/."""
    from .io import safe_name

    return Path("output") / safe_name(workbook.stem)


@app.command(epilog="Example: monitor check site07.xlsx --fail-on critical --statistics")
def check(
    workbook: Path = typer.Argument(..., help="The site workbook (.xlsx or .xlsm)."),
    format: str = typer.Option("text", "--format", "-f", help="text (a table) or json (to stdout); any case."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for findings.json and findings.csv "
                                       "[default: output/<workbook stem>/]."),
    fail_on: str = typer.Option("major", "--fail-on", help="Exit 1 when a finding is at or above this "
                                "severity: critical, major, minor or info."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile: a TOML file or a "
                                          "bundled name [default: ql1604_bev_hcc]."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Refuse workbooks that unpack "
                                          "to more than this (zip bombs)."),
    max_rows: int = MAX_ROWS,
    max_columns: int = MAX_COLUMNS,
    max_cell_chars: int = MAX_CELL_CHARS,
    max_cells: int = MAX_CELLS,
    statistics: bool = typer.Option(False, "--statistics", help="End the text output with the number of "
                                    "findings of each rule."),
    fail_on_new: bool = typer.Option(False, "--fail-on-new", help="Exit 1 only for findings not seen in the "
                                     "previous check of this workbook (accepted ones never count)."),
    force: bool = FORCE,
):
    """Read and validate a workbook; print findings with their status (open, accepted, queried,
    answered) from the history in --out (default output/monitor.db). Exit 0 clean, 1 findings that
    are not accepted, 2 unreadable."""
    try:
        with _start_up():
            from . import check as _imported   # noqa: F401  (polars and the rules, during start-up)
            from .findings import Severity
            from .reporters import not_evaluated_text, statistics_text, to_json, to_text, write_outputs
            from .batch.workflow import OpeningStore, store_folder

            try:
                threshold = Severity.parse(fail_on)
            except ValueError as e:
                _fail(str(e))
            format = _format(format)
            limits = _limits(max_unpacked_mb, max_rows, max_columns, max_cell_chars, max_cells)
            prof = _profile(profile)
        with _writing(workbook, force):
            opening = OpeningStore(store_folder(out))   # opened while the rules run, closed while writing
            try:
                result = _check(workbook, prof, limits, on_read=opening.start)
                _record(out, workbook, result, prof, "check", opening)
                text = to_json(result)
                write_outputs(result, out or default_out(workbook), text)
            finally:
                opening.discard()
        if format == "json":
            sys.stdout.write(text)
        else:
            sys.stdout.write(to_text(result) + not_evaluated_text(result)
                             + (statistics_text(result) if statistics else ""))
        raise typer.Exit(EXIT_FINDINGS if result.failing(threshold, fail_on_new) else EXIT_OK)
    finally:
        gc.unfreeze()


def _record(out, workbook: Path, result, profile, kind: str, opening=None):
    """Record the check in the history store (--out DIR's monitor.db, default output/monitor.db)
    and put each finding's workflow status on the result (`opening`: that store, being opened
    on a thread)."""
    from .batch.history import HistoryError
    from .batch.workflow import record_single, store_folder

    try:
        record_single(store_folder(out), workbook, result, profile, kind, opening)
    except HistoryError as e:
        _fail(str(e), 3)


@app.command(epilog="Example: monitor rules   or   monitor rules WB209")
def rules(
    code: Optional[str] = typer.Argument(None, help="A rule code (WB209, any case) or name "
                                         "(dosed-before-consent): print its documentation."),
):
    """List every rule: code, name, severity and what it catches; or one rule's documentation."""
    from .docs import rule_doc
    from .rules.registry import RULE_CRASHED, RULES

    if code is None:
        for r in RULES:
            typer.echo(f"{r.code:<8} {r.severity.value:<8} {r.name:<32} {r.summary}")
        return
    want = code.strip().lower()
    rule = next((r for r in (*RULES, RULE_CRASHED) if want in (r.code.lower(), r.name)), None)
    if rule is None:
        _fail(f"no rule {code!r}; `monitor rules` lists them")
    typer.echo(rule_doc(rule))


@app.command(epilog="Example: monitor template site07.xlsx")
def template(
    out: Path = typer.Argument(..., help="Where to write the empty workbook (.xlsx); an existing file is "
                               "only replaced if it is an empty template the monitor wrote (or with --force)."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile for the drug lists."),
    force: bool = FORCE,
):
    """Write an empty workbook for coordinators: every sheet and column, notes and drop-downs."""
    from .workbook.template import write_template

    prof = _profile(profile)
    with _writing(None, force):
        path = write_template(out, prof)
    typer.echo(str(path))


@app.command(epilog="Example: monitor annotate site07.xlsx --out site07-checked.xlsx")
def annotate(
    workbook: Path = typer.Argument(..., help="The site workbook; it is never modified."),
    out: Optional[Path] = typer.Option(None, "--out", help="The annotated copy "
                                       "[default: output/<stem>/<stem>-annotated.xlsx]."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit."),
    max_rows: int = MAX_ROWS,
    max_columns: int = MAX_COLUMNS,
    max_cell_chars: int = MAX_CELL_CHARS,
    max_cells: int = MAX_CELLS,
    history: Optional[Path] = typer.Option(None, "--history", help="Folder of the history store (monitor.db) "
                                           "whose statuses, queries and responses the Findings sheet shows "
                                           "(default: output/, where check keeps it)."),
    force: bool = FORCE,
):
    """Write a copy of the workbook with every finding's cell coloured and commented, and a Findings
    sheet with Status, Query and Response columns (the site types answers in Response; `monitor
    responses` records them). Annotating an annotated copy again replaces the earlier marks."""
    from .batch.history import HistoryError
    from .batch.workflow import load_for, store_folder
    from .io import safe_name
    from .workbook.annotate import annotate_copy

    limits = _limits(max_unpacked_mb, max_rows, max_columns, max_cell_chars, max_cells)
    with _writing(workbook, force):
        result = _check(workbook, _profile(profile), limits)
        try:
            load_for(store_folder(history), workbook, result)
        except HistoryError as e:
            _fail(str(e), 3)
        target = out or default_out(workbook) / f"{safe_name(workbook.stem)}-annotated.xlsx"
        path = annotate_copy(workbook, result, target)
    typer.echo(str(path))


@app.command(epilog="Example: monitor export site07.xlsx --out tables/")
def export(
    workbook: Path = typer.Argument(..., help="The site workbook."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the tables "
                                       "[default: output/<workbook stem>/export/]."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit."),
    max_rows: int = MAX_ROWS,
    max_columns: int = MAX_COLUMNS,
    max_cell_chars: int = MAX_CELL_CHARS,
    max_cells: int = MAX_CELLS,
    force: bool = FORCE,
):
    """Write the cleaned tables (subjects, cycles, labs, adverse_events, vitals, tumor, findings)
    as CSV and Parquet, each row keeping its Excel row number."""
    from .export import build_tables, write_tables
    from .labs.catalogue import load_catalogue
    from .progress import steps

    limits = _limits(max_unpacked_mb, max_rows, max_columns, max_cell_chars, max_cells)
    with _writing(workbook, force), steps("export", 3, workbook.name, plain=False) as bar:
        prof = _profile(profile)
        bar.step(f"checking {workbook.name}")
        result = _check(workbook, prof, limits)
        target = out or default_out(workbook) / "export"
        bar.step("building the tables")
        tables = build_tables(result, load_catalogue(), profile=prof)
        bar.step("writing the tables")
        bar.grow(len(tables))
        paths = write_tables(tables, target, progress=bar.step)
    for p in paths:
        typer.echo(str(p))


@app.command(epilog="Example: monitor batch inbox/ --out monitor/ --fail-on critical")
def batch(
    inbox: Path = typer.Argument(..., help="Folder of site workbooks (sub-folders, e.g. one per site, included)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder: one sub-folder per workbook, "
                                       "batch.json, batch-summary.pdf, monitor.db [default: output/batch/]."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes [default: the number of cores]."),
    fail_on: str = typer.Option("major", "--fail-on", help="Exit 1 when any workbook has a finding at or above "
                                "this severity: critical, major, minor or info."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile: a TOML file or a bundled name."),
    force: bool = typer.Option(False, "--force", help="Check every workbook, even unchanged ones."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit per workbook."),
    format: str = typer.Option("text", "--format", "-f", help="text (a summary) or json (batch.json to stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary; only the exit code."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Write the PDF summaries (per workbook and "
                             "batch-summary.pdf); --no-pdf is much faster."),
    workbook_timeout: float = typer.Option(600, "--workbook-timeout", help="Seconds one workbook may take "
                                           "(check and outputs); a slower one is reported unreadable. 0: no bound."),
    workbook_memory_mb: float = typer.Option(2048, "--workbook-memory-mb", help="Memory one workbook's check "
                                             "may use; a bigger one is reported unreadable. 0: no bound."),
    fail_on_new: bool = typer.Option(False, "--fail-on-new", help="Exit 1 only for findings new since the last "
                                     "completed run (accepted ones never count)."),
):
    """Check every workbook of a folder; skip unchanged ones; record history. Exit 0 clean, 1 findings
    at or above --fail-on (not accepted) in any workbook, 2 any workbook unreadable, 3 the run failed
    (disk, permissions, database; see docs/batch.md)."""
    from .batch.commands import batch_command

    raise typer.Exit(batch_command(inbox, out, jobs, fail_on, profile, force, max_unpacked_mb, _format(format),
                                   quiet, pdf, workbook_timeout, workbook_memory_mb, fail_on_new))


@app.command(epilog="Example: monitor watch inbox/ --out monitor/")
def watch(
    inbox: Path = typer.Argument(..., help="Folder to watch (sub-folders included)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder, as for batch [default: output/batch/]."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes [default: the number of cores]."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile: a TOML file or a bundled name."),
    settle: float = typer.Option(2.0, "--settle", help="Seconds a file's size and time must stay the same "
                                 "before it is checked."),
    poll: bool = typer.Option(False, "--poll", help="Poll the folder instead of using file events "
                              "(network shares)."),
    poll_interval: float = typer.Option(1.0, "--poll-interval", help="Seconds between polls with --poll."),
    initial: bool = typer.Option(True, "--initial/--no-initial", help="First check what is already in the folder."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit per workbook."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Write each workbook's PDF summary."),
    workbook_timeout: float = typer.Option(600, "--workbook-timeout", help="Seconds one workbook may take; "
                                           "0: no bound."),
    workbook_memory_mb: float = typer.Option(2048, "--workbook-memory-mb", help="Memory one workbook's check "
                                             "may use; 0: no bound."),
):
    """Check each workbook dropped into (or saved again in) a folder once it stops changing. Ctrl-C stops."""
    from .batch.commands import watch_command

    raise typer.Exit(watch_command(inbox, out, jobs, "major", profile, max_unpacked_mb, settle, poll,
                                   poll_interval, initial, quiet, pdf, workbook_timeout, workbook_memory_mb))


@app.command(epilog="Example: monitor history site07.xlsx --out monitor/")
def history(
    workbook: Optional[str] = typer.Argument(None, help="A workbook (its path in the inbox, its file, or a "
                                             "unique end of the path); without it, the list of runs."),
    out: Optional[Path] = typer.Option(None, "--out", help="The batch output folder [default: output/batch/]."),
    limit: int = typer.Option(20, "--limit", "-n", help="Show the last N runs."),
    format: str = typer.Option("text", "--format", "-f", help="text or json."),
    restore: bool = typer.Option(False, "--restore", help="Replace a damaged monitor.db with its last good "
                                 "backup (the damaged file is kept beside it)."),
):
    """List batch runs, or one workbook's checks with the findings new and resolved in each;
    --restore brings back the last good copy of a damaged history."""
    from .batch.commands import history_command

    raise typer.Exit(history_command(workbook, out, limit, _format(format), restore))


@app.command(epilog="Example: monitor report site07.xlsx   or   monitor report site07.xlsx --subject 006 --cycle 3")
def report(
    workbook: Path = typer.Argument(..., help="The site workbook."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the PDF [default: output/<workbook stem>/]."),
    subject: Optional[str] = typer.Option(None, "--subject", help="Only this subject (its ID as on the Subjects sheet)."),
    cycle: Optional[int] = typer.Option(None, "--cycle", help="With --subject: the one-cycle visit summary."),
    previous: Optional[Path] = typer.Option(None, "--previous", help="Override: findings.json of an earlier run; "
                                            "findings not in it are marked NEW (default: the history store "
                                            "knows what is new since the previous version of the workbook)."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Processes laying out the PDF (the PDF is the same for any "
                             "number)."),
    now: Optional[str] = typer.Option(None, "--now", help="Time printed as generated and used as the run date "
                                      "(ISO 8601) [default: now]; fixes the output for reproducible reports."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit."),
    force: bool = FORCE,
):
    """Write the PDF cycle summary: study overview, one section per subject, findings listing with
    each finding's status (history in --out, default output/monitor.db). The last line printed is the PDF's path. Exit 0 written, 2 unreadable input or unknown subject/cycle."""
    from .report import ReportError
    from .report.commands import parse_now, report_command
    from .workbook.reader import WorkbookError

    try:
        if cycle is not None and subject is None:
            raise ReportError("--cycle needs --subject: the one-cycle summary is for one subject")
        when = parse_now(now)
        with _writing(workbook, force):
            from .batch.workflow import store_folder

            path = report_command(workbook, out or default_out(workbook), _profile(profile), subject, cycle,
                                  previous, max(1, jobs), when, max_unpacked_mb, echo=typer.echo,
                                  store=store_folder(out))
    except (ReportError, WorkbookError, ValueError) as e:
        _fail(str(e))
    typer.echo(str(path))


from .cli_workflow import register as _register_workflow  # noqa: E402  (accept, query, responses)

_register_workflow(app)

from .cli_serve import register as _register_serve  # noqa: E402  (serve, users)

_register_serve(app)


@app.command(epilog="Example: monitor demo --out output/")
def demo(
    samples: Path = typer.Option(Path("sample_sheets"), "--samples", help="Folder of sample workbooks."),
    out: Path = typer.Option(Path("output"), "--out", help="Output folder."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Processes laying out each PDF."),
    now: Optional[str] = typer.Option(None, "--now", help="Run time (ISO 8601) [default: now]."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile."),
    force: bool = FORCE,
):
    """Run check, annotate and report on every sample workbook, and write the empty template, into output/."""
    from .report.commands import demo_command, parse_now

    try:
        when = parse_now(now)
    except ValueError as e:
        _fail(str(e))
    prof = _profile(profile)
    with _writing(None, force):
        code = demo_command(samples, out, prof, max(1, jobs), when, echo=typer.echo)
    raise typer.Exit(code)


@app.command(epilog="Example: monitor version   (or monitor --version)")
def version():
    """Print the tool version."""
    typer.echo(__version__)
