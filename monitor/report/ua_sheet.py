"""WeasyPrint's user-agent stylesheet without the rules of pseudo-elements the report never makes.

WeasyPrint (pinned 70.0) matches its user-agent sheet against every element, and six of its rules
(`::marker`, `::footnote-call`, `::footnote-marker`, `::note-call`, `::note-marker`,
`::note-callback`) have a bare pseudo-element selector: they match every element. So each
element of the report gets six pseudo-element styles, cascaded and computed (most of the
elements' declarations, and six computed styles an element), and WeasyPrint reads them only
for a list item's marker, a footnote (`float: footnote`) or a note (`position: note()`).

The report has none of those: no `li` or `summary` (the only elements the user-agent sheet
makes list items) and no such value in report.css. `html_class()` returns a weasyprint.HTML
whose user-agent sheet is WeasyPrint's own text without these six rules, parsed the same way
(the same counter styles); every other rule is kept, in its order, so every element's own
style is the same. `usable()` refuses (the full sheet is then used) a document or stylesheet
that could make a marker, footnote or note, and another WeasyPrint whose sheet differs.
"""

from __future__ import annotations

from functools import lru_cache

SUPPORTED = "70.0"
# the six rules, exactly as WeasyPrint 70.0's html5_ua.css writes them (one line each)
RULES = (
    "::marker { font-variant-numeric: tabular-nums; white-space: pre; text-transform: none }\n",
    "::footnote-call { content: counter(footnote); vertical-align: super; font-size: smaller; line-height: inherit }\n",
    '::footnote-marker { content: counter(footnote) ". " }\n',
    "::note-call { content: counter(note); vertical-align: super; font-size: smaller; line-height: inherit }\n",
    '::note-marker { content: counter(note) ". " }\n',
    '::note-callback { content: "\u202f\u21a9" }\n',
)
# what in a document or its stylesheet could make a list item's marker, a footnote or a note
NEEDS_PSEUDO = ("<li>", "<li ", "<summary", "list-item", "footnote", "note(", "::marker")


def usable(html: str, css: str) -> bool:
    """Whether the trimmed sheet lays out `html` (with our stylesheet `css`) as the full one does."""
    text = (html + css).lower()
    return trimmed_sheet() is not None and not any(n in text for n in NEEDS_PSEUDO)


def trimmed_text() -> str | None:
    """WeasyPrint's user-agent CSS without RULES, or None when this WeasyPrint's sheet is not
    the one they were taken from."""
    import weasyprint
    from weasyprint.html import UA

    if weasyprint.__version__ != SUPPORTED or not all(UA.count(rule) == 1 for rule in RULES):
        return None
    text = UA
    for rule in RULES:
        text = text.replace(rule, "")
    return text


@lru_cache(maxsize=1)
def trimmed_sheet():
    """trimmed_text() parsed as WeasyPrint parses its own sheet (None: see trimmed_text)."""
    from weasyprint import CSS
    from weasyprint.html import UA_COUNTER_STYLE

    text = trimmed_text()
    return None if text is None else CSS(string=text, counter_style=UA_COUNTER_STYLE)


@lru_cache(maxsize=1)
def html_class():
    """weasyprint.HTML with the trimmed user-agent sheet (forms keep WeasyPrint's own sheets)."""
    import weasyprint

    class TrimmedHTML(weasyprint.HTML):
        def _ua_stylesheets(self, forms=False):
            if forms:
                return super()._ua_stylesheets(forms)
            return [trimmed_sheet()]

    return TrimmedHTML
