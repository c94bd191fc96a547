"""Join the report's parts into one PDF: pikepdf (qpdf) concatenates the parts' files, adds the
bookmarks, stamps "Page x of y" in the footer and writes the document's metadata. Moved out of
render.py (which lays the parts out) unchanged."""

from __future__ import annotations

import pikepdf


def merge(view, results, target) -> int:
    """Concatenate the parts' files with pikepdf (qpdf: ~10x faster than pypdf's object cloning
    on chart-heavy pages) into `target`, add bookmarks, page numbers and metadata. Returns the
    page count."""
    import weasyprint   # its version for the metadata (imported here: the main process never needs it)

    out = pikepdf.new()
    sources, offsets = [], []
    for res in results:
        src = pikepdf.open(res.pdf)
        sources.append(src)                    # kept open until the merged file is saved
        offsets.append(len(out.pages))
        out.pages.extend(src.pages)
    total = len(out.pages)
    with out.open_outline() as outline:
        parents = {}
        for res, off in zip(results, offsets):
            for level, label, page in res.bookmarks:
                item = pikepdf.OutlineItem(label, off + page)
                parent = parents.get(level - 1) if level > 1 else None
                (parent.children if parent is not None else outline.root).append(item)
                parents[level] = item
    font = out.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
        Encoding=pikepdf.Name.WinAnsiEncoding))
    for i, page in enumerate(out.pages):
        stamp_page_number(out, page, i + 1, total, font)
    meta = view.meta
    created = _pdf_date(meta.generated_iso)
    out.docinfo = out.make_indirect(pikepdf.Dictionary(
        Title=pikepdf.String(meta.title),
        Author=pikepdf.String(f"trial safety monitor {meta.tool_version}"),
        Subject=pikepdf.String(f"{meta.protocol}, site {meta.site}: workbook {meta.workbook} (SHA-256 {meta.sha256})"),
        Creator=pikepdf.String(f"trial safety monitor {meta.tool_version}"),
        Producer=pikepdf.String(f"WeasyPrint {weasyprint.__version__}, pikepdf {pikepdf.__version__}"),
        CreationDate=pikepdf.String(created), ModDate=pikepdf.String(created)))
    out.Root.Lang = pikepdf.String(meta.lang)
    out.Root.ViewerPreferences = pikepdf.Dictionary(DisplayDocTitle=True)
    out.Root.PageMode = pikepdf.Name.UseOutlines
    out.save(target, deterministic_id=True)
    out.close()
    for src in sources:
        src.close()
    return total


def _pdf_date(iso: str) -> str:
    # 2024-03-15T12:00:00+00:00 -> D:20240315120000+00'00'
    d, _, t = iso.partition("T")
    tz = ""
    for sign in ("+", "-"):
        if sign in t:
            t, _, tz = t.partition(sign)
            tz = f"{sign}{tz[:2]}'{tz[3:5]}'"
            break
    if t.endswith("Z"):
        t, tz = t[:-1], "Z"
    return "D:" + d.replace("-", "") + t.replace(":", "")[:6] + tz


# "Page x of y" is stamped after the merge, in the footer's right box that the parts leave empty:
# Helvetica (a standard PDF font, nothing to embed), 7 pt, right-aligned on the right margin and
# on the baseline of the provenance line. Laying out a page-number overlay with WeasyPrint cost
# 15 ms a page; this costs well under 1 ms.
PAGE_W, RIGHT_MM, BASELINE_PT, SIZE_PT = 841.89, 11.0, 23.0, 7.0
_HELV = {**{str(d): 556 for d in range(10)}, " ": 278, "P": 667, "a": 556, "g": 556, "e": 556, "o": 556, "f": 278}


def stamp_page_number(pdf, page, n: int, total: int, font):
    text = f"Page {n} of {total}"
    width = sum(_HELV.get(ch, 556) for ch in text) * SIZE_PT / 1000
    x = PAGE_W - RIGHT_MM * 72 / 25.4 - width
    if pikepdf.Name.Resources not in page.obj:
        page.obj.Resources = pikepdf.Dictionary()
    res = page.obj.Resources
    if pikepdf.Name.Font not in res:
        res.Font = pikepdf.Dictionary()
    res.Font.FPageNo = font
    # the page's own drawing may leave its transformation (WeasyPrint flips the y axis) in
    # force: wrap it in q ... Q so the number is drawn in default user space
    page.contents_add(pikepdf.Stream(pdf, b"q"), prepend=True)
    stamp = f"Q BT 0.13 g /FPageNo {SIZE_PT:g} Tf {x:.2f} {BASELINE_PT:g} Td ({text}) Tj ET".encode("ascii")
    page.contents_add(pikepdf.Stream(pdf, stamp), prepend=False)
