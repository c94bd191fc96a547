"""The text table's message column wraps exactly as textwrap.wrap does (monitor.reporters._Wrapper
only finds the words faster: each run of non-spaces on its own, textwrap's pattern only for runs
with a hyphen)."""

from __future__ import annotations

import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.reporters import _Wrapper, to_text

MESSAGES = [
    "ALT 5.2 x ULN on 2023-03-14 (baseline 1.1 x ULN) is CTCAE grade 3 -> hold QL1604 and give steroids",
    "Child-Pugh score rose from A5 to B7 -- check bilirubin and albumin",
    "   leading spaces kept on the first line of a long enough message to wrap twice over",
    "trailing spaces    ",
    "a-b ab-cd abc-de-f x--y -> -- - -x x- PIVKA-II AFP/PIVKA-II a-b-c-d-e ab--cd well-known-",
    "Labs!F12 value '12,5' has a comma as decimal separator; the unit 'mmol/L' is not a unit of test 'ALT'",
    "averyveryveryveryveryveryveryveryverylongwordthatcannotfitononelineatall and then more",
    "a-very-very-very-very-long-hyphenated-word-that-is-longer-than-the-line and more",
    "tab\there and new\nline and\rreturn\x0bvertical\x0cfeed",
    "",
    " ",
    "x" * 60,
    "über-groß naïve-café 3-4 β-HCG ALT/AST-ratio",
]

# spaces and hyphens weighted heavily, so every kind of word, hyphenation and run of spaces comes up
_CHARS = st.sampled_from(list("ab -->.,!?'\"&1é\t\n_") + [" "] * 6 + ["-"] * 4 + ["x"] * 4)


def test_real_messages_wrap_as_textwrap_at_every_width():
    for m in MESSAGES:
        for width in range(1, 90):
            assert _Wrapper(width).wrap(m) == textwrap.wrap(m, width), (m, width)


@settings(max_examples=500, deadline=None)
@given(st.lists(_CHARS, max_size=120).map("".join), st.integers(min_value=1, max_value=70))
def test_any_text_wraps_as_textwrap(text, width):
    assert _Wrapper(width).wrap(text) == textwrap.wrap(text, width)


def test_the_words_are_textwraps_chunks():
    w, tw = _Wrapper(40), textwrap.TextWrapper(40)
    for m in MESSAGES:
        munged = tw._munge_whitespace(m)
        assert w._split(munged) == tw._split(munged), m


def test_the_text_table_wraps_long_messages_under_the_message_column():
    class F:
        severity, rule, where, subject, suggestion = "major", "LAB001", "Labs!F12", "001", "use mmol/L"
        message = "word-like " * 40
        id = "f1"

    class R:
        findings = [F()]
        workbook = "w.xlsx"

        def by_severity(self):
            return {"critical": 0, "major": 1, "minor": 0, "info": 0}

    lines = to_text(R(), width=80).splitlines()
    body = [ln for ln in lines[2:] if ln.strip() and not ln.startswith("w.xlsx")]
    assert len(body) > 3 and all(len(ln.rstrip()) <= 80 for ln in body)
    assert "".join(ln.split("  ")[-1].strip() for ln in body).replace(" ", "") == \
        (("word-like " * 40) + "-> use mmol/L").replace(" ", "")


# no double hyphen, no tab or newline: mostly texts _Wrapper.wrap fills with its own pattern, hyphens
# where textwrap breaks a word and where it does not (words longer than the width, leading spaces
# and other whitespace still come up: those are textwrap's; a word of only ASCII separators
# \x1c-\x1f is whitespace to its line-end dropping, not to its chunking)
_PLAIN = st.sampled_from(list("ab.,!?'\"&1é_(/:<>=") + [" "] * 8 + ["x"] * 6
                         + ["-1", "1-", "2022-12-24", "\u00a0", "\x1c", "\x1f", "\u3000", "PIVKA-II", "immune-related",
                            "a-b-c", "ab-c-d",
                            "x-", "-x", "PD-1", "é-ü", "Ab-Cd"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(_PLAIN, max_size=200).map("".join), st.integers(min_value=1, max_value=60))
def test_plain_text_fills_as_textwrap(text, width):
    assert _Wrapper(width).wrap(text) == textwrap.wrap(text, width)


def test_plain_messages_are_filled_without_textwrap(monkeypatch):
    """The fast fill is taken for the usual message (dates, units, numbers, hyphenated words),
    and its lines are textwrap's, breaks after a hyphen included."""
    text = ("QL1604 given on 2022-12-24 after permanent discontinuation: AE Rash maculo-papular grade 2 from "
            "2022-09-15 (AdverseEvents row 3) not back to grade <= 1 within 12 weeks (by 2022-12-08) "
            "ALT 5.2 x ULN 40 U/L, bilirubin 2.1 x ULN, PIVKA-II 40 mAU/mL  ->  hold immune-related") * 3
    expected = {w: textwrap.wrap(text, w) for w in range(20, 120)}

    def refuse(self, text):
        raise AssertionError("went through textwrap")

    monkeypatch.setattr(textwrap.TextWrapper, "wrap", refuse)
    for width, lines in expected.items():
        assert _Wrapper(width).wrap(text) == lines, width
    assert any(line.endswith("-") for lines in expected.values() for line in lines)


def test_a_word_of_ascii_separators_goes_through_textwrap():
    """\x1c-\x1f are whitespace to str.strip (textwrap drops such a word at a line's start or
    end) but not to textwrap's chunking: the fast fill must leave such a text to textwrap."""
    for text, width in (("\x1f a a \x1f\x1c    b  b ", 5), ("aaaa \x1c bbbb \x1d cc", 5)):
        assert _Wrapper(width).wrap(text) == textwrap.wrap(text, width)
