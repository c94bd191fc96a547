"""Which files of an inbox are workbooks to check, and where their outputs go.

Checked: `*.xlsx` and `*.xlsm` (any case) in the inbox and its sub-folders, regular files only.
Ignored, and listed in batch.json with the reason when the name looks like a workbook:
  - Excel's lock / owner files `~$name.xlsx` and other names starting with `~`;
  - hidden files and folders (`.name`): LibreOffice locks `.~lock.name.xlsx#`, our own and other
    programs' temporary files, `.git`, `.Trash` ...;
  - symbolic links whose target is outside the inbox (a link inside it is followed), and links
    to folders (never followed, so no loops);
  - anything that is not a regular file (a FIFO named `x.xlsx` would block a reader forever).
Every other file is listed too, with the reason it is not checked (issue 14): a legacy `.xls`
(save it as .xlsx), other spreadsheets and documents (not a workbook the monitor reads), temporary
files (`x.xlsx.tmp`, `x.xlsx.part`, `~WRL0001.tmp`) and hidden files. Files inside hidden folders
(`.git`) are not walked.

Output folders are `OUT/<relative path without .xlsx>/`, each part sanitised so that nothing a
file or folder name contains (`..`, a leading `/`, NUL, control characters) can lead outside
OUT, and top-level names the batch uses itself (batch.json, monitor.db ...) are never taken.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SUFFIXES = (".xlsx", ".xlsm")
RESERVED = {"batch.json", "batch-summary.pdf", "monitor.db", "monitor.db-wal", "monitor.db-shm",
            "monitor.db-journal", ".monitor.lock", "monitor.db.backup"}
_BAD_CHARS = re.compile(r'[\x00-\x1f\\/:*?"<>|]')


@dataclass(frozen=True)
class Candidate:
    rel: str            # posix path relative to the inbox
    path: Path          # the path to read (inside the inbox)


@dataclass(frozen=True)
class Ignored:
    rel: str
    reason: str


def looks_like_workbook(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def ignore_reason(name: str) -> str | None:
    """Why a workbook-looking file name is not checked, or None to check it."""
    if name.startswith("~$"):
        return "Excel lock file (the workbook is open in Excel)"
    if name.startswith("~"):
        return "temporary file"
    if name.startswith("."):
        return "hidden or temporary file"
    return None


_OTHER_KINDS = {
    ".xls": "legacy Excel 97-2003 workbook (.xls): open it in Excel and save it as .xlsx to have it checked",
    ".xlsb": "binary Excel workbook (.xlsb): save it as .xlsx to have it checked",
    ".ods": "OpenDocument spreadsheet (.ods): save it as .xlsx to have it checked",
    ".csv": "CSV file, not a workbook: the monitor checks .xlsx workbooks",
    ".xltx": "Excel template (.xltx), not a workbook: save a copy as .xlsx",
}
_TEMP_SUFFIXES = (".tmp", ".part", ".crdownload", ".swp", ".bak")


def other_file_reason(name: str) -> str:
    """Why a file that does not look like a workbook is not checked (it is listed, not skipped
    silently)."""
    low = name.lower()
    if name.startswith("."):
        return "hidden or temporary file"
    if name.startswith("~") or low.endswith(_TEMP_SUFFIXES) or "#" in name:
        return "temporary file"
    for suffix, reason in _OTHER_KINDS.items():
        if low.endswith(suffix):
            return reason
    return "not a workbook (only .xlsx and .xlsm files are checked)"


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path` is `folder` or below it (both resolved)."""
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def classify(inbox_real: Path, path: Path) -> str | None:
    """None if `path` (inside the inbox) is a workbook to check, else the reason it is not."""
    reason = ignore_reason(path.name)
    if reason:
        return reason
    try:
        st = path.lstat()
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken symbolic link"
        if not is_inside(target, inbox_real):
            return "symbolic link to a file outside the inbox"
        try:
            st = target.stat()
        except OSError as e:
            return f"cannot be read ({e.strerror or e})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    return None


def discover(inbox: Path) -> tuple[list, list]:
    """(candidates, ignored), both sorted by relative path; the same on every run."""
    inbox_real = inbox.resolve()
    found, ignored = [], []
    for dirpath, dirnames, filenames in os.walk(inbox_real, followlinks=False):
        base = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            p = base / d
            if d.startswith("."):
                continue
            if p.is_symlink():
                ignored.append(Ignored(_rel(p, inbox_real) + "/", "symbolic link to a folder (not followed)"))
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            p = base / name
            rel = _rel(p, inbox_real)
            if not looks_like_workbook(name):
                ignored.append(Ignored(rel, other_file_reason(name)))
                continue
            reason = classify(inbox_real, p)
            if reason:
                ignored.append(Ignored(rel, reason))
            else:
                found.append(Candidate(rel, p))
    found.sort(key=lambda c: c.rel)
    ignored.sort(key=lambda i: i.rel)
    return found, ignored


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def out_rel(rel: str) -> str:
    """The output folder of a workbook, relative to OUT, whatever its name holds.

    `site01/Visit 3.xlsx` -> `site01/Visit 3`; `a.xlsm` -> `a.xlsm` (only .xlsx is dropped, so
    a.xlsx and a.xlsm never share a folder); `../x.xlsx` -> `_/x`; `/etc/x.xlsx` -> `etc/x`.
    """
    parts = [p for p in PurePosixPath(rel.replace("\\", "/")).parts if p not in ("/", "")]
    if parts and parts[-1].lower().endswith(".xlsx") and len(parts[-1]) > 5:
        parts[-1] = parts[-1][:-5]
    clean = []
    for p in parts:
        p = _BAD_CHARS.sub("_", p).strip()
        if p in ("", ".", ".."):
            p = "_"
        elif p.startswith("."):
            p = "_" + p[1:]
        clean.append(p[:200])
    if not clean:
        clean = ["_"]
    if clean[0].casefold() in RESERVED:
        clean[0] += "_"
    return "/".join(clean)


def file_stem(rel: str) -> str:
    """The workbook's name for its output files (`<stem>-annotated.xlsx`): cleaned like a folder
    name and short enough that `-annotated.xlsx` still fits a file-name limit."""
    return out_rel(PurePosixPath(rel.replace("\\", "/")).name)[:150] or "workbook"


def safe_join(out: Path, rel_dir: str, inbox: Path | None = None) -> Path:
    """OUT/rel_dir, refused (ValueError) if it would resolve outside OUT or into the inbox."""
    out_real = out.resolve()
    target = (out_real / rel_dir).resolve()
    if target == out_real or not is_inside(target, out_real):
        raise ValueError(f"output folder {rel_dir!r} would be outside {out}")
    if inbox is not None and is_inside(target, inbox.resolve()):
        raise ValueError(f"output folder {rel_dir!r} would be inside the inbox")
    return target
