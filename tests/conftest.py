"""Shared fixtures: the bundled profile, and `run` = write a workbook and check it."""

from __future__ import annotations

import itertools

import pytest

from builders import check, write
from monitor.profile.profile import load_profile


@pytest.fixture(scope="session")
def profile():
    return load_profile()


@pytest.fixture
def run(tmp_path, profile):
    """run(sheets, rules=None, hidden=(), cached=None) -> monitor.check.Result (today 2026-01-01)."""
    counter = itertools.count()

    def _run(sheets, rules=None, **write_kw):
        path = write(tmp_path / f"site{next(counter)}.xlsx", sheets, **write_kw)
        return check(path, profile, rules=rules)

    return _run


@pytest.fixture
def written(tmp_path):
    """written(sheets, **write_kw) -> path of the .xlsx."""
    counter = itertools.count()

    def _written(sheets, **write_kw):
        return write(tmp_path / f"site{next(counter)}.xlsx", sheets, **write_kw)

    return _written
