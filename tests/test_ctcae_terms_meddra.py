"""MedDRA preferred terms -> CTCAE v5.0 terms (monitor/ctcae/meddra_pt.toml): every target is a
CTCAE term, AE007 suggests them before spelling, and the converter's term choice."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from builders import fresh, set_cell
from monitor.ctcae.terms import load_terms, norm_term

TERMS = load_terms()


def test_every_target_is_a_ctcae_v5_term_spelled_exactly():
    data = tomllib.loads(resources.files("monitor.ctcae").joinpath("meddra_pt.toml").read_text("utf-8"))
    assert data["version"]
    bad = [(pt, t) for pt, targets in data["preferred_terms"].items() for t in targets
           if TERMS.get(t) is None or TERMS.get(t).term != t]
    assert bad == []
    # a PT that is itself a CTCAE term needs no entry (it would only shadow the table)
    assert [pt for pt in data["preferred_terms"] if TERMS.get(pt)] == []


SUGGEST = [
    ("PYREXIA", "Fever"),                      # by spelling: Anorexia
    ("Pyrexia", "Fever"),
    ("DIARRHOEA", "Diarrhea"),
    ("DECREASED APPETITE", "Anorexia"),
    ("CONFUSIONAL STATE", "Confusion"),
    ("OEDEMA PERIPHERAL", "Edema limbs"),
    ("NASOPHARYNGITIS", "Upper respiratory infection"),
    ("immune hepatitis", "Hepatobiliary disorders - Other, specify"),   # curated synonym still first
    ("Fatigu", "Fatigue"),                     # no table entry: spelling
]


@pytest.mark.parametrize("text,first", SUGGEST)
def test_closest_uses_meddra_before_spelling(text, first):
    assert TERMS.closest(text)[0] == first


def test_for_preferred_term_ctcae_then_table_then_soc_other_specify():
    assert TERMS.for_preferred_term("HEADACHE", "NERVOUS SYSTEM DISORDERS") == "Headache"
    assert TERMS.for_preferred_term("PYREXIA", "GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS") == "Fever"
    assert TERMS.for_preferred_term("APPLICATION SITE PRURITUS",
                                    "GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS") == \
        "General disorders and administration site conditions - Other, specify"
    # the CTCAE name of this SOC's Other term is singular ("disorder")
    assert TERMS.other_specify("MUSCULOSKELETAL AND CONNECTIVE TISSUE DISORDERS") == \
        "Musculoskeletal and connective tissue disorder - Other, specify"
    assert TERMS.for_preferred_term("NO SUCH PT") is None


def test_ae007_suggests_fever_for_pyrexia(run):
    s = fresh()
    set_cell(s, "AdverseEvents", 0, "CTCAE term", "PYREXIA")
    (f,) = [f for f in run(s).findings if f.rule == "AE007"]
    assert f.where == "AdverseEvents!C2"
    assert f.suggestion.startswith("Closest CTCAE v5.0 terms: Fever")
    assert "Anorexia" not in f.suggestion


def test_norm_term_folds_case_and_spaces():
    assert norm_term("  Oedema   PERIPHERAL ") == "oedema peripheral"


def test_the_term_table_reads_as_a_dictreader_reads_it():
    """load_terms reads terms.csv by column position; pinned against the plain DictReader form."""
    import csv
    import io

    from monitor.ctcae.terms import Term, load_terms, norm_term

    text = resources.files("monitor.ctcae").joinpath("terms.csv").read_text("utf-8")
    want = {}
    for row in csv.DictReader(io.StringIO(text, newline="")):
        grades = tuple(g for g in range(1, 6) if row[f"grade_{g}"].strip())
        want[norm_term(row["term"])] = Term(row["soc"], row["term"], grades, {g: row[f"grade_{g}"] for g in grades})
    got = load_terms().by_norm
    assert list(got) == list(want) and got == want
    assert len(got) == 837


def test_term_normalisation_equals_the_regex_form_for_every_space_and_letter():
    """norm_term joins str.split(); pinned against re.sub(r"\\s+", " ", stripped lower text) for
    every character up to U+3000 (all Unicode spaces, Latin, Greek, Cyrillic letters) and the
    spaces beyond it."""
    import re
    import sys

    def plain(text):
        return re.sub(r"\s+", " ", str(text).strip().lower().replace("\u00a0", " "))

    chars = [chr(i) for i in range(0x3001)] + [c for c in map(chr, range(0x3001, sys.maxunicode + 1, 7))
                                               if not 0xD800 <= ord(c) <= 0xDFFF] + ["\u3000", "\ufeff", "\u205f"]
    for c in chars:
        text = f"{c} Nausea{c}{c}grade\u00a0{c}"
        assert norm_term(text) == plain(text), hex(ord(c))
    assert norm_term("  Platelet\u00a0 count   decreased ") == "platelet count decreased"


def test_defined_grades_are_each_terms_grades_as_text_built_once():
    """AE008 reads the terms' defined grades as kept Series: every term, its grades joined by
    commas (Alopecia: 1,2), the same object on every call."""
    from monitor.ctcae.terms import load_terms

    terms = load_terms()
    old, new = terms.defined_grades()
    got = dict(zip(old.to_list(), new.to_list()))
    assert got == {k: ",".join(str(g) for g in t.grades) for k, t in terms.by_norm.items()}
    assert got["alopecia"] == "1,2"
    assert terms.defined_grades() is terms.defined_grades()
