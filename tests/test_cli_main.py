"""The console script (monitor.entry.main). Its quick exit: after a command returns it leaves with
os._exit, skipping the interpreter's teardown, and nothing a user relies on may be lost: its
stdout, its files, its exit code, the exit handlers; and the normal exit comes back wherever
teardown could matter. And its one-command app: a run that names a command builds only that
command, with the same options, help and results."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import monitor.cli as cli
import monitor.entry as entry

SAMPLES = Path(__file__).resolve().parent.parent / "sample_sheets"


def _runs(command):
    """main's app for these tests: `command` in place of the real one."""
    return lambda args: command


class Left(Exception):
    """os._exit, caught: the code it was given."""


@pytest.fixture
def leave(monkeypatch):
    calls = []
    monkeypatch.setattr(entry.os, "_exit", lambda code: (_ for _ in ()).throw(Left(code)))
    monkeypatch.setattr("atexit._run_exitfuncs", lambda: calls.append("atexit"))
    return calls


def test_the_console_script_leaves_stdout_files_history_and_exit_code_whole(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "monitor", "check", str(SAMPLES / "messy_site.xlsx"), "--format", "json",
                        "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr              # findings at or above major
    shown = json.loads(p.stdout)                    # the whole document reached the pipe
    written = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert shown["findings"] and shown["findings"] == written["findings"]
    assert (out / "findings.csv").read_text(encoding="utf-8").count("\n") == len(written["findings"]) + 1
    with sqlite3.connect(out / "monitor.db") as db:   # the history store was committed
        assert db.execute("select count(*) from sqlite_master").fetchone()[0] > 0
    assert p.stderr == ""


def test_a_clean_workbook_exits_0_and_an_unreadable_one_2_through_the_quick_exit(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "monitor", "version"], capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stdout.strip()) == (0, cli.__version__)
    bad = tmp_path / "not.xlsx"
    bad.write_bytes(b"not a zip")
    p = subprocess.run([sys.executable, "-m", "monitor", "check", str(bad), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "not.xlsx" in p.stderr and "Traceback" not in p.stderr


def test_a_reader_that_closed_the_pipe_gets_the_exit_code_and_no_traceback(tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "monitor", "check", str(SAMPLES / "messy_site.xlsx"),
                          "--out", str(tmp_path / "o")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()             # no reader at all when the table is written: the write fails (EPIPE)
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1 and "Traceback" not in err and "Error" not in err
    assert (tmp_path / "o" / "findings.json").exists()


def test_main_runs_the_exit_handlers_then_leaves_with_the_commands_code(leave, monkeypatch):
    monkeypatch.setattr(entry, "_for_command", _runs(lambda **k: sys.exit(1)))
    with pytest.raises(Left) as e:
        entry.main()
    assert e.value.args == (1,) and leave == ["atexit"]
    monkeypatch.setattr(entry, "_for_command", _runs(lambda **k: None))   # a command that returns: exit 0
    with pytest.raises(Left) as e:
        entry.main()
    assert e.value.args == (0,)


def test_a_text_exit_and_an_error_keep_the_normal_exit(leave, monkeypatch):
    monkeypatch.setattr(entry, "_for_command", _runs(lambda **k: sys.exit("monitor: something")))
    with pytest.raises(SystemExit) as e:
        entry.main()
    assert e.value.code == "monitor: something" and leave == []

    def boom(**k):
        raise RuntimeError("a bug")
    monkeypatch.setattr(entry, "_for_command", _runs(boom))
    with pytest.raises(RuntimeError):
        entry.main()
    assert leave == []


def test_a_thread_still_running_keeps_the_normal_exit(leave, monkeypatch):
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=False)
    t.start()
    try:
        monkeypatch.setattr(entry, "_for_command", _runs(lambda **k: sys.exit(1)))
        with pytest.raises(SystemExit) as e:
            entry.main()
        assert e.value.code == 1 and leave == []
    finally:
        stop.set()
        t.join()


def test_a_stdout_that_cannot_be_flushed_keeps_the_normal_exit(leave, monkeypatch):
    class Closed:
        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(entry, "_for_command", _runs(lambda **k: None))
    monkeypatch.setattr(sys, "stdout", Closed())
    with pytest.raises(SystemExit) as e:
        entry.main()
    assert e.value.code == 0 and leave == ["atexit"]


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"], ["--version"], ["users", "list"], ["chek", "x.xlsx"],
                                  ["Check", "x.xlsx"]])
def test_no_command_a_group_or_a_misspelt_one_gets_the_whole_app(args):
    assert entry._for_command(args) is cli.app


@pytest.mark.parametrize("name", ["check", "annotate", "report", "batch", "version", "rules", "export"])
def test_a_named_command_is_the_only_one_built_and_reads_as_in_the_whole_app(name):
    one = entry._for_command([name, "--help"])
    assert one is not cli.app and [c.callback.__name__ for c in one.registered_commands] == [name]
    assert cli.app.registered_commands and len(cli.app.registered_commands) > 10   # the app itself is untouched
    whole = CliRunner().invoke(cli.app, [name, "--help"], terminal_width=100)
    alone = CliRunner().invoke(one, [name, "--help"], terminal_width=100)
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output) and whole.exit_code == 0


def test_a_check_through_the_one_command_app_gives_the_whole_apps_result(tmp_path):
    args = ["check", str(SAMPLES / "messy_site.xlsx"), "--format", "json"]
    whole = CliRunner().invoke(cli.app, args + ["--out", str(tmp_path / "a")])
    alone = CliRunner().invoke(entry._for_command(args), args + ["--out", str(tmp_path / "b")])
    assert whole.exit_code == alone.exit_code == 1
    assert json.loads(whole.stdout)["findings"] == json.loads(alone.stdout)["findings"]


@pytest.fixture
def env(monkeypatch):
    """A private environment for entry._threads_for to set POLARS_MAX_THREADS in."""
    e = {k: v for k, v in entry.os.environ.items() if k != "POLARS_MAX_THREADS"}
    monkeypatch.setattr(entry.os, "environ", e)
    return e


def test_a_check_annotate_or_export_of_a_small_workbook_runs_polars_on_one_thread(env):
    wb = SAMPLES / "messy_site.xlsx"
    assert wb.stat().st_size < entry.SMALL_WORKBOOK_BYTES
    for command in ("check", "annotate", "export"):
        env.pop("POLARS_MAX_THREADS", None)
        entry._threads_for([command, "--profile", "ql1604_bev_hcc", str(wb), "--out", "x"])
        assert env.get("POLARS_MAX_THREADS") == "1", command


def test_a_large_workbook_other_commands_and_the_users_own_setting_keep_polars_threads(env, tmp_path):
    big = tmp_path / "big.xlsx"
    with open(big, "wb") as fh:
        fh.truncate(entry.SMALL_WORKBOOK_BYTES)          # exactly at the bound: not small
    entry._threads_for(["check", str(big)])
    assert "POLARS_MAX_THREADS" not in env
    small = SAMPLES / "messy_site.xlsx"
    for args in (["report", str(small)], ["batch", str(SAMPLES)], ["check", str(tmp_path / "missing.xlsx")],
                 ["check"], [], ["check", "--help"]):
        entry._threads_for(args)
        assert "POLARS_MAX_THREADS" not in env, args
    env["POLARS_MAX_THREADS"] = "2"
    entry._threads_for(["check", str(small)])
    assert env["POLARS_MAX_THREADS"] == "2"


def test_the_console_script_does_not_import_polars_before_the_thread_count_is_chosen():
    # POLARS_MAX_THREADS is read when polars starts its pool: nothing on the way to the command may
    # have run a query (importing the entry point must not even import polars)
    p = subprocess.run([sys.executable, "-c", "import sys, monitor.entry; print('polars' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "False", p.stderr


def test_a_small_check_through_the_console_script_gives_the_same_findings_on_one_thread_as_on_two(tmp_path):
    import os

    wb = SAMPLES / "messy_site.xlsx"
    outs = {}
    for threads in ("", "2"):
        env = {k: v for k, v in os.environ.items() if k != "POLARS_MAX_THREADS"}
        if threads:
            env["POLARS_MAX_THREADS"] = threads
        p = subprocess.run([sys.executable, "-m", "monitor", "check", str(wb), "--format", "json",
                            "--out", str(tmp_path / (threads or "one"))], capture_output=True, text=True,
                           timeout=120, env=env)
        assert p.returncode == 1, p.stderr
        outs[threads] = json.loads(p.stdout)["findings"]
    assert outs[""] == outs["2"] and outs[""]
