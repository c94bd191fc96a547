"""svg_lean: the charts' SVG with fewer nodes draws the same picture."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess

import pytest
from pathlib import Path

from monitor.report import charts
from monitor.report.svg_lean import _moved, lean

DEMO = Path(__file__).resolve().parents[1] / "sample_sheets" / "demo_study.xlsx"
SVG_HEAD = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="20pt" height="20pt">'


def tags(svg: str) -> dict:
    out: dict = {}
    for t in re.findall(r"<([a-zA-Z]+)", svg):
        out[t] = out.get(t, 0) + 1
    return out


def test_a_marker_use_becomes_the_moved_path_with_the_path_style_winning():
    svg = (SVG_HEAD + '<defs><path id="m1" d="M 0 0 L 0 2.5" style="stroke: #333333; stroke-width: 0.5"/></defs>'
           '<g id="line2d_1"><g clip-path="url(#c)"><use xlink:href="#m1" x="10" y="4.25" '
           'style="fill: #111111; stroke: #999999"/></g></g></svg>')
    out = lean(svg)
    assert "<use" not in out and 'id="line2d_1"' not in out and 'clip-path="url(#c)"' in out
    assert 'd="M 10 4.25 L 10 6.75"' in out
    assert 'fill="#111111" stroke="#333333" stroke-width="0.5"' in out   # the path's own style wins


def test_what_cannot_be_moved_exactly_is_kept():
    assert _moved("m 0 0 l 1 1", 1, 1) is None         # relative commands
    assert _moved("M 0 0 A 1 1 0 0 1 2 2", 1, 1) is None   # arcs
    svg = (SVG_HEAD + '<defs><path id="m1" d="m 0 0 l 1 1"/></defs><use xlink:href="#m1" x="1" y="1"/>'
           '<g id="keep" transform="translate(1 1)"><path d="M 0 0 L 1 1"/></g></svg>')
    out = lean(svg)
    assert "<use" in out and 'id="m1"' in out and 'transform="translate(1 1)"' in out


def test_only_paths_that_paint_alike_together_are_merged():
    same = 'style="fill: #1f4e79; stroke: #1f4e79"'
    hollow = 'style="fill: #ffffff; stroke: #222222"'
    svg = (SVG_HEAD + f'<g clip-path="url(#c)"><path d="M 0 0 L 1 1 z" {same}/><path d="M 2 2 L 3 3 z" {same}/>'
           f'<path d="M 0 0 L 1 1 z" {hollow}/><path d="M 0.5 0.5 L 1 1 z" {hollow}/></g></svg>')
    out = lean(svg)
    assert out.count("<path") == 3 and "M 0 0 L 1 1 z M 2 2 L 3 3 z" in out


def test_tick_marks_are_painted_before_their_labels_as_one_path():
    tick = 'style="fill: #333333; stroke: #333333; stroke-width: 0.5"'
    svg = (SVG_HEAD + f'<path d="M 10 4 L 10 6.5" {tick}/><text x="10" y="12">Jun 22</text>'
           f'<path d="M 20 4 L 20 6.5" {tick}/><text x="20" y="12">Jul 22</text>'
           f'<path d="M 30 4 L 30 6.5" {tick}/><text x="30" y="12">Aug 22</text>'
           f'<path d="M 0 9 L 40 9" {tick}/><text x="5" y="9">over the line</text></svg>')
    out = lean(svg)
    assert out.count("<path") == 2 and "M 10 4 L 10 6.5 M 20 4 L 20 6.5 M 30 4 L 30 6.5" in out
    assert re.findall(r">([^<]+)</text>", out) == ["Jun 22", "Jul 22", "Aug 22", "over the line"]
    # a long line is no tick mark: it stays after the text before it (which it may cross)
    assert out.index("Aug 22") < out.index("M 0 9 L 40 9") < out.index("over the line")


def test_the_css_becomes_attributes_in_weasyprints_cascade_order():
    svg = (SVG_HEAD + '<defs><style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style></defs>'
           '<path d="M 0 0 L 1 1" stroke="#000000" style="stroke: #1f4e79; stroke-linecap: square"/>'
           '<text x="1" y="2" transform="rotate(-0 1 2)" style="font-size: 6px; font-family: \'DejaVu Sans\'">A</text>'
           '<text x="1" y="2" transform="rotate(-90 1 2)">B</text></svg>')
    out = lean(svg)
    assert "<style" not in out and "style=" not in out and "<defs" not in out
    # the sheet's rule, then the style attribute over the presentation attribute and the sheet
    assert 'stroke="#1f4e79" stroke-linejoin="round" stroke-linecap="square"' in out
    assert 'font-size="6px" font-family="&quot;DejaVu Sans&quot;"' in out   # as WeasyPrint serialises it
    assert 'rotate(-0 1 2)' not in out and 'transform="rotate(-90 1 2)"' in out


def test_css_that_cannot_become_attributes_is_left_to_weasyprint():
    for sheet, style in (("path{fill: red}", "stroke: #000"), ("*{fill: red}", "stroke: #000 !important")):
        svg = (SVG_HEAD + f'<defs><style type="text/css">{sheet}</style></defs>'
               f'<path d="M 0 0 L 1 1" style="{style}"/></svg>')
        out = lean(svg)
        assert "<style" in out and f'style="{style}"' in out


def chart_svg_pair(profile):
    """matplotlib's own SVG of the demo study's first subject chart and the lean one."""
    from monitor.check import check_workbook
    from monitor.report import build_view

    now = dt.datetime(2024, 3, 15, 12, 0, tzinfo=dt.timezone.utc)
    view = build_view(check_workbook(DEMO, profile, now=now), profile, generated=now, tool_version="x")
    chart = next(c for s in view.subjects for c in s.charts if not c.empty)
    captured = {}
    real = charts.lean

    def keep(text):
        captured["raw"] = text
        return real(text)

    charts.lean = keep
    try:
        out = charts.draw(chart)
    finally:
        charts.lean = real
    return captured["raw"], out


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (scripts/setup.sh) not installed")
def test_a_lean_chart_draws_the_same_pixels_with_a_third_of_the_nodes(tmp_path, profile):
    import weasyprint
    from PIL import Image, ImageChops

    from monitor.report.render import AssetFetcher

    raw, out = chart_svg_pair(profile)
    before, after = tags(raw), tags(out)
    assert after.get("use", 0) == 0 and sum(after.values()) * 2 < sum(before.values())
    assert after.get("text") == before.get("text")    # every label is still text
    images = []
    for name, svg in (("raw", raw), ("lean", out)):
        html = '<img style="width:272mm;height:92mm" src="asset:c.svg">'
        weasyprint.HTML(string=html, url_fetcher=AssetFetcher({"c.svg": svg.encode()})).write_pdf(tmp_path / f"{name}.pdf")
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(tmp_path / f"{name}.pdf"),
                        str(tmp_path / name)], check=True)
        images.append(Image.open(io.BytesIO((tmp_path / f"{name}.png").read_bytes())).convert("RGB"))
    hist = ImageChops.difference(*images).convert("L").histogram()   # pixels by difference 0..255
    changed = [v for v, n in enumerate(hist) if v and n for _ in range(n)]
    # the same picture: only the antialiasing of a few edge pixels where markers of one series
    # overlap may differ by a shade (drawn as one path instead of one after the other)
    assert len(changed) < 30 and max(changed, default=0) < 64, (len(changed), max(changed, default=0))
