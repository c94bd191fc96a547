"""An uploaded file, from the request to the inbox: the same refusals as `monitor check`, before
anything is stored.

    name ends in .xlsx (any case; .xls, .ods, .csv ... get the reason batch gives for them)
    -> copied from the request's spool file into a hidden temp file of INBOX/<site>/ (never
       checked by batch or watch: hidden), counting bytes: over the size limit -> 413
    -> the zip container opened as `check` opens it (monitor.workbook.container.open_container):
       empty, not a zip, legacy .xls / encrypted, over the unpacked limit (zip bombs), no workbook
       part -> refused with the same one line `check` prints, the temp file removed
    -> linked to INBOX/<site>/<safe stem>-<UTC time>.xlsx, never over an existing file.

Row, column and cell limits are checked by the check itself (in the worker), as for `check`.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from ..batch.files import is_inside, other_file_reason
from ..io import safe_name

CHUNK = 1 << 20


class Refused(Exception):
    """The upload is refused: `str(e)` is the one-line reason, `code` the HTTP status."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code


def display_name(filename: str | None) -> str:
    """The file's own name as the browser sent it (no folders), for messages and the stored name."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:200] or "upload.xlsx"


def stored_name(original: str, when: datetime, n: int = 1) -> str:
    """`<safe stem>-<UTC time>[-n].xlsx`: a plain name batch checks (not hidden, not `~`)."""
    stem = safe_name(original[:-5] if original.lower().endswith(".xlsx") else original)
    stem = stem.lstrip("~.") or "workbook"
    stem = stem.encode("utf-8")[:120].decode("utf-8", "ignore").strip(" .") or "workbook"
    return f"{stem}-{when.strftime('%Y%m%dT%H%M%SZ')}" + (f"-{n}" if n > 1 else "") + ".xlsx"


def site_folder(inbox_real: Path, site: str) -> Path:
    folder = inbox_real / site
    folder.mkdir(exist_ok=True)
    if folder.is_symlink() or not is_inside(folder.resolve(), inbox_real):
        raise Refused(f"{site}: the site's inbox folder is not a plain folder of the inbox", 500)
    return folder


def save_upload(inbox_real: Path, site: str, src, original: str, max_unpacked_mb: float) -> str:
    """Store the upload (`src`: a binary file object) in the site's inbox folder; returns its path
    relative to the inbox. Raises Refused."""
    from ..workbook.container import WorkbookError, open_container
    from ..workbook.snapshot import Snapshot

    if not original.lower().endswith(".xlsx"):
        reason = other_file_reason(original)
        if original.lower().endswith(".xlsm") or reason.startswith(("not a workbook", "temporary", "hidden")):
            reason = "only .xlsx workbooks are accepted (save it in Excel as .xlsx)"
        raise Refused(f"{original}: {reason}")
    limit = Snapshot.limit_for(max_unpacked_mb)
    folder = site_folder(inbox_real, site)
    tmp = folder / f".upload-{secrets.token_hex(8)}.tmp"
    try:
        size = 0
        with open(tmp, "xb") as fh:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Refused(f"{original}: the file is over the upload limit of {limit / 1048576:.1f} MB "
                                  f"(set by --max-unpacked-mb {max_unpacked_mb:g}: an .xlsx unpacks to about its "
                                  "own size or more); refused", 413)
                fh.write(chunk)
        snap = Snapshot.from_bytes(original, tmp.read_bytes())
        try:
            open_container(snap, max_unpacked_mb).close()
        except WorkbookError as e:
            raise Refused(str(e), 413 if "over the limit" in str(e) or "more than the limit" in str(e)
                          else 400) from None
        when = datetime.now(timezone.utc)
        for n in range(1, 1000):
            final = folder / stored_name(original, when, n)
            try:
                os.link(tmp, final)          # fails when the name is taken: never overwrites
            except FileExistsError:
                continue
            except OSError:                  # no hard links here: exclusive create instead
                try:
                    with open(final, "xb") as out:
                        out.write(snap.data)
                except FileExistsError:
                    continue
            return final.relative_to(inbox_real).as_posix()
        raise Refused(f"{original}: too many uploads of this name this second; try again", 503)
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
