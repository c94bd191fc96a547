"""The precompiled reference data (monitor.refcache): the copy gives exactly what the loaders build
from the files, it is used only while no code or data file has changed since it was written, and a
missing, stale or damaged copy falls back to building (never an error, never a different result)."""

from __future__ import annotations

import os
import pickle

import pytest

from monitor import refcache
from monitor.ctcae.criteria import _build_criteria, load_criteria
from monitor.ctcae.terms import _build_terms, load_terms
from monitor.labs.catalogue import _build_catalogue, load_catalogue
from monitor.profile.profile import _build_bundled, bundled_profiles, load_profile


@pytest.fixture
def copy_in(tmp_path, monkeypatch):
    """A copy written to a temporary folder, read from there, nothing loaded yet."""
    monkeypatch.setattr(refcache, "FOLDER", tmp_path / "_refcache")
    monkeypatch.setattr(refcache, "_loaded", None)
    for f in (load_terms, load_catalogue, load_criteria):
        f.cache_clear()
    yield refcache.FOLDER
    monkeypatch.setattr(refcache, "_loaded", None)
    for f in (load_terms, load_catalogue, load_criteria):
        f.cache_clear()


def test_the_copy_holds_what_the_loaders_build_from_the_files(copy_in):
    path = refcache.write(copy_in)
    assert path.name == f"{refcache.key()}.pickle"
    data = pickle.loads(path.read_bytes())
    assert data["terms"] == _build_terms() and len(data["terms"]) == 837
    assert data["catalogue"] == _build_catalogue()
    assert data["catalogue"]._names["frame"].equals(_build_catalogue().names_frame())   # prebuilt
    assert data["catalogue"].suggest("hemoglobn") == _build_catalogue().suggest("hemoglobn") != []
    assert data["criteria"] == _build_criteria()
    for name in bundled_profiles():
        assert pickle.loads(data[f"profile:{name}"]) == _build_bundled(name)


def _fresh_process():
    for f in (load_terms, load_catalogue, load_criteria):
        f.cache_clear()


def test_the_loaders_read_the_current_copy_and_give_equal_objects(copy_in, monkeypatch):
    refcache.write(copy_in)
    _fresh_process()   # writing built them through the loaders
    built = []
    monkeypatch.setattr(refcache, "get", _counting(refcache.get, built))
    assert load_terms() == _build_terms()
    assert load_catalogue() == _build_catalogue()
    assert load_criteria() == _build_criteria()
    assert load_profile(None) == _build_bundled("ql1604_bev_hcc")
    assert load_profile("cdisc_pilot") == _build_bundled("cdisc_pilot")
    assert built == []       # every one of them came from the copy


def test_each_load_of_a_bundled_profile_is_a_fresh_object(copy_in):
    refcache.write(copy_in)
    a, b = load_profile(None), load_profile(None)
    assert a == b and a is not b


def test_without_a_copy_the_loaders_build_from_the_files(copy_in, monkeypatch):
    built = []
    monkeypatch.setattr(refcache, "get", _counting(refcache.get, built))
    assert load_terms() == _build_terms()
    assert load_profile(None) == _build_bundled("ql1604_bev_hcc")
    assert {"terms", "profile:ql1604_bev_hcc"} <= set(built)   # (the profile's parse loads the catalogue too)


def test_a_damaged_copy_is_not_used(copy_in):
    path = refcache.write(copy_in)
    path.write_bytes(b"not a pickle")
    assert refcache.get("terms", lambda: "built") == "built"


def test_any_edited_added_or_removed_file_changes_the_key(tmp_path):
    (tmp_path / "pkg").mkdir()
    f = tmp_path / "pkg" / "rules.py"
    f.write_text("x = 1\n")
    (tmp_path / "pkg" / "tests.toml").write_text("[a]\n")
    k0 = refcache.key(tmp_path)
    assert refcache.key(tmp_path) == k0
    f.write_text("x = 2\n")                                   # same size, new content and time
    os.utime(f, ns=(1, 1))
    k1 = refcache.key(tmp_path)
    assert k1 != k0
    (tmp_path / "pkg" / "new.csv").write_text("a\n")
    k2 = refcache.key(tmp_path)
    assert k2 not in (k0, k1)
    (tmp_path / "pkg" / "new.csv").unlink()
    assert refcache.key(tmp_path) == k1
    (tmp_path / "pkg" / "notes.txt").write_text("not code or data")   # not a code or data file
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "rules.py").write_text("")
    assert refcache.key(tmp_path) == k1


def test_a_copy_written_before_an_edit_is_not_used_after_it(copy_in, monkeypatch):
    refcache.write(copy_in)
    monkeypatch.setattr(refcache, "key", lambda root=refcache.PACKAGE: "0" * 32)   # the package changed
    assert refcache.get("terms", lambda: "built") == "built"


def test_writing_again_replaces_the_older_copy(copy_in, monkeypatch):
    old = refcache.write(copy_in)
    monkeypatch.setattr(refcache, "key", lambda root=refcache.PACKAGE: "f" * 32)
    new = refcache.write(copy_in)
    assert new.exists() and not old.exists() and sorted(p.name for p in copy_in.iterdir()) == [new.name]


def _counting(get, built):
    def counted(name, build):
        def recorded():
            built.append(name)
            return build()
        return get(name, recorded)
    return counted


def test_while_bypassed_every_get_builds_and_afterwards_the_copy_is_read_again(copy_in):
    refcache.write(copy_in)
    with refcache.bypassed():
        assert refcache.get("terms", lambda: "built") == "built"
    assert refcache.get("terms", lambda: "built") != "built"


DATE_TEXTS = ["2024-01-05", "05/01/2024", "1/5/24", "2024-01", "UNK/01/2024", "45000", "31/02/2024", "",
              None, "2024", "Jan 2024", "5 Jan 2024", " 2024-1-5 ", "12.5", "<0.1", "1,234", "abc", "-3"]


def _parsed(template) -> "pl.DataFrame":
    import polars as pl

    from monitor.workbook.parse import DATE_IN
    from monitor.workbook.stacked import with_stages

    stages, outputs = template
    frame = with_stages(pl.DataFrame({DATE_IN: DATE_TEXTS}, schema={DATE_IN: pl.String}), stages)
    return frame.select(e.alias(k) for k, e in outputs.items())


def test_the_copy_holds_every_date_and_number_template_parsing_as_built(copy_in):
    """The typed parse's templates (polars expressions) come back from the copy parsing every
    text as the ones built from the code."""
    from monitor.workbook.parse import DATE_FORMATS, stage_templates

    data = pickle.loads(refcache.write(copy_in).read_bytes())
    templates = stage_templates()
    assert {f"date_stages:{f}:{p}" for f in (None, *DATE_FORMATS) for p in (False, True)} <= set(templates)
    for name, build in templates.items():
        assert _parsed(pickle.loads(data[name])).equals(_parsed(build())), name


def test_a_template_that_no_longer_loads_is_built(copy_in, monkeypatch):
    refcache.write(copy_in)
    refcache.get("terms", lambda: None)                       # the copy is loaded
    monkeypatch.setitem(refcache._loaded, "number_stages:False", b"from another polars")
    assert refcache.get("number_stages:False", lambda: "built") == "built"


def test_another_polars_is_another_key(tmp_path, monkeypatch):
    import polars

    (tmp_path / "a.py").write_text("x = 1\n")
    k0 = refcache.key(tmp_path)
    monkeypatch.setattr(polars, "__version__", "0.0.1")
    assert refcache.key(tmp_path) != k0


def test_the_copy_holds_the_known_unit_spellings_as_read_from_their_table(copy_in):
    from monitor.labs.units import read_known

    data = pickle.loads(refcache.write(copy_in).read_bytes())
    assert data["units_known"] == read_known() != {}
