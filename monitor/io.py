"""File plumbing: atomic writes, formula-safe cells, hashing."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Text that a spreadsheet will show as text, never run as a formula (OWASP CSV injection).

    A string starting with = + - @ tab or CR gets a leading apostrophe. Numbers pass
    through untouched, so a negative number stays a number.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
MAX_NAME_BYTES = 120


def safe_name(text: str, fallback: str = "workbook") -> str:
    """One file or folder name made from untrusted text (a workbook's stem, a sheet name): it
    cannot leave its folder or be a device on any system. Separators and characters Windows
    forbids become `_`; `.`/`..`, leading and trailing dots and spaces go; a reserved device
    name (CON, NUL, COM1 ...) gets a leading `_`; at most MAX_NAME_BYTES of UTF-8. Ordinary
    names (`demo_study`, `Site 01 - week 3`, CJK) come back unchanged."""
    s = _UNSAFE_CHARS.sub("_", str(text)).strip(" .")
    s = s.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").strip(" .")
    if s.split(".")[0].strip().upper() in _RESERVED:
        s = "_" + s
    return s or fallback


class OutputError(Exception):
    """An output would be written over an input workbook (exit code 2)."""


_INPUTS: dict = {}   # (device, inode) of input workbooks being processed -> their path


@contextmanager
def protect_input(path):
    """While in this block, every write through this module refuses to replace `path` (or a
    hard or symbolic link to it): an input workbook is never written, whatever --out says."""
    try:
        st = os.stat(path)
    except OSError:
        yield
        return
    key = (st.st_dev, st.st_ino)
    had = key in _INPUTS
    _INPUTS[key] = path
    try:
        yield
    finally:
        if not had:
            _INPUTS.pop(key, None)


def _refuse_inputs(path: Path) -> None:
    if not _INPUTS:
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    if (st.st_dev, st.st_ino) in _INPUTS:
        raise OutputError(f"{path}: is the input workbook; refusing to write over it (choose another --out)")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write to a temp file beside the target, then rename over it: never a half file."""
    path = Path(path)
    _refuse_inputs(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def quiet_zipfile_del() -> None:
    """Keep `Exception ignored in ZipFile.__del__` tracebacks off stderr.

    When writing a workbook fails midway (disk full, a folder made read-only), openpyxl's zip
    archive is left open and Python closes it at garbage collection, printing a traceback to
    stderr that nobody can act on (the failure itself is reported as one line). Only that case is
    silenced; every other unraisable exception still goes to the previous hook."""
    import sys

    previous = sys.unraisablehook
    if getattr(previous, "_monitor_quiet_zip", False):
        return

    def hook(unraisable):
        obj = unraisable.object
        name = getattr(obj, "__qualname__", "") or type(obj).__qualname__
        if "ZipFile" in name or "ZipFile" in str(getattr(unraisable, "err_msg", "") or ""):
            return
        previous(unraisable)

    hook._monitor_quiet_zip = True
    sys.unraisablehook = hook


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


class atomic_path:
    """Context manager giving a temp path to write to; renamed onto `path` on success.

    For libraries (openpyxl, polars, WeasyPrint) that want to write a file themselves.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __enter__(self) -> Path:
        _refuse_inputs(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        elif self.tmp.exists():
            self.tmp.unlink()
        return False


def safe_text_columns(df):
    """The polars form of safe_cell for every text column of a frame (CSV/XLSX exports)."""
    import polars as pl

    exprs = []
    for name, dtype in df.schema.items():
        if dtype == pl.String:
            c = pl.col(name)
            exprs.append(pl.when(c.str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + c).otherwise(c).alias(name))
    return df.with_columns(exprs) if exprs else df
