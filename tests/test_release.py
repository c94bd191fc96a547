"""A whole check lets the Context's cached tables go once their last reader has run
(registry.RELEASE_AFTER), and the hold rules join lab results to their rules a slice at a time
(holds.PAIR_SLICE_ROWS): both only lower the memory peak, never change a finding."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

import monitor.derive.holds as holds_mod
from monitor.check import run_rules
from monitor.ctcae.terms import load_terms
from monitor.derive.exposure import administrations
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import load_profile
from monitor.rules.base import Context
from monitor.rules.registry import RELEASE_AFTER, RULES
from monitor.workbook.reader import read_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "sample_sheets").glob("*.xlsx"))
PROFILES = [None] + sorted(str(p) for p in (ROOT / "monitor" / "profile" / "examples").glob("*.toml"))
TERMS, CATALOGUE = load_terms(), load_catalogue()
TODAY = date(2026, 12, 1)
RELEASED = {attr: code for code, attrs in RELEASE_AFTER.items() for attr in attrs}


class _Watched(Context):
    """A Context that records, per cached attribute, the index of the last rule that read it."""

    def __getattribute__(self, name):
        if name.startswith("_") and not name.startswith("__") and name not in ("_Watched__reads", "_Watched__at"):
            reads = object.__getattribute__(self, "_Watched__reads")
            reads[name] = object.__getattribute__(self, "_Watched__at")
        return object.__getattribute__(self, name)


def _watched(wb, profile) -> _Watched:
    ctx = _Watched(wb, profile, TERMS, CATALOGUE, TODAY)
    object.__setattr__(ctx, "_Watched__reads", {})
    object.__setattr__(ctx, "_Watched__at", -1)
    return ctx


def _ctx(sample: Path, profile) -> Context:
    return Context(read_workbook(sample, drugs=profile.related_drug_names), profile, TERMS, CATALOGUE, TODAY)


def _findings(frames: list) -> pl.DataFrame:
    return pl.concat(frames).sort(pl.all()) if frames else pl.DataFrame()


@pytest.mark.parametrize("profile_path", PROFILES, ids=lambda p: Path(p).stem if p else "default")
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_no_cached_table_is_read_after_the_rule_that_releases_it(sample, profile_path):
    profile = load_profile(profile_path)
    ctx = _watched(read_workbook(sample, drugs=profile.related_drug_names), profile)
    for i, rule in enumerate(RULES):
        object.__setattr__(ctx, "_Watched__at", i)
        run_rules(ctx, (rule,))          # one rule at a time: nothing is released
    reads = object.__getattribute__(ctx, "_Watched__reads")
    order = {r.code: i for i, r in enumerate(RULES)}
    late = {attr: RULES[reads[attr]].code for attr, code in RELEASED.items()
            if attr in reads and reads[attr] > order[code]}
    assert not late, f"read after release (move the entry in RELEASE_AFTER to this rule): {late}"


def test_every_released_table_is_one_the_rules_build():
    profile = load_profile()
    seen = set()
    for sample in SAMPLES:
        ctx = _ctx(sample, profile)
        run_rules(ctx, list(RULES))      # a list, not RULES itself: nothing is released
        seen |= {k for k, v in vars(ctx).items() if k.startswith("_") and v is not None}
    assert set(RELEASED) <= seen, f"no rule builds {set(RELEASED) - seen}: a stale RELEASE_AFTER entry"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_a_whole_check_releases_the_tables_and_finds_the_same(sample):
    profile = load_profile()
    kept, released = _ctx(sample, profile), _ctx(sample, profile)
    kept_frames, kept_skipped = run_rules(kept, list(RULES))
    frames, skipped = run_rules(released, RULES)
    assert all(getattr(released, attr, None) is None for attr in RELEASED)
    assert any(getattr(kept, attr, None) is not None for attr in RELEASED)
    assert skipped == kept_skipped
    assert _findings(frames).equals(_findings(kept_frames))
    assert len(frames) == len(kept_frames) > 0


def test_hold_rules_joined_a_slice_at_a_time_give_the_same_holds(monkeypatch):
    profile = load_profile()
    sample = ROOT / "sample_sheets" / "demo_study.xlsx"
    whole = holds_mod.holds(ctx := _ctx(sample, profile), administrations(ctx))
    a = administrations(ctx).filter(pl.col("administered") & pl.col("date").is_not_null())
    met = [x for x in holds_mod._lab_candidates(ctx, a.select("row", "subject", "drug", "date"),
                                                _meta(profile)) if x.height]
    assert met, "the demo study has lab holds: the test must see some"
    monkeypatch.setattr(holds_mod, "PAIR_SLICE_ROWS", 3)
    sliced = holds_mod.holds(ctx2 := _ctx(sample, profile), administrations(ctx2))
    assert sliced.equals(whole)
    assert whole.get_column("hold_evidence").drop_nulls().len() > 0


def _meta(profile) -> pl.DataFrame:
    rules = profile.hold_rules
    return pl.DataFrame({"rule": list(range(len(rules))), "rule_drug": [h["drug"] for h in rules],
                         "rule_action": [h["action"] for h in rules]},
                        schema={"rule": pl.Int64, "rule_drug": pl.String, "rule_action": pl.String})
