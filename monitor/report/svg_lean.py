"""Fewer SVG nodes for WeasyPrint to draw, the same picture.

WeasyPrint draws an SVG node by node in Python (a `<use>` re-reads the element it points to, a
`<g>` pushes and pops graphics state), so a chart's drawing time follows its node count.
matplotlib's SVG wraps every artist in a `<g id=...>` and draws every marker and tick mark as a
`<use>` of a shared path. `lean()` rewrites that output into fewer nodes, the same picture (only
the antialiasing of a few edge pixels where same-colour markers overlap can differ by a shade):

* a `<use>` of a plain path with an `x`/`y` offset becomes that path, moved (its style: the
  use's, with the path's own style winning, as SVG inheritance gives);
* runs of sibling paths with the same style and clip become one path (only when painting them
  together cannot differ from painting them in turn: no fill, or fill and stroke of one colour,
  and no opacity);
* in a run of tick marks and tick labels (matplotlib draws an axis tick by tick), the marks
  are painted first so that they merge into one path (a mark and its label never overlap);
* a `<g>` with no attribute but its id is replaced by its children; the `<metadata>` block and
  `<defs>` whose paths are no longer referenced go;
* the CSS is applied here, once: WeasyPrint parses every node's `style` attribute with tinycss2
  and matches the `<style>` sheet's `*` rule against every node, each time a chart is drawn (a
  fifth of a chart's drawing). Each node gets the sheet's declarations and then its own style's
  as presentation attributes, in the order WeasyPrint's cascade applies them and parsed by
  WeasyPrint's own parser (so the values are the same strings), and the `<style>` sheet goes.
  Only done when the sheet is nothing but `*` rules and no declaration is `!important`;
* a text's `transform="rotate(-0 x y)"` (matplotlib writes one on every label) is the identity
  and goes.

Anything else (transforms, clip paths, text, other elements) is kept as matplotlib wrote it. A
use this module cannot move exactly (path commands other than M/L/C/Q/Z, other attributes) is
left as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

SVG = "{http://www.w3.org/2000/svg}"
HREF = "{http://www.w3.org/1999/xlink}href"
_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PAIRS = {"M": True, "L": True, "C": True, "Q": True, "Z": False, "z": False}


def _moved(d: str, dx: float, dy: float) -> str | None:
    """Path data `d` (absolute M/L/C/Q/Z commands) moved by (dx, dy); None when `d` uses any
    other command (relative, arcs, H/V) and cannot be moved by shifting number pairs."""
    out, nums = [], []
    for tok in _TOKEN.findall(d):
        if tok.isalpha():
            if tok not in _PAIRS or len(nums) % 2:
                return None
            out += _pairs(nums, dx, dy)
            nums = []
            out.append(tok)
        else:
            nums.append(float(tok))
    if len(nums) % 2:
        return None
    out += _pairs(nums, dx, dy)
    return " ".join(out)


def _pairs(nums: list, dx: float, dy: float) -> list:
    return [_num(v + (dx if i % 2 == 0 else dy)) for i, v in enumerate(nums)]


def _num(v: float) -> str:
    """Six decimals as matplotlib writes them (no precision lost against its own output)."""
    text = f"{v:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _style(text: str) -> dict:
    out = {}
    for item in (text or "").split(";"):
        k, sep, v = item.partition(":")
        if sep and k.strip():
            out[k.strip()] = v.strip()
    return out


def _style_text(style: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in style.items())


def _uses_to_paths(root) -> None:
    paths = {el.get("id"): el for el in root.iter(SVG + "path") if el.get("id")}
    for use in list(root.iter(SVG + "use")):
        ref = use.get(HREF) or ""
        target = paths.get(ref[1:]) if ref.startswith("#") else None
        if target is None or set(use.attrib) - {HREF, "x", "y", "style"} or set(target.attrib) - {"id", "d", "style"}:
            continue
        try:
            d = _moved(target.get("d", ""), float(use.get("x", "0")), float(use.get("y", "0")))
        except ValueError:
            d = None
        if d is None:
            continue
        style = {**_style(use.get("style")), **_style(target.get("style"))}
        new = etree.Element(SVG + "path", {"d": d, "style": _style_text(style)})
        new.tail = use.tail
        use.getparent().replace(use, new)


def _drop_unused_defs(root) -> None:
    used = {(u.get(HREF) or "")[1:] for u in root.iter(SVG + "use")}
    used |= set(re.findall(r"url\(#([^)]+)\)", etree.tostring(root, encoding="unicode")))
    for defs in list(root.iter(SVG + "defs")):
        kids = list(defs)
        if kids and all(k.tag == SVG + "path" and k.get("id") not in used for k in kids):
            _remove(defs)


def _remove(el) -> None:
    parent = el.getparent()
    prev = el.getprevious()
    if el.tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _unwrap_groups(root) -> None:
    for g in reversed(list(root.iter(SVG + "g"))):   # innermost first
        if set(g.attrib) - {"id"} or g.text and g.text.strip():
            continue
        parent = g.getparent()
        if parent is None:
            continue
        i = parent.index(g)
        kids = list(g)
        tail = g.tail
        parent.remove(g)
        for k, kid in enumerate(kids):
            parent.insert(i + k, kid)
        if kids:
            kids[-1].tail = tail
        elif i > 0:
            parent[i - 1].tail = tail


def _mergeable(path) -> bool:
    if set(path.attrib) - {"d", "style", "clip-path"}:
        return False
    st = _style(path.get("style"))
    if any("opacity" in k for k in st) or "stroke-dasharray" in st:
        return False
    fill, stroke = st.get("fill", "#000000"), st.get("stroke", "none")
    return fill == "none" or stroke == "none" or fill == stroke


def _merge_runs(root) -> None:
    for parent in list(root.iter()):
        kids = list(parent)
        run = []
        for kid in kids + [None]:
            same = (kid is not None and kid.tag == SVG + "path" and _mergeable(kid) and run
                    and kid.get("style") == run[0].get("style") and kid.get("clip-path") == run[0].get("clip-path"))
            if same:
                run.append(kid)
                continue
            if len(run) > 1:
                run[0].set("d", " ".join(p.get("d").strip() for p in run))
                for p in run[1:]:
                    _remove(p)
            run = [kid] if kid is not None and kid.tag == SVG + "path" and _mergeable(kid) else []


_TICK = re.compile(r"\s*M\s*([-+\d.eE]+)\s+([-+\d.eE]+)\s*L\s*([-+\d.eE]+)\s+([-+\d.eE]+)\s*")
TICK_MAX = 4.0     # a tick mark is at most this long (user units: pt; matplotlib's ticks here are 2.5)


def _tick_mark(el) -> bool:
    """A short horizontal or vertical unclipped segment: a tick mark as matplotlib draws one."""
    if el.tag != SVG + "path" or set(el.attrib) - {"d", "style"}:
        return False
    m = _TICK.fullmatch(el.get("d", ""))
    if not m:
        return False
    x0, y0, x1, y1 = map(float, m.groups())
    return (x0 == x1 and abs(y1 - y0) <= TICK_MAX) or (y0 == y1 and abs(x1 - x0) <= TICK_MAX)


def _ticks_before_labels(root) -> None:
    """matplotlib draws an axis tick by tick (mark, label, mark, label ...), so the marks cannot
    be merged into one path. In a run of tick marks and texts, the marks are moved before the
    texts (each keeping its order): a mark and a label never overlap (the label sits a pad
    away from the mark's end), so painting the marks first gives the same picture."""
    for parent in list(root.iter()):
        kids = list(parent)
        i = 0
        while i < len(kids):
            if not _tick_mark(kids[i]):
                i += 1
                continue
            j = i
            while j < len(kids) and (_tick_mark(kids[j]) or kids[j].tag == SVG + "text"):
                j += 1
            run = kids[i:j]
            marks = [k for k in run if k.tag == SVG + "path"]
            texts = [k for k in run if k.tag != SVG + "path"]
            if marks and texts and run != marks + texts:
                for k in run:
                    _remove(k)
                for n, k in enumerate(marks + texts):
                    k.tail = "\n"
                    parent.insert(i + n, k)
            i = j


@lru_cache(maxsize=4096)
def _declarations(text: str) -> tuple:
    """(normal, important) declarations of a style attribute or rule, parsed as WeasyPrint's SVG
    renderer parses them (memoised: a chart repeats a few styles many times)."""
    from weasyprint.svg.css import parse_declarations

    normal, important = parse_declarations(text)
    return tuple((k, v.strip()) for k, v in normal), tuple(important)


def _star_sheet(root) -> tuple | None:
    """The declarations of the `<style>` sheets when they are only `*` rules without
    !important (matplotlib's `*{stroke-linejoin: round; stroke-linecap: butt}`), else None."""
    import tinycss2

    decls = []
    for style in root.iter(SVG + "style"):
        if len(style) or style.get("type", "text/css") != "text/css":
            return None
        for rule in tinycss2.parse_stylesheet(style.text or "", skip_comments=True, skip_whitespace=True):
            if rule.type != "qualified-rule" or tinycss2.serialize(rule.prelude).strip() != "*":
                return None
            normal, important = _declarations(tinycss2.serialize(rule.content))
            if important:
                return None
            decls += normal
    return tuple(decls)


_IDENTITY = re.compile(r"rotate\(-?0 [-+0-9.eE]+ [-+0-9.eE]+\)")


def _apply_css(root) -> None:
    sheet = _star_sheet(root)
    if sheet is None:
        return
    nodes = list(root.iterdescendants())
    parsed = []
    for el in nodes:
        normal, important = _declarations(el.get("style")) if el.get("style") else ((), ())
        if important:
            return
        parsed.append(normal)
    for el, normal in zip(nodes, parsed):
        if not isinstance(el.tag, str):
            continue
        for k, v in sheet + normal:     # WeasyPrint: the sheet's rules, then the style attribute
            el.set(k, v)
        if "style" in el.attrib:
            del el.attrib["style"]
        if el.tag == SVG + "text" and _IDENTITY.fullmatch(el.get("transform") or ""):
            del el.attrib["transform"]
    for style in list(root.iter(SVG + "style")):
        defs = style.getparent()
        _remove(style)
        if defs.tag == SVG + "defs" and not len(defs) and not (defs.text or "").strip():
            _remove(defs)


def lean(svg: str) -> str:
    """`svg` (matplotlib's SVG text) with fewer nodes and the same picture."""
    root = etree.fromstring(svg.encode("utf-8"))
    for meta in root.findall(SVG + "metadata"):
        _remove(meta)
    _uses_to_paths(root)
    _drop_unused_defs(root)
    _unwrap_groups(root)
    _ticks_before_labels(root)
    _merge_runs(root)
    _apply_css(root)
    return etree.tostring(root, encoding="unicode")
