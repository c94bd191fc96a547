"""`monitor responses ANNOTATED.xlsx`: record the answers a site typed into the Response column of
an annotated copy's Findings sheet (status `answered`, with who and when in the audit trail).

The copy names its workbook and the history it was written from in two document properties
(`monitor workbook`, `monitor history`; monitor/workbook/annotate.py). The copy comes back from a
site, so it is read as untrusted input: the same size checks as any workbook, cells as text.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .workflow import WorkflowError


@dataclass
class Returned:
    workbook: str | None           # the history's name of the workbook
    store: str | None              # the history folder the copy was written from
    modified_by: str | None        # the copy's last author (Excel fills it in on save)
    answers: list = field(default_factory=list)   # [(finding id, response text, Sheet!row)]


def read_responses(path: Path, max_unpacked_mb: float = 200) -> Returned:
    """The Response cells of the copy's Findings sheet that hold text. Raises WorkbookError
    (unreadable, over a limit) or WorkflowError (not an annotated copy)."""
    import openpyxl

    from ..workbook.annotate import AUTHOR, COLUMNS, HEADER_ROW, STORE_PROPERTY, WORKBOOK_PROPERTY
    from ..workbook.reader import WorkbookError, open_container, take_snapshot

    snap = take_snapshot(path, max_unpacked_mb)
    open_container(snap, max_unpacked_mb).close()    # zip bombs, damaged parts: refused here
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            wb = openpyxl.load_workbook(io.BytesIO(snap.data), read_only=True, data_only=True)
    except Exception as e:   # openpyxl raises many types for damaged parts
        raise WorkbookError(f"{path}: cannot be opened ({type(e).__name__}: {e})") from None
    try:
        props = {p.name: getattr(p, "value", None) for p in wb.custom_doc_props.props}
        title = next((n for n in wb.sheetnames if n.lower().startswith("findings")), None)
        if title is None:
            raise WorkflowError(f"{path}: no Findings sheet: not an annotated copy written by `monitor annotate`")
        ws = wb[title]
        heads = [h for h, _ in COLUMNS]
        id_col, resp_col = heads.index("Finding ID"), heads.index("Response")
        header = next(ws.iter_rows(min_row=HEADER_ROW, max_row=HEADER_ROW, values_only=True), ())
        names = [str(v).strip() if v is not None else "" for v in header]
        if "Finding ID" not in names or "Response" not in names:
            raise WorkflowError(f"{path}: the {title} sheet has no 'Finding ID' and 'Response' columns in row "
                                f"{HEADER_ROW}; annotate the workbook again with this monitor")
        id_col, resp_col = names.index("Finding ID"), names.index("Response")
        answers = []
        for n, row in enumerate(ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True), start=HEADER_ROW + 1):
            if len(row) <= max(id_col, resp_col):
                continue
            fid, text = row[id_col], row[resp_col]
            if fid is None or text is None or not str(text).strip():
                continue
            answers.append((str(fid).strip().lower(), str(text).strip(), f"{title}!{n}"))
        by = wb.properties.lastModifiedBy
        return Returned(props.get(WORKBOOK_PROPERTY), props.get(STORE_PROPERTY),
                        by if by and by != AUTHOR else None, answers)
    finally:
        wb.close()
