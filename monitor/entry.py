"""The console script (`monitor`) and `python -m monitor`: the command line of monitor.cli, run
as a process that ends as soon as its command has."""

from __future__ import annotations

import os
import sys

import typer

from .cli import app


def main():
    """The console script (`monitor`) and `python -m monitor`: run the command, then leave without
    the interpreter's teardown when nothing needs it.

    Python's exit unwinds every module and runs a last full garbage collection over every object
    made so far (polars and the rules: hundreds of thousands): ~0.1 s of a ~0.8 s check of a site
    workbook, for memory the operating system takes back anyway. Once the command has returned,
    its outputs are written and closed (atomic writes, the history store committed), so the
    process runs the exit handlers (multiprocessing's, logging's, temporary folders'), flushes
    stdout and stderr, and ends with os._exit and the command's exit code. The normal exit is
    kept where teardown could matter: an exception that is not an exit (a traceback prints as
    usual), a thread of ours still running, or a stdout that cannot be flushed (a closed pipe).
    Tests call `app` in-process and never come here."""
    _threads_for(sys.argv[1:])
    try:
        _for_command(sys.argv[1:])(prog_name="monitor")
        code = 0
    except SystemExit as e:
        code = e.code
        if not (code is None or isinstance(code, int)):
            raise              # a message for sys.exit to print
    _leave(code or 0)


# a command on one workbook smaller than this runs polars on a single thread (_threads_for)
SMALL_WORKBOOK_BYTES = 256 << 10
_ONE_WORKBOOK = ("check", "annotate", "export")


def _threads_for(args: list) -> None:
    """POLARS_MAX_THREADS=1 for `check`, `annotate` or `export` of a workbook file smaller than
    SMALL_WORKBOOK_BYTES (the first existing .xlsx/.xlsm argument), unless the user has set it.

    On a site workbook (20 subjects, ~120 KB) every query is a few hundred rows, and the rules
    run on a polars worker (monitor/pool.py): with a second worker, each query's parallel parts
    wake it and wait for what it took (~2x the cost of a 20-row sort or join); with one, each
    query runs straight through. Measured on the 20 x 8 workbook: the check 0.925-0.94x wall (16
    and 15 alternating pairs); on a 20 x 30 workbook (420 KB) one thread was 1.06x, hence the bound.
    Set here, before any command runs a query: polars sizes its pool at the first one."""
    if not args or args[0] not in _ONE_WORKBOOK or "POLARS_MAX_THREADS" in os.environ:
        return
    for a in args[1:]:
        if a.lower().endswith((".xlsx", ".xlsm")) and os.path.isfile(a):
            if os.path.getsize(a) < SMALL_WORKBOOK_BYTES:
                os.environ["POLARS_MAX_THREADS"] = "1"
            return


def _for_command(args: list) -> typer.Typer:
    """`app` with only the command that `args` names when it names one (`monitor check ...`):
    typer builds a click command for every registered command, their signatures and type hints
    read, at each start (~10 ms for the 15 commands and the `users` group); one run needs one.
    Anything else (no command, an option first such as --help or --version, a group such as
    `users`, a misspelt command) gets the whole app, so help and "No such command" read as
    before."""
    import copy

    name = args[0] if args else None
    only = [c for c in app.registered_commands if (c.name or c.callback.__name__.replace("_", "-")) == name]
    if len(only) != 1:
        return app
    one = copy.copy(app)
    one.registered_commands = only
    one.registered_groups = []
    return one


def _leave(code: int):
    """End the process with `code` as main's docstring says: os._exit after the exit handlers
    and the flushes, or the usual sys.exit where teardown could matter."""
    import atexit
    import threading

    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()    # the handlers the interpreter's own exit runs (atexit has no public call for it)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)         # the usual exit reports the closed pipe as Python always has
    os._exit(code)
