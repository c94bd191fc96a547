"""SVG text drawn as one run of glyphs instead of letter by letter (WeasyPrint's SVG renderer).

WeasyPrint (pinned 70.0) draws an SVG `<text>` by laying the whole string out with Pango once,
then laying out and drawing every letter on its own (one Pango layout, one text matrix and one
`TJ` per letter), so that per-letter `x`/`y`/`dx`/`dy`/`rotate` lists can be honoured. The
charts' text never uses those: matplotlib writes one `x` and one `y` per label. That letter
loop was half of the time WeasyPrint spends drawing a subject's charts.

`install()` puts `text()` in the place of WeasyPrint's SVG text function. For a simple text
node (a single x and y, no dx/dy/rotate, no letter-spacing or textLength, no child elements)
it draws the string with the one layout WeasyPrint has already made: the same glyphs, font,
colour, anchor handling (done by WeasyPrint's draw_node around this call) and bounding box,
placed by Pango's shaping of the whole string rather than by summing each letter's advance
(so pairs that kern sit a fraction of a point closer). Anything else is passed to WeasyPrint's
own function, unchanged. The text a PDF reader extracts is the same characters (a space, which
the letter loop never drew, is now drawn as the space glyph it is).

An SVG without a stylesheet (svg_lean applies matplotlib's and drops it) still had both of its
empty rule matchers run against every node as WeasyPrint builds the tree: `install()` also
wraps parse_stylesheets so that such an SVG gets matchers that match nothing at once.
"""

from __future__ import annotations

from math import inf

_ORIGINAL = None
_PARSE_STYLESHEETS = None
SUPPORTED = "70.0"   # the WeasyPrint whose svg.text this stands in for (pyproject.toml pins it)
_LETTERWISE = ("dx", "dy", "rotate", "textLength", "lengthAdjust")


def _single(value) -> bool:
    """One coordinate (not a list) or none."""
    if value is None:
        return True
    return len(value.replace(",", " ").split()) <= 1


def simple(node) -> bool:
    """Whether the fast path draws this node exactly as the letter loop would place it."""
    attrib = node.attrib
    if any(k in attrib for k in _LETTERWISE):
        return False
    if not (_single(attrib.get("x")) and _single(attrib.get("y"))):
        return False
    spacing = attrib.get("letter-spacing")
    if spacing not in (None, "", "normal", "0", "0px"):
        return False
    return bool(node.text) and next(iter(node), None) is None


def text(svg, node, font_size):
    """WeasyPrint's svg.text.text, without the per-letter layout for simple nodes."""
    if not simple(node):
        return _ORIGINAL(svg, node, font_size)
    from weasyprint.draw.text import draw_emojis, draw_first_line
    from weasyprint.matrix import Matrix
    from weasyprint.svg.bounding_box import extend_bounding_box
    from weasyprint.svg.text import Style, TextBox
    from weasyprint.svg.utils import size
    from weasyprint.text.line_break import split_first_line
    from weasyprint.css.properties import INITIAL_VALUES

    style = Style()
    style.update(INITIAL_VALUES)
    style.font_config = svg.font_config
    style["font_family"] = [font.strip("\"'") for font in node.get("font-family", "sans-serif").split(",")]
    style["font_style"] = node.get("font-style", "normal")
    style["font_weight"] = node.get("font-weight", 400)
    style["font_size"] = font_size
    if node.get("direction") in ("ltr", "rtl"):
        style["direction"] = node.get("direction")
    if style["font_weight"] == "normal":
        style["font_weight"] = 400
    elif style["font_weight"] == "bold":
        style["font_weight"] = 700
    else:
        try:
            style["font_weight"] = int(style["font_weight"])
        except ValueError:
            style["font_weight"] = 400

    layout, _, _, width, height, baseline = split_first_line(node.text, style, svg.context, inf, 0)

    ascent, descent = font_size * .8, font_size * .2
    y_align = 0
    display_anchor = node.get("display-anchor")
    alignment_baseline = node.get("dominant-baseline", node.get("alignment-baseline"))
    if display_anchor == "middle":
        y_align = -height / 2
    elif display_anchor == "top":
        pass
    elif display_anchor == "bottom":
        y_align = -height
    elif alignment_baseline in ("central", "middle"):
        y_align = (ascent + descent) / 2 - descent
    elif alignment_baseline in ("text-before-edge", "before_edge", "top", "hanging", "text-top"):
        y_align = ascent
    elif alignment_baseline in ("text-after-edge", "after_edge", "bottom", "text-bottom"):
        y_align = -descent

    x = size(node.attrib["x"], font_size, svg.inner_width) if "x" in node.attrib else None
    y = size(node.attrib["y"], font_size, svg.inner_height) if "y" in node.attrib else None
    if x:
        svg.cursor_d_position[0] = 0
    if y:
        svg.cursor_d_position[1] = 0
    x = svg.cursor_position[0] if x is None else x
    y = svg.cursor_position[1] if y is None else y
    svg.cursor_position = x + width, y
    x_position = x + svg.cursor_d_position[0]
    y_position = y + svg.cursor_d_position[1] + y_align
    points = ((x_position, y_position - baseline), (x_position + width, y_position - baseline + height))
    node.text_bounding_box = extend_bounding_box(node.text_bounding_box, points)

    svg.stream.push_state()
    fill, stroke = svg.set_graphical_state(node, font_size)
    svg.stream.begin_text()
    layout.reactivate(style)
    svg.fill_stroke(fill, stroke, text=True)
    text_box = TextBox(layout, style)
    text_box.baseline = baseline
    emojis = draw_first_line(svg.stream, text_box, "none", "none", Matrix(a=1, d=-1, e=x_position, f=y_position))
    svg.stream.end_text()
    svg.stream.pop_state()
    draw_emojis(svg.stream, style, x, y, emojis)


class NoRules:
    """A cssselect2 matcher with no rule: matches nothing."""

    @staticmethod
    def match(_element):
        return ()


def empty(matcher) -> bool:
    return matcher.order == 0 and not (matcher.id_selectors or matcher.class_selectors
                                       or matcher.lower_local_name_selectors or matcher.namespace_selectors
                                       or matcher.lang_attr_selectors or matcher.other_selectors)


def parse_stylesheets(tree, url, font_config, url_fetcher):
    """WeasyPrint's svg parse_stylesheets; (NoRules, NoRules) for an SVG with no CSS rule."""
    normal, important = _PARSE_STYLESHEETS(tree, url, font_config, url_fetcher)
    if empty(normal) and empty(important):
        return NoRules(), NoRules()
    return normal, important


def install() -> None:
    """Use `text` for SVG text in this process (idempotent). WeasyPrint's draw_node recognises
    text nodes by comparing its table entry with its module's `text`: both are replaced."""
    global _ORIGINAL, _PARSE_STYLESHEETS
    import weasyprint
    import weasyprint.svg as wsvg

    if _ORIGINAL is not None or weasyprint.__version__ != SUPPORTED:
        return   # another WeasyPrint: its own text function, whatever it does now
    _ORIGINAL = wsvg.text
    _PARSE_STYLESHEETS = wsvg.parse_stylesheets
    wsvg.parse_stylesheets = parse_stylesheets
    for tag, fn in list(wsvg.TAGS.items()):
        if fn is _ORIGINAL:
            wsvg.TAGS[tag] = text
    wsvg.text = text


def uninstall() -> None:
    """Give WeasyPrint its own SVG text function back (tests compare the two)."""
    global _ORIGINAL, _PARSE_STYLESHEETS
    import weasyprint.svg as wsvg

    if _ORIGINAL is None:
        return
    wsvg.parse_stylesheets = _PARSE_STYLESHEETS
    _PARSE_STYLESHEETS = None
    for tag, fn in list(wsvg.TAGS.items()):
        if fn is text:
            wsvg.TAGS[tag] = _ORIGINAL
    wsvg.text = _ORIGINAL
    _ORIGINAL = None
