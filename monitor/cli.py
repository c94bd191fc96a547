"""The `monitor` command: one thin function per command, no logic here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from . import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="The trial safety monitor: checks clinical-trial site workbooks.")

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


def _fail(msg: str, code: int = EXIT_UNREADABLE):
    typer.echo(f"monitor: {msg}", err=True)
    raise typer.Exit(code)


def _profile(profile: Optional[str]):
    from .profile.profile import ProfileError, load_profile

    try:
        return load_profile(profile)
    except ProfileError as e:
        _fail(f"profile error: {e}")


def _check(workbook: Path, profile, max_unpacked_mb: float):
    from .check import check_workbook
    from .workbook.reader import WorkbookError

    try:
        return check_workbook(workbook, profile, max_unpacked_mb=max_unpacked_mb)
    except WorkbookError as e:
        _fail(str(e))


def default_out(workbook: Path) -> Path:
    return Path("output") / workbook.stem


@app.command()
def check(
    workbook: Path = typer.Argument(..., help="The site workbook (.xlsx or .xlsm)."),
    format: str = typer.Option("text", "--format", "-f", help="text (a table) or json (to stdout)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for findings.json and findings.csv "
                                       "[default: output/<workbook stem>/]."),
    fail_on: str = typer.Option("major", "--fail-on", help="Exit 1 when a finding is at or above this "
                                "severity: critical, major, minor or info."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile: a TOML file or a "
                                          "bundled name [default: ql1604_bev_hcc]."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Refuse workbooks that unpack "
                                          "to more than this (zip bombs)."),
):
    """Read and validate a workbook; print findings. Exit 0 clean, 1 findings, 2 unreadable."""
    from .findings import Severity
    from .reporters import to_json, to_text, write_outputs

    try:
        threshold = Severity.parse(fail_on)
    except ValueError as e:
        _fail(str(e))
    if format not in ("text", "json"):
        _fail(f"--format must be text or json, not {format!r}")
    result = _check(workbook, _profile(profile), max_unpacked_mb)
    write_outputs(result, out or default_out(workbook))
    if format == "json":
        sys.stdout.write(to_json(result))
    else:
        sys.stdout.write(to_text(result))
    raise typer.Exit(EXIT_FINDINGS if result.count(threshold) else EXIT_OK)


@app.command()
def rules():
    """List every rule: code, name, severity and what it catches."""
    from .rules.registry import RULES

    for r in RULES:
        typer.echo(f"{r.code:<8} {r.severity.value:<8} {r.name:<32} {r.summary}")


@app.command()
def template(
    out: Path = typer.Argument(..., help="Where to write the empty workbook (.xlsx)."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile for the drug lists."),
):
    """Write an empty workbook for coordinators: every sheet and column, notes and drop-downs."""
    from .workbook.template import write_template

    path = write_template(out, _profile(profile))
    typer.echo(str(path))


@app.command()
def annotate(
    workbook: Path = typer.Argument(..., help="The site workbook; it is never modified."),
    out: Optional[Path] = typer.Option(None, "--out", help="The annotated copy "
                                       "[default: output/<stem>/<stem>-annotated.xlsx]."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit."),
):
    """Write a copy of the workbook with every finding's cell coloured and commented."""
    from .workbook.annotate import annotate_copy

    result = _check(workbook, _profile(profile), max_unpacked_mb)
    target = out or default_out(workbook) / f"{workbook.stem}-annotated.xlsx"
    path = annotate_copy(workbook, result, target)
    typer.echo(str(path))


@app.command()
def export(
    workbook: Path = typer.Argument(..., help="The site workbook."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the tables "
                                       "[default: output/<workbook stem>/export/]."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Protocol profile."),
    max_unpacked_mb: float = typer.Option(200, "--max-unpacked-mb", help="Unpacked size limit."),
):
    """Write the cleaned tables (subjects, cycles, labs, adverse_events, vitals, tumor, findings)
    as CSV and Parquet, each row keeping its Excel row number."""
    from .export import build_tables, write_tables
    from .labs.catalogue import load_catalogue

    result = _check(workbook, _profile(profile), max_unpacked_mb)
    target = out or default_out(workbook) / "export"
    for p in write_tables(build_tables(result, load_catalogue()), target):
        typer.echo(str(p))


@app.command()
def version():
    """Print the tool version."""
    typer.echo(__version__)


def main():  # pragma: no cover
    app()
