"""The findings workflow kept in the history store (monitor.db): a finding can be accepted
(checked against source, or an exception the protocol allows), queried, and answered; every
change is kept in the append-only `audit` table with who and when. Nothing is ever deleted.

States (per workbook and stable finding id, table `workflow`):

  open      no one has acted on it (no row)
  accepted  `monitor accept`: does not count toward the exit code any more
  queried   `monitor query`: a question to the site is open
  answered  the site's response was recorded (`monitor responses` from the annotated copy)

A finding that disappears from the workbook is resolved (`findings.resolved_run`, and an audit
row `resolved` when a person had acted on it); one that comes back keeps its state (`reopened`).

Where the store lives: `batch`, `watch` and `history` keep it in their `--out` folder; `check`
and `report` in their `--out` folder when given, else in `output/` (so `output/monitor.db`
beside `output/<stem>/`). `accept`, `query` and `responses` take the same `--out`.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from .history import History, HistoryError

HUMAN_ACTIONS = ("accepted", "queried", "answered")
STATUSES = ("open", "accepted", "queried", "answered")
DEFAULT_STORE = Path("output")


class WorkflowError(Exception):
    """A workflow command cannot be done (unknown workbook or finding, nothing to answer ...)."""


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def default_by() -> str:
    """Who acts when --by is not given: $MONITOR_USER, else the login name."""
    name = os.environ.get("MONITOR_USER")
    if name:
        return name
    try:
        import getpass   # here: only a workflow change asks who made it (getpass loads termios)

        return getpass.getuser()
    except Exception:  # no login name (a container): still someone
        return "unknown"


def store_folder(out) -> Path:
    return Path(out) if out else DEFAULT_STORE


# ---------------------------------------------------------------------------- reading

def states(conn, wid: int) -> dict:
    """finding id -> {status, reason, query, response, by, at} for the findings a person acted on."""
    return {r["finding"]: {"status": r["status"], "reason": r["reason"], "query": r["query"],
                           "response": r["response"], "by": r["by_name"], "at": r["at"]}
            for r in conn.execute("SELECT * FROM workflow WHERE workbook=?", (wid,))}


def human_stamp(conn, wid: int) -> int:
    """The id of the workbook's last accept / query / response (0: none): outputs written before
    it show an old status, so the workbook is checked again."""
    row = conn.execute("SELECT MAX(id) FROM audit WHERE workbook=? AND action IN ('accepted', 'queried', "
                       "'answered')", (wid,)).fetchone()
    return row[0] or 0


def seen(conn, run: int, wid: int) -> int:
    row = conn.execute("SELECT workflow_seen FROM checks WHERE run=? AND workbook=?", (run, wid)).fetchone()
    return (row[0] or 0) if row else 0


def set_seen(conn, run: int, wid: int, stamp: int) -> None:
    conn.execute("UPDATE checks SET workflow_seen=? WHERE run=? AND workbook=?", (stamp, run, wid))


def audit_trail(conn, wid: int) -> list:
    return [dict(r) for r in conn.execute(
        "SELECT a.id, a.at, a.finding, a.action, a.by_name, a.text, a.run, f.rule, f.severity, f.sheet, f.cell,"
        " f.message FROM audit a LEFT JOIN findings f ON f.workbook = a.workbook AND f.id = a.finding"
        " WHERE a.workbook=? ORDER BY a.id", (wid,))]


def open_after(conn, wid: int, run: int) -> set:
    """Finding ids open after run `run` (replaying the new / resolved changes up to it)."""
    rows = conn.execute("SELECT finding, change FROM changes WHERE workbook=? AND run<=? ORDER BY run",
                        (wid, run)).fetchall()
    last = {}
    for fid, change in rows:
        last[fid] = change
    return {fid for fid, change in last.items() if change == "new"}


def baseline(conn, wid: int, sha256: str | None, before: int) -> set | None:
    """What a single-workbook check compares with to call a finding new: the findings open after
    the last check (before run `before`) of *other* bytes of the workbook. Checking the same file
    twice, or `report` after `check`, does not hide what is new. None: no earlier version."""
    row = conn.execute("SELECT MAX(run) FROM checks WHERE workbook=? AND run<? AND status='checked'"
                       " AND COALESCE(sha256, '') != ?", (wid, before, sha256 or "")).fetchone()
    if row[0] is None:
        return None        # no earlier version checked: nothing to compare with
    return open_after(conn, wid, row[0])


def status_counts(conn, wid: int) -> dict:
    """Open findings of the workbook by workflow status."""
    out = {s: 0 for s in STATUSES}
    for status, n in conn.execute(
            "SELECT COALESCE(w.status, 'open'), COUNT(*) FROM findings f LEFT JOIN workflow w"
            " ON w.workbook = f.workbook AND w.finding = f.id WHERE f.workbook=? AND f.resolved_run IS NULL"
            " GROUP BY 1", (wid,)):
        out[status] = n
    return out


def failing(conn, wid: int, threshold_rank: int, only: set | None = None) -> int:
    """Open findings at or above the threshold that are not accepted (and, with `only`, among
    those ids: --fail-on-new)."""
    from ..findings import Severity

    n = 0
    for fid, sev, status in conn.execute(
            "SELECT f.id, f.severity, w.status FROM findings f LEFT JOIN workflow w ON w.workbook = f.workbook"
            " AND w.finding = f.id WHERE f.workbook=? AND f.resolved_run IS NULL", (wid,)):
        if status == "accepted" or Severity(sev).rank < threshold_rank:
            continue
        if only is not None and fid not in only:
            continue
        n += 1
    return n


# ---------------------------------------------------------------------------- changing

def _finding_id(conn, wid: int, text: str, path: str) -> str:
    """The full id from an id or a unique prefix of at least 6 characters."""
    want = (text or "").strip().lower()
    if conn.execute("SELECT 1 FROM findings WHERE workbook=? AND id=?", (wid, want)).fetchone():
        return want
    if len(want) >= 6:
        rows = [r[0] for r in conn.execute("SELECT id FROM findings WHERE workbook=? AND id LIKE ? || '%'",
                                           (wid, want))]
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise WorkflowError(f"finding id {text!r} matches {len(rows)} findings of {path}; give more of it")
    raise WorkflowError(f"{path} has no finding {text!r} in its history (ids are in findings.json, the "
                        "annotated copy's Findings sheet, or `monitor check --format json`)")


def act(hist: History, wid: int, path: str, finding: str, action: str, text: str, by: str,
        at: str | None = None) -> dict:
    """Record one accept / query / answer of a finding (one transaction: the state and its audit row)."""
    if action not in HUMAN_ACTIONS:
        raise ValueError(action)
    text = (text or "").strip()
    if not text:
        raise WorkflowError({"accepted": "--reason", "queried": "--text", "answered": "the response"}[action]
                            + " must not be empty")
    by = (by or "").strip() or default_by()
    at = at or now_utc()
    conn = hist.conn
    fid = _finding_id(conn, wid, finding, path)
    with hist._tx():
        cur = conn.execute("SELECT * FROM workflow WHERE workbook=? AND finding=?", (wid, fid)).fetchone()
        if action == "answered" and (cur is None or cur["query"] is None):
            raise WorkflowError(f"finding {fid} of {path} has no open query to answer")
        if cur is None:
            conn.execute("INSERT INTO workflow (workbook, finding, status, reason, query, response, by_name, at)"
                         " VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                         (wid, fid, action, text if action == "accepted" else None,
                          text if action == "queried" else None, by, at))
        else:
            col = {"accepted": "reason", "queried": "query", "answered": "response"}[action]
            extra = ", response=NULL" if action == "queried" else ""
            conn.execute(f"UPDATE workflow SET status=?, {col}=?, by_name=?, at=?{extra}"
                         " WHERE workbook=? AND finding=?", (action, text, by, at, wid, fid))
        conn.execute("INSERT INTO audit (at, workbook, finding, action, by_name, text) VALUES (?, ?, ?, ?, ?, ?)",
                     (at, wid, fid, action, by, text))
    return {"finding": fid, "status": action, "by": by, "at": at, "text": text}


def note_changes(hist: History, wid: int, run: int, new_ids, resolved_ids, at: str | None = None) -> None:
    """Audit rows for findings a person acted on that went (`resolved`) or came back (`reopened`)."""
    acted = {r[0] for r in hist.conn.execute("SELECT finding FROM workflow WHERE workbook=?", (wid,))}
    rows = [(at or now_utc(), wid, fid, action, "monitor", None, run)
            for action, ids in (("resolved", resolved_ids), ("reopened", new_ids)) for fid in sorted(ids)
            if fid in acted]
    if rows:
        with hist._tx():
            hist.conn.executemany("INSERT INTO audit (at, workbook, finding, action, by_name, text, run)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


# ---------------------------------------------------------------------------- single workbooks

def workbook_key(hist: History, path: Path) -> str:
    """The store's name for a workbook checked on its own: its path in an inbox a batch run of
    this store recorded, when it is one of that batch's workbooks; else its file name."""
    from .history import resolve_workbook

    try:
        key = resolve_workbook(hist, str(path))
        if key.rsplit("/", 1)[-1] == Path(path).name:
            return key
    except HistoryError:
        pass
    return Path(path).name


def record_single(folder: Path, workbook: Path, result, profile, kind: str,
                  opening: "OpeningStore | None" = None) -> None:
    """Record `check` / `report` of one workbook as a run of the store in `folder`, and put the
    workflow on `result`: each finding's state, the ids new since the previous check of another
    version, and the findings resolved by this check. `opening`: the store of `folder` already
    being opened on a thread (OpeningStore). Raises HistoryError, OSError."""
    from .. import __version__
    from .keys import profile_sha256

    lock, hist = opening.get() if opening is not None else open_store(folder)
    folder = Path(folder)
    try:
        with hist._tx():   # one transaction: the whole run or nothing
            key = workbook_key(hist, workbook)
            at = now_utc()
            run = hist.start_run(started=at, inbox=str(Path(workbook).resolve().parent), profile=profile.name,
                                 profile_sha256=profile_sha256(profile), tool_version=__version__,
                                 fail_on=None, jobs=1, forced=False, kind=kind)
            wid, _ = hist.ensure_workbook(key, key.rsplit(".", 1)[0], run)
            base = baseline(hist.conn, wid, result.sha256, run)
            findings = [f.to_dict() for f in result.findings]
            diff = hist.record_checked(run, wid, sha256=result.sha256, config_key=None, findings=findings,
                                       outputs={}, notes={}, seconds=None)
            note_changes(hist, wid, run, [f["id"] for f in diff.new], [f["id"] for f in diff.resolved], at)
            set_seen(hist.conn, run, wid, human_stamp(hist.conn, wid))
            hist.finish_run(run, now_utc(), None)
            current = {f["id"] for f in findings}
            result.workflow = states(hist.conn, wid)
            result.new_ids = None if base is None else current - base
            result.resolved = [dict(f, status="resolved") for f in diff.resolved]
            result.history = {"store": str(folder.resolve()), "workbook": key, "run": run}
    finally:
        if opening is not None:
            opening.close_soon(lock, hist)
        else:
            _close(lock, hist)


def _close(lock, hist) -> None:
    try:
        hist.close()
    finally:
        lock.release()


def open_store(folder: Path, same_thread: bool = True) -> tuple:
    """(lock, History) of the store in `folder` (made if missing): the folder's lock taken (60 s
    at most: else HistoryError), the database opened and brought to the current schema."""
    from .lock import FolderLock

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(folder / ".monitor.lock")
    if not lock.acquire(timeout=60):
        raise HistoryError(f"{folder} is in use by another monitor run ({lock.holder()}); try again later")
    try:
        return lock, History(folder, same_thread=same_thread)
    except BaseException:
        lock.release()
        raise


class OpeningStore:
    """open_store of `folder` on a thread, for a command with other work to do meanwhile:
    `check` starts it once the workbook has been read (`start`, so an unreadable workbook
    leaves no store behind) and its rules run while the lock is taken and the database opened
    and migrated (~7 ms for a new store: SQLite's file work, which runs without the GIL).
    `get` waits for it: its (lock, History), or its error raised here, where record_single
    would have raised it. After the record, the store is closed (its write-ahead log copied
    into the database) and unlocked on a thread too (`close_soon`) while the command writes
    its outputs; `discard` waits for that, and closes and unlocks a store opened and not used."""

    def __init__(self, folder: Path):
        self.folder, self.thread, self.box = Path(folder), None, {}
        self.closing = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._open, name="monitor-history-open", daemon=True)
            self.thread.start()

    def _open(self) -> None:
        try:
            self.box["value"] = open_store(self.folder, same_thread=False)
        except BaseException as e:   # raised by get(), on the recording thread
            self.box["error"] = e

    def get(self) -> tuple:
        self.start()
        self.thread.join()
        if "error" in self.box:
            raise self.box.pop("error")
        return self.box.pop("value")

    def close_soon(self, lock, hist) -> None:
        def close() -> None:
            try:
                _close(lock, hist)
            except BaseException as e:   # raised by discard()
                self.box["close_error"] = e

        self.closing = threading.Thread(target=close, name="monitor-history-close", daemon=True)
        self.closing.start()

    def discard(self) -> None:
        if self.closing is not None:
            self.closing.join()
            self.closing = None
            if "close_error" in self.box:
                raise self.box.pop("close_error")
        if self.thread is None:
            return
        self.thread.join()
        if "value" in self.box:
            _close(*self.box.pop("value"))


def peek(folder: Path, workbook: Path, result) -> None:
    """What `record_single` would put on `result` (states, new ids), without writing anything:
    `report` shows it and records its run only once the PDF is written (a bad --subject leaves
    no trace)."""
    result.workflow, result.new_ids = {}, None
    folder = Path(folder)
    if not (folder / "monitor.db").exists():
        return
    with History(folder) as hist:
        row = hist.workbook(workbook_key(hist, workbook))
        if row is None:
            return
        base = baseline(hist.conn, row["id"], result.sha256, 1 << 62)
        result.workflow = states(hist.conn, row["id"])
        result.new_ids = None if base is None else {f.id for f in result.findings} - base


def load_for(folder: Path, workbook: Path, result) -> bool:
    """Put the workflow states of an existing store on `result` without recording a run
    (`annotate`). False when there is no store or it does not know the workbook."""
    folder = Path(folder)
    if not (folder / "monitor.db").exists():
        return False
    with History(folder) as hist:
        key = workbook_key(hist, workbook)
        row = hist.workbook(key)
        if row is None:
            return False
        result.workflow = states(hist.conn, row["id"])
        result.history = {"store": str(folder.resolve()), "workbook": key}
    return True


def finding_status(result, fid: str) -> dict:
    """The workflow fields of one finding for JSON, text and the annotated copy."""
    wf = getattr(result, "workflow", None)
    if wf is None:
        return {}
    st = wf.get(fid) or {}
    out = {"status": st.get("status", "open"), "reason": st.get("reason"), "query": st.get("query"),
           "response": st.get("response")}
    new_ids = getattr(result, "new_ids", None)
    if new_ids is not None:
        out["new"] = fid in new_ids
    return out
