"""File plumbing: atomic writes, formula-safe cells, hashing."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
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
    """An output would be written over an input workbook, or over a file the monitor did not
    write (exit code 2)."""


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


# ---------------------------------------------------------------- outputs the monitor wrote itself
#
# A command run from the command line never replaces a file it did not write (unless --force):
# `monitor template site07.xlsx` over a filled workbook, or `annotate a.xlsx --out b.xlsx` over
# another workbook, is refused. The monitor recognises its own outputs by a mark they carry:
#   .xlsx   the custom document property OUTPUT_PROPERTY (annotated copy, template); a template
#           is only replaced while it is still empty. Copies written before the property existed
#           are known by `lastModifiedBy = monitor` and a "Monitor findings" sheet.
#   .json   a top-level object with "tool_version" near its start (findings, batch, changes)
#   .csv    the findings header, or an export table (first column `row`)
#   .pdf    the document information Creator "trial safety monitor ..."
#   .parquet the key-value metadata GENERATOR_KEY
# The library itself does not guard (tests and the sample generator rewrite their files); the
# command line turns the guard on with `guard_outputs(force)`.

OUTPUT_PROPERTY = "monitor-output"          # xlsx custom property: "annotated copy" | "template" | ...
GENERATOR_KEY = "generator"                 # parquet metadata key
GENERATOR = "trial safety monitor"
_GUARD = {"on": False, "force": False}


@contextmanager
def guard_outputs(force: bool = False):
    """While in this block, writes through this module refuse to replace an existing file that
    is not one of the monitor's own outputs, unless `force`."""
    old = dict(_GUARD)
    _GUARD.update(on=True, force=bool(force))
    try:
        yield
    finally:
        _GUARD.update(old)


def _xlsx_mark(path: Path) -> str | None:
    """The OUTPUT_PROPERTY of an .xlsx, "legacy" for an annotated copy written before the
    property existed, or None (not the monitor's)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "docProps/custom.xml" in names:
                xml = zf.read("docProps/custom.xml")[:200_000].decode("utf-8", "replace")
                m = re.search(r'name="' + OUTPUT_PROPERTY + r'"[^>]*>\s*<vt:lpwstr[^>]*>([^<]*)<', xml)
                if m:
                    return m.group(1)
            core = zf.read("docProps/core.xml")[:20_000] if "docProps/core.xml" in names else b""
            shared = zf.read("xl/sharedStrings.xml")[:200_000] if "xl/sharedStrings.xml" in names else b""
            if b"<cp:lastModifiedBy>monitor</cp:lastModifiedBy>" in core and b"Monitor findings" in shared:
                return "legacy"
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError, ValueError):
        return None
    return None


def _template_is_empty(path: Path) -> bool:
    """True while a template holds no data: no value under the header of any sheet, and on the
    Study sheet nothing but the prefilled Profile."""
    import warnings

    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for ws in wb.worksheets:
                if ws.sheet_state != "visible" or ws.title == "Instructions":
                    continue
                if ws.title == "Study":   # Field | Value rows: only the prefilled Profile
                    values = [r[1] for r in ws.iter_rows(min_row=2, max_col=2, values_only=True)
                              if len(r) > 1 and r[1] not in (None, "")]
                    if len(values) > 1:
                        return False
                    continue
                for row in ws.iter_rows(min_row=2, values_only=True):
                    if any(v not in (None, "") for v in row):
                        return False
        finally:
            wb.close()
    except Exception:
        return False
    return True


def own_output(path: str | os.PathLike) -> bool:
    """True if `path` is an output the monitor wrote (see the table above), so a re-run may
    replace it; False for anything else, including a file it cannot read."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            mark = _xlsx_mark(path)
            if mark == "template":
                return _template_is_empty(path)
            return mark in ("annotated copy", "legacy")
        if suffix == ".json":
            with open(path, "rb") as fh:
                head = fh.read(4096)
            return head.lstrip().startswith(b"{") and b'"tool_version"' in head
        if suffix == ".csv":
            with open(path, "rb") as fh:
                first = fh.readline(4096).rstrip(b"\r\n")
            from .findings import FINDING_FIELDS

            return first == ",".join(FINDING_FIELDS).encode() or first == b"row" or first.startswith(b"row,")
        if suffix == ".pdf":
            import pikepdf

            with pikepdf.open(path) as pdf:
                return str(pdf.docinfo.get("/Creator", "")).startswith(GENERATOR)
        if suffix == ".parquet":
            import polars as pl

            return pl.read_parquet_metadata(path).get(GENERATOR_KEY) == GENERATOR
    except Exception:
        return False
    return False


def _refuse_foreign(path: Path) -> None:
    if not _GUARD["on"] or _GUARD["force"]:
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    import stat as _stat

    if not _stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return
    if not own_output(path):
        raise OutputError(f"{path}: exists and is not a file the monitor wrote (or it now holds data); "
                          "refusing to replace it (use --force to replace it)")


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:
        old = os.umask(0o022)
        os.umask(old)
    return old


def _open_mode(fd: int) -> None:
    """mkstemp creates 0600; an output gets the mode any new file gets (0666 less the umask)."""
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except (OSError, AttributeError):  # pragma: no cover - platforms without fchmod
        pass


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
    _refuse_foreign(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    _open_mode(fd)
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
        _refuse_foreign(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        _open_mode(fd)
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
