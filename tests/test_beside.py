"""A whole check of a large workbook runs the rules that read no lab table (registry.BESIDE) on a
second thread while the main one builds the lab tables (check.run_rules). What that may change
is only when a rule runs, never a finding: these tests pin the two lists it relies on (the
rules read no lab table, and of the cached tables only BESIDE_READS) and that the findings and
the rules not evaluated come out the same, in the same order."""

from __future__ import annotations

import threading
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
from monitor.derive import exposure
from monitor.rules.registry import BESIDE, BESIDE_READS, BESIDE_WARM, BY_CODE, RULES
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


def _no_labs(sample: Path, profile_path) -> _NoLabs:
    profile = load_profile(profile_path)
    ctx = _NoLabs(read_workbook(sample, drugs=profile.related_drug_names), profile, TERMS, CATALOGUE, TODAY)
    object.__setattr__(ctx, "_NoLabs__reads", set())
    return ctx


def _demo_context() -> Context:
    """A Context of the demo workbook with the default profile."""
    profile = load_profile()
    return Context(read_workbook(SAMPLES[0], drugs=profile.related_drug_names), profile, TERMS, CATALOGUE, TODAY)


@pytest.mark.parametrize("profile_path", PROFILES, ids=lambda p: Path(p).stem if p else "default")
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_the_rules_run_beside_read_no_lab_table_and_only_the_listed_cached_tables(sample, profile_path):
    ctx = _no_labs(sample, profile_path)
    wb, profile = ctx.wb, ctx.profile
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
    ctx = _demo_context()
    assert not check_mod._runs_beside(ctx, list(RULES))
    assert check_mod._runs_beside(ctx, RULES) == (pl.thread_pool_size() > 1)
    frames, skipped = run_rules(ctx, list(RULES))
    assert frames


def _sequential_and_with(monkeypatch, side_on_pool):
    """(findings and not-evaluated of a sequential whole check of the demo workbook, the same with
    the side thread's on_pool replaced by `side_on_pool`)."""
    profile = load_profile()
    wb = read_workbook(SAMPLES[0], drugs=profile.related_drug_names)

    def run(beside: bool):
        monkeypatch.setattr(check_mod, "BESIDE_ROWS", 0 if beside else 1 << 62)
        frames, skipped = run_rules(Context(wb, profile, TERMS, CATALOGUE, TODAY))
        return [f.to_dicts() for f in frames], skipped
    alone = run(False)
    monkeypatch.setattr(check_mod, "on_pool", side_on_pool)
    return alone, run(True)


def test_a_side_thread_that_gets_no_worker_leaves_its_rules_to_the_main_thread(monkeypatch):
    """Every polars worker busy (two checks at once in one process): the side thread waits for
    one, the main thread must not wait for it. It runs the side rules itself when it comes to
    them, and the findings are the same."""
    if pl.thread_pool_size() < 2:
        pytest.skip("polars runs on one thread here: nothing runs beside")
    release, started = threading.Event(), []
    real = check_mod.on_pool

    def no_worker_yet(fn):
        release.wait(30)   # while run_rules runs, no worker comes
        started.append(True)
        return real(fn)
    alone, together = _sequential_and_with(monkeypatch, no_worker_yet)
    assert not started, "the main thread waited for the side thread to get a worker"
    release.set()        # (the side thread starts now and finds nothing left to run)
    assert together == alone


def test_a_side_thread_that_cannot_start_loses_no_rule(monkeypatch):
    if pl.thread_pool_size() < 2:
        pytest.skip("polars runs on one thread here: nothing runs beside")

    def broken(fn):
        raise RuntimeError("the side thread could not start its rules")
    alone, together = _sequential_and_with(monkeypatch, broken)
    assert together == alone


class _Stop(BaseException):
    """Not an Exception: what a rule cannot turn into its WB000 finding (as an interrupt)."""


def test_what_stops_a_side_rule_is_raised_on_the_main_thread(monkeypatch):
    if pl.thread_pool_size() < 2:
        pytest.skip("polars runs on one thread here: nothing runs beside")
    import dataclasses

    import monitor.rules.registry as registry

    def stop(ctx):
        raise _Stop("stopped")
    rules = tuple(dataclasses.replace(r, check=stop) if r.code == "WB001" else r for r in RULES)
    monkeypatch.setattr(check_mod, "RULES", rules)
    monkeypatch.setattr(registry, "RULES", rules)
    monkeypatch.setattr(check_mod, "BESIDE_ROWS", 0)
    ctx = _demo_context()
    with pytest.raises(_Stop):
        run_rules(ctx, rules)


# ---------------------------------------------------------------- tables built ahead (BESIDE_WARM)

@pytest.mark.parametrize("profile_path", PROFILES, ids=lambda p: Path(p).stem if p else "default")
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_the_tables_built_beside_read_no_lab_table_and_only_the_listed_cached_tables(sample, profile_path):
    ctx = _no_labs(sample, profile_path)
    for warm in BESIDE_WARM:
        try:
            warm(ctx)
        except _LabsForbidden as e:
            pytest.fail(f"{warm.__name__} reads ctx.{e}: it cannot be built beside the lab rules")
    reads = object.__getattribute__(ctx, "_NoLabs__reads")
    own = {"_derived_admin_base", "_admin_base_taken"}
    assert reads <= set(BESIDE_READS) | own, f"add to BESIDE_READS: {sorted(reads - set(BESIDE_READS) - own)}"


def test_the_administrations_are_the_same_built_ahead_or_not_and_let_the_part_go():
    profile = load_profile()
    wb = read_workbook(SAMPLES[0], drugs=profile.related_drug_names)
    plain = Context(wb, profile, TERMS, CATALOGUE, TODAY)
    ahead = Context(wb, profile, TERMS, CATALOGUE, TODAY)
    exposure.prebuild_admin_base(ahead)
    assert ahead._derived_admin_base is not None
    assert exposure.administrations(ahead).equals(exposure.administrations(plain))
    assert ahead._derived_admin_base is None and plain._derived_admin_base is None
    exposure.prebuild_admin_base(ahead)          # once the administrations took it: nothing built again
    assert ahead._derived_admin_base is None


def _side(monkeypatch, warm):
    """A whole check of the demo workbook with the side thread on and BESIDE_WARM = `warm`."""
    monkeypatch.setattr(check_mod, "BESIDE_ROWS", 0)
    monkeypatch.setattr(check_mod, "BESIDE_WARM", tuple(warm))
    ctx = _demo_context()
    frames, skipped = run_rules(ctx)
    return [f.to_dicts() for f in frames], skipped


def test_a_table_built_ahead_that_fails_changes_no_finding(monkeypatch):
    if pl.thread_pool_size() < 2:
        pytest.skip("polars runs on one thread here: nothing runs beside")
    calls = []

    def fails(ctx):
        calls.append(True)
        raise ValueError("a damaged sheet")
    assert _side(monkeypatch, [fails]) == _side(monkeypatch, [])
    assert calls, "the side thread never ran its table"


def test_the_main_thread_cancels_a_table_not_started_and_waits_for_one_under_way(monkeypatch):
    if pl.thread_pool_size() < 2:
        pytest.skip("polars runs on one thread here: nothing runs beside")
    import time

    under_way, ran = threading.Event(), []

    def slow(ctx):
        under_way.set()
        time.sleep(0.3)
        ran.append("slow")

    def after(ctx):
        ran.append("after")
    real_join = check_mod._Beside.join
    joined = []

    def join(self):
        under_way.wait(30)     # the first table is under way when the main thread comes to join
        real_join(self)
        joined.append(list(ran))
    monkeypatch.setattr(check_mod._Beside, "join", join)
    _side(monkeypatch, [slow, after])
    assert joined[0] == ["slow"], "the main thread did not wait for the table under way"
    assert ran == ["slow"], "a table not started when the main thread joined was built anyway"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_the_lab_days_are_the_same_on_either_engine(sample, monkeypatch):
    """exposure._lab_days runs its two queries on the streaming engine from STREAMING_ROWS rows
    (a whole study: no 600,000-row intermediate at the rules' peak): the same lab days, each
    subject and date once and sorted by date, and the same subjects with an unknown lab date."""
    profile = load_profile()
    wb = read_workbook(sample, drugs=profile.related_drug_names)
    out = []
    for rows in (1 << 62, 0):
        monkeypatch.setattr(exposure, "STREAMING_ROWS", rows)
        days, unknown = exposure._lab_days(Context(wb, profile, TERMS, CATALOGUE, TODAY))
        assert days.get_column("lab_date").is_sorted()
        assert days.height == days.unique().height
        out.append((days.sort("lab_date", "subject"), unknown.sort("subject")))
    (days_a, unknown_a), (days_b, unknown_b) = out
    assert days_a.equals(days_b) and unknown_a.equals(unknown_b)
    assert days_a.height > 0
