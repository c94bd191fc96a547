"""A whole check of a large workbook runs the rules that read no lab table (registry.BESIDE) on a
second thread while the main one builds the lab tables (check.run_rules). What that may change
is only when a rule runs, never a finding: these tests pin the two lists it relies on (the
rules read no lab table, and of the cached tables only BESIDE_READS) and that the findings and
the rules not evaluated come out the same, in the same order."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

import monitor.check as check_mod
from monitor.check import check_workbook, run_rules
from monitor.ctcae.terms import load_terms
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import load_profile
from monitor.rules.base import Context
from monitor.rules.registry import BESIDE, BESIDE_READS, BY_CODE, RULES
from monitor.workbook.reader import read_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "sample_sheets").glob("*.xlsx"))
PROFILES = [None] + sorted(str(p) for p in (ROOT / "monitor" / "profile" / "examples").glob("*.toml"))
TERMS, CATALOGUE = load_terms(), load_catalogue()
TODAY = date(2026, 12, 1)


class _LabsForbidden(Exception):
    pass


class _NoLabs(Context):
    """A Context whose lab tables cannot be read, and that records the other cached tables read."""

    @property
    def labs(self):
        raise _LabsForbidden("labs")

    @property
    def lab_rows(self):
        raise _LabsForbidden("lab_rows")

    def __getattribute__(self, name):
        if name.startswith("_") and not name.startswith("__") and name not in ("_NoLabs__reads", "_table_locks"):
            object.__getattribute__(self, "_NoLabs__reads").add(name)
        return object.__getattribute__(self, name)


@pytest.mark.parametrize("profile_path", PROFILES, ids=lambda p: Path(p).stem if p else "default")
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_the_rules_run_beside_read_no_lab_table_and_only_the_listed_cached_tables(sample, profile_path):
    profile = load_profile(profile_path)
    wb = read_workbook(sample, drugs=profile.related_drug_names)
    ctx = _NoLabs(wb, profile, TERMS, CATALOGUE, TODAY)
    object.__setattr__(ctx, "_NoLabs__reads", set())
    for code in BESIDE:
        rule = BY_CODE[code]
        if check_mod._gated(rule, wb, profile):
            continue
        try:
            rule.check(ctx)
        except _LabsForbidden as e:
            pytest.fail(f"{code} reads ctx.{e}: it cannot run beside the lab rules (take it out of BESIDE)")
    reads = object.__getattribute__(ctx, "_NoLabs__reads")
    assert reads <= set(BESIDE_READS), f"add to BESIDE_READS: {sorted(reads - set(BESIDE_READS))}"


def test_every_rule_listed_beside_is_registered_and_the_lab_rules_are_not():
    assert set(BESIDE) <= {r.code for r in RULES}
    assert not [c for c in BESIDE if c.startswith(("LAB", "MK", "DOSE", "RECIST"))]


def _check(sample: Path, profile, beside: bool, monkeypatch):
    monkeypatch.setattr(check_mod, "BESIDE_ROWS", 0 if beside else 1 << 62)
    started = []
    real = check_mod._Beside

    class Spy(real):
        def __init__(self, *a, **k):
            started.append(True)
            super().__init__(*a, **k)
    monkeypatch.setattr(check_mod, "_Beside", Spy)
    res = check_workbook(sample, profile, today=TODAY)
    return res, bool(started)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_a_check_with_rules_beside_gives_the_same_findings_in_the_same_order(sample, monkeypatch):
    if pl.thread_pool_size() < 2:
        pytest.skip("polars runs on one thread here: nothing runs beside")
    profile = load_profile()
    alone, ran = _check(sample, profile, False, monkeypatch)
    assert not ran
    together, ran = _check(sample, profile, True, monkeypatch)
    assert ran
    assert [f.to_dict() for f in together.findings] == [f.to_dict() for f in alone.findings]
    assert together.not_evaluated == alone.not_evaluated


def test_a_subset_of_rules_never_runs_beside(monkeypatch):
    monkeypatch.setattr(check_mod, "BESIDE_ROWS", 0)
    profile = load_profile()
    ctx = Context(read_workbook(SAMPLES[0], drugs=profile.related_drug_names), profile, TERMS, CATALOGUE, TODAY)
    assert not check_mod._runs_beside(ctx, list(RULES))
    assert check_mod._runs_beside(ctx, RULES) == (pl.thread_pool_size() > 1)
    frames, skipped = run_rules(ctx, list(RULES))
    assert frames


def test_an_error_that_stops_the_side_thread_is_raised_on_the_main_one(monkeypatch):
    """A rule's own exception is its WB000 finding on either thread; what stops the thread
    itself (here: on_pool failing) is raised by run_rules, not lost."""
    if pl.thread_pool_size() < 2:
        pytest.skip("polars runs on one thread here: nothing runs beside")
    monkeypatch.setattr(check_mod, "BESIDE_ROWS", 0)

    def broken(fn):
        raise RuntimeError("the side thread could not start its rules")
    monkeypatch.setattr(check_mod, "on_pool", broken)
    profile = load_profile()
    ctx = Context(read_workbook(SAMPLES[0], drugs=profile.related_drug_names), profile, TERMS, CATALOGUE, TODAY)
    with pytest.raises(RuntimeError, match="side thread"):
        run_rules(ctx)
