"""The bodies of `monitor accept`, `monitor query` and `monitor responses` (cli.py declares their
options). Each returns the exit code: 0 done, 2 the command cannot be done (one line on stderr)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from ..reporters import terminal_safe
from .commands import DEFAULT_OUT, _err
from .history import History, HistoryError, resolve_workbook
from .workflow import DEFAULT_STORE, WorkflowError, act, default_by


def find_store(out, workbook: str | None) -> Path:
    """The history folder: --out when given; else output/ (where check and report keep it),
    then output/batch/ (batch's default), the first that knows the workbook."""
    if out:
        return Path(out)
    candidates = [DEFAULT_STORE, DEFAULT_OUT]
    for folder in candidates:
        if not (folder / "monitor.db").exists():
            continue
        if workbook is None:
            return folder
        try:
            with History(folder, create=False) as hist:
                resolve_workbook(hist, workbook)
            return folder
        except HistoryError:
            continue
    return candidates[0]


def _open(folder: Path) -> History:
    if not (folder / "monitor.db").exists():
        raise HistoryError(f"{folder / 'monitor.db'}: no history yet: run `monitor check` (or `monitor batch`) "
                           "with this --out first")
    return History(folder, create=False)


def _describe(hist: History, wid: int, fid: str) -> str:
    r = hist.conn.execute("SELECT rule, severity, sheet, cell FROM findings WHERE workbook=? AND id=?",
                          (wid, fid)).fetchone()
    if r is None:
        return fid
    where = f"{r['sheet']}!{r['cell']}" if r["sheet"] and r["cell"] else (r["sheet"] or "-")
    return f"{fid} ({r['severity']} {r['rule']} {where})"


def act_command(action: str, workbook: str, finding: str, text: str, by: str | None, out) -> int:
    """accept (action 'accepted') or query ('queried') one finding of a workbook."""
    folder = find_store(out, workbook)
    try:
        with _open(folder) as hist:
            path = resolve_workbook(hist, workbook)
            wid = hist.workbook(path)["id"]
            done = act(hist, wid, path, finding, action, text, by or default_by())
            what = _describe(hist, wid, done["finding"])
    except (HistoryError, WorkflowError) as e:
        return _err(str(e))
    except sqlite3.Error as e:
        return _err(f"{folder / 'monitor.db'}: {e}", 3)
    sys.stdout.write(f"{path}: {action} {what} by {done['by']} at {done['at']} (history {folder / 'monitor.db'})\n")
    return 0


def responses_command(copy: Path, out, by: str | None, max_unpacked_mb: float = 200) -> int:
    """Record every Response typed into an annotated copy (status answered). A response already
    recorded is not recorded again; one for a finding with no open query is listed and skipped."""
    from ..workbook.reader import WorkbookError
    from .responses import read_responses

    try:
        got = read_responses(Path(copy), max_unpacked_mb)
    except (WorkbookError, WorkflowError) as e:
        return _err(str(e))
    if not got.workbook:
        return _err(f"{copy}: the copy does not name its workbook (annotated before the findings workflow, "
                    "or not by `monitor annotate`); annotate the workbook again")
    folder = Path(out) if out else (Path(got.store) if got.store and (Path(got.store) / "monitor.db").exists()
                                    else find_store(None, got.workbook))
    who = by or got.modified_by or default_by()
    try:
        with _open(folder) as hist:
            row = hist.workbook(got.workbook)
            if row is None:
                return _err(f"{copy}: its workbook {got.workbook!r} is not in the history of {folder}; give the "
                            "--out folder the copy was written from")
            recorded, same, skipped = record_answers(hist, row["id"], got, who, echo=sys.stdout.write)
    except HistoryError as e:
        return _err(str(e))
    except sqlite3.Error as e:
        return _err(f"{folder / 'monitor.db'}: {e}", 3)
    for line in skipped:
        sys.stdout.write(terminal_safe(f"not recorded: {line}") + "\n")
    sys.stdout.write(f"{got.workbook}: {recorded} response{'s' if recorded != 1 else ''} recorded, {same} already "
                     f"recorded, {len(skipped)} not recorded (history {folder / 'monitor.db'})\n")
    return 0


def record_answers(hist: History, wid: int, got, who: str, echo=None) -> tuple[int, int, list]:
    """Record the answers of a returned copy: (recorded, already recorded, [why not recorded])."""
    recorded, same, skipped = 0, 0, []
    for fid, text, where in got.answers:
        cur = hist.conn.execute("SELECT response FROM workflow WHERE workbook=? AND finding=?", (wid, fid)).fetchone()
        if cur is not None and cur["response"] == text:
            same += 1
            continue
        try:
            act(hist, wid, got.workbook, fid, "answered", text, who)
        except WorkflowError as e:
            skipped.append(f"{where}: {e}")
            continue
        recorded += 1
        if echo is not None:
            echo(terminal_safe(f"answered {_describe(hist, wid, fid)} by {who}: {text[:80]}") + "\n")
    return recorded, same, skipped


def harvest(hist: History, wid: int, key: str, path: Path, recorded_sha: str | None) -> int:
    """`batch`: answers typed into the annotated copy where the batch wrote it (its SHA-256 is no
    longer the one recorded) are recorded before the copy is written again, never lost. Returns
    how many were recorded; a copy that cannot be read is left to `monitor responses`."""
    from ..io import sha256_file
    from ..workbook.reader import WorkbookError
    from .responses import read_responses

    try:
        if not path.is_file() or recorded_sha is None or sha256_file(path) == recorded_sha:
            return 0
        got = read_responses(path)
    except (OSError, WorkbookError, WorkflowError):
        return 0
    if got.workbook != key:
        return 0
    return record_answers(hist, wid, got, got.modified_by or "site (annotated copy)")[0]
