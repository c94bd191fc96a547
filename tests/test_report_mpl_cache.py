"""Text layouts kept across charts (monitor/report/mpl_cache.py): a kept layout is the one a fresh
computation gives, texts that differ in anything the layout reads are laid out apart, and the
charts drawn with the cache are the same SVG as without it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib
import pytest
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.figure import Figure
from matplotlib.text import Text

from monitor.report import charts, mpl_cache

DEMO = Path(__file__).resolve().parent.parent / "sample_sheets" / "demo_study.xlsx"
needs_version = pytest.mark.skipif(not mpl_cache.supported(), reason="cache only on the pinned matplotlib")


def _layout_tuple(layout):
    bbox, lines, corner = layout
    return tuple(bbox.bounds), [(s, tuple(w), tuple(xy)) for s, w, xy in lines], corner


def _renderer():
    import io

    return RendererSVG(100, 100, io.StringIO())


@needs_version
def test_a_kept_layout_equals_a_fresh_one_and_is_a_copy():
    fig = Figure()
    a = fig.text(0.2, 0.3, "3x ULN\nALT/AST", fontsize=5.8, ha="left", va="center")
    b = fig.text(0.7, 0.9, "3x ULN\nALT/AST", fontsize=5.8, ha="left", va="center")   # elsewhere
    r = _renderer()
    fresh = _layout_tuple(Text._get_layout(a, r))
    mpl_cache._LAYOUTS.clear()
    with mpl_cache.memoized():
        first = a._get_layout(r)
        first[0].x0 = 999.0                        # a caller changing its box does not reach the cache
        kept = b._get_layout(_renderer())
    assert _layout_tuple(kept) == fresh
    assert len(mpl_cache._LAYOUTS) == 1


@needs_version
@pytest.mark.parametrize("change", [
    {"s": "Jul 22"}, {"fontsize": 7}, {"fontweight": "bold"}, {"rotation": 90}, {"ha": "center"},
    {"va": "top"}, {"linespacing": 2.0}, {"multialignment": "right"},
])
def test_texts_that_differ_in_what_the_layout_reads_are_laid_out_apart(change):
    fig = Figure()
    base = dict(s="Jun 22\nx", fontsize=6.5, ha="left", va="baseline")
    r = _renderer()
    a = fig.text(0.1, 0.1, **base)
    b = fig.text(0.1, 0.1, **{**base, **change})
    fresh_b = _layout_tuple(Text._get_layout(b, r))
    mpl_cache._LAYOUTS.clear()
    with mpl_cache.memoized():
        a._get_layout(r)
        assert _layout_tuple(b._get_layout(r)) == fresh_b
    assert mpl_cache.layout_key(a, r) != mpl_cache.layout_key(b, r)


def test_leaving_restores_matplotlibs_own_methods():
    from matplotlib import font_manager

    original = Text._get_layout
    with mpl_cache.memoized():
        pass
    assert Text._get_layout is original
    assert "_find_fonts_by_props" not in vars(font_manager.fontManager)
    assert mpl_cache._FONTS == {}


def test_wrapped_text_is_not_kept():
    t = Figure().text(0.1, 0.1, "a long title", wrap=True)
    assert mpl_cache.layout_key(t, _renderer()) is None


def test_charts_drawn_with_the_cache_are_the_same_svg(profile, monkeypatch):
    from monitor.check import check_workbook
    from monitor.report import build_view

    now = dt.datetime(2024, 3, 15, 12, 0, tzinfo=dt.timezone.utc)
    view = build_view(check_workbook(DEMO, profile, now=now), profile, generated=now, tool_version="x")
    chs = [c for s in view.subjects for c in s.charts] + list(view.swimmer)
    mpl_cache._LAYOUTS.clear()
    cached = charts.draw_all(chs)
    cached_again = charts.draw_all(chs)            # now every layout comes from the cache
    monkeypatch.setattr(matplotlib, "__version__", "0.0")   # memoized() does nothing
    plain = charts.draw_all(chs)
    assert cached.keys() == plain.keys() and len(plain) >= 3
    assert cached == plain and cached_again == plain
