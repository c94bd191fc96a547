"""The history database's health: checked before each run, backed up, restorable.

  - before a run: `PRAGMA quick_check`; a damaged database is refused (exit 3) with one line
    naming the last good copy, instead of being written into further;
  - then a copy with SQLite's online backup API (consistent even in WAL mode) into
    `OUT/monitor.db.backup/monitor-run<N>.db`, written to a temporary file and renamed, keeping
    the newest KEEP copies;
  - `monitor history --restore` puts the newest copy that passes its own quick_check back in
    place; the damaged database is kept beside it (`monitor.db.damaged-<time>`), never deleted.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path

from .history import DB_NAME, HistoryError

BACKUP_DIR = "monitor.db.backup"
KEEP = 3
_BACKUP = re.compile(r"^monitor-run(\d+)\.db$")


class DamagedHistory(HistoryError):
    """The database fails its integrity check."""


def quick_check(path: Path) -> str | None:
    """None when the database at `path` is sound, else what SQLite found (first line)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        return str(e)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        return str(e)
    finally:
        conn.close()
    if len(rows) == 1 and rows[0][0] == "ok":
        return None
    return "; ".join(str(r[0]) for r in rows[:3])


def backups(out: Path) -> list:
    """Backup copies, newest first: [(run number it was taken before, path)]."""
    folder = Path(out) / BACKUP_DIR
    found = []
    try:
        for p in folder.iterdir():
            m = _BACKUP.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1)), p))
    except OSError:
        return []
    return sorted(found, reverse=True)


def last_good(out: Path) -> Path | None:
    b = backups(out)
    return b[0][1] if b else None


def refuse_if_damaged(out: Path) -> None:
    """Raise DamagedHistory (one line, with the last good copy) when monitor.db fails quick_check."""
    db = Path(out) / DB_NAME
    if not db.exists():
        return
    problem = quick_check(db)
    if problem is None:
        return
    good = last_good(out)
    hint = (f"the last good copy is {good}; restore it with `monitor history --restore --out {out}`"
            if good else "there is no backup copy; move the file away to start a new history")
    raise DamagedHistory(f"{db}: the history database is damaged ({problem[:120]}); refused to write into "
                         f"it; {hint}")


def backup(conn: sqlite3.Connection, out: Path, run_hint: int, keep: int = KEEP) -> Path:
    """Copy the open database with SQLite's online backup into the backup folder; keep `keep`."""
    folder = Path(out) / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    target = folder / f"monitor-run{run_hint}.db"
    tmp = folder / f".monitor-run{run_hint}.db.{os.getpid()}.tmp"
    dest = sqlite3.connect(str(tmp))
    try:
        conn.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    for _, old in backups(out)[keep:]:
        try:
            old.unlink()
        except OSError:
            pass
    return target


def restore(out: Path) -> tuple[Path, Path | None]:
    """Put the newest sound backup in place of monitor.db. Returns (backup used, where the
    replaced database was moved, or None when there was none)."""
    out = Path(out)
    db = out / DB_NAME
    for _, candidate in backups(out):
        if quick_check(candidate) is None:
            break
    else:
        raise HistoryError(f"no sound backup of {db} in {out / BACKUP_DIR}")
    moved = None
    if db.exists():
        moved = out / f"{DB_NAME}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
        os.replace(db, moved)
    for suffix in ("-wal", "-shm", "-journal"):
        side = out / (DB_NAME + suffix)
        if side.exists():
            if moved is not None:
                os.replace(side, Path(str(moved) + suffix))
            else:
                side.unlink()
    tmp = out / f".{DB_NAME}.restore.tmp"
    src = sqlite3.connect(f"file:{candidate}?mode=ro", uri=True)
    dest = sqlite3.connect(str(tmp))
    try:
        src.backup(dest)
    finally:
        src.close()
        dest.close()
    os.replace(tmp, db)
    return candidate, moved
