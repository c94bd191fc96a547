"""One workbook's files in a batch: findings JSON/CSV, the annotated copy, and the PDF summary when
the report module is installed. Runs inside a worker process; every file is written atomically.

Each output is a kind -> path (relative to the batch output folder); a kind that could not be
written gets a note (kind -> reason) instead, and any stale file of that kind is removed so an old
file never passes for a current one.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from pathlib import Path

FINDINGS_JSON, FINDINGS_CSV, ANNOTATED, REPORT_PDF, CHANGES_JSON, ERROR_JSON = (
    "findings_json", "findings_csv", "annotated_xlsx", "report_pdf", "changes_json", "error_json")
REPORT_MODULE = "monitor.report.render"


def report_available() -> bool:
    """Whether the PDF report module is installed, without importing it (WeasyPrint is slow to
    import, and an unchanged re-run must not pay for it)."""
    try:
        return importlib.util.find_spec(REPORT_MODULE) is not None
    except (ImportError, ValueError):
        return False


def expected_kinds(pdf: bool = True) -> set:
    kinds = {FINDINGS_JSON, FINDINGS_CSV, ANNOTATED, CHANGES_JSON}
    if pdf and report_available():
        kinds.add(REPORT_PDF)
    return kinds


def file_names(stem: str) -> dict:
    return {FINDINGS_JSON: "findings.json", FINDINGS_CSV: "findings.csv",
            ANNOTATED: f"{stem}-annotated.xlsx", REPORT_PDF: f"{stem}-summary.pdf",
            CHANGES_JSON: "changes.json", ERROR_JSON: "error.json"}


def remove_stale(out_dir: Path, names) -> None:
    for name in names:
        try:
            (out_dir / name).unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass


def clean_temp_files(folder: Path, recursive: bool = False) -> int:
    """Remove temp files an interrupted atomic write left behind (`.<name>.<random>.tmp`), in
    `folder` (and, `recursive`, its sub-folders: a run killed mid-write leaves them anywhere).
    Only called while holding the folder lock, so no other run is writing them. Returns the count."""
    removed = 0
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.name.startswith(".") and e.name.endswith(".tmp") and e.is_file(follow_symlinks=False):
                    try:
                        os.unlink(e.path)
                        removed += 1
                    except OSError:
                        pass
                elif recursive and e.is_dir(follow_symlinks=False):
                    removed += clean_temp_files(Path(e.path), True)
    except OSError:
        pass
    return removed


def file_sha256(path: Path) -> str:
    from ..io import sha256_file

    return sha256_file(path)


def _environment_failure(e: BaseException) -> bool:
    """An OSError of the machine (disk full, permissions ...): it fails the run, it is never a
    note of a check recorded as done."""
    from .worker import is_operational

    return is_operational(e)


def write_workbook_outputs(src: Path, result, out_dir: Path, out_root: Path, stem: str,
                           previous_ids: frozenset = frozenset(), now=None, profile=None,
                           pdf: bool = True) -> tuple[dict, dict, dict]:
    """Write findings.json/.csv, the annotated copy and (if available) the PDF summary, all from
    the check's one snapshot. Returns (kind -> path, kind -> why not written, kind -> SHA-256 of
    the file written). An OSError of the machine (disk full ...) propagates: the caller fails
    the run. A kind that could not be written for another reason gets a note; it is not cached
    (the next run checks the workbook again)."""
    from ..reporters import write_outputs
    from ..workbook.annotate import annotate_copy

    names = file_names(stem)
    rel = lambda p: Path(p).relative_to(out_root).as_posix()  # noqa: E731
    outputs, notes, hashes = {}, {}, {}

    def done(kind, path):
        outputs[kind] = rel(path)
        hashes[kind] = file_sha256(Path(path))

    json_path, csv_path = write_outputs(result, out_dir)
    done(FINDINGS_JSON, json_path)
    done(FINDINGS_CSV, csv_path)
    remove_stale(out_dir, [names[ERROR_JSON]])

    from .worker import fault

    fault("worker-after-findings")          # tests: the main process killed while the worker writes
    try:
        fault("outputs-annotated", out_dir / names[ANNOTATED])
        done(ANNOTATED, annotate_copy(src, result, out_dir / names[ANNOTATED]))
    except Exception as e:  # openpyxl cannot open every file calamine reads: findings still stand
        if _environment_failure(e):
            raise
        notes[ANNOTATED] = f"annotated copy not written: {type(e).__name__}: {e}"
        remove_stale(out_dir, [names[ANNOTATED]])

    if not pdf:
        notes[REPORT_PDF] = "PDF summary not requested (--no-pdf)"
        remove_stale(out_dir, [names[REPORT_PDF]])
    elif report_available():
        try:
            done(REPORT_PDF, render_pdf(result, out_dir / names[REPORT_PDF], previous_ids, now, profile))
        except Exception as e:
            if _environment_failure(e):
                raise
            notes[REPORT_PDF] = f"PDF summary not written: {type(e).__name__}: {e}"
            remove_stale(out_dir, [names[REPORT_PDF]])
    else:
        notes[REPORT_PDF] = "PDF summary not written: the report module (monitor.report) is not installed"
        remove_stale(out_dir, [names[REPORT_PDF]])
    return outputs, notes, hashes


_OUT_FILE = ("out", "target", "path", "pdf", "pdf_path", "out_path", "output", "dest", "out_file")
_OUT_DIR = ("out_dir", "out_folder", "folder", "directory")
_NEW_IDS = ("new_ids", "new_finding_ids", "new")
_PREVIOUS = ("previous_ids", "previous", "previous_finding_ids")


def render_pdf(result, target: Path, previous_ids: frozenset = frozenset(), now=None, profile=None) -> Path:
    """Call `monitor.report.render.render_report`, whose signature is discovered: the first
    parameter gets the check Result; a parameter named like an output file (out, target, path
    ...) gets `target`, one named like a folder gets its folder; new / previous finding ids,
    `now` and `profile` are passed when asked for. A returned bytes object is written atomically; a returned
    path is taken as the file written."""
    import importlib

    from ..io import atomic_write_bytes

    render = importlib.import_module(REPORT_MODULE).render_report
    params = list(inspect.signature(render).parameters.values())
    if not params:
        raise TypeError("render_report takes no arguments")
    args, kwargs = [result], {}
    current = {f.id for f in result.findings}
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in _OUT_FILE:
            kwargs[p.name] = target
        elif p.name in _OUT_DIR:
            kwargs[p.name] = target.parent
        elif p.name in _NEW_IDS:
            kwargs[p.name] = frozenset(current - set(previous_ids))
        elif p.name in _PREVIOUS:
            kwargs[p.name] = frozenset(previous_ids)
        elif p.name == "now" and now is not None:
            kwargs[p.name] = now
        elif p.name == "profile" and profile is not None:
            kwargs[p.name] = profile
        elif p.default is p.empty:
            raise TypeError(f"render_report needs {p.name!r}, which the batch cannot supply")
    if p_pos := [p for p in params[1:] if p.kind == p.POSITIONAL_ONLY]:
        raise TypeError(f"render_report has positional-only parameters {[p.name for p in p_pos]}")
    out = render(*args, **kwargs)
    if isinstance(out, (bytes, bytearray)):
        atomic_write_bytes(target, bytes(out))
        return target
    if isinstance(out, (str, os.PathLike)) and Path(out).is_file():
        return Path(out)
    if target.is_file():
        return target
    raise RuntimeError("render_report returned no PDF")
