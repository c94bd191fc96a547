"""Scheduled batch checks of an inbox folder, drop-in processing (`monitor watch`) and the run
history (`monitor.db`). See docs/batch.md.

    runner.py   discover -> skip unchanged (hash) -> check in worker processes -> record -> batch.json
    files.py    which files are workbooks, and safe output folders for them
    outputs.py  one workbook's files (findings, annotated copy, PDF summary when available)
    history.py  the SQLite history: versioned migrations, runs, workbooks, checks, findings, changes
    summary.py  the one-page batch-summary.pdf (WeasyPrint, when installed)
    watch.py    the folder watcher (watchdog) with debounce
    console.py  progress and summary lines
    lock.py     one run at a time per output folder
"""
