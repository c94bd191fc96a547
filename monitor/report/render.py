"""Render the view model to PDF: jinja2 (autoescape on) -> HTML -> WeasyPrint -> pikepdf merge.

The report is cut into parts (cover, overview, blocks of subjects, findings listing) that are
laid out independently, in parallel when `jobs` > 1, and merged. The cut depends only on the
study, never on `jobs`, so the PDF is the same whatever the number of processes. A block of
subjects is bounded by its estimated page count (PART_PAGES), so the memory of the process that
lays it out is bounded whatever the size of the study (WeasyPrint keeps every box of a
document until it is written: ~4 MB a page). Each part is written to a temporary file and its
document freed before the next; the parent keeps only the file names, page counts and
bookmarks. What spans parts is added after the merge: "page x of y" (stamped on each page), the
bookmarks, and the table of contents (the cover is laid out last, when every part's page count
is known).

Merging uses pikepdf (qpdf), reading the parts from their files (qpdf loads objects on demand
and copies stream data when it writes) and writing the merged PDF straight to its file.

Security: the only URLs WeasyPrint may load are `asset:NAME` for our bundled stylesheet and the
charts of this render; AssetFetcher refuses every other URL (file:, http(s):, data:, ...) and
records each request. Cell text reaches the HTML only through autoescaped jinja2 expressions.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache

import jinja2

from . import svg_text, ua_sheet
from .merge import merge as _merge
from .workers import POOL_MIN_COST, SUBJECT_COST

TEMPLATE = "report.html.j2"
BUNDLED = {"report.css": "text/css"}        # asset name -> content type; nothing else is served
CHUNK_MAX = 12                              # subjects per part at most
PART_PAGES = 32                             # estimated pages per block of subjects at most


# ------------------------------------------------------------------------------ assets

def templates_dir():
    """The templates folder (top-level templates/, shipped inside the package as monitor/templates)."""
    from ..assets import templates_dir as _dir

    return _dir()


@lru_cache(maxsize=None)
def bundled_asset(name: str) -> bytes:
    if name not in BUNDLED:
        raise KeyError(name)
    return templates_dir().joinpath(name).read_bytes()


def __getattr__(name):
    """AssetFetcher lives in fetcher.py (it subclasses WeasyPrint's URLFetcher): the process that
    only hands the parts out to workers never imports WeasyPrint."""
    if name == "AssetFetcher":
        from .fetcher import AssetFetcher

        return AssetFetcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """jinja2 with autoescape on for every template (the name ends in .j2, so extension-based
    selection would leave it off) and undefined names as errors."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _load_template(name: str):
    if "/" in name or "\\" in name or not name.endswith(".j2"):
        return None
    path = templates_dir().joinpath(name)
    if not path.is_file():
        return None
    return path.read_text("utf-8"), None, lambda: True


# ------------------------------------------------------------------------------ parts

@dataclass
class Part:
    kind: str                  # cover | overview | subjects | findings | single
    view: object               # ReportView (trimmed to what the part shows)
    cost: float = 1.0          # estimate used to schedule the biggest parts first
    extra: dict = field(default_factory=dict)


@dataclass
class PartResult:
    pdf: str                   # path of the part's PDF file (a temporary file of this render)
    pages: int
    bookmarks: list            # [(level, label, page index in the part)]
    timings: dict              # charts, template, layout, write (seconds)
    requests: list
    refused: list
    log: list
    peak_mib: float = 0.0      # peak RSS of the process that laid the part out


@dataclass
class ReportStats:
    path: str = ""
    pages: int = 0
    parts: int = 0
    jobs: int = 1
    timings: dict = field(default_factory=dict)   # summed over parts: view, charts, template, layout, write, merge
    wall: float = 0.0
    requests: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    log: list = field(default_factory=list)

    @property
    def ours(self) -> float:
        t = self.timings
        return sum(t.get(k, 0.0) for k in ("view", "charts", "template", "merge"))

    @property
    def weasyprint(self) -> float:
        t = self.timings
        return t.get("layout", 0.0) + t.get("write", 0.0)

    @property
    def cpu_ours(self) -> float:
        """CPU seconds (all processes) of our stages: less sensitive than wall time to other
        processes on the machine."""
        t = self.timings
        return sum(t.get(f"cpu_{k}", 0.0) for k in ("view", "charts", "template", "merge"))

    @property
    def cpu_weasyprint(self) -> float:
        t = self.timings
        return t.get("cpu_layout", 0.0) + t.get("cpu_write", 0.0)


class _LogCollector(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(f"{record.levelname}: {record.getMessage()}"[:300])


def render_html(part: Part, charts: dict | None = None, toc: list | None = None) -> str:
    return environment().get_template(TEMPLATE).render(
        part=part.kind, v=part.view, meta=part.view.meta, extra=part.extra, toc=toc or [],
        chart_keys=set(charts or ()))


def render_part(part: Part, path: str) -> PartResult:
    """Lay out one part and write it to the PDF file `path` (runs in a worker process when
    jobs > 1). The laid-out document is dropped before returning: only the file remains."""
    import weasyprint

    from . import charts as charts_mod
    from .fetcher import AssetFetcher

    t0, c0 = time.perf_counter(), time.process_time()
    svg_text.install()
    to_draw = []
    if part.kind in ("subjects", "single"):
        for s in part.view.subjects:
            to_draw += s.charts
    if part.kind == "overview":
        to_draw += part.view.swimmer
    drawn = charts_mod.draw_all(to_draw)
    t1, c1 = time.perf_counter(), time.process_time()
    html = render_html(part, drawn, part.extra.get("toc"))
    t2, c2 = time.perf_counter(), time.process_time()
    fetcher = AssetFetcher(drawn)
    logger = logging.getLogger("weasyprint")
    collector = _LogCollector()
    logger.addHandler(collector)
    old_propagate = logger.propagate
    logger.propagate = False
    try:
        # the user-agent sheet without the pseudo-element rules the report never uses (ua_sheet.py)
        trimmed = ua_sheet.usable(html, bundled_asset("report.css").decode())
        doc = (ua_sheet.html_class() if trimmed else weasyprint.HTML)(string=html, url_fetcher=fetcher).render()
        del html, drawn
        t3, c3 = time.perf_counter(), time.process_time()
        doc.write_pdf(target=path)
        t4, c4 = time.perf_counter(), time.process_time()
    finally:
        logger.removeHandler(collector)
        logger.propagate = old_propagate
    marks = []

    def walk(items, level):
        for label, target, children, _state in items:
            marks.append((level, label, target[0]))
            walk(children, level + 1)

    walk(doc.make_bookmark_tree(), 1)
    pages = len(doc.pages)
    del doc
    import resource

    return PartResult(path, pages, marks,
                      {"charts": t1 - t0, "template": t2 - t1, "layout": t3 - t2, "write": t4 - t3,
                       "cpu_charts": c1 - c0, "cpu_template": c2 - c1, "cpu_layout": c3 - c2, "cpu_write": c4 - c3},
                      fetcher.requests, fetcher.refused, collector.records,
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def plan_parts(view) -> list:
    """Cut the report into parts. Depends only on the view (never on the number of jobs)."""
    rep = dataclasses.replace
    scope = view.meta.scope
    if scope != "study":
        return [Part("single", view, 1.0)]
    # the overview's table reads each subject's header fields only: its worker is not sent the
    # cycles, charts and adverse events of every subject (that grew with the study)
    rows = [rep(s, cycles=[], charts=[], aes=[], subject_findings=[], other_findings=[], responses=[])
            for s in view.subjects_table]
    # costs in one unit (~0.25 CPU-s: a subject with 8 cycles is 3.1), measured on report_200x8:
    # the overview's table and swimmer 11 CPU-s for 200 subjects, the listing 5.6 CPU-s for 485
    # findings (estimated too low before, they were laid out last, one worker idle meanwhile)
    parts = [Part("overview", rep(view, subjects=[], subjects_table=rows), 2.0 + 0.21 * len(rows))]
    for chunk in subject_chunks(view.subjects):
        cost = sum(SUBJECT_COST + 0.2 * len(s.cycles) for s in chunk)
        parts.append(Part("subjects", rep(view, subjects=chunk, subjects_table=[], swimmer=[],
                                          findings_groups=[], severe_aes=[]), cost))
    parts.append(Part("findings", rep(view, subjects=[], subjects_table=[], swimmer=[], severe_aes=[]),
                      0.5 + 0.045 * view.n_findings))
    return parts


def estimated_pages(s) -> float:
    """Pages a subject's section takes, roughly (A4 landscape): the header with its charts
    and adverse events about one page, then about seven cycle blocks a page."""
    return 1.2 + 0.15 * len(s.cycles) + 0.03 * len(s.aes) + 0.05 * len(s.other_findings)


def subject_chunks(subs: list) -> list:
    """The blocks of subjects laid out as one document each, in order: at most CHUNK_MAX
    subjects, a quarter of the study (so that small studies still make a few parts to share
    out), and PART_PAGES estimated pages (a subject over that on its own is a block alone).
    Every subject's section starts on a new page, so where the cuts fall never changes the
    pages."""
    size = max(1, min(CHUNK_MAX, math.ceil(len(subs) / 4))) if subs else 1
    chunks, cur, pages = [], [], 0.0
    for s in subs:
        p = estimated_pages(s)
        if cur and (len(cur) >= size or pages + p > PART_PAGES):
            chunks.append(cur)
            cur, pages = [], 0.0
        cur.append(s)
        pages += p
    if cur:
        chunks.append(cur)
    return chunks


def part_label(part: Part) -> str:
    """What a part lays out, for the progress bar: `subjects 001-012`, `study overview` ..."""
    subs = [s.id for s in getattr(part.view, "subjects", None) or ()]
    if part.kind == "subjects" and subs:
        return f"subject {subs[0]}" if len(subs) == 1 else f"subjects {subs[0]}-{subs[-1]}"
    if part.kind == "single" and subs:
        return f"subject {subs[0]}"
    return {"overview": "study overview", "findings": "findings listing", "cover": "contents"}.get(part.kind, part.kind)


def part_path(folder: str, i: int) -> str:
    return os.path.join(folder, f"part-{i:04d}.pdf")


def _sequential(parts: list, folder: str, progress=None) -> list:
    out = []
    for i, p in enumerate(parts):
        if progress is not None:
            progress(0.0, f"laying out {part_label(p)}")
        out.append(render_part(p, part_path(folder, i)))
        if progress is not None:
            progress(p.cost, None)
    return out


def _pooled(parts: list, jobs: int, force_pool: bool = False) -> bool:
    """Whether the parts are laid out in worker processes (then the cover and the merge are
    done in one too)."""
    small = sum(p.cost for p in parts) < POOL_MIN_COST
    return not (jobs <= 1 or len(parts) <= 1 or (small and not force_pool))


def _run_parts(parts: list, folder: str, jobs: int, force_pool: bool = False, progress=None) -> list:
    """Lay out the parts into PDF files in `folder` (in worker processes when it pays).
    `progress(cost_done, text)` is called as parts start (cost 0) and finish (their cost)."""
    if not _pooled(parts, jobs, force_pool):
        return _sequential(parts, folder, progress)
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from .workers import context

    ctx = context()
    order = sorted(range(len(parts)), key=lambda i: -parts[i].cost)   # biggest first
    results = [None] * len(parts)
    try:
        from concurrent.futures import as_completed

        with ProcessPoolExecutor(max_workers=min(jobs, len(parts)), mp_context=ctx) as pool:
            futures = {pool.submit(render_part, parts[i], part_path(folder, i)): i for i in order}
            if progress is not None:
                progress(0.0, "laying out " + ", ".join(part_label(parts[i]) for i in order[:jobs]))
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if progress is not None:
                    progress(parts[i].cost, f"laid out {part_label(parts[i])}")
    except (BrokenProcessPool, OSError):   # no worker processes here (sandbox, no /dev/shm): lay out in turn
        return _sequential(parts, folder, progress)
    return results


# ------------------------------------------------------------------------------ the whole PDF

def write_report(view, path, jobs: int = 1, force_pool: bool = False, progress=None) -> ReportStats:
    """Render `view` to the PDF at `path` (written atomically). Returns timings and the
    fetcher's record of requested and refused URLs. `progress(total_cost)` is called once with
    the cost of the whole layout and returns the per-part callback (see _run_parts)."""
    from ..io import atomic_path

    import tempfile

    t0 = time.perf_counter()
    stats = ReportStats(path=str(path), jobs=jobs)
    parts = plan_parts(view)
    with tempfile.TemporaryDirectory(prefix="monitor-report-") as folder:
        pooled = _pooled(parts, jobs, force_pool)
        results = _run_parts(parts, folder, jobs, force_pool,
                             progress(sum(p.cost for p in parts)) if progress is not None else None)
        with atomic_path(path) as tmp:
            fin = (_in_child if pooled else _finish)(finish_view(view), results, folder, str(tmp))
        cover, pages, merge_wall, merge_cpu, finish_peak = fin
        if cover is not None:
            parts, results = [Part("cover", None, 0.5)] + parts, [cover] + results
        stats.timings["merge"] = merge_wall
        stats.timings["cpu_merge"] = merge_cpu
        stats.timings["peak_mib"] = finish_peak
    for r in results:
        for k, v in r.timings.items():
            stats.timings[k] = stats.timings.get(k, 0.0) + v
        stats.requests += r.requests
        stats.refused += r.refused
        stats.log += r.log
        stats.timings["peak_mib"] = max(stats.timings.get("peak_mib", 0.0), r.peak_mib)
    stats.pages, stats.parts = pages, len(parts)
    stats.wall = time.perf_counter() - t0
    return stats


def finish_view(view):
    """What the cover and the merge read (meta, counts, finding totals): the subjects' sections,
    the overview's table and the listing are left out, so the process that finishes is sent
    little whatever the size of the study."""
    if view.meta.scope != "study":
        return dataclasses.replace(view, subjects=[], subjects_table=[], swimmer=[], severe_aes=[],
                                   findings_groups=[], cycle=None, cycle_subject=None)
    return dataclasses.replace(view, subjects=[], subjects_table=[], swimmer=[], severe_aes=[],
                               findings_groups=[])


def _finish(view, results, folder, target):
    """Lay out the cover (a study report) and merge every part into `target`. Returns (the
    cover's PartResult or None, pages, merge wall and CPU seconds, peak RSS MiB of this process)."""
    import resource

    cover = None
    if view.meta.scope == "study":
        cover, results = _cover(view, results, folder)
    tm, cm = time.perf_counter(), time.process_time()
    pages = _merge(view, results, target)
    return (cover, pages, time.perf_counter() - tm, time.process_time() - cm,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def _in_child(view, results, folder, target):
    """_finish in a worker process: the cover's layout and qpdf's merge of every page then never
    add to the memory of the main process (which holds the checked workbook)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from .workers import context

    ctx = context()
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(_finish, view, results, folder, target).result()
    except (BrokenProcessPool, OSError):
        return _finish(view, results, folder, target)


def _cover(view, results, folder):
    """Lay out the cover with its table of contents once the other parts' page counts are
    known; the contents' own length does not depend on the numbers, so this settles in at most
    two passes (the first guess is made from the number of entries: the contents are two
    columns, about 48 entries beside the cover's facts on its first page and 80 a page after
    that; a wrong guess costs one more layout of the cover). Returns the cover's result and the
    results with it first."""
    entries = sum(1 for res in results for level, _, _ in res.bookmarks if level == 1)
    guess = 1 + math.ceil(max(0, entries - 48) / 80)
    spent: dict = {}
    for _ in range(4):
        offset = guess
        toc = []
        for res in results:
            for level, label, page in res.bookmarks:
                if level == 1:
                    toc.append((label, offset + page + 1))
            offset += res.pages
        cover = Part("cover", view, 0.5, {"toc": toc})
        res = render_part(cover, os.path.join(folder, "cover.pdf"))
        for k, v in res.timings.items():
            spent[k] = spent.get(k, 0.0) + v
        if res.pages == guess:
            break
        guess = res.pages
    res.timings = spent
    return res, [res] + results


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def render_report(result, out, previous_ids=None, now=None, profile=None, jobs: int = 1):
    """The batch's entry point (monitor.batch.outputs discovers it by parameter names): write
    the whole-study PDF of a check Result to `out` and return its path. `previous_ids`: finding
    ids of the workbook's previous run (empty or None: no history, nothing marked NEW)."""
    from datetime import datetime, timezone
    from pathlib import Path

    from .. import __version__
    from ..profile.profile import ProfileError, load_profile
    from . import make_report

    if profile is None:
        try:
            profile = load_profile(result.profile)
        except ProfileError:
            profile = load_profile()
    when = now or datetime.now(timezone.utc).replace(microsecond=0)
    make_report(result, profile, out, now=when, tool_version=__version__,
                previous=set(previous_ids) if previous_ids else None, jobs=jobs)
    return Path(out)
