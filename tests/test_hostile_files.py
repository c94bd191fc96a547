"""Files: an input workbook is never written, and outputs never land outside the output folder,
whatever the workbook or its sheets are called (`..`, separators, absolute paths, reserved
device names, control characters)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz.xlsx import Package  # noqa: E402
from monitor.io import safe_name  # noqa: E402

SMALL = ROOT / "fuzz" / "corpus" / "small_study.xlsx"
COMMANDS = ("check", "annotate", "export")


def cli(*args):
    from monitor.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


def tree(folder: Path) -> set:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- names of files

@pytest.mark.parametrize("name", ["demo_study", "Site 01 - week 3", "\u60a3\u8005\u6570\u636e"])
def test_ordinary_names_are_kept(name):
    assert safe_name(name) == name


@pytest.mark.parametrize("name, want", [
    ("..", "workbook"), (".", "workbook"), ("", "workbook"), ("../../etc/passwd", "_.._etc_passwd"),
    ("/abs/path", "_abs_path"), ("a\\..\\b", "a_.._b"), ("CON", "_CON"), ("nul.txt", "_nul.txt"),
    ("com1", "_com1"), ("LPT9", "_LPT9"), ("x\ny\x1b", "x_y_"), (" trailing. ", "trailing"),
    ('a:b*c?"<>|', "a_b_c_____"),
])
def test_unsafe_names_become_one_harmless_component(name, want):
    assert safe_name(name) == want


def test_a_long_name_is_cut_to_a_length_every_file_system_takes():
    assert len(safe_name("\u60a3" * 300).encode("utf-8")) <= 120


WORKBOOK_NAMES = ["...xlsx", "..xlsx", "CON.xlsx", "nul.xlsx", "a\\..\\..\\escape.xlsx", "line\nbreak.xlsx",
                  " .xlsx", "x" * 200 + ".xlsx"]


@pytest.mark.parametrize("name", WORKBOOK_NAMES, ids=range(len(WORKBOOK_NAMES)))
def test_default_output_folder_stays_under_output_whatever_the_workbook_is_called(tmp_path, monkeypatch, name):
    home = tmp_path / "cwd"
    home.mkdir()
    src = home / name
    shutil.copyfile(SMALL, src)
    before = sha(src)
    monkeypatch.chdir(home)
    for command in COMMANDS:
        r = cli(command, name)
        assert r.exit_code in (0, 1), (command, r.stderr)
    written = tree(home) - {name}
    assert written and all(p == "output" or p.startswith("output/") for p in written), sorted(written)
    parts = {p.split("/")[1] for p in written if p.count("/") >= 1}
    store = {"monitor.db", ".monitor.lock", "monitor.db-wal", "monitor.db-shm"}   # output/monitor.db: the history
    assert parts - store == {safe_name(Path(name).stem)} and "monitor.db" in parts
    assert sha(src) == before
    assert {p.split("/")[0] for p in tree(tmp_path)} == {"cwd"}     # nothing beside the working folder


# ---------------------------------------------------------------- names of sheets

SHEET_NAMES = {  # each renames the sheets of the small study; names not matching the contract become extra sheets
    # names Excel allows (annotate must work)
    "excel": {"Study": "..Study..", "Subjects": "@Subjects", "Cycles": "=Cycles", "Labs": "-Labs",
              "AdverseEvents": "..AdverseEvents", "Vitals": "NUL", "Tumor": "CON"},
    # names no spreadsheet writes (check reads them; annotate may refuse the file, with exit 2)
    "paths": {"Study": "../../Study", "Subjects": "/Subjects", "Cycles": "Cycles/..", "Labs": "..\\Labs",
              "AdverseEvents": "AdverseEvents:*?", "Vitals": "C:\\Windows", "Tumor": "/etc/passwd"},
}


def _renamed(tmp_path, names: dict) -> Path:
    pkg = Package.read(SMALL.read_bytes())
    wb = pkg.get("xl/workbook.xml")
    for old, new in names.items():
        esc = new.replace("&", "&amp;").replace("<", "&lt;").encode()
        wb = wb.replace(b'name="' + old.encode() + b'"', b'name="' + esc + b'"', 1)
    pkg.set("xl/workbook.xml", wb)
    path = tmp_path / "in" / "sheets.xlsx"
    path.parent.mkdir()
    path.write_bytes(pkg.to_bytes())
    return path


@pytest.mark.parametrize("kind", sorted(SHEET_NAMES))
def test_outputs_stay_in_the_output_folder_whatever_the_sheets_are_called(tmp_path, kind):
    src = _renamed(tmp_path, SHEET_NAMES[kind])
    before = sha(src)
    out = tmp_path / "out"
    r = cli("check", src, "--out", out, "--format", "json")
    assert r.exit_code in (0, 1), r.stderr
    annotated = cli("annotate", src, "--out", out / "copy.xlsx").exit_code
    assert annotated == 0 or (kind == "paths" and annotated == 2)
    assert cli("export", src, "--out", out / "export").exit_code == 0
    assert tree(tmp_path) == {"in", "in/sheets.xlsx", "out"} | {f"out/{p}" for p in tree(out)}
    assert sha(src) == before
    if annotated == 0:
        import openpyxl

        book = openpyxl.load_workbook(out / "copy.xlsx")
        assert book.sheetnames[0] == "Findings" and set(SHEET_NAMES[kind].values()) <= set(book.sheetnames)


# ---------------------------------------------------------------- never write the input

@pytest.mark.parametrize("command, target", [("check", "findings.json"), ("check", "findings.csv"),
                                             ("export", "subjects.csv"), ("annotate", "copy.xlsx")])
def test_an_output_that_would_replace_the_input_is_refused(tmp_path, command, target):
    src = tmp_path / target
    shutil.copyfile(SMALL, src)
    before = sha(src)
    out = tmp_path / "copy.xlsx" if command == "annotate" else tmp_path
    r = cli(command, src, "--out", out)
    assert r.exit_code == 2, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert sha(src) == before


def test_a_link_to_the_input_is_the_input(tmp_path):
    src = tmp_path / "site.xlsx"
    shutil.copyfile(SMALL, src)
    before = sha(src)
    os.link(src, tmp_path / "hard.xlsx")
    os.symlink(src, tmp_path / "soft.xlsx")
    for link in ("hard.xlsx", "soft.xlsx"):
        r = cli("annotate", src, "--out", tmp_path / link)
        assert r.exit_code == 2 and ("refusing to write over it" in r.stderr or "overwrite" in r.stderr), r.stderr
    assert sha(src) == before


def test_an_output_path_that_cannot_be_written_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = cli("check", SMALL, "--out", blocker / "sub")
    assert r.exit_code == 2 and r.stderr.startswith(f"monitor: {blocker}") and "Not a directory" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_leaves_the_input_byte_identical(tmp_path, command):
    src = tmp_path / "site.xlsx"
    shutil.copyfile(ROOT / "sample_sheets" / "messy_site.xlsx", src)
    before, mtime = sha(src), src.stat().st_mtime_ns
    out = tmp_path / ("copy.xlsx" if command == "annotate" else "out")
    assert cli(command, src, "--out", out).exit_code in (0, 1)
    assert sha(src) == before and src.stat().st_mtime_ns == mtime
