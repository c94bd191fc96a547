"""Run history: an embedded SQLite database (`monitor.db`) in the batch output folder.

Tables (schema version 5; `monitor history` and docs/batch.md describe them for users):

  schema_migrations  version, name, applied            one row per migration applied
  runs               one row per `monitor batch` run (or per group of files `monitor watch` checked)
  workbooks          one row per workbook path (relative to the inbox), with its output folder
  checks             one row per workbook per run: checked | skipped | error, counts, new/resolved
  findings           one row per stable finding id per workbook: first_seen / last_seen run, and
                     resolved_run while it is gone (NULL while open)
  changes            what changed per workbook per run: each new or resolved finding, with the
                     finding's text as it was then
  workflow           one row per finding a person accepted, queried or answered (workflow.py)
  audit              every workflow change with who and when; append-only (triggers)
  users, user_sites, api_tokens, web_workbooks, web_events   `monitor serve` (monitor/web/store.py)

Migrations are versioned: each is a list of statements applied inside one transaction together
with its `schema_migrations` row, so an interrupted upgrade leaves the previous version intact.
A database written by a newer monitor (a version this code does not know) is refused.

Writes happen only in the main process (workers return plain dicts). The database runs in WAL
mode and every workbook's result is one transaction, so an interrupted run keeps every workbook
it finished and never a half-recorded one; its run row stays `running` and the next run marks
it `interrupted`. A run that fails (disk, permissions, database) ends `failed` with its reason.
integrity.py checks the database and backs it up before runs.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .schema_sql import _V1, _V2, _V3, _V4, _V5   # the statements of each schema version

DB_NAME = "monitor.db"
SEVERITIES = ("critical", "major", "minor", "info")


class HistoryError(Exception):
    """The history database cannot be used (newer schema, not a database, locked ...)."""


# ----------------------------------------------------------------------------- migrations

MIGRATIONS = (
    (1, "runs, workbooks, checks, findings, changes", _V1),
    (2, "outputs and notes per check; indexes for history queries", _V2),
    (3, "failed runs with their reason; SHA-256 of each output file", _V3),
    (4, "findings workflow (accepted, queried, answered) and its append-only audit trail", _V4),
    (5, "web accounts, API tokens, uploaded workbooks and the web audit trail (monitor serve)", _V5),
)
LATEST = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_migrations'").fetchone()
    if row is None:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


def migrate(conn: sqlite3.Connection, upto: int | None = None, now: str = "") -> int:
    """Apply the migrations this database lacks (up to `upto`, default all), each in its own
    transaction. Returns the version."""
    upto = LATEST if upto is None else upto
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)")
    current = schema_version(conn)
    if current > LATEST:
        raise HistoryError(f"the history database has schema version {current}, newer than this "
                           f"monitor knows ({LATEST}); use a newer monitor or another --out folder")
    for version, name, statements in MIGRATIONS:
        if version <= current or version > upto:
            continue
        # a table rebuild (v3) drops a parent table: foreign keys are checked after, not during
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql in statements:
                conn.execute(sql)
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise HistoryError(f"migration {version} would break the history's references")
            conn.execute("INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                         (version, name, now or _utcnow()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute("PRAGMA foreign_keys=ON")
        current = version
    return current


def _utcnow() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def connect(path: Path, same_thread: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) the database in autocommit mode; transactions are explicit.
    `same_thread=False`: the connection may be used by another thread than the one that opened
    it (one at a time: workflow.OpeningStore opens it on a thread and hands it over)."""
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=same_thread)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as e:
        raise HistoryError(f"{path}: not a usable history database ({e})") from None
    return conn


# ----------------------------------------------------------------------------- the store

@dataclass
class Previous:
    """What the last check of a workbook left behind (for skipping unchanged files)."""

    run: int
    status: str
    sha256: str | None
    config_key: str | None
    outputs: dict
    notes: dict
    by_severity: dict
    findings: int
    hashes: dict


@dataclass
class Diff:
    """What one check changed in the history: findings new, still open and resolved."""

    new: list          # finding dicts
    persisting: list   # finding ids
    resolved: list     # finding dicts (as last seen)


class History:
    """The run history of one output folder."""

    def __init__(self, out_dir: Path, create: bool = True, same_thread: bool = True):
        self.path = Path(out_dir) / DB_NAME
        if not create and not self.path.exists():
            raise HistoryError(f"{self.path}: no history yet (run `monitor batch` with this --out first)")
        self.conn = connect(self.path, same_thread)
        try:
            migrate(self.conn)   # upgrades an older schema; refuses a newer one
        except HistoryError:
            self.conn.close()
            raise
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise HistoryError(f"{self.path}: not a usable history database ({e})") from None

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- transactions
    def _tx(self):
        return _Tx(self.conn)

    # -- runs
    def start_run(self, *, started: str, inbox: str, profile: str, profile_sha256: str,
                  tool_version: str, fail_on: str | None, jobs: int | None, forced: bool,
                  kind: str = "batch") -> int:
        with self._tx():
            # the caller holds the folder lock, so a run still 'running' was cut short
            self.conn.execute("UPDATE runs SET status='interrupted', reason='the process was killed or stopped "
                              "before the run finished' WHERE status='running'")
            cur = self.conn.execute(
                "INSERT INTO runs (started, status, kind, inbox, profile, profile_sha256, tool_version,"
                " fail_on, jobs, forced) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (started, kind, inbox, profile, profile_sha256, tool_version, fail_on, jobs, int(forced)))
            return cur.lastrowid

    def finish_run(self, run: int, finished: str, exit_code: int | None, status: str = "finished",
                   reason: str | None = None):
        with self._tx():
            self.conn.execute("UPDATE runs SET finished=?, status=?, exit_code=?, reason=? WHERE id=?",
                              (finished, status, exit_code, reason, run))

    def last_completed(self, before: int) -> int | None:
        """The last batch run before `before` that finished (and wrote batch.json)."""
        row = self.conn.execute("SELECT MAX(id) FROM runs WHERE status='finished' AND kind='batch' AND id < ?",
                                (before,)).fetchone()
        return row[0] if row else None

    def news_since(self, since: int | None) -> dict:
        """Per workbook id, (new ids, resolved ids) since run `since` (None: since the first run):
        findings open now that were not open after that run, and findings open after it that are
        not now. Runs in between that were killed or failed count, so their news is never lost."""
        rows = self.conn.execute(
            "SELECT workbook, finding, change FROM changes WHERE run > ? ORDER BY workbook, finding, run",
            (since or 0,)).fetchall()
        first, last = {}, {}
        for wb, fid, change in rows:
            first.setdefault((wb, fid), change)
            last[(wb, fid)] = change
        out = {}
        for key, change in last.items():
            if first[key] != change:
                continue            # appeared and went (or went and came back): no net change
            wb, fid = key
            out.setdefault(wb, ([], []))[0 if change == "new" else 1].append(fid)
        return out

    def next_run_id(self) -> int:
        return (self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0] or 0) + 1

    def last_inbox(self) -> str | None:
        row = self.conn.execute("SELECT inbox FROM runs WHERE kind IN ('batch', 'watch') ORDER BY id DESC LIMIT 1"
                                ).fetchone()
        return row["inbox"] if row else None

    # -- workbooks
    def workbook(self, path: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM workbooks WHERE path=?", (path,)).fetchone()

    def ensure_workbook(self, path: str, out_dir: str, run: int) -> tuple[int, str]:
        """The workbook's id and output folder; a new workbook gets `out_dir`, or `out_dir~2`,
        `~3` ... when another workbook already owns that folder (compared case-folded, for
        case-insensitive file systems). Once given, a workbook keeps its folder."""
        row = self.workbook(path)
        if row is not None:
            return row["id"], row["out_dir"]
        taken = {r[0] for r in self.conn.execute(
            "SELECT out_key FROM workbooks WHERE out_key = ? OR out_key LIKE ? ESCAPE '\\'",
            (out_dir.casefold(), _like_prefix(out_dir.casefold()) + "~%"))}
        candidate, n = out_dir, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{out_dir}~{n}"
        with self._tx():
            cur = self.conn.execute("INSERT INTO workbooks (path, out_dir, out_key, first_run) VALUES (?, ?, ?, ?)",
                                    (path, candidate, candidate.casefold(), run))
        return cur.lastrowid, candidate

    def previous(self, workbook_id: int) -> Previous | None:
        """The last check that produced findings (checked or skipped) of this workbook."""
        row = self.conn.execute(
            "SELECT * FROM checks WHERE workbook=? AND status IN ('checked', 'skipped') "
            "ORDER BY run DESC LIMIT 1", (workbook_id,)).fetchone()
        if row is None:
            return None
        return Previous(row["run"], row["status"], row["sha256"], row["config_key"],
                        json.loads(row["outputs"] or "{}"), json.loads(row["notes"] or "{}"),
                        {s: row[s] or 0 for s in SEVERITIES}, row["findings"] or 0,
                        json.loads(row["hashes"] or "{}"))

    def open_ids(self, workbook_id: int) -> set:
        return {r[0] for r in self.conn.execute(
            "SELECT id FROM findings WHERE workbook=? AND resolved_run IS NULL", (workbook_id,))}

    # -- recording one workbook's result (one transaction each)
    def record_checked(self, run: int, workbook_id: int, *, sha256: str, config_key: str,
                       findings: list, outputs: dict, notes: dict, seconds: float | None,
                       hashes: dict | None = None) -> Diff:
        c = self.conn
        with self._tx():
            open_rows = {r["id"]: dict(r) for r in c.execute(
                "SELECT * FROM findings WHERE workbook=? AND resolved_run IS NULL", (workbook_id,))}
            current = {f["id"]: f for f in findings}
            new = [f for fid, f in current.items() if fid not in open_rows]
            persisting = [fid for fid in current if fid in open_rows]
            resolved = [_row_finding(r) for fid, r in open_rows.items() if fid not in current]
            # one statement for all findings (executemany inside the workbook's one transaction)
            c.executemany(
                "INSERT INTO findings (workbook, id, rule, name, severity, sheet, cell, row, subject,"
                " message, suggestion, column_header, first_seen, last_seen, resolved_run)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (workbook, id) DO UPDATE SET rule=excluded.rule, name=excluded.name,"
                " severity=excluded.severity, sheet=excluded.sheet, cell=excluded.cell, row=excluded.row,"
                " subject=excluded.subject, message=excluded.message, suggestion=excluded.suggestion,"
                " column_header=excluded.column_header, last_seen=excluded.last_seen, resolved_run=NULL",
                [(workbook_id, f["id"], f["rule"], f.get("name"), f["severity"], f.get("sheet"), f.get("cell"),
                  f.get("row"), f.get("subject"), f.get("message"), f.get("suggestion"), f.get("column"), run, run)
                 for f in findings])
            if resolved:
                c.executemany("UPDATE findings SET resolved_run=? WHERE workbook=? AND id=?",
                              [(run, workbook_id, f["id"]) for f in resolved])
            c.executemany(
                "INSERT OR REPLACE INTO changes (run, workbook, finding, change, rule, severity, sheet, cell,"
                " subject, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run, workbook_id, f["id"], kind, f["rule"], f["severity"], f.get("sheet"), f.get("cell"),
                  f.get("subject"), f.get("message")) for kind, fs in (("new", new), ("resolved", resolved))
                 for f in fs])
            sev = _by_severity(findings)
            c.execute(
                "INSERT OR REPLACE INTO checks (run, workbook, status, sha256, config_key, error, findings,"
                " critical, major, minor, info, new, persisting, resolved, seconds, outputs, notes, hashes)"
                " VALUES (?, ?, 'checked', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run, workbook_id, sha256, config_key, len(findings), *(sev[s] for s in SEVERITIES),
                 len(new), len(persisting), len(resolved), seconds,
                 json.dumps(outputs, sort_keys=True), json.dumps(notes, sort_keys=True),
                 json.dumps(hashes or {}, sort_keys=True)))
        return Diff(new, persisting, resolved)

    def record_skipped(self, run: int, workbook_id: int, prev: Previous, sha256: str) -> int:
        """An unchanged workbook: its open findings are still there (last_seen moves on)."""
        with self._tx():
            cur = self.conn.execute("UPDATE findings SET last_seen=? WHERE workbook=? AND resolved_run IS NULL",
                                    (run, workbook_id))
            self.conn.execute(
                "INSERT OR REPLACE INTO checks (run, workbook, status, sha256, config_key, error, findings,"
                " critical, major, minor, info, new, persisting, resolved, seconds, outputs, notes, hashes)"
                " VALUES (?, ?, 'skipped', ?, ?, NULL, ?, ?, ?, ?, ?, 0, ?, 0, NULL, ?, ?, ?)",
                (run, workbook_id, sha256, prev.config_key, prev.findings,
                 *(prev.by_severity[s] for s in SEVERITIES), cur.rowcount,
                 json.dumps(prev.outputs, sort_keys=True), json.dumps(prev.notes, sort_keys=True),
                 json.dumps(prev.hashes, sort_keys=True)))
        return cur.rowcount

    def record_error(self, run: int, workbook_id: int, sha256: str | None, error: str,
                     seconds: float | None = None):
        """Unreadable: its findings are neither confirmed nor resolved (we could not look)."""
        with self._tx():
            self.conn.execute(
                "INSERT OR REPLACE INTO checks (run, workbook, status, sha256, error, seconds)"
                " VALUES (?, ?, 'error', ?, ?, ?)", (run, workbook_id, sha256, error, seconds))

    # -- reading history
    def runs(self, limit: int | None = None) -> list:
        rows = self.conn.execute(
            "SELECT r.*, COUNT(c.workbook) AS workbooks,"
            " SUM(c.status='checked') AS checked, SUM(c.status='skipped') AS skipped,"
            " SUM(c.status='error') AS errors, SUM(COALESCE(c.findings, 0)) AS findings,"
            " SUM(COALESCE(c.new, 0)) AS new, SUM(COALESCE(c.resolved, 0)) AS resolved"
            " FROM runs r LEFT JOIN checks c ON c.run = r.id GROUP BY r.id ORDER BY r.id DESC"
            + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [dict(r) for r in reversed(rows)]

    def workbook_paths(self) -> list:
        return [r[0] for r in self.conn.execute("SELECT path FROM workbooks ORDER BY path")]

    def workbook_history(self, path: str, limit: int | None = None) -> list:
        """Each run that looked at the workbook, oldest first, with its new and resolved findings."""
        wb = self.workbook(path)
        if wb is None:
            return []
        rows = self.conn.execute(
            "SELECT c.*, r.started, r.finished, r.status AS run_status FROM checks c JOIN runs r ON r.id = c.run"
            " WHERE c.workbook=? ORDER BY c.run DESC" + (" LIMIT ?" if limit else ""),
            (wb["id"], limit) if limit else (wb["id"],)).fetchall()
        out = []
        for r in reversed(rows):
            d = {k: r[k] for k in r.keys() if k not in ("outputs", "notes")}
            d["outputs"] = json.loads(r["outputs"] or "{}")
            d["notes"] = json.loads(r["notes"] or "{}")
            ch = self.conn.execute(
                "SELECT * FROM changes WHERE run=? AND workbook=? ORDER BY change, "
                "CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END,"
                " sheet, cell, rule, finding", (r["run"], wb["id"])).fetchall()
            d["changes"] = [dict(x) for x in ch]
            out.append(d)
        return out

    def open_findings(self, path: str) -> list:
        wb = self.workbook(path)
        if wb is None:
            return []
        return [dict(r) for r in self.conn.execute(
            "SELECT * FROM findings WHERE workbook=? AND resolved_run IS NULL ORDER BY "
            "CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END,"
            " sheet, row, cell, rule, id", (wb["id"],))]


class _Tx:
    """One transaction; inside another one it joins it (the outer one commits or rolls back)."""

    def __init__(self, conn):
        self.conn = conn
        self.outer = False

    def __enter__(self):
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if self.outer:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


def _by_severity(findings: list) -> dict:
    out = {s: 0 for s in SEVERITIES}
    for f in findings:
        out[f["severity"]] = out.get(f["severity"], 0) + 1
    return out


def _row_finding(r: dict) -> dict:
    return {"id": r["id"], "rule": r["rule"], "name": r["name"], "severity": r["severity"],
            "sheet": r["sheet"], "cell": r["cell"], "row": r["row"], "subject": r["subject"],
            "message": r["message"], "suggestion": r["suggestion"], "column": r["column_header"]}


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def resolve_workbook(hist: History, arg: str) -> str:
    """The history's path for WORKBOOK as a user types it: the path relative to the inbox, the
    file's own path, or a unique tail of it (`a.xlsx`, `site01/a.xlsx`)."""
    paths = hist.workbook_paths()
    text = str(arg).replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if text in paths:
        return text
    p = Path(arg)
    if p.exists():
        real = p.resolve()
        inboxes = [r[0] for r in hist.conn.execute("SELECT DISTINCT inbox FROM runs ORDER BY id DESC")]
        for inbox in inboxes:
            try:
                rel = real.relative_to(Path(inbox)).as_posix()
            except ValueError:
                continue
            if rel in paths:
                return rel
    tail = [q for q in paths if q.endswith("/" + text)]
    if len(tail) == 1:
        return tail[0]
    if len(tail) > 1:
        raise HistoryError(f"{arg!r} matches several workbooks: {', '.join(tail[:10])}; give more of the path")
    known = ", ".join(paths[:10]) + (" ..." if len(paths) > 10 else "")
    raise HistoryError(f"{arg!r} is not in the history of {hist.path.parent}"
                       + (f" (workbooks: {known})" if paths else " (no workbooks recorded yet)"))
