"""`monitor export`: cleaned tables with Excel rows, SI values, baseline and CTCAE grades."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from monitor.check import check_workbook
from monitor.export import build_tables, write_tables
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import load_profile

DEMO = Path(__file__).resolve().parent.parent / "sample_sheets" / "demo_study.xlsx"
LAB_COLUMNS = ["row", "subject", "date", "test", "value", "unit", "value_si", "unit_si", "lln", "uln",
               "baseline", "ctcae_term_low", "ctcae_grade_low", "ctcae_term_high", "ctcae_grade_high",
               "ctcae_grade"]


@pytest.fixture(scope="module")
def tables():
    result = check_workbook(DEMO, load_profile(), today=date(2024, 3, 15))
    return build_tables(result, load_catalogue())


def test_every_table_is_written_and_keeps_the_excel_row(tables):
    assert {"subjects", "cycles", "labs", "adverse_events", "vitals", "tumor", "findings"} <= set(tables)
    for name, df in tables.items():
        assert "row" in df.columns, name


def test_labs_table_has_the_documented_columns(tables):
    labs = tables["labs"]
    assert [c for c in LAB_COLUMNS if c not in labs.columns] == []
    assert labs.schema["ctcae_grade"].is_integer()


def test_baseline_is_the_last_result_on_or_before_first_dose(tables):
    labs = tables["labs"].filter((pl.col("subject") == "001") & (pl.col("test") == "ALT"))
    first_dose = labs["first_dose"][0]
    before = labs.filter(pl.col("date") <= first_dose).sort("date")
    assert before.height >= 1
    assert labs["baseline_si"].drop_nulls().unique().to_list() == [before["value_si"][-1]]
    assert labs.filter(pl.col("baseline_flag")).height == 1


def test_si_conversion_uses_the_unit_as_entered(tables):
    labs = tables["labs"]
    conv = labs.filter(pl.col("value").is_not_null() & pl.col("value_si").is_not_null()
                       & (pl.col("unit") == "mg/dL") & (pl.col("test") == "BILI"))
    if conv.height:
        assert ((conv["value_si"] / conv["value"]) - 17.1).abs().max() < 1e-9


def test_unknown_unit_gives_no_grade_never_zero(tables):
    labs = tables["labs"]
    unknown = labs.filter(pl.col("test").is_not_null() & pl.col("value").is_not_null()
                          & pl.col("value_si").is_null())
    assert unknown.height >= 1  # the demo has a wrong unit on purpose (LAB002)
    assert unknown["ctcae_grade"].null_count() == unknown.height


def test_written_files_round_trip_and_csv_is_formula_safe(tables, tmp_path):
    tables = dict(tables)
    tables["findings"] = pl.DataFrame({"row": [1], "message": ["=cmd|' /C calc'!A0"]})
    write_tables(tables, tmp_path)
    for name in tables:
        assert (tmp_path / f"{name}.csv").exists() and (tmp_path / f"{name}.parquet").exists()
    assert pl.read_parquet(tmp_path / "labs.parquet").equals(tables["labs"])
    text = (tmp_path / "findings.csv").read_text()
    assert "'=cmd" in text and "\n=cmd" not in text


def test_export_command_writes_into_the_out_folder(tmp_path):
    p = subprocess.run([sys.executable, "-m", "monitor", "export", str(DEMO), "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "x" / "labs.parquet").exists()
    assert all(Path(line).parent == tmp_path / "x" for line in p.stdout.split())
