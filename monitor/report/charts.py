"""Charts as SVG text, drawn with matplotlib from the plain series of the view model.

Lean on purpose: WeasyPrint draws every SVG node, so the charts keep few nodes (no minor ticks,
plain tick labels instead of mathtext, one path for all dose ticks), and svg_lean.lean() turns
matplotlib's per-marker `<use>` nodes and id-only groups into a few paths (same picture, about
a third of the nodes, half the drawing time). Colour is never the only
signal: each series also has its own line style and marker, thresholds are labelled in text.
Output is deterministic: a fixed hash salt for the SVG ids and no date in the metadata.
"""

from __future__ import annotations

import io
import math
import warnings
from datetime import date

import matplotlib

matplotlib.use("svg", force=False)

from matplotlib import dates as mdates  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator  # noqa: E402

from .mpl_cache import memoized  # noqa: E402
from .svg_lean import lean  # noqa: E402

RC = {
    "svg.fonttype": "none",          # text stays text: small files, selectable, the PDF's fonts
    "svg.hashsalt": "trial-safety-monitor",
    "font.family": ["DejaVu Sans"],
    "font.size": 6.5,
    "axes.linewidth": 0.5,
    "axes.edgecolor": "#444444",
    "axes.labelcolor": "#222222",
    "axes.titlesize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.major.width": 0.5,
    "ytick.major.width": 0.5,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "lines.linewidth": 1.0,
    "lines.markersize": 3,
    "legend.fontsize": 6,
    "legend.frameon": False,
    "path.simplify": True,
}

# colour + line style + marker: distinct in colour and in grey
INK = "#222222"
SHADE = "#ececec"
SERIES = {
    "ALT": ("#1f4e79", "-", "o"),
    "AST": ("#c55a11", "--", "s"),
    "BILI": ("#548235", ":", "^"),
    "AFP": ("#1f4e79", "-", "o"),
    "PIVKA2": ("#7030a0", "-", "s"),
}
MM = 1 / 25.4
PANEL_SIZE = (272 * MM, 92 * MM)
# axes boxes of the 2 x 2 subject panel (left, bottom, width, height as figure fractions)
BOXES = {"AFP": (0.045, 0.585, 0.39, 0.355), "PIVKA2": (0.545, 0.585, 0.39, 0.355),
         "liver": (0.045, 0.085, 0.39, 0.355), "tumour": (0.545, 0.085, 0.39, 0.355)}
ORDER = tuple(BOXES)
ROW_MM = 46.0                  # one row of panels (half of PANEL_SIZE's height)


def layout(keys: tuple) -> tuple:
    """(figure size, {key: box}) for the panels a study has, in reading order: four (or three)
    in the 2 x 2 grid, two side by side in one row, one across the width. A study without
    markers or tumour assessments gets a one-row chart, not empty panels."""
    keys = tuple(k for k in ORDER if k in keys)
    if len(keys) >= 3:
        slots = list(BOXES.values())
        return PANEL_SIZE, {k: slots[i] for i, k in enumerate(keys)}
    h = ROW_MM / 92.0
    bottom, height = 0.085 / h * 1.0, 0.355 / h
    if len(keys) == 2:
        return (PANEL_SIZE[0], ROW_MM * MM), {keys[0]: (0.045, bottom, 0.39, height),
                                              keys[1]: (0.545, bottom, 0.39, height)}
    return (PANEL_SIZE[0], ROW_MM * MM), {k: (0.045, bottom, 0.89, height) for k in keys}
MONTH = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _fmt(v, _pos=None) -> str:
    if v <= 0:
        return ""
    if v >= 10000:
        return f"{v:,.0f}"
    return f"{v:g}"


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    FigureCanvasSVG(fig)
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return lean(text[text.index("<svg"):])


def _num(d) -> float:
    return float(mdates.date2num(d))


def date_ticks(lo: date, hi: date, most: int = 8) -> tuple:
    """Month-start ticks between lo and hi, every 1, 2, 3, 6 or 12 months so that at most
    `most` show; labels like "Jul 22". Computed here (no date locator: it is slow)."""
    months = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    step = next((s for s in (1, 2, 3, 6, 12, 24) if months / s <= most), 48)
    y, m = lo.year, lo.month
    ticks, labels = [], []
    while (y, m) <= (hi.year, hi.month):
        d = date(y, m, 1)
        if lo <= d <= hi and (m - 1) % step == 0:
            ticks.append(_num(d))
            labels.append(f"{MONTH[m - 1]} {y % 100:02d}")
        m += 1
        if m > 12:
            y, m = y + 1, 1
    return ticks, labels


def _dates(ax, xlim, spans, ticks):
    if xlim:
        ax.set_xlim(_num(xlim[0]), _num(xlim[1]))
    for a, b in spans or ():
        ax.axvspan(_num(a), _num(b), color=SHADE, lw=0, zorder=0)
    labels = dict(zip(ticks[0], ticks[1]))
    ax.xaxis.set_major_locator(FixedLocator(ticks[0]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: labels.get(v, "")))
    ax.xaxis.set_minor_locator(NullLocator())


def log_ticks(lo: float, hi: float, most: int = 7) -> list:
    """Tick values inside [lo, hi] for a log axis: 1-2-5 steps, or 1-10 when too many
    (computed here: matplotlib's LogLocator makes tick objects for values outside the view)."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for subs in ((1, 1.5, 2, 3, 5, 7), (1, 2, 5), (1, 3), (1,)):
        vals = [m * 10 ** k for k in range(k0, k1 + 1) for m in subs if lo <= m * 10 ** k <= hi]
        if len(vals) <= most:
            break
    if len(vals) > most:
        step = math.ceil(len(vals) / most)
        vals = vals[::step]
    return vals


def _log_y(ax, lo, hi):
    lo, hi = max(lo, 1e-3), max(hi, lo * 1.5)
    ax.set_yscale("log")
    lo, hi = lo / 1.6, hi * 1.6
    ax.set_ylim(lo, hi)
    ax.yaxis.set_major_locator(FixedLocator(log_ticks(lo, hi)))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(_fmt))


def _hline(ax, y, text, style=":", color=INK, lw=0.7):
    ax.axhline(y, ls=style, color=color, lw=lw, zorder=1)
    ax.text(1.008, y, text, transform=ax.get_yaxis_transform(), va="center", ha="left", fontsize=5.8,
            color=color, clip_on=False)


def _title(fig, box, text):
    # a figure text, not ax.set_title: placing an axes title measures every tick label (slow);
    # 2 mm above the axes whatever the figure's height
    gap = 2.0 / (fig.get_figheight() * 25.4)
    fig.text(box[0] - 0.035, box[1] + box[3] + gap, text, fontsize=7, fontweight="bold", ha="left", va="bottom")


def _empty(ax, text):
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=6.5, color="#555555")


def _marker(ax, s, key):
    xs = [_num(d) for d, _ in s["points"]]
    ys = [v for _, v in s["points"]]
    color, ls, mk = SERIES[key]
    ax.plot(xs, ys, ls=ls, marker=mk, color=color, zorder=3)
    refs = [v for v in (s.get("uln"), s.get("baseline")) if v]
    _log_y(ax, min(ys + refs), max(ys + refs))
    if s.get("uln"):
        _hline(ax, s["uln"], f"ULN {_fmt(s['uln'])}", "--")
    if s.get("baseline") and s.get("fall_pct"):
        _hline(ax, s["baseline"] * (1 - s["fall_pct"] / 100), f"-{s['fall_pct']:g}% of\nbaseline", ":")
    if s.get("nadir"):
        d, v = s["nadir"]
        x = _num(d)
        ax.plot([x], [v], marker="o", ms=7, mfc="none", mec=INK, mew=0.8, ls="none", zorder=4)
        ax.annotate(f"nadir {_fmt(v)}", (x, v), xytext=(0, 6), textcoords="offset points", ha="center",
                    va="bottom", fontsize=5.8, color=INK)
    ax.set_ylabel(s["unit"], fontsize=6, labelpad=1)


def _liver(ax, series):
    allv = [1.0, 3.0]
    for test, pts in series.items():
        color, ls, mk = SERIES[test]
        ys = [v for _, v in pts]
        allv += ys
        ax.plot([_num(d) for d, _ in pts], ys, ls=ls, marker=mk, color=color,
                label="Bilirubin" if test == "BILI" else test, zorder=3)
    _log_y(ax, min(allv), max(allv))
    _hline(ax, 1.0, "ULN", "-", "#999999", 0.5)
    _hline(ax, 3.0, "3x ULN\nALT/AST", "--")
    _hline(ax, 2.0, "2x ULN\nbilirubin", "-.")
    ax.set_ylabel("x ULN", fontsize=6, labelpad=1)
    ax.legend(loc="upper left", ncol=3, handlelength=2.4, borderaxespad=0.2, columnspacing=1.0)


def _tumour(ax, t):
    pts = t["points"]
    xs = [_num(d) for d, _ in pts]
    ys = [v for _, v in pts]
    ax.plot(xs, ys, ls="-", marker="o", color="#1f4e79", zorder=3)
    ax.set_ylim(0, max(ys) * 1.3 + 5)
    ax.yaxis.set_major_locator(MaxNLocator(5))
    if t.get("baseline"):
        _hline(ax, t["baseline"] * 0.7, "baseline\n-30%", ":")
    sums = dict(pts)
    for d, r in t.get("responses", ()):
        if d in sums:
            ax.annotate(r, (_num(d), sums[d]), xytext=(0, 4), textcoords="offset points", ha="center",
                        va="bottom", fontsize=6, fontweight="bold", color=INK)
    for d in t.get("new", ()):
        ax.annotate("new lesion", (_num(d), sums.get(d, 0)), xytext=(0, -9), textcoords="offset points",
                    ha="center", va="top", fontsize=5.6, color=INK)
    ax.set_ylabel("mm", fontsize=6, labelpad=1)


_PANEL: dict = {}   # one reusable figure per layout and process (building four axes costs a third of a chart)


def _panel_figure(keys: tuple = ORDER):
    """The figure of a layout, emptied for the next subject: every artist the charts add is
    removed and every axis setting they change is set again by the next draw, so reuse cannot leak."""
    size, boxes = layout(keys)
    key = tuple(boxes)
    if key not in _PANEL:
        fig = Figure(figsize=size)
        _PANEL[key] = (fig, {k: fig.add_axes(box) for k, box in boxes.items()}, boxes)
        return _PANEL[key]
    fig, axes, boxes = _PANEL[key]
    for t in list(fig.texts):
        t.remove()
    for ax in axes.values():
        for a in [*ax.lines, *ax.patches, *ax.texts, *ax.collections]:
            a.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.set_yscale("linear")
        ax.set_ylabel("")
        for name, sp in ax.spines.items():
            sp.set_visible(name in ("left", "bottom"))
    return fig, axes, boxes


def subject_panel(data: dict) -> str:
    """The charts of a subject (up to four: markers, liver tests, target lesions) in one figure
    (one SVG: cheaper to draw and to lay out than four), sharing one date axis so they line up."""
    panels = data["panels"]
    fig, axes, boxes = _panel_figure(tuple(panels))
    xlim = data.get("xlim")
    ticks = date_ticks(xlim[0], xlim[1]) if xlim else ([], [])
    for key, box in boxes.items():
        p = panels.get(key) or {"title": key, "empty": "No data."}
        ax = axes[key]
        _title(fig, box, p["title"])
        if p.get("empty"):
            _empty(ax, p["empty"])
            continue
        _dates(ax, xlim, data.get("spans"), ticks)
        if key in ("AFP", "PIVKA2"):
            _marker(ax, p, key)
        elif key == "liver":
            _liver(ax, p["series"])
        else:
            _tumour(ax, p)
    return _svg(fig)


RESPONSE_MARK = {"CR": ("*", INK, 5.5), "PR": ("o", INK, 3.2), "SD": ("s", "white", 3.0),
                 "PD": ("D", "#c00000", 3.2), "NE": ("x", INK, 3.2)}


def swimmer_left(rows: list, width_mm: float = 272.0) -> float:
    """The axes' left edge as a figure fraction: room for the longest subject id at the tick
    label size (DejaVu Sans: at most ~0.65 em a character) plus the tick pad, never less than
    the 15 mm the seed study's short ids need ("01-701-1015" was clipped at 15 mm)."""
    longest = max((len(str(r["subject"])) for r in rows), default=0)
    need_pt = longest * RC["font.size"] * 0.65 + 6
    return max(0.055, need_pt / (width_mm * MM * 72))


def swimmer_chart(data: dict) -> str:
    rows = data["rows"]
    n = max(len(rows), 1)
    row_mm = min(9.0, max(4.6, 140.0 / n))   # a few subjects get taller rows; 30 fit one page
    height = (14 + row_mm * n) * MM
    fig = Figure(figsize=(272 * MM, height))
    bottom = 9 * MM / height
    top = 1 - 3 * MM / height
    left = swimmer_left(rows)
    ax = fig.add_axes((left, bottom, 0.915 - left, top - bottom))
    ys = list(range(n))[::-1]
    xmax = data.get("xmax", 21) * 1.04 + 5
    ax.set_xlim(-5, xmax)
    ax.set_ylim(-0.7, n - 0.3)
    ax.barh(ys, [r["end"] for r in rows], left=0, height=0.42, color="#d9d9d9", edgecolor="#555555", lw=0.4,
            zorder=1)
    tx, ty = [], []
    for y, r in zip(ys, rows):
        for d in r["doses"]:
            tx += [d, d, float("nan")]
            ty += [y - 0.21, y + 0.21, float("nan")]
    ax.plot(tx, ty, color="#555555", lw=0.5, zorder=2)
    ong = [(r["end"], y) for y, r in zip(ys, rows) if r["ongoing"]]
    if ong:
        ax.plot([e + 3 for e, _ in ong], [y for _, y in ong], ls="none", marker=">", ms=3.5, color=INK, zorder=3)
    for grade, (mk, face) in {3: ("v", "white"), 4: ("v", INK), 5: ("X", INK)}.items():
        pts = [(d, y) for y, r in zip(ys, rows) for d, g in r["aes"] if min(g, 5) == grade]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] + 0.36 for p in pts], ls="none", marker=mk, ms=4, mfc=face,
                    mec=INK, mew=0.6, zorder=4, label=f"AE grade {grade}")
    for resp, (mk, face, ms) in RESPONSE_MARK.items():
        pts = [(d, y) for y, r in zip(ys, rows) for d, rr in r["responses"] if rr == resp]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] - 0.36 for p in pts], ls="none", marker=mk, ms=ms, mfc=face,
                    mec=INK if face == "white" or resp != "PD" else "#c00000", mew=0.6, color=face, zorder=4,
                    label=f"Investigator {resp}")
    ax.set_yticks(ys)
    ax.set_yticklabels([r["subject"] for r in rows])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(MaxNLocator(12, integer=True))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("Days since first dose (bar: first dose to the end of the last cycle or period, or off treatment; ticks: doses or period starts; "
                  "arrow: on treatment)", fontsize=6)
    ax.tick_params(axis="y", length=0)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0, handletextpad=0.3,
                  fontsize=5.8, labelspacing=0.7)
    return _svg(fig)


DRAW = {"subject": subject_panel, "swimmer": swimmer_chart}


def draw(chart) -> str | None:
    """SVG text of one view-model Chart, or None when it has nothing to draw."""
    if chart.empty:
        return None
    with matplotlib.rc_context(RC), warnings.catch_warnings(), memoized():
        warnings.simplefilter("ignore")   # a glyph missing from DejaVu (CJK subject IDs) is drawn by the PDF's fonts
        return DRAW[chart.kind](chart.data)


def draw_all(charts) -> dict:
    """asset name -> SVG bytes for every chart that has data."""
    out = {}
    with matplotlib.rc_context(RC), warnings.catch_warnings(), memoized():
        warnings.simplefilter("ignore")
        for c in charts:
            if not c.empty:
                out[c.key] = DRAW[c.kind](c.data).encode("utf-8")
    return out
