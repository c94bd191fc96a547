"""Scheduled batch checks of an inbox folder, drop-in processing (`monitor watch`) and the run
history (`monitor.db`). See docs/batch.md.

    runner.py   lock -> check/back up history -> discover -> skip unchanged (hashes) -> check -> record -> batch.json
    worker.py   one workbook from one snapshot of its bytes -> outputs with their SHA-256 (worker side)
    pool.py     worker processes with a time and memory bound per workbook, dying with their parent
    model.py    options, batch.json entries, exit codes (0 clean, 1 findings, 2 unreadable, 3 run failed)
    keys.py     the skip key: profile, limits, the package's code and data
    integrity.py  quick_check before a run, online backups, --restore
    files.py    which files are workbooks, and safe output folders for them
    outputs.py  one workbook's files (findings, annotated copy, PDF summary when available)
    history.py  the SQLite history: versioned migrations, runs, workbooks, checks, findings, changes
    schema_sql.py  the SQL of each schema version
    summary.py  the one-page batch-summary.pdf (WeasyPrint, when installed)
    watch.py    the folder watcher (watchdog) with debounce
    console.py  progress and summary lines
    lock.py     one run at a time per output folder
"""
