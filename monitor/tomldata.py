"""The package's TOML data files, read through precompiled JSON copies.

`tomllib` is pure Python: the bundled lab catalogue, CTCAE criteria, synonyms and seed profile
(~120 KB of TOML) take ~85 ms to parse, a tenth of a `monitor check` of a site workbook. Each
bundled TOML file therefore has a JSON copy of its parsed content in monitor/toml_json/, named
by the SHA-256 of the TOML text; `loads(text)` returns the copy when one has that text's hash
(json is C: ~1 ms for all of them) and parses the text with tomllib otherwise. A stale copy is
never used (an edited TOML file has another hash), it only costs speed, and
tests/test_tomldata.py fails until the copies are rewritten: `python -m monitor.tomldata`.
The copies hold exactly tomllib's result (types included: a TOML float stays a float); a data
file with a date or time value gets no copy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
FOLDER = PACKAGE / "toml_json"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def loads(text: str) -> dict:
    """tomllib.loads(text): from its precompiled copy when the package has one (same result)."""
    try:
        raw = (FOLDER / f"{text_key(text)}.json").read_text("utf-8")
    except OSError:
        import tomllib   # only here: importing it costs ~3 ms of every command

        return tomllib.loads(text)
    return json.loads(raw)["data"]


def __getattr__(name: str):
    """`tomldata.TOMLDecodeError` (tomllib's), looked up only when an except clause needs it."""
    if name == "TOMLDecodeError":
        import tomllib

        return tomllib.TOMLDecodeError
    raise AttributeError(name)


def bundled_toml() -> list:
    """Every TOML data file of the package (relative paths, sorted)."""
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.toml")
                  if "__pycache__" not in p.parts)


def write_copies() -> list:
    """Rewrite monitor/toml_json/ from the bundled TOML files (and drop copies of old texts)."""
    import tomllib

    FOLDER.mkdir(exist_ok=True)
    keep = set()
    for rel in bundled_toml():
        text = (PACKAGE / rel).read_text("utf-8")
        try:
            body = json.dumps({"source": rel, "data": tomllib.loads(text)}, ensure_ascii=False, indent=1)
        except TypeError:   # a date or time value: no JSON form, this file is always parsed
            continue
        name = f"{text_key(text)}.json"
        (FOLDER / name).write_text(body + "\n", "utf-8")
        keep.add(name)
    for p in FOLDER.glob("*.json"):
        if p.name not in keep:
            p.unlink()
    return sorted(keep)


if __name__ == "__main__":
    from monitor import tomldata   # the imported module, not __main__

    print(f"wrote {len(tomldata.write_copies())} copies to {tomldata.FOLDER}")
