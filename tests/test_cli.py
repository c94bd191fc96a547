"""The real `monitor` command: exit codes, JSON, output files, unreadable files without tracebacks."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import subprocess
import sys
import zipfile

import openpyxl
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "monitor", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def small_workbook(path, subject="001", age=64, sex="M"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Study"
    for r in (["Field", "Value"], ["Protocol", "QL1604-HCC-201"], ["Site", "01"], ["Profile", "ql1604_bev_hcc"]):
        ws.append(r)
    s = wb.create_sheet("Subjects")
    s.append(["Subject ID", "Sex", "Age", "Weight (kg)", "Consent date"])
    s.append([subject, sex, age, 68, dt.datetime(2022, 7, 1)])
    c = wb.create_sheet("Cycles")
    c.append(["Subject ID", "Cycle", "Date", "Drug", "Dose", "Unit", "Weight (kg)", "Action", "Reason"])
    c.append([subject, 1, dt.datetime(2022, 7, 5), "QL1604", 200, "mg", None, "Given", None])
    c.append([subject, 1, dt.datetime(2022, 7, 5), "Bevacizumab", 15, "mg/kg", 68, "Given", None])
    lab = wb.create_sheet("Labs")
    lab.append(["Subject ID", "Date", "Test", "Result", "Unit", "LLN", "ULN"])
    lab.append([subject, dt.datetime(2022, 7, 4), "ALT", 32, "U/L", 7, 40])
    ae = wb.create_sheet("AdverseEvents")
    ae.append(["Subject ID", "AE number", "CTCAE term", "Grade", "Onset date", "End date", "Ongoing",
               "Serious", "Related to QL1604", "Related to Bevacizumab"])
    wb.save(path)
    return path


@pytest.fixture
def good(tmp_path):
    return small_workbook(tmp_path / "good.xlsx")


def test_clean_workbook_exits_0_and_writes_findings_files(good, tmp_path):
    out = tmp_path / "out"
    p = run("check", good, "--out", out)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 findings" in p.stdout
    data = json.loads((out / "findings.json").read_text())
    assert data["findings"] == [] and data["profile"] == "ql1604_bev_hcc"
    assert (out / "findings.csv").read_text().startswith("id,rule,name,severity")


def test_json_output_has_the_documented_fields(tmp_path):
    wb = small_workbook(tmp_path / "bad.xlsx", age=640)
    p = run("check", wb, "--format", "json", "--out", tmp_path / "o")
    assert p.returncode == 1
    data = json.loads(p.stdout)
    assert set(data) == {"workbook", "sha256", "profile", "tool_version", "generated", "summary",
                         "not_evaluated", "findings"}
    assert data["summary"]["by_rule"]["WB111"] == 1 and data["summary"]["by_severity"]["major"] >= 1
    assert data["sha256"] == hashlib.sha256(wb.read_bytes()).hexdigest()
    (f,) = [f for f in data["findings"] if f["rule"] == "WB111"]
    assert (f["sheet"], f["cell"], f["row"], f["subject"], f["severity"]) == ("Subjects", "C2", 2, "001", "major")
    assert "640" in f["message"]


def test_fail_on_sets_the_exit_threshold(tmp_path):
    wb = small_workbook(tmp_path / "bad.xlsx", age=640)
    assert run("check", wb, "--fail-on", "critical", "--out", tmp_path / "o").returncode == 0
    assert run("check", wb, "--fail-on", "major", "--out", tmp_path / "o").returncode == 1
    p = run("check", wb, "--fail-on", "bogus", "--out", tmp_path / "o")
    assert p.returncode == 2 and "unknown severity" in p.stderr


def test_finding_text_in_csv_cannot_become_a_formula(tmp_path):
    wb = small_workbook(tmp_path / "inj.xlsx", sex="=HYPERLINK(\"http://x\")")
    out = tmp_path / "o"
    run("check", wb, "--out", out)
    rows = list(csv.DictReader((out / "findings.csv").open()))
    assert rows
    for r in rows:
        for v in r.values():
            assert not v.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_input_file_is_never_modified(good, tmp_path):
    before = good.read_bytes()
    run("check", good, "--out", tmp_path / "o")
    run("annotate", good, "--out", tmp_path / "o" / "copy.xlsx")
    assert good.read_bytes() == before


def _zip(path, members: dict):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


UNREADABLE = {
    "empty": (lambda p: p.write_bytes(b""), "empty"),
    "text": (lambda p: p.write_text("Subject,Age\n001,64\n"), "not a zip"),
    "legacy_xls": (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512), "legacy .xls"),
    "zip_not_xlsx": (lambda p: _zip(p, {"hello.txt": "hi"}), "no xl/workbook.xml"),
    "truncated_zip": (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40), "damaged"),
    "encrypted": (lambda p: _zip(p, {"EncryptionInfo": "x", "EncryptedPackage": "y"}), "encrypted"),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_unreadable_file_exits_2_with_a_plain_message(tmp_path, case):
    make, words = UNREADABLE[case]
    path = tmp_path / f"{case}.xlsx"
    make(path)
    p = run("check", path, "--out", tmp_path / "o")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) <= 2
    assert str(path) in p.stderr and words in p.stderr


def test_missing_file_and_folder_exit_2(tmp_path):
    for target in (tmp_path / "nope.xlsx", tmp_path):
        p = run("check", target, "--out", tmp_path / "o")
        assert p.returncode == 2 and "Traceback" not in p.stderr


def test_required_sheet_missing_exits_2_naming_it(tmp_path):
    path = small_workbook(tmp_path / "wb.xlsx")
    wb = openpyxl.load_workbook(path)
    del wb["Labs"]
    wb.save(path)
    p = run("check", path, "--out", tmp_path / "o")
    assert p.returncode == 2 and "Labs" in p.stderr


def test_unpacked_size_limit_refuses_before_parsing(tmp_path):
    path = small_workbook(tmp_path / "big.xlsx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/media/padding.bin", b"\0" * (3 * 1024 * 1024))
    p = run("check", path, "--max-unpacked-mb", "2", "--out", tmp_path / "o")
    assert p.returncode == 2 and "limit" in p.stderr
    assert run("check", path, "--out", tmp_path / "o").returncode == 0


def test_broken_profile_is_an_error_naming_the_key(tmp_path, good):
    from monitor.profile.profile import bundled_profiles

    text = bundled_profiles()["ql1604_bev_hcc"].read_text("utf-8").replace('unit = "mg/kg"', 'unit = "ml"')
    prof = tmp_path / "p.toml"
    prof.write_text(text)
    p = run("check", good, "--profile", prof, "--out", tmp_path / "o")
    assert p.returncode == 2 and "drugs[1].unit" in p.stderr


def test_rules_lists_every_registered_rule():
    from monitor.rules.registry import RULES

    p = run("rules")
    assert p.returncode == 0
    for r in RULES:
        assert r.code in p.stdout and r.name in p.stdout


def test_text_output_never_sends_control_characters_to_the_terminal(tmp_path):
    wb = small_workbook(tmp_path / "esc.xlsx", sex="_x001B_]0;pwned_x0007__x001B_[2J\u202eX")  # Excel escapes
    p = run("check", wb, "--out", tmp_path / "o")
    assert p.returncode == 1
    assert "\x1b" not in p.stdout and "\x07" not in p.stdout and "\u202e" not in p.stdout
    assert "\\u001b" in p.stdout
