"""The charts' SVG text drawn as one run of glyphs (monitor/report/svg_text.py): the same words
at the same places as WeasyPrint's letter-by-letter drawing, and letter-wise text left to it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from monitor.report import svg_text

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="300pt" height="120pt" viewBox="0 0 300 120">
<text x="10" y="20" font-size="8px" font-family="DejaVu Sans">start anchored AVA Ty</text>
<text x="150" y="40" font-size="7px" font-family="DejaVu Sans" text-anchor="middle" fill="#333333">Jun 22</text>
<text x="290" y="60" font-size="7px" font-family="DejaVu Sans" text-anchor="end" font-weight="bold">nadir 117.9</text>
<text x="20" y="110" font-size="6px" font-family="DejaVu Sans" transform="rotate(-90 20 110)" text-anchor="middle">ng/mL</text>
<text x="100 110 120" y="90" font-size="7px" font-family="DejaVu Sans">abc</text>
</svg>"""


def words(pdf) -> list:
    """(word, xMin, yMin, xMax, yMax) of every word pdftotext finds, in order."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [(m[4], *map(float, m[:4])) for m in
            re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)]


def render(path, fast: bool):
    import weasyprint

    from monitor.report.render import AssetFetcher

    (svg_text.install if fast else svg_text.uninstall)()
    try:
        html = '<img style="width:300pt;height:120pt" src="asset:c.svg">'
        weasyprint.HTML(string=html, url_fetcher=AssetFetcher({"c.svg": SVG.encode()})).write_pdf(path)
    finally:
        svg_text.uninstall()
    return words(path)


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (scripts/setup.sh) not installed")
def test_simple_svg_text_keeps_its_words_and_their_places(tmp_path):
    slow, fast = render(tmp_path / "slow.pdf", False), render(tmp_path / "fast.pdf", True)
    # the letter loop never draws a space, so a reader may split or join words differently there
    assert "".join(w[0] for w in fast) == "".join(w[0] for w in slow)
    join = lambda ws: {w[0]: w[1:] for w in ws}  # noqa: E731
    a, b = join(slow), join(fast)
    for word in ("start", "Jun", "nadir", "117.9", "ng/mL", "a", "c"):
        assert word in a and word in b
        # Pango's shaping of the whole string against summed letter advances: a fraction of a point
        assert all(abs(p - q) < 0.5 for p, q in zip(a[word], b[word])), (word, a[word], b[word])
    # a kerning pair (A V) now sits closer, as in the HTML text: same start, a little narrower
    assert abs(a["AVA"][0] - b["AVA"][0]) < 0.5 and 0 < a["AVA"][2] - b["AVA"][2] < 1.5


def test_letter_wise_text_is_left_to_weasyprint():
    class Node:
        def __init__(self, attrib, text="abc", children=()):
            self.attrib, self.text, self._children = attrib, text, list(children)

        def __iter__(self):
            return iter(self._children)

    assert svg_text.simple(Node({"x": "1", "y": "2"}))
    assert not svg_text.simple(Node({"x": "1 2 3", "y": "2"}))
    assert not svg_text.simple(Node({"x": "1", "dx": "2"}))
    assert not svg_text.simple(Node({"rotate": "30"}))
    assert not svg_text.simple(Node({"letter-spacing": "2px"}))
    assert not svg_text.simple(Node({"x": "1"}, children=[object()]))
    assert not svg_text.simple(Node({"x": "1"}, text=""))


def test_another_weasyprint_keeps_its_own_svg_text(monkeypatch):
    """The fast path copies WeasyPrint 70.0's text placement: any other version is left alone."""
    import weasyprint
    import weasyprint.svg as wsvg

    from monitor.report import svg_text

    svg_text.uninstall()
    own = wsvg.text
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    svg_text.install()
    assert wsvg.text is own
    monkeypatch.setattr(weasyprint, "__version__", svg_text.SUPPORTED)
    svg_text.install()
    assert wsvg.text is svg_text.text


def test_an_svg_without_css_rules_gets_matchers_that_match_nothing_and_one_with_rules_keeps_them():
    from xml.etree import ElementTree

    from cssselect2 import ElementWrapper

    svg_text.install()
    try:
        import weasyprint.svg as wsvg

        bare = ElementWrapper.from_xml_root(ElementTree.fromstring(SVG))
        normal, important = wsvg.parse_stylesheets(bare, None, None, None)
        assert isinstance(normal, svg_text.NoRules) and isinstance(important, svg_text.NoRules)
        styled = SVG.replace("<text x=\"10\"", "<style>text { fill: red }</style><text x=\"10\"", 1)
        normal, _ = wsvg.parse_stylesheets(ElementWrapper.from_xml_root(ElementTree.fromstring(styled)), None, None, None)
        assert not isinstance(normal, svg_text.NoRules)
    finally:
        svg_text.uninstall()
