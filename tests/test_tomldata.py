"""monitor.tomldata: the bundled TOML files are read from precompiled JSON copies that hold
exactly what tomllib reads (the shortcut pinned against the plain parse)."""

from __future__ import annotations

import json
import tomllib

from monitor import tomldata


def typed(v):
    """The value with every scalar's type spelled out and dict order kept (1 != 1.0 here)."""
    if isinstance(v, dict):
        return ("dict", [(k, typed(x)) for k, x in v.items()])
    if isinstance(v, list):
        return ("list", [typed(x) for x in v])
    return (type(v).__name__, repr(v))


def test_the_precompiled_toml_copies_are_current():
    """Every bundled TOML file has a copy equal to tomllib's parse, types and order included, and
    no copy is left of an old text; after editing a TOML file run `python -m monitor.tomldata`."""
    names = set()
    for rel in tomldata.bundled_toml():
        text = (tomldata.PACKAGE / rel).read_text("utf-8")
        copy = tomldata.FOLDER / f"{tomldata.text_key(text)}.json"
        assert copy.is_file(), f"{rel} has no current copy: run python -m monitor.tomldata"
        stored = json.loads(copy.read_text("utf-8"))
        assert stored["source"] == rel
        assert typed(stored["data"]) == typed(tomllib.loads(text)), rel
        assert typed(tomldata.loads(text)) == typed(tomllib.loads(text)), rel
        names.add(copy.name)
    assert {p.name for p in tomldata.FOLDER.glob("*.json")} == names, "orphan copies: run python -m monitor.tomldata"


def test_a_text_without_a_copy_is_parsed_by_tomllib():
    text = (tomldata.PACKAGE / "labs" / "tests.toml").read_text("utf-8") + "\n# edited\n[extra]\nx = 1.0\n"
    assert not (tomldata.FOLDER / f"{tomldata.text_key(text)}.json").exists()
    assert typed(tomldata.loads(text)) == typed(tomllib.loads(text))
    assert tomldata.loads(text)["extra"] == {"x": 1.0}


def test_writing_copies_skips_dates_and_drops_copies_of_old_texts(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "plain.toml").write_text('a = 1\nb = 1.0\nc = "x"\n[t]\nd = [1, 2.5, inf]\n', "utf-8")
    (tmp_path / "sub" / "dated.toml").write_text("when = 2026-12-03\n", "utf-8")
    monkeypatch.setattr(tomldata, "PACKAGE", tmp_path)
    monkeypatch.setattr(tomldata, "FOLDER", tmp_path / "toml_json")
    (tmp_path / "toml_json").mkdir()
    (tmp_path / "toml_json" / "old.json").write_text("{}", "utf-8")
    written = tomldata.write_copies()
    plain = (tmp_path / "plain.toml").read_text("utf-8")
    assert written == [f"{tomldata.text_key(plain)}.json"]
    assert sorted(p.name for p in (tmp_path / "toml_json").iterdir()) == written
    assert typed(tomldata.loads(plain)) == typed(tomllib.loads(plain))
    dated = (tmp_path / "sub" / "dated.toml").read_text("utf-8")
    assert typed(tomldata.loads(dated)) == typed(tomllib.loads(dated))


def test_a_profile_that_is_not_toml_is_still_a_clear_profile_error(tmp_path):
    """tomllib is imported only when a text has no copy; its decode error still becomes a
    ProfileError naming the file (tomldata.TOMLDecodeError is tomllib's)."""
    import pytest

    from monitor.profile.profile import ProfileError, load_profile

    assert tomldata.TOMLDecodeError is tomllib.TOMLDecodeError
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [", "utf-8")
    with pytest.raises(ProfileError, match="bad.toml: not valid TOML"):
        load_profile(bad)
