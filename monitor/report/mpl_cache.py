"""Text layouts that last across charts while the report's charts are drawn.

matplotlib lays out every text of a chart again each time the chart is saved (a new renderer
per save, and its text metrics cache is keyed on the renderer): the same tick labels ("Jun 22",
"100"), panel titles, threshold labels and legend entries, subject after subject. Laying out
the texts (and finding their fonts) was a third of a chart's drawing time.

`memoized()` keeps, while it is active, the layout of a text (`Text._get_layout`) keyed on
everything that layout reads: the string, the font properties, rotation and alignment, line
spacing, the figure's dpi and the renderer's type. A text's layout does not depend on its
position (matplotlib lays out at (0, 0) and moves the box afterwards), so a cached layout is
the one a fresh computation gives; each caller gets its own copy of the box. Texts that wrap
or use TeX are laid out afresh. The font lookup for a set of font properties
(`fontManager._find_fonts_by_props`) is kept while active, keyed on the font properties:
the rcParams it also reads must not change inside (draw_all sets them once, around it).

Only on the matplotlib version this was written against (the private methods it wraps may
change); any other version draws exactly as without it.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib
from matplotlib import font_manager
from matplotlib.text import Text
from matplotlib.transforms import Bbox

MPL_VERSION = "3.11.2"
_LAYOUTS: dict = {}       # key -> _get_layout result; kept across charts (and parts) in a process
_FONTS: dict = {}         # font properties -> font paths, emptied on entering and leaving
_MAX = 20000              # entries at most (a study's distinct texts are a few hundred)


def supported() -> bool:
    return matplotlib.__version__ == MPL_VERSION


def _prop_key(prop) -> tuple:
    return (tuple(prop.get_family()), prop.get_style(), prop.get_variant(), prop.get_weight(),
            prop.get_stretch(), prop.get_size_in_points(), prop.get_file(), prop.get_math_fontfamily())


def layout_key(text: Text, renderer) -> tuple | None:
    """What Text._get_layout reads, or None when the text must be laid out afresh."""
    if text.get_wrap() or text.get_usetex():
        return None
    return (type(renderer), text.get_text(), _prop_key(text.get_fontproperties()), text.get_parse_math(),
            text.get_figure(root=True).dpi, text._linespacing, text._get_multialignment(),
            text.get_rotation(), text.get_rotation_mode(), text._horizontalalignment,
            text._verticalalignment)


def _copy(layout):
    bbox, lines, corner = layout
    return Bbox(bbox.get_points().copy()), list(lines), corner


@contextmanager
def memoized():
    """Cache text layouts and font lookups while active (see the module's docstring)."""
    if not supported():
        yield
        return
    original = Text._get_layout
    manager = font_manager.fontManager
    find = manager._find_fonts_by_props

    def get_layout(self, renderer):
        key = layout_key(self, renderer)
        if key is None:
            return original(self, renderer)
        hit = _LAYOUTS.get(key)
        if hit is None:
            hit = original(self, renderer)
            if len(_LAYOUTS) >= _MAX:
                _LAYOUTS.clear()
            _LAYOUTS[key] = _copy(hit)
            return hit
        return _copy(hit)

    def find_fonts(prop, *args, **kwargs):
        p = font_manager.FontProperties._from_any(prop)
        if args or kwargs or p is None:
            return find(prop, *args, **kwargs)
        key = _prop_key(p)
        hit = _FONTS.get(key)
        if hit is None:
            hit = _FONTS[key] = find(prop)
        return list(hit)

    _FONTS.clear()
    Text._get_layout = get_layout
    manager._find_fonts_by_props = find_fonts
    try:
        yield
    finally:
        Text._get_layout = original
        del manager._find_fonts_by_props     # the class's method again
        _FONTS.clear()
