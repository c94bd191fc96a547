"""The package's reference data as its loaders build it, precompiled: the CTCAE v5.0 terms, the
lab catalogue, the grading criteria, every bundled profile, the table of known unit spellings
(labs/units.py), and the typed parse's date and number templates (polars expressions:
workbook/parse.py stage_templates).

Built from their files, they take ~30-45 ms of every command (837 terms, ~100 lab tests with
their unit spellings, the criteria validated against both, the seed profile's safety rules
resolved against the terms): ~5% of a `monitor check` of a site workbook. From the copy, ~20 ms
(~7 of them unpickling, the rest the key and finding the bundled profiles).

`python -m monitor.refcache` (run by scripts/setup.sh, and by the benchmarks before they measure)
writes them to monitor/_refcache/<key>.pickle. The key hashes the Python and polars versions and
every code and data file of the package (path, size and modification time), so a file edited
since (or another polars) is a different key: the copy is not used (and the loaders build from
the files, as without it) until it is written again. A missing, stale or unreadable copy only
costs speed, never a result: `get` then calls the loader's own build. The copy is ours, in our
own package folder (a pickle runs code when loaded: it is never read from anywhere else), and
holds no subject data.

A profile is stored as its own pickle inside the copy and unpickled on each `load_profile`, so
every call gets a fresh Profile, as when it is parsed; the terms, catalogue and criteria are one
object per process, as their lru_cache'd loaders always returned. A date or number template is
its own pickle too, unpickled once per process when first used (a read uses two to four of the
eight).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from contextlib import contextmanager
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
FOLDER = PACKAGE / "_refcache"
SUFFIXES = (".py", ".toml", ".csv", ".json")

_loaded: dict | None = None


def key(root: Path = PACKAGE) -> str:
    """SHA-256 (first 32 hex digits) of the Python and polars versions (the copy holds polars
    frames and expressions) and of each code and data file under `root` (relative path, size,
    modification time): any edit, added or removed file, or another polars changes it. Walked
    with os.scandir (no symbolic link to a folder followed, as os.walk): ~0.3 ms, os.walk and
    os.path.relpath took ~0.8 of every command."""
    import polars

    h = hashlib.sha256(f"{sys.version}\0{polars.__version__}".encode())
    rows, folders = [], [(str(root), "")]
    while folders:
        folder, rel = folders.pop()
        with os.scandir(folder) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in ("__pycache__", FOLDER.name):
                        folders.append((e.path, f"{rel}{e.name}{os.sep}"))
                elif e.name.endswith(SUFFIXES):
                    st = e.stat()
                    rows.append(f"{rel}{e.name}\0{st.st_size}\0{st.st_mtime_ns}")
    for r in sorted(rows):
        h.update(r.encode("utf-8", "surrogateescape") + b"\n")
    return h.hexdigest()[:32]


def _load() -> dict:
    try:
        with open(FOLDER / f"{key()}.pickle", "rb") as fh:
            data = pickle.load(fh)
        return data if isinstance(data, dict) else {}
    except Exception:   # none yet, stale, damaged, or written by another version of a class: build
        return {}


def get(name: str, build):
    """The precompiled `name` when the package has a current copy of it, else `build()`."""
    global _loaded
    if _loaded is None:
        _loaded = _load()
    found = _loaded.get(name)
    if found is None:
        return build()
    if not isinstance(found, bytes):
        return found
    try:
        return pickle.loads(found)
    except Exception:   # a copy that no longer loads only costs speed
        return build()


@contextmanager
def bypassed():
    """Meanwhile every `get` builds from the files (for a caller that records what the build
    does, such as the unit table's list of spellings: monitor.labs.units.table_texts)."""
    global _loaded
    saved, _loaded = _loaded, {}
    try:
        yield
    finally:
        _loaded = saved


def build_all() -> dict:
    """Every object the copy holds, built from the files (never from a copy)."""
    from .ctcae.criteria import _build_criteria
    from .ctcae.terms import _build_terms
    from .labs.catalogue import _build_catalogue
    from .profile.profile import _build_bundled, bundled_profiles
    from .labs.units import read_known
    from .workbook.parse import stage_templates

    terms, catalogue, criteria = _build_terms(), _build_catalogue(), _build_criteria()
    catalogue.names_frame()   # built now, kept in the copy: the spelling suggestions' letter counts
    data = {"terms": terms, "catalogue": catalogue, "criteria": criteria}
    for name in sorted(bundled_profiles()):
        data[f"profile:{name}"] = pickle.dumps(_build_bundled(name), protocol=pickle.HIGHEST_PROTOCOL)
    for name, build in stage_templates().items():   # the typed parse's date and number stages
        data[name] = pickle.dumps(build(), protocol=pickle.HIGHEST_PROTOCOL)
    data["units_known"] = read_known()                # pint's readings of the known unit spellings
    return data


def write(folder: Path = FOLDER) -> Path:
    """Write the copy for the package as it is now (atomically), and remove older copies."""
    k = key()
    folder.mkdir(exist_ok=True)
    path = folder / f"{k}.pickle"
    tmp = folder / f".{k}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(build_all(), fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    for old in folder.glob("*.pickle"):
        if old != path:
            old.unlink(missing_ok=True)
    global _loaded
    _loaded = None   # building looked for a copy (none yet): look again at the next get
    return path


if __name__ == "__main__":
    from monitor import refcache   # the imported module, not __main__

    print(f"monitor: reference data precompiled to {refcache.write()}")
