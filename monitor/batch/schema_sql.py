"""The SQL of each history schema version (monitor/batch/history.py applies them as migrations).

Never edit a version that has shipped: add a new one.
"""

_V1 = [
    """CREATE TABLE runs (
        id           INTEGER PRIMARY KEY,          -- the run number shown as run_id
        started      TEXT NOT NULL,                -- ISO 8601 UTC
        finished     TEXT,
        status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted')),
        kind         TEXT NOT NULL DEFAULT 'batch',  -- batch | watch
        inbox        TEXT NOT NULL,
        profile      TEXT NOT NULL,
        profile_sha256 TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        fail_on      TEXT,
        jobs         INTEGER,
        forced       INTEGER NOT NULL DEFAULT 0,
        exit_code    INTEGER
    )""",
    """CREATE TABLE workbooks (
        id        INTEGER PRIMARY KEY,
        path      TEXT NOT NULL UNIQUE,            -- relative to the inbox, '/' separated
        out_dir   TEXT NOT NULL,                   -- relative to the output folder
        out_key   TEXT NOT NULL UNIQUE,            -- out_dir case-folded: no two share a folder
        first_run INTEGER NOT NULL REFERENCES runs(id)
    )""",
    """CREATE TABLE checks (
        run        INTEGER NOT NULL REFERENCES runs(id),
        workbook   INTEGER NOT NULL REFERENCES workbooks(id),
        status     TEXT NOT NULL CHECK (status IN ('checked', 'skipped', 'error')),
        sha256     TEXT,
        config_key TEXT,                           -- profile content + tool version + limits
        error      TEXT,
        findings   INTEGER,
        critical   INTEGER, major INTEGER, minor INTEGER, info INTEGER,
        new        INTEGER, persisting INTEGER, resolved INTEGER,
        seconds    REAL,
        PRIMARY KEY (run, workbook)
    )""",
    """CREATE TABLE findings (
        workbook     INTEGER NOT NULL REFERENCES workbooks(id),
        id           TEXT NOT NULL,                -- the stable finding id
        rule         TEXT NOT NULL,
        name         TEXT,
        severity     TEXT NOT NULL,
        sheet        TEXT, cell TEXT, row INTEGER, subject TEXT,
        message      TEXT, suggestion TEXT, column_header TEXT,
        first_seen   INTEGER NOT NULL REFERENCES runs(id),
        last_seen    INTEGER NOT NULL REFERENCES runs(id),
        resolved_run INTEGER REFERENCES runs(id),  -- NULL while open
        PRIMARY KEY (workbook, id)
    )""",
    """CREATE TABLE changes (
        run      INTEGER NOT NULL REFERENCES runs(id),
        workbook INTEGER NOT NULL REFERENCES workbooks(id),
        finding  TEXT NOT NULL,
        change   TEXT NOT NULL CHECK (change IN ('new', 'resolved')),
        rule     TEXT, severity TEXT, sheet TEXT, cell TEXT, subject TEXT, message TEXT,
        PRIMARY KEY (run, workbook, finding)
    )""",
]

_V2 = [
    # what each check wrote (kind -> path relative to the output folder) and what it could not
    # (kind -> reason): a skip needs the outputs still on disk
    "ALTER TABLE checks ADD COLUMN outputs TEXT",
    "ALTER TABLE checks ADD COLUMN notes TEXT",
    "CREATE INDEX checks_by_workbook ON checks (workbook, run)",
    "CREATE INDEX findings_open ON findings (workbook, resolved_run)",
]

_V3 = [
    # runs can end as 'failed' (disk full, permissions, damaged database) with the reason; the
    # table is rebuilt because SQLite cannot change a CHECK constraint in place
    """CREATE TABLE runs_v3 (
        id           INTEGER PRIMARY KEY,
        started      TEXT NOT NULL,
        finished     TEXT,
        status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
        kind         TEXT NOT NULL DEFAULT 'batch',
        inbox        TEXT NOT NULL,
        profile      TEXT NOT NULL,
        profile_sha256 TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        fail_on      TEXT,
        jobs         INTEGER,
        forced       INTEGER NOT NULL DEFAULT 0,
        exit_code    INTEGER,
        reason       TEXT                           -- why a run failed or was interrupted
    )""",
    "INSERT INTO runs_v3 (id, started, finished, status, kind, inbox, profile, profile_sha256, tool_version,"
    " fail_on, jobs, forced, exit_code) SELECT id, started, finished, status, kind, inbox, profile,"
    " profile_sha256, tool_version, fail_on, jobs, forced, exit_code FROM runs",
    "DROP TABLE runs",
    "ALTER TABLE runs_v3 RENAME TO runs",
    # SHA-256 of each output file written by a check (kind -> hash): a skip needs them unchanged
    "ALTER TABLE checks ADD COLUMN hashes TEXT",
]

_V4 = [
    # the findings workflow (issue 14): the current state of each finding a person acted on ...
    """CREATE TABLE workflow (
        workbook INTEGER NOT NULL REFERENCES workbooks(id),
        finding  TEXT NOT NULL,                    -- the stable finding id
        status   TEXT NOT NULL CHECK (status IN ('accepted', 'queried', 'answered')),
        reason   TEXT,                             -- why it was accepted
        query    TEXT,                             -- the open query's text
        response TEXT,                             -- the site's answer to the query
        by_name  TEXT NOT NULL,
        at       TEXT NOT NULL,                    -- ISO 8601 UTC of the last change
        PRIMARY KEY (workbook, finding)
    )""",
    # ... and every change, with who and when: append-only (the triggers refuse UPDATE and DELETE)
    """CREATE TABLE audit (
        id       INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        workbook INTEGER NOT NULL REFERENCES workbooks(id),
        finding  TEXT NOT NULL,
        action   TEXT NOT NULL CHECK (action IN ('accepted', 'queried', 'answered', 'resolved', 'reopened')),
        by_name  TEXT NOT NULL,
        text     TEXT,                             -- reason, query or response
        run      INTEGER REFERENCES runs(id)       -- the run that saw a finding go or come back
    )""",
    "CREATE INDEX audit_by_workbook ON audit (workbook, id)",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER workflow_no_delete BEFORE DELETE ON workflow
       BEGIN SELECT RAISE(ABORT, 'workflow states are never deleted'); END""",
    # the last human audit entry a check's outputs show: a later accept/query/response re-checks
    "ALTER TABLE checks ADD COLUMN workflow_seen INTEGER",
]

_V5 = [
    # `monitor serve` (monitor/web/, docs/web.md): accounts, their sites and API tokens ...
    """CREATE TABLE users (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        role     TEXT NOT NULL CHECK (role IN ('coordinator', 'monitor', 'data-manager')),
        password TEXT NOT NULL,                    -- argon2id hash (argon2-cffi), never the password
        created  TEXT NOT NULL
    )""",
    """CREATE TABLE user_sites (
        user INTEGER NOT NULL REFERENCES users(id),
        site TEXT NOT NULL,                        -- a folder of the inbox
        PRIMARY KEY (user, site)
    )""",
    """CREATE TABLE api_tokens (
        id      INTEGER PRIMARY KEY,
        user    INTEGER NOT NULL REFERENCES users(id),
        sha256  TEXT NOT NULL UNIQUE,              -- SHA-256 of the bearer token; the token is never stored
        created TEXT NOT NULL
    )""",
    # ... every workbook the pages show (uploaded, or found by a batch run), with the upload's state ...
    """CREATE TABLE web_workbooks (
        id            INTEGER PRIMARY KEY,         -- the id in /workbooks/<id> and /api/workbooks/<id>
        path          TEXT NOT NULL UNIQUE,        -- relative to the inbox, as batch names it
        site          TEXT NOT NULL,
        workbook      INTEGER REFERENCES workbooks(id),
        status        TEXT NOT NULL CHECK (status IN ('queued', 'checking', 'done', 'failed')),
        error         TEXT,                        -- why a check failed (the line `check` prints)
        original_name TEXT,
        uploaded_by   TEXT,
        uploaded_at   TEXT
    )""",
    "CREATE INDEX web_workbooks_by_site ON web_workbooks (site, id)",
    # ... and what each person did on the pages and the API, with who and when: append-only
    """CREATE TABLE web_events (
        id       INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        by_name  TEXT NOT NULL,
        action   TEXT NOT NULL,                    -- login, login-failed, logout, upload, refused, download,
                                                   -- accepted, queried, answered, denied
        site     TEXT,
        web_workbook INTEGER,
        finding  TEXT,
        detail   TEXT
    )""",
    """CREATE TRIGGER web_events_no_update BEFORE UPDATE ON web_events
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER web_events_no_delete BEFORE DELETE ON web_events
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
]
