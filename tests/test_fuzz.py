"""The fuzzing harness (fuzz/): mutated workbooks never crash, hang or escape, and every case
that ever failed stays fixed. A longer run is one command: `.venv/bin/python -m fuzz --cases 20000`."""

from __future__ import annotations

import io
import os
import random
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz import harness, mutators  # noqa: E402
from fuzz.xlsx import Package  # noqa: E402

CI_SEED = 20261127
CI_CASES = 200      # about 40 s on two cores; the regressions run beside them


def _explain(failed) -> str:
    lines = []
    for o in failed:
        kind, key, _ = o["job"]
        name = key if kind == "file" else f"s{key[0]}-{key[1]:05d}"
        lines.append(f"{name}: {'; '.join(o['problems'])}")
    return ("\n".join(lines) + "\n\nReproduce one with `.venv/bin/python -m fuzz --show sSEED-INDEX`; "
            "`.venv/bin/python -m fuzz --seed SEED --cases N` saves failures under fuzz/regressions/.")


@pytest.mark.slow
def test_a_fixed_seed_sample_of_mutated_workbooks_never_crashes_hangs_or_escapes():
    jobs = harness.seeded_jobs(CI_SEED, CI_CASES)
    outcomes = harness.run_jobs(jobs, workers=min(2, os.cpu_count() or 2))
    failed = [o for o in outcomes if o["problems"]]
    assert not failed, _explain(failed)
    codes = {o["codes"]["check"] for o in outcomes}
    assert {0, 1, 2} <= codes, codes   # the sample reaches the rules, finds problems and refuses files


@pytest.mark.slow
def test_every_saved_regression_case_passes():
    jobs = harness.regression_jobs()
    assert jobs, "fuzz/regressions/ holds the cases that once failed"
    outcomes = harness.run_jobs(jobs, workers=min(2, os.cpu_count() or 2))
    failed = [o for o in outcomes if o["problems"]]
    assert not failed, _explain(failed)


def test_every_regression_file_has_a_note_of_what_failed_and_where_it_was_fixed():
    import json

    for path in harness.regression_cases():
        note = json.loads(path.with_suffix(".json").read_text("utf-8"))
        assert note["failed_with"] and note["fixed_in"] and note["fixed_in"] != "(fill in)", path.name
        assert path.stat().st_size < 200_000, f"{path.name}: keep regression files small"


def test_a_case_id_always_gives_the_same_file():
    for index in range(20):
        a, b = harness.make_case(7, index), harness.make_case(7, index)
        assert a.data == b.data and a.mutations == b.mutations


@pytest.mark.parametrize("name", sorted(mutators.PACKAGE_MUTATORS))
def test_every_package_mutator_writes_a_zip_and_says_what_it_did(name):
    fn = mutators.PACKAGE_MUTATORS[name][0]
    for base in ("small_study", "messy_site"):
        path = dict((b[0], b[1]) for b in harness.BASES)[base]
        for seed in range(5):
            pkg = Package.read(path.read_bytes())
            desc = fn(random.Random(f"{name}{seed}"), pkg)
            assert desc is None or isinstance(desc, str)
            with zipfile.ZipFile(io.BytesIO(pkg.to_bytes())) as zf:
                assert zf.namelist() or name == "drop_member"


def test_judge_reports_a_crash_and_accepts_a_clean_file(tmp_path, monkeypatch):
    clean = harness.judge((ROOT / "fuzz" / "corpus" / "small_study.xlsx").read_bytes(), "clean", tmp_path / "a",
                          full=True)
    assert clean["problems"] == [] and clean["codes"] == {"check": 0, "annotate": 0, "export": 0}

    import monitor.reporters

    def boom(*a, **k):
        raise ZeroDivisionError("planted")
    monkeypatch.setattr(monitor.reporters, "write_outputs", boom)
    crashed = harness.judge((ROOT / "fuzz" / "corpus" / "small_study.xlsx").read_bytes(), "boom", tmp_path / "b")
    assert any("ZeroDivisionError: planted" in p for p in crashed["problems"])
