"""The web app's tables in the history store (`OUT/monitor.db`, schema version 5; the SQL is in
monitor/batch/schema_sql.py): users and their sites, API tokens (their SHA-256 only), the
workbooks the pages show, and the append-only `web_events` trail (login, upload, download ...).

Every function takes an open sqlite3 connection (autocommit; `History` opened it and applied the
migrations). A connection belongs to one thread: the app keeps one per thread (Store.conn).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from ..batch.history import History, connect
from ..batch.workflow import now_utc

ROLES = ("coordinator", "monitor", "data-manager")
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$")


class StoreError(Exception):
    """A user or site cannot be created or used as asked (one line for the CLI)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    sites: tuple          # the sites of a coordinator or monitor; () for a data manager (all)

    @property
    def all_sites(self) -> bool:
        return self.role == "data-manager"

    def may_see(self, site: str | None) -> bool:
        return site is not None and (self.all_sites or site in self.sites)

    @property
    def may_review(self) -> bool:
        """accept and query findings: monitors and data managers."""
        return self.role in ("monitor", "data-manager")

    @property
    def may_respond(self) -> bool:
        """answer queries: the site's coordinator (and a data manager on their behalf)."""
        return self.role in ("coordinator", "data-manager")


def valid_site(site: str) -> bool:
    """A site is one folder of the inbox: a plain name, never a path or a hidden folder."""
    return bool(_SITE.match(site or "")) and site.strip() == site and ".." not in site


class Store:
    """One sqlite connection per thread on OUT/monitor.db (the migrations run once, at open)."""

    def __init__(self, out: Path):
        self.out = Path(out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            from ..batch.history import HistoryError

            raise HistoryError(f"{self.out}: cannot create the output folder ({e.strerror or e})") from None
        with History(self.out):      # creates or upgrades the schema (refuses a newer one)
            pass
        self.path = self.out / "monitor.db"
        self._local = threading.local()

    @property
    def conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = connect(self.path)
        return c


def tx(conn):
    from ..batch.history import _Tx

    return _Tx(conn)


# ---------------------------------------------------------------------------- users

def add_user(conn, name: str, role: str, sites, password: str) -> User:
    from .auth import hash_password

    name = (name or "").strip()
    if not name or len(name) > 64 or any(ord(ch) < 32 for ch in name):
        raise StoreError("the user name must be 1-64 printable characters")
    if role not in ROLES:
        raise StoreError(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    sites = list(dict.fromkeys(s.strip() for s in sites or ()))
    bad = [s for s in sites if not valid_site(s)]
    if bad:
        raise StoreError(f"site {bad[0]!r} is not a plain folder name (letters, digits, '.', '_', '-', space)")
    if role == "coordinator" and len(sites) != 1:
        raise StoreError("a coordinator has exactly one site: give --site once")
    if role == "monitor" and not sites:
        raise StoreError("a monitor needs at least one --site")
    if role == "data-manager" and sites:
        raise StoreError("a data manager sees every site: leave out --site")
    if len(password) < 8:
        raise StoreError("the password must have at least 8 characters")
    if conn.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
        raise StoreError(f"user {name!r} exists already")
    with tx(conn):
        cur = conn.execute("INSERT INTO users (name, role, password, created) VALUES (?, ?, ?, ?)",
                           (name, role, hash_password(password), now_utc()))
        conn.executemany("INSERT INTO user_sites (user, site) VALUES (?, ?)", [(cur.lastrowid, s) for s in sites])
    return user_by_id(conn, cur.lastrowid)


def _user(conn, row) -> User | None:
    if row is None:
        return None
    sites = tuple(r[0] for r in conn.execute("SELECT site FROM user_sites WHERE user=? ORDER BY site", (row["id"],)))
    return User(row["id"], row["name"], row["role"], sites)


def user_by_id(conn, uid) -> User | None:
    return _user(conn, conn.execute("SELECT * FROM users WHERE id=?", (uid,)).fetchone())


def user_by_name(conn, name: str) -> User | None:
    return _user(conn, conn.execute("SELECT * FROM users WHERE name=?", (name,)).fetchone())


def password_hash(conn, name: str) -> str | None:
    row = conn.execute("SELECT password FROM users WHERE name=?", (name,)).fetchone()
    return row[0] if row else None


def set_password_hash(conn, name: str, new_hash: str) -> None:
    with tx(conn):
        conn.execute("UPDATE users SET password=? WHERE name=?", (new_hash, name))


def list_users(conn) -> list:
    return [_user(conn, r) for r in conn.execute("SELECT * FROM users ORDER BY name")]


# ---------------------------------------------------------------------------- API tokens

def token_sha256(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to try)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(conn, user: User) -> str:
    import secrets

    token = "tsm_" + secrets.token_urlsafe(32)
    with tx(conn):
        conn.execute("INSERT INTO api_tokens (user, sha256, created) VALUES (?, ?, ?)",
                     (user.id, token_sha256(token), now_utc()))
    return token


def user_by_token(conn, token: str) -> User | None:
    row = conn.execute("SELECT user FROM api_tokens WHERE sha256=?", (token_sha256(token),)).fetchone()
    return user_by_id(conn, row[0]) if row else None


# ---------------------------------------------------------------------------- the trail

def event(conn, by: str, action: str, site: str | None = None, web_workbook: int | None = None,
          finding: str | None = None, detail: str | None = None) -> None:
    with tx(conn):
        conn.execute("INSERT INTO web_events (at, by_name, action, site, web_workbook, finding, detail)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", (now_utc(), by, action, site, web_workbook, finding,
                                                      (detail or "")[:500] or None))


def events(conn, sites=None, limit: int = 200) -> list:
    if sites is None:
        rows = conn.execute("SELECT * FROM web_events ORDER BY id DESC LIMIT ?", (limit,))
    else:
        marks = ",".join("?" * len(sites)) or "NULL"
        rows = conn.execute(f"SELECT * FROM web_events WHERE site IN ({marks}) ORDER BY id DESC LIMIT ?",
                            (*sites, limit))
    return [dict(r) for r in rows]


# ---------------------------------------------------------------------------- workbooks

def site_of(path: str) -> str | None:
    """The site of an inbox path: its first folder (a workbook at the top level has none)."""
    parts = path.split("/")
    return parts[0] if len(parts) > 1 and valid_site(parts[0]) else None


def sync_workbooks(conn) -> None:
    """Give every workbook a batch run recorded (in a site folder) its page id."""
    missing = conn.execute("SELECT id, path FROM workbooks WHERE path NOT IN (SELECT path FROM web_workbooks)"
                           ).fetchall()
    rows = [(r["path"], site_of(r["path"]), r["id"]) for r in missing if site_of(r["path"])]
    if rows:
        with tx(conn):
            conn.executemany("INSERT OR IGNORE INTO web_workbooks (path, site, workbook, status) VALUES (?, ?, ?, 'done')",
                             rows)


def add_upload(conn, path: str, site: str, original: str, by: str) -> int:
    with tx(conn):
        return conn.execute("INSERT INTO web_workbooks (path, site, status, original_name, uploaded_by, uploaded_at)"
                            " VALUES (?, ?, 'queued', ?, ?, ?)", (path, site, original, by, now_utc())).lastrowid


def set_status(conn, wid: int, status: str, error: str | None = None, workbook: int | None = None) -> None:
    with tx(conn):
        conn.execute("UPDATE web_workbooks SET status=?, error=?, workbook=COALESCE(?, workbook) WHERE id=?",
                     (status, error, workbook, wid))


def web_workbook(conn, wid: int) -> dict | None:
    row = conn.execute("SELECT * FROM web_workbooks WHERE id=?", (wid,)).fetchone()
    return dict(row) if row else None


def site_workbooks(conn, site: str) -> list:
    """The site's workbooks, newest first, with their last check's counts."""
    return [dict(r) for r in conn.execute(
        "SELECT w.*, c.findings, c.critical, c.major, c.minor, c.info, c.new, c.resolved, c.run"
        " FROM web_workbooks w LEFT JOIN checks c ON c.workbook = w.workbook AND c.run ="
        " (SELECT MAX(run) FROM checks WHERE workbook = w.workbook AND status IN ('checked', 'skipped'))"
        " WHERE w.site=? ORDER BY COALESCE(w.uploaded_at, '') DESC, w.id DESC", (site,))]
