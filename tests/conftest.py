"""Shared fixtures: the bundled profile, and `run` = write a workbook and check it."""

from __future__ import annotations

import itertools

import pytest

from builders import TODAY, check, write
from monitor.ctcae.terms import load_terms
from monitor.labs.catalogue import load_catalogue
from monitor.profile.profile import load_profile
from monitor.rules.base import Context
from monitor.workbook.reader import read_workbook


@pytest.fixture(scope="session")
def profile():
    return load_profile()


@pytest.fixture
def run(tmp_path, profile):
    """run(sheets, rules=None, prof=None, hidden=(), cached=None) -> monitor.check.Result (today
    2026-01-01); `prof`: a profile or its name (default the bundled seed study)."""
    counter = itertools.count()

    def _run(sheets, rules=None, prof=None, **write_kw):
        path = write(tmp_path / f"site{next(counter)}.xlsx", sheets, **write_kw)
        return check(path, load_profile(prof) if isinstance(prof, str) else (prof or profile), rules=rules)

    return _run


@pytest.fixture
def written(tmp_path):
    """written(sheets, **write_kw) -> path of the .xlsx."""
    counter = itertools.count()

    def _written(sheets, **write_kw):
        return write(tmp_path / f"site{next(counter)}.xlsx", sheets, **write_kw)

    return _written


@pytest.fixture
def ctx_of(tmp_path, profile):
    """ctx_of(sheets, prof=None) -> a check Context of the written workbook (derived tables on demand)."""
    counter = itertools.count()

    def make(sheets, prof=None):
        prof = prof or profile
        wb = read_workbook(write(tmp_path / f"ctx{next(counter)}.xlsx", sheets), drugs=prof.related_drug_names)
        return Context(wb, prof, load_terms(), load_catalogue(), TODAY)

    return make
