"""The typed parse's date and number stages run once per kind across the sheets of a read
(monitor/workbook/stacked.py): each sheet gets exactly what it gets parsed alone."""

from __future__ import annotations

from pathlib import Path

import fastexcel
import polars as pl
import pytest

from monitor.workbook import reader, stacked
from monitor.workbook.parse import DATE_IN, column_stages
from monitor.workbook.schema import SHEETS_BY_NAME, Column, Kind

SAMPLES = Path(__file__).resolve().parent.parent / "sample_sheets"
SHEETS = ("Subjects", "Cycles", "AdverseEvents", "Vitals", "Tumor", "Labs", "ConMeds")


def _raw(path: Path) -> dict:
    rdr = fastexcel.read_excel(path)
    names = reader.match_sheets(list(rdr.sheet_names))
    return {s: reader.load_sheet_frame(rdr, names[s]) for s in SHEETS if s in names}


def _jobs(path: Path, profile, fmt) -> dict:
    return {s: (SHEETS_BY_NAME[s], s, raw, 0, profile.drug_names, fmt) for s, raw in _raw(path).items()}


def _same(a: reader.SheetData, b: reader.SheetData) -> None:
    assert a.frame.schema == b.frame.schema
    assert a.frame.equals(b.frame)
    assert (a.header_row, a.columns, a.extra, a.duplicates, a.missing) == \
           (b.header_row, b.columns, b.extra, b.duplicates, b.missing)


@pytest.mark.parametrize("sample", ["demo_study.xlsx", "messy_site.xlsx", "us_site.xlsx"])
@pytest.mark.parametrize("fmt", [None, "DD/MM/YYYY", "MM/DD/YYYY"])
def test_sheets_built_together_equal_each_built_alone(sample, fmt, profile):
    jobs = _jobs(SAMPLES / sample, profile, fmt)
    together = reader.build_sheets(jobs)
    assert list(together) == list(jobs)
    for name, args in jobs.items():
        _same(together[name], reader.build_sheet(*args))


def test_a_read_runs_each_kind_once_for_all_its_small_sheets(monkeypatch, profile):
    """The demo's small sheets hold dates and numbers of the same kinds: built together, the
    stages run fewer times than built one by one, and at least one run serves several sheets."""
    jobs = {s: a for s, a in _jobs(SAMPLES / "demo_study.xlsx", profile, None).items() if s != "Labs"}
    runs = []
    real = stacked.staged_select
    monkeypatch.setattr(stacked, "staged_select", lambda df, *a: runs.append(df.height) or real(df, *a))
    for args in jobs.values():
        reader.build_sheet(*args)
    alone = list(runs)
    runs.clear()
    reader.build_sheets(jobs)
    assert len(runs) < len(alone)
    assert max(runs) > max(alone)   # a stacked run is taller than any one sheet's


def test_run_stacked_gives_each_request_its_own_rows():
    col = Column("Visit date", "visit", Kind.DATE)
    stages, exprs = column_stages("raw", col, None)
    a = pl.DataFrame({DATE_IN: ["2024-01-05", "bad", None]})
    b = pl.DataFrame({DATE_IN: ["05/02/2024", "2024-03-01"]})
    other_stages, other_exprs = column_stages("raw", Column("Dose", "dose", Kind.NUMBER), None)
    c = pl.DataFrame({DATE_IN: ["1.5", "x"]})
    out = stacked.run_stacked([(stages, exprs, a), (other_stages, other_exprs, c), (stages, exprs, b)])
    for (st, ex, frame), got in zip([(stages, exprs, a), (other_stages, other_exprs, c), (stages, exprs, b)], out):
        assert got.equals(stacked.staged_select(frame, [], st, ex))


def test_drive_gives_back_what_the_steps_return():
    def steps():
        got = yield []
        assert got == []
        return "done"

    assert stacked.drive(steps()) == "done"
    assert stacked.drive_all({"a": steps(), "b": iter(())}) == {"a": "done", "b": None}


@pytest.mark.parametrize("sample", ["demo_study.xlsx", "us_site.xlsx"])
def test_a_read_builds_the_same_sheets_in_one_go_or_early_and_late(monkeypatch, sample, profile):
    """With the background sheet already loaded, read_workbook builds every sheet in one go;
    while it loads, the others first and it after: the same sheets either way."""
    from monitor.workbook import load

    builds, real = [], reader._build
    monkeypatch.setattr(reader, "_build", lambda loaded, names, *a: builds.append(list(names)) or real(loaded, names, *a))
    read = {}
    for busy in (False, True):
        monkeypatch.setattr(load.Loaded, "loading", lambda self, b=busy: b)
        builds.clear()
        read[busy] = reader.read_workbook(SAMPLES / sample, drugs=profile.drug_names)
        assert len(builds) == (2 if busy else 1), builds
    assert list(read[False].sheets) == list(read[True].sheets)
    for name, sd in read[False].sheets.items():
        _same(sd, read[True].sheets[name])
